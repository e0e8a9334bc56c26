//! Samples of a file pair: a features array (N, …) and a labels array (N,) or (N, 1) of
//! integers, checked to agree in N and to hold labels in 0..K.

use std::path::Path;

use super::array::ArrayFile;
use crate::{Error, Result};

/// The most classes corrflow accepts (labels 0..65535); per-class statistics cost
/// K·d²·8 bytes per stage, checked against the memory limit where they are measured.
pub const MAX_CLASSES: usize = 1 << 16;

/// A validated labels array: integers in 0..`n_classes`, one per sample.
#[derive(Debug)]
pub struct Labels {
    file: ArrayFile,
    /// The largest label (0 for an empty array).
    max: u32,
}

impl Labels {
    /// Checks that `file` holds integers, one per sample (shape (N,) or (N, 1)), each in
    /// 0..`n_classes` (or, without a class count, in 0..[`MAX_CLASSES`]); the first offending
    /// index and value are named.
    pub fn new(file: ArrayFile, n_classes: Option<usize>) -> Result<Self> {
        let bad = |msg: String| Error::format(file.path(), msg);
        if !file.elem().is_integer() {
            return Err(bad(format!(
                "labels of type {}: expected integers (class indices 0, 1, …)",
                file.elem()
            )));
        }
        if file.row_len() != 1 || file.dims().len() > 2 {
            return Err(bad(format!(
                "labels of shape {:?}: expected one integer per sample, shape (N,) or (N, 1)",
                file.dims()
            )));
        }
        let k = n_classes.unwrap_or(MAX_CLASSES);
        let mut max = 0;
        for i in 0..file.len() {
            let l = file.int_at(i, 0).unwrap_or(-1);
            if l < 0 || l >= k as i128 {
                let range = match n_classes {
                    Some(k) => format!("0..={} ({k} classes)", k.saturating_sub(1)),
                    None => format!("a class index 0..{MAX_CLASSES}"),
                };
                return Err(bad(format!(
                    "label {l} at index {i} out of range: expected {range}"
                )));
            }
            max = max.max(l as u32);
        }
        Ok(Labels { file, max })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Number of labels.
    pub fn len(&self) -> usize {
        self.file.len()
    }

    /// True when there is no label.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The largest label.
    pub fn max(&self) -> u32 {
        self.max
    }

    /// Label `i` (checked at [`new`](Self::new)), `None` when `i` is out of range.
    pub fn get(&self, i: usize) -> Option<u32> {
        (i < self.len()).then(|| self.file.int_at(i, 0).unwrap_or(0) as u32)
    }
}

/// A features array and its labels.
#[derive(Debug)]
pub struct Pair {
    pub x: ArrayFile,
    pub y: Labels,
}

impl Pair {
    /// Pairs features and labels after checking that they count the same samples and that a
    /// sample has at least one value.
    pub fn new(x: ArrayFile, y: Labels) -> Result<Self> {
        if x.len() != y.len() {
            return Err(Error::format(
                y.path(),
                format!(
                    "count mismatch: {} labels in {} but {} samples in {}",
                    y.len(),
                    y.path().display(),
                    x.len(),
                    x.path().display()
                ),
            ));
        }
        if x.row_len() == 0 {
            return Err(Error::format(
                x.path(),
                format!("samples of shape {:?} hold no value", &x.dims()[1..]),
            ));
        }
        Ok(Pair { x, y })
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.x.len()
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
