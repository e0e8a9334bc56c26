//! Empirical statistics of every layer of a network, per class, from streamed forward passes
//! (DESIGN.md §1). Memory is bounded by batch × width plus the per-class N² accumulators.

use crate::data::Dataset;
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;
use crate::net::train::check_fits;
use crate::net::{ForwardPass, Mlp, Stage};
use crate::propagate::closures::Corrections;
use crate::stats::{EmpiricalMoments, MomentAccumulator};

/// Which stages also get the κ₃\[i,i,j\] / κ₄\[i,i,j,j\] / κ₄\[i,i,i,j\] slices (they cost
/// three more GEMMs and three more N² sums per class).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Higher {
    /// Mean and covariance only.
    None,
    /// κ slices of the input and of every pre-activation hˡ (where the quadratic closure uses them).
    InputAndPre,
}

impl Higher {
    /// The cumulants to measure beyond the covariance for the closure's `corrections`.
    pub fn for_corrections(corrections: Corrections) -> Self {
        match corrections {
            Corrections::None => Higher::None,
            Corrections::K3 | Corrections::K3K4 => Higher::InputAndPre,
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
/// holds per class a d × d sum, with κ slices three more at x and each hˡ, and finishing copies
/// them once: 2 · 8 · K · (d₀²(1+3h) + Σₗ Nₗ²(2+3h) + N_out²) bytes, h = 1 with κ slices —
/// e.g. 100 classes of a 784-100-100-10 network: 1.05 GB; 10 classes: 105 MB.
fn check_class_memory(
    widths: &[usize],
    n_classes: usize,
    higher: Higher,
    limit: MemoryLimit,
) -> Result<()> {
    let h: u128 = if higher == Higher::InputAndPre { 1 } else { 0 };
    let (first, hidden) = (widths[0] as u128, &widths[1..widths.len() - 1]);
    let out = widths[widths.len() - 1] as u128;
    let squares: u128 = (1 + 3 * h) * first * first
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
            let with_k =
                higher == Higher::InputAndPre && matches!(stage, Stage::Input | Stage::Pre(_));
            MomentAccumulator::new(dim, data.n_classes, with_k)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut fp = ForwardPass::new(net, batch);
    for start in (0..data.len()).step_by(batch) {
        let len = batch.min(data.len() - start);
        let x = data.x.as_ref().subcols(start, len);
        let labels = &data.labels[start..start + len];
        net.forward_into(x, &mut fp);
        for (acc, &stage) in accs.iter_mut().zip(&stages) {
            let values = match stage {
                Stage::Input => x,
                Stage::Pre(l) => fp.pre(l),
                Stage::Post(l) => fp.post(l),
                Stage::Output => fp.output(),
            };
            acc.push(values, labels)?;
        }
    }
    let stages = stages
        .into_iter()
        .zip(&accs)
        .map(|(s, acc)| Ok((s, acc.finish()?)))
        .collect::<Result<Vec<_>>>()?;
    Ok(LayerStats { stages })
}
