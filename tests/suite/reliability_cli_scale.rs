//! `--scale` where it cannot apply or makes the data overflow (adv43).

use crate::common::{corrflow, run_data, write_xy};

/// `--scale` with a generated task (XOR, higher-order), whose samples are not read from files,
/// is refused naming `--scale`, as `--test-split` and `--train-limit` are; it was ignored
/// without a word (exit 0, outputs identical to the run without it), and `propagate --model`
/// even warned it was "using" it.
#[test]
fn scale_with_a_generated_task_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let o = out.to_str().unwrap();
    for task in ["xor", "higher-order"] {
        let run = corrflow(&[
            "--threads",
            "1",
            "train",
            "--task",
            task,
            "--epochs",
            "1",
            "--scale",
            "5",
            "--out",
            o,
        ]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{task}: {err}");
        assert!(
            err.contains("--scale") && err.contains("does not apply"),
            "{task}: {err}"
        );
        assert!(!out.exists(), "{task}");
    }
}

/// Finite data divided by a scale so small that it overflows (1e-320, 5e-324) is refused naming
/// `--scale`, the file, the value (by sample and feature) and the scale in exponent form; it was "x.npy: non-finite
/// value -inf at sample 0", blaming a file whose values are finite, and the scale was printed
/// in 330 digits in the messages that did name it.
#[test]
fn a_scale_that_makes_finite_data_overflow_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let xs: Vec<Vec<f64>> = (0..40).map(|k| vec![f64::from(k % 7) - 3.5, 1.5]).collect();
    let ys: Vec<i64> = (0..40).map(|k| k % 2).collect();
    let (x, y) = write_xy(dir.path(), "", &xs, &ys);
    let out = dir.path().join("m.safetensors");
    for scale in ["1e-320", "5e-324"] {
        let run = run_data("train", &x, &y, &out, &["--scale", scale]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{scale}: {err}");
        assert!(
            err.contains("--scale") && err.contains("x.npy") && err.contains(scale),
            "{scale}: {err}"
        );
        // The entry by its sample and feature (it said "value 0" for feature 0, adv47).
        assert!(err.contains(", feature 0, divided by"), "{scale}: {err}");
        assert!(err.len() < 600, "{scale}: {} bytes: {err}", err.len());
        assert!(!out.exists(), "{scale}");
    }
}

/// adv45: the value in the overflow's message is written with 6 significant digits, not in
/// full ("-3.6904559931127854e0", adv43's leftover): values (k + 0.1)/3 − 3 have 17 digits.
#[test]
fn the_overflowing_value_is_written_in_six_digits() {
    let dir = tempfile::tempdir().unwrap();
    let xs: Vec<Vec<f64>> = (0..40)
        .map(|k| vec![(f64::from(k) + 0.1) / 3.0 - 3.0, 1.5])
        .collect();
    let ys: Vec<i64> = (0..40).map(|k| k % 2).collect();
    let (x, y) = write_xy(dir.path(), "", &xs, &ys);
    let out = dir.path().join("m.safetensors");
    let run = run_data("train", &x, &y, &out, &["--scale", "1e-320"]);
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("--scale") && err.contains("x.npy"), "{err}");
    let long_number = err
        .as_bytes()
        .windows(8)
        .any(|w| w.iter().all(u8::is_ascii_digit));
    assert!(!long_number, "a value of 8 or more digits: {err}");
    assert!(!out.exists());
}
