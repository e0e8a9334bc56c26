//! The node sums of [`super::chaos`] on SIMD lanes: for a 1-D rule (nodes z_k, weights w_k,
//! φ_k = φ(μ + s z_k)),
//!
//! ```text
//! m = Σ_k w_k φ_k,    S[p][j] = Σ_k w_k (φ_k − m)^p He_j(z_k)   (p = 1…4, j = 0…5)
//! ```
//!
//! lanes over the nodes, the 24 sums held in registers (a unit's coefficients are these sums
//! scaled, `UnitChaos::from_nodes`). Equal to the scalar loop to rounding (the order of the
//! additions differs).

use pulp::{Simd, WithSimd};

use super::chaos::{MAX_DEGREE, MAX_POWER};
use crate::simd::{dispatch, load};

/// The sums S\[p\]\[j\] (row p = 0 unused).
pub type NodeSums = [[f64; MAX_DEGREE + 1]; MAX_POWER + 1];

/// m and S of the rule (`z`, `w`) for φ at the nodes `phi` (module docs).
pub fn node_sums(z: &[f64], w: &[f64], phi: &[f64]) -> (f64, NodeSums) {
    dispatch(Sums { z, w, phi })
}

struct Sums<'a> {
    z: &'a [f64],
    w: &'a [f64],
    phi: &'a [f64],
}

impl WithSimd for Sums<'_> {
    type Output = (f64, NodeSums);

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> Self::Output {
        let n = self.z.len().min(self.w.len()).min(self.phi.len());
        let lanes = S::F64_LANES;
        let mut acc = simd.splat_f64s(0.0);
        let mut start = 0;
        while start < n {
            let end = (start + lanes).min(n);
            let wf = simd.mul_f64s(
                load(simd, &self.w[start..end]),
                load(simd, &self.phi[start..end]),
            );
            acc = simd.add_f64s(acc, wf);
            start = end;
        }
        let mean = simd.reduce_sum_f64s(acc);
        let m = simd.splat_f64s(mean);
        let zero = simd.splat_f64s(0.0);
        let mut sums = [[zero; MAX_DEGREE + 1]; MAX_POWER];
        let (c3, c6, c10, c15) = (
            simd.splat_f64s(3.0),
            simd.splat_f64s(6.0),
            simd.splat_f64s(10.0),
            simd.splat_f64s(15.0),
        );
        let one = simd.splat_f64s(1.0);
        let mut start = 0;
        while start < n {
            let end = (start + lanes).min(n);
            // Padding lanes load 0: weight 0, finite values.
            let z = load(simd, &self.z[start..end]);
            let w = load(simd, &self.w[start..end]);
            let d = simd.sub_f64s(load(simd, &self.phi[start..end]), m);
            let z2 = simd.mul_f64s(z, z);
            let z4 = simd.mul_f64s(z2, z2);
            let he = [
                one,
                z,
                simd.sub_f64s(z2, one),
                simd.mul_f64s(z, simd.sub_f64s(z2, c3)),
                simd.add_f64s(simd.sub_f64s(z4, simd.mul_f64s(c6, z2)), c3),
                simd.mul_f64s(
                    z,
                    simd.add_f64s(simd.sub_f64s(z4, simd.mul_f64s(c10, z2)), c15),
                ),
            ];
            let mut pow = w;
            for row in sums.iter_mut() {
                pow = simd.mul_f64s(pow, d);
                for (s, &h) in row.iter_mut().zip(&he) {
                    *s = simd.mul_add_f64s(pow, h, *s);
                }
            }
            start = end;
        }
        let mut out = [[0.0; MAX_DEGREE + 1]; MAX_POWER + 1];
        for (o, row) in out.iter_mut().skip(1).zip(&sums) {
            for (x, &s) in o.iter_mut().zip(row) {
                *x = simd.reduce_sum_f64s(s);
            }
        }
        (mean, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lane sums equal the scalar loop's on an uneven number of nodes (a partial last
    /// vector).
    #[test]
    fn lanes_equal_the_scalar_sums() {
        let k = 37;
        let z: Vec<f64> = (0..k).map(|i| -4.0 + 0.21 * i as f64).collect();
        let w: Vec<f64> = z.iter().map(|z| 0.05 * (-0.5 * z * z).exp()).collect();
        let phi: Vec<f64> = z
            .iter()
            .map(|z| (0.7 * z + 0.2).tanh() + 0.1 * z * z)
            .collect();
        let (mean, got) = node_sums(&z, &w, &phi);
        let want_mean: f64 = w.iter().zip(&phi).map(|(w, f)| w * f).sum();
        assert!((mean - want_mean).abs() < 1e-14);
        for (p, row) in got.iter().enumerate().skip(1) {
            for (j, &g) in row.iter().enumerate() {
                let want: f64 = (0..k)
                    .map(|i| {
                        let x = z[i];
                        let he = [
                            1.0,
                            x,
                            x * x - 1.0,
                            x * x * x - 3.0 * x,
                            x.powi(4) - 6.0 * x * x + 3.0,
                            x.powi(5) - 10.0 * x.powi(3) + 15.0 * x,
                        ];
                        w[i] * (phi[i] - want_mean).powi(p as i32) * he[j]
                    })
                    .sum();
                assert!(
                    (g - want).abs() <= 1e-13 * (1.0 + want.abs()),
                    "S[{p}][{j}]: {g} vs {want}"
                );
            }
        }
    }
}
