//! erf's Gaussian derivative expectations to total order [`HIGH_ORDER`] ([`HighDerivativeTerms`]),
//! for the reverse pass through the κ₃/κ₄-corrected closure; the order-3/4 terms of the forward
//! correction are `erf_terms`'s.
//!
//! With dₖ = 1/√(1 + 2Σₖₖ), uₖ = √2dₖμₖ, cₖ = √2dₖ and r = 2Σᵢⱼdᵢdⱼ, the Gaussian closure
//! ([`super::ErfClosure`]) is E_G[erf(hᵢ)erf(hⱼ)] = 4Φ₂(uᵢ, uⱼ; r) − 2Φ(uᵢ) − 2Φ(uⱼ) + 1 and
//! E_G[erf(h)] = 2Φ(u) − 1. Only uₖ depends on μₖ (∂_{μₖ} = cₖ∂_{uₖ}), so by Stein's lemma
//! (E_G[φ⁽ᵃ⁾(hᵢ)…] = ∂ᵃ_{μᵢ}E_G[φ(hᵢ)…]), for a + b ≤ 6 and k ≤ 6,
//!
//! ```text
//! D_ab = E_G[erf⁽ᵃ⁾(hᵢ)erf⁽ᵇ⁾(hⱼ)] = cᵢᵃcⱼᵇ (4∂ᵃ∂ᵇΦ₂ − 2[b = 0]Φ⁽ᵃ⁾(uᵢ) − 2[a = 0]Φ⁽ᵇ⁾(uⱼ) + [a = b = 0]),
//! E_G[erf⁽ᵏ⁾(h)] = 2cᵏΦ⁽ᵏ⁾(u) − [k = 0],
//! E_G[(erf²)⁽ᵏ⁾(h)] = cᵏ (4 dᵏ/duᵏ Φ₂(u, u; r₀) − 4Φ⁽ᵏ⁾(u) + [k = 0]),   r₀ = 2Σₖₖdₖ²,
//! ```
//!
//! the Φ₂ partials and the diagonal derivatives from [`super::phi2_high`], with 1 − r² formed
//! from the Σ's as the forward closure forms it (`erf::one_minus_r2`); the diagonal's slope is
//! α = √((1 − r₀)/(1 + r₀)) = 1/√(1 + 4Σₖₖ).

use std::f64::consts::SQRT_2;

use super::erf::one_minus_r2;
use super::high_terms::{HighDerivativeTerms, HighPairTerms, HighUnitTerms, HIGH_ORDER};
use super::phi2_high::{cdf_derivs, phi2_diagonal, phi2_high};

/// erf's terms to total order [`HIGH_ORDER`] for an input with means `mu`, standard deviations
/// `s` and covariance `cov`.
pub struct ErfHighTerms<'a> {
    cov: faer::MatRef<'a, f64>,
    /// uₖ, cₖ = √2dₖ and dₖ per unit.
    u: Vec<f64>,
    c: Vec<f64>,
    d: Vec<f64>,
}

impl<'a> ErfHighTerms<'a> {
    /// Per-unit constants from the means, standard deviations and covariance.
    pub fn new(mu: &[f64], s: &[f64], cov: faer::MatRef<'a, f64>) -> Self {
        let d: Vec<f64> = s.iter().map(|s| 1.0 / (1.0 + 2.0 * s * s).sqrt()).collect();
        let u = mu.iter().zip(&d).map(|(m, d)| SQRT_2 * d * m).collect();
        let c = d.iter().map(|d| SQRT_2 * d).collect();
        ErfHighTerms { cov, u, c, d }
    }

    /// (r, 1 − r²) of the pair (i, j), j = i included.
    fn correlation(&self, i: usize, j: usize) -> (f64, f64) {
        let (vi, vj, c) = (self.cov[(i, i)], self.cov[(j, j)], self.cov[(i, j)]);
        let dd = self.d[i] * self.d[j];
        (2.0 * c * dd, one_minus_r2((vi, vj, c), dd))
    }
}

impl HighDerivativeTerms for ErfHighTerms<'_> {
    fn unit(&self, i: usize) -> HighUnitTerms {
        let (u, c) = (self.u[i], self.c[i]);
        let (r0, q2) = self.correlation(i, i);
        let (f, diag) = (cdf_derivs(u), phi2_diagonal(u, r0, q2));
        let mut out = HighUnitTerms::default();
        for k in 0..=HIGH_ORDER {
            let ck = c.powi(k as i32);
            out.phi[k] = 2.0 * ck * f[k];
            out.sq[k] = ck * (4.0 * diag[k] - 4.0 * f[k]);
        }
        out.phi[0] -= 1.0;
        out.sq[0] += 1.0;
        out
    }

    fn pair(&self, i: usize, j: usize, _rho: f64) -> Option<HighPairTerms> {
        let (r, q2) = self.correlation(i, j);
        if !(q2 > 0.0 && r.is_finite()) {
            return None;
        }
        let t = phi2_high(self.u[i], self.u[j], r, q2);
        let (fi, fj) = (cdf_derivs(self.u[i]), cdf_derivs(self.u[j]));
        let mut out = [[0.0; HIGH_ORDER + 1]; HIGH_ORDER + 1];
        for a in 0..=HIGH_ORDER {
            for b in 0..=HIGH_ORDER - a {
                let mut v = 4.0 * t[a][b];
                if b == 0 {
                    v -= 2.0 * fi[a];
                }
                if a == 0 {
                    v -= 2.0 * fj[b];
                }
                out[a][b] = self.c[i].powi(a as i32) * self.c[j].powi(b as i32) * v;
            }
        }
        out[0][0] += 1.0;
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use std::f64::consts::FRAC_2_SQRT_PI;

    use faer::{Col, Mat};

    use super::super::edgeworth::DerivativeTerms;
    use super::super::erf_terms::ErfTerms;
    use super::super::phi2_high::{binomial, normal_trapezoid};
    use super::super::{Closure, Corrections, ErfClosure};
    use super::*;
    use crate::propagate::backward::{Adjoint, ClosureVjp, ErfVjp};
    use crate::stats::Moments;

    /// Two-unit inputs (μ, s, ρ): generic, strongly (anti)correlated, a near-saturated unit
    /// (|μ|/s = 13), both saturated, a wide pair, a degenerate pair (ρ = 1: hⱼ an affine
    /// function of hᵢ; erf's smoothed r = 2Σᵢⱼdᵢdⱼ stays < 1, so its terms exist).
    const CASES: [([f64; 2], [f64; 2], f64); 7] = [
        ([0.3, -0.5], [0.8, 1.2], 0.4),
        ([0.2, 0.25], [1.5, 1.4], 0.995),
        ([-0.7, 0.9], [0.6, 2.0], -0.9),
        ([4.0, -0.3], [0.3, 0.7], 0.6),
        ([-3.5, 3.0], [0.2, 0.25], 0.8),
        ([1.0, -2.0], [2.5, 3.0], -0.5),
        ([0.5, -0.4], [1.0, 1.3], 1.0),
    ];

    fn input(mu: [f64; 2], s: [f64; 2], rho: f64) -> Moments {
        let c = rho * s[0] * s[1];
        let cov = Mat::from_fn(2, 2, |i, j| if i == j { s[i] * s[i] } else { c });
        Moments::gaussian(Col::from_fn(2, |i| mu[i]), cov)
    }

    /// erf⁽ᵏ⁾(h), k = 0..=6, from the physicists' Hermite polynomials, independent of
    /// `phi2_high`: erf⁽ᵏ⁾ = (2/√π)(−1)^{k−1}H_{k−1}(h)e^{−h²}, H_{n+1} = 2hHₙ − 2nH_{n−1}.
    fn erf_derivs(h: f64) -> [f64; HIGH_ORDER + 1] {
        let g = FRAC_2_SQRT_PI * (-h * h).exp();
        let mut out = [0.0; HIGH_ORDER + 1];
        out[0] = libm::erf(h);
        let (mut prev, mut he) = (0.0, 1.0);
        for (n, o) in out[1..].iter_mut().enumerate() {
            *o = if n % 2 == 0 { he * g } else { -he * g };
            (prev, he) = (he, 2.0 * h * he - 2.0 * n as f64 * prev);
        }
        out
    }

    /// Σₖ wₖ f(zₖ) and Σₖ wₖ|f(zₖ)| over [`normal_trapezoid`] with step 0.1 (`fine`: 0.05),
    /// per index of `f`'s output.
    fn quad1<const N: usize>(fine: bool, f: impl Fn(f64) -> [f64; N]) -> [(f64, f64); N] {
        let (z, w) = &normal_trapezoid(if fine { 0.05 } else { 0.1 });
        let mut out = [(0.0, 0.0); N];
        for (&z, &w) in z.iter().zip(w) {
            for (o, v) in out.iter_mut().zip(f(z)) {
                o.0 += w * v;
                o.1 += w * v.abs();
            }
        }
        out
    }

    /// Σₖ wₖ f(zₖ) and Σₖ wₖ|f(zₖ)| over the 2-D product of [`normal_trapezoid`] (step 0.1,
    /// `fine`: 0.05) for (z₁, z₂), one value per index of `f`'s output: the inner sum over z₂
    /// by [`quad1`], then the outer (nested sums of 481 terms each keep the rounding of the
    /// 481² terms near that of one 481-term sum).
    fn quad2<const N: usize>(fine: bool, f: impl Fn(f64, f64) -> [f64; N]) -> [(f64, f64); N] {
        let (z, w) = &normal_trapezoid(if fine { 0.05 } else { 0.1 });
        let mut out = [(0.0, 0.0); N];
        for (&z1, &w1) in z.iter().zip(w) {
            for (o, (sum, abs)) in out.iter_mut().zip(quad1(fine, |z2| f(z1, z2))) {
                o.0 += w1 * sum;
                o.1 += w1 * abs;
            }
        }
        out
    }

    /// Index of (a, b) in the flattened triangle a + b ≤ 6.
    const TRI: usize = (HIGH_ORDER + 1) * (HIGH_ORDER + 2) / 2;
    fn tri() -> impl Iterator<Item = (usize, usize)> {
        (0..=HIGH_ORDER).flat_map(|a| (0..=HIGH_ORDER - a).map(move |b| (a, b)))
    }

    /// Every D_ab (a + b ≤ 6) and every unit term against 2-D quadrature of
    /// E_G[erf⁽ᵃ⁾(hᵢ)erf⁽ᵇ⁾(hⱼ)] (hᵢ = μᵢ + sᵢz₁, hⱼ = μⱼ + sⱼ(ρz₁ + √(1−ρ²)z₂)) and of
    /// E_G[erf⁽ᵏ⁾], E_G[(erf²)⁽ᵏ⁾] = Σₗ C(k, l)E_G[erf⁽ˡ⁾erf⁽ᵏ⁻ˡ⁾] (the 1-D rule).
    /// The integrands are entire: erf⁽ᵏ⁾ is a degree-(k−1) polynomial times e^{−h²}, a Gaussian
    /// factor of width ≥ 1/(√2 s) = 0.24 in z at s = 3 (erf itself is smoother), so
    /// [`normal_trapezoid`]'s aliasing error is ~10⁻⁴² of Σw|f| at step 0.1 and < 10⁻¹⁸⁰ at 0.05
    /// (product rule, 481² nodes). Tolerance: twice the difference of the two plus 1e-13 of
    /// Σw|f| (rounding of the sums and of the closed forms' cancellations).
    #[test]
    fn entries_match_gauss_hermite_quadrature() {
        for (mu, s, rho) in CASES {
            let m = input(mu, s, rho);
            let t = ErfHighTerms::new(&mu, &s, m.cov.as_ref());
            let d = t.pair(0, 1, rho).expect("pair terms");
            let units = [t.unit(0), t.unit(1)];
            let q = (1.0 - rho * rho).sqrt();
            let pair = |z1: f64, z2: f64| {
                let ei = erf_derivs(mu[0] + s[0] * z1);
                let ej = erf_derivs(mu[1] + s[1] * (rho * z1 + q * z2));
                let mut v = [0.0; TRI];
                for ((a, b), o) in tri().zip(&mut v) {
                    *o = ei[a] * ej[b];
                }
                v
            };
            let (p1, p2) = (quad2(false, pair), quad2(true, pair));
            for (((a, b), (q1, _)), (q2, abs)) in tri().zip(p1).zip(p2) {
                let tol = 2.0 * (q1 - q2).abs() + 1e-13 * abs;
                let got = d[a][b];
                assert!(
                    (got - q2).abs() <= tol,
                    "{mu:?} {s:?} {rho}: D[{a}][{b}] = {got} vs {q2} (tol {tol:e})"
                );
            }
            for (k, unit) in units.iter().enumerate() {
                let one = |fine: bool| {
                    quad1(fine, |z| {
                        let e = erf_derivs(mu[k] + s[k] * z);
                        let mut v = [0.0; 2 * (HIGH_ORDER + 1)];
                        for n in 0..=HIGH_ORDER {
                            v[n] = e[n];
                            v[HIGH_ORDER + 1 + n] =
                                (0..=n).map(|l| binomial(n, l) * e[l] * e[n - l]).sum();
                        }
                        v
                    })
                };
                let (u1, u2) = (one(false), one(true));
                let got = unit.phi.iter().chain(&unit.sq);
                for (n, ((&got, (q1, _)), (q2, abs))) in got.zip(u1).zip(u2).enumerate() {
                    let tol = 2.0 * (q1 - q2).abs() + 1e-13 * abs;
                    assert!(
                        (got - q2).abs() <= tol,
                        "{mu:?} {s:?}: unit {k} term {n} = {got} vs {q2} (tol {tol:e})"
                    );
                }
            }
        }
    }

    /// Orders 3 and 4 equal [`ErfTerms`] (hand-written Φ₂ partials) to rounding: pairs to 1e-13
    /// of the largest entry of the same order (both closed forms; r's 1 − r² is formed from the
    /// Σ's here); unit terms to 100ε/q₀³ relative, q₀ = √(1 − r₀²), since [`ErfTerms`] sums the
    /// partials C(k, a)∂ᵃ∂^{k−a}Φ₂(u, u; r₀), which carry up to q₀⁻³ and cancel.
    #[test]
    fn orders_three_and_four_equal_erf_terms() {
        for (mu, s, rho) in CASES {
            let m = input(mu, s, rho);
            let (new, old) = (
                ErfHighTerms::new(&mu, &s, m.cov.as_ref()),
                ErfTerms::new(&mu, &s, m.cov.as_ref()),
            );
            let (d, e) = (new.pair(0, 1, rho).unwrap(), old.pair(0, 1, rho).unwrap());
            for k in 3..=4 {
                let scale = (0..=k).map(|a| e[a][k - a].abs()).fold(0.0, f64::max);
                for a in 0..=k {
                    let b = k - a;
                    assert!(
                        (d[a][b] - e[a][b]).abs() <= 1e-13 * scale,
                        "{mu:?} {s:?} {rho}: [{a}][{b}] {} vs {}",
                        d[a][b],
                        e[a][b]
                    );
                }
            }
            for i in 0..2 {
                let (h, u) = (new.unit(i), old.unit(i));
                // 1 − r₀² of the unit with itself, dᵢ⁴(1 + 4Σᵢᵢ).
                let q3 = ((1.0 + 4.0 * s[i] * s[i]) / (1.0 + 2.0 * s[i] * s[i]).powi(2)).powf(1.5);
                let tol = 100.0 * f64::EPSILON / q3;
                for (k, (&got, &want)) in [h.phi[3], h.phi[4], h.sq[3], h.sq[4]]
                    .iter()
                    .zip(u.phi.iter().chain(&u.sq))
                    .enumerate()
                {
                    assert!(
                        (got - want).abs() <= tol * want.abs(),
                        "{mu:?} {s:?}: unit {i} term {k}: {got} vs {want}"
                    );
                }
            }
        }
    }

    /// The order-0 terms are the Gaussian closure's: E[erf] = mᵢ, E[erf²] = Cᵢᵢ + mᵢ²,
    /// D₀₀ = Cᵢⱼ + mᵢmⱼ, to 1e-14 absolute (the closure's Φ₂ covariance is accurate to a few ε
    /// absolute; these raw moments are O(1)).
    #[test]
    fn order_zero_equals_the_gaussian_closure() {
        for (mu, s, rho) in CASES {
            let m = input(mu, s, rho);
            let out = ErfClosure.apply(&m, Corrections::None).unwrap();
            let t = ErfHighTerms::new(&mu, &s, m.cov.as_ref());
            let mm = |i: usize, j: usize| out.cov[(i, j)] + out.mean[i] * out.mean[j];
            let d = t.pair(0, 1, rho).unwrap();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-14;
            assert!(
                close(d[0][0], mm(0, 1)),
                "{mu:?}: D00 {} vs {}",
                d[0][0],
                mm(0, 1)
            );
            for i in 0..2 {
                let u = t.unit(i);
                assert!(close(u.phi[0], out.mean[i]), "{mu:?}: mean {i}");
                assert!(close(u.sq[0], mm(i, i)), "{mu:?}: E[erf²] {i}");
            }
        }
    }

    /// Orders 1 and 2 against the closed-form VJP ([`ErfVjp`], its P, A, B and E[φ'], E[φ'']),
    /// probed through the Stein identities of `backward::stein`: with ḡ_m = eᵢ the input
    /// adjoint is (∂μᵢ, ∂Σᵢᵢ) = (E[φ'ᵢ], ½E[φ''ᵢ]); with Ḡᵢⱼ = Ḡⱼᵢ = 1 and ḡ_m = 2Ḡm (so that
    /// ĝ = 0) it is ∂μᵢ = 2Aᵢⱼ = 2D₁₀, ∂Σᵢᵢ = Bᵢⱼ = D₂₀, ∂Σᵢⱼ = Pᵢⱼ = D₁₁ (and the transposes);
    /// with Ḡᵢᵢ = 1, ḡ_mᵢ = 2mᵢ it is ∂μᵢ = 2Aᵢᵢ = E[(φ²)'], ∂Σᵢᵢ = Pᵢᵢ + Bᵢᵢ = ½E[(φ²)''].
    /// Tolerance 1e-13 relative (two closed forms, a few roundings each).
    #[test]
    fn orders_one_and_two_equal_the_vjp() {
        let close = |a: f64, b: f64| (a - b).abs() <= 1e-13 * b.abs().max(1e-300);
        for (mu, s, rho) in CASES {
            let m = input(mu, s, rho);
            let out = ErfClosure.apply(&m, Corrections::None).unwrap();
            let t = ErfHighTerms::new(&mu, &s, m.cov.as_ref());
            let d = t.pair(0, 1, rho).unwrap();
            let vjp = |g: [f64; 2], cov: [[f64; 2]; 2]| {
                let adj = Adjoint {
                    mean: Col::from_fn(2, |i| g[i]),
                    cov: Mat::from_fn(2, 2, |i, j| cov[i][j]),
                };
                ErfVjp.vjp(&m, &out, &adj).unwrap()
            };
            let pair = vjp(
                [2.0 * out.mean[1], 2.0 * out.mean[0]],
                [[0.0, 1.0], [1.0, 0.0]],
            );
            let checks = [
                (pair.mean[0], 2.0 * d[1][0]),
                (pair.mean[1], 2.0 * d[0][1]),
                (pair.cov[(0, 0)], d[2][0]),
                (pair.cov[(1, 1)], d[0][2]),
                (pair.cov[(0, 1)], d[1][1]),
            ];
            for (k, (got, want)) in checks.into_iter().enumerate() {
                assert!(
                    close(got, want),
                    "{mu:?} {s:?} {rho}: pair check {k}: {got} vs {want}"
                );
            }
            for i in 0..2 {
                let u = t.unit(i);
                let mut unit_adj = [0.0; 2];
                unit_adj[i] = 1.0;
                let mean = vjp(unit_adj, [[0.0; 2]; 2]);
                let mut g = [[0.0; 2]; 2];
                g[i][i] = 1.0;
                let mut gm = [0.0; 2];
                gm[i] = 2.0 * out.mean[i];
                let sq = vjp(gm, g);
                let checks = [
                    (mean.mean[i], u.phi[1]),
                    (mean.cov[(i, i)], 0.5 * u.phi[2]),
                    (sq.mean[i], u.sq[1]),
                    (sq.cov[(i, i)], 0.5 * u.sq[2]),
                ];
                for (k, (got, want)) in checks.into_iter().enumerate() {
                    assert!(
                        close(got, want),
                        "{mu:?} {s:?}: unit {i} check {k}: {got} vs {want}"
                    );
                }
            }
        }
    }
}
