//! The conditional means g(b) = E\[φ(b + tw)\], w ~ N(0, 1), of `split_pair` at all its outer
//! nodes b at once: the trapezoidal rule of each shifted so that its nodes fall on one lattice
//! of φ's values, so that φ is evaluated once per lattice point instead of once per node and
//! outer point (spl52).

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use crate::net::Activation;
use crate::simd::{exp, exp_slice, load, store};

/// Σₖ Wₖ·(g(bₖ) − m) over the outer `nodes` (bₖ, Wₖ) and the number of evaluations of φ it
/// made, for the trapezoidal rule of step `eta` in w with nodes |m| ≤ `half` (`split_pair`'s
/// `trapezoid`: error ≤ its ε for every b, nodes beyond `half`·η omitted).
///
/// With the lattice hₗ = base + lδ, δ = tη, and for each b the lattice index l = round(p),
/// p = (b − base)/δ, the rule with its nodes shifted by θ = (l − p)η (|θ| ≤ η/2),
///
/// ```text
/// g(b) ≈ Σ_{|m| ≤ H} (η/√(2π)) e^{−(mη + θ)²/2} φ(h_{l+m}),   H = half + 1,
/// ```
///
/// is the trapezoidal rule of the same integrand f(w) = φ(b + tw)e^{−w²/2}/√(2π) on the grid
/// θ + ηℤ: the error bound of Trefethen & Weideman (SIAM Rev. 56, 385, 2014, Thm 5.1) depends
/// only on f's strip and its integrals along horizontal lines, not on the offset, so each g is
/// within the unshifted rule's ε; the nodes kept reach |w| ≥ Hη − |θ| ≥ half·η, so those
/// omitted are the ones the unshifted rule omits or farther. The weights are
/// Gₘ·e^{−θ²/2}·rᵐ, Gₘ = (η/√(2π))e^{−m²η²/2}, r = e^{−ηθ}. The lattice holds φ − m, so each
/// node's sum is g(b) − m·Σwₘ (Σwₘ = 1 within the rule's ε and the weights' rounding, |m| ≤ 1)
/// and the nodes' terms W·e^{−θ²/2}·Σ are summed on one lane vector (perf57; each node's sum was
/// reduced across lanes on its own, a quarter of the kernel on deep tanh layers). Per lane
/// vector of nodes, r^{±1} and the steps r^{±L} (L lanes) come from the lane `simd::exp`
/// (`exp`, within 4ε of libm) and e^{−θ²/2} likewise; r^{±2}, r^{±4} are products; each node's
/// first lane vector [r⁰ … r^{L−1}] is at most two products of r, r², r⁴ selected by the lane's
/// bits ([`LANE_BITS`]), and the later ones one product by r^L each (before perf57: L serial
/// products per node, and r^L as their product). A relative error e in r gives rᵐ |m|e more,
/// so g gains ≤ e·Σ|m||wₘ| ≈ e·0.8/η (Σ|m||wₘ| ≈ E|w|/η), and the products add ≤ (4 + c)u
/// (c = ⌊|m|/L⌋ steps, each also carrying r^L's own error): a few u·(1 + 0.8/η) in all, as
/// before. Gₘ by the lane exp too (`exp_slice`; they were H + 1 libm calls a pair). `isa`: the
/// instruction set of the kernel (`Isa::Dispatch` but in the tests).
/// `None` where the lattice would need more than `budget` evaluations of φ (t small against
/// the span of the b: then one rule per node costs less). `buf`: the lattice's buffers, reused
/// across pairs (perf58).
pub(super) fn lattice_sum(
    act: Activation,
    nodes: &[(f64, f64)],
    (t, eta, half): (f64, f64, usize),
    m: f64,
    (budget, isa): (usize, Isa),
    buf: &mut LatticeBuf,
) -> Option<(f64, usize)> {
    let (lo, hi) = nodes
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(b, _)| {
            (lo.min(b), hi.max(b))
        });
    if nodes.is_empty() || t <= 0.0 || eta <= 0.0 || !(hi - lo).is_finite() {
        return None;
    }
    let delta = t * eta;
    let span = ((hi - lo) / delta).ceil();
    // Margin K > H + lanes on both sides: every l ± (H padded to whole lane vectors) exists.
    let h = half + 1;
    let margin = h + 2 * MAX_LANES + 2;
    let points = span + (2 * margin + 1) as f64;
    if points > budget as f64 {
        return None;
    }
    let points = points as usize;
    let base = lo - margin as f64 * delta;
    // The indices 0 … points − 1 as f64 (the same values for every pair: only extended).
    let LatticeBuf { index, f, rev, g } = buf;
    if index.len() < points {
        let from = index.len();
        index.extend((from..points).map(|l| l as f64));
    }
    // φ − m on the lattice: each shifted rule's sum is then g(b) − m·Σwₘ, Σwₘ = 1 within the
    // rule's ε and the weights' rounding.
    f.clear();
    f.resize(points, 0.0);
    phi_lanes::eval_into(act, base, delta, &index[..points], f);
    f.iter_mut().for_each(|v| *v -= m);
    rev.clear();
    rev.extend(f.iter().rev());
    // Gₘ, m = 0 … H, then zeros: a lane vector read past H meets zero weights.
    let norm = eta / (2.0 * std::f64::consts::PI).sqrt();
    g.clear();
    g.extend((0..=h).map(|k| {
        let x = k as f64 * eta;
        -0.5 * x * x
    }));
    exp_slice(g);
    g.iter_mut().for_each(|v| *v *= norm);
    g.resize(h + 1 + 2 * MAX_LANES, 0.0);
    let sum = isa.run(
        pulp::Arch::new(),
        ShiftedRules {
            nodes,
            f,
            rev,
            g,
            base,
            delta,
            eta,
            h,
        },
    );
    Some((sum, points))
}

/// The buffers of [`lattice_sum`]: the lattice's indices as f64, φ − m on it and reversed,
/// and the weights Gₘ.
#[derive(Default)]
pub(super) struct LatticeBuf {
    index: Vec<f64>,
    f: Vec<f64>,
    rev: Vec<f64>,
    g: Vec<f64>,
}

/// The widest SIMD vector of f64 the kernels run on (AVX-512: 8).
pub(super) const MAX_LANES: usize = 8;

/// The lanes of [`lattice_sum`]: `f` the lattice φ(base + lδ) − m, `rev` reversed, `g` the Gₘ.
struct ShiftedRules<'a> {
    nodes: &'a [(f64, f64)],
    f: &'a [f64],
    rev: &'a [f64],
    g: &'a [f64],
    base: f64,
    delta: f64,
    eta: f64,
    h: usize,
}

/// Lane k's bits 0, 1 and 2 (k < [`MAX_LANES`]), as 0 or 1: the lanes of rᵏ that take r, r²
/// and r⁴ as factors (rᵏ = r^{b₀}·r^{2b₁}·r^{4b₂}).
const LANE_BITS: [[f64; MAX_LANES]; 3] = [
    [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0],
    [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 1.0],
    [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0],
];

impl WithSimd for ShiftedRules<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let lanes = S::F64_LANES;
        // Lane vectors per side: m = 0 … H (upward) and m = −1 … −H (downward, `rev`).
        let width = (self.h + 1).div_ceil(lanes) * lanes;
        let n = self.f.len();
        let (g_up, g_down) = (&self.g[..width], &self.g[1..1 + width]);
        let (zero, one) = (simd.splat_f64s(0.0), simd.splat_f64s(1.0));
        let bits = LANE_BITS.map(|b| simd.greater_than_f64s(load(simd, &b[..lanes]), zero));
        // [x⁰ … x^{L−1}] from x, x², x⁴ (L ≤ 8): at most two products of exact selections.
        let powers = |x: f64, x2: f64, x4: f64| {
            let pick = |bit, v: f64| simd.select_f64s(bit, simd.splat_f64s(v), one);
            simd.mul_f64s(
                simd.mul_f64s(pick(bits[0], x), pick(bits[1], x2)),
                pick(bits[2], x4),
            )
        };
        let mut total = zero;
        for group in self.nodes.chunks(lanes) {
            // Each node's lattice index l and offset θ (spare lanes at θ = 0, W = 0).
            let (mut theta, mut index, mut weight) =
                ([0.0; MAX_LANES], [0usize; MAX_LANES], [0.0; MAX_LANES]);
            for (((th, ix), wt), &(b, w)) in
                theta.iter_mut().zip(&mut index).zip(&mut weight).zip(group)
            {
                let p = (b - self.base) / self.delta;
                let l = p.round();
                *th = (l - p) * self.eta;
                *ix = l as usize;
                *wt = w;
            }
            // For a lane vector of nodes at once: r^{±1}, r^{±2}, r^{±4}, the steps r^{±L}
            // (r = e^{−ηθ}: each power of the lane exp, not a product of L factors) and the
            // nodes' W·e^{−θ²/2}.
            let th = load(simd, &theta[..lanes]);
            let eth = simd.mul_f64s(simd.splat_f64s(self.eta), th);
            let neg = simd.mul_f64s(simd.splat_f64s(-1.0), eth);
            let lane_count = simd.splat_f64s(lanes as f64);
            let (r, ri) = (exp(simd, neg), exp(simd, eth));
            let (r2, ri2) = (simd.mul_f64s(r, r), simd.mul_f64s(ri, ri));
            let (r4, ri4) = (simd.mul_f64s(r2, r2), simd.mul_f64s(ri2, ri2));
            let step_up = exp(simd, simd.mul_f64s(lane_count, neg));
            let step_down = exp(simd, simd.mul_f64s(lane_count, eth));
            let gauss = exp(
                simd,
                simd.mul_f64s(simd.splat_f64s(-0.5), simd.mul_f64s(th, th)),
            );
            let scale = simd.mul_f64s(gauss, load(simd, &weight[..lanes]));
            let mut table = [[0.0; MAX_LANES]; 9];
            for (row, v) in table
                .iter_mut()
                .zip([r, r2, r4, ri, ri2, ri4, step_up, step_down, scale])
            {
                store(simd, &mut row[..lanes], v);
            }
            let [r, r2, r4, ri, ri2, ri4, step_up, step_down, scale] = table;
            for (k, &l) in index.iter().enumerate().take(group.len()) {
                let mut pow_up = powers(r[k], r2[k], r4[k]);
                let mut pow_down =
                    simd.mul_f64s(simd.splat_f64s(ri[k]), powers(ri[k], ri2[k], ri4[k]));
                let (step_up, step_down) =
                    (simd.splat_f64s(step_up[k]), simd.splat_f64s(step_down[k]));
                let (fu, fd) = (&self.f[l..l + width], &self.rev[n - l..n - l + width]);
                let (mut acc_up, mut acc_down) = (zero, zero);
                for (((gu, gd), fu), fd) in g_up
                    .chunks_exact(lanes)
                    .zip(g_down.chunks_exact(lanes))
                    .zip(fu.chunks_exact(lanes))
                    .zip(fd.chunks_exact(lanes))
                {
                    acc_up = simd.mul_add_f64s(
                        simd.mul_f64s(load(simd, gu), pow_up),
                        load(simd, fu),
                        acc_up,
                    );
                    acc_down = simd.mul_add_f64s(
                        simd.mul_f64s(load(simd, gd), pow_down),
                        load(simd, fd),
                        acc_down,
                    );
                    pow_up = simd.mul_f64s(pow_up, step_up);
                    pow_down = simd.mul_f64s(pow_down, step_down);
                }
                // W·(g(b) − m), the lattice holding φ − m: one lane vector for all nodes.
                total = simd.mul_add_f64s(
                    simd.splat_f64s(scale[k]),
                    simd.add_f64s(acc_up, acc_down),
                    total,
                );
            }
        }
        simd.reduce_sum_f64s(total)
    }
}
