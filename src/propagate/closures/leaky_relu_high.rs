//! The leaky relu's Gaussian derivative expectations to total order 6 ([`HighDerivativeTerms`]),
//! for the reverse pass through its κ₃/κ₄-corrected closure (issue #16 item 6), from the relu's
//! ([`super::relu_high`]).
//!
//! With φ = αℓ + (1 − α)relu, ℓ(h) = h (ℓ' = 1, ℓ⁽ᵏ⁾ = 0 for k ≥ 2):
//!
//! ```text
//! D_ab = α² E[ℓ⁽ᵃ⁾(hᵢ)ℓ⁽ᵇ⁾(hⱼ)] + α(1 − α)(L_ij[a][b] + L_ji[b][a]) + (1 − α)² D^relu_ab,
//! L_ij[a][b] = E[ℓ⁽ᵃ⁾(hᵢ) relu⁽ᵇ⁾(hⱼ)]:
//!   L_ij[0][b] = μᵢ sⱼ^{1−b}R⁽ᵇ⁾(aⱼ) + Σᵢⱼ sⱼ^{−b}Φ⁽ᵇ⁾(aⱼ),   L_ij[1][b] = sⱼ^{1−b}R⁽ᵇ⁾(aⱼ),
//!   L_ij[a][b] = 0 (a ≥ 2),
//! ```
//!
//! aⱼ = μⱼ/sⱼ, R(a) = aΦ(a) + φ(a) = E[relu(a + z)], R' = Φ: L_ij[0][b] is Stein's lemma
//! E[hᵢ g(hⱼ)] = μᵢE[g(hⱼ)] + Σᵢⱼ E[g'(hⱼ)] (C. Stein, Ann. Stat. 9, 1135 (1981)) with
//! E[relu⁽ᵇ⁾(hⱼ)] = sⱼ^{1−b}R⁽ᵇ⁾(aⱼ). The linear part E[ℓ⁽ᵃ⁾ℓ⁽ᵇ⁾] is μᵢμⱼ + Σᵢⱼ, μⱼ, μᵢ, 1 at
//! (0,0), (1,0), (0,1), (1,1) and 0 elsewhere. One unit: E[φ⁽ᵏ⁾] = αE[ℓ⁽ᵏ⁾] + (1 − α)E[relu⁽ᵏ⁾]
//! (E[ℓ] = μ, E[ℓ'] = 1), and since h·relu(h) = relu(h)², φ² = α²h² + (1 − α²)relu², so
//! E[(φ²)⁽ᵏ⁾] = α²E[(h²)⁽ᵏ⁾] + (1 − α²)E[(relu²)⁽ᵏ⁾] with E[h²] = μ² + s², E[2h] = 2μ, E[2] = 2.
//!
//! The tables are standardised with the relu's σₖ = sₖ (`high_terms`' module docs): each
//! entry (a, b) above times sᵢᵃsⱼᵇ, so L̂_ij[0][b] = μᵢsⱼR⁽ᵇ⁾(aⱼ) + ΣᵢⱼΦ⁽ᵇ⁾(aⱼ),
//! L̂_ij[1][b] = sᵢsⱼR⁽ᵇ⁾(aⱼ), the linear part μᵢμⱼ + Σᵢⱼ, μᵢsⱼ, sᵢμⱼ, sᵢsⱼ, and one unit's
//! sᵏE[ℓ⁽ᵏ⁾] = μ, s and sᵏE[(h²)⁽ᵏ⁾] = μ² + s², 2μs, 2s².
//!
//! Orders 3 and 4 are the forward closure's [`LeakyTerms`](super::relu_terms::LeakyTerms) (the
//! same decomposition, Σᵢⱼ from the input covariance as there); a pair has terms exactly where
//! the relu's has (q² = 1 − ρ² ≥ 10⁻¹², as the forward's).

use super::high_terms::{HighDerivativeTerms, HighPairTerms, HighUnitTerms, HIGH_ORDER};
use super::phi2_high::cdf_derivs;
use super::relu_high::{r_derivs, ReluHighTerms};

/// The leaky relu's terms (slope α on the negative side) for an input with means `relu.mu`,
/// standard deviations `relu.s` and covariance `cov` (module docs).
pub(crate) struct LeakyReluHighTerms<'a> {
    pub relu: ReluHighTerms,
    pub slope: f64,
    /// The input covariance Σ (for the Stein terms Σᵢⱼ Φ⁽ᵇ⁾(aⱼ)).
    pub cov: faer::MatRef<'a, f64>,
}

impl LeakyReluHighTerms<'_> {
    /// L̂_ij\[a\]\[b\] = sᵢᵃsⱼᵇE_G\[ℓ⁽ᵃ⁾(hᵢ)relu⁽ᵇ⁾(hⱼ)\] for a ≤ 1 (rows a ≥ 2 are 0; module
    /// docs).
    fn linear_relu(&self, i: usize, j: usize) -> [[f64; HIGH_ORDER + 1]; 2] {
        let (mu_i, si, sj) = (self.relu.mu[i], self.relu.s[i], self.relu.s[j]);
        let aj = self.relu.mu[j] / sj;
        let (r, c) = (r_derivs(aj), cdf_derivs(aj));
        let sig = self.cov[(i, j)];
        let mut l = [[0.0; HIGH_ORDER + 1]; 2];
        for b in 0..=HIGH_ORDER {
            let relu_b = sj * r[b];
            l[1][b] = si * relu_b;
            l[0][b] = mu_i * relu_b + sig * c[b];
        }
        l
    }
}

impl HighDerivativeTerms for LeakyReluHighTerms<'_> {
    fn scale(&self, i: usize) -> f64 {
        self.relu.scale(i)
    }

    fn unit(&self, i: usize) -> HighUnitTerms {
        let mut t = self.relu.unit(i);
        let (mu, s, a) = (self.relu.mu[i], self.relu.s[i], self.slope);
        let (k, k2) = (1.0 - a, (1.0 - a) * (1.0 + a));
        let line = [mu, s];
        let square = [mu * mu + s * s, 2.0 * mu * s, 2.0 * s * s];
        for (n, v) in t.phi.iter_mut().enumerate() {
            *v = k * *v + a * line.get(n).unwrap_or(&0.0);
        }
        for (n, v) in t.sq.iter_mut().enumerate() {
            *v = k2 * *v + a * a * square.get(n).unwrap_or(&0.0);
        }
        t
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<HighPairTerms> {
        let mut d = self.relu.pair(i, j, rho)?;
        let (lij, lji) = (self.linear_relu(i, j), self.linear_relu(j, i));
        let a = self.slope;
        let (keep, mix) = ((1.0 - a) * (1.0 - a), a * (1.0 - a));
        for (p, row) in d.iter_mut().enumerate() {
            for (b, v) in row.iter_mut().enumerate().take(HIGH_ORDER + 1 - p) {
                let cross =
                    if p <= 1 { lij[p][b] } else { 0.0 } + if b <= 1 { lji[b][p] } else { 0.0 };
                *v = mix * cross + keep * *v;
            }
        }
        let (mu_i, mu_j) = (self.relu.mu[i], self.relu.mu[j]);
        let (si, sj) = (self.relu.s[i], self.relu.s[j]);
        let line = [
            [mu_i * mu_j + self.cov[(i, j)], mu_i * sj],
            [si * mu_j, si * sj],
        ];
        for (p, row) in line.iter().enumerate() {
            for (b, v) in row.iter().enumerate() {
                d[p][b] += a * a * v;
            }
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::super::edgeworth::{DerivativeTerms, ORDERS};
    use super::super::relu_high::{density, CASES};
    use super::super::relu_terms::{LeakyTerms, ReluTerms};
    use super::super::rules::gauss_legendre;
    use super::super::{Closure, Corrections, LeakyReluClosure};
    use super::*;
    use crate::stats::Moments;

    /// Σ of the two units.
    fn cov(s: [f64; 2], rho: f64) -> Mat<f64> {
        Mat::from_fn(2, 2, |i, j| s[i] * s[j] * if i == j { 1.0 } else { rho })
    }

    fn terms(mu: [f64; 2], s: [f64; 2], slope: f64, cov: &Mat<f64>) -> LeakyReluHighTerms<'_> {
        LeakyReluHighTerms {
            relu: ReluHighTerms {
                mu: mu.to_vec(),
                s: s.to_vec(),
            },
            slope,
            cov: cov.as_ref(),
        }
    }

    /// (a, b) with a + b ≤ 6.
    fn tri() -> impl Iterator<Item = (usize, usize)> {
        (0..=HIGH_ORDER).flat_map(|a| (0..=HIGH_ORDER - a).map(move |b| (a, b)))
    }

    /// At α = 0 every term is the relu's, bit for bit (the α(1 − α) and α² parts are 0 · finite).
    /// Fails with the relu part read transposed (d\[b\]\[a\] for D_ab).
    #[test]
    fn slope_zero_is_the_relu() {
        for (mu, s, rho) in CASES {
            let c = cov(s, rho);
            let (leaky, relu) = (terms(mu, s, 0.0, &c), &terms(mu, s, 0.0, &c).relu);
            assert_eq!(leaky.pair(0, 1, rho), relu.pair(0, 1, rho), "{mu:?}");
            for i in 0..2 {
                assert_eq!(leaky.unit(i), relu.unit(i), "{mu:?} unit {i}");
            }
        }
    }

    /// At α = 1 φ(h) = h: D₀₀ = μᵢμⱼ + Σᵢⱼ, D₁₀ = μⱼ, D₀₁ = μᵢ, D₁₁ = 1, every other D_ab = 0;
    /// E[φ⁽ᵏ⁾] = (μ, 1, 0, …), E[(φ²)⁽ᵏ⁾] = (μ² + s², 2μ, 2, 0, …). Exactly, up to the relu
    /// part's 0 · finite and one rounding of the sums (1e-15 of the scale). Fails with Σᵢⱼ left
    /// out of the linear part's D₀₀.
    #[test]
    fn slope_one_is_the_identity() {
        for (mu, s, rho) in CASES {
            let c = cov(s, rho);
            let t = terms(mu, s, 1.0, &c);
            let d = t.natural_pair(0, 1, rho).unwrap();
            for (a, b) in tri() {
                let want = match (a, b) {
                    (0, 0) => mu[0] * mu[1] + c[(0, 1)],
                    (1, 0) => mu[1],
                    (0, 1) => mu[0],
                    (1, 1) => 1.0,
                    _ => 0.0,
                };
                assert!(
                    (d[a][b] - want).abs() <= 1e-15 * (1.0 + want.abs()),
                    "D{a}{b}"
                );
            }
            for i in 0..2 {
                let u = t.natural_unit(i);
                let mut phi = [0.0; HIGH_ORDER + 1];
                let mut sq = [0.0; HIGH_ORDER + 1];
                phi[..2].copy_from_slice(&[mu[i], 1.0]);
                sq[..3].copy_from_slice(&[mu[i] * mu[i] + s[i] * s[i], 2.0 * mu[i], 2.0]);
                for k in 0..=HIGH_ORDER {
                    let close = |a: f64, b: f64| (a - b).abs() <= 1e-15 * (1.0 + b.abs());
                    assert!(close(u.phi[k], phi[k]), "unit {i} phi{k}");
                    assert!(close(u.sq[k], sq[k]), "unit {i} sq{k}");
                }
            }
        }
    }

    /// Orders 3 and 4 are the forward closure's [`LeakyTerms`] (which decide the levels and
    /// fallbacks) to rounding, 1e-13 of (1 + |value|) (the relu's parts are relu_high's and
    /// relu_terms', a handful of operations apart); order 0 is the Gaussian closure's:
    /// D₀₀ = Cᵢⱼ + mᵢmⱼ, E[φ] = mᵢ, E[φ²] = Cᵢᵢ + mᵢ² of [`LeakyReluClosure`]. Fails with
    /// (1 − α²) in place of (1 − α)² on the relu's pair terms.
    #[test]
    fn agrees_with_the_forward_closure() {
        for slope in [0.1, 0.35, -0.2] {
            for (mu, s, rho) in CASES {
                let c = cov(s, rho);
                let high = terms(mu, s, slope, &c);
                let low = LeakyTerms {
                    relu: ReluTerms {
                        mu: mu.to_vec(),
                        s: s.to_vec(),
                    },
                    slope,
                    cov: c.as_ref(),
                };
                let close = |a: f64, b: f64, what: &str| {
                    let tol = 1e-13 * (1.0 + b.abs());
                    assert!((a - b).abs() <= tol, "{slope} {mu:?} {what}: {a} vs {b}");
                };
                let (h, l) = (
                    high.natural_pair(0, 1, rho).unwrap(),
                    low.pair(0, 1, rho).unwrap(),
                );
                for (a, b) in ORDERS {
                    close(h[a][b], l[a][b], &format!("D{a}{b}"));
                }
                let input = Moments::gaussian(Col::from_fn(2, |i| mu[i]), c.clone());
                let out = LeakyReluClosure::new(slope)
                    .apply(&input, Corrections::None)
                    .unwrap();
                close(h[0][0], out.cov[(0, 1)] + out.mean[0] * out.mean[1], "D00");
                for i in 0..2 {
                    let (hu, lu) = (high.natural_unit(i), low.unit(i));
                    for k in 0..2 {
                        close(hu.phi[k + 3], lu.phi[k], &format!("phi{}", k + 3));
                        close(hu.sq[k + 3], lu.sq[k], &format!("sq{}", k + 3));
                    }
                    close(hu.phi[0], out.mean[i], "E[φ]");
                    close(
                        hu.sq[0],
                        out.cov[(i, i)] + out.mean[i] * out.mean[i],
                        "E[φ²]",
                    );
                }
            }
        }
    }

    /// Stein's lemma and Price's theorem between orders: D_{a+1,b} = ∂D_ab/∂μᵢ,
    /// D_{a,b+1} = ∂D_ab/∂μⱼ, D_{a+1,b+1} = ∂D_ab/∂Σᵢⱼ (Σᵢⱼ moved in the covariance and in ρ
    /// together), E[φ⁽ᵏ⁺¹⁾] = ∂E[φ⁽ᵏ⁾]/∂μ and the same for φ², by central differences of step
    /// h = 10⁻⁴ (error h²/6·|f'''| + ε|f|/h, |f'''| ≲ 10: 2·10⁻⁷ of (1 + |f'|), as relu_high's).
    /// This reaches every entry to total order 6, and with it the linear–relu cross terms
    /// L_ij\[0\]\[b\] to b = 6. Fails with Φ⁽ᵇ⁾ replaced by Φ⁽ᵇ⁺¹⁾ in L_ij\[0\]\[b\] (the Stein
    /// term's order shifted).
    #[test]
    fn each_order_is_the_derivative_of_the_one_below() {
        let h = 1e-4;
        for slope in [0.2, -0.3] {
            for (mu, s, rho) in CASES {
                let c = cov(s, rho);
                let base = terms(mu, s, slope, &c).natural_pair(0, 1, rho).unwrap();
                let at = |dmu: [f64; 2], dsig: f64| {
                    let m = [mu[0] + dmu[0], mu[1] + dmu[1]];
                    let r = (rho * s[0] * s[1] + dsig) / (s[0] * s[1]);
                    let c = cov(s, r);
                    terms(m, s, slope, &c).natural_pair(0, 1, r).unwrap()
                };
                let (xp, xm) = (at([h, 0.0], 0.0), at([-h, 0.0], 0.0));
                let (yp, ym) = (at([0.0, h], 0.0), at([0.0, -h], 0.0));
                let (sp, sm) = (at([0.0; 2], h), at([0.0; 2], -h));
                let check = |exact: f64, fd: f64, what: String| {
                    let tol = 2e-7 * (1.0 + exact.abs());
                    assert!(
                        (exact - fd).abs() <= tol,
                        "{slope} {mu:?} {s:?} {rho} {what}: {exact} vs {fd}"
                    );
                };
                for (a, b) in tri().filter(|&(a, b)| a + b < HIGH_ORDER) {
                    let fd = |p: &HighPairTerms, m: &HighPairTerms| (p[a][b] - m[a][b]) / (2.0 * h);
                    check(base[a + 1][b], fd(&xp, &xm), format!("∂μᵢ D{a}{b}"));
                    check(base[a][b + 1], fd(&yp, &ym), format!("∂μⱼ D{a}{b}"));
                    if a + b + 2 <= HIGH_ORDER {
                        check(base[a + 1][b + 1], fd(&sp, &sm), format!("∂Σᵢⱼ D{a}{b}"));
                    }
                }
                for i in 0..2 {
                    let unit = |d: f64| {
                        let mut m = mu;
                        m[i] += d;
                        terms(m, s, slope, &c).natural_unit(i)
                    };
                    let (u, up, down) = (unit(0.0), unit(h), unit(-h));
                    for k in 0..HIGH_ORDER {
                        let fd = (up.phi[k] - down.phi[k]) / (2.0 * h);
                        check(u.phi[k + 1], fd, format!("unit {i} phi{k}"));
                        let fd = (up.sq[k] - down.sq[k]) / (2.0 * h);
                        check(u.sq[k + 1], fd, format!("unit {i} sq{k}"));
                    }
                }
            }
        }
    }

    /// Entries against Gauss–Legendre quadrature of the bivariate density p(hᵢ, hⱼ), each axis
    /// split at the kink 0 into [μ − 12s, 0] and [0, μ + 12s] (tails beyond e⁻⁷²), 160 nodes a
    /// piece, where φ and φ' = α + (1 − α)1\[h > 0\] are smooth: D_ab = ∫∫φ⁽ᵃ⁾φ⁽ᵇ⁾p for
    /// a, b ≤ 1; φ'' = (1 − α)δ and φ''' = (1 − α)δ' make D₂ᵦ = (1 − α)∫φ⁽ᵇ⁾(hⱼ)p(0, hⱼ) and
    /// D₃ᵦ = −(1 − α)∫φ⁽ᵇ⁾(hⱼ)∂ᵢp(0, hⱼ), ∂ᵢp = −(Σ⁻¹(h − μ))ᵢ p; D₂₂ = (1 − α)²p(0, 0); one
    /// unit E[φ], E[φ'], E[φ²], E[(φ²)'] = E[2φφ'] likewise. Polynomial times Gaussian on each
    /// piece: 160 nodes reach rounding, 1e-11 relative. Fails with the α(1 − α) cross terms'
    /// L_ji read untransposed (L_ji\[a\]\[b\] for D_ab).
    #[test]
    fn entries_match_quadrature_of_the_density() {
        let (z, wt) = gauss_legendre(160);
        for slope in [0.1, 0.35, -0.2] {
            let f = |h: f64, k: usize| match (k, h > 0.0) {
                (0, true) => h,
                (0, false) => slope * h,
                (_, true) => 1.0,
                (_, false) => slope,
            };
            for (mu, s, rho) in CASES {
                let c = cov(s, rho);
                let t = terms(mu, s, slope, &c);
                let d = t.natural_pair(0, 1, rho).unwrap();
                let (p, grad0) = density(mu, (c[(0, 0)], c[(1, 1)], c[(0, 1)]));
                let (p, grad0) = (&p, &grad0);
                let nodes = |k: usize| {
                    let (lo, hi) = (
                        (mu[k] - 12.0 * s[k]).min(-1e-3),
                        (mu[k] + 12.0 * s[k]).max(1e-3),
                    );
                    [(lo, 0.0), (0.0, hi)].into_iter().flat_map(|(l, u)| {
                        let half = 0.5 * (u - l);
                        z.iter()
                            .zip(&wt)
                            .map(move |(&x, &w)| (l + half * (x + 1.0), half * w))
                    })
                };
                let close = |exact: f64, quad: f64, what: &str| {
                    assert!(
                        (exact - quad).abs() <= 1e-11 * (1.0 + exact.abs()),
                        "{slope} {mu:?} {what}: {exact} vs {quad}"
                    );
                };
                for (a, b) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let q: f64 = nodes(0)
                        .map(|(h0, w0)| {
                            let inner: f64 =
                                nodes(1).map(|(h1, w1)| w1 * f(h1, b) * p(h0, h1)).sum();
                            w0 * f(h0, a) * inner
                        })
                        .sum();
                    close(d[a][b], q, &format!("D{a}{b}"));
                }
                for b in [0, 1] {
                    let line = |g: &dyn Fn(f64) -> f64| -> f64 {
                        nodes(1)
                            .map(|(h1, w)| w * f(h1, b) * g(h1) * p(0.0, h1))
                            .sum()
                    };
                    close(d[2][b], (1.0 - slope) * line(&|_| 1.0), &format!("D2{b}"));
                    close(
                        d[3][b],
                        (1.0 - slope) * line(&|h1| grad0(0.0, h1)),
                        &format!("D3{b}"),
                    );
                }
                close(d[2][2], (1.0 - slope).powi(2) * p(0.0, 0.0), "D22");
                for i in 0..2 {
                    let u = t.natural_unit(i);
                    let one = |g: &dyn Fn(f64) -> f64| -> f64 {
                        let dens = |h: f64| {
                            let e = (h - mu[i]) / s[i];
                            (-0.5 * e * e).exp() / (s[i] * (2.0 * std::f64::consts::PI).sqrt())
                        };
                        nodes(i).map(|(h, w)| w * g(h) * dens(h)).sum()
                    };
                    close(u.phi[0], one(&|h| f(h, 0)), "E[φ]");
                    close(u.phi[1], one(&|h| f(h, 1)), "E[φ']");
                    close(u.sq[0], one(&|h| f(h, 0).powi(2)), "E[φ²]");
                    close(u.sq[1], one(&|h| 2.0 * f(h, 0) * f(h, 1)), "E[(φ²)']");
                }
            }
        }
    }
}
