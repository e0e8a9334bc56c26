//! Error of the propagated output mean and covariance vs depth at orders 2 (Gaussian), 3 and 4
//! on random bias-free MLPs with x ~ N(0, I) (the ARC `mlp_cumulant_propagation` setup: He
//! initialisation, weights N(0, w²/n) with w² = 1/E[φ(Z)²], every width n), against Monte Carlo.
//!
//! ```text
//! cargo run --release --example higher_depth -- ACT WIDTH DEPTHS SAMPLES [SEED | MODEL.safetensors]
//! cargo run --release --example higher_depth -- relu 64 1,2,4,8 2000000 1
//! ```
//!
//! The networks for the depths are the prefixes of one network of the largest depth: depth d
//! is d hidden layers followed by linear layer d + 1 as the read-out (ARC's `pre{d}`). With a
//! model file (written by `corrflow train` or the README's Python recipe, e.g. ARC's weights
//! exported to safetensors) its layers are used instead of the random ones. Prints one line per
//! depth and order: mean error ‖μ̂ − μ‖²/tr Σ (ARC's MSE/Var), covariance error
//! ‖Σ̂ − Σ‖_F/‖Σ‖_F, the run's seconds, and where the carry fell back to Gaussian. Monte Carlo's
//! own noise floor on the mean error is about 1/SAMPLES.

use std::path::Path;
use std::time::Instant;

use corrflow::net::{model_io, Activation, ForwardPass, Layer, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::{Carry, Tensors};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::{MomentAccumulator, Moments};
use corrflow::timing::Timings;
use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err(
            "usage: higher_depth ACT WIDTH DEPTHS SAMPLES [SEED | MODEL.safetensors]".into(),
        );
    }
    let act: Activation = args[0].parse()?;
    let n: usize = args[1].parse()?;
    let depths: Vec<usize> = args[2]
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let samples: usize = args[3].parse()?;
    let max_depth = *depths.iter().max().ok_or("DEPTHS is empty")?;
    let extra = args.get(4).map_or("1", String::as_str);
    let deep = if extra.ends_with(".safetensors") {
        model_io::load(Path::new(extra))?
    } else {
        let gain = (1.0 / second_moment(act)).sqrt();
        Mlp::init(&vec![n; max_depth + 2], act, gain, extra.parse()?)?
    };
    if deep.depth() < max_depth {
        return Err(format!(
            "the model has {} hidden layers, DEPTHS asks {max_depth}",
            deep.depth()
        )
        .into());
    }
    let d_in = deep.input_dim();
    let mc = monte_carlo(&deep, max_depth, samples);
    println!(
        "act {act} width {n} samples {samples} threads {}",
        rayon::current_num_threads()
    );
    println!("depth order mean_mse_over_var cov_rel_frob seconds note");
    for &d in &depths {
        let net = prefix(&deep, d);
        let truth = &mc[d];
        for order in [2, 3, 4] {
            let x = Moments::gaussian(Col::zeros(d_in), Mat::identity(d_in, d_in));
            let mut engine = Propagator::new();
            let t0 = Instant::now();
            let (y, note) = if order == 2 {
                let opts = PropagateOptions {
                    method: ClosureMethod::Auto,
                    corrections: Corrections::None,
                };
                let s = engine.run(&net, 0, &[x], None, opts, &Timings::disabled())?;
                (s.last().unwrap().f64_moments()?[0].clone(), String::new())
            } else {
                let mut carry = Carry::new(order, vec![Tensors::gaussian(d_in, order)])?;
                let run = engine.run_carried(
                    &net,
                    0,
                    &[x],
                    &mut carry,
                    ClosureMethod::Auto,
                    &Timings::disabled(),
                );
                match run {
                    Ok(s) => {
                        let y = s.last().unwrap().f64_moments()?[0].clone();
                        let mut note = carry.fallback().map_or(String::new(), |f| {
                            format!("Gaussian from layer {}: {}", f.layer, f.reason)
                        });
                        let left: usize = carry.gaussian_units().iter().map(|g| g.units).sum();
                        if left > 0 {
                            note.push_str(&format!(" {left} unit-layers kept Gaussian"));
                        }
                        (y, note)
                    }
                    Err(e) => {
                        println!("{d} {order} - - - {e}");
                        continue;
                    }
                }
            };
            let secs = t0.elapsed().as_secs_f64();
            let (em, ec) = errors(&y, truth);
            println!("{d} {order} {em:.3e} {ec:.3e} {secs:.4} {note}");
        }
    }
    Ok(())
}

/// E[φ(Z)²], Z ~ N(0, 1), by the trapezoid rule on ±12 (He initialisation's 1/w²).
fn second_moment(act: Activation) -> f64 {
    let steps = 24_000;
    let h = 24.0 / steps as f64;
    (0..=steps)
        .map(|k| {
            let z = -12.0 + k as f64 * h;
            let w = if k == 0 || k == steps { 0.5 } else { 1.0 };
            w * h * act.eval(z).powi(2) * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
        })
        .sum()
}

/// The first d hidden layers of `deep` with its layer d + 1 as read-out.
fn prefix(deep: &Mlp, d: usize) -> Mlp {
    let layers: Vec<Layer> = deep.layers[..=d].to_vec();
    let mut net = deep.clone();
    net.layers = layers;
    net.bias_free.truncate(d + 1);
    net
}

/// Monte Carlo moments of h^{d+1} (the read-out of depth d) at index d, d = 0..=max_depth.
fn monte_carlo(net: &Mlp, max_depth: usize, samples: usize) -> Vec<Moments> {
    let chunk = 20_000;
    let mut fp = ForwardPass::new(net, chunk);
    let mut rng = StdRng::seed_from_u64(12345);
    let widths = net.widths();
    let mut accs: Vec<MomentAccumulator> = (1..=max_depth + 1)
        .map(|l| MomentAccumulator::new(widths[l], 1, false).expect("one class"))
        .collect();
    let mut done = 0;
    while done < samples {
        let b = chunk.min(samples - done);
        let x = Mat::from_fn(net.input_dim(), b, |_, _| {
            rng.sample::<f64, _>(StandardNormal)
        });
        net.forward_into(x.as_ref(), &mut fp);
        let labels = vec![0u32; b];
        for (k, acc) in accs.iter_mut().enumerate() {
            let l = k + 1;
            let h = if l <= net.depth() {
                fp.pre(l)
            } else {
                fp.output()
            };
            acc.push(h, &labels).expect("finite samples");
        }
        done += b;
    }
    accs.iter()
        .map(|a| a.finish().expect("samples").per_class.remove(0))
        .collect()
}

/// (‖μ̂ − μ‖²/tr Σ, ‖Σ̂ − Σ‖_F/‖Σ‖_F).
fn errors(got: &Moments, truth: &Moments) -> (f64, f64) {
    let n = truth.dim();
    let tr: f64 = (0..n).map(|i| truth.cov[(i, i)]).sum();
    let mse: f64 = (0..n).map(|i| (got.mean[i] - truth.mean[i]).powi(2)).sum();
    let cov = (&got.cov - &truth.cov).norm_l2() / truth.cov.norm_l2();
    (mse / tr, cov)
}
