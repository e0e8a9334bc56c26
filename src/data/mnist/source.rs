//! Where the MNIST files are: a directory with the standard names, or explicit files.

use std::path::{Path, PathBuf};

use crate::error::Field;
use crate::{Error, Result};

/// Explicit IDX files. The test pair is optional; without it the test set must be carved out of
/// the training file with a test split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MnistFiles {
    pub train_images: PathBuf,
    pub train_labels: PathBuf,
    pub test_images: Option<PathBuf>,
    pub test_labels: Option<PathBuf>,
}

/// Where to read MNIST from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MnistSource {
    /// A directory holding `train-images-idx3-ubyte` / `train-labels-idx1-ubyte` (or, when those
    /// are absent, `train5k-images-idx3-ubyte` / `train5k-labels-idx1-ubyte`) and optionally
    /// `t10k-images-idx3-ubyte` / `t10k-labels-idx1-ubyte`; each name raw or with `.gz` (raw is
    /// preferred when both exist).
    Dir(PathBuf),
    /// Explicit files.
    Files(MnistFiles),
}

/// Prefixes of training files in a directory, in order of preference.
const TRAIN_PREFIXES: [&str; 2] = ["train", "train5k"];
/// Prefix of test files in a directory.
const TEST_PREFIX: &str = "t10k";

/// The files of a resolved source: the training pair and, optionally, the test pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedFiles {
    pub train: (PathBuf, PathBuf),
    pub test: Option<(PathBuf, PathBuf)>,
}

impl MnistSource {
    /// Finds the files. Errors: a directory without training files (listing every name looked
    /// for), a directory with only one of the two test files, explicit test images without test
    /// labels or the reverse.
    pub fn resolve(&self) -> Result<ResolvedFiles> {
        match self {
            MnistSource::Dir(dir) => resolve_dir(dir),
            MnistSource::Files(f) => {
                let test = match (&f.test_images, &f.test_labels) {
                    (Some(i), Some(l)) => Some((i.clone(), l.clone())),
                    (None, None) => None,
                    (Some(_), None) => {
                        return Err(Error::config(
                            Field::TestImages,
                            "given without test labels",
                        ))
                    }
                    (None, Some(_)) => {
                        return Err(Error::config(
                            Field::TestLabels,
                            "given without test images",
                        ))
                    }
                };
                Ok(ResolvedFiles {
                    train: (f.train_images.clone(), f.train_labels.clone()),
                    test,
                })
            }
        }
    }
}

/// Whether `path` is in the folder `dir` under a name a folder source ([`MnistSource::Dir`]) is
/// searched for: a prefix's images or labels, raw or `.gz`. A file written there becomes data
/// for later runs (a raw name shadows its `.gz`, a `train-` pair shadows `train5k-`). False
/// when either folder cannot be resolved.
pub fn is_searched_path(dir: &Path, path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let searched = TRAIN_PREFIXES
        .iter()
        .chain([&TEST_PREFIX])
        .flat_map(|prefix| base_names(prefix))
        .any(|base| name == base || name.strip_suffix(".gz") == Some(base.as_str()));
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    searched && matches!((parent.canonicalize(), dir.canonicalize()), (Ok(a), Ok(b)) if a == b)
}

/// `<prefix>-images-idx3-ubyte` and `<prefix>-labels-idx1-ubyte`.
fn base_names(prefix: &str) -> [String; 2] {
    [
        format!("{prefix}-images-idx3-ubyte"),
        format!("{prefix}-labels-idx1-ubyte"),
    ]
}

/// The raw file `dir/base` if it exists, else `dir/base.gz` if it exists (whatever its type:
/// opening it refuses what is not a regular file). An error other than "not found" (e.g.
/// permission denied) is returned, naming the path.
fn find(dir: &Path, base: &str) -> Result<Option<PathBuf>> {
    for p in [dir.join(base), dir.join(format!("{base}.gz"))] {
        match std::fs::metadata(&p) {
            Ok(_) => return Ok(Some(p)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(p, e)),
        }
    }
    Ok(None)
}

/// Resolves the standard names in `dir`.
fn resolve_dir(dir: &Path) -> Result<ResolvedFiles> {
    // Reading the directory names the real failure: not found, permission denied, not a
    // directory; the message says which setting gave the folder and what it must hold
    // (twenty-fifth session: a FIFO or a file as MNIST_DIR said "Not a directory (os error
    // 20)" alone).
    std::fs::read_dir(dir).map_err(|e| {
        let [img, lab] = base_names(TRAIN_PREFIXES[0]);
        Error::io(
            dir,
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot be read as the folder of the MNIST IDX files ({e}); expected the \
                     folder (--mnist-dir, or MNIST_DIR in the environment) holding {img}[.gz] \
                     and {lab}[.gz]"
                ),
            ),
        )
    })?;
    let mut looked_for = Vec::new();
    let mut train = None;
    for prefix in TRAIN_PREFIXES {
        let [img, lab] = base_names(prefix);
        if let Some(images) = find(dir, &img)? {
            let labels =
                find(dir, &lab)?.ok_or_else(|| missing(dir, std::slice::from_ref(&lab)))?;
            train = Some((images, labels));
            break;
        }
        looked_for.push(img);
    }
    let train = train.ok_or_else(|| missing(dir, &looked_for))?;
    let [img, lab] = base_names(TEST_PREFIX);
    let test = match (find(dir, &img)?, find(dir, &lab)?) {
        (Some(i), Some(l)) => Some((i, l)),
        (None, None) => None,
        (Some(_), None) => return Err(missing(dir, &[lab])),
        (None, Some(_)) => return Err(missing(dir, &[img])),
    };
    Ok(ResolvedFiles { train, test })
}

/// A "not found" error for `dir` listing the names (each raw or `.gz`) that were looked for.
fn missing(dir: &Path, names: &[String]) -> Error {
    let list = names
        .iter()
        .map(|n| format!("{n}[.gz]"))
        .collect::<Vec<_>>()
        .join(", ");
    Error::io(
        dir,
        std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("no MNIST file found: looked for {list}"),
        ),
    )
}
