//! Cholesky factors restricted to the support of a covariance: the rows that are not
//! identically zero.
//!
//! A coordinate that is constant in a class (MNIST's border pixels: 222–345 of 784 per class
//! in the test set) has a zero row and column in that class's Σ. With the ridge λ on the
//! diagonal, Σ + λI is then block diagonal after a permutation, `[Σ_SS + λI, 0; 0, λI]` for the
//! support S and its complement Z, and its lower Cholesky factor is `L_SS` ⊕ √λ I: every
//! product of the right-looking factorization that touches a row of Z multiplies an exact zero.
//! So, exactly,
//!
//! ```text
//! ln det(Σ + λI)       = ln det(Σ_SS + λI) + |Z| ln λ
//! (Δμ)ᵀ(Σ + λI)⁻¹ Δμ  = ‖L_SS⁻¹ Δμ_S‖² + Σ_{i∈Z} Δμᵢ² / λ,
//! ```
//!
//! and the O(N³) factorization runs on |S| rows instead of N (the pair averages of MNIST's
//! input: 506–623 of 784 rows, 0.25–0.5 of the flops). The factor of the support is the same
//! factorization of the same entries, its blocks placed differently, so the results move by
//! rounding only.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt::factor::{cholesky_in_place, cholesky_in_place_scratch};
use faer::linalg::triangular_solve::solve_lower_triangular_in_place;
use faer::reborrow::ReborrowMut;
use faer::{Col, ColRef, Mat, MatMut, MatRef, Par};
use pulp::{Simd, WithSimd};

use crate::simd::column_finite;
use crate::stats::Runs;

/// Whether row i of the symmetric Σ (its lower triangle: Σᵢⱼ for j ≤ i and Σⱼᵢ for j > i) is
/// identically zero, for every i — or `None` when Σ has a non-finite entry anywhere (its upper
/// triangle included). One pass over the columns: each column is scanned for non-finite
/// entries, then, while it is in cache, read below its diagonal if that diagonal is zero and at
/// the rows whose diagonal is zero below it (a zero row's entries left of its diagonal). The
/// class information's finite check and its null rows used to read every class covariance
/// once each (MNIST: ten 784² matrices, 49 MB, twice).
pub(super) fn finite_null_rows(s: MatRef<'_, f64>) -> Option<Vec<bool>> {
    let n = s.nrows();
    let mut null: Vec<bool> = (0..n).map(|i| s[(i, i)] == 0.0).collect();
    let candidates: Vec<usize> = (0..n).filter(|&i| null[i]).collect();
    for j in 0..n {
        if !column_finite(s, j) {
            return None;
        }
        let col = s.col(j);
        if null[j] && !col.subrows(j + 1, n - j - 1).iter().all(|&v| v == 0.0) {
            null[j] = false;
        }
        let first = candidates.partition_point(|&i| i <= j);
        for &i in &candidates[first..] {
            if col[i] != 0.0 {
                null[i] = false;
            }
        }
    }
    Some(null)
}

/// The rows i with `null(i)` false, as runs of consecutive rows.
pub(super) fn support(n: usize, null: impl Fn(usize) -> bool) -> Runs {
    let mut runs = Runs::default();
    runs.set_rows((0..n).filter(|&i| !null(i)));
    runs
}

/// Overwrites the leading m × m block of `l` (m = `support.len()`, `l` at least that large)
/// with the lower Cholesky factor of (Σₖ wₖ Cₖ)\[S, S\] + λI, S the rows of `support`, factored
/// in place on `par`; false if that is not positive definite. Only the lower triangles of the
/// Cₖ are read, and only the lower triangle of the block is written (its upper part is left as
/// it was: `l` may be a reused work matrix). Each entry is the sum `(0 + w₁x₁) + w₂x₂ …` in the
/// same order whatever the support: with the weights ½, ½ the pair average ½(C₁ + C₂) exactly as
/// ½C₁ + ½C₂ rounds it (halving is exact).
pub(super) fn lower_cholesky_on(
    l: MatMut<'_, f64>,
    parts: &[(f64, MatRef<'_, f64>)],
    support: &Runs,
    lambda: f64,
    par: Par,
) -> bool {
    let m = support.len();
    let mut l = l.submatrix_mut(0, 0, m, m);
    // The parts' columns are read as slices: a part with strided rows is copied once.
    let copies: Vec<Option<Mat<f64>>> = parts
        .iter()
        .map(|(_, c)| (c.row_stride() != 1).then(|| c.to_owned()))
        .collect();
    let parts: Vec<(f64, MatRef<'_, f64>)> = parts
        .iter()
        .zip(&copies)
        .map(|(&(w, c), copy)| (w, copy.as_ref().map_or(c, Mat::as_ref)))
        .collect();
    crate::simd::dispatch(SupportSum {
        l: l.rb_mut(),
        parts: &parts,
        runs: support.runs(),
        lambda,
    });
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<f64>(m, par, Default::default()));
    cholesky_in_place(
        l,
        Default::default(),
        par,
        MemStack::new(&mut mem),
        Default::default(),
    )
    .is_ok()
}

/// ‖L_SS⁻¹ (b − a)_S‖² + Σ_{i∉S} (bᵢ − aᵢ)² / λ: the Mahalanobis distance of b from a under
/// Σ + λI, from the factor `l` of its support S (see the module docs; λ > 0 when S is not
/// every row).
pub(super) fn mahalanobis_sq_on(
    l: MatRef<'_, f64>,
    (a, b): (ColRef<'_, f64>, ColRef<'_, f64>),
    support: &Runs,
    lambda: f64,
    par: Par,
) -> f64 {
    let mut y = Col::<f64>::zeros(support.len());
    let mut k = 0;
    let mut outside = 0.0;
    let mut next = 0;
    for &(start, len) in support.runs() {
        for i in next..start {
            outside += (b[i] - a[i]) * (b[i] - a[i]) / lambda;
        }
        for i in start..start + len {
            y[k] = b[i] - a[i];
            k += 1;
        }
        next = start + len;
    }
    for i in next..a.nrows() {
        outside += (b[i] - a[i]) * (b[i] - a[i]) / lambda;
    }
    solve_lower_triangular_in_place(l, y.as_mat_mut(), par);
    y.iter().map(|v| v * v).sum::<f64>() + outside
}

/// The kernel of [`lower_cholesky_on`]: column k of the support's block (source column
/// c = the k-th row of the support) gets, at the support's rows from its diagonal on, the
/// weighted sum of the parts' column c — run by run, as plain loops inside `with_simd`
/// (vectorised by the compiler for the instruction set pulp dispatches to) — and λ on its
/// diagonal. The parts' columns are looked up once per column and the runs wholly above the
/// diagonal skipped once (the first run reaching it only moves down as k grows), not per run.
struct SupportSum<'a> {
    l: MatMut<'a, f64>,
    parts: &'a [(f64, MatRef<'a, f64>)],
    runs: &'a [(usize, usize)],
    lambda: f64,
}

impl WithSimd for SupportSum<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(mut self, _simd: S) {
        let mut columns: Vec<(f64, &[f64])> = Vec::with_capacity(self.parts.len());
        // The first run that reaches position k, and its first position.
        let (mut first, mut first_at) = (0, 0);
        let mut k = 0;
        for &(start_c, len_c) in self.runs {
            for c in start_c..start_c + len_c {
                let out = &mut self
                    .l
                    .rb_mut()
                    .col_mut(k)
                    .try_as_col_major_mut()
                    .expect("a column of a work matrix is contiguous")
                    .as_slice_mut()[k..];
                columns.clear();
                columns.extend(self.parts.iter().map(|(w, p)| {
                    let col = p
                        .col(c)
                        .try_as_col_major()
                        .expect("the parts' columns are contiguous")
                        .as_slice();
                    (*w, col)
                }));
                while first_at + self.runs[first].1 <= k {
                    first_at += self.runs[first].1;
                    first += 1;
                }
                // Position a of the support is row `start + (a − at)` of the run starting at
                // position `at`; the lower triangle takes the positions ≥ k.
                let (mut at, mut o) = (first_at, 0);
                for &(start, len) in &self.runs[first..] {
                    let skip = k.saturating_sub(at);
                    let rows = start + skip..start + len;
                    let n = rows.len();
                    weighted_sum(&mut out[o..o + n], &columns, rows);
                    o += n;
                    at += len;
                }
                out[0] += self.lambda;
                k += 1;
            }
        }
    }
}

/// out = Σₖ wₖ xₖ\[rows\] over the parts' columns xₖ, each entry as `(0 + w₁x₁) + w₂x₂ …` (the
/// first term as the sum a zeroed `out` would start). Two terms (a pair average) in one pass
/// over `out`, with the same two roundings per entry: the pass is bound by memory (784²
/// matrices do not fit in the caches).
#[inline(always)]
fn weighted_sum(out: &mut [f64], parts: &[(f64, &[f64])], rows: std::ops::Range<usize>) {
    let Some((&(w0, first), rest)) = parts.split_first() else {
        out.fill(0.0);
        return;
    };
    let first = &first[rows.clone()];
    if let [(w1, second)] = rest {
        for ((o, x), y) in out.iter_mut().zip(first).zip(&second[rows]) {
            *o = (0.0 + w0 * x) + w1 * y;
        }
        return;
    }
    for (o, x) in out.iter_mut().zip(first) {
        *o = 0.0 + w0 * x;
    }
    for (w, col) in rest {
        for (o, x) in out.iter_mut().zip(&col[rows.clone()]) {
            *o += w * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::gaussian::factor::{cholesky_with, log_det};

    /// A symmetric, diagonally dominant n × n matrix whose rows and columns in `zero` are 0.
    fn with_zero_rows(n: usize, seed: usize, zero: &[usize]) -> Mat<f64> {
        Mat::from_fn(n, n, |i, j| {
            if zero.contains(&i) || zero.contains(&j) {
                0.0
            } else if i == j {
                2.0 + 0.1 * ((i * 7 + seed) % 5) as f64
            } else {
                0.15 * (((i + j) * 3 + seed) % 7) as f64 / 7.0 - 0.05
            }
        })
    }

    /// Gershgorin's bound on the condition number of a symmetric matrix.
    fn gershgorin_condition(a: MatRef<'_, f64>) -> f64 {
        let n = a.nrows();
        let off = |i: usize| {
            (0..n)
                .filter(|&j| j != i)
                .map(|j| a[(i, j)].abs())
                .sum::<f64>()
        };
        let lo = (0..n)
            .map(|i| a[(i, i)] - off(i))
            .fold(f64::INFINITY, f64::min);
        let hi = (0..n).map(|i| a[(i, i)] + off(i)).fold(0.0, f64::max);
        assert!(lo > 0.0, "the test matrix is not diagonally dominant");
        hi / lo
    }

    /// A zero row is found from the lower triangle alone: a row whose column below the
    /// diagonal is zero but which has an entry left of the diagonal is not null, nor is one
    /// with a zero diagonal and an entry below it.
    #[test]
    fn null_rows_read_the_lower_triangle() {
        let mut s = with_zero_rows(9, 1, &[0, 3, 4, 8]);
        assert_eq!(
            finite_null_rows(s.as_ref()).unwrap(),
            [true, false, false, true, true, false, false, false, true]
        );
        s[(4, 2)] = 1e-300; // left of row 4's diagonal
        s[(7, 3)] = -1e-300; // below row 3's diagonal
        assert_eq!(
            finite_null_rows(s.as_ref()).unwrap(),
            [true, false, false, false, false, false, false, false, true]
        );
        let runs = support(9, |i| [0, 8].contains(&i));
        assert_eq!(runs.runs(), [(1, 7)]);
    }

    /// The factor of the support is the dense factor of Σ + λI restricted to S × S, to the
    /// forward error of Cholesky (κ · γ_{n+1} · max |L|, κ by Gershgorin), and the dense
    /// factor's rows outside S are √λ on the diagonal (to rounding) and exactly 0 elsewhere. ln det and the
    /// Mahalanobis distance agree to the rounding of their n-term sums and of that factor.
    #[test]
    fn the_support_factor_is_the_dense_factor_restricted() {
        let n = 23;
        let lambda = 1e-3;
        let zero_a = [0, 1, 5, 6, 7, 15, 22];
        let zero_b = [0, 1, 2, 7, 15, 16, 22];
        let (a, b) = (with_zero_rows(n, 2, &zero_a), with_zero_rows(n, 5, &zero_b));
        let both: Vec<usize> = zero_a
            .iter()
            .copied()
            .filter(|i| zero_b.contains(i))
            .collect();
        let avg = Mat::from_fn(n, n, |i, j| 0.5 * a[(i, j)] + 0.5 * b[(i, j)]);
        let ridged = &avg + Mat::<f64>::identity(n, n) * lambda;
        let dense = cholesky_with(avg.as_ref(), lambda, Par::Seq).unwrap();
        let s = support(n, |i| both.contains(&i));
        let m = s.len();
        assert_eq!(m, n - both.len());
        let mut work = Mat::from_fn(n, n, |_, _| f64::NAN);
        let parts = [(0.5, a.as_ref()), (0.5, b.as_ref())];
        assert!(lower_cholesky_on(
            work.as_mut(),
            &parts,
            &s,
            lambda,
            Par::Seq
        ));
        let l = work.as_ref().submatrix(0, 0, m, m);
        let rows: Vec<usize> = (0..n).filter(|i| !both.contains(i)).collect();
        let scale = dense.norm_max();
        let tol = 4.0 * gershgorin_condition(ridged.as_ref()) * (n + 1) as f64 * f64::EPSILON;
        for (q, &j) in rows.iter().enumerate() {
            for (p, &i) in rows.iter().enumerate().skip(q) {
                assert!(
                    (l[(p, q)] - dense[(i, j)]).abs() <= tol * scale,
                    "({i}, {j}): {} vs {}",
                    l[(p, q)],
                    dense[(i, j)]
                );
            }
        }
        for &z in &both {
            // faer's pivot √λ, rounded its own way: within 2 ulps of λ.sqrt().
            assert!((dense[(z, z)] - lambda.sqrt()).abs() <= 4.0 * f64::EPSILON * lambda.sqrt());
            assert!((0..n)
                .filter(|&j| j != z)
                .all(|j| dense[(z, j)] == 0.0 && dense[(j, z)] == 0.0));
        }
        let ld_dense = log_det(dense.as_ref());
        let ld = log_det(l) + both.len() as f64 * lambda.ln();
        let magnitude: f64 = (0..n).map(|i| 2.0 * dense[(i, i)].ln().abs()).sum();
        assert!(
            (ld - ld_dense).abs() <= (tol + n as f64 * f64::EPSILON) * magnitude,
            "{ld} vs {ld_dense}"
        );

        let ma = Col::from_fn(n, |i| (i as f64 * 0.3).sin());
        let mb = Col::from_fn(n, |i| (i as f64 * 0.7).cos());
        let mut y = Col::from_fn(n, |i| mb[i] - ma[i]);
        solve_lower_triangular_in_place(dense.as_ref(), y.as_mat_mut(), Par::Seq);
        let terms: Vec<f64> = y.iter().map(|v| v * v).collect();
        let maha_dense: f64 = terms.iter().sum();
        let maha = mahalanobis_sq_on(l, (ma.as_ref(), mb.as_ref()), &s, lambda, Par::Seq);
        assert!(
            (maha - maha_dense).abs() <= 2.0 * (tol + n as f64 * f64::EPSILON) * maha_dense,
            "{maha} vs {maha_dense}"
        );
    }

    /// The stage-wide split with zero rows shared by some classes (a pair's support smaller
    /// than N, so its ln λ terms are taken together): every pair equals the dense two-class
    /// split of the ridged covariances to the rounding of its terms (each ln det a sum of N
    /// logs, Cholesky's forward error κ · γ_{N+1}).
    #[test]
    fn the_split_on_supports_equals_the_dense_split() {
        use crate::stats::gaussian::{bhattacharyya, pairwise_bhattacharyya};
        let n = 17;
        let zeros: [&[usize]; 3] = [&[0, 1, 4, 16], &[0, 1, 2, 16], &[3, 16]];
        let covs: Vec<Mat<f64>> = zeros
            .iter()
            .enumerate()
            .map(|(c, z)| with_zero_rows(n, c, z))
            .collect();
        let means: Vec<Col<f64>> = (0..3)
            .map(|c| Col::from_fn(n, |i| ((c * n + i) as f64 * 0.7).cos()))
            .collect();
        let classes: Vec<(ColRef<'_, f64>, MatRef<'_, f64>)> = means
            .iter()
            .zip(&covs)
            .map(|(m, s)| (m.as_ref(), s.as_ref()))
            .collect();
        let split = pairwise_bhattacharyya(&classes, 1e-4).unwrap();
        let lambda = split.jitter;
        assert!(lambda > 0.0);
        let ridged: Vec<Mat<f64>> = covs
            .iter()
            .map(|s| s + Mat::<f64>::identity(n, n) * lambda)
            .collect();
        let kappa = ridged
            .iter()
            .map(|r| gershgorin_condition(r.as_ref()))
            .fold(0.0, f64::max);
        let tol = 4.0 * kappa * (n + 1) as f64 * f64::EPSILON;
        for &(a, b, d) in &split.pairs {
            let dense = bhattacharyya(
                means[a].as_ref(),
                ridged[a].as_ref(),
                means[b].as_ref(),
                ridged[b].as_ref(),
                0.0,
            )
            .unwrap();
            // The cancelling ln λ terms set the scale of the covariance term's rounding.
            let cancel = 2.0 * n as f64 * lambda.ln().abs();
            assert!(
                (d.cov_term - dense.cov_term).abs() <= tol * cancel,
                "({a}, {b}): {} vs {}",
                d.cov_term,
                dense.cov_term
            );
            assert!(
                (d.mean_term - dense.mean_term).abs() <= 2.0 * tol * dense.mean_term,
                "({a}, {b}): {} vs {}",
                d.mean_term,
                dense.mean_term
            );
        }
    }
}
