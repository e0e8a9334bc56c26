//! The floating-point work of a run of a [`Shape`], in flop-equivalents: training
//! ([`training_flops`]) 6P per sample and epoch (its GEMMs, counted at
//! [`TRAINING_GEMM_SPEEDUP`]× the assumed rate) with each hidden unit's elementwise work and
//! each step's fixed cost, statistics 2P + ΣN² per test sample, propagation ≈ 4N³ per class and
//! layer from every start layer with each closure's cost ([`propagation_flops`]: quadratic in
//! the depth), the closure check's draws as training batches, and the Monte Carlo argmax of
//! K ≥ 3 outputs, C·(10K³/3 + K²M) for M draws per start layer ([`monte_carlo_flops`]);
//! `analyze`'s warning adds the output tails' M draws per class whatever K
//! ([`output_tails_flops`]: a sweep point draws no tails). The time they are guessed to take is
//! the work at [`ASSUMED_FLOPS_PER_THREAD`] per thread ([`human_duration`]); the commands warn
//! before a part of their work that exceeds [`LONG_RUN_SECONDS`] (the `*_warning` functions).

use super::shape::{params, Shape};
use crate::analysis::analyze::MAX_TAIL_OUTPUTS;
use crate::analysis::tails::draw_flops;
use crate::net::{Activation, Activations};
use crate::timing::duration::{human_seconds, LONG_RUN_SECONDS};

impl Shape {
    /// The run's work: training, the sampled check's draws, the statistics of the test
    /// samples, the propagation from every start layer and, with the statistics, the Monte
    /// Carlo argmax (the module docs' sum).
    pub(super) fn flops(&self) -> f64 {
        let f = |n: usize| n as f64;
        let train = training_flops(
            &self.widths,
            &Activations::Uniform(self.activation),
            self.n_train,
            (self.batch, self.epochs),
        );
        let stats = f(self.n_test) * (2.0 * self.params() + self.square_sum());
        let propagate = propagation_flops(
            &self.widths,
            &Activations::Uniform(self.activation),
            self.n_classes,
        );
        let stats_on = if self.statistics { 1.0 } else { 0.0 };
        let outputs = self.widths.last().copied().unwrap_or(0);
        let start_layers = self.widths.len().saturating_sub(1);
        let monte_carlo =
            stats_on * monte_carlo_flops(self.n_classes, outputs, self.mc_samples, start_layers);
        train + self.check_flops() + stats + propagate + monte_carlo
    }

    /// Work of the cumulant objective's sampled check ([`crate::cumtrain::check`]): at each of
    /// the ⌈n_train/batch⌉ steps of every epoch, C·K fresh draws (K = `check_samples` per
    /// class) pass forward and back, a training batch of C·K samples
    /// ([`training_flops`]); 0 without the check. Before, the estimate left the draws out and
    /// `sweep --dry-run` called a point of `check_samples = 2⁶²` tiny (adv48b).
    fn check_flops(&self) -> f64 {
        if self.check_samples == 0 {
            return 0.0;
        }
        let draws = self.n_classes.saturating_mul(self.check_samples);
        let steps = self
            .n_train
            .div_ceil(self.batch.clamp(1, self.n_train.max(1)));
        training_flops(
            &self.widths,
            &Activations::Uniform(self.activation),
            draws,
            (draws, self.epochs.saturating_mul(steps)),
        )
    }
}

/// Flop-equivalents of one layer map's fixed cost per class in a propagation (the affine
/// update's and the closure's bookkeeping, whatever the width): 10⁴, 1 µs. Measured (adv48b,
/// `analyze --timings --threads 1` of 1 000 linear layers of width 1: 501 501 affine and
/// 500 500 closure calls in 0.52 s and 0.40 s, two classes each).
pub const PROPAGATION_STAGE_FLOPS: f64 = 1e4;

/// Flop-equivalents per hidden unit (+ 2) and class of a nonlinear closure (the unit's Hermite
/// coefficients, its pairs' series): 2·10⁴, 2 µs. Measured (adv48b, `analyze --timings
/// --threads 1`, tanh, two classes): 1 000 layers of width 1, 13 µs a closure call; 40 layers
/// of width 8, 69 µs; of width 64, 276 µs (relu 322 µs); counted 14, 42 and 272 µs.
pub const CLOSURE_UNIT_FLOPS: f64 = 2e4;

/// Work of the theory from every start layer of a network of `widths` with `activations` and
/// `classes` classes: layer map k (0-based, hidden layer k + 1's or the readout's) is
/// propagated from every start layer up to k, k + 1 times, and costs per class its affine
/// update of the covariance, 2·n·m·(n + m) for an n → m map, [`PROPAGATION_STAGE_FLOPS`], and
/// for a hidden layer of a nonlinear activation its closure, [`CLOSURE_UNIT_FLOPS`]·(m + 2).
/// The count of maps, L(L + 1)/2 + L + 1 for L hidden layers, grows with the square of the
/// depth: the theory from each start layer is its own propagation. Before, only the affine
/// updates were counted: 4 000 tanh layers of width 1, 8·10⁶ closures (146 s), were called
/// tiny (adv48b). (A sum per start layer over the layers after it was itself quadratic in the
/// depth: 9 s for a model of 10⁵ layers, in every command and each sweep point, adv47b.)
pub fn propagation_flops(widths: &[usize], activations: &Activations, classes: usize) -> f64 {
    let f = |n: usize| n as f64;
    let depth = widths.len().saturating_sub(2);
    widths
        .windows(2)
        .enumerate()
        .map(|(k, w)| {
            let closure = match k < depth && activations.at(k) != Activation::Linear {
                true => CLOSURE_UNIT_FLOPS * (f(w[1]) + 2.0),
                false => 0.0,
            };
            let per_class =
                2.0 * f(w[0]) * f(w[1]) * (f(w[0]) + f(w[1])) + PROPAGATION_STAGE_FLOPS + closure;
            f(k + 1) * f(classes) * per_class
        })
        .sum()
}

/// The warning `analyze` gives before its work when [`propagation_flops`] exceeds
/// [`LONG_RUN_SECONDS`]: the start layers, the layer maps propagated and the time, which grows
/// with the square of the depth (adv48b: 4 000 layers of width 1 ran 146 s without a word).
pub fn propagation_warning(
    (widths, activations): (&[usize], &Activations),
    classes: usize,
    threads: usize,
) -> Option<String> {
    let depth = widths.len().saturating_sub(2);
    let maps = (depth as f64 + 1.0) * (depth as f64 + 2.0) / 2.0;
    long_run_warning(
        &format!(
            "the theory from each of the {} start layers ({maps:.0} layer propagations of {classes} \
             classes: the count grows with the square of the depth)",
            depth + 1
        ),
        propagation_flops(widths, activations, classes),
        threads,
        "analyze reports every start layer (only a shallower network takes less)",
    )
}

/// Work of the surrogate accuracy (`analysis::surrogate`) at `per_class` draws per class:
/// both orders push C·S draws each through the network, [`crate::timing::flops::forward`].
/// Measured (adv48b): XOR [2, 64, 64, 2], S = 10⁷, one thread, 34.6 s; counted 3.5·10¹¹
/// flops, 35 s.
pub fn surrogate_flops(widths: &[usize], classes: usize, per_class: usize) -> f64 {
    2.0 * crate::timing::flops::forward(widths, classes.saturating_mul(per_class))
}

/// The warning `analyze` gives before its work when [`surrogate_flops`] at
/// `--surrogate-samples` exceed [`LONG_RUN_SECONDS`] (adv48b: 10⁷ draws per class ran 35 s
/// without a word, 10⁹ would run an hour).
pub fn surrogate_warning(
    widths: &[usize],
    classes: usize,
    per_class: usize,
    threads: usize,
) -> Option<String> {
    long_run_warning(
        &format!(
            "the surrogate accuracy ({classes} classes × {per_class} draws through the network, \
             at orders 1 and 2)"
        ),
        surrogate_flops(widths, classes, per_class),
        threads,
        "--surrogate-samples sets the draws per class",
    )
}

/// The rate the time estimate assumes, per thread: 10 GFLOP/s. BENCHMARKS.md measures the
/// affine map at 15–110 GFLOP/s on one core (N = 64…2048); small layers, training batches and
/// the closures run well below that, so this is an order-of-magnitude guide, not a promise.
pub const ASSUMED_FLOPS_PER_THREAD: f64 = 1e10;

/// Estimated wall time of `flops` of work on `threads` threads at
/// [`ASSUMED_FLOPS_PER_THREAD`], as "42 s", "3.5 min", "2.1 h".
pub fn human_duration(flops: f64, threads: usize) -> String {
    human_seconds(flops / (ASSUMED_FLOPS_PER_THREAD * threads.max(1) as f64))
}

/// Flops of the Monte Carlo argmax of `classes` classes of `outputs` outputs with `mc_samples`
/// draws each, once per start layer (`start_layers`: the theory from every start layer x, z¹,
/// …, z^L draws each class's predicted output once, `analysis::accuracy::theory_accuracy`, in
/// `analyze` and in a sweep point alike): `start_layers` × C × (the eigendecomposition of the
/// K × K covariance, 10K³/3, plus the draws' GEMM, 2·K·(M/2)·K = K²M), 0 for K < 3 (closed
/// forms). adv36's `analyze --timings` of 150 classes (K = 150 outputs, one hidden layer: two
/// start layers) recorded "Monte Carlo argmax" 2 calls, 16.88 GFLOP at 2 000 draws and 138.38
/// at 20 000; adv37's of 12 classes with 1, 2 and 3 hidden layers 2, 3 and 4 calls (the count
/// had been 2 passes whatever the depth). At the default 200 000 draws, 150 classes of 150
/// outputs and one hidden layer: 1.35·10¹² flops, where adv35 measured 74.7 s of CPU.
pub fn monte_carlo_flops(
    classes: usize,
    outputs: usize,
    mc_samples: usize,
    start_layers: usize,
) -> f64 {
    if outputs < 3 {
        return 0.0;
    }
    let k = outputs as f64;
    start_layers as f64
        * classes as f64
        * (crate::timing::flops::symmetric_eigen(outputs) + k * k * mc_samples as f64)
}

/// Flop-equivalents per output and draw of the output tails' work that
/// [`crate::analysis::tails::draw_flops`] leaves out: the normal variates, the Student t scales
/// and the argmaxes, with [`TAILS_COUNTED_SPEEDUP`] the fit of the tails' CPU time per class and
/// draw (the stage "surrogates + information + tails" of `analyze --model M --mc-samples N
/// --timings --threads 1`, CPU seconds, the difference of two N a decade apart, × 10 GFLOP/s;
/// Intel Xeon family 6 model 207, AVX-512, adv55): K = 2 (XOR [2, 8, 2]) 114, K = 3 and 5
/// (task data, [8, 16, K]) 190 and 224, K = 10 (MNIST [784, 100, 10]) 859, K = 20 and 32 (task
/// data, [8, 64, K], full rank) 4 908 and 24 080. The fit 54·K + draw_flops/6 gives 114, 176,
/// 317, 916, 5 293, 25 808: within a factor 1.42 (K = 5, 1.414× high; the others 0.92–1.08×).
/// adv54's constant, 39 per output beside the whole count, was fitted at K = 2 alone and read
/// K = 10 3.1× and K = 32 6.1× high.
pub const TAILS_FLOPS_PER_OUTPUT: f64 = 54.0;

/// How much faster than [`ASSUMED_FLOPS_PER_THREAD`] the flops
/// [`crate::analysis::tails::draw_flops`] counts run: the Edgeworth weight's GEMM-shaped
/// products, K⁴/12 a pair at K outputs, ran at ~60 GFLOP/s on one AVX-512 thread (K = 32:
/// 144 480 counted flops per draw in 2.41 µs, adv55). Fitted with [`TAILS_FLOPS_PER_OUTPUT`].
pub const TAILS_COUNTED_SPEEDUP: f64 = 6.0;

/// Work of the output tails (`analysis::tails::output_tails`), which draw M = `mc_samples` per
/// class whatever the number K of `outputs` (the Monte Carlo argmax of [`monte_carlo_flops`]
/// has closed forms below K = 3): C × ([`crate::analysis::tails::draw_flops`] at full rank /
/// [`TAILS_COUNTED_SPEEDUP`] + [`TAILS_FLOPS_PER_OUTPUT`]·K·M), flop-equivalents at
/// [`ASSUMED_FLOPS_PER_THREAD`], within a factor 1.42 of the CPU time measured at K = 2…32;
/// 0 above [`MAX_TAIL_OUTPUTS`] outputs, where they do not run.
/// Before, `analyze`'s warning left them out: adv54's `analyze --mc-samples 1000000000` of an
/// XOR model ran 25 s without a word. A sweep point draws no tails (`sweep::evaluate`: the
/// theory's accuracy only), so [`Estimate`](super::Estimate) leaves them out.
pub fn output_tails_flops(classes: usize, outputs: usize, mc_samples: usize) -> f64 {
    if outputs > MAX_TAIL_OUTPUTS {
        return 0.0;
    }
    classes as f64
        * (draw_flops(outputs, mc_samples) / TAILS_COUNTED_SPEEDUP
            + TAILS_FLOPS_PER_OUTPUT * (outputs as f64) * mc_samples as f64)
}

/// Flop-equivalents of one hidden unit's elementwise work per sample and epoch of training with
/// `activation` (its value and derivative forward and back, the gather of its batch, and the
/// passes over the batch's values a unit costs beyond the GEMMs), at
/// [`ASSUMED_FLOPS_PER_THREAD`]. Measured by the lead (thirty-eighth session, after
/// [`crate::io::PaddingZeroing`] and the lane derivatives; `train --timings --threads 1`, the
/// "training" row's CPU seconds per epoch, quiet, Intel Xeon; the figures of
/// `each_activation_is_counted_near_its_measured_cost`): per unit and sample, less the counted
/// GEMMs and steps, XOR [2, 1000, 2] / [2, 8, 8, 2]: relu 35 / 87, quadratic 21 / 94, tanh 50 /
/// 66, GELU 156 / 150 flop-equivalents. erf, sigmoid, SiLU and softplus measured by kern39
/// (thirty-ninth session, after SiLU's and softplus' φ and SiLU's φ' went onto lanes, one
/// exponential each; the same runs, loaded, relu and tanh alongside as controls): counted 120,
/// 60, 80 and 100, which put every measured epoch at 0.58–1.45× of its count. adv38's first
/// figures (relu 46 ns, tanh 123 ns on the wide net) were taken while faer's padding rows held
/// subnormal garbage.
pub fn unit_flops(activation: Activation) -> f64 {
    match activation {
        Activation::Relu
        | Activation::Linear
        | Activation::LeakyRelu { .. }
        | Activation::Quadratic { .. } => 50.0,
        Activation::Tanh | Activation::Sigmoid => 60.0,
        Activation::Silu => 80.0,
        Activation::Softplus => 100.0,
        Activation::Erf => 120.0,
        Activation::Gelu => 150.0,
    }
}

/// How much faster than [`ASSUMED_FLOPS_PER_THREAD`] training's GEMMs (the 6P) are counted: 3.
/// Measured: MNIST 784-100-100-10's epoch, GEMM-bound, ran its 2.69·10⁹ flops at ~46 GFLOP/s on
/// one Intel Xeon core (0.058 s; thirty-eighth session), faer's GEMM ~23 GFLOP/s on one Zen 3
/// core (issue #14); at the assumed rate alone the MNIST epoch was counted 4.6× too long.
pub const TRAINING_GEMM_SPEEDUP: f64 = 3.0;

/// Flop-equivalents of one optimiser step's fixed cost (the batch's buffers, the update's
/// passes over the parameters' bookkeeping) at [`ASSUMED_FLOPS_PER_THREAD`]: 30 000, 3 µs.
/// Measured (adv37): `--batch 1` of the tanh [2, 8, 8, 2] XOR net 15.7 ms per epoch of 4 000
/// steps, 3.3 ms of it the units' work at `--batch 64`: ~3 µs a step.
pub const TRAINING_STEP_FLOPS: f64 = 30_000.0;

/// Work of training a network of `widths` with `activations` for `epochs` epochs on `n_train`
/// samples in batches of `batch` (the samples objective, mini-batches), in flop-equivalents at
/// [`ASSUMED_FLOPS_PER_THREAD`]: epochs × (n·(6P/[`TRAINING_GEMM_SPEEDUP`] + Σₗ unit_flops(φₗ)·Nₗ) + ⌈n/batch⌉ ·
/// [`TRAINING_STEP_FLOPS`]), P the weights and biases, Nₗ and φₗ hidden layer l's units and
/// activation. The 6P alone (the GEMMs, forward and back) put XOR's [2, 8, 8, 2] at 2.7·10⁶
/// flops an epoch, 0.27 ms, where it takes 1–3 ms: `train --epochs 1000000` (an hour) ran
/// without a word (adv36).
pub fn training_flops(
    widths: &[usize],
    activations: &Activations,
    n_train: usize,
    (batch, epochs): (usize, usize),
) -> f64 {
    let f = |n: usize| n as f64;
    let units: f64 = match widths {
        [_, hidden @ .., _] => hidden
            .iter()
            .enumerate()
            .map(|(l, &n)| unit_flops(activations.at(l)) * f(n))
            .sum(),
        _ => 0.0,
    };
    let steps = f(n_train.div_ceil(batch.max(1)));
    f(epochs)
        * (f(n_train) * (6.0 * params(widths) / TRAINING_GEMM_SPEEDUP + units)
            + steps * TRAINING_STEP_FLOPS)
}

/// The warning a command gives before a part of its work whose `flops` on `threads` threads at
/// [`ASSUMED_FLOPS_PER_THREAD`] exceed [`LONG_RUN_SECONDS`]: `what` the work is, its flops,
/// the time and `hint` (the flags that set it); None below.
fn long_run_warning(what: &str, flops: f64, threads: usize, hint: &str) -> Option<String> {
    let seconds = flops / (ASSUMED_FLOPS_PER_THREAD * threads.max(1) as f64);
    (seconds > LONG_RUN_SECONDS).then(|| {
        format!(
            "warning: {what} ({flops:.2e} flops) may take ~{} on {threads} thread(s) at an \
             assumed {:.0} GFLOP/s per thread (slower on a loaded machine); {hint}",
            human_duration(flops, threads),
            ASSUMED_FLOPS_PER_THREAD * 1e-9,
        )
    })
}

/// The warning `analyze` gives before its work when [`monte_carlo_flops`] and
/// [`output_tails_flops`] exceed [`LONG_RUN_SECONDS`] (the work, the time and `--mc-samples`);
/// None below.
pub fn monte_carlo_warning(
    classes: usize,
    outputs: usize,
    mc_samples: usize,
    start_layers: usize,
    threads: usize,
) -> Option<String> {
    long_run_warning(
        &format!(
            "the Monte Carlo of the predicted accuracy, confusion and output tails ({classes} \
             classes × {mc_samples} draws of {outputs} outputs from each of {start_layers} start \
             layers)"
        ),
        monte_carlo_flops(classes, outputs, mc_samples, start_layers)
            + output_tails_flops(classes, outputs, mc_samples),
        threads,
        "--mc-samples sets the draws per class",
    )
}

/// The warning `train` (and `analyze` without `--model`) gives before training when
/// [`training_flops`] exceeds [`LONG_RUN_SECONDS`]: the epochs, samples, network and time, and
/// the flags that set them; None below.
pub fn training_warning(
    (widths, activations): (&[usize], &Activations),
    n_train: usize,
    (batch, epochs): (usize, usize),
    threads: usize,
) -> Option<String> {
    long_run_warning(
        &format!(
            "training {widths:?} for {epochs} epochs of {n_train} samples in batches of {batch}"
        ),
        training_flops(widths, activations, n_train, (batch, epochs)),
        threads,
        "--epochs sets the epochs (--batch, --hidden and the training set's size the work of \
         each)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::estimate::test_shapes::{generated, xor_2000};
    use crate::config::estimate::{Estimate, TimeClass};
    use crate::config::Task;
    use crate::cumtrain::Objective;

    /// The cumulant objective's sampled check counts in the time estimate: C·K draws forward
    /// and back at each step of every epoch, as a training batch of C·K samples. XOR [2, 8, 2]
    /// on 200 samples in batches of 64 (4 steps), 3 epochs, K = 10⁶: 12 passes of 2·10⁶ draws.
    /// adv48b: the estimate left them out, and `sweep --dry-run` called `check_samples = 2⁶²`
    /// tiny.
    #[test]
    fn the_closure_checks_draws_count_in_the_time_estimate() {
        let mut config = generated(Task::Xor, 200, 200);
        config.net.hidden = Some(vec![8]);
        config.train.objective = Objective::Cumulants;
        config.train.closure_check = 1.0;
        config.train.batch = 64;
        config.train.epochs = Some(3);
        let flops = |k: usize| {
            let mut c = config.clone();
            c.train.check_samples = k;
            Estimate::of(&c)
        };
        let widths = [2, 8, 2];
        let pass = |draws: usize| {
            training_flops(
                &widths,
                &Activations::Uniform(Activation::Quadratic { alpha: 0.5 }),
                draws,
                (draws, 1),
            )
        };
        let added = flops(1_000_000).flops - flops(2).flops;
        let want = 12.0 * (pass(2_000_000) - pass(4));
        assert!((added - want).abs() <= 1e-9 * want, "{added} vs {want}");
        assert_eq!(flops(1 << 62).time_class(), TimeClass::Large);
        config.train.closure_check = 0.0;
        assert_eq!(Estimate::of(&config).flops, {
            config.train.check_samples = 1 << 62;
            Estimate::of(&config).flops
        });
    }

    /// The shape of `analyze` of a model of `depth` tanh layers of width 1 on XOR (2 000
    /// samples) with `threads` threads.
    fn deep_narrow(depth: usize, threads: usize) -> Shape {
        let mut config = generated(Task::Xor, 2000, 2000);
        config.net.hidden = Some(vec![1; depth]);
        config.net.activation = Some(Activation::Tanh);
        Shape {
            threads,
            ..Shape::of(&config)
        }
    }

    /// The theory from every start layer runs L(L + 1)/2 + L + 1 layer maps, each with its
    /// closure's cost: 4 000 tanh layers of width 1 (8·10⁶ closures, 146 s measured at one
    /// thread) are no longer tiny, count 16× the work of 1 000 (quadratic in the depth), and
    /// `analyze` warns of them; the default XOR network does not warn. Their surrogates' draws
    /// (a block of 1 024 per task, up to T + 1 tasks) count in the memory: through every
    /// layer's buffers, 1 000 and 2 000 layers at two threads peaked at 348 and 680 MB against
    /// estimates of 255 and 475 MiB (adv48b); through the output pass's three buffers
    /// (forty-ninth session) at 233 and 452 MB (`/usr/bin/time`'s maximum RSS), the
    /// statistics' batches the larger term again.
    #[test]
    fn the_theory_from_every_start_layer_counts_its_closures_and_draws() {
        let deep = |depth| Estimate::of_shape(&deep_narrow(depth, 1));
        assert!(
            deep(4000).time_class() >= TimeClass::Medium,
            "{}",
            deep(4000).flops
        );
        let ratio = (deep(4000).flops - deep(0).flops) / (deep(1000).flops - deep(0).flops);
        assert!((15.0..17.0).contains(&ratio), "{ratio}");
        let widths: Vec<usize> = deep_narrow(4000, 1).widths;
        let tanh = Activations::Uniform(Activation::Tanh);
        let w = propagation_warning((&widths, &tanh), 2, 1).unwrap();
        assert!(w.contains("4001 start layers"), "{w}");
        let quad = Activations::Uniform(Activation::Quadratic { alpha: 0.5 });
        assert!(propagation_warning((&[2, 8, 8, 2], &quad), 2, 1).is_none());
        for (depth, measured) in [(1000, 233e6), (2000, 452e6)] {
            let bytes = Estimate::of_shape(&deep_narrow(depth, 2)).bytes;
            assert!(bytes >= measured, "{depth} layers: {bytes} < {measured}");
        }
    }

    /// The Monte Carlo argmax counts in the work and warns past [`LONG_RUN_SECONDS`]: adv36's
    /// `--timings` of 150 classes of 150 outputs (one hidden layer: two start layers) recorded
    /// 16.88 GFLOP at 2 000 draws and 138.38 at 20 000, which the count gives to 0.01 %; the
    /// default 200 000 draws (1.35·10¹² flops, 135 s at the assumed rate; adv35: 74.7 s of CPU)
    /// warn naming `--mc-samples` on 1 thread and on 8 (17 s), 2 000 draws do not (1.7 s), nor 2
    /// outputs (closed forms). The draws are counted once per start layer (adv37: 2, 3 and 4
    /// calls at 1, 2 and 3 hidden layers, where the count had been 2 whatever the depth).
    #[test]
    fn the_monte_carlo_counts_in_the_time_estimate_and_warns() {
        let rel = |a: f64, b: f64| ((a - b) / b).abs();
        assert!(rel(monte_carlo_flops(150, 150, 2_000, 2), 16.88e9) < 1e-3);
        assert!(rel(monte_carlo_flops(150, 150, 20_000, 2), 138.38e9) < 1e-3);
        assert_eq!(monte_carlo_flops(150, 2, 200_000, 2), 0.0);
        let mut shape = xor_2000(1);
        shape.widths = vec![4, 16, 150];
        shape.n_classes = 150;
        shape.mc_samples = 200_000;
        let mc = |shape: &mut Shape| {
            let with = Estimate::of_shape(shape).flops;
            let draws = shape.mc_samples;
            shape.mc_samples = 0;
            let without = Estimate::of_shape(shape).flops;
            shape.mc_samples = draws;
            with - without
        };
        assert!(rel(mc(&mut shape), 1.35e12) < 0.01, "{}", mc(&mut shape));
        // Three hidden layers: four start layers, twice the draws of one.
        shape.widths = vec![4, 16, 16, 16, 150];
        assert!(
            rel(mc(&mut shape), 2.0 * 1.35e12) < 0.01,
            "{}",
            mc(&mut shape)
        );
        for threads in [1, 8] {
            let w = monte_carlo_warning(150, 150, 200_000, 2, threads).unwrap();
            assert!(
                w.contains("--mc-samples") && w.contains("150 classes"),
                "{w}"
            );
        }
        assert!(monte_carlo_warning(150, 150, 200_000, 2, 1)
            .unwrap()
            .contains("2.3 min"));
        assert!(monte_carlo_warning(150, 150, 2_000, 2, 1).is_none());
        assert!(monte_carlo_warning(150, 150, 20_000, 8, 1).is_some());
        assert!(monte_carlo_warning(150, 2, 200_000, 2, 1).is_none());
    }

    /// The output tails draw `--mc-samples` per class whatever K: `analyze --mc-samples 10⁹`
    /// of an XOR model ran 25 s without a word (adv54). Their estimate per class and draw is
    /// [`TAILS_FLOPS_PER_OUTPUT`]·K + draw_flops/[`TAILS_COUNTED_SPEEDUP`], fitted to the CPU
    /// time measured at K = 2…32 (adv55, in flop-equivalents at 10 GFLOP/s): it must stay within
    /// the factor 1.42 its doc states of each. adv54's 39·K + draw_flops read K = 10 3.1× and
    /// K = 32 6.1× high (fails on the old code). Nothing above `MAX_TAIL_OUTPUTS` outputs.
    #[test]
    fn the_output_tails_draws_are_in_the_time_estimate() {
        let measured = [
            (2, 114.0),
            (3, 190.0),
            (5, 224.0),
            (10, 859.0),
            (20, 4908.0),
            (32, 24080.0),
        ];
        let m = 1_000_000;
        for (k, per_draw) in measured {
            let ratio = output_tails_flops(1, k, m) / (per_draw * m as f64);
            assert!((1.0 / 1.42..=1.42).contains(&ratio), "K = {k}: {ratio}");
        }
        assert!(monte_carlo_warning(2, 2, 100_000_000, 2, 1).is_none());
        let w = monte_carlo_warning(2, 2, 1_000_000_000, 2, 1).unwrap();
        assert!(
            w.contains("--mc-samples") && w.contains("output tails"),
            "{w}"
        );
        assert_eq!(output_tails_flops(150, MAX_TAIL_OUTPUTS + 1, 200_000), 0.0);
    }

    /// Training counts each hidden unit's elementwise work at its activation's cost and each
    /// step's cost besides its GEMMs: XOR's [2, 8, 8, 2] (quadratic, the task's default) on
    /// 4 000 samples in batches of 64 (63 steps) is 4 000·(6·114 + 350·16) + 63·30 000 =
    /// 2.70·10⁷ flop-equivalents an epoch, 2.7 ms at the assumed rate, with tanh 4.94·10⁷ and
    /// relu then tanh per layer 4 000·(684 + 200·8 + 700·8) + 63·30 000; the 6P alone were
    /// 2.7·10⁶. `train --epochs 1000000` (adv36: no word of its time, about an hour) warns
    /// naming `--epochs`; the default 40 epochs do not.
    #[test]
    fn training_counts_its_units_and_steps_and_warns() {
        let xor = [2, 8, 8, 2];
        let (quad, tanh) = (
            Activations::Uniform(Activation::Quadratic { alpha: 0.5 }),
            Activations::Uniform(Activation::Tanh),
        );
        let epoch = |units: f64| 4000.0 * (6.0 * 114.0 / 3.0 + units) + 63.0 * 30_000.0;
        assert_eq!(
            training_flops(&xor, &quad, 4000, (64, 1)),
            epoch(50.0 * 16.0)
        );
        assert_eq!(
            training_flops(&xor, &tanh, 4000, (64, 7)),
            7.0 * epoch(60.0 * 16.0)
        );
        let mixed = Activations::per_layer(vec![Activation::Gelu, Activation::Tanh]).unwrap();
        let per_layer = epoch(150.0 * 8.0 + 60.0 * 8.0);
        assert_eq!(training_flops(&xor, &mixed, 4000, (64, 1)), per_layer);
        let mut shape = xor_2000(1);
        shape.widths = xor.to_vec();
        shape.n_train = 4000;
        shape.batch = 64;
        shape.epochs = 10;
        let ten = Estimate::of_shape(&shape).flops;
        shape.epochs = 0;
        let trained = ten - Estimate::of_shape(&shape).flops;
        assert!((trained - 10.0 * epoch(50.0 * 16.0)).abs() < 1.0);
        let w = training_warning((&xor, &quad), 4000, (64, 1_000_000), 1).unwrap();
        assert!(
            w.contains("--epochs") && w.contains("1000000 epochs"),
            "{w}"
        );
        assert!(w.contains("10.0 min"), "{w}");
        assert!(training_warning((&xor, &quad), 4000, (64, 40), 1).is_none());
        // A batch of 0 (refused by the training itself) does not divide by 0 here.
        assert!(training_flops(&xor, &quad, 4000, (0, 1)).is_finite());
    }

    /// Each activation's count against measured CPU seconds per epoch (one thread, `train
    /// --timings`, the "training" row over 3 epochs, 20 for the small net; figures fixed here,
    /// not timed) on XOR [2, 1000, 2] and [2, 8, 8, 2] (4 000 samples) and MNIST [784, 100, 100,
    /// 10] (5 000): relu, quadratic, GELU and tanh by the lead (thirty-eighth session, quiet;
    /// BENCHMARKS.md "faer's padding rows and subnormal garbage"), erf, sigmoid, SiLU and
    /// softplus by kern39 (thirty-ninth session, medians of 10 runs at load 3–5; BENCHMARKS.md
    /// "Kernel and allocator leftovers"). The estimate is within 0.5–2.5× of every one, where
    /// adv37's flat count with the GEMMs at the assumed rate was 4.6× long on MNIST.
    #[test]
    fn each_activation_is_counted_near_its_measured_cost() {
        let measured = [
            // (widths, n_train, seconds per epoch of [relu, quadratic, gelu, tanh, erf, sigmoid,
            // silu, softplus])
            (
                &[2, 1000, 2][..],
                4000,
                [
                    0.0170, 0.0117, 0.0658, 0.0233, 0.0454, 0.0285, 0.0292, 0.0377,
                ],
            ),
            (
                &[2, 8, 8, 2][..],
                4000,
                [
                    0.00082, 0.00086, 0.00122, 0.00068, 0.00139, 0.00115, 0.00114, 0.00098,
                ],
            ),
            (
                &[784, 100, 100, 10][..],
                5000,
                [
                    0.0584, 0.0683, 0.0585, 0.0588, 0.0718, 0.0713, 0.0745, 0.0687,
                ],
            ),
        ];
        let kinds = [
            Activation::Relu,
            Activation::Quadratic { alpha: 0.5 },
            Activation::Gelu,
            Activation::Tanh,
            Activation::Erf,
            Activation::Sigmoid,
            Activation::Silu,
            Activation::Softplus,
        ];
        for (widths, n, seconds) in measured {
            for (&kind, &s) in kinds.iter().zip(&seconds) {
                let flops = training_flops(widths, &Activations::Uniform(kind), n, (64, 1));
                let ratio = flops / ASSUMED_FLOPS_PER_THREAD / s;
                assert!(
                    (0.5..=2.5).contains(&ratio),
                    "{widths:?} {kind}: {ratio:.2}"
                );
            }
        }
    }
}
