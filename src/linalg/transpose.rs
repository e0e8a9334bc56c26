//! The transpose of a matrix into a column-major buffer.

use faer::{MatMut, MatRef};
use rayon::prelude::*;

use super::mirror::TILE;

/// `dst` ← `src`ᵀ (`dst` column-major, `src`'s shape transposed), tile by tile, the tasks of
/// `TILE` columns of `dst` in parallel. Square tiles of the mirror's side keep the strided
/// reads of `src` in one L1 set's ways (see `mirror`); faer's `copy_from` of a transposed view
/// reads element by element across that stride: 3.2 ms at N = 1024 on one thread, in f64 and
/// f32 alike, against 0.2–0.4 ms for this on two (BENCHMARKS.md "Performance II: f32, eighth
/// session").
pub fn transpose_into<T: Copy + Send + Sync>(src: MatRef<'_, T>, mut dst: MatMut<'_, T>) {
    let (rows, cols) = (dst.nrows(), dst.ncols());
    assert!(
        src.nrows() == cols && src.ncols() == rows && dst.row_stride() == 1,
        "transpose_into needs a column-major destination of the source's transposed shape"
    );
    dst.as_mut()
        .par_col_chunks_mut(TILE)
        .enumerate()
        .for_each(|(t, mut tile)| {
            let first = t * TILE;
            for rb in (0..rows).step_by(TILE) {
                let block = rb..(rb + TILE).min(rows);
                for c in 0..tile.ncols() {
                    let col = tile.as_mut().col_mut(c).try_as_col_major_mut();
                    let col = col.expect("unit row stride checked above").as_slice_mut();
                    for r in block.clone() {
                        // SAFETY: r < rows = src.ncols() and first + c < cols = src.nrows().
                        col[r] = unsafe { *src.get_unchecked(first + c, r) };
                    }
                }
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn transpose_into_moves_every_entry() {
        for (m, n) in [
            (1, 1),
            (1, 9),
            (9, 1),
            (7, 8),
            (8, 17),
            (65, 33),
            (150, 150),
        ] {
            let src = Mat::from_fn(m, n, |i, j| (i * 1000 + j) as f32);
            let mut dst = Mat::<f32>::zeros(n, m);
            transpose_into(src.as_ref(), dst.as_mut());
            for j in 0..m {
                for i in 0..n {
                    assert_eq!(dst[(i, j)], (j * 1000 + i) as f32, "{m}×{n}, ({i}, {j})");
                }
            }
        }
    }
}
