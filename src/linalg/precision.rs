//! Conversions of a matrix between f64 and f32 (the f32 storage of `--precision f32`): rounding
//! to the nearest f32, and widening, which is exact (every f32 is an f64).

use faer::{Mat, MatMut};
use rayon::prelude::*;

/// `out` ← `x` rounded to f32 (`out` has `x`'s shape), columns in parallel.
pub fn narrow(x: &Mat<f64>, out: MatMut<'_, f32>) {
    out.par_col_iter_mut()
        .zip(x.par_col_iter())
        .for_each(|(d, s)| d.iter_mut().zip(s.iter()).for_each(|(d, s)| *d = *s as f32));
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
