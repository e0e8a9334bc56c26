//! Gaussian derivative expectations of any smooth φ from its Hermite coefficients, for the
//! series closure's κ₃/κ₄ corrections ([`super::edgeworth`]).
//!
//! With bₙ(k) = E[φ(μₖ + sₖz)Heₙ(z)] (b₀ = E φ) and Mehler's formula differentiated in the
//! means (∂_{μ}bₙ = bₙ₊₁/s),
//!
//! ```text
//! D_ab = E_G[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)] = Σ_{n≥0} ρⁿ/n! · b_{n+a}(i)/sᵢᵃ · b_{n+b}(j)/sⱼᵇ
//!      = Σ_{n≥0} ρⁿ c_{n+a}(i) c_{n+b}(j) √((n+1)…(n+a) · (n+1)…(n+b)) / (sᵢᵃsⱼᵇ),
//! ```
//!
//! in the normalised cₙ = bₙ/√n! the closure already holds ([`HermiteCoefficients`], n ≤ K).
//! The sum runs to n = K − max(a, b). It is accepted when its last 8 terms together are below
//! 10⁻¹² of the sum of all term magnitudes; otherwise — a wide unit
//! whose coefficients decay slowly, at |ρ| near 1 — that pair's terms come from the quadrature
//! of the expanded density ([`QuadratureTerms`]). One unit's terms are that quadrature's 1-D
//! rule (E_G[g⁽ᵏ⁾] = E[g(μ + sz)Heₖ(z)]/sᵏ for g = φ and φ²).

use super::edgeworth::{DerivativeTerms, PairStep, PairTerms, UnitTerms, ORDERS};
use super::hermite::HermiteCoefficients;
use super::quadrature_terms::QuadratureTerms;

/// Relative size of the last terms below which a series is taken as converged.
const CONVERGED: f64 = 1e-12;
/// How many last terms that test looks at.
const TAIL: usize = 8;

/// The series terms, with the quadrature for units and unconverged pairs.
pub(crate) struct SeriesTerms {
    pub coef: Vec<HermiteCoefficients>,
    pub quadrature: QuadratureTerms,
}

impl SeriesTerms {
    /// cₙ(k) with c₀ = the mean.
    fn c(&self, k: usize, n: usize) -> f64 {
        if n == 0 {
            self.coef[k].mean
        } else {
            self.coef[k].c.get(n - 1).copied().unwrap_or(0.0)
        }
    }

    /// D_ab by the series, or `None` when it has not converged.
    fn entry(&self, i: usize, j: usize, rho: f64, a: usize, b: usize) -> Option<f64> {
        let k = self.coef[i].c.len().min(self.coef[j].c.len());
        let last = k.checked_sub(a.max(b))?;
        let rising = |n: usize, a: usize| (1..=a).map(|t| (n + t) as f64).product::<f64>();
        let (mut sum, mut size, mut tail) = (0.0, 0.0, 0.0);
        let mut power = 1.0;
        for n in 0..=last {
            let t =
                power * self.c(i, n + a) * self.c(j, n + b) * (rising(n, a) * rising(n, b)).sqrt();
            sum += t;
            size += t.abs();
            if n + TAIL > last {
                tail += t.abs();
            }
            power *= rho;
        }
        let scale = self.quadrature.s[i].powi(a as i32) * self.quadrature.s[j].powi(b as i32);
        (tail <= CONVERGED * size).then_some(sum / scale)
    }
}

impl DerivativeTerms for SeriesTerms {
    fn unit(&self, i: usize) -> UnitTerms {
        self.quadrature.unit(i)
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        match self.pair_step(i, j, rho) {
            PairStep::Terms(d) => d,
            PairStep::Quadrature(_) => self.quadrature.pair(i, j, rho),
        }
    }

    fn pair_step(&self, i: usize, j: usize, rho: f64) -> PairStep {
        // Near-deterministic units: the delta method, settled where the series' coefficients
        // (and the quadrature) hold only rounding (`QuadratureTerms::taylor_pair`).
        if let Some(d) = self.quadrature.taylor_pair(i, j, rho) {
            return PairStep::Terms(Some(d));
        }
        let mut d = [[0.0; 5]; 5];
        for (a, b) in ORDERS {
            match self.entry(i, j, rho, a, b) {
                Some(v) => d[a][b] = v,
                None => return self.quadrature.pair_step(i, j, rho),
            }
        }
        PairStep::Terms(Some(d))
    }
}
