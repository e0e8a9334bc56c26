//! Information transfer between orders in the quadratic closure (DESIGN.md §4.5).
//!
//! For φ(h) = h + αh² and the measured statistics of hˡ (μ, Σ, κ₃\[i,i,j\], κ₄\[i,i,j,j\]), with
//! gᵢ = 1 + 2αμᵢ, the post-activation moments are exactly (DESIGN.md §3)
//!
//! ```text
//! mᵢ  = μᵢ                    [mean, linear]
//!     + αμᵢ²                  [mean, quadratic]
//!     + αΣᵢᵢ                  [covariance → mean]
//! Cᵢⱼ = Σᵢⱼ                   [covariance, linear]
//!     + (gᵢgⱼ − 1)Σᵢⱼ         [mean × covariance]
//!     + 2α²Σᵢⱼ²               [covariance, quadratic]
//!     + α(gᵢκ₃[i,j,j] + gⱼκ₃[i,i,j])   [κ₃ → covariance]
//!     + α²κ₄[i,i,j,j]         [κ₄ → covariance]
//! ```
//!
//! Each term is reported by its norm (Euclidean for the mean, Frobenius for the covariance),
//! averaged over classes, and by its share of the summed norms of its group:
//! share_k = ‖T_k‖ / Σ_j ‖T_j‖ (the terms are not orthogonal, so shares of norms, not of
//! squared norms, are the honest additive summary). "covariance feeds the mean" is the share of
//! αΣᵢᵢ in m; "higher orders feed the covariance" is the κ₃ + κ₄ share in C. A group whose terms
//! all have norm 0 (hˡ is 0 for every sample of every class: a layer with zero weights and
//! biases) has nothing to share: its shares are `None` (null in JSON, "n/a" in the tables), not
//! 0, which would say that no term contributes to a moment the terms make up in full.
//!
//! The decomposition is exact for sample moments too, so the sum of the terms must reproduce
//! the measured mean and covariance of zˡ; the relative residuals are reported as a check:
//! ‖Σ_k T_k − M‖ / max(‖M‖, √ε·Σ_k ‖T_k‖) for a measured moment M, ε = 2⁻⁵². Relative to M, a
//! wrong term reads as the share of M it leaves unaccounted for, also where terms cancel (units
//! on the vertex of φ, where Σ and (gg−1)Σ cancel: adv62); the floor covers an M the terms
//! cancel to below half of f64's digits (M = 0 on the roots of φ, adv61), where rounding of
//! c·ε·Σ‖T_k‖ reads c·√ε.

use faer::{Col, Mat};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::measure::LayerStats;
use crate::net::Stage;
use crate::net::{Activation, Mlp};
use crate::stats::{Moments, SliceUnitView};

/// One term of the decomposition.
#[derive(Clone, Debug, Serialize)]
pub struct TermShare {
    /// What the term is ("μ", "αμ²", "αΣᵢᵢ", "Σ", "(gg−1)Σ", "2α²Σ²", "κ₃", "κ₄").
    pub term: &'static str,
    /// Which input cumulants it comes from ("mean", "cov", "mean×cov", "k3", "k4").
    pub source: &'static str,
    /// Norm of the term, averaged over classes.
    pub norm: f64,
    /// norm / Σ norms of its group; `None` where every norm of the group is 0 (module docs).
    pub share: Option<f64>,
}

/// The decomposition at one hidden layer.
#[derive(Clone, Debug, Serialize)]
pub struct LayerTransfer {
    /// l: the decomposition maps hˡ to zˡ.
    pub layer: usize,
    pub mean_terms: Vec<TermShare>,
    pub cov_terms: Vec<TermShare>,
    /// Share of αΣᵢᵢ in the mean: how much of zˡ's mean comes from hˡ's covariance (`None`
    /// where the mean's terms are all 0).
    pub cov_feeds_mean: Option<f64>,
    /// Share of the κ₃ and κ₄ terms in the covariance (`None` where the covariance's terms are
    /// all 0).
    pub higher_feeds_cov: Option<f64>,
    /// ‖Σ terms − measured mean of zˡ‖ / max(‖measured mean‖, √ε·Σ_k ‖T_k‖), averaged over
    /// classes (module docs).
    pub residual_mean: f64,
    /// ‖Σ terms − measured covariance of zˡ‖_F / max(‖measured covariance‖_F, √ε·Σ_k ‖T_k‖_F),
    /// averaged over classes (module docs).
    pub residual_cov: f64,
}

const MEAN_TERMS: [(&str, &str); 3] = [("μ", "mean"), ("αμ²", "mean"), ("αΣᵢᵢ", "cov")];
const COV_TERMS: [(&str, &str); 5] = [
    ("Σ", "cov"),
    ("(gg−1)Σ", "mean×cov"),
    ("2α²Σ²", "cov"),
    ("κ₃", "k3"),
    ("κ₄", "k4"),
];

/// The decomposition at every hidden layer of a quadratic network, from statistics measured
/// with κ slices of every pre-activation (`Higher::Pre`). `None` for other activations.
pub fn quadratic_transfer(net: &Mlp, stats: &LayerStats) -> Result<Option<Vec<LayerTransfer>>> {
    let Some(Activation::Quadratic { alpha }) = net.activation.uniform() else {
        return Ok(None);
    };
    (1..=net.depth())
        .map(|l| {
            let pre = stats.get(Stage::Pre(l));
            let post = stats.get(Stage::Post(l));
            let (Some(pre), Some(post)) = (pre, post) else {
                return Err(Error::Shape(format!(
                    "no measured statistics for h{l}/z{l}"
                )));
            };
            layer_transfer(l, alpha, &pre.per_class, &post.per_class)
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// The decomposition of one layer from the per-class moments of hˡ (with κ slices) and the
/// measured moments of zˡ (for the residuals).
pub fn layer_transfer(
    layer: usize,
    alpha: f64,
    pre: &[Moments],
    post: &[Moments],
) -> Result<LayerTransfer> {
    if pre.is_empty() || pre.len() != post.len() {
        return Err(Error::Shape(format!(
            "transfer at layer {layer}: {} pre- and {} post-activation classes",
            pre.len(),
            post.len()
        )));
    }
    let k = pre.len() as f64;
    let mut mean_norms = [0.0; 3];
    let mut cov_norms = [0.0; 5];
    let (mut res_mean, mut res_cov) = (0.0, 0.0);
    for (h, z) in pre.iter().zip(post) {
        let t = terms(alpha, h, layer)?;
        for (acc, v) in mean_norms.iter_mut().zip(&t.mean) {
            *acc += norm(v.iter().copied()) / k;
        }
        for (acc, m) in cov_norms.iter_mut().zip(&t.cov) {
            *acc += frobenius(m) / k;
        }
        let n = h.dim();
        let m_sum = Col::from_fn(n, |i| t.mean.iter().map(|v| v[i]).sum::<f64>());
        let c_sum = Mat::from_fn(n, n, |i, j| t.cov.iter().map(|m| m[(i, j)]).sum::<f64>());
        let scale_m = t.mean.iter().map(|v| norm(v.iter().copied())).sum::<f64>();
        let scale_c = t.cov.iter().map(frobenius).sum::<f64>();
        res_mean += residual(
            norm((0..n).map(|i| m_sum[i] - z.mean[i])),
            norm(z.mean.iter().copied()),
            scale_m,
        ) / k;
        res_cov += residual(frobenius(&(&c_sum - &z.cov)), frobenius(&z.cov), scale_c) / k;
    }
    let mean_terms = shares(&MEAN_TERMS, &mean_norms);
    let cov_terms = shares(&COV_TERMS, &cov_norms);
    Ok(LayerTransfer {
        layer,
        cov_feeds_mean: mean_terms[2].share,
        higher_feeds_cov: cov_terms[3]
            .share
            .zip(cov_terms[4].share)
            .map(|(a, b)| a + b),
        mean_terms,
        cov_terms,
        residual_mean: res_mean,
        residual_cov: res_cov,
    })
}

struct Terms {
    mean: [Col<f64>; 3],
    cov: [Mat<f64>; 5],
}

/// The eight terms of one class (see the module docs).
fn terms(alpha: f64, h: &Moments, layer: usize) -> Result<Terms> {
    // The terms are in natural units (the slices of data of extreme scale are stored in
    // another, `Moments::slice_unit`).
    let natural = SliceUnitView::natural(h);
    let h = natural.moments();
    let (Some(k3), Some(k4)) = (h.k3_iij(), h.k4_iijj()) else {
        return Err(Error::Unsupported(format!(
            "transfer at layer {layer}: the statistics of h{layer} carry no κ₃/κ₄ slices"
        )));
    };
    let n = h.dim();
    let (mu, s) = (&h.mean, &h.cov);
    let g = Col::from_fn(n, |i| 1.0 + 2.0 * alpha * mu[i]);
    Ok(Terms {
        mean: [
            mu.clone(),
            Col::from_fn(n, |i| alpha * mu[i] * mu[i]),
            Col::from_fn(n, |i| alpha * s[(i, i)]),
        ],
        cov: [
            s.clone(),
            Mat::from_fn(n, n, |i, j| (g[i] * g[j] - 1.0) * s[(i, j)]),
            Mat::from_fn(n, n, |i, j| 2.0 * alpha * alpha * s[(i, j)] * s[(i, j)]),
            // k3[(i, j)] = κ₃[i,i,j], so κ₃[i,j,j] = k3[(j, i)].
            Mat::from_fn(n, n, |i, j| alpha * (g[i] * k3[(j, i)] + g[j] * k3[(i, j)])),
            Mat::from_fn(n, n, |i, j| alpha * alpha * k4[(i, j)]),
        ],
    })
}

fn shares<const N: usize>(
    names: &[(&'static str, &'static str); N],
    norms: &[f64; N],
) -> Vec<TermShare> {
    let total: f64 = norms.iter().sum();
    names
        .iter()
        .zip(norms)
        .map(|(&(term, source), &norm)| TermShare {
            term,
            source,
            norm,
            share: (total > 0.0).then(|| norm / total),
        })
        .collect()
}

fn norm(v: impl Iterator<Item = f64>) -> f64 {
    v.map(|x| x * x).sum::<f64>().sqrt()
}

fn frobenius(m: &Mat<f64>) -> f64 {
    m.norm_l2()
}

/// The residual `diff` = ‖Σ_k T_k − M‖ of a measured moment M (norm `measured`) whose terms have
/// summed norms `terms`: diff / max(‖M‖, √ε·Σ_k ‖T_k‖), ε = 2⁻⁵² (0 where diff is 0).
///
/// Relative to the measured moment, which is what a wrong term is judged against: the share of
/// zˡ's moment the table fails to account for. The floor √ε·Σ‖T_k‖ covers the moments that the
/// terms make up by cancelling to below half of f64's digits of their own scale (zˡ = 0 where
/// every unit sits on a root of φ, hˡ ∈ {0, −1/α}; adv61 divided by ‖M‖ = 0 and printed inf):
/// their sum rounds at c·ε·Σ‖T_k‖ for a small c, so rounding reads at most c·√ε ≈ 10⁻⁷ there,
/// never 1. adv61's denominator max(‖M‖, Σ‖T_k‖) hid a wrong term behind cancelling ones: at
/// units on the vertex of φ (gᵢ = 1 + 2αμᵢ = 0) Σ and (gg−1)Σ cancel, ‖C‖ is 2α²‖Σ²‖, and
/// for Σ = 0.01·I, α = 0.5 a covariance off by 10% of itself read 2.5·10⁻⁴, a term wrong by
/// half of C (2α²Σ² written α²Σ²) 1.2·10⁻³ (adv62); now 0.09 and 0.5.
fn residual(diff: f64, measured: f64, terms: f64) -> f64 {
    if diff == 0.0 {
        0.0
    } else {
        diff / measured.max(f64::EPSILON.sqrt() * terms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hˡ = 0 for every sample: every term is 0 and no share can be formed (0/0); they were
    /// reported as 0 (shares summing to 0, "the covariance feeds none of the mean"), adv61.
    #[test]
    fn a_layer_without_terms_has_no_shares() {
        let zero = |n: usize| {
            let mut m = Moments::gaussian(Col::zeros(n), Mat::zeros(n, n));
            m.set_slices((Some(Mat::zeros(n, n)), Some(Mat::zeros(n, n)), None), 1.0);
            m
        };
        let pre = vec![zero(3), zero(3)];
        let post = vec![zero(3), zero(3)];
        let t = layer_transfer(1, 0.5, &pre, &post).unwrap();
        let terms = t.mean_terms.iter().chain(&t.cov_terms);
        assert!(
            terms.clone().all(|x| x.norm == 0.0 && x.share.is_none()),
            "{t:?}"
        );
        assert_eq!((t.cov_feeds_mean, t.higher_feeds_cov), (None, None));
        assert_eq!((t.residual_mean, t.residual_cov), (0.0, 0.0));
    }

    /// Units on the vertex of φ(h) = h + αh² (μ = −1/(2α), g = 0; Gaussian, κ₃ = κ₄ = 0,
    /// Σ = s·I): Σ and (gg−1)Σ cancel and zˡ's covariance is 2α²Σ² alone. A measured covariance
    /// off by 10% of itself (what a wrong term leaves, e.g. κ₄'s α² written α) must read as a
    /// residual near 0.1; relative to the terms' summed norms (adv61) it read 2.5·10⁻⁴. The
    /// exact moments read 0 to rounding. Mutation: the denominator max(‖M‖, Σ‖T_k‖).
    #[test]
    fn a_wrong_term_does_not_hide_behind_cancelling_terms() {
        let (alpha, s, n) = (0.5, 0.01, 3);
        let mu = -1.0 / (2.0 * alpha);
        let mut h = Moments::gaussian(
            Col::from_fn(n, |_| mu),
            Mat::from_fn(n, n, |i, j| if i == j { s } else { 0.0 }),
        );
        h.set_slices((Some(Mat::zeros(n, n)), Some(Mat::zeros(n, n)), None), 1.0);
        // Exact moments of z = h + αh²: m = μ + αμ² + αs, C = 2α²Σ² (g = 0).
        let exact = |c_scale: f64| {
            Moments::gaussian(
                Col::from_fn(n, |_| mu + alpha * mu * mu + alpha * s),
                Mat::from_fn(n, n, |i, j| {
                    if i == j {
                        c_scale * 2.0 * alpha * alpha * s * s
                    } else {
                        0.0
                    }
                }),
            )
        };
        let right = layer_transfer(1, alpha, &[h.clone()], &[exact(1.0)]).unwrap();
        assert!(right.residual_cov < 1e-12, "{right:?}");
        let wrong = layer_transfer(1, alpha, &[h], &[exact(1.1)]).unwrap();
        // ‖ΣT − C‖/‖C‖ = 0.1/1.1 exactly, to rounding.
        assert!((wrong.residual_cov - 0.1 / 1.1).abs() < 1e-9, "{wrong:?}");
    }
}
