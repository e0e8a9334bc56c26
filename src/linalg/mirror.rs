//! Mirroring one triangle of a square matrix onto the other.

use faer::MatMut;
use rayon::prelude::*;

/// Side of the square tiles of [`mirror_lower`]. The strided side of a tile touches one cache
/// line per column, all in the same L1 set when the column stride is a multiple of 4 KiB
/// (N = 512, 1024, …): 8 lines fit the set's ways, 64 thrashed it (the closures spent ~8 % of
/// their time in the mirror at N = 1024 with 64). [`super::transpose_into`] tiles by it too.
pub(super) const TILE: usize = 8;

/// Copies the strict lower triangle of the square `m` onto its upper triangle, tile by tile so
/// that the strided (row-wise) side of the transposition stays in cache; a plain double loop
/// writes one cache line per element at N ≳ 512.
pub fn mirror_lower<T: Copy>(mut m: MatMut<'_, T>) {
    let n = m.nrows();
    for jb in (0..n).step_by(TILE) {
        for ib in (0..=jb).step_by(TILE) {
            // Upper tile rows ib.., columns jb.. ← lower tile rows jb.., columns ib.. transposed.
            for j in jb..(jb + TILE).min(n) {
                for i in ib..(ib + TILE).min(j) {
                    // SAFETY: i < j < n, both indices in bounds of the n×n matrix.
                    unsafe {
                        let v = *m.as_ref().get_unchecked(j, i);
                        *m.as_mut().get_mut_unchecked(i, j) = v;
                    }
                }
            }
        }
    }
}

/// Copies the strict upper triangle of the square column-major `m` (unit row stride, as
/// `fill_symmetric` has it) onto its lower triangle, in parallel over tiles of `TILE` (8)
/// columns: the task of columns c..c + 8 writes their lower parts (contiguous, down each
/// column) from rows c..c + 8 of the columns beyond (strided reads, which cost less than strided
/// writes: [`mirror_lower`] of the transposed view took 1.67 ms at N = 1024 on one thread, this
/// order 0.75 ms). Tasks write disjoint entries and read only the strict upper triangle, which
/// none writes.
pub fn mirror_upper<T: Copy + Send + Sync>(m: MatMut<'_, T>) {
    let n = m.nrows();
    assert!(
        m.ncols() == n && m.row_stride() == 1 && m.col_stride() >= 0,
        "mirror_upper needs a square column-major matrix"
    );
    let ld = m.col_stride() as usize;
    let base = Shared(m.as_ptr_mut());
    let tile = |t: usize| {
        let p = base.get();
        let cols = t * TILE..((t + 1) * TILE).min(n);
        for rb in (cols.start..n).step_by(TILE) {
            if rb > cols.start && rb + TILE <= n && cols.len() == TILE {
                // A whole tile below the diagonal: fixed bounds, unrolled by the compiler
                // (the general loop below ran ~3.5 cycles per entry at N = 64).
                for c in cols.clone() {
                    for r in rb..rb + TILE {
                        // SAFETY: as below (r ≥ rb > c).
                        unsafe { *p.add(c * ld + r) = *p.add(r * ld + c) };
                    }
                }
                continue;
            }
            for c in cols.clone() {
                for r in rb.max(c + 1)..(rb + TILE).min(n) {
                    // SAFETY: r, c < n index the n×n matrix at `p` with column stride `ld`;
                    // (r, c), r > c, is written by this task only, (c, r) is read only.
                    unsafe { *p.add(c * ld + r) = *p.add(r * ld + c) };
                }
            }
        }
    };
    // On a pool of one thread the tiles run in order here, without rayon's splitting.
    if rayon::current_num_threads() == 1 {
        (0..n.div_ceil(TILE)).for_each(tile);
    } else {
        (0..n.div_ceil(TILE)).into_par_iter().for_each(tile);
    }
}

/// The matrix pointer shared by the tasks of [`mirror_upper`] (through a method, so that
/// closures capture the wrapper, not the raw pointer).
struct Shared<T>(*mut T);

impl<T> Shared<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: the tasks of `mirror_upper` write disjoint entries and read entries none writes.
unsafe impl<T: Send> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for Shared<T> {}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// On one thread (tiles in order) and on three (tiles in parallel), whole and partial
    /// tiles, and a column stride beyond N.
    #[test]
    fn mirror_upper_copies_every_strict_upper_entry() {
        for threads in [1, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            for n in [1, 7, 8, 9, 16, 63, 64, 65, 150] {
                let mut big = Mat::from_fn(n + 3, n, |i, j| {
                    if i <= j || i >= n {
                        (j * 1000 + i) as f64
                    } else {
                        -1.0
                    }
                });
                pool.install(|| mirror_upper(big.as_mut().subrows_mut(0, n)));
                for j in 0..n {
                    for i in 0..n + 3 {
                        let (a, b) = if i < n { (i.max(j), i.min(j)) } else { (j, i) };
                        let want = (a * 1000 + b) as f64;
                        assert_eq!(big[(i, j)], want, "{threads} threads, n = {n}, ({i}, {j})");
                    }
                }
            }
        }
    }

    #[test]
    fn mirror_lower_copies_every_strict_lower_entry() {
        for n in [1, 63, 64, 65, 150] {
            let mut m = Mat::from_fn(
                n,
                n,
                |i, j| if i >= j { (i * 1000 + j) as f64 } else { -1.0 },
            );
            mirror_lower(m.as_mut());
            for j in 0..n {
                for i in 0..n {
                    let (a, b) = (i.max(j), i.min(j));
                    assert_eq!(m[(i, j)], (a * 1000 + b) as f64, "n = {n}, ({i}, {j})");
                }
            }
        }
    }
}
