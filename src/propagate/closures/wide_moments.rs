//! Mean, variance and first Hermite coefficient of a wide unit φ(μ + s z), s ≥ 1, by a composite
//! rule graded from φ's singularities inside φ's feature window and in closed form outside it,
//! whose node count does not grow with s, φ and the Gaussian weight on SIMD lanes (issue
//! #14, item 3; the higher coefficients come from `fourier_coef`).

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use super::quadrature::{feature_half_width, half_range, SPLIT_PANEL};
use super::rules::{panel_nodes, PANEL_POINTS};
use crate::net::Activation;
use crate::simd::{exp, load, store};
use crate::special::{normal_cdf, normal_pdf};

/// E\[φ(h)\], Var φ(h) and c₁ = E\[(φ(h) − m) z\] for h = μ + s z, s ≥ 1, by a composite
/// 16-point Gauss–Legendre rule whose node count does not grow with s: inside φ's feature window
/// |h| ≤ c (`feature_half_width`) panels graded from φ's singularities
/// ([`push_window_panels`]); outside it, where φ is its linear limit to 10⁻¹⁷, each tail whose
/// edge lies within [`CLOSED_EDGE`] of the centre (z₊ = (c − μ)/s ≤ 1, z₋ = (−c − μ)/s ≥ −1)
/// in closed form ([`Tail`]), a farther one by panels [`SPLIT_PANEL`] wide in z out to
/// ±`half_range(μ/s)` (there φ − m, (φ − m)² and (φ − m)z are the Gaussian weight times
/// polynomials of degree ≤ 2, as in `quadrature::rule_for`). The nodes zₖ = mid + half·xₖ of
/// each panel, the weights half·wₖe^{−zₖ²/2}/√(2π) and φ(μ + s zₖ) are formed on SIMD lanes
/// ([`phi_lanes::eval`], within a few ulp of |φ| + 1); m = Σ Wφ + the closed tails'
/// E\[φ; tail\], then Var = Σ W(φ − m)² and c₁ = Σ W(φ − m)z in a second pass, plus theirs.
/// Before (main eea9957) both tails took panels: at s ≳ 40 (window ±c/s in z) about as
/// many nodes as the window. A closed tail's error is absolute (≲ 10⁻¹⁷): small against
/// |m| + √Var for the units `hermite_coef` gives this rule (|μ|/s ≤ 3), not for far-saturated
/// ones whose whole output lies beyond the window (σ at μ = −75, s = 3: m ≈ 2·10⁻³¹).
pub(crate) fn moments_wide(act: Activation, mu: f64, s: f64) -> (f64, f64, f64) {
    let c = feature_half_width(act);
    let range = half_range(mu / s);
    // (a₊, b₊, a₋, b₋) of φ's linear limits a₊ + b₊h (h > c) and a₋ + b₋h (h < −c).
    let (ap, bp, am, bm) = match act {
        Activation::Tanh | Activation::Erf => (1.0, 0.0, -1.0, 0.0),
        Activation::Sigmoid => (1.0, 0.0, 0.0, 0.0),
        Activation::Silu | Activation::Softplus | Activation::Gelu => (0.0, 1.0, 0.0, 0.0),
        _ => unreachable!("moments_wide takes the smooth activations with a window only"),
    };
    let (zp, zm) = ((c - mu) / s, (-c - mu) / s);
    let upper = (zp <= CLOSED_EDGE).then(|| Tail::new(ap + bp * c, bp * s, zp, 1.0));
    let lower = (zm >= -CLOSED_EDGE).then(|| Tail::new(am - bm * c, bm * s, -zm, -1.0));
    let mut panels = Vec::with_capacity(32);
    if lower.is_none() {
        push_segments(&[-range, zm.min(range)], &mut panels);
    }
    push_window_panels(c, mu, s, range, &mut panels);
    if upper.is_none() {
        push_segments(&[zp.max(-range), range], &mut panels);
    }
    let nodes = panels.len() * PANEL_POINTS;
    let (mut z, mut w, mut f) = (vec![0.0; nodes], vec![0.0; nodes], vec![0.0; nodes]);
    Isa::Dispatch.run(
        pulp::Arch::new(),
        WideLanes {
            act,
            mu,
            s,
            tails: [upper, lower],
            panels: &panels,
            z: &mut z,
            w: &mut w,
            f: &mut f,
        },
    )
}

/// The largest distance in z of a tail's edge from the centre at which [`moments_wide`] takes
/// the tail in closed form ([`Tail`]): beyond, its second moment is a difference of nearly equal
/// terms ((1 + a²)Q(a) − aϕ(a) loses ~a² of its digits: ramps at μ/s = −3 came out 6·10⁻¹⁴ of
/// |m| + √Var off with every tail closed, against 6·10⁻¹⁵ by panels).
const CLOSED_EDGE: f64 = 1.0;

/// One tail of φ(μ + s z) beyond its window edge, in closed form: with z = σ(a + t), t > 0
/// (σ = 1: the upper tail z > a; σ = −1: the lower, z < −a), φ is its linear limit
/// φₑ + σβt there (φₑ its value at the edge, β = b·s), and with Q(a) = 1 − Φ(a),
/// ψ₁ = E\[t; t > 0\] = ϕ(a) − aQ(a) and ψ₂ = E\[t²; t > 0\] = (1 + a²)Q(a) − aϕ(a):
/// E\[φ; tail\] = φₑQ + σβψ₁, E\[(φ − m)²; tail\] = x²Q + 2σxβψ₁ + β²ψ₂ and
/// E\[(φ − m)z; tail\] = σxϕ(a) + βQ, x = φₑ − m (from ∫_a^∞ zϕ = ϕ(a) and
/// ∫_a^∞ z²ϕ = aϕ(a) + Q(a), by ϕ′ = −zϕ; the lower tail is the upper one of −z).
#[derive(Clone, Copy, Debug)]
struct Tail {
    edge: f64,
    beta: f64,
    sign: f64,
    q: f64,
    pdf: f64,
    psi1: f64,
    psi2: f64,
}

impl Tail {
    /// The tail with value `edge` at its edge, slope `beta` in t, edge at a (σ = `sign`).
    fn new(edge: f64, beta: f64, a: f64, sign: f64) -> Self {
        let (q, pdf) = (normal_cdf(-a), normal_pdf(a));
        Tail {
            edge,
            beta,
            sign,
            q,
            pdf,
            psi1: pdf - a * q,
            psi2: (1.0 + a * a) * q - a * pdf,
        }
    }

    /// E\[φ; tail\].
    fn mean(&self) -> f64 {
        self.edge * self.q + self.sign * self.beta * self.psi1
    }

    /// E\[(φ − m)²; tail\] and E\[(φ − m)z; tail\].
    fn centred(&self, m: f64) -> (f64, f64) {
        let x = self.edge - m;
        let b = self.beta;
        (
            x * x * self.q + 2.0 * self.sign * x * b * self.psi1 + b * b * self.psi2,
            self.sign * x * self.pdf + b * self.q,
        )
    }
}

/// The panels (mid, half) in z inside φ's feature window |h| ≤ c, within ±`range` in z,
/// appended to `panels`: the rule of [`moments_wide`] (whose tails beyond the window are closed)
/// and of functions that vanish outside the window (`split_pair`'s ψ = φ − its piecewise-linear
/// limit, below 10⁻¹⁷ beyond c). Graded in h from φ's singularities, which all lie on Re h = 0
/// at |Im h| ≥ π/2 (tanh's poles at ±iπ/2; sigmoid's, SiLU's and softplus' at ±iπ; GELU
/// entire): edges 0, ±2, ±4, ±8, … (each panel [e, 2e] beyond |h| = 2), each split further to
/// at most `SPLIT_PANEL` in z for the Gaussian weight. The 16-point rule's error on a panel of
/// half-width a is O(ρ⁻³²), ρ = |w + √(w² − 1)| the Bernstein ellipse through the nearest
/// singularity w = (h* − centre)/a: ρ ≥ 3.43 on the two central panels (|w| ≥ π/2, the
/// uniform rule's worst panel) and ρ ≥ 3 + √8 = 5.8 on [e, 2e] (|w| ≥ 3), so no panel is less
/// accurate than the uniform 2-wide panels it replaces (c of them; at s ≥ 8 now
/// 2⌈log₂(c/2)⌉ + 2: tanh 10 instead of 20, sigmoid and SiLU 12 instead of 40–44; at smaller s
/// the cap in z splits the outer ones, to at most about the uniform count).
pub(super) fn push_window_panels(
    c: f64,
    mu: f64,
    s: f64,
    range: f64,
    panels: &mut Vec<(f64, f64)>,
) {
    let (lo, hi) = ((-c).max(mu - s * range), c.min(mu + s * range));
    if lo >= hi {
        return;
    }
    // 2 window edges and the graded edges 0, ±2, ±4, … below c (11 for c ≤ 64).
    let mut edges = [0.0; 24];
    let mut n = 0;
    let mut push = |z: f64| {
        edges[n] = z;
        n += 1;
    };
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
    /// The closed tails (upper, lower), `None` where panels take it.
    tails: [Option<Tail>; 2],
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
        let m =
            simd.reduce_sum_f64s(sum) + self.tails.iter().flatten().map(Tail::mean).sum::<f64>();
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
        let (var_tails, c1_tails) = self
            .tails
            .iter()
            .flatten()
            .map(|t| t.centred(m))
            .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
        (
            m,
            simd.reduce_sum_f64s(var) + var_tails,
            simd.reduce_sum_f64s(c1) + c1_tails,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E\[φ\], Var φ and c₁ of h = μ + s z by a brute-force composite 16-point rule, independent
    /// of [`moments_wide`]'s panels and tails: panels 1/8 wide in h across |h| ≤ 48 (beyond
    /// every feature window) and 1/8 wide in z elsewhere on |z| ≤ 13 (Gaussian mass beyond
    /// 10⁻³⁸), both passes centred as in `moments_wide`.
    fn reference(act: Activation, mu: f64, s: f64) -> (f64, f64, f64) {
        let (zmin, zmax) = (-13.0, 13.0);
        let (lo, hi) = (((-48.0 - mu) / s).max(zmin), ((48.0 - mu) / s).min(zmax));
        let mut edges = vec![zmin];
        let stretch = |a: f64, b: f64, width: f64, edges: &mut Vec<f64>| {
            if b > a {
                let pieces = ((b - a) / width).ceil().max(1.0) as usize;
                edges.extend((1..=pieces).map(|p| a + (b - a) * p as f64 / pieces as f64));
            }
        };
        if lo < hi {
            stretch(zmin, lo, 0.125, &mut edges);
            stretch(lo, hi, 0.125 / s, &mut edges);
            stretch(hi, zmax, 0.125, &mut edges);
        } else {
            stretch(zmin, zmax, 0.125, &mut edges);
        }
        let (gx, gw) = panel_nodes();
        let mut nodes = Vec::new();
        for e in edges.windows(2) {
            let (mid, half) = (0.5 * (e[0] + e[1]), 0.5 * (e[1] - e[0]));
            for (x, w) in gx.iter().zip(gw) {
                let z = mid + half * x;
                nodes.push((z, half * w * normal_pdf(z), act.eval(mu + s * z)));
            }
        }
        let m: f64 = nodes.iter().map(|&(_, w, f)| w * f).sum();
        let var: f64 = nodes.iter().map(|&(_, w, f)| w * (f - m) * (f - m)).sum();
        let c1: f64 = nodes.iter().map(|&(z, w, f)| w * (f - m) * z).sum();
        (m, var, c1)
    }

    /// [`moments_wide`] (window rule and closed tails) against [`reference`] for every
    /// activation it serves, s from 1.05 to 10⁴ and |μ|/s up to 3 (the units `hermite_coef`
    /// gives it): mean, √Var and c₁ within 10⁻¹³ of |m| + √Var (the 16-point rules' rounding
    /// over a few hundred nodes; a tail's sign or slope wrong is off by its whole mass).
    #[test]
    fn closed_tails_match_a_brute_force_rule() {
        let mut worst: f64 = 0.0;
        for act in [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Erf,
            Activation::Silu,
            Activation::Softplus,
            Activation::Gelu,
        ] {
            for s in [1.05, 3.0, 8.0, 40.0, 600.0, 1e4] {
                for a in [0.0, 1.3, -1.2, 2.0, -2.0, 3.0, -3.0] {
                    let (m, var, c1) = moments_wide(act, a * s, s);
                    let (rm, rvar, rc1) = reference(act, a * s, s);
                    let scale = rm.abs() + rvar.sqrt();
                    let err = (m - rm)
                        .abs()
                        .max((var.sqrt() - rvar.sqrt()).abs())
                        .max((c1 - rc1).abs());
                    worst = worst.max(err / scale);
                    assert!(
                        err <= 1e-13 * scale,
                        "{act} s = {s} μ/s = {a}: ({m:e}, {var:e}, {c1:e}) vs ({rm:e}, {rvar:e}, \
                         {rc1:e})"
                    );
                }
            }
        }
        println!("moments_wide vs brute force: worst {worst:e} of |m| + √Var");
    }
}
