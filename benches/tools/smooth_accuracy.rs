//! Accuracy of the series closures of the smooth activations against the reference 2-D
//! quadrature closure (issue #14, item 3): `cargo run --release --example smooth_accuracy -- N
//! [SCALE]` on the `random` and `strong` (MNIST-shaped) inputs of the benchmarks, pre-activations
//! widened by SCALE (μ·SCALE, Σ·SCALE², default 1). Prints per activation and input the largest
//! |ΔCᵢⱼ|, |ΔCᵢⱼ|/√(CᵢᵢCⱼⱼ) and |Δmᵢ| over all entries, and the closure times.

use std::time::Instant;

use corrflow::propagate::closures::{ClosureMethod, Corrections, QuadratureClosure};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;

#[path = "inputs.rs"]
#[allow(dead_code)]
mod inputs;
use inputs::{layer_moments, smooth_cases, strong_layer_moments, Uniform};

const USAGE: &str = "usage: smooth_accuracy N [SCALE]";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).expect(USAGE);
    let widen: f64 = args.get(1).map_or(1.0, |a| a.parse().expect(USAGE));
    let widened = |m: Moments| Moments::gaussian(&m.mean * widen, &m.cov * (widen * widen));
    let inputs = [
        ("random", widened(layer_moments(&mut Uniform(42), n))),
        ("strong", widened(strong_layer_moments(&mut Uniform(42), n))),
    ];
    for (act_name, act) in smooth_cases() {
        let series = ClosurePair::new(act, ClosureMethod::Auto)
            .map(|p| p.closure)
            .expect("series closure");
        let reference = QuadratureClosure::new(act);
        for (input_name, input) in &inputs {
            let t = Instant::now();
            let got = series.apply(input, Corrections::None).expect("series");
            let series_ms = t.elapsed().as_secs_f64() * 1e3;
            let t = Instant::now();
            let want =
                corrflow::propagate::closures::Closure::apply(&reference, input, Corrections::None)
                    .expect("quadrature");
            let reference_ms = t.elapsed().as_secs_f64() * 1e3;
            let (mut abs, mut rel, mut mean) = (0.0f64, 0.0f64, 0.0f64);
            for j in 0..n {
                mean = mean.max((got.mean[j] - want.mean[j]).abs());
                for i in 0..n {
                    let d = (got.cov[(i, j)] - want.cov[(i, j)]).abs();
                    abs = abs.max(d);
                    let scale = (want.cov[(i, i)] * want.cov[(j, j)]).sqrt();
                    if scale > 0.0 {
                        rel = rel.max(d / scale);
                    }
                }
            }
            println!(
                "{act_name} {input_name} N={n} x{widen}: max |ΔC| {abs:.2e}, max |ΔC|/√(CᵢᵢCⱼⱼ) \
                 {rel:.2e}, max |Δm| {mean:.2e}; series {series_ms:.1} ms, quadrature \
                 {reference_ms:.0} ms"
            );
        }
    }
}
