//! The layer-by-layer engine: start from the statistics of one layer and map them to the output
//! with the exact affine map (§2) and a closure of the nonlinearity (§3), per class.

use super::affine::{affine_moments, AffineWorkspace};
use super::closures::{closure_for, ClosureMethod, Corrections};
use crate::error::{Error, Result};
use crate::net::Mlp;
use crate::stats::{Moments, Stage};
use crate::timing::{affine_flops, Timings};

/// How to propagate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PropagateOptions {
    pub method: ClosureMethod,
    /// κ₃/κ₄ corrections are applied at the first nonlinearity after the start layer, the only
    /// place where the κ slices are known (they come from the measured pre-activation; the slices
    /// alone cannot be mapped through a further affine layer, DESIGN.md §2).
    pub corrections: Corrections,
}

/// The predicted per-class moments of one stage.
#[derive(Clone, Debug)]
pub struct Predicted {
    pub stage: Stage,
    pub per_class: Vec<Moments>,
}

/// Propagates per-class moments from layer `from` (0 = the input x, l ≥ 1 = the post-activation
/// zˡ) to the output y. Returns every later stage: h^{from+1}, z^{from+1}, …, y.
///
/// `start[c]` are class c's moments of the start layer. With `Corrections::K3K4`, `first_pre[c]`
/// must hold the measured moments of h^{from+1} including their κ slices: the affine map is
/// exact for every cumulant, so measuring h^{from+1} equals mapping the start layer's full κ
/// tensors, which are never formed.
pub fn propagate(
    net: &Mlp,
    from: usize,
    start: &[Moments],
    first_pre: Option<&[Moments]>,
    opts: PropagateOptions,
) -> Result<Vec<Predicted>> {
    propagate_timed(net, from, start, first_pre, opts, &Timings::disabled())
}

/// [`propagate`], recording the time of the "affine" (with its flops) and "closure" stages.
pub fn propagate_timed(
    net: &Mlp,
    from: usize,
    start: &[Moments],
    first_pre: Option<&[Moments]>,
    opts: PropagateOptions,
    timings: &Timings,
) -> Result<Vec<Predicted>> {
    let depth = net.depth();
    if from > depth {
        return Err(Error::flag(
            "--from-layer",
            format!("{from} is beyond the last hidden layer ({depth})"),
        ));
    }
    let width = if from == 0 {
        net.input_dim()
    } else {
        net.layers[from - 1].fan_out()
    };
    if let Some(bad) = start.iter().find(|m| m.dim() != width) {
        return Err(Error::Shape(format!(
            "start statistics have dimension {} but layer {from} has width {width}",
            bad.dim()
        )));
    }
    let closure = closure_for(net.activation, opts.method)?;
    let mut ws = AffineWorkspace::new();
    let mut out = Vec::with_capacity(2 * (depth - from) + 1);
    let classes = start.len();
    for l in from + 1..=depth {
        let layer = &net.layers[l - 1];
        let current = layer_input(&out, start);
        let mut pre = empty_like(classes, layer.fan_out());
        let flops = affine_flops(layer.fan_out(), layer.fan_in(), classes);
        timings.time("affine", flops, || {
            affine_moments(
                layer.w.as_ref(),
                layer.b.as_ref(),
                current,
                &mut pre,
                &mut ws,
            )
        })?;
        let corrections = if l == from + 1 {
            opts.corrections
        } else {
            Corrections::None
        };
        if corrections == Corrections::K3K4 {
            attach_kappa(&mut pre, first_pre, l)?;
        }
        let post = timings.time("closure", 0.0, || {
            pre.iter()
                .map(|h| closure.apply(h, corrections))
                .collect::<Result<Vec<_>>>()
        })?;
        for m in &mut pre {
            m.k3_iij = None;
            m.k4_iijj = None;
        }
        out.push(Predicted {
            stage: Stage::Pre(l),
            per_class: pre,
        });
        out.push(Predicted {
            stage: Stage::Post(l),
            per_class: post,
        });
    }
    let readout = net.layers.last().expect("validated network has a read-out");
    let mut y = empty_like(classes, readout.fan_out());
    let flops = affine_flops(readout.fan_out(), readout.fan_in(), classes);
    timings.time("affine", flops, || {
        affine_moments(
            readout.w.as_ref(),
            readout.b.as_ref(),
            layer_input(&out, start),
            &mut y,
            &mut ws,
        )
    })?;
    out.push(Predicted {
        stage: Stage::Output,
        per_class: y,
    });
    Ok(out)
}

/// What the next affine map reads: the start moments, then the last predicted zˡ (no copies).
fn layer_input<'a>(out: &'a [Predicted], start: &'a [Moments]) -> &'a [Moments] {
    out.last().map_or(start, |p| p.per_class.as_slice())
}

fn empty_like(classes: usize, n: usize) -> Vec<Moments> {
    (0..classes)
        .map(|_| Moments::gaussian(faer::Col::zeros(n), faer::Mat::zeros(n, n)))
        .collect()
}

/// Copies the measured κ slices of h^l into the propagated moments of h^l.
fn attach_kappa(pre: &mut [Moments], measured: Option<&[Moments]>, l: usize) -> Result<()> {
    let measured = measured.ok_or_else(|| {
        Error::Unsupported(format!(
            "κ₃/κ₄ corrections need the measured κ slices of h{l}; none were given"
        ))
    })?;
    if measured.len() != pre.len() {
        return Err(Error::Shape(format!(
            "κ slices for {} classes, propagating {}",
            measured.len(),
            pre.len()
        )));
    }
    for (p, m) in pre.iter_mut().zip(measured) {
        let (Some(k3), Some(k4)) = (&m.k3_iij, &m.k4_iijj) else {
            return Err(Error::Unsupported(format!(
                "the statistics of h{l} carry no κ slices"
            )));
        };
        if k3.nrows() != p.dim() {
            return Err(Error::Shape(format!(
                "κ slices of h{l} are {}×{}, the layer has width {}",
                k3.nrows(),
                k3.ncols(),
                p.dim()
            )));
        }
        p.k3_iij = Some(k3.clone());
        p.k4_iijj = Some(k4.clone());
    }
    Ok(())
}
