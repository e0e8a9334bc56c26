//! Error measures for theory vs empirical (DESIGN.md §4.1).

use faer::{ColRef, MatRef};

use crate::error::{Error, Result};

/// ‖A − B‖_F / ‖B‖_F (B is the reference). 0 when both are zero, +∞ when only B is.
pub fn relative_frobenius(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Result<f64> {
    let (diff, reference) = frobenius_parts(a, b)?;
    Ok(ratio(diff, reference))
}

/// (‖A − B‖_F, ‖B‖_F): the parts of [`relative_frobenius`], for a caller that reports the
/// absolute error where the reference is zero.
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
    Ok((diff.sqrt(), reference.sqrt()))
}

/// ‖μ₁ − μ₂‖ / √tr Σ: the mean error in units of the typical spread of Σ (pass the reference,
/// i.e. empirical, covariance). 0 when the means agree, +∞ when they differ and tr Σ = 0.
pub fn mean_error(m1: ColRef<'_, f64>, m2: ColRef<'_, f64>, cov: MatRef<'_, f64>) -> Result<f64> {
    let (dist, spread) = mean_error_parts(m1, m2, cov)?;
    Ok(ratio(dist, spread))
}

/// (‖μ₁ − μ₂‖, √tr Σ): the parts of [`mean_error`].
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
    let dist = m1
        .iter()
        .zip(m2.iter())
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
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
