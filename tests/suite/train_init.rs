//! `train --init FILE`: training starts from a model file's weights, checked as
//! `propagate --model` checks a model, its architecture against the task's and the flags'.

use std::path::Path;

use crate::common::{corrflow, json};

/// A small cumulant training of the higher-order task whose steps depend on the weights only:
/// full-batch SGD without momentum, no sampled check (no draws), one step an epoch.
fn stateless(epochs: &str, out: &Path, init: Option<&Path>) -> std::process::Output {
    let mut args = vec![
        "--threads",
        "1",
        "train",
        "--task",
        "higher-order",
        "--n-train",
        "300",
        "--n-test",
        "300",
        "--hidden",
        "6",
        "--activation",
        "relu",
        "--objective",
        "cumulants",
        "--order",
        "3",
        "--closure-check",
        "0",
        "--optimizer",
        "sgd",
        "--momentum",
        "0",
        "--batch",
        "300",
        "--lr",
        "0.05",
        "--json",
        "--epochs",
        epochs,
        "--out",
    ];
    args.push(out.to_str().unwrap());
    if let Some(init) = init {
        args.extend(["--init", init.to_str().unwrap()]);
    }
    corrflow(&args)
}

/// The tensor bytes of a safetensors file (everything after its header) and its metadata.
fn tensors_and_metadata(path: &Path) -> (Vec<u8>, serde_json::Value) {
    let bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (bytes[8 + n..].to_vec(), header["__metadata__"].clone())
}

/// Two epochs from the seed and one epoch from the model one epoch from the seed wrote are
/// the same training when its steps depend on the weights alone: the two files' weights agree
/// bit for bit, so training went on from the file's weights exactly. The written model and
/// `--json` record the file (absolute path, length, XXH64). Fails with the file's network not
/// put in place of the seeded one in `command::train` (the weights differ).
#[test]
fn training_from_a_model_continues_it_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.safetensors"),
        dir.path().join("b.safetensors"),
        dir.path().join("c.safetensors"),
    );
    let whole = json(&stateless("2", &a, None));
    json(&stateless("1", &b, None));
    let resumed = json(&stateless("1", &c, Some(&b)));
    let (ta, _) = tensors_and_metadata(&a);
    let (tc, meta) = tensors_and_metadata(&c);
    assert_eq!(
        ta, tc,
        "the continued weights differ from two epochs' in one run"
    );
    assert_eq!(whole["epochs"][1]["loss"], resumed["epochs"][0]["loss"]);
    assert!(whole.get("init").is_none(), "{whole}");
    let init = &resumed["init"];
    let len = std::fs::metadata(&b).unwrap().len();
    assert_eq!(init["path"].as_str(), b.to_str());
    assert_eq!(init["bytes"].as_u64(), Some(len));
    let xxh = init["xxh64"].as_str().unwrap();
    assert!(
        xxh.len() == 16 && xxh.chars().all(|c| c.is_ascii_hexdigit()),
        "{init}"
    );
    assert_eq!(meta["init"].as_str(), b.to_str());
    assert_eq!(meta["init_bytes"].as_str(), Some(len.to_string().as_str()));
    assert_eq!(meta["init_xxh64"].as_str(), Some(xxh));
}

/// Exit 2, the words `want` on stderr, and no model written.
fn refused(args: &[&str], out: &Path, want: &[&str]) {
    let o = corrflow(args);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    for w in want {
        assert!(err.contains(w), "{args:?}: no '{w}' in {err}");
    }
    assert!(!out.exists(), "{args:?} wrote {}", out.display());
}

/// A model file of another architecture than the flags' or the task's is refused naming both;
/// `--gain`, which the file replaces, too. Fails with any of the checks of `command::init`
/// removed (the flag's widths or activation would be replaced by the file's, the data's
/// inputs meet the file's first layer in a shape error, the gain is ignored).
#[test]
fn a_model_of_another_architecture_is_refused_naming_both() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.safetensors");
    json(&stateless("1", &b, None));
    let out = dir.path().join("out.safetensors");
    let (b_text, out_text) = (b.to_str().unwrap(), out.to_str().unwrap());
    let base = [
        "--threads",
        "1",
        "train",
        "--epochs",
        "1",
        "--out",
        out_text,
        "--init",
        b_text,
    ];
    for (extra, want) in [
        (
            &["--task", "higher-order", "--hidden", "7"][..],
            &["--hidden", "[7]", "[6]", b_text][..],
        ),
        (
            &["--task", "higher-order", "--activation", "erf"],
            &["--activation", "erf", "relu", b_text],
        ),
        (
            &["--task", "xor"],
            &["--init", b_text, "10 inputs", "2 inputs"],
        ),
        (
            &["--task", "higher-order", "--gain", "2"],
            &["--gain", "--init"],
        ),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        refused(&args, &out, want);
    }
}

/// A truncated file, a file with a NaN weight, a missing file and a folder are refused naming
/// the file, before any training. Fails where `command::train` trains from the seed when the
/// file cannot be read.
#[test]
fn a_corrupted_model_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = dir.path().join("b.safetensors");
    json(&stateless("1", &b, None));
    let bytes = std::fs::read(&b).unwrap();
    let truncated = dir.path().join("t.safetensors");
    std::fs::write(&truncated, &bytes[..bytes.len() - 8]).unwrap();
    let nan = dir.path().join("nan.safetensors");
    let mut poisoned = bytes.clone();
    let n = bytes.len();
    poisoned[n - 8..].copy_from_slice(&f64::NAN.to_le_bytes());
    std::fs::write(&nan, &poisoned).unwrap();
    let out = dir.path().join("out.safetensors");
    for (init, want) in [
        (truncated.clone(), "t.safetensors"),
        (nan.clone(), "nan.safetensors"),
        (
            dir.path().join("missing.safetensors"),
            "missing.safetensors",
        ),
        (dir.path().to_path_buf(), "not a regular file"),
    ] {
        let args = [
            "--threads",
            "1",
            "train",
            "--task",
            "higher-order",
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--init",
            init.to_str().unwrap(),
        ];
        refused(&args, &out, &[want]);
    }
}

/// A fine-tune that diverges is warned of against the file's model as its start (L₀ its
/// training loss as read): `--lr 10` from a trained XOR network ends ≥ 10× above it and names
/// `--lr` and the model, without a gain; the same run at `--lr 1e-3` is silent. Fails if the
/// warning is not given from `--init` (the fifty-third to seventy-third sessions' rule) or
/// reads its start from the seed (`from_init` false, a `gain`).
#[test]
fn a_diverged_fine_tune_is_warned_of_against_the_model_it_started_from() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base.safetensors");
    let out = dir.path().join("tuned.safetensors");
    let (b, o) = (base.to_str().unwrap(), out.to_str().unwrap());
    let first = corrflow(&["--threads", "1", "train", "--task", "xor", "--out", b]);
    assert!(first.status.success(), "{first:?}");
    let tune = |lr: &str| {
        let args = [
            "--threads",
            "1",
            "train",
            "--task",
            "xor",
            "--init",
            b,
            "--lr",
            lr,
            "--epochs",
            "5",
            "--json",
            "--out",
            o,
        ];
        let run = corrflow(&args);
        assert!(run.status.success(), "{run:?}");
        (
            json(&run),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        )
    };
    let (report, err) = tune("10");
    let u = &report["unlearned"];
    assert_eq!(u["cause"], "lr", "{report}");
    assert_eq!(u["from_init"], true, "{report}");
    assert!(u.get("gain").is_none(), "{report}");
    let (l0, last) = (
        u["initial_loss"].as_f64().unwrap(),
        u["loss"].as_f64().unwrap(),
    );
    assert!(last >= 10.0 * l0, "{report}");
    assert!(
        err.contains("the --init model's loss was") && err.contains("smaller --lr (now 10.0)"),
        "{err}"
    );
    let (report, err) = tune("1e-3");
    assert!(
        report.get("unlearned").is_none() && !err.contains("warning: training"),
        "{err}"
    );
}
