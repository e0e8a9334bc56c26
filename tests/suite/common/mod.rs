//! Helpers shared by the tests: run the built `corrflow`, read its JSON, find MNIST;
//! [`sweep`] holds the sweep tests' grid and record helpers, [`closures`] the closure tests'
//! random Gaussian cases and Monte Carlo, [`slurm_cluster`] a one-node Slurm.

pub mod closures;
#[path = "../../shared/npy.rs"]
mod npy;
pub mod slurm_cluster;
pub mod sweep;

use std::path::PathBuf;
use std::process::{Command, Output};

/// The `corrflow` binary of this build, not yet started.
pub fn command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_corrflow"))
}

/// Runs the `corrflow` binary of this build with `args`; `MNIST_DIR` is removed from its
/// environment so that every test names its data explicitly.
pub fn corrflow(args: &[&str]) -> Output {
    command()
        .args(args)
        .env_remove("MNIST_DIR")
        .output()
        .expect("run corrflow")
}

/// Asserts success and parses stdout as one JSON object.
pub fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "corrflow failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("stdout is one JSON object")
}

/// The MNIST folder named by `MNIST_DIR`, if it exists.
pub fn mnist_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(std::env::var_os("MNIST_DIR")?);
    dir.is_dir().then_some(dir)
}

/// A Python interpreter that has numpy and safetensors: $CORRFLOW_PYTHON, else python3; `None`
/// (the caller says loudly what it skipped) when neither has them.
pub fn python() -> Option<PathBuf> {
    let exe = std::env::var_os("CORRFLOW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let ok = Command::new(&exe)
        .args(["-c", "import numpy, safetensors.numpy"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(exe)
}

/// Writes a NumPy `.npy` file (format 1.0) byte by byte: `descr` (e.g. `<f8`), C or Fortran
/// order, `shape`, and the raw element bytes.
pub fn write_npy(path: &std::path::Path, descr: &str, fortran: bool, shape: &[usize], data: &[u8]) {
    std::fs::write(path, npy::npy_bytes(descr, fortran, shape, data)).unwrap();
}

/// Writes features `x` (n × d, row per sample, f64 little-endian) and labels `y` (i64) as
/// `.npy` files `x.npy` / `y.npy` with the given prefix in `dir`; returns their paths.
pub fn write_xy(
    dir: &std::path::Path,
    prefix: &str,
    x: &[Vec<f64>],
    y: &[i64],
) -> (PathBuf, PathBuf) {
    let (xp, yp) = (
        dir.join(format!("{prefix}x.npy")),
        dir.join(format!("{prefix}y.npy")),
    );
    let d = x.first().map_or(0, Vec::len);
    let xb: Vec<u8> = x.iter().flatten().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(&xp, "<f8", false, &[x.len(), d], &xb);
    let yb: Vec<u8> = y.iter().flat_map(|v| v.to_le_bytes()).collect();
    write_npy(&yp, "<i8", false, &[y.len()], &yb);
    (xp, yp)
}

/// `n` samples of `k` Gaussian classes in `d` dimensions (class c centred at 1.5·c on every
/// axis plus a class-specific offset on axis c mod d), deterministic from `seed`.
pub fn blobs(n: usize, k: usize, d: usize, seed: u64) -> (Vec<Vec<f64>>, Vec<i64>) {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % k;
        let row: Vec<f64> = (0..d)
            .map(|a| {
                let shift = if a == c % d { 3.0 } else { 0.0 };
                0.2 * c as f64 + shift + rng.random_range(-1.0..1.0)
            })
            .collect();
        x.push(row);
        y.push(c as i64);
    }
    (x, y)
}

/// Classes of the given sizes (`(label, count)`, in label order) in shuffled order: sample j
/// takes the label at position `step`·j mod n of the sorted labels (`step` prime to n), and
/// input i of a sample of class c is a N(0, 1) draw (StdRng seeded by `seed`) plus
/// c·(i − 2)·`separation`, so the classes differ in their means.
pub fn shuffled_classes(
    seed: u64,
    dim: usize,
    sizes: &[(u32, usize)],
    n_classes: usize,
    step: usize,
    separation: f64,
) -> corrflow::data::Dataset {
    use rand::SeedableRng;
    use rand_distr::Distribution;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let sorted: Vec<u32> = sizes
        .iter()
        .flat_map(|&(c, n)| std::iter::repeat_n(c, n))
        .collect();
    let n = sorted.len();
    let labels: Vec<u32> = (0..n).map(|j| sorted[step * j % n]).collect();
    let x = faer::Mat::from_fn(dim, n, |i, j| {
        let z: f64 = rand_distr::StandardNormal.sample(&mut rng);
        z + (labels[j] as f64) * (i as f64 - 2.0) * separation
    });
    corrflow::data::Dataset {
        x,
        labels,
        n_classes,
    }
}

/// Trains a small MNIST network (`--hidden HIDDEN`, `--epochs EPOCHS`, the first `limit`
/// training samples of `mnist`) into `model`, and returns the data arguments that go with it
/// (for the analysis of the same split).
pub fn train_small_mnist<'a>(
    model: &'a str,
    mnist: &'a str,
    hidden: &'a str,
    epochs: &'a str,
    limit: &'a str,
) -> [&'a str; 6] {
    let data = [
        "--task",
        "mnist",
        "--mnist-dir",
        mnist,
        "--train-limit",
        limit,
    ];
    let mut train = vec![
        "train", "--hidden", hidden, "--epochs", epochs, "--out", model,
    ];
    train.extend(data);
    train.push("--json");
    json(&corrflow(&train));
    data
}

/// Trains a tiny XOR network (200 training samples, `--hidden hidden`, one epoch, one thread)
/// into `model`; panics with its stderr unless it exits 0.
pub fn train_tiny_xor(model: &str, hidden: &str) {
    let out = corrflow(&[
        "--threads",
        "1",
        "train",
        "--task",
        "xor",
        "--n-train",
        "200",
        "--hidden",
        hidden,
        "--epochs",
        "1",
        "--out",
        model,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `propagate` of a tiny XOR model ([`train_tiny_xor`] with `--hidden hidden`, in a temp dir)
/// with `--threads 1 --max-memory {limit_mib}M` and `extra`: asserts that the memory estimate
/// refuses it before any output (exit 2, stdout empty) naming `flag` and the limit, and returns
/// its stderr.
pub fn refused_over_memory(hidden: &str, limit_mib: u32, extra: &[&str], flag: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, hidden);
    let limit = format!("{limit_mib}M");
    let args = [
        "--threads",
        "1",
        "--max-memory",
        &limit,
        "propagate",
        "--model",
        m,
    ];
    let out = corrflow(&[&args[..], extra].concat());
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(flag) && err.contains(&format!("memory limit of {limit_mib} MiB")),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    err
}

/// Sets the soft limit `resource` (`libc::RLIMIT_FSIZE` for `ulimit -f`, `RLIMIT_AS` for
/// `ulimit -v`) of `cmd`'s process to `bytes`.
pub fn set_rlimit(cmd: &mut Command, resource: libc::__rlimit_resource_t, bytes: u64) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe and touches only the child's limits.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: libc::RLIM_INFINITY,
            };
            if libc::setrlimit(resource, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
}

/// `corrflow train --task data` of the features `x` and labels `y` (samples 0..2 the test
/// set, one epoch) into `out`; paths need not be UTF-8.
pub fn train_data(x: &std::path::Path, y: &std::path::Path, out: &std::path::Path) -> Command {
    let mut c = command();
    c.args([
        "train",
        "--task",
        "data",
        "--test-split",
        "0:2",
        "--epochs",
        "1",
    ])
    .arg("--train-x")
    .arg(x)
    .arg("--train-y")
    .arg(y)
    .arg("--out")
    .arg(out);
    c
}

/// `cmd` (train or propagate) of task data on the `.npy` files `x`, `y` (their first 10
/// samples the test set), with `extra` flags; train writes `out`.
pub fn run_data(
    cmd: &str,
    x: &std::path::Path,
    y: &std::path::Path,
    out: &std::path::Path,
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "--threads",
        "1",
        cmd,
        "--task",
        "data",
        "--train-x",
        x.to_str().unwrap(),
        "--train-y",
        y.to_str().unwrap(),
        "--test-split",
        "0:10",
    ];
    if cmd == "train" {
        args.extend(["--epochs", "1", "--out", out.to_str().unwrap()]);
    } else {
        args.extend(["--model", out.to_str().unwrap(), "--json"]);
    }
    args.extend(extra);
    corrflow(&args)
}

/// `bytes` of a safetensors file with the metadata key `key` set to `value`.
pub fn with_metadata(bytes: &[u8], key: &str, value: &str) -> Vec<u8> {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header["__metadata__"][key] = value.into();
    let mut text = serde_json::to_vec(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    out
}
