//! Element types on pulp lanes: the few pulp operations an elementwise kernel needs, named once
//! for f64 (`S::f64s`) and f32 (`S::f32s`), so that one kernel written against [`Lanes`] serves
//! both types and compiles to the same instructions as a kernel written for one.

use pulp::Simd;

/// A float type whose values pulp packs into SIMD registers `V<S>`.
pub trait Lanes: Copy + Send + Sync + 'static {
    /// The register of this type under the instruction set `S`.
    type V<S: Simd>: Copy;
    /// `x` as whole registers and the scalar tail.
    fn split<S: Simd>(x: &[Self]) -> (&[Self::V<S>], &[Self]);
    /// `x` as whole registers and the scalar tail, mutably.
    fn split_mut<S: Simd>(x: &mut [Self]) -> (&mut [Self::V<S>], &mut [Self]);
    /// Every lane set to `x` rounded to this type.
    fn splat<S: Simd>(simd: S, x: f64) -> Self::V<S>;
    /// a + b.
    fn add<S: Simd>(simd: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a · b.
    fn mul<S: Simd>(simd: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a · b + c, fused.
    fn mul_add<S: Simd>(simd: S, a: Self::V<S>, b: Self::V<S>, c: Self::V<S>) -> Self::V<S>;
    /// max(a, b).
    fn max<S: Simd>(simd: S, a: Self::V<S>, b: Self::V<S>) -> Self::V<S>;
    /// a where h > 0, else b.
    fn select_positive<S: Simd>(simd: S, h: Self::V<S>, a: Self::V<S>, b: Self::V<S>)
        -> Self::V<S>;
}

impl Lanes for f64 {
    type V<S: Simd> = S::f64s;
    #[inline(always)]
    fn split<S: Simd>(x: &[f64]) -> (&[S::f64s], &[f64]) {
        S::as_simd_f64s(x)
    }
    #[inline(always)]
    fn split_mut<S: Simd>(x: &mut [f64]) -> (&mut [S::f64s], &mut [f64]) {
        S::as_mut_simd_f64s(x)
    }
    #[inline(always)]
    fn splat<S: Simd>(simd: S, x: f64) -> S::f64s {
        simd.splat_f64s(x)
    }
    #[inline(always)]
    fn add<S: Simd>(simd: S, a: S::f64s, b: S::f64s) -> S::f64s {
        simd.add_f64s(a, b)
    }
    #[inline(always)]
    fn mul<S: Simd>(simd: S, a: S::f64s, b: S::f64s) -> S::f64s {
        simd.mul_f64s(a, b)
    }
    #[inline(always)]
    fn mul_add<S: Simd>(simd: S, a: S::f64s, b: S::f64s, c: S::f64s) -> S::f64s {
        simd.mul_add_f64s(a, b, c)
    }
    #[inline(always)]
    fn max<S: Simd>(simd: S, a: S::f64s, b: S::f64s) -> S::f64s {
        simd.max_f64s(a, b)
    }
    #[inline(always)]
    fn select_positive<S: Simd>(simd: S, h: S::f64s, a: S::f64s, b: S::f64s) -> S::f64s {
        simd.select_f64s(simd.greater_than_f64s(h, simd.splat_f64s(0.0)), a, b)
    }
}

impl Lanes for f32 {
    type V<S: Simd> = S::f32s;
    #[inline(always)]
    fn split<S: Simd>(x: &[f32]) -> (&[S::f32s], &[f32]) {
        S::as_simd_f32s(x)
    }
    #[inline(always)]
    fn split_mut<S: Simd>(x: &mut [f32]) -> (&mut [S::f32s], &mut [f32]) {
        S::as_mut_simd_f32s(x)
    }
    #[inline(always)]
    fn splat<S: Simd>(simd: S, x: f64) -> S::f32s {
        simd.splat_f32s(x as f32)
    }
    #[inline(always)]
    fn add<S: Simd>(simd: S, a: S::f32s, b: S::f32s) -> S::f32s {
        simd.add_f32s(a, b)
    }
    #[inline(always)]
    fn mul<S: Simd>(simd: S, a: S::f32s, b: S::f32s) -> S::f32s {
        simd.mul_f32s(a, b)
    }
    #[inline(always)]
    fn mul_add<S: Simd>(simd: S, a: S::f32s, b: S::f32s, c: S::f32s) -> S::f32s {
        simd.mul_add_f32s(a, b, c)
    }
    #[inline(always)]
    fn max<S: Simd>(simd: S, a: S::f32s, b: S::f32s) -> S::f32s {
        simd.max_f32s(a, b)
    }
    #[inline(always)]
    fn select_positive<S: Simd>(simd: S, h: S::f32s, a: S::f32s, b: S::f32s) -> S::f32s {
        simd.select_f32s(simd.greater_than_f32s(h, simd.splat_f32s(0.0)), a, b)
    }
}
