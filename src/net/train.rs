//! Mini-batch training of the MLP by backpropagation: SGD with momentum or Adam, on the MSE to
//! one-hot targets or the softmax cross-entropy. Deterministic for a given seed, and independent
//! of the thread count: every parallel stage splits its *output* (GEMM blocks, columns, rows),
//! never a sum, so each number is computed in the same order on 1 or 64 threads (tested:
//! `tests/train_threads.rs`).

use std::fmt;
use std::time::Instant;

use clap::ValueEnum;

use faer::prelude::*;
use faer::{Col, Mat, MatRef};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::forward::{argmax_columns, elementwise_parallel};
use super::grad_update::FusedUpdate;
use super::precision::{Precision, Real};
use super::stalled::WeightsBefore;
use super::{Activation, ForwardPass, Layer, Mlp};
use crate::data::{Dataset, Labelled};
use crate::error::{value_name, Error, Field, Result};
use crate::linalg::{gemm, gemm_batch};

/// The training loss, averaged over the batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Loss {
    /// ‖y − t‖² with t the one-hot target (DESIGN.md §6: E = ‖μ − t‖² + tr Σ per class).
    Mse,
    /// −ln softmax(y)_label.
    Ce,
}

/// The parameter update rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Optimizer {
    /// v ← βv + g, θ ← θ − ηv (β = momentum).
    Sgd,
    /// Adam (Kingma & Ba 2015) with β₁ = 0.9, β₂ = 0.999, ε = 1e−8, bias-corrected.
    Adam,
}

impl fmt::Display for Loss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

impl fmt::Display for Optimizer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value_name(self))
    }
}

/// Settings of one training run.
#[derive(Clone, Debug, Serialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub loss: Loss,
    pub optimizer: Optimizer,
    /// Momentum β of SGD (ignored by Adam).
    pub momentum: f64,
    /// Seed of the per-epoch shuffles (initialisation has its own seed in [`Mlp::init`]);
    /// serialised as `shuffle_seed`, the run's `seed` being the one the user gave.
    #[serde(rename = "shuffle_seed")]
    pub seed: u64,
    /// Float type of the forward pass, backpropagation and optimiser (`--precision`).
    pub precision: Precision,
}

impl TrainConfig {
    /// Checks batch, epochs (≥ 1) and the learning rate (finite, > 0).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [(Field::Batch, self.batch), (Field::Epochs, self.epochs)] {
            if value == 0 {
                return Err(Error::config(field, "must be at least 1"));
            }
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(
                Field::Lr,
                format!("{} is not a positive number", self.lr),
            ));
        }
        Ok(())
    }
}

/// What one epoch achieved: mean batch loss and accuracy on the training batches as they were
/// seen (before each batch's update).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct EpochStats {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    /// The cumulant objective's parts (`--objective cumulants` only).
    #[serde(flatten)]
    pub parts: Option<ObjectiveParts>,
    /// Where the epoch's steps spent their time (samples objective only; `--timings`).
    #[serde(skip)]
    pub phases: Option<StepPhases>,
    /// The highest mean loss of one batch in the epoch (samples objective only): a rate's
    /// blow-up that the epoch's mean hides (`super::unlearned`).
    #[serde(skip)]
    pub peak_batch_loss: Option<f64>,
}

/// Wall seconds one epoch of mini-batch training spent in each phase of its steps, summed
/// over the batches: gathering the batch's columns, the forward pass, loss and accuracy,
/// backpropagation of δ through the layers (`backward`), and every layer's gradient fused with
/// the optimiser step on it (`update`, [`super::grad_update`]; before the twelfth session
/// `backward` also formed ∂W and ∂b). Timed on the thread that runs the loop, so a phase's
/// 1 → 2 thread ratio is its own speed-up, and phases that do not gain show the serial part.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepPhases {
    pub gather: f64,
    pub forward: f64,
    pub loss: f64,
    pub backward: f64,
    pub update: f64,
}

impl StepPhases {
    /// The phases' names, in step order.
    pub const NAMES: [&'static str; 5] = ["gather", "forward", "loss", "backward", "update"];

    /// The phases' seconds, in the order of [`StepPhases::NAMES`].
    pub fn seconds(&self) -> [f64; 5] {
        [
            self.gather,
            self.forward,
            self.loss,
            self.backward,
            self.update,
        ]
    }
}

/// Seconds since `*since`, which moves on to now.
fn lap(since: &mut Instant) -> f64 {
    let now = Instant::now();
    let seconds = now.duration_since(*since).as_secs_f64();
    *since = now;
    seconds
}

/// Epoch means of the cumulant objective's parts (its guard, `cumtrain/guard.rs`): the
/// closure's value L_C and the sampled check S (absent when the check is off), and the steps
/// whose S exceeded L_C, where the guard's term was active (at λ = 1 the step followed ∇S
/// alone; absent when the check is off).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct ObjectiveParts {
    pub closure_loss: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampled_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_led_steps: Option<usize>,
    /// At `--order 3|4`: how often the epoch floored a corrected layer's z covariance, summed
    /// over the corrected layers (`--corrected-layers`; a class-step per layer floored).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub floored: Option<FloorTally>,
    /// At `--order 3|4` with a correction bound (`--correction-bound`) on a Gram–Charlier
    /// corrected closure: how often the epoch shrank a corrected layer's correction
    /// (`cumtrain::correction_bound`), summed over the corrected layers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bounded: Option<BoundTally>,
    /// At `--order 3|4` with a Gram–Charlier corrected closure (relu, leaky relu, erf) at some
    /// corrected layer: the units whose skewness the epoch capped, summed over classes, steps
    /// and corrected layers (`cumtrain::skew_cap`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capped_units: Option<usize>,
}

/// How often the cumulant objective raised eigenvalues of a corrected layer's z covariance to
/// its floor (`cumtrain::spectral_floor`): the class-steps (one class's forward pass through
/// one corrected layer) it did, those
/// among them where the covariance was indefinite (the rest were positive definite but nearly
/// singular), and the largest share of the covariance's trace it added in one of them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct FloorTally {
    pub class_steps: usize,
    pub indefinite: usize,
    pub largest_share: f64,
}

impl FloorTally {
    /// Both tallies together.
    pub fn plus(self, other: FloorTally) -> FloorTally {
        FloorTally {
            class_steps: self.class_steps + other.class_steps,
            indefinite: self.indefinite + other.indefinite,
            largest_share: self.largest_share.max(other.largest_share),
        }
    }
}

/// How often the cumulant objective's correction bound shrank a corrected layer's correction
/// towards the Gaussian closure (`cumtrain::correction_bound`): the class-steps it did (one
/// class's forward pass through one corrected layer), and the smallest shrink factor t ∈ [0, 1)
/// among them (1 where it never did); under `--correction-bound-rule clip`, the generalized
/// eigenvalues it clipped.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct BoundTally {
    pub class_steps: usize,
    pub smallest_t: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clipped: Option<ClipTally>,
}

impl Default for BoundTally {
    fn default() -> Self {
        BoundTally {
            class_steps: 0,
            smallest_t: 1.0,
            clipped: None,
        }
    }
}

impl BoundTally {
    /// Both tallies together.
    pub fn plus(self, other: BoundTally) -> BoundTally {
        BoundTally {
            class_steps: self.class_steps + other.class_steps,
            smallest_t: self.smallest_t.min(other.smallest_t),
            clipped: match (self.clipped, other.clipped) {
                (Some(a), Some(b)) => Some(ClipTally {
                    directions: a.directions + b.directions,
                    most: a.most.max(b.most),
                }),
                (a, b) => a.or(b),
            },
        }
    }
}

/// The generalized eigenvalues of (ΔC, B) the clip rule raised to −(1 − α)
/// (`cumtrain::correction_bound`, `--correction-bound-rule clip`): summed over the class-steps
/// of every corrected layer (the mean per bounded class-step is `directions / class_steps`), and
/// the most in one class-step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ClipTally {
    pub directions: usize,
    pub most: usize,
}

const ADAM_BETA1: f64 = 0.9;
const ADAM_BETA2: f64 = 0.999;
const ADAM_EPS: f64 = 1e-8;

/// Trains `net` on `data` in place; `on_epoch` is called after every epoch (progress display).
/// With `cfg.precision` f32 the network is rounded to f32, trained in f32 (batches are rounded
/// to f32 as they are gathered) and widened back to f64 exactly.
pub fn train(
    net: &mut Mlp,
    data: &Dataset,
    cfg: &TrainConfig,
    on_epoch: impl FnMut(&EpochStats),
) -> Result<Vec<EpochStats>> {
    match cfg.precision {
        Precision::F64 => train_in(net, data, cfg, on_epoch),
        Precision::F32 => {
            let mut narrow = net.cast::<f32>();
            let history = train_in(&mut narrow, data, cfg, on_epoch)?;
            *net = narrow.cast();
            Ok(history)
        }
    }
}

/// The training loop in the float type T.
fn train_in<T: Real>(
    net: &mut Mlp<T>,
    data: &Dataset,
    cfg: &TrainConfig,
    mut on_epoch: impl FnMut(&EpochStats),
) -> Result<Vec<EpochStats>> {
    check_fits(net, data)?;
    cfg.validate()?;
    let batch = cfg.batch.min(data.len());
    let mut fp = ForwardPass::new(net, batch);
    let mut xb = Mat::<T>::zeros(data.dim(), batch);
    let mut labels = vec![0u32; batch];
    let mut deltas: Vec<Mat<T>> = net
        .layers
        .iter()
        .map(|l| Mat::zeros(l.fan_out(), batch))
        .collect();
    let mut optimiser = FusedUpdate::new(net);
    let data_x = T::convert_mat(&data.x);
    let mut order: Vec<usize> = (0..data.len()).collect();
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut history = Vec::new();
    let mut step = 0i32;
    // SGD on the mse loss: a lower bound on the first batch's curvature in the read-out's
    // weights at initialisation, for the message of a divergence (`readout_curvature`).
    let mut first_curvature: Option<(f64, usize)> = None;
    // The weights before the first epoch, to refuse a run that moved none (`super::stalled`).
    let mut before = Some(WeightsBefore::of(net));
    for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut hits) = (0.0, 0usize);
        let mut peak_batch_loss = f64::NEG_INFINITY;
        let mut phases = StepPhases::default();
        for chunk in order.chunks(batch) {
            let mut clock = Instant::now();
            let b = chunk.len();
            for (c, &i) in chunk.iter().enumerate() {
                xb.col_mut(c).copy_from(data_x.col(i));
                labels[c] = data.labels[i];
            }
            phases.gather += lap(&mut clock);
            let x = xb.as_ref().subcols(0, b);
            net.forward_into(x, &mut fp);
            phases.forward += lap(&mut clock);
            hits += argmax_columns(fp.output())
                .zip(&labels[..b])
                .filter(|(p, &l)| *p == l as usize)
                .count();
            let out_delta = deltas.last_mut().expect("net has a read-out");
            let batch_loss = loss_and_delta(
                cfg.loss,
                fp.output(),
                &labels[..b],
                out_delta.as_mut().subcols_mut(0, b),
            );
            if step == 0 && !batch_loss.is_finite() {
                return Err(overflow_before_training(net, x, batch_loss));
            }
            if step == 0 && cfg.optimizer == Optimizer::Sgd && cfg.loss == Loss::Mse {
                let depth = net.layers.len() - 1;
                let z = if depth == 0 { x } else { fp.post(depth) };
                first_curvature = Some(readout_curvature(z));
            }
            loss_sum += batch_loss * b as f64;
            peak_batch_loss = peak_batch_loss.max(batch_loss);
            phases.loss += lap(&mut clock);
            for l in (1..net.layers.len()).rev() {
                propagate_delta(net, l, &fp, &mut deltas, b);
            }
            phases.backward += lap(&mut clock);
            step += 1;
            optimiser.step(net, x, &fp, &deltas, Rule::new(cfg, step));
            if step == 1 {
                let f32 = T::EPSILON > f64::EPSILON;
                if let Some(l) = net.layers.iter().position(|l| !l.is_finite()) {
                    return Err(first_step_overflowed(l + 1, f32));
                }
                if let Some(l) = optimiser.second_moment_overflowed() {
                    return Err(squares_overflowed(l + 1, f32));
                }
            }
            phases.update += lap(&mut clock);
        }
        let stats = EpochStats {
            epoch,
            loss: loss_sum / data.len() as f64,
            train_accuracy: hits as f64 / data.len() as f64,
            parts: None,
            phases: Some(phases),
            peak_batch_loss: Some(peak_batch_loss),
        };
        if !stats.loss.is_finite() {
            return Err(Error::config(
                Field::Lr,
                format!(
                    // (`{:?}`: 1e300 as such, not its 301 digits.)
                    "training diverged in epoch {epoch} (loss {}); lower the learning rate (now {:?}){}",
                    stats.loss,
                    cfg.lr,
                    match data_scale_hint(data, cfg) {
                        hint if hint.is_empty() => curvature_hint(first_curvature, cfg),
                        hint => hint,
                    }
                ),
            ));
        }
        if let Some(l) = net.layers.iter().position(|l| !l.is_finite()) {
            return Err(parameters_overflowed(
                l + 1,
                epoch,
                T::EPSILON > f64::EPSILON,
            ));
        }
        if let Some(before) = before.take() {
            before.check_moved(net, optimiser.first_moment(), cfg)?;
        }
        on_epoch(&stats);
        history.push(stats);
    }
    Ok(history)
}

/// The part of an SGD divergence that the data's scale explains, as a clause for the `--lr`
/// message, or "" when it explains none.
///
/// Heavy-ball SGD (m ← βm + g, p ← p − ηm) on a quadratic of curvature λ is stable iff
/// ηλ < 2(1 + β). The loss's curvature in the first layer's weights is E[x xᵀ] times the
/// curvature the rest of the network puts on the first layer's pre-activations, and the
/// largest eigenvalue of E[x xᵀ] is at least its trace over d, the features' mean square q: the
/// data alone scale the step by η·q. When η·q exceeds 2(1 + β) the data's scale is named, with
/// the remedy (standardising brings q to 1, `--scale √q` near it); at unit scale the same rate
/// gives η. Data of 10¹⁰⁰ (q ~ 10²⁰⁰) at the default rate: "lr·q = 5e198, beyond 3.8". Adam's
/// steps do not scale with the gradient, so its divergences get no such clause.
fn data_scale_hint(data: &Dataset, cfg: &TrainConfig) -> String {
    if cfg.optimizer != Optimizer::Sgd || data.is_empty() {
        return String::new();
    }
    let x = data.x.as_ref();
    let (mut big, mut at) = (0.0f64, (0, 0));
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            if x[(i, j)].abs() > big {
                (big, at) = (x[(i, j)].abs(), (j, i));
            }
        }
    }
    if !(big.is_finite() && big > 0.0) {
        return String::new();
    }
    // Scaled by the largest |x| so that data of 1e200 sum without overflow.
    let mut sum = 0.0;
    for j in 0..x.ncols() {
        for i in 0..x.nrows() {
            sum += (x[(i, j)] / big).powi(2);
        }
    }
    let rms = big * (sum / (x.nrows() * x.ncols()) as f64).sqrt();
    let (step, stable) = (cfg.lr * rms * rms, 2.0 * (1.0 + cfg.momentum));
    if step.is_nan() || step <= stable {
        return String::new();
    }
    format!(
        ", and bring the data to unit scale: its features' root mean square is {rms:.1e} (the \
         largest |x| {big:.1e}, sample {} feature {}), so the data alone scale an SGD step's \
         curvature by lr·(mean square) = {step:.1e}, beyond the {stable} under which SGD with \
         momentum {} is stable; --standardize (or --scale {rms:.1e}) brings the mean square to \
         about 1, where lr·(mean square) is the learning rate itself, {}",
        at.0, at.1, cfg.momentum, cfg.lr
    )
}

/// A lower bound on the largest eigenvalue of the mse loss's Hessian in the read-out's weights
/// for the batch whose read-out inputs are the columns of `z` (N × b), and b: each output row's
/// weights and bias see 2·E[z̃ z̃ᵀ], z̃ = (z, 1) (the loss sums the squared errors over outputs
/// and averages them over the batch), whose largest eigenvalue is at least the Rayleigh
/// quotient of any vector. Twenty power steps from E[z̃] (itself a bound: E[z̃ z̃ᵀ] ⪰ E[z̃] E[z̃]ᵀ)
/// tighten it; O(20·N·b), once per SGD run.
fn readout_curvature<T: Real>(z: MatRef<'_, T>) -> (f64, usize) {
    let (n, b) = (z.nrows(), z.ncols());
    let at = |i: usize, j: usize| if i < n { z[(i, j)].to_f64() } else { 1.0 };
    let mut v: Vec<f64> = (0..=n)
        .map(|i| (0..b).map(|j| at(i, j)).sum::<f64>() / b as f64)
        .collect();
    let mut quotient = 0.0f64;
    for _ in 0..20 {
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        if !(norm.is_finite() && norm > 0.0) {
            break;
        }
        v.iter_mut().for_each(|a| *a /= norm);
        // w = E[z̃ z̃ᵀ] v, and vᵀw the Rayleigh quotient of the unit vector v.
        let mut w = vec![0.0; n + 1];
        for j in 0..b {
            let dot: f64 = (0..=n).map(|i| at(i, j) * v[i]).sum();
            (0..=n).for_each(|i| w[i] += at(i, j) * dot / b as f64);
        }
        let q: f64 = w.iter().zip(&v).map(|(a, c)| a * c).sum();
        if q.is_finite() {
            quotient = quotient.max(q);
        }
        v = w;
    }
    (2.0 * quotient, b)
}

/// The clause of an SGD divergence of unit-scale data that the network's own curvature
/// explains (`readout_curvature` at initialisation): where lr·λ exceeds 2(1 + β), the rate
/// below which the first step is stable is named ("" otherwise: the bound explains nothing),
/// said to be a necessary bound and not a guarantee (twenty-fifth session: adv24's message
/// said "below" alone; lr 0.02 above adv24's named 1.6e-2 did not diverge in 2 epochs, and a
/// rate below it is not promised to train: the curvature changes as the network trains).
/// Twenty-fourth session: 600 samples of 4 features with class means 0, 1, 2 through 100 relu
/// units diverge at SGD's default 0.05 though their scale is 1 (η·q = 0.13): the 100 units'
/// mean outputs put a curvature of ~10² on the read-out. The clause names `--gain` too: the
/// curvature is the square of the read-out's inputs, which the initial weights scale (adv48a:
/// `--optimizer sgd --gain 1e50` was blamed on `--lr` alone).
fn curvature_hint(first: Option<(f64, usize)>, cfg: &TrainConfig) -> String {
    let Some((lambda, b)) = first else {
        return String::new();
    };
    let (step, stable) = (cfg.lr * lambda, 2.0 * (1.0 + cfg.momentum));
    if !(step.is_finite() && step > stable) {
        return String::new();
    }
    // 3 decimals up to 10⁶, exponent form beyond: at --gain 1e50 the curvature was 9e200
    // written in 201 digits (adv47).
    let short = |v: f64| {
        if v.abs() < 1e6 {
            format!("{v:.3}")
        } else {
            format!("{v:.3e}")
        }
    };
    format!(
        ": at initialisation the loss's curvature in the read-out's weights is at least \
         {} (2·E[z̃ z̃ᵀ]'s largest eigenvalue, z̃ = the read-out's inputs and 1, over the \
         first batch of {b}), so lr·curvature = {}, beyond the {stable} under which SGD \
         with momentum {} is stable; expected --lr below {:.2e}, or --optimizer adam, whose \
         steps do not scale with the curvature (that rate is a necessary bound, not a \
         guarantee: the curvature named is a lower estimate on one batch and changes as the \
         network trains, so a rate below it can still diverge or train poorly); it grows \
         as the read-out's inputs squared, which the initial weights scale: a smaller \
         --gain lowers it",
        short(lambda),
        short(step),
        cfg.momentum,
        stable / lambda
    )
}

/// The error for parameters of `layer` (1-based) made non-finite by the updates of `epoch` while
/// the loss stayed finite: a saturating φ (tanh) turns an infinite weight into a finite output,
/// so the divergence check passed and the model file's check refused the trained network with
/// "layer 1 has non-finite weights or biases", naming no flag (twenty-first session: `train
/// --activation tanh --gain 1e20 --precision f32`, whose gradients of ~10⁴⁰ overflow f32 and
/// which f64 runs). `f32`: the training ran in f32.
fn parameters_overflowed(layer: usize, epoch: usize, f32: bool) -> Error {
    let range = if f32 {
        " f32's range (3.4e38; --precision f64 reaches 1.8e308)"
    } else {
        ""
    };
    Error::Numeric(format!(
        "training made the weights or biases of layer {layer} non-finite in epoch {epoch} \
         while the loss stayed finite (a saturating activation hides them): the gradients \
         overflowed{range}; --gain, the data's scale (--sigma, --scale or the data files) or \
         --lr is too large"
    ))
}

/// The error for parameters of `layer` (1-based) made non-finite by the first update: the
/// learning rate cannot do that (Adam's first step moves each weight by at most ~--lr, SGD's by
/// --lr times a finite gradient), so the gradients, or their squares in Adam's second moment,
/// overflowed — the initial scale (--gain) or the data's, against the float type's range. Before
/// this check the loss turned NaN in the next batch and the divergence message blamed --lr
/// (twenty-first session's sweep point: tanh, gain 1e30, f32; adv22). One scan of the
/// parameters after the first step only. `f32`: the training ran in f32.
fn first_step_overflowed(layer: usize, f32: bool) -> Error {
    let range = if f32 {
        "f32's range (3.4e38) under --precision f32 (--precision f64 reaches 1.8e308)"
    } else {
        "f64's range (1.8e308)"
    };
    Error::Numeric(format!(
        "the first training step made the weights or biases of layer {layer} non-finite: the \
         gradients (or their squares) overflowed {range}; the initial scale (--gain) or the \
         data's scale (--sigma, --scale or the data files) is too large, not the learning rate"
    ))
}

/// The error for gradients of `layer` (1-based) whose squares overflowed in Adam's second
/// moment at the first step while the weights stayed finite: every later step divides them by
/// √∞ and moves nothing, so the run went on, untrained, to exit 0 (`--gain 1e30` on XOR:
/// final loss 1.5e180, accuracy 0.5; adv47). Not the learning rate's doing (Adam's steps are
/// ~--lr whatever the gradient), but the initial scale's or the data's. `f32`: the training ran
/// in f32.
pub(crate) fn squares_overflowed(layer: usize, f32: bool) -> Error {
    let (range, root) = if f32 {
        ("f32's range (3.4e38) under --precision f32", "1.8e19")
    } else {
        ("f64's range (1.8e308)", "1.3e154")
    };
    Error::Numeric(format!(
        "the first training step's gradients of layer {layer} exceed {root}: their squares in \
         Adam's second moment overflow {range}, and Adam's steps divide them by ∞, so the weights \
         would stay as initialised; the initial scale (--gain) or the data's scale (--sigma, \
         --scale or the data files) is too large, not the learning rate"
    ))
}

/// The error for a loss that is not finite on the first batch, before any update: not the
/// learning rate's fault (the divergence message's), but a forward pass that overflows f64 —
/// inputs or initial weights too large (a huge `--sigma` or `--scale`, data files of that
/// scale, a huge `--gain`), or a quadratic φ(h) = h + αh² over many layers: a scale s > 1/α
/// becomes ~αs² at the next layer, so ln s about doubles per layer and reaches f64's ln(max)
/// ≈ 709.8 after ~log₂(709.8 / ln(αs₀)) layers (the xor default overflows at depth 10). Names the
/// largest |input| of the batch and |weight| of the network, and the depth when φ is quadratic.
fn overflow_before_training<T: Real>(net: &Mlp<T>, x: MatRef<'_, T>, loss: f64) -> Error {
    let largest = |m: MatRef<'_, T>| {
        (0..m.ncols())
            .flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)].to_f64().abs()))
            .fold(0.0, f64::max)
    };
    let input = largest(x);
    let weight = net
        .layers
        .iter()
        .map(|l| largest(l.w.as_ref()))
        .fold(0.0, f64::max);
    let depth = net.depth();
    let quadratic = (0..depth)
        .any(|l| matches!(net.activation.at(l), Activation::Quadratic { alpha } if alpha != 0.0));
    let compounding = if quadratic {
        format!(
            ", or the quadratic activation (--activation quad, the default of the xor and \
             higher-order tasks) squares the scale at each of the {depth} hidden layers (--hidden): \
             fewer layers or another --activation"
        )
    } else {
        String::new()
    };
    Error::Numeric(format!(
        "the loss is {loss} on the first batch, before any training step: the forward pass \
         overflows (largest |input| {input:.3e}, largest initial |weight| {weight:.3e}); the \
         data's scale (--sigma, --scale or the data files) or --gain is too large{compounding}, \
         not the learning rate"
    ))
}

/// Checks that the data's dimension and class count fit the network.
pub fn check_fits<'a, T: Real>(net: &Mlp<T>, data: impl Into<Labelled<'a>>) -> Result<()> {
    let data = data.into();
    if data.dim() != net.input_dim() {
        return Err(Error::Shape(format!(
            "the data has {} inputs per sample but the network expects {}",
            data.dim(),
            net.input_dim()
        )));
    }
    if data.n_classes != net.output_dim() {
        return Err(Error::Shape(format!(
            "the data has {} classes but the network has {} outputs",
            data.n_classes,
            net.output_dim()
        )));
    }
    if data.is_empty() {
        return Err(Error::Shape("the data set is empty".into()));
    }
    Ok(())
}

/// Mean loss of the batch, and its gradient w.r.t. the outputs written into `delta`. Evaluated
/// in f64 from the outputs in T (10 × batch values: negligible cost), δ rounded to T.
fn loss_and_delta<T: Real>(
    loss: Loss,
    y: MatRef<'_, T>,
    labels: &[u32],
    mut delta: MatMut<'_, T>,
) -> f64 {
    let b = y.ncols() as f64;
    let mut total = 0.0;
    let y = |i: usize, j: usize| y[(i, j)].to_f64();
    let rows = delta.nrows();
    for (j, &label) in labels.iter().enumerate() {
        let label = label as usize;
        match loss {
            Loss::Mse => {
                for i in 0..rows {
                    let diff = y(i, j) - if i == label { 1.0 } else { 0.0 };
                    total += diff * diff;
                    delta[(i, j)] = T::from_f64(2.0 * diff / b);
                }
            }
            Loss::Ce => {
                let max = (0..rows).map(|i| y(i, j)).fold(f64::NEG_INFINITY, f64::max);
                let norm: f64 = (0..rows).map(|i| (y(i, j) - max).exp()).sum();
                total += norm.ln() + max - y(label, j);
                for i in 0..rows {
                    let p = (y(i, j) - max).exp() / norm;
                    delta[(i, j)] = T::from_f64((p - if i == label { 1.0 } else { 0.0 }) / b);
                }
            }
        }
    }
    total / b
}

/// The mean `loss` of `net` on all of `data` (the quantity an epoch's [`EpochStats::loss`]
/// averages over its batches, here of one network): forward passes of 1 024 samples, the loss
/// of each by `loss_and_delta` (its δ written to scratch and dropped); NaN on an empty set.
pub fn mean_loss(net: &Mlp, data: &Dataset, loss: Loss) -> f64 {
    const CHUNK: usize = 1024;
    let n = data.len();
    let mut op = super::OutputPass::new(net, CHUNK.min(n.max(1)));
    let mut delta = Mat::<f64>::zeros(net.output_dim(), CHUNK.min(n.max(1)));
    let mut total = 0.0;
    for start in (0..n).step_by(CHUNK) {
        let len = CHUNK.min(n - start);
        net.output_into(data.x.as_ref().subcols(start, len), &mut op);
        let labels = &data.labels[start..start + len];
        total += len as f64 * loss_and_delta(loss, op.output(), labels, delta.subcols_mut(0, len));
    }
    total / n as f64
}

/// Backpropagation: from the output delta (last entry of `deltas`) to every layer's gradient.
/// δˡ⁻¹ = (Wˡ)ᵀδˡ ∘ φ'(hˡ⁻¹),  ∂W = δ·aᵀ,  ∂b = Σ_batch δ. The GEMMs split their output over
/// rayon's threads (faer: each entry's sum over the batch runs in one fixed order); ∘ φ' is
/// split by columns, ∂b by rows, each row summed in batch order — so the gradients do not
/// depend on the thread count.
pub(crate) fn backprop<T: Real>(
    net: &Mlp<T>,
    x: MatRef<'_, T>,
    fp: &ForwardPass<T>,
    deltas: &mut [Mat<T>],
    grads: &mut [Layer<T>],
) {
    let b = x.ncols();
    for l in (0..net.layers.len()).rev() {
        let delta = deltas[l].as_ref().subcols(0, b);
        let input = if l == 0 { x } else { fp.post(l) };
        gemm(
            grads[l].w.as_mut(),
            false,
            delta,
            input.transpose(),
            T::from_f64(1.0),
        );
        let bias = col_slice_mut(&mut grads[l].b);
        if elementwise_parallel(delta.nrows(), b) {
            bias.par_chunks_mut(BIAS_ROWS)
                .enumerate()
                .for_each(|(k, chunk)| {
                    let rows = delta.subrows(k * BIAS_ROWS, chunk.len());
                    bias_gradient(rows, chunk);
                });
        } else {
            bias_gradient(delta, bias);
        }
        if l > 0 {
            propagate_delta(net, l, fp, deltas, b);
        }
    }
}

/// Rows of ∂b per parallel task of [`backprop`]: 256 rows × a batch of 64 is 2¹⁴ entries.
const BIAS_ROWS: usize = 256;

/// ∂b = Σ_batch δ into `bias` (one entry per row of `delta`): the columns added in batch order
/// (b_i = ((δ_i0 + δ_i1) + δ_i2) + …, each row's sum in one fixed order), one contiguous
/// column at a time.
pub(crate) fn bias_gradient<T: Real>(delta: MatRef<'_, T>, bias: &mut [T]) {
    bias.fill(T::from_f64(0.0));
    for column in delta.col_iter() {
        for (bi, &d) in bias.iter_mut().zip(column.iter()) {
            *bi += d;
        }
    }
}

/// δˡ⁻¹ = (Wˡ)ᵀδˡ ∘ φ'(hˡ⁻¹) for the `b` columns of the batch: `deltas[l]` down into
/// `deltas[l - 1]` (l ≥ 1), with layer l's weights as they are. The GEMM splits its output
/// over rayon's threads, ∘ φ' its columns: the result does not depend on the thread count.
pub(crate) fn propagate_delta<T: Real>(
    net: &Mlp<T>,
    l: usize,
    fp: &ForwardPass<T>,
    deltas: &mut [Mat<T>],
    b: usize,
) {
    let (lower, upper) = deltas.split_at_mut(l);
    let delta = upper[0].as_ref().subcols(0, b);
    let mut below = lower[l - 1].as_mut().subcols_mut(0, b);
    gemm_batch(
        below.rb_mut(),
        false,
        net.layers[l].w.transpose(),
        delta,
        T::from_f64(1.0),
    );
    let act = net.activation.at(l - 1);
    let column = |(g, h): (faer::ColMut<'_, T>, faer::ColRef<'_, T>)| {
        let h = h.try_as_col_major().unwrap().as_slice();
        T::mul_derivative(act, h, g.try_as_col_major_mut().unwrap().as_slice_mut());
    };
    if elementwise_parallel(below.nrows(), b) {
        below
            .par_col_iter_mut()
            .zip(fp.pre(l).par_col_iter())
            .for_each(column);
    } else {
        below
            .col_iter_mut()
            .zip(fp.pre(l).col_iter())
            .for_each(column);
    }
}

/// One optimiser step on every parameter (shared with training on the cumulant objective), in T: Adam's
/// moments and step, SGD's velocity (the constants rounded to T).
pub(crate) fn update<T: Real>(
    net: &mut Mlp<T>,
    grads: &[Layer<T>],
    s1: &mut [Layer<T>],
    s2: &mut [Layer<T>],
    cfg: &TrainConfig,
    step: i32,
) {
    let rule = Rule::new(cfg, step);
    // Dispatched per column slice so that the loops are compiled for the best instruction set
    // (AVX-512: 8 f64 / 16 f32 lanes of √ and ÷, where the default target gives 2 / 4); the
    // columns of a large layer are split over rayon's threads. Every entry's update reads only
    // its own p, g, m, v: the result does not depend on the split or the thread count.
    let arch = pulp::Arch::new();
    let apply = |p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]| rule.dispatch(arch, p, g, m, v);
    for ((((layer, g), m), v), &bias_free) in net
        .layers
        .iter_mut()
        .zip(grads)
        .zip(s1)
        .zip(s2)
        .zip(&net.bias_free)
    {
        let column = |(((p, g), m), v): ColumnQuad<'_, T>| {
            apply(
                p.try_as_col_major_mut().unwrap().as_slice_mut(),
                g.try_as_col_major().unwrap().as_slice(),
                m.try_as_col_major_mut().unwrap().as_slice_mut(),
                v.try_as_col_major_mut().unwrap().as_slice_mut(),
            )
        };
        if elementwise_parallel(layer.w.nrows(), layer.w.ncols()) {
            layer
                .w
                .par_col_iter_mut()
                .zip(g.w.par_col_iter())
                .zip(m.w.par_col_iter_mut())
                .zip(v.w.par_col_iter_mut())
                .for_each(column);
        } else {
            layer
                .w
                .col_iter_mut()
                .zip(g.w.col_iter())
                .zip(m.w.col_iter_mut())
                .zip(v.w.col_iter_mut())
                .for_each(column);
        }
        if bias_free {
            continue; // a bias-free layer's b stays 0
        }
        apply(
            col_slice_mut(&mut layer.b),
            col_slice(&g.b),
            col_slice_mut(&mut m.b),
            col_slice_mut(&mut v.b),
        );
    }
}

/// One column each of p, g, m, v.
type ColumnQuad<'a, T> = (
    (
        (faer::ColMut<'a, T>, faer::ColRef<'a, T>),
        faer::ColMut<'a, T>,
    ),
    faer::ColMut<'a, T>,
);

/// The constants of one optimiser step.
#[derive(Clone, Copy)]
pub(crate) struct Rule<T> {
    optimizer: Optimizer,
    lr: T,
    momentum: T,
    step_size: T,
    beta1: T,
    beta2: T,
    one_m_beta1: T,
    one_m_beta2: T,
    eps: T,
}

impl<T: Real> Rule<T> {
    /// The constants of step number `step` (1-based) of `cfg`'s optimiser, rounded to T; Adam's
    /// bias correction folded into the step size, η·√(1−β₂ᵗ)/(1−β₁ᵗ).
    pub(crate) fn new(cfg: &TrainConfig, step: i32) -> Self {
        let adam_scale = (1.0 - ADAM_BETA2.powi(step)).sqrt() / (1.0 - ADAM_BETA1.powi(step));
        Rule {
            optimizer: cfg.optimizer,
            lr: T::from_f64(cfg.lr),
            momentum: T::from_f64(cfg.momentum),
            step_size: T::from_f64(cfg.lr * adam_scale),
            beta1: T::from_f64(ADAM_BETA1),
            beta2: T::from_f64(ADAM_BETA2),
            one_m_beta1: T::from_f64(1.0 - ADAM_BETA1),
            one_m_beta2: T::from_f64(1.0 - ADAM_BETA2),
            eps: T::from_f64(ADAM_EPS),
        }
    }

    /// [`Rule::apply`] compiled for the instruction set `arch` dispatches to (AVX-512: 8 f64 /
    /// 16 f32 lanes of √ and ÷, where the default target gives 2 / 4).
    pub(crate) fn dispatch(self, arch: pulp::Arch, p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]) {
        arch.dispatch(ApplySlice {
            rule: self,
            p,
            g,
            m,
            v,
        })
    }

    /// SGD: m ← βm + g, p ← p − ηm. Adam: m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g²,
    /// p ← p − η·√(1−β₂ᵗ)/(1−β₁ᵗ)·m/(√v + ε) (Kingma & Ba 2015, §2 "efficient version").
    #[inline(always)]
    fn apply(self, p: &mut [T], g: &[T], m: &mut [T], v: &mut [T]) {
        match self.optimizer {
            Optimizer::Sgd => {
                for ((p, &g), m) in p.iter_mut().zip(g).zip(m.iter_mut()) {
                    *m = self.momentum * *m + g;
                    *p -= self.lr * *m;
                }
            }
            Optimizer::Adam => {
                for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
                    *m = self.beta1 * *m + self.one_m_beta1 * g;
                    *v = self.beta2 * *v + self.one_m_beta2 * g * g;
                    *p -= self.step_size * *m / (v.sqrt() + self.eps);
                }
            }
        }
    }
}

/// [`Rule::apply`] on one slice of parameters, compiled for the dispatched instruction set.
struct ApplySlice<'a, T> {
    rule: Rule<T>,
    p: &'a mut [T],
    g: &'a [T],
    m: &'a mut [T],
    v: &'a mut [T],
}

impl<T: Real> pulp::WithSimd for ApplySlice<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        self.rule.apply(self.p, self.g, self.m, self.v);
    }
}

fn col_slice<T: Real>(c: &Col<T>) -> &[T] {
    c.as_ref().try_as_col_major().unwrap().as_slice()
}

pub(crate) fn col_slice_mut<T: Real>(c: &mut Col<T>) -> &mut [T] {
    c.as_mut().try_as_col_major_mut().unwrap().as_slice_mut()
}

/// Zero gradients / optimiser state shaped like `net`.
pub fn zeros_like<T: Real>(net: &Mlp<T>) -> Vec<Layer<T>> {
    net.layers
        .iter()
        .map(|l| Layer {
            w: crate::io::par_zeros(l.fan_out(), l.fan_in()),
            b: Col::zeros(l.fan_out()),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;

    /// Backprop gradients against central finite differences of the batch loss.
    #[test]
    fn gradients_match_finite_differences() {
        for (act, loss) in [
            (Activation::Tanh, Loss::Mse),
            (Activation::Quadratic { alpha: 0.3 }, Loss::Ce),
            (Activation::Gelu, Loss::Ce),
        ] {
            let net = Mlp::init(&[4, 5, 3, 3], act, 1.0, 3).unwrap();
            let x = Mat::from_fn(4, 6, |i, j| ((3 * i + 5 * j) as f64 * 0.41).cos());
            let labels = [0u32, 2, 1, 1, 0, 2];
            let batch_loss = |net: &Mlp| {
                let mut fp = ForwardPass::new(net, 6);
                net.forward_into(x.as_ref(), &mut fp);
                let mut d = Mat::zeros(3, 6);
                loss_and_delta(loss, fp.output(), &labels, d.as_mut())
            };
            let mut fp = ForwardPass::new(&net, 6);
            net.forward_into(x.as_ref(), &mut fp);
            let mut deltas: Vec<Mat<f64>> = net
                .layers
                .iter()
                .map(|l| Mat::zeros(l.fan_out(), 6))
                .collect();
            loss_and_delta(loss, fp.output(), &labels, deltas[2].as_mut());
            let mut grads = zeros_like(&net);
            backprop(&net, x.as_ref(), &fp, &mut deltas, &mut grads);
            for (l, grad) in grads.iter().enumerate() {
                for (i, j) in [(0, 0), (1, 2), (2, 1)] {
                    let eps = 1e-6;
                    let mut plus = net.clone();
                    plus.layers[l].w[(i, j)] += eps;
                    let mut minus = net.clone();
                    minus.layers[l].w[(i, j)] -= eps;
                    let fd = (batch_loss(&plus) - batch_loss(&minus)) / (2.0 * eps);
                    let g = grad.w[(i, j)];
                    assert!(
                        (fd - g).abs() < 1e-7 * (1.0 + g.abs()),
                        "{act} layer {l} w[{i},{j}]: {g} vs {fd}"
                    );
                    let mut plus = net.clone();
                    plus.layers[l].b[i] += eps;
                    let mut minus = net.clone();
                    minus.layers[l].b[i] -= eps;
                    let fd = (batch_loss(&plus) - batch_loss(&minus)) / (2.0 * eps);
                    assert!(
                        (fd - grad.b[i]).abs() < 1e-7 * (1.0 + fd.abs()),
                        "{act} layer {l} b[{i}]"
                    );
                }
            }
        }
    }

    /// A bias-free layer keeps b = 0 through training (both precisions) while the others
    /// learn theirs.
    #[test]
    fn bias_free_layers_stay_bias_free() {
        let data = crate::data::Dataset {
            x: Mat::from_fn(3, 40, |i, k| ((5 * i + 3 * k) as f64 * 0.37).sin()),
            labels: (0..40).map(|k| (k % 2) as u32).collect(),
            n_classes: 2,
        };
        for precision in [Precision::F64, Precision::F32] {
            let mut net = Mlp::init(&[3, 4, 2], Activation::Tanh, 1.0, 2).unwrap();
            net.bias_free[0] = true;
            let cfg = TrainConfig {
                epochs: 3,
                batch: 8,
                lr: 0.05,
                loss: Loss::Ce,
                optimizer: Optimizer::Adam,
                momentum: 0.9,
                seed: 4,
                precision,
            };
            train(&mut net, &data, &cfg, |_| {}).unwrap();
            assert!(net.layers[0].b.iter().all(|&b| b == 0.0), "{precision}");
            assert!(net.layers[1].b.iter().any(|&b| b != 0.0), "{precision}");
            assert_eq!(net.bias_free, [true, false]);
        }
    }
}
