//! Scalar special functions: the standard normal φ and Φ ([`normal`]) and the bivariate normal
//! cdf Φ₂ ([`bvn`]). Imports nothing of the crate but [`crate::error`].

pub mod bvn;
pub mod normal;

pub use bvn::{bvn_cdf, bvn_cov, bvn_cov_complement};
pub use normal::{normal_cdf, normal_pdf};
