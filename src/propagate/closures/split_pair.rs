//! Cov(φ(hᵢ), φ(hⱼ)) for the Hermite series' fallback pairs (wide units, |ρ| near 1) by
//! splitting φ into its piecewise-linear limit and a localised rest (issue #14, item 3), at a
//! cost that does not grow with the scales.

use pulp::{Simd, WithSimd};

use super::input::Isa;
use super::phi_lanes;
use super::quadrature::{feature_half_width, Unit};
use super::relu::{relu_cross, relu_moments};
use super::rules::panel_nodes;
use super::split_lattice::{lattice_sum, LatticeBuf};
use super::split_outer::{node_count, outer_panels, third_term, weighted_psi};
use super::split_taylor;
use super::wide_moments::push_window_panels;
use crate::net::Activation;
use crate::simd::{exp, load, norm_cdf, norm_pdf};
use crate::special::{bvn_cov, normal_cdf, normal_pdf};

/// Half-range in z of the inner rules: ψ is bounded (|ψ| ≤ 1), so the mass 2Φ(−9) ≈ 2·10⁻¹⁹
/// beyond ±9 is an absolute error below 2·10⁻¹⁹ of each conditional expectation.
const INNER_RANGE: f64 = 9.0;

/// The piecewise-linear limit P of φ at |h| → ∞, with its break at h = 0:
/// - `Step { a, b }`: P(h) = a·1\[h > 0\] + b (tanh and erf: sign h, a = 2, b = −1; sigmoid:
///   1\[h > 0\]);
/// - `Ramp`: P(h) = max(h, 0) (SiLU, softplus).
///
/// ψ = φ − P decays away from 0 (tanh: 2e^{−2|h|}; sigmoid e^{−|h|}; SiLU |h|σ(−|h|); softplus
/// log(1 + e^{−|h|}); erf erfc|h|) and is below 10⁻¹⁷ beyond φ's feature half-width c
/// (`quadrature::feature_half_width`), analytic on each side of 0 with its singularities at
/// |Im h| ≥ π/2 (those of φ), so the graded panels of `wide_moments` resolve it.
#[derive(Clone, Copy, Debug)]
pub(super) enum Limit {
    Step { a: f64, b: f64 },
    Ramp,
}

impl Limit {
    /// The limit of `act`; `None` where the rule does not apply (GELU has its closed form,
    /// polynomials and relu need no fallback).
    pub(super) fn of(act: Activation) -> Option<Self> {
        match act {
            Activation::Tanh | Activation::Erf => Some(Limit::Step { a: 2.0, b: -1.0 }),
            Activation::Sigmoid => Some(Limit::Step { a: 1.0, b: 0.0 }),
            Activation::Silu | Activation::Softplus => Some(Limit::Ramp),
            _ => None,
        }
    }

    /// P(h).
    pub(super) fn eval(self, h: f64) -> f64 {
        match self {
            Limit::Step { a, b } => {
                if h > 0.0 {
                    a + b
                } else {
                    b
                }
            }
            Limit::Ramp => h.max(0.0),
        }
    }

    /// E\[P(h)\] for h ~ N(μ, t²): step aΦ(μ/t) + b, ramp μΦ(μ/t) + tφ(μ/t); t = 0 gives P(μ).
    pub(super) fn mean(self, mu: f64, t: f64) -> f64 {
        if t <= 0.0 {
            return self.eval(mu);
        }
        let x = mu / t;
        match self {
            Limit::Step { a, b } => a * normal_cdf(x) + b,
            Limit::Ramp => mu * normal_cdf(x) + t * normal_pdf(x),
        }
    }

    /// P(h) lane by lane ([`Limit::eval`]).
    #[inline(always)]
    pub(super) fn eval_lanes<S: Simd>(self, simd: S, h: S::f64s) -> S::f64s {
        let zero = simd.splat_f64s(0.0);
        match self {
            Limit::Step { a, b } => simd.select_f64s(
                simd.greater_than_f64s(h, zero),
                simd.splat_f64s(a + b),
                simd.splat_f64s(b),
            ),
            Limit::Ramp => simd.max_f64s(h, zero),
        }
    }

    /// [`Limit::mean`] lane by lane at means `mu` and one spread t: Φ and φ by the lane
    /// `norm_cdf` (erfc within a few ulp of `libm::erfc`) and `norm_pdf`.
    #[inline(always)]
    pub(super) fn mean_lanes<S: Simd>(self, simd: S, mu: S::f64s, t: f64) -> S::f64s {
        if t <= 0.0 {
            return self.eval_lanes(simd, mu);
        }
        let x = simd.div_f64s(mu, simd.splat_f64s(t));
        match self {
            Limit::Step { a, b } => {
                simd.mul_add_f64s(simd.splat_f64s(a), norm_cdf(simd, x), simd.splat_f64s(b))
            }
            Limit::Ramp => simd.mul_add_f64s(
                mu,
                norm_cdf(simd, x),
                simd.mul_f64s(simd.splat_f64s(t), norm_pdf(simd, x)),
            ),
        }
    }

    /// Cov(P(hᵢ), P(hⱼ)) in closed form: step a²·(Φ₂ − ΦΦ) of the indicators 1\[zᵢ > −αᵢ\]
    /// (= `bvn_cov`(−αᵢ, −αⱼ, ρ), the complements' covariance, without cancellation); ramp
    /// sᵢsⱼ·`relu_cross`(αᵢ, αⱼ, ρ) − E\[Pᵢ\]E\[Pⱼ\] (DESIGN.md §3), α = μ/s.
    fn cov(self, ui: Unit, uj: Unit, rho: f64) -> f64 {
        let (ai, aj) = (ui.mu / ui.s, uj.mu / uj.s);
        match self {
            Limit::Step { a, .. } => a * a * bvn_cov(-ai, -aj, rho),
            Limit::Ramp => {
                let mi = relu_moments(ui.mu, ui.s).0;
                let mj = relu_moments(uj.mu, uj.s).0;
                ui.s * uj.s * relu_cross(ai, aj, rho) - mi * mj
            }
        }
    }
}

/// Cov(φ(hᵢ), φ(hⱼ)) and the number of evaluations of φ it made, for (hᵢ, hⱼ) Gaussian with
/// correlation ρ, or `None` for an activation without a [`Limit`]. With φ = P + ψ:
///
/// ```text
/// C = Cov(Pᵢ, Pⱼ) + E[ψ(hᵢ)·(φ(hⱼ) − mⱼ)] + E[(P(hᵢ) − E Pᵢ)·ψ(hⱼ)]
/// ```
///
/// (E\[(ψᵢ − Eψᵢ)X\] = E\[ψᵢ(X − EX)\]): the first term in closed form (`Limit::cov`); the
/// second over zᵢ (hᵢ = μᵢ + sᵢzᵢ) with hⱼ | zᵢ ~ N(b, t²), b = μⱼ + sⱼρzᵢ, t = sⱼ√(1 − ρ²):
/// g(b) = E\[φ(hⱼ)|zᵢ\] = E\[P\] in closed form plus E\[ψ\] by the window rule of ψ in the
/// conditional variable (`push_window_panels`, on SIMD lanes), or for tanh and sigmoid by the
/// trapezoidal rule of φ itself ([`trapezoid`]) where that takes fewer nodes (t ≲ 1: 27 nodes
/// as t → 0, where the window rule took ~140 whatever t) — for all outer nodes at once on one
/// lattice of φ's values (`split_lattice::lattice_sum`) where the lattice has fewer points than
/// the per-node rules have nodes (at w500x3's strong pairs ~50× fewer evaluations of φ,
/// BENCHMARKS spl52), and where t is small enough (≤ 0.080 tanh, 0.165 sigmoid) by g's Taylor
/// series in t, one φ per outer node (`split_taylor`, lead55: the near-deterministic
/// conditionals of deep tanh layers, |ρ| → 1); the third over zⱼ with
/// E\[P(hᵢ)|zⱼ\] in closed form. ψ vanishes (to 10⁻¹⁷) outside |h| ≤ c, so each outer rule
/// covers ψ's window only, with panels graded from ψ's break at 0 (unit scale,
/// `split_outer::outer_panels`; the nodes' weights W·ψ and E\[P(hᵢ)|zⱼ\] on SIMD lanes, spl53)
/// and from the centre of the other factor's feature: g's at b = 0 on the scale max(1, t)
/// (E\[φ(hⱼ)|b\] varies on φ's unit scale or on t), E\[P(hᵢ)|zⱼ\]'s at μᵢ + sᵢρzⱼ = 0 on the
/// scale sᵢ√(1 − ρ²) (a step or kink smoothed by the conditional spread). At most ~26 outer
/// panels and ~12 inner ones of 16 points whatever the scales: ≲ 10⁵ evaluations per pair
/// against ~2·10⁵ and more of the 2-D rule (`quadrature::pair_cov_fallback`). Zero for a
/// deterministic unit (s = 0).
/// The per-pair buffers live in one `Scratch` per thread.
pub(crate) fn pair_cov(act: Activation, ui: Unit, uj: Unit, rho: f64) -> Option<(f64, usize)> {
    let limit = Limit::of(act)?;
    if ui.s <= 0.0 || uj.s <= 0.0 {
        return Some((0.0, 0));
    }
    SCRATCH.with_borrow_mut(|scratch| Some(split_cov(act, limit, (ui, uj), rho, scratch)))
}

/// The buffers of [`pair_cov`], reused across the pairs a thread takes (perf58: their
/// allocation and growth were ~5 % of a deep tanh network's closure): the outer rules' edges and
/// panels, the second term's outer nodes (all, and those with W·ψ ≠ 0) and the lattice's.
#[derive(Default)]
struct Scratch {
    edges: Vec<f64>,
    panels_i: Vec<(f64, f64)>,
    panels_j: Vec<(f64, f64)>,
    outer: Vec<(f64, f64)>,
    active: Vec<(f64, f64)>,
    /// The Taylor rule's coefficients ([`split_taylor::rule`]).
    taylor: Vec<f64>,
    lattice: LatticeBuf,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// [`pair_cov`] of units with s > 0 on the buffers `scratch`.
fn split_cov(
    act: Activation,
    limit: Limit,
    (ui, uj): (Unit, Unit),
    rho: f64,
    scratch: &mut Scratch,
) -> (f64, usize) {
    let Scratch {
        edges,
        panels_i,
        panels_j,
        outer,
        active,
        taylor,
        lattice: lattice_buf,
    } = scratch;
    let rho = rho.clamp(-1.0, 1.0);
    let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
    let c = feature_half_width(act);
    let (ti, tj) = (ui.s * q, uj.s * q);
    // E[(P(hᵢ) − E Pᵢ)·ψ(hⱼ)] over zⱼ: hᵢ | zⱼ ~ N(μᵢ + sᵢρzⱼ, sᵢ²q²), whose mean of P is
    // smooth beyond 9 of its spreads from its break (Φ at 9: 10⁻¹⁹ from its limits).
    let mp_i = limit.mean(ui.mu, ui.s);
    outer_panels(c, uj, (ui.mu, ui.s * rho, ti, 9.0 * ti), edges, panels_j);
    let third = third_term(act, limit, uj, panels_j, (ui.mu, ui.s * rho, ti, mp_i));
    let mut evals = node_count(panels_j);
    // E[ψ(hᵢ)·(φ(hⱼ) − mⱼ)] over zᵢ: the outer weights times ψ(hᵢ), then the inner rules; g is
    // φ's polynomial limit beyond c + 9t from b = 0.
    let feature = (uj.mu, uj.s * rho, tj.max(1.0), c + 9.0 * tj);
    outer_panels(c, ui, feature, edges, panels_i);
    weighted_psi(act, limit, ui, panels_i, outer);
    evals += outer.len();
    active.clear();
    active.extend(
        outer
            .iter()
            .filter(|o| o.1 != 0.0)
            .map(|&(z, w)| (uj.mu + uj.s * rho * z, w)),
    );
    // Small t (ρ → 1 on wide units): g by its Taylor series in t, one φ per outer node.
    if split_taylor::rule(act, tj, TRAPEZOID_ERROR, taylor) {
        let second = split_taylor::weighted_sum(act, active, taylor, uj.m);
        return (
            limit.cov(ui, uj, rho) + second + third,
            evals + active.len(),
        );
    }
    let trap = trapezoid(act, tj);
    // All inner rules on one lattice of φ where it is cheaper (`split_lattice`).
    let lattice = trap.as_ref().and_then(|tr| {
        let budget = active.len() * tr.len();
        lattice_sum(
            act,
            active,
            (tj, tr.eta, tr.half),
            uj.m,
            (budget, Isa::Dispatch),
            lattice_buf,
        )
    });
    let conditional = || {
        Isa::Dispatch.run(
            pulp::Arch::new(),
            Conditional {
                act,
                limit,
                c,
                outer,
                uj,
                rho,
                t: tj,
                trap: trap.as_ref(),
            },
        )
    };
    let (second, inner_evals) = lattice.unwrap_or_else(conditional);
    (limit.cov(ui, uj, rho) + second + third, evals + inner_evals)
}

/// Σ over the outer nodes (zᵢ, Wψ(hᵢ)) of Wψ(hᵢ)·(E\[φ(hⱼ)|zᵢ\] − mⱼ), the conditional
/// hⱼ | zᵢ ~ N(b, t²), b = μⱼ + sⱼρzᵢ: E\[P\] by `Limit::mean`, E\[ψ\] by the window rule in
/// the conditional z over ±[`INNER_RANGE`] with nodes, Gaussian weights and ψ on SIMD lanes
/// (t = 0: φ(b)), or by the trapezoidal rule `trap` of g itself where it has fewer nodes than
/// the node's window rule. Returns the sum and the count of inner evaluations.
struct Conditional<'a> {
    act: Activation,
    limit: Limit,
    c: f64,
    outer: &'a [(f64, f64)],
    uj: Unit,
    rho: f64,
    t: f64,
    trap: Option<&'a Trapezoid>,
}

/// Absolute error allowed to [`trapezoid`]'s g(b) (|φ| ≤ 1): 10⁻¹⁷, as ψ's window.
const TRAPEZOID_ERROR: f64 = 1e-17;

/// Most nodes of a [`trapezoid`] worth building: the window rule it replaces covers ±9 in z
/// with panels at most `SPLIT_PANEL` = 2 wide cut at most at its 24 edges, ≤ 31 panels of 16
/// points (496), so a longer rule is never the cheaper one.
const MAX_TRAPEZOID_NODES: f64 = 512.0;

/// The half-width of the strip |Im h| ≤ a in which |φ(h)| ≤ 1, for the activations whose
/// conditional mean [`trapezoid`] serves: tanh π/4 (|tanh(x + iy)|² =
/// (sinh²x + sin²y)/(sinh²x + cos²y) ≤ 1 while sin²y ≤ cos²y), sigmoid π/2
/// (σ(h) = (1 + tanh(h/2))/2); `None` for the others (SiLU and softplus grow, erf grows as
/// e^{y²} off the axis).
fn bounded_strip(act: Activation) -> Option<f64> {
    match act {
        Activation::Tanh => Some(std::f64::consts::FRAC_PI_4),
        Activation::Sigmoid => Some(std::f64::consts::FRAC_PI_2),
        _ => None,
    }
}

/// Whether [`pair_cov`] takes the conditional mean of `act` by [`trapezoid`] (tanh, sigmoid).
pub(crate) fn trapezoid_serves(act: Activation) -> bool {
    bounded_strip(act).is_some()
}

/// The trapezoidal rule with nodes wₖ = kη (|k| ≤ ⌈W/η⌉, W = [`INNER_RANGE`]) and weights
/// ηe^{−wₖ²/2}/√(2π) for g(b) = E\[φ(b + tw)\], w ~ N(0, 1), at the absolute error
/// [`TRAPEZOID_ERROR`] = ε for every b (`None` where [`bounded_strip`] has no strip or t = 0).
/// f(w) = φ(b + tw)e^{−w²/2}/√(2π) is analytic in |Im w| ≤ a_max = strip/t with |φ| ≤ 1 there,
/// so ∫|f(x + iy)|dx ≤ e^{y²/2} and the rule's error is at most 2e^{a²/2}/(e^{2πa/η} − 1) for
/// any a ≤ a_max (Trefethen & Weideman, SIAM Rev. 56, 385, 2014, Thm 5.1). With
/// L = ln(2/ε), a = min(√(2L), a_max) and η = 2πa/(a²/2 + L) that is 2/(e^L − e^{−a²/2}) ≈ ε
/// (a = √(2L) minimises the node count 2W/η); the nodes beyond W omit at most
/// 2(Φ(−W) + ηφ(W)) < 2·10⁻¹⁸. The count: 27 as t → 0 (η = 0.70), 77 at tanh's t = ½,
/// 149 at t = 1, growing as t beyond. Only η and the count: the lattice (`split_lattice`)
/// builds its own weights, and [`Trapezoid::nodes`] the per-node rule's (spl53: building them
/// for every pair cost up to 149 `exp` a pair for nothing where the lattice served).
fn trapezoid(act: Activation, t: f64) -> Option<Trapezoid> {
    let strip = bounded_strip(act)?;
    if t <= 0.0 {
        return None;
    }
    let l = (2.0 / TRAPEZOID_ERROR).ln();
    let a = (2.0 * l).sqrt().min(strip / t);
    let eta = 2.0 * std::f64::consts::PI * a / (0.5 * a * a + l);
    let half = (INNER_RANGE / eta).ceil();
    (2.0 * half + 1.0 <= MAX_TRAPEZOID_NODES).then_some(Trapezoid {
        eta,
        half: half as usize,
    })
}

/// The step η of [`trapezoid`] and its nodes' largest |k|.
struct Trapezoid {
    eta: f64,
    half: usize,
}

impl Trapezoid {
    /// The number of nodes, 2·half + 1.
    fn len(&self) -> usize {
        2 * self.half + 1
    }

    /// The nodes wₖ = kη and weights ηe^{−wₖ²/2}/√(2π), |k| ≤ half.
    fn nodes(&self) -> (Vec<f64>, Vec<f64>) {
        let norm = self.eta / (2.0 * std::f64::consts::PI).sqrt();
        let half = self.half as i64;
        (-half..=half)
            .map(|k| {
                let x = k as f64 * self.eta;
                (x, norm * (-0.5 * x * x).exp())
            })
            .unzip()
    }
}

impl WithSimd for Conditional<'_> {
    type Output = (f64, usize);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> (f64, usize) {
        let lanes = S::F64_LANES;
        let (gx, gw) = panel_nodes();
        let norm = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let minus_half = simd.splat_f64s(-0.5);
        let zero = simd.splat_f64s(0.0);
        let (tv, t) = (simd.splat_f64s(self.t), self.t);
        let mut panels = Vec::with_capacity(32);
        let (trap_w, trap_g) = self.trap.map(Trapezoid::nodes).unwrap_or_default();
        let (mut total, mut evals) = (0.0, 0);
        for &(z, wpsi) in self.outer {
            if wpsi == 0.0 {
                continue;
            }
            let b = self.uj.mu + self.uj.s * self.rho * z;
            if t > 0.0 {
                panels.clear();
                push_window_panels(self.c, b, t, INNER_RANGE, &mut panels);
            }
            if t > 0.0 && !trap_w.is_empty() && trap_w.len() < panels.len() * gx.len() {
                // g(b) by the trapezoidal rule of φ itself: E[P] and ψ's window not needed.
                let bv = simd.splat_f64s(b);
                let mut acc = zero;
                for (x, g) in trap_w.chunks(lanes).zip(trap_g.chunks(lanes)) {
                    let h = simd.mul_add_f64s(tv, load(simd, x), bv);
                    acc = simd.mul_add_f64s(load(simd, g), phi_lanes::eval(simd, self.act, h), acc);
                }
                evals += trap_w.len();
                total += wpsi * (simd.reduce_sum_f64s(acc) - self.uj.m);
                continue;
            }
            let inner = if t > 0.0 {
                let bv = simd.splat_f64s(b);
                let mut acc = zero;
                for &(mid, half) in &panels {
                    let (mid, half_v) = (simd.splat_f64s(mid), simd.splat_f64s(half));
                    let weight = simd.splat_f64s(half * norm);
                    for (x, g) in gx.chunks(lanes).zip(gw.chunks(lanes)) {
                        let zv = simd.mul_add_f64s(half_v, load(simd, x), mid);
                        let gauss = exp(simd, simd.mul_f64s(minus_half, simd.mul_f64s(zv, zv)));
                        let wv = simd.mul_f64s(simd.mul_f64s(load(simd, g), weight), gauss);
                        let h = simd.mul_add_f64s(tv, zv, bv);
                        let psi = simd.sub_f64s(
                            phi_lanes::eval(simd, self.act, h),
                            self.limit.eval_lanes(simd, h),
                        );
                        acc = simd.mul_add_f64s(wv, psi, acc);
                    }
                }
                evals += panels.len() * gx.len();
                simd.reduce_sum_f64s(acc)
            } else {
                evals += 1;
                self.act.eval(b) - self.limit.eval(b)
            };
            total += wpsi * (self.limit.mean(b, t) + inner - self.uj.m);
        }
        (total, evals)
    }
}

/// The activations with a [`Limit`], for the tests of the split rule's parts.
#[cfg(test)]
pub(super) const WITH_LIMIT: [Activation; 5] = [
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Silu,
    Activation::Softplus,
    Activation::Erf,
];

#[cfg(test)]
mod tests {
    use super::super::quadrature::pair_cov as reference;
    use super::super::quadrature::pair_cov_fallback as reference_fallback;
    use super::super::split_outer::panels_of;
    use super::*;

    /// Against the 2-D quadrature reference (`quadrature::pair_cov`) for tanh, sigmoid, SiLU,
    /// softplus and erf at scales s = 0.5 … 200 (narrow, the single-width rule's 1 < s ≤ 8,
    /// and windowed) and |ρ| up to 1, means |μ|/s up to 2.5: every covariance within 10⁻¹² of
    /// √(VarᵢVarⱼ) (measured: see the session's BENCHMARKS section), with at most 1.5·10⁵
    /// evaluations of φ per pair at every scale.
    #[test]
    fn split_rule_matches_the_reference() {
        let acts = WITH_LIMIT;
        let units = [
            ((0.3, 0.5), (-0.2, 0.8)),
            ((2.740_5, 6.202), (-19.150, 7.009)),
            ((-30.0, 12.0), (20.0, 16.0)),
            ((5.0, 64.0), (-40.0, 48.0)),
            ((-100.0, 200.0), (150.0, 120.0)),
        ];
        let (mut worst, mut most): (f64, usize) = (0.0, 0);
        for act in acts {
            for ((mi, si), (mj, sj)) in units {
                let (ui, var_i) = Unit::with_variance(act, mi, si);
                let (uj, var_j) = Unit::with_variance(act, mj, sj);
                // The single-width rule at 1 < s ≤ 8 costs ~2·10⁷ evaluations per pair: two ρ.
                let rhos: &[f64] = if si > 1.0 && si <= 8.0 {
                    &[0.95, -0.6]
                } else {
                    &[0.3, -0.75, 0.92, 0.99, -0.999, 1.0]
                };
                for &rho in rhos {
                    let want = reference(act, ui, uj, rho);
                    let (got, evals) = pair_cov(act, ui, uj, rho).unwrap();
                    let err = (got - want).abs() / (var_i * var_j).sqrt();
                    worst = worst.max(err);
                    most = most.max(evals);
                    assert!(
                        err <= 1e-12,
                        "{act} ({mi}, {si}) ({mj}, {sj}) ρ = {rho}: {got:e} vs {want:e} ({err:e})"
                    );
                    assert!(
                        evals <= 150_000,
                        "{act} s = {si}, {sj}: {evals} evaluations"
                    );
                }
            }
        }
        eprintln!("split rule: max |ΔC|/√(VarᵢVarⱼ) = {worst:e}, at most {most} evaluations");
    }

    /// The pairs ρ → 1 of tanh and sigmoid (clo50): the conditional mean g(b) by the trapezoidal
    /// rule ([`trapezoid`]) against the 2-D quadrature reference (`quadrature::pair_cov`) at
    /// |ρ| ∈ {0.9, 0.99, 0.999999, 1 − 10⁻¹², 1} (both signs) and s ∈ {0.1, 1, 10, 100} (the
    /// partner at 0.7 s, means ±0.3 s): within 10⁻¹² of √(VarᵢVarⱼ), the split rule's own
    /// tolerance (measured max in BENCHMARKS, clo50). And the work per pair bounded whatever ρ:
    /// where t = 0.7s√(1 − ρ²) ≤ ½ every inner mean takes at most the 77 nodes of t = ½
    /// (the window rule took ~140 at every t > 0: 43 184 evaluations at s = 8, ρ = 0.99999).
    #[test]
    fn strong_pairs_take_the_trapezoidal_conditional() {
        let mut worst: f64 = 0.0;
        for act in [Activation::Tanh, Activation::Sigmoid] {
            for s in [0.1, 1.0, 10.0, 100.0] {
                let (ui, var_i) = Unit::with_variance(act, 0.3 * s, s);
                let (uj, var_j) = Unit::with_variance(act, -0.3 * 0.7 * s, 0.7 * s);
                for r in [0.9, 0.99, 0.999_999, 1.0 - 1e-12, 1.0] {
                    for rho in [r, -r] {
                        let want = reference(act, ui, uj, rho);
                        let (got, evals) = pair_cov(act, ui, uj, rho).unwrap();
                        let err = (got - want).abs() / (var_i * var_j).sqrt();
                        worst = worst.max(err);
                        assert!(
                            err <= 1e-12,
                            "{act} s = {s}, ρ = {rho}: {got:e} vs {want:e} ({err:.1e})"
                        );
                        let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
                        if uj.s * q <= 0.5 {
                            let c = feature_half_width(act);
                            let (ti, tj) = (ui.s * q, uj.s * q);
                            let third = panels_of(c, uj, (ui.mu, ui.s * rho, ti, 9.0 * ti));
                            let second =
                                panels_of(c, ui, (uj.mu, uj.s * rho, tj.max(1.0), c + 9.0 * tj));
                            let most = node_count(&third) + 78 * node_count(&second);
                            assert!(
                                evals <= most,
                                "{act} s = {s}, ρ = {rho}: {evals} evaluations > {most}"
                            );
                        }
                    }
                }
            }
        }
        eprintln!("trapezoidal conditional: max |ΔC|/√(VarᵢVarⱼ) = {worst:.1e}");
    }

    /// The node counts [`trapezoid`] documents: 27 as t → 0, 77 at tanh's t = ½, 149 at t = 1
    /// (sigmoid, twice the strip: t = 1 as tanh's ½), none for SiLU.
    #[test]
    fn trapezoid_counts_follow_the_bound() {
        assert_eq!(trapezoid(Activation::Tanh, 1e-9).unwrap().len(), 27);
        assert_eq!(trapezoid(Activation::Tanh, 0.5).unwrap().len(), 77);
        assert_eq!(trapezoid(Activation::Tanh, 1.0).unwrap().len(), 149);
        assert_eq!(trapezoid(Activation::Sigmoid, 1.0).unwrap().len(), 77);
        assert!(trapezoid(Activation::Silu, 0.1).is_none());
        assert!(trapezoid(Activation::Tanh, 0.0).is_none());
    }

    /// Monte Carlo, independent of every rule of the crate: 2·10⁶ draws of (hᵢ, hⱼ) at
    /// ρ = 0.999999 and ρ = −(1 − 10⁻¹²), s = 10 and 7, the sample covariance of tanh and
    /// sigmoid within 5 standard errors (estimated from the draws) of the split rule.
    #[test]
    fn strong_pairs_match_monte_carlo() {
        use super::super::input::sample_cov;
        use rand::rngs::StdRng;
        use rand::{RngExt, SeedableRng};
        use rand_distr::StandardNormal;
        let (mu1, s1, mu2, s2) = (3.0, 10.0, -2.1, 7.0);
        let mut rng = StdRng::seed_from_u64(50);
        let n = 2_000_000;
        for rho in [0.999_999, -(1.0 - 1e-12)] {
            let q: f64 = (1.0f64 - rho * rho).max(0.0).sqrt();
            let draws: Vec<(f64, f64)> = (0..n)
                .map(|_| {
                    let (z1, z2): (f64, f64) =
                        (rng.sample(StandardNormal), rng.sample(StandardNormal));
                    (mu1 + s1 * z1, mu2 + s2 * (rho * z1 + q * z2))
                })
                .collect();
            for act in [Activation::Tanh, Activation::Sigmoid] {
                let (xs, ys): (Vec<f64>, Vec<f64>) = draws
                    .iter()
                    .map(|&(x, y)| (act.eval(x), act.eval(y)))
                    .unzip();
                let (cov, se) = sample_cov(&xs, &ys);
                let (ui, _) = Unit::with_variance(act, mu1, s1);
                let (uj, _) = Unit::with_variance(act, mu2, s2);
                let want = pair_cov(act, ui, uj, rho).unwrap().0;
                assert!(
                    (cov - want).abs() <= 5.0 * se,
                    "{act} ρ = {rho}: {cov} ± {se} vs {want}"
                );
            }
        }
    }

    /// The conditional means on one lattice (`split_lattice::lattice_sum`, spl52) against one
    /// trapezoidal or window rule per node ([`Conditional`], the rule before), tanh and sigmoid,
    /// t from 10⁻² to 3 (η from 0.70 to 0.04), 301 nodes b over ±30 (beyond φ's window on both
    /// sides) with weights of both signs, the lattice on every instruction set (AVX-512's 8 lanes,
    /// AVX2's 4, scalar 1: the powers' products differ, perf57): the two sums within
    /// 4·10⁻¹⁵·Σ|W|. Both rules are within 10⁻¹⁷ of each g (their ε); the lattice's weights
    /// carry a few u·(1 + 0.8/η) of rounding from their powers (`lattice_sum`; r's error e
    /// times Σ|m||wₘ| ≈ 0.8/η, ≲ u·20 at η = 0.04 where e ≲ u, the lane exp's typical error), and
    /// the sums of each g about as much again (a few u·Σ|wₘφ| in practice, |φ| ≤ 1; measured max
    /// 7.7·10⁻¹⁷, BENCHMARKS spl52).
    #[test]
    fn the_lattice_matches_one_rule_per_node() {
        let mut worst: f64 = 0.0;
        for act in [Activation::Tanh, Activation::Sigmoid] {
            let c = feature_half_width(act);
            for t in [0.01, 0.1, 0.5, 1.0, 3.0] {
                let Some(trap) = trapezoid(act, t) else {
                    panic!("{act} t = {t}: no trapezoid");
                };
                let nodes: Vec<(f64, f64)> = (0..301)
                    .map(|k| {
                        let b = -30.0 + 0.2 * k as f64 + 0.013 * (k % 7) as f64;
                        (
                            b,
                            (1.0 + 0.5 * (k as f64).sin()) * if k % 3 == 0 { -1.0 } else { 1.0 },
                        )
                    })
                    .collect();
                let mass: f64 = nodes.iter().map(|n| n.1.abs()).sum();
                let m = 0.125;
                let lattice = |isa| {
                    let rule = (t, trap.eta, trap.half);
                    let mut buf = LatticeBuf::default();
                    lattice_sum(act, &nodes, rule, m, (usize::MAX, isa), &mut buf)
                        .unwrap()
                        .0
                };
                // One rule per node: the outer nodes as z of a unit with b = z.
                let uj = Unit { mu: 0.0, s: 1.0, m };
                let limit = Limit::of(act).unwrap();
                let (want, _) = Isa::Dispatch.run(
                    pulp::Arch::new(),
                    Conditional {
                        act,
                        limit,
                        c,
                        outer: &nodes,
                        uj,
                        rho: 1.0,
                        t,
                        trap: Some(&trap),
                    },
                );
                // Every instruction set: the lane count sets the powers' products (`lattice_sum`).
                for isa in [Isa::Dispatch, Isa::Avx2, Isa::Scalar] {
                    let got = lattice(isa);
                    let err = (got - want).abs() / mass;
                    worst = worst.max(err);
                    assert!(
                        err <= 4e-15,
                        "{act} t = {t} {isa:?}: {got:e} vs {want:e} ({err:.1e} of Σ|W|)"
                    );
                }
            }
        }
        eprintln!("lattice vs one rule per node: max |Δ|/Σ|W| = {worst:.1e}");
    }

    /// The split rule with its lattice (spl52) against the 2-D quadrature reference
    /// (`quadrature::pair_cov_fallback`) at s = 1 … 64 (the partner at 0.9 s, means 0.3 s and
    /// −0.18 s) and |ρ| from 0.9 to 1 − 10⁻¹², both signs, tanh and sigmoid: within 10⁻¹² of
    /// √(VarᵢVarⱼ), the split rule's tolerance in the tests above (the lattice adds ≤ 2·10⁻¹⁵
    /// of rounding to each g, times E|ψ(hᵢ)| ≤ 1: below 10⁻¹⁴ of √(VarᵢVarⱼ) for these units,
    /// Var ≥ 0.05). Most of these pairs take the lattice (t = 0.9s√(1 − ρ²) ≤ 3.4).
    #[test]
    fn lattice_pairs_match_the_2d_rule() {
        let mut worst: f64 = 0.0;
        let mut lattice = 0;
        for act in [Activation::Tanh, Activation::Sigmoid] {
            for s in [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0] {
                let (ui, var_i) = Unit::with_variance(act, 0.3 * s, s);
                let (uj, var_j) = Unit::with_variance(act, -0.2 * 0.9 * s, 0.9 * s);
                for r in [0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0 - 1e-8, 1.0 - 1e-12] {
                    for rho in [r, -r] {
                        let want = reference_fallback(act, ui, uj, rho).0;
                        let (got, _) = pair_cov(act, ui, uj, rho).unwrap();
                        let err = (got - want).abs() / (var_i * var_j).sqrt();
                        worst = worst.max(err);
                        assert!(
                            err <= 1e-12,
                            "{act} s = {s}, ρ = {rho}: {got:e} vs {want:e} ({err:.1e})"
                        );
                        let t = uj.s * ((1.0 - rho) * (1.0 + rho)).sqrt();
                        lattice += usize::from(trapezoid(act, t).is_some());
                    }
                }
            }
        }
        assert!(lattice >= 100, "only {lattice} pairs with a trapezoid");
        eprintln!("lattice pairs: max |ΔC|/√(VarᵢVarⱼ) = {worst:.1e}");
    }

    /// The rule declines where it has no limit (GELU: its own closed form).
    #[test]
    fn split_rule_declines_gelu() {
        let u = Unit {
            mu: 0.0,
            s: 2.0,
            m: 0.0,
        };
        assert!(pair_cov(Activation::Gelu, u, u, 0.9).is_none());
    }
}
