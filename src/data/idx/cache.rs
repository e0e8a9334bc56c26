//! Inflating `.gz` IDX files once into a cache file that can be memory-mapped, checked as they
//! inflate and verified whenever they are reused.
//!
//! Inflation reads the IDX header from the first inflated bytes, computes the declared size,
//! refuses it when it exceeds the memory limit (or the free space of the cache directory), and
//! then inflates exactly the declared size: a stream that yields more or less is an error of the
//! source, so a gzip bomb stops at its header.
//!
//! A cache file is the inflated IDX bytes followed by a [`TRAILER_LEN`]-byte trailer: the tag
//! `CFIDXv1\0`, the XXH64 of the whole gzip source and the XXH64 of the inflated bytes. It is
//! reused only when both hashes match (a source replaced with the same size and mtime, or an
//! edited cache file, is inflated again). It is named by the source's file name and a hash of
//! its absolute path, written under a temporary name (see [`crate::io::temp`]) and renamed into
//! place; debris of killed runs is removed by the next inflation.

use std::collections::hash_map::DefaultHasher;
use std::fs::{self, File};
use std::hash::{Hash, Hasher};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::io::mapped::Mapped;
use flate2::read::MultiGzDecoder;

use super::header::{self, check_len, header_len, parse_dims, Header};
use crate::io::checksum::{xxh64, Xxh64};
use crate::io::temp::{create_temp, remove_stale};
use crate::io::{map_regular, open_regular, MemoryLimit};
use crate::{Error, Result};

/// Environment variable naming the cache directory.
pub const CACHE_ENV: &str = "CORRFLOW_CACHE";

/// Tag at the start of a cache file's trailer.
const TAG: &[u8; 8] = b"CFIDXv1\0";
/// Bytes of the trailer: tag, source hash, content hash.
pub const TRAILER_LEN: usize = 24;

/// The default cache directory: `$CORRFLOW_CACHE` if set and non-empty, else
/// `<system temp dir>/corrflow-idx-cache`.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os(CACHE_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join("corrflow-idx-cache"),
    }
}

/// A verified cache file, mapped: the IDX bytes are `map[..idx_len]`.
pub struct Cached {
    pub map: Mapped,
    pub idx_len: usize,
    pub header: Header,
}

/// Path of the cache file for the gzip file `src` inside `cache_dir`: `<stem>-<path hash>.idx`.
fn cache_path(src: &Path, cache_dir: &Path) -> Result<PathBuf> {
    let abs = fs::canonicalize(src).map_err(|e| Error::io(src, e))?;
    let mut h = DefaultHasher::new();
    abs.hash(&mut h);
    let stem = src
        .file_name()
        .map(|n| n.to_string_lossy().trim_end_matches(".gz").to_string())
        .unwrap_or_else(|| "idx".to_string());
    Ok(cache_dir.join(format!("{stem}-{:016x}.idx", h.finish())))
}

/// The inflated, validated content of the gzip file `src`, from a verified cache file in
/// `cache_dir` or inflated into one first.
///
/// Errors: [`Error::Io`] for a missing or unreadable source or an unwritable cache directory;
/// [`Error::Format`] naming `src` for a source that is not a regular file, a corrupt gzip stream,
/// an invalid IDX header, a declared size over `limit`, and a stream longer or shorter than its
/// header declares. A bad cache entry is never an error: it is rebuilt.
pub fn inflated(src: &Path, cache_dir: &Path, limit: MemoryLimit) -> Result<Cached> {
    // The source's hash and the cache file's content hash read different files (MNIST's t10k:
    // 1.6 MB of gzip, 7.8 MB inflated), each bound by memory and the page cache: side by side.
    // The source's errors come first, as when it was hashed before the cache was looked at.
    let (source_hash, candidate) = rayon::join(
        || hash_file(src),
        || {
            cache_path(src, cache_dir)
                .ok()
                .and_then(|t| Candidate::read(&t))
        },
    );
    let source_hash = source_hash?;
    let target = cache_path(src, cache_dir)?;
    if let Some(c) = candidate.and_then(|c| c.matching(src, source_hash)) {
        return Ok(c);
    }
    fs::create_dir_all(cache_dir).map_err(|e| unusable(cache_dir, &e))?;
    remove_stale(cache_dir);
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (tmp, file) = create_temp(cache_dir, &name, |p| {
        File::options().write(true).create_new(true).open(p)
    });
    // A folder that exists but takes no new file (read-only, not permitted) is the folder's
    // error, as one that cannot be created: the temporary name was never the user's (adv47).
    let result = file
        .map_err(|e| unusable(cache_dir, &e))
        .and_then(|file| inflate_into(src, file, &tmp, cache_dir, source_hash, limit))
        .and_then(|()| fs::rename(&tmp, &target).map_err(|e| Error::io(&target, e)));
    if result.is_err() {
        // Best effort: the temporary file is useless after a failure.
        let _ = fs::remove_file(&tmp);
    }
    result?;
    verified(src, &target, source_hash).ok_or_else(|| {
        Error::format(
            &target,
            "the cache file just written does not verify (changed while it was written?)",
        )
    })
}

/// The error for a cache folder `dir` that cannot be created or written (`e`), naming
/// [`CACHE_ENV`].
fn unusable(dir: &Path, e: &io::Error) -> Error {
    Error::format(
        dir,
        format!(
            "cannot be used as the folder of inflated IDX files ({e}); set {CACHE_ENV} to a \
             writable folder (default: the system's temporary folder, TMPDIR)"
        ),
    )
}

/// XXH64 of the whole file `path`, read in blocks.
fn hash_file(path: &Path) -> Result<u64> {
    let mut file = open_regular(path)?;
    let mut h = Xxh64::new(0);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(h.finish()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
}

/// The cache file `target` mapped, when it exists, has a trailer naming `source_hash`, content
/// matching its hash and a valid IDX header for its length; `None` otherwise.
fn verified(src: &Path, target: &Path, source_hash: u64) -> Option<Cached> {
    Candidate::read(target)?.matching(src, source_hash)
}

/// A cache file mapped whose tag and content hash check, with the source hash its trailer
/// names: read before (or while) the source is hashed, and used only when that hash matches
/// ([`Candidate::matching`]).
struct Candidate {
    map: Mapped,
    idx_len: usize,
    source_hash: u64,
}

impl Candidate {
    /// The cache file `target`, when it exists, is long enough for a trailer, has the tag and
    /// content matching its hash; `None` otherwise.
    fn read(target: &Path) -> Option<Candidate> {
        let file = open_regular(target).ok()?;
        let len = usize::try_from(file.metadata().ok()?.len()).ok()?;
        if len < TRAILER_LEN + 4 {
            return None;
        }
        // Cache files are only ever created by rename, never rewritten in place, and any change
        // made by hand is caught by the content hash below (one truncated while mapped is said,
        // `io::mapped`).
        let map = map_regular(target, &file).ok()?;
        let idx_len = len - TRAILER_LEN;
        let trailer = &map[idx_len..];
        let word = |k: usize| u64::from_le_bytes(trailer[k..k + 8].try_into().unwrap_or([0; 8]));
        if &trailer[..8] != TAG || word(16) != xxh64(&map[..idx_len]) {
            return None;
        }
        let source_hash = word(8);
        Some(Candidate {
            map,
            idx_len,
            source_hash,
        })
    }

    /// The cache's content when its trailer names `source_hash` and its IDX header is valid
    /// for its length (parsed as `src`'s); `None` otherwise.
    fn matching(self, src: &Path, source_hash: u64) -> Option<Cached> {
        if self.source_hash != source_hash {
            return None;
        }
        let header = header::parse(src, &self.map[..self.idx_len]).ok()?;
        Some(Cached {
            map: self.map,
            idx_len: self.idx_len,
            header,
        })
    }
}

/// Inflates `src` into `out`, the new empty file `dst`: the header first (validated, its
/// declared size checked against `limit` and the free space of `cache_dir`), then exactly the
/// declared data, then the trailer; synced to disk.
fn inflate_into(
    src: &Path,
    out: File,
    dst: &Path,
    cache_dir: &Path,
    source_hash: u64,
    limit: MemoryLimit,
) -> Result<()> {
    let input = open_regular(src)?;
    let mut decoder = MultiGzDecoder::new(BufReader::new(input));
    let mut head = read_up_to(&mut decoder, 4, |e| read_error(src, e))?;
    if head.len() == 4 && head[3] > 0 {
        let more = read_up_to(&mut decoder, header_len(usize::from(head[3])) - 4, |e| {
            read_error(src, e)
        })?;
        head.extend_from_slice(&more);
    }
    let h = parse_dims(src, &head)?;
    let data_len = h.data_len().unwrap_or(usize::MAX) as u64;
    let total = u128::from(data_len) + head.len() as u128;
    if !limit.allows(total) {
        return Err(Error::format(
            src,
            format!(
                "its IDX header declares {} ({total} bytes inflated), over the memory limit of {}",
                header::dims_string(&h.dims),
                limit.describe()
            ),
        ));
    }
    check_free_space(cache_dir, total)?;
    let mut out = BufWriter::new(out);
    let mut content = Xxh64::new(0);
    content.update(&head);
    out.write_all(&head).map_err(|e| Error::io(dst, e))?;
    let mut data = (&mut decoder).take(data_len);
    let copied =
        copy_hashed(&mut data, &mut out, &mut content).map_err(|e| copy_error(src, dst, e))?;
    let extra = read_up_to(&mut decoder, 1, |e| after_data_error(src, data_len, e))?.len() as u64;
    check_len(
        src,
        &h,
        copied + extra,
        "the gzip stream inflates to at least",
    )?;
    let mut trailer = TAG.to_vec();
    trailer.extend_from_slice(&source_hash.to_le_bytes());
    trailer.extend_from_slice(&content.finish().to_le_bytes());
    out.write_all(&trailer).map_err(|e| Error::io(dst, e))?;
    let file = out
        .into_inner()
        .map_err(|e| Error::io(dst, e.into_error()))?;
    file.sync_all().map_err(|e| Error::io(dst, e))
}

/// Refuses to inflate `bytes` into `dir` when the file system has less free space than that.
fn check_free_space(dir: &Path, bytes: u128) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c_path) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return Ok(());
    };
    // SAFETY: statvfs is a plain C struct of integers, for which all-zero bytes are a valid value.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: c_path is a valid NUL-terminated string and st a valid, writable statvfs.
    if unsafe { libc::statvfs(c_path.as_ptr(), &mut st) } != 0 {
        return Ok(()); // unknown: the write itself will report a full disk
    }
    let free = u128::from(st.f_bavail) * u128::from(st.f_frsize);
    if bytes > free {
        return Err(Error::format(
            dir,
            format!("the cache needs {bytes} bytes, the file system has {free} free"),
        ));
    }
    Ok(())
}

/// An error while copying: a write error is the cache file's, anything else the source's.
enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `r` to `w`, feeding every byte to `h`; returns the bytes copied.
fn copy_hashed(r: &mut impl Read, w: &mut impl Write, h: &mut Xxh64) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        h.update(&buf[..n]);
        w.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

/// The [`Error`] of a failed copy.
fn copy_error(src: &Path, dst: &Path, e: CopyError) -> Error {
    match e {
        CopyError::Read(e) => read_error(src, e),
        CopyError::Write(e) => Error::io(dst, e),
    }
}

/// Up to `n` bytes from `r` (fewer only at the end of the stream); a failed read is `error`'s.
fn read_up_to(
    r: &mut impl Read,
    n: usize,
    error: impl FnOnce(io::Error) -> Error,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut out).map_err(error)?;
    Ok(out)
}

/// Whether a decoder error means corrupt or truncated gzip data (not a failed read).
fn is_corrupt(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof
    )
}

/// A decoder error: corrupt or truncated gzip data is a format error of `src`.
fn read_error(src: &Path, e: io::Error) -> Error {
    if is_corrupt(&e) {
        return Error::format(src, format!("corrupt gzip stream: {e}"));
    }
    Error::io(src, e)
}

/// A decoder error once all `data_len` bytes the IDX header declares were read: a bad gzip
/// trailer, or bytes after the stream that are not another gzip member (junk appended to a
/// whole file read "corrupt gzip stream: invalid gzip header", without a place: adv46).
fn after_data_error(src: &Path, data_len: u64, e: io::Error) -> Error {
    if is_corrupt(&e) {
        return Error::format(
            src,
            format!(
                "corrupt gzip stream after the {data_len} data bytes its IDX header declares \
                 ({e}): expected the file to end there, after the gzip trailer, or another \
                 gzip member to follow"
            ),
        );
    }
    Error::io(src, e)
}
