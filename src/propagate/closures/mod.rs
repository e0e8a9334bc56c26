//! Closures of the nonlinearity: given h ~ N(μ, Σ) (optionally with κ₃/κ₄ corrections), return
//! mᵢ = E[φ(hᵢ)] and Cᵢⱼ = E[φ(hᵢ)φ(hⱼ)] − mᵢmⱼ (DESIGN.md §3).
//!
//! One file per family: [`linear`], [`quadratic`] (exact, with κ₃/κ₄), [`relu`] and [`erf`]
//! (exact through Φ₂, [`bvn`]), [`leaky_relu`] (from relu's), [`hermite`] (Mehler series for smooth φ) and [`quadrature`]
//! (reference). [`crate::propagate::pair::ClosurePair`] picks one, with its VJP. The κ₃/κ₄
//! corrections of the non-quadratic closures are the Gram–Charlier expansion of [`edgeworth`],
//! with Gaussian derivative expectations from `relu_terms`, `erf_terms` (on [`phi2_partials`]),
//! `series_terms` and `quadrature_terms`; their reverse pass needs those expectations to total
//! order 6 ([`high_terms`]: erf's in [`erf_high`], on [`phi2_high`]). GELU's Gaussian moments
//! have a closed form too (`gelu_exact`), which the series closure takes for its strongest pairs.

pub mod bvn;
mod bvn_cov_lanes;
mod closed_pairs;
#[cfg(test)]
pub(crate) mod coef_reference;
mod coef_table;
mod cone;
mod derivatives;
pub mod edgeworth;
pub mod erf;
pub mod erf_high;
pub(crate) mod erf_terms;
mod fourier_coef;
mod gauss_hermite;
mod gelu_coef;
mod gelu_exact;
pub mod hermite;
mod hermite_coef;
mod hermite_rem;
pub mod high_terms;
mod input;
pub mod leaky_relu;
pub(crate) mod leaky_relu_high;
pub mod linear;
mod logistic_mixture;
mod mixing_rule;
pub mod phi2_high;
pub mod phi2_partials;
pub(crate) mod phi_lanes;
pub mod quadratic;
pub mod quadrature;
mod quadrature_terms;
mod regime_terms;
pub mod relu;
pub(crate) mod relu_high;
mod relu_tail;
pub(crate) mod relu_terms;
pub mod rules;
mod series_lanes;
mod series_terms;
mod split_lattice;
mod split_outer;
mod split_pair;
mod split_taylor;
mod wide_moments;

pub use cone::FLOOR_SHARE as CONE_FLOOR_SHARE;
pub use edgeworth::Fallbacks;
pub use erf::ErfClosure;
pub use hermite::HermiteClosure;
pub(crate) use hermite_coef::decays;
pub use leaky_relu::LeakyReluClosure;
pub use linear::LinearClosure;
pub use quadratic::QuadraticClosure;
pub use quadrature::QuadratureClosure;
pub use relu::ReluClosure;

use crate::error::Result;
use crate::stats::{Moments, SliceUnitView};

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

/// Which cumulants beyond the covariance enter the closure (`--order 2|3|4`): the order of the
/// Gram–Charlier expansion of each pair's density ([`edgeworth`]; exact for the quadratic
/// activation, which needs only κ₃\[i,i,j\] and κ₄\[i,i,j,j\]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Corrections {
    /// Order 2, the Gaussian closure: μ and Σ only.
    None,
    /// Order 3: add the κ₃ terms.
    K3,
    /// Order 4: add the κ₃ and κ₄ terms.
    K3K4,
}

impl Corrections {
    /// The corrections of expansion order 2, 3 or 4; `None` for any other order.
    pub fn from_order(order: u8) -> Option<Self> {
        match order {
            2 => Some(Corrections::None),
            3 => Some(Corrections::K3),
            4 => Some(Corrections::K3K4),
            _ => None,
        }
    }

    /// 2, 3 or 4, as `--order` spells it.
    pub fn order(self) -> u8 {
        match self {
            Corrections::None => 2,
            Corrections::K3 => 3,
            Corrections::K3K4 => 4,
        }
    }

    /// `gaussian`, `k3` or `k3k4`: the cumulants beyond the covariance that enter.
    pub fn name(self) -> &'static str {
        match self {
            Corrections::None => "gaussian",
            Corrections::K3 => "k3",
            Corrections::K3K4 => "k3k4",
        }
    }
}

/// A closure's work counted before it is done ([`Closure::foreseen_work`]).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Work {
    /// Evaluations of φ.
    pub evaluations: f64,
    /// CPU seconds they take at the measured cost of one evaluation.
    pub cpu_seconds: f64,
    /// Whether more work comes on top (the κ₃/κ₄ corrections' terms, not counted).
    pub at_least: bool,
}

impl Work {
    /// This work with more on top ([`Work::at_least`]) where `more`.
    pub fn with_more(self, more: bool) -> Work {
        Work {
            at_least: self.at_least || more,
            ..self
        }
    }
}

impl std::ops::Add for Work {
    type Output = Work;
    fn add(self, other: Work) -> Work {
        Work {
            evaluations: self.evaluations + other.evaluations,
            cpu_seconds: self.cpu_seconds + other.cpu_seconds,
            at_least: self.at_least || other.at_least,
        }
    }
}

impl std::iter::Sum for Work {
    fn sum<I: Iterator<Item = Work>>(iter: I) -> Work {
        iter.fold(Work::default(), |a, b| a + b)
    }
}

/// A closure maps the moments of the pre-activation h to the mean and covariance of φ(h).
pub trait Closure: Send + Sync {
    /// Short name for reports ("relu (Φ₂ closed form)", …).
    fn name(&self) -> String;

    /// Writes the post-activation mean and covariance into `out` (resized to the input's
    /// dimension in place, its buffers reused; its κ fields are set to `None`) and returns how
    /// many units and pairs its corrections left Gaussian ([`Fallbacks`]; closures without a
    /// breakdown test report none). Errors when `corrections` asks for something this closure
    /// cannot honour, or when `input` lacks the κ matrices it needs.
    fn apply_counted(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks>;

    /// The work of the Gaussian closure of `input` counted before it is done, by closures
    /// whose cost a count foresees (the quadrature reference, [`QuadratureClosure`]: its
    /// evaluations of φ per pair grow with the scales and the correlations); None for the
    /// others, whose layers the engine's clock times after the fact. With corrections, a lower
    /// bound (their terms come on top).
    fn foreseen_work(&self, _input: &Moments) -> Option<Work> {
        None
    }

    /// [`Closure::apply_counted`] without the fallback counts.
    fn apply_into(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<()> {
        self.apply_counted(input, corrections, out).map(drop)
    }

    /// Whether φ is positively homogeneous, φ(ch) = cφ(h) for c > 0 (relu, the leaky relu,
    /// the identity): then the closure of moments in any unit is the closure in natural units
    /// rescaled ([`Closure::apply_counted_in_slice_units`]).
    fn positively_homogeneous(&self) -> bool {
        false
    }

    /// [`Closure::apply_counted`] of an input whose κ slices may be stored in a unit ℓ ≠ 1
    /// (`Moments::slice_unit`, data of extreme scale), through the input's
    /// [`SliceUnitView`]: a positively homogeneous closure runs on the input in units of ℓ
    /// (μ/ℓ, Σ/ℓ², the slices as stored), and its result is scaled back (m·ℓ, C·ℓ²), exactly for
    /// ℓ a power of two, so the corrections of data ×10⁻¹⁵⁰ are those of the data ×1; any other
    /// closure takes the slices in natural units. At ℓ = 1 (every input of ordinary scale) this
    /// is [`Closure::apply_counted`] itself.
    fn apply_counted_in_slice_units(
        &self,
        input: &Moments,
        corrections: Corrections,
        out: &mut Moments,
    ) -> Result<Fallbacks> {
        let view = SliceUnitView::new(input, self.positively_homogeneous());
        let fallbacks = self.apply_counted(view.moments(), corrections, out)?;
        view.scale_back(&mut out.mean, &mut out.cov);
        Ok(fallbacks)
    }

    /// Allocating convenience over [`Closure::apply_into`].
    fn apply(&self, input: &Moments, corrections: Corrections) -> Result<Moments> {
        let n = input.dim();
        let mut out = Moments::gaussian(faer::Col::zeros(n), faer::Mat::zeros(n, n));
        self.apply_into(input, corrections, &mut out)?;
        Ok(out)
    }
}
