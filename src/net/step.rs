//! One mini-batch step of sample training, arranged so that the threads meet twice per step
//! instead of at every GEMM (issue #14 item 6):
//! 1. the batch's two halves (columns \[0, ⌈b/2⌉) and the rest: a split fixed by the batch,
//!    not by the thread count) run the forward pass, the loss and the backpropagation of
//!    δˡ⁻¹ = (Wˡ)ᵀδˡ ∘ φ'(hˡ⁻¹) concurrently (`rayon::join`), each with sequential GEMMs;
//! 2. one parallel sweep over blocks of [`GRAD_COLUMNS`] columns of every layer's W computes
//!    that block of ∂W = δ·aᵀ over the whole batch (a sequential GEMM whose result stays in
//!    cache) and applies the optimiser to it at once; each layer's first block also sums δ's
//!    rows in batch order into ∂b and updates b.
//!
//! A GEMM split over threads synchronises them several times per call; with ten or more such
//! calls per step, a second thread that is descheduled for a moment (a loaded or shared
//! machine) stalls the first one at each of them. Here every number is computed by one
//! sequential piece of code whose shape depends only on the batch and the layer widths, so
//! the result does not depend on the thread count (tested: `tests/train_threads.rs`), and on
//! one thread the step is the same arithmetic run in sequence.

use faer::linalg::matmul::matmul;
use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::forward::argmax_columns;
use super::kernels::add_bias;
use super::precision::Real;
use super::train::{loss_and_delta, Loss, Rule};
use super::{Layer, Mlp};

/// Width of the column blocks of ∂W in stage 2: a 1000-row block is 1000 × 32 × 8 B = 256 KiB
/// in f64, inside a Zen 4 / Skylake-X core's 1–2 MiB L2, so the optimiser reads the gradient
/// from cache; a 784-1000-1000-10 network gives 25 + 32 + 32 blocks to share.
pub const GRAD_COLUMNS: usize = 32;

/// The activations and deltas of one batch (capacity `batch` columns), reused every step.
pub(crate) struct StepBuffers<T> {
    /// Hidden layer l+1's pre-activation hˡ⁺¹ (width × batch).
    h: Vec<Mat<T>>,
    /// Hidden layer l+1's post-activation zˡ⁺¹.
    z: Vec<Mat<T>>,
    /// The network's output y.
    y: Mat<T>,
    /// δ of every layer (its output's width × batch); the last is the read-out's, ∂loss/∂y.
    delta: Vec<Mat<T>>,
}

/// The views of one half-batch: its columns of x, h, z, y and δ.
struct Half<'a, T> {
    x: MatRef<'a, T>,
    labels: &'a [u32],
    h: Vec<MatMut<'a, T>>,
    z: Vec<MatMut<'a, T>>,
    y: MatMut<'a, T>,
    delta: Vec<MatMut<'a, T>>,
}

/// A piece of stage 2: one column block of a layer's W with its optimiser state, or a
/// layer's b with its state (`None` for a bias-free layer, whose b stays 0).
enum Piece<'a, T> {
    Weights {
        layer: usize,
        /// First column of the block in W.
        start: usize,
        w: MatMut<'a, T>,
        m: MatMut<'a, T>,
        v: MatMut<'a, T>,
    },
    Bias {
        layer: usize,
        b: &'a mut [T],
        m: &'a mut [T],
        v: &'a mut [T],
    },
}

impl<T: Real> StepBuffers<T> {
    /// Buffers for `net` and batches of at most `batch` samples.
    pub fn new(net: &Mlp<T>, batch: usize) -> Self {
        let widths = |layers: &[Layer<T>]| -> Vec<Mat<T>> {
            layers
                .iter()
                .map(|l| Mat::zeros(l.fan_out(), batch))
                .collect()
        };
        StepBuffers {
            h: widths(&net.layers[..net.depth()]),
            z: widths(&net.layers[..net.depth()]),
            y: Mat::zeros(net.output_dim(), batch),
            delta: widths(&net.layers),
        }
    }
}

/// Stage 1 on the batch `x` (d × b) with its labels: forward pass, loss and δ of every layer,
/// the two halves concurrently. Returns (the batch's mean loss, correct argmax predictions);
/// the first half's loss is added first.
pub(crate) fn forward_backward<T: Real>(
    net: &Mlp<T>,
    x: MatRef<'_, T>,
    labels: &[u32],
    loss: Loss,
    buf: &mut StepBuffers<T>,
) -> (f64, usize) {
    let b = x.ncols();
    let mid = b.div_ceil(2);
    let (h0, h1) = split_columns(&mut buf.h, b, mid);
    let (z0, z1) = split_columns(&mut buf.z, b, mid);
    let (d0, d1) = split_columns(&mut buf.delta, b, mid);
    let (y0, y1) = buf.y.as_mut().subcols_mut(0, b).split_at_col_mut(mid);
    let first = Half {
        x: x.subcols(0, mid),
        labels: &labels[..mid],
        h: h0,
        z: z0,
        y: y0,
        delta: d0,
    };
    let second = Half {
        x: x.subcols(mid, b - mid),
        labels: &labels[mid..b],
        h: h1,
        z: z1,
        y: y1,
        delta: d1,
    };
    let (a, c) = rayon::join(
        || half_step(net, first, loss, b),
        || half_step(net, second, loss, b),
    );
    (a.0 + c.0, a.1 + c.1)
}

/// Columns \[0, mid) and \[mid, b) of every matrix.
fn split_columns<T: Real>(
    mats: &mut [Mat<T>],
    b: usize,
    mid: usize,
) -> (Vec<MatMut<'_, T>>, Vec<MatMut<'_, T>>) {
    mats.iter_mut()
        .map(|m| m.as_mut().subcols_mut(0, b).split_at_col_mut(mid))
        .unzip()
}

/// Forward pass, loss and δ of one half-batch with sequential GEMMs, the loss and δ scaled by
/// the whole batch's size `b`. Returns (the half's part of the batch's mean loss, correct
/// predictions).
fn half_step<T: Real>(net: &Mlp<T>, half: Half<'_, T>, loss: Loss, b: usize) -> (f64, usize) {
    let Half {
        x,
        labels,
        mut h,
        mut z,
        mut y,
        mut delta,
    } = half;
    let one = T::from_f64(1.0);
    let depth = net.depth();
    for (l, layer) in net.layers.iter().enumerate() {
        let input = if l == 0 { x } else { z[l - 1].as_ref() };
        let bias = layer.b.as_ref().try_as_col_major().unwrap().as_slice();
        if l == depth {
            matmul(
                y.rb_mut(),
                Accum::Replace,
                layer.w.as_ref(),
                input,
                one,
                Par::Seq,
            );
            for yc in y.rb_mut().col_iter_mut() {
                add_bias(yc.try_as_col_major_mut().unwrap().as_slice_mut(), bias);
            }
            break;
        }
        matmul(
            h[l].rb_mut(),
            Accum::Replace,
            layer.w.as_ref(),
            input,
            one,
            Par::Seq,
        );
        let act = net.activation.at(l);
        for (hc, zc) in h[l]
            .rb_mut()
            .col_iter_mut()
            .zip(z[l].rb_mut().col_iter_mut())
        {
            T::bias_activation(
                act,
                hc.try_as_col_major_mut().unwrap().as_slice_mut(),
                bias,
                zc.try_as_col_major_mut().unwrap().as_slice_mut(),
            );
        }
    }
    let hits = argmax_columns(y.as_ref())
        .zip(labels)
        .filter(|(p, &l)| *p == l as usize)
        .count();
    let mean = loss_and_delta(loss, y.as_ref(), labels, delta[depth].rb_mut(), b);
    for l in (1..=depth).rev() {
        let (below, above) = delta.split_at_mut(l);
        let g = &mut below[l - 1];
        matmul(
            g.rb_mut(),
            Accum::Replace,
            net.layers[l].w.transpose(),
            above[0].as_ref(),
            one,
            Par::Seq,
        );
        let act = net.activation.at(l - 1);
        for (gc, hc) in g.rb_mut().col_iter_mut().zip(h[l - 1].as_ref().col_iter()) {
            T::mul_derivative(
                act,
                hc.try_as_col_major().unwrap().as_slice(),
                gc.try_as_col_major_mut().unwrap().as_slice_mut(),
            );
        }
    }
    (mean, hits)
}

/// Stage 2: every layer's ∂W = δ·aᵀ block by block (a sequential GEMM over the whole batch
/// into a per-thread scratch block), each block followed at once by the optimiser step on it,
/// and every layer's ∂b = Σ_batch δ (each row summed in batch order) with b's step, in one
/// parallel sweep. `x` is the batch stage 1 ran on.
pub(crate) fn gradient_update<T: Real>(
    net: &mut Mlp<T>,
    x: MatRef<'_, T>,
    buf: &StepBuffers<T>,
    s1: &mut [Layer<T>],
    s2: &mut [Layer<T>],
    rule: Rule<T>,
) {
    let b = x.ncols();
    let rows = net.layers.iter().map(Layer::fan_out).max().unwrap_or(0);
    let mut pieces = Vec::new();
    for (layer, ((p, m), v)) in net
        .layers
        .iter_mut()
        .zip(s1.iter_mut())
        .zip(s2.iter_mut())
        .enumerate()
    {
        let (mut w, mut mw, mut vw) = (p.w.as_mut(), m.w.as_mut(), v.w.as_mut());
        let mut start = 0;
        while w.ncols() > 0 {
            let cols = GRAD_COLUMNS.min(w.ncols());
            let (w0, w1) = w.split_at_col_mut(cols);
            let (m0, m1) = mw.split_at_col_mut(cols);
            let (v0, v1) = vw.split_at_col_mut(cols);
            pieces.push(Piece::Weights {
                layer,
                start,
                w: w0,
                m: m0,
                v: v0,
            });
            (w, mw, vw) = (w1, m1, v1);
            start += cols;
        }
        if !net.bias_free[layer] {
            pieces.push(Piece::Bias {
                layer,
                b: col_slice_mut(&mut p.b),
                m: col_slice_mut(&mut m.b),
                v: col_slice_mut(&mut v.b),
            });
        }
    }
    let input = |layer: usize| -> MatRef<'_, T> {
        if layer == 0 {
            x
        } else {
            buf.z[layer - 1].as_ref().subcols(0, b)
        }
    };
    let arch = pulp::Arch::new();
    pieces.into_par_iter().for_each_init(
        || Mat::<T>::zeros(rows, GRAD_COLUMNS),
        |scratch, piece| match piece {
            Piece::Weights {
                layer,
                start,
                mut w,
                mut m,
                mut v,
            } => {
                let delta = buf.delta[layer].as_ref().subcols(0, b);
                let a = input(layer).subrows(start, w.ncols());
                let mut g = scratch.as_mut().submatrix_mut(0, 0, w.nrows(), w.ncols());
                let one = T::from_f64(1.0);
                matmul(
                    g.rb_mut(),
                    Accum::Replace,
                    delta,
                    a.transpose(),
                    one,
                    Par::Seq,
                );
                for j in 0..w.ncols() {
                    rule.apply_dispatched(
                        arch,
                        col_mut(w.rb_mut(), j),
                        g.rb().col(j).try_as_col_major().unwrap().as_slice(),
                        col_mut(m.rb_mut(), j),
                        col_mut(v.rb_mut(), j),
                    );
                }
            }
            Piece::Bias { layer, b: p, m, v } => {
                let delta = buf.delta[layer].as_ref().subcols(0, b);
                let g: Vec<T> = (0..delta.nrows())
                    .map(|i| delta.row(i).iter().fold(T::from_f64(0.0), |s, &d| s + d))
                    .collect();
                rule.apply_dispatched(arch, p, &g, m, v);
            }
        },
    );
}

/// Column j of a column-major matrix as a slice.
fn col_mut<T: Real>(m: MatMut<'_, T>, j: usize) -> &mut [T] {
    m.col_mut(j).try_as_col_major_mut().unwrap().as_slice_mut()
}

fn col_slice_mut<T: Real>(c: &mut faer::Col<T>) -> &mut [T] {
    c.as_mut().try_as_col_major_mut().unwrap().as_slice_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::train::{backprop, update, zeros_like, Optimizer, TrainConfig};
    use crate::net::{Activation, ForwardPass, Precision};

    /// One step through the two stages against the plain path (whole-batch forward pass,
    /// [`backprop`], [`update`], itself checked against finite differences): the same loss,
    /// hits and parameters to rounding, for an odd batch (halves of 4 and 3 columns), a
    /// bias-free layer, both optimisers and a hidden width above [`GRAD_COLUMNS`].
    #[test]
    fn two_stages_match_the_plain_step() {
        for (act, loss, optimizer) in [
            (Activation::Tanh, Loss::Mse, Optimizer::Adam),
            (Activation::Gelu, Loss::Ce, Optimizer::Sgd),
            (Activation::Relu, Loss::Ce, Optimizer::Adam),
        ] {
            let mut net = Mlp::init(&[5, 40, 6, 3], act, 1.0, 3).unwrap();
            net.bias_free[1] = true;
            let x = Mat::from_fn(5, 7, |i, j| ((3 * i + 5 * j) as f64 * 0.41).cos());
            let labels = [0u32, 2, 1, 1, 0, 2, 1];
            let cfg = TrainConfig {
                epochs: 1,
                batch: 7,
                lr: 0.05,
                loss,
                optimizer,
                momentum: 0.9,
                seed: 1,
                precision: Precision::F64,
            };
            let (mut plain, mut staged) = (net.clone(), net.clone());
            let mut fp = ForwardPass::new(&plain, 7);
            plain.forward_into(x.as_ref(), &mut fp);
            let mut deltas: Vec<Mat<f64>> = net
                .layers
                .iter()
                .map(|l| Mat::zeros(l.fan_out(), 7))
                .collect();
            let plain_loss = loss_and_delta(loss, fp.output(), &labels, deltas[2].as_mut(), 7);
            let plain_hits = argmax_columns(fp.output())
                .zip(&labels)
                .filter(|(p, &l)| *p == l as usize)
                .count();
            let mut grads = zeros_like(&plain);
            backprop(&plain, x.as_ref(), &fp, &mut deltas, &mut grads);
            let (mut m, mut v) = (zeros_like(&plain), zeros_like(&plain));
            update(&mut plain, &grads, &mut m, &mut v, &cfg, 1);

            let mut buf = StepBuffers::new(&staged, 7);
            let (staged_loss, staged_hits) =
                forward_backward(&staged, x.as_ref(), &labels, loss, &mut buf);
            let (mut m, mut v) = (zeros_like(&staged), zeros_like(&staged));
            let rule = Rule::new(&cfg, 1);
            gradient_update(&mut staged, x.as_ref(), &buf, &mut m, &mut v, rule);

            assert!((plain_loss - staged_loss).abs() < 1e-14 * plain_loss.abs().max(1.0));
            assert_eq!(plain_hits, staged_hits, "{act}");
            assert!(staged.layers[1].b.iter().all(|&b| b == 0.0), "{act}");
            for (l, (p, s)) in plain.layers.iter().zip(&staged.layers).enumerate() {
                let moved = (&p.w - &net.layers[l].w).norm_l2();
                assert!(moved > 0.0, "{act} layer {l} did not move");
                assert!((&p.w - &s.w).norm_l2() <= 1e-12 * moved, "{act} W{l}");
                assert!((&p.b - &s.b).norm_l2() <= 1e-12 * moved, "{act} b{l}");
            }
        }
    }
}
