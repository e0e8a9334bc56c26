//! The storage of one predicted stage: per class a mean (always f64) and a covariance kept in
//! f64, or — for the hidden stages of an f32 propagation (`--precision f32`, [`super::single`])
//! — in f32, at half the bytes. Readers take a class's covariance through [`Predicted::cov`],
//! which lends an f64 one and widens an f32 one (exactly: every f32 is an f64) into a copy of
//! its own, so a reader holds at most the classes it is working on in f64 at once.
//!
//! The storage is private: outside the engines that write it, a stage is read through
//! [`Predicted::mean`], [`Predicted::cov`] and (f64 stages only) [`Predicted::f64_moments`], so
//! no reader can take the empty f64 slot of an f32 stage for its covariance.

use std::borrow::Cow;

use faer::Mat;

use crate::error::{Error, Result};
use crate::linalg::widen;
use crate::net::Stage;
use crate::stats::Moments;

/// The predicted per-class moments of one stage.
#[derive(Clone, Debug)]
pub struct Predicted {
    pub stage: Stage,
    /// Each class's mean and, in an f64 stage, covariance. In an f32 stage
    /// ([`Predicted::is_f32`]) the covariances here are 0 × 0: only the engines see this field.
    pub(in crate::propagate) per_class: Vec<Moments>,
    /// Each class's covariance in f32 in an f32 stage; empty in an f64 stage.
    pub(in crate::propagate) single: Vec<Mat<f32>>,
    /// The relative rounding η of the covariances' entries from f32 arithmetic (each entry off
    /// by at most η·√(ΣᵢᵢΣⱼⱼ), accumulated from the start: `single::engine` states how), for
    /// every stage of an f32 propagation, the output y (widened to f64) included; 0 for a
    /// stage computed in f64.
    pub(in crate::propagate) f32_rounding: f64,
    /// The part of [`f32_rounding`](Self::f32_rounding) this stage's own arithmetic added where
    /// the rest came from the stage before it through an exact affine map (`single::engine`:
    /// an affine stage, the output y); the whole η where the stage forms its entries anew (a
    /// closure's) or starts the propagation; 0 for a stage computed in f64.
    pub(in crate::propagate) f32_fresh: f64,
}

impl Predicted {
    /// An f64 stage without classes yet.
    pub(crate) fn new(stage: Stage) -> Self {
        Predicted {
            stage,
            per_class: Vec::new(),
            single: Vec::new(),
            f32_rounding: 0.0,
            f32_fresh: 0.0,
        }
    }

    /// An f64 stage of the given per-class moments (classes in order).
    pub(crate) fn from_classes(stage: Stage, per_class: Vec<Moments>) -> Self {
        Predicted {
            stage,
            per_class,
            single: Vec::new(),
            f32_rounding: 0.0,
            f32_fresh: 0.0,
        }
    }

    /// Appends the classes of the f64 stage `more` (same stage) after this f64 stage's.
    pub(crate) fn append(&mut self, more: Predicted) -> Result<()> {
        if self.is_f32() || more.is_f32() || self.stage != more.stage {
            return Err(Error::Shape(format!(
                "appending the classes of stage {} to stage {}: both must be the same f64 stage",
                more.stage, self.stage
            )));
        }
        self.per_class.extend(more.per_class);
        Ok(())
    }

    /// Number of classes.
    pub fn classes(&self) -> usize {
        self.per_class.len()
    }

    /// Class `c`'s mean (always f64).
    pub fn mean(&self, c: usize) -> &faer::Col<f64> {
        &self.per_class[c].mean
    }

    /// Every class's moments (mean, covariance and any κ slices) of an f64 stage; an error
    /// naming the stage for an f32 one, whose covariances only [`Predicted::cov`] gives.
    pub fn f64_moments(&self) -> Result<&[Moments]> {
        if self.is_f32() {
            return Err(Error::Unsupported(format!(
                "stage {} holds its covariances in f32: read them through Predicted::cov",
                self.stage
            )));
        }
        Ok(&self.per_class)
    }

    /// Whether the covariances of this stage are held in f32.
    pub fn is_f32(&self) -> bool {
        !self.single.is_empty()
    }

    /// Whether this stage's covariances were computed in f32 (an f32 stage, or the output of
    /// an f32 propagation widened to f64), so that each entry carries f32's rounding.
    pub fn computed_in_f32(&self) -> bool {
        self.is_f32() || self.f32_rounding > 0.0
    }

    /// The relative rounding η of this stage's covariance entries from f32 arithmetic: each
    /// entry is within η·√(ΣᵢᵢΣⱼⱼ) of the f64 computation's (`single::engine` states the
    /// model); 0 for a stage computed in f64 (`analysis::compare` bounds the KL's sensitivity
    /// to it).
    pub fn f32_rounding(&self) -> f64 {
        self.f32_rounding
    }

    /// The relative rounding η this stage's own arithmetic added to its entries
    /// ([`Predicted::f32_rounding`] less what an affine stage inherits from the stage before it,
    /// which reaches it as W δ Wᵀ, shaped by W: `analysis::compare` carries that part's effect
    /// on the KL over from the stage before).
    pub fn f32_fresh(&self) -> f64 {
        self.f32_fresh
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

    /// Releases the covariances (an f32 stage's and any f64 ones, with κ slices), keeping the
    /// means: after a streamed run ([`super::Propagator::run_streamed`])
    /// each stage was read when it was handed over, and [`Predicted::cov`] of a released stage
    /// is 0 × 0.
    pub(in crate::propagate) fn release_covs(&mut self) {
        for s in &mut self.single {
            *s = Mat::new();
        }
        for m in &mut self.per_class {
            m.cov = Mat::new();
            m.clear_slices();
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
