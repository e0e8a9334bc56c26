//! The chaos coefficients of a near-deterministic unit (s small against the scale on which φ
//! bends, or against |φ(μ)|) from the Taylor series of φ around μ, where the quadrature of
//! [`super::chaos`] cancels: φ(μ + s z) − m is rounded relative to |φ(μ)|, so its error is
//! ~10⁻¹⁶|φ(μ)| against a spread σ_φ ≈ |φ′(μ)| s, and j!·s^j underflows below s ≈ 10⁻⁶².
//!
//! With φ(μ + δ) = Σ_{k≤K} c_k δ^k ([`super::taylor_series`]) and δ ~ N(0, s²):
//!
//! ```text
//! E δ^n = (n−1)!! s^n (n even),   φ(μ) − m = −Σ_{i≥1} c_{2i} (2i−1)!! s^{2i} =: d_0,
//! (φ − m)^p = Σ_n q^{(p)}_n δ^n,  q = (d_0, c_1, c_2, …),
//! δ^n = Σ_i n!/(2^i i! (n−2i)!) s^{2i} :δ^{n−2i}:    (Wick powers; Hermite's inversion)
//! B_{p,j} = Σ_i q^{(p)}_{j+2i} (j+2i)!/(2^i i! j!) s^{2i}
//! ```
//!
//! — no s^j formed, no difference of nearly equal values; underflow of s^{2i} drops terms
//! that are negligible anyway. The truncation at degree K is estimated by the change from a
//! cut at K − 4, in the coefficients' unit u_{p,j} = ‖(φ − m)^p‖/(s^j √j!) (the powers p > 1
//! need it: near a stationary point of φ, (φ − m)⁴ starts at degree 8 and its cut costs more
//! than φ's; silu at μ = −1.3, s = 0.13 gives 1.4·10⁻¹⁰ u on B_{4,5} at K = 24, where φ's last
//! term alone says 10⁻³³).
//!
//! The switch ([`near_deterministic`]): the quadrature is kept (bit for bit) where its
//! rounding estimate 10⁻¹⁵|φ(μ)|/σ_φ (ulp ≈ 1.1·10⁻¹⁶ of each φ value, times Σ_k w_k |He_j| ≤ 6.3)
//! is at most [`OLD_PATH_LIMIT`] and s ≥ [`S_MIN`] (below it (φ − m)⁴ and j!s^j lose range);
//! elsewhere the Taylor form is used where its truncation estimate is at most
//! [`TAYLOR_LIMIT`], and otherwise whichever of the two estimates is smaller (a saturated
//! unit of wide spread, where neither is accurate in these units), but never where the
//! unit's bulk reaches beyond φ's series around μ (`within_reach`). The switch is for smooth
//! φ only: a polynomial φ (linear, quadratic) takes the series at every s ([`polynomial`],
//! exact), relu and leaky relu their closed form (`chaos_kink`), which neither cancels nor
//! underflows at any s.

use super::chaos::{Chaos, UnitChaos, MAX_DEGREE, MAX_POWER};
use super::taylor_series::{taylor, Series, DEGREE};
use crate::net::Activation;

/// The quadrature's rounding estimate (in units u) above which it is replaced.
pub const OLD_PATH_LIMIT: f64 = 1e-13;
/// The Taylor form's truncation estimate (in units u) up to which it replaces the quadrature.
pub const TAYLOR_LIMIT: f64 = 1e-14;
/// The smallest s the quadrature is used at.
pub const S_MIN: f64 = 1e-30;

/// The Taylor form's coefficients where the switch (module docs) chooses it; `None` where
/// the quadrature is kept.
pub fn near_deterministic(act: Activation, mu: f64, s: f64) -> Option<UnitChaos> {
    // Beyond the series' reach the quadrature is kept whatever the estimates say: decided
    // before the series is formed (most units of a layer, s of order 1).
    if !within_reach(mu, s) {
        return None;
    }
    let c = taylor(act, mu);
    let unit = from_series(&c, s, DEGREE);
    // σ_φ/s by Parseval, Var φ = Σ_{j≥1} j! B_{1,j}² s^{2j} (to degree 5), without forming
    // σ_φ (it underflows where s does).
    let mut spread = 0.0;
    let (mut factorial, mut s_power) = (1.0, 1.0);
    for (j, b) in unit.b[1].iter().enumerate().skip(1) {
        factorial *= j as f64;
        spread += factorial * b * b * s_power;
        s_power *= s * s;
    }
    let spread = spread.sqrt();
    let old = if s < S_MIN {
        f64::INFINITY
    } else {
        1e-15 * c[0].abs() / spread / s
    };
    if old.is_nan() || old <= OLD_PATH_LIMIT {
        return None;
    }
    let truncation = truncation(&unit, &from_series(&c, s, DEGREE - 4), s);
    (truncation <= TAYLOR_LIMIT || truncation < old).then_some(unit)
}

/// The coefficients of a polynomial φ (linear, quadratic): its own finite series, so the
/// Taylor form is exact at every s (no truncation, no difference of nearly equal values).
pub fn polynomial(act: Activation, mu: f64, s: f64) -> UnitChaos {
    from_series(&taylor(act, mu), s, DEGREE)
}

/// Whether φ's Taylor series around μ can stand for φ over the unit's bulk |δ| ≤ 9 s (mass
/// beyond 2Φ(−9) ≈ 2·10⁻¹⁹): 9 s below √(μ² + (π/2)²), the radius of convergence of tanh's
/// series at μ (poles at ±iπ/2; sigmoid's, SiLU's and softplus's at ±iπ lie further out) and,
/// for every smooth φ here, the distance to its bend near h = 0. A saturated unit of wide
/// spread (tanh s = 10, μ = 6.5 s) reaches the bend from its bulk: the series around μ, flat
/// there, misses the mass that crosses it (its mean 1 where the reference's is
/// 1 − 9.6·10⁻¹¹, E[(φ − m)⁴He₅] 3.8·10⁻⁷ off), while its own truncation estimate, in the
/// same flat series' units, saw nothing (EXPERIMENTS.md, gh36); such a unit keeps the
/// quadrature.
fn within_reach(mu: f64, s: f64) -> bool {
    9.0 * s < mu.hypot(std::f64::consts::FRAC_PI_2)
}

/// The coefficients of the series `c`, cut at degree `cap` ≤ K, at spread s (module docs).
fn from_series(c: &Series, s: f64, cap: usize) -> UnitChaos {
    let s2 = s * s;
    // (2i−1)!! s^{2i}, the even moments of δ.
    let mut moments = [0.0; DEGREE + 1];
    moments[0] = 1.0;
    for n in (2..=DEGREE).step_by(2) {
        moments[n] = moments[n - 2] * (n - 1) as f64 * s2;
    }
    let d0 = -(2..=cap).step_by(2).map(|n| c[n] * moments[n]).sum::<f64>();
    let mut q = *c;
    q[0] = d0;
    q[cap + 1..].fill(0.0);
    let mut power = q;
    let mut b: Chaos = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
    for (p, row) in b.iter_mut().enumerate().skip(1) {
        if p > 1 {
            power = times(&power, &q);
        }
        for (j, out) in row.iter_mut().enumerate() {
            // Σ_i q_{j+2i} (j+2i)!/(2^i i! j!) s^{2i}, the weight updated from i to i + 1
            // by (j+2i+1)(j+2i+2)/(2(i+1)).
            let (mut weight, mut acc) = (1.0, 0.0);
            let mut i = 0;
            while j + 2 * i <= cap {
                acc += power[j + 2 * i] * weight;
                let n = (j + 2 * i) as f64;
                weight *= (n + 1.0) * (n + 2.0) / (2.0 * (i + 1) as f64) * s2;
                i += 1;
            }
            *out = acc;
        }
    }
    b[1][0] = 0.0;
    UnitChaos { mean: c[0] - d0, b }
}

/// The product of two series, truncated at degree K.
fn times(a: &Series, b: &Series) -> Series {
    let mut out = [0.0; DEGREE + 1];
    for (i, &x) in a.iter().enumerate() {
        if x != 0.0 {
            for (o, &y) in out[i..].iter_mut().zip(b) {
                *o += x * y;
            }
        }
    }
    out
}

/// The truncation's size in units u_{p,j}: the largest change of a coefficient when the
/// series is cut at degree K − 4 instead of K (a geometric tail's bound on the cut at K),
/// over Parseval's ‖(φ − m)^p‖ ≥ (Σ_j j! B_{p,j}² s^{2j})^{1/2}, divided by s^j √j! without
/// forming s^j (a unit beyond f64's range reads as 0).
fn truncation(unit: &UnitChaos, rough: &UnitChaos, s: f64) -> f64 {
    let mut worst: f64 = 0.0;
    for (row, other) in unit.b.iter().zip(&rough.b).skip(1) {
        for (j, (b, r)) in row.iter().zip(other).enumerate() {
            let diff = (b - r).abs();
            if diff == 0.0 {
                continue;
            }
            let mut factorial = 1.0;
            let mut norm = 0.0;
            for (k, x) in row.iter().enumerate() {
                factorial *= k.max(1) as f64;
                norm += factorial * x * x * s.powi(2 * (k as i32 - j as i32));
            }
            let fact_j: f64 = (1..=j).map(|x| x as f64).product();
            worst = worst.max(diff * fact_j.sqrt() / norm.sqrt());
        }
    }
    worst
}
