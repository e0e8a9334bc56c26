//! Batched forward pass: one faer GEMM per layer (H = W·A), then the fused bias + activation
//! kernel column by column, parallel over the batch with rayon.

use faer::linalg::matmul::matmul;
use faer::prelude::*;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::{kernels, Mlp};
use crate::data::Dataset;

/// Parallelism for a GEMM of m×k by k×n: sequential below ~1 MFLOP, where spawning costs more
/// than it saves.
pub fn gemm_par(m: usize, n: usize, k: usize) -> Par {
    if m.saturating_mul(n).saturating_mul(k) < (1 << 19) || rayon::current_num_threads() == 1 {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

/// dst ← a·b (+ dst when `accumulate`), with the parallelism chosen by [`gemm_par`].
pub fn gemm(
    dst: MatMut<'_, f64>,
    accumulate: bool,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
    alpha: f64,
) {
    let par = gemm_par(a.nrows(), b.ncols(), a.ncols());
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    matmul(dst, accum, a, b, alpha, par);
}

/// The activations of every layer for one batch, kept for statistics and backpropagation.
/// `h[l]`, `z[l]` are hidden layer l+1's pre- and post-activation (width × batch); `y` the output.
/// Buffers are allocated for `capacity` columns once and reused for every batch.
#[derive(Clone, Debug)]
pub struct ForwardPass {
    pub h: Vec<Mat<f64>>,
    pub z: Vec<Mat<f64>>,
    pub y: Mat<f64>,
    batch: usize,
}

impl ForwardPass {
    /// Buffers for `net` and batches of at most `capacity` samples.
    pub fn new(net: &Mlp, capacity: usize) -> Self {
        let hidden: Vec<usize> = net.layers[..net.depth()]
            .iter()
            .map(|l| l.fan_out())
            .collect();
        ForwardPass {
            h: hidden.iter().map(|&n| Mat::zeros(n, capacity)).collect(),
            z: hidden.iter().map(|&n| Mat::zeros(n, capacity)).collect(),
            y: Mat::zeros(net.output_dim(), capacity),
            batch: 0,
        }
    }

    /// Number of samples in the last batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Hidden layer `l` (1-based) pre-activation of the last batch.
    pub fn pre(&self, l: usize) -> MatRef<'_, f64> {
        self.h[l - 1].as_ref().subcols(0, self.batch)
    }

    /// Hidden layer `l` (1-based) post-activation of the last batch.
    pub fn post(&self, l: usize) -> MatRef<'_, f64> {
        self.z[l - 1].as_ref().subcols(0, self.batch)
    }

    /// Network output of the last batch.
    pub fn output(&self) -> MatRef<'_, f64> {
        self.y.as_ref().subcols(0, self.batch)
    }
}

impl Mlp {
    /// Runs the batch `x` (d_in × b, b ≤ capacity) through the network into `fp`.
    pub fn forward_into(&self, x: MatRef<'_, f64>, fp: &mut ForwardPass) {
        let b = x.ncols();
        assert!(
            b <= fp.y.ncols(),
            "batch {b} exceeds the forward buffers' capacity"
        );
        assert_eq!(
            x.nrows(),
            self.input_dim(),
            "input rows must equal the network's input width"
        );
        fp.batch = b;
        let act = self.activation;
        for (l, layer) in self.layers[..self.depth()].iter().enumerate() {
            let (before, rest) = fp.z.split_at_mut(l);
            let input = if l == 0 {
                x
            } else {
                before[l - 1].as_ref().subcols(0, b)
            };
            let mut h = fp.h[l].as_mut().subcols_mut(0, b);
            gemm(h.rb_mut(), false, layer.w.as_ref(), input, 1.0);
            let z = rest[0].as_mut().subcols_mut(0, b);
            let bias = layer.b.as_ref().try_as_col_major().unwrap().as_slice();
            h.par_col_iter_mut()
                .zip(z.par_col_iter_mut())
                .for_each(|(h, z)| {
                    let h = h.try_as_col_major_mut().unwrap().as_slice_mut();
                    let z = z.try_as_col_major_mut().unwrap().as_slice_mut();
                    kernels::bias_activation(act, h, bias, z);
                });
        }
        let readout = self.layers.last().expect("validated network has layers");
        let input = if self.depth() == 0 {
            x
        } else {
            fp.z[self.depth() - 1].as_ref().subcols(0, b)
        };
        let mut y = fp.y.as_mut().subcols_mut(0, b);
        gemm(y.rb_mut(), false, readout.w.as_ref(), input, 1.0);
        let bias = readout.b.as_ref().try_as_col_major().unwrap().as_slice();
        y.par_col_iter_mut().for_each(|y| {
            kernels::add_bias(y.try_as_col_major_mut().unwrap().as_slice_mut(), bias);
        });
    }

    /// Predicted class (argmax of the output) of every sample in `data`, in batches of `batch`.
    pub fn predict(&self, x: MatRef<'_, f64>, batch: usize) -> Vec<usize> {
        let batch = batch.max(1);
        let mut fp = ForwardPass::new(self, batch.min(x.ncols().max(1)));
        let mut out = Vec::with_capacity(x.ncols());
        for start in (0..x.ncols()).step_by(batch) {
            let len = batch.min(x.ncols() - start);
            self.forward_into(x.subcols(start, len), &mut fp);
            out.extend(argmax_columns(fp.output()));
        }
        out
    }

    /// Fraction of samples of `data` whose argmax output equals the label.
    pub fn accuracy(&self, data: &Dataset) -> f64 {
        if data.is_empty() {
            return f64::NAN;
        }
        let pred = self.predict(data.x.as_ref(), 1024);
        let hits = pred
            .iter()
            .zip(&data.labels)
            .filter(|(p, &l)| **p == l as usize)
            .count();
        hits as f64 / data.len() as f64
    }
}

/// Index of the largest entry of each column (first one on ties).
pub fn argmax_columns(y: MatRef<'_, f64>) -> impl Iterator<Item = usize> + '_ {
    (0..y.ncols()).map(move |j| {
        let col = y.col(j);
        let mut best = 0;
        for i in 1..y.nrows() {
            if col[i] > col[best] {
                best = i;
            }
        }
        best
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;

    /// The forward pass against a naive triple loop with scalar φ.
    #[test]
    fn matches_naive_forward() {
        let net = Mlp::init(&[5, 7, 6, 3], Activation::Tanh, 1.3, 11).unwrap();
        let mut net = net;
        for (k, layer) in net.layers.iter_mut().enumerate() {
            for i in 0..layer.b.nrows() {
                layer.b[i] = 0.1 * (i as f64) - 0.05 * k as f64;
            }
        }
        let x = Mat::from_fn(5, 9, |i, j| ((i * 9 + j) as f64 * 0.37).sin());
        let mut fp = ForwardPass::new(&net, 16);
        net.forward_into(x.as_ref(), &mut fp);
        for j in 0..9 {
            let mut a: Vec<f64> = (0..5).map(|i| x[(i, j)]).collect();
            for (l, layer) in net.layers.iter().enumerate() {
                let mut next = vec![0.0; layer.fan_out()];
                for (i, v) in next.iter_mut().enumerate() {
                    *v = layer.b[i]
                        + (0..layer.fan_in())
                            .map(|k| layer.w[(i, k)] * a[k])
                            .sum::<f64>();
                }
                if l < net.depth() {
                    for (i, v) in next.iter().enumerate() {
                        assert!((fp.pre(l + 1)[(i, j)] - v).abs() < 1e-13);
                    }
                    next.iter_mut().for_each(|v| *v = net.activation.eval(*v));
                }
                a = next;
            }
            for (i, v) in a.iter().enumerate() {
                assert!((fp.output()[(i, j)] - v).abs() < 1e-13);
            }
        }
    }
}
