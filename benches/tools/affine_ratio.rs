//! Interleaved A/B timing of the affine covariance update against faer's square GEMM on the
//! same machine moment, for a shared, noisy machine where sequential criterion groups see
//! different loads: `cargo run --release --example affine_ratio -- N CLASSES ROUNDS`.
//!
//! Each round times one `affine_moments` call (C classes stacked, 3N³ flops per class) and one
//! N×N×N GEMM (2N³ flops) back to back, and prints both rates and their ratio; the summary line
//! gives the median ratio over the rounds.

use std::time::Instant;

use corrflow::propagate::affine::{affine_moments, AffineWorkspace};
use corrflow::stats::Moments;
use faer::linalg::matmul::matmul;
use faer::{Accum, Col, Mat, Par};

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: affine_ratio N CLASSES ROUNDS"))
        .collect();
    let (n, classes, rounds) = (args[0], args[1], args[2]);
    let mut state = 1u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
    };
    let w = Mat::from_fn(n, n, |_, _| next());
    let b = Col::zeros(n);
    let inputs: Vec<Moments> = (0..classes)
        .map(|_| {
            let f = Mat::from_fn(n, n, |_, _| next());
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
    let mut ws = AffineWorkspace::new();
    let (a, c) = (
        Mat::from_fn(n, n, |_, _| next()),
        Mat::from_fn(n, n, |_, _| next()),
    );
    let mut dst = Mat::zeros(n, n);
    let nf = n as f64;
    let mut ratios = Vec::new();
    for round in 0..=rounds {
        let t = Instant::now();
        affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut outputs, &mut ws).unwrap();
        let affine = 3.0 * nf.powi(3) * classes as f64 / t.elapsed().as_secs_f64() * 1e-9;
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
                "round {round}: affine {affine:.1} GFLOP/s, gemm {gemm:.1} GFLOP/s, ratio {:.0}%",
                100.0 * affine / gemm
            );
            ratios.push(affine / gemm);
        }
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "N={n} C={classes} threads={}: median affine/gemm rate {:.0}% over {rounds} rounds",
        rayon::current_num_threads(),
        100.0 * ratios[ratios.len() / 2]
    );
}
