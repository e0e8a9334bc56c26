//! The carried output's directions whose variance broke down keep the Gaussian closure's
//! (issue #16: "never worse than the Gaussian … detect where the expansion breaks down and fall
//! back"). The carry's unit rule ([`super::carry::MIN_VARIANCE_SHARE`]: a unit whose corrected
//! variance would fall below 10 % of the Gaussian closure's keeps the Gaussian moments) looks
//! at units one at a time; the output can still lose variance along a *combination* of units
//! that no single unit shows. Such a direction makes the output distribution nearly singular
//! where the data are not: on quadratic MNIST (784-100-100-10, order 3 from x) class 4's
//! carried output had a covariance error 0.12 against the Gaussian closure's 0.83, but a KL of
//! 12.5 against 0.80 (EXPERIMENTS.md, "The carried output's collapsed directions keep the
//! Gaussian variance, thirtieth session").
//!
//! The same rule, in every direction of the output: with C₂ = L Lᵀ the Gaussian closure's output
//! covariance of the class (from the same start) and C_K the carried one,
//!
//! ```text
//! M = L⁻¹ C_K L⁻ᵀ = U diag(μ) Uᵀ,   μ_k = (v_kᵀ C_K v_k) / (v_kᵀ C₂ v_k),  v_k = L⁻ᵀ u_k,
//! ```
//!
//! so μ_k is the carried variance over the Gaussian one along the generalised eigenvectors of
//! the pencil (C_K, C₂), which diagonalise both. Every μ_k below the unit rule's share is set to
//! 1 (that direction keeps the Gaussian closure's variance, and its cross terms with the others
//! stay 0, as in both matrices), the rest are kept:
//!
//! ```text
//! C' = L U diag(μ') Uᵀ Lᵀ,   μ'_k = 1 where μ_k < MIN_VARIANCE_SHARE, else μ_k.
//! ```
//!
//! C' equals C_K where no μ_k is below the share, is positive definite (every μ'_k ≥ the share)
//! and does not depend on the basis of the output. Only a carry that reached y is guarded
//! (`measure::carried`): an output cut for being indefinite or a class that fell back is
//! already a Gaussian closure's from some layer on, and guarding it against the Gaussian
//! closure *from the start* moved quadratic MNIST's class 1 from a covariance error of 1.69
//! back to 7.70 (the Gaussian's 8.38).

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Mat, MatRef, Par, Side};

use super::carry::MIN_VARIANCE_SHARE;
use crate::linalg::symmetrize;

/// The carried output covariance `carried` with its collapsed directions (module docs) given the
/// Gaussian closure's variance (`gaussian`, the Gaussian closure's output covariance of the same
/// class from the same start), and how many directions that was; `None` where no direction
/// collapsed, or where `gaussian` is not positive definite (then there is no Gaussian variance
/// to compare with, and the carried output stays as it is).
pub fn guard_output_directions(
    carried: MatRef<'_, f64>,
    gaussian: MatRef<'_, f64>,
) -> Option<(Mat<f64>, usize)> {
    let n = carried.nrows();
    let llt = gaussian.llt(Side::Lower).ok()?;
    let l = llt.L();
    // M = L⁻¹ C_K L⁻ᵀ: solve L A = C_K, then L Mᵀ = Aᵀ (M symmetric up to rounding).
    let mut a = carried.to_owned();
    solve_lower_triangular_in_place(l, a.as_mut(), Par::Seq);
    let mut m = a.transpose().to_owned();
    solve_lower_triangular_in_place(l, m.as_mut(), Par::Seq);
    symmetrize(m.as_mut());
    let evd = m.self_adjoint_eigen(Side::Lower).ok()?;
    let mu = evd.S();
    let collapsed = (0..n).filter(|&k| mu[k] < MIN_VARIANCE_SHARE).count();
    if collapsed == 0 {
        return None;
    }
    let lu = l * evd.U();
    let scaled = Mat::from_fn(n, n, |i, k| {
        lu[(i, k)]
            * if mu[k] < MIN_VARIANCE_SHARE {
                1.0
            } else {
                mu[k]
            }
    });
    let mut guarded = &scaled * lu.transpose();
    // Exactly symmetric, as a covariance is stored.
    symmetrize(guarded.as_mut());
    Some((guarded, collapsed))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// C₂ = B Bᵀ (B fixed, well conditioned) and C_K = B diag(d) Bᵀ: the pencil's ratios are d.
    fn pencil(d: &[f64]) -> (Mat<f64>, Mat<f64>) {
        let n = d.len();
        let b = Mat::from_fn(n, n, |i, j| {
            if i == j {
                2.0 + i as f64
            } else {
                0.3 * ((i * 7 + j * 3) % 5) as f64 - 0.6
            }
        });
        let c2 = &b * b.transpose();
        let ck = &b * Mat::from_fn(n, n, |i, j| if i == j { d[i] } else { 0.0 }) * b.transpose();
        (ck, c2)
    }

    /// Where every ratio is at or above the share nothing is guarded (the carried output is
    /// kept bit for bit by the caller); a direction at 0.05 (below 0.1) and one that is
    /// negative become the Gaussian's variance (ratio 1), the others keep theirs: the guarded
    /// C' is B diag(d') Bᵀ with d' = (1.7, 1, 0.4, 1) to rounding, and positive definite.
    /// Fails with the share's comparison reversed, with the ratio set to the share instead of
    /// 1, or with C_K's eigenvalues (not the pencil's) tested: checked.
    #[test]
    fn collapsed_directions_take_the_gaussian_variance_and_no_others() {
        let (ck, c2) = pencil(&[1.7, 0.12, 0.4, 0.35]);
        assert!(guard_output_directions(ck.as_ref(), c2.as_ref()).is_none());

        let (ck, c2) = pencil(&[1.7, 0.05, 0.4, -0.2]);
        let (guarded, k) = guard_output_directions(ck.as_ref(), c2.as_ref()).unwrap();
        assert_eq!(k, 2);
        let (want, _) = pencil(&[1.7, 1.0, 0.4, 1.0]);
        let scale = want.norm_max();
        let err = (&guarded - &want).norm_max() / scale;
        assert!(err < 1e-13, "relative error {err:e}");
        let lowest = guarded
            .self_adjoint_eigenvalues(Side::Lower)
            .unwrap()
            .into_iter()
            .fold(f64::INFINITY, f64::min);
        assert!(lowest > 0.0, "{lowest}");
    }

    /// A singular Gaussian covariance gives no ratios: the carried output is left alone.
    #[test]
    fn a_singular_gaussian_output_guards_nothing() {
        let (ck, _) = pencil(&[1.0, 0.01, 1.0]);
        let c2 = Mat::from_fn(3, 3, |i, j| if i == j && i < 2 { 1.0 } else { 0.0 });
        assert!(guard_output_directions(ck.as_ref(), c2.as_ref()).is_none());
    }
}
