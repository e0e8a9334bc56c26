//! The smooth activations with a Fourier transform (`fourier_coef::supports`) on SIMD lanes,
//! for the rules of the Hermite coefficients (`hermite_coef`, `wide_moments`).

use pulp::{Simd, WithSimd};

use super::input::Isa;

use crate::net::Activation;
use crate::simd::{load, store};

/// φ(h) lane by lane: the forward pass's φ on lanes
/// ([`net::phi_lanes::phi`](crate::net::phi_lanes::phi), within a few ulp of
/// [`Activation::eval`]), one implementation for both.
pub(crate) use crate::net::phi_lanes::phi as eval;

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
