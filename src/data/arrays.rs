//! Task data: features and labels from array files ([`super::array`]: NumPy `.npy`,
//! safetensors, IDX of any type), split as [`super::split`] describes, with any number of
//! classes ≥ 2.

use std::path::{Path, PathBuf};

use super::array::{ArrayFile, OpenOptions};
use super::preprocess::Scale;
use super::samples::{Labels, Pair};
use super::split::{split_pairs, Sets, SplitSpec};
use super::{Split, TestSplit};
use crate::error::Field;
use crate::io::MemoryLimit;
use crate::{Error, Result};

/// Default tensor name of the features in a safetensors data file.
pub const X_TENSOR: &str = "x";
/// Default tensor name of the labels in a safetensors data file.
pub const Y_TENSOR: &str = "y";

/// Where task data's samples are and how to read them.
#[derive(Clone, Debug, PartialEq)]
pub struct ArraysConfig {
    pub train_x: PathBuf,
    pub train_y: PathBuf,
    pub test_x: Option<PathBuf>,
    pub test_y: Option<PathBuf>,
    /// Tensor names in safetensors files (features, labels).
    pub tensors: (String, String),
    pub test_split: Option<TestSplit>,
    pub limit: Option<usize>,
    pub scale: Scale,
    /// Classes: the model's outputs when one is given; `None`: the largest label + 1.
    pub n_classes: Option<usize>,
    /// Where `.gz` IDX files are inflated; `None`: the default cache.
    pub cache_dir: Option<PathBuf>,
}

/// Loaded task data: the split, the divisor applied and where the samples came from.
pub struct LoadedArrays {
    pub split: Split,
    pub scale: Option<f64>,
    pub provenance: String,
}

impl ArraysConfig {
    /// Opens, validates and converts the files; a selection whose f64 matrices would exceed
    /// `limit` is refused before anything is allocated.
    pub fn load_limited(&self, limit: MemoryLimit) -> Result<LoadedArrays> {
        self.load_sets_limited(limit, Sets::Both)
    }

    /// [`load_limited`](Self::load_limited) assembling only `sets` ([`Sets`]).
    pub fn load_sets_limited(&self, limit: MemoryLimit, sets: Sets) -> Result<LoadedArrays> {
        let open = |x: &Path, y: &Path| -> Result<Pair> {
            let opts = |tensor| OpenOptions {
                tensor,
                cache_dir: self.cache_dir.as_deref(),
                limit,
            };
            let features = ArrayFile::open(x, &opts(&self.tensors.0))?;
            let labels = ArrayFile::open(y, &opts(&self.tensors.1))?;
            Pair::new(features, Labels::new(labels, self.n_classes)?)
        };
        let train = open(&self.train_x, &self.train_y)?;
        let test = match (&self.test_x, &self.test_y) {
            (Some(x), Some(y)) => Some(open(x, y)?),
            (None, None) => None,
            (Some(_), None) => return Err(Error::config(Field::TestY, "--test-x needs --test-y")),
            (None, Some(_)) => return Err(Error::config(Field::TestX, "--test-y needs --test-x")),
        };
        let max = test.iter().map(|t| t.y.max()).fold(train.y.max(), u32::max);
        let n_classes = self.n_classes.unwrap_or(max as usize + 1);
        if n_classes < 2 {
            // No label at all left `max` at 0: said "every label is 0" for empty files (adv26).
            let none = train.y.is_empty() && test.iter().all(|t| t.y.is_empty());
            return Err(Error::format(
                &self.train_y,
                if none {
                    "holds no labels (0 samples): expected samples of at least 2 classes"
                } else {
                    "every label is 0: a classification needs at least 2 classes"
                },
            ));
        }
        let scale = self.scale.divisor(train.x.elem());
        let spec = SplitSpec {
            test_split: self.test_split,
            limit: self.limit,
            scale,
            n_classes,
            sets,
        };
        let (split, provenance) = split_pairs(&train, test.as_ref(), &spec, limit)?;
        let scaled = match scale {
            Some(s) => format!("; divided by {}", Scale::Divide(s)),
            None => String::new(),
        };
        Ok(LoadedArrays {
            split,
            scale,
            provenance: format!("{provenance}; {n_classes} classes{scaled}"),
        })
    }
}
