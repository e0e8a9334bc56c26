//! Hermite-chaos coefficients of the powers of one unit's centred output:
//!
//! ```text
//! (φ(h) − m)^p = Σ_{j≥0} B_{p,j} :δ^j:,   B_{p,j} = E_G[∂ʲ(φ(h) − m)^p]/j! = E[(φ − m)^p He_j(z)]/(j!·s^j)
//! ```
//!
//! for h = μ + s z ~ N(μ, s²), δ = h − μ, m = E_G φ(h), :δ^j: = s^j He_j(δ/s) the Wick power
//! (Hermite expansion with Stein's identity E[g(h)He_j(z)] = s^j E[g⁽ʲ⁾(h)]). B_{1,j} = A_j are
//! the unit's own chaos coefficients (B_{1,0} = 0); B_{p,0} = E_G(φ − m)^p are its Gaussian
//! central moments. Powers p ≤ 4 (a unit repeated in a κ₄ entry), degrees j ≤ 5 (degree 5: the
//! order-4 diagrams κ₄\[a,a,a,a\]Σ_ab, [`super::closure`]).
//!
//! The expectations are 1-D Gaussian quadrature: the closures' rule for smooth φ
//! (`for_each_unit_node`, bounded cost at any s), and for linear, quadratic, relu and leaky
//! relu the composite 16-point Gauss–Legendre rule split at the kink z = −μ/s (polynomial on
//! each side, so accurate to rounding). A deterministic unit (s = 0) has δ = 0: every B is 0.

use crate::net::Activation;
use crate::propagate::closures::quadrature::for_each_unit_node;
use crate::propagate::closures::rules::for_each_normal_node;

/// Highest power p and degree j.
pub const MAX_POWER: usize = 4;
/// Highest chaos degree j.
pub const MAX_DEGREE: usize = 5;
/// Integration range in standard deviations.
const RANGE: f64 = 12.0;
/// Panel width (in z) of the composite rule for piecewise-polynomial φ.
const PANEL: f64 = 0.5;

/// B_{p,j} of one unit, `b[p][j]` (row p = 0 unused), and its Gaussian mean.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitChaos {
    pub mean: f64,
    pub b: [[f64; MAX_DEGREE + 1]; MAX_POWER + 1],
}

impl UnitChaos {
    /// The coefficients of φ at h ~ N(μ, s²) (module docs).
    pub fn new(act: Activation, mu: f64, s: f64) -> Self {
        let mut b = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
        if s <= 0.0 {
            return UnitChaos {
                mean: act.eval(mu),
                b,
            };
        }
        let mut nodes: Vec<(f64, f64, f64)> = Vec::new();
        let mut push = |z: f64, w: f64| nodes.push((z, w, act.eval(mu + s * z)));
        match act {
            Activation::Linear | Activation::Quadratic { .. } => {
                for_each_normal_node(&[], PANEL, &[], RANGE, &mut push)
            }
            Activation::Relu | Activation::LeakyRelu { .. } => {
                for_each_normal_node(&[-mu / s], PANEL, &[], RANGE, &mut push)
            }
            _ => for_each_unit_node(act, mu, s, RANGE, &mut push),
        }
        let mean: f64 = nodes.iter().map(|(_, w, f)| w * f).sum();
        for &(z, w, f) in &nodes {
            let he = hermite(z);
            let d = f - mean;
            let mut pow = 1.0;
            for row in b.iter_mut().skip(1) {
                pow *= d;
                for (bj, hj) in row.iter_mut().zip(he) {
                    *bj += w * pow * hj;
                }
            }
        }
        let mut scale = 1.0;
        for j in 0..=MAX_DEGREE {
            if j > 0 {
                scale *= j as f64 * s;
            }
            for row in b.iter_mut().skip(1) {
                row[j] /= scale;
            }
        }
        b[1][0] = 0.0;
        UnitChaos { mean, b }
    }
}

/// He₀(z) … He₅(z), the probabilists' Hermite polynomials (He₅ = z⁵ − 10z³ + 15z).
fn hermite(z: f64) -> [f64; MAX_DEGREE + 1] {
    let z2 = z * z;
    [
        1.0,
        z,
        z2 - 1.0,
        z2 * z - 3.0 * z,
        z2 * z2 - 6.0 * z2 + 3.0,
        z * (z2 * z2 - 10.0 * z2 + 15.0),
    ]
}
