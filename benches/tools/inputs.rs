//! Deterministic inputs shared by the criterion benches and the peer example, so both measure
//! the same kind of layer.

use corrflow::stats::Moments;
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, Par};

/// Deterministic uniform numbers in [−1, 1) (SplitMix64), so every run benchmarks the same data.
pub struct Uniform(pub u64);

impl Uniform {
    pub fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        2.0 * ((z >> 11) as f64 / (1u64 << 53) as f64) - 1.0
    }

    /// An m × n matrix of `scale`·U(−1, 1) entries, column by column.
    pub fn mat(&mut self, m: usize, n: usize, scale: f64) -> Mat<f64> {
        Mat::from_fn(m, n, |_, _| scale * self.next())
    }
}

/// Moments of a typical hidden layer drawn from `u`: Σ = BBᵀ/8 + D with B of rank 8 (so
/// correlations spread over (−1, 1), exercising every branch of Φ₂) and D ∈ [0.05, 0.45] a
/// diagonal; μ = 0.6·U(−1, 1).
pub fn layer_moments(u: &mut Uniform, n: usize) -> Moments {
    let b = u.mat(n, 8, 1.0);
    let mut cov = Mat::zeros(n, n);
    matmul(
        cov.as_mut(),
        Accum::Replace,
        b.as_ref(),
        b.transpose(),
        0.125,
        Par::Seq,
    );
    for i in 0..n {
        cov[(i, i)] += 0.05 + 0.2 * (u.next() + 1.0);
    }
    let mean = Col::from_fn(n, |_| 0.6 * u.next());
    Moments::gaussian(mean, cov)
}
