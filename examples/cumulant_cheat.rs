//! How the cumulant objective is exploited (issue #16 item 6): trains on the cumulant objective
//! with sampled-check weight λ and after every epoch compares the closure's prediction with
//! Monte Carlo truth for the model the objective assumes, the Gaussian class model
//! x ~ N(μ_c, Σ_c) (training-set statistics) pushed through the network:
//!
//! - the objective J, its closure value L_C, and the true loss L_G = Σ_c p(c) E‖f(x) − t_c‖²
//!   (M draws per class, ± its standard error);
//! - per stage z¹, …, y: the relative Frobenius error ‖Σ_pred − Σ_MC‖/‖Σ_MC‖ of the class-0
//!   covariance the closures predict (h^l = W z^{l−1} + b is exact given z^{l−1}, so a stage's
//!   error first appears where a closure is inexact);
//! - the mean |skewness| and excess kurtosis over the units of the last hidden pre-activation
//!   (the input of the first closure that does not receive a Gaussian).
//!
//! `cargo run --release --example cumulant_cheat -- xor|higher-order|mnist λ EPOCHS [M]`
//! (task defaults otherwise: network, learning rate, batch and seed as `corrflow train`, MNIST
//! from `MNIST_DIR`; the training is the same as `corrflow train --objective cumulants`).

use corrflow::config::{defaults, DataConfig, RunConfig, Task, TrainSettings};
use corrflow::cumtrain::{
    gaussian_model_loss, train_cumulants, ClassStatistics, CumulantObjective,
};
use corrflow::net::{ForwardPass, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{propagate, PropagateOptions};
use corrflow::stats::gaussian::{relative_frobenius, GaussianSampler};
use corrflow::stats::{MomentAccumulator, Moments};
use corrflow::{Error, Result};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> Result<T> {
    args.get(i)
        .ok_or_else(|| Error::flag(name, "missing"))?
        .parse()
        .map_err(|_| Error::flag(name, format!("'{}' does not parse", args[i])))
}

/// Mean and covariance of the columns of `x`.
fn moments(x: faer::MatRef<'_, f64>) -> Result<Moments> {
    let mut acc = MomentAccumulator::new(x.nrows(), 1, false)?;
    acc.push(x, &vec![0; x.ncols()])?;
    Ok(acc.finish()?.per_class.remove(0))
}

/// Mean |skewness| and mean excess kurtosis over the rows of `h`.
fn shape(h: faer::MatRef<'_, f64>) -> (f64, f64) {
    let n = h.ncols() as f64;
    let (mut skew, mut kurt) = (0.0, 0.0);
    for i in 0..h.nrows() {
        let mean = h.row(i).iter().sum::<f64>() / n;
        let m = |p: i32| h.row(i).iter().map(|v| (v - mean).powi(p)).sum::<f64>() / n;
        let var = m(2);
        skew += (m(3) / var.powf(1.5)).abs();
        kurt += m(4) / (var * var) - 3.0;
    }
    (skew / h.nrows() as f64, kurt / h.nrows() as f64)
}

/// One epoch's line: L_C, L_G ± se, per-stage covariance errors of class 0, shape of h^L.
fn report(
    net: &Mlp,
    stats: &ClassStatistics,
    sampler: &GaussianSampler,
    draws: usize,
    rng: &mut StdRng,
) -> Result<String> {
    let closure = CumulantObjective::new(net)?.loss(net, stats)?;
    let truth = gaussian_model_loss(net, stats, draws, rng.random())?;
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let predicted = propagate(net, 0, &stats.per_class[..1], None, opts)?;
    let mut fp = ForwardPass::new(net, draws);
    net.forward_into(sampler.sample(draws, rng).as_ref(), &mut fp);
    let mut line = format!(
        "L_C {closure:.4}  L_G {:.4} ± {:.4}  cov err",
        truth.loss, truth.stderr
    );
    for l in 1..=net.depth() {
        let err = relative_frobenius(
            predicted[2 * l - 1].f64_moments().unwrap()[0].cov.as_ref(),
            moments(fp.post(l))?.cov.as_ref(),
        )?;
        line += &format!("  z{l} {err:.4}");
    }
    let err = relative_frobenius(
        predicted.last().expect("output").f64_moments().unwrap()[0]
            .cov
            .as_ref(),
        moments(fp.output())?.cov.as_ref(),
    )?;
    let (skew, kurt) = shape(fp.pre(net.depth()));
    line += &format!(
        "  y {err:.4}  h{} |skew| {skew:.2} exkurt {kurt:.2}",
        net.depth()
    );
    Ok(line)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let task: Task = corrflow::error::parse_value(
        args.get(1).map_or("", String::as_str),
        corrflow::config::Field::Task,
    )?;
    let weight: f64 = arg(&args, 2, "λ")?;
    let epochs: usize = arg(&args, 3, "EPOCHS")?;
    let draws: usize = args.get(4).map_or(Ok(20_000), |_| arg(&args, 4, "M"))?;
    let config = RunConfig {
        data: DataConfig {
            task: Some(task),
            mnist_dir: std::env::var_os("MNIST_DIR").map(Into::into),
            ..DataConfig::default()
        },
        train: TrainSettings {
            epochs: Some(epochs),
            closure_check: weight,
            ..TrainSettings::default()
        },
        ..RunConfig::default()
    };
    let split = config.load_data()?.split;
    let (mut net, cfg) = config.network(split.train.dim(), split.train.n_classes)?;
    let stats = ClassStatistics::measure(&split.train)?;
    let class0 = &stats.per_class[0];
    let sampler = GaussianSampler::new(class0.mean.as_ref(), class0.cov.as_ref())?;
    let mut rng = StdRng::seed_from_u64(defaults::SEED);
    println!(
        "{task}, {:?} {}, λ = {weight}, {epochs} epochs, L_G from {draws} draws per class",
        net.widths(),
        net.activation
    );
    println!(
        "epoch 0  {}",
        report(&net, &stats, &sampler, draws, &mut rng)?
    );
    let mut failure = None;
    train_cumulants(
        &mut net,
        &split.train,
        &cfg,
        &config.train.check(),
        |e, net| match report(net, &stats, &sampler, draws, &mut rng) {
            Ok(line) => println!(
                "epoch {}  J {:.4}  {line}  test acc {:.4}",
                e.epoch,
                e.loss,
                net.accuracy(&split.test)
            ),
            Err(err) => failure = Some(err),
        },
    )?;
    failure.map_or(Ok(()), Err)
}
