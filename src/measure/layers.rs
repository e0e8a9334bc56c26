//! Empirical statistics of every layer of a network, per class, from streamed forward passes
//! (DESIGN.md §1). Memory is bounded by batch × width plus the per-class N² accumulators.

use faer::Mat;

use crate::data::Dataset;
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;
use crate::net::train::check_fits;
use crate::net::{ForwardPass, Mlp, Stage};
use crate::propagate::closures::Corrections;
use crate::stats::{EmpiricalMoments, MomentAccumulator};
use crate::timing::{flops, Timings};

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

    /// Whether `stage` gets the κ slices.
    fn includes(self, stage: Stage) -> bool {
        match self {
            Higher::None => false,
            Higher::Pre => matches!(stage, Stage::Pre(_)),
            Higher::At(at) => stage == at,
        }
    }
}

/// Per-class moments of every stage, in the order of [`Stage::all`].
#[derive(Clone, Debug)]
pub struct LayerStats {
    pub stages: Vec<(Stage, EmpiricalMoments)>,
}

impl LayerStats {
    /// The moments of `stage`.
    pub fn get(&self, stage: Stage) -> Option<&EmpiricalMoments> {
        self.stages
            .iter()
            .find(|(s, _)| *s == stage)
            .map(|(_, m)| m)
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
    Err(Error::Shape(format!(
        "per-class statistics of {n_classes} classes for widths {widths:?} need {bytes} bytes (K × 8 bytes × every stage's d², twice), over the memory limit of {} bytes",
        limit.bytes
    )))
}

/// Measures every stage's per-class moments by pushing `data` through `net` in batches.
pub fn layer_stats(net: &Mlp, data: &Dataset, higher: Higher, batch: usize) -> Result<LayerStats> {
    layer_stats_timed(net, data, higher, batch, &Timings::disabled())
}

/// [`layer_stats`], recording "forward pass" (flops [`flops::forward`]; the time includes
/// gathering each batch's inputs, taken in class order) and "statistics" (per
/// stage of width d and batch of b samples: the Gram's lower triangle [`flops::syrk`]`(d, b)`;
/// with κ slices also Σ(d∘d)dᵀ, [`flops::gemm`]`(d, d, b)`, and the lower triangle of
/// Σ(d∘d)(d∘d)ᵀ, `syrk(d, b)`; the per-class conversion at the end is O(d²) and not counted).
pub fn layer_stats_timed(
    net: &Mlp,
    data: &Dataset,
    higher: Higher,
    batch: usize,
    timings: &Timings,
) -> Result<LayerStats> {
    check_fits(net, data)?;
    if batch == 0 {
        return Err(Error::config(Field::StatsBatch, "must be at least 1"));
    }
    let batch = batch.min(data.len()).max(1);
    let stages = Stage::all(net.depth());
    let widths = net.widths();
    check_class_memory(&widths, data.n_classes, higher, MemoryLimit::default())?;
    let mut accs = stages
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
    let mut fp = ForwardPass::new(net, batch);
    let order = class_order(&data.labels);
    let mut xb = Mat::<f64>::zeros(widths[0], batch);
    let mut labels = Vec::with_capacity(batch);
    for chunk in order.chunks(batch) {
        let len = chunk.len();
        timings.time("forward pass", flops::forward(&widths, len), || {
            for (k, &j) in chunk.iter().enumerate() {
                xb.col_mut(k).copy_from(data.x.col(j));
            }
            net.forward_into(xb.as_ref().subcols(0, len), &mut fp)
        });
        labels.clear();
        labels.extend(chunk.iter().map(|&j| data.labels[j]));
        let (x, labels) = (xb.as_ref().subcols(0, len), labels.as_slice());
        let work: f64 = accs.iter().map(|a| push_flops(a, len)).sum();
        timings.time("statistics", work, || {
            accs.iter_mut().zip(&stages).try_for_each(|(acc, &stage)| {
                let values = match stage {
                    Stage::Input => x,
                    Stage::Pre(l) => fp.pre(l),
                    Stage::Post(l) => fp.post(l),
                    Stage::Output => fp.output(),
                };
                acc.push(values, labels)
            })
        })?;
    }
    let stages = timings.time("statistics", 0.0, || {
        stages
            .into_iter()
            .zip(accs)
            .map(|(s, acc)| Ok((s, acc.into_moments()?)))
            .collect::<Result<Vec<_>>>()
    })?;
    Ok(LayerStats { stages })
}

/// The sample indices ordered by class (stable within a class). Batches taken in this order
/// hold one or two classes each instead of every class, so each class's moment update is one
/// symmetric rank-k product with k ≈ the batch size rather than K products of k ≈ batch / K:
/// its d × d sum is read and written ~K times less often. The sums are the same up to the
/// order of rounding.
fn class_order(labels: &[u32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_by_key(|&j| labels[j]);
    order
}

/// Flops of one [`MomentAccumulator::push`] of `b` samples (see [`layer_stats_timed`]).
fn push_flops(acc: &MomentAccumulator, b: usize) -> f64 {
    let d = acc.dim();
    let kappa = if acc.higher() {
        flops::gemm(d, d, b) + flops::syrk(d, b)
    } else {
        0.0
    };
    flops::syrk(d, b) + kappa
}
