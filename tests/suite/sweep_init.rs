//! The grid key `init`: a point's training starts from a model file, as `train --init` does,
//! the file's architecture fills in the point's, and the file is checked before any point runs
//! and fingerprinted for the resume check.

use std::path::Path;

use crate::common::sweep::*;

/// `corrflow train --task xor` with `args`, its `--json` parsed.
fn train_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["train", "--task", "xor", "--json"];
    all.extend(args);
    let o = run(&all);
    assert!(o.status.success(), "train {args:?}: {}", stderr(&o));
    serde_json::from_slice(&o.stdout).expect("one JSON object")
}

/// The only record of `out/results.jsonl`.
fn only_record(out: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    serde_json::from_str(lines[0]).unwrap()
}

/// A point with `init` trains from the file: one epoch at lr 10⁻⁷ keeps a trained XOR
/// network's accuracy, equal to `train --init` with the same settings to the sample, where the
/// seeded start stays near chance; the point's widths are the file's ([2, 5, 2], not the task's
/// default [2, 16, 2]); the record fingerprints the file, and editing it refuses the resume.
/// Mutations: `init` not a key of the run configuration (the seeded start) → the accuracies
/// differ; the file's widths not filled in → the point fails (widths [2, 16, 2] against the
/// file's); `init` left out of `files_read` → the edited file resumes.
#[test]
fn a_point_starts_from_its_init_model_as_train_init_does() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    train_json(&["--hidden", "5", "--epochs", "40", "--out", m]);
    let settings = ["--epochs", "1", "--lr", "1e-7"];
    let out_init = dir.path().join("fine.safetensors");
    let mut args = vec!["--init", m, "--out", out_init.to_str().unwrap()];
    args.extend(settings);
    let fine = train_json(&args);
    let out_seeded = dir.path().join("seeded.safetensors");
    let mut args = vec!["--hidden", "5", "--out", out_seeded.to_str().unwrap()];
    args.extend(settings);
    let seeded = train_json(&args);
    let accuracy = |v: &serde_json::Value, key: &str| v[key].as_f64().unwrap();
    assert!(
        accuracy(&fine, "test_accuracy") > 0.95 && accuracy(&seeded, "test_accuracy") < 0.8,
        "the start must decide the accuracy: from the file {fine}, seeded {seeded}"
    );

    let grid = grid_file(
        dir.path(),
        "g.toml",
        &format!("task = \"xor\"\nepochs = 1\nlr = 1e-7\ninit = {m:?}\n"),
    );
    let out = dir.path().join("out");
    let o = run_sweep(&grid, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let record = only_record(&out);
    for key in ["train_accuracy", "test_accuracy"] {
        assert_eq!(
            record[key], fine[key],
            "{key}: the sweep's point against train --init"
        );
    }
    assert_eq!(record["widths"], serde_json::json!([2, 5, 2]), "{record}");
    assert_eq!(
        record["inputs"][0]["path"],
        serde_json::json!(m),
        "{record}"
    );

    // The file edited (another training, same widths): the resume is refused, naming it.
    train_json(&["--hidden", "5", "--epochs", "3", "--out", m]);
    let o = run_sweep(&grid, &out, &[]);
    assert!(
        !o.status.success(),
        "an edited init file must refuse the resume"
    );
    assert!(
        stderr(&o).contains("input files changed") && stderr(&o).contains("m.safetensors"),
        "{}",
        stderr(&o)
    );
}

/// `init` beside a `gain`, beside other `hidden` widths or naming no file is refused before any
/// point runs (exit 2, no results file), naming the grid file, the point and the key.
/// Mutation: `with_init` not called by the checks before the run → the gain and hidden grids
/// start running (a failed point, a results file).
#[test]
fn init_keys_are_checked_before_any_point_runs() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    train_json(&["--hidden", "5", "--epochs", "2", "--out", m]);
    let cases = [
        (format!("init = {m:?}\ngain = 2.0\n"), "grid key 'gain'"),
        (
            format!("init = {m:?}\nhidden = [[5], [4]]\n"),
            "grid key 'hidden'",
        ),
        (
            "init = \"absent.safetensors\"\n".to_string(),
            "grid key 'init'",
        ),
    ];
    for (k, (keys, named)) in cases.iter().enumerate() {
        let grid = grid_file(
            dir.path(),
            &format!("g{k}.toml"),
            &format!("task = \"xor\"\nepochs = 1\n{keys}"),
        );
        let out = dir.path().join(format!("out{k}"));
        let o = run_sweep(&grid, &out, &[]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{keys}: {err}");
        assert!(
            err.contains(named) && err.contains(&format!("g{k}.toml: point #")),
            "{keys}: {err}"
        );
        assert!(
            !out.join("results.jsonl").exists(),
            "{keys}: nothing may run: {err}"
        );
    }
}
