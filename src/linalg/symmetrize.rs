//! The symmetric part of a square matrix, in place.

use faer::MatMut;

/// Replaces the square `a` by its symmetric part (A + Aᵀ)/2: each off-diagonal pair gets
/// ½(a_ij + a_ji), the same value on both sides (addition commutes, so this equals the two
/// entries of `Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]))` bit for bit); the
/// diagonal is left as it is, which ½(a_ii + a_ii) equals wherever 2a_ii does not overflow.
/// Used where a product that is symmetric in exact arithmetic (L⁻¹CL⁻ᵀ, VΛVᵀ, a symmetric
/// function's adjoint) must be stored exactly symmetric.
pub fn symmetrize(mut a: MatMut<'_, f64>) {
    let n = a.nrows();
    assert_eq!(a.ncols(), n, "symmetrize needs a square matrix");
    for j in 0..n {
        for i in j + 1..n {
            let v = 0.5 * (a[(i, j)] + a[(j, i)]);
            a[(i, j)] = v;
            a[(j, i)] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Equals the out-of-place (A + Aᵀ)/2 bit for bit on a matrix whose pairs round when
    /// averaged, and keeps a diagonal entry whose double overflows. Fails with the pair's two
    /// entries averaged in different orders of magnitude (e.g. `a_ij + 0.5·(a_ji − a_ij)`), or
    /// with only one triangle written.
    #[test]
    fn equals_the_symmetric_part_bit_for_bit() {
        let n = 7;
        let a = Mat::from_fn(n, n, |i, j| {
            if i == j && i == 3 {
                f64::MAX
            } else {
                (1.0 + (i * 7 + j * 13) as f64).ln() * 1.7f64.powi(i as i32 - j as i32) / 3.0
            }
        });
        let reference = Mat::from_fn(n, n, |i, j| 0.5 * (a[(i, j)] + a[(j, i)]));
        let mut b = a.clone();
        symmetrize(b.as_mut());
        for j in 0..n {
            for i in 0..n {
                let want = if i == j { a[(i, i)] } else { reference[(i, j)] };
                assert_eq!(b[(i, j)].to_bits(), want.to_bits(), "entry ({i}, {j})");
            }
        }
        assert_eq!(b[(3, 3)], f64::MAX);
    }
}
