//! Mean, variance and first Hermite coefficient of a wide unit φ(μ + s z), s ≥ 1, by a windowed
//! rule whose node count does not grow with s, φ and the Gaussian weight on SIMD lanes (issue
//! #14, item 3; the higher coefficients come from `fourier_coef`).

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use super::quadrature::{feature_half_width, half_range, SPLIT_PANEL};
use super::rules::{for_each_panel, panel_nodes, Window, PANEL_POINTS};
use crate::net::Activation;
use crate::simd::{exp, load, store};

/// E\[φ(h)\], Var φ(h) and c₁ = E\[(φ(h) − m) z\] for h = μ + s z, s ≥ 1, by the windowed rule
/// at every such s (`quadrature::rule_for` with the window forced: panels [`SPLIT_PANEL`] wide
/// in z outside φ's feature window, where φ − m, (φ − m)² and (φ − m)·z are the Gaussian
/// weight times polynomials of degree ≤ 2, and `SPLIT_PANEL`/s inside it), so that the node
/// count, 16·(L + c + 6) at most, does not grow with s. The nodes zₖ = mid + half·xₖ of each
/// panel (`rules::for_each_panel`), the weights half·wₖe^{−zₖ²/2}/√(2π) and φ(μ + s zₖ) are
/// formed on SIMD lanes ([`phi_lanes::eval`], within a few ulp of |φ| + 1);
/// m = Σ Wφ, then Var = Σ W(φ − m)² and c₁ = Σ W(φ − m)z in a second pass.
pub(crate) fn moments_wide(act: Activation, mu: f64, s: f64) -> (f64, f64, f64) {
    let c = feature_half_width(act);
    let window = Window {
        lo: (-c - mu) / s,
        hi: (c - mu) / s,
        width: SPLIT_PANEL / s,
    };
    let mut panels = Vec::with_capacity(64);
    for_each_panel(
        &[],
        SPLIT_PANEL,
        &[window],
        half_range(mu / s),
        |mid, half| panels.push((mid, half)),
    );
    let nodes = panels.len() * PANEL_POINTS;
    let (mut z, mut w, mut f) = (vec![0.0; nodes], vec![0.0; nodes], vec![0.0; nodes]);
    Isa::Dispatch.run(
        pulp::Arch::new(),
        WideLanes {
            act,
            mu,
            s,
            panels: &panels,
            z: &mut z,
            w: &mut w,
            f: &mut f,
        },
    )
}

/// The two passes of [`moments_wide`] on SIMD lanes over the nodes of `panels` (mid, half):
/// `z`, `w` and `f` are filled with the nodes, the Gaussian-weighted W and φ.
struct WideLanes<'a> {
    act: Activation,
    mu: f64,
    s: f64,
    panels: &'a [(f64, f64)],
    z: &'a mut [f64],
    w: &'a mut [f64],
    f: &'a mut [f64],
}

impl WithSimd for WideLanes<'_> {
    type Output = (f64, f64, f64);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> (f64, f64, f64) {
        let lanes = S::F64_LANES;
        let (gx, gw) = panel_nodes();
        let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let (mu, s) = (simd.splat_f64s(self.mu), simd.splat_f64s(self.s));
        let minus_half = simd.splat_f64s(-0.5);
        let mut sum = simd.splat_f64s(0.0);
        for (((&(mid, half), z), w), f) in self
            .panels
            .iter()
            .zip(self.z.chunks_mut(PANEL_POINTS))
            .zip(self.w.chunks_mut(PANEL_POINTS))
            .zip(self.f.chunks_mut(PANEL_POINTS))
        {
            let (mid, half_v) = (simd.splat_f64s(mid), simd.splat_f64s(half));
            let weight = simd.splat_f64s(half * norm);
            for ((((x, g), z), w), f) in gx
                .chunks(lanes)
                .zip(gw.chunks(lanes))
                .zip(z.chunks_mut(lanes))
                .zip(w.chunks_mut(lanes))
                .zip(f.chunks_mut(lanes))
            {
                let zv = simd.mul_add_f64s(half_v, load(simd, x), mid);
                let gauss = exp(simd, simd.mul_f64s(minus_half, simd.mul_f64s(zv, zv)));
                let wv = simd.mul_f64s(simd.mul_f64s(load(simd, g), weight), gauss);
                let fv = phi_lanes::eval(simd, self.act, simd.mul_add_f64s(s, zv, mu));
                sum = simd.mul_add_f64s(wv, fv, sum);
                store(simd, z, zv);
                store(simd, w, wv);
                store(simd, f, fv);
            }
        }
        let m = simd.reduce_sum_f64s(sum);
        let mv = simd.splat_f64s(m);
        let (mut var, mut c1) = (simd.splat_f64s(0.0), simd.splat_f64s(0.0));
        for ((z, w), f) in self
            .z
            .chunks(lanes)
            .zip(self.w.chunks(lanes))
            .zip(self.f.chunks(lanes))
        {
            let dev = simd.sub_f64s(load(simd, f), mv);
            let d = simd.mul_f64s(load(simd, w), dev);
            var = simd.mul_add_f64s(d, dev, var);
            c1 = simd.mul_add_f64s(d, load(simd, z), c1);
        }
        (m, simd.reduce_sum_f64s(var), simd.reduce_sum_f64s(c1))
    }
}
