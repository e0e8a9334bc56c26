//! Loading MNIST (or any IDX image/label pairs with 10 classes) into a train/test [`Split`].
//!
//! The split semantics are those of [`super::split`]: with the shared folder, train on the whole
//! training file (e.g. `train5k`) and test on `t10k`; `--test-split 5000:10000` tests on
//! t10k[5000..10000] and trains on train5k + the rest of t10k; without a test file the split
//! carves the test set out of the training file. train5k is sorted by class: a `limit` spreads
//! the samples kept evenly over it.
//!
//! Pixels are mapped to x = byte/255 ∈ [0, 1] (the scale [`Scale::Auto`] gives bytes, the default
//! of task mnist). With `center`, the per-pixel mean of the training set is subtracted from
//! training and test samples alike.

mod source;
mod spec;

use std::path::{Path, PathBuf};

pub use source::{is_searched_path, MnistFiles, MnistSource, ResolvedFiles};
pub use spec::TestSplit;

use super::array::Elem;
use super::idx::{check_pair, default_cache_dir, IdxFile, IdxImages, IdxLabels};
use super::preprocess::{center, Scale};
use super::samples::{Labels, Pair};
use super::split::{split_pairs, Sets, SplitSpec};
use super::Split;
use crate::io::MemoryLimit;
use crate::{Error, Result};

/// Number of MNIST classes; labels above 9 are rejected.
pub const MNIST_CLASSES: usize = 10;

/// Everything needed to load MNIST; each field maps onto one CLI flag.
#[derive(Clone, Debug, PartialEq)]
pub struct MnistConfig {
    /// `--mnist-dir DIR`, or `--train-images/--train-labels[/--test-images/--test-labels]`.
    pub source: MnistSource,
    /// `--test-split FROM:TO` (see the module documentation).
    pub test_split: Option<TestSplit>,
    /// Keep at most this many training samples, evenly spread over the training set.
    pub limit: Option<usize>,
    /// Subtract the training set's per-pixel mean from every sample.
    pub center: bool,
    /// What every pixel is divided by ([`Scale::Auto`]: 255, x ∈ [0, 1]).
    pub scale: Scale,
    /// Where `.gz` files are inflated; `None` = [`default_cache_dir`].
    pub cache_dir: Option<PathBuf>,
}

impl MnistConfig {
    /// A configuration reading `dir` with no split, limit or centring.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        MnistConfig {
            source: MnistSource::Dir(dir.into()),
            test_split: None,
            limit: None,
            center: false,
            scale: Scale::Auto,
            cache_dir: None,
        }
    }

    /// [`load_limited`](Self::load_limited) with the default [`MemoryLimit`].
    pub fn load(&self) -> Result<Mnist> {
        self.load_limited(MemoryLimit::default())
    }

    /// Opens, validates and converts the files as described in the module documentation. Only
    /// the samples used are read; a gzip file declaring more than `limit`, or a selection of
    /// samples whose f64 matrices would exceed `limit`, is refused before anything is allocated.
    pub fn load_limited(&self, limit: MemoryLimit) -> Result<Mnist> {
        self.load_sets_limited(limit, Sets::Both)
    }

    /// [`load_limited`](Self::load_limited) assembling only `sets` ([`Sets`]); with `center`
    /// both sets are assembled, the mean being the training set's.
    pub fn load_sets_limited(&self, limit: MemoryLimit, sets: Sets) -> Result<Mnist> {
        let files = self.source.resolve()?;
        let cache = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        // The two pairs are opened side by side: each hashes its gzip sources and verifies its
        // cache files (MNIST: 4.7 MB for train5k, 9.4 MB for t10k), reads bound by memory and
        // the page cache, where one after another left the second core idle. The training
        // pair's error is reported first, as when it was opened first.
        let (train, test) = rayon::join(
            || open_pair(&files.train, &cache, limit),
            || files.test.as_ref().map(|t| open_pair(t, &cache, limit)),
        );
        let (train, image_shape) = train?;
        let test = test.transpose()?;
        if let Some((t, shape)) = &test {
            if *shape != image_shape {
                return Err(Error::format(
                    t.x.path(),
                    format!(
                        "images are {shape:?} (rows, columns) but the training images {} are {image_shape:?}",
                        train.x.path().display(),
                    ),
                ));
            }
        }
        let spec = SplitSpec {
            test_split: self.test_split,
            limit: self.limit,
            scale: self.scale.divisor(Elem::U8),
            n_classes: MNIST_CLASSES,
            sets: if self.center { Sets::Both } else { sets },
        };
        let (mut split, mut provenance) =
            split_pairs(&train, test.as_ref().map(|t| &t.0), &spec, limit)?;
        if self.center {
            center(&mut split);
            provenance.push_str("; centred on the training mean");
        }
        Ok(Mnist {
            split,
            image_shape,
            provenance,
        })
    }
}

/// Loaded MNIST: the split, the image shape and a one-line account of which files and ranges
/// went where (for logs and figure captions).
#[derive(Clone, Debug)]
pub struct Mnist {
    pub split: Split,
    /// (rows, columns) of one image; d = rows·columns, pixel (r, c) is row r·columns + c of x.
    pub image_shape: (usize, usize),
    pub provenance: String,
}

/// Opens an image/label pair, checks that the counts agree, and returns it with the image shape.
fn open_pair(
    paths: &(PathBuf, PathBuf),
    cache: &Path,
    limit: MemoryLimit,
) -> Result<(Pair, (usize, usize))> {
    let images = IdxImages::from_file(IdxFile::open_limited(&paths.0, cache, limit)?)?;
    let labels = IdxLabels::from_file(
        IdxFile::open_limited(&paths.1, cache, limit)?,
        MNIST_CLASSES,
    )?;
    check_pair(&images, &labels)?;
    let shape = images.shape();
    let labels = Labels::new(labels.into_file().into_array(), Some(MNIST_CLASSES))?;
    Ok((Pair::new(images.into_file().into_array(), labels)?, shape))
}
