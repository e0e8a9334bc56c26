//! KL divergence and Bhattacharyya distance between two Gaussians (DESIGN.md §4.1, §4.4),
//! both through Cholesky factors (log det Σ = 2 Σᵢ ln Lᵢᵢ) with a shared relative ridge
//! (see [`factor`](super::factor) for how and when it is applied).

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::ReborrowMut;
use faer::{get_global_parallelism, ColRef, Mat, MatMut, MatRef, Par};

use super::factor::{factor_group, log_det};
use super::support::mahalanobis_sq_on;
use crate::error::{Error, Result};
use crate::stats::Runs;
use crate::timing::flops;

/// Relative ridge for the report's KL divergence when a covariance is singular (dead relu
/// units, constant MNIST border pixels): λ = RIDGE · tr Σ / N is added to both covariances, and
/// reported (`analysis::compare`; the pilot's KL statistic uses it too).
pub const KL_RIDGE: f64 = 1e-8;

/// Column-block width of [`solve_lower_triangular_rhs`].
const TRIANGULAR_RHS_BLOCK: usize = 128;

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
/// by triangular solves (L_q⁻¹L_p is lower triangular, so only its lower part is solved for:
/// `solve_lower_triangular_rhs`). `ridge` is the relative ridge ε (0 disables it). Rounding
/// can make the result a tiny negative number when p ≈ q.
pub fn kl_divergence(
    p: (ColRef<'_, f64>, MatRef<'_, f64>),
    q: (ColRef<'_, f64>, MatRef<'_, f64>),
    ridge: f64,
) -> Result<KlDivergence> {
    kl_divergence_with(p, q, (ridge, false), get_global_parallelism())
}

/// [`kl_divergence`] with its factorizations and solves run with parallelism `par`: a caller
/// that computes one divergence per thread passes `Par::Seq` (a nested parallel factorization
/// of each would only split every kernel into smaller, slower pieces). `(ridge, p_singular)`:
/// the relative ridge, and whether Σ_p is known to be singular by construction (rank below N
/// in exact arithmetic: then, with a ridge, the ridged factors are formed without first trying
/// the plain ones, which would be dropped for a pivot below λ; see `factor_group`).
pub fn kl_divergence_with(
    p: (ColRef<'_, f64>, MatRef<'_, f64>),
    q: (ColRef<'_, f64>, MatRef<'_, f64>),
    ridge: (f64, bool),
    par: Par,
) -> Result<KlDivergence> {
    check_pair("kl_divergence", p, q)?;
    let n = p.0.nrows();
    let mut f = factor_group(&[p.1, q.1], &["p", "q"], ridge, par)?;
    let log_det_p = log_det(f.l[0].as_ref());
    // L_p is solved in place: no third n × n matrix.
    let mut x = std::mem::replace(&mut f.l[0], Mat::new());
    let lq = &f.l[1];
    solve_lower_triangular_rhs(lq.as_ref(), x.as_mut(), par);
    let trace = frobenius_sq(x.as_ref());
    let maha = mahalanobis_sq_with(lq, p.0, q.0, par);
    let value = 0.5 * (trace + maha - n as f64 + log_det(lq.as_ref()) - log_det_p);
    Ok(KlDivergence {
        value,
        jitter: f.jitter,
    })
}

/// Flops of [`kl_divergence`] for n × n covariances: the two Cholesky factors it uses, the
/// triangular solve L_q⁻¹L_p with its triangular right-hand side
/// ([`flops::triangular_solve_triangular`]), ‖·‖²_F of its lower triangle (n² flops) and the
/// Mahalanobis solve (n²). Plain factors tried and dropped for the ridge (`factor_group`) are
/// not counted: this is the useful work.
pub fn kl_flops(n: usize) -> f64 {
    2.0 * flops::cholesky(n)
        + flops::triangular_solve_triangular(n)
        + 2.0 * flops::triangular_solve_vector(n)
}

/// X ← L⁻¹X for lower-triangular L and a lower-triangular right-hand side X (n × n): X stays
/// lower triangular, and column j of it depends only on rows j…n−1 of L⁻¹, so each block of
/// columns [j₀, j₁) solves only the trailing system L[j₀.., j₀..] X[j₀.., j₀..j₁] = X[j₀.., j₀..j₁]
/// (its rows above j₀ are zero and stay zero): Σ (n−j₀)²·b ≈ n³/3 flops instead of the full
/// solve's n³; the same substitutions, so the same result up to the order of the block sums.
fn solve_lower_triangular_rhs(l: MatRef<'_, f64>, mut x: MatMut<'_, f64>, par: Par) {
    let n = l.nrows();
    for j0 in (0..n).step_by(TRIANGULAR_RHS_BLOCK) {
        let b = TRIANGULAR_RHS_BLOCK.min(n - j0);
        let trailing = l.submatrix(j0, j0, n - j0, n - j0);
        let rhs = x.rb_mut().submatrix_mut(j0, j0, n - j0, b);
        solve_lower_triangular_in_place(trailing, rhs, par);
    }
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
    let f = factor_group(
        &[s1, s2, avg.as_ref()],
        &["S1", "S2", "(S1+S2)/2"],
        (ridge, false),
        get_global_parallelism(),
    )?;
    let (l1, l2, lbar) = (&f.l[0], &f.l[1], &f.l[2]);
    Ok(Bhattacharyya {
        mean_term: 0.125 * mahalanobis_sq(lbar, m1, m2),
        cov_term: 0.5
            * (log_det(lbar.as_ref()) - 0.5 * (log_det(l1.as_ref()) + log_det(l2.as_ref()))),
        jitter: f.jitter,
    })
}

/// ‖L⁻¹(b − a)‖².
pub(super) fn mahalanobis_sq(l: &Mat<f64>, a: ColRef<'_, f64>, b: ColRef<'_, f64>) -> f64 {
    mahalanobis_sq_with(l, a, b, Par::rayon(0))
}

/// [`mahalanobis_sq`] with the solve's parallelism `par` (`Par::Seq` where the caller already
/// runs one pair per thread): [`mahalanobis_sq_on`] with every row in the support.
pub(super) fn mahalanobis_sq_with(
    l: &Mat<f64>,
    a: ColRef<'_, f64>,
    b: ColRef<'_, f64>,
    par: Par,
) -> f64 {
    let mut all = Runs::default();
    all.set_all(a.nrows());
    mahalanobis_sq_on(l.as_ref(), (a, b), &all, 0.0, par)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The blocked solve with a triangular right-hand side agrees with faer's full solve to
    /// rounding, across several column blocks and a ragged last one.
    #[test]
    fn triangular_rhs_solve_matches_the_full_solve() {
        let n = 2 * TRIANGULAR_RHS_BLOCK + 37;
        let l = Mat::from_fn(n, n, |i, j| match i.cmp(&j) {
            std::cmp::Ordering::Less => 0.0,
            std::cmp::Ordering::Equal => 2.0 + (i % 5) as f64 * 0.1,
            std::cmp::Ordering::Greater => ((i * 3 + j * 7) % 11) as f64 * 0.01 - 0.05,
        });
        let b = Mat::from_fn(n, n, |i, j| {
            if i >= j {
                ((i * 5 + j) % 13) as f64 * 0.1 - 0.6
            } else {
                0.0
            }
        });
        let mut full = b.clone();
        solve_lower_triangular_in_place(l.as_ref(), full.as_mut(), Par::Seq);
        let mut blocked = b.clone();
        solve_lower_triangular_rhs(l.as_ref(), blocked.as_mut(), Par::Seq);
        let scale = frobenius_sq(full.as_ref()).sqrt();
        let diff = Mat::from_fn(n, n, |i, j| full[(i, j)] - blocked[(i, j)]);
        assert!(frobenius_sq(diff.as_ref()).sqrt() <= 1e-13 * scale);
        assert!((0..n).all(|j| (0..j).all(|i| blocked[(i, j)] == 0.0)));
    }
}
