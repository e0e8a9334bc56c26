//! The machine's GEMM rate measured in the running process, the yardstick of `--timings`' "this
//! run used X % of this machine's GEMM": a square f64 GEMM through faer with the thread count the
//! run uses, timed a few times after one warm-up, the best repetition kept.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use serde::Serialize;

use super::flops;

/// Side of the calibration GEMM: 2·1024³ ≈ 2.1 GFLOP, ~20–40 ms on one modern core.
pub const CALIBRATION_N: usize = 1024;
/// Timed repetitions after the warm-up (the fastest counts): ~0.1–0.3 s in all.
pub const CALIBRATION_REPS: usize = 4;

/// faer's measured f64 GEMM rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GemmReference {
    /// GFLOP/s of the fastest repetition (2n³ flops per product).
    pub gflops: f64,
    /// Threads the GEMM ran on (rayon's pool).
    pub threads: usize,
    /// Side n of the square matrices.
    pub n: usize,
}

/// Times `reps` products C = A·B of n × n matrices with `Par::rayon(0)` (rayon's current pool)
/// after one untimed warm-up, and returns the rate of the fastest.
pub fn gemm_reference(n: usize, reps: usize) -> GemmReference {
    let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5);
    let b = Mat::from_fn(n, n, |i, j| ((i * 5 + j * 2) % 13) as f64 * 0.1 - 0.6);
    let mut c = Mat::<f64>::zeros(n, n);
    let mut best = f64::INFINITY;
    for rep in 0..=reps {
        let start = Instant::now();
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::rayon(0),
        );
        let seconds = start.elapsed().as_secs_f64();
        if rep > 0 {
            best = best.min(seconds);
        }
    }
    std::hint::black_box(&c);
    GemmReference {
        gflops: flops::gemm(n, n, n) / best * 1e-9,
        threads: rayon::current_num_threads(),
        n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_positive_finite_rate_and_the_pool_size() {
        let r = gemm_reference(64, 2);
        assert!(r.gflops.is_finite() && r.gflops > 0.0, "{r:?}");
        assert_eq!((r.n, r.threads), (64, rayon::current_num_threads()));
    }
}
