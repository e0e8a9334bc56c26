//! Conversions of a matrix between f64 and f32 (the f32 storage of `--precision f32`): rounding
//! to the nearest f32, and widening, which is exact (every f32 is an f64).

use faer::{Mat, MatMut};
use rayon::prelude::*;

/// Entries per task of [`narrow`] at least: a column of a 1 × N read-out weight is one entry,
/// and a task per column cost more than the rounding.
const MIN_TASK: usize = 1 << 14;

/// `out` ← `x` rounded to f32 (`out` has `x`'s shape, both column-major), columns in parallel
/// in tasks of at least `MIN_TASK` entries, each column a slice loop the compiler vectorises.
pub fn narrow(x: &Mat<f64>, out: MatMut<'_, f32>) {
    let columns_per_task = MIN_TASK.div_ceil(x.nrows().max(1));
    out.par_col_iter_mut()
        .zip(x.par_col_iter())
        .with_min_len(columns_per_task)
        .for_each(|(d, s)| {
            let (d, s) = (d.try_as_col_major_mut(), s.try_as_col_major());
            let (d, s) = (
                d.expect("column-major f32 storage"),
                s.expect("column-major Mat"),
            );
            for (d, s) in d.as_slice_mut().iter_mut().zip(s.as_slice()) {
                *d = *s as f32;
            }
        });
}

/// `out` ← `x` widened to f64 (exact; resized), on the calling thread: its readers widen one
/// class each inside parallel loops, where nested parallel work would let a waiting thread
/// start further classes and hold their f64 copies at once.
pub fn widen(x: &Mat<f32>, out: &mut Mat<f64>) {
    out.resize_with(x.nrows(), x.ncols(), |_, _| 0.0);
    for (d, s) in out.as_mut().col_iter_mut().zip(x.col_iter()) {
        d.iter_mut()
            .zip(s.iter())
            .for_each(|(d, s)| *d = f64::from(*s));
    }
}
