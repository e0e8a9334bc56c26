//! Elementwise kernels of the forward and backward pass, vectorised with pulp (runtime dispatch).
//!
//! Bias and activation are fused: one sweep over a column of the pre-activation turns W·x into
//! h = W·x + b and writes z = φ(h). linear, quadratic and relu are pure arithmetic lanes; tanh and
//! sigmoid go through the SIMD [`exp`](crate::simd::exp), erf and gelu through the SIMD
//! [`erf`](crate::simd::erf)/[`erfc`](crate::simd::erfc) (fdlibm's method, a few ulp from libm).

use pulp::{Simd, WithSimd};

use super::Activation;
use crate::simd;

/// h ← h + b, z ← φ(h) for one column (`h`, `z`, `b` of equal length).
pub fn bias_activation(act: Activation, h: &mut [f64], b: &[f64], z: &mut [f64]) {
    debug_assert!(h.len() == b.len() && z.len() == b.len());
    pulp::Arch::new().dispatch(BiasActivation { act, h, b, z });
}

/// y ← y + b for one column of the linear read-out.
pub fn add_bias(y: &mut [f64], b: &[f64]) {
    for (y, b) in y.iter_mut().zip(b) {
        *y += b;
    }
}

/// g ← g ∘ φ'(h), the backward step through the activation.
pub fn mul_derivative(act: Activation, h: &[f64], g: &mut [f64]) {
    pulp::Arch::new().dispatch(MulDerivative { act, h, g });
}

struct BiasActivation<'a> {
    act: Activation,
    h: &'a mut [f64],
    b: &'a [f64],
    z: &'a mut [f64],
}

impl WithSimd for BiasActivation<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let act = self.act;
        let (h_head, h_tail) = S::as_mut_simd_f64s(self.h);
        let (b_head, b_tail) = S::as_simd_f64s(self.b);
        let (z_head, z_tail) = S::as_mut_simd_f64s(self.z);
        for ((h, b), z) in h_head.iter_mut().zip(b_head).zip(z_head) {
            *h = simd.add_f64s(*h, *b);
            *z = phi_lanes(simd, act, *h);
        }
        for ((h, b), z) in h_tail.iter_mut().zip(b_tail).zip(z_tail) {
            *h += b;
            *z = act.eval(*h);
        }
    }
}

/// φ on SIMD lanes.
#[inline(always)]
fn phi_lanes<S: Simd>(simd: S, act: Activation, h: S::f64s) -> S::f64s {
    let one = simd.splat_f64s(1.0);
    match act {
        Activation::Linear => h,
        Activation::Quadratic { alpha } => {
            // h + αh² = h·(1 + αh)
            simd.mul_f64s(h, simd.mul_add_f64s(simd.splat_f64s(alpha), h, one))
        }
        Activation::Relu => simd.max_f64s(h, simd.splat_f64s(0.0)),
        Activation::Sigmoid => {
            let e = simd::exp(simd, simd.neg_f64s(h));
            simd.div_f64s(one, simd.add_f64s(one, e))
        }
        Activation::Tanh => {
            // tanh h = sign(h)·(1 − 2/(e^{2|h|} + 1)); absolute error ~1e-16.
            let abs = simd.abs_f64s(h);
            let e = simd::exp(simd, simd.add_f64s(abs, abs));
            let t = simd.sub_f64s(
                one,
                simd.div_f64s(simd.splat_f64s(2.0), simd.add_f64s(e, one)),
            );
            let sign = simd.and_f64s(h, simd.splat_f64s(-0.0));
            simd.or_f64s(t, sign)
        }
        Activation::Erf => simd::erf(simd, h),
        Activation::Gelu => {
            // h·Φ(h) = ½h·erfc(−h/√2), the scalar formula of `Activation::eval`.
            let arg = simd.mul_f64s(h, simd.splat_f64s(-std::f64::consts::FRAC_1_SQRT_2));
            simd.mul_f64s(
                simd.mul_f64s(simd.splat_f64s(0.5), h),
                simd::erfc(simd, arg),
            )
        }
    }
}

struct MulDerivative<'a> {
    act: Activation,
    h: &'a [f64],
    g: &'a mut [f64],
}

impl WithSimd for MulDerivative<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let act = self.act;
        let (h_head, h_tail) = S::as_simd_f64s(self.h);
        let (g_head, g_tail) = S::as_mut_simd_f64s(self.g);
        for (h, g) in h_head.iter().zip(g_head) {
            *g = simd.mul_f64s(*g, dphi_lanes(simd, act, *h));
        }
        for (h, g) in h_tail.iter().zip(g_tail) {
            *g *= act.deriv(*h);
        }
    }
}

/// φ' on SIMD lanes (per-lane scalar for tanh and sigmoid).
#[inline(always)]
fn dphi_lanes<S: Simd>(simd: S, act: Activation, h: S::f64s) -> S::f64s {
    let one = simd.splat_f64s(1.0);
    let zero = simd.splat_f64s(0.0);
    match act {
        Activation::Linear => one,
        Activation::Quadratic { alpha } => simd.mul_add_f64s(simd.splat_f64s(2.0 * alpha), h, one),
        Activation::Relu => simd.select_f64s(simd.greater_than_f64s(h, zero), one, zero),
        Activation::Erf => {
            let e = simd::exp(simd, simd.neg_f64s(simd.mul_f64s(h, h)));
            simd.mul_f64s(simd.splat_f64s(std::f64::consts::FRAC_2_SQRT_PI), e)
        }
        Activation::Gelu => {
            // Φ(h) + hφ(h)
            simd.mul_add_f64s(h, simd::norm_pdf(simd, h), simd::norm_cdf(simd, h))
        }
        _ => {
            let mut lanes = h;
            for v in bytemuck::cast_slice_mut::<S::f64s, f64>(std::slice::from_mut(&mut lanes)) {
                *v = act.deriv(*v);
            }
            lanes
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTS: [Activation; 7] = [
        Activation::Linear,
        Activation::Quadratic { alpha: 0.5 },
        Activation::Relu,
        Activation::Erf,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
    ];

    #[test]
    fn simd_kernels_match_scalar_reference() {
        let n = 1003; // not a multiple of any lane count: exercises the tails
        let pre: Vec<f64> = (0..n).map(|k| -12.0 + 24.0 * k as f64 / n as f64).collect();
        let b: Vec<f64> = (0..n).map(|k| 0.01 * (k % 7) as f64 - 0.03).collect();
        for act in ACTS {
            let mut h = pre.clone();
            let mut z = vec![0.0; n];
            bias_activation(act, &mut h, &b, &mut z);
            let mut g = vec![1.5; n];
            mul_derivative(act, &h, &mut g);
            for k in 0..n {
                let hk = pre[k] + b[k];
                assert_eq!(h[k], hk);
                let want = act.eval(hk);
                assert!(
                    (z[k] - want).abs() <= 4e-16 * (1.0 + want.abs()),
                    "{act} at {hk}"
                );
                assert!(
                    (g[k] - 1.5 * act.deriv(hk)).abs() <= 1e-15,
                    "{act}' at {hk}"
                );
            }
        }
    }
}
