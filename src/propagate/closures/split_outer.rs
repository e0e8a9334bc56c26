//! The outer rules of `split_pair`: the panels of ψ's window graded from ψ's break and from
//! the other factor's feature, and every node's weight W·ψ (and the third term's conditional
//! mean of P) on SIMD lanes — the per-node libm `exp`, `tanh` and `erfc` of these rules were a
//! third of the closure of w500x3's strong pairs (BENCHMARKS spl53).

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use super::quadrature::{half_range, Unit};
use super::rules::panel_nodes;
use super::split_pair::Limit;
use super::wide_moments::push_segments;
use crate::net::Activation;
use crate::simd::{load, norm_pdf, store};

/// The other factor's feature in the outer variable z: (centre, slope, scale, reach) — the z
/// where centre + slope·z = 0, graded on `scale` out to `reach`.
pub(super) type Feature = (f64, f64, f64, f64);

/// The panels (mid, half) in z of an outer rule for h = μ + s z over ψ's window (|h| ≤ c,
/// within ±`half_range`(μ/s)) of unit `u`, into `panels` (`edges` a buffer; both cleared
/// first, reused across pairs: perf58): edges graded from h = 0 on unit scale and from the
/// other factor's `feature`, each stretch split to at most `SPLIT_PANEL` in z. Each panel
/// carries the 16-point Gauss–Legendre rule ([`panel_nodes`]) times the normal density.
pub(super) fn outer_panels(
    c: f64,
    u: Unit,
    (centre, slope, scale, reach): Feature,
    edges: &mut Vec<f64>,
    panels: &mut Vec<(f64, f64)>,
) {
    let range = half_range(u.mu / u.s);
    let (lo, hi) = (
        ((-c - u.mu) / u.s).max(-range),
        ((c - u.mu) / u.s).min(range),
    );
    edges.clear();
    push_graded(u.mu, u.s, 1.0, c, edges);
    if slope != 0.0 {
        push_graded(centre, slope, scale, reach, edges);
    }
    panels_between(edges, lo, hi, panels);
}

/// [`outer_panels`] into a new vector, for the tests.
#[cfg(test)]
pub(super) fn panels_of(c: f64, u: Unit, feature: Feature) -> Vec<(f64, f64)> {
    let mut panels = Vec::new();
    outer_panels(c, u, feature, &mut Vec::new(), &mut panels);
    panels
}

/// Appends the z = (h − μ)/σ of h = 0, ±2u, ±4u, ±8u, … below `reach` and of ±`reach` (only
/// h = 0 when u = 0: a break).
fn push_graded(mu: f64, sigma: f64, u: f64, reach: f64, edges: &mut Vec<f64>) {
    edges.push(-mu / sigma);
    if u <= 0.0 {
        return;
    }
    let mut e = 2.0 * u;
    while e < reach {
        edges.extend([(-e - mu) / sigma, (e - mu) / sigma]);
        e *= 2.0;
    }
    edges.extend([(-reach - mu) / sigma, (reach - mu) / sigma]);
}

/// The panels (mid, half) of \[lo, hi\] between the sorted `edges` inside it, each stretch
/// split into equal pieces of at most `SPLIT_PANEL` ([`push_segments`]), into `panels`
/// (cleared first).
fn panels_between(edges: &mut Vec<f64>, lo: f64, hi: f64, panels: &mut Vec<(f64, f64)>) {
    panels.clear();
    if lo >= hi {
        return;
    }
    edges.retain(|&z| lo < z && z < hi);
    edges.extend([lo, hi]);
    edges.sort_by(f64::total_cmp);
    push_segments(edges, panels);
}

/// The number of nodes of the rule on `panels`.
pub(super) fn node_count(panels: &[(f64, f64)]) -> usize {
    panels.len() * panel_nodes().0.len()
}

/// Every node z = mid + half·xₖ of `panels` with W·ψ(μ + sz), W = half·gₖ·e^{−z²/2}/√(2π)
/// and ψ = φ − P of unit `u` (the second term's outer rule of `split_pair::pair_cov`), on
/// SIMD lanes: e^{−z²/2}/√(2π) by the lane `norm_pdf`, φ by `phi_lanes` (each within a few ulp of libm;
/// ψ within a few ulp of 1 absolute, as the scalar φ − P), into `out` (cleared first).
pub(super) fn weighted_psi(
    act: Activation,
    limit: Limit,
    u: Unit,
    panels: &[(f64, f64)],
    out: &mut Vec<(f64, f64)>,
) {
    out.clear();
    out.reserve(node_count(panels));
    Isa::Dispatch.run(
        pulp::Arch::new(),
        Collect {
            act,
            limit,
            u,
            panels,
            out,
        },
    );
}

/// The third term of `split_pair::pair_cov`, Σ W·ψ(μⱼ + sⱼz)·(E\[P(hᵢ)|z\] − E Pᵢ) over the
/// nodes of `panels` of unit `uj`, with hᵢ | z ~ N(μᵢ + sᵢρz, tᵢ²) given as `partner`
/// (μᵢ, sᵢρ, tᵢ, E Pᵢ): E\[P\] by [`Limit::mean_lanes`] (Φ by the lane erfc, within a few ulp
/// of `libm::erfc`), the rest as [`weighted_psi`].
pub(super) fn third_term(
    act: Activation,
    limit: Limit,
    uj: Unit,
    panels: &[(f64, f64)],
    partner: (f64, f64, f64, f64),
) -> f64 {
    Isa::Dispatch.run(
        pulp::Arch::new(),
        Third {
            act,
            limit,
            u: uj,
            panels,
            partner,
        },
    )
}

/// The rule's nodes z = mid + half·x and weights W·ψ(μ + sz), W = half·g·e^{−z²/2}/√(2π),
/// for one lane vector `x`, `g` of a panel's rule (padding lanes: g = 0, so W = 0). A plain
/// function, not a closure, so that it is inlined under the kernel's instruction set (a
/// closure's body was not: its intrinsics became calls, 40 % slower than the scalar rule).
#[inline(always)]
fn node_lanes<S: Simd>(
    simd: S,
    (act, limit, u): (Activation, Limit, Unit),
    (mid, half): (f64, f64),
    x: &[f64],
    g: &[f64],
) -> (S::f64s, S::f64s) {
    let z = simd.mul_add_f64s(simd.splat_f64s(half), load(simd, x), simd.splat_f64s(mid));
    let weight = simd.mul_f64s(load(simd, g), simd.splat_f64s(half));
    let w = simd.mul_f64s(weight, norm_pdf(simd, z));
    let h = simd.mul_add_f64s(simd.splat_f64s(u.s), z, simd.splat_f64s(u.mu));
    let psi = simd.sub_f64s(phi_lanes::eval(simd, act, h), limit.eval_lanes(simd, h));
    (z, simd.mul_f64s(w, psi))
}

/// The lanes of [`weighted_psi`].
struct Collect<'a> {
    act: Activation,
    limit: Limit,
    u: Unit,
    panels: &'a [(f64, f64)],
    out: &'a mut Vec<(f64, f64)>,
}

impl WithSimd for Collect<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let out = self.out;
        // One lane vector of nodes and of weights (AVX-512's 8 lanes at most).
        let (mut zs, mut ws) = ([0.0; 8], [0.0; 8]);
        let lanes = S::F64_LANES;
        let kernel = (self.act, self.limit, self.u);
        let (gx, gw) = panel_nodes();
        for &panel in self.panels {
            for (x, g) in gx.chunks(lanes).zip(gw.chunks(lanes)) {
                let (z, wpsi) = node_lanes(simd, kernel, panel, x, g);
                store(simd, &mut zs[..lanes], z);
                store(simd, &mut ws[..lanes], wpsi);
                out.extend(zs.iter().zip(&ws).take(x.len()).map(|(&z, &w)| (z, w)));
            }
        }
    }
}

/// The lanes of [`third_term`].
struct Third<'a> {
    act: Activation,
    limit: Limit,
    u: Unit,
    panels: &'a [(f64, f64)],
    partner: (f64, f64, f64, f64),
}

impl WithSimd for Third<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let (mu_i, slope, t_i, mean_i) = self.partner;
        let (mu_i, slope) = (simd.splat_f64s(mu_i), simd.splat_f64s(slope));
        let mean_i = simd.splat_f64s(mean_i);
        let mut acc = simd.splat_f64s(0.0);
        let kernel = (self.act, self.limit, self.u);
        let (gx, gw) = panel_nodes();
        for &panel in self.panels {
            for (x, g) in gx.chunks(S::F64_LANES).zip(gw.chunks(S::F64_LANES)) {
                let (z, wpsi) = node_lanes(simd, kernel, panel, x, g);
                let b = simd.mul_add_f64s(slope, z, mu_i);
                let p = simd.sub_f64s(self.limit.mean_lanes(simd, b, t_i), mean_i);
                acc = simd.mul_add_f64s(wpsi, p, acc);
            }
        }
        simd.reduce_sum_f64s(acc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::normal_pdf;

    const U: f64 = f64::EPSILON / 2.0;

    /// The scalar rule the lanes replaced (spl52): per node libm `exp`, `Activation::eval`,
    /// `Limit::eval`; (z, W, ψ, h, Δz) of every node of `panels`, Δz = u(half + 3|z|) the most
    /// by which z = mid + half·x rounds differently with an fma (the scalar rounds half·x, ≤
    /// u·half, and the sum, ≤ u|z|; the fma the sum only; u|z| more covers the second order).
    fn scalar_nodes(
        act: Activation,
        limit: Limit,
        u: Unit,
        panels: &[(f64, f64)],
    ) -> Vec<[f64; 5]> {
        let (gx, gw) = panel_nodes();
        let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let mut out = Vec::new();
        for &(mid, half) in panels {
            for (x, g) in gx.iter().zip(gw) {
                let z = mid + half * x;
                let w = half * g * norm * (-0.5 * z * z).exp();
                let h = u.mu + u.s * z;
                let dz = U * (half + 3.0 * z.abs());
                out.push([z, w, act.eval(h) - limit.eval(h), h, dz]);
            }
        }
        out
    }

    /// The bound on |Δ(Wψ)| of one node between the lanes and the scalar rule, from the lane
    /// kernels' accuracy against libm (exp, φ: ≤ 8u relative, their tests): z rounds
    /// differently (fma) by ≤ Δz, which moves e^{−z²/2} by ≤ |z|Δz relative and h by
    /// ≤ |s|Δz + 2u(|μ| + |sz|); W's products and exp ≤ 12u; φ ≤ 8u|φ| plus |φ'| ≤ 1.13
    /// (erf's 2/√π, the steepest) times Δh; ψ's subtraction and the product u each.
    fn node_bound(act: Activation, u: Unit, [z, w, psi, h, dz]: [f64; 5]) -> f64 {
        let dh = u.s * dz + 2.0 * U * (u.mu.abs() + (u.s * z).abs());
        w * ((14.0 * U + z.abs() * dz) * psi.abs() + 8.0 * U * act.eval(h).abs() + 1.13 * dh)
    }

    /// Units and features of the pairs the split rule sees (scales 0.5 … 200, strong and
    /// moderate ρ), for every activation with a [`Limit`].
    fn cases() -> Vec<(Activation, Unit, Unit, f64)> {
        let units = [
            ((0.3, 0.5), (-0.2, 0.8)),
            ((2.74, 6.2), (-19.15, 7.0)),
            ((5.0, 64.0), (-40.0, 48.0)),
            ((-100.0, 200.0), (150.0, 120.0)),
        ];
        let mut out = Vec::new();
        for act in super::super::split_pair::WITH_LIMIT {
            for ((mi, si), (mj, sj)) in units {
                for rho in [0.3, -0.92, 0.999_999, -1.0] {
                    let ui = Unit {
                        mu: mi,
                        s: si,
                        m: 0.0,
                    };
                    let uj = Unit {
                        mu: mj,
                        s: sj,
                        m: 0.0,
                    };
                    out.push((act, ui, uj, rho));
                }
            }
        }
        out
    }

    /// [`weighted_psi`] on lanes against the scalar per-node rule: the same nodes (z within
    /// Δz) and every W·ψ within [`node_bound`].
    #[test]
    fn weighted_psi_matches_the_scalar_rule() {
        let mut worst: f64 = 0.0;
        for (act, ui, uj, rho) in cases() {
            let limit = Limit::of(act).unwrap();
            let c = super::super::quadrature::feature_half_width(act);
            let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
            let tj = uj.s * q;
            let panels = panels_of(c, ui, (uj.mu, uj.s * rho, tj.max(1.0), c + 9.0 * tj));
            let mut got = Vec::new();
            weighted_psi(act, limit, ui, &panels, &mut got);
            let want = scalar_nodes(act, limit, ui, &panels);
            assert_eq!(got.len(), want.len());
            for (&(z, v), &n) in got.iter().zip(&want) {
                assert!((z - n[0]).abs() <= n[4], "{act}: z {z} vs {}", n[0]);
                let (err, bound) = ((v - n[1] * n[2]).abs(), node_bound(act, ui, n));
                worst = worst.max(err / bound.max(f64::MIN_POSITIVE));
                assert!(err <= bound, "{act} z = {z}: {v:e} vs {:e}", n[1] * n[2]);
            }
        }
        eprintln!("weighted ψ: max error / bound = {worst:.2}");
    }

    /// [`third_term`] on lanes against the scalar sum Σ W·ψ(hⱼ)·(`Limit::mean` − E Pᵢ): within
    /// Σ (`node_bound`·|p| + |Wψ|·Δp), Δp ≤ |∂E\[P\]/∂b|·Δb + 16u(|a| + |b| + |p| + t)(1 + |x|)
    /// (∂/∂b: aφ(x)/t for a step, Φ(x) ≤ 1 for the ramp; Δb ≤ |sᵢρ|Δz + 2u(|μᵢ| + |sᵢρz|)
    /// from z's and b's roundings; Φ by the lane erfc within 8u, x = b/t).
    #[test]
    fn third_term_matches_the_scalar_rule() {
        let mut worst: f64 = 0.0;
        for (act, ui, uj, rho) in cases() {
            let limit = Limit::of(act).unwrap();
            let c = super::super::quadrature::feature_half_width(act);
            let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
            let ti = ui.s * q;
            let mp = limit.mean(ui.mu, ui.s);
            let panels = panels_of(c, uj, (ui.mu, ui.s * rho, ti, 9.0 * ti));
            let got = third_term(act, limit, uj, &panels, (ui.mu, ui.s * rho, ti, mp));
            let (mut want, mut bound) = (0.0, 0.0);
            for n in scalar_nodes(act, limit, uj, &panels) {
                let b = ui.mu + ui.s * rho * n[0];
                let p = limit.mean(b, ti) - mp;
                want += n[1] * n[2] * p;
                let slope_z = ui.s * rho;
                let db = slope_z.abs() * n[4] + 2.0 * U * (ui.mu.abs() + (slope_z * n[0]).abs());
                let (slope, scale) = match (limit, ti > 0.0) {
                    (Limit::Step { a, .. }, true) => (a * normal_pdf(b / ti) / ti, a.abs() + 1.0),
                    (Limit::Ramp, true) => (1.0, b.abs() + ti),
                    _ => (0.0, 0.0),
                };
                let x = if ti > 0.0 { (b / ti).abs() } else { 0.0 };
                let dp = slope * db + 16.0 * U * (scale + p.abs()) * (1.0 + x);
                bound += node_bound(act, uj, n) * p.abs() + (n[1] * n[2]).abs() * dp;
            }
            let err = (got - want).abs();
            worst = worst.max(err / bound.max(f64::MIN_POSITIVE));
            assert!(
                err <= bound,
                "{act} ρ = {rho}: {got:e} vs {want:e} (bound {bound:e})"
            );
        }
        eprintln!("third term: max error / bound = {worst:.2}");
    }
}
