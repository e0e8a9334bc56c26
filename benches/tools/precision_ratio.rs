//! Interleaved A/B timing of one layer — affine update N → N, closure, a one-unit read-out —
//! propagated with f64 and with f32 covariances on the same machine moment (issue #14 item 4:
//! f32 ≥ 1.7× the f64 throughput at N = 1024):
//! `cargo run --release --example precision_ratio -- N CLASSES ROUNDS [strong|random] [ACTIVATION]`.
//!
//! Inputs per class as in `closure_ratio` (`strong`, default: correlations shaped like a trained
//! MNIST hidden layer; `random`: the criterion suite's layer); the activation defaults to relu.
//! Each round runs both engines (warm, buffers reused), alternating which goes first. Prints per
//! round the f64 and f32 times per class and their ratio, the f32 run's split (affine, closure,
//! f32 ↔ f64 conversions), and the largest relative Frobenius error of the f32 Σ of every stage;
//! the summary gives the medians over the rounds.

use std::time::Instant;

use corrflow::net::{Activation, Mlp, Precision};
use corrflow::propagate::affine::AffineStrategy;
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::gaussian::relative_frobenius;
use corrflow::stats::Moments;
use corrflow::timing::Timings;

// Only the layer inputs of the shared helpers are used here.
#[allow(dead_code)]
#[path = "inputs.rs"]
mod inputs;
use inputs::{layer_moments, strong_layer_moments, Uniform};

const USAGE: &str = "usage: precision_ratio N CLASSES ROUNDS [strong|random] [ACTIVATION]";

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
    let mut split = [Vec::new(), Vec::new(), Vec::new()];
    for round in 0..=rounds {
        let mut ms = [0.0; 2];
        let mut f32_timings = Timings::disabled();
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        for k in order {
            let timings = if k == 1 {
                Timings::new()
            } else {
                Timings::disabled()
            };
            let t = Instant::now();
            engines[k]
                .run(&net, 0, &start, None, opts, &timings)
                .unwrap();
            ms[k] = per_class(t.elapsed().as_secs_f64());
            if k == 1 {
                f32_timings = timings;
            }
        }
        let parts = ["affine", "closure", "f32 ↔ f64"].map(|s| per_class(seconds(&f32_timings, s)));
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
            .flat_map(|(a, b)| a.per_class.iter().zip(&b.per_class))
            .map(|(a, b)| relative_frobenius(b.cov.as_ref(), a.cov.as_ref()).unwrap())
            .fold(0.0, f64::max);
        println!(
            "round {round}: f64 {:.1} ms/class, f32 {:.1} ms/class ({:.2}x; affine {:.1}, closure {:.1}, f32<->f64 {:.1} ms), max rel. Frobenius error {err:.1e}",
            ms[0],
            ms[1],
            ms[0] / ms[1],
            parts[0],
            parts[1],
            parts[2]
        );
        f64_ms.push(ms[0]);
        f32_ms.push(ms[1]);
        speedup.push(ms[0] / ms[1]);
        for (v, p) in split.iter_mut().zip(parts) {
            v.push(p);
        }
    }
    let [mut a, mut c, mut w] = split;
    println!(
        "median over {rounds} rounds: f64 {:.1} ms/class, f32 {:.1} ms/class, speed-up {:.2}x (min {:.2}, max {:.2}); f32 split affine {:.1}, closure {:.1}, f32<->f64 {:.1} ms/class",
        median(&mut f64_ms),
        median(&mut f32_ms),
        median(&mut speedup),
        speedup.iter().copied().fold(f64::INFINITY, f64::min),
        speedup.iter().copied().fold(0.0, f64::max),
        median(&mut a),
        median(&mut c),
        median(&mut w)
    );
}
