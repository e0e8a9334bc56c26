//! Loading MNIST (or any IDX image/label pairs with 10 classes) into a train/test [`Split`].
//!
//! # Split semantics
//! - **Test file present, no test split** (run (a), the default for the shared folder): train on
//!   the whole training file (e.g. `train5k`), test on the whole test file (`t10k`).
//! - **Test file present, test split `FROM:TO`** (run (b)): the test set is samples FROM..TO of the
//!   *test file*; the rest of the test file (..FROM and TO..) joins the training set after the
//!   training file. `5000:10000` trains on train5k + t10k[0..5000] and tests on t10k[5000..10000].
//! - **No test file, test split `FROM:TO`** (run (c)): the test set is samples FROM..TO of the
//!   *training file*, the rest of it is the training set.
//! - **No test file, no split**: an error asking for `--test-split`.
//!
//! Samples keep file order (train5k is sorted by class); shuffling is the trainer's job. A
//! `limit` keeps ⌊i·n/limit⌋ for i < limit of the n training samples: evenly spread, so a sorted
//! file still gives every class its share.
//!
//! Pixels are mapped to x = byte/255 ∈ [0, 1]. With `center`, the per-pixel mean of the training
//! set is subtracted from training and test samples alike.

mod source;
mod spec;

use std::ops::Range;
use std::path::{Path, PathBuf};

use faer::Mat;

pub use source::{MnistFiles, MnistSource, ResolvedFiles};
pub use spec::TestSplit;

use super::convert::u8_to_unit;
use super::idx::{check_pair, default_cache_dir, IdxImages, IdxLabels, IdxU8};
use super::{Dataset, Split};
use crate::error::Field;
use crate::io::MemoryLimit;
use crate::{Error, Result};

/// Number of MNIST classes; labels above 9 are rejected.
pub const MNIST_CLASSES: usize = 10;

/// Everything needed to load MNIST; each field maps onto one CLI flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MnistConfig {
    /// `--mnist-dir DIR`, or `--train-images/--train-labels[/--test-images/--test-labels]`.
    pub source: MnistSource,
    /// `--test-split FROM:TO` (see the module documentation).
    pub test_split: Option<TestSplit>,
    /// Keep at most this many training samples, evenly spread over the training set.
    pub limit: Option<usize>,
    /// Subtract the training set's per-pixel mean from every sample.
    pub center: bool,
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
        let files = self.source.resolve()?;
        let cache = self.cache_dir.clone().unwrap_or_else(default_cache_dir);
        let train = open_pair(&files.train, &cache, limit)?;
        let test = match &files.test {
            Some(t) => Some(open_pair(t, &cache, limit)?),
            None => None,
        };
        if let Some(t) = &test {
            if t.0.shape() != train.0.shape() {
                return Err(Error::format(
                    t.0.path(),
                    format!(
                        "images are {:?} (rows, columns) but the training images {} are {:?}",
                        t.0.shape(),
                        train.0.path().display(),
                        train.0.shape()
                    ),
                ));
            }
        }
        let (train_segs, test_segs) = self.segments(&train, test.as_ref())?;
        let d = train.0.pixels();
        let n_train = match self.limit {
            Some(l) => l.min(count(&train_segs)),
            None => count(&train_segs),
        };
        check_memory(&train.0, d, n_train + count(&test_segs), limit)?;
        let train_index = self.train_index(&train_segs)?;
        let mut train_ds = assemble(&train_index, d)?;
        let test_index: Vec<_> = test_segs.iter().flat_map(Segment::samples).collect();
        let mut test_ds = assemble(&test_index, d)?;
        if self.center {
            center(&mut train_ds.x, &mut test_ds.x);
        }
        let provenance = format!(
            "train: {}{}; test: {}{}",
            describe(&train_segs),
            match self.limit {
                Some(l) if l < train_segs.iter().map(|s| s.range.len()).sum() => {
                    format!(" (limit {l}, evenly spread)")
                }
                _ => String::new(),
            },
            describe(&test_segs),
            if self.center {
                "; centred on the training mean"
            } else {
                ""
            }
        );
        Ok(Mnist {
            split: Split {
                train: train_ds,
                test: test_ds,
            },
            image_shape: train.0.shape(),
            provenance,
        })
    }

    /// The training and test segments of the split semantics.
    fn segments<'a>(
        &self,
        train: &'a Pair,
        test: Option<&'a Pair>,
    ) -> Result<(Vec<Segment<'a>>, Vec<Segment<'a>>)> {
        let whole = |p: &'a Pair| Segment {
            pair: p,
            range: 0..p.0.len(),
        };
        let carve = |p: &'a Pair, s: &TestSplit| -> Result<_> {
            let r = s.range_in(p.0.len(), p.0.path())?;
            let rest = vec![
                Segment {
                    pair: p,
                    range: 0..r.start,
                },
                Segment {
                    pair: p,
                    range: r.end..p.0.len(),
                },
            ];
            Ok((rest, Segment { pair: p, range: r }))
        };
        let (train_segs, test_seg): (Vec<_>, _) = match (test, &self.test_split) {
            (Some(t), None) => (vec![whole(train)], whole(t)),
            (Some(t), Some(s)) => {
                let (rest, test_seg) = carve(t, s)?;
                (
                    std::iter::once(whole(train)).chain(rest).collect(),
                    test_seg,
                )
            }
            (None, Some(s)) => carve(train, s)?,
            (None, None) => {
                return Err(Error::config(
                    Field::TestSplit,
                    format!(
                    "no test file given: pass FROM:TO to carve a test set out of {} ({} samples)",
                    train.0.path().display(),
                    train.0.len()
                ),
                ))
            }
        };
        let train_segs: Vec<_> = train_segs
            .into_iter()
            .filter(|s| !s.range.is_empty())
            .collect();
        if train_segs.is_empty() {
            return Err(match self.test_split {
                Some(_) => Error::config(
                    Field::TestSplit,
                    "the test split leaves no training samples",
                ),
                None => Error::format(
                    train.0.path(),
                    "holds no samples; training needs at least one",
                ),
            });
        }
        Ok((train_segs, vec![test_seg]))
    }

    /// The training samples, thinned to `limit` evenly spread ones (⌊i·n/limit⌋) when a limit
    /// is set; only the samples kept are listed.
    fn train_index<'a>(&self, segs: &[Segment<'a>]) -> Result<Vec<Sample<'a>>> {
        let n = count(segs);
        match self.limit {
            Some(0) => Err(Error::config(Field::TrainLimit, "must be at least 1")),
            Some(l) if l < n => {
                // The picks ascend strictly (l < n), so one pass over the samples finds them.
                let mut all = segs.iter().flat_map(Segment::samples);
                let mut next = 0;
                let mut kept = Vec::with_capacity(l);
                for i in 0..l {
                    let k = (i as u128 * n as u128 / l as u128) as usize;
                    kept.extend(all.nth(k - next));
                    next = k + 1;
                }
                Ok(kept)
            }
            _ => Ok(segs.iter().flat_map(Segment::samples).collect()),
        }
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

/// An image file with its matching label file.
type Pair = (IdxImages, IdxLabels);

/// Opens an image/label pair and checks that the counts agree.
fn open_pair(paths: &(PathBuf, PathBuf), cache: &Path, limit: MemoryLimit) -> Result<Pair> {
    let images = IdxImages::from_file(IdxU8::open_limited(&paths.0, cache, limit)?)?;
    let labels = IdxLabels::from_file(IdxU8::open_limited(&paths.1, cache, limit)?, MNIST_CLASSES)?;
    check_pair(&images, &labels)?;
    Ok((images, labels))
}

/// A contiguous range of samples of one file pair.
struct Segment<'a> {
    pair: &'a Pair,
    range: Range<usize>,
}

/// One sample: its file pair and index.
type Sample<'a> = (&'a Pair, usize);

impl<'a> Segment<'a> {
    /// The samples of this segment in file order.
    fn samples(&self) -> impl Iterator<Item = Sample<'a>> + 'a {
        let pair = self.pair;
        self.range.clone().map(move |i| (pair, i))
    }
}

/// Number of samples in `segs`.
fn count(segs: &[Segment]) -> usize {
    segs.iter().map(|s| s.range.len()).sum()
}

/// Refuses to assemble `n` samples of `d` pixels (8·d·n bytes of f64 plus n labels) when that
/// exceeds `limit`, naming the image file and the estimate.
fn check_memory(images: &IdxImages, d: usize, n: usize, limit: MemoryLimit) -> Result<()> {
    let bytes = 8 * d as u128 * n as u128 + n as u128;
    if limit.allows(bytes) {
        return Ok(());
    }
    Err(Error::format(
        images.path(),
        format!(
            "{n} samples of {d} pixels need {bytes} bytes as f64, over the memory limit of {} bytes; keep fewer samples",
            limit.bytes
        ),
    ))
}

/// `file[a..b] + …` for a list of segments.
fn describe(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| {
            format!(
                "{}[{}..{}]",
                s.pair.0.path().display(),
                s.range.start,
                s.range.end
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Builds a d × n dataset whose column j is sample j, pixels converted to [0, 1] by the SIMD
/// kernel (d is explicit so that an empty set still has the right dimension).
fn assemble(samples: &[Sample], d: usize) -> Result<Dataset> {
    let mut x = Mat::<f64>::zeros(d, samples.len());
    let mut labels = Vec::with_capacity(samples.len());
    for (j, &(pair, i)) in samples.iter().enumerate() {
        let (Some(img), Some(&label)) = (pair.0.image(i), pair.1.labels().get(i)) else {
            return Err(Error::Shape(format!(
                "sample {i} is beyond {} or its labels",
                pair.0.path().display()
            )));
        };
        if img.len() != d {
            return Err(Error::Shape(format!(
                "{} has {} pixels per image, expected {d}",
                pair.0.path().display(),
                img.len()
            )));
        }
        u8_to_unit(img, x.col_as_slice_mut(j));
        labels.push(label);
    }
    Ok(Dataset {
        x,
        labels,
        n_classes: MNIST_CLASSES,
    })
}

/// Subtracts the per-pixel mean of the columns of `train`, m = (1/n) Σ_j train[:, j], from every
/// column of `train` and `test`.
fn center(train: &mut Mat<f64>, test: &mut Mat<f64>) {
    let n = train.ncols();
    if n == 0 {
        return;
    }
    let mut mean = vec![0.0; train.nrows()];
    for j in 0..n {
        for (m, &v) in mean.iter_mut().zip(train.col_as_slice(j)) {
            *m += v;
        }
    }
    for m in &mut mean {
        *m /= n as f64;
    }
    for x in [train, test] {
        for j in 0..x.ncols() {
            for (v, &m) in x.col_as_slice_mut(j).iter_mut().zip(&mean) {
                *v -= m;
            }
        }
    }
}
