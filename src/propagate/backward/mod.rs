//! Reverse mode through the cumulant propagation: vector-Jacobian products (VJPs) of the affine
//! map and of every closure, for training a network on the cumulant objective (DESIGN.md §6).
//!
//! **Convention.** A scalar L depends on a layer's moments (μ, Σ). Its adjoint is
//! [`Adjoint`] { mean: ∂L/∂μ, cov: ∂L/∂Σ }, where ∂L/∂Σ treats the N² entries of Σ as
//! independent: dL = Σᵢ ḡᵢ dμᵢ + Σᵢⱼ Ḡᵢⱼ dΣᵢⱼ. Every adjoint here is symmetric, so moving the
//! tied pair Σᵢⱼ = Σⱼᵢ by dt changes L by 2Ḡᵢⱼ dt.
//!
//! **Closures** ([`ClosureVjp`]): given the adjoint (ḡ_m, Ḡ_C) of the output (m, C) of a closure,
//! return the adjoint of its input (μ, Σ). Each Cᵢⱼ depends only on (μᵢ, μⱼ, Σᵢᵢ, Σⱼⱼ, Σᵢⱼ), so
//! the VJP is a pairwise sum with the forward closure's lane structure. [`stein`] derives it for
//! any φ from Price's theorem / Stein's lemma; [`quadratic`] and [`linear`] differentiate their
//! closed forms directly. One file per family: [`linear`], [`quadratic`], [`relu`] and
//! [`leaky_relu`] (from relu's expectations), [`erf`],
//! [`hermite`] (smooth φ); [`affine`] is the exact map's VJP.

pub mod affine;
pub mod corrected;
pub mod erf;
pub mod hermite;
pub mod leaky_relu;
pub mod linear;
pub mod quadratic;
pub mod relu;
pub mod stein;

pub use affine::affine_vjp;
pub(crate) use corrected::CorrectedVjp;
pub use corrected::SliceAdjoint;
pub use erf::ErfVjp;
pub use hermite::HermiteVjp;
pub use leaky_relu::LeakyReluVjp;
pub use linear::LinearVjp;
pub use quadratic::{KappaAdjoint, QuadraticVjp};
pub use relu::ReluVjp;

use faer::{Col, Mat};

use crate::error::{Error, Result};
use crate::stats::Moments;

/// ∂L/∂μ and ∂L/∂Σ of one layer's moments (see the module docs for the convention).
#[derive(Clone, Debug, PartialEq)]
pub struct Adjoint {
    pub mean: Col<f64>,
    pub cov: Mat<f64>,
}

impl Adjoint {
    /// The zero adjoint of dimension n.
    pub fn zeros(n: usize) -> Self {
        Adjoint {
            mean: Col::zeros(n),
            cov: Mat::zeros(n, n),
        }
    }

    /// Dimension N.
    pub fn dim(&self) -> usize {
        self.mean.nrows()
    }
}

/// The reverse of a Gaussian [`crate::propagate::closures::Closure`].
pub trait ClosureVjp: Send + Sync {
    /// `input` are the moments (μ, Σ) of h that the forward closure received, `output` the
    /// (m, C) it returned, `adjoint` the adjoint (ḡ_m, Ḡ_C) of that output (Ḡ_C symmetric).
    /// Returns the adjoint (∂L/∂μ, ∂L/∂Σ) of the input (symmetric ∂L/∂Σ).
    fn vjp(&self, input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<Adjoint>;
}

/// Checks that the adjoint and the forward output fit the input's dimension.
pub(crate) fn check_dims(input: &Moments, output: &Moments, adjoint: &Adjoint) -> Result<usize> {
    let n = input.dim();
    let ok = input.cov.nrows() == n
        && input.cov.ncols() == n
        && output.dim() == n
        && adjoint.dim() == n
        && adjoint.cov.nrows() == n
        && adjoint.cov.ncols() == n;
    if ok {
        Ok(n)
    } else {
        Err(Error::Shape(format!(
            "closure VJP: input of dimension {n}, forward output {}, adjoint {}×{} / {}",
            output.dim(),
            adjoint.cov.nrows(),
            adjoint.cov.ncols(),
            adjoint.dim()
        )))
    }
}
