//! Accuracy of the Gaussian description (DESIGN.md §4.2).
//!
//! Start from the measured per-class mean and covariance of layer l (l = 0: the input x, l ≥ 1:
//! the post-activation zˡ), propagate them to the output y with the engine, and predict the
//! accuracy as
//!
//! ```text
//! A_l = Σ_c p(c) · P_{y ~ N(μ_c, Σ_c)}(argmax y = c),
//! ```
//!
//! with p(c) the class frequencies of the data. Its standard error combines the Monte Carlo
//! errors of the per-class probabilities (independent draws per class):
//! se(A_l) = √(Σ_c p(c)² se_c²). From l = L the output is an exact affine image of z^L, so A_L
//! tests only whether the output is Gaussian; A_0 also tests every closure on the way
//! (Fischer et al. 2022, Fig. 5: A_l matches the network for l ≥ 1 on MNIST, A_0 falls short).

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::LayerStats;
use crate::net::Stage;
use crate::net::{Activation, Mlp};
use crate::propagate::closures::{ClosureMethod, Corrections, Fallbacks};
use crate::propagate::{EngineSettings, Predicted, PropagateOptions, Propagator};
use crate::stats::gaussian::{prob_argmax, prob_argmax_flops};
use crate::stats::Moments;
use crate::timing::Timings;

/// Settings of the accuracy prediction.
#[derive(Clone, Copy, Debug)]
pub struct AccuracyOptions {
    /// How the nonlinearity is closed.
    pub method: ClosureMethod,
    /// Monte Carlo draws per class for ≥ 3 outputs (2 outputs are exact through Φ).
    pub mc_samples: usize,
    /// Seed of the Monte Carlo draws; class c from start layer l uses a seed derived from it.
    pub seed: u64,
    /// How the propagations compute (`--precision`, `--affine`).
    pub engine: EngineSettings,
}

/// P(argmax y = c) for one class under the predicted output Gaussian.
#[derive(Clone, Debug, Serialize)]
pub struct ClassProbability {
    pub class: usize,
    /// p(c): the class's frequency in the data.
    pub prior: f64,
    /// P_{y~N(μ_c,Σ_c)}(argmax y = c).
    pub p_correct: f64,
    /// Monte Carlo standard error of `p_correct` (0 when exact).
    pub stderr: f64,
}

/// The predicted accuracy from one start layer.
#[derive(Clone, Debug, Serialize)]
pub struct TheoryAccuracy {
    /// l: 0 = the input x, l ≥ 1 = zˡ.
    pub start_layer: usize,
    /// "x" or "zˡ".
    pub start_stage: String,
    /// A_l = Σ_c p(c) P(argmax y = c).
    pub accuracy: f64,
    /// √(Σ_c p(c)² se_c²).
    pub stderr: f64,
    pub per_class: Vec<ClassProbability>,
    /// Some class's predicted output is a point mass to rounding ([`point_mass`]): its
    /// P(argmax y = c) is 0 or 1 whatever the network's spread, so the accuracy says nothing
    /// about it. Written to JSON only when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub degenerate: bool,
}

/// Whether the Gaussian `m` is a point mass to rounding: every variance at most
/// (64ε·max(1, max|μᵢ|))², the size at which a variance is the rounding error of values of the
/// mean's size (e.g. after variances underflowed through the layers).
pub fn point_mass(m: &Moments) -> bool {
    let scale = m.mean.iter().fold(1.0f64, |a, &v| a.max(v.abs()));
    let floor = (64.0 * f64::EPSILON * scale).powi(2);
    (0..m.dim()).all(|i| m.cov[(i, i)] <= floor)
}

/// [`point_mass`] for any class with a positive prior.
fn any_point_mass(output: &[Moments], priors: &[f64]) -> bool {
    output
        .iter()
        .zip(priors)
        .any(|(m, &p)| p > 0.0 && point_mass(m))
}

/// The stage layer l's statistics are taken from: x for l = 0, zˡ otherwise.
pub fn start_stage(layer: usize) -> Stage {
    if layer == 0 {
        Stage::Input
    } else {
        Stage::Post(layer)
    }
}

/// p(c) = n_c / n from the per-class sample counts.
pub fn class_priors(counts: &[u64]) -> Result<Vec<f64>> {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return Err(Error::Shape("class priors of an empty data set".into()));
    }
    Ok(counts.iter().map(|&c| c as f64 / n as f64).collect())
}

/// Propagates the measured statistics of layer `from` (see [`start_stage`]) to the output with
/// the Gaussian closure (no κ corrections), in `engine`'s buffers. Returns every later stage,
/// the output last; the affine and closure stages are recorded in `timings`.
pub fn propagate_from<'e>(
    engine: &'e mut Propagator,
    net: &Mlp,
    stats: &LayerStats,
    from: usize,
    method: ClosureMethod,
    timings: &Timings,
) -> Result<&'e [Predicted]> {
    let stage = start_stage(from);
    let start = stats
        .get(stage)
        .ok_or_else(|| Error::Shape(format!("no measured statistics for stage {stage}")))?;
    engine.run(
        net,
        from,
        &start.per_class,
        None,
        PropagateOptions {
            method,
            corrections: Corrections::None,
        },
        timings,
    )
}

/// The output stage of a propagation.
fn output_of(predicted: &[Predicted]) -> Result<&[Moments]> {
    predicted
        .last()
        .filter(|p| p.stage == Stage::Output)
        .map(|p| p.per_class.as_slice())
        .ok_or_else(|| Error::Shape("propagation did not reach the output".into()))
}

/// Σ_c p(c) P_{y~N(μ_c,Σ_c)}(argmax y = c) and its standard error, for per-class output
/// moments `output` (the Gaussian of class `classes[k]` is `output[k]`). Classes with p(c) = 0
/// are skipped.
pub fn predicted_accuracy(
    output: &[Moments],
    priors: &[f64],
    classes: &[usize],
    mc_samples: usize,
    seed: u64,
) -> Result<(f64, f64, Vec<ClassProbability>)> {
    if output.len() != priors.len() || classes.len() != priors.len() {
        return Err(Error::Shape(format!(
            "{} output Gaussians for {} class priors",
            output.len(),
            priors.len()
        )));
    }
    // Classes are independent draws with their own seeds: in parallel, same numbers.
    let per_class = output
        .par_iter()
        .zip(priors)
        .zip(classes)
        .map(|((m, &prior), &c)| {
            let (p, se) = if prior > 0.0 {
                prob_argmax(
                    m.mean.as_ref(),
                    m.cov.as_ref(),
                    c,
                    mc_samples,
                    mix_seed(seed, c as u64),
                )?
            } else {
                (0.0, 0.0)
            };
            Ok(ClassProbability {
                class: c,
                prior,
                p_correct: p,
                stderr: se,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let acc = per_class.iter().map(|p| p.prior * p.p_correct).sum::<f64>();
    let var = per_class
        .iter()
        .map(|p| p.prior * p.prior * p.stderr * p.stderr)
        .sum::<f64>();
    Ok((acc, var.sqrt(), per_class))
}

/// A_l for every start layer l = 0 … L, from the measured statistics `stats` of `net`; one
/// engine serves every start layer. `timings` records "affine", "closure" and "Monte Carlo
/// argmax".
pub fn theory_accuracy(
    net: &Mlp,
    stats: &LayerStats,
    opts: AccuracyOptions,
    timings: &Timings,
) -> Result<Vec<TheoryAccuracy>> {
    let input = stats
        .get(Stage::Input)
        .ok_or_else(|| Error::Shape("no measured statistics for the input".into()))?;
    let priors = class_priors(&input.counts)?;
    let mut engine = opts.engine.engine();
    (0..=net.depth())
        .map(|l| {
            let predicted = propagate_from(&mut engine, net, stats, l, opts.method, timings)?;
            let output = output_of(predicted)?;
            let degenerate = any_point_mass(output, &priors);
            let (accuracy, stderr, per_class) = timed_accuracy(
                output,
                (&priors, &input.classes),
                opts.mc_samples,
                mix_seed(opts.seed, 1000 + l as u64),
                timings,
            )?;
            Ok(TheoryAccuracy {
                start_layer: l,
                start_stage: start_stage(l).to_string(),
                accuracy,
                stderr,
                per_class,
                degenerate,
            })
        })
        .collect()
}

/// A_0 with the measured κ slices of h¹ added at the first nonlinearity at expansion order
/// `order` (3: κ₃, 4: κ₃ and κ₄; [`crate::propagate::closures::edgeworth`]); later layers stay
/// Gaussian. At order 2 a quadratic network is still corrected at order 4, where its closure is
/// exact (DESIGN.md §3). `None` at order 2 for other activations, and when `stats` carry no κ
/// slices of h¹ (`Higher::InputAndPre`). Returns the accuracy with the corrections' fallback
/// counts. The gap between this and the plain A_0 is the part of the input layer's error that
/// the third and fourth cumulants of the data explain.
pub fn corrected_input_accuracy(
    net: &Mlp,
    stats: &LayerStats,
    opts: AccuracyOptions,
    order: Corrections,
    timings: &Timings,
) -> Result<Option<(TheoryAccuracy, Fallbacks)>> {
    let quadratic = matches!(net.activation.uniform(), Some(Activation::Quadratic { .. }));
    let order = match order {
        Corrections::None if quadratic => Corrections::K3K4,
        Corrections::None => return Ok(None),
        order => order,
    };
    let (Some(input), Some(pre)) = (stats.get(Stage::Input), stats.get(Stage::Pre(1))) else {
        return Ok(None);
    };
    if pre.per_class.iter().any(|m| m.k3_iij.is_none()) {
        return Ok(None);
    }
    let mut engine = opts.engine.engine();
    let predicted = engine.run(
        net,
        0,
        &input.per_class,
        Some(&pre.per_class),
        PropagateOptions {
            method: opts.method,
            corrections: order,
        },
        timings,
    )?;
    let priors = class_priors(&input.counts)?;
    let output = output_of(predicted)?;
    let degenerate = any_point_mass(output, &priors);
    let (accuracy, stderr, per_class) = timed_accuracy(
        output,
        (&priors, &input.classes),
        opts.mc_samples,
        mix_seed(opts.seed, 2000),
        timings,
    )?;
    let fallbacks = engine.fallbacks();
    let stage = match order {
        Corrections::K3 => "x (+κ₃ at h1)",
        _ => "x (+κ₃/κ₄ at h1)",
    };
    Ok(Some((
        TheoryAccuracy {
            start_layer: 0,
            start_stage: stage.into(),
            accuracy,
            stderr,
            per_class,
            degenerate,
        },
        fallbacks,
    )))
}

/// [`predicted_accuracy`] timed as "Monte Carlo argmax", with its flops: [`prob_argmax_flops`]
/// of every class with a prior > 0.
fn timed_accuracy(
    output: &[Moments],
    (priors, classes): (&[f64], &[usize]),
    mc_samples: usize,
    seed: u64,
    timings: &Timings,
) -> Result<(f64, f64, Vec<ClassProbability>)> {
    let flops = output
        .iter()
        .zip(priors)
        .filter(|(_, &p)| p > 0.0)
        .map(|(m, _)| prob_argmax_flops(m.dim(), mc_samples))
        .sum();
    timings.time("Monte Carlo argmax", flops, || {
        predicted_accuracy(output, priors, classes, mc_samples, seed)
    })
}

/// A seed for sub-stream `k` of `seed` (SplitMix64 finaliser, so nearby k give unrelated seeds).
pub fn mix_seed(seed: u64, k: u64) -> u64 {
    let mut z = seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;

    /// A prediction whose variances underflowed is flagged; one with real spread, even tiny
    /// against a unit mean, is not; a point mass of a class with prior 0 does not count.
    #[test]
    fn point_masses_are_flagged() {
        let mean = Col::from_fn(3, |i| [2.0, -1.0, 0.5][i]);
        let underflowed = Moments::gaussian(mean.clone(), Mat::from_fn(3, 3, |_, _| 1e-300));
        let spread = Moments::gaussian(mean, Mat::from_fn(3, 3, |i, j| f64::from(i == j) * 1e-20));
        assert!(point_mass(&underflowed));
        assert!(!point_mass(&spread));
        let both = [spread, underflowed];
        assert!(any_point_mass(&both, &[0.5, 0.5]));
        assert!(!any_point_mass(&both, &[1.0, 0.0]));
    }
}
