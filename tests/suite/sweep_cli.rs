//! Grid validation, the memory guard, dry runs, summary plots and CSV export.

use crate::common::sweep::*;

#[test]
fn bad_grid_files_name_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    for (i, (text, want)) in [
        ("task = 'xor'\nwidht = [3]", "unknown key 'widht'"),
        ("epochs = 'ten'", "key 'epochs' = \"ten\""),
        (
            "activation = ['relu', 'mish']",
            "key 'activation' = \"mish\"",
        ),
        ("hidden = [16, 32]", "list of architectures"),
        ("seed = [1,", "not valid TOML"),
        ("[net]\nhidden = [[4]]", "key 'net'"),
        ("", "holds no key"),
        ("# a grid to fill in\n", "holds no key"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("bad{i}.toml");
        let grid = grid_file(dir.path(), &name, text);
        let o = run(&[
            "sweep",
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{text}");
        let err = stderr(&o);
        assert!(err.contains(&name), "{text}: {err}");
        assert!(err.contains(want), "{text}: {err}");
    }
    let o = run(&[
        "sweep",
        "--grid",
        dir.path().join("none.toml").to_str().unwrap(),
        "--out",
        "x",
    ]);
    assert!(stderr(&o).contains("none.toml"), "{}", stderr(&o));
    assert!(!out.exists(), "a refused grid created its output folder");
}

#[test]
fn the_memory_guard_fails_the_point_that_does_not_fit_and_runs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        &format!(
            "task = 'mnist'\nmnist_dir = '{}/fixtures/idx'\nhidden = [[100], [100000, 100000]]\n\
             mc_samples = 100\n",
            env!("CARGO_MANIFEST_DIR")
        ),
    );
    let ids = grid_ids(&grid);
    let out = dir.path().join("out");
    let o = run(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-memory",
        "64G",
    ]);
    // The point that does not fit fails with its estimate, naming the grid key; the other runs.
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains(&format!("point #1 {}", ids[1])), "{err}");
    assert!(err.contains("invalid value for grid key 'hidden'"), "{err}");
    assert!(err.contains("memory limit of 64.0 GiB"), "{err}");
    let log = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    assert!(
        log.contains("\"failed\":\"invalid value for grid key 'hidden'"),
        "{log}"
    );
    assert!(record_ids(&out).contains(&ids[0]), "#0 ran: {log}");

    // A limit below even the small point refuses that one too; --jobs that do not fit are refused.
    let o = run(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--max-memory",
        "1M",
    ]);
    assert!(
        stderr(&o).contains("points failed (#0, #1"),
        "{}",
        stderr(&o)
    );
}

/// `sweep --grid GRID --out OUT [EXTRA…]`.
fn sweep(grid: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(&args)
}

/// `sweep --grid GRID --out OUT --dry-run`.
fn dry_run(grid: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    sweep(grid, out, &["--dry-run"])
}

#[test]
fn dry_run_lists_every_point_with_estimates() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(3));
    let out = dir.path().join("out");
    let o = dry_run(&grid, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    for id in grid_ids(&grid) {
        assert!(text.contains(&id), "{text}");
    }
    assert!(text.contains("pending") && text.contains("tiny"), "{text}");
    assert!(text.contains("estimated time: ~"), "{text}");
    assert!(!out.exists(), "a dry run wrote output");
}

/// A dry run of more than 1000 points lists the first and last 10 and counts the others (a
/// 10⁶-point grid printed 122 MB of table in 41 s and 1 GB; adv21's open item, adv22); up to
/// 1000 it lists every point (above).
#[test]
fn a_dry_run_of_a_large_grid_lists_its_ends_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let seeds: Vec<String> = (0..1001).map(|s| s.to_string()).collect();
    let text = format!(
        "task = 'xor'\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [{}]\n",
        seeds.join(", ")
    );
    let grid = grid_file(dir.path(), "g.toml", &text);
    let out = dir.path().join("out");
    let o = dry_run(&grid, &out);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    let ids = grid_ids(&grid);
    let listed = ids.iter().filter(|id| text.contains(id.as_str())).count();
    assert_eq!(listed, 20, "{text}");
    for id in ids[..10].iter().chain(&ids[991..]) {
        assert!(text.contains(id.as_str()), "{id} not listed: {text}");
    }
    assert!(
        text.contains("981 points not listed")
            && text.contains("of all 1001: 0 done, 1001 pending"),
        "{text}"
    );
    assert!(text.contains("plan: 1001 of 1001 points to run"), "{text}");
}

/// A dry run walks the grid's points one at a time instead of holding them (adv24's open item:
/// a 10⁶-point grid's dry run held ~920 MB of points, ~770 bytes each). 3·10⁵ points under an
/// address-space limit of 150 MB: the held points alone were one 230 MB allocation, which
/// aborted the old build (exit 134, "memory allocation … failed"); the walk's 32 bytes a point
/// and the id map (~50 MB peak resident, adv25) fit. The plan lines are those of any grid.
#[test]
fn a_dry_run_of_a_huge_grid_does_not_hold_its_points() {
    let dir = tempfile::tempdir().unwrap();
    let list = |n: usize, from: usize| {
        let v: Vec<String> = (from..from + n).map(|s| s.to_string()).collect();
        v.join(", ")
    };
    let text = format!(
        "task = 'xor'\nseed = [{}]\nepochs = [{}]\n",
        list(600, 0),
        list(500, 1)
    );
    let grid = grid_file(dir.path(), "g.toml", &text);
    let out = dir.path().join("out");
    let mut cmd = crate::common::command();
    cmd.args(["sweep", "--grid", grid.to_str().unwrap()]).args([
        "--out",
        out.to_str().unwrap(),
        "--dry-run",
    ]);
    crate::common::set_rlimit(&mut cmd, libc::RLIMIT_AS, 150 << 20);
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{:?} {}", o.status, stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.starts_with("300000 points in ")
            && text.contains("299980 points not listed")
            && text.contains("plan: 300000 of 300000 points to run"),
        "{text}"
    );
    assert!(!out.exists(), "a dry run wrote output");
}

#[test]
fn summarize_and_export_read_the_records() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = 'xor'\nn_train = 200\nepochs = 2\nhidden = [[4], [4, 4]]\nactivation = ['relu', 'quad:0.5']\n",
    );
    let out = dir.path().join("out");
    let o = sweep(&grid, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));

    let line = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    for key in [
        "id",
        "config",
        "train_accuracy",
        "test_accuracy",
        "theory",
        "gap_from_input",
        "gap_from_layer1",
        "input_info",
        "output_info",
        "wall_seconds",
        "corrflow_version",
    ] {
        assert!(first.get(key).is_some(), "record lacks {key}: {first}");
    }

    let o = run(&["sweep", "summarize", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let (rows, means) = table.split_once("\n\n").unwrap();
    assert_eq!(rows.lines().count(), 5, "header + 4 rows: {table}");
    assert!(
        !means.lines().nth(1).unwrap().ends_with("keys"),
        "no key but the labelled ones varies, so no keys column: {table}"
    );
    assert_eq!(
        means.lines().count(),
        6,
        "title + header + 4 groups: {table}"
    );
    for svg in ["gap_vs_width.svg", "gap_vs_depth.svg", "information.svg"] {
        let text = std::fs::read_to_string(out.join("plots").join(svg)).unwrap();
        assert!(text.contains("<svg") && text.contains("relu"), "{svg}");
    }

    let csv = dir.path().join("r.csv");
    let o = run(&[
        "sweep",
        "export",
        out.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("id,index,activation,epochs,hidden,"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 5);
    assert!(text.contains(",4x4,"), "{text}");
}

/// The means pool the seeds only: a grid over another key (here `objective`) gets one line per
/// value, labelled with it (adv72: the objectives were pooled into one mean).
#[test]
fn summarize_means_pool_only_the_seeds() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = 'xor'\nn_train = 200\nepochs = 2\nhidden = [[4]]\nactivation = ['relu']\n\
         objective = ['samples', 'cumulants']\nseed = [1, 2]\n",
    );
    let out = dir.path().join("out");
    let o = sweep(&grid, &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(&["sweep", "summarize", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout).into_owned();
    let (_, means) = table.split_once("\n\n").unwrap();
    let lines: Vec<&str> = means.lines().collect();
    assert_eq!(lines.len(), 4, "title + header + 2 groups: {table}");
    assert!(lines[1].ends_with("keys"), "{table}");
    for (line, objective) in lines[2..].iter().zip(["samples", "cumulants"]) {
        let n: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(n[3], "2", "two seeds per group: {table}");
        assert!(line.ends_with(&format!("objective={objective}")), "{table}");
    }
}

/// A sweep resumed on a store holding every record twice says so, as export and summarize do
/// (adv48b: it skipped the points without a word), and runs nothing.
#[test]
fn a_resumed_sweep_notes_records_held_twice() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = 'xor'\nn_train = 200\nepochs = 1\nhidden = [[4]]\nseed = [1, 2]\n",
    );
    let out = dir.path().join("out");
    assert!(run_sweep(&grid, &out, &[]).status.success());
    let results = out.join("results.jsonl");
    let once = std::fs::read_to_string(&results).unwrap();
    std::fs::write(&results, once.repeat(2)).unwrap();
    let o = run_sweep(&grid, &out, &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("2 copies") && err.contains("#0, #1"), "{err}");
    assert!(err.contains("0 to run"), "{err}");
}

#[test]
fn a_failing_point_is_reported_and_the_others_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = 'xor'\nn_train = 200\nepochs = 2\nhidden = [[4]]\ndim = [1, 2]\n",
    );
    let ids = grid_ids(&grid);
    let out = dir.path().join("out");
    let args = [
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains(&format!("point #0 {}", ids[0])), "{err}");
    assert!(err.contains("XOR needs d ≥ 2"), "{err}");
    assert!(err.contains("invalid value for grid key 'dim'"), "{err}");
    assert!(err.contains("1 points failed (#0"), "{err}");
    // The good point and the failure of the bad one are recorded.
    let mut got = record_ids(&out);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    // A rerun skips the failed point and still reports it; --retry-failed runs it again.
    let o = run(&args);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("1 points failed before and are skipped (#0)"),
        "{err}"
    );
    assert!(err.contains("1 points failed (#0"), "{err}");
    assert_eq!(record_ids(&out).len(), 2);
    let mut retry = args.to_vec();
    retry.push("--retry-failed");
    let err = stderr(&run(&retry));
    assert!(err.contains("XOR needs d ≥ 2"), "{err}");
    assert_eq!(record_ids(&out).len(), 3);
}

/// Library errors inside a point name the grid key the user wrote, not a flag.
#[test]
fn errors_inside_a_point_name_the_grid_key() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = 'higher-order'\nn_train = 100\nepochs = 1\nhidden = [[4]]\nskewed = 20\n",
    );
    let out = dir.path().join("out");
    let o = run(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(err.contains("invalid value for grid key 'skewed'"), "{err}");
    assert!(!err.contains("--skewed"), "{err}");
}

#[test]
fn mnist_without_data_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", "task = 'mnist'\nhidden = [[10]]\n");
    let out = dir.path().join("out");
    let o = corrflow()
        .env_remove("MNIST_DIR")
        .args([
            "sweep",
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("point #0 (hidden=[10] task=mnist): invalid value for grid key 'mnist_dir'"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
}

/// A data key that the task of no point reads (`sigma` with task mnist, `skewed` or
/// `test_split` with xor) ran every point without it, without a word; it is refused naming the
/// key and the grid's tasks before anything runs. A key read by the task of some points only
/// (`sigma` with a task axis of xor and higher-order) still runs (twentieth session).
#[test]
fn a_grid_key_no_task_of_the_grid_reads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let common = "hidden = [[4]]\nepochs = 1\n";
    // Preflight checks only that MNIST's folder is one; the run never starts.
    let mnist = format!(
        "task = 'mnist'\nmnist_dir = '{}'\nsigma = 0.5\n",
        dir.path().display()
    );
    let sweep = |name: &str, text: &str| {
        let grid = grid_file(dir.path(), name, &format!("{text}{common}"));
        run(&[
            "sweep",
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
    };
    for (i, (text, want)) in [
        (
            mnist.as_str(),
            "grid key 'sigma' is read by no task of the grid (mnist)",
        ),
        (
            "task = 'xor'\nn_train = 50\nskewed = 3\n",
            "grid key 'skewed' is read by no task of the grid (xor)",
        ),
        (
            "task = 'xor'\nn_train = 50\ntest_split = '0:10'\n",
            "grid key 'test_split' is read by no task of the grid (xor)",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let o = sweep(&format!("g{i}.toml"), text);
        assert_eq!(o.status.code(), Some(2), "{text}");
        assert!(stderr(&o).contains(want), "{text}: {}", stderr(&o));
        assert!(!out.exists(), "{text}");
    }
    let mixed = "task = ['xor', 'higher-order']\nsigma = 0.5\nn_train = 50\n";
    let o = sweep("mixed.toml", mixed);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A sweep `--out` (and its `--dry-run`) that exists and is not a folder is refused naming the
/// path, what it is and what `--out` must name; it said "g.toml/results.jsonl: Not a directory
/// (os error 20)", naming neither (adv27). The file is left as it was.
#[test]
fn a_sweep_out_that_is_not_a_folder_is_refused_naming_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(1));
    let text = std::fs::read(&grid).unwrap();
    let g = grid.to_str().unwrap();
    for args in [
        vec!["sweep", "--grid", g, "--out", g],
        vec!["sweep", "--grid", g, "--out", g, "--dry-run"],
    ] {
        let o = run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("{g}: exists and is a file"))
                && err.contains("expected --out to name the sweep's folder of results"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&grid).unwrap(), text);
}

/// A point whose training ended far worse than a constant output (`net::unlearned`) carries
/// the warning in its record as `unlearned` (cause, losses, settings) and says it on stderr
/// naming the point; a healthy point's record has no such key (unl50: a sweep's records and
/// output said nothing of it, though `train` warned).
#[test]
fn a_point_that_learned_nothing_records_why() {
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        "task = 'xor'\nn_train = 400\nepochs = 5\nhidden = [[8]]\ngain = [1.0, 1e3]\n",
    );
    let ids = grid_ids(&grid);
    let out = dir.path().join("out");
    let (g, o) = (grid.to_str().unwrap(), out.to_str().unwrap());
    let run_out = run(&["sweep", "--grid", g, "--out", o, "--jobs", "1"]);
    let err = stderr(&run_out);
    assert_eq!(run_out.status.code(), Some(0), "{err}");
    let text = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let records: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_gain = |g: f64| {
        records
            .iter()
            .find(|r| r["config"]["gain"].as_f64() == Some(g))
            .unwrap_or_else(|| panic!("no record of gain {g}: {text}"))
    };
    let u = &by_gain(1e3)["unlearned"];
    assert_eq!(u["cause"], "gain", "{text}");
    assert!(u["loss"].as_f64().unwrap() >= 10.0 * u["constant_loss"].as_f64().unwrap());
    assert!(by_gain(1.0).get("unlearned").is_none(), "{text}");
    assert!(
        err.contains(&format!("point #1 {}", ids[1]))
            && err.contains("learned nothing usable")
            && err.contains("--gain 1000 (the default is 1)"),
        "{err}"
    );
    // The CSV export's `unlearned` column: the cause, empty for the healthy point.
    let csv = dir.path().join("r.csv");
    let exported = run(&["sweep", "export", o, "--csv", csv.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let table = std::fs::read_to_string(&csv).unwrap();
    let rows: Vec<Vec<&str>> = table.lines().map(|l| l.split(',').collect()).collect();
    let at = |name: &str| rows[0].iter().position(|h| *h == name).unwrap();
    let (gain, unlearned) = (at("gain"), at("unlearned"));
    let cause = |g: &str| {
        rows[1..]
            .iter()
            .find(|r| r[gain] == g)
            .map(|r| r[unlearned])
    };
    assert_eq!(
        (cause("1000.0"), cause("1.0")),
        (Some("gain"), Some("")),
        "{table}"
    );
}
