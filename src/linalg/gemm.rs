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
pub fn gemm_par(m: usize, n: usize, k: usize) -> Par {
    if m.saturating_mul(n).saturating_mul(k) < (1 << 24) || rayon::current_num_threads() == 1 {
        Par::Seq
    } else {
        Par::rayon(0)
    }
}

/// Most columns of a product that [`gemm`] splits by rows itself instead of through faer.
pub const SKINNY_COLUMNS: usize = 128;

/// Depth of each piece of a deep skinny product in [`gemm_batch`]. faer 0.24's sequential GEMM
/// of a training batch's shapes slows down with the depth k: on this project's Intel machine
/// (twenty-eighth session; BENCHMARKS.md, "Training's products in pieces of depth 128") m × 64 ×
/// k products ran at, one call against pieces of 128 added in turn,
/// 43–50 / 75–77 GFLOP/s at m = 500, k = 784 and 1000 (a 2-thread row block of a 1000-wide
/// layer), 62–69 / 69–77 at m = 784 and 1000 (one thread's whole product), 76–79 / 74–77 at
/// m = 100; pieces of 256 fell to 42–46 at m = 1000.
const BATCH_K_CHUNK: usize = 128;

/// Fewest rows of a product [`gemm_batch`] cuts into pieces of depth: at m = 5 the pieces ran
/// at 42 GFLOP/s against one call's 46–48 (same measurement as [`BATCH_K_CHUNK`]).
const CHUNK_MIN_ROWS: usize = 64;

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
    product(dst, accumulate, a, b, alpha, false);
}

/// [`gemm`] for a layer's product with a batch of samples (W·A, Wᵀ·δ in training; the forward
/// pass): where the product is skinny (at most `SKINNY_COLUMNS` (128) columns), deep (k above
/// `BATCH_K_CHUNK` (128)) and at least `CHUNK_MIN_ROWS` (64) rows, the sum over k runs in pieces of
/// `BATCH_K_CHUNK` (128), each piece's product added to the last, on one thread's whole product and
/// on each row block of the split alike: the same pieces either way, so the result still does
/// not depend on the thread count (tested: `batch_pieces_agree_across_threads_and_with_one_product`).
/// It differs from one faer product by rounding only (another order of the sum over k).
pub fn gemm_batch<T: ComplexField>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
) {
    product(dst, accumulate, a, b, alpha, true);
}

/// [`gemm`], with the sum over k in pieces where `pieces` and the shape call for them
/// ([`gemm_batch`]).
fn product<T: ComplexField>(
    dst: MatMut<'_, T>,
    accumulate: bool,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
    pieces: bool,
) {
    let par = gemm_par(a.nrows(), b.ncols(), a.ncols());
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    let skinny = b.ncols() <= SKINNY_COLUMNS;
    let pieces = pieces && skinny && a.ncols() > BATCH_K_CHUNK && a.nrows() >= CHUNK_MIN_ROWS;
    let sequential = |dst: MatMut<'_, T>, a: MatRef<'_, T>| {
        if pieces {
            in_pieces(dst, accum, a, b, alpha.clone());
        } else {
            matmul(dst, accum, a, b, alpha.clone(), Par::Seq);
        }
    };
    if !skinny {
        matmul(dst, accum, a, b, alpha, par);
        return;
    }
    if matches!(par, Par::Seq) {
        sequential(dst, a);
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
        let rows = block.nrows();
        sequential(block, a.subrows(start, rows));
    });
}

/// dst ← (dst +) alpha·a·b as sequential products over pieces of [`BATCH_K_CHUNK`] columns of a
/// (rows of b), the first with `accum` and the rest added.
fn in_pieces<T: ComplexField>(
    mut dst: MatMut<'_, T>,
    accum: Accum,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
) {
    let k = a.ncols();
    for start in (0..k).step_by(BATCH_K_CHUNK) {
        let len = BATCH_K_CHUNK.min(k - start);
        let accum = if start == 0 { accum } else { Accum::Add };
        let (a, b) = (a.subcols(start, len), b.subrows(start, len));
        matmul(dst.as_mut(), accum, a, b, alpha.clone(), Par::Seq);
    }
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

    /// [`gemm_batch`] of a training batch's deep products (1000 × 784 by 784 × 64, and
    /// 1000 × 1000 transposed by 1000 × 61 accumulated) on 1, 2 and 3 threads: bit-identical
    /// across thread counts (the same pieces of k everywhere), and equal to one faer product
    /// within the rounding of a sum of k products, |Δ| ≤ 2kε·(|α||a||b| + |dst|) entry by entry
    /// (both are such sums, in other orders). A product of fewer than `CHUNK_MIN_ROWS` rows
    /// (the 10-unit readout) is one faer product, bit for bit.
    #[test]
    fn batch_pieces_agree_across_threads_and_with_one_product() {
        let f = |i: usize, j: usize| ((7 * i + 3 * j) as f64 * 0.011).sin();
        let w0 = Mat::from_fn(1000, 784, f);
        let x = Mat::from_fn(784, 64, f);
        let w1 = Mat::from_fn(1000, 1000, f);
        let d = Mat::from_fn(1000, 61, f);
        let readout = Mat::from_fn(10, 1000, f);
        let cases = [
            (w0.as_ref(), x.as_ref(), false),
            (w1.transpose(), d.as_ref(), true),
            (readout.as_ref(), w1.subcols(0, 64), false),
        ];
        for (case, &(a, b, accumulate)) in cases.iter().enumerate() {
            let start = Mat::from_fn(a.nrows(), b.ncols(), |i, j| f(j, i));
            let accum = if accumulate {
                Accum::Add
            } else {
                Accum::Replace
            };
            let mut whole = start.clone();
            matmul(whole.as_mut(), accum, a, b, 0.5, Par::Seq);
            let mut first: Option<Mat<f64>> = None;
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let mut pieces = start.clone();
                pool.install(|| gemm_batch(pieces.as_mut(), accumulate, a, b, 0.5));
                match &first {
                    None => first = Some(pieces.clone()),
                    Some(one) => assert!(&pieces == one, "case {case}, {threads} threads"),
                }
                if a.nrows() < CHUNK_MIN_ROWS {
                    assert!(pieces == whole, "case {case}: not one product");
                    continue;
                }
                let k = a.ncols() as f64;
                for i in 0..a.nrows() {
                    for j in 0..b.ncols() {
                        let scale: f64 = (0..a.ncols())
                            .map(|t| (a[(i, t)] * b[(t, j)]).abs())
                            .sum::<f64>()
                            * 0.5
                            + if accumulate { start[(i, j)].abs() } else { 0.0 };
                        let bound = 2.0 * k * f64::EPSILON * scale;
                        let diff = (pieces[(i, j)] - whole[(i, j)]).abs();
                        assert!(
                            diff <= bound,
                            "case {case} ({i}, {j}): {diff:e} > {bound:e}"
                        );
                    }
                }
            }
        }
    }
}
