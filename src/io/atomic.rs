//! Writing a file atomically: a temporary file in the same folder, then a rename.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;

use super::output::{check_output_file, parent_of};
use super::temp::{remove_stale, temp_path};
use crate::error::{Error, Result};

/// Writes `bytes` to `path` through a temporary file in the same folder ([`temp_path`]: a
/// later run removes it if this one is killed) and a rename, so a reader never sees a partial
/// file. `path` must be absent or a regular file ([`check_output_file`]): a device, FIFO,
/// symlink or folder there is refused, not replaced.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    check_output_file(path)?;
    let dir = parent_of(path);
    remove_stale(&dir);
    let name = path
        .file_name()
        .map_or_else(|| "out".into(), |n| n.to_string_lossy().into_owned());
    let tmp = temp_path(&dir, &name);
    let written = write_new(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Creates `tmp` (rw-r--r--), writes `bytes` and syncs them.
fn write_new(tmp: &Path, bytes: &[u8]) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(tmp)
        .map_err(|e| Error::io(tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(tmp, e))?;
    file.sync_all().map_err(|e| Error::io(tmp, e))
}
