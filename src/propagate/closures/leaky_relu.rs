//! φ(h) = max(h, 0) + a·min(h, 0): exact Gaussian closure from the relu's Φ₂ closure.
//!
//! Writing the leaky relu as φ(h) = a·h + (1 − a)·relu(h), its moments follow from those of
//! the relu and of h. For h ~ N(μ, Σ), sᵢ = √Σᵢᵢ, bᵢ = μᵢ/sᵢ:
//!
//! ```text
//! mᵢ  = a μᵢ + (1 − a) m⁺ᵢ
//! Cᵢⱼ = a² Σᵢⱼ + a(1 − a) [Cov(hᵢ, relu hⱼ) + Cov(relu hᵢ, hⱼ)] + (1 − a)² C⁺ᵢⱼ
//!     = Σᵢⱼ · a [a + (1 − a)(Φ(bᵢ) + Φ(bⱼ))] + (1 − a)² C⁺ᵢⱼ,
//! ```
//!
//! (m⁺, C⁺) the relu closure's output ([`super::relu`], DESIGN.md §3). The middle step is
//! Stein's lemma, Cov(hᵢ, g(hⱼ)) = Σᵢⱼ E[g'(hⱼ)] (C. Stein, Ann. Stat. 9, 1135 (1981)), with
//! E[relu'(hⱼ)] = P(hⱼ > 0) = Φ(bⱼ). The diagonal i = j is the same formula. A deterministic
//! unit (sᵢ = 0) has Σᵢⱼ = 0 for every j, so its Φ(bᵢ) is never used. κ₃/κ₄ corrections come
//! from the closed forms of `relu_terms` ([`super::edgeworth`]).

use super::edgeworth::{corrected, Fallbacks};
use super::input::units;
use super::relu_terms::{LeakyTerms, ReluTerms};
use super::{Closure, Corrections, ReluClosure};
use crate::error::Result;
use crate::special::normal_cdf;
use crate::stats::Moments;

/// Exact Gaussian closure of the leaky relu with slope `a` on the negative side (module docs),
/// with κ₃/κ₄ corrections.
#[derive(Clone, Copy, Debug)]
pub struct LeakyReluClosure {
    slope: f64,
}

impl LeakyReluClosure {
    /// The closure of φ(h) = max(h, 0) + slope·min(h, 0).
    pub fn new(slope: f64) -> Self {
        LeakyReluClosure { slope }
    }
}

impl Closure for LeakyReluClosure {
    fn positively_homogeneous(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        format!("leaky_relu:{} (Φ₂ closed form)", self.slope)
    }

    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        let gaussian = |out: &mut Moments| self.gaussian(input, out);
        corrected(input, corrections, out, "leaky relu", gaussian, |u| {
            LeakyTerms {
                relu: ReluTerms {
                    mu: u.mu.clone(),
                    s: u.s.clone(),
                },
                slope: self.slope,
                cov: input.cov.as_ref(),
            }
        })
    }
}

impl LeakyReluClosure {
    /// The Gaussian closure (module docs).
    fn gaussian(&self, input: &Moments, out: &mut Moments) -> Result<()> {
        let u = units(input, "leaky relu")?;
        ReluClosure.apply_into(input, Corrections::None, out)?;
        let a = self.slope;
        let n = input.dim();
        let p: Vec<f64> = (0..n)
            .map(|i| {
                if u.s[i] > 0.0 {
                    normal_cdf(u.mu[i] / u.s[i])
                } else {
                    0.0
                }
            })
            .collect();
        for i in 0..n {
            out.mean[i] = a * u.mu[i] + (1.0 - a) * out.mean[i];
        }
        let keep = (1.0 - a) * (1.0 - a);
        for j in 0..n {
            for i in 0..n {
                let linear = a * (a + (1.0 - a) * (p[i] + p[j]));
                out.cov[(i, j)] = linear * input.cov[(i, j)] + keep * out.cov[(i, j)];
            }
        }
        Ok(())
    }
}
