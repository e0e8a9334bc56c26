//! The machine's measured f64 peak: a loop of fused multiply-adds on independent SIMD
//! accumulators, on the instruction set the crate's kernels use ([`crate::simd::Isa`]: pulp's
//! runtime dispatch to AVX-512, AVX2+FMA or scalar, or the one `CORRFLOW_ISA` names), timed on
//! one thread and on every thread at once. Rate = iterations × accumulators × f64 lanes × 2
//! flops / seconds. With enough independent accumulators to cover the FMA latency on every FMA
//! port, and no more than the register file holds, this is what the cores' arithmetic can
//! reach: the ceiling above GEMM.
use std::time::Instant;

use pulp::{Simd, WithSimd};
use serde::Serialize;

use crate::simd::Isa;

/// Independent accumulators where the vector register file has 32 entries (AVX-512): ≥ FMA
/// latency (4–5 cycles) × FMA ports (2) on current x86 cores.
const ACCUMULATORS_WIDE: usize = 16;

/// Independent accumulators where it has 16 (AVX2, SSE): 12 chains and the loop's two
/// constants fit, still ≥ 4 cycles × 2 ports. Sixteen spilled there: on an AMD EPYC Zen 3
/// (AVX2 only) the loop read 22–25 GFLOP/s per core with 16, 45–46 with 12 (fifty-first
/// session, BENCHMARKS.md), half the machine's peak.
const ACCUMULATORS_NARROW: usize = 12;

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

impl FmaLoop {
    /// `iterations` rounds of one FMA on each of `K` accumulators: (a value that depends on
    /// every FMA, so none is optimised away; the flops done).
    #[inline(always)]
    fn chains<S: Simd, const K: usize>(&self, simd: S) -> (f64, f64) {
        let mut acc = [simd.splat_f64s(1.0); K];
        let (a, b) = (simd.splat_f64s(0.999_999), simd.splat_f64s(1e-7));
        for _ in 0..self.iterations {
            for x in acc.iter_mut() {
                *x = simd.mul_add_e_f64s(*x, a, b);
            }
        }
        let sum = acc
            .iter()
            .fold(simd.splat_f64s(0.0), |s, &x| simd.add_f64s(s, x));
        let flops = 2.0 * (self.iterations * K * S::F64_LANES) as f64;
        (simd.reduce_sum_f64s(sum), flops)
    }
}

impl WithSimd for FmaLoop {
    /// (a value that depends on every FMA; the flops done; the lane count).
    type Output = (f64, f64, usize);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        // 8 f64 lanes: AVX-512's 32 registers; fewer: 16 registers (or a scalar loop).
        let (value, flops) = if S::F64_LANES >= 8 {
            self.chains::<S, ACCUMULATORS_WIDE>(simd)
        } else {
            self.chains::<S, ACCUMULATORS_NARROW>(simd)
        };
        (value, flops, S::F64_LANES)
    }
}

/// Runs the loop once on this thread: (seconds, flops, lanes).
fn run_once(isa: Isa, iterations: usize) -> (f64, f64, usize) {
    let start = Instant::now();
    let (value, flops, lanes) = isa.run(FmaLoop { iterations });
    let seconds = start.elapsed().as_secs_f64();
    std::hint::black_box(value);
    (seconds, flops, lanes)
}

/// The FMA loop of `iterations` steps on the kernels' instruction set ([`Isa::current`]): the
/// best of `reps` runs on one thread, then `threads` threads at once (the best of `reps` wall
/// times).
pub fn fma_peak(iterations: usize, reps: usize, threads: usize) -> Peak {
    fma_peak_on(Isa::current(), iterations, reps, threads)
}

/// [`fma_peak`] on a given instruction set (`isa_rates` measures each one the CPU has).
pub fn fma_peak_on(isa: Isa, iterations: usize, reps: usize, threads: usize) -> Peak {
    let reps = reps.max(1);
    let threads = threads.max(1);
    run_once(isa, iterations / 10 + 1); // warm-up: clocks up, code paged in
    let (mut per_core, mut lanes) = (0.0f64, 1);
    for _ in 0..reps {
        let (s, f, l) = run_once(isa, iterations);
        per_core = per_core.max(f / s * 1e-9);
        lanes = l;
    }
    let mut total = 0.0f64;
    for _ in 0..reps {
        let start = Instant::now();
        let flops: f64 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| scope.spawn(move || run_once(isa, iterations).1))
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

    #[test]
    fn counts_the_accumulators_its_register_file_holds() {
        // One lane (16 registers' worth of chains: 12), then whatever the CPU's best is.
        let (_, flops, lanes) = Isa::Scalar.run(FmaLoop { iterations: 10 });
        assert_eq!((flops, lanes), (2.0 * 10.0 * 12.0, 1));
        let (_, flops, lanes) = Isa::Best.run(FmaLoop { iterations: 10 });
        let chains = if lanes >= 8 { 16 } else { 12 };
        assert_eq!(flops, 2.0 * (10 * chains * lanes) as f64, "{lanes} lanes");
    }
}
