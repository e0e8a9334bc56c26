//! A reusable buffer viewed at the size of the current use.

use faer::{Mat, MatMut};

/// The top-left `rows` × `cols` block of `buf`, grown first (new entries `zero`) where it is
/// smaller in either dimension; never shrunk. A buffer sized once for the widest layer is then
/// reused without writing its entries again: a faer `Mat` resized down to a narrow layer (a
/// read-out) fills every entry again when it is resized back up.
pub fn at_least<T: Copy>(buf: &mut Mat<T>, rows: usize, cols: usize, zero: T) -> MatMut<'_, T> {
    if buf.nrows() < rows || buf.ncols() < cols {
        buf.resize_with(buf.nrows().max(rows), buf.ncols().max(cols), |_, _| zero);
    }
    buf.as_mut().submatrix_mut(0, 0, rows, cols)
}
