//! Floating-point operation counts of the dense kernels a run is made of, as formulas of the
//! shapes (one multiply-add counts 2). They feed `--timings`' GFLOP/s per stage; work that is not
//! dense arithmetic (I/O, elementwise closures, random numbers) is not counted. Sources: Golub &
//! Van Loan, *Matrix Computations* (4th ed.), §1.1 (GEMM), §4.2 (Cholesky), §3.1 (triangular
//! systems), §8.3.1 (tridiagonal reduction of a symmetric matrix).

/// C(m × n) += A(m × k)·B(k × n): 2mnk.
pub fn gemm(m: usize, n: usize, k: usize) -> f64 {
    2.0 * m as f64 * n as f64 * k as f64
}

/// Lower triangle (diagonal included) of C(d × d) += A Aᵀ, A of d × k (a symmetric rank-k
/// update): d(d+1)k, half the GEMM.
pub fn syrk(d: usize, k: usize) -> f64 {
    let d = d as f64;
    d * (d + 1.0) * k as f64
}

/// Cholesky factor of an n × n matrix: n³/3 (GVL Alg. 4.2.1, leading term).
pub fn cholesky(n: usize) -> f64 {
    (n as f64).powi(3) / 3.0
}

/// Flops of a pivoted Cholesky of a d × d matrix stopped at rank r: column j updates the lower
/// triangle of the (d − j − 1)² trailing block, Σ_{j<r} (d − j)² ≈ (d³ − (d − r)³)/3 (GVL
/// Alg. 4.2.1 truncated after r steps; r = d gives the Cholesky's d³/3).
pub fn pivoted_cholesky(d: usize, r: usize) -> f64 {
    let (r, d) = (r.min(d) as f64, d as f64);
    (d.powi(3) - (d - r).powi(3)) / 3.0
}

/// L X = B for a lower-triangular n × n L and a *lower-triangular* n × n right-hand side B (X is
/// lower triangular too, and column j needs only rows j…n−1): Σⱼ (n−j)² ≈ n³/3.
pub fn triangular_solve_triangular(n: usize) -> f64 {
    (n as f64).powi(3) / 3.0
}

/// L x = b for one right-hand side: n².
pub fn triangular_solve_vector(n: usize) -> f64 {
    (n as f64).powi(2)
}

/// Symmetric eigendecomposition with eigenvectors of an n × n matrix as faer computes it
/// (`linalg::evd::self_adjoint_evd`), counted as a lower bound: 10n³/3 = the Householder
/// tridiagonal reduction (4n³/3, GVL §8.3.1) plus applying its n − 1 reflectors to the
/// tridiagonal problem's n eigenvectors (Σⱼ 4n(n − j) ≈ 2n³, GVL §5.1.6); the divide-and-conquer
/// tridiagonal eigensolver's own work (its merge products, fewer where it deflates) is not
/// counted.
pub fn symmetric_eigen(n: usize) -> f64 {
    10.0 * (n as f64).powi(3) / 3.0
}

/// A forward pass of `samples` samples through a network of the given widths (d₀, N₁, …,
/// N_out): the GEMMs, 2·Σₗ Nₗ·Nₗ₋₁ per sample (bias and activation are O(N) and not counted).
pub fn forward(widths: &[usize], samples: usize) -> f64 {
    widths.windows(2).map(|w| gemm(w[1], samples, w[0])).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_match_the_loop_counts() {
        // Naive loops: count the multiply-adds exactly.
        let (m, n, k) = (3, 4, 5);
        assert_eq!(gemm(m, n, k), (2 * m * n * k) as f64);
        let d = 6;
        let lower_entries = (0..d).map(|i| i + 1).sum::<usize>();
        assert_eq!(syrk(d, k), (2 * lower_entries * k) as f64);
        assert_eq!(forward(&[4, 3, 2], 10), (2 * (12 + 6) * 10) as f64);
        assert_eq!(triangular_solve_vector(7), 49.0);
        assert!((cholesky(30) - 9000.0).abs() < 1e-9);
        assert_eq!(pivoted_cholesky(30, 30), cholesky(30));
        assert_eq!(pivoted_cholesky(30, 0), 0.0);
        assert!((symmetric_eigen(3) - 90.0).abs() < 1e-12);
        assert!((triangular_solve_triangular(3) - 9.0).abs() < 1e-12);
    }
}
