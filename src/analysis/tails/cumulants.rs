//! The first four cumulants of a sample of K-dimensional outputs in whitened coordinates, as the
//! Edgeworth model of the output's tails needs them ([`super::weight`]).
//!
//! With the sample mean ȳ (a coordinate whose samples are all equal: that value, exactly) and
//! covariance C = (1/n) Σ (y − ȳ)(y − ȳ)ᵀ = U Λ Uᵀ, keep the r
//! eigenvalues above [`RANK_TOL`]·λ_max, F = U_r Λ_r^{1/2} (K × r, F Fᵀ = C on its range) and
//! u = Λ_r^{−1/2} U_rᵀ (y − ȳ), so that y = ȳ + F u, E u = 0 and E u uᵀ = I. The cumulants of u are
//!
//! ```text
//! κ₃[a,b,c]   = E[u_a u_b u_c],
//! κ₄[a,b,c,d] = E[u_a u_b u_c u_d] − (m_ab m_cd + m_ac m_bd + m_ad m_bc),  m = E u uᵀ (= I),
//! ```
//!
//! sample averages with 1/n (plug-in cumulants; their sampling error is not propagated).

use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, MatRef, Par, Side};

use crate::error::{Error, Result};

/// Eigenvalues of C at most this times the largest are dropped (a direction without spread).
pub const RANK_TOL: f64 = 1e-12;

/// Mean, factor and whitened κ₃/κ₄ of a sample; index pairs (b, c) are flattened as b + r·c.
#[derive(Clone, Debug)]
pub struct WhitenedCumulants {
    /// ȳ (K).
    pub mean: Col<f64>,
    /// F = U_r Λ_r^{1/2} (K × r).
    pub factor: Mat<f64>,
    /// κ₃ as an r × r² matrix: `k3[(a, b + r·c)]` = κ₃\[a,b,c\].
    pub k3: Mat<f64>,
    /// κ₄ as an r² × r² matrix: `k4[(a + r·b, c + r·d)]` = κ₄\[a,b,c,d\].
    pub k4: Mat<f64>,
}

impl WhitenedCumulants {
    /// r, the rank kept.
    pub fn rank(&self) -> usize {
        self.factor.ncols()
    }

    /// Measures the cumulants of the columns of `y` (K × n, n ≥ 2, finite).
    pub fn of_samples(y: MatRef<'_, f64>) -> Result<Self> {
        let (k, n) = (y.nrows(), y.ncols());
        if n < 2 || k == 0 {
            return Err(Error::Shape(format!(
                "output cumulants need at least 2 samples of a non-empty output, got {n} of \
                 dimension {k}"
            )));
        }
        if !(0..n).all(|j| y.col(j).iter().all(|v| v.is_finite())) {
            return Err(Error::Numeric(
                "output cumulants: the network's outputs are not finite".into(),
            ));
        }
        let nf = n as f64;
        // A coordinate whose samples are all equal has that value as its mean, exactly: the
        // summed mean can differ from it by rounding, which left a covariance of rounding noise
        // whose direction the relative rank test kept.
        let mean = Col::from_fn(k, |i| {
            let first = y[(i, 0)];
            if (1..n).all(|j| y[(i, j)] == first) {
                first
            } else {
                (0..n).map(|j| y[(i, j)]).sum::<f64>() / nf
            }
        });
        let centred = Mat::from_fn(k, n, |i, j| y[(i, j)] - mean[i]);
        let mut cov = Mat::zeros(k, k);
        gemm(
            cov.as_mut(),
            centred.as_ref(),
            centred.transpose(),
            1.0 / nf,
        );
        let evd = cov.self_adjoint_eigen(Side::Lower).map_err(|e| {
            Error::Numeric(format!(
                "output cumulants: eigendecomposition failed: {e:?}"
            ))
        })?;
        let lambda = evd.S().column_vector();
        let top = lambda.iter().copied().fold(0.0, f64::max);
        let kept: Vec<usize> = (0..k).filter(|&i| lambda[i] > RANK_TOL * top).collect();
        if kept.is_empty() {
            return Err(Error::Numeric(
                "output cumulants: the outputs of a class do not vary (zero covariance)".into(),
            ));
        }
        let u = evd.U();
        let r = kept.len();
        let factor = Mat::from_fn(k, r, |i, a| u[(i, kept[a])] * lambda[kept[a]].sqrt());
        let whiten = Mat::from_fn(r, k, |a, i| u[(i, kept[a])] / lambda[kept[a]].sqrt());
        let mut z = Mat::zeros(r, n);
        gemm(z.as_mut(), whiten.as_ref(), centred.as_ref(), 1.0);
        let z2 = outer_columns(z.as_ref());
        let mut k3 = Mat::zeros(r, r * r);
        gemm(k3.as_mut(), z.as_ref(), z2.transpose(), 1.0 / nf);
        let mut m = Mat::zeros(r, r);
        gemm(m.as_mut(), z.as_ref(), z.transpose(), 1.0 / nf);
        let mut k4 = Mat::zeros(r * r, r * r);
        gemm(k4.as_mut(), z2.as_ref(), z2.transpose(), 1.0 / nf);
        for d in 0..r {
            for c in 0..r {
                for b in 0..r {
                    for a in 0..r {
                        k4[(a + r * b, c + r * d)] -=
                            m[(a, b)] * m[(c, d)] + m[(a, c)] * m[(b, d)] + m[(a, d)] * m[(b, c)];
                    }
                }
            }
        }
        Ok(WhitenedCumulants {
            mean,
            factor,
            k3,
            k4,
        })
    }
}

/// The r² × b matrix whose column j is vec(z_j z_jᵀ), entry b + r·c = z_b z_c.
pub fn outer_columns(z: MatRef<'_, f64>) -> Mat<f64> {
    let r = z.nrows();
    Mat::from_fn(r * r, z.ncols(), |p, j| z[(p % r, j)] * z[(p / r, j)])
}

/// dst = alpha · a · b, on the calling thread (the output tails run one class per thread).
pub fn gemm(dst: faer::MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    matmul(dst, Accum::Replace, a, b, alpha, Par::Seq);
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;

    /// Independent standardised exponentials (κ₃ = 2, κ₄ = 6 on the diagonal, 0 elsewhere)
    /// mixed by an invertible A: whitening undoes A up to a rotation R, so the whitened κ₃/κ₄
    /// are R applied to the diagonal ones; rotation invariants check them: Σ κ₃[a,b,c]² = 3·2² and
    /// Σ κ₄[a,a,b,b] = 3·6 (sums over all indices), within sampling error.
    #[test]
    fn whitened_cumulants_of_mixed_exponentials() {
        let (k, n) = (3, 400_000);
        let mut rng = StdRng::seed_from_u64(5);
        let e = Mat::from_fn(k, n, |_, _| -(1.0 - rng.random::<f64>()).ln() - 1.0);
        let a = Mat::from_fn(k, k, |i, j| {
            [[2.0, 0.5, 0.0], [0.3, 1.0, 0.2], [0.0, -0.4, 0.7]][i][j]
        });
        let mut y = Mat::zeros(k, n);
        gemm(y.as_mut(), a.as_ref(), e.as_ref(), 1.0);
        let c = WhitenedCumulants::of_samples(y.as_ref()).unwrap();
        assert_eq!(c.rank(), 3);
        let k3_sq: f64 = (0..k)
            .map(|a| (0..k * k).map(|p| c.k3[(a, p)].powi(2)).sum::<f64>())
            .sum();
        let k4_tr: f64 = (0..k)
            .flat_map(|a| (0..k).map(move |b| (a, b)))
            .map(|(a, b)| c.k4[(a + k * a, b + k * b)])
            .sum();
        // Sampling errors (n = 4·10⁵): κ₃ entries ~ √(15/n) ≈ 0.006, κ₄ ~ √(E e⁸/n) ≈ 0.2.
        assert!((k3_sq - 12.0).abs() < 0.6, "Σκ₃² = {k3_sq}");
        assert!((k4_tr - 18.0).abs() < 2.0, "Σκ₄[a,a,b,b] = {k4_tr}");
        // Factor reproduces the covariance A Aᵀ of the mixed unit-variance exponentials.
        for i in 0..k {
            for j in 0..k {
                let ff: f64 = (0..3).map(|t| c.factor[(i, t)] * c.factor[(j, t)]).sum();
                let aa: f64 = (0..3).map(|t| a[(i, t)] * a[(j, t)]).sum();
                assert!(
                    (ff - aa).abs() < 0.05 * (1.0 + aa.abs()),
                    "({i},{j}): {ff} vs {aa}"
                );
            }
        }
    }

    #[test]
    fn constant_outputs_are_an_error() {
        let y = Mat::from_fn(2, 10, |i, _| i as f64);
        let err = WhitenedCumulants::of_samples(y.as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("do not vary"), "{err}");
    }

    /// Outputs that are constant but whose summed mean is not the value to rounding (0.1 and
    /// −1.7 added 1000 times): the mean is the value itself, so the covariance is exactly zero
    /// (it was rounding noise, kept as a direction: rank 1, and the Edgeworth expansion on it
    /// was flagged as failing); beside a varying coordinate, the constant one drops out.
    #[test]
    fn constant_outputs_with_an_inexact_summed_mean_have_no_spread() {
        let n = 1000;
        let value = [0.1, -1.7];
        let summed: Vec<f64> = value
            .iter()
            .map(|&v| (0..n).map(|_| v).sum::<f64>() / n as f64)
            .collect();
        assert!(
            summed.iter().zip(&value).any(|(s, v)| s != v),
            "the sums must round"
        );
        let y = Mat::from_fn(2, n, |i, _| value[i]);
        let err = WhitenedCumulants::of_samples(y.as_ref())
            .unwrap_err()
            .to_string();
        assert!(err.contains("do not vary"), "{err}");
        let y = Mat::from_fn(2, n, |i, j| if i == 0 { value[0] } else { (j % 7) as f64 });
        let c = WhitenedCumulants::of_samples(y.as_ref()).unwrap();
        assert_eq!(c.rank(), 1);
        assert_eq!(c.factor[(0, 0)], 0.0);
    }
}
