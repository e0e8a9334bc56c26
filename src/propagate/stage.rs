//! The storage of one predicted stage: per class a mean (always f64) and a covariance kept in
//! f64, or — for the hidden stages of an f32 propagation (`--precision f32`, [`super::single`])
//! — in f32, at half the bytes. Readers take a class's covariance through [`Predicted::cov`],
//! which lends an f64 one and widens an f32 one (exactly: every f32 is an f64) into a copy of
//! its own, so a reader holds at most the classes it is working on in f64 at once.

use std::borrow::Cow;

use faer::{Mat, MatMut};
use rayon::prelude::*;

use crate::net::Stage;
use crate::stats::Moments;

/// The predicted per-class moments of one stage.
#[derive(Clone, Debug)]
pub struct Predicted {
    pub stage: Stage,
    /// Each class's mean and, in an f64 stage, covariance. In an f32 stage
    /// ([`Predicted::is_f32`]) the covariances here are 0 × 0 and [`Predicted::cov`] is the
    /// way to read them.
    pub per_class: Vec<Moments>,
    /// Each class's covariance in f32 in an f32 stage; empty in an f64 stage.
    pub(crate) single: Vec<Mat<f32>>,
}

impl Predicted {
    /// An f64 stage without classes yet.
    pub(crate) fn new(stage: Stage) -> Self {
        Predicted {
            stage,
            per_class: Vec::new(),
            single: Vec::new(),
        }
    }

    /// Whether the covariances of this stage are held in f32.
    pub fn is_f32(&self) -> bool {
        !self.single.is_empty()
    }

    /// Class `c`'s covariance in f64: lent as it is, or widened from f32 into a new matrix.
    pub fn cov(&self, c: usize) -> Cow<'_, Mat<f64>> {
        match self.single.get(c) {
            Some(s) => {
                let mut wide = Mat::new();
                widen(s, &mut wide);
                Cow::Owned(wide)
            }
            None => Cow::Borrowed(&self.per_class[c].cov),
        }
    }

    /// Bytes held by this stage's means and covariances (capacity not counted).
    pub fn bytes(&self) -> usize {
        let f64s: usize = self
            .per_class
            .iter()
            .map(|m| m.mean.nrows() + m.cov.nrows() * m.cov.ncols())
            .sum();
        let f32s: usize = self.single.iter().map(|s| s.nrows() * s.ncols()).sum();
        8 * f64s + 4 * f32s
    }
}

/// `out` ← `x` rounded to f32 (`out` has `x`'s shape), columns in parallel.
pub(crate) fn narrow(x: &Mat<f64>, out: MatMut<'_, f32>) {
    out.par_col_iter_mut()
        .zip(x.par_col_iter())
        .for_each(|(d, s)| d.iter_mut().zip(s.iter()).for_each(|(d, s)| *d = *s as f32));
}

/// `out` ← `x` widened to f64 (exact; resized), columns in parallel.
pub(crate) fn widen(x: &Mat<f32>, out: &mut Mat<f64>) {
    out.resize_with(x.nrows(), x.ncols(), |_, _| 0.0);
    out.as_mut()
        .par_col_iter_mut()
        .zip(x.par_col_iter())
        .for_each(|(d, s)| {
            d.iter_mut()
                .zip(s.iter())
                .for_each(|(d, s)| *d = f64::from(*s))
        });
}
