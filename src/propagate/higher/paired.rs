//! The paired part of κ₄ that order 3 carries beside the full κ₃ (N² numbers, not N⁴).
//!
//! In a random layer of width n the cumulant entries scale with how their indices pair up
//! (Wu et al. 2026, arXiv 2605.05179, eq. 14, `vec_block_cost` in its `kprop_harmonic.py`):
//! Σ\[a,b\] (a ≠ b) ~ n^(−1/2), every κ₃ entry ~ n^(−1), the paired κ₄ entries κ₄\[a,a,b,b\] and
//! κ₄\[a,a,a,a\] ~ n^(−1), the others (κ₄\[a,a,a,b\], κ₄\[a,a,b,c\], κ₄\[a,b,c,d\]) ~ n^(−3/2). A
//! rule that keeps κ₃ but drops κ₄ therefore drops terms of κ₃'s own order — the common-mode
//! fluctuation of a bias-free relu network's scale is mostly such a paired κ₄. Order 3 carries
//! them as the matrix P with P\[a,b\] = κ₄\[a,a,b,b\] (P\[a,a\] = κ₄\[a,a,a,a\]), the tensor taken as
//! zero off the paired entries.
//!
//! The affine map h = W z of that tensor, read back on h's paired entries:
//!
//! ```text
//! κ₄(h)[i,i,j,j] = Σ_{abcd} W_ia W_ib W_jc W_jd κ₄(z)[a,b,c,d]
//!                = [(W∘W) P (W∘W)ᵀ]_ij + 2 Σ_{a≠b} (W_ia W_ib)(W_ja W_jb) P[a,b]
//! ```
//!
//! (the pairings {ab}{cd}, {ac}{bd} and {ad}{bc} of the four indices; a = b = c = d counted
//! once, in the first term). The second term is K·diag(P°)·Kᵀ with K\[i,(a,b)\] = W_ia W_ib over
//! the pairs a < b and P°\[a,b\] = 2(P\[a,b\] + P\[b,a\]) (each unordered pair once): one GEMM
//! with inner dimension N(N − 1)/2, done in column blocks of K, of which only the lower triangle
//! is formed (the result is symmetric). Flops M²N(N − 1)/2 + 2M²N + 2MN² for an M × N map.

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};

use super::tensor::SymTensor;

/// Read access to κ₄ entries for the chaos rule: the full tensor (order 4) or the paired one
/// (order 3).
pub trait Kappa4: Sync {
    /// κ₄ at `idx` (4 indices, any order).
    fn get(&self, idx: &[usize]) -> f64;

    /// The full tensor, if that is what this is (the column-wise evaluation reads its columns).
    fn dense(&self) -> Option<&SymTensor> {
        None
    }

    /// The paired tensor, if that is what this is (the column-wise evaluation reads P's
    /// columns for κ₄\[a,a,u,u\] and P's diagonal for κ₄\[a,a,a,a\]).
    fn paired(&self) -> Option<&Paired> {
        None
    }

    /// The slices, if that is what this is (the last hidden layer's h,
    /// [`super::sliced::Sliced`]).
    fn sliced(&self) -> Option<&super::sliced::Sliced> {
        None
    }

    /// The paired tensor with κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\], if that is what this is
    /// ([`super::triple4`]).
    fn unpaired(&self) -> Option<&super::triple4::Unpaired4> {
        None
    }

    /// T\[a,b\] = κ₄\[a,a,a,b\] and Tᵀ, if this is the paired tensor with T beside it and no
    /// other class ([`super::unpaired_factored::PairedTriple`]: the column-wise evaluation
    /// reads T's columns for κ₄\[a,a,a,u\] and Tᵀ's for κ₄\[u,u,u,a\]).
    fn triple(&self) -> Option<[&Mat<f64>; 2]> {
        None
    }
}

impl Kappa4 for SymTensor {
    fn get(&self, idx: &[usize]) -> f64 {
        SymTensor::get(self, idx)
    }

    fn dense(&self) -> Option<&SymTensor> {
        Some(self)
    }
}

/// The paired κ₄ of one stage: `Paired(P)` with P\[a,b\] = κ₄\[a,a,b,b\] (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Paired(pub Mat<f64>);

impl Paired {
    /// The zero paired tensor over `n` units (a Gaussian stage).
    pub fn zeros(n: usize) -> Self {
        Paired(crate::io::zeroed(n, n))
    }
}

impl Kappa4 for Paired {
    /// P\[a,b\] for the index multiset {a,a,b,b} (a = b allowed), 0 otherwise.
    fn get(&self, idx: &[usize]) -> f64 {
        let mut s = [idx[0], idx[1], idx[2], idx[3]];
        s.sort_unstable();
        if s[0] == s[1] && s[2] == s[3] {
            self.0[(s[0], s[2])]
        } else {
            0.0
        }
    }

    fn paired(&self) -> Option<&Paired> {
        Some(self)
    }
}

/// Most entries of one column block of K (2 × 512 KiB of scratch, reused from block to block:
/// larger blocks were fresh pages, zeroed by the kernel, on every call).
const BLOCK_ENTRIES: usize = 1 << 16;

/// Flops of [`affine_paired`] for an M × N map.
pub fn paired_affine_flops(m: usize, n: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    m * m * n * (n - 1.0) / 2.0 + 2.0 * m * m * n + 2.0 * m * n * n
}

/// The first pairing of the map (module docs): W∘W, T = (W∘W)P and (W∘W)P(W∘W)ᵀ.
pub(super) fn first_pairing(w: MatRef<'_, f64>, p: &Mat<f64>) -> [Mat<f64>; 3] {
    let (m, n) = (w.nrows(), w.ncols());
    let w2 = crate::io::filled(m, n, |i, a| w[(i, a)] * w[(i, a)]);
    let mut t = crate::io::zeroed(m, n);
    matmul(
        t.as_mut(),
        Accum::Replace,
        w2.as_ref(),
        p.as_ref(),
        1.0,
        Par::rayon(0),
    );
    let mut q = crate::io::zeroed(m, m);
    matmul(
        q.as_mut(),
        Accum::Replace,
        t.as_ref(),
        w2.transpose(),
        1.0,
        Par::rayon(0),
    );
    [w2, t, q]
}

/// κ₄(h)\[i,i,j,j\] for h = W z from z's paired κ₄ `p` (module docs), M × M.
pub fn affine_paired(w: MatRef<'_, f64>, p: &Paired) -> Paired {
    let p = &p.0;
    let (m, n) = (w.nrows(), w.ncols());
    let [_, _, mut q] = first_pairing(w, p);
    let pairs: Vec<(usize, usize)> = (0..n).flat_map(|b| (0..b).map(move |a| (a, b))).collect();
    let per_block = (BLOCK_ENTRIES / m.max(1)).max(1);
    let mut k = crate::io::zeroed::<f64>(0, 0);
    let mut kp = crate::io::zeroed::<f64>(0, 0);
    for block in pairs.chunks(per_block) {
        k.resize_with(m, block.len(), |_, _| 0.0);
        kp.resize_with(m, block.len(), |_, _| 0.0);
        for (col, &(a, b)) in block.iter().enumerate() {
            let off = 2.0 * (p[(a, b)] + p[(b, a)]);
            for i in 0..m {
                let v = w[(i, a)] * w[(i, b)];
                k[(i, col)] = v;
                kp[(i, col)] = v * off;
            }
        }
        triangular::matmul(
            q.as_mut(),
            BlockStructure::TriangularLower,
            Accum::Add,
            kp.as_ref(),
            BlockStructure::Rectangular,
            k.transpose(),
            BlockStructure::Rectangular,
            1.0,
            Par::rayon(0),
        );
    }
    for j in 0..m {
        for i in 0..j {
            q[(i, j)] = q[(j, i)];
        }
    }
    Paired(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};

    /// The paired tensor of `p` written out in full.
    fn full(p: &Mat<f64>) -> SymTensor {
        let n = p.nrows();
        let mut t = SymTensor::zeros(n, 4);
        for a in 0..n {
            for b in a..n {
                t.set_sym(&[a, a, b, b], p[(a, b)]);
            }
        }
        t
    }

    #[test]
    fn matches_the_full_affine_map_on_paired_entries() {
        let (m, n) = (5, 4);
        let w = Mat::from_fn(m, n, |i, a| ((i * 7 + a * 3) % 5) as f64 * 0.3 - 0.55);
        let p = Mat::from_fn(n, n, |a, b| {
            0.1 + 0.05 * (a + b) as f64 + 0.2 * f64::from(u8::from(a == b))
        });
        let mut out = SymTensor::zeros(m, 4);
        affine_tensor(
            w.as_ref(),
            &full(&p),
            &mut out,
            &mut TensorAffineWorkspace::default(),
        )
        .unwrap();
        let q = affine_paired(w.as_ref(), &Paired(p.clone())).0;
        for i in 0..m {
            for j in 0..m {
                let want = out.get(&[i, i, j, j]);
                assert!(
                    (q[(i, j)] - want).abs() < 1e-13 * (1.0 + want.abs()),
                    "{i},{j}"
                );
            }
        }
    }
}
