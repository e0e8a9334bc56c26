//! The κ₃/κ₄ pair terms of a unit deep in one of φ's linear regimes, by 1-D rules (issue #16:
//! "series closures at bounded cost on near-deterministic units").
//!
//! A smooth φ equals a polynomial ℓ of degree ≤ 1 to 10⁻¹⁷ beyond its feature window |h| ≤ c
//! ([`feature_half_width`]: GELU, SiLU and softplus 0 or h, tanh, sigmoid and erf constants).
//! A unit hᵢ ~ N(μᵢ, sᵢ²) whose window lies at least [`REGIME_SIGMAS`] standard deviations
//! away (|μᵢ| − c ≥ 9sᵢ) sees only ℓ(h) = φ(μᵢ) + β(h − μᵢ), β = φ'(μᵢ), and then
//!
//! ```text
//! D_ab = E_G[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)] = 0                                          (a ≥ 2),
//!      = β·E[φ⁽ᵇ⁾(hⱼ)]                                                      (a = 1),
//!      = φ(μᵢ)·E[φ⁽ᵇ⁾(hⱼ)] + β·ρsᵢsⱼ·E[φ⁽ᵇ⁺¹⁾(hⱼ)]                          (a = 0),
//! ```
//!
//! the last by Stein's lemma, E[(hᵢ − μᵢ)g(hⱼ)] = Cov(hᵢ, hⱼ)·E[g'(hⱼ)]. The E[φ⁽ᵏ⁾(hⱼ)],
//! k ≤ 5, are one 1-D rule over unit j (`quadrature::for_each_unit_node`, the closed-form
//! derivatives of [`Taylor`]): at most 16·(32·39 + 4) ≈ 2·10⁴ nodes, where the 2-D quadrature
//! of the expanded density (`QuadratureTerms`' pair rule) took 4–9·10⁶ a pair with a unit at
//! |μ|/s ≈ 30 (its outer range ±(9 + |μ|/s), panels 0.5/max(1, s) wide): adv73's GELU network
//! with biases ±30, 6.7 CPU s for one 5-unit layer.
//!
//! Error: what ℓ leaves out is E[(φ⁽ᵃ⁾ − ℓ⁽ᵃ⁾)(hᵢ)·φ⁽ᵇ⁾(hⱼ)]; beyond the window φ⁽ᵃ⁾ − ℓ⁽ᵃ⁾ is
//! φ's distance from its limit and its derivatives (≤ 10⁻¹⁷ for a = 0, Gaussian- or
//! exponential-tailed for a ≥ 1), and hᵢ reaches the window with probability ≤ Φ(−9) = 10⁻¹⁹.
//! Checked against the 2-D quadrature in `quadrature_terms`' tests.

use super::edgeworth::{PairTerms, ORDERS};
use super::quadrature::{feature_half_width, for_each_unit_node, half_range};
use super::quadrature_terms::Taylor;
use crate::net::Activation;

/// How many standard deviations a unit's mean must lie beyond φ's feature window (the
/// quadrature's own half-range `HALF_RANGE`: the mass of hᵢ inside is ≤ Φ(−9) ≈ 10⁻¹⁹).
const REGIME_SIGMAS: f64 = 9.0;

/// Whether unit (μ, s) of the smooth `act` lies deep in one of φ's linear regimes (module
/// docs); false for φ without a feature window (relu, leaky relu, linear, quadratic).
pub(super) fn in_regime(act: Activation, mu: f64, s: f64) -> bool {
    let c = feature_half_width(act);
    c > 0.0 && mu.abs() - c >= REGIME_SIGMAS * s
}

/// E[φ⁽ᵏ⁾(μ + sz)], k = 0 … 5, by one 1-D rule, and its number of nodes.
fn derivative_means(taylor: &Taylor, act: Activation, (mu, s): (f64, f64)) -> ([f64; 6], usize) {
    let mut acc = [0.0; 6];
    let mut nodes = 0;
    for_each_unit_node(act, mu, s, half_range(mu / s), |z, w| {
        nodes += 1;
        let d = taylor.derivs(mu + s * z);
        for (a, v) in acc.iter_mut().zip(d) {
            *a += w * v;
        }
    });
    (acc, nodes)
}

/// Pair terms D_ab of units i = (μᵢ, sᵢ), j = (μⱼ, sⱼ) at correlation ρ where one of them lies
/// deep in a linear regime (module docs), and the nodes of the 1-D rule it took; None where
/// neither does, or φ has no closed-form derivatives.
pub(super) fn regime_pair(
    act: Activation,
    ui: (f64, f64),
    uj: (f64, f64),
    rho: f64,
) -> Option<(PairTerms, usize)> {
    let taylor = Taylor::new(act)?;
    // `line` is the unit in the regime, `other` the one integrated; `swap` when that is i.
    let (line, other, swap) = if in_regime(act, ui.0, ui.1) {
        (ui, uj, false)
    } else if in_regime(act, uj.0, uj.1) {
        (uj, ui, true)
    } else {
        return None;
    };
    let at = taylor.derivs(line.0);
    let (value, slope) = (at[0], at[1]);
    let (e, nodes) = derivative_means(taylor, act, other);
    let cov = rho * line.1 * other.1;
    let mut d = [[0.0; 5]; 5];
    for (a, b) in ORDERS {
        // (order on the line's unit, order on the other)
        let (p, k) = if swap { (b, a) } else { (a, b) };
        d[a][b] = match p {
            0 => value * e[k] + slope * cov * e[k + 1],
            1 => slope * e[k],
            _ => 0.0,
        };
    }
    Some((d, nodes))
}
