//! Theory vs empirical, per stage and class (DESIGN.md §4.1): relative Frobenius error of the
//! covariance, the error of the mean in units of √tr Σ, and the Gaussian KL divergence.

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::LayerStats;
use crate::propagate::Predicted;
use crate::stats::gaussian::{kl_divergence, mean_error, relative_frobenius};

/// Relative ridge for the KL divergence when a covariance is singular (dead relu units, constant
/// MNIST border pixels): λ = RIDGE · tr Σ / N is added to both covariances, and reported.
pub const KL_RIDGE: f64 = 1e-8;

/// One row of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct StageComparison {
    /// Layer index: l for hˡ and zˡ, L+1 for the output.
    pub layer: usize,
    /// "pre", "post" or "output".
    pub stage: &'static str,
    pub class: usize,
    /// ‖Σ_prop − Σ_emp‖_F / ‖Σ_emp‖_F.
    pub cov_rel_err: f64,
    /// ‖μ_prop − μ_emp‖ / √tr Σ_emp.
    pub mean_err: f64,
    /// KL(N_emp ‖ N_prop); null when even the ridged covariances are not positive definite.
    pub kl: Option<f64>,
    /// The ridge λ added to both covariances for the KL (0 when none was needed).
    pub kl_jitter: f64,
}

/// One stage's comparison averaged over its classes (`propagate`'s second table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassMean {
    pub layer: usize,
    pub stage: &'static str,
    pub cov_rel_err: f64,
    pub mean_err: f64,
    /// Mean KL; NaN when any class has none.
    pub kl: f64,
}

/// The arithmetic mean over classes of each stage of `rows` (rows of one stage adjacent, as
/// [`compare_stages`] returns them).
pub fn class_means(rows: &[StageComparison]) -> Vec<ClassMean> {
    rows.chunk_by(|a, b| a.layer == b.layer && a.stage == b.stage)
        .map(|rows| {
            let avg = |f: &dyn Fn(&StageComparison) -> f64| {
                rows.iter().map(f).sum::<f64>() / rows.len() as f64
            };
            ClassMean {
                layer: rows[0].layer,
                stage: rows[0].stage,
                cov_rel_err: avg(&|r| r.cov_rel_err),
                mean_err: avg(&|r| r.mean_err),
                kl: avg(&|r| r.kl.unwrap_or(f64::NAN)),
            }
        })
        .collect()
}

/// Compares every predicted stage with the measured one; the (stage, class) pairs are
/// independent and run in parallel, rows in stage-then-class order.
pub fn compare_stages(
    predicted: &[Predicted],
    empirical: &LayerStats,
    depth: usize,
) -> Result<Vec<StageComparison>> {
    let mut pairs = Vec::new();
    for p in predicted {
        let emp = empirical.get(p.stage).ok_or_else(|| {
            Error::Shape(format!("no empirical statistics for stage {}", p.stage))
        })?;
        for ((prop, meas), &class) in p.per_class.iter().zip(&emp.per_class).zip(&emp.classes) {
            pairs.push((p.stage, class, prop, meas));
        }
    }
    pairs
        .into_par_iter()
        .map(|(stage, class, prop, meas)| {
            let kl = kl_divergence(
                (meas.mean.as_ref(), meas.cov.as_ref()),
                (prop.mean.as_ref(), prop.cov.as_ref()),
                KL_RIDGE,
            );
            let (kl, kl_jitter) = match kl {
                Ok(k) => (Some(k.value), k.jitter),
                Err(_) => (None, f64::NAN),
            };
            Ok(StageComparison {
                layer: stage.layer(depth),
                stage: stage.kind(),
                class,
                cov_rel_err: relative_frobenius(prop.cov.as_ref(), meas.cov.as_ref())?,
                mean_err: mean_error(prop.mean.as_ref(), meas.mean.as_ref(), meas.cov.as_ref())?,
                kl,
                kl_jitter,
            })
        })
        .collect()
}
