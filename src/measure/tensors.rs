//! The samples of the first pre-activation after a start layer, per class, from which the κ
//! tensors carried through depth are measured ([`measure_tensors`], [`super::carried`]).

use faer::{Mat, MatRef};

use crate::data::{class_counts, Labelled};
use crate::error::{Error, Result};
use crate::net::{ForwardPass, Mlp};
pub use crate::propagate::higher::sampled::{measure_tensors, tensor_flops, third_flops};
use crate::propagate::higher::subset::Slices;
use crate::stats::MomentAccumulator;

/// The samples of the first pre-activation after layer `from`, h^{from+1} = W z^{from} + b,
/// grouped by class: entry c is N × n_c (columns in data order), for every class of `data`.
pub fn first_pre_samples<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    from: usize,
    batch: usize,
) -> Result<Vec<Mat<f64>>> {
    if from >= net.depth() {
        return Err(Error::Shape(format!(
            "layer {from} has no hidden pre-activation after it (the network has {} hidden \
             layers)",
            net.depth()
        )));
    }
    let units = net.widths()[from + 1];
    class_samples(net, data.into(), batch, units, &|fp, _| fp.pre(from + 1))
}

/// The samples of layer `from`'s input z^{from} (x for 0), grouped by class as in
/// [`first_pre_samples`]: what the start moments of a run from `from` are measured on (the
/// pilot's jackknife of its start half, [`super::carried`]).
pub fn start_samples<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    from: usize,
    batch: usize,
) -> Result<Vec<Mat<f64>>> {
    if from > net.depth() {
        return Err(Error::Shape(format!(
            "layer {from} of a network of {} hidden layers",
            net.depth()
        )));
    }
    let units = net.widths()[from];
    if from == 0 {
        class_samples(net, data.into(), batch, units, &|_, x| x)
    } else {
        class_samples(net, data.into(), batch, units, &|fp, _| fp.post(from))
    }
}

/// The network's outputs y of `data`'s samples grouped by class: entry c is K × n_c (columns
/// in data order), for every class of `data` (the held-out draws of the pilot of a data start,
/// [`crate::propagate::higher::pilot::held_out_check`]).
pub fn class_outputs<'a>(
    net: &Mlp,
    data: impl Into<Labelled<'a>>,
    batch: usize,
) -> Result<Vec<Mat<f64>>> {
    class_samples(net, data.into(), batch, net.output_dim(), &|fp, _| {
        fp.output()
    })
}

/// One stage of `data`'s forward passes (`stage`, `units` rows), grouped by class.
fn class_samples(
    net: &Mlp,
    data: Labelled<'_>,
    batch: usize,
    units: usize,
    stage: &dyn for<'f> Fn(&'f ForwardPass, MatRef<'f, f64>) -> MatRef<'f, f64>,
) -> Result<Vec<Mat<f64>>> {
    let counts = class_counts(data.labels, data.n_classes)?;
    let mut out: Vec<Mat<f64>> = counts.iter().map(|&c| Mat::zeros(units, c)).collect();
    let mut filled = vec![0usize; data.n_classes];
    let batch = batch.clamp(1, data.len().max(1));
    let mut fp = ForwardPass::new(net, batch);
    let mut converted = Mat::new();
    for start in (0..data.len()).step_by(batch) {
        let len = batch.min(data.len() - start);
        let x = data.range(start, len, &mut converted);
        net.forward_into(x, &mut fp);
        let h = stage(&fp, x);
        for (s, &label) in data.labels[start..start + len].iter().enumerate() {
            let c = label as usize;
            out[c].col_mut(filled[c]).copy_from(h.col(s));
            filled[c] += 1;
        }
    }
    Ok(out)
}

/// The κ₃\[i,i,j\], κ₄\[i,i,j,j\], κ₄\[i,i,i,j\] slices of the samples in the columns of `h`
/// (one class; [`MomentAccumulator`]'s estimates), the κ₄ slices zero at `order` 3: the start
/// of the subset carry.
pub fn sample_slices(h: MatRef<'_, f64>, order: usize) -> Result<Slices> {
    // The subset carry works in natural units.
    let (k3_iij, k4_iijj, k4_iiij) =
        MomentAccumulator::of_one_class(h, true)?.into_natural_slices();
    let missing = || Error::Numeric("the κ slices of the samples were not measured".into());
    let k4 = |s: Option<Mat<f64>>| -> Result<Mat<f64>> {
        if order >= 4 {
            s.ok_or_else(missing)
        } else {
            Ok(Mat::zeros(h.nrows(), h.nrows()))
        }
    };
    Ok(Slices {
        k3_iij: k3_iij.ok_or_else(missing)?,
        k4_iijj: k4(k4_iijj)?,
        k4_iiij: k4(k4_iiij)?,
    })
}
