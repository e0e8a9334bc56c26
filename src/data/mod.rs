//! Data: IDX files (MNIST), the XOR task and the higher-order task.
//!
//! - [`idx`]: memory-mapped IDX files (raw or `.gz`) with strict validation, and a writer.
//! - [`mnist`]: MNIST image/label pairs → train/test [`Split`] (`--test-split FROM:TO`, limit,
//!   centring).
//! - [`xor`]: the XOR task (class only in the covariance).
//! - [`higher_order`]: equal mean and covariance, classes differ in κ₃.
//! - [`convert`]: the SIMD pixel-byte → f64 kernel.

pub mod convert;
pub mod higher_order;
pub mod idx;
pub mod mnist;
mod rotation;
pub mod xor;

pub use higher_order::HigherOrderConfig;
pub use idx::{write_idx_u8, IdxImages, IdxLabels, IdxU8};
pub use mnist::{Mnist, MnistConfig, MnistFiles, MnistSource, TestSplit};
pub use xor::XorConfig;

use faer::Mat;

/// Labelled samples, one sample per column: `x` is d × n, `labels[j]` ∈ 0..`n_classes`.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub x: Mat<f64>,
    pub labels: Vec<u8>,
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
}
