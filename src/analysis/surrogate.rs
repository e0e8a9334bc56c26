//! Surrogate inputs by correlation order (DESIGN.md §4.3).
//!
//! The trained network is evaluated on data that keep only the first cumulants of each class:
//!
//! * order 1: x ~ N(μ_c, Σ_w) with the pooled *within-class* covariance
//!   Σ_w = Σ_c p(c) Σ_c (the class sits only in the mean);
//! * order 2: x ~ N(μ_c, Σ_c) (mean and covariance of each class);
//! * real: the data themselves (all orders).
//!
//! Sampling uses [`GaussianSampler`]: Σ = U diag(λ) Uᵀ with negative eigenvalues clipped to 0.
//! MNIST's Σ_c is singular (constant border pixels) and rounding makes some λ slightly negative;
//! the number clipped and the most negative one are reported so the handling is visible.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rayon::prelude::*;
use serde::Serialize;

use super::accuracy::mix_seed;
use crate::data::Dataset;
use crate::error::{Error, Field, Result};
use crate::net::Mlp;
use crate::stats::gaussian::GaussianSampler;
use crate::stats::EmpiricalMoments;
use crate::timing::flops;

/// The network's accuracy on one kind of input.
#[derive(Clone, Debug, Serialize)]
pub struct SurrogateResult {
    /// Fraction of samples classified as the class they were drawn for.
    pub accuracy: f64,
    /// Binomial standard error √(a(1−a)/n).
    pub stderr: f64,
    /// Samples evaluated (all classes).
    pub n_samples: usize,
    /// Negative eigenvalues clipped to 0, summed over the sampled covariances (0 for real data).
    pub clipped_eigenvalues: usize,
    /// The most negative eigenvalue met (0 when none).
    pub most_negative_eigenvalue: f64,
}

/// Accuracy on order-1 and order-2 surrogates and on the real data.
#[derive(Clone, Debug, Serialize)]
pub struct SurrogateAccuracy {
    pub order1: SurrogateResult,
    pub order2: SurrogateResult,
    pub real: SurrogateResult,
}

/// Σ_w = Σ_c (n_c / n) Σ_c, the average within-class covariance (not
/// [`EmpiricalMoments::pooled`], which also holds the spread of the class means).
pub fn within_class_covariance(input: &EmpiricalMoments) -> Result<Mat<f64>> {
    let n: u64 = input.counts.iter().sum();
    let d = input.per_class.first().map_or(0, |m| m.dim());
    if n == 0 || input.per_class.len() != input.counts.len() {
        return Err(Error::Shape(
            "within-class covariance needs per-class moments and counts".into(),
        ));
    }
    let mut sw = Mat::zeros(d, d);
    for (m, &count) in input.per_class.iter().zip(&input.counts) {
        let w = count as f64 / n as f64;
        sw += Mat::from_fn(d, d, |i, j| w * m.cov[(i, j)]);
    }
    Ok(sw)
}

/// The network's accuracy on surrogates of `input` (the data's measured input moments) and on
/// `data` itself. `per_class` draws per class (`None`: the data's own class counts), seeded.
pub fn surrogate_accuracy(
    net: &Mlp,
    data: &Dataset,
    input: &EmpiricalMoments,
    per_class: Option<usize>,
    seed: u64,
) -> Result<SurrogateAccuracy> {
    if per_class == Some(0) {
        return Err(Error::config(
            Field::SurrogateSamples,
            "must be at least 1 per class",
        ));
    }
    let counts: Vec<usize> = input
        .counts
        .iter()
        .map(|&c| per_class.unwrap_or(c as usize))
        .collect();
    let sw = within_class_covariance(input)?;
    let d = sw.nrows();
    // One factor of Σ_w for all classes (zero-mean draws shifted by each class's mean), and one
    // per class: independent factorisations, all in parallel, the same factors.
    let (pooled, samplers) = rayon::join(
        || GaussianSampler::new(Col::zeros(d).as_ref(), sw.as_ref()),
        || {
            input
                .per_class
                .par_iter()
                .map(|m| GaussianSampler::new(m.mean.as_ref(), m.cov.as_ref()))
                .collect::<Result<Vec<_>>>()
        },
    );
    let pooled = pooled?;
    let order1 = evaluate(net, (&counts, &input.classes), seed, 1, d, |c, n, rng| {
        let mut x = pooled.sample(n, rng);
        let mu = &input.per_class[c].mean;
        for j in 0..n {
            for i in 0..d {
                x[(i, j)] += mu[i];
            }
        }
        Ok(x)
    })?;
    let order1 = SurrogateResult {
        clipped_eigenvalues: pooled.clipped(),
        most_negative_eigenvalue: pooled.most_negative(),
        ..order1
    };
    let samplers = samplers?;
    let clipped = samplers.iter().map(GaussianSampler::clipped).sum();
    let most_negative = samplers
        .iter()
        .map(GaussianSampler::most_negative)
        .fold(0.0f64, f64::min);
    let order2 = evaluate(net, (&counts, &input.classes), seed, 2, d, |c, n, rng| {
        Ok(samplers[c].sample(n, rng))
    })?;
    let order2 = SurrogateResult {
        clipped_eigenvalues: clipped,
        most_negative_eigenvalue: most_negative,
        ..order2
    };
    let a = net.accuracy(data);
    let real = SurrogateResult {
        accuracy: a,
        stderr: binomial_stderr(a, data.len()),
        n_samples: data.len(),
        clipped_eigenvalues: 0,
        most_negative_eigenvalue: 0.0,
    };
    Ok(SurrogateAccuracy {
        order1,
        order2,
        real,
    })
}

/// Flops of [`surrogate_accuracy`] that returned `s` for `net` and K = `classes` classes of
/// d-dimensional inputs: K + 1 eigendecompositions ([`flops::symmetric_eigen`]: Σ_w and each
/// Σ_c), the draws' spread F·z ([`flops::gemm`]`(d, n, d)` for either order's n draws) and
/// the forward passes of both surrogate sets and the real data ([`flops::forward`]).
pub fn surrogate_flops(net: &Mlp, classes: usize, s: &SurrogateAccuracy) -> f64 {
    let widths = net.widths();
    let d = widths[0];
    let draws = s.order1.n_samples + s.order2.n_samples;
    (classes + 1) as f64 * flops::symmetric_eigen(d)
        + flops::gemm(d, draws, d)
        + flops::forward(&widths, draws + s.real.n_samples)
}

/// √(a(1−a)/n).
pub fn binomial_stderr(a: f64, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        (a * (1.0 - a) / n as f64).max(0.0).sqrt()
    }
}

/// Draws `counts[k]` samples of class `classes[k]` with `draw(k, n, rng)` and measures the
/// accuracy (the eigenvalue fields are left 0 for the caller to fill).
fn evaluate(
    net: &Mlp,
    (counts, classes): (&[usize], &[usize]),
    seed: u64,
    order: u64,
    d: usize,
    draw: impl Fn(usize, usize, &mut StdRng) -> Result<Mat<f64>> + Sync,
) -> Result<SurrogateResult> {
    let total: usize = counts.iter().sum();
    // Every class draws from its own seeded stream: in parallel, same numbers.
    let draws = counts
        .par_iter()
        .enumerate()
        .map(|(c, &n)| {
            let mut rng = StdRng::seed_from_u64(mix_seed(seed, 100 * order + c as u64));
            draw(c, n, &mut rng)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut x = Mat::zeros(d, total);
    let mut labels = Vec::with_capacity(total);
    let mut at = 0;
    for ((&n, block), &c) in counts.iter().zip(&draws).zip(classes) {
        let label = u32::try_from(c)
            .map_err(|_| Error::Shape(format!("class {c} does not fit a u32 label")))?;
        x.as_mut().subcols_mut(at, n).copy_from(block);
        labels.extend(std::iter::repeat_n(label, n));
        at += n;
    }
    let data = Dataset {
        x,
        labels,
        n_classes: net.output_dim(),
    };
    let a = net.accuracy(&data);
    Ok(SurrogateResult {
        accuracy: a,
        stderr: binomial_stderr(a, total),
        n_samples: total,
        clipped_eigenvalues: 0,
        most_negative_eigenvalue: 0.0,
    })
}
