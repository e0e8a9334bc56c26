//! The normaliser (`--normalize-mean`/`--normalize-std`) where it makes finite data overflow,
//! and tensor names (`--x-tensor`/`--y-tensor`) where no file holds tensors (adv46).

use std::path::Path;

use crate::common::{corrflow, run_data, with_metadata, write_xy};

/// Forty samples of two features and two classes in `dir`.
fn data(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let xs: Vec<Vec<f64>> = (0..40).map(|k| vec![f64::from(k % 7) - 3.5, 1.5]).collect();
    let ys: Vec<i64> = (0..40).map(|k| k % 2).collect();
    write_xy(dir, "", &xs, &ys)
}

/// Finite data that the normaliser makes overflow (a std of 1e-320, or a mean of -1e308 with
/// a std of 1e-300) is refused naming `--normalize-std`, with the std in exponent form and the
/// message short; it was blamed on the data ("the data's scale (--sigma, --scale or the data
/// files) or --gain is too large", or a class that "spreads beyond f64"), and the std was
/// printed in 330 digits.
#[test]
fn a_normaliser_that_makes_finite_data_overflow_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = data(dir.path());
    let model = dir.path().join("m.safetensors");
    let good = run_data("train", &x, &y, &model, &[]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let cases: [&[&str]; 2] = [
        &["--normalize-mean", "0", "--normalize-std", "1e-320"],
        &["--normalize-mean=-1e308", "--normalize-std", "1e-300"],
    ];
    for extra in cases {
        for cmd in ["train", "propagate"] {
            let out = if cmd == "train" {
                dir.path().join("n.safetensors")
            } else {
                model.clone()
            };
            let run = run_data(cmd, &x, &y, &out, extra);
            let err = String::from_utf8_lossy(&run.stderr);
            assert_eq!(run.status.code(), Some(2), "{cmd} {extra:?}: {err}");
            assert!(
                err.contains("--normalize-std") && err.contains("finite"),
                "{cmd} {extra:?}: {err}"
            );
            assert!(
                err.len() < 600 && !err.contains("0000000000"),
                "{cmd} {extra:?}: {err}"
            );
            assert!(run.stdout.is_empty(), "{cmd} {extra:?}");
            assert!(!dir.path().join("n.safetensors").exists(), "{extra:?}");
        }
    }
}

/// `--x-tensor`/`--y-tensor` with `.npy` files (which hold one array each, no named tensor)
/// are refused naming the flag; they were ignored without a word (exit 0).
#[test]
fn tensor_names_without_a_safetensors_file_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = data(dir.path());
    let out = dir.path().join("m.safetensors");
    for flag in ["--x-tensor", "--y-tensor"] {
        let run = run_data("train", &x, &y, &out, &[flag, "features"]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{flag}: {err}");
        assert!(
            err.contains(flag) && err.contains(".safetensors"),
            "{flag}: {err}"
        );
        assert!(!out.exists(), "{flag}");
    }
}

/// A sweep point naming a tensor (`x_tensor`) with `.npy` files fails naming the grid key;
/// the name was ignored and the point recorded as run.
#[test]
fn a_sweep_points_tensor_name_without_a_safetensors_file_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = data(dir.path());
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        format!(
            "task = \"data\"\ntrain_x = {:?}\ntrain_y = {:?}\ntest_split = \"0:10\"\n\
             x_tensor = \"features\"\nhidden = [[4]]\nepochs = 1\n",
            x.to_str().unwrap(),
            y.to_str().unwrap()
        ),
    )
    .unwrap();
    let out = dir.path().join("sw");
    let run = corrflow(&[
        "--threads",
        "1",
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&run.stderr);
    let records = std::fs::read_to_string(out.join("results.jsonl")).unwrap_or_default();
    assert!(
        err.contains("x_tensor") && err.contains(".safetensors"),
        "{err}"
    );
    assert!(!records.contains("test_accuracy"), "{records}");
}

/// A normaliser that is no list of numbers and no readable file (`abc`, a folder) names
/// `--normalize-mean`, and in a model's preprocessing record the model and the record; a
/// model whose data record names files since deleted names the model, the record and the key.
/// Old (adv47b): "abc: No such file or directory", "/tmp: is a directory, not a regular file"
/// and "/…/x.npy: No such file or directory", naming neither the flag nor the model.
#[test]
fn a_normaliser_or_recorded_file_that_cannot_be_read_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = data(dir.path());
    let folder = dir.path().to_str().unwrap().to_string();
    for spec in ["abc", folder.as_str()] {
        let out = dir.path().join("n.safetensors");
        let run = run_data(
            "train",
            &x,
            &y,
            &out,
            &["--normalize-mean", spec, "--normalize-std", "1"],
        );
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{spec}: {err}");
        assert!(
            err.contains("--normalize-mean") && err.contains("neither a comma-separated list"),
            "{spec}: {err}"
        );
        assert!(!out.exists(), "{spec}");
    }
    // The model's own records: a normaliser that reads as no file, and data files deleted.
    let (x2, y2) = (dir.path().join("x2.npy"), dir.path().join("y2.npy"));
    std::fs::copy(&x, &x2).unwrap();
    std::fs::copy(&y, &y2).unwrap();
    let model = dir.path().join("m.safetensors");
    let good = run_data("train", &x2, &y2, &model, &[]);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    std::fs::remove_file(&x2).unwrap();
    for cmd in ["propagate", "analyze"] {
        let run = corrflow(&[
            "--threads",
            "1",
            cmd,
            "--model",
            model.to_str().unwrap(),
            "--json",
        ]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("m.safetensors: its record corrflow.data sets train_x")
                && err.contains("x2.npy"),
            "{cmd}: {err}"
        );
    }
    let record = r#"{"scale":"none","center":false,"standardize":false,"normalize_mean":"abc","normalize_std":"1"}"#;
    let file = with_metadata(
        &std::fs::read(&model).unwrap(),
        "corrflow.preprocess",
        record,
    );
    let bad = dir.path().join("norm.safetensors");
    std::fs::write(&bad, file).unwrap();
    let run = run_data("propagate", &x, &y, &bad, &[]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("norm.safetensors: its record corrflow.preprocess sets normalize_mean")
            && err.contains("'abc' is neither"),
        "{err}"
    );
}
