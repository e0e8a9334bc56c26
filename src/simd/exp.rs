//! exp(x) on SIMD lanes: Cody–Waite range reduction plus a degree-13 Taylor polynomial.
//!
//! x = n·ln2 + r with n = round(x/ln2), |r| ≤ ln2/2; e^r by Horner (truncation error
//! |r|¹⁴/14! < 1e-17 relative), then scaled by 2ⁿ built from its exponent bits. Inputs are clamped
//! to [−708, 709] so 2ⁿ stays a normal number: results below e^−708 ≈ 3e−308 are returned as
//! e^−708 and results above e^709 as e^709 (no infinities).

// Cody–Waite's split of ln 2 is kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use pulp::{Simd, WithSimd};

const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// ln 2 split so that n·LN2_HI is exact for |n| < 2¹¹ (Cody–Waite).
const LN2_HI: f64 = 0.693_147_180_369_123_8;
const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits.
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
const X_MIN: f64 = -708.0;
const X_MAX: f64 = 709.0;

/// 1/k! for k = 0..=13, the Taylor coefficients of e^r.
const INV_FACT: [f64; 14] = {
    let mut c = [1.0f64; 14];
    let mut k = 1;
    while k < 14 {
        c[k] = c[k - 1] / k as f64;
        k += 1;
    }
    c
};

/// e^x lane by lane (relative error within a few ulp on [−708, 709]).
#[inline(always)]
pub fn exp<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    exp_hi_lo(simd, x, simd.splat_f64s(0.0))
}

/// e^(hi + lo) lane by lane for an argument given as an unevaluated sum with |lo| ≲ 1: the
/// reduction r = (hi − n·ln2) + lo is formed before lo is added, so the rounding of hi + lo
/// (up to ulp(hi)/2, i.e. 6e-14 at hi ≈ −700) never reaches the result; used by
/// [`erfc`](crate::simd::erfc) for e^(−x²) with x² split exactly. Clamping as in [`exp`] (on hi).
#[inline(always)]
pub fn exp_hi_lo<S: Simd>(simd: S, hi: S::f64s, lo: S::f64s) -> S::f64s {
    let x = simd.max_f64s(
        simd.min_f64s(hi, simd.splat_f64s(X_MAX)),
        simd.splat_f64s(X_MIN),
    );
    let magic = simd.splat_f64s(ROUND_MAGIC);
    let t = simd.mul_add_f64s(simd.add_f64s(x, lo), simd.splat_f64s(LOG2_E), magic);
    let n = simd.sub_f64s(t, magic);
    let r = simd.negate_mul_add_f64s(n, simd.splat_f64s(LN2_HI), x);
    let r = simd.negate_mul_add_f64s(n, simd.splat_f64s(LN2_LO), r);
    let r = simd.add_f64s(r, lo);
    let mut p = simd.splat_f64s(INV_FACT[13]);
    for &c in INV_FACT[..13].iter().rev() {
        p = simd.mul_add_f64s(p, r, simd.splat_f64s(c));
    }
    // n as a two's-complement integer from the low bits of t, then the bits of 2ⁿ.
    let n_int = simd.sub_u64s(
        simd.transmute_u64s_f64s(t),
        simd.splat_u64s(ROUND_MAGIC.to_bits()),
    );
    let biased = simd.add_u64s(n_int, simd.splat_u64s(1023));
    let two_n = simd.transmute_f64s_u64s(simd.mul_u64s(biased, simd.splat_u64s(1 << 52)));
    // The clamp's min/max return their number operand for a NaN (x86's `vminpd`/`vmaxpd`, the
    // scalar fallback's `f64::min`): e^NaN came out as e^709 (adv43); NaN is passed through.
    simd.select_f64s(simd.equal_f64s(hi, hi), simd.mul_f64s(p, two_n), hi)
}

/// Scalar twin of [`exp`] with the same clamping, for slice tails.
#[inline(always)]
fn exp_scalar(x: f64) -> f64 {
    x.clamp(X_MIN, X_MAX).exp()
}

struct ExpSlice<'a>(&'a mut [f64]);

impl WithSimd for ExpSlice<'_> {
    type Output = ();
    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (head, tail) = S::as_mut_simd_f64s(self.0);
        for v in head {
            *v = exp(simd, *v);
        }
        for v in tail {
            *v = exp_scalar(*v);
        }
    }
}

/// Replaces every entry of `xs` by its exponential, with runtime SIMD dispatch.
pub fn exp_slice(xs: &mut [f64]) {
    pulp::Arch::new().dispatch(ExpSlice(xs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_std_exp_to_a_few_ulp() {
        let xs: Vec<f64> = (0..20_001).map(|k| -700.0 + 0.07 * k as f64).collect();
        let mut ys = xs.clone();
        exp_slice(&mut ys);
        for (x, y) in xs.iter().zip(&ys) {
            let want = x.exp();
            let rel = ((y - want) / want).abs();
            assert!(
                rel < 4.0 * f64::EPSILON,
                "exp({x}) = {y}, want {want}, rel {rel:e}"
            );
        }
    }

    #[test]
    fn clamps_instead_of_overflowing() {
        let mut ys = vec![-1e4, 1e4, 0.0, -0.0, 1e-300, -745.0, 710.0, 0.5];
        exp_slice(&mut ys);
        assert!(ys.iter().all(|y| y.is_finite() && *y > 0.0));
        assert_eq!(ys[2], 1.0);
        assert_eq!(ys[3], 1.0);
    }
}
