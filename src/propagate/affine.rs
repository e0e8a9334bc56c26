//! The exact affine map of mean and covariance, h = W x + b (DESIGN.md §2):
//!
//! ```text
//! μ' = W μ + b,    Σ' = W Σ Wᵀ
//! ```
//!
//! Σ' is computed symmetric by construction: T = W Σ (one GEMM), then only the lower triangle of
//! T Wᵀ (a triangular GEMM, about half the flops), mirrored into the upper one. For C classes the
//! covariances are stacked side by side, S = [Σ₁ … Σ_C] (N_in × C·N_in), so that W multiplies all
//! of them in one large GEMM, followed by C lower-triangular products. The stacked buffers live
//! in an [`AffineWorkspace`] and the outputs are overwritten in place, so a layer loop that
//! reuses both does not allocate once the largest layer has been seen.
//!
//! Higher cumulants: `κ₃'[i,j,k] = Σ W_ia W_jb W_kc κ₃[a,b,c]` mixes *every* entry of the full
//! tensor `κ₃[a,b,c]`, so the slices `κ₃[i,i,j]` and `κ₄[i,i,j,j]` of the output cannot be computed
//! from the input's slices alone. Outputs therefore always carry `k3_iij = None` and
//! `k4_iijj = None`; the slices after an affine map need the full tensors (DESIGN.md §2: N³,
//! small widths only) or a fresh empirical measurement.
//!
//! At fan-in and fan-out ≤ 64 (`affine_small`), one class or one thread, μ' and Σ'
//! come from a register-blocked SIMD product instead of faer's (the same in-order sums, bit
//! for bit at the widths measured: faer's dispatch, packing and triangle recursion were about
//! half of the update's time at N = 64).
//!
//! With [`AffineStrategy::Auto`] a class whose Σ has structure that makes the update cheaper —
//! constant coordinates (dropped), or a Cholesky factor U (then (WU)(WU)ᵀ) — is updated through
//! it ([`super::affine_factored`]); that agrees with the dense update to rounding, not bit for
//! bit. [`AffineWorkspace::new`] keeps [`AffineStrategy::Dense`]; the commands' default
//! (`--affine`, in the configuration's defaults table) is Auto, from the measurement in
//! BENCHMARKS.md "f32 propagation and `--affine`".

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::ReborrowMut;
use faer::{Accum, Col, ColRef, Mat, MatMut, MatRef, Par};

use super::affine_factored::{structured_update, Choice, FactorWorkspace};
use super::affine_small;
use crate::error::{Error, Result};
use crate::linalg::{at_least, class_split, mirror_lower, mirror_upper, transpose_into};
use crate::net::Real;
use crate::stats::Moments;
use rayon::prelude::*;
use std::sync::Mutex;

/// How [`affine_moments`] updates each class's covariance (`--affine`, grid key `affine`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum AffineStrategy {
    /// T = WΣ (one stacked GEMM), then the lower triangle of T Wᵀ: the reference, bit for bit
    /// the result of every release before the factored path.
    #[default]
    Dense,
    /// Per class, the cheapest by the flop model of: the dense update, the dense update of the
    /// non-constant coordinates, the factored update (where Σ is positive semi-definite to
    /// rounding). Relative difference to the dense result: BENCHMARKS.md "Performance II".
    Auto,
    /// The factored update (of the non-constant coordinates) for every class whose Σ is positive
    /// semi-definite to rounding, whatever the flop model predicts (for measuring it); the
    /// dense update otherwise.
    Factored,
}

/// The stacked dense update Σ'ₖ = W Sₖ Wᵀ of several covariances in one float type T (f64 here,
/// f32 for `--precision f32`): [`Stacked::multiply`] forms W [S₁ … S_K] in one GEMM,
/// [`Stacked::lower_into`] the lower triangle of each (W Sₖ) Wᵀ, mirrored. The buffers grow to
/// the largest layer seen and are then reused as views of the current layer's size
/// ([`at_least`]): a narrower layer (the read-out) does not shrink them, so the next wide one
/// neither allocates nor writes them twice (N_out·K·N_in + N_in·N_out stores per run before the
/// GEMMs overwrite them).
#[derive(Clone, Debug)]
pub(crate) struct Stacked<T: Real> {
    /// [S₁ … S_K], N_in × K·N_in.
    stacked: Mat<T>,
    /// W [S₁ … S_K], N_out × K·N_in.
    product: Mat<T>,
    /// Wᵀ stored column-major (N_in × N_out): faer multiplies by a transposed *view* of W at
    /// ~60 % of its plain GEMM rate here, by this copy at ~90 % (BENCHMARKS.md, Goal 2).
    w_t: Mat<T>,
    /// (N_out, N_in) of the last [`Stacked::multiply`]: the part of the buffers it wrote.
    dims: (usize, usize),
}

impl<T: Real> Default for Stacked<T> {
    fn default() -> Self {
        Stacked {
            stacked: Mat::new(),
            product: Mat::new(),
            w_t: Mat::new(),
            dims: (0, 0),
        }
    }
}

impl<T: Real> Stacked<T> {
    /// Stacks `count` covariances (each N_in × N_in, written by `fill(k, slot)`) and multiplies
    /// them by `w` (N_out × N_in) in one GEMM.
    pub(crate) fn multiply(
        &mut self,
        w: MatRef<'_, T>,
        count: usize,
        mut fill: impl FnMut(usize, MatMut<'_, T>),
    ) {
        let (n_out, n_in) = (w.nrows(), w.ncols());
        self.dims = (n_out, n_in);
        let zero = T::from_f64(0.0);
        transpose_into(w, at_least(&mut self.w_t, n_in, n_out, zero));
        let mut stacked = at_least(&mut self.stacked, n_in, count * n_in, zero);
        for k in 0..count {
            fill(k, stacked.rb_mut().subcols_mut(k * n_in, n_in));
        }
        matmul(
            at_least(&mut self.product, n_out, count * n_in, zero),
            Accum::Replace,
            w,
            stacked.as_ref(),
            T::from_f64(1.0),
            Par::rayon(0),
        );
    }

    /// [`Stacked::multiply`] of covariances held apart (`inputs[k]`, each N_in × N_in): one
    /// GEMM per covariance, read where it is held, into its block of the product W [S₁ … S_K],
    /// without the copy of K·N_in² entries into the stacked buffer that [`Stacked::multiply`]
    /// makes (a copy of each f32 stage between two layers, ~2 % of the f32 engine's time at
    /// N = 1024: thirty-third session).
    pub(crate) fn multiply_each(&mut self, w: MatRef<'_, T>, inputs: &[MatRef<'_, T>]) {
        let (n_out, n_in) = (w.nrows(), w.ncols());
        self.dims = (n_out, n_in);
        let zero = T::from_f64(0.0);
        transpose_into(w, at_least(&mut self.w_t, n_in, n_out, zero));
        let mut product = at_least(&mut self.product, n_out, inputs.len() * n_in, zero);
        for (k, input) in inputs.iter().enumerate() {
            matmul(
                product.rb_mut().subcols_mut(k * n_in, n_in),
                Accum::Replace,
                w,
                *input,
                T::from_f64(1.0),
                Par::rayon(0),
            );
        }
    }

    /// Releases the stacked covariances [S₁ … S_K], which only the GEMM of
    /// [`Stacked::multiply`] reads (the next multiply allocates them again): for a caller that
    /// holds as little as it can between layers.
    pub(crate) fn release_stack(&mut self) {
        self.stacked = Mat::new();
    }

    /// Releases the product W [S₁ … S_K] once [`Stacked::lower_into`] has read every class
    /// of it (the next multiply allocates it again).
    pub(crate) fn release_product(&mut self) {
        self.product = Mat::new();
    }

    /// W Sₖ Wᵀ of the k-th covariance of the last [`Stacked::multiply`] into `out`
    /// (N_out × N_out): the lower triangle by a triangular GEMM, then mirrored.
    pub(crate) fn lower_into(&self, k: usize, out: MatMut<'_, T>) {
        self.lower_with(k, out, Par::rayon(0));
    }

    /// [`Stacked::lower_into`] of several covariances, `(k, out)` each, side by side on the
    /// pool ([`class_split`]).
    pub(crate) fn lower_each(&self, outs: Vec<(usize, MatMut<'_, T>)>) {
        self.each(outs, Triangle::Lower);
    }

    /// [`Stacked::lower_each`] with the upper triangle computed and mirrored down instead
    /// ([`mirror_upper`]: contiguous writes down each column, in parallel; [`mirror_lower`]'s
    /// strided writes cost about twice as much per entry, BENCHMARKS.md "f32 over its line on
    /// model 207"). The same entries to rounding, not bit for bit: the f32 engine's update.
    pub(crate) fn upper_each(&self, outs: Vec<(usize, MatMut<'_, T>)>) {
        self.each(outs, Triangle::Upper);
    }

    fn each(&self, outs: Vec<(usize, MatMut<'_, T>)>, triangle: Triangle) {
        let (size, par) = class_split(outs.len());
        let mut outs = outs;
        outs.par_chunks_mut(size).for_each(|group| {
            for (k, out) in group.iter_mut() {
                self.triangle_with(*k, out.rb_mut(), par, triangle);
            }
        });
    }

    fn lower_with(&self, k: usize, out: MatMut<'_, T>, par: Par) {
        self.triangle_with(k, out, par, Triangle::Lower);
    }

    /// W Sₖ Wᵀ into `out`: `triangle` by a triangular GEMM, then mirrored onto the other.
    fn triangle_with(&self, k: usize, mut out: MatMut<'_, T>, par: Par, triangle: Triangle) {
        let (n_out, n_in) = self.dims;
        let structure = match triangle {
            Triangle::Lower => BlockStructure::TriangularLower,
            Triangle::Upper => BlockStructure::TriangularUpper,
        };
        triangular::matmul(
            out.as_mut(),
            structure,
            Accum::Replace,
            self.product.as_ref().submatrix(0, k * n_in, n_out, n_in),
            BlockStructure::Rectangular,
            self.w_t.as_ref().submatrix(0, 0, n_in, n_out),
            BlockStructure::Rectangular,
            T::from_f64(1.0),
            par,
        );
        match triangle {
            Triangle::Lower => mirror_lower(out),
            Triangle::Upper => mirror_upper(out),
        }
    }
}

/// The triangle of W Sₖ Wᵀ that [`Stacked`] computes (the other is mirrored from it).
#[derive(Clone, Copy, Debug)]
enum Triangle {
    Lower,
    Upper,
}

/// Reusable buffers of [`affine_moments`]: the stacked update and the factored one's.
#[derive(Clone, Debug)]
pub struct AffineWorkspace {
    dense: Stacked<f64>,
    /// T = W S of the small-width path ([`affine_small`]).
    small: Mat<f64>,
    /// The workspaces of the classes updated side by side, one per task that ran at once.
    factors: Vec<FactorWorkspace>,
    strategy: AffineStrategy,
}

impl AffineWorkspace {
    /// Empty buffers for the dense update; they are sized on first use.
    pub fn new() -> Self {
        Self::with_strategy(AffineStrategy::Dense)
    }

    /// Empty buffers for the given update strategy.
    pub fn with_strategy(strategy: AffineStrategy) -> Self {
        AffineWorkspace {
            dense: Stacked::default(),
            small: Mat::new(),
            factors: Vec::new(),
            strategy,
        }
    }
}

impl Default for AffineWorkspace {
    fn default() -> Self {
        Self::new()
    }
}

/// Maps each class's (μ, Σ) through h = W x + b: μ' = Wμ + b, Σ' = WΣWᵀ (exact).
///
/// `w` is N_out × N_in, `b` has length N_out, every input has dimension N_in and
/// `outputs.len() == inputs.len()`. Outputs are resized to N_out if needed and overwritten; their
/// κ slices are set to `None` (see the module docs for why).
pub fn affine_moments(
    w: MatRef<'_, f64>,
    b: ColRef<'_, f64>,
    inputs: &[Moments],
    outputs: &mut [Moments],
    ws: &mut AffineWorkspace,
) -> Result<()> {
    let n_out = w.nrows();
    check_shapes(w, b, inputs, outputs)?;
    for (input, out) in inputs.iter().zip(outputs.iter_mut()) {
        affine_mean(w, b, &input.mean, &mut out.mean);
        crate::io::resize_for_overwrite(&mut out.cov, n_out, n_out);
        out.clear_slices();
    }
    let choice = match ws.strategy {
        AffineStrategy::Dense => None,
        AffineStrategy::Auto => Some(Choice::Cheapest),
        AffineStrategy::Factored => Some(Choice::Factor),
    };
    let mut dense = vec![choice.is_none(); inputs.len()];
    // A map of a few thousand multiply-adds per class is done on this thread: waking a second
    // one for it costs more than the map (1 000 tanh layers of width 1 at two threads took 5×
    // their one-thread time in the scheduler's hand-offs; forty-eighth session).
    let tiny = w.nrows() * w.ncols() * (w.nrows() + w.ncols()) * inputs.len() < TINY_MAP;
    if let Some(choice) = choice {
        // Classes side by side, one task per class (a thread that falls behind, e.g. on a
        // loaded machine, leaves the remaining classes to the others), each taking a
        // workspace from the pool while it runs: at most one per running task.
        let (_, par) = class_split(inputs.len());
        let pool = Mutex::new(std::mem::take(&mut ws.factors));
        outputs
            .par_iter_mut()
            .zip(inputs.par_iter())
            .zip(dense.par_iter_mut())
            .with_min_len(if tiny { usize::MAX } else { 1 })
            .for_each(|((out, input), dense)| {
                let taken = pool.lock().map(|mut p| p.pop()).unwrap_or(None);
                let mut factor = taken.unwrap_or_default();
                let structured = structured_update(
                    w,
                    input.cov.as_ref(),
                    out.cov.as_mut(),
                    &mut factor,
                    choice,
                    par,
                );
                *dense = structured.is_none();
                if let Ok(mut p) = pool.lock() {
                    p.push(factor);
                }
            });
        ws.factors = pool.into_inner().unwrap_or_default();
    }
    let count = dense.iter().filter(|&&d| d).count();
    if affine_small::small(w) && (count == 1 || tiny || rayon::current_num_threads() == 1) {
        // Small widths on one thread: each class by the register-blocked product, no stacking
        // (several classes on a pool keep the stacked GEMM's class split).
        for ((input, out), _) in inputs
            .iter()
            .zip(outputs.iter_mut())
            .zip(&dense)
            .filter(|(_, &d)| d)
        {
            affine_small::cov_into(w, input.cov.as_ref(), &mut ws.small, out.cov.as_mut());
        }
        return Ok(());
    }
    let classes: Vec<usize> = (0..inputs.len()).filter(|&c| dense[c]).collect();
    if classes.is_empty() {
        crate::simd::clear_upper_everywhere();
        return Ok(());
    }
    ws.dense.multiply(w, classes.len(), |k, mut slot| {
        slot.copy_from(inputs[classes[k]].cov.as_ref());
    });
    let outs = outputs
        .iter_mut()
        .enumerate()
        .filter(|(c, _)| dense[*c])
        .enumerate()
        .map(|(k, (_, out))| (k, out.cov.as_mut()))
        .collect();
    ws.dense.lower_each(outs);
    // faer's micro-kernels leave the workers' AVX upper state in use; the closure that follows
    // calls libm from scalar code on them (`simd::clear_upper`).
    crate::simd::clear_upper_everywhere();
    Ok(())
}

/// Multiply-adds of all classes' covariance maps (N_out·N_in·(N_out + N_in) each) below which
/// [`affine_moments`] stays on the calling thread.
const TINY_MAP: usize = 1 << 14;

/// μ' = W μ + b into `out` (resized to N_out).
pub(crate) fn affine_mean(
    w: MatRef<'_, f64>,
    b: ColRef<'_, f64>,
    mean: &Col<f64>,
    out: &mut Col<f64>,
) {
    out.resize_with(w.nrows(), |_| 0.0);
    if affine_small::small(w) {
        let mean = mean
            .try_as_col_major()
            .expect("an owned column is contiguous")
            .as_slice();
        let out_slice = out
            .as_mut()
            .try_as_col_major_mut()
            .expect("an owned column is contiguous")
            .as_slice_mut();
        affine_small::mean_into(w, mean, out_slice);
        for i in 0..w.nrows() {
            out[i] += b[i];
        }
        return;
    }
    matmul(
        out.as_mat_mut(),
        Accum::Replace,
        w,
        mean.as_mat(),
        1.0,
        Par::rayon(0),
    );
    for i in 0..w.nrows() {
        out[i] += b[i];
    }
}

fn check_shapes(
    w: MatRef<'_, f64>,
    b: ColRef<'_, f64>,
    inputs: &[Moments],
    outputs: &[Moments],
) -> Result<()> {
    let (n_out, n_in) = (w.nrows(), w.ncols());
    if b.nrows() != n_out {
        return Err(Error::Shape(format!(
            "affine map: W is {n_out}×{n_in} but the bias has length {}",
            b.nrows()
        )));
    }
    if outputs.len() != inputs.len() {
        return Err(Error::Shape(format!(
            "affine map: {} input classes but {} output slots",
            inputs.len(),
            outputs.len()
        )));
    }
    for (c, m) in inputs.iter().enumerate() {
        if m.mean.nrows() != n_in || m.cov.nrows() != n_in || m.cov.ncols() != n_in {
            return Err(Error::Shape(format!(
                "affine map: W is {n_out}×{n_in} but class {c} has a mean of length {} and a \
                 {}×{} covariance",
                m.mean.nrows(),
                m.cov.nrows(),
                m.cov.ncols()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three covariances (37 × 37) through W (41 × 37): multiplied held apart
    /// ([`Stacked::multiply_each`]) and with the upper triangle computed
    /// ([`Stacked::upper_each`]), each output is exactly symmetric and W Sₖ Wᵀ to f64 rounding
    /// (against a plain triple sum), as the stacked, lower-triangle update is. The outputs start
    /// as NaN, so a triangle left unwritten shows. (Checked to fail with each block of the
    /// product put at k·N_out instead of k·N_in, and with the upper triangle mirrored by
    /// `mirror_lower`.)
    #[test]
    fn covariances_held_apart_and_the_upper_triangle_give_w_s_wt() {
        let (n_out, n_in) = (41, 37);
        let cov = |s: f64| {
            let a = Mat::from_fn(n_in, n_in, |i, j| ((i * 5 + j * 3) as f64 * 0.29 + s).sin());
            &a * a.transpose()
        };
        let covs = [cov(0.1), cov(0.6), cov(1.3)];
        let w = Mat::from_fn(n_out, n_in, |i, j| ((i * 7 + j * 11) as f64 * 0.17).cos());
        let want = |k: usize| &w * &covs[k] * w.transpose();
        let outputs = |upper: bool| {
            let mut stacked = Stacked::<f64>::default();
            let mut outs = vec![Mat::from_fn(n_out, n_out, |_, _| f64::NAN); covs.len()];
            let slots = outs.iter_mut().map(Mat::as_mut).enumerate().collect();
            if upper {
                let inputs: Vec<_> = covs.iter().map(Mat::as_ref).collect();
                stacked.multiply_each(w.as_ref(), &inputs);
                stacked.upper_each(slots);
            } else {
                stacked.multiply(w.as_ref(), covs.len(), |k, mut slot| {
                    slot.copy_from(&covs[k])
                });
                stacked.lower_each(slots);
            }
            outs
        };
        for upper in [false, true] {
            for (k, got) in outputs(upper).iter().enumerate() {
                let want = want(k);
                let scale = want.norm_max();
                for i in 0..n_out {
                    for j in 0..n_out {
                        assert_eq!(got[(i, j)], got[(j, i)], "upper {upper}, class {k}");
                        let err = (got[(i, j)] - want[(i, j)]).abs();
                        assert!(err <= 1e-13 * scale, "upper {upper}, class {k}, ({i}, {j})");
                    }
                }
            }
        }
    }

    /// A wide layer, a narrow one (a read-out) and the wide one again through one [`Stacked`]:
    /// every update equals a fresh [`Stacked`]'s bit for bit, and the narrow layer leaves the
    /// buffers at the wide layer's size, so the wide one after it neither allocates nor writes
    /// them again. (Shrinking them, as `resize_with` to the narrow size did, fails the second
    /// check.)
    #[test]
    fn a_narrow_layer_keeps_the_buffers_of_a_wide_one() {
        let cov = |s: f64| {
            Mat::from_fn(5, 5, |i, j| {
                if i == j {
                    2.0 + s
                } else {
                    0.1 * ((i + j) as f64 + s).sin()
                }
            })
        };
        let weights =
            |m: usize, s: f64| Mat::from_fn(m, 5, |i, j| ((i * 7 + j * 3) as f64 * 0.37 + s).sin());
        let covs = [cov(0.3), cov(0.7)];
        let run = |stacked: &mut Stacked<f64>, w: &Mat<f64>| {
            stacked.multiply(w.as_ref(), covs.len(), |c, mut slot| {
                slot.copy_from(&covs[c])
            });
            (0..covs.len())
                .map(|c| {
                    let mut out = Mat::zeros(w.nrows(), w.nrows());
                    stacked.lower_into(c, out.as_mut());
                    out
                })
                .collect::<Vec<_>>()
        };
        let mut reused = Stacked::<f64>::default();
        for (k, w) in [weights(6, 0.0), weights(1, 1.0), weights(6, 2.0)]
            .iter()
            .enumerate()
        {
            let got = run(&mut reused, w);
            assert_eq!(got, run(&mut Stacked::default(), w), "layer {k}");
            assert_eq!(
                (
                    reused.product.nrows(),
                    reused.product.ncols(),
                    reused.w_t.ncols()
                ),
                (6, 10, 6),
                "layer {k}: the buffers shrank"
            );
        }
    }
}
