//! The least eigenpair (λ₁, u) of a symmetric n × n matrix M, uᵀu = 1, for the correction bound
//! ([`super::correction_bound`], M = L⁻¹ΔCL⁻ᵀ), without the full eigendecomposition, which was
//! 73 % of the bound's forward instructions on MNIST, most of it for eigenvectors it dropped
//! (EXPERIMENTS.md, bound70):
//!
//! 1. the eigenvalues alone, λ₁ ≤ λ₂ ≤ … ≤ λ_n (faer's `self_adjoint_eigenvalues`:
//!    Householder tridiagonalisation and implicit QR without the eigenvectors, ≈ 4/3 n³ flops;
//!    the full decomposition adds the tridiagonal eigenvectors and their back-transformation);
//! 2. u by inverse iteration with the shift σ = λ₁ − δ, δ = 10⁻¹⁰·ρ (`SHIFT`),
//!    ρ = max(|λ₁|, |λ_n|): M − σI is positive definite with least eigenvalue δ (up to the
//!    rounding of λ₁, ~ερ, far below δ), so it has a Cholesky factor (n³/3 flops), and each
//!    solve with it shrinks the other eigenvectors' components relative to u's by at least
//!    r = δ/(λ₂ − λ₁ + δ) (e.g. Golub & Van Loan, "Matrix Computations", 4th ed., §8.2.2). The
//!    solves go on until r^k ≤ 10⁻¹⁸ (`CONVERGED`), at most 4 (`MOST_SOLVES`), from a fixed
//!    start vector;
//! 3. the full decomposition instead where λ₂ − λ₁ is too small for that (r⁴ > 10⁻¹⁸: a gap
//!    below ~10⁻⁵·ρ), where the Cholesky factor fails, or where the residual ‖Mu − λ₁u‖ exceeds
//!    16·n·ε·ρ (`RESIDUAL`; a start vector with no component along the eigenvector, or rounding
//!    beyond the bound above). The eigenvector's angle to the true one is at most
//!    ‖Mu − λ₁u‖/(λ₂ − λ₁) either way (Davis–Kahan), as the full decomposition's is.

use faer::linalg::triangular_solve::{
    solve_lower_triangular_in_place, solve_upper_triangular_in_place,
};
use faer::{Col, Mat, MatRef, Par, Side};

use crate::error::{Error, Result};

/// δ/ρ of the shift: 10⁻¹⁰, some 10⁴ times the backward error n·ε·ρ of the shifted Cholesky
/// factor at n = 100, so that M − σI stays positive definite after rounding.
const SHIFT: f64 = 1e-10;

/// The bound r^k on the other eigenvectors' share after k solves at which u is taken as
/// converged: below ε/100.
const CONVERGED: f64 = 1e-18;

/// The most inverse-iteration solves before the full decomposition is used.
const MOST_SOLVES: i32 = 4;

/// The residual ‖Mu − λ₁u‖ accepted, in units of n·ε·ρ: a matrix–vector product's rounding is
/// at most n·ε·ρ·‖u‖.
const RESIDUAL: f64 = 16.0;

/// (λ₁, u) of the symmetric `m` (its lower triangle read; n ≥ 1), uᵀu = 1 (module docs). A
/// numerical error where the eigenvalues do not converge.
pub fn least_eigenpair(m: MatRef<'_, f64>) -> Result<(f64, Col<f64>)> {
    let n = m.nrows();
    let evd_error = |e| Error::Numeric(format!("the correction bound's eigenproblem: {e:?}"));
    let s = m.self_adjoint_eigenvalues(Side::Lower).map_err(evd_error)?;
    let (least, rho) = (s[0], s[0].abs().max(s[n - 1].abs()));
    if n == 1 {
        return Ok((least, Col::from_fn(1, |_| 1.0)));
    }
    if rho > 0.0 && rho.is_finite() {
        if let Some(u) = inverse_iteration(m, least, s[1] - least, rho) {
            return Ok((least, u));
        }
    }
    full(m).map_err(evd_error)
}

/// u by inverse iteration (module docs, step 2), None where step 3 applies.
fn inverse_iteration(m: MatRef<'_, f64>, least: f64, gap: f64, rho: f64) -> Option<Col<f64>> {
    let n = m.nrows();
    let delta = SHIFT * rho;
    let r = delta / (gap + delta);
    let solves = (1..=MOST_SOLVES).find(|&k| r.powi(k) <= CONVERGED)?;
    let shifted = Mat::from_fn(n, n, |i, j| {
        m[(i.max(j), i.min(j))] - if i == j { least - delta } else { 0.0 }
    });
    let llt = shifted.llt(Side::Lower).ok()?;
    let l = llt.L();
    // A fixed start vector with no structure that an eigenvector would share.
    let mut u = Mat::from_fn(n, 1, |i, _| 1.0 + 0.5 * (1.7 * i as f64 + 0.3).sin());
    for _ in 0..solves {
        solve_lower_triangular_in_place(l, u.as_mut(), Par::Seq);
        solve_upper_triangular_in_place(l.transpose(), u.as_mut(), Par::Seq);
        let norm = u.norm_l2();
        if !(norm.is_finite() && norm > 0.0) {
            return None;
        }
        u /= faer::Scale(norm);
    }
    let u = Col::from_fn(n, |i| u[(i, 0)]);
    let residual = (0..n)
        .map(|i| {
            let mu: f64 = (0..n).map(|j| m[(i.max(j), i.min(j))] * u[j]).sum();
            (mu - least * u[i]).powi(2)
        })
        .sum::<f64>()
        .sqrt();
    (residual <= RESIDUAL * n as f64 * f64::EPSILON * rho).then_some(u)
}

/// (λ₁, u) from the full decomposition (module docs, step 3).
fn full(m: MatRef<'_, f64>) -> std::result::Result<(f64, Col<f64>), faer::linalg::evd::EvdError> {
    let evd = m.self_adjoint_eigen(Side::Lower)?;
    let n = m.nrows();
    Ok((evd.S()[0], Col::from_fn(n, |i| evd.U()[(i, 0)])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::symmetrize;

    /// A symmetric n × n matrix with eigenvalues spread over [−3, 2] (least −3, a gap of at
    /// least `gap` to the next) in a fixed non-trivial basis: Q diag(λ) Qᵀ, Q from the QR
    /// factor of a fixed matrix.
    fn spread(n: usize, gap: f64) -> Mat<f64> {
        let a = Mat::from_fn(n, n, |i, j| ((i * 7 + j * 13) as f64 * 0.37).sin() + 0.1);
        let q = a.qr().compute_Q();
        let lambda = |k: usize| {
            if k == 0 {
                -3.0
            } else {
                -3.0 + gap + (2.0 - (-3.0 + gap)) * (k - 1) as f64 / (n - 1) as f64
            }
        };
        let d = Mat::from_fn(n, n, |i, j| if i == j { lambda(i) } else { 0.0 });
        let mut m: Mat<f64> = &q * &d * q.transpose();
        symmetrize(m.as_mut());
        m
    }

    /// The largest entry of |u − v| with v's sign turned to u's.
    fn apart(u: &Col<f64>, v: &Col<f64>) -> f64 {
        let sign = if (0..u.nrows()).map(|i| u[i] * v[i]).sum::<f64>() < 0.0 {
            -1.0
        } else {
            1.0
        };
        (0..u.nrows())
            .map(|i| (u[i] - sign * v[i]).abs())
            .fold(0.0, f64::max)
    }

    /// The least eigenpair by inverse iteration (taken, asserted: the fast path, not the
    /// fallback) is the full decomposition's: λ₁ to 10⁻¹³ (both from the same tridiagonal QR
    /// up to its eigenvector accumulation) and u to 10⁻¹² in every entry (up to sign; both
    /// within ~nε‖M‖/gap of the true eigenvector, 10⁻¹³ here), at n = 100 (the MNIST layer's
    /// width) with gaps 1 and 10⁻³, at n = 5, and at n = 100 with the gap 10⁻⁷ (below what 4
    /// solves resolve: the full decomposition's pair, asserted). Fails with one solve per step
    /// of the iteration and the residual check dropped, and with the shift above λ₁
    /// (σ = λ₁ + δ: the Cholesky factor fails, the fallback is taken).
    #[test]
    fn least_eigenpair_is_the_full_decompositions() {
        for (n, gap) in [(100, 1.0), (100, 1e-3), (5, 0.5)] {
            let m = spread(n, gap);
            let s = m.self_adjoint_eigenvalues(Side::Lower).unwrap();
            let rho = s[0].abs().max(s[n - 1].abs());
            let fast = inverse_iteration(m.as_ref(), s[0], s[1] - s[0], rho)
                .unwrap_or_else(|| panic!("n {n} gap {gap}: the fallback was taken"));
            let (lambda, u) = least_eigenpair(m.as_ref()).unwrap();
            let (lambda_full, u_full) = full(m.as_ref()).unwrap();
            assert!(
                (lambda - lambda_full).abs() <= 1e-13 * rho,
                "n {n} gap {gap}: λ₁ {lambda} against {lambda_full}"
            );
            assert!((lambda - (-3.0)).abs() < 1e-12, "n {n}: λ₁ {lambda}");
            assert_eq!(apart(&u, &fast), 0.0);
            let off = apart(&u, &u_full);
            println!(
                "n {n} gap {gap}: λ₁ − full's {:e}, u − full's {off:e}",
                lambda - lambda_full
            );
            assert!(off <= 1e-12, "n {n} gap {gap}: u differs by {off:e}");
            let norm: f64 = (0..n).map(|i| u[i] * u[i]).sum();
            assert!((norm - 1.0).abs() < 1e-14);
        }
        let m = spread(100, 1e-7);
        let s = m.self_adjoint_eigenvalues(Side::Lower).unwrap();
        assert!(inverse_iteration(m.as_ref(), s[0], s[1] - s[0], 3.0).is_none());
        let (lambda, u) = least_eigenpair(m.as_ref()).unwrap();
        let (lambda_full, u_full) = full(m.as_ref()).unwrap();
        assert_eq!((lambda, apart(&u, &u_full)), (lambda_full, 0.0));
    }
}
