//! Order 3's image of z's κ₄\[a,a,b,c\] (one unit twice, two others once) in the next h's
//! paired κ₄ (issue #16 item 7).
//!
//! Order 3 carries z's paired κ₄ only ([`super::paired`]); the entries κ₄(z)\[a,a,b,c\] it
//! drops map into h = W z's paired entries coherently (EXPERIMENTS.md, "Against ARC's peer,
//! sixth session": on relu n = 64, depth 8 they are the output mean's missing term). Their
//! image, over the ordered index tuples with multiset {a,a,b,c} (b ≠ c, both ≠ a):
//!
//! ```text
//! κ₄(h)[i,i,j,j] += Σ_a [W_ia² D[a,j] + W_ja² D[a,i] + 4 W_ia W_ja (W Q_a Wᵀ)_ij]
//! D[a,j] = (W Q_a Wᵀ)_jj = Σ_{b≠c; b,c≠a} W_jb W_jc Q_a[b,c],   Q_a[b,c] = κ₄(z)[a,a,b,c]
//! ```
//!
//! (the two a's at positions {1,2}, at {3,4}, or one in each of the 4 mixed ways). At i = j
//! the three terms are one, 6 Σ_a W_ia² D[a,i]. At i ≠ j the last term is a sum of n products
//! of random sign, one order in n^(−1/2) below the first two (as the exact paired map's second
//! pairing, [`super::paired_leading`]): it is kept on the diagonal only.
//!
//! **z's κ₄\[a,a,b,c\] to leading order.** From the chaos rule ([`super::closure`]; B_{p,j}
//! the unit's chaos coefficients, [`super::chaos`]: β = B_{1,1} = E φ', γ = B_{1,2} = E φ''/2,
//! α = B_{2,1} = 2E\[(φ − m)φ'\], B_{2,2} = E\[φ'² + (φ − m)φ''\]), the joint cumulant of
//! z_a, z_a, z_b, z_c is a sum of diagrams over h's Σ and κ₃; those of width cost 2
//! (n^(−1), [`super::diagrams::Block::cost`]) are the two-edge trees over the three units and
//! the single κ₃ block:
//!
//! ```text
//! κ₄(z)[a,a,b,c] = s_a β_b β_c Σ_ab Σ_ac                              (star at a)
//!                + 2 α_a (γ_b β_c Σ_ab Σ_bc + γ_c β_b Σ_ac Σ_bc)         (star at b, at c)
//!                + α_a β_b β_c κ₃(h)[a,b,c] + O(n^(−3/2)),
//! s_a = 2 (B_{a,2,2} − β_a²) = κ(φ_a, φ_a, h_a, h_a) / Σ_aa²
//! ```
//!
//! (star at a: the moment's 2 B_{a,2,2} β_b β_c Σ_ab Σ_ac less the product 2 P_ab P_ac, P_ab =
//! β_a β_b Σ_ab; star at b: E\[:δ_a: :δ_b²: :δ_c:\] = 2 Σ_ab Σ_bc, no product to subtract; the
//! other products and the Δm terms are of higher cost). The Σ terms make Q_a rank-one plus a
//! rank-two piece, so D is a few N × N × M GEMMs: with Σ̊ = Σ less its diagonal,
//! G = W diag(β) Σ̊ (M × N), column a = W v_a, v_a\[b\] = β_b Σ̊_ab,
//!
//! ```text
//! D[a,j] = s_a (G[j,a]² − Σ_b W_jb² v_a[b]²)
//!        + 4 α_a (Σ_b Σ̊_ab γ_b W_jb G[j,b] − β_a W_ja Σ_b Σ̊_ab² γ_b W_jb)
//! ```
//!
//! (the subtracted parts remove b = c and c = a). Cost O(MN² + M²N) per class, as the leading paired map's.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use super::chaos::UnitChaos;

/// What one class's z supplies to the image: h's Σ̊ and the units' chaos coefficients.
#[derive(Clone, Debug, PartialEq)]
pub struct Star4 {
    /// Σ̊: h's covariance with a zero diagonal.
    hollow: Mat<f64>,
    /// β_a = B_{a,1,1}.
    beta: Vec<f64>,
    /// γ_a = B_{a,1,2}.
    gamma: Vec<f64>,
    /// α_a = B_{a,2,1}.
    alpha: Vec<f64>,
    /// s_a = 2(B_{a,2,2} − β_a²).
    s: Vec<f64>,
}

/// Flops of [`Star4::image`] for an M × N map.
pub fn star4_flops(m: usize, n: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    8.0 * m * n * n + 2.0 * m * m * n + 12.0 * m * n
}

impl Star4 {
    /// The pieces of z's κ₄\[a,a,b,c\] from h's covariance `cov` and the units' coefficients.
    pub fn new(cov: &Mat<f64>, units: &[UnitChaos]) -> Self {
        let n = units.len();
        Star4 {
            hollow: Mat::from_fn(n, n, |a, b| if a == b { 0.0 } else { cov[(a, b)] }),
            beta: units.iter().map(|u| u.b[1][1]).collect(),
            gamma: units.iter().map(|u| u.b[1][2]).collect(),
            alpha: units.iter().map(|u| u.b[2][1]).collect(),
            s: units
                .iter()
                .map(|u| 2.0 * (u.b[2][2] - u.b[1][1] * u.b[1][1]))
                .collect(),
        }
    }

    /// κ₄(z)\[a,a,b,c\] from the Σ terms (module docs), for distinct a, b, c.
    pub fn entry(&self, a: usize, b: usize, c: usize) -> f64 {
        let (sg, be, ga) = (&self.hollow, &self.beta, &self.gamma);
        self.s[a] * be[b] * be[c] * sg[(a, b)] * sg[(a, c)]
            + 2.0
                * self.alpha[a]
                * (ga[b] * be[c] * sg[(a, b)] + ga[c] * be[b] * sg[(a, c)])
                * sg[(b, c)]
    }

    /// D\[a,j\] = (W Q_a Wᵀ)_jj from the Σ terms (module docs), N × M.
    fn contracted(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        let (m, n) = (w.nrows(), w.ncols());
        let sg = self.hollow.as_ref();
        let gemm = |a: MatRef<'_, f64>, b: MatRef<'_, f64>, rows, cols| {
            let mut out = Mat::zeros(rows, cols);
            matmul(out.as_mut(), Accum::Replace, a, b, 1.0, Par::rayon(0));
            out
        };
        // G = W diag(β) Σ̊ (M × N).
        let wb = Mat::from_fn(m, n, |j, b| w[(j, b)] * self.beta[b]);
        let g = gemm(wb.as_ref(), sg, m, n);
        // Σ_b W_jb² v_a[b]² = [(W∘W) diag(β²) (Σ̊∘Σ̊)]_ja.
        let sq = Mat::from_fn(n, n, |a, b| sg[(a, b)] * sg[(a, b)]);
        let wbb = Mat::from_fn(m, n, |j, b| wb[(j, b)] * wb[(j, b)]);
        let diag = gemm(wbb.as_ref(), sq.as_ref(), m, n);
        // Σ_b Σ̊_ab γ_b W_jb G[j,b] and Σ_b Σ̊_ab² γ_b W_jb.
        let x = Mat::from_fn(n, m, |b, j| self.gamma[b] * w[(j, b)] * g[(j, b)]);
        let star_b = gemm(sg, x.as_ref(), n, m);
        let wg = Mat::from_fn(n, m, |b, j| self.gamma[b] * w[(j, b)]);
        let back = gemm(sq.as_ref(), wg.as_ref(), n, m);
        Mat::from_fn(n, m, |a, j| {
            self.s[a] * (g[(j, a)] * g[(j, a)] - diag[(j, a)])
                + 4.0 * self.alpha[a] * (star_b[(a, j)] - self.beta[a] * w[(j, a)] * back[(a, j)])
        })
    }

    /// The image of z's κ₄\[a,a,b,c\] (the Σ terms) in h = W z's paired κ₄, M × M (module
    /// docs): F + Fᵀ off the diagonal and 6 F_ii on it, F = (W∘W) D.
    pub fn image(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        let d = self.contracted(w);
        let (m, n) = (w.nrows(), w.ncols());
        let w2 = Mat::from_fn(m, n, |i, a| w[(i, a)] * w[(i, a)]);
        let mut f = Mat::zeros(m, m);
        matmul(
            f.as_mut(),
            Accum::Replace,
            w2.as_ref(),
            d.as_ref(),
            1.0,
            Par::rayon(0),
        );
        Mat::from_fn(m, m, |i, j| {
            if i == j {
                6.0 * f[(i, i)]
            } else {
                f[(i, j)] + f[(j, i)]
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
    use crate::propagate::higher::closure::{ChaosRule, Input};
    use crate::propagate::higher::tensor::{SymTensor, ZeroKappa};

    /// A covariance with variances near 1 and correlations of size `eps`.
    fn cov(n: usize, eps: f64) -> Mat<f64> {
        Mat::from_fn(n, n, |a, b| {
            if a == b {
                0.8 + 0.1 * a as f64
            } else {
                eps * (((a * 5 + b * 5 + a * b) % 7) as f64 / 3.0 - 1.0)
            }
        })
    }

    fn units(act: Activation, c: &Mat<f64>) -> Vec<UnitChaos> {
        (0..c.nrows())
            .map(|i| UnitChaos::new(act, 0.25 * i as f64 - 0.6, c[(i, i)].sqrt()))
            .collect()
    }

    /// Largest |order 4 closure's κ₄\[a,a,b,c\] − [`Star4::entry`]| over distinct a, b, c and the
    /// largest |κ₄\[a,a,b,c\]|, for Gaussian h with correlations of size `eps`.
    fn residual(act: Activation, eps: f64) -> (f64, f64) {
        let n = 5;
        let c = cov(n, eps);
        let u = units(act, &c);
        let zero = SymTensor::zeros(n, 4);
        let input = Input {
            cov: &c,
            k3: &ZeroKappa,
            k4: Some(&zero),
            units: &u,
        };
        let (mut k3, mut k4) = (SymTensor::zeros(n, 3), SymTensor::zeros(n, 4));
        ChaosRule::new(4).tensors(&input, &mut k3, Some(&mut k4));
        let star = Star4::new(&c, &u);
        let (mut err, mut size) = (0.0f64, 0.0f64);
        for a in 0..n {
            for b in 0..n {
                for d in 0..b {
                    if a == b || a == d {
                        continue;
                    }
                    let want = k4.get(&[a, a, b, d]);
                    err = err.max((want - star.entry(a, b, d)).abs());
                    size = size.max(want.abs());
                }
            }
        }
        (err, size)
    }

    /// The Σ terms are κ₄(z)\[a,a,b,c\]'s leading order in the correlations: the rest is of
    /// third order (halving the correlations divides it by about 8, the entries by 4).
    #[test]
    fn entries_match_order_four_closure_to_leading_order() {
        for act in [Activation::Relu, Activation::Gelu, Activation::Tanh] {
            let (e1, s1) = residual(act, 0.1);
            let (e2, s2) = residual(act, 0.05);
            assert!(s1 > 1e-4 && (s1 / s2 - 4.0).abs() < 0.6, "{act}: {s1} {s2}");
            assert!(e1 < 0.2 * s1, "{act}: residual {e1} of {s1}");
            let ratio = e1 / e2;
            assert!(ratio > 6.0 && ratio < 10.0, "{act}: residual ratio {ratio}");
        }
    }

    /// The image matches the full affine map of a κ₄ holding only the \[a,a,b,c\] entries: on
    /// the diagonal exactly, off it without the mixed pairing (module docs).
    #[test]
    fn image_matches_the_full_map_of_the_entries() {
        let (m, n) = (4, 5);
        let c = cov(n, 0.3);
        let star = Star4::new(&c, &units(Activation::Gelu, &c));
        let mut t = SymTensor::zeros(n, 4);
        for a in 0..n {
            for b in 0..n {
                for d in 0..b {
                    if a != b && a != d {
                        t.set_sym(&[a, a, b, d], star.entry(a, b, d));
                    }
                }
            }
        }
        let w = Mat::from_fn(m, n, |i, a| ((i * 7 + a * 3) % 5) as f64 * 0.3 - 0.55);
        let mut out = SymTensor::zeros(m, 4);
        affine_tensor(
            w.as_ref(),
            &t,
            &mut out,
            &mut TensorAffineWorkspace::default(),
        )
        .unwrap();
        let got = star.image(w.as_ref());
        // The off-diagonal reference: Σ_a W_ia² (W Q_a Wᵀ)_jj + (i ↔ j), by brute force.
        let wqw = |a: usize, i: usize, j: usize| {
            let mut s = 0.0;
            for b in 0..n {
                for d in 0..n {
                    if b != d && b != a && d != a {
                        s += w[(i, b)] * w[(j, d)] * star.entry(a, b, d);
                    }
                }
            }
            s
        };
        for i in 0..m {
            for j in 0..m {
                let want = if i == j {
                    out.get(&[i, i, i, i])
                } else {
                    (0..n)
                        .map(|a| {
                            w[(i, a)].powi(2) * wqw(a, j, j) + w[(j, a)].powi(2) * wqw(a, i, i)
                        })
                        .sum()
                };
                let tol = 1e-12 * (1.0 + want.abs());
                assert!(
                    (got[(i, j)] - want).abs() < tol,
                    "{i},{j}: {} vs {want}",
                    got[(i, j)]
                );
            }
        }
        // The dropped mixed pairing is not zero here: the test separates it.
        let full = out.get(&[0, 0, 1, 1]);
        assert!(
            (full - got[(0, 1)]).abs() > 1e-6,
            "{full} vs {}",
            got[(0, 1)]
        );
    }
}
