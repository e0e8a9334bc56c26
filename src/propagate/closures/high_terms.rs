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

/// The highest total derivative order the reverse pass of the order-4 closure needs.
pub const HIGH_ORDER: usize = 6;

/// `D[a][b]` = E_G\[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)\] for a + b ≤ [`HIGH_ORDER`] (entries with a + b > 6 unused).
pub type HighPairTerms = [[f64; HIGH_ORDER + 1]; HIGH_ORDER + 1];

/// Single-unit expectations for h ~ N(μ, s²), s > 0: `phi[k]` = E_G\[φ⁽ᵏ⁾(h)\],
/// `sq[k]` = E_G\[(φ²)⁽ᵏ⁾(h)\], k = 0..=[`HIGH_ORDER`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HighUnitTerms {
    pub phi: [f64; HIGH_ORDER + 1],
    pub sq: [f64; HIGH_ORDER + 1],
}

/// The Gaussian derivative expectations of one closure input, by unit index (units with s = 0
/// are never asked), to total order [`HIGH_ORDER`].
pub trait HighDerivativeTerms: Sync {
    /// [`HighUnitTerms`] of unit i.
    fn unit(&self, i: usize) -> HighUnitTerms;
    /// [`HighPairTerms`] of units i ≠ j with correlation ρ, or `None` where they do not exist
    /// in floating point (where the forward closure's pair falls back to the Gaussian).
    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<HighPairTerms>;
}
