//! How far a rounding of the two covariances can move KL(N_p ‖ N_q) (DESIGN.md §4.1), for a KL
//! whose Σ's carry f32's rounding (`propagate --precision f32`).
//!
//! **Model.** Each entry of Σ_p and Σ_q is off by δᵢⱼ = η√(DᵢDⱼ)·ρᵢⱼ (η_p, η_q: the relative
//! rounding of the entries, stated by whoever formed them; D = diag Σ), the ρᵢⱼ (i ≤ j)
//! independent, of either sign, of variance at most [`ENTRY_VARIANCE`] = ⅓: each is a sum of
//! roundings uniform within ±u of their terms, whose variance is a third of the bound's square
//! (the probabilistic view of Higham & Mary 2019 that η already takes). A unit of zero
//! variance — dead, constant — has no rounding in its row and column.
//!
//! **First order.** δK = ⟨G_p, δ_p⟩ + ⟨G_q, δ_q⟩ with the gradients G_p = ½(Σ̃_q⁻¹ − Σ̃_p⁻¹) and
//! G_q = ½(Σ̃_q⁻¹ − Σ̃_q⁻¹(Σ̃_p + ΔμΔμᵀ)Σ̃_q⁻¹) (Σ̃ = Σ + λI = LLᵀ, the ridged matrices the KL
//! factored). A sum of independent terms: its variance is
//! Σ_{i≤j}(c Gᵢⱼ)²η²DᵢDⱼ·⅓ ≤ ⅔η²‖D^½GD^½‖²_F per Σ (c = 2 off the diagonal), and the estimate
//! takes [`SIGMAS`] = 3 of its standard deviation. (f32k74 bounded it by the worst alignment,
//! ½‖E‖₂·Σ|rᵢ − 1| with the whitened E = L⁻¹δL⁻ᵀ and ‖E‖₂ ≈ 2√N·η·‖D^½Σ̃⁻¹D^½‖₂: 10²–10⁴
//! times the change f32 makes on trained MNIST layers, EXPERIMENTS.md "f32 rounding shaped by
//! the layer".)
//! **Second order.** At p = q the first order vanishes and the KL of the rounding itself is
//! ≈ ¼‖E_q − E_p‖²_F, whose mean is ≤ ¼·2·⅓η²(tr Â)² per Σ, Â = D^½Σ̃⁻¹D^½ (E‖E‖²_F =
//! Σᵢⱼ Var δᵢⱼ[(Σ̃⁻¹)ᵢᵢ(Σ̃⁻¹)ⱼⱼ + (Σ̃⁻¹)ᵢⱼ²]); it is added.
//! **Validity.** The expansion holds while no direction's variance moves by a large part of
//! itself. To first order the eigenvalues rᵢ of the pencil move by wᵢᵀEwᵢ along their own
//! (fixed) directions, a quadratic form of variance ≤ 2·⅓η²(wᵢᵀÂwᵢ)² ≤ ⅔η²‖Â‖₂²: the estimate
//! is infinite where e = Σ 3·√⅔·η‖Â‖₂ (3 standard deviations, p and q) reaches
//! [`FIRST_ORDER_LIMIT`] = ½ — a ridged direction (‖Â‖₂ ≈ D/λ), a near-singular Σ.
//!
//! B = 3√(⅔Σ η²‖D^½GD^½‖²_F) + ⅙Σ η²(tr Â)²: an estimate of the typical change, not a
//! worst case. Shaped rounding — an affine stage's inheritance W δ Wᵀ, whose effect on the KL
//! is the stage before's — is not entry-wise; the caller states only the rounding that is
//! (`analysis::compare::RoundingCarry`).
//!
//! Cost: Σ̃_p⁻¹, Σ̃_q⁻¹ and Σ̃_q⁻¹Σ̃_pΣ̃_q⁻¹ from the KL's factors, O(N³) beside the KL's own;
//! ‖Â‖₂ by power iteration ([`INVERSE_ITERATIONS`] steps, two triangular solves each) from a
//! fixed pseudo-random start: a lower bound that the iteration drives towards the norm,
//! linearly in the ratio of the operator's two largest eigenvalues (a cluster of them is
//! reached to within the cluster's spread).

use faer::linalg::matmul::matmul;
use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Accum, Col, ColRef, Mat, MatRef, Par};

use super::precision::inverse_of_factor;

/// Steps of the inverse iteration for ‖Â‖₂ = ‖D^½Σ̃⁻¹D^½‖₂.
pub const INVERSE_ITERATIONS: usize = 8;

/// The relative move e of a direction's variance (3 standard deviations) at which the
/// first-order estimate no longer holds (module docs).
pub const FIRST_ORDER_LIMIT: f64 = 0.5;

/// How many standard deviations of the first-order change the estimate covers (module docs).
pub const SIGMAS: f64 = 3.0;

/// The variance of an entry's rounding in units of (η√(DᵢDⱼ))²: a sum of roundings each
/// uniform within ±u of its term has at most a third of its bound's square (module docs).
pub const ENTRY_VARIANCE: f64 = 1.0 / 3.0;

/// One covariance of a KL with its rounding: the relative rounding η of its entries, its
/// unridged diagonal D and the factor L of the ridged Σ̃ = LLᵀ the KL used.
#[derive(Clone, Copy)]
pub(super) struct Rounded<'a> {
    pub eta: f64,
    pub diagonal: &'a [f64],
    pub l: MatRef<'a, f64>,
}

/// The estimate B of how far the rounding of Σ_p and Σ_q moves K = KL(N_p ‖ N_q) (module
/// docs): B = 3·√(Σ ⅔η²‖D^½GD^½‖²_F) + ⅙Σ η²(tr Â)², the sums over p and q, G = ∂K/∂Σ,
/// Â = D^½Σ̃⁻¹D^½; infinite where e = Σ 3·√⅔·η‖Â‖₂ reaches [`FIRST_ORDER_LIMIT`]. `x` =
/// L_q⁻¹L_p and `m` = L_q⁻¹(μ_q − μ_p), as the KL formed them.
pub(super) fn kl_rounding(
    [p, q]: [Rounded<'_>; 2],
    x: MatRef<'_, f64>,
    m: ColRef<'_, f64>,
    par: Par,
) -> f64 {
    let n = x.nrows();
    let (p_inv, q_inv) = (inverse_of_factor(p.l, par), inverse_of_factor(q.l, par));
    // Σ̃_q⁻¹Σ̃_pΣ̃_q⁻¹ = YYᵀ with Y = L_q⁻ᵀX, and Σ̃_q⁻¹Δμ = L_q⁻ᵀm.
    let mut y = x.to_owned();
    solve_upper_triangular_in_place(q.l.transpose(), y.as_mut(), par);
    let mut ym = m.to_owned();
    solve_upper_triangular_in_place(q.l.transpose(), ym.as_mat_mut(), par);
    let mut yy = Mat::<f64>::zeros(n, n);
    matmul(
        yy.as_mut(),
        Accum::Replace,
        y.as_ref(),
        y.transpose(),
        1.0,
        par,
    );
    // G_p = ½(Σ̃_q⁻¹ − Σ̃_p⁻¹), G_q = ½(Σ̃_q⁻¹ − Σ̃_q⁻¹(Σ̃_p + ΔμΔμᵀ)Σ̃_q⁻¹).
    let g_p = |i: usize, j: usize| 0.5 * (q_inv[(i, j)] - p_inv[(i, j)]);
    let g_q = |i: usize, j: usize| 0.5 * (q_inv[(i, j)] - yy[(i, j)] - ym[i] * ym[j]);
    let first = 2.0
        * ENTRY_VARIANCE
        * (p.eta.powi(2) * scaled_frobenius_sq(p.diagonal, g_p)
            + q.eta.powi(2) * scaled_frobenius_sq(q.diagonal, g_q));
    let mut e = 0.0;
    let mut second = 0.0;
    for (r, inv) in [(p, &p_inv), (q, &q_inv)] {
        if r.eta == 0.0 {
            continue;
        }
        let trace: f64 = (0..n).map(|i| r.diagonal[i].max(0.0) * inv[(i, i)]).sum();
        let norm = scaled_inverse_norm(r.diagonal, r.l, par);
        e += SIGMAS * (2.0 * ENTRY_VARIANCE).sqrt() * r.eta * norm;
        second += 0.5 * ENTRY_VARIANCE * (r.eta * trace).powi(2);
    }
    if e.is_nan() || e >= FIRST_ORDER_LIMIT {
        return f64::INFINITY;
    }
    SIGMAS * first.sqrt() + second
}

/// ‖D^½GD^½‖²_F = Σᵢⱼ Gᵢⱼ²DᵢDⱼ of a matrix given by its entries `g`, D = diag(`diagonal`).
fn scaled_frobenius_sq(diagonal: &[f64], g: impl Fn(usize, usize) -> f64) -> f64 {
    let n = diagonal.len();
    (0..n)
        .flat_map(|i| (0..n).map(move |j| (i, j)))
        .map(|(i, j)| g(i, j).powi(2) * diagonal[i].max(0.0) * diagonal[j].max(0.0))
        .sum()
}

/// An estimate of ‖D^½(LLᵀ)⁻¹D^½‖₂ from below, D = diag(`diagonal`): the power iteration's
/// largest ‖D^½(LLᵀ)⁻¹D^½x‖ over the unit vectors x it visits (module docs).
fn scaled_inverse_norm(diagonal: &[f64], l: MatRef<'_, f64>, par: Par) -> f64 {
    let n = l.nrows();
    let root: Vec<f64> = diagonal.iter().map(|d| d.max(0.0).sqrt()).collect();
    // A fixed start with no structure a covariance's null directions (duplicate units:
    // eᵢ − eⱼ; alternating signs) could be orthogonal to.
    let mut x = Col::from_fn(n, |i| {
        1.0 + ((i as u64 * 2_654_435_761 % 1_000_003) as f64 / 1_000_003.0)
    });
    let mut best: f64 = 0.0;
    for _ in 0..INVERSE_ITERATIONS {
        let norm = x.norm_l2();
        if !(norm > 0.0 && norm.is_finite()) {
            break;
        }
        for (v, r) in x.iter_mut().zip(&root) {
            *v *= r / norm;
        }
        solve_lower_triangular_in_place(l, x.as_mat_mut(), par);
        solve_upper_triangular_in_place(l.transpose(), x.as_mat_mut(), par);
        for (v, r) in x.iter_mut().zip(&root) {
            *v *= r;
        }
        best = best.max(x.norm_l2());
    }
    best
}

#[cfg(test)]
mod tests {
    use faer::Mat;

    use super::*;

    /// The power iteration finds ‖D^½Σ⁻¹D^½‖₂ where the factor's diagonal does not show it:
    /// Σ = I − (1 − s)vvᵀ with v = (1, −1, 1, …)/√n spread over all n = 50 units (eigenvalue
    /// s = 10⁻⁹ on v, 1 elsewhere; D = d·I with d = 1 − (1 − s)/n): each pivot satisfies
    /// Lᵢᵢ² ≥ 1/(Σ⁻¹)ᵢᵢ ≈ n·s, so the diagonal would show at most 1/(n·s); the iteration
    /// reaches d/s to rounding (the eigenvalues' ratio is 10⁻⁹). A unit of zero variance
    /// (D's entry 0) drops out: its ridged direction adds nothing.
    #[test]
    fn the_inverse_norm_finds_a_small_eigenvalue_the_diagonal_hides() {
        let (n, s) = (50, 1e-9);
        let v = |i: usize| if i.is_multiple_of(2) { 1.0 } else { -1.0 } / (n as f64).sqrt();
        let sigma = Mat::from_fn(n, n, |i, j| {
            f64::from(u8::from(i == j)) - (1.0 - s) * v(i) * v(j)
        });
        let l = sigma.llt(faer::Side::Lower).unwrap().L().to_owned();
        let diagonal_bound = (0..n)
            .map(|i| 1.0 / (l[(i, i)] * l[(i, i)]))
            .fold(0.0, f64::max);
        assert!(
            diagonal_bound < 0.03 / s,
            "the diagonal shows {diagonal_bound:e}"
        );
        let d: Vec<f64> = (0..n).map(|i| sigma[(i, i)]).collect();
        let got = scaled_inverse_norm(&d, l.as_ref(), Par::Seq);
        let want = d[0] / s;
        assert!((got / want - 1.0).abs() < 1e-5, "{got:e} against {want:e}");
        // A zero-variance unit beside unit variances, ridged by λ = 10⁻⁸: 1, not 1/λ.
        let ridged = Mat::from_fn(3, 3, |i, j| {
            f64::from(u8::from(i == j)) * if i == 1 { 1e-8 } else { 1.0 }
        });
        let l = ridged.llt(faer::Side::Lower).unwrap().L().to_owned();
        let got = scaled_inverse_norm(&[1.0, 0.0, 1.0], l.as_ref(), Par::Seq);
        assert!((got - 1.0).abs() < 1e-12, "{got}");
    }

    /// The estimate against Monte Carlo: Σ_p, Σ_q (n = 5, unequal, means apart: K ≈ 2) moved by
    /// 4000 independent draws of entry-wise rounding δᵢⱼ = η√(DᵢDⱼ)·U(−1, 1) (symmetric,
    /// η = 10⁻⁵: first order), the KL recomputed each time. The measured standard deviation σ
    /// of the change lies between σ_pred/√2 and σ_pred = (B − second order)/3 (the diagonal
    /// entries are counted twice in σ_pred), each to 4/√(2·4000) (the relative spread of a
    /// sample standard deviation, 4 of it); at most 1 % of the changes exceed B (a 3σ estimate:
    /// 0.3 % for a Gaussian).
    #[test]
    fn the_estimate_matches_the_spread_of_the_kl_under_random_rounding() {
        use crate::stats::gaussian::{kl_divergence_in, kl_divergence_with, FactorBuffers};
        use rand::{RngExt, SeedableRng};
        let n = 5;
        let mut rng = rand::rngs::StdRng::seed_from_u64(75);
        let mut uniform = move || rng.random_range(-1.0..1.0);
        let mut spd = |shift: f64| {
            let a = Mat::from_fn(n, n, |_, _| uniform());
            Mat::from_fn(n, n, |i, j| {
                (0..n).map(|k| a[(i, k)] * a[(j, k)]).sum::<f64>()
                    + shift * f64::from(u8::from(i == j))
            })
        };
        let (sp, sq) = (spd(0.3), spd(0.5));
        let mp = faer::Col::from_fn(n, |i| 0.3 * i as f64);
        let mq = faer::Col::from_fn(n, |i| 0.1 - 0.2 * i as f64);
        let eta = 1e-5;
        let kl = |a: &Mat<f64>, b: &Mat<f64>| {
            kl_divergence_with(
                (mp.as_ref(), a.as_ref()),
                (mq.as_ref(), b.as_ref()),
                (0.0, false),
                Par::Seq,
            )
            .unwrap()
        };
        let k0 = kl(&sp, &sq);
        let with = kl_divergence_in(
            (mp.as_ref(), sp.as_ref()),
            (mq.as_ref(), sq.as_ref()),
            (0.0, false),
            Some([eta, eta]),
            Par::Seq,
            &mut FactorBuffers::default(),
        )
        .unwrap();
        assert_eq!(with.value, k0.value);
        let bound = with.rounding.unwrap();
        let trace = |s: &Mat<f64>| {
            let l = s.llt(faer::Side::Lower).unwrap().L().to_owned();
            let inv = inverse_of_factor(l.as_ref(), Par::Seq);
            (0..n).map(|i| s[(i, i)] * inv[(i, i)]).sum::<f64>()
        };
        let second = 0.5 * ENTRY_VARIANCE * eta * eta * (trace(&sp).powi(2) + trace(&sq).powi(2));
        let predicted = (bound - second) / SIGMAS;
        let mut round = |s: &Mat<f64>| {
            let mut r = s.clone();
            for i in 0..n {
                for j in 0..=i {
                    let d = eta * (s[(i, i)] * s[(j, j)]).sqrt() * uniform();
                    r[(i, j)] += d;
                    if i != j {
                        r[(j, i)] += d;
                    }
                }
            }
            r
        };
        let draws = 4000;
        let changes: Vec<f64> = (0..draws)
            .map(|_| kl(&round(&sp), &round(&sq)).value - k0.value)
            .collect();
        let sd = (changes.iter().map(|c| c * c).sum::<f64>() / draws as f64).sqrt();
        let tolerance = 4.0 / (2.0 * draws as f64).sqrt();
        assert!(k0.value > 1.0, "K {}", k0.value);
        assert!(
            sd <= predicted * (1.0 + tolerance),
            "σ {sd:e}, predicted {predicted:e}"
        );
        assert!(
            sd >= predicted / 2f64.sqrt() * (1.0 - tolerance),
            "σ {sd:e}, predicted {predicted:e}"
        );
        let over = changes.iter().filter(|c| c.abs() > bound).count();
        assert!(over * 100 <= draws, "{over} of {draws} over {bound:e}");
    }
}
