//! The guarded cumulant objective (issue #16 item 6): the closure's value, kept from falling
//! below what the class model allows by a sampled check of it.
//!
//! ```text
//! J = L_C + λ·max(0, S − L_C)
//! ```
//!
//! L_C is the closure objective ([`super::objective`]), S the sampled check on fresh draws
//! ([`super::check`]), λ ≥ 0 the weight (`--closure-check`). At the default λ = 1, J = max(L_C, S).
//! For λ ≥ 1, J ≥ S at every step (where L_C < S, J = S + (λ − 1)(S − L_C)), so E\[J\] ≥ E\[S\]:
//! at order 2 E\[S\] = L_G, the expected loss on the Gaussian class model N(μ_c, Σ_c), which no
//! network can bring below the Bayes MSE of the class mixture; at `--order 3|4` the check draws
//! from each class's training samples and E\[S\] = L_train, the network's training MSE
//! ([`super::check`]; J can still lie below the population's Bayes MSE by as much as the
//! network overfits, as the sample objective's loss can). The optimiser cannot gain by moving
//! into a region where the closure underestimates the loss: there the step follows ∇S.
//!
//! The term is one-sided. Where the closure overestimates (L_C ≥ S) J = L_C and the step is
//! the closure's alone. The two-sided J = L_C + λ|L_C − S| of the sixteenth to sixty-fifth
//! sessions had the gradient (1 + λ)∇L_C − λ∇S there: an ascent on S, which rewards a network
//! that is *worse* on the check's samples. (The higher-order task's erf runs that fell from 0.79
//! to chance under it fell as well without it: their cause was the corrected closure's jump
//! where a unit leaves the Gram–Charlier reach, [`super::skew_cap`]; EXPERIMENTS.md, "The
//! one-sided guard and the skewness cap".)
//! Where L_C < S and λ > 1, ∇J = λ∇S − (λ − 1)∇L_C still pushes L_C up towards S (a network the
//! closure describes better, not a better one): λ = 1 has no such term, and is the default.
//! λ = 0 is the closure objective alone. The gradient is exact for J at the step's draws:
//! ∇J = ∇L_C where L_C ≥ S, else (1 − λ)∇L_C + λ∇S ([`guard`]; the kink S = L_C has
//! probability 0).

use serde::Serialize;

use crate::data::preprocess::compact;
use crate::error::{Error, Field, Result};
use crate::net::Layer;
use crate::propagate::closures::Corrections;

/// The largest λ (`--closure-check`) accepted: 2⁵³, beyond which 1 − λ rounds to −λ in f64 and
/// the guarded gradient ∇J = (1 − λ)∇L_C + λ∇S loses the data term ∇L_C to rounding (adv48a:
/// λ = 1e100 ran, J ≈ 3e99, the network at chance). Smaller λ ≫ 1 keep the term but weigh it
/// ~1/λ against the check's (Adam's steps do not grow with λ): they run, as asked.
pub const LARGEST_WEIGHT: f64 = 9_007_199_254_740_992.0;

/// The check's settings (`--closure-check`, `--check-samples`) and the order of the first
/// closure (`--order`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CheckSettings {
    /// λ of J (module docs); 0 turns the check off.
    pub weight: f64,
    /// Draws per class and step of the sampled check S.
    pub samples: usize,
    /// The first closure's cumulant order: 2 = Gaussian (the check draws from N(μ_c, Σ_c)),
    /// 3 or 4 = with the κ slices of h¹ measured per step from the training samples
    /// ([`super::first_layer`]; the check draws from the training samples themselves,
    /// [`super::check`]). Absent from the JSON at 2.
    #[serde(skip_serializing_if = "is_gaussian")]
    pub order: u8,
    /// At order 3/4, which hidden layers' closures take the measured κ slices
    /// (`--corrected-layers`; [`super::CorrectedLayers`]); None (absent from the JSON) at 2.
    #[serde(rename = "corrected_layers", skip_serializing_if = "Option::is_none")]
    pub layers: Option<super::CorrectedLayers>,
    /// At order 3/4, the bound on the Gram–Charlier closures' corrections
    /// (`--correction-bound`; [`super::correction_bound`]); None (absent from the JSON) at 2.
    #[serde(rename = "correction_bound", skip_serializing_if = "Option::is_none")]
    pub bound: Option<super::correction_bound::BoundSetting>,
    /// Where the bound is on, what it does to the mean's correction (`--correction-bound-mean`;
    /// [`super::correction_bound::BoundMean`]); None (absent from the JSON) where the bound is
    /// off. Set with the bound off (or at order 2) it is refused ([`CheckSettings::validate`]).
    #[serde(
        rename = "correction_bound_mean",
        skip_serializing_if = "Option::is_none"
    )]
    pub bound_mean: Option<super::correction_bound::BoundMean>,
    /// Where the bound is on, how it keeps the covariance within it
    /// (`--correction-bound-rule`; [`super::correction_bound::BoundRule`]); None (absent from
    /// the JSON) where the bound is off. Set with the bound off (or at order 2) it is refused
    /// ([`CheckSettings::validate`]).
    #[serde(
        rename = "correction_bound_rule",
        skip_serializing_if = "Option::is_none"
    )]
    pub bound_rule: Option<super::correction_bound::BoundRule>,
    /// Where the bound is on, what it keeps z near (`--correction-bound-reference`;
    /// [`super::correction_bound::BoundReference`]); None (absent from the JSON) where the bound
    /// is off. Set with the bound off (or at order 2) it is refused ([`CheckSettings::validate`]).
    #[serde(
        rename = "correction_bound_reference",
        skip_serializing_if = "Option::is_none"
    )]
    pub bound_reference: Option<super::correction_bound::BoundReference>,
}

/// The corrections of cumulant order `order` (`--order`, the grid key `order`): an error
/// naming `--order` outside 2..=4.
pub fn order_corrections(order: u64) -> Result<Corrections> {
    u8::try_from(order)
        .ok()
        .and_then(Corrections::from_order)
        .ok_or_else(|| {
            Error::config(
                Field::Order,
                format!("{order} is not a cumulant order: 2, 3 or 4"),
            )
        })
}

fn is_gaussian(order: &u8) -> bool {
    *order == 2
}

impl CheckSettings {
    /// The first closure's corrections (`order`): an error naming `--order` outside 2..=4.
    pub fn corrections(&self) -> Result<Corrections> {
        order_corrections(self.order.into())
    }

    /// Checks λ (finite, 0 ≤ λ ≤ [`LARGEST_WEIGHT`]), the draws (≥ 2 where the check is on),
    /// the order, the correction bound, and that what the bound does to the mean, its rule and
    /// its reference are set only where the bound is on.
    pub fn validate(&self) -> Result<()> {
        self.corrections()?;
        if let Some(bound) = self.bound {
            bound.validate()?;
        }
        let bound_on = self.bound.and_then(|b| b.share()).is_some();
        let of_the_bound = [
            (
                Field::CorrectionBoundMean,
                self.bound_mean.map(|m| {
                    format!("{m} sets what the correction bound does to the mean's correction")
                }),
            ),
            (
                Field::CorrectionBoundRule,
                self.bound_rule.map(|r| {
                    format!("{r} sets how the correction bound keeps the covariance within it")
                }),
            ),
            (
                Field::CorrectionBoundReference,
                self.bound_reference.map(|r| {
                    format!("{r} sets what the correction bound keeps the corrected z near")
                }),
            ),
        ];
        if let (Some((field, Some(what))), false) = (
            of_the_bound.into_iter().find(|(_, set)| set.is_some()),
            bound_on,
        ) {
            return Err(Error::config(
                field,
                format!(
                    "{what}, and the bound is off (--correction-bound α with 0 ≤ α < 1 at \
                     --order 3|4 turns it on): set a bound or remove the setting"
                ),
            ));
        }
        if !(self.weight.is_finite() && self.weight >= 0.0) {
            return Err(Error::config(
                Field::ClosureCheck,
                format!("{} is not a finite number ≥ 0", self.weight),
            ));
        }
        if self.weight > LARGEST_WEIGHT {
            return Err(Error::config(
                Field::ClosureCheck,
                format!(
                    "λ = {} is beyond 2⁵³ = {LARGEST_WEIGHT:.1e}, where 1 − λ rounds to −λ in f64: \
                     the data term L_C vanishes from the gradient of J = L_C + λ·max(0, S − L_C) \
                     where S > L_C, which then only pulls the closure towards the sampled check \
                     (the constant network, which the closure describes exactly, is its minimum: \
                     trained at chance); \
                     expected λ ≤ {LARGEST_WEIGHT:.1e}, and in practice near 1 (the default; \
                     λ ≥ 1 already keeps J ≥ S, and on XOR λ = 100 trains to chance)",
                    compact(self.weight)
                ),
            ));
        }
        if self.weight > 0.0 && self.samples < 2 {
            return Err(Error::config(
                Field::CheckSamples,
                format!(
                    "{} draws per class: the sampled check needs at least 2",
                    self.samples
                ),
            ));
        }
        Ok(())
    }
}

/// J = L_C + λ·max(0, S − L_C) (module docs); `grads` holds ∇L_C on entry and ∇J on return,
/// `check_grads` holds ∇S. Where L_C ≥ S, J = L_C and `grads` is left as it is.
pub fn guard(
    closure: f64,
    sampled: f64,
    weight: f64,
    grads: &mut [Layer],
    check_grads: &[Layer],
) -> f64 {
    if !check_leads(closure, sampled) {
        return closure;
    }
    let (a, b) = (1.0 - weight, weight);
    for (g, c) in grads.iter_mut().zip(check_grads) {
        for j in 0..g.w.ncols() {
            for i in 0..g.w.nrows() {
                g.w[(i, j)] = a * g.w[(i, j)] + b * c.w[(i, j)];
            }
        }
        for i in 0..g.b.nrows() {
            g.b[i] = a * g.b[i] + b * c.b[i];
        }
    }
    closure + weight * (sampled - closure)
}

/// Whether the check's term of J is active: S > L_C, the closure below the sampled loss (and
/// where either is NaN, so that J is NaN and the step is refused rather than the NaN dropped).
pub fn check_leads(closure: f64, sampled: f64) -> bool {
    sampled > closure || sampled.is_nan() || closure.is_nan()
}

/// The largest |entry| of ∇L_C and of ∇L_C − ∇S, taken before [`guard`] combines them: what
/// λ multiplies ([`check_guarded`]).
#[derive(Clone, Copy, Debug)]
pub struct GradientSizes {
    /// max |∇L_C|, |∇S|.
    plain: f64,
    /// max |∇L_C − ∇S|.
    difference: f64,
}

impl GradientSizes {
    /// The sizes of `grads` (∇L_C) and `check_grads` (∇S).
    pub fn of(grads: &[Layer], check_grads: &[Layer]) -> Self {
        let (mut plain, mut difference) = (0.0, 0.0);
        let mut add = |g: f64, c: f64| {
            plain = grow(grow(plain, g), c);
            difference = grow(difference, g - c);
        };
        for (g, c) in grads.iter().zip(check_grads) {
            for j in 0..g.w.ncols() {
                for i in 0..g.w.nrows() {
                    add(g.w[(i, j)], c.w[(i, j)]);
                }
            }
            for i in 0..g.b.nrows() {
                add(g.b[i], c.b[i]);
            }
        }
        GradientSizes { plain, difference }
    }
}

/// `most` grown to |v|; NaN once either is NaN (`f64::max` would drop it).
fn grow(most: f64, v: f64) -> f64 {
    if most.is_nan() || v.is_nan() {
        f64::NAN
    } else {
        most.max(v.abs())
    }
}

/// The largest |entry| of `layers` (NaN where one is NaN).
fn largest(layers: &[Layer]) -> f64 {
    let mut most = 0.0;
    for l in layers {
        for j in 0..l.w.ncols() {
            most = l.w.col(j).iter().fold(most, |m, &v| grow(m, v));
        }
        most = l.b.iter().fold(most, |m, &v| grow(m, v));
    }
    most
}

/// Refuses a guarded objective `guarded` (J) or gradient `grads` (∇J) beyond f64's range —
/// or a ∇J entry whose square is, as Adam's second moment takes it — where L_C (`closure`),
/// S (`sampled`), their gradients (`before`) and those squares are all finite: λ (`weight`)
/// made the overflow, and the error names `--closure-check` with the largest λ that keeps
/// both in range. A λ of 1e308 was blamed on the learning rate ("lower the learning rate"),
/// which no rate cures (adv47).
pub fn check_guarded(
    guarded: f64,
    closure: f64,
    sampled: f64,
    before: GradientSizes,
    grads: &[Layer],
    weight: f64,
) -> Result<()> {
    let squares_fit = |v: f64| (v * v).is_finite();
    let inputs_fit = closure.is_finite() && sampled.is_finite() && squares_fit(before.plain);
    if !inputs_fit || (guarded.is_finite() && squares_fit(largest(grads))) {
        return Ok(());
    }
    let gap = sampled - closure;
    let most = (f64::MAX / gap)
        .min((f64::MAX.sqrt() - before.plain) / before.difference)
        .min(LARGEST_WEIGHT);
    Err(Error::config(
        Field::ClosureCheck,
        format!(
            "λ = {} weighs S − L_C = {gap:.2e} and ∇S − ∇L_C (entries up to {:.2e}) beyond \
             f64's range (1.8e308: the objective J = L_C + λ·max(0, S − L_C), or the square of a \
             gradient entry in Adam's second moment); expected a λ below {most:.1e} (the \
             default is 1)",
            compact(weight),
            before.difference,
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Col, Mat};

    fn layer(w: f64, b: f64) -> Vec<Layer> {
        vec![Layer {
            w: Mat::from_fn(2, 3, |i, j| w * (1 + i + 2 * j) as f64),
            b: Col::from_fn(2, |i| b * (1 + i) as f64),
        }]
    }

    /// Where the closure lies at or above the check (L_C ≥ S), J = L_C and ∇J = ∇L_C exactly,
    /// for every λ: no term rewards raising S (the two-sided |L_C − S| gave (1 + λ)∇L_C − λ∇S
    /// there, and fails this).
    #[test]
    fn closure_above_the_check_is_left_alone() {
        for weight in [0.5, 1.0, 3.0] {
            for (closure, sampled) in [(0.9, 0.4), (0.7, 0.7)] {
                let mut grads = layer(0.3, -0.2);
                let j = guard(closure, sampled, weight, &mut grads, &layer(-1.1, 0.8));
                assert_eq!(j, closure);
                assert_eq!(
                    grads,
                    layer(0.3, -0.2),
                    "λ {weight}, L_C {closure}, S {sampled}"
                );
            }
        }
    }

    /// Where the check lies above (S > L_C), J = L_C + λ(S − L_C) and ∇J = (1 − λ)∇L_C + λ∇S:
    /// at λ = 1, J = S and ∇J = ∇S exactly.
    #[test]
    fn check_above_the_closure_leads() {
        let (closure, sampled) = (0.25, 0.75);
        let mut grads = layer(0.3, -0.2);
        assert_eq!(
            guard(closure, sampled, 1.0, &mut grads, &layer(-1.1, 0.8)),
            0.75
        );
        assert_eq!(grads, layer(-1.1, 0.8));
        let mut grads = layer(0.3, -0.2);
        let j = guard(closure, sampled, 3.0, &mut grads, &layer(-1.1, 0.8));
        assert!((j - 1.75).abs() < 1e-15);
        let want = layer(-2.0 * 0.3 + 3.0 * -1.1, -2.0 * -0.2 + 3.0 * 0.8);
        assert!(
            (largest(&[Layer {
                w: &grads[0].w - &want[0].w,
                b: &grads[0].b - &want[0].b,
            }]) < 1e-14)
        );
    }

    /// A NaN on either side makes J NaN (the step is refused as non-finite), not dropped.
    #[test]
    fn nan_is_not_dropped() {
        for (closure, sampled) in [(f64::NAN, 0.5), (0.5, f64::NAN)] {
            let mut grads = layer(0.3, -0.2);
            assert!(guard(closure, sampled, 1.0, &mut grads, &layer(1.0, 1.0)).is_nan());
        }
    }
}
