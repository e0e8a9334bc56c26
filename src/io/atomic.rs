//! Writing a file atomically: a temporary file in the same folder, then a rename.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::output::{check_output_file, parent_of};
use super::temp::{create_temp, remove_stale};
use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder ([`create_temp`]: a
/// later run removes it if this one is killed) and a rename, so a reader never sees a partial
/// file. `path` must be absent or a regular file ([`check_output_file`]): a device, FIFO,
/// symlink or folder there is refused, not replaced. A failed write is an error naming `path`:
/// the temporary name was never the user's, and it is gone once the error is seen (adv50: a
/// full disk was `DIR/.corrflow-tmp-<pid>-2-m.safetensors: No space left on device`).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    check_output_file(path)?;
    let dir = parent_of(path);
    remove_stale(&dir);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let (tmp, file) = create_temp(&dir, &name, create_new);
    let written = file
        .and_then(|file| write_synced(file, bytes))
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Error::io(path, e));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Creates the file `tmp` (rw-r--r--), failing if anything is there.
fn create_new(tmp: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(tmp)
}

/// Writes `bytes` to `file` and syncs them.
fn write_synced(mut file: File, bytes: &[u8]) -> std::io::Result<()> {
    file.write_all(bytes)?;
    file.sync_all()
}
