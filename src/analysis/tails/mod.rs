//! The output's tails (issue #16 item 5): accuracy predicted from the output's own cumulants to
//! 4th order, where the Gaussian with the output's mean and covariance overestimates the network.
//!
//! Two models beside the Gaussian N(ȳ_c, C_c), both from the measured cumulants of each class's
//! outputs. (1) The Edgeworth density of y to 4th order (the κ₃, κ₃² and κ₄ terms,
//! [`weight`]) with the cumulants measured from the network's outputs on the class's samples
//! ([`cumulants`]; at l = L the map to y is affine, so these are the exact cumulants of the
//! affine image of z^L — no closure is involved). The argmax probabilities are
//!
//! ```text
//! P_c(argmax y = k) = E_{u~N(0,I)}[w_c(u) 1{argmax(ȳ_c + F_c u) = k}],
//! ```
//!
//! estimated by Monte Carlo with antithetic pairs
//! ([`weighted_argmax`](crate::stats::gaussian::weighted_argmax)). Where w < 0 the expansion is
//! not a density (strong skew, heavy tails) and its "probabilities" can leave [0, 1] (XOR's
//! output printed an accuracy of 1.0005 with the plain weighted mean). So the model evaluated is
//! the expansion clipped at 0 and renormalised, φ·max(w, 0)/Z, by self-normalised importance
//! weights: every probability in [0, 1], each row summing to 1, standard errors by the delta
//! method for the ratio. Its bias relative to the expansion is at most the negative mass
//! N = E_φ\[max(−w, 0)\] on any probability (the bound is derived in
//! [`crate::stats::gaussian::weighted_argmax`]'s module). Per class N is reported, and where
//! N > [`NEGATIVE_MASS_TOL`] the class is flagged: the expansion fails there, and its number is
//! the clipped density's, not a 4th-order expansion's (`expansion_fails`, and the list
//! `edgeworth_failed_classes`). The Gaussian column uses the same draws with w = 1 (its
//! difference from the Edgeworth column is the effect of κ₃/κ₄ alone, not of sampling). The
//! sampling error of the measured κ₃/κ₄ (a few hundred to a thousand samples per class) is not
//! in the standard errors. (2) A multivariate Student t with ν from the Mardia kurtosis
//! ([`student_t`]): a proper density at any kurtosis, on the same normal draws scaled by √W.

pub mod cumulants;
pub mod student_t;
pub mod weight;

use std::sync::Mutex;

use faer::{ColRef, Mat, MatRef};
use rayon::prelude::*;
use serde::Serialize;

use super::accuracy::{class_priors, mix_seed};
use super::confusion::ConfusionMatrix;
use super::outputs::ClassOutputs;
use crate::error::{Error, Result};
use crate::stats::gaussian::{
    weighted_argmax_models, ArgmaxDistribution, ArgmaxModel, DrawWeight, GaussianSampler,
};
use crate::timing::flops;
use cumulants::WhitenedCumulants;
use weight::EdgeworthWeight;

/// The negative mass N = E_φ\[max(−w, 0)\] above which the Edgeworth expansion of a class is
/// flagged as failed: its clipped probabilities may then differ from the expansion's by more than
/// a point of accuracy, the size of the gaps the model is meant to explain.
pub const NEGATIVE_MASS_TOL: f64 = 0.01;

/// One class's correct-class probability under the two models, beside the network's.
#[derive(Clone, Debug, Serialize)]
pub struct ClassTail {
    pub class: usize,
    /// The network's accuracy on the class's samples.
    pub measured: f64,
    /// P_c(argmax = c) under N(ȳ_c, C_c): start layer L's row where `start_draws`.
    pub gaussian: f64,
    pub gaussian_stderr: f64,
    /// P(argmax = c) under the clipped, renormalised Edgeworth density (module docs).
    pub edgeworth: f64,
    pub edgeworth_stderr: f64,
    /// E_φ\[w\] over the draws, before clipping (1 up to Monte Carlo error).
    pub weight_mean: f64,
    pub weight_min: f64,
    /// Share of draws where the Edgeworth "density" is negative.
    pub negative_share: f64,
    /// N = E_φ\[max(−w, 0)\]: the clipped probabilities are within N of the expansion's.
    pub negative_mass: f64,
    /// N > [`NEGATIVE_MASS_TOL`]: the expansion is not a density on a noticeable mass here.
    pub expansion_fails: bool,
    /// Rank r of the class's output covariance (directions kept).
    pub rank: usize,
    /// ν of the Student t model; null when the outputs are not heavier-tailed than a Gaussian
    /// (the model is then the Gaussian).
    pub student_t_dof: Option<f64>,
    pub student_t: f64,
    pub student_t_stderr: f64,
    /// The models ran on start layer L's draws ([`output_tails`]): `gaussian` is start layer
    /// L's row.
    pub start_draws: bool,
    /// Earlier start layers l < L whose rows were drawn on those draws too.
    #[serde(skip)]
    pub drawn_alongside: usize,
}

/// Accuracy from the output's own cumulants: Gaussian (orders 1–2) and Edgeworth (orders 1–4).
#[derive(Clone, Debug, Serialize)]
pub struct OutputTails {
    /// Σ_c p(c) P_c(argmax = c) under N(ȳ_c, C_c) (1/n covariance), same draws as Edgeworth; on
    /// start layer L's draws (`start_draws`) its propagated Gaussian, equal to rounding, so
    /// that this is `theory_accuracy[L]` there ([`output_tails`]).
    pub gaussian_accuracy: f64,
    pub gaussian_stderr: f64,
    /// Σ_c p(c) P_c(argmax = c) under the clipped, renormalised Edgeworth density.
    pub edgeworth_accuracy: f64,
    pub edgeworth_stderr: f64,
    /// The classes whose expansion fails (`expansion_fails`); the Edgeworth accuracy and
    /// confusion rows of these classes are the clipped density's, not a valid expansion's.
    pub edgeworth_failed_classes: Vec<usize>,
    /// The largest negative mass N over the classes.
    pub edgeworth_negative_mass: f64,
    pub per_class: Vec<ClassTail>,
    /// Σ_c p(c) P_c(argmax = c) under the Student t model.
    pub student_t_accuracy: f64,
    pub student_t_stderr: f64,
    /// The Edgeworth model's confusion matrix.
    pub edgeworth_confusion: ConfusionMatrix,
    /// The Student t model's confusion matrix.
    pub student_t_confusion: ConfusionMatrix,
    pub mc_samples: usize,
}

/// The predicted output Gaussians of one class from every start layer l = 0 … L and the seed of
/// their Monte Carlo rows (mix_seed(theory_seed(seed, L), c), one seed for every start layer:
/// [`crate::analysis::accuracy::theory_seed`]): where the class's outputs have full rank, the
/// three models run on start layer L's draws and every start layer's row is drawn beside them
/// ([`output_tails`]).
#[derive(Clone, Debug)]
pub struct StartGaussians<'a> {
    /// (mean, covariance) from start layer l = 0 … L, L's last.
    pub layers: Vec<(ColRef<'a, f64>, MatRef<'a, f64>)>,
    pub seed: u64,
}

/// The output-tails prediction for the network outputs `outputs`, `mc_samples` draws per class.
///
/// Without `start` (or for a class with fewer than 3 outputs or outputs of rank r < K), class c's
/// draws are y = ȳ_c + F_c u, u ~ N(0, I_r), seeded mix_seed(mix_seed(`seed`, 3000), c). With
/// `start[i]` (class i of `outputs`) and full rank, they are start layer L's: y = μ + F_L z with
/// (μ, F_L) its Gaussian's mean and [`GaussianSampler`] factor and its seed, so the Gaussian
/// model is start layer L's Monte Carlo row itself, and the Edgeworth weight is taken at
/// u = T z, T = F_c⁺ F_L = diag(1/‖f_a‖²) F_cᵀ F_L (F_c's columns f_a are orthogonal): the same
/// density as on the tails' own draws wherever μ = ȳ_c and F_L F_Lᵀ = C_c, which start layer L's
/// propagation W Σ_L Wᵀ + b meets to rounding (the affine map of the measured z^L statistics).
/// Every earlier start layer l whose Gaussian has a [`GaussianSampler`] (factor F_l, K × K as
/// F_L) is drawn on the same z ([`ArgmaxModel::Alongside`]). Returned beside the tails: per start layer l = 0 … L, per class,
/// the rows drawn here, each bit for bit what
/// [`crate::stats::gaussian::argmax_distribution`] draws for that Gaussian on that seed (None
/// where a start layer's row was not drawn here). The Student t scales are seeded from the
/// tails' class seed either way.
pub fn output_tails(
    outputs: &ClassOutputs,
    mc_samples: usize,
    seed: u64,
    start: Option<&[StartGaussians<'_>]>,
) -> Result<(OutputTails, Vec<Vec<Option<ArgmaxDistribution>>>)> {
    let counts: Vec<u64> = outputs.per_class.iter().map(|y| y.ncols() as u64).collect();
    let priors = class_priors(&counts)?;
    let seed = mix_seed(seed, 3000);
    let per_class = outputs
        .classes
        .par_iter()
        .zip(&outputs.per_class)
        .enumerate()
        .map(|(i, (&c, y))| {
            let cum = WhitenedCumulants::of_samples(y.as_ref())?;
            let w = EdgeworthWeight::new(&cum);
            let s = mix_seed(seed, c as u64);
            let dof = student_t::dof_from_kurtosis(&cum);
            let scale = match dof {
                Some(nu) => student_t::scales(nu, mc_samples / 2, mix_seed(s, 1))?,
                None => Vec::new(),
            };
            let k = y.nrows();
            let shared = start
                .and_then(|g| g.get(i))
                .filter(|_| k >= 3 && cum.rank() == k);
            // The three models (and the earlier start layers' Gaussians) on one stream of draws
            // (the same seed each would have alone).
            let run = |pair: DrawWeight<'_>, mean, factor, seed, alongside: &[ArgmaxModel<'_>]| {
                let edgeworth = ArgmaxModel::Weight(pair);
                let mut models = match dof {
                    Some(_) => vec![
                        ArgmaxModel::Gaussian,
                        edgeworth,
                        ArgmaxModel::Scaled(&scale),
                    ],
                    None => vec![ArgmaxModel::Gaussian, edgeworth],
                };
                models.extend_from_slice(alongside);
                weighted_argmax_models(mean, factor, mc_samples, seed, &models)
            };
            let earlier = match shared {
                Some(g) => earlier_samplers(g),
                None => Vec::new(),
            };
            let d = match shared {
                Some(g) => {
                    let &(mean, cov) = g.layers.last().ok_or_else(|| {
                        Error::Shape("output tails: start Gaussians without start layer L".into())
                    })?;
                    let sampler = GaussianSampler::new(mean, cov)?;
                    // Every sampler's factor is K × K, the draws' column count.
                    let alongside: Vec<ArgmaxModel<'_>> = earlier
                        .iter()
                        .flatten()
                        .map(|(m, f)| ArgmaxModel::Alongside(*m, f.factor()))
                        .collect();
                    let t = to_whitened(cum.factor.as_ref(), sampler.factor());
                    let u = Mutex::new(Mat::zeros(0, 0));
                    let pair: DrawWeight<'_> = &|_, z, p, m| {
                        let mut u = u.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        if u.nrows() != z.nrows() {
                            *u = Mat::zeros(z.nrows(), t.nrows());
                        }
                        cumulants::gemm(u.as_mut(), z, t.transpose(), 1.0);
                        w.pair(u.as_ref(), p, m);
                    };
                    run(pair, mean, sampler.factor(), g.seed, &alongside)?
                }
                None => {
                    let pair: DrawWeight<'_> = &|_, z, p, m| w.pair(z, p, m);
                    run(pair, cum.mean.as_ref(), cum.factor.as_ref(), s, &[])?
                }
            };
            let mut d = d.into_iter();
            let mut next = || {
                d.next()
                    .ok_or_else(|| Error::Shape("output tails: a model was not evaluated".into()))
            };
            let (gauss, edge) = (next()?, next()?);
            // Without heavier tails the Student t model is the Gaussian.
            let t = match dof {
                Some(_) => next()?,
                None => gauss.clone(),
            };
            let measured = super::confusion::measured_confusion(&ClassOutputs {
                classes: vec![c],
                per_class: vec![y.clone()],
            });
            // Per start layer: the rows drawn here (the earlier ones alongside, L's the Gaussian).
            let mut start_rows: Vec<Option<ArgmaxDistribution>> = Vec::new();
            if shared.is_some() {
                for e in &earlier {
                    start_rows.push(match e {
                        Some(_) => Some(next()?),
                        None => None,
                    });
                }
                start_rows.push(Some(gauss.clone()));
            }
            Ok((
                c,
                measured.rows[0].p[c],
                cum.rank(),
                (gauss, start_rows),
                edge,
                (dof, t),
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut start_rows = Vec::new();
    let mut tails = Vec::new();
    let mut edges = Vec::new();
    let mut ts = Vec::new();
    for (c, measured, rank, (gauss, start_row), edge, (dof, t)) in per_class {
        let drawn_alongside = start_row.iter().rev().skip(1).flatten().count();
        let weights = edge.weights;
        tails.push(ClassTail {
            class: c,
            measured,
            gaussian: gauss.p[c],
            gaussian_stderr: gauss.stderr[c],
            edgeworth: edge.p[c],
            edgeworth_stderr: edge.stderr[c],
            weight_mean: weights.mean,
            weight_min: weights.min,
            negative_share: weights.negative_share,
            negative_mass: weights.negative_mass,
            expansion_fails: weights.negative_mass > NEGATIVE_MASS_TOL,
            rank,
            student_t_dof: dof,
            student_t: t.p[c],
            student_t_stderr: t.stderr[c],
            start_draws: !start_row.is_empty(),
            drawn_alongside,
        });
        edges.push(edge);
        ts.push(t);
        start_rows.push(start_row);
    }
    let combine = |p: &dyn Fn(&ClassTail) -> (f64, f64)| {
        let (a, v) = tails
            .iter()
            .zip(&priors)
            .fold((0.0, 0.0), |(a, v), (t, &q)| {
                let (p, se) = p(t);
                (a + q * p, v + q * q * se * se)
            });
        (a, v.sqrt())
    };
    let (ga, gs) = combine(&|t| (t.gaussian, t.gaussian_stderr));
    let (ea, es) = combine(&|t| (t.edgeworth, t.edgeworth_stderr));
    let (ta, ts_err) = combine(&|t| (t.student_t, t.student_t_stderr));
    let edgeworth_confusion: ConfusionMatrix =
        ConfusionMatrix::from_distributions("y, Edgeworth".into(), &outputs.classes, edges);
    let edgeworth_failed_classes = tails
        .iter()
        .filter(|t| t.expansion_fails)
        .map(|t| t.class)
        .collect();
    let edgeworth_negative_mass = tails.iter().map(|t| t.negative_mass).fold(0.0, f64::max);
    let tails = OutputTails {
        gaussian_accuracy: ga,
        gaussian_stderr: gs,
        edgeworth_accuracy: ea,
        edgeworth_stderr: es,
        edgeworth_failed_classes,
        edgeworth_negative_mass,
        student_t_accuracy: ta,
        student_t_stderr: ts_err,
        per_class: tails,
        edgeworth_confusion,
        student_t_confusion: ConfusionMatrix::from_distributions(
            "y, Student t".into(),
            &outputs.classes,
            ts,
        ),
        mc_samples,
    };
    // Per start layer, per class.
    let layers = start.and_then(|g| g.first()).map_or(0, |g| g.layers.len());
    let mut by_layer: Vec<Vec<Option<ArgmaxDistribution>>> =
        vec![vec![None; start_rows.len()]; layers];
    for (i, rows) in start_rows.into_iter().enumerate() {
        for (l, row) in rows.into_iter().enumerate() {
            if let Some(at) = by_layer.get_mut(l) {
                at[i] = row;
            }
        }
    }
    Ok((tails, by_layer))
}

/// An earlier start layer's mean and sampler, None where its Gaussian has no sampler.
type EarlierSampler<'a> = Option<(ColRef<'a, f64>, GaussianSampler)>;

/// The [`GaussianSampler`] of each start layer l < L's Gaussian in `g` (None where it has none:
/// that start layer then draws its row itself, and reports the error there).
fn earlier_samplers<'a>(g: &StartGaussians<'a>) -> Vec<EarlierSampler<'a>> {
    let earlier = g.layers.len().saturating_sub(1);
    g.layers[..earlier]
        .iter()
        .map(|&(mean, cov)| GaussianSampler::new(mean, cov).ok().map(|s| (mean, s)))
        .collect()
}

/// T = F⁺ G = diag(1/‖f_a‖²) Fᵀ G for F (K × r) with orthogonal columns f_a: the whitened
/// coordinates u = T z of y − μ = G z.
fn to_whitened(f: MatRef<'_, f64>, g: MatRef<'_, f64>) -> Mat<f64> {
    let mut t = Mat::zeros(f.ncols(), g.ncols());
    cumulants::gemm(t.as_mut(), f.transpose(), g, 1.0);
    for a in 0..f.ncols() {
        let norm = f.col(a).squared_norm_l2();
        for j in 0..g.ncols() {
            t[(a, j)] /= norm;
        }
    }
    t
}

/// Flops of [`output_tails`] that returned `tails` for `outputs` (K outputs; class c with n_c
/// samples, rank r, P = r(r+1)/2 pairs of draws): the cumulants ([`cumulants_flops`]), and per
/// pair of draws the Edgeworth weight ([`weight::pair_flops`]) and one spread F z (2Kr) for the
/// Gaussian and Edgeworth models together (they share the draws and argmaxes,
/// [`ArgmaxModel::Weight`]), and where ν is finite the Student t model's scaling of that spread
/// (K multiplications: it reads the shared spreads, [`ArgmaxModel::Scaled`]); on start
/// layer L's draws also its Gaussian's eigendecomposition and the map u = T z (2rK per pair),
/// and per earlier start layer drawn alongside its eigendecomposition and spread (2K² per pair).
/// The weight's set-up (O(r⁴) once per class), random numbers and the argmax are not counted.
pub fn output_tails_flops(outputs: &ClassOutputs, tails: &OutputTails) -> f64 {
    let pairs = (tails.mc_samples / 2) as f64;
    outputs
        .per_class
        .iter()
        .zip(&tails.per_class)
        .map(|(y, t)| {
            let (k, r) = (y.nrows(), t.rank);
            let scaled = if t.student_t_dof.is_some() {
                k as f64
            } else {
                0.0
            };
            let start = if t.start_draws {
                let alongside = t.drawn_alongside as f64;
                flops::symmetric_eigen(k)
                    + pairs * flops::gemm(r, 1, k)
                    + alongside * (flops::symmetric_eigen(k) + pairs * flops::gemm(k, 1, k))
            } else {
                0.0
            };
            cumulants_flops(k, r, y.ncols())
                + pairs * (weight::pair_flops(r) + flops::gemm(k, 1, r) + scaled)
                + start
        })
        .sum()
}

/// Flops [`output_tails_flops`] counts for one class of K = `k` outputs of full rank with the
/// Student t model at `mc_samples` draws, without its cumulants and start layers: per pair of
/// draws the Edgeworth weight ([`weight::pair_flops`]), the spread F z (2K²) and the scaling
/// (K). For the time estimate before the work (`config::estimate`), where the rank is unknown.
pub fn draw_flops(k: usize, mc_samples: usize) -> f64 {
    (mc_samples / 2) as f64 * (weight::pair_flops(k) + flops::gemm(k, 1, k) + k as f64)
}

/// Flops of [`WhitenedCumulants::of_samples`] for n samples of K outputs kept at rank r: the
/// covariance (2K²n), its eigendecomposition ([`flops::symmetric_eigen`]), the whitening
/// (2rKn), κ₃ (2r³n), the second moment (2r²n) and κ₄ (2r⁴n) as GEMMs.
pub fn cumulants_flops(k: usize, r: usize, n: usize) -> f64 {
    flops::gemm(k, k, n)
        + flops::symmetric_eigen(k)
        + flops::gemm(r, n, k)
        + flops::gemm(r, r * r, n)
        + flops::gemm(r, r, n)
        + flops::gemm(r * r, r * r, n)
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    use super::*;
    use crate::special::{normal_cdf, normal_pdf};
    use crate::stats::gaussian::{weighted_argmax, DrawWeight};
    use rand_distr::StandardNormal;

    /// Two outputs, three whitened directions: y₀ − y₁ = (μ₀ − μ₁) + σ d·u with d a unit vector,
    /// and the marginal of the Edgeworth density along d is the 1-D Edgeworth density with
    /// κ₃(d) = κ₃[abc]d_a d_b d_c, κ₄(d) likewise (Gaussian integration by parts:
    /// E_φ[H_abc(u) g(d·u)] = d_a d_b d_c E[He₃(s) g(s)]). So
    /// P(argmax = 0) = 1 − Φ(t) + φ(t)[κ₃/6 He₂(t) + κ₄/24 He₃(t) + κ₃²/72 He₅(t)], t = −(μ₀−μ₁)/σ,
    /// exactly for the expansion. The signed Monte Carlo mean of w·1{argmax = 0} over antithetic
    /// pairs of normal draws (the expansion itself, with the weight's contractions) agrees with
    /// it within 4 of its standard errors and differs from the Gaussian 1 − Φ(t) by more than
    /// 10; the clipped, renormalised estimate of `weighted_argmax` lies within 4 of its standard
    /// errors plus the negative mass N (the clipping's bound) of it, and its row sums to 1.
    #[test]
    fn two_outputs_reproduce_the_closed_form_edgeworth_probability() {
        let (r, n) = (3, 5000);
        let mut rng = StdRng::seed_from_u64(11);
        let y = Mat::from_fn(r, n, |i, _| {
            let e: f64 = -(1.0 - rng.random::<f64>()).ln();
            e * [1.0, 0.5, 0.2][i] + 0.3 * rng.random::<f64>()
        });
        let c = WhitenedCumulants::of_samples(y.as_ref()).unwrap();
        let w = EdgeworthWeight::new(&c);
        let f = Mat::from_fn(2, r, |i, a| [[0.9, -0.3, 0.5], [0.1, 0.4, -0.6]][i][a]);
        let mean = Col::from_fn(2, |i| [0.2, 1.0][i]);
        let g: Vec<f64> = (0..r).map(|a| f[(0, a)] - f[(1, a)]).collect();
        let sigma = g.iter().map(|x| x * x).sum::<f64>().sqrt();
        let d: Vec<f64> = g.iter().map(|x| x / sigma).collect();
        let t = -(mean[0] - mean[1]) / sigma;
        let mut k3 = 0.0;
        let mut k4 = 0.0;
        for a in 0..r {
            for b in 0..r {
                for e in 0..r {
                    k3 += c.k3[(a, b + r * e)] * d[a] * d[b] * d[e];
                    for h in 0..r {
                        k4 += c.k4[(a + r * b, e + r * h)] * d[a] * d[b] * d[e] * d[h];
                    }
                }
            }
        }
        let (he2, he3, he5) = (
            t * t - 1.0,
            t.powi(3) - 3.0 * t,
            t.powi(5) - 10.0 * t.powi(3) + 15.0 * t,
        );
        let gaussian = 1.0 - normal_cdf(t);
        let exact =
            gaussian + normal_pdf(t) * (k3 / 6.0 * he2 + k4 / 24.0 * he3 + k3 * k3 / 72.0 * he5);
        let (batch, batches) = (4096, 250);
        let (mut sum, mut sum_sq) = (0.0, 0.0);
        let (mut plus, mut minus) = (vec![0.0; batch], vec![0.0; batch]);
        for _ in 0..batches {
            let z = Mat::from_fn(batch, r, |_, _| rng.sample::<f64, _>(StandardNormal));
            w.pair(z.as_ref(), &mut plus, &mut minus);
            for j in 0..batch {
                let s: f64 = (0..r).map(|a| g[a] * z[(j, a)]).sum();
                let dm = mean[0] - mean[1];
                let x =
                    0.5 * (plus[j] * f64::from(dm + s > 0.0) + minus[j] * f64::from(dm - s > 0.0));
                sum += x;
                sum_sq += x * x;
            }
        }
        let m = (batch * batches) as f64;
        let signed = sum / m;
        let se = ((sum_sq / m - signed * signed) / (m - 1.0)).sqrt();
        assert!(
            (signed - exact).abs() < 4.0 * se,
            "{signed} ± {se} vs exact {exact}"
        );
        assert!(
            (exact - gaussian).abs() > 10.0 * se,
            "κ₃ = {k3}: too weak a test"
        );
        let pair: DrawWeight<'_> = &|_, z, p, m| w.pair(z, p, m);
        let est = weighted_argmax(mean.as_ref(), f.as_ref(), 2_000_000, 4, Some(pair)).unwrap();
        let (p, se, n) = (est.p[0], est.stderr[0], est.weights.negative_mass);
        assert!(
            (p - exact).abs() < 4.0 * se + n,
            "{p} ± {se} vs exact {exact}, N = {n}"
        );
        assert!((est.p[0] + est.p[1] - 1.0).abs() < 1e-12);
    }

    /// A skewed output with known tails: y = μ + A e, e_a independent standardised Gamma(k)
    /// variables (κ₃ = 2/√k, κ₄ = 6/k, the rest 0), whose whitened cumulants are these exactly
    /// (F = A, u = e). The truth is direct sampling of y (4·10⁶ draws, binomial se); the
    /// clipped Edgeworth estimate from the exact cumulants (2·10⁶ draws) agrees with it for
    /// every output within 4 combined standard errors plus 0.002, the allowance for the
    /// expansion's truncation, O(k^{−3/2}) (k = 16: the next terms κ₅/120 ≈ 0.003 and
    /// κ₃κ₄/144 ≈ 0.001, κ₅ = 24/k^{3/2}, times φ·Hermite factors below 1 at these
    /// thresholds), and for the clipping (bounded by the negative mass N ≈ 0.003). A NumPy
    /// replica of this case missed the truth by ≤ 0.0013. The Gaussian on the same draws misses
    /// the worst output by more than twice that tolerance (0.008 on output 1 in the replica).
    #[test]
    fn skewed_gamma_outputs_match_direct_sampling() {
        use rand_distr::{Distribution, Gamma};
        let shape: f64 = 16.0;
        let a = Mat::from_fn(3, 3, |i, j| {
            [[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.4, 0.9]][i][j]
        });
        let mean = Col::from_fn(3, |i| [2.0, 0.4, 0.0][i]);
        let k3 = Mat::from_fn(3, 9, |p, q| {
            if q == p + 3 * p && p < 3 {
                2.0 / shape.sqrt()
            } else {
                0.0
            }
        });
        let k4 = Mat::from_fn(9, 9, |p, q| {
            if p == q && p % 4 == 0 {
                6.0 / shape
            } else {
                0.0
            }
        });
        let cum = WhitenedCumulants {
            mean: mean.clone(),
            factor: a.clone(),
            k3,
            k4,
        };
        let w = EdgeworthWeight::new(&cum);
        let pair: DrawWeight<'_> = &|_, z, p, m| w.pair(z, p, m);
        let models = [ArgmaxModel::Gaussian, ArgmaxModel::Weight(pair)];
        let est =
            weighted_argmax_models(mean.as_ref(), a.as_ref(), 2_000_000, 21, &models).unwrap();
        let (gauss, edge) = (&est[0], &est[1]);
        let gamma = Gamma::new(shape, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(13);
        let n = 4_000_000;
        let mut counts = [0usize; 3];
        for _ in 0..n {
            let e: Vec<f64> = (0..3)
                .map(|_| (gamma.sample(&mut rng) - shape) / shape.sqrt())
                .collect();
            let y: Vec<f64> = (0..3)
                .map(|i| mean[i] + (0..3).map(|j| a[(i, j)] * e[j]).sum::<f64>())
                .collect();
            let best = (1..3).fold(0, |b, i| if y[i] > y[b] { i } else { b });
            counts[best] += 1;
        }
        let nm = edge.weights.negative_mass;
        let mut gauss_miss: f64 = 0.0;
        for (k, &count) in counts.iter().enumerate() {
            let truth = count as f64 / n as f64;
            let se_d = (truth * (1.0 - truth) / n as f64).sqrt();
            let tol = 4.0 * (edge.stderr[k].powi(2) + se_d.powi(2)).sqrt() + 0.002;
            assert!(
                (edge.p[k] - truth).abs() < tol,
                "output {k}: Edgeworth {} ± {} vs direct {truth} ± {se_d}, N = {nm}",
                edge.p[k],
                edge.stderr[k]
            );
            gauss_miss = gauss_miss.max((gauss.p[k] - truth).abs() / tol);
        }
        assert!(
            gauss_miss > 2.0,
            "the Gaussian is too close: too weak a test"
        );
        assert!(edge.p.iter().all(|p| (0.0..=1.0).contains(p)));
    }

    /// Two classes of 3 skewed outputs (Gamma(4) noise mixed by a full-rank map, 4000 samples
    /// each), with start Gaussians equal to each class's measured mean and 1/n covariance: the
    /// Gaussian column run on the start draws is start layer L's row and an earlier start
    /// layer's Gaussian drawn alongside gets its own row, each bit for bit what
    /// `argmax_distribution` draws on that seed; the Edgeworth and Student t columns agree with
    /// those on the tails' own draws within 4 standard errors of their difference (the same
    /// model on independent draws); a class whose start Gaussian is missing keeps its own draws;
    /// start Gaussians without start layer L are an error, not a panic.
    #[test]
    fn models_on_start_draws_are_the_start_row_and_the_same_models() {
        use rand_distr::{Distribution, Gamma};
        let (k, n, draws) = (3, 4000, 200_000);
        let gamma = Gamma::new(4.0, 1.0).unwrap();
        let mut rng = StdRng::seed_from_u64(17);
        let mix = [[1.0, 0.2, -0.3], [0.4, 0.9, 0.1], [-0.2, 0.5, 0.8]];
        let per_class: Vec<Mat<f64>> = (0..2)
            .map(|c| {
                let e = Mat::from_fn(k, n, |_, _| gamma.sample(&mut rng) - 4.0);
                Mat::from_fn(k, n, |i, j| {
                    0.5 * (i == c) as usize as f64
                        + (0..k).map(|a| mix[i][a] * e[(a, j)]).sum::<f64>()
                })
            })
            .collect();
        let outputs = ClassOutputs {
            classes: vec![0, 1],
            per_class,
        };
        let moments: Vec<(Col<f64>, Mat<f64>)> = outputs
            .per_class
            .iter()
            .map(|y| {
                let mean = Col::from_fn(k, |i| (0..n).map(|j| y[(i, j)]).sum::<f64>() / n as f64);
                let cov = Mat::from_fn(k, k, |a, b| {
                    (0..n)
                        .map(|j| (y[(a, j)] - mean[a]) * (y[(b, j)] - mean[b]))
                        .sum::<f64>()
                        / n as f64
                });
                (mean, cov)
            })
            .collect();
        // An earlier start layer's Gaussian beside each class's own (L's, last).
        let earlier: Vec<(Col<f64>, Mat<f64>)> = moments
            .iter()
            .map(|(m, s)| {
                let mean = Col::from_fn(k, |i| m[i] + 0.1 * i as f64);
                let cov = Mat::from_fn(k, k, |a, b| s[(a, b)] * if a == b { 1.3 } else { 0.8 });
                (mean, cov)
            })
            .collect();
        let start: Vec<StartGaussians<'_>> = moments
            .iter()
            .zip(&earlier)
            .enumerate()
            .map(|(c, ((m, s), (em, es)))| StartGaussians {
                layers: vec![(em.as_ref(), es.as_ref()), (m.as_ref(), s.as_ref())],
                seed: 90 + c as u64,
            })
            .collect();
        let (own, none) = output_tails(&outputs, draws, 5, None).unwrap();
        assert!(none.is_empty());
        let (shared, rows) = output_tails(&outputs, draws, 5, Some(&start)).unwrap();
        assert_eq!(rows.len(), 2);
        for (i, g) in start.iter().enumerate() {
            for (l, &(mean, cov)) in g.layers.iter().enumerate() {
                let want = crate::stats::gaussian::argmax_distribution(mean, cov, draws, g.seed);
                assert_eq!(
                    rows[l][i].as_ref(),
                    Some(&want.unwrap()),
                    "class {i}, layer {l}"
                );
            }
            assert!(rows[0][i] != rows[1][i]);
            let (a, b) = (&own.per_class[i], &shared.per_class[i]);
            assert!(b.start_draws && !a.start_draws);
            assert_eq!((b.drawn_alongside, a.drawn_alongside), (1, 0));
            assert_eq!(b.gaussian, rows[1][i].as_ref().unwrap().p[i]);
            for (name, x, y) in [
                (
                    "edgeworth",
                    (a.edgeworth, a.edgeworth_stderr),
                    (b.edgeworth, b.edgeworth_stderr),
                ),
                (
                    "student t",
                    (a.student_t, a.student_t_stderr),
                    (b.student_t, b.student_t_stderr),
                ),
            ] {
                let se = x.1.hypot(y.1);
                assert!(
                    (x.0 - y.0).abs() < 4.0 * se,
                    "class {i} {name}: {x:?} vs {y:?}"
                );
            }
        }
        let (partial, rows) = output_tails(&outputs, draws, 5, Some(&start[..1])).unwrap();
        assert!(rows.iter().all(|r| r[0].is_some() && r[1].is_none()));
        let empty: Vec<StartGaussians<'_>> = (0..2)
            .map(|c| StartGaussians {
                layers: Vec::new(),
                seed: c,
            })
            .collect();
        assert!(output_tails(&outputs, draws, 5, Some(&empty)).is_err());
        assert_eq!(partial.per_class[1].edgeworth, own.per_class[1].edgeworth);
    }
}
