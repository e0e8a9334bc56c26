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
//! where no unit of the stage has a normal variance for that class: a unit below the range
//! beside units whose spread is resolved adds nothing the stage's comparison can see (its
//! entries of Σ are below rounding of theirs, in the measurement and the theory alike), and
//! refusing it refused real networks — a GELU unit whose pre-activation sits near −30 for
//! every sample of a class (outputs ~10⁻¹⁹⁶, squares 0) stopped the whole run. An overflow is
//! refused wherever it is.

use crate::error::{Error, Result};
use crate::net::Stage;
use crate::stats::MomentAccumulator;

/// 2⁻⁴⁵⁰ ≈ 3.5e-136: below this |mean| a unit's variance of 0 cannot be told from one whose
/// squares underflowed (module docs).
pub const SMALLEST_RESOLVED: f64 = f64::from_bits((1023 - 450) << 52);

/// Refuses class `c` at every stage but the input when some unit's spread is outside f64's
/// range (module docs), naming the stage, the class, the unit, its mean and variance.
pub(super) fn check_class_range(
    stages: &[Stage],
    accs: &[MomentAccumulator],
    c: usize,
) -> Result<()> {
    for (&stage, acc) in stages.iter().zip(accs) {
        if stage == Stage::Input {
            continue;
        }
        let Some((n, units)) = acc.diagonal(c) else {
            continue;
        };
        if let Some((i, why)) = unresolved_unit(&units, n) {
            let (mean, var) = units[i];
            return Err(Error::Numeric(format!(
                "the forward pass of the samples at {stage}, class {c}, unit {i} (mean \
                 {mean:.1e}, variance {var:.1e} over {n} samples): {why}; expected values \
                 whose spread f64 holds (rescale the model's weights or the data: the layer \
                 that makes {stage})"
            )));
        }
    }
    Ok(())
}

/// The first unit of one stage and class (`units`: mean and variance over `n` samples) whose
/// spread the stage cannot resolve, and why (module docs): an overflow anywhere; a spread below
/// f64's range only where no unit has a normal variance.
fn unresolved_unit(units: &[(f64, f64)], n: u64) -> Option<(usize, String)> {
    let resolved = units
        .iter()
        .any(|&(_, var)| var.is_finite() && var >= f64::MIN_POSITIVE);
    units.iter().enumerate().find_map(|(i, &(mean, var))| {
        let why = out_of_range(mean, var, n)?;
        (!var.is_finite() || !resolved).then_some((i, why))
    })
}

/// Why a unit of mean `mean` and variance `var` over `n` samples is outside the range the
/// statistics resolve (module docs), or None.
fn out_of_range(mean: f64, var: f64, n: u64) -> Option<String> {
    if !var.is_finite() {
        return Some(format!(
            "the sum of the squares of its deviations overflows f64 (some value deviates from \
             the class's centre by more than √(1.8e308 / {n}) = {:.1e})",
            (f64::MAX / n as f64).sqrt()
        ));
    }
    if var > 0.0 && var < f64::MIN_POSITIVE {
        return Some(
            "its values vary, but their variance is below f64's normal range (2.2e-308): the \
             squares of their deviations underflow to subnormal numbers, so the measured \
             covariance (and the prediction, formed alike) would be rounding"
                .into(),
        );
    }
    if var <= 0.0 && mean != 0.0 && mean.abs() < SMALLEST_RESOLVED {
        return Some(
            "its values are below 2^-450 = 3.5e-136, where the squares of their deviations \
             underflow to 0: a spread among them cannot be told from none, so the measured \
             covariance (and the prediction, formed alike) would be 0"
                .into(),
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rule of the module docs at its edges: a normal variance passes whatever the mean
    /// (10⁻³⁰⁰ of a unit spread by 10⁻¹⁵⁰); a subnormal one is refused; 0 passes for a unit
    /// exactly 0 or constant at ≥ 2⁻⁴⁵⁰ (1.0, 10⁻¹³⁰) and is refused below (10⁻³⁰¹); ∞ is refused
    /// naming the bound.
    #[test]
    fn a_spread_outside_f64s_range_is_refused() {
        assert_eq!(SMALLEST_RESOLVED, 2f64.powi(-450));
        assert!(out_of_range(1e-300, 1e-300, 10).is_none());
        assert!(out_of_range(1.0, f64::MIN_POSITIVE, 10).is_none());
        assert!(out_of_range(1e-157, 1e-314, 10).is_some_and(|w| w.contains("subnormal")));
        for mean in [0.0, 1.0, -1e-130, 2f64.powi(-450)] {
            assert!(out_of_range(mean, 0.0, 10).is_none(), "{mean}");
        }
        for mean in [1e-301, -2f64.powi(-451)] {
            assert!(out_of_range(mean, 0.0, 10).is_some_and(|w| w.contains("2^-450")));
        }
        assert!(out_of_range(1.0, f64::INFINITY, 200).is_some_and(|w| w.contains("9.5e152")));
        assert!(out_of_range(1.0, f64::NAN, 200).is_some());
    }

    /// A unit below the range beside one with a normal variance passes (the GELU unit at −30:
    /// mean −1.9·10⁻¹⁹⁶, variance 0, beside a unit of variance 0.2); alone, or beside a constant
    /// or another unresolved unit, it is refused; an overflow is refused beside resolved units.
    #[test]
    fn only_a_stage_with_no_resolved_unit_is_refused_for_underflow() {
        let tiny = (-1.9e-196, 0.0);
        let subnormal = (1e-157, 1e-314);
        assert!(unresolved_unit(&[(0.3, 0.2), tiny, subnormal], 2000).is_none());
        assert_eq!(unresolved_unit(&[(1.0, 0.0), tiny], 2000).unwrap().0, 1);
        assert_eq!(unresolved_unit(&[subnormal, tiny], 2000).unwrap().0, 0);
        assert_eq!(
            unresolved_unit(&[(0.3, 0.2), (1.0, f64::INFINITY)], 2000)
                .unwrap()
                .0,
            1
        );
        assert!(unresolved_unit(&[(0.0, 0.0), (1.0, 0.0)], 2000).is_none());
    }
}
