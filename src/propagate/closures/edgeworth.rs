//! κ₃/κ₄ corrections of a Gaussian closure by the 4th-order Gram–Charlier (Edgeworth-type)
//! expansion of each pair's density (issue #16, item 1).
//!
//! About the Gaussian with the same μ and Σ, the density of (hᵢ, hⱼ) expands as
//! p = p_G − (1/6)κ_{abc}∂_a∂_b∂_c p_G + (1/24)κ_{abcd}∂_a∂_b∂_c∂_d p_G (indices summed over
//! {i, j}; McCullagh, *Tensor Methods in Statistics*, ch. 5). Integrating by parts, for
//! f = φ(hᵢ)φ(hⱼ)
//!
//! ```text
//! E[f] = E_G[f] + (1/6)[κᵢᵢᵢ D₃₀ + 3κᵢᵢⱼ D₂₁ + 3κᵢⱼⱼ D₁₂ + κⱼⱼⱼ D₀₃]
//!              + (1/24)[κᵢᵢᵢᵢ D₄₀ + 4κᵢᵢᵢⱼ D₃₁ + 6κᵢᵢⱼⱼ D₂₂ + 4κᵢⱼⱼⱼ D₁₃ + κⱼⱼⱼⱼ D₀₄],
//! D_ab = E_G[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)] = ∂ᵃ_{μᵢ}∂ᵇ_{μⱼ} E_G[φᵢφⱼ]     (Stein's lemma / Price's theorem),
//! mᵢ   = E_G[φᵢ] + κᵢᵢᵢ/6 · E_G[φ'''ᵢ] + κᵢᵢᵢᵢ/24 · E_G[φ''''ᵢ],
//! E[φᵢ²] = E_G[φᵢ²] + κᵢᵢᵢ/6 · E_G[(φ²)'''ᵢ] + κᵢᵢᵢᵢ/24 · E_G[(φ²)''''ᵢ],
//! Cᵢⱼ = E[f] − mᵢmⱼ,   Cᵢᵢ = E[φᵢ²] − mᵢ².
//! ```
//!
//! Order 3 keeps the κ₃ terms, order 4 both. The expansion is kept linear in the cumulants
//! (Gram–Charlier): the κ₃²/72 term of the Edgeworth series (6th derivatives of f) is left out,
//! as it is for the quadratic activation, where every term beyond these vanishes and the
//! expansion is exact. **Slices used:** κ₃\[i,i,j\] (`k3_iij`; κ₃\[i,j,j\] is its (j, i) entry,
//! κ₃\[i,i,i\] its diagonal), κ₄\[i,i,j,j\] (`k4_iijj`; κ₄\[i,i,i,i\] its diagonal) and
//! κ₄\[i,i,i,j\] (`k4_iiij`; κ₄\[i,j,j,j\] is its (j, i) entry).
//!
//! **Breakdown.** The expansion is not a density everywhere. At order 4 a unit whose
//! standardised skewness S = κᵢᵢᵢ/sᵢ³ and excess kurtosis K = κᵢᵢᵢᵢ/sᵢ⁴ lie outside the region
//! where the Gram–Charlier density 1 + S·He₃/6 + K·He₄/24 is non-negative (Jondeau & Rockinger,
//! J. Econ. Dyn. Control 25, 1457 (2001): 0 ≤ K ≤ 4, |S| ≤ 1.049), or whose corrected variance
//! is not positive, drops to order 3 (its κ₄ terms, and those of every pair it is in, are left
//! out); at order 3 a unit whose S no Gram–Charlier density reaches, or whose corrected variance
//! is not positive, falls back to the Gaussian (its mean, variance and every pair it is in). A
//! pair falls back when its derivative terms are unavailable (|ρ| at 1 for a kinked φ) or its
//! corrected correlation leaves [−1, 1], and is unresolved where its correction's rounding may
//! exceed the variance of its near-null combination ("Near-collinear pairs", below). Every
//! step down is counted ([`Fallbacks`]).
//!
//! **One variable twice.** Two units with the same input mean, Σᵢᵢ = Σⱼⱼ = Σᵢⱼ and the same κ
//! slices (a layer with two equal rows of W and b) are one variable, hᵢ = hⱼ, so
//! φ(hᵢ)φ(hⱼ) = φ(hᵢ)² and Cᵢⱼ is Cᵢᵢ: with κᵢᵢᵢ = κᵢᵢⱼ = κᵢⱼⱼ = κⱼⱼⱼ the pair's e is
//! κ/6·Σₐ C(3, a)D_{a,3−a} = κ/6·E_G[(φ²)‴] (and likewise at order 4), the unit's own term, in
//! exact arithmetic. But the pair's terms D_ab are each larger than that sum by ~1/√(1 − r²)
//! (erf: ~√Σ), so in floating point e differs from the unit's by the rounding of the larger
//! terms, or leaves the bound and falls back to the Gaussian Cᵢⱼ. Either gives the two rows a
//! difference that the measured z, whose two rows are equal, has not, and the KL, which weighs
//! that zero-variance direction, came out 2.5–6.4 against order 2's 0.1 (erf, data ×10⁴ to
//! ×10¹⁰; erf73). Such a pair is given the unit's corrected variance (`PairOutcome::Same`),
//! not counted as a fallback.
//!
//! **Near-collinear pairs.** Two units that are nearly one variable (a layer whose row j is
//! row i plus δ times another, δ ≪ 1) have a pair correction e = Σ c_ab κ_ab D_ab whose terms
//! are far larger than their sum: erf's D_ab grow like (1 − r²)^{−(a+b−1)/2} as its r → 1, and
//! the κ_ab are nearly equal, so e is their third (fourth) difference. Section 66's network
//! (δ = 10⁻⁶, data ×10⁷, erf, order 3): terms summing in absolute value to 1.7·10¹² give
//! e = −9.9·10⁻⁹ (mpmath at 60 digits; f64: −8.1·10⁻⁵), and one ulp of κ₃\[j,j,j\] (6.6·10⁴
//! of 4.8·10²⁰) moves e by 5·10⁻⁵. No rearrangement of the sum helps: e is that sensitive to
//! the κ slices as stored, whatever the arithmetic. What the KL weighs is the pair's near-null
//! combination φᵢ ∓ φⱼ (∓: the sign of Cᵢⱼ), whose variance varᵢ + varⱼ ∓ 2Cᵢⱼ is far below
//! that: the f64 e gave it a wrong variance (order 3, data ×10⁷ to ×10¹⁰: h¹'s KL 4.1–5.0
//! against order 2's 0.8–1.0), or left the bound and fell back to the Gaussian Cᵢⱼ beside
//! corrected variances (order 4 from ×10⁴: 6.4). In the ten cases of that network checked
//! against mpmath (δ = 10⁻³ and 10⁻⁶ at ×1 to ×10¹⁰, δ = 10⁻⁹ at ×1 and ×10⁴), the f64 e errs
//! by at most 1.6ε times its terms' absolute sum (0.21 at the ×10⁷ case above). So a pair
//! whose terms' absolute sum times `RESOLUTION`·ε exceeds the Gaussian closure's variance
//! of φᵢ ∓ φⱼ is *unresolved* (`PairOutcome::Unresolved`, counted as a fallback; 128: at twice
//! that measured error an accepted e still errs by under 1/40 of that variance): its entry is
//! the Gaussian Cᵢⱼ moved by the mean of the two units' variance corrections, so that φᵢ ∓ φⱼ
//! keeps its Gaussian variance beside the corrected ones, and the 2×2 block stays positive
//! semidefinite (clamped to ±√(varᵢvarⱼ) otherwise). At a pair of ordinary units the terms are
//! of the size of e or the variances, so the test fires only where the output correlation is
//! within ~10⁻¹³ of ±1; it costs a few additions per pair.
//!
//! **Not a covariance.** The per-unit and per-pair tests keep every 2×2 block positive
//! semidefinite, not the whole matrix. Each class's corrected covariance is therefore tested
//! with one Cholesky factorization (with the KL's ridge) and, where it has none, its negative
//! eigenvalues are raised to a share of the Gaussian closure's variance along their
//! eigenvectors (`closures::cone`: every other eigenvector keeps its corrected variance),
//! counted in [`Fallbacks::projected`]. Only `corrected` (every forward closure) projects; the cumulant
//! objective's `corrected_from_gaussian` does not (it floors the spectrum itself, and its
//! reverse pass differentiates that).
//!
//! **Work.** A pair whose terms need a 2-D quadrature (`PairStep::Quadrature`: the series'
//! fallback, or every pair of the quadrature closure) is set aside while the other pairs are
//! filled in, its integrand evaluations counted; the set-aside pairs are integrated only if
//! they add up to at most 1.5·10⁸ (`PAIR_NODE_BUDGET`), and otherwise the corrections are refused
//! naming --order before any pair is integrated (adv34: `--order 3 --carry first` of a
//! width-1,001 tanh XOR net would have run ~30 h).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use faer::Mat;
use rayon::prelude::*;
use serde::Serialize;

use super::input::{correlation, units, Units};
use super::quadrature_terms::PAIR_NODE_BUDGET;
use super::{cone, Corrections};
use crate::error::{Error, Field, Result};
use crate::linalg::fill_symmetric;
use crate::stats::Moments;

/// Gaussian expectations of the derivatives of φ and φ² for one unit h ~ N(μ, s²), s > 0:
/// `phi[k − 3]` = E_G[φ⁽ᵏ⁾(h)], `sq[k − 3]` = E_G[(φ²)⁽ᵏ⁾(h)], k = 3, 4.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UnitTerms {
    pub phi: [f64; 2],
    pub sq: [f64; 2],
}

/// `D[a][b]` = E_G\[φ⁽ᵃ⁾(hᵢ)φ⁽ᵇ⁾(hⱼ)\] for a + b = 3, 4 (other entries unused).
pub type PairTerms = [[f64; 5]; 5];

/// The derivative orders (a, b) of [`PairTerms`] the corrections use: a + b = 3, 4.
pub const ORDERS: [(usize, usize); 9] = [
    (3, 0),
    (2, 1),
    (1, 2),
    (0, 3),
    (4, 0),
    (3, 1),
    (2, 2),
    (1, 3),
    (0, 4),
];

/// One pair's terms as the first pass over the pairs gets them ([`DerivativeTerms::pair_step`]).
pub(crate) enum PairStep {
    /// The terms (closed form, a converged series, the delta method), or `None` where they do
    /// not exist in floating point (the pair falls back to the Gaussian).
    Terms(Option<PairTerms>),
    /// The terms need a 2-D quadrature of this many integrand evaluations
    /// ([`DerivativeTerms::pair`] integrates it).
    Quadrature(usize),
}

/// The Gaussian derivative expectations a closure supplies for its corrections, by unit index
/// of the input it was prepared for (units with s = 0 are never asked).
pub(crate) trait DerivativeTerms: Sync {
    /// [`UnitTerms`] of unit i.
    fn unit(&self, i: usize) -> UnitTerms;
    /// [`PairTerms`] of units i ≠ j with correlation ρ, by whatever they take (a 2-D
    /// quadrature included), or `None` where they do not exist in floating point (the pair then
    /// falls back to the Gaussian).
    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms>;
    /// The pair's terms where they come without a 2-D quadrature, otherwise that quadrature's
    /// integrand evaluations (module docs, "Work"). Closures whose terms all come in closed
    /// form keep the default, [`DerivativeTerms::pair`].
    fn pair_step(&self, i: usize, j: usize, rho: f64) -> PairStep {
        PairStep::Terms(self.pair(i, j, rho))
    }
}

/// How many units and pairs the corrections left Gaussian (module docs), out of how many
/// non-deterministic units and pairs they were tried on. Summed over classes by the engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Fallbacks {
    /// Units left Gaussian.
    pub units: usize,
    /// Units asked for order 4 that were corrected at order 3 only.
    pub units_order3: usize,
    pub units_tried: usize,
    pub pairs: usize,
    pub pairs_tried: usize,
    /// Classes whose corrected covariance was not positive semidefinite up to the KL's ridge
    /// and was made one, its spectrum floored (module docs, "Not a covariance";
    /// `closures::cone`); their means are the corrected ones.
    pub projected: usize,
    /// Classes whose covariance the corrections changed (some unit corrected), so tested.
    pub classes_tried: usize,
}

impl Fallbacks {
    /// The sum of two counts.
    pub fn plus(self, other: Fallbacks) -> Fallbacks {
        Fallbacks {
            units: self.units + other.units,
            units_order3: self.units_order3 + other.units_order3,
            units_tried: self.units_tried + other.units_tried,
            pairs: self.pairs + other.pairs,
            pairs_tried: self.pairs_tried + other.pairs_tried,
            projected: self.projected + other.projected,
            classes_tried: self.classes_tried + other.classes_tried,
        }
    }
}

/// The κ slices of `input` that `order` needs: κ₃\[i,i,j\], and for order 4 κ₄\[i,i,j,j\] and
/// κ₄\[i,i,i,j\]. Errors name the missing or misshapen slice and the closure `who`.
pub(crate) struct Slices<'a> {
    /// κ₃\[i,i,j\] at (i, j).
    pub(crate) k3: &'a Mat<f64>,
    /// (κ₄\[i,i,j,j\], κ₄\[i,i,i,j\]) at (i, j), order 4 only.
    pub(crate) k4: Option<(&'a Mat<f64>, &'a Mat<f64>)>,
}

impl<'a> Slices<'a> {
    pub(crate) fn of(input: &'a Moments, order: Corrections, who: &str) -> Result<Self> {
        let n = input.dim();
        if input.slice_unit() != 1.0 {
            return Err(Error::Unsupported(format!(
                "{who} closure: κ slices stored in units of {:e} reached the corrections, which \
                 take natural units (Closure::apply_counted_in_slice_units converts them)",
                input.slice_unit()
            )));
        }
        let need = |m: Option<&'a Mat<f64>>, name: &str| -> Result<&'a Mat<f64>> {
            let m = m.ok_or_else(|| {
                Error::Unsupported(format!(
                    "{who} closure at order {}: the input moments carry no {name} matrix \
                     (measure it, or use --order 2)",
                    order.order()
                ))
            })?;
            if m.nrows() != n || m.ncols() != n {
                return Err(Error::Shape(format!(
                    "{who} closure: {name} matrix is {}×{}, expected {n}×{n}",
                    m.nrows(),
                    m.ncols()
                )));
            }
            Ok(m)
        };
        let k3 = need(input.k3_iij(), "κ₃[i,i,j]")?;
        let k4 = match order {
            Corrections::K3K4 => Some((
                need(input.k4_iijj(), "κ₄[i,i,j,j]")?,
                need(input.k4_iiij(), "κ₄[i,i,i,j]")?,
            )),
            _ => None,
        };
        Ok(Slices { k3, k4 })
    }
}

/// A closure's `apply_counted`: its Gaussian closure `gaussian` into `out`, then for order 3
/// or 4 the corrections with the terms `terms` makes from the input's units. The κ slices are
/// checked before anything is computed; errors name the closure `who`.
pub(crate) fn corrected<T: DerivativeTerms>(
    input: &Moments,
    order: Corrections,
    out: &mut Moments,
    who: &str,
    gaussian: impl FnOnce(&mut Moments) -> Result<()>,
    terms: impl FnOnce(&Units) -> T,
) -> Result<Fallbacks> {
    if order == Corrections::None {
        gaussian(out)?;
        return Ok(Fallbacks::default());
    }
    let slices = Slices::of(input, order, who)?;
    let u = units(input, who)?;
    gaussian(out)?;
    let t = terms(&u);
    let plan = Plan::with_units((slices, &input.cov), order, u, out, &t);
    // The Gaussian covariance, for the class-level test (module docs, "Not a covariance").
    let gauss = plan.corrects_any().then(|| out.cov.clone());
    let mut fallbacks = correct(input, plan, who, &t, out)?;
    if let Some(g) = gauss {
        fallbacks.classes_tried += 1;
        if let Some(c) = cone::projected(g.as_ref(), out.cov.as_ref())? {
            out.cov = c;
            fallbacks.projected += 1;
        }
    }
    Ok(fallbacks)
}

/// The corrections of `order` (3 or 4) added to `gauss`, the Gaussian closure's result at
/// `input` (the closure `who`'s own, at [`Corrections::None`]), written into `out`, with the
/// closure's forward terms `terms`: what [`corrected`] writes before its class-level test, bit
/// for bit (the same Plan from the same Gaussian result, the same pass), for a caller that
/// keeps the Gaussian closure too (the cumulant objective's correction bound and reverse pass).
/// No class-level projection (module docs, "Not a covariance"): the cumulant objective, its only
/// caller, raises an indefinite result's eigenvalues to a floor itself
/// (`cumtrain::spectral_floor`), and its reverse pass (`propagate::backward::corrected`)
/// differentiates this result, the floor applied after.
pub(crate) fn corrected_from_gaussian(
    input: &Moments,
    order: Corrections,
    gauss: &Moments,
    out: &mut Moments,
    (who, terms): (&str, &dyn DerivativeTerms),
) -> Result<Fallbacks> {
    let plan = Plan::of(input, (order, who), gauss, terms)?;
    out.clone_from(gauss);
    correct(input, plan, who, terms, out)
}

/// The means and standard deviations of `input`'s units exactly as the corrected closures'
/// terms get them (validated as the closure `who` validates its input).
pub(crate) fn closure_units(input: &Moments, who: &str) -> Result<(Vec<f64>, Vec<f64>)> {
    let u = units(input, who)?;
    Ok((u.mu, u.s))
}

/// The refusal of corrections whose set-aside pairs need more than [`PAIR_NODE_BUDGET`]
/// integrand evaluations of a 2-D quadrature (module docs, "Work"); the counting stops there.
fn too_much_quadrature(n: usize, (order, who): (Corrections, &str)) -> Error {
    Error::config(
        Field::Order,
        format!(
            "the order-{} corrections of these {n} units need the {who} closure's 2-D quadrature \
             for pairs whose series does not converge, more than the limit of {:.1e} integrand \
             evaluations (minutes to hours at this width); use --order 2, or a narrower network",
            order.order(),
            PAIR_NODE_BUDGET as f64
        ),
    )
}

/// How one pair's corrected covariance came out ([`Plan::entry`], module docs "Breakdown").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PairOutcome {
    /// The corrected entry C_G + e − (m_G,ᵢΔmⱼ + Δmᵢm_G,ⱼ + ΔmᵢΔmⱼ).
    Corrected,
    /// Fallen back to the Gaussian C_G, which lies within the corrected variances' bound.
    Gaussian,
    /// Fallen back to C_G clamped to ±√(varᵢvarⱼ) (C_G was outside).
    Clamped,
    /// The two units are one variable (module docs, "One variable twice"): the corrected
    /// variance varᵢ, the entry's limit. The reverse pass differentiates the pair's terms
    /// there, as for [`PairOutcome::Corrected`].
    Same,
    /// The pair's correction is below its resolution (module docs, "Near-collinear pairs"):
    /// the Gaussian Cᵢⱼ moved so that φᵢ ∓ φⱼ keeps its Gaussian variance
    /// ([`Plan::difference_kept`]). A fallback.
    Unresolved,
}

/// How far above the pair correction's rounding its near-null variance must lie for the
/// correction to stand (module docs, "Near-collinear pairs").
const RESOLUTION: f64 = 128.0;

/// The per-unit decisions of the corrections of one input, shared by the forward
/// ([`corrected`]) and the reverse pass (`propagate::backward::corrected`), so both take the
/// same levels and pair fallbacks.
pub(crate) struct Plan<'a> {
    pub(crate) slices: Slices<'a>,
    /// The input's covariance and means (for [`Plan::same`]).
    cov: &'a Mat<f64>,
    mu: Vec<f64>,
    pub(crate) order: Corrections,
    pub(crate) s: Vec<f64>,
    /// The order each unit is corrected at: 2 (Gaussian), 3 or 4.
    pub(crate) level: Vec<u8>,
    /// Δmᵢ (0 at level 2).
    pub(crate) dm: Vec<f64>,
    /// The corrected variance of each unit (the Gaussian one at level 2).
    pub(crate) var: Vec<f64>,
    /// The Gaussian closure's variance of each unit.
    var_g: Vec<f64>,
    /// The Gaussian closure's means m_G.
    pub(crate) mean_g: Vec<f64>,
    pub(crate) fallbacks: Fallbacks,
}

impl<'a> Plan<'a> {
    /// The units' levels, Δm and corrected variances for `input` (μ, Σ and its κ slices) at
    /// `order` (3 or 4), from `gauss`, the Gaussian closure's result at `input`, and the unit
    /// terms of `terms`. Errors name the missing κ slice and the closure `who`.
    pub(crate) fn of(
        input: &'a Moments,
        (order, who): (Corrections, &str),
        gauss: &Moments,
        terms: &dyn DerivativeTerms,
    ) -> Result<Self> {
        let slices = Slices::of(input, order, who)?;
        let u = units(input, who)?;
        Ok(Self::with_units(
            (slices, &input.cov),
            order,
            u,
            gauss,
            terms,
        ))
    }

    fn with_units(
        (slices, cov): (Slices<'a>, &'a Mat<f64>),
        order: Corrections,
        u: Units,
        gauss: &Moments,
        terms: &dyn DerivativeTerms,
    ) -> Self {
        let n = u.s.len();
        let (s, k3) = (&u.s, slices.k3);
        let mut dm = vec![0.0; n];
        let mut var = vec![0.0; n];
        let mut level = vec![2u8; n];
        let mut fallbacks = Fallbacks::default();
        for i in 0..n {
            var[i] = gauss.cov[(i, i)];
            if s[i] <= 0.0 {
                continue;
            }
            fallbacks.units_tried += 1;
            let k3i = k3[(i, i)];
            let skew = k3i / s[i].powi(3);
            let t = terms.unit(i);
            let m = gauss.mean[i];
            // (Δm, corrected variance) with the κ₄ terms of `k4i` when given.
            let unit = |k4i: Option<f64>| {
                let mut d_mean = k3i / 6.0 * t.phi[0];
                let mut d_sq = k3i / 6.0 * t.sq[0];
                if let Some(k) = k4i {
                    d_mean += k / 24.0 * t.phi[1];
                    d_sq += k / 24.0 * t.sq[1];
                }
                let v = var[i] + d_sq - 2.0 * m * d_mean - d_mean * d_mean;
                (v > 0.0 && v.is_finite()).then_some((d_mean, v))
            };
            let fourth = slices.k4.map(|(k4, _)| k4[(i, i)]).and_then(|k4i| {
                gram_charlier_positive(skew, k4i / s[i].powi(4))
                    .then(|| unit(Some(k4i)))
                    .flatten()
            });
            let third = || {
                gram_charlier_reachable(skew, None)
                    .then(|| unit(None))
                    .flatten()
            };
            let (lv, corrected) = match fourth {
                Some(c) => (4, Some(c)),
                None => (3, third()),
            };
            let Some((d_mean, v)) = corrected else {
                fallbacks.units += 1;
                continue;
            };
            if lv == 3 && slices.k4.is_some() {
                fallbacks.units_order3 += 1;
            }
            level[i] = lv;
            dm[i] = d_mean;
            var[i] = v;
        }
        Plan {
            slices,
            cov,
            mu: u.mu,
            order,
            mean_g: gauss.mean.iter().copied().collect(),
            s: u.s,
            level,
            dm,
            var_g: (0..n).map(|i| gauss.cov[(i, i)]).collect(),
            var,
            fallbacks,
        }
    }

    /// Whether some unit is corrected (above level 2): otherwise the corrections leave the
    /// Gaussian result as it is.
    pub(crate) fn corrects_any(&self) -> bool {
        self.level.iter().any(|&l| l > 2)
    }

    /// Whether the pair (i, j) is corrected at all (both units above level 2).
    pub(crate) fn tried(&self, i: usize, j: usize) -> bool {
        self.level[i] > 2 && self.level[j] > 2
    }

    /// The input correlation of units i and j.
    pub(crate) fn rho(&self, cov: &Mat<f64>, i: usize, j: usize) -> f64 {
        correlation(cov[(i, j)], self.s[i], self.s[j])
    }

    /// Whether units i and j are one variable (module docs, "One variable twice"), bit for
    /// bit: equal means and levels, Σᵢᵢ = Σᵢⱼ = Σⱼᵢ = Σⱼⱼ, κ₃\[i,i,i\] = κ₃\[i,i,j\] =
    /// κ₃\[i,j,j\] = κ₃\[j,j,j\], and at level 4 the same of κ₄\[i,i,j,j\] and of κ₄\[i,i,i,j\]
    /// (each slice against its own diagonal: the measurement forms κ₄\[i,i,i,i\] in both, and
    /// the two may differ by rounding, 4·10⁻¹⁶ of it in erf73's ×10⁴ run).
    pub(crate) fn same(&self, i: usize, j: usize) -> bool {
        let all_eq = |m: &Mat<f64>| {
            let v = m[(i, i)];
            [m[(i, j)], m[(j, i)], m[(j, j)]].iter().all(|&x| x == v)
        };
        // Order 4's slices only where the pair reads them (`entry`: both units at level 4).
        let k4 = match (self.slices.k4, self.level[i]) {
            (Some((k4, k31)), 4) => all_eq(k4) && all_eq(k31),
            _ => true,
        };
        self.mu[i] == self.mu[j]
            && self.level[i] == self.level[j]
            && all_eq(self.cov)
            && all_eq(self.slices.k3)
            && k4
    }

    /// The corrected covariance of a tried pair (i, j) (the forward computes i > j) from its
    /// Gaussian one `c` and its terms `d`, and how it came out.
    pub(crate) fn entry(
        &self,
        i: usize,
        j: usize,
        c: f64,
        d: Option<PairTerms>,
    ) -> (f64, PairOutcome) {
        if self.same(i, j) {
            return (self.var[i], PairOutcome::Same);
        }
        let (k3, level, dm, mean_g) = (self.slices.k3, &self.level, &self.dm, &self.mean_g);
        // e and the sum of its terms' sizes (module docs, "Near-collinear pairs").
        let de = d.map(|d| {
            let t3 = [
                k3[(i, i)] * d[3][0],
                3.0 * k3[(i, j)] * d[2][1],
                3.0 * k3[(j, i)] * d[1][2],
                k3[(j, j)] * d[0][3],
            ];
            let mut e = (t3[0] + t3[1] + t3[2] + t3[3]) / 6.0;
            let mut size = t3.iter().map(|t| t.abs()).sum::<f64>() / 6.0;
            if let (Some((k4, k31)), 4, 4) = (self.slices.k4, level[i], level[j]) {
                let t4 = [
                    k4[(i, i)] * d[4][0],
                    4.0 * k31[(i, j)] * d[3][1],
                    6.0 * k4[(i, j)] * d[2][2],
                    4.0 * k31[(j, i)] * d[1][3],
                    k4[(j, j)] * d[0][4],
                ];
                e += (t4[0] + t4[1] + t4[2] + t4[3] + t4[4]) / 24.0;
                size += t4.iter().map(|t| t.abs()).sum::<f64>() / 24.0;
            }
            (e, size)
        });
        // √vᵢ·√vⱼ, not √(vᵢvⱼ): the product of two variances underflows below ~10⁻³⁰⁸ (units of
        // s ≲ 10⁻⁷⁷, data ×10⁻¹⁰⁰), which made the bound 0 and clamped every corrected pair to
        // a covariance of 0 (scale67).
        let bound = self.var[i].sqrt() * self.var[j].sqrt();
        if de.is_some_and(|(_, size)| self.unresolved(i, j, c, size)) {
            return self.difference_kept(i, j, c, bound);
        }
        let corrected =
            de.map(|(e, _)| c + e - (mean_g[i] * dm[j] + dm[i] * mean_g[j] + dm[i] * dm[j]));
        match corrected {
            Some(v) if v.is_finite() && v.abs() <= bound => (v, PairOutcome::Corrected),
            _ if c.abs() <= bound => (c, PairOutcome::Gaussian),
            _ => (c.clamp(-bound, bound), PairOutcome::Clamped),
        }
    }

    /// Whether pair (i, j)'s correction, whose terms sum to `size` in absolute value, is below
    /// its resolution (module docs, "Near-collinear pairs"): [`RESOLUTION`]·ε·size above the
    /// Gaussian variance of its near-null combination φᵢ ∓ φⱼ (∓: the sign of Cᵢⱼ = `c`),
    /// varᵢ + varⱼ − 2|Cᵢⱼ| of the Gaussian closure.
    fn unresolved(&self, i: usize, j: usize, c: f64, size: f64) -> bool {
        let null = self.var_g[i] + self.var_g[j] - 2.0 * c.abs();
        RESOLUTION * f64::EPSILON * size > null.max(0.0)
    }

    /// The entry of an unresolved pair (module docs, "Near-collinear pairs"): the Gaussian Cᵢⱼ
    /// = `c` moved by the mean δ of the two units' variance corrections, Cᵢⱼ ± δ (the sign of
    /// Cᵢⱼ), so that φᵢ ∓ φⱼ keeps its Gaussian variance, varᵢ + varⱼ ∓ 2(Cᵢⱼ ± δ) =
    /// var_G,ᵢ + var_G,ⱼ ∓ 2Cᵢⱼ; clamped to ±`bound` = √(varᵢvarⱼ) where the two corrected
    /// variances differ by more than that allows.
    fn difference_kept(&self, i: usize, j: usize, c: f64, bound: f64) -> (f64, PairOutcome) {
        let delta = 0.5 * ((self.var[i] - self.var_g[i]) + (self.var[j] - self.var_g[j]));
        let v = if c >= 0.0 { c + delta } else { c - delta };
        if v.is_finite() && v.abs() <= bound {
            (v, PairOutcome::Unresolved)
        } else {
            let w = if v.is_finite() { v } else { c };
            (w.clamp(-bound, bound), PairOutcome::Clamped)
        }
    }
}

/// Adds the corrections of `order` to the Gaussian closure's result in `out` (mean and full
/// covariance of φ(h) under N(μ, Σ)), in place, as `plan` decided.
fn correct(
    input: &Moments,
    plan: Plan<'_>,
    who: &str,
    terms: &dyn DerivativeTerms,
    out: &mut Moments,
) -> Result<Fallbacks> {
    let n = input.dim();
    let order = plan.order;
    let var = &plan.var;
    let rho = |i: usize, j: usize| plan.rho(&input.cov, i, j);
    let entry = |i: usize, j: usize, c: f64, d: Option<PairTerms>| -> (f64, bool) {
        let (v, outcome) = plan.entry(i, j, c, d);
        (
            v,
            !matches!(outcome, PairOutcome::Corrected | PairOutcome::Same),
        )
    };
    let dropped = AtomicUsize::new(0);
    let tried = AtomicUsize::new(0);
    // Pass 1: every pair but those needing a 2-D quadrature, which are set aside and counted.
    let set_aside = Mutex::new(Vec::new());
    let counted = AtomicUsize::new(0);
    let over = AtomicBool::new(false);
    fill_symmetric(&mut out.cov, |i, col| {
        let mut aside = Vec::new();
        for (j, c) in col.iter_mut().enumerate() {
            if j == i {
                *c = var[i];
                continue;
            }
            if !plan.tried(i, j) || over.load(Ordering::Relaxed) {
                continue;
            }
            tried.fetch_add(1, Ordering::Relaxed);
            // A pair of one variable takes no terms (module docs, "One variable twice").
            let step = if plan.same(i, j) {
                PairStep::Terms(None)
            } else {
                terms.pair_step(i, j, rho(i, j))
            };
            let d = match step {
                PairStep::Terms(d) => d,
                PairStep::Quadrature(cost) => {
                    let total = counted
                        .fetch_add(cost, Ordering::Relaxed)
                        .saturating_add(cost);
                    if total > PAIR_NODE_BUDGET {
                        over.store(true, Ordering::Relaxed);
                    }
                    aside.push(j);
                    continue;
                }
            };
            let (v, fell_back) = entry(i, j, *c, d);
            *c = v;
            if fell_back {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
        if !aside.is_empty() {
            let mut all = set_aside.lock().unwrap_or_else(|e| e.into_inner());
            all.extend(aside.into_iter().map(|j| (i, j)));
        }
    })?;
    if over.into_inner() {
        return Err(too_much_quadrature(n, (order, who)));
    }
    // Pass 2: the set-aside pairs, integrated side by side.
    let set_aside = set_aside.into_inner().unwrap_or_else(|e| e.into_inner());
    let integrated: Vec<(usize, usize, f64)> = set_aside
        .into_par_iter()
        .map(|(i, j)| {
            let (v, fell_back) = entry(i, j, out.cov[(i, j)], terms.pair(i, j, rho(i, j)));
            if fell_back {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            (i, j, v)
        })
        .collect();
    for (i, j, v) in integrated {
        out.cov[(i, j)] = v;
        out.cov[(j, i)] = v;
    }
    for (i, d) in plan.dm.iter().enumerate() {
        out.mean[i] += d;
    }
    let mut fallbacks = plan.fallbacks;
    fallbacks.pairs = dropped.into_inner();
    fallbacks.pairs_tried = tried.into_inner();
    Ok(fallbacks)
}

/// Whether a Gram–Charlier density 1 + S·He₃(z)/6 + K·He₄(z)/24 with standardised skewness S
/// and excess kurtosis K is non-negative for every z (Jondeau & Rockinger 2001). Without K
/// (order 3), whether some K makes it so: order 3 uses the κ₃ term alone, a density that is
/// negative somewhere for every S ≠ 0, so the test is that the measured skewness is within the
/// reach of any Gram–Charlier density.
pub fn gram_charlier_reachable(skew: f64, kurt: Option<f64>) -> bool {
    match kurt {
        Some(k) => gram_charlier_positive(skew, k),
        None => (0..=400).any(|t| gram_charlier_positive(skew, t as f64 / 100.0)),
    }
}

/// min_z [1 + S·He₃(z)/6 + K·He₄(z)/24] ≥ 0. For K > 0 the polynomial tends to +∞ both ways, so
/// its minimum is at a root of p'(z) = S(z² − 1)/2 + K(z³ − 3z)/6, the cubic
/// z³ + (3S/K)z² − 3z − 3S/K = 0, solved in closed form (trigonometric or Cardano form). K < 0 or
/// K = 0 with S ≠ 0 (a polynomial of odd degree or negative leading term) fail.
pub fn gram_charlier_positive(skew: f64, kurt: f64) -> bool {
    if !(skew.is_finite() && kurt.is_finite()) || kurt < 0.0 {
        return false;
    }
    if kurt == 0.0 {
        return skew == 0.0;
    }
    let p = |z: f64| {
        let z2 = z * z;
        1.0 + skew * (z2 * z - 3.0 * z) / 6.0 + kurt * (z2 * z2 - 6.0 * z2 + 3.0) / 24.0
    };
    let a = 3.0 * skew / kurt;
    cubic_real_roots(a, -3.0, -a)
        .into_iter()
        .flatten()
        .all(|z| p(z) >= -1e-12)
}

/// The real roots of z³ + a z² + b z + c (up to three), by the trigonometric form where all three
/// are real and Cardano's formula where one is, each polished by two Newton steps.
fn cubic_real_roots(a: f64, b: f64, c: f64) -> [Option<f64>; 3] {
    let shift = a / 3.0;
    let p = b - a * a / 3.0;
    let q = 2.0 * a * a * a / 27.0 - a * b / 3.0 + c;
    let disc = q * q / 4.0 + p * p * p / 27.0;
    let f = |z: f64| ((z + a) * z + b) * z + c;
    let df = |z: f64| (3.0 * z + 2.0 * a) * z + b;
    let polish = |mut z: f64| {
        for _ in 0..2 {
            let d = df(z);
            if d != 0.0 {
                z -= f(z) / d;
            }
        }
        z
    };
    if disc < 0.0 {
        let r = (-p / 3.0).sqrt();
        let phi = (-q / (2.0 * r * r * r)).clamp(-1.0, 1.0).acos();
        let root =
            |k: f64| polish(2.0 * r * ((phi + 2.0 * std::f64::consts::PI * k) / 3.0).cos() - shift);
        [Some(root(0.0)), Some(root(1.0)), Some(root(2.0))]
    } else {
        let sq = disc.sqrt();
        let t = (-q / 2.0 + sq).cbrt() + (-q / 2.0 - sq).cbrt();
        [Some(polish(t - shift)), None, None]
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::propagate::closures::{erf::ErfClosure, relu::ReluClosure, Closure};

    /// h = Wx with rows w₀ = (1, 0.5, 0), w₁ = w₀ + δ·w₂, w₂ = (0.3, −0.4, 1) over independent
    /// x of mean (0.2, −0.1, 0.3)·s, s.d. s, skewness (0.6, −0.4, 0.5) and excess kurtosis
    /// (1.2, 0.8, 1.0): units 0 and 1 a near-collinear pair, with the κ slices the affine
    /// update gives.
    pub(crate) fn near_collinear(s: f64, delta: f64) -> Moments {
        let (m, skew, kurt) = ([0.2, -0.1, 0.3], [0.6, -0.4, 0.5], [1.2, 0.8, 1.0]);
        let w = [
            [1.0, 0.5, 0.0],
            [1.0 + 0.3 * delta, 0.5 - 0.4 * delta, delta],
            [0.3, -0.4, 1.0],
        ];
        let sum = |f: &dyn Fn(usize) -> f64| (0..3).map(f).sum::<f64>();
        let mu = faer::Col::from_fn(3, |i| sum(&|a| w[i][a] * m[a] * s));
        let cov = Mat::from_fn(3, 3, |i, j| sum(&|a| w[i][a] * w[j][a] * s * s));
        let k3 = Mat::from_fn(3, 3, |i, j| {
            sum(&|a| w[i][a] * w[i][a] * w[j][a] * skew[a] * s.powi(3))
        });
        let k4 = Mat::from_fn(3, 3, |i, j| {
            sum(&|a| (w[i][a] * w[j][a]).powi(2) * kurt[a] * s.powi(4))
        });
        let k31 = Mat::from_fn(3, 3, |i, j| {
            sum(&|a| w[i][a].powi(3) * w[j][a] * kurt[a] * s.powi(4))
        });
        Moments::with_slices(mu, cov, (Some(k3), Some(k4), Some(k31)), 1.0)
    }

    /// Two units that are one variable (module docs, "One variable twice"): units 0 and 1 of a
    /// 3-unit input with equal means, Σ₀₀ = Σ₀₁ = Σ₁₁ and κ slices that sum over them alike
    /// (a layer with two equal rows of W), units of s.d. s = 1 to 10¹⁰, skewed (S = 0.8,
    /// K = 1.5). The corrected covariance of erf and relu at orders 3 and 4 has rows 0 and 1
    /// equal, bit for bit, and no pair fallen back: the measured z has them equal too. Fails
    /// without [`Plan::same`] in [`Plan::entry`] (erf73): erf's pair falls back at s = 1
    /// already (its entry exceeds √varᵢ·√varⱼ by rounding), and relu's (ρ = 1: no terms) at
    /// every s.
    #[test]
    fn one_variable_twice_keeps_its_rows_equal() {
        for s in [1.0f64, 1e4, 1e7, 1e10] {
            let (mu, rho2) = ([0.3 * s, 0.3 * s, -0.2 * s], 0.4);
            let cov = Mat::from_fn(3, 3, |i, j| match (i.min(j), i.max(j)) {
                (0 | 1, 0 | 1) => s * s,
                (2, 2) => 1.44 * s * s,
                _ => rho2 * 1.2 * s * s,
            });
            // κ[a,a,b] of the units' own slices: what the affine update gives equal rows.
            let k3 = Mat::from_fn(3, 3, |i, j| match (i < 2, j < 2) {
                (true, true) => 0.8 * s.powi(3),
                (true, false) => 0.3 * s.powi(3),
                (false, true) => 0.2 * s.powi(3),
                (false, false) => 0.1 * s.powi(3),
            });
            let k4 = Mat::from_fn(3, 3, |i, j| match (i < 2, j < 2) {
                (true, true) => 1.5 * s.powi(4),
                (false, false) => 0.5 * s.powi(4),
                _ => 0.4 * s.powi(4),
            });
            // Its diagonal off κ₄[i,i,j,j]'s by rounding, as the measurement forms them.
            let k31 = Mat::from_fn(3, 3, |i, j| match (i < 2, j < 2) {
                (true, true) => 1.5 * (1.0 + 4.0 * f64::EPSILON) * s.powi(4),
                (false, false) => 0.5 * s.powi(4),
                _ => 0.2 * s.powi(4),
            });
            let x = Moments::with_slices(
                faer::Col::from_fn(3, |i| mu[i]),
                cov,
                (Some(k3), Some(k4), Some(k31)),
                1.0,
            );
            let closures: [(&str, &dyn Closure); 2] =
                [("erf", &ErfClosure), ("relu", &ReluClosure)];
            for ((name, closure), order) in closures
                .into_iter()
                .flat_map(|c| [(c, Corrections::K3), (c, Corrections::K3K4)])
            {
                let mut out = Moments::gaussian(faer::Col::zeros(3), Mat::zeros(3, 3));
                let fb = closure.apply_counted(&x, order, &mut out).unwrap();
                let c = &out.cov;
                let at = format!("{name}, s = {s:e}, order {}", order.order());
                assert_eq!(fb.units, 0, "{at}: {fb:?}");
                assert_eq!(fb.pairs, 0, "{at}: {fb:?}");
                assert_eq!(c[(1, 0)], c[(0, 0)], "{at}: (1, 0)");
                assert_eq!(c[(1, 1)], c[(0, 0)], "{at}: (1, 1)");
                assert_eq!(c[(2, 1)], c[(2, 0)], "{at}: (2, ·)");
                assert_eq!(out.mean[1], out.mean[0], "{at}: mean");
            }
        }
    }

    /// A near-collinear pair (module docs, "Near-collinear pairs"; [`near_collinear`]), s = 1
    /// to 10¹⁰, δ = 10⁻³, 10⁻⁶, 10⁻⁹, erf at orders 3 and 4.
    /// The corrected 2×2 block of units 0 and 1 is positive semidefinite, its near-null
    /// variance v₀ + v₁ − 2C₀₁ ≥ 0 (to 16ε of v₀ + v₁), and where the pair's terms sum in
    /// absolute value to more than the Gaussian near-null variance over 128ε (formed here from
    /// erf's terms and the Gaussian closure) that variance is the Gaussian one to 16ε of
    /// v₀ + v₁; at s = 1, δ = 10⁻³ (order 3) no pair falls back, and the pair is unresolved at
    /// s = 10⁷, δ = 10⁻⁶. Fails without [`Plan::unresolved`] in [`Plan::entry`]: at s = 10⁴,
    /// δ = 10⁻⁶, order 4, the corrected entry is accepted with a near-null variance of
    /// 1.5·10⁻⁴ against the Gaussian 7.9·10⁻⁹.
    #[test]
    fn near_collinear_pairs_keep_a_consistent_block() {
        use super::super::erf_terms::ErfTerms;
        let mut unresolved_seen = false;
        for s in [1.0f64, 1e4, 1e7, 1e10] {
            for delta in [1e-3, 1e-6, 1e-9] {
                let x = near_collinear(s, delta);
                let gauss = ErfClosure.apply(&x, Corrections::None).unwrap();
                let (mu_u, s_u) = closure_units(&x, "erf").unwrap();
                let d = ErfTerms::new(&mu_u, &s_u, x.cov.as_ref())
                    .pair(1, 0, 1.0)
                    .unwrap();
                let (k3, k4, k31) = (
                    x.k3_iij().unwrap(),
                    x.k4_iijj().unwrap(),
                    x.k4_iiij().unwrap(),
                );
                let size3 = (k3[(1, 1)] * d[3][0]).abs()
                    + 3.0 * (k3[(1, 0)] * d[2][1]).abs()
                    + 3.0 * (k3[(0, 1)] * d[1][2]).abs()
                    + (k3[(0, 0)] * d[0][3]).abs();
                let size4 = (k4[(1, 1)] * d[4][0]).abs()
                    + 4.0 * (k31[(1, 0)] * d[3][1]).abs()
                    + 6.0 * (k4[(1, 0)] * d[2][2]).abs()
                    + 4.0 * (k31[(0, 1)] * d[1][3]).abs()
                    + (k4[(0, 0)] * d[0][4]).abs();
                let g = &gauss.cov;
                let null_g = g[(0, 0)] + g[(1, 1)] - 2.0 * g[(1, 0)].abs();
                for order in [Corrections::K3, Corrections::K3K4] {
                    let mut out = Moments::gaussian(faer::Col::zeros(3), Mat::zeros(3, 3));
                    let fb = ErfClosure.apply_counted(&x, order, &mut out).unwrap();
                    let c = &out.cov;
                    let (v0, v1, c01) = (c[(0, 0)], c[(1, 1)], c[(1, 0)]);
                    let at = format!("s = {s:e}, δ = {delta:e}, order {}", order.order());
                    let tol = 16.0 * f64::EPSILON * (v0 + v1);
                    let null = v0 + v1 - 2.0 * c01.abs();
                    assert!(null >= -tol, "{at}: near-null variance {null:e}");
                    assert!(c01 * c01 <= v0 * v1 * (1.0 + 4.0 * f64::EPSILON), "{at}");
                    let size = match (order, fb.units_order3) {
                        (Corrections::K3K4, 0) => size3 / 6.0 + size4 / 24.0,
                        _ => size3 / 6.0,
                    };
                    if 128.0 * f64::EPSILON * size > null_g.max(0.0) {
                        unresolved_seen |= s == 1e7 && delta == 1e-6;
                        assert!(
                            (null - null_g).abs() <= tol,
                            "{at}: {null:e} vs the Gaussian {null_g:e} ({fb:?})"
                        );
                    }
                    if s == 1.0 && delta == 1e-3 && order == Corrections::K3 {
                        assert_eq!(fb.pairs, 0, "{at}: {fb:?}");
                    }
                }
            }
        }
        assert!(unresolved_seen);
    }

    /// Terms whose every pair needs a quadrature of `cost` evaluations; integrating one fails
    /// the test.
    struct Costly {
        cost: usize,
    }

    impl DerivativeTerms for Costly {
        fn unit(&self, _: usize) -> UnitTerms {
            UnitTerms::default()
        }
        fn pair(&self, _: usize, _: usize, _: f64) -> Option<PairTerms> {
            assert!(
                self.cost * 3 <= PAIR_NODE_BUDGET,
                "a pair integrated past the limit"
            );
            Some([[0.0; 5]; 5])
        }
        fn pair_step(&self, _: usize, _: usize, _: f64) -> PairStep {
            PairStep::Quadrature(self.cost)
        }
    }

    /// Corrections whose pairs need more than [`PAIR_NODE_BUDGET`] quadrature evaluations are
    /// refused naming --order before any pair is integrated (adv34: width-1,001 `--order 3
    /// --carry first` would have run ~30 h); three pairs of a third of the limit each run.
    /// Fails with the refusal after the first pass removed (a pair integrated past the limit).
    #[test]
    fn corrections_past_the_work_limit_are_refused_naming_the_order() {
        let n = 3;
        let cov = Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.3 });
        let mut input = Moments::gaussian(faer::Col::zeros(n), cov);
        input.set_slices((Some(Mat::from_fn(n, n, |_, _| 0.01)), None, None), 1.0);
        let mut out = input.clone();
        let run = |cost: usize, out: &mut Moments| {
            corrected(
                &input,
                Corrections::K3,
                out,
                "test",
                |_| Ok(()),
                |_| Costly { cost },
            )
        };
        let err = run(PAIR_NODE_BUDGET / 3 + 1, &mut out).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("--order") && text.contains("2-D"), "{text}");
        let fallbacks = run(PAIR_NODE_BUDGET / 3, &mut out).expect("within the limit");
        assert_eq!(fallbacks.pairs_tried, 3);
    }

    /// Pair terms made up from the indices (pairs with i + j = 5 have none, with i + j = 4 they
    /// are too large, so both fall back); with `aside` the pairs with i + j odd go through the
    /// set-aside quadrature pass.
    struct Made {
        aside: bool,
    }

    impl DerivativeTerms for Made {
        fn unit(&self, i: usize) -> UnitTerms {
            UnitTerms {
                phi: [0.1 * (i + 1) as f64, 0.05],
                sq: [0.2, 0.1 * i as f64],
            }
        }
        fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
            let size = if i + j == 4 { 1e3 } else { 0.01 };
            (i + j != 5).then(|| {
                let mut d = [[0.0; 5]; 5];
                for (a, b) in ORDERS {
                    d[a][b] = size * (1 + i + 2 * j + 3 * a + b) as f64 * (1.0 + rho);
                }
                d
            })
        }
        fn pair_step(&self, i: usize, j: usize, rho: f64) -> PairStep {
            if self.aside && (i + j) % 2 == 1 {
                PairStep::Quadrature(1)
            } else {
                PairStep::Terms(self.pair(i, j, rho))
            }
        }
    }

    /// Pairs set aside for the quadrature pass end where the single pass puts them: the same
    /// corrected means, covariance (both triangles, bit for bit) and fallback counts as with
    /// every pair filled in directly, at order 4 with asymmetric κ slices, fallbacks in both
    /// passes (pairs (1, 4), (2, 3) set aside without terms). Fails with pass 2 writing one
    /// triangle only, or reading the (i, j) terms as (j, i).
    #[test]
    fn set_aside_pairs_give_the_single_pass_result() {
        let n = 5;
        let cov = Mat::from_fn(n, n, |i, j| if i == j { 1.0 + 0.1 * i as f64 } else { 0.2 });
        let mut input = Moments::gaussian(faer::Col::zeros(n), cov);
        let asym =
            |scale: f64| Mat::from_fn(n, n, |i, j| scale * (1.0 + i as f64 + 0.3 * j as f64));
        input.set_slices((Some(asym(0.01)), Some(asym(0.05)), Some(asym(0.02))), 1.0);
        let run = |aside: bool| {
            let mut out = input.clone();
            let f = corrected(
                &input,
                Corrections::K3K4,
                &mut out,
                "test",
                |_| Ok(()),
                |_| Made { aside },
            )
            .expect("corrected");
            (out, f)
        };
        let ((direct, fd), (two_pass, f2)) = (run(false), run(true));
        assert_eq!(fd, f2);
        assert!(fd.pairs >= 4 && fd.pairs_tried == 10, "{fd:?}");
        for i in 0..n {
            assert_eq!(direct.mean[i].to_bits(), two_pass.mean[i].to_bits());
            for j in 0..n {
                let (a, b) = (direct.cov[(i, j)], two_pass.cov[(i, j)]);
                assert_eq!(a.to_bits(), b.to_bits(), "({i}, {j}): {a} vs {b}");
            }
        }
        assert!((0..n).any(|i| (0..n).any(|j| direct.cov[(i, j)] != input.cov[(i, j)])));
    }

    /// The region of Jondeau & Rockinger (2001): S = 0 reaches K = 4 exactly (the minimum
    /// 1 − K/4 at z² = 3); the widest skewness, |S| ≈ 1.049, near K ≈ 2.4; nothing at K < 0 or
    /// K > 4; and a grid check of the cubic's minimum against a dense scan of z.
    #[test]
    fn positivity_region_matches_jondeau_rockinger() {
        assert!(gram_charlier_positive(0.0, 4.0));
        assert!(!gram_charlier_positive(0.0, 4.01));
        assert!(!gram_charlier_positive(0.0, -0.01));
        assert!(gram_charlier_positive(1.04, 2.4) && gram_charlier_positive(-1.04, 2.4));
        assert!(!gram_charlier_positive(1.06, 2.4));
        assert!((0..=400).all(|k| !gram_charlier_positive(1.06, k as f64 / 100.0)));
        assert!(!gram_charlier_positive(0.1, 0.0));
        for s in [-1.0, -0.5, 0.0, 0.3, 0.9] {
            for k in [0.1, 0.5, 1.0, 2.0, 3.5] {
                let scan = (-40_000..=40_000)
                    .map(|t| {
                        let z = t as f64 / 1000.0;
                        1.0 + s * (z * z * z - 3.0 * z) / 6.0
                            + k * (z.powi(4) - 6.0 * z * z + 3.0) / 24.0
                    })
                    .fold(f64::INFINITY, f64::min);
                assert_eq!(
                    gram_charlier_positive(s, k),
                    scan >= 0.0,
                    "S {s} K {k}: {scan}"
                );
            }
        }
        assert!(gram_charlier_reachable(0.8, None) && !gram_charlier_reachable(1.2, None));
    }
}
