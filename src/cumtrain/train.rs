//! Training on the cumulant objective ([`super::objective`]), `--objective cumulants`.
//!
//! The class statistics (μ_c, Σ_c, p(c)) are measured once from the training set. Every step is
//! full-batch (all classes) and uses the optimiser of [`crate::net::train`] unchanged. To make the
//! two objectives comparable at equal `--epochs`, an epoch is ⌈n_train / batch⌉ steps: the same
//! number of parameter updates the sample objective makes per epoch.
//!
//! Every step minimises the guarded objective of [`super::guard`]: the closure's value L_C plus
//! λ (`--closure-check`) times its shortfall below the sampled check S ([`super::check`]),
//! max(0, S − L_C), so that the optimiser cannot gain from the closure's error (λ = 0: L_C
//! alone, no draws).
//! `--order 3|4` corrects the first closure with the κ slices of h¹ measured per step from the
//! training samples ([`super::first_layer`]), and with `--corrected-layers all` (default
//! `first`) every deeper closure whose φ has a corrected one with the slices of its pre-activation over
//! the samples forwarded through the network ([`super::objective`]); the check then draws from
//! the training samples.

use std::fmt;
use std::time::Instant;

use clap::ValueEnum;

use serde::{Deserialize, Serialize};

use super::check::SurrogateCheck;
use super::first_closure::check_closures;
use super::first_layer::ClassSamples;
use super::guard::{check_guarded, check_leads, guard, CheckSettings, GradientSizes};
use super::objective::{ClassStatistics, CumulantObjective, StepTally};
use crate::data::Dataset;
use crate::error::{value_name, Error, Field, Result};
use crate::net::stalled::WeightsBefore;
use crate::net::train::{
    check_fits, squares_overflowed, train, update, zeros_like, EpochStats, FloorTally, Loss,
    ObjectiveParts, Optimizer, TrainConfig,
};
use crate::net::Mlp;
use crate::propagate::closures::Corrections;

/// What training fits (`--objective`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Objective {
    /// The loss on the real samples, mini-batch by mini-batch ([`crate::net::train::train`]).
    Samples,
    /// The MSE as a function of each class's propagated mean and covariance ([`train_cumulants`]).
    Cumulants,
}

impl fmt::Display for Objective {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// Trains `net` in place with `objective`: on the samples ([`crate::net::train::train`]) or on
/// the cumulant objective guarded by `check` ([`train_cumulants_timed`], whose first step is
/// reported to `on_first_step`).
pub fn fit(
    net: &mut Mlp,
    data: &Dataset,
    cfg: &TrainConfig,
    objective: Objective,
    check: &CheckSettings,
    mut on_epoch: impl FnMut(&EpochStats),
    on_first_step: impl FnMut(FirstStep),
) -> Result<Vec<EpochStats>> {
    match objective {
        Objective::Samples => train(net, data, cfg, on_epoch),
        Objective::Cumulants => {
            train_cumulants_timed(net, data, cfg, check, |e, _| on_epoch(e), on_first_step)
        }
    }
}

/// The seconds of a cumulant training's first step and its steps in all (`--epochs` ×
/// ⌈n_train/batch⌉), for the warning `train` gives before a long run: each step is full-batch,
/// ~1 s at `--order 4 --hidden 784` on 640 MNIST samples, so an epoch can take minutes, and
/// the epoch bar moved only at its end (adv48a).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FirstStep {
    pub seconds: f64,
    pub steps: usize,
}

impl FirstStep {
    /// The run's estimated seconds: the first step's times the steps.
    pub fn projected_seconds(&self) -> f64 {
        self.seconds * self.steps as f64
    }
}

/// [`train_cumulants_timed`] without the first step's report.
pub fn train_cumulants(
    net: &mut Mlp,
    data: &Dataset,
    cfg: &TrainConfig,
    check: &CheckSettings,
    on_epoch: impl FnMut(&EpochStats, &Mlp),
) -> Result<Vec<EpochStats>> {
    train_cumulants_timed(net, data, cfg, check, on_epoch, |_| {})
}

/// Trains `net` in place on the cumulant objective of `data`'s class statistics, with `cfg`'s
/// optimiser, learning rate and epochs (`cfg.batch` only sets the steps per epoch, `cfg.seed`
/// seeds the sampled check's draws), guarded by `check`. Needs `--loss mse`. After every epoch
/// `on_epoch` gets the mean objective over the epoch's steps (each before its update), its
/// closure and sampled parts, and the network's accuracy on the training samples at the end of
/// the epoch, with the network as it is then; `on_first_step` gets the first step's time and
/// the run's steps ([`FirstStep`]).
pub fn train_cumulants_timed(
    net: &mut Mlp,
    data: &Dataset,
    cfg: &TrainConfig,
    check: &CheckSettings,
    mut on_epoch: impl FnMut(&EpochStats, &Mlp),
    mut on_first_step: impl FnMut(FirstStep),
) -> Result<Vec<EpochStats>> {
    check_fits(net, data)?;
    if cfg.loss != Loss::Mse {
        return Err(Error::config(
            Field::Loss,
            format!(
                "the cumulant objective is the MSE (E[‖y − t‖²] = ‖μ − t‖² + tr Σ); {} is not a \
                 function of mean and covariance",
                cfg.loss
            ),
        ));
    }
    cfg.validate()?;
    check.validate()?;
    let activations: Vec<_> = (0..net.depth()).map(|k| net.activation.at(k)).collect();
    check_closures(check, &activations)?;
    let stats = ClassStatistics::measure(data)?;
    let order = check.corrections()?;
    let objective = CumulantObjective::corrected(net, order, data, &stats)?
        .with_layers(check.layers.unwrap_or_default())
        .with_correction_bound(check.bound.and_then(|b| b.share()))
        .with_correction_bound_mean(check.bound_mean.unwrap_or_default())
        .with_correction_bound_rule(check.bound_rule.unwrap_or_default())
        .with_correction_bound_reference(check.bound_reference.unwrap_or_default());
    let mut sampler = match (check.weight > 0.0, order) {
        (false, _) => None,
        (true, Corrections::None) => {
            Some(SurrogateCheck::new(net, &stats, check.samples, cfg.seed)?)
        }
        // The corrected closure stands for the data's class distributions, not N(μ_c, Σ_c):
        // the check draws from the training samples ([`super::check`]).
        (true, _) => {
            let zero = vec![0.0; data.dim()];
            let own = ClassSamples::gather(data, &vec![zero.as_slice(); data.n_classes]);
            Some(SurrogateCheck::from_samples(
                net,
                own.centred,
                &stats,
                check.samples,
                cfg.seed,
            ))
        }
    };
    let mut check_grads = zeros_like(net);
    let steps = data.len().div_ceil(cfg.batch.min(data.len()));
    let mut grads = zeros_like(net);
    let mut state1 = zeros_like(net);
    let mut state2 = zeros_like(net);
    let mut history = Vec::new();
    let mut step = 0i32;
    // As the sample objective's: a first epoch that moved no layer's median weight is refused.
    let mut before = Some(WeightsBefore::of(net));
    for epoch in 1..=cfg.epochs {
        let (mut loss_sum, mut closure_sum, mut sampled_sum) = (0.0, 0.0, 0.0);
        let mut check_led = 0;
        let mut tally = StepTally::default();
        for _ in 0..steps {
            let started = Instant::now();
            // After an update, a numerical failure of the propagation is the updates' doing.
            let closure =
                objective
                    .loss_and_grad(net, &stats, &mut grads)
                    .map_err(|e| match e {
                        Error::Numeric(what) if step > 0 => diverged(epoch, &what, cfg),
                        e => e,
                    })?;
            closure_sum += closure;
            tally = tally.plus(objective.take_tally());
            loss_sum += match sampler.as_mut() {
                None => closure,
                Some(s) => {
                    let sampled = s.loss_and_grad(net, &mut check_grads);
                    sampled_sum += sampled;
                    check_led += usize::from(check_leads(closure, sampled));
                    let before = GradientSizes::of(&grads, &check_grads);
                    let guarded = guard(closure, sampled, check.weight, &mut grads, &check_grads);
                    check_guarded(guarded, closure, sampled, before, &grads, check.weight)?;
                    guarded
                }
            };
            step = step.saturating_add(1);
            update(net, &grads, &mut state1, &mut state2, cfg, step);
            if step == 1 {
                // As the sample objective's first step (`net::train`): squares of gradients
                // beyond f64 leave Adam's steps at 0, the network untrained (λ's product was
                // refused above).
                if let Some(l) = state2.iter().position(|l| !l.is_finite()) {
                    return Err(squares_overflowed(l + 1, false));
                }
                on_first_step(FirstStep {
                    seconds: started.elapsed().as_secs_f64(),
                    steps: steps.saturating_mul(cfg.epochs),
                });
            }
        }
        let stats = EpochStats {
            epoch,
            loss: loss_sum / steps as f64,
            train_accuracy: net.accuracy(data),
            parts: Some(ObjectiveParts {
                closure_loss: closure_sum / steps as f64,
                sampled_loss: sampler.is_some().then(|| sampled_sum / steps as f64),
                check_led_steps: sampler.is_some().then_some(check_led),
                floored: (order != Corrections::None).then_some(tally.floored),
                bounded: objective.bounds_corrections().then_some(tally.bounded),
                capped_units: objective.caps_skewness().then_some(tally.capped),
            }),
            phases: None,
            peak_batch_loss: None,
        };
        if !stats.loss.is_finite() || net.validate().is_err() {
            return Err(diverged(epoch, &format!("objective {}", stats.loss), cfg));
        }
        if let Some(before) = before.take() {
            before.check_moved(net, &state1, cfg)?;
        }
        on_epoch(&stats, net);
        history.push(stats);
    }
    Ok(history)
}

/// The note on a cumulant training whose objective found a corrected layer's z covariance
/// indefinite
/// in some step and floored it ([`super::spectral_floor`]), with how often and how much;
/// `None` where it never was indefinite (a floor of a nearly singular covariance moves the
/// objective by at most the floor share, and is only counted in the epochs' records).
pub fn floor_note(history: &[EpochStats]) -> Option<String> {
    let floored = history
        .iter()
        .filter_map(|e| e.parts.and_then(|p| p.floored))
        .fold(FloorTally::default(), FloorTally::plus);
    let first = history.iter().find(|e| {
        e.parts
            .and_then(|p| p.floored)
            .is_some_and(|f| f.indefinite > 0)
    })?;
    Some(format!(
        "a κ-corrected covariance of z (of a hidden layer whose closure took the measured κ \
         slices) was indefinite in {} class-steps from epoch {} on \
         (a covariance no distribution has: the Gram–Charlier expansion broke down there); the \
         objective propagated it with its eigenvalues raised to {:e} of its mean variance, \
         adding at most {:.3} % of its trace (the epochs' \"floored\" in --json)",
        floored.indefinite,
        first.epoch,
        super::spectral_floor::FLOOR_SHARE,
        100.0 * floored.largest_share
    ))
}

/// The refusal of a cumulant training that diverged in `epoch` (`what` the failure seen),
/// naming the learning rate `lr`.
fn diverged(epoch: usize, what: &str, cfg: &TrainConfig) -> Error {
    Error::config(
        Field::Lr,
        format!(
            "cumulant training diverged in epoch {epoch} ({what}); lower the learning rate \
             (now {:?}){}",
            cfg.lr,
            momentum_hint(cfg)
        ),
    )
}

/// The clause naming `--momentum` where SGD's momentum β ≥ 0.99 adds each gradient into about
/// 1/(1 − β) ≥ 100 later steps (adv72: β = 0.99999 diverged and only `--lr` was named).
fn momentum_hint(cfg: &TrainConfig) -> String {
    let beta = cfg.momentum;
    if cfg.optimizer != Optimizer::Sgd || beta < 0.99 {
        return String::new();
    }
    let memory = if beta < 1.0 {
        format!("about {:.0} later steps", 1.0 / (1.0 - beta))
    } else {
        "every later step, undamped".to_string()
    };
    format!(
        " or --momentum (now {beta}: SGD adds each step's gradient into {memory}; 0.9 is the \
         default)"
    )
}
