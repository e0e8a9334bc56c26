//! The Monte Carlo pilot check of a carried run from a Gaussian start (issue #16 item 7: "never
//! worse than the Gaussian at any depth"): S draws of the start distribution are pushed through
//! the network, and the carried output is abandoned for the Gaussian closure's where it is
//! *significantly* further from the draws' statistics than the Gaussian one. A start measured
//! from data has no distribution to draw from: [`held_out_check`] takes the outputs of held-out
//! samples instead, with the same statistics; `measure::HeldOut` splits the other set per class
//! into two halves, the predictions start from one half and the draws are the other's outputs,
//! so that both come from one distribution and are independent, as the statistics assume
//! (EXPERIMENTS.md, "The pilot for data starts, twenty-third session (pil23)", "The check on
//! halves of the held-out set").
//!
//! Per class, with m_K, C_K the carried output's mean and covariance, m₂, C₂ the Gaussian
//! closure's, d = m_K − m₂, D = C_K − C₂, and ȳ, Ĉ the draws' mean and unbiased covariance
//! (y_s − ȳ =: ỹ_s):
//!
//! ```text
//! T_m = ‖m_K − ȳ‖² − ‖m₂ − ȳ‖² + (its 1/S bias, 0 below) = dᵀ(m_K + m₂ − 2ȳ),
//! T_C = ‖C_K − Ĉ‖²_F − ‖C₂ − Ĉ‖²_F = ⟨D, C_K + C₂ − 2Ĉ⟩,   ⟨D, Ĉ⟩ = Σ_s q_s / (S − 1),  q_s = ỹ_sᵀ D ỹ_s.
//! ```
//!
//! As E\[ȳ\] = m and E\[Ĉ\] = C (the true output moments), E\[T_m\] = ‖m_K − m‖² − ‖m₂ − m‖²
//! and E\[T_C\] = ‖C_K − C‖²_F − ‖C₂ − C‖²_F exactly: the statistics are unbiased for the
//! difference of the two predictions' true squared errors, whatever the output's distribution.
//! Their standard errors are the plug-in ones of a mean over draws (the delta method, to
//! O(1/S)): se(T_m)² = 4 dᵀĈd / S and se(T_C)² = 4 Var_s(q_s) / S. Each class's statistics are
//! scaled as the ARC comparison's errors are (T_m by tr C₂, T_C by ‖C₂‖²_F; benches/peers/arc/
//! table.py) and summed over classes, whose draws are independent (variances add). The run is
//! abandoned where T/se exceeds [`PILOT_Z`] for the mean or the covariance: a one-sided test at
//! 3 standard errors (a true tie is called worse with probability ≈ 1.3·10⁻³ per statistic), so
//! a carried output that the draws cannot tell from the Gaussian one is kept. Where a class's
//! two means (or covariances) agree to [`TIE`] (relative: they differ only by rounding, as
//! where every layer fell back, or tanh's zero means) that statistic gets nothing from it: the
//! sign of a rounding difference's correlation with the draws says nothing about the orders.
//!
//! **The KL statistic** (the report's third figure per theory beside covariance error and
//! accuracy: KL(N_emp ‖ N_prop) per class, the measured moments first, `analysis::compare`;
//! EXPERIMENTS.md, "The pilot tests KL too, thirtieth session (kl30)"). With P_K = C_K⁻¹,
//! P₂ = C₂⁻¹, A = P_K − P₂ and the draws' Gaussian fit N(ȳ, Ĉ) as the first argument,
//!
//! ```text
//! 2 [KL(ȳ,Ĉ ‖ m_K,C_K) − KL(ȳ,Ĉ ‖ m₂,C₂)]
//!     = tr(A Ĉ) + (m_K − ȳ)ᵀP_K(m_K − ȳ) − (m₂ − ȳ)ᵀP₂(m₂ − ȳ) + ln det C_K − ln det C₂:
//! ```
//!
//! the ln det Ĉ and −N terms cancel, leaving a statistic linear in Ĉ and quadratic in ȳ. The
//! estimand is the same difference with the true moments (m, C) in place of (ȳ, Ĉ). As
//! E\[Ĉ\] = C and E\[(m_K − ȳ)ᵀP(m_K − ȳ)\] = (m_K − m)ᵀP(m_K − m) + tr(P C)/S, the quadratics'
//! difference is biased by tr(A C)/S, which −tr(A Ĉ)/S removes:
//!
//! ```text
//! T_KL = ½ [(1 − 1/S) tr(A Ĉ) + (m_K − ȳ)ᵀP_K(m_K − ȳ) − (m₂ − ȳ)ᵀP₂(m₂ − ȳ) + ln det C_K − ln det C₂],
//! tr(A Ĉ) = Σ_s q_s / (S − 1),  q_s = ỹ_sᵀ A ỹ_s,
//! ```
//!
//! unbiased for KL(m,C ‖ m_K,C_K) − KL(m,C ‖ m₂,C₂) whatever the output's distribution (the
//! KL of its Gaussian fit, as the report's is). Its standard error is the delta method's, as
//! T_C's: to first order T_KL − E T_KL is the mean over draws of φ_s = gᵀỹ_s + ½ q_s, with
//! g = P_K(ȳ − m_K) − P₂(ȳ − m₂) the gradient of the quadratics' half-difference in ȳ, so
//! se(T_KL)² = Var_s(φ_s)/S (its mean–covariance cross term, the output's third moments,
//! included). The KL is dimensionless and each class's KL is the report's figure, so the
//! classes' T_KL are summed unscaled (the report averages them over classes: the same z).
//! Where C_K or C₂ is singular the report's KL adds the ridge λ = `analysis::compare::KL_RIDGE`
//! × mean variance to both covariances (`stats::gaussian::kl_divergence`), and so does T_KL
//! here (P_K, P₂, ln det of C + λI, and λ·tr A added inside the bracket for the λ the report
//! adds to the measured covariance too; `stats::gaussian::precisions`): a carried
//! direction of zero variance where the draws have some gives T_KL ≈ v/(2λ), far worse. Where
//! even the ridged C_K or C₂ is not positive definite (an output indefinite beyond the ridge,
//! which psd29's cut, `propagate::engine::indefinite_outputs`, sends back to the Gaussian
//! closure before the report sees it; the Gaussian closure's is PSD) the KL does not exist and
//! the class gives the KL statistic nothing; the mean and covariance statistics still test
//! it. The run is abandoned where T_KL/se exceeds [`PILOT_Z`] too.
//!
//! Deterministic for a seed: class c's draws are those of `StdRng::seed_from_u64(seed + c)`.
//! Cost: S·Σ_l 2 n_l n_{l−1} flops and S·Σ_l n_l activations for the draws, plus one Gaussian
//! run for m₂, C₂ (EXPERIMENTS.md, "Never worse than the Gaussian, eighth session").

use std::borrow::Cow;

use faer::{Col, ColRef, Mat, MatRef};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::linalg::gemm;
use crate::net::{Mlp, OutputPass};
use crate::stats::gaussian::{precisions, GaussianSampler, KL_RIDGE};
use crate::stats::Moments;

pub use super::judged::{JudgedBy, Statistic};

/// Standard errors by which the carried output must be further from the pilot's draws than the
/// Gaussian one (mean or covariance) for the run to be abandoned (module docs).
pub const PILOT_Z: f64 = 3.0;
/// Two predictions whose mean difference is below `TIE`·√tr C₂ and whose covariance difference
/// is below `TIE`·‖C₂‖_F are equal (rounding; module docs).
pub const TIE: f64 = 1e-10;
/// Draws pushed through the network at a time.
const CHUNK: usize = 1024;

/// The pilot's settings: how many draws per class, the seed of their stream and the
/// statistics that decide ([`JudgedBy`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pilot {
    pub samples: usize,
    pub seed: u64,
    pub judged: JudgedBy,
}

/// The pilot's evidence (module docs), summed over classes: the estimated difference of the
/// scaled squared errors, carried − Gaussian, of the mean (÷ tr C₂) and the covariance
/// (÷ ‖C₂‖²_F), and of the Gaussian KL(draws ‖ prediction), each with its z = estimate /
/// standard error (0 where both predictions tie, or for the KL where no class's KL exists);
/// `worse` where the z of a statistic in `judged_by` exceeds [`PILOT_Z`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PilotVerdict {
    pub samples: usize,
    pub mean_diff: f64,
    pub mean_z: f64,
    pub cov_diff: f64,
    pub cov_z: f64,
    pub kl_diff: f64,
    pub kl_z: f64,
    pub worse: bool,
    /// The statistics whose z decides `worse` (all three unless `--pilot-statistics` says
    /// otherwise).
    pub judged_by: JudgedBy,
    /// With a jackknife of the start ([`held_out_check`]): the z values from the draws' noise
    /// alone (mean, covariance, KL), beside `mean_z`/`cov_z`/`kl_z`, which count the start's
    /// noise too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draws_only_z: Option<[f64; 3]>,
    /// What the check can see (None where no class was drawn: every prediction tied).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<Resolution>,
}

/// What a check can see, in the units of its statistics' square roots (the mean's error
/// relative to √tr C₂, the covariance's relative to ‖C₂‖_F, as `propagate`'s `cov_rel_err`
/// is to the measured covariance's norm; summed over the classes checked as squares):
/// - `gaussian_mean_err`, `gaussian_cov_err`: the Gaussian closure's own errors as the draws
///   estimate them, √ of the unbiased ‖m₂ − ȳ‖² − tr Ĉ / S and ‖C₂ − Ĉ‖²_F − Σ_ij Var(Ĉ_ij)
///   (Var(Ĉ_ij) ≈ Σ_s (ỹ_si ỹ_sj − Ĉ_ij)² / (S − 1)²), 0 where that is negative (below the
///   draws' noise);
/// - `worse_mean_above`, `worse_cov_above`: the smallest carried error the check calls worse:
///   T = e_K² − e₂² exceeds [`PILOT_Z`]·se(T) where e_K > √(e₂² + [`PILOT_Z`]·se), se being the
///   check's standard error (with the start's jackknife where it ran; that of the observed
///   difference, an approximation for another carried output). Absent for a statistic whose
///   predictions tied (no test).
///
/// A carried output kept with an error between the two is one the check could not tell
/// from the Gaussian closure's (EXPERIMENTS.md, "The pilot through chaotic carries").
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Resolution {
    pub gaussian_mean_err: f64,
    pub gaussian_cov_err: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worse_mean_above: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worse_cov_above: Option<f64>,
}

/// Forward flops of one draw from layer `from` to the output (2 per weight).
pub fn pilot_flops_per_sample(net: &Mlp, from: usize) -> f64 {
    net.layers[from..]
        .iter()
        .map(|l| 2.0 * (l.fan_in() * l.fan_out()) as f64)
        .sum()
}

/// Runs the pilot: `start[c]` is class c's Gaussian start (layer `from`), `carried[c]` and
/// `gaussian[c]` the two predictions of its output (module docs).
pub fn pilot_check(
    net: &Mlp,
    from: usize,
    start: &[Moments],
    carried: &[Moments],
    gaussian: &[Moments],
    pilot: Pilot,
) -> Result<PilotVerdict> {
    if pilot.samples < 2 {
        return Err(Error::Unsupported(format!(
            "the Monte Carlo pilot needs at least 2 samples, got {}",
            pilot.samples
        )));
    }
    same_classes((start.len(), "start classes"), carried, gaussian)?;
    let (width, out) = match net.layers.get(from) {
        Some(layer) => (layer.fan_in(), net.output_dim()),
        None => {
            return Err(Error::Shape(format!(
                "pilot: start layer {from} of a network of {} hidden layers",
                net.depth()
            )))
        }
    };
    let bad_start = start
        .iter()
        .any(|x| x.mean.nrows() != width || x.cov.nrows() != width);
    let bad_output = carried
        .iter()
        .chain(gaussian)
        .any(|y| y.mean.nrows() != out || y.cov.nrows() != out || y.cov.ncols() != out);
    if bad_start || bad_output {
        return Err(Error::Shape(format!(
            "pilot: the start must have {width} units and the outputs {out} (layer {from} of \
             the network)"
        )));
    }
    let draws = &mut |c| {
        let mut rng = StdRng::seed_from_u64(pilot.seed.wrapping_add(c as u64));
        draw_outputs(net, from, &start[c], pilot.samples, &mut rng)
    };
    verdict(
        carried,
        gaussian,
        (pilot.samples, pilot.judged),
        draws,
        &|_, _, _| None,
    )
}

/// The pilot of a data start (`propagate`/`analyze --carry depth` from measured moments): the
/// draws are `held_out[c]`, class c's outputs y of held-out samples of the same distribution
/// pushed through the network (outputs × n_c: never the samples the predictions' start was
/// measured on, which would select on their error; `measure::HeldOut`), in place of draws of a
/// Gaussian start; the statistics, their standard errors, [`PILOT_Z`] and [`TIE`] are
/// [`pilot_check`]'s (module docs). The verdict's `samples` is the number of held-out
/// outputs over the classes. An error where a class whose predictions differ has fewer than 2
/// held-out outputs, or outputs of another width.
///
/// The start's noise: the predictions are measured from a sample too (the held-out start
/// half), and se(T) above counts only the draws'. `jackknife[c]` (empty: none) holds class c's
/// two predictions from its start with each of G groups left out in turn (the delete-a-group
/// jackknife, [`JACKKNIFE_GROUPS`]); their T values against the same draws give
/// Var_start(T) ≈ (G − 1)/G · Σ_g (T_g − T̄)², added to the draws' se(T)². Start and draws are
/// independent, so Var T = E_start Var_draws(T | start) + Var_start E_draws(T | start): the
/// first term is the draws' plug-in variance, the second the jackknife's (with the draws held
/// fixed, to O(1/(n_start · S))). The verdict then also reports the draws-only z
/// (`draws_only_z`). `judged`: the statistics that decide `worse`.
pub fn held_out_check(
    carried: &[Moments],
    gaussian: &[Moments],
    held_out: &[MatRef<'_, f64>],
    jackknife: &[Vec<(Moments, Moments)>],
    judged: JudgedBy,
) -> Result<PilotVerdict> {
    same_classes(
        (held_out.len(), "classes of held-out outputs"),
        carried,
        gaussian,
    )?;
    if !jackknife.is_empty() && jackknife.len() != carried.len() {
        return Err(Error::Shape(format!(
            "pilot: jackknife replicates for {} of {} classes",
            jackknife.len(),
            carried.len()
        )));
    }
    let samples = held_out.iter().map(|y| y.ncols()).sum();
    let start_var = |c: usize, y: MatRef<'_, f64>, f: f64| -> Option<[f64; 3]> {
        let reps = jackknife.get(c).filter(|r| r.len() >= 2)?;
        let g = reps.len() as f64;
        let t: Vec<ClassStatistics> = reps
            .iter()
            .map(|(k, q)| match f == 1.0 {
                true => class_statistics(y, k, q),
                false => class_statistics(y, &scaled(k, f), &scaled(q, f)),
            })
            .collect();
        // A replicate without a KL (a covariance not positive definite) gives the KL's
        // jackknife no value: its variance is then taken over the others.
        let var = |i: usize| {
            let v: Vec<f64> = t.iter().filter_map(|s| s.t[i]).collect();
            match v.len() >= 2 {
                true => variance(&v) * (g - 1.0) * (g - 1.0) / g,
                false => 0.0,
            }
        };
        Some([var(0), var(1), var(2)])
    };
    let draws = &mut |c: usize| {
        let y = held_out[c];
        if y.ncols() < 2 || y.nrows() != carried[c].mean.nrows() {
            return Err(Error::Unsupported(format!(
                "the pilot needs at least 2 held-out outputs of width {} per class, got {} × {} \
                 for class {c}",
                carried[c].mean.nrows(),
                y.nrows(),
                y.ncols()
            )));
        }
        Ok(y.to_owned())
    };
    verdict(carried, gaussian, (samples, judged), draws, &start_var)
}

/// Groups of the start half's delete-a-group jackknife ([`held_out_check`]): 10 carried and 10
/// Gaussian runs more per class checked, each from 90 % of the start half.
pub const JACKKNIFE_GROUPS: usize = 10;

/// Of one class's jackknife replicates `reps` (its carried and Gaussian outputs from the start
/// half with one group left out), how many are worse on their own against the same draws `y`
/// (each a [`held_out_check`] without replicates, z above [`PILOT_Z`]), per statistic
/// \[mean, covariance, KL\].
///
/// Why it is counted: the jackknife's variance (G − 1)/G · Σ_g (T_g − T̄)² is the variance of
/// a statistic that moves smoothly with the start. Through a deep carry it does not: on 30
/// layers of width 4 the replicates' T_g spread by a third of T with every one of them tens of
/// standard errors above 0, or two of ten jump 50× above the rest (EXPERIMENTS.md, "The pilot
/// through chaotic carries, twenty-fifth session"), and the jackknife's z then falls below
/// the limit however clearly each start finds the carry worse. Where every replicate, each
/// leaving out another tenth of the start, is worse on its own, no part of the start carries
/// the difference (where one group does, as on MNIST class 3 from layer 1, the replicate
/// without it falls to z 0.4), and the class is worse whatever the jackknife's z.
pub fn replicates_worse(y: MatRef<'_, f64>, reps: &[(Moments, Moments)]) -> Result<[usize; 3]> {
    let mut worse = [0; 3];
    for (k, g) in reps {
        let (k, g) = (std::slice::from_ref(k), std::slice::from_ref(g));
        let v = held_out_check(k, g, &[y], &[], JudgedBy::ALL)?;
        worse[0] += usize::from(v.mean_z > PILOT_Z);
        worse[1] += usize::from(v.cov_z > PILOT_Z);
        worse[2] += usize::from(v.kl_z > PILOT_Z);
    }
    Ok(worse)
}

/// An error unless there are as many carried and Gaussian outputs as `n` classes of `what`.
fn same_classes((n, what): (usize, &str), carried: &[Moments], gaussian: &[Moments]) -> Result<()> {
    if carried.len() != n || gaussian.len() != n {
        return Err(Error::Shape(format!(
            "pilot: {n} {what}, {} carried and {} Gaussian outputs",
            carried.len(),
            gaussian.len()
        )));
    }
    Ok(())
}

/// The start's variance of class c's unscaled \[T_m, T_C, T_KL\] given its draws y, with the
/// predictions scaled by f as y is ([`output_scale`]; None: not measured; [`held_out_check`]).
type StartVariance<'a> = &'a dyn Fn(usize, MatRef<'_, f64>, f64) -> Option<[f64; 3]>;

/// Outputs whose spread lies beyond 2^±[`SCALE_FREE_EXPONENT`] are scaled before the
/// statistics ([`output_scale`]).
const SCALE_FREE_EXPONENT: i32 = 32;

/// The power of two f by which class outputs of Gaussian prediction `g` are scaled before the
/// statistics: 1 where the largest standard deviation σ lies within 2^±32, else 2^−round(log₂ σ).
///
/// The variance of T_C holds the outputs to the 8th power (q_s = ỹ_sᵀ ΔC ỹ_s squared), beyond
/// f64's range for σ above ~10³⁸ or below ~10⁻³⁸ (a network of quad α = −10¹⁵⁰ gave
/// ‖C₂‖²_F = ∞ and a NaN z). Every figure the verdict reports is a ratio invariant under
/// y → f y, m → f m, C → f² C (T_m / tr C₂, T_C / ‖C₂‖²_F, the dimensionless KL up to its
/// ridge), and a power of two scales without rounding: within the range nothing changes.
fn output_scale(g: &Moments) -> f64 {
    let widest = (0..g.dim()).map(|i| g.cov[(i, i)]).fold(0.0, f64::max);
    let exponent = (0.5 * widest.log2()).round();
    match widest.is_finite() && widest > 0.0 && exponent.abs() > SCALE_FREE_EXPONENT as f64 {
        true => (-exponent).exp2(),
        false => 1.0,
    }
}

/// `m` with its mean scaled by f and its covariance by f² (κ slices dropped: the checks read
/// mean and covariance only).
fn scaled(m: &Moments, f: f64) -> Moments {
    Moments::gaussian(&m.mean * faer::Scale(f), &m.cov * faer::Scale(f * f))
}

/// The verdict (module docs) from class c's output draws `draws(c)` (outputs × S_c), drawn
/// only for a class whose two predictions differ beyond [`TIE`]; `samples` is reported, the
/// statistics in `judged` decide.
/// `start_var(c, y)`: the start's variance of class c's unscaled \[T_m, T_C, T_KL\] (None:
/// not measured), added to the draws'. The KL is tested on a class whose means or covariances
/// differ and whose two KLs exist (module docs).
fn verdict(
    carried: &[Moments],
    gaussian: &[Moments],
    (samples, judged): (usize, JudgedBy),
    draws: &mut dyn FnMut(usize) -> Result<Mat<f64>>,
    start_var: StartVariance<'_>,
) -> Result<PilotVerdict> {
    // Per statistic [mean, covariance, KL]: the scaled T summed over classes, its variance
    // (draws and start), the draws' variance alone, and whether any class tested it.
    let mut sums = [0.0; 3];
    let mut vars = [0.0; 3];
    let mut draws_var = [0.0; 3];
    let mut tested = [false; 3];
    let mut with_start = false;
    // The Gaussian closure's scaled squared errors (`Resolution`) and whether any class was
    // drawn.
    let mut gaussian_err = [0.0; 2];
    let mut drawn = false;
    for (c, (k, g)) in carried.iter().zip(gaussian).enumerate() {
        // Outputs far from unit size in units of a power of two (exact; `output_scale`).
        let f = output_scale(g);
        let (k, g) = match f == 1.0 {
            true => (Cow::Borrowed(k), Cow::Borrowed(g)),
            false => (Cow::Owned(scaled(k, f)), Cow::Owned(scaled(g, f))),
        };
        let (k, g) = (k.as_ref(), g.as_ref());
        let d = &k.mean - &g.mean;
        let dc = &k.cov - &g.cov;
        let (scale_m, scale_c) = (trace(g.cov.as_ref()), g.cov.squared_norm_l2());
        // A Gaussian prediction without spread (a class of identical samples) gives its
        // statistic no scale: it is left out rather than divided by zero.
        let differ = [
            d.squared_norm_l2() > TIE * TIE * scale_m && scale_m > 0.0,
            dc.squared_norm_l2() > TIE * TIE * scale_c && scale_c > 0.0,
        ];
        if differ == [false, false] {
            continue;
        }
        let mut y = draws(c)?;
        if f != 1.0 {
            y *= faer::Scale(f);
        }
        let stats = class_statistics(y.as_ref(), k, g);
        let [em, ec] = gaussian_error(y.as_ref(), g);
        gaussian_err[0] += em / scale_m;
        gaussian_err[1] += ec / scale_c;
        drawn = true;
        let start = start_var(c, y.as_ref(), f);
        with_start |= start.is_some();
        let start = start.unwrap_or([0.0; 3]);
        // The KL is dimensionless: unscaled (module docs).
        let scales = [scale_m, scale_c, 1.0];
        let test = [differ[0], differ[1], stats.t[2].is_some()];
        for i in 0..3 {
            if let (true, Some(t)) = (test[i], stats.t[i]) {
                let s2 = scales[i] * scales[i];
                sums[i] += t / scales[i];
                vars[i] += (stats.var[i] + start[i]) / s2;
                draws_var[i] += stats.var[i] / s2;
                tested[i] = true;
            }
        }
    }
    let z = |t: f64, v: f64| if v > 0.0 { t / v.sqrt() } else { 0.0 };
    let [mean_z, cov_z, kl_z] = [0, 1, 2].map(|i| z(sums[i], vars[i]));
    Ok(PilotVerdict {
        samples,
        mean_diff: sums[0],
        mean_z,
        cov_diff: sums[1],
        cov_z,
        kl_diff: sums[2],
        kl_z,
        worse: judged.any_above([mean_z, cov_z, kl_z], PILOT_Z),
        judged_by: judged,
        draws_only_z: with_start.then(|| [0, 1, 2].map(|i| z(sums[i], draws_var[i]))),
        resolution: drawn.then(|| {
            let [e2m, e2c] = gaussian_err.map(|e| e.max(0.0));
            let above = |t: bool, e2: f64, v: f64| t.then(|| (e2 + PILOT_Z * v.sqrt()).sqrt());
            Resolution {
                gaussian_mean_err: e2m.sqrt(),
                gaussian_cov_err: e2c.sqrt(),
                worse_mean_above: above(tested[0], e2m, vars[0]),
                worse_cov_above: above(tested[1], e2c, vars[1]),
            }
        }),
    })
}

/// Unbiased estimates of the Gaussian prediction `g`'s squared errors \[‖m₂ − m‖²,
/// ‖C₂ − C‖²_F\] from the output draws `y` (outputs × S; [`Resolution`]).
fn gaussian_error(y: MatRef<'_, f64>, g: &Moments) -> [f64; 2] {
    let (n, s) = (y.nrows(), y.ncols() as f64);
    let ybar = Col::from_fn(n, |i| y.row(i).iter().sum::<f64>() / s);
    let yc = Mat::from_fn(n, y.ncols(), |i, j| y[(i, j)] - ybar[i]);
    let c = &yc * yc.transpose() * faer::Scale(1.0 / (s - 1.0));
    let tr: f64 = (0..n).map(|i| c[(i, i)]).sum();
    let mean = (&g.mean - &ybar).squared_norm_l2() - tr / s;
    // Σ_s ‖ỹ_s ỹ_sᵀ − Ĉ‖²_F = Σ_s (|ỹ_s|⁴ − 2 ỹ_sᵀ Ĉ ỹ_s) + S ‖Ĉ‖²_F.
    let cy = &c * &yc;
    let spread: f64 = (0..yc.ncols())
        .map(|j| {
            let v = yc.col(j).squared_norm_l2();
            v * v - 2.0 * (yc.col(j).transpose() * cy.col(j))
        })
        .sum::<f64>()
        + s * c.squared_norm_l2();
    // E Σ_s (ỹ_si ỹ_sj − Ĉ_ij)² ≈ (S − 1) Var(y_i y_j) and Var(Ĉ_ij) = Var(y_i y_j) / (S − 1).
    let cov = (&g.cov - &c).squared_norm_l2() - spread / ((s - 1.0) * (s - 1.0));
    [mean, cov]
}

impl PilotVerdict {
    /// No evidence either way from `samples` draws (z 0 for every statistic, not worse).
    pub fn tie(samples: usize, judged_by: JudgedBy) -> Self {
        PilotVerdict {
            samples,
            mean_diff: 0.0,
            mean_z: 0.0,
            cov_diff: 0.0,
            cov_z: 0.0,
            kl_diff: 0.0,
            kl_z: 0.0,
            worse: false,
            judged_by,
            draws_only_z: None,
            resolution: None,
        }
    }

    /// What the check could see, for the reason of a kept output: "; it calls worse a carried
    /// covariance error above X (the Gaussian closure's: Y) and a mean error above …" (empty
    /// without a [`Resolution`] or a tested statistic).
    pub fn sees(&self) -> String {
        let Some(r) = self.resolution else {
            return String::new();
        };
        let parts: Vec<String> = [
            ("covariance", r.worse_cov_above, r.gaussian_cov_err),
            ("mean", r.worse_mean_above, r.gaussian_mean_err),
        ]
        .into_iter()
        .filter_map(|(what, above, own)| {
            let own = match own > 0.0 {
                true => format!("{own:.3}"),
                false => "below the draws' noise".to_string(),
            };
            above.map(|a| {
                format!("a carried {what} error above {a:.3} (the Gaussian closure's: {own})")
            })
        })
        .collect();
        match parts.is_empty() {
            true => String::new(),
            false => format!("; it calls worse {}", parts.join(" and ")),
        }
    }

    /// Why a run found worse is abandoned: the pilot's `draws` (what they were), its z values
    /// and the limit, and what replaces the carried output (`replaced`).
    pub fn abandon_reason(&self, draws: &str, replaced: &str) -> String {
        format!(
            "the Monte Carlo pilot ({draws}) finds the carried output further from them than \
             the Gaussian closure's (mean z = {:.1}, covariance z = {:.1}, KL z = {:.1}; limit \
             {PILOT_Z}{}): {replaced}",
            self.mean_z,
            self.cov_z,
            self.kl_z,
            self.judged_by.clause()
        )
    }
}

/// One class's statistics \[T_m, T_C, T_KL\] and their draws' variances se² (module docs);
/// T_KL is None where the ridged C_K or C₂ is not positive definite (its variance then 0).
struct ClassStatistics {
    t: [Option<f64>; 3],
    var: [f64; 3],
}

/// The [`ClassStatistics`] of one class from its output draws `y` (outputs × S) against the
/// carried (`k`) and Gaussian (`g`) predictions (module docs).
fn class_statistics(y: MatRef<'_, f64>, k: &Moments, g: &Moments) -> ClassStatistics {
    let s = y.ncols() as f64;
    let ybar = Col::from_fn(y.nrows(), |i| y.row(i).iter().sum::<f64>() / s);
    let yc = Mat::from_fn(y.nrows(), y.ncols(), |i, j| y[(i, j)] - ybar[i]);
    let d = &k.mean - &g.mean;
    let dc = &k.cov - &g.cov;
    let tm = d.transpose() * (&k.mean + &g.mean - 2.0 * &ybar);
    let a: Vec<f64> = (0..yc.ncols()).map(|j| d.transpose() * yc.col(j)).collect();
    let q = quadratic_forms(dc.as_ref(), yc.as_ref());
    let sum_kg: f64 = (0..dc.ncols())
        .map(|j| dc.col(j).transpose() * (k.cov.col(j) + g.cov.col(j)))
        .sum();
    let tc = sum_kg - 2.0 * q.iter().sum::<f64>() / (s - 1.0);
    let (tk, vk) = match kl_statistic(ybar.as_ref(), yc.as_ref(), k, g) {
        Some([t, v]) => (Some(t), v),
        None => (None, 0.0),
    };
    ClassStatistics {
        t: [Some(tm), Some(tc), tk],
        var: [4.0 * variance(&a) / s, 4.0 * variance(&q) / s, vk],
    }
}

/// q_s = ỹ_sᵀ M ỹ_s for each column ỹ_s of `yc`.
fn quadratic_forms(m: MatRef<'_, f64>, yc: MatRef<'_, f64>) -> Vec<f64> {
    let mut my = Mat::zeros(yc.nrows(), yc.ncols());
    gemm(my.as_mut(), false, m, yc, 1.0);
    (0..yc.ncols())
        .map(|j| yc.col(j).transpose() * my.col(j))
        .collect()
}

/// \[T_KL, se(T_KL)²\] (module docs) from the draws' mean `ybar` and centred draws `yc`
/// (outputs × S): T_KL = ½ \[(1 − 1/S) tr(A Ĉ) + λ tr A + (m_K − ȳ)ᵀP_K(m_K − ȳ) −
/// (m₂ − ȳ)ᵀP₂(m₂ − ȳ) + ln det C_K − ln det C₂\], se² = Var_s(gᵀỹ_s + ½ ỹ_sᵀAỹ_s)/S with
/// g = P_K(ȳ − m_K) − P₂(ȳ − m₂); None where C_K or C₂ is not positive definite even with the
/// report's ridge.
fn kl_statistic(
    ybar: ColRef<'_, f64>,
    yc: MatRef<'_, f64>,
    k: &Moments,
    g: &Moments,
) -> Option<[f64; 2]> {
    let p = precisions(
        &[k.cov.as_ref(), g.cov.as_ref()],
        &["carried", "Gaussian"],
        KL_RIDGE,
    )
    .ok()?;
    let (pk, p2) = (&p.inverse[0], &p.inverse[1]);
    let a = pk - p2;
    let s = yc.ncols() as f64;
    let (rk, r2) = (ybar - &k.mean, ybar - &g.mean);
    let (uk, u2) = (pk * &rk, p2 * &r2);
    let quadratics = rk.transpose() * &uk - r2.transpose() * &u2;
    let grad = &uk - &u2;
    let q = quadratic_forms(a.as_ref(), yc);
    let tr_ac = q.iter().sum::<f64>() / (s - 1.0);
    let t = 0.5
        * ((1.0 - 1.0 / s) * tr_ac + p.jitter * trace(a.as_ref()) + quadratics + p.log_det[0]
            - p.log_det[1]);
    let phi: Vec<f64> = (0..yc.ncols())
        .map(|j| grad.transpose() * yc.col(j) + 0.5 * q[j])
        .collect();
    Some([t, variance(&phi) / s])
}

/// The unbiased sample variance of `v` (at least two values).
fn variance(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0)
}

/// tr A.
fn trace(a: MatRef<'_, f64>) -> f64 {
    (0..a.nrows()).map(|i| a[(i, i)]).sum()
}

/// `samples` draws of N(x.mean, x.cov) at layer `from` pushed through the rest of `net`
/// ([`Mlp::output_from`]): the outputs, one column per draw.
fn draw_outputs(
    net: &Mlp,
    from: usize,
    x: &Moments,
    samples: usize,
    rng: &mut StdRng,
) -> Result<Mat<f64>> {
    let sampler = GaussianSampler::new(x.mean.as_ref(), x.cov.as_ref())?;
    let mut y = Mat::zeros(net.output_dim(), samples);
    let mut op = OutputPass::new(net, CHUNK.min(samples));
    for first in (0..samples).step_by(CHUNK) {
        let b = CHUNK.min(samples - first);
        net.output_from(from, sampler.sample(b, rng).as_ref(), &mut op);
        y.as_mut().subcols_mut(first, b).copy_from(op.output());
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::stats::gaussian::kl_divergence;

    /// The output moments of `net` on `x` from 400 000 draws: the truth, to within
    /// standard errors far below the pilot's at 4096 draws.
    fn truth(net: &Mlp, x: &Moments) -> Moments {
        let mut rng = StdRng::seed_from_u64(99);
        let y = draw_outputs(net, 0, x, 400_000, &mut rng).unwrap();
        let s = y.ncols() as f64;
        let mean = Col::from_fn(y.nrows(), |i| y.row(i).iter().sum::<f64>() / s);
        let yc = Mat::from_fn(y.nrows(), y.ncols(), |i, j| y[(i, j)] - mean[i]);
        let cov = &yc * yc.transpose() * faer::Scale(1.0 / (s - 1.0));
        Moments::gaussian(mean, cov)
    }

    fn setup() -> (Mlp, Moments, Moments) {
        let net = Mlp::init(&[5, 8, 8, 4], Activation::Relu, 2f64.sqrt(), 3).unwrap();
        let x = Moments::gaussian(Col::zeros(5), Mat::identity(5, 5));
        let t = truth(&net, &x);
        (net, x, t)
    }

    /// A prediction off the truth by `rel` of its covariance (a common-mode error along the
    /// largest direction, as the carried orders' errors are) and of √diag in the mean.
    fn off(t: &Moments, rel: f64) -> Moments {
        let n = t.mean.nrows();
        let mean = Col::from_fn(n, |i| t.mean[i] + rel * t.cov[(i, i)].sqrt());
        let cov = Mat::from_fn(n, n, |i, j| t.cov[(i, j)] * (1.0 + rel));
        Moments::gaussian(mean, cov)
    }

    #[test]
    fn fires_where_the_carried_output_is_worse_and_not_where_it_is_exact() {
        let (net, x, t) = setup();
        let pilot = Pilot {
            samples: 4096,
            seed: 1,
            judged: JudgedBy::ALL,
        };
        let run = |k: &Moments, g: &Moments| {
            let one = std::slice::from_ref;
            pilot_check(&net, 0, one(&x), one(k), one(g), pilot).unwrap()
        };
        // Carried 20 % off, Gaussian 10 % off: worse, and seen at many standard errors.
        let worse = run(&off(&t, 0.2), &off(&t, 0.1));
        assert!(worse.worse && worse.cov_z > 2.0 * PILOT_Z, "{worse:?}");
        assert!(worse.cov_diff > 0.0 && worse.mean_diff > 0.0, "{worse:?}");
        // Carried exact, Gaussian 10 % off: kept, the evidence pointing the other way.
        let exact = run(&t, &off(&t, 0.1));
        assert!(!exact.worse && exact.cov_z < 0.0, "{exact:?}");
        assert!(exact.mean_z < -PILOT_Z, "{exact:?}");
        // Equal predictions: a tie, no evidence either way.
        let tie = run(&off(&t, 0.1), &off(&t, 0.1));
        assert_eq!(
            (tie.mean_z, tie.cov_z, tie.kl_z, tie.worse),
            (0.0, 0.0, 0.0, false)
        );
    }

    #[test]
    fn is_deterministic_for_a_seed_and_varies_with_it() {
        let (net, x, t) = setup();
        let run = |seed| {
            let pilot = Pilot {
                samples: 512,
                seed,
                judged: JudgedBy::ALL,
            };
            let one = std::slice::from_ref;
            pilot_check(&net, 0, one(&x), &[off(&t, 0.05)], one(&t), pilot).unwrap()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7).cov_z, run(8).cov_z);
    }

    #[test]
    fn sums_the_evidence_over_classes() {
        let (net, x, t) = setup();
        let pilot = Pilot {
            samples: 4096,
            seed: 1,
            judged: JudgedBy::ALL,
        };
        let two = |a: Moments, b: Moments| [a, b];
        // Class 0 ties, class 1 is worse: the run is worse, on class 1's evidence alone.
        let k = two(off(&t, 0.1), off(&t, 0.2));
        let g = two(off(&t, 0.1), off(&t, 0.1));
        let both = pilot_check(&net, 0, &[x.clone(), x.clone()], &k, &g, pilot).unwrap();
        let one = std::slice::from_ref;
        let alone = Pilot { seed: 2, ..pilot };
        let single = pilot_check(&net, 0, one(&x), &k[1..], &g[1..], alone).unwrap();
        assert!(both.worse, "{both:?}");
        assert_eq!((both.cov_z, both.mean_z), (single.cov_z, single.mean_z));
    }

    /// The data start's pilot is the Gaussian start's with the draws given: handed the very
    /// outputs `pilot_check` draws (same seed per class), it returns the same verdict.
    #[test]
    fn held_out_draws_give_the_verdict_of_the_same_draws() {
        let (net, x, t) = setup();
        let pilot = Pilot {
            samples: 2048,
            seed: 5,
            judged: JudgedBy::ALL,
        };
        let k = [off(&t, 0.2), off(&t, 0.02)];
        let g = [off(&t, 0.1), off(&t, 0.1)];
        let start = [x.clone(), x.clone()];
        let drawn = pilot_check(&net, 0, &start, &k, &g, pilot).unwrap();
        let held: Vec<Mat<f64>> = (0..2)
            .map(|c| {
                let mut rng = StdRng::seed_from_u64(pilot.seed + c);
                draw_outputs(&net, 0, &x, pilot.samples, &mut rng).unwrap()
            })
            .collect();
        let views: Vec<MatRef<'_, f64>> = held.iter().map(|y| y.as_ref()).collect();
        let given = held_out_check(&k, &g, &views, &[], JudgedBy::ALL).unwrap();
        assert_eq!(
            (given.mean_z, given.cov_z, given.worse),
            (drawn.mean_z, drawn.cov_z, drawn.worse)
        );
        assert_eq!(given.samples, 2 * pilot.samples);
        // A class with a single held-out output cannot be checked: an error naming it.
        let one = [held[0].as_ref(), held[1].as_ref().subcols(0, 1)];
        let err = held_out_check(&k, &g, &one, &[], JudgedBy::ALL).unwrap_err();
        assert!(err.to_string().contains("class 1"), "{err}");
    }

    /// 1024 drawn outputs, a prediction 20 % off and a Gaussian one 10 % off, and ten jackknife
    /// replicates of the former spread ±9 % around it (the start half's replicates).
    struct Jackknifed {
        y: Mat<f64>,
        k: Moments,
        g: Moments,
        reps: Vec<(Moments, Moments)>,
    }

    fn jackknifed() -> Jackknifed {
        let (net, x, t) = setup();
        let mut rng = StdRng::seed_from_u64(4);
        let y = draw_outputs(&net, 0, &x, 1024, &mut rng).unwrap();
        let (k, g) = (off(&t, 0.2), off(&t, 0.1));
        let reps = (0..10)
            .map(|i| (off(&t, 0.2 + 0.02 * (i as f64 - 4.5)), g.clone()))
            .collect();
        Jackknifed { y, k, g, reps }
    }

    /// The start half's jackknife: its variance, (G − 1)/G · Σ_g (T_g − T̄)² over the
    /// replicates' statistics against the same draws, is added to the draws' se(T)², per
    /// statistic (here formed by hand from `class_statistics`); the draws-only z values are
    /// those of the check without replicates; G identical replicates add nothing.
    #[test]
    fn the_start_jackknife_adds_its_variance_to_the_draws() {
        let Jackknifed { y, k, g, reps } = jackknifed();
        let one = std::slice::from_ref;
        let plain = held_out_check(one(&k), one(&g), &[y.as_ref()], &[], JudgedBy::ALL).unwrap();
        assert_eq!(plain.draws_only_z, None);
        let v = held_out_check(
            one(&k),
            one(&g),
            &[y.as_ref()],
            std::slice::from_ref(&reps),
            JudgedBy::ALL,
        )
        .unwrap();
        assert_eq!(
            v.draws_only_z,
            Some([plain.mean_z, plain.cov_z, plain.kl_z])
        );
        let own = class_statistics(y.as_ref(), &k, &g);
        let stats: Vec<ClassStatistics> = reps
            .iter()
            .map(|(a, b)| class_statistics(y.as_ref(), a, b))
            .collect();
        let jackknife = |i: usize| {
            let mean = stats.iter().map(|s| s.t[i].unwrap()).sum::<f64>() / 10.0;
            stats
                .iter()
                .map(|s| (s.t[i].unwrap() - mean).powi(2))
                .sum::<f64>()
                * 9.0
                / 10.0
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        let z = |i: usize| own.t[i].unwrap() / (own.var[i] + jackknife(i)).sqrt();
        assert!(close(v.mean_z, z(0)), "{v:?}");
        assert!(close(v.cov_z, z(1)), "{v:?}");
        assert!(close(v.kl_z, z(2)), "{v:?}");
        assert!(0.0 < v.cov_z && v.cov_z < plain.cov_z, "{v:?} {plain:?}");
        let same = vec![(k.clone(), g.clone()); 10];
        let w = held_out_check(one(&k), one(&g), &[y.as_ref()], &[same], JudgedBy::ALL).unwrap();
        assert_eq!(
            (w.mean_z, w.cov_z, w.kl_z),
            (plain.mean_z, plain.cov_z, plain.kl_z)
        );
    }

    /// The verdict does not depend on the outputs' unit: the check of outputs, predictions and
    /// jackknife replicates scaled by 2^±200 (where the variance of T_C, ~y⁸, leaves f64's
    /// range: ∞/NaN before `output_scale`) equals the unscaled one field for field, and by
    /// 10¹⁵⁰ (not a power of two: rounding) within 1e-9 relative.
    #[test]
    fn outputs_of_any_size_give_the_same_verdict() {
        let Jackknifed { y, k, g, reps } = jackknifed();
        let check = |f: f64| {
            let (ks, gs) = (scaled(&k, f), scaled(&g, f));
            let ys = &y * faer::Scale(f);
            let rs: Vec<(Moments, Moments)> = reps
                .iter()
                .map(|(a, b)| (scaled(a, f), scaled(b, f)))
                .collect();
            let one = std::slice::from_ref;
            held_out_check(one(&ks), one(&gs), &[ys.as_ref()], &[rs], JudgedBy::ALL).unwrap()
        };
        let v = check(1.0);
        // Every statistic tested, with the jackknife's variance: z of order 0.4, draws alone > 2.
        let [dm, dc, dk] = v.draws_only_z.unwrap();
        assert!(v.mean_z > 0.1 && v.cov_z > 0.1 && v.kl_z > 0.1, "{v:?}");
        assert!(dm > PILOT_Z && dc > 2.0 && dk > PILOT_Z, "{v:?}");
        for f in [2f64.powi(200), 2f64.powi(-200)] {
            assert_eq!(check(f), v, "scaled by {f:e}");
        }
        let w = check(1e150);
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
        assert!(
            close(w.mean_z, v.mean_z) && close(w.cov_z, v.cov_z),
            "{w:?} {v:?}"
        );
        assert!(close(w.kl_z, v.kl_z), "{w:?} {v:?}");
    }

    /// `replicates_worse` counts, per statistic, the replicates whose own check (no
    /// replicates, the same draws) is above the limit: ten copies of a prediction 20 % off
    /// against a Gaussian one 10 % off are all worse on both; one replicate equal to the
    /// Gaussian prediction (a tie: z 0) takes one from each count.
    #[test]
    fn replicates_worse_counts_the_replicates_worse_on_their_own() {
        let (net, x, t) = setup();
        let mut rng = StdRng::seed_from_u64(6);
        let y = draw_outputs(&net, 0, &x, 4096, &mut rng).unwrap();
        let (k, g) = (off(&t, 0.2), off(&t, 0.1));
        let one = std::slice::from_ref;
        let alone = held_out_check(one(&k), one(&g), &[y.as_ref()], &[], JudgedBy::ALL).unwrap();
        assert!(alone.mean_z > PILOT_Z && alone.cov_z > PILOT_Z, "{alone:?}");
        let mut reps = vec![(k.clone(), g.clone()); 10];
        assert!(alone.kl_z > PILOT_Z, "{alone:?}");
        assert_eq!(replicates_worse(y.as_ref(), &reps).unwrap(), [10, 10, 10]);
        reps[3] = (g.clone(), g.clone());
        assert_eq!(replicates_worse(y.as_ref(), &reps).unwrap(), [9, 9, 9]);
    }

    /// `gaussian_error`'s estimates of ‖m₂ − m‖² and ‖C₂ − C‖²_F are unbiased: over 400 sets of
    /// 64 draws of a known N(m, C) their averages lie within 4 standard errors of the exact
    /// values, where the uncorrected ‖m₂ − ȳ‖² and ‖C₂ − Ĉ‖²_F are off by their biases tr C / S
    /// and Σ_ij (C_ii C_jj + C_ij²) / (S − 1), many standard errors.
    #[test]
    fn the_gaussian_closures_error_estimate_is_unbiased() {
        let n = 3;
        let cov = Mat::from_fn(n, n, |i, j| if i == j { 1.0 + i as f64 } else { 0.3 });
        let mean = Col::from_fn(n, |i| i as f64);
        let g = Moments::gaussian(
            Col::from_fn(n, |i| mean[i] + 0.1),
            Mat::from_fn(n, n, |i, j| 1.1 * cov[(i, j)]),
        );
        let exact = [
            (&g.mean - &mean).squared_norm_l2(),
            (&g.cov - &cov).squared_norm_l2(),
        ];
        let sampler = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let mut rng = StdRng::seed_from_u64(11);
        let (reps, s) = (400, 64);
        let draws: Vec<Mat<f64>> = (0..reps).map(|_| sampler.sample(s, &mut rng)).collect();
        let average = |v: Vec<f64>| {
            let m = v.iter().sum::<f64>() / reps as f64;
            (m, (variance(&v) / reps as f64).sqrt())
        };
        for (k, exact) in exact.iter().enumerate() {
            let (m, se) = average(
                draws
                    .iter()
                    .map(|y| gaussian_error(y.as_ref(), &g)[k])
                    .collect(),
            );
            assert!(
                (m - exact).abs() < 4.0 * se,
                "{k}: {m} ± {se} against {exact}"
            );
        }
        let raw = |y: &Mat<f64>| {
            let sf = s as f64;
            let ybar = Col::from_fn(n, |i| y.row(i).iter().sum::<f64>() / sf);
            let yc = Mat::from_fn(n, s, |i, j| y[(i, j)] - ybar[i]);
            let c = &yc * yc.transpose() * faer::Scale(1.0 / (sf - 1.0));
            [
                (&g.mean - &ybar).squared_norm_l2(),
                (&g.cov - &c).squared_norm_l2(),
            ]
        };
        for (k, exact) in exact.iter().enumerate() {
            let (m, se) = average(draws.iter().map(|y| raw(y)[k]).collect());
            assert!(
                (m - exact).abs() > 8.0 * se,
                "{k}: {m} ± {se} against {exact}"
            );
        }
    }

    /// A Gaussian prediction with zero covariance (a class of identical samples) has no scale
    /// for either statistic: the verdict is a finite tie, not a division by zero.
    #[test]
    fn a_gaussian_prediction_without_spread_gives_no_evidence() {
        let (net, x, t) = setup();
        let flat = Moments::gaussian(t.mean.clone(), Mat::zeros(4, 4));
        let mut rng = StdRng::seed_from_u64(3);
        let y = draw_outputs(&net, 0, &x, 64, &mut rng).unwrap();
        let v =
            held_out_check(&[off(&t, 0.1)], &[flat], &[y.as_ref()], &[], JudgedBy::ALL).unwrap();
        assert_eq!((v.mean_z, v.cov_z, v.worse), (0.0, 0.0, false), "{v:?}");
    }

    /// A known Gaussian output N(m, C) (n = 3) and two predictions: the carried one with half
    /// the covariance and its mean off by δ (δᵀC⁻¹δ = ½), the Gaussian one exact, so that
    /// A = C_K⁻¹ − C₂⁻¹ = C⁻¹ (tr(A C) = 3) and g ≠ 0: both parts of T_KL's influence count.
    fn kl_case() -> (Col<f64>, Mat<f64>, Moments, Moments) {
        let n = 3;
        let cov = Mat::from_fn(n, n, |i, j| if i == j { 1.0 + i as f64 } else { 0.3 });
        let mean = Col::from_fn(n, |i| i as f64);
        let delta = Col::from_fn(n, |i| [0.6, -0.4, 0.5][i]);
        let p = precisions(&[cov.as_ref()], &["C"], 0.0).unwrap();
        let scale = (0.5 / (delta.transpose() * &p.inverse[0] * &delta)).sqrt();
        let k = Moments::gaussian(&mean + scale * &delta, 0.5 * &cov);
        let g = Moments::gaussian(mean.clone(), cov.clone());
        (mean, cov, k, g)
    }

    /// T_KL of `reps` sets of `s` draws of N(m, C): (T, se²) per set.
    fn kl_draws(reps: usize, s: usize, seed: u64) -> Vec<(f64, f64)> {
        let (mean, cov, k, g) = kl_case();
        let sampler = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let mut rng = StdRng::seed_from_u64(seed);
        (0..reps)
            .map(|_| {
                let st = class_statistics(sampler.sample(s, &mut rng).as_ref(), &k, &g);
                (st.t[2].unwrap(), st.var[2])
            })
            .collect()
    }

    /// T_KL is unbiased for KL(N(m,C) ‖ carried) − KL(N(m,C) ‖ Gaussian), the exact
    /// difference from `kl_divergence`: over 2000 sets of 16 draws its average lies within
    /// 4 standard errors of it, where the uncorrected statistic (without −tr(A Ĉ)/(2S)) is off
    /// by its bias tr(A C)/(2S) = 3/32, more than 8 standard errors (checked: without the
    /// correction the average is 1.075 ± 0.011 against 0.960).
    #[test]
    fn the_kl_statistic_is_unbiased() {
        let (mean, cov, k, g) = kl_case();
        let kl = |q: &Moments| {
            let p = (mean.as_ref(), cov.as_ref());
            kl_divergence(p, (q.mean.as_ref(), q.cov.as_ref()), 0.0)
                .unwrap()
                .value
        };
        let exact = kl(&k) - kl(&g);
        let s = 16;
        let t: Vec<f64> = kl_draws(2000, s, 21).into_iter().map(|(t, _)| t).collect();
        let avg = t.iter().sum::<f64>() / t.len() as f64;
        let se = (variance(&t) / t.len() as f64).sqrt();
        assert!(
            (avg - exact).abs() < 4.0 * se,
            "{avg} ± {se} against {exact}"
        );
        // The uncorrected statistic adds tr(A Ĉ)/(2S), whose mean is 3/(2S).
        let bias = 3.0 / (2.0 * s as f64);
        assert!(bias > 8.0 * se, "{bias} against {se}");
    }

    /// se(T_KL)² (the delta method's Var_s(φ_s)/S) matches the spread of T_KL over 400 sets of
    /// 256 draws: the ratio of the mean se² to the sample variance of T lies within 0.3 of 1
    /// (the sample variance's own relative standard error √(2/399) = 0.07, plus O(1/S)); the
    /// mean term gᵀỹ_s is 4/7 of Var φ here (2 of 3.5), so a se without it (ratio 3/7;
    /// checked: 0.45) or with q_s in place of ½q_s (8/3.5) is far outside.
    #[test]
    fn the_kl_statistics_standard_error_matches_its_spread() {
        let draws = kl_draws(400, 256, 22);
        let t: Vec<f64> = draws.iter().map(|d| d.0).collect();
        let se2 = draws.iter().map(|d| d.1).sum::<f64>() / draws.len() as f64;
        let ratio = se2 / variance(&t);
        assert!(
            (ratio - 1.0).abs() < 0.3,
            "{ratio}: {se2} against {}",
            variance(&t)
        );
    }

    /// A carried covariance with a smaller Frobenius error than the Gaussian closure's (0.12
    /// against 0.43) but one eigenvalue 5× too small (C_K = C − 0.12 e₃e₃ᵀ, C = diag(1, 1,
    /// 0.15); the Gaussian 1.3 C): its KL is 1.195 against 0.047. The mean and covariance
    /// statistics keep it (the means equal: a tie; the covariance better, z −9 expected), the
    /// KL statistic abandons it.
    #[test]
    fn a_carried_output_far_worse_in_kl_only_is_abandoned_where_the_kl_is_judged() {
        let n = 3;
        let cov = Mat::from_fn(n, n, |i, j| match (i == j, i) {
            (true, 2) => 0.15,
            (true, _) => 1.0,
            _ => 0.0,
        });
        let mean = Col::zeros(n);
        let mut thin = cov.clone();
        thin[(2, 2)] -= 0.12;
        let k = Moments::gaussian(mean.clone(), thin);
        let g = Moments::gaussian(mean.clone(), 1.3 * &cov);
        let sampler = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let y = sampler.sample(4096, &mut StdRng::seed_from_u64(23));
        let (k, g) = (std::slice::from_ref(&k), std::slice::from_ref(&g));
        let check = |judged| held_out_check(k, g, &[y.as_ref()], &[], judged);
        let v = check(JudgedBy::ALL).unwrap();
        assert_eq!(v.mean_z, 0.0, "{v:?}");
        assert!(v.cov_z < -PILOT_Z, "{v:?}");
        assert!(v.kl_z > 2.0 * PILOT_Z && v.kl_diff > 1.0, "{v:?}");
        assert!(v.worse, "{v:?}");
        // Judged by the mean and covariance only (`--pilot-statistics mean,covariance`): the
        // same z values, kept; judged by the KL alone, abandoned.
        let mean_cov = JudgedBy::of(&[Statistic::Mean, Statistic::Covariance]).unwrap();
        let kept = check(mean_cov).unwrap();
        assert_eq!(
            (kept.mean_z, kept.cov_z, kept.kl_z),
            (v.mean_z, v.cov_z, v.kl_z)
        );
        assert!(!kept.worse && kept.judged_by == mean_cov, "{kept:?}");
        assert!(
            check(JudgedBy::of(&[Statistic::Kl]).unwrap())
                .unwrap()
                .worse
        );
        assert!(
            !check(JudgedBy::of(&[Statistic::Covariance]).unwrap())
                .unwrap()
                .worse
        );
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let (net, x, t) = setup();
        let pilot = Pilot {
            samples: 64,
            seed: 1,
            judged: JudgedBy::ALL,
        };
        let one = std::slice::from_ref;
        let err = pilot_check(&net, 1, one(&x), one(&t), one(&t), pilot).unwrap_err();
        assert!(err.to_string().contains("start must have 8 units"), "{err}");
    }

    #[test]
    fn rejects_a_single_sample() {
        let (net, x, t) = setup();
        let pilot = Pilot {
            samples: 1,
            seed: 1,
            judged: JudgedBy::ALL,
        };
        let one = std::slice::from_ref;
        let err = pilot_check(&net, 0, one(&x), one(&t), one(&t), pilot).unwrap_err();
        assert!(err.to_string().contains("at least 2 samples"), "{err}");
    }
}
