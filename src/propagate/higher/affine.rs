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
//! - κ₄: T₁\[i,b,c,d\] = Σ_a W_ia κ\[a,b,c,d\] for c ≤ d only (one GEMM per d over the
//!   contiguous columns (b, c ≤ d)); T₂\[i,j,c,d\] = T₁\[·,·,c,d\] Wᵀ for c ≤ d, kept for i ≤ j and
//!   copied to (d, c) (P × N²); T₃\[(ij),k,d\] = Σ_c T₂\[(ij),c,d\] W_kc per d; κ₄' = T₃ Wᵀ over d
//!   (one GEMM on the (P·M) × N unfolding), unpacked. Flops MN³(N+1) + N(N+1)M²N + 2PN²M +
//!   2PM²N ≈ 4N⁵ (all permutations: 8N⁵).
//!
//! The result is symmetric in the packed pair exactly and in the other index exchanges to
//! rounding.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::tensor::SymTensor;
use crate::error::{Error, Result};

/// Buffers reused between calls: two for the intermediate tensors, one M × M block.
#[derive(Clone, Debug, Default)]
pub struct TensorAffineWorkspace {
    a: Vec<f64>,
    b: Vec<f64>,
    block: Vec<f64>,
}

/// Flops of [`affine_tensor`] for an M × N map of an order-k tensor (module docs).
pub fn tensor_affine_flops(m: usize, n: usize, order: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    let p = m * (m + 1.0) / 2.0;
    if order == 3 {
        m * n * n * (n + 1.0) + 2.0 * m * m * n * n + 2.0 * p * n * m
    } else {
        m * n.powi(3) * (n + 1.0)
            + n * (n + 1.0) * m * m * n
            + 2.0 * p * n * n * m
            + 2.0 * p * m * m * n
    }
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
        map4(w, wt.as_ref(), input.data(), ws, out.data_mut());
    }
    Ok(())
}

/// dst = lhs · rhs.
fn gemm(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::rayon(0));
}

/// Start of column j's upper part (rows 0..=j) in a packed symmetric matrix.
fn packed(j: usize) -> usize {
    j * (j + 1) / 2
}

/// The upper triangle of the M × M `block` (column-major), packed by columns into `dst`.
fn pack_upper(block: &[f64], m: usize, dst: &mut [f64]) {
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
    let TensorAffineWorkspace { a, b, block } = ws;
    a.resize(m * n * n, 0.0);
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
    b.resize(p * n, 0.0);
    block.resize(m * m, 0.0);
    for c in 0..n {
        let t1 = MatRef::from_column_major_slice(&a[m * n * c..m * n * (c + 1)], m, n);
        gemm(MatMut::from_column_major_slice_mut(block, m, m), t1, wt);
        pack_upper(block, m, &mut b[p * c..p * (c + 1)]);
    }
    a.resize(p * m, 0.0);
    gemm(
        MatMut::from_column_major_slice_mut(&mut a[..p * m], p, m),
        MatRef::from_column_major_slice(&b[..p * n], p, n),
        wt,
    );
    unpack(&a[..p * m], m, m, out);
}

/// κ₄ (module docs).
fn map4(
    w: MatRef<'_, f64>,
    wt: MatRef<'_, f64>,
    x: &[f64],
    ws: &mut TensorAffineWorkspace,
    out: &mut [f64],
) {
    let (m, n) = (w.nrows(), w.ncols());
    let p = packed(m);
    let TensorAffineWorkspace { a, b, block } = ws;
    let n3 = n * n * n;
    a.resize(m * n3, 0.0);
    for d in 0..n {
        let cols = n * (d + 1);
        let xs = MatRef::from_column_major_slice(&x[n3 * d..n3 * d + n * cols], n, cols);
        let ys = &mut a[m * n * n * d..m * (n * n * d + cols)];
        gemm(MatMut::from_column_major_slice_mut(ys, m, cols), w, xs);
    }
    b.resize(p * n * n, 0.0);
    block.resize(m * m, 0.0);
    for d in 0..n {
        for c in 0..=d {
            let at = m * n * (c + n * d);
            let t1 = MatRef::from_column_major_slice(&a[at..at + m * n], m, n);
            gemm(MatMut::from_column_major_slice_mut(block, m, m), t1, wt);
            let col = p * (c + n * d);
            pack_upper(block, m, &mut b[col..col + p]);
            if c < d {
                b.copy_within(col..col + p, p * (d + n * c));
            }
        }
    }
    a.resize(p * m * n, 0.0);
    for d in 0..n {
        gemm(
            MatMut::from_column_major_slice_mut(&mut a[p * m * d..p * m * (d + 1)], p, m),
            MatRef::from_column_major_slice(&b[p * n * d..p * n * (d + 1)], p, n),
            wt,
        );
    }
    b.resize(p * m * m, 0.0);
    gemm(
        MatMut::from_column_major_slice_mut(&mut b[..p * m * m], p * m, m),
        MatRef::from_column_major_slice(&a[..p * m * n], p * m, n),
        wt,
    );
    unpack(&b[..p * m * m], m, m * m, out);
}
