//! Confusion matrices P(argmax y = k | class c): measured from the network's outputs on the data,
//! and predicted from the propagated output Gaussian N(μ_c, Σ_c) of each class (DESIGN.md §4.2),
//! on the same draws and seeds as the accuracy prediction, so that the diagonal of the
//! prediction from start layer l is the per-class P(argmax y = c) behind A_l.

use faer::MatRef;
use rayon::prelude::*;
use serde::Serialize;

use super::accuracy::mix_seed;
use super::outputs::ClassOutputs;
use super::surrogate::binomial_stderr;
use crate::error::{Error, Result};
use crate::net::forward::argmax_columns;
use crate::stats::gaussian::{argmax_distribution, ArgmaxDistribution};
use crate::stats::Moments;

/// One row of a confusion matrix: the argmax distribution of one true class.
#[derive(Clone, Debug, Serialize)]
pub struct ConfusionRow {
    /// The true class c.
    pub class: usize,
    /// p\[k\] = P(argmax y = k | c), k = 0 … K−1.
    pub p: Vec<f64>,
    /// Standard error of each p\[k\]: binomial √(p(1−p)/n_c) when measured, Monte Carlo when
    /// predicted (0 where exact).
    pub stderr: Vec<f64>,
}

/// A confusion matrix, one row per class present in the data.
#[derive(Clone, Debug, Serialize)]
pub struct ConfusionMatrix {
    /// "network" (measured), "x" or "zˡ" (the Gaussian theory's start stage), or the model's name.
    pub source: String,
    pub rows: Vec<ConfusionRow>,
}

impl ConfusionMatrix {
    /// P(argmax y = k | c), or `None` for a class without a row.
    pub fn get(&self, c: usize, k: usize) -> Option<(f64, f64)> {
        let row = self.rows.iter().find(|r| r.class == c)?;
        Some((*row.p.get(k)?, *row.stderr.get(k)?))
    }

    /// Σ_c p(c) P(argmax y = c | c) for priors p(c) by row.
    pub fn accuracy(&self, priors: &[f64]) -> f64 {
        self.rows
            .iter()
            .zip(priors)
            .map(|(r, &q)| q * r.p[r.class])
            .sum()
    }

    /// From per-class argmax distributions, in the order of `classes`.
    pub fn from_distributions(
        source: String,
        classes: &[usize],
        d: Vec<ArgmaxDistribution>,
    ) -> Self {
        let rows = classes
            .iter()
            .zip(d)
            .map(|(&class, d)| ConfusionRow {
                class,
                p: d.p,
                stderr: d.stderr,
            })
            .collect();
        ConfusionMatrix { source, rows }
    }
}

/// The network's confusion matrix on the data: the share of class c's samples whose output's
/// argmax is k (ties to the lowest index), with binomial standard errors.
pub fn measured_confusion(outputs: &ClassOutputs) -> ConfusionMatrix {
    let rows = outputs
        .classes
        .iter()
        .zip(&outputs.per_class)
        .map(|(&class, y)| row_of(class, y.as_ref()))
        .collect();
    ConfusionMatrix {
        source: "network".into(),
        rows,
    }
}

fn row_of(class: usize, y: MatRef<'_, f64>) -> ConfusionRow {
    let (k, n) = (y.nrows(), y.ncols());
    let mut counts = vec![0usize; k];
    for a in argmax_columns(y) {
        counts[a] += 1;
    }
    let p: Vec<f64> = counts.iter().map(|&m| m as f64 / n as f64).collect();
    ConfusionRow {
        class,
        stderr: p.iter().map(|&p| binomial_stderr(p, n)).collect(),
        p,
    }
}

/// The confusion matrix of the output Gaussians `output` (class `classes[i]` is `output[i]`):
/// row c is P_{y~N(μ_c,Σ_c)}(argmax y = k), Monte Carlo with `mc_samples` draws seeded
/// mix_seed(`seed`, c); its diagonal is the per-class P(argmax y = c) of
/// [`super::accuracy::TheoryAccuracy`].
pub fn predicted_confusion(
    source: String,
    output: &[Moments],
    classes: &[usize],
    mc_samples: usize,
    seed: u64,
) -> Result<ConfusionMatrix> {
    predicted_confusion_with(source, output, classes, mc_samples, seed, &[])
}

/// [`predicted_confusion`] where the rows `known[i]` that are `Some` were already drawn (the
/// same Monte Carlo, run elsewhere on its draws: [`crate::analysis::tails`]); the other rows
/// are drawn here.
pub fn predicted_confusion_with(
    source: String,
    output: &[Moments],
    classes: &[usize],
    mc_samples: usize,
    seed: u64,
    known: &[Option<ArgmaxDistribution>],
) -> Result<ConfusionMatrix> {
    if output.len() != classes.len() {
        return Err(Error::Shape(format!(
            "{} output Gaussians for {} classes",
            output.len(),
            classes.len()
        )));
    }
    let d = output
        .par_iter()
        .zip(classes)
        .enumerate()
        .map(|(i, (m, &c))| match known.get(i) {
            Some(Some(d)) => Ok(d.clone()),
            _ => argmax_distribution(
                m.mean.as_ref(),
                m.cov.as_ref(),
                mc_samples,
                mix_seed(seed, c as u64),
            ),
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ConfusionMatrix::from_distributions(source, classes, d))
}

/// The `n` off-diagonal cells (c, k), c ≠ k, with the largest probability in any of `matrices`,
/// largest first: the confusions worth a look, measured or predicted.
pub fn largest_confusions(matrices: &[&ConfusionMatrix], n: usize) -> Vec<[usize; 2]> {
    let mut cells: Vec<([usize; 2], f64)> = Vec::new();
    for m in matrices {
        for r in &m.rows {
            for (k, &p) in r.p.iter().enumerate() {
                if k == r.class {
                    continue;
                }
                match cells.iter_mut().find(|(ck, _)| *ck == [r.class, k]) {
                    Some((_, best)) => *best = best.max(p),
                    None => cells.push(([r.class, k], p)),
                }
            }
        }
    }
    cells.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    cells.into_iter().take(n).map(|(ck, _)| ck).collect()
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;
    use crate::special::normal_cdf;

    /// A diagonal Gaussian output: P(argmax = k) = ∫ φ(t) ∏_{i≠k} Φ((μ_k − μ_i + σ_k t)/σ_i) dt,
    /// by Simpson quadrature on [−10, 10]; the Monte Carlo row agrees within 4 standard errors.
    #[test]
    fn diagonal_gaussian_row_matches_the_phi_product_integral() {
        let mu = [1.0, 0.4, 0.0, 0.7];
        let sd = [0.8, 1.2, 0.5, 1.0];
        let m = Moments::gaussian(
            Col::from_fn(4, |i| mu[i]),
            Mat::from_fn(4, 4, |i, j| if i == j { sd[i] * sd[i] } else { 0.0 }),
        );
        let c = predicted_confusion("test".into(), &[m], &[0], 400_000, 9).unwrap();
        let (n, lo, hi) = (4000, -10.0, 10.0);
        let h = (hi - lo) / n as f64;
        for k in 0..4 {
            let f = |t: f64| {
                let phi = (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
                phi * (0..4)
                    .filter(|&i| i != k)
                    .map(|i| normal_cdf((mu[k] - mu[i] + sd[k] * t) / sd[i]))
                    .product::<f64>()
            };
            let exact = (0..=n)
                .map(|i| {
                    let w = if i == 0 || i == n {
                        1.0
                    } else if i % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    w * f(lo + i as f64 * h)
                })
                .sum::<f64>()
                * h
                / 3.0;
            let (p, se) = c.get(0, k).unwrap();
            assert!(
                se > 0.0 && (p - exact).abs() < 4.0 * se,
                "k = {k}: {p} ± {se} vs {exact}"
            );
        }
    }

    /// Counting: argmax of known columns, per class; the largest confusions are ranked.
    #[test]
    fn measured_rows_count_argmaxes() {
        let outputs = ClassOutputs {
            classes: vec![0, 2],
            per_class: vec![
                Mat::from_fn(3, 4, |i, j| {
                    [
                        [5.0, 0.0, 0.0],
                        [0.0, 5.0, 0.0],
                        [5.0, 0.0, 0.0],
                        [5.0, 0.0, 0.0],
                    ][j][i]
                }),
                Mat::from_fn(3, 2, |i, j| [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]][j][i]),
            ],
        };
        let m = measured_confusion(&outputs);
        assert_eq!(m.rows[0].p, vec![0.75, 0.25, 0.0]);
        assert_eq!(m.rows[1].p, vec![0.5, 0.0, 0.5]);
        assert!((m.rows[0].stderr[1] - (0.75f64 * 0.25 / 4.0).sqrt()).abs() < 1e-15);
        assert_eq!(m.accuracy(&[0.5, 0.5]), 0.5 * 0.75 + 0.5 * 0.5);
        assert_eq!(largest_confusions(&[&m], 2), vec![[2, 0], [0, 1]]);
    }
}
