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

use super::{Moments, ROUNDING_SPREAD_ULPS};
use crate::linalg::{narrow, widen};

/// f32's unit roundoff u = 2⁻²⁴: a value rounded to the nearest f32 is off by at most u
/// relative (a covariance held here: each entry by u·|Σᵢⱼ| ≤ u·√(ΣᵢᵢΣⱼⱼ)).
pub const F32_ROUNDOFF: f64 = f32::EPSILON as f64 / 2.0;

/// The first unit of `m` whose variance is positive but below f32's normal range (1.2e-38), with
/// that variance: rounded to f32 it loses its digits or turns 0, so a propagation in f32 would
/// read it as another covariance (adv28). `None` when every variance fits.
///
/// A variance at the rounding level of the unit's mean, σᵢ ≤ [`ROUNDING_SPREAD_ULPS`]·ε·|μᵢ|
/// (f64's ε), is no spread but rounding, and counts as 0 here, as the comparison counts such a
/// spread (`analysis::compare`): a constant unit (a zero weight row with a bias b)
/// is measured about the class's shift K, the mean of its first batch, which can differ from b
/// in its last bits; its variance M − m² of the equal deviations b − K is then the rounding of
/// (b − K)², ~10⁻⁵⁰, not 0 (adv73). f32 holds it as 0 (exactly constant), as f64 holds
/// 10⁻⁵⁰: the unit is constant in both.
pub fn below_f32_range(m: &Moments) -> Option<(usize, f64)> {
    (0..m.dim()).map(|a| (a, m.cov[(a, a)])).find(|&(a, v)| {
        let rounding = ROUNDING_SPREAD_ULPS * f64::EPSILON * m.mean[a].abs();
        v > 0.0 && v < f64::from(f32::MIN_POSITIVE) && v.sqrt() > rounding
    })
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

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;

    fn moments(mean: [f64; 3], variance: [f64; 3]) -> Moments {
        Moments::gaussian(
            Col::from_fn(3, |i| mean[i]),
            Mat::from_fn(3, 3, |i, j| if i == j { variance[i] } else { 0.0 }),
        )
    }

    /// A variance below f32's normal range is refused unless it is the rounding of the unit's
    /// mean, σ ≤ 16ε|μ| (adv73: a constant unit of mean 0.2 measured 4.4·10⁻⁴⁷ about a
    /// shift off in its last bits); below f32's range and above that level it still is, and
    /// a mean of 0 leaves no rounding level.
    #[test]
    fn a_variance_at_the_rounding_level_of_its_mean_is_not_below_f32_range() {
        // 16ε·0.2 = 7.1e-16, squared 5.0e-31: 4.4e-47 is rounding.
        assert_eq!(
            below_f32_range(&moments([1.0, 0.2, 0.0], [1.0, 4.4e-47, 0.0])),
            None
        );
        assert_eq!(
            below_f32_range(&moments([1.0, 0.0, 0.0], [1.0, 4.4e-47, 0.0])),
            Some((1, 4.4e-47))
        );
        // σ = 10⁻²⁰ against a mean of 10⁻¹⁰ (level 3.6·10⁻²⁵): a spread, refused.
        assert_eq!(
            below_f32_range(&moments([1.0, 1e-10, 0.0], [1.0, 1e-40, 0.0])),
            Some((1, 1e-40))
        );
        assert_eq!(below_f32_range(&moments([1.0; 3], [1.0, 1e-30, 0.0])), None);
    }
}
