//! The κ₃/κ₄ corrections of any φ by quadrature of the expanded density: the reference for the
//! closed forms and the series, and the series' fallback ([`super::edgeworth`]).
//!
//! Instead of differentiating f = φ(hᵢ)φ(hⱼ), the Gram–Charlier density
//! p_G(1 + (1/6)κ_{abc}H_{abc} + (1/24)κ_{abcd}H_{abcd}) is integrated against f, term by term:
//! with standardised xₖ = (hₖ − μₖ)/sₖ of correlation matrix R, y = R⁻¹x, g = R⁻¹, the
//! multivariate Hermite polynomials (McCullagh, *Tensor Methods in Statistics*, §5.2)
//!
//! ```text
//! H_abc  = y_a y_b y_c − (y_a g_bc + y_b g_ac + y_c g_ab),
//! H_abcd = y_a y_b y_c y_d − Σ₆ y_a y_b g_cd + Σ₃ g_ab g_cd,
//! D_ab   = E_G[f · H_{i…i j…j}] / (sᵢᵃ sⱼᵇ)   (a indices i, b indices j),
//! ```
//!
//! by the same composite Gauss–Legendre rules as [`super::quadrature`], in the Cholesky
//! coordinates xᵢ = z₁, xⱼ = ρz₁ + qz₂ (so yᵢ = z₁ − ρz₂/q, yⱼ = z₂/q), split at the kinks of φ.
//! One unit: E_G[g⁽ᵏ⁾(h)] = E[g(μ + sz)Heₖ(z)]/sᵏ for g = φ and φ².

use super::edgeworth::{DerivativeTerms, PairTerms, UnitTerms, ORDERS};
use super::quadrature::{half_range, kink, width};
use super::rules::for_each_normal_node;
use crate::net::Activation;

/// Below this q² = 1 − ρ² the Hermite weights (∝ q⁻⁴) cancel too much: the pair is refused.
const MIN_Q2: f64 = 1e-6;

/// Quadrature terms of `act` for an input with means `mu` and standard deviations `s`.
pub(crate) struct QuadratureTerms {
    pub act: Activation,
    pub mu: Vec<f64>,
    pub s: Vec<f64>,
}

/// H for the index list `idx` (0 = i, 1 = j) of length 3 or 4 (module docs).
fn hermite(idx: &[usize], y: [f64; 2], g: [[f64; 2]; 2]) -> f64 {
    let prod: f64 = idx.iter().map(|&a| y[a]).product();
    let k = idx.len();
    let mut pairs = 0.0;
    for p in 0..k {
        for r in p + 1..k {
            let rest: f64 = (0..k)
                .filter(|&t| t != p && t != r)
                .map(|t| y[idx[t]])
                .product();
            pairs += g[idx[p]][idx[r]] * rest;
        }
    }
    let mut doubles = 0.0;
    if k == 4 {
        let gg = |a: usize, b: usize, c: usize, d: usize| g[idx[a]][idx[b]] * g[idx[c]][idx[d]];
        doubles = gg(0, 1, 2, 3) + gg(0, 2, 1, 3) + gg(0, 3, 1, 2);
    }
    prod - pairs + doubles
}

/// Heₖ(z), k = 3, 4.
fn he34(z: f64) -> [f64; 2] {
    let z2 = z * z;
    [z2 * z - 3.0 * z, z2 * z2 - 6.0 * z2 + 3.0]
}

impl DerivativeTerms for QuadratureTerms {
    fn unit(&self, i: usize) -> UnitTerms {
        let (mu, s, act) = (self.mu[i], self.s[i], self.act);
        let brk = kink(act).map(|k| (k - mu) / s);
        let mut acc = [0.0; 4];
        for_each_normal_node(brk.as_slice(), width(s), &[], half_range(mu / s), |z, w| {
            let f = act.eval(mu + s * z);
            let h = he34(z);
            acc[0] += w * f * h[0];
            acc[1] += w * f * h[1];
            acc[2] += w * f * f * h[0];
            acc[3] += w * f * f * h[1];
        });
        let (s3, s4) = (s * s * s, s * s * s * s);
        UnitTerms {
            phi: [acc[0] / s3, acc[1] / s4],
            sq: [acc[2] / s3, acc[3] / s4],
        }
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        let q2 = (1.0 - rho) * (1.0 + rho);
        if q2 < MIN_Q2 {
            return None;
        }
        let q = q2.sqrt();
        let act = self.act;
        let (mi, si, mj, sj) = (self.mu[i], self.s[i], self.mu[j], self.s[j]);
        let g = [[1.0 / q2, -rho / q2], [-rho / q2, 1.0 / q2]];
        let k = kink(act);
        let mut outer = Vec::with_capacity(2);
        if let Some(k) = k {
            outer.push((k - mi) / si);
            if rho != 0.0 {
                outer.push((k - mj) / (sj * rho));
            }
        }
        let (sr, sq) = (sj * rho, sj * q);
        let range = half_range((mi / si).abs().max((mj / sj).abs()));
        // Index lists per (a, b), a + b = 3, 4.
        let lists: Vec<(usize, usize, Vec<usize>)> = ORDERS
            .into_iter()
            .map(|(a, b)| {
                let mut v = vec![0; a];
                v.extend(std::iter::repeat_n(1, b));
                (a, b, v)
            })
            .collect();
        let mut acc = vec![0.0; lists.len()];
        for_each_normal_node(&outer, width(si.max(sr.abs())), &[], range, |z1, w1| {
            let fi = act.eval(mi + si * z1);
            if fi == 0.0 {
                return;
            }
            let base = mj + sr * z1;
            let inner = k.map(|k| (k - base) / sq);
            for_each_normal_node(
                inner.as_slice(),
                width(sq),
                &[],
                half_range(base / sq),
                |z2, w2| {
                    let f = fi * act.eval(base + sq * z2) * w1 * w2;
                    let y = [z1 - rho * z2 / q, z2 / q];
                    for (a, (_, _, idx)) in acc.iter_mut().zip(&lists) {
                        *a += f * hermite(idx, y, g);
                    }
                },
            );
        });
        let mut d = [[0.0; 5]; 5];
        for (v, (a, b, _)) in acc.iter().zip(&lists) {
            d[*a][*b] = v / (si.powi(*a as i32) * sj.powi(*b as i32));
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At ρ = 0 the bivariate polynomials factor into the univariate ones: H_{i^a j^b} =
    /// Heₐ(xᵢ)He_b(xⱼ).
    #[test]
    fn hermite_polynomials_factor_at_zero_correlation() {
        let g = [[1.0, 0.0], [0.0, 1.0]];
        let he = |n: usize, x: f64| match n {
            0 => 1.0,
            1 => x,
            2 => x * x - 1.0,
            3 => x * x * x - 3.0 * x,
            _ => x.powi(4) - 6.0 * x * x + 3.0,
        };
        let (x, y) = (0.7, -1.3);
        for (a, b) in ORDERS {
            let mut idx = vec![0; a];
            idx.extend(std::iter::repeat_n(1, b));
            let got = hermite(&idx, [x, y], g);
            let want = he(a, x) * he(b, y);
            assert!((got - want).abs() < 1e-12, "({a}, {b}): {got} vs {want}");
        }
    }
}
