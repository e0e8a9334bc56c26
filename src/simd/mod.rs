//! Vectorised elementary functions on pulp SIMD registers, shared by the forward pass and the
//! closures. Each function takes the `Simd` token handed out by `pulp::Arch::dispatch`, so the
//! same code runs as AVX-512, AVX2+FMA or scalar fallback, chosen at run time.

mod erf;
mod exp;
mod trig;

pub use erf::{erf, erfc, norm_cdf, norm_pdf};
pub use exp::{exp, exp_hi_lo, exp_slice};
pub use trig::{asin, sin_small};
