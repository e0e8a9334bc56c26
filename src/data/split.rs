//! Carving a train/test [`Split`] out of one or two file [`Pair`]s: the split semantics shared by
//! task mnist and task data.
//!
//! - **Test pair present, no test split**: train on the whole training pair, test on the whole
//!   test pair.
//! - **Test pair present, test split `FROM:TO`**: the test set is samples FROM..TO of the *test
//!   pair*; the rest of it (..FROM and TO..) joins the training set after the training pair.
//!   `5000:10000` trains on train5k + t10k[0..5000] and tests on t10k[5000..10000].
//! - **No test pair, test split `FROM:TO`**: the test set is samples FROM..TO of the *training
//!   pair*, the rest of it is the training set.
//! - **No test pair, no split**: an error asking for a test split.
//!
//! Samples keep file order; shuffling is the trainer's job. A `limit` keeps ⌊i·n/limit⌋ for
//! i < limit of the n training samples: evenly spread, so a sorted file still gives every class
//! its share. Values are converted to f64 and divided by `scale` when one is given (bytes/255
//! through the bit-exact SIMD kernel of [`super::convert`]).

use std::ops::Range;

use faer::Mat;
use rayon::prelude::*;

use super::convert::u8_to_unit;
use super::preprocess::BYTE_SCALE;
use super::samples::Pair;
use super::{Dataset, Split, TestSplit};
use crate::data::array::Elem;
use crate::error::Field;
use crate::io::par_zeros;
use crate::io::MemoryLimit;
use crate::{Error, Result};

/// How to split and convert: the test split, the training limit, the divisor of every value,
/// the number of classes, the sets assembled.
#[derive(Clone, Copy, Debug)]
pub struct SplitSpec {
    pub test_split: Option<TestSplit>,
    pub limit: Option<usize>,
    pub scale: Option<f64>,
    pub n_classes: usize,
    pub sets: Sets,
}

/// Which sets of the split are assembled into f64 matrices.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Sets {
    /// The training and the test set.
    #[default]
    Both,
    /// The test set only: the training set is still carved out and checked (its segments,
    /// limit and provenance exactly as under `Both`) but left empty, d × 0, for a command that
    /// reads the test set alone (`analyze`/`propagate --on test` of a model file).
    Test,
    /// As [`Sets::Test`], and the test set kept as its pixel bytes ([`Split::test_pixels`],
    /// `test.x` left d × 0) when every test sample is bytes scaled by 1/255; otherwise as
    /// [`Sets::Test`]. For a command that reads the test set only through
    /// [`Split::test_labelled`] (`analyze` and `propagate` of a model file).
    TestPixels,
}

/// Whether test samples of shape `a` line up with training samples of shape `b` feature by
/// feature: the same number of values, and the same shape once dimensions of length 1 are
/// dropped unless one of them is flat (at most one dimension longer than 1: (784,) beside
/// (28, 28) is the C-order flattening corrflow reads both as). (2, 392) beside (28, 28) has
/// the same count but another layout; it was read as the same features (adv62).
fn same_sample_shape(a: &[usize], b: &[usize]) -> bool {
    let long = |d: &[usize]| d.iter().copied().filter(|&n| n > 1).collect::<Vec<_>>();
    let (la, lb) = (long(a), long(b));
    a.iter().product::<usize>() == b.iter().product::<usize>()
        && (la.len() <= 1 || lb.len() <= 1 || la == lb)
}

/// The split and a one-line account of which files and ranges went where.
pub fn split_pairs(
    train: &Pair,
    test: Option<&Pair>,
    spec: &SplitSpec,
    memory: MemoryLimit,
) -> Result<(Split, String)> {
    if let Some(t) = test {
        if !same_sample_shape(&t.x.dims()[1..], &train.x.dims()[1..]) {
            return Err(Error::format(
                t.x.path(),
                format!(
                    "samples of shape {:?} but the training samples {} are {:?}; expected \
                     the same shape, or one of them flat with as many values",
                    &t.x.dims()[1..],
                    train.x.path().display(),
                    &train.x.dims()[1..]
                ),
            ));
        }
    }
    let (train_segs, test_segs) = segments(spec, train, test)?;
    let d = train.x.row_len();
    let train_index = train_index(spec, &train_segs)?;
    let test_index: Vec<_> = test_segs.iter().flat_map(Segment::samples).collect();
    let assembled: &[Sample] = match spec.sets {
        Sets::Both => &train_index,
        Sets::Test | Sets::TestPixels => &[],
    };
    let pixels = spec.sets == Sets::TestPixels
        && spec.scale == Some(BYTE_SCALE)
        && test_index
            .iter()
            .all(|&(pair, i)| pair.x.elem() == Elem::U8 && pair.x.row_bytes(i).is_some());
    check_memory(train, d, assembled.len() + test_index.len(), memory)?;
    // Independent: assembled side by side.
    let (train_ds, test) = rayon::join(
        || assemble(assembled, d, spec),
        || {
            if pixels {
                assemble_pixels(&test_index, d, spec).map(|(ds, b)| (ds, Some(b)))
            } else {
                assemble(&test_index, d, spec).map(|ds| (ds, None))
            }
        },
    );
    let (train_ds, (test_ds, test_pixels)) = (train_ds?, test?);
    let provenance = format!(
        "train: {}{}; test: {}",
        describe(&train_segs),
        match spec.limit {
            Some(l) if l < count(&train_segs) => format!(" (limit {l}, evenly spread)"),
            _ => String::new(),
        },
        describe(&test_segs),
    );
    let split = Split {
        train: train_ds,
        test: test_ds,
        test_pixels,
    };
    Ok((split, provenance))
}

/// The training and test segments of the split semantics.
fn segments<'a>(
    spec: &SplitSpec,
    train: &'a Pair,
    test: Option<&'a Pair>,
) -> Result<(Vec<Segment<'a>>, Vec<Segment<'a>>)> {
    let whole = |p: &'a Pair| Segment {
        pair: p,
        range: 0..p.len(),
    };
    let carve = |p: &'a Pair, s: &TestSplit| -> Result<_> {
        let r = s.range_in(p.len(), p.x.path())?;
        let rest = vec![
            Segment {
                pair: p,
                range: 0..r.start,
            },
            Segment {
                pair: p,
                range: r.end..p.len(),
            },
        ];
        Ok((rest, Segment { pair: p, range: r }))
    };
    let (train_segs, test_seg): (Vec<_>, _) = match (test, &spec.test_split) {
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
                    train.x.path().display(),
                    train.len()
                ),
            ))
        }
    };
    let train_segs: Vec<_> = train_segs
        .into_iter()
        .filter(|s| !s.range.is_empty())
        .collect();
    if train_segs.is_empty() {
        return Err(match spec.test_split {
            Some(_) => Error::config(
                Field::TestSplit,
                "the test split leaves no training samples",
            ),
            None => Error::format(
                train.x.path(),
                "holds no samples; training needs at least one",
            ),
        });
    }
    Ok((train_segs, vec![test_seg]))
}

/// The training samples, thinned to `limit` evenly spread ones (⌊i·n/limit⌋) when a limit is
/// set; only the samples kept are listed.
fn train_index<'a>(spec: &SplitSpec, segs: &[Segment<'a>]) -> Result<Vec<Sample<'a>>> {
    let n = count(segs);
    match spec.limit {
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

/// Refuses to assemble `n` samples of `d` values (8·d·n bytes of f64 plus 4·n of labels) when
/// that exceeds `limit`, naming the features file and the estimate.
fn check_memory(pair: &Pair, d: usize, n: usize, limit: MemoryLimit) -> Result<()> {
    let bytes = 8 * d as u128 * n as u128 + 4 * n as u128;
    if limit.allows(bytes) {
        return Ok(());
    }
    Err(Error::format(
        pair.x.path(),
        format!(
            "{n} samples of {d} values need {bytes} bytes as f64, over the memory limit of {}; keep fewer samples",
            limit.describe()
        ),
    ))
}

/// `file[a..b] + …` for a list of segments.
fn describe(segs: &[Segment]) -> String {
    segs.iter()
        .map(|s| {
            format!(
                "{}[{}..{}]",
                s.pair.x.path().display(),
                s.range.start,
                s.range.end
            )
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Builds a d × n dataset whose column j is sample j, each value divided by `spec.scale` (d is
/// explicit so that an empty set still has the right dimension). The columns are zeroed and
/// written in parallel chunks ([`par_zeros`]: the page faults of a fresh 8·d·n-byte matrix are
/// shared among the threads); an error is that of the first failing sample in column order.
fn assemble(samples: &[Sample], d: usize, spec: &SplitSpec) -> Result<Dataset> {
    let mut x = par_zeros(d, samples.len());
    let chunks: Vec<Result<Vec<u32>>> = x
        .as_mut()
        .par_col_chunks_mut(COLUMNS_PER_TASK)
        .zip(samples.par_chunks(COLUMNS_PER_TASK))
        .map(|(mut cols, samples)| {
            samples
                .iter()
                .enumerate()
                .map(|(j, &(pair, i))| {
                    let col = cols.as_mut().col_mut(j).try_as_col_major_mut();
                    let col = col.expect("an owned matrix's columns are contiguous");
                    write_sample(pair, i, col.as_slice_mut(), spec)
                })
                .collect()
        })
        .collect();
    let mut labels = Vec::with_capacity(samples.len());
    for chunk in chunks {
        labels.extend(chunk?);
    }
    Ok(Dataset {
        x,
        labels,
        n_classes: spec.n_classes,
    })
}

/// The samples' pixel bytes side by side (sample j at j·d … (j+1)·d) and a d × 0 dataset with
/// their labels: [`assemble`]'s values are these bytes divided by 255 ([`u8_to_unit`]), so
/// reading them through [`Split::test_labelled`] gives its numbers bit for bit. Every sample
/// must be bytes ([`split_pairs`] checks before it calls this).
fn assemble_pixels(samples: &[Sample], d: usize, spec: &SplitSpec) -> Result<(Dataset, Vec<u8>)> {
    let labels = samples
        .iter()
        .map(|&(pair, i)| label(pair, i))
        .collect::<Result<Vec<_>>>()?;
    // The rows copied in parallel chunks: the copy's page faults (a fresh allocation, 7.8 MB
    // for MNIST's test set) are shared among the threads, as in `par_zeros`.
    let mut bytes = vec![0u8; d * samples.len()];
    bytes
        .par_chunks_mut(d.max(1))
        .zip(samples)
        .with_min_len(COLUMNS_PER_TASK)
        .try_for_each(|(out, &(pair, i))| {
            let row = pair.x.row_bytes(i).ok_or_else(|| {
                Error::format(pair.x.path(), format!("sample {i} is not a row of bytes"))
            })?;
            out.copy_from_slice(row);
            Ok::<_, Error>(())
        })?;
    let ds = Dataset {
        x: Mat::zeros(d, 0),
        labels,
        n_classes: spec.n_classes,
    };
    Ok((ds, bytes))
}

/// The label of sample `i` of `pair`.
fn label(pair: &Pair, i: usize) -> Result<u32> {
    pair.y.get(i).ok_or_else(|| {
        Error::Shape(format!(
            "sample {i} is beyond the labels of {}",
            pair.y.path().display()
        ))
    })
}

/// Samples converted per task of [`assemble`].
const COLUMNS_PER_TASK: usize = 64;

/// The error of value `k` of sample `i` of `pair`, `scaled` once divided by `scale`, that is not
/// finite: the file's where the stored value is not, else `--scale`'s (a finite value divided by
/// a scale of 1e-320 overflows; it was said to be the file's "non-finite value -inf", adv43).
fn non_finite(pair: &Pair, i: usize, k: usize, scaled: f64, scale: Option<f64>) -> Error {
    let mut raw = vec![0.0; pair.x.row_len()];
    pair.x.row_f64(i, &mut raw);
    match scale {
        Some(s) if raw[k].is_finite() => Error::config(
            Field::Scale,
            format!(
                "{}: value {:.5e} at sample {i}, feature {k}, divided by {s:e} is {scaled}, beyond \
                 f64's range; expected a scale that keeps every value finite",
                pair.x.path().display(),
                // 6 significant digits: the value in full ("-3.6904559931127854e0", adv43)
                // says no more to the user than its size.
                raw[k]
            ),
        ),
        _ => Error::format(
            pair.x.path(),
            format!("non-finite value {} at sample {i}, feature {k}", raw[k]),
        ),
    }
}

/// Writes sample `i` of `pair` into `col`, divided by `spec.scale`, and returns its label.
fn write_sample(pair: &Pair, i: usize, col: &mut [f64], spec: &SplitSpec) -> Result<u32> {
    let label = label(pair, i)?;
    match (pair.x.elem(), spec.scale, pair.x.row_bytes(i)) {
        // b/255 of a byte b: finite by construction.
        (Elem::U8, Some(BYTE_SCALE), Some(bytes)) => u8_to_unit(bytes, col),
        _ => {
            pair.x.row_f64(i, col);
            if let Some(s) = spec.scale {
                col.iter_mut().for_each(|v| *v /= s);
            }
            if let Some(k) = col.iter().position(|v| !v.is_finite()) {
                return Err(non_finite(pair, i, k, col[k], spec.scale));
            }
        }
    }
    Ok(label)
}
