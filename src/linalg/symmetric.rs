//! Filling a symmetric N×N matrix column by column in parallel (the driver of every closure).

use faer::Mat;
use rayon::prelude::*;

use super::mirror::mirror_upper;
use crate::error::{Error, Result};

/// Column index and its storage.
type Column<'a, T> = (usize, &'a mut [T]);

/// Fills the symmetric matrix `cov` from `kernel(i, col)`, which must write C[j, i] for
/// j = 0..=i into `col` (length i + 1, contiguous in faer's column-major storage: the lanes
/// j ≤ i for fixed i). Columns are processed in parallel in pairs (i, N−1−i), so that every
/// rayon task has the same N + 1 entries of work; the strict upper triangle is then mirrored
/// (in cache-sized tiles, in parallel).
pub fn fill_symmetric<T, F>(cov: &mut Mat<T>, kernel: F) -> Result<()>
where
    T: Copy + Send + Sync,
    F: Fn(usize, &mut [T]) + Sync,
{
    let n = cov.nrows();
    let mut cols: Vec<Option<&mut [T]>> = Vec::with_capacity(n);
    for col in cov.as_mut().col_iter_mut() {
        let col = col
            .try_as_col_major_mut()
            .ok_or_else(|| Error::Shape("closure output is not column-major".into()))?;
        cols.push(Some(col.as_slice_mut()));
    }
    let mut tasks: Vec<[Option<Column<T>>; 2]> = Vec::with_capacity(n.div_ceil(2));
    for i in 0..n.div_ceil(2) {
        let j = n - 1 - i;
        let a = cols[i].take().map(|c| (i, c));
        let b = if j != i {
            cols[j].take().map(|c| (j, c))
        } else {
            None
        };
        tasks.push([a, b]);
    }
    tasks.into_par_iter().for_each(|task| {
        for (i, col) in task.into_iter().flatten() {
            kernel(i, &mut col[..=i]);
        }
    });
    // The strict upper triangle onto the lower one.
    mirror_upper(cov.as_mut());
    Ok(())
}
