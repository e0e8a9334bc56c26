//! Refusing a measured stage whose spread lies outside f64's range: a class whose values at a
//! unit vary but whose variance is below f64's normal range (2.2e-308, where the squares of
//! the deviations underflow to subnormal numbers or 0), or whose sum of squared deviations
//! overflows (adv35/adv36: a read-out × 2⁻⁵²⁰ made the output's covariance subnormal, × 2⁻¹⁰⁰⁰
//! made it 0, and `propagate` printed `cov_rel_err` 0.0 — 0.33 at × 1 — with exit 0: the
//! prediction, formed by the same read-out, underflowed alike; × 2⁵²⁰ was refused as "class 0:
//! the covariances … are not finite", naming neither the stage nor the unit).
//!
//! **The rule.** Per class c and unit i of every stage but the input (the data's own spread is
//! checked where it is read, `command::check_class_spread`, and a constant input feature may be
//! any size), with μ the mean and v = S₂\[i,i\]/n − m² the variance as the conversion forms them
//! ([`MomentAccumulator::diagonal`]):
//!
//! - v = ∞ or NaN: the sum of squared deviations overflowed (some deviation above
//!   √(f64::MAX / n)): refused.
//! - 0 < v < 2.2e-308: the values vary (a constant unit's rounding variance is at most
//!   ~(8ε|μ|)², normal for |μ| ≥ [`SMALLEST_RESOLVED`]) but their variance has lost its digits:
//!   refused.
//! - v = 0 and 0 < |μ| < [`SMALLEST_RESOLVED`] = 2⁻⁴⁵⁰ ≈ 3.5e-136: whether the values vary cannot
//!   be told. Values spread by a relative δ ≥ 8ε around μ have v ≈ (δμ)² ≥ (8ε·2⁻⁴⁵⁰)² = 2⁻⁹⁹⁸,
//!   normal, when |μ| ≥ 2⁻⁴⁵⁰; below it the squares of their deviations can underflow to 0
//!   (× 2⁻¹⁰⁰⁰: |μ| ~ 10⁻³⁰¹). Refused: a unit that small is outside what the statistics
//!   resolve, whether it varies or not.
//!
//! A unit that is exactly 0 (a dead relu unit) or constant at |μ| ≥ 2⁻⁴⁵⁰ passes, as does
//! every unit whose variance is normal however small its mean. The last two rules apply only
//! where no unit of the stage has a normal variance for that class ([`unresolved_below`]): a
//! unit below the range beside units whose spread is resolved adds nothing the stage's
//! comparison can see (its entries of Σ are below rounding of theirs, in the measurement and
//! the theory alike), and refusing it refused real networks — a GELU unit whose pre-activation
//! sits near −30 for every sample of a class (outputs ~10⁻¹⁹⁶, squares 0) stopped the whole run.
//!
//! **What is refused** (adv37). A stage below the range refuses the class only at the output
//! (the run's figures, `cov_rel_err` 0.0 with exit 0 before adv36), naming the class's first
//! stage below the range, the layer to rescale. A hidden stage below the range before a
//! resolved output is a valid network — a GELU layer dead for every sample of a class (outputs
//! ~10⁻¹⁹⁶) feeds the next layer its biases, the stages after it are constant or resolved as
//! usual — and passes: the comparison withholds that stage's own figures (`propagate`: "n/a†",
//! JSON `"unresolved"` with the unit and the reason), never a silent 0. An overflow is refused
//! wherever it is.

use crate::error::{Error, Result};
use crate::net::Stage;
use crate::stats::MomentAccumulator;

/// 2⁻⁴⁵⁰ ≈ 3.5e-136: below this |mean| a unit's variance of 0 cannot be told from one whose
/// squares underflowed (module docs).
pub const SMALLEST_RESOLVED: f64 = f64::from_bits((1023 - 450) << 52);

/// A hidden stage whose spread for one class lies below f64's range (module docs), decided
/// once where it is measured (`check_class_range`) and carried with the statistics
/// ([`super::LayerStats::unresolved`]): the comparison withholds that stage's figures for the
/// class.
#[derive(Clone, Debug, PartialEq)]
pub struct Unresolved {
    pub stage: Stage,
    pub class: usize,
    /// The first unit below the range and its mean.
    pub unit: usize,
    pub mean: f64,
    /// Why ([`unresolved_below`]).
    pub why: &'static str,
}

impl std::fmt::Display for Unresolved {
    /// "unit i (mean m): why", the text of `propagate`'s JSON `"unresolved"`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unit {} (mean {:.1e}): {}",
            self.unit, self.mean, self.why
        )
    }
}

/// Refuses class `c` when some unit's spread is outside f64's range (module docs) at the output
/// or beyond it anywhere (an overflow), naming the stage, the class, the unit, its mean and
/// variance: for a spread below the range, the first such stage of the class (the layer to
/// rescale). A hidden stage below the range before a resolved output passes and is returned,
/// one [`Unresolved`] per such stage, for the comparison to withhold its figures.
pub(super) fn check_class_range(
    stages: &[Stage],
    accs: &[MomentAccumulator],
    c: usize,
) -> Result<Vec<Unresolved>> {
    let refusal = |stage: Stage, (i, (mean, var)): (usize, (f64, f64)), n: u64, why: &str| {
        Error::Numeric(format!(
            "the forward pass of the samples at {stage}, class {c}, unit {i} (mean {mean:.1e}, \
             variance {var:.1e} over {n} samples): {why}; expected values whose spread f64 \
             holds (rescale the model's weights or the data: the layer that makes {stage})"
        ))
    };
    let mut first_below = None;
    let mut below = Vec::new();
    for (&stage, acc) in stages.iter().zip(accs) {
        if stage == Stage::Input {
            continue;
        }
        let Some((n, units)) = acc.diagonal(c) else {
            continue;
        };
        if let Some((i, why)) = overflowing(&units, n) {
            return Err(refusal(stage, (i, units[i]), n, &why));
        }
        if let Some((i, why)) = unresolved_below(&units) {
            let (first, unit, n, why) = *first_below.get_or_insert((stage, (i, units[i]), n, why));
            if stage == Stage::Output {
                return Err(refusal(first, unit, n, why));
            }
            let (unit, mean) = (i, units[i].0);
            below.push(Unresolved {
                stage,
                class: c,
                unit,
                mean,
                why,
            });
        }
    }
    Ok(below)
}

/// The first unit of one stage and class (`units`: mean and variance over `n` samples) whose
/// sum of squared deviations overflowed, and why (module docs). Where the mean is not finite
/// the sum of the values overflowed first: values near f64's largest (a bias of 1e308 makes
/// every value 1e308, their sum over 49 samples ∞) were said to deviate from the class's centre
/// by more than 1.9e153, a spread they do not have (adv41).
///
/// Where one rounding unit of the mean, ε|mean|, is itself beyond √(f64::MAX / n), the squared
/// deviations from a shift rounded at that size overflow whether or not the values spread: a
/// constant 1e200 (a bias of 1e200 over data of ~1) was said to deviate from its centre by more
/// than 1.9e153 (adv43); such values are said to be too large for f64 to hold their spread.
fn overflowing(units: &[(f64, f64)], n: u64) -> Option<(usize, String)> {
    let i = units.iter().position(|&(_, var)| !var.is_finite())?;
    let bound = (f64::MAX / n as f64).sqrt();
    let mean = units[i].0;
    let why = if mean.is_finite() && mean.abs() * f64::EPSILON > bound {
        format!(
            "its values are of size {:.1e}, where one rounding unit ({:.1e}) is beyond \
             √(1.8e308 / {n}) = {bound:.1e}: the sum of the squares of their deviations \
             overflows f64 whether or not they spread, so f64 cannot hold their spread",
            mean.abs(),
            mean.abs() * f64::EPSILON
        )
    } else if mean.is_finite() {
        format!(
            "the sum of the squares of its deviations overflows f64 (some value deviates from \
             the class's centre by more than √(1.8e308 / {n}) = {bound:.1e})"
        )
    } else {
        format!(
            "the sum of its values overflows f64 (some value is larger in size than 1.8e308 / \
             {n} = {:.1e})",
            f64::MAX / n as f64
        )
    };
    Some((i, why))
}

/// The first unit of one stage and class (`units`: mean and variance) whose spread lies below
/// f64's range, and why, where no unit of the stage has a normal variance (module docs); None
/// where the stage's spread is resolved (or every unit is constant at a resolved size, or
/// exactly 0). The comparison withholds such a hidden stage's figures (`propagate`: "not
/// resolved"), which are the rounding of nothing; at the output the run is refused.
pub fn unresolved_below(units: &[(f64, f64)]) -> Option<(usize, &'static str)> {
    let resolved = units
        .iter()
        .any(|&(_, var)| var.is_finite() && var >= f64::MIN_POSITIVE);
    if resolved {
        return None;
    }
    units
        .iter()
        .enumerate()
        .find_map(|(i, &(mean, var))| Some((i, below_range(mean, var)?)))
}

/// Why a unit of mean `mean` and finite variance `var` is below the range the statistics
/// resolve (module docs), or None.
fn below_range(mean: f64, var: f64) -> Option<&'static str> {
    if var > 0.0 && var < f64::MIN_POSITIVE {
        return Some(
            "its values vary, but their variance is below f64's normal range (2.2e-308): the \
             squares of their deviations underflow to subnormal numbers, so the measured \
             covariance (and the prediction, formed alike) would be rounding",
        );
    }
    if var <= 0.0 && mean != 0.0 && mean.abs() < SMALLEST_RESOLVED {
        return Some(
            "its values are below 2^-450 = 3.5e-136, where the squares of their deviations \
             underflow to 0: a spread among them cannot be told from none, so the measured \
             covariance (and the prediction, formed alike) would be 0",
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule of the module docs at its edges: a normal variance passes whatever the mean
    /// (10⁻³⁰⁰ of a unit spread by 10⁻¹⁵⁰); a subnormal one is below the range; 0 passes for a
    /// unit exactly 0 or constant at ≥ 2⁻⁴⁵⁰ (1.0, 10⁻¹³⁰) and is below the range below it
    /// (10⁻³⁰¹); ∞ and NaN overflow, named with the bound.
    #[test]
    fn a_spread_outside_f64s_range_is_refused() {
        assert_eq!(SMALLEST_RESOLVED, 2f64.powi(-450));
        assert!(below_range(1e-300, 1e-300).is_none());
        assert!(below_range(1.0, f64::MIN_POSITIVE).is_none());
        assert!(below_range(1e-157, 1e-314).is_some_and(|w| w.contains("subnormal")));
        for mean in [0.0, 1.0, -1e-130, 2f64.powi(-450)] {
            assert!(below_range(mean, 0.0).is_none(), "{mean}");
        }
        for mean in [1e-301, -2f64.powi(-451)] {
            assert!(below_range(mean, 0.0).is_some_and(|w| w.contains("2^-450")));
        }
        let inf = overflowing(&[(1.0, 0.5), (1.0, f64::INFINITY)], 200).unwrap();
        assert_eq!(inf.0, 1);
        assert!(inf.1.contains("9.5e152"), "{}", inf.1);
        assert!(overflowing(&[(1.0, f64::NAN)], 200).is_some());
        assert!(overflowing(&[(1.0, 0.5), (1e-301, 0.0)], 200).is_none());
    }

    /// A unit below the range beside one with a normal variance is resolved (the GELU unit at
    /// −30: mean −1.9·10⁻¹⁹⁶, variance 0, beside a unit of variance 0.2); alone, or beside a
    /// constant or another unresolved unit, it is not.
    #[test]
    fn only_a_stage_with_no_resolved_unit_is_below_the_range() {
        let tiny = (-1.9e-196, 0.0);
        let subnormal = (1e-157, 1e-314);
        assert!(unresolved_below(&[(0.3, 0.2), tiny, subnormal]).is_none());
        assert_eq!(unresolved_below(&[(1.0, 0.0), tiny]).unwrap().0, 1);
        assert_eq!(unresolved_below(&[subnormal, tiny]).unwrap().0, 0);
        assert!(unresolved_below(&[(0.0, 0.0), (1.0, 0.0)]).is_none());
    }

    /// Accumulators of one class at h1, z1 and y with the values `h1`, `z1` and `y` per sample.
    fn three_stages(h1: [f64; 3], z1: [f64; 3], y: [f64; 3]) -> Vec<MomentAccumulator> {
        [h1, z1, y]
            .iter()
            .map(|v| {
                let mut acc = MomentAccumulator::new(1, 1, false).unwrap();
                let x = faer::Mat::from_fn(1, 3, |_, j| v[j]);
                acc.push(x.as_ref(), &[0, 0, 0]).unwrap();
                acc
            })
            .collect()
    }

    /// A hidden stage below the range (z1 dead: every value ~10⁻¹⁹⁶) before a resolved output
    /// passes, where adv36's rule refused it, and is returned as unresolved (the fact the
    /// comparison reads); the same stage before an output below the range
    /// is refused naming that first stage, and an output below the range alone names y; an
    /// overflow is refused at a hidden stage too.
    #[test]
    fn only_an_output_below_the_range_refuses_the_class() {
        let stages = [Stage::Pre(1), Stage::Post(1), Stage::Output];
        let live = [0.1, 0.5, 0.9];
        let dead = [-1.9e-196, -1.8e-196, -2.0e-196];
        let check = |h1, z1, y| check_class_range(&stages, &three_stages(h1, z1, y), 0);
        for y in [[0.2, 0.2, 0.2], live] {
            let below = check(live, dead, y).unwrap();
            assert_eq!(below.len(), 1, "{below:?}");
            let u = &below[0];
            assert_eq!((u.stage, u.class, u.unit), (Stage::Post(1), 0, 0));
            assert!(
                (u.mean + 1.9e-196).abs() < 1e-209 && u.why.contains("2^-450"),
                "{u:?}"
            );
        }
        assert_eq!(check(live, live, live).unwrap(), []);
        let e = check(live, dead, dead).unwrap_err().to_string();
        assert!(e.contains("at z1, class 0, unit 0"), "{e}");
        let e = check(live, live, dead).unwrap_err().to_string();
        assert!(e.contains("at y, class 0"), "{e}");
        let e = check([1e300, -1e300, 0.0], dead, live)
            .unwrap_err()
            .to_string();
        assert!(e.contains("at h1") && e.contains("overflows"), "{e}");
    }
}
