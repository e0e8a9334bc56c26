//! The user's input files a grid point reads, fingerprinted in its record (the path as the grid
//! gives it, the length in bytes and a 64-bit hash of the contents), so that a resumed sweep
//! refuses the records computed from a file that changed since (adv63: a rerun on the same
//! `--out` after `train_x` was edited said "N already done, 0 to run" and kept the numbers of
//! the old contents; a point's id is the hash of its configuration, which holds paths, not
//! contents).
//!
//! The files are those of [`files_read`]: `train_x`, `train_y`, `test_x`, `test_y`, the model
//! file `init`, and `normalize_mean` / `normalize_std` where they name a file rather than a
//! list. MNIST's own files (`mnist_dir`) are not fingerprinted. Only `corrflow sweep` checks,
//! before it runs anything ([`check_unchanged`]), and its `--dry-run` as the run would; `sweep
//! merge`, `export` and `summarize` read records as they are and do not.
//!
//! Each distinct file is hashed once per run ([`InputCache`]), streamed in 1 MiB blocks: by the
//! resume check, or before the first point that reads it loads it. A file edited while the
//! sweep runs can leave records with the fingerprint of the contents before the edit; the next
//! resume refuses those (unless the file is back to the contents it was hashed with).

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::point::PointConfig;
use crate::error::{Error, Result};
use crate::io::checksum::Xxh64;

/// One input file as a point read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The path as the grid gives it (a relative one is relative to where the sweep runs).
    pub path: PathBuf,
    /// Its length in bytes.
    pub bytes: u64,
    /// XXH64 (seed 0) of its contents ([`fingerprint`]), as 16 hex digits.
    pub xxh64: String,
}

/// The user's files the point `config` reads, each once, in the order of its keys: the sample
/// files, the `init` model and a normaliser given as a file (as
/// [`crate::data::preprocess::read_vector`] decides: a value that is not a list of numbers).
pub fn files_read(config: &PointConfig) -> Vec<PathBuf> {
    let samples = [
        &config.train_x,
        &config.train_y,
        &config.test_x,
        &config.test_y,
    ];
    let normaliser = [&config.normalize_mean, &config.normalize_std];
    let mut files: Vec<PathBuf> = samples
        .into_iter()
        .chain([&config.init])
        .flatten()
        .cloned()
        .collect();
    files.extend(
        normaliser
            .into_iter()
            .flatten()
            .filter_map(|s| crate::data::preprocess::vector_file(s))
            .map(Path::to_path_buf),
    );
    let mut seen = std::collections::HashSet::new();
    files.retain(|p| seen.insert(p.clone()));
    files
}

/// What a file is now: its length and hash, or why it cannot be read.
type Now = std::result::Result<(u64, u64), String>;

/// The fingerprints of the files one sweep run has looked at, each file hashed once.
#[derive(Default)]
pub struct InputCache {
    seen: Mutex<HashMap<PathBuf, Now>>,
}

impl InputCache {
    /// The length and hash of `path` now (hashed on the first call for it), or "no longer
    /// exists" / "cannot be read (…)".
    fn now(&self, path: &Path) -> Now {
        if let Some(now) = lock(&self.seen).get(path) {
            return now.clone();
        }
        // Hashed outside the lock, so that points reading other files go on meanwhile; two
        // points that race for one file hash it twice, with one answer kept.
        let now = fingerprint(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "no longer exists".to_string(),
            _ => format!("cannot be read ({e})"),
        });
        lock(&self.seen)
            .entry(path.to_path_buf())
            .or_insert(now)
            .clone()
    }

    /// The fingerprints of the files the point `config` reads ([`files_read`]), for its
    /// record; a file that cannot be read now is left out (the point fails on it, naming it).
    pub fn of_point(&self, config: &PointConfig) -> Vec<InputFile> {
        files_read(config)
            .into_iter()
            .filter_map(|path| {
                let (bytes, hash) = self.now(&path).ok()?;
                Some(InputFile {
                    path,
                    bytes,
                    xxh64: format!("{hash:016x}"),
                })
            })
            .collect()
    }
}

/// Locks a mutex, carrying on past a thread that panicked (its data are plain values).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A settled point a resumed sweep skips: its record's position, id and fingerprints.
pub struct Settled<'a> {
    pub index: usize,
    pub id: &'a str,
    pub inputs: &'a [InputFile],
    /// Its record is a failure's.
    pub failed: bool,
}

/// A file that differs from its fingerprint in settled records: what changed, and the points
/// (index, id, whether the record is a failure's).
struct Changed {
    path: PathBuf,
    what: String,
    points: Vec<(usize, String, bool)>,
}

/// Points listed per changed file in [`check_unchanged`]'s error before "and N more".
const LISTED: usize = 5;

/// Refuses to resume when a file that a settled point read differs from its record's
/// fingerprint: another length, other contents, or no file. The error names `results` (the
/// results file), each changed file with what changed and its points (`#index id`), and what
/// to do. Each file is hashed once ([`InputCache`]); records without fingerprints (written
/// before they were, or by a point that read no file) pass.
pub fn check_unchanged<'a>(
    settled: impl IntoIterator<Item = Settled<'a>>,
    cache: &InputCache,
    results: &Path,
) -> Result<()> {
    // Each changed file with what changed, and its points (index, id, failed) in record order.
    let mut changed: Vec<Changed> = Vec::new();
    for s in settled {
        for f in s.inputs {
            let what = match cache.now(&f.path) {
                Err(why) => why,
                Ok((bytes, _)) if bytes != f.bytes => {
                    format!("length {} → {bytes} bytes", f.bytes)
                }
                Ok((bytes, hash)) if format!("{hash:016x}") != f.xxh64 => {
                    format!("contents changed (same length, {bytes} bytes)")
                }
                Ok(_) => continue,
            };
            let point = (s.index, s.id.to_string(), s.failed);
            match changed
                .iter_mut()
                .find(|c| c.path == f.path && c.what == what)
            {
                Some(c) => c.points.push(point),
                None => changed.push(Changed {
                    path: f.path.clone(),
                    what,
                    points: vec![point],
                }),
            }
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let any_failed = changed.iter().any(|c| c.points.iter().any(|p| p.2));
    let files: Vec<String> = changed
        .iter()
        .map(|c| {
            let mut list: Vec<String> = c
                .points
                .iter()
                .take(LISTED)
                .map(|(index, id, failed)| {
                    format!("#{index} {id}{}", if *failed { " (failed)" } else { "" })
                })
                .collect();
            if c.points.len() > LISTED {
                list.push(format!("and {} more", c.points.len() - LISTED));
            }
            let s = if c.points.len() == 1 { "" } else { "s" };
            format!(
                "{}: {} since point{s} {} ran",
                c.path.display(),
                c.what,
                list.join(", ")
            )
        })
        .collect();
    Err(Error::format(
        results,
        format!(
            "input files changed since their points were recorded, so those records hold \
             numbers of the old contents: {}. Nothing was run: use a new --out, or remove those \
             points' lines from {} to run them again{}",
            files.join("; "),
            results.display(),
            if any_failed {
                " (a failed point runs again under --retry-failed)"
            } else {
                ""
            }
        ),
    ))
}

/// Bytes read at a time by [`fingerprint`].
const BLOCK: usize = 1 << 20;

/// The length in bytes and the XXH64 (seed 0, [`crate::io::checksum`]: Y. Collet's xxHash
/// specification) of the file at `path`, streamed in 1 MiB blocks (memory does not grow with
/// the file). A change of one 8-byte word always changes the hash (each lane step
/// rotl(acc + w·P₂, 31)·P₁ is a bijection of the word for a fixed lane, and of the lane for a
/// fixed word). Measured (`examples/hash_throughput`, EXPERIMENTS fp63) at ~14 GB/s in memory
/// on Zen 4, against ~0.9 GB/s for byte-wise FNV-1a; streamed ~3 GB/s from the page cache.
pub fn fingerprint(path: &Path) -> std::io::Result<(u64, u64)> {
    hash_reader(std::fs::File::open(path)?, BLOCK)
}

/// [`fingerprint`] of what `reader` yields, read `block` bytes at a time.
fn hash_reader(mut reader: impl Read, block: usize) -> std::io::Result<(u64, u64)> {
    let mut buf = vec![0u8; block];
    let mut state = Xxh64::new(0);
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok((total, state.finish())),
            Ok(n) => {
                state.update(&buf[..n]);
                total += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::checksum::xxh64;

    /// Streamed in blocks (and in short reads) it is the hash of the whole, at every length
    /// around a block's end.
    #[test]
    fn a_stream_hashes_as_the_whole() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = buf.len().min(self.0.len()).min(7);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let bytes: Vec<u8> = (0..300u32).map(|i| (i * 37 % 251) as u8).collect();
        for len in [0, 1, 31, 32, 63, 64, 65, 127, 128, 129, 300] {
            let want = (len as u64, xxh64(&bytes[..len]));
            assert_eq!(hash_reader(&bytes[..len], 64).unwrap(), want, "{len}");
            assert_eq!(
                hash_reader(Trickle(&bytes[..len]), 64).unwrap(),
                want,
                "{len}"
            );
        }
    }

    /// The files of a point: the sample files once each, a normaliser only as a file.
    #[test]
    fn a_points_files_are_its_sample_files_and_normaliser_files() {
        let config = PointConfig {
            train_x: Some("x.npy".into()),
            train_y: Some("y.npy".into()),
            test_x: Some("x.npy".into()),
            normalize_mean: Some("0.5,0.25".into()),
            normalize_std: Some("std.txt".into()),
            ..Default::default()
        };
        let files: Vec<PathBuf> = ["x.npy", "y.npy", "std.txt"].map(PathBuf::from).into();
        assert_eq!(files_read(&config), files);
    }
}
