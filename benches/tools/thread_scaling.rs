//! What two threads deliver at the same moment, on the machine and in training (issue #14
//! item 6): `cargo run --release --example thread_scaling -- BLOCKS [SAMPLES]`.
//!
//! Each block times, on a 1-thread and a 2-thread rayon pool in alternation (1, 2, 1, 2; the
//! faster of the two runs of each counts):
//! - (a) the FMA loop of `timing::peak` (independent SIMD accumulators, no memory traffic): one
//!   thread, then two at once — the arithmetic the vCPUs deliver;
//! - (b) a 1000 × 1000 × 1000 faer GEMM (2·10⁹ flops) in each pool;
//! - (c) one training epoch of a 784-1000-1000-10 relu network (batch 64, Adam, cross-entropy)
//!   on SAMPLES (default 5 000: 79 steps, an epoch of the MNIST training slice the issue's
//!   network trains on) synthetic samples, the loop of `corrflow train`. Its one-time set-up
//!   (the optimiser's state, the weights' snapshot and the check after the first epoch: ~20 ms
//!   on one thread or two before the fifty-third session, 12–16 ms since on two) is part of
//!   it; the default before that session, 640 samples (10 steps), weighed the set-up 8× as
//!   much as a real epoch does;
//!
//! and prints each one's 2/1 ratio (rate or inverse time), the training's ratio over the FMA
//! loop's (the share of the delivered second core that training turns into speed), on a second
//! line the faster slice's step phases on 1 and 2 threads (`StepPhases`), the 1-minute
//! load average and `procs_running` at the block's start (`/proc/loadavg`, `/proc/stat`), and
//! the steal time over the block (`/proc/stat`, `cpu` line, 8th field, in % of both vCPUs'
//! wall time). A block where (a) stays near 1 is one where the second vCPU was not there to
//! be had; training cannot be faster than that.

use std::time::Instant;

use corrflow::data::Dataset;
use corrflow::net::train::{train, Loss, Optimizer, StepPhases, TrainConfig};
use corrflow::net::{Activation, Mlp, Precision};
use corrflow::timing::calibrate::calibrate;
use corrflow::timing::peak::fma_peak;
use corrflow::timing::Moment;
use faer::Mat;
use rayon::{ThreadPool, ThreadPoolBuilder};

/// FMA-loop iterations: 16 accumulators × 8 lanes × 2 flops each, ≈ 40 ms on one Zen 4 core.
const FMA_ITERATIONS: usize = 10_000_000;
/// The GEMM side of (b).
const GEMM_N: usize = 1000;
/// The trained network of (c), as in `corrflow train --hidden 1000,1000`.
const WIDTHS: [usize; 4] = [784, 1000, 1000, 10];

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: thread_scaling BLOCKS [SAMPLES]"))
        .collect();
    let blocks = *args
        .first()
        .expect("usage: thread_scaling BLOCKS [SAMPLES]");
    let samples = args.get(1).copied().unwrap_or(5_000);
    let pools = [1, 2].map(|t| ThreadPoolBuilder::new().num_threads(t).build().unwrap());
    let data = synthetic(samples);
    let net = Mlp::init(&WIDTHS, Activation::Relu, 2f64.sqrt(), 1).unwrap();
    epoch(&pools[1], &net, &data); // warm-up: pages, clocks, rayon threads
    println!(
        "block  load1 running steal%  fma 1t→2t GF/s   ratio  gemm 1t→2t GF/s  ratio  \
         epoch-slice 1t→2t ms  ratio  train/fma"
    );
    let start = Instant::now();
    for block in 1..=blocks {
        let (load, running) = (load_average(), procs_running());
        let steal_before = (cpu_ticks(), Instant::now());
        let (mut fma, mut gemm) = ([0.0f64; 2], [0.0f64; 2]);
        let mut slice = [(f64::INFINITY, StepPhases::default()); 2];
        for _ in 0..2 {
            let peak = fma_peak(FMA_ITERATIONS, 1, 2);
            fma = [fma[0].max(peak.per_core), fma[1].max(peak.total)];
            for (t, pool) in pools.iter().enumerate() {
                let gflops = pool.install(|| calibrate(&mut None, Moment::After, GEMM_N, 1).gflops);
                gemm[t] = gemm[t].max(gflops);
            }
            for (t, pool) in pools.iter().enumerate() {
                let run = epoch(pool, &net, &data);
                if run.0 < slice[t].0 {
                    slice[t] = run;
                }
            }
        }
        let steal = steal_percent(steal_before);
        let ratios = [fma[1] / fma[0], gemm[1] / gemm[0], slice[0].0 / slice[1].0];
        println!(
            "{block:>5} {load:>6.2} {running:>7} {steal:>6.1}  {:>6.1} → {:>6.1}  {:>5.2}  \
             {:>6.1} → {:>6.1}   {:>5.2}  {:>8.1} → {:>8.1}    {:>5.2}  {:>8.2}",
            fma[0],
            fma[1],
            ratios[0],
            gemm[0],
            gemm[1],
            ratios[1],
            slice[0].0 * 1e3,
            slice[1].0 * 1e3,
            ratios[2],
            ratios[2] / ratios[0],
        );
        let phases: Vec<String> = StepPhases::NAMES
            .iter()
            .zip(slice[0].1.seconds().iter().zip(slice[1].1.seconds()))
            .map(|(name, (one, two))| format!("{name} {:.1} → {:.1}", one * 1e3, two * 1e3))
            .collect();
        println!("      step phases 1t → 2t ms: {}", phases.join(", "));
    }
    println!(
        "{blocks} blocks in {:.1} s; epoch slice = {samples} samples",
        start.elapsed().as_secs_f64()
    );
}

/// Seconds of one training epoch over `data` in `pool`, from a copy of `net`, and its phases.
fn epoch(pool: &ThreadPool, net: &Mlp, data: &Dataset) -> (f64, StepPhases) {
    let cfg = TrainConfig {
        epochs: 1,
        batch: 64,
        lr: 1e-3,
        loss: Loss::Ce,
        optimizer: Optimizer::Adam,
        momentum: 0.9,
        seed: 7,
        precision: Precision::F64,
    };
    let mut net = net.clone();
    let start = Instant::now();
    let history = pool.install(|| train(&mut net, data, &cfg, |_| {}).unwrap());
    let seconds = start.elapsed().as_secs_f64();
    (seconds, history[0].phases.unwrap_or_default())
}

/// `samples` MNIST-shaped samples (784 values in [0, 1), 10 classes) from a fixed LCG.
fn synthetic(samples: usize) -> Dataset {
    let mut state = 99u64;
    let x = Mat::from_fn(WIDTHS[0], samples, |_, _| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    });
    Dataset {
        x,
        labels: (0..samples).map(|j| (j % 10) as u32).collect(),
        n_classes: 10,
    }
}

/// The 1-minute load average.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Runnable threads right now (`procs_running` in `/proc/stat`), this one included.
fn procs_running() -> u64 {
    stat_line("procs_running")
        .and_then(|v| v.first().copied())
        .unwrap_or(0)
}

/// (steal ticks, number of CPUs) from `/proc/stat`.
fn cpu_ticks() -> (u64, usize) {
    let steal = stat_line("cpu")
        .and_then(|v| v.get(7).copied())
        .unwrap_or(0);
    let cpus = std::fs::read_to_string("/proc/stat")
        .map(|s| {
            s.lines()
                .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
                .count()
        })
        .unwrap_or(1);
    (steal, cpus.max(1))
}

/// Steal time since `before`, in % of all CPUs' wall time (ticks of 1/100 s, USER_HZ).
fn steal_percent(before: ((u64, usize), Instant)) -> f64 {
    let ((steal0, cpus), t0) = before;
    let (steal1, _) = cpu_ticks();
    let wall = t0.elapsed().as_secs_f64();
    (steal1.saturating_sub(steal0)) as f64 / 100.0 / (wall * cpus as f64) * 100.0
}

/// The numbers after the label `name` on its line of `/proc/stat`.
fn stat_line(name: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect(),
    )
}
