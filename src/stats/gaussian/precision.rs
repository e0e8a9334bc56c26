//! Inverses and log-determinants of a group of covariances with the KL divergence's shared,
//! stated ridge ([`super::factor`]): what a statistic built on the Gaussian KL needs where it
//! forms Σ⁻¹ explicitly (the Monte Carlo pilot's KL difference,
//! `propagate::higher::pilot`), for small dimensions (network outputs).

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Accum, Mat, MatRef, Par};

use super::factor::{factor_group, log_det};
use crate::error::Result;

/// Σₖ⁻¹ and ln det Σₖ of each covariance of a group, and the jitter λ added to every one of
/// them (0 if none): the inverses and log-determinants of Σₖ + λI.
pub struct Precisions {
    pub inverse: Vec<Mat<f64>>,
    pub log_det: Vec<f64>,
    pub jitter: f64,
}

/// The [`Precisions`] of `covs` (named `names` in errors) with the relative ridge `ridge`
/// applied to all of them where one needs it, as [`super::kl_divergence`] does: from the lower
/// Cholesky factors L (Σ + λI = LLᵀ), Σ⁻¹ = L⁻ᵀL⁻¹ = XᵀX with X = L⁻¹ (a triangular solve of
/// the identity) and ln det = 2 Σᵢ ln Lᵢᵢ. An error where a covariance is not positive
/// definite even with the ridge. O(n³) per matrix.
pub fn precisions(covs: &[MatRef<'_, f64>], names: &[&str], ridge: f64) -> Result<Precisions> {
    let f = factor_group(covs, names, (ridge, false), Par::Seq)?;
    let mut inverse = Vec::with_capacity(covs.len());
    let mut dets = Vec::with_capacity(covs.len());
    for l in &f.l {
        inverse.push(inverse_of_factor(l.as_ref(), Par::Seq));
        dets.push(log_det(l.as_ref()));
    }
    Ok(Precisions {
        inverse,
        log_det: dets,
        jitter: f.jitter,
    })
}

/// Σ̃⁻¹ = L⁻ᵀL⁻¹ = XᵀX from the lower Cholesky factor L of Σ̃ = LLᵀ, X = L⁻¹ by a triangular
/// solve of the identity, with parallelism `par`: the precisions above and the KL's rounding
/// estimate (`super::rounding`).
pub(super) fn inverse_of_factor(l: MatRef<'_, f64>, par: Par) -> Mat<f64> {
    let n = l.nrows();
    let mut x = Mat::<f64>::identity(n, n);
    solve_lower_triangular_in_place(l, x.as_mut(), par);
    let mut inverse = Mat::<f64>::zeros(n, n);
    matmul(
        inverse.as_mut(),
        Accum::Replace,
        x.transpose(),
        x.as_ref(),
        1.0,
        par,
    );
    inverse
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Σ Σ⁻¹ = I and ln det against the product of a diagonal's entries; a singular matrix
    /// gets the ridge, shared with the regular one.
    #[test]
    fn inverts_and_takes_the_log_determinant() {
        let c = Mat::from_fn(3, 3, |i, j| if i == j { 2.0 + i as f64 } else { 0.5 });
        let d = Mat::from_fn(3, 3, |i, j| if i == j { (i + 1) as f64 } else { 0.0 });
        let p = precisions(&[c.as_ref(), d.as_ref()], &["c", "d"], 1e-8).unwrap();
        assert_eq!(p.jitter, 0.0);
        let eye = &c * &p.inverse[0];
        let off = (&eye - Mat::<f64>::identity(3, 3)).norm_l2();
        assert!(off < 1e-13, "{off}");
        assert!((p.log_det[1] - 6f64.ln()).abs() < 1e-13);
        let singular = Mat::from_fn(3, 3, |i, j| if i == j && i > 0 { 1.0 } else { 0.0 });
        let q = precisions(&[singular.as_ref(), d.as_ref()], &["s", "d"], 1e-8).unwrap();
        assert!(q.jitter > 0.0);
        assert!((q.inverse[0][(0, 0)] - 1.0 / q.jitter).abs() < 1e-6 / q.jitter);
    }
}
