//! Inflating `.gz` IDX files once into a cache file that can be memory-mapped.
//!
//! The cache file is named by the source's file name, a hash of its absolute path, its size and
//! its modification time, so a changed source is inflated again. It is written to a temporary
//! file in the cache directory and renamed into place, so an interrupted run never leaves a
//! partial cache file under the final name.

use std::collections::hash_map::DefaultHasher;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use flate2::read::MultiGzDecoder;

use crate::{Error, Result};

/// Environment variable naming the cache directory.
pub const CACHE_ENV: &str = "CORRFLOW_CACHE";

/// The default cache directory: `$CORRFLOW_CACHE` if set and non-empty, else
/// `<system temp dir>/corrflow-idx-cache`.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("corrflow-idx-cache"),
    }
}

/// Path of the cache file for the gzip file `src` inside `cache_dir`:
/// `<stem>-<path hash>-<size>-<mtime ns>.idx`.
fn cache_path(src: &Path, cache_dir: &Path) -> Result<PathBuf> {
    let meta = fs::metadata(src).map_err(|e| Error::io(src, e))?;
    let mtime_ns = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let abs = fs::canonicalize(src).map_err(|e| Error::io(src, e))?;
    let mut h = DefaultHasher::new();
    abs.hash(&mut h);
    let stem = src
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".gz").to_string())
        .unwrap_or_else(|| "idx".to_string());
    Ok(cache_dir.join(format!(
        "{stem}-{:016x}-{}-{mtime_ns}.idx",
        h.finish(),
        meta.len()
    )))
}

/// Returns the path of an inflated copy of the gzip file `src` in `cache_dir`, inflating it
/// first unless a cache file for this exact source (path, size, mtime) exists.
///
/// Errors: [`Error::Io`] for missing files or an unwritable cache directory, [`Error::Format`]
/// naming `src` when the gzip stream is corrupt.
pub fn inflated(src: &Path, cache_dir: &Path) -> Result<PathBuf> {
    let target = cache_path(src, cache_dir)?;
    if target.is_file() {
        return Ok(target);
    }
    fs::create_dir_all(cache_dir).map_err(|e| Error::io(cache_dir, e))?;
    let tmp = cache_dir.join(format!(
        ".{}.tmp-{}-{}",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id(),
        unique_suffix()
    ));
    let result = inflate_into(src, &tmp)
        .and_then(|()| fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e)));
    if result.is_err() {
        // Best effort: the temporary file is useless after a failure.
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| target)
}

/// A per-call suffix so that concurrent inflations in one process never share a temp file.
fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// Inflates `src` into the new file `dst` and syncs it to disk. Read errors are blamed on
/// `src` (a corrupt stream is a format error), write errors on `dst`.
fn inflate_into(src: &Path, dst: &Path) -> Result<()> {
    let input = File::open(src).map_err(|e| Error::io(src, e))?;
    let mut decoder = MultiGzDecoder::new(BufReader::new(input));
    let mut out = File::create(dst).map_err(|e| Error::io(dst, e))?;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(src, e)),
        };
        out.write_all(&buf[..n]).map_err(|e| Error::io(dst, e))?;
    }
    out.sync_all().map_err(|e| Error::io(dst, e))
}

/// A decoder error: corrupt or truncated gzip data is a format error of `src`.
fn read_error(src: &Path, e: io::Error) -> Error {
    match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            Error::format(src, format!("corrupt gzip stream: {e}"))
        }
        _ => Error::io(src, e),
    }
}
