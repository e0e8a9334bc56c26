//! P_{y~N(μ,Σ)}(argmax y = c) for accuracy prediction (DESIGN.md §4.2).

use faer::{ColRef, MatRef};

use crate::error::{Error, Result};
use crate::special::normal_cdf;
use crate::timing::flops;

/// P(argmax y = `class`) for y ~ N(mean, cov), and its standard error.
///
/// * 1 output: the argmax is always 0, so p is 1 or 0 exactly.
/// * 2 outputs: exact, P(y_c > y_o) = Φ(Δμ/√v), Δμ = μ_c − μ_o, v = Σ_cc + Σ_oo − 2Σ_co;
///   stderr 0. If v ≤ 0 the difference is deterministic.
/// * ≥ 3 outputs: Monte Carlo with antithetic pairs y± = μ ± F z (F Fᵀ = Σ, negative eigenvalues
///   clipped, see [`super::GaussianSampler`]), `n_samples` draws in n_samples/2 pairs, seeded by `seed`.
///   p is the mean indicator; stderr = s/√pairs with s the sample standard deviation of the
///   per-pair means (the antithetic pairs are dependent within a pair, independent across pairs).
///   When p is 0 or 1 the stderr is 0 and says only that no draw disagreed.
///
/// Ties (probability zero unless Σ is degenerate) go to the lowest index, in all three cases.
pub fn prob_argmax(
    mean: ColRef<'_, f64>,
    cov: MatRef<'_, f64>,
    class: usize,
    n_samples: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let n = mean.nrows();
    if cov.nrows() != n || cov.ncols() != n {
        return Err(Error::Shape(format!(
            "prob_argmax: mean of length {n} with a {}×{} covariance",
            cov.nrows(),
            cov.ncols()
        )));
    }
    if class >= n {
        return Err(Error::Shape(format!(
            "prob_argmax: class {class} is out of range for {n} outputs"
        )));
    }
    match n {
        1 => Ok((1.0, 0.0)),
        2 => two_outputs(mean, cov, class),
        _ => monte_carlo(mean, cov, class, n_samples, seed),
    }
}

/// Flops of [`prob_argmax`] for n outputs and `n_samples` draws: with n ≥ 3 the sampler's
/// eigendecomposition ([`flops::symmetric_eigen`]) and the spread F·z of the n_samples/2
/// antithetic pairs ([`flops::gemm`]); 0 for n ≤ 2 (closed form). Random numbers and the argmax
/// are not counted.
pub fn prob_argmax_flops(n: usize, n_samples: usize) -> f64 {
    if n < 3 {
        return 0.0;
    }
    flops::symmetric_eigen(n) + flops::gemm(n, n_samples / 2, n)
}

fn two_outputs(mean: ColRef<'_, f64>, cov: MatRef<'_, f64>, class: usize) -> Result<(f64, f64)> {
    let other = 1 - class;
    let dmu = mean[class] - mean[other];
    let var = cov[(class, class)] + cov[(other, other)] - 2.0 * cov[(class, other)];
    if !(dmu.is_finite() && var.is_finite()) {
        return Err(Error::Numeric(
            "prob_argmax: mean or covariance has non-finite entries".into(),
        ));
    }
    let p = if var > 0.0 {
        normal_cdf(dmu / var.sqrt())
    } else if dmu > 0.0 || (dmu == 0.0 && class < other) {
        1.0
    } else {
        0.0
    };
    Ok((p, 0.0))
}

/// P(argmax y = `class`) from the whole argmax distribution on the same draws
/// ([`super::argmax_distribution`]).
fn monte_carlo(
    mean: ColRef<'_, f64>,
    cov: MatRef<'_, f64>,
    class: usize,
    n_samples: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let d = super::argmax_distribution(mean, cov, n_samples, seed)?;
    Ok((d.p[class], d.stderr[class]))
}
