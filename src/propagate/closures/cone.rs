//! An order-3|4 corrected covariance that is no covariance, made one (issue #16; EXPERIMENTS.md,
//! "The indefinite corrected covariance floored in its own eigenvectors, wpsd76
//! (seventy-sixth session)").
//!
//! The per-unit and per-pair tests of [`super::edgeworth`] keep every 2×2 block of the
//! corrected covariance C positive semidefinite, not the whole matrix: on a strongly skewed
//! input, and on a relu MNIST network's z¹ in 8 of 10 classes at order 3, C has a few negative
//! eigenvalues (the expansion itself leaves the cone: an independent order-3 expansion does
//! too, EXPERIMENTS.md "After the merges …, lead (seventy-fourth session)"). Falling back to the
//! Gaussian closure's class there lost order 3's gain at the output (psd75, reverted). So C's
//! spectrum is floored, in C's own eigenvectors, at a share of the Gaussian closure's variance
//! along each:
//!
//! ```text
//! C = V Λ Vᵀ,   g_k = v_kᵀ C_G v_k,   C' = V max(Λ, f·g) Vᵀ,   f = FLOOR_SHARE,
//! ```
//!
//! C_G the Gaussian closure's covariance of the same class. C' is positive semidefinite (its
//! eigenvalues are max(λ_k, f·g_k) ≥ 0) and equals C on every eigenvector with λ_k ≥ f·g_k; for
//! f = 0 it is the nearest positive semidefinite matrix to C in the Frobenius norm (Higham 1988,
//! "Computing a nearest symmetric positive semidefinite matrix"), which changes C by only the
//! negative eigenvalues (on MNIST −2·10⁻⁶ to −1.5·10⁻³, variances ~0.03). But there the
//! raised direction has no variance, the KL against the measurement weighs it by 1/λ (the
//! ridge), and z¹'s KL came out 8·10⁵ (order 2: 23). The floor gives it a tenth of the variance
//! the Gaussian closure gives that direction (a singular C_G, dead units, gives 0 there:
//! f·g_k = 0, the nearest matrix). Chosen by the measurements (EXPERIMENTS.md): with f = 0.1
//! the relu MNIST output keeps order 3's gain (y's median KL 0.232 against 0.231 unprojected,
//! 0.273 at order 2) and z¹'s KL is 23; the nearest matrix in the Gaussian closure's whitened
//! frame (C_G^{−½}CC_G^{−½}'s eigenvalues clipped) moved y's KL to 0.242–0.250, its whitened
//! negative eigenvalues (down to −1.1) being far larger changes of C. The mean is not changed.
//!
//! **Where.** The corrections at the first nonlinearity ([`super::edgeworth`]'s `corrected`).
//! Not the carried orders (`--carry depth`, `propagate::higher::carry`): the same floor in
//! their closure made ARC's order-4 pilot abandon 5 of 12 carries on the KL while their
//! covariance stayed better than the Gaussian's (EXPERIMENTS.md, "The cone's floor in the
//! carried orders, tried and not adopted, lead (seventy-sixth session)").
//!
//! **When.** Only where C + λI has no Cholesky factor, λ = [`COVARIANCE_RIDGE`] × tr C_G / N
//! (the KL's own ridge: C passes where the comparison can factor it), and C_G + λI has one (a
//! class whose Gaussian closure is itself no covariance is not the corrections' doing and is
//! left as it is). Rounding moves an eigenvalue of a matrix formed entry by entry (each off by a
//! few ε of √(CᵢᵢCⱼⱼ)) by ~N·ε·max Cᵢᵢ, 10⁻¹³ of the variances at N = 1000, far below λ, so a
//! covariance positive semidefinite up to rounding (rank-deficient, constant units) is kept as
//! it is. Cost: a Cholesky factorization (N³/3) per corrected class; where it projects, an
//! N × N eigendecomposition and three N × N products.

use faer::{Mat, MatRef, Side};

use crate::error::{Error, Result};
use crate::linalg::symmetrize;
use crate::stats::gaussian::{factorable_with_ridge, mean_variance, KL_RIDGE};

/// The relative ridge of the class-level test (module docs, "When"): the KL's, so a corrected
/// covariance kept is one the comparison can factor too.
pub const COVARIANCE_RIDGE: f64 = KL_RIDGE;

/// f: the floor of a raised eigenvalue as a share of the Gaussian closure's variance along its
/// eigenvector (module docs).
pub const FLOOR_SHARE: f64 = 0.1;

/// Whether the corrected covariance `corrected` is no covariance where the Gaussian closure's
/// `gauss` is one (module docs, "When"): `corrected` + λI has no Cholesky factor while `gauss`
/// + λI has, λ = [`COVARIANCE_RIDGE`] × `gauss`'s mean variance.
fn leaves_the_cone(gauss: MatRef<'_, f64>, corrected: MatRef<'_, f64>) -> bool {
    let lambda = COVARIANCE_RIDGE * mean_variance(&[gauss]);
    let par = faer::get_global_parallelism();
    !factorable_with_ridge(corrected, lambda, par) && factorable_with_ridge(gauss, lambda, par)
}

/// C' of the module docs for the corrected covariance `corrected` and the Gaussian closure's
/// `gauss` of the same class, f = [`FLOOR_SHARE`], where `corrected` [`leaves_the_cone`];
/// `None` where it does not (kept as it is). A numerical error where the eigendecomposition
/// fails.
pub(crate) fn projected(
    gauss: MatRef<'_, f64>,
    corrected: MatRef<'_, f64>,
) -> Result<Option<Mat<f64>>> {
    if !leaves_the_cone(gauss, corrected) {
        return Ok(None);
    }
    let e = corrected.self_adjoint_eigen(Side::Lower).map_err(|e| {
        Error::Numeric(format!(
            "the corrected covariance, not positive semidefinite, has no eigendecomposition \
             ({e:?})"
        ))
    })?;
    let (v, n) = (e.U(), gauss.nrows());
    // g_k = v_kᵀ C_G v_k.
    let gv = gauss * v;
    let floor: Vec<f64> = (0..n)
        .map(|k| FLOOR_SHARE * (0..n).map(|i| v[(i, k)] * gv[(i, k)]).sum::<f64>())
        .collect();
    let raised = Mat::from_fn(n, n, |i, k| v[(i, k)] * e.S()[k].max(floor[k]));
    let mut c = &raised * v.transpose();
    // Exactly symmetric, as a covariance is stored.
    symmetrize(c.as_mut());
    Ok(Some(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::closures::{Closure, Corrections, ReluClosure};
    use crate::stats::Moments;

    /// h = Wx + b over x = (e − 1, g₁, g₂), e exponential of mean 1 (skewness 2), g standard
    /// normal: the κ₃ slices the affine update gives, κ₃\[i,i,j\] = 2·Wᵢ₀²Wⱼ₀.
    fn skewed(w: &[[f64; 3]], b: &[f64]) -> Moments {
        let n = w.len();
        let mu = faer::Col::from_fn(n, |i| b[i]);
        let cov = Mat::from_fn(n, n, |i, j| (0..3).map(|a| w[i][a] * w[j][a]).sum());
        let k3 = Mat::from_fn(n, n, |i, j| 2.0 * w[i][0] * w[i][0] * w[j][0]);
        Moments::with_slices(mu, cov, (Some(k3), None, None), 1.0)
    }

    /// A small skewed case whose order-3 relu correction leaves the cone (psd75's: three units
    /// of skewness up to 0.7, no unit or pair fallen back, yet the corrected covariance, as
    /// `corrected_from_gaussian` writes it, has an eigenvalue −2.2·10⁻³, while the Gaussian
    /// closure's is positive definite). The closure's result at order 3 is projected (1 of 1
    /// class), its mean the corrected one; C' is positive definite, keeps C's eigenvalue on
    /// every eigenvector where λ_k ≥ f·g_k (to 10⁻¹² of C's largest) and gives the raised one
    /// f·g_k. Fails with no projection (C' = C, indefinite), with the floor dropped (the raised
    /// eigenvalue 0, not f·g_k) and with the whitened frame's projection (C' differs from C on
    /// the kept eigenvectors).
    #[test]
    fn an_indefinite_corrected_covariance_is_floored_in_its_own_eigenvectors() {
        use crate::propagate::closures::edgeworth::{closure_units, corrected_from_gaussian};
        let x = skewed(
            &[[-0.6, 0.5, -0.1], [-1.4, -1.2, 0.6], [-0.6, 1.0, 0.2]],
            &[-0.5, 0.1, 0.1],
        );
        let gauss = ReluClosure.apply(&x, Corrections::None).unwrap();
        let (mu, s) = closure_units(&x, "relu").unwrap();
        let terms = crate::propagate::closures::relu_terms::ReluTerms { mu, s };
        let mut bare = gauss.clone();
        corrected_from_gaussian(&x, Corrections::K3, &gauss, &mut bare, ("relu", &terms)).unwrap();
        let e = bare.cov.self_adjoint_eigen(Side::Lower).unwrap();
        let lowest = e.S()[0];
        assert!(lowest < -1e-3, "{lowest}");
        let mut out = gauss.clone();
        let f = ReluClosure
            .apply_counted(&x, Corrections::K3, &mut out)
            .unwrap();
        assert_eq!(
            (f.projected, f.classes_tried, f.units, f.pairs),
            (1, 1, 0, 0)
        );
        assert_eq!(out.mean, bare.mean);
        let c = &out.cov;
        assert!(factorable_with_ridge(c.as_ref(), 0.0, faer::Par::Seq));
        let scale = e.S()[2];
        for k in 0..3 {
            let v = e.U().col(k);
            let g = (v.transpose() * &gauss.cov * v) * FLOOR_SHARE;
            let want = e.S()[k].max(g);
            // C'v_k = max(λ_k, f·g_k) v_k.
            let cv = c * v;
            for i in 0..3 {
                let d = cv[i] - want * v[i];
                assert!(d.abs() < 1e-12 * scale, "eigenvector {k}, entry {i}: {d:e}");
            }
        }
        assert!(e.S()[1] > FLOOR_SHARE * (e.U().col(1).transpose() * &gauss.cov * e.U().col(1)));
    }

    /// A positive semidefinite corrected covariance is kept, however singular: units 0 and 1
    /// one variable and unit 2 constant, so the relu's order-3 result has rank 2 of 4 at most;
    /// it is tested (1 class tried), not projected. And [`projected`] on explicit correlation
    /// matrices: a singular positive semidefinite one beside a definite Gaussian one is kept
    /// (fails with the ridge dropped), an indefinite one is not, and an indefinite one beside a
    /// Gaussian one indefinite as well is kept (fails without the comparison with the Gaussian
    /// result: a class broken by construction is not the corrections' doing).
    #[test]
    fn a_singular_positive_semidefinite_correction_is_not_projected() {
        let x = skewed(
            &[
                [-0.6, 0.5, -0.1],
                [-0.6, 0.5, -0.1],
                [0.0, 0.0, 0.0],
                [-0.6, 1.0, 0.2],
            ],
            &[-0.5, -0.5, 0.3, 0.1],
        );
        let gauss = ReluClosure.apply(&x, Corrections::None).unwrap();
        let mut out = gauss.clone();
        let f = ReluClosure
            .apply_counted(&x, Corrections::K3, &mut out)
            .unwrap();
        assert_eq!((f.projected, f.classes_tried), (0, 1));
        assert_ne!(out.cov[(0, 0)], gauss.cov[(0, 0)]);
        assert_eq!(out.cov[(2, 2)], 0.0);
        // Correlations (ρ₀₁, ρ₀₂, ρ₁₂).
        let m = |r: [f64; 3]| {
            let mut c = Mat::identity(3, 3);
            for (k, (i, j)) in [(0, 1), (0, 2), (1, 2)].into_iter().enumerate() {
                c[(i, j)] = r[k];
                c[(j, i)] = r[k];
            }
            c
        };
        let definite = m([0.5, 0.2, 0.2]);
        // Rows 0 and 1 equal: an eigenvalue 0. (0.9, 0.9, −0.9): an eigenvalue −0.8.
        let singular = m([1.0, 0.3, 0.3]);
        let indefinite = m([0.9, 0.9, -0.9]);
        let kept =
            |g: &Mat<f64>, c: &Mat<f64>| projected(g.as_ref(), c.as_ref()).unwrap().is_none();
        assert!(kept(&definite, &singular));
        assert!(!kept(&definite, &indefinite));
        assert!(kept(&indefinite, &m([0.95, 0.9, -0.9])));
        assert!(kept(&definite, &definite));
    }

    /// The counts reach the JSON under `fallbacks` by these names.
    #[test]
    fn the_projected_classes_are_counted_in_the_json() {
        let f = crate::propagate::closures::Fallbacks {
            projected: 2,
            classes_tried: 3,
            ..Default::default()
        };
        let j = serde_json::to_value(f).unwrap();
        assert_eq!(
            (j["projected"].as_u64(), j["classes_tried"].as_u64()),
            (Some(2), Some(3))
        );
    }
}
