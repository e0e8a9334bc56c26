//! Interleaved A/B timing of one layer — affine update N → N, closure, a one-unit read-out —
//! propagated with f64 and with f32 covariances on the same machine moment (issue #14 item 4:
//! f32 ≥ 1.7× the f64 throughput at N = 1024):
//! `cargo run --release --example precision_ratio -- N CLASSES ROUNDS [strong|random] [ACTIVATION]`.
//!
//! Inputs per class as in `closure_ratio` (`strong`, default: correlations shaped like a trained
//! MNIST hidden layer; `random`: the criterion suite's layer); the activation defaults to relu.
//! Each round runs both engines (warm, buffers reused), alternating which goes first. Prints per
//! round the f64 and f32 times per class with each run's split (affine, closure, f32 ↔ f64
//! conversions), their ratio in wall time and in process CPU time, and the largest relative
//! Frobenius error of the f32 Σ of every stage; the summary gives the medians over the rounds,
//! the bytes each engine's stages hold and the share of pre-activation pairs with |ρ| ≥ 0.925
//! (those the f32 relu closure leaves to the f64 closed form).

use std::time::Instant;

use corrflow::net::{Activation, Mlp, Precision};
use corrflow::propagate::affine::AffineStrategy;
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{Predicted, PropagateOptions, Propagator};
use corrflow::stats::gaussian::relative_frobenius;
use corrflow::stats::Moments;
use corrflow::timing::Timings;

// Only the layer inputs of the shared helpers are used here.
#[allow(dead_code)]
#[path = "inputs.rs"]
mod inputs;
use inputs::{layer_moments, strong_layer_moments, Uniform};

const USAGE: &str = "usage: precision_ratio N CLASSES ROUNDS [strong|random] [ACTIVATION]";

/// CPU seconds this process has used, all threads (unlike wall time, not inflated while the
/// process waits for a core on a loaded machine; spinning threads do count).
fn cpu_seconds() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec; CLOCK_PROCESS_CPUTIME_ID is always supported
    // on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_PROCESS_CPUTIME_ID) failed");
    t.tv_sec as f64 + 1e-9 * t.tv_nsec as f64
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds of `stage` recorded in `t`.
fn seconds(t: &Timings, stage: &str) -> f64 {
    t.stages()
        .iter()
        .filter(|s| s.stage == stage)
        .map(|s| s.seconds)
        .sum()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |k: usize| -> usize { args.get(k).and_then(|a| a.parse().ok()).expect(USAGE) };
    let (n, classes, rounds) = (num(0), num(1), num(2));
    let strong = match args.get(3).map_or("strong", String::as_str) {
        "strong" => true,
        "random" => false,
        _ => panic!("{USAGE}"),
    };
    let act: Activation = args
        .get(4)
        .map_or("relu", String::as_str)
        .parse()
        .expect(USAGE);
    let net = Mlp::init(&[n, n, 1], act, 1.0, 2024).unwrap();
    let mut u = Uniform(2024);
    let start: Vec<Moments> = (0..classes)
        .map(|_| {
            if strong {
                strong_layer_moments(&mut u, n)
            } else {
                layer_moments(&mut u, n)
            }
        })
        .collect();
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let mut engines = [Precision::F64, Precision::F32]
        .map(|p| Propagator::with_settings(p, AffineStrategy::Dense));
    println!(
        "N={n} C={classes} inputs={} activation={act} threads={}",
        if strong { "strong" } else { "random" },
        rayon::current_num_threads()
    );
    let per_class = |s: f64| s * 1e3 / classes as f64;
    let (mut f64_ms, mut f32_ms, mut speedup) = (Vec::new(), Vec::new(), Vec::new());
    let mut cpu_speedup = Vec::new();
    // Per engine, ms/class of: affine, closure, f32 ↔ f64 conversions.
    let mut split = [[vec![], vec![], vec![]], [vec![], vec![], vec![]]];
    for round in 0..=rounds {
        let (mut ms, mut cpu) = ([0.0; 2], [0.0; 2]);
        let mut parts = [[0.0; 3]; 2];
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let timings = Timings::new();
            let (t, c) = (Instant::now(), cpu_seconds());
            engines[k]
                .run(&net, 0, &start, None, opts, &timings)
                .unwrap();
            ms[k] = per_class(t.elapsed().as_secs_f64());
            cpu[k] = cpu_seconds() - c;
            parts[k] = ["affine", "closure", "f32 ↔ f64"].map(|s| per_class(seconds(&timings, s)));
        }
        if round == 0 {
            continue;
        }
        let [exact, single] = &mut engines;
        let exact = exact
            .run(&net, 0, &start, None, opts, &Timings::disabled())
            .unwrap();
        let single = single
            .run(&net, 0, &start, None, opts, &Timings::disabled())
            .unwrap();
        let err = exact
            .iter()
            .zip(single)
            .flat_map(|(a, b)| (0..classes).map(move |c| (a.cov(c), b.cov(c))))
            .map(|(a, b)| relative_frobenius(b.as_ref().as_ref(), a.as_ref().as_ref()).unwrap())
            .fold(0.0, f64::max);
        let [p64, p32] = parts;
        println!(
            "round {round}: f64 {:.1} ms/class (affine {:.1}, closure {:.1}), f32 {:.1} ms/class (affine {:.1}, closure {:.1}, f32<->f64 {:.1}): {:.2}x, CPU time {:.2}x, max rel. Frobenius error {err:.1e}",
            ms[0], p64[0], p64[1], ms[1], p32[0], p32[1], p32[2], ms[0] / ms[1], cpu[0] / cpu[1],
        );
        cpu_speedup.push(cpu[0] / cpu[1]);
        f64_ms.push(ms[0]);
        f32_ms.push(ms[1]);
        speedup.push(ms[0] / ms[1]);
        for (engine, p) in split.iter_mut().zip(parts) {
            for (v, x) in engine.iter_mut().zip(p) {
                v.push(x);
            }
        }
    }
    let [[mut a64, mut c64, _], [mut a32, mut c32, mut w32]] = split;
    println!(
        "median over {rounds} rounds: f64 {:.1} ms/class (affine {:.1}, closure {:.1}), f32 {:.1} ms/class (affine {:.1}, closure {:.1}, f32<->f64 {:.1}), speed-up {:.2}x (min {:.2}, max {:.2}), in CPU time {:.2}x",
        median(&mut f64_ms),
        median(&mut a64),
        median(&mut c64),
        median(&mut f32_ms),
        median(&mut a32),
        median(&mut c32),
        median(&mut w32),
        median(&mut speedup),
        speedup.iter().copied().fold(f64::INFINITY, f64::min),
        speedup.iter().copied().fold(0.0, f64::max),
        median(&mut cpu_speedup),
    );
    let [exact, single] = engines.map(Propagator::into_stages);
    let mib = |stages: &[Predicted]| {
        stages.iter().map(Predicted::bytes).sum::<usize>() as f64 / 1048576.0
    };
    println!(
        "stages held: f64 {:.1} MiB, f32 {:.1} MiB; pairs of h with |rho| >= 0.925: {:.2} %",
        mib(&exact),
        mib(&single),
        100.0 * high_rho_share(&exact[0])
    );
}

/// The share of pairs i < j of the pre-activations (every class) with |ρᵢⱼ| ≥ 0.925: those the
/// f32 relu closure leaves to the f64 closed form.
fn high_rho_share(pre: &Predicted) -> f64 {
    let (mut high, mut all) = (0usize, 0usize);
    for c in 0..pre.classes() {
        let cov = pre.cov(c);
        let n = cov.nrows();
        for j in 0..n {
            for i in j + 1..n {
                let d = (cov[(i, i)] * cov[(j, j)]).sqrt();
                all += 1;
                high += usize::from(d > 0.0 && (cov[(i, j)] / d).abs() >= 0.925);
            }
        }
    }
    high as f64 / all.max(1) as f64
}
