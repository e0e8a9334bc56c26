//! Statistics of data: moments measured from samples, Gaussian utilities.

mod batch;
pub mod gaussian;
mod gram;
pub mod moments;
pub mod narrow;
mod slice_view;

pub(crate) use batch::Runs;
pub use moments::{EmpiricalMoments, MomentAccumulator};
pub use narrow::{below_f32_range, NarrowMoments, F32_ROUNDOFF};
pub use slice_view::SliceUnitView;

use faer::{Col, Mat};

/// A measured class (or unit: [`below_f32_range`]) whose spread √tr Σ is at most this many ε (f64's) of its mean's norm ‖μ‖
/// holds no measured spread: each sample's value is only resolved to about ε‖μ‖, so Σ is the
/// rounding of the samples around their mean (data of 10⁻²⁰ through biases of 0.1: adv28), and
/// relative errors and the KL against it are meaningless. 16 ε leaves room for the rounding of
/// the affine map's sums; no output of `scripts/check-identical.sh` (XOR, MNIST, the
/// higher-order task, sweeps) changed when the rule came in (twenty-eighth session).
pub const ROUNDING_SPREAD_ULPS: f64 = 16.0;

/// Magnitude at or below which an O(1) quantity computed in f64 — a KL divergence, a relative
/// error, a difference of accuracies — is rounding, not a value: such quantities are differences
/// of sums whose cancellation leaves at most a few hundred ulps (ε ≈ 2.2·10⁻¹⁶) of their terms.
/// The text output prints a rounding-level negative of a non-negative quantity as 0
/// (`report::number`), the error budget reports no share of a total at this level
/// (`analysis::budget`), and a propagated output covariance Σ counts as not positive
/// semidefinite only with an eigenvalue below −`ROUNDING_LEVEL`·tr Σ ([`indefinite_beyond_rounding`]).
pub const ROUNDING_LEVEL: f64 = 1e-10;

/// The lowest eigenvalue and the trace of the covariance `cov` (`what`, named in an error) when
/// that eigenvalue is below −[`ROUNDING_LEVEL`]·|tr Σ|: no Gaussian has such a covariance. None
/// when Σ is positive semidefinite to rounding. The one rule of `analysis::start_layers`' report
/// and of the engine's fallback for carried outputs (`propagate::Propagator::run_carried_or_cut`).
pub fn indefinite_beyond_rounding(
    cov: faer::MatRef<'_, f64>,
    what: &str,
) -> crate::error::Result<Option<(f64, f64)>> {
    let trace: f64 = (0..cov.nrows()).map(|i| cov[(i, i)]).sum();
    let lowest = cov
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| crate::error::Error::Numeric(format!("{what}: {e:?}")))?
        .first()
        .copied()
        .unwrap_or(0.0);
    Ok((lowest < -ROUNDING_LEVEL * trace.abs()).then_some((lowest, trace)))
}

/// The lowest eigenvalue λ of an indefinite covariance Σ in words, for a warning: with its
/// share of tr Σ where tr Σ > 0 ("lowest eigenvalue -3.500e-4, 0.24 % of its trace"); where
/// tr Σ ≤ 0 the negative eigenvalues outweigh the positive ones and a share of the trace would
/// say nothing true, so the trace is given itself ("…; its trace, -2.639e-2, is negative too").
pub fn lowest_eigenvalue_words(lowest: f64, trace: f64) -> String {
    if trace > 0.0 {
        format!(
            "lowest eigenvalue {lowest:.3e}, {:.2} % of its trace",
            100.0 * lowest.abs() / trace
        )
    } else {
        format!("lowest eigenvalue {lowest:.3e}; its trace, {trace:.3e}, is negative too")
    }
}

/// The three κ slices of [`Moments`] (κ₃\[i,i,j\], κ₄\[i,i,j,j\], κ₄\[i,i,i,j\]), as
/// [`Moments::set_slices`] and [`Moments::with_slices`] take them with their unit.
pub type SliceSet = (Option<Mat<f64>>, Option<Mat<f64>>, Option<Mat<f64>>);

/// The κ slices of [`Moments`] in natural units, to write in place
/// ([`Moments::natural_slices_mut`]).
pub struct SlicesMut<'a> {
    pub k3_iij: &'a mut Option<Mat<f64>>,
    pub k4_iijj: &'a mut Option<Mat<f64>>,
    pub k4_iiij: &'a mut Option<Mat<f64>>,
}

/// The cumulants corrflow tracks for one class at one layer.
///
/// `mean` μ and covariance Σ always; the two N×N slices of the third and fourth cumulant that
/// the quadratic closure needs (DESIGN.md §1) when they were measured:
/// κ₃\[i,i,j\] = E\[δᵢ²δⱼ\] and κ₄\[i,i,j,j\] = E\[δᵢ²δⱼ²\] − ΣᵢᵢΣⱼⱼ − 2Σᵢⱼ², with δ = x − μ;
/// and the third N×N slice the 4th-order Edgeworth corrections of the other closures need,
/// κ₄\[i,i,i,j\] = E\[δᵢ³δⱼ\] − 3ΣᵢᵢΣᵢⱼ.
#[derive(Clone, Debug)]
pub struct Moments {
    pub mean: Col<f64>,
    pub cov: Mat<f64>,
    /// `k3_iij[(i, j)]` = κ₃\[i,i,j\]. The three slices are private, as their unit is: read
    /// through [`Moments::k3_iij`], [`Moments::k4_iijj`], [`Moments::k4_iiij`]; written only
    /// with their unit ([`Moments::with_slices`], [`Moments::set_slices`],
    /// [`Moments::clear_slices`]) or in natural units ([`Moments::natural_slices_mut`]).
    k3_iij: Option<Mat<f64>>,
    /// `k4_iijj[(i, j)]` = κ₄\[i,i,j,j\] (symmetric).
    k4_iijj: Option<Mat<f64>>,
    /// `k4_iiij[(i, j)]` = κ₄\[i,i,i,j\] (not symmetric: κ₄\[i,j,j,j\] is its (j, i) entry;
    /// the diagonal equals that of `k4_iijj`).
    k4_iiij: Option<Mat<f64>>,
    /// The length ℓ (a power of two) the three slices are stored in: they hold κ₃/ℓ³ and
    /// κ₄/ℓ⁴. 1 (natural units) unless the measurement chose another
    /// ([`MomentAccumulator`], cumulant training's slices): the κ's of data ×10⁻¹⁵⁰
    /// (κ₄ ~ 10⁻⁶⁰⁰) lie below f64's range in natural units, and in units of a length near the
    /// data's spread they are O(1) (scale68). Private: it changes only with the slices
    /// ([`Moments::with_slices`], [`Moments::set_slices`], [`Moments::clear_slices`], the
    /// conversions below; [`Moments::natural_slices_mut`] converts before it lends the slices),
    /// so no writer of slices can leave another unit behind them.
    slice_unit: f64,
}

impl Moments {
    /// A Gaussian description: mean and covariance only.
    pub fn gaussian(mean: Col<f64>, cov: Mat<f64>) -> Self {
        Moments {
            mean,
            cov,
            k3_iij: None,
            k4_iijj: None,
            k4_iiij: None,
            slice_unit: 1.0,
        }
    }

    /// Moments with the κ slices `k3_iij`, `k4_iijj`, `k4_iiij` (the accessors' layouts) stored in
    /// the unit ℓ = `unit` (1: natural units; else a power of two, as the measurement chooses
    /// it).
    pub fn with_slices(
        mean: Col<f64>,
        cov: Mat<f64>,
        (k3_iij, k4_iijj, k4_iiij): SliceSet,
        unit: f64,
    ) -> Self {
        Moments {
            mean,
            cov,
            k3_iij,
            k4_iijj,
            k4_iiij,
            slice_unit: unit,
        }
    }

    /// The length ℓ the slices are stored in (the field's docs): 1 for natural units.
    pub fn slice_unit(&self) -> f64 {
        self.slice_unit
    }

    /// κ₃\[i,i,j\]/ℓ³ at (i, j), ℓ = [`Moments::slice_unit`]; None where not measured.
    pub fn k3_iij(&self) -> Option<&Mat<f64>> {
        self.k3_iij.as_ref()
    }

    /// κ₄\[i,i,j,j\]/ℓ⁴ at (i, j) (symmetric); None where not measured.
    pub fn k4_iijj(&self) -> Option<&Mat<f64>> {
        self.k4_iijj.as_ref()
    }

    /// κ₄\[i,i,i,j\]/ℓ⁴ at (i, j) (not symmetric: κ₄\[i,j,j,j\]/ℓ⁴ is its (j, i) entry; the
    /// diagonal equals that of [`Moments::k4_iijj`]); None where not measured.
    pub fn k4_iiij(&self) -> Option<&Mat<f64>> {
        self.k4_iiij.as_ref()
    }

    /// The three slices to write in natural units, in place (the carry's writers, which set one
    /// or two of them and keep the rest): the slices are first converted to natural units
    /// ([`Moments::slices_to_natural_units`], nothing at ℓ = 1), so what is written there and
    /// what is kept share the unit 1.
    pub fn natural_slices_mut(&mut self) -> SlicesMut<'_> {
        self.slices_to_natural_units();
        SlicesMut {
            k3_iij: &mut self.k3_iij,
            k4_iijj: &mut self.k4_iijj,
            k4_iiij: &mut self.k4_iiij,
        }
    }

    /// The three slices in natural units ([`Moments::slices_to_natural_units`]), the moments
    /// given up.
    pub fn into_natural_slices(mut self) -> SliceSet {
        self.slices_to_natural_units();
        (self.k3_iij, self.k4_iijj, self.k4_iiij)
    }

    /// Sets the three κ slices (None: not measured) together with the unit ℓ they are in.
    pub fn set_slices(&mut self, (k3_iij, k4_iijj, k4_iiij): SliceSet, unit: f64) {
        self.k3_iij = k3_iij;
        self.k4_iijj = k4_iijj;
        self.k4_iiij = k4_iiij;
        self.slice_unit = unit;
    }

    /// Drops the κ slices (a Gaussian description), their unit back to 1.
    pub fn clear_slices(&mut self) {
        self.set_slices((None, None, None), 1.0);
    }

    /// The slices in natural units (κ₃ = ℓ³·stored, κ₄ = ℓ⁴·stored; exact for ℓ a power of two
    /// wherever the product is representable, 0 where it underflows), `slice_unit` 1. A no-op at
    /// ℓ = 1. For the readers that work in natural units: every closure that is not positively
    /// homogeneous (their κ corrections, relative to the Gaussian terms, scale with the spread,
    /// so those lost to underflow are below rounding), the carry, the quadratic transfer terms.
    pub fn slices_to_natural_units(&mut self) {
        let l = std::mem::replace(&mut self.slice_unit, 1.0);
        if l == 1.0 {
            return;
        }
        let (l3, l4) = (l * l * l, (l * l) * (l * l));
        for (m, f) in [
            (&mut self.k3_iij, l3),
            (&mut self.k4_iijj, l4),
            (&mut self.k4_iiij, l4),
        ] {
            if let Some(m) = m {
                *m = &*m * faer::Scale(f);
            }
        }
    }

    /// Dimension N of the described variable.
    pub fn dim(&self) -> usize {
        self.mean.nrows()
    }

    /// The first entry of the mean or covariance that is not finite, in words ("mean\[3\] = NaN",
    /// "covariance (2, 5) = inf"); `None` where all are. A scan on SIMD lanes first
    /// ([`crate::simd::all_finite`]); the entry is located only on failure.
    pub fn first_non_finite(&self) -> Option<String> {
        let cov = &self.cov;
        let cov_ok = (0..cov.ncols()).all(|j| crate::simd::all_finite(cov.col_as_slice(j)));
        if cov_ok && self.mean.iter().all(|v| v.is_finite()) {
            return None;
        }
        self.mean.iter().position(|v| !v.is_finite()).map_or_else(
            || {
                (0..cov.ncols()).find_map(|j| {
                    let col = cov.col(j);
                    let i = col.iter().position(|v| !v.is_finite())?;
                    Some(format!("covariance ({i}, {j}) = {}", col[i]))
                })
            },
            |i| Some(format!("mean[{i}] = {}", self.mean[i])),
        )
    }
}
