//! One closure's output on `closure_ratio`'s first input, for comparing the outputs of two
//! builds: `cargo run --release --example closure_dump -- N [random|strong] SCALE NAME OUT`
//! writes the output mean (N values) and then the covariance (N², column-major) as
//! little-endian f64 to OUT. NAME is a closure of `closure_ratio` (relu, erf, quadratic,
//! hermite_tanh, sigmoid, gelu, silu, softplus); the input is built exactly as there (same
//! seed, the layer's weights drawn first), μ times SCALE and Σ times SCALE².

use std::io::Write;

use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;
use faer::Mat;

#[path = "inputs.rs"]
mod inputs;
use inputs::{closure_cases, layer_moments, smooth_cases, strong_layer_moments, Uniform};

const USAGE: &str = "usage: closure_dump N [random|strong] SCALE NAME OUT";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [n, kind, widen, name, out] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let n: usize = n.parse().map_err(|_| USAGE)?;
    let widen: f64 = widen.parse().map_err(|_| USAGE)?;
    let mut u = Uniform(2024);
    // closure_ratio draws its layer's weights before the inputs.
    let scale = (3.0 / n as f64).sqrt();
    let _weights = Mat::from_fn(n, n, |_, _| scale * u.next());
    let m = match kind.as_str() {
        "strong" => strong_layer_moments(&mut u, n),
        "random" => layer_moments(&mut u, n),
        _ => return Err(USAGE.into()),
    };
    let input = Moments::gaussian(&m.mean * widen, &m.cov * (widen * widen));
    let (_, act, method) = closure_cases()
        .into_iter()
        .chain(
            smooth_cases()
                .into_iter()
                .map(|(name, act)| (name, act, ClosureMethod::Auto)),
        )
        .find(|c| c.0 == name)
        .ok_or_else(|| format!("unknown closure {name}; {USAGE}"))?;
    let closure = ClosurePair::new(act, method)?.closure;
    let mut output = input.clone();
    closure.apply_into(&input, Corrections::None, &mut output)?;
    let mut bytes = Vec::with_capacity(8 * n * (n + 1));
    for v in output
        .mean
        .iter()
        .chain((0..n).flat_map(|j| output.cov.col_as_slice(j)))
    {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(out)?.write_all(&bytes)?;
    Ok(())
}
