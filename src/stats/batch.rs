//! Reading one class's columns of a batch for the moment sums ([`super::moments`]): the rows
//! that vary, as runs of consecutive rows; the shifted values d = x − K of those rows gathered
//! into a compact matrix; and its Gram scattered back into the d × d sum.
//!
//! A row i with xᵢ = Kᵢ in every column of the batch has d = 0 there, so its entries of
//! S₁ = Σ d and S₂ = Σ d dᵀ get exact zeros from this batch: leaving the row out of the product
//! changes no sum (MNIST's border pixels are 0 in every image of a class: 230–350 of 784
//! rows per class, so the input Gram of the varying rows is 43 % of the 784² one).

use faer::reborrow::ReborrowMut;
use faer::{Col, MatMut, MatRef};
use pulp::{Simd, WithSimd};

use super::gram::{gram_blocks, lower_gram_pieces};
use crate::simd::dispatch;

/// Column j of `x` as a slice (`x` must have contiguous columns, row stride 1).
pub fn col(x: MatRef<'_, f64>, j: usize) -> &[f64] {
    x.col(j)
        .try_as_col_major()
        .expect("a batch is made contiguous before its columns are read")
        .as_slice()
}

/// Column j of `x` as a mutable slice (an owned matrix's column).
fn col_mut(x: MatMut<'_, f64>, j: usize) -> &mut [f64] {
    x.col_mut(j)
        .try_as_col_major_mut()
        .expect("a column of an owned matrix is contiguous")
        .as_slice_mut()
}

/// An owned column's values as a slice.
pub fn values(c: &Col<f64>) -> &[f64] {
    c.try_as_col_major()
        .expect("an owned column is contiguous")
        .as_slice()
}

/// An owned column's values as a mutable slice.
pub fn values_mut(c: &mut Col<f64>) -> &mut [f64] {
    c.try_as_col_major_mut()
        .expect("an owned column is contiguous")
        .as_slice_mut()
}

/// Rows of a d × b batch as increasing runs (start, length) of consecutive rows.
#[derive(Clone, Debug, Default)]
pub struct Runs {
    runs: Vec<(usize, usize)>,
    len: usize,
}

impl Runs {
    /// Number of rows in all runs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Every row 0 … dim−1 (one run).
    pub fn set_all(&mut self, dim: usize) {
        self.runs.clear();
        self.runs.push((0, dim));
        self.len = dim;
    }

    /// The rows i for which some column j of `cols` has x\[i, j\] ≠ Kᵢ (`shift`), i.e. a
    /// shifted value d = x − K ≠ 0: for finite numbers, x − K = 0 exactly when x = K.
    pub fn set_varying(&mut self, x: MatRef<'_, f64>, cols: &[usize], shift: &Col<f64>) {
        let shift = values(shift);
        let mut varies = vec![false; shift.len()];
        dispatch(Varying {
            x,
            cols,
            shift,
            varies: &mut varies,
        });
        self.set_rows((0..varies.len()).filter(|&i| varies[i]));
    }

    /// The increasing row indices `rows` as runs.
    pub fn set_rows(&mut self, rows: impl IntoIterator<Item = usize>) {
        self.runs.clear();
        self.len = 0;
        for i in rows {
            match self.runs.last_mut() {
                Some((start, len)) if *start + *len == i => *len += 1,
                _ => self.runs.push((i, 1)),
            }
            self.len += 1;
        }
    }

    /// The runs (start, length), increasing.
    pub fn runs(&self) -> &[(usize, usize)] {
        &self.runs
    }

    /// Copies the runs' rows of columns `cols` of `x`, minus `shift`, into `dst` (len × cols.len(),
    /// the runs' rows one after another), and adds each copied value to `s1` (S₁ = Σ d in the
    /// same pass; the rows left out have d = 0 and leave S₁ as it is).
    pub fn gather_shifted(
        &self,
        mut dst: MatMut<'_, f64>,
        x: MatRef<'_, f64>,
        cols: &[usize],
        shift: &Col<f64>,
        s1: &mut Col<f64>,
    ) {
        let shift = values(shift);
        let s1 = values_mut(s1);
        for (k, &j) in cols.iter().enumerate() {
            dispatch(Gather {
                runs: &self.runs,
                src: col(x, j),
                out: col_mut(dst.rb_mut(), k),
                shift,
                s1,
            });
        }
    }

    /// Lower triangle of `dst` (d × d) += the Gram d dᵀ of `d` (len × b, the runs' rows one
    /// after another, as [`gather_shifted`](Self::gather_shifted) wrote them): the compact
    /// len × len Gram block by block ([`lower_gram_pieces`], in parallel), each block's piece
    /// scattered to its rows' columns of `dst` by the thread that computed it, while the piece
    /// is in cache: dst\[i, j\] += gram\[a, b\] for a ≥ b, where a and b are the positions of
    /// rows i and j in the runs (increasing, so i ≥ j: the lower triangle).
    pub fn add_gram(&self, dst: MatMut<'_, f64>, d: MatRef<'_, f64>) {
        let rows = self.rows();
        // Block (b₀, w) scatters into the columns rows[b₀] … rows[b₀ + w − 1] of `dst`: its
        // slice of columns runs from rows[b₀] to the next block's first row.
        let mut slices = Vec::new();
        let mut rest = dst;
        let mut at = 0;
        for (b0, w) in gram_blocks(self.len) {
            let end = rows.get(b0 + w).copied().unwrap_or(rest.ncols() + at);
            let (slice, right) = rest.split_at_col_mut(end - at);
            slices.push((at, slice));
            rest = right;
            at = end;
        }
        lower_gram_pieces(d, slices, |(first_col, mut slice), b0, piece| {
            for (k, &row) in rows[b0..b0 + piece.ncols()].iter().enumerate() {
                dispatch(ScatterColumn {
                    runs: &self.runs,
                    b: b0 + k,
                    first: b0,
                    src: col(piece, k),
                    out: col_mut(slice.rb_mut(), row - first_col),
                });
            }
        });
    }

    /// The runs' rows in order: position a of the compact rows is row `rows()[a]`.
    fn rows(&self) -> Vec<usize> {
        self.runs
            .iter()
            .flat_map(|&(start, len)| start..start + len)
            .collect()
    }
}

/// The kernel of [`Runs::set_varying`]: `varies[i]` |= x\[i, j\] ≠ Kᵢ over the columns, as
/// plain loops inside `with_simd` so that the compiler vectorises them for the instruction set
/// pulp dispatches to (the crate itself builds for baseline x86-64).
struct Varying<'a> {
    x: MatRef<'a, f64>,
    cols: &'a [usize],
    shift: &'a [f64],
    varies: &'a mut [bool],
}

impl WithSimd for Varying<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        for &j in self.cols {
            for ((v, x), k) in self.varies.iter_mut().zip(col(self.x, j)).zip(self.shift) {
                *v |= x != k;
            }
        }
    }
}

/// The kernel of [`Runs::gather_shifted`] for one column: the runs' rows of `src` minus the
/// shift into `out` (one after another), each value also added to `s1` (dispatched as
/// [`Varying`]; the same operations per entry as a scalar loop).
struct Gather<'a> {
    runs: &'a [(usize, usize)],
    src: &'a [f64],
    out: &'a mut [f64],
    shift: &'a [f64],
    s1: &'a mut [f64],
}

impl WithSimd for Gather<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let mut o = 0;
        for &(start, len) in self.runs {
            let rows = start..start + len;
            for (((out, x), k), s) in self.out[o..o + len]
                .iter_mut()
                .zip(&self.src[rows.clone()])
                .zip(&self.shift[rows.clone()])
                .zip(&mut self.s1[rows])
            {
                let d = x - k;
                *out = d;
                *s += d;
            }
            o += len;
        }
    }
}

/// The kernel of [`Runs::add_gram`] for the column at position `b` of the compact Gram:
/// `src` holds its positions `first` … len − 1 (a block's piece, `first` ≤ b), added to its
/// row's column of the sum (`out`) at the rows of the positions ≥ b; dispatched as
/// [`Varying`].
struct ScatterColumn<'a> {
    runs: &'a [(usize, usize)],
    b: usize,
    first: usize,
    src: &'a [f64],
    out: &'a mut [f64],
}

impl WithSimd for ScatterColumn<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) {
        let mut a = 0;
        for &(start_i, len_i) in self.runs {
            // Positions a … a + len_i − 1, of which those ≥ b are in the lower triangle.
            let skip = self.b.saturating_sub(a).min(len_i);
            if skip < len_i {
                let rows = start_i + skip..start_i + len_i;
                let from = a + skip - self.first;
                for (o, v) in self.out[rows]
                    .iter_mut()
                    .zip(&self.src[from..from + len_i - skip])
                {
                    *o += v;
                }
            }
            a += len_i;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    #[test]
    fn set_rows_groups_consecutive_indices() {
        let mut runs = Runs::default();
        for (rows, expected) in [
            (vec![], vec![]),
            (vec![0, 1, 2, 5, 6, 9], vec![(0, 3), (5, 2), (9, 1)]),
            (vec![4], vec![(4, 1)]),
        ] {
            runs.set_rows(rows.iter().copied());
            assert_eq!(runs.runs(), &expected[..]);
            assert_eq!(runs.len(), rows.len());
        }
    }

    /// Rows 0, 3, 4 and 6 vary in columns 1 and 2 (row 6 only in column 2); rows 1, 2 and 5
    /// equal the shift there though column 0 (not in `cols`) differs.
    #[test]
    fn varying_rows_gather_and_scatter() {
        let shift = Col::from_fn(7, |i| i as f64 * 0.5);
        let x = Mat::from_fn(7, 3, |i, j| match (i, j) {
            (_, 0) => 99.0,
            (0 | 3 | 4, _) => (i + j) as f64 + 0.25,
            (6, 2) => -1.0,
            _ => shift[i],
        });
        let mut runs = Runs::default();
        runs.set_varying(x.as_ref(), &[1, 2], &shift);
        assert_eq!(runs.runs, vec![(0, 1), (3, 2), (6, 1)]);
        assert_eq!(runs.len(), 4);

        let mut d = Mat::zeros(4, 2);
        let mut s1 = Col::from_fn(7, |i| 10.0 * i as f64);
        runs.gather_shifted(d.as_mut(), x.as_ref(), &[1, 2], &shift, &mut s1);
        for (a, &i) in [0usize, 3, 4, 6].iter().enumerate() {
            for (k, j) in [1usize, 2].into_iter().enumerate() {
                assert_eq!(d[(a, k)], x[(i, j)] - shift[i]);
            }
            assert_eq!(s1[i], 10.0 * i as f64 + d[(a, 0)] + d[(a, 1)]);
        }
        for i in [1, 2, 5] {
            assert_eq!(s1[i], 10.0 * i as f64);
        }

        let mut dst = Mat::from_fn(7, 7, |i, j| (i * 7 + j) as f64 * 1e-3);
        let before = dst.clone();
        runs.add_gram(dst.as_mut(), d.as_ref());
        let rows = [0usize, 3, 4, 6];
        assert_added_gram(&dst, &before, &rows, &d);
    }

    /// The scatter across the Gram's column blocks (64 positions each): 150 varying rows of
    /// 230 in runs that straddle the blocks' edges, added to a sum whose upper triangle and
    /// constant rows must keep their values. The values are small integers, so every sum is
    /// exact and the comparison is bit for bit.
    #[test]
    fn the_gram_is_scattered_across_blocks() {
        let dim = 230;
        let varies = |i: usize| i % 7 != 3 && !(60..100).contains(&i) && i != 229;
        let shift = Col::from_fn(dim, |i| (i % 3) as f64);
        let x = Mat::from_fn(dim, 5, |i, j| {
            if varies(i) && (i + j) % 4 != 0 {
                shift[i] + ((i * 3 + j * 5) % 7) as f64 - 3.0
            } else {
                shift[i]
            }
        });
        let cols = [0, 1, 2, 3, 4];
        let mut runs = Runs::default();
        runs.set_varying(x.as_ref(), &cols, &shift);
        let rows: Vec<usize> = (0..dim)
            .filter(|&i| cols.iter().any(|&j| x[(i, j)] != shift[i]))
            .collect();
        assert_eq!(runs.rows(), rows);
        assert!(rows.len() > 128, "three blocks of positions");
        let mut d = Mat::zeros(rows.len(), cols.len());
        let mut s1 = Col::zeros(dim);
        runs.gather_shifted(d.as_mut(), x.as_ref(), &cols, &shift, &mut s1);
        let mut dst = Mat::from_fn(dim, dim, |i, j| (i * 3 + j) as f64);
        let before = dst.clone();
        runs.add_gram(dst.as_mut(), d.as_ref());
        assert_added_gram(&dst, &before, &rows, &d);
    }

    /// `dst` = `before` plus, at (i, j) with i ≥ j both in `rows` (positions a, b), the exact
    /// Σₖ d\[a, k\]d\[b, k\]; every other entry as it was.
    fn assert_added_gram(dst: &Mat<f64>, before: &Mat<f64>, rows: &[usize], d: &Mat<f64>) {
        let pos = |i: usize| rows.iter().position(|&r| r == i);
        for j in 0..dst.ncols() {
            for i in 0..dst.nrows() {
                let added = match (pos(i), pos(j)) {
                    (Some(a), Some(b)) if i >= j => {
                        (0..d.ncols()).map(|k| d[(a, k)] * d[(b, k)]).sum()
                    }
                    _ => 0.0,
                };
                assert_eq!(dst[(i, j)], before[(i, j)] + added, "({i}, {j})");
            }
        }
    }
}
