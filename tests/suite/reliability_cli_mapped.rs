//! Input files that shrink while corrflow reads them (adv38): the readers map `.npy`, IDX and
//! model files, and a map whose file was truncated raises SIGBUS where its lost pages are read.
//! The process died of it (`Bus error`, exit 135, no word of the file); now the run ends with
//! status 2 and an error naming the file (`corrflow::io::mapped`).

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use super::common::{command, write_npy};

/// `train --task data` on a 25.6 MB `.npy` of 200 000 samples × 16 features, truncated to 1 MB
/// after the run has started (stopped with SIGSTOP, truncated, continued): each try must end
/// with status 2, never a signal; one that truncated the file after it was mapped names it as
/// shrunk (one before it maps the file is refused as too short: tried again, later). Main's
/// binary died of SIGBUS (135) at every delay from 0.02 to 0.4 s.
#[test]
fn a_training_set_truncated_mid_run_is_named_not_a_bus_error() {
    let dir = tempfile::tempdir().unwrap();
    let (n, d) = (200_000usize, 16usize);
    let x: Vec<u8> = (0..n * d)
        .flat_map(|k| (((k * 7919) % 1000) as f64 / 1000.0).to_le_bytes())
        .collect();
    let y: Vec<u8> = (0..n)
        .flat_map(|k| ((k % 3) as i64).to_le_bytes())
        .collect();
    let (xs, ys) = (dir.path().join("x.npy"), dir.path().join("y.npy"));
    write_npy(&ys, "<i8", false, &[n], &y);
    let mut caught = false;
    for delay_ms in [20u64, 40, 80, 160, 320, 640] {
        write_npy(&xs, "<f8", false, &[n, d], &x);
        let child = command()
            .current_dir(dir.path())
            .args([
                "--threads",
                "1",
                "train",
                "--task",
                "data",
                "--train-x",
                "x.npy",
            ])
            .args([
                "--train-y",
                "y.npy",
                "--test-split",
                "0:1000",
                "--hidden",
                "4",
            ])
            .args(["--epochs", "1", "--out", "m.safetensors"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        let pid = child.id() as libc::pid_t;
        // SAFETY: signals to the child this test started and has not yet waited for.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        std::fs::File::options()
            .write(true)
            .open(&xs)
            .unwrap()
            .set_len(1_000_000)
            .unwrap();
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGCONT) };
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if out.status.success() {
            continue; // finished reading before the truncation
        }
        assert_eq!(
            (out.status.code(), out.status.signal()),
            (Some(2), None),
            "{err}"
        );
        if err.contains("x.npy: the file shrank while corrflow read it") {
            caught = true;
            let debris: Vec<_> = std::fs::read_dir(dir.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .filter(|f| f.to_string_lossy().contains("corrflow-tmp") || f == "m.safetensors")
                .collect();
            assert!(debris.is_empty(), "{debris:?}");
            break;
        }
        assert!(err.contains("x.npy"), "{err}");
    }
    assert!(caught, "no try truncated the file while it was mapped");
}
