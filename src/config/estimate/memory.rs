//! The peak memory of a run of a [`Shape`]: [`BASE_BYTES`] and 8 bytes per f64 word of the terms
//! below, each named by the setting that sizes it, and the check against a limit
//! ([`check_memory`]), whose error names the setting of the largest term.
//!
//! Peak memory, in f64 words: the data, (n_train + n_test)·(d' + 1) with d' = d rounded up to
//! a multiple of 8 (faer's column padding) and a label per sample; the parameters P four times
//! for the samples objective (weights, two optimiser states, the stall rule's copy of the
//! weights, `net::stalled`: the gradient is formed in blocks, `net::grad_update`), six times for
//! the cumulant objective (and the gradient and the sampled check's gradient, whole); the
//! training batch's activations, 3·batch·ΣNₗ;
//! the statistics' batches, 3·R·ΣN'ₛ over the 2L + 2 stages (two forward-pass buffers and an
//! accumulator's copy of R = min(512, n) samples, N' = N padded to a multiple of 8), or the
//! surrogates' output passes where larger (a block of min(1024, S) draws per task in three
//! buffers of the widest hidden layer and the output's, up to T + 1 tasks), and 2 048 words per
//! stage whatever its width;
//! the statistics: for each of the 2L+2 stages a covariance per class, C·N² — measured ones
//! while accumulating and finished (×2) plus one propagated set (×1), so 3·C·ΣN² — and
//! `WORKSPACE_SQUARES`·N² of the widest compared stage (the comparison's and the affine map's
//! temporaries and the freed blocks the allocator keeps; adv34 measured 9 at N = 2000); the surrogate
//! inputs, 2·S·C·d for S samples per class (the draws and their assembled copy); the training
//! history, 4 words per epoch (its record and its time); the Student t model of the output tails,
//! ⌈M/2⌉ scales per class for M Monte Carlo draws (`analysis::tails::student_t::scales`, the
//! classes side by side), C·⌈M/2⌉; and the cumulant objective's sampled check, whose C·K draws
//! (K per class) pass forward and back like a training batch, 3·C·K·ΣNₗ; and `--pilot fresh`'s
//! fresh samples of a generated task, F = [`FRESH_PER_REPORTED`] × the reported set's n
//! (`DataConfig::fresh_samples`: the generator run again, (n_train + n_test + F)·(d' + 1), the
//! fresh tail copied out of it, F·(d' + 1), and their outputs, F·C), in all (n_train + n_test +
//! 2F)·(d' + 1) + F·C; and `--order 3|4 --carry depth`'s carried state, one class's κ tensors
//! at the widest stage it carries (`propagate::higher::tensor::tensor_bytes`, or the subset
//! carry's R units and its N² slices: `measure::carried::kappa_units`); and the κ slices the
//! run measures (`Shape::measuring`: quadratic units, `--order 3|4 --carry first`),
//! `KAPPA_SQUARES`·C·N² per hidden layer measured; and with T threads `PAIR_SQUARES`·n² for
//! each of the T − 1 next largest (stage, class) pairs the comparison holds beside the widest.
//! Not counted: faer's padding of the N × N matrices' columns to a multiple of 8 rows (a few
//! percent from N ≈ 100 on, and below N = 8 a few KiB: EXPERIMENTS.md, "Adversarial pass,
//! thirty-third session").
//!
//! [`FRESH_PER_REPORTED`]: crate::measure::carried::FRESH_PER_REPORTED

use super::shape::Shape;
use super::sizes::human_bytes;
use super::Estimate;
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;
use crate::measure::carried::carried_units;
use crate::measure::STATS_BATCH;

/// Fixed overhead of the process (code, allocator, rayon pools, the GEMM packing each thread
/// touches), in bytes: 32 MiB. Measured (tidy42b, `/usr/bin/time -f %M`, peak RSS): XOR runs,
/// whose estimates count 0.8–2.2 MiB beyond this, peak at 10.3–10.7 MiB (`train`), 11.3–11.6
/// MiB (`propagate`), 12.8–13.8 MiB (`analyze`) with 1–8 threads and 11.9–12.1 MiB (a
/// one-point `sweep`, 1–2 threads); MNIST `propagate` of a [784, 100, 100, 10] net grows by
/// 1.8 MiB per thread (84.8 MiB at 1, 97.4 MiB at 8). So 13.8 MiB + 8 × 1.8 MiB = 28.2 MiB,
/// and 32 MiB keeps 3.8 MiB of margin at 8 threads (more at fewer). The 64 MiB it was counted
/// ~50 MiB too much resident memory; what a run maps beyond it under `ulimit -v` is
/// `io::limit`'s reserve, not this.
pub const BASE_BYTES: f64 = 32.0 * 1024.0 * 1024.0;

/// Words the training history keeps per epoch: the record (epoch, loss, accuracy) and its time.
const HISTORY_WORDS: f64 = 4.0;

/// N × N blocks of the widest compared stage beyond the 3·C per stage, for the statistics'
/// working set and what the allocator keeps of it: the comparison's three temporaries of the
/// (stage, class) it holds (`analysis::compare_stages`: the factor, the solve, the difference;
/// one at a time on one thread), the engine's affine buffer, and up to five blocks freed on the
/// heap (`io::keep_freed_memory` keeps blocks ≤ 32 MiB, N ≤ 2048, on the heap once freed, and
/// the accumulators freed before the propagation leave holes later blocks do not all reuse).
/// Measured with one thread on [2, N, 2] XOR nets (C = 2, 12 N² counted before): peak RSS less
/// the process's 15 MiB and the other terms, 18.6 N² at N = 1001, 20.9 N² at N = 2000 (heap)
/// and 15.5 N² at N = 4000 (blocks mmap'd, returned when freed); the 3·C·ΣN² alone let
/// `propagate` of the N = 2000 net reach 1.51× its estimate (656 MiB against 435; adv34).
const WORKSPACE_SQUARES: f64 = 9.0;

/// N × N blocks per class and hidden layer of width N whose κ slices `analyze` measures
/// (`measure::Higher::for_analysis`: networks of quadratic units, `--order 3|4 --carry first`):
/// the three slices κ₃\[i,i,j\], κ₄\[i,i,j,j\], κ₄\[i,i,i,j\] accumulated and finished (6
/// blocks), and the blocks the corrected start-layer runs and the heap's holes add beyond the
/// order-2 run's (heaptrack at N = 2000: 22 blocks live at the peak against the tanh net's 14).
/// Measured (adv35) on [2, N, 2] quad:0.5 XOR nets, `analyze --n-test 400`: peak RSS 906–1272 MiB
/// over four runs at N = 2000 with one thread (1468 MiB with eight), 321 MiB at N = 1000,
/// against the 710 and 227 MiB counted without the slices; the heap holds it all (`smaps`: one
/// `[heap]` mapping, blocks of 32 MB below the 32 MiB mmap threshold stay there once freed).
/// The largest, 1272 MiB, needs 9.2; 12 bounds every one of them with the thread term
/// ([`PAIR_SQUARES`]), by 1.13× at that one (1442 MiB) and 1.17× with eight threads.
const KAPPA_SQUARES: f64 = 12.0;

/// N × N blocks each (stage, class) pair of the comparison holds while it is compared
/// (`analysis::compare_stages`: the Cholesky factors of the measured and the predicted Σ, the
/// solve L_q⁻¹L_p made in place of the first, and the widened copy of an f32 Σ, or the
/// difference of the Frobenius error): the pairs run in parallel, one per worker thread, so
/// with T threads the T − 1 largest pairs beyond the one [`WORKSPACE_SQUARES`] counts are
/// held at once as well (adv35; adv34 had found the gap and left it).
const PAIR_SQUARES: f64 = 3.0;

/// Words each stage of the statistics holds beyond its batches and N × N blocks, whatever its
/// width: its moments, the comparison's row and the report's (measured, adv47b: peak RSS beyond
/// the other terms 4–10 KiB per stage for models of 2 000–20 000 layers of width 1, `propagate`
/// and `analyze` of XOR, one thread).
const STAGE_WORDS: f64 = 2048.0;

/// Draws the surrogates push through the network at once per task (`analysis::surrogate`'s
/// block).
const SURROGATE_BLOCK: usize = 1024;

impl Shape {
    /// Peak resident memory in bytes: [`BASE_BYTES`] and 8 bytes per word of the terms.
    pub(super) fn peak_bytes(&self) -> f64 {
        let words: f64 = self.memory_terms().iter().map(|t| t.1).sum();
        BASE_BYTES + 8.0 * words
    }

    /// The parts of the peak memory, in f64 words, each with the field that sets its size. The
    /// output stage's per-class covariances, C·K² words for K = C outputs (3·C³ with the
    /// measured and propagated copies), are the class count's, not the hidden widths'.
    fn memory_terms(&self) -> [(Field, f64); 12] {
        let f = |n: usize| n as f64;
        let width_sum: f64 = self.widths.iter().map(|&n| f(n)).sum();
        let c = f(self.n_classes);
        // The statistics' terms, zero for a run without them ([`Shape::training_only`]).
        let stats = if self.statistics { 1.0 } else { 0.0 };
        let tails = if self.statistics && self.output_tails {
            1.0
        } else {
            0.0
        };
        let drawn = if self.statistics && self.surrogates {
            1.0
        } else {
            0.0
        };
        let surrogates = drawn
            * self
                .surrogate_samples
                .map_or(0.0, |s| 2.0 * f(s) * c * f(self.d_in));
        let [train, test, dim] = self.data_fields;
        let outputs = f(self.widths.last().copied().unwrap_or(0));
        let output = stats * 3.0 * c * outputs.powi(2);
        // A sample: its column of the d × n features (faer pads a column of f64 to a multiple
        // of 8, 64 bytes: XOR's d = 2 takes 8 words, adv32) and its label.
        let sample = (f(self.d_in) / 8.0).ceil() * 8.0 + 1.0;
        // `--pilot fresh` generates the task again with a test stream longer by the fresh
        // samples and copies them out (`DataConfig::fresh_samples`): at its peak a second
        // training set, the longer test set, the copy and its outputs. Named by the reported
        // set's size, which sets the fresh samples' count.
        let (fresh, reported) = self.fresh_samples;
        let fresh_words = match fresh {
            0 => 0.0,
            n => (f(self.n_train) + f(self.n_test) + 2.0 * f(n)) * sample + f(n) * outputs,
        };
        let widest_compared = self.widths.iter().skip(1).copied().max().unwrap_or(0);
        let hidden_covariances = stats
            * (3.0 * c * (self.square_sum() - f(self.d_in).powi(2))
                + WORKSPACE_SQUARES * f(widest_compared).powi(2)
                + PAIR_SQUARES * self.parallel_pair_squares()
                + KAPPA_SQUARES * c * self.kappa_widths.iter().map(|&n| f(n).powi(2)).sum::<f64>());
        // The statistics' batches (`measure::batches`): two forward-pass buffers of
        // `STATS_BATCH` samples per stage (the next batch's pass runs beside this one's
        // statistics) and each stage's accumulator's shifted copy, three blocks of rows ×
        // N' words per stage, N' = N rounded up to a multiple of 8 (faer's column padding).
        // Not counted before: a model of 2·10⁴ layers of width 1 held 4.3 GB under
        // `--max-memory 500M` (40 002 stages of 3 × 512 × 8 words, adv47b).
        let stats_rows = f(STATS_BATCH.min(self.n_train.max(self.n_test)));
        let padded = |n: usize| (f(n) / 8.0).ceil() * 8.0;
        let stage_sum: f64 = match self.widths.as_slice() {
            [_, hidden @ .., last] => {
                hidden.iter().map(|&n| 2.0 * padded(n)).sum::<f64>() + padded(*last)
            }
            _ => 0.0,
        };
        let stages = f(2 * self.widths.len().saturating_sub(1));
        // The statistics' batches are freed before the surrogates' draws are pushed through
        // the network: the larger of the two is held, not both.
        let draw_column = match self.widths.as_slice() {
            [_, hidden @ .., last] => {
                3.0 * hidden.iter().map(|&n| padded(n)).fold(0.0, f64::max) + padded(*last)
            }
            _ => 0.0,
        };
        let stats_batches = stats
            * (3.0 * stats_rows * stage_sum).max(drawn * self.surrogate_draw_words(draw_column))
            + stats * STAGE_WORDS * stages;
        let input_batches = stats * 3.0 * stats_rows * padded(self.d_in);
        let batch_rows = self.batch.min(self.n_train);
        // The fields the error names. With the statistics the input's d² term names the input
        // dimension and the hidden ones `--hidden`; without them ([`Shape::training_only`]) the
        // largest terms are products of a count and a width, each named by its larger factor.
        let (train, test, batch) = if self.statistics {
            (train, test, Field::Batch)
        } else {
            let widest = self.widths.iter().copied().max().unwrap_or(0);
            let by_width = if widest == self.d_in {
                dim
            } else {
                Field::Hidden
            };
            (
                if self.d_in > self.n_train { dim } else { train },
                if self.d_in > self.n_test { dim } else { test },
                if batch_rows >= widest {
                    Field::Batch
                } else {
                    by_width
                },
            )
        };
        [
            (train, f(self.n_train) * sample),
            (test, f(self.n_test) * sample),
            (dim, stats * 3.0 * c * f(self.d_in).powi(2) + input_batches),
            (
                Field::Hidden,
                f(self.parameter_sets) * self.params() + hidden_covariances - output
                    + stats_batches,
            ),
            (Field::NClasses, output),
            (batch, 3.0 * f(batch_rows) * width_sum),
            (Field::SurrogateSamples, surrogates),
            (Field::Epochs, HISTORY_WORDS * f(self.epochs)),
            (Field::McSamples, tails * c * f(self.mc_samples.div_ceil(2))),
            (
                Field::CheckSamples,
                3.0 * c * f(self.check_samples) * width_sum,
            ),
            (reported, fresh_words),
            self.carried_words(),
        ]
    }

    /// The state of `--order 3|4 --carry depth`, in words, and the setting that sizes it:
    /// one class's carried tensors at a time ([`carried_units`]: the full κ tensors where they
    /// fit the carry's own limit, else the subset carry's), the largest over the start layers
    /// from `from_layer` on (`analyze` carries from each in turn; for `propagate`, which
    /// carries from the first only, an upper bound). Before, the estimate left them out and
    /// the carry held them to its fixed 16 GiB alone: `--max-memory 100M --order 4 --carry
    /// depth` of a width-100 layer reached 1.6 GB. A `--kappa-units` the carry refuses counts
    /// nothing here: the carry's own message says what fits.
    fn carried_words(&self) -> (Field, f64) {
        let Some((order, from, requested)) = self.carried.filter(|_| self.statistics) else {
            return (Field::Order, 0.0);
        };
        let field = match requested {
            Some(_) => Field::KappaUnits,
            None => Field::Order,
        };
        let depth = self.widths.len().saturating_sub(2);
        let bytes = (from..depth)
            .filter_map(|l| carried_units(&self.widths, l, order, requested).ok())
            .map(|(_, bytes)| bytes)
            .max()
            .unwrap_or(0);
        (field, bytes as f64 / 8.0)
    }

    /// Σn² over the pairs the comparison's other threads hold while the widest is compared:
    /// the T − 1 largest after it among the (stage, class) pairs (each hidden layer's pre- and
    /// post-activation and the output, C classes each; T = [`Shape::threads`]).
    fn parallel_pair_squares(&self) -> f64 {
        let classes = self.n_classes.max(1);
        // (n², pairs of that width), widest first; the counts, not the pairs, so an absurd
        // class count costs nothing here (its own term refuses it).
        let mut widths: Vec<(f64, usize)> = match self.widths.as_slice() {
            [_, hidden @ .., last] => hidden
                .iter()
                .map(|&n| (n, 2))
                .chain([(*last, 1)])
                .map(|(n, stages)| ((n as f64).powi(2), classes.saturating_mul(stages)))
                .collect(),
            _ => Vec::new(),
        };
        widths.sort_by(|a, b| b.0.total_cmp(&a.0));
        // The widest pair is WORKSPACE_SQUARES's; the next T − 1 are the other threads'.
        let mut skip = 1;
        let mut left = self.threads.max(1) - 1;
        let mut sum = 0.0;
        for (square, count) in widths {
            let here = count.saturating_sub(skip).min(left);
            skip = skip.saturating_sub(count);
            left -= here;
            sum += square * here as f64;
        }
        sum
    }

    /// Words of the surrogates' forward passes (`analysis::surrogate`): each of their tasks
    /// pushes a block of min(1024, S) draws through the whole network (S the surrogate samples
    /// per class, else the reported set's size) keeping the widest hidden layer's pre-activation,
    /// two post-activation buffers and the output (`net::OutputPass`), `column` = 3·max N'ₗ + K'
    /// words per draw (2·ΣN'ₗ + K' up to the forty-ninth session, every layer's); the two
    /// orders' classes run side by side, up to min(2C, T + 1) tasks at once (T > 1 threads;
    /// one thread runs one at a time). A
    /// model of 1 000 layers of width 1 at two threads held 3 such blocks at once (peak 348 MB
    /// against an estimate of 255 MiB; 2 000 layers 680 MB against 475 MiB; adv48b).
    fn surrogate_draw_words(&self, column: f64) -> f64 {
        let f = |n: usize| n as f64;
        let block = f(SURROGATE_BLOCK.min(
            self.surrogate_samples
                .unwrap_or(self.n_train.max(self.n_test))
                .max(1),
        ));
        // One thread runs the tasks one after the other; more run T at once and a thread
        // waiting in a GEMM of its own may take one more.
        let threads = match self.threads {
            0 | 1 => 1,
            t => t + 1,
        };
        let tasks = f(self.n_classes.saturating_mul(2).min(threads));
        tasks * block * column
    }
}

/// Checks that a run of shape `shape` fits `limit` before anything is allocated; the error
/// names the field whose term is the largest part of the estimate.
pub fn check_memory(shape: &Shape, limit: MemoryLimit) -> Result<()> {
    let bytes = Estimate::of_shape(shape).bytes;
    if bytes <= limit.bytes as f64 {
        return Ok(());
    }
    // A limit below the fixed overhead no setting can meet: the limit is at fault, not the
    // largest term (`--max-memory 1M` blamed `--mc-samples`' 156 KiB, adv35). Under `ulimit -v`
    // it is what the threads leave of that limit: `--threads`, never given `--max-memory`
    // (adv43).
    if BASE_BYTES > limit.bytes as f64 {
        let field = if limit.is_address_space() {
            Field::Threads
        } else {
            Field::MaxMemory
        };
        let raise = limit.advice();
        return Err(Error::config(
            field,
            format!(
                "the memory limit of {}{} is below the {} every run needs (code, allocator, \
                 thread pools) before its data; {raise}",
                human_bytes(limit.bytes as f64),
                limit.source(),
                human_bytes(BASE_BYTES)
            ),
        ));
    }
    // The largest term; on a tie the first (n_train before n_test, which defaults to it).
    let (field, words) =
        shape
            .memory_terms()
            .into_iter()
            .fold((Field::NTrain, f64::NEG_INFINITY), |best, t| {
                if t.1 > best.1 {
                    t
                } else {
                    best
                }
            });
    let msg = format!(
        "the run needs about {} ({} of it for this setting), over the memory limit of {}{}; \
         make it smaller or raise the memory limit{}",
        human_bytes(bytes),
        human_bytes(8.0 * words),
        human_bytes(limit.bytes as f64),
        limit.source(),
        carry_hint(shape, field, limit)
    );
    // The widths' term is the model file's where its metadata set them: a `--hidden` the user
    // never gave is not blamed (adv39: `propagate --model` under `ulimit -v`).
    Err(match (field, &shape.widths_from) {
        (Field::Hidden, Some(model)) => Error::format(
            model,
            format!(
                "its metadata 'widths' {}: {msg}",
                crate::error::excerpt(&format!("{:?}", shape.widths))
            ),
        ),
        _ => Error::config(field, msg),
    })
}

/// Where the carried κ tensors of `--order 3|4 --carry depth` are the largest term (`field`
/// `--order`: the full tensors or the default subset; `--kappa-units`: the subset asked for),
/// the `--kappa-units` that fits `limit` (the most units whose run fits), or that none does and
/// `--carry first` carries nothing through depth; "" otherwise. adv44: `--max-memory 300M
/// --order 4 --carry depth` of a [784, 200, 100, 10] model named `--order` alone, where
/// `--kappa-units` is the flag that cures it.
fn carry_hint(shape: &Shape, field: Field, limit: MemoryLimit) -> String {
    let Some((order, from, requested)) = shape.carried else {
        return String::new();
    };
    if !matches!(field, Field::Order | Field::KappaUnits) {
        return String::new();
    }
    let fits = |r: usize| {
        let mut s = shape.clone();
        s.carried = Some((order, from, Some(r)));
        Estimate::of_shape(&s).bytes <= limit.bytes as f64
    };
    // The most units below those asked for (or the widest layer's) whose run fits: the
    // estimate grows with the units, so a bisection.
    let widest = shape
        .widths
        .iter()
        .skip(from + 1)
        .copied()
        .max()
        .unwrap_or(0);
    let most = requested.unwrap_or(widest).min(widest);
    if most <= 1 || !fits(1) {
        return "; no --kappa-units fits it either (--carry first carries the κ tensors through \
                the first nonlinearity only)"
            .to_string();
    }
    let (mut lo, mut hi) = (1, most);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let lo = if fits(hi) { hi } else { lo };
    format!(
        "; --kappa-units {lo} carries {lo} units per layer and fits (a subset of the κ tensors), \
         or --carry first carries them through the first nonlinearity only"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::estimate::shape::params;
    use crate::config::estimate::test_shapes::{generated, xor_2000};
    use crate::config::{On, RunConfig, Task};
    use crate::cumtrain::Objective;
    use crate::measure::carried::FRESH_PER_REPORTED;
    use crate::measure::CarryMode;

    /// The statistics' batches are charged per stage, padded to 8 rows: 2·10⁴ layers of width
    /// 1 (40 002 stages) need 3 × 512 × 8 words a stage, ~3.7 GiB, and the propagated flops
    /// count layer k from each of its k + 1 start layers. Old (adv47b): ~50 MiB counted
    /// (`propagate` reached 4.3 GB under `--max-memory 500M`).
    #[test]
    fn the_statistics_batches_are_charged_per_stage() {
        let mut config = generated(Task::Xor, 4000, 4000);
        config.net.hidden = Some(vec![1; 20_000]);
        // One thread: the surrogates' draws, one block at a time, take less than the batches.
        let shape = Shape {
            threads: 1,
            ..Shape::of(&config)
        };
        let e = Estimate::of_shape(&shape);
        let batches = 8.0 * 3.0 * 512.0 * 8.0 * 40_002.0;
        assert!(e.bytes > batches, "{}", e.bytes);
        assert!(e.bytes < 1.5 * batches, "{}", e.bytes);
        assert!(check_memory(&shape, MemoryLimit::new(2 << 30)).is_err());
        assert!(Estimate::of_shape(&shape.clone().training_only()).bytes < 1e9);
        // [2, 3, 2]: layer 0 (2·2·3·5 per class, its fixed cost and its closure of 3 units)
        // from one start layer, layer 1 (its affine map and fixed cost) from two.
        config.net.hidden = Some(vec![3]);
        let s = Shape::of(&config);
        let mut no_train = s.clone();
        no_train.epochs = 0;
        let propagate = 2.0 * (60.0 + 1e4 + 2e4 * 5.0) + 2.0 * 2.0 * (60.0 + 1e4);
        let stats = 4000.0 * (2.0 * 17.0 + 4.0 + 18.0 + 4.0);
        let got = Estimate::of_shape(&no_train).flops;
        assert!((got - stats - propagate).abs() < 1e-6 * got, "{got}");
    }

    /// A training without statistics is not charged the class covariances: 40 samples of 10⁵
    /// features and 2 classes need 3·2·10¹⁰ words (447 GiB) with them, a few MiB without.
    #[test]
    fn training_only_drops_the_class_covariances() {
        let mut config = generated(Task::Xor, 40, 40);
        config.data.dim = Some(100_000);
        config.net.hidden = Some(vec![4]);
        let shape = Shape::of(&config);
        let full = Estimate::of_shape(&shape).bytes;
        let training = Estimate::of_shape(&shape.clone().training_only()).bytes;
        assert!(full > 400.0 * 1024f64.powi(3), "{full}");
        // The data (80·10⁵ words), the parameters ×4 (4·400 014) and the batch's activations
        // (3·40·100 006), plus a history of under 10⁴ words: ~173 MB, where the covariances
        // alone were 6·10¹⁰ words.
        let words = 80.0e5 + 4.0 * 400_014.0 + 3.0 * 40.0 * 100_006.0;
        assert!(training >= BASE_BYTES + 8.0 * words, "{training}");
        assert!(training < BASE_BYTES + 8.0 * (words + 1e4), "{training}");
        let limit = MemoryLimit::new(1024 * 1024 * 1024);
        assert!(check_memory(&shape, limit).is_err());
        assert!(check_memory(&shape.clone().training_only(), limit).is_ok());
        // Without the statistics the refusal still names the setting at fault (the library
        // names the config field; the CLI maps it to --dim / --hidden): a huge input
        // dimension or hidden width, not the sample count or the batch that multiply it.
        let refused = |config: &RunConfig| {
            check_memory(&Shape::of(config).training_only(), limit)
                .unwrap_err()
                .to_string()
        };
        config.data.dim = Some(1 << 40);
        assert!(
            refused(&config).contains("data.dim"),
            "{}",
            refused(&config)
        );
        config.data.dim = Some(2);
        config.net.hidden = Some(vec![1 << 40]);
        assert!(
            refused(&config).contains("net.hidden"),
            "{}",
            refused(&config)
        );
    }

    /// `--pilot fresh` is charged its fresh samples: the generator run again ((n_train +
    /// n_test + F)·(d' + 1), d = 10 padded to d' = 16, a label each), the fresh tail copied
    /// (F·(d' + 1)) and its outputs (F·C), F = 4 × the reported
    /// set; a limit between the two estimates refuses it naming the reported set's size.
    #[test]
    fn pilot_fresh_counts_its_fresh_samples() {
        use crate::measure::PilotMode;
        let mut config = generated(Task::HigherOrder, 1000, 3000);
        config.analysis.carry.mode = CarryMode::Depth;
        config.analysis.carry.pilot = Some(PilotMode::On);
        let without = Estimate::of(&config).bytes;
        config.analysis.carry.pilot = Some(PilotMode::Fresh);
        let fresh = FRESH_PER_REPORTED as f64 * 3000.0;
        let words = (1000.0 + 3000.0 + 2.0 * fresh) * 17.0 + fresh * 2.0;
        let with = Estimate::of(&config).bytes;
        assert!(
            (with - without - 8.0 * words).abs() < 1e-6,
            "{with} {without}"
        );
        config.analysis.on = On::Train;
        let fresh = FRESH_PER_REPORTED as f64 * 1000.0;
        let words = (1000.0 + 3000.0 + 2.0 * fresh) * 17.0 + fresh * 2.0;
        let on_train = Estimate::of(&config).bytes;
        assert!(
            (on_train - without - 8.0 * words).abs() < 1e-6,
            "{on_train}"
        );
        // A limit the run without fits: refused with the fresh samples, naming n_train here
        // (the reported set is the training set) where they are the largest term.
        config.data.n_train = Some(1_000_000);
        config.data.n_test = Some(10);
        let shape = Shape::of(&config);
        let limit = MemoryLimit::new(Estimate::of_shape(&shape).bytes as u64 - 1);
        let err = check_memory(&shape, limit).unwrap_err().to_string();
        assert!(err.contains("data.n_train"), "{err}");
        config.analysis.carry.pilot = Some(PilotMode::On);
        assert!(Estimate::of(&config).bytes < limit.bytes as f64);
        // MNIST refuses --pilot fresh itself: nothing charged.
        config.data.task = Some(Task::Mnist);
        let mnist_on = Estimate::of(&config).bytes;
        config.analysis.carry.pilot = Some(PilotMode::Fresh);
        assert_eq!(Estimate::of(&config).bytes, mnist_on);
    }

    /// `--order 3|4 --carry depth` is charged one class's carried state: the full tensors
    /// (`tensor_bytes`) at the widest stage after the start, or the subset carry's R units and
    /// its 3·N² slices, the largest over the start layers; a limit the run without the carry
    /// fits refuses it naming `--order` (`--kappa-units` where that was given). Before adv33
    /// nothing was charged: a width-100 order-4 carry (3.7 GiB by `tensor_bytes`, 1.6 GB
    /// measured) passed `--max-memory 100M`.
    #[test]
    fn the_carried_tensors_count_in_the_memory_estimate() {
        use crate::propagate::closures::Corrections;
        use crate::propagate::higher::tensor::tensor_bytes;
        let mut config = generated(Task::Xor, 1000, 1000);
        // From x the carry starts at h¹ (200 units: order 4's tensors do not fit its 16 GiB,
        // the subset of 32 units), from z¹ at h² (40 units: the full tensors, the larger).
        config.net.hidden = Some(vec![200, 40]);
        config.analysis.order = Corrections::K3K4;
        config.analysis.carry.mode = CarryMode::Depth;
        let charged = |config: &RunConfig| {
            let mut shape = Shape::of(config);
            let with = Estimate::of_shape(&shape).bytes;
            shape.carried = None;
            with - Estimate::of_shape(&shape).bytes
        };
        let subset = (tensor_bytes(32, 4, 1) + 3 * 8 * 200 * 200) as f64;
        let full = tensor_bytes(40, 4, 1) as f64;
        assert!(full > subset, "{full} {subset}");
        assert_eq!(charged(&config), full);
        // From z¹ (propagate --from-layer 1) the same; from z² nothing is carried.
        config.analysis.from_layer = 1;
        assert_eq!(charged(&config), full);
        config.analysis.from_layer = 2;
        assert_eq!(charged(&config), 0.0);
        config.analysis.from_layer = 0;
        // Order 3's tensors of 200 units fit: the full ones from x, the larger.
        config.analysis.order = Corrections::K3;
        assert_eq!(charged(&config), tensor_bytes(200, 3, 1) as f64);
        config.analysis.order = Corrections::K3K4;
        // --kappa-units 100: 100 units of the 200 from x, all 40 from z¹.
        config.analysis.carry.kappa_units = Some(100);
        let hundred = (tensor_bytes(100, 4, 1) + 3 * 8 * 200 * 200) as f64;
        assert_eq!(charged(&config), hundred);
        let refused = |config: &RunConfig| {
            let shape = Shape::of(config);
            let limit = Estimate::of_shape(&shape).bytes - 1.0;
            check_memory(&shape, MemoryLimit::new(limit as u64))
                .unwrap_err()
                .to_string()
        };
        let err = refused(&config);
        assert!(err.contains("analysis.kappa_units"), "{err}");
        config.analysis.carry.kappa_units = None;
        let err = refused(&config);
        assert!(err.contains("train.order"), "{err}");
        // --carry first and order 2 carry nothing; nor does a training without statistics.
        config.analysis.carry.mode = CarryMode::First;
        assert_eq!(charged(&config), 0.0);
        config.analysis.carry.mode = CarryMode::Depth;
        let shape = Shape::of(&config).training_only();
        let mut bare = shape.clone();
        bare.carried = None;
        assert_eq!(
            Estimate::of_shape(&shape).bytes,
            Estimate::of_shape(&bare).bytes
        );
        config.analysis.order = Corrections::None;
        assert_eq!(charged(&config), 0.0);
    }

    /// The cumulant objective holds six copies of the parameters (weights, gradient, the
    /// sampled check's gradient, Adam's two moments, the stall rule's copy), the samples
    /// objective four (its gradient is formed in blocks, the copy takes its place): the same
    /// run differs by 2·P words. Old: both were charged 4·P (adv49b).
    #[test]
    fn the_cumulant_objective_is_charged_six_parameter_copies() {
        let mut config = generated(Task::Xor, 200, 200);
        config.net.hidden = Some(vec![1000, 1000]);
        config.train.closure_check = 0.0;
        let samples = Estimate::of(&config).bytes;
        config.train.objective = Objective::Cumulants;
        let cumulants = Estimate::of(&config).bytes;
        let params = params(&[2, 1000, 1000, 2]);
        assert_eq!(cumulants - samples, 2.0 * 8.0 * params);
    }

    /// With T threads the comparison holds the T − 1 next largest (stage, class) pairs' three
    /// blocks besides the widest's: [2, 2000, 2] has four pairs of width 2000 (pre and post, two
    /// classes) and two of width 2, so 2 threads add 3·2000² words, 8 threads 3·(3·2000² + 2·2²),
    /// and 100 no more than 8. Before adv35 the estimate was the same at every thread count.
    #[test]
    fn the_comparisons_threads_count_in_the_memory_estimate() {
        // The surrogates' draws (a block of S per task, T + 1 tasks) are out of the way at S = 1.
        let bytes = |t: usize| {
            let mut shape = xor_2000(t);
            shape.surrogate_samples = Some(1);
            Estimate::of_shape(&shape).bytes
        };
        let square = 2000f64.powi(2);
        assert_eq!(bytes(2) - bytes(1), 8.0 * 3.0 * square);
        assert_eq!(bytes(8) - bytes(1), 8.0 * 3.0 * (3.0 * square + 2.0 * 4.0));
        assert_eq!(bytes(100), bytes(8));
        // 0 threads (the pool's default) counts as one; an absurd class count is the class
        // count's term, not a long list of pairs here.
        assert_eq!(bytes(0), bytes(1));
        let mut many = xor_2000(4);
        many.n_classes = 1 << 40;
        assert!(Estimate::of_shape(&many).bytes.is_finite());
    }

    /// `analyze` of a quadratic network, or with `--order 3|4 --carry first`, measures the κ
    /// slices of every hidden pre-activation: KAPPA_SQUARES·C·ΣN² words more, named by
    /// `--hidden`; `propagate --order 3` measures the first start layer's only; order 2 none.
    #[test]
    fn the_kappa_slices_count_in_the_memory_estimate() {
        use crate::measure::Higher;
        use crate::net::Stage;
        let mut shape = xor_2000(1);
        shape.widths = vec![2, 2000, 300, 2];
        let plain = Estimate::of_shape(&shape).bytes;
        let with = |h: Higher| Estimate::of_shape(&shape.clone().measuring(h)).bytes - plain;
        let c = 2.0;
        let pre = 2000f64.powi(2) + 300f64.powi(2);
        assert_eq!(with(Higher::Pre), 8.0 * KAPPA_SQUARES * c * pre);
        assert_eq!(
            with(Higher::At(Stage::Pre(2))),
            8.0 * KAPPA_SQUARES * c * 90_000.0
        );
        assert_eq!(with(Higher::At(Stage::Pre(3))), 0.0);
        assert_eq!(with(Higher::None), 0.0);
        // The rule is analyze's (`analysis::analyze_held_out`).
        use crate::net::Activation;
        use crate::propagate::closures::Corrections;
        let quadratic = Activation::Quadratic { alpha: 0.5 };
        assert_eq!(
            Higher::for_analysis(Some(quadratic), Corrections::None, CarryMode::First),
            Higher::Pre
        );
        assert_eq!(
            Higher::for_analysis(Some(Activation::Relu), Corrections::K3, CarryMode::First),
            Higher::Pre
        );
        for (order, carry) in [
            (Corrections::None, CarryMode::First),
            (Corrections::K3K4, CarryMode::Depth),
        ] {
            for activation in [None, Some(Activation::Relu)] {
                assert_eq!(Higher::for_analysis(activation, order, carry), Higher::None);
            }
        }
        let limit = MemoryLimit::new((plain + 1.0) as u64);
        let err = check_memory(&shape.clone().measuring(Higher::Pre), limit)
            .unwrap_err()
            .to_string();
        assert!(err.contains("net.hidden"), "{err}");
    }

    #[test]
    fn memory_grows_with_the_square_of_the_width() {
        let at = |n: usize| {
            let mut config = RunConfig::default();
            config.data.task = Some(Task::Mnist);
            config.net.hidden = Some(vec![n]);
            // One thread: the comparison's other pairs (3·N² each) depend on the pool.
            Estimate::of_shape(&Shape {
                threads: 1,
                ..Shape::of(&config)
            })
            .bytes
        };
        // 10 classes, pre and post: 3·10·2·N² words dominate for a wide layer, and the
        // working set's WORKSPACE_SQUARES·N² of the widest stage (9, adv34: 18.6–20.9 N² resident
        // against 12 counted for C = 2 at N = 1001–2000).
        let wide = at(20_000) - at(10_000);
        let expected = 8.0 * (60.0 + 9.0) * (20_000f64.powi(2) - 10_000f64.powi(2));
        assert!((wide / expected - 1.0).abs() < 0.01, "{wide} vs {expected}");
    }

    /// A sweep point and `propagate` draw no surrogates: their memory estimate holds none of
    /// the surrogates' forward-pass blocks, min(1024, S) draws per task (adv55; charged before).
    /// [2, 4096, 2] at 4 threads: 4 tasks × 1024 draws × (3·4096 + 8) words, against the
    /// statistics' batches, 3 × 512 × (2·4096 + 8), which every run holds (the larger of the
    /// two is charged).
    #[test]
    fn the_surrogates_draws_are_charged_only_where_they_are_drawn() {
        let mut config = generated(Task::Xor, 4000, 4000);
        config.net.hidden = Some(vec![4096]);
        let bytes = |config: &RunConfig| {
            let shape = Shape {
                threads: 4,
                ..Shape::of(config)
            };
            Estimate::of_shape(&shape).bytes
        };
        let drawn = bytes(&config);
        config.analysis.surrogates = false;
        let none = bytes(&config);
        let blocks = 4.0 * 1024.0 * (3.0 * 4096.0 + 8.0);
        let batches = 3.0 * 512.0 * (2.0 * 4096.0 + 8.0);
        let apart = 8.0 * (blocks - batches);
        assert!(
            (drawn - none - apart).abs() < 1e-9 * drawn,
            "{drawn} {none} {apart}"
        );
    }

    /// The output tails' Student t scales, ⌈M/2⌉ words per class, are charged where the tails
    /// are drawn (`analyze`) and not where none are (a sweep point, `propagate`): a sweep point
    /// of `mc_samples = 3000000000` on XOR was refused for 22.4 GiB it never allocates (adv54).
    #[test]
    fn the_tails_scales_are_charged_only_where_the_tails_are_drawn() {
        let mut config = RunConfig::default();
        config.analysis.mc_samples = 3_000_000_000;
        let drawn = Estimate::of(&config).bytes;
        config.analysis.output_tails = false;
        let none = Estimate::of(&config).bytes;
        let scales = 8.0 * 2.0 * 1.5e9;
        assert!(
            (drawn - none - scales).abs() < 1e-9 * drawn,
            "{drawn} {none}"
        );
        assert!(none < 1e8, "{none}");
    }
}
