//! The work of one grid point: train, measure every layer's statistics on the test set, predict
//! the accuracy from each start layer and split the class information into mean and covariance
//! terms. Kept to the engine's public pieces so that it can later call `analysis` instead.

use crate::data::Split;
use crate::error::Result;
use crate::net::train::{train, TrainConfig};
use crate::net::Mlp;
use crate::propagate::closures::{ClosureMethod, Corrections};
use crate::propagate::{propagate, PropagateOptions};
use crate::stats::gaussian::{bhattacharyya, prob_argmax};
use crate::stats::{layer_stats, EmpiricalMoments, Higher, Stage};

use super::record::{InfoTerms, TheoryAccuracy};

/// Relative ridge for the Bhattacharyya terms when a covariance is singular.
pub const INFO_RIDGE: f64 = 1e-8;
/// Samples per forward-pass batch when measuring statistics.
const STATS_BATCH: usize = 1024;

/// Everything a point needs before it runs: its data, the untrained network and how to train it.
pub struct Prepared {
    pub split: Split,
    pub net: Mlp,
    pub train: TrainConfig,
    /// The data in words, for the record.
    pub data: String,
}

/// What a point measured.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub train_accuracy: f64,
    pub test_accuracy: f64,
    pub theory: Vec<TheoryAccuracy>,
    pub input_info: Option<InfoTerms>,
    pub output_info: Option<InfoTerms>,
}

/// Runs one point in the current rayon pool. `mc_samples` and `seed` drive the Monte Carlo of
/// the theory accuracy (only used with ≥ 3 outputs).
pub fn evaluate(prepared: Prepared, mc_samples: usize, seed: u64) -> Result<Outcome> {
    let Prepared {
        split,
        mut net,
        train: cfg,
        ..
    } = prepared;
    train(&mut net, &split.train, &cfg, |_| {})?;
    let stats = layer_stats(&net, &split.test, Higher::None, STATS_BATCH)?;
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let output = measured(&stats, Stage::Output);
    let mut theory = Vec::with_capacity(net.depth() + 1);
    for from in 0..=net.depth() {
        let stage = if from == 0 {
            Stage::Input
        } else {
            Stage::Post(from)
        };
        let predicted = propagate(&net, from, &measured(&stats, stage).per_class, None, opts)?;
        let y = &predicted
            .last()
            .expect("propagation ends at the output")
            .per_class;
        let (mut accuracy, mut var) = (0.0, 0.0);
        for (c, m) in y.iter().enumerate() {
            let weight = class_weight(output, c);
            if weight > 0.0 {
                let mc_seed = seed ^ ((from as u64) << 32 | c as u64);
                let (p, se) = prob_argmax(m.mean.as_ref(), m.cov.as_ref(), c, mc_samples, mc_seed)?;
                accuracy += weight * p;
                var += (weight * se).powi(2);
            }
        }
        theory.push(TheoryAccuracy {
            from_layer: from,
            accuracy,
            stderr: var.sqrt(),
        });
    }
    Ok(Outcome {
        train_accuracy: net.accuracy(&split.train),
        test_accuracy: net.accuracy(&split.test),
        theory,
        input_info: class_information(measured(&stats, Stage::Input)),
        output_info: class_information(output),
    })
}

fn measured(stats: &crate::stats::LayerStats, stage: Stage) -> &EmpiricalMoments {
    stats.get(stage).expect("layer_stats measures every stage")
}

/// p(c): the share of class `c` among the measured samples.
fn class_weight(m: &EmpiricalMoments, c: usize) -> f64 {
    let total: u64 = m.counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    m.counts.get(c).map_or(0.0, |&n| n as f64 / total as f64)
}

/// Bhattacharyya mean and covariance terms averaged over every pair of classes with samples;
/// `None` when a pair's covariances are not positive definite even with the ridge.
fn class_information(m: &EmpiricalMoments) -> Option<InfoTerms> {
    let present: Vec<usize> = (0..m.per_class.len())
        .filter(|&c| m.counts[c] > 1)
        .collect();
    let (mut mean_term, mut cov_term, mut pairs) = (0.0, 0.0, 0usize);
    for (k, &a) in present.iter().enumerate() {
        for &b in &present[k + 1..] {
            let (ma, mb) = (&m.per_class[a], &m.per_class[b]);
            let d = bhattacharyya(
                ma.mean.as_ref(),
                ma.cov.as_ref(),
                mb.mean.as_ref(),
                mb.cov.as_ref(),
                INFO_RIDGE,
            )
            .ok()?;
            mean_term += d.mean_term;
            cov_term += d.cov_term;
            pairs += 1;
        }
    }
    (pairs > 0).then(|| InfoTerms {
        mean_term: mean_term / pairs as f64,
        cov_term: cov_term / pairs as f64,
    })
}
