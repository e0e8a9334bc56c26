//! Elementwise kernels of the forward and backward pass, vectorised with pulp (runtime dispatch).
//!
//! Bias and activation are fused: one sweep over a column of the pre-activation turns W·x into
//! h = W·x + b and writes z = φ(h). φ on lanes is [`phi_lanes::phi`], shared with the
//! closures: linear, quadratic and relu are pure arithmetic lanes; tanh goes through the SIMD
//! [`expm1`](crate::simd::expm1), sigmoid, SiLU and softplus through the logistic family
//! ([`logistic`](crate::simd::logistic) …, one e^{−|h|} each), erf and gelu through the SIMD
//! [`erf`](crate::simd::erf)/[`erfc`](crate::simd::erfc) (fdlibm's method, a few ulp from libm).
//! φ' on lanes (tanh' through the SIMD [`exp`](crate::simd::exp)) is this module's.
//!
//! One kernel per operation (`BiasActivation`, `MulDerivative`) is generic over the element
//! type through [`Lanes`] (pulp's f64/f32 operations) and `Elementwise` (φ and φ' per type):
//! f64 evaluates every φ on its lanes; f32 evaluates the arithmetic φ on its lanes (16 per
//! AVX-512 vector) and takes the transcendental ones through the f64 kernel.

use pulp::{Simd, WithSimd};

use super::phi_lanes;
use super::Activation;
use crate::simd::{self, Lanes};

/// h ← h + b, z ← φ(h) for one column (`h`, `z`, `b` of equal length).
pub fn bias_activation(act: Activation, h: &mut [f64], b: &[f64], z: &mut [f64]) {
    debug_assert!(h.len() == b.len() && z.len() == b.len());
    simd::dispatch(BiasActivation { act, h, b, z });
}

/// y ← y + b for one column of the linear read-out.
pub fn add_bias<T: Copy + std::ops::AddAssign>(y: &mut [T], b: &[T]) {
    for (y, b) in y.iter_mut().zip(b) {
        *y += *b;
    }
}

/// g ← g ∘ φ'(h), the backward step through the activation.
pub fn mul_derivative(act: Activation, h: &[f64], g: &mut [f64]) {
    simd::dispatch(MulDerivative { act, h, g });
}

/// φ and g·φ' of one element type, on lanes and on the scalar tail of a column.
trait Elementwise: Lanes {
    /// φ(h) on lanes.
    fn phi<S: Simd>(simd: S, act: Activation, h: Self::V<S>) -> Self::V<S>;
    /// g·φ'(h) on lanes.
    fn mul_dphi<S: Simd>(simd: S, act: Activation, h: Self::V<S>, g: Self::V<S>) -> Self::V<S>;
    /// φ(h) of one tail element.
    fn phi_scalar(act: Activation, h: Self) -> Self;
    /// g·φ'(h) of one tail element.
    fn mul_dphi_scalar(act: Activation, h: Self, g: Self) -> Self;
}

/// f64: every φ on lanes ([`phi_lanes::phi`], [`dphi_lanes`]); tails by the scalar reference
/// [`Activation::eval`], [`Activation::deriv`].
impl Elementwise for f64 {
    #[inline(always)]
    fn phi<S: Simd>(simd: S, act: Activation, h: S::f64s) -> S::f64s {
        phi_lanes::phi(simd, act, h)
    }
    #[inline(always)]
    fn mul_dphi<S: Simd>(simd: S, act: Activation, h: S::f64s, g: S::f64s) -> S::f64s {
        simd.mul_f64s(g, dphi_lanes(simd, act, h))
    }
    #[inline(always)]
    fn phi_scalar(act: Activation, h: f64) -> f64 {
        act.eval(h)
    }
    #[inline(always)]
    fn mul_dphi_scalar(act: Activation, h: f64, g: f64) -> f64 {
        g * act.deriv(h)
    }
}

/// f32: the arithmetic φ only (the others never reach f32 lanes, see [`bias_activation_f32`]);
/// relu's φ' keeps g where h > 0 and writes +0 elsewhere.
impl Elementwise for f32 {
    #[inline(always)]
    fn phi<S: Simd>(simd: S, act: Activation, h: S::f32s) -> S::f32s {
        phi_lanes::arithmetic_phi::<f32, S>(simd, act, h)
    }
    #[inline(always)]
    fn mul_dphi<S: Simd>(simd: S, act: Activation, h: S::f32s, g: S::f32s) -> S::f32s {
        match act {
            Activation::Relu => f32::select_positive(simd, h, g, f32::splat(simd, 0.0)),
            Activation::LeakyRelu { slope } => {
                f32::select_positive(simd, h, g, simd.mul_f32s(g, f32::splat(simd, slope)))
            }
            _ => simd.mul_f32s(g, arithmetic_dphi::<f32, S>(simd, act, h)),
        }
    }
    #[inline(always)]
    fn phi_scalar(act: Activation, h: f32) -> f32 {
        match act {
            Activation::Relu => h.max(0.0),
            Activation::Quadratic { alpha } => h * (alpha as f32).mul_add(h, 1.0),
            Activation::LeakyRelu { slope } => {
                if h > 0.0 {
                    h
                } else {
                    slope as f32 * h
                }
            }
            _ => h,
        }
    }
    #[inline(always)]
    fn mul_dphi_scalar(act: Activation, h: f32, g: f32) -> f32 {
        match act {
            Activation::Relu => {
                if h > 0.0 {
                    g
                } else {
                    0.0
                }
            }
            Activation::Quadratic { alpha } => g * (2.0 * alpha as f32).mul_add(h, 1.0),
            Activation::LeakyRelu { slope } => {
                if h > 0.0 {
                    g
                } else {
                    slope as f32 * g
                }
            }
            _ => g,
        }
    }
}

/// h ← h + b, z ← φ(h) on one column of T.
struct BiasActivation<'a, T> {
    act: Activation,
    h: &'a mut [T],
    b: &'a [T],
    z: &'a mut [T],
}

impl<T: Elementwise + std::ops::AddAssign> WithSimd for BiasActivation<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let act = self.act;
        let (h_head, h_tail) = T::split_mut::<S>(self.h);
        let (b_head, b_tail) = T::split::<S>(self.b);
        let (z_head, z_tail) = T::split_mut::<S>(self.z);
        for ((h, b), z) in h_head.iter_mut().zip(b_head).zip(z_head) {
            *h = T::add(simd, *h, *b);
            *z = T::phi(simd, act, *h);
        }
        for ((h, b), z) in h_tail.iter_mut().zip(b_tail).zip(z_tail) {
            *h += *b;
            *z = T::phi_scalar(act, *h);
        }
    }
}

/// g ← g ∘ φ'(h) on one column of T.
struct MulDerivative<'a, T> {
    act: Activation,
    h: &'a [T],
    g: &'a mut [T],
}

impl<T: Elementwise> WithSimd for MulDerivative<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let act = self.act;
        let (h_head, h_tail) = T::split::<S>(self.h);
        let (g_head, g_tail) = T::split_mut::<S>(self.g);
        for (h, g) in h_head.iter().zip(g_head) {
            *g = T::mul_dphi(simd, act, *h, *g);
        }
        for (h, g) in h_tail.iter().zip(g_tail) {
            *g = T::mul_dphi_scalar(act, *h, *g);
        }
    }
}

/// The arithmetic φ' on lanes of T: 1 + 2αh, 1[h > 0], h > 0 ? 1 : a; any other φ returns 1.
#[inline(always)]
fn arithmetic_dphi<T: Lanes, S: Simd>(simd: S, act: Activation, h: T::V<S>) -> T::V<S> {
    let one = T::splat(simd, 1.0);
    match act {
        Activation::Quadratic { alpha } => T::mul_add(simd, T::splat(simd, 2.0 * alpha), h, one),
        Activation::Relu => T::select_positive(simd, h, one, T::splat(simd, 0.0)),
        Activation::LeakyRelu { slope } => T::select_positive(simd, h, one, T::splat(simd, slope)),
        _ => one,
    }
}

/// |h| below which φ' of tanh on f64 lanes is taken from the odd series of tanh: 1 − t² with
/// t = h − h³/3 + 2h⁵/15 (within an ulp there: the next term is 17h⁷/315 < 1e-26·|h|), where
/// s(2 − s), s = 2/(e^{2|h|} + 1), would round s's own error into the result.
const TANH_SERIES_MAX: f64 = 1.0 / 8192.0;

/// φ' on f64 lanes.
#[inline(always)]
fn dphi_lanes<S: Simd>(simd: S, act: Activation, h: S::f64s) -> S::f64s {
    match act {
        Activation::Linear
        | Activation::Quadratic { .. }
        | Activation::Relu
        | Activation::LeakyRelu { .. } => arithmetic_dphi::<f64, S>(simd, act, h),
        Activation::Erf => {
            let e = simd::exp(simd, simd.neg_f64s(simd.mul_f64s(h, h)));
            simd.mul_f64s(simd.splat_f64s(std::f64::consts::FRAC_2_SQRT_PI), e)
        }
        Activation::Gelu => {
            // Φ(h) + hφ(h)
            simd.mul_add_f64s(h, simd::norm_pdf(simd, h), simd::norm_cdf(simd, h))
        }
        Activation::Tanh => {
            // 1 − tanh²h = s(2 − s) with s = 1 − tanh|h| = 2/(e^{2|h|} + 1) formed directly (no
            // cancellation where tanh → 1); below TANH_SERIES_MAX, 1 − t² of the lanes' series.
            let one = simd.splat_f64s(1.0);
            let abs = simd.abs_f64s(h);
            let e = simd::exp(simd, simd.add_f64s(abs, abs));
            let s = simd.div_f64s(simd.splat_f64s(2.0), simd.add_f64s(e, one));
            let wide = simd.mul_f64s(s, simd.sub_f64s(simd.splat_f64s(2.0), s));
            let t = tanh_series(simd, h);
            let near = simd.mul_add_f64s(simd.neg_f64s(t), t, one);
            let small = simd.less_than_f64s(abs, simd.splat_f64s(TANH_SERIES_MAX));
            simd.select_f64s(small, near, wide)
        }
        Activation::Sigmoid => simd::logistic_slope(simd, h),
        Activation::Silu => simd::silu_slope(simd, h),
        Activation::Softplus => simd::logistic(simd, h),
    }
}

/// tanh h by its odd series h − h³/3 + 2h⁵/15, for |h| < [`TANH_SERIES_MAX`].
#[inline(always)]
fn tanh_series<S: Simd>(simd: S, h: S::f64s) -> S::f64s {
    let h2 = simd.mul_f64s(h, h);
    let p = simd.mul_add_f64s(h2, simd.splat_f64s(2.0 / 15.0), simd.splat_f64s(-1.0 / 3.0));
    simd.mul_add_f64s(simd.mul_f64s(h, h2), p, h)
}

/// f32 columns: h ← h + b, z ← φ(h). linear, quadratic, relu and leaky relu run on f32 lanes
/// (16 per AVX-512 vector); the transcendental φ (erf, tanh, sigmoid, gelu, silu, softplus) widen h + b to f64 in chunks,
/// evaluate the f64 kernel and round z to f32 (≤ ½ ulp_f32 beyond the f64 kernel's error).
pub fn bias_activation_f32(act: Activation, h: &mut [f32], b: &[f32], z: &mut [f32]) {
    debug_assert!(h.len() == b.len() && z.len() == b.len());
    if is_arithmetic(act) {
        simd::dispatch(BiasActivation { act, h, b, z });
        return;
    }
    let (mut wide_h, mut wide_z) = ([0.0f64; CHUNK], [0.0f64; CHUNK]);
    for ((h, b), z) in h
        .chunks_mut(CHUNK)
        .zip(b.chunks(CHUNK))
        .zip(z.chunks_mut(CHUNK))
    {
        let n = h.len();
        for ((h, b), w) in h.iter_mut().zip(b).zip(&mut wide_h) {
            *h += b;
            *w = f64::from(*h);
        }
        bias_activation(act, &mut wide_h[..n], &ZEROS[..n], &mut wide_z[..n]);
        for (z, w) in z.iter_mut().zip(&wide_z) {
            *z = *w as f32;
        }
    }
}

/// f32 columns: g ← g ∘ φ'(h), on f32 lanes for linear, quadratic and relu, through the f64
/// kernel in chunks for the others (as [`bias_activation_f32`]).
pub fn mul_derivative_f32(act: Activation, h: &[f32], g: &mut [f32]) {
    if is_arithmetic(act) {
        simd::dispatch(MulDerivative { act, h, g });
        return;
    }
    let (mut wide_h, mut wide_g) = ([0.0f64; CHUNK], [0.0f64; CHUNK]);
    for (h, g) in h.chunks(CHUNK).zip(g.chunks_mut(CHUNK)) {
        let n = h.len();
        for ((h, g), (wh, wg)) in h
            .iter()
            .zip(g.iter())
            .zip(wide_h.iter_mut().zip(&mut wide_g))
        {
            *wh = f64::from(*h);
            *wg = f64::from(*g);
        }
        mul_derivative(act, &wide_h[..n], &mut wide_g[..n]);
        for (g, w) in g.iter_mut().zip(&wide_g) {
            *g = *w as f32;
        }
    }
}

/// Chunk length of the f32 → f64 → f32 detour (a multiple of every lane count).
const CHUNK: usize = 64;
const ZEROS: [f64; CHUNK] = [0.0; CHUNK];

/// φ that needs only +, ×, max: evaluated on f32 lanes directly.
fn is_arithmetic(act: Activation) -> bool {
    matches!(
        act,
        Activation::Linear
            | Activation::Quadratic { .. }
            | Activation::Relu
            | Activation::LeakyRelu { .. }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTS: [Activation; 10] = [
        Activation::Linear,
        Activation::Quadratic { alpha: 0.5 },
        Activation::Relu,
        Activation::Erf,
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::LeakyRelu { slope: 0.125 },
        Activation::Silu,
        Activation::Softplus,
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
                // SiLU's scalar σ + hσ(1 − σ) carries 1 − σ's rounding (≤ ε) times |h|σ.
                let slack = match act {
                    Activation::Silu => 1.0 + hk.abs(),
                    _ => 1.0,
                };
                assert!(
                    (g[k] - 1.5 * act.deriv(hk)).abs() <= 1e-15 * slack,
                    "{act}' at {hk}"
                );
            }
        }
    }

    /// tanh', σ', SiLU' and softplus' on f64 lanes far into the tails (|h| up to 800), where the
    /// scalar 1 − tanh² is 0 from |h| ≈ 19 on: within 8 ulp of 1/cosh²h (libm), e/(1 + e)²,
    /// σ + hσ' and σ from e = e^{−|h|}, and finite everywhere.
    #[test]
    fn logistic_and_tanh_slopes_hold_their_relative_accuracy_in_the_tails() {
        let mut pre = Vec::new();
        for m in [
            0.3, 1.0, 2.5, 7.0, 19.5, 25.0, 60.0, 200.0, 350.0, 700.0, 800.0,
        ] {
            pre.extend([m, -m]);
        }
        pre.extend([1e-3, -1e-3]);
        let n = pre.len() - pre.len() % 8; // whole vectors only: the tail is the scalar reference
        let slope = |h: f64| {
            let e = (-h.abs()).exp();
            e / ((1.0 + e) * (1.0 + e))
        };
        let sigma = |h: f64| 1.0 / (1.0 + (-h).exp());
        let cases: [(Activation, &dyn Fn(f64) -> f64); 4] = [
            (Activation::Tanh, &|h: f64| 1.0 / (h.cosh() * h.cosh())),
            (Activation::Sigmoid, &slope),
            (Activation::Silu, &|h: f64| sigma(h) + h * slope(h)),
            (Activation::Softplus, &sigma),
        ];
        for (act, want) in cases {
            let mut g = vec![1.0; n];
            mul_derivative(act, &pre[..n], &mut g);
            for (&h, &got) in pre[..n].iter().zip(&g) {
                let w = want(h);
                assert!(got.is_finite(), "{act}'({h}) = {got}");
                assert!(
                    (got - w).abs() <= 8.0 * f64::EPSILON * w.abs() + 1e-300,
                    "{act}'({h}) = {got:e}, reference {w:e}"
                );
            }
        }
    }

    /// tanh on f64 lanes keeps its relative accuracy at small |h| (sinh's Taylor form,
    /// `net::phi_lanes::tanh`): within 2 ulp of libm from 1e-300 to 2⁻¹³, both signs; the old
    /// 1 − 2/(e^{2|h|} + 1) gave 0 below 1e-16 and a relative error of ~1e-7 at 1e-9 (adv28).
    #[test]
    fn tanh_lanes_keep_relative_accuracy_at_small_inputs() {
        let mut pre = vec![TANH_SERIES_MAX * 0.999, -TANH_SERIES_MAX * 0.999];
        for e in [-300, -200, -100, -30, -17, -16, -12, -9, -7, -5] {
            for m in [1.0, 3.7, -1.0, -6.1] {
                pre.push(m * 10f64.powi(e));
            }
        }
        let n = pre.len() - pre.len() % 16; // whole vectors only: the tail is libm already
        let mut h = pre[..n].to_vec();
        let mut z = vec![0.0; n];
        bias_activation(Activation::Tanh, &mut h, &vec![0.0; n], &mut z);
        for (k, &hk) in h.iter().enumerate() {
            let want = hk.tanh();
            assert!(
                (z[k] - want).abs() <= 2.0 * f64::EPSILON * want.abs(),
                "tanh({hk:e}) = {:e}, libm {want:e}",
                z[k]
            );
        }
    }

    /// f32 kernels against the scalar f64 φ, φ' of the same f32 input: exact for linear and
    /// relu; quadratic h(1 + αh) in f32 with two roundings (≤ 2u₃₂ relative to
    /// |h|(1 + |αh|), u₃₂ = 2⁻²⁴); the transcendental φ go through the f64 kernel (≤ 4e-16
    /// from libm) and one rounding to f32 (≤ u₃₂|φ|).
    #[test]
    fn f32_kernels_match_scalar_reference() {
        let u = f32::EPSILON as f64 / 2.0;
        let n = 1003;
        let pre: Vec<f32> = (0..n).map(|k| -6.0 + 12.0 * k as f32 / n as f32).collect();
        let b: Vec<f32> = (0..n).map(|k| 0.01 * (k % 7) as f32 - 0.03).collect();
        for act in ACTS {
            let mut h = pre.clone();
            let mut z = vec![0.0f32; n];
            bias_activation_f32(act, &mut h, &b, &mut z);
            let mut g = vec![1.5f32; n];
            mul_derivative_f32(act, &h, &mut g);
            for k in 0..n {
                let hk = pre[k] + b[k];
                assert_eq!(h[k], hk);
                let hk = f64::from(hk);
                let (want, dwant) = (act.eval(hk), 1.5 * act.deriv(hk));
                let (tol, dtol) = match act {
                    // slope 1/8: a·h is exact in f32
                    Activation::Linear | Activation::Relu | Activation::LeakyRelu { .. } => {
                        (0.0, 0.0)
                    }
                    Activation::Quadratic { alpha } => (
                        2.0 * u * hk.abs() * (1.0 + (alpha * hk).abs()) * (1.0 + 2.0 * u),
                        2.0 * u * 1.5 * (1.0 + (2.0 * alpha * hk).abs()) * (1.0 + 2.0 * u),
                    ),
                    _ => (
                        u * want.abs() * (1.0 + 2.0 * u) + 4e-16 * (1.0 + want.abs()),
                        // g is rounded once to f32, φ' < 2 error 1e-15 in the f64 kernel
                        u * dwant.abs() * (1.0 + 2.0 * u) + 1e-15,
                    ),
                };
                assert!(
                    (f64::from(z[k]) - want).abs() <= tol,
                    "{act} at {hk}: {} vs {want}",
                    z[k]
                );
                assert!(
                    (f64::from(g[k]) - dwant).abs() <= dtol,
                    "{act}' at {hk}: {} vs {dwant}",
                    g[k]
                );
            }
        }
    }
}
