//! `results.jsonl`: one [`Record`] per line, appended atomically by a single locked writer, and
//! read back tolerant of a run killed half-way through a write.
//!
//! Each record is one `write_all` of a complete line on a file opened with `O_APPEND`, followed
//! by `fsync`. A kill can still leave a partial last line (a write that was cut short); the
//! writer truncates it away when it opens the file, and readers skip it, so a partial record is
//! never counted.
//!
//! The writer holds an OS lock (`flock`) on the results file itself, so deleting or renaming
//! any other file cannot let a second writer in; the lock is checked to be on the file the
//! path names now (a file replaced between open and lock is opened again).
//!
//! A failed point is a [`FailedRecord`] line; a later result of the same point supersedes it.
//!
//! Duplicate points (the same id on two lines): readers keep the first copy and list the id in
//! [`LogContents::duplicates`] when both copies hold the same results (timing, thread count and
//! version may differ); copies with different results are an error naming both lines.

use std::collections::HashMap;
use std::fs::{File, TryLockError};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::record::{FailedRecord, Record};
use crate::error::{Error, Result};
use crate::io::{open_regular_append, read_regular, MemoryLimit};

/// Name of the results file inside an output folder.
pub const RESULTS_FILE: &str = "results.jsonl";

/// The records of a results file, and the partial tail that was not a record.
#[derive(Debug)]
pub struct LogContents {
    pub records: Vec<Record>,
    /// Bytes after the last complete record (a cut-off or unparsable last line), if any.
    pub dropped_tail: Option<usize>,
    /// Length of the file up to and including the last complete record.
    pub valid_len: u64,
    /// Ids found on more than one line with the same results; only the first copy is in
    /// `records`.
    pub duplicates: Vec<String>,
    /// Points whose last attempt failed and that have no result, in file order.
    pub failed: Vec<FailedRecord>,
}

/// Reads the records of `path` (a missing file has none). A broken last line is reported in
/// [`LogContents::dropped_tail`]; a broken line before it is an error, and so is a point recorded
/// twice with different results.
pub fn read_log(path: &Path) -> Result<LogContents> {
    let bytes = match read_regular(path, MemoryLimit::default().bytes, "results file") {
        Ok(b) => b,
        Err(Error::Io { ref source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let mut records: Vec<Record> = Vec::new();
    let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
    let mut duplicates = Vec::new();
    let mut failed: HashMap<String, (usize, FailedRecord)> = HashMap::new();
    let mut valid_len = 0usize;
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p);
        let line = end.map(|end| &bytes[start..end]);
        if let (Some(end), Some(f)) = (
            end,
            line.and_then(|l| serde_json::from_slice::<FailedRecord>(l).ok()),
        ) {
            failed.insert(f.id.clone(), (line_no, f));
            start = end + 1;
            valid_len = start;
            continue;
        }
        let parsed = line.and_then(|l| serde_json::from_slice::<Record>(l).ok());
        match (end, parsed) {
            (Some(end), Some(rec)) => {
                match seen.get(&rec.id) {
                    Some(&(k, first_line)) => {
                        if !same_results(&records[k], &rec) {
                            return Err(Error::format(
                                path,
                                format!(
                                    "point {} is recorded twice with different results (lines {first_line} and {line_no}); remove the wrong line",
                                    rec.id
                                ),
                            ));
                        }
                        duplicates.push(rec.id);
                    }
                    None => {
                        seen.insert(rec.id.clone(), (records.len(), line_no));
                        records.push(rec);
                    }
                }
                start = end + 1;
                valid_len = start;
            }
            (Some(end), None) if end + 1 < bytes.len() => {
                return Err(Error::format(
                    path,
                    format!("line {line_no} is not a result record, and it is not the last line; fix or remove it"),
                ));
            }
            _ => break,
        }
    }
    let mut failed: Vec<(usize, FailedRecord)> = failed
        .into_values()
        .filter(|(_, f)| !seen.contains_key(&f.id))
        .collect();
    failed.sort_by_key(|f| f.0);
    Ok(LogContents {
        failed: failed.into_iter().map(|f| f.1).collect(),
        records,
        dropped_tail: (valid_len < bytes.len()).then_some(bytes.len() - valid_len),
        valid_len: valid_len as u64,
        duplicates,
    })
}

/// True when two records of one point agree in everything but wall time, thread count and
/// version.
pub fn same_results(a: &Record, b: &Record) -> bool {
    let strip = |r: &Record| Record {
        wall_seconds: 0.0,
        threads: 0,
        corrflow_version: String::new(),
        ..r.clone()
    };
    strip(a) == strip(b)
}

/// Creates `dir` if needed, opens (creating) its results file for appending and takes an OS
/// lock on it, so that no other corrflow process writes it; the lock lasts as long as the
/// returned file is open (or the process lives).
pub fn lock_dir(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let path = dir.join(RESULTS_FILE);
    // A few tries: another process may replace the file between our open and our lock.
    for _ in 0..8 {
        let file = open_regular_append(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(Error::format(
                    dir,
                    format!(
                        "another corrflow sweep is writing to this folder (it holds the lock on {RESULTS_FILE}); \
                         wait for it to finish or choose another output folder"
                    ),
                ))
            }
            Err(TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
        let held = file.metadata().map_err(|e| Error::io(&path, e))?;
        match std::fs::metadata(&path) {
            Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => return Ok(file),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    Err(Error::format(
        &path,
        "the file keeps being replaced while corrflow tries to lock it",
    ))
}

/// The exclusive writer of one output folder's results file.
#[derive(Debug)]
pub struct ResultsLog {
    path: PathBuf,
    /// Opened for appending and locked for the writer's lifetime; the OS releases the lock when
    /// the process dies.
    file: File,
}

impl ResultsLog {
    /// Creates `dir` if needed, locks its results file against other writers, truncates a
    /// partial last line away and returns the writer with the records already there.
    pub fn open(dir: &Path) -> Result<(ResultsLog, LogContents)> {
        let file = lock_dir(dir)?;
        let path = dir.join(RESULTS_FILE);
        let contents = read_log(&path)?;
        if contents.dropped_tail.is_some() {
            file.set_len(contents.valid_len)
                .map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok((ResultsLog { path, file }, contents))
    }

    /// Appends `record` as one complete line and waits until it is on disk.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        self.append_line(record, &record.id)
    }

    /// Appends the failure of a point as one complete line and waits until it is on disk.
    pub fn append_failure(&mut self, failure: &FailedRecord) -> Result<()> {
        self.append_line(failure, &failure.id)
    }

    /// Writes one line; a write that fails part-way (a full disk, `ulimit -f`) is cut back to
    /// the file's length before it, so the file never ends in a partial record.
    fn append_line(&mut self, value: &impl serde::Serialize, id: &str) -> Result<()> {
        let mut line = serde_json::to_string(value)
            .map_err(|e| Error::Numeric(format!("record {id}: {e}")))?;
        line.push('\n');
        let before = self
            .file
            .metadata()
            .map_err(|e| Error::io(&self.path, e))?
            .len();
        let written = self
            .file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data());
        if written.is_err() {
            // Best effort: the write's own error is the one reported.
            let _ = self.file.set_len(before);
        }
        written.map_err(|e| Error::io(&self.path, e))
    }

    /// Path of the results file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_last_line_is_dropped_and_a_broken_middle_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        std::fs::write(&path, "{\"id\":").unwrap();
        let c = read_log(&path).unwrap();
        assert_eq!(
            (c.records.len(), c.dropped_tail, c.valid_len),
            (0, Some(6), 0)
        );
        std::fs::write(&path, "not json\n").unwrap();
        assert_eq!(read_log(&path).unwrap().dropped_tail, Some(9));
        std::fs::write(&path, "not json\nnor this\n").unwrap();
        let err = read_log(&path).unwrap_err().to_string();
        assert!(err.contains("line 1 is not a result record"), "{err}");
        assert!(read_log(&dir.path().join("none"))
            .unwrap()
            .records
            .is_empty());
    }

    /// A record line of point `id` with test accuracy `acc` and wall time `wall`.
    fn line(id: &str, acc: f64, wall: f64) -> String {
        format!(
            "{{\"id\":\"{id}\",\"index\":0,\"config\":{{}},\"data\":\"d\",\"widths\":[2,1],\
             \"activation\":\"relu\",\"train_accuracy\":0.5,\"test_accuracy\":{acc},\"theory\":[],\
             \"gap_from_input\":0.0,\"gap_from_layer1\":0.0,\"input_info\":null,\"output_info\":null,\
             \"wall_seconds\":{wall},\"threads\":1,\"corrflow_version\":\"x\"}}\n"
        )
    }

    #[test]
    fn a_duplicate_point_is_kept_once_and_a_conflicting_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        let text = [
            line("a", 0.5, 1.0),
            line("b", 0.7, 1.0),
            line("a", 0.5, 2.0),
        ]
        .concat();
        std::fs::write(&path, text).unwrap();
        let c = read_log(&path).unwrap();
        let ids: Vec<_> = c.records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, c.duplicates), (vec!["a", "b"], vec!["a".to_string()]));
        std::fs::write(&path, [line("a", 0.5, 1.0), line("a", 0.6, 1.0)].concat()).unwrap();
        let err = read_log(&path).unwrap_err().to_string();
        assert!(
            err.contains("point a is recorded twice with different results (lines 1 and 2)"),
            "{err}"
        );
    }
}
