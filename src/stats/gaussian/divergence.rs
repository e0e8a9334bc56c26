//! KL divergence and Bhattacharyya distance between two Gaussians (DESIGN.md §4.1, §4.4),
//! both through Cholesky factors (log det Σ = 2 Σᵢ ln Lᵢᵢ) with a shared relative ridge
//! (see [`factor`](super::factor) for how and when it is applied).

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::{Col, ColRef, Mat, MatRef, Par};

use super::factor::{factor_group, log_det};
use crate::error::{Error, Result};

/// KL(N_p ‖ N_q) and the diagonal jitter λ that was added to both covariances (0 if none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KlDivergence {
    pub value: f64,
    pub jitter: f64,
}

/// Bhattacharyya distance split into the part carried by the means and the part carried by the
/// covariances (DESIGN.md §4.4), and the jitter λ added to every covariance (0 if none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bhattacharyya {
    /// ⅛ Δμᵀ S̄⁻¹ Δμ.
    pub mean_term: f64,
    /// ½ ln(det S̄ / √(det S₁ det S₂)).
    pub cov_term: f64,
    pub jitter: f64,
}

impl Bhattacharyya {
    /// mean_term + cov_term.
    pub fn total(&self) -> f64 {
        self.mean_term + self.cov_term
    }
}

/// KL(N_p ‖ N_q) = ½[tr(Σ_q⁻¹Σ_p) + Δμᵀ Σ_q⁻¹ Δμ − N + ln det Σ_q − ln det Σ_p], Δμ = μ_q − μ_p.
///
/// Direction: the expectation is over p. For theory vs empirical (DESIGN.md §4.1) corrflow passes
/// p = empirical, q = propagated: the information lost when the propagated Gaussian stands in for
/// the measured one. tr(Σ_q⁻¹Σ_p) = ‖L_q⁻¹L_p‖²_F and the Mahalanobis term = ‖L_q⁻¹Δμ‖², both
/// by triangular solves. `ridge` is the relative ridge ε (0 disables it). Rounding can make the
/// result a tiny negative number when p ≈ q.
pub fn kl_divergence(
    p: (ColRef<'_, f64>, MatRef<'_, f64>),
    q: (ColRef<'_, f64>, MatRef<'_, f64>),
    ridge: f64,
) -> Result<KlDivergence> {
    check_pair("kl_divergence", p, q)?;
    let n = p.0.nrows();
    let f = factor_group(&[p.1, q.1], &["p", "q"], ridge)?;
    let (lp, lq) = (&f.l[0], &f.l[1]);
    let mut x = lp.clone();
    solve_lower_triangular_in_place(lq.as_ref(), x.as_mut(), Par::rayon(0));
    let trace = frobenius_sq(x.as_ref());
    let maha = mahalanobis_sq(lq, p.0, q.0);
    let value = 0.5 * (trace + maha - n as f64 + log_det(lq) - log_det(lp));
    Ok(KlDivergence {
        value,
        jitter: f.jitter,
    })
}

/// Bhattacharyya distance between N(m1, s1) and N(m2, s2), S̄ = (S₁ + S₂)/2:
/// mean term ⅛ΔμᵀS̄⁻¹Δμ, covariance term ½ ln(det S̄ / √(det S₁ det S₂)). `ridge` is the relative
/// ridge ε (0 disables it), applied to S₁ and S₂ alike (and so to S̄).
pub fn bhattacharyya(
    m1: ColRef<'_, f64>,
    s1: MatRef<'_, f64>,
    m2: ColRef<'_, f64>,
    s2: MatRef<'_, f64>,
    ridge: f64,
) -> Result<Bhattacharyya> {
    check_pair("bhattacharyya", (m1, s1), (m2, s2))?;
    let n = m1.nrows();
    let avg = Mat::from_fn(n, n, |i, j| 0.5 * (s1[(i, j)] + s2[(i, j)]));
    let f = factor_group(&[s1, s2, avg.as_ref()], &["S1", "S2", "(S1+S2)/2"], ridge)?;
    let (l1, l2, lbar) = (&f.l[0], &f.l[1], &f.l[2]);
    Ok(Bhattacharyya {
        mean_term: 0.125 * mahalanobis_sq(lbar, m1, m2),
        cov_term: 0.5 * (log_det(lbar) - 0.5 * (log_det(l1) + log_det(l2))),
        jitter: f.jitter,
    })
}

/// ‖L⁻¹(b − a)‖².
pub(super) fn mahalanobis_sq(l: &Mat<f64>, a: ColRef<'_, f64>, b: ColRef<'_, f64>) -> f64 {
    let mut y = Col::from_fn(a.nrows(), |i| b[i] - a[i]);
    solve_lower_triangular_in_place(l.as_ref(), y.as_mat_mut(), Par::rayon(0));
    y.iter().map(|v| v * v).sum()
}

fn frobenius_sq(x: MatRef<'_, f64>) -> f64 {
    (0..x.ncols())
        .map(|j| x.col(j).iter().map(|v| v * v).sum::<f64>())
        .sum()
}

fn check_pair(
    what: &str,
    p: (ColRef<'_, f64>, MatRef<'_, f64>),
    q: (ColRef<'_, f64>, MatRef<'_, f64>),
) -> Result<()> {
    let n = p.0.nrows();
    let ok =
        |m: ColRef<'_, f64>, s: MatRef<'_, f64>| m.nrows() == n && s.nrows() == n && s.ncols() == n;
    if !(ok(p.0, p.1) && ok(q.0, q.1)) {
        return Err(Error::Shape(format!(
            "{what}: means of length {} and {} with covariances {}×{} and {}×{} do not match",
            p.0.nrows(),
            q.0.nrows(),
            p.1.nrows(),
            p.1.ncols(),
            q.1.nrows(),
            q.1.ncols()
        )));
    }
    if p.0.iter().chain(q.0.iter()).all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(Error::Numeric(format!(
            "{what}: a mean has non-finite entries"
        )))
    }
}
