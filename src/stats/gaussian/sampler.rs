//! Sampling from N(μ, Σ) for surrogate data (DESIGN.md §4.3), also for singular Σ.

use faer::diag::Diag;
use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::evd::{self_adjoint_evd, self_adjoint_evd_scratch, ComputeEigenvectors};
use faer::linalg::matmul::matmul;
use faer::reborrow::ReborrowMut;
use faer::{get_global_parallelism, Accum, Col, ColRef, Mat, MatMut, MatRef, Par};
use rand::{Rng, RngExt};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};

/// Draws x = μ + U √λ₊ z, z ~ N(0, I), from the eigendecomposition Σ = U diag(λ) Uᵀ with negative
/// eigenvalues (rounding noise of a singular Σ, or a slightly indefinite propagated Σ) clipped to
/// 0. The draws have covariance U diag(λ₊) Uᵀ, the nearest PSD matrix to Σ in Frobenius norm;
/// [`clipped`](Self::clipped) and [`most_negative`](Self::most_negative) say how far Σ was from it.
#[derive(Clone, Debug)]
pub struct GaussianSampler {
    mean: Col<f64>,
    /// F = U diag(√λ₊), so that F Fᵀ = U diag(λ₊) Uᵀ.
    factor: Mat<f64>,
    clipped: usize,
    most_negative: f64,
}

impl GaussianSampler {
    /// Factors `cov` (only its lower triangle is read) with faer's global parallelism. Errors
    /// on shape mismatch, non-finite entries or a failed eigendecomposition.
    pub fn new(mean: ColRef<'_, f64>, cov: MatRef<'_, f64>) -> Result<Self> {
        Self::with_parallelism(mean, cov, get_global_parallelism())
    }

    /// [`new`](Self::new) with the eigendecomposition on `par` (e.g. `Par::Seq` when the
    /// caller already runs one factorisation per thread).
    pub fn with_parallelism(mean: ColRef<'_, f64>, cov: MatRef<'_, f64>, par: Par) -> Result<Self> {
        let n = mean.nrows();
        if cov.nrows() != n || cov.ncols() != n {
            return Err(Error::Shape(format!(
                "Gaussian sampler: mean of length {n} with a {}×{} covariance",
                cov.nrows(),
                cov.ncols()
            )));
        }
        let finite = mean.iter().all(|v| v.is_finite())
            && (0..n).all(|j| cov.col(j).iter().all(|v| v.is_finite()));
        if !finite {
            return Err(Error::Numeric(
                "Gaussian sampler: mean or covariance has non-finite entries".into(),
            ));
        }
        let mut u = Mat::zeros(n, n);
        let mut s = Diag::zeros(n);
        let mut mem = MemBuffer::new(self_adjoint_evd_scratch::<f64>(
            n,
            ComputeEigenvectors::Yes,
            par,
            Default::default(),
        ));
        self_adjoint_evd(
            cov,
            s.as_mut(),
            Some(u.as_mut()),
            par,
            MemStack::new(&mut mem),
            Default::default(),
        )
        .map_err(|e| {
            Error::Numeric(format!(
                "Gaussian sampler: eigendecomposition failed: {e:?}"
            ))
        })?;
        let lambda = s.column_vector();
        let clipped = lambda.iter().filter(|&&l| l < 0.0).count();
        let most_negative = lambda.iter().copied().fold(0.0, f64::min);
        let factor = Mat::from_fn(n, n, |i, k| u[(i, k)] * lambda[k].max(0.0).sqrt());
        Ok(GaussianSampler {
            mean: mean.to_owned(),
            factor,
            clipped,
            most_negative,
        })
    }

    /// Dimension N.
    pub fn dim(&self) -> usize {
        self.mean.nrows()
    }

    /// Number of negative eigenvalues of Σ that were clipped to 0.
    pub fn clipped(&self) -> usize {
        self.clipped
    }

    /// The most negative eigenvalue of Σ (0 when none was negative).
    pub fn most_negative(&self) -> f64 {
        self.most_negative
    }

    /// n draws as the columns of an N × n matrix.
    pub fn sample<R: Rng + ?Sized>(&self, n: usize, rng: &mut R) -> Mat<f64> {
        let z = standard_normal(self.dim(), n, rng);
        let mut x = Mat::zeros(self.dim(), n);
        self.transform(z.as_ref(), x.as_mut());
        x
    }

    /// out = μ + F z, column by column (z and out are N × n).
    pub(super) fn transform(&self, z: MatRef<'_, f64>, mut out: MatMut<'_, f64>) {
        self.spread(z, out.rb_mut());
        for j in 0..out.ncols() {
            for i in 0..out.nrows() {
                out[(i, j)] += self.mean[i];
            }
        }
    }

    /// out = F z, the zero-mean part of a draw.
    pub(super) fn spread(&self, z: MatRef<'_, f64>, out: MatMut<'_, f64>) {
        matmul(
            out,
            Accum::Replace,
            self.factor.as_ref(),
            z,
            1.0,
            Par::rayon(0),
        );
    }

    /// F = U diag(√λ₊), so that a draw is μ + F z.
    pub fn factor(&self) -> MatRef<'_, f64> {
        self.factor.as_ref()
    }

    /// μ.
    pub fn mean(&self) -> ColRef<'_, f64> {
        self.mean.as_ref()
    }
}

/// An n_rows × n_cols matrix of independent N(0, 1) draws.
fn standard_normal<R: Rng + ?Sized>(n_rows: usize, n_cols: usize, rng: &mut R) -> Mat<f64> {
    let mut z = Mat::zeros(n_rows, n_cols);
    fill_standard_normal(z.as_mut(), rng);
    z
}

/// Overwrites `z` with independent N(0, 1) draws.
fn fill_standard_normal<R: Rng + ?Sized>(mut z: MatMut<'_, f64>, rng: &mut R) {
    for j in 0..z.ncols() {
        for v in z.rb_mut().col_mut(j).iter_mut() {
            *v = rng.sample(StandardNormal);
        }
    }
}
