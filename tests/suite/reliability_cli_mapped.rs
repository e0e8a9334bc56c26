//! Input files that shrink while corrflow reads them (adv38): the readers map `.npy`, IDX and
//! model files, and a map whose file was truncated raises SIGBUS where its lost pages are read.
//! The process died of it (`Bus error`, exit 135, no word of the file); now the run ends with
//! status 2 and an error naming the file (`corrflow::io::mapped`).
//!
//! Each try truncates the file at a known point of the run, not after a delay (adv38's tries
//! at 20–640 ms could all miss on a loaded machine): the test reads the child's
//! `/proc/PID/maps` until the file is mapped, stops the child (SIGSTOP, then its state read back
//! as stopped), checks the map is still there, truncates and continues it. Loaded or not, the
//! child is then stopped between mapping the file and dropping the map; the loaders read every
//! element of the file in that span, so the run touches a lost page after the truncation (a
//! try whose map was gone, or whose reads had all finished, by the stop is tried again).

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::common::{command, write_npy};

/// Features of `n` samples × 16 (values k·7919 mod 1000 / 1000) and labels k mod 3, written as
/// `x.npy` and `y.npy` in `dir`; the features' bytes are returned to restore the file.
fn write_data(dir: &Path, n: usize) -> Vec<u8> {
    let x: Vec<u8> = (0..n * 16)
        .flat_map(|k| (((k * 7919) % 1000) as f64 / 1000.0).to_le_bytes())
        .collect();
    let y: Vec<u8> = (0..n)
        .flat_map(|k| ((k % 3) as i64).to_le_bytes())
        .collect();
    write_npy(&dir.join("y.npy"), "<i8", false, &[n], &y);
    x
}

/// The maps of `file_name` the process `pid` holds (0 once it has exited).
fn maps_of(pid: u32, file_name: &str) -> usize {
    std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .map(|m| m.lines().filter(|l| l.ends_with(file_name)).count())
        .unwrap_or(0)
}

/// Waits until `child` holds at least `at_least` maps of `file` (`…/x.npy`), stops it there,
/// truncates `file` to 1 MB and continues it; `false` when the child exited first or its maps
/// were gone by the time it stopped (continued, the file untouched).
fn truncate_once_mapped(child: &Child, file: &Path, at_least: usize) -> bool {
    let pid = child.id();
    let name = format!("/{}", file.file_name().unwrap().to_str().unwrap());
    while maps_of(pid, &name) < at_least {
        if child_exited(pid) {
            return false;
        }
        std::thread::yield_now();
    }
    // SAFETY: signals to the child this test started and has not yet waited for.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGSTOP) };
    while !stopped(pid) {
        if child_exited(pid) {
            return false;
        }
        std::thread::yield_now();
    }
    let held = maps_of(pid, &name) >= at_least;
    if held {
        std::fs::File::options()
            .write(true)
            .open(file)
            .unwrap()
            .set_len(1_000_000)
            .unwrap();
    }
    // SAFETY: as above.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGCONT) };
    held
}

/// The state letter of `/proc/PID/stat` (after the command's closing parenthesis).
fn state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// True when the process is stopped (every thread: the main thread's state follows the group).
fn stopped(pid: u32) -> bool {
    state(pid) == Some('T')
}

/// True when the process has exited (a zombie not yet waited for, or gone).
fn child_exited(pid: u32) -> bool {
    matches!(state(pid), None | Some('Z'))
}

/// Runs `cmd` until one try truncates `x.npy` while at least `at_least` maps of it are held
/// (at most 30 tries, the file rewritten from `x` before each); that try must end with status
/// 2, never a signal, saying once that `x.npy` shrank, and leave no model or temporary file in
/// `dir` or `dir/sw`. Returns its stderr.
///
/// The child runs at the lowest priority (nice 19), so on a loaded machine the test's polling
/// of its maps is scheduled before the child's reads: CI (forty-ninth session) once saw all
/// ten tries of the training set miss the window at normal priority.
fn truncated_run(
    dir: &Path,
    x: &[u8],
    at_least: usize,
    mut cmd: impl FnMut() -> Command,
) -> String {
    let xs = dir.join("x.npy");
    for _ in 0..30 {
        // A try that missed the window may have run to the end: its model or sweep folder is
        // not the next try's debris (CI saw a missed try's `m.safetensors` counted so).
        let _ = std::fs::remove_dir_all(dir.join("sw"));
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "safetensors") {
                std::fs::remove_file(path).unwrap();
            }
        }
        write_npy(&xs, "<f8", false, &[x.len() / 128, 16], x);
        let mut cmd = cmd();
        // SAFETY: `setpriority` is async-signal-safe and touches only the forked child.
        unsafe {
            cmd.pre_exec(|| {
                libc::setpriority(libc::PRIO_PROCESS, 0, 19);
                Ok(())
            });
        }
        let child = cmd
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let truncated = truncate_once_mapped(&child, &xs, at_least);
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let shrank = err
            .matches("x.npy: the file shrank while corrflow read it")
            .count();
        let missed =
            shrank == 0 && out.status.code() == Some(2) && err.contains("x.npy: data truncated");
        if !truncated || missed {
            // Never held the maps, or dropped them, before it stopped; or (a loaded machine:
            // CI, forty-eighth session) every mapping read its data before the cut and only
            // later opens saw the shorter file, refused as truncated (exit 2, no signal): no
            // read fell in the window.
            continue;
        }
        assert_eq!(
            (out.status.code(), out.status.signal()),
            (Some(2), None),
            "{err}"
        );
        assert_eq!(shrank, 1, "{err}");
        let debris: Vec<_> = [dir.to_path_buf(), dir.join("sw")]
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .map(|e| e.unwrap().file_name())
            .filter(|f| {
                let f = f.to_string_lossy();
                f.contains("corrflow-tmp") || f.ends_with(".safetensors")
            })
            .collect();
        assert!(debris.is_empty(), "{debris:?}");
        return err;
    }
    panic!("no try held the map when it stopped");
}

/// `train --task data` on a 25.6 MB `.npy` of 200 000 samples × 16 features, truncated to 1 MB
/// once it is mapped: exit 2 naming `x.npy`, no model or temporary file. Main's binary died of
/// SIGBUS (135; adv38: at every delay from 0.02 to 0.4 s).
#[test]
fn a_training_set_truncated_mid_run_is_named_not_a_bus_error() {
    let dir = tempfile::tempdir().unwrap();
    let x = write_data(dir.path(), 200_000);
    truncated_run(dir.path(), &x, 1, || {
        let mut c = command();
        c.args(["--threads", "1", "train", "--task", "data"])
            .args(["--train-x", "x.npy", "--train-y", "y.npy"])
            .args(["--test-split", "0:1000", "--hidden", "4", "--epochs", "1"])
            .args(["--out", "m.safetensors"]);
        c
    });
}

/// A sweep of 100 points at once on one 3.2 MB `.npy`, each point's training and test set,
/// holds far more than 64 maps of it (182 and 196 seen; adv38's registry named the first 64
/// only), truncated once 70 are held: exit 2 and the file named once. Main's binary died of SIGBUS (135); adv38's registry would have
/// too (a fault past its 64 slots), and before adv39 every faulting thread printed the line
/// (60 copies, the first two interleaved).
#[test]
fn a_file_mapped_by_a_hundred_sweep_points_is_named_once_not_a_bus_error() {
    let dir = tempfile::tempdir().unwrap();
    let x = write_data(dir.path(), 25_000);
    let seeds: Vec<String> = (0..100).map(|s| s.to_string()).collect();
    std::fs::write(
        dir.path().join("g.toml"),
        format!(
            "task = \"data\"\ntrain_x = \"x.npy\"\ntrain_y = \"y.npy\"\ntest_x = \"x.npy\"\n\
             test_y = \"y.npy\"\nhidden = [[4]]\nepochs = 1\nseed = [{}]\n",
            seeds.join(", ")
        ),
    )
    .unwrap();
    truncated_run(dir.path(), &x, 70, || {
        let mut c = command();
        c.args([
            "--threads",
            "1",
            "sweep",
            "--grid",
            "g.toml",
            "--jobs",
            "100",
        ])
        .args(["--out", "sw"]);
        c
    });
}
