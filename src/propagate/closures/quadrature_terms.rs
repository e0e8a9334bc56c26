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
//!
//! Above scale 8 the rules are [`super::quadrature`]'s windowed ones (`rule_for`, `outer_rule`):
//! panels of unit scale in z outside φ's feature window and narrow ones only inside it, so the
//! node count is bounded whatever the scale (a saturating unit at s = 10⁶ took 6·10⁸ nodes per
//! unit with panels 0.5/s wide everywhere: `--order 3` on such a network did not finish). Outside
//! the window the integrand is the Gaussian weight times a polynomial of degree ≤ 6 (φ or φ² of
//! degree ≤ 2 times an H of degree ≤ 4), whose 32nd derivative is larger than the degree-1 case
//! of [`super::quadrature`]'s `SPLIT_PANEL` bound (5·10⁻²⁸) by at most ~32³: still below 10⁻²².
//! At scales ≤ 8 the rules are unchanged.

use super::edgeworth::{DerivativeTerms, PairTerms, UnitTerms, ORDERS};
use super::quadrature::{feature_half_width, half_range, kink, outer_rule, rule_for, SPLIT_ABOVE};
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
        self.unit_split(i, SPLIT_ABOVE).0
    }

    fn pair(&self, i: usize, j: usize, rho: f64) -> Option<PairTerms> {
        self.pair_split(i, j, rho, SPLIT_ABOVE).map(|(d, _)| d)
    }
}

impl QuadratureTerms {
    /// [`DerivativeTerms::unit`] with the windows of `rule_for` above scale `split_above`
    /// (∞: the single-width rule), and the number of nodes of its rule (its cost).
    fn unit_split(&self, i: usize, split_above: f64) -> (UnitTerms, usize) {
        let (mu, s, act) = (self.mu[i], self.s[i], self.act);
        let brk = kink(act).map(|k| (k - mu) / s);
        let (w, window) = rule_for(feature_half_width(act), mu, s, split_above);
        let mut acc = [0.0; 4];
        let mut nodes = 0;
        for_each_normal_node(
            brk.as_slice(),
            w,
            window.as_slice(),
            half_range(mu / s),
            |z, w| {
                nodes += 1;
                let f = act.eval(mu + s * z);
                let h = he34(z);
                acc[0] += w * f * h[0];
                acc[1] += w * f * h[1];
                acc[2] += w * f * f * h[0];
                acc[3] += w * f * f * h[1];
            },
        );
        let (s3, s4) = (s * s * s, s * s * s * s);
        let terms = UnitTerms {
            phi: [acc[0] / s3, acc[1] / s4],
            sq: [acc[2] / s3, acc[3] / s4],
        };
        (terms, nodes)
    }

    /// [`DerivativeTerms::pair`] with the windows of `outer_rule`/`rule_for` above scale
    /// `split_above` (∞: the single-width rules), and the number of inner nodes (its cost).
    fn pair_split(
        &self,
        i: usize,
        j: usize,
        rho: f64,
        split_above: f64,
    ) -> Option<(PairTerms, usize)> {
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
        let c = feature_half_width(act);
        let (outer_w, windows) = outer_rule(c, (mi, si), mj, (sq, sr), split_above);
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
        let mut nodes = 0;
        for_each_normal_node(&outer, outer_w, &windows, range, |z1, w1| {
            let fi = act.eval(mi + si * z1);
            if fi == 0.0 {
                return;
            }
            let base = mj + sr * z1;
            let inner = k.map(|k| (k - base) / sq);
            let (inner_w, window) = rule_for(c, base, sq, split_above);
            for_each_normal_node(
                inner.as_slice(),
                inner_w,
                window.as_slice(),
                half_range(base / sq),
                |z2, w2| {
                    nodes += 1;
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
        Some((d, nodes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A saturating tanh unit (μ = 0, s = 10⁶) takes the windowed rule: at most
    /// 16(L + c + 4) nodes (L panels of width 2 over ±L, c of width 2/s in the window |h| ≤ c,
    /// a few split at the edges) instead of the single-width rule's 16·4Ls ≈ 6·10⁸; and its
    /// terms are the sign function's to the window's error: E[tanh(sz)He₃(z)] → E[sign(z)He₃(z)]
    /// = −2φ(0), off by ≤ 2·3φ(0)∫₀^∞(1 − tanh su)u du = 6φ(0)(π²/24)/s² < 1/s², and
    /// E[tanh(sz)He₄(z)] → 0, off by ≤ 2·3φ(0)∫₀^∞(1 − tanh su)du = 6φ(0)ln2/s < 1.7/s.
    #[test]
    fn saturating_units_take_the_windowed_rule() {
        let s = 1e6;
        let terms = QuadratureTerms {
            act: Activation::Tanh,
            mu: vec![0.0],
            s: vec![s],
        };
        let (t, nodes) = terms.unit_split(0, SPLIT_ABOVE);
        let bound = 16.0 * (half_range(0.0) + feature_half_width(Activation::Tanh) + 4.0);
        assert!((nodes as f64) <= bound, "{nodes} nodes > {bound}");
        let phi0 = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
        let he3 = t.phi[0] * s.powi(3);
        assert!(
            (he3 + 2.0 * phi0).abs() < 1.0 / (s * s) + 1e-13,
            "E[φ He₃] = {he3}"
        );
        let he4 = t.phi[1] * s.powi(4);
        assert!(he4.abs() < 1.7 / s + 1e-13, "E[φ He₄] = {he4}");
    }

    /// Just above the split (scales 9–10, where the single-width rule is still affordable) the
    /// windowed unit and pair terms equal the single-width rule's (`split_above` = ∞, the rule
    /// before the windows) with fewer nodes: units at s = 9.5 and 9 (tanh, GELU, relu); pairs
    /// (9.5, 2) at ρ = 0.6 (the outer rule's own window and g's, sⱼ|ρ| > 1; tanh, relu) and
    /// (1, 9) at ρ = 0.3 (the inner rule's window, sⱼq > 8; tanh) — the single-width rule
    /// costs ~10⁷ nodes a pair here. Both rules' errors are ≤ 10⁻¹⁷ of the
    /// integrand's scale (`SPLIT_PANEL`'s bound, module docs); the tolerance 1e-10 of the
    /// largest term leaves room for the rounding of sums of ~10⁷ nodes.
    #[test]
    fn windowed_terms_equal_the_single_width_rule() {
        // The windowed terms `new` against the single-width `old`, and their node counts.
        let agree = |new: &[f64], old: &[f64], (n_new, n_old): (usize, usize), what: &str| {
            let scale = old.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            for (x, y) in new.iter().zip(old) {
                assert!((x - y).abs() <= 1e-10 * scale, "{what}: {x} vs {y}");
            }
            assert!(n_new < n_old, "{what}: {n_new} nodes, single width {n_old}");
        };
        for act in [Activation::Tanh, Activation::Gelu, Activation::Relu] {
            let terms = QuadratureTerms {
                act,
                mu: vec![3.0, -5.0, 2.0, 0.5],
                s: vec![9.5, 2.0, 9.0, 1.0],
            };
            for i in [0, 2] {
                let (new, n_new) = terms.unit_split(i, SPLIT_ABOVE);
                let (old, n_old) = terms.unit_split(i, f64::INFINITY);
                let (a, b) = ([new.phi, new.sq].concat(), [old.phi, old.sq].concat());
                agree(&a, &b, (n_new, n_old), &format!("{act:?} unit {i}"));
            }
            let pairs: &[(usize, usize, f64)] = match act {
                Activation::Tanh => &[(0, 1, 0.6), (3, 2, 0.3)],
                Activation::Relu => &[(0, 1, 0.6)],
                _ => &[],
            };
            for &(i, j, rho) in pairs {
                let (new, n_new) = terms.pair_split(i, j, rho, SPLIT_ABOVE).unwrap();
                let (old, n_old) = terms.pair_split(i, j, rho, f64::INFINITY).unwrap();
                let (a, b) = (new.concat(), old.concat());
                agree(&a, &b, (n_new, n_old), &format!("{act:?} ρ {rho}"));
            }
        }
    }

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
