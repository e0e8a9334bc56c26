//! Normalised Hermite coefficients of one unit φ(μ + s z), z ~ N(0, 1), for the series closure
//! ([`super::hermite`]; DESIGN.md §3, "Any smooth φ").

use super::fourier_coef;
use super::gauss_hermite;
use super::gelu_coef;
use super::gelu_exact;
use super::input::Isa;
use super::phi_lanes;
use super::quadrature::{for_each_unit_node, half_range, unit_node_count};
use super::wide_moments::moments_wide;
use crate::linalg::gemm_par;
use crate::net::Activation;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};
use pulp::{Simd, WithSimd};
use rayon::prelude::*;
use std::sync::OnceLock;

use crate::simd::load;

/// Integration range for the coefficients: |hₙ(z)|φ(z) ≲ e^{−z²/4} (Cramér), < 10⁻¹⁵ at 12.
const COEFF_RANGE: f64 = 12.0;
/// Largest s·r, and largest |μ|/s, of a unit whose coefficients take a Gauss–Hermite rule in
/// z, r = π/(2d) with d the distance of φ's nearest complex singularity from the real axis
/// (`Rule::for_unit`): the rule's error decays as the series of φ(μ + s z), whose rate is set
/// by d/s. Beyond |μ|/s = [`NARROW_MEAN`] only where the rule resolves φ there
/// ([`narrow_rule_far_out`]).
const NARROW_SCALE: f64 = 1.0;
const NARROW_MEAN: f64 = 6.0;
/// Narrow units whose node sums [`HermiteCoefficients::narrow`] takes side by side.
const UNIT_GROUP: usize = 8;
/// Largest s·r of a unit that takes the 128-point rule (else the 256-point one).
const SMALL_RULE_SCALE: f64 = 0.5;
/// Largest |μ|/s of a wide unit (s·r > [`NARROW_SCALE`]) whose coefficients take the Fourier
/// rule: its factor e^{iau} grows as e^{|a|·|Im u|} off the real axis and slows the rule
/// (measured 10⁻¹¹ of |m| + √Var at |a| = 6); beyond, the composite rule.
const FOURIER_MEAN: f64 = 3.0;
/// Largest |μ|/s of a wide tanh or sigmoid unit whose mean and variance come from the Fourier
/// rule's c₀ and c₁ (`fourier_coef::squared_moments`): beyond, the variance is a difference of
/// nearly equal terms (measured: σ at |μ|/s = 3, s = 3.2, √Var 9·10⁻¹⁴ of |m| + √Var off, against
/// ≤ 1.3·10⁻¹⁴ up to 2.5), and `moments_wide` takes it.
const SQUARED_MEAN: f64 = 2.0;
/// Orders up to which the z-space rules (Gauss–Hermite and composite) are checked
/// (`narrow_rule_matches_the_composite_rule`); a unit on them has cₙ = 0 stored beyond, so its
/// Parseval remainder stays at R([`Z_RULE_ORDER`]), an upper bound of the true one.
pub const Z_RULE_ORDER: usize = 96;

/// Which rule a unit's coefficients take: the composite Gauss–Legendre rule (far-saturated
/// units), the 128- or the 256-point Gauss–Hermite rule (narrow units) or the Fourier rule
/// (wide units, [`fourier_coef`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Composite,
    Hermite128,
    Hermite256,
    Fourier,
}

impl Rule {
    /// The rule for h = μ + s z, with r = π/(2d): d = π/2 for tanh (poles at ±iπ/2), π for the
    /// others (sigmoid, SiLU and softplus: poles or branch points at ±iπ; erf and GELU are
    /// entire: taken as π). Narrow units, s·r ≤ [`NARROW_SCALE`] and |μ| ≤ [`NARROW_MEAN`]·s:
    /// Gauss–Hermite in z, 128 points where s·r ≤ [`SMALL_RULE_SCALE`], else 256. Wide units
    /// with |μ| ≤ [`FOURIER_MEAN`]·s: the Fourier rule. Others: the composite rule, except
    /// narrow units with |μ| > [`NARROW_MEAN`]·s where the Gauss–Hermite rule resolves φ
    /// ([`narrow_rule_far_out`]: where φ levels off or grows linearly, and where it decays as
    /// eʰ): those take the same Gauss–Hermite rule (128 or 256 points) instead of the
    /// composite rule's 64·(9 + min(|μ|/s, 30)) nodes (up to 2 496), measured within
    /// 2.5·10⁻¹⁵ of |m| + √Var of it on every smooth φ at |μ|/s = 6.5 … 30 and 10⁴,
    /// s = 10⁻³ … 2 (`saturated_units_take_the_narrow_rule`), and on the decaying side within
    /// 10⁻¹³ of |m| + √Var of an independent reference where the composite rule was 6·10⁻⁹
    /// off (`decaying_side_matches_the_reference`).
    fn for_unit(act: Activation, mu: f64, s: f64) -> Self {
        let reach = if act == Activation::Tanh { 1.0 } else { 0.5 };
        if s * reach > NARROW_SCALE {
            if fourier_coef::supports(act) && mu.abs() <= FOURIER_MEAN * s {
                return Rule::Fourier;
            }
            return Rule::Composite;
        }
        if mu.abs() > NARROW_MEAN * s && !narrow_rule_far_out(act, mu) {
            return Rule::Composite;
        }
        if s * reach <= SMALL_RULE_SCALE {
            Rule::Hermite128
        } else {
            Rule::Hermite256
        }
    }
}

/// Whether a narrow unit far on one side (|μ| > [`NARROW_MEAN`]·s) takes the Gauss–Hermite
/// rule: where φ levels off at a nonzero value or grows linearly (tanh and erf on both sides;
/// sigmoid, SiLU, softplus and GELU for μ > 0), and where it decays as eʰ (sigmoid, SiLU and
/// softplus for μ < 0: φ(μ + s z)·e^{−z²/2} ∝ e^{−(z − s)²/2}, centred at z = s ≤ 2 inside
/// the rule's nodes). Against an independent reference (`coef_reference`) the Gauss–Hermite
/// rule is within 3·10⁻¹⁵ of |m| + √Var on that side at |μ|/s = 6.5 … 10⁴, s ≤ 2, where the
/// composite rule was up to 6·10⁻⁹ off (its coefficients cut at |z| ≤ 12, since fixed:
/// [`HermiteCoefficients::with_rule`]; EXPERIMENTS.md, gh35). GELU below its bend decays as
/// e^{−h²/2}: its mass sits at z = −μs/(1 + s²), up to 24 at s = 2, |μ|/s = 30, where the
/// 256-point rule was 3·10⁻⁸ off, so it keeps the composite rule (GELU's production path is
/// its closed form, `gelu_coef`). The other activations are not smooth or do not saturate and
/// keep the composite rule too.
fn narrow_rule_far_out(act: Activation, mu: f64) -> bool {
    match act {
        Activation::Tanh
        | Activation::Erf
        | Activation::Sigmoid
        | Activation::Silu
        | Activation::Softplus => true,
        Activation::Gelu => mu > 0.0,
        _ => false,
    }
}

/// Whether φ decays to 0 on the unit's side (sigmoid, SiLU, softplus and GELU for μ < 0):
/// there the unit's |m| + √Var is tiny and the composite rule takes its coefficients over its
/// whole range, not |z| ≤ [`COEFF_RANGE`] ([`HermiteCoefficients::with_rule`]).
pub(crate) fn decays(act: Activation, mu: f64) -> bool {
    matches!(
        act,
        Activation::Sigmoid | Activation::Silu | Activation::Softplus | Activation::Gelu
    ) && mu < 0.0
}

/// hₙ(zₖ), n = 1..[`Z_RULE_ORDER`] (rows) at the nodes zₖ of a Gauss–Hermite rule (columns), by
/// the normalised recurrence hₙ₊₁ = (z hₙ − √n hₙ₋₁)/√(n+1): built once per rule and shared by
/// every later [`HermiteCoefficients::narrow`] (its first K rows), instead of 0.1–0.2 ms of
/// serial square roots twice per closure.
fn hermite_table(z: &[f64]) -> Mat<f64> {
    let mut h = Mat::<f64>::zeros(Z_RULE_ORDER, z.len());
    for (k, &zk) in z.iter().enumerate() {
        let (mut h0, mut h1) = (1.0, zk);
        for n in 0..Z_RULE_ORDER {
            h[(n, k)] = h1;
            let h2 = (zk * h1 - ((n + 1) as f64).sqrt() * h0) / ((n + 2) as f64).sqrt();
            (h0, h1) = (h1, h2);
        }
    }
    h
}

/// Normalised Hermite coefficients of one unit h = μ + s z, z ~ N(0, 1):
/// cₙ = bₙ/√n! = E[φ(μ + s z) Heₙ(z)]/√n!, n = 1..K, with its mean and variance.
/// Mehler's formula gives Cov(φ(hᵢ), φ(hⱼ)) = Σ_{n≥1} ρⁿ cₙ(i) cₙ(j), and Parseval
/// Var φ(h) = Σ_{n≥1} cₙ².
#[derive(Clone, Debug)]
pub struct HermiteCoefficients {
    pub mean: f64,
    pub var: f64,
    /// c₁ … c_K.
    pub c: Vec<f64>,
    /// How many of c₁ … c_K are the unit's: a rule in z gives c₁..c_min(K, 96)
    /// (`Z_RULE_ORDER`) and stores zeros beyond, where the true coefficients need not vanish,
    /// so a series truncated after L > `known` terms misses ρⁿcₙ(i)cₙ(j) for `known` < n ≤ L
    /// as well as the tail: its error is bounded at `known` terms, not at L.
    pub known: usize,
}

/// A unit's mean, variance and known orders (those of its [`HermiteCoefficients`]) without the
/// coefficients: what the series closure's truncation bounds read beside its coefficient table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UnitStats {
    pub mean: f64,
    pub var: f64,
    /// As [`HermiteCoefficients::known`].
    pub known: usize,
}

impl HermiteCoefficients {
    /// The unit's mean, variance and known orders.
    pub fn stats(&self) -> UnitStats {
        UnitStats {
            mean: self.mean,
            var: self.var,
            known: self.known,
        }
    }

    /// Computes c₁..c_K with the normalised recurrence hₙ₊₁ = (z hₙ − √n hₙ₋₁)/√(n+1),
    /// hₙ = Heₙ/√n!, run on SIMD lanes over the nodes of a rule (`CoefficientLanes`), φ
    /// evaluated once per node; mean Σ w φ and variance Σ w (φ − m)² over the same nodes.
    /// Narrow units take a Gauss–Hermite rule of M = 128 or 256 nodes, φ on SIMD lanes
    /// (`phi_lanes::eval_at`) (`Rule::for_unit`;
    /// exact for f·hₙ of degree ≤ 2M − 1: its error is the part of φ(μ + s z)'s series beyond
    /// order 2M − 1 − n, measured ≤ 10⁻¹³·(|m| + √Var) against the composite rule,
    /// `narrow_rule_matches_the_composite_rule`, and on the saturated units that take it,
    /// `saturated_units_take_the_narrow_rule`); the others the composite Gauss–Legendre
    /// rule of the unit (`quadrature::for_each_unit_node`: panels ≤ 0.5/max(1, s) wide up to
    /// s = 8, beyond only inside φ's feature window, so that φ(μ + s z) is resolved at any s by
    /// a bounded number of nodes) over ±max(12, 9 + min(|μ|/s, 30)) (the range of
    /// `quadrature::moments_1d`, widened to 12), the coefficients over |z| ≤ 12 only where φ
    /// does not decay to 0 on the unit's side, over the whole range where it does (`decays`). The
    /// z-space rules give c₁..c_min(K, 96) (`Z_RULE_ORDER`) and zeros beyond. Wide units
    /// (tanh s > 1, the others s > 2; |μ|/s ≤ 3) take mean, variance and c₁ from
    /// `wide_moments::moments_wide` and c₂..c_K from the Fourier rule (`fourier_coef`): both with
    /// a node count that does not grow with s. A deterministic unit (s = 0) has c = 0.
    /// GELU's coefficients take their closed form instead (`gelu`).
    pub fn new(act: Activation, mu: f64, s: f64, order: usize) -> Self {
        if act == Activation::Gelu {
            return Self::gelu(&[mu], &[s], order).remove(0);
        }
        Self::with_rule(act, mu, s, order, Rule::for_unit(act, mu, s))
    }

    /// GELU's units in closed form ([`Self::gelu_table`]), one vector per unit.
    fn gelu(mu: &[f64], s: &[f64], order: usize) -> Vec<Self> {
        const GROUP: usize = gelu_coef::GROUP;
        let terms = order.max(1);
        let mut table = vec![0.0; mu.len().div_ceil(GROUP) * GROUP * terms];
        let stats = Self::gelu_table(mu, s, order, terms, &mut table);
        stats
            .into_iter()
            .enumerate()
            .map(|(j, st)| {
                let at = (j / GROUP) * terms * GROUP + j % GROUP;
                HermiteCoefficients {
                    mean: st.mean,
                    var: st.var,
                    c: (0..order).map(|o| table[at + o * GROUP]).collect(),
                    known: st.known,
                }
            })
            .collect()
    }

    /// GELU's units in closed form (`gelu_coef::group_coefficients`: Gaussian integration by
    /// parts and one normalised Hermite recurrence at t = μ/√(1 + s²) per unit), every
    /// c₁..c_K known (K = `order` ≤ `terms`); mean, variance and c₁ of the random units of each
    /// group of `gelu_coef::GROUP` side by side (`gelu_exact::group_moments`, the variances on
    /// SIMD lanes); a deterministic unit (s = 0 or not finite), and one far on the decaying
    /// side where the closed form cancels (`gelu_coef::beyond_closed_form`), as in
    /// [`Self::with_rule`] (the composite rule over the whole range).
    /// Written in place into `table` (zeroed by the caller), the series closure's layout:
    /// cₒ₊₁(j) at `(j / G)·terms·G + o·G + j % G`, G = `gelu_coef::GROUP` (no vector per unit);
    /// returns each unit's mean, variance and known orders.
    pub(super) fn gelu_table(
        mu: &[f64],
        s: &[f64],
        order: usize,
        terms: usize,
        table: &mut [f64],
    ) -> Vec<UnitStats> {
        const GROUP: usize = gelu_coef::GROUP;
        assert!(order <= terms && table.len() >= mu.len().div_ceil(GROUP) * GROUP * terms);
        let built;
        let rec = match gelu_coef::Recurrence::shared(order) {
            Some(rec) => rec,
            None => {
                built = gelu_coef::Recurrence::new(order);
                &built
            }
        };
        let empty = UnitStats {
            mean: 0.0,
            var: 0.0,
            known: order,
        };
        let mut stats = vec![empty; mu.len()];
        stats
            .par_chunks_mut(GROUP)
            .zip(table.par_chunks_mut(terms * GROUP))
            .zip(mu.par_chunks(GROUP).zip(s.par_chunks(GROUP)))
            .for_each(|((stats, block), (mu, s))| {
                // The random units of the group, compacted: (index, μ, s).
                let (mut at, mut rm, mut rs) = ([0; GROUP], [0.0; GROUP], [0.0; GROUP]);
                let mut count = 0;
                for (k, (&m, &sd)) in mu.iter().zip(s).enumerate() {
                    if sd > 0.0 && sd.is_finite() && !gelu_coef::beyond_closed_form(m, sd) {
                        (at[count], rm[count], rs[count]) = (k, m, sd);
                        count += 1;
                    } else {
                        let unit = Self::with_rule(Activation::Gelu, m, sd, order, Rule::Composite);
                        stats[k] = unit.stats();
                        for (o, &x) in unit.c.iter().enumerate() {
                            block[o * GROUP + k] = x;
                        }
                    }
                }
                let (rm, rs) = (&rm[..count], &rs[..count]);
                let moments = gelu_exact::group_moments(rm, rs);
                let pdf: [f64; GROUP] = std::array::from_fn(|k| moments[k].pdf);
                for (k, m) in moments.iter().take(count).enumerate() {
                    stats[at[k]] = UnitStats {
                        mean: m.mean,
                        var: m.var,
                        known: order,
                    };
                    if order > 0 {
                        block[at[k]] = m.c1;
                    }
                }
                let at = &at[..count];
                gelu_coef::group_coefficients(rm, rs, &pdf[..count], order, rec, |n, cn| {
                    let row = &mut block[n * GROUP..(n + 1) * GROUP];
                    for (&a, &x) in at.iter().zip(cn) {
                        row[a] = x;
                    }
                });
            });
        stats
    }

    /// [`Self::new`] of every unit (μᵢ, sᵢ) of a layer, in parallel; GELU's in closed form
    /// (`gelu`), the other activations' units of each shared rule from one matrix
    /// product: the wide units (Fourier rule) by `fourier_coef::fill`, the narrow ones by
    /// `narrow` (one product per Gauss–Hermite rule).
    pub fn for_units(act: Activation, mu: &[f64], s: &[f64], order: usize) -> Vec<Self> {
        if act == Activation::Gelu {
            return Self::gelu(mu, s, order);
        }
        let rules: Vec<Rule> = mu
            .iter()
            .zip(s)
            .map(|(&m, &sd)| Rule::for_unit(act, m, sd))
            .collect();
        let mut out: Vec<Option<Self>> = vec![None; mu.len()];
        for rule in [Rule::Fourier, Rule::Hermite128, Rule::Hermite256] {
            let group: Vec<usize> = (0..mu.len())
                .filter(|&i| rules[i] == rule && s[i] > 0.0 && s[i].is_finite())
                .collect();
            let pick = |v: &[f64]| group.iter().map(|&i| v[i]).collect::<Vec<f64>>();
            let (gm, gs) = (pick(mu), pick(s));
            let done = match rule {
                Rule::Fourier => Self::fourier(act, &gm, &gs, order),
                _ => Self::narrow(act, rule == Rule::Hermite256, &gm, &gs, order),
            };
            for (&i, c) in group.iter().zip(done) {
                out[i] = Some(c);
            }
        }
        out.par_iter_mut().enumerate().for_each(|(i, c)| {
            if c.is_none() {
                *c = Some(Self::with_rule(act, mu[i], s[i], order, rules[i]));
            }
        });
        out.into_iter().flatten().collect()
    }

    /// [`Self::for_units`] at K = `order` from coefficients already computed to a depth ≥ K
    /// (`earlier`, by unit: the series closure's probes), bit for bit, where every unit's are
    /// its own truncation: a deterministic unit (s = 0 or not finite) and a unit on the
    /// composite rule, whose c₁..c_K `CoefficientLanes` sums order by order over nodes that do
    /// not depend on the depth, and whose mean and variance do not depend on it at all. None
    /// (compute them) where a unit has none, has fewer than K, or takes another rule (the
    /// Gauss–Hermite rules' matrix product and the Fourier rule are not checked to give the
    /// same bits at another depth) or the activation is GELU (its table is written in place).
    /// On a narrow layer of near-deterministic units (|μ| > 6s: the composite rule's ~2,500
    /// nodes per unit) the probes are every unit, and computing them twice was half the cost
    /// of the closure.
    pub(super) fn reused(
        act: Activation,
        mu: &[f64],
        s: &[f64],
        order: usize,
        earlier: &[Option<Self>],
    ) -> Option<Vec<Self>> {
        if act == Activation::Gelu || earlier.len() != mu.len() {
            return None;
        }
        (0..mu.len())
            .map(|i| {
                if !(s[i] > 0.0 && s[i].is_finite()) {
                    // Not a probe: its closed form, as `for_units` takes it.
                    return Some(Self::with_rule(act, mu[i], s[i], order, Rule::Composite));
                }
                let c = earlier[i].as_ref()?;
                let own = Rule::for_unit(act, mu[i], s[i]) == Rule::Composite;
                (own && c.c.len() >= order).then(|| HermiteCoefficients {
                    mean: c.mean,
                    var: c.var,
                    c: c.c[..order].to_vec(),
                    known: c.known.min(order),
                })
            })
            .collect()
    }

    /// Narrow units on one Gauss–Hermite rule (128 or 256 nodes zₖ, weights wₖ): φ on SIMD lanes
    /// (`phi_lanes::eval_at`), m = Σ wφ and Var = Σ w(φ − m)² per unit, then c₁..c_min(K, 96)
    /// of all of them by one matrix product cₙ(j) = Σₖ hₙ(zₖ)·wₖ(φⱼ(zₖ) − mⱼ), the table hₙ(zₖ)
    /// shared ([`hermite_table`], built once per rule).
    fn narrow(act: Activation, big: bool, mu: &[f64], s: &[f64], order: usize) -> Vec<Self> {
        let (z, w) = gauss_hermite::rule(big);
        let m = z.len();
        let units = mu.len();
        let mut f = vec![0.0; m * units];
        // Groups of UNIT_GROUP units: φ at the nodes, then the sums Σ wφ and Σ w(φ − m)² of the
        // group's units side by side, node by node (each unit's sum in node order, as one unit
        // alone would take it: the same bits, without waiting on one addition's latency per
        // node).
        let moments: Vec<(f64, f64)> = f
            .par_chunks_mut(m * UNIT_GROUP)
            .enumerate()
            .flat_map_iter(|(g, fg)| {
                let first = g * UNIT_GROUP;
                for (j, fj) in fg.chunks_mut(m).enumerate() {
                    phi_lanes::eval_into(act, mu[first + j], s[first + j], z, fj);
                }
                let group = fg.len() / m;
                let mut mean = [0.0; UNIT_GROUP];
                let mut var = [0.0; UNIT_GROUP];
                for (k, wk) in w.iter().enumerate() {
                    for (j, acc) in mean[..group].iter_mut().enumerate() {
                        *acc += wk * fg[j * m + k];
                    }
                }
                for (k, wk) in w.iter().enumerate() {
                    for (j, acc) in var[..group].iter_mut().enumerate() {
                        let d = fg[j * m + k] - mean[j];
                        *acc += wk * (d * d);
                    }
                }
                for (j, fj) in fg.chunks_mut(m).enumerate() {
                    for (out, w) in fj.iter_mut().zip(w) {
                        *out = w * (*out - mean[j]);
                    }
                }
                (0..group).map(move |j| (mean[j], var[j]))
            })
            .collect();
        let valid = order.min(Z_RULE_ORDER);
        let mut c = Mat::<f64>::zeros(valid, units);
        if valid > 0 && units > 0 {
            static SMALL: OnceLock<Mat<f64>> = OnceLock::new();
            static LARGE: OnceLock<Mat<f64>> = OnceLock::new();
            let h = if big { &LARGE } else { &SMALL }.get_or_init(|| hermite_table(z));
            let f = MatRef::from_column_major_slice(&f, m, units);
            // A small product on this thread alone: waking the pool and clearing every
            // worker's vector state after it (a broadcast) was 37 % of `analyze` on a model of
            // 1 000 tanh layers of width 1 (adv48b's profile), where a layer's product is
            // 96 × 1 × 128.
            let par = gemm_par(valid, units, m);
            matmul(
                c.as_mut(),
                Accum::Replace,
                h.as_ref().subrows(0, valid),
                f,
                1.0,
                par,
            );
            // The GEMM's micro-kernels ran on this thread or the pool's workers
            // (`simd::clear_upper`).
            if matches!(par, Par::Seq) {
                crate::simd::clear_upper();
            } else {
                crate::simd::clear_upper_everywhere();
            }
        }
        moments
            .into_iter()
            .enumerate()
            .map(|(j, (mean, var))| {
                let mut cj = vec![0.0; order];
                for (n, x) in cj.iter_mut().take(valid).enumerate() {
                    *x = c[(n, j)];
                }
                HermiteCoefficients {
                    mean,
                    var,
                    c: cj,
                    known: valid,
                }
            })
            .collect()
    }

    /// Wide units (s > 1): c₂..c_K of all of them by one `fourier_coef::fill`, with mean,
    /// variance and c₁ by `moments_wide`; but for tanh and sigmoid units with |μ|/s ≤
    /// [`SQUARED_MEAN`], c₀..c_K by the fill and mean and variance from c₀ and c₁
    /// (`fourier_coef::squared_moments`), without the second rule.
    fn fourier(act: Activation, mu: &[f64], s: &[f64], order: usize) -> Vec<Self> {
        let Some(moments) = fourier_coef::squared_moments(act) else {
            return Self::fourier_wide(act, mu, s, order);
        };
        let closed: Vec<bool> = mu
            .iter()
            .zip(s)
            .map(|(&m, &sd)| m.abs() <= SQUARED_MEAN * sd)
            .collect();
        let pick = |v: &[f64], want: bool| -> Vec<f64> {
            v.iter()
                .zip(&closed)
                .filter(|&(_, &c)| c == want)
                .map(|(&x, _)| x)
                .collect()
        };
        let (cm, cs) = (pick(mu, true), pick(s, true));
        let mut full = vec![vec![0.0; order.max(1) + 1]; cm.len()];
        let mut rows: Vec<&mut [f64]> = full.iter_mut().map(Vec::as_mut_slice).collect();
        fourier_coef::fill(act, &cm, &cs, 0, &mut rows);
        let mut from_rule = full.into_iter().zip(cs).map(|(all, sd)| {
            let (mean, var) = moments(all[0], all[1], sd);
            let c = all[1..=order].to_vec();
            HermiteCoefficients {
                mean,
                var,
                c,
                known: order,
            }
        });
        let mut wide =
            Self::fourier_wide(act, &pick(mu, false), &pick(s, false), order).into_iter();
        closed
            .iter()
            .filter_map(|&c| if c { from_rule.next() } else { wide.next() })
            .collect()
    }

    /// [`Self::fourier`] by `moments_wide` (GELU: its closed form, `gelu_exact::unit_moments`)
    /// and c₂..c_K by `fourier_coef::fill`.
    fn fourier_wide(act: Activation, mu: &[f64], s: &[f64], order: usize) -> Vec<Self> {
        let mut out: Vec<Self> = mu
            .par_iter()
            .zip(s)
            .map(|(&m, &sd)| {
                let (mean, var, c1) = if act == Activation::Gelu {
                    gelu_exact::unit_moments(m, sd)
                } else {
                    moments_wide(act, m, sd)
                };
                let mut c = vec![0.0; order];
                if let Some(first) = c.first_mut() {
                    *first = c1;
                }
                HermiteCoefficients {
                    mean,
                    var,
                    c,
                    known: order,
                }
            })
            .collect();
        if order > 1 {
            let mut tails: Vec<&mut [f64]> = out.iter_mut().map(|u| &mut u.c[1..]).collect();
            fourier_coef::fill(act, mu, s, 2, &mut tails);
        }
        out
    }

    /// [`Self::new`] with the rule chosen by the caller.
    fn with_rule(act: Activation, mu: f64, s: f64, order: usize, rule: Rule) -> Self {
        if s <= 0.0 || !s.is_finite() {
            return HermiteCoefficients {
                mean: act.eval(mu),
                var: 0.0,
                c: vec![0.0; order],
                known: order,
            };
        }
        match rule {
            Rule::Fourier => return Self::fourier(act, &[mu], &[s], order).remove(0),
            Rule::Hermite128 | Rule::Hermite256 => {
                return Self::narrow(act, rule == Rule::Hermite256, &[mu], &[s], order).remove(0)
            }
            Rule::Composite => {}
        }
        let range = COEFF_RANGE.max(half_range(mu / s));
        let mut nodes = Vec::with_capacity(unit_node_count(act, mu, s, range));
        for_each_unit_node(act, mu, s, range, |z, w| {
            nodes.push((z, w, act.eval(mu + s * z)))
        });
        let mean = nodes.iter().fold(0.0, |acc, (_, w, f)| acc + w * f);
        let var = nodes.iter().fold(0.0, |acc, (_, w, f)| {
            let d = f - mean;
            acc + w * (d * d)
        });
        let mut c = vec![0.0; order];
        let valid = order.min(Z_RULE_ORDER);
        if valid > 0 {
            let (mut z, mut f) = (
                Vec::with_capacity(nodes.len()),
                Vec::with_capacity(nodes.len()),
            );
            // Beyond |z| = 12, |hₙ(z)|φ(z) ≲ e^{−z²/4} (Cramér) is below 10⁻¹⁵ of φ's level,
            // but not of a decaying unit's |m| + √Var, which can be far below φ's level
            // there (sigmoid, s = 2, μ = −12 s: the cut left 2·10⁻⁹ of it, s = 10: 0.25).
            let cut = if decays(act, mu) { range } else { COEFF_RANGE };
            for &(zk, w, fk) in nodes.iter().filter(|(z, _, _)| z.abs() <= cut) {
                z.push(zk);
                f.push(w * (fk - mean));
            }
            Isa::Dispatch.run(
                pulp::Arch::new(),
                CoefficientLanes {
                    z: &z,
                    f: &f,
                    c: &mut c[..valid],
                },
            );
        }
        HermiteCoefficients {
            mean,
            var,
            c,
            known: valid,
        }
    }

    /// Rᵢ(K) = Var φ(hᵢ) − Σ_{n=1..K} cₙ² (Parseval), floored at 0 and raised by 4ε·Var to cover
    /// the rounding of the difference.
    pub fn remainder(&self, k: usize) -> f64 {
        let head: f64 = self.c[..k.min(self.c.len())].iter().map(|c| c * c).sum();
        (self.var - head).max(0.0) + 4.0 * f64::EPSILON * self.var
    }

    /// R(0), R(1), …, R(K) of [`Self::remainder`] for K = `c.len()`, by one running sum.
    pub fn remainders(&self) -> Vec<f64> {
        let floor = 4.0 * f64::EPSILON * self.var;
        let mut out = vec![self.var + floor; self.c.len() + 1];
        let mut head = 0.0;
        for (r, c) in out[1..].iter_mut().zip(&self.c) {
            head += c * c;
            *r = (self.var - head).max(0.0) + floor;
        }
        out
    }

    /// The series truncated after K terms, Σ_{n=1..K} ρⁿ cₙ(i) cₙ(j) (Horner in ρ).
    pub fn series(&self, other: &Self, rho: f64, k: usize) -> f64 {
        let k = k.min(self.c.len()).min(other.c.len());
        (0..k)
            .rev()
            .fold(0.0, |acc, n| acc * rho + self.c[n] * other.c[n])
            * rho
    }

    /// Cauchy–Schwarz bound on the truncation error of [`Self::series`]:
    /// |Σ_{n>m} ρⁿ cₙ(i)cₙ(j)| ≤ |ρ|^{m+1} √(Rᵢ(m) Rⱼ(m)), m = min(K, `known` of both): beyond
    /// a unit's known coefficients the stored zeros are not its own, so the series after K
    /// terms misses every term past m.
    pub fn truncation_bound(&self, other: &Self, rho: f64, k: usize) -> f64 {
        let m = k.min(self.known).min(other.known);
        rho.abs().powi(m as i32 + 1) * (self.remainder(m) * other.remainder(m)).sqrt()
    }
}

/// cₙ += Σₖ fₖ hₙ(zₖ) for n = 1..K (`c.len()` = K) over the quadrature nodes zₖ with weighted
/// values fₖ, the nodes in SIMD lanes: hₙ₊₁ = z·hₙ/√(n+1) − (√n/√(n+1))·hₙ₋₁, one accumulator
/// vector per order, summed across lanes at the end.
struct CoefficientLanes<'a> {
    z: &'a [f64],
    f: &'a [f64],
    c: &'a mut [f64],
}

impl WithSimd for CoefficientLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let k = self.c.len();
        // aₙ = 1/√(n+1), bₙ = √n/√(n+1).
        let a: Vec<f64> = (0..k).map(|n| 1.0 / ((n + 1) as f64).sqrt()).collect();
        let b: Vec<f64> = (0..k)
            .map(|n| (n as f64).sqrt() / ((n + 1) as f64).sqrt())
            .collect();
        let mut acc = vec![simd.splat_f64s(0.0); k];
        for (z, f) in self.z.chunks(S::F64_LANES).zip(self.f.chunks(S::F64_LANES)) {
            let (z, f) = (load(simd, z), load(simd, f));
            let (mut h0, mut h1) = (simd.splat_f64s(1.0), z);
            acc[0] = simd.mul_add_f64s(f, h1, acc[0]);
            for n in 1..k {
                let zh = simd.mul_f64s(z, h1);
                let h2 = simd.negate_mul_add_f64s(
                    simd.splat_f64s(b[n]),
                    h0,
                    simd.mul_f64s(zh, simd.splat_f64s(a[n])),
                );
                acc[n] = simd.mul_add_f64s(f, h2, acc[n]);
                h0 = h1;
                h1 = h2;
            }
        }
        for (c, v) in self.c.iter_mut().zip(acc) {
            *c += simd.reduce_sum_f64s(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::coef_reference;
    use crate::propagate::closures::hermite::DEFAULT_ORDER;

    /// Coefficients computed to a deeper K serve a table of fewer terms only where they are
    /// its own bits: composite-rule units (wide, |μ| > 3s) and deterministic ones read back as
    /// [`HermiteCoefficients::for_units`] at each K bit for bit (mean, variance, known orders,
    /// c₁..c_K), a narrow unit (Gauss–Hermite rule) is not reused. Fails where every rule is
    /// reused (checked).
    #[test]
    fn reused_coefficients_are_the_tables_own() {
        // Wide sigmoid units beyond |μ| = 3s (composite-rule units; narrow ones below the
        // bend take the Gauss–Hermite rule) and a deterministic one.
        let act = Activation::Sigmoid;
        let (mu, s) = ([-30.0, -20.0, 0.7, -80.0], [4.0, 3.0, 0.0, 4.0]);
        let deep = HermiteCoefficients::for_units(act, &mu, &s, 256);
        let earlier: Vec<Option<HermiteCoefficients>> = deep
            .into_iter()
            .zip(s)
            .map(|(c, sd)| (sd > 0.0).then_some(c))
            .collect();
        for k in [1, 7, 96, 200] {
            let got = HermiteCoefficients::reused(act, &mu, &s, k, &earlier).unwrap();
            let want = HermiteCoefficients::for_units(act, &mu, &s, k);
            for (j, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_eq!(g.mean.to_bits(), w.mean.to_bits(), "unit {j} K {k}");
                assert_eq!(g.var.to_bits(), w.var.to_bits(), "unit {j} K {k}");
                assert_eq!(g.known, w.known, "unit {j} K {k}");
                let bits = |c: &[f64]| c.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&g.c), bits(&w.c), "unit {j} K {k}");
            }
        }
        let narrow = HermiteCoefficients::for_units(act, &[0.1], &[0.5], 256);
        let earlier = [Some(narrow[0].clone())];
        assert!(HermiteCoefficients::reused(act, &[0.1], &[0.5], 8, &earlier).is_none());
    }

    /// The narrow units' means and variances, summed 8 units side by side in `narrow`, are
    /// those of each unit alone ([`HermiteCoefficients::new`]), bit for bit: both rules, a
    /// last group of fewer than 8 units.
    #[test]
    fn grouped_node_sums_are_each_units_own() {
        for act in [Activation::Sigmoid, Activation::Tanh] {
            let mu: Vec<f64> = (0..19).map(|j| -2.0 + 0.23 * j as f64).collect();
            let s: Vec<f64> = (0..19).map(|j| 0.05 + 0.1 * j as f64).collect();
            let all = HermiteCoefficients::for_units(act, &mu, &s, 24);
            for (j, got) in all.iter().enumerate() {
                let alone = HermiteCoefficients::new(act, mu[j], s[j], 24);
                assert_eq!(got.mean.to_bits(), alone.mean.to_bits(), "{act} unit {j}");
                assert_eq!(got.var.to_bits(), alone.var.to_bits(), "{act} unit {j}");
            }
        }
    }

    /// The coefficient lanes on every instruction set against the plain scalar recurrence,
    /// node by node in order. Only the summation order differs, so per order n the two sums
    /// of the K·nodes products f·hₙ agree to 2·nodes·ε·Σ|f·hₙ| (each recurrence value also
    /// differs by a few ulps from the reordered constants, inside the same bound).
    #[test]
    fn coefficient_lanes_match_the_scalar_recurrence() {
        let k = DEFAULT_ORDER;
        for (mu, s) in [(0.3, 0.7), (-1.5, 2.5), (4.0, 0.2)] {
            let (mut z, mut f) = (Vec::new(), Vec::new());
            for_each_unit_node(Activation::Tanh, mu, s, COEFF_RANGE, |zk, w| {
                z.push(zk);
                f.push(w * (Activation::Tanh.eval(mu + s * zk) - 0.1));
            });
            let (mut want, mut size) = (vec![0.0; k], vec![0.0; k]);
            for (&zk, &fk) in z.iter().zip(&f) {
                let (mut h0, mut h1) = (1.0, zk);
                for n in 0..k {
                    want[n] += fk * h1;
                    size[n] += (fk * h1).abs();
                    let h2 = (zk * h1 - ((n + 1) as f64).sqrt() * h0) / ((n + 2) as f64).sqrt();
                    (h0, h1) = (h1, h2);
                }
            }
            for isa in [Isa::Dispatch, Isa::Avx2, Isa::Scalar] {
                let mut got = vec![0.0; k];
                isa.run(
                    pulp::Arch::new(),
                    CoefficientLanes {
                        z: &z,
                        f: &f,
                        c: &mut got,
                    },
                );
                for n in 0..k {
                    let tol = 2.0 * z.len() as f64 * f64::EPSILON * size[n];
                    assert!(
                        (got[n] - want[n]).abs() <= tol,
                        "{isa:?} μ = {mu}, s = {s}, c{}: {} vs {} (tol {tol:e})",
                        n + 1,
                        got[n],
                        want[n]
                    );
                }
            }
        }
    }

    /// The smooth activations with a Fourier transform ([`fourier_coef::supports`]).
    const SMOOTH: [Activation; 6] = [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
        Activation::Erf,
    ];

    /// Mean, variance and c₁..c_K of the composite rule over |z| ≤ 12 (no order cap): the
    /// reference for the Fourier rule, valid for s ≤ 8 (single-width panels ≤ 0.5/s, which
    /// resolve h₂₅₆'s oscillation, wavelength ≈ 0.28, with 16 nodes per panel).
    fn composite_reference(act: Activation, mu: f64, s: f64, k: usize) -> HermiteCoefficients {
        composite_reference_over(act, mu, s, k, COEFF_RANGE)
    }

    /// [`composite_reference`] with the coefficients over |z| ≤ `range`.
    fn composite_reference_over(
        act: Activation,
        mu: f64,
        s: f64,
        k: usize,
        range: f64,
    ) -> HermiteCoefficients {
        let mut c = HermiteCoefficients::with_rule(act, mu, s, 0, Rule::Composite);
        let (mut z, mut f) = (Vec::new(), Vec::new());
        for_each_unit_node(act, mu, s, range, |zk, w| {
            z.push(zk);
            f.push(w * (act.eval(mu + s * zk) - c.mean));
        });
        c.c = vec![0.0; k];
        Isa::Scalar.run(
            pulp::Arch::new(),
            CoefficientLanes {
                z: &z,
                f: &f,
                c: &mut c.c,
            },
        );
        c
    }

    /// The Fourier rule of wide units (s·r > 1: tanh s > 1, the others s > 2; |μ|/s ≤ 3)
    /// against the composite rule in z, every smooth φ with a transform, up to s = 8 and
    /// n = 256: mean, standard deviation and every cₙ agree to 10⁻¹³ of the output's scale
    /// |m| + √Var (measured: 6.5·10⁻¹⁵; tanh and sigmoid at |μ|/s ≤ 2 take mean and variance
    /// from c₀ and c₁, `fourier_coef::squared_moments`).
    #[test]
    fn fourier_rule_matches_the_composite_rule() {
        let k = 256;
        let mut worst: f64 = 0.0;
        for act in SMOOTH {
            let least = if act == Activation::Tanh { 1.0 } else { 2.0 };
            for s in [1.05, 1.6, 2.5, 5.0, 8.0]
                .map(|f| f * least)
                .into_iter()
                .filter(|&s| s <= 8.0)
            {
                for a in [0.0, 1.3, -2.0, 2.0, -2.5, 3.0, -3.0] {
                    let rule = Rule::for_unit(act, a * s, s);
                    assert_eq!(rule, Rule::Fourier);
                    let g = HermiteCoefficients::with_rule(act, a * s, s, k, rule);
                    let q = composite_reference(act, a * s, s, k);
                    let scale = q.mean.abs() + q.var.sqrt();
                    let mut err = (g.mean - q.mean)
                        .abs()
                        .max((g.var.sqrt() - q.var.sqrt()).abs());
                    let mut at = 0;
                    for (n, (x, y)) in g.c.iter().zip(&q.c).enumerate() {
                        if (x - y).abs() > err {
                            err = (x - y).abs();
                            at = n + 1;
                        }
                    }
                    worst = worst.max(err / scale);
                    assert!(
                        err <= 1e-13 * scale,
                        "{act} s = {s} a = {a}: {err:e} of {scale:e} at c{at}"
                    );
                }
            }
        }
        println!("Fourier rule vs composite: worst {worst:e} of |m| + √Var");
    }

    /// GELU's closed form (`gelu_coef`, units in groups as `for_units` takes them) against the
    /// composite rule in z, no order cap, valid to s = 8, n = 1..256, narrow to wide units and from far below the bend (|μ|/s = 30,
    /// t = μ/√(1 + s²) down to −30) to the linear side: mean, standard deviation and every cₙ
    /// agree to 10⁻¹³ of the output's scale |m| + √Var or 2ε absolute, the composite rule's own
    /// accuracy (`narrow_rule_matches_the_composite_rule`,
    /// `fourier_rule_matches_the_composite_rule`). The reference's coefficients are taken over
    /// |z| ≤ 20, not 12: below the bend (μ = −6s, s = 8) the cut at 12 left
    /// |f(μ + 12s)|·|hₙ(12)|φ(12) ≲ 48·e^{−36} ≈ 10⁻¹⁴ out, 8·10⁻¹² of that unit's
    /// |m| + √Var ≈ 5·10⁻⁵ (at c₄₀); at 20 the cut is below e^{−100}. Units beyond the closed
    /// form's range (`gelu_coef::beyond_closed_form`) take the composite rule: c₁..c₉₆.
    #[test]
    fn gelu_closed_form_matches_the_composite_rule() {
        let k = 256;
        let mut worst: f64 = 0.0;
        let ratios = [0.0, 1.3, -2.5, 6.0, -6.0, 12.0, -12.0, 30.0, -30.0];
        for s in [1e-13, 1e-3, 0.1, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0] {
            // The row's nine units together: a group of eight and one alone.
            let row = HermiteCoefficients::gelu(&ratios.map(|a| a * s), &[s; 9], k);
            for (a, g) in ratios.into_iter().zip(row) {
                // Units beyond the closed form's range take the composite rule, c₁..c₉₆.
                let beyond = gelu_coef::beyond_closed_form(a * s, s);
                assert_eq!(g.known, if beyond { Z_RULE_ORDER } else { k });
                let q = composite_reference_over(Activation::Gelu, a * s, s, k, 20.0);
                let scale = q.mean.abs() + q.var.sqrt();
                let (mut err, mut at) = (
                    (g.mean - q.mean)
                        .abs()
                        .max((g.var.sqrt() - q.var.sqrt()).abs()),
                    0,
                );
                for (n, (x, y)) in g.c.iter().zip(&q.c).take(g.known).enumerate() {
                    if (x - y).abs() > err {
                        (err, at) = ((x - y).abs(), n + 1);
                    }
                }
                let tol = 1e-13 * scale + 2.0 * f64::EPSILON;
                worst = worst.max(err / tol);
                assert!(err <= tol, "s = {s} a = {a}: {err:e} of {scale:e} at c{at}");
            }
        }
        println!("GELU closed form vs composite: worst {worst:e} of the tolerance");
    }

    /// A deterministic GELU unit (s = 0, or s not finite) inside a group of random ones takes
    /// mean gelu(μ), variance 0 and c = 0, and leaves its neighbours' means and coefficients
    /// those they take alone, bit for bit (the group's recurrences are independent; their
    /// variances share a Genz rule chosen by the group's largest r, `gelu_exact::group_moments`).
    #[test]
    fn gelu_deterministic_unit_in_a_group() {
        let (mu, s) = ([0.3, 1.0, -0.5, 2.0], [0.5, 0.0, 0.7, f64::INFINITY]);
        let all = HermiteCoefficients::gelu(&mu, &s, 24);
        for j in [1, 3] {
            assert_eq!(all[j].mean, Activation::Gelu.eval(mu[j]));
            assert_eq!(all[j].var, 0.0);
            assert!(all[j].c.iter().all(|&c| c == 0.0));
        }
        for j in [0, 2] {
            let alone = HermiteCoefficients::gelu(&mu[j..=j], &s[j..=j], 24).remove(0);
            assert_eq!(all[j].mean.to_bits(), alone.mean.to_bits(), "unit {j}");
            assert_eq!(all[j].c, alone.c, "unit {j}");
        }
    }

    /// GELU's closed form on units wider than the composite reference serves (s = 12, 40)
    /// against the Fourier rule, n = 1..256: within 2·10⁻¹³ of |m| + √Var, the sum of the two
    /// rules' agreements with the composite rule (10⁻¹³ each,
    /// `fourier_rule_matches_the_composite_rule` and the test above).
    #[test]
    fn gelu_closed_form_matches_the_fourier_rule_on_wide_units() {
        let k = 256;
        for s in [12.0, 40.0] {
            for a in [0.0, 1.3, -2.0, 3.0, -3.0] {
                let g = HermiteCoefficients::gelu(&[a * s], &[s], k).remove(0);
                let q =
                    HermiteCoefficients::with_rule(Activation::Gelu, a * s, s, k, Rule::Fourier);
                let scale = q.mean.abs() + q.var.sqrt();
                let err =
                    g.c.iter()
                        .zip(&q.c)
                        .fold((g.mean - q.mean).abs(), |e, (x, y)| e.max((x - y).abs()));
                assert!(
                    err <= 2e-13 * scale,
                    "s = {s} a = {a}: {err:e} of {scale:e}"
                );
            }
        }
    }

    /// The Gauss–Hermite rules of narrow units against the composite rule, every smooth φ,
    /// s·r ≤ 1 (tanh s ≤ 1, the others s ≤ 2), |μ|/s ≤ 6 (at s = 0.7 and 1, tanh takes the
    /// 256-point rule: the 128-point one was 2·10⁻¹² and 3·10⁻⁹ off there): mean, standard
    /// deviation and c₁..c₉₆ agree to 10⁻¹³ of the output's scale |m| + √Var, or to 2ε absolute
    /// (the composite rule's rounding: 1.1·10⁻¹⁶ at GELU and softplus, s = 2, |μ|/s = 6,
    /// where |m| + √Var ≈ 10⁻⁴).
    #[test]
    fn narrow_rule_matches_the_composite_rule() {
        let mut worst: f64 = 0.0;
        for act in SMOOTH {
            let reach = if act == Activation::Tanh { 1.0 } else { 0.5 };
            for s in [1e-13, 1e-3, 0.1, 0.4, 0.7, 1.0, 1.5, 2.0]
                .into_iter()
                .filter(|&s| s * reach <= NARROW_SCALE)
            {
                for a in [0.0, 1.3, -2.5, 6.0, -6.0] {
                    let rule = Rule::for_unit(act, a * s, s);
                    assert_ne!(rule, Rule::Composite);
                    let (err, scale) = against_composite(act, a * s, s, DEFAULT_ORDER, rule);
                    worst = worst.max(err / scale);
                    assert!(
                        err <= 1e-13 * scale + 2.0 * f64::EPSILON,
                        "{act} s = {s} a = {a}: {err:e} of {scale:e}"
                    );
                }
            }
        }
        println!("narrow rule vs composite: worst {worst:e} of |m| + √Var");
    }

    /// [`rule_gap`] of `rule` against the composite rule on the unit (μ, s) to `order`, and the
    /// composite rule's |m| + √Var.
    fn against_composite(act: Activation, mu: f64, s: f64, order: usize, rule: Rule) -> (f64, f64) {
        let g = HermiteCoefficients::with_rule(act, mu, s, order, rule);
        let q = HermiteCoefficients::with_rule(act, mu, s, order, Rule::Composite);
        (rule_gap(&g, &q), q.mean.abs() + q.var.sqrt())
    }

    /// Largest difference of mean, standard deviation and c₁..c₉₆ between two rules' results.
    fn rule_gap(g: &HermiteCoefficients, q: &HermiteCoefficients) -> f64 {
        g.c.iter().zip(&q.c).fold(
            (g.mean - q.mean)
                .abs()
                .max((g.var.sqrt() - q.var.sqrt()).abs()),
            |e, (x, y)| e.max((x - y).abs()),
        )
    }

    /// The saturated units (|μ| > 6s) that take a Gauss–Hermite rule (`Rule::for_unit`: narrow,
    /// s·r ≤ 1, and [`narrow_rule_far_out`]), every smooth φ, |μ|/s = 6.5 …
    /// 30 and 10⁴, both signs, s = 10⁻³ … 10: mean, standard deviation and c₁..c₉₆ agree with
    /// the composite rule to 10⁻¹³ of |m| + √Var, or 2ε absolute, the tolerance of
    /// `narrow_rule_matches_the_composite_rule`. Both rules round φ near its level (ε|φ| per
    /// node, weights summing to 1), so mean, the deviations φ − m, √Var and each cₙ =
    /// Σ w(φ − m)hₙ carry ~ε|m| (Σ w|hₙ| ≤ 1); a recursive sum of n ≤ 2 496 terms adds at most
    /// n·ε ≈ 2.8·10⁻¹³ of its terms' sizes, typically √n·ε ≈ 5.5·10⁻¹⁵; measured worst
    /// 2.5·10⁻¹⁵ (gelu, s = 0.1, μ = 12 s; EXPERIMENTS.md, gh34, also against mpmath). Every
    /// saturated narrow unit on such a side takes the Gauss–Hermite rule, every other one the
    /// composite rule. Fails where wide saturated units (s·r > 1) take the Gauss–Hermite rule
    /// (checked: at tanh, s = 1.5, μ = 6.5 s). On the decaying side the rules differ by less
    /// than 2ε absolute, so this tolerance does not resolve them there: the reference test
    /// `decaying_side_matches_the_reference` does.
    #[test]
    fn saturated_units_take_the_narrow_rule() {
        let mut worst: f64 = 0.0;
        let mut switched = 0;
        for act in SMOOTH {
            let reach = if act == Activation::Tanh { 1.0 } else { 0.5 };
            for s in [1e-3, 1e-2, 0.1, 0.5, 0.7, 1.0, 1.5, 2.0, 5.0, 10.0] {
                for a in [
                    6.5, -6.5, 8.0, -8.0, 12.0, -12.0, 20.0, -20.0, 30.0, -30.0, 1e4, -1e4,
                ] {
                    let rule = Rule::for_unit(act, a * s, s);
                    if rule != Rule::Composite {
                        switched += 1;
                        let (err, scale) = against_composite(act, a * s, s, Z_RULE_ORDER, rule);
                        worst = worst.max(err / scale);
                        assert!(
                            err <= 1e-13 * scale + 2.0 * f64::EPSILON,
                            "{act} s = {s} a = {a} ({rule:?}): {err:e} of {scale:e}"
                        );
                    }
                    let narrow = s * reach <= NARROW_SCALE && narrow_rule_far_out(act, a);
                    assert_eq!(rule != Rule::Composite, narrow, "{act} s = {s} a = {a}");
                }
            }
        }
        println!("saturated units, Gauss–Hermite vs composite: {switched} units, worst {worst:e} of |m| + √Var");
    }

    /// Full-precision mean, variance and c₁..c₉₆ of both rules on the rows checked against
    /// mpmath (`cargo test --release --lib saturated_rule_dump -- --ignored --nocapture`;
    /// EXPERIMENTS.md, gh34).
    #[test]
    #[ignore = "rows for the mpmath check in EXPERIMENTS.md"]
    fn saturated_rule_dump() {
        let rows = [
            (Activation::Gelu, 12.0, 0.1),
            (Activation::Silu, 12.0, 0.5),
            (Activation::Sigmoid, 30.0, 1e-3),
            (Activation::Sigmoid, 8.0, 1e-3),
            (Activation::Tanh, 1e4, 1e-3),
            (Activation::Tanh, 8.0, 1.0),
            (Activation::Erf, 8.0, 2.0),
            (Activation::Softplus, 30.0, 2.0),
            (Activation::Gelu, -12.0, 1.0),
            (Activation::Sigmoid, -12.0, 2.0),
        ];
        for (act, a, s) in rows {
            let own = Rule::for_unit(act, a * s, s);
            let reach = if act == Activation::Tanh { 1.0 } else { 0.5 };
            let gh = if s * reach <= SMALL_RULE_SCALE {
                Rule::Hermite128
            } else {
                Rule::Hermite256
            };
            for rule in [gh, Rule::Composite] {
                let g = HermiteCoefficients::with_rule(act, a * s, s, Z_RULE_ORDER, rule);
                let c: Vec<String> = g.c.iter().map(|x| format!("{x:e}")).collect();
                println!(
                    "ROW {act} {a} {s} {own:?} {rule:?} {:e} {:e} {}",
                    g.mean,
                    g.var,
                    c.join(" ")
                );
            }
        }
    }

    /// Saturated units (|μ|/s = 6.5 … 30 and 10⁴, both signs, s = 10⁻³ … 10), every smooth φ:
    /// the 128- and 256-point Gauss–Hermite rules against the composite rule, printed in units
    /// of |m| + √Var and of the unit's own spread √Var (`cargo test --release --lib
    /// saturated_rule_table -- --ignored --nocapture`; EXPERIMENTS.md, gh34).
    #[test]
    #[ignore = "a table for EXPERIMENTS.md"]
    fn saturated_rule_table() {
        println!("act s |μ|/s nodes | GH128 /(|m|+√Var) /√Var | GH256 /(|m|+√Var) /√Var | rule");
        for act in SMOOTH {
            for s in [1e-3, 1e-2, 0.1, 0.5, 0.7, 1.0, 1.5, 2.0, 5.0, 10.0] {
                for a in [
                    6.5, -6.5, 8.0, -8.0, 12.0, -12.0, 20.0, -20.0, 30.0, -30.0, 1e4, -1e4,
                ] {
                    let q = HermiteCoefficients::with_rule(
                        act,
                        a * s,
                        s,
                        Z_RULE_ORDER,
                        Rule::Composite,
                    );
                    let (scale, sd) = (q.mean.abs() + q.var.sqrt(), q.var.sqrt());
                    let nodes = unit_node_count(act, a * s, s, COEFF_RANGE.max(half_range(a)));
                    let gap = |rule| {
                        let g = HermiteCoefficients::with_rule(act, a * s, s, Z_RULE_ORDER, rule);
                        rule_gap(&g, &q)
                    };
                    let (g128, g256) = (gap(Rule::Hermite128), gap(Rule::Hermite256));
                    println!(
                        "{act} {s:e} {a} {nodes} | {:.1e} {:.1e} | {:.1e} {:.1e} | {:?}",
                        g128 / scale,
                        g128 / sd,
                        g256 / scale,
                        g256 / sd,
                        Rule::for_unit(act, a * s, s)
                    );
                }
            }
        }
    }

    /// The one-sided smooth activations, whose φ decays to 0 for μ → −∞.
    const DECAYING: [Activation; 4] = [
        Activation::Sigmoid,
        Activation::Silu,
        Activation::Softplus,
        Activation::Gelu,
    ];

    /// Largest difference of mean, standard deviation and c₁..c_K between a rule's result and
    /// the reference (`coef_reference`).
    fn reference_gap(g: &HermiteCoefficients, r: &coef_reference::Reference) -> f64 {
        g.c.iter().zip(&r.c).fold(
            (g.mean - r.mean).abs().max((g.var.sqrt() - r.sd).abs()),
            |e, (x, y)| e.max((x - y).abs()),
        )
    }

    /// Whether the reference `r` judges a unit: its variance is a normal f64 (√Var above
    /// 3.2·10⁻¹⁵³; below, every rule's variance underflows and the unit's output is below
    /// 10⁻¹⁵⁰ absolute) and its cut at ±50 is below 10⁻¹⁷ of |m| + √Var.
    fn judged(r: &coef_reference::Reference) -> bool {
        let scale = r.mean.abs() + r.sd;
        r.sd > 3.2e-153 && r.tail.max(r.var_tail) <= 1e-17 * scale
    }

    /// The decaying side of sigmoid, SiLU, softplus and GELU (μ/s = −6.5 … −10⁴, s = 10⁻³ …
    /// 10; narrow and wide units): the rule `Rule::for_unit` takes (GELU's: the rule of its
    /// deterministic units and of `with_rule`; its production path is the closed form) gives
    /// mean, √Var and c₁..c₉₆ within 10⁻¹³ of |m| + √Var of the reference
    /// (`coef_reference`, whose own error, measured by halving its panels, is ≤ 1.4·10⁻¹⁵ of
    /// it on these units, and checked against mpmath; EXPERIMENTS.md, gh35). Measured worst:
    /// 2.4·10⁻¹⁵. GELU's production path (`new`: the closed form, beyond its range the
    /// composite rule) to the same tolerance; fails on main's closed form at s = 5, μ = −20 s
    /// (100 %; checked, gh36). Units the reference does not judge ([`judged`]: 75 of 320, their output
    /// below 10⁻¹⁵⁰) are skipped. Fails on main's rules (the composite rule's coefficients cut
    /// at |z| ≤ 12: sigmoid s = 2, μ = −20 s, 5.7·10⁻⁹; s = 10: 0.25; checked).
    #[test]
    fn decaying_side_matches_the_reference() {
        let (mut worst, mut judged_units): (f64, usize) = (0.0, 0);
        for act in DECAYING {
            for s in coef_reference::SPREADS {
                for a in coef_reference::MEANS.map(|a| -a) {
                    let mu = a * s;
                    let r = coef_reference::reference(act, mu, s, Z_RULE_ORDER, 0.25);
                    if !judged(&r) {
                        continue;
                    }
                    judged_units += 1;
                    let rule = Rule::for_unit(act, mu, s);
                    let g = HermiteCoefficients::with_rule(act, mu, s, Z_RULE_ORDER, rule);
                    let (err, scale) = (reference_gap(&g, &r), r.mean.abs() + r.sd);
                    worst = worst.max(err / scale);
                    assert!(
                        err <= 1e-13 * scale,
                        "{act} s = {s} μ/s = {a} ({rule:?}): {err:e} of {scale:e}"
                    );
                    if act == Activation::Gelu {
                        // GELU's production path: the closed form, or beyond its range the
                        // composite rule (`gelu_coef::beyond_closed_form`).
                        let g = HermiteCoefficients::new(act, mu, s, Z_RULE_ORDER);
                        let err = reference_gap(&g, &r);
                        worst = worst.max(err / scale);
                        assert!(
                            err <= 1e-13 * scale,
                            "gelu s = {s} μ/s = {a} (production path): {err:e} of {scale:e}"
                        );
                    }
                }
            }
        }
        assert_eq!(judged_units, 245);
        println!("decaying side vs reference: {judged_units} units, worst {worst:e} of |m| + √Var");
    }

    /// Full-precision reference and rules on the decaying-side rows where the rules differ
    /// most, for the mpmath check (`cargo test --release --lib decaying_side_dump -- --ignored
    /// --nocapture`; EXPERIMENTS.md, gh35): `REF` lines (mean, √Var, c₁..c₉₆) and one line per
    /// rule.
    #[test]
    #[ignore = "rows for the mpmath check in EXPERIMENTS.md"]
    fn decaying_side_dump() {
        let rows = [
            (Activation::Sigmoid, 2.0, -20.0),
            (Activation::Silu, 2.0, -100.0),
            (Activation::Softplus, 2.0, -20.0),
            (Activation::Sigmoid, 10.0, -20.0),
            (Activation::Sigmoid, 1.5, -100.0),
            (Activation::Gelu, 1.0, -20.0),
            (Activation::Gelu, 2.0, -30.0),
            (Activation::Gelu, 10.0, -12.0),
            (Activation::Gelu, 5.0, -20.0),
            (Activation::Gelu, 1.5, -30.0),
        ];
        let line = |tag: String, mean: f64, sd: f64, c: &[f64]| {
            let c: Vec<String> = c.iter().map(|x| format!("{x:e}")).collect();
            println!("{tag} {mean:e} {sd:e} {}", c.join(" "));
        };
        for (act, s, a) in rows {
            let mu = a * s;
            let r = coef_reference::reference(act, mu, s, Z_RULE_ORDER, 0.25);
            line(format!("ROW {act} {s} {a} REF"), r.mean, r.sd, &r.c);
            for rule in [Rule::Composite, Rule::Hermite128, Rule::Hermite256] {
                let g = HermiteCoefficients::with_rule(act, mu, s, Z_RULE_ORDER, rule);
                line(
                    format!("ROW {act} {s} {a} {rule:?}"),
                    g.mean,
                    g.var.sqrt(),
                    &g.c,
                );
            }
            if act == Activation::Gelu {
                let g = HermiteCoefficients::gelu(&[mu], &[s], Z_RULE_ORDER).remove(0);
                line(
                    format!("ROW {act} {s} {a} Closed"),
                    g.mean,
                    g.var.sqrt(),
                    &g.c,
                );
            }
        }
    }

    /// Decaying side (μ/s = −6.5 … −10⁴, s = 10⁻³ … 10), sigmoid, SiLU, softplus and GELU: each
    /// rule (composite, GH128, GH256, the one `Rule::for_unit` takes, GELU's closed form)
    /// against the reference (`coef_reference`, panels 0.25 and 0.125), mean, √Var and
    /// c₁..c₉₆, in units of |m| + √Var and of √Var (`cargo test --release --lib
    /// decaying_side_table -- --ignored --nocapture`; EXPERIMENTS.md, gh35).
    #[test]
    #[ignore = "a table for EXPERIMENTS.md"]
    fn decaying_side_table() {
        println!("act s a scale sd tail/scale halving/scale | comp gh128 gh256 own(rule) closed: /scale /sd");
        for act in DECAYING {
            for s in coef_reference::SPREADS {
                for a in coef_reference::MEANS.map(|a| -a) {
                    let mu = a * s;
                    let r = coef_reference::reference(act, mu, s, Z_RULE_ORDER, 0.25);
                    let half = coef_reference::reference(act, mu, s, Z_RULE_ORDER, 0.125);
                    let scale = r.mean.abs() + r.sd;
                    let halving = reference_gap_refs(&r, &half);
                    let own = Rule::for_unit(act, mu, s);
                    let gap = |rule| {
                        let g = HermiteCoefficients::with_rule(act, mu, s, Z_RULE_ORDER, rule);
                        reference_gap(&g, &r)
                    };
                    let mut cols = vec![
                        gap(Rule::Composite),
                        gap(Rule::Hermite128),
                        gap(Rule::Hermite256),
                        gap(own),
                    ];
                    if act == Activation::Gelu {
                        let g = HermiteCoefficients::gelu(&[mu], &[s], Z_RULE_ORDER).remove(0);
                        cols.push(reference_gap(&g, &r));
                    }
                    let text: Vec<String> = cols
                        .iter()
                        .map(|e| format!("{:.1e} {:.1e}", e / scale, e / r.sd))
                        .collect();
                    println!(
                        "ROW {act} {s:e} {a} {scale:.2e} {:.2e} {:.1e} {:.1e} | {} ({own:?})",
                        r.sd,
                        r.tail.max(r.var_tail) / scale,
                        halving / scale,
                        text.join(" | ")
                    );
                }
            }
        }
    }

    /// Largest difference of mean, standard deviation and c₁..c_K between two references.
    fn reference_gap_refs(r: &coef_reference::Reference, q: &coef_reference::Reference) -> f64 {
        r.c.iter().zip(&q.c).fold(
            (r.mean - q.mean).abs().max((r.sd - q.sd).abs()),
            |e, (x, y)| e.max((x - y).abs()),
        )
    }
}
