//! CSV export of result records: one row per point, configuration keys first.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::record::Record;
use crate::error::{Error, Result};
use crate::io::{check_not_an_input, write_atomically};

/// Writes `records` to `path` as CSV. Columns: `id`, `index`, one column per configuration key
/// used by any record (sorted; `hidden` as widths joined by `x`), the accuracies, the gaps, the
/// information terms, `theory_l0 … theory_lK` with `stderr_l0 …` (K the largest depth), wall
/// seconds, threads and version. Missing values are empty cells. `-` writes to stdout.
pub fn write_csv(records: &[Record], path: &Path) -> Result<()> {
    let bytes = csv_bytes(records, path)?;
    if path == Path::new("-") {
        return std::io::stdout()
            .write_all(&bytes)
            .map_err(|e| Error::io("standard output", e));
    }
    write_atomically(path, &bytes)
}

/// Refuses a CSV path (`--csv`) that is one of the files in the sweep folder `dir` being
/// exported: written after they are read, the CSV replaced the sweep's results.jsonl (adv27).
/// `-` (stdout) passes.
pub fn check_not_in_folder(path: &Path, dir: &Path) -> Result<()> {
    if path == Path::new("-") {
        return Ok(());
    }
    let files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    check_not_an_input(
        path,
        files
            .iter()
            .map(|f| (f.as_path(), "a file of the sweep folder being exported")),
    )
}

/// The CSV text of `records` (`path` for messages).
fn csv_bytes(records: &[Record], path: &Path) -> Result<Vec<u8>> {
    let configs: Vec<serde_json::Map<String, serde_json::Value>> = records
        .iter()
        .map(|r| match serde_json::to_value(&r.config) {
            Ok(serde_json::Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        })
        .collect();
    let keys: BTreeSet<&String> = configs.iter().flat_map(|m| m.keys()).collect();
    let layers = records.iter().map(|r| r.theory.len()).max().unwrap_or(0);
    let mut header: Vec<String> = vec!["id".into(), "index".into()];
    header.extend(keys.iter().map(|k| k.to_string()));
    header.extend(
        [
            "train_accuracy",
            "test_accuracy",
            "gap_from_input",
            "gap_from_layer1",
            "input_mean_term",
            "input_cov_term",
            "output_mean_term",
            "output_cov_term",
            "unlearned",
        ]
        .map(String::from),
    );
    for l in 0..layers {
        header.push(format!("theory_l{l}"));
        header.push(format!("stderr_l{l}"));
    }
    header.extend(["wall_seconds", "threads", "corrflow_version"].map(String::from));

    let mut w = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::format(path, e.to_string());
    w.write_record(&header).map_err(csv_err)?;
    for (r, config) in records.iter().zip(&configs) {
        let mut row = vec![r.id.clone(), r.index.to_string()];
        row.extend(
            keys.iter()
                .map(|k| config.get(*k).map_or(String::new(), cell)),
        );
        let info = |i: Option<crate::sweep::record::InfoTerms>| match i {
            Some(t) => [t.mean_term.to_string(), t.cov_term.to_string()],
            None => [String::new(), String::new()],
        };
        row.extend([
            r.train_accuracy.to_string(),
            r.test_accuracy.to_string(),
            r.gap_from_input.to_string(),
            r.gap_from_layer1.to_string(),
        ]);
        row.extend(info(r.input_info));
        row.extend(info(r.output_info));
        row.push(r.unlearned_cause().unwrap_or_default());
        for l in 0..layers {
            match r.theory.get(l) {
                Some(t) => row.extend([t.accuracy.to_string(), t.stderr.to_string()]),
                None => row.extend([String::new(), String::new()]),
            }
        }
        row.extend([
            r.wall_seconds.to_string(),
            r.threads.to_string(),
            r.corrflow_version.clone(),
        ]);
        w.write_record(&row).map_err(csv_err)?;
    }
    w.into_inner()
        .map_err(|e| Error::format(path, e.to_string()))
}

/// A configuration value as a CSV cell: strings bare, widths as `32x32`, numbers as JSON.
fn cell(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("x"),
        other => other.to_string(),
    }
}
