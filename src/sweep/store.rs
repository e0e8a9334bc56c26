//! `results.jsonl`: one [`Record`] per line, appended atomically by a single locked writer, and
//! read back tolerant of a run killed half-way through a write.
//!
//! Each record is one `write_all` of a complete line on a file opened with `O_APPEND`, followed
//! by `fsync`. A kill can still leave a partial last line (a write that was cut short); the
//! writer truncates it away when it opens the file, and readers skip it, so a partial record is
//! never counted.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::record::Record;
use crate::error::{Error, Result};

/// Name of the results file inside an output folder.
pub const RESULTS_FILE: &str = "results.jsonl";
/// Name of the lock file inside an output folder.
pub const LOCK_FILE: &str = ".corrflow-sweep.lock";

/// The records of a results file, and the partial tail that was not a record.
#[derive(Debug)]
pub struct LogContents {
    pub records: Vec<Record>,
    /// Bytes after the last complete record (a cut-off or unparsable last line), if any.
    pub dropped_tail: Option<usize>,
    /// Length of the file up to and including the last complete record.
    pub valid_len: u64,
}

/// Reads the records of `path` (a missing file has none). A broken last line is reported in
/// [`LogContents::dropped_tail`]; a broken line before it is an error.
pub fn read_log(path: &Path) -> Result<LogContents> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut records = Vec::new();
    let mut valid_len = 0usize;
    let mut start = 0usize;
    let mut line_no = 0usize;
    while start < bytes.len() {
        line_no += 1;
        let end = bytes[start..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|p| start + p);
        let parsed = end.and_then(|end| serde_json::from_slice::<Record>(&bytes[start..end]).ok());
        match (end, parsed) {
            (Some(end), Some(rec)) => {
                records.push(rec);
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
    Ok(LogContents {
        records,
        dropped_tail: (valid_len < bytes.len()).then_some(bytes.len() - valid_len),
        valid_len: valid_len as u64,
    })
}

/// Creates `dir` if needed and takes its lock file, so that no other corrflow process writes
/// its results file; the lock lasts as long as the returned file is open (or the process lives).
pub fn lock_dir(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let lock_path = dir.join(LOCK_FILE);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&lock_path, e))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(TryLockError::WouldBlock) => Err(Error::format(
            dir,
            format!(
                "another corrflow sweep is writing to this folder (it holds {LOCK_FILE}); \
                 wait for it to finish or choose another --out"
            ),
        )),
        Err(TryLockError::Error(e)) => Err(Error::io(&lock_path, e)),
    }
}

/// The exclusive writer of one output folder's results file.
#[derive(Debug)]
pub struct ResultsLog {
    path: PathBuf,
    file: File,
    /// Held for the writer's lifetime; the OS releases the lock when the process dies.
    _lock: File,
}

impl ResultsLog {
    /// Creates `dir` if needed, locks it against other writers, truncates a partial last line
    /// away and returns the writer with the records already there and the number of bytes cut.
    pub fn open(dir: &Path) -> Result<(ResultsLog, LogContents)> {
        let lock = lock_dir(dir)?;
        let path = dir.join(RESULTS_FILE);
        let contents = read_log(&path)?;
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        if contents.dropped_tail.is_some() {
            file.set_len(contents.valid_len)
                .map_err(|e| Error::io(&path, e))?;
            file.sync_all().map_err(|e| Error::io(&path, e))?;
        }
        Ok((
            ResultsLog {
                path,
                file,
                _lock: lock,
            },
            contents,
        ))
    }

    /// Appends `record` as one complete line and waits until it is on disk.
    pub fn append(&mut self, record: &Record) -> Result<()> {
        let mut line = serde_json::to_string(record)
            .map_err(|e| Error::Numeric(format!("record {}: {e}", record.id)))?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.sync_data())
            .map_err(|e| Error::io(&self.path, e))
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
}
