//! A sampling factor F (d × r) of a positive semidefinite Σ from a pivoted (rank-revealing)
//! Cholesky: P Σ Pᵀ = L Lᵀ + S with L of r columns and the Schur complement S left out once its
//! largest diagonal falls below the tolerance τ = d·ε·maxᵢ Σᵢᵢ (LAPACK `dpstrf`'s default,
//! Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §10.3; faer's
//! `llt_pivoting`). F = Pᵀ L, so F Fᵀ = Σ − Pᵀ S P with 0 ≤ Sᵢᵢ < τ: the draws μ + F z (z ~ N(0,
//! I_r)) leave out only directions whose variance is at the rounding level of Σ — MNIST's
//! constant pixels and the exact linear dependencies between rarely-lit ones.
//!
//! Cost ≈ (d³ − (d − r)³)/3 flops ([`flops::pivoted_cholesky`](crate::timing::flops::pivoted_cholesky)) against 10d³/3 for the
//! eigendecomposition of [`super::GaussianSampler`], and r ≤ d normals per draw instead of d.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt_pivoting::factor::{
    cholesky_in_place, cholesky_in_place_scratch, PivLltParams,
};
use faer::{Mat, MatRef, Par, Spec};

use crate::error::{Error, Result};
use crate::linalg::with_work;
use crate::simd::all_finite;

/// Columns per block of the pivoted Cholesky. Within a block each new column is updated by the
/// block's earlier columns one matrix–vector product at a time (the pivot needs the updated
/// diagonal, LAPACK `dpstrf`'s scheme), ≈ d²·b/2 flops at memory speed; the rest is the
/// trailing rank-b update at GEMM speed. faer's default b = 128 puts a quarter of the flops of
/// a 784² factor in the matrix–vector products; b = 32 a sixteenth, with rank-32 updates that
/// still run near the GEMM rate.
const PIVOT_BLOCK: usize = 32;

/// F = Pᵀ L (d × r) with F Fᵀ = Σ up to the directions dropped below the tolerance.
#[derive(Clone, Debug)]
pub struct LowRankFactor {
    factor: Mat<f64>,
    /// The largest diagonal of the Schur complement left out (0 at full rank).
    residual: f64,
}

impl LowRankFactor {
    /// Factors `cov` (only its lower triangle is read) on `par`. A variance Σᵢᵢ ≤ 0 (a constant
    /// coordinate, or rounding of one) makes row and column i zero, a direction without
    /// variance. Errors on a non-square or non-finite `cov`, naming `what`.
    pub fn new(cov: MatRef<'_, f64>, par: Par, what: &str) -> Result<Self> {
        let d = cov.nrows();
        if cov.ncols() != d {
            return Err(Error::Shape(format!(
                "{what}: a covariance must be square, got {d}×{}",
                cov.ncols()
            )));
        }
        let non_finite =
            || Error::Numeric(format!("{what}: the covariance has non-finite entries"));
        let silent: Vec<bool> = (0..d).map(|i| cov[(i, i)] <= 0.0).collect();
        if silent.iter().all(|&s| s) {
            if !(0..d).all(|j| column_finite(cov, j)) {
                return Err(non_finite());
            }
            // Σ = 0 (constant data): no direction to draw; faer would divide by the zero pivot.
            return Ok(LowRankFactor {
                factor: Mat::zeros(d, 0),
                residual: 0.0,
            });
        }
        // The factorisation overwrites its copy of Σ: formed in this thread's work matrix.
        let silent_rows: Vec<usize> = (0..d).filter(|&i| silent[i]).collect();
        with_work(d, d, |a| {
            for j in 0..d {
                // Column j is scanned for non-finite entries (all of it, the upper part too)
                // right before its lower part is copied: the copy reads it from the cache
                // instead of from memory a second time.
                if !column_finite(cov, j) {
                    return Err(non_finite());
                }
                let col = a.col_as_slice_mut(j);
                if silent[j] {
                    col.fill(0.0);
                    continue;
                }
                // Column j's lower part copied whole, then its silent rows and the upper part
                // zeroed: the entries the element-wise rule (0 where i < j or i, j silent, else
                // Σᵢⱼ) gives, by block copies.
                col[..j].fill(0.0);
                let src = cov.col(j).subrows(j, d - j);
                match src.try_as_col_major() {
                    Some(s) => col[j..].copy_from_slice(s.as_slice()),
                    None => col[j..]
                        .iter_mut()
                        .zip(src.iter())
                        .for_each(|(v, &x)| *v = x),
                }
                for &i in silent_rows.iter().filter(|&&i| i > j) {
                    col[i] = 0.0;
                }
            }
            Self::factor_in_place(a, par, what)
        })
    }

    /// The factor of the copy `a` (lower triangle; overwritten), see [`LowRankFactor::new`].
    fn factor_in_place(a: &mut Mat<f64>, par: Par, what: &str) -> Result<Self> {
        let d = a.nrows();
        let (mut perm, mut perm_inv) = (vec![0usize; d], vec![0usize; d]);
        let mut params: Spec<PivLltParams, f64> = Default::default();
        params.config.block_size = PIVOT_BLOCK;
        let mut mem = MemBuffer::new(cholesky_in_place_scratch::<usize, f64>(d, par, params));
        let (info, _) = cholesky_in_place(
            a.as_mut(),
            &mut perm,
            &mut perm_inv,
            par,
            MemStack::new(&mut mem),
            params,
        )
        .map_err(|e| Error::Numeric(format!("{what}: pivoted Cholesky failed: {e:?}")))?;
        let r = info.rank;
        let residual = if r < d { a[(r, r)].max(0.0) } else { 0.0 };
        let mut factor = Mat::zeros(d, r);
        for k in 0..r {
            let (src, mut dst) = (a.col(k), factor.col_mut(k));
            for (i, &row) in perm.iter().enumerate().skip(k) {
                dst[row] = src[i];
            }
        }
        Ok(LowRankFactor { factor, residual })
    }

    /// F (d × r).
    pub fn factor(&self) -> MatRef<'_, f64> {
        self.factor.as_ref()
    }

    /// r, the directions kept.
    pub fn rank(&self) -> usize {
        self.factor.ncols()
    }

    /// d − r, the directions left out.
    pub fn dropped(&self) -> usize {
        self.factor.nrows() - self.factor.ncols()
    }

    /// The largest variance left out: the largest diagonal of the Schur complement at the stop
    /// (below the tolerance; 0 at full rank).
    pub fn residual(&self) -> f64 {
        self.residual
    }
}

/// Whether column j of `cov` is finite: a contiguous column by [`all_finite`] on the SIMD lanes
/// (the element-wise scan through faer's strided iterator took ~1 % of an `analyze` run's CPU
/// on MNIST's eleven 784² factors), a strided one entry by entry.
fn column_finite(cov: MatRef<'_, f64>, j: usize) -> bool {
    let col = cov.col(j);
    match col.try_as_col_major() {
        Some(c) => all_finite(c.as_slice()),
        None => col.iter().all(|v| v.is_finite()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Σ = G Gᵀ of rank 3 in d = 6 with a zero (constant) coordinate: the factor has 3
    /// columns, reproduces Σ to rounding, and leaves the constant coordinate's row zero.
    #[test]
    fn factor_of_a_singular_covariance_has_its_rank_and_reproduces_it() {
        let (d, r) = (6, 3);
        let g = Mat::from_fn(d, r, |i, k| {
            if i == 2 {
                0.0
            } else {
                ((i * 7 + k * 3) % 5) as f64 - 1.7 + 0.3 * k as f64
            }
        });
        let sigma = &g * g.transpose();
        let f = LowRankFactor::new(sigma.as_ref(), Par::Seq, "test").unwrap();
        assert_eq!((f.rank(), f.dropped()), (3, 3));
        let back = f.factor() * f.factor().transpose();
        let scale = (0..d).map(|i| sigma[(i, i)]).fold(0.0, f64::max);
        for i in 0..d {
            for j in 0..d {
                assert!(
                    (back[(i, j)] - sigma[(i, j)]).abs() < 1e-12 * scale,
                    "({i},{j}): {} vs {}",
                    back[(i, j)],
                    sigma[(i, j)]
                );
            }
        }
        assert!(f.factor().row(2).iter().all(|&v| v == 0.0));
        assert!(f.residual() < d as f64 * f64::EPSILON * scale);
    }

    /// A positive definite Σ keeps every direction, a zero Σ none; bad shapes and entries are
    /// errors.
    #[test]
    fn full_rank_and_bad_input() {
        let d = 4;
        let sigma = Mat::from_fn(d, d, |i, j| if i == j { 2.0 } else { 0.5 });
        let f = LowRankFactor::new(sigma.as_ref(), Par::Seq, "test").unwrap();
        assert_eq!((f.rank(), f.residual()), (4, 0.0));
        let zero = LowRankFactor::new(Mat::<f64>::zeros(3, 3).as_ref(), Par::Seq, "test").unwrap();
        assert_eq!((zero.rank(), zero.dropped(), zero.residual()), (0, 3, 0.0));
        let bad = Mat::from_fn(2, 3, |_, _| 1.0);
        assert!(LowRankFactor::new(bad.as_ref(), Par::Seq, "test").is_err());
        let nan = Mat::from_fn(2, 2, |i, j| if i == j { f64::NAN } else { 0.0 });
        let e = LowRankFactor::new(nan.as_ref(), Par::Seq, "Σ_w").unwrap_err();
        assert!(e.to_string().contains("Σ_w"), "{e}");
    }

    /// A non-finite entry anywhere is refused, the strict upper triangle (which the factor
    /// never reads) included, after the first column or in a zero Σ, in a column-major Σ and in
    /// a strided view of it (the column scan runs beside the copy since ana23; the refusal must
    /// stay the whole-matrix one it replaced).
    #[test]
    fn a_non_finite_entry_anywhere_is_refused() {
        let d = 13;
        let spd = |i: usize, j: usize| {
            if i == j {
                3.0
            } else {
                0.1 / (1.0 + (i + j) as f64)
            }
        };
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for (i, j) in [(0, 0), (12, 12), (11, 2), (2, 11), (0, 12), (12, 0), (5, 6)] {
                let sigma =
                    Mat::from_fn(d, d, |a, b| if (a, b) == (i, j) { bad } else { spd(a, b) });
                for cov in [sigma.as_ref(), sigma.transpose()] {
                    let e = LowRankFactor::new(cov, Par::Seq, "Σ_c").unwrap_err();
                    assert!(
                        e.to_string().contains("non-finite"),
                        "({i}, {j}) {bad}: {e}"
                    );
                }
            }
            let zero = Mat::from_fn(4, 4, |a, b| if (a, b) == (0, 3) { bad } else { 0.0 });
            assert!(LowRankFactor::new(zero.as_ref(), Par::Seq, "Σ_c").is_err());
        }
        let sigma = Mat::from_fn(d, d, spd);
        let (f, g) = (
            LowRankFactor::new(sigma.as_ref(), Par::Seq, "Σ_c").unwrap(),
            LowRankFactor::new(sigma.transpose(), Par::Seq, "Σ_c").unwrap(),
        );
        assert_eq!(f.rank(), d);
        assert_eq!(f.factor(), g.factor());
    }
}
