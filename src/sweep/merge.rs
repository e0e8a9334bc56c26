//! Combining the output folders of several shards (or runs) into one, with an account of the
//! grid points that are missing, duplicated or not part of the grid; reading a folder's records.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::grid::{Grid, GridPoint};
use super::record::{FailedRecord, Record};
use super::store::{lock_dir, read_log, same_results, RESULTS_FILE};
use crate::error::{Error, Result};

/// What a merge found.
#[derive(Debug, Default)]
pub struct Merged {
    /// One record per grid point that has one, in grid order.
    pub records: Vec<Record>,
    /// Grid points no input has a record for.
    pub missing: Vec<GridPoint>,
    /// Ids found in more than one folder with the same results, with every folder that holds
    /// them (the first copy is kept; copies with different results are an error).
    pub duplicates: Vec<(String, Vec<PathBuf>)>,
    /// Records whose id is not a point of the grid (another grid, or an edited one).
    pub foreign: Vec<(PathBuf, String)>,
    /// Inputs whose results file ended in a partial line (skipped; the file is left as it is).
    pub partial: Vec<PathBuf>,
}

/// Reads `RESULTS_FILE` of every folder in `inputs` and matches the records to `grid`.
pub fn merge(grid: &Grid, inputs: &[PathBuf]) -> Result<Merged> {
    let mut found: HashMap<String, (Record, Vec<PathBuf>)> = HashMap::new();
    let mut merged = Merged::default();
    let mut order = Vec::new();
    let index: HashMap<&str, usize> = grid
        .points
        .iter()
        .map(|p| (p.id.as_str(), p.index))
        .collect();
    for dir in inputs {
        let contents = read_log(&results_path(dir), None)?;
        if contents.dropped_tail.is_some() {
            merged.partial.push(dir.clone());
        }
        for mut record in contents.records {
            // A point of the grid takes its index in this grid: a folder of another grid, or
            // of this one before a value was added to a list, recorded it at another position,
            // which a sweep resuming the merged folder refused (adv47b: "index: 0, but point …
            // is #1"), and two copies at two positions were "different results".
            if let Some(&at) = index.get(record.id.as_str()) {
                record.index = at;
            }
            match found.get_mut(&record.id) {
                Some((first, dirs)) => {
                    if !same_results(first, &record) {
                        return Err(Error::format(
                            results_path(dir),
                            format!(
                                "point {} has different results here and in {}",
                                record.id,
                                results_path(&dirs[0]).display()
                            ),
                        ));
                    }
                    dirs.push(dir.clone())
                }
                None => {
                    order.push(record.id.clone());
                    found.insert(record.id.clone(), (record, vec![dir.clone()]));
                }
            }
        }
    }
    for id in order {
        let (_, dirs) = &found[&id];
        if dirs.len() > 1 {
            merged.duplicates.push((id, dirs.clone()));
        }
    }
    for point in &grid.points {
        match found.remove(&point.id) {
            Some((record, _)) => merged.records.push(record),
            None => merged.missing.push(point.clone()),
        }
    }
    let mut foreign: Vec<_> = found.into_values().collect();
    foreign.sort_by_key(|(r, _)| r.index);
    merged.foreign = foreign
        .into_iter()
        .map(|(r, dirs)| (dirs[0].clone(), r.id))
        .collect();
    Ok(merged)
}

/// Merges the shard folders `inputs` of the grid at `grid_path` into `out/results.jsonl`
/// (written atomically under `out`'s lock); `note` gets the warnings. Errors when points are
/// missing (after writing what was found).
pub fn merge_into(
    grid_path: &Path,
    out: &Path,
    inputs: &[PathBuf],
    note: &dyn Fn(&str),
) -> Result<()> {
    let grid = Grid::load(grid_path)?;
    // Written after the inputs are read, the merge replaced an input's results file: its
    // records of other grids and its failed points were lost without a word (adv47b).
    let path = results_path(out);
    let read: Vec<PathBuf> = inputs.iter().map(|dir| results_path(dir)).collect();
    crate::io::check_not_an_input(
        &path,
        read.iter()
            .map(|file| (file.as_path(), "the results file of an input folder")),
    )?;
    let m = merge(&grid, inputs)?;
    for dir in &m.partial {
        note(&format!(
            "note: {} ends in a partial record, skipped",
            results_path(dir).display()
        ));
    }
    // One line per set of folders (duplicates) or per folder (foreign records), with a count
    // and the first ids: a folder given twice said one line per point (10⁵ lines, adv49a).
    for (dirs, ids) in grouped(m.duplicates.iter().map(|(id, dirs)| (dirs, id))) {
        let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        note(&format!(
            "warning: {} in {} folders ({}); kept the first copy",
            some_ids(&ids, "point is", "points are"),
            dirs.len(),
            list.join(", ")
        ));
    }
    for (dir, ids) in grouped(m.foreign.iter().map(|(dir, id)| (dir, id))) {
        note(&format!(
            "warning: {} holds {} not of the grid {}; left out",
            dir.display(),
            some_ids(&ids, "record", "records"),
            grid_path.display()
        ));
    }
    let (folder_existed, file_existed) = (out.exists(), path.exists());
    let _lock = lock_dir(out)?;
    let mut text = String::new();
    for r in &m.records {
        text.push_str(&serde_json::to_string(r).map_err(|e| Error::Numeric(e.to_string()))?);
        text.push('\n');
    }
    if let Err(e) = crate::io::write_atomically(&path, text.as_bytes()) {
        // The lock created an empty results file (and the folder): a write that fails (a full
        // disk, `ulimit -f`) takes them away again rather than leave a merge of 0 records.
        if !file_existed {
            let _ = std::fs::remove_file(&path);
            if !folder_existed {
                let _ = std::fs::remove_dir(out);
            }
        }
        return Err(e);
    }
    note(&format!(
        "merged {} of {} points from {} folders into {}",
        m.records.len(),
        grid.points.len(),
        inputs.len(),
        path.display()
    ));
    if m.missing.is_empty() {
        return Ok(());
    }
    for p in &m.missing {
        note(&format!(
            "  missing #{} {} ({})",
            p.index,
            p.id,
            p.config.summary()
        ));
    }
    for short in super::slurm::report::short_shards(&grid, inputs, &m.missing)? {
        for line in short.lines() {
            note(&line);
        }
    }
    Err(Error::format(
        grid_path,
        format!(
            "{} of {} points are missing from the inputs (listed above)",
            m.missing.len(),
            grid.points.len()
        ),
    ))
}

/// Ids grouped by their key (a folder, or a list of folders), keys in order of first sight.
fn grouped<'a, K: PartialEq + 'a>(
    items: impl Iterator<Item = (&'a K, &'a String)>,
) -> Vec<(&'a K, Vec<&'a str>)> {
    let mut groups: Vec<(&K, Vec<&str>)> = Vec::new();
    for (key, id) in items {
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((key, vec![id])),
        }
    }
    groups
}

/// Ids first shown in a warning.
const IDS_SHOWN: usize = 3;

/// "1 point is (a)", "5 points are (a, b, c, …)": a count, then the first [`IDS_SHOWN`] ids.
fn some_ids(ids: &[&str], one: &str, many: &str) -> String {
    let shown = ids[..ids.len().min(IDS_SHOWN)].join(", ");
    let more = if ids.len() > IDS_SHOWN { ", …" } else { "" };
    let noun = if ids.len() == 1 { one } else { many };
    format!("{} {noun} ({shown}{more})", ids.len())
}

/// The records of a sweep's output folder `dir` and its failed points, both in grid order;
/// `note` hears of a partial last record (skipped).
pub fn read_records(dir: &Path, note: &dyn Fn(&str)) -> Result<(Vec<Record>, Vec<FailedRecord>)> {
    let path = results_path(dir);
    if !path.exists() {
        return Err(Error::format(
            dir,
            format!("no {RESULTS_FILE} here; is this a sweep's --out folder?"),
        ));
    }
    let contents = read_log(&path, None)?;
    if let Some(bytes) = contents.dropped_tail {
        note(&format!(
            "note: {} ends in a partial record ({bytes} bytes), skipped",
            path.display()
        ));
    }
    for line in contents.notes(&path) {
        note(&line);
    }
    let mut records = contents.records;
    records.sort_by_key(|r| r.index);
    let mut failed = contents.failed;
    failed.sort_by_key(|f| f.index);
    Ok((records, failed))
}

/// The results file of an output folder.
pub fn results_path(dir: &Path) -> PathBuf {
    dir.join(RESULTS_FILE)
}
