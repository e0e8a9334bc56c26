//! Matrix product into a preallocated destination, with the parallelism fitted to its size.

use faer::linalg::matmul::matmul;
use faer::traits::ComplexField;
use faer::{Accum, MatMut, MatRef, Par};

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

/// dst ← a·b (+ dst when `accumulate`), with the parallelism chosen by `gemm_par` (sequential below 2²⁴ multiply-adds).
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
    matmul(dst, accum, a, b, alpha, par);
}
