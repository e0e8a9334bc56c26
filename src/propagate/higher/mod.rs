//! Higher cumulants carried through depth (issue #16 item 2): the full κ₃ and κ₄ tensors of
//! each class are mapped exactly by every affine layer and through each nonlinearity by the
//! Hermite-chaos rule, so that the closures beyond the first layer see κ slices and the
//! mean and covariance get their non-Gaussian corrections at every layer.
//!
//! - [`tensor`]: dense symmetric κ₃ (N³) / κ₄ (N⁴) storage and the memory limit;
//! - [`affine`]: the exact affine map of the tensors (mode products as GEMMs);
//! - `affine4`: its κ₄ map on the input's sorted columns;
//! - [`chaos`]: per-unit Hermite-chaos coefficients of the powers of φ;
//! - `chaos_sums`: their quadrature node sums on SIMD lanes;
//! - `chaos_taylor`: those coefficients of a near-deterministic unit from φ's Taylor series;
//! - `taylor_series`: an activation's Taylor coefficients around a point;
//! - [`diagrams`]: the Wick diagrams of moments and cumulants of Wick powers;
//! - [`closure`]: the closure's output κ₃/κ₄ and its Δm, ΔC;
//! - [`distinct4`]: a diagnostic dense order 4 keeping some diagrams of z's κ₄ over four
//!   distinct units, carried one map (what the factored order 4 misses);
//! - [`factored`]: κ₃ as a symmetrised sum of rank-one terms (order 3's middle layers);
//! - [`compressed`]: that form with its smallest terms dropped under a relative tolerance;
//! - [`paired`]: the paired κ₄ (κ₄\[a,a,b,b\]) order 3 carries beside κ₃, and its affine map;
//! - [`paired_leading`]: that map to leading order in the width (the factorable rule's);
//! - [`pilot`]: the Monte Carlo pilot check that abandons a carried run worse than the Gaussian;
//! - [`quartic_star`]: the factored order 4's image of z's κ₄ over four distinct units (its
//!   star) in the next h's paired κ₄ and κ₄\[a,a,a,b\];
//! - [`slices`]: the N×N slices a closure reads;
//! - [`star4`]: the factored order 3's image of z's κ₄\[a,a,b,c\] in the next h's paired κ₄;
//! - [`triple4`]: order 3's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] beside the paired κ₄, and their map;
//! - [`triple4_factored`]: κ₄\[a,a,b,c\] as symmetrised rank-R blocks (the factored path's);
//! - `blocks_wide`: those blocks side by side, for their map in a few wide GEMMs;
//! - [`unpaired_factored`]: the factored path's κ₄\[a,a,a,b\] and the view its rule reads;
//! - [`sliced`]: the last hidden layer's h held as those slices only, mapped directly;
//! - [`carry`]: the per-run state the engine's hook updates;
//! - [`hook`]: the hook's trait;
//! - [`sampled`]: the tensors measured from samples;
//! - [`subset`]: the wide-layer approximation, κ carried on a leading subset of units.

pub mod affine;
mod affine4;
mod batched;
mod blocks_truncated;
mod blocks_wide;
pub mod carry;
pub mod chaos;
mod chaos_kink;
mod chaos_range;
#[cfg(test)]
mod chaos_reference;
mod chaos_sums;
mod chaos_taylor;
#[cfg(test)]
mod chaos_whole_range;
pub mod closure;
pub mod compressed;
pub mod diagrams;
pub mod distinct4;
pub mod factored;
mod fill;
pub mod hook;
mod judged;
pub mod kappa3_blocks;
pub mod output_guard;
pub mod paired;
pub mod paired_leading;
pub mod pilot;
pub mod quartic_star;
pub mod sampled;
pub mod sliced;
pub mod slices;
pub mod star4;
pub mod subset;
mod taylor_series;
pub mod tensor;
pub mod triple4;
pub mod triple4_factored;
pub mod unpaired_factored;

pub use carry::{Carry, Fallback, Tensors};
