//! VJP of the Hermite-series closure of a smooth φ (tanh, sigmoid, gelu, …) by Mehler's
//! formula for the Stein expectations of [`super::stein`].
//!
//! For hᵢ = μᵢ + sᵢz and any two functions f, g, Mehler's formula gives
//! E[f(hᵢ)g(hⱼ)] = Σ_{n≥0} ρⁿ aₙ(f; i) aₙ(g; j) with aₙ(f; i) = E[f(μᵢ + sᵢz) Heₙ(z)]/√n! and
//! ρ = Σᵢⱼ/(sᵢsⱼ). So, with the normalised coefficients of φ, φ' and φ'' of every unit
//! (three 1-D quadratures, the rule of the forward closure's coefficients),
//!
//! ```text
//! Pᵢⱼ = Σₙ ρⁿ aₙ(φ'; i) aₙ(φ'; j),   Aᵢⱼ = Σₙ ρⁿ aₙ(φ'; i) aₙ(φ; j),   Bᵢⱼ = Σₙ ρⁿ aₙ(φ''; i) aₙ(φ; j)
//! ```
//!
//! truncated after n = K, and E[φ'ᵢ] = a₀(φ'; i), E[φ''ᵢ] = a₀(φ''; i). The diagonal
//! (Pᵢᵢ = E[φ'²], Aᵢᵢ = E[φ'φ], Bᵢᵢ = E[φ''φ]) is the exact 1-D quadrature. The truncation error
//! of a pair is at most |ρ|^{K+1} times the Parseval remainders of the two coefficient vectors:
//! negligible for |ρ| not close to 1 (the forward closure switches to 2-D quadrature there; this
//! VJP keeps the series, so near |ρ| = 1 it is the gradient of the series, not of the quadrature).

use super::stein::{stein_vjp, unit_scales, PairExpectations, SteinExpectations};
use super::{Adjoint, ClosureVjp};
use crate::error::{Error, Result};
use crate::net::Activation;
use crate::propagate::closures::hermite::DEFAULT_ORDER;
use crate::propagate::closures::quadrature::for_each_unit_node;
use crate::special::normal_pdf;
use crate::stats::Moments;

/// Integration range ±12 in z for the coefficients (|Heₙ(z)|φ(z)/√n! ≲ e^{−z²/4}, as in the
/// forward closure).
const RANGE: f64 = 12.0;

/// Series VJP of [`crate::propagate::closures::HermiteClosure`].
#[derive(Clone, Copy, Debug)]
pub struct HermiteVjp {
    act: Activation,
    order: usize,
}

impl HermiteVjp {
    /// The VJP of `act` with [`DEFAULT_ORDER`] terms; [`Error::Unsupported`] for relu (no
    /// smooth φ'').
    pub fn new(act: Activation) -> Result<Self> {
        if !act.is_smooth() {
            return Err(Error::Unsupported(format!(
                "the Hermite series VJP needs a smooth activation; {act} has a kink (its exact \
                 Φ₂ VJP is used with --closure auto)"
            )));
        }
        Ok(HermiteVjp {
            act,
            order: DEFAULT_ORDER,
        })
    }
}

/// φ''(h) of a smooth activation (relu and leaky relu are refused by [`HermiteVjp::new`]; their slot is 0).
fn second_derivative(act: Activation, h: f64) -> f64 {
    match act {
        Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. } => 0.0,
        Activation::Quadratic { alpha } => 2.0 * alpha,
        Activation::Erf => -2.0 * h * act.deriv(h),
        Activation::Tanh => {
            let t = h.tanh();
            -2.0 * t * (1.0 - t * t)
        }
        Activation::Sigmoid => {
            let s = 1.0 / (1.0 + (-h).exp());
            s * (1.0 - s) * (1.0 - 2.0 * s)
        }
        Activation::Gelu => normal_pdf(h) * (2.0 - h * h),
        // silu'' = σ(1 − σ)(2 + h(1 − 2σ)), softplus'' = σ(1 − σ), σ = σ(h) the logistic
        Activation::Silu => {
            let s = 1.0 / (1.0 + (-h).exp());
            s * (1.0 - s) * (2.0 + h * (1.0 - 2.0 * s))
        }
        Activation::Softplus => {
            let s = 1.0 / (1.0 + (-h).exp());
            s * (1.0 - s)
        }
    }
}

/// Normalised Hermite coefficients a₀..a_K of φ, φ' and φ'' of one unit, and the diagonal
/// expectations (E[φ'²], E[φ'φ], E[φ''φ]).
struct UnitSeries {
    f: Vec<f64>,
    d1: Vec<f64>,
    d2: Vec<f64>,
    diag: [f64; 3],
}

impl UnitSeries {
    fn new(act: Activation, mu: f64, s: f64, order: usize) -> Self {
        let len = order + 1;
        let (mut f, mut d1, mut d2) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
        let mut diag = [0.0; 3];
        if s <= 0.0 {
            let (v, v1, v2) = (act.eval(mu), act.deriv(mu), second_derivative(act, mu));
            f[0] = v;
            d1[0] = v1;
            d2[0] = v2;
            return UnitSeries {
                f,
                d1,
                d2,
                diag: [v1 * v1, v1 * v, v2 * v],
            };
        }
        let sq: Vec<f64> = (0..=len).map(|n| (n as f64).sqrt()).collect();
        for_each_unit_node(act, mu, s, RANGE, |z, w| {
            let h = mu + s * z;
            let (v, v1, v2) = (act.eval(h), act.deriv(h), second_derivative(act, h));
            diag[0] += w * v1 * v1;
            diag[1] += w * v1 * v;
            diag[2] += w * v2 * v;
            let (mut h0, mut h1) = (1.0, z);
            f[0] += w * v;
            d1[0] += w * v1;
            d2[0] += w * v2;
            for n in 1..len {
                f[n] += w * v * h1;
                d1[n] += w * v1 * h1;
                d2[n] += w * v2 * h1;
                let h2 = (z * h1 - sq[n] * h0) / sq[n + 1];
                h0 = h1;
                h1 = h2;
            }
        });
        UnitSeries { f, d1, d2, diag }
    }
}

struct HermiteExpectations<'a> {
    s: Vec<f64>,
    sig: &'a faer::Mat<f64>,
    units: Vec<UnitSeries>,
}

/// Σ_{n=0..K} ρⁿ aₙbₙ by Horner's rule.
#[inline]
fn mehler(a: &[f64], b: &[f64], rho: f64) -> f64 {
    a.iter()
        .zip(b)
        .rev()
        .fold(0.0, |acc, (x, y)| acc * rho + x * y)
}

impl SteinExpectations for HermiteExpectations<'_> {
    fn unit(&self, i: usize) -> (f64, f64) {
        (self.units[i].d1[0], self.units[i].d2[0])
    }

    fn pair(&self, i: usize, j: usize) -> PairExpectations {
        let (ui, uj) = (&self.units[i], &self.units[j]);
        if i == j {
            let [p, a, b] = ui.diag;
            return PairExpectations {
                p,
                a: [a, a],
                b: [b, b],
            };
        }
        let (si, sj) = (self.s[i], self.s[j]);
        let rho = if si > 0.0 && sj > 0.0 {
            (self.sig[(i, j)] / si / sj).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        PairExpectations {
            p: mehler(&ui.d1, &uj.d1, rho),
            a: [mehler(&ui.d1, &uj.f, rho), mehler(&uj.d1, &ui.f, rho)],
            b: [mehler(&ui.d2, &uj.f, rho), mehler(&uj.d2, &ui.f, rho)],
        }
    }
}

impl ClosureVjp for HermiteVjp {
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint> {
        use rayon::prelude::*;
        let (mu, s) = unit_scales(input);
        let units = (0..mu.len())
            .into_par_iter()
            .map(|i| UnitSeries::new(self.act, mu[i], s[i], self.order))
            .collect();
        let k = HermiteExpectations {
            s,
            sig: &input.cov,
            units,
        };
        stein_vjp(&k, input, output, adjoint)
    }
}
