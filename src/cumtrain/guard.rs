//! The guarded cumulant objective (issue #16 item 6): the closure's value, kept from falling
//! below what the Gaussian class model allows by a sampled check of it.
//!
//! ```text
//! J = L_C + λ |L_C − S|
//! ```
//!
//! L_C is the closure objective ([`super::objective`]), S the sampled check on fresh Gaussian
//! surrogate draws ([`super::check`]), λ ≥ 0 the weight (`--closure-check`). For λ ≥ 1,
//! J ≥ S at every step (if L_C < S, J = S + (λ − 1)(S − L_C)), so E\[J\] ≥ E\[S\] = L_G, the
//! expected loss on the Gaussian class model, which no network can bring below the Bayes MSE
//! of the class mixture: the optimiser can no longer gain by moving into a region where the
//! closure underestimates the loss, and is pushed towards networks the closure describes.
//! With the first closure corrected (`--order 3|4`) S draws from each class's training
//! samples instead ([`super::check`]): E\[S\] is the network's training MSE L_train, and λ ≥ 1
//! gives E\[J\] ≥ L_train: the objective cannot report less than the network's actual loss on
//! its training samples (it can still lie below the population's Bayes MSE by as much as the
//! network overfits them, as the sample objective's loss can).
//! λ = 0 is the closure objective alone. Its gradient is exact for J at the step's draws:
//! ∇J = ∇L_C + λ s (∇L_C − ∇S), s = sign(L_C − S) (+1 at a tie, which has probability 0).

use serde::Serialize;

use crate::data::preprocess::compact;
use crate::error::{Error, Field, Result};
use crate::net::Layer;
use crate::propagate::closures::Corrections;

/// The largest λ (`--closure-check`) accepted: 2⁵³, beyond which 1 + λ rounds to λ in f64 and
/// the guarded gradient ∇J = (1 + λs)∇L_C − λs∇S loses the data term ∇L_C to rounding (adv48a:
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
}

fn is_gaussian(order: &u8) -> bool {
    *order == 2
}

impl CheckSettings {
    /// The first closure's corrections (`order`): an error naming `--order` outside 2..=4.
    pub fn corrections(&self) -> Result<Corrections> {
        Corrections::from_order(self.order).ok_or_else(|| {
            Error::config(
                Field::Order,
                format!("{} is not a cumulant order: 2, 3 or 4", self.order),
            )
        })
    }

    /// Checks λ (finite, 0 ≤ λ ≤ [`LARGEST_WEIGHT`]), the draws (≥ 2 where the check is on)
    /// and the order.
    pub fn validate(&self) -> Result<()> {
        self.corrections()?;
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
                    "λ = {} is beyond 2⁵³ = {LARGEST_WEIGHT:.1e}, where 1 + λ rounds to λ in f64: \
                     the data term L_C vanishes from the gradient of J = L_C + λ|L_C − S|, which \
                     then only pulls the closure towards the sampled check (the constant network, \
                     which the closure describes exactly, is its minimum: trained at chance); \
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

/// J = L_C + λ|L_C − S| (module docs); `grads` holds ∇L_C on entry and ∇J on return,
/// `check_grads` holds ∇S.
pub fn guard(
    closure: f64,
    sampled: f64,
    weight: f64,
    grads: &mut [Layer],
    check_grads: &[Layer],
) -> f64 {
    let s = if closure >= sampled { 1.0 } else { -1.0 };
    let (a, b) = (1.0 + weight * s, -weight * s);
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
    closure + weight * (closure - sampled).abs()
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
    let gap = (closure - sampled).abs();
    let most = (f64::MAX / gap)
        .min((f64::MAX.sqrt() - before.plain) / before.difference)
        .min(LARGEST_WEIGHT);
    Err(Error::config(
        Field::ClosureCheck,
        format!(
            "λ = {} weighs |L_C − S| = {gap:.2e} and ∇L_C − ∇S (entries up to {:.2e}) beyond \
             f64's range (1.8e308: the objective J = L_C + λ|L_C − S|, or the square of a \
             gradient entry in Adam's second moment); expected a λ below {most:.1e} (the \
             default is 1)",
            compact(weight),
            before.difference,
        ),
    ))
}
