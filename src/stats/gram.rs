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
//!
//! [`lower_gram_pieces`] runs the same blocks into a small per-thread buffer and hands each
//! block to the caller while it is in cache: the moment sums of the varying rows
//! ([`super::batch::Runs::add_gram`]) scatter each block into the d × d sum on the thread that
//! computed it, instead of one thread scattering a whole compact Gram after the product
//! (BENCHMARKS.md, "analyze at 50 % of the GEMM rate, fifteenth session").

use std::cell::RefCell;

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Columns per block: the rectangle below a block is a (d − j₀) × 64 × k GEMM, and d = 784
/// gives 13 blocks, enough for two threads to share evenly (largest first).
const BLOCK: usize = 64;

thread_local! {
    /// The piece of [`lower_gram_pieces`] being computed on this thread (one (d − j₀) × 64
    /// buffer for the largest seen: 250 KB for d = 500, in L2 when its sink reads it).
    static PIECE: RefCell<Mat<f64>> = const { RefCell::new(Mat::new()) };
}

/// The column blocks (j₀, w) of a d × d lower triangle, in column order: \[j₀, j₀ + w) with
/// w = [`BLOCK`] but for the last.
pub fn gram_blocks(d: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..d).step_by(BLOCK).map(move |j0| (j0, BLOCK.min(d - j0)))
}

/// Lower triangle of `dst` (d × d) `accum` A Aᵀ, `a` of d × k (samples as columns). The strict
/// upper triangle of `dst` is neither read nor written.
pub fn lower_gram(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, accum: Accum) {
    let mut blocks = Vec::with_capacity(a.nrows().div_ceil(BLOCK));
    let mut rest = dst;
    for (j0, w) in gram_blocks(a.nrows()) {
        let (block, right) = rest.split_at_col_mut(w);
        blocks.push((j0, block));
        rest = right;
    }
    blocks.into_par_iter().for_each(|(j0, block)| {
        let (_, below) = block.split_at_row_mut(j0);
        block_product(below, a, j0, accum);
    });
}

/// The lower triangle of A Aᵀ block by block ([`gram_blocks`]), in parallel: block (j₀, w)'s
/// piece, rows j₀ … d − 1 of its columns ((d − j₀) × w, the products of [`lower_gram`], the
/// same numbers; above the diagonal of its top w × w square it holds no value of the Gram),
/// is computed in this thread's buffer and handed to `sink(state, j₀, piece)` with that
/// block's entry of `states` (one per block, in block order), while it is still in cache.
pub fn lower_gram_pieces<T: Send>(
    a: MatRef<'_, f64>,
    states: Vec<T>,
    sink: impl Fn(T, usize, MatRef<'_, f64>) + Sync,
) {
    let d = a.nrows();
    let blocks: Vec<((usize, usize), T)> = gram_blocks(d).zip(states).collect();
    blocks.into_par_iter().for_each(|((j0, w), state)| {
        let run = |buf: &mut Mat<f64>| {
            if buf.nrows() < d - j0 || buf.ncols() < w {
                *buf = Mat::zeros(d.max(buf.nrows()), BLOCK);
            }
            let mut piece = buf.submatrix_mut(0, 0, d - j0, w);
            block_product(piece.rb_mut(), a, j0, Accum::Replace);
            sink(state, j0, piece.rb());
        };
        PIECE.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => run(&mut buf),
            Err(_) => run(&mut Mat::new()),
        });
    });
}

/// Samples per product in [`block_product`]: a Gram's sum over k runs in chunks of at most this
/// many columns of A, each chunk one sequential faer product added to the last. faer's
/// sequential GEMM of these shapes slows down for k ≳ 384 (on this project's Intel machine a
/// 500 × 64 × 512 product ran at 34–45 GFLOP/s against 66–73 in chunks of 128; chunks of 256
/// fell to 36–40 at other shapes; BENCHMARKS.md, "The Gram's sum over samples in chunks,
/// twenty-seventh session").
const K_CHUNK: usize = 128;

/// Block (j₀, w) of the lower triangle of A Aᵀ into `piece` (rows j₀ … d − 1 of the block's
/// columns, (d − j₀) × w): its top w × w lower triangle (faer's triangular product) and the
/// rectangle below (one GEMM), each sequential, over the samples in chunks of [`K_CHUNK`]
/// (the first with `accum`, the rest added).
fn block_product(piece: MatMut<'_, f64>, a: MatRef<'_, f64>, j0: usize, accum: Accum) {
    let (d, w, k) = (a.nrows(), piece.ncols(), a.ncols());
    let (mut diag, mut rect) = piece.split_at_row_mut(w);
    // One product at k = 0 too (with `Accum::Replace` it zeroes the piece).
    for start in (0..k.max(1)).step_by(K_CHUNK) {
        let len = K_CHUNK.min(k - start);
        let accum = if start == 0 { accum } else { Accum::Add };
        let chunk = a.subcols(start, len);
        let cols = chunk.subrows(j0, w);
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
            let rows = chunk.subrows(j0 + w, d - j0 - w);
            matmul(
                rect.rb_mut(),
                accum,
                rows.rb(),
                cols.transpose(),
                1.0,
                Par::Seq,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Every lower entry equals the plain sum Σₖ aᵢₖaⱼₖ to rounding, for sizes below, at and
    /// across the block width and sample counts below, at and across the chunk length
    /// ([`K_CHUNK`]: one, two and three chunks, the last partial); the strict upper triangle
    /// keeps its values; Add accumulates.
    #[test]
    fn lower_gram_matches_the_plain_sum() {
        for &(d, k) in &[
            (1, 3),
            (5, 7),
            (64, 10),
            (65, 33),
            (150, 40),
            (200, 1),
            (70, K_CHUNK),
            (3, K_CHUNK + 1),
            (130, 2 * K_CHUNK + 45),
        ] {
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
