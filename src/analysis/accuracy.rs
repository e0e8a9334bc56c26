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
//! with p(c) the class frequencies of the data, from the diagonal of the predicted confusion
//! matrix ([`super::confusion`]; one Monte Carlo pass gives both). Its standard error combines the Monte Carlo
//! errors of the per-class probabilities (independent draws per class):
//! se(A_l) = √(Σ_c p(c)² se_c²). From l = L the output is an exact affine image of z^L, so A_L
//! tests only whether the output is Gaussian; A_0 also tests every closure on the way
//! (Fischer et al. 2022, Fig. 5: A_l matches the network for l ≥ 1 on MNIST, A_0 falls short).

use serde::Serialize;

use super::confusion::{predicted_confusion_with, ConfusionMatrix};
use crate::error::{Error, Result};
use crate::measure::LayerStats;
use crate::net::Stage;
use crate::net::{Activation, Mlp};
use crate::propagate::closures::{ClosureMethod, Corrections, Fallbacks};
use crate::propagate::{EngineSettings, Predicted, PropagateOptions, Propagator};
use crate::stats::gaussian::{prob_argmax_flops, ArgmaxDistribution};
use crate::stats::Moments;
use crate::timing::Timings;

/// Settings of the accuracy prediction.
#[derive(Clone, Copy, Debug)]
pub struct AccuracyOptions {
    /// How the nonlinearity is closed.
    pub method: ClosureMethod,
    /// Monte Carlo draws per class for ≥ 3 outputs (2 outputs are exact through Φ).
    pub mc_samples: usize,
    /// Seed of the Monte Carlo draws; class c uses a seed derived from it ([`theory_seed`]).
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

/// p(c) = n_c / n from the per-class sample counts.
pub fn class_priors(counts: &[u64]) -> Result<Vec<f64>> {
    let n: u64 = counts.iter().sum();
    if n == 0 {
        return Err(Error::Shape("class priors of an empty data set".into()));
    }
    Ok(counts.iter().map(|&c| c as f64 / n as f64).collect())
}

/// Propagates the measured statistics of layer `from` (see [`Stage::start`]) to the output in
/// `engine`'s buffers, closed with `method` and, at h^{from+1}, `corrections` with the measured
/// κ slices of h^{from+1} from `stats` (none from the last layer, whose map to y is affine).
/// Returns every later stage, the output last; the affine and closure stages are recorded in
/// `timings`.
pub fn propagate_from<'e>(
    engine: &'e mut Propagator,
    net: &Mlp,
    stats: &LayerStats,
    from: usize,
    (method, corrections): (ClosureMethod, Corrections),
    timings: &Timings,
) -> Result<&'e [Predicted]> {
    let corrections = if from < net.depth() {
        corrections
    } else {
        Corrections::None
    };
    let first_pre = match corrections {
        Corrections::None => None,
        _ if has_kappa(stats, from + 1) => stats
            .get(Stage::Pre(from + 1))
            .map(|pre| pre.per_class.as_slice()),
        _ => {
            return Err(Error::Shape(format!(
                "no measured κ slices of h{} for the corrections",
                from + 1
            )))
        }
    };
    let stage = Stage::start(from);
    let start = stats
        .get(stage)
        .ok_or_else(|| Error::Shape(format!("no measured statistics for stage {stage}")))?;
    engine.run(
        net,
        from,
        &start.per_class,
        first_pre,
        PropagateOptions {
            method,
            corrections,
        },
        timings,
    )
}

/// The output stage of a propagation.
pub fn output_of(predicted: &[Predicted]) -> Result<&[Moments]> {
    predicted
        .last()
        .filter(|p| p.stage == Stage::Output)
        .ok_or_else(|| Error::Shape("propagation did not reach the output".into()))?
        .f64_moments()
}

/// The theory from one start layer: its accuracy and the predicted confusion matrix whose
/// diagonal it is made of.
#[derive(Clone, Debug)]
pub struct LayerTheory {
    pub accuracy: TheoryAccuracy,
    /// Rows P_{y~N(μ_c,Σ_c)}(argmax y = k) (`source`: the start stage).
    pub confusion: ConfusionMatrix,
}

impl TheoryAccuracy {
    /// A_l = Σ_c p(c) P(argmax y = c | c) from the diagonal of the predicted confusion matrix
    /// `confusion` (rows in the order of `priors`), se(A_l) = √(Σ_c p(c)² se_c²).
    pub fn from_confusion(
        start_layer: usize,
        confusion: &ConfusionMatrix,
        priors: &[f64],
        degenerate: bool,
    ) -> Self {
        let per_class: Vec<ClassProbability> = confusion
            .rows
            .iter()
            .zip(priors)
            .map(|(r, &prior)| ClassProbability {
                class: r.class,
                prior,
                p_correct: r.p[r.class],
                stderr: r.stderr[r.class],
            })
            .collect();
        let var = per_class
            .iter()
            .map(|p| p.prior * p.prior * p.stderr * p.stderr)
            .sum::<f64>();
        TheoryAccuracy {
            start_layer,
            start_stage: confusion.source.clone(),
            accuracy: confusion.accuracy(priors),
            stderr: var.sqrt(),
            per_class,
            degenerate,
        }
    }
}

/// One propagation from layer `from` ([`propagate_from`] with `opts.method` and `corrections`),
/// then one Monte Carlo argmax distribution per
/// class with seeds derived from `seed` ([`predicted_confusion`](super::confusion::predicted_confusion)). Returns the theory and every
/// propagated stage, the output last.
#[allow(clippy::too_many_arguments)]
pub fn theory_from<'e>(
    engine: &'e mut Propagator,
    net: &Mlp,
    stats: &LayerStats,
    from: usize,
    corrections: Corrections,
    opts: AccuracyOptions,
    seed: u64,
    timings: &Timings,
) -> Result<(LayerTheory, &'e [Predicted])> {
    let predicted = propagate_from(
        engine,
        net,
        stats,
        from,
        (opts.method, corrections),
        timings,
    )?;
    let theory = theory_of(stats, from, predicted, opts, seed, timings)?;
    Ok((theory, predicted))
}

/// The accuracy and confusion of the propagated stages `predicted` (the output last) from
/// start layer `from`: one Monte Carlo argmax distribution per class with seeds derived from
/// `seed` ([`predicted_confusion`](super::confusion::predicted_confusion)).
pub fn theory_of(
    stats: &LayerStats,
    from: usize,
    predicted: &[Predicted],
    opts: AccuracyOptions,
    seed: u64,
    timings: &Timings,
) -> Result<LayerTheory> {
    theory_of_output(
        stats,
        from,
        output_of(predicted)?,
        opts,
        (seed, &[]),
        timings,
    )
}

/// [`theory_of`] from the predicted output Gaussians `output` (one per class present), with the
/// rows `known[i]` that are `Some` already drawn on that row's seed ([`predicted_confusion_with`]);
/// the rows drawn here are recorded under "Monte Carlo argmax".
pub fn theory_of_output(
    stats: &LayerStats,
    from: usize,
    output: &[Moments],
    opts: AccuracyOptions,
    (seed, known): (u64, &[Option<ArgmaxDistribution>]),
    timings: &Timings,
) -> Result<LayerTheory> {
    let input = stats
        .get(Stage::Input)
        .ok_or_else(|| Error::Shape("no measured statistics for the input".into()))?;
    let priors = class_priors(&input.counts)?;
    let degenerate = any_point_mass(output, &priors);
    let flops = output
        .iter()
        .zip(&priors)
        .enumerate()
        .filter(|(i, (_, &p))| p > 0.0 && !matches!(known.get(*i), Some(Some(_))))
        .map(|(_, (m, _))| prob_argmax_flops(m.dim(), opts.mc_samples))
        .sum();
    let confusion = timings.time("Monte Carlo argmax", flops, || {
        predicted_confusion_with(
            Stage::start(from).to_string(),
            output,
            &input.classes,
            opts.mc_samples,
            seed,
            known,
        )
    })?;
    let accuracy = TheoryAccuracy::from_confusion(from, &confusion, &priors, degenerate);
    Ok(LayerTheory {
        accuracy,
        confusion,
    })
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
    let mut engine = opts.engine.engine();
    (0..=net.depth())
        .map(|l| {
            let seed = theory_seed(opts.seed, net.depth());
            let (t, _) = theory_from(
                &mut engine,
                net,
                stats,
                l,
                Corrections::None,
                opts,
                seed,
                timings,
            )?;
            Ok(t.accuracy)
        })
        .collect()
}

/// The Monte Carlo seed of the theory from every start layer of a network of `depth` hidden
/// layers, Gaussian or corrected at order 3/4: one seed for all (common random numbers: class
/// c's draws are the same normals whatever the start layer and order, so the change of A_l
/// from one start layer to the next — the error budget of each order, [`super::budget`] — and
/// from the Gaussian theory to the corrected one carry only the difference of the predicted
/// Gaussians, not the noise of two independent samples), the one start layer L = `depth`
/// always had. The corrected theory from L is the Gaussian one (the map to y is exact), so the
/// two budgets' last rows E(L) are one number; with a seed per start layer and order they
/// differed by their Monte Carlo noise (adv59: 0.0011, 2.9 standard errors).
pub fn theory_seed(seed: u64, depth: usize) -> u64 {
    mix_seed(seed, 1000 + depth as u64)
}

/// A_0 with the measured κ slices of h¹ added at the first nonlinearity at expansion order
/// `order` (3: κ₃, 4: κ₃ and κ₄; [`crate::propagate::closures::edgeworth`]); later layers stay
/// Gaussian. At order 2 a quadratic network is still corrected at order 4, where its closure is
/// exact (DESIGN.md §3): see [`corrected_order`]. `None` when there is no order to apply, and
/// when `stats` carry no κ slices of h¹ (`Higher::Pre`). Returns the accuracy with the
/// corrections' fallback counts. The gap between this and the plain A_0 is the part of the
/// input layer's error that the third and fourth cumulants of the data explain.
pub fn corrected_input_accuracy(
    net: &Mlp,
    stats: &LayerStats,
    opts: AccuracyOptions,
    order: Corrections,
    timings: &Timings,
) -> Result<Option<(TheoryAccuracy, Fallbacks)>> {
    let Some(order) = corrected_order(net, order) else {
        return Ok(None);
    };
    if !has_kappa(stats, 1) {
        return Ok(None);
    }
    let mut engine = opts.engine.engine();
    let seed = theory_seed(opts.seed, net.depth());
    let (t, _) = theory_from(&mut engine, net, stats, 0, order, opts, seed, timings)?;
    let mut accuracy = t.accuracy;
    accuracy.start_stage = corrected_label(0, order);
    Ok(Some((accuracy, engine.fallbacks())))
}

/// The order of the corrected theory for the order setting `order`: `order` itself at 3 and 4;
/// at 2 (no corrections) order 4 for a quadratic network, whose closure is then exact, else
/// none.
pub fn corrected_order(net: &Mlp, order: Corrections) -> Option<Corrections> {
    let quadratic = matches!(net.activation.uniform(), Some(Activation::Quadratic { .. }));
    match order {
        Corrections::None if quadratic => Some(Corrections::K3K4),
        Corrections::None => None,
        order => Some(order),
    }
}

/// Whether `stats` hold the κ slices of the pre-activation h^layer for every class.
pub fn has_kappa(stats: &LayerStats, layer: usize) -> bool {
    stats
        .get(Stage::Pre(layer))
        .is_some_and(|pre| pre.per_class.iter().all(|m| m.k3_iij().is_some()))
}

/// The label of the theory from start layer l corrected at h^{l+1}: "x (+κ₃ at h1)",
/// "z1 (+κ₃/κ₄ at h2)", …
pub fn corrected_label(layer: usize, order: Corrections) -> String {
    let kappa = match order {
        Corrections::K3 => "κ₃",
        _ => "κ₃/κ₄",
    };
    format!("{} (+{kappa} at h{})", Stage::start(layer), layer + 1)
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
