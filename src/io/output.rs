//! Output paths that never clobber what is not corrflow's: a file output replaces only a
//! regular file, a folder output only a folder of its own files, and both are checked before
//! long work starts, so a run does not train for an hour and then fail to write.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use super::inode_flags::check_replaceable;
use super::ownership::{check_folder_writable, check_owner_may_replace};
use super::temp::{create_temp, displace, remove_stale};
use crate::error::{Error, Result};

/// The folder a file output is written in (`.` for a bare file name).
pub fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Checks that `path` may be written as a file: it does not end in `/`, it does not exist or is
/// a regular file (not a symlink, device, FIFO or folder) that may be replaced (not immutable or
/// append-only, not another user's in a sticky folder), and its folder exists and takes a new file (tried with a temporary file,
/// removed at once).
pub fn check_output_file(path: &Path) -> Result<()> {
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        // Its folder would be checked as the path's parent, and the write fail after the work.
        return Err(Error::format(
            path,
            "ends in '/', which names a folder: expected the path of a file",
        ));
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_file() => {
            return Err(Error::format(
                path,
                format!(
                    "exists and is {}; corrflow replaces only regular files: choose another path",
                    describe(&meta.file_type())
                ),
            ))
        }
        Err(e) => unusable(path, e)?,
        Ok(_) => {
            check_replaceable(path)?;
            check_owner_may_replace(path)?;
        }
    }
    check_writable(&parent_of(path))
}

/// Refuses the output file `out` when it is one of the run's `inputs` (each with what it is,
/// for the message): the same file by device and inode, whatever path names it (`./x.npy`, a
/// hard link). An output that does not exist yet, or an input that does not, is no match.
/// Written after the work, such an output replaced the data the run had read (adv27: `train
/// --out x.npy` of its own `--train-x x.npy`; `sweep export DIR --csv DIR/results.jsonl`).
pub fn check_not_an_input<'a>(
    out: &Path,
    inputs: impl IntoIterator<Item = (&'a Path, &'a str)>,
) -> Result<()> {
    match named_by(out, inputs, Path::to_path_buf) {
        Some((input, what)) => Err(Error::format(
            out,
            format!(
                "is {what}, {}, which this run reads; an output never replaces an input: \
                 choose another path",
                input.display()
            ),
        )),
        None => Ok(()),
    }
}

/// Refuses the folder output `dir` when one of `files` (each with what it is, for the message)
/// lies in it: the folder is replaced as a whole ([`write_dir_atomically`]), so a file there is
/// deleted. "In it" is by device and inode of the file's folder, whatever path names either
/// (`./R`, a symbolic link to `R`); the file itself need not exist yet (an output written
/// before the folder). A `dir` that does not exist holds nothing. adv64: `analyze --model
/// R/report.json --report R` replaced the model it read by the report's JSON, `analyze --out
/// R/report.json --report R` lost the model it had just written (both exit 0), and `--out
/// R/m.safetensors` trained, wrote the model, then refused the folder that now held it.
pub fn check_folder_spares<'a>(
    dir: &Path,
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
) -> Result<()> {
    match named_by(dir, files, parent_of) {
        Some((file, what)) => Err(Error::format(
            dir,
            format!(
                "holds {what}, {}; a report replaces the whole folder, which would delete it: \
                 choose another folder for --report",
                file.display()
            ),
        )),
        None => Ok(()),
    }
}

/// The first of `files` whose `entry` (the file itself, or its folder) is `target`, by device
/// and inode; none when `target` does not exist, nor for an entry that does not.
fn named_by<'a>(
    target: &Path,
    files: impl IntoIterator<Item = (&'a Path, &'a str)>,
    entry: impl Fn(&Path) -> PathBuf,
) -> Option<(&'a Path, &'a str)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(target).ok()?;
    let same = |m: std::fs::Metadata| m.dev() == meta.dev() && m.ino() == meta.ino();
    files
        .into_iter()
        .find(|(f, _)| std::fs::metadata(entry(f)).is_ok_and(same))
}

/// The refusal of an output `path` whose look-up failed with `e` for another reason than its
/// absence (a name longer than the file system takes, a parent that is a file, no permission),
/// found before the work rather than at the write; `Ok` when it is simply absent.
fn unusable(path: &Path, e: std::io::Error) -> Result<()> {
    if e.kind() == std::io::ErrorKind::NotFound {
        return Ok(());
    }
    Err(Error::format(
        path,
        format!("cannot be written ({e}); choose another path"),
    ))
}

/// Checks that `dir` may be written as a report folder: it does not exist, or it is a folder
/// (not a symlink) holding nothing but files named in `own` (a previous report), none of them
/// immutable or append-only, that this user may replace (not another user's in a sticky folder)
/// and whose entries this user may remove (write permission on it); its parent folder takes
/// new entries.
pub fn check_output_dir(dir: &Path, own: &[String]) -> Result<()> {
    check_folder_name(dir)?;
    match std::fs::symlink_metadata(dir) {
        Err(e) => unusable(dir, e)?,
        Ok(meta) if !meta.file_type().is_dir() => {
            return Err(not_a_folder(
                dir,
                &meta.file_type(),
                "a report is written as a folder",
            ))
        }
        Ok(_) => {
            check_replaceable(dir)?;
            check_owner_may_replace(dir)?;
            check_folder_writable(dir)?;
            let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(dir, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                check_replaceable(&entry.path())?;
                if !own.contains(&name) {
                    return Err(Error::format(
                        dir,
                        format!(
                            "holds {name}, which is not part of a report (or of a sweep's \
                             plots); corrflow replaces only a folder of its own files: choose \
                             an empty or new folder"
                        ),
                    ));
                }
            }
        }
    }
    check_writable(&parent_of(dir))
}

/// Refuses a folder output `dir` that a rename cannot put in place, found before the work
/// rather than at the swap (adv27): a path whose last name is `.` or `..` (rename(2) says
/// "Device or resource busy" or "Directory not empty"), and a symbolic link named with a
/// trailing `/` (the look-up follows it to its folder; rename(2) then says "Not a directory").
fn check_folder_name(dir: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = dir.as_os_str().as_bytes();
    let trimmed = match bytes.iter().rposition(|&b| b != b'/') {
        Some(end) => &bytes[..=end],
        None => return Ok(()),
    };
    let last = trimmed.rsplit(|&b| b == b'/').next().unwrap_or(trimmed);
    if last == b"." || last == b".." {
        return Err(Error::format(
            dir,
            format!(
                "ends in '{}', which a rename cannot replace; expected a path that ends in the \
                 folder's own name (e.g. ../reports rather than .)",
                String::from_utf8_lossy(last)
            ),
        ));
    }
    if trimmed.len() < bytes.len() {
        let bare = Path::new(std::ffi::OsStr::from_bytes(trimmed));
        if let Ok(meta) = std::fs::symlink_metadata(bare) {
            if meta.file_type().is_symlink() {
                return Err(not_a_folder(
                    dir,
                    &meta.file_type(),
                    "a report is written as a folder",
                ));
            }
        }
    }
    Ok(())
}

/// The refusal of `dir`, an existing entry of type `t` that is not a folder, where a folder is
/// written (`purpose` says what goes there): what it is, and to choose another path.
pub fn not_a_folder(dir: &Path, t: &std::fs::FileType, purpose: &str) -> Error {
    Error::format(
        dir,
        format!(
            "exists and is {}; {purpose}: choose another path",
            describe(t)
        ),
    )
}

/// Writes `files` (name, content) as the folder `dir`, as one set: into a temporary folder
/// beside it, then swapped in by renames, so a reader (or a killed run) never sees new files
/// beside old ones. `dir` is checked with [`check_output_dir`] first. A failed write names the
/// file as it would have stood in `dir`, not in the temporary folder, which is removed (adv50:
/// `DIR/.corrflow-tmp-<pid>-2-rep/heatmap.png: No space left on device`).
pub fn write_dir_atomically(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    let own: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    check_output_dir(dir, &own)?;
    let parent = parent_of(dir);
    remove_stale(&parent);
    let name = dir
        .file_name()
        .map_or_else(|| "report".into(), |n| n.to_string_lossy().into_owned());
    let (fresh, made) = create_temp(&parent, &name, |p| std::fs::create_dir(p));
    let written = made
        .map_err(|e| Error::io(dir, e))
        .and_then(|()| write_into(&fresh, dir, files))
        .and_then(|()| swap_in(&fresh, dir, &parent, &name));
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&fresh);
    }
    written
}

/// Writes every file into the folder `fresh`; an error names the file in `dir`, where it was
/// to stand.
fn write_into(fresh: &Path, dir: &Path, files: &[(String, Vec<u8>)]) -> Result<()> {
    for (name, bytes) in files {
        std::fs::write(fresh.join(name), bytes).map_err(|e| Error::io(dir.join(name), e))?;
    }
    Ok(())
}

/// Puts the finished folder `fresh` at `dir`: a plain rename when `dir` does not exist, else
/// one exchange of the two folders (`renameat2` with `RENAME_EXCHANGE`), after which the old
/// one, at the recorded temporary path `fresh`, is removed: at every moment `dir` is the old
/// folder or the new one, whatever signal comes, SIGKILL included (adv27: between the two
/// renames of the fallback a SIGKILL left no folder at `dir`, and the next run in the parent
/// folder removed the old report as debris). On a file system without the exchange the old
/// folder is first moved aside to a temporary name ([`displace`]): an interruption in between
/// puts it back, a SIGKILL leaves it there. A rename that finds `dir` gone, or back, lost a
/// race with another run writing the same folder: said so.
fn swap_in(fresh: &Path, dir: &Path, parent: &Path, name: &str) -> Result<()> {
    if std::fs::symlink_metadata(dir).is_err() {
        return std::fs::rename(fresh, dir).map_err(|e| raced(dir, e));
    }
    match exchange(fresh, dir) {
        Ok(()) => return std::fs::remove_dir_all(fresh).map_err(|e| Error::io(fresh, e)),
        Err(e) if !matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS)) => {
            return Err(raced(dir, e))
        }
        Err(_) => {}
    }
    let (old, moved) = displace(parent, name, dir);
    moved.map_err(|e| raced(dir, e))?;
    std::fs::rename(fresh, dir).map_err(|e| raced(dir, e))?;
    std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))
}

/// Exchanges the folders `a` and `b` in one step (`renameat2(…, RENAME_EXCHANGE)`); EINVAL or
/// ENOSYS where the file system or kernel cannot.
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: two NUL-terminated paths, read only; AT_FDCWD resolves them as open(2) would.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// The error of a rename onto or away from `dir`: one that found `dir` missing or non-empty
/// where it had just been seen the other way was overtaken by another process writing `dir`.
fn raced(dir: &Path, e: std::io::Error) -> Error {
    use std::io::ErrorKind::{DirectoryNotEmpty, NotFound};
    if matches!(e.kind(), NotFound | DirectoryNotEmpty) {
        return Error::format(
            dir,
            format!(
                "another process replaced this folder while this run was writing it ({e}); \
                 run one writer per folder"
            ),
        );
    }
    Error::io(dir, e)
}

/// Checks that `dir` exists and a new file can be created in it.
fn check_writable(dir: &Path) -> Result<()> {
    let (probe, made) = create_temp(dir, "probe", |p| {
        OpenOptions::new().write(true).create_new(true).open(p)
    });
    match made {
        Ok(_) => std::fs::remove_file(&probe).map_err(|e| Error::io(&probe, e)),
        Err(e) => Err(Error::format(
            dir,
            format!("cannot write here ({e}); choose a folder that exists and is writable"),
        )),
    }
}

/// "a symlink", "a FIFO", … for messages.
fn describe(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_file() {
        "a file"
    } else {
        "not a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two runs swapping in the same report folder: the loser's rename finds the folder gone
    /// (or back); its error says so instead of a bare "No such file or directory".
    #[test]
    fn a_swap_overtaken_by_another_writer_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("rep");
        let fresh = dir.path().join("fresh");
        std::fs::create_dir(&fresh).unwrap();
        // The folder was seen (so the swap renames it away) but is gone by the rename.
        let err = std::fs::rename(&report, dir.path().join("old")).unwrap_err();
        let text = raced(&report, err).to_string();
        assert!(
            text.contains("another process replaced this folder"),
            "{text}"
        );
        // A folder put back before the second rename: the rename onto it fails.
        std::fs::create_dir(&report).unwrap();
        std::fs::write(report.join("report.md"), b"theirs").unwrap();
        let err = std::fs::rename(&fresh, &report).unwrap_err();
        let text = raced(&report, err).to_string();
        assert!(
            text.contains("another process replaced this folder"),
            "{text}"
        );
        let other = raced(
            &report,
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        assert!(!other.to_string().contains("another process"));
    }
}
