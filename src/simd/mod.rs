//! Vectorised elementary functions on pulp SIMD registers, shared by the forward pass and the
//! closures. Each function takes the `Simd` token handed out by `pulp::Arch::dispatch`, so the
//! same code runs as AVX-512, AVX2+FMA or scalar fallback, chosen at run time.

mod erf;
mod exp;
mod fdlibm;
mod finite;
mod hyper;
mod isa;
mod lanes;
mod logistic;
mod trig;
mod upper;

pub use erf::{erf, erfc, norm_cdf, norm_pdf};
pub use exp::{exp, exp_hi_lo, exp_slice, expm1};
pub use fdlibm::{log1p_reduced, sin_cos_quarter_turns};
pub use finite::{all_finite, all_finite_f32, all_finite_on, column_finite};
pub use hyper::{log1p_atanh_series, log1p_unit, sin_cos, sinh_cosh};
pub use isa::{dispatch, Isa, ISA_VAR};
pub use lanes::Lanes;
pub use logistic::{logistic, logistic_slope, silu, silu_slope, softplus};
pub use trig::{asin, sin_small};
pub use upper::{clear_upper, clear_upper_everywhere, upper_in_use};

/// Loads `slice` (at most `S::F64_LANES` long) into a vector, zero-filling missing lanes. A full
/// slice is a plain unaligned vector load; pulp's `partial_load_f64s` is an out-of-line masked
/// load (a function call per load), which cost ~6 % of the relu closure in its series loop.
#[inline(always)]
pub fn load<S: pulp::Simd>(simd: S, slice: &[f64]) -> S::f64s {
    if slice.len() == S::F64_LANES {
        S::as_simd_f64s(slice).0[0]
    } else {
        simd.partial_load_f64s(slice)
    }
}

/// Stores the first `slice.len()` (≤ `S::F64_LANES`) lanes of `v` into `slice`; a full slice
/// is a plain vector store (see [`load`]).
#[inline(always)]
pub fn store<S: pulp::Simd>(simd: S, slice: &mut [f64], v: S::f64s) {
    if slice.len() == S::F64_LANES {
        S::as_mut_simd_f64s(slice).0[0] = v;
    } else {
        simd.partial_store_f64s(slice, v)
    }
}
