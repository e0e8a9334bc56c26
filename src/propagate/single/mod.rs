//! Propagation with the covariances in f32 (`--precision f32`): the affine update as an f32
//! GEMM and the closures of relu, leaky relu, linear and quadratic on f32 lanes, at twice the
//! SIMD lanes and half the bytes of every Σ the kernels stream.
//!
//! What stays f64, and why:
//! - the means (O(N) per class: μ' = Wμ + b with the f64 W) and the per-unit quantities of the
//!   closures (sᵢ, Φ(aᵢ), the relu variance with its Price-integral tail);
//! - the relu pairs with |ρ| ≥ 0.925 (the f64 scalar closed form, as in the f64 closure);
//! - the closures of erf, tanh, sigmoid, gelu, silu, softplus and every `--closure hermite` /
//!   `quadrature` run: the f64 closure reads the widened Σ, and its output is rounded to f32 by
//!   the next affine update;
//! - κ₃/κ₄ corrections (`--corrections k3k4`): the whole run is f64;
//! - every stage handed on (statistics comparison, KL, Cholesky/eigen decompositions, the Monte
//!   Carlo accuracy) is widened to f64: near-singular Σ and the KL divergence need f64's range of
//!   eigenvalues, which f32's 2⁻²³ rounding of the entries would swamp.
//!
//! Memory: the f32 buffers are the stacked update of all classes (2·C·N² f32: half the f64
//! path's) and one class's pre- and post-activation Σ; the stages themselves are f64, as their
//! readers need, so a command's peak memory falls by about C·N² f64 (N the widest layer), not
//! by half.
//!
//! Error against f64 (BENCHMARKS.md "f32 propagation"): each Σ entry carries the rounding of an
//! N-term f32 dot product, |δΣ| ≲ N·2⁻²⁴·‖W‖² max|Σ| per layer in the worst case and ~√N·2⁻²⁴
//! typically; the relu lanes add ≤ 8·2⁻²⁴·sᵢsⱼ (`relu`'s test).

mod closure;
mod engine;
mod math;
mod relu;
mod units;

pub use closure::has_f32_lanes;
pub use engine::SinglePropagator;
