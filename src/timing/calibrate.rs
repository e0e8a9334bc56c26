//! The machine's GEMM rate measured in the running process, the yardstick of `--timings`' "this
//! run used X % of this machine's GEMM": a square f64 GEMM through faer with the thread count the
//! run uses, timed a few times after one warm-up, just before the run and again just after it
//! ([`Moment`]); every timed product is kept ([`GemmSample`]) and the fastest of them all is the
//! yardstick ([`GemmReference`]): the best rate this machine's GEMM reached in this process.
//!
//! Why both moments (BENCHMARKS.md, "`analyze`'s yardstick and run, thirty-ninth session"): on
//! a shared machine the GEMM rate moves by ±20 % within seconds, and the run's own rate moves
//! with it (correlation 0.6–0.8 over 24 runs of `analyze`); one calibration after the run alone
//! gave a share with a coefficient of variation of 0.19, the fastest of the products on both
//! sides of the run 0.11–0.13, and the fastest of 2 + 2 is within 3 % (median) of the fastest
//! of 4 + 4.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use serde::Serialize;

use super::{cpu, flops};

/// Side of the calibration GEMM: 2·1024³ ≈ 2.1 GFLOP, ~20–40 ms on one modern core.
pub const CALIBRATION_N: usize = 1024;
/// Timed repetitions after the warm-up at each moment: 2 before and 2 after the run, six
/// products with the warm-ups (~0.1–0.3 s of the command's wall, outside the recorded span).
pub const CALIBRATION_REPS: usize = 2;

/// When a calibration ran, relative to the run it measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    Before,
    After,
}

/// One timed product.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GemmSample {
    /// 2n³ / its wall seconds · 10⁻⁹.
    pub gflops: f64,
    /// Process CPU seconds it took (every thread).
    pub cpu_seconds: f64,
}

/// faer's measured f64 GEMM rate: every timed product and the figure chosen from them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GemmReference {
    /// GFLOP/s of the fastest product, before or after the run.
    pub gflops: f64,
    /// How `gflops` was chosen from the samples.
    pub chosen: &'static str,
    /// Threads the GEMM ran on (rayon's pool).
    pub threads: usize,
    /// Side n of the square matrices.
    pub n: usize,
    /// The products timed just before the run (none where only one calibration ran).
    pub before: Vec<GemmSample>,
    /// The products timed just after it.
    pub after: Vec<GemmSample>,
}

impl GemmReference {
    /// A reference of `samples` taken at `moment` with products of side `n` on `threads`.
    pub fn new(n: usize, threads: usize, moment: Moment, samples: Vec<GemmSample>) -> Self {
        let mut r = GemmReference {
            gflops: 0.0,
            chosen: "fastest product, before or after the run",
            threads,
            n,
            before: Vec::new(),
            after: Vec::new(),
        };
        r.add(moment, samples);
        r
    }

    /// Adds `samples` taken at `moment` and chooses the figure again.
    pub fn add(&mut self, moment: Moment, samples: Vec<GemmSample>) {
        match moment {
            Moment::Before => self.before.extend(samples),
            Moment::After => self.after.extend(samples),
        }
        self.gflops = self
            .before
            .iter()
            .chain(&self.after)
            .map(|s| s.gflops)
            .fold(0.0, f64::max);
    }
}

/// Times `reps` products C = A·B of n × n matrices with `Par::rayon(0)` (rayon's current pool)
/// after one untimed warm-up.
pub fn gemm_samples(n: usize, reps: usize) -> Vec<GemmSample> {
    let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5);
    let b = Mat::from_fn(n, n, |i, j| ((i * 5 + j * 2) % 13) as f64 * 0.1 - 0.6);
    let mut c = Mat::<f64>::zeros(n, n);
    let mut samples = Vec::with_capacity(reps);
    for rep in 0..=reps {
        let (start, cpu_start) = (Instant::now(), cpu::process_cpu_seconds().ok());
        matmul(
            c.as_mut(),
            Accum::Replace,
            a.as_ref(),
            b.as_ref(),
            1.0,
            Par::rayon(0),
        );
        let seconds = start.elapsed().as_secs_f64();
        // A clock that could not be read (never on Linux) counts as 0 CPU seconds.
        let cpu_seconds = cpu_start
            .zip(cpu::process_cpu_seconds().ok())
            .map_or(0.0, |(a, b)| (b - a).max(0.0));
        if rep > 0 {
            samples.push(GemmSample {
                gflops: flops::gemm(n, n, n) / seconds * 1e-9,
                cpu_seconds,
            });
        }
    }
    std::hint::black_box(&c);
    samples
}

/// Times `reps` products of side `n` now ([`gemm_samples`]: a warm-up, then the timed ones, on
/// rayon's current pool) and adds them to `reference` at `moment`, creating it on the first
/// calibration: the one way a [`GemmReference`] is measured, by `--timings` (its moments before
/// and after the run, `Timings::calibrate`) and by `bench_summary` (one calibration outside any
/// run). Returns the reference with the new samples.
pub fn calibrate(
    reference: &mut Option<GemmReference>,
    moment: Moment,
    n: usize,
    reps: usize,
) -> &GemmReference {
    let samples = gemm_samples(n, reps);
    let threads = rayon::current_num_threads();
    let r = reference.get_or_insert_with(|| GemmReference::new(n, threads, moment, Vec::new()));
    r.add(moment, samples);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_positive_finite_rate_and_the_pool_size() {
        let mut reference = None;
        let r = calibrate(&mut reference, Moment::After, 64, 2);
        assert!(r.gflops.is_finite() && r.gflops > 0.0, "{r:?}");
        assert_eq!((r.n, r.threads), (64, rayon::current_num_threads()));
        assert_eq!((r.before.len(), r.after.len()), (0, 2));
        // A second calibration adds its samples to the same reference.
        let r = calibrate(&mut reference, Moment::Before, 64, 1);
        assert_eq!((r.before.len(), r.after.len()), (1, 2));
        let fastest = r.before.iter().chain(&r.after).map(|s| s.gflops);
        assert_eq!(r.gflops, fastest.fold(0.0, f64::max));
    }

    /// The figure is the fastest sample of either moment, whichever came last.
    #[test]
    fn the_figure_is_the_fastest_sample_of_either_moment() {
        let s = |gflops| GemmSample {
            gflops,
            cpu_seconds: 0.0,
        };
        let mut r = GemmReference::new(8, 2, Moment::Before, vec![s(3.0), s(5.0)]);
        assert_eq!(r.gflops, 5.0);
        r.add(Moment::After, vec![s(4.0), s(2.0)]);
        assert_eq!((r.gflops, r.before.len(), r.after.len()), (5.0, 2, 2));
        r.add(Moment::After, vec![s(7.0)]);
        assert_eq!(r.gflops, 7.0);
    }
}
