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
//! the Φ₂ partials from [`phi2_partials`], the diagonal's (∂ₓ + ∂_y)ᵏΦ₂ = dᵏ/duᵏ Φ₂(u, u; r₀)
//! from [`phi2_diagonal`] (with 1 − r₀² from the Σ's), and Φ⁽ᵏ⁾ = He_{k−1}-polynomials times φ.

use std::f64::consts::SQRT_2;

use super::edgeworth::{DerivativeTerms, PairTerms, UnitTerms, ORDERS};
use super::erf::one_minus_r2;
use super::phi2_high::phi2_diagonal;
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
        let (dd, c) = (self.d[i] * self.d[j], self.cov[(i, j)]);
        // 1 − r² from the Σ's: from the rounded r it errs by ~ε/(1 − r) → ε·Σ of itself, and
        // the partials ∝ (1 − r²)^{−(a+b−1)/2} with it (module docs).
        let q2 = one_minus_r2((self.var[i], self.var[j], c), dd);
        let t = phi2_partials(self.u[i], self.u[j], 2.0 * c * dd, q2);
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
        let (v, dd) = (t.var[i], t.d[i] * t.d[i]);
        // dᵏ/duᵏ Φ₂(u, u; r₀) along the diagonal, 1 − r₀² from Σₖₖ (`erf::one_minus_r2`): the
        // sum of the partials (∂ₓ + ∂_y)ᵏΦ₂, each ∝ (1 − r₀²)^{−k/2}, cancelled to nothing
        // from Σₖₖ ≈ 10¹⁰ (propagate --order 3 of erf units of s.d. 10⁵: cov_rel_err 3·10⁵, adv72).
        let diag = phi2_diagonal(u, 2.0 * v * dd, one_minus_r2((v, v, v), dd));
        let f = cdf_d34(u);
        let (sum3, sum4) = (diag[3], diag[4]);
        UnitTerms {
            phi: [2.0 * c.powi(3) * f[0], 2.0 * c.powi(4) * f[1]],
            sq: [
                c.powi(3) * (4.0 * sum3 - 4.0 * f[0]),
                c.powi(4) * (4.0 * sum4 - 4.0 * f[1]),
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::phi2_high::binomial;
    use super::*;
    use crate::special::normal_cdf;

    /// The pair terms of two units that are one variable (μᵢ = μⱼ, Σᵢᵢ = Σⱼⱼ = Σᵢⱼ: r = r₀)
    /// summed as the unit's, Σₐ C(k, a)D_{a,k−a} = E_G[(erf²)⁽ᵏ⁾(h)] (Leibniz: ∂ₜᵏ of
    /// erf(h + t)² is that sum), against the unit terms ([`unit_terms_hold_on_wide_units`]
    /// checks those against an independent closed form), Σ = 1 to 10¹² (μ = 0.3√Σ). Each D_ab
    /// of total order k is ~4cᵏ/q^{2k−5} (q² = 1 − r₀² = (1 + 4Σ)/(1 + 2Σ)², formed here
    /// independently), larger than the sum, which cancels them (`edgeworth`, "One variable
    /// twice"): the tolerance is 16ε of that, the sum's rounding. Order 3 (q⁻¹ ~ √Σ) fails
    /// with y − r·x taken as it reads ([`phi2_partials`]' module docs) from Σ = 10⁴ (3·10⁻¹¹·4c³
    /// off; from Σ = 10⁸ by more than the sum), and with 1 − r² formed from r from Σ = 10¹⁶
    /// (r rounds to 1: NaN; below, a consistently rounded r is harmless). Order 4's terms are
    /// q⁻³ ~ Σ^{3/2} times the sum: at Σ = 10⁸ its rounding is the sum's size whatever the
    /// terms' accuracy; the bound is checked all the same.
    #[test]
    fn pair_terms_of_one_variable_sum_to_the_unit_terms() {
        for var in [1.0, 1e4, 1e8, 1e12, 1e16, 1e20] {
            let (mu, s) = (0.3 * f64::sqrt(var), f64::sqrt(var));
            let cov = faer::Mat::from_fn(2, 2, |_, _| var);
            let terms = ErfTerms::new(&[mu, mu], &[s, s], cov.as_ref());
            let (pair, unit) = (terms.pair(1, 0, 1.0).unwrap(), terms.unit(0).sq);
            let q = (1.0 + 4.0 * var).sqrt() / (1.0 + 2.0 * var);
            for k in 3..=4 {
                let sum: f64 = (0..=k).map(|a| binomial(k, a) * pair[a][k - a]).sum();
                let want = unit[k - 3];
                let size = 4.0 * terms.c[0].powi(k as i32) / q.powi(2 * k as i32 - 5);
                let tol = 16.0 * f64::EPSILON * size;
                assert!(
                    (sum - want).abs() <= tol,
                    "Σ = {var:e}, k = {k}: {sum:e} vs {want:e} (tol {tol:e})"
                );
            }
        }
    }

    /// The unit terms E_G[(erf²)⁽ᵏ⁾(h)], k = 3, 4, against an independent closed form: along
    /// the diagonal g(u) = d/du Φ₂(u, u; r₀) = 2φ(u)Φ(κu), κ = √((1 − r₀)/(1 + r₀)) =
    /// 1/√(1 + 4Σ) (the conditional cdf at y = u), so with A = φ(u)Φ(κu), B = φ(u)φ(κu)
    /// (A' = −uA + κB, B' = −u(1 + κ²)B)
    ///
    /// ```text
    /// g''/2  = (u² − 1)A − uκ(2 + κ²)B
    /// g'''/2 = (3u − u³)A + κB((u² − 1) − (2 + κ²) + (2 + κ²)(1 + κ²)u²)
    /// ```
    ///
    /// and E_G[(erf²)⁽ᵏ⁾] = cᵏ(4g⁽ᵏ⁻¹⁾ − 4Φ⁽ᵏ⁾(u)). From Σ = 1 to 10¹⁴ (μ = 0.3√Σ), within
    /// 10⁻⁹ of the largest term. Fails with the unit's sums formed from `phi2_partials`
    /// (1 − r₀² from r₀): off from Σ = 10¹⁰ on (order 3: −1.1e−16 for −5.3e−21; adv72).
    #[test]
    fn unit_terms_hold_on_wide_units() {
        for var in [1.0, 1e4, 1e10, 1e12, 1e14] {
            let (mu, s) = (0.3 * f64::sqrt(var), f64::sqrt(var));
            let cov = faer::Mat::from_fn(1, 1, |_, _| var);
            let terms = ErfTerms::new(&[mu], &[s], cov.as_ref());
            let got = terms.unit(0).sq;
            let (u, c) = (terms.u[0], terms.c[0]);
            let kappa = 1.0 / (1.0 + 4.0 * var).sqrt();
            let a = normal_pdf(u) * normal_cdf(kappa * u);
            let b = normal_pdf(u) * normal_pdf(kappa * u);
            let k2 = kappa * kappa;
            let g2 = 2.0 * ((u * u - 1.0) * a - u * kappa * (2.0 + k2) * b);
            let g3 = 2.0
                * ((3.0 * u - u.powi(3)) * a
                    + kappa * b * ((u * u - 1.0) - (2.0 + k2) + (2.0 + k2) * (1.0 + k2) * u * u));
            let f = cdf_d34(u);
            let want = [
                c.powi(3) * (4.0 * g2 - 4.0 * f[0]),
                c.powi(4) * (4.0 * g3 - 4.0 * f[1]),
            ];
            for k in 0..2 {
                let size = c.powi(3 + k as i32) * (4.0 * g2.abs().max(g3.abs()) + 4.0);
                assert!(
                    (got[k] - want[k]).abs() <= 1e-9 * size,
                    "Σ = {var:e}: order {}: {:e} vs {:e}",
                    k + 3,
                    got[k],
                    want[k]
                );
            }
        }
    }
}
