//! Data: array files (NumPy, safetensors, IDX), MNIST, the XOR task and the higher-order task.
//!
//! - [`array`](mod@array): memory-mapped arrays of any element type and shape from `.npy`, safetensors and
//!   IDX files, with strict validation.
//! - [`idx`]: memory-mapped IDX files (raw or `.gz`) with strict validation, and a writer.
//! - [`samples`], [`split`]: feature/label pairs and the train/test split of them.
//! - [`mnist`]: MNIST image/label pairs → train/test [`Split`] (`--test-split FROM:TO`, limit,
//!   centring).
//! - [`arrays`]: task data, any array files with any number of classes.
//! - [`preprocess`]: scale, normaliser, centring, standardisation.
//! - [`xor`]: the XOR task (class only in the covariance).
//! - [`higher_order`]: equal mean and covariance, classes differ in κ₃.
//! - [`convert`]: the SIMD pixel-byte → f64 kernel.

pub mod array;
pub mod arrays;
pub mod convert;
pub mod higher_order;
pub mod idx;
pub mod labelled;
pub mod mnist;
pub mod preprocess;
mod rotation;
pub mod samples;
pub mod split;
pub mod xor;

pub use arrays::ArraysConfig;
pub use higher_order::HigherOrderConfig;
pub use idx::{write_idx_u8, IdxFile, IdxImages, IdxLabels};
pub use labelled::{class_counts, Columns, Labelled};
pub use mnist::{Mnist, MnistConfig, MnistFiles, MnistSource, TestSplit};
pub use preprocess::{Normalization, Scale};
pub use xor::XorConfig;

use faer::Mat;

/// Labelled samples, one sample per column: `x` is d × n, `labels[j]` ∈ 0..`n_classes`.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub x: Mat<f64>,
    pub labels: Vec<u32>,
    pub n_classes: usize,
}

impl Dataset {
    /// Number of samples n.
    pub fn len(&self) -> usize {
        self.labels.len()
    }
    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
    /// Input dimension d.
    pub fn dim(&self) -> usize {
        self.x.nrows()
    }
}

/// A training set and a test set of the same task.
#[derive(Clone, Debug)]
pub struct Split {
    pub train: Dataset,
    pub test: Dataset,
    /// The test samples as pixel bytes, sample j at j·d … (j+1)·d, when they were assembled
    /// compact ([`split::Sets::TestPixels`]): then `test.x` is d × 0 (its labels are all there)
    /// and the samples are read through [`Split::test_labelled`].
    pub test_pixels: Option<Vec<u8>>,
}

impl Split {
    /// The test set as the measurements read it: its pixel bytes when it was assembled
    /// compact, else its f64 columns.
    pub fn test_labelled(&self) -> Labelled<'_> {
        match &self.test_pixels {
            Some(bytes) => Labelled {
                columns: Columns::Pixels {
                    bytes,
                    dim: self.test.dim(),
                },
                labels: &self.test.labels,
                n_classes: self.test.n_classes,
            },
            None => Labelled::from(&self.test),
        }
    }
}
