//! Error measures for theory vs empirical (DESIGN.md §4.1).

use faer::{ColRef, MatRef};
use pulp::{Simd, WithSimd};

use crate::error::{Error, Result};
use crate::simd::dispatch;
use crate::stats::batch::col;

/// Independent accumulators per lane block in [`SquareSums`], so that the additions do not
/// wait on each other.
const CHAINS: usize = 4;

/// ‖A − B‖_F / ‖B‖_F (B is the reference). 0 when both are zero, +∞ when only B is.
pub fn relative_frobenius(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<f64> {
    let (diff, reference) = frobenius_parts(a, b)?;
    Ok(ratio(diff, reference))
}

/// (‖A − B‖_F, ‖B‖_F): the parts of [`relative_frobenius`], for a caller that reports the
/// absolute error where the reference is zero. Each norm is the plain √Σ x² where that sum is
/// finite and not below 2⁻⁹⁶⁹ (every run of ordinary scale), else s·√Σ (x/s)² with s the
/// largest |x| (`scaled_norm`), so that covariances of data ×10¹⁵⁰ (finite entries of ~10³⁰⁰,
/// whose squares overflow; adv29's found-not-fixed) and of data ×10⁻¹⁰⁰ (entries of ~10⁻²⁰⁰,
/// whose squares underflow; scale67) give their norms and a ratio as for the unscaled data. A
/// norm is 0 only where every entry is. The plain sums run on SIMD lanes
/// with independent accumulators (the same terms as a serial loop, added in another order: the
/// sums agree with it to rounding).
pub fn frobenius_parts(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<(f64, f64)> {
    if a.nrows() != b.nrows() || a.ncols() != b.ncols() {
        return Err(Error::Shape(format!(
            "relative Frobenius error of a {}×{} and a {}×{} matrix",
            a.nrows(),
            a.ncols(),
            b.nrows(),
            b.ncols()
        )));
    }
    let (diff, reference) = square_sums(a, b);
    let entries = || (0..a.ncols()).flat_map(move |j| a.col(j).iter().zip(b.col(j).iter()));
    Ok((
        scaled_norm(diff, || entries().map(|(&x, &y)| x - y)),
        scaled_norm(reference, || entries().map(|(_, &y)| y)),
    ))
}

/// (Σ (a − b)², Σ b²) over the entries of `a` and `b` (of equal shape): on SIMD lanes
/// ([`SquareSums`]) where both have contiguous columns, else a serial loop.
fn square_sums(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> (f64, f64) {
    if a.row_stride() == 1 && b.row_stride() == 1 {
        return dispatch(SquareSums { a, b });
    }
    let mut diff = 0.0;
    let mut reference = 0.0;
    for j in 0..a.ncols() {
        for (&x, &y) in a.col(j).iter().zip(b.col(j).iter()) {
            diff += (x - y) * (x - y);
            reference += y * y;
        }
    }
    (diff, reference)
}

/// The kernel of [`square_sums`] for matrices with contiguous columns: (Σ (a − b)², Σ b²)
/// column by column in lane blocks, [`CHAINS`] independent accumulators per sum (a fused
/// multiply-add per term), the columns' tails (shorter than a lane block) added serially.
struct SquareSums<'a> {
    a: MatRef<'a, f64>,
    b: MatRef<'a, f64>,
}

impl WithSimd for SquareSums<'_> {
    type Output = (f64, f64);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> (f64, f64) {
        let zero = simd.splat_f64s(0.0);
        let (mut diff, mut reference) = ([zero; CHAINS], [zero; CHAINS]);
        let (mut diff_tail, mut reference_tail) = (0.0, 0.0);
        for j in 0..self.a.ncols() {
            let (a_head, a_tail) = S::as_simd_f64s(col(self.a, j));
            let (b_head, b_tail) = S::as_simd_f64s(col(self.b, j));
            let mut a_blocks = a_head.chunks_exact(CHAINS);
            let mut b_blocks = b_head.chunks_exact(CHAINS);
            for (xs, ys) in (&mut a_blocks).zip(&mut b_blocks) {
                for k in 0..CHAINS {
                    let d = simd.sub_f64s(xs[k], ys[k]);
                    diff[k] = simd.mul_add_f64s(d, d, diff[k]);
                    reference[k] = simd.mul_add_f64s(ys[k], ys[k], reference[k]);
                }
            }
            for (&x, &y) in a_blocks.remainder().iter().zip(b_blocks.remainder()) {
                let d = simd.sub_f64s(x, y);
                diff[0] = simd.mul_add_f64s(d, d, diff[0]);
                reference[0] = simd.mul_add_f64s(y, y, reference[0]);
            }
            for (&x, &y) in a_tail.iter().zip(b_tail) {
                diff_tail += (x - y) * (x - y);
                reference_tail += y * y;
            }
        }
        let total = |acc: [S::f64s; CHAINS]| {
            simd.reduce_sum_f64s(acc.iter().fold(zero, |s, &v| simd.add_f64s(s, v)))
        };
        (total(diff) + diff_tail, total(reference) + reference_tail)
    }
}

/// Below this plain sum of squares (2⁻⁹⁶⁹ ≈ 2·10⁻²⁹², f64's smallest normal number ×2⁵³) the
/// largest square may already have lost bits to underflow, and smaller ones their every bit:
/// entries below ~10⁻¹⁵⁴ square to subnormals or 0, so the plain norm of a covariance of data
/// ×10⁻¹⁰⁰ (entries ~10⁻²⁰⁰) was 0 (scale67, item 5).
const UNDERFLOWING_SQUARES: f64 = f64::MIN_POSITIVE * (1u64 << 53) as f64;

/// The Euclidean norm of `values`, given their plain sum of squares `squares`: √squares where
/// it is finite and at least [`UNDERFLOWING_SQUARES`], else s·√Σ (x/s)² with s = max |x| (each
/// (x/s)² ≤ 1 and the largest is 1, so the sum lies in [1, count]), which is finite and exact
/// to rounding wherever every x is finite, however large or small; an infinite or NaN x keeps
/// the plain result, and so do values that are all 0 (a norm of 0). The scaled form is taken
/// only where the plain sum overflowed or underflowed, so every other norm keeps its bits.
fn scaled_norm<I: Iterator<Item = f64>>(squares: f64, values: impl Fn() -> I) -> f64 {
    if squares.is_finite() && squares >= UNDERFLOWING_SQUARES {
        return squares.sqrt();
    }
    let s = values().fold(0.0, |m: f64, x| m.max(x.abs()));
    if !s.is_finite() || s == 0.0 {
        return squares.sqrt();
    }
    s * values().map(|x| (x / s) * (x / s)).sum::<f64>().sqrt()
}

/// ‖μ₁ − μ₂‖ / √tr Σ: the mean error in units of the typical spread of Σ (pass the reference,
/// i.e. empirical, covariance). 0 when the means agree, +∞ when they differ and tr Σ = 0.
pub fn mean_error(m1: ColRef<'_, f64>, m2: ColRef<'_, f64>, cov: MatRef<'_, f64>) -> Result<f64> {
    let (dist, spread) = mean_error_parts(m1, m2, cov)?;
    Ok(ratio(dist, spread))
}

/// (‖μ₁ − μ₂‖, √tr Σ): the parts of [`mean_error`]; the distance as [`frobenius_parts`]' norms.
pub fn mean_error_parts(
    m1: ColRef<'_, f64>,
    m2: ColRef<'_, f64>,
    cov: MatRef<'_, f64>,
) -> Result<(f64, f64)> {
    let n = m1.nrows();
    if m2.nrows() != n || cov.nrows() != n || cov.ncols() != n {
        return Err(Error::Shape(format!(
            "mean error of means of length {} and {} with a {}×{} covariance",
            n,
            m2.nrows(),
            cov.nrows(),
            cov.ncols()
        )));
    }
    let differences = || m1.iter().zip(m2.iter()).map(|(a, b)| a - b);
    let dist = scaled_norm(differences().map(|d| d * d).sum::<f64>(), differences);
    let trace: f64 = (0..n).map(|i| cov[(i, i)]).sum();
    Ok((dist, trace.max(0.0).sqrt()))
}

fn ratio(num: f64, den: f64) -> f64 {
    if num == 0.0 {
        0.0
    } else {
        num / den
    }
}

#[cfg(test)]
mod tests {
    use faer::{Col, Mat};

    use super::*;

    /// The SIMD sums equal the serial ones to rounding, for column lengths below, at and
    /// across a lane block and the accumulators' blocks (1 … 70: every tail length on 8 lanes
    /// of AVX-512, 4 of AVX2), and for a matrix view whose columns are not its first rows.
    #[test]
    fn square_sums_match_the_serial_sums() {
        for rows in 1..=70 {
            for cols in [1, 3] {
                let a = Mat::from_fn(rows + 2, cols, |i, j| ((i * 7 + j * 3) % 11) as f64 - 4.7);
                let b = Mat::from_fn(rows + 2, cols, |i, j| ((i * 5 + j) % 13) as f64 * 0.3 - 1.1);
                let (a, b) = (a.as_ref().subrows(1, rows), b.as_ref().subrows(2, rows));
                let (mut diff, mut reference, mut scale) = (0.0, 0.0, 0.0);
                for j in 0..cols {
                    for i in 0..rows {
                        let (x, y) = (a[(i, j)], b[(i, j)]);
                        diff += (x - y) * (x - y);
                        reference += y * y;
                        scale += (x - y) * (x - y) + y * y;
                    }
                }
                let (d, r) = square_sums(a, b);
                let tol = 4.0 * f64::EPSILON * scale * (rows * cols) as f64;
                assert!(
                    (d - diff).abs() <= tol && (r - reference).abs() <= tol,
                    "{rows} × {cols}: ({d}, {r}) vs ({diff}, {reference})"
                );
            }
        }
    }

    /// Covariances of data ×10¹⁵⁰ (entries ~10³⁰⁰, finite; their squares overflow): the norms
    /// are those of the unscaled matrices times 10³⁰⁰ and the relative errors the unscaled
    /// ones, to a few ulps (each entry and each ratio rounds once more than the unscaled sum);
    /// before adv30 the sums of squares overflowed to +∞.
    #[test]
    fn norms_of_entries_whose_squares_overflow_are_the_unscaled_ones_scaled() {
        let a = Mat::from_fn(3, 3, |i, j| 1.0 + (i * 3 + j) as f64 / 7.0);
        let b = Mat::from_fn(3, 3, |i, j| 1.5 - (i + 2 * j) as f64 / 11.0);
        let (s, big) = (1e300, |m: &Mat<f64>| {
            Mat::from_fn(3, 3, |i, j| m[(i, j)] * 1e300)
        });
        let close = |x: f64, y: f64| (x - y).abs() <= 8.0 * f64::EPSILON * y.abs();
        let (diff, reference) = frobenius_parts(a.as_ref(), b.as_ref()).unwrap();
        let (big_diff, big_reference) =
            frobenius_parts(big(&a).as_ref(), big(&b).as_ref()).unwrap();
        assert!(close(big_diff, diff * s) && close(big_reference, reference * s));
        let unscaled = relative_frobenius(a.as_ref(), b.as_ref()).unwrap();
        let scaled = relative_frobenius(big(&a).as_ref(), big(&b).as_ref()).unwrap();
        assert!(close(scaled, unscaled), "{scaled} vs {unscaled}");
        let (m1, m2) = (
            Col::from_fn(3, |i| i as f64 * 1e160),
            Col::from_fn(3, |i| -(i as f64) * 1e160),
        );
        let (dist, _) = mean_error_parts(m1.as_ref(), m2.as_ref(), big(&b).as_ref()).unwrap();
        assert!(close(dist, 2e160 * 5f64.sqrt()), "{dist}");
        // Finite sums keep the plain √Σ x², bit for bit.
        let plain = a
            .col_iter()
            .flat_map(|c| c.iter().map(|x| x * x).collect::<Vec<_>>())
            .sum::<f64>();
        assert_eq!(
            frobenius_parts(b.as_ref(), a.as_ref()).unwrap().1,
            plain.sqrt()
        );
    }

    /// Matrices ×10⁻¹⁰⁰ … ×10⁻³⁰⁰ (squares ~10⁻²⁰⁰ … 10⁻⁶⁰⁰: subnormal or 0): their norms are
    /// the unscaled ones times the factor and their relative error the unscaled one, to a few
    /// ulps, as are the mean error's distance; all-zero entries keep a norm of 0. Before scale68
    /// the plain sums underflowed: at ×10⁻²⁰⁰ both norms were 0 and the relative error 0.
    #[test]
    fn norms_of_entries_whose_squares_underflow_are_the_unscaled_ones_scaled() {
        let a = Mat::from_fn(3, 3, |i, j| 1.0 + (i * 3 + j) as f64 / 7.0);
        let b = Mat::from_fn(3, 3, |i, j| 1.5 - (i + 2 * j) as f64 / 11.0);
        let close = |x: f64, y: f64| (x - y).abs() <= 8.0 * f64::EPSILON * y.abs();
        let (diff, reference) = frobenius_parts(a.as_ref(), b.as_ref()).unwrap();
        let unscaled = relative_frobenius(a.as_ref(), b.as_ref()).unwrap();
        for t in [1e-100, 1e-160, 1e-200, 1e-300] {
            let small = |m: &Mat<f64>| Mat::from_fn(3, 3, |i, j| m[(i, j)] * t);
            let (d, r) = frobenius_parts(small(&a).as_ref(), small(&b).as_ref()).unwrap();
            assert!(
                close(d, diff * t) && close(r, reference * t),
                "×{t:e}: {d:e}, {r:e}"
            );
            let scaled = relative_frobenius(small(&a).as_ref(), small(&b).as_ref()).unwrap();
            assert!(
                close(scaled, unscaled),
                "×{t:e}: {scaled:e} vs {unscaled:e}"
            );
            let (m1, m2) = (
                Col::from_fn(3, |i| i as f64 * t),
                Col::from_fn(3, |i| -(i as f64) * t),
            );
            let (dist, _) = mean_error_parts(m1.as_ref(), m2.as_ref(), b.as_ref()).unwrap();
            assert!(close(dist, 2.0 * t * 5f64.sqrt()), "×{t:e}: {dist:e}");
        }
        let zero = Mat::<f64>::zeros(3, 3);
        assert_eq!(
            frobenius_parts(zero.as_ref(), zero.as_ref()).unwrap(),
            (0.0, 0.0)
        );
    }
}
