//! Mean, variance and first Hermite coefficient of a wide unit φ(μ + s z), s ≥ 1, by a composite
//! rule graded from φ's singularities whose node count does not grow with s, φ and the Gaussian weight on SIMD lanes (issue
//! #14, item 3; the higher coefficients come from `fourier_coef`).

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use super::quadrature::{feature_half_width, half_range, SPLIT_PANEL};
use super::rules::{panel_nodes, PANEL_POINTS};
use crate::net::Activation;
use crate::simd::{exp, load, store};

/// E\[φ(h)\], Var φ(h) and c₁ = E\[(φ(h) − m) z\] for h = μ + s z, s ≥ 1, by a composite
/// 16-point Gauss–Legendre rule whose node count does not grow with s ([`graded_panels`]). The
/// nodes zₖ = mid + half·xₖ of each panel, the weights half·wₖe^{−zₖ²/2}/√(2π) and φ(μ + s zₖ)
/// are formed on SIMD lanes ([`phi_lanes::eval`], within a few ulp of |φ| + 1);
/// m = Σ Wφ, then Var = Σ W(φ − m)² and c₁ = Σ W(φ − m)z in a second pass.
pub(crate) fn moments_wide(act: Activation, mu: f64, s: f64) -> (f64, f64, f64) {
    let panels = graded_panels(feature_half_width(act), mu, s);
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

/// The panels (mid, half) in z of [`moments_wide`] over ±L = ±`half_range(μ/s)`:
/// - outside φ's feature window |h| ≤ c, panels [`SPLIT_PANEL`] wide in z (there φ − m,
///   (φ − m)² and (φ − m)·z are the Gaussian weight times polynomials of degree ≤ 2 to 10⁻¹⁷,
///   as in `quadrature::rule_for`);
/// - inside it, panels graded in h from φ's singularities, which all lie on Re h = 0 at
///   |Im h| ≥ π/2 (tanh's poles at ±iπ/2; sigmoid's, SiLU's and softplus' at ±iπ; GELU entire):
///   edges 0, ±2, ±4, ±8, … (each panel [e, 2e] beyond |h| = 2), each split further to at most
///   `SPLIT_PANEL` in z for the Gaussian weight. The 16-point rule's error on a panel of
///   half-width a is O(ρ⁻³²), ρ = |w + √(w² − 1)| the Bernstein ellipse through the nearest
///   singularity w = (h* − centre)/a: ρ ≥ 3.43 on the two central panels (|w| ≥ π/2, the
///   uniform rule's worst panel) and ρ ≥ 3 + √8 = 5.8 on [e, 2e] (|w| ≥ 3), so no panel is less
///   accurate than the uniform 2-wide panels it replaces (c of them; at s ≥ 8 now
///   2⌈log₂(c/2)⌉ + 2: tanh 10 instead of 20, sigmoid and SiLU 12 instead of 40–44; at smaller s
///   the cap in z splits the outer ones, to at most about the uniform count).
fn graded_panels(c: f64, mu: f64, s: f64) -> Vec<(f64, f64)> {
    let mut panels = Vec::with_capacity(64);
    push_panels(c, mu, s, half_range(mu / s), true, &mut panels);
    panels
}

/// The panels of [`graded_panels`] inside φ's feature window only (|h| ≤ c, within ±`range`
/// in z), appended to `panels`: the rules of functions that vanish outside the window
/// (`split_pair`'s ψ = φ − its piecewise-linear limit, below 10⁻¹⁷ beyond c).
pub(super) fn push_window_panels(
    c: f64,
    mu: f64,
    s: f64,
    range: f64,
    panels: &mut Vec<(f64, f64)>,
) {
    push_panels(c, mu, s, range, false, panels);
}

/// [`graded_panels`] over ±`range`, with (`tails`) or without the stretches outside the window.
fn push_panels(c: f64, mu: f64, s: f64, range: f64, tails: bool, panels: &mut Vec<(f64, f64)>) {
    let (lo, hi) = ((-c).max(mu - s * range), c.min(mu + s * range));
    // At most 2 ends, 2 window edges and the graded edges 0, ±2, ±4, … below c (11 for c ≤ 64).
    let mut edges = [0.0; 24];
    let mut n = 0;
    let mut push = |z: f64| {
        edges[n] = z;
        n += 1;
    };
    if tails {
        push(-range);
    }
    if lo < hi {
        push((lo - mu) / s);
        let mut top = 2.0;
        while 2.0 * top < c && top < 64.0 {
            top *= 2.0;
        }
        // −top, …, −2, 0, 2, …, top (those below c), ascending.
        let mut e = -top;
        while e <= top {
            if e.abs() < c && lo < e && e < hi {
                push((e - mu) / s);
            }
            e = if e < -2.0 {
                0.5 * e
            } else if e < 0.0 {
                0.0
            } else if e == 0.0 {
                2.0
            } else {
                2.0 * e
            };
        }
        push((hi - mu) / s);
    }
    if tails {
        push(range);
    }
    push_segments(&edges[..n], panels);
}

/// Appends the panels (mid, half) between consecutive ascending `edges`, each stretch split
/// into equal pieces of at most [`SPLIT_PANEL`] in z (empty stretches skipped).
pub(super) fn push_segments(edges: &[f64], panels: &mut Vec<(f64, f64)>) {
    for seg in edges.windows(2) {
        let (a, b) = (seg[0], seg[1]);
        if b <= a {
            continue;
        }
        let pieces = ((b - a) / SPLIT_PANEL).ceil().max(1.0) as usize;
        let half = 0.5 * (b - a) / pieces as f64;
        panels.extend((0..pieces).map(|p| (a + (2 * p + 1) as f64 * half, half)));
    }
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
