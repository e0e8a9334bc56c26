//! erf, erfc and the standard normal cdf Φ on SIMD lanes.
//!
//! A lane-parallel port of Sun's fdlibm `s_erf.c` (as in the `libm` crate): the same four
//! rational approximations and coefficients, evaluated for every lane with the branch chosen per
//! lane by masks, so results agree with `libm::erf`/`libm::erfc` to a few ulp:
//!
//! 1. |x| < 0.84375: erf x = x + x·P(x²)/Q(x²);
//! 2. 0.84375 ≤ |x| < 1.25, s = |x| − 1: erf |x| = c + P₁(s)/Q₁(s), c = 0.84506291151;
//! 3. 1.25 ≤ |x| < 28, z = 1/x²: erfc |x| = e^{−x² − 0.5625 + R(z)/S(z)}/|x|, with (R, S) from
//!    [1.25, 1/0.35) or [1/0.35, 28); e^{−x²} keeps full relative accuracy through an exact
//!    split x² = p + e (fma) and −p − 0.5625 = hi + err (Fast2Sum) passed to [`exp_hi_lo`];
//! 4. |x| ≥ 28: erfc x = 0 (x > 0) or 2 (x < 0).

// fdlibm's coefficients are kept digit for digit as published.
#![allow(clippy::excessive_precision)]

use pulp::Simd;

use super::exp::exp_hi_lo;

const ERX: f64 = 8.45062911510467529297e-01;
const PP: [f64; 5] = [
    1.28379167095512558561e-01,
    -3.25042107247001499370e-01,
    -2.84817495755985104766e-02,
    -5.77027029648944159157e-03,
    -2.37630166566501626084e-05,
];
const QQ: [f64; 6] = [
    1.0,
    3.97917223959155352819e-01,
    6.50222499887672944485e-02,
    5.08130628187576562776e-03,
    1.32494738004321644526e-04,
    -3.96022827877536812320e-06,
];
const PA: [f64; 7] = [
    -2.36211856075265944077e-03,
    4.14856118683748331666e-01,
    -3.72207876035701323847e-01,
    3.18346619901161753674e-01,
    -1.10894694282396677476e-01,
    3.54783043256182359371e-02,
    -2.16637559486879084300e-03,
];
const QA: [f64; 7] = [
    1.0,
    1.06420880400844228286e-01,
    5.40397917702171048937e-01,
    7.18286544141962662868e-02,
    1.26171219808761642112e-01,
    1.36370839120290507362e-02,
    1.19844998467991074170e-02,
];
/// R and S on [1.25, 1/0.35) (RA, SA) and on [1/0.35, 28) (RB, SB), padded with zeros to a
/// common degree so one Horner loop serves both with per-lane selected coefficients.
const RA: [f64; 8] = [
    -9.86494403484714822705e-03,
    -6.93858572707181764372e-01,
    -1.05586262253232909814e+01,
    -6.23753324503260060396e+01,
    -1.62396669462573470355e+02,
    -1.84605092906711035994e+02,
    -8.12874355063065934246e+01,
    -9.81432934416914548592e+00,
];
const SA: [f64; 9] = [
    1.0,
    1.96512716674392571292e+01,
    1.37657754143519042600e+02,
    4.34565877475229228821e+02,
    6.45387271733267880336e+02,
    4.29008140027567833386e+02,
    1.08635005541779435134e+02,
    6.57024977031928170135e+00,
    -6.04244152148580987438e-02,
];
const RB: [f64; 8] = [
    -9.86494292470009928597e-03,
    -7.99283237680523006574e-01,
    -1.77579549177547519889e+01,
    -1.60636384855821916062e+02,
    -6.37566443368389627722e+02,
    -1.02509513161107724954e+03,
    -4.83519191608651397019e+02,
    0.0,
];
const SB: [f64; 9] = [
    1.0,
    3.03380607434824582924e+01,
    3.25792512996573918826e+02,
    1.53672958608443695994e+03,
    3.19985821950859553908e+03,
    2.55305040643316442583e+03,
    4.74528541206955367215e+02,
    -2.24409524465858183362e+01,
    0.0,
];

/// Σ c[k] xᵏ by Horner.
#[inline(always)]
fn poly<S: Simd>(simd: S, x: S::f64s, c: &[f64]) -> S::f64s {
    let mut p = simd.splat_f64s(c[c.len() - 1]);
    for &ck in c[..c.len() - 1].iter().rev() {
        p = simd.mul_add_f64s(p, x, simd.splat_f64s(ck));
    }
    p
}

/// Σ (mask ? a[k] : b[k]) xᵏ by Horner. No closure for the coefficients: a closure's body is
/// a function of its own, which the inliner may leave out of line, and out of line it runs
/// without the kernel's instruction set (its intrinsics become calls: spl53's first
/// `split_outer`, BENCHMARKS).
#[inline(always)]
fn poly_select<S: Simd>(simd: S, mask: S::m64s, x: S::f64s, a: &[f64], b: &[f64]) -> S::f64s {
    let top = a.len() - 1;
    let mut p = simd.select_f64s(mask, simd.splat_f64s(a[top]), simd.splat_f64s(b[top]));
    for k in (0..top).rev() {
        let c = simd.select_f64s(mask, simd.splat_f64s(a[k]), simd.splat_f64s(b[k]));
        p = simd.mul_add_f64s(p, x, c);
    }
    p
}

/// P/Q of branch 1 at a².
#[inline(always)]
fn small_part<S: Simd>(simd: S, a: S::f64s) -> S::f64s {
    let z = simd.mul_f64s(a, a);
    simd.div_f64s(poly(simd, z, &PP), poly(simd, z, &QQ))
}

/// P₁/Q₁ of branch 2 at s = a − 1.
#[inline(always)]
fn mid_part<S: Simd>(simd: S, a: S::f64s) -> S::f64s {
    let s = simd.sub_f64s(a, simd.splat_f64s(1.0));
    simd.div_f64s(poly(simd, s, &PA), poly(simd, s, &QA))
}

/// erfc(a) of branch 3 (a ≥ 1.25), 0 from a ≥ 28; lanes below 1.25 get a value that is never
/// selected.
#[inline(always)]
fn tail_part<S: Simd>(simd: S, a: S::f64s) -> S::f64s {
    let one = simd.splat_f64s(1.0);
    let a3 = simd.max_f64s(a, simd.splat_f64s(1.25));
    let inv = simd.div_f64s(one, simd.mul_f64s(a3, a3));
    let near = simd.less_than_f64s(a3, simd.splat_f64s(1.0 / 0.35));
    let ratio = simd.div_f64s(
        poly_select(simd, near, inv, &RA, &RB),
        poly_select(simd, near, inv, &SA, &SB),
    );
    let p = simd.mul_f64s(a3, a3);
    let e = simd.mul_add_f64s(a3, a3, simd.neg_f64s(p)); // a² = p + e exactly
                                                         // −p − 0.5625 = hi + err exactly (Fast2Sum, |p| > 0.5625): for |x| ≥ 16 the rounding of
                                                         // hi alone would cost ~1e-14 relative.
    let (neg_p, c) = (simd.neg_f64s(p), simd.splat_f64s(-0.5625));
    let hi = simd.add_f64s(neg_p, c);
    let err = simd.sub_f64s(c, simd.sub_f64s(hi, neg_p));
    let lo = simd.add_f64s(simd.sub_f64s(ratio, e), err);
    let tail = simd.div_f64s(exp_hi_lo(simd, hi, lo), a3);
    simd.select_f64s(
        simd.less_than_f64s(a, simd.splat_f64s(28.0)),
        tail,
        simd.splat_f64s(0.0),
    )
}

/// erfc(x) lane by lane (fdlibm's method; within a few ulp of `libm::erfc`, full relative
/// accuracy in the upper tail). NaN lanes give NaN. Only the branches some lane needs are
/// evaluated (by the largest |x| of the vector).
#[inline(always)]
pub fn erfc<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let one = simd.splat_f64s(1.0);
    let two = simd.splat_f64s(2.0);
    let half = simd.splat_f64s(0.5);
    let zero = simd.splat_f64s(0.0);
    // Every lane saturated: the branches' result exactly, without them (the split rule's Φ far
    // from its step, most of its third term's lanes: BENCHMARKS perf58). It skips the branches
    // on 16.5 % of the vectors of a deep tanh closure (XOR 2-500×20-2 from layer 14: 12.4·10⁶ of
    // 75.2·10⁶ calls, counted) for two compares and reductions on every call; the whole run's
    // CPU with and without it was within its spread (BENCHMARKS "lead59"). Branch 3 at x ≤ −6
    // gives 2 − erfc|x|, and erfc 6 ≈ 2.2·10⁻¹⁷ is below half the spacing 2⁻⁵² of the doubles
    // under 2, so it rounds to 2; branch 4 gives 0 from 28. NaN lanes fail both comparisons.
    let below = simd.select_f64s(
        simd.less_than_or_equal_f64s(x, simd.splat_f64s(-6.0)),
        zero,
        one,
    );
    if simd.reduce_max_f64s(below) == 0.0 {
        return two;
    }
    let above = simd.select_f64s(
        simd.greater_than_or_equal_f64s(x, simd.splat_f64s(28.0)),
        zero,
        one,
    );
    if simd.reduce_max_f64s(above) == 0.0 {
        return zero;
    }
    let a = simd.abs_f64s(x);
    let a_max = simd.reduce_max_f64s(a);
    let small = small_part(simd, a);
    // Branch 1: 1 − (x + x·y) for x < 1/4, else 0.5 − (x − 0.5 + x·y).
    let b1 = simd.select_f64s(
        simd.less_than_f64s(x, simd.splat_f64s(0.25)),
        simd.sub_f64s(one, simd.mul_add_f64s(x, small, x)),
        simd.sub_f64s(half, simd.mul_add_f64s(x, small, simd.sub_f64s(x, half))),
    );
    let r = if a_max < 0.84375 {
        b1
    } else {
        let neg = simd.less_than_f64s(x, simd.splat_f64s(0.0));
        let mid = mid_part(simd, a);
        // Branch 2: (1 − c) − P₁/Q₁ for x > 0, 1 + (c + P₁/Q₁) for x < 0.
        let b2 = simd.select_f64s(
            neg,
            simd.add_f64s(one, simd.add_f64s(simd.splat_f64s(ERX), mid)),
            simd.sub_f64s(simd.splat_f64s(1.0 - ERX), mid),
        );
        let r = if a_max < 1.25 {
            b2
        } else {
            let tail = tail_part(simd, a);
            let b3 = simd.select_f64s(neg, simd.sub_f64s(two, tail), tail);
            simd.select_f64s(simd.less_than_f64s(a, simd.splat_f64s(1.25)), b2, b3)
        };
        simd.select_f64s(simd.less_than_f64s(a, simd.splat_f64s(0.84375)), b1, r)
    };
    // NaN fails every comparison (and the a_max tests) and reaches branch 3 or propagates.
    simd.select_f64s(simd.equal_f64s(x, x), r, x)
}

/// erf(x) lane by lane (fdlibm's method; within a few ulp of `libm::erf`). Only the branches
/// some lane needs are evaluated.
#[inline(always)]
pub fn erf<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let a = simd.abs_f64s(x);
    let a_max = simd.reduce_max_f64s(a);
    let b1 = simd.mul_add_f64s(x, small_part(simd, a), x);
    let r = if a_max < 0.84375 {
        b1
    } else {
        let b2 = simd.add_f64s(simd.splat_f64s(ERX), mid_part(simd, a));
        let r = if a_max < 1.25 {
            b2
        } else {
            let b3 = simd.sub_f64s(simd.splat_f64s(1.0), tail_part(simd, a));
            simd.select_f64s(simd.less_than_f64s(a, simd.splat_f64s(1.25)), b2, b3)
        };
        let sign = simd.and_f64s(x, simd.splat_f64s(-0.0));
        let r = simd.or_f64s(r, sign);
        simd.select_f64s(simd.less_than_f64s(a, simd.splat_f64s(0.84375)), b1, r)
    };
    simd.select_f64s(simd.equal_f64s(x, x), r, x)
}

/// Standard normal cdf Φ(x) = ½ erfc(−x/√2) lane by lane: the same formula as the scalar
/// [`normal_cdf`](crate::special::normal_cdf), full relative accuracy in the lower tail.
#[inline(always)]
pub fn norm_cdf<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let arg = simd.mul_f64s(x, simd.splat_f64s(-std::f64::consts::FRAC_1_SQRT_2));
    simd.mul_f64s(simd.splat_f64s(0.5), erfc(simd, arg))
}

/// Standard normal density φ(x) = e^{−x²/2}/√(2π) lane by lane.
#[inline(always)]
pub fn norm_pdf<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let e = super::exp(
        simd,
        simd.mul_f64s(simd.splat_f64s(-0.5), simd.mul_f64s(x, x)),
    );
    simd.mul_f64s(
        e,
        simd.splat_f64s(1.0 / (2.0 * std::f64::consts::PI).sqrt()),
    )
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;

    /// Applies erf, erfc, Φ and φ to `xs` on SIMD lanes (partial loads cover the tail).
    struct Eval<'a>(&'a [f64], &'a mut [[f64; 4]]);

    impl WithSimd for Eval<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            for (xs, out) in self
                .0
                .chunks(S::F64_LANES)
                .zip(self.1.chunks_mut(S::F64_LANES))
            {
                let x = simd.partial_load_f64s(xs);
                let mut lanes = [[0.0; 4]; 8];
                let fs = [
                    erf(simd, x),
                    erfc(simd, x),
                    norm_cdf(simd, x),
                    norm_pdf(simd, x),
                ];
                for (f, v) in fs.into_iter().enumerate() {
                    let mut buf = vec![0.0; xs.len()];
                    simd.partial_store_f64s(&mut buf, v);
                    for (k, b) in buf.into_iter().enumerate() {
                        lanes[k][f] = b;
                    }
                }
                out.copy_from_slice(&lanes[..xs.len()]);
            }
        }
    }

    fn eval(xs: &[f64]) -> Vec<[f64; 4]> {
        let mut out = vec![[0.0; 4]; xs.len()];
        pulp::Arch::new().dispatch(Eval(xs, &mut out));
        out
    }

    fn inputs() -> Vec<f64> {
        let mut xs: Vec<f64> = (0..40_001).map(|k| -30.0 + 0.0015 * k as f64).collect();
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            0.84375,
            -0.84375,
            1.25,
            -1.25,
            1.0 / 0.35,
            28.0,
            -28.0,
        ]);
        xs.extend([f64::INFINITY, f64::NEG_INFINITY, 1e300, -1e300]);
        xs
    }

    /// The saturated vectors' shortcut in [`erfc`] gives what the branches give, bit for bit:
    /// each x from −4 to −44 and from 24 to 64 (each threshold inside) through a vector of
    /// that x only (the shortcut where x ≤ −6 or x ≥ 28) and through one with a lane at 0
    /// beside it (the branches). With the lower threshold at −5 it fails at x = −5 (2 against
    /// 2 − 1.5·10⁻¹²).
    #[test]
    fn saturated_lanes_match_the_branches() {
        let mut xs: Vec<f64> = (0..40_000).map(|k| -4.0 - 0.001 * k as f64).collect();
        xs.extend((0..40_000).map(|k| 24.0 + 0.001 * k as f64));
        xs.extend([f64::INFINITY, f64::NEG_INFINITY, -1e300, 1e300]);
        let lanes = pulp::Arch::new().dispatch(Lanes).max(2);
        let (mut alone, mut mixed) = (Vec::new(), Vec::new());
        for &x in &xs {
            alone.extend(vec![x; lanes]);
            mixed.extend([x, 0.0]);
            mixed.extend(vec![x; lanes - 2]);
        }
        let (alone, mixed) = (eval(&alone), eval(&mixed));
        for (k, &x) in xs.iter().enumerate() {
            let (got, want) = (alone[k * lanes][1], mixed[k * lanes][1]);
            assert_eq!(
                got.to_bits(),
                want.to_bits(),
                "erfc({x}): {got:e} vs {want:e}"
            );
            assert_eq!(
                alone[k * lanes][2].to_bits(),
                mixed[k * lanes][2].to_bits(),
                "Φ({x})"
            );
        }
    }

    /// The lane count of the dispatched instruction set.
    struct Lanes;

    impl WithSimd for Lanes {
        type Output = usize;
        fn with_simd<S: Simd>(self, _: S) -> usize {
            S::F64_LANES
        }
    }

    fn check(xs: &[f64], out: &[[f64; 4]]) {
        let close = |got: f64, want: f64| {
            got == want || (got - want).abs() <= 8.0 * f64::EPSILON * want.abs() + 1e-300
        };
        for (x, [erf_v, erfc_v, cdf_v, pdf_v]) in xs.iter().zip(out.iter().copied()) {
            assert!(close(erf_v, libm::erf(*x)), "erf({x}) = {erf_v}");
            assert!(close(erfc_v, libm::erfc(*x)), "erfc({x}) = {erfc_v}");
            let cdf = 0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2);
            assert!(close(cdf_v, cdf), "Φ({x}) = {cdf_v}, want {cdf}");
            let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
            if pdf > 1e-300 {
                assert!(close(pdf_v, pdf), "φ({x}) = {pdf_v}, want {pdf}");
            }
        }
    }

    /// The path `dispatch` picks here (AVX-512 with pulp's x86-v4 on this machine).
    #[test]
    fn simd_matches_libm_to_a_few_ulp() {
        let xs = inputs();
        check(&xs, &eval(&xs));
        let nan = eval(&[f64::NAN]);
        // φ goes through `exp`, whose clamping maps NaN into range; the other three propagate it.
        assert!(nan[0][..3].iter().all(|v| v.is_nan()));
    }

    /// The AVX2 (pulp V3) and scalar paths, which `dispatch` does not pick on an AVX-512 machine.
    #[test]
    fn avx2_and_scalar_paths_match_libm_too() {
        let xs = inputs();
        #[cfg(target_arch = "x86_64")]
        if let Some(v3) = pulp::x86::V3::try_new() {
            let mut out = vec![[0.0; 4]; xs.len()];
            pulp::Simd::vectorize(v3, Eval(&xs, &mut out));
            check(&xs, &out);
        }
        let mut out = vec![[0.0; 4]; xs.len()];
        pulp::Simd::vectorize(pulp::Scalar::new(), Eval(&xs, &mut out));
        check(&xs, &out);
    }
}
