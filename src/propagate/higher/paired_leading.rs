//! The affine map of the paired κ₄ ([`super::paired`]) to leading order in the width: O(N³)
//! instead of the exact map's N⁴.
//!
//! The exact map (`paired::affine_paired`) is
//!
//! ```text
//! κ₄(h)[i,i,j,j] = [(W∘W) P (W∘W)ᵀ]_ij + 2 Σ_{a≠b} (W_ia W_ib)(W_ja W_jb) P[a,b].
//! ```
//!
//! Power counting in a random layer of width n (W ~ n^(−1/2), P\[a,b\] ~ n^(−1) for every a, b;
//! Wu et al. 2026, arXiv 2605.05179, eq. 14): the first term is a sum of n² positive weights
//! times P, ~ n^(−1). The second term at i ≠ j sums n² products W_ia W_ib W_ja W_jb of random
//! sign, ~ n·n^(−2)·n^(−1) = n^(−2): one order below the first, as the κ₄ entries the paired
//! tensor already drops (κ₄\[a,a,b,c\] ~ n^(−3/2)). At i = j its products are squares, coherent:
//! 2 Σ_{a≠b} W_ia² W_ib² P\[a,b\] ~ n^(−1), the first term's order. This map keeps the first
//! term everywhere and the second on the diagonal only:
//!
//! ```text
//! Q[i,j] = [(W∘W) P (W∘W)ᵀ]_ij                                       (i ≠ j)
//! Q[i,i] = 3 Σ_a (W∘W)_ia T_ia − 2 Σ_a (W_ia)⁴ P[a,a],   T = (W∘W) P
//! ```
//!
//! (Σ_{a≠b} w_a w_b (P\[a,b\] + P\[b,a\]) = 2 Σ_a w_a T_a − 2 Σ_a w_a² P\[a,a\] with w = (W∘W)_i;
//! the diagonal is exact). Flops 2MN² + 2M²N + 4MN for an M × N map. It changes what is
//! computed: its accuracy against Monte Carlo is in EXPERIMENTS.md ("Carried orders, sixth
//! session").

use faer::MatRef;

use super::paired::{first_pairing, Paired};

/// Flops of [`affine_paired_leading`] for an M × N map.
pub fn paired_leading_flops(m: usize, n: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    2.0 * m * n * n + 2.0 * m * m * n + 4.0 * m * n
}

/// κ₄(h)\[i,i,j,j\] for h = W z from z's paired κ₄ `p` to leading order in the width (module
/// docs), M × M.
pub fn affine_paired_leading(w: MatRef<'_, f64>, p: &Paired) -> Paired {
    let p = &p.0;
    let (m, n) = (w.nrows(), w.ncols());
    let [w2, t, mut q] = first_pairing(w, p);
    for i in 0..m {
        let (mut wt, mut w4p) = (0.0, 0.0);
        for a in 0..n {
            let v = w2[(i, a)];
            wt += v * t[(i, a)];
            w4p += v * v * p[(a, a)];
        }
        q[(i, i)] = 3.0 * wt - 2.0 * w4p;
    }
    Paired(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::higher::paired::affine_paired;
    use faer::Mat;

    #[test]
    fn diagonal_is_exact_and_off_diagonal_is_the_first_pairing() {
        let (m, n) = (5, 4);
        let w = Mat::from_fn(m, n, |i, a| ((i * 7 + a * 3) % 5) as f64 * 0.3 - 0.55);
        // Not symmetric: the diagonal formula must not assume it.
        let p = Mat::from_fn(n, n, |a, b| {
            0.1 + 0.05 * a as f64 - 0.03 * b as f64 + 0.2 * f64::from(u8::from(a == b))
        });
        let exact = affine_paired(w.as_ref(), &Paired(p.clone())).0;
        let lead = affine_paired_leading(w.as_ref(), &Paired(p.clone())).0;
        let w2 = Mat::from_fn(m, n, |i, a| w[(i, a)] * w[(i, a)]);
        let first = &w2 * &p * w2.transpose();
        for i in 0..m {
            for j in 0..m {
                let want = if i == j { exact[(i, i)] } else { first[(i, j)] };
                assert!(
                    (lead[(i, j)] - want).abs() < 1e-13 * (1.0 + want.abs()),
                    "{i},{j}: {} vs {want}",
                    lead[(i, j)]
                );
            }
        }
        // The dropped pairing is not zero here: the test separates the two maps.
        assert!((exact[(0, 1)] - first[(0, 1)]).abs() > 1e-3);
    }
}
