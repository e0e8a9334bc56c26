//! Any smooth φ by the Hermite (Mehler) series (DESIGN.md §3, "Any smooth φ").

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::edgeworth::{corrected, Fallbacks};
use super::input::{correlation, reset_output, units, Isa};
use super::quadrature::{for_each_unit_node, moments_1d, pair_cov, Unit};
use super::quadrature_terms::QuadratureTerms;
use super::series_terms::SeriesTerms;
use super::{Closure, Corrections};
use crate::error::{Error, Result};
use crate::linalg::fill_symmetric;
use crate::net::Activation;
use crate::simd::{load, store};
use crate::stats::Moments;

/// Default number of series terms K.
pub const DEFAULT_ORDER: usize = 96;
/// Default tolerance on the truncation bound, relative to √(Var φ(hᵢ) · Var φ(hⱼ)).
pub const DEFAULT_TOLERANCE: f64 = 1e-10;
/// Integration range for the coefficients: |hₙ(z)|φ(z) ≲ e^{−z²/4} (Cramér), < 10⁻¹⁵ at 12.
const COEFF_RANGE: f64 = 12.0;

/// Normalised Hermite coefficients of one unit h = μ + s z, z ~ N(0, 1):
/// cₙ = bₙ/√n! = E[φ(μ + s z) Heₙ(z)]/√n!, n = 1..K, with its mean and variance.
/// Mehler's formula gives Cov(φ(hᵢ), φ(hⱼ)) = Σ_{n≥1} ρⁿ cₙ(i) cₙ(j), and Parseval
/// Var φ(h) = Σ_{n≥1} cₙ².
#[derive(Clone, Debug)]
pub struct HermiteCoefficients {
    pub mean: f64,
    pub var: f64,
    /// c₁ … c_K.
    pub c: Vec<f64>,
}

impl HermiteCoefficients {
    /// Computes c₁..c_K by the composite Gauss–Legendre rule on ±12 (panels ≤ 0.5/max(1, s)
    /// wide up to s = 8, beyond only inside φ's feature window, so that φ(μ + s z) is resolved
    /// at any s by a bounded number of nodes: `quadrature::for_each_unit_node`), with the normalised recurrence
    /// hₙ₊₁ = (z hₙ − √n hₙ₋₁)/√(n+1), hₙ = Heₙ/√n!, run on SIMD lanes over the nodes
    /// (`CoefficientLanes`). Mean and variance are the 1-D quadrature of the reference
    /// closure. A deterministic unit (s = 0) has c = 0.
    pub fn new(act: Activation, mu: f64, s: f64, order: usize) -> Self {
        let (mean, var) = moments_1d(act, mu, s);
        let mut c = vec![0.0; order];
        if s > 0.0 && order > 0 {
            let (mut z, mut f) = (Vec::new(), Vec::new());
            for_each_unit_node(act, mu, s, COEFF_RANGE, |zk, w| {
                z.push(zk);
                f.push(w * (act.eval(mu + s * zk) - mean));
            });
            Isa::Dispatch.run(
                pulp::Arch::new(),
                CoefficientLanes {
                    z: &z,
                    f: &f,
                    c: &mut c,
                },
            );
        }
        HermiteCoefficients { mean, var, c }
    }

    /// Rᵢ(K) = Var φ(hᵢ) − Σ_{n=1..K} cₙ² (Parseval), floored at 0 and raised by 4ε·Var to cover
    /// the rounding of the difference.
    pub fn remainder(&self, k: usize) -> f64 {
        let head: f64 = self.c[..k.min(self.c.len())].iter().map(|c| c * c).sum();
        (self.var - head).max(0.0) + 4.0 * f64::EPSILON * self.var
    }

    /// The series truncated after K terms, Σ_{n=1..K} ρⁿ cₙ(i) cₙ(j) (Horner in ρ).
    pub fn series(&self, other: &Self, rho: f64, k: usize) -> f64 {
        let k = k.min(self.c.len()).min(other.c.len());
        (0..k)
            .rev()
            .fold(0.0, |acc, n| acc * rho + self.c[n] * other.c[n])
            * rho
    }

    /// Cauchy–Schwarz bound on the truncation error of [`Self::series`]:
    /// |Σ_{n>K} ρⁿ cₙ(i)cₙ(j)| ≤ |ρ|^{K+1} √(Rᵢ(K) Rⱼ(K)).
    pub fn truncation_bound(&self, other: &Self, rho: f64, k: usize) -> f64 {
        rho.abs().powi(k as i32 + 1) * (self.remainder(k) * other.remainder(k)).sqrt()
    }
}

/// Hermite-series closure of a smooth activation: Cᵢⱼ = Σ_{n=1..K} ρⁿ cₙ(i)cₙ(j) in SIMD lanes
/// over j; where the truncation bound exceeds `tolerance`·√(VarᵢVarⱼ) (|ρ| near 1, or a very
/// wide pre-activation) that pair falls back to the 2-D quadrature. Cᵢᵢ = Var φ(hᵢ) by 1-D
/// quadrature. Refuses relu: its series converges algebraically (a three-term truncation is 3 %
/// off at ρ = 1); relu has the exact Φ₂ closure. κ₃/κ₄ corrections from the same coefficients
/// (`series_terms`).
#[derive(Clone, Copy, Debug)]
pub struct HermiteClosure {
    act: Activation,
    order: usize,
    tolerance: f64,
}

impl HermiteClosure {
    /// The series closure of `act` with [`DEFAULT_ORDER`] terms and [`DEFAULT_TOLERANCE`];
    /// [`Error::Unsupported`] for relu.
    pub fn new(act: Activation) -> Result<Self> {
        if !act.is_smooth() {
            return Err(Error::Unsupported(format!(
                "the Hermite series closure needs a smooth activation; {act} has a kink and its \
                 series converges too slowly (use --closure auto for the exact Φ₂ form, or \
                 --closure quadrature)"
            )));
        }
        Ok(HermiteClosure {
            act,
            order: DEFAULT_ORDER,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Sets the number of series terms K (at least 1).
    pub fn with_order(mut self, order: usize) -> Self {
        self.order = order.max(1);
        self
    }

    /// Sets the relative tolerance on the truncation bound above which a pair is integrated.
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }
}

impl Closure for HermiteClosure {
    fn name(&self) -> String {
        format!(
            "{} (Hermite series, K={}, tol {:e}, quadrature where the bound fails)",
            self.act, self.order, self.tolerance
        )
    }

    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        let gaussian = |out: &mut Moments| self.gaussian(input, out);
        corrected(input, corrections, out, "Hermite series", gaussian, |u| {
            SeriesTerms {
                coef: (0..input.dim())
                    .into_par_iter()
                    .map(|i| HermiteCoefficients::new(self.act, u.mu[i], u.s[i], self.order))
                    .collect(),
                quadrature: QuadratureTerms {
                    act: self.act,
                    mu: u.mu.clone(),
                    s: u.s.clone(),
                },
            }
        })
    }
}

impl HermiteClosure {
    /// The Gaussian series closure (the type's docs).
    fn gaussian(&self, input: &Moments, out: &mut Moments) -> Result<()> {
        let u = units(input, "Hermite series")?;
        let n = input.dim();
        let k = self.order;
        reset_output(out, n);
        let coef: Vec<HermiteCoefficients> = (0..n)
            .into_par_iter()
            .map(|i| HermiteCoefficients::new(self.act, u.mu[i], u.s[i], k))
            .collect();
        // n-major layout: lanes over units j are contiguous for each order.
        let mut lanes = vec![0.0; k * n];
        for (j, cj) in coef.iter().enumerate() {
            for (o, c) in cj.c.iter().enumerate() {
                lanes[o * n + j] = *c;
            }
        }
        let inv_s: Vec<f64> =
            u.s.iter()
                .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
                .collect();
        let rem: Vec<f64> = coef.iter().map(|c| c.remainder(k)).collect();
        for (i, c) in coef.iter().enumerate() {
            out.mean[i] = c.mean;
        }
        let arch = pulp::Arch::new();
        fill_symmetric(&mut out.cov, |i, col| {
            let sig = &input.cov.col_as_slice(i)[..=i];
            arch.dispatch(SeriesLanes {
                out: col,
                sig,
                inv_s: &inv_s[..=i],
                inv_si: inv_s[i],
                ci: &coef[i].c,
                lanes: &lanes,
                stride: n,
            });
            for (j, c) in col.iter_mut().enumerate().take(i) {
                let rho = correlation(sig[j], u.s[i], u.s[j]);
                let bound = rho.abs().powi(k as i32 + 1) * (rem[i] * rem[j]).sqrt();
                if bound > fallback_above(&coef[i], &coef[j], self.tolerance) {
                    let unit = |t: usize| Unit {
                        mu: u.mu[t],
                        s: u.s[t],
                        m: coef[t].mean,
                    };
                    *c = pair_cov(self.act, unit(i), unit(j), rho);
                }
            }
            col[i] = coef[i].var;
        })
    }
}

/// The truncation bound above which a pair is integrated instead: `tolerance`·√(VarᵢVarⱼ), or
/// the rounding floor 4ε(|mᵢ|√Varⱼ + |mⱼ|√Varᵢ) where that is larger. Every value of φ carries a
/// rounding of ε|φ| ≈ ε|m|, so neither the series nor the quadrature knows a covariance better
/// than that floor; for a near-deterministic unit (std/|mean| ≲ 2·10⁻⁵, e.g. 10⁻¹³ deep in a
/// saturated sigmoid network) the Parseval remainder is that rounding, not truncation, and
/// integrating every pair would cost up to 6·10⁶ evaluations each for no accuracy.
fn fallback_above(ci: &HermiteCoefficients, cj: &HermiteCoefficients, tolerance: f64) -> f64 {
    let floor =
        4.0 * f64::EPSILON * (ci.mean.abs() * cj.var.sqrt() + cj.mean.abs() * ci.var.sqrt());
    (tolerance * (ci.var * cj.var).sqrt()).max(floor)
}

/// SIMD lanes over j ≤ i: ρ = clamp(Σᵢⱼ/(sᵢsⱼ), −1, 1), C = ρ(c₁ᵢc₁ⱼ + ρ(c₂ᵢc₂ⱼ + …)), as four
/// interleaved Horner chains in ρ⁴.
struct SeriesLanes<'a> {
    out: &'a mut [f64],
    sig: &'a [f64],
    inv_s: &'a [f64],
    inv_si: f64,
    ci: &'a [f64],
    /// cₒ(j) at `lanes[o * stride + j]`.
    lanes: &'a [f64],
    stride: usize,
}

impl WithSimd for SeriesLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let len = self.out.len();
        let inv_si = simd.splat_f64s(self.inv_si);
        let (lo, hi) = (simd.splat_f64s(-1.0), simd.splat_f64s(1.0));
        let mut j = 0;
        while j < len {
            let end = (j + S::F64_LANES).min(len);
            let sig = load(simd, &self.sig[j..end]);
            let inv_sj = load(simd, &self.inv_s[j..end]);
            let rho = simd.mul_f64s(simd.mul_f64s(sig, inv_si), inv_sj);
            let rho = simd.min_f64s(simd.max_f64s(rho, lo), hi);
            // Four Horner chains in ρ⁴ (orders o ≡ 0, 1, 2, 3 mod 4; missing top orders are 0),
            // so the FMA latency does not serialise the K terms.
            let rho2 = simd.mul_f64s(rho, rho);
            let rho4 = simd.mul_f64s(rho2, rho2);
            let term = |o: usize| match self.ci.get(o) {
                Some(&c) => {
                    let base = o * self.stride;
                    let cj = load(simd, &self.lanes[base + j..base + end]);
                    simd.mul_f64s(simd.splat_f64s(c), cj)
                }
                None => simd.splat_f64s(0.0),
            };
            let mut acc = [simd.splat_f64s(0.0); 4];
            for t in (0..self.ci.len().div_ceil(4)).rev() {
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = simd.mul_add_e_f64s(*a, rho4, term(4 * t + k));
                }
            }
            // ρ(S₀ + ρS₁ + ρ²(S₂ + ρS₃))
            let low = simd.mul_add_e_f64s(rho, acc[1], acc[0]);
            let high = simd.mul_add_e_f64s(rho, acc[3], acc[2]);
            let sum = simd.mul_add_e_f64s(rho2, high, low);
            store(simd, &mut self.out[j..end], simd.mul_f64s(sum, rho));
            j = end;
        }
    }
}

/// cₙ += Σₖ fₖ hₙ(zₖ) for n = 1..K (`c.len()` = K) over the quadrature nodes zₖ with weighted
/// values fₖ, the nodes in SIMD lanes: hₙ₊₁ = z·hₙ/√(n+1) − (√n/√(n+1))·hₙ₋₁, one accumulator
/// vector per order, summed across lanes at the end.
struct CoefficientLanes<'a> {
    z: &'a [f64],
    f: &'a [f64],
    c: &'a mut [f64],
}

impl WithSimd for CoefficientLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let k = self.c.len();
        // aₙ = 1/√(n+1), bₙ = √n/√(n+1).
        let a: Vec<f64> = (0..k).map(|n| 1.0 / ((n + 1) as f64).sqrt()).collect();
        let b: Vec<f64> = (0..k)
            .map(|n| (n as f64).sqrt() / ((n + 1) as f64).sqrt())
            .collect();
        let mut acc = vec![simd.splat_f64s(0.0); k];
        for (z, f) in self.z.chunks(S::F64_LANES).zip(self.f.chunks(S::F64_LANES)) {
            let (z, f) = (load(simd, z), load(simd, f));
            let (mut h0, mut h1) = (simd.splat_f64s(1.0), z);
            acc[0] = simd.mul_add_f64s(f, h1, acc[0]);
            for n in 1..k {
                let zh = simd.mul_f64s(z, h1);
                let h2 = simd.negate_mul_add_f64s(
                    simd.splat_f64s(b[n]),
                    h0,
                    simd.mul_f64s(zh, simd.splat_f64s(a[n])),
                );
                acc[n] = simd.mul_add_f64s(f, h2, acc[n]);
                h0 = h1;
                h1 = h2;
            }
        }
        for (c, v) in self.c.iter_mut().zip(acc) {
            *c += simd.reduce_sum_f64s(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Near-deterministic units (std/|mean| ~ 10⁻¹³, as deep in a saturated sigmoid network,
    /// issue #16) with ρ = 0.999: the Parseval remainder is rounding, so the pair stays in the
    /// series (before, every such pair went to the 2-D quadrature: up to 6·10⁶ evaluations
    /// each) and agrees with the delta method φ'(μᵢ)φ'(μⱼ)Σᵢⱼ (exact to O(s²) relative) within
    /// the rounding floor that no evaluation of φ can beat.
    #[test]
    fn near_deterministic_pairs_stay_in_the_series() {
        let act = Activation::Sigmoid;
        for (mi, mj, si, sj, rho) in [
            (3.0, -1.0, 3e-13, 1e-13, 0.999),
            (0.5, 0.5, 1e-13, 1e-13, 1.0),
        ] {
            let ci = HermiteCoefficients::new(act, mi, si, DEFAULT_ORDER);
            let cj = HermiteCoefficients::new(act, mj, sj, DEFAULT_ORDER);
            let bound = ci.truncation_bound(&cj, rho, DEFAULT_ORDER);
            let above = fallback_above(&ci, &cj, DEFAULT_TOLERANCE);
            assert!(bound <= above, "bound {bound:e} above {above:e}");
            let delta = act.deriv(mi) * act.deriv(mj) * rho * si * sj;
            let got = ci.series(&cj, rho, DEFAULT_ORDER);
            assert!(
                (got - delta).abs() <= 4.0 * above,
                "{got:e} vs delta method {delta:e} (floor {above:e})"
            );
        }
    }

    /// The coefficient lanes on every instruction set against the plain scalar recurrence,
    /// node by node in order. Only the summation order differs, so per order n the two sums
    /// of the K·nodes products f·hₙ agree to 2·nodes·ε·Σ|f·hₙ| (each recurrence value also
    /// differs by a few ulps from the reordered constants, inside the same bound).
    #[test]
    fn coefficient_lanes_match_the_scalar_recurrence() {
        let k = DEFAULT_ORDER;
        for (mu, s) in [(0.3, 0.7), (-1.5, 2.5), (4.0, 0.2)] {
            let (mut z, mut f) = (Vec::new(), Vec::new());
            for_each_unit_node(Activation::Tanh, mu, s, COEFF_RANGE, |zk, w| {
                z.push(zk);
                f.push(w * (Activation::Tanh.eval(mu + s * zk) - 0.1));
            });
            let (mut want, mut size) = (vec![0.0; k], vec![0.0; k]);
            for (&zk, &fk) in z.iter().zip(&f) {
                let (mut h0, mut h1) = (1.0, zk);
                for n in 0..k {
                    want[n] += fk * h1;
                    size[n] += (fk * h1).abs();
                    let h2 = (zk * h1 - ((n + 1) as f64).sqrt() * h0) / ((n + 2) as f64).sqrt();
                    (h0, h1) = (h1, h2);
                }
            }
            for isa in [Isa::Dispatch, Isa::Avx2, Isa::Scalar] {
                let mut got = vec![0.0; k];
                isa.run(
                    pulp::Arch::new(),
                    CoefficientLanes {
                        z: &z,
                        f: &f,
                        c: &mut got,
                    },
                );
                for n in 0..k {
                    let tol = 2.0 * z.len() as f64 * f64::EPSILON * size[n];
                    assert!(
                        (got[n] - want[n]).abs() <= tol,
                        "{isa:?} μ = {mu}, s = {s}, c{}: {} vs {} (tol {tol:e})",
                        n + 1,
                        got[n],
                        want[n]
                    );
                }
            }
        }
    }
}
