//! How steady `--timings`' GEMM reference is (`timing::calibrate`): `calibration_spread K REPS
//! [N]` makes K calibrations in one process. Each prints its own REPS + 1 products of the
//! calibration's kind (n × n f64 GEMM through faer on rayon's pool, warm-up first) as
//! GFLOP/s (2n³ flops each) with the involuntary context switches of the process during each
//! product in brackets (`timing::cpu::involuntary_switches`: a thread preempted by other work),
//! then the reference `timing::gemm_reference(N, 4)` reports right after (fastest, products,
//! preempted, whether the fastest ran undisturbed).

use std::time::Instant;

use corrflow::timing::cpu::involuntary_switches;
use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

const USAGE: &str = "usage: calibration_spread K REPS [N]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |k: usize, d: Option<usize>| -> usize {
        args.get(k).and_then(|a| a.parse().ok()).or(d).expect(USAGE)
    };
    let (k, reps, n) = (num(0, None), num(1, None), num(2, Some(1024)));
    let flops = 2.0 * (n as f64).powi(3);
    let switches = || involuntary_switches().expect("getrusage");
    for call in 0..k {
        let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 3) % 11) as f64 * 0.1 - 0.5);
        let b = Mat::from_fn(n, n, |i, j| ((i * 5 + j * 2) % 13) as f64 * 0.1 - 0.6);
        let mut c = Mat::<f64>::zeros(n, n);
        let products: Vec<String> = (0..=reps)
            .map(|_| {
                let s = switches();
                let t = Instant::now();
                matmul(
                    c.as_mut(),
                    Accum::Replace,
                    a.as_ref(),
                    b.as_ref(),
                    1.0,
                    Par::rayon(0),
                );
                let rate = flops / t.elapsed().as_secs_f64() * 1e-9;
                format!("{rate:.1}({})", switches() - s)
            })
            .collect();
        std::hint::black_box(&c);
        let r = corrflow::timing::gemm_reference(n, 4);
        println!(
            "call {call}: products {}; gemm_reference {:.1} GFLOP/s (fastest of {}, {} preempted, \
             fastest undisturbed: {})",
            products.join(" "),
            r.gflops,
            r.reps,
            r.preempted,
            r.undisturbed
        );
    }
}
