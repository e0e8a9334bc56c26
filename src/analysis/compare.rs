//! Theory vs empirical, per stage and class (DESIGN.md §4.1): relative Frobenius error of the
//! covariance, the error of the mean in units of √tr Σ, and the Gaussian KL divergence.

use faer::Par;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::range::Unresolved;
use crate::measure::{LayerStats, Measured};
use crate::net::Stage;
use crate::propagate::Predicted;
use crate::stats::gaussian::{
    frobenius_parts, kl_divergence_in, kl_flops, mean_error_parts, FactorBuffers,
};
use crate::stats::F32_ROUNDOFF;

pub use crate::stats::gaussian::KL_RIDGE;

pub use crate::stats::ROUNDING_SPREAD_ULPS;

/// The share of a KL computed from f32 covariances that the bound on its rounding
/// ([`StageComparison::kl_rounding`]) may reach before the KL is null: 10 %, so that a printed
/// f32 KL is the f64 computation's to within about 10 % (the bound estimates the typical
/// rounding, not the worst case: `stats::gaussian`'s rounding module; the margin below 1 is
/// what carries the rest), while a KL that f32's rounding could have made, or halved, is
/// never printed.
pub const KL_ROUNDING_SHARE: f64 = 0.1;

/// One row of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct StageComparison {
    /// Layer index: l for hˡ and zˡ, L+1 for the output.
    pub layer: usize,
    /// "pre", "post" or "output".
    pub stage: &'static str,
    pub class: usize,
    /// ‖Σ_prop − Σ_emp‖_F / ‖Σ_emp‖_F; where the stage is [`degenerate`](Self::degenerate),
    /// the absolute error ‖Σ_prop − Σ_emp‖_F.
    pub cov_rel_err: f64,
    /// ‖μ_prop − μ_emp‖ / √tr Σ_emp; where the stage is [`degenerate`](Self::degenerate), the
    /// absolute error ‖μ_prop − μ_emp‖.
    pub mean_err: f64,
    /// KL(N_emp ‖ N_prop); null when even the ridged covariances are not positive definite,
    /// and where the prediction was computed in f32 (`--precision f32`) and the KL is not
    /// resolved against f32's rounding: its bound [`kl_rounding`](Self::kl_rounding) exceeds
    /// [`KL_ROUNDING_SHARE`] of the KL (a singular or near-singular Σ, whose smallest
    /// directions f32's rounding swamps, or a KL near 0 that f32 cannot tell from 0).
    pub kl: Option<f64>,
    /// The ridge λ added to both covariances for the KL (0 when none was needed); null with
    /// `kl`.
    pub kl_jitter: Option<f64>,
    /// Where the prediction was computed in f32: the estimate of how far f32's rounding of the
    /// two covariances can move the KL (`stats::gaussian`'s rounding module: 3 standard
    /// deviations of the first-order change under independent entry-wise rounding, plus the
    /// second order; an affine stage adds the bound of the stage before for what it inherits,
    /// [`RoundingCarry`]); null where that rounding is not small in some direction the KL
    /// reads (the estimate is then infinite). Only written for such rows (never in an f64
    /// run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kl_rounding: Option<Option<f64>>,
    /// True when the measured covariance (or its trace) is zero (every unit constant: dead relu
    /// units, a class of one sample), or its spread is the rounding of its mean
    /// (√tr Σ ≤ [`ROUNDING_SPREAD_ULPS`]·ε·‖μ‖), while the prediction differs from it: the
    /// relative errors are undefined, so `cov_rel_err` and `mean_err` hold absolute errors, and
    /// where the spread is rounding `kl` is null. Only written when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub degenerate: bool,
    /// True when `kl` is null because the *prediction* is not a covariance: Σ_prop plus the
    /// KL's ridge has no Cholesky factor, an eigenvalue below −λ (the KL's own error says so,
    /// `stats::gaussian::Unfactored`). The order-3|4 corrections of a strongly skewed
    /// pre-activation can leave the positive semidefinite cone where every pair's corrected
    /// correlation stays in [−1, 1] (EXPERIMENTS.md, "After the merges …, lead
    /// (seventy-fourth session)"; a relu MNIST network's z¹ in 8 of 10 classes). The corrected
    /// closures floor such a class's spectrum (`propagate::closures::cone`, counted in
    /// `Fallbacks::projected`), so this marks what is left: a prediction indefinite where the
    /// Gaussian closure's is too, and the stages of a carried order (`--carry depth`), whose
    /// closure does not floor (a relu MNIST network: 20 rows at order 3, 16 at order 4). Only
    /// written when true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub indefinite: bool,
    /// Why the measured spread of this hidden stage and class lies below f64's range (every
    /// unit's variance subnormal or 0 at values below 2⁻⁴⁵⁰, as the measurement decided,
    /// `measure::range::Unresolved`:
    /// a GELU layer dead for the class, outputs ~10⁻¹⁹⁶), naming the first such unit; its
    /// errors are then not reported in the text ("n/a") and in the JSON are the absolute ones
    /// of a [`degenerate`](Self::degenerate) row, the rounding of nothing. Only written when
    /// set. (At the output such a spread refuses the run.)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

/// One stage's comparison averaged over its classes (`propagate`'s second table).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassMean {
    pub layer: usize,
    pub stage: &'static str,
    pub cov_rel_err: f64,
    pub mean_err: f64,
    /// Mean KL; `None` when any class has none (a singular or indefinite covariance).
    pub kl: Option<f64>,
    /// True when any class's row is [`degenerate`](StageComparison::degenerate): the means
    /// then average absolute errors with (or instead of) relative ones.
    pub degenerate: bool,
    /// True when any class's row is [`unresolved`](StageComparison::unresolved): the means are
    /// not reported.
    pub unresolved: bool,
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
                kl: rows
                    .iter()
                    .map(|r| r.kl)
                    .sum::<Option<f64>>()
                    .map(|s| s / rows.len() as f64),
                degenerate: rows.iter().any(|r| r.degenerate),
                unresolved: rows.iter().any(|r| r.unresolved.is_some()),
            }
        })
        .collect()
}

/// Flops of [`compare_stages`] that returned `rows` for `predicted`: per (stage, class) of
/// width n the KL divergence ([`kl_flops`]) and the Frobenius errors (‖A−B‖²_F and ‖B‖²_F:
/// 5n²; the mean's 3n is not counted).
pub fn comparison_flops(predicted: &[Predicted], rows: &[StageComparison]) -> f64 {
    let widths = predicted
        .iter()
        .flat_map(|p| (0..p.classes()).map(|c| p.mean(c).nrows()));
    widths
        .zip(rows)
        .map(|(n, _)| kl_flops(n) + 5.0 * (n * n) as f64)
        .sum()
}

/// Compares every predicted stage with the measured one; the (stage, class) pairs are
/// independent and run in parallel, rows in stage-then-class order. With at least two pairs
/// per thread each pair's factorizations run on its own thread (`Par::Seq`: every kernel
/// whole, no nested splitting); with fewer, the pairs' factorizations are parallel themselves.
pub fn compare_stages(
    predicted: &[Predicted],
    empirical: &LayerStats,
    depth: usize,
) -> Result<Vec<StageComparison>> {
    let pairs = pairs(predicted, empirical, depth)?;
    let mut carry = RoundingCarry::default();
    let mut rows = Vec::with_capacity(pairs.len());
    // Stage after stage (an affine stage's rounding bound adds the one of the stage before),
    // the classes of each in parallel.
    for stage in pairs.chunk_by(|a, b| std::ptr::eq(a.0, b.0)) {
        let inner = if stage.len() >= 2 * rayon::current_num_threads() {
            Par::Seq
        } else {
            Par::rayon(0)
        };
        let (at, width) = (stage[0].0.stage, width_of(stage[0].0));
        let carried = carry.feeding(at, width, depth);
        // One set of factor buffers per rayon job: the pairs' factors reuse them.
        let got = stage
            .par_iter()
            .map_init(FactorBuffers::default, |buffers, &pair| {
                compare_pair(pair, carried.get(pair.1).copied(), depth, inner, buffers)
            })
            .collect::<Result<Vec<_>>>()?;
        carry.keep(at, width, &got);
        rows.extend(got);
    }
    Ok(rows)
}

/// The rounding bounds (`kl_rounding`, infinite where null) of the f32 stage compared last,
/// per class: a square affine stage after it (hˡ after zˡ⁻¹, y after z^L, as wide as the stage
/// before) inherits its rounding as W δ Wᵀ, whose effect on the KL is that stage's (exactly,
/// to first order, for an invertible W: the KL and its gradient are invariant under it), and
/// adds only its own update's rounding ([`Predicted::f32_fresh`]) whitened by its own factors.
/// Where the stage before was not compared in the same run, or the layer changes the width
/// (W not invertible: the stage before's bound, absolute, says nothing of a KL that the map
/// shrank, and nulled the 1.6·10⁻⁵ z² KL of a 5 → 4 layer behind a 0.58 one), the whole η is
/// taken at the stage itself (the entry-wise model of `stats::gaussian`'s rounding module).
#[derive(Debug, Default)]
pub struct RoundingCarry {
    /// The stage compared last and its width.
    stage: Option<(Stage, usize)>,
    bounds: Vec<f64>,
}

impl RoundingCarry {
    /// The bounds carried to `stage` of `width` units (indexed by class entry), empty where
    /// it does not inherit from the stage compared last through a square layer.
    fn feeding(&self, stage: Stage, width: usize, depth: usize) -> Vec<f64> {
        let feeding = match stage {
            Stage::Pre(l) if l >= 2 => Stage::Post(l - 1),
            Stage::Output => Stage::Post(depth),
            _ => return Vec::new(),
        };
        match self.stage {
            Some(last) if last == (feeding, width) => self.bounds.clone(),
            _ => Vec::new(),
        }
    }

    /// Keeps the rows of `stage` of `width` units as the ones compared last.
    fn keep(&mut self, stage: Stage, width: usize, rows: &[StageComparison]) {
        let bounds: Option<Vec<f64>> = rows
            .iter()
            .map(|r| r.kl_rounding.map(|b| b.unwrap_or(f64::INFINITY)))
            .collect();
        (self.stage, self.bounds) = match bounds {
            Some(b) => (Some((stage, width)), b),
            None => (None, Vec::new()),
        };
    }
}

/// The units of the stage `p` (0 where it holds no class): the width [`RoundingCarry`] compares.
fn width_of(p: &Predicted) -> usize {
    if p.classes() > 0 {
        p.mean(0).nrows()
    } else {
        0
    }
}

/// [`compare_stages`] of the one stage `predicted`, its classes one after another, each
/// pair's factorizations parallel themselves: the f64 matrices of one pair (both Σ widened,
/// two Cholesky factors) are in memory at a time instead of one pair's per thread, for a
/// caller that compares each stage as soon as it is predicted to keep its peak memory low
/// (`propagate --precision f32`). The same rows as [`compare_stages`] to rounding (the
/// factorizations split their work differently).
pub fn compare_stage_lean(
    predicted: &Predicted,
    empirical: &LayerStats,
    depth: usize,
    carry: &mut RoundingCarry,
) -> Result<Vec<StageComparison>> {
    let mut buffers = FactorBuffers::default();
    let width = width_of(predicted);
    let carried = carry.feeding(predicted.stage, width, depth);
    let rows = pairs(std::slice::from_ref(predicted), empirical, depth)?
        .into_iter()
        .map(|pair| {
            let carried = carried.get(pair.1).copied();
            compare_pair(pair, carried, depth, Par::rayon(0), &mut buffers)
        })
        .collect::<Result<Vec<_>>>()?;
    carry.keep(predicted.stage, width, &rows);
    Ok(rows)
}

/// One (stage, class) pair: the predicted stage, its class index k, the class label, the
/// measured stage, whether the measured covariance is singular by construction
/// ([`singular_by_construction`]), and why its spread lies below f64's range where the
/// measurement found so ([`LayerStats::unresolved`]).
type Pair<'a> = (
    &'a Predicted,
    usize,
    usize,
    Measured<'a>,
    bool,
    Option<&'a Unresolved>,
);

/// Every (stage, class) pair of `predicted` with its measured stage, in stage-then-class order.
fn pairs<'a>(
    predicted: &'a [Predicted],
    empirical: &'a LayerStats,
    depth: usize,
) -> Result<Vec<Pair<'a>>> {
    let mut pairs = Vec::new();
    for p in predicted {
        let emp = empirical.measured(p.stage).ok_or_else(|| {
            Error::Shape(format!("no empirical statistics for stage {}", p.stage))
        })?;
        let classes = emp.classes().iter().take(p.classes());
        for (k, &class) in classes.enumerate() {
            let singular = singular_by_construction(p.stage, (k, class), empirical, depth);
            let below = empirical.unresolved(p.stage, class);
            pairs.push((p, k, class, emp, singular, below));
        }
    }
    Ok(pairs)
}

/// Whether the measured covariance of class `class` (entry `k`) at `stage` has rank below its
/// dimension N in exact arithmetic, from two bounds on its rank: a covariance of n samples
/// has rank ≤ n − 1 (the centred samples sum to zero), and an affine stage's samples
/// Wv + b have the covariance W Σ_v Wᵀ of rank ≤ rank Σ_v ≤ the number of units of v that
/// vary in the class (v: the input for h¹, z^{l−1} for hˡ, z^L for y; bounded where v was
/// measured, also after a streamed f32 run released it: [`LayerStats::varying`]). The KL's
/// plain Cholesky factor of such a covariance has a pivot of rounding size at its first
/// dependent column, below the ridge λ, and is dropped for the ridged one
/// ([`kl_divergence_in`]): knowing this beforehand skips it.
fn singular_by_construction(
    stage: Stage,
    (k, class): (usize, usize),
    empirical: &LayerStats,
    depth: usize,
) -> bool {
    let Some(emp) = empirical.measured(stage) else {
        return false;
    };
    let n = emp.mean(k).nrows() as u64;
    if emp.count(k) <= n {
        return true;
    }
    let feeding = match stage {
        Stage::Pre(1) => Stage::Input,
        Stage::Pre(l) => Stage::Post(l - 1),
        Stage::Output => Stage::Post(depth),
        Stage::Input | Stage::Post(_) => return false,
    };
    empirical
        .varying(feeding, class)
        .is_some_and(|v| (v as u64) < n)
}

/// The comparison row of one pair, its factorizations run with parallelism `inner` in
/// `buffers` (handed back there for the next pair); `carried`: the rounding bound of the
/// stage before, where this affine stage inherits its rounding from it ([`RoundingCarry`]).
fn compare_pair(
    (p, k, class, emp, singular, below): Pair<'_>,
    carried: Option<f64>,
    depth: usize,
    inner: Par,
    buffers: &mut FactorBuffers,
) -> Result<StageComparison> {
    // An f32 stage's Σ (predicted or measured) is widened here, one (stage, class) per
    // thread at a time: the KL's factorisations need f64 (`stats::narrow`).
    let (widened, meas_cov) = (p.cov(k), emp.cov(k));
    let (stage, prop_mean, prop_cov) = (p.stage, p.mean(k), &*widened);
    let (meas_mean, meas_cov) = (emp.mean(k), &*meas_cov);
    // Under f32 the measured Σ is held rounded to f32 (`stats::NarrowMoments`; an f64-held
    // one is counted the same, an overstatement of 2⁻²⁴) and the prediction carries the
    // engine's accumulated rounding, or only its own update's where the rest is carried.
    let rounding = p.computed_in_f32().then(|| {
        let own = match carried {
            Some(_) => p.f32_fresh(),
            None => p.f32_rounding(),
        };
        [F32_ROUNDOFF, own]
    });
    let kl = kl_divergence_in(
        (meas_mean.as_ref(), meas_cov.as_ref()),
        (prop_mean.as_ref(), prop_cov.as_ref()),
        (KL_RIDGE, singular),
        rounding,
        inner,
        buffers,
    );
    // Σ_q, the prediction, is the group's second matrix.
    let indefinite = kl.as_ref().is_err_and(|u| u.indefinite.contains(&1));
    let (kl, kl_jitter, kl_rounding) = match kl {
        Ok(k) => (
            Some(k.value),
            Some(k.jitter),
            k.rounding
                .map(|b| b + carried.unwrap_or(0.0))
                .map(|b| b.is_finite().then_some(b)),
        ),
        Err(_) => (None, None, rounding.map(|_| None)),
    };
    let (cov_diff, cov_ref) = frobenius_parts(prop_cov.as_ref(), meas_cov.as_ref())?;
    let (mean_diff, spread) =
        mean_error_parts(prop_mean.as_ref(), meas_mean.as_ref(), meas_cov.as_ref())?;
    let (layer, kind) = (stage.layer(depth), stage.kind());
    if !(cov_diff.is_finite() && mean_diff.is_finite() && cov_ref.is_finite()) {
        return Err(Error::Numeric(format!(
            "layer {layer} ({kind}), class {class}: the propagated or measured mean and \
             covariance are not finite (they overflow f64: the model's weights or the \
             inputs are too large)"
        )));
    }
    let rounding = spread <= ROUNDING_SPREAD_ULPS * f64::EPSILON * meas_mean.norm_l2();
    // Entries below 1e-154 have squares that underflow: ‖Σ_prop − Σ_emp‖_F can be 0 where the
    // two differ (a stage after a dead GELU layer, constant to rounding, was compared with a
    // ridged KL of 10.1 beside cov_rel_err 0; adv37), so the entries decide.
    let differs = cov_diff > 0.0
        || mean_diff > 0.0
        || prop_mean.as_ref() != meas_mean.as_ref()
        || prop_cov.as_ref() != meas_cov.as_ref();
    // A hidden stage whose spread lies below f64's range for the class, as the measurement
    // decided (it lets one through only before a resolved output; adv37).
    let unresolved = below.map(ToString::to_string);
    // A zero spread is a rounding one; ‖Σ‖_F can underflow to 0 where tr Σ does not (entries of
    // 10⁻¹⁷⁰), so a zero Frobenius norm is checked on its own.
    let degenerate = (cov_ref == 0.0 || rounding) && differs || unresolved.is_some();
    // A KL from f32 covariances that their rounding could have moved by more than
    // KL_ROUNDING_SHARE of itself is not resolved. At a Σ singular by construction the KL's
    // ridge λ = 10⁻⁸ × the mean variance lies below f32's rounding of the dependent directions
    // (~2⁻²⁴‖Σ‖), so the ridged KL measured that rounding (adv73: 0.19, 0.40 and 1.4 at an
    // exact affine stage whose f64 KL is 0, or null where the rounding went negative, by
    // chance); near-singular ones (weights of 10⁻⁶, rank deficits carried through a linear
    // φ) likewise, to a lesser degree (f32k74: 0.0118 against f64's 9.2·10⁻⁶, 0.303 against
    // 1.8·10⁻¹⁵). The bound sees them all through the factors' smallest directions.
    let f32_noise = match (kl, kl_rounding) {
        (Some(k), Some(bound)) => !bound.is_some_and(|b| b <= KL_ROUNDING_SHARE * k),
        _ => false,
    };
    let (kl, kl_jitter) = if rounding && differs || unresolved.is_some() || f32_noise {
        (None, None)
    } else {
        (kl, kl_jitter)
    };
    let relative = |diff: f64, reference: f64| {
        if degenerate || diff == 0.0 {
            diff
        } else {
            diff / reference
        }
    };
    Ok(StageComparison {
        layer,
        stage: kind,
        class,
        cov_rel_err: relative(cov_diff, cov_ref),
        mean_err: relative(mean_diff, spread),
        kl,
        kl_jitter,
        kl_rounding,
        degenerate,
        indefinite,
        unresolved,
    })
}

#[cfg(test)]
mod tests {
    use faer::Mat;

    use super::*;
    use crate::data::Dataset;
    use crate::measure::{layer_stats, Higher};
    use crate::net::{Activation, Mlp};
    use crate::stats::gaussian::kl_divergence_with;

    /// The stage before's rounding bound is carried only through a square layer: into z² of
    /// the width h¹ had, and into y of z^L's width, not across a change of width (section 68's
    /// 5 → 4 leaky relu network: h¹'s bound 1.2·10⁻³, carried, nulled a z² KL of 1.6·10⁻⁵ that
    /// f32 matches to 4·10⁻⁵ of itself), nor from a stage that does not feed it. Mutation: the
    /// width not compared → the 5 → 4 case carries.
    #[test]
    fn the_rounding_bound_is_carried_through_square_layers_only() {
        let carry = RoundingCarry {
            stage: Some((Stage::Post(1), 5)),
            bounds: vec![1e-3, 2e-3],
        };
        assert_eq!(carry.feeding(Stage::Pre(2), 5, 2), vec![1e-3, 2e-3]);
        assert!(carry.feeding(Stage::Pre(2), 4, 2).is_empty());
        assert!(carry.feeding(Stage::Pre(3), 5, 3).is_empty());
        let last = RoundingCarry {
            stage: Some((Stage::Post(2), 3)),
            bounds: vec![1e-3],
        };
        assert_eq!(last.feeding(Stage::Output, 3, 2), vec![1e-3]);
        assert!(last.feeding(Stage::Output, 2, 2).is_empty());
    }

    /// 2 classes of 40 samples of a 3-D input that varies in every coordinate.
    fn data() -> Dataset {
        Dataset {
            x: Mat::from_fn(3, 80, |i, k| {
                ((k * 7 + i * 5 + k * k * i) % 13) as f64 / 13.0
            }),
            labels: (0..80).map(|k| (k % 2) as u32).collect(),
            n_classes: 2,
        }
    }

    /// The rank bounds: a pre-activation wider than the units that vary before it (the input
    /// of 3 under 4 units; z¹ with a dead unit under 4 units) is singular, as is a stage at
    /// least as wide as its class has samples; a pre-activation no wider than the input, a
    /// post-activation and the input itself are not known to be.
    #[test]
    fn singular_by_construction_follows_the_rank_bounds() {
        let data = data();
        let mut wide = Mlp::init(&[3, 4, 4, 2], Activation::Relu, 1.0, 5).unwrap();
        // Unit 0 of z¹ is dead (0 on every sample): 3 units of z¹ vary.
        wide.layers[0].b[0] = -1e3;
        let stats = layer_stats(&wide, &data, Higher::None, 16).unwrap();
        let on = |stage| singular_by_construction(stage, (0, 0), &stats, 2);
        assert_eq!(stats.measured(Stage::Post(1)).unwrap().varying(0), 3);
        assert!(on(Stage::Pre(1)) && on(Stage::Pre(2)));
        assert!(!on(Stage::Input) && !on(Stage::Post(1)) && !on(Stage::Post(2)));
        // The output (2 wide) is bounded by the units of z² that vary (40 samples per class).
        let z2 = stats.measured(Stage::Post(2)).unwrap().varying(0);
        assert_eq!(on(Stage::Output), z2 < 2);
        let narrow = Mlp::init(&[3, 3, 2], Activation::Tanh, 1.0, 5).unwrap();
        let stats = layer_stats(&narrow, &data, Higher::None, 16).unwrap();
        assert!(!singular_by_construction(Stage::Pre(1), (1, 1), &stats, 1));
        // 40 samples per class under 40 units: singular whatever the input.
        let many = Mlp::init(&[3, 40, 2], Activation::Tanh, 1.0, 5).unwrap();
        let stats = layer_stats(&many, &data, Higher::None, 16).unwrap();
        assert!(singular_by_construction(Stage::Post(1), (1, 1), &stats, 1));
    }

    /// Skipping the plain factors changes no row: the comparison of a network whose
    /// pre-activations are singular by construction equals the KL with the plain factors tried
    /// first, to the bit.
    #[test]
    fn known_singular_stages_compare_as_with_the_plain_factors_tried() {
        let data = data();
        let net = Mlp::init(&[3, 4, 2], Activation::Relu, 1.0, 7).unwrap();
        let stats = layer_stats(&net, &data, Higher::None, 16).unwrap();
        let emp = stats.measured(Stage::Pre(1)).unwrap();
        for k in 0..2 {
            assert!(singular_by_construction(Stage::Pre(1), (k, k), &stats, 1));
            let cov = emp.cov(k);
            // The "prediction": the measured Gaussian slightly moved.
            let q = Mat::from_fn(4, 4, |i, j| cov[(i, j)] * if i == j { 1.01 } else { 1.0 });
            let mean = emp.mean(k).as_ref();
            let kl = |singular| {
                kl_divergence_with(
                    (mean, (*cov).as_ref()),
                    (mean, q.as_ref()),
                    (KL_RIDGE, singular),
                    Par::Seq,
                )
                .unwrap()
            };
            let (skipped, tried) = (kl(true), kl(false));
            assert!(
                tried.jitter > 0.0,
                "the plain factor of a singular Σ was accepted"
            );
            assert_eq!(skipped, tried);
        }
    }
}
