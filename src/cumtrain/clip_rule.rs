//! The clip rule of the correction bound (`--correction-bound-rule clip`,
//! [`super::correction_bound`]): the corrected covariance with only the generalized eigenvalues
//! of the pencil (ΔC, B) below −(1 − α) raised to it, every other direction's correction whole.
//!
//! With B = C_G + εI = LLᵀ (Cholesky), M = L⁻¹ΔCL⁻ᵀ = V diag(λ) Vᵀ (full symmetric
//! eigendecomposition, VᵀV = I) and C_c = C_G + ΔC the corrected covariance,
//!
//! ```text
//! C = C_G + L f(M) Lᵀ,   f(λ) = max(λ, −(1 − α)),
//!   = C_c + L h(M) Lᵀ,   h(λ) = f(λ) − λ = max(0, −(1 − α) − λ),
//!   = C_c + Σ_{a: λ_a < −(1−α)} h(λ_a) (B w_a)(B w_a)ᵀ,   w_a = L⁻ᵀ v_a,
//! ```
//!
//! w_a the generalized eigenvectors (ΔC w = λ B w, wᵀBw = 1), so C does not depend on the factor
//! chosen for B (B^{1/2}Q gives the same C). The least generalized eigenvalue of (C − C_G, B) is
//! that of f(M), min_a f(λ_a) ≥ −(1 − α): C ⪰ C_G − (1 − α)B = αC_G − (1 − α)εI, the scale
//! rule's guarantee, and vᵀCv = vᵀC_cv for every v B-orthogonal to the clipped w_a (B w_a ⊥ v).
//! C is continuous in (C_G, ΔC) (f is Lipschitz, and so is the matrix function f(M)).
//!
//! **Reverse pass**, for the adjoint Ḡ (symmetric) of C. C_c takes Ḡ whole; the product
//! P = L h(M) Lᵀ gives
//!
//! ```text
//! ⟨Ḡ, dP⟩ = ⟨2ḠLh(M), dL⟩ + ⟨LᵀḠL, d h(M)⟩,
//! d h(M) = V (Γ ∘ (Vᵀ dM V)) Vᵀ   ⇒   M̄ = V (Γ ∘ (Vᵀ(LᵀḠL)V)) Vᵀ,
//! ```
//!
//! the Daleckii–Krein formula for the derivative of a matrix function (Higham, "Functions of
//! Matrices", 2008, Thm. 3.11 and §3.2; the divided-difference form), with Γ the first divided
//! differences of h at the eigenvalues: Γ_ab = (h(λ_a) − h(λ_b))/(λ_a − λ_b), Γ_aa = h′(λ_a).
//! h is piecewise linear with its kink at −(1 − α), so Γ is exact without a tolerance for
//! equal or near-equal eigenvalues: −1 where both are clipped (λ < −(1 − α)), 0 where neither
//! is, h(λ_a)/(λ_a − λ_b) ∈ [−1, 0] where only λ_a is (then λ_b ≥ −(1 − α) > λ_a: no division
//! by zero). h′ is taken as 0 at the kink itself, where h has no derivative (the right one). It
//! is the derivative wherever no eigenvalue lies on the kink: there h agrees near the spectrum
//! with a smooth function of the same values and derivatives, for which the formula holds.
//! From M = L⁻¹ΔCL⁻ᵀ, dM = L⁻¹dΔCL⁻ᵀ − L⁻¹dL M − M dLᵀL⁻ᵀ (Magnus & Neudecker, "Matrix
//! Differential Calculus", ch. 8), so with M̄ and M symmetric
//!
//! ```text
//! ΔC̄ = L⁻ᵀ M̄ L⁻¹,   L̄ = 2ḠLh(M) − 2L⁻ᵀM̄M,
//! B̄ = L⁻ᵀ sym(Φ(LᵀL̄)) L⁻¹,
//! ```
//!
//! the last the Cholesky factor's reverse pass (Murray, "Differentiation of the Cholesky
//! decomposition", 2016, eq. 10: dL = LΦ(L⁻¹dBL⁻ᵀ), Φ the lower triangle with the diagonal
//! halved, self-adjoint in the Frobenius product; sym(X) = (X + Xᵀ)/2 as dB is symmetric).
//! [`super::correction_bound`] takes (ΔC̄, B̄) to C_c and C_G (ΔC = C_c − C_G,
//! B = C_G + (s/n)tr(C_G)I).

use faer::linalg::triangular_solve::solve_upper_triangular_in_place;
use faer::{Col, Mat, MatRef, Par, Side};

use crate::error::{Error, Result};
use crate::linalg::symmetrize;

/// The eigendecomposition of M for the clip rule (module docs), and what its reverse pass needs.
pub(super) struct Clip {
    /// L, the Cholesky factor of B.
    l: Mat<f64>,
    m: Mat<f64>,
    /// V and λ (ascending).
    v: Mat<f64>,
    lambda: Vec<f64>,
    /// −(1 − α), the kink of h.
    kink: f64,
}

impl Clip {
    /// The decomposition of the symmetric `m` = L⁻¹ΔCL⁻ᵀ, `l` the Cholesky factor of B, at the
    /// share `alpha`. A numerical error where the eigendecomposition fails.
    pub(super) fn new(l: MatRef<'_, f64>, m: Mat<f64>, alpha: f64) -> Result<Self> {
        let evd = m.self_adjoint_eigen(Side::Lower).map_err(|e| {
            Error::Numeric(format!("the correction bound's eigenproblem (clip): {e:?}"))
        })?;
        let n = m.nrows();
        Ok(Clip {
            l: l.to_owned(),
            v: evd.U().to_owned(),
            lambda: (0..n).map(|a| evd.S()[a]).collect(),
            m,
            kink: -(1.0 - alpha),
        })
    }

    /// The least eigenpair (λ₁, u) of M, uᵀu = 1.
    pub(super) fn least(&self) -> (f64, Col<f64>) {
        (self.lambda[0], self.v.col(0).to_owned())
    }

    /// h(λ) = max(0, −(1 − α) − λ).
    fn h(&self, lambda: f64) -> f64 {
        (self.kink - lambda).max(0.0)
    }

    /// The eigenvalues clipped (λ < −(1 − α)).
    pub(super) fn clipped(&self) -> usize {
        self.lambda.iter().filter(|&&l| l < self.kink).count()
    }

    /// h(M) = V diag(h(λ)) Vᵀ over the clipped eigenvectors.
    fn h_of_m(&self) -> Mat<f64> {
        let n = self.m.nrows();
        let k = self.clipped();
        let vh = Mat::from_fn(n, k, |i, a| self.v[(i, a)] * self.h(self.lambda[a]));
        &vh * self.v.get(.., ..k).transpose()
    }

    /// L h(M) Lᵀ, what the clip adds to the corrected covariance C_c.
    pub(super) fn addition(&self) -> Mat<f64> {
        let n = self.m.nrows();
        let k = self.clipped();
        // Y = L V_k, L h(M) Lᵀ = Y diag(h) Yᵀ.
        let y = &self.l * self.v.get(.., ..k);
        let yh = Mat::from_fn(n, k, |i, a| y[(i, a)] * self.h(self.lambda[a]));
        symmetric(&yh * y.transpose())
    }

    /// Γ_ab, the divided difference of h at (λ_a, λ_b) (module docs).
    fn gamma(&self, a: usize, b: usize) -> f64 {
        let (la, lb) = (self.lambda[a], self.lambda[b]);
        match (la < self.kink, lb < self.kink) {
            (true, true) => -1.0,
            (false, false) => 0.0,
            _ => ((self.h(la) - self.h(lb)) / (la - lb)).clamp(-1.0, 0.0),
        }
    }

    /// (ΔC̄, B̄) from the adjoint `g_bar` (symmetric) of C (module docs).
    pub(super) fn vjp(&self, g_bar: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let n = self.m.nrows();
        let (l, v) = (&self.l, &self.v);
        let x = l.transpose() * g_bar * l;
        let xv = v.transpose() * &x * v;
        let inner = Mat::from_fn(n, n, |a, b| self.gamma(a, b) * xv[(a, b)]);
        let m_bar = symmetric(v * &inner * v.transpose());
        let d_cov_bar = symmetric(congruence(l.as_ref(), &m_bar));
        // L̄ = 2ḠLh(M) − 2L⁻ᵀM̄M.
        let mut second = &m_bar * &self.m;
        solve_upper_triangular_in_place(l.transpose(), second.as_mut(), Par::Seq);
        let l_bar = 2.0 * (g_bar * l * self.h_of_m()) - 2.0 * second;
        // Φ(LᵀL̄), symmetrised.
        let p = l.transpose() * &l_bar;
        let phi = Mat::from_fn(n, n, |i, j| match i.cmp(&j) {
            std::cmp::Ordering::Greater => 0.5 * p[(i, j)],
            std::cmp::Ordering::Less => 0.5 * p[(j, i)],
            std::cmp::Ordering::Equal => 0.5 * p[(i, i)],
        });
        let b_bar = symmetric(congruence(l.as_ref(), &phi));
        (d_cov_bar, b_bar)
    }
}

/// L⁻ᵀ A L⁻¹ for the lower triangular `l`.
fn congruence(l: MatRef<'_, f64>, a: &Mat<f64>) -> Mat<f64> {
    let mut x = a.clone();
    solve_upper_triangular_in_place(l.transpose(), x.as_mut(), Par::Seq);
    let mut y = x.transpose().to_owned();
    solve_upper_triangular_in_place(l.transpose(), y.as_mut(), Par::Seq);
    y.transpose().to_owned()
}

/// (A + Aᵀ)/2.
fn symmetric(mut a: Mat<f64>) -> Mat<f64> {
    symmetrize(a.as_mut());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With M = diag(−1.5, −0.6, 0.1, 0.5, 1.0) (exact: the eigenvalue −0.6 on the kink at
    /// α = 0.4) the clip leaves the kink's direction alone (one eigenvalue clipped) and the
    /// reverse pass there is finite and the limit from above (h′ = 0 at the kink: −0.6 + 10⁻⁹
    /// gives the same (ΔC̄, B̄) to 10⁻⁶). Fails with h′ taken as −1 at the kink.
    #[test]
    fn at_the_kink_the_derivative_is_taken_from_above() {
        let n = 5;
        let a = Mat::from_fn(n, n, |i, j| ((i * 3 + j * 5) % 7) as f64 * 0.1 - 0.2);
        let mut b = &a * a.transpose();
        for i in 0..n {
            b[(i, i)] += 0.3 + 0.1 * i as f64;
        }
        let l = b.llt(Side::Lower).unwrap().L().to_owned();
        let g_bar = Mat::from_fn(n, n, |i, j| 0.4 - 0.1 * (i + j) as f64);
        let adjoints = |second: f64| {
            let lambda = [-1.5, second, 0.1, 0.5, 1.0];
            let m = Mat::from_fn(n, n, |i, j| if i == j { lambda[i] } else { 0.0 });
            let clip = Clip::new(l.as_ref(), m, 0.4).unwrap();
            assert_eq!(clip.lambda, lambda.to_vec());
            let (d, b) = clip.vjp(g_bar.as_ref());
            (clip.clipped(), [d, b])
        };
        let (clipped, at) = adjoints(-0.6);
        let (_, above) = adjoints(-0.6 + 1e-9);
        assert_eq!(clipped, 1);
        for (x, y) in at.iter().zip(&above) {
            for i in 0..n {
                for j in 0..n {
                    assert!(x[(i, j)].is_finite());
                    assert!(
                        (x[(i, j)] - y[(i, j)]).abs() < 1e-6,
                        "({i}, {j}): at the kink {}, above {}",
                        x[(i, j)],
                        y[(i, j)]
                    );
                }
            }
        }
    }
}
