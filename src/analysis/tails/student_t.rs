//! The elliptical model of the output's tails: a multivariate Student t with the measured mean
//! ȳ and covariance C and its degrees of freedom ν from the measured 4th cumulant, a proper
//! density whatever the kurtosis (unlike the Edgeworth expansion, [`super::weight`]), but blind
//! to skew (κ₃) and to the direction of the tails.
//!
//! y = ȳ + √W F u, u ~ N(0, I_r), W = (ν − 2)/G, G ~ χ²_ν (Kotz & Nadarajah, *Multivariate t
//! Distributions and Their Applications*, 2004, §1): E W = 1, so Cov y = F Fᵀ = C, and
//! E W² = (ν − 2)/(ν − 4), so the Mardia kurtosis is β = E|u√W|⁴ = r(r+2)(ν−2)/(ν−4). Matching
//! β to the measured β̂ = E|u|⁴ = r(r+2) + Σ_ab κ₄\[a,a,b,b\] (whitened, m = I):
//!
//! ```text
//! q = β̂ / (r(r+2)),   ν = (4q − 2)/(q − 1)  for q > 1   (ν > 4);   q ≤ 1: Gaussian (ν = ∞).
//! ```

use super::cumulants::WhitenedCumulants;
use crate::error::{Error, Result};
use crate::stats::gaussian::fill_chi_square;

/// ν from the whitened κ₄ (see the module docs); `None` when the outputs are not heavier-tailed
/// than a Gaussian (q ≤ 1).
pub fn dof_from_kurtosis(c: &WhitenedCumulants) -> Option<f64> {
    let r = c.rank();
    let s: f64 = (0..r)
        .flat_map(|a| (0..r).map(move |b| (a, b)))
        .map(|(a, b)| c.k4[(a + r * a, b + r * b)])
        .sum();
    let q = 1.0 + s / (r * (r + 2)) as f64;
    (q > 1.0).then(|| (4.0 * q - 2.0) / (q - 1.0))
}

/// √W for `pairs` antithetic pairs: W = (ν − 2)/G, G ~ χ²_ν seeded by `seed`
/// ([`fill_chi_square`]: Marsaglia–Tsang on the SIMD normal stream; ν > 4 here).
pub fn scales(dof: f64, pairs: usize, seed: u64) -> Result<Vec<f64>> {
    let mut w = vec![0.0; pairs];
    fill_chi_square(dof, seed, &mut w)
        .map_err(|e| Error::Numeric(format!("Student t model: ν = {dof}: {e}")))?;
    for v in &mut w {
        *v = ((dof - 2.0) / *v).sqrt();
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;
    use crate::special::normal_cdf;
    use crate::stats::gaussian::{weighted_argmax_models, ArgmaxModel};

    /// Two outputs: y₀ − y₁ = Δμ + σ√W s, s ~ N(0, 1), so P(argmax = 0) = E_G[Φ(Δμ√G/(σ√(ν−2)))]
    /// with G ~ χ²_ν, by Simpson quadrature over the χ² density; the Monte Carlo of the scale
    /// mixture (the model `output_tails` runs, [`ArgmaxModel::Scaled`] by √W) agrees within 4
    /// standard errors and differs from the Gaussian Φ(Δμ/σ) by more.
    #[test]
    fn two_outputs_match_the_chi_square_mixture_integral() {
        let nu: f64 = 5.0;
        let f = Mat::from_fn(2, 2, |i, a| [[1.0, 0.3], [-0.2, 0.5]][i][a]);
        let mean = Col::from_fn(2, |i| [1.5, 0.0][i]);
        let sigma = ((1.2f64).powi(2) + (-0.2f64).powi(2)).sqrt();
        let dmu = 1.5;
        let log_norm = -(nu / 2.0) * 2f64.ln() - libm::lgamma(nu / 2.0);
        let density = |g: f64| (log_norm + (nu / 2.0 - 1.0) * g.ln() - g / 2.0).exp();
        let (n, hi) = (20_000, 200.0);
        let h = hi / n as f64;
        let exact = (1..=n)
            .map(|i| {
                let g = i as f64 * h;
                let w = if i == n {
                    1.0
                } else if i % 2 == 1 {
                    4.0
                } else {
                    2.0
                };
                w * density(g) * normal_cdf(dmu * g.sqrt() / (sigma * (nu - 2.0).sqrt()))
            })
            .sum::<f64>()
            * h
            / 3.0;
        let pairs = 500_000;
        let s = scales(nu, pairs, 3).unwrap();
        let models = [ArgmaxModel::Scaled(&s)];
        let d = weighted_argmax_models(mean.as_ref(), f.as_ref(), 2 * pairs, 8, &models).unwrap();
        let d = &d[0];
        assert!(
            (d.p[0] - exact).abs() < 4.0 * d.stderr[0],
            "{} ± {} vs {exact}",
            d.p[0],
            d.stderr[0]
        );
        assert!((normal_cdf(dmu / sigma) - exact).abs() > 20.0 * d.stderr[0]);
    }
}
