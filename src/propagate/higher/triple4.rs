//! Order 3's κ₄ beyond the paired entries (issue #16 item 7): κ₄\[a,a,a,b\] (the N × N matrix
//! T\[a,b\]) and κ₄\[a,a,b,c\] for distinct a, b, c (N³ numbers, the storage of the dense κ₃),
//! carried beside the paired κ₄ ([`super::paired`]) on order 3's dense path, so that the rule
//! reads them where order 4's does: ΔC_ab's κ₄\[a,a,a,b\] diagrams and the κ₄ blocks of z's κ₃
//! and κ₄ (EXPERIMENTS.md, "Against ARC's peer", seventh and eighth sessions: order 4 with h's
//! κ₄ cut to these classes and the paired ones is within 2× of the peer's K = 3 on relu n = 64,
//! depth 8; with the paired ones alone it is at order 3's level).
//!
//! **The affine map h = W z to leading order in the width.** κ₄(h)\[i,j,k,l\] =
//! Σ_{abcd} W_ia W_jb W_kc W_ld κ₄(z)\[a,b,c,d\]. Power counting in a random layer of width n
//! (W ~ n^(−1/2); z's paired entries ~ n^(−1), the others ~ n^(−3/2); Wu et al. 2026,
//! arXiv 2605.05179, eq. 14): h's κ₄\[i,i,j,k\] and κ₄\[i,i,i,j\] are ~ n^(−3/2), and the terms of
//! that order are those where the two (three) i's take one unit a of z twice, a sum of positive
//! weights W_ia², and j, k take z's other indices:
//!
//! ```text
//! F(i; j,k)       = Σ_a W_ia² (W R_a Wᵀ)_jk,   R_a[b,c] = κ₄(z)[a,a,b,c] (b ≠ c, both ≠ a) + δ_bc P[a,b]
//! κ₄(h)[i,i,j,k]  = F(i; j,k)                                       (i, j, k distinct)
//! κ₄(h)[i,i,i,j]  = 3 F(i; i,j) − 2 Σ_a W_ia³ W_ja P[a,a]            (i ≠ j)
//! ```
//!
//! (P\[a,b\] = κ₄(z)\[a,a,b,b\]; the 3 counts which of the three i's is the single index, the
//! last term makes z's κ₄\[a,a,a,a\] count once). Dropped, each one order in n^(−1/2) below:
//! z's κ₄\[a,a,a,b\] (any placement: ~ n^(−5/2)), z's κ₄\[a,a,b,c\] with a's two indices split
//! between i and j or k, the paired entries with a pair split, and z's κ₄\[a,b,c,d\] (not
//! carried; ~ n^(−2)). Flops: [`unpaired_map_flops`], the dense κ₃ map's order (N⁴).
//!
//! **h's paired entries** get z's paired κ₄ by [`super::paired`]'s exact map and the image of
//! z's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] exactly ([`Unpaired4::map`], in place of
//! [`super::star4`]'s leading-order image): the terms with a's indices split between i and j
//! count as one order lower for entries of random sign, but z's entries are not — their
//! correlations come from W's own rows — and on relu n = 64, depth 8 the exact image takes the
//! output mean's error from 3.1e-4 to 6.3e-5 (EXPERIMENTS.md, eighth session).
//!
//! **The rule** reads the new entries through [`Kappa4`] (the column-wise evaluation through
//! [`Unpaired4::free_col`], [`Unpaired4::double_col`] and T's rows and columns) with
//! [`super::closure::ChaosRule::unpaired`], and writes z's by `fill::unpaired4`.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::paired::{Kappa4, Paired};

/// Rows of `by_free` (N entries each, one per (b, c)) written per task: 8 of `by_double`'s
/// columns are read side by side as streams and each row's 64-byte line of 8 units is written
/// whole, so that neither side is read across the N²-long stride (`linalg::transpose_into`'s
/// square tiles take 8 ns an entry on this N² × N shape: each read is a cache miss).
const FREE_ROWS: usize = 256;

/// `by_double` (b + N(c + N a)) in `by_free`'s layout (a + N(b + N c)): the N² × N matrix
/// of rows (b, c) and columns a, transposed.
fn free_layout(by_double: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n * n * n];
    out.par_chunks_mut((FREE_ROWS * n).max(1))
        .enumerate()
        .for_each(|(t, rows)| {
            let (first, len) = (t * FREE_ROWS, rows.len() / n);
            for group in (0..n).step_by(8) {
                let units = group..(group + 8).min(n);
                let columns: Vec<&[f64]> = units
                    .clone()
                    .map(|a| &by_double[n * n * a + first..][..len])
                    .collect();
                for (k, row) in rows.chunks_exact_mut(n).enumerate() {
                    for (slot, column) in row[units.clone()].iter_mut().zip(&columns) {
                        *slot = column[k];
                    }
                }
            }
        });
    out
}

/// The paired κ₄ with κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] (module docs); every entry of four distinct
/// units is zero.
#[derive(Clone, Debug, PartialEq)]
pub struct Unpaired4 {
    /// P\[a,b\] = κ₄\[a,a,b,b\].
    pub paired: Paired,
    /// T\[a,b\] = κ₄\[a,a,a,b\] (zero diagonal).
    triple: Mat<f64>,
    /// Tᵀ.
    triple_t: Mat<f64>,
    /// `by_double[b + N(c + N a)]` = κ₄\[a,a,b,c\] for distinct a, b, c, else 0.
    by_double: Vec<f64>,
    /// `by_free[a + N(b + N c)]`: the same entries, a fastest.
    by_free: Vec<f64>,
}

/// Flops of [`Unpaired4::map`] for an M × N map: U = W \[Q_0 … Q_{N−1}\] 2MN³, the G_a
/// 2M²N², F 2M³N, the pairs' GEMM M²N(N+1), and O(M²N + MN²) besides.
pub fn unpaired_map_flops(m: usize, n: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    2.0 * m * n * n * n
        + 2.0 * m * m * n * n
        + 2.0 * m * m * m * n
        + m * m * n * (n + 1.0)
        + 12.0 * m * m * n
        + 4.0 * m * n * n
}

impl Unpaired4 {
    /// From P, T (any diagonal) and `by_double` (layout as the field's); the entries outside
    /// their classes are set to zero.
    pub fn new(paired: Paired, mut triple: Mat<f64>, mut by_double: Vec<f64>) -> Self {
        let n = paired.0.nrows();
        assert_eq!(by_double.len(), n * n * n, "κ₄[a,a,b,c] over {n} units");
        for a in 0..n {
            triple[(a, a)] = 0.0;
            for b in 0..n {
                by_double[b + n * (b + n * a)] = 0.0;
                by_double[a + n * (b + n * a)] = 0.0;
                by_double[b + n * (a + n * a)] = 0.0;
            }
        }
        let by_free = free_layout(&by_double, n);
        Unpaired4 {
            triple_t: triple.transpose().to_owned(),
            triple,
            paired,
            by_double,
            by_free,
        }
    }

    /// Number of units.
    pub fn dim(&self) -> usize {
        self.paired.0.nrows()
    }

    /// κ₄\[a,a,a,u\] over a.
    pub fn triple_col(&self, u: usize) -> &[f64] {
        self.triple.col_as_slice(u)
    }

    /// κ₄\[u,u,u,a\] over a.
    pub fn triple_row(&self, u: usize) -> &[f64] {
        self.triple_t.col_as_slice(u)
    }

    /// κ₄\[x,x,a,y\] over a (x ≠ y).
    pub fn double_col(&self, x: usize, y: usize) -> &[f64] {
        let n = self.dim();
        &self.by_double[n * (y + n * x)..n * (y + n * x + 1)]
    }

    /// κ₄\[a,a,u,v\] over a (u ≠ v).
    pub fn free_col(&self, u: usize, v: usize) -> &[f64] {
        let n = self.dim();
        &self.by_free[n * (u + n * v)..n * (u + n * v + 1)]
    }

    /// h = W z's κ₄ from z's (`self`): κ₄\[i,i,i,j\] and κ₄\[i,i,j,k\] to leading order
    /// (module docs), and h's paired κ₄: `paired` (the image of z's paired κ₄, mapped by
    /// [`super::paired`]) plus the exact image of z's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\]:
    ///
    /// ```text
    /// Σ_a [W_ia² X_a[j,j] + W_ja² X_a[i,i] + 4 W_ia W_ja X_a[i,j]] + 2 [(W∘S)(W∘W)ᵀ + (W∘W)(W∘S)ᵀ]_ij
    /// X_a = W Q_a Wᵀ,  Q_a[b,c] = κ₄(z)[a,a,b,c],  S = W Tᵀ,  T[a,b] = κ₄(z)[a,a,a,b]
    /// ```
    ///
    /// (the ordered index tuples of {a,a,b,c}: the a's at the two i's, at the two j's, or one
    /// at each in 4 ways; of {a,a,a,b}: b at one of the 4 positions, the a's at the other
    /// three). Both maps read G_a = W R_a Wᵀ = X_a + W diag(P\[a,·\]) Wᵀ, formed once: U = W
    /// \[Q_0 … Q_{N−1}\] in one GEMM (M × N²) plus W diag(P\[a,·\]), then G_a = U_a Wᵀ. So
    /// F = G (W∘W)ᵀ with G as an M² × N matrix, and the image reads X_a through G_a:
    ///
    /// ```text
    /// Σ_a W_ia² X_a[j,j]      = [(W∘W) (Dᵀ − P (W∘W)ᵀ)]_ij,   D[j,a] = G_a[j,j]
    /// Σ_a W_ia W_ja X_a[i,j]  = Σ_a W_ia W_ja G_a[i,j] − Σ_{a≤b} (2 − δ_ab) P[a,b] (W_ia W_ib)(W_ja W_jb)
    /// ```
    ///
    /// Flops: [`unpaired_map_flops`].
    pub fn map(&self, w: MatRef<'_, f64>, mut paired: Paired) -> Unpaired4 {
        let (m, n) = (w.nrows(), w.ncols());
        let p = &self.paired.0;
        let w = w.to_owned();
        let w2 = Mat::from_fn(m, n, |i, a| w[(i, a)] * w[(i, a)]);
        let g = self.sandwiches(&w);
        // f[j + M(k + M i)] = F(i; j,k): by_double's layout.
        let mut f = vec![0.0; m * m * m];
        matmul(
            MatMut::from_column_major_slice_mut(&mut f, m * m, m),
            Accum::Replace,
            MatRef::from_column_major_slice(&g, m * m, n),
            w2.transpose(),
            1.0,
            Par::rayon(0),
        );
        // Σ_a W_ia³ W_ja P[a,a].
        let w3p = Mat::from_fn(m, n, |i, a| w2[(i, a)] * w[(i, a)] * p[(a, a)]);
        let mut once = Mat::<f64>::zeros(m, m);
        matmul(
            once.as_mut(),
            Accum::Replace,
            w3p.as_ref(),
            w.transpose(),
            1.0,
            Par::rayon(0),
        );
        let triple = Mat::from_fn(m, m, |i, j| {
            3.0 * f[i + m * (j + m * i)] - 2.0 * once[(i, j)]
        });
        paired.0 += self.image(&w, w2.as_ref(), &g);
        Unpaired4::new(paired, triple, f)
    }

    /// G\[(j,k), a\] = (W R_a Wᵀ)\[j,k\] at `j + M(k + M a)`, R_a = Q_a + diag(P\[a,·\]) ([`Unpaired4::map`]).
    fn sandwiches(&self, w: &Mat<f64>) -> Vec<f64> {
        let (m, n) = (w.nrows(), w.ncols());
        let p = &self.paired.0;
        // U_a = W Q_a at columns aN..(a+1)N.
        let mut u = vec![0.0; m * n * n];
        matmul(
            MatMut::from_column_major_slice_mut(&mut u, m, n * n),
            Accum::Replace,
            w.as_ref(),
            MatRef::from_column_major_slice(&self.by_double, n, n * n),
            1.0,
            Par::rayon(0),
        );
        let mut g = vec![0.0; m * m * n];
        g.par_chunks_mut((m * m).max(1))
            .zip(u.par_chunks_mut((m * n).max(1)))
            .enumerate()
            .for_each(|(a, (ga, ua))| {
                for (b, col) in ua.chunks_exact_mut(m).enumerate() {
                    let s = p[(a, b)];
                    for (x, &wb) in col.iter_mut().zip(w.col_as_slice(b)) {
                        *x += s * wb;
                    }
                }
                matmul(
                    MatMut::from_column_major_slice_mut(ga, m, m),
                    Accum::Replace,
                    MatRef::from_column_major_slice(ua, m, n),
                    w.transpose(),
                    1.0,
                    Par::Seq,
                );
            });
        g
    }

    /// The image of z's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] in h's paired κ₄ from the
    /// sandwiches `g` ([`Unpaired4::map`]); `w2` = W∘W.
    fn image(&self, w: &Mat<f64>, w2: MatRef<'_, f64>, g: &[f64]) -> Mat<f64> {
        let (m, n) = (w.nrows(), w.ncols());
        let p = &self.paired.0;
        // Σ_a W_ia W_ja G_a[i,j], column j from the G_a's columns j, a in order.
        let mut cross = vec![0.0; m * m];
        cross
            .par_chunks_mut(m.max(1))
            .enumerate()
            .for_each(|(j, col)| {
                for a in 0..n {
                    let wja = w[(j, a)];
                    let ga = &g[m * (j + m * a)..m * (j + 1 + m * a)];
                    for ((x, &wia), &gij) in col.iter_mut().zip(w.col_as_slice(a)).zip(ga) {
                        *x += wia * wja * gij;
                    }
                }
            });
        let mut cross = Mat::from_fn(m, m, |i, j| cross[i + m * j]);
        // − Σ_{a≤b} (2 − δ_ab) P[a,b] (W_ia W_ib)(W_ja W_jb), a GEMM over the pairs a ≤ b.
        let pairs = n * (n + 1) / 2;
        let (mut z, mut zp) = (Mat::<f64>::zeros(m, pairs), Mat::<f64>::zeros(m, pairs));
        let mut k = 0;
        for b in 0..n {
            for a in 0..=b {
                let weight = if a == b { 1.0 } else { 2.0 } * p[(a, b)];
                let (wa, wb) = (w.col_as_slice(a), w.col_as_slice(b));
                for (((x, y), &u), &v) in z
                    .col_as_slice_mut(k)
                    .iter_mut()
                    .zip(zp.col_as_slice_mut(k))
                    .zip(wa)
                    .zip(wb)
                {
                    *x = u * v;
                    *y = weight * *x;
                }
                k += 1;
            }
        }
        matmul(
            cross.as_mut(),
            Accum::Add,
            zp.as_ref(),
            z.transpose(),
            -1.0,
            Par::rayon(0),
        );
        // half = 2 (W∘S)(W∘W)ᵀ + (W∘W)(D − (W∘W) P)ᵀ, whose sum with its transpose is the
        // image's other terms.
        let mut dx = Mat::from_fn(m, n, |j, a| g[j + m * (j + m * a)]);
        matmul(dx.as_mut(), Accum::Add, w2, p.as_ref(), -1.0, Par::rayon(0));
        let mut s = Mat::<f64>::zeros(m, n);
        matmul(
            s.as_mut(),
            Accum::Replace,
            w.as_ref(),
            self.triple.transpose(),
            1.0,
            Par::rayon(0),
        );
        let ws = Mat::from_fn(m, n, |i, u| w[(i, u)] * s[(i, u)]);
        let mut half = Mat::<f64>::zeros(m, m);
        matmul(
            half.as_mut(),
            Accum::Replace,
            ws.as_ref(),
            w2.transpose(),
            2.0,
            Par::rayon(0),
        );
        matmul(
            half.as_mut(),
            Accum::Add,
            w2,
            dx.transpose(),
            1.0,
            Par::rayon(0),
        );
        &half + half.transpose() + cross * faer::Scale(4.0)
    }
}

impl Kappa4 for Unpaired4 {
    /// The entry of the index multiset's class (module docs); 0 for four distinct units.
    fn get(&self, idx: &[usize]) -> f64 {
        let mut s = [idx[0], idx[1], idx[2], idx[3]];
        s.sort_unstable();
        let n = self.dim();
        let q = |a: usize, b: usize, c: usize| self.by_double[b + n * (c + n * a)];
        match (s[0] == s[1], s[1] == s[2], s[2] == s[3]) {
            (true, true, true) | (true, false, true) => self.paired.0[(s[0], s[2])],
            (true, true, false) => self.triple[(s[0], s[3])],
            (false, true, true) => self.triple[(s[3], s[0])],
            (true, false, false) => q(s[0], s[2], s[3]),
            (false, true, false) => q(s[1], s[0], s[3]),
            (false, false, true) => q(s[2], s[0], s[1]),
            (false, false, false) => 0.0,
        }
    }

    fn paired(&self) -> Option<&Paired> {
        Some(&self.paired)
    }

    fn unpaired(&self) -> Option<&Unpaired4> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
    use crate::propagate::higher::tensor::SymTensor;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    /// z's κ₄ of a random layer of width n: P ~ n^(−1) of one sign, κ₄\[a,a,a,b\] and
    /// κ₄\[a,a,b,c\] ~ n^(−3/2), each unit's a common pattern times its own scale (as the
    /// closure makes them: Q_a\[b,c\] ∝ s_a β_b β_c Σ_ab Σ_ac, EXPERIMENTS.md), and W ~ N(0, 1/n).
    fn layer(n: usize, seed: u64) -> (Mat<f64>, Unpaired4) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut g = || rng.sample::<f64, _>(StandardNormal);
        let nf = n as f64;
        let w = Mat::from_fn(n, n, |_, _| g() / nf.sqrt());
        let p = Mat::from_fn(n, n, |_, _| (1.0 + 0.3 * g()) / nf);
        let p = Paired((&p + p.transpose()) * faer::Scale(0.5));
        let scale: Vec<f64> = (0..n).map(|_| 1.0 + 0.3 * g()).collect();
        let v: Vec<f64> = (0..n).map(|_| g()).collect();
        let mut pattern = Mat::from_fn(n, n, |_, _| g());
        pattern = &pattern + pattern.transpose();
        let size = nf.powf(-1.5);
        let t = Mat::from_fn(n, n, |a, b| scale[a] * v[b] * size);
        let mut q = vec![0.0; n * n * n];
        for a in 0..n {
            for c in 0..n {
                for b in 0..n {
                    q[b + n * (c + n * a)] = scale[a] * pattern[(b, c)] * size;
                }
            }
        }
        (w, Unpaired4::new(p, t, q))
    }

    /// Relative 2-norm errors of [`Unpaired4::affine`] against the exact map of the full
    /// tensor (`affine_tensor`) on h's κ₄\[i,i,j,k\] and κ₄\[i,i,i,j\].
    fn errors(n: usize, seed: u64) -> [f64; 2] {
        let (w, z) = layer(n, seed);
        let mut full = SymTensor::zeros(n, 4);
        for f in 0..n.pow(4) {
            let idx: Vec<usize> = (0..4).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|x| x[0] <= x[1]) {
                full.set_sym(&idx, z.get(&idx));
            }
        }
        let mut exact = SymTensor::zeros(n, 4);
        affine_tensor(
            w.as_ref(),
            &full,
            &mut exact,
            &mut TensorAffineWorkspace::default(),
        )
        .unwrap();
        let ours = z.map(w.as_ref(), Paired::zeros(n));
        let mut sums = [[0.0; 2]; 2];
        for i in 0..n {
            for j in 0..n {
                if j == i {
                    continue;
                }
                let want = exact.get(&[i, i, i, j]);
                sums[1][0] += (ours.get(&[i, i, i, j]) - want).powi(2);
                sums[1][1] += want * want;
                for k in 0..j {
                    if k != i {
                        let want = exact.get(&[i, i, j, k]);
                        sums[0][0] += (ours.get(&[i, i, j, k]) - want).powi(2);
                        sums[0][1] += want * want;
                    }
                }
            }
        }
        sums.map(|[e, s]| (e / s).sqrt())
    }

    /// The map is the sum over the kept index assignments (module docs), by brute force.
    #[test]
    fn map_is_the_sum_over_the_kept_assignments() {
        let (w, z) = layer(5, 8);
        let (m, n) = (4, 5);
        let w = Mat::from_fn(m, n, |i, a| w[(i, a)]);
        let h = z.map(w.as_ref(), Paired::zeros(m));
        let p = &z.paired.0;
        let r = |a: usize, b: usize, c: usize| {
            if b == c {
                p[(a, b)]
            } else if b == a || c == a {
                0.0
            } else {
                z.get(&[a, a, b, c])
            }
        };
        let f = |i: usize, j: usize, k: usize| {
            let mut sum = 0.0;
            for a in 0..n {
                for b in 0..n {
                    for c in 0..n {
                        sum += w[(i, a)].powi(2) * w[(j, b)] * w[(k, c)] * r(a, b, c);
                    }
                }
            }
            sum
        };
        let once = |i: usize, j: usize| -> f64 {
            (0..n)
                .map(|a| w[(i, a)].powi(3) * w[(j, a)] * p[(a, a)])
                .sum()
        };
        for i in 0..m {
            for j in 0..m {
                if j == i {
                    continue;
                }
                let want = 3.0 * f(i, i, j) - 2.0 * once(i, j);
                assert!((h.get(&[i, i, i, j]) - want).abs() < 1e-14, "T {i},{j}");
                for k in 0..m {
                    if k != i && k != j {
                        let want = f(i, j, k);
                        assert!((h.get(&[i, i, j, k]) - want).abs() < 1e-14, "Q {i},{j},{k}");
                    }
                }
            }
        }
    }

    /// The map keeps the leading order in the width: its error against the exact map of the
    /// full tensor is one order in n^(−1/2) below the entries (the dropped terms carry larger
    /// counts, 4 ways for a split pair, so at these widths it is not small: 0.3–0.7), and
    /// falls from n = 8 to n = 32 (by 2 asymptotically; measured 1.5–2.2).
    #[test]
    fn matches_the_exact_map_to_leading_order_in_the_width() {
        let mean = |n: usize| -> [f64; 2] {
            let runs: Vec<[f64; 2]> = (0..3).map(|s| errors(n, 40 + s)).collect();
            [0, 1].map(|k| runs.iter().map(|r| r[k]).sum::<f64>() / 3.0)
        };
        let (small, large) = (mean(8), mean(32));
        for k in 0..2 {
            let ratio = small[k] / large[k];
            assert!(
                large[k] < 0.6,
                "class {k}: relative error {} at n = 32",
                large[k]
            );
            assert!(
                (1.3..3.0).contains(&ratio),
                "class {k}: error {} at n = 8, {} at n = 32 (ratio {ratio})",
                small[k],
                large[k]
            );
        }
    }
    /// The tensor `z` written out in full (zero on four distinct units).
    fn full(z: &Unpaired4) -> SymTensor {
        let n = z.dim();
        let mut t = SymTensor::zeros(n, 4);
        for f in 0..n.pow(4) {
            let idx: Vec<usize> = (0..4).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|x| x[0] <= x[1]) {
                t.set_sym(&idx, z.get(&idx));
            }
        }
        t
    }

    /// h's paired κ₄ from z's paired map and [`Unpaired4::map`]'s image equals the exact map
    /// of the full tensor on h's κ₄\[i,i,j,j\], and the image is not negligible there.
    #[test]
    fn paired_image_is_the_exact_map_on_paired_entries() {
        use crate::propagate::higher::paired::affine_paired;
        let (w, z) = layer(7, 3);
        let w = Mat::from_fn(5, 7, |i, a| w[(i, a)]);
        let mut exact = SymTensor::zeros(5, 4);
        affine_tensor(
            w.as_ref(),
            &full(&z),
            &mut exact,
            &mut TensorAffineWorkspace::default(),
        )
        .unwrap();
        let own = affine_paired(w.as_ref(), &z.paired);
        let got = z.map(w.as_ref(), own.clone()).paired.0;
        let image = &got - &own.0;
        let want = Mat::from_fn(5, 5, |i, j| exact.get(&[i, i, j, j]));
        assert!((&got - &want).norm_max() < 1e-14 * want.norm_max());
        assert!(image.norm_max() > 0.05 * want.norm_max());
    }

    /// With h's κ₄ holding no entry of four distinct units, [`super::super::closure::ChaosRule::unpaired`]'s
    /// z (κ₃, paired κ₄, κ₄\[a,a,a,b\], κ₄\[a,a,b,c\]) equals order 4's full closure
    /// (`ChaosRule::tensors`, column-wise `fill4`) on those entries, through relu, gelu and tanh.
    #[test]
    fn closure_equals_order_four_without_four_distinct_units() {
        use crate::net::Activation;
        use crate::propagate::higher::chaos::UnitChaos;
        use crate::propagate::higher::closure::{ChaosRule, Input};
        let n = 6;
        let mut rng = StdRng::seed_from_u64(9);
        let a = Mat::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
        let cov = &a * a.transpose() * faer::Scale(0.2) + Mat::<f64>::identity(n, n);
        let mut k3 = SymTensor::zeros(n, 3);
        for f in 0..n.pow(3) {
            let idx: Vec<usize> = (0..3).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|x| x[0] <= x[1]) {
                k3.set_sym(&idx, 0.05 * rng.sample::<f64, _>(StandardNormal));
            }
        }
        let (_, z) = layer(n, 5);
        let dense = full(&z);
        for act in [Activation::Relu, Activation::Gelu, Activation::Tanh] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 0.8, cov[(i, i)].sqrt()))
                .collect();
            let h = Input {
                cov: &cov,
                k3: &k3,
                k4: Some(&z as &dyn Kappa4),
                units: &units,
            };
            let (mut o3, mut d3, mut d4) = (
                SymTensor::zeros(0, 3),
                SymTensor::zeros(0, 3),
                SymTensor::zeros(0, 4),
            );
            let ours = ChaosRule::unpaired().tensors_unpaired(&h, &mut o3);
            let hd = Input {
                k4: Some(&dense as &dyn Kappa4),
                ..h
            };
            ChaosRule::new(4).tensors(&hd, &mut d3, Some(&mut d4));
            let scale = d4.max_abs();
            let mut worst: f64 = 0.0;
            for f in 0..n.pow(4) {
                let idx: Vec<usize> = (0..4).map(|k| f / n.pow(k as u32) % n).collect();
                let mut s = idx.clone();
                s.sort_unstable();
                if s.windows(2).all(|x| x[0] < x[1]) {
                    continue;
                }
                worst = worst.max((ours.get(&idx) - d4.get(&idx)).abs() / scale);
            }
            for (x, y) in o3.data().iter().zip(d3.data()) {
                worst = worst.max((x - y).abs() / d3.max_abs());
            }
            assert!(scale > 1e-3, "{act:?}: z's κ₄ ~0");
            assert!(
                worst < 1e-12,
                "{act:?}: largest relative deviation {worst:e}"
            );
        }
    }
}
