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
use faer::{Accum, ColRef, Mat, MatMut, MatRef, Par};

use crate::error::{Error, Result};
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

/// Side of the square tiles of [`mirror_lower`]. The strided side of a tile touches one cache
/// line per column, all in the same L1 set when the column stride is a multiple of 4 KiB
/// (N = 512, 1024, …): 8 lines fit the set's ways, 64 thrashed it (the closures spent ~8 % of
/// their time in the mirror at N = 1024 with 64).
const TILE: usize = 8;

/// Copies the strict lower triangle of the square `m` onto its upper triangle, tile by tile so
/// that the strided (row-wise) side of the transposition stays in cache; a plain double loop
/// writes one cache line per element at N ≳ 512.
pub(crate) fn mirror_lower(mut m: MatMut<'_, f64>) {
    let n = m.nrows();
    for jb in (0..n).step_by(TILE) {
        for ib in (0..=jb).step_by(TILE) {
            // Upper tile rows ib.., columns jb.. ← lower tile rows jb.., columns ib.. transposed.
            for j in jb..(jb + TILE).min(n) {
                for i in ib..(ib + TILE).min(j) {
                    // SAFETY: i < j < n, both indices in bounds of the n×n matrix.
                    unsafe {
                        let v = *m.as_ref().get_unchecked(j, i);
                        *m.as_mut().get_mut_unchecked(i, j) = v;
                    }
                }
            }
        }
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

    #[test]
    fn mirror_lower_copies_every_strict_lower_entry() {
        for n in [1, 63, 64, 65, 150] {
            let mut m = Mat::from_fn(
                n,
                n,
                |i, j| if i >= j { (i * 1000 + j) as f64 } else { -1.0 },
            );
            mirror_lower(m.as_mut());
            for j in 0..n {
                for i in 0..n {
                    let (a, b) = (i.max(j), i.min(j));
                    assert_eq!(m[(i, j)], (a * 1000 + b) as f64, "n = {n}, ({i}, {j})");
                }
            }
        }
    }
}
