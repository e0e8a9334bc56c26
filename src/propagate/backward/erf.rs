//! VJP of the erf closure φ(h) = erf(h), in closed form.
//!
//! φ' = (2/√π)e^{−h²} turns every Stein expectation (see [`super::stein`]) into a Gaussian
//! integral. With dₖ = 1 + 2Σₖₖ:
//!
//! ```text
//! E[φ'ᵢ]  = (2/√π) dᵢ^{−1/2} exp(−μᵢ²/dᵢ),     E[φ''ᵢ] = ∂E[φ'ᵢ]/∂μᵢ = −(2μᵢ/dᵢ) E[φ'ᵢ]
//! Pᵢⱼ = (4/π) D^{−1/2} exp(−(dⱼμᵢ² − 4Σᵢⱼμᵢμⱼ + dᵢμⱼ²)/D),   D = dᵢdⱼ − 4Σᵢⱼ²   (DESIGN.md §3)
//! Aᵢⱼ = E[φ'ᵢ] erf(xᵢⱼ),   xᵢⱼ = mᵢⱼ/√(1 + 2wᵢⱼ),
//!       mᵢⱼ = μⱼ − 2Σᵢⱼμᵢ/dᵢ,   wᵢⱼ = Σⱼⱼ − 2Σᵢⱼ²/dᵢ
//! Bᵢⱼ = ∂Aᵢⱼ/∂μᵢ = E[φ''ᵢ] erf(xᵢⱼ) − E[φ'ᵢ] (2/√π) e^{−xᵢⱼ²} (2Σᵢⱼ/dᵢ)/√(1 + 2wᵢⱼ)
//! ```
//!
//! Aᵢⱼ: the weight e^{−hᵢ²} turns the law of hᵢ into N(μᵢ/dᵢ, Σᵢᵢ/dᵢ) (times E[e^{−hᵢ²}]) and
//! leaves hⱼ's regression on hᵢ unchanged, so hⱼ ~ N(mᵢⱼ, wᵢⱼ) under the weighted law, and
//! E[erf(N(m, w))] = erf(m/√(1 + 2w)). Bᵢⱼ is Stein's ∂/∂μᵢ of Aᵢⱼ at fixed μⱼ. No formula divides
//! by a variance, and all hold for degenerate pairs, so the diagonal (j = i, Σᵢⱼ = Σᵢᵢ) uses the
//! same expressions.

use std::f64::consts::{FRAC_2_SQRT_PI, PI};

use super::corrected::CorrectedVjp;
use super::stein::{stein_vjp, PairExpectations, SteinExpectations};
use super::{Adjoint, ClosureVjp};
use crate::error::Result;
use crate::propagate::closures::erf_high::ErfHighTerms;
use crate::propagate::closures::erf_terms::ErfTerms;
use crate::propagate::closures::ErfClosure;
use crate::stats::Moments;

/// Closed-form VJP of [`crate::propagate::closures::ErfClosure`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ErfVjp;

struct ErfExpectations<'a> {
    mu: Vec<f64>,
    d: Vec<f64>,
    sig: &'a faer::Mat<f64>,
    /// (E[φ'], E[φ'']) per unit.
    unit: Vec<(f64, f64)>,
}

impl SteinExpectations for ErfExpectations<'_> {
    fn unit(&self, i: usize) -> (f64, f64) {
        self.unit[i]
    }

    fn pair(&self, i: usize, j: usize) -> PairExpectations {
        let (mi, mj) = (self.mu[i], self.mu[j]);
        let t = self.sig[(i, j)];
        let (vi, vj) = (self.var(i), self.var(j));
        // D = 1 + 2Σᵢᵢ + 2Σⱼⱼ + 4(ΣᵢᵢΣⱼⱼ − Σᵢⱼ²) ≥ 1, and the exponent's numerator
        // dⱼμᵢ² − 4Σᵢⱼμᵢμⱼ + dᵢμⱼ² = μᵢ² + μⱼ² + 2(Σⱼⱼμᵢ² − 2Σᵢⱼμᵢμⱼ + Σᵢᵢμⱼ²), a form ≥ 0:
        // dᵢdⱼ − 4Σᵢⱼ² formed as written cancels to nothing (D ≤ 0: P = ∞) once Σ ≳ 1/ε.
        let det = 1.0 + 2.0 * (vi + vj) + 4.0 * (vi * vj - t * t).max(0.0);
        let form = (vj * mi * mi - 2.0 * t * mi * mj + vi * mj * mj).max(0.0);
        let quad = (mi * mi + mj * mj + 2.0 * form) / det;
        let (ai, bi) = self.one_way(i, j);
        let (aj, bj) = self.one_way(j, i);
        PairExpectations {
            p: (4.0 / PI) * (-quad).exp() / det.sqrt(),
            a: [ai, aj],
            b: [bi, bj],
        }
    }
}

impl ErfExpectations<'_> {
    /// Σᵢᵢ, floored at 0 as in dᵢ = 1 + 2Σᵢᵢ.
    fn var(&self, i: usize) -> f64 {
        self.sig[(i, i)].max(0.0)
    }

    /// (Aᵢⱼ, Bᵢⱼ) for the ordered pair (i, j).
    fn one_way(&self, i: usize, j: usize) -> (f64, f64) {
        let t = self.sig[(i, j)];
        let di = self.d[i];
        let (vi, vj) = (self.var(i), self.var(j));
        // mᵢⱼ = (μⱼ + 2(Σᵢᵢμⱼ − Σᵢⱼμᵢ))/dᵢ and wᵢⱼ = (Σⱼⱼ + 2(ΣᵢᵢΣⱼⱼ − Σᵢⱼ²))/dᵢ: the forms
        // above subtract numbers of size Σ for a result of size 1 (a wide unit with itself).
        let m = (self.mu[j] + 2.0 * (vi * self.mu[j] - t * self.mu[i])) / di;
        let w = (vj + 2.0 * (vi * vj - t * t).max(0.0)) / di;
        let root = (1.0 + 2.0 * w).sqrt();
        let x = m / root;
        let (e1, e2) = self.unit[i];
        let e = libm::erf(x);
        let b = e2 * e - e1 * FRAC_2_SQRT_PI * (-x * x).exp() * (2.0 * t / di) / root;
        (e1 * e, b)
    }
}

impl CorrectedVjp for ErfVjp {
    type Forward = ErfClosure;
    type Decide<'a> = ErfTerms<'a>;
    type High<'a> = ErfHighTerms<'a>;

    fn forward(&self) -> ErfClosure {
        ErfClosure
    }

    fn who(&self) -> &'static str {
        "erf"
    }

    /// erf's forward terms for the decisions, its terms to order 6 ([`ErfHighTerms`]).
    fn terms<'a>(
        &self,
        input: &'a Moments,
        mu: Vec<f64>,
        s: Vec<f64>,
    ) -> (ErfTerms<'a>, ErfHighTerms<'a>) {
        let cov = input.cov.as_ref();
        (ErfTerms::new(&mu, &s, cov), ErfHighTerms::new(&mu, &s, cov))
    }
}

impl ClosureVjp for ErfVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        let n = input.dim();
        let mu: Vec<f64> = (0..n).map(|i| input.mean[i]).collect();
        let d: Vec<f64> = (0..n)
            .map(|i| 1.0 + 2.0 * input.cov[(i, i)].max(0.0))
            .collect();
        let unit = mu
            .iter()
            .zip(&d)
            .map(|(&m, &d)| {
                let e1 = FRAC_2_SQRT_PI * (-m * m / d).exp() / d.sqrt();
                (e1, -2.0 * m / d * e1)
            })
            .collect();
        let k = ErfExpectations {
            mu,
            d,
            sig: &input.cov,
            unit,
        };
        stein_vjp(&k, input, output, adjoint)
    }
}
