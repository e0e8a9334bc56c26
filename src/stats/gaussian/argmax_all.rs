//! The whole argmax distribution P(argmax y = k), k = 0 … K−1, of y = μ + F z with z ~ N(0, I)
//! (a predicted confusion-matrix row, DESIGN.md §4.2), optionally under a weight w(z) that turns
//! the Gaussian into a non-Gaussian density φ(z)·w(z) (the Edgeworth model of the output's tails).

use faer::linalg::matmul::matmul;
use faer::{Accum, ColRef, Mat, MatMut, MatRef, Par};

use super::normals::NormalStream;
use super::sampler::GaussianSampler;
use crate::error::{Error, Result};

/// Antithetic pairs per chunk (bounds memory to (2r + K) × this many f64).
const CHUNK: usize = 4096;

/// A hook on each batch of standard normal draws z (b × r, row j the draw of pair `first` + j):
/// it writes the weights w(z) and w(−z) into `plus` and `minus` (left at 1 otherwise) and may
/// rescale the rows of z in place (a scale mixture), before y = μ ± F z is formed.
pub type PairWeight<'a> = &'a (dyn Fn(usize, MatMut<'_, f64>, &mut [f64], &mut [f64]) + Sync);

/// P(argmax y = k) for every output k, with standard errors.
#[derive(Clone, Debug, PartialEq)]
pub struct ArgmaxDistribution {
    pub p: Vec<f64>,
    /// Monte Carlo standard error of each `p` (0 when exact).
    pub stderr: Vec<f64>,
    /// Summary of the weights w(z) over the draws (all 1 without a weight).
    pub weights: WeightSummary,
}

/// The weights of a weighted estimate: E_φ\[w\] = 1 for a normalised density; a negative weight
/// means the weighted "density" φ·w is negative there (for an Edgeworth density: the expansion
/// fails at that point).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeightSummary {
    pub mean: f64,
    pub min: f64,
    /// Share of draws with w < 0.
    pub negative_share: f64,
}

impl WeightSummary {
    /// The weights of an unweighted (Gaussian) estimate.
    pub const UNIT: WeightSummary = WeightSummary {
        mean: 1.0,
        min: 1.0,
        negative_share: 0.0,
    };
}

/// P(argmax y = k) for y ~ N(mean, cov), every k; ties go to the lowest index.
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
/// `n_samples` draws in antithetic pairs (z, −z) seeded by `seed`; F is K × r. The hook
/// `weight` sets w and may rescale z first ([`PairWeight`]). The normals come from
/// [`NormalStream`]`::new(seed)`, chunk by chunk (pairs of up to 4096), coordinate by coordinate
/// within a chunk (column a of the b × r chunk is coordinate a of its b pairs).
///
/// Per pair the value xₖ = ½(w(z)1{argmax⁺ = k} + w(−z)1{argmax⁻ = k}); pₖ is the mean of xₖ over
/// pairs and its standard error s/√pairs, s the sample standard deviation of xₖ (pairs are
/// independent). When the weights are an exact density ratio f/φ this estimates P_f(argmax = k)
/// without bias, and Σₖ pₖ equals the mean weight.
pub fn weighted_argmax(
    mean: ColRef<'_, f64>,
    factor: MatRef<'_, f64>,
    n_samples: usize,
    seed: u64,
    weight: Option<PairWeight<'_>>,
) -> Result<ArgmaxDistribution> {
    let mut d = weighted_argmax_models(mean, factor, n_samples, seed, &[weight])?;
    d.pop()
        .ok_or_else(|| Error::Shape("weighted argmax: no model evaluated".into()))
}

/// [`weighted_argmax`] for several models on one stream of draws: model m's result equals
/// `weighted_argmax(mean, factor, n_samples, seed, models[m])` exactly, but the standard normals
/// are drawn once per chunk for all of them (each hook gets its own copy of z to rescale).
pub fn weighted_argmax_models(
    mean: ColRef<'_, f64>,
    factor: MatRef<'_, f64>,
    n_samples: usize,
    seed: u64,
    models: &[Option<PairWeight<'_>>],
) -> Result<Vec<ArgmaxDistribution>> {
    let (k, r) = (mean.nrows(), factor.ncols());
    if factor.nrows() != k || k == 0 {
        return Err(Error::Shape(format!(
            "weighted argmax: mean of length {k} with a {}×{r} factor",
            factor.nrows()
        )));
    }
    let pairs = n_samples / 2;
    if pairs < 2 {
        return Err(Error::Numeric(format!(
            "argmax distribution: {n_samples} Monte Carlo samples give fewer than 2 antithetic \
             pairs; use at least 4"
        )));
    }
    let chunk = CHUNK.min(pairs);
    let mut normals = NormalStream::new(seed);
    let mut z = Mat::zeros(chunk, r);
    let mut hooked = Mat::zeros(chunk, r);
    let mut spread = Mat::zeros(chunk, k);
    let (mut plus, mut minus) = (vec![1.0; chunk], vec![1.0; chunk]);
    let mut winners = Winners::new(mean, chunk);
    let mut tallies: Vec<Tally> = models.iter().map(|_| Tally::new(k)).collect();
    let mut done = 0;
    while done < pairs {
        let b = chunk.min(pairs - done);
        for a in 0..r {
            normals.fill(&mut z.col_as_slice_mut(a)[..b]);
        }
        for (model, tally) in models.iter().zip(&mut tallies) {
            plus[..b].fill(1.0);
            minus[..b].fill(1.0);
            let draws = match model {
                Some(w) => {
                    hooked
                        .as_mut()
                        .subrows_mut(0, b)
                        .copy_from(z.as_ref().subrows(0, b));
                    w(
                        done,
                        hooked.as_mut().subrows_mut(0, b),
                        &mut plus[..b],
                        &mut minus[..b],
                    );
                    hooked.as_ref().subrows(0, b)
                }
                None => z.as_ref().subrows(0, b),
            };
            matmul(
                spread.as_mut().subrows_mut(0, b),
                Accum::Replace,
                draws,
                factor.transpose(),
                1.0,
                Par::Seq,
            );
            winners.find(&spread, b);
            tally.add(&winners, &plus[..b], &minus[..b]);
        }
        done += b;
    }
    Ok(tallies.into_iter().map(|t| t.finish(pairs)).collect())
}

/// The argmax of μ + s and of μ − s for every row s of a chunk's spreads, found column by
/// column across the rows (one vectorised pass per output), ties to the lowest index.
struct Winners {
    mean: Vec<f64>,
    /// argmax of the + and − side per row.
    plus: Vec<u64>,
    minus: Vec<u64>,
    /// The largest value so far per row.
    best_plus: Vec<f64>,
    best_minus: Vec<f64>,
}

impl Winners {
    fn new(mean: ColRef<'_, f64>, chunk: usize) -> Self {
        Winners {
            mean: mean.iter().copied().collect(),
            plus: vec![0; chunk],
            minus: vec![0; chunk],
            best_plus: vec![0.0; chunk],
            best_minus: vec![0.0; chunk],
        }
    }

    /// The winners of the first `b` rows of `spread` (chunk × K).
    fn find(&mut self, spread: &Mat<f64>, b: usize) {
        let cols: Vec<&[f64]> = (0..self.mean.len())
            .map(|i| &spread.col_as_slice(i)[..b])
            .collect();
        crate::simd::dispatch(FindWinners {
            mean: &self.mean,
            cols: &cols,
            plus: &mut self.plus[..b],
            minus: &mut self.minus[..b],
            best_plus: &mut self.best_plus[..b],
            best_minus: &mut self.best_minus[..b],
        });
    }
}

/// The kernel of [`Winners::find`]: plain loops inside `with_simd`, so that the compiler
/// vectorises them for the instruction set pulp dispatches to. A strict > keeps the first
/// maximum; μᵢ − s equals μᵢ + (−s) exactly.
struct FindWinners<'a> {
    mean: &'a [f64],
    cols: &'a [&'a [f64]],
    plus: &'a mut [u64],
    minus: &'a mut [u64],
    best_plus: &'a mut [f64],
    best_minus: &'a mut [f64],
}

impl pulp::WithSimd for FindWinners<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let (m0, s0) = (self.mean[0], self.cols[0]);
        for (j, &s) in s0.iter().enumerate() {
            self.best_plus[j] = m0 + s;
            self.best_minus[j] = m0 - s;
            self.plus[j] = 0;
            self.minus[j] = 0;
        }
        for (i, (&m, col)) in self.mean.iter().zip(self.cols).enumerate().skip(1) {
            let i = i as u64;
            let rows = col
                .iter()
                .zip(self.best_plus.iter_mut().zip(self.plus.iter_mut()))
                .zip(self.best_minus.iter_mut().zip(self.minus.iter_mut()));
            for ((&s, (bp, kp)), (bm, km)) in rows {
                let (vp, vm) = (m + s, m - s);
                let (up, um) = (vp > *bp, vm > *bm);
                *bp = if up { vp } else { *bp };
                *kp = if up { i } else { *kp };
                *bm = if um { vm } else { *bm };
                *km = if um { i } else { *km };
            }
        }
    }
}

/// Running sums of one model's pair values xₖ (see [`weighted_argmax`]) and weights.
struct Tally {
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    w_sum: f64,
    w_min: f64,
    negative: usize,
}

impl Tally {
    fn new(k: usize) -> Self {
        Tally {
            sum: vec![0.0; k],
            sum_sq: vec![0.0; k],
            w_sum: 0.0,
            w_min: f64::INFINITY,
            negative: 0,
        }
    }

    /// Adds the pairs whose argmaxes are `winners`' (with weights `plus`, `minus`): xₖ is
    /// nonzero only at the argmax of each side, so only those one or two sums change (adding
    /// the zeros of every other k would leave them as they are).
    fn add(&mut self, winners: &Winners, plus: &[f64], minus: &[f64]) {
        let sides = winners.plus.iter().zip(&winners.minus);
        for ((&kp, &km), (&wp, &wm)) in sides.zip(plus.iter().zip(minus)) {
            let (kp, km) = (kp as usize, km as usize);
            if kp == km {
                self.accumulate(kp, 0.5 * (wp + wm));
            } else {
                self.accumulate(kp, 0.5 * wp);
                self.accumulate(km, 0.5 * wm);
            }
            self.w_sum += wp + wm;
            self.w_min = self.w_min.min(wp).min(wm);
            self.negative += usize::from(wp < 0.0) + usize::from(wm < 0.0);
        }
    }

    fn accumulate(&mut self, k: usize, x: f64) {
        self.sum[k] += x;
        self.sum_sq[k] += x * x;
    }

    fn finish(self, pairs: usize) -> ArgmaxDistribution {
        let m = pairs as f64;
        let p: Vec<f64> = self.sum.iter().map(|s| s / m).collect();
        let stderr = p
            .iter()
            .zip(&self.sum_sq)
            .map(|(&p, &sq)| (((sq - m * p * p) / (m - 1.0)).max(0.0) / m).sqrt())
            .collect();
        let weights = WeightSummary {
            mean: self.w_sum / (2.0 * m),
            min: self.w_min,
            negative_share: self.negative as f64 / (2.0 * m),
        };
        ArgmaxDistribution { p, stderr, weights }
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

    /// Several models on one stream: each equals its own weighted_argmax run bit for bit, also
    /// when a hook rescales z (the next model still sees the draws unscaled).
    #[test]
    fn models_on_one_stream_equal_separate_runs() {
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let scale: PairWeight<'_> = &|first, mut z: MatMut<'_, f64>, _, _| {
            for a in 0..z.ncols() {
                for j in 0..z.nrows() {
                    z[(j, a)] *= 1.0 + ((first + j) % 3) as f64;
                }
            }
        };
        let tilt: PairWeight<'_> = &|_, z: MatMut<'_, f64>, p: &mut [f64], m: &mut [f64]| {
            for j in 0..z.nrows() {
                p[j] = 1.0 + 0.3 * z[(j, 0)];
                m[j] = 1.0 - 0.3 * z[(j, 0)];
            }
        };
        let models = [Some(scale), None, Some(tilt)];
        let (n, seed) = (10_000, 5);
        let all = weighted_argmax_models(mean.as_ref(), f.factor(), n, seed, &models).unwrap();
        for (model, got) in models.iter().zip(&all) {
            let alone = weighted_argmax(mean.as_ref(), f.factor(), n, seed, *model).unwrap();
            assert_eq!(*got, alone);
        }
        assert_ne!(all[0], all[1]);
    }

    /// Two outputs: Φ and its complement; a weight equal to 2 doubles every probability.
    #[test]
    fn two_outputs_are_exact_and_weights_scale() {
        let mean = Col::from_fn(2, |i| [0.3, -0.2][i]);
        let cov = Mat::from_fn(2, 2, |i, j| if i == j { 1.0 } else { 0.25 });
        let d = argmax_distribution(mean.as_ref(), cov.as_ref(), 4, 1).unwrap();
        let p0 = normal_cdf(0.5 / 1.5f64.sqrt());
        assert!((d.p[0] - p0).abs() < 1e-15 && (d.p[1] - (1.0 - p0)).abs() < 1e-15);
        let (mean, cov) = example();
        let f = GaussianSampler::new(mean.as_ref(), cov.as_ref()).unwrap();
        let one = weighted_argmax(mean.as_ref(), f.factor(), 4000, 3, None).unwrap();
        let two: PairWeight<'_> = &|_, _, p: &mut [f64], m: &mut [f64]| {
            p.fill(2.0);
            m.fill(2.0);
        };
        let doubled = weighted_argmax(mean.as_ref(), f.factor(), 4000, 3, Some(two)).unwrap();
        for c in 0..4 {
            assert_eq!(doubled.p[c], 2.0 * one.p[c]);
        }
        let w = doubled.weights;
        assert_eq!((w.mean, w.min, w.negative_share), (2.0, 2.0, 0.0));
    }
}
