//! The f32 layer loop: narrow the start Σ once, then per layer the f32 affine update, the f32
//! closure (or the f64 one on a widened Σ), each stage widened to f64 for the caller.

use faer::Mat;

use super::closure::{apply_f32, has_f32_lanes};
use crate::error::Result;
use crate::net::Mlp;
use crate::propagate::affine::{affine_mean, Stacked};
use crate::propagate::closures::{Closure, ClosureMethod, Corrections};
use crate::propagate::Predicted;
use crate::stats::Moments;
use crate::timing::{affine_flops, Timings};

/// The f32 buffers of a propagation: the stacked affine update, W rounded to f32, and per class
/// the Σ of the stage being mapped (`cur`) and of the pre-activation (`pre`).
#[derive(Clone, Debug)]
pub struct SinglePropagator {
    dense: Stacked<f32>,
    w: Mat<f32>,
    cur: Vec<Mat<f32>>,
    pre: Vec<Mat<f32>>,
}

impl Default for SinglePropagator {
    fn default() -> Self {
        SinglePropagator {
            dense: Stacked::default(),
            w: Mat::new(),
            cur: Vec::new(),
            pre: Vec::new(),
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
        self.cur.resize_with(classes, Mat::new);
        self.pre.resize_with(classes, Mat::new);
        timings.time("f32 ↔ f64", 0.0, || {
            for (cur, m) in self.cur.iter_mut().zip(start) {
                narrow(&m.cov, cur);
            }
        });
        let depth = net.depth();
        for l in from + 1..=depth + 1 {
            let layer = &net.layers[l - 1];
            let k = 2 * (l - from - 1);
            let (done, rest) = stages.split_at_mut(k);
            let inputs = done.last().map_or(start, |p| p.per_class.as_slice());
            let [pre, post @ ..] = rest else {
                unreachable!("the caller labelled every stage")
            };
            self.w
                .resize_with(layer.fan_out(), layer.fan_in(), |_, _| 0.0);
            narrow(&layer.w, &mut self.w);
            let flops = affine_flops(layer.fan_out(), layer.fan_in(), classes);
            timings.time("affine", flops, || {
                self.dense
                    .multiply(self.w.as_ref(), self.cur.iter().map(Mat::as_ref));
                for ((cov, input), out) in self.pre.iter_mut().zip(inputs).zip(&mut pre.per_class) {
                    cov.resize_with(layer.fan_out(), layer.fan_out(), |_, _| 0.0);
                    affine_mean(
                        layer.w.as_ref(),
                        layer.b.as_ref(),
                        &input.mean,
                        &mut out.mean,
                    );
                }
                for (c, cov) in self.pre.iter_mut().enumerate() {
                    self.dense.lower_into(c, cov.as_mut());
                }
            });
            timings.time("f32 ↔ f64", 0.0, || {
                for (cov, out) in self.pre.iter().zip(&mut pre.per_class) {
                    widen(cov, &mut out.cov);
                    out.k3_iij = None;
                    out.k4_iijj = None;
                }
            });
            let Some(post) = post.first_mut() else {
                break;
            };
            let act = net.activation.at(l - 1);
            if has_f32_lanes(act, method) {
                timings.time("closure", 0.0, || {
                    self.pre
                        .iter()
                        .zip(&pre.per_class)
                        .zip(self.cur.iter_mut().zip(&mut post.per_class))
                        .try_for_each(|((cov, h), (cur, z))| {
                            apply_f32(act, &h.mean, cov, &mut z.mean, cur)
                        })
                })?;
                timings.time("f32 ↔ f64", 0.0, || {
                    for (cov, out) in self.cur.iter().zip(&mut post.per_class) {
                        widen(cov, &mut out.cov);
                        out.k3_iij = None;
                        out.k4_iijj = None;
                    }
                });
            } else {
                let closure = fallback[l - 1];
                timings.time("closure", 0.0, || {
                    pre.per_class
                        .iter()
                        .zip(post.per_class.iter_mut())
                        .try_for_each(|(h, z)| closure.apply_into(h, Corrections::None, z))
                })?;
                timings.time("f32 ↔ f64", 0.0, || {
                    for (cur, z) in self.cur.iter_mut().zip(&post.per_class) {
                        narrow(&z.cov, cur);
                    }
                });
            }
        }
        Ok(())
    }
}

/// `out` ← `x` rounded to f32 (resized).
fn narrow(x: &Mat<f64>, out: &mut Mat<f32>) {
    out.resize_with(x.nrows(), x.ncols(), |_, _| 0.0);
    for j in 0..x.ncols() {
        for (d, s) in out.col_as_slice_mut(j).iter_mut().zip(x.col_as_slice(j)) {
            *d = *s as f32;
        }
    }
}

/// `out` ← `x` widened to f64 (exact; resized).
fn widen(x: &Mat<f32>, out: &mut Mat<f64>) {
    out.resize_with(x.nrows(), x.ncols(), |_, _| 0.0);
    for j in 0..x.ncols() {
        for (d, s) in out.col_as_slice_mut(j).iter_mut().zip(x.col_as_slice(j)) {
            *d = f64::from(*s);
        }
    }
}
