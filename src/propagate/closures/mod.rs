//! Closures of the nonlinearity: given h ~ N(μ, Σ) (optionally with κ₃/κ₄ corrections), return
//! mᵢ = E[φ(hᵢ)] and Cᵢⱼ = E[φ(hᵢ)φ(hⱼ)] − mᵢmⱼ (DESIGN.md §3).
//!
//! One file per family: [`linear`], [`quadratic`] (exact, with κ₃/κ₄), [`relu`] and [`erf`]
//! (exact through Φ₂, [`bvn`]), [`hermite`] (Mehler series for smooth φ) and [`quadrature`]
//! (reference). [`closure_for`] picks one.

pub mod bvn;
pub mod erf;
pub mod hermite;
mod input;
pub mod linear;
pub mod quadratic;
pub mod quadrature;
pub mod relu;
pub mod rules;
mod triangle;

pub use erf::ErfClosure;
pub use hermite::HermiteClosure;
pub use linear::LinearClosure;
pub use quadratic::QuadraticClosure;
pub use quadrature::QuadratureClosure;
pub use relu::ReluClosure;

use crate::error::Result;
use crate::net::Activation;
use crate::stats::Moments;

/// How a closure is chosen for an activation (`--closure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClosureMethod {
    /// The exact closed form where one exists (linear, quadratic, relu, erf), else the Hermite
    /// series.
    Auto,
    /// The Hermite (Mehler) series for every φ.
    Hermite,
    /// The reference 2-D Gauss–Hermite quadrature for every pair (slow; for checks).
    Quadrature,
}

/// Which cumulants beyond the covariance enter the closure (`--corrections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrections {
    /// Gaussian closure: μ and Σ only.
    None,
    /// Add the κ₃\[i,i,j\] and κ₄\[i,i,j,j\] terms (exact for the quadratic activation).
    K3K4,
}

/// A closure maps the moments of the pre-activation h to the mean and covariance of φ(h).
pub trait Closure: Send + Sync {
    /// Short name for reports ("relu (Φ₂ closed form)", …).
    fn name(&self) -> String;

    /// Writes the post-activation mean and covariance into `out` (resized to the input's
    /// dimension in place, its buffers reused; its κ fields are set to `None`). Errors when `corrections` asks for
    /// something this closure cannot honour, or when `input` lacks the κ matrices it needs.
    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()>;

    /// Allocating convenience over [`Closure::apply_into`].
    fn apply(&self, input: &Moments, corrections: Corrections) -> Result<Moments> {
        let n = input.dim();
        let mut out = Moments::gaussian(faer::Col::zeros(n), faer::Mat::zeros(n, n));
        self.apply_into(input, corrections, &mut out)?;
        Ok(out)
    }
}

/// The closure for `act` under `method`:
/// - `Auto`: the exact closed form for linear, quadratic, relu and erf; the Hermite series for
///   tanh, sigmoid and gelu;
/// - `Hermite`: the series for every smooth φ ([`crate::Error::Unsupported`] for relu);
/// - `Quadrature`: the reference 2-D quadrature for every φ.
pub fn closure_for(act: Activation, method: ClosureMethod) -> Result<Box<dyn Closure>> {
    Ok(match (method, act) {
        (ClosureMethod::Quadrature, act) => Box::new(QuadratureClosure::new(act)),
        (ClosureMethod::Hermite, act) => Box::new(HermiteClosure::new(act)?),
        (ClosureMethod::Auto, Activation::Linear) => Box::new(LinearClosure),
        (ClosureMethod::Auto, Activation::Quadratic { alpha }) => {
            Box::new(QuadraticClosure::new(alpha))
        }
        (ClosureMethod::Auto, Activation::Relu) => Box::new(ReluClosure),
        (ClosureMethod::Auto, Activation::Erf) => Box::new(ErfClosure),
        (ClosureMethod::Auto, act) => Box::new(HermiteClosure::new(act)?),
    })
}
