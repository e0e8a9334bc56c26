//! faer's sequential GEMM on the shapes of `analyze`'s products on MNIST with the
//! 784-100-100-10 network, against the 1024³ product of `--timings`' yardstick (issue #14 item
//! 2; BENCHMARKS.md, "`analyze`'s whole run on Zen 4, perf71"): does a shape's edge strip (m =
//! 100 = 2·48 + 4 rows in faer's AVX-512 m48 kernels), its depth or its few columns keep it
//! below the yardstick's rate? `cargo run --release --example analyze_shapes` under
//! `RAYON_NUM_THREADS=1`.
//!
//! Printed per product C = A·B (A m × k, B k × n, as `analyze` lays them out): GFLOP/s, 2mnk
//! flops over the best of 9 rounds of wall-clock time, each round enough products for ~0.2
//! GFLOP.

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

#[path = "inputs.rs"]
#[allow(dead_code)]
mod inputs;
use inputs::Uniform;

/// GFLOP/s of `dst ← a·b` (sequential), the best of 9 rounds.
fn rate(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> f64 {
    let (m, k, n) = (a.nrows(), a.ncols(), b.ncols());
    let flops = 2.0 * (m * n * k) as f64;
    let per_round = (2e8 / flops).ceil().max(1.0) as usize;
    let mut c = Mat::<f64>::zeros(m, n);
    let seconds = (0..9)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_round {
                matmul(c.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
            }
            t.elapsed().as_secs_f64() / per_round as f64
        })
        .fold(f64::INFINITY, f64::min);
    flops / seconds * 1e-9
}

fn main() {
    let mut u = Uniform(3);
    let mut mat = |m: usize, n: usize| u.mat(m, n, 1.0);
    let (w1, f, x) = (mat(100, 784), mat(784, 560), mat(784, 512));
    let (g, layer, z) = (mat(100, 560), mat(100, 100), mat(100, 1024));
    let (out, pieces, grams) = (mat(10, 100), mat(600, 128), mat(64, 128));
    let (pairs, lead, lead_k4) = (mat(512, 55), mat(512, 15), mat(15, 40));
    let (k34, draws, factor) = (mat(55, 26), mat(4096, 10), mat(10, 10));
    let (trailing, big, big2) = (mat(600, 32), mat(1024, 1024), mat(1024, 1024));
    let shapes: [(&str, MatRef<'_, f64>, MatRef<'_, f64>); 12] = [
        ("yardstick: 1024³", big.as_ref(), big2.as_ref()),
        (
            "statistics: layer 1 on a batch, W₁X",
            w1.as_ref(),
            x.as_ref(),
        ),
        (
            "statistics: a Gram piece (depth 128)",
            pieces.as_ref(),
            grams.transpose(),
        ),
        ("surrogates: folded layer, W₁F", w1.as_ref(), f.as_ref()),
        (
            "surrogates: the same as FᵀW₁ᵀ",
            f.transpose(),
            w1.transpose(),
        ),
        ("surrogates: G Gᵀ", g.as_ref(), g.transpose()),
        (
            "surrogates: a 100-wide layer on 1 024 draws",
            layer.as_ref(),
            z.as_ref(),
        ),
        (
            "surrogates: the output layer on 1 024 draws",
            out.as_ref(),
            z.as_ref(),
        ),
        (
            "pivoted Cholesky: a rank-32 update",
            trailing.as_ref(),
            trailing.transpose(),
        ),
        (
            "tails: Edgeworth, κ₄'s lead",
            lead.as_ref(),
            lead_k4.as_ref(),
        ),
        ("tails: Edgeworth, the rest", pairs.as_ref(), k34.as_ref()),
        (
            "tails: spreads z Fᵀ of 4 096 draws",
            draws.as_ref(),
            factor.transpose(),
        ),
    ];
    for (name, a, b) in shapes {
        println!(
            "{name:46} {:5} × {:4} × {:4}  {:5.1} GFLOP/s",
            a.nrows(),
            a.ncols(),
            b.ncols(),
            rate(a, b)
        );
    }
}
