//! φ(h) = erf(h): exact Gaussian closure through Φ₂ (DESIGN.md §3, "erf").

use std::f64::consts::{PI, SQRT_2};

use pulp::{Simd, WithSimd};

use super::bvn::{
    failing_lanes, hermite_table, lane_terms, plackett_lanes, series_column, series_plackett,
    series_terms, LaneQueue, MAX_LANES, SERIES_MAX_RHO, SERIES_TERMS,
};
use super::edgeworth::{corrected, Fallbacks};
use super::erf_terms::ErfTerms;
use super::input::{reset_output, units, Isa};
use super::rules::gauss_legendre;
use super::{Closure, Corrections};
use crate::error::Result;
use crate::linalg::fill_symmetric;
use crate::simd::{load, store};
use crate::special::bvn::genz_rule;
use crate::special::{bvn_cov_complement, normal_pdf};
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
/// The covariance is evaluated as 4·[`bvn_cov`](crate::special::bvn_cov), which never forms
/// the difference of two numbers near 1 (see there); the literal 4Φ₂ − 2Φ − 2Φ + 1 − mᵢmⱼ
/// loses all digits when |uᵢ| ≳ 6 (variance ≲ 10⁻⁹). Where r is near 1 (wide units) 1 − r² is
/// formed from the Σ's, not from r ([`bvn_cov_complement`]). κ₃/κ₄ corrections from the
/// closed forms of `erf_terms` ([`super::edgeworth`]).
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

    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        corrected(
            input,
            corrections,
            out,
            "erf",
            |out| erf_apply(input, out, Isa::Dispatch),
            |u| ErfTerms::new(&u.mu, &u.s, input.cov.as_ref()),
        )
    }
}

/// [`ErfClosure`]'s `apply_into`, with its lanes on `isa`.
fn erf_apply(input: &Moments, out: &mut Moments, isa: Isa) -> Result<()> {
    let u = units(input, "erf")?;
    let n = input.dim();
    reset_output(out, n);
    // dₖ = 1/√(1 + 2Σₖₖ), uₖ = √2 μₖ dₖ.
    let d: Vec<f64> =
        u.s.iter()
            .map(|s| 1.0 / (1.0 + 2.0 * s * s).sqrt())
            .collect();
    let uu: Vec<f64> = (0..n).map(|k| SQRT_2 * u.mu[k] * d[k]).collect();
    let var: Vec<f64> = (0..n).map(|k| input.cov[(k, k)]).collect();
    let pdf_u: Vec<f64> = uu.iter().map(|&x| normal_pdf(x)).collect();
    let herm = hermite_table(&uu, SERIES_TERMS);
    for (i, (mu, d)) in u.mu.iter().zip(&d).enumerate() {
        out.mean[i] = libm::erf(mu * d);
    }
    let arch = pulp::Arch::new();
    fill_symmetric(&mut out.cov, |i, col| {
        isa.run(
            arch,
            ErfLanes {
                out: col,
                sig: &input.cov.col_as_slice(i)[..=i],
                d: &d[..=i],
                u: &uu[..=i],
                pdf_u: &pdf_u[..=i],
                herm: &herm,
                column: &series_column(&herm, i),
                var: &var[..=i],
                var_i: var[i],
                di: d[i],
                ui: uu[i],
            },
        );
    })
}

/// SIMD lanes over j ≤ i of column i: Cᵢⱼ = 4·[`bvn_cov`](crate::special::bvn_cov)(uᵢ, uⱼ; r),
/// r = 2Σᵢⱼdᵢdⱼ (1 − r² from the Σ's, [`bvn_cov_complement`]). Each lane with a Plackett
/// exponent spread E = (|uᵢuⱼ| + (uᵢ² + uⱼ²)/2)|r| ≤ 4 — where `bvn_cov` is a
/// single Genz Gauss–Legendre sum — takes the path its own r calls for: |r| < [`SERIES_MAX_RHO`]
/// = 0.75 the `bvn::tetrachoric_lanes` series in place (other lanes enter it with r = 0 and are
/// overwritten); 0.75 ≤ |r| < 0.925 queued, gathered into full vectors and run through
/// [`plackett_lanes`]. Far-tail lanes with 4 < E ≤ [`ONE_PANEL_SPREAD`] and |r| < 0.925, where
/// `bvn_cov` integrates ⌈E/16⌉ = 1 panel of 20-point Gauss–Legendre over [0, asin r] (the same
/// sum as [`plackett_lanes`] with the 20-point rule), are queued apart and gathered into full
/// vectors of that rule. The others (near-degenerate correlation, farther tails, where
/// `bvn_cov` keeps relative accuracy over several panels) by the scalar `bvn_cov`.
struct ErfLanes<'a> {
    out: &'a mut [f64],
    sig: &'a [f64],
    d: &'a [f64],
    u: &'a [f64],
    /// φ(uⱼ).
    pdf_u: &'a [f64],
    /// ĥₘ(uⱼ) of every unit, in the blocked layout of [`hermite_table`].
    herm: &'a [f64],
    /// ĥₘ(uᵢ)/(m+1) of this column ([`series_column`]).
    column: &'a [f64; SERIES_TERMS],
    /// Σⱼⱼ of the units j ≤ i, and Σᵢᵢ.
    var: &'a [f64],
    var_i: f64,
    di: f64,
    ui: f64,
}

/// 1 − r² of r = 2Σᵢⱼdᵢdⱼ from (Σᵢᵢ, Σⱼⱼ, Σᵢⱼ) and dᵢdⱼ: dᵢ²dⱼ²(1 + 2Σᵢᵢ + 2Σⱼⱼ + 4(ΣᵢᵢΣⱼⱼ −
/// Σᵢⱼ²)), exactly dᵢ⁴(1 + 4Σᵢᵢ) for a unit with itself, where r formed as a ratio rounds
/// near 1 and 1 − r² taken from it lost ~ε·s of the variance (`bvn_cov_complement`).
pub(super) fn one_minus_r2((vi, vj, c): (f64, f64, f64), dd: f64) -> f64 {
    let det = (vi * vj - c * c).max(0.0);
    dd * dd * (1.0 + 2.0 * (vi + vj) + 4.0 * det)
}

/// The largest spread E of a far-tail lane that [`ErfLanes`] gathers into the 20-point rule:
/// `bvn_cov` takes ⌈E/16⌉ panels, one up to E = 16.
const ONE_PANEL_SPREAD: f64 = 16.0;

/// One vector of lanes j..end of [`ErfLanes`]: which lanes take the series (|r| <
/// [`SERIES_MAX_RHO`] and spread E ≤ 4), their r (0 in the other lanes) and the vector's term
/// count ([`series_terms`] of its largest |r|).
struct LaneR<M, V> {
    j: usize,
    end: usize,
    series_ok: M,
    r: V,
    terms: usize,
}

impl ErfLanes<'_> {
    /// The [`LaneR`] of the vector starting at lane `j`: r = 2Σᵢⱼdᵢdⱼ, E = (|uᵢuⱼ| + (uᵢ² +
    /// uⱼ²)/2)|r|.
    #[inline(always)]
    fn lane_r<S: Simd>(&self, simd: S, j: usize) -> LaneR<S::m64s, S::f64s> {
        let end = (j + S::F64_LANES).min(self.out.len());
        let ui = simd.splat_f64s(self.ui);
        let sig = load(simd, &self.sig[j..end]);
        let dj = load(simd, &self.d[j..end]);
        let r = simd.mul_f64s(simd.mul_f64s(simd.splat_f64s(2.0 * self.di), sig), dj);
        let uj = load(simd, &self.u[j..end]);
        let abs_r = simd.abs_f64s(r);
        let hs = simd.mul_f64s(
            simd.splat_f64s(0.5),
            simd.mul_add_f64s(ui, ui, simd.mul_f64s(uj, uj)),
        );
        let spread = simd.mul_f64s(
            simd.add_f64s(simd.abs_f64s(simd.mul_f64s(ui, uj)), hs),
            abs_r,
        );
        // Far tails (spread > 4) need relative accuracy the absolute series bound does not
        // give: `bvn_cov`'s panels, on lanes or scalar.
        let series_ok = simd.and_m64s(
            simd.less_than_f64s(abs_r, simd.splat_f64s(SERIES_MAX_RHO)),
            simd.less_than_or_equal_f64s(spread, simd.splat_f64s(4.0)),
        );
        let r = simd.select_f64s(series_ok, r, simd.splat_f64s(0.0));
        LaneR {
            j,
            end,
            series_ok,
            r,
            terms: lane_terms(simd, r, series_terms),
        }
    }

    /// 4·[`plackett_lanes`] on the queued lanes, scattered to `out`; empties the queue. The
    /// rule: Genz's for the lanes' largest |r| ([`genz_rule`]), or with `fine` the 20-point
    /// rule (`bvn_cov`'s one far-tail panel).
    #[inline(always)]
    fn flush<S: Simd>(&mut self, simd: S, queue: &mut LaneQueue, fine: bool) {
        let n = queue.len;
        if n == 0 {
            return;
        }
        queue.len = 0;
        let (idx, r) = (&queue.idx[..n], &queue.r[..n]);
        let mut uj = [0.0; MAX_LANES];
        for (b, &k) in uj.iter_mut().zip(idx) {
            *b = self.u[k];
        }
        let uj = load(simd, &uj[..n]);
        let ui = simd.splat_f64s(self.ui);
        let hk = simd.mul_f64s(ui, uj);
        let hs = simd.mul_f64s(
            simd.splat_f64s(0.5),
            simd.mul_add_f64s(ui, ui, simd.mul_f64s(uj, uj)),
        );
        // genz_rule(1) is the 20-point rule.
        let max_r = if fine {
            1.0
        } else {
            r.iter().fold(0.0f64, |m, r| m.max(r.abs()))
        };
        let c = plackett_lanes(simd, hk, hs, load(simd, r), genz_rule(max_r));
        let mut res = [0.0; MAX_LANES];
        store(simd, &mut res[..n], simd.mul_f64s(simd.splat_f64s(4.0), c));
        for (&k, v) in idx.iter().zip(res) {
            self.out[k] = v;
        }
    }
}

impl WithSimd for ErfLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let len = self.out.len();
        let pdf_ui = simd.splat_f64s(normal_pdf(self.ui));
        let (mut genz, mut far) = (LaneQueue::new(), LaneQueue::new());
        // The next vector's r, path mask and term count are computed before this vector's
        // series, so that their chain (the reduction and the term lookup) overlaps the series
        // instead of following its loop exit (as relu's `ReluLanes`).
        let mut next = Some(self.lane_r(simd, 0));
        while let Some(LaneR {
            j,
            end,
            series_ok,
            r,
            terms,
        }) = next
        {
            next = (end < len).then(|| self.lane_r(simd, end));
            let pdf_uj = load(simd, &self.pdf_u[j..end]);
            let pdf_hk = simd.mul_f64s(pdf_ui, pdf_uj);
            let c = series_plackett::<S, 1>(
                simd,
                r,
                pdf_hk,
                (self.column.as_slice(), terms),
                self.herm,
                j..end,
            );
            store(
                simd,
                &mut self.out[j..end],
                simd.mul_f64s(simd.splat_f64s(4.0), c),
            );
            if let Some(rest) = failing_lanes(simd, series_ok, j..end) {
                for k in rest {
                    let (uk, r) = (self.u[k], 2.0 * self.sig[k] * self.di * self.d[k]);
                    let spread =
                        ((self.ui * uk).abs() + 0.5 * (self.ui * self.ui + uk * uk)) * r.abs();
                    let queue = if r.abs() >= 0.925 || spread > ONE_PANEL_SPREAD {
                        None
                    } else if spread <= 4.0 {
                        Some((&mut genz, false))
                    } else {
                        Some((&mut far, true))
                    };
                    if let Some((queue, fine)) = queue {
                        if queue.push(k, r, S::F64_LANES) {
                            self.flush(simd, queue, fine);
                        }
                    } else {
                        let q2 = one_minus_r2(
                            (self.var_i, self.var[k], self.sig[k]),
                            self.di * self.d[k],
                        );
                        self.out[k] = 4.0 * bvn_cov_complement(self.ui, uk, r, q2);
                    }
                }
            }
        }
        self.flush(simd, &mut genz, false);
        self.flush(simd, &mut far, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::input::lane_test_input;

    /// The SIMD lanes (AVX-512 where dispatched, AVX2, scalar) against the scalar `bvn_cov`
    /// pair by pair; the strongly correlated input
    /// sends pairs down every path (series below 0.5 and in [0.5, 0.75), gathered
    /// Gauss–Legendre, scalar, gathered one-panel far tail).
    #[test]
    fn simd_lanes_match_scalar_bvn_cov() {
        // erf's r = 2Σᵢⱼdᵢdⱼ reaches the strong paths only for wide units: scale Σ (and μ with
        // its s) by 50 on the strongly correlated input.
        for ((diag, scale), isa) in [(0.004, 50.0), (0.004, 1.0), (2.0, 1.0)]
            .into_iter()
            .flat_map(|c| [Isa::Dispatch, Isa::Avx2, Isa::Scalar].map(|isa| (c, isa)))
        {
            let mut input = lane_test_input(diag);
            input.cov *= faer::Scale(scale);
            input.mean *= faer::Scale(scale.sqrt());
            let mut out = input.clone();
            erf_apply(&input, &mut out, isa).unwrap();
            let n = input.dim();
            let d: Vec<f64> = (0..n)
                .map(|k| 1.0 / (1.0 + 2.0 * input.cov[(k, k)]).sqrt())
                .collect();
            let uu: Vec<f64> = (0..n).map(|k| SQRT_2 * input.mean[k] * d[k]).collect();
            let mut paths = [0usize; 5];
            for i in 0..n {
                for j in 0..=i {
                    let r = 2.0 * input.cov[(i, j)] * d[i] * d[j];
                    let spread =
                        ((uu[i] * uu[j]).abs() + 0.5 * (uu[i].powi(2) + uu[j].powi(2))) * r.abs();
                    paths[if spread > 4.0 && spread <= ONE_PANEL_SPREAD && r.abs() < 0.925 {
                        4
                    } else if spread > 4.0 {
                        3
                    } else if r.abs() < 0.5 {
                        0
                    } else if r.abs() < SERIES_MAX_RHO {
                        1
                    } else if r.abs() < 0.925 {
                        2
                    } else {
                        3
                    }] += 1;
                    let v = (input.cov[(i, i)], input.cov[(j, j)], input.cov[(i, j)]);
                    let want =
                        4.0 * bvn_cov_complement(uu[i], uu[j], r, one_minus_r2(v, d[i] * d[j]));
                    let got = out.cov[(i, j)];
                    assert!(
                        (got - want).abs() <= 1e-15,
                        "{isa:?}: C[{i},{j}] = {got}, scalar {want}"
                    );
                    assert_eq!(got, out.cov[(j, i)]);
                }
            }
            if scale > 1.0 {
                assert!(paths.iter().all(|&p| p > 10), "pairs per path {paths:?}");
            }
        }
    }

    /// Wide units, where r = 2Σdᵢdⱼ rounds near 1: the variance and a ρ = 1 pair against
    /// 40-digit mpmath quadrature (adv57: `mp.quad` of the centred products over z, split at
    /// −μ/s; NumPy panels agree to 1e-16). Before 1 − r² was formed from the Σ's the variances
    /// were off by 1.1e-10 (s = 10⁶), 4.4e-11 and 2.6e-9 (s = 10⁷) relative. The bound 1e-12:
    /// what remains is the rounding of u = √2μd (|u| ≤ 8.5, the variance's relative derivative
    /// in u ≲ u + φ/Φ ≲ 20, times ε·|u|: ≲ 4e-14) and Genz's rule (~1e-15), with margin.
    #[test]
    fn wide_units_keep_full_accuracy() {
        // (μᵢ, sᵢ), (μⱼ, sⱼ) at ρ = 1, then Var i, Cᵢⱼ, Var j.
        let cases = [
            (
                (-4e6, 1e6),
                (5e5, 1e6),
                [0.00012668074150063615, f64::NAN, 0.8533679418766783],
            ),
            (
                (-6e7, 1e7),
                (-4e6, 1e6),
                [3.9463496066871125e-9, f64::NAN, 0.00012668074150063615],
            ),
            (
                (-4e6, 1e6),
                (-2e6, 7e5),
                [0.00012668074150063615, 0.00012641419506696287, f64::NAN],
            ),
        ];
        for ((mi, si), (mj, sj), want) in cases {
            let rho = if want[1].is_nan() { 0.0 } else { 1.0 };
            let input = Moments::gaussian(
                faer::Col::from_fn(2, |k| [mi, mj][k]),
                faer::Mat::from_fn(2, 2, |a, b| {
                    [si, sj][a] * [si, sj][b] * if a == b { 1.0 } else { rho }
                }),
            );
            let mut out = input.clone();
            erf_apply(&input, &mut out, Isa::Dispatch).unwrap();
            let got = [out.cov[(0, 0)], out.cov[(0, 1)], out.cov[(1, 1)]];
            for (g, w) in got.iter().zip(want).filter(|(_, w)| !w.is_nan()) {
                assert!(
                    (g - w).abs() <= 1e-12 * w,
                    "μ ({mi}, {mj}), s ({si}, {sj}): {g:e}, want {w:e}"
                );
            }
        }
    }
}
