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

use std::collections::{HashMap, HashSet};
use std::fs::{File, TryLockError};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::grid::Grid;
use super::record::{FailedRecord, Record};
use crate::error::{Error, Result};
use crate::io::{open_regular_append, read_regular, MemoryLimit};

/// Name of the results file inside an output folder.
pub const RESULTS_FILE: &str = "results.jsonl";

/// The records of a results file, and the partial tail that was not a record.
#[derive(Debug)]
pub struct LogContents {
    pub records: Vec<Record>,
    /// Bytes after the last complete record (a last line cut off before its newline), if any.
    pub dropped_tail: Option<usize>,
    /// Length of the file up to and including the last complete record.
    pub valid_len: u64,
    /// Ids found on more than one line with the same results; only the first copy is in
    /// `records`.
    pub duplicates: Vec<String>,
    /// Points whose last attempt failed and that have no result, in file order.
    pub failed: Vec<FailedRecord>,
    /// Keys of record lines that no [`Record`] has, each with the first line that holds it
    /// (read past: a hand-edited line or a later version's field; noted by
    /// [`LogContents::notes`]).
    pub unknown_keys: Vec<(String, usize)>,
}

/// The keys of the record `line` that a [`Record`] does not have (`known`,
/// [`Record::field_names`]):
/// serde passes them over, so that a misspelt or foreign field was read past without a word
/// (adv48b).
fn unknown_keys(line: &[u8], known: &HashSet<&str>) -> Vec<String> {
    let Ok(serde_json::Value::Object(given)) = serde_json::from_slice::<serde_json::Value>(line)
    else {
        return Vec::new();
    };
    given
        .keys()
        .filter(|k| !known.contains(k.as_str()))
        .cloned()
        .collect()
}

impl LogContents {
    /// The notes a reader of the results file `path` gives on what it read past: copies of
    /// points recorded before (`duplicates_note`) and keys no record has
    /// (`unknown_keys_note`); `sweep export`, `summarize` and a resumed sweep alike.
    pub fn notes(&self, path: &Path) -> Vec<String> {
        [
            duplicates_note(path, &self.records, &self.duplicates),
            unknown_keys_note(path, &self.unknown_keys),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Most point indices a note on duplicated records lists before "…".
const LISTED_DUPLICATES: usize = 10;

/// The note on points `duplicates` recorded more than once in `path` with the same results
/// (`records` holds their first copies): how many copies were left out and which indices, so
/// that a store holding every record twice is not read as once without a word (adv48b; export,
/// summarize and a resumed sweep). None without duplicates.
fn duplicates_note(path: &Path, records: &[Record], duplicates: &[String]) -> Option<String> {
    if duplicates.is_empty() {
        return None;
    }
    let twice: HashSet<&String> = duplicates.iter().collect();
    let mut indices: Vec<usize> = records
        .iter()
        .filter(|r| twice.contains(&r.id))
        .map(|r| r.index)
        .collect();
    indices.sort_unstable();
    let mut listed: Vec<String> = indices
        .iter()
        .take(LISTED_DUPLICATES)
        .map(|i| format!("#{i}"))
        .collect();
    if indices.len() > LISTED_DUPLICATES {
        listed.push(format!("… ({} points in all)", indices.len()));
    }
    Some(format!(
        "note: {} holds {} copies of points recorded before with the same results ({}); \
         each point is read once",
        path.display(),
        duplicates.len(),
        listed.join(", ")
    ))
}

/// The note on the keys a results file `path` holds that no record has (`keys`, each with its
/// first line), None without them.
fn unknown_keys_note(path: &Path, keys: &[(String, usize)]) -> Option<String> {
    let listed: Vec<String> = keys
        .iter()
        .take(5)
        .map(|(k, line)| format!("'{}' (line {line})", crate::error::excerpt(k)))
        .collect();
    (!keys.is_empty()).then(|| {
        format!(
            "note: {} holds keys no result record has, read past: {}{}",
            path.display(),
            listed.join(", "),
            if keys.len() > 5 { ", …" } else { "" }
        )
    })
}

/// Reads the records of `path` (a missing file has none). A last line without its newline (a
/// write cut short) is reported in [`LogContents::dropped_tail`]; a complete line that is not a
/// record is an error, and so is a point recorded
/// twice with different results.
///
/// Each record is checked on read ([`check_record`]): its id is that of its configuration, its
/// accuracies are probabilities, its other numbers finite and in range; with `grid` (a sweep
/// resuming), its id is a point of the grid and its index that point's. A record that fails is an
/// error naming the line and the field.
pub fn read_log(path: &Path, grid: Option<&GridIds>) -> Result<LogContents> {
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
    let mut unknown: Vec<(String, usize)> = Vec::new();
    let known: HashSet<&str> = Record::field_names().iter().copied().collect();
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
        let bad = |msg: String| Error::format(path, format!("line {line_no}: {msg}"));
        if let (Some(end), Some(f)) = (
            end,
            line.and_then(|l| serde_json::from_slice::<FailedRecord>(l).ok()),
        ) {
            check_failed(&f, grid).map_err(bad)?;
            failed.insert(f.id.clone(), (line_no, f));
            start = end + 1;
            valid_len = start;
            continue;
        }
        let parsed = match line.map(serde_json::from_slice::<Record>) {
            Some(Ok(rec)) => Some(rec),
            // A complete line that is JSON but not a record was not cut short by a kill: a
            // field of the wrong type or a missing one, named by serde.
            Some(Err(e)) => {
                match serde_json::from_slice::<serde_json::Value>(line.unwrap_or(&[])) {
                    Ok(value) => return Err(bad(not_a_record(&value, e))),
                    Err(_) => None,
                }
            }
            None => None,
        };
        match (end, parsed) {
            (Some(end), Some(rec)) => {
                check_record(&rec, grid).map_err(bad)?;
                // At most 100 distinct keys listed, so that the search stays short.
                for key in unknown_keys(line.unwrap_or(&[]), &known) {
                    if unknown.len() < 100 && !unknown.iter().any(|(k, _)| *k == key) {
                        unknown.push((key, line_no));
                    }
                }
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
            // A write cut short by a kill cannot end in the newline, which each record's one
            // write puts last (JSON escapes newlines inside strings): a complete line that is
            // not a record was written or edited so, last or not (adv50: a hand-edited last
            // line was dropped as "partial", and resuming deleted it and reran its point).
            (Some(end), None) => {
                let last = if end + 1 < bytes.len() {
                    "it is not the last line"
                } else {
                    "it ends in a newline, so no kill cut it short"
                };
                return Err(Error::format(
                    path,
                    format!("line {line_no} is not a result record, and {last}; fix or remove it"),
                ));
            }
            (None, _) => break,
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
        unknown_keys: unknown,
    })
}

/// The ids of a grid's points with their indices, for checking the records of a results file
/// against the grid it is resumed with.
#[derive(Debug)]
pub struct GridIds {
    /// The grid file, for messages.
    pub path: PathBuf,
    /// Point id → index in grid order.
    pub index: HashMap<String, usize>,
}

impl GridIds {
    /// The ids and indices of `grid`'s points.
    pub fn of(grid: &Grid) -> GridIds {
        GridIds {
            path: grid.path.clone(),
            index: grid
                .points
                .iter()
                .map(|p| (p.id.clone(), p.index))
                .collect(),
        }
    }

    /// Refuses an `id`/`index` pair that is not a point of the grid at its position.
    fn check(&self, id: &str, index: usize) -> std::result::Result<(), String> {
        let edited = "a results file of another grid, or of this one before it was edited; \
                      run this grid into a new --out folder (`corrflow sweep merge` combines \
                      folders and leaves out points of other grids)";
        match self.index.get(id) {
            None => Err(format!(
                "id: {id} is not a point of {}: expected the id of one of its {} points ({edited})",
                self.path.display(),
                self.index.len()
            )),
            Some(&at) if at != index => Err(format!(
                "index: {index}, but point {id} is #{at} of {}: expected {at} ({edited})",
                self.path.display()
            )),
            Some(_) => Ok(()),
        }
    }
}

/// Why a complete JSON line is not a record: the serde error of the record it looks like (a
/// failure when it has a `failed` key).
fn not_a_record(value: &serde_json::Value, as_record: serde_json::Error) -> String {
    let err = match value.get("failed") {
        Some(_) => serde_json::from_value::<FailedRecord>(value.clone())
            .err()
            .map_or_else(|| as_record.to_string(), |e| e.to_string()),
        None => as_record.to_string(),
    };
    format!("not a result record ({err}); fix or remove the line")
}

/// The id is the configuration's: an edited id or configuration is refused.
fn check_id(id: &str, config: &super::point::PointConfig) -> std::result::Result<(), String> {
    let own = config.id();
    if id == own {
        Ok(())
    } else {
        Err(format!(
            "id: {id}, but the record's config ({}) has id {own}: expected the id of the \
             configuration (the line was edited)",
            config.summary()
        ))
    }
}

/// Checks a record read back from a results file: the id is its configuration's, the fields
/// hold what a sweep writes (accuracies in [0, 1], standard errors ≥ 0, gaps in [−1, 1], finite
/// information terms and wall time, at least one thread), and with `grid` the id and index are
/// a point of it. The message names the field and what was expected.
pub fn check_record(r: &Record, grid: Option<&GridIds>) -> std::result::Result<(), String> {
    check_id(&r.id, &r.config)?;
    let prob = |name: &str, v: f64| {
        if (0.0..=1.0).contains(&v) {
            Ok(())
        } else {
            Err(format!("{name}: {v}: expected an accuracy in [0, 1]"))
        }
    };
    prob("train_accuracy", r.train_accuracy)?;
    prob("test_accuracy", r.test_accuracy)?;
    for (l, t) in r.theory.iter().enumerate() {
        if t.from_layer != l {
            return Err(format!(
                "theory[{l}].from_layer: {}: expected {l} (one entry per start layer, in order)",
                t.from_layer
            ));
        }
        prob(&format!("theory[{l}].accuracy"), t.accuracy)?;
        if !(t.stderr.is_finite() && t.stderr >= 0.0) {
            return Err(format!(
                "theory[{l}].stderr: {}: expected a standard error ≥ 0",
                t.stderr
            ));
        }
    }
    for (name, v) in [
        ("gap_from_input", r.gap_from_input),
        ("gap_from_layer1", r.gap_from_layer1),
    ] {
        if !(-1.0..=1.0).contains(&v) {
            return Err(format!(
                "{name}: {v}: expected a difference of two accuracies, in [-1, 1]"
            ));
        }
    }
    for (name, info) in [("input_info", r.input_info), ("output_info", r.output_info)] {
        if let Some(i) = info {
            if !(i.mean_term.is_finite() && i.cov_term.is_finite()) {
                return Err(format!(
                    "{name}: mean_term {}, cov_term {}: expected finite numbers (or null)",
                    i.mean_term, i.cov_term
                ));
            }
        }
    }
    if !(r.wall_seconds.is_finite() && r.wall_seconds >= 0.0) {
        return Err(format!(
            "wall_seconds: {}: expected a time ≥ 0",
            r.wall_seconds
        ));
    }
    if r.threads == 0 {
        return Err("threads: 0: expected at least 1".to_string());
    }
    grid.map_or(Ok(()), |g| g.check(&r.id, r.index))
}

/// Checks a failure record read back: its id is its configuration's, the error is not empty,
/// and with `grid` the id and index are a point of it.
fn check_failed(f: &FailedRecord, grid: Option<&GridIds>) -> std::result::Result<(), String> {
    check_id(&f.id, &f.config)?;
    if f.failed.trim().is_empty() {
        return Err("failed: empty: expected the point's error".to_string());
    }
    grid.map_or(Ok(()), |g| g.check(&f.id, f.index))
}

/// True when two records of one point agree in everything but wall time, thread count,
/// version and the fingerprints of the files read (a record written before they were agrees
/// with one written after).
pub fn same_results(a: &Record, b: &Record) -> bool {
    let strip = |r: &Record| Record {
        inputs: Vec::new(),
        wall_seconds: 0.0,
        threads: 0,
        corrflow_version: String::new(),
        ..r.clone()
    };
    strip(a) == strip(b)
}

/// Refuses a sweep's output folder `dir` (`--out`) that exists and is not a folder (a file, a
/// FIFO, a device), naming it and what was expected, before its results file is looked for
/// inside it (adv27: "g.toml/results.jsonl: Not a directory (os error 20)" named neither
/// `--out` nor a folder). A symbolic link to a folder passes, as before.
pub fn check_out_folder(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => Err(crate::io::not_a_folder(
            dir,
            &m.file_type(),
            "expected --out to name the sweep's folder of results (new, or one a sweep wrote)",
        )),
        _ => Ok(()),
    }
}

/// Creates `dir` if needed, opens (creating) its results file for appending and takes an OS
/// lock on it, so that no other corrflow process writes it; the lock lasts as long as the
/// returned file is open (or the process lives).
pub fn lock_dir(dir: &Path) -> Result<File> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::format(
            dir,
            format!(
                "cannot be created as the output folder ({e}); expected --out to name a folder \
                 this user may create, or one it may write: choose another path"
            ),
        )
    })?;
    let path = dir.join(RESULTS_FILE);
    // A few tries: another process may replace the file between our open and our lock.
    for _ in 0..8 {
        let file = open_regular_append(&path).map_err(|e| match e {
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                Error::format(
                    &path,
                    format!(
                        "cannot be opened for appending ({source}); expected a results file \
                         and folder this user may write (chmod u+w), or another --out"
                    ),
                )
            }
            e => e,
        })?;
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
    /// With `grid`, every record must be a point of it ([`read_log`]).
    pub fn open(dir: &Path, grid: Option<&GridIds>) -> Result<(ResultsLog, LogContents)> {
        let file = lock_dir(dir)?;
        let path = dir.join(RESULTS_FILE);
        let contents = read_log(&path, grid)?;
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
    use crate::sweep::point::PointConfig;

    #[test]
    fn a_cut_off_last_line_is_dropped_and_a_broken_complete_line_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        std::fs::write(&path, "{\"id\":").unwrap();
        let c = read_log(&path, None).unwrap();
        assert_eq!(
            (c.records.len(), c.dropped_tail, c.valid_len),
            (0, Some(6), 0)
        );
        // A complete line cannot be a cut-off write: refused, last or not.
        std::fs::write(&path, "not json\n").unwrap();
        let err = read_log(&path, None).unwrap_err().to_string();
        assert!(
            err.contains("line 1 is not a result record, and it ends in a newline"),
            "{err}"
        );
        std::fs::write(&path, "not json").unwrap();
        assert_eq!(read_log(&path, None).unwrap().dropped_tail, Some(8));
        std::fs::write(&path, "not json\nnor this\n").unwrap();
        let err = read_log(&path, None).unwrap_err().to_string();
        assert!(err.contains("line 1 is not a result record"), "{err}");
        assert!(read_log(&dir.path().join("none"), None)
            .unwrap()
            .records
            .is_empty());
    }

    /// The id of the configuration `{"seed": seed}`.
    fn id_of(seed: u64) -> String {
        serde_json::from_value::<PointConfig>(serde_json::json!({ "seed": seed }))
            .unwrap()
            .id()
    }

    /// A record line of the point with seed `seed` at `index`, with test accuracy `acc` and wall
    /// time `wall`.
    fn record_at(seed: u64, index: usize, acc: f64, wall: f64) -> String {
        let id = id_of(seed);
        format!(
            "{{\"id\":\"{id}\",\"index\":{index},\"config\":{{\"seed\":{seed}}},\"data\":\"d\",\
             \"widths\":[2,1],\"activation\":\"relu\",\"train_accuracy\":0.5,\"test_accuracy\":{acc},\
             \"theory\":[{{\"from_layer\":0,\"accuracy\":0.5,\"stderr\":0.0}}],\
             \"gap_from_input\":0.0,\"gap_from_layer1\":0.0,\"input_info\":null,\"output_info\":null,\
             \"wall_seconds\":{wall},\"threads\":1,\"corrflow_version\":\"x\"}}\n"
        )
    }

    /// [`record_at`] index 0.
    fn line(seed: u64, acc: f64, wall: f64) -> String {
        record_at(seed, 0, acc, wall)
    }

    #[test]
    fn a_duplicate_point_is_kept_once_and_a_conflicting_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        let text = [line(1, 0.5, 1.0), line(2, 0.7, 1.0), line(1, 0.5, 2.0)].concat();
        std::fs::write(&path, text).unwrap();
        let c = read_log(&path, None).unwrap();
        let ids: Vec<_> = c.records.iter().map(|r| r.id.clone()).collect();
        assert_eq!(
            (ids, c.duplicates),
            (vec![id_of(1), id_of(2)], vec![id_of(1)])
        );
        std::fs::write(&path, [line(1, 0.5, 1.0), line(1, 0.6, 1.0)].concat()).unwrap();
        let err = read_log(&path, None).unwrap_err().to_string();
        let want = format!(
            "point {} is recorded twice with different results (lines 1 and 2)",
            id_of(1)
        );
        assert!(err.contains(&want), "{err}");
    }

    /// The notes `read_records` gives on the output folder `dir`, after checking that it
    /// reads `records` records.
    fn records_and_notes(dir: &Path, records: usize) -> Vec<String> {
        let notes = std::cell::RefCell::new(Vec::new());
        let (read, _) = crate::sweep::merge::read_records(dir, &|n: &str| {
            notes.borrow_mut().push(n.to_string())
        })
        .unwrap();
        assert_eq!(read.len(), records);
        notes.into_inner()
    }

    /// `sweep export` and `summarize` of a store holding every record twice say so on stderr
    /// (the copies left out, their points' indices): before, each was written once without a
    /// word (adv48b).
    #[test]
    fn records_held_twice_are_read_once_with_a_note() {
        let dir = tempfile::tempdir().unwrap();
        let once = [record_at(1, 0, 0.5, 1.0), record_at(2, 1, 0.7, 1.0)].concat();
        std::fs::write(dir.path().join(RESULTS_FILE), once.repeat(2)).unwrap();
        let notes = records_and_notes(dir.path(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("2 copies") && notes[0].contains("#0, #1"),
            "{notes:?}"
        );
        // Without duplicates, nothing is said.
        std::fs::write(dir.path().join(RESULTS_FILE), once).unwrap();
        assert!(records_and_notes(dir.path(), 2).is_empty());
    }

    /// A record line holding a key no record has (hand-edited, or a later version's) is read
    /// past with a note naming the key and its first line: serde passed it over without a word
    /// (adv48b).
    #[test]
    fn a_records_unknown_key_is_noted() {
        let dir = tempfile::tempdir().unwrap();
        let first = record_at(1, 0, 0.5, 1.0).replacen("{", "{\"tset_accuracy\":0.9,", 1);
        let text = [first, record_at(2, 1, 0.7, 1.0)].concat();
        std::fs::write(dir.path().join(RESULTS_FILE), text).unwrap();
        let notes = records_and_notes(dir.path(), 2);
        assert!(
            notes.len() == 1 && notes[0].contains("'tset_accuracy' (line 1)"),
            "{notes:?}"
        );
    }

    /// A results file of two records, the second (index 1, seed 2) with the `unlearned` of a
    /// collapse (MNIST 100,100 at --lr 0.1, as a sweep whose grid varies --lr writes it), read.
    fn one_collapsed_of_two() -> LogContents {
        let dir = tempfile::tempdir().unwrap();
        let unlearned = "\"unlearned\":{\"cause\":\"collapse\",\"epoch\":15,\"loss\":0.907,\
             \"constant_loss\":0.9,\"initial_loss\":3.45,\"gain\":1.5,\"default_gain\":1.5,\
             \"lr\":0.1,\"epochs\":15,\"train_accuracy\":0.093,\"loss_kind\":\"mse\",\
             \"diverged_epoch\":1,\"diverged_loss\":1344.5},";
        let second = record_at(2, 1, 0.1, 1.0).replacen(
            "\"wall_seconds\"",
            &format!("{unlearned}\"wall_seconds\""),
            1,
        );
        let text = [record_at(1, 0, 0.9, 1.0), second].concat();
        std::fs::write(dir.path().join(RESULTS_FILE), text).unwrap();
        read_log(&dir.path().join(RESULTS_FILE), None).unwrap()
    }

    /// adv52: a record with `unlearned` after one without it (a sweep whose grid varies --lr,
    /// MNIST 100,100 at 0.001 and 0.1) was noted as holding "keys no result record has, read
    /// past: 'unlearned'": the known keys were the first record's, written without the key.
    #[test]
    fn an_unlearned_record_after_one_without_is_not_noted() {
        let c = one_collapsed_of_two();
        assert!(c.records[1].unlearned.is_some(), "{:?}", c.records[1]);
        assert!(c.unknown_keys.is_empty(), "{:?}", c.unknown_keys);
    }

    /// adv52: `sweep summarize` said nothing of a point that learned nothing usable; its table
    /// now marks the row, and the means are followed by the points they pool.
    #[test]
    fn the_summary_marks_a_point_that_learned_nothing() {
        use crate::sweep::summary::{table, unlearned_line};
        let c = one_collapsed_of_two();
        let rows = table(&c.records);
        assert_eq!(
            rows.matches("learned nothing usable (collapse)").count(),
            1,
            "{rows}"
        );
        let marked = rows.lines().position(|l| l.contains("learned nothing"));
        assert!(marked.is_some_and(|k| rows.lines().nth(k - 1).unwrap().contains(&id_of(2))));
        assert_eq!(
            unlearned_line(&c.records),
            "1 point(s) learned nothing usable and are pooled in these means: #1 (collapse)\n"
        );
        assert_eq!(unlearned_line(&c.records[..1]), "");
    }

    /// adv22's tampered records (a foreign id, a wrong index, a `failed` that is not a string, an
    /// accuracy of 2.5) are refused on read, each naming the line and the field; they were
    /// resumed past and exported before.
    #[test]
    fn a_tampered_record_is_refused_naming_the_line_and_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(RESULTS_FILE);
        let grid = GridIds {
            path: PathBuf::from("g.toml"),
            index: [(id_of(1), 0), (id_of(2), 1)].into_iter().collect(),
        };
        let good = [record_at(1, 0, 0.5, 1.0), record_at(2, 1, 0.5, 1.0)].concat();
        std::fs::write(&path, &good).unwrap();
        assert_eq!(read_log(&path, Some(&grid)).unwrap().records.len(), 2);
        let failed = |seed: u64, index: usize, failed: &str| {
            format!(
                "{{\"id\":\"{}\",\"index\":{index},\"config\":{{\"seed\":{seed}}},\
                 \"failed\":{failed},\"corrflow_version\":\"x\"}}\n",
                id_of(seed)
            )
        };
        let cases: [(String, bool, &str); 8] = [
            (record_at(3, 1, 0.5, 1.0), true, "line 2: id: "),
            (
                record_at(2, 99, 0.5, 1.0),
                true,
                "line 2: index: 99, but point",
            ),
            (
                record_at(2, 1, 2.5, 1.0),
                false,
                "line 2: test_accuracy: 2.5: expected an accuracy in [0, 1]",
            ),
            (
                record_at(2, 1, 0.5, -1.0),
                false,
                "line 2: wall_seconds: -1: expected a time ≥ 0",
            ),
            (
                failed(2, 1, "5"),
                false,
                "line 2: not a result record (invalid type: integer `5`, expected a string",
            ),
            (failed(2, 1, "\"\""), false, "line 2: failed: empty"),
            (failed(3, 1, "\"e\""), true, "line 2: id: "),
            (
                record_at(2, 1, 0.5, 1.0).replace(&id_of(2), &id_of(3)),
                false,
                "line 2: id: ",
            ),
        ];
        for (second, needs_grid, want) in cases {
            std::fs::write(&path, [record_at(1, 0, 0.5, 1.0), second.clone()].concat()).unwrap();
            let err = read_log(&path, Some(&grid)).unwrap_err().to_string();
            assert!(err.contains(want), "{second}: {err}");
            assert!(err.starts_with(&path.display().to_string()), "{err}");
            assert_eq!(read_log(&path, None).is_ok(), needs_grid, "{second}");
        }
    }
}
