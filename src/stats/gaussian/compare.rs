//! Error measures for theory vs empirical (DESIGN.md §4.1).

use faer::{ColRef, MatRef};

use crate::error::{Error, Result};

/// ‖A − B‖_F / ‖B‖_F (B is the reference). 0 when both are zero, +∞ when only B is.
pub fn relative_frobenius(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<f64> {
    let (diff, reference) = frobenius_parts(a, b)?;
    Ok(ratio(diff, reference))
}

/// (‖A − B‖_F, ‖B‖_F): the parts of [`relative_frobenius`], for a caller that reports the
/// absolute error where the reference is zero. Each norm is the plain √Σ x² where that sum is
/// finite (every valid run: the same bits as before), else s·√Σ (x/s)² with s the largest |x|, so
/// that covariances of data ×10¹⁵⁰ (finite entries of ~10³⁰⁰, whose squares overflow) give
/// finite norms and a ratio as for the unscaled data (adv29's found-not-fixed).
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
    let mut diff = 0.0;
    let mut reference = 0.0;
    for j in 0..a.ncols() {
        for (&x, &y) in a.col(j).iter().zip(b.col(j).iter()) {
            diff += (x - y) * (x - y);
            reference += y * y;
        }
    }
    let entries = || (0..a.ncols()).flat_map(move |j| a.col(j).iter().zip(b.col(j).iter()));
    Ok((
        scaled_norm(diff, || entries().map(|(&x, &y)| x - y)),
        scaled_norm(reference, || entries().map(|(_, &y)| y)),
    ))
}

/// The Euclidean norm of `values`, given their plain sum of squares `squares`: √squares where
/// it is finite, else s·√Σ (x/s)² with s = max |x| (each (x/s)² ≤ 1, so the sum is at most the
/// count), which is finite wherever every x is; an infinite or NaN x keeps the plain result.
/// The scaled form is taken only where the plain one overflowed, so finite norms keep their
/// bits.
fn scaled_norm<I: Iterator<Item = f64>>(squares: f64, values: impl Fn() -> I) -> f64 {
    if squares.is_finite() {
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
}
