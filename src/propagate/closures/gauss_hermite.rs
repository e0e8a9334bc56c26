//! The Gauss–Hermite rule for the standard normal weight: Σₖ wₖ f(zₖ) ≈ E[f(z)], z ~ N(0, 1),
//! exact for polynomials of degree ≤ 2M − 1 (Golub & Welsch, Math. Comp. 23, 221, 1969).

use std::sync::OnceLock;

use faer::{Mat, Side};

/// Nodes of the two rules used by the Hermite coefficients of narrow units.
pub(crate) const SMALL: usize = 128;
pub(crate) const LARGE: usize = 256;

/// The M-point rule (nodes ascending, weights summing to 1): the nodes are the eigenvalues of
/// the Jacobi matrix of the orthonormal Hermite polynomials hₙ = Heₙ/√n! (zero diagonal,
/// off-diagonal √n, n = 1..M−1), each polished by two Newton steps on h_M (h_M' = √M h_{M−1});
/// the weights are the Christoffel numbers wₖ = 1/Σ_{n<M} hₙ(zₖ)², a sum of positive terms
/// (full relative accuracy even where wₖ ~ 10⁻⁶⁰).
pub(crate) fn gauss_hermite(m: usize) -> (Vec<f64>, Vec<f64>) {
    let jacobi = Mat::from_fn(m, m, |i, j| {
        if i.abs_diff(j) == 1 {
            (i.max(j) as f64).sqrt()
        } else {
            0.0
        }
    });
    let mut z: Vec<f64> = match jacobi.self_adjoint_eigen(Side::Lower) {
        Ok(evd) => evd.S().column_vector().iter().copied().collect(),
        Err(_) => return (Vec::new(), Vec::new()),
    };
    z.sort_by(f64::total_cmp);
    let mut w = vec![0.0; m];
    for (zk, wk) in z.iter_mut().zip(&mut w) {
        for _ in 0..2 {
            let (hm, hm1, _) = hermite_at(m, *zk);
            if hm1 != 0.0 {
                *zk -= hm / ((m as f64).sqrt() * hm1);
            }
        }
        *wk = 1.0 / hermite_at(m, *zk).2;
    }
    (z, w)
}

/// (h_M(z), h_{M−1}(z), Σ_{n<M} hₙ(z)²) by the recurrence hₙ₊₁ = (z hₙ − √n hₙ₋₁)/√(n+1).
fn hermite_at(m: usize, z: f64) -> (f64, f64, f64) {
    let (mut h0, mut h1, mut sum) = (0.0, 1.0, 0.0);
    for n in 0..m {
        sum += h1 * h1;
        let h2 = (z * h1 - (n as f64).sqrt() * h0) / ((n + 1) as f64).sqrt();
        (h0, h1) = (h1, h2);
    }
    (h1, h0, sum)
}

/// The [`SMALL`]- or (`large`) [`LARGE`]-point rule, each computed once.
pub(crate) fn rule(large: bool) -> &'static (Vec<f64>, Vec<f64>) {
    static RULES: [OnceLock<(Vec<f64>, Vec<f64>)>; 2] = [OnceLock::new(), OnceLock::new()];
    let m = if large { LARGE } else { SMALL };
    RULES[usize::from(large)].get_or_init(|| gauss_hermite(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moments E[z^{2p}] = (2p − 1)!! to 1e-13 relative for 2p ≤ 2M − 2, weights positive and
    /// summing to 1, nodes symmetric.
    #[test]
    fn rule_integrates_even_moments() {
        for m in [5, 40, SMALL, LARGE] {
            let (z, w) = gauss_hermite(m);
            assert_eq!(z.len(), m);
            assert!(w.iter().all(|&w| w > 0.0));
            for k in 0..m {
                assert!(
                    (z[k] + z[m - 1 - k]).abs() <= 1e-12 * (1.0 + z[k].abs()),
                    "{m}: {k}"
                );
            }
            let mut double_fact = 1.0;
            for p in 0..m.min(30) {
                let got: f64 = z
                    .iter()
                    .zip(&w)
                    .map(|(z, w)| w * z.powi(2 * p as i32))
                    .sum();
                assert!(
                    (got - double_fact).abs() <= 1e-13 * double_fact,
                    "M = {m}, E[z^{}] = {got} vs {double_fact}",
                    2 * p
                );
                double_fact *= (2 * p + 1) as f64;
            }
        }
    }
}
