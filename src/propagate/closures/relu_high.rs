//! The relu's Gaussian derivative expectations to total order 6 ([`HighDerivativeTerms`]), for
//! the reverse pass through its κ₃/κ₄-corrected closure (issue #16 item 6).
//!
//! With hₖ = μₖ + sₖzₖ, aₖ = μₖ/sₖ, corr(zᵢ, zⱼ) = ρ, q = √(1 − ρ²) and
//! G(x, y) = E[relu(x + zᵢ)relu(y + zⱼ)] ([`relu_cross`]), D_ab = sᵢ^{1−a}sⱼ^{1−b}∂ᵃₓ∂ᵇ_y G at
//! (aᵢ, aⱼ) ([`super::relu_terms`]). The entries with a, b ≥ 1 are ∂ᵃ⁻¹ₓ∂ᵇ⁻¹_y Φ₂ (Φ₂ itself,
//! then [`phi2_partials`] to total order 4). The b = 0 column: ∂ₓG = yΦ₂ + φ(y)Φ(wₓ) + ρφ(x)Φ(w)
//! (the Stein expectation A/sⱼ of [`crate::propagate::backward::relu`]), and from
//! ∂²ₓG = qφ(x)R(w), w = (y − ρx)/q, ∂ₓw = −ρ/q, R(w) = wΦ(w) + φ(w) (Leibniz):
//!
//! ```text
//! ∂ₓ^{2+k}G = q Σₘ C(k, m) φ⁽ᵐ⁾(x) (−ρ/q)^{k−m} R⁽ᵏ⁻ᵐ⁾(w),   k = 0..4,
//! R' = Φ,  R⁽ʲ⁾ = φ⁽ʲ⁻²⁾ (j ≥ 2),  φ⁽ᵐ⁾(x) = (−1)ᵐ Heₘ(x) φ(x).
//! ```
//!
//! The a = 0 row is the same with x and y exchanged. One unit: E_G[relu⁽ᵏ⁾(h)] = s^{1−k}R⁽ᵏ⁾(a)
//! and E_G[(relu²)⁽ᵏ⁾(h)] = s^{2−k}P⁽ᵏ⁾(a), P = (a² + 1)Φ(a) + aφ(a), P' = 2R, so
//! P⁽ᵏ⁾ = 2R⁽ᵏ⁻¹⁾ (k ≥ 1). Pairs with q² below 10⁻¹² have no terms (as in `relu_terms`).
//!
//! The tables are standardised with σₖ = sₖ ([`HighDerivativeTerms::scale`]; `high_terms`'
//! module docs): T_ab = sᵢᵃsⱼᵇD_ab = sᵢsⱼ∂ᵃₓ∂ᵇ_y G, sᵏE_G[relu⁽ᵏ⁾] = sR⁽ᵏ⁾(a) and
//! sᵏE_G[(relu²)⁽ᵏ⁾] = s²P⁽ᵏ⁾(a): every entry is of order s² (s), where D₆₀ ∝ s⁻⁴ and
//! E_G[relu⁽⁶⁾] ∝ s⁻⁵ overflow f64 once s ≲ 10⁻⁷⁷ (10⁻⁶²).

use super::high_terms::{HighDerivativeTerms, HighPairTerms, HighUnitTerms, HIGH_ORDER};
use super::phi2_high::{binomial, cdf_derivs, pdf_derivs};
use super::phi2_partials::phi2_partials;
use super::relu::{ratio, relu_cross, Regime};
use crate::special::{bvn_cdf, normal_cdf, normal_pdf};

/// Below this q² = 1 − ρ² the pair's terms are refused (the forward's pair falls back).
const MIN_Q2: f64 = 1e-12;

/// R⁽ʲ⁾(w), j = 0..=6, R(w) = wΦ(w) + φ(w) = E[relu(w + z)]: R' = Φ, so R⁽ʲ⁾ = Φ⁽ʲ⁻¹⁾.
pub(super) fn r_derivs(w: f64) -> [f64; HIGH_ORDER + 1] {
    let c = cdf_derivs(w);
    let mut r = [0.0; HIGH_ORDER + 1];
    r[0] = w * c[0] + c[1];
    r[1..].copy_from_slice(&c[..HIGH_ORDER]);
    r
}

/// ∂ᵃₓ∂ᵇ_y G(x, y) for a + b ≤ 6 where unit i or j is beyond the closed forms' range
/// (`Regime::On`/`Off`, |μ/s| > 38), None where both are regular. There the relu is linear or
/// zero to f64 range, and these are the closed forms' exact limits (|x| → ∞), which the closed
/// forms themselves cannot take: their Hermite polynomials overflow (He₃(x) once |x| ≳ 10¹⁰³,
/// x² once |x| ≳ 10¹⁵⁴) against a density that underflows, ∞·0 = NaN, and at the far tail the
/// pair fell back to the Gaussian closure (scale67's found-not-fixed). With x → +∞ (hᵢ = μᵢ +
/// sᵢzᵢ > 0), G = E[(x + zᵢ)relu(y + zⱼ)] = xR(y) + ρE[zⱼ relu(y + zⱼ)] = xR(y) + ρΦ(y) (Stein's
/// lemma), R(y) = yΦ(y) + φ(y), R' = Φ:
///
/// ```text
/// ∂ᵇ_y G = xR⁽ᵇ⁾(y) + ρR⁽ᵇ⁺¹⁾(y),   ∂ₓ∂ᵇ_y G = R⁽ᵇ⁾(y),   ∂ᵃₓ∂ᵇ_y G = 0 (a ≥ 2);
/// ```
///
/// with x → −∞ (relu(hᵢ) = 0) every entry is 0, and likewise with x and y exchanged. The
/// neglected terms carry φ(x) < 10⁻³¹³ (times polynomials in x). A far y in the first form is
/// itself its limit (R(y) = y, R' = 1 and the rest 0 once φ(y) underflows).
pub(super) fn far_partials(
    x: f64,
    y: f64,
    rho: f64,
) -> Option<[[f64; HIGH_ORDER + 1]; HIGH_ORDER + 1]> {
    let mut g = [[0.0; HIGH_ORDER + 1]; HIGH_ORDER + 1];
    let linear = |x: f64, y: f64| {
        let (r, c) = (r_derivs(y), cdf_derivs(y));
        let mut row = [[0.0; HIGH_ORDER + 1]; 2];
        for b in 0..=HIGH_ORDER {
            row[0][b] = x * r[b] + rho * c[b];
            row[1][b] = r[b];
        }
        row
    };
    match (Regime::of(x), Regime::of(y)) {
        (Regime::Regular, Regime::Regular) => return None,
        (Regime::Off, _) | (_, Regime::Off) => {}
        (Regime::On, _) => {
            let row = linear(x, y);
            g[0] = row[0];
            g[1] = row[1];
        }
        (Regime::Regular, Regime::On) => {
            let row = linear(y, x);
            for (a, col) in g.iter_mut().enumerate() {
                col[0] = row[0][a];
                col[1] = row[1][a];
            }
        }
    }
    Some(g)
}

/// ∂ᵃₓG(x, y), a = 0..=6 (module docs), q > 0.
fn column(x: f64, y: f64, rho: f64, q: f64) -> [f64; HIGH_ORDER + 1] {
    let w = (y - rho * x) / q;
    let (px, r) = (pdf_derivs(x), r_derivs(w));
    let mut g = [0.0; HIGH_ORDER + 1];
    g[0] = relu_cross(x, y, rho);
    g[1] = y * bvn_cdf(x, y, rho)
        + normal_pdf(y) * normal_cdf(ratio(x - rho * y, q))
        + rho * px[0] * normal_cdf(w);
    let step = -rho / q;
    for k in 0..=HIGH_ORDER - 2 {
        g[k + 2] = q
            * (0..=k)
                .map(|m| binomial(k, m) * px[m] * step.powi((k - m) as i32) * r[k - m])
                .sum::<f64>();
    }
    g
}

/// The relu's terms for an input with means `mu` and standard deviations `s`.
pub(crate) struct ReluHighTerms {
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
}

impl HighDerivativeTerms for ReluHighTerms {
    fn scale(&self, i: usize) -> f64 {
        self.s[i]
    }

    fn unit(&self, i: usize) -> HighUnitTerms {
        let (s, a) = (self.s[i], self.mu[i] / self.s[i]);
        let r = r_derivs(a);
        let mut t = HighUnitTerms::default();
        t.sq[0] = (a * a + 1.0) * normal_cdf(a) + a * normal_pdf(a);
        for k in 0..=HIGH_ORDER {
            t.phi[k] = s * r[k];
            if k > 0 {
                t.sq[k] = 2.0 * r[k - 1];
            }
            t.sq[k] *= s * s;
        }
        t
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<HighPairTerms> {
        let q2 = (1.0 - rho) * (1.0 + rho);
        if q2 < MIN_Q2 {
            return None;
        }
        let q = q2.sqrt();
        let (si, sj) = (self.s[i], self.s[j]);
        let (x, y) = (self.mu[i] / si, self.mu[j] / sj);
        if let Some(g) = far_partials(x, y, rho) {
            return Some(g.map(|row| row.map(|v| v * (si * sj))));
        }
        let mut g = [[0.0; HIGH_ORDER + 1]; HIGH_ORDER + 1];
        let (gx, gy) = (column(x, y, rho, q), column(y, x, rho, q));
        for k in 0..=HIGH_ORDER {
            g[k][0] = gx[k];
            g[0][k] = gy[k];
        }
        g[1][1] = bvn_cdf(x, y, rho);
        let t = phi2_partials(x, y, rho, q2);
        for a in 1..=HIGH_ORDER {
            for b in 1..=HIGH_ORDER - a {
                if a + b > 2 {
                    g[a][b] = t[a - 1][b - 1];
                }
            }
        }
        let mut d = g;
        for row in d.iter_mut() {
            for v in row.iter_mut() {
                *v *= si * sj;
            }
        }
        Some(d)
    }
}

/// (μ, s) of two units and ρ for the tests (here and `leaky_relu_high`'s): mixed signs, strong
/// correlations both ways, a far tail.
#[cfg(test)]
pub(super) const CASES: [([f64; 2], [f64; 2], f64); 4] = [
    ([0.3, -0.5], [1.2, 0.7], 0.4),
    ([-0.8, 0.6], [0.9, 1.5], -0.85),
    ([1.7, 0.2], [0.6, 1.1], 0.93),
    ([0.0, -2.5], [1.0, 0.8], -0.2),
];

/// For the tests' quadratures: the density p(h₀, h₁) of N(μ, Σ), Σ = ((v₀, c), (c, v₁)), and
/// −(∂p/∂h₀)/p = (Σ⁻¹(h − μ))₀.
#[cfg(test)]
pub(super) fn density(
    mu: [f64; 2],
    (v0, v1, c): (f64, f64, f64),
) -> (impl Fn(f64, f64) -> f64, impl Fn(f64, f64) -> f64) {
    let det = v0 * v1 - c * c;
    let p = move |h0: f64, h1: f64| {
        let (e0, e1) = (h0 - mu[0], h1 - mu[1]);
        let quad = (v1 * e0 * e0 - 2.0 * c * e0 * e1 + v0 * e1 * e1) / det;
        (-0.5 * quad).exp() / (2.0 * std::f64::consts::PI * det.sqrt())
    };
    let grad0 = move |h0: f64, h1: f64| (v1 * (h0 - mu[0]) - c * (h1 - mu[1])) / det;
    (p, grad0)
}

#[cfg(test)]
mod tests {
    use super::super::edgeworth::{DerivativeTerms, ORDERS};
    use super::super::relu_terms::ReluTerms;
    use super::super::rules::gauss_legendre;
    use super::*;
    use crate::propagate::backward::relu::ReluExpectations;
    use crate::propagate::backward::stein::SteinExpectations;
    use crate::propagate::closures::{Closure, Corrections, ReluClosure};
    use crate::stats::Moments;
    use faer::{Col, Mat};

    fn terms(mu: [f64; 2], s: [f64; 2]) -> ReluHighTerms {
        ReluHighTerms {
            mu: mu.to_vec(),
            s: s.to_vec(),
        }
    }

    /// The orders 3 and 4 (pairs and units) agree with `relu_terms`' separate closed forms to
    /// rounding (1e-13 relative: a handful of operations apart). Fails with the sign of
    /// (−ρ/q) flipped in the b = 0 column (D₃₀ changes by 2ρφ(x)Φ(w)/sᵢ²).
    #[test]
    fn orders_three_and_four_match_relu_terms() {
        for (mu, s, rho) in CASES {
            let high = terms(mu, s);
            let low = ReluTerms {
                mu: mu.to_vec(),
                s: s.to_vec(),
            };
            let (h, l) = (
                high.natural_pair(0, 1, rho).unwrap(),
                low.pair(0, 1, rho).unwrap(),
            );
            for (a, b) in ORDERS {
                let tol = 1e-13 * (1.0 + l[a][b].abs());
                assert!((h[a][b] - l[a][b]).abs() <= tol, "{mu:?} D{a}{b}");
            }
            for i in 0..2 {
                let (hu, lu) = (high.natural_unit(i), low.unit(i));
                for k in 0..2 {
                    assert!((hu.phi[k + 3] - lu.phi[k]).abs() <= 1e-13 * (1.0 + lu.phi[k].abs()));
                    assert!((hu.sq[k + 3] - lu.sq[k]).abs() <= 1e-13 * (1.0 + lu.sq[k].abs()));
                }
            }
        }
    }

    /// The 2 × 2 Gaussian input of units with means `mu`, standard deviations `s` and
    /// correlation `rho`.
    fn gaussian_input(mu: [f64; 2], s: [f64; 2], rho: f64) -> Moments {
        let cov = Mat::from_fn(2, 2, |i, j| s[i] * s[j] * if i == j { 1.0 } else { rho });
        Moments::gaussian(Col::from_fn(2, |i| mu[i]), cov)
    }

    /// The pair (1, 0)'s entries of orders 1 and 2, `d` (natural units), against the relu's
    /// Stein expectations at `input` by `close`: D₁₀ = A₀, D₀₁ = A₁, D₁₁ = P, D₂₀ = B₀,
    /// D₀₂ = B₁.
    fn assert_stein_entries(d: &HighPairTerms, input: &Moments, close: &dyn Fn(f64, f64, &str)) {
        let e = ReluExpectations::new(input).pair(1, 0);
        close(d[1][0], e.a[0], "D10");
        close(d[0][1], e.a[1], "D01");
        close(d[1][1], e.p, "D11");
        close(d[2][0], e.b[0], "D20");
        close(d[0][2], e.b[1], "D02");
    }

    /// The orders 0–2 are the Gaussian closure's: D₀₀ = Cᵢⱼ + mᵢmⱼ of [`ReluClosure`], D₁₀ = A,
    /// D₁₁ = P, D₂₀ = B of the relu's Stein expectations; phi[0..3] = (m, E[φ'], E[φ'']) and
    /// sq[0] = Cᵢᵢ + mᵢ². To 1e-13 relative (the same formulas in another arrangement).
    #[test]
    fn low_orders_are_the_gaussian_closures() {
        for (mu, s, rho) in CASES {
            let input = gaussian_input(mu, s, rho);
            let out = ReluClosure.apply(&input, Corrections::None).unwrap();
            let stein = ReluExpectations::new(&input);
            let close = |a: f64, b: f64, what: &str| {
                assert!(
                    (a - b).abs() <= 1e-13 * (1.0 + b.abs()),
                    "{mu:?} {what}: {a} vs {b}"
                );
            };
            let high = terms(mu, s);
            let d = high.natural_pair(1, 0, rho).unwrap();
            close(d[0][0], out.cov[(1, 0)] + out.mean[0] * out.mean[1], "D00");
            assert_stein_entries(&d, &input, &close);
            for i in 0..2 {
                let u = high.natural_unit(i);
                let (d1, d2) = stein.unit(i);
                close(u.phi[0], out.mean[i], "phi0");
                close(u.phi[1], d1, "phi1");
                close(u.phi[2], d2, "phi2");
                close(u.sq[0], out.cov[(i, i)] + out.mean[i] * out.mean[i], "sq0");
            }
        }
    }

    /// A pair with a unit beyond the closed forms' range (μ/s = ±10⁶⁰, ±10²⁰⁰, ±45) has finite
    /// terms to order 6; orders 3 and 4 are the forward's (`ReluTerms::pair`, its limits), and
    /// orders 0–2 the Gaussian closure's and the Stein expectations' limits for linear units
    /// (`ReluExpectations`), to 10⁻¹³ relative. Fails without `far_partials` in
    /// `ReluHighTerms::pair` (NaN: He₅(10⁶⁰) overflows against φ = 0 at order 6).
    #[test]
    fn far_units_take_the_limits_of_the_forward_and_the_stein_expectations() {
        for far in [1e60, -1e60, 1e200, -1e200, 45.0, -45.0] {
            for (other, s1, rho) in [(0.3, 1.2, 0.4), (-0.5, 0.7, -0.85)] {
                let (mu, s) = ([far * 0.5, other], [0.5, s1]);
                let high = terms(mu, s);
                let d = high.natural_pair(1, 0, rho).unwrap();
                let what = format!("μ₀/s₀ = {far:e}, ρ = {rho}");
                assert!(d.iter().flatten().all(|v| v.is_finite()), "{what}: {d:?}");
                let close = |a: f64, b: f64, entry: &str| {
                    assert!(
                        (a - b).abs() <= 1e-13 * (1.0 + b.abs()),
                        "{what} {entry}: {a:e} vs {b:e}"
                    );
                };
                let low = ReluTerms {
                    mu: mu.to_vec(),
                    s: s.to_vec(),
                }
                .pair(1, 0, rho)
                .unwrap();
                for (a, b) in ORDERS {
                    close(d[a][b], low[a][b], &format!("D{a}{b}"));
                }
                let input = gaussian_input(mu, s, rho);
                let out = ReluClosure.apply(&input, Corrections::None).unwrap();
                if far.abs() < 1e100 {
                    close(d[0][0], out.cov[(1, 0)] + out.mean[0] * out.mean[1], "D00");
                }
                assert_stein_entries(&d, &input, &close);
            }
        }
    }

    /// Each entry of order k ≥ 1 is the μ-derivative of one of order k − 1 (Stein's lemma:
    /// D_{a+1,b} = ∂D_ab/∂μᵢ, D_{a,b+1} = ∂D_ab/∂μⱼ, phi[k+1] = ∂phi[k]/∂μ, same for sq), and
    /// ∂D_ab/∂Σᵢⱼ = D_{a+1,b+1} (Price), by central differences of step h = 10⁻⁴: truncation
    /// h²/6·|f'''| with |f'''| ≲ 10 of the order-(k+2) entries, rounding ε|f|/h, so 2·10⁻⁷ of
    /// (1 + |f'|). Fails with the R⁽ʲ⁾ list shifted by one order or the binomial row of k = 3
    /// replaced by k = 2's.
    #[test]
    fn each_order_is_the_mean_derivative_of_the_one_below() {
        let h = 1e-4;
        for (mu, s, rho) in CASES {
            let base = terms(mu, s).natural_pair(0, 1, rho).unwrap();
            let at = |dmu: [f64; 2], dsig: f64| {
                let m = [mu[0] + dmu[0], mu[1] + dmu[1]];
                let r = (rho * s[0] * s[1] + dsig) / (s[0] * s[1]);
                terms(m, s).natural_pair(0, 1, r).unwrap()
            };
            let (xp, xm) = (at([h, 0.0], 0.0), at([-h, 0.0], 0.0));
            let (yp, ym) = (at([0.0, h], 0.0), at([0.0, -h], 0.0));
            let (sp, sm) = (at([0.0; 2], h), at([0.0; 2], -h));
            for a in 0..HIGH_ORDER {
                for b in 0..HIGH_ORDER - a {
                    let check = |exact: f64, fd: f64, what: &str| {
                        let tol = 2e-7 * (1.0 + exact.abs());
                        assert!(
                            (exact - fd).abs() <= tol,
                            "{mu:?} {s:?} {rho} {what} of D{a}{b}: {exact} vs {fd}"
                        );
                    };
                    check(base[a + 1][b], (xp[a][b] - xm[a][b]) / (2.0 * h), "∂μᵢ");
                    check(base[a][b + 1], (yp[a][b] - ym[a][b]) / (2.0 * h), "∂μⱼ");
                    if a + b + 2 <= HIGH_ORDER {
                        check(
                            base[a + 1][b + 1],
                            (sp[a][b] - sm[a][b]) / (2.0 * h),
                            "∂Σᵢⱼ",
                        );
                    }
                }
            }
            for i in 0..2 {
                let u = terms(mu, s).natural_unit(i);
                let mut m = mu;
                m[i] += h;
                let up = terms(m, s).natural_unit(i);
                m[i] -= 2.0 * h;
                let down = terms(m, s).natural_unit(i);
                for k in 0..HIGH_ORDER {
                    let fd = (up.phi[k] - down.phi[k]) / (2.0 * h);
                    assert!(
                        (u.phi[k + 1] - fd).abs() <= 2e-7 * (1.0 + fd.abs()),
                        "phi{k}"
                    );
                    let fd = (up.sq[k] - down.sq[k]) / (2.0 * h);
                    assert!((u.sq[k + 1] - fd).abs() <= 2e-7 * (1.0 + fd.abs()), "sq{k}");
                }
            }
        }
    }

    /// A few entries against Gauss–Legendre quadrature of the bivariate density p(hᵢ, hⱼ) over
    /// the quadrant where the relu's derivatives live (D_ab = ∫∫ hᵢ^{1−a}hⱼ^{1−b}p for a, b ≤ 1;
    /// δ(hᵢ) = relu'' and δ'(hᵢ) = relu''' make D₂ᵦ = ∫ hⱼ^{1−b}p(0, hⱼ) and
    /// D₃ᵦ = −∫ hⱼ^{1−b}∂ᵢp(0, hⱼ), ∂ᵢp = −(Σ⁻¹(h − μ))ᵢ p; D₂₂ = p(0, 0)). The integrands are
    /// smooth on [0, μ + 12s] (tail beyond e⁻⁷²), so 160 nodes reach rounding: 1e-11 relative.
    /// Fails with ∂ₓG's ρφ(x)Φ(w) term dropped (D₁₀).
    #[test]
    fn entries_match_quadrature_of_the_density() {
        let (z, wt) = gauss_legendre(160);
        for (mu, s, rho) in CASES {
            let d = terms(mu, s).natural_pair(0, 1, rho).unwrap();
            let (p, grad0) = density(mu, (s[0] * s[0], s[1] * s[1], rho * s[0] * s[1]));
            let (p, grad0) = (&p, &grad0);
            let top = |k: usize| (mu[k] + 12.0 * s[k]).max(1e-3);
            let nodes = |k: usize| {
                let half = 0.5 * top(k);
                z.iter()
                    .zip(&wt)
                    .map(move |(&x, &w)| (half * (x + 1.0), half * w))
            };
            let pow = |h: f64, e: usize| if e == 1 { h } else { 1.0 };
            let close = |exact: f64, quad: f64, what: &str| {
                assert!(
                    (exact - quad).abs() <= 1e-11 * (1.0 + exact.abs()),
                    "{mu:?} {what}: {exact} vs {quad}"
                );
            };
            for (a, b) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let q: f64 = nodes(0)
                    .flat_map(|(h0, w0)| {
                        nodes(1).map(move |(h1, w1)| {
                            w0 * w1 * pow(h0, 1 - a) * pow(h1, 1 - b) * p(h0, h1)
                        })
                    })
                    .sum();
                close(d[a][b], q, &format!("D{a}{b}"));
            }
            for b in [0, 1] {
                let two: f64 = nodes(1)
                    .map(|(h1, w)| w * pow(h1, 1 - b) * p(0.0, h1))
                    .sum();
                let three: f64 = nodes(1)
                    .map(|(h1, w)| w * pow(h1, 1 - b) * grad0(0.0, h1) * p(0.0, h1))
                    .sum();
                close(d[2][b], two, &format!("D2{b}"));
                close(d[3][b], three, &format!("D3{b}"));
            }
            close(d[2][2], p(0.0, 0.0), "D22");
        }
    }
}
