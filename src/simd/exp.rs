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
    let (t, r) = reduce(simd, hi, lo);
    let mut p = simd.splat_f64s(INV_FACT[13]);
    for &c in INV_FACT[..13].iter().rev() {
        p = simd.mul_add_f64s(p, r, simd.splat_f64s(c));
    }
    // The clamp's min/max return their number operand for a NaN (x86's `vminpd`/`vmaxpd`, the
    // scalar fallback's `f64::min`): e^NaN came out as e^709 (adv43); NaN is passed through.
    simd.select_f64s(
        simd.equal_f64s(hi, hi),
        simd.mul_f64s(p, two_pow(simd, t)),
        hi,
    )
}

/// e^x − 1 lane by lane for 0 ≤ x ≤ 709 without the cancellation of exp(x) − 1 at small x:
/// with [`exp`]'s reduction x = n·ln2 + r, e^x − 1 = 2ⁿ·(e^r − 1) + (2ⁿ − 1), where
/// e^r − 1 = r·Σ_{k=0}^{12} r^k/(k + 1)! (Taylor, truncation |r|¹³/14! relative) and 2ⁿ − 1 is
/// exact for n ≤ 53 (beyond, its rounding is below half an ulp of the result); n = 0 below
/// ln2/2 leaves r = x exact, and for n ≥ 1 the sum cancels at most by a factor 1.5
/// (e^r − 1 ≥ −0.3). Within 4 ulp of libm's `exp_m1` on [0, 709] (its test, every instruction
/// set).
///
/// Defined on that range only: a NaN argument is clamped to a number, as in [`exp`]'s reduction,
/// and is not passed through. Its one caller, the lane tanh of `net::phi_lanes`, gives it
/// 2·min(|h|, 20), never NaN, and selects NaN for NaN itself (the select here cost
/// ~7 % of the lane tanh for nothing: BENCHMARKS.md, tanh43).
#[inline(always)]
pub fn expm1<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let (t, r) = reduce(simd, x, simd.splat_f64s(0.0));
    let mut p = simd.splat_f64s(INV_FACT[13]);
    for &c in INV_FACT[1..13].iter().rev() {
        p = simd.mul_add_f64s(p, r, simd.splat_f64s(c));
    }
    let two_n = two_pow(simd, t);
    let em1 = simd.mul_f64s(p, r);
    simd.mul_add_f64s(two_n, em1, simd.sub_f64s(two_n, simd.splat_f64s(1.0)))
}

/// Cody–Waite reduction of hi + lo (clamped as in [`exp`], on hi): (t, r) with t holding
/// n = round((hi + lo)/ln2) in its low mantissa bits (t = n + 1.5·2⁵²) and
/// r = (hi − n·ln2) + lo, |r| ≲ ln2/2.
#[inline(always)]
fn reduce<S: Simd>(simd: S, hi: S::f64s, lo: S::f64s) -> (S::f64s, S::f64s) {
    let x = simd.max_f64s(
        simd.min_f64s(hi, simd.splat_f64s(X_MAX)),
        simd.splat_f64s(X_MIN),
    );
    let magic = simd.splat_f64s(ROUND_MAGIC);
    let t = simd.mul_add_f64s(simd.add_f64s(x, lo), simd.splat_f64s(LOG2_E), magic);
    let n = simd.sub_f64s(t, magic);
    let r = simd.negate_mul_add_f64s(n, simd.splat_f64s(LN2_HI), x);
    let r = simd.negate_mul_add_f64s(n, simd.splat_f64s(LN2_LO), r);
    (t, simd.add_f64s(r, lo))
}

/// 2ⁿ from t = n + 1.5·2⁵² of [`reduce`]: n as a two's-complement integer from the low bits of
/// t, then the exponent bits of 2ⁿ.
#[inline(always)]
fn two_pow<S: Simd>(simd: S, t: S::f64s) -> S::f64s {
    let n_int = simd.sub_u64s(
        simd.transmute_u64s_f64s(t),
        simd.splat_u64s(ROUND_MAGIC.to_bits()),
    );
    let biased = simd.add_u64s(n_int, simd.splat_u64s(1023));
    simd.transmute_f64s_u64s(simd.mul_u64s(biased, simd.splat_u64s(1 << 52)))
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

/// Replaces every entry of `xs` by its exponential, on the process's instruction set
/// ([`super::dispatch`]: `CORRFLOW_ISA` or the best at run time).
pub fn exp_slice(xs: &mut [f64]) {
    super::dispatch(ExpSlice(xs));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Isa;

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

    struct Expm1<'a>(&'a [f64], &'a mut [f64]);
    impl WithSimd for Expm1<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            for (x, y) in self
                .0
                .chunks(S::F64_LANES)
                .zip(self.1.chunks_mut(S::F64_LANES))
            {
                simd.partial_store_f64s(y, expm1(simd, simd.partial_load_f64s(x)));
            }
        }
    }

    /// e^x − 1 on lanes within 4 ulp of libm's `f64::exp_m1` on its documented range
    /// 0 ≤ x ≤ 709, on every instruction set: a grid of step 10⁻⁴ to 45 (tanh's arguments
    /// 2a ≤ 40, and the reduction's switch at ln2/2 and every n up to 64), log-spaced points from
    /// 10⁻³⁰⁰ (where e^x − 1 = x: no cancellation) to 709, the smallest normal and subnormal
    /// numbers, and 0 and −0 exactly (tanh's sign comes from h, not from this).
    #[test]
    fn expm1_lanes_are_within_4_ulp_of_libm() {
        let mut xs: Vec<f64> = (0..450_001).map(|k| k as f64 * 1e-4).collect();
        xs.extend((0..=100_000).map(|k| 10f64.powf(-300.0 + k as f64 * (302.85 / 1e5))));
        xs.extend([
            0.0,
            f64::MIN_POSITIVE,
            5e-324,
            std::f64::consts::LN_2 / 2.0,
            std::f64::consts::LN_2,
            708.0,
            709.0,
        ]);
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            let mut got = vec![f64::NAN; xs.len()];
            isa.run(Expm1(&xs, &mut got));
            for (&x, &g) in xs.iter().zip(&got) {
                let want = x.exp_m1();
                let ulp = f64::from_bits(want.to_bits() + 1) - want;
                assert!(
                    (g - want).abs() <= 4.0 * ulp,
                    "{isa:?} expm1({x:e}) = {g:e}, libm {want:e}"
                );
            }
            let mut zeros = [f64::NAN; 2];
            isa.run(Expm1(&[0.0, -0.0], &mut zeros));
            assert_eq!(zeros.map(f64::abs), [0.0, 0.0], "{isa:?}");
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
