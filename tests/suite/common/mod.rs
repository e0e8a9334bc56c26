//! Helpers shared by the tests: run the built `corrflow`, read its JSON, find MNIST;
//! [`sweep`] holds the sweep tests' grid and record helpers, [`closures`] the closure tests'
//! random Gaussian cases and Monte Carlo, [`slurm_cluster`] a one-node Slurm.

pub mod closures;
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
