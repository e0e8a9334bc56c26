//! The machine's GEMM rate measured in the running process, the yardstick of `--timings`' "this
//! run used X % of this machine's GEMM": what faer's square f64 GEMM reaches with the thread
//! count the run uses when no other process takes a core from it.
//!
//! On a machine shared with other work the rate of one product is not that: the product is split
//! between the threads and waits for the slowest, so one thread preempted for a scheduler tick
//! (~4 ms) costs the whole product a fifth of its ~20 ms. On a 2-core Intel Xeon shared with other
//! processes (thirty-fourth session, BENCHMARKS.md) single products of one process ran at 12–34
//! GFLOP/s in steps of whole ticks, where quiet products reach 93–101 (BENCHMARKS.md): the
//! old reference (fastest of 4 products) swung 71–101 GFLOP/s between runs, and the share with
//! it. So the products are timed, after one untimed warm-up, until the fastest of them ran with
//! no thread of the process preempted (`getrusage`'s involuntary context switches,
//! [`super::cpu::involuntary_switches`]), at least [`CALIBRATION_REPS`] and at most
//! [`CALIBRATION_MAX_REPS`] of them or [`CALIBRATION_MAX_SECONDS`] of products; the reference is
//! the fastest, and whether it ran undisturbed is reported beside it. Cost: 1 + 4 products
//! (~0.1 s at 100 GFLOP/s) on a quiet machine, at most 0.5 s of products on a busy one; it runs
//! after the run and is not part of the run's recorded span.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use serde::Serialize;

use super::cpu::involuntary_switches;
use super::flops;

/// Side of the calibration GEMM: 2·1024³ ≈ 2.1 GFLOP, ~20–40 ms on one modern core.
pub const CALIBRATION_N: usize = 1024;
/// Fewest timed products after the warm-up (the fastest counts).
pub const CALIBRATION_REPS: usize = 4;
/// Most timed products: the calibration stops there even if every one was preempted.
pub const CALIBRATION_MAX_REPS: usize = 16;
/// Most seconds of timed products (the first [`CALIBRATION_REPS`] always run).
pub const CALIBRATION_MAX_SECONDS: f64 = 0.5;

/// faer's measured f64 GEMM rate.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct GemmReference {
    /// GFLOP/s of the fastest repetition (2n³ flops per product).
    pub gflops: f64,
    /// Threads the GEMM ran on (rayon's pool).
    pub threads: usize,
    /// Side n of the square matrices.
    pub n: usize,
    /// Timed products (the warm-up not counted).
    pub reps: usize,
    /// Timed products during which a thread of this process was preempted.
    pub preempted: usize,
    /// Whether the fastest product ran with no thread preempted (false also where the count is
    /// not available): when false, the reference is likely below the machine's rate.
    pub undisturbed: bool,
}

/// Times products C = A·B of n × n matrices with `Par::rayon(0)` (rayon's current pool) after
/// one untimed warm-up — at least `min_reps` (≥ 1), then more until the fastest ran with no
/// thread of the process preempted, up to [`CALIBRATION_MAX_REPS`] (or `min_reps` if larger)
/// and [`CALIBRATION_MAX_SECONDS`] — and returns the rate of the fastest (module docs).
pub fn gemm_reference(n: usize, min_reps: usize) -> GemmReference {
    let (a, b, mut c) = calibration_matrices(n);
    let min_reps = min_reps.max(1);
    let max_reps = CALIBRATION_MAX_REPS.max(min_reps);
    let mut product = || {
        let (seconds, switches) = timed_product(c.as_mut(), a.as_ref(), b.as_ref());
        (seconds, switches == Some(0))
    };
    product();
    let f = fastest((min_reps, max_reps, CALIBRATION_MAX_SECONDS), &mut product);
    std::hint::black_box(&c);
    GemmReference {
        gflops: flops::gemm(n, n, n) / f.seconds * 1e-9,
        threads: rayon::current_num_threads(),
        n,
        reps: f.reps,
        preempted: f.preempted,
        undisturbed: f.clean,
    }
}

/// The calibration's A and B (n × n, fixed entries in [−0.6, 0.6]) and a zero C.
pub fn calibration_matrices(n: usize) -> (Mat<f64>, Mat<f64>, Mat<f64>) {
    let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5);
    let b = Mat::from_fn(n, n, |i, j| ((i * 5 + j * 2) % 13) as f64 * 0.1 - 0.6);
    (a, b, Mat::zeros(n, n))
}

/// One calibration product C = A·B with `Par::rayon(0)`, timed: its seconds and the involuntary
/// context switches of the process during it ([`super::cpu::involuntary_switches`]; None where
/// they cannot be read).
pub fn timed_product(
    c: MatMut<'_, f64>,
    a: MatRef<'_, f64>,
    b: MatRef<'_, f64>,
) -> (f64, Option<u64>) {
    let before = involuntary_switches().ok();
    let start = Instant::now();
    matmul(c, Accum::Replace, a, b, 1.0, Par::rayon(0));
    let seconds = start.elapsed().as_secs_f64();
    let after = involuntary_switches().ok();
    (seconds, before.zip(after).map(|(s, e)| e.saturating_sub(s)))
}

/// The fastest of a series of timed runs and how the series went.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Fastest {
    seconds: f64,
    /// Whether the fastest ran with no thread preempted.
    clean: bool,
    reps: usize,
    preempted: usize,
}

/// Calls `run` (→ seconds, ran without preemption) at least `min_reps` times, then again while
/// the fastest so far was preempted, fewer than `max_reps` ran and their seconds sum below
/// `max_seconds`.
fn fastest(
    (min_reps, max_reps, max_seconds): (usize, usize, f64),
    run: &mut dyn FnMut() -> (f64, bool),
) -> Fastest {
    let mut f = Fastest {
        seconds: f64::INFINITY,
        clean: false,
        reps: 0,
        preempted: 0,
    };
    let mut spent = 0.0;
    while f.reps < min_reps || (!f.clean && f.reps < max_reps && spent < max_seconds) {
        let (seconds, clean) = run();
        f.reps += 1;
        f.preempted += usize::from(!clean);
        spent += seconds;
        if seconds < f.seconds {
            (f.seconds, f.clean) = (seconds, clean);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_a_positive_finite_rate_and_the_pool_size() {
        let r = gemm_reference(64, 2);
        assert!(r.gflops.is_finite() && r.gflops > 0.0, "{r:?}");
        assert_eq!((r.n, r.threads), (64, rayon::current_num_threads()));
        assert!((2..=CALIBRATION_MAX_REPS).contains(&r.reps) && r.preempted <= r.reps);
    }

    /// The stop rule on made-up series: `min_reps` when the fastest of them ran clean; past
    /// it while the fastest was preempted, until a clean product is the fastest, or the count or
    /// the seconds run out; a clean product slower than a preempted one does not stop it.
    #[test]
    fn continues_only_while_the_fastest_was_preempted() {
        let series = |runs: &[(f64, bool)], limits| {
            let mut it = runs.iter().copied();
            fastest(limits, &mut || it.next().expect("ran past the series"))
        };
        let limits = (3, 16, 0.5);
        let quiet = [(0.03, true), (0.02, true), (0.025, true)];
        let f = series(&quiet, limits);
        assert_eq!(
            (f.seconds, f.clean, f.reps, f.preempted),
            (0.02, true, 3, 0)
        );
        // The fastest of the first three preempted: on until a clean one is the fastest.
        let busy = [
            (0.03, true),
            (0.02, false),
            (0.04, false),
            (0.025, true),
            (0.019, true),
        ];
        let f = series(&busy, limits);
        assert_eq!(
            (f.seconds, f.clean, f.reps, f.preempted),
            (0.019, true, 5, 2)
        );
        // Always preempted: stops at max_reps, or once the seconds are spent.
        let bad = [(0.01, false); 16];
        let f = series(&bad, limits);
        assert_eq!((f.clean, f.reps, f.preempted), (false, 16, 16));
        let f = series(&[(0.2, false); 16], limits);
        assert_eq!((f.clean, f.reps), (false, 3));
        let f = series(&[(0.125, false); 16], limits);
        assert_eq!((f.clean, f.reps), (false, 4));
    }
}
