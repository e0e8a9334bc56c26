//! faer alone in f64 and in f32, on the pieces of the dense affine update Σ'ₖ = W Sₖ Wᵀ that the
//! f64 and the f32 engine run per layer (issue #14 item 4: is the f32 path's loss in faer?):
//! `cargo run --release --example gemm_precision -- N CLASSES ROUNDS`.
//!
//! Per round and float type, the best of three calls of: the stacked GEMM W [S₁ … S_C]
//! (N × N times N × C·N, 2CN³ flops), the C lower-triangular products (W Sₖ) Wᵀ side by side on
//! the pool, one per task as `Stacked::lower_each` runs them (CN³ flops), their mirroring, and Wᵀ
//! by faer's copy of a transposed view against `linalg::transpose_into`. Prints the ms of each
//! and the f64/f32 ratio; the last line gives the medians over the rounds.

use std::time::Instant;

use corrflow::linalg::{mirror_lower, transpose_into};
use corrflow::net::Real;
use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, Par};
use rayon::prelude::*;

const USAGE: &str = "usage: gemm_precision N CLASSES ROUNDS";
const PIECES: [&str; 5] = [
    "stacked GEMM",
    "triangular products",
    "mirror",
    "W^T by faer copy",
    "W^T by transpose_into",
];

/// Best of three calls of `f` (after one warm-up call), in ms.
fn best_ms(mut f: impl FnMut()) -> f64 {
    f();
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// The ms of each of [`PIECES`] in the float type T.
fn pieces<T: Real>(n: usize, classes: usize) -> [f64; 5] {
    let entry = |k: usize| T::from_f64((k % 17) as f64 / 17.0 - 0.5);
    let w = Mat::<T>::from_fn(n, n, |i, j| entry(7 * i + 13 * j));
    let stacked = Mat::<T>::from_fn(n, classes * n, |i, j| entry(3 * i + 5 * j));
    let one = T::from_f64(1.0);
    let mut product = Mat::<T>::zeros(n, classes * n);
    let mut w_t = Mat::<T>::zeros(n, n);
    let mut outs: Vec<Mat<T>> = (0..classes).map(|_| Mat::zeros(n, n)).collect();
    let gemm = best_ms(|| {
        let (a, b) = (w.as_ref(), stacked.as_ref());
        matmul(product.as_mut(), Accum::Replace, a, b, one, Par::rayon(0));
    });
    let faer_copy = best_ms(|| w_t.copy_from(w.transpose()));
    let tiled = best_ms(|| transpose_into(w.as_ref(), w_t.as_mut()));
    let lower = best_ms(|| {
        outs.par_iter_mut().enumerate().for_each(|(k, out)| {
            triangular::matmul(
                out.as_mut(),
                BlockStructure::TriangularLower,
                Accum::Replace,
                product.as_ref().subcols(k * n, n),
                BlockStructure::Rectangular,
                w_t.as_ref(),
                BlockStructure::Rectangular,
                one,
                Par::Seq,
            );
        })
    });
    let mirror = best_ms(|| outs.par_iter_mut().for_each(|o| mirror_lower(o.as_mut())));
    [gemm, lower, mirror, faer_copy, tiled]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect(USAGE))
        .collect();
    let [n, classes, rounds] = args[..] else {
        panic!("{USAGE}")
    };
    println!("N={n} C={classes} threads={}", rayon::current_num_threads());
    let mut ratios = vec![Vec::new(); PIECES.len()];
    for round in 1..=rounds {
        let (wide, single) = (pieces::<f64>(n, classes), pieces::<f32>(n, classes));
        let line: Vec<String> = PIECES
            .iter()
            .enumerate()
            .map(|(k, name)| {
                ratios[k].push(wide[k] / single[k]);
                format!(
                    "{name} {:.2} / {:.2} ms ({:.2}x)",
                    wide[k],
                    single[k],
                    wide[k] / single[k]
                )
            })
            .collect();
        println!("round {round}: f64 / f32: {}", line.join(", "));
    }
    let medians: Vec<String> = PIECES
        .iter()
        .zip(ratios)
        .map(|(name, r)| format!("{name} {:.2}x", median(r)))
        .collect();
    println!(
        "median f64/f32 over {rounds} rounds: {}",
        medians.join(", ")
    );
}
