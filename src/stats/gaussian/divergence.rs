//! KL divergence and Bhattacharyya distance between two Gaussians (DESIGN.md §4.1, §4.4),
//! both through Cholesky factors (log det Σ = 2 Σᵢ ln Lᵢᵢ) with a shared relative ridge
//! (see [`factor`](super::factor) for how and when it is applied).

use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::ReborrowMut;
use faer::{get_global_parallelism, Col, ColRef, Mat, MatMut, MatRef, Par};

use super::factor::{factor_group, factor_group_in, log_det, FactorBuffers, Unfactored};
use super::rounding::{kl_rounding, Rounded};
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
    /// Where the caller stated the rounding of the covariances' entries
    /// ([`kl_divergence_in`]'s `rounding`): the bound B on how far that rounding can move the
    /// KL (`stats::gaussian` rounding module; infinite where the rounding is not small against the
    /// smallest directions the KL reads).
    pub rounding: Option<f64>,
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
    Ok(kl_divergence_in(
        p,
        q,
        ridge,
        None,
        par,
        &mut FactorBuffers::default(),
    )?)
}

/// [`kl_divergence_with`] with its two factors formed in buffers taken from `buffers` and
/// handed back there afterwards (L_q and L_q⁻¹L_p, both lower triangular): a caller that
/// computes many divergences of one size in turn (the comparison, per stage and class) keeps
/// one [`FactorBuffers`] per thread and allocates and zeroes no n × n matrix after the first
/// two. The same numbers as with fresh buffers, bit for bit.
///
/// `rounding`: where the entries of Σ_p and Σ_q carry a relative rounding [η_p, η_q] (each
/// entry off by about η·√(ΣᵢᵢΣⱼⱼ), independently: covariances formed or held in f32), the
/// estimate of how far it can move the KL ([`KlDivergence::rounding`]), from the factors the KL
/// uses (the two inverses and Σ̃_q⁻¹Σ̃_pΣ̃_q⁻¹, O(N³), and two short inverse iterations);
/// `None` computes nothing more.
///
/// Its error says which covariance has no factor even with the ridge ([`Unfactored`]:
/// index 0 is Σ_p, 1 is Σ_q).
pub fn kl_divergence_in(
    p: (ColRef<'_, f64>, MatRef<'_, f64>),
    q: (ColRef<'_, f64>, MatRef<'_, f64>),
    ridge: (f64, bool),
    rounding: Option<[f64; 2]>,
    par: Par,
    buffers: &mut FactorBuffers,
) -> std::result::Result<KlDivergence, Unfactored> {
    check_pair("kl_divergence", p, q)?;
    let n = p.0.nrows();
    let mut f = factor_group_in(&[p.1, q.1], &["p", "q"], ridge, par, buffers)?;
    let diagonal = |c: MatRef<'_, f64>| (0..n).map(|i| c[(i, i)]).collect::<Vec<_>>();
    let log_det_p = log_det(f.l[0].as_ref());
    // L_p is solved in place: no third n × n matrix (but where the rounding is estimated,
    // which reads L_p after the solve).
    let l_p = rounding.map(|_| f.l[0].clone());
    let mut x = std::mem::replace(&mut f.l[0], Mat::new());
    let lq = f.l.pop().expect("two factors");
    solve_lower_triangular_rhs(lq.as_ref(), x.as_mut(), par);
    let trace = lower_frobenius_sq(x.as_ref());
    let maha = mahalanobis_sq_with(&lq, p.0, q.0, par);
    let log_det_q = log_det(lq.as_ref());
    let value = non_negative_kl([trace, maha, n as f64, log_det_q, log_det_p])?;
    let rounding = rounding.zip(l_p).map(|([eta_p, eta_q], l_p)| {
        let (d_p, d_q) = (diagonal(p.1), diagonal(q.1));
        let mut m = Col::from_fn(n, |i| q.0[i] - p.0[i]);
        solve_lower_triangular_in_place(lq.as_ref(), m.as_mat_mut(), par);
        let p = Rounded {
            eta: eta_p,
            diagonal: &d_p,
            l: l_p.as_ref(),
        };
        let q = Rounded {
            eta: eta_q,
            diagonal: &d_q,
            l: lq.as_ref(),
        };
        kl_rounding([p, q], x.as_ref(), m.as_ref(), par)
    });
    // Both lower triangular, their upper parts zero: reusable.
    buffers.give(x);
    buffers.give(lq);
    Ok(KlDivergence {
        value,
        jitter: f.jitter,
        rounding,
    })
}

/// ½(tr + maha − n + ln det Σ_q − ln det Σ_p) of the five `terms` [tr, maha, n, ln det Σ_q,
/// ln det Σ_p], held at 0 where rounding alone made it negative. KL ≥ 0 in exact arithmetic
/// (Gibbs' inequality), and each term is a sum over n columns or pivots (‖L_q⁻¹L_p‖²_F column by
/// column, the n pivots' logs, the n squares of L_q⁻¹Δμ), whose recursive summation errs by at
/// most (n − 1)ε times its parts' magnitudes (Higham, *Accuracy and Stability of Numerical
/// Algorithms*, 2nd ed., §4.2): the rounding bound is B = ½·n·ε·(|tr| + |maha| + n + |ln det
/// Σ_q| + |ln det Σ_p|). A value in [−B, 0) is rounding and is 0 (text and `--json` then agree:
/// `propagate --json` printed −4.5e-13 where the text said 0); one below −B is no rounding — a
/// bug or a factor gone wrong — and is an error, never clamped.
fn non_negative_kl(terms: [f64; 5]) -> Result<f64> {
    let [trace, maha, n, log_det_q, log_det_p] = terms;
    let value = 0.5 * (trace + maha - n + log_det_q - log_det_p);
    let bound = 0.5 * n * f64::EPSILON * terms.iter().map(|t| t.abs()).sum::<f64>();
    match value {
        v if v >= 0.0 || v.is_nan() => Ok(v),
        v if v >= -bound => Ok(0.0),
        v => Err(Error::Numeric(format!(
            "KL divergence {v:e} is negative beyond its rounding bound {bound:e} \
             (tr {trace:e}, Mahalanobis {maha:e}, N {n}, ln det Σ_q {log_det_q:e}, \
             ln det Σ_p {log_det_p:e})"
        ))),
    }
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

/// ‖X‖²_F of a lower-triangular X, read from its lower triangle: column j from row j on. The
/// same bits as the sum over whole columns, whose entries above the diagonal are zeros added
/// first (a column's sum starts at zero either way).
fn lower_frobenius_sq(x: MatRef<'_, f64>) -> f64 {
    (0..x.ncols())
        .map(|j| {
            x.col(j)
                .subrows(j, x.nrows() - j)
                .iter()
                .map(|v| v * v)
                .sum::<f64>()
        })
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
    use faer::prelude::Solve;
    use faer::Col;

    use super::*;

    /// A negative KL within the rounding bound ½·n·ε·Σ|terms| is 0, one beyond it an error;
    /// non-negative values (and NaN, left to the callers' finiteness checks) pass unchanged.
    #[test]
    fn a_negative_kl_is_zero_only_within_its_rounding_bound() {
        // n = 100, terms of ~100: B = ½·100·ε·(100 + 0 + 100 + 50 + 50) = 3.3e-12.
        let bound = 0.5 * 100.0 * f64::EPSILON * 300.0;
        let kl = |trace_over: f64| non_negative_kl([100.0 + trace_over, 0.0, 100.0, 50.0, 50.0]);
        assert_eq!(kl(-0.9 * 2.0 * bound).unwrap(), 0.0);
        assert_eq!(kl(-9e-13).unwrap(), 0.0);
        assert!(kl(-2.2 * bound).is_err(), "{:?}", kl(-2.2 * bound));
        assert!(kl(-1e-6)
            .unwrap_err()
            .to_string()
            .contains("rounding bound"));
        assert_eq!(kl(0.5).unwrap(), 0.25);
        assert!(non_negative_kl([f64::NAN, 0.0, 1.0, 0.0, 0.0])
            .unwrap()
            .is_nan());
    }

    /// ‖X‖²_F over every entry.
    fn frobenius_sq(x: MatRef<'_, f64>) -> f64 {
        (0..x.ncols())
            .map(|j| x.col(j).iter().map(|v| v * v).sum::<f64>())
            .sum()
    }

    /// An n × n SPD matrix G Gᵀ/k + d·I (G of n × k; k < n and d = 0 make it singular).
    fn spd(n: usize, k: usize, d: f64, seed: usize) -> Mat<f64> {
        let g = Mat::from_fn(n, k, |i, j| {
            ((i * 31 + j * 17 + seed * 7) % 23) as f64 / 23.0 - 0.5
        });
        Mat::from_fn(n, n, |i, j| {
            let dot: f64 = (0..k).map(|t| g[(i, t)] * g[(j, t)]).sum();
            dot / k as f64 + if i == j { d } else { 0.0 }
        })
    }

    /// KL(N_p ‖ N_q) by the textbook formula on dense matrices, independent of this module's
    /// factors and solves: faer's LLᵀ of Σ_q + λI solves for Σ_q⁻¹(Σ_p + λI) and Σ_q⁻¹Δμ, the
    /// log-determinants from each matrix's own factor.
    fn direct_kl(
        p: (ColRef<'_, f64>, MatRef<'_, f64>),
        q: (ColRef<'_, f64>, MatRef<'_, f64>),
        lambda: f64,
    ) -> f64 {
        let n = p.0.nrows();
        let ridged = |c: MatRef<'_, f64>| {
            Mat::from_fn(n, n, |i, j| c[(i, j)] + if i == j { lambda } else { 0.0 })
        };
        let (sp, sq) = (ridged(p.1), ridged(q.1));
        let (lp, lq) = (
            sp.llt(faer::Side::Lower).unwrap(),
            sq.llt(faer::Side::Lower).unwrap(),
        );
        let x = lq.solve(&sp);
        let trace: f64 = (0..n).map(|i| x[(i, i)]).sum();
        let dmu = Mat::from_fn(n, 1, |i, _| q.0[i] - p.0[i]);
        let y = lq.solve(&dmu);
        let maha: f64 = (0..n).map(|i| dmu[(i, 0)] * y[(i, 0)]).sum();
        let ld = |l: MatRef<'_, f64>| 2.0 * (0..n).map(|i| l[(i, i)].ln()).sum::<f64>();
        0.5 * (trace + maha - n as f64 + ld(lq.L()) - ld(lp.L()))
    }

    /// Divergences computed in turn with one [`FactorBuffers`] (each call's factors formed in
    /// the buffers the last one handed back, as the comparison runs its stages and classes):
    /// plain and ridged groups, a singular p known beforehand, two sizes, a failure, and the
    /// first case again give the divergences of fresh buffers bit for bit, and each agrees with
    /// the dense textbook formula ([`direct_kl`]) to its rounding: the ridged cases' condition
    /// numbers reach ~1/ε_ridge = 10⁸, so a relative 10⁸ · n · ε ≈ 3·10⁻⁶ of the terms' size.
    #[test]
    fn reused_buffers_give_the_divergences_of_fresh_ones() {
        let n = TRIANGULAR_RHS_BLOCK + 22;
        let (a, b) = (spd(n, n + 5, 0.1, 1), spd(n, n + 9, 0.2, 2));
        let singular = spd(n, n / 2, 0.0, 3);
        let (small_a, small_b) = (spd(7, 9, 0.1, 4), spd(7, 8, 0.3, 5));
        let mean = |n: usize, s: f64| Col::from_fn(n, |i| s * ((i % 5) as f64 - 2.0));
        let (m1, m2, m3, m4) = (mean(n, 0.1), mean(n, -0.2), mean(7, 0.3), mean(7, 0.0));
        let indefinite = Mat::from_fn(7, 7, |i, j| {
            if i == j {
                1.0 - (i % 2) as f64 * 2.0
            } else {
                0.0
            }
        });
        let mut buffers = FactorBuffers::default();
        type Gaussian<'a> = (&'a Col<f64>, &'a Mat<f64>);
        let cases: [(Gaussian, Gaussian, (f64, bool)); 7] = [
            ((&m1, &a), (&m2, &b), (KL_RIDGE, false)),
            ((&m1, &singular), (&m2, &b), (KL_RIDGE, false)),
            ((&m2, &b), (&m1, &singular), (KL_RIDGE, false)),
            ((&m1, &singular), (&m2, &a), (KL_RIDGE, true)),
            ((&m3, &small_a), (&m4, &small_b), (0.0, false)),
            ((&m3, &small_a), (&m4, &indefinite), (0.0, false)),
            ((&m1, &a), (&m2, &b), (KL_RIDGE, false)),
        ];
        for (k, (p, q, ridge)) in cases.into_iter().enumerate() {
            let (p, q) = ((p.0.as_ref(), p.1.as_ref()), (q.0.as_ref(), q.1.as_ref()));
            let fresh = kl_divergence_with(p, q, ridge, Par::Seq);
            let reused = kl_divergence_in(p, q, ridge, None, Par::Seq, &mut buffers);
            match (fresh, reused) {
                (Ok(f), Ok(r)) => {
                    assert_eq!(f.value.to_bits(), r.value.to_bits(), "case {k}");
                    assert_eq!(f.jitter.to_bits(), r.jitter.to_bits(), "case {k}");
                    let direct = direct_kl(p, q, r.jitter);
                    let tol = 3e-6 * (direct.abs() + p.0.nrows() as f64);
                    assert!(
                        (r.value - direct).abs() <= tol,
                        "case {k}: {} vs the direct {direct}",
                        r.value
                    );
                }
                (Err(_), Err(_)) => assert_eq!(k, 5, "only the indefinite case fails"),
                (f, r) => panic!("case {k}: {f:?} vs {r:?}"),
            }
        }
    }

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
