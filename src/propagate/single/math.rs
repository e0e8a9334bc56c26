//! The f32 elementary functions of the f32 relu closure on pulp lanes (16 per AVX-512 vector):
//! e^x for x ≤ 0, sin θ for |θ| ≤ 1.2 and asin x for |x| ≤ 1, each within a few f32 ulp
//! (checked against f64 `std` in the tests). Only the ranges the closure needs are covered.

// Cephes' coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use pulp::Simd;

/// 1.5·2²³: adding it rounds an f32 of magnitude < 2²² to an integer held in the low mantissa
/// bits.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// ln 2 = LN2_HI + LN2_LO with n·LN2_HI exact for |n| < 2⁸ (Cephes `expf`).
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_400_5e-4;
/// Below this e^x is under f32's smallest normal number and is returned as 0.
const EXP_MIN: f32 = -87.0;
/// Cephes `expf`'s polynomial for (e^r − 1 − r)/r² on |r| ≤ ln2/2, highest degree first.
const EXP_P: [f32; 6] = [
    1.987_569_150_0e-4,
    1.398_199_950_7e-3,
    8.333_451_907_3e-3,
    4.166_579_589_4e-2,
    1.666_666_545_9e-1,
    5.000_000_120_1e-1,
];
/// Cephes `asinf`'s polynomial for (asin x − x)/x³ on x² ≤ ¼, highest degree first.
const ASIN_P: [f32; 5] = [
    4.216_319_904_8e-2,
    2.418_131_104_9e-2,
    4.547_002_599_8e-2,
    7.495_300_268_6e-2,
    1.666_675_242_2e-1,
];

/// Horner's rule for Σ c[k]·x^(len−1−k).
#[inline(always)]
fn horner<S: Simd>(simd: S, x: S::f32s, c: &[f32]) -> S::f32s {
    let mut p = simd.splat_f32s(c[0]);
    for &ck in &c[1..] {
        p = simd.mul_add_f32s(p, x, simd.splat_f32s(ck));
    }
    p
}

/// e^x for x ≤ 0 (Cephes `expf`): x = n·ln2 + r, |r| ≤ ln2/2, e^r = 1 + r + r²P(r), times 2ⁿ
/// from its exponent bits; 0 below −87 (where e^x is subnormal in f32).
#[inline(always)]
pub fn exp_nonpositive<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let tiny = simd.less_than_f32s(x, simd.splat_f32s(EXP_MIN));
    let x = simd.max_f32s(x, simd.splat_f32s(EXP_MIN));
    let magic = simd.splat_f32s(ROUND_MAGIC);
    let t = simd.mul_add_f32s(x, simd.splat_f32s(std::f32::consts::LOG2_E), magic);
    let n = simd.sub_f32s(t, magic);
    let r = simd.negate_mul_add_f32s(n, simd.splat_f32s(LN2_HI), x);
    let r = simd.negate_mul_add_f32s(n, simd.splat_f32s(LN2_LO), r);
    let p = horner(simd, r, &EXP_P);
    let one = simd.splat_f32s(1.0);
    let er = simd.mul_add_f32s(simd.mul_f32s(r, r), p, simd.add_f32s(r, one));
    // n as a two's-complement integer from the low bits of t, then the bits of 2ⁿ.
    let n_int = simd.sub_u32s(
        simd.transmute_u32s_f32s(t),
        simd.splat_u32s(ROUND_MAGIC.to_bits()),
    );
    let biased = simd.add_u32s(n_int, simd.splat_u32s(127));
    let two_n = simd.transmute_f32s_u32s(simd.mul_u32s(biased, simd.splat_u32s(1 << 23)));
    simd.select_f32s(tiny, simd.splat_f32s(0.0), simd.mul_f32s(er, two_n))
}

/// sin θ for |θ| ≤ 1.2 by its Taylor series to θ¹¹ (remainder |θ|¹³/13! < 2·10⁻⁹ there).
#[inline(always)]
pub fn sin_small<S: Simd>(simd: S, theta: S::f32s) -> S::f32s {
    const C: [f32; 6] = [
        -1.0 / 39_916_800.0,
        1.0 / 362_880.0,
        -1.0 / 5040.0,
        1.0 / 120.0,
        -1.0 / 6.0,
        1.0,
    ];
    simd.mul_f32s(theta, horner(simd, simd.mul_f32s(theta, theta), &C))
}

/// asin x for |x| ≤ 1 (Cephes `asinf`): x + x³P(x²) for |x| ≤ ½; otherwise, with
/// z = (1 − |x|)/2, π/2 − 2(√z + √z·z·P(z)), sign restored.
#[inline(always)]
pub fn asin<S: Simd>(simd: S, x: S::f32s) -> S::f32s {
    let half = simd.splat_f32s(0.5);
    let a = simd.abs_f32s(x);
    let big = simd.greater_than_f32s(a, half);
    let z_big = simd.mul_f32s(half, simd.sub_f32s(simd.splat_f32s(1.0), a));
    let z = simd.select_f32s(big, z_big, simd.mul_f32s(a, a));
    let y = simd.select_f32s(big, simd.sqrt_f32s(z_big), a);
    let p = simd.mul_add_f32s(simd.mul_f32s(horner(simd, z, &ASIN_P), z), y, y);
    let folded = simd.negate_mul_add_f32s(
        simd.splat_f32s(2.0),
        p,
        simd.splat_f32s(std::f32::consts::FRAC_PI_2),
    );
    let r = simd.select_f32s(big, folded, p);
    // Restore the sign of x.
    let sign = simd.and_u32s(simd.transmute_u32s_f32s(x), simd.splat_u32s(0x8000_0000));
    simd.transmute_f32s_u32s(simd.or_u32s(simd.transmute_u32s_f32s(r), sign))
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;

    /// e^(−|x|), sin(min(|x|, 1.2)) and asin(clamp(x, −1, 1)) of every x, on the dispatched
    /// instruction set.
    struct Eval<'a> {
        x: &'a [f32],
        out: &'a mut [[f32; 3]],
    }

    impl WithSimd for Eval<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let lanes = S::F32_LANES;
            let (mut e, mut s, mut a) = (vec![0.0; lanes], vec![0.0; lanes], vec![0.0; lanes]);
            for (xs, out) in self.x.chunks(lanes).zip(self.out.chunks_mut(lanes)) {
                let v = simd.partial_load_f32s(xs);
                let neg = simd.neg_f32s(simd.abs_f32s(v));
                let small = simd.min_f32s(simd.abs_f32s(v), simd.splat_f32s(1.2));
                let unit = simd.max_f32s(
                    simd.min_f32s(v, simd.splat_f32s(1.0)),
                    simd.splat_f32s(-1.0),
                );
                simd.partial_store_f32s(&mut e, exp_nonpositive(simd, neg));
                simd.partial_store_f32s(&mut s, sin_small(simd, small));
                simd.partial_store_f32s(&mut a, asin(simd, unit));
                for (k, o) in out.iter_mut().enumerate() {
                    *o = [e[k], s[k], a[k]];
                }
            }
        }
    }

    /// Relative error ≤ 4 f32 ulp (2⁻²¹) against f64 `std`, or absolute 2⁻²⁴ for asin/sin near
    /// 0's neighbourhood where the value itself is below 1.
    #[test]
    fn functions_match_f64_within_a_few_f32_ulp() {
        let x: Vec<f32> = (-4000..=4000).map(|k| k as f32 * 0.025).collect();
        let mut out = vec![[0.0f32; 3]; x.len()];
        pulp::Arch::new().dispatch(Eval {
            x: &x,
            out: &mut out,
        });
        let tol = 4.0 * f64::from(f32::EPSILON);
        for (&xi, o) in x.iter().zip(&out) {
            let x = f64::from(xi);
            let want = [
                (-x.abs()).exp(),
                x.abs().min(1.2).sin(),
                x.clamp(-1.0, 1.0).asin(),
            ];
            for (k, (&got, want)) in o.iter().zip(want).enumerate() {
                let err = (f64::from(got) - want).abs();
                let ok = if k == 0 && want < 1e-37 {
                    got == 0.0 || err <= tol * want
                } else {
                    err <= tol * want.abs().max(0.25)
                };
                assert!(ok, "function {k} at {x}: {got} vs {want}");
            }
        }
    }
}
