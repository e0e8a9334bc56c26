//! Where the class information sits (DESIGN.md §4.4): per stage, the Bhattacharyya distance of
//! every pair of classes split into a mean term and a covariance term,
//!
//! ```text
//! D_B = ⅛ Δμᵀ Σ̄⁻¹ Δμ  +  ½ ln( det Σ̄ / √(det Σ₁ det Σ₂) ),   Σ̄ = (Σ₁ + Σ₂)/2
//!       (mean term)       (covariance term)
//! ```
//!
//! (Bhattacharyya 1943; Fukunaga, *Statistical Pattern Recognition*, §3.4). Both terms are ≥ 0;
//! the mean term vanishes when the classes share their mean, the covariance term when they share
//! their covariance. On XOR the class starts in the covariance term and must end in the mean
//! term at the output (Fischer et al. 2022, Sec. III).
//!
//! Singular covariances (dead relu units, MNIST's constant border pixels) get a stated relative
//! ridge: λ = ridge · (average variance of the stage's classes) on every class's diagonal, added
//! to the whole stage only when some class, or the average Σ̄ of some pair, has a failed Cholesky
//! factor or a pivot below λ (see `stats::gaussian::pairwise_bhattacharyya`), so that every pair
//! compares the same regularised class Gaussians. The covariance term of a
//! direction that is constant in one class but not in the other grows like ½ ln(σ²/4λ): it
//! depends on the ridge, which is why the ridge is part of the report.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::LayerStats;
use crate::net::Stage;
use crate::stats::gaussian::pairwise_bhattacharyya;
use crate::stats::{Moments, ROUNDING_LEVEL};

/// Default relative ridge of the split (see the module docs).
pub const INFORMATION_RIDGE: f64 = 1e-6;

/// The split for one pair of classes.
#[derive(Clone, Debug, Serialize)]
pub struct PairInformation {
    pub a: usize,
    pub b: usize,
    /// ⅛ Δμᵀ Σ̄⁻¹ Δμ.
    pub mean_term: f64,
    /// ½ ln(det Σ̄ / √(det Σ₁ det Σ₂)).
    pub cov_term: f64,
    /// The ridge λ added to every class covariance of the stage (0 when none was needed).
    pub jitter: f64,
}

/// The split at one stage, averaged over all class pairs, and per pair.
#[derive(Clone, Debug, Serialize)]
pub struct StageInformation {
    /// "x", "h1", "z1", …, "y".
    pub stage: String,
    /// 0 for x, l for hˡ/zˡ, L+1 for y.
    pub layer: usize,
    /// "input", "pre", "post" or "output".
    pub kind: &'static str,
    /// Mean over pairs of the mean term.
    pub mean_term: f64,
    /// Mean over pairs of the covariance term.
    pub cov_term: f64,
    /// mean_term / (mean_term + cov_term): the share of the distance carried by the means;
    /// null where that distance is at the rounding level, at most d·[`ROUNDING_LEVEL`] for a
    /// stage of width d (the covariance term is a difference of log-determinants, sums of d
    /// logarithms): classes without a distance have no share. Identical classes printed 1.000,
    /// "all in the mean", from a mean term of 7·10⁻³³ and a covariance term of 0, and classes
    /// of 200 features, the same samples in another order, 1.5·10⁻¹⁸, "all in the covariance",
    /// from 1.5·10⁻²⁸ and 9.7·10⁻¹¹ (adv59).
    ///
    /// Why d·[`ROUNDING_LEVEL`]: the covariance term's rounding is that of ln det of d × d
    /// matrices, Σᵢ 2 ln Lᵢᵢ over a Cholesky factor, d logarithms each off by about u·κ (u the
    /// unit roundoff, κ the ridged covariance's condition): linear in d at a given conditioning,
    /// the mean term's is below it (a quadratic form, relative error u·κ of a term that is itself
    /// 0 here). Measured at MNIST widths (adv60; identical classes, 900 test-set zeros and the
    /// same samples reversed, through relu [784, 100, 100, 10] and [784, 1000, 1000, 10] models):
    /// |distance| at most 4.2·10⁻¹⁰ at d = 100 (4% of the level d·10⁻¹⁰) and 9.8·10⁻⁹ at
    /// d = 1000 (10%), 9·10⁻¹³ at the 784 inputs; real classes of the same models are 2·10⁹ or
    /// more times the level at every stage and pair (smallest pair 2.98 at y, d = 10), so
    /// nothing real sits near it.
    pub mean_share: Option<f64>,
    /// Pairs compared with the ridge: 0 or all of them (the ridge is chosen per stage).
    pub ridged_pairs: usize,
    pub pairs: Vec<PairInformation>,
    /// Flops of the split's factors and solves (`PairwiseSplit::flops`), for `--timings`.
    #[serde(skip)]
    pub flops: f64,
}

/// The split for every pair of `per_class` (class c's Gaussian is `per_class[c]`), averaged,
/// with one ridge for the stage (see the module docs). `stage` names the place for the report.
pub fn stage_information(
    stage: Stage,
    depth: usize,
    per_class: &[Moments],
    ridge: f64,
) -> Result<StageInformation> {
    let k = per_class.len();
    if k < 2 {
        return Err(Error::Shape(format!(
            "class information needs at least 2 classes, got {k}"
        )));
    }
    let classes: Vec<_> = per_class
        .iter()
        .map(|m| (m.mean.as_ref(), m.cov.as_ref()))
        .collect();
    let split = pairwise_bhattacharyya(&classes, ridge).map_err(|e| match e {
        // Not "numerical error: … numerical error: …".
        Error::Numeric(msg) => Error::Numeric(format!("Bhattacharyya split at {stage}: {msg}")),
        e => Error::Numeric(format!("Bhattacharyya split at {stage}: {e}")),
    })?;
    let pairs: Vec<PairInformation> = split
        .pairs
        .into_iter()
        .map(|(a, b, d)| PairInformation {
            a,
            b,
            mean_term: d.mean_term,
            cov_term: d.cov_term,
            jitter: d.jitter,
        })
        .collect();
    let n = pairs.len() as f64;
    let mean_term = pairs.iter().map(|p| p.mean_term).sum::<f64>() / n;
    let cov_term = pairs.iter().map(|p| p.cov_term).sum::<f64>() / n;
    let total = mean_term + cov_term;
    let width = per_class[0].dim() as f64;
    Ok(StageInformation {
        stage: stage.to_string(),
        layer: stage.layer(depth),
        kind: stage.kind(),
        mean_term,
        cov_term,
        mean_share: (total > width * ROUNDING_LEVEL).then(|| mean_term / total),
        ridged_pairs: pairs.iter().filter(|p| p.jitter > 0.0).count(),
        pairs,
        flops: split.flops,
    })
}

/// The split at every measured stage of `stats`, from input to output. A stage where every
/// class covariance is zero (every unit constant, e.g. all relu units dead) has no split — the
/// relative ridge is zero too — and is left out, so one degenerate stage does not stop the
/// analysis.
pub fn class_information(
    stats: &LayerStats,
    depth: usize,
    ridge: f64,
) -> Result<Vec<StageInformation>> {
    stats
        .stages
        .iter()
        .filter(|(_, m)| !m.per_class.iter().all(no_spread))
        .map(|(stage, m)| stage_information(*stage, depth, &m.per_class, ridge))
        .collect()
}

/// Flops of [`class_information`] that returned `info`: per stage, its split's factors (each
/// on the support of the covariances it factors) and solves ([`StageInformation::flops`]).
pub fn information_flops(info: &[StageInformation]) -> f64 {
    info.iter().map(|i| i.flops).sum()
}

/// True when the covariance of `m` is zero (its trace, a sum of variances, is 0).
fn no_spread(m: &Moments) -> bool {
    (0..m.cov.nrows()).all(|i| m.cov[(i, i)] <= 0.0)
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;

    /// Two classes of one covariance whose means differ by `shift` in every coordinate.
    fn split(shift: f64) -> StageInformation {
        let cov = Mat::from_fn(3, 3, |i, j| if i == j { 2.0 } else { 0.5 });
        let class =
            |s: f64| Moments::gaussian(Col::from_fn(3, |i| 1.0 + i as f64 + s), cov.clone());
        stage_information(Stage::Input, 1, &[class(0.0), class(shift)], 0.0).unwrap()
    }

    /// Classes whose means differ by rounding (a distance of ~10⁻³¹) have no share of it:
    /// `mean_share` is null in the JSON (it was 1, "all in the mean"); a distance beyond the
    /// rounding level with equal covariances is all in the mean.
    #[test]
    fn classes_without_a_distance_have_no_mean_share() {
        let none = split(1e-15);
        assert!(none.mean_term + none.cov_term < 1e-25, "{none:?}");
        let json = serde_json::to_value(&none).unwrap();
        assert!(json["mean_share"].is_null(), "{json}");
        let apart = split(0.5);
        assert_eq!(apart.cov_term, 0.0);
        assert_eq!(apart.mean_share, Some(1.0));
    }
}
