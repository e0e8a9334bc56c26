//! The machine's measured f64 peak: a loop of fused multiply-adds on independent SIMD
//! accumulators (pulp's runtime dispatch picks the widest instruction set: AVX-512, AVX2+FMA or
//! scalar), timed on one thread and on every thread at once. Rate = iterations × accumulators ×
//! f64 lanes × 2 flops / seconds. With enough independent accumulators to cover the FMA latency
//! on every FMA port, this is what the cores' arithmetic can reach: the ceiling above GEMM.

use std::time::Instant;

use pulp::{Simd, WithSimd};
use serde::Serialize;

/// Independent accumulators: ≥ FMA latency (4–5 cycles) × FMA ports (2) on current x86 cores.
const ACCUMULATORS: usize = 16;

/// The measured peak.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Peak {
    /// f64 lanes of the SIMD type the dispatch chose.
    pub lanes: usize,
    /// GFLOP/s of one thread.
    pub per_core: f64,
    /// GFLOP/s of `threads` threads running at once.
    pub total: f64,
    pub threads: usize,
}

struct FmaLoop {
    iterations: usize,
}

impl WithSimd for FmaLoop {
    /// (a value that depends on every FMA, so none is optimised away; the lane count).
    type Output = (f64, usize);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let mut acc = [simd.splat_f64s(1.0); ACCUMULATORS];
        let (a, b) = (simd.splat_f64s(0.999_999), simd.splat_f64s(1e-7));
        for _ in 0..self.iterations {
            for x in acc.iter_mut() {
                *x = simd.mul_add_e_f64s(*x, a, b);
            }
        }
        let sum = acc
            .iter()
            .fold(simd.splat_f64s(0.0), |s, &x| simd.add_f64s(s, x));
        (simd.reduce_sum_f64s(sum), S::F64_LANES)
    }
}

/// Runs the loop once on this thread: (seconds, flops, lanes).
fn run_once(iterations: usize) -> (f64, f64, usize) {
    let start = Instant::now();
    let (value, lanes) = pulp::Arch::new().dispatch(FmaLoop { iterations });
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(value);
    let flops = 2.0 * (iterations * ACCUMULATORS * lanes) as f64;
    (seconds, flops, lanes)
}

/// The FMA loop of `iterations` steps: the best of `reps` runs on one thread, then `threads`
/// threads at once (the best of `reps` wall times).
pub fn fma_peak(iterations: usize, reps: usize, threads: usize) -> Peak {
    let reps = reps.max(1);
    let threads = threads.max(1);
    run_once(iterations / 10 + 1); // warm-up: clocks up, code paged in
    let (mut per_core, mut lanes) = (0.0f64, 1);
    for _ in 0..reps {
        let (s, f, l) = run_once(iterations);
        per_core = per_core.max(f / s * 1e-9);
        lanes = l;
    }
    let mut total = 0.0f64;
    for _ in 0..reps {
        let start = Instant::now();
        let flops: f64 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| scope.spawn(move || run_once(iterations).1))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("FMA loop thread"))
                .sum()
        });
        total = total.max(flops / start.elapsed().as_secs_f64() * 1e-9);
    }
    Peak {
        lanes,
        per_core,
        total,
        threads,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_finite_rates_and_a_power_of_two_lane_count() {
        let p = fma_peak(10_000, 2, 2);
        assert!(p.per_core.is_finite() && p.per_core > 0.0, "{p:?}");
        assert!(p.total.is_finite() && p.total > 0.0, "{p:?}");
        assert!(p.lanes.is_power_of_two() && p.lanes <= 8 && p.threads == 2);
    }
}
