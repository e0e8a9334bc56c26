//! Every hidden layer's class-conditional pre-activation moments of a network on XOR, as the
//! theory propagates them from the input and as the data measure them, with the theory's
//! closure output beside them (the exact reference for a new closure on the same inputs):
//! `cargo run --release --example layer_dump -- MODEL OUTDIR`. Writes per layer l and class c
//! `OUTDIR/{theory,measured}_h{l}_c{c}.bin` and `OUTDIR/{theory,measured}_z{l}_c{c}.bin` (the
//! auto closure's output on that h), each the width
//! n as a little-endian u64 and then the mean (n values) and the covariance (n², column-major)
//! as little-endian f64. The data are `propagate --task xor`'s defaults' test split. Prints
//! each hidden layer's closure time (the auto closure again on the theory's hˡ, every class,
//! and on the measured hˡ, every class, wall seconds on the rayon pool: run with
//! `RAYON_NUM_THREADS=1` for CPU seconds).

use std::io::Write;
use std::path::Path;

use corrflow::data::xor::XorConfig;
use corrflow::measure::{layer_stats, Higher};
use corrflow::net::{Activation, Stage};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{propagate, ClosurePair, PropagateOptions};
use corrflow::stats::Moments;

const USAGE: &str = "usage: layer_dump MODEL OUTDIR";

fn write(path: &Path, mean: &faer::Col<f64>, cov: &faer::Mat<f64>) -> std::io::Result<()> {
    let n = mean.nrows();
    let mut bytes = Vec::with_capacity(8 * (1 + n * (n + 1)));
    bytes.extend_from_slice(&(n as u64).to_le_bytes());
    for v in mean.iter().chain((0..n).flat_map(|j| cov.col_as_slice(j))) {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| std::io::Error::new(e.kind(), format!("writing {}: {e}", path.display())))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, out] = args.as_slice() else {
        return Err(USAGE.into());
    };
    let out = Path::new(out);
    if !out.is_dir() {
        return Err(format!("OUTDIR {} is not a directory; {USAGE}", out.display()).into());
    }
    let net = corrflow::net::model_io::load(Path::new(model))?;
    let data = XorConfig {
        sigma: 0.3,
        dim: 2,
        rotate: false,
        n_train: 4000,
        n_test: 4000,
        seed: 0,
    }
    .generate()?
    .test;
    let stats = layer_stats(&net, &data, Higher::None, 1000)?;
    let start: Vec<Moments> = stats
        .get(Stage::Input)
        .ok_or("no input statistics")?
        .per_class
        .clone();
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let stages = propagate(&net, 0, &start, None, opts)?;
    for p in &stages {
        let (name, l) = match p.stage {
            Stage::Pre(l) => ("theory_h", l),
            Stage::Post(l) => ("theory_z", l),
            _ => continue,
        };
        for c in 0..start.len() {
            write(
                &out.join(format!("{name}{l}_c{c}.bin")),
                p.mean(c),
                &p.cov(c),
            )?;
        }
    }
    let closure = ClosurePair::new(Activation::Tanh, ClosureMethod::Auto)?.closure;
    for p in &stages {
        let Stage::Pre(l) = p.stage else { continue };
        let clock = std::time::Instant::now();
        for c in 0..start.len() {
            let input = Moments::gaussian(p.mean(c).clone(), p.cov(c).into_owned());
            let mut output = input.clone();
            closure.apply_into(&input, Corrections::None, &mut output)?;
        }
        println!("layer {l}: closure {:.3} s", clock.elapsed().as_secs_f64());
    }
    for (stage, m) in &stats.stages {
        if let Stage::Pre(l) = stage {
            let mut seconds = 0.0;
            for (c, mc) in m.per_class.iter().enumerate() {
                write(
                    &out.join(format!("measured_h{l}_c{c}.bin")),
                    &mc.mean,
                    &mc.cov,
                )?;
                let mut output = mc.clone();
                let clock = std::time::Instant::now();
                closure.apply_into(mc, Corrections::None, &mut output)?;
                seconds += clock.elapsed().as_secs_f64();
                let z = format!("measured_z{l}_c{c}.bin");
                write(&out.join(z), &output.mean, &output.cov)?;
            }
            println!("layer {l}: closure {seconds:.3} s on the measured h");
        }
    }
    Ok(())
}
