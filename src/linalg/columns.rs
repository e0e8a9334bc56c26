//! The columns of a matrix picked by index.

use faer::{Mat, MatRef};

/// The columns `cols` of `x`, in that order, as a new matrix: x[:, cols]. The one operation
/// here that returns a matrix rather than writing into the caller's (a copy is its purpose).
pub fn columns(x: MatRef<'_, f64>, cols: &[usize]) -> Mat<f64> {
    Mat::from_fn(x.nrows(), cols.len(), |i, j| x[(i, cols[j])])
}
