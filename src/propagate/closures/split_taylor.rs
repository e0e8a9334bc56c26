//! The conditional mean g(b) = E\[φ(b + tw)\], w ~ N(0, 1), of `split_pair` by its Taylor
//! series in the conditional spread t, for tanh and sigmoid where t is small: the strongly
//! correlated wide units of deep tanh networks (|ρ| → 1, t = sⱼ√(1 − ρ²) ≤ 0.08), where the
//! trapezoidal rule (27 evaluations of φ per outer node as t → 0) or its lattice
//! (`split_lattice`) took most of a pair's time.
//!
//! Taylor's theorem for φ(b + tw) to order 2J − 1 with Lagrange's remainder, averaged over w
//! (the odd moments vanish, E\[w²ʲ\] = (2j − 1)!!, and (2j − 1)!!/(2j)! = 1/(2ʲj!)):
//!
//! ```text
//! g(b) = Σ_{j<J} t²ʲ/(2ʲ j!) φ⁽²ʲ⁾(b) + R,   |R| ≤ t²ᴶ/(2ᴶ J!) · sup_h |φ⁽²ᴶ⁾(h)|.
//! ```
//!
//! φ's derivatives are polynomials in φ itself (tanh' = 1 − tanh², σ' = σ − σ²: Pₙ₊₁ = Pₙ'·D),
//! so the J terms are one polynomial Q in u = φ(b), built once per pair: one φ and one Horner
//! pass per outer node on SIMD lanes. The sup of |P₂ᴶ| over φ's range (\[−1, 1\] for tanh,
//! \[0, 1\] for sigmoid) is taken on a grid of [`SUP_GRID`] intervals and raised by Markov's
//! inequality (|p'| ≤ 2d²/(β − α) · max|p| on \[α, β\] for degree d: the grid misses at most half
//! a step of that slope), so the bound holds, not only on the grid.

use std::sync::OnceLock;

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use super::split_lattice::MAX_LANES;
use crate::net::Activation;
use crate::simd::load;

/// Most terms J of the series: derivatives to order 2(J − 1) in Q, the bound's of order 2J. At
/// J = 10 the rule serves t up to 0.080 (tanh) and 0.165 (sigmoid) at an error of 10⁻¹⁷
/// (J = 6: 0.028 and 0.058); the series is asymptotic (sup|φ⁽²ᴶ⁾| grows as (2J)!/(π/2)²ᴶ for
/// tanh), so more terms gain little: J = 20 reaches 0.15 (tanh), and sigmoid's reach falls
/// beyond J = 12. Beyond it the trapezoidal rule and its lattice take over. Q's coefficients
/// stay small (c_J·|P₂ᴶ's coefficients| ≲ 10⁻¹⁰ at t = 0.08), so its Horner pass rounds as φ's.
const MAX_TERMS: usize = 10;

/// Intervals of the grid on which the sup of |φ⁽²ᴶ⁾| is taken (see the module docs).
const SUP_GRID: usize = 20_000;

/// φ⁽ⁿ⁾ as polynomials in u = φ, n = 0 … 2·[`MAX_TERMS`], and sup |φ⁽ⁿ⁾| over φ's range.
struct Derivatives {
    /// `polys[n]`: ascending coefficients of Pₙ with φ⁽ⁿ⁾(h) = Pₙ(φ(h)).
    polys: Vec<Vec<f64>>,
    /// `sup[n]` ≥ sup_h |φ⁽ⁿ⁾(h)| (grid maximum raised by the Markov margin).
    sup: Vec<f64>,
}

impl Derivatives {
    /// The table of `act` (tanh or sigmoid), from D, the polynomial with φ' = D(φ), on φ's
    /// range \[lo, hi\].
    fn new(d: &[f64], (lo, hi): (f64, f64)) -> Self {
        let mut polys = vec![vec![0.0, 1.0]];
        for n in 0..2 * MAX_TERMS {
            let p = &polys[n];
            let deriv: Vec<f64> = (1..p.len()).map(|k| k as f64 * p[k]).collect();
            let mut next = vec![0.0; deriv.len() + d.len() - 1];
            for (i, &a) in deriv.iter().enumerate() {
                for (k, &b) in d.iter().enumerate() {
                    next[i + k] += a * b;
                }
            }
            polys.push(next);
        }
        let sup = polys
            .iter()
            .map(|p| {
                let step = (hi - lo) / SUP_GRID as f64;
                let grid_max = (0..=SUP_GRID)
                    .map(|k| horner(p, lo + k as f64 * step).abs())
                    .fold(0.0, f64::max);
                let degree = (p.len() - 1) as f64;
                // max ≤ grid_max + (step/2)·(2d²/(hi − lo))·max.
                let miss = step * degree * degree / (hi - lo);
                grid_max / (1.0 - miss)
            })
            .collect();
        Derivatives { polys, sup }
    }

    /// The table of `act`, built once; `None` for activations other than tanh and sigmoid.
    fn of(act: Activation) -> Option<&'static Self> {
        static TANH: OnceLock<Derivatives> = OnceLock::new();
        static SIGMOID: OnceLock<Derivatives> = OnceLock::new();
        match act {
            Activation::Tanh => {
                Some(TANH.get_or_init(|| Self::new(&[1.0, 0.0, -1.0], (-1.0, 1.0))))
            }
            Activation::Sigmoid => {
                Some(SIGMOID.get_or_init(|| Self::new(&[0.0, 1.0, -1.0], (0.0, 1.0))))
            }
            _ => None,
        }
    }
}

/// p(x) by Horner's rule (ascending coefficients).
fn horner(p: &[f64], x: f64) -> f64 {
    p.iter().rev().fold(0.0, |acc, &c| acc.mul_add(x, c))
}

/// Q = Σ_{j<J} t²ʲ/(2ʲ j!) P₂ⱼ (ascending coefficients), for the least J ≤ [`MAX_TERMS`] whose
/// remainder bound t²ᴶ/(2ᴶ J!)·sup|φ⁽²ᴶ⁾| is at most `error` (absolute, for every b), into
/// `q` (its old entries dropped; a buffer the caller keeps, so the split rule's pairs allocate
/// nothing here). `false` for other activations than tanh and sigmoid, or where no
/// J ≤ [`MAX_TERMS`] is enough (`q` then holds no rule).
pub(super) fn rule(act: Activation, t: f64, error: f64, q: &mut Vec<f64>) -> bool {
    q.clear();
    let Some(table) = Derivatives::of(act) else {
        return false;
    };
    // A NaN or negative spread is no conditional: the other rules decide.
    if t.is_nan() || t < 0.0 {
        return false;
    }
    let t2 = t * t;
    // c = t²ʲ/(2ʲ j!) for j = 0, 1, …
    let mut c = 1.0;
    for j in 0..MAX_TERMS {
        let p = &table.polys[2 * j];
        if q.len() < p.len() {
            q.resize(p.len(), 0.0);
        }
        for (qk, &pk) in q.iter_mut().zip(p) {
            *qk += c * pk;
        }
        c *= t2 / (2.0 * (j + 1) as f64);
        if c * table.sup[2 * (j + 1)] <= error {
            return true;
        }
    }
    false
}

/// Σₖ Wₖ·(g(bₖ) − m) over the outer `nodes` (bₖ, Wₖ), g by the series `q` ([`rule`]): one φ and
/// one Horner pass per node on SIMD lanes.
pub(super) fn weighted_sum(act: Activation, nodes: &[(f64, f64)], q: &[f64], m: f64) -> f64 {
    Isa::Dispatch.run(pulp::Arch::new(), Series { act, nodes, q, m })
}

/// The lanes of [`weighted_sum`].
struct Series<'a> {
    act: Activation,
    nodes: &'a [(f64, f64)],
    q: &'a [f64],
    m: f64,
}

impl WithSimd for Series<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let lanes = S::F64_LANES;
        let m = simd.splat_f64s(self.m);
        let mut acc = simd.splat_f64s(0.0);
        for group in self.nodes.chunks(lanes) {
            let (mut b, mut w) = ([0.0; MAX_LANES], [0.0; MAX_LANES]);
            for (k, &(bk, wk)) in group.iter().enumerate() {
                b[k] = bk;
                w[k] = wk;
            }
            // Spare lanes carry W = 0.
            let u = phi_lanes::eval(simd, self.act, load(simd, &b[..lanes]));
            let g = self.q.iter().rev().fold(simd.splat_f64s(0.0), |p, &c| {
                simd.mul_add_f64s(p, u, simd.splat_f64s(c))
            });
            acc = simd.mul_add_f64s(load(simd, &w[..lanes]), simd.sub_f64s(g, m), acc);
        }
        simd.reduce_sum_f64s(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// g(b) = E[φ(b + tw)] by a fine trapezoidal rule in w (step 0.02 over ±12: for these t the
    /// integrand is analytic in a strip of half-width ≥ π/(4t) ≥ 3.9, so the rule's error is
    /// far below 10⁻¹⁸; the tails beyond ±12 are below 10⁻³¹), its 1 201 terms and weights
    /// summed with compensation (Neumaier) and the weights' sum divided out, so that the
    /// reference's own rounding is about an ulp of g.
    fn reference(act: Activation, b: f64, t: f64) -> f64 {
        let eta = 0.02;
        let (mut sum, mut sum_c, mut norm, mut norm_c) = (0.0, 0.0, 0.0, 0.0);
        let add = |s: &mut f64, c: &mut f64, x: f64| {
            let y = *s + x;
            *c += if s.abs() >= x.abs() {
                (*s - y) + x
            } else {
                (x - y) + *s
            };
            *s = y;
        };
        for k in -600..=600 {
            let w = k as f64 * eta;
            let g = (-0.5 * w * w).exp();
            add(&mut sum, &mut sum_c, g * act.eval(b + t * w));
            add(&mut norm, &mut norm_c, g);
        }
        (sum + sum_c) / (norm + norm_c)
    }

    /// The derivative polynomials against finite differences of φ (central, step 10⁻³ on
    /// P₀ … P₃: each Pₙ₊₁ is Pₙ's derivative), and tanh's known values: tanh'' = −2u(1 − u²),
    /// sup|tanh''| = 4/(3√3).
    #[test]
    fn derivative_polynomials_are_the_derivatives() {
        for act in [Activation::Tanh, Activation::Sigmoid] {
            let table = Derivatives::of(act).unwrap();
            for h in [-2.5, -0.7, 0.0, 0.4, 1.9] {
                for n in 0..3 {
                    let p = |x: f64| horner(&table.polys[n], act.eval(x));
                    let fd = (p(h + 1e-3) - p(h - 1e-3)) / 2e-3;
                    let want = horner(&table.polys[n + 1], act.eval(h));
                    assert!(
                        (fd - want).abs() <= 1e-5,
                        "{act} n = {n}, h = {h}: {fd} vs {want}"
                    );
                }
            }
        }
        let tanh = Derivatives::of(Activation::Tanh).unwrap();
        assert_eq!(tanh.polys[2], vec![0.0, -2.0, 0.0, 2.0]);
        let exact = 4.0 / (3.0 * 3f64.sqrt());
        assert!(
            tanh.sup[2] >= exact && tanh.sup[2] <= exact * 1.01,
            "{}",
            tanh.sup[2]
        );
    }

    /// The series against the fine trapezoidal reference for tanh and sigmoid at every t the
    /// rule serves at 10⁻¹⁷ (from 10⁻⁸ up to its largest) and b across φ's bend and tails:
    /// within 10⁻¹⁷ plus rounding, 8 ulp of 1 (|g| ≤ 1): φ(b) within 4 ulp of libm's (the lanes'
    /// bound, `net::phi_lanes`; here the scalar φ), Horner's few terms of which only the first
    /// is O(1), the reference's ulp; and the rule refuses the t beyond its reach (the
    /// trapezoidal rule serves those).
    #[test]
    fn the_series_matches_the_conditional_mean() {
        let error = 1e-17;
        for act in [Activation::Tanh, Activation::Sigmoid] {
            let mut largest = 0.0;
            let mut served = 0;
            for k in 0..=80 {
                let t = 1e-8 * 10f64.powf(k as f64 * 0.1);
                let mut q = Vec::new();
                if !rule(act, t, error, &mut q) {
                    continue;
                }
                largest = t;
                served += 1;
                for i in -40..=40 {
                    let b = 0.15 * i as f64;
                    let got = horner(&q, act.eval(b));
                    let want = reference(act, b, t);
                    assert!(
                        (got - want).abs() <= error + 8.0 * f64::EPSILON,
                        "{act} t = {t:e}, b = {b}: {got} vs {want}"
                    );
                }
            }
            eprintln!("{act}: the series serves t up to {largest:.3e}");
            assert!(served > 40, "{act}: only {served} t served");
            assert!(
                largest > 0.01 && largest < 0.2,
                "{act}: largest t {largest}"
            );
            assert!(!rule(act, 1.0, error, &mut Vec::new()), "{act} at t = 1");
        }
        assert!(!rule(Activation::Silu, 1e-6, error, &mut Vec::new()));
    }

    /// A buffer that held a longer rule (or a failed one) gives the rule a fresh buffer gives.
    #[test]
    fn a_reused_buffer_holds_the_fresh_rule() {
        let act = Activation::Tanh;
        let (mut fresh, mut reused) = (Vec::new(), Vec::new());
        assert!(rule(act, 1e-6, 1e-17, &mut fresh));
        assert!(rule(act, 0.05, 1e-17, &mut reused) && reused.len() > fresh.len());
        assert!(rule(act, 1e-6, 1e-17, &mut reused));
        assert_eq!(reused, fresh);
        assert!(!rule(act, 1.0, 1e-17, &mut reused));
        assert!(rule(act, 1e-6, 1e-17, &mut reused));
        assert_eq!(reused, fresh);
    }

    /// The lanes' weighted sum equals the scalar sum Σ W(Q(φ(b)) − m) for a node count that is
    /// not a multiple of the lanes.
    #[test]
    fn weighted_sum_matches_the_scalar_sum() {
        let act = Activation::Tanh;
        let mut q = Vec::new();
        assert!(rule(act, 0.005, 1e-17, &mut q));
        let nodes: Vec<(f64, f64)> = (0..13)
            .map(|k| (-3.0 + 0.47 * k as f64, 0.01 * (k as f64 + 1.0)))
            .collect();
        let want: f64 = nodes
            .iter()
            .map(|&(b, w)| w * (horner(&q, act.eval(b)) - 0.2))
            .sum();
        let got = weighted_sum(act, &nodes, &q, 0.2);
        assert!((got - want).abs() <= 1e-15, "{got} vs {want}");
    }
}
