//! Test reference for one unit's mean, standard deviation and normalised Hermite coefficients
//! cₙ = E[(φ(μ + s z) − m) hₙ(z)], hₙ = Heₙ/√n!, z ~ N(0, 1), independent of the rules
//! `hermite_coef` chooses between: 20-point Gauss–Legendre on panels of width
//! `width`/max(1, s) over |z| ≤ [`RANGE`], every sum (mean, variance, each cₙ) compensated
//! (Neumaier), the coefficients over the whole range (the composite rule of `hermite_coef` cuts
//! them at |z| ≤ 12).
//!
//! Its error has three parts, each reported with the result ([`Reference`]):
//! - **the cut at ±R** ([`tail_bound`]), bounded in closed form for sigmoid, SiLU, softplus and
//!   GELU, whose |φ(h)| ≤ |h| + 1 everywhere; with Cramér's inequality
//!   |hₙ(z)| ≤ 1.0865·e^{z²/4} and |φ − m| ≤ A + s|z|, A = |μ| + 1 + |m|:
//!   ∫_{|z|>R} |φ − m||hₙ|φ_G ≤ (2·1.0865/√(2π))·e^{−R²/4}·(2A/R + 2s), and the same bound
//!   with (A + s|z|)² for the variance, ≤ 0.87·e^{−R²/4}·(2A²/R + 4As + s²(2R + 4/R));
//!   at R = 50, e^{−625} ≈ 3.6·10⁻²⁷²: relative to a unit's |m| + √Var only where that scale
//!   is above ~10⁻²⁶⁰ (the callers skip units below it and say so);
//! - **the rule's discretisation**, estimated by the same reference at half the panel width
//!   (the callers compare both) and checked against mpmath (EXPERIMENTS.md, gh35);
//! - **rounding**: each term w(φ − m)hₙ carries a few ulps of φ and of the hₙ recurrence, the
//!   compensated sum adds ~ε of the result, so the error is ~ε·Σ|w(φ − m)hₙ|; it is inside
//!   the halving and mpmath comparisons.

use super::rules::gauss_legendre;
use crate::net::Activation;

/// Half range of the reference's rule in z.
pub const RANGE: f64 = 50.0;
/// Spreads s of the grids the reference judges the rules on (`hermite_coef`'s decaying side,
/// `higher::chaos_whole_range`).
pub const SPREADS: [f64; 10] = [1e-3, 1e-2, 0.1, 0.5, 0.7, 1.0, 1.5, 2.0, 5.0, 10.0];
/// |μ|/s of those grids (the decaying side takes −|μ|/s, the whole range both signs).
pub const MEANS: [f64; 8] = [6.5, 8.0, 12.0, 20.0, 30.0, 100.0, 1e3, 1e4];
/// Gauss–Legendre points per panel.
const POINTS: usize = 20;

/// The reference's result and its error terms.
#[derive(Clone, Debug)]
pub struct Reference {
    pub mean: f64,
    pub sd: f64,
    /// c₁ … c_K.
    pub c: Vec<f64>,
    /// Bound on the part of the mean and of each cₙ beyond ±[`RANGE`] (absolute,
    /// [`tail_bound`]).
    pub tail: f64,
    /// Bound on the variance's part beyond ±[`RANGE`].
    pub var_tail: f64,
}

/// A compensated (Neumaier) sum.
#[derive(Clone, Copy, Default)]
struct Sum {
    sum: f64,
    comp: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if self.sum.abs() >= x.abs() {
            self.comp += (self.sum - t) + x;
        } else {
            self.comp += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn value(self) -> f64 {
        self.sum + self.comp
    }
}

/// The reference for φ = `act` at h = μ + s z to K = `order`, panels `width`/max(1, s) wide
/// (module docs; 0.25 resolves h₉₆'s oscillation, wavelength ≈ 0.32 at z = 0, and φ's
/// features, 1/s wide in z, with ~5 points a wavelength per panel's 20).
pub fn reference(act: Activation, mu: f64, s: f64, order: usize, width: f64) -> Reference {
    let nodes = nodes(act, mu, s, width);
    let mean = mean(&nodes);
    let (mut var, mut c) = (Sum::default(), vec![Sum::default(); order]);
    for &(z, w, f) in &nodes {
        let d = w * (f - mean);
        var.add(d * (f - mean));
        let (mut h0, mut h1) = (1.0, z);
        for (n, cn) in c.iter_mut().enumerate() {
            cn.add(d * h1);
            let h2 = (z * h1 - ((n + 1) as f64).sqrt() * h0) / ((n + 2) as f64).sqrt();
            (h0, h1) = (h1, h2);
        }
    }
    let (tail, var_tail) = tail_bound(mu, s, mean, RANGE);
    Reference {
        mean,
        sd: var.value().max(0.0).sqrt(),
        c: c.into_iter().map(Sum::value).collect(),
        tail,
        var_tail,
    }
}

/// The reference's nodes (z, the weight w of N(0, 1) there, φ(μ + s z)): 20-point
/// Gauss–Legendre on panels `width`/max(1, s) wide over |z| ≤ [`RANGE`].
fn nodes(act: Activation, mu: f64, s: f64, width: f64) -> Vec<(f64, f64, f64)> {
    let (x, wx) = gauss_legendre(POINTS);
    let panels = (2.0 * RANGE * s.max(1.0) / width).ceil() as usize;
    let half = RANGE / panels as f64;
    let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    let mut nodes = Vec::with_capacity(panels * POINTS);
    for p in 0..panels {
        let mid = -RANGE + (2 * p + 1) as f64 * half;
        for (xk, wk) in x.iter().zip(&wx) {
            let z = mid + half * xk;
            nodes.push((
                z,
                half * wk * norm * (-0.5 * z * z).exp(),
                act.eval(mu + s * z),
            ));
        }
    }
    nodes
}

/// m = Σ w φ over `nodes`, compensated.
fn mean(nodes: &[(f64, f64, f64)]) -> f64 {
    let mut mean = Sum::default();
    for &(_, w, f) in nodes {
        mean.add(w * f);
    }
    mean.value()
}

/// The bounds of the module docs on the parts of Σ w(φ − m)hₙ (n ≥ 0) and of the variance
/// beyond |z| = R, for φ with |φ(h)| ≤ |h| + 1 (sigmoid, SiLU, softplus, GELU): with
/// A = |μ| + 1 + |m|, ∫_R^∞ e^{−z²/4} ≤ 2e^{−R²/4}/R, ∫_R^∞ z e^{−z²/4} = 2e^{−R²/4} and
/// ∫_R^∞ z² e^{−z²/4} ≤ (2R + 4/R)e^{−R²/4}, both tails together.
pub fn tail_bound(mu: f64, s: f64, m: f64, r: f64) -> (f64, f64) {
    let k = 2.0 * 1.0865 / (2.0 * std::f64::consts::PI).sqrt() * (-r * r / 4.0).exp();
    let a = mu.abs() + 1.0 + m.abs();
    let coef = k * (2.0 * a / r + 2.0 * s);
    let var = k * (2.0 * a * a / r + 4.0 * a * s + s * s * (2.0 * r + 4.0 / r));
    (coef, var)
}

/// E[(φ − m)^p Heⱼ(z)] for p = 1..4 (rows 1..4; row 0 unused), j = 0..5, with the same rule
/// and compensated sums as [`reference`], and the Cauchy–Schwarz scale of each row,
/// √E[(φ − m)^{2p}] (|E[(φ − m)^p Heⱼ]| ≤ √E[(φ − m)^{2p}]·√j!): the reference for the carried
/// orders' chaos coefficients (`propagate::higher::chaos`), whose B_{p,j} is this over
/// j!·s^j. Returns (the table, the scales, m). Its cut at ±[`RANGE`] is bounded by
/// [`powers_tail_bound`]; its discretisation is checked by halving the panels and against
/// mpmath (EXPERIMENTS.md, gh36).
pub fn powers(act: Activation, mu: f64, s: f64, width: f64) -> ([[f64; 6]; 5], [f64; 5], f64) {
    let nodes = nodes(act, mu, s, width);
    let mean = mean(&nodes);
    let (mut sums, mut even) = ([[Sum::default(); 6]; 5], [Sum::default(); 5]);
    for &(z, w, f) in &nodes {
        let d = f - mean;
        let he = [
            1.0,
            z,
            z * z - 1.0,
            z * (z * z - 3.0),
            (z * z) * (z * z) - 6.0 * z * z + 3.0,
            z * ((z * z) * (z * z) - 10.0 * z * z + 15.0),
        ];
        for q in 1..=4 {
            let dq = d.powi(q as i32);
            for (j, h) in he.iter().enumerate() {
                sums[q][j].add(w * dq * h);
            }
            even[q].add(w * dq * dq);
        }
    }
    let table = sums.map(|row| row.map(Sum::value));
    (table, even.map(|e| e.value().max(0.0).sqrt()), mean)
}

/// A bound on the part of E[(φ − m)^p Heⱼ(z)] beyond |z| = R ≥ 4 (both tails), over √j!, for
/// φ with |φ(h)| ≤ |h| + 1 (sigmoid, SiLU, softplus, GELU, tanh, erf): with A = |μ| + 1 + |m|,
/// |φ − m| ≤ A + s|z| and Cramér's |Heⱼ(z)| ≤ 1.0865·√j!·e^{z²/4}, the integrand is at most
/// f(z) = 1.0865·(A + s z)^p e^{−z²/4}/√(2π) for z ≥ R, whose log-derivative
/// p s/(A + s z) − z/2 ≤ p/R − R/2 ≤ −R/4 (p ≤ R²/4), so ∫_R^∞ f ≤ 4f(R)/R:
/// 2·1.0865·(4/R)·(A + sR)^p·e^{−R²/4}/√(2π) for both tails together.
pub fn powers_tail_bound(mu: f64, s: f64, m: f64, p: usize, r: f64) -> f64 {
    let a = mu.abs() + 1.0 + m.abs();
    2.0 * 1.0865 * 4.0 / r * (a + s * r).powi(p as i32) * (-r * r / 4.0).exp()
        / (2.0 * std::f64::consts::PI).sqrt()
}
