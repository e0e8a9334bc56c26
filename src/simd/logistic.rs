//! The logistic family on f64 lanes, each from the one exponential e = e^{−|h|}: σ, σ', SiLU,
//! SiLU' and softplus, shared by the training kernels (`net::kernels`) and the closures'
//! activations on lanes. With e ≤ 1 nothing overflows, and no form subtracts nearly equal
//! numbers (σ' is e/(1 + e)², not σ(1 − σ)), so each keeps its relative accuracy far into the
//! tails, where the exponential underflows gradually.

use pulp::Simd;

use super::exp::exp;
use super::hyper::log1p_unit;

/// e^{−|h|} lane by lane, as (e^{−|h|/2})²: [`exp`] clamps its argument at −708 (e^{−708} for
/// every h below), the square instead falls through the subnormals to 0 (from |h| ≈ 745 on),
/// as e^{−|h|} does. Relative error about twice exp's (a few ulp) while e^{−|h|} is normal.
#[inline(always)]
fn exp_neg_abs<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    let q = exp(simd, simd.mul_f64s(simd.abs_f64s(h), simd.splat_f64s(-0.5)));
    simd.mul_f64s(q, q)
}

/// (σ(h), σ'(h), e) with e = e^{−|h|}: σ = 1/(1 + e) for h ≥ 0 and e/(1 + e) below (the
/// logistic's symmetry σ(−x) = 1 − σ(x) without the subtraction); σ' = e/(1 + e)² (even).
#[inline(always)]
fn parts<S: Simd>(simd: S, h: S::f64s) -> (S::f64s, S::f64s) {
    let e = exp_neg_abs(simd, h);
    let r = simd.div_f64s(simd.splat_f64s(1.0), simd.add_f64s(simd.splat_f64s(1.0), e));
    let below = simd.less_than_f64s(h, simd.splat_f64s(0.0));
    let er = simd.mul_f64s(e, r);
    (simd.select_f64s(below, er, r), simd.mul_f64s(er, r))
}

/// σ(h) = 1/(1 + e^{−h}) lane by lane (sigmoid's φ, softplus' φ'), from e = e^{−|h|}.
#[inline(always)]
pub fn logistic<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    parts(simd, h).0
}

/// σ'(h) = σ(h)(1 − σ(h)) = e/(1 + e)² with e = e^{−|h|} lane by lane (sigmoid's φ').
#[inline(always)]
pub fn logistic_slope<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    parts(simd, h).1
}

/// SiLU h·σ(h) lane by lane (σ as in [`logistic`]: h·e/(1 + e) below 0, which underflows
/// gradually with e, where h/(1 + e^{−h}) would stop at exp's clamp).
#[inline(always)]
pub fn silu<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    simd.mul_f64s(h, parts(simd, h).0)
}

/// SiLU' = σ(h) + h·σ'(h) lane by lane, both from the one e = e^{−|h|}.
#[inline(always)]
pub fn silu_slope<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    let (sigma, slope) = parts(simd, h);
    simd.mul_add_f64s(h, slope, sigma)
}

/// softplus log(1 + eʰ) = max(h, 0) + log(1 + e) with e = e^{−|h|} lane by lane
/// ([`log1p_unit`], a few ulp relative: far below 0 it is e = eʰ to that accuracy).
#[inline(always)]
pub fn softplus<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    let e = exp_neg_abs(simd, h);
    simd.add_f64s(simd.max_f64s(h, simd.splat_f64s(0.0)), log1p_unit(simd, e))
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;
    use crate::simd::Isa;

    /// Exact forms by libm (each within an ulp), with e = e^{−|h|} and no cancellation:
    /// σ = 1/(1 + e) or e/(1 + e) by the sign of h, σ' = e/(1 + e)², SiLU = hσ,
    /// SiLU' = σ + hσ' (returned with its condition |σ| + |hσ'|), softplus
    /// max(h, 0) + log1p(e).
    fn reference(h: f64) -> [f64; 6] {
        let e = (-h.abs()).exp();
        let sigma = if h < 0.0 {
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + e)
        };
        let slope = e / ((1.0 + e) * (1.0 + e));
        [
            sigma,
            slope,
            h * sigma,
            sigma + h * slope,
            h.max(0.0) + e.ln_1p(),
            sigma + (h * slope).abs(),
        ]
    }

    /// σ, σ', SiLU, SiLU' and softplus at every h: one row of five values per h.
    struct Family<'a>(&'a [f64], &'a mut [[f64; 5]]);

    impl WithSimd for Family<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let mut lane = [0.0; 16];
            let chunks = self.0.chunks(S::F64_LANES);
            for (x, rows) in chunks.zip(self.1.chunks_mut(S::F64_LANES)) {
                let h = simd.partial_load_f64s(x);
                let values = [
                    logistic(simd, h),
                    logistic_slope(simd, h),
                    silu(simd, h),
                    silu_slope(simd, h),
                    softplus(simd, h),
                ];
                for (f, v) in values.into_iter().enumerate() {
                    simd.partial_store_f64s(&mut lane[..x.len()], v);
                    for (row, &y) in rows.iter_mut().zip(&lane) {
                        row[f] = y;
                    }
                }
            }
        }
    }

    /// The whole range on every instruction set: a grid on |h| ≤ 40, near 0, and the tails to
    /// |h| = 10³⁰⁰ (e^{−|h|} subnormal from 708.4, zero from 745.2). Within 8 ulp of the exact
    /// forms (relative; SiLU' relative to its condition |σ| + |hσ'|, as it crosses 0 at
    /// h ≈ −1.28), plus an absolute (1 + |h|)·4·2⁻¹⁰⁷⁴ where e is subnormal; softplus far below
    /// 0 is eʰ to that accuracy, SiLU and σ underflow to 0 (h/(1 + e^{−h}) with exp's clamp
    /// gave −1.2·10⁻⁸ at h = −10³⁰⁰).
    #[test]
    fn logistic_family_holds_its_relative_accuracy_over_the_whole_range() {
        let mut hs: Vec<f64> = (0..16_001).map(|k| -40.0 + 0.005 * k as f64).collect();
        hs.extend((-50..50).map(|k| 3e-15 * k as f64));
        for m in [
            1e-300, 1e-20, 45.0, 60.0, 100.0, 300.0, 600.0, 700.0, 707.0, 708.3, 708.5, 709.0,
            712.0, 720.0, 740.0, 744.0, 745.0, 746.0, 800.0, 1420.0, 1500.0, 1e10, 1e300,
        ] {
            hs.extend([m, -m]);
        }
        let tiny = f64::from_bits(1);
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            let mut rows = vec![[0.0; 5]; hs.len()];
            isa.run(Family(&hs, &mut rows));
            for (k, &h) in hs.iter().enumerate() {
                let want = reference(h);
                let floor = 4.0 * (1.0 + h.abs()) * tiny;
                for (f, name) in ["σ", "σ'", "SiLU", "SiLU'", "softplus"].iter().enumerate() {
                    let got = rows[k][f];
                    let scale = if f == 3 { want[5] } else { want[f].abs() };
                    assert!(
                        got.is_finite()
                            && (got - want[f]).abs() <= 8.0 * f64::EPSILON * scale + floor,
                        "{name}({h:e}) on {isa:?} = {got:e}, exact {:e}",
                        want[f]
                    );
                }
            }
        }
    }
}
