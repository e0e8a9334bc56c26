//! Batched forward pass: one faer GEMM per layer (H = W·A), then the fused bias + activation
//! kernel column by column, parallel over the batch with rayon.

use faer::prelude::*;
use faer::{Mat, MatRef};
use rayon::prelude::*;

use super::precision::Real;
use super::{kernels, Mlp};
use crate::data::Dataset;
use crate::io::par_zeros;
use crate::linalg::gemm_batch;

/// Whether an elementwise sweep over a rows × cols block is worth splitting over rayon's
/// threads: below 2¹⁶ entries (a 100-wide layer at batch 128 has 12 800) the sweep takes a few
/// µs, less than waking a second thread.
pub fn elementwise_parallel(rows: usize, cols: usize) -> bool {
    rows.saturating_mul(cols) >= (1 << 16) && rayon::current_num_threads() > 1
}

/// The activations of every layer for one batch, kept for statistics and backpropagation.
/// `h[l]`, `z[l]` are hidden layer l+1's pre- and post-activation (width × batch); `y` the output.
/// Buffers are allocated for `capacity` columns once and reused for every batch.
#[derive(Clone, Debug)]
pub struct ForwardPass<T = f64> {
    pub h: Vec<Mat<T>>,
    pub z: Vec<Mat<T>>,
    pub y: Mat<T>,
    batch: usize,
}

impl<T: Real> ForwardPass<T> {
    /// Buffers for `net` and batches of at most `capacity` samples.
    pub fn new(net: &Mlp<T>, capacity: usize) -> Self {
        let hidden: Vec<usize> = net.layers[..net.depth()]
            .iter()
            .map(|l| l.fan_out())
            .collect();
        // Zeroed in parallel ([`par_zeros`]): a 1000-wide network's buffers for 1024 samples
        // are 16 MB, whose page faults on one thread were a serial pause before the first batch.
        ForwardPass {
            h: hidden.iter().map(|&n| par_zeros(n, capacity)).collect(),
            z: hidden.iter().map(|&n| par_zeros(n, capacity)).collect(),
            y: par_zeros(net.output_dim(), capacity),
            batch: 0,
        }
    }

    /// Number of samples in the last batch.
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Hidden layer `l` (1-based) pre-activation of the last batch.
    pub fn pre(&self, l: usize) -> MatRef<'_, T> {
        self.h[l - 1].as_ref().subcols(0, self.batch)
    }

    /// Hidden layer `l` (1-based) post-activation of the last batch.
    pub fn post(&self, l: usize) -> MatRef<'_, T> {
        self.z[l - 1].as_ref().subcols(0, self.batch)
    }

    /// Network output of the last batch.
    pub fn output(&self) -> MatRef<'_, T> {
        self.y.as_ref().subcols(0, self.batch)
    }
}

/// The output of batches through a network without its hidden layers' activations: the widest
/// hidden layer's pre-activation and two post-activation buffers used in turn, so that its
/// memory is 3·max N'ₗ + K' words per column, not 2·Σ N'ₗ + K' ([`ForwardPass`]): for the
/// draws of the surrogates, the pilot and the cumulant objective's check, and `predict`, which
/// read the output only.
#[derive(Clone, Debug)]
pub struct OutputPass<T = f64> {
    h: Mat<T>,
    z: [Mat<T>; 2],
    y: Mat<T>,
    batch: usize,
}

impl<T: Real> OutputPass<T> {
    /// Buffers for `net` and batches of at most `capacity` samples.
    pub fn new(net: &Mlp<T>, capacity: usize) -> Self {
        let widest = net.layers[..net.depth()]
            .iter()
            .map(|l| l.fan_out())
            .max()
            .unwrap_or(0);
        OutputPass {
            h: par_zeros(widest, capacity),
            z: [par_zeros(widest, capacity), par_zeros(widest, capacity)],
            y: par_zeros(net.output_dim(), capacity),
            batch: 0,
        }
    }

    /// Network output of the last batch.
    pub fn output(&self) -> MatRef<'_, T> {
        self.y.as_ref().subcols(0, self.batch)
    }
}

impl<T: Real> Mlp<T> {
    /// Runs the batch `x` (d_in × b, b ≤ capacity) through the network into `fp`, in T.
    pub fn forward_into(&self, x: MatRef<'_, T>, fp: &mut ForwardPass<T>) {
        self.forward_from(0, x, fp);
    }

    /// [`Mlp::forward_into`] keeping only the output ([`OutputPass`]).
    pub fn output_into(&self, x: MatRef<'_, T>, op: &mut OutputPass<T>) {
        self.output_from(0, x, op);
    }

    /// Runs the batch `x` of layer `from`'s input (x for 0, z^from after hidden layer `from`;
    /// its width × b, b ≤ capacity) through layers `from`… into `fp`, in T: the stages before
    /// `from` are left as they were.
    pub fn forward_from(&self, from: usize, x: MatRef<'_, T>, fp: &mut ForwardPass<T>) {
        let b = self.check_batch(from, x, fp.y.ncols());
        fp.batch = b;
        for l in from..self.depth() {
            let (before, rest) = fp.z.split_at_mut(l);
            let input = if l == from {
                x
            } else {
                before[l - 1].as_ref().subcols(0, b)
            };
            let h = fp.h[l].as_mut().subcols_mut(0, b);
            self.hidden_layer(l, input, h, rest[0].as_mut().subcols_mut(0, b));
        }
        let input = if self.depth() == from {
            x
        } else {
            fp.z[self.depth() - 1].as_ref().subcols(0, b)
        };
        self.readout(input, fp.y.as_mut().subcols_mut(0, b));
    }

    /// [`Mlp::forward_from`] into `op`, which keeps only the output: each hidden layer's
    /// pre-activation in one buffer and its post-activation in the other of two, the same
    /// products and kernels on the same numbers, so the output is [`ForwardPass::output`]'s
    /// bit for bit (tested).
    pub fn output_from(&self, from: usize, x: MatRef<'_, T>, op: &mut OutputPass<T>) {
        let b = self.check_batch(from, x, op.y.ncols());
        op.batch = b;
        let [even, odd] = &mut op.z;
        for l in from..self.depth() {
            let n = self.layers[l].fan_out();
            // Layer l writes the buffer of its parity; its input is the other one's.
            let (src, dst) = if (l - from).is_multiple_of(2) {
                (&*odd, &mut *even)
            } else {
                (&*even, &mut *odd)
            };
            let input = if l == from {
                x
            } else {
                src.as_ref().submatrix(0, 0, self.layers[l].fan_in(), b)
            };
            let h = op.h.as_mut().submatrix_mut(0, 0, n, b);
            self.hidden_layer(l, input, h, dst.as_mut().submatrix_mut(0, 0, n, b));
        }
        let last = if (self.depth() - from) % 2 == 1 {
            even
        } else {
            odd
        };
        let input = if self.depth() == from {
            x
        } else {
            last.as_ref()
                .submatrix(0, 0, self.layers[self.depth()].fan_in(), b)
        };
        self.readout(input, op.y.as_mut().subcols_mut(0, b));
    }

    /// The columns of a batch `x` of layer `from`'s input into buffers of `capacity` columns;
    /// panics on a batch too large, a layer past the network, or a width that is not layer
    /// `from`'s input width.
    fn check_batch(&self, from: usize, x: MatRef<'_, T>, capacity: usize) -> usize {
        let b = x.ncols();
        assert!(
            b <= capacity,
            "batch {b} exceeds the forward buffers' capacity"
        );
        assert!(from <= self.depth(), "layer {from} of {}", self.depth());
        assert_eq!(
            x.nrows(),
            self.layers[from].fan_in(),
            "input rows must equal layer {from}'s input width"
        );
        b
    }

    /// Hidden layer l (0-based) on `input`: h = W·input, then z = φ(h + b) with h overwritten
    /// by h + b, column by column (in parallel where the block is large).
    fn hidden_layer(&self, l: usize, input: MatRef<'_, T>, mut h: MatMut<'_, T>, z: MatMut<'_, T>) {
        let layer = &self.layers[l];
        let act = self.activation.at(l);
        gemm_batch(h.rb_mut(), false, layer.w.as_ref(), input, T::from_f64(1.0));
        let bias = layer.b.as_ref().try_as_col_major().unwrap().as_slice();
        let column = |h: faer::ColMut<'_, T>, z: faer::ColMut<'_, T>| {
            let h = h.try_as_col_major_mut().unwrap().as_slice_mut();
            let z = z.try_as_col_major_mut().unwrap().as_slice_mut();
            T::bias_activation(act, h, bias, z);
        };
        if elementwise_parallel(h.nrows(), h.ncols()) {
            h.par_col_iter_mut()
                .zip(z.par_col_iter_mut())
                .for_each(|(h, z)| column(h, z));
        } else {
            h.col_iter_mut()
                .zip(z.col_iter_mut())
                .for_each(|(h, z)| column(h, z));
        }
    }

    /// The read-out on `input`: y = W·input + b.
    fn readout(&self, input: MatRef<'_, T>, mut y: MatMut<'_, T>) {
        let readout = self.layers.last().expect("validated network has layers");
        gemm_batch(
            y.rb_mut(),
            false,
            readout.w.as_ref(),
            input,
            T::from_f64(1.0),
        );
        let bias = readout.b.as_ref().try_as_col_major().unwrap().as_slice();
        let column = |y: faer::ColMut<'_, T>| {
            kernels::add_bias(y.try_as_col_major_mut().unwrap().as_slice_mut(), bias);
        };
        if elementwise_parallel(y.nrows(), y.ncols()) {
            y.par_col_iter_mut().for_each(column);
        } else {
            y.col_iter_mut().for_each(column);
        }
    }
}

impl Mlp {
    /// Predicted class (argmax of the output) of every sample in `data`, in batches of `batch`.
    pub fn predict(&self, x: MatRef<'_, f64>, batch: usize) -> Vec<usize> {
        let batch = batch.max(1);
        let mut op = OutputPass::new(self, batch.min(x.ncols().max(1)));
        let mut out = Vec::with_capacity(x.ncols());
        for start in (0..x.ncols()).step_by(batch) {
            let len = batch.min(x.ncols() - start);
            self.output_into(x.subcols(start, len), &mut op);
            out.extend(argmax_columns(op.output()));
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
pub fn argmax_columns<T: Real>(y: MatRef<'_, T>) -> impl Iterator<Item = usize> + '_ {
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
                    next.iter_mut()
                        .for_each(|v| *v = net.activation.at(l).eval(*v));
                }
                a = next;
            }
            for (i, v) in a.iter().enumerate() {
                assert!((fp.output()[(i, j)] - v).abs() < 1e-13);
            }
        }
    }

    /// The output pass equals the full forward pass bit for bit, from every start layer, on
    /// narrowing and widening layers, deep products summed in pieces (k > 128, b ≤ 128) and
    /// blocks large enough for the parallel bias + activation, in f64 and f32; an odd and an
    /// even number of layers after the start leave the output in either buffer.
    #[test]
    fn the_output_pass_equals_the_forward_pass_bit_for_bit() {
        use crate::net::Real;
        fn check<T: Real>(net: &Mlp<T>, b: usize) {
            let mut fp = ForwardPass::new(net, b);
            let mut op = OutputPass::new(net, b);
            for from in 0..=net.depth() {
                let d = net.layers[from].fan_in();
                let x = Mat::from_fn(d, b, |i, j| {
                    T::from_f64(((i * 31 + j * 17 + from) as f64 * 0.37).sin())
                });
                net.forward_from(from, x.as_ref(), &mut fp);
                net.output_from(from, x.as_ref(), &mut op);
                assert_eq!(op.output().shape(), fp.output().shape());
                for j in 0..b {
                    for i in 0..net.output_dim() {
                        assert!(
                            op.output()[(i, j)] == fp.output()[(i, j)],
                            "from {from}, b {b}, ({i}, {j})"
                        );
                    }
                }
            }
        }
        for widths in [
            vec![300, 150, 200, 3, 150, 4],
            vec![5, 9],
            vec![6, 2, 70, 3],
        ] {
            let net = Mlp::init(&widths, Activation::Tanh, 1.1, 7).unwrap();
            for b in [1, 100, 400] {
                check(&net, b);
                check(&net.cast::<f32>(), b);
            }
        }
    }

    /// The f32 forward pass against f64 on the same network and inputs (both exactly
    /// representable in f32, so only the arithmetic differs), within a rounding-error bound
    /// derived layer by layer, not tuned. With u the unit roundoff (ε/2: 2⁻²⁴ for f32, 2⁻⁵³ for
    /// f64) and γₙ = nu/(1 − nu), any summation order of an n-term dot product, FMA or not,
    /// satisfies |fl(wᵀa) − wᵀa| ≤ γₙ|w|ᵀ|a| (Higham, *Accuracy and Stability of Numerical
    /// Algorithms*, 2nd ed., §3.1, eq. 3.5). With E the componentwise bound on |ã − a| of a
    /// layer's input (0 at the data), the pre-activation's difference is bounded by
    ///
    /// ```text
    /// Δh ≤ |W|·E + γ_{n+1}(u₃₂)(|W||ã| + |b|) + γ_{n+1}(u₆₄)(|W||a| + |b|)
    /// ```
    ///
    /// (n + 1 terms with the bias), and after φ (1-Lipschitz for relu and tanh; relu exact in
    /// f32, tanh evaluated by the f64 kernel, ≤ 4e-16(1 + |z|) from libm, then rounded to f32):
    ///
    /// ```text
    /// E' = Δh + u₃₂|z̃|(1 + 2u₃₂) + 2·4e-16(1 + |z|)   (the last two terms 0 for relu)
    /// E' = 0 for relu where both pre-activations are ≤ 0
    /// ```
    ///
    /// The read-out is Δh of the last layer. This is a worst case over every sign and summation
    /// order (|W| propagates the error, γₙ grows like n, not √n): on the 784-100-100-10 relu
    /// network it is ~10⁴ times the observed difference (~2e-6) and a few per cent of the
    /// outputs. The test therefore also requires that the f32 result differs from f64 (f32
    /// arithmetic really ran) and that the bound stays below 5 % of max(|y|, 1): a wrong
    /// activation, a dropped bias (0.15 here) or a lost layer input moves outputs by O(1).
    #[test]
    fn f32_forward_agrees_with_f64_within_the_rounding_bound() {
        use crate::net::Real;
        let gamma = |n: usize, u: f64| n as f64 * u / (1.0 - n as f64 * u);
        let (u32_, u64_) = (f32::EPSILON as f64 / 2.0, f64::EPSILON / 2.0);
        for (widths, act, gain) in [
            (&[784usize, 100, 100, 10][..], Activation::Relu, 2f64.sqrt()),
            (&[30, 40, 20, 5][..], Activation::Tanh, 1.5),
        ] {
            let mut net32 = Mlp::init(widths, act, gain, 5).unwrap().cast::<f32>();
            for layer in &mut net32.layers {
                for i in 0..layer.b.nrows() {
                    layer.b[i] = 0.05 * ((i % 7) as f32 - 3.0);
                }
            }
            let net64: Mlp = net32.cast();
            let n = 64;
            let x32 = Mat::<f32>::from_fn(widths[0], n, |i, j| {
                (0.5 + 0.5 * ((i * 31 + j * 17) as f64 * 0.013).sin()) as f32
            });
            let x64 = Mat::<f64>::from_fn(widths[0], n, |i, j| x32[(i, j)].to_f64());
            let mut fp32 = ForwardPass::new(&net32, n);
            net32.forward_into(x32.as_ref(), &mut fp32);
            let mut fp64 = ForwardPass::new(&net64, n);
            net64.forward_into(x64.as_ref(), &mut fp64);

            let (mut max_diff, mut max_ratio, mut max_y) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..n {
                let mut e = vec![0.0f64; widths[0]];
                let mut a32: Vec<f64> = (0..widths[0]).map(|i| x64[(i, j)]).collect();
                let mut a64 = a32.clone();
                for (l, layer) in net64.layers.iter().enumerate() {
                    let g = gamma(layer.fan_in() + 1, u32_);
                    let g64 = gamma(layer.fan_in() + 1, u64_);
                    let dh: Vec<f64> = (0..layer.fan_out())
                        .map(|i| {
                            let (mut prop, mut mag32, mut mag64) = (0.0, 0.0, 0.0);
                            for k in 0..layer.fan_in() {
                                let w = layer.w[(i, k)].abs();
                                prop += w * e[k];
                                mag32 += w * a32[k].abs();
                                mag64 += w * a64[k].abs();
                            }
                            let b = layer.b[i].abs();
                            prop + g * (mag32 + b) + g64 * (mag64 + b)
                        })
                        .collect();
                    if l < net64.depth() {
                        a32 = (0..layer.fan_out())
                            .map(|i| fp32.post(l + 1)[(i, j)].to_f64())
                            .collect();
                        a64 = (0..layer.fan_out())
                            .map(|i| fp64.post(l + 1)[(i, j)])
                            .collect();
                        e = (0..layer.fan_out())
                            .map(|i| match act {
                                // both pre-activations ≤ 0: both outputs are exactly 0
                                Activation::Relu
                                    if fp32.pre(l + 1)[(i, j)] <= 0.0
                                        && fp64.pre(l + 1)[(i, j)] <= 0.0 =>
                                {
                                    0.0
                                }
                                Activation::Relu => dh[i],
                                _ => {
                                    dh[i]
                                        + u32_ * a32[i].abs() * (1.0 + 2.0 * u32_)
                                        + 8e-16 * (1.0 + a64[i].abs())
                                }
                            })
                            .collect();
                    } else {
                        for (i, bound) in dh.iter().enumerate() {
                            let (y32, y64) =
                                (fp32.output()[(i, j)].to_f64(), fp64.output()[(i, j)]);
                            let diff = (y32 - y64).abs();
                            assert!(
                                diff <= *bound,
                                "{act} output {i} sample {j}: |Δy| = {diff:e} > bound {bound:e}"
                            );
                            max_diff = max_diff.max(diff);
                            max_ratio = max_ratio.max(bound / y64.abs().max(1.0));
                            max_y = max_y.max(y64.abs());
                        }
                    }
                }
            }
            eprintln!("{act}: max |Δy| {max_diff:e}, max |y| {max_y:.3}, bound/max(|y|,1) ≤ {max_ratio:e}");
            assert!(max_diff > 0.0, "{act}: f32 and f64 outputs are identical");
            assert!(
                max_ratio < 5e-2,
                "{act}: bound {max_ratio:e} relative to the outputs is too loose to test anything"
            );
        }
    }
}
