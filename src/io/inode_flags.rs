//! The inode attributes (`chattr`) that make an existing output impossible to replace: an
//! immutable or append-only file or folder cannot be renamed over or away, so a run would do
//! its work and then fail at the write. Read once, before the work.

use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// `FS_IMMUTABLE_FL` of linux/fs.h (`chattr +i`): no rename, unlink or write.
const IMMUTABLE: libc::c_int = 0x0000_0010;
/// `FS_APPEND_FL` of linux/fs.h (`chattr +a`): writes only append; no rename or unlink.
const APPEND_ONLY: libc::c_int = 0x0000_0020;

/// Refuses `path`, an existing file or folder that an output replaces, when it is immutable or
/// append-only (`lsattr` shows `i` or `a`). Anything else passes, the write then reporting its
/// own error: a file system without these attributes (the ioctl `FS_IOC_GETFLAGS` fails), a
/// path that cannot be opened, and anything but a regular file or a folder (a FIFO, a device or
/// a symlink is not opened: opening a FIFO waits for a writer).
pub fn check_replaceable(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_file() || m.is_dir() => {}
        _ => return Ok(()),
    }
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path);
    let Ok(file) = opened else {
        return Ok(());
    };
    let mut flags: libc::c_int = 0;
    // SAFETY: a valid open descriptor and a writable int, the kernel's size for these flags.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    let what = if rc != 0 {
        return Ok(());
    } else if flags & IMMUTABLE != 0 {
        "immutable (chattr +i)"
    } else if flags & APPEND_ONLY != 0 {
        "append-only (chattr +a)"
    } else {
        return Ok(());
    };
    Err(Error::format(
        path,
        format!(
            "exists and is {what}, so it cannot be replaced; remove the attribute (chattr -i / \
             -a) or choose another path"
        ),
    ))
}
