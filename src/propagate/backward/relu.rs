//! VJP of the relu closure φ(h) = max(h, 0), in closed form through Φ₂.
//!
//! With aₖ = μₖ/sₖ, ρ = Σᵢⱼ/(sᵢsⱼ), q = √(1 − ρ²), φ' = 1\[h > 0\] and φ'' = δ(h), the Stein
//! expectations of [`super::stein`] are
//!
//! ```text
//! E[φ'ᵢ] = Φ(aᵢ),   E[φ''ᵢ] = φ(aᵢ)/sᵢ                      (the density of hᵢ at 0)
//! Pᵢⱼ = P(hᵢ > 0, hⱼ > 0) = Φ₂(aᵢ, aⱼ; ρ)
//! Aᵢⱼ = E[hⱼ 1[hᵢ > 0, hⱼ > 0]] = μⱼΦ₂ + sⱼ[φ(aⱼ)Φ((aᵢ − ρaⱼ)/q) + ρφ(aᵢ)Φ((aⱼ − ρaᵢ)/q)]
//! Bᵢⱼ = E[δ(hᵢ) hⱼ⁺] = (φ(aᵢ)/sᵢ)·E[hⱼ⁺ | hᵢ = 0] = φ(aᵢ)(sⱼ/sᵢ)[(aⱼ − ρaᵢ)Φ(x) + qφ(x)],
//!       x = (aⱼ − ρaᵢ)/q
//! ```
//!
//! Aᵢⱼ follows from Stein's lemma for the standardised X: E[Xⱼ g(X)] = ρE[∂ᵢg] + E[∂ⱼg] with
//! g = 1[Xᵢ > −aᵢ, Xⱼ > −aⱼ]; Bᵢⱼ from hⱼ | hᵢ = 0 ~ N(sⱼ(aⱼ − ρaᵢ), sⱼ²q²) and
//! E[N(m, σ²)⁺] = mΦ(m/σ) + σφ(m/σ). At q = 0 the ratios take their limits (±∞, or 0 for 0/0),
//! which reproduces the diagonal: Pᵢᵢ = Φ(aᵢ), Aᵢᵢ = mᵢ, Bᵢᵢ = 0. A deterministic unit (s = 0)
//! is independent of the others: its pairs factorise, with E\[φ'\] = 1\[μ > 0\] and E[φ''] = 0.

use super::corrected::{closure_corrected_vjp, SliceAdjoint};
use super::stein::{stein_vjp, unit_scales, PairExpectations, SteinExpectations};
use super::{Adjoint, ClosureVjp};
use crate::error::Result;
use crate::propagate::closures::relu::ratio;
use crate::propagate::closures::relu_high::ReluHighTerms;
use crate::propagate::closures::relu_terms::ReluTerms;
use crate::propagate::closures::{Closure, Corrections, ReluClosure};
use crate::special::{bvn_cdf, normal_cdf, normal_pdf};
use crate::stats::Moments;

/// Closed-form VJP of [`crate::propagate::closures::ReluClosure`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ReluVjp;

/// The relu's Gaussian expectations of one closure input (also the building block of the leaky
/// relu's, [`super::leaky_relu`]).
pub(crate) struct ReluExpectations<'a> {
    pub(super) mu: Vec<f64>,
    pub(super) sig: &'a faer::Mat<f64>,
    s: Vec<f64>,
    /// (E[φ'], E[φ''], E[φ]) = (Φ(bᵢ), φ(bᵢ)/sᵢ, μᵢΦ(bᵢ) + sᵢφ(bᵢ)) per unit, bᵢ = μᵢ/sᵢ;
    /// (1[μᵢ > 0], 0, max(μᵢ, 0)) for a deterministic unit.
    pub(super) unit: Vec<(f64, f64, f64)>,
}

impl<'a> ReluExpectations<'a> {
    /// The expectations for the closure input `input`.
    pub(crate) fn new(input: &'a Moments) -> Self {
        let (mu, s) = unit_scales(input);
        let unit = mu
            .iter()
            .zip(&s)
            .map(|(&m, &s)| {
                if s > 0.0 {
                    let a = m / s;
                    (
                        normal_cdf(a),
                        normal_pdf(a) / s,
                        m * normal_cdf(a) + s * normal_pdf(a),
                    )
                } else {
                    (if m > 0.0 { 1.0 } else { 0.0 }, 0.0, m.max(0.0))
                }
            })
            .collect();
        ReluExpectations {
            mu,
            s,
            sig: &input.cov,
            unit,
        }
    }
}

impl SteinExpectations for ReluExpectations<'_> {
    fn unit(&self, i: usize) -> (f64, f64) {
        (self.unit[i].0, self.unit[i].1)
    }

    fn pair(&self, i: usize, j: usize) -> PairExpectations {
        let (si, sj) = (self.s[i], self.s[j]);
        if si <= 0.0 || sj <= 0.0 {
            let (ui, uj) = (self.unit[i], self.unit[j]);
            return PairExpectations {
                p: ui.0 * uj.0,
                a: [ui.0 * uj.2, uj.0 * ui.2],
                b: [ui.1 * uj.2, uj.1 * ui.2],
            };
        }
        let (ai, aj) = (self.mu[i] / si, self.mu[j] / sj);
        let rho = (self.sig[(i, j)] / si / sj).clamp(-1.0, 1.0);
        let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
        let p = bvn_cdf(ai, aj, rho);
        let (xi, xj) = (ratio(ai - rho * aj, q), ratio(aj - rho * ai, q));
        let (pdf_ai, pdf_aj, cdf_xi, cdf_xj) = (
            normal_pdf(ai),
            normal_pdf(aj),
            normal_cdf(xi),
            normal_cdf(xj),
        );
        let (tail_i, tail_j) = if q > 0.0 {
            (q * normal_pdf(xi), q * normal_pdf(xj))
        } else {
            (0.0, 0.0)
        };
        PairExpectations {
            p,
            a: [
                self.mu[j] * p + sj * (pdf_aj * cdf_xi + rho * pdf_ai * cdf_xj),
                self.mu[i] * p + si * (pdf_ai * cdf_xj + rho * pdf_aj * cdf_xi),
            ],
            b: [
                pdf_ai * (sj / si) * ((aj - rho * ai) * cdf_xj + tail_j),
                pdf_aj * (si / sj) * ((ai - rho * aj) * cdf_xi + tail_i),
            ],
        }
    }
}

impl ReluVjp {
    /// The VJP of the κ₃/κ₄-corrected relu closure at `order` (input μ, Σ and the κ slices it
    /// reads): the generic reverse pass ([`super::corrected`]) with the relu's forward terms for
    /// the decisions, its terms to order 6 and this Gaussian VJP.
    pub fn corrected(
        &self,
        input: &Moments,
        order: Corrections,
        adjoint: &Adjoint,
    ) -> Result<(Adjoint, SliceAdjoint)> {
        let relu = (
            &ReluClosure as &dyn Closure,
            self as &dyn ClosureVjp,
            "relu",
        );
        closure_corrected_vjp(relu, (input, order), adjoint, |mu, s| {
            let decide = ReluTerms {
                mu: mu.clone(),
                s: s.clone(),
            };
            (decide, ReluHighTerms { mu, s })
        })
    }
}

impl ClosureVjp for ReluVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        stein_vjp(&ReluExpectations::new(input), input, output, adjoint)
    }
}
