//! Opening input files so that a FIFO, directory or device is refused at once instead of
//! blocking forever (a FIFO without a writer blocks `open(2)` for reading) or reading without
//! end (`/dev/zero`).
//!
//! The file is opened with `O_NONBLOCK` (so opening a FIFO returns at once), `fstat`ed on the
//! open descriptor (no race between the check and the use), refused unless it is a regular file,
//! and then `O_NONBLOCK` is cleared again for ordinary blocking reads.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::Path;

use memmap2::Mmap;

use super::mapped::Mapped;

use crate::{Error, Result};

/// Opens `path` for reading, refusing anything that is not a regular file with
/// "`<path>`: not a regular file (a FIFO)" (or a directory, a character device, …).
///
/// Errors: [`Error::Io`] naming `path` when it cannot be opened (missing, permission denied) and
/// [`Error::Format`] naming `path` when it is not a regular file, or is one whose size is not
/// known: it reports 0 bytes but yields bytes when read (a /proc file).
pub fn open_regular(path: &Path) -> Result<File> {
    let file = open_checked(path, OpenOptions::new().read(true))?;
    check_size_known(path, &file)?;
    Ok(file)
}

/// Refuses a regular file that reports 0 bytes yet yields bytes when read (one byte at offset
/// 0, without moving the file's position): a pseudo-file of /proc or /sys, whose content is
/// made as it is read, so that its size is not known beforehand. Such a file can be neither
/// mapped nor bounded by its size; it read as an empty file ("0 bytes") until the twentieth
/// session. A truly empty file passes, for its reader to name as empty.
fn check_size_known(path: &Path, file: &File) -> Result<()> {
    if file.metadata().map_err(|e| Error::io(path, e))?.len() != 0 {
        return Ok(());
    }
    match file.read_at(&mut [0u8; 1], 0) {
        Ok(0) => Ok(()),
        Ok(_) => Err(Error::format(
            path,
            "a special file (as under /proc or /sys) whose size is not known: it reports 0 \
             bytes but has content, which corrflow cannot map or bound; copy it to a regular \
             file",
        )),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Opens (creating it if missing) the file `path` for appending, refusing at once anything that
/// is not a regular file, like [`open_regular`].
pub fn open_regular_append(path: &Path) -> Result<File> {
    open_checked(path, OpenOptions::new().create(true).append(true))
}

/// Opens `path` with `options` plus `O_NONBLOCK`, refuses what is not a regular file (also when
/// the open itself fails because of it, as opening a FIFO for writing without a reader does) and
/// clears `O_NONBLOCK`.
fn open_checked(path: &Path, options: &mut OpenOptions) -> Result<File> {
    let file = options
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => not_regular(path, &m.file_type()),
            _ => Error::io(path, e),
        })?;
    let kind = file.metadata().map_err(|e| Error::io(path, e))?.file_type();
    if !kind.is_file() {
        return Err(not_regular(path, &kind));
    }
    clear_nonblocking(&file).map_err(|e| Error::io(path, e))?;
    Ok(file)
}

/// The whole content of the regular file `path`, refused (before anything is read) when its
/// length exceeds `max_bytes`; `what` names the content in that error (e.g. "grid file").
pub fn read_regular(path: &Path, max_bytes: u64, what: &str) -> Result<Vec<u8>> {
    let file = open_regular(path)?;
    let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
    if len > max_bytes {
        return Err(Error::format(
            path,
            format!("{what} of {len} bytes is larger than the limit of {max_bytes} bytes"),
        ));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    // `take` bounds the read even if the file grows while it is read.
    file.take(max_bytes)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    Ok(bytes)
}

/// [`read_regular`] as UTF-8 text; invalid UTF-8 is an [`Error::Format`] naming `path`.
pub fn read_regular_to_string(path: &Path, max_bytes: u64, what: &str) -> Result<String> {
    String::from_utf8(read_regular(path, max_bytes, what)?)
        .map_err(|e| Error::format(path, format!("{what} is not UTF-8 text: {e}")))
}

/// Maps `file`, the regular file opened from `path` ([`open_regular`]), into memory read-only,
/// for the readers of models, IDX and array files. A failure names `path`; where the file system
/// cannot map files (ENODEV: a /sys attribute) it says the file is a special file.
///
/// The map is registered for as long as it lives ([`Mapped`]): a file that shrinks while it is
/// read is said, naming `path`, instead of killing the process with SIGBUS.
pub fn map_regular(path: &Path, file: &File) -> Result<Mapped> {
    // SAFETY: a read-only map of a regular file; a file changed in place while it is mapped is
    // outside what corrflow supports (the readers copy out and validate what they use; one
    // that shrinks is said and the run ends, `super::mapped`).
    let map = unsafe { Mmap::map(file) }.map_err(|e| map_failed(path, e))?;
    Ok(Mapped::new(map, path))
}

/// The error of mapping the regular file `path` into memory: `ENODEV` (the file system does not
/// map files: a /sys attribute, which reports a size of one page) says what the file is; other
/// errors as [`Error::io`]. It said only "No such device (os error 19)" until the twentieth
/// session.
fn map_failed(path: &Path, e: std::io::Error) -> Error {
    if e.raw_os_error() == Some(libc::ENODEV) {
        return Error::format(
            path,
            "a special file (as under /proc or /sys) that cannot be mapped into memory; copy it \
             to a regular file",
        );
    }
    Error::io(path, e)
}

/// "is a directory, not a regular file", "not a regular file (a FIFO)" and the like.
fn not_regular(path: &Path, kind: &std::fs::FileType) -> Error {
    if kind.is_dir() {
        return Error::format(path, "is a directory, not a regular file");
    }
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "not a file"
    };
    Error::format(path, format!("not a regular file ({what})"))
}

/// Clears `O_NONBLOCK` on `file` (set only so that the open itself could not block).
fn clear_nonblocking(file: &File) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor owned by `file`, which outlives both calls.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above; only the O_NONBLOCK bit changes.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_is_named_as_one_and_a_size_over_the_limit_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let err = open_regular(dir.path()).unwrap_err().to_string();
        assert!(err.contains("is a directory"), "{err}");
        let f = dir.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_regular(&f, 5, "test file").unwrap(), b"12345");
        let err = read_regular(&f, 4, "test file").unwrap_err().to_string();
        assert!(err.contains("larger than the limit"), "{err}");
    }

    /// A /proc file reports 0 bytes but has content: refused naming it, where it read as
    /// empty; a truly empty file still opens (its reader names it as empty).
    #[test]
    fn a_file_whose_size_is_not_known_is_named_as_such() {
        for proc_file in ["/proc/self/status", "/proc/cpuinfo"] {
            let path = Path::new(proc_file);
            let err = open_regular(path).unwrap_err().to_string();
            assert!(
                err.contains(proc_file) && err.contains("whose size is not known"),
                "{err}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, b"").unwrap();
        assert!(read_regular(&empty, 4, "test file").unwrap().is_empty());
    }
}
