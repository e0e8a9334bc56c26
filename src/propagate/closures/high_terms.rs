//! Gaussian derivative expectations up to total order 6, for the reverse pass through the
//! κ₃/κ₄-corrected closure ([`super::edgeworth`]; cumulant training at order 3/4, issue #16
//! item 6).
//!
//! The corrected closure returns E_p\[f\] for the Gram–Charlier density p = (1 + 𝒟_κ) p_G about
//! N(μ, Σ), where 𝒟_κ is a differential operator in h with the (fixed) κ₃/κ₄ as constant
//! coefficients. Since ∂p_G/∂μᵢ = −∂ₕᵢp_G and ∂p_G/∂Σᵢⱼ = ∂ₕᵢ∂ₕⱼp_G (i ≠ j; ½∂ₕᵢ² on the
//! diagonal) and 𝒟_κ commutes with both, Stein's lemma and Price's theorem hold for E_p as they
//! do for E_G:
//!
//! ```text
//! ∂E_p[f]/∂μᵢ = E_p[∂ᵢf],   ∂E_p[f]/∂Σᵢⱼ = E_p[∂ᵢ∂ⱼf] (i ≠ j),   ∂E_p[f]/∂Σᵢᵢ = ½E_p[∂ᵢ²f]
//! ```
//!
//! and each E_p of a derivative is again a Gaussian expectation plus κ-weighted Gaussian
//! expectations of higher derivatives. For f = φ(hᵢ)φ(hⱼ) the order-3 (order-4) closure's
//! derivatives need D_ab = E_G[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)] for a + b ≤ 5 (≤ 6) and the single-unit
//! E_G[φ⁽ᵏ⁾], E_G[(φ²)⁽ᵏ⁾] for k ≤ 5 (≤ 6). A closure that supports corrected training supplies
//! them through [`HighDerivativeTerms`].
//!
//! **Standardised tables.** The tables are given in units of a length σₖ per unit
//! ([`HighDerivativeTerms::scale`]): T_ab = σᵢᵃσⱼᵇ D_ab and σᵏE_G[φ⁽ᵏ⁾], σᵏE_G[(φ²)⁽ᵏ⁾], i.e. the
//! derivatives with respect to μₖ/σₖ. A kinked φ's derivatives are deltas of width s: for the
//! relu D_ab ∝ sᵢ^{1−a}sⱼ^{1−b}, which for a + b = 6 exceeds f64's range (s⁻⁴ > 1.8·10³⁰⁸) once
//! s ≲ 10⁻⁷⁷, and overflowed the reverse pass on data ×10⁻¹⁰⁰ (scale67), while the corrections
//! c_ab D_ab themselves (κ ∝ s^{a+b}) are of order s². With σ = s the relu's T_ab = sᵢsⱼ∂ᵃ∂ᵇG
//! are all of order s², and the consumer forms (c_ab/σᵢᵃσⱼᵇ)·T_ab (standardised cumulants,
//! of order 1) before dividing by the σ's its own derivative order needs ([`unscale`]). A smooth
//! φ (erf) keeps σ = 1: its tables are the D_ab themselves.

/// The highest total derivative order the reverse pass of the order-4 closure needs.
pub const HIGH_ORDER: usize = 6;

/// `T[a][b]` = σᵢᵃσⱼᵇE_G\[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)\] for a + b ≤ [`HIGH_ORDER`] (entries with a + b > 6
/// unused; module docs, "Standardised tables").
pub type HighPairTerms = [[f64; HIGH_ORDER + 1]; HIGH_ORDER + 1];

/// Single-unit expectations for h ~ N(μ, s²), s > 0, in units of σ: `phi[k]` = σᵏE_G\[φ⁽ᵏ⁾(h)\],
/// `sq[k]` = σᵏE_G\[(φ²)⁽ᵏ⁾(h)\], k = 0..=[`HIGH_ORDER`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HighUnitTerms {
    pub phi: [f64; HIGH_ORDER + 1],
    pub sq: [f64; HIGH_ORDER + 1],
}

/// v/σᵏ, by k divisions (no σᵏ is formed, so it neither overflows nor underflows where v/σᵏ is
/// in range; exact for σ = 1).
pub fn unscale(v: f64, sigma: f64, k: usize) -> f64 {
    (0..k).fold(v, |v, _| v / sigma)
}

/// The Gaussian derivative expectations of one closure input, by unit index (units with s = 0
/// are never asked), to total order [`HIGH_ORDER`], standardised by [`HighDerivativeTerms::scale`].
pub trait HighDerivativeTerms: Sync {
    /// σᵢ, the length the tables of unit i are measured in (module docs); 1 unless a closure
    /// says otherwise.
    fn scale(&self, _i: usize) -> f64 {
        1.0
    }
    /// [`HighUnitTerms`] of unit i.
    fn unit(&self, i: usize) -> HighUnitTerms;
    /// [`HighPairTerms`] of units i ≠ j with correlation ρ, or `None` where they do not exist
    /// in floating point (where the forward closure's pair falls back to the Gaussian).
    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<HighPairTerms>;

    /// [`HighDerivativeTerms::unit`] in natural units (E_G\[φ⁽ᵏ⁾\], E_G\[(φ²)⁽ᵏ⁾\]), for the tests.
    #[cfg(test)]
    fn natural_unit(&self, i: usize) -> HighUnitTerms {
        let (mut t, s) = (self.unit(i), self.scale(i));
        for k in 0..=HIGH_ORDER {
            t.phi[k] = unscale(t.phi[k], s, k);
            t.sq[k] = unscale(t.sq[k], s, k);
        }
        t
    }

    /// [`HighDerivativeTerms::pair`] in natural units (D_ab), for the tests.
    #[cfg(test)]
    fn natural_pair(&self, i: usize, j: usize, rho: f64) -> Option<HighPairTerms> {
        let (mut d, si, sj) = (self.pair(i, j, rho)?, self.scale(i), self.scale(j));
        for (a, row) in d.iter_mut().enumerate() {
            for (b, v) in row.iter_mut().enumerate() {
                *v = unscale(unscale(*v, si, a), sj, b);
            }
        }
        Some(d)
    }
}
