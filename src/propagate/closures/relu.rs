//! φ(h) = max(h, 0): exact Gaussian closure through Φ₂ (DESIGN.md §3, "ReLU").

use std::cell::Cell;
use std::f64::consts::FRAC_PI_2;
use std::sync::OnceLock;

use rayon::prelude::*;

use pulp::{Simd, WithSimd};

use super::bvn::{
    failing_lanes, herm_index, hermite_table_into, lane_terms, mehler_terms, plackett_lanes,
    series_plackett, LaneQueue, HERM_BLOCK, MAX_LANES, SERIES_MAX_RHO, SERIES_TERMS,
};
use super::edgeworth::{corrected, Fallbacks};
use super::input::{correlation, reset_output, units, Isa};
use super::relu_tail::TailNodes;
use super::relu_terms::ReluTerms;
use super::rules::gauss_legendre;
use super::{Closure, Corrections};
use crate::error::Result;
use crate::linalg::fill_symmetric;
use crate::simd::{load, store};
use crate::special::bvn::genz_rule;
use crate::special::{bvn_cdf, normal_cdf, normal_pdf};
use crate::stats::Moments;

/// Exact Gaussian closure of the relu (DESIGN.md §3), with κ₃/κ₄ corrections from the closed
/// forms of `relu_terms` ([`super::edgeworth`]).
#[derive(Clone, Copy, Debug, Default)]
pub struct ReluClosure;

/// Below this standardised mean the closed-form variance cancels too much (at a = −1.5 the
/// terms are 10× the result, ~1 digit; at a = −3, 65×), and Price's theorem takes over.
const PRICE_BELOW: f64 = -1.5;

/// Beyond |a| = |μ|/s = 38 a unit is deterministic to the range of f64: Φ(−38) ≈ 2.9·10⁻³¹⁶
/// and φ(38) ≈ 1.1·10⁻³¹⁴ are subnormal, so relu(h) = h (a > 38) or 0 (a < −38) except on an
/// event of probability below 3·10⁻³¹⁶ ([`Regime`]).
pub(crate) const DETERMINISTIC_BEYOND: f64 = 38.0;

/// Which form of the closure a unit with s > 0 takes, by its standardised mean a = μ/s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Regime {
    /// |a| ≤ [`DETERMINISTIC_BEYOND`]: the closed forms.
    Regular,
    /// a > 38: relu(h) = h to f64 range. m = μ (exact: the neglected s(φ(a) − aΦ(−a)) < s·10⁻³¹⁷),
    /// Var = s² (the neglected s²(2Φ(−a) − Var[relu(−h)]/s²) < s²·10⁻³¹⁵).
    On,
    /// a < −38: relu(h) = 0 to f64 range. m = 0 and Var = 0 (the true values, < s·10⁻³¹⁷ and
    /// s²·10⁻³¹⁶, are below the smallest normal multiple of s and s²).
    Off,
}

impl Regime {
    /// The regime of a unit with standardised mean `a` (NaN counts as regular).
    pub(crate) fn of(a: f64) -> Self {
        if a > DETERMINISTIC_BEYOND {
            Regime::On
        } else if a < -DETERMINISTIC_BEYOND {
            Regime::Off
        } else {
            Regime::Regular
        }
    }
}

/// Mean and variance of max(h, 0), h ~ N(μ, s²), a = μ/s:
/// m = μΦ(a) + sφ(a), Var = (μ² + s²)Φ(a) + μsφ(a) − m² for a ≥ −1.5. Further below, that
/// difference cancels (≈ a⁴ digits lost), so the variance is taken instead from Price's
/// theorem with its integrals exchanged (every term positive), by at most 9 panels of 20-point
/// Gauss–Legendre (`tail_variance`):
///
/// ```text
/// Var/s² = Φ(a)² + (1/2π) ∫₀^{π/2} 2 sin²(u/2) exp(−a²/(2 cos²(u/2))) du.
/// ```
///
/// Beyond |a| = 38 the unit is deterministic to f64 range (`Regime`): (μ, s²) above, (0, 0)
/// below. A deterministic unit (s = 0) gives (max(μ, 0), 0). The cost is bounded for every
/// (μ, s): at most 180 integrand evaluations.
pub fn relu_moments(mu: f64, s: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (mu.max(0.0), 0.0);
    }
    let a = mu / s;
    match Regime::of(a) {
        Regime::On => return (mu, s * s),
        Regime::Off => return (0.0, 0.0),
        Regime::Regular => {}
    }
    regular_moments(mu, s, a, normal_cdf(a), normal_pdf(a))
}

/// [`relu_moments`] of a regular unit (s > 0, |a| ≤ [`DETERMINISTIC_BEYOND`]) given
/// a = μ/s, Φ(a) and φ(a) (the closure has them already for its pairs).
fn regular_moments(mu: f64, s: f64, a: f64, big_phi: f64, small_phi: f64) -> (f64, f64) {
    let m = mu * big_phi + s * small_phi;
    if a >= PRICE_BELOW {
        let var = (mu * mu + s * s) * big_phi + mu * s * small_phi - m * m;
        return (m, var.max(0.0));
    }
    (m, tail_variance(a, s))
}

/// The 20-point Gauss–Legendre rule, computed once.
fn rule20() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| gauss_legendre(20))
}

/// Var[max(h, 0)] without cancellation. Price's theorem gives Var = s² ∫₀¹ Φ₂(a, a; r) dr;
/// with Φ₂(a, a; r) = Φ(a)² + ∫₀^r φ₂(a, a; t) dt and φ₂(a, a; t) = e^{−a²/(1+t)}/(2π√(1−t²)),
/// exchanging the integrals and substituting t = cos u:
///
/// ```text
/// Var/s² = Φ(a)² + ∫₀¹ (1 − t) φ₂(a, a; t) dt
///        = Φ(a)² + (1/2π) ∫₀^{π/2} 2 sin²(u/2) exp(−a²/(2 cos²(u/2))) du,
/// ```
///
/// every term positive and smooth (2 sin²(u/2) = 1 − cos u without its cancellation near
/// u = 0). The exponent falls by a²tan²(u/2)/2 from its value −a²/2 at u = 0; the range is cut
/// where that fall reaches [`TAIL_EXPONENT`] = 128 (u = 2 atan(16/|a|), only for |a| > 16: the
/// part dropped is below e⁻¹²⁸·π/2 relative to e^{−a²/2}, under 10⁻⁵⁰ of the integral for
/// |a| ≤ 38), and the kept range gets ⌈1 + fall/16⌉ ≤ 9 panels of 20-point Gauss–Legendre
/// ([`tail_panels`]; as for Price's Φ₂ integral before, at one sin, cos and exp per node
/// instead of a bivariate normal cdf).
fn tail_variance(a: f64, s: f64) -> f64 {
    let upper = tail_range(a);
    let integral = if upper < FRAC_PI_2 {
        // Cut range (|a| > 16): e^{−a²/2} is factored out, since exp of the whole exponent
        // (up to −722) would carry its rounding, a²ε/2 ≈ 10⁻¹³ relative, into every node;
        // the remaining exp(−a²tan²(u/2)/2) has an argument of at most 128.
        let peak = (-0.5 * a * a).exp();
        peak * panel_rule(a, upper, |u| {
            let (sn, t) = ((0.5 * u).sin(), (0.5 * u).tan());
            2.0 * sn * sn * (-0.5 * a * a * t * t).exp()
        })
    } else {
        // The full range: the nodes' factors depend on the panel count only (`full_range_nodes`),
        // summed on SIMD lanes.
        let width = upper / tail_panels(a) as f64;
        0.5 * width * full_range_nodes(tail_panels(a)).sum(a * a)
    };
    let big_phi = normal_cdf(a);
    s * s * (big_phi * big_phi + integral / (2.0 * std::f64::consts::PI))
}

/// The nodes (wₖ, 2 sin²(uₖ/2), 2 cos²(uₖ/2)) of [`tail_variance`]'s integrand on the full
/// range [0, π/2] split into `panels` panels of 20-point Gauss–Legendre, in [`panel_rule`]'s
/// order (panel by panel, the rule's nodes in order), computed once per panel count (1 to 9,
/// [`tail_panels`]) by the expressions the integrand used per call: the same node factors,
/// without a sin and cos per node and call.
fn full_range_nodes(panels: usize) -> &'static TailNodes {
    static NODES: OnceLock<Vec<TailNodes>> = OnceLock::new();
    let all = NODES.get_or_init(|| {
        let (x, w) = rule20();
        (0..=tail_panels(f64::INFINITY))
            .map(|panels| {
                let width = FRAC_PI_2 / panels as f64;
                TailNodes::new((0..panels).flat_map(|p| {
                    let mid = (p as f64 + 0.5) * width;
                    x.iter().zip(w).map(move |(xi, &wi)| {
                        let (sn, cs) = (0.5 * (mid + 0.5 * width * xi)).sin_cos();
                        (wi, 2.0 * sn * sn, 2.0 * cs * cs)
                    })
                }))
            })
            .collect()
    });
    &all[panels]
}

/// The fall of the tail integrand's exponent over which [`tail_variance`] integrates:
/// e⁻¹²⁸ ≈ 2.6·10⁻⁵⁶.
const TAIL_EXPONENT: f64 = 128.0;

/// The upper end of [`tail_variance`]'s range: π/2, or for a²/2 > [`TAIL_EXPONENT`] the u where
/// a²tan²(u/2)/2 = TAIL_EXPONENT, 2 atan(√(2·TAIL_EXPONENT)/|a|).
fn tail_range(a: f64) -> f64 {
    if 0.5 * a * a <= TAIL_EXPONENT {
        FRAC_PI_2
    } else {
        2.0 * ((2.0 * TAIL_EXPONENT).sqrt() / a.abs()).atan()
    }
}

/// Panels of [`panel_rule`]: ⌈1 + min(a²/2, [`TAIL_EXPONENT`])/16⌉, i.e. the exponent falls by
/// at most 16 per panel, and never more than 9 panels whatever a is.
pub(crate) fn tail_panels(a: f64) -> usize {
    (1.0 + (0.5 * a * a).min(TAIL_EXPONENT) / 16.0).ceil() as usize
}

/// ∫₀^`upper` f by [`tail_panels`](a) panels of 20-point Gauss–Legendre.
fn panel_rule(a: f64, upper: f64, f: impl Fn(f64) -> f64) -> f64 {
    let (x, w) = rule20();
    let panels = tail_panels(a);
    let width = upper / panels as f64;
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = (p as f64 + 0.5) * width;
        for (xi, wi) in x.iter().zip(w) {
            sum += wi * f(mid + 0.5 * width * xi);
        }
    }
    0.5 * width * sum
}

/// Var[max(h, 0)] = s² ∫₀^{π/2} Φ₂(a, a; sin θ) cos θ dθ (Price's theorem), by [`tail_panels`]
/// panels of 20-point Gauss–Legendre: the reference for [`tail_variance`] in the tests.
#[cfg(test)]
fn price_variance(a: f64, s: f64) -> f64 {
    s * s * panel_rule(a, FRAC_PI_2, |t| t.cos() * bvn_cdf(a, a, t.sin()))
}

/// E[hᵢ⁺hⱼ⁺]/(sᵢsⱼ) for standardised means a, b and correlation ρ (DESIGN.md §3):
/// (ab + ρ)Φ₂(a, b; ρ) + aφ(b)Φ((a − ρb)/q) + bφ(a)Φ((b − ρa)/q) + qφ(b)φ((a − ρb)/q),
/// q = √(1 − ρ²). At q = 0 (ρ = ±1) the ratios take their limits (±∞, or 0 when the numerator
/// vanishes), which reproduces the degenerate expectation without NaN.
pub fn relu_cross(a: f64, b: f64, rho: f64) -> f64 {
    let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
    let xa = ratio(a - rho * b, q);
    let xb = ratio(b - rho * a, q);
    (a * b + rho) * bvn_cdf(a, b, rho)
        + a * normal_pdf(b) * normal_cdf(xa)
        + b * normal_pdf(a) * normal_cdf(xb)
        + q * normal_pdf(b) * normal_pdf(xa)
}

/// num/q with the limits num/0 = ±∞ and 0/0 = 0 (also used by the relu closure's VJP).
#[inline]
pub(crate) fn ratio(num: f64, q: f64) -> f64 {
    if q > 0.0 {
        num / q
    } else if num == 0.0 {
        0.0
    } else {
        num.signum() * f64::INFINITY
    }
}

impl Closure for ReluClosure {
    fn positively_homogeneous(&self) -> bool {
        true
    }

    fn name(&self) -> String {
        "relu (Φ₂ closed form)".into()
    }

    /// mᵢ and Cᵢᵢ by [`relu_moments`]; Cᵢⱼ = sᵢsⱼ·[`relu_cross`] − mᵢmⱼ; rows of deterministic
    /// units are zero.
    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        corrected(
            input,
            corrections,
            out,
            "relu",
            |out| relu_apply(input, out, Isa::Dispatch),
            |u| ReluTerms {
                mu: u.mu.clone(),
                s: u.s.clone(),
            },
        )
    }
}

/// [`ReluClosure`]'s `apply_into`, with its lanes on `isa`.
fn relu_apply(input: &Moments, out: &mut Moments, isa: Isa) -> Result<()> {
    let u = units(input, "relu")?;
    let n = input.dim();
    reset_output(out, n);
    let regime: Vec<Regime> = (0..n)
        .map(|i| {
            if u.s[i] > 0.0 {
                Regime::of(u.mu[i] / u.s[i])
            } else {
                Regime::Regular
            }
        })
        .collect();
    // The lanes see a clamped to ±38 (finite Hermite values); their entries for units beyond
    // are overwritten by the limit below.
    let a: Vec<f64> = (0..n)
        .map(|i| {
            if u.s[i] > 0.0 {
                (u.mu[i] / u.s[i]).clamp(-DETERMINISTIC_BEYOND, DETERMINISTIC_BEYOND)
            } else {
                0.0
            }
        })
        .collect();
    let phi_a: Vec<f64> = a.iter().map(|&x| normal_cdf(x)).collect();
    let pdf_a: Vec<f64> = a.iter().map(|&x| normal_pdf(x)).collect();
    // A regular unit's a is its μ/s unclamped: relu_moments' Φ(a) and φ(a) are those above.
    let (m, var): (Vec<f64>, Vec<f64>) = (0..n)
        .into_par_iter()
        .map(|i| {
            let (mu, s) = (u.mu[i], u.s[i]);
            if s > 0.0 && regime[i] == Regime::Regular {
                regular_moments(mu, s, a[i], phi_a[i], pdf_a[i])
            } else {
                relu_moments(mu, s)
            }
        })
        .unzip();
    for (i, mi) in m.iter().enumerate() {
        out.mean[i] = *mi;
    }
    // E[relu'(hₖ)] = Φ(aₖ): 1 on, 0 off (and 0 for s = 0, whose rows are zero anyway).
    let slope: Vec<f64> = (0..n)
        .map(|k| match regime[k] {
            Regime::On => 1.0,
            Regime::Off => 0.0,
            Regime::Regular => phi_a[k],
        })
        .collect();
    let limits: Vec<usize> = (0..n)
        .filter(|&k| u.s[k] > 0.0 && regime[k] != Regime::Regular)
        .collect();
    // A pair with a unit beyond ±38: relu(hₖ) = hₖ·1[on] to f64 range, so by Stein's lemma
    // Cᵢⱼ = Cov(hᵢ, relu(hⱼ))·… = sᵢsⱼρ·E[relu'(hᵢ)]·E[relu'(hⱼ)], exact up to s·sⱼ·10⁻¹⁵⁸.
    let limit_cov = |i: usize, j: usize, sigma_ij: f64| {
        let (si, sj) = (u.s[i], u.s[j]);
        si * sj * correlation(sigma_ij, si, sj) * slope[i] * slope[j]
    };
    let terms = mehler_terms(series_rho_bound(input, &u.s, &regime));
    // The thread's tables, taken out for this call (a call nested on this thread, a stolen
    // class's closure, finds none and allocates its own) and put back after it.
    let (mut herm, mut factors) = TABLES.take();
    hermite_table_into(&a, terms, &mut herm);
    mehler_table_into(&herm, terms, isa, &mut factors);
    let arch = pulp::Arch::new();
    let filled = fill_symmetric(&mut out.cov, |i, col| {
        let sig = &input.cov.col_as_slice(i)[..=i];
        if u.s[i] > 0.0 && regime[i] == Regime::Regular {
            isa.run(
                arch,
                ReluLanes {
                    out: col,
                    sig,
                    s: &u.s[..=i],
                    a: &a[..=i],
                    m: &m[..=i],
                    cdf_a: &phi_a[..=i],
                    pdf_a: &pdf_a[..=i],
                    herm: &herm,
                    column: &factors[herm_index(i, 0)..],
                    i,
                },
            );
            for &j in limits.iter().take_while(|&&j| j < i) {
                col[j] = limit_cov(i, j, sig[j]);
            }
        } else if u.s[i] > 0.0 {
            for (j, c) in col.iter_mut().enumerate() {
                *c = limit_cov(i, j, sig[j]);
            }
        } else {
            col.fill(0.0);
        }
        col[i] = var[i];
    });
    TABLES.set((herm, factors));
    filled
}

thread_local! {
    /// The Hermite table and the Mehler factors of [`relu_apply`], reused from layer to layer
    /// on each thread: only the rows below the layer's term count are written and read
    /// ([`hermite_table_into`], [`mehler_table_into`]), instead of two zeroed tables of
    /// N/8·8·120 entries (61 KB each at N = 64) allocated per layer. Each thread that ran the
    /// closure keeps the largest layer's pair (1.9 MB at N = 1024).
    static TABLES: Cell<(Vec<f64>, Vec<f64>)> = const { Cell::new((Vec::new(), Vec::new())) };
}

/// The factors ĥₘ(aⱼ)/((m+1)(m+2)) of relu's Mehler series for m < `terms` into `out` (resized
/// to `herm`'s length; rows from `terms` on, which no lane vector reads, keep what `out`
/// held), from the [`hermite_table`] `herm` and in its layout ([`herm_index`]): the units of a
/// block divided side by side on SIMD lanes (`MehlerLanes`, the same correctly rounded
/// quotients as one at a time), instead of a serial division per term in every column.
/// Column i's factors are its entries from [`herm_index`](i, 0) on, strided by [`HERM_BLOCK`].
fn mehler_table_into(herm: &[f64], terms: usize, isa: Isa, out: &mut Vec<f64>) {
    out.resize(herm.len(), 0.0);
    isa.run(pulp::Arch::new(), MehlerLanes { herm, out, terms });
}

/// The lanes of [`mehler_table`].
struct MehlerLanes<'a> {
    herm: &'a [f64],
    out: &'a mut [f64],
    terms: usize,
}

impl WithSimd for MehlerLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let blocks = self.out.chunks_exact_mut(HERM_BLOCK);
        for (k, (o, h)) in blocks.zip(self.herm.chunks_exact(HERM_BLOCK)).enumerate() {
            let m = k % SERIES_TERMS;
            if m < self.terms {
                let d = simd.splat_f64s(((m + 1) * (m + 2)) as f64);
                for (o, h) in o.chunks_mut(S::F64_LANES).zip(h.chunks(S::F64_LANES)) {
                    store(simd, o, simd.div_f64s(load(simd, h), d));
                }
            }
        }
    }
}

/// An upper bound of the largest |ρᵢⱼ| = |Σᵢⱼ/(sᵢsⱼ)| that a lane of [`ReluLanes`] sums by the
/// series (the columns i of regular units with sᵢ > 0, the rows j ≤ i with sⱼ > 0,
/// |ρᵢⱼ| < [`SERIES_MAX_RHO`]), at most [`SERIES_MAX_RHO`]: each |Σᵢⱼ|·(1/sᵢ · 1/sⱼ), within
/// 4ε of the lanes' rounded Σᵢⱼ/(sᵢsⱼ), capped at SERIES_MAX_RHO, their largest raised by 8ε.
/// Every lane vector takes [`mehler_terms`] of its own largest such |ρ|, so [`mehler_terms`]
/// of this one (a non-decreasing step function) bounds the terms of the whole layer: the
/// table and column factors beyond it are never read.
fn series_rho_bound(input: &Moments, s: &[f64], regime: &[Regime]) -> f64 {
    let inv_s: Vec<f64> = s
        .iter()
        .map(|&s| if s > 0.0 { 1.0 / s } else { 0.0 })
        .collect();
    let mut max = [0.0f64; HERM_BLOCK];
    for i in (0..s.len()).filter(|&i| s[i] > 0.0 && regime[i] == Regime::Regular) {
        let sig = &input.cov.col_as_slice(i)[..=i];
        for (sig, inv_sj) in sig.chunks(HERM_BLOCK).zip(inv_s[..=i].chunks(HERM_BLOCK)) {
            for ((max, &sig), &inv_sj) in max.iter_mut().zip(sig).zip(inv_sj) {
                let r = (sig.abs() * (inv_s[i] * inv_sj)).min(SERIES_MAX_RHO);
                *max = max.max(r);
            }
        }
    }
    let max = max.iter().fold(0.0f64, |a, &b| a.max(b));
    (max * (1.0 + 8.0 * f64::EPSILON)).min(SERIES_MAX_RHO)
}

/// SIMD lanes over j < i of column i: Cᵢⱼ = sᵢsⱼ·[`relu_cross`](aᵢ, aⱼ, ρ) − mᵢmⱼ. Each lane
/// takes the path its own |ρ| calls for, whatever its neighbours do:
/// - |ρ| < [`SERIES_MAX_RHO`] = 0.75: Mehler's series of the relu in place (the other lanes of
///   the vector enter it with ρ = 0 and are overwritten afterwards). With f(z) = max(a + z, 0),
///   Gaussian integration by parts gives E[f Heₙ] = E[f⁽ⁿ⁾]: Φ(a) for n = 1 and
///   E[δ⁽ⁿ⁻²⁾(z + a)] = (−1)ⁿ Heₙ₋₂(a) φ(a) for n ≥ 2, so with ĥₘ = Heₘ/√m!
///
/// ```text
/// Cᵢⱼ/(sᵢsⱼ) = Σ_{n≥1} ρⁿ E[fᵢHeₙ] E[fⱼHeₙ]/n!
///            = ρ Φ(aᵢ)Φ(aⱼ) + φ(aᵢ)φ(aⱼ) ρ² Σ_{m≥0} ρᵐ ĥₘ(aᵢ)ĥₘ(aⱼ)/((m+1)(m+2)),
/// ```
///
///   evaluated by `bvn::tetrachoric_lanes` with the column factors ĥₘ(aᵢ)/((m+1)(m+2))
///   (`ReluLanes::column`): no Φ, φ, square root or division per pair. Its terms are those of the
///   tetrachoric series times ρ/(m+2); `bvn::mehler_terms` takes enough of them for Cramér's
///   bound on the remainder, 0.19|ρ|^{n+2}/((n+1)(n+2)(1−|ρ|)), to stay below 1e-17·sᵢsⱼ;
/// - 0.75 ≤ |ρ| < 0.925: the lane index is queued, and full vectors of queued lanes are gathered
///   into contiguous buffers, run through [`plackett_lanes`] (Genz's 20-point branch) and the
///   closed form ([`relu_lanes`]) and scattered back;
/// - |ρ| ≥ 0.925 (and sⱼ = 0): the scalar [`relu_cross`]; the diagonal is left to the caller.
///
/// Requires sᵢ > 0.
struct ReluLanes<'a> {
    out: &'a mut [f64],
    sig: &'a [f64],
    s: &'a [f64],
    a: &'a [f64],
    m: &'a [f64],
    cdf_a: &'a [f64],
    pdf_a: &'a [f64],
    /// ĥₘ(aⱼ) of every unit, in the blocked layout of [`hermite_table`].
    herm: &'a [f64],
    /// ĥₘ(aᵢ)/((m+1)(m+2)) of this column, the m-th at `column[m·HERM_BLOCK]`: the
    /// [`mehler_table`] from [`herm_index`](i, 0) on, read in place (no copy per column).
    column: &'a [f64],
    i: usize,
}

/// The per-lane inputs of [`relu_lanes`] for unit j, loaded from the column (in place) or from
/// the gather buffers.
struct LaneInputs<V> {
    r: V,
    sj: V,
    aj: V,
    mj: V,
    cdf_aj: V,
    pdf_aj: V,
}

/// The column-constant factors of [`relu_lanes`].
#[derive(Clone, Copy)]
struct ColumnConsts {
    si: f64,
    ai: f64,
    mi: f64,
    cdf_ai: f64,
    pdf_ai: f64,
}

/// sᵢsⱼ·[`relu_cross`](aᵢ, aⱼ, ρ) − mᵢmⱼ on lanes, given `plackett` = Φ₂(aᵢ, aⱼ; ρ) − Φ(aᵢ)Φ(aⱼ):
/// (ab + ρ)Φ₂ + aφ(b)Φ(xa) + bφ(a)Φ(xb) + qφ(b)φ(xa), q = √(1 − ρ²), xa = (a − ρb)/q,
/// xb = (b − ρa)/q, with Φ₂ clamped to [0, 1]. Valid for |ρ| < 1.
#[inline(always)]
fn relu_lanes<S: Simd>(
    simd: S,
    c: ColumnConsts,
    l: &LaneInputs<S::f64s>,
    plackett: S::f64s,
) -> S::f64s {
    use crate::simd::{norm_cdf, norm_pdf};
    let (zero, one) = (simd.splat_f64s(0.0), simd.splat_f64s(1.0));
    let (ai_v, r, aj) = (simd.splat_f64s(c.ai), l.r, l.aj);
    let hk = simd.mul_f64s(ai_v, aj);
    let bvn = simd.mul_add_f64s(simd.splat_f64s(c.cdf_ai), l.cdf_aj, plackett);
    let bvn = simd.min_f64s(simd.max_f64s(bvn, zero), one);
    let q = simd.sqrt_f64s(simd.mul_f64s(simd.sub_f64s(one, r), simd.add_f64s(one, r)));
    let inv_q = simd.div_f64s(one, q);
    let xa = simd.mul_f64s(simd.negate_mul_add_f64s(r, aj, ai_v), inv_q);
    let xb = simd.mul_f64s(simd.negate_mul_add_f64s(r, ai_v, aj), inv_q);
    let pdf_xa = norm_pdf(simd, xa);
    // (ab + ρ)Φ₂ + aφ(b)Φ(xa) + bφ(a)Φ(xb) + qφ(b)φ(xa)
    let mut cross = simd.mul_f64s(simd.add_f64s(hk, r), bvn);
    cross = simd.mul_add_f64s(simd.mul_f64s(ai_v, l.pdf_aj), norm_cdf(simd, xa), cross);
    cross = simd.mul_add_f64s(
        simd.mul_f64s(aj, simd.splat_f64s(c.pdf_ai)),
        norm_cdf(simd, xb),
        cross,
    );
    cross = simd.mul_add_f64s(simd.mul_f64s(q, l.pdf_aj), pdf_xa, cross);
    simd.mul_add_f64s(
        simd.mul_f64s(simd.splat_f64s(c.si), l.sj),
        cross,
        simd.mul_f64s(simd.splat_f64s(-c.mi), l.mj),
    )
}

/// One vector of lanes j..end of [`ReluLanes`]: sⱼ, which lanes take the series (|ρ| <
/// [`SERIES_MAX_RHO`], sⱼ > 0), their ρ (0 in the other lanes) and the vector's term count.
struct LaneRho<V, M> {
    j: usize,
    end: usize,
    sj: V,
    series_ok: M,
    r: V,
    terms: usize,
}

impl ReluLanes<'_> {
    /// The [`LaneRho`] of the vector starting at lane `j`, ρ = Σᵢⱼ/(sᵢsⱼ) with `si_v` = sᵢ.
    #[inline(always)]
    fn lane_rho<S: Simd>(&self, simd: S, j: usize, si_v: S::f64s) -> LaneRho<S::f64s, S::m64s> {
        let zero = simd.splat_f64s(0.0);
        let end = (j + S::F64_LANES).min(self.out.len());
        let sig = load(simd, &self.sig[j..end]);
        let sj = load(simd, &self.s[j..end]);
        let rho = simd.div_f64s(sig, simd.mul_f64s(si_v, sj));
        let series_ok = simd.and_m64s(
            simd.less_than_f64s(simd.abs_f64s(rho), simd.splat_f64s(SERIES_MAX_RHO)),
            simd.greater_than_f64s(sj, zero),
        );
        let r = simd.select_f64s(series_ok, rho, zero);
        LaneRho {
            j,
            end,
            sj,
            series_ok,
            r,
            terms: lane_terms(simd, r, mehler_terms),
        }
    }

    /// Gathers the queued lanes, runs Genz's 20-point Gauss–Legendre sum and the cross formula
    /// on them and scatters the results to `out`; empties the queue.
    #[inline(always)]
    fn flush<S: Simd>(&mut self, simd: S, c: ColumnConsts, queue: &mut LaneQueue) {
        let n = queue.len;
        if n == 0 {
            return;
        }
        let gather = |v: &[f64]| {
            let mut buf = [0.0; MAX_LANES];
            for (b, &k) in buf.iter_mut().zip(&queue.idx[..n]) {
                *b = v[k];
            }
            load(simd, &buf[..n])
        };
        let l = LaneInputs {
            r: load(simd, &queue.r[..n]),
            sj: gather(self.s),
            aj: gather(self.a),
            mj: gather(self.m),
            cdf_aj: gather(self.cdf_a),
            pdf_aj: gather(self.pdf_a),
        };
        let ai_v = simd.splat_f64s(c.ai);
        let hk = simd.mul_f64s(ai_v, l.aj);
        let hs = simd.mul_f64s(
            simd.splat_f64s(0.5),
            simd.mul_add_f64s(ai_v, ai_v, simd.mul_f64s(l.aj, l.aj)),
        );
        let max_r = queue.r[..n].iter().fold(0.0f64, |m, r| m.max(r.abs()));
        let plackett = plackett_lanes(simd, hk, hs, l.r, genz_rule(max_r));
        let mut res = [0.0; MAX_LANES];
        store(simd, &mut res[..n], relu_lanes(simd, c, &l, plackett));
        for (&k, v) in queue.idx[..n].iter().zip(res) {
            self.out[k] = v;
        }
        queue.len = 0;
    }
}

impl WithSimd for ReluLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let i = self.i;
        let len = self.out.len();
        let c = ColumnConsts {
            si: self.s[i],
            ai: self.a[i],
            mi: self.m[i],
            cdf_ai: self.cdf_a[i],
            pdf_ai: self.pdf_a[i],
        };
        let si_v = simd.splat_f64s(c.si);
        let pdf_ai = simd.splat_f64s(c.pdf_ai);
        let cdf_ai = simd.splat_f64s(c.cdf_ai);
        let mut queue = LaneQueue::new();
        // The next vector's ρ and term count are computed before this vector's series, so
        // that their chain (a division, a reduction, the term lookup) overlaps the series
        // instead of following its loop exit.
        let mut next = Some(self.lane_rho(simd, 0, si_v));
        while let Some(LaneRho {
            j,
            end,
            sj,
            series_ok,
            r,
            terms,
        }) = next
        {
            next = (end < len).then(|| self.lane_rho(simd, end, si_v));
            // Mehler: C = sᵢsⱼ ρ (Φ(aᵢ)Φ(aⱼ) + φ(aᵢ)φ(aⱼ) ρ Σₘ ρᵐ ĥₘ(aᵢ)ĥₘ(aⱼ)/((m+1)(m+2))).
            let pdf_hk = simd.mul_f64s(pdf_ai, load(simd, &self.pdf_a[j..end]));
            let tail = series_plackett::<S, HERM_BLOCK>(
                simd,
                r,
                pdf_hk,
                (self.column, terms),
                self.herm,
                j..end,
            );
            let cdf_hk = simd.mul_f64s(cdf_ai, load(simd, &self.cdf_a[j..end]));
            let cov = simd.mul_f64s(
                simd.mul_f64s(si_v, sj),
                simd.mul_f64s(r, simd.add_f64s(cdf_hk, tail)),
            );
            store(simd, &mut self.out[j..end], cov);
            if let Some(rest) = failing_lanes(simd, series_ok, j..end) {
                for k in rest.filter(|&k| k != i) {
                    let sk = self.s[k];
                    let rho = correlation(self.sig[k], c.si, sk);
                    if sk > 0.0 && rho.abs() < 0.925 {
                        if queue.push(k, rho, S::F64_LANES) {
                            self.flush(simd, c, &mut queue);
                        }
                    } else {
                        self.out[k] = if sk > 0.0 {
                            c.si * sk * relu_cross(c.ai, self.a[k], rho) - c.mi * self.m[k]
                        } else {
                            0.0
                        };
                    }
                }
            }
        }
        self.flush(simd, c, &mut queue);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::input::lane_test_input;

    /// The cached full-range nodes summed on lanes give the integral the integrand's own sin,
    /// cos and libm exp per node gave (the tail variance before the cache), for every panel
    /// count up to the cut range (|a| ≤ 16). Both are sums of n ≤ 180 positive terms: each
    /// term agrees to 6ε (the same node factors; `simd::exp` and libm's exp within 2 ulp each
    /// of e^x, and the products' roundings), the serial sum carries at most (n − 1)ε of
    /// rounding and the lanes' at most (n/L + L)ε ≤ 31ε, so 6 + 179 + 31 = 216ε relative.
    #[test]
    fn cached_tail_nodes_give_the_per_call_integral() {
        for a in [-1.5001, -2.5, -4.0, -6.0, -9.0, -12.5, -15.9, -16.0] {
            let per_call = panel_rule(a, FRAC_PI_2, |u| {
                let (sn, cs) = (0.5 * u).sin_cos();
                2.0 * sn * sn * (-a * a / (2.0 * cs * cs)).exp()
            });
            let big_phi = normal_cdf(a);
            let want = 1.7 * 1.7 * (big_phi * big_phi + per_call / (2.0 * std::f64::consts::PI));
            let got = tail_variance(a, 1.7);
            assert!(
                (got - want).abs() <= 216.0 * f64::EPSILON * want,
                "a = {a}: {got:e} vs {want:e}"
            );
        }
    }

    /// The layer's series bound covers every lane the column kernels sum by the series (|ρ|
    /// as they round it, Σᵢⱼ/(sᵢsⱼ)), so its term count is at least every vector's; and the
    /// Mehler factors are the column's quotients ĥₘ(aⱼ)/((m+1)(m+2)) bit for bit up to it,
    /// on every instruction set, written into a reused buffer.
    #[test]
    fn series_bound_and_mehler_factors_cover_the_lanes() {
        for diag in [0.0, 0.3, 3.0] {
            let input = lane_test_input(diag);
            let u = units(&input, "relu").unwrap();
            let n = input.dim();
            let regime: Vec<Regime> = (0..n)
                .map(|i| Regime::of(u.mu[i] / u.s[i].max(f64::MIN_POSITIVE)))
                .collect();
            let mut exact = 0.0f64;
            for i in (0..n).filter(|&i| u.s[i] > 0.0 && regime[i] == Regime::Regular) {
                for j in (0..=i).filter(|&j| u.s[j] > 0.0) {
                    let r = (input.cov[(j, i)] / (u.s[i] * u.s[j])).abs();
                    if r < SERIES_MAX_RHO {
                        exact = exact.max(r);
                    }
                }
            }
            let bound = series_rho_bound(&input, &u.s, &regime);
            assert!(
                bound >= exact && bound <= SERIES_MAX_RHO,
                "{bound} vs {exact}"
            );
            let terms = mehler_terms(bound);
            assert!(terms >= mehler_terms(exact));
            let a: Vec<f64> = (0..n).map(|i| (0.37 * i as f64 - 6.0) / 3.0).collect();
            let herm = crate::propagate::closures::bvn::hermite_table(&a, terms);
            for isa in [Isa::Dispatch, Isa::Avx2, Isa::Scalar] {
                // A reused buffer: stale NaN from a longer layer.
                let mut factors = vec![f64::NAN; herm.len() + 5 * HERM_BLOCK * SERIES_TERMS];
                mehler_table_into(&herm, terms, isa, &mut factors);
                assert_eq!(factors.len(), herm.len());
                for i in 0..n {
                    for m in 0..terms {
                        let c = factors[herm_index(i, m)];
                        let want = herm[herm_index(i, m)] / ((m + 1) * (m + 2)) as f64;
                        assert_eq!(c.to_bits(), want.to_bits(), "{isa:?} unit {i} term {m}");
                    }
                }
            }
        }
    }

    /// The SIMD lanes against the scalar formula pair by pair.
    #[test]
    fn closed_form_variance_agrees_with_price_above_the_switch() {
        for a in [PRICE_BELOW, -1.2, -0.7, -0.3, -1e-3] {
            let (_, var) = relu_moments(a, 1.0);
            let price = price_variance(a, 1.0);
            assert!(
                (var - price).abs() <= 1e-14 * price,
                "a = {a}: {var} vs {price}"
            );
        }
    }

    /// The lanes on AVX-512 (where dispatched), AVX2 and scalar against the scalar formula pair
    /// by pair. Pairs per path of [`ReluLanes`]: series below 0.5, series in [0.5, 0.75), gathered
    /// Gauss–Legendre in [0.75, 0.925), scalar at and above 0.925.
    /// Against Var/s² = φ g₂ − (φ g₁)², g₁ = 1 − xR, g₂ = (x² + 1)R − x, x = −a, with the
    /// Mills ratio R = Φ(−x)/φ(x) from its continued fraction (20 000 levels), all in 80-digit
    /// decimal arithmetic (Python `decimal`). `tail_variance` sums positive terms, each a few
    /// roundings (sin, cos, exp, products: ≤ 8ε relative), so it must agree to 16ε.
    #[test]
    fn tail_variance_matches_high_precision_values() {
        for (a, exact) in [
            (-5.0, 1.934_329_232_940_457e-8),
            (-8.0, 1.807_506_447_145_849_5e-17),
            (-12.0, 2.385_797_169_621_326e-35),
            // Beyond |a| = 16 the range is cut ([`tail_range`]); 80-digit values of
            // (a² + 1)Φ(a) + aφ(a) − (aΦ(a) + φ(a))² (Python `mpmath`).
            (-20.0, 1.359_912_914_707_381e-91),
            (-30.0, 1.084_372_487_398_349e-200),
            (-37.0, 8.334_217_629_427_723e-303),
        ] {
            assert!(tail_panels(a) <= 9);
            let tail = tail_variance(a, 1.0);
            assert!(
                (tail - exact).abs() <= 16.0 * f64::EPSILON * exact,
                "a = {a}: {tail:e} vs {exact:e}"
            );
        }
    }

    /// The panel count is bounded whatever a is (it was ⌈1 + a²/32⌉: ~4·10⁴³ at the a ≈ −3.5·10²²
    /// of a centred constant pixel measured with variance 5·10⁻⁵⁴), and units beyond ±38 take
    /// their deterministic limits: (μ, s²) and (0, 0).
    #[test]
    fn panels_are_bounded_and_far_units_are_deterministic() {
        for a in [
            0.0,
            -1.0,
            -16.0,
            -16.1,
            -38.0,
            -1e3,
            -3.5e22,
            -1e300,
            f64::NEG_INFINITY,
        ] {
            assert!(tail_panels(a) <= 9, "a = {a}: {} panels", tail_panels(a));
            assert!(tail_range(a).is_finite() && tail_range(a) >= 0.0);
        }
        assert_eq!(relu_moments(-2.5e-4, 5e-54f64.sqrt()), (0.0, 0.0));
        let s = 1e-12;
        assert_eq!(relu_moments(1.0, s), (1.0, s * s));
        // At |a| = 38 the closed forms themselves give the limits to rounding.
        let (m, v) = relu_moments(38.0, 1.0);
        assert!((m - 38.0).abs() <= 64.0 * f64::EPSILON && (v - 1.0).abs() <= 1e-12);
        let (m, v) = relu_moments(-38.0, 1.0);
        assert!(m < 1e-300 && v < 1e-300);
    }

    /// Near the switch both are sums of positive terms of converged rules: 16ε as above (the
    /// Φ₂-based Price integral carries Φ₂'s ~1e-15 absolute error, hence a ≥ −3 only).
    #[test]
    fn tail_variance_agrees_with_price() {
        for a in [-0.5, PRICE_BELOW, -2.0, -3.0] {
            let (tail, price) = (tail_variance(a, 1.0), price_variance(a, 1.0));
            assert!(
                (tail - price).abs() <= 16.0 * f64::EPSILON * price,
                "a = {a}: {tail:e} vs Price {price:e}"
            );
        }
    }

    #[test]
    fn simd_lanes_match_scalar_relu_cross() {
        for (diag, isa) in [0.004, 2.0]
            .into_iter()
            .flat_map(|d| [Isa::Dispatch, Isa::Avx2, Isa::Scalar].map(|isa| (d, isa)))
        {
            let input = lane_test_input(diag);
            let mut out = input.clone();
            relu_apply(&input, &mut out, isa).unwrap();
            let u = units(&input, "relu").unwrap();
            let n = input.dim();
            let mut paths = [0usize; 4];
            for i in 0..n {
                for j in 0..i {
                    let (si, sj) = (u.s[i], u.s[j]);
                    let want = if si > 0.0 && sj > 0.0 {
                        let rho = correlation(input.cov[(i, j)], si, sj);
                        paths[[0.5, SERIES_MAX_RHO, 0.925, f64::INFINITY]
                            .iter()
                            .position(|&t| rho.abs() < t)
                            .unwrap_or(3)] += 1;
                        let (mi, mj) = (relu_moments(u.mu[i], si).0, relu_moments(u.mu[j], sj).0);
                        si * sj * relu_cross(u.mu[i] / si, u.mu[j] / sj, rho) - mi * mj
                    } else {
                        0.0
                    };
                    let got = out.cov[(i, j)];
                    assert!(
                        (got - want).abs() <= 1e-14 * (si * sj).max(1e-300),
                        "{isa:?}: C[{i},{j}] = {got}, scalar {want}"
                    );
                    assert_eq!(got, out.cov[(j, i)]);
                }
            }
            if diag < 1.0 {
                assert!(paths.iter().all(|&p| p > 20), "pairs per path {paths:?}");
            } else {
                assert!(
                    (paths[2] + paths[3]) * 10 < paths[0],
                    "weak correlations expected: pairs per path {paths:?}"
                );
            }
        }
    }
}
