//! Closures of the nonlinearity: given h ~ N(μ, Σ) (optionally with κ₃/κ₄ corrections), return
//! mᵢ = E[φ(hᵢ)] and Cᵢⱼ = E[φ(hᵢ)φ(hⱼ)] − mᵢmⱼ (DESIGN.md §3).
//!
//! One file per family: [`linear`], [`quadratic`] (exact, with κ₃/κ₄), [`relu`] and [`erf`]
//! (exact through Φ₂, [`bvn`]), [`leaky_relu`] (from relu's), [`hermite`] (Mehler series for smooth φ) and [`quadrature`]
//! (reference). [`crate::propagate::pair::ClosurePair`] picks one, with its VJP.

pub mod bvn;
pub mod erf;
mod gauss_hermite;
pub mod hermite;
mod hermite_coef;
mod input;
pub mod leaky_relu;
pub mod linear;
pub mod quadratic;
pub mod quadrature;
pub mod relu;
pub mod rules;

pub use erf::ErfClosure;
pub use hermite::HermiteClosure;
pub use leaky_relu::LeakyReluClosure;
pub use linear::LinearClosure;
pub use quadratic::QuadraticClosure;
pub use quadrature::QuadratureClosure;
pub use relu::ReluClosure;

use crate::error::Result;
use crate::stats::Moments;

/// How a closure is chosen for an activation (`--closure`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ClosureMethod {
    /// The exact closed form where one exists (linear, quadratic, relu, leaky relu, erf), else
    /// the Hermite series.
    #[value(
        help = "Exact closed forms (linear, quadratic, relu, leaky relu, erf), Hermite series for tanh/sigmoid/gelu/silu/softplus"
    )]
    Auto,
    /// The Hermite (Mehler) series for every φ.
    #[value(help = "Hermite (Mehler) series for every activation")]
    Hermite,
    /// The reference 2-D Gauss–Hermite quadrature for every pair (slow; for checks).
    #[value(help = "Reference 2-D Gauss–Hermite quadrature for every pair (slow)")]
    Quadrature,
}

/// Which cumulants beyond the covariance enter the closure (`--corrections`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Corrections {
    /// Gaussian closure: μ and Σ only.
    #[value(help = "Gaussian closure: mean and covariance only")]
    None,
    /// Add the κ₃\[i,i,j\] and κ₄\[i,i,j,j\] terms (exact for the quadratic activation).
    #[value(
        name = "k3k4",
        help = "Add the measured κ₃[i,i,j], κ₄[i,i,j,j] of the first pre-activation (quadratic only)"
    )]
    K3K4,
}

impl Corrections {
    /// `none` or `k3k4`, as `--corrections` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Corrections::None => "none",
            Corrections::K3K4 => "k3k4",
        }
    }
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
