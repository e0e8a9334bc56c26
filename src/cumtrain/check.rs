//! The sampled check of the cumulant objective (issue #16 item 6): the same MSE, estimated on
//! fresh Gaussian surrogate samples x ~ N(μ_c, Σ_c) pushed through the network.
//!
//! ```text
//! S = Σ_c p(c) (1/N) Σ_k ‖f(x_ck) − t_c‖²,   x_ck = μ_c + F_c ε_ck,  ε_ck ~ N(0, I) fresh per step
//! ```
//!
//! with F_c Fᵀ_c = Σ_c ([`GaussianSampler`], negative rounding eigenvalues clipped). E\[S\] is the
//! expected loss of the network on the Gaussian class model N(μ_c, Σ_c) exactly, at any depth
//! (the closure's value equals it only where every closure is exact). Its gradient is ordinary
//! backpropagation through the forward pass with the draws held fixed (the reparametrisation
//! x = μ + Fε does not depend on the weights), so it is exact for the S of that step.
//! [`gaussian_model_loss`] estimates E\[S\] itself with many draws, to report what a trained
//! network's loss on the Gaussian class model is.
//!
//! With the first closure corrected (`--order 3|4`, [`super::first_layer`]) L_C stands for the
//! loss on the data's own class distributions, which N(μ_c, Σ_c) (no κ₃) does not describe. The
//! check then draws x_ck from class c's **training samples** instead: N indices uniformly with
//! replacement, fresh per step ([`SurrogateCheck::from_samples`]). E\[S\] is then exactly the
//! network's MSE on the training set, L_train = Σ_c p(c) (1/n_c) Σ_{k ∈ c} ‖f(x_k) − t_c‖²
//! (p(c) = n_c/n), and the guard's J ≥ S (λ ≥ 1) gives E\[J\] ≥ L_train at every step: the
//! objective cannot fall below what the network actually achieves on its training samples. That
//! is a bound on the closure's error, not on overfitting: L_train can lie below the Bayes MSE of
//! the population by as much as the network fits the sample (as with `--objective samples`).

use faer::Mat;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::objective::ClassStatistics;
use crate::error::{Error, Result};
use crate::net::train::backprop;
use crate::net::{ForwardPass, Layer, Mlp, OutputPass};
use crate::stats::gaussian::GaussianSampler;

/// Where the check's inputs come from.
enum Source {
    /// Gaussian draws N(μ_c, Σ_c) (order 2).
    Gaussian(Vec<GaussianSampler>),
    /// Each class's own training samples (d × n_c), drawn with replacement (order 3/4).
    Samples(Vec<Mat<f64>>),
}

/// Fresh surrogate draws of every class, their forward pass and backpropagation buffers.
pub struct SurrogateCheck {
    source: Source,
    weights: Vec<f64>,
    per_class: usize,
    rng: StdRng,
    x: Mat<f64>,
    fp: ForwardPass,
    deltas: Vec<Mat<f64>>,
}

impl SurrogateCheck {
    /// Factors every class covariance of `stats` once; `per_class` draws per class and step
    /// ([`super::CheckSettings::validate`] asks for ≥ 2), seeded by `seed`.
    pub fn new(net: &Mlp, stats: &ClassStatistics, per_class: usize, seed: u64) -> Result<Self> {
        let samplers = stats
            .per_class
            .iter()
            .map(|m| GaussianSampler::new(m.mean.as_ref(), m.cov.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::with_source(
            net,
            Source::Gaussian(samplers),
            stats,
            per_class,
            seed,
        ))
    }

    /// The check on draws from each class's training samples `per_class_samples[c]` (d × n_c,
    /// n_c ≥ 1; module docs), `per_class` per class and step, seeded by `seed`.
    pub fn from_samples(
        net: &Mlp,
        per_class_samples: Vec<Mat<f64>>,
        stats: &ClassStatistics,
        per_class: usize,
        seed: u64,
    ) -> Self {
        Self::with_source(
            net,
            Source::Samples(per_class_samples),
            stats,
            per_class,
            seed,
        )
    }

    fn with_source(
        net: &Mlp,
        source: Source,
        stats: &ClassStatistics,
        per_class: usize,
        seed: u64,
    ) -> Self {
        let batch = per_class * stats.weights.len();
        SurrogateCheck {
            source,
            weights: stats.weights.clone(),
            per_class,
            rng: StdRng::seed_from_u64(seed),
            x: Mat::zeros(net.input_dim(), batch),
            fp: ForwardPass::new(net, batch),
            deltas: net
                .layers
                .iter()
                .map(|l| Mat::zeros(l.fan_out(), batch))
                .collect(),
        }
    }

    /// S (module docs) on a fresh draw, with ∂S/∂W and ∂S/∂b written into `grads` (shaped like
    /// `net.layers`). Class c's draws fill columns c·N … (c+1)·N − 1; the output delta of a
    /// column is ∂S/∂y = 2 p(c) (y − t_c) / N.
    pub fn loss_and_grad(&mut self, net: &Mlp, grads: &mut [Layer]) -> f64 {
        let n = self.per_class;
        match &self.source {
            Source::Gaussian(samplers) => {
                for (c, sampler) in samplers.iter().enumerate() {
                    let draws = sampler.sample(n, &mut self.rng);
                    self.x.as_mut().subcols_mut(c * n, n).copy_from(&draws);
                }
            }
            Source::Samples(classes) => {
                for (c, xs) in classes.iter().enumerate() {
                    for k in 0..n {
                        let pick = self.rng.random_range(0..xs.ncols());
                        self.x.as_mut().col_mut(c * n + k).copy_from(xs.col(pick));
                    }
                }
            }
        }
        net.forward_into(self.x.as_ref(), &mut self.fp);
        let y = self.fp.output();
        let out = self.deltas.last_mut().expect("a network has a read-out");
        let mut total = 0.0;
        for (c, &p) in self.weights.iter().enumerate() {
            let scale = p / n as f64;
            for k in c * n..(c + 1) * n {
                for i in 0..y.nrows() {
                    let diff = y[(i, k)] - if i == c { 1.0 } else { 0.0 };
                    total += scale * diff * diff;
                    out[(i, k)] = 2.0 * scale * diff;
                }
            }
        }
        backprop(net, self.x.as_ref(), &self.fp, &mut self.deltas, grads);
        total
    }
}

/// A Monte Carlo estimate of the expected loss L_G on the Gaussian class model.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct GaussianModelLoss {
    /// L_G = Σ_c p(c) E_{x ~ N(μ_c, Σ_c)} ‖f(x) − t_c‖², estimated.
    pub loss: f64,
    /// Its standard error, √(Σ_c p(c)² s_c² / M).
    pub stderr: f64,
    /// The largest per-class standard deviation s_c of one draw's loss.
    pub draw_sd: f64,
}

/// L_G of `net` by Monte Carlo: `draws` fresh draws M per class (≥ 2) from `stats`' classes,
/// seeded by `seed`, in batches of at most 8192 columns.
pub fn gaussian_model_loss(
    net: &Mlp,
    stats: &ClassStatistics,
    draws: usize,
    seed: u64,
) -> Result<GaussianModelLoss> {
    if draws < 2 {
        return Err(Error::Shape(format!(
            "{draws} draws per class: a standard error needs at least 2"
        )));
    }
    const BATCH: usize = 8192;
    let mut rng = StdRng::seed_from_u64(seed);
    let mut op = OutputPass::new(net, draws.min(BATCH));
    let (mut loss, mut var, mut draw_sd) = (0.0, 0.0, 0.0_f64);
    for (c, (m, &p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
        let sampler = GaussianSampler::new(m.mean.as_ref(), m.cov.as_ref())?;
        let (mut sum, mut sum2) = (0.0, 0.0);
        let mut left = draws;
        while left > 0 {
            let b = left.min(BATCH);
            net.output_into(sampler.sample(b, &mut rng).as_ref(), &mut op);
            let y = op.output();
            for k in 0..b {
                let v: f64 = (0..y.nrows())
                    .map(|i| (y[(i, k)] - if i == c { 1.0 } else { 0.0 }).powi(2))
                    .sum();
                sum += v;
                sum2 += v * v;
            }
            left -= b;
        }
        let n = draws as f64;
        let mean = sum / n;
        let s2 = ((sum2 - n * mean * mean) / (n - 1.0)).max(0.0);
        loss += p * mean;
        var += p * p * s2 / n;
        draw_sd = draw_sd.max(s2.sqrt());
    }
    Ok(GaussianModelLoss {
        loss,
        stderr: var.sqrt(),
        draw_sd,
    })
}
