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

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, ColRef, Mat, MatRef, Par};

use crate::error::{Error, Result};
use crate::linalg::mirror_lower;
use crate::stats::Moments;

/// Reusable buffers of [`affine_moments`]: the stacked input covariances and W times them.
/// They grow to the largest layer seen and are then reused without allocation.
#[derive(Clone, Debug)]
pub struct AffineWorkspace {
    /// [Σ₁ … Σ_C], N_in × C·N_in.
    stacked: Mat<f64>,
    /// W [Σ₁ … Σ_C], N_out × C·N_in.
    product: Mat<f64>,
    /// Wᵀ stored column-major (N_in × N_out): faer multiplies by a transposed *view* of W at
    /// ~60 % of its plain GEMM rate here, by this copy at ~90 % (BENCHMARKS.md, Goal 2).
    w_t: Mat<f64>,
}

impl AffineWorkspace {
    /// Empty buffers; they are sized on first use.
    pub fn new() -> Self {
        AffineWorkspace {
            stacked: Mat::new(),
            product: Mat::new(),
            w_t: Mat::new(),
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
    let (n_out, n_in) = (w.nrows(), w.ncols());
    check_shapes(w, b, inputs, outputs)?;
    let classes = inputs.len();
    ws.stacked.resize_with(n_in, classes * n_in, |_, _| 0.0);
    ws.product.resize_with(n_out, classes * n_in, |_, _| 0.0);
    ws.w_t.resize_with(n_in, n_out, |_, _| 0.0);
    ws.w_t.copy_from(w.transpose());
    for (c, m) in inputs.iter().enumerate() {
        ws.stacked
            .as_mut()
            .subcols_mut(c * n_in, n_in)
            .copy_from(m.cov.as_ref());
    }
    matmul(
        ws.product.as_mut(),
        Accum::Replace,
        w,
        ws.stacked.as_ref(),
        1.0,
        Par::rayon(0),
    );
    for (c, (input, out)) in inputs.iter().zip(outputs.iter_mut()).enumerate() {
        out.mean.resize_with(n_out, |_| 0.0);
        matmul(
            out.mean.as_mat_mut(),
            Accum::Replace,
            w,
            input.mean.as_mat(),
            1.0,
            Par::rayon(0),
        );
        for i in 0..n_out {
            out.mean[i] += b[i];
        }
        out.cov.resize_with(n_out, n_out, |_, _| 0.0);
        triangular::matmul(
            out.cov.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Replace,
            ws.product.as_ref().subcols(c * n_in, n_in),
            BlockStructure::Rectangular,
            ws.w_t.as_ref(),
            BlockStructure::Rectangular,
            1.0,
            Par::rayon(0),
        );
        mirror_lower(out.cov.as_mut());
        out.k3_iij = None;
        out.k4_iijj = None;
    }
    Ok(())
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
