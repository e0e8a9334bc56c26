//! GELU's normalised Hermite coefficients in closed form: O(K) per unit, no quadrature and no
//! order cap (issue #16, the n = 64 sampling goal: the Gauss–Hermite rules of
//! `HermiteCoefficients::narrow` took half of GELU's order-2 propagation there).
//!
//! For h = μ + s z, z ~ N(0, 1), Gaussian integration by parts gives
//! bₙ = E\[f(h)Heₙ(z)\] = sⁿE\[f⁽ⁿ⁾(h)\]. With f(x) = xΦ(x), f⁽ⁿ⁾ = xΦ⁽ⁿ⁾ + nΦ⁽ⁿ⁻¹⁾ (n ≥ 1),
//! E\[Φ⁽ᵏ⁾(h)\] = σ⁻ᵏΦ⁽ᵏ⁾(t) (k μ-derivatives of E\[Φ(h)\] = Φ(t)), σ = √(1 + s²), t = μ/σ,
//! E\[hΦ⁽ᵏ⁾(h)\] = μE\[Φ⁽ᵏ⁾(h)\] + s²E\[Φ⁽ᵏ⁺¹⁾(h)\] (Stein) and Φ⁽ᵏ⁾(t) = (−1)ᵏ⁻¹Heₖ₋₁(t)φ(t)
//! (k ≥ 1). For n ≥ 2 every term is of that last form, and with Heₙ = tHeₙ₋₁ − (n−1)Heₙ₋₂
//! (which removes μ = tσ) the three terms collapse to
//! bₙ = (−u)ⁿφ(t)(σHeₙ₋₂(t) − Heₙ(t)/σ), u = s/σ < 1. With gₙ = (−u)ⁿφ(t)Heₙ(t)/√n!, which the
//! normalised recurrence carries with its factor,
//! g₀ = φ(t), g₁ = −utφ(t), gₙ₊₁ = −u(t gₙ + u√n gₙ₋₁)/√(n+1),
//! the normalised coefficient is cₙ = bₙ/√n! = (s²gₙ₋₂/√(n(n−1)) − gₙ)/σ.
//!
//! Carrying uⁿφ(t) inside gₙ keeps every value finite: |Heₙ(t)φ(t)|/√n! ≤ 1.09·e^{−t²/4}/√(2π)
//! (Cramér), so |gₙ| decays at least as uⁿ; at |t| ≳ 38.6 φ(t) underflows and cₙ = 0 (n ≥ 2),
//! where the true values are below 10⁻³⁰⁰. The recurrence is the forward one of the Hermite
//! polynomials, stable for them; cₙ's difference of two terms cancels only where cₙ itself
//! passes through zero, its absolute error a few ε of the terms, which are bounded as gₙ is
//! (checked against the composite quadrature rule in `HermiteCoefficients`' tests). Mean, c₁
//! and the variance come from `gelu_exact::group_moments`.

use super::hermite::WIDE_ORDER;
use std::sync::OnceLock;

/// Largest −t = −μ/√(1 + s²) of a unit the closed form serves. Beyond, on GELU's decaying
/// side, its mean μΦ(t) + (s²/σ)φ(t) and its cₙ are differences of terms ~|t|² times their
/// result (Φ(t) ≈ φ(t)/|t| cancels against φ(t)), and against the reference
/// (`coef_reference`, 20-point Gauss–Legendre over |z| ≤ 50) the closed form was off by
/// 1.0·10⁻¹⁰ of |m| + √Var at s = 10, μ = −12 s (t = −11.9), 6·10⁻¹³ at s = 1.5, μ = −30 s
/// and 100 % at s ≥ 5, μ ≤ −20 s (where φ(t) underflows first); such units take the composite
/// rule (`HermiteCoefficients::with_rule`, within 10⁻¹³ of the reference there; EXPERIMENTS.md,
/// gh35 and gh36). At t ≥ −6 it was within 10⁻¹³ on gh35's grid.
pub(crate) const CLOSED_FORM_T: f64 = 6.0;

/// Whether a GELU unit at h ~ N(μ, s²) lies beyond the closed form's range
/// ([`CLOSED_FORM_T`]).
pub(crate) fn beyond_closed_form(mu: f64, s: f64) -> bool {
    mu < -CLOSED_FORM_T * (1.0 + s * s).sqrt()
}

/// The recurrence's constants for n = 2..=K, shared by every unit ([`group_coefficients`]):
/// 1/√n, √(n−1)/√n and 1/√(n(n−1)), so that a step is products and a sum (no division, no
/// square root).
pub(crate) struct Recurrence {
    inv: Vec<f64>,
    ratio: Vec<f64>,
    pair: Vec<f64>,
}

/// The largest K of [`Recurrence::shared`]: the series closure's largest order.
const SHARED_ORDER: usize = WIDE_ORDER;

impl Recurrence {
    /// The constants up to K = [`SHARED_ORDER`], built once per process, if `order` ≤ that K.
    pub(crate) fn shared(order: usize) -> Option<&'static Self> {
        static SHARED: OnceLock<Recurrence> = OnceLock::new();
        (order <= SHARED_ORDER).then(|| SHARED.get_or_init(|| Self::new(SHARED_ORDER)))
    }

    /// The constants up to K = `order`.
    pub(crate) fn new(order: usize) -> Self {
        let root = |n: usize| (n as f64).sqrt();
        let steps = 2..=order;
        Recurrence {
            inv: steps.clone().map(|n| 1.0 / root(n)).collect(),
            ratio: steps.clone().map(|n| root(n - 1) / root(n)).collect(),
            pair: steps.map(|n| 1.0 / (root(n) * root(n - 1))).collect(),
        }
    }
}

/// Units whose recurrences [`group_coefficients`] runs side by side: independent chains, whose
/// latencies overlap.
pub(crate) const GROUP: usize = 8;

/// c₂..c_`order` of gelu(μ + s z) for each of at most [`GROUP`] units (s > 0 finite), given
/// their φ(t) (`gelu_exact::group_moments`, which gives c₁ too), `order` ≤ the K of `rec`: the module's
/// formula, gₙ = (−ut/√n)gₙ₋₁ + (−u²√(n−1)/√n)gₙ₋₂, the units' recurrences interleaved step by
/// step (each unit's values are those it takes alone). `emit(n, c)` receives cₙ₊₁ of the units
/// (entries 0..`mu.len()`; the others 0) for n = 1..`order`, in order.
pub(crate) fn group_coefficients(
    mu: &[f64],
    s: &[f64],
    pdf: &[f64],
    order: usize,
    rec: &Recurrence,
    mut emit: impl FnMut(usize, &[f64; GROUP]),
) {
    let units = mu.len().min(GROUP);
    let (mut a, mut b, mut s2, mut inv_sigma) =
        ([0.0; GROUP], [0.0; GROUP], [0.0; GROUP], [0.0; GROUP]);
    // (gₙ₋₂, gₙ₋₁) at the start of step n = 2.
    let (mut g0, mut g1) = ([0.0; GROUP], [0.0; GROUP]);
    for j in 0..units {
        let sigma = (1.0 + s[j] * s[j]).sqrt();
        let (t, u) = (mu[j] / sigma, s[j] / sigma);
        (a[j], b[j], s2[j], inv_sigma[j]) = (-u * t, -u * u, s[j] * s[j], 1.0 / sigma);
        g0[j] = pdf[j];
        g1[j] = a[j] * g0[j];
    }
    let mut cn = [0.0; GROUP];
    for n in 1..order {
        // Step n + 1 (cₙ₊₁ is c[n]), tables from n + 1 = 2.
        let at = n - 1;
        let (inv, ratio, pair) = (rec.inv[at], rec.ratio[at], rec.pair[at]);
        for j in 0..GROUP {
            let g2 = a[j] * inv * g1[j] + b[j] * ratio * g0[j];
            cn[j] = (s2[j] * pair * g0[j] - g2) * inv_sigma[j];
            (g0[j], g1[j]) = (g1[j], g2);
        }
        emit(n, &cn);
    }
}
