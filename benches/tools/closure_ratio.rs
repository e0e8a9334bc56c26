//! Interleaved A/B timing of the closures against the affine update they follow, on the same
//! machine moment (issue #5, goal 3: closure ≤ 25 % of the affine update at N = 1024):
//! `cargo run --release --example closure_ratio -- N CLASSES ROUNDS [random|strong] [SCALE]`.
//!
//! Inputs per class: `random` = the criterion suite's layer ([`inputs::layer_moments`]),
//! `strong` (default) = correlations shaped like a trained MNIST hidden layer
//! ([`inputs::strong_layer_moments`]); the closures read these as pre-activation moments, the
//! affine update maps them through a random N×N layer (rows of unit variance). Prints the |ρ|
//! histogram of the first class, then per round the affine time per class and each closure's
//! time per class with its ratio to it; the summary gives the medians over the rounds.
//! SCALE (default 1) multiplies the pre-activations (μ by SCALE, Σ by SCALE²), for the cost of
//! the series closures at wider pre-activations. `CORRFLOW_ISA=avx2` (or `scalar`) holds the closures' SIMD lanes to that instruction set;
//! the affine update (faer) keeps AVX-512 where the CPU has it. Each closure's process CPU
//! time per class is printed beside its wall time ("cpu"): on a loaded machine with
//! `RAYON_NUM_THREADS=1` it is the figure that waiting for a core does not inflate.

use std::time::Instant;

use corrflow::net::Activation;
use corrflow::propagate::affine::{affine_moments, AffineWorkspace};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;
use faer::{Col, Mat};

#[path = "inputs.rs"]
mod inputs;
use inputs::{closure_cases, layer_moments, smooth_cases, strong_layer_moments, Uniform};

const USAGE: &str = "usage: closure_ratio N CLASSES ROUNDS [random|strong] [SCALE]";

/// CPU time of the whole process in ms (every thread; `CLOCK_PROCESS_CPUTIME_ID`).
fn cpu_ms() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 * 1e3 + t.tv_nsec as f64 * 1e-6
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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
    let widen: f64 = args.get(4).map_or(1.0, |a| a.parse().expect(USAGE));
    let mut u = Uniform(2024);
    let scale = (3.0 / n as f64).sqrt();
    let w = Mat::from_fn(n, n, |_, _| scale * u.next());
    let b = Col::zeros(n);
    let inputs: Vec<Moments> = (0..classes)
        .map(|_| {
            if strong {
                strong_layer_moments(&mut u, n)
            } else {
                layer_moments(&mut u, n)
            }
        })
        .map(|m| Moments::gaussian(&m.mean * widen, &m.cov * (widen * widen)))
        .collect();
    let mut hist = [0usize; 5];
    let cov = &inputs[0].cov;
    for j in 0..n {
        for i in j + 1..n {
            let rho = (cov[(i, j)] / (cov[(i, i)] * cov[(j, j)]).sqrt()).abs();
            hist[[0.3, 0.5, 0.75, 0.925, f64::INFINITY]
                .iter()
                .position(|&t| rho < t)
                .unwrap_or(4)] += 1;
        }
    }
    let pairs = (n * (n - 1) / 2) as f64;
    println!(
        "N={n} C={classes} inputs={} x{widen} threads={} closure ISA={}: |rho| <0.3 {:.1}%, 0.3-0.5 {:.1}%, 0.5-0.75 {:.1}%, 0.75-0.925 {:.1}%, >=0.925 {:.2}%",
        if strong { "strong" } else { "random" },
        rayon::current_num_threads(),
        corrflow::simd::Isa::current().name(),
        100.0 * hist[0] as f64 / pairs,
        100.0 * hist[1] as f64 / pairs,
        100.0 * hist[2] as f64 / pairs,
        100.0 * hist[3] as f64 / pairs,
        100.0 * hist[4] as f64 / pairs,
    );
    // Every closure of the criterion suite, then the other smooth activations (tanh is
    // `hermite_tanh` already).
    let cases: Vec<_> = closure_cases()
        .into_iter()
        .chain(
            smooth_cases()
                .into_iter()
                .filter(|&(_, act)| act != Activation::Tanh)
                .map(|(name, act)| (name, act, ClosureMethod::Auto)),
        )
        .collect();
    let closures: Vec<_> = cases
        .iter()
        .map(|&(_, act, method)| ClosurePair::new(act, method).map(|p| p.closure).unwrap())
        .collect();
    let mut pre = inputs.clone();
    let mut post = inputs.clone();
    let mut ws = AffineWorkspace::new();
    let mut affine_ms = Vec::new();
    let mut affine_cpu = Vec::new();
    let mut ratios = vec![Vec::new(); cases.len()];
    let mut closure_ms = vec![Vec::new(); cases.len()];
    let mut closure_cpu = vec![Vec::new(); cases.len()];
    for round in 0..=rounds {
        let (t, cpu) = (Instant::now(), cpu_ms());
        affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut pre, &mut ws).unwrap();
        let affine = t.elapsed().as_secs_f64() * 1e3 / classes as f64;
        let cpu = (cpu_ms() - cpu) / classes as f64;
        let mut line = format!("round {round}: affine {affine:.1} ms/class");
        for (k, closure) in closures.iter().enumerate() {
            let (t, cpu) = (Instant::now(), cpu_ms());
            for (h, z) in inputs.iter().zip(post.iter_mut()) {
                closure.apply_into(h, Corrections::None, z).unwrap();
            }
            let ms = t.elapsed().as_secs_f64() * 1e3 / classes as f64;
            let cpu = (cpu_ms() - cpu) / classes as f64;
            line += &format!(", {} {ms:.1} ms ({:.0}%)", cases[k].0, 100.0 * ms / affine);
            if round > 0 {
                ratios[k].push(ms / affine);
                closure_ms[k].push(ms);
                closure_cpu[k].push(cpu);
            }
        }
        if round > 0 {
            affine_ms.push(affine);
            affine_cpu.push(cpu);
            println!("{line}");
        }
    }
    let mut summary = format!(
        "median over {rounds} rounds: affine {:.1} ms/class (cpu {:.1})",
        median(&mut affine_ms),
        median(&mut affine_cpu)
    );
    for (k, case) in cases.iter().enumerate() {
        summary += &format!(
            ", {} {:.1} ms (cpu {:.1}) = {:.0}%",
            case.0,
            median(&mut closure_ms[k]),
            median(&mut closure_cpu[k]),
            100.0 * median(&mut ratios[k])
        );
    }
    println!("{summary}");
}
