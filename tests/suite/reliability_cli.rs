//! Issue #13, the command-line classes: no panic or abort on any size a user can type (one
//! memory estimate checks every command's plan), a sweep that survives a bad point, no
//! non-finite number printed silently, outputs that never clobber what is not theirs, and
//! messages that name the flag or file at fault.

use std::process::Output;

use super::common::{corrflow, refused_over_memory};

/// 2⁶², a size no machine holds.
const HUGE: &str = "4611686018427387904";

/// stderr as text.
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts a clean failure (corrflow's error status 2, not a panic's 101 or a signal) whose
/// message names `flag`.
fn refused(args: &[&str], flag: &str) -> String {
    let out = corrflow(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    assert!(err.contains(flag), "{args:?} does not name {flag}: {err}");
    err
}

#[test]
fn absurd_sizes_are_refused_by_the_memory_estimate_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let xor = ["--task", "xor", "--json", "--out", out.to_str().unwrap()];
    for (flag, value) in [
        ("--epochs", "18446744073709551615"),
        ("--epochs", "100000000000"),
        ("--n-train", HUGE),
        ("--n-test", HUGE),
        ("--hidden", HUGE),
        ("--dim", HUGE),
    ] {
        let mut args = vec!["train", flag, value];
        args.extend(xor);
        let err = refused(&args, flag);
        assert!(err.contains("memory limit"), "{args:?}: {err}");
    }
    let err = refused(
        &[
            "analyze",
            "--task",
            "xor",
            "--epochs",
            "1",
            "--surrogate-samples",
            HUGE,
        ],
        "--surrogate-samples",
    );
    assert!(err.contains("memory limit"), "{err}");
}

/// The allocations sized by a count of draws are in the estimate too: the Student t model of
/// the output tails holds ⌈M/2⌉ scales per class (`--mc-samples` 2⁶² overflowed the vector's
/// capacity in a worker thread, and the run hung), and the cumulant objective's sampled check
/// passes C·K draws through the network (`--check-samples` 2⁶² overflowed faer's matrix).
#[test]
fn absurd_draw_counts_are_refused_by_the_memory_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let err = refused(
        &[
            "train",
            "--task",
            "xor",
            "--objective",
            "cumulants",
            "--epochs",
            "1",
            "--check-samples",
            HUGE,
            "--out",
            out.to_str().unwrap(),
        ],
        "--check-samples",
    );
    assert!(err.contains("memory limit"), "{err}");
    assert!(!out.exists());
    let err = refused(
        &[
            "analyze",
            "--task",
            "xor",
            "--epochs",
            "1",
            "--mc-samples",
            HUGE,
        ],
        "--mc-samples",
    );
    assert!(err.contains("memory limit"), "{err}");
}

/// A limit below the fixed part every run needs (`BASE_BYTES`, 32 MiB; 64 MiB until the
/// forty-second session) names `--max-memory`: it blamed the largest term
/// (`--mc-samples`' 156 KiB for a tiny XOR run under `--max-memory 1M`, adv35), a setting that
/// could not make the run fit. Fails on main's binary (checked: it names `--mc-samples`).
#[test]
fn max_memory_is_a_global_flag_that_bounds_every_command() {
    let err = refused(
        &[
            "--max-memory",
            "1M",
            "train",
            "--task",
            "xor",
            "--out",
            std::env::temp_dir().join("never-written").to_str().unwrap(),
        ],
        "memory limit of 1.0 MiB",
    );
    assert!(err.contains("--max-memory"), "names the limit: {err}");
    refused(&["--max-memory", "lots", "train"], "--max-memory");
    // A sweep's point says the same, naming the flag (no grid key sets the limit).
    use super::common::sweep::{grid_file, run, tiny_grid};
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(1));
    let out = dir.path().join("out");
    let o = run(&[
        "--max-memory",
        "1M",
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("invalid value for --max-memory") && !err.contains("grid key"),
        "{err}"
    );
}

/// The memory estimate counts a sample as faer holds it: its column of features padded to a
/// multiple of 8 f64 (64 bytes) and its label. XOR's 4·10⁶ test samples (d = 2) take 288 MB
/// (8 words + a label each), over a limit of 256 MiB; the estimate counted 2 words each (64
/// MB), passed, and the run allocated 4× the data it had estimated (adv32; at --n-test 3·10⁸
/// the 19.2 GB generator allocation panicked under a 16 GiB address limit). Fails where the
/// estimate counts d words per sample (checked: main's binary runs it).
#[test]
fn the_memory_estimate_counts_the_padded_columns_of_the_data() {
    refused_over_memory("4", 256, &["--n-test", "4000000"], "--n-test");
}

/// `--order 3|4 --carry depth` holds one class's κ tensors at a time (`tensor_bytes`): for a
/// hidden layer of 64 units at order 4, 646 MiB of the 712 MiB estimate (354 MB measured).
/// The estimate left them out, and the carry held them to its own fixed 16 GiB alone: under
/// `--max-memory 200M` this ran, and a width-100 layer reached 1.6 GB (adv33). Now refused
/// naming `--order`, `--kappa-units` where the subset carry was asked for. Fails on main's
/// binary (checked: it runs to exit 0).
#[test]
fn the_memory_estimate_counts_the_carried_tensors() {
    let carried = ["--order", "4", "--carry", "depth", "--pilot", "off"];
    refused_over_memory("64", 200, &carried, "--order");
    let subset = [&carried[..], &["--kappa-units", "64"]].concat();
    refused_over_memory("64", 200, &subset, "--kappa-units");
}

/// Order 2 at a large width holds more N × N blocks than the 3·C per stage the estimate
/// counted: the comparison's and the affine map's temporaries and the freed blocks the allocator
/// keeps (`WORKSPACE_SQUARES`). A [2, 2000, 2] XOR net with 400 test samples reached 656 MiB
/// resident against an estimate of 435 MiB, so under `--max-memory 600M` it ran past the limit;
/// now estimated at 710 MiB and refused naming the model's widths (adv34; `--hidden` until
/// adv39). Fails on main's binary
/// (checked: it runs to exit 0).
#[test]
fn order_2s_working_set_counts_in_the_memory_estimate() {
    refused_over_memory(
        "2000",
        600,
        &["--n-test", "400"],
        "its metadata 'widths' [2, 2000, 2]",
    );
}

/// `analyze` of a quadratic network measures the κ slices of its hidden pre-activations and
/// runs the corrected start layers besides order 2's: a [2, 2000, 2] quad:0.5 XOR net with 400
/// test samples reached 906–1272 MiB resident on one thread (four runs; 1468 MiB on eight)
/// against an estimate of 710 MiB, so under `--max-memory 800M` it ran past the limit. Now
/// estimated at 1442 MiB and refused naming the model's widths (adv35; `--hidden` until
/// adv39). Fails on main's binary
/// (checked: it runs to exit 0); `propagate` of the same net measures no slices and still fits
/// the estimate it had (626 MiB resident under 710).
#[test]
fn analyzes_kappa_slices_count_in_the_memory_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    super::common::train_tiny_xor(m, "2000");
    let args = [
        "--threads",
        "1",
        "--max-memory",
        "800M",
        "analyze",
        "--model",
        m,
        "--n-test",
        "400",
        "--json",
    ];
    let err = refused(&args, "xor.safetensors: its metadata 'widths' [2, 2000, 2]");
    assert!(err.contains("memory limit of 800 MiB"), "{err}");
    // The estimate's check is the same for propagate, which measures no slices: it fits.
    let propagate =
        corrflow(&[&args[..4], &["propagate", "--model", m, "--n-test", "400"]].concat());
    assert_eq!(propagate.status.code(), Some(0), "{}", stderr(&propagate));
}

/// `--kappa-units` picks the units carried through every layer: with `--carry first` nothing
/// is carried, and the flag ran without a word, ignored (adv35). Refused naming it, in
/// `propagate` and `analyze`, as `--pilot` is; with `--carry depth` it runs. Fails on main's
/// binary (checked: exit 0).
#[test]
fn kappa_units_without_the_carry_through_depth_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    super::common::train_tiny_xor(m, "4");
    for cmd in ["propagate", "analyze"] {
        let args = [
            "--threads",
            "1",
            cmd,
            "--model",
            m,
            "--order",
            "3",
            "--kappa-units",
            "3",
        ];
        let err = refused(
            &[&args[..], &["--carry", "first", "--json"]].concat(),
            "--kappa-units",
        );
        assert!(err.contains("--carry depth"), "{err}");
        let out = corrflow(&[&args[..], &["--carry", "depth", "--json"]].concat());
        assert_eq!(out.status.code(), Some(0), "{cmd}: {}", stderr(&out));
    }
}

/// A task read from files has no --n-train or --dim: over the limit, MNIST names the settings it
/// does have (the training limit or the image files), never a flag that does not apply.
#[test]
fn the_memory_error_of_a_file_task_names_its_own_settings() {
    let Some(mnist) = super::common::mnist_dir() else {
        eprintln!("MNIST_DIR not set: the MNIST memory-error test is skipped");
        return;
    };
    let err = refused(
        &[
            "--max-memory",
            "100M",
            "analyze",
            "--task",
            "mnist",
            "--mnist-dir",
            mnist.to_str().unwrap(),
        ],
        "memory limit of 100 MiB",
    );
    assert!(
        !err.contains("--n-train") && !err.contains("--dim") && !err.contains("--n-test"),
        "names a flag MNIST does not take: {err}"
    );
    assert!(
        err.contains("--train-limit") || err.contains("--train-images"),
        "names the training limit or the image file: {err}"
    );
}

#[test]
fn threads_beyond_a_sane_bound_are_refused() {
    refused(
        &["--threads", "99999", "train", "--task", "xor"],
        "--threads",
    );
}

#[test]
fn a_sweep_survives_a_bad_point_records_it_and_skips_it_on_a_rerun() {
    use super::common::sweep::{grid_file, grid_ids, record_ids, run};
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(
        dir.path(),
        "g.toml",
        &format!(
            "task = \"xor\"\nn_train = 200\nhidden = [[4]]\nepochs = [2, {HUGE}, 3]\nseed = 1\n"
        ),
    );
    let ids = grid_ids(&grid);
    let out = dir.path().join("out");
    let (g, o) = (grid.to_str().unwrap(), out.to_str().unwrap());
    let first = run(&["sweep", "--grid", g, "--out", o]);
    let err = stderr(&first);
    assert_eq!(first.status.code(), Some(2), "{err}");
    assert!(err.contains("invalid value for grid key 'epochs'"), "{err}");
    assert!(err.contains("1 points failed (#1"), "{err}");
    // Every point has a line: results for #0 and #2, the failure of #1.
    let mut got = record_ids(&out);
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);

    let again = run(&["sweep", "--grid", g, "--out", o]);
    let err = stderr(&again);
    assert!(
        err.contains("1 points failed before and are skipped (#1)"),
        "{err}"
    );
    assert!(err.contains("0 to run"), "{err}");
    assert_eq!(record_ids(&out).len(), 3, "a rerun runs nothing");

    let retry = run(&["sweep", "--grid", g, "--out", o, "--retry-failed"]);
    assert!(stderr(&retry).contains("1 to run"), "{}", stderr(&retry));
    assert_eq!(record_ids(&out).len(), 4, "the retry recorded its failure");

    let summary = run(&[
        "sweep",
        "summarize",
        o,
        "--plots",
        dir.path().join("p").to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&summary.stdout);
    assert!(
        text.contains("failed points (1)") && text.contains(&ids[1]),
        "{text}"
    );
    // A plots path that cannot be a folder is refused before any table is printed.
    let file = dir.path().join("plots-file");
    std::fs::write(&file, "x").unwrap();
    let refused = run(&["sweep", "summarize", o, "--plots", file.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(
        stderr(&refused).contains("plots-file"),
        "{}",
        stderr(&refused)
    );
    assert!(
        refused.stdout.is_empty(),
        "partial output: {}",
        String::from_utf8_lossy(&refused.stdout)
    );
    let csv = dir.path().join("r.csv");
    let export = run(&["sweep", "export", o, "--csv", csv.to_str().unwrap()]);
    assert!(export.status.success(), "{}", stderr(&export));
    let rows = std::fs::read_to_string(&csv).unwrap().lines().count();
    assert_eq!(rows, 3, "a header and the two results");
}

#[test]
fn an_empty_test_set_and_a_zero_batch_are_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let never = dir.path().join("never");
    refused(
        &[
            "train",
            "--task",
            "xor",
            "--n-test",
            "0",
            "--out",
            never.to_str().unwrap(),
        ],
        "--n-test",
    );
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let t = corrflow(&["train", "--task", "xor", "--epochs", "1", "--out", m]);
    assert!(t.status.success(), "{}", stderr(&t));
    refused(
        &["propagate", "--model", m, "--task", "xor", "--batch", "0"],
        "--batch",
    );
}

#[test]
fn a_degenerate_stage_is_flagged_and_no_float_is_null() {
    use corrflow::net::{model_io, Activation, Mlp};
    // Every relu unit dead on the data (bias −3 against inputs of O(1) on weights of O(0.1)):
    // the measured covariance after the relu is exactly 0, the Gaussian prediction has tails.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("dead.safetensors");
    let mut net = Mlp::init(&[2, 4, 2], Activation::Relu, 0.1, 1).unwrap();
    for b in net.layers[0].b.iter_mut() {
        *b = -3.0;
    }
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    let out = corrflow(&["propagate", "--model", m, "--task", "xor", "--json"]);
    let v = super::common::json(&out);
    let rows = v["layers"].as_array().unwrap();
    assert!(rows.iter().any(|r| r["degenerate"] == true), "{v}");
    for r in rows {
        for key in ["cov_rel_err", "mean_err"] {
            assert!(r[key].as_f64().is_some_and(f64::is_finite), "{key} in {r}");
        }
        // kl and its jitter are null together, by design (documented), never one alone.
        assert_eq!(r["kl"].is_null(), r["kl_jitter"].is_null(), "{r}");
    }
    // From the dead layer the predicted output has no spread: its theory accuracy is flagged.
    let a = corrflow(&["analyze", "--model", m, "--task", "xor", "--json"]);
    let v = super::common::json(&a);
    let theory = v["theory_accuracy"].as_array().unwrap();
    assert_eq!(theory[1]["degenerate"], true, "{}", theory[1]);
}

#[test]
fn outputs_refuse_devices_fifos_and_symlinks_and_are_checked_before_training() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("precious");
    std::fs::write(&target, b"keep").unwrap();
    let link = dir.path().join("link.safetensors");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let fifo = dir.path().join("fifo");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    // A private device node where the test may create one (root): never /dev/null or
    // /dev/zero, which a regression would replace for the whole machine.
    let device = dir.path().join("zero");
    let mut cases = vec![
        (link.to_str().unwrap().to_string(), "a symbolic link"),
        (fifo.to_str().unwrap().to_string(), "a FIFO"),
    ];
    let made = std::process::Command::new("mknod")
        .arg(&device)
        .args(["c", "1", "5"])
        .status()
        .is_ok_and(|s| s.success());
    if made {
        cases.push((device.to_str().unwrap().to_string(), "a device"));
    }
    for (out, what) in &cases {
        let args = ["train", "--task", "xor", "--epochs", "1", "--out", out];
        let err = refused(&args, out);
        assert!(err.contains(what), "{err}");
    }
    if made {
        use std::os::unix::fs::FileTypeExt;
        let t = std::fs::symlink_metadata(&device).unwrap().file_type();
        assert!(t.is_char_device(), "the device node was replaced");
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"keep");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    // An output folder that does not exist is refused before a million epochs of training.
    let child = super::common::command()
        .args(["train", "--task", "xor", "--epochs", "1000000", "--out"])
        .arg(dir.path().join("missing/m.safetensors"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = wait_at_most(child, 60);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing"), "{}", stderr(&out));
}

/// Waits for `child` up to `seconds`, killing it (and failing the test) after that.
fn wait_at_most(mut child: std::process::Child, seconds: u64) -> Output {
    for _ in 0..seconds * 10 {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("still running after {seconds} s: the output was not checked before the work");
}

#[test]
fn temp_debris_of_a_killed_run_is_removed_and_a_report_folder_is_written_as_a_set() {
    let dir = tempfile::tempdir().unwrap();
    // A process that has exited: its pid is free, so its temp file is debris.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let debris = dir
        .path()
        .join(format!(".corrflow-tmp-{dead}-0-m.safetensors"));
    std::fs::write(&debris, b"half a model").unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let t = corrflow(&["train", "--task", "xor", "--epochs", "1", "--out", m]);
    assert!(t.status.success(), "{}", stderr(&t));
    assert!(!debris.exists(), "stale temp file left");

    let report = dir.path().join("report");
    std::fs::create_dir(&report).unwrap();
    std::fs::write(report.join("notes.txt"), b"mine").unwrap();
    let r = report.to_str().unwrap();
    let analyze = ["analyze", "--model", m, "--task", "xor", "--report", r];
    let err = refused(&analyze, "notes.txt");
    assert!(err.contains("not part of a report"), "{err}");
    std::fs::remove_file(report.join("notes.txt")).unwrap();
    let a = corrflow(&analyze);
    assert!(a.status.success(), "{}", stderr(&a));
    let again = corrflow(&analyze);
    assert!(
        again.status.success(),
        "a report replaces its own folder: {}",
        stderr(&again)
    );
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".corrflow-tmp-")),
        "{names:?}"
    );
    assert!(report.join("report.md").exists() && report.join("report.json").exists());
}

#[test]
fn sweep_export_writes_csv_to_stdout_with_a_dash() {
    use super::common::sweep::{grid_file, run, tiny_grid};
    let dir = tempfile::tempdir().unwrap();
    let grid = grid_file(dir.path(), "g.toml", &tiny_grid(1));
    let out = dir.path().join("out");
    let o = out.to_str().unwrap();
    assert!(
        run(&["sweep", "--grid", grid.to_str().unwrap(), "--out", o])
            .status
            .success()
    );
    let e = run(&["sweep", "export", o, "--csv", "-"]);
    assert!(e.status.success(), "{}", stderr(&e));
    assert!(String::from_utf8_lossy(&e.stdout).starts_with("id,index,"));
    assert!(!dir.path().join("-").exists());
}

/// Explicit MNIST test files without the training pair: the folder would be read in their
/// place (its t10k files), so they are refused, naming the flag and what it needs.
#[test]
fn mnist_test_files_without_the_training_pair_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let err = refused(
        &[
            "train",
            "--task",
            "mnist",
            "--mnist-dir",
            dir.path().to_str().unwrap(),
            "--test-images",
            "t10k-images.idx",
            "--test-labels",
            "t10k-labels.idx",
            "--out",
            model.to_str().unwrap(),
        ],
        "--test-images",
    );
    assert!(err.contains("--train-images and --train-labels"), "{err}");
    assert!(!model.exists());
}

/// A normaliser value that parses as a number but is not finite (`nan`, `inf`, in the list or in
/// its file) is refused naming the flag; it used to be applied, and the run failed later with
/// "layer 1 has non-finite weights or biases", naming neither.
#[test]
fn a_non_finite_normaliser_names_its_flag() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let file = dir.path().join("std.txt");
    std::fs::write(&file, "1 inf").unwrap();
    let xor = [
        "train",
        "--task",
        "xor",
        "--epochs",
        "1",
        "--out",
        out.to_str().unwrap(),
    ];
    for (flag, mean, std) in [
        ("--normalize-mean", "nan", "1"),
        ("--normalize-mean", "0,-inf", "1"),
        ("--normalize-std", "0", file.to_str().unwrap()),
    ] {
        let mut args = xor.to_vec();
        args.extend(["--normalize-mean", mean, "--normalize-std", std]);
        let err = refused(&args, flag);
        assert!(err.contains("expected finite numbers"), "{err}");
    }
    assert!(!out.exists());
}

/// Messages that say what was expected. `--n-classes` outside 2..=65536 names the flag before
/// the memory estimate (2⁶² blamed --hidden, 0 and 1 the labels file); an output path ending in
/// `/` is refused before training (it failed after, with "Not a directory"); a report folder
/// given as an existing file says it is a file (it said "is not a regular file"); a plots folder
/// given as a file says a folder was expected (it said "File exists").
#[test]
fn refusals_say_what_was_expected() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(60, 2, 3, 1);
    let (xp, yp) = super::common::write_xy(dir.path(), "", &x, &y);
    let out = dir.path().join("m.safetensors");
    for k in ["0", "1", "65537", HUGE] {
        let err = refused(
            &[
                "train",
                "--task",
                "data",
                "--train-x",
                xp.to_str().unwrap(),
                "--train-y",
                yp.to_str().unwrap(),
                "--test-split",
                "0:20",
                "--n-classes",
                k,
                "--out",
                out.to_str().unwrap(),
            ],
            "--n-classes",
        );
        assert!(err.contains("expected 2 to 65536 classes"), "{err}");
    }
    let folder = format!("{}/", dir.path().join("new").display());
    let err = refused(
        &["train", "--task", "xor", "--epochs", "1", "--out", &folder],
        "ends in '/'",
    );
    assert!(err.contains("expected the path of a file"), "{err}");
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        "task = \"xor\"\nn_train = 100\nhidden = [[4]]\nepochs = 1\n",
    )
    .unwrap();
    let sweep = dir.path().join("sweep");
    let ran = corrflow(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        sweep.to_str().unwrap(),
    ]);
    assert!(ran.status.success(), "{}", stderr(&ran));
    let file = out.to_str().unwrap();
    std::fs::write(&out, b"not a folder").unwrap();
    let err = refused(
        &[
            "analyze", "--task", "xor", "--epochs", "1", "--report", file,
        ],
        "exists and is a file; a report is written as a folder",
    );
    assert!(!err.contains("not a regular file"), "{err}");
    let summarized = corrflow(&[
        "sweep",
        "summarize",
        sweep.to_str().unwrap(),
        "--plots",
        file,
    ]);
    assert_eq!(summarized.status.code(), Some(2), "{}", stderr(&summarized));
    let err = stderr(&summarized);
    assert!(err.contains("the plots are written into a folder"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"not a folder");
}

/// A loss that is not finite on the first batch, before any update, is an overflowing forward
/// pass, not the learning rate's fault: `--sigma 1e308` (inputs overflow) and `--gain 1e308`
/// (initial weights overflow) used to be refused as "lower the learning rate" (`--lr`).
#[test]
fn an_overflow_before_training_names_the_scale_not_the_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let out = out.to_str().unwrap();
    for (flag, value) in [("--sigma", "1e308"), ("--gain", "1e308")] {
        let args = [
            "train", "--task", "xor", "--epochs", "1", flag, value, "--out", out,
        ];
        let err = refused(&args, flag);
        assert!(err.contains("before any training step"), "{err}");
        assert!(!err.contains("--lr"), "{err}");
        assert!(!dir.path().join("m.safetensors").exists());
    }
}

/// Gradients that overflow while the loss stays finite: tanh with `--gain 1e20` trained in f32
/// (loss ~10⁴⁰ in f64, its gradients ~10⁴⁰ overflow f32) left infinite weights in layer 1,
/// which tanh turns into finite outputs; the model file's check then refused the trained
/// network as "layer 1 has non-finite weights or biases", naming no flag (twenty-first session).
/// Now the epoch's check names the layer, f32's range and the flags. f64 ran it to exit 0
/// with every weight as initialised (Adam's steps of ~0.01 below weights of 10¹⁹); since
/// adv48a that run is refused naming --gain (`net::stalled`).
#[test]
fn weights_made_non_finite_by_training_name_the_precision_and_the_scale() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let out = out.to_str().unwrap();
    let args = [
        "train",
        "--task",
        "xor",
        "--activation",
        "tanh",
        "--gain",
        "1e20",
        "--epochs",
        "1",
        "--out",
        out,
    ];
    let err = refused(
        &[&args[..], &["--precision", "f32"]].concat(),
        "--precision f64",
    );
    // Since adv22 the first step's check finds it (an_f32_overflow_of_the_first_step_…).
    assert!(
        (err.contains("layer 1 non-finite in epoch 1")
            || err.contains("first training step made the weights or biases of layer 1"))
            && err.contains("--gain"),
        "{err}"
    );
    assert!(!dir.path().join("m.safetensors").exists());
    let f64 = corrflow(&args);
    let err = stderr(&f64);
    assert_eq!(f64.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--gain") && err.contains("bit-identical"),
        "{err}"
    );
}

/// A first training step whose f32 gradients overflow (tanh, gain 10³⁰) names f32's range,
/// `--precision f64` and the initial scale, and says the learning rate is not the cause: a
/// sweep point's record said "invalid value for grid key 'lr': training diverged in epoch 1
/// (loss NaN)" (Adam's ∞/∞ left NaN weights, the next batch's loss turned NaN) and `train`
/// listed `--lr` among the causes (adv21's open item; adv22).
#[test]
fn an_f32_overflow_of_the_first_step_names_the_precision_not_the_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let err = refused(
        &[
            "train",
            "--task",
            "xor",
            "--activation",
            "tanh",
            "--gain",
            "1e30",
            "--precision",
            "f32",
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ],
        "--precision f64",
    );
    assert!(
        err.contains("first training step")
            && err.contains("--gain")
            && err.contains("not the learning rate")
            && !err.contains("--lr"),
        "{err}"
    );
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        "task = \"xor\"\nn_train = 200\nhidden = [[8]]\nepochs = 1\nactivation = \"tanh\"\n\
         gain = 1e30\nprecision = \"f32\"\n",
    )
    .unwrap();
    let sw = dir.path().join("sw");
    let o = corrflow(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        sw.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let record = std::fs::read_to_string(sw.join("results.jsonl")).unwrap();
    assert!(
        record.contains("first training step") && !record.contains("'lr'"),
        "{record}"
    );
}

/// Ten layers of the quadratic activation (the xor default) overflow inputs and weights of
/// order one: the message names the activation and the depth, not only the data's scale
/// (sixteenth session; it blamed `--sigma`, `--scale` and `--gain` alone).
#[test]
fn an_overflow_of_a_deep_quadratic_network_names_the_activation_and_depth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let hidden = ["8"; 10].join(",");
    let args = [
        "train",
        "--task",
        "xor",
        "--epochs",
        "1",
        "--hidden",
        &hidden,
        "--out",
        out.to_str().unwrap(),
    ];
    let err = refused(&args, "--activation quad");
    assert!(err.contains("10 hidden layers (--hidden)"), "{err}");
    let relu = corrflow(&[&args[..], &["--activation", "relu"]].concat());
    assert!(relu.status.success(), "{}", stderr(&relu));
}

/// The output stage's per-class covariances grow as the cube of the class count: a class count
/// too large for memory is refused naming `--n-classes`, not `--hidden` (sixteenth session: a
/// 4-wide network with 1000 classes blamed `--hidden`). `analyze` measures them; `train` with
/// the samples objective does not and trains the same network (twenty-second session).
#[test]
fn a_class_count_too_large_for_memory_names_n_classes() {
    let fix = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/idx");
    let x = fix.join("train-images-idx3-ubyte");
    let y = fix.join("train-labels-idx1-ubyte");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let args = [
        "--max-memory",
        "1G",
        "analyze",
        "--task",
        "data",
        "--train-x",
        x.to_str().unwrap(),
        "--train-y",
        y.to_str().unwrap(),
        "--test-split",
        "0:5",
        "--hidden",
        "4",
        "--n-classes",
        "1000",
    ];
    let err = refused(&args, "--n-classes");
    assert!(err.contains("over the memory limit"), "{err}");
    let train = [
        &["--max-memory", "1G", "train"],
        &args[3..],
        &["--epochs", "1", "--out", out.to_str().unwrap()],
    ]
    .concat();
    let trained = corrflow(&train);
    assert!(trained.status.success(), "{}", stderr(&trained));
}

/// The cumulant objective diverging under SGD with momentum 0.99: after some updates the
/// propagation of the network overflows inside the closure. That failure, past the first step,
/// is the updates' doing: refused naming `--lr` as the samples objective's divergence is (it
/// was "numerical error: stage z1 (layer 1), class 0: covariance (0, 0) = inf, produced by the
/// closure", which reads as a defect of the closure). With SGD's momentum at 0.99 or more it
/// names `--momentum` too.
#[test]
fn a_diverging_cumulant_training_names_the_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let args = [
        "train",
        "--task",
        "xor",
        "--epochs",
        "2",
        "--objective",
        "cumulants",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.99",
        "--out",
        out.to_str().unwrap(),
    ];
    let err = refused(&args, "--lr");
    assert!(err.contains("cumulant training diverged in epoch"), "{err}");
    // SGD's momentum 0.99 sums each step into ~100 later ones: named beside the rate (adv72).
    assert!(err.contains("or --momentum (now 0.99: "), "{err}");
    assert!(!out.exists());
}

/// A model file whose header the `safetensors` crate refuses is named with the tensor and what
/// was expected (adv25: the crate's "invalid shape, data type, or offset for tensor" named no
/// tensor, and a tensor left out of the header was blamed on its neighbour's offsets).
#[test]
fn a_malformed_model_header_names_the_tensor_and_what_was_expected() {
    use corrflow::net::{model_io, Activation, Mlp};
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("m.safetensors");
    let net = Mlp::init(&[2, 8, 2], Activation::Relu, 1.0, 1).unwrap();
    model_io::save(&net, &good, &[]).unwrap();
    let raw = std::fs::read(&good).unwrap();
    let n = u64::from_le_bytes(raw[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&raw[8..8 + n]).unwrap();
    let data = &raw[8 + n..];
    // The file of header text `text` (length as written unless `len`) and data `data`.
    let file = |name: &str, text: &str, len: Option<u64>, data: &[u8]| {
        let p = dir.path().join(name);
        let len = len.unwrap_or(text.len() as u64);
        std::fs::write(&p, [&len.to_le_bytes()[..], text.as_bytes(), data].concat()).unwrap();
        p
    };
    let edited = |f: &dyn Fn(&mut serde_json::Map<String, serde_json::Value>)| {
        let mut h = header.as_object().unwrap().clone();
        f(&mut h);
        serde_json::Value::Object(h).to_string()
    };
    let text = header.to_string();
    // A second entry for the read-out's bias over other bytes (an identical one is harmless:
    // the crate keeps one).
    let bias = r#"{"dtype":"F64","shape":[2],"data_offsets":[0,16]}"#;
    let cases = [
        (
            file(
                "shape.safetensors",
                &edited(&|h| h["hidden1.weight"]["shape"] = serde_json::json!([8, 3])),
                None,
                data,
            ),
            "tensor 'hidden1.weight' has shape [8, 3] of F64, 192 bytes",
        ),
        (
            file(
                "missing.safetensors",
                &edited(&|h| {
                    h.remove("readout.bias");
                }),
                None,
                data,
            ),
            "belong to no tensor: expected the tensors to cover the data (a tensor left out",
        ),
        (
            file("length.safetensors", &text, Some(1 << 20), data),
            "its first 8 bytes give a header of 1048576 bytes, beyond the file's",
        ),
        (
            file(
                "truncated.safetensors",
                &text,
                None,
                &data[..data.len() - 5],
            ),
            "beyond its data's",
        ),
        (
            file(
                "twice.safetensors",
                &format!("{},\"readout.bias\":{bias}}}", &text[..text.len() - 1]),
                None,
                data,
            ),
            "the header names tensor 'readout.bias' twice",
        ),
        (
            file(
                "trailing.safetensors",
                &text,
                None,
                &[data, &[0u8; 8]].concat(),
            ),
            "8 left over",
        ),
    ];
    for (path, want) in cases {
        let p = path.to_str().unwrap();
        for args in [
            &["propagate", "--model", p, "--task", "xor"][..],
            &["analyze", "--model", p, "--task", "xor"][..],
        ] {
            let o = corrflow(args);
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
            assert!(e.contains(p) && e.contains(want), "{args:?}: {e}");
        }
    }
}
