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
//! which reproduces the diagonal: Pᵢᵢ = Φ(aᵢ), Aᵢᵢ = mᵢ, Bᵢᵢ = 0.
//!
//! **Linear units.** A unit beyond |aᵢ| = 38 (the forward's `Regime::On`/`Off`) or deterministic
//! (s = 0) is linear to f64 range: φ(hᵢ) = cᵢhᵢ with cᵢ = 1\[μᵢ > 0\], so φ'ᵢ = cᵢ, φ''ᵢ = 0
//! and E\[φᵢ\] = cᵢμᵢ, and by Stein's lemma (E[hᵢ g(hⱼ)] = μᵢE\[g\] + ΣᵢⱼE[g']) its pairs with any
//! unit j are
//!
//! ```text
//! Pᵢⱼ = cᵢE[φ'ⱼ],   Aᵢⱼ = cᵢE[φⱼ],   Aⱼᵢ = cᵢ(μᵢE[φ'ⱼ] + ΣᵢⱼE[φ''ⱼ]),
//! Bᵢⱼ = 0,          Bⱼᵢ = E[δ(hⱼ)φᵢ] = cᵢE[φ''ⱼ](μᵢ − Σᵢⱼμⱼ/Σⱼⱼ)
//! ```
//!
//! (Σᵢⱼ taken as 0 for s = 0, whose row the forward zeroes). These are the closed forms' limits
//! at |aᵢ| → ∞, where the closed forms themselves are not usable: at |aᵢ|, |aⱼ| ≳ 10⁷⁷ and
//! |ρ| ≥ 0.925, Φ₂'s Genz expansion forms 0·∞ (an exp that underflows times a polynomial in
//! aᵢaⱼ that overflows), a NaN that stopped relu's cumulant training on data ×10⁻¹⁵⁰ (biases
//! ~10⁻³ over s ~ 10⁻¹⁵⁰: aᵢ ~ 10¹⁴⁷).

use super::corrected::CorrectedVjp;
use super::stein::{stein_vjp, unit_scales, PairExpectations, SteinExpectations};
use super::{Adjoint, ClosureVjp};
use crate::error::Result;
use crate::propagate::closures::relu::{ratio, Regime};
use crate::propagate::closures::relu_high::ReluHighTerms;
use crate::propagate::closures::relu_terms::ReluTerms;
use crate::propagate::closures::ReluClosure;
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
    /// (1[μᵢ > 0], 0, max(μᵢ, 0)) for a linear unit (module docs).
    pub(super) unit: Vec<(f64, f64, f64)>,
    /// Whether each unit is linear (s = 0 or |μ/s| > 38, module docs).
    linear: Vec<bool>,
}

impl<'a> ReluExpectations<'a> {
    /// The expectations for the closure input `input`.
    pub(crate) fn new(input: &'a Moments) -> Self {
        let (mu, s) = unit_scales(input);
        let linear: Vec<bool> = mu
            .iter()
            .zip(&s)
            .map(|(&m, &s)| s <= 0.0 || Regime::of(m / s) != Regime::Regular)
            .collect();
        let unit = mu
            .iter()
            .zip(&s)
            .zip(&linear)
            .map(|((&m, &s), &linear)| {
                if linear {
                    (if m > 0.0 { 1.0 } else { 0.0 }, 0.0, m.max(0.0))
                } else {
                    let a = m / s;
                    (
                        normal_cdf(a),
                        normal_pdf(a) / s,
                        m * normal_cdf(a) + s * normal_pdf(a),
                    )
                }
            })
            .collect();
        ReluExpectations {
            mu,
            s,
            sig: &input.cov,
            unit,
            linear,
        }
    }

    /// (Pᵢⱼ, Aᵢⱼ, Aⱼᵢ, Bⱼᵢ) of a linear unit i with any unit j (module docs; Bᵢⱼ = 0).
    fn linear_pair(&self, i: usize, j: usize) -> (f64, f64, f64, f64) {
        let (c, uj) = (self.unit[i].0, self.unit[j]);
        let sig = if self.s[i] > 0.0 {
            self.sig[(i, j)]
        } else {
            0.0
        };
        let (mi, mj) = (self.mu[i], self.mu[j]);
        let b = if uj.1 > 0.0 {
            c * uj.1 * (mi - sig * mj / self.sig[(j, j)])
        } else {
            0.0
        };
        (c * uj.0, c * uj.2, c * (mi * uj.0 + sig * uj.1), b)
    }
}

impl SteinExpectations for ReluExpectations<'_> {
    fn unit(&self, i: usize) -> (f64, f64) {
        (self.unit[i].0, self.unit[i].1)
    }

    fn pair(&self, i: usize, j: usize) -> PairExpectations {
        let (si, sj) = (self.s[i], self.s[j]);
        if self.linear[i] {
            let (p, a_ij, a_ji, b_ji) = self.linear_pair(i, j);
            return PairExpectations {
                p,
                a: [a_ij, a_ji],
                b: [0.0, b_ji],
            };
        }
        if self.linear[j] {
            let (p, a_ji, a_ij, b_ij) = self.linear_pair(j, i);
            return PairExpectations {
                p,
                a: [a_ij, a_ji],
                b: [b_ij, 0.0],
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

impl CorrectedVjp for ReluVjp {
    type Forward = ReluClosure;
    type Decide<'a> = ReluTerms;
    type High<'a> = ReluHighTerms;

    fn forward(&self) -> ReluClosure {
        ReluClosure
    }

    fn who(&self) -> &'static str {
        "relu"
    }

    /// The relu's forward terms for the decisions, its terms to order 6.
    fn terms(&self, _: &Moments, mu: Vec<f64>, s: Vec<f64>) -> (ReluTerms, ReluHighTerms) {
        let decide = ReluTerms {
            mu: mu.clone(),
            s: s.clone(),
        };
        (decide, ReluHighTerms { mu, s })
    }
}

impl ClosureVjp for ReluVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        stein_vjp(&ReluExpectations::new(input), input, output, adjoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::{Closure, Corrections};
    use faer::{Col, Mat};

    /// The limit expectations of the module docs written out for [`linear_input`]'s units
    /// (0, 3 on; 1, 4 off; 2 regular, its own pair from the closed form).
    struct Limit<'a> {
        x: &'a Moments,
        regular: ReluExpectations<'a>,
    }

    impl SteinExpectations for Limit<'_> {
        fn unit(&self, i: usize) -> (f64, f64) {
            match i {
                0 | 3 => (1.0, 0.0),
                2 => self.regular.unit(2),
                _ => (0.0, 0.0),
            }
        }

        fn pair(&self, i: usize, j: usize) -> PairExpectations {
            let (mu, sig) = (&self.x.mean, &self.x.cov);
            let (d1, d2) = self.regular.unit(2);
            let m2 = self.regular.unit[2].2;
            let on = |k: usize| k == 0 || k == 3;
            match (i, j) {
                (2, 2) => self.regular.pair(2, 2),
                // On with on: φ = h both, E[φ'φ] = μ.
                _ if on(i) && on(j) => PairExpectations {
                    p: 1.0,
                    a: [mu[j], mu[i]],
                    b: [0.0, 0.0],
                },
                // The regular unit 2 with an on unit k: Stein's lemma on E[φ'₂hₖ], E[δ(h₂)hₖ].
                (2, k) | (k, 2) if on(k) => {
                    let a_2k = mu[k] * d1 + sig[(2, k)] * d2;
                    let b_2k = d2 * (mu[k] - sig[(2, k)] * mu[2] / sig[(2, 2)]);
                    let (a, b) = if i == 2 {
                        ([a_2k, m2], [b_2k, 0.0])
                    } else {
                        ([m2, a_2k], [0.0, b_2k])
                    };
                    PairExpectations { p: d1, a, b }
                }
                // Any pair with an off unit.
                _ => PairExpectations::default(),
            }
        }
    }

    /// Five units h = Fz (rank 3, as h¹ = W¹x of 3 inputs): units 0 (μ/s = 10¹⁴⁷) and 1
    /// (−10¹⁴⁷) at s ~ 10⁻¹⁵⁰ with ρ₀₁ = 0.95 (relu's cumulant training on data ×10⁻¹⁵⁰),
    /// unit 2 regular, units 3 (μ/s = 50) and 4 (−45) beyond the forward's ±38 at s ~ 1.
    fn linear_input() -> Moments {
        let f = [
            [1e-150, 0.0, 0.0],
            [2e-150 * 0.95, 2e-150 * 0.312, 0.0],
            [0.4, 0.2, 0.894],
            [0.3, -0.5, 0.5],
            [0.1, 0.6, -0.3],
        ];
        let cov = Mat::from_fn(5, 5, |i, j| (0..3).map(|k| f[i][k] * f[j][k]).sum());
        let s: Vec<f64> = (0..5).map(|i| f64::sqrt(cov[(i, i)])).collect();
        let mu = [1e-3, -2e-3, 0.3, 50.0 * s[3], -45.0 * s[4]];
        Moments::gaussian(Col::from_fn(5, |i| mu[i]), cov)
    }

    /// At units linear to f64 range (|μ/s| = 10¹⁴⁷ and 45–50) the VJP is the one of the limit
    /// expectations (module docs, "Linear units"), entry by entry to 10⁻¹⁴ relative, and
    /// finite. Fails on the closed forms at such units (NaN from Φ₂ at aᵢ, aⱼ ~ ±10¹⁴⁷,
    /// ρ = 0.95: main's binary refused relu's cumulant training on data ×10⁻¹⁵⁰), and with the
    /// Σᵢⱼ term of Aⱼᵢ or of Bⱼᵢ dropped (units 2 and 3, Σ₂₃ = 0.46).
    #[test]
    fn vjp_at_linear_units_is_the_limit() {
        let x = linear_input();
        let out = ReluClosure.apply(&x, Corrections::None).unwrap();
        let adjoint = Adjoint {
            mean: Col::from_fn(5, |i| 0.7 - 0.3 * i as f64),
            cov: Mat::from_fn(5, 5, |i, j| 0.4 + 0.1 * (i + j) as f64),
        };
        let got = ReluVjp.vjp(&x, &out, &adjoint).unwrap();
        let limit = Limit {
            x: &x,
            regular: ReluExpectations::new(&x),
        };
        let want = stein_vjp(&limit, &x, &out, &adjoint).unwrap();
        let close = |g: f64, w: f64, what: String| {
            assert!(
                g.is_finite() && (g - w).abs() <= 1e-14 * w.abs(),
                "{what}: {g:e} vs the limit's {w:e}"
            );
        };
        for i in 0..5 {
            close(got.mean[i], want.mean[i], format!("∂L/∂μ{i}"));
            for j in 0..5 {
                close(got.cov[(i, j)], want.cov[(i, j)], format!("∂L/∂Σ{i}{j}"));
            }
        }
    }
}
