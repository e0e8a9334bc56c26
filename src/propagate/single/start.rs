//! The start stage of an f32 propagation as the engine reads it: per class a mean (f64) and a
//! covariance that the first affine update reads once, rounded to f32 into its stacked slot.
//! Held in f64 (the moments a caller measured or built), or already in f32 (statistics held
//! narrow, `stats::narrow`): the slot is then a copy of the f32 covariance, which is the f64
//! covariance rounded by the same rounding, so both starts give the same propagation bit for
//! bit. An owned start is released once the first layer has read it.

use faer::{Col, MatMut};

use crate::error::{Error, Result};
use crate::linalg::narrow;
use crate::stats::{below_f32_range, Moments, NarrowMoments};

/// The per-class moments an f32 propagation starts from.
#[derive(Debug)]
pub enum Start<'a> {
    /// Means and covariances in f64, lent.
    Wide(&'a [Moments]),
    /// Means in f64, covariances held in f32, owned (released by [`Start::release`]).
    Narrow(NarrowMoments),
}

impl Start<'_> {
    /// Number of classes.
    pub fn classes(&self) -> usize {
        match self {
            Start::Wide(m) => m.len(),
            Start::Narrow(m) => m.len(),
        }
    }

    /// Class `c`'s mean.
    pub fn mean(&self, c: usize) -> &Col<f64> {
        match self {
            Start::Wide(m) => &m[c].mean,
            Start::Narrow(m) => m.mean(c),
        }
    }

    /// Class `c`'s variance of unit `j`, in f64 (read from the f32 copy when held narrow).
    pub fn variance(&self, c: usize, j: usize) -> f64 {
        match self {
            Start::Wide(m) => m[c].cov[(j, j)],
            Start::Narrow(m) => f64::from(m.cov_f32(c)[(j, j)]),
        }
    }

    /// Class `c`'s covariance in f32 into `slot` (of its shape): rounded, or copied.
    pub fn fill(&self, c: usize, mut slot: MatMut<'_, f32>) {
        match self {
            Start::Wide(m) => narrow(&m[c].cov, slot),
            Start::Narrow(m) => slot.copy_from(m.cov_f32(c)),
        }
    }

    /// Refuses a start held in f64 (`stage`, from which the propagation runs) whose class has a
    /// variance positive but below f32's normal range (1.2e-38): rounded into the f32 slot it
    /// loses its digits or turns 0, and the prediction's relative errors and KLs against the
    /// measured f64 statistics would be those of a zero covariance (adv28: `analyze --precision
    /// f32` of data of 10⁻²⁵ printed a KL of 3·10⁸ with exit 0; `propagate` refuses the same at
    /// measurement). A start already held in f32 was checked when it was narrowed.
    pub fn check_f32_range(&self, stage: impl std::fmt::Display) -> Result<()> {
        let Start::Wide(m) = self else {
            return Ok(());
        };
        for (c, class) in m.iter().enumerate() {
            if let Some((a, v)) = below_f32_range(class) {
                return Err(Error::Numeric(format!(
                    "--precision f32: the variance of unit {a} of {stage} (the start), class entry \
                     {c}, is {v:.1e}, below f32's normal range (1.2e-38): held in f32 it loses its \
                     digits (or turns 0) and the prediction would be that of another covariance; \
                     expected --precision f64 (or data and weights that keep the variances above \
                     1.2e-38)"
                )));
            }
        }
        Ok(())
    }

    /// Releases an owned start (a lent one stays with its owner): after the first affine
    /// update nothing reads it.
    pub fn release(&mut self) {
        if let Start::Narrow(m) = self {
            *m = NarrowMoments::default();
        }
    }

    /// Every class's dimension (that of its mean).
    pub fn dims(&self) -> Vec<usize> {
        (0..self.classes()).map(|c| self.mean(c).nrows()).collect()
    }
}
