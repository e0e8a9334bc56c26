//! Degenerate data and models through the commands (eighteenth session, adv18): a model with one
//! output, a class absent from the cumulant objective's training data, and a class whose
//! samples are identical in a sweep's record.

use std::path::{Path, PathBuf};

use corrflow::net::{model_io, Activation, Mlp};

use super::common::{corrflow, json, write_xy};

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `--task data` with training features and labels `x`, `y` and test files `tx`, `ty`.
fn data_args(x: &Path, y: &Path, tx: &Path, ty: &Path) -> Vec<String> {
    let mut args = vec!["--task".to_string(), "data".to_string()];
    for (flag, p) in [
        ("--train-x", x),
        ("--train-y", y),
        ("--test-x", tx),
        ("--test-y", ty),
    ] {
        args.push(flag.to_string());
        args.push(p.to_str().unwrap().to_string());
    }
    args
}

/// A sweep in `dir` of one `task = "data"` point (hidden [4], 1 epoch) on the training and test
/// files `[x, y, tx, ty]`: its output and the one record of its results.jsonl.
fn sweep_one(dir: &Path, files: [&Path; 4]) -> (std::process::Output, serde_json::Value) {
    let grid = dir.join("g.toml");
    let [x, y, tx, ty] = files;
    let text = format!(
        "task = \"data\"\ntrain_x = {x:?}\ntrain_y = {y:?}\ntest_x = {tx:?}\ntest_y = {ty:?}\n\
         hidden = [[4]]\nepochs = 1\n"
    );
    std::fs::write(&grid, text).unwrap();
    let out = dir.join("sw");
    let (g, o) = (grid.to_str().unwrap(), out.to_str().unwrap());
    let o = corrflow(&["sweep", "--grid", g, "--out", o]);
    let line = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    (o, serde_json::from_str(line.trim()).unwrap())
}

/// Runs corrflow with `head` then `tail`.
fn run(head: &[&str], tail: &[String]) -> std::process::Output {
    let tail: Vec<&str> = tail.iter().map(String::as_str).collect();
    corrflow(&[head, &tail[..]].concat())
}

/// The blobs (90 samples, 3 classes, 2 features, seed 7) as x.npy/y.npy in `dir` and a model
/// trained on them (2 epochs) at dir/m.safetensors: (x, y, the two files, the model).
fn blobs_and_model(dir: &Path) -> (Vec<Vec<f64>>, Vec<i64>, [PathBuf; 2], PathBuf) {
    let (x, y) = super::common::blobs(90, 3, 2, 7);
    let (xp, yp) = write_xy(dir, "", &x, &y);
    let model = dir.join("m.safetensors");
    let o = run(
        &["train", "--epochs", "2", "--out", model.to_str().unwrap()],
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    (x, y, [xp, yp], model)
}

/// Every value of `x` times `s`.
fn scaled(x: &[Vec<f64>], s: f64) -> Vec<Vec<f64>> {
    x.iter()
        .map(|r| r.iter().map(|v| v * s).collect())
        .collect()
}

/// A model with one output is refused naming the model and its output count; task data took
/// the output count as its class count and blamed `--n-classes`, which the user never gave.
#[test]
fn a_model_with_one_output_is_refused_naming_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("one.safetensors");
    let net = Mlp::init(&[2, 4, 1], Activation::Relu, 1.0, 1).unwrap();
    model_io::save(&net, &model, &[]).unwrap();
    let (x, y) = super::common::blobs(40, 2, 2, 1);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let m = model.to_str().unwrap();
    let data = data_args(&xp, &yp, &xp, &yp);
    for command in ["analyze", "propagate"] {
        let o = run(&[command, "--model", m, "--json"], &data);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains(m) && err.contains("1 output") && !err.contains("--n-classes"),
            "{command}: {err}"
        );
    }
}

/// The cumulant objective fits every class's input mean and covariance: a class with no
/// training sample (labels 0 and 1, a test set with class 2) is refused naming `--objective`
/// and the class, where it was "statistics of 2 classes (2 weights) for a network with 3
/// outputs"; so is a class of one training sample (adv26: "numerical error: class 2 has 1
/// sample; …", naming neither the flag nor the training set).
#[test]
fn a_class_absent_or_alone_in_the_cumulant_objective_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(60, 2, 2, 1);
    let (trx, try_) = write_xy(dir.path(), "train-", &x, &y);
    let (tx, ty) = super::common::blobs(30, 3, 2, 2);
    let (tex, tey) = write_xy(dir.path(), "test-", &tx, &ty);
    let lone = ty.iter().position(|&c| c == 2).unwrap();
    let (x1, y1) = ([&x[..], &tx[lone..=lone]].concat(), [&y[..], &[2]].concat());
    let (onex, oney) = write_xy(dir.path(), "one-", &x1, &y1);
    let out = dir.path().join("m.safetensors");
    let args = [
        "train",
        "--objective",
        "cumulants",
        "--epochs",
        "1",
        "--out",
    ];
    for ((x, y), says) in [
        ((&trx, &try_), "class 2 has no training samples"),
        ((&onex, &oney), "class 2 has 1 training sample"),
    ] {
        let o = run(
            &[&args[..], &[out.to_str().unwrap()]].concat(),
            &data_args(x, y, &tex, &tey),
        );
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains("--objective") && err.contains(says), "{err}");
        assert!(!out.exists());
    }
}

/// A class whose test samples are all the same point has a point-mass output: `analyze` flags
/// its theory accuracy `"degenerate": true`, and a sweep's record now does too (it printed the
/// accuracy without the flag).
#[test]
fn a_sweep_record_flags_a_point_mass_class_like_analyze() {
    let dir = tempfile::tempdir().unwrap();
    let (mut x, y) = super::common::blobs(90, 3, 2, 3);
    let first = x[1].clone();
    for (row, &label) in x.iter_mut().zip(&y) {
        if label == 1 {
            row.clone_from(&first);
        }
    }
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let (o, record) = sweep_one(dir.path(), [&xp, &yp, &xp, &yp]);
    assert!(o.status.success(), "{}", stderr(&o));
    let theory = record["theory"].as_array().unwrap();
    assert!(!theory.is_empty(), "{record}");
    for t in theory {
        assert_eq!(t["degenerate"], true, "{t}");
    }
    let analyze = run(
        &["analyze", "--hidden", "4", "--epochs", "1", "--json"],
        &data_args(&xp, &yp, &xp, &yp),
    );
    for t in json(&analyze)["theory_accuracy"].as_array().unwrap() {
        assert_eq!(t["degenerate"], true, "{t}");
    }
}

/// An analysed set of one class is refused before any training, naming the split and the
/// label (it reached "class information needs at least 2 classes" after training, without
/// saying which data); with a model, before the analysis. A split with two classes runs.
#[test]
fn an_analysed_set_of_one_class_is_refused_naming_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(60, 3, 4, 2);
    let order: Vec<usize> = (0..60).map(|i| (i % 20) * 3 + i / 20).collect();
    let x: Vec<Vec<f64>> = order.iter().map(|&i| x[i].clone()).collect();
    let y: Vec<i64> = order.iter().map(|&i| y[i]).collect();
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let (xs, ys) = (xp.to_str().unwrap(), yp.to_str().unwrap());
    let data = ["--task", "data", "--train-x", xs, "--train-y", ys];
    let o = corrflow(&[&["analyze"], &data[..], &["--test-split", "0:10", "--json"]].concat());
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--test-split")
            && err.contains("all 10 samples of the test set have label 0")
            && !err.contains("epoch"),
        "{err}"
    );
    assert!(o.stdout.is_empty());
    let o = corrflow(
        &[
            &["analyze"],
            &data[..],
            &["--test-split", "15:25", "--json"],
        ]
        .concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A ridge too small for the singular covariances of a hidden stage (XOR's 16 units span its
/// 2 input dimensions) names `--ridge` and prints the ridge in scientific notation, once
/// "numerical error": the message printed 10⁻³⁰⁰ as 300 zeros, said "pass a ridge > 0"
/// without the flag, and repeated its "numerical error:" prefix (twentieth session).
#[test]
fn a_ridge_too_small_is_named_by_its_flag_in_a_readable_message() {
    for (ridge, says) in [
        ("1e-300", "(= 1e-300 × mean variance)"),
        ("0", "pass a ridge > 0 (--ridge)"),
    ] {
        let o = corrflow(&[
            "analyze", "--task", "xor", "--epochs", "1", "--ridge", ridge,
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(says)
                && err.contains("--ridge")
                && err.matches("numerical error").count() == 1
                && !err.contains("0.000000"),
            "{err}"
        );
    }
}

/// A ridge above 1 (a fraction of the mean variance) swamps the covariances: the covariance
/// term is then a difference of ln det's holding n·ln λ each, i.e. rounding (`--ridge 1e300`
/// printed −1.3e-11 with exit 0, where the term is ~1e-300). It is refused naming `--ridge` and
/// the range; 1 itself runs.
#[test]
fn a_ridge_above_one_is_refused_naming_the_flag_and_the_range() {
    for ridge in ["1e300", "1.5", "inf", "nan"] {
        let o = corrflow(&[
            "analyze", "--task", "xor", "--epochs", "1", "--ridge", ridge,
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{ridge}: {err}");
        assert!(
            err.contains("--ridge") && err.contains("must be a number in [0, 1]"),
            "{ridge}: {err}"
        );
    }
    let o = corrflow(&[
        "analyze", "--task", "xor", "--epochs", "1", "--ridge", "1", "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// A network whose every relu unit is dead for every class: z¹ and y are constant in every
/// class, have no Bhattacharyya split and are left out of the class information; the text
/// table says how many stages it left out, where it showed fewer rows without a word
/// (twentieth session). A live network's table has no such note.
#[test]
fn the_information_table_says_which_stages_it_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(60, 2, 2, 3);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let data = data_args(&xp, &yp, &xp, &yp);
    let mut net = Mlp::init(&[2, 4, 2], Activation::Relu, 1.0, 1).unwrap();
    let live = dir.path().join("live.safetensors");
    model_io::save(&net, &live, &[]).unwrap();
    // Pre-activations far below 0 for every sample of these blobs (|x| of order 1).
    for b in net.layers[0].b.iter_mut() {
        *b = -1e6;
    }
    let dead = dir.path().join("dead.safetensors");
    model_io::save(&net, &dead, &[]).unwrap();
    let text = |m: &Path| {
        let o = run(&["analyze", "--model", m.to_str().unwrap()], &data);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = text(&dead);
    assert!(
        out.contains("2 of 4 stages left out: every class constant there"),
        "{out}"
    );
    assert!(!text(&live).contains("left out"));
}

/// A class of one sample in the analysed set is refused naming the data, the set and the class,
/// by `analyze` and `propagate`: the statistics refused it as "numerical error: MODEL: class 2
/// has 1 sample; …", naming the model file (twentieth session).
#[test]
fn a_class_of_one_sample_is_refused_naming_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(61, 3, 2, 5);
    // Labels cycle 0, 1, 2: keep one sample of class 2.
    let keep: Vec<usize> = (0..61).filter(|&i| y[i] != 2 || i == 2).collect();
    let x: Vec<Vec<f64>> = keep.iter().map(|&i| x[i].clone()).collect();
    let y: Vec<i64> = keep.iter().map(|&i| y[i]).collect();
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let data = data_args(&xp, &yp, &xp, &yp);
    let model = dir.path().join("m.safetensors");
    let net = Mlp::init(&[2, 4, 3], Activation::Relu, 1.0, 1).unwrap();
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    for command in ["analyze", "propagate"] {
        let o = run(&[command, "--model", m], &data);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{command}: {err}");
        assert!(
            err.contains("class 2 has 1 sample in the test set")
                && err.contains(xp.to_str().unwrap())
                && !err.contains(m),
            "{command}: {err}"
        );
    }
}

/// A sweep point whose test set has a class of one sample fails naming the data, the set and
/// the class, as `analyze` does (it failed with the statistics' "numerical error: class 2 has 1
/// sample; at least 2 are needed for its covariance", naming no data; twentieth session's open
/// item), and before its training.
#[test]
fn a_sweep_point_with_a_class_of_one_sample_fails_naming_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(61, 3, 2, 5);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let keep: Vec<usize> = (0..61).filter(|&i| y[i] != 2 || i == 2).collect();
    let tx: Vec<Vec<f64>> = keep.iter().map(|&i| x[i].clone()).collect();
    let ty: Vec<i64> = keep.iter().map(|&i| y[i]).collect();
    let (txp, typ) = write_xy(dir.path(), "one-", &tx, &ty);
    let (o, record) = sweep_one(dir.path(), [&xp, &yp, &txp, &typ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let failed = record["failed"].as_str().unwrap_or_default();
    assert!(
        failed.contains("class 2 has 1 sample in the test set")
            && failed.contains(txp.to_str().unwrap())
            && failed.contains("at least 2 samples of every class"),
        "{record}"
    );
}

/// Data whose one value makes a class's covariance overflow is refused naming the data, the
/// set, the class and the sample, before any training (adv21's `big513`: `propagate --model M`
/// said "numerical error: M: class 1: moments are not finite", blaming the model, and
/// `analyze --task data` trained first); a training set holding a value whose square overflows
/// f64 names the data, not `--lr` ("invalid value for --lr: training diverged"); adv22.
#[test]
fn data_whose_squares_overflow_is_named_not_the_model_or_the_learning_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(90, 3, 2, 7);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let mut big = x.clone();
    big[13][1] = 1e200; // class 13 % 3 = 1
    let (bxp, byp) = write_xy(dir.path(), "big-", &big, &y);
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let o = run(
        &["train", "--epochs", "2", "--out", m],
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let named = |o: &std::process::Output| {
        let e = stderr(o);
        assert_eq!(o.status.code(), Some(2), "{e}");
        assert!(
            e.contains(bxp.to_str().unwrap())
                && e.contains("class 1 of the test set")
                && e.contains("sample 13 of the set holds 1.0e200")
                && e.contains("expected a standard deviation below")
                && !e.contains("m.safetensors"),
            "{e}"
        );
    };
    for cmd in ["propagate", "analyze"] {
        named(&run(
            &[cmd, "--model", m, "--json"],
            &data_args(&xp, &yp, &bxp, &byp),
        ));
    }
    // Refused before the training: the report names no epoch.
    named(&run(
        &["analyze", "--epochs", "1", "--json"],
        &data_args(&xp, &yp, &bxp, &byp),
    ));
    let o = run(
        &["train", "--epochs", "2", "--out", m],
        &data_args(&bxp, &byp, &xp, &yp),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(bxp.to_str().unwrap())
            && e.contains("sample 13 of the training set holds 1.0e200")
            && e.contains("whose square overflows f64")
            && !e.contains("--lr"),
        "{e}"
    );
    let o = run(
        &["train", "--epochs", "2", "--precision", "f32", "--out", m],
        &data_args(&bxp, &byp, &xp, &yp),
    );
    let e = stderr(&o);
    assert!(
        e.contains("sample 13 of the training set holds 1.0e200")
            && e.contains("beyond f32's range")
            && e.contains("--precision f64"),
        "{e}"
    );
}

/// f64 SGD on data of 10¹⁰⁰ (squares still finite) diverges at any usable learning rate: the
/// message names `--lr` and now also the data's scale (its features' root mean square, the
/// factor lr·(mean square) beyond SGD's stable 2(1 + momentum)) with the remedy, `--standardize`
/// or `--scale`, which then trains; a divergence of unit-scale data (lr·(mean square) ≈ 2.6
/// below 3.8) names `--lr` alone (adv22's open item: "lower the learning rate" was all it said).
#[test]
fn an_sgd_divergence_of_huge_data_names_the_data_scale_and_its_remedy() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(90, 3, 2, 7);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let huge: Vec<Vec<f64>> = x
        .iter()
        .map(|r| r.iter().map(|v| v * 1e100).collect())
        .collect();
    let (hxp, hyp) = write_xy(dir.path(), "huge-", &huge, &y);
    let m = dir.path().join("m.safetensors");
    let m = m.to_str().unwrap();
    let sgd = ["train", "--optimizer", "sgd", "--epochs", "2", "--out", m];
    let o = run(&sgd, &data_args(&hxp, &hyp, &hxp, &hyp));
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("invalid value for --lr: training diverged")
            && e.contains("root mean square is 2.")
            && e.contains("e100")
            && e.contains("beyond the 3.8 under which SGD with momentum 0.9 is stable")
            && e.contains("--standardize")
            && e.contains("--scale"),
        "{e}"
    );
    let o = run(
        &[&sgd[..], &["--standardize"]].concat(),
        &data_args(&hxp, &hyp, &hxp, &hyp),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let o = run(
        &[
            "train",
            "--optimizer",
            "sgd",
            "--lr",
            "0.5",
            "--epochs",
            "8",
            "--out",
            m,
        ],
        &data_args(&xp, &yp, &xp, &yp),
    );
    let e = stderr(&o);
    assert!(
        e.contains("invalid value for --lr: training diverged") && !e.contains("unit scale"),
        "{e}"
    );
}

/// The text table of `propagate` marks the rows the JSON flags `degenerate` (absolute errors
/// in the `cov_rel_err` and `mean_err` columns) and explains the mark; the numbers are the
/// JSON's. A relu network with every tensor ×10⁻³⁰ (biases 0.1 × 10⁻³⁰) leaves h² a variance
/// ~10⁻¹²⁰ beside a mean ~10⁻³¹ that f64 cannot resolve in the samples (adv21's open item):
/// the text showed 1.793e-119 as a relative error. (Until scale68 the biases were Mlp::init's
/// zeros, and the only flagged rows were the output's, whose covariance ~10⁻¹⁸⁰ the samples
/// resolve but whose squares underflowed in the Frobenius norm; that norm now rescales them,
/// and those rows get their relative errors.)
#[test]
fn the_text_table_marks_the_degenerate_rows_of_the_json() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("tiny.safetensors");
    let mut net = Mlp::init(&[2, 8, 8, 2], Activation::Relu, 1.0, 3).unwrap();
    for l in &mut net.layers {
        l.w = &l.w * faer::Scale(1e-30);
        l.b = faer::Col::from_fn(l.b.nrows(), |_| 0.1e-30);
    }
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    let args = ["propagate", "--model", m, "--task", "xor"];
    let j = json(&corrflow(&[&args[..], &["--json"]].concat()));
    let o = corrflow(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let rows = j["layers"].as_array().unwrap();
    let flagged = rows.iter().filter(|r| r["degenerate"] == true).count();
    assert!(flagged > 0, "no degenerate row to show: {j}");
    for r in rows {
        let key = format!(
            "{:>5} {:>6} {:>5} ",
            r["layer"].as_u64().unwrap(),
            r["stage"].as_str().unwrap(),
            r["class"].as_u64().unwrap()
        );
        let line = text
            .lines()
            .find(|l| l.starts_with(&key))
            .unwrap_or_else(|| panic!("no row '{key}' in {text}"));
        let marked = line.contains('*');
        assert_eq!(marked, r["degenerate"] == true, "{line} vs {r}");
        let cov = line[key.len()..].split_whitespace().next().unwrap();
        let shown: f64 = cov.trim_end_matches('*').parse().unwrap();
        let value = r["cov_rel_err"].as_f64().unwrap();
        assert!(
            (shown - value).abs() <= 1e-3 * value.abs().max(1e-300),
            "{line} vs {r}"
        );
    }
    assert!(
        text.contains("* degenerate:") && text.contains("absolute errors"),
        "{text}"
    );
}

/// `propagate --json` rows (`extra` flags) of a relu model trained on the blobs (hidden 6, 6)
/// against the same model with its biases ×`t` on the data ×`t`: relu is positively
/// homogeneous, so every stage of the second is the first's ×`t` and its scale-free numbers
/// (`cov_rel_err`, `mean_err`, KL) are the first's. Asserts that, to 10⁻⁹ (the KL to 10⁻⁷),
/// and that no row of the second is flagged degenerate.
fn assert_scale_free(t: f64, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(90, 3, 2, 7);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let (sxp, syp) = write_xy(dir.path(), "s", &scaled(&x, t), &y);
    let model = dir.path().join("m.safetensors");
    let o = run(
        &[
            "train",
            "--epochs",
            "2",
            "--activation",
            "relu",
            "--hidden",
            "6,6",
            "--out",
            model.to_str().unwrap(),
        ],
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut net = model_io::load(&model).unwrap();
    for l in &mut net.layers {
        l.b = &l.b * faer::Scale(t);
    }
    let small = dir.path().join("s.safetensors");
    model_io::save(&net, &small, &[]).unwrap();
    let rows = |m: &Path, (x, y): (&Path, &Path)| {
        let o = run(
            &[
                &["propagate", "--model", m.to_str().unwrap(), "--json"],
                extra,
            ]
            .concat(),
            &data_args(x, y, x, y),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)["layers"].as_array().unwrap().clone()
    };
    let (a, b) = (rows(&model, (&xp, &yp)), rows(&small, (&sxp, &syp)));
    assert_eq!(a.len(), b.len());
    for (ra, rb) in a.iter().zip(&b) {
        assert!(rb.get("degenerate").is_none(), "flagged at ×{t:e}: {rb}");
        // The KL's ridge (jitter) of a near-singular covariance moves it by ~10⁻⁸ relative.
        for (key, tol) in [("cov_rel_err", 1e-9), ("mean_err", 1e-9), ("kl", 1e-7)] {
            let close = match (ra[key].as_f64(), rb[key].as_f64()) {
                (Some(va), Some(vb)) => (va - vb).abs() <= tol * va.abs() + 1e-12,
                (va, vb) => va == vb,
            };
            assert!(close, "{extra:?} {key}: ×1 {ra} against ×{t:e} {rb}");
        }
    }
}

/// On data ×10⁻¹⁰⁰ the comparison's relative errors are those of the data ([`assert_scale_free`]).
/// The covariances, ~10⁻²⁰⁰, have squares that underflow: until scale68 their Frobenius norms
/// were 0, so every row was flagged and read `cov_rel_err` 0 (scale67's found-not-fixed).
#[test]
fn relative_errors_of_data_times_1e_minus_100_are_those_of_the_data() {
    assert_scale_free(1e-100, &[]);
}

/// `propagate --order 3 | 4 --carry first` on data ×10⁻¹⁵⁰ gives the numbers of the data
/// ([`assert_scale_free`]). Its κ₃ ~ 10⁻⁴⁵⁰ and κ₄ ~ 10⁻⁶⁰⁰ underflowed in natural units: order
/// 4 ran as order 3 and order 3 as order 2, with exit 0 (scale67's found-not-fixed: relu z² KL
/// 1.6226 against 1.6254); the slices are now measured in a unit near the data's spread.
#[test]
fn orders_3_and_4_on_data_times_1e_minus_150_are_those_of_the_data() {
    for order in ["3", "4"] {
        assert_scale_free(1e-150, &["--order", order, "--carry", "first"]);
    }
}

/// `analyze --out P --report P` is refused before the training, naming both flags, and leaves
/// nothing at P: both checks passed (P did not exist), the model was written to P after the
/// training and the report then refused the file it found there, leaving the model (adv22).
#[test]
fn analyze_refuses_one_path_for_the_model_and_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("both");
    let o = corrflow(&[
        "analyze",
        "--task",
        "xor",
        "--epochs",
        "1",
        "--out",
        p.to_str().unwrap(),
        "--report",
        dir.path().join(".").join("both").to_str().unwrap(),
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(e.contains("--out and --report name the same path"), "{e}");
    assert!(!p.exists(), "{e}");
}

/// `n` samples of 3 classes (c = i mod 3) in 4 features, each a N(0, 1) draw plus c (StdRng of
/// `seed`): unit-scale data whose class means differ on every feature, the data of adv23's
/// open items (`rank1`: the first feature repeated as (x, 2x, −x, 3x)).
fn shifted_classes(n: usize, seed: u64, rank1: bool) -> (Vec<Vec<f64>>, Vec<i64>) {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let normal = rand_distr::StandardNormal;
    (0..n)
        .map(|i| {
            let c = (i % 3) as i64;
            let mut row: Vec<f64> = (0..4)
                .map(|_| rng.sample::<f64, _>(normal) + c as f64)
                .collect();
            if rank1 {
                row = vec![row[0], 2.0 * row[0], -row[0], 3.0 * row[0]];
            }
            (row, c)
        })
        .unzip()
}

/// SGD at its default rate (0.05, momentum 0.9) on unit-scale data of 4 features whose class
/// means are 0, 1 and 2, through 100 relu units, diverges (adv23's open item: the message said
/// "lower the learning rate" alone, and the data's scale rightly added nothing, lr·q ≈ 0.13).
/// The read-out's curvature at initialisation, 2·E[z̃ z̃ᵀ] over the first batch, is what puts
/// the step beyond 2(1 + β): the message names it and the rate below which the first step is
/// stable, says that rate is a necessary bound and not a guarantee (adv25), and half that
/// rate trains.
#[test]
fn an_sgd_divergence_of_unit_scale_data_names_the_read_outs_curvature_and_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = shifted_classes(600, 23, false);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let m = dir.path().join("m.safetensors");
    let m = m.to_str().unwrap();
    let sgd = [
        "train",
        "--optimizer",
        "sgd",
        "--hidden",
        "100",
        "--epochs",
        "2",
        "--out",
        m,
    ];
    let o = run(&sgd, &data_args(&xp, &yp, &xp, &yp));
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("invalid value for --lr: training diverged")
            && e.contains("curvature in the read-out's weights is at least")
            && e.contains("beyond the 3.8 under which SGD with momentum 0.9 is stable")
            && e.contains("a necessary bound, not a guarantee")
            && !e.contains("unit scale"),
        "{e}"
    );
    let rate: f64 = e
        .split("expected --lr below ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|t| t.trim_end_matches(',').parse().ok())
        .unwrap_or_else(|| panic!("no rate in {e}"));
    assert!(rate > 0.0 && rate < 0.05, "{e}");
    let half = format!("{}", rate / 2.0);
    let o = run(
        &[&sgd[..], &["--lr", &half]].concat(),
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `--order 3|4` (corrections at the first nonlinearity only) of a tanh network trained on
/// rank-1 data: the corrections leave z¹'s covariance indefinite, and layer 2's closure found a
/// negative variance (adv23; the refusal then named `--order`, the stage, the class and z¹'s
/// smallest eigenvalue; main 8baf037 refused most draws). Since wpsd76 such a class's spectrum
/// is floored (`fallbacks.projected`, `propagate::closures::cone`): every run succeeds, and some
/// draw's classes were projected. Fails with no projection (the refusals come back).
#[test]
fn order_3_and_4_on_rank_one_data_are_projected_and_run() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m.safetensors");
    let m = m.to_str().unwrap();
    // Whether a given draw's corrections leave the cone depends on the trained weights: most
    // did (adv24: 12 of 16 at order 3 broke layer 2); at least one must be projected.
    let mut projected = 0;
    for seed in 1..=6 {
        let (x, y) = shifted_classes(600, seed, true);
        let (xp, yp) = write_xy(dir.path(), "", &x, &y);
        let head = [
            "--threads",
            "1",
            "train",
            "--activation",
            "tanh",
            "--hidden",
            "16,16",
            "--epochs",
            "2",
            "--out",
            m,
        ];
        let o = run(&head, &data_args(&xp, &yp, &xp, &yp));
        assert!(o.status.success(), "{}", stderr(&o));
        for order in ["3", "4"] {
            let o = corrflow(&["propagate", "--model", m, "--order", order, "--json"]);
            assert!(
                o.status.success(),
                "seed {seed}, order {order}: {}",
                stderr(&o)
            );
            let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            projected += r["fallbacks"]["projected"].as_u64().unwrap();
        }
        let o = corrflow(&["propagate", "--model", m, "--order", "2"]);
        assert!(o.status.success(), "seed {seed}: {}", stderr(&o));
    }
    assert!(
        projected > 0,
        "no draw's corrected covariance was projected"
    );
}

/// gelu and silu networks with every tensor ×10⁵⁰ give pre-activations h² of ~10¹⁰⁰ whose
/// closure turned NaN (adv23's open item: "covariance (5, 1) = NaN, produced by the closure",
/// without the scale the closures take). The message now names h²'s second moment and the
/// bound (f64::MAX)^(1/2).
#[test]
fn a_closure_input_beyond_its_range_is_named_with_the_range() {
    let dir = tempfile::tempdir().unwrap();
    for act in [Activation::Gelu, Activation::Silu] {
        let model = dir.path().join("big.safetensors");
        let mut net = Mlp::init(&[2, 8, 8, 2], act, 1.0, 3).unwrap();
        for l in &mut net.layers {
            l.w = &l.w * faer::Scale(1e50);
            l.b = &l.b * faer::Scale(1e50);
        }
        model_io::save(&net, &model, &[]).unwrap();
        let m = model.to_str().unwrap();
        let o = corrflow(&["propagate", "--model", m, "--task", "xor", "--json"]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{act:?}: {e}");
        assert!(
            e.contains("produced by the closure: its input h2 has a second moment")
                && e.contains("beyond the 1.34e154 = (1.8e308)^(1/2) the closures take"),
            "{act:?}: {e}"
        );
    }
}

/// Labels 0…2 with one stray 7 train an 8-class network (the class count is the largest label
/// plus one): adv24's open item, trained without a word. Training goes on (a gap may be
/// meant), but stderr names the absent classes and `--n-classes`, and the JSON and the summary
/// list them; `--n-classes 8` declares the gap and silences the warning; data with every class
/// keeps its JSON without the field.
#[test]
fn a_stray_label_s_absent_classes_are_named_with_n_classes() {
    let dir = tempfile::tempdir().unwrap();
    let (xp, yp, y7) = stray_label_data(dir.path());
    let m = dir.path().join("m.safetensors");
    // One epoch of five steps ends at a loss of 24, 36× a constant output's, as the untrained
    // network starts (24.3): not trained long enough, which `net::unlearned` leaves silent
    // (adv49b's rule warned, so these tests trained ten epochs at --lr 0.02 for a session;
    // unl50); these runs must give no warning but the absent classes'.
    let head = [
        "train",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--out",
        m.to_str().unwrap(),
    ];
    let o = run(
        &[&head[..], &["--json"]].concat(),
        &data_args(&xp, &y7, &xp, &yp),
    );
    let e = warns_of_classes_3_to_6(&o);
    assert!(
        e.contains("the largest label, 7, + 1: --n-classes not given"),
        "{e}"
    );
    let j = json(&o);
    assert_eq!(j["absent_classes"], serde_json::json!([3, 4, 5, 6]), "{j}");
    assert_eq!(j["widths"], serde_json::json!([4, 8, 8]), "{j}");
    let o = run(&head, &data_args(&xp, &y7, &xp, &yp));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("absent classes  classes 3, 4, 5, 6 (no training sample)"),
        "{out}"
    );
    let given = [&head[..], &["--json", "--n-classes", "8"]].concat();
    let o = run(&given, &data_args(&xp, &y7, &xp, &yp));
    assert!(
        o.status.success() && !stderr(&o).contains("warning"),
        "{}",
        stderr(&o)
    );
    assert_eq!(json(&o)["absent_classes"], serde_json::json!([3, 4, 5, 6]));
    let o = run(
        &[&head[..], &["--json"]].concat(),
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(
        o.status.success() && !stderr(&o).contains("warning"),
        "{}",
        stderr(&o)
    );
    assert!(json(&o).get("absent_classes").is_none());
}

/// Asserts that the run `o` of [`stray_label_data`] succeeded with the warning naming its absent
/// classes 3…6 and `--n-classes 8`; returns its stderr.
fn warns_of_classes_3_to_6(o: &std::process::Output) -> String {
    let e = stderr(o);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("warning: the training set has no sample of classes 3, 4, 5, 6 of the 8")
            && e.contains("--n-classes 8 says so"),
        "{e}"
    );
    e
}

/// Three classes (labels 0…2) and the same data with sample 5 relabelled 7, in `dir`:
/// (features, labels, stray labels).
fn stray_label_data(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (x, mut y) = shifted_classes(300, 25, false);
    let (xp, yp) = write_xy(dir, "", &x, &y);
    y[5] = 7;
    let (_, y7) = write_xy(dir, "stray-", &x, &y);
    (xp, yp, y7)
}

/// adv25's open item: `analyze` without `--model` trains its default network on the data, and
/// a stray label (labels 0…2 and one 7) gave it an 8-class network without `train`'s warning.
/// Now the same warning on stderr, the absent classes in `trained.absent_classes` of the JSON,
/// a `training` line in the text and the report's header; `--n-classes 8` silences the warning
/// and keeps the field; data with every class: neither.
#[test]
fn analyze_without_a_model_warns_of_a_stray_label_s_absent_classes() {
    let dir = tempfile::tempdir().unwrap();
    let (xp, yp, y7) = stray_label_data(dir.path());
    // One epoch: see `a_stray_label_s_absent_classes_are_named_with_n_classes`.
    let head = ["analyze", "--hidden", "8", "--epochs", "1"];
    let o = run(
        &[&head[..], &["--json"]].concat(),
        &data_args(&xp, &y7, &xp, &yp),
    );
    warns_of_classes_3_to_6(&o);
    let j = json(&o);
    assert_eq!(
        j["trained"]["absent_classes"],
        serde_json::json!([3, 4, 5, 6]),
        "{j}"
    );
    let report = dir.path().join("report");
    let o = run(
        &[&head[..], &["--report", report.to_str().unwrap()]].concat(),
        &data_args(&xp, &y7, &xp, &yp),
    );
    let line = "classes 3, 4, 5, 6 absent (no training sample)";
    assert!(String::from_utf8_lossy(&o.stdout).contains(&format!("training    {line}")));
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains(&format!("| training | {line} |")), "{md}");
    let given = [&head[..], &["--json", "--n-classes", "8"]].concat();
    let o = run(&given, &data_args(&xp, &y7, &xp, &yp));
    assert!(o.status.success() && !stderr(&o).contains("warning"));
    assert_eq!(
        json(&o)["trained"]["absent_classes"],
        serde_json::json!([3, 4, 5, 6])
    );
    let o = run(
        &[&head[..], &["--json"]].concat(),
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(o.status.success() && !stderr(&o).contains("warning"));
    assert!(json(&o)["trained"].get("absent_classes").is_none());
}

/// Label files with no label at all (shape (0,), features (0, 4)), as training and test set:
/// they were refused as "every label is 0: a classification needs at least 2 classes" (the
/// largest label of no labels was taken as 0, adv26); now named as holding no labels. One
/// label file of zeros keeps its message.
#[test]
fn empty_label_files_are_named_as_empty_not_as_all_zero() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<Vec<f64>> = Vec::new();
    let (ex, ey) = write_xy(dir.path(), "empty-", &x, &[]);
    super::common::write_npy(&ex, "<f8", false, &[0, 4], &[]);
    let (zx, zy) = write_xy(dir.path(), "zero-", &[vec![1.0; 4], vec![2.0; 4]], &[0, 0]);
    let out = dir.path().join("m.safetensors");
    let head = ["train", "--epochs", "1", "--out", out.to_str().unwrap()];
    for ((x, y), says) in [
        (
            (&ex, &ey),
            "empty-y.npy: holds no labels (0 samples): expected samples of at least 2",
        ),
        ((&zx, &zy), "zero-y.npy: every label is 0"),
    ] {
        let o = run(&head, &data_args(x, y, x, y));
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(err.contains(says), "{err}");
    }
}

/// Data whose class variance underflows f64's normal range (values of 10⁻³⁰⁰, or 10⁻¹⁶⁰ whose
/// squares are subnormal) is refused naming the data, the set, the class, the feature and the
/// remedy, before any training; `propagate --model M` printed KLs of 10⁵ and a `cov_rel_err`
/// of 1 from the rounding of a zero covariance with exit 0, and `analyze` failed at the
/// surrogate's split naming neither the data nor its scale (adv28). Data of 10⁻²⁰ (variance
/// 10⁻⁴⁰, normal) still runs.
#[test]
fn data_whose_variance_underflows_is_named_not_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, [xp, yp], model) = blobs_and_model(dir.path());
    let m = model.to_str().unwrap();
    for (scale, name) in [(1e-300, "t300-"), (1e-160, "t160-")] {
        let (tx, ty) = write_xy(dir.path(), name, &scaled(&x, scale), &y);
        for head in [
            &["propagate", "--model", m, "--json"][..],
            &["analyze", "--model", m, "--json"],
            &["analyze", "--epochs", "1", "--json"],
        ] {
            let o = run(head, &data_args(&xp, &yp, &tx, &ty));
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{head:?} {scale:e}: {e}");
            assert!(
                e.contains(tx.to_str().unwrap())
                    && e.contains("class 0 of the test set: feature 0 spreads below f64's normal")
                    && e.contains("at least √(2.2e-308) = 1.5e-154")
                    && e.contains("--scale")
                    && !e.contains("m.safetensors"),
                "{head:?} {scale:e}: {e}"
            );
        }
    }
    let (tx, ty) = write_xy(dir.path(), "t20-", &scaled(&x, 1e-20), &y);
    let o = run(
        &["propagate", "--model", m, "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// Data of 10⁻²⁰ through a network with biases of ~0.1: every hidden stage's measured spread
/// (10⁻²¹ of its mean) is below what f64 resolves (ε‖μ‖), so its measured covariance is the
/// rounding of the samples around their mean. Those rows are marked degenerate with absolute
/// errors and no KL; before, `propagate` reported them as relative errors of 6·10⁷ and KLs of
/// 10⁵ with exit 0 (adv28).
#[test]
fn a_measured_spread_below_the_rounding_of_its_mean_is_degenerate() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, [xp, yp], model) = blobs_and_model(dir.path());
    let (tx, ty) = write_xy(dir.path(), "t20-", &scaled(&x, 1e-20), &y);
    let o = run(
        &["propagate", "--model", model.to_str().unwrap(), "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = r["layers"].as_array().unwrap();
    for row in rows {
        let degenerate = row["degenerate"].as_bool().unwrap_or(false);
        if matches!(row["stage"].as_str(), Some("pre" | "post")) {
            assert!(degenerate && row["kl"].is_null(), "{row}");
        }
        if !degenerate {
            let err = row["cov_rel_err"].as_f64().unwrap();
            assert!(err < 10.0, "{row}");
        }
    }
    assert!(rows.iter().any(|r| r["stage"] == "post"));
}

/// A forward pass that overflows in a hidden layer (a quadratic network with weights and biases
/// × 10¹⁰⁰: h2 ~ 10³⁰⁰ squared) is named with the stage and the overflow; the message said
/// "non-finite value inf at row 0, column 0 of the batch", naming neither (adv28).
#[test]
fn a_forward_pass_that_overflows_names_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("big.safetensors");
    let mut net = Mlp::init(&[2, 8, 8, 2], Activation::Quadratic { alpha: 0.5 }, 1.0, 3).unwrap();
    for l in &mut net.layers {
        l.w = &l.w * faer::Scale(1e100);
        l.b = &l.b * faer::Scale(1e100);
    }
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    for cmd in ["propagate", "analyze"] {
        let o = corrflow(&[cmd, "--model", m, "--task", "xor", "--json"]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{cmd}: {e}");
        assert!(
            e.contains(m)
                && e.contains("the forward pass of the samples overflows f64 at ")
                && e.contains("rescale the model's weights or the data"),
            "{cmd}: {e}"
        );
    }
}

/// `--precision f32` of data whose variance lies below f32's normal range (10⁻²⁵: variance
/// 10⁻⁵⁰, fine in f64) is refused naming f32's range and `--precision f64`; it reported every
/// row "degenerate" with errors of 0 and no KL, exit 0, where the f64 run matches to 10⁻¹⁵
/// (adv28). The f64 run still runs.
#[test]
fn f32_propagation_of_variances_below_f32_s_range_is_refused_naming_f64() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, [xp, yp], model) = blobs_and_model(dir.path());
    let m = model.to_str().unwrap();
    let (tx, ty) = write_xy(dir.path(), "t-", &scaled(&x, 1e-25), &y);
    let f64_run = run(
        &["propagate", "--model", m, "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    assert!(f64_run.status.success(), "{}", stderr(&f64_run));
    let o = run(
        &["propagate", "--model", m, "--precision", "f32", "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--precision f32: the measured variance of unit")
            && e.contains("below f32's normal range (1.2e-38)")
            && e.contains("expected --precision f64"),
        "{e}"
    );
}

/// `analyze --precision f32` of data whose variance lies below f32's normal range (10⁻²⁵:
/// variance 10⁻⁵⁰) is refused naming f32's range and `--precision f64`: its theory starts from
/// f64 statistics that the f32 engine rounded to 0, and it printed theory errors of 1.0 and KLs
/// of 3·10⁸ with exit 0 (adv28's found-not-fixed). The f64 run still runs.
#[test]
fn f32_analysis_of_variances_below_f32_s_range_is_refused_naming_f64() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, [xp, yp], model) = blobs_and_model(dir.path());
    let m = model.to_str().unwrap();
    let (tx, ty) = write_xy(dir.path(), "t-", &scaled(&x, 1e-25), &y);
    let f64_run = run(
        &["analyze", "--model", m, "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    assert!(f64_run.status.success(), "{}", stderr(&f64_run));
    let o = run(
        &["analyze", "--model", m, "--precision", "f32", "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--precision f32: the variance of unit")
            && e.contains("(the start)")
            && e.contains("below f32's normal range (1.2e-38)")
            && e.contains("expected --precision f64"),
        "{e}"
    );
}

/// The model at `model` with its biases zeroed and its read-out weights × `s`, saved beside it
/// as `name`.
fn read_out_scaled(model: &Path, s: f64, name: &str) -> PathBuf {
    let mut net = model_io::load(model).unwrap();
    for l in &mut net.layers {
        l.b = &l.b * faer::Scale(0.0);
    }
    let last = net.layers.last_mut().unwrap();
    last.w = &last.w * faer::Scale(s);
    let out = model.with_file_name(name);
    model_io::save(&net, &out, &[]).unwrap();
    out
}

/// Data ×10¹⁵⁰ (variance 10³⁰⁰: it fits f64, and the data check clears it) runs in both
/// commands: the comparison's Frobenius norms, whose plain sums of squares overflow at entries
/// of ~10¹⁵⁴, are taken scaled there (`stats::gaussian::compare`). Before adv30 `propagate`
/// refused it (naming the data, adv29) while `analyze --model` ran with exit 0. Through a model
/// whose first layer is ×10⁻¹⁵⁰ every pre-activation is the unscaled one up to rounding, so each
/// row (relative errors and KLs, scale-invariant) is the unscaled data's through the unscaled
/// model: to 10⁻¹⁴ absolute for the errors (the rows of 10⁻¹⁶, z¹'s rounding), 10⁻¹⁰ for the
/// KLs, and 10⁻⁹ relative.
#[test]
fn data_beyond_the_squares_range_runs_in_both_commands_with_the_unscaled_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y, [xp, yp], model) = blobs_and_model(dir.path());
    let m = model.to_str().unwrap();
    let (tx, ty) = write_xy(dir.path(), "t150-", &scaled(&x, 1e150), &y);
    let data = data_args(&xp, &yp, &tx, &ty);
    for head in [
        &["propagate", "--model", m, "--json"][..],
        &["analyze", "--model", m, "--json"],
    ] {
        let o = run(head, &data);
        assert!(o.status.success(), "{head:?}: {}", stderr(&o));
        json(&o);
    }
    let mut net = model_io::load(&model).unwrap();
    net.layers[0].w = &net.layers[0].w * faer::Scale(1e-150);
    let small = dir.path().join("w150.safetensors");
    model_io::save(&net, &small, &[]).unwrap();
    let rows = |model: &Path, test: [&Path; 2]| {
        let o = run(
            &["propagate", "--model", model.to_str().unwrap(), "--json"],
            &data_args(&xp, &yp, test[0], test[1]),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        json(&o)["layers"].as_array().unwrap().clone()
    };
    let (scaled_rows, plain_rows) = (rows(&small, [&tx, &ty]), rows(&model, [&xp, &yp]));
    assert_eq!(scaled_rows.len(), plain_rows.len());
    for (a, b) in scaled_rows.iter().zip(&plain_rows) {
        // KL is looser: the stages wider than the 2-D input are singular, and the KL's relative
        // jitter (3–7·10⁻⁹) amplifies a rounding of ε by ~ε/jitter ≈ 10⁻⁷ (z¹'s exact KL of
        // 10⁻¹², z¹'s KL of 120 to 7·10⁻⁹ relative).
        for (key, floor, rel) in [
            ("cov_rel_err", 1e-14, 1e-9),
            ("mean_err", 1e-14, 1e-9),
            ("kl", 1e-10, 1e-6),
        ] {
            let (u, v) = (a[key].as_f64().unwrap(), b[key].as_f64().unwrap());
            assert!((u - v).abs() <= floor + rel * v.abs(), "{key}: {a} vs {b}");
        }
    }
}

/// `analyze --precision f32` of a model whose read-out weights are 10⁻²⁵ (biases zeroed, so
/// that the f64 run is exact): y's variances (~10⁻⁵⁰) fall below f32's normal range inside the
/// f32 propagation, where neither the start's check nor the measured one sees them; it printed
/// a covariance error of 1 and KLs of 3·10⁸ at y with exit 0 (adv29). Refused naming the
/// stage, the layer and `--precision f64`; the f64 run still runs.
#[test]
fn f32_analysis_of_a_variance_that_underflows_inside_the_propagation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, [xp, yp], model) = blobs_and_model(dir.path());
    let tiny = read_out_scaled(&model, 1e-25, "tiny.safetensors");
    let m = tiny.to_str().unwrap();
    let data = data_args(&xp, &yp, &xp, &yp);
    let f64_run = run(&["analyze", "--model", m, "--json"], &data);
    assert!(f64_run.status.success(), "{}", stderr(&f64_run));
    let o = run(
        &["analyze", "--model", m, "--precision", "f32", "--json"],
        &data,
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--precision f32: the variance of unit")
            && e.contains(" of y (layer ")
            && e.contains("'s affine update)")
            && e.contains("below f32's normal range (1.2e-38)")
            && e.contains("expected --precision f64"),
        "{e}"
    );
}

/// `analyze --model` of data ×10⁻²⁰ through a model with biases: W¹x moves no unit of h1 past
/// the rounding of its bias, so h1 holds the biases alone and the surrogate's split there
/// fails. The refusal names the data, its scale against the biases and `--scale`, not the
/// model (it was "MODEL: Bhattacharyya split at h1: … no variance above rounding", adv29's
/// found-not-fixed). The unscaled data still runs.
#[test]
fn analysis_of_data_lost_in_the_biases_rounding_names_the_data_scale() {
    let dir = tempfile::tempdir().unwrap();
    // adv29's setting: 3 classes of 4 features, a tanh 8,8 network (3 epochs) whose h1 biases
    // are moved to 0.5 or more (trained ones can be near 0, where h1 would keep the 10⁻²⁰).
    let (x, y) = super::common::blobs(900, 3, 4, 29);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let trained = dir.path().join("t.safetensors");
    let head = [
        "train",
        "--hidden",
        "8,8",
        "--activation",
        "tanh",
        "--epochs",
        "3",
        "--out",
    ];
    let o = run(
        &[&head[..], &[trained.to_str().unwrap()]].concat(),
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut net = model_io::load(&trained).unwrap();
    let b = &net.layers[0].b;
    net.layers[0].b = faer::Col::from_fn(b.nrows(), |i| 0.5 + b[i].abs());
    let model = dir.path().join("biased.safetensors");
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    let (tx, ty) = write_xy(dir.path(), "t20-", &scaled(&x, 1e-20), &y);
    let plain = run(
        &["analyze", "--model", m, "--json"],
        &data_args(&xp, &yp, &xp, &yp),
    );
    assert!(plain.status.success(), "{}", stderr(&plain));
    let o = run(
        &["analyze", "--model", m, "--json"],
        &data_args(&xp, &yp, &tx, &ty),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(tx.to_str().unwrap())
            && e.contains("the test set holds values of at most ")
            && e.contains("16 rounding units of its bias")
            && e.contains("--scale")
            && !e.contains("biased.safetensors"),
        "{e}"
    );
    // In f32, first-layer weights ×10⁻⁴⁰ (h1's variances ~10⁻⁸⁰) fail first on f32's range:
    // the message names --precision f64 and does not say that h1 holds the biases alone (adv31:
    // it did, and ended "rescale the data", of data whose values reach 4.4, wrapping f32's own
    // message; where h1 resolves the data in f64 — section 22's tanh net with biases ≥ 5.6e-3,
    // data ×10⁻¹⁹ or weights ×10⁻⁴⁰ — the f64 run succeeds, so the biases were not the cause).
    let mut net = model_io::load(&trained).unwrap();
    net.layers[0].w =
        faer::Mat::from_fn(net.layers[0].w.nrows(), net.layers[0].w.ncols(), |i, j| {
            1e-40 * net.layers[0].w[(i, j)]
        });
    let model = dir.path().join("tiny-w.safetensors");
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    let o = run(
        &["analyze", "--model", m, "--precision", "f32", "--json"],
        &data_args(&xp, &yp, &xp, &yp),
    );
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--precision f64") && !e.contains("rounding units of its bias"),
        "{e}"
    );
}

/// `train --objective cumulants` whose closure overflows names the data or the flags: data
/// ×10¹⁵⁰ names the data file, its largest value and `--scale` (it said "expected smaller
/// pre-activations (rescale the model's weights or the inputs)", with no model and no file);
/// `--activation quad:1e300` names the objective, `--activation` and the data (it said only
/// "stage z1 (layer 1), class 0: covariance (0, 0) = inf, produced by the closure"). Orders 2,
/// 3 and 4 alike; no model file is left.
#[test]
fn a_cumulant_objective_whose_closure_overflows_names_the_data_or_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(90, 3, 2, 7);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let (hx, hy) = write_xy(dir.path(), "h-", &scaled(&x, 1e150), &y);
    let out = dir.path().join("m.safetensors");
    for order in ["2", "3", "4"] {
        for (files, activation, says) in [
            (
                [&hx, &hy],
                "quad:0.5",
                &[hx.to_str().unwrap(), "--scale", "beyond (1.8e308)^(1/4)"][..],
            ),
            (
                [&xp, &yp],
                "quad:1e300",
                &[
                    "--objective cumulants",
                    "--activation quad:",
                    xp.to_str().unwrap(),
                ],
            ),
        ] {
            let head = [
                "train",
                "--objective",
                "cumulants",
                "--order",
                order,
                "--activation",
                activation,
                "--hidden",
                "4",
                "--epochs",
                "1",
                "--out",
                out.to_str().unwrap(),
            ];
            let o = run(&head, &data_args(files[0], files[1], files[0], files[1]));
            let e = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{order} {activation}: {e}");
            assert!(
                says.iter().all(|s| e.contains(s)),
                "{order} {activation}: {e}"
            );
            assert!(!out.exists());
        }
    }
}
