//! How far a rounding of the two covariances can move KL(N_p ‖ N_q) (DESIGN.md §4.1), for a KL
//! whose Σ's carry f32's rounding (`propagate --precision f32`).
//!
//! **Model.** Each entry of Σ_p and Σ_q is off by about η·√(ΣᵢᵢΣⱼⱼ) (η_p, η_q: the relative
//! rounding of the entries, stated by whoever formed them): δ = D^½RD^½ with D = diag Σ and
//! entries |Rᵢⱼ| ≲ η. Whitened by the factor the KL uses (Σ̃ = Σ + λI = LLᵀ, λ the ridge), it is
//! E = L⁻¹δL⁻ᵀ with ‖E‖₂ ≤ ‖R‖₂·‖D^½Σ̃⁻¹D^½‖₂, the *relative* size of the rounding in the
//! directions the KL reads. Rounding errors of different entries are independent and of
//! either sign, so ‖R‖₂ ≈ 2√N·η (the spectral norm of a symmetric random matrix of entries of
//! size η: Wigner's semicircle), not the worst case Nη of entries that all conspire:
//! e := 2√N·η·‖D^½Σ̃⁻¹D^½‖₂. (The worst case, with the worst case of each sum's rounding,
//! nulled every post-activation KL of a relu MNIST 784-100-100-10 network whose f32 value
//! matched f64's to 10⁻⁸ (f32k74, EXPERIMENTS.md): 10–15 times too pessimistic there.) A unit
//! of zero variance — dead, constant — has no rounding in its row and column, and its ridged
//! direction drops out through D.
//!
//! **First order.** With rᵢ the eigenvalues of Σ̃_q⁻¹Σ̃_p, m = L_q⁻¹Δμ and
//! K = ½[Σ(rᵢ − 1 − ln rᵢ) + ‖m‖²] the KL: δ_p moves it by ½tr[(L_pᵀΣ̃_q⁻¹L_p − I)E_p], at most
//! ½e_p·Σ|rᵢ − 1|, and δ_q by ½tr[E_q(I − L_q⁻¹Σ̃_pL_q⁻ᵀ − mmᵀ)], at most ½e_q(Σ|rᵢ − 1| + ‖m‖²).
//! Since |r − 1| ≤ f(r) + √(2f(r)) for f(r) = r − 1 − ln r ≥ 0 (small |r − 1|: f ≈ (r − 1)²/2;
//! large r: f ≥ r − 1 − ln r with √(2f) ≥ ln r; r → 0: f → ∞), Cauchy–Schwarz gives
//! Σ|rᵢ − 1| ≤ 2K + 2√(NK), and ‖m‖² ≤ 2K, so with e = e_p + e_q
//! |δK| ≤ e·(2K + √(NK)) to first order.
//! **Second order.** At K = 0 (p = q) the first order vanishes and the KL of the rounding itself
//! is ≈ ¼‖E_q − E_p‖²_F ≤ ¼N e²; that term is added. The bound
//! B = e·(2K + √(NK)) + ¼N e² holds while e is small (a relative perturbation below 1 in every
//! direction); at e ≥ ½ the rounding can move some rᵢ by half itself and the KL is not resolved
//! whatever B says.
//!
//! **‖D^½Σ̃⁻¹D^½‖₂** by power iteration ([`INVERSE_ITERATIONS`] steps, two triangular solves
//! each, O(N²) beside the KL's O(N³)) from a fixed pseudo-random start: a lower bound that the
//! iteration drives towards the norm, linearly in the ratio of the operator's two largest
//! eigenvalues (a cluster of them is reached to within the cluster's spread).

use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Col, MatRef, Par};

/// Steps of the inverse iteration for ‖Σ̃⁻¹‖₂.
pub const INVERSE_ITERATIONS: usize = 8;

/// The relative size e of the whitened rounding at which the first-order bound no longer
/// holds (module docs).
pub const FIRST_ORDER_LIMIT: f64 = 0.5;

/// The relative rounding η of one covariance's entries, its unridged diagonal `diagonal` and
/// the factor L of the (ridged) Σ̃ the KL used: e = 2√N·η·‖D^½(LLᵀ)⁻¹D^½‖₂ (module docs).
pub(super) fn whitened_rounding(eta: f64, diagonal: &[f64], l: MatRef<'_, f64>, par: Par) -> f64 {
    if eta == 0.0 {
        return 0.0;
    }
    2.0 * (diagonal.len() as f64).sqrt() * eta * scaled_inverse_norm(diagonal, l, par)
}

/// B = e·(2K + √(NK)) + ¼N e² for a KL `kl` of N-dimensional Gaussians and the whitened
/// rounding e of both covariances (module docs); infinite where e ≥ [`FIRST_ORDER_LIMIT`].
pub fn kl_rounding_bound(kl: f64, n: usize, e: f64) -> f64 {
    if e.is_nan() || e >= FIRST_ORDER_LIMIT {
        return f64::INFINITY;
    }
    let (n, k) = (n as f64, kl.max(0.0));
    e * (2.0 * k + (n * k).sqrt()) + 0.25 * n * e * e
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

    /// The bound against the KL of an exactly perturbed pair: p = N(0, diag(1 + t)), q = N(0, I)
    /// moved by a whitened δ_q = e·I (every rᵢ moved by the relative e), whose KL change is
    /// computed in closed form: B covers it, and is within a factor 10 of it (not loose).
    #[test]
    fn the_bound_covers_the_kl_change_of_a_worst_case_rounding() {
        let kl = |r: &[f64]| 0.5 * r.iter().map(|r| r - 1.0 - r.ln()).sum::<f64>();
        let n = 20;
        for (t, e) in [(0.3, 1e-4), (0.01, 1e-5), (0.0, 1e-6), (1e-4, 1e-3)] {
            let r: Vec<f64> = (0..n).map(|i| 1.0 + t * (1.0 + (i % 3) as f64)).collect();
            let moved: Vec<f64> = r.iter().map(|r| r / (1.0 + e)).collect();
            let (k0, k1) = (kl(&r), kl(&moved));
            let bound = kl_rounding_bound(k0, n, e);
            let change = (k1 - k0).abs();
            assert!(
                change <= bound,
                "t {t}, e {e}: change {change:e} over bound {bound:e}"
            );
            assert!(
                bound <= 10.0 * change,
                "t {t}, e {e}: bound {bound:e}, change {change:e}"
            );
        }
        assert_eq!(kl_rounding_bound(1.0, 5, FIRST_ORDER_LIMIT), f64::INFINITY);
    }
}
