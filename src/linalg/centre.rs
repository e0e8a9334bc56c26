//! Centring the rows of a matrix of samples on their own means.

use faer::{Col, MatMut};

/// Subtracts from every row of `x` (units × samples, one sample per column) its mean over the
/// columns, in place, and writes those means to `means`: x̃ᵢₛ = xᵢₛ − x̄ᵢ, x̄ᵢ = (Σₛ xᵢₛ)/n. Each
/// row's sum runs over the columns in order (one contiguous column after another), so it is the
/// same sum, bit for bit, as a sequential sum along the row. Empty rows (n = 0) get mean NaN and
/// nothing to centre.
pub fn centre_rows(mut x: MatMut<'_, f64>, means: &mut Col<f64>) {
    let n = x.ncols();
    assert_eq!(means.nrows(), x.nrows(), "one mean per row");
    let means = means
        .as_mut()
        .try_as_col_major_mut()
        .expect("a Col is contiguous")
        .as_slice_mut();
    means.fill(0.0);
    for s in 0..n {
        for (m, v) in means.iter_mut().zip(x.as_ref().col(s).iter()) {
            *m += v;
        }
    }
    for m in means.iter_mut() {
        *m /= n as f64;
    }
    for s in 0..n {
        for (v, m) in x.as_mut().col_mut(s).iter_mut().zip(means.iter()) {
            *v -= m;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// The means and the centred entries are those of a sequential sum along each row, bit for
    /// bit, and the centred rows sum to 0 to rounding.
    #[test]
    fn rows_are_centred_on_their_sequential_means() {
        let x = Mat::from_fn(3, 7, |i, s| {
            ((i * 7 + s) as f64 * 0.37).sin() * 10f64.powi(i as i32)
        });
        let mut c = x.clone();
        let mut means = Col::zeros(3);
        centre_rows(c.as_mut(), &mut means);
        for i in 0..3 {
            let m = x.row(i).iter().sum::<f64>() / 7.0;
            assert_eq!(means[i].to_bits(), m.to_bits(), "row {i}");
            for s in 0..7 {
                assert_eq!(c[(i, s)].to_bits(), (x[(i, s)] - m).to_bits());
            }
            let rest: f64 = c.row(i).iter().sum();
            assert!(
                rest.abs() < 1e-14 * 10f64.powi(i as i32),
                "row {i} sums to {rest}"
            );
        }
    }
}
