//! adv36: refusals name the setting the user gave, not one they did not.

use super::common::{blobs, corrflow, train_tiny_xor, write_xy};

/// stderr as text.
fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One-class test data from its own files: `analyze` names the test labels' file
/// (`--test-y`), not `--test-split`, which was not given (adv35); with `--test-split` cutting a
/// one-class set from the training file, that flag; with a one-class training set analysed
/// (`--on train`, its labels from `--train-y`), `--train-y`.
#[test]
fn one_class_analysed_data_names_the_labels_that_were_given() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = blobs(60, 3, 4, 2);
    let (xp, yp) = write_xy(dir.path(), "", &x, &y);
    let one: Vec<i64> = vec![0; 60];
    let (ox, oy) = write_xy(dir.path(), "one-", &x, &one);
    let s = |p: &std::path::Path| p.to_str().unwrap().to_owned();
    let (xs, ys, oxs, oys) = (s(&xp), s(&yp), s(&ox), s(&oy));
    let cases: [(Vec<&str>, &str, &str); 2] = [
        (
            vec![
                "--train-x",
                &xs,
                "--train-y",
                &ys,
                "--test-x",
                &oxs,
                "--test-y",
                &oys,
            ],
            "--test-y",
            "--test-split",
        ),
        (
            vec![
                "--train-x",
                &oxs,
                "--train-y",
                &oys,
                "--test-x",
                &xs,
                "--test-y",
                &ys,
                "--on",
                "train",
                "--n-classes",
                "3",
            ],
            "--train-y",
            "--test-y",
        ),
    ];
    for (files, named, not) in cases {
        let args = [
            &["--threads", "1", "analyze", "--task", "data"][..],
            &files,
            &["--json"],
        ]
        .concat();
        let o = corrflow(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {e}");
        assert!(
            e.contains(named) && !e.contains(not) && e.contains("samples of the"),
            "{args:?}: {e}"
        );
        assert!(o.stdout.is_empty());
    }
}

/// A model too large for the memory limit is the model file's error, not `--hidden`'s (which
/// `propagate --model` never takes; adv39: "invalid value for --hidden: the run needs about …"
/// under `ulimit -v`, as here under `--max-memory`).
#[test]
fn a_model_over_the_memory_limit_names_the_model_not_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("w300.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "300,300");
    for command in ["propagate", "analyze"] {
        let out = corrflow(&[
            "--threads",
            "1",
            command,
            "--model",
            m,
            "--task",
            "xor",
            // propagate needs ~60 MiB, analyze ~93 MiB with the 32 MiB base (tidy42b).
            "--max-memory",
            "50M",
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains("w300.safetensors: its metadata 'widths' [2, 300, 300, 2]: the run needs")
                && !err.contains("--hidden"),
            "{err}"
        );
    }
}

/// The same widths given by `--hidden` on the command line are the flag's: the estimate names
/// `--hidden`, not a model file (the estimate is told where the widths came from).
#[test]
fn widths_given_by_hidden_over_the_memory_limit_name_hidden() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("m.safetensors");
    let out_path = out_file.to_str().unwrap();
    for (command, hidden, extra) in [
        ("analyze", "300,300", vec![]),
        ("train", "3000,3000", vec!["--out", out_path]),
    ] {
        let args = [
            &[
                "--threads",
                "1",
                command,
                "--task",
                "xor",
                "--hidden",
                hidden,
            ][..],
            &["--max-memory", "80M"],
            &extra,
        ]
        .concat();
        let out = corrflow(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.contains("invalid value for --hidden: the run needs") && !err.contains("metadata"),
            "{args:?}: {err}"
        );
        assert!(out.stdout.is_empty() && !out_file.exists(), "{args:?}");
    }
}

/// A diverged training names the learning rate as the user wrote it, not as its 301 digits
/// (adv39: "lower the learning rate (now 1000…000)").
#[test]
fn a_diverged_training_says_a_huge_learning_rate_in_short() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let out = corrflow(&[
        "--threads",
        "1",
        "train",
        "--task",
        "xor",
        "--hidden",
        "8",
        "--lr",
        "1e300",
        "--epochs",
        "3",
        "--out",
        model.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("invalid value for --lr") && err.contains("(now 1e300)"),
        "{err}"
    );
    assert!(!err.contains("0000000000"), "{err}");
}

/// `--scale` and `--shard`, parsed by clap with the library's parser: the refusal names the
/// flag (clap) and what was wrong, not the configuration field's inner name ("invalid value
/// for data.scale", "run.shard" after clap's "for '--scale <S>'", adv49a).
#[test]
fn flags_parsed_by_clap_are_refused_without_the_fields_inner_name() {
    for (args, flag, field) in [
        (
            &["train", "--task", "xor", "--scale", "0"][..],
            "--scale",
            "data.scale",
        ),
        (
            &["sweep", "--grid", "g.toml", "--out", "sw", "--shard", "5/4"],
            "--shard",
            "run.shard",
        ),
    ] {
        let o = corrflow(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(flag), "{args:?}: {err}");
        assert!(!err.contains(field), "{args:?}: {err}");
    }
}

/// Every training flag given with `analyze --model` is refused naming it (exit 2, nothing on
/// stdout): a loaded model is not trained. `--loss`, `--optimizer` and `--batch` had clap
/// defaults, so a given one could not be told from an unset one and `analyze --model M --loss
/// ce` analysed M with exit 0, the flag ignored (adv49b); the others were refused already. A
/// flag given with its default value is refused too (it was given). `--seed` (the Monte Carlo
/// draws') and `--precision` (the propagation's) mean something with a model and still run,
/// and without `--model` the flags still configure the training.
#[test]
fn training_flags_given_with_a_model_are_refused_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "4");
    let analyze = |extra: &[&str]| {
        let base = [
            "--threads",
            "1",
            "analyze",
            "--task",
            "xor",
            "--n-train",
            "200",
            "--n-test",
            "200",
            "--mc-samples",
            "1000",
            "--json",
        ];
        corrflow(&[&base[..], extra].concat())
    };
    let training = [
        ("--loss", "ce"),
        ("--loss", "mse"),
        ("--optimizer", "sgd"),
        ("--optimizer", "adam"),
        ("--batch", "7"),
        ("--batch", "64"),
        ("--epochs", "3"),
        ("--lr", "0.1"),
        ("--gain", "2"),
        ("--momentum", "0.5"),
        ("--hidden", "4"),
        ("--activation", "tanh"),
    ];
    for (flag, value) in training {
        let out = analyze(&["--model", m, flag, value]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(
            err.contains(flag) && err.contains("--model"),
            "{flag} {value}: {err}"
        );
        assert!(out.stdout.is_empty(), "{flag} {value}");
    }
    for (flag, value) in [("--seed", "5"), ("--precision", "f32")] {
        let out = analyze(&["--model", m, flag, value]);
        assert_eq!(out.status.code(), Some(0), "{flag}: {}", stderr(&out));
    }
    let out = analyze(&[
        "--epochs",
        "1",
        "--loss",
        "ce",
        "--optimizer",
        "sgd",
        "--batch",
        "7",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}
