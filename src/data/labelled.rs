//! A borrowed labelled set, what the measurements read: its values either as f64 columns (a
//! [`Dataset`]) or as the pixel bytes they were converted from (value = byte/255 through
//! [`u8_to_unit`], bit for bit the f64 columns [`super::split`] would have assembled), so that
//! a command that only runs the samples through the network in batches never holds a d × n f64
//! copy of them (MNIST's test set: 63 MB of f64, 15 000 page faults on first touch, against
//! 7.8 MB of bytes).

use faer::reborrow::ReborrowMut;
use faer::{Mat, MatMut, MatRef};

use super::convert::u8_to_unit;
use super::Dataset;
use crate::error::{Error, Result};

/// The number of samples of each class 0..`n_classes` among `labels`; an error naming the
/// first label out of that range.
pub fn class_counts(labels: &[u32], n_classes: usize) -> Result<Vec<usize>> {
    let mut counts = vec![0usize; n_classes];
    for &l in labels {
        *counts.get_mut(l as usize).ok_or_else(|| {
            Error::Shape(format!("label {l} is out of range for {n_classes} classes"))
        })? += 1;
    }
    Ok(counts)
}

/// The values of a labelled set's samples.
#[derive(Clone, Copy, Debug)]
pub enum Columns<'a> {
    /// d × n, sample j in column j.
    Values(MatRef<'a, f64>),
    /// Sample j is `bytes[j·dim .. (j+1)·dim]`, each value byte/255.
    Pixels { bytes: &'a [u8], dim: usize },
}

/// Samples, their labels in 0..`n_classes`, borrowed.
#[derive(Clone, Copy, Debug)]
pub struct Labelled<'a> {
    pub columns: Columns<'a>,
    pub labels: &'a [u32],
    pub n_classes: usize,
}

impl<'a> From<&'a Dataset> for Labelled<'a> {
    fn from(d: &'a Dataset) -> Self {
        Labelled {
            columns: Columns::Values(d.x.as_ref()),
            labels: &d.labels,
            n_classes: d.n_classes,
        }
    }
}

impl Labelled<'_> {
    /// Number of samples n.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Input dimension d.
    pub fn dim(&self) -> usize {
        match self.columns {
            Columns::Values(x) => x.nrows(),
            Columns::Pixels { dim, .. } => dim,
        }
    }

    /// Writes sample j's values into column k of `out` for each (k, j) of `samples`.
    pub fn gather(&self, samples: impl IntoIterator<Item = usize>, mut out: MatMut<'_, f64>) {
        for (k, j) in samples.into_iter().enumerate() {
            match self.columns {
                Columns::Values(x) => out.rb_mut().col_mut(k).copy_from(x.col(j)),
                Columns::Pixels { bytes, dim } => {
                    let col = out.rb_mut().col_mut(k).try_as_col_major_mut();
                    let col = col.expect("a column of a column-major matrix is contiguous");
                    u8_to_unit(&bytes[j * dim..(j + 1) * dim], col.as_slice_mut());
                }
            }
        }
    }

    /// Samples `start .. start + len` as a d × len matrix: the columns themselves, or converted
    /// into `buf` (resized to d × len when smaller).
    pub fn range<'b>(&'b self, start: usize, len: usize, buf: &'b mut Mat<f64>) -> MatRef<'b, f64> {
        match self.columns {
            Columns::Values(x) => x.subcols(start, len),
            Columns::Pixels { dim, .. } => {
                if buf.nrows() != dim || buf.ncols() < len {
                    *buf = Mat::zeros(dim, len);
                }
                self.gather(start..start + len, buf.as_mut().subcols_mut(0, len));
                buf.as_ref().subcols(0, len)
            }
        }
    }
}
