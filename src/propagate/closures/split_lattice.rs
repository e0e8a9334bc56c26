//! The conditional means g(b) = E\[φ(b + tw)\], w ~ N(0, 1), of `split_pair` at all its outer
//! nodes b at once: the trapezoidal rule of each shifted so that its nodes fall on one lattice
//! of φ's values, so that φ is evaluated once per lattice point instead of once per node and
//! outer point (spl52).

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use crate::net::Activation;
use crate::simd::{exp, load, store};

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
/// Gₘ·e^{−θ²/2}·rᵐ, Gₘ = (η/√(2π))e^{−m²η²/2}, r = e^{−ηθ}, the powers rᵐ built outward from
/// m = 0 on SIMD lanes (one product per lane vector: relative error ≤ (|m|/lanes + 2)u, so
/// |Δg| ≤ u·Σ(|m|/lanes + 2)|wₘ| ≲ (2 + 0.2/η)u ≤ 2·10⁻¹⁵ for η ≥ 0.03, t ≤ 3.5). r and
/// e^{−θ²/2} come from the lane `simd::exp` for a lane vector of nodes at once (grid54; they
/// were two libm calls per node): a relative error e in r gives rᵐ |m|e more, so g gains
/// ≤ e·Σ|m||wₘ| ≈ e·0.8/η (Σ|m||wₘ| ≈ E|w|/η) — a few u·0.8/η, as libm's rounding of r did.
/// `None` where the lattice would need more than `budget` evaluations of φ (t small against
/// the span of the b: then one rule per node costs less).
pub(super) fn lattice_sum(
    act: Activation,
    nodes: &[(f64, f64)],
    (t, eta, half): (f64, f64, usize),
    m: f64,
    budget: usize,
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
    let index: Vec<f64> = (0..points).map(|l| l as f64).collect();
    let f = phi_lanes::eval_at(act, base, delta, &index);
    let rev: Vec<f64> = f.iter().rev().copied().collect();
    // Gₘ, m = 0 … H, then zeros: a lane vector read past H meets zero weights.
    let norm = eta / (2.0 * std::f64::consts::PI).sqrt();
    let mut g: Vec<f64> = (0..=h)
        .map(|k| {
            let x = k as f64 * eta;
            norm * (-0.5 * x * x).exp()
        })
        .collect();
    g.resize(h + 1 + 2 * MAX_LANES, 0.0);
    let sum = Isa::Dispatch.run(
        pulp::Arch::new(),
        ShiftedRules {
            nodes,
            f: &f,
            rev: &rev,
            g: &g,
            base,
            delta,
            eta,
            h,
            m,
        },
    );
    Some((sum, points))
}

/// The widest SIMD vector of f64 the kernels run on (AVX-512: 8).
pub(super) const MAX_LANES: usize = 8;

/// The lanes of [`lattice_sum`]: `f` the lattice φ(base + lδ), `rev` reversed, `g` the Gₘ.
struct ShiftedRules<'a> {
    nodes: &'a [(f64, f64)],
    f: &'a [f64],
    rev: &'a [f64],
    g: &'a [f64],
    base: f64,
    delta: f64,
    eta: f64,
    h: usize,
    m: f64,
}

impl WithSimd for ShiftedRules<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let lanes = S::F64_LANES;
        // Lane vectors per side: m = 0 … H (upward) and m = −1 … −H (downward, `rev`).
        let chunks = (self.h + 1).div_ceil(lanes);
        let n = self.f.len();
        let mut total = 0.0;
        for group in self.nodes.chunks(lanes) {
            // Each node's lattice index l and offset θ; r = e^{−ηθ} and e^{−θ²/2} for a lane
            // vector of nodes at once (spare lanes at θ = 0).
            let (mut theta, mut index) = ([0.0; MAX_LANES], [0usize; MAX_LANES]);
            for ((th, ix), &(b, _)) in theta.iter_mut().zip(&mut index).zip(group) {
                let p = (b - self.base) / self.delta;
                let l = p.round();
                *th = (l - p) * self.eta;
                *ix = l as usize;
            }
            let th = load(simd, &theta[..lanes]);
            let (mut ratio, mut gauss) = ([0.0; MAX_LANES], [0.0; MAX_LANES]);
            store(
                simd,
                &mut ratio[..lanes],
                exp(simd, simd.mul_f64s(simd.splat_f64s(-self.eta), th)),
            );
            store(
                simd,
                &mut gauss[..lanes],
                exp(
                    simd,
                    simd.mul_f64s(simd.splat_f64s(-0.5), simd.mul_f64s(th, th)),
                ),
            );
            for (((&l, &r), &gauss), &(_, w)) in index.iter().zip(&ratio).zip(&gauss).zip(group) {
                let ri = 1.0 / r;
                // [r⁰ … r^{L−1}] and [r⁻¹ … r^{−L}], the steps r^L and r^{−L}.
                let (mut up, mut down) = ([0.0; MAX_LANES], [0.0; MAX_LANES]);
                let (mut pu, mut pd) = (1.0, ri);
                for k in 0..lanes {
                    up[k] = pu;
                    down[k] = pd;
                    pu *= r;
                    pd *= ri;
                }
                let (step_up, step_down) = (simd.splat_f64s(pu), simd.splat_f64s(pd * r));
                let (mut pow_up, mut pow_down) =
                    (load(simd, &up[..lanes]), load(simd, &down[..lanes]));
                let (mut acc_up, mut acc_down) = (simd.splat_f64s(0.0), simd.splat_f64s(0.0));
                for c in 0..chunks {
                    let k = c * lanes;
                    let gu = load(simd, &self.g[k..k + lanes]);
                    let gd = load(simd, &self.g[k + 1..k + 1 + lanes]);
                    let fu = load(simd, &self.f[l + k..l + k + lanes]);
                    let fd = load(simd, &self.rev[n - l + k..n - l + k + lanes]);
                    acc_up = simd.mul_add_f64s(simd.mul_f64s(gu, pow_up), fu, acc_up);
                    acc_down = simd.mul_add_f64s(simd.mul_f64s(gd, pow_down), fd, acc_down);
                    pow_up = simd.mul_f64s(pow_up, step_up);
                    pow_down = simd.mul_f64s(pow_down, step_down);
                }
                let mean = gauss * simd.reduce_sum_f64s(simd.add_f64s(acc_up, acc_down));
                total += w * (mean - self.m);
            }
        }
        total
    }
}
