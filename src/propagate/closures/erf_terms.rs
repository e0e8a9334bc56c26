//! Closed-form Gaussian derivative expectations of erf, for its κ₃/κ₄ corrections
//! ([`super::edgeworth`]).
//!
//! With dₖ = 1/√(1 + 2Σₖₖ), uₖ = √2 dₖ μₖ, cₖ = √2 dₖ and r = 2Σᵢⱼdᵢdⱼ (|r| < 1 always), the
//! Gaussian closure ([`super::ErfClosure`]) is E_G[erf(hᵢ)erf(hⱼ)] = 4Φ₂(uᵢ, uⱼ; r) − 2Φ(uᵢ) −
//! 2Φ(uⱼ) + 1 and E_G[erf(h)] = 2Φ(u) − 1. Only uₖ depends on μₖ (∂_{μₖ} = cₖ∂_{uₖ}), so by
//! Price/Stein
//!
//! ```text
//! D_ab = E_G[erf⁽ᵃ⁾(hᵢ)erf⁽ᵇ⁾(hⱼ)] = cᵢᵃcⱼᵇ (4 ∂ᵃ∂ᵇΦ₂ − 2[b = 0]Φ⁽ᵃ⁾(uᵢ) − 2[a = 0]Φ⁽ᵇ⁾(uⱼ)),
//! E_G[erf⁽ᵏ⁾(h)] = 2cᵏΦ⁽ᵏ⁾(u),
//! E_G[(erf²)⁽ᵏ⁾(h)] = cᵏ (4(∂ₓ + ∂_y)ᵏΦ₂(u, u; r₀) − 4Φ⁽ᵏ⁾(u)),  r₀ = 2Σₖₖdₖ²,
//! ```
//!
//! the Φ₂ partials from [`phi2_partials`] and Φ⁽ᵏ⁾ = He_{k−1}-polynomials times φ.

use std::f64::consts::SQRT_2;

use super::edgeworth::{DerivativeTerms, PairTerms, UnitTerms, ORDERS};
use super::phi2_partials::phi2_partials;
use crate::special::normal_pdf;

/// Φ⁽ᵏ⁾(u) for k = 3, 4.
fn cdf_d34(u: f64) -> [f64; 2] {
    let p = normal_pdf(u);
    [(u * u - 1.0) * p, (3.0 * u - u * u * u) * p]
}

/// erf's terms for an input with means `mu` and covariance `cov`.
pub(crate) struct ErfTerms<'a> {
    cov: faer::MatRef<'a, f64>,
    /// uₖ and cₖ per unit.
    u: Vec<f64>,
    c: Vec<f64>,
    /// dₖ per unit.
    d: Vec<f64>,
    /// Σₖₖ per unit.
    var: Vec<f64>,
}

impl<'a> ErfTerms<'a> {
    /// Per-unit constants from the means, standard deviations and covariance.
    pub(crate) fn new(mu: &[f64], s: &[f64], cov: faer::MatRef<'a, f64>) -> Self {
        let var: Vec<f64> = s.iter().map(|s| s * s).collect();
        let d: Vec<f64> = var.iter().map(|v| 1.0 / (1.0 + 2.0 * v).sqrt()).collect();
        let u = mu.iter().zip(&d).map(|(m, d)| SQRT_2 * d * m).collect();
        let c = d.iter().map(|d| SQRT_2 * d).collect();
        ErfTerms { cov, u, c, d, var }
    }
}

impl DerivativeTerms for ErfTerms<'_> {
    fn pair(&self, i: usize, j: usize, _rho: f64) -> Option<PairTerms> {
        let r = 2.0 * self.cov[(i, j)] * self.d[i] * self.d[j];
        let t = phi2_partials(self.u[i], self.u[j], r);
        let (fi, fj) = (cdf_d34(self.u[i]), cdf_d34(self.u[j]));
        let mut out = [[0.0; 5]; 5];
        for (a, b) in ORDERS {
            let mut v = 4.0 * t[a][b];
            if b == 0 {
                v -= 2.0 * fi[a - 3];
            }
            if a == 0 {
                v -= 2.0 * fj[b - 3];
            }
            out[a][b] = self.c[i].powi(a as i32) * self.c[j].powi(b as i32) * v;
        }
        Some(out)
    }

    fn unit(&self, i: usize) -> UnitTerms {
        let t = self;
        let (u, c) = (t.u[i], t.c[i]);
        let r0 = 2.0 * t.var[i] * t.d[i] * t.d[i];
        let p = phi2_partials(u, u, r0);
        let f = cdf_d34(u);
        let sum3 = p[3][0] + 3.0 * p[2][1] + 3.0 * p[1][2] + p[0][3];
        let sum4 = p[4][0] + 4.0 * p[3][1] + 6.0 * p[2][2] + 4.0 * p[1][3] + p[0][4];
        UnitTerms {
            phi: [2.0 * c.powi(3) * f[0], 2.0 * c.powi(4) * f[1]],
            sq: [
                c.powi(3) * (4.0 * sum3 - 4.0 * f[0]),
                c.powi(4) * (4.0 * sum4 - 4.0 * f[1]),
            ],
        }
    }
}
