//! `--affine factored` where the run takes the f32 path, which updates every covariance
//! densely (adv47): it was accepted and ignored, the output that of `--affine dense`.

use super::common::{corrflow, sweep, train_tiny_xor};

/// `propagate` and `analyze` with `--precision f32 --affine factored` at `--order 2` are
/// refused naming `--affine`; at `--order 3` (the f64 path, where the update is made) and
/// with `--affine dense` they run. Old: exit 0, the numbers of the dense update.
#[test]
fn factored_affine_updates_under_f32_are_refused_not_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "8");
    let run = |cmd: &str, extra: &[&str]| {
        let base = [
            "--threads",
            "1",
            cmd,
            "--model",
            m,
            "--precision",
            "f32",
            "--json",
        ];
        corrflow(&[&base[..], extra].concat())
    };
    for cmd in ["propagate", "analyze"] {
        let out = run(cmd, &["--affine", "factored"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd}: {err}");
        assert!(
            err.contains("--affine") && err.contains("dense"),
            "{cmd}: {err}"
        );
        assert!(out.stdout.is_empty(), "{cmd}");
        let dense = run(cmd, &["--affine", "dense"]);
        assert!(dense.status.success(), "{cmd} dense");
    }
    let third = run("propagate", &["--affine", "factored", "--order", "3"]);
    assert!(
        third.status.success(),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
}

/// A sweep point with `precision = "f32"` and `affine = "factored"` fails naming the grid key
/// `affine`; the same grid's dense point runs. Old: both recorded, with equal numbers.
#[test]
fn a_sweep_points_factored_affine_under_f32_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        "task = \"xor\"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nprecision = \"f32\"\n\
         affine = [\"factored\", \"dense\"]\n",
    )
    .unwrap();
    let out = dir.path().join("sw");
    let run = sweep::run(&[
        "sweep",
        "--grid",
        grid.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let err = sweep::stderr(&run);
    assert!(!run.status.success(), "{err}");
    assert!(err.contains("grid key 'affine'"), "{err}");
    let records = std::fs::read_to_string(out.join("results.jsonl")).unwrap();
    let finished = records
        .lines()
        .filter(|l| l.contains("test_accuracy"))
        .count();
    assert_eq!(finished, 1, "{records}");
}
