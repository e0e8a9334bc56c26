//! Any smooth φ by the Hermite (Mehler) series (DESIGN.md §3, "Any smooth φ").

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

use super::closed_pairs::ClosedPairs;
use super::coef_table::CoefficientTable;
use super::edgeworth::{corrected, Fallbacks};
use super::hermite_rem::{remainders, worst_ratio};
use super::input::{correlation, reset_output, units, Isa, Units};
use super::quadrature::{pair_cov_fallback, Unit};
use super::quadrature_terms::QuadratureTerms;
use super::series_lanes::{Column, GroupLanes, SeriesLanes, BLOCK, GROUP, LIMIT_STEP};
use super::series_terms::SeriesTerms;
use super::split_pair;
use super::{Closure, Corrections};
use crate::error::{Error, Result};
use crate::linalg::fill_symmetric_grouped;
use crate::net::Activation;
use crate::simd::load;
use crate::stats::Moments;

pub use super::hermite_coef::HermiteCoefficients;
use super::hermite_coef::UnitStats;

/// Default number of series terms K: all of them in the fixed series (infinite tolerance, the
/// one `HermiteVjp` differentiates), at most this many on units whose coefficients come from a
/// rule in z.
pub const DEFAULT_ORDER: usize = 96;
/// Largest K of the adaptive series (finite tolerance) for wide units, whose coefficients come
/// from the Fourier rule (`fourier_coef`, checked to n = 256): wider pre-activations need more
/// terms at the same |ρ|, and without them their pairs would fall to the 2-D quadrature.
pub const WIDE_ORDER: usize = 256;
/// Default tolerance on the truncation bound, relative to √(Var φ(hᵢ) · Var φ(hⱼ)).
pub const DEFAULT_TOLERANCE: f64 = 1e-10;
/// Units (the widest, largest sᵢ) whose full coefficient vectors set the layer's number of
/// terms ([`layer_terms`]).
const PROBES: usize = 8;
/// GELU's probes' first depth ([`probed_terms`]): above the layers' K at n = 64 (15–26).
const FIRST_PROBE: usize = 32;
/// Columns of at most this many terms skip the per-vector term counts.
const LIMITS_ABOVE: usize = 48;

/// Hermite-series closure of a smooth activation: Cᵢⱼ = Σ_{n=1..L} ρⁿ cₙ(i)cₙ(j) in SIMD lanes
/// over j (four Horner chains in ρ⁴), with as few terms as the truncation bound
/// |ρ|^{L+1}√(Rᵢ(L)Rⱼ(L)) (Parseval remainders) allows at `tolerance`·√(VarᵢVarⱼ):
/// - the layer's K ≤ `order` from its widest units and largest |ρ| (`layer_terms`), every
///   unit's c₁..c_K computed once;
/// - per column i, L ≤ K from the column's largest |ρ| (`column_terms`), and per lane vector
///   of a long column (L > 48) fewer terms from the vector's largest |ρ| (`vector_limits`),
///   both against r*(L), the largest Rⱼ(L)/Varⱼ of every unit but the `short` ones below;
/// - K up to [`DEFAULT_ORDER`] on units whose coefficients come from a rule in z, up to
///   [`WIDE_ORDER`] on wide units (s > 1, the Fourier rule of `fourier_coef`), so that wider
///   pre-activations are settled by more terms instead of the 2-D quadrature;
/// - the pairs of a column above the |ρ| its L terms bound against r*(L) (`column_pass`: the
///   column of a unit not settled at K, `settled_at`, a wide pre-activation at |ρ| near 1
///   with a slow series), and every pair of a `short` unit (not settled and known to fewer
///   than K orders: a rule in z, whose vectors take all their column's terms) are checked one
///   by one, and a pair whose bound exceeds the threshold
///   (`fallback_above`) takes its closed form (`closed_pairs`: GELU's orthant form, the
///   logistic family's scale mixture where it serves the pair), else `split_pair::pair_cov`
///   (φ split into its piecewise-linear limit, in closed form, and a localised rest
///   integrated over its window: ≲ 10⁵ evaluations at any scale; tanh, sigmoid, SiLU,
///   softplus, erf), else the 2-D quadrature with windows from scale 1 on
///   (`quadrature::pair_cov_fallback`);
/// - pairs with |ρ| above the cap of `closed_pairs::ClosedPairs` (0.9: GELU always, tanh,
///   sigmoid, SiLU and softplus on wide layers) take the closed form, and the series (K, L,
///   `settled_at`) serves only |ρ| ≤ that cap, so its term count stays bounded at any scale.
///
/// Cᵢᵢ = Var φ(hᵢ) by the 1-D rule of the coefficients. Refuses relu: its series converges
/// algebraically (a three-term truncation is 3 % off at ρ = 1); relu has the exact Φ₂
/// closure. κ₃/κ₄ corrections from the same coefficients (`series_terms`).
#[derive(Clone, Copy, Debug)]
pub struct HermiteClosure {
    act: Activation,
    order: usize,
    tolerance: f64,
}

impl HermiteClosure {
    /// The series closure of `act` with [`DEFAULT_ORDER`] terms and [`DEFAULT_TOLERANCE`];
    /// [`Error::Unsupported`] for relu.
    pub fn new(act: Activation) -> Result<Self> {
        if !act.is_smooth() {
            return Err(Error::Unsupported(format!(
                "the Hermite series closure needs a smooth activation; {act} has a kink and its \
                 series converges too slowly (use --closure auto for the exact Φ₂ form, or \
                 --closure quadrature)"
            )));
        }
        Ok(HermiteClosure {
            act,
            order: DEFAULT_ORDER,
            tolerance: DEFAULT_TOLERANCE,
        })
    }

    /// Sets the number of series terms K (at least 1) of the fixed series; the adaptive one
    /// takes up to max(K, [`WIDE_ORDER`]) on wide units.
    pub fn with_order(mut self, order: usize) -> Self {
        self.order = order.max(1);
        self
    }

    /// Sets the relative tolerance on the truncation bound above which a pair is integrated.
    /// An infinite tolerance keeps the whole `order`-term series in every pair and never
    /// integrates (the series `HermiteVjp` differentiates).
    pub fn with_tolerance(mut self, tolerance: f64) -> Self {
        self.tolerance = tolerance;
        self
    }
}

impl Closure for HermiteClosure {
    fn name(&self) -> String {
        format!(
            "{} (Hermite series, K={}, tol {:e}, quadrature where the bound fails)",
            self.act, self.order, self.tolerance
        )
    }

    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        let gaussian = |out: &mut Moments| self.gaussian(input, out);
        corrected(input, corrections, out, "Hermite series", gaussian, |u| {
            SeriesTerms {
                coef: HermiteCoefficients::for_units(self.act, &u.mu, &u.s, self.order),
                quadrature: QuadratureTerms::new(self.act, u.mu.clone(), u.s.clone()),
            }
        })
    }
}

impl HermiteClosure {
    /// The Gaussian series closure (the type's docs).
    fn gaussian(&self, input: &Moments, out: &mut Moments) -> Result<()> {
        let u = units(input, "Hermite series")?;
        let n = input.dim();
        let tol = self.tolerance;
        reset_output(out, n);
        let arch = pulp::Arch::new();
        let inv_s: Vec<f64> =
            u.s.iter()
                .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
                .collect();
        let rho_col: Vec<f64> = (0..n)
            .into_par_iter()
            .map(|i| {
                Isa::Dispatch.run(
                    arch,
                    RhoMax {
                        sig: &input.cov.col_as_slice(i)[..i],
                        inv_s: &inv_s[..i],
                        inv_si: inv_s[i],
                    },
                )
            })
            .collect();
        // An infinite tolerance (no fallback: the fixed series that `HermiteVjp` differentiates)
        // keeps all `order` terms in every column.
        let fixed = !tol.is_finite();
        // Pairs above the cap take a closed form (`closed_pairs`): the series serves |ρ| ≤ cap.
        let rho_max = rho_col.iter().fold(0.0, |a: f64, &b| a.max(b));
        let closed = ClosedPairs::for_layer(self.act, &u.s, rho_max, fixed);
        let cap = closed.cap();
        let exact = cap < 1.0;
        let rho_all = rho_max.min(cap);
        let (k, probes) = if fixed {
            (self.order, Vec::new())
        } else {
            layer_terms(self.act, &u, rho_all, self.order.max(WIDE_ORDER), tol)
        };
        // Blocks of BLOCK units, order-major inside (`CoefficientTable`); the probes'
        // coefficients serve the table where they are its own (`CoefficientTable::new`).
        let table = CoefficientTable::new(self.act, &u.mu, &u.s, k, &probes);
        let (lanes, terms, coef) = (&table.lanes, table.terms, &table.stats);
        // Rᵢ(L), L = 0..=K, in the layout of the table.
        let var: Vec<f64> = coef.iter().map(|c| c.var).collect();
        let rem = remainders(&var, lanes, terms, BLOCK, k);
        let rem = rem.as_slice();
        let rem_of = |i: usize| {
            let at = (i / BLOCK) * (k + 1) * BLOCK + i % BLOCK;
            move |l: usize| rem[at + l * BLOCK]
        };
        // For units known to v < K only: the largest Rⱼ(v)/Varⱼ of every unit, their partners'.
        let shares: Vec<(usize, f64)> = coef
            .iter()
            .map(|c| c.known)
            .filter(|&v| v < k)
            .collect::<std::collections::BTreeSet<usize>>()
            .into_iter()
            .map(|v| {
                let share = (0..n)
                    .filter(|&j| coef[j].var > 0.0)
                    .map(|j| rem_of(j)(v) / coef[j].var)
                    .fold(0.0, f64::max);
                (v, share)
            })
            .collect();
        let partner = |v: usize| shares.iter().find(|s| s.0 == v).map_or(1.0, |s| s.1);
        // ρ*^{K+1}, the power every unit known to K tests: once per layer, not once per unit.
        let pow_k = rho_all.powi(k as i32 + 1);
        let settled: Vec<bool> = (0..n)
            .map(|i| {
                let pow = |l: usize| {
                    if l == k {
                        pow_k
                    } else {
                        rho_all.powi(l as i32 + 1)
                    }
                };
                settled_at(&coef[i], rem_of(i), partner(coef[i].known), pow, k, tol)
            })
            .collect();
        // Units whose pairs the per-vector limits cannot bound: not settled and known to fewer
        // than K orders (a rule in z: the stored zeros beyond `known` are not the unit's, so its
        // pairs' error is bounded at `known` terms, not at L). Their lane vectors take all
        // their column's terms and every pair they form is checked.
        let short: Vec<bool> = (0..n).map(|i| !settled[i] && coef[i].known < k).collect();
        let checked: Vec<usize> = (0..n).filter(|&i| short[i]).collect();
        let floor: Vec<f64> = short.iter().map(|&s| if s { 2.0 } else { 0.0 }).collect();
        // r*(L) = max over every other unit of Rⱼ(L)/Varⱼ: the unsettled units known to K
        // bound their pairs through it like the settled ones (issue #14 item 3: at ×64 a
        // quarter of the units are unsettled, and a floor for them made nine lane vectors in
        // ten take all their column's terms).
        let kept: Vec<bool> = (0..n).map(|j| !short[j] && coef[j].var > 0.0).collect();
        let worst = worst_ratio(rem, &var, &kept, BLOCK, k);
        for (i, c) in coef.iter().enumerate() {
            out.mean[i] = c.mean;
        }
        // Per column: its terms L (`column_terms`), for long columns the per-vector limits
        // (`vector_limits`), and the |ρ| up to which its pairs with units other than `short`
        // ones are within the bound (`column_pass`).
        let plan = |i: usize| -> (usize, Vec<f64>, f64) {
            if short[i] || fixed {
                return (k, Vec::new(), if fixed { cap } else { 0.0 });
            }
            let rho_i = rho_col[i].min(cap);
            let len = column_terms(rho_i, rem_of(i), coef[i].var, &worst, tol);
            // Shorter chains per lane vector only for long columns: at L ≲ 48 the per-vector
            // search costs more than the terms it saves (MNIST-shaped layers at scale 1:
            // L ≈ 10–25).
            let limits = if len > LIMITS_ABOVE {
                vector_limits(len, rem_of(i), coef[i].var, &worst, tol)
            } else {
                Vec::new()
            };
            let pass = column_pass(
                rho_i,
                cap,
                rem_of(i)(len),
                coef[i].var,
                worst[len],
                len,
                tol,
            );
            (len, limits, pass)
        };
        let plans: Vec<(usize, Vec<f64>, f64)> = (0..n).into_par_iter().map(plan).collect();
        fill_symmetric_grouped(&mut out.cov, GROUP, |i0, cols| {
            let plans = &plans[i0..i0 + cols.len()];
            // cₒ(i) of the group's columns, column c at `ci[c·terms..]`: its L terms, padded
            // with zeros to a multiple of 4 (≤ `terms`); one buffer for the group.
            let mut buf = vec![0.0; cols.len() * terms];
            for (c, part) in buf.chunks_mut(terms).enumerate() {
                table.column_into(i0 + c, plans[c].0, part);
            }
            let ci: [&[f64]; GROUP] = std::array::from_fn(|c| match plans.get(c) {
                Some(plan) => &buf[c * terms..c * terms + plan.0.next_multiple_of(4)],
                None => &[],
            });
            // The rows below the group's first block boundary: four columns per table load.
            let shared = if cols.len() == GROUP {
                (i0 / BLOCK) * BLOCK
            } else {
                0
            };
            if shared > 0 {
                let group: [Column; GROUP] = std::array::from_fn(|c| Column {
                    sig: input.cov.col_as_slice(i0 + c),
                    inv_si: inv_s[i0 + c],
                    ci: ci[c],
                    limits: &plans[c].1,
                });
                Isa::Dispatch.run(
                    arch,
                    GroupLanes {
                        out: cols,
                        cols: &group,
                        inv_s: &inv_s,
                        floor: &floor,
                        lanes,
                        terms,
                        end: shared,
                    },
                );
            }
            for (c, col) in cols.iter_mut().enumerate() {
                let i = i0 + c;
                let (len, limits, column) = (plans[c].0, &plans[c].1, plans[c].2);
                let sig = &input.cov.col_as_slice(i)[..=i];
                Isa::Dispatch.run(
                    arch,
                    SeriesLanes {
                        out: &mut col[shared..],
                        sig: &sig[shared..],
                        inv_s: &inv_s[shared..=i],
                        floor: &floor[shared..=i],
                        inv_si: inv_s[i],
                        ci: ci[c],
                        limits,
                        lanes: &lanes[(shared / BLOCK) * terms * BLOCK..],
                        terms,
                    },
                );
                // Only the checked pairs read it: its logarithm and exponential once, if any.
                let pass = std::cell::OnceCell::new();
                let fallback = |j: usize, rho: f64| {
                    let unit = |t: usize| Unit {
                        mu: u.mu[t],
                        s: u.s[t],
                        m: coef[t].mean,
                    };
                    split_pair::pair_cov(self.act, unit(i), unit(j), rho)
                        .unwrap_or_else(|| pair_cov_fallback(self.act, unit(i), unit(j), rho))
                        .0
                };
                let closed_pair = |j: usize, rho: f64| {
                    closed
                        .pair((u.mu[i], u.s[i]), (u.mu[j], u.s[j]), rho)
                        .unwrap_or_else(|| fallback(j, rho))
                };
                let mut check = |j: usize| {
                    let rho = correlation(sig[j], u.s[i], u.s[j]);
                    if exact && rho.abs() > cap {
                        col[j] = closed_pair(j, rho);
                        return;
                    }
                    // The bound at m = min(L, both units' known orders) (`truncation_bound`);
                    // `pass` is the shortcut of m = L.
                    let m = len.min(coef[i].known).min(coef[j].known);
                    if m == len
                        && rho.abs()
                            <= *pass
                                .get_or_init(|| pass_below(rem_of(i)(len), coef[i].var, len, tol))
                    {
                        return;
                    }
                    let bound = rho.abs().powi(m as i32 + 1) * (rem_of(i)(m) * rem_of(j)(m)).sqrt();
                    if bound > fallback_above(&coef[i], &coef[j], tol) {
                        col[j] = closed_pair(j, rho);
                    }
                };
                if short[i] {
                    (0..i).for_each(check);
                } else {
                    checked
                        .iter()
                        .take_while(|&&j| j < i)
                        .for_each(|&j| check(j));
                    if rho_col[i] > column {
                        // The other pairs above `column`, |Σᵢⱼ| > column·sᵢsⱼ: those above
                        // the cap take the closed form in one batch, the rest are checked.
                        let (mut js, mut rhos) = (Vec::new(), Vec::new());
                        let t = column * u.s[i];
                        for j in 0..i {
                            if sig[j].abs() > t * u.s[j] && !short[j] {
                                let rho = correlation(sig[j], u.s[i], u.s[j]);
                                if exact && rho.abs() > cap {
                                    js.push(j);
                                    rhos.push(rho);
                                } else {
                                    check(j);
                                }
                            }
                        }
                        closed.pairs(
                            (u.mu[i], u.s[i]),
                            (&u.mu, &u.s),
                            (&js, &rhos),
                            col,
                            fallback,
                        );
                    }
                }
                col[i] = coef[i].var;
            }
        })
    }
}

/// The layer's number of terms K ≤ `order`: the largest over the [`PROBES`] widest units (the
/// slowest series: cₙ decays on the scale of φ's features in z, 1/s) of the least K at which
/// that unit is settled ([`settled_at`]) for ρ* = `rho_all`, the largest |ρ| of the layer
/// (or its last nonzero coefficient if none settles it).
/// At least 1. Any unit not settled at K is checked pair by pair. GELU's probes start at
/// [`FIRST_PROBE`] orders ([`probed_terms`]), the other activations' at `order`. Returns K and
/// each probe's coefficients (by unit; None for the other units), as [`probed_terms`].
fn layer_terms(act: Activation, u: &Units, rho_all: f64, order: usize, tol: f64) -> Probed {
    let first = if act == Activation::Gelu {
        FIRST_PROBE
    } else {
        order
    };
    probed_terms(act, u, rho_all, order, tol, first)
}

/// [`layer_terms`] with the probes' coefficients computed to `first` orders, then ×4 deeper
/// (to at most `order`) for the probes not settled at any K within them. Exact only where a
/// unit's c₁..c_d do not depend on the depth d they are computed to and its variance and mean
/// not at all (GELU's closed form, `gelu_coef`): then Rᵢ(L) for L ≤ d is the same running sum
/// ([`HermiteCoefficients::remainders`]), so a probe settled at K ≤ d (the first K of the
/// search over 1..=its last nonzero order) is settled at that same least K at depth `order`,
/// and one not settled within depth d failed every K ≤ d at depth `order` too. At n = 64 the
/// layers' K is 15–26 (ARC's gelu n64 d8), so 8 probes × 256 orders were mostly wasted.
/// Beside K, each probe's coefficients as last computed (at a depth ≥ K where it set or
/// reached K), by unit index, so that a layer whose units are all probes need not compute
/// them again (`CoefficientTable::new`).
fn probed_terms(
    act: Activation,
    u: &Units,
    rho_all: f64,
    order: usize,
    tol: f64,
    first: usize,
) -> Probed {
    let mut probes: Vec<Option<HermiteCoefficients>> = vec![None; u.s.len()];
    let mut pending: Vec<usize> = (0..u.s.len()).filter(|&i| u.s[i] > 0.0).collect();
    // The PROBES widest, widest first, ties by index (the order of a stable sort by width),
    // selected without sorting the whole layer.
    let wider = |a: &usize, b: &usize| u.s[*b].total_cmp(&u.s[*a]).then(a.cmp(b));
    if pending.len() > PROBES {
        pending.select_nth_unstable_by(PROBES - 1, wider);
        pending.truncate(PROBES);
    }
    pending.sort_unstable_by(wider);
    let (mut k, mut depth) = (1, first.clamp(1, order.max(1)));
    while !pending.is_empty() {
        let pick = |v: &[f64]| pending.iter().map(|&i| v[i]).collect::<Vec<f64>>();
        let deepest = depth >= order;
        let coefs = HermiteCoefficients::for_units(act, &pick(&u.mu), &pick(&u.s), depth);
        // The probes' searches over K in turn, sharing ρ*^{L+1} (`pows[L]`, grown as a search
        // reaches L: one `powi` per L, not one per probe and K).
        let mut pows: Vec<f64> = Vec::new();
        let found: Vec<Option<usize>> = coefs
            .iter()
            .map(|c| {
                let rem = c.remainders();
                // A rule in z stores zeros beyond its last order: no later K settles the unit.
                let top = c.c.iter().rposition(|&x| x != 0.0).map_or(1, |p| p + 1);
                for k in 1..=top {
                    while pows.len() <= k {
                        pows.push(rho_all.powi(pows.len() as i32 + 1));
                    }
                    if settled_at(&c.stats(), |l| rem[l], 1.0, |l| pows[l], k, tol) {
                        return Some(k);
                    }
                }
                deepest.then_some(top)
            })
            .collect();
        k = found.iter().flatten().fold(k, |a, &b| a.max(b));
        for (&i, c) in pending.iter().zip(coefs) {
            probes[i] = Some(c);
        }
        pending = pending
            .into_iter()
            .zip(&found)
            .filter_map(|(i, f)| f.is_none().then_some(i))
            .collect();
        depth = (depth * 4).min(order);
    }
    (k, probes)
}

/// A layer's number of terms K and its probes' coefficients ([`probed_terms`]).
type Probed = (usize, Vec<Option<HermiteCoefficients>>);

/// A unit is settled at K terms when every pair it forms with another settled unit meets its
/// fallback threshold ([`fallback_above`]) whatever ρ (|ρ| ≤ ρ*), `rem(L)` its Rᵢ(L): either
/// ρ*^{K+1}·Rᵢ(K)/Varᵢ ≤ tol (two such units: ρ^{K+1}√(RᵢRⱼ) ≤ tol·√(VarᵢVarⱼ)), or
/// √Rᵢ(K) ≤ 3.9ε|mᵢ|, the rounding floor (then ρ^{K+1}√(RᵢRⱼ) ≤ 3.9ε|mᵢ|·√((1 + 4ε)Varⱼ) ≤
/// 4ε|mᵢ|√Varⱼ). A unit whose coefficients are known to v < K only (`known`: a rule in z)
/// bounds every pair at v terms (`truncation_bound`), with any partner j: given `partner` ≥
/// Rⱼ(v)/Varⱼ of every unit (at most 1 + 4ε), it is settled when
/// ρ*^{v+1}·√(Rᵢ(v)/Varᵢ · `partner`) ≤ tol, or at the rounding floor √Rᵢ(v) ≤ 3.9ε|mᵢ| (then
/// the bound is ≤ 3.9ε|mᵢ|·√((1 + 4ε)Varⱼ)). A deterministic unit is settled. `pow(L)` is
/// ρ*^{L+1} (`rho_all.powi(L + 1)`, computed once by the caller for every unit it tests).
fn settled_at(
    c: &UnitStats,
    rem: impl Fn(usize) -> f64,
    partner: f64,
    pow: impl Fn(usize) -> f64,
    k: usize,
    tol: f64,
) -> bool {
    if c.var <= 0.0 {
        return true;
    }
    let at_floor = |r: f64| r.sqrt() <= 3.9 * f64::EPSILON * c.mean.abs();
    if c.known >= k {
        let r = rem(k);
        return pow(k) * r <= tol * c.var || at_floor(r);
    }
    let (v, r) = (c.known, rem(c.known));
    pow(v) * (r / c.var * partner).sqrt() <= tol || at_floor(r)
}

/// Terms L ≤ K for column i: the least L with
/// ρᵢ^{L+1}·√(Rᵢ(L)/Varᵢ · r*(L)) ≤ tol, ρᵢ the column's largest |ρ| and r*(L) the largest
/// Rⱼ(L)/Varⱼ of every unit but the `short` ones, so that every such pair of the column is within
/// tol·√(VarᵢVarⱼ); K (= `worst.len()` − 1) when none is. Tested squared,
/// ρᵢ^{2(L+1)}·Rᵢ(L)·r*(L) ≤ tol²·Varᵢ: three products per L instead of a square root and a
/// division (at ×8 wider pre-activations a column scans up to K = 256 orders).
fn column_terms(
    rho_i: f64,
    rem: impl Fn(usize) -> f64,
    var: f64,
    worst: &[f64],
    tol: f64,
) -> usize {
    let k = worst.len() - 1;
    if var <= 0.0 {
        return 0;
    }
    let (step, bound) = (rho_i * rho_i, tol * tol * var);
    let mut pow = step;
    for (l, w) in worst[..k].iter().enumerate() {
        if pow * (rem(l) * w) <= bound {
            return l;
        }
        pow *= step;
    }
    k
}

/// The |ρ| up to which every pair of column i (L = `len` terms, `rem` = Rᵢ(L), `worst` =
/// r*(L) ≥ Rⱼ(L)/Varⱼ of every unit j known to K) is within its fallback threshold
/// ([`fallback_above`]): |ρ|^{L+1}√(Rᵢ(L)Rⱼ(L)) ≤ tol·√(VarᵢVarⱼ) once
/// |ρ|^{L+1}·√(Rᵢ(L)/Varᵢ · r*(L)) ≤ tol. `cap` (no pair of the series left to check) when that
/// holds at the column's largest |ρ| `rho_i` (≤ `cap`, the test of [`column_terms`]) or the unit
/// is deterministic; otherwise the |ρ| where it is an equality, less a margin of 10⁻¹². A lane
/// vector whose largest |ρ| exceeds it took all L terms ([`vector_limits`]' last entry is that
/// |ρ|), so a pair above it is checked at L.
fn column_pass(rho_i: f64, cap: f64, rem: f64, var: f64, worst: f64, len: usize, tol: f64) -> f64 {
    let f2 = rem / var * worst;
    if var <= 0.0
        || f2 <= 0.0
        || (rho_i * rho_i).powi(len as i32 + 1) * (rem * worst) <= tol * tol * var
    {
        return cap;
    }
    let level = ((tol.ln() - 0.5 * f2.ln()) / (len + 1) as f64).exp() * (1.0 - 1e-12);
    level.min(cap)
}

/// Terms per lane vector of a column (issue #14, item 3): entry t is the
/// largest |ρ| for which L = min(8(t + 1), `len`) terms keep ρ^{L+1}·√(Rᵢ(L)/Varᵢ · r*(L)) ≤
/// tol (the bound of [`column_terms`] at that L), made non-decreasing from the right (each
/// entry the least of those after it), so that a vector whose largest |ρ| is ≤ entry t may stop
/// at 8(t + 1) terms. Wide layers need up to [`WIDE_ORDER`] terms only at their few |ρ| near 1;
/// most vectors stop far earlier than the column's `len`.
fn vector_limits(
    len: usize,
    rem: impl Fn(usize) -> f64,
    var: f64,
    worst: &[f64],
    tol: f64,
) -> Vec<f64> {
    let blocks = len.div_ceil(LIMIT_STEP);
    let (tol2, ln_tol) = (tol * tol, tol.ln());
    let mut limits: Vec<f64> = (0..blocks)
        .map(|t| {
            let l = ((t + 1) * LIMIT_STEP).min(len);
            // f² = Rᵢ(L)/Varᵢ · r*(L); ln(tol/f) = ln tol − ½ ln f².
            let f2 = rem(l) / var * worst[l];
            if f2 <= tol2 {
                1.0
            } else {
                ((ln_tol - 0.5 * f2.ln()) / (l + 1) as f64).exp()
            }
        })
        .collect();
    for t in (0..blocks.saturating_sub(1)).rev() {
        limits[t] = limits[t].min(limits[t + 1]);
    }
    limits
}

/// The truncation bound above which a pair is integrated instead: `tolerance`·√(VarᵢVarⱼ), or
/// the rounding floor 4ε(|mᵢ|√Varⱼ + |mⱼ|√Varᵢ) where that is larger. Every value of φ carries a
/// rounding of ε|φ| ≈ ε|m|, so neither the series nor the quadrature knows a covariance better
/// than that floor; for a near-deterministic unit (std/|mean| ≲ 2·10⁻⁵, e.g. 10⁻¹³ deep in a
/// saturated sigmoid network) the Parseval remainder is that rounding, not truncation, and
/// integrating every pair would cost up to 6·10⁶ evaluations each for no accuracy.
fn fallback_above(ci: &UnitStats, cj: &UnitStats, tolerance: f64) -> f64 {
    let floor =
        4.0 * f64::EPSILON * (ci.mean.abs() * cj.var.sqrt() + cj.mean.abs() * ci.var.sqrt());
    (tolerance * (ci.var * cj.var).sqrt()).max(floor)
}

/// The |ρ| at or below which every pair of a column of L = `len` terms meets its fallback
/// threshold, whatever the other unit j: Rⱼ(L) ≤ (1 + 4ε)Varⱼ, so
/// |ρ|^{L+1}√(Rᵢ(L)Rⱼ(L)) ≤ tol·√(VarᵢVarⱼ) ([`fallback_above`]) once
/// |ρ|^{L+1} ≤ tol·√(Varᵢ/Rᵢ(L))/√(1 + 4ε) (taken with a margin of 10⁻¹²); 0 (no shortcut)
/// for a deterministic unit. Lets the per-pair checks of `short` units skip the power and
/// square root of the bound for the pairs far from |ρ| = 1.
fn pass_below(rem: f64, var: f64, len: usize, tol: f64) -> f64 {
    if var <= 0.0 || rem <= 0.0 || !tol.is_finite() {
        return 0.0;
    }
    let level = tol * (var / rem).sqrt() * (1.0 - 1e-12);
    if level >= 1.0 {
        1.0
    } else {
        (level.ln() / (len + 1) as f64).exp()
    }
}

/// The largest |ρ| = |Σᵢⱼ|/(sᵢsⱼ) (at most 1) over j < i in SIMD lanes; 0 for deterministic units.
struct RhoMax<'a> {
    sig: &'a [f64],
    inv_s: &'a [f64],
    inv_si: f64,
}

impl WithSimd for RhoMax<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let inv_si = simd.splat_f64s(self.inv_si);
        let mut acc = simd.splat_f64s(0.0);
        for (sig, inv_sj) in self
            .sig
            .chunks(S::F64_LANES)
            .zip(self.inv_s.chunks(S::F64_LANES))
        {
            let rho = simd.mul_f64s(simd.mul_f64s(load(simd, sig), inv_si), load(simd, inv_sj));
            acc = simd.max_f64s(acc, simd.abs_f64s(rho));
        }
        simd.reduce_max_f64s(acc).min(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::closed_pairs::GELU_SERIES_RHO;
    use super::super::gelu_exact;
    use super::*;

    /// Near-deterministic units (std/|mean| ~ 10⁻¹³, as deep in a saturated sigmoid network,
    /// issue #16) with ρ = 0.999: the Parseval remainder is rounding, so the pair stays in the
    /// series (before, every such pair went to the 2-D quadrature: up to 6·10⁶ evaluations
    /// each) and agrees with the delta method φ'(μᵢ)φ'(μⱼ)Σᵢⱼ (exact to O(s²) relative) within
    /// the rounding floor that no evaluation of φ can beat.
    #[test]
    fn near_deterministic_pairs_stay_in_the_series() {
        let act = Activation::Sigmoid;
        for (mi, mj, si, sj, rho) in [
            (3.0, -1.0, 3e-13, 1e-13, 0.999),
            (0.5, 0.5, 1e-13, 1e-13, 1.0),
        ] {
            let ci = HermiteCoefficients::new(act, mi, si, DEFAULT_ORDER);
            let cj = HermiteCoefficients::new(act, mj, sj, DEFAULT_ORDER);
            let bound = ci.truncation_bound(&cj, rho, DEFAULT_ORDER);
            let above = fallback_above(&ci.stats(), &cj.stats(), DEFAULT_TOLERANCE);
            assert!(bound <= above, "bound {bound:e} above {above:e}");
            let delta = act.deriv(mi) * act.deriv(mj) * rho * si * sj;
            let got = ci.series(&cj, rho, DEFAULT_ORDER);
            assert!(
                (got - delta).abs() <= 4.0 * above,
                "{got:e} vs delta method {delta:e} (floor {above:e})"
            );
        }
    }

    /// [`pass_below`] is sound: at |ρ| = the threshold, the truncation bound of a pair with any
    /// unit j (Rⱼ up to its largest value (1 + 4ε)Varⱼ) is within tol·√(VarᵢVarⱼ); and it is
    /// useful: above 0.9 for a column with Rᵢ/Varᵢ = 10⁻³ at L = 256.
    #[test]
    fn pass_threshold_keeps_the_bound() {
        let tol = DEFAULT_TOLERANCE;
        for (var, ratio) in [
            (1.0, 1.0),
            (3e4, 1e-3),
            (2e-6, 0.3),
            (1.0, 1e-9),
            (5.0, 1e-30),
        ] {
            for len in [8, 96, 256] {
                let rem = ratio * var;
                let pass = pass_below(rem, var, len, tol);
                assert!((0.0..=1.0).contains(&pass), "{pass}");
                for var_j in [1e-8, 1.0, 1e6] {
                    let rem_j = (1.0 + 4.0 * f64::EPSILON) * var_j;
                    let bound = pass.powi(len as i32 + 1) * (rem * rem_j).sqrt();
                    assert!(
                        bound <= tol * (var * var_j).sqrt(),
                        "Var {var:e} R/Var {ratio:e} L {len}: {bound:e}"
                    );
                }
            }
        }
        assert!(pass_below(1e-3, 1.0, 256, tol) > 0.9);
        assert_eq!(pass_below(0.0, 0.0, 10, tol), 0.0);
    }

    /// With an infinite tolerance every pair is the full `order`-term series (no shorter column,
    /// no quadrature), as `HermiteVjp` assumes: equal to [`HermiteCoefficients::series`] with
    /// K = 96 up to the summation order.
    #[test]
    fn infinite_tolerance_keeps_every_term() {
        use super::super::input::lane_test_input;
        let act = Activation::Tanh;
        let input = lane_test_input(0.05);
        let out = HermiteClosure::new(act)
            .unwrap()
            .with_tolerance(f64::INFINITY)
            .apply(&input, Corrections::None)
            .unwrap();
        let u = units(&input, "test").unwrap();
        let coef: Vec<HermiteCoefficients> = (0..input.dim())
            .map(|i| HermiteCoefficients::new(act, u.mu[i], u.s[i], DEFAULT_ORDER))
            .collect();
        for i in 0..input.dim() {
            for j in 0..i {
                let rho = correlation(input.cov[(i, j)], u.s[i], u.s[j]);
                let want = coef[i].series(&coef[j], rho, DEFAULT_ORDER);
                let got = out.cov[(i, j)];
                let tol = 1e-14 * (coef[i].var * coef[j].var).sqrt();
                assert!((got - want).abs() <= tol, "({i}, {j}): {got:e} vs {want:e}");
            }
        }
    }

    /// GELU at wide pre-activations (the strongly correlated lane-test input widened 8×: pairs
    /// with |ρ| above [`GELU_SERIES_RHO`], which take the closed form, and series pairs up to
    /// it) against the closed form of every entry (`gelu_exact`, itself checked against the 2-D
    /// quadrature and Monte Carlo): within 2·10⁻¹⁰ of √(CᵢᵢCⱼⱼ) (the series' tolerance 10⁻¹⁰),
    /// means within 10⁻¹³ of |m| + √Var.
    #[test]
    fn gelu_strong_pairs_match_the_closed_form() {
        use super::super::input::lane_test_input;
        let act = Activation::Gelu;
        let mut input = lane_test_input(0.05);
        input.cov *= faer::Scale(64.0);
        input.mean *= faer::Scale(8.0);
        let u = units(&input, "test").unwrap();
        let n = input.dim();
        let strong = (0..n)
            .flat_map(|i| (0..i).map(move |j| (i, j)))
            .filter(|&(i, j)| {
                correlation(input.cov[(i, j)], u.s[i], u.s[j]).abs() > GELU_SERIES_RHO
            })
            .count();
        assert!(strong >= 10, "only {strong} pairs above the cap");
        let got = HermiteClosure::new(act)
            .unwrap()
            .apply(&input, Corrections::None)
            .unwrap();
        let exact = |i: usize, j: usize| {
            let rho = correlation(input.cov[(i, j)], u.s[i], u.s[j]);
            gelu_exact::pair_cov(u.mu[i], u.s[i], u.mu[j], u.s[j], rho)
        };
        for i in 0..n {
            if u.s[i] == 0.0 {
                continue;
            }
            let (m, mw) = (got.mean[i], gelu_exact::unit_moments(u.mu[i], u.s[i]).0);
            let scale = mw.abs() + exact(i, i).sqrt();
            assert!((m - mw).abs() <= 1e-13 * scale, "m[{i}] {m} vs {mw}");
            for j in (0..=i).filter(|&j| u.s[j] > 0.0) {
                let (c, cw) = (got.cov[(i, j)], exact(i, j));
                let tol = 2e-10 * (exact(i, i) * exact(j, j)).sqrt();
                assert!((c - cw).abs() <= tol, "C[{i},{j}] {c:e} vs {cw:e}");
            }
        }
    }

    /// Saturated wide units (the strongly correlated lane-test input widened 32×: s up to ~30,
    /// |μ|/s up to 4; those with |μ|/s > 3 take a rule in z, whose coefficients stop at
    /// [`Z_RULE_ORDER`](super::super::hermite_coef::Z_RULE_ORDER)) against the 2-D rule
    /// (`quadrature::pair_cov_fallback`, checked against the reference `pair_cov` to 10⁻¹⁵,
    /// `fallback_rule_matches_the_reference_pairs`): every pair with a saturated wide unit
    /// (s > 10, |μ|/s > 3) and every variance (against `moments_1d`), for tanh, sigmoid, SiLU,
    /// softplus and GELU, within the series' contract ([`fallback_above`]: its truncation bound
    /// within 10⁻¹⁰·√(VarᵢVarⱼ) or the rounding floor) plus the 2-D rule's tested error
    /// 10⁻¹²·√(VarᵢVarⱼ). Before the bounds stopped at a unit's known coefficients
    /// (`HermiteCoefficients::known`), 11 such pairs were off by up to 3.1·10⁻⁸ of √(VarᵢVarⱼ)
    /// (the series after 256 terms equal to the one after 96: the unit's stored zeros).
    #[test]
    fn wide_saturated_pairs_match_the_2d_rule() {
        use super::super::input::lane_test_input;
        let mut input = lane_test_input(0.05);
        input.cov *= faer::Scale(1024.0);
        input.mean *= faer::Scale(32.0);
        let u = units(&input, "test").unwrap();
        let n = input.dim();
        let saturated: Vec<bool> = (0..n)
            .map(|i| u.s[i] > 10.0 && u.mu[i].abs() > 3.0 * u.s[i])
            .collect();
        let count = saturated.iter().filter(|&&x| x).count();
        assert!(count >= 3, "only {count} saturated wide units");
        use Activation::{Gelu, Sigmoid, Silu, Softplus, Tanh};
        for act in [Tanh, Sigmoid, Silu, Softplus, Gelu] {
            let worst = match_the_2d_rule(act, &input, |i, j| saturated[i] || saturated[j]);
            println!("{act}: worst {worst:e} of √(VarᵢVarⱼ)");
        }
    }

    /// The series closure of `act` on `input` against the 2-D rule (`pair_cov_fallback`) for
    /// the pairs j < i that `select` picks and against `moments_1d` for every variance, within
    /// the series' contract ([`fallback_above`]: 10⁻¹⁰·√(VarᵢVarⱼ) or the rounding floor) plus
    /// the 2-D rule's tested error 10⁻¹²·√(VarᵢVarⱼ); returns the largest pair error in
    /// units of √(VarᵢVarⱼ).
    fn match_the_2d_rule(
        act: Activation,
        input: &Moments,
        select: impl Fn(usize, usize) -> bool,
    ) -> f64 {
        use super::super::quadrature::moments_1d;
        let u = units(input, "test").unwrap();
        let n = input.dim();
        let got = HermiteClosure::new(act)
            .unwrap()
            .apply(input, Corrections::None)
            .unwrap();
        let reference: Vec<(f64, f64)> = (0..n).map(|i| moments_1d(act, u.mu[i], u.s[i])).collect();
        let unit = |i: usize| Unit {
            mu: u.mu[i],
            s: u.s[i],
            m: reference[i].0,
        };
        let contract = |i: usize, j: usize| {
            let (mi, vi) = reference[i];
            let (mj, vj) = reference[j];
            let floor = 4.0 * f64::EPSILON * (mi.abs() * vj.sqrt() + mj.abs() * vi.sqrt());
            (DEFAULT_TOLERANCE + 1e-12) * (vi * vj).sqrt() + floor
        };
        let mut worst: f64 = 0.0;
        for i in (0..n).filter(|&i| u.s[i] > 0.0) {
            let var = got.cov[(i, i)];
            assert!(
                (var - reference[i].1).abs() <= contract(i, i),
                "{act} Var[{i}] {var:e} vs {:e}",
                reference[i].1
            );
            for j in (0..i).filter(|&j| u.s[j] > 0.0 && select(i, j)) {
                let rho = correlation(input.cov[(i, j)], u.s[i], u.s[j]);
                let want = pair_cov_fallback(act, unit(i), unit(j), rho).0;
                let err = (got.cov[(i, j)] - want).abs();
                worst = worst.max(err / (reference[i].1 * reference[j].1).sqrt());
                assert!(
                    err <= contract(i, j),
                    "{act} C[{i},{j}] (ρ {rho:.4}) {:e} vs {want:e}",
                    got.cov[(i, j)]
                );
            }
        }
        worst
    }

    /// GELU's staged probes ([`probed_terms`] from [`FIRST_PROBE`], as [`layer_terms`] takes
    /// them) give the K of probes computed to the full depth at once, on layers whose 8 widest
    /// units span s = 0.3 … 12 at centres μ/s = 0 … ±4, for ρ* from 0.3 to 1 and depths 20
    /// (below the first probe) and 256: the layers' K cover both K ≤ 32 (settled at the
    /// first depth) and K > 32 (probes computed again, deeper), as asserted.
    #[test]
    fn gelu_staged_probes_give_the_full_depth_k() {
        let tol = DEFAULT_TOLERANCE;
        let (mut shallow, mut deep) = (0, 0);
        for (widest, spread) in [(0.3f64, 1.2f64), (1.0, 1.5), (3.0, 2.0), (12.0, 40.0)] {
            for centre in [0.0, 1.0, -2.5, 4.0] {
                // 12 units, s from `widest` down by `spread` in all, one deterministic.
                let s: Vec<f64> = (0..12)
                    .map(|i| widest / spread.powf(i as f64 / 11.0))
                    .chain([0.0])
                    .collect();
                let mu = s
                    .iter()
                    .enumerate()
                    .map(|(i, &sd)| sd * centre * (1.0 - 0.1 * i as f64))
                    .collect();
                let u = Units { mu, s };
                for rho_all in [0.3, 0.7, 0.9, 0.99, 1.0] {
                    for order in [20, WIDE_ORDER] {
                        let act = Activation::Gelu;
                        let staged = layer_terms(act, &u, rho_all, order, tol).0;
                        let whole = probed_terms(act, &u, rho_all, order, tol, order).0;
                        assert_eq!(
                            staged, whole,
                            "s {widest} μ/s {centre} ρ* {rho_all} K {order}"
                        );
                        if order == WIDE_ORDER {
                            shallow += usize::from(whole <= FIRST_PROBE);
                            deep += usize::from(whole > FIRST_PROBE);
                        }
                    }
                }
            }
        }
        assert!(
            shallow > 0 && deep > 0,
            "K ≤ 32 in {shallow} layers, > 32 in {deep}"
        );
    }

    /// Units not settled at the layer's K (`settled_at`) but known to K (not a rule in z's
    /// stored zeros), which bound their pairs through r*(L) and the per-vector limits like the
    /// settled ones, only the pairs above `column_pass` checked one by one: every pair of every
    /// unit against the 2-D rule, for tanh, sigmoid, SiLU, softplus and GELU, within the
    /// contract of [`match_the_2d_rule`]. The input has the lane-test input's correlations
    /// (ρ up to 1) and wide units placed so that the eight widest (`layer_terms`' probes) settle
    /// at a K that leaves others unsettled, as at ×64 of `closure_ratio … strong` (46–313 of 1024
    /// units): their coefficients decay slowest off centre for tanh and sigmoid, centred for
    /// the relu-like GELU, SiLU and softplus (kink-like feature at z = 0), so the probes (s = 80)
    /// sit where theirs decay fastest and the others (s = 40) where theirs decay slowest. The
    /// input is checked to hold at least three such units by the closure's own rule (K from
    /// `layer_terms`, ρ* capped as `closed_pairs` caps it).
    #[test]
    fn unsettled_units_known_to_k_match_the_2d_rule() {
        use super::super::input::lane_test_input;
        let lanes = lane_test_input(0.05);
        let n = lanes.dim();
        let tol = DEFAULT_TOLERANCE;
        use Activation::{Gelu, Sigmoid, Silu, Softplus, Tanh};
        for act in [Tanh, Sigmoid, Silu, Softplus, Gelu] {
            let (probe, other) = match act {
                Tanh | Sigmoid => (0.0, 3.0),
                _ => (3.0, 0.0),
            };
            // (sᵢ, μᵢ/sᵢ); a deterministic unit of the lane-test input stays deterministic, the
            // first PROBES others are the widest.
            let live: Vec<usize> = (0..n).filter(|&i| lanes.cov[(i, i)] > 0.0).collect();
            let unit = |i: usize| match (lanes.cov[(i, i)] > 0.0, live[..PROBES].contains(&i)) {
                (false, _) => (0.0, 0.0),
                (true, true) => (80.0, probe),
                (true, false) => (40.0, other),
            };
            let mut input = lanes.clone();
            for i in 0..n {
                input.mean[i] = unit(i).0 * unit(i).1;
                for j in 0..n {
                    let rho = lanes.cov[(i, j)] / (lanes.cov[(i, i)] * lanes.cov[(j, j)]).sqrt();
                    input.cov[(i, j)] = if rho.is_finite() {
                        rho * unit(i).0 * unit(j).0
                    } else {
                        0.0
                    };
                }
            }
            let u = units(&input, "test").unwrap();
            let rho_max = (0..n)
                .flat_map(|i| (0..i).map(move |j| (i, j)))
                .filter(|&(i, j)| u.s[i] > 0.0 && u.s[j] > 0.0)
                .map(|(i, j)| correlation(input.cov[(i, j)], u.s[i], u.s[j]).abs())
                .fold(0.0, f64::max);
            let cap = ClosedPairs::for_layer(act, &u.s, rho_max, false).cap();
            let rho_all = rho_max.min(cap);
            let k = layer_terms(act, &u, rho_all, WIDE_ORDER, tol).0;
            let coef = HermiteCoefficients::for_units(act, &u.mu, &u.s, k);
            let unsettled = (0..n)
                .filter(|&i| {
                    let rem = coef[i].remainders();
                    coef[i].known >= k
                        && !settled_at(
                            &coef[i].stats(),
                            |l| rem[l],
                            1.0,
                            |l| rho_all.powi(l as i32 + 1),
                            k,
                            tol,
                        )
                })
                .count();
            assert!(
                unsettled >= 3,
                "{act}: only {unsettled} unsettled units known to K = {k}"
            );
            let worst = match_the_2d_rule(act, &input, |_, _| true);
            println!("{act}: K {k}, {unsettled} unsettled units, worst {worst:e} of √(VarᵢVarⱼ)");
        }
    }
}
