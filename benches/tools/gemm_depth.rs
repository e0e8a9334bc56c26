//! faer's sequential GEMM against the depth of the product (issue #14 item 2): the same
//! product C += A·Bᵀ (A m × k, B n × k, column-major: the shapes of `stats::gram`'s pieces) in
//! one call and as k/128 calls of depth 128 added in turn (`stats::gram::K_CHUNK`), for
//! m = 100 … 1000, n = 64 and 256, k = 256, 512, 1024:
//! `cargo run --release --example gemm_depth`.
//!
//! Printed: GFLOP/s (2mnk flops over the best of 7 wall-clock runs) of one call / the chunks.
//! On this project's Intel machine (twenty-seventh session) one call ran at 40–45 GFLOP/s for
//! m ≈ 500, k ≥ 512, the chunks at 69–75 (BENCHMARKS.md, "The Gram's sum over samples in
//! chunks").

use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

#[path = "inputs.rs"]
#[allow(dead_code)]
mod inputs;
use inputs::Uniform;

/// Depth of each chunk (`stats::gram::K_CHUNK`).
const CHUNK: usize = 128;

/// The least wall-clock seconds of 7 runs of `f`.
fn best(mut f: impl FnMut()) -> f64 {
    (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    for n in [64, 256] {
        for m in [100, 200, 300, 400, 450, 500, 550, 600, 700, 784, 1000] {
            let mut line = format!("n = {n:3}, m = {m:4}:");
            for k in [256, 512, 1024] {
                let a = Uniform(3).mat(m, k, 1.0);
                let b = Uniform(5).mat(n, k, 1.0);
                let mut c = Mat::<f64>::zeros(m, n);
                let one = best(|| {
                    matmul(
                        c.as_mut(),
                        Accum::Add,
                        a.as_ref(),
                        b.transpose(),
                        1.0,
                        Par::Seq,
                    )
                });
                let chunks = best(|| {
                    for s in (0..k).step_by(CHUNK) {
                        let w = CHUNK.min(k - s);
                        let (a, b) = (a.as_ref().subcols(s, w), b.as_ref().subcols(s, w));
                        matmul(c.as_mut(), Accum::Add, a, b.transpose(), 1.0, Par::Seq);
                    }
                });
                let rate = |t: f64| 2.0 * (m * n * k) as f64 / t / 1e9;
                line += &format!("  k = {k:4}: {:3.0} / {:3.0}", rate(one), rate(chunks));
            }
            println!("{line}   GFLOP/s, one call / chunks of {CHUNK}");
        }
    }
}
