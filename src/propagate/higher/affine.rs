//! The exact affine map of the full cumulant tensors, h = W x + b (DESIGN.md §2):
//!
//! ```text
//! κ₃'[a,b,c]   = Σ_{ijk}  W_ai W_bj W_ck κ₃[i,j,k]
//! κ₄'[a,b,c,d] = Σ_{ijkl} W_ai W_bj W_ck W_dl κ₄[i,j,k,l]
//! ```
//!
//! (the bias shifts only the mean). One mode product per index, each a GEMM (or a batch of
//! GEMMs) on the dense column-major storage of [`SymTensor`], using the symmetry of the input
//! and of the mapped index pairs (W ⊗ W maps a symmetric matrix to a symmetric one):
//!
//! - κ₃ (M × N map, P = M(M+1)/2): T₁\[i,b,c\] = Σ_a W_ia κ\[a,b,c\] for b ≤ c only, mirrored;
//!   T₂\[i,j,c\] = Σ_b T₁\[i,b,c\] W_jb per c, kept for i ≤ j (P × N); κ₃' = T₂ Wᵀ on the packed
//!   rows, unpacked. Flops MN²(N+1) + 2M²N² + 2PNM ≈ 4N⁴ (all permutations: 6N⁴).
//! - κ₄: `affine4` (the sorted columns of the input mapped by one GEMM, the mapped
//!   index pairs kept packed; ≈ 2.9N⁵ flops, all permutations: 8N⁵).
//!
//! The result is symmetric in the packed pair exactly and in the other index exchanges to
//! rounding.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::tensor::SymTensor;
use crate::error::{Error, Result};

/// Buffers reused between calls: two for the intermediate tensors, M × M and M × N blocks.
#[derive(Clone, Debug, Default)]
pub struct TensorAffineWorkspace {
    pub(super) a: Vec<f64>,
    pub(super) b: Vec<f64>,
    pub(super) block: Vec<f64>,
    /// κ₄'s gathered M × N blocks (`affine4`).
    pub(super) lhs: Vec<f64>,
}

/// Flops of [`affine_tensor`] for an M × N map of an order-k tensor (module docs).
pub fn tensor_affine_flops(m: usize, n: usize, order: usize) -> f64 {
    if order != 3 {
        return super::affine4::flops(m, n);
    }
    let (m, n) = (m as f64, n as f64);
    let p = m * (m + 1.0) / 2.0;
    m * n * n * (n + 1.0) + 2.0 * m * m * n * n + 2.0 * p * n * m
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
    out.resize(m);
    if input.data().iter().all(|&v| v == 0.0) {
        // A Gaussian stage (e.g. the input x): W·0 = 0 without the GEMMs.
        out.data_mut().fill(0.0);
        return Ok(());
    }
    let wt: Mat<f64> = w.transpose().to_owned();
    if k == 3 {
        map3(w, wt.as_ref(), input.data(), ws, out.data_mut());
    } else {
        super::affine4::map4(w, wt.as_ref(), input.data(), ws, out.data_mut());
    }
    Ok(())
}

/// Makes the workspace buffer `buf` hold at least `len` entries: a fresh zeroed allocation
/// (`calloc`, whose pages the kernel zeroes on first touch, without a second pass) only when it
/// is shorter. It never shrinks, so a buffer sized once for the largest step of the largest
/// layer is reused with no zeroing; the steps read and write explicit ranges of it.
pub(super) fn ensure(buf: &mut Vec<f64>, len: usize) {
    if buf.len() < len {
        *buf = vec![0.0; len];
    }
}

/// dst = lhs · rhs.
pub(super) fn gemm(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::rayon(0));
}

/// Start of column j's upper part (rows 0..=j) in a packed symmetric matrix.
pub(super) fn packed(j: usize) -> usize {
    j * (j + 1) / 2
}

/// The upper triangle of the M × M `block` (column-major), packed by columns into `dst`.
pub(super) fn pack_upper(block: &[f64], m: usize, dst: &mut [f64]) {
    for j in 0..m {
        dst[packed(j)..packed(j) + j + 1].copy_from_slice(&block[m * j..m * j + j + 1]);
    }
}

/// Writes the full tensor from `y`: packed pairs (i ≤ j) × `rest` columns of the remaining
/// indices.
fn unpack(y: &[f64], m: usize, rest: usize, out: &mut [f64]) {
    let p = packed(m);
    for r in 0..rest {
        let (col, dst) = (&y[p * r..p * (r + 1)], &mut out[m * m * r..m * m * (r + 1)]);
        for j in 0..m {
            for i in 0..=j {
                let v = col[packed(j) + i];
                dst[i + m * j] = v;
                dst[j + m * i] = v;
            }
        }
    }
}

/// κ₃ (module docs).
fn map3(
    w: MatRef<'_, f64>,
    wt: MatRef<'_, f64>,
    x: &[f64],
    ws: &mut TensorAffineWorkspace,
    out: &mut [f64],
) {
    let (m, n) = (w.nrows(), w.ncols());
    let p = packed(m);
    let TensorAffineWorkspace { a, b, block, .. } = ws;
    ensure(a, m * n * n);
    for c in 0..n {
        let xs = MatRef::from_column_major_slice(&x[n * n * c..n * (n * c + c + 1)], n, c + 1);
        let ys = &mut a[m * n * c..m * (n * c + c + 1)];
        gemm(MatMut::from_column_major_slice_mut(ys, m, c + 1), w, xs);
    }
    for c in 0..n {
        for bb in c + 1..n {
            let from = m * (c + n * bb);
            a.copy_within(from..from + m, m * (bb + n * c));
        }
    }
    ensure(b, p * n);
    block.resize(m * m, 0.0);
    for c in 0..n {
        let t1 = MatRef::from_column_major_slice(&a[m * n * c..m * n * (c + 1)], m, n);
        gemm(MatMut::from_column_major_slice_mut(block, m, m), t1, wt);
        pack_upper(block, m, &mut b[p * c..p * (c + 1)]);
    }
    ensure(a, p * m);
    gemm(
        MatMut::from_column_major_slice_mut(&mut a[..p * m], p, m),
        MatRef::from_column_major_slice(&b[..p * n], p, n),
        wt,
    );
    unpack(&a[..p * m], m, m, out);
}
