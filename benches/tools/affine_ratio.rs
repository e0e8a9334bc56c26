//! Interleaved A/B timing of the affine covariance update against faer's square GEMM on the
//! same machine moment, for a shared, noisy machine where sequential criterion groups see
//! different loads: `cargo run --release --example affine_ratio -- N CLASSES ROUNDS [RANK]`.
//!
//! Each round times one dense `affine_moments` call (C classes stacked, 2·N_out·N² + N_out²·N
//! flops per class),
//! one with [`AffineStrategy::Auto`] (the two in alternating order) (the factored update where it is chosen; `FORCE=1`:
//! [`AffineStrategy::Factored`], wherever Σ has a factor) and one N×N×N
//! GEMM (2N³ flops) back to back, and prints the rates (in dense-equivalent flops), the dense
//! update's share of the GEMM rate and the factored path's speed-up over the dense one; the
//! summary line gives the medians over the rounds and the factored path's largest relative
//! Frobenius difference to the dense result. The covariances are full rank on ACTIVE of the N
//! coordinates (default N) and zero on the others, like MNIST's constant pixels; W is
//! N_OUT × N (default N × N).

use std::time::Instant;

use corrflow::propagate::affine::{affine_moments, AffineStrategy, AffineWorkspace};
use corrflow::stats::gaussian::relative_frobenius;
use corrflow::stats::Moments;
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, Par};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("usage: affine_ratio N CLASSES ROUNDS [ACTIVE [N_OUT]]")
        })
        .collect();
    let (n, classes, rounds) = (args[0], args[1], args[2]);
    let active = args.get(3).copied().unwrap_or(n);
    let n_out = args.get(4).copied().unwrap_or(n);
    // FORCE=1 in the environment times the factored path even where Auto would not choose it.
    let strategy = if std::env::var("FORCE").is_ok_and(|v| v == "1") {
        AffineStrategy::Factored
    } else {
        AffineStrategy::Auto
    };
    let mut state = 1u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let w = Mat::from_fn(n_out, n, |_, _| next());
    let b = Col::zeros(n_out);
    // The kept coordinates are spread over the input like MNIST's non-constant pixels.
    let kept = |i: usize| (i * 7919) % n < active;
    let inputs: Vec<Moments> = (0..classes)
        .map(|_| {
            let f = Mat::from_fn(n, n, |i, _| if kept(i) { next() } else { 0.0 });
            let mut cov = Mat::zeros(n, n);
            matmul(
                cov.as_mut(),
                Accum::Replace,
                f.as_ref(),
                f.transpose(),
                1.0 / n as f64,
                Par::rayon(0),
            );
            Moments::gaussian(Col::zeros(n), cov)
        })
        .collect();
    let mut outputs = inputs.clone();
    let mut factored = inputs.clone();
    let mut ws = AffineWorkspace::new();
    let mut ws_auto = AffineWorkspace::with_strategy(strategy);
    let (a, c) = (
        Mat::from_fn(n, n, |_, _| next()),
        Mat::from_fn(n, n, |_, _| next()),
    );
    let mut dst = Mat::zeros(n, n);
    let nf = n as f64;
    let dense_flops = classes as f64 * (2.0 * n_out as f64 * nf * nf + (n_out as f64).powi(2) * nf);
    let (mut ratios, mut speedups, mut max_error) = (Vec::new(), Vec::new(), 0.0f64);
    for round in 0..=rounds {
        // Alternate which update runs first, so that neither always finds the caches warm.
        let mut time_dense = || {
            let t = Instant::now();
            affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut outputs, &mut ws).unwrap();
            dense_flops / t.elapsed().as_secs_f64() * 1e-9
        };
        let mut time_auto = || {
            let t = Instant::now();
            affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut factored, &mut ws_auto).unwrap();
            dense_flops / t.elapsed().as_secs_f64() * 1e-9
        };
        let (affine, auto) = if round % 2 == 0 {
            (time_dense(), time_auto())
        } else {
            let auto = time_auto();
            (time_dense(), auto)
        };
        for (d, f) in outputs.iter().zip(&factored) {
            max_error = max_error.max(relative_frobenius(f.cov.as_ref(), d.cov.as_ref()).unwrap());
        }
        let t = Instant::now();
        matmul(
            dst.as_mut(),
            Accum::Replace,
            a.as_ref(),
            c.as_ref(),
            1.0,
            Par::rayon(0),
        );
        let gemm = 2.0 * nf.powi(3) / t.elapsed().as_secs_f64() * 1e-9;
        if round > 0 {
            println!(
                "round {round}: affine {affine:.1} GFLOP/s, factored {auto:.1}, gemm {gemm:.1} \
                 GFLOP/s, ratio {:.0}%, factored/dense speed-up {:.2}×",
                100.0 * affine / gemm,
                auto / affine
            );
            ratios.push(affine / gemm);
            speedups.push(auto / affine);
        }
    }
    ratios.sort_by(f64::total_cmp);
    speedups.sort_by(f64::total_cmp);
    println!(
        "N={n} N_out={n_out} C={classes} active={active} threads={}: median affine/gemm rate {:.0}%, factored/dense \
         speed-up median {:.2}× (min {:.2}×, max {:.2}×) over {rounds} rounds, max relative \
         difference {max_error:.1e}",
        rayon::current_num_threads(),
        100.0 * ratios[ratios.len() / 2],
        speedups[speedups.len() / 2],
        speedups[0],
        speedups[speedups.len() - 1]
    );
}
