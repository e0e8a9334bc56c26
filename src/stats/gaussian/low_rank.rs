//! A sampling factor F (d × r) of a positive semidefinite Σ from a pivoted (rank-revealing)
//! Cholesky: P Σ Pᵀ = L Lᵀ + S with L of r columns and the Schur complement S left out once its
//! largest diagonal falls below the tolerance τ = d·ε·maxᵢ Σᵢᵢ (LAPACK `dpstrf`'s default,
//! Higham, *Accuracy and Stability of Numerical Algorithms*, 2nd ed., §10.3; faer's
//! `llt_pivoting`). F = Pᵀ L, so F Fᵀ = Σ − Pᵀ S P with 0 ≤ Sᵢᵢ < τ: the draws μ + F z (z ~ N(0,
//! I_r)) leave out only directions whose variance is at the rounding level of Σ — MNIST's
//! constant pixels and the exact linear dependencies between rarely-lit ones.
//!
//! The factor runs on the support only, the m ≤ d coordinates with variance (MNIST's class
//! covariances have 230–350 constant pixels of 784), with the d × d factor's τ kept (see
//! [`LowRankFactor::new`]): cost ≈ (m³ − (m − r)³)/3 flops ([`flops::pivoted_cholesky`])
//! against 10d³/3 for the eigendecomposition of [`super::GaussianSampler`], and r ≤ m normals
//! per draw instead of d.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt_pivoting::factor::{
    cholesky_in_place, cholesky_in_place_scratch, PivLltParams,
};
use faer::reborrow::{Reborrow, ReborrowMut};
use faer::{Mat, MatMut, MatRef, Par, Spec};

use crate::error::{Error, Result};
use crate::linalg::with_work;
use crate::simd::column_finite;
use crate::timing::flops;

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
    /// The flops of the factorisation done (on the support, to faer's stop).
    flops: f64,
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
        // The support: the rows with variance, in their order (a NaN diagonal among them, to be
        // refused by the scan below).
        let support: Vec<usize> = (0..d)
            .filter(|&i| cov[(i, i)] > 0.0 || cov[(i, i)].is_nan())
            .collect();
        if support.is_empty() {
            if !(0..d).all(|j| column_finite(cov, j)) {
                return Err(non_finite());
            }
            // Σ = 0 (constant data): no direction to draw; faer would divide by the zero pivot.
            return Ok(LowRankFactor {
                factor: Mat::zeros(d, 0),
                residual: 0.0,
                flops: 0.0,
            });
        }
        // The factorisation overwrites its copy of Σ on the support (the m rows and columns
        // with variance, in their order): formed in the leading m × m block of this thread's
        // d × d work matrix (the one the class information's factors keep; an m × m one would
        // be a fresh allocation for each class's m). The silent rows would otherwise ride along
        // in every trailing update of the d × d factor without ever being pivoted.
        let m = support.len();
        with_work(d, d, |work| {
            let mut next = 0;
            for j in 0..d {
                // Column j is scanned for non-finite entries (all of it, the upper part and the
                // silent columns too) right before its support rows are gathered: the gather
                // reads it from the cache instead of from memory a second time.
                if !column_finite(cov, j) {
                    return Err(non_finite());
                }
                if support.get(next) != Some(&j) {
                    continue;
                }
                // Compact column c = next holds Σ's column j on the support rows from c on
                // (the lower triangle the factor reads), zeros above.
                let c = next;
                next += 1;
                let col = &mut work.col_as_slice_mut(c)[..m];
                col[..c].fill(0.0);
                let src = cov.col(j);
                let rows = col[c..].iter_mut().zip(&support[c..]);
                match src.try_as_col_major() {
                    Some(s) => {
                        let s = s.as_slice();
                        rows.for_each(|(v, &i)| *v = s[i]);
                    }
                    None => rows.for_each(|(v, &i)| *v = src[i]),
                }
            }
            let a = work.as_mut().submatrix_mut(0, 0, m, m);
            Self::factor_in_place(a, &support, d, par, what)
        })
    }

    /// The factor of `a`, Σ's compact copy on the rows `support` of the d (lower triangle;
    /// overwritten), see [`LowRankFactor::new`]. faer's stop is τ' = m·ε·maxᵢ Σᵢᵢ, below the
    /// d × d factor's τ = d·ε·maxᵢ Σᵢᵢ, so its run may go on past where that one stopped; each
    /// pivot is the largest diagonal of the Schur complement at its step (L_jj² = that
    /// diagonal), so the d × d run stops at the first j > 0 with L_jj² < τ, and the factor is
    /// cut there: the same τ, the same rank.
    fn factor_in_place(
        mut a: MatMut<'_, f64>,
        support: &[usize],
        d: usize,
        par: Par,
        what: &str,
    ) -> Result<Self> {
        let m = a.nrows();
        let largest = (0..m).map(|i| a[(i, i)]).fold(0.0, f64::max);
        // faer's expression for the d × d matrix (`eps * n * ajj`, evaluated left to right).
        let tau = f64::EPSILON * d as f64 * largest;
        let (mut perm, mut perm_inv) = (vec![0usize; m], vec![0usize; m]);
        let mut params: Spec<PivLltParams, f64> = Default::default();
        params.config.block_size = PIVOT_BLOCK;
        let mut mem = MemBuffer::new(cholesky_in_place_scratch::<usize, f64>(m, par, params));
        let (info, _) = cholesky_in_place(
            a.rb_mut(),
            &mut perm,
            &mut perm_inv,
            par,
            MemStack::new(&mut mem),
            params,
        )
        .map_err(|e| Error::Numeric(format!("{what}: pivoted Cholesky failed: {e:?}")))?;
        let done = info.rank;
        let r = (1..done)
            .find(|&j| below_tolerance(a[(j, j)], tau))
            .unwrap_or(done);
        // The largest variance left out: at a cut, the pivot faer went on with (its square
        // root's square, within 2 ulp); at faer's own stop, the diagonal it left in place.
        let residual = if r < done {
            a[(r, r)] * a[(r, r)]
        } else if r < m {
            a[(r, r)].max(0.0)
        } else {
            0.0
        };
        // Zeroed once, padding rows included, and each column scattered into while it is in
        // cache, by the task that zeroed it ([`crate::io::par_zeros_then`]; MNIST's class
        // factors: 784 × ~550, 3.4 MB each, eleven per `analyze`).
        let a = a.rb();
        let factor = crate::io::par_zeros_then(d, r, |k, dst: &mut [f64]| {
            let src = a.col(k);
            for (i, &row) in perm.iter().enumerate().skip(k) {
                dst[support[row]] = src[i];
            }
        });
        Ok(LowRankFactor {
            factor,
            residual,
            flops: flops::pivoted_cholesky(m, done),
        })
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

    /// The flops of the pivoted Cholesky done: [`flops::pivoted_cholesky`] of the m rows with
    /// variance, to the step faer stopped at (at or past [`LowRankFactor::rank`]).
    pub fn flops(&self) -> f64 {
        self.flops
    }
}

/// Whether a pivot L_jj = fl(√a) has a < τ (the d × d factor's stop): decided by the correctly
/// rounded, monotone square root against fl(√τ) (L_jj < fl(√τ) ⇒ a < τ, L_jj > fl(√τ) ⇒ a > τ),
/// and only where L_jj equals fl(√τ) to the bit by the square L_jj² < τ (a within 2 ulp of τ).
fn below_tolerance(pivot: f64, tau: f64) -> bool {
    let root = tau.sqrt();
    pivot < root || (pivot == root && pivot * pivot < tau)
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

    /// Σ with zero rows scattered among the varying ones (d = 12, m = 7 on the support
    /// {1, 2, 5, 6, 7, 9, 10}; Σ there = G Gᵀ + I, full rank, unequal variances so the pivots
    /// permute): F keeps the m directions, its zero rows are exactly the constant coordinates,
    /// F Fᵀ = Σ within the rounding bound |F Fᵀ − Σ| ≤ (γ_{m+1} + γ_m) (|F| |F|ᵀ) (Higham,
    /// Thm 10.3, for the factor on the support, plus the product formed here with m terms,
    /// γ_n = nε/(1 − nε)), and the flops counted are those of the m × m factor.
    #[test]
    fn zero_rows_scattered_in_the_covariance_are_left_out_and_placed_back() {
        let (d, support) = (12, [1usize, 2, 5, 6, 7, 9, 10]);
        let m = support.len();
        let g = Mat::from_fn(m, m, |i, k| {
            ((i * 5 + k * 3) % 7) as f64 - 3.0 + 0.25 * i as f64
        });
        let compact = &g * g.transpose() + Mat::<f64>::identity(m, m);
        let mut sigma = Mat::<f64>::zeros(d, d);
        for (a, &i) in support.iter().enumerate() {
            for (b, &j) in support.iter().enumerate() {
                sigma[(i, j)] = compact[(a, b)];
            }
        }
        let f = LowRankFactor::new(sigma.as_ref(), Par::Seq, "test").unwrap();
        assert_eq!((f.rank(), f.dropped(), f.residual()), (m, d - m, 0.0));
        assert_eq!(f.flops(), flops::pivoted_cholesky(m, m));
        for i in (0..d).filter(|i| !support.contains(i)) {
            assert!(f.factor().row(i).iter().all(|&v| v == 0.0), "row {i}");
        }
        let gamma = |n: usize| n as f64 * f64::EPSILON / (1.0 - n as f64 * f64::EPSILON);
        let back = f.factor() * f.factor().transpose();
        let abs = f.factor().to_owned();
        let abs = Mat::from_fn(d, m, |i, k| abs[(i, k)].abs());
        let bound = &abs * abs.transpose() * (gamma(m + 1) + gamma(m));
        for i in 0..d {
            for j in 0..d {
                let err = (back[(i, j)] - sigma[(i, j)]).abs();
                assert!(
                    err <= bound[(i, j)],
                    "({i},{j}): {} vs {}, bound {}",
                    back[(i, j)],
                    sigma[(i, j)],
                    bound[(i, j)]
                );
            }
        }
    }

    /// The stop stays the d × d factor's τ = d·ε·max Σᵢᵢ, not the m × m run's m·ε·max Σᵢᵢ:
    /// d = 100 with variance on two coordinates, Σ₃₃ = 1 and Σ₅₇,₅₇ = 64ε = 2⁻⁴⁶ (2ε < 64ε <
    /// 100ε, and √(2⁻⁴⁶) = 2⁻²³ is exact): the second direction is dropped, as the d × d
    /// factor drops it, with its variance as the residual.
    #[test]
    fn the_tolerance_is_the_full_size_one() {
        let d = 100;
        let small = 64.0 * f64::EPSILON;
        let sigma = Mat::from_fn(d, d, |i, j| match (i, j) {
            (3, 3) => 1.0,
            (57, 57) => small,
            _ => 0.0,
        });
        let f = LowRankFactor::new(sigma.as_ref(), Par::Seq, "test").unwrap();
        assert_eq!((f.rank(), f.dropped(), f.residual()), (1, 99, small));
        assert_eq!(f.factor()[(3, 0)], 1.0);
        // faer's run on the support went on to m = 2 (its own τ' = 2ε·1 is below 64ε).
        assert_eq!(f.flops(), flops::pivoted_cholesky(2, 2));
        // Just above τ the direction is kept.
        let kept = Mat::from_fn(d, d, |i, j| match (i, j) {
            (3, 3) => 1.0,
            (57, 57) => 128.0 * f64::EPSILON,
            _ => 0.0,
        });
        let f = LowRankFactor::new(kept.as_ref(), Par::Seq, "test").unwrap();
        assert_eq!((f.rank(), f.residual()), (2, 0.0));
    }

    /// The stop's comparison L_jj² < τ through fl(√τ): exact on either side of it.
    #[test]
    fn below_tolerance_decides_by_the_rounded_root() {
        let tau = 100.0 * f64::EPSILON;
        let root = tau.sqrt();
        assert!(below_tolerance(root * 0.5, tau));
        assert!(!below_tolerance(root * 2.0, tau));
        let exact = 64.0 * f64::EPSILON;
        assert!(!below_tolerance(exact.sqrt(), exact));
        assert!(below_tolerance(
            exact.sqrt(),
            exact * (1.0 + 2.0 * f64::EPSILON)
        ));
    }
}
