//! faer's Cholesky factorization against its GEMM on one core (issue #14 item 2: the class
//! information of `analyze` is K + K(K−1)/2 factors of the input's 784² covariances):
//! `cargo run --release --example cholesky_rate -- N ROUNDS`.
//!
//! Per round, 20 in-place factorizations (`llt::cholesky_in_place`, sequential, the call
//! `stats::gaussian` makes) of the SPD matrix A Aᵀ + N·I (A: N × N, U(−1, 1) entries), each on a
//! fresh copy, and 20 products A Aᵀ (`matmul`, sequential); printed: N³/3 and 2N³ flops per
//! process CPU second ([`corrflow::timing::cpu::process_cpu_seconds`]: robust to a loaded
//! machine) and their ratio, per round. The environment variables `CHOLESKY_RECURSION` and
//! `CHOLESKY_BLOCK` set faer's `LltParams` (recursion threshold, block size; unset: faer's
//! defaults, 64 and 128, the parameters `stats::gaussian` runs with).

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{
    cholesky_in_place, cholesky_in_place_scratch, LltParams,
};
use faer::linalg::matmul::matmul;
use faer::{Accum, Auto, Mat, Par, Spec};

use corrflow::timing::cpu::process_cpu_seconds;

#[path = "inputs.rs"]
#[allow(dead_code)]
mod inputs;
use inputs::Uniform;

const USAGE: &str = "usage: cholesky_rate N ROUNDS";
/// Factorizations and products per round.
const REPS: usize = 20;

fn main() -> Result<(), String> {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().map_err(|_| USAGE.to_string()))
        .collect::<Result<_, _>>()?;
    let [n, rounds] = args[..] else {
        return Err(USAGE.into());
    };
    if n == 0 || rounds == 0 {
        return Err(USAGE.into());
    }
    let a = Uniform(7).mat(n, n, 1.0);
    let mut spd = Mat::<f64>::zeros(n, n);
    matmul(
        spd.as_mut(),
        Accum::Replace,
        &a,
        a.transpose(),
        1.0,
        Par::Seq,
    );
    for i in 0..n {
        spd[(i, i)] += n as f64;
    }
    let cpu = || process_cpu_seconds().map_err(|e| e.to_string());
    let nf = n as f64;
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(n, Par::Seq, params()?));
    let mut l = Mat::<f64>::zeros(n, n);
    let mut prod = Mat::<f64>::zeros(n, n);
    for round in 1..=rounds {
        let mut chol = 0.0;
        for _ in 0..REPS {
            l.copy_from(&spd);
            let t = cpu()?;
            cholesky_in_place(
                l.as_mut(),
                Default::default(),
                Par::Seq,
                MemStack::new(&mut mem),
                params()?,
            )
            .map_err(|_| "the test matrix is not positive definite".to_string())?;
            chol += cpu()? - t;
        }
        let t = cpu()?;
        for _ in 0..REPS {
            matmul(
                prod.as_mut(),
                Accum::Replace,
                &a,
                a.transpose(),
                1.0,
                Par::Seq,
            );
        }
        let gemm = cpu()? - t;
        let (c, g) = (
            REPS as f64 * nf.powi(3) / 3.0 / chol * 1e-9,
            REPS as f64 * 2.0 * nf.powi(3) / gemm * 1e-9,
        );
        println!(
            "round {round}: N = {n}: Cholesky {c:.1} GFLOP per CPU s, GEMM {g:.1}, ratio {:.2}",
            c / g
        );
    }
    Ok(())
}

/// faer's Cholesky parameters, with the recursion threshold and block size from
/// `CHOLESKY_RECURSION` and `CHOLESKY_BLOCK` where set.
fn params() -> Result<Spec<LltParams, f64>, String> {
    let mut p = <LltParams as Auto<f64>>::auto();
    for (name, field) in [
        ("CHOLESKY_RECURSION", &mut p.recursion_threshold),
        ("CHOLESKY_BLOCK", &mut p.block_size),
    ] {
        if let Ok(v) = std::env::var(name) {
            *field = v
                .parse()
                .ok()
                .filter(|&n: &usize| n > 0)
                .ok_or_else(|| format!("{name} must be a positive integer, got {v:?}"))?;
        }
    }
    Ok(p.into())
}
