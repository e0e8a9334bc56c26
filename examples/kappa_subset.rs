//! Error of the leading-unit subset carry (`--kappa-units R`, `propagate::higher::subset`)
//! against the full κ tensors, as a function of R, on a model and the MNIST test set.
//!
//! ```text
//! cargo run --release --example kappa_subset -- MODEL MNIST_DIR ORDER FROM R1,R2,… [CLASSES]
//! cargo run --release --example kappa_subset -- /tmp/qc-m.safetensors /work/shared/mnist 3 0 8,16,32,64,100 10
//! ```
//!
//! Per class (the first CLASSES, default all), the start layer's measured moments are carried
//! with the full tensors and with the subset of each R. Printed per R: the time of the carry
//! (all classes), and at the output y and the last post-activation z^L, the class mean of
//! ‖C_R − C_full‖_F / ‖C_full − C_gauss‖_F (the share of the full carry's covariance
//! correction the subset misses; C_gauss the Gaussian closure's) and of
//! ‖m_R − m_full‖ / ‖m_full − m_gauss‖ (the same for the mean).

use std::path::Path;
use std::time::Instant;

use corrflow::data::mnist::MnistConfig;
use corrflow::measure::tensors::{first_pre_samples, measure_tensors, sample_slices};
use corrflow::measure::{layer_stats, Higher};
use corrflow::net::{model_io, Stage};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::subset::SubsetCarry;
use corrflow::propagate::higher::Carry;
use corrflow::propagate::{Predicted, PropagateOptions, Propagator};
use corrflow::timing::Timings;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        return Err("usage: kappa_subset MODEL MNIST_DIR ORDER FROM R1,R2,… [CLASSES]".into());
    }
    let net = model_io::load(Path::new(&args[0]))?;
    let data = MnistConfig::from_dir(&args[1]).load()?.split.test;
    let order: usize = args[2].parse()?;
    let from: usize = args[3].parse()?;
    let ranks: Vec<usize> = args[4]
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let stats = layer_stats(&net, &data, Higher::None, 1024)?;
    let start_stage = if from == 0 {
        Stage::Input
    } else {
        Stage::Post(from)
    };
    let start = stats.get(start_stage).ok_or("no start statistics")?;
    let classes = args
        .get(5)
        .map_or(Ok(start.classes.len()), |s| s.parse::<usize>())?
        .min(start.classes.len());
    let samples = first_pre_samples(&net, &data, from, 1024)?;
    println!(
        "network {:?}, accuracy {:.4}, order {order}, from layer {from}, {classes} classes",
        net.widths(),
        net.accuracy(&data)
    );
    let mut engine = Propagator::new();
    let t = &Timings::disabled();
    let mut gauss = Vec::new();
    let mut full = Vec::new();
    let mut full_seconds = 0.0;
    for k in 0..classes {
        let one = std::slice::from_ref(&start.per_class[k]);
        let options = PropagateOptions {
            method: ClosureMethod::Auto,
            corrections: Corrections::None,
        };
        gauss.push(engine.run(&net, from, one, None, options, t)?.to_vec());
        let h = &samples[start.classes[k]];
        let clock = Instant::now();
        let mut carry = Carry::from_first_pre(order, vec![measure_tensors(h.as_ref(), order)?])?;
        full.push(
            engine
                .run_carried(&net, from, one, &mut carry, ClosureMethod::Auto, t)?
                .to_vec(),
        );
        full_seconds += clock.elapsed().as_secs_f64();
    }
    println!("full tensors: {full_seconds:.2} s (measure + carry, all classes)");
    println!(
        "| R | seconds | y: cov missed | y: mean missed | z{0}: cov missed | z{0}: mean missed |",
        net.depth()
    );
    println!("|---|---|---|---|---|---|");
    for &r in &ranks {
        let mut sums = [0.0; 4];
        let clock = Instant::now();
        for k in 0..classes {
            let one = std::slice::from_ref(&start.per_class[k]);
            let h = &samples[start.classes[k]];
            let mut carry = SubsetCarry::from_first_pre(
                order,
                r,
                vec![(sample_slices(h.as_ref(), order)?, h.clone())],
            )?;
            let got = engine.run_hooked(&net, from, one, &mut carry, ClosureMethod::Auto, t)?;
            for (s, idx) in [(0, got.len() - 1), (2, got.len() - 2)] {
                let (m, c) = missed(&got[idx], &full[k][idx], &gauss[k][idx]);
                sums[s] += m;
                sums[s + 1] += c;
            }
        }
        let n = classes as f64;
        println!(
            "| {r} | {:.2} | {:.3e} | {:.3e} | {:.3e} | {:.3e} |",
            clock.elapsed().as_secs_f64(),
            sums[1] / n,
            sums[0] / n,
            sums[3] / n,
            sums[2] / n
        );
    }
    Ok(())
}

/// (mean missed, covariance missed) of one stage: ‖x_R − x_full‖ / ‖x_full − x_gauss‖.
fn missed(got: &Predicted, full: &Predicted, gauss: &Predicted) -> (f64, f64) {
    let (g, f, a) = (got.mean(0), full.mean(0), gauss.mean(0));
    let mean = (g - f).norm_l2() / (f - a).norm_l2().max(1e-300);
    let (g, f, a) = (got.cov(0), full.cov(0), gauss.cov(0));
    let cov = (&*g - &*f).norm_l2() / (&*f - &*a).norm_l2().max(1e-300);
    (mean, cov)
}
