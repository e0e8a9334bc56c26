//! Helpers shared by the sweep integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::command;

use corrflow::sweep::Grid;

/// The corrflow binary with one thread (the test machine is shared).
pub fn corrflow() -> Command {
    let mut c = command();
    c.arg("--threads").arg("1");
    c
}

/// Runs corrflow with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    corrflow().args(args).output().expect("corrflow starts")
}

/// Runs `corrflow sweep --grid GRID --out OUT` with `extra` flags after.
pub fn run_sweep(grid: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run(&args)
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes `text` as a grid file in `dir` and returns its path.
pub fn grid_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Ids of a grid, in grid order.
pub fn grid_ids(path: &Path) -> Vec<String> {
    Grid::load(path)
        .unwrap()
        .points
        .into_iter()
        .map(|p| p.id)
        .collect()
}

/// Ids of the complete records in `dir/results.jsonl`, in file order (a line still being
/// written, without its newline, is left out).
pub fn record_ids(dir: &Path) -> Vec<String> {
    let bytes = std::fs::read(dir.join("results.jsonl")).unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .split_inclusive('\n')
        .filter_map(|l| l.strip_suffix('\n'))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A tiny, fast XOR grid of `seeds` points.
pub fn tiny_grid(seeds: usize) -> String {
    let list: Vec<String> = (1..=seeds).map(|s| s.to_string()).collect();
    format!(
        "task = \"xor\"\nn_train = 200\nepochs = 2\nhidden = [[4]]\nseed = [{}]\n",
        list.join(", ")
    )
}
