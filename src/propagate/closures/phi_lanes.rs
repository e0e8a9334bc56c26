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
