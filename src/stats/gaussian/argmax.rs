//! P_{y~N(μ,Σ)}(argmax y = c) for accuracy prediction (DESIGN.md §4.2).

use faer::{ColRef, MatRef};

use crate::error::{Error, Result};
use crate::special::normal_cdf;
use crate::stats::ROUNDING_LEVEL;
use crate::timing::flops;

/// P(argmax y = `class`) for y ~ N(mean, cov), and its standard error.
///
/// * 1 output: the argmax is always 0, so p is 1 or 0 exactly.
/// * 2 outputs: exact, P(y_c > y_o) = Φ(Δμ/√v), Δμ = μ_c − μ_o, v = Σ_cc + Σ_oo − 2Σ_co;
///   stderr 0. If v ≤ 0 the difference is deterministic; if v and Δμ are both rounding
///   (`tied`) the outputs tie. A v negative beyond rounding
///   (`ROUNDING_LEVEL`·(|Σ_cc| + |Σ_oo|)) is no variance: Σ is indefinite (a
///   truncated expansion's output), and v is read from Σ with its negative eigenvalue set to 0,
///   as the draws of ≥ 3 outputs are (closed form: `clipped_difference_variance`).
/// * ≥ 3 outputs: Monte Carlo with antithetic pairs y± = μ ± F z (F Fᵀ = Σ, negative eigenvalues
///   clipped, see [`super::GaussianSampler`]), `n_samples` draws in n_samples/2 pairs, seeded by `seed`.
///   p is the mean indicator; stderr = s/√pairs with s the sample standard deviation of the
///   per-pair means (the antithetic pairs are dependent within a pair, independent across pairs).
///   When p is 0 or 1 the stderr is 0 and says only that no draw disagreed.
///
/// Ties (probability zero unless Σ is degenerate) go to the lowest index, in all three cases.
pub fn prob_argmax(
    mean: ColRef<'_, f64>,
    cov: MatRef<'_, f64>,
    class: usize,
    n_samples: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let n = mean.nrows();
    if cov.nrows() != n || cov.ncols() != n {
        return Err(Error::Shape(format!(
            "prob_argmax: mean of length {n} with a {}×{} covariance",
            cov.nrows(),
            cov.ncols()
        )));
    }
    if class >= n {
        return Err(Error::Shape(format!(
            "prob_argmax: class {class} is out of range for {n} outputs"
        )));
    }
    match n {
        1 => Ok((1.0, 0.0)),
        2 => two_outputs(mean, cov, class),
        _ => monte_carlo(mean, cov, class, n_samples, seed),
    }
}

/// Flops of [`prob_argmax`] for n outputs and `n_samples` draws: with n ≥ 3 the sampler's
/// eigendecomposition ([`flops::symmetric_eigen`]) and the spread F·z of the n_samples/2
/// antithetic pairs ([`flops::gemm`]); 0 for n ≤ 2 (closed form). Random numbers and the argmax
/// are not counted.
pub fn prob_argmax_flops(n: usize, n_samples: usize) -> f64 {
    if n < 3 {
        return 0.0;
    }
    flops::symmetric_eigen(n) + flops::gemm(n, n_samples / 2, n)
}

fn two_outputs(mean: ColRef<'_, f64>, cov: MatRef<'_, f64>, class: usize) -> Result<(f64, f64)> {
    let other = 1 - class;
    let dmu = mean[class] - mean[other];
    let var = cov[(class, class)] + cov[(other, other)] - 2.0 * cov[(class, other)];
    if !(dmu.is_finite() && var.is_finite()) {
        return Err(Error::Numeric(
            "prob_argmax: mean or covariance has non-finite entries".into(),
        ));
    }
    let scale = cov[(class, class)].abs() + cov[(other, other)].abs();
    let var = if var < -ROUNDING_LEVEL * scale {
        clipped_difference_variance(cov, var)
    } else {
        var
    };
    let p = if tied(mean, cov, class.min(other), class.max(other)) {
        f64::from(class < other)
    } else if var > 0.0 {
        normal_cdf(dmu / var.sqrt())
    } else if dmu > 0.0 || (dmu == 0.0 && class < other) {
        1.0
    } else {
        0.0
    };
    Ok((p, 0.0))
}

/// Whether outputs `a` < `b` are one output to rounding: y_b − y_a has a variance
/// v = Σ_aa + Σ_bb − 2Σ_ab within rounding of zero ([`variances_tie`]) and a mean within
/// rounding of zero ([`means_tie`]), the cancellation left of identical read-out rows (or of
/// rows whose difference the layer below does not vary). The network then ties them in every
/// sample and its argmax takes `a` (the first maximum), so P(argmax = b) = 0; the sign of
/// y_b − y_a on the draws would be that rounding's (three identical outputs read p_correct 0.56
/// for a network's 1/3, adv58). The draws of ≥ 3 outputs apply the same rule to y = μ + F z
/// with v = |F_a − F_b|² (`argmax_all::Winners`).
pub(super) fn tied(mean: ColRef<'_, f64>, cov: MatRef<'_, f64>, a: usize, b: usize) -> bool {
    let (saa, sbb) = (cov[(a, a)].abs(), cov[(b, b)].abs());
    means_tie(mean[a], mean[b], saa, sbb)
        && variances_tie(cov[(a, a)] + cov[(b, b)] - 2.0 * cov[(a, b)], saa, sbb)
}

/// |μ_b − μ_a| ≤ `ROUNDING_LEVEL`·(|μ_a| + |μ_b| + √Σ_aa + √Σ_bb): two outputs whose means
/// differ by rounding of their scale (`saa`, `sbb` = |Σ_aa|, |Σ_bb|); half of [`tied`].
pub(super) fn means_tie(mean_a: f64, mean_b: f64, saa: f64, sbb: f64) -> bool {
    let spread = mean_a.abs() + mean_b.abs() + saa.sqrt() + sbb.sqrt();
    (mean_b - mean_a).abs() <= ROUNDING_LEVEL * spread
}

/// v ≤ `ROUNDING_LEVEL`·(|Σ_aa| + |Σ_bb|) for v the variance of y_b − y_a: a difference that
/// does not vary beyond rounding; the other half of [`tied`].
pub(super) fn variances_tie(var: f64, saa: f64, sbb: f64) -> bool {
    var <= ROUNDING_LEVEL * (saa + sbb)
}

/// uᵀΣ₊u, u = e₀ − e₁, for a symmetric 2 × 2 Σ (whose uᵀΣu is `var`) with its negative
/// eigenvalues set to 0 (Σ₊, the clipping of [`super::GaussianSampler`]). With eigenvalues
/// λ₋ ≤ λ₊ (m ± r, m = (Σ₀₀ + Σ₁₁)/2, r = √(((Σ₀₀ − Σ₁₁)/2)² + Σ₀₁²)): Σ₊ = 0 when λ₊ ≤ 0, Σ when
/// λ₋ ≥ 0, and otherwise λ₊ P₊ with P₊ = (Σ − λ₋I)/(λ₊ − λ₋) the projector on λ₊'s
/// eigenvector, so uᵀΣ₊u = λ₊ (uᵀΣu − 2λ₋)/(λ₊ − λ₋) (uᵀu = 2). The ratio is taken first: it
/// lies in [0, 2] (uᵀΣu ≤ 2λ₊), so the product neither overflows nor underflows where Σ's
/// entries are near f64's limits (λ₊(uᵀΣu − 2λ₋) is of Σ's scale squared: it overflowed from
/// entries ~10¹⁵⁴ on and read v₊ = ∞, p = ½, adv32), and m and r are formed from halves.
fn clipped_difference_variance(cov: MatRef<'_, f64>, var: f64) -> f64 {
    let m = 0.5 * cov[(0, 0)] + 0.5 * cov[(1, 1)];
    let r = (0.5 * cov[(0, 0)] - 0.5 * cov[(1, 1)]).hypot(cov[(0, 1)]);
    let (low, high) = (m - r, m + r);
    if high <= 0.0 {
        0.0
    } else if low >= 0.0 {
        var
    } else {
        (high * ((var - 2.0 * low) / (high - low))).max(0.0)
    }
}

/// P(argmax y = `class`) from the whole argmax distribution on the same draws
/// ([`super::argmax_distribution`]).
fn monte_carlo(
    mean: ColRef<'_, f64>,
    cov: MatRef<'_, f64>,
    class: usize,
    n_samples: usize,
    seed: u64,
) -> Result<(f64, f64)> {
    let d = super::argmax_distribution(mean, cov, n_samples, seed)?;
    Ok((d.p[class], d.stderr[class]))
}

#[cfg(test)]
mod tests {
    use faer::{col, mat};

    use super::*;

    /// An indefinite Σ (eigenvalues 1.42 and −0.92) whose difference variance uᵀΣu = −1.3 is
    /// negative: the two-output closed form reads Σ with its negative eigenvalue set to 0, as
    /// the Monte Carlo of ≥ 3 outputs does. Checked against the eigendecomposition (faer) and
    /// against 3 outputs whose third never wins (mean −100), drawn from the clipped Σ by the
    /// sampler: within 4 standard errors of the draws. (Before adv31 a negative v read as a
    /// certain difference: p = 1 here, 0.70 below.)
    #[test]
    fn a_negative_difference_variance_reads_the_clipped_covariance() {
        let cov = mat![[1.0, 0.9], [0.9, -0.5]];
        let mean = col![0.3, 0.0];
        let (p, se) = prob_argmax(mean.as_ref(), cov.as_ref(), 0, 0, 0).unwrap();
        assert_eq!(se, 0.0);
        let eig = cov.self_adjoint_eigen(faer::Side::Lower).unwrap();
        let (lambda, vecs) = (eig.S(), eig.U());
        let v: f64 = (0..2)
            .map(|k| lambda[k].max(0.0) * (vecs[(0, k)] - vecs[(1, k)]).powi(2))
            .sum();
        assert!((v - 0.32944).abs() < 1e-4, "clipped variance {v}");
        let want = normal_cdf(0.3 / v.sqrt());
        assert!(
            (p - want).abs() < 1e-12,
            "p {p}, clipped closed form {want}"
        );
        let (p1, _) = prob_argmax(mean.as_ref(), cov.as_ref(), 1, 0, 0).unwrap();
        assert!((p + p1 - 1.0).abs() < 1e-12);
        let cov3 = mat![[1.0, 0.9, 0.0], [0.9, -0.5, 0.0], [0.0, 0.0, 1.0]];
        let mean3 = col![0.3, 0.0, -100.0];
        let (q, q_se) = prob_argmax(mean3.as_ref(), cov3.as_ref(), 0, 200_000, 31).unwrap();
        assert!(
            q_se > 0.0 && (q - p).abs() < 4.0 * q_se,
            "3 outputs {q} ± {q_se}, 2: {p}"
        );
    }

    /// The clipped variance scales with Σ: Σ·s reads s·v₊ (to rounding) for s from 10⁻²⁰⁰ to
    /// 10³⁰⁰, so p does not move when the read-out is scaled. Before adv32 the product
    /// λ₊(uᵀΣu − 2λ₋) overflowed (s ≥ 10¹⁶⁰ here: v₊ = ∞) or underflowed (s = 10⁻²⁰⁰: v₊ = 0, a
    /// certain difference). Fails with the product taken first (checked).
    #[test]
    fn the_clipped_variance_scales_with_the_covariance() {
        let cov = mat![[1.0, 0.9], [0.9, -0.5]];
        let v = clipped_difference_variance(cov.as_ref(), -1.3);
        for s in [1e-200, 1e-160, 1e160, 1e300] {
            let scaled = mat![[s, 0.9 * s], [0.9 * s, -0.5 * s]];
            let got = clipped_difference_variance(scaled.as_ref(), -1.3 * s);
            assert!(
                (got / s - v).abs() <= 1e-14 * v,
                "s {s:e}: {got:e} vs {:e}",
                v * s
            );
            let mean = col![0.3 * s.sqrt(), 0.0];
            let (p, _) = prob_argmax(mean.as_ref(), scaled.as_ref(), 0, 0, 0).unwrap();
            let want = normal_cdf(0.3 / v.sqrt());
            assert!((p - want).abs() < 1e-12, "s {s:e}: p {p} vs {want}");
        }
    }

    /// A difference variance negative by rounding alone is still a certain difference.
    #[test]
    fn a_rounding_negative_difference_variance_is_a_certain_difference() {
        let cov = mat![[1.0, 1.0], [1.0, 1.0 - 1e-15]];
        let (p, _) = prob_argmax(col![1e-3, 0.0].as_ref(), cov.as_ref(), 0, 0, 0).unwrap();
        assert_eq!(p, 1.0);
    }
}
