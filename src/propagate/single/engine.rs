//! The f32 layer loop: per layer the start Σ of every class rounded to f32 into the stacked
//! affine update, then per class the f32 update, the f32 closure (or the f64 one on the widened
//! Σ), each stage widened to f64 for the caller.

use faer::{Mat, MatMut};
use rayon::prelude::*;

use super::closure::{apply_f32, has_f32_lanes};
use crate::error::Result;
use crate::net::Mlp;
use crate::propagate::affine::{affine_mean, Stacked};
use crate::propagate::closures::{Closure, ClosureMethod, Corrections};
use crate::propagate::Predicted;
use crate::stats::Moments;
use crate::timing::{affine_flops, Timings};

/// The f32 buffers of a propagation: the stacked affine update of every class, W rounded to
/// f32, and one class's pre-activation and post-activation Σ at a time (the stages themselves
/// are the caller's, in f64).
#[derive(Clone, Debug)]
pub struct SinglePropagator {
    dense: Stacked<f32>,
    w: Mat<f32>,
    pre: Mat<f32>,
    post: Mat<f32>,
}

impl Default for SinglePropagator {
    fn default() -> Self {
        SinglePropagator {
            dense: Stacked::default(),
            w: Mat::new(),
            pre: Mat::new(),
            post: Mat::new(),
        }
    }
}

impl SinglePropagator {
    /// Propagates `start` (the moments of layer `from`) to the output with every Σ in f32,
    /// writing each stage widened to f64 into `stages` (already labelled h^{from+1}, …, y with
    /// one slot per class). `fallback[l − 1]` is hidden layer l's f64 closure, used where
    /// [`has_f32_lanes`] says no f32 closure exists.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &mut self,
        net: &Mlp,
        from: usize,
        start: &[Moments],
        method: ClosureMethod,
        fallback: &[&dyn Closure],
        stages: &mut [Predicted],
        timings: &Timings,
    ) -> Result<()> {
        let classes = start.len();
        let depth = net.depth();
        for l in from + 1..=depth + 1 {
            let layer = &net.layers[l - 1];
            let n = layer.fan_out();
            let k = 2 * (l - from - 1);
            let (done, rest) = stages.split_at_mut(k);
            let inputs = done.last().map_or(start, |p| p.per_class.as_slice());
            let [pre, post @ ..] = rest else {
                unreachable!("the caller labelled every stage")
            };
            self.w.resize_with(n, layer.fan_in(), |_, _| 0.0);
            narrow(&layer.w, self.w.as_mut());
            let flops = affine_flops(n, layer.fan_in(), classes);
            timings.time("affine", flops, || {
                self.dense.multiply(self.w.as_ref(), classes, |c, slot| {
                    narrow(&inputs[c].cov, slot)
                });
                for (input, out) in inputs.iter().zip(&mut pre.per_class) {
                    affine_mean(
                        layer.w.as_ref(),
                        layer.b.as_ref(),
                        &input.mean,
                        &mut out.mean,
                    );
                }
            });
            let mut post = post.first_mut();
            let act = (l <= depth).then(|| net.activation.at(l - 1));
            let f32_lanes = act.is_some_and(|a| has_f32_lanes(a, method));
            for c in 0..classes {
                let h = &mut pre.per_class[c];
                timings.time("affine", 0.0, || {
                    self.pre.resize_with(n, n, |_, _| 0.0);
                    self.dense.lower_into(c, self.pre.as_mut());
                });
                timings.time("f32 ↔ f64", 0.0, || widen(&self.pre, &mut h.cov));
                h.k3_iij = None;
                h.k4_iijj = None;
                let (Some(post), Some(act)) = (post.as_deref_mut(), act) else {
                    continue;
                };
                let z = &mut post.per_class[c];
                if f32_lanes {
                    timings.time("closure", 0.0, || {
                        apply_f32(act, &h.mean, &self.pre, &mut z.mean, &mut self.post)
                    })?;
                    timings.time("f32 ↔ f64", 0.0, || widen(&self.post, &mut z.cov));
                    z.k3_iij = None;
                    z.k4_iijj = None;
                } else {
                    let closure = fallback[l - 1];
                    timings.time("closure", 0.0, || {
                        closure.apply_into(h, Corrections::None, z)
                    })?;
                }
            }
        }
        Ok(())
    }
}

/// `out` ← `x` rounded to f32 (`out` has `x`'s shape), columns in parallel.
fn narrow(x: &Mat<f64>, out: MatMut<'_, f32>) {
    out.par_col_iter_mut()
        .zip(x.par_col_iter())
        .for_each(|(d, s)| d.iter_mut().zip(s.iter()).for_each(|(d, s)| *d = *s as f32));
}

/// `out` ← `x` widened to f64 (exact; resized), columns in parallel.
fn widen(x: &Mat<f32>, out: &mut Mat<f64>) {
    out.resize_with(x.nrows(), x.ncols(), |_, _| 0.0);
    out.as_mut()
        .par_col_iter_mut()
        .zip(x.par_col_iter())
        .for_each(|(d, s)| {
            d.iter_mut()
                .zip(s.iter())
                .for_each(|(d, s)| *d = f64::from(*s))
        });
}
