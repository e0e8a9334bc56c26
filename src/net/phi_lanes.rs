//! φ on SIMD lanes: the one lane implementation of every activation, used by the forward pass
//! ([`kernels`](super::kernels), its f64 columns and the arithmetic φ of its f32 columns) and
//! by the closures' evaluations at quadrature nodes (`propagate::closures::phi_lanes`). It
//! lives in `net`, not `simd`, because it dispatches on [`Activation`]; the lane functions it
//! composes (exp, erf, the logistic family, sinh/cosh) are `simd`'s.

use pulp::Simd;

use super::Activation;
use crate::simd::{erf, erfc, expm1, logistic, silu, softplus, Lanes};

/// |h| beyond which tanh h = ±1 to 10⁻¹⁷ (1 − tanh 20 = 8·10⁻¹⁸): the argument of [`tanh`]'s
/// e^{2a} − 1 is clamped there, so that it never overflows.
const TANH_ONE: f64 = 20.0;

/// The arithmetic φ on lanes of T: h, h(1 + αh), max(h, 0), h > 0 ? h : ah; any other φ
/// returns h.
#[inline(always)]
pub fn arithmetic_phi<T: Lanes, S: Simd>(simd: S, act: Activation, h: T::V<S>) -> T::V<S> {
    match act {
        Activation::Quadratic { alpha } => {
            // h + αh² = h·(1 + αh)
            let one = T::splat(simd, 1.0);
            T::mul(simd, h, T::mul_add(simd, T::splat(simd, alpha), h, one))
        }
        Activation::Relu => T::max(simd, h, T::splat(simd, 0.0)),
        Activation::LeakyRelu { slope } => {
            T::select_positive(simd, h, h, T::mul(simd, T::splat(simd, slope), h))
        }
        _ => h,
    }
}

/// φ(h) on f64 lanes, within a few ulp of `Activation::eval` (relative, except near the zeros
/// of softplus' and GELU's tails, where erfc and log1p keep their own accuracy): the arithmetic
/// φ ([`arithmetic_phi`]); tanh ([`tanh`]); sigmoid, SiLU and softplus from e^{−|h|}
/// ([`logistic`], [`silu`], [`softplus`]); erf; GELU h·Φ(h) = ½h·erfc(−h/√2), the scalar
/// formula of `Activation::eval`.
#[inline(always)]
pub fn phi<S: Simd>(simd: S, act: Activation, h: S::f64s) -> S::f64s {
    match act {
        Activation::Linear
        | Activation::Quadratic { .. }
        | Activation::Relu
        | Activation::LeakyRelu { .. } => arithmetic_phi::<f64, S>(simd, act, h),
        Activation::Silu => silu(simd, h),
        Activation::Softplus => softplus(simd, h),
        Activation::Sigmoid => logistic(simd, h),
        Activation::Tanh => tanh(simd, h),
        Activation::Erf => erf(simd, h),
        Activation::Gelu => {
            let arg = simd.mul_f64s(h, simd.splat_f64s(-std::f64::consts::FRAC_1_SQRT_2));
            simd.mul_f64s(simd.mul_f64s(simd.splat_f64s(0.5), h), erfc(simd, arg))
        }
    }
}

/// tanh h = sign(h)·t/(t + 2), t = e^{2a} − 1 ([`expm1`]), a = min(|h|, `TANH_ONE`): one
/// exponential and one division, and no cancellation at any |h| (t keeps its relative
/// accuracy as a → 0, where tanh a = a·(1 − a²/3 + …) ≈ t/2).
///
/// Measured (tanh42) against libm's `f64::tanh` on 3·10⁶ points of step 10⁻⁵ in [0, 30] and
/// 10⁶ log-spaced in [10⁻³⁰⁰, 30], both signs, AVX-512: at most 4 ulp, as tidy41's
/// sign(h)·sinh a / cosh a, which it replaced for speed (that form takes an exponential, two
/// divisions and sinh's Taylor polynomial per lane: ~1.5× this one's time, BENCHMARKS.md,
/// tanh42); the form before it, sign(h)·(1 − 2/(e^{2|h|} + 1)), erred by up to 7978 ulp just
/// above 2⁻¹³, where it cancels.
#[inline(always)]
pub fn tanh<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    let a = simd.min_f64s(simd.abs_f64s(h), simd.splat_f64s(TANH_ONE));
    let t = expm1(simd, simd.add_f64s(a, a));
    let r = simd.div_f64s(t, simd.add_f64s(t, simd.splat_f64s(2.0)));
    let r = simd.or_f64s(r, simd.and_f64s(h, simd.splat_f64s(-0.0)));
    // min(|NaN|, 20) is 20, whose tanh is 1: NaN is passed through (adv43).
    simd.select_f64s(simd.equal_f64s(h, h), r, h)
}

#[cfg(test)]
mod tests {
    use pulp::WithSimd;

    use super::*;
    use crate::simd::Isa;

    /// φ on the lanes of every chunk of `.1` into `.2` ([`phi`]).
    struct Eval<'a>(Activation, &'a [f64], &'a mut [f64]);

    impl WithSimd for Eval<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, simd: S) {
            for (x, y) in self
                .1
                .chunks(S::F64_LANES)
                .zip(self.2.chunks_mut(S::F64_LANES))
            {
                let v = phi(simd, self.0, simd.partial_load_f64s(x));
                simd.partial_store_f64s(y, v);
            }
        }
    }

    /// Every smooth φ on every instruction set against [`Activation::eval`] on |h| ≤ 60 and
    /// near 0 (|h| ~ 10⁻¹³): within 8ε·|φ| + 10⁻³⁰⁰.
    #[test]
    fn lanes_match_the_scalar_activations() {
        let hs: Vec<f64> = (0..24_001)
            .map(|k| -60.0 + 0.005 * k as f64)
            .chain((-50..50).map(|k| 3e-15 * k as f64))
            .collect();
        for act in [
            Activation::Tanh,
            Activation::Sigmoid,
            Activation::Silu,
            Activation::Softplus,
            Activation::Gelu,
            Activation::Erf,
            Activation::Relu,
        ] {
            for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
                let mut got = vec![0.0; hs.len()];
                isa.run(Eval(act, &hs, &mut got));
                for (&h, &g) in hs.iter().zip(&got) {
                    let want = act.eval(h);
                    let tol = 8.0 * f64::EPSILON * want.abs() + 1e-300;
                    assert!(
                        (g - want).abs() <= tol,
                        "{act} {isa:?} at {h}: {g} vs {want}"
                    );
                }
            }
        }
    }

    /// tanh on lanes within 4 ulp of libm (the measurement of [`tanh`]'s doc) on every
    /// instruction set, on a grid of step 10⁻⁴ to 30 and log-spaced points from 10⁻³⁰⁰ to 30,
    /// both signs, and ±1 exactly beyond 20.
    #[test]
    fn tanh_lanes_are_within_4_ulp_of_libm() {
        let mut hs: Vec<f64> = (0..300_001).map(|k| k as f64 * 1e-4).collect();
        hs.extend((0..=100_000).map(|k| 10f64.powf(-300.0 + k as f64 * (301.5 / 1e5))));
        hs.extend([
            0.0,
            1.0 / 8192.0,
            2.08e-4,
            20.0,
            40.0,
            1e300,
            f64::MIN_POSITIVE,
        ]);
        let neg: Vec<f64> = hs.iter().map(|h| -h).collect();
        hs.extend(neg);
        for isa in [Isa::Best, Isa::Avx2, Isa::Scalar] {
            let mut got = vec![0.0; hs.len()];
            isa.run(Eval(Activation::Tanh, &hs, &mut got));
            for (&h, &g) in hs.iter().zip(&got) {
                let want = h.tanh();
                let ulp = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
                assert!(
                    (g - want).abs() <= 4.0 * ulp,
                    "{isa:?} tanh({h:e}) = {g:e}, libm {want:e}"
                );
            }
        }
    }
}
