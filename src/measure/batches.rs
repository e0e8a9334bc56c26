//! The batch loop behind every stage's statistics (DESIGN.md §1): the samples in class order,
//! `batch` at a time, through the network, and every stage's values into its accumulator.
//!
//! With two batch buffers the forward pass of batch k + 1 runs beside the statistics of batch k
//! (`rayon::join`): the forward pass is a few GEMMs and an elementwise sweep, the statistics
//! per-batch passes over the values and a blocked Gram; neither keeps both cores busy alone.
//! Each accumulator still sees the batches in order and the forward pass computes each batch
//! exactly as before, so every number is the one the sequential loop gives. Because the two
//! overlap, their time is recorded once, as the one stage [`STAGE`], with the flops of both
//! (the forward pass's [`flops::forward`] and the products the accumulators did,
//! [`MomentAccumulator::flops`]).

use faer::{Mat, MatRef};
use rayon::prelude::*;

use crate::data::{Columns, Labelled};
use crate::error::{Error, Result};
use crate::io::par_zeros;
use crate::net::{ForwardPass, Mlp, Stage};
use crate::stats::MomentAccumulator;
use crate::timing::{flops, Timings};

use super::range::{check_class_range, Unresolved};

/// The stage name under which the forward passes and the per-batch statistics are recorded.
pub const STAGE: &str = "forward pass + statistics";

/// One batch's inputs, taken in class order, and the network's values on them.
struct Slot {
    x: Mat<f64>,
    fp: ForwardPass,
    labels: Vec<u32>,
    len: usize,
}

impl Slot {
    fn new(net: &Mlp, batch: usize) -> Self {
        Slot {
            x: par_zeros(net.input_dim(), batch),
            fp: ForwardPass::new(net, batch),
            labels: Vec::with_capacity(batch),
            len: 0,
        }
    }

    /// Gathers the samples `chunk` of `data` and runs them through `net`.
    fn forward(&mut self, net: &Mlp, data: Labelled<'_>, chunk: &[usize]) {
        self.len = chunk.len();
        data.gather(
            chunk.iter().copied(),
            self.x.as_mut().subcols_mut(0, self.len),
        );
        net.forward_into(self.x.as_ref().subcols(0, self.len), &mut self.fp);
        self.labels.clear();
        self.labels.extend(chunk.iter().map(|&j| data.labels[j]));
    }

    /// The values of `stage` on this batch.
    fn values(&self, stage: Stage) -> MatRef<'_, f64> {
        match stage {
            Stage::Input => self.x.as_ref().subcols(0, self.len),
            Stage::Pre(l) => self.fp.pre(l),
            Stage::Post(l) => self.fp.post(l),
            Stage::Output => self.fp.output(),
        }
    }
}

/// Pushes `data` through `net` in batches of `batch` samples taken in class order, each
/// stage's values into its accumulator, shows each batch's output and labels to
/// `seen(y, labels)` (batches in order), and calls `done(accs, c)` right after the batch that
/// holds class c's last sample, after refusing class c if its spread at some stage lies outside
/// f64's range ([`super::range`]); returns the hidden stages and classes whose spread lies below
/// it (passed, their figures to withhold). With `overlap` the next batch's forward pass runs beside this
/// batch's statistics (twice the batch buffers; see the module docs); without, one after the
/// other. Recorded as [`STAGE`].
pub(super) fn accumulate(
    net: &Mlp,
    data: Labelled<'_>,
    (batch, overlap): (usize, bool),
    (stages, accs): (&[Stage], &mut [MomentAccumulator]),
    timings: &Timings,
    (mut seen, mut done): (
        impl FnMut(MatRef<'_, f64>, &[u32]) + Send,
        impl FnMut(&mut [MomentAccumulator], usize) -> Result<()>,
    ),
) -> Result<Vec<Unresolved>> {
    let batch = batch.min(data.len()).max(1);
    let widths = net.widths();
    // Pixels scaled from bytes are finite: the input's accumulator skips the scan for NaN.
    let pixels = matches!(data.columns, Columns::Pixels { .. });
    let order = class_order(data.labels);
    let chunks: Vec<&[usize]> = order.chunks(batch).collect();
    let forward_flops = |k: usize| {
        chunks
            .get(k)
            .map_or(0.0, |c| flops::forward(&widths, c.len()))
    };
    // `cur` holds the batch whose statistics are next; `spare` (with `overlap`) the next one.
    // Their buffers (for MNIST's 784-wide input, two × 6.4 MB of x alone) are zeroed within the
    // stage's first call, so that the time of their page faults is the stage's, not a gap
    // between stages; the spare's beside the first batch's forward pass.
    let (mut cur, mut spare) = timings.time(STAGE, forward_flops(0), || {
        let (cur, spare) = rayon::join(
            || {
                let mut cur = Slot::new(net, batch);
                if let Some(first) = chunks.first() {
                    cur.forward(net, data, first);
                }
                cur
            },
            || overlap.then(|| Slot::new(net, batch)),
        );
        if !chunks.is_empty() {
            seen(cur.fp.output(), &cur.labels);
        }
        (cur, spare)
    });
    let mut unresolved = Vec::new();
    for k in 0..chunks.len() {
        let next = chunks.get(k + 1).copied();
        let before: f64 = accs.iter().map(MomentAccumulator::flops).sum();
        timings.time(STAGE, forward_flops(k + 1), || -> Result<()> {
            let finished = match spare.as_mut() {
                Some(spare) => {
                    let (pushed, ()) = rayon::join(
                        || push_all(stages, accs, &cur, pixels),
                        || {
                            if let Some(c) = next {
                                spare.forward(net, data, c);
                                seen(spare.fp.output(), &spare.labels);
                            }
                        },
                    );
                    pushed?;
                    let finished = finished_classes(&cur.labels, next, data);
                    std::mem::swap(&mut cur, spare);
                    finished
                }
                None => {
                    push_all(stages, accs, &cur, pixels)?;
                    let finished = finished_classes(&cur.labels, next, data);
                    if let Some(c) = next {
                        cur.forward(net, data, c);
                        seen(cur.fp.output(), &cur.labels);
                    }
                    finished
                }
            };
            finished.iter().try_for_each(|&c| {
                unresolved.extend(check_class_range(stages, accs, c as usize)?);
                done(&mut *accs, c as usize)
            })
        })?;
        let after: f64 = accs.iter().map(MomentAccumulator::flops).sum();
        timings.add_flops(STAGE, after - before);
    }
    Ok(unresolved)
}

/// Every stage's values of `slot` into its accumulator, the accumulators side by side (each
/// one's Gram blocks are parallel too): each accumulator's sums are its own, so the results do
/// not depend on the schedule; the first error in stage order is the one reported. With
/// `pixels` (the input gathered from bytes, finite by construction) the input's values are
/// not scanned for non-finite ones ([`MomentAccumulator::push_finite`]); every other stage's
/// are, a forward pass can overflow.
fn push_all(
    stages: &[Stage],
    accs: &mut [MomentAccumulator],
    slot: &Slot,
    pixels: bool,
) -> Result<()> {
    let labels = &slot.labels[..slot.len];
    let pushed: Vec<Result<()>> = accs
        .par_iter_mut()
        .zip(stages)
        .map(|(acc, &stage)| match stage {
            Stage::Input if pixels => acc.push_finite(slot.values(stage), labels),
            Stage::Input => acc.push(slot.values(stage), labels),
            _ => acc
                .push(slot.values(stage), labels)
                .map_err(|e| overflowed(e, stage)),
        })
        .collect();
    pushed.into_iter().collect()
}

/// A stage's non-finite value (`MomentAccumulator::push`'s "non-finite value inf at row i,
/// column j of the batch") completed with the stage and its cause: the forward pass of the
/// samples overflowed there (adv28: a quadratic network with weights × 10¹⁰⁰ said only that,
/// naming neither the stage nor the overflow). Other errors pass unchanged.
fn overflowed(e: Error, stage: Stage) -> Error {
    match e {
        Error::Numeric(msg) => Error::Numeric(format!(
            "the forward pass of the samples overflows f64 at {stage}: {msg}; expected \
             pre-activations within f64's range (rescale the model's weights or the data)"
        )),
        e => e,
    }
}

/// The classes whose last sample is in the batch of `labels` (class-ordered): those other than
/// the first class of the next batch (`next`, None after the last batch).
fn finished_classes(labels: &[u32], next: Option<&[usize]>, data: Labelled<'_>) -> Vec<u32> {
    let next = next.and_then(|c| c.first()).map(|&j| data.labels[j]);
    let mut finished: Vec<u32> = labels.to_vec();
    finished.dedup();
    finished.retain(|&c| Some(c) != next);
    finished
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
