//! The lower triangle of a Gram matrix A Aᵀ (a symmetric rank-k update, "SYRK"), as
//! column blocks that run in parallel, each a sequential faer product big enough for its
//! micro-kernel.
//!
//! For the d × d lower triangle of A Aᵀ (A of d × k) cut into column blocks
//! J = \[j₀, j₀ + w), block J is
//!
//! ```text
//! C[J, J]     += A[J, :] A[J, :]ᵀ        (lower triangle: faer's triangular product)
//! C[j₀+w.., J] += A[j₀+w.., :] A[J, :]ᵀ    (rectangle below it: one GEMM)
//! ```
//!
//! d(d+1)k flops in all, the same arithmetic as one triangular product. The blocks write
//! disjoint columns, so they run on rayon without locks; each product runs with `Par::Seq`, so
//! the sums do not depend on the thread count. faer's own parallel triangular product split the
//! 784² input Gram of MNIST (k ≈ 1000) into pieces too small to run at its GEMM rate; see
//! BENCHMARKS.md, "Performance II: analyze, sixth session".

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Columns per block: the rectangle below a block is a (d − j₀) × 64 × k GEMM, and d = 784
/// gives 13 blocks, enough for two threads to share evenly (largest first).
const BLOCK: usize = 64;

/// Lower triangle of `dst` (d × d) `accum` A Aᵀ, `a` of d × k (samples as columns). The strict
/// upper triangle of `dst` is neither read nor written.
pub fn lower_gram(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, accum: Accum) {
    let d = a.nrows();
    let mut blocks = Vec::with_capacity(d.div_ceil(BLOCK));
    let mut rest = dst;
    let mut j0 = 0;
    while j0 < d {
        let w = BLOCK.min(d - j0);
        let (block, right) = rest.split_at_col_mut(w);
        blocks.push((j0, block));
        rest = right;
        j0 += w;
    }
    blocks.into_par_iter().for_each(|(j0, block)| {
        let w = block.ncols();
        let (_, below) = block.split_at_row_mut(j0);
        let (mut diag, mut rect) = below.split_at_row_mut(w);
        let cols = a.subrows(j0, w);
        triangular::matmul(
            diag.rb_mut(),
            BlockStructure::TriangularLower,
            accum,
            cols,
            BlockStructure::Rectangular,
            cols.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::Seq,
        );
        if rect.nrows() > 0 {
            let rows = a.subrows(j0 + w, d - j0 - w);
            matmul(
                rect.rb_mut(),
                accum,
                rows.rb(),
                cols.transpose(),
                1.0,
                Par::Seq,
            );
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Every lower entry equals the plain sum Σₖ aᵢₖaⱼₖ to rounding, for sizes below, at and
    /// across the block width; the strict upper triangle keeps its values; Add accumulates.
    #[test]
    fn lower_gram_matches_the_plain_sum() {
        for &(d, k) in &[(1, 3), (5, 7), (64, 10), (65, 33), (150, 40), (200, 1)] {
            let a = Mat::from_fn(d, k, |i, j| {
                ((i * 7 + j * 13) % 11) as f64 - 5.0 + 0.1 * i as f64
            });
            let mut c = Mat::from_fn(d, d, |i, j| if i < j { -7.0 } else { 0.5 });
            lower_gram(c.as_mut(), a.as_ref(), Accum::Add);
            for j in 0..d {
                for i in 0..d {
                    if i < j {
                        assert_eq!(c[(i, j)], -7.0, "upper ({i}, {j}) touched, d = {d}");
                        continue;
                    }
                    let want: f64 = 0.5 + (0..k).map(|t| a[(i, t)] * a[(j, t)]).sum::<f64>();
                    let scale: f64 =
                        1.0 + (0..k).map(|t| (a[(i, t)] * a[(j, t)]).abs()).sum::<f64>();
                    assert!(
                        (c[(i, j)] - want).abs() <= 1e-13 * scale,
                        "d = {d}, k = {k}, ({i}, {j}): {} vs {want}",
                        c[(i, j)]
                    );
                }
            }
            lower_gram(c.as_mut(), a.as_ref(), Accum::Replace);
            let want: f64 = (0..k).map(|t| a[(d - 1, t)] * a[(0, t)]).sum();
            assert!((c[(d - 1, 0)] - want).abs() <= 1e-12 * (1.0 + want.abs()));
        }
    }
}
