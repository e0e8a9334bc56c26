//! The factored order 4's image of z's κ₄ over four distinct units in the next h's paired κ₄
//! and κ₄\[a,a,a,b\] (issue #16 item 7).
//!
//! The factored order 3 ([`super::factored`]) carries z's κ₄ on the entries with a repeated
//! unit: P = κ₄\[a,a,b,b\], T = κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] as blocks
//! ([`super::triple4_factored`], [`super::star4`]). The entries κ₄(z)\[a,b,c,d\] over four
//! distinct units are dropped there; the dense order 4 carries them, and they map into
//! h = W z's P and T coherently. Their leading diagram for an odd φ (tanh at zero mean, whose
//! even chaos coefficients vanish) is the star of whole cost 3 ([`super::closure`]'s order-4
//! budget, Wu et al. 2026 eq. 14):
//!
//! ```text
//! κ₄(z)[a,b,c,d] = Σ_{k ∈ {a,b,c,d}} c_k Π_{l ≠ k} β_l Σ̊_kl + (paths, κ blocks),
//! c_k = 6 B_{k,1,3} = E φ'''(h_k),   β_l = B_{l,1,1} = E φ'(h_l)
//! ```
//!
//! (the joint cumulant of :δ_k³:, δ_l, δ_m, δ_o is 3! Σ_kl Σ_km Σ_ko; Σ̊ is h's covariance less
//! its diagonal). Only the star is imaged here; the paths β γ γ β Σ̊Σ̊Σ̊ (non-zero for relu and
//! gelu) and the κ₃Σ and κ₄ blocks of the same cost are not (EXPERIMENTS.md, eleventh session).
//! With G = W diag(β) Σ̊ (M × N; column k = W v_k, v_k\[l\] = β_l Σ̊_kl) and the sums over
//! repeated leaves on one row of W, D₂ = (W diag(β) ∘ W diag(β)) (Σ̊∘Σ̊) and
//! D₃ = (W diag(β))^∘3 (Σ̊)^∘3, the leaves on one row i of W summed over distinct units are
//!
//! ```text
//! G2[i,k] = G[i,k]² − D₂[i,k]       (two leaves)
//! G3[i,k] = G[i,k]³ − 3 D₂[i,k] G[i,k] + 2 D₃[i,k]     (three leaves)
//! ```
//!
//! by inclusion–exclusion. The image of the star over the ordered positions of
//! κ₄(h)\[i,i,j,j\] and κ₄(h)\[i,i,i,j\] (centre on row i or j):
//!
//! ```text
//! P[i,j] += Σ_k c_k (2 W_ik G[i,k] G2[j,k] + 2 G2[i,k] W_jk G[j,k])   (i ≠ j)
//! P[i,i] += 4 Σ_k c_k W_ik G3[i,k]
//! T[i,j] += Σ_k c_k (3 W_ik G2[i,k] G[j,k] + G3[i,k] W_jk)            (i ≠ j)
//! ```
//!
//! The diagonal is exact. Off it, the leaves on row i and on row j may still meet at one unit
//! l (a sum of W_il W_jl of random sign, one order in n^(−1/2) below the rest, as the exact
//! paired map's second pairing, [`super::paired_leading`]): those meetings are not removed,
//! and the off-diagonal image is exact where the rows of W share no unit. A few GEMMs:
//! O(MN² + M²N) per class.

use faer::{Mat, MatRef};

use super::chaos::UnitChaos;
use super::star4::gemm;

/// What one class's z supplies to the image: h's Σ̊ and the units' chaos coefficients.
#[derive(Clone, Debug, PartialEq)]
pub struct QuarticStar {
    /// Σ̊: h's covariance with a zero diagonal.
    hollow: Mat<f64>,
    /// β_k = B_{k,1,1}.
    beta: Vec<f64>,
    /// c_k = 6 B_{k,1,3}.
    centre: Vec<f64>,
}

impl QuarticStar {
    /// The star of z's κ₄ over four distinct units from h's covariance `cov` and the units'
    /// coefficients (module docs).
    pub fn new(cov: &Mat<f64>, units: &[UnitChaos]) -> Self {
        let n = units.len();
        QuarticStar {
            hollow: Mat::from_fn(n, n, |a, b| if a == b { 0.0 } else { cov[(a, b)] }),
            beta: units.iter().map(|u| u.b[1][1]).collect(),
            centre: units.iter().map(|u| 6.0 * u.b[1][3]).collect(),
        }
    }

    /// Flops of [`QuarticStar::image`] for an M × N map.
    pub fn flops(&self, m: usize) -> f64 {
        let (mf, nf) = (m as f64, self.beta.len() as f64);
        6.0 * mf * nf * nf + 8.0 * mf * mf * nf + 20.0 * mf * nf
    }

    /// κ₄(z)\[a,b,c,d\]'s star (module docs), for distinct a, b, c, d.
    pub fn entry(&self, t: [usize; 4]) -> f64 {
        (0..4)
            .map(|k| {
                let centre = t[k];
                (0..4)
                    .filter(|&l| l != k)
                    .fold(self.centre[centre], |v, l| {
                        v * self.beta[t[l]] * self.hollow[(centre, t[l])]
                    })
            })
            .sum()
    }

    /// The star's image in h = W z's paired κ₄ and κ₄\[a,a,a,b\] (module docs): (P, T), both
    /// M × M, T with a zero diagonal.
    pub fn image(&self, w: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let (m, n) = (w.nrows(), w.ncols());
        let sg = self.hollow.as_ref();
        let wb = Mat::from_fn(m, n, |i, b| w[(i, b)] * self.beta[b]);
        let g = gemm(wb.as_ref(), sg);
        let power = |x: MatRef<'_, f64>, p: i32| {
            Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)].powi(p))
        };
        let d2 = gemm(power(wb.as_ref(), 2).as_ref(), power(sg, 2).as_ref());
        let d3 = gemm(power(wb.as_ref(), 3).as_ref(), power(sg, 3).as_ref());
        let g2 = Mat::from_fn(m, n, |i, k| g[(i, k)] * g[(i, k)] - d2[(i, k)]);
        let g3 = Mat::from_fn(m, n, |i, k| {
            let x = g[(i, k)];
            x * x * x - 3.0 * d2[(i, k)] * x + 2.0 * d3[(i, k)]
        });
        let c = &self.centre;
        // A = (W∘G) diag(c), B = (W∘G2) diag(c), C = G3 diag(c).
        let a = Mat::from_fn(m, n, |i, k| w[(i, k)] * g[(i, k)] * c[k]);
        let b = Mat::from_fn(m, n, |i, k| w[(i, k)] * g2[(i, k)] * c[k]);
        let cc = Mat::from_fn(m, n, |i, k| g3[(i, k)] * c[k]);
        let ag2 = gemm(a.as_ref(), g2.transpose());
        let bg = gemm(b.as_ref(), g.transpose());
        let cw = gemm(cc.as_ref(), w.transpose());
        let diag: Vec<f64> = (0..m)
            .map(|i| 4.0 * (0..n).map(|k| w[(i, k)] * cc[(i, k)]).sum::<f64>())
            .collect();
        let p = Mat::from_fn(m, m, |i, j| {
            if i == j {
                diag[i]
            } else {
                2.0 * (ag2[(i, j)] + ag2[(j, i)])
            }
        });
        let t = Mat::from_fn(m, m, |i, j| {
            if i == j {
                0.0
            } else {
                3.0 * bg[(i, j)] + cw[(i, j)]
            }
        });
        (p, t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
    use crate::propagate::higher::closure::{ChaosRule, Input};
    use crate::propagate::higher::star4::tests::cov;
    use crate::propagate::higher::tensor::SymTensor;

    fn units(act: Activation, c: &Mat<f64>, mean: impl Fn(usize) -> f64) -> Vec<UnitChaos> {
        (0..c.nrows())
            .map(|i| UnitChaos::new(act, mean(i), c[(i, i)].sqrt()))
            .collect()
    }

    /// Every ordered tuple of four distinct units of `0..n`.
    fn distinct(n: usize) -> impl Iterator<Item = [usize; 4]> {
        (0..n.pow(4))
            .map(move |k| [k % n, k / n % n, k / (n * n) % n, k / (n * n * n)])
            .filter(|t| (0..4).all(|x| (0..x).all(|y| t[x] != t[y])))
    }

    /// For tanh at zero mean on a Gaussian h the star is the whole of the order-4 rule's
    /// κ₄(z) over four distinct units (its even coefficients vanish, so no path or cycle
    /// survives): equal to rounding.
    #[test]
    fn star_is_the_order_four_rule_for_an_odd_phi_at_zero_mean() {
        let n = 5;
        let c = cov(n, 0.3);
        let u = units(Activation::Tanh, &c, |_| 0.0);
        let zero3 = SymTensor::zeros(n, 3);
        let zero4 = SymTensor::zeros(n, 4);
        let input = Input {
            cov: &c,
            k3: &zero3,
            k4: Some(&zero4),
            units: &u,
        };
        let (mut k3, mut k4) = (SymTensor::zeros(n, 3), SymTensor::zeros(n, 4));
        ChaosRule::new(4).tensors(&input, &mut k3, Some(&mut k4));
        let star = QuarticStar::new(&c, &u);
        let (mut err, mut size) = (0.0f64, 0.0f64);
        for t in distinct(n) {
            let want = k4.get(&t);
            err = err.max((want - star.entry(t)).abs());
            size = size.max(want.abs());
        }
        assert!(size > 1e-3, "the star is not exercised: {size}");
        assert!(err <= 1e-12 * size, "star {err} of {size}");
    }

    /// The full affine map of a κ₄ holding the star on its entries over four distinct units:
    /// κ₄(h)\[i,i,j,j\] and κ₄(h)\[i,i,i,j\].
    fn brute_image(star: &QuarticStar, w: MatRef<'_, f64>) -> (Mat<f64>, Mat<f64>) {
        let (m, n) = (w.nrows(), w.ncols());
        let mut t = SymTensor::zeros(n, 4);
        for idx in distinct(n) {
            t.set_sym(&idx, star.entry(idx));
        }
        let mut out = SymTensor::zeros(m, 4);
        affine_tensor(w, &t, &mut out, &mut TensorAffineWorkspace::default()).unwrap();
        let p = Mat::from_fn(m, m, |i, j| out.get(&[i, i, j, j]));
        let tr = Mat::from_fn(
            m,
            m,
            |i, j| if i == j { 0.0 } else { out.get(&[i, i, i, j]) },
        );
        (p, tr)
    }

    fn max_abs(x: &Mat<f64>) -> f64 {
        x.norm_max()
    }

    /// On the diagonal the image is the full map's exactly; off it too where the rows of W
    /// share no unit (the only terms the image leaves out are meetings of leaves on two
    /// rows, module docs). With shared units the off-diagonal entries differ, so the test
    /// can fail on them.
    #[test]
    fn image_matches_the_full_map_of_the_star() {
        let n = 8;
        let c = cov(n, 0.3);
        for act in [Activation::Tanh, Activation::Gelu, Activation::Relu] {
            let star = QuarticStar::new(&c, &units(act, &c, |i| 0.2 * i as f64 - 0.7));
            // Rows of W on disjoint units: row i reads units 2i, 2i + 1 (M = 4, N = 8)…
            let apart = Mat::from_fn(4, n, |i, a| {
                if a / 2 == i {
                    0.4 + 0.3 * (a % 2) as f64 - 0.1 * i as f64
                } else {
                    0.0
                }
            });
            // …and a dense W.
            let dense = Mat::from_fn(3, n, |i, a| ((i * 7 + a * 3) % 5) as f64 * 0.3 - 0.55);
            for (w, exact_off) in [(apart, true), (dense, false)] {
                let (p, t) = star.image(w.as_ref());
                let (bp, bt) = brute_image(&star, w.as_ref());
                let scale = max_abs(&bp).max(max_abs(&bt));
                assert!(scale > 1e-6, "{act}: nothing mapped");
                let m = w.nrows();
                for i in 0..m {
                    assert!(
                        (p[(i, i)] - bp[(i, i)]).abs() <= 1e-12 * scale,
                        "{act}: P[{i},{i}]"
                    );
                }
                let off = |x: &Mat<f64>, y: &Mat<f64>| {
                    (0..m)
                        .flat_map(|i| (0..m).filter(move |&j| j != i).map(move |j| (i, j)))
                        .map(|(i, j)| (x[(i, j)] - y[(i, j)]).abs())
                        .fold(0.0f64, f64::max)
                };
                let (ep, et) = (off(&p, &bp), off(&t, &bt));
                if exact_off {
                    assert!(
                        ep <= 1e-12 * scale && et <= 1e-12 * scale,
                        "{act}: {ep} {et}"
                    );
                } else {
                    assert!(
                        ep.max(et) > 1e-9 * scale,
                        "{act}: the meetings did not show"
                    );
                }
            }
        }
    }
}
