//! A training run that ended far worse than a network that ignores its input, or no better
//! after its rate diverged, and for a reason a setting names: warned about, naming `--gain` or
//! `--lr` (adv49b; criterion unl50; the collapse, fifty-first session). A run that is merely
//! short is not.
//!
//! `train --task xor --gain 1e3` ran its 40 epochs and exited 0 with a last-epoch loss of
//! 6.9e18 and accuracy 0.5. The stall rule (`net::stalled`) does not see it: Adam moved every
//! weight by about `--lr` a step, as the rate implies, and the loss fell by a quarter; but the
//! quadratic activation's outputs are ~10⁹ and steps of 0.01 need ~10⁴ more steps to bring
//! them to the targets. What holds from `--gain` 10 (XOR: loss 26, accuracy 0.55) to 10¹⁶ is
//! that the trained network is worse than a constant output, by orders of magnitude.
//!
//! That alone (adv49b's rule) also held for short healthy runs: a fresh network's MSE is about
//! C + Σᵢ Var yᵢ, K outputs of variance gain²-ish each, so it starts at 10–100 times the
//! constant's C (XOR 31×, higher-order 99×, a stray-label 8-class set 36×), and one epoch of a
//! few steps ends there (`--epochs 1` on the stray-label set: 36×, on higher-order: 25×). Such a
//! run is not trained long enough; nothing is wrong with its settings. What tells the failures
//! apart is where the run *started*, L₀, the training-set loss of the network before its first
//! step (rebuilt from the seed, only when the last epoch is ≥ 10·C), against L_ref, the same
//! network at the default `--gain`, and against C (measured: EXPERIMENTS.md, unl50):
//!
//! - **`--gain`**: L₀ ≥ [`ABOVE_DEFAULT_START`]·L_ref, the gain set put the start that far above
//!   the default's (failures of adv49b 9.2e4× to 5.9e17×; a one-epoch run at gain 2 against
//!   √2, 4.1×);
//! - **the initial scale**: L₀ ≥ [`FAR_START`]·C at the gain used, the default included (five
//!   quadratic layers of higher-order at gain 1: 2.7e28×, still 3.6e19× after its 60 epochs;
//!   four on XOR: 1.7e7×; every healthy start measured ≤ 260×): a smaller gain than the one
//!   used, data of a smaller scale or fewer layers;
//! - **`--lr`**: the last epoch ≥ [`WORSE_THAN_START`]·L₀, training made its start worse
//!   (divergences 597× to 6.7e15×; `--lr 1` on XOR after one epoch, a transient it recovers
//!   from, 4.6×; a 512-wide quadratic pair's first epoch, 1.7×).
//!
//! A run can also end *near* the constant's loss, at chance accuracy, after a rate that blew
//! up: MNIST 784-100-100-10 at `--lr 0.1` (Adam) ended its first epoch at 1.3e3, 390× its
//! start, then settled on an output that ignores the input (15 epochs: loss 0.907 against
//! C = 0.900, train accuracy 0.093) and exited 0 without a word (unl50's open item); `--lr`
//! 0.025 and 0.03 peaked at only 1.15 and 2.0 times the start and ended there too. So a last
//! epoch at ≥ [`NEAR_CONSTANT`]·C whose train accuracy is within chance of the largest class's
//! share (3 binomial standard deviations, [`chance_ceiling`]) is looked at too:
//!
//! - **a collapse after `--lr` diverged**: an epoch of the run ended above L₀, the steps made
//!   the network worse than untrained before it settled (a short run at chance, as
//!   higher-order's one epoch, ends below its start); or one batch's loss reached
//!   [`BATCH_ABOVE_START`]·L₀, a blow-up the epoch's mean hides (XOR relu `--lr 1`: epoch 1 at
//!   9.4 below L₀ = 14.8, a batch of it at 409 = 27.6·L₀, then 1.04·C at accuracy 0.49; the
//!   epoch rule alone missed it up to the fifty-third session). Healthy short runs' batches
//!   overshoot their start by up to 5.5× (higher-order's one epoch of the quadratic network).
//!
//! A run from `train --init FILE` ([`Origin::Model`]) has no seeded start: L₀ is the file's
//! model on the training set as it stands. `--lr` and a collapse are read against it as above
//! (a fine-tune at `--lr 10` from a trained XOR network: L₀ 0.082, its fifth epoch 8.8); the
//! causes of the initialisation (`--gain`, its scale) do not arise, and a model whose own loss is
//! already ≥ [`FAR_START`]·C is [`Cause::InitModel`], a model for other targets.
//!
//! Otherwise the run started at an ordinary scale and ended below its start: not trained long
//! enough, and silent. A warning, not a refusal: the run did what was asked and its numbers are
//! honest; the user learns that it has learned nothing usable and which setting to change.
//!
//! The cumulant objective's epochs report its objective J = L_C + λ·max(0, S − L_C) (`cumtrain`'s
//! guard: L_C the closure's MSE, S the sampled check's, λ = `--closure-check`), which is not an
//! estimate of the MSE: J ≥ max(L_C, S) for λ ≥ 1 by construction, so a first epoch's J lay
//! above the untrained network's L₀ in healthy runs (higher-order, erf, order 3, λ = 1, three
//! epochs: J 1.32 > L₀ 1.31 while S fell 1.23 → 1.01), and every short cumulant run was warned
//! of as a collapse, "1.0 times the untrained network's … expected a smaller --lr" (adv65).
//! Those epochs are held against L₀ and C by their MSE estimate ([`mse_estimate`]: S, or L_C
//! with the check off). Where J itself ends ≥ [`CHECK_DOMINATES`]× both L_C and S, the check's
//! term outweighs the data term (λ far above 1: `--closure-check 1e3` on higher-order, J 45 for
//! S 1.2, chance accuracy), and the setting named is `--closure-check` ([`Cause::ClosureCheck`]),
//! not the rate, which was named before (J ≥ 10·L₀ read as a divergence).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::train::{mean_loss, EpochStats, Loss, TrainConfig};
use super::Mlp;
use crate::data::{class_counts, Dataset};

/// Multiple of the best constant output's loss ([`constant_loss`]) at or above which a
/// training's last epoch is looked at: an order of magnitude, far from a run that merely
/// learned little (it ends near 1×).
pub const WORSE_THAN_CONSTANT: f64 = 10.0;

/// Multiple of the default gain's starting loss at or above which the `--gain` set is named:
/// the failures measured start 9.2e4× or more above it, a one-epoch run at gain 2 for √2 4.1×.
pub const ABOVE_DEFAULT_START: f64 = 10.0;

/// Multiple of the constant's loss at or above which the start itself is far off, at any gain:
/// healthy starts measured ≤ 260× (three quadratic layers on XOR), far ones ≥ 1.7e7×.
pub const FAR_START: f64 = 1e4;

/// Multiple of the starting loss at or above which the last epoch names `--lr`: divergences
/// measured 597× or more, transients of a first epoch ≤ 4.6×.
pub const WORSE_THAN_START: f64 = 10.0;

/// Multiple of the starting loss at or above which one batch's loss marks a divergence that
/// the epoch's mean hid, for a run that ended at a constant output: XOR relu `--lr 1` 27.6×
/// (seed 1; its epochs' means stayed below the start), `--lr 2`, `3` 273× to 1 700×; healthy
/// short runs that ended at chance 1.2× to 5.5× (higher-order's one epoch of the quadratic
/// network: its first batches overshoot), measured in the fifty-third session (EXPERIMENTS.md).
pub const BATCH_ABOVE_START: f64 = 10.0;

/// Multiple of max(L_C, S) of a cumulant epoch at or above which its objective
/// J = L_C + λ·max(0, S − L_C) is dominated by the check's term: λ(S − L_C) ≥ 9·max(L_C, S),
/// which λ < 9 cannot reach (S − L_C ≤ max(L_C, S) for losses ≥ 0), so the default λ = 1 never
/// does; `--closure-check 1e3` reached 37× (higher-order, erf, order 3, three epochs; adv65).
pub const CHECK_DOMINATES: f64 = 10.0;

/// The MSE estimate of an epoch: its loss for the samples objective (the mean of its batches'
/// training losses); for the cumulant objective, whose loss is J = L_C + λ·max(0, S − L_C), the sampled
/// check's S (the loss of the network on draws from the class statistics, or from the
/// training samples at `--order 3|4`), or the closure's L_C where the check is off (λ = 0, J =
/// L_C).
pub fn mse_estimate(epoch: &EpochStats) -> f64 {
    match epoch.parts {
        Some(p) => p.sampled_loss.unwrap_or(p.closure_loss),
        None => epoch.loss,
    }
}

/// Share of the constant's loss at or above which a last epoch at chance accuracy is taken for
/// an output that ignores the input: a collapsed network outputs about the class frequencies
/// (MNIST `--lr 0.1`: 1.008·C), one that learned anything ends far below C (the MNIST default:
/// 0.06·C).
pub const NEAR_CONSTANT: f64 = 0.95;

/// The highest training accuracy still read as chance on a set of class `counts`: the largest
/// class's share p plus 3 binomial standard deviations, 3·√(p(1 − p)/n) (a network that
/// outputs one class, or none, reaches at most p up to sampling noise); 0 for an empty set.
pub fn chance_ceiling(counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    let Some(&largest) = counts.iter().max().filter(|_| n > 0) else {
        return 0.0;
    };
    let p = largest as f64 / n as f64;
    p + 3.0 * (p * (1.0 - p) / n as f64).sqrt()
}

/// The mean loss of the best constant output on a training set of class `counts`: 1 − Σ p_c²
/// for MSE to one-hot targets (the output p, the class frequencies), the entropy −Σ p_c ln p_c
/// for cross-entropy (the logits ln p_c); 0 for an empty set or a single class.
pub fn constant_loss(loss: Loss, counts: &[usize]) -> f64 {
    let n: usize = counts.iter().sum();
    if n == 0 {
        return 0.0;
    }
    let p = counts.iter().map(|&c| c as f64 / n as f64);
    match loss {
        Loss::Mse => 1.0 - p.map(|p| p * p).sum::<f64>(),
        Loss::Ce => -p.filter(|&p| p > 0.0).map(|p| p * p.ln()).sum::<f64>(),
    }
}

/// How the trained network was initialised (N(0, gain²/fan_in), `Mlp::init`), to rebuild its
/// start: the gain used, the activation's default gain, the seed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Start {
    pub gain: f64,
    pub default_gain: f64,
    pub seed: u64,
}

/// Where training started: the seeded initialisation ([`Start`], rebuilt to find L₀), or the
/// network `train --init` read from a model file, whose loss is L₀ as it stands. From a model
/// the causes that name the initialisation (`--gain`, its scale) do not arise; a start far
/// from the targets is [`Cause::InitModel`], and `--lr` is named as from a seeded start.
#[derive(Clone, Copy, Debug)]
pub enum Origin<'a> {
    Seeded(Start),
    Model(&'a Mlp),
}

/// The setting a warned-about run names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// The `--gain` set started the network ≥ [`ABOVE_DEFAULT_START`]× the default's loss.
    Gain,
    /// The start was ≥ [`FAR_START`]× the constant's loss at the gain used.
    InitialScale,
    /// The last epoch ended ≥ [`WORSE_THAN_START`]× the start's loss.
    Lr,
    /// The `--init` model's own loss was ≥ [`FAR_START`]× the constant's: a model for other
    /// targets (another task, other labels or scaling), which training did not bring back.
    InitModel,
    /// The run ended at a constant output (≥ [`NEAR_CONSTANT`]× its loss, chance accuracy)
    /// after an epoch above the start's loss: `--lr` diverged, then the network collapsed.
    Collapse,
    /// The cumulant objective's J ended ≥ [`CHECK_DOMINATES`]× both its parts L_C and S:
    /// the check's weight `--closure-check` outweighs the data term.
    ClosureCheck,
}

/// A training that ended ≥ [`WORSE_THAN_CONSTANT`]× the constant output's loss, or at it after
/// a divergence ([`Cause::Collapse`]), with its [`Cause`]: the `unlearned` object of `train --json`, of `analyze --json`'s `trained`, and of
/// a sweep's record; its [`Display`](fmt::Display) is the warning on stderr.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unlearned {
    pub cause: Cause,
    /// The last epoch and its mean training loss.
    pub epoch: usize,
    /// Its MSE estimate ([`mse_estimate`]: the loss of a samples epoch, S or L_C of a cumulant
    /// one).
    pub loss: f64,
    /// The cumulant objective's J of the last epoch, for a [`Cause::ClosureCheck`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<f64>,
    /// The best constant output's loss, [`constant_loss`].
    pub constant_loss: f64,
    /// L₀: the training-set loss of the network before its first step.
    pub initial_loss: f64,
    /// Whether that network was `--init`'s model file, not the seeded initialisation.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub from_init: bool,
    /// L_ref: that of the same network at the default gain; absent when that was the gain used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gain_loss: Option<f64>,
    /// The seeded initialisation's gain and the activation's default; absent from `--init`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gain: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gain: Option<f64>,
    pub lr: f64,
    pub epochs: usize,
    pub train_accuracy: f64,
    pub loss_kind: Loss,
    /// The epoch of the run's highest loss and that loss, for a [`Cause::Collapse`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_epoch: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged_loss: Option<f64>,
    /// Whether that loss is one batch's, where the epoch's mean stayed below the start
    /// ([`BATCH_ABOVE_START`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diverged_in_batch: bool,
}

/// The warning for a training whose last epoch in `history` ended at least
/// [`WORSE_THAN_CONSTANT`] times the best constant output's loss on `data` (the training set),
/// or at ≥ [`NEAR_CONSTANT`] times it at chance accuracy ([`chance_ceiling`]), and whose start,
/// rebuilt from `origin` with `trained`'s widths and activations (or `--init`'s model as it
/// stands), names a [`Cause`]; `None` for
/// a run below it, a run that started at an ordinary scale and ended below its start (not
/// trained long enough), an empty history, or a set of one class.
pub fn unlearned_warning(
    history: &[EpochStats],
    trained: &Mlp,
    data: &Dataset,
    origin: Origin,
    cfg: &TrainConfig,
) -> Option<Unlearned> {
    let last = history.last()?;
    let last_loss = mse_estimate(last);
    let counts = class_counts(&data.labels, data.n_classes).ok()?;
    let constant = constant_loss(cfg.loss, &counts);
    let far = last_loss >= WORSE_THAN_CONSTANT * constant;
    let at_chance =
        last_loss >= NEAR_CONSTANT * constant && last.train_accuracy <= chance_ceiling(&counts);
    if !(constant > 0.0 && (far || at_chance)) {
        return None;
    }
    let (start, initial_loss, default_gain_loss) = match origin {
        Origin::Seeded(start) => {
            let widths = trained.widths();
            let initial = |gain: f64| -> Option<f64> {
                let mut fresh =
                    Mlp::init(&widths, trained.activation.at(0), gain, start.seed).ok()?;
                fresh.activation = trained.activation.clone();
                Some(mean_loss(&fresh, data, cfg.loss))
            };
            let default_gain_loss = if start.gain == start.default_gain {
                None
            } else {
                Some(initial(start.default_gain)?)
            };
            (Some(start), initial(start.gain)?, default_gain_loss)
        }
        Origin::Model(model) => (None, mean_loss(model, data, cfg.loss), None),
    };
    // The run's highest epoch (the first of equals), and its highest batch, for a collapse.
    let peak = history.iter().fold(last, |p, e| {
        if mse_estimate(e) > mse_estimate(p) {
            e
        } else {
            p
        }
    });
    let peak_loss = mse_estimate(peak);
    // J far above both of its parts: the check's weight, whatever else the run shows.
    let dominated = last.parts.is_some_and(|p| {
        last.loss >= CHECK_DOMINATES * p.closure_loss.max(p.sampled_loss.unwrap_or(0.0))
    });
    let batch_peak = history
        .iter()
        .filter_map(|e| Some((e.epoch, e.peak_batch_loss?)))
        .fold(None, |p: Option<(usize, f64)>, e| match p {
            Some(p) if p.1 >= e.1 => Some(p),
            _ => Some(e),
        });
    let mut diverged = None;
    let cause = if dominated {
        Cause::ClosureCheck
    } else if !far {
        if peak_loss > initial_loss {
            diverged = Some(Divergence {
                epoch: peak.epoch,
                loss: peak_loss,
                in_batch: false,
            });
            Cause::Collapse
        } else if let Some((epoch, loss)) =
            batch_peak.filter(|&(_, l)| l >= BATCH_ABOVE_START * initial_loss)
        {
            diverged = Some(Divergence {
                epoch,
                loss,
                in_batch: true,
            });
            Cause::Collapse
        } else {
            return None;
        }
    } else if default_gain_loss.is_some_and(|r| initial_loss >= ABOVE_DEFAULT_START * r) {
        Cause::Gain
    } else if initial_loss >= FAR_START * constant {
        match start {
            Some(_) => Cause::InitialScale,
            None => Cause::InitModel,
        }
    } else if last_loss >= WORSE_THAN_START * initial_loss {
        Cause::Lr
    } else {
        return None;
    };
    Some(Unlearned {
        cause,
        epoch: last.epoch,
        loss: last_loss,
        objective: dominated.then_some(last.loss),
        constant_loss: constant,
        initial_loss,
        from_init: start.is_none(),
        default_gain_loss,
        gain: start.map(|s| s.gain),
        default_gain: start.map(|s| s.default_gain),
        lr: cfg.lr,
        epochs: cfg.epochs,
        train_accuracy: last.train_accuracy,
        loss_kind: cfg.loss,
        diverged_epoch: diverged.map(|d| d.epoch),
        diverged_loss: diverged.map(|d| d.loss),
        diverged_in_batch: diverged.is_some_and(|d| d.in_batch),
    })
}

/// Where a [`Cause::Collapse`] run diverged: the epoch and its loss, one batch's
/// (`in_batch`, the epoch's mean below the start) or the epoch's mean.
#[derive(Clone, Copy)]
struct Divergence {
    epoch: usize,
    loss: f64,
    in_batch: bool,
}

impl fmt::Display for Unlearned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // √2 as the help text writes relu's default, not its 17 digits.
        let gain = |g: f64| {
            if g == 2f64.sqrt() {
                "√2".to_string()
            } else {
                crate::data::preprocess::compact(g)
            }
        };
        let used = match (self.gain, self.default_gain) {
            (Some(g), Some(d)) if g == d => format!("--gain {} (the default)", gain(g)),
            (Some(g), Some(d)) => format!("--gain {} (the default is {})", gain(g), gain(d)),
            _ => "--init's model".to_string(),
        };
        // L₀'s network: the seeded initialisation or `--init`'s model.
        let start = match self.from_init {
            true => "the --init model",
            false => "the untrained network",
        };
        write!(
            f,
            "warning: training ended (epoch {}) with a mean {} loss of {:.2e}, {:.1e} times that \
             of a constant output that ignores the input ({:.3}, the training set's class \
             frequencies), at train accuracy {:.3}: the network has learned nothing usable; ",
            self.epoch,
            self.loss_kind,
            self.loss,
            self.loss / self.constant_loss,
            self.constant_loss,
            self.train_accuracy,
        )?;
        let epochs = match self.epochs {
            1 => "1 epoch".to_string(),
            n => format!("{n} epochs"),
        };
        match self.cause {
            Cause::Gain => write!(
                f,
                "{start}'s loss was {:.2e}, {:.1e} times that at the default gain \
                 ({:.2e}): {used} puts the initial outputs far from the targets, and {epochs} of \
                 steps of --lr {:?} did not bring them there; expected a smaller --gain, or far \
                 more --epochs",
                self.initial_loss,
                self.initial_loss / self.default_gain_loss.unwrap_or(f64::NAN),
                self.default_gain_loss.unwrap_or(f64::NAN),
                self.lr,
            ),
            Cause::InitialScale => write!(
                f,
                "{start}'s loss was {:.2e} already, {:.1e} times the constant's, at \
                 {used}: the initial outputs are far from the targets, and {epochs} of steps of \
                 --lr {:?} did not bring them there; expected a --gain below {}, data of a \
                 smaller scale (--scale, --standardize), fewer hidden layers, or far more \
                 --epochs",
                self.initial_loss,
                self.initial_loss / self.constant_loss,
                self.lr,
                gain(self.gain.unwrap_or(f64::NAN)),
            ),
            Cause::InitModel => write!(
                f,
                "{start}'s loss on this training set was {:.2e} already, {:.1e} times the \
                 constant's: its outputs are far from these targets (a model of another task, \
                 other labels or another scaling of the data?), and {epochs} of steps of --lr \
                 {:?} did not bring them there; expected a model trained for this task and \
                 data, or training without --init",
                self.initial_loss,
                self.initial_loss / self.constant_loss,
                self.lr,
            ),
            Cause::Lr => write!(
                f,
                "{start}'s loss was {:.2e}, {:.1e} times lower: training made it \
                 worse; expected a smaller --lr (now {:?})",
                self.initial_loss,
                self.loss / self.initial_loss,
                self.lr,
            ),
            Cause::ClosureCheck => {
                let j = self.objective.unwrap_or(f64::NAN);
                write!(
                    f,
                    "the cumulant objective J = L_C + λ·max(0, S − L_C) ended at {j:.2e}, {:.1e} \
                     times the sampled loss S: the check's term outweighs the data term, and \
                     training pulls the closure L_C towards S rather than the network towards \
                     the targets; expected --closure-check 1 (the default; J ≥ S already) or 0",
                    j / self.loss,
                )
            }
            Cause::Collapse => {
                let peak = self.diverged_loss.unwrap_or(f64::NAN);
                let (what, reached) = match self.diverged_in_batch {
                    true => ("a batch of epoch", "reached"),
                    false => ("epoch", "ended at"),
                };
                write!(
                    f,
                    "{what} {} {reached} a loss of {:.2e}, {:.1e} times {start}'s \
                     ({:.2e}): the steps diverged, and the network settled on an output that \
                     ignores its input; expected a smaller --lr (now {:?})",
                    self.diverged_epoch.unwrap_or(0),
                    peak,
                    peak / self.initial_loss,
                    self.initial_loss,
                    self.lr,
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use faer::Mat;

    use super::*;
    use crate::data::Dataset;
    use crate::net::train::{train, Optimizer};
    use crate::net::{Activation, Mlp, Precision};

    #[test]
    fn the_constant_loss_is_that_of_the_class_frequencies() {
        assert!((constant_loss(Loss::Mse, &[50, 50]) - 0.5).abs() < 1e-15);
        assert!((constant_loss(Loss::Mse, &[10; 10]) - 0.9).abs() < 1e-15);
        assert!((constant_loss(Loss::Ce, &[50, 50]) - 2f64.ln()).abs() < 1e-15);
        assert!((constant_loss(Loss::Ce, &[30, 0, 30]) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(constant_loss(Loss::Mse, &[7, 0]), 0.0);
        assert_eq!(constant_loss(Loss::Ce, &[]), 0.0);
    }

    /// Two classes of 3 features whose sign of the sum sets the class, 128 samples.
    fn data() -> Dataset {
        let x = Mat::from_fn(3, 128, |i, k| ((5 * i + 3 * k) as f64 * 0.37).sin());
        let labels = (0..128)
            .map(|k| u32::from(x[(0, k)] + x[(1, k)] + x[(2, k)] > 0.0))
            .collect();
        Dataset {
            x,
            labels,
            n_classes: 2,
        }
    }

    /// The warning after `epochs` epochs of a 3-`hidden`-2 quadratic network of `gain` (the
    /// default 1) at `lr` (Adam, MSE).
    fn warning(hidden: &[usize], gain: f64, lr: f64, epochs: usize) -> Option<Unlearned> {
        warning_with_default(hidden, (gain, 1.0), lr, epochs)
    }

    /// [`warning`] with the activation's default gain given.
    fn warning_with_default(
        hidden: &[usize],
        (gain, default_gain): (f64, f64),
        lr: f64,
        epochs: usize,
    ) -> Option<Unlearned> {
        let widths = [&[3][..], hidden, &[2]].concat();
        let act = Activation::Quadratic { alpha: 0.5 };
        let mut net = Mlp::init(&widths, act, gain, 5).unwrap();
        let cfg = adam_mse(epochs, lr);
        let data = data();
        let history = train(&mut net, &data, &cfg, |_| {}).unwrap();
        let start = Start {
            gain,
            default_gain,
            seed: 5,
        };
        unlearned_warning(&history, &net, &data, Origin::Seeded(start), &cfg)
    }

    /// The start of the relu networks of the histories' tests: gain 1 (their default), seed 5.
    const UNIT_GAIN: Start = Start {
        gain: 1.0,
        default_gain: 1.0,
        seed: 5,
    };

    /// The tests' training settings: Adam on the MSE, batches of 16, seed 3.
    fn adam_mse(epochs: usize, lr: f64) -> TrainConfig {
        TrainConfig {
            epochs,
            batch: 16,
            lr,
            loss: Loss::Mse,
            optimizer: Optimizer::Adam,
            momentum: 0.9,
            seed: 3,
            precision: Precision::F64,
        }
    }

    /// A history of `losses` (one per epoch) ending at train accuracy `accuracy`.
    fn history(losses: &[f64], accuracy: f64) -> Vec<EpochStats> {
        let n = losses.len();
        (0..n)
            .map(|k| EpochStats {
                epoch: k + 1,
                loss: losses[k],
                train_accuracy: if k + 1 == n { accuracy } else { 0.5 },
                parts: None,
                phases: None,
                peak_batch_loss: None,
            })
            .collect()
    }

    /// A run that diverged (an epoch above its start) and ended at the constant's loss at
    /// chance accuracy is warned about naming --lr (MNIST `--lr 0.1`); the same end without
    /// the divergence (too few epochs, too small a rate), above chance, or short of
    /// NEAR_CONSTANT·C is silent. The histories are given; the start is rebuilt.
    #[test]
    fn a_collapse_after_a_divergence_names_the_rate() {
        let data = data();
        let counts = class_counts(&data.labels, 2).unwrap();
        let constant = constant_loss(Loss::Mse, &counts);
        let ceiling = chance_ceiling(&counts);
        let p = *counts.iter().max().unwrap() as f64 / 128.0;
        assert!((ceiling - p - 3.0 * (p * (1.0 - p) / 128.0).sqrt()).abs() < 1e-15);
        let net = Mlp::init(&[3, 8, 2], Activation::Relu, 1.0, 5).unwrap();
        let cfg = adam_mse(3, 0.1);
        let initial = mean_loss(&net, &data, Loss::Mse);
        let warn = |losses: &[f64], accuracy: f64| {
            unlearned_warning(
                &history(losses, accuracy),
                &net,
                &data,
                Origin::Seeded(UNIT_GAIN),
                &cfg,
            )
        };
        let end = 1.01 * constant;
        let w = warn(&[1.2 * initial, 2.0 * constant, end], p).expect("a collapse");
        assert_eq!(w.cause, Cause::Collapse, "{w}");
        assert_eq!(
            (w.diverged_epoch, w.diverged_loss),
            (Some(1), Some(1.2 * initial))
        );
        let text = w.to_string();
        assert!(
            text.contains("epoch 1 ended at a loss of") && text.contains("smaller --lr (now 0.1)"),
            "{text}"
        );
        assert_eq!(warn(&[0.9 * initial, end, end], p), None, "no divergence");
        assert_eq!(
            warn(&[50.0 * initial, end, end], ceiling + 0.01),
            None,
            "above chance"
        );
        let below = NEAR_CONSTANT * constant * 0.99;
        assert_eq!(
            warn(&[50.0 * initial, end, below], p),
            None,
            "below NEAR_CONSTANT·C"
        );
    }

    /// A blow-up that only one batch shows (the epochs' means below the start; XOR relu
    /// `--lr 1`) is a collapse once that batch reached BATCH_ABOVE_START·L₀, named as a batch;
    /// a first batch's overshoot below it (a healthy short run, up to 5.5× measured) is not.
    #[test]
    fn a_blow_up_the_epochs_mean_hides_is_a_collapse() {
        let data = data();
        let counts = class_counts(&data.labels, 2).unwrap();
        let end = 1.01 * constant_loss(Loss::Mse, &counts);
        let p = *counts.iter().max().unwrap() as f64 / 128.0;
        let net = Mlp::init(&[3, 8, 2], Activation::Relu, 1.0, 5).unwrap();
        let cfg = adam_mse(2, 1.0);
        let initial = mean_loss(&net, &data, Loss::Mse);
        let warn = |first_batch_peak: f64| {
            let mut h = history(&[0.6 * initial, end], p);
            h[0].peak_batch_loss = Some(first_batch_peak * initial);
            h[1].peak_batch_loss = Some(1.1 * end);
            unlearned_warning(&h, &net, &data, Origin::Seeded(UNIT_GAIN), &cfg)
        };
        let w = warn(BATCH_ABOVE_START * 2.76).expect("a batch's blow-up");
        assert_eq!(w.cause, Cause::Collapse, "{w}");
        assert_eq!(
            (w.diverged_epoch, w.diverged_loss, w.diverged_in_batch),
            (Some(1), Some(BATCH_ABOVE_START * 2.76 * initial), true)
        );
        let text = w.to_string();
        assert!(
            text.contains("a batch of epoch 1 reached a loss of")
                && text.contains("smaller --lr (now 1.0)"),
            "{text}"
        );
        assert_eq!(warn(5.5), None, "a first batch's overshoot");
        assert_eq!(warn(BATCH_ABOVE_START * 0.99), None, "below the threshold");
    }

    /// Initial weights of 10³ (outputs ~10⁹) that steps of 0.01 cannot bring down: warned,
    /// naming the --gain set and the default; the default scale trains silently.
    #[test]
    fn a_network_far_worse_than_a_constant_is_warned_about_naming_the_gain() {
        let w = warning(&[8], 1e3, 0.01, 20).expect("gain 1e3 is warned about");
        assert_eq!(w.cause, Cause::Gain);
        let text = w.to_string();
        assert!(text.contains("--gain 1000 (the default is 1)"), "{text}");
        assert!(text.contains("constant output"), "{text}");
        for gain in [0.5, 1.0] {
            assert_eq!(warning(&[8], gain, 0.01, 20), None, "gain {gain}");
        }
    }

    /// The cause is the start's: three quadratic layers at gain 3, taken as the default, start
    /// far above the constant's loss (the initial scale: advice below the gain used, which is
    /// called the default, not "a smaller --gain (the default …)"); a rate of 100 ends far
    /// above an ordinary start (--lr).
    #[test]
    fn the_cause_is_read_from_the_start() {
        let deep = warning_with_default(&[8; 3], (3.0, 3.0), 0.01, 1).expect("a far start");
        assert_eq!(deep.cause, Cause::InitialScale, "{deep}");
        assert!(
            deep.initial_loss >= FAR_START * deep.constant_loss,
            "{deep:?}"
        );
        let text = deep.to_string();
        assert!(
            text.contains("--gain 3 (the default)") && text.contains("below 3"),
            "{text}"
        );
        let lr = warning(&[8], 1.0, 100.0, 20).expect("a diverged rate is warned about");
        assert_eq!(lr.cause, Cause::Lr, "{lr}");
        assert!(lr.to_string().contains("smaller --lr (now 100.0)"), "{lr}");
    }

    /// From `--init`'s model, L₀ is that model's loss as it stands: a run that ended far above
    /// it names `--lr` and the model, without a gain; a model whose own loss is already far
    /// above the constant's (its read-out scaled by 10³: outputs of another scale) is
    /// [`Cause::InitModel`]. Fails if the model's start is rebuilt from the seed (L₀ differs;
    /// `from_init` false; the second case reads `--gain`'s initial scale).
    #[test]
    fn from_an_init_model_its_own_loss_is_the_start() {
        let data = data();
        let counts = class_counts(&data.labels, 2).unwrap();
        let constant = constant_loss(Loss::Mse, &counts);
        let cfg = adam_mse(2, 10.0);
        let mut model = Mlp::init(&[3, 8, 2], Activation::Relu, 1.0, 11).unwrap();
        let trained = Mlp::init(&[3, 8, 2], Activation::Relu, 1.0, 5).unwrap();
        let l0 = mean_loss(&model, &data, Loss::Mse);
        let end = 40.0 * constant.max(l0);
        let h = history(&[end, end], 0.5);
        let w = unlearned_warning(&h, &trained, &data, Origin::Model(&model), &cfg)
            .expect("worse than its start");
        assert_eq!((w.cause, w.from_init), (Cause::Lr, true), "{w}");
        assert_eq!(w.initial_loss, l0);
        assert_eq!((w.gain, w.default_gain), (None, None));
        let text = w.to_string();
        assert!(
            text.contains("the --init model's loss was") && text.contains("smaller --lr"),
            "{text}"
        );
        let json = serde_json::to_value(&w).unwrap();
        assert!(
            json.get("gain").is_none() && json["from_init"] == true,
            "{json}"
        );
        for x in model.layers[1].w.col_iter_mut() {
            x.iter_mut().for_each(|v| *v *= 1e3);
        }
        let far = mean_loss(&model, &data, Loss::Mse);
        assert!(far >= FAR_START * constant, "{far}");
        let h = history(&[far, far], 0.5);
        let w = unlearned_warning(&h, &trained, &data, Origin::Model(&model), &cfg)
            .expect("a model far from the targets");
        assert_eq!(w.cause, Cause::InitModel, "{w}");
        assert!(w.to_string().contains("training without --init"), "{w}");
    }
}
