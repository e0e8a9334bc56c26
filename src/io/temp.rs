//! Temporary files named after the process that writes them, `.corrflow-tmp-<pid>-<n>-<name>`,
//! so that a later run can find the debris of a killed one (its pid no longer alive) and remove
//! it. A pid reused by an unrelated live process only delays the clean-up to a later run.
//! Every temporary path is also recorded, so that the process itself removes what it left when
//! it is interrupted ([`remove_own`], called on SIGINT/SIGTERM by the binaries).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Prefix of every temporary file corrflow writes.
pub const TEMP_PREFIX: &str = ".corrflow-tmp-";

/// Longest file name the file systems corrflow writes to take (Linux's `NAME_MAX`, in bytes).
const NAME_MAX: usize = 255;

/// Every temporary path this process has handed out; most are renamed or removed by the time
/// [`remove_own`] looks, which then finds nothing there.
static OWN: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// A fresh temporary path in `dir` for a file that will be renamed to `name`. The name is
/// `.corrflow-tmp-<pid>-<n>-` followed by as much of `name` as fits in 255 bytes (`NAME_MAX`; cut
/// at a character boundary), so that any output name the file system takes has a temporary
/// twin it takes too.
pub fn temp_path(dir: &Path, name: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let head = format!("{TEMP_PREFIX}{}-{n}-", std::process::id());
    let mut keep = NAME_MAX.saturating_sub(head.len()).min(name.len());
    while !name.is_char_boundary(keep) {
        keep -= 1;
    }
    let path = dir.join(format!("{head}{}", &name[..keep]));
    OWN.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(path.clone());
    path
}

/// Removes the temporary files and folders this process created that are still there (a write
/// cut short by an interruption); returns how many were removed. Best effort, like
/// [`remove_stale`].
pub fn remove_own() -> usize {
    remove_existing(
        &OWN.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
}

/// Removes those of `paths` that exist (a folder with its contents); returns how many.
fn remove_existing(paths: &[PathBuf]) -> usize {
    paths
        .iter()
        .filter(|p| match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_dir() => std::fs::remove_dir_all(p).is_ok(),
            Ok(_) => std::fs::remove_file(p).is_ok(),
            Err(_) => false,
        })
        .count()
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

    #[test]
    fn own_temporary_files_and_folders_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let file = temp_path(dir.path(), "m.safetensors");
        std::fs::write(&file, b"half a model").unwrap();
        let folder = temp_path(dir.path(), "report");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("report.json"), b"{").unwrap();
        let renamed = temp_path(dir.path(), "done");
        let output = dir.path().join("m.safetensors");
        std::fs::write(&output, b"kept").unwrap();
        // Other tests of this process may have paths of their own in use: remove only ours.
        let ours: Vec<PathBuf> = OWN
            .lock()
            .unwrap()
            .iter()
            .filter(|p| p.starts_with(dir.path()))
            .cloned()
            .collect();
        assert_eq!(ours, [file.clone(), folder.clone(), renamed.clone()]);
        assert_eq!(remove_existing(&ours), 2);
        assert!(!file.exists() && !folder.exists() && !renamed.exists() && output.exists());
    }

    #[test]
    fn a_temporary_name_fits_in_name_max_whatever_the_output_name() {
        let dir = Path::new("/x");
        for name in [
            "m.safetensors".to_string(),
            "b".repeat(250),
            "é".repeat(127),
        ] {
            let tmp = temp_path(dir, &name);
            let tmp_name = tmp.file_name().unwrap().to_str().unwrap();
            assert!(tmp_name.len() <= NAME_MAX, "{tmp_name}");
            assert!(tmp_name.starts_with(TEMP_PREFIX));
            assert!(
                name.starts_with(tmp_name.rsplit_once('-').unwrap().1),
                "{tmp_name}"
            );
        }
    }
}
