//! Per-class statistics held in f32 once finished (`--precision f32`): each class's power sums
//! are accumulated and converted to its mean and covariance in f64
//! ([`super::MomentAccumulator::take_class`]), then the covariance is rounded to f32 and the
//! f64 one released, so the finished statistics of a stage take half the bytes.
//!
//! Where f64 is kept, and why: the means (N per class) stay f64; a reader takes a class's
//! covariance through [`NarrowMoments::cov`], widened (exactly) to f64 into a copy of its own,
//! one class at a time, because the readers — the comparison's Frobenius error, the Cholesky
//! factor of the KL divergence of near-singular Σ — need f64's range of eigenvalues, which
//! f32's relative rounding of 2⁻²⁴ per entry would swamp. The rounding itself changes a
//! covariance by at most 2⁻²⁴ relative per entry, so its relative Frobenius norm by ≤ 6e-8.

use faer::{Col, Mat};

use super::Moments;
use crate::linalg::{narrow, widen};

/// The first unit of `m` whose variance is positive but below f32's normal range (1.2e-38), with
/// that variance: rounded to f32 it loses its digits or turns 0, so a propagation in f32 would
/// read it as another covariance (adv28). `None` when every variance fits.
pub fn below_f32_range(m: &Moments) -> Option<(usize, f64)> {
    (0..m.dim())
        .map(|a| (a, m.cov[(a, a)]))
        .find(|&(_, v)| v > 0.0 && v < f64::from(f32::MIN_POSITIVE))
}

/// The finished per-class means (f64) and covariances (f32) of one stage.
#[derive(Clone, Debug, Default)]
pub struct NarrowMoments {
    /// The label of each entry, in label order (a class without samples is left out).
    pub classes: Vec<usize>,
    /// Number of samples of each entry.
    pub counts: Vec<u64>,
    means: Vec<Col<f64>>,
    covs: Vec<Mat<f32>>,
}

impl NarrowMoments {
    /// Appends class `class` (after every class already held) with its `count` samples and
    /// finished f64 moments `m`, whose covariance is rounded to f32 and released here.
    pub fn push(&mut self, class: usize, count: u64, m: Moments) {
        let mut cov = Mat::<f32>::zeros(m.cov.nrows(), m.cov.ncols());
        narrow(&m.cov, cov.as_mut());
        self.classes.push(class);
        self.counts.push(count);
        self.means.push(m.mean);
        self.covs.push(cov);
    }

    /// Number of classes held.
    pub fn len(&self) -> usize {
        self.means.len()
    }

    /// True when no class is held.
    pub fn is_empty(&self) -> bool {
        self.means.is_empty()
    }

    /// Entry `k`'s mean.
    pub fn mean(&self, k: usize) -> &Col<f64> {
        &self.means[k]
    }

    /// Entry `k`'s covariance widened to f64, into a new matrix.
    pub fn cov(&self, k: usize) -> Mat<f64> {
        let mut wide = Mat::new();
        widen(&self.covs[k], &mut wide);
        wide
    }

    /// Entry `k`'s covariance as held, in f32.
    pub fn cov_f32(&self, k: usize) -> &Mat<f32> {
        &self.covs[k]
    }

    /// Bytes held by the means and covariances (capacity not counted).
    pub fn bytes(&self) -> usize {
        let means: usize = self.means.iter().map(|m| m.nrows()).sum();
        let covs: usize = self.covs.iter().map(|c| c.nrows() * c.ncols()).sum();
        8 * means + 4 * covs
    }
}
