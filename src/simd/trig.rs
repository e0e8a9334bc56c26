//! sin on a small range and asin on SIMD lanes, for the Gauss–Legendre nodes of Φ₂.

// fdlibm's coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use pulp::Simd;

/// 1/k! for the odd k = 1, 3, …, 23 with alternating signs: sin θ = Σ (−1)ᵐ θ^{2m+1}/(2m+1)!.
const SIN_TAYLOR: [f64; 12] = {
    let mut c = [0.0f64; 12];
    let mut fact = 1.0f64;
    let mut k = 1;
    while k <= 23 {
        fact *= k as f64;
        if k > 1 {
            fact *= (k - 1) as f64;
        }
        let m = (k - 1) / 2;
        c[m] = if m % 2 == 0 { 1.0 / fact } else { -1.0 / fact };
        k += 2;
    }
    c
};

/// sin θ for |θ| ≤ π/2 by its Taylor polynomial of degree 23 (truncation error
/// |θ|²⁵/25! < 6e-21 there, so the result is within a few ulp); no range reduction.
#[inline(always)]
pub fn sin_small<S: Simd>(simd: S, theta: S::f64s) -> S::f64s {
    let t2 = simd.mul_f64s(theta, theta);
    let mut p = simd.splat_f64s(SIN_TAYLOR[11]);
    for &c in SIN_TAYLOR[..11].iter().rev() {
        p = simd.mul_add_f64s(p, t2, simd.splat_f64s(c));
    }
    simd.mul_f64s(p, theta)
}

const PIO2_HI: f64 = std::f64::consts::FRAC_PI_2;
const PIO2_LO: f64 = 6.12323399573676603587e-17;
/// fdlibm's `e_asin.c` rational R(z) = P(z)/Q(z), asin x = x + x·R(x²) on |x| < 0.5.
const P_S: [f64; 7] = [
    0.0,
    1.66666666666666657415e-01,
    -3.25565818622400915405e-01,
    2.01212532134862925881e-01,
    -4.00555345006794114027e-02,
    7.91534994289814532176e-04,
    3.47933107596021167570e-05,
];
const Q_S: [f64; 5] = [
    1.0,
    -2.40339491173441421878e+00,
    2.02094576023350569471e+00,
    -6.88283971605453293030e-01,
    7.70381505559019352791e-02,
];

#[inline(always)]
fn poly<S: Simd>(simd: S, x: S::f64s, c: &[f64]) -> S::f64s {
    let mut p = simd.splat_f64s(c[c.len() - 1]);
    for &ck in c[..c.len() - 1].iter().rev() {
        p = simd.mul_add_f64s(p, x, simd.splat_f64s(ck));
    }
    p
}

/// asin x for x ∈ [−1, 1], lane by lane, by fdlibm's method (`e_asin.c`): x + x·R(x²) for
/// |x| < 0.5; otherwise, with z = (1 − |x|)/2 and s = √z split as f + c (f = s with its low
/// 32 bits cleared), π/4 − (2sR(z) − (π/2_lo − 2c) − (π/4 − 2f)), sign restored. Within a few
/// ulp of `libm::asin`. |x| > 1 gives NaN.
#[inline(always)]
pub fn asin<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let half = simd.splat_f64s(0.5);
    let two = simd.splat_f64s(2.0);
    let a = simd.abs_f64s(x);
    let small = simd.less_than_f64s(a, half);
    let z_big = simd.mul_f64s(simd.sub_f64s(simd.splat_f64s(1.0), a), half);
    let z = simd.select_f64s(small, simd.mul_f64s(x, x), z_big);
    let r = simd.div_f64s(poly(simd, z, &P_S), poly(simd, z, &Q_S));
    let res_small = simd.mul_add_f64s(x, r, x);
    let s = simd.sqrt_f64s(z_big);
    let f = simd.transmute_f64s_u64s(simd.and_u64s(
        simd.transmute_u64s_f64s(s),
        simd.splat_u64s(0xFFFF_FFFF_0000_0000),
    ));
    // (z − f²)/(s + f); at |x| = 1 both are 0 and c is 0.
    let c = simd.div_f64s(
        simd.negate_mul_add_f64s(f, f, z_big),
        simd.max_f64s(simd.add_f64s(s, f), simd.splat_f64s(f64::MIN_POSITIVE)),
    );
    let quarter_pi = simd.splat_f64s(0.5 * PIO2_HI);
    let t1 = simd.mul_f64s(simd.mul_f64s(two, s), r);
    let t2 = simd.negate_mul_add_f64s(two, c, simd.splat_f64s(PIO2_LO));
    let t3 = simd.negate_mul_add_f64s(two, f, quarter_pi);
    let big = simd.sub_f64s(quarter_pi, simd.sub_f64s(simd.sub_f64s(t1, t2), t3));
    let big = simd.or_f64s(big, simd.and_f64s(x, simd.splat_f64s(-0.0)));
    simd.select_f64s(small, res_small, big)
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;

    struct Eval<'a>(&'a [f64], &'a mut [f64], &'a mut [f64]);

    impl WithSimd for Eval<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let n = S::F64_LANES;
            for ((x, s), a) in self
                .0
                .chunks(n)
                .zip(self.1.chunks_mut(n))
                .zip(self.2.chunks_mut(n))
            {
                let v = simd.partial_load_f64s(x);
                simd.partial_store_f64s(s, sin_small(simd, v));
                simd.partial_store_f64s(a, asin(simd, v));
            }
        }
    }

    #[test]
    fn simd_sin_and_asin_match_std() {
        let xs: Vec<f64> = (0..20_001).map(|k| -1.0 + 1e-4 * k as f64).collect();
        let (mut s, mut a) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
        pulp::Arch::new().dispatch(Eval(&xs, &mut s, &mut a));
        // The AVX2 path too, which dispatch does not pick on an AVX-512 machine.
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            let (mut s3, mut a3) = (vec![0.0; xs.len()], vec![0.0; xs.len()]);
            pulp::Simd::vectorize(v3, Eval(&xs, &mut s3, &mut a3));
            assert_eq!((&s3, &a3), (&s, &a), "AVX2 and dispatched paths differ");
        }
        for (k, x) in xs.iter().enumerate() {
            let (ws, wa) = (x.sin(), x.asin());
            assert!(
                (s[k] - ws).abs() <= 4.0 * f64::EPSILON * ws.abs(),
                "sin({x})"
            );
            assert!(
                (a[k] - wa).abs() <= 4.0 * f64::EPSILON * wa.abs(),
                "asin({x})"
            );
        }
        let ts: Vec<f64> = (0..1001)
            .map(|k| std::f64::consts::FRAC_PI_2 * (2e-3 * k as f64 - 1.0))
            .collect();
        let (mut s, mut a) = (vec![0.0; ts.len()], vec![0.0; ts.len()]);
        pulp::Arch::new().dispatch(Eval(&ts, &mut s, &mut a));
        for (t, v) in ts.iter().zip(&s) {
            assert!(
                (v - t.sin()).abs() <= 4.0 * f64::EPSILON * t.sin().abs(),
                "sin({t})"
            );
        }
    }
}
