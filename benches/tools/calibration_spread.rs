//! How steady `--timings`' GEMM reference is (`timing::calibrate`): `calibration_spread K REPS
//! [N]` makes K calibrations in one process. Each prints its own REPS + 1 products of the
//! calibration's kind (n × n f64 GEMM through faer on rayon's pool, warm-up first) as
//! GFLOP/s (2n³ flops each) with the involuntary context switches of the process during each
//! product in brackets (`timing::calibrate::timed_product`: a thread preempted by other work),
//! then the reference `timing::gemm_reference(N, 4)` reports right after (fastest, products,
//! preempted, whether the fastest ran undisturbed).

use corrflow::timing::calibrate::{calibration_matrices, gemm_reference, timed_product};

const USAGE: &str = "usage: calibration_spread K REPS [N]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let num = |k: usize, d: Option<usize>| -> usize {
        args.get(k).and_then(|a| a.parse().ok()).or(d).expect(USAGE)
    };
    let (k, reps, n) = (num(0, None), num(1, None), num(2, Some(1024)));
    let flops = 2.0 * (n as f64).powi(3);
    for call in 0..k {
        let (a, b, mut c) = calibration_matrices(n);
        let products: Vec<String> = (0..=reps)
            .map(|_| {
                let (seconds, switches) = timed_product(c.as_mut(), a.as_ref(), b.as_ref());
                let switches = switches.expect("getrusage");
                format!("{:.1}({switches})", flops / seconds * 1e-9)
            })
            .collect();
        std::hint::black_box(&c);
        let r = gemm_reference(n, 4);
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
