//! The dense affine update at small widths (issue #16: order 2 at n = 64): μ' = Wμ and
//! Σ' = W S Wᵀ (T = W S, then the lower triangle of T Wᵀ, mirrored) by one register-blocked
//! SIMD product, D = A·B with each entry the sum Σₖ A\[i,k\]B\[k,j\] taken in order k = 0, 1, …
//! by fused multiply-adds from zero. At N = 64 faer's GEMM and triangular GEMM spent about
//! half of the affine update's time outside their microkernels (dispatch, packing, the
//! triangle's recursion, the transposed copy of W; BENCHMARKS.md "… fifteenth session
//! (gelu6)"); this product has none of that and reads W's rows in place for T Wᵀ.

use faer::{Mat, MatMut, MatRef};
use pulp::{Simd, WithSimd};

use crate::simd::{dispatch, load, store};

/// Largest fan-in and fan-out that take this path (the width it was measured at).
pub(crate) const SMALL: usize = 64;

/// Lane vectors per register tile (rows `ROWS·lanes`).
const ROWS: usize = 4;
/// Columns per register tile.
const COLS: usize = 4;

/// Whether a map of W (N_out × N_in) takes this path.
pub(crate) fn small(w: MatRef<'_, f64>) -> bool {
    w.nrows() <= SMALL && w.ncols() <= SMALL && w.row_stride() == 1 && w.col_stride() >= 0
}

/// Entries a column-major matrix of `rows` × `cols` with column stride `ld` spans.
fn extent(rows: usize, cols: usize, ld: usize) -> usize {
    if rows == 0 || cols == 0 {
        0
    } else {
        ld * (cols - 1) + rows
    }
}

/// A column-major view as a slice: column j at `j·ld..j·ld + rows` (unit row stride).
fn cols_of(m: MatRef<'_, f64>) -> (&[f64], usize) {
    assert!(
        m.row_stride() == 1 && m.col_stride() >= 0,
        "column-major view expected"
    );
    let ld = m.col_stride() as usize;
    let len = extent(m.nrows(), m.ncols(), ld);
    // SAFETY: a faer view of unit row stride and column stride `ld` ≥ 0 addresses exactly the
    // entries j·ld + i, i < nrows, j < ncols, all below `len`, borrowed for the view's lifetime.
    (unsafe { std::slice::from_raw_parts(m.as_ptr(), len) }, ld)
}

/// [`cols_of`] of a mutable view.
fn cols_of_mut(m: MatMut<'_, f64>) -> (&mut [f64], usize) {
    assert!(
        m.row_stride() == 1 && m.col_stride() >= 0,
        "column-major view expected"
    );
    let ld = m.col_stride() as usize;
    let len = extent(m.nrows(), m.ncols(), ld);
    // SAFETY: as in `cols_of`, the view borrowed mutably for its lifetime.
    (
        unsafe { std::slice::from_raw_parts_mut(m.as_ptr_mut(), len) },
        ld,
    )
}

/// out ← W μ (N_out entries), each entry Σₖ W\[i,k\]μₖ in order k by fused multiply-adds.
pub(crate) fn mean_into(w: MatRef<'_, f64>, mean: &[f64], out: &mut [f64]) {
    let (a, lda) = cols_of(w);
    let ldd = out.len();
    dispatch(Product {
        a,
        lda,
        m: w.nrows(),
        kdim: w.ncols(),
        b: mean,
        bk: 1,
        bj: 0,
        n: 1,
        d: out,
        ldd,
        lower: false,
    });
}

/// `out` ← W S Wᵀ (S symmetric N_in × N_in, `out` N_out × N_out): T = W S into `t` (resized to
/// N_out × N_in), the lower triangle of T Wᵀ (row blocks from the lane vector holding the
/// diagonal: a few entries above it too), then the strict lower triangle mirrored onto the upper.
pub(crate) fn cov_into(
    w: MatRef<'_, f64>,
    s: MatRef<'_, f64>,
    t: &mut Mat<f64>,
    out: MatMut<'_, f64>,
) {
    let (n_out, n_in) = (w.nrows(), w.ncols());
    t.resize_with(n_out, n_in, |_, _| 0.0);
    let (wa, lda) = cols_of(w);
    let (b, lds) = cols_of(s);
    let (d, ldt) = cols_of_mut(t.as_mut());
    dispatch(Product {
        a: wa,
        lda,
        m: n_out,
        kdim: n_in,
        b,
        bk: 1,
        bj: lds,
        n: n_in,
        d,
        ldd: ldt,
        lower: false,
    });
    let mut out = out;
    let (a, ldt) = cols_of(t.as_ref());
    let (d, ldd) = cols_of_mut(out.as_mut());
    dispatch(Product {
        a,
        lda: ldt,
        m: n_out,
        kdim: n_in,
        b: wa,
        bk: lda,
        bj: 1,
        n: n_out,
        d,
        ldd,
        lower: true,
    });
    crate::linalg::mirror_lower(out);
}

/// D (m × n, column stride `ldd`) ← A (m × kdim, column stride `lda`) · B, B\[k,j\] =
/// `b[k·bk + j·bj]`; with `lower`, column j's rows from the lane vector holding row j only.
struct Product<'a> {
    a: &'a [f64],
    lda: usize,
    m: usize,
    kdim: usize,
    b: &'a [f64],
    bk: usize,
    bj: usize,
    n: usize,
    d: &'a mut [f64],
    ldd: usize,
    lower: bool,
}

impl WithSimd for Product<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, simd: S) {
        let w = S::F64_LANES;
        let mut j = 0;
        while j < self.n {
            let cols = (self.n - j).min(COLS);
            let mut r = if self.lower { (j / w) * w } else { 0 };
            while r < self.m {
                let rows = (self.m - r).min(ROWS * w);
                match (rows.div_ceil(w), cols) {
                    (4, 4) => self.tile::<S, 4, 4>(simd, r, rows, j),
                    (3, 4) => self.tile::<S, 3, 4>(simd, r, rows, j),
                    (2, 4) => self.tile::<S, 2, 4>(simd, r, rows, j),
                    (1, 4) => self.tile::<S, 1, 4>(simd, r, rows, j),
                    (v, c) => {
                        for p in 0..v {
                            let (r0, len) = (r + p * w, (rows - p * w).min(w));
                            match c {
                                1 => self.tile::<S, 1, 1>(simd, r0, len, j),
                                2 => self.tile::<S, 1, 2>(simd, r0, len, j),
                                _ => self.tile::<S, 1, 3>(simd, r0, len, j),
                            }
                        }
                    }
                }
                r += rows;
            }
            j += cols;
        }
    }
}

impl Product<'_> {
    /// Rows r..r + `rows` (at most R lane vectors, the last possibly partial) of columns
    /// j..j + C: R·C accumulators summed over k in order.
    #[inline(always)]
    fn tile<S: Simd, const R: usize, const C: usize>(
        &mut self,
        simd: S,
        r: usize,
        rows: usize,
        j: usize,
    ) {
        let w = S::F64_LANES;
        let span = |p: usize| (p * w)..((p + 1) * w).min(rows);
        let mut acc = [[simd.splat_f64s(0.0); C]; R];
        let (a, b, bj) = (&self.a[r..], &self.b[j * self.bj..], self.bj);
        if rows == R * w {
            // Whole lane vectors: plain loads, no per-load length test.
            for k in 0..self.kdim {
                let col = &a[k * self.lda..k * self.lda + R * w];
                let av = S::as_simd_f64s(col).0;
                let bk = &b[k * self.bk..];
                for c in 0..C {
                    let bv = simd.splat_f64s(bk[c * bj]);
                    for p in 0..R {
                        acc[p][c] = simd.mul_add_e_f64s(av[p], bv, acc[p][c]);
                    }
                }
            }
        } else {
            for k in 0..self.kdim {
                let col = &a[k * self.lda..k * self.lda + rows];
                let av: [S::f64s; R] = std::array::from_fn(|p| load(simd, &col[span(p)]));
                let bk = &b[k * self.bk..];
                for c in 0..C {
                    let bv = simd.splat_f64s(bk[c * bj]);
                    for p in 0..R {
                        acc[p][c] = simd.mul_add_e_f64s(av[p], bv, acc[p][c]);
                    }
                }
            }
        }
        for (c, column) in (0..C).zip(j..) {
            let start = column * self.ldd + r;
            let out = &mut self.d[start..start + rows];
            for p in 0..R {
                store(simd, &mut out[span(p)], acc[p][c]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};

    /// Uniform values in (−1, 1).
    fn values(rng: &mut StdRng, n: usize) -> Vec<f64> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    /// Σₖ x(k)y(k) in order k = 0, 1, … by fused multiply-adds from zero: the sum the product
    /// promises for every entry, so the comparison is exact.
    fn dot(len: usize, x: impl Fn(usize) -> f64, y: impl Fn(usize) -> f64) -> f64 {
        (0..len).fold(0.0, |acc, k| x(k).mul_add(y(k), acc))
    }

    /// W S Wᵀ and W μ at every shape class of the tiles (fan-in and fan-out of 1 to 64, whole and
    /// partial lane vectors and column blocks, a W viewed with a column stride above its rows)
    /// against the in-order fused sums, bit for bit; Σ' symmetric, its lower triangle the sums
    /// of T Wᵀ with T the in-order W S.
    #[test]
    fn products_are_the_in_order_sums() {
        let mut rng = StdRng::seed_from_u64(16);
        for (n_out, n_in) in [
            (1, 1),
            (3, 5),
            (8, 8),
            (13, 7),
            (31, 33),
            (40, 64),
            (64, 64),
            (64, 9),
        ] {
            let wv = values(&mut rng, n_out * n_in);
            let big = Mat::from_fn(n_out + 3, n_in, |i, j| {
                if i < n_out {
                    wv[j * n_out + i]
                } else {
                    0.0
                }
            });
            let w = big.as_ref().subrows(0, n_out);
            let sv = values(&mut rng, n_in * n_in);
            let s = Mat::from_fn(n_in, n_in, |i, j| sv[i.max(j) * n_in + i.min(j)]);
            let mu = values(&mut rng, n_in);
            let mut mean = vec![f64::NAN; n_out];
            mean_into(w, &mu, &mut mean);
            let mut t = Mat::new();
            let mut out = Mat::from_fn(n_out, n_out, |_, _| f64::NAN);
            cov_into(w, s.as_ref(), &mut t, out.as_mut());
            let t_want = Mat::from_fn(n_out, n_in, |i, j| dot(n_in, |k| w[(i, k)], |k| s[(k, j)]));
            for i in 0..n_out {
                assert_eq!(
                    mean[i],
                    dot(n_in, |k| w[(i, k)], |k| mu[k]),
                    "{n_out}×{n_in} mean {i}"
                );
                for j in 0..=i {
                    let want = dot(n_in, |k| t_want[(i, k)], |k| w[(j, k)]);
                    assert_eq!(out[(i, j)], want, "{n_out}×{n_in} entry ({i}, {j})");
                    assert_eq!(out[(j, i)], want, "{n_out}×{n_in} mirror ({j}, {i})");
                }
            }
        }
    }
}
