//! φ(h) = max(h, 0): exact Gaussian closure through Φ₂ (DESIGN.md §3, "ReLU").

use std::f64::consts::FRAC_PI_2;

use super::bvn::{bvn_cdf, cdf, pdf};
use super::input::{correlation, gaussian_only, reset_output, units};
use super::rules::gauss_legendre;
use super::triangle::fill_symmetric;
use super::{Closure, Corrections};
use crate::error::Result;
use crate::stats::Moments;

/// Exact Gaussian closure of the relu (DESIGN.md §3). Gaussian-only: κ₃/κ₄ corrections are
/// refused with [`crate::Error::Unsupported`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ReluClosure;

/// Mean and variance of max(h, 0), h ~ N(μ, s²), a = μ/s:
/// m = μΦ(a) + sφ(a), Var = (μ² + s²)Φ(a) + μsφ(a) − m² for a ≥ 0. For a < 0 that difference
/// cancels (≈ a⁴ digits lost), so the variance is taken from Price's theorem instead,
/// Var = s² ∫₀¹ Φ₂(a, a; r) dr = s² ∫₀^{π/2} Φ₂(a, a; sin θ) cos θ dθ (positive integrand),
/// by ⌈1 + a²/32⌉ panels of 20-point Gauss–Legendre. A deterministic unit (s = 0) gives
/// (max(μ, 0), 0).
pub fn relu_moments(mu: f64, s: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (mu.max(0.0), 0.0);
    }
    let a = mu / s;
    let (big_phi, small_phi) = (cdf(a), pdf(a));
    let m = mu * big_phi + s * small_phi;
    if a >= 0.0 {
        let var = (mu * mu + s * s) * big_phi + mu * s * small_phi - m * m;
        return (m, var.max(0.0));
    }
    let (x, w) = gauss_legendre(20);
    let panels = (1.0 + a * a / 32.0).ceil() as usize;
    let width = FRAC_PI_2 / panels as f64;
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = (p as f64 + 0.5) * width;
        for (xi, wi) in x.iter().zip(&w) {
            let t = mid + 0.5 * width * xi;
            sum += wi * t.cos() * bvn_cdf(a, a, t.sin());
        }
    }
    (m, s * s * 0.5 * width * sum)
}

/// E[hᵢ⁺hⱼ⁺]/(sᵢsⱼ) for standardised means a, b and correlation ρ (DESIGN.md §3):
/// (ab + ρ)Φ₂(a, b; ρ) + aφ(b)Φ((a − ρb)/q) + bφ(a)Φ((b − ρa)/q) + qφ(b)φ((a − ρb)/q),
/// q = √(1 − ρ²). At q = 0 (ρ = ±1) the ratios take their limits (±∞, or 0 when the numerator
/// vanishes), which reproduces the degenerate expectation without NaN.
pub fn relu_cross(a: f64, b: f64, rho: f64) -> f64 {
    let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
    let xa = ratio(a - rho * b, q);
    let xb = ratio(b - rho * a, q);
    (a * b + rho) * bvn_cdf(a, b, rho)
        + a * pdf(b) * cdf(xa)
        + b * pdf(a) * cdf(xb)
        + q * pdf(b) * pdf(xa)
}

/// num/q with the limits num/0 = ±∞ and 0/0 = 0.
#[inline]
fn ratio(num: f64, q: f64) -> f64 {
    if q > 0.0 {
        num / q
    } else if num == 0.0 {
        0.0
    } else {
        num.signum() * f64::INFINITY
    }
}

impl Closure for ReluClosure {
    fn name(&self) -> String {
        "relu (Φ₂ closed form)".into()
    }

    /// mᵢ and Cᵢᵢ by [`relu_moments`]; Cᵢⱼ = sᵢsⱼ·[`relu_cross`] − mᵢmⱼ; rows of deterministic
    /// units are zero.
    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()> {
        gaussian_only(corrections, "relu")?;
        let u = units(input, "relu")?;
        let n = input.dim();
        reset_output(out, n);
        let (m, var): (Vec<f64>, Vec<f64>) = (0..n).map(|i| relu_moments(u.mu[i], u.s[i])).unzip();
        for (i, mi) in m.iter().enumerate() {
            out.mean[i] = *mi;
        }
        let a: Vec<f64> = (0..n)
            .map(|i| if u.s[i] > 0.0 { u.mu[i] / u.s[i] } else { 0.0 })
            .collect();
        fill_symmetric(&mut out.cov, |i, col| {
            let sig = &input.cov.col_as_slice(i)[..=i];
            for (j, c) in col.iter_mut().enumerate() {
                *c = if j == i {
                    var[i]
                } else if u.s[i] > 0.0 && u.s[j] > 0.0 {
                    let rho = correlation(sig[j], u.s[i], u.s[j]);
                    u.s[i] * u.s[j] * relu_cross(a[i], a[j], rho) - m[i] * m[j]
                } else {
                    0.0
                };
            }
        })
    }
}
