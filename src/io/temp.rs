//! Temporary files named after the process that writes them, `.corrflow-tmp-<pid>-<n>-<name>`,
//! so that a later run can find the debris of a killed one (its pid no longer alive) and remove
//! it. A pid reused by an unrelated live process only delays the clean-up to a later run.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of every temporary file corrflow writes.
pub const TEMP_PREFIX: &str = ".corrflow-tmp-";

/// A fresh temporary path in `dir` for a file that will be renamed to `name`.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    dir.join(format!("{TEMP_PREFIX}{}-{n}-{name}", std::process::id()))
}

/// Removes the temporary files and folders in `dir` left by processes that are no longer alive;
/// returns how many were removed. Best effort: entries that cannot be read or removed are left
/// alone.
pub fn remove_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            owner_pid(&name.to_string_lossy()).is_some_and(|pid| !is_alive(pid))
        })
        .filter(|e| {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path).is_ok(),
                _ => std::fs::remove_file(&path).is_ok(),
            }
        })
        .count()
}

/// The pid in a temporary file name `.corrflow-tmp-<pid>-…`, or `None` for other names.
fn owner_pid(name: &str) -> Option<i32> {
    let rest = name.strip_prefix(TEMP_PREFIX)?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok().filter(|&p| p > 0)
}

/// True when a process `pid` exists (`kill(pid, 0)` succeeds or is refused for permission).
fn is_alive(pid: i32) -> bool {
    // SAFETY: signal 0 sends nothing; it only checks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debris_of_a_dead_process_is_removed_and_live_ones_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mine = temp_path(dir.path(), "x.idx");
        std::fs::write(&mine, b"live").unwrap();
        // A child that has exited and been reaped: its pid is free.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let stale = dir.path().join(format!("{TEMP_PREFIX}{dead}-0-x.idx"));
        std::fs::write(&stale, b"debris").unwrap();
        let other = dir.path().join("x.idx");
        std::fs::write(&other, b"kept").unwrap();
        assert_eq!(remove_stale(dir.path()), 1);
        assert!(mine.exists() && other.exists() && !stale.exists());
    }
}
