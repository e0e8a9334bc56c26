//! The smooth activations with a Fourier transform (`fourier_coef::supports`) on SIMD lanes,
//! for the rules of the Hermite coefficients (`hermite_coef`, `wide_moments`).

use pulp::{Simd, WithSimd};

use super::input::Isa;

use crate::net::Activation;
use crate::simd::{erf, erfc, load, logistic, silu, sinh_cosh, softplus, store};

/// |h| beyond which tanh h = ±1 to 10⁻¹⁷ (1 − tanh 20 = 8·10⁻¹⁸).
const TANH_ONE: f64 = 20.0;

/// φ(h) lane by lane, within a few ulp of [`Activation::eval`] (relative, except near the
/// zeros of softplus' and GELU's tails, where erfc and log1p keep their own accuracy):
/// - tanh: sign(h)·sinh a/cosh a, a = min(|h|, 20) ([`sinh_cosh`]: its Taylor form below 1
///   keeps tanh's relative accuracy at small |h|); GELU ½h·erfc(−h/√2); erf;
/// - sigmoid, SiLU and softplus from e^{−|h|} ([`logistic`], [`silu`], [`softplus`], shared with
///   the training kernels).
///
/// Any other φ lane by lane through [`Activation::eval`].
#[inline(always)]
pub(crate) fn eval<S: Simd>(simd: S, act: Activation, h: S::f64s) -> S::f64s {
    match act {
        Activation::Tanh => {
            let a = simd.min_f64s(simd.abs_f64s(h), simd.splat_f64s(TANH_ONE));
            let (sinh, cosh) = sinh_cosh(simd, a);
            let r = simd.div_f64s(sinh, cosh);
            simd.or_f64s(r, simd.and_f64s(h, simd.splat_f64s(-0.0)))
        }
        Activation::Sigmoid => logistic(simd, h),
        Activation::Silu => silu(simd, h),
        Activation::Softplus => softplus(simd, h),
        Activation::Gelu => {
            let arg = simd.mul_f64s(h, simd.splat_f64s(-std::f64::consts::FRAC_1_SQRT_2));
            simd.mul_f64s(simd.mul_f64s(h, simd.splat_f64s(0.5)), erfc(simd, arg))
        }
        Activation::Erf => erf(simd, h),
        _ => {
            let mut buf = [0.0; 16];
            let lanes = &mut buf[..S::F64_LANES];
            simd.partial_store_f64s(lanes, h);
            for x in lanes.iter_mut() {
                *x = act.eval(*x);
            }
            simd.partial_load_f64s(lanes)
        }
    }
}

/// φ(μ + s·zₖ) for every node zₖ of a rule, on SIMD lanes ([`eval`]).
pub(crate) fn eval_at(act: Activation, mu: f64, s: f64, z: &[f64]) -> Vec<f64> {
    let mut f = vec![0.0; z.len()];
    eval_into(act, mu, s, z, &mut f);
    f
}

/// [`eval_at`] into `f` (as long as `z`).
pub(crate) fn eval_into(act: Activation, mu: f64, s: f64, z: &[f64], f: &mut [f64]) {
    Isa::Dispatch.run(pulp::Arch::new(), AtNodes { act, mu, s, z, f });
}

/// The lanes of [`eval_at`].
struct AtNodes<'a> {
    act: Activation,
    mu: f64,
    s: f64,
    z: &'a [f64],
    f: &'a mut [f64],
}

impl WithSimd for AtNodes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (mu, s) = (simd.splat_f64s(self.mu), simd.splat_f64s(self.s));
        for (z, f) in self
            .z
            .chunks(S::F64_LANES)
            .zip(self.f.chunks_mut(S::F64_LANES))
        {
            let h = simd.mul_add_f64s(s, load(simd, z), mu);
            store(simd, f, eval(simd, self.act, h));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Isa;

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
                let v = eval(simd, self.0, simd.partial_load_f64s(x));
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
}
