//! The whole argmax distribution P(argmax y = k), k = 0 … K−1, of y = μ + F z with z ~ N(0, I)
//! (a predicted confusion-matrix row, DESIGN.md §4.2), optionally under a weight w(z) that turns
//! the Gaussian into a non-Gaussian density φ(z)·w(z) (the Edgeworth model of the output's tails).
//!
//! A weight that is an expansion (Edgeworth, Gram–Charlier) integrates to 1 but may be negative,
//! and then φ·w is not a density: its "probabilities" can leave [0, 1]. The estimator here is
//! that of the proper density nearest to it in this sense, φ·w clipped at 0 and renormalised,
//!
//! ```text
//! f⁺(z) = φ(z) w⁺(z) / Z,   w⁺ = max(w, 0),   Z = E_φ[w⁺] = 1 + N,   N = E_φ[max(−w, 0)],
//! ```
//!
//! estimated by self-normalised importance sampling (Owen, *Monte Carlo theory, methods and
//! examples*, 2013, §9.2): p̂ₖ = Σ w⁺ 1{argmax = k} / Σ w⁺, in [0, 1] by construction and summing
//! to 1 over k. Its distance to the expansion's signed measure: for any event A,
//! P_{f⁺}(A) − P_{φw}(A) = ∫_A φw⁻ − (N/Z) ∫_A φw⁺ with both terms in [0, N], so
//! |P_{f⁺}(A) − P_{φw}(A)| ≤ N (the clipping's bias relative to the expansion, reported as
//! [`WeightSummary::negative_mass`]). For w ≥ 0 the two coincide; for w = 1 it is plain Monte
//! Carlo.

use faer::linalg::matmul::matmul;
use faer::{Accum, Col, ColRef, Mat, MatRef, Par};

use super::normals::NormalStream;
use super::sampler::GaussianSampler;
use crate::error::{Error, Result};

/// Antithetic pairs per chunk (the rows of every per-chunk buffer: the draws, the spreads, the
/// weights, the winners).
const CHUNK: usize = 4096;

/// Below this many pairs every sum of an unweighted tally is a multiple of ¼ under 2⁵¹, exact
/// in f64 whatever the order of its terms ([`Tally::add_unweighted`]).
const EXACT_COUNTS: usize = 1 << 48;

/// A weight on each batch of standard normal draws z (b × r, row j the draw of pair
/// `first` + j) that leaves them as they are: it writes w(z) and w(−z) into `plus` and `minus`
/// (b entries each, set to 1 before the call).
pub type DrawWeight<'a> = &'a (dyn Fn(usize, MatRef<'_, f64>, &mut [f64], &mut [f64]) + Sync);

/// One model of [`weighted_argmax_models`].
#[derive(Clone, Copy)]
pub enum ArgmaxModel<'a> {
    /// w = 1: the Gaussian itself.
    Gaussian,
    /// A weight of the unchanged draws (an Edgeworth density): its argmaxes are the Gaussian's,
    /// found once per chunk for every such model.
    Weight(DrawWeight<'a>),
    /// A scale mixture μ + c_j F z_j of the draws, w = 1: pair j (counted from the first pair
    /// of the run) scaled by `c[j]` (at least as many entries as pairs). Its argmaxes are those
    /// of μ ± c_j s_j with s_j = F z_j the shared spreads ([`ArgmaxModel::Gaussian`]'s), so it
    /// needs no copy of z and no product of its own: the Gaussian μ + F (c_j z_j) of the
    /// rescaled draws up to the rounding of c_j (F z_j) against F (c_j z_j), which can move an
    /// argmax only where two outputs tie to within it.
    Scaled(&'a [f64]),
    /// Another Gaussian μ' + F' z on the same draws (F' has as many columns as the draws), w = 1:
    /// its own spreads and argmaxes. Its result equals `weighted_argmax(μ', F', n, seed, None)`
    /// (the same normals fill the same columns), so Gaussians compared with each other (the
    /// start layers of an analysis) share their random numbers
    /// ("common random numbers": the noise of their differences shrinks) and draw them once.
    Alongside(ColRef<'a, f64>, MatRef<'a, f64>),
}

/// P(argmax y = k) for every output k, with standard errors.
#[derive(Clone, Debug, PartialEq)]
pub struct ArgmaxDistribution {
    pub p: Vec<f64>,
    /// Monte Carlo standard error of each `p` (0 when exact).
    pub stderr: Vec<f64>,
    /// Summary of the weights w(z) over the draws (all 1 without a weight).
    pub weights: WeightSummary,
}

/// The weights of a weighted estimate (before clipping): E_φ\[w\] = 1 for a normalised
/// density; a negative weight means the weighted "density" φ·w is negative there (for an
/// Edgeworth density: the expansion fails at that point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightSummary {
    pub mean: f64,
    pub min: f64,
    /// Share of draws with w < 0.
    pub negative_share: f64,
    /// N = E_φ\[max(−w, 0)\], the mass of φ·w's negative part (Monte Carlo mean over the draws):
    /// every probability of the clipped density is within N of the expansion's (module docs).
    pub negative_mass: f64,
}

impl WeightSummary {
    /// The weights of an unweighted (Gaussian) estimate.
    pub const UNIT: WeightSummary = WeightSummary {
        mean: 1.0,
        min: 1.0,
        negative_share: 0.0,
        negative_mass: 0.0,
    };
}

/// P(argmax y = k) for y ~ N(mean, cov), every k; ties go to the lowest index.
///
/// An output tied to an earlier one to rounding (`argmax::tied`: identical read-out
/// rows) never wins and gets p = 0: the draws skip it ([`weighted_argmax_models`]), and where at
/// most 2 outputs are left the distribution is the exact one of those 2 (2 outputs:
/// [`super::prob_argmax`] decides the tie alike).
///
/// * 1 output: p = (1).
/// * 2 outputs: exact, p₀ = Φ(Δμ/√v), p₁ = Φ(−Δμ/√v) (Δμ = μ₀ − μ₁, v = Σ₀₀ + Σ₁₁ − 2Σ₀₁),
///   each from [`super::prob_argmax`] (so p\[c\] equals it bit for bit; Φ(−Δμ/√v) keeps a tiny
///   p₁ that 1 − p₀ would round to 0).
/// * ≥ 3 outputs: Monte Carlo on the draws of [`super::prob_argmax`] with the same seed (so
///   p\[c\] there equals p\[c\] here bit for bit), see [`weighted_argmax`] with w = 1.
pub fn argmax_distribution(
    mean: ColRef<'_, f64>,
    cov: MatRef<'_, f64>,
    n_samples: usize,
    seed: u64,
) -> Result<ArgmaxDistribution> {
    let n = mean.nrows();
    if cov.nrows() != n || cov.ncols() != n || n == 0 {
        return Err(Error::Shape(format!(
            "argmax distribution: mean of length {n} with a {}×{} covariance",
            cov.nrows(),
            cov.ncols()
        )));
    }
    let kept: Vec<usize> = (0..n)
        .filter(|&b| !(0..b).any(|a| super::argmax::tied(mean, cov, a, b)))
        .collect();
    if n > 2 && kept.len() <= 2 {
        let sub_mean = Col::from_fn(kept.len(), |i| mean[kept[i]]);
        let sub_cov = Mat::from_fn(kept.len(), kept.len(), |i, j| cov[(kept[i], kept[j])]);
        let d = argmax_distribution(sub_mean.as_ref(), sub_cov.as_ref(), n_samples, seed)?;
        let (mut p, mut stderr) = (vec![0.0; n], vec![0.0; n]);
        for (i, &k) in kept.iter().enumerate() {
            (p[k], stderr[k]) = (d.p[i], d.stderr[i]);
        }
        return Ok(ArgmaxDistribution {
            p,
            stderr,
            weights: d.weights,
        });
    }
    let exact = |p: Vec<f64>| ArgmaxDistribution {
        stderr: vec![0.0; p.len()],
        p,
        weights: WeightSummary::UNIT,
    };
    match n {
        1 => Ok(exact(vec![1.0])),
        2 => {
            let (p0, _) = super::prob_argmax(mean, cov, 0, n_samples, seed)?;
            let (p1, _) = super::prob_argmax(mean, cov, 1, n_samples, seed)?;
            Ok(exact(vec![p0, p1]))
        }
        _ => {
            let sampler = GaussianSampler::new(mean, cov)?;
            weighted_argmax(mean, sampler.factor(), n_samples, seed, None)
        }
    }
}

/// E_{z~N(0,I_r)}[w(z) 1{argmax(μ + F z) = k}] for every k (w = 1 without `weight`), from
/// `n_samples` draws in antithetic pairs (z, −z) seeded by `seed`; F is K × r. The weight
/// `weight` sets w ([`DrawWeight`]). The normals come from
/// [`NormalStream`]`::new(seed)`, chunk by chunk (pairs of up to 4096), coordinate by coordinate
/// within a chunk (column a of the b × r chunk is coordinate a of its b pairs).
///
/// Per pair j the values xₖⱼ = ½(w⁺(z)1{argmax⁺ = k} + w⁺(−z)1{argmax⁻ = k}) and
/// yⱼ = ½(w⁺(z) + w⁺(−z)), w⁺ = max(w, 0); pₖ = Σⱼ xₖⱼ / Σⱼ yⱼ, the self-normalised estimate of
/// P_{f⁺}(argmax = k) (module docs; Σₖ pₖ = 1). Its standard error by the delta method for a
/// ratio of means over m independent pairs (Owen 2013, §9.2, eq. 9.8):
/// se(pₖ) = √(Σⱼ dₖⱼ² / (m − 1) / m) / ȳ with dₖⱼ = xₖⱼ − pₖ yⱼ. For w = 1 this is the plain mean
/// of the indicators and its sample standard error. An error when every draw's weight is ≤ 0.
pub fn weighted_argmax(
    mean: ColRef<'_, f64>,
    factor: MatRef<'_, f64>,
    n_samples: usize,
    seed: u64,
    weight: Option<DrawWeight<'_>>,
) -> Result<ArgmaxDistribution> {
    let model = weight.map_or(ArgmaxModel::Gaussian, ArgmaxModel::Weight);
    let mut d = weighted_argmax_models(mean, factor, n_samples, seed, &[model])?;
    d.pop()
        .ok_or_else(|| Error::Shape("weighted argmax: no model evaluated".into()))
}

/// [`weighted_argmax`] for several models on one stream of draws: model m's result equals
/// `weighted_argmax(mean, factor, n_samples, seed, w)` exactly (w = None for
/// [`ArgmaxModel::Gaussian`], the weight for [`ArgmaxModel::Weight`]), but the standard normals
/// are drawn once per chunk for all of them, the product μ ± F z and its argmaxes are formed
/// once per chunk for the Gaussian and every [`ArgmaxModel::Weight`] (they see the same z),
/// each [`ArgmaxModel::Scaled`] gets its own argmaxes of the shared spreads scaled per pair
/// (the rescaled draws' result up to rounding, see there), and each [`ArgmaxModel::Alongside`]
/// μ' + F' z its own spreads and argmaxes of the same z (its result is
/// `weighted_argmax(μ', F', n_samples, seed, None)`'s). Only the buffers some model reads are
/// allocated: the shared spreads for the Gaussian, weights and scale mixtures, a second spread
/// buffer for the Gaussians alongside, the weight vectors for the weights (or for unweighted
/// tallies past 2⁴⁸ pairs, where the counts stop being exact).
///
/// An output tied to an earlier one to rounding (`argmax::tied` with Σ = F Fᵀ) never wins on
/// any draw, for every model (an [`ArgmaxModel::Alongside`] by its own μ' and F'): the network
/// takes the first of equal outputs, and which of two such y wins on a draw is the sign of their
/// rounding (adv58).
pub fn weighted_argmax_models(
    mean: ColRef<'_, f64>,
    factor: MatRef<'_, f64>,
    n_samples: usize,
    seed: u64,
    models: &[ArgmaxModel<'_>],
) -> Result<Vec<ArgmaxDistribution>> {
    let (k, r) = (mean.nrows(), factor.ncols());
    if factor.nrows() != k || k == 0 {
        return Err(Error::Shape(format!(
            "weighted argmax: mean of length {k} with a {}×{r} factor",
            factor.nrows()
        )));
    }
    let pairs = n_samples / 2;
    for model in models {
        if let ArgmaxModel::Scaled(c) = model {
            if c.len() < pairs {
                return Err(Error::Shape(format!(
                    "weighted argmax: {} scales for {pairs} pairs of draws",
                    c.len()
                )));
            }
        }
        if let ArgmaxModel::Alongside(m, f) = model {
            if m.nrows() != k || f.nrows() != k || f.ncols() != r {
                return Err(Error::Shape(format!(
                    "weighted argmax: a Gaussian alongside with a mean of length {} and a {}×{} \
                     factor, the draws' Gaussian has {k} outputs and {r} columns",
                    m.nrows(),
                    f.nrows(),
                    f.ncols()
                )));
            }
        }
    }
    if pairs < 2 {
        return Err(Error::Numeric(format!(
            "argmax distribution: {n_samples} Monte Carlo samples give fewer than 2 antithetic \
             pairs; use at least 4"
        )));
    }
    let chunk = CHUNK.min(pairs);
    let any = |f: fn(&ArgmaxModel<'_>) -> bool| models.iter().any(f);
    let rows = |needed: bool| if needed { chunk } else { 0 };
    let mut normals = NormalStream::new(seed);
    let mut z = Mat::zeros(chunk, r);
    // The spreads F z of the unchanged draws (read by the Gaussian, the weights and the scale
    // mixtures), and those of a Gaussian alongside (its own factor).
    let mut spread = Mat::zeros(rows(any(reads_shared_spread)), k);
    let mut own_spread = Mat::zeros(rows(any(|m| matches!(m, ArgmaxModel::Alongside(..)))), k);
    // The weights w(±z) of one model's chunk: for the weights, and for unit weights where the
    // counts are not exact.
    let weighted = pairs >= EXACT_COUNTS || any(|m| matches!(m, ArgmaxModel::Weight(_)));
    let (mut plus, mut minus) = (vec![1.0; rows(weighted)], vec![1.0; rows(weighted)]);
    // The argmaxes of the unchanged draws (shared by the Gaussian and the weights), and each
    // scale mixture's and Gaussian alongside's own; the models that read the shared ones hold
    // an empty buffer.
    // The outputs that can win among the unchanged draws, found once for every model that
    // reads them (the scale mixtures too: μ ± c_j s keeps the ties of μ ± s).
    let shared_outputs = if any(reads_shared_spread) {
        contenders(mean, factor)
    } else {
        Vec::new()
    };
    let shares = any(|m| matches!(m, ArgmaxModel::Gaussian | ArgmaxModel::Weight(_)));
    let mut shared = Winners::new(&shared_outputs, mean, rows(shares));
    let mut own: Vec<Winners> = models
        .iter()
        .map(|m| match m {
            ArgmaxModel::Gaussian | ArgmaxModel::Weight(_) => Winners::new(&[], mean, 0),
            ArgmaxModel::Scaled(_) => Winners::new(&shared_outputs, mean, chunk),
            ArgmaxModel::Alongside(mean, f) => Winners::new(&contenders(*mean, *f), *mean, chunk),
        })
        .collect();
    let mut tallies: Vec<Tally> = models.iter().map(|_| Tally::new(k)).collect();
    let mut done = 0;
    while done < pairs {
        let b = chunk.min(pairs - done);
        for a in 0..r {
            normals.fill(&mut z.col_as_slice_mut(a)[..b]);
        }
        let draws = z.as_ref().subrows(0, b);
        let (mut spread_formed, mut shared_found) = (false, false);
        for ((model, tally), own) in models.iter().zip(&mut tallies).zip(&mut own) {
            if reads_shared_spread(model) && !spread_formed {
                form_spread(&mut spread, draws, factor);
                spread_formed = true;
            }
            let winners = match model {
                ArgmaxModel::Gaussian | ArgmaxModel::Weight(_) => {
                    if !shared_found {
                        shared.find(&spread, b, None);
                        shared_found = true;
                    }
                    &shared
                }
                ArgmaxModel::Scaled(c) => {
                    own.find(&spread, b, Some(&c[done..done + b]));
                    &*own
                }
                ArgmaxModel::Alongside(_, f) => {
                    form_spread(&mut own_spread, draws, *f);
                    own.find(&own_spread, b, None);
                    &*own
                }
            };
            match model {
                ArgmaxModel::Gaussian | ArgmaxModel::Scaled(_) | ArgmaxModel::Alongside(..)
                    if pairs < EXACT_COUNTS =>
                {
                    tally.add_unweighted(winners, b)
                }
                _ => {
                    let (plus, minus) = (&mut plus[..b], &mut minus[..b]);
                    plus.fill(1.0);
                    minus.fill(1.0);
                    if let ArgmaxModel::Weight(w) = model {
                        w(done, draws, plus, minus);
                    }
                    tally.add(winners, plus, minus)
                }
            }
        }
        done += b;
    }
    tallies.into_iter().map(|t| t.finish(pairs)).collect()
}

/// Whether `model` reads the spreads F z of the unchanged draws.
fn reads_shared_spread(model: &ArgmaxModel<'_>) -> bool {
    matches!(
        model,
        ArgmaxModel::Gaussian | ArgmaxModel::Weight(_) | ArgmaxModel::Scaled(_)
    )
}

/// The spreads s = F z of the rows of `draws`, into the first rows of `spread`.
fn form_spread(spread: &mut Mat<f64>, draws: MatRef<'_, f64>, factor: MatRef<'_, f64>) {
    let b = draws.nrows();
    matmul(
        spread.as_mut().subrows_mut(0, b),
        Accum::Replace,
        draws,
        factor.transpose(),
        1.0,
        Par::Seq,
    );
}

/// The argmax of μ + s and of μ − s for every row s of a chunk's spreads (or of μ ± c_j s_j
/// with a scale c_j per row) over the outputs that can win ([`contenders`]), ties to the lowest
/// index.
struct Winners {
    /// The outputs that can win, ascending, and their means.
    outputs: Vec<u64>,
    mean: Vec<f64>,
    /// argmax of the + and − side per row.
    plus: Vec<u64>,
    minus: Vec<u64>,
}

impl Winners {
    /// For the draws μ + F z whose outputs that can win are `outputs` ([`contenders`] of μ and
    /// F), `chunk` rows at a time (0: a model that reads another's winners, which keeps no
    /// outputs either).
    fn new(outputs: &[u64], mean: ColRef<'_, f64>, chunk: usize) -> Self {
        let outputs = if chunk == 0 {
            Vec::new()
        } else {
            outputs.to_vec()
        };
        Winners {
            mean: outputs.iter().map(|&i| mean[i as usize]).collect(),
            outputs,
            plus: vec![0; chunk],
            minus: vec![0; chunk],
        }
    }

    /// The winners of the first `b` rows of `spread` (chunk × K), each row s_j scaled by
    /// `scale[j]` where given (b entries).
    fn find(&mut self, spread: &Mat<f64>, b: usize, scale: Option<&[f64]>) {
        let cols: Vec<&[f64]> = self
            .outputs
            .iter()
            .map(|&i| &spread.col_as_slice(i as usize)[..b])
            .collect();
        crate::simd::dispatch(FindWinners {
            outputs: &self.outputs,
            mean: &self.mean,
            cols: &cols,
            scale,
            plus: &mut self.plus[..b],
            minus: &mut self.minus[..b],
        });
    }
}

/// The outputs of y = μ + F z that can win, ascending: those not tied to an earlier one to
/// rounding (`argmax::tied` with Σ = F Fᵀ, i.e. |F_b − F_a|² for the variance of y_b − y_a and
/// |F_a|² for Σ_aa). The distance is summed only for outputs whose means tie, and stops once it
/// exceeds the bound, so outputs apart cost O(K²) comparisons of means and little more.
fn contenders(mean: ColRef<'_, f64>, factor: MatRef<'_, f64>) -> Vec<u64> {
    let (k, r) = (mean.nrows(), factor.ncols());
    let sq: Vec<f64> = (0..k)
        .map(|i| (0..r).map(|c| factor[(i, c)] * factor[(i, c)]).sum())
        .collect();
    let variance_ties = |a: usize, b: usize| {
        let bound_holds = |v: f64| super::argmax::variances_tie(v, sq[a], sq[b]);
        let mut v = 0.0;
        for c in 0..r {
            let d = factor[(b, c)] - factor[(a, c)];
            v += d * d;
            if !bound_holds(v) {
                return false;
            }
        }
        bound_holds(v)
    };
    (0..k)
        .filter(|&b| {
            !(0..b).any(|a| {
                super::argmax::means_tie(mean[a], mean[b], sq[a], sq[b]) && variance_ties(a, b)
            })
        })
        .map(|b| b as u64)
        .collect()
}

/// Rows whose running maxima [`FindWinners`] holds in registers while it reads the outputs.
const WINNER_ROWS: usize = 8;

/// The kernel of [`Winners::find`]: rows taken [`WINNER_ROWS`] at a time, each block's running
/// maxima and their indices kept in fixed-size arrays across the K outputs (registers once the
/// compiler vectorises the lane loops for the instruction set pulp dispatches to), so each
/// spread is read once and each winner written once; the rows after the last full block one
/// by one, by the same comparisons. A strict > keeps the first maximum; μᵢ − s equals
/// μᵢ + (−s) exactly. With `scale`, row j's spreads are c_j s first (one rounding), then the
/// same comparisons.
struct FindWinners<'a> {
    /// The outputs compared (ascending) and their means and spreads.
    outputs: &'a [u64],
    mean: &'a [f64],
    cols: &'a [&'a [f64]],
    /// c_j per row, or none (c = 1, no multiplication).
    scale: Option<&'a [f64]>,
    plus: &'a mut [u64],
    minus: &'a mut [u64],
}

impl pulp::WithSimd for FindWinners<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        // One loop, compiled once per case: `scale_of` is None or Some for every block, so
        // the unscaled rows multiply nothing.
        match self.scale {
            None => all_rows(
                self.outputs,
                self.mean,
                self.cols,
                |_| None,
                self.plus,
                self.minus,
            ),
            Some(c) => all_rows(
                self.outputs,
                self.mean,
                self.cols,
                |rows| Some(&c[rows]),
                self.plus,
                self.minus,
            ),
        }
    }
}

/// [`FindWinners`]' loop over the rows: blocks of [`WINNER_ROWS`], then the rest one by one;
/// `scale_of` gives the scales of a range of rows (or none).
#[inline(always)]
fn all_rows<'c>(
    outputs: &[u64],
    mean: &[f64],
    cols: &[&[f64]],
    scale_of: impl Fn(std::ops::Range<usize>) -> Option<&'c [f64]>,
    plus: &mut [u64],
    minus: &mut [u64],
) {
    let b = plus.len();
    let full = b - b % WINNER_ROWS;
    for j in (0..full).step_by(WINNER_ROWS) {
        let cj = scale_of(j..j + WINNER_ROWS).map(|c| c.try_into().expect("W rows"));
        let (kp, km) = block_winners::<WINNER_ROWS>(outputs, mean, cols, cj, j);
        plus[j..j + WINNER_ROWS].copy_from_slice(&kp);
        minus[j..j + WINNER_ROWS].copy_from_slice(&km);
    }
    for j in full..b {
        let cj = scale_of(j..j + 1).map(|c| c.try_into().expect("1 row"));
        let ([kp], [km]) = block_winners::<1>(outputs, mean, cols, cj, j);
        (plus[j], minus[j]) = (kp, km);
    }
}

/// The argmaxes of μ + s and μ − s for the W rows j … j + W − 1 of the spreads `cols` (one
/// slice per output of `outputs`), the outputs in order; with `scale`, of μ ± c_l s for row
/// j + l.
#[inline(always)]
fn block_winners<const W: usize>(
    outputs: &[u64],
    mean: &[f64],
    cols: &[&[f64]],
    scale: Option<&[f64; W]>,
    j: usize,
) -> ([u64; W], [u64; W]) {
    let row = |col: &[f64]| -> [f64; W] {
        let s: &[f64; W] = col[j..j + W].try_into().expect("W rows");
        match scale {
            Some(c) => std::array::from_fn(|l| c[l] * s[l]),
            None => *s,
        }
    };
    let s0 = row(cols[0]);
    let (mut bp, mut bm) = ([0.0; W], [0.0; W]);
    for l in 0..W {
        bp[l] = mean[0] + s0[l];
        bm[l] = mean[0] - s0[l];
    }
    let (mut kp, mut km) = ([outputs[0]; W], [outputs[0]; W]);
    for ((&i, &m), col) in outputs.iter().zip(mean).zip(cols).skip(1) {
        let s = row(col);
        for l in 0..W {
            let (vp, vm) = (m + s[l], m - s[l]);
            let (up, um) = (vp > bp[l], vm > bm[l]);
            bp[l] = if up { vp } else { bp[l] };
            kp[l] = if up { i } else { kp[l] };
            bm[l] = if um { vm } else { bm[l] };
            km[l] = if um { i } else { km[l] };
        }
    }
    (kp, km)
}

/// The kernel of [`Tally::add_unweighted`] for output `k`: the number of pairs whose two
/// argmaxes are both k, and the number of sides (of 2 per pair) whose argmax is k. Plain loops
/// inside `with_simd`, vectorised for the instruction set pulp dispatches to.
struct CountWins<'a> {
    k: u64,
    plus: &'a [u64],
    minus: &'a [u64],
}

impl pulp::WithSimd for CountWins<'_> {
    type Output = (u64, u64);

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> (u64, u64) {
        let k = self.k;
        let (mut both, mut sides) = (0, 0);
        for (&p, &m) in self.plus.iter().zip(self.minus) {
            let (p, m) = (u64::from(p == k), u64::from(m == k));
            both += p & m;
            sides += p + m;
        }
        (both, sides)
    }
}

/// b when b < a, else a: `f64::min` for a running minimum that is never NaN (a NaN b is
/// skipped, as `min` skips it), as one compare-and-select (x86 `minsd`), where `f64::min` adds
/// a NaN fix-up to the chain of [`Tally::add`], whose two minimums per pair bound its loop.
/// Only the sign of a zero minimum met by a zero of the other sign can differ, which `f64::min`
/// leaves unspecified too.
#[inline(always)]
fn smaller(a: f64, b: f64) -> f64 {
    if b < a {
        b
    } else {
        a
    }
}

/// Running sums of one model's pair values xₖ and yⱼ (see [`weighted_argmax`]) and weights.
struct Tally {
    /// Σ xₖ, Σ xₖ², Σ xₖ y per output k.
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    sum_xy: Vec<f64>,
    /// Σ y, Σ y² over pairs.
    y_sum: f64,
    y_sq: f64,
    /// Σ w, Σ max(−w, 0), the smallest w and the number of w < 0 over draws (unclipped).
    w_sum: f64,
    w_neg: f64,
    w_min: f64,
    negative: usize,
}

impl Tally {
    fn new(k: usize) -> Self {
        Tally {
            sum: vec![0.0; k],
            sum_sq: vec![0.0; k],
            sum_xy: vec![0.0; k],
            y_sum: 0.0,
            y_sq: 0.0,
            w_sum: 0.0,
            w_neg: 0.0,
            w_min: f64::INFINITY,
            negative: 0,
        }
    }

    /// Adds the pairs whose argmaxes are `winners`' (with weights `plus`, `minus`, clipped at
    /// 0): xₖ is nonzero only at the argmax of each side, so only those one or two sums change
    /// (adding the zeros of every other k would leave them as they are).
    fn add(&mut self, winners: &Winners, plus: &[f64], minus: &[f64]) {
        let sides = winners.plus.iter().zip(&winners.minus);
        for ((&kp, &km), (&wp, &wm)) in sides.zip(plus.iter().zip(minus)) {
            let (kp, km) = (kp as usize, km as usize);
            let (cp, cm) = (wp.max(0.0), wm.max(0.0));
            let y = 0.5 * (cp + cm);
            if kp == km {
                self.accumulate(kp, y, y);
            } else {
                self.accumulate(kp, 0.5 * cp, y);
                self.accumulate(km, 0.5 * cm, y);
            }
            self.y_sum += y;
            self.y_sq += y * y;
            self.w_sum += wp + wm;
            self.w_neg += (cp - wp) + (cm - wm);
            self.w_min = smaller(smaller(self.w_min, wp), wm);
            self.negative += usize::from(wp < 0.0) + usize::from(wm < 0.0);
        }
    }

    /// [`add`](Self::add) with unit weights (no weight: w = 1 on both sides), for the first `b`
    /// rows of `winners`. Then y = 1 per pair, and xₖ is 1 where both sides' argmax is k and ½
    /// where one side's is: per output k, with `both` and `half` such pairs in the chunk,
    /// Σxₖ and Σxₖy grow by both + ½·half, Σxₖ² by both + ¼·half. Every term and partial sum is
    /// a multiple of ¼ below 2⁵¹ (fewer than [`EXACT_COUNTS`] pairs), so these chunk totals give
    /// the pair-by-pair sums of `add` exactly, without its per-pair read-modify-write chain.
    fn add_unweighted(&mut self, winners: &Winners, b: usize) {
        let (plus, minus) = (&winners.plus[..b], &winners.minus[..b]);
        for k in 0..self.sum.len() {
            let (both, sides) = crate::simd::dispatch(CountWins {
                k: k as u64,
                plus,
                minus,
            });
            let (both, half) = (both as f64, (sides - 2 * both) as f64);
            self.sum[k] += both + 0.5 * half;
            self.sum_sq[k] += both + 0.25 * half;
            self.sum_xy[k] += both + 0.5 * half;
        }
        let n = b as f64;
        self.y_sum += n;
        self.y_sq += n;
        self.w_sum += 2.0 * n;
        self.w_min = self.w_min.min(1.0);
    }

    fn accumulate(&mut self, k: usize, x: f64, y: f64) {
        self.sum[k] += x;
        self.sum_sq[k] += x * x;
        self.sum_xy[k] += x * y;
    }

    fn finish(self, pairs: usize) -> Result<ArgmaxDistribution> {
        let m = pairs as f64;
        if self.y_sum <= 0.0 || !self.y_sum.is_finite() {
            return Err(Error::Numeric(format!(
                "weighted argmax: the weights sum to {} after clipping at 0 over {} draws (every \
                 draw's weight is ≤ 0 or not finite): the weighted density has no positive mass \
                 on the draws",
                self.y_sum,
                2 * pairs
            )));
        }
        let p: Vec<f64> = self.sum.iter().map(|s| s / self.y_sum).collect();
        let y_mean = self.y_sum / m;
        let stderr = p
            .iter()
            .zip(self.sum_sq.iter().zip(&self.sum_xy))
            .map(|(&p, (&sq, &xy))| {
                let d2 = (sq - 2.0 * p * xy + p * p * self.y_sq).max(0.0);
                (d2 / (m - 1.0) / m).sqrt() / y_mean
            })
            .collect();
        let weights = WeightSummary {
            mean: self.w_sum / (2.0 * m),
            min: self.w_min,
            negative_share: self.negative as f64 / (2.0 * m),
            negative_mass: self.w_neg / (2.0 * m),
        };
        Ok(ArgmaxDistribution { p, stderr, weights })
    }
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;
    use crate::special::normal_cdf;
    use crate::stats::gaussian::prob_argmax;

    fn example() -> (Col<f64>, Mat<f64>) {
        let mean = Col::from_fn(4, |i| [1.0, 0.6, 0.2, 0.9][i]);
        let a = Mat::from_fn(4, 4, |i, j| ((i * 3 + j * 5) % 7) as f64 / 7.0 - 0.4);
        let cov = Mat::from_fn(4, 4, |i, j| {
            (0..4).map(|k| a[(i, k)] * a[(j, k)]).sum::<f64>() + f64::from(i == j) * 0.1
        });
        (mean, cov)
    }

    /// The blocked winners equal a plain argmax of μ ± s row by row (first maximum wins), on
    /// every instruction set, for chunk lengths around the block of 8 and outputs K = 1 … 10,
    /// with spreads from a small set of values so that ties are common, and a NaN spread
    /// (never a winner, as NaN > x is false).
    #[test]
    fn blocked_winners_equal_the_row_by_row_argmax() {
        for k in [1, 2, 3, 10] {
            for b in [0, 1, 7, 8, 9, 23, 4099] {
                let mean = Col::from_fn(k, |i| [0.5, 0.0, 0.5, 1.0][i % 4]);
                let spread = Mat::from_fn(b, k, |j, i| match (j * 7 + i * 3) % 11 {
                    10 if j % 5 == 0 => f64::NAN,
                    v => [0.0, 0.5, -0.5, 1.0][v % 4],
                });
                let side = |j: usize, sign: f64| {
                    let mut best = (0, mean[0] + sign * spread[(j, 0)]);
                    for i in 1..k {
                        let v = mean[i] + sign * spread[(j, i)];
                        if v > best.1 {
                            best = (i as u64, v);
                        }
                    }
                    best.0
                };
                let plus: Vec<u64> = (0..b).map(|j| side(j, 1.0)).collect();
                let minus: Vec<u64> = (0..b).map(|j| side(j, -1.0)).collect();
                for isa in [
                    crate::simd::Isa::Best,
                    crate::simd::Isa::Avx2,
                    crate::simd::Isa::Scalar,
                ] {
                    let apart = Mat::<f64>::identity(k, k);
                    let outputs = contenders(mean.as_ref(), apart.as_ref());
                    let mut w = Winners::new(&outputs, mean.as_ref(), b);
                    let cols: Vec<&[f64]> = (0..k).map(|i| spread.col_as_slice(i)).collect();
                    isa.run(FindWinners {
                        outputs: &w.outputs,
                        mean: &w.mean,
                        cols: &cols,
                        scale: None,
                        plus: &mut w.plus[..b],
                        minus: &mut w.minus[..b],
                    });
                    assert_eq!(
                        (&w.plus, &w.minus),
                        (&plus, &minus),
                        "K = {k}, b = {b}, {isa:?}"
                    );
                    // Scaled rows: the argmax of μ ± c_j s_j, c_j = 1 reproducing the above.
                    let scale: Vec<f64> = (0..b).map(|j| [1.0, 0.25, 3.0][j % 3]).collect();
                    isa.run(FindWinners {
                        outputs: &w.outputs,
                        mean: &w.mean,
                        cols: &cols,
                        scale: Some(&scale),
                        plus: &mut w.plus[..b],
                        minus: &mut w.minus[..b],
                    });
                    let scaled = |sign: f64| -> Vec<u64> {
                        (0..b)
                            .map(|j| {
                                let v = |i: usize| mean[i] + sign * (scale[j] * spread[(j, i)]);
                                let mut best = (0, v(0));
                                for i in 1..k {
                                    if v(i) > best.1 {
                                        best = (i as u64, v(i));
                                    }
                                }
                                best.0
                            })
                            .collect()
                    };
                    assert_eq!(
                        (&w.plus, &w.minus),
                        (&scaled(1.0), &scaled(-1.0)),
                        "scaled, K = {k}, b = {b}, {isa:?}"
                    );
                }
                assert!(k < 3 || b < 8 || plus.iter().any(|&p| p > 0));
            }
        }
    }

    /// The running minimum by compare-and-select equals `f64::min`'s over values with
    /// negatives, repeats and NaN (skipped by both), starting from +∞.
    #[test]
    fn running_minimum_equals_f64_min() {
        let values = [
            3.0,
            f64::NAN,
            2.5,
            -0.75,
            -0.75,
            f64::NAN,
            7.0,
            -1e-300,
            -2.0,
            1.0,
        ];
        let (mut a, mut b) = (f64::INFINITY, f64::INFINITY);
        for pair in values.chunks(2) {
            a = smaller(smaller(a, pair[0]), pair[1]);
            b = b.min(pair[0]).min(pair[1]);
            assert_eq!(a.to_bits(), b.to_bits());
        }
        assert_eq!(a, -2.0);
        assert_eq!(smaller(f64::INFINITY, f64::NAN), f64::INFINITY);
    }

    /// The unweighted tally's chunk counts give the pair-by-pair sums of `add` with unit
    /// weights bit for bit (winners of 4 outputs, sides agreeing in ~half of the pairs, over
    /// several chunks of uneven length).
    #[test]
    fn unweighted_counts_equal_unit_weight_sums() {
        let (mean, _) = example();
        let mut winners = Winners::new(&[0, 1, 2, 3], mean.as_ref(), 1000);
        let (mut counted, mut summed) = (Tally::new(4), Tally::new(4));
        let ones = vec![1.0; 1000];
        for (chunk, b) in [1000, 1, 637].into_iter().enumerate() {
            for j in 0..b {
                winners.plus[j] = ((j * 7 + chunk) % 4) as u64;
                winners.minus[j] = if j % 2 == 0 {
                    winners.plus[j]
                } else {
                    ((j * 3) % 4) as u64
                };
            }
            counted.add_unweighted(&winners, b);
            summed.add(&winners, &ones[..b], &ones[..b]);
        }
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&counted.sum), bits(&summed.sum));
        assert_eq!(bits(&counted.sum_sq), bits(&summed.sum_sq));
        assert_eq!(bits(&counted.sum_xy), bits(&summed.sum_xy));
        let scalars = |t: &Tally| [t.y_sum, t.y_sq, t.w_sum, t.w_neg, t.w_min].map(f64::to_bits);
        assert_eq!(scalars(&counted), scalars(&summed));
        assert_eq!(counted.negative, summed.negative);
        assert!(counted.sum.iter().all(|&s| s > 0.0));
    }

    /// The same draws as prob_argmax: every class's probability equals it exactly, the
    /// probabilities sum to 1 (each draw has exactly one argmax).
    #[test]
    fn matches_prob_argmax_draw_for_draw_and_sums_to_one() {
        let (mean, cov) = example();
        let d = argmax_distribution(mean.as_ref(), cov.as_ref(), 20_000, 7).unwrap();
        for c in 0..4 {
            let (p, se) = prob_argmax(mean.as_ref(), cov.as_ref(), c, 20_000, 7).unwrap();
            assert_eq!((d.p[c], d.stderr[c]), (p, se));
        }
        assert!((d.p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    /// Outputs tied to rounding (identical read-out rows: y₁ = y₀ up to a few ulps of Σ and μ)
    /// never win, as the network's first-maximum argmax never picks y₁: with 3 outputs p₁ = 0
    /// and (p₀, p₂) are the exact 2-output Φ(±Δμ/√v) of y₀ against y₂; with 2, p = (1, 0). The
    /// draws read the rounding's sign instead (p₁ ≈ p₀ ≈ ½Φ(Δμ/√v) before adv58). A difference
    /// of variance 10⁻⁶ (well above `ROUNDING_LEVEL`) is an output of its own.
    #[test]
    fn outputs_tied_to_rounding_never_win() {
        let e = f64::EPSILON;
        let three = |v11: f64, v01: f64| {
            let mean = Col::from_fn(3, |i| [0.3, 0.3 * (1.0 + 4.0 * e), 0.0][i]);
            let cov = Mat::from_fn(3, 3, |i, j| match (i.min(j), i.max(j)) {
                (0, 0) => 1.0,
                (1, 1) => v11,
                (0, 1) => v01,
                (0, 2) => 0.2,
                (1, 2) => 0.2 * (1.0 + e),
                _ => 1.5,
            });
            argmax_distribution(mean.as_ref(), cov.as_ref(), 20_000, 7).unwrap()
        };
        let d = three(1.0 + 2.0 * e, 1.0 - e);
        let p0 = normal_cdf(0.3 / (1.0f64 + 1.5 - 0.4).sqrt());
        assert_eq!(
            d.p,
            vec![p0, 0.0, normal_cdf(-0.3 / (1.0f64 + 1.5 - 0.4).sqrt())]
        );
        assert_eq!(d.stderr, vec![0.0; 3]);
        let apart = three(1.0, 1.0 - 0.5e-6);
        assert!(apart.p[1] > 0.1, "{:?}", apart.p);
        let mean = Col::from_fn(2, |i| [0.3, 0.3 * (1.0 + 4.0 * e)][i]);
        let cov = Mat::from_fn(2, 2, |i, j| {
            if i == j {
                1.0 + 2.0 * e * i as f64
            } else {
                1.0 - e
            }
        });
        let two = argmax_distribution(mean.as_ref(), cov.as_ref(), 20_000, 7).unwrap();
        assert_eq!(two.p, vec![1.0, 0.0]);
    }

    /// The draws skip an output tied to an earlier one to rounding, for every model: with
    /// output 2 a copy of output 0 up to a few ulps (μ₂ = μ₀(1 + 4ε), F₂ = F₀(1 + 2ε)), each
    /// model's p equals its p on the draws without output 2 (the same z: F keeps its columns),
    /// bit for bit, with p₂ = 0. Without the rule output 2 wins whenever output 0 would, on
    /// the sign of its rounding (p₂ ≈ p₀ of the copy-less draws).
    #[test]
    fn every_model_skips_an_output_tied_to_rounding() {
        let e = f64::EPSILON;
        let full_mean = Col::from_fn(4, |i| [0.4, 0.1, 0.4 * (1.0 + 4.0 * e), -0.2][i]);
        let full = Mat::from_fn(4, 2, |i, c| match i {
            2 => [1.0, 0.2][c] * (1.0 + 2.0 * e),
            3 => [-0.5, 0.7][c],
            _ => [[1.0, 0.2], [0.3, 0.9]][i][c],
        });
        // The same outputs with output 2 apart from output 0 (not a tie).
        let apart = Mat::from_fn(4, 2, |i, c| full[(i, c)] + if i == 2 { 0.3 } else { 0.0 });
        let less_mean = Col::from_fn(3, |i| full_mean[[0, 1, 3][i]]);
        let less = Mat::from_fn(3, 2, |i, c| full[([0, 1, 3][i], c)]);
        let (n, seed) = (10_000, 3);
        let c: Vec<f64> = (0..n / 2).map(|j| 0.5 + (j % 4) as f64).collect();
        let tilt: DrawWeight<'_> = &|_, z: MatRef<'_, f64>, p: &mut [f64], m: &mut [f64]| {
            for j in 0..z.nrows() {
                p[j] = 1.0 + 0.2 * z[(j, 1)];
                m[j] = 1.0 - 0.2 * z[(j, 1)];
            }
        };
        // Model 3 is a Gaussian alongside with the draws' own outputs: it finds the tie in
        // its own μ', F' (or its absence: `apart`, the last model of the first run).
        let run = |m: ColRef<'_, f64>, f: MatRef<'_, f64>, last: MatRef<'_, f64>| {
            let models = [
                ArgmaxModel::Gaussian,
                ArgmaxModel::Weight(tilt),
                ArgmaxModel::Scaled(&c),
                ArgmaxModel::Alongside(m, f),
                ArgmaxModel::Alongside(m, last),
            ];
            weighted_argmax_models(m, f, n, seed, &models).unwrap()
        };
        let with = run(full_mean.as_ref(), full.as_ref(), apart.as_ref());
        let without = run(less_mean.as_ref(), less.as_ref(), less.as_ref());
        for (m, (w, o)) in with.iter().zip(&without).enumerate().take(4) {
            assert_eq!(w.p[2], 0.0, "model {m}");
            assert_eq!(
                [w.p[0], w.p[1], w.p[3]],
                [o.p[0], o.p[1], o.p[2]],
                "model {m}"
            );
            assert!(o.p[0] > 0.2, "model {m}: {:?}", o.p);
        }
        assert!(with[4].p[2] > 0.2, "{:?}", with[4].p);
    }

    /// Several models on one stream: each equals its own run bit for bit, also when a scale
    /// mixture reads the shared spreads (the next model still sees them unscaled) and when a
    /// weight of the unchanged draws shares the Gaussian's argmaxes (before and after it, after
    /// a scale mixture).
    #[test]
    fn models_on_one_stream_equal_separate_runs() {
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let (n, seed) = (10_000, 5);
        let c: Vec<f64> = (0..n / 2).map(|j| 1.0 + (j % 3) as f64).collect();
        let tilt: DrawWeight<'_> = &|_, z: MatRef<'_, f64>, p: &mut [f64], m: &mut [f64]| {
            for j in 0..z.nrows() {
                p[j] = 1.0 + 0.3 * z[(j, 0)];
                m[j] = 1.0 - 0.3 * z[(j, 0)];
            }
        };
        let models = [
            ArgmaxModel::Scaled(&c),
            ArgmaxModel::Weight(tilt),
            ArgmaxModel::Gaussian,
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let ms: Vec<ArgmaxModel<'_>> = order.iter().map(|&i| models[i]).collect();
            let all = weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &ms).unwrap();
            for (&i, got) in order.iter().zip(&all) {
                let alone = [models[i]];
                let want = weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &alone);
                assert_eq!(*got, want.unwrap()[0], "model {i} in order {order:?}");
            }
            assert!(all[0] != all[1] && all[1] != all[2]);
        }
    }

    /// The argmax distribution of μ ± F (c_j z_j) over the pairs of `weighted_argmax`'s draws
    /// (its documented order: chunks of up to [`CHUNK`] pairs, coordinate by coordinate), pair
    /// by pair: pₖ = Σⱼ xₖⱼ / m and se(pₖ) = √(Σⱼ (xₖⱼ − pₖ)² / (m − 1) / m).
    fn rescaled_draws(
        mean: &Col<f64>,
        f: MatRef<'_, f64>,
        n: usize,
        seed: u64,
        c: &[f64],
    ) -> (Vec<f64>, Vec<f64>) {
        let (k, r, pairs) = (mean.nrows(), f.ncols(), n / 2);
        let mut normals = NormalStream::new(seed);
        let mut x = vec![vec![0.0; k]; pairs];
        for first in (0..pairs).step_by(CHUNK) {
            let b = CHUNK.min(pairs - first);
            let mut z = Mat::zeros(b, r);
            for a in 0..r {
                normals.fill(z.col_as_slice_mut(a));
            }
            for j in 0..b {
                let u: Vec<f64> = (0..r).map(|a| c[first + j] * z[(j, a)]).collect();
                for sign in [1.0, -1.0] {
                    let y =
                        |i: usize| mean[i] + sign * (0..r).map(|a| f[(i, a)] * u[a]).sum::<f64>();
                    let best = (1..k).fold(0, |best, i| if y(i) > y(best) { i } else { best });
                    x[first + j][best] += 0.5;
                }
            }
        }
        let m = pairs as f64;
        let p: Vec<f64> = (0..k)
            .map(|i| x.iter().map(|xj| xj[i]).sum::<f64>() / m)
            .collect();
        let se = (0..k)
            .map(|i| {
                (x.iter().map(|xj| (xj[i] - p[i]).powi(2)).sum::<f64>() / (m - 1.0) / m).sqrt()
            })
            .collect();
        (p, se)
    }

    /// A scale mixture read from the shared spreads gives the argmax distribution of the
    /// rescaled draws μ ± F (c_j z_j), computed pair by pair (the same argmaxes: c_j (F z_j) and
    /// F (c_j z_j) differ by rounding, which ties no two outputs of these draws; the standard
    /// errors to rounding), beside the Gaussian and before, between or after a Gaussian
    /// alongside (whose own spreads must not overwrite the shared ones it reads), over two
    /// chunks; it differs from the Gaussian's, and fewer scales than pairs are refused.
    #[test]
    fn a_scale_mixture_equals_the_rescaled_draws() {
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let (n, seed) = (10_000, 3);
        let c: Vec<f64> = (0..n / 2).map(|j| 0.3 + (j % 7) as f64 * 0.4).collect();
        let (want_p, want_se) = rescaled_draws(&mean, f.factor(), n, seed, &c);
        let other_mean = Col::from_fn(4, |i| [0.8, 0.9, 0.1, 1.0][i]);
        let other_cov = Mat::from_fn(4, 4, |i, j| cov[(i, j)] * if i == j { 1.5 } else { 0.7 });
        let g = GaussianSampler::new(other_mean.as_ref(), other_cov.as_ref()).unwrap();
        let along = ArgmaxModel::Alongside(other_mean.as_ref(), g.factor());
        let scaled = ArgmaxModel::Scaled(&c);
        for models in [
            [along, ArgmaxModel::Gaussian, scaled],
            [ArgmaxModel::Gaussian, along, scaled],
            [ArgmaxModel::Gaussian, scaled, along],
        ] {
            let all = weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &models).unwrap();
            let got = all
                .iter()
                .zip(&models)
                .find(|(_, m)| matches!(m, ArgmaxModel::Scaled(_)));
            let got = got.unwrap().0;
            assert_eq!(got.p, want_p);
            for (se, want) in got.stderr.iter().zip(&want_se) {
                assert!((se - want).abs() <= 1e-12 * want, "{se} vs {want}");
            }
            assert_eq!(got.weights, WeightSummary::UNIT);
            assert!(all.iter().any(|d| d.p != got.p));
        }
        let few = [ArgmaxModel::Scaled(&c[1..])];
        assert!(weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &few).is_err());
    }

    /// A Gaussian alongside the draws' own gets the rows its own Monte Carlo would draw on the
    /// same seed, bit for bit, beside a weight; another mean or covariance changes
    /// them (the test can fail), and a factor with another column count is refused.
    #[test]
    fn a_gaussian_alongside_gets_its_own_rows() {
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let other_mean = Col::from_fn(4, |i| [0.8, 0.9, 0.1, 1.0][i]);
        let other_cov = Mat::from_fn(4, 4, |i, j| cov[(i, j)] * if i == j { 1.5 } else { 0.7 });
        let g = GaussianSampler::new(other_mean.as_ref(), other_cov.as_ref()).unwrap();
        assert_eq!(g.factor().ncols(), f.factor().ncols());
        let tilt: DrawWeight<'_> = &|_, z: MatRef<'_, f64>, p: &mut [f64], m: &mut [f64]| {
            for j in 0..z.nrows() {
                p[j] = 1.0 + 0.3 * z[(j, 0)];
                m[j] = 1.0 - 0.3 * z[(j, 0)];
            }
        };
        let models = [
            ArgmaxModel::Gaussian,
            ArgmaxModel::Alongside(other_mean.as_ref(), g.factor()),
            ArgmaxModel::Weight(tilt),
        ];
        let (n, seed) = (10_000, 9);
        let all = weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &models).unwrap();
        let own = argmax_distribution(mean.as_ref(), cov.as_ref(), n, seed).unwrap();
        let other = argmax_distribution(other_mean.as_ref(), other_cov.as_ref(), n, seed).unwrap();
        assert_eq!(all[0], own);
        assert_eq!(all[1], other);
        assert!(all[1] != all[0]);
        let wide = Mat::<f64>::zeros(4, f.factor().ncols() + 1);
        let refused = [ArgmaxModel::Alongside(other_mean.as_ref(), wide.as_ref())];
        assert!(weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &refused).is_err());
    }

    /// Two outputs: Φ and its complement; a constant weight 2 changes no probability and no
    /// standard error (self-normalised), only the weight summary.
    #[test]
    fn two_outputs_are_exact_and_constant_weights_cancel() {
        let mean = Col::from_fn(2, |i| [0.3, -0.2][i]);
        let cov = Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.25 });
        let d = argmax_distribution(mean.as_ref(), cov.as_ref(), 4, 1).unwrap();
        let p0 = normal_cdf(0.5 / 1.5f64.sqrt());
        assert!((d.p[0] - p0).abs() < 1e-15 && (d.p[1] - (1.0 - p0)).abs() < 1e-15);
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let one = weighted_argmax(mean.as_ref(), f.factor(), 4000, 3, None).unwrap();
        let two: DrawWeight<'_> = &|_, _, p: &mut [f64], m: &mut [f64]| {
            p.fill(2.0);
            m.fill(2.0);
        };
        let doubled = weighted_argmax(mean.as_ref(), f.factor(), 4000, 3, Some(two)).unwrap();
        assert_eq!((&doubled.p, &doubled.stderr), (&one.p, &one.stderr));
        let w = doubled.weights;
        assert_eq!(
            (w.mean, w.min, w.negative_share, w.negative_mass),
            (2.0, 2.0, 0.0, 0.0)
        );
    }

    /// y₀ = z, y₁ = t (one direction, two outputs) under the skewed Gram–Charlier weight
    /// w(z) = 1 + (κ/6) He₃(z), κ = 2.5, negative for z < −2.06. The expansion's own
    /// P(z > t) = 1 − Φ(t) + (κ/6) φ(t) He₂(t) exceeds 1 at t = −2.5; the clipped, renormalised
    /// density's P (Simpson quadrature of φ·max(w, 0)) does not (it is 1 up to the quadrature's
    /// tail: no positive weight lies below −2.06), and at t = −2.5 and t = −1 the estimate agrees
    /// with it within 4 standard errors (+ 1e−9), stays in [0, 1], sums to 1 and lies within the
    /// negative mass N of the expansion's value (module docs). N matches its quadrature within
    /// 5 %.
    #[test]
    fn negative_weights_are_clipped_and_renormalised() {
        let kappa = 2.5;
        let w = |z: f64| 1.0 + kappa / 6.0 * (z * z * z - 3.0 * z);
        let simpson = |g: &dyn Fn(f64) -> f64, a: f64, b: f64| {
            let n = 200_000;
            let h = (b - a) / n as f64;
            let s: f64 = (0..=n)
                .map(|i| {
                    let c = if i == 0 || i == n {
                        1.0
                    } else {
                        [2.0, 4.0][i % 2]
                    };
                    c * g(a + i as f64 * h)
                })
                .sum();
            s * h / 3.0
        };
        let pdf = crate::special::normal_pdf;
        let pos = |z: f64| pdf(z) * w(z).max(0.0);
        let z_norm = simpson(&pos, -12.0, 12.0);
        let neg_mass = simpson(&|z| pdf(z) * (-w(z)).max(0.0), -12.0, 12.0);
        let weight: DrawWeight<'_> = &|_, z: MatRef<'_, f64>, p: &mut [f64], m: &mut [f64]| {
            for j in 0..z.nrows() {
                (p[j], m[j]) = (w(z[(j, 0)]), w(-z[(j, 0)]));
            }
        };
        let f = Mat::from_fn(2, 1, |i, _| [1.0, 0.0][i]);
        for t in [-2.5, -1.0] {
            let clipped = simpson(&pos, t, 12.0) / z_norm;
            let signed = 1.0 - normal_cdf(t) + kappa / 6.0 * pdf(t) * (t * t - 1.0);
            assert!(clipped <= 1.0 && (signed - clipped).abs() <= neg_mass);
            assert!(t > -2.0 || signed > 1.0, "t = {t}: {signed}");
            let mean = Col::from_fn(2, |i| [0.0, t][i]);
            let d = weighted_argmax(mean.as_ref(), f.as_ref(), 2_000_000, 9, Some(weight)).unwrap();
            assert!(d.p.iter().all(|p| (0.0..=1.0).contains(p)));
            assert!((d.p[0] + d.p[1] - 1.0).abs() < 1e-12);
            assert!(
                (d.p[0] - clipped).abs() < 4.0 * d.stderr[0] + 1e-9,
                "t = {t}: {} ± {} vs {clipped}",
                d.p[0],
                d.stderr[0]
            );
            assert!((d.p[0] - signed).abs() <= neg_mass + 4.0 * d.stderr[0]);
            assert!(d.weights.negative_share > 0.0 && d.weights.min < 0.0);
            let n = d.weights.negative_mass;
            assert!((n - neg_mass).abs() < 0.05 * neg_mass, "{n} vs {neg_mass}");
        }
    }

    /// The delta-method standard error of the self-normalised estimate is its spread: 400
    /// independent runs of 2000 draws (different seeds) of the clipped weight above at t = −1.5,
    /// whose standard deviation (relative sampling error 1/√800 ≈ 3.5 %) is within 15 % of the
    /// runs' mean standard error.
    #[test]
    fn ratio_standard_error_matches_the_spread_over_seeds() {
        let kappa = 2.5;
        let w = |z: f64| 1.0 + kappa / 6.0 * (z * z * z - 3.0 * z);
        let weight: DrawWeight<'_> = &|_, z: MatRef<'_, f64>, p: &mut [f64], m: &mut [f64]| {
            for j in 0..z.nrows() {
                (p[j], m[j]) = (w(z[(j, 0)]), w(-z[(j, 0)]));
            }
        };
        let mean = Col::from_fn(2, |i| [0.0, -1.5][i]);
        let f = Mat::from_fn(2, 1, |i, _| [1.0, 0.0][i]);
        let runs: Vec<(f64, f64)> = (0..400)
            .map(|s| {
                let d = weighted_argmax(mean.as_ref(), f.as_ref(), 2000, 100 + s, Some(weight));
                let d = d.unwrap();
                (d.p[0], d.stderr[0])
            })
            .collect();
        let n = runs.len() as f64;
        let avg = runs.iter().map(|r| r.0).sum::<f64>() / n;
        let sd = (runs.iter().map(|r| (r.0 - avg).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let se = runs.iter().map(|r| r.1).sum::<f64>() / n;
        assert!(
            (sd / se - 1.0).abs() < 0.15,
            "spread {sd} vs standard error {se}"
        );
    }

    /// Weights ≤ 0 on every draw leave no density to normalise: an error, not a NaN.
    #[test]
    fn no_positive_weight_is_an_error() {
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let negative: DrawWeight<'_> = &|_, _, p: &mut [f64], m: &mut [f64]| {
            p.fill(-1.0);
            m.fill(0.0);
        };
        let err = weighted_argmax(mean.as_ref(), f.factor(), 400, 3, Some(negative)).unwrap_err();
        assert!(err.to_string().contains("no positive mass"), "{err}");
    }
}
