//! φ(h) = erf(h): exact Gaussian closure through Φ₂ (DESIGN.md §3, "erf").

use std::f64::consts::{PI, SQRT_2};

use super::bvn::bvn_cov;
use super::input::{gaussian_only, reset_output, units};
use super::rules::gauss_legendre;
use super::triangle::fill_symmetric;
use super::{Closure, Corrections};
use crate::error::Result;
use crate::stats::Moments;

/// Exact Gaussian closure of erf. With uₖ = √2μₖ/√(1+2Σₖₖ) and r = 2Σᵢⱼ/√((1+2Σᵢᵢ)(1+2Σⱼⱼ)),
/// erf(hₖ) = 2·1[Xₖ ≤ uₖ] − 1 in law for standard normals with correlation r, so
///
/// ```text
/// mᵢ = erf(μᵢ/√(1+2Σᵢᵢ)) = 2Φ(uᵢ) − 1,
/// E[erf erf] = 4Φ₂(uᵢ, uⱼ; r) − 2Φ(uᵢ) − 2Φ(uⱼ) + 1,
/// Cᵢⱼ = 4(Φ₂(uᵢ, uⱼ; r) − Φ(uᵢ)Φ(uⱼ)).
/// ```
///
/// The covariance is evaluated as 4·[`bvn_cov`], which never forms the difference of two
/// numbers near 1 (see there); the literal 4Φ₂ − 2Φ − 2Φ + 1 − mᵢmⱼ loses all digits when
/// |uᵢ| ≳ 6 (variance ≲ 10⁻⁹). Gaussian-only: κ₃/κ₄ corrections are refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErfClosure;

/// Covariance of erf(hᵢ), erf(hⱼ) under a Gaussian closure by Price's theorem, an independent
/// check of [`ErfClosure`]: ∂E[φ(hᵢ)φ(hⱼ)]/∂Σᵢⱼ = E[φ'(hᵢ)φ'(hⱼ)] with φ' = (2/√π)e^{−h²}, and
/// E[e^{−hᵢ²−hⱼ²}] = det(I+2S)^{−1/2} exp(−μᵀ(I+2S)⁻¹μ), so
///
/// ```text
/// Cᵢⱼ = ∫₀^{Σᵢⱼ} (4/π) det(I+2S(t))^{−1/2} exp(−μᵀ(I+2S(t))⁻¹μ) dt,  S(t) = [[Σᵢᵢ, t], [t, Σⱼⱼ]],
/// ```
///
/// by `nodes`-point Gauss–Legendre (the integrand is smooth on the whole range |t| ≤ sᵢsⱼ).
pub fn erf_cov_price(mu: [f64; 2], var: [f64; 2], cov: f64, nodes: usize) -> f64 {
    let (x, w) = gauss_legendre(nodes);
    let (di, dj) = (1.0 + 2.0 * var[0], 1.0 + 2.0 * var[1]);
    let half = 0.5 * cov;
    x.iter()
        .zip(&w)
        .map(|(&x, &w)| {
            let t = half * (1.0 + x);
            let det = di * dj - 4.0 * t * t;
            let quad = (dj * mu[0] * mu[0] - 4.0 * t * mu[0] * mu[1] + di * mu[1] * mu[1]) / det;
            w * (4.0 / PI) * (-quad).exp() / det.sqrt()
        })
        .sum::<f64>()
        * half
}

impl Closure for ErfClosure {
    fn name(&self) -> String {
        "erf (Φ₂ closed form)".into()
    }

    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()> {
        gaussian_only(corrections, "erf")?;
        let u = units(input, "erf")?;
        let n = input.dim();
        reset_output(out, n);
        // dₖ = 1/√(1 + 2Σₖₖ), uₖ = √2 μₖ dₖ.
        let d: Vec<f64> =
            u.s.iter()
                .map(|s| 1.0 / (1.0 + 2.0 * s * s).sqrt())
                .collect();
        let uu: Vec<f64> = (0..n).map(|k| SQRT_2 * u.mu[k] * d[k]).collect();
        for (i, (mu, d)) in u.mu.iter().zip(&d).enumerate() {
            out.mean[i] = libm::erf(mu * d);
        }
        fill_symmetric(&mut out.cov, |i, col| {
            let sig = &input.cov.col_as_slice(i)[..=i];
            for (j, c) in col.iter_mut().enumerate() {
                let r = 2.0 * sig[j] * d[i] * d[j];
                *c = 4.0 * bvn_cov(uu[i], uu[j], r);
            }
        })
    }
}
