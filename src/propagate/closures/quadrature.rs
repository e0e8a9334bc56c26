//! Reference closure for any φ by Gaussian quadrature: 1-D for means and variances, 2-D per
//! pair for covariances (DESIGN.md §3, "reference 2-D Gauss–Hermite quadrature"; here a
//! composite Gauss–Legendre rule against the Gaussian weight, which resolves kinks exactly).

use rayon::prelude::*;

use super::edgeworth::{corrected, Fallbacks};
use super::input::{correlation, reset_output, units};
use super::quadrature_terms::QuadratureTerms;
use super::rules::{
    for_each_normal_node, for_each_panel, normal_expect, panel_count, Window, PANEL_POINTS,
};
use super::{Closure, Corrections, Work};
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
pub(crate) fn half_range(a: f64) -> f64 {
    HALF_RANGE + a.abs().min(30.0)
}
/// Panel width, in units of the pre-activation h: panels resolve φ on this scale whatever s is.
const PANEL_H: f64 = 0.5;

/// Where φ has a kink (relu and leaky relu at 0), so that rules can split there.
pub(crate) fn kink(act: Activation) -> Option<f64> {
    match act {
        Activation::Relu | Activation::LeakyRelu { .. } => Some(0.0),
        _ => None,
    }
}

/// Panel width in z for a function of μ + scale·z.
#[inline]
pub(crate) fn width(scale: f64) -> f64 {
    PANEL_H / scale.max(1.0)
}

/// Above this scale of h per unit of z the rules stop narrowing every panel as PANEL_H/scale
/// (whose count grows with the scale: 6·10⁸ nodes at s = 10⁶) and narrow only the window where
/// φ has features ([`feature_half_width`]).
pub(super) const SPLIT_ABOVE: f64 = 8.0;
/// The split threshold of [`pair_cov_fallback`]: windows from scale 1 on, where the windowed
/// rule's panels (2 in h inside the window, 2 in z outside) are no wider than the single-width
/// rule's in z, so the error analysis of [`SPLIT_PANEL`] holds unchanged.
const FALLBACK_SPLIT_ABOVE: f64 = 1.0;

/// Half-width c of the stretch |h| ≤ c outside which φ equals a polynomial of degree ≤ 1 to
/// 10⁻¹⁷ (absolute): tanh 20 (1 − tanh|h| ≤ 2e^{−2|h|}), sigmoid 40 (e^{−|h|}), erf 6
/// (erfc 6 = 2·10⁻¹⁷), GELU 9 (|h|Φ(−|h|) ≤ φ(9) = 10⁻¹⁸). Linear and quadratic are
/// polynomials and relu/leaky relu one on each side of its kink (a break of the rule): 0.
pub(super) fn feature_half_width(act: Activation) -> f64 {
    match act {
        Activation::Tanh => 20.0,
        Activation::Sigmoid => 40.0,
        Activation::Erf => 6.0,
        Activation::Gelu => 9.0,
        // SiLU h·σ(h) = h − |h|σ(−|h|) or |h|σ(−|h|) beyond: 44e⁻⁴⁴ = 3·10⁻¹⁸; softplus
        // log(1 + eʰ) = h + log(1 + e⁻ʰ) or log(1 + eʰ): e⁻⁴⁰ = 4·10⁻¹⁸.
        Activation::Silu => 44.0,
        Activation::Softplus => 40.0,
        Activation::Linear
        | Activation::Quadratic { .. }
        | Activation::Relu
        | Activation::LeakyRelu { .. } => 0.0,
    }
}

/// Panel width of the windowed rules (s > 8), in z outside the windows and in h inside. The
/// 16-point Gauss–Legendre error on a panel of width w is w³³(16!)⁴/(33·(32!)³)·max|f⁽³²⁾|
/// (Davis–Rabinowitz 2.7.12): for the Gaussian weight times a polynomial of degree ≤ 1
/// (|f⁽³²⁾| ≲ 1.1√(32!)) that is 5·10⁻²⁸ at w = 2; inside the window, φ analytic in the strip
/// |Im h| < π/2 (tanh's poles; sigmoid's at π, erf and GELU entire) converges like
/// ρ⁻³² with the Bernstein ρ = π/2 + √(π²/4 + 1) = 3.4 at w = 2: ~10⁻¹⁷.
pub(super) const SPLIT_PANEL: f64 = 2.0;

/// The panel width and window of a rule for f(z) = g(μ + scale·z), g varying on unit scale
/// within |h| ≤ c and (to 10⁻¹⁷) polynomial of degree ≤ 1 beyond:
/// - scale ≤ `split_above` ([`SPLIT_ABOVE`], or [`FALLBACK_SPLIT_ABOVE`] for the series'
///   fallback pairs): panels PANEL_H/max(1, scale) wide everywhere (no window);
/// - above: panels [`SPLIT_PANEL`] wide in z (outside the window f is the Gaussian weight times
///   a polynomial of degree ≤ 1), and SPLIT_PANEL/scale inside the window |μ + scale·z| ≤ c.
///   The node count is then at most 16(2L/2 + 2c/2 + 4) whatever the scale (≤ 1,344 for
///   L = 39 and c = 40) and the error that of the panels (above) plus the 10⁻¹⁷ of the
///   polynomial limit.
pub(super) fn rule_for(c: f64, mu: f64, scale: f64, split_above: f64) -> (f64, Option<Window>) {
    if scale <= split_above {
        return (width(scale), None);
    }
    let window = (c > 0.0).then(|| Window {
        lo: (-c - mu) / scale,
        hi: (c - mu) / scale,
        width: SPLIT_PANEL / scale,
    });
    (SPLIT_PANEL, window)
}

/// E\[φ(h)\] and Var φ(h) for h ~ N(μ, s²): E\[f\] = ∫ f(μ + s z) φ(z) dz by the composite rule
/// (split at the kink; for s > 8 panels of unit scale outside φ's feature window, `rule_for`),
/// the variance as the centred second moment. s = 0 gives (φ(μ), 0).
pub fn moments_1d(act: Activation, mu: f64, s: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (act.eval(mu), 0.0);
    }
    let brk = kink(act).map(|k| (k - mu) / s);
    let breaks = brk.as_slice();
    let range = half_range(mu / s);
    let (w, window) = rule_for(feature_half_width(act), mu, s, SPLIT_ABOVE);
    // φ once per node: the two sums below are the two `normal_expect` passes of the same rule.
    let mut nodes = Vec::new();
    for_each_normal_node(breaks, w, window.as_slice(), range, |z, w| {
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

#[cfg(test)]
impl Unit {
    /// The unit N(μ, s²) of `act` with its mean from [`moments_1d`], and Var φ beside it.
    pub(crate) fn with_variance(act: Activation, mu: f64, s: f64) -> (Unit, f64) {
        let (m, var) = moments_1d(act, mu, s);
        (Unit { mu, s, m }, var)
    }
}

/// The outer rule over z₁ of a pair (panel width, windows) with hᵢ ~ N(μᵢ, sᵢ²), μⱼ,
/// sq = sⱼq and sr = sⱼρ, c the half-width of φ's feature window and `split_above` the
/// threshold of [`rule_for`] ([`pair_cov_counted`] explains it).
fn outer_rule(
    c: f64,
    (mu_i, s_i): (f64, f64),
    mu_j: f64,
    (sq, sr): (f64, f64),
    split_above: f64,
) -> (f64, Vec<Window>) {
    if s_i.max(sr.abs()) <= split_above {
        (width(s_i.max(sr.abs())), Vec::new())
    } else {
        // φ(hᵢ)'s own rule: one width up to sᵢ = split_above, else unit panels and its window.
        let (wi, window_i) = rule_for(c, mu_i, s_i, split_above);
        let mut windows = Vec::with_capacity(2);
        windows.extend(window_i);
        if sr.abs() > 1.0 {
            // g's window |μⱼ + sⱼρz₁| ≤ c + 9sⱼq, resolved on its scale max(1, sⱼq).
            let reach = c + 9.0 * sq;
            let (a, b) = ((-reach - mu_j) / sr, (reach - mu_j) / sr);
            windows.push(Window {
                lo: a.min(b),
                hi: a.max(b),
                width: SPLIT_PANEL * sq.max(1.0) / sr.abs(),
            });
        }
        (wi, windows)
    }
}

/// Cov(φ(hᵢ), φ(hⱼ)) for (hᵢ, hⱼ) Gaussian with correlation ρ, by the Cholesky factor of the
/// 2×2 covariance: hᵢ = μᵢ + sᵢz₁, hⱼ = μⱼ + sⱼ(ρz₁ + q z₂), q = √(1 − ρ²), so
/// C = E_{z₁}[(φ(hᵢ) − mᵢ)·(E_{z₂}[φ(hⱼ)] − mⱼ)]. The degenerate factor at q = 0 (ρ = ±1) makes
/// the inner expectation a point evaluation; each 1-D rule splits at the kinks of φ.
pub fn pair_cov(act: Activation, ui: Unit, uj: Unit, rho: f64) -> f64 {
    pair_cov_counted(act, ui, uj, rho).0
}

/// [`pair_cov`] and the number of evaluations of φ it made (its cost). The outer rule over z₁
/// ([`rule_for`]) resolves φ(hᵢ) and g(z₁) = E_{z₂}[φ(hⱼ)], a function of μⱼ + sⱼρz₁ that varies
/// on the scale max(1, sⱼq) within c + 9sⱼq of 0 (beyond, the mass of z₂ that reaches φ's window
/// is < 2Φ(−9) = 2·10⁻¹⁹): when max(sᵢ, sⱼ|ρ|) > 8 each gets its own window, so the count is
/// bounded by ~(3 · 5,500)² whatever the scales (in practice far below: the windows overlap
/// and lie mostly outside ±L).
pub(crate) fn pair_cov_counted(act: Activation, ui: Unit, uj: Unit, rho: f64) -> (f64, usize) {
    pair_cov_split(act, ui, uj, rho, SPLIT_ABOVE)
}

/// [`pair_cov`] with the windows from scale [`FALLBACK_SPLIT_ABOVE`] = 1 on instead of 8: the
/// Hermite series' fallback pairs (wide units, 1 < s ≤ 8, whose series is not settled within
/// its terms), where the single-width rule's PANEL_H/s panels over the whole range cost up to
/// 2·10⁷ evaluations of φ per pair (tanh, s ≈ 7, |μ|/s ≈ 2.7: 5,300 outer × 4,000 inner nodes)
/// and the windowed rule ~10⁴–10⁵. Same error analysis as the windowed rule above s = 8
/// ([`SPLIT_PANEL`]); checked against [`pair_cov`] in the tests.
pub(crate) fn pair_cov_fallback(act: Activation, ui: Unit, uj: Unit, rho: f64) -> (f64, usize) {
    pair_cov_split(act, ui, uj, rho, FALLBACK_SPLIT_ABOVE)
}

/// The 2-D rule of one pair, shared by [`pair_cov_split`], [`pair_evaluations`] and the κ₃/κ₄
/// corrections' rule (`quadrature_terms`): the outer rule over z₁ (breaks at the kinks, panel
/// width, windows, half-range) and what the inner rule over z₂ at each z₁ needs (q, sⱼq, sⱼρ,
/// φ's kink and feature half-width c), for hᵢ = μᵢ + sᵢz₁, hⱼ = μⱼ + sⱼ(ρz₁ + qz₂).
///
/// The outer half-range is `half_range(max(|μᵢ|/sᵢ, |μⱼ|/sⱼ))`: the mass of a function of hⱼ
/// far from its bulk (relu far below its kink) lies at z₁ ≈ ρ|μⱼ|/sⱼ ≤ |μⱼ|/sⱼ.
pub(super) struct PairPlan {
    pub(super) q: f64,
    pub(super) sq: f64,
    sr: f64,
    mu_j: f64,
    kink: Option<f64>,
    c: f64,
    split_above: f64,
    pub(super) outer: Vec<f64>,
    pub(super) outer_w: f64,
    pub(super) windows: Vec<Window>,
    pub(super) range: f64,
}

/// The inner rule over z₂ at one outer node: its break at the kink, panel width, window and
/// half-range.
pub(super) struct InnerRule {
    pub(super) brk: Option<f64>,
    pub(super) width: f64,
    pub(super) window: Option<Window>,
    pub(super) range: f64,
}

impl InnerRule {
    /// The rule's nodes: its panels ([`panel_count`]) × [`PANEL_POINTS`].
    pub(super) fn nodes(&self) -> usize {
        let window = self.window.as_slice();
        panel_count(self.brk.as_slice(), self.width, window, self.range) * PANEL_POINTS
    }
}

impl PairPlan {
    /// The plan of units (μᵢ, sᵢ) and (μⱼ, sⱼ) at correlation `rho` (clamped to \[−1, 1\]),
    /// with the windows of [`rule_for`] above scale `split_above`.
    pub(super) fn new(
        act: Activation,
        (mu_i, s_i): (f64, f64),
        (mu_j, s_j): (f64, f64),
        rho: f64,
        split_above: f64,
    ) -> PairPlan {
        let rho = rho.clamp(-1.0, 1.0);
        let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
        let kink = kink(act);
        let mut outer = Vec::with_capacity(2);
        if let Some(k) = kink {
            outer.push((k - mu_i) / s_i);
            if rho != 0.0 {
                outer.push((k - mu_j) / (s_j * rho));
            }
        }
        let c = feature_half_width(act);
        let (sq, sr) = (s_j * q, s_j * rho);
        let (outer_w, windows) = outer_rule(c, (mu_i, s_i), mu_j, (sq, sr), split_above);
        let range = half_range((mu_i / s_i).abs().max((mu_j / s_j).abs()));
        PairPlan {
            q,
            sq,
            sr,
            mu_j,
            kink,
            c,
            split_above,
            outer,
            outer_w,
            windows,
            range,
        }
    }

    /// The inner rule's centre at z₁: base = μⱼ + sⱼρz₁.
    #[inline]
    pub(super) fn base(&self, z1: f64) -> f64 {
        self.mu_j + self.sr * z1
    }

    /// The inner rule at `base`.
    pub(super) fn inner_rule(&self, base: f64) -> InnerRule {
        let (width, window) = rule_for(self.c, base, self.sq, self.split_above);
        InnerRule {
            brk: self.kink.map(|k| (k - base) / self.sq),
            width,
            window,
            range: half_range(base / self.sq),
        }
    }

    /// The Gaussian integrand's inner expectation g(z₁) = E_{z₂}\[φ(base + sⱼq z₂)\] at
    /// `base`: None where it is one evaluation of φ at base — q = 0 (ρ = ±1), or base outside
    /// g's window, where g is φ's polynomial limit at base, which φ(base) equals to 10⁻¹⁷. (The
    /// corrections may not take that shortcut: their Hermite weights depend on z₂.)
    fn gaussian_inner(&self, base: f64) -> Option<InnerRule> {
        let split = !self.windows.is_empty();
        let outside = split && self.c > 0.0 && base.abs() > self.c + 9.0 * self.sq;
        (!outside && self.q > 0.0).then(|| self.inner_rule(base))
    }

    /// The evaluations of a rule that makes `per_node(base)` of them at each outer node, counted
    /// by panels: each outer panel's [`PANEL_POINTS`] nodes at its midpoint's base. The inner
    /// rule changes with z₁ only through its window, range and whether it is a point, so this is
    /// the count to within the panels a window edge moves across.
    pub(super) fn count(&self, per_node: impl Fn(f64) -> usize) -> usize {
        let mut n = 0;
        for_each_panel(
            &self.outer,
            self.outer_w,
            &self.windows,
            self.range,
            |mid, _| {
                n += PANEL_POINTS * per_node(self.base(mid));
            },
        );
        n
    }
}

/// [`pair_cov_counted`] with the split threshold `split_above` of [`rule_for`].
fn pair_cov_split(act: Activation, ui: Unit, uj: Unit, rho: f64, split_above: f64) -> (f64, usize) {
    if ui.s <= 0.0 || uj.s <= 0.0 {
        return (0.0, 0);
    }
    let plan = PairPlan::new(act, (ui.mu, ui.s), (uj.mu, uj.s), rho, split_above);
    let mut evals = 0;
    let cov = normal_expect(&plan.outer, plan.outer_w, &plan.windows, plan.range, |z1| {
        let base = plan.base(z1);
        let g = match plan.gaussian_inner(base) {
            None => {
                evals += 1;
                act.eval(base)
            }
            Some(r) => normal_expect(
                r.brk.as_slice(),
                r.width,
                r.window.as_slice(),
                r.range,
                |z2| {
                    evals += 1;
                    act.eval(base + plan.sq * z2)
                },
            ),
        };
        evals += 1;
        (act.eval(ui.mu + ui.s * z1) - ui.m) * (g - uj.m)
    });
    (cov, evals)
}

/// The evaluations of φ [`pair_cov`] makes for the pair, counted by panels: each outer panel's
/// [`PANEL_POINTS`] nodes times (1 + the inner rule's nodes at the panel's midpoint). The inner
/// rule changes with z₁ only through its window, range and whether it is a point, so this is
/// the count to within the panels a window edge moves across; it costs ~1/(16·16·inner panels)
/// of the integration it counts.
pub(crate) fn pair_evaluations(act: Activation, ui: Unit, uj: Unit, rho: f64) -> usize {
    if ui.s <= 0.0 || uj.s <= 0.0 {
        return 0;
    }
    let plan = PairPlan::new(act, (ui.mu, ui.s), (uj.mu, uj.s), rho, SPLIT_ABOVE);
    plan.count(|base| 1 + plan.gaussian_inner(base).map_or(1, |r| r.nodes()))
}

/// Nanoseconds of one evaluation in [`pair_cov`]'s inner loop (φ, the normal weight's
/// exponential, the sum), rounded from one thread on Intel model 207 (AVX-512), loaded,
/// fifty-seventh session: 20 repetitions of four pairs, s = 0.5 … 20, ρ = 0 … 0.99, measured
/// relu 7–11, sigmoid and SiLU 12–18, tanh 15–20, erf 17–26, softplus 17–20, GELU 31–35 (the
/// counts of [`pair_evaluations`] within 0.5 % of the evaluations made).
fn evaluation_ns(act: Activation) -> f64 {
    match act {
        Activation::Linear
        | Activation::Quadratic { .. }
        | Activation::Relu
        | Activation::LeakyRelu { .. } => 9.0,
        Activation::Sigmoid | Activation::Silu => 14.0,
        Activation::Tanh | Activation::Erf | Activation::Softplus => 19.0,
        Activation::Gelu => 33.0,
    }
}

/// The reference closure of any activation by quadrature: mᵢ, Cᵢᵢ by [`moments_1d`], Cᵢⱼ by
/// [`pair_cov`] (≈ 3·10⁵ evaluations of φ per pair when s ≲ 1: for checks and small layers).
/// κ₃/κ₄ corrections by quadrature of the expanded density (`quadrature_terms`).
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

    /// Every pair's evaluations of φ by `pair_evaluations` (each unit's own rule, a few
    /// hundred nodes, left out), at `evaluation_ns` each: a 500-wide tanh layer of unit
    /// scales, ~3·10⁵ evaluations a pair, is ~4·10¹⁰ evaluations, ~12 min of one thread per
    /// class. The count costs ~1/(16·16·inner panels) of the work it counts.
    fn foreseen_work(&self, input: &Moments) -> Option<Work> {
        let u = units(input, "quadrature").ok()?;
        let act = self.act;
        let unit = |i: usize| Unit {
            mu: u.mu[i],
            s: u.s[i],
            m: 0.0,
        };
        let evaluations: f64 = (0..input.dim())
            .into_par_iter()
            .map(|i| {
                let sig = &input.cov.col_as_slice(i)[..i];
                sig.iter()
                    .enumerate()
                    .map(|(j, &c)| {
                        let rho = correlation(c, u.s[i], u.s[j]);
                        pair_evaluations(act, unit(i), unit(j), rho) as f64
                    })
                    .sum::<f64>()
            })
            .sum();
        Some(Work {
            evaluations,
            cpu_seconds: evaluations * evaluation_ns(act) * 1e-9,
            at_least: false,
        })
    }

    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        let gaussian = |out: &mut Moments| self.gaussian(input, out);
        corrected(input, corrections, out, "quadrature", gaussian, |u| {
            QuadratureTerms::new(self.act, u.mu.clone(), u.s.clone())
        })
    }
}

impl QuadratureClosure {
    /// The Gaussian closure: mᵢ, Cᵢᵢ by [`moments_1d`], Cᵢⱼ by [`pair_cov`].
    fn gaussian(&self, input: &Moments, out: &mut Moments) -> Result<()> {
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

/// Visits the nodes of the 1-D rule used for a unit h = μ + s z of a smooth φ (no kinks) over
/// ±`half_range` ([`rule_for`]: bounded node count whatever s); shared with the Hermite
/// coefficients.
pub(crate) fn for_each_unit_node(
    act: Activation,
    mu: f64,
    s: f64,
    half_range: f64,
    visit: impl FnMut(f64, f64),
) {
    let (w, window) = rule_for(feature_half_width(act), mu, s, SPLIT_ABOVE);
    for_each_normal_node(&[], w, window.as_slice(), half_range, visit);
}

/// How many nodes [`for_each_unit_node`] visits (its panels × the panel rule's points), counted
/// without forming them: the capacity of a caller's node list.
pub(crate) fn unit_node_count(act: Activation, mu: f64, s: f64, half_range: f64) -> usize {
    let (w, window) = rule_for(feature_half_width(act), mu, s, SPLIT_ABOVE);
    panel_count(&[], w, window.as_slice(), half_range) * PANEL_POINTS
}

/// The panel width and feature window of [`for_each_unit_node`]'s rule, for callers that
/// form its nodes without the normal density's weight (`rules::for_each_node`) and apply the
/// weight themselves (on SIMD lanes).
pub(crate) fn unit_rule(act: Activation, mu: f64, s: f64) -> (f64, Option<Window>) {
    rule_for(feature_half_width(act), mu, s, SPLIT_ABOVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMOOTH: [Activation; 4] = [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Erf,
        Activation::Gelu,
    ];

    /// Nodes of the unit rule for (μ, s) over ±`range`.
    fn unit_nodes(act: Activation, mu: f64, s: f64, range: f64) -> usize {
        let mut n = 0;
        for_each_unit_node(act, mu, s, range, |_, _| n += 1);
        n
    }

    /// [`moments_1d`] by the single-width rule PANEL_H/max(1, s) everywhere (the rule before
    /// the windows; its cost grows as s): the reference for the windowed one.
    fn moments_fine(act: Activation, mu: f64, s: f64) -> (f64, f64) {
        let mut nodes = Vec::new();
        for_each_normal_node(&[], width(s), &[], half_range(mu / s), |z, w| {
            nodes.push((w, act.eval(mu + s * z)))
        });
        let m = nodes.iter().fold(0.0, |acc, (w, f)| acc + w * f);
        let var = nodes
            .iter()
            .fold(0.0, |acc, (w, f)| acc + w * (f - m) * (f - m));
        (m, var)
    }

    /// Whatever the scale (s = 10⁻¹² … 10¹²) and mean, a unit's rule over ±L has at most
    /// 16·(32L + 4) nodes (the single-width rule at its widest, s = 8), and beyond s = 8 at most
    /// 16·(L + c + 6) (c = 40 the widest feature window; [`SPLIT_PANEL`]-wide panels); a pair
    /// at most its outer rule's count times (the inner rule's + 1), with L ≤ 39 in both.
    /// Before the windows: 64·L·s per rule (10⁹ nodes at s = 10⁶).
    #[test]
    fn windowed_rules_have_bounded_cost() {
        let single = |range: f64| 16 * (32 * range as usize + 4);
        let windowed = |range: f64| 16 * (range as usize + 40 + 6);
        for act in SMOOTH {
            for s in [1e-12, 1.0, 8.0, 9.0, 1e2, 1e4, 1e6, 1e12] {
                let bound = |range| {
                    if s > SPLIT_ABOVE {
                        windowed(range)
                    } else {
                        single(range)
                    }
                };
                for mu in [0.0, 0.3 * s, -3.0 * s, 5.0, -1e3] {
                    let n = unit_nodes(act, mu, s, 12.0);
                    assert!(n <= bound(12.0), "{act} μ = {mu:e} s = {s:e}: {n} nodes");
                    let u = Unit::with_variance(act, mu, s).0;
                    // (Pairs at 1 < s ≤ 8, up to 2·10⁷ evaluations each, are left out for time.)
                    for rho in [0.3, 0.99, 1.0, -0.7]
                        .into_iter()
                        .filter(|_| s <= 1.0 || s > 8.0)
                    {
                        let (_, evals) = pair_cov_counted(act, u, u, rho);
                        let pair = single(39.0) * (single(39.0) + 1);
                        assert!(
                            evals <= pair,
                            "{act} s = {s:e} ρ = {rho}: {evals} evaluations"
                        );
                        if s > SPLIT_ABOVE {
                            // Measured: ≤ 2.6·10⁵ (tanh, ρ = 0.9, s = 10²…10⁶).
                            let bound = windowed(39.0) * 3 * (windowed(39.0) + 1);
                            assert!(evals <= bound, "{act} s = {s:e} ρ = {rho}: {evals}");
                        }
                    }
                }
            }
        }
    }

    /// The windowed rule (s > 8) against the single-width rule at s = 9 … 300: mean and
    /// standard deviation agree to 10⁻¹³ of the output's scale |m| + √Var — the single-width
    /// rule's own rounding over its ~10⁵ nodes: at μ = 0, s = 300 its tanh variance is 4.6·10⁻¹⁴
    /// off the 30-digit value 0.997340396949683985 (mpmath), the windowed one 3·10⁻¹⁶, checked
    /// here to 4ε.
    #[test]
    fn windowed_rules_match_the_single_width_rule() {
        let (_, v) = moments_1d(Activation::Tanh, 0.0, 300.0);
        assert!(
            (v - 0.997_340_396_949_684).abs() <= 4.0 * f64::EPSILON,
            "{v}"
        );
        for act in SMOOTH {
            for s in [9.0, 30.0, 300.0] {
                for mu in [0.0, 0.7 * s, -2.5 * s, 3.0] {
                    let (m, v) = moments_1d(act, mu, s);
                    let (mf, vf) = moments_fine(act, mu, s);
                    let scale = mf.abs() + vf.sqrt();
                    assert!(
                        (m - mf).abs() <= 1e-13 * scale
                            && (v.sqrt() - vf.sqrt()).abs() <= 1e-13 * scale,
                        "{act} μ = {mu} s = {s}: ({m}, {v}) vs ({mf}, {vf})"
                    );
                }
            }
        }
    }

    /// The Hermite series' fallback rule (windows from s = 1 on, [`pair_cov_fallback`]) against
    /// the reference [`pair_cov`] (windows above s = 8) at 1 < s ≤ 8, where the two differ:
    /// every covariance within 10⁻¹² of √(VarᵢVarⱼ) (measured: ≤ 1.1·10⁻¹⁵), with at most a
    /// third of its evaluations of φ and at most 10⁶ (measured: tanh at s ≈ 7 2.2·10⁵ against
    /// 1.7–2.1·10⁷, sigmoid at s ≤ 2 7.5·10⁵ against 3.0·10⁶). The cases include three of the
    /// pairs that fell back in `closure_ratio 1024 1 1 strong 16` (tanh: 32 pairs, 6.9·10⁸
    /// evaluations in all).
    #[test]
    fn fallback_rule_matches_the_reference_pairs() {
        let cases = [
            (Activation::Tanh, (2.740_5, 6.202), (-19.150, 7.009), -0.747),
            (Activation::Tanh, (-0.990, 7.185), (-10.477, 8.326), -0.764),
            (Activation::Tanh, (-2.765, 7.9), (-5.427, 7.5), -0.94),
            (Activation::Silu, (-18.1, 6.0), (-33.0, 6.2), -0.856),
            (Activation::Sigmoid, (3.0, 1.5), (-1.0, 2.0), 0.99),
            (Activation::Softplus, (-5.0, 4.0), (2.0, 3.0), 0.6),
            (Activation::Erf, (0.5, 2.5), (-4.0, 5.0), -0.3),
            (Activation::Gelu, (1.0, 3.0), (-2.0, 1.2), 0.9),
        ];
        for (act, (mi, si), (mj, sj), rho) in cases {
            let (ui, var_i) = Unit::with_variance(act, mi, si);
            let (uj, var_j) = Unit::with_variance(act, mj, sj);
            let (want, ref_evals) = pair_cov_counted(act, ui, uj, rho);
            let (got, evals) = pair_cov_fallback(act, ui, uj, rho);
            let scale = (var_i * var_j).sqrt();
            assert!(
                (got - want).abs() <= 1e-12 * scale,
                "{act} ({mi}, {si}) ({mj}, {sj}) ρ = {rho}: {got:e} vs {want:e} (scale {scale:e})"
            );
            assert!(
                3 * evals <= ref_evals && evals <= 1_000_000,
                "{act} ({mi}, {si}) ({mj}, {sj}): {evals} vs {ref_evals} evaluations"
            );
        }
    }

    /// [`pair_cov`] is symmetric in its two units: Cov(φ(hᵢ), φ(hⱼ)) with the roles of i (the
    /// outer variable z₁) and j (the inner one) swapped agrees to 10⁻¹² of itself (both rules'
    /// errors are ≤ 10⁻¹⁷ of the integrand's scale, which here is the covariance's own: mⱼ's
    /// share of the integrand sums to zero with φ(hᵢ) − mᵢ; no case's covariance is near a zero
    /// crossing; measured ≤ 10⁻¹⁴ of it). Relative to √(VarᵢVarⱼ) the relu cases below are
    /// ~10⁻⁴³, so only this relative test sees them. The cases with j far below relu's
    /// kink (or on a smooth φ's far side) need the outer range widened by |μⱼ|/sⱼ: the mass of
    /// φ(hⱼ) − mⱼ lies at z₁ ≈ ρ|μⱼ|/sⱼ, beyond ±9 at μⱼ/sⱼ = −20. Up to the fifty-eighth
    /// session the range took μⱼ/sⱼ without its absolute value and lost that mass: relu
    /// (0, 1) × (−20, 1) at ρ = 0.99 gave 2.0·10⁻¹⁰⁶ for 2.67·10⁻⁸⁹, GELU (0.3, 1) × (−18, 1)
    /// at ρ = 0.9 was off by 1.4·10⁻¹² of √(VarᵢVarⱼ).
    #[test]
    fn pair_covariance_is_symmetric_in_its_units() {
        let cases = [
            (Activation::Relu, (0.0, 1.0), (-20.0, 1.0), 0.99),
            (Activation::Relu, (0.5, 2.0), (-24.0, 1.5), 0.9),
            (Activation::Relu, (1.0, 1.0), (-15.0, 1.0), 0.5),
            (Activation::Relu, (-3.0, 1.0), (2.0, 0.5), -0.7),
            (Activation::Sigmoid, (0.0, 1.0), (-30.0, 1.0), 0.95),
            (Activation::Gelu, (0.3, 1.0), (-18.0, 1.0), 0.9),
            (Activation::Tanh, (0.2, 0.5), (-3.0, 2.0), 0.6),
        ];
        for (act, (mi, si), (mj, sj), rho) in cases {
            let (ui, var_i) = Unit::with_variance(act, mi, si);
            let (uj, var_j) = Unit::with_variance(act, mj, sj);
            let ij = pair_cov(act, ui, uj, rho);
            let ji = pair_cov(act, uj, ui, rho);
            let scale = (var_i * var_j).sqrt();
            assert!(
                (ij - ji).abs() <= 1e-12 * ij.abs().max(ji.abs()),
                "{act} ({mi}, {si}) ({mj}, {sj}) ρ = {rho}: {ij:e} vs {ji:e} (√(VarᵢVarⱼ) {scale:e})"
            );
        }
    }

    /// The evaluations counted before the work ([`pair_evaluations`]: each outer panel's 16
    /// nodes at its midpoint's inner rule) against those [`pair_cov_counted`] makes: within 5 %
    /// (the inner rule moves across an outer panel only where a window edge or the range's end
    /// crosses it, at most a few of its ≥ 9 panels; measured ≤ 0.5 %), over kinks (relu), the
    /// windowed rule (s > 8), the point evaluations outside g's window (counted as an inner rule
    /// of 36 panels there, the count is 6 % high at s = 20 and fails), and ρ = 1 (q = 0).
    #[test]
    fn evaluations_are_counted_before_the_work() {
        let pairs = [
            ((0.1, 0.5), (-0.3, 0.8), 0.5),
            ((1.0, 3.0), (-2.0, 2.0), 0.95),
            ((5.0, 20.0), (-3.0, 15.0), 0.99),
            ((0.0, 40.0), (300.0, 40.0), 0.999),
            ((0.5, 2.0), (0.5, 2.0), 1.0),
            ((-4.0, 1e-3), (2.0, 7.0), -0.3),
        ];
        for act in SMOOTH.into_iter().chain([Activation::Relu]) {
            for ((mi, si), (mj, sj), rho) in pairs {
                let (ui, uj) = (
                    Unit {
                        mu: mi,
                        s: si,
                        m: 0.0,
                    },
                    Unit {
                        mu: mj,
                        s: sj,
                        m: 0.0,
                    },
                );
                let made = pair_cov_counted(act, ui, uj, rho).1 as f64;
                let counted = pair_evaluations(act, ui, uj, rho) as f64;
                assert!(
                    (counted - made).abs() <= 0.05 * made,
                    "{act} ({mi}, {si}) ({mj}, {sj}) ρ = {rho}: counted {counted}, made {made}"
                );
            }
        }
    }

    /// The closure's foreseen work is its pairs' counts (every pair once, at its correlation
    /// from Σ) at the activation's cost per evaluation: against the sum of [`pair_cov_counted`]
    /// over the pairs of a 5-unit input within the 5 % of the pair counts.
    #[test]
    fn the_closure_foresees_its_pairs() {
        let n = 5;
        let s = [0.5, 2.0, 9.0, 1.0, 30.0];
        let mean = faer::Col::from_fn(n, |i| 0.7 * i as f64 - 1.0);
        let cov = faer::Mat::from_fn(n, n, |i, j| {
            let r = if i == j {
                1.0
            } else {
                0.9f64.powi((i as i32 - j as i32).abs())
            };
            r * s[i] * s[j]
        });
        let input = Moments::gaussian(mean.clone(), cov.clone());
        let act = Activation::Tanh;
        let work = QuadratureClosure::new(act)
            .foreseen_work(&input)
            .expect("counted");
        let mut made = 0.0;
        for i in 0..n {
            for j in 0..i {
                let unit = |k: usize| Unit {
                    mu: mean[k],
                    s: s[k],
                    m: 0.0,
                };
                let rho = cov[(i, j)] / (s[i] * s[j]);
                made += pair_cov_counted(act, unit(i), unit(j), rho).1 as f64;
            }
        }
        assert!(
            (work.evaluations - made).abs() <= 0.05 * made,
            "{work:?} vs {made}"
        );
        assert_eq!(
            work.cpu_seconds,
            work.evaluations * evaluation_ns(act) * 1e-9
        );
    }
}
