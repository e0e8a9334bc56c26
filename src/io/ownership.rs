//! Permissions that keep this user from replacing an existing output, read before the work: a
//! file or folder owned by another user in a folder with the sticky bit (like `/tmp`), which
//! only its owner may rename over or away, a file this user may not write (mode 444), which
//! rename(2) would replace all the same, and a previous report folder this user cannot write,
//! whose old files could not be removed after the new report is swapped in.

use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::output::parent_of;
use crate::error::{Error, Result};

/// `CAP_FOWNER` of linux/capability.h: lifts the sticky bit's owner rule.
const CAP_FOWNER: u32 = 3;

/// Refuses `path`, an existing file or folder that an output replaces, when the sticky-bit rule
/// of rename(2) forbids it: its folder has the sticky bit, and this process's effective user
/// owns neither `path` nor the folder, nor holds `CAP_FOWNER`; and a regular file this user may
/// not write (`access(2)`: mode 444, or another user's), which rename(2) would replace all the
/// same, needing only the folder's permission (adv26: a mode-444 model was replaced and left
/// writable; cp, shells' `>` and editors refuse it; root passes, as it passes theirs). Anything
/// that cannot be read passes, the write then reporting its own error.
pub fn check_owner_may_replace(path: &Path) -> Result<()> {
    let (Ok(entry), Ok(folder)) = (
        std::fs::symlink_metadata(path),
        std::fs::metadata(parent_of(path)),
    ) else {
        return Ok(());
    };
    let sticky = folder.mode() & libc::S_ISVTX != 0;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if sticky && me != entry.uid() && me != folder.uid() && !holds_fowner() {
        return Err(Error::format(
            path,
            format!(
                "exists and belongs to user {} in a folder with the sticky bit (like /tmp), where \
                 only its owner may replace it; remove it as that user or choose another path",
                entry.uid()
            ),
        ));
    }
    let read_only = entry.file_type().is_file()
        && denied(path, libc::W_OK).is_some_and(|e| e.raw_os_error() == Some(libc::EACCES));
    if read_only {
        return Err(Error::format(
            path,
            format!(
                "exists and is read-only for this user (mode {:o}, owner user {}); corrflow \
                 replaces only a file this user may write: make it writable (chmod u+w) or \
                 choose another path",
                entry.mode() & 0o7777,
                entry.uid()
            ),
        ));
    }
    Ok(())
}

/// Refuses `dir`, an existing folder that a report or plots replace, when this process may not
/// remove its entries (no write and search permission on it, `access(2)` with the effective
/// user): the new folder would be swapped in and the old one left behind under a temporary name.
pub fn check_folder_writable(dir: &Path) -> Result<()> {
    match denied(dir, libc::W_OK | libc::X_OK) {
        None => Ok(()),
        Some(e) => Err(Error::format(
            dir,
            format!(
                "exists and its old files cannot be removed by this user ({e}); choose another path"
            ),
        )),
    }
}

/// The error of `access(2)` for `mode` on `path` with the effective user; `None` where it is
/// allowed or the path cannot be named.
fn denied(path: &Path, mode: libc::c_int) -> Option<std::io::Error> {
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; faccessat only reads it.
    let rc = unsafe { libc::faccessat(libc::AT_FDCWD, name.as_ptr(), mode, libc::AT_EACCESS) };
    (rc != 0).then(std::io::Error::last_os_error)
}

/// Whether the effective capabilities (`CapEff` of /proc/self/status) hold `CAP_FOWNER`;
/// without that file, whether the effective user is root.
fn holds_fowner() -> bool {
    let effective = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        });
    match effective {
        Some(caps) => caps >> CAP_FOWNER & 1 == 1,
        // SAFETY: geteuid has no preconditions and cannot fail.
        None => (unsafe { libc::geteuid() }) == 0,
    }
}
