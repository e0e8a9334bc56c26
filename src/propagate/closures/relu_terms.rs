//! Closed-form Gaussian derivative expectations of the relu and the leaky relu, for their κ₃/κ₄
//! corrections ([`super::edgeworth`]).
//!
//! **relu.** For hₖ = μₖ + sₖzₖ, aₖ = μₖ/sₖ and corr(zᵢ, zⱼ) = ρ, E_G[relu(hᵢ)relu(hⱼ)] =
//! sᵢsⱼ G(aᵢ, aⱼ) with G(x, y) = E[relu(x + zᵢ)relu(y + zⱼ)], so
//! D_ab = E_G[relu⁽ᵃ⁾(hᵢ)relu⁽ᵇ⁾(hⱼ)] = sᵢ^{1−a} sⱼ^{1−b} ∂ᵃₓ∂ᵇ_y G. Since ∂ₓ∂_y G = Φ₂(x, y; ρ)
//! (E[ΘᵢΘⱼ]), the entries with a, b ≥ 1 are [`phi2_partials`] of order (a−1, b−1). With b = 0:
//! ∂²ₓG = E[δ(x + zᵢ)relu(y + zⱼ)] = φ(x)·q·R(w), q = √(1−ρ²), w = (y − ρx)/q,
//! R(w) = wΦ(w) + φ(w) = E[relu(w + z)] (given zᵢ = −x, y + zⱼ = q(w + z)), and R' = Φ:
//!
//! ```text
//! ∂³ₓG = −x q φ(x)R(w) − ρ φ(x)Φ(w)
//! ∂⁴ₓG = (x² − 1) q φ(x)R(w) + 2ρx φ(x)Φ(w) + ρ² φ₂(x, y; ρ)
//! ```
//!
//! One unit: E_G[relu⁽ᵏ⁾(h)] = s^{1−k}R⁽ᵏ⁾(a) with R''' = −aφ(a), R'''' = (a² − 1)φ(a); and
//! E_G[relu²(h)] = s²P(a), P = (a² + 1)Φ(a) + aφ(a), P''' = 2φ(a), P'''' = −2aφ(a).
//!
//! **leaky relu** φ = αh + (1 − α)relu(h): terms of total order ≥ 3 of α²hᵢhⱼ vanish, and by
//! Stein's lemma E_G[hᵢ relu(hⱼ)] = μᵢ sⱼR(aⱼ) + Σᵢⱼ Φ(aⱼ), whose derivatives are
//! ∂_{μᵢ}∂ᵇ_{μⱼ} = sⱼ^{1−b}R⁽ᵇ⁾(aⱼ) and ∂ᵇ_{μⱼ} = μᵢ sⱼ^{1−b}R⁽ᵇ⁾(aⱼ) + Σᵢⱼ sⱼ^{−b}Φ⁽ᵇ⁾(aⱼ)
//! (higher μᵢ-derivatives vanish). So D = α(1−α)(L_ij + L_jiᵀ) + (1−α)²D_relu, and since
//! h·relu(h) = relu(h)², φ² = α²h² + (1 − α²)relu², whose third and fourth derivatives are
//! (1 − α²) times relu²'s; φ⁽ᵏ⁾ = (1 − α)relu⁽ᵏ⁾ for k ≥ 2.

use super::edgeworth::{DerivativeTerms, PairTerms, UnitTerms, ORDERS};
use super::phi2_partials::phi2_partials;
use super::relu::Regime;
use super::relu_high::far_partials;
use crate::special::{normal_cdf, normal_pdf};

/// Below this q² = 1 − ρ² the pair's terms (with 1/q factors) are refused: the pair falls back.
const MIN_Q2: f64 = 1e-12;

/// Derivatives of Φ at a: Φ⁽ᵏ⁾(a), k = 0..4. Where φ(a) underflows (|a| > 38.6) the
/// derivatives are 0, their value to f64 range, not the ∞·0 = NaN of a cube that overflows
/// (|a| ≳ 10¹⁰³).
fn cdf_derivs(a: f64) -> [f64; 5] {
    let p = normal_pdf(a);
    if p == 0.0 {
        return [normal_cdf(a), 0.0, 0.0, 0.0, 0.0];
    }
    [
        normal_cdf(a),
        p,
        -a * p,
        (a * a - 1.0) * p,
        (3.0 * a - a * a * a) * p,
    ]
}

/// R⁽ᵏ⁾(a), k = 0..4, R(a) = aΦ(a) + φ(a) = E[relu(a + z)].
fn r_derivs(a: f64) -> [f64; 5] {
    let c = cdf_derivs(a);
    [a * c[0] + c[1], c[0], c[1], c[2], c[3]]
}

/// The relu's terms for an input with means `mu` and standard deviations `s`.
pub(crate) struct ReluTerms {
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
}

impl DerivativeTerms for ReluTerms {
    fn unit(&self, i: usize) -> UnitTerms {
        let (s, a) = (self.s[i], self.mu[i] / self.s[i]);
        if Regime::of(a) != Regime::Regular {
            // Linear or zero to f64 range: relu⁽ᵏ⁾ and (relu²)⁽ᵏ⁾ vanish for k ≥ 3 (the forms
            // below would divide 0 by s² or s³, which underflow at tiny spreads: 0/0).
            return UnitTerms::default();
        }
        let p = normal_pdf(a);
        UnitTerms {
            phi: [-a * p / (s * s), (a * a - 1.0) * p / (s * s * s)],
            sq: [2.0 * p / s, -2.0 * a * p / (s * s)],
        }
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        let q2 = (1.0 - rho) * (1.0 + rho);
        if q2 < MIN_Q2 {
            return None;
        }
        let (si, sj) = (self.s[i], self.s[j]);
        let (x, y) = (self.mu[i] / si, self.mu[j] / sj);
        let g = match far_partials(x, y, rho) {
            Some(far) => std::array::from_fn(|a| std::array::from_fn(|b| far[a][b])),
            None => relu_g_partials(x, y, rho),
        };
        let mut d = [[0.0; 5]; 5];
        for (a, b) in ORDERS {
            // A vanishing limit is 0 at any spread (not 0 times an s⁻³ that overflows).
            if g[a][b] != 0.0 {
                d[a][b] = si.powi(1 - a as i32) * sj.powi(1 - b as i32) * g[a][b];
            }
        }
        Some(d)
    }
}

/// ∂ᵃₓ∂ᵇ_y G(x, y) for a + b = 3, 4 (module docs), |ρ| < 1, both units regular (|x|, |y| ≤ 38;
/// beyond, `relu_high::far_partials`' limits).
fn relu_g_partials(x: f64, y: f64, rho: f64) -> PairTerms {
    let q2 = (1.0 - rho) * (1.0 + rho);
    let q = q2.sqrt();
    let t = phi2_partials(x, y, rho, q2);
    let mut g = [[0.0; 5]; 5];
    for (a, b) in ORDERS.into_iter().filter(|&(a, b)| a > 0 && b > 0) {
        g[a][b] = t[a - 1][b - 1];
    }
    let dens = normal_pdf(x) * normal_pdf((y - rho * x) / q) / q;
    let single = |x: f64, y: f64| {
        let w = (y - rho * x) / q;
        let (px, r) = (normal_pdf(x), r_derivs(w));
        [
            -x * q * px * r[0] - rho * px * r[1],
            (x * x - 1.0) * q * px * r[0] + 2.0 * rho * x * px * r[1] + rho * rho * dens,
        ]
    };
    let [g30, g40] = single(x, y);
    let [g03, g04] = single(y, x);
    g[3][0] = g30;
    g[4][0] = g40;
    g[0][3] = g03;
    g[0][4] = g04;
    g
}

/// The leaky relu's terms (slope α on the negative side), from the relu's (module docs).
pub(crate) struct LeakyTerms<'a> {
    pub relu: ReluTerms,
    pub slope: f64,
    /// The input covariance Σ (for the Stein terms Σᵢⱼ Φ⁽ᵇ⁾(aⱼ)).
    pub cov: faer::MatRef<'a, f64>,
}

impl LeakyTerms<'_> {
    /// ∂ᵃ_{μᵢ}∂ᵇ_{μⱼ} E_G[hᵢ relu(hⱼ)] for a + b = 3, 4.
    fn linear_relu(&self, i: usize, j: usize) -> PairTerms {
        let (mu_i, sj) = (self.relu.mu[i], self.relu.s[j]);
        let aj = self.relu.mu[j] / sj;
        let (r, c) = (r_derivs(aj), cdf_derivs(aj));
        let sig = self.cov[(i, j)];
        // c·sⱼᵖ·v, 0 where v is (a vanishing limit times an sⱼᵖ that may overflow).
        let term = |c: f64, p: i32, v: f64| if v == 0.0 { 0.0 } else { c * sj.powi(p) * v };
        let mut l = [[0.0; 5]; 5];
        for (a, b) in ORDERS.into_iter().filter(|&(a, _)| a <= 1) {
            let b32 = b as i32;
            l[a][b] = if a == 0 {
                term(mu_i, 1 - b32, r[b]) + term(sig, -b32, c[b])
            } else {
                sj.powi(1 - b32) * r[b]
            };
        }
        l
    }
}

impl DerivativeTerms for LeakyTerms<'_> {
    fn unit(&self, i: usize) -> UnitTerms {
        let t = self.relu.unit(i);
        let (k, k2) = (1.0 - self.slope, 1.0 - self.slope * self.slope);
        UnitTerms {
            phi: [k * t.phi[0], k * t.phi[1]],
            sq: [k2 * t.sq[0], k2 * t.sq[1]],
        }
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        let r = self.relu.pair(i, j, rho)?;
        let (lij, lji) = (self.linear_relu(i, j), self.linear_relu(j, i));
        let a = self.slope;
        let mut d = [[0.0; 5]; 5];
        for (p, b) in ORDERS {
            d[p][b] = a * (1.0 - a) * (lij[p][b] + lji[b][p]) + (1.0 - a) * (1.0 - a) * r[p][b];
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// E_G[relu⁽ᵏ⁾(h)] = s^{1−k}R⁽ᵏ⁾(a), k = 0..5, written out: R = aΦ + φ, R' = Φ, R'' = φ,
    /// R''' = −aφ, R'''' = (a² − 1)φ, R⁽⁵⁾ = (3a − a³)φ.
    fn relu_expectations(mu: f64, s: f64) -> [f64; 6] {
        let a = mu / s;
        let p = normal_pdf(a);
        let r = [
            a * normal_cdf(a) + p,
            normal_cdf(a),
            p,
            -a * p,
            (a * a - 1.0) * p,
            (3.0 * a - a * a * a) * p,
        ];
        std::array::from_fn(|k| s.powi(1 - k as i32) * r[k])
    }

    /// The limits of a pair whose unit 0 is linear (μ₀ > 0) or dead, by Stein's lemma: with
    /// h₀ > 0, D₀ᵦ = μ₀E[relu⁽ᵇ⁾(h₁)] + Σ₀₁E[relu⁽ᵇ⁺¹⁾(h₁)], D₁ᵦ = E[relu⁽ᵇ⁾(h₁)], D_ab = 0 for
    /// a ≥ 2; with h₀ < 0 every term is 0.
    fn limit(mu0: f64, s0: f64, (mu1, s1): (f64, f64), rho: f64) -> PairTerms {
        let mut d = [[0.0; 5]; 5];
        if mu0 > 0.0 {
            let e = relu_expectations(mu1, s1);
            let cov = rho * s0 * s1;
            for (a, b) in ORDERS {
                d[a][b] = match a {
                    0 => mu0 * e[b] + cov * e[b + 1],
                    1 => e[b],
                    _ => 0.0,
                };
            }
        }
        d
    }

    /// `got` against `want` to 10⁻¹³ of `want`'s largest entry.
    fn assert_close(got: &PairTerms, want: &PairTerms, what: &str) {
        let scale = ORDERS
            .iter()
            .map(|&(a, b)| want[a][b].abs())
            .fold(f64::MIN_POSITIVE, f64::max);
        for (a, b) in ORDERS {
            assert!(
                (got[a][b] - want[a][b]).abs() <= 1e-13 * scale,
                "{what} D{a}{b}: {:e} vs the limit {:e}",
                got[a][b],
                want[a][b]
            );
        }
    }

    /// The terms of a pair with unit 0 at μ/s = ±10⁶⁰ (and ±10²⁰⁰, ±45), the other regular, are
    /// the limits of a linear or a dead unit ([`limit`], written out independently), both ways
    /// round; with both units far every term is 0; the leaky relu's terms there are finite. The
    /// limits agree with the closed forms at μ/s = 37.9, where both are usable (10⁻¹²
    /// relative). Fails without `far_partials` in `ReluTerms::pair`.
    #[test]
    fn pairs_beyond_the_closed_forms_take_the_limits_of_linear_or_dead_units() {
        for far in [1e60, -1e60, 1e200, -1e200, 45.0, -45.0] {
            for (other, rho) in [((0.3, 1.2), 0.4), ((-0.5, 0.7), -0.85), ((1.7, 0.6), 0.93)] {
                for s0 in [1.0, 1e-3] {
                    let t = ReluTerms {
                        mu: vec![far * s0, other.0],
                        s: vec![s0, other.1],
                    };
                    let what = format!("μ₀/s₀ = {far:e}, s₀ = {s0}, ρ = {rho}");
                    let want = limit(far * s0, s0, other, rho);
                    assert_close(&t.pair(0, 1, rho).unwrap(), &want, &what);
                    let swapped = t.pair(1, 0, rho).unwrap();
                    let back: PairTerms =
                        std::array::from_fn(|a| std::array::from_fn(|b| swapped[b][a]));
                    assert_close(&back, &want, &format!("{what}, swapped"));
                    let both = ReluTerms {
                        mu: vec![far * s0, far.signum() * 1e80],
                        s: vec![s0, 1.0],
                    };
                    let zero = [[0.0; 5]; 5];
                    assert_close(
                        &both.pair(0, 1, rho).unwrap(),
                        &zero,
                        &format!("{what}, both"),
                    );
                    let s = [s0, other.1];
                    let cov = faer::Mat::from_fn(2, 2, |i, j| {
                        s[i] * s[j] * if i == j { 1.0 } else { rho }
                    });
                    let leaky = LeakyTerms {
                        relu: t,
                        slope: 0.1,
                        cov: cov.as_ref(),
                    };
                    let l = leaky.pair(0, 1, rho).unwrap();
                    assert!(
                        ORDERS.iter().all(|&(a, b)| l[a][b].is_finite()),
                        "{what}: leaky {l:?}"
                    );
                }
            }
        }
        let (other, rho) = ((0.3, 1.2), 0.4);
        let t = ReluTerms {
            mu: vec![37.9, other.0],
            s: vec![1.0, other.1],
        };
        let d = t.pair(0, 1, rho).unwrap();
        let want = limit(37.9, 1.0, other, rho);
        for (a, b) in ORDERS {
            assert!(
                (d[a][b] - want[a][b]).abs() <= 1e-12 * (1.0 + want[a][b].abs()),
                "closed form at 37.9: D{a}{b} {:e} vs the limit {:e}",
                d[a][b],
                want[a][b]
            );
        }
    }
}
