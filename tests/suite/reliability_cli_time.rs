//! adv37: a long training is announced before it starts, on stderr through the run's notes
//! (`Timings::note`), where adv36 found `train --epochs 1000000` running about an hour without
//! a word.

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use super::common::command;

/// Starts corrflow with `args` and returns its first stderr line that starts with "warning:"
/// within 20 s (None when none came), then kills it.
fn first_warning(args: &[&str]) -> Option<String> {
    let mut child = command()
        .args(args)
        .env_remove("MNIST_DIR")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("warning:") {
                let _ = tx.send(line);
                return;
            }
        }
    });
    let warning = rx.recv_timeout(Duration::from_secs(20)).ok();
    let _ = child.kill();
    let _ = child.wait();
    warning
}

/// `train` and `analyze` (which trains without `--model`) of XOR's [2, 8, 8, 2] for 10⁶
/// epochs warn before the training, naming the time and `--epochs`; the killed `train` leaves
/// no model file. Main's binary gave no line in 20 s (checked).
#[test]
fn a_long_training_is_announced_before_it_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let common = ["--task", "xor", "--hidden", "8,8", "--epochs", "1000000"];
    let train: Vec<&str> = ["--threads", "1", "train", "--out", out.to_str().unwrap()]
        .into_iter()
        .chain(common)
        .collect();
    let analyze: Vec<&str> = ["--threads", "1", "analyze", "--json"]
        .into_iter()
        .chain(common)
        .collect();
    for args in [train, analyze] {
        let w = first_warning(&args).unwrap_or_else(|| panic!("no warning: {args:?}"));
        assert!(
            w.contains("training [2, 8, 8, 2] for 1000000 epochs")
                && w.contains("--epochs")
                && w.contains(" min on 1 thread(s)"),
            "{w}"
        );
    }
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// An unknown `CORRFLOW_ISA` is said once, by the command line at the start, whatever the
/// command: the library printed it at the first SIMD kernel, mid-run, so `train` (which runs
/// none) said nothing, and a non-UTF-8 value read as unset (main's binary: no line for either,
/// checked).
#[test]
fn an_unknown_instruction_set_is_said_once_at_the_start() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    for value in [&b"bogus"[..], &b"\xff"[..]] {
        let run = command()
            .args(["--threads", "1", "train", "--task", "xor", "--epochs", "1"])
            .arg("--out")
            .arg(&out)
            .env("CORRFLOW_ISA", std::ffi::OsStr::from_bytes(value))
            .env_remove("MNIST_DIR")
            .output()
            .unwrap();
        assert!(run.status.success());
        let err = String::from_utf8_lossy(&run.stderr);
        assert_eq!(err.matches("CORRFLOW_ISA=").count(), 1, "{err}");
        assert!(err.contains("is not an instruction set"), "{err}");
    }
}
