//! Matrix product into a preallocated destination, with the parallelism fitted to its size.

use faer::linalg::matmul::matmul;
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

/// Parallelism for a GEMM of m×k by k×n: sequential below 2²⁴ multiply-adds (~34 MFLOP), where
/// waking and synchronising a second thread costs more than it saves. Every GEMM of MNIST
/// training (784-100-100-10, batch ≤ 128: at most 10⁷ multiply-adds) then stays on one thread,
/// while evaluation and statistics batches (10³–10⁴ samples) are split. Measured on the quiet
/// 2-core machine, 10-epoch median epoch at 2 threads: with 2²² (the 784-wide layer split)
/// 83 / 62 ms at batch 64 / 128, with 2²⁴ 62–64 / 55–58 ms — the one-thread time; with the
/// former 2¹⁹ the 100×128×100 GEMMs were split too (BENCHMARKS.md "Training").
fn gemm_par(m: usize, n: usize, k: usize) -> Par {
    if m.saturating_mul(n).saturating_mul(k) < (1 << 24) || rayon::current_num_threads() == 1 {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

/// Most columns of a product that [`gemm`] splits by rows itself instead of through faer.
pub const SKINNY_COLUMNS: usize = 128;

/// dst ← a·b (+ dst when `accumulate`), with the parallelism chosen by `gemm_par` (sequential
/// below 2²⁴ multiply-adds). A parallel product of at most `SKINNY_COLUMNS` columns (a
/// training batch: W·A with A of width 64, Wᵀ·δ) is split into one block of rows per rayon
/// thread, each a sequential faer product: faer's own split of such a product synchronises its
/// threads several times per call, the row blocks only at the end. Every entry is the same sum
/// over k in the same order either way (the split never cuts k), so the result does not depend
/// on the split or the thread count (tested: `row_split_equals_one_product`).
pub fn gemm<T: ComplexField>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
) {
    let par = gemm_par(a.nrows(), b.ncols(), a.ncols());
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    if matches!(par, Par::Seq) || b.ncols() > SKINNY_COLUMNS {
        matmul(dst, accum, a, b, alpha, par);
        return;
    }
    // Blocks of a multiple of 8 rows (one AVX-512 register of f64), one per thread.
    let rows = a
        .nrows()
        .div_ceil(8 * rayon::current_num_threads())
        .saturating_mul(8);
    let mut blocks = Vec::new();
    let (mut rest, mut start) = (dst, 0);
    while rest.nrows() > 0 {
        let take = rows.min(rest.nrows());
        let (block, tail) = rest.split_at_row_mut(take);
        blocks.push((start, block));
        start += rows;
        rest = tail;
    }
    blocks.into_par_iter().for_each(|(start, block)| {
        let a = a.subrows(start, block.nrows());
        matmul(block, accum, a, b, alpha.clone(), Par::Seq);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// A skinny product large enough to be split (1000 × 784 by 784 × 64, and the transposed
    /// 1000 × 1000 by 1000 × 61 accumulated into a non-zero destination) on 1, 2 and 3
    /// threads: bit-identical to faer's sequential product of the whole matrices.
    #[test]
    fn row_split_equals_one_product() {
        let f = |i: usize, j: usize| ((7 * i + 3 * j) as f64 * 0.011).sin();
        let w0 = Mat::from_fn(1000, 784, f);
        let x = Mat::from_fn(784, 64, f);
        let w1 = Mat::from_fn(1000, 1000, f);
        let d = Mat::from_fn(1000, 61, f);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for (a, b, accumulate) in [
                (w0.as_ref(), x.as_ref(), false),
                (w1.transpose(), d.as_ref(), true),
            ] {
                assert!(a.nrows() * a.ncols() * b.ncols() >= 1 << 24);
                let start = Mat::from_fn(a.nrows(), b.ncols(), |i, j| f(j, i));
                let mut split = start.clone();
                pool.install(|| gemm(split.as_mut(), accumulate, a, b, 0.5));
                let mut whole = start.clone();
                let accum = if accumulate {
                    Accum::Add
                } else {
                    Accum::Replace
                };
                matmul(whole.as_mut(), accum, a, b, 0.5, Par::Seq);
                assert!(split == whole, "{threads} threads, accumulate {accumulate}");
            }
        }
    }
}
