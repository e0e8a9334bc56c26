//! φ(h) = max(h, 0): exact Gaussian closure through Φ₂ (DESIGN.md §3, "ReLU").

use std::f64::consts::FRAC_PI_2;
use std::sync::OnceLock;

use rayon::prelude::*;

use pulp::{Simd, WithSimd};

use super::bvn::{
    bvn_cdf, cdf, genz_rule, hermite_table, pdf, plackett_lanes, series_column, series_terms,
    tetrachoric_lanes, SERIES_MAX_RHO, SERIES_TERMS,
};
use super::input::{correlation, gaussian_only, reset_output, units};
use super::rules::gauss_legendre;
use super::triangle::fill_symmetric;
use super::{Closure, Corrections};
use crate::error::Result;
use crate::stats::Moments;

/// Exact Gaussian closure of the relu (DESIGN.md §3). Gaussian-only: κ₃/κ₄ corrections are
/// refused with [`crate::Error::Unsupported`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ReluClosure;

/// Below this standardised mean the closed-form variance cancels too much (at a = −1.5 the
/// terms are 10× the result, ~1 digit; at a = −3, 65×), and Price's theorem takes over.
const PRICE_BELOW: f64 = -1.5;

/// Mean and variance of max(h, 0), h ~ N(μ, s²), a = μ/s:
/// m = μΦ(a) + sφ(a), Var = (μ² + s²)Φ(a) + μsφ(a) − m² for a ≥ −1.5. Further below, that
/// difference cancels (≈ a⁴ digits lost), so the variance is taken from Price's theorem instead,
/// Var = s² ∫₀¹ Φ₂(a, a; r) dr = s² ∫₀^{π/2} Φ₂(a, a; sin θ) cos θ dθ (positive integrand),
/// by ⌈1 + a²/32⌉ panels of 20-point Gauss–Legendre. A deterministic unit (s = 0) gives
/// (max(μ, 0), 0).
pub fn relu_moments(mu: f64, s: f64) -> (f64, f64) {
    if s <= 0.0 {
        return (mu.max(0.0), 0.0);
    }
    let a = mu / s;
    let (big_phi, small_phi) = (cdf(a), pdf(a));
    let m = mu * big_phi + s * small_phi;
    if a >= PRICE_BELOW {
        let var = (mu * mu + s * s) * big_phi + mu * s * small_phi - m * m;
        return (m, var.max(0.0));
    }
    (m, price_variance(a, s))
}

/// Var[max(h, 0)] = s² ∫₀^{π/2} Φ₂(a, a; sin θ) cos θ dθ (Price's theorem), by ⌈1 + a²/32⌉
/// panels of 20-point Gauss–Legendre: no cancellation at any a.
fn price_variance(a: f64, s: f64) -> f64 {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    let (x, w) = RULE.get_or_init(|| gauss_legendre(20));
    let panels = (1.0 + a * a / 32.0).ceil() as usize;
    let width = FRAC_PI_2 / panels as f64;
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = (p as f64 + 0.5) * width;
        for (xi, wi) in x.iter().zip(w) {
            let t = mid + 0.5 * width * xi;
            sum += wi * t.cos() * bvn_cdf(a, a, t.sin());
        }
    }
    s * s * 0.5 * width * sum
}

/// E[hᵢ⁺hⱼ⁺]/(sᵢsⱼ) for standardised means a, b and correlation ρ (DESIGN.md §3):
/// (ab + ρ)Φ₂(a, b; ρ) + aφ(b)Φ((a − ρb)/q) + bφ(a)Φ((b − ρa)/q) + qφ(b)φ((a − ρb)/q),
/// q = √(1 − ρ²). At q = 0 (ρ = ±1) the ratios take their limits (±∞, or 0 when the numerator
/// vanishes), which reproduces the degenerate expectation without NaN.
pub fn relu_cross(a: f64, b: f64, rho: f64) -> f64 {
    let q = ((1.0 - rho) * (1.0 + rho)).sqrt();
    let xa = ratio(a - rho * b, q);
    let xb = ratio(b - rho * a, q);
    (a * b + rho) * bvn_cdf(a, b, rho)
        + a * pdf(b) * cdf(xa)
        + b * pdf(a) * cdf(xb)
        + q * pdf(b) * pdf(xa)
}

/// num/q with the limits num/0 = ±∞ and 0/0 = 0.
#[inline]
fn ratio(num: f64, q: f64) -> f64 {
    if q > 0.0 {
        num / q
    } else if num == 0.0 {
        0.0
    } else {
        num.signum() * f64::INFINITY
    }
}

impl Closure for ReluClosure {
    fn name(&self) -> String {
        "relu (Φ₂ closed form)".into()
    }

    /// mᵢ and Cᵢᵢ by [`relu_moments`]; Cᵢⱼ = sᵢsⱼ·[`relu_cross`] − mᵢmⱼ; rows of deterministic
    /// units are zero.
    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()> {
        gaussian_only(corrections, "relu")?;
        let u = units(input, "relu")?;
        let n = input.dim();
        reset_output(out, n);
        let (m, var): (Vec<f64>, Vec<f64>) = (0..n)
            .into_par_iter()
            .map(|i| relu_moments(u.mu[i], u.s[i]))
            .unzip();
        for (i, mi) in m.iter().enumerate() {
            out.mean[i] = *mi;
        }
        let a: Vec<f64> = (0..n)
            .map(|i| if u.s[i] > 0.0 { u.mu[i] / u.s[i] } else { 0.0 })
            .collect();
        let phi_a: Vec<f64> = a.iter().map(|&x| cdf(x)).collect();
        let pdf_a: Vec<f64> = a.iter().map(|&x| pdf(x)).collect();
        let herm = hermite_table(&a);
        let arch = pulp::Arch::new();
        fill_symmetric(&mut out.cov, |i, col| {
            if u.s[i] > 0.0 {
                arch.dispatch(ReluLanes {
                    out: col,
                    sig: &input.cov.col_as_slice(i)[..=i],
                    s: &u.s[..=i],
                    a: &a[..=i],
                    m: &m[..=i],
                    cdf_a: &phi_a[..=i],
                    pdf_a: &pdf_a[..=i],
                    herm: &herm,
                    column: &series_column(&herm, n, i),
                    stride: n,
                    i,
                });
            } else {
                col.fill(0.0);
            }
            col[i] = var[i];
        })
    }
}

/// SIMD lanes over j < i of column i: Cᵢⱼ = sᵢsⱼ·[`relu_cross`](aᵢ, aⱼ, ρ) − mᵢmⱼ with
/// Φ₂(aᵢ, aⱼ; ρ) = Φ(aᵢ)Φ(aⱼ) + ∫₀^ρ φ₂ ([`tetrachoric_lanes`] when every lane has |ρ| < 0.5,
/// else [`plackett_lanes`], Genz's branch |ρ| < 0.925) and the
/// vector Φ, φ of [`crate::simd`]. Lanes with |ρ| ≥ 0.925 or sⱼ = 0 (and the diagonal, which
/// the caller overwrites) are recomputed by the scalar [`relu_cross`]. Requires sᵢ > 0.
struct ReluLanes<'a> {
    out: &'a mut [f64],
    sig: &'a [f64],
    s: &'a [f64],
    a: &'a [f64],
    m: &'a [f64],
    cdf_a: &'a [f64],
    pdf_a: &'a [f64],
    /// ĥₘ(aⱼ) of every unit, term-major with `stride` = N ([`hermite_table`]).
    herm: &'a [f64],
    /// ĥₘ(aᵢ)/(m+1) of this column ([`series_column`]).
    column: &'a [f64; SERIES_TERMS],
    stride: usize,
    i: usize,
}

impl WithSimd for ReluLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        use crate::simd::{norm_cdf, norm_pdf};
        let i = self.i;
        let len = self.out.len();
        let (si, ai, mi) = (self.s[i], self.a[i], self.m[i]);
        let (cdf_ai, pdf_ai) = (self.cdf_a[i], self.pdf_a[i]);
        let (zero, one) = (simd.splat_f64s(0.0), simd.splat_f64s(1.0));
        let (si_v, ai_v) = (simd.splat_f64s(si), simd.splat_f64s(ai));
        let mut j = 0;
        while j < len {
            let end = (j + S::F64_LANES).min(len);
            let sig = simd.partial_load_f64s(&self.sig[j..end]);
            let sj = simd.partial_load_f64s(&self.s[j..end]);
            let aj = simd.partial_load_f64s(&self.a[j..end]);
            let rho = simd.div_f64s(simd.div_f64s(sig, si_v), sj);
            let easy = simd.and_m64s(
                simd.less_than_f64s(simd.abs_f64s(rho), simd.splat_f64s(0.925)),
                simd.greater_than_f64s(sj, zero),
            );
            let r = simd.select_f64s(easy, rho, zero);
            let max_r = simd.reduce_max_f64s(simd.abs_f64s(r));
            let hk = simd.mul_f64s(ai_v, aj);
            let hs = simd.mul_f64s(
                simd.splat_f64s(0.5),
                simd.mul_add_f64s(ai_v, ai_v, simd.mul_f64s(aj, aj)),
            );
            let cdf_aj = simd.partial_load_f64s(&self.cdf_a[j..end]);
            let pdf_aj = simd.partial_load_f64s(&self.pdf_a[j..end]);
            let plackett = if max_r < SERIES_MAX_RHO {
                let pdf_hk = simd.mul_f64s(simd.splat_f64s(pdf_ai), pdf_aj);
                let series = tetrachoric_lanes(
                    simd,
                    r,
                    self.column,
                    self.herm,
                    self.stride,
                    j..end,
                    series_terms(max_r),
                );
                simd.mul_f64s(pdf_hk, series)
            } else {
                plackett_lanes(simd, hk, hs, r, genz_rule(max_r))
            };
            let bvn = simd.mul_add_f64s(simd.splat_f64s(cdf_ai), cdf_aj, plackett);
            let bvn = simd.min_f64s(simd.max_f64s(bvn, zero), one);
            let q = simd.sqrt_f64s(simd.mul_f64s(simd.sub_f64s(one, r), simd.add_f64s(one, r)));
            let xa = simd.div_f64s(simd.negate_mul_add_f64s(r, aj, ai_v), q);
            let xb = simd.div_f64s(simd.negate_mul_add_f64s(r, ai_v, aj), q);
            let pdf_xa = norm_pdf(simd, xa);
            // (ab + ρ)Φ₂ + aφ(b)Φ(xa) + bφ(a)Φ(xb) + qφ(b)φ(xa)
            let mut cross = simd.mul_f64s(simd.add_f64s(hk, r), bvn);
            cross = simd.mul_add_f64s(simd.mul_f64s(ai_v, pdf_aj), norm_cdf(simd, xa), cross);
            cross = simd.mul_add_f64s(
                simd.mul_f64s(aj, simd.splat_f64s(pdf_ai)),
                norm_cdf(simd, xb),
                cross,
            );
            cross = simd.mul_add_f64s(simd.mul_f64s(q, pdf_aj), pdf_xa, cross);
            let mj = simd.partial_load_f64s(&self.m[j..end]);
            let c = simd.mul_add_f64s(
                simd.mul_f64s(si_v, sj),
                cross,
                simd.mul_f64s(simd.splat_f64s(-mi), mj),
            );
            simd.partial_store_f64s(&mut self.out[j..end], c);
            let hard = simd.select_f64s(easy, zero, one);
            if simd.reduce_max_f64s(hard) > 0.0 {
                let mut flags = [0.0; 16];
                simd.partial_store_f64s(&mut flags[..end - j], hard);
                for (k, _) in (j..end).zip(flags).filter(|(_, f)| *f != 0.0) {
                    self.out[k] = if self.s[k] > 0.0 {
                        let rho = correlation(self.sig[k], si, self.s[k]);
                        si * self.s[k] * relu_cross(ai, self.a[k], rho) - mi * self.m[k]
                    } else {
                        0.0
                    };
                }
            }
            j = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::input::lane_test_input;

    /// The SIMD lanes against the scalar formula pair by pair.
    #[test]
    fn closed_form_variance_agrees_with_price_above_the_switch() {
        for a in [PRICE_BELOW, -1.2, -0.7, -0.3, -1e-3] {
            let (_, var) = relu_moments(a, 1.0);
            let price = price_variance(a, 1.0);
            assert!(
                (var - price).abs() <= 1e-14 * price,
                "a = {a}: {var} vs {price}"
            );
        }
    }

    #[test]
    fn simd_lanes_match_scalar_relu_cross() {
        for diag in [0.004, 2.0] {
            let input = lane_test_input(diag);
            let out = ReluClosure.apply(&input, Corrections::None).unwrap();
            let u = units(&input, "relu").unwrap();
            let n = input.dim();
            let (mut easy, mut hard) = (0, 0);
            for i in 0..n {
                for j in 0..i {
                    let (si, sj) = (u.s[i], u.s[j]);
                    let want = if si > 0.0 && sj > 0.0 {
                        let rho = correlation(input.cov[(i, j)], si, sj);
                        if rho.abs() < 0.925 {
                            easy += 1;
                        } else {
                            hard += 1;
                        }
                        let (mi, mj) = (relu_moments(u.mu[i], si).0, relu_moments(u.mu[j], sj).0);
                        si * sj * relu_cross(u.mu[i] / si, u.mu[j] / sj, rho) - mi * mj
                    } else {
                        0.0
                    };
                    let got = out.cov[(i, j)];
                    assert!(
                        (got - want).abs() <= 1e-14 * (si * sj).max(1e-300),
                        "C[{i},{j}] = {got}, scalar {want}"
                    );
                    assert_eq!(got, out.cov[(j, i)]);
                }
            }
            if diag < 1.0 {
                assert!(easy > 100 && hard > 20, "easy {easy}, hard {hard}");
            } else {
                assert!(
                    hard * 10 < easy,
                    "weak correlations expected: easy {easy}, hard {hard}"
                );
            }
        }
    }
}
