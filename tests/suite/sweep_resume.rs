//! A sweep killed half-way and restarted loses nothing and repeats nothing; partial lines are
//! cut away; a second writer is refused.

use std::time::Duration;

use crate::common::sweep::*;

/// Points that take long enough (a fraction of a second each) for the kill to land mid-sweep.
const SLOW_GRID: &str = "task = \"xor\"\nn_train = 20000\nepochs = 20\nhidden = [[16]]\n\
                         seed = [1, 2, 3, 4, 5, 6, 7, 8]\n";

#[test]
fn killed_sweep_resumes_without_loss_or_repetition() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", SLOW_GRID);
    let out = dir.path().join("out");
    let args = [
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--jobs",
        "1",
    ];

    let mut child = corrflow().args(args).spawn().unwrap();
    // No deadline (a machine may be slow): the wait ends when a record appears, or fails when
    // the sweep exits without one.
    while record_ids(&out).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "sweep ended before a record was seen"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let results = out.join("results.jsonl");
    let first = std::fs::read(&results).unwrap();
    let complete = &first[..first.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1)];
    let first_ids = record_ids(&out);
    assert!(
        first_ids.len() < 8,
        "the first run finished every point before it was killed; the test proved nothing"
    );
    // Simulate a write cut short by the kill.
    let mut cut = complete.to_vec();
    cut.extend_from_slice(b"{\"id\":\"0123456789abcdef\",\"index\":");
    std::fs::write(&results, &cut).unwrap();

    let second = corrflow().args(args).output().unwrap();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stderr(&second).contains("partial last record"),
        "{}",
        stderr(&second)
    );
    assert!(
        stderr(&second).contains(&format!("{} already done", first_ids.len())),
        "{}",
        stderr(&second)
    );

    let last = std::fs::read(&results).unwrap();
    assert!(
        last.starts_with(complete),
        "finished records were rewritten"
    );
    let mut ids = record_ids(&out);
    assert_eq!(ids.len(), 8, "every point exactly once");
    ids.sort();
    let mut want = grid_ids(&grid);
    want.sort();
    assert_eq!(ids, want);

    // A third run finds nothing to do and leaves the file as it is.
    let third = corrflow().args(args).output().unwrap();
    assert!(third.status.success(), "{}", stderr(&third));
    assert!(
        stderr(&third).contains("8 already done, 0 to run"),
        "{}",
        stderr(&third)
    );
    assert_eq!(std::fs::read(&results).unwrap(), last);
}

#[test]
fn a_second_writer_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(1));
    let out = dir.path().join("out");
    let (_holder, _) = corrflow::sweep::store::ResultsLog::open(&out).unwrap();
    let o = run(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("another corrflow sweep"),
        "{}",
        stderr(&o)
    );
    assert!(record_ids(&out).is_empty());
}
