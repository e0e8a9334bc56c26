//! Surrogate inputs by correlation order (DESIGN.md §4.3).
//!
//! The trained network is evaluated on data that keep only the first cumulants of each class:
//!
//! * order 1: x ~ N(μ_c, Σ_w) with the pooled *within-class* covariance
//!   Σ_w = Σ_c p(c) Σ_c (the class sits only in the mean);
//! * order 2: x ~ N(μ_c, Σ_c) (mean and covariance of each class);
//! * real: the data themselves (all orders).
//!
//! Sampling uses a [`LowRankFactor`] F (d × r) of each covariance, a pivoted Cholesky stopped at
//! the rounding level of Σ: MNIST's Σ_c is singular (constant border pixels, rarely lit pixels
//! that only move together), and the directions left out and the largest variance among them
//! are reported so the handling is visible.
//!
//! A draw x = μ + F z (z ~ N(0, I_r)) enters the network only through W₁x + b₁ = (W₁F) z +
//! (W₁μ + b₁), so each surrogate folds its factor into the first layer ([`folded_network`]):
//! one N₁ × d × r product per class instead of a d × d × r spread. That pre-activation is
//! Gaussian, N(W₁μ + b₁, G Gᵀ) with G = W₁F (N₁ × r), so where the first layer is narrower than
//! the factor (N₁ < r: MNIST's 100 units against r ≈ 480–660) it is drawn from a
//! [`LowRankFactor`] H (N₁ × r') of G Gᵀ instead, h₁ = H z' + W₁μ + b₁ with z' ~ N(0, I_r'),
//! r' ≤ N₁ (`first_layer`): the same distribution (H Hᵀ = G Gᵀ up to directions at its
//! rounding level) from r' normals and an N₁ × r' product per draw instead of r and N₁ × r.
//! The draws differ from those of G z, so the accuracies move within their Monte Carlo error.

use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{Accum, ColRef, Mat, MatRef, Par};
use rayon::prelude::*;
use serde::Serialize;

use super::accuracy::{class_priors, mix_seed};
use crate::data::Labelled;
use crate::error::{Error, Field, Result};
use crate::net::forward::argmax_columns;
use crate::net::{Layer, Mlp, OutputPass};
use crate::stats::gaussian::{LowRankFactor, NormalStream};
use crate::stats::EmpiricalMoments;
use crate::timing::flops;

/// The network's accuracy on one kind of input.
#[derive(Clone, Debug, Serialize)]
pub struct SurrogateResult {
    /// Σ_c p(c)·a_c: the share a_c of class c's samples classified as c, weighted by the
    /// data's class priors p(c) = n_c/n as the network's and the theory's accuracy are (with
    /// draws in the data's own class counts, the share of all samples classified right).
    pub accuracy: f64,
    /// Its standard error: √(Σ_c p(c)² a_c(1−a_c)/m_c) over the m_c draws of class c (a
    /// sample stratified by class: the binomial √(a(1−a)/n) of the real data, whose class counts
    /// vary from sample to sample, also holds the spread between the classes).
    pub stderr: f64,
    /// Samples evaluated (all classes).
    pub n_samples: usize,
    /// Directions left out of the sampled covariances (d − r of each [`LowRankFactor`]),
    /// summed over them (0 for real data).
    pub dropped_directions: usize,
    /// The largest variance left out, over the sampled covariances (below d·ε·maxᵢ Σᵢᵢ; 0
    /// when none).
    pub largest_dropped_variance: f64,
}

/// Accuracy on order-1 and order-2 surrogates and on the real data.
#[derive(Clone, Debug, Serialize)]
pub struct SurrogateAccuracy {
    pub order1: SurrogateResult,
    pub order2: SurrogateResult,
    pub real: SurrogateResult,
    /// Floating-point operations the computation took (see [`surrogate_accuracy`]).
    #[serde(skip)]
    pub flops: f64,
}

/// Columns of Σ_w per task of [`within_class_covariance`].
const COLUMNS_PER_TASK: usize = 8;

/// Draws pushed through the network per block.
const BLOCK: usize = 1024;

/// Σ_w = Σ_c (n_c / n) Σ_c, the average within-class covariance (not
/// [`EmpiricalMoments::pooled`], which also holds the spread of the class means).
pub fn within_class_covariance(input: &EmpiricalMoments) -> Result<Mat<f64>> {
    class_weighted_sum(input, Entries::All)
}

/// Which entries of Σ_w [`class_weighted_sum`] forms.
#[derive(Clone, Copy)]
enum Entries {
    /// Every entry: [`within_class_covariance`].
    All,
    /// The lower triangle, the strict upper one left 0: what [`LowRankFactor::new`] reads of
    /// Σ_w (its lower triangle; the upper one only in the finite scan, which zeros pass), from
    /// half the reads of the ten class covariances (MNIST: 25 instead of 49 MB).
    Lower,
}

/// Σ_w = Σ_c (n_c / n) Σ_c, the `entries` asked for (the others 0).
fn class_weighted_sum(input: &EmpiricalMoments, entries: Entries) -> Result<Mat<f64>> {
    let n: u64 = input.counts.iter().sum();
    let d = input.per_class.first().map_or(0, |m| m.dim());
    if n == 0 || input.per_class.len() != input.counts.len() {
        return Err(Error::Shape(
            "within-class covariance needs per-class moments and counts".into(),
        ));
    }
    if input.per_class.iter().any(|m| m.cov.shape() != (d, d)) {
        return Err(Error::Shape(
            "within-class covariance needs the classes' covariances of one shape".into(),
        ));
    }
    let weights: Vec<f64> = input.counts.iter().map(|&c| c as f64 / n as f64).collect();
    // Column by column, in parallel, every class into the column while it is in cache (one
    // pass over each class's Σ and one write of Σ_w, where a pass per class read and wrote all
    // of Σ_w ten times for MNIST); each entry sums its classes in class order, as before.
    // Zeroed once, padding rows included ([`crate::io::par_zeros`]; `Mat::zeros` wrote the
    // allocator's zeros a second time).
    let mut sw = crate::io::par_zeros::<f64>(d, d);
    sw.par_col_chunks_mut(COLUMNS_PER_TASK)
        .enumerate()
        .for_each(|(t, mut cols)| {
            for k in 0..cols.ncols() {
                let j = t * COLUMNS_PER_TASK + k;
                let dst = cols
                    .rb_mut()
                    .col_mut(k)
                    .try_as_col_major_mut()
                    .expect("a column of an owned matrix is contiguous")
                    .as_slice_mut();
                let from = match entries {
                    Entries::All => 0,
                    Entries::Lower => j,
                };
                for (m, &w) in input.per_class.iter().zip(&weights) {
                    for (s, c) in dst[from..].iter_mut().zip(&m.cov.col_as_slice(j)[from..]) {
                        *s += w * *c;
                    }
                }
            }
        });
    Ok(sw)
}

/// The network's accuracy on surrogates of `input` (the data's measured input moments), with
/// `real`: the data and the network's accuracy on them (measured from the outputs of the
/// statistics' forward pass, [`super::outputs::ClassOutputs::accuracy`]). `per_class` draws
/// per class (`None`: the data's own class counts), seeded. The flops counted: K + 1 pivoted
/// Cholesky factors ([`LowRankFactor::flops`]: Σ_w and each Σ_c, on their supports), and per
/// class and order the folded first layer and the draws' forward pass (see [`folded_network`]).
pub fn surrogate_accuracy<'a>(
    net: &Mlp,
    real: (impl Into<Labelled<'a>>, f64),
    input: &EmpiricalMoments,
    per_class: Option<usize>,
    seed: u64,
) -> Result<SurrogateAccuracy> {
    if per_class == Some(0) {
        return Err(Error::config(
            Field::SurrogateSamples,
            "must be at least 1 per class",
        ));
    }
    let counts: Vec<usize> = input
        .counts
        .iter()
        .map(|&c| per_class.unwrap_or(c as usize))
        .collect();
    let sw = class_weighted_sum(input, Entries::Lower)?;
    let classes = (&counts[..], &input.classes[..]);
    let mean = |k: usize| input.per_class[k].mean.as_ref();
    // Order 1: x = μ_c + F_w z, one factor of Σ_w for all classes (zero-mean draws shifted by
    // each class's mean); order 2: x = μ_c + F_c z, each class's factor formed in that class's
    // task and dropped after its draws, so that only the factors in use are held (the next
    // one reuses their memory instead of faulting in fresh pages). Every factorisation is on
    // one thread; class k draws from its own seeded stream.
    // Order 1's classes share F_w, so its first layer is formed once for all of them (each
    // class adds only its bias W₁μ_c + b₁).
    let priors = class_priors(&input.counts)?;
    let classes = (classes, &priors[..]);
    let (order1, order2) = rayon::join(
        || -> Result<_> {
            let pooled = LowRankFactor::new(sw.as_ref(), Par::Seq, "surrogates: Σ_w")?;
            let (w, fold) = first_layer(net, pooled.factor())?;
            let (result, f) = evaluate(net, classes, seed, 1, |k| {
                Ok((ClassFactor::Shared(&w), mean(k)))
            })?;
            let result = SurrogateResult {
                dropped_directions: pooled.dropped(),
                largest_dropped_variance: pooled.residual(),
                ..result
            };
            Ok((result, f + fold + pooled.flops()))
        },
        || {
            evaluate(net, classes, seed, 2, |k| {
                let cov = input.per_class[k].cov.as_ref();
                let factor = LowRankFactor::new(cov, Par::Seq, "surrogates: Σ_c")?;
                Ok((ClassFactor::Own(factor), mean(k)))
            })
        },
    );
    let (order1, f1) = order1?;
    let (order2, f2) = order2?;
    let flops = f1 + f2;
    let (data, a) = (real.0.into(), real.1);
    let real = SurrogateResult {
        accuracy: a,
        stderr: binomial_stderr(a, data.len()),
        n_samples: data.len(),
        dropped_directions: 0,
        largest_dropped_variance: 0.0,
    };
    Ok(SurrogateAccuracy {
        order1,
        order2,
        real,
        flops,
    })
}

/// Σ_c p_c a_c and √(Σ_c p_c² a_c(1−a_c)/m_c) of a sample stratified by class: `hits` holds
/// (hits, draws m_c) per class, a_c = hits/m_c, `priors` p_c (NaN for no draws).
fn stratified_accuracy(hits: impl Iterator<Item = (usize, usize)>, priors: &[f64]) -> (f64, f64) {
    let (mut a, mut var) = (0.0, 0.0);
    for ((h, m), &p) in hits.zip(priors) {
        let ac = h as f64 / m as f64;
        a += p * ac;
        var += p * p * ac * (1.0 - ac) / m as f64;
    }
    (a, var.max(0.0).sqrt())
}

/// √(a(1−a)/n).
pub fn binomial_stderr(a: f64, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        (a * (1.0 - a) / n as f64).max(0.0).sqrt()
    }
}

/// The network `net` with its first layer folded with a Gaussian's factor F (d × r) and mean
/// μ: first layer (W₁F, W₁μ + b₁), which takes z (r rows) where `net` takes x = μ + F z.
pub fn folded_network(net: &Mlp, factor: MatRef<'_, f64>, mean: ColRef<'_, f64>) -> Mlp {
    with_first_layer(net, folded_weights(net, factor), mean)
}

/// The first layer's weights for the draws of x = μ + F z (F: d × r) and the flops that formed
/// them (module docs): G = W₁F ([`folded_weights`], 2N₁dr) where N₁ ≥ r; where N₁ < r the
/// [`LowRankFactor`] H of G Gᵀ (N₁ × r', r' ≤ N₁; 2N₁²r for G Gᵀ and H's own flops more),
/// whose pre-activations H z' have G z's distribution. Errors as [`LowRankFactor::new`].
fn first_layer(net: &Mlp, factor: MatRef<'_, f64>) -> Result<(Mat<f64>, f64)> {
    let g = folded_weights(net, factor);
    let (n1, r) = g.shape();
    let fold = flops::gemm(n1, r, factor.nrows());
    if n1 >= r {
        return Ok((g, fold));
    }
    let mut c = Mat::zeros(n1, n1);
    matmul(
        c.as_mut(),
        Accum::Replace,
        g.as_ref(),
        g.transpose(),
        1.0,
        Par::Seq,
    );
    let h = LowRankFactor::new(c.as_ref(), Par::Seq, "surrogates: W₁ΣW₁ᵀ")?;
    let flops = fold + flops::gemm(n1, n1, r) + h.flops();
    Ok((h.factor().to_owned(), flops))
}

/// W₁F (N₁ × r): the first layer's weights folded with a factor F (d × r).
fn folded_weights(net: &Mlp, factor: MatRef<'_, f64>) -> Mat<f64> {
    let first = &net.layers[0];
    let mut w = Mat::zeros(first.fan_out(), factor.ncols());
    matmul(
        w.as_mut(),
        Accum::Replace,
        first.w.as_ref(),
        factor,
        1.0,
        Par::Seq,
    );
    w
}

/// `net` with the folded weights `w` = W₁F ([`folded_weights`]) and the bias W₁μ + b₁ as its
/// first layer.
fn with_first_layer(net: &Mlp, w: Mat<f64>, mean: ColRef<'_, f64>) -> Mlp {
    let first = &net.layers[0];
    let mut b = first.b.clone();
    matmul(
        b.as_mut(),
        Accum::Add,
        first.w.as_ref(),
        mean,
        1.0,
        Par::Seq,
    );
    let mut layers = vec![Layer { w, b }];
    layers.extend(net.layers[1..].iter().cloned());
    let mut bias_free = net.bias_free.clone();
    if let Some(first) = bias_free.first_mut() {
        *first = false;
    }
    Mlp {
        layers,
        activation: net.activation.clone(),
        bias_free,
    }
}

/// The factor F of a class's surrogate x = μ + F z in [`evaluate`].
enum ClassFactor<'a> {
    /// A factor shared by every class, as its first layer's weights ([`first_layer`]), formed
    /// once by the caller.
    Shared(&'a Mat<f64>),
    /// The class's own factor, its first layer formed for the class.
    Own(LowRankFactor),
}

/// Draws `counts[k]` samples x = μ + F z of class `classes[k]`, (F, μ) = `gaussian(k)` (F
/// shared by the classes with its first layer formed by the caller, or formed for the class,
/// [`ClassFactor`]), and measures the network's accuracy on them, class k weighted by
/// `priors[k]` ([`SurrogateResult::accuracy`]: `--surrogate-samples` draws as many of every
/// class, whose plain share of hits was the class-balanced accuracy, 0.454 where the
/// prior-weighted one is 0.513, adv59). The factor fields of the
/// result are those of the factors `gaussian` formed: the directions dropped summed over them
/// and the largest residual variance (0 when every factor was shared; the caller then fills
/// them). The flops: per class the pivoted Cholesky of each factor formed
/// ([`LowRankFactor::flops`], on its support), its first layer ([`first_layer`]), the bias
/// W₁μ + b₁ (2N₁d) and the forward pass of the draws with a first layer of width r' (the
/// first layer's columns, [`flops::forward`]).
fn evaluate<'a>(
    net: &Mlp,
    ((counts, classes), priors): ((&[usize], &[usize]), &[f64]),
    seed: u64,
    order: u64,
    gaussian: impl Fn(usize) -> Result<(ClassFactor<'a>, ColRef<'a, f64>)> + Sync,
) -> Result<(SurrogateResult, f64)> {
    let total: usize = counts.iter().sum();
    let block = BLOCK.min(counts.iter().copied().max().unwrap_or(0).max(1));
    let per_class = counts
        .par_iter()
        .zip(classes)
        .enumerate()
        .map_init(
            || Draws::new(net, block),
            |draws, (k, (&n, &c))| -> Result<ClassDraws> {
                let mut normals = NormalStream::new(mix_seed(seed, 100 * order + k as u64));
                let (factor, mean) = gaussian(k)?;
                let (folded, own) = match factor {
                    ClassFactor::Shared(w) => (with_first_layer(net, w.clone(), mean), None),
                    ClassFactor::Own(f) => {
                        let (w, fold) = first_layer(net, f.factor())?;
                        (with_first_layer(net, w, mean), Some((f, fold)))
                    }
                };
                let hits = hits_on_draws(&folded, n, c, &mut normals, draws);
                let widths = folded.widths();
                let bias = flops::gemm(widths[1], 1, mean.nrows());
                let drawn = bias + flops::forward(&widths, n);
                // A shared factor's fold and pivoted Cholesky are the caller's to count.
                let (fold, cholesky, dropped, residual) = own
                    .map_or((0.0, 0.0, 0, 0.0), |(f, fold)| {
                        (fold, f.flops(), f.dropped(), f.residual())
                    });
                Ok(ClassDraws {
                    hits,
                    flops: drawn + fold + cholesky,
                    dropped,
                    residual,
                })
            },
        )
        .collect::<Result<Vec<_>>>()?;
    let (accuracy, stderr) = stratified_accuracy(
        per_class.iter().zip(counts).map(|(c, &n)| (c.hits, n)),
        priors,
    );
    let result = SurrogateResult {
        accuracy,
        stderr,
        n_samples: total,
        dropped_directions: per_class.iter().map(|c| c.dropped).sum(),
        largest_dropped_variance: per_class.iter().map(|c| c.residual).fold(0.0, f64::max),
    };
    Ok((result, per_class.iter().map(|c| c.flops).sum()))
}

/// One class's part of [`evaluate`].
struct ClassDraws {
    hits: usize,
    flops: f64,
    /// The dropped directions and the residual of the class's own factor (0 for a borrowed one).
    dropped: usize,
    residual: f64,
}

/// The buffers of [`hits_on_draws`], kept by each rayon task across the classes it takes (the
/// draws of one block, r × `block` values, and the output pass's buffers, which depend only on
/// the hidden widths that every folded network shares): one allocation per task instead of a
/// fresh, zeroed, page-faulted one per class and order.
struct Draws {
    /// Grown to r × block values by the first class that needs them.
    z: Vec<f64>,
    fp: OutputPass,
    block: usize,
}

impl Draws {
    fn new(net: &Mlp, block: usize) -> Self {
        Draws {
            z: Vec::new(),
            fp: OutputPass::new(net, block),
            block,
        }
    }
}

/// How many of n draws through `folded` (its first layer [`first_layer`]'s) have the
/// argmax `label`: z ~ N(0, I_r) drawn column by column from `normals`, pushed through in blocks
/// of at most [`BLOCK`] (`draws.block`) columns, r × block in column-major order in `draws.z`.
fn hits_on_draws(
    folded: &Mlp,
    n: usize,
    label: usize,
    normals: &mut NormalStream,
    draws: &mut Draws,
) -> usize {
    let r = folded.widths()[0];
    let block = draws.block;
    if draws.z.len() < r * block {
        draws.z.resize(r * block, 0.0);
    }
    let mut hits = 0;
    for start in (0..n).step_by(block) {
        let len = block.min(n - start);
        let z = &mut draws.z[..r * len];
        for col in z.chunks_exact_mut(r.max(1)).take(len) {
            normals.fill(&mut col[..r]);
        }
        let z = MatRef::from_column_major_slice(&draws.z[..r * len], r, len);
        folded.output_into(z, &mut draws.fp);
        hits += argmax_columns(draws.fp.output())
            .filter(|&p| p == label)
            .count();
    }
    hits
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat, Row};

    use super::*;
    use crate::data::Dataset;
    use crate::net::{Activation, ForwardPass};
    use crate::stats::{EmpiricalMoments, Moments};

    /// Σ_w column by column equals the class-by-class sum Σ_c (n_c / n) Σ_c bit for bit (each
    /// entry 0 + w₁Σ₁ + w₂Σ₂ + …, in class order), for a width that leaves a partial chunk of
    /// columns; classes of different widths are an error naming the within-class covariance
    /// (the element-wise sum panicked on them).
    #[test]
    fn within_class_covariance_sums_the_classes_in_order() {
        let d = 19;
        let moments = |c: usize| {
            let cov = Mat::from_fn(d, d, |i, j| {
                ((i * 7 + j * 3 + c * 5) % 13) as f64 / 3.0 + 1.0 / (1.0 + (i * j + c) as f64)
            });
            Moments::gaussian(Col::zeros(d), cov)
        };
        let counts = vec![3u64, 5, 11];
        let input = EmpiricalMoments {
            per_class: (0..3).map(moments).collect(),
            classes: vec![0, 1, 2],
            counts: counts.clone(),
            pooled: None,
        };
        let sw = within_class_covariance(&input).unwrap();
        let n = 19.0;
        for j in 0..d {
            for i in 0..d {
                let mut want = 0.0;
                for (m, &c) in input.per_class.iter().zip(&counts) {
                    want += c as f64 / n * m.cov[(i, j)];
                }
                assert_eq!(sw[(i, j)].to_bits(), want.to_bits(), "({i}, {j})");
            }
        }
        // The surrogates' lower triangle: the same entries, zeros above, and the same factor.
        let lower = class_weighted_sum(&input, Entries::Lower).unwrap();
        for j in 0..d {
            for i in 0..d {
                let want = if i >= j { sw[(i, j)] } else { 0.0 };
                assert_eq!(lower[(i, j)].to_bits(), want.to_bits(), "lower ({i}, {j})");
            }
        }
        let factor = |m: &Mat<f64>| {
            let f = LowRankFactor::new(m.as_ref(), Par::Seq, "Σ_w").unwrap();
            (f.factor().to_owned(), f.residual().to_bits())
        };
        assert_eq!(factor(&sw), factor(&lower));
        let mut mixed = input;
        mixed.per_class[1] = Moments::gaussian(Col::zeros(d - 1), Mat::zeros(d - 1, d - 1));
        let e = within_class_covariance(&mixed).unwrap_err();
        assert!(e.to_string().contains("within-class covariance"), "{e}");
    }

    /// A network that calls every input class 0 (y = (x, −x), both classes' x ~ N(10, 1)) is
    /// right on class 0 and wrong on class 1, so its accuracy is the prior of class 0, 3/4 with
    /// counts 3 and 1, whatever the number of draws per class: 64 draws of each (the old
    /// share of hits: 1/2) or the data's own counts. Every class's a_c is 0 or 1: stderr 0.
    #[test]
    fn surrogate_accuracy_weights_the_classes_by_their_priors() {
        let net = Mlp {
            layers: vec![
                Layer {
                    w: Mat::from_fn(1, 1, |_, _| 1.0),
                    b: Col::zeros(1),
                },
                Layer {
                    w: Mat::from_fn(2, 1, |i, _| [1.0, -1.0][i]),
                    b: Col::zeros(2),
                },
            ],
            activation: Activation::Linear.into(),
            bias_free: vec![false, false],
        };
        let class = || Moments::gaussian(Col::from_fn(1, |_| 10.0), Mat::from_fn(1, 1, |_, _| 1.0));
        let input = EmpiricalMoments {
            per_class: vec![class(), class()],
            classes: vec![0, 1],
            counts: vec![3, 1],
            pooled: None,
        };
        let data = Dataset {
            x: Mat::from_fn(1, 4, |_, _| 10.0),
            labels: vec![0, 0, 0, 1],
            n_classes: 2,
        };
        for per_class in [Some(64), None] {
            let s = surrogate_accuracy(&net, (&data, 0.75), &input, per_class, 1).unwrap();
            for r in [&s.order1, &s.order2] {
                assert_eq!((r.accuracy, r.stderr), (0.75, 0.0), "{per_class:?}: {r:?}");
            }
        }
    }

    /// Where the first layer is narrower than the factor (N₁ = 3 < r = 5) its weights H are a
    /// factor of G Gᵀ, G = W₁F (H Hᵀ = G Gᵀ to rounding, r' = N₁ columns), so that H z' has G z's
    /// distribution; where it is not (N₁ = 3 ≥ r = 2) they are G itself, bit for bit. The flops
    /// count G, G Gᵀ and H's factor, or G alone.
    #[test]
    fn first_layer_draws_the_folded_pre_activations() {
        let d = 7;
        let net = Mlp::init(&[d, 3, 2], Activation::Tanh, 1.0, 5).unwrap();
        let w1 = net.layers[0].w.as_ref();
        for r in [5, 2] {
            let factor = Mat::from_fn(d, r, |i, k| ((i * 5 + k * 3) % 11) as f64 / 11.0 - 0.45);
            let g = w1 * &factor;
            let (h, flops) = first_layer(&net, factor.as_ref()).unwrap();
            if r > 3 {
                assert_eq!(h.shape(), (3, 3));
                let (hh, gg) = (&h * h.transpose(), &g * g.transpose());
                let scale = (0..3).map(|i| gg[(i, i)]).fold(0.0, f64::max);
                for i in 0..3 {
                    for j in 0..3 {
                        let e = (hh[(i, j)] - gg[(i, j)]).abs();
                        assert!(
                            e < 1e-13 * scale,
                            "({i},{j}): {} vs {}",
                            hh[(i, j)],
                            gg[(i, j)]
                        );
                    }
                }
                let want = (2 * 3 * r * d + 2 * 3 * 3 * r) as f64;
                assert!(flops > want, "{flops} <= {want}");
            } else {
                assert_eq!(h, folded_weights(&net, factor.as_ref()));
                assert_eq!(flops, (2 * 3 * r * d) as f64);
            }
        }
    }

    /// The folded network on z gives the network's outputs on x = μ + F z (to rounding), for
    /// a factor with fewer columns than rows (a singular Σ).
    #[test]
    fn folded_network_equals_the_network_on_the_draws() {
        let (d, r, n) = (5, 3, 7);
        let net = Mlp::init(&[d, 4, 3], Activation::Tanh, 1.0, 2).unwrap();
        let factor = Mat::from_fn(d, r, |i, k| ((i * 3 + k * 5) % 7) as f64 / 7.0 - 0.4);
        let mean = Col::from_fn(d, |i| 0.1 * i as f64 - 0.2);
        let z = Mat::from_fn(r, n, |i, j| ((i * 11 + j * 13) % 17) as f64 / 8.0 - 1.0);
        let x = &mean * Row::<f64>::ones(n) + &factor * &z;
        let folded = folded_network(&net, factor.as_ref(), mean.as_ref());
        assert_eq!(folded.widths(), vec![r, 4, 3]);
        let (mut fa, mut fb) = (ForwardPass::new(&net, n), ForwardPass::new(&folded, n));
        net.forward_into(x.as_ref(), &mut fa);
        folded.forward_into(z.as_ref(), &mut fb);
        for j in 0..n {
            for i in 0..3 {
                let (a, b) = (fa.output()[(i, j)], fb.output()[(i, j)]);
                assert!(
                    (a - b).abs() < 1e-13 * (1.0 + a.abs()),
                    "({i},{j}): {a} vs {b}"
                );
            }
        }
    }
}
