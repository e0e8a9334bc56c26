//! adv37: the signals that end a process from outside besides SIGINT/SIGTERM/SIGHUP (SIGXCPU
//! of a CPU-time limit, SIGUSR1 of a scheduler's warning, SIGQUIT, SIGUSR2, SIGALRM,
//! SIGVTALRM) left the temporary file of a model caught mid-write (72 MB at
//! `.corrflow-tmp-…`); they now remove it before the process dies of the signal.

use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

use super::common::{command, set_rlimit};

/// `corrflow train` of a 2→3000→3000→2 network on 8 samples: little work, a 72 MB model file.
const BIG_MODEL: [&str; 12] = [
    "train",
    "--task",
    "xor",
    "--n-train",
    "8",
    "--n-test",
    "8",
    "--epochs",
    "1",
    "--hidden",
    "3000,3000",
    "--out",
];

/// Names of corrflow temporary files in `dir`.
fn temporaries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".corrflow-tmp-"))
        .collect()
}

/// Each signal is sent to a run stopped (SIGSTOP) while a temporary file of its write exists;
/// the run dies of it and leaves no temporary file. With main's binary SIGXCPU and SIGUSR1 left
/// `.corrflow-tmp-<pid>-2-m.safetensors` (checked by hand, the same catch in bash).
#[test]
fn other_terminating_signals_mid_write_leave_no_temporary_file() {
    // Not SIGQUIT: a shell starts background jobs with it ignored, which the run then keeps.
    for sig in [libc::SIGXCPU, libc::SIGUSR1, libc::SIGUSR2, libc::SIGALRM] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.safetensors");
        let mut caught = false;
        for _ in 0..40 {
            let mut cmd = command();
            cmd.args(BIG_MODEL)
                .arg(&out)
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SIGXCPU dumps core by default: no core file.
            set_rlimit(&mut cmd, libc::RLIMIT_CORE, 0);
            let mut child = cmd.spawn().unwrap();
            let pid = child.id() as libc::pid_t;
            let stopped = loop {
                if !temporaries(dir.path()).is_empty() {
                    // SAFETY: pid is our child, not yet waited for.
                    unsafe { libc::kill(pid, libc::SIGSTOP) };
                    break !temporaries(dir.path()).is_empty();
                }
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
            };
            if !stopped {
                // SAFETY: as above (a stopped child is continued; a finished one is reaped).
                unsafe { libc::kill(pid, libc::SIGCONT) };
                child.wait().unwrap();
                let _ = std::fs::remove_file(&out);
                continue;
            }
            // SAFETY: as above.
            unsafe {
                libc::kill(pid, sig);
                libc::kill(pid, libc::SIGCONT);
            }
            let status = child.wait().unwrap();
            assert_eq!(status.signal(), Some(sig), "signal {sig}: {status:?}");
            let left = temporaries(dir.path());
            assert!(left.is_empty(), "signal {sig}: {left:?}");
            caught = true;
            break;
        }
        assert!(caught, "signal {sig}: no run caught mid-write in 40");
    }
}
