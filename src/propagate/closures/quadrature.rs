//! Reference closure for any φ by Gaussian quadrature: 1-D for means and variances, 2-D per
//! pair for covariances (DESIGN.md §3, "reference 2-D Gauss–Hermite quadrature"; here a
//! composite Gauss–Legendre rule against the Gaussian weight, which resolves kinks exactly).

use rayon::prelude::*;

use super::input::{correlation, gaussian_only, reset_output, units};
use super::rules::{for_each_normal_node, normal_expect};
use super::{Closure, Corrections};
use crate::error::Result;
use crate::linalg::fill_symmetric;
use crate::net::Activation;
use crate::stats::Moments;

/// Integration range ±L in standard-normal units (mass beyond: 2Φ(−9) ≈ 2·10⁻¹⁹), widened by
/// |μ|/s (up to 30) so that tail-dominated moments (relu far below its kink) keep their
/// relative accuracy.
const HALF_RANGE: f64 = 9.0;

/// ±L for units with standardised means `a`.
#[inline]
fn half_range(a: f64) -> f64 {
    HALF_RANGE + a.abs().min(30.0)
}
/// Panel width, in units of the pre-activation h: panels resolve φ on this scale whatever s is.
const PANEL_H: f64 = 0.5;

/// Where φ has a kink (relu and leaky relu at 0), so that rules can split there.
fn kink(act: Activation) -> Option<f64> {
    match act {
        Activation::Relu | Activation::LeakyRelu { .. } => Some(0.0),
        _ => None,
    }
}

/// Panel width in z for a function of μ + scale·z.
#[inline]
fn width(scale: f64) -> f64 {
    PANEL_H / scale.max(1.0)
}

/// E\[φ(h)\] and Var φ(h) for h ~ N(μ, s²): E\[f\] = ∫ f(μ + s z) φ(z) dz by the composite rule
/// (split at the kink), the variance as the centred second moment. s = 0 gives (φ(μ), 0).
pub fn moments_1d(act: Activation, mu: f64, s: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (act.eval(mu), 0.0);
    }
    let brk = kink(act).map(|k| (k - mu) / s);
    let breaks = brk.as_slice();
    let range = half_range(mu / s);
    // φ once per node: the two sums below are the two `normal_expect` passes of the same rule.
    let mut nodes = Vec::new();
    for_each_normal_node(breaks, width(s), range, |z, w| {
        nodes.push((w, act.eval(mu + s * z)))
    });
    let m = nodes.iter().fold(0.0, |acc, (w, f)| acc + w * f);
    let var = nodes.iter().fold(0.0, |acc, (w, f)| {
        let d = f - m;
        acc + w * (d * d)
    });
    (m, var)
}

/// One unit for [`pair_cov`]: mean μ, standard deviation s and E\[φ\] = m.
#[derive(Clone, Copy, Debug)]
pub struct Unit {
    pub mu: f64,
    pub s: f64,
    pub m: f64,
}

/// Cov(φ(hᵢ), φ(hⱼ)) for (hᵢ, hⱼ) Gaussian with correlation ρ, by the Cholesky factor of the
/// 2×2 covariance: hᵢ = μᵢ + sᵢz₁, hⱼ = μⱼ + sⱼ(ρz₁ + q z₂), q = √(1 − ρ²), so
/// C = E_{z₁}[(φ(hᵢ) − mᵢ)·(E_{z₂}[φ(hⱼ)] − mⱼ)]. The degenerate factor at q = 0 (ρ = ±1) makes
/// the inner expectation a point evaluation; each 1-D rule splits at the kinks of φ.
pub fn pair_cov(act: Activation, ui: Unit, uj: Unit, rho: f64) -> f64 {
    if ui.s <= 0.0 || uj.s <= 0.0 {
        return 0.0;
    }
    let rho = rho.clamp(-1.0, 1.0);
    let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
    let k = kink(act);
    let mut outer = Vec::with_capacity(2);
    if let Some(k) = k {
        outer.push((k - ui.mu) / ui.s);
        if rho != 0.0 {
            outer.push((k - uj.mu) / (uj.s * rho));
        }
    }
    let outer_w = width(ui.s.max(uj.s * rho.abs()));
    let inner_w = width(uj.s * q);
    let range = half_range((ui.mu / ui.s).abs().max(uj.mu / uj.s));
    normal_expect(&outer, outer_w, range, |z1| {
        let base = uj.mu + uj.s * rho * z1;
        let g = if q > 0.0 {
            let sq = uj.s * q;
            let inner = k.map(|k| (k - base) / sq);
            normal_expect(inner.as_slice(), inner_w, half_range(base / sq), |z2| {
                act.eval(base + sq * z2)
            })
        } else {
            act.eval(base)
        };
        (act.eval(ui.mu + ui.s * z1) - ui.m) * (g - uj.m)
    })
}

/// The reference closure of any activation by quadrature: mᵢ, Cᵢᵢ by [`moments_1d`], Cᵢⱼ by
/// [`pair_cov`] (≈ 3·10⁵ evaluations of φ per pair when s ≲ 1: for checks and small layers).
/// Gaussian-only.
#[derive(Clone, Copy, Debug)]
pub struct QuadratureClosure {
    act: Activation,
}

impl QuadratureClosure {
    /// The quadrature closure of `act`.
    pub fn new(act: Activation) -> Self {
        QuadratureClosure { act }
    }
}

impl Closure for QuadratureClosure {
    fn name(&self) -> String {
        format!("{} (2-D quadrature, reference)", self.act)
    }

    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()> {
        gaussian_only(corrections, "quadrature")?;
        let u = units(input, "quadrature")?;
        let n = input.dim();
        reset_output(out, n);
        let act = self.act;
        let mv: Vec<(f64, f64)> = (0..n)
            .into_par_iter()
            .map(|i| moments_1d(act, u.mu[i], u.s[i]))
            .collect();
        for (i, (m, _)) in mv.iter().enumerate() {
            out.mean[i] = *m;
        }
        let unit = |i: usize| Unit {
            mu: u.mu[i],
            s: u.s[i],
            m: mv[i].0,
        };
        fill_symmetric(&mut out.cov, |i, col| {
            let sig = &input.cov.col_as_slice(i)[..=i];
            for (j, c) in col.iter_mut().enumerate() {
                *c = if j == i {
                    mv[i].1
                } else {
                    pair_cov(act, unit(i), unit(j), correlation(sig[j], u.s[i], u.s[j]))
                };
            }
        })
    }
}

/// Visits the nodes of the 1-D rule used for a unit with mean μ and std s (no kinks: smooth φ),
/// over ±`half_range`; shared with the Hermite coefficients.
pub(crate) fn for_each_unit_node(s: f64, half_range: f64, visit: impl FnMut(f64, f64)) {
    for_each_normal_node(&[], width(s), half_range, visit);
}
