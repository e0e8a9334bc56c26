//! The spectral floor of z¹'s corrected covariance in the cumulant objective (issue #16 item 6).
//!
//! At `--order 3|4` the first closure is the Gram–Charlier-corrected one. Its covariance C of z¹
//! is an expectation under the expanded density (1 + 𝒟_κ)p_G, which is not a density where the
//! expansion breaks down (strong skew), and C can then be indefinite: no distribution has it,
//! the next layer's h² = W²z¹ gets a negative variance and the propagation stops. Training
//! drives the first layer there (sixty-fourth session: relu at `--order 3` stopped in epochs
//! 10–17, erf in epoch 58).
//!
//! The objective therefore propagates the floored covariance
//!
//! ```text
//! C = V diag(λ) Vᵀ,   C₊ = V diag(f(λ)) Vᵀ,   f(λ) = max(λ, ε),   ε = s · tr C / n,
//! ```
//!
//! with s = [`FLOOR_SHARE`]: the eigenvalues below a small share of the mean variance are raised
//! to it (ε = 0 where tr C ≤ 0: C = 0, or indefinite with no mean variance). C₊ = C wherever C − εI is positive definite (there the objective is unchanged), C₊ is
//! positive definite always, and C ↦ C₊ is continuous (for s = 0 it is the nearest positive
//! semi-definite matrix in the Frobenius norm, Higham 1988, "Computing a nearest symmetric
//! positive semidefinite matrix"), so the objective has no jump where the floor starts to act.
//!
//! Its reverse pass is the Daleckii–Krein formula for a spectral function (e.g. Magnus &
//! Neudecker; Giles 2008, "Collected matrix derivative results", §3.1) plus the dependence of ε on
//! tr C: for a symmetric adjoint Ḡ of C₊,
//!
//! ```text
//! C̄ = V (F ∘ VᵀḠV) Vᵀ + (s/n) Σ_{k: λ_k < ε} (VᵀḠV)_kk · I,
//! F_ij = (f(λᵢ) − f(λⱼ)) / (λᵢ − λⱼ)   (λᵢ ≠ λⱼ),   F_ii = f'(λᵢ) ∈ {0, 1}.
//! ```
//!
//! F is 1 between two eigenvalues above ε and 0 between two below, so it never divides by the
//! gap of two close eigenvalues on the same side; across ε it is (λᵢ − ε)/(λᵢ − λⱼ) ∈ (0, 1).

use faer::{Mat, MatRef, Side};

use crate::error::{Error, Result};
use crate::linalg::symmetrize;

/// s: the floor ε as a share of the mean variance tr C / n.
pub const FLOOR_SHARE: f64 = 1e-9;

/// A covariance's floored eigendecomposition (module docs), for the reverse pass.
pub struct SpectralFloor {
    /// Eigenvectors, column k for λ_k.
    v: Mat<f64>,
    lambda: Vec<f64>,
    /// s of the module docs.
    share: f64,
    eps: f64,
    trace: f64,
}

impl SpectralFloor {
    /// C₊ of the module docs for the symmetric `c` with floor share `share`, and the floor for
    /// the reverse pass; `None` where no eigenvalue is below ε (C₊ = C, nothing to undo: a
    /// Cholesky factor of C − εI decides at once where it exists). Where tr C ≤ 0 (z¹
    /// deterministic, C = 0, or C indefinite with no mean variance to take a share of) ε = 0:
    /// the nearest positive semi-definite matrix, continuous with ε → 0 as tr C → 0. A numerical
    /// error where C is not finite or the eigendecomposition fails.
    pub fn apply(c: MatRef<'_, f64>, share: f64) -> Result<Option<(Mat<f64>, Self)>> {
        let n = c.nrows();
        let trace: f64 = (0..n).map(|i| c[(i, i)]).sum();
        if !trace.is_finite() {
            return Err(Error::Numeric(format!(
                "z1's corrected covariance has trace {trace:e}, expected a finite number"
            )));
        }
        let eps = share * trace.max(0.0) / n as f64;
        let shifted = Mat::from_fn(n, n, |i, j| c[(i, j)] - if i == j { eps } else { 0.0 });
        if shifted.llt(Side::Lower).is_ok() {
            return Ok(None);
        }
        let evd = c
            .self_adjoint_eigen(Side::Lower)
            .map_err(|e| Error::Numeric(format!("z1's corrected covariance: {e:?}")))?;
        let lambda: Vec<f64> = (0..n).map(|k| evd.S()[k]).collect();
        if lambda.iter().all(|&l| l >= eps) {
            return Ok(None);
        }
        let floor = SpectralFloor {
            v: evd.U().to_owned(),
            lambda,
            share,
            eps,
            trace,
        };
        let scaled = Mat::from_fn(n, n, |i, k| floor.v[(i, k)] * floor.lambda[k].max(eps));
        let mut floored = &scaled * floor.v.transpose();
        // Exactly symmetric, as a covariance is stored.
        symmetrize(floored.as_mut());
        Ok(Some((floored, floor)))
    }

    /// Whether the covariance was indefinite (its lowest eigenvalue negative), not only nearly
    /// singular.
    pub fn indefinite(&self) -> bool {
        self.lambda.iter().any(|&l| l < 0.0)
    }

    /// How many eigenvalues were raised to ε.
    pub fn raised(&self) -> usize {
        self.lambda.iter().filter(|&&l| l < self.eps).count()
    }

    /// Σ_k (ε − λ_k)⁺ / tr C: how much variance the floor added, as a share of the trace
    /// (of Σ_k |λ_k| where tr C ≤ 0, so that the share stays finite and below 1).
    pub fn added_share(&self) -> f64 {
        let added: f64 = self.lambda.iter().map(|&l| (self.eps - l).max(0.0)).sum();
        let whole = if self.trace > 0.0 {
            self.trace
        } else {
            self.lambda.iter().map(|l| l.abs()).sum()
        };
        added / whole
    }

    /// C̄ of the module docs for the symmetric adjoint `g` of C₊.
    pub fn vjp(&self, g: MatRef<'_, f64>) -> Mat<f64> {
        let n = self.lambda.len();
        let eps = self.eps;
        let f = |l: f64| l.max(eps);
        let inner = self.v.transpose() * g * &self.v;
        let weight = |i: usize, j: usize| {
            let (li, lj) = (self.lambda[i], self.lambda[j]);
            match (li < eps, lj < eps) {
                (false, false) => 1.0,
                (true, true) => 0.0,
                _ => (f(li) - f(lj)) / (li - lj),
            }
        };
        let weighted = Mat::from_fn(n, n, |i, j| weight(i, j) * inner[(i, j)]);
        let mut adj = &self.v * weighted * self.v.transpose();
        let clipped: f64 = (0..n)
            .filter(|&k| self.lambda[k] < eps)
            .map(|k| inner[(k, k)])
            .sum();
        // ε = s·tr C/n moves with tr C only where tr C > 0 (else ε = 0).
        let through_trace = if self.trace > 0.0 {
            self.share / n as f64 * clipped
        } else {
            0.0
        };
        for i in 0..n {
            adj[(i, i)] += through_trace;
        }
        symmetrize(adj.as_mut());
        adj
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A symmetric n × n matrix with eigenvalues `lambda` in a fixed rotated basis.
    fn with_spectrum(lambda: &[f64]) -> Mat<f64> {
        let n = lambda.len();
        // An orthogonal Q from the eigenvectors of a fixed symmetric matrix.
        let a = Mat::from_fn(n, n, |i, j| {
            ((i * 7 + j * 3) % 5) as f64 + (i + j) as f64 * 0.1
        });
        let sym = Mat::from_fn(n, n, |i, j| a[(i, j)] + a[(j, i)]);
        let q = sym.self_adjoint_eigen(Side::Lower).unwrap().U().to_owned();
        let scaled = Mat::from_fn(n, n, |i, k| q[(i, k)] * lambda[k]);
        let mut c = &scaled * q.transpose();
        symmetrize(c.as_mut());
        c
    }

    #[test]
    fn leaves_a_positive_definite_matrix_alone() {
        let c = with_spectrum(&[0.5, 1.0, 2.0, 3.0]);
        assert!(SpectralFloor::apply(c.as_ref(), 1e-3).unwrap().is_none());
        // A deterministic z¹ (constant data): C = 0, nothing to floor (adversarial section 58:
        // a trace-0 covariance was refused as a numerical error).
        let zero = Mat::<f64>::zeros(3, 3);
        assert!(SpectralFloor::apply(zero.as_ref(), 1e-3).unwrap().is_none());
    }

    /// tr C ≤ 0 with C ≠ 0 is indefinite with no mean variance: ε = 0, the negative
    /// eigenvalues go to 0, the positive ones stay.
    #[test]
    fn floors_at_zero_where_the_trace_is_not_positive() {
        let c = with_spectrum(&[-2.0, 0.5, 1.5]);
        let (floored, floor) = SpectralFloor::apply(c.as_ref(), 1e-3).unwrap().unwrap();
        assert_eq!(floor.raised(), 1);
        assert!((floor.added_share() - 0.5).abs() < 1e-14);
        let mut got: Vec<f64> = floored
            .self_adjoint_eigenvalues(Side::Lower)
            .unwrap()
            .to_vec();
        got.sort_by(f64::total_cmp);
        for (g, w) in got.iter().zip([0.0, 0.5, 1.5]) {
            assert!((g - w).abs() < 1e-14 * 4.0, "eigenvalue {g} against {w}");
        }
    }

    #[test]
    fn raises_the_low_eigenvalues_to_the_floor_and_keeps_the_rest() {
        let lambda = [-0.4, 1e-9, 1.0, 2.5, 4.0];
        let c = with_spectrum(&lambda);
        let share = 1e-2;
        let trace: f64 = lambda.iter().sum();
        let eps = share * trace / 5.0;
        let (floored, floor) = SpectralFloor::apply(c.as_ref(), share).unwrap().unwrap();
        assert_eq!(floor.raised(), 2);
        assert!(floor.indefinite());
        let mut got: Vec<f64> = (0..5)
            .map(|k| floored.self_adjoint_eigenvalues(Side::Lower).unwrap()[k])
            .collect();
        got.sort_by(f64::total_cmp);
        let want = [eps, eps, 1.0, 2.5, 4.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-13 * 4.0, "eigenvalue {g} against {w}");
        }
        // The eigenvectors of the kept eigenvalues are the same: C₊ − C = Σ_raised (ε − λ)vvᵀ
        // has rank 2.
        let diff = &floored - &c;
        let s = diff.self_adjoint_eigenvalues(Side::Lower).unwrap();
        let big = s.iter().filter(|x| x.abs() > 1e-12).count();
        assert_eq!(big, 2);
        let added = (eps + 0.4) + (eps - 1e-9);
        assert!((floor.added_share() - added / trace).abs() < 1e-14);
    }

    /// C̄ against central differences of L(C) = ⟨G, C₊(C)⟩ in every tied pair Cᵢⱼ = Cⱼᵢ, with the
    /// floor acting on two eigenvalues (one across ε after the step would be a kink: the
    /// eigenvalues stay ≥ 0.05 away from ε, far beyond the step).
    #[test]
    fn reverse_pass_matches_central_differences() {
        let n = 5;
        let c = with_spectrum(&[-0.7, -0.1, 0.9, 1.6, 3.0]);
        let g = Mat::from_fn(n, n, |i, j| {
            let (a, b) = (i.min(j) as f64, i.max(j) as f64);
            0.3 + 0.2 * a - 0.15 * b + 0.05 * a * b
        });
        let share = 0.05;
        let value = |c: &Mat<f64>| {
            let (floored, _) = SpectralFloor::apply(c.as_ref(), share).unwrap().unwrap();
            (0..n)
                .flat_map(|i| (0..n).map(move |j| (i, j)))
                .map(|(i, j)| g[(i, j)] * floored[(i, j)])
                .sum::<f64>()
        };
        let (_, floor) = SpectralFloor::apply(c.as_ref(), share).unwrap().unwrap();
        assert_eq!(floor.raised(), 2);
        let adj = floor.vjp(g.as_ref());
        let h = 1e-5;
        for i in 0..n {
            for j in 0..=i {
                let step = |t: f64| {
                    let mut m = c.clone();
                    m[(i, j)] += t;
                    if i != j {
                        m[(j, i)] += t;
                    }
                    value(&m)
                };
                let fd = (step(h) - step(-h)) / (2.0 * h);
                let want = if i == j {
                    adj[(i, i)]
                } else {
                    2.0 * adj[(i, j)]
                };
                // Central differences err by h²|L'''|/6; L is a smooth spectral function of
                // entries of order 1 with eigen-gaps ≥ 0.6, so |L'''| = O(10): 1e-9 bounds it.
                assert!(
                    (fd - want).abs() < 1e-8,
                    "({i}, {j}): differences {fd}, reverse pass {want}"
                );
            }
        }
    }
}
