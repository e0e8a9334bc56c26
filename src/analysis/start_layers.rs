//! For every start layer l = 0 … L: the output predicted from layer l's measured statistics,
//! its confusion matrix, and its errors against the measured output — what the error budget
//! ([`super::budget`]) and the confusion report are built from.

use serde::Serialize;

use super::accuracy::{class_priors, mix_seed, propagate_from, start_stage, AccuracyOptions};
use super::compare::{class_means, compare_stages};
use super::confusion::{predicted_confusion, ConfusionMatrix};
use crate::error::{Error, Result};
use crate::measure::LayerStats;
use crate::net::{Mlp, Stage};
use crate::propagate::Propagator;
use crate::timing::Timings;

/// The Gaussian theory from one start layer, at the output.
#[derive(Clone, Debug, Serialize)]
pub struct StartLayerOutcome {
    pub start_layer: usize,
    pub start_stage: String,
    /// Rows P_{y~N(μ_c,Σ_c)}(argmax y = k), on the draws of the accuracy prediction.
    pub confusion: ConfusionMatrix,
    /// Σ_c p(c) P(argmax y = c | c): A_l of [`super::accuracy::theory_accuracy`], the same number.
    pub accuracy: f64,
    pub accuracy_stderr: f64,
    /// Class mean of ‖Σ_prop − Σ_emp‖_F / ‖Σ_emp‖_F at the output.
    pub cov_rel_err: f64,
    /// Class mean of KL(N_emp ‖ N_prop) at the output; null when a class has none.
    pub kl: Option<f64>,
}

/// The outcome of every start layer l = 0 … L of `net` from its measured statistics `stats`,
/// closed with `opts.method`, Monte Carlo seeds as in the accuracy prediction.
pub fn start_layer_outcomes(
    net: &Mlp,
    stats: &LayerStats,
    opts: AccuracyOptions,
    timings: &Timings,
) -> Result<Vec<StartLayerOutcome>> {
    let input = stats
        .get(Stage::Input)
        .ok_or_else(|| Error::Shape("no measured statistics for the input".into()))?;
    let priors = class_priors(&input.counts)?;
    let mut engine = Propagator::new();
    (0..=net.depth())
        .map(|l| {
            let predicted = propagate_from(&mut engine, net, stats, l, opts.method, timings)?;
            let output = predicted
                .last()
                .filter(|p| p.stage == Stage::Output)
                .ok_or_else(|| Error::Shape("propagation did not reach the output".into()))?;
            let rows = compare_stages(std::slice::from_ref(output), stats, net.depth())?;
            let mean = class_means(&rows)
                .pop()
                .ok_or_else(|| Error::Shape("no class to compare at the output".into()))?;
            let confusion = timings.time("Monte Carlo argmax", 0.0, || {
                predicted_confusion(
                    start_stage(l).to_string(),
                    &output.per_class,
                    &input.classes,
                    opts.mc_samples,
                    mix_seed(opts.seed, 1000 + l as u64),
                )
            })?;
            let var: f64 = confusion
                .rows
                .iter()
                .zip(&priors)
                .map(|(r, &q)| (q * r.stderr[r.class]).powi(2))
                .sum();
            Ok(StartLayerOutcome {
                start_layer: l,
                start_stage: start_stage(l).to_string(),
                accuracy: confusion.accuracy(&priors),
                accuracy_stderr: var.sqrt(),
                confusion,
                cov_rel_err: mean.cov_rel_err,
                kl: rows
                    .iter()
                    .map(|r| r.kl)
                    .sum::<Option<f64>>()
                    .map(|s| s / rows.len() as f64),
            })
        })
        .collect()
}
