//! The VJP of the leaky relu closure ([`crate::propagate::closures::LeakyReluClosure`]) by the
//! Stein/Price route ([`super::stein`]), its expectations built from the relu's.
//!
//! With φ = a·h + (1 − a)·relu(h): φ' = a + (1 − a)·1\[h > 0\], φ'' = (1 − a)·δ(h). Writing
//! Φᵢ = P(hᵢ > 0), (P⁺, A⁺, B⁺) the relu's pair expectations and m⁺ⱼ = E[relu hⱼ]:
//!
//! ```text
//! E[φ'ᵢ] = a + (1 − a)Φᵢ,             E[φ''ᵢ] = (1 − a) φ(bᵢ)/sᵢ
//! Pᵢⱼ = a² + a(1 − a)(Φᵢ + Φⱼ) + (1 − a)² P⁺ᵢⱼ
//! Aᵢⱼ = a² μⱼ + a(1 − a)(m⁺ⱼ + Tᵢⱼ) + (1 − a)² A⁺ᵢⱼ,   Tᵢⱼ = E[1[hᵢ > 0] hⱼ] = μⱼΦᵢ + Σᵢⱼ φ(bᵢ)/sᵢ
//! Bᵢⱼ = (1 − a)[a Dᵢⱼ + (1 − a) B⁺ᵢⱼ],   Dᵢⱼ = E[δ(hᵢ) hⱼ] = (φ(bᵢ)/sᵢ)(μⱼ − Σᵢⱼ μᵢ/Σᵢᵢ)
//! ```
//!
//! (Tᵢⱼ and Dᵢⱼ by conditioning hⱼ on hᵢ: E[hⱼ | hᵢ] = μⱼ + Σᵢⱼ(hᵢ − μᵢ)/Σᵢᵢ.)
//!
//! The κ₃/κ₄-corrected closure's VJP (`CorrectedVjp::corrected`) is the generic one of
//! [`super::corrected`] with the leaky relu's terms.

use super::corrected::CorrectedVjp;
use super::relu::ReluExpectations;
use super::stein::{stein_vjp, PairExpectations, SteinExpectations};
use super::{Adjoint, ClosureVjp};
use crate::error::Result;
use crate::propagate::closures::leaky_relu_high::LeakyReluHighTerms;
use crate::propagate::closures::relu_high::ReluHighTerms;
use crate::propagate::closures::relu_terms::{LeakyTerms, ReluTerms};
use crate::propagate::closures::LeakyReluClosure;
use crate::stats::Moments;

/// Closed-form VJP of the leaky relu closure with slope `a` (module docs).
#[derive(Clone, Copy, Debug)]
pub struct LeakyReluVjp {
    slope: f64,
}

impl LeakyReluVjp {
    /// The VJP for φ(h) = max(h, 0) + slope·min(h, 0).
    pub fn new(slope: f64) -> Self {
        LeakyReluVjp { slope }
    }
}

impl CorrectedVjp for LeakyReluVjp {
    type Forward = LeakyReluClosure;
    type Decide<'a> = LeakyTerms<'a>;
    type High<'a> = LeakyReluHighTerms<'a>;

    fn forward(&self) -> LeakyReluClosure {
        LeakyReluClosure::new(self.slope)
    }

    fn who(&self) -> &'static str {
        "leaky relu"
    }

    /// The forward closure's terms for the decisions (`relu_terms::LeakyTerms`, as
    /// [`LeakyReluClosure`] builds them), its terms to order 6 (`closures::leaky_relu_high`).
    fn terms<'a>(
        &self,
        input: &'a Moments,
        mu: Vec<f64>,
        s: Vec<f64>,
    ) -> (LeakyTerms<'a>, LeakyReluHighTerms<'a>) {
        let (cov, slope) = (input.cov.as_ref(), self.slope);
        let decide = LeakyTerms {
            relu: ReluTerms {
                mu: mu.clone(),
                s: s.clone(),
            },
            slope,
            cov,
        };
        let high = LeakyReluHighTerms {
            relu: ReluHighTerms { mu, s },
            slope,
            cov,
        };
        (decide, high)
    }
}

struct LeakyExpectations<'a> {
    relu: ReluExpectations<'a>,
    a: f64,
}

impl LeakyExpectations<'_> {
    /// (Tᵢⱼ, Dᵢⱼ) of the module docs.
    fn conditional(&self, i: usize, j: usize) -> (f64, f64) {
        let r = &self.relu;
        let (cdf_i, dens_i, _) = r.unit[i];
        let (mu_i, mu_j, sig_ij, sig_ii) = (r.mu[i], r.mu[j], r.sig[(i, j)], r.sig[(i, i)]);
        let t = mu_j * cdf_i + sig_ij * dens_i;
        let d = if dens_i > 0.0 {
            dens_i * (mu_j - sig_ij * mu_i / sig_ii)
        } else {
            0.0
        };
        (t, d)
    }
}

impl SteinExpectations for LeakyExpectations<'_> {
    fn unit(&self, i: usize) -> (f64, f64) {
        let (d1, d2) = self.relu.unit(i);
        let a = self.a;
        (a + (1.0 - a) * d1, (1.0 - a) * d2)
    }

    fn pair(&self, i: usize, j: usize) -> PairExpectations {
        let r = self.relu.pair(i, j);
        let a = self.a;
        let (keep, mix) = ((1.0 - a) * (1.0 - a), a * (1.0 - a));
        let (cdf_i, cdf_j) = (self.relu.unit[i].0, self.relu.unit[j].0);
        let (m_i, m_j) = (self.relu.unit[i].2, self.relu.unit[j].2);
        let (mu_i, mu_j) = (self.relu.mu[i], self.relu.mu[j]);
        let (t_ij, d_ij) = self.conditional(i, j);
        let (t_ji, d_ji) = self.conditional(j, i);
        PairExpectations {
            p: a * a + mix * (cdf_i + cdf_j) + keep * r.p,
            a: [
                a * a * mu_j + mix * (m_j + t_ij) + keep * r.a[0],
                a * a * mu_i + mix * (m_i + t_ji) + keep * r.a[1],
            ],
            b: [
                (1.0 - a) * (a * d_ij + (1.0 - a) * r.b[0]),
                (1.0 - a) * (a * d_ji + (1.0 - a) * r.b[1]),
            ],
        }
    }
}

impl ClosureVjp for LeakyReluVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        let k = LeakyExpectations {
            relu: ReluExpectations::new(input),
            a: self.slope,
        };
        stein_vjp(&k, input, output, adjoint)
    }
}
