//! A sweep killed half-way and restarted loses nothing and repeats nothing; partial lines are
//! cut away; a second writer is refused.

use std::path::{Path, PathBuf};
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
    let (_holder, _) = corrflow::sweep::store::ResultsLog::open(&out, None).unwrap();
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

/// A sweep of `tiny_grid(3)` (`g.toml` in `dir`) run to the end into `dir/out`: the grid
/// file, the output folder and its `results.jsonl`'s text.
fn finished_sweep(dir: &Path) -> (PathBuf, PathBuf, String) {
    let grid = grid_file(dir, "g.toml", &tiny_grid(3));
    let out = dir.join("out");
    let first = run(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(first.status.success(), "{}", stderr(&first));
    let good = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    (grid, out, good)
}

/// adv22's tampered `results.jsonl` (open item of adv22): records that parse but were edited —
/// an accuracy of 2.5, an index that is not the point's, an id of no point of the grid, a
/// `failed` that is not a string — were resumed past and exported. Each is now refused by the
/// resuming sweep naming the file, the line and the field; `export`, which has no grid, refuses
/// what the record alone shows (the accuracy, the type), and an untouched file still resumes.
#[test]
fn a_tampered_results_file_is_refused_naming_the_line_and_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, out, good) = finished_sweep(dir.path());
    let (g, o) = (grid.to_str().unwrap(), out.to_str().unwrap());
    let results = out.join("results.jsonl");
    let lines: Vec<&str> = good.lines().collect();
    let other = grid_file(dir.path(), "other.toml", &tiny_grid(4));
    let foreign_id = grid_ids(&other)[3].clone();
    // The point with seed 4 of the other grid, recorded consistently (id of its configuration).
    let foreign = lines[2]
        .replace(&grid_ids(&grid)[2], &foreign_id)
        .replace("\"seed\":3", "\"seed\":4");
    let set = |line: &str, key: &str, value: &str| {
        let mut v: serde_json::Value = serde_json::from_str(line).unwrap();
        v[key] = serde_json::from_str(value).unwrap();
        v.to_string()
    };
    // A failure record whose error is a number (theory null: it is no result record either).
    let failed = set(&set(lines[2], "failed", "5"), "theory", "null");
    let foreign_want = format!("id: {foreign_id} is not a point of");
    let cases = [
        (
            set(lines[2], "test_accuracy", "2.5"),
            "test_accuracy: 2.5: expected an accuracy in [0, 1]",
            true,
        ),
        (set(lines[2], "index", "99"), "index: 99, but point", false),
        (foreign, foreign_want.as_str(), false),
        (failed, "invalid type: integer `5`, expected a string", true),
    ];
    for (third, want, export_refuses) in cases {
        std::fs::write(&results, format!("{}\n{}\n{third}\n", lines[0], lines[1])).unwrap();
        let resumed = run(&["sweep", "--grid", g, "--out", o]);
        let err = stderr(&resumed);
        assert!(!resumed.status.success(), "{third}: {err}");
        let at = format!("{}: line 3: ", results.display());
        assert!(err.contains(&at) && err.contains(want), "{third}: {err}");
        let exported = run(&["sweep", "export", o, "--csv", "-"]);
        assert_eq!(
            !exported.status.success(),
            export_refuses,
            "{third}: {}",
            stderr(&exported)
        );
        if export_refuses {
            assert!(stderr(&exported).contains(&at), "{}", stderr(&exported));
        }
    }
    std::fs::write(&results, &good).unwrap();
    let resumed = run(&["sweep", "--grid", g, "--out", o]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("3 already done, 0 to run"),
        "{}",
        stderr(&resumed)
    );
}

/// A hand-edited last line that is no JSON (`"test_accuracy"=0.5`), newline and all, is refused
/// by resuming and by export naming the line, and the file is left as it was: a write cut
/// short by a kill cannot end in the newline its one write puts last. Before (adv50) it was
/// skipped as a "partial record", and resuming truncated it away and ran its point again.
#[test]
fn a_complete_last_line_that_is_no_record_is_refused_not_cut_away() {
    let dir = tempfile::tempdir().unwrap();
    let (grid, out, good) = finished_sweep(dir.path());
    let (g, o) = (grid.to_str().unwrap(), out.to_str().unwrap());
    let results = out.join("results.jsonl");
    let lines: Vec<&str> = good.lines().collect();
    let edited = lines[2].replacen("\"test_accuracy\":", "\"test_accuracy\"=", 1);
    assert_ne!(edited, lines[2]);
    let text = format!("{}\n{}\n{edited}\n", lines[0], lines[1]);
    std::fs::write(&results, &text).unwrap();
    let at = format!("{}: line 3 is not a result record", results.display());
    for args in [
        vec!["sweep", "--grid", g, "--out", o],
        vec!["sweep", "export", o, "--csv", "-"],
    ] {
        let r = run(&args);
        let err = stderr(&r);
        assert_eq!(r.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains(&at) && err.contains("fix or remove it"),
            "{args:?}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&results).unwrap(), text, "{args:?}");
    }
}
