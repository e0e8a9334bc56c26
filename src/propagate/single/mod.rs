//! Propagation with the covariances in f32 (`--precision f32`): the affine update as an f32
//! GEMM and the closures of relu, leaky relu, linear and quadratic on f32 lanes, at twice the
//! SIMD lanes and half the bytes of every Σ the kernels stream.
//!
//! What stays f64, and why:
//! - the means (O(N) per class: μ' = Wμ + b with the f64 W) and the per-unit quantities of the
//!   closures (sᵢ, Φ(aᵢ), the relu variance with its Price-integral tail);
//! - the relu pairs with |ρ| ≥ 0.925 (the f64 scalar closed form, as in the f64 closure; on a
//!   trained 784-1000-1000-10 MNIST network's measured pre-activations 2–3 pairs in a
//!   million, BENCHMARKS.md "Performance II: f32 at 1.7x and half the memory");
//! - the closures of erf, tanh, sigmoid, gelu, silu, softplus and every `--closure hermite` /
//!   `quadrature` run: the f64 closure reads one class's Σ widened, and its output is rounded
//!   back to f32;
//! - κ₃/κ₄ corrections (`--corrections k3k4`): the whole run is f64;
//! - the output y (C·K² entries), and every reader of a stage: the statistics comparison, KL,
//!   Cholesky/eigen decompositions and the Monte Carlo accuracy widen one class's Σ at a time
//!   ([`super::stage::Predicted::cov`]): near-singular Σ and the KL divergence need f64's range
//!   of eigenvalues, which f32's 2⁻²³ rounding of the entries would swamp.
//!
//! Memory: every hidden stage's Σ is held in f32 only ([`super::stage::Predicted::is_f32`]),
//! half the f64 path's bytes; the other buffers are the stacked update of all classes
//! ((N_in + N_out)·C·N_in f32, also half the f64 path's), W rounded to f32, each class's mean
//! of the current layer and, for closures
//! without f32 lanes, one class's h and z in f64. Nothing is converted between the layers: each layer's GEMM reads the previous
//! stage's f32 Σ, the update writes into the stage's f32 storage and the closure reads it there.
//! Streamed (`Propagator::run_streamed`, `propagate --precision f32`): the start is read from
//! f32-held statistics and released after the first layer, each stage is handed to its reader
//! as soon as the loop is done with it and released, and the stacked input and product are
//! released once read, so the engine holds at most two layers' stages (BENCHMARKS.md
//! "Performance II: f32, fifth session").
//!
//! Error against f64 (BENCHMARKS.md "f32 propagation"): each Σ entry carries the rounding of an
//! N-term f32 dot product, |δΣ| ≲ N·2⁻²⁴·‖W‖² max|Σ| per layer in the worst case and ~√N·2⁻²⁴
//! typically; the relu lanes add ≤ 8·2⁻²⁴·sᵢsⱼ (`relu`'s test).

mod closure;
mod engine;
mod math;
mod relu;
mod start;
mod units;
mod weights;

pub use closure::has_f32_lanes;
pub use engine::{Finished, SinglePropagator};
pub use start::Start;
