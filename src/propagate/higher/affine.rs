//! The exact affine map of the full cumulant tensors, h = W x + b (DESIGN.md §2):
//!
//! ```text
//! κ₃'[a,b,c]   = Σ_{ijk}  W_ai W_bj W_ck κ₃[i,j,k]
//! κ₄'[a,b,c,d] = Σ_{ijkl} W_ai W_bj W_ck W_dl κ₄[i,j,k,l]
//! ```
//!
//! (the bias shifts only the mean). Computed as one mode product per index, each a GEMM on the
//! dense column-major storage of [`SymTensor`]: step s maps index s from N to M with the first
//! s indices already mapped, i.e. the tensor is a stack of (M^s × N) blocks, each multiplied by
//! Wᵀ on the right (step 0: W times the N × N^{k−1} unfolding, one GEMM). Flops:
//! Σ_s 2·M^{s+1}·N^{k−s}; for M = N: 6N⁴ (κ₃) and 8N⁵ (κ₄). Symmetry is not exploited (the
//! intermediate tensors are not symmetric); it would save at most the last step's half.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::tensor::SymTensor;
use crate::error::{Error, Result};

/// Two ping-pong buffers and Wᵀ, reused between calls.
#[derive(Clone, Debug, Default)]
pub struct TensorAffineWorkspace {
    a: Vec<f64>,
    b: Vec<f64>,
}

/// Flops of [`affine_tensor`] for an M × N map of an order-k tensor.
pub fn tensor_affine_flops(m: usize, n: usize, order: usize) -> f64 {
    (0..order)
        .map(|s| 2.0 * (m as f64).powi(s as i32 + 1) * (n as f64).powi((order - s) as i32))
        .sum()
}

/// Writes W·κ (every index mapped by W, M × N) into `out` (resized to M units); a zero κ (a
/// Gaussian stage) gives zero at the cost of reading it.
pub fn affine_tensor(
    w: MatRef<'_, f64>,
    input: &SymTensor,
    out: &mut SymTensor,
    ws: &mut TensorAffineWorkspace,
) -> Result<()> {
    let (m, n, k) = (w.nrows(), w.ncols(), input.order());
    if input.dim() != n || out.order() != k {
        return Err(Error::Shape(format!(
            "affine map of a κ{k} tensor over {} units by a {m}×{n} weight matrix into a κ{} \
             tensor",
            input.dim(),
            out.order()
        )));
    }
    if input.data().iter().all(|&v| v == 0.0) {
        // A Gaussian stage (e.g. the input x): W·0 = 0 without the GEMMs.
        out.resize(m);
        out.data_mut().fill(0.0);
        return Ok(());
    }
    let wt: Mat<f64> = w.transpose().to_owned();
    let TensorAffineWorkspace { a, b } = ws;
    mode_product(0, k, m, n, w, wt.as_ref(), input.data(), a);
    for s in 1..k {
        let (src, dst) = if s % 2 == 1 {
            (&*a, &mut *b)
        } else {
            (&*b, &mut *a)
        };
        mode_product(s, k, m, n, w, wt.as_ref(), src, dst);
    }
    out.resize(m);
    let last = if k % 2 == 1 { a } else { b };
    std::mem::swap(out.data_vec_mut(), last);
    Ok(())
}

/// Step `s` of an order-`k` map: `src` holds M^s × N × N^{k−1−s} (first s indices mapped);
/// writes M^{s+1} × N^{k−1−s} into `dst`.
#[allow(clippy::too_many_arguments)]
fn mode_product(
    s: usize,
    k: usize,
    m: usize,
    n: usize,
    w: MatRef<'_, f64>,
    wt: MatRef<'_, f64>,
    src: &[f64],
    dst: &mut Vec<f64>,
) {
    let rows = m.pow(s as u32);
    let outer = n.pow((k - 1 - s) as u32);
    dst.resize(rows * m * outer, 0.0);
    if s == 0 {
        let x = MatRef::from_column_major_slice(src, n, outer);
        let y = MatMut::from_column_major_slice_mut(dst.as_mut_slice(), m, outer);
        matmul(y, Accum::Replace, w, x, 1.0, Par::rayon(0));
    } else if outer == 1 {
        let x = MatRef::from_column_major_slice(src, rows, n);
        let y = MatMut::from_column_major_slice_mut(dst.as_mut_slice(), rows, m);
        matmul(y, Accum::Replace, x, wt, 1.0, Par::rayon(0));
    } else {
        dst.par_chunks_mut(rows * m)
            .zip(src.par_chunks(rows * n))
            .for_each(|(yo, xo)| {
                let x = MatRef::from_column_major_slice(xo, rows, n);
                let y = MatMut::from_column_major_slice_mut(yo, rows, m);
                matmul(y, Accum::Replace, x, wt, 1.0, Par::Seq);
            });
    }
}
