//! The standard normal density φ and cdf Φ.

use std::f64::consts::{FRAC_1_SQRT_2, PI};

const TWO_PI: f64 = 2.0 * PI;

/// Standard normal density φ(x) = e^{−x²/2}/√(2π).
#[inline]
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / TWO_PI.sqrt()
}

/// Standard normal cdf Φ(x) = ½ erfc(−x/√2): full relative accuracy in the lower tail.
#[inline]
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}
