//! The gradient of every layer fused with the optimiser step on it, for sample training (issue
//! #14 item 6).
//!
//! `train::backprop` then `train::update` (kept for the cumulant objective) write every
//! layer's ∂W (14 MB for 784-1000-1000-10 in f64) and read it back, and run the memory-bound
//! optimiser sweep (p, m, v streamed from and to memory) after all the compute-bound GEMMs, so
//! two cores can only share the sweep's bandwidth. Here, once δ of every layer is known (the
//! δ pass reads each Wˡ before its step), one parallel sweep over pieces — blocks of columns of
//! every layer's W, and every layer's b — computes the piece's gradient and applies the
//! optimiser to it at once:
//! - a W block: ∂W\[:, j₀..j₁\] = δ·a\[j₀..j₁, :\]ᵀ (a the layer's input), a sequential GEMM into
//!   a per-thread scratch of at most [`BLOCK_ENTRIES`] entries that stays in L2 while the
//!   optimiser reads it; one thread's GEMM overlaps the other's memory stream;
//! - a b: ∂b = Σ_batch δ (`train::bias_gradient`, each row summed in batch order).
//!
//! Every entry of ∂W is the sum over the batch that the whole-matrix GEMM forms (the block
//! splits the output columns, never the batch), and the optimiser reads only its own p, g, m,
//! v: the step gives the same numbers as `backprop` + `update` on any number of threads
//! (tested: `fused_step_equals_backprop_then_update`, `tests/suite/train_threads.rs`).

use std::sync::Mutex;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::precision::Real;
use super::train::{bias_gradient, col_slice_mut, zeros_like, Rule};
use super::{ForwardPass, Layer, Mlp};

/// Entries of one W block's gradient: 2¹⁵ (256 KiB in f64) — a 1000-row layer in blocks of 32
/// columns; with δ (1000 × 64, 512 KiB) it fits a Zen 5 core's 1 MiB L2.
pub const BLOCK_ENTRIES: usize = 1 << 15;

/// The optimiser's state (SGD's velocity or Adam's first moment `s1`, Adam's second moment
/// `s2`, shaped like the network) and one gradient block per rayon thread, allocated once per
/// training run.
pub(crate) struct FusedUpdate<T> {
    s1: Vec<Layer<T>>,
    s2: Vec<Layer<T>>,
    blocks: Vec<Mutex<Vec<T>>>,
}

impl<T: Real> FusedUpdate<T> {
    /// Zero state for `net`, and scratch for its largest gradient block, one for each thread of
    /// the current rayon pool.
    pub(crate) fn new(net: &Mlp<T>) -> Self {
        let entries = net
            .layers
            .iter()
            .map(|l| l.fan_out() * block_columns(l.fan_out()).min(l.fan_in()))
            .max()
            .unwrap_or(0);
        let blocks = (0..rayon::current_num_threads())
            .map(|_| Mutex::new(vec![T::from_f64(0.0); entries]))
            .collect();
        FusedUpdate {
            s1: zeros_like(net),
            s2: zeros_like(net),
            blocks,
        }
    }

    /// SGD's velocity or Adam's first moment, shaped like the network: non-zero where a
    /// weight got a gradient (`super::stalled`).
    pub(crate) fn first_moment(&self) -> &[Layer<T>] {
        &self.s1
    }

    /// The first layer (0-based) whose second moment (Adam's v) holds a non-finite entry: a
    /// gradient whose square overflowed (SGD leaves it zero).
    pub(crate) fn second_moment_overflowed(&self) -> Option<usize> {
        self.s2.iter().position(|l| !l.is_finite())
    }
}

/// Columns of W per block for a layer of `rows` outputs: [`BLOCK_ENTRIES`] / rows, at least 1.
fn block_columns(rows: usize) -> usize {
    (BLOCK_ENTRIES / rows.max(1)).max(1)
}

/// A piece of the sweep: a block of columns of layer `layer`'s W starting at column `start`,
/// or the layer's b; with its optimiser state.
enum Piece<'a, T> {
    Weights {
        layer: usize,
        start: usize,
        p: MatMut<'a, T>,
        m: MatMut<'a, T>,
        v: MatMut<'a, T>,
    },
    Bias {
        layer: usize,
        p: &'a mut [T],
        m: &'a mut [T],
        v: &'a mut [T],
    },
}

impl<T: Real> FusedUpdate<T> {
    /// Every layer's ∂W = δ·aᵀ and ∂b = Σ_batch δ, each piece followed at once by the
    /// optimiser step `rule` on it, in one parallel sweep. `deltas` hold δ of every layer for
    /// the batch `x` (b columns) whose forward pass is `fp`. A bias-free layer's b stays 0.
    pub(crate) fn step(
        &mut self,
        net: &mut Mlp<T>,
        x: MatRef<'_, T>,
        fp: &ForwardPass<T>,
        deltas: &[Mat<T>],
        rule: Rule<T>,
    ) {
        let scratch = &self.blocks;
        let b = x.ncols();
        let mut pieces = Vec::new();
        for (layer, (((p, m), v), &bias_free)) in net
            .layers
            .iter_mut()
            .zip(self.s1.iter_mut())
            .zip(self.s2.iter_mut())
            .zip(&net.bias_free)
            .enumerate()
        {
            let cols = block_columns(p.fan_out());
            let (mut pw, mut mw, mut vw) = (p.w.as_mut(), m.w.as_mut(), v.w.as_mut());
            let mut start = 0;
            while pw.ncols() > 0 {
                let take = cols.min(pw.ncols());
                let (p0, p1) = pw.split_at_col_mut(take);
                let (m0, m1) = mw.split_at_col_mut(take);
                let (v0, v1) = vw.split_at_col_mut(take);
                pieces.push(Piece::Weights {
                    layer,
                    start,
                    p: p0,
                    m: m0,
                    v: v0,
                });
                (pw, mw, vw) = (p1, m1, v1);
                start += take;
            }
            if !bias_free {
                pieces.push(Piece::Bias {
                    layer,
                    p: col_slice_mut(&mut p.b),
                    m: col_slice_mut(&mut m.b),
                    v: col_slice_mut(&mut v.b),
                });
            }
        }
        let input = |layer: usize| if layer == 0 { x } else { fp.post(layer) };
        let arch = pulp::Arch::new();
        let piece = |piece: Piece<'_, T>| match piece {
            Piece::Weights {
                layer,
                start,
                mut p,
                mut m,
                mut v,
            } => {
                let slot = rayon::current_thread_index().unwrap_or(0) % scratch.len();
                let mut block = scratch[slot]
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let entries = p.nrows() * p.ncols();
                let mut g = MatMut::from_column_major_slice_mut(
                    &mut block[..entries],
                    p.nrows(),
                    p.ncols(),
                );
                matmul(
                    g.as_mut(),
                    Accum::Replace,
                    deltas[layer].as_ref().subcols(0, b),
                    input(layer).subrows(start, p.ncols()).transpose(),
                    T::from_f64(1.0),
                    Par::Seq,
                );
                for (((p, g), m), v) in p
                    .as_mut()
                    .col_iter_mut()
                    .zip(g.as_ref().col_iter())
                    .zip(m.as_mut().col_iter_mut())
                    .zip(v.as_mut().col_iter_mut())
                {
                    rule.dispatch(
                        arch,
                        p.try_as_col_major_mut().unwrap().as_slice_mut(),
                        g.try_as_col_major().unwrap().as_slice(),
                        m.try_as_col_major_mut().unwrap().as_slice_mut(),
                        v.try_as_col_major_mut().unwrap().as_slice_mut(),
                    );
                }
            }
            Piece::Bias { layer, p, m, v } => {
                let mut g = vec![T::from_f64(0.0); p.len()];
                bias_gradient(deltas[layer].as_ref().subcols(0, b), &mut g);
                rule.dispatch(arch, p, &g, m, v);
            }
        };
        if rayon::current_num_threads() > 1 {
            pieces.into_par_iter().for_each(piece);
        } else {
            pieces.into_iter().for_each(piece);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::train::{
        backprop, propagate_delta, update, zeros_like, Optimizer, TrainConfig,
    };
    use crate::net::{Activation, Precision};

    /// Three steps of the fused sweep against `backprop` + `update` from the same start, on
    /// 1 and 2 threads, both optimisers, f64 and f32: weights, biases and optimiser state
    /// bit-identical. The widths make blocks of 32 (1000 rows), 109 (300 rows) and all
    /// columns (7 rows) with a short last block, the 1000-wide GEMMs large enough that faer
    /// splits them on 2 threads, and one layer bias-free.
    #[test]
    fn fused_step_equals_backprop_then_update() {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for optimizer in [Optimizer::Adam, Optimizer::Sgd] {
                pool.install(|| {
                    compare::<f64>(optimizer);
                    compare::<f32>(optimizer);
                });
            }
        }
    }

    fn compare<T: Real>(optimizer: Optimizer) {
        let widths = [300, 1000, 1000, 300, 7];
        let mut net = Mlp::init(&widths, Activation::Gelu, 1.0, 5)
            .unwrap()
            .cast::<T>();
        net.bias_free[2] = true;
        let cfg = TrainConfig {
            epochs: 1,
            batch: 64,
            lr: 1e-3,
            loss: crate::net::train::Loss::Ce,
            optimizer,
            momentum: 0.9,
            seed: 1,
            precision: Precision::F64,
        };
        let b = 61;
        let x = Mat::from_fn(widths[0], b, |i, j| {
            T::from_f64(((7 * i + 3 * j) as f64 * 0.13).sin())
        });
        let (mut plain, mut fused) = (net.clone(), net);
        let (mut s1, mut s2) = (zeros_like(&plain), zeros_like(&plain));
        let mut grads = zeros_like(&plain);
        let mut state = FusedUpdate::new(&fused);
        let mut fp = ForwardPass::new(&plain, b);
        let mut deltas: Vec<Mat<T>> = plain
            .layers
            .iter()
            .map(|l| Mat::zeros(l.fan_out(), b))
            .collect();
        let out = |deltas: &mut [Mat<T>], step: i32| {
            let last = deltas.last_mut().unwrap();
            for j in 0..b {
                for i in 0..last.nrows() {
                    last[(i, j)] = T::from_f64(((i + 2 * j + step as usize) as f64).cos() / 64.0);
                }
            }
        };
        for step in 1..=3 {
            plain.forward_into(x.as_ref(), &mut fp);
            out(&mut deltas, step);
            backprop(&plain, x.as_ref(), &fp, &mut deltas, &mut grads);
            update(&mut plain, &grads, &mut s1, &mut s2, &cfg, step);

            fused.forward_into(x.as_ref(), &mut fp);
            out(&mut deltas, step);
            for l in (1..fused.layers.len()).rev() {
                propagate_delta(&fused, l, &fp, &mut deltas, b);
            }
            state.step(&mut fused, x.as_ref(), &fp, &deltas, Rule::new(&cfg, step));
        }
        let same =
            |a: &[Layer<T>], b: &[Layer<T>]| a.iter().zip(b).all(|(a, b)| a.w == b.w && a.b == b.b);
        let label = format!("{optimizer:?} {}", std::any::type_name::<T>());
        assert!(
            same(&plain.layers, &fused.layers),
            "weights differ: {label}"
        );
        assert!(
            same(&s1, &state.s1) && same(&s2, &state.s2),
            "state differs: {label}"
        );
        assert!(fused.layers[2].b.iter().all(|&v| v == T::from_f64(0.0)));
    }
}
