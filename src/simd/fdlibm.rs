//! The reduced-range kernels of fdlibm (Sun Microsystems, 1993; as in the `libm` crate's
//! `k_sin.rs`, `k_cos.rs` and `log.rs`) on SIMD lanes, for Box–Muller's normals
//! (`stats::gaussian::normals`): sin and cos of a whole number of quarter turns plus at most
//! half of one, and log(1 + f) on the range an exponent split leaves.
//!
//! Each kernel is a minimax polynomial whose published bound holds on the reduced range, so
//! the chains are shorter than the Taylor series of [`super::sin_cos`] and
//! [`super::log1p_atanh_series`] (degree 13/14 against 23/24 for sin/cos on a quarter of the
//! range, degree 14 against 23 for log): every lane operation is IEEE f64 with fused
//! multiply-adds or exact integer arithmetic, so AVX-512, AVX2 and the scalar fallback give
//! the same bits.

// fdlibm's coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use pulp::Simd;

/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits (|x| < 2⁵¹).
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;

/// `__kernel_sin`: |sin x / x − (1 + S1x² + … + S6x¹²)| ≤ 2⁻⁵⁸ for |x| ≤ π/4.
const SIN_K: [f64; 6] = [
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
];

/// `__kernel_cos`: |cos x − (1 − x²/2 + C1x⁴ + … + C6x¹⁴)| ≤ 2⁻⁵⁸ for |x| ≤ π/4.
const COS_K: [f64; 6] = [
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
];

/// `log.rs`: |2 atanh(s)/s − (2 + Lg1 s² + … + Lg7 s¹⁴)| ≤ 2⁻⁵⁸·⁴⁵ for |s| ≤ 0.1716.
const LOG_K: [f64; 7] = [
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
];

/// Bits of −0.0: the sign.
const SIGN: u64 = 1 << 63;

/// (sin θ, cos θ) for θ = (π/2)·v, |v| ≤ 2⁵⁰, lane by lane. v = n + f with n = round(v)
/// (exact, as is f = v − n, |f| ≤ ½), r = (π/2)·f rounded once, |r| ≤ π/4; sin r and cos r by
/// fdlibm's kernels (with their tail y = 0: r itself is the argument), then the quadrant
/// q = n mod 4 maps (sin r, cos r) to (sin θ, cos θ) = (s, c), (c, −s), (−s, −c), (−c, s).
/// Error: the kernels' ≤ 2⁻⁵⁸ plus the final roundings (≈ 1 ulp), and r's rounding (½ ulp of
/// |r| ≤ π/4, 5.6·10⁻¹⁷, as an error in the angle).
#[inline(always)]
pub fn sin_cos_quarter_turns<S: Simd>(simd: S, v: S::f64s) -> (S::f64s, S::f64s) {
    let magic = simd.splat_f64s(ROUND_MAGIC);
    let shifted = simd.add_f64s(v, magic);
    let n = simd.sub_f64s(shifted, magic);
    let r = simd.mul_f64s(
        simd.sub_f64s(v, n),
        simd.splat_f64s(std::f64::consts::FRAC_PI_2),
    );
    let z = simd.mul_f64s(r, r);
    let c = |k: usize| simd.splat_f64s(COS_K[k]);
    // __kernel_sin(r, 0, 0): r + r³(S1 + z(S2 + z(S3 + z(S4 + z(S5 + z S6))))).
    let mut p = simd.splat_f64s(SIN_K[5]);
    for &s in SIN_K[1..5].iter().rev() {
        p = simd.mul_add_f64s(p, z, simd.splat_f64s(s));
    }
    let sin = simd.mul_add_f64s(
        simd.mul_f64s(z, r),
        simd.mul_add_f64s(z, p, simd.splat_f64s(SIN_K[0])),
        r,
    );
    // __kernel_cos(r, 0): w + (((1 − w) − z/2) + z·R), w = 1 − z/2,
    // R = z(C1 + z(C2 + z C3)) + z⁴(C4 + z(C5 + z C6)).
    let w4 = simd.mul_f64s(z, z);
    let lo = simd.mul_add_f64s(simd.mul_add_f64s(c(2), z, c(1)), z, c(0));
    let hi = simd.mul_add_f64s(simd.mul_add_f64s(c(5), z, c(4)), z, c(3));
    let big_r = simd.mul_add_f64s(simd.mul_f64s(w4, w4), hi, simd.mul_f64s(z, lo));
    let one = simd.splat_f64s(1.0);
    let hz = simd.mul_f64s(z, simd.splat_f64s(0.5));
    let w = simd.sub_f64s(one, hz);
    let tail = simd.mul_add_f64s(z, big_r, simd.sub_f64s(simd.sub_f64s(one, w), hz));
    let cos = simd.add_f64s(w, tail);
    // n + 2⁵¹ is in the low mantissa bits of `shifted`, so their low two bits are q (also for
    // n < 0): q odd swaps sin and cos; sin θ < 0
    // for q ∈ {2, 3} (bit 1 set), cos θ < 0 for q ∈ {1, 2} (bit 1 of q + 1 set).
    let bits = simd.transmute_u64s_f64s(shifted);
    let bit = |x: S::u64s, b: u64| {
        simd.equal_u64s(simd.and_u64s(x, simd.splat_u64s(b)), simd.splat_u64s(b))
    };
    let odd = bit(bits, 1);
    let sin_neg = bit(bits, 2);
    let cos_neg = bit(simd.add_u64s(bits, simd.splat_u64s(1)), 2);
    let signed = |x: S::f64s, neg: S::m64s| {
        let sign = simd.select_u64s(neg, simd.splat_u64s(SIGN), simd.splat_u64s(0));
        simd.transmute_f64s_u64s(simd.xor_u64s(simd.transmute_u64s_f64s(x), sign))
    };
    (
        signed(simd.select_f64s(odd, cos, sin), sin_neg),
        signed(simd.select_f64s(odd, sin, cos), cos_neg),
    )
}

/// ln(1 + f) for f = m − 1, m ∈ [√½, √2), lane by lane, by fdlibm's `log` kernel:
/// s = f/(2 + f), z = s², R = z(Lg1 + z²(Lg3 + z²(Lg5 + z² Lg7))) + z²(Lg2 + z²(Lg4 + z² Lg6)),
/// ln(1 + f) = f − (f²/2 − s(f²/2 + R)). Error below 1 ulp (the kernel's 2⁻⁵⁸·⁴⁵ plus roundings).
#[inline(always)]
pub fn log1p_reduced<S: Simd>(simd: S, f: S::f64s) -> S::f64s {
    let g = |k: usize| simd.splat_f64s(LOG_K[k]);
    let s = simd.div_f64s(f, simd.add_f64s(f, simd.splat_f64s(2.0)));
    let z = simd.mul_f64s(s, s);
    let w = simd.mul_f64s(z, z);
    let t1 = simd.mul_f64s(
        w,
        simd.mul_add_f64s(simd.mul_add_f64s(g(5), w, g(3)), w, g(1)),
    );
    let t2 = simd.mul_f64s(
        z,
        simd.mul_add_f64s(
            simd.mul_add_f64s(simd.mul_add_f64s(g(6), w, g(4)), w, g(2)),
            w,
            g(0),
        ),
    );
    let hfsq = simd.mul_f64s(simd.mul_f64s(f, f), simd.splat_f64s(0.5));
    let r = simd.add_f64s(t2, t1);
    simd.sub_f64s(f, simd.negate_mul_add_f64s(s, simd.add_f64s(hfsq, r), hfsq))
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;
    use crate::simd::Isa;

    /// sin and cos of quarter turns `v`, and log1p of `f`, into the outputs.
    struct Eval<'a> {
        v: &'a [f64],
        f: &'a [f64],
        sin: &'a mut [f64],
        cos: &'a mut [f64],
        log: &'a mut [f64],
    }

    impl WithSimd for Eval<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let n = S::F64_LANES;
            for (k, (v, f)) in self.v.chunks(n).zip(self.f.chunks(n)).enumerate() {
                let at = k * n..k * n + v.len();
                let (s, c) = sin_cos_quarter_turns(simd, simd.partial_load_f64s(v));
                simd.partial_store_f64s(&mut self.sin[at.clone()], s);
                simd.partial_store_f64s(&mut self.cos[at.clone()], c);
                let l = log1p_reduced(simd, simd.partial_load_f64s(f));
                simd.partial_store_f64s(&mut self.log[at], l);
            }
        }
    }

    /// The scalar formula: the same exact split v = n + f and r = (π/2)·f, std's sin and cos
    /// of r, rotated by the quadrant n mod 4.
    fn quarter_turns_std(v: f64) -> (f64, f64) {
        let n = v.round_ties_even();
        let r = (v - n) * std::f64::consts::FRAC_PI_2;
        let (s, c) = r.sin_cos();
        match (n as i64).rem_euclid(4) {
            0 => (s, c),
            1 => (c, -s),
            2 => (-s, -c),
            _ => (-c, s),
        }
    }

    /// On every instruction set, the same bits; against the scalar formula within 2 ulp of
    /// max(|·|, 2⁻⁵⁸) (sin/cos over v ∈ [−4, 4] on a grid that hits every quadrant edge and
    /// the tie v = n + ½) and within 2 ulp relative (log1p over m ∈ [√½, √2)); and sin/cos
    /// against std's of (π/2)·v within 10⁻¹⁵ absolute (the roundings of the two angles: ½ ulp
    /// of (π/2)·v ≤ 2π is 4.4·10⁻¹⁶).
    #[test]
    fn kernels_match_the_scalar_formulas_on_every_isa() {
        let v: Vec<f64> = (0..=160_000).map(|k| k as f64 * 5e-5 - 4.0).collect();
        let (lo, hi) = (std::f64::consts::FRAC_1_SQRT_2, std::f64::consts::SQRT_2);
        let f: Vec<f64> = (0..v.len())
            .map(|k| lo + (hi - lo) * k as f64 / v.len() as f64 - 1.0)
            .collect();
        let mut first: Option<[Vec<f64>; 3]> = None;
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            let (mut sin, mut cos, mut log) =
                (vec![0.0; v.len()], vec![0.0; v.len()], vec![0.0; v.len()]);
            isa.run(Eval {
                v: &v,
                f: &f,
                sin: &mut sin,
                cos: &mut cos,
                log: &mut log,
            });
            for (k, &x) in v.iter().enumerate() {
                let (ws, wc) = quarter_turns_std(x);
                let tol = |w: f64| 2.0 * f64::EPSILON * w.abs().max(2f64.powi(-58));
                assert!((sin[k] - ws).abs() <= tol(ws), "{isa:?} sin v = {x}");
                assert!((cos[k] - wc).abs() <= tol(wc), "{isa:?} cos v = {x}");
                let (ts, tc) = (std::f64::consts::FRAC_PI_2 * x).sin_cos();
                assert!(
                    (sin[k] - ts).abs() <= 1e-15 && (cos[k] - tc).abs() <= 1e-15,
                    "v = {x}"
                );
                let want = f[k].ln_1p();
                let rel = if want == 0.0 {
                    log[k].abs()
                } else {
                    ((log[k] - want) / want).abs()
                };
                assert!(rel <= 2.0 * f64::EPSILON, "{isa:?} log1p {}", f[k]);
            }
            let bits = |x: &[f64]| x.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            match &first {
                None => first = Some([sin, cos, log]),
                Some([s, c, l]) => {
                    assert_eq!(bits(s), bits(&sin), "{isa:?} sin");
                    assert_eq!(bits(c), bits(&cos), "{isa:?} cos");
                    assert_eq!(bits(l), bits(&log), "{isa:?} log");
                }
            }
        }
    }
}
