//! Filling a symmetric N×N matrix column by column in parallel (the driver of every closure).

use faer::Mat;
use rayon::prelude::*;

use super::mirror::mirror_upper;
use crate::error::{Error, Result};

/// First column index of a group and the group's columns.
type Group<'a, T> = (usize, Vec<&'a mut [T]>);

/// Fills the symmetric matrix `cov` from `kernel(i, col)`, which must write C[j, i] for
/// j = 0..=i into `col` (length i + 1, contiguous in faer's column-major storage: the lanes
/// j ≤ i for fixed i). Columns are processed in parallel in pairs (i, N−1−i), so that every
/// rayon task has the same N + 1 entries of work; the strict upper triangle is then mirrored
/// (in cache-sized tiles, in parallel). On a pool of one thread the columns run in order on the
/// calling thread, without the tasks' slices and vectors (an allocation per column and rayon's
/// splitting, a few per cent of a 64-wide layer: BENCHMARKS.md "… fourteenth session (relu3)").
/// [`fill_symmetric_grouped`] with groups of one column.
pub fn fill_symmetric<T, F>(cov: &mut Mat<T>, kernel: F) -> Result<()>
where
    T: Copy + Send + Sync,
    F: Fn(usize, &mut [T]) + Sync,
{
    fill_symmetric_grouped(cov, 1, |i, cols| kernel(i, &mut *cols[0]))
}

/// Entries 0..=i of column i, as a contiguous slice (an error unless column-major).
fn column_to_diagonal<T>(col: faer::ColMut<'_, T>, i: usize) -> Result<&mut [T]> {
    let col = col
        .try_as_col_major_mut()
        .ok_or_else(|| Error::Shape("closure output is not column-major".into()))?;
    Ok(&mut col.as_slice_mut()[..=i])
}

/// [`fill_symmetric`] by groups of `width` adjacent columns, for kernels that share the loads
/// of one row block among several columns: `kernel(i₀, cols)` must write C\[j, i₀ + c\] for
/// j = 0..=i₀ + c into `cols[c]` (length i₀ + c + 1); every group has `width` columns but the
/// last, which has the rest. Groups g and G−1−g share a rayon task, as the columns of
/// [`fill_symmetric`] do; on a pool of one thread the groups run in order on the calling
/// thread, in one reused list of columns (no vector per group, no rayon splitting).
pub fn fill_symmetric_grouped<T, F>(cov: &mut Mat<T>, width: usize, kernel: F) -> Result<()>
where
    T: Copy + Send + Sync,
    F: Fn(usize, &mut [&mut [T]]) + Sync,
{
    let n = cov.nrows();
    let width = width.max(1);
    if rayon::current_num_threads() == 1 {
        {
            let mut cols: Vec<&mut [T]> = Vec::with_capacity(width);
            for (i, col) in cov.as_mut().col_iter_mut().enumerate() {
                cols.push(column_to_diagonal(col, i)?);
                if cols.len() == width || i + 1 == n {
                    kernel(i + 1 - cols.len(), &mut cols);
                    cols.clear();
                }
            }
        }
        mirror_upper(cov.as_mut());
        return Ok(());
    }
    let mut groups: Vec<Option<Group<T>>> = Vec::with_capacity(n.div_ceil(width));
    for (i, col) in cov.as_mut().col_iter_mut().enumerate() {
        let col = column_to_diagonal(col, i)?;
        if i % width == 0 {
            groups.push(Some((i, Vec::with_capacity(width))));
        }
        if let Some(Some((_, cols))) = groups.last_mut() {
            cols.push(col);
        }
    }
    let count = groups.len();
    let mut tasks: Vec<[Option<Group<T>>; 2]> = Vec::with_capacity(count.div_ceil(2));
    for g in 0..count.div_ceil(2) {
        let last = count - 1 - g;
        let a = groups[g].take();
        let b = if last != g { groups[last].take() } else { None };
        tasks.push([a, b]);
    }
    tasks.into_par_iter().for_each(|task| {
        for (i, mut cols) in task.into_iter().flatten() {
            kernel(i, &mut cols);
        }
    });
    // The strict upper triangle onto the lower one.
    mirror_upper(cov.as_mut());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column i's kernel: checks entries 0..=i are unwritten (−1) and writes 1000·i + j.
    fn write_column(i: usize, col: &mut [f64]) {
        assert_eq!(col.len(), i + 1);
        for (j, c) in col.iter_mut().enumerate() {
            assert_eq!(*c, -1.0, "column {i} written twice");
            *c = (1000 * i + j) as f64;
        }
    }

    /// Runs `fill` on an n × n matrix of −1 on pools of one thread (the serial paths) and of
    /// three (the paired tasks), and checks that every column was written by [`write_column`]
    /// and the strict upper triangle is its mirror.
    fn check_fills(n: usize, fill: impl Fn(&mut Mat<f64>) -> Result<()> + Sync) {
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let mut cov = Mat::from_fn(n, n, |_, _| -1.0);
            pool.install(|| fill(&mut cov)).unwrap();
            for i in 0..n {
                for j in 0..n {
                    let want = (1000 * i.max(j) + i.min(j)) as f64;
                    assert_eq!(cov[(j, i)], want, "{threads} threads, n = {n}, ({j}, {i})");
                }
            }
        }
    }

    /// Every column's kernel runs once with entries 0..=i, and the strict upper triangle is
    /// their mirror.
    #[test]
    fn serial_and_parallel_fills_write_every_column_once() {
        for n in [1, 2, 9, 64] {
            check_fills(n, |cov| fill_symmetric(cov, write_column));
        }
    }

    /// The grouped fill likewise; every group starts at a multiple of the width and holds
    /// `width` columns (the last the rest).
    #[test]
    fn grouped_fill_writes_every_column_once() {
        for (n, width) in [(1, 4), (2, 4), (9, 4), (64, 4), (10, 3), (7, 1)] {
            check_fills(n, |cov| {
                fill_symmetric_grouped(cov, width, |i0, cols| {
                    assert_eq!(i0 % width, 0);
                    assert_eq!(cols.len(), width.min(n - i0));
                    for (c, col) in cols.iter_mut().enumerate() {
                        write_column(i0 + c, col);
                    }
                })
            });
        }
    }
}
