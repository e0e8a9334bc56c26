//! φ(h) = erf(h): exact Gaussian closure through Φ₂ (DESIGN.md §3, "erf").

use std::f64::consts::{PI, SQRT_2};

use pulp::{Simd, WithSimd};

use super::bvn::{
    bvn_cov, genz_rule, hermite_table, pdf, plackett_lanes, series_column, series_terms,
    tetrachoric_lanes, SERIES_MAX_RHO, SERIES_TERMS,
};
use super::input::{gaussian_only, reset_output, units};
use super::rules::gauss_legendre;
use super::triangle::fill_symmetric;
use super::{Closure, Corrections};
use crate::error::Result;
use crate::stats::Moments;

/// Exact Gaussian closure of erf. With uₖ = √2μₖ/√(1+2Σₖₖ) and r = 2Σᵢⱼ/√((1+2Σᵢᵢ)(1+2Σⱼⱼ)),
/// erf(hₖ) = 2·1[Xₖ ≤ uₖ] − 1 in law for standard normals with correlation r, so
///
/// ```text
/// mᵢ = erf(μᵢ/√(1+2Σᵢᵢ)) = 2Φ(uᵢ) − 1,
/// E[erf erf] = 4Φ₂(uᵢ, uⱼ; r) − 2Φ(uᵢ) − 2Φ(uⱼ) + 1,
/// Cᵢⱼ = 4(Φ₂(uᵢ, uⱼ; r) − Φ(uᵢ)Φ(uⱼ)).
/// ```
///
/// The covariance is evaluated as 4·[`bvn_cov`], which never forms the difference of two
/// numbers near 1 (see there); the literal 4Φ₂ − 2Φ − 2Φ + 1 − mᵢmⱼ loses all digits when
/// |uᵢ| ≳ 6 (variance ≲ 10⁻⁹). Gaussian-only: κ₃/κ₄ corrections are refused.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErfClosure;

/// Covariance of erf(hᵢ), erf(hⱼ) under a Gaussian closure by Price's theorem, an independent
/// check of [`ErfClosure`]: ∂E[φ(hᵢ)φ(hⱼ)]/∂Σᵢⱼ = E[φ'(hᵢ)φ'(hⱼ)] with φ' = (2/√π)e^{−h²}, and
/// E[e^{−hᵢ²−hⱼ²}] = det(I+2S)^{−1/2} exp(−μᵀ(I+2S)⁻¹μ), so
///
/// ```text
/// Cᵢⱼ = ∫₀^{Σᵢⱼ} (4/π) det(I+2S(t))^{−1/2} exp(−μᵀ(I+2S(t))⁻¹μ) dt,  S(t) = [[Σᵢᵢ, t], [t, Σⱼⱼ]],
/// ```
///
/// by `nodes`-point Gauss–Legendre (the integrand is smooth on the whole range |t| ≤ sᵢsⱼ).
pub fn erf_cov_price(mu: [f64; 2], var: [f64; 2], cov: f64, nodes: usize) -> f64 {
    let (x, w) = gauss_legendre(nodes);
    let (di, dj) = (1.0 + 2.0 * var[0], 1.0 + 2.0 * var[1]);
    let half = 0.5 * cov;
    x.iter()
        .zip(&w)
        .map(|(&x, &w)| {
            let t = half * (1.0 + x);
            let det = di * dj - 4.0 * t * t;
            let quad = (dj * mu[0] * mu[0] - 4.0 * t * mu[0] * mu[1] + di * mu[1] * mu[1]) / det;
            w * (4.0 / PI) * (-quad).exp() / det.sqrt()
        })
        .sum::<f64>()
        * half
}

impl Closure for ErfClosure {
    fn name(&self) -> String {
        "erf (Φ₂ closed form)".into()
    }

    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()> {
        gaussian_only(corrections, "erf")?;
        let u = units(input, "erf")?;
        let n = input.dim();
        reset_output(out, n);
        // dₖ = 1/√(1 + 2Σₖₖ), uₖ = √2 μₖ dₖ.
        let d: Vec<f64> =
            u.s.iter()
                .map(|s| 1.0 / (1.0 + 2.0 * s * s).sqrt())
                .collect();
        let uu: Vec<f64> = (0..n).map(|k| SQRT_2 * u.mu[k] * d[k]).collect();
        let pdf_u: Vec<f64> = uu.iter().map(|&x| pdf(x)).collect();
        let herm = hermite_table(&uu);
        for (i, (mu, d)) in u.mu.iter().zip(&d).enumerate() {
            out.mean[i] = libm::erf(mu * d);
        }
        let arch = pulp::Arch::new();
        fill_symmetric(&mut out.cov, |i, col| {
            arch.dispatch(ErfLanes {
                out: col,
                sig: &input.cov.col_as_slice(i)[..=i],
                d: &d[..=i],
                u: &uu[..=i],
                pdf_u: &pdf_u[..=i],
                herm: &herm,
                column: &series_column(&herm, n, i),
                stride: n,
                di: d[i],
                ui: uu[i],
            });
        })
    }
}

/// SIMD lanes over j ≤ i of column i: Cᵢⱼ = 4·[`bvn_cov`](uᵢ, uⱼ; r), r = 2Σᵢⱼdᵢdⱼ. Lanes with
/// |r| < 0.925 and a Plackett exponent spread (|uᵢuⱼ| + (uᵢ² + uⱼ²)/2)|r| ≤ 4 — where `bvn_cov`
/// is a single Genz Gauss–Legendre sum — run [`tetrachoric_lanes`] when every lane of the
/// vector has |r| < 0.5, else [`plackett_lanes`]; the others (near-degenerate correlation, far
/// tails) are recomputed by the scalar `bvn_cov`.
struct ErfLanes<'a> {
    out: &'a mut [f64],
    sig: &'a [f64],
    d: &'a [f64],
    u: &'a [f64],
    /// φ(uⱼ).
    pdf_u: &'a [f64],
    /// ĥₘ(uⱼ) of every unit, term-major with `stride` = N ([`hermite_table`]).
    herm: &'a [f64],
    /// ĥₘ(uᵢ)/(m+1) of this column ([`series_column`]).
    column: &'a [f64; SERIES_TERMS],
    stride: usize,
    di: f64,
    ui: f64,
}

impl WithSimd for ErfLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let len = self.out.len();
        let two_di = simd.splat_f64s(2.0 * self.di);
        let ui = simd.splat_f64s(self.ui);
        let (zero, one) = (simd.splat_f64s(0.0), simd.splat_f64s(1.0));
        let mut j = 0;
        while j < len {
            let end = (j + S::F64_LANES).min(len);
            let sig = simd.partial_load_f64s(&self.sig[j..end]);
            let dj = simd.partial_load_f64s(&self.d[j..end]);
            let uj = simd.partial_load_f64s(&self.u[j..end]);
            let r = simd.mul_f64s(simd.mul_f64s(two_di, sig), dj);
            let hk = simd.mul_f64s(ui, uj);
            let hs = simd.mul_f64s(
                simd.splat_f64s(0.5),
                simd.mul_add_f64s(ui, ui, simd.mul_f64s(uj, uj)),
            );
            let abs_r = simd.abs_f64s(r);
            let spread = simd.mul_f64s(simd.add_f64s(simd.abs_f64s(hk), hs), abs_r);
            let easy = simd.and_m64s(
                simd.less_than_f64s(abs_r, simd.splat_f64s(0.925)),
                simd.less_than_or_equal_f64s(spread, simd.splat_f64s(4.0)),
            );
            let r_easy = simd.select_f64s(easy, r, zero);
            let max_r = simd.reduce_max_f64s(simd.abs_f64s(r_easy));
            let c = if max_r < SERIES_MAX_RHO {
                let pdf_uj = simd.partial_load_f64s(&self.pdf_u[j..end]);
                let pdf_hk = simd.mul_f64s(simd.splat_f64s(pdf(self.ui)), pdf_uj);
                let series = tetrachoric_lanes(
                    simd,
                    r_easy,
                    self.column,
                    self.herm,
                    self.stride,
                    j..end,
                    series_terms(max_r),
                );
                simd.mul_f64s(pdf_hk, series)
            } else {
                plackett_lanes(simd, hk, hs, r_easy, genz_rule(max_r))
            };
            simd.partial_store_f64s(
                &mut self.out[j..end],
                simd.mul_f64s(simd.splat_f64s(4.0), c),
            );
            let hard = simd.select_f64s(easy, zero, one);
            if simd.reduce_max_f64s(hard) > 0.0 {
                let mut flags = [0.0; 16];
                simd.partial_store_f64s(&mut flags[..end - j], hard);
                for (k, _) in (j..end).zip(flags).filter(|(_, f)| *f != 0.0) {
                    let r = 2.0 * self.sig[k] * self.di * self.d[k];
                    self.out[k] = 4.0 * bvn_cov(self.ui, self.u[k], r);
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

    /// The SIMD lanes against the scalar `bvn_cov` pair by pair.
    #[test]
    fn simd_lanes_match_scalar_bvn_cov() {
        for diag in [0.004, 2.0] {
            let input = lane_test_input(diag);
            let out = ErfClosure.apply(&input, Corrections::None).unwrap();
            let n = input.dim();
            let d: Vec<f64> = (0..n)
                .map(|k| 1.0 / (1.0 + 2.0 * input.cov[(k, k)]).sqrt())
                .collect();
            let uu: Vec<f64> = (0..n).map(|k| SQRT_2 * input.mean[k] * d[k]).collect();
            for i in 0..n {
                for j in 0..=i {
                    let r = 2.0 * input.cov[(i, j)] * d[i] * d[j];
                    let want = 4.0 * bvn_cov(uu[i], uu[j], r);
                    let got = out.cov[(i, j)];
                    assert!(
                        (got - want).abs() <= 1e-15,
                        "C[{i},{j}] = {got}, scalar {want}"
                    );
                    assert_eq!(got, out.cov[(j, i)]);
                }
            }
        }
    }
}
