//! Seeded Haar-random orthogonal matrices, used to hide the axes of the synthetic tasks.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};
use rand::rngs::StdRng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// A d × d orthogonal matrix Q drawn from the Haar measure on O(d).
///
/// Q is the orthogonal factor of the QR decomposition G = QR of a matrix G with i.i.d. standard
/// normal entries, with the signs fixed so that diag(R) > 0 (Mezzadri 2007); without that sign
/// fix the distribution would not be Haar. The factor is computed by modified Gram–Schmidt with
/// one re-orthogonalisation pass ("twice is enough"), which yields exactly the positive-diagonal
/// convention and is sequential, hence bit-reproducible for a given `rng` state.
pub fn haar_orthogonal(d: usize, rng: &mut StdRng) -> Mat<f64> {
    let mut q = Mat::<f64>::zeros(d, d);
    for j in 0..d {
        for i in 0..d {
            q[(i, j)] = rng.sample(StandardNormal);
        }
    }
    for j in 0..d {
        for _pass in 0..2 {
            for k in 0..j {
                let dot: f64 = (0..d).map(|i| q[(i, k)] * q[(i, j)]).sum();
                for i in 0..d {
                    let qik = q[(i, k)];
                    q[(i, j)] -= dot * qik;
                }
            }
        }
        let norm = (0..d).map(|i| q[(i, j)] * q[(i, j)]).sum::<f64>().sqrt();
        for i in 0..d {
            q[(i, j)] /= norm;
        }
    }
    q
}

/// Returns Q·X for a d × d matrix Q and d × n samples X (sequential, hence reproducible).
pub fn rotate(q: &Mat<f64>, x: &Mat<f64>) -> Mat<f64> {
    let mut out = Mat::<f64>::zeros(x.nrows(), x.ncols());
    matmul(
        out.as_mut(),
        Accum::Replace,
        q.as_ref(),
        x.as_ref(),
        1.0,
        Par::Seq,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// QᵀQ = I to rounding, and the same seed gives the same Q bit for bit.
    #[test]
    fn haar_is_orthogonal_and_reproducible() {
        for d in [1usize, 2, 5, 40] {
            let q = haar_orthogonal(d, &mut StdRng::seed_from_u64(7));
            let q2 = haar_orthogonal(d, &mut StdRng::seed_from_u64(7));
            assert_eq!(q, q2);
            let qtq = q.transpose() * &q;
            for i in 0..d {
                for j in 0..d {
                    let e = if i == j { 1.0 } else { 0.0 };
                    assert!((qtq[(i, j)] - e).abs() < 1e-13, "d {d} ({i},{j})");
                }
            }
        }
    }

    /// Haar on O(d): E[Q₀₀] = 0 and E[Q₀₀²] = 1/d; a sign-fix bug would bias E[Q₀₀] to ≈ √(2/(πd)).
    #[test]
    fn haar_first_entry_moments() {
        let d = 4;
        let n = 4000;
        let mut rng = StdRng::seed_from_u64(1);
        let (mut s1, mut s2) = (0.0, 0.0);
        for _ in 0..n {
            let q = haar_orthogonal(d, &mut rng);
            s1 += q[(0, 0)];
            s2 += q[(0, 0)] * q[(0, 0)];
        }
        let m1 = s1 / n as f64;
        let m2 = s2 / n as f64;
        // Var Q₀₀ = 1/d; E Q₀₀⁴ = 3/(d(d+2)), so Var Q₀₀² = 3/(d(d+2)) − 1/d².
        let se1 = (1.0 / d as f64 / n as f64).sqrt();
        let v2 = 3.0 / (d * (d + 2)) as f64 - 1.0 / (d * d) as f64;
        let se2 = (v2 / n as f64).sqrt();
        assert!(m1.abs() < 5.0 * se1, "mean {m1} vs 0 (se {se1})");
        assert!(
            (m2 - 1.0 / d as f64).abs() < 5.0 * se2,
            "second moment {m2} (se {se2})"
        );
    }
}
