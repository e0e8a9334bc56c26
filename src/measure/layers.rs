//! Empirical statistics of every layer of a network, per class, from streamed forward passes
//! (DESIGN.md §1). Memory is bounded by batch × width (twice: two batch buffers,
//! [`super::batches`]; once with [`layer_stats_narrow`]) plus the per-class N² accumulators; with
//! [`layer_stats_narrow`] (`--precision f32`) most stages hold each class's sums only while its
//! samples stream by, and its finished covariance in f32.

use std::borrow::Cow;

use faer::{Col, Mat, MatRef};

use super::CarryMode;
use crate::data::{class_counts, Labelled};
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;
use crate::net::train::check_fits;
use crate::net::{Activation, Mlp, Stage};
use crate::propagate::closures::Corrections;
use crate::stats::{below_f32_range, EmpiricalMoments, MomentAccumulator, Moments, NarrowMoments};
use crate::timing::Timings;

use super::batches::accumulate;
use super::range::Unresolved;

/// Which stages also get the κ₃\[i,i,j\] / κ₄\[i,i,j,j\] / κ₄\[i,i,i,j\] slices (they cost
/// three more GEMMs and three more N² sums per class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Higher {
    /// Mean and covariance only.
    None,
    /// κ slices of every pre-activation hˡ, where the closures' corrections use them (the
    /// input's are read by no closure, so they are not measured: on MNIST they would be the
    /// three largest GEMMs of the statistics).
    Pre,
    /// κ slices of this one stage only.
    At(Stage),
}

impl Higher {
    /// The cumulants a propagation from layer `from_layer` with the closure's `corrections`
    /// needs beyond the covariance: the κ slices of the first pre-activation h^(from+1) only,
    /// where the corrections enter (none when `from_layer` is the last hidden layer).
    pub fn for_propagation(corrections: Corrections, from_layer: usize, depth: usize) -> Self {
        match corrections {
            Corrections::K3 | Corrections::K3K4 if from_layer < depth => {
                Higher::At(Stage::Pre(from_layer + 1))
            }
            _ => Higher::None,
        }
    }

    /// The cumulants `analyze` measures beyond the covariance for a network of one `activation`
    /// (`None`: mixed): the κ slices of every pre-activation for a network of quadratic units
    /// (its exact closure's order-3/4 row) or for corrections at the first nonlinearity
    /// (`--order 3|4 --carry first`); none otherwise (order 2, or the carry through depth, which
    /// measures its own).
    pub fn for_analysis(
        activation: Option<Activation>,
        corrections: Corrections,
        carry: CarryMode,
    ) -> Self {
        let quadratic = matches!(activation, Some(Activation::Quadratic { .. }));
        if quadratic || (corrections != Corrections::None && carry == CarryMode::First) {
            Higher::Pre
        } else {
            Higher::None
        }
    }

    /// The widths of the stages that get the κ slices, for a network of `widths` (input,
    /// hidden layers, output): every hidden layer's for [`Higher::Pre`].
    pub fn slice_widths(self, widths: &[usize]) -> Vec<usize> {
        let hidden = widths.get(1..widths.len().saturating_sub(1)).unwrap_or(&[]);
        match self {
            Higher::None => Vec::new(),
            Higher::Pre => hidden.to_vec(),
            Higher::At(Stage::Pre(l)) => l
                .checked_sub(1)
                .and_then(|i| hidden.get(i))
                .copied()
                .into_iter()
                .collect(),
            Higher::At(_) => Vec::new(),
        }
    }

    /// Whether `stage` gets the κ slices.
    fn includes(self, stage: Stage) -> bool {
        match self {
            Higher::None => false,
            Higher::Pre => matches!(stage, Stage::Pre(_)),
            Higher::At(at) => stage == at,
        }
    }
}

/// Per-class moments of every stage, in the order of [`Stage::all`]: in `stages` those held in
/// f64, and (after [`layer_stats_narrow`] only) the others held in f32.
#[derive(Clone, Debug)]
pub struct LayerStats {
    pub stages: Vec<(Stage, EmpiricalMoments)>,
    narrow: Vec<(Stage, NarrowMoments)>,
    /// The hidden stages and classes whose spread lies below f64's range, as the measurement
    /// decided ([`super::range`]).
    unresolved: Vec<Unresolved>,
    /// For each f32 stage taken out ([`LayerStats::take_narrow`]), each class's number of
    /// varying units ([`Measured::varying`]), the rank bound the comparison still reads for
    /// the next stage ([`LayerStats::varying`]).
    released: Vec<(Stage, Vec<(usize, usize)>)>,
}

impl LayerStats {
    /// Why the spread of `stage` for `class` lies below f64's range (the first unit below it),
    /// where the measurement found so; the comparison withholds that row's figures.
    pub fn unresolved(&self, stage: Stage, class: usize) -> Option<&Unresolved> {
        self.unresolved
            .iter()
            .find(|u| u.stage == stage && u.class == class)
    }

    /// The moments of `stage` when they are held in f64 (None for an f32 stage: read those
    /// through [`LayerStats::measured`]).
    pub fn get(&self, stage: Stage) -> Option<&EmpiricalMoments> {
        self.stages
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, m)| m)
    }

    /// The per-class means and covariances of `stage`, held in f64 or f32.
    pub fn measured(&self, stage: Stage) -> Option<Measured<'_>> {
        self.get(stage).map(Measured::Wide).or_else(|| {
            self.narrow
                .iter()
                .find(|(s, _)| *s == stage)
                .map(|(_, m)| Measured::Narrow(m))
        })
    }

    /// Removes the f32-held moments of `stage` and returns them (None when `stage` is not held
    /// in f32): the start of a streamed propagation takes its stage out, and the comparison
    /// releases each stage once compared.
    pub fn take_narrow(&mut self, stage: Stage) -> Option<NarrowMoments> {
        let k = self.narrow.iter().position(|(s, _)| *s == stage)?;
        let taken = self.narrow.remove(k).1;
        let held = Measured::Narrow(&taken);
        let varying = (0..held.classes().len())
            .map(|j| (held.classes()[j], held.varying(j)))
            .collect();
        self.released.push((stage, varying));
        Some(taken)
    }

    /// The number of units of `stage` that vary in class `class` ([`Measured::varying`]), from
    /// the moments held or, for an f32 stage already taken out ([`LayerStats::take_narrow`]:
    /// the start of a streamed propagation, each stage once compared), as counted then; None
    /// where the stage or class was never measured.
    pub fn varying(&self, stage: Stage, class: usize) -> Option<usize> {
        match self.measured(stage) {
            Some(m) => {
                let j = m.classes().iter().position(|&c| c == class)?;
                Some(m.varying(j))
            }
            None => self
                .released
                .iter()
                .find(|(s, _)| *s == stage)
                .and_then(|(_, v)| v.iter().find(|(c, _)| *c == class))
                .map(|&(_, n)| n),
        }
    }

    /// Bytes held by the per-class means and covariances of every stage (κ slices, pooled
    /// moments and capacity not counted).
    pub fn bytes(&self) -> usize {
        let wide: usize = self
            .stages
            .iter()
            .flat_map(|(_, m)| &m.per_class)
            .map(|m| 8 * (m.mean.nrows() + m.cov.nrows() * m.cov.ncols()))
            .sum();
        wide + self.narrow.iter().map(|(_, m)| m.bytes()).sum::<usize>()
    }
}

/// One stage's measured per-class statistics as a reader sees them.
#[derive(Clone, Copy, Debug)]
pub enum Measured<'a> {
    /// Held in f64.
    Wide(&'a EmpiricalMoments),
    /// Held in f32 ([`layer_stats_narrow`]), widened one class at a time.
    Narrow(&'a NarrowMoments),
}

impl Measured<'_> {
    /// The label of each entry.
    pub fn classes(&self) -> &[usize] {
        match self {
            Measured::Wide(m) => &m.classes,
            Measured::Narrow(m) => &m.classes,
        }
    }

    /// Entry `k`'s mean.
    pub fn mean(&self, k: usize) -> &Col<f64> {
        match self {
            Measured::Wide(m) => &m.per_class[k].mean,
            Measured::Narrow(m) => m.mean(k),
        }
    }

    /// Entry `k`'s sample count.
    pub fn count(&self, k: usize) -> u64 {
        match self {
            Measured::Wide(m) => m.counts[k],
            Measured::Narrow(m) => m.counts[k],
        }
    }

    /// The number of entry `k`'s units that vary (a variance above 0, as held).
    pub fn varying(&self, k: usize) -> usize {
        match self {
            Measured::Wide(m) => {
                let cov = &m.per_class[k].cov;
                (0..cov.nrows()).filter(|&i| cov[(i, i)] > 0.0).count()
            }
            Measured::Narrow(m) => {
                let cov = m.cov_f32(k);
                (0..cov.nrows()).filter(|&i| cov[(i, i)] > 0.0).count()
            }
        }
    }

    /// Entry `k`'s covariance in f64: lent, or widened from f32 into a new matrix.
    pub fn cov(&self, k: usize) -> Cow<'_, Mat<f64>> {
        match self {
            Measured::Wide(m) => Cow::Borrowed(&m.per_class[k].cov),
            Measured::Narrow(m) => Cow::Owned(m.cov(k)),
        }
    }
}

/// Refuses per-class statistics whose sums exceed `limit`. Every stage (x, each hˡ and zˡ, y)
/// holds per class a d × d sum, with κ slices three more at each hˡ, and finishing copies
/// them at most once: 2 · 8 · K · (d₀² + Σₗ Nₗ²(2+3h) + N_out²) bytes, h = 1 with κ slices
/// anywhere (an upper bound for [`Higher::At`], and for the conversion, which forms each
/// covariance in its sum's buffer and copies only the κ sums) —
/// e.g. 100 classes of a 784-100-100-10 network: 1.05 GB; 10 classes: 105 MB.
fn check_class_memory(
    widths: &[usize],
    n_classes: usize,
    higher: Higher,
    limit: MemoryLimit,
) -> Result<()> {
    let h: u128 = if higher == Higher::None { 0 } else { 1 };
    let (first, hidden) = (widths[0] as u128, &widths[1..widths.len() - 1]);
    let out = widths[widths.len() - 1] as u128;
    let squares: u128 = first * first
        + hidden
            .iter()
            .map(|&w| (2 + 3 * h) * (w as u128).pow(2))
            .sum::<u128>()
        + out * out;
    let bytes = 2 * 8 * n_classes as u128 * squares;
    if limit.allows(bytes) {
        return Ok(());
    }
    Err(Error::config(
        Field::MaxMemory,
        format!(
            "per-class statistics of {n_classes} classes for widths {widths:?} need {bytes} bytes (K × 8 bytes × every stage's d², twice), over the memory limit of {}",
            limit.describe()
        ),
    ))
}

/// Samples per forward-pass batch of the statistics: `analyze`'s, and the default of `sweep` and
/// `propagate --batch`. 512 rather than 1024: the input Gram's pieces stay as large as the
/// class-ordered batches allow, and the two batch buffers (2 × 784 × 512 f64 for MNIST, and
/// the forward pass's values) take half the memory and half the page faults; `analyze` of a
/// 784-100-100-10 network on MNIST spends 0.099 instead of 0.118 s of CPU in the forward pass +
/// statistics (BENCHMARKS.md, "analyze at 50 % of the GEMM rate, seventeenth session").
pub const STATS_BATCH: usize = 512;

/// Measures every stage's per-class moments by pushing `data` through `net` in batches.
pub fn layer_stats<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    higher: Higher,
    batch: usize,
) -> Result<LayerStats> {
    layer_stats_timed(net, data, higher, batch, &Timings::disabled())
}

/// [`layer_stats`], recording the batch loop as "forward pass + statistics"
/// ([`super::batches::STAGE`]: each batch's forward pass beside the previous batch's
/// statistics, see [`super::batches`]; flops [`crate::timing::flops::forward`], the time
/// including gathering each batch's inputs, taken in class order, plus the products the
/// accumulators did, [`MomentAccumulator::flops`]: per stage, class and batch the lower
/// triangle of the Gram of the rows that vary,
/// [`crate::timing::flops::syrk`]; with κ slices also Σ(d∘d∘d)dᵀ and Σ(d∘d)dᵀ, and the lower
/// triangle of Σ(d∘d)(d∘d)ᵀ) and the per-class conversion at the end as "statistics" (O(d²),
/// not counted).
pub fn layer_stats_timed<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    higher: Higher,
    batch: usize,
    timings: &Timings,
) -> Result<LayerStats> {
    let measured = measure(
        net,
        data.into(),
        (higher, batch, true),
        timings,
        |_, _| {},
        |_, _| Ok(()),
    )?;
    finish(measured, timings)
}

/// [`layer_stats_timed`] that also keeps the network's output y of every sample: entry c is
/// the K × n_c outputs of the samples labelled c, in data order (the class-ordered batches
/// take each class's samples in data order), K × 0 for a class absent from the data. The one
/// forward pass serves the statistics and the outputs.
pub fn layer_stats_and_outputs<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    higher: Higher,
    batch: usize,
    timings: &Timings,
) -> Result<(LayerStats, Vec<Mat<f64>>)> {
    let data = data.into();
    let k = net.output_dim();
    let counts = class_counts(data.labels, data.n_classes)?;
    let mut outputs: Vec<Mat<f64>> = counts.iter().map(|&n| Mat::zeros(k, n)).collect();
    let mut filled = vec![0usize; data.n_classes];
    let seen = |y: MatRef<'_, f64>, labels: &[u32]| {
        for (j, &c) in labels.iter().enumerate() {
            let c = c as usize;
            outputs[c].col_mut(filled[c]).copy_from(y.col(j));
            filled[c] += 1;
        }
    };
    let measured = measure(net, data, (higher, batch, true), timings, seen, |_, _| {
        Ok(())
    })?;
    Ok((finish(measured, timings)?, outputs))
}

/// The stages of `net` and their accumulators after pushing `data` through in batches of
/// `batch` samples ([`accumulate`], with `seen` and `done`; with `overlap` the forward pass of
/// each batch beside the statistics of the one before).
fn measure(
    net: &Mlp,
    data: Labelled<'_>,
    (higher, batch, overlap): (Higher, usize, bool),
    timings: &Timings,
    seen: impl FnMut(MatRef<'_, f64>, &[u32]) + Send,
    done: impl FnMut(&mut [MomentAccumulator], usize) -> Result<()>,
) -> Result<Measurement> {
    let (stages, mut accs) = accumulators(net, data, higher, batch)?;
    let unresolved = accumulate(
        net,
        data,
        (batch, overlap),
        (&stages, &mut accs),
        timings,
        (seen, done),
    )?;
    Ok((stages, accs, unresolved))
}

/// The stages of a network, their accumulators after the batch loop, and the hidden stages
/// below f64's range ([`measure`]).
type Measurement = (Vec<Stage>, Vec<MomentAccumulator>, Vec<Unresolved>);

/// Every stage's moments from its accumulator (timed as "statistics").
fn finish((stages, accs, unresolved): Measurement, timings: &Timings) -> Result<LayerStats> {
    let stages = timings.time("statistics", 0.0, || {
        stages
            .into_iter()
            .zip(accs)
            .map(|(s, acc)| Ok((s, acc.into_moments()?)))
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(LayerStats {
        stages,
        narrow: Vec::new(),
        unresolved,
        released: Vec::new(),
    })
}

/// [`layer_stats_timed`] without κ slices for an f32 propagation: the stages in `wide` (the
/// start of the propagation) are measured as there, in f64; every other stage's class is
/// finished as soon as its last sample has passed (batches run in class order) and held in f32
/// ([`NarrowMoments`]), so at most the classes of one batch have f64 sums at a time. The
/// statistics are those of [`layer_stats_timed`] with each covariance rounded to f32; no pooled
/// moments are formed for the f32 stages.
pub fn layer_stats_narrow<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    wide: &[Stage],
    batch: usize,
    timings: &Timings,
) -> Result<LayerStats> {
    let all = Stage::all(net.depth());
    let mut narrow: Vec<NarrowMoments> = vec![NarrowMoments::default(); all.len()];
    let done = |accs: &mut [MomentAccumulator], c| {
        for ((acc, held), stage) in accs.iter_mut().zip(&mut narrow).zip(&all) {
            if !wide.contains(stage) {
                if let Some((n, m)) = acc.take_class(c)? {
                    check_f32_range(&m, *stage, c)?;
                    held.push(c, n, m);
                }
            }
        }
        Ok(())
    };
    // One batch buffer: the f32 propagation keeps its peak memory (issue #14 item 4).
    let (stages, accs, unresolved) = measure(
        net,
        data.into(),
        (Higher::None, batch, false),
        timings,
        |_, _| {},
        done,
    )?;
    let (mut kept, mut held) = (Vec::new(), Vec::new());
    timings.time("statistics", 0.0, || {
        for ((stage, acc), narrow) in stages.into_iter().zip(accs).zip(narrow) {
            if wide.contains(&stage) {
                kept.push((stage, acc.into_moments()?));
            } else {
                held.push((stage, narrow));
            }
        }
        Ok::<_, Error>(())
    })?;
    Ok(LayerStats {
        stages: kept,
        narrow: held,
        unresolved,
        released: Vec::new(),
    })
}

/// Refuses a measured class whose variance at `stage` is positive in f64 but below f32's normal
/// range (1.2e-38), where [`NarrowMoments`] holds it as a subnormal or 0 that the comparison
/// would read as the measurement (adv28: data of 10⁻²⁵ through a bias-free network reported
/// every row "degenerate" with errors of 0 and no KL, exit 0; with 10⁻²² the tanh closure
/// failed on a "negative variance … beyond rounding" naming neither f32 nor the remedy).
fn check_f32_range(m: &Moments, stage: Stage, class: usize) -> Result<()> {
    match below_f32_range(m) {
        Some((a, v)) => Err(Error::Numeric(format!(
            "--precision f32: the measured variance of unit {a} of {stage}, class {class}, is \
             {v:.1e}, below f32's normal range (1.2e-38): held in f32 it loses its digits (or \
             turns 0) and the comparison would read that as the measurement; expected \
             --precision f64 (or data and weights that keep the variances above 1.2e-38)"
        ))),
        None => Ok(()),
    }
}

/// The stages of `net` ([`Stage::all`]) and an empty accumulator for each, after checking the
/// inputs and the memory the sums may take.
fn accumulators(
    net: &Mlp,
    data: Labelled<'_>,
    higher: Higher,
    batch: usize,
) -> Result<(Vec<Stage>, Vec<MomentAccumulator>)> {
    check_fits(net, data)?;
    if batch == 0 {
        return Err(Error::config(Field::StatsBatch, "must be at least 1"));
    }
    let stages = Stage::all(net.depth());
    let widths = net.widths();
    // The process's limit (the command line's --max-memory, else the machine's default), but
    // never past what `ulimit -v` lets the sums be allocated in.
    let limit = MemoryLimit::default().within_address_space();
    check_class_memory(&widths, data.n_classes, higher, limit)?;
    let accs = stages
        .iter()
        .map(|&stage| {
            let dim = match stage {
                Stage::Input => widths[0],
                Stage::Pre(l) | Stage::Post(l) => widths[l],
                Stage::Output => net.output_dim(),
            };
            MomentAccumulator::new(dim, data.n_classes, higher.includes(stage))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((stages, accs))
}

#[cfg(test)]
mod tests {
    use faer::Mat;

    use super::*;
    use crate::data::Dataset;

    /// A GELU layer dead for every sample of class 1 only (its pre-activations near −30 there,
    /// outputs ~10⁻¹⁹⁶) is carried with the statistics as unresolved at z¹ for class 1 and
    /// nowhere else, in f64 and with the f32 stages alike: the measurement's decision, which the
    /// comparison reads instead of deciding again (`analysis::compare`).
    #[test]
    fn a_stage_below_the_range_travels_with_the_statistics() {
        let data = Dataset {
            x: Mat::from_fn(2, 60, |i, k| {
                let spread = ((k * 7 + i * 3) % 11) as f64 / 11.0;
                if k % 2 == 1 {
                    -30.0 + 0.01 * spread
                } else {
                    spread
                }
            }),
            labels: (0..60).map(|k| (k % 2) as u32).collect(),
            n_classes: 2,
        };
        let mut net = Mlp::init(&[2, 3, 2], Activation::Gelu, 1.0, 3).unwrap();
        // h¹ = x₀ for every unit: about −30 for class 1, in [0, 1) for class 0.
        net.layers[0].w = Mat::from_fn(3, 2, |_, j| if j == 0 { 1.0 } else { 0.0 });
        net.layers[0].b.fill(0.0);
        // y = W²z¹ + 0.5: constant at a resolved size where z¹ is dead.
        net.layers[1].b.fill(0.5);
        let wide = layer_stats(&net, &data, Higher::None, 16).unwrap();
        let narrow =
            layer_stats_narrow(&net, &data, &[Stage::Input], 16, &Timings::disabled()).unwrap();
        for stats in [&wide, &narrow] {
            let below = stats.unresolved(Stage::Post(1), 1).expect("z1 of class 1");
            assert_eq!((below.unit, below.class), (0, 1));
            assert!(below.mean < 0.0 && below.mean > -1e-190, "{below:?}");
            for stage in Stage::all(1) {
                assert!(stats.unresolved(stage, 0).is_none(), "{stage}");
                assert_eq!(
                    stats.unresolved(stage, 1).is_some(),
                    stage == Stage::Post(1)
                );
            }
        }
    }
}
