//! sin/cos with range reduction, sinh/cosh and log(1 + t) on SIMD lanes, for the Hermite
//! coefficients of wide units (the Fourier rule and the windowed rule of the series closure).

use pulp::Simd;

use super::exp::exp;
use super::trig::sin_small;

/// 1.5·2⁵²: adding it rounds to an integer held in the low mantissa bits (|x| < 2⁵¹).
const ROUND_MAGIC: f64 = 6_755_399_441_055_744.0;
/// π split so that n·PI_HI + n·PI_LO carries π to ~2⁻¹⁰⁶ (Cody–Waite; PI_HI is the f64 π).
const PI_HI: f64 = std::f64::consts::PI;
const PI_LO: f64 = 1.224_646_799_147_353_2e-16;

/// (−1)ᵐ/(2m)! for m = 0..=12: cos θ = Σ (−1)ᵐ θ^{2m}/(2m)!.
const COS_TAYLOR: [f64; 13] = {
    let mut c = [1.0f64; 13];
    let mut fact = 1.0f64;
    let mut m = 1;
    while m < 13 {
        fact *= (2 * m - 1) as f64 * (2 * m) as f64;
        c[m] = if m % 2 == 0 { 1.0 / fact } else { -1.0 / fact };
        m += 1;
    }
    c
};

/// 1/(2m + 1)! for m = 0..=10: sinh x = Σ x^{2m+1}/(2m + 1)!.
const SINH_TAYLOR: [f64; 11] = {
    let mut c = [1.0f64; 11];
    let mut fact = 1.0f64;
    let mut m = 1;
    while m < 11 {
        fact *= (2 * m) as f64 * (2 * m + 1) as f64;
        c[m] = 1.0 / fact;
        m += 1;
    }
    c
};

/// x rounded to the nearest integer (|x| < 2⁵¹).
#[inline(always)]
fn round<S: Simd>(simd: S, x: S::f64s) -> S::f64s {
    let magic = simd.splat_f64s(ROUND_MAGIC);
    simd.sub_f64s(simd.add_f64s(x, magic), magic)
}

/// (sin θ, cos θ) lane by lane for |θ| ≤ 10⁶: θ = nπ + r with n = round(θ/π) and r reduced
/// in two FMA steps (Cody–Waite), |r| ≤ π/2; sin r by [`sin_small`], cos r by its Taylor
/// polynomial of degree 24 (truncation (π/2)²⁶/26! < 3·10⁻²²); both times (−1)ⁿ. Absolute
/// error a few ulp plus |θ|·2⁻¹⁰⁶ from the split of π.
#[inline(always)]
pub fn sin_cos<S: Simd>(simd: S, theta: S::f64s) -> (S::f64s, S::f64s) {
    let n = round(simd, simd.mul_f64s(theta, simd.splat_f64s(1.0 / PI_HI)));
    let r = simd.negate_mul_add_f64s(n, simd.splat_f64s(PI_HI), theta);
    let r = simd.negate_mul_add_f64s(n, simd.splat_f64s(PI_LO), r);
    let sin = sin_small(simd, r);
    let r2 = simd.mul_f64s(r, r);
    let mut cos = simd.splat_f64s(COS_TAYLOR[12]);
    for &c in COS_TAYLOR[..12].iter().rev() {
        cos = simd.mul_add_f64s(cos, r2, simd.splat_f64s(c));
    }
    // (−1)ⁿ = 1 − 2(n − 2⌊n/2⌋), with ⌊n/2⌋ = round(n/2 − 1/4) for integer n.
    let half = round(
        simd,
        simd.mul_add_f64s(n, simd.splat_f64s(0.5), simd.splat_f64s(-0.25)),
    );
    let odd = simd.negate_mul_add_f64s(half, simd.splat_f64s(2.0), n);
    let sign = simd.negate_mul_add_f64s(odd, simd.splat_f64s(2.0), simd.splat_f64s(1.0));
    (simd.mul_f64s(sin, sign), simd.mul_f64s(cos, sign))
}

/// (sinh x, cosh x) lane by lane for 0 ≤ x ≤ 709: sinh by its Taylor polynomial of degree
/// 21 below 1 (truncation 1/23! < 4·10⁻²³; the exponential form loses digits there), else
/// (eˣ − e⁻ˣ)/2; cosh = (eˣ + e⁻ˣ)/2. A few ulp relative.
#[inline(always)]
pub fn sinh_cosh<S: Simd>(simd: S, x: S::f64s) -> (S::f64s, S::f64s) {
    let e = exp(simd, x);
    let inv = simd.div_f64s(simd.splat_f64s(1.0), e);
    let half = simd.splat_f64s(0.5);
    let cosh = simd.mul_f64s(simd.add_f64s(e, inv), half);
    let big = simd.mul_f64s(simd.sub_f64s(e, inv), half);
    let x2 = simd.mul_f64s(x, x);
    let mut p = simd.splat_f64s(SINH_TAYLOR[10]);
    for &c in SINH_TAYLOR[..10].iter().rev() {
        p = simd.mul_add_f64s(p, x2, simd.splat_f64s(c));
    }
    let small = simd.mul_f64s(p, x);
    let below = simd.less_than_f64s(x, simd.splat_f64s(1.0));
    (simd.select_f64s(below, small, big), cosh)
}

/// log(1 + t) lane by lane for −½ < t ≤ 1: 2·atanh(y) = 2(y + y³/3 + … + y³⁷/37), y = t/(2 + t),
/// |y| ≤ 1/3 (truncation y³⁹/39·(9/8) < 10⁻¹⁹ relative). A few ulp relative.
#[inline(always)]
pub fn log1p_unit<S: Simd>(simd: S, t: S::f64s) -> S::f64s {
    log1p_atanh_series(simd, t, 18)
}

/// log(1 + t) = 2·atanh(y) = 2(y + y³/3 + … + y^(2·top+1)/(2·top+1)), y = t/(2 + t), lane by
/// lane by Horner's rule in y²; the caller picks `top` for its range of y.
#[inline(always)]
pub fn log1p_atanh_series<S: Simd>(simd: S, t: S::f64s, top: usize) -> S::f64s {
    let y = simd.div_f64s(t, simd.add_f64s(t, simd.splat_f64s(2.0)));
    let y2 = simd.mul_f64s(y, y);
    let mut p = simd.splat_f64s(1.0 / (2 * top + 1) as f64);
    for k in (0..top).rev() {
        p = simd.mul_add_f64s(p, y2, simd.splat_f64s(1.0 / (2 * k + 1) as f64));
    }
    simd.mul_f64s(simd.mul_f64s(p, y), simd.splat_f64s(2.0))
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;
    use crate::simd::Isa;

    /// sin, cos, sinh, cosh and log1p of `x` into the five outputs.
    struct Eval<'a>(&'a [f64], [&'a mut [f64]; 5]);

    impl WithSimd for Eval<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            let [s, c, sh, ch, l] = self.1;
            for (k, x) in self.0.chunks(S::F64_LANES).enumerate() {
                let at = k * S::F64_LANES..k * S::F64_LANES + x.len();
                let v = simd.partial_load_f64s(x);
                let (sv, cv) = sin_cos(simd, v);
                let a = simd.abs_f64s(v);
                let (shv, chv) = sinh_cosh(simd, a);
                let lv = log1p_unit(simd, simd.min_f64s(a, simd.splat_f64s(1.0)));
                for (out, val) in [
                    (&mut *s, sv),
                    (&mut *c, cv),
                    (&mut *sh, shv),
                    (&mut *ch, chv),
                    (&mut *l, lv),
                ] {
                    simd.partial_store_f64s(&mut out[at.clone()], val);
                }
            }
        }
    }

    /// Against std on every instruction set: sin/cos within 4ε absolute (plus |θ|·2⁻¹⁰⁰) for
    /// |θ| ≤ 200, sinh/cosh within 4ε relative on [0, 200], log1p within 4ε relative on [0, 1].
    #[test]
    fn hyper_functions_match_std() {
        let xs: Vec<f64> = (0..40_001).map(|k| -200.0 + 0.01 * k as f64).collect();
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            let mut out: Vec<Vec<f64>> = vec![vec![0.0; xs.len()]; 5];
            let [s, c, sh, ch, l] = &mut out[..] else {
                unreachable!()
            };
            isa.run(Eval(&xs, [s, c, sh, ch, l]));
            for (i, &x) in xs.iter().enumerate() {
                let (ws, wc) = x.sin_cos();
                let tol = 4.0 * f64::EPSILON + x.abs() * 2f64.powi(-100);
                assert!((out[0][i] - ws).abs() <= tol, "{isa:?} sin {x}");
                assert!((out[1][i] - wc).abs() <= tol, "{isa:?} cos {x}");
                let a = x.abs();
                let rel = |got: f64, want: f64| ((got - want) / want).abs();
                if a > 0.0 {
                    assert!(rel(out[2][i], a.sinh()) <= 4.0 * f64::EPSILON, "sinh {a}");
                }
                assert!(rel(out[3][i], a.cosh()) <= 4.0 * f64::EPSILON, "cosh {a}");
                let t = a.min(1.0);
                if t > 0.0 {
                    assert!(rel(out[4][i], t.ln_1p()) <= 4.0 * f64::EPSILON, "log1p {t}");
                }
            }
        }
    }
}
