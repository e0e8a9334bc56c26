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
//! Deterministic for a seed: class c's draws are those of `StdRng::seed_from_u64(seed + c)`.
//! Cost: S·Σ_l 2 n_l n_{l−1} flops and S·Σ_l n_l activations for the draws, plus one Gaussian
//! run for m₂, C₂ (EXPERIMENTS.md, "Never worse than the Gaussian, eighth session").

use faer::{Col, Mat, MatRef};
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::linalg::gemm;
use crate::net::{ForwardPass, Mlp};
use crate::stats::gaussian::GaussianSampler;
use crate::stats::Moments;

/// Standard errors by which the carried output must be further from the pilot's draws than the
/// Gaussian one (mean or covariance) for the run to be abandoned (module docs).
pub const PILOT_Z: f64 = 3.0;
/// Two predictions whose mean difference is below `TIE`·√tr C₂ and whose covariance difference
/// is below `TIE`·‖C₂‖_F are equal (rounding; module docs).
pub const TIE: f64 = 1e-10;
/// Draws pushed through the network at a time.
const CHUNK: usize = 1024;

/// The pilot's settings: how many draws per class and the seed of their stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pilot {
    pub samples: usize,
    pub seed: u64,
}

/// The pilot's evidence (module docs), summed over classes: the estimated difference of the
/// scaled squared errors, carried − Gaussian, of the mean (÷ tr C₂) and the covariance
/// (÷ ‖C₂‖²_F), each with its z = estimate / standard error (0 where both predictions tie);
/// `worse` where a z exceeds [`PILOT_Z`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct PilotVerdict {
    pub samples: usize,
    pub mean_diff: f64,
    pub mean_z: f64,
    pub cov_diff: f64,
    pub cov_z: f64,
    pub worse: bool,
    /// With a jackknife of the start ([`held_out_check`]): the z values from the draws' noise
    /// alone (mean, covariance), beside `mean_z`/`cov_z`, which count the start's noise too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draws_only_z: Option<[f64; 2]>,
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
    verdict(carried, gaussian, pilot.samples, draws, &|_, _| None)
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
/// (`draws_only_z`).
pub fn held_out_check(
    carried: &[Moments],
    gaussian: &[Moments],
    held_out: &[MatRef<'_, f64>],
    jackknife: &[Vec<(Moments, Moments)>],
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
    let start_var = |c: usize, y: MatRef<'_, f64>| -> Option<[f64; 2]> {
        let reps = jackknife.get(c).filter(|r| r.len() >= 2)?;
        let g = reps.len() as f64;
        let t: Vec<[f64; 4]> = reps
            .iter()
            .map(|(k, q)| class_statistics(y, k, q))
            .collect();
        let var = |i: usize| {
            let v: Vec<f64> = t.iter().map(|s| s[i]).collect();
            variance(&v) * (g - 1.0) * (g - 1.0) / g
        };
        Some([var(0), var(2)])
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
    verdict(carried, gaussian, samples, draws, &start_var)
}

/// Groups of the start half's delete-a-group jackknife ([`held_out_check`]): 10 carried and 10
/// Gaussian runs more per class checked, each from 90 % of the start half.
pub const JACKKNIFE_GROUPS: usize = 10;

/// Of one class's jackknife replicates `reps` (its carried and Gaussian outputs from the start
/// half with one group left out), how many are worse on their own against the same draws `y`
/// (each a [`held_out_check`] without replicates, z above [`PILOT_Z`]), per statistic
/// \[mean, covariance\].
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
pub fn replicates_worse(y: MatRef<'_, f64>, reps: &[(Moments, Moments)]) -> Result<[usize; 2]> {
    let mut worse = [0; 2];
    for (k, g) in reps {
        let v = held_out_check(std::slice::from_ref(k), std::slice::from_ref(g), &[y], &[])?;
        worse[0] += usize::from(v.mean_z > PILOT_Z);
        worse[1] += usize::from(v.cov_z > PILOT_Z);
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

/// The start's variance of class c's unscaled \[T_m, T_C\] given its draws y (None: not
/// measured; [`held_out_check`]).
type StartVariance<'a> = &'a dyn Fn(usize, MatRef<'_, f64>) -> Option<[f64; 2]>;

/// The verdict (module docs) from class c's output draws `draws(c)` (outputs × S_c), drawn
/// only for a class whose two predictions differ beyond [`TIE`]; `samples` is reported.
/// `start_var(c, y)`: the start's variance of class c's unscaled \[T_m, T_C\] (None: not
/// measured), added to the draws'.
fn verdict(
    carried: &[Moments],
    gaussian: &[Moments],
    samples: usize,
    draws: &mut dyn FnMut(usize) -> Result<Mat<f64>>,
    start_var: StartVariance<'_>,
) -> Result<PilotVerdict> {
    let mut sums = [0.0; 4];
    // The draws' variances alone, and whether any class measured the start's.
    let mut draws_var = [0.0; 2];
    let mut with_start = false;
    // The Gaussian closure's scaled squared errors (`Resolution`), whether any class was
    // drawn, and which statistics were tested.
    let mut gaussian_err = [0.0; 2];
    let mut drawn = false;
    let mut tested = [false; 2];
    for (c, (k, g)) in carried.iter().zip(gaussian).enumerate() {
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
        let y = draws(c)?;
        let [tm, vm, tc, vc] = class_statistics(y.as_ref(), k, g);
        let [em, ec] = gaussian_error(y.as_ref(), g);
        gaussian_err[0] += em / scale_m;
        gaussian_err[1] += ec / scale_c;
        drawn = true;
        tested = [tested[0] || differ[0], tested[1] || differ[1]];
        let [sm, sc] = match start_var(c, y.as_ref()) {
            Some(v) => {
                with_start = true;
                v
            }
            None => [0.0; 2],
        };
        if differ[0] {
            sums[0] += tm / scale_m;
            sums[1] += (vm + sm) / (scale_m * scale_m);
            draws_var[0] += vm / (scale_m * scale_m);
        }
        if differ[1] {
            sums[2] += tc / scale_c;
            sums[3] += (vc + sc) / (scale_c * scale_c);
            draws_var[1] += vc / (scale_c * scale_c);
        }
    }
    let z = |t: f64, v: f64| if v > 0.0 { t / v.sqrt() } else { 0.0 };
    let (mean_z, cov_z) = (z(sums[0], sums[1]), z(sums[2], sums[3]));
    Ok(PilotVerdict {
        samples,
        mean_diff: sums[0],
        mean_z,
        cov_diff: sums[2],
        cov_z,
        worse: mean_z > PILOT_Z || cov_z > PILOT_Z,
        draws_only_z: with_start.then(|| [z(sums[0], draws_var[0]), z(sums[2], draws_var[1])]),
        resolution: drawn.then(|| {
            let [e2m, e2c] = gaussian_err.map(|e| e.max(0.0));
            let above = |t: bool, e2: f64, v: f64| t.then(|| (e2 + PILOT_Z * v.sqrt()).sqrt());
            Resolution {
                gaussian_mean_err: e2m.sqrt(),
                gaussian_cov_err: e2c.sqrt(),
                worse_mean_above: above(tested[0], e2m, sums[1]),
                worse_cov_above: above(tested[1], e2c, sums[3]),
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
    /// No evidence either way from `samples` draws (z 0 for both statistics, not worse).
    pub fn tie(samples: usize) -> Self {
        PilotVerdict {
            samples,
            mean_diff: 0.0,
            mean_z: 0.0,
            cov_diff: 0.0,
            cov_z: 0.0,
            worse: false,
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
             the Gaussian closure's (mean z = {:.1}, covariance z = {:.1}; limit {PILOT_Z}): \
             {replaced}",
            self.mean_z, self.cov_z
        )
    }
}

/// `[T_m, se(T_m)², T_C, se(T_C)²]` of one class from its output draws `y` (outputs × S)
/// against the carried (`k`) and Gaussian (`g`) predictions (module docs).
fn class_statistics(y: MatRef<'_, f64>, k: &Moments, g: &Moments) -> [f64; 4] {
    let s = y.ncols() as f64;
    let ybar = Col::from_fn(y.nrows(), |i| y.row(i).iter().sum::<f64>() / s);
    let yc = Mat::from_fn(y.nrows(), y.ncols(), |i, j| y[(i, j)] - ybar[i]);
    let d = &k.mean - &g.mean;
    let dc = &k.cov - &g.cov;
    let tm = d.transpose() * (&k.mean + &g.mean - 2.0 * &ybar);
    let a: Vec<f64> = (0..yc.ncols()).map(|j| d.transpose() * yc.col(j)).collect();
    let mut dy = Mat::zeros(y.nrows(), y.ncols());
    gemm(dy.as_mut(), false, dc.as_ref(), yc.as_ref(), 1.0);
    let q: Vec<f64> = (0..yc.ncols())
        .map(|j| yc.col(j).transpose() * dy.col(j))
        .collect();
    let sum_kg: f64 = (0..dc.ncols())
        .map(|j| dc.col(j).transpose() * (k.cov.col(j) + g.cov.col(j)))
        .sum();
    let tc = sum_kg - 2.0 * q.iter().sum::<f64>() / (s - 1.0);
    [tm, 4.0 * variance(&a) / s, tc, 4.0 * variance(&q) / s]
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
/// ([`Mlp::forward_from`]): the outputs, one column per draw.
fn draw_outputs(
    net: &Mlp,
    from: usize,
    x: &Moments,
    samples: usize,
    rng: &mut StdRng,
) -> Result<Mat<f64>> {
    let sampler = GaussianSampler::new(x.mean.as_ref(), x.cov.as_ref())?;
    let mut y = Mat::zeros(net.output_dim(), samples);
    let mut fp = ForwardPass::new(net, CHUNK.min(samples));
    for first in (0..samples).step_by(CHUNK) {
        let b = CHUNK.min(samples - first);
        net.forward_from(from, sampler.sample(b, rng).as_ref(), &mut fp);
        y.as_mut().subcols_mut(first, b).copy_from(fp.output());
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;

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
        assert_eq!((tie.mean_z, tie.cov_z, tie.worse), (0.0, 0.0, false));
    }

    #[test]
    fn is_deterministic_for_a_seed_and_varies_with_it() {
        let (net, x, t) = setup();
        let run = |seed| {
            let pilot = Pilot { samples: 512, seed };
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
        let given = held_out_check(&k, &g, &views, &[]).unwrap();
        assert_eq!(
            (given.mean_z, given.cov_z, given.worse),
            (drawn.mean_z, drawn.cov_z, drawn.worse)
        );
        assert_eq!(given.samples, 2 * pilot.samples);
        // A class with a single held-out output cannot be checked: an error naming it.
        let one = [held[0].as_ref(), held[1].as_ref().subcols(0, 1)];
        let err = held_out_check(&k, &g, &one, &[]).unwrap_err();
        assert!(err.to_string().contains("class 1"), "{err}");
    }

    /// The start half's jackknife: its variance, (G − 1)/G · Σ_g (T_g − T̄)² over the
    /// replicates' statistics against the same draws, is added to the draws' se(T)², per
    /// statistic (here formed by hand from `class_statistics`); the draws-only z values are
    /// those of the check without replicates; G identical replicates add nothing.
    #[test]
    fn the_start_jackknife_adds_its_variance_to_the_draws() {
        let (net, x, t) = setup();
        let mut rng = StdRng::seed_from_u64(4);
        let y = draw_outputs(&net, 0, &x, 1024, &mut rng).unwrap();
        let (k, g) = (off(&t, 0.2), off(&t, 0.1));
        let one = std::slice::from_ref;
        let plain = held_out_check(one(&k), one(&g), &[y.as_ref()], &[]).unwrap();
        assert_eq!(plain.draws_only_z, None);
        let reps: Vec<(Moments, Moments)> = (0..10)
            .map(|i| (off(&t, 0.2 + 0.02 * (i as f64 - 4.5)), g.clone()))
            .collect();
        let v =
            held_out_check(one(&k), one(&g), &[y.as_ref()], std::slice::from_ref(&reps)).unwrap();
        assert_eq!(v.draws_only_z, Some([plain.mean_z, plain.cov_z]));
        let [tm, vm, tc, vc] = class_statistics(y.as_ref(), &k, &g);
        let stats: Vec<[f64; 4]> = reps
            .iter()
            .map(|(a, b)| class_statistics(y.as_ref(), a, b))
            .collect();
        let jackknife = |i: usize| {
            let mean = stats.iter().map(|s| s[i]).sum::<f64>() / 10.0;
            stats.iter().map(|s| (s[i] - mean).powi(2)).sum::<f64>() * 9.0 / 10.0
        };
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
        assert!(close(v.mean_z, tm / (vm + jackknife(0)).sqrt()), "{v:?}");
        assert!(close(v.cov_z, tc / (vc + jackknife(2)).sqrt()), "{v:?}");
        assert!(0.0 < v.cov_z && v.cov_z < plain.cov_z, "{v:?} {plain:?}");
        let same = vec![(k.clone(), g.clone()); 10];
        let w = held_out_check(one(&k), one(&g), &[y.as_ref()], &[same]).unwrap();
        assert_eq!((w.mean_z, w.cov_z), (plain.mean_z, plain.cov_z));
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
        let alone = held_out_check(one(&k), one(&g), &[y.as_ref()], &[]).unwrap();
        assert!(alone.mean_z > PILOT_Z && alone.cov_z > PILOT_Z, "{alone:?}");
        let mut reps = vec![(k.clone(), g.clone()); 10];
        assert_eq!(replicates_worse(y.as_ref(), &reps).unwrap(), [10, 10]);
        reps[3] = (g.clone(), g.clone());
        assert_eq!(replicates_worse(y.as_ref(), &reps).unwrap(), [9, 9]);
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
        let v = held_out_check(&[off(&t, 0.1)], &[flat], &[y.as_ref()], &[]).unwrap();
        assert_eq!((v.mean_z, v.cov_z, v.worse), (0.0, 0.0, false), "{v:?}");
    }

    #[test]
    fn rejects_mismatched_shapes() {
        let (net, x, t) = setup();
        let pilot = Pilot {
            samples: 64,
            seed: 1,
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
        };
        let one = std::slice::from_ref;
        let err = pilot_check(&net, 0, one(&x), one(&t), one(&t), pilot).unwrap_err();
        assert!(err.to_string().contains("at least 2 samples"), "{err}");
    }
}
