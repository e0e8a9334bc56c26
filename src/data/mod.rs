//! Data: IDX files (MNIST), the XOR task and the higher-order task.

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
