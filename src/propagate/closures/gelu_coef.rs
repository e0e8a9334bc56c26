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
//! (checked against the composite quadrature rule in `HermiteCoefficients`' tests). Mean,
//! variance and c₁ come from `gelu_exact::unit_moments`.

use super::gelu_exact::unit_moments;
use crate::special::normal_pdf;

/// √n for n = 0..=K: shared by every unit of a layer ([`unit_coefficients`]).
pub(crate) fn sqrt_table(order: usize) -> Vec<f64> {
    (0..=order).map(|n| (n as f64).sqrt()).collect()
}

/// (mean, variance, c₁..c_K) of gelu(μ + s z), s > 0 finite, K = `roots.len()` − 1, `roots` =
/// [`sqrt_table`]\(K\): the module's formula.
pub(crate) fn unit_coefficients(mu: f64, s: f64, roots: &[f64]) -> (f64, f64, Vec<f64>) {
    let order = roots.len().saturating_sub(1);
    let (mean, var, c1) = unit_moments(mu, s);
    let sigma = (1.0 + s * s).sqrt();
    let (t, u) = (mu / sigma, s / sigma);
    let mut c = vec![0.0; order];
    if let Some(first) = c.first_mut() {
        *first = c1;
    }
    // (gₙ₋₂, gₙ₋₁) at the start of step n = 2.
    let phi = normal_pdf(t);
    let (mut g0, mut g1) = (phi, -u * t * phi);
    for n in 2..=order {
        let g2 = -u * (t * g1 + u * roots[n - 1] * g0) / roots[n];
        c[n - 1] = (s * s * g0 / (roots[n] * roots[n - 1]) - g2) / sigma;
        (g0, g1) = (g1, g2);
    }
    (mean, var, c)
}
