//! The last hidden layer's pre-activation cumulants as slices only (issue #16 item 7).
//!
//! When only the output's mean and covariance are wanted ([`super::Carry::moments_only`]), the
//! last hidden layer's closure is the last reader of κ, and its Δm, ΔC ([`super::closure`])
//! read only entries of at most two distinct units: κ₃\[a,a,b\] (and its transpose κ₃\[a,b,b\]),
//! κ₃\[a,a,a\], κ₄\[a,a,b,b\], κ₄\[a,a,a,b\] (and κ₄\[a,b,b,b\]), κ₄\[a,a,a,a\]. These are mapped
//! from z's full tensors directly, h = W z (M × N map), never forming h's tensors:
//!
//! ```text
//! U[i,c]   = Σ_ab W_ia W_ib κ₃[a,b,c],          κ₃(h)[i,i,j]   = Σ_c U[i,c] W_jc      (U Wᵀ)
//! V[i,c,d] = Σ_ab W_ia W_ib κ₄[a,b,c,d],        κ₄(h)[i,i,j,j] = Σ_cd V[i,c,d] W_jc W_jd
//! R[i,d]   = Σ_c W_ic V[i,c,d],                 κ₄(h)[i,i,i,j] = Σ_d R[i,d] W_jd       (R Wᵀ)
//! ```
//!
//! (the affine map of DESIGN.md §2 read at these entries). The first mode product is one GEMM
//! per last index over the columns b ≤ c (κ₃), or per pair c ≤ d over the columns b ≤ c (κ₄:
//! the sorted triples only), of the symmetric input; the rest are row-wise dot products and
//! GEMMs. Flops ≈ MN³ + 2M²N (κ₃) and MN⁴/3 + 2M²N² (κ₄), against 4MN³ and ≈ 2.9MN⁴ for the
//! full map ([`super::affine`]) — and the closure's output tensors and
//! the read-out's map are not needed at all.
//!
//! An entry of three or more distinct units is not held: [`Sliced`] returns NaN for it, so a
//! reader that needs one shows up as a non-finite result rather than a silent zero.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef, Par};

use super::affine4::tri;
use super::paired::Kappa4;
use super::tensor::{Kappa3, SymTensor};

/// The slices of h's κ₃ (and at order 4 κ₄) a closure reads; matrices indexed (a, b).
#[derive(Clone, Debug, PartialEq)]
pub struct Sliced {
    /// κ₃\[a,a,b\].
    pub k3_aab: Mat<f64>,
    /// κ₃\[a,b,b\] (the transpose of `k3_aab`: a column over a is contiguous).
    pub k3_abb: Mat<f64>,
    /// Order 4: κ₄\[a,a,b,b\], κ₄\[a,a,a,b\], κ₄\[a,b,b,b\] (the transpose of the second).
    pub k4: Option<[Mat<f64>; 3]>,
    /// N NaNs: the column of any entry not held.
    missing: Vec<f64>,
}

impl Sliced {
    /// From κ₃\[a,a,b\] and, at order 4, κ₄\[a,a,b,b\] and κ₄\[a,a,a,b\].
    pub fn new(k3_aab: Mat<f64>, k4: Option<(Mat<f64>, Mat<f64>)>) -> Self {
        let n = k3_aab.nrows();
        Sliced {
            k3_abb: k3_aab.transpose().to_owned(),
            k3_aab,
            k4: k4.map(|(aabb, aaab)| [aabb, aaab.transpose().to_owned(), aaab]),
            missing: vec![f64::NAN; n],
        }
    }

    /// Zero slices over `n` units (κ₄'s too at `order` 4): a Gaussian h.
    pub fn zeros(n: usize, order: usize) -> Self {
        let z = || Mat::zeros(n, n);
        Sliced::new(z(), (order >= 4).then(|| (z(), z())))
    }

    /// Number of units N.
    pub fn dim(&self) -> usize {
        self.k3_aab.nrows()
    }

    /// Sets every slice to zero (h taken as Gaussian).
    pub fn clear(&mut self) {
        self.k3_aab.fill(0.0);
        self.k3_abb.fill(0.0);
        if let Some(k4) = &mut self.k4 {
            k4.iter_mut().for_each(|m| m.fill(0.0));
        }
    }

    /// The column over a of the entry with every other index at unit u: `kind` names the
    /// slice (see [`Slice`]); NaNs where the slice is not held.
    pub fn column(&self, kind: Slice, u: usize) -> &[f64] {
        let k4 = |k: usize| self.k4.as_ref().map(|m| m[k].col_as_slice(u));
        let col = match kind {
            Slice::K3aab => Some(self.k3_aab.col_as_slice(u)),
            Slice::K3abb => Some(self.k3_abb.col_as_slice(u)),
            Slice::K4aabb => k4(0),
            Slice::K4aaab => k4(2),
            Slice::K4abbb => k4(1),
        };
        col.unwrap_or(&self.missing)
    }

    /// N NaNs: the column of an entry of three or more distinct units, which is not held.
    pub fn missing(&self) -> &[f64] {
        &self.missing
    }

    /// The diagonal κ₃\[a,a,a\] (`order` 3) or κ₄\[a,a,a,a\] (4) over a; NaNs if not held.
    pub fn diagonal(&self, order: usize) -> Vec<f64> {
        let m = if order == 3 {
            Some(&self.k3_aab)
        } else {
            self.k4.as_ref().map(|k| &k[0])
        };
        match m {
            Some(m) => (0..self.dim()).map(|a| m[(a, a)]).collect(),
            None => self.missing.clone(),
        }
    }
}

/// Which slice a column reads: the entry's indices with a the free unit and b fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slice {
    /// κ₃\[a,a,b\].
    K3aab,
    /// κ₃\[a,b,b\].
    K3abb,
    /// κ₄\[a,a,b,b\].
    K4aabb,
    /// κ₄\[a,a,a,b\].
    K4aaab,
    /// κ₄\[a,b,b,b\].
    K4abbb,
}

/// The sorted index multiset of `idx` as (the smaller unit, the larger, how many of the
/// smaller), or `None` for three or more distinct units.
fn two_units(idx: &[usize]) -> Option<(usize, usize, usize)> {
    let lo = *idx.iter().min()?;
    let hi = *idx.iter().max()?;
    if idx.iter().any(|&i| i != lo && i != hi) {
        return None;
    }
    Some((lo, hi, idx.iter().filter(|&&i| i == lo).count()))
}

impl Kappa3 for Sliced {
    /// κ₃ at `idx` if it has at most two distinct units, NaN otherwise.
    fn get(&self, idx: &[usize]) -> f64 {
        match two_units(idx) {
            Some((a, b, 1)) if a != b => self.k3_abb[(a, b)],
            Some((a, b, _)) => self.k3_aab[(a, b)],
            None => f64::NAN,
        }
    }

    fn sliced(&self) -> Option<&Sliced> {
        Some(self)
    }
}

impl Kappa4 for Sliced {
    /// κ₄ at `idx` if it has at most two distinct units (and κ₄ is held), NaN otherwise.
    fn get(&self, idx: &[usize]) -> f64 {
        let Some([aabb, abbb, aaab]) = &self.k4 else {
            return f64::NAN;
        };
        match two_units(idx) {
            Some((a, b, 2)) => aabb[(a, b)],
            Some((a, b, 1)) if a != b => abbb[(a, b)],
            Some((a, b, 3)) => aaab[(a, b)],
            Some((a, b, _)) => aabb[(a, b)],
            None => f64::NAN,
        }
    }

    fn sliced(&self) -> Option<&Sliced> {
        Some(self)
    }
}

/// Buffers reused between calls.
#[derive(Clone, Debug, Default)]
pub struct SliceWorkspace {
    t1: Vec<f64>,
    v: Vec<f64>,
}

/// Flops of [`affine_sliced`] for an M × N map (κ₄ when `order` is 4; module docs).
pub fn sliced_affine_flops(m: usize, n: usize, order: usize) -> f64 {
    let (m, n) = (m as f64, n as f64);
    let k3 = m * n * n * (n + 1.0) + 2.0 * m * n * n + 2.0 * m * m * n;
    let k4 = m * n * (n + 1.0) * (n + 2.0) * n / 3.0
        + m * n * n * (n + 1.0)
        + 2.0 * m * m * n * n
        + 2.0 * m * n * n
        + 2.0 * m * m * n;
    if order >= 4 {
        k3 + k4
    } else {
        k3
    }
}

/// dst = lhs · rhs.
fn gemm(dst: MatMut<'_, f64>, lhs: MatRef<'_, f64>, rhs: MatRef<'_, f64>) {
    matmul(dst, Accum::Replace, lhs, rhs, 1.0, Par::rayon(0));
}

/// The slices of h = W z's κ₃ (and κ₄) from z's full tensors (module docs).
pub fn affine_sliced(
    w: MatRef<'_, f64>,
    k3: &SymTensor,
    k4: Option<&SymTensor>,
    ws: &mut SliceWorkspace,
) -> Sliced {
    let wt = w.transpose().to_owned();
    let u = pair_contract3(w, k3.data(), ws);
    let mut k3_aab = Mat::zeros(w.nrows(), w.nrows());
    gemm(k3_aab.as_mut(), u.as_ref(), wt.as_ref());
    let k4 = k4.map(|t| slices4(w, wt.as_ref(), t.data(), ws));
    Sliced::new(k3_aab, k4)
}

/// Σ_i W_ib t\[i\] summed over b into `out`: out\[i\] += Σ_b W_ib · t\[i + M b\] for the
/// columns `bs` of the M × N block `t` (column b at `m * (b - bs.start)`).
fn row_dots(w: MatRef<'_, f64>, t: &[f64], bs: std::ops::Range<usize>, out: &mut [f64]) {
    let m = w.nrows();
    for (k, b) in bs.enumerate() {
        let (wb, tb) = (w.col(b), &t[m * k..m * (k + 1)]);
        for i in 0..m {
            out[i] += wb[i] * tb[i];
        }
    }
}

/// U\[i,c\] = Σ_ab W_ia W_ib κ₃\[a,b,c\] (M × N): T₁\[i,b,c\] = Σ_a W_ia κ₃\[a,b,c\] for b ≤ c only
/// (one GEMM per c, as [`super::affine`]), T₁\[i,b,c\] = T₁\[i,c,b\] for b > c.
fn pair_contract3(w: MatRef<'_, f64>, x: &[f64], ws: &mut SliceWorkspace) -> Mat<f64> {
    let (m, n) = (w.nrows(), w.ncols());
    ws.t1.resize(m * n * n, 0.0);
    let t1 = &mut ws.t1;
    for c in 0..n {
        let xs = MatRef::from_column_major_slice(&x[n * n * c..n * (n * c + c + 1)], n, c + 1);
        let ys = &mut t1[m * n * c..m * (n * c + c + 1)];
        gemm(MatMut::from_column_major_slice_mut(ys, m, c + 1), w, xs);
    }
    let mut u = Mat::<f64>::zeros(m, n);
    for c in 0..n {
        let col = u.col_as_slice_mut(c);
        row_dots(w, &t1[m * n * c..m * (n * c + c + 1)], 0..c + 1, col);
        for b in c + 1..n {
            let at = m * (c + n * b);
            row_dots(w, &t1[at..at + m], b..b + 1, col);
        }
    }
    u
}

/// V\[i,c+Nd\] = Σ_ab W_ia W_ib κ₄\[a,b,c,d\] (M × N²): T₁\[i,(b,c,d)\] = Σ_a W_ia κ₄\[a,b,c,d\]
/// on the sorted triples b ≤ c ≤ d only (one GEMM per pair c ≤ d over the contiguous columns
/// b ≤ c, ≈ N⁵/3 flops where all b for c ≤ d took ≈ N⁵), then V\[i,(c,d)\] = Σ_b W_ib
/// T₁\[i,sorted(b,c,d)\] for c ≤ d, mirrored.
fn pair_contract4(w: MatRef<'_, f64>, x: &[f64], ws: &mut SliceWorkspace) -> Mat<f64> {
    let (m, n) = (w.nrows(), w.ncols());
    ws.t1.resize(m * tri(0, 0, n), 0.0);
    for d in 0..n {
        for c in 0..=d {
            let (from, to) = (n * n * (c + n * d), m * tri(0, c, d));
            let xs = MatRef::from_column_major_slice(&x[from..from + n * (c + 1)], n, c + 1);
            let ys = &mut ws.t1[to..to + m * (c + 1)];
            gemm(MatMut::from_column_major_slice_mut(ys, m, c + 1), w, xs);
        }
    }
    let mut v = Mat::<f64>::zeros(m, n * n);
    for d in 0..n {
        for c in 0..=d {
            let col = v.col_as_slice_mut(c + n * d);
            for b in 0..n {
                let mut s = [b, c, d];
                s.sort_unstable();
                let at = m * tri(s[0], s[1], s[2]);
                row_dots(w, &ws.t1[at..at + m], b..b + 1, col);
            }
            if c < d {
                let (lo, hi) = (c + n * d, d + n * c);
                let from = v.col_as_slice(lo).to_vec();
                v.col_as_slice_mut(hi).copy_from_slice(&from);
            }
        }
    }
    v
}

/// κ₄(h)\[i,i,j,j\] and κ₄(h)\[i,i,i,j\] from z's κ₄ (module docs).
fn slices4(
    w: MatRef<'_, f64>,
    wt: MatRef<'_, f64>,
    x: &[f64],
    ws: &mut SliceWorkspace,
) -> (Mat<f64>, Mat<f64>) {
    let (m, n) = (w.nrows(), w.ncols());
    // V[i, c + N d] (M × N²).
    let v = pair_contract4(w, x, ws);
    // κ₄[i,i,j,j] = Σ_cd V[i,(c,d)] K[j,(c,d)], K[j,(c,d)] = W_jc W_jd.
    ws.v.resize(m * n * n, 0.0);
    for d in 0..n {
        for c in 0..n {
            let dst = &mut ws.v[m * (c + n * d)..m * (c + n * d + 1)];
            for (j, x) in dst.iter_mut().enumerate() {
                *x = w[(j, c)] * w[(j, d)];
            }
        }
    }
    let k = MatRef::from_column_major_slice(&ws.v[..m * n * n], m, n * n);
    let mut aabb = Mat::zeros(m, m);
    gemm(aabb.as_mut(), v.as_ref(), k.transpose());
    // R[i,d] = Σ_c W_ic V[i,c,d]; κ₄[i,i,i,j] = R Wᵀ.
    let r = Mat::from_fn(m, n, |i, d| {
        (0..n).map(|c| w[(i, c)] * v[(i, c + n * d)]).sum()
    });
    let mut aaab = Mat::zeros(m, m);
    gemm(aaab.as_mut(), r.as_ref(), wt);
    (aabb, aaab)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    /// A symmetric tensor with Gaussian entries.
    fn random_sym(n: usize, order: usize, rng: &mut StdRng) -> SymTensor {
        let mut t = SymTensor::zeros(n, order);
        for f in 0..n.pow(order as u32) {
            let idx: Vec<usize> = (0..order).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|w| w[0] <= w[1]) {
                t.set_sym(&idx, rng.sample::<f64, _>(StandardNormal));
            }
        }
        t
    }

    /// Every slice equals the full affine map's entry, for every index order of that entry;
    /// entries of three distinct units are NaN.
    #[test]
    fn slices_equal_the_full_map() {
        let (m, n) = (6, 5);
        let mut rng = StdRng::seed_from_u64(3);
        let w = Mat::from_fn(m, n, |_, _| rng.sample::<f64, _>(StandardNormal));
        let (k3, k4) = (random_sym(n, 3, &mut rng), random_sym(n, 4, &mut rng));
        let mut ws = TensorAffineWorkspace::default();
        let (mut f3, mut f4) = (SymTensor::zeros(0, 3), SymTensor::zeros(0, 4));
        affine_tensor(w.as_ref(), &k3, &mut f3, &mut ws).unwrap();
        affine_tensor(w.as_ref(), &k4, &mut f4, &mut ws).unwrap();
        let s = affine_sliced(w.as_ref(), &k3, Some(&k4), &mut SliceWorkspace::default());
        let (s3, s4) = (f3.max_abs(), f4.max_abs());
        let mut worst: f64 = 0.0;
        for i in 0..m {
            for j in 0..m {
                for idx in [[i, i, j], [i, j, i], [j, i, i]] {
                    let got = Kappa3::get(&s, &idx);
                    worst = worst.max((got - f3.get(&idx)).abs() / s3);
                }
                for idx in [[i, i, j, j], [i, j, i, j], [i, i, i, j], [j, i, i, i]] {
                    let got = Kappa4::get(&s, &idx);
                    worst = worst.max((got - f4.get(&idx)).abs() / s4);
                }
                let cols = [
                    (Slice::K3aab, f3.get(&[i, i, j]) / s3, s3),
                    (Slice::K3abb, f3.get(&[i, j, j]) / s3, s3),
                    (Slice::K4aabb, f4.get(&[i, i, j, j]) / s4, s4),
                    (Slice::K4aaab, f4.get(&[i, i, i, j]) / s4, s4),
                    (Slice::K4abbb, f4.get(&[i, j, j, j]) / s4, s4),
                ];
                for (kind, want, scale) in cols {
                    let got = s.column(kind, j)[i];
                    worst = worst.max((got / scale - want).abs());
                }
            }
        }
        assert!(worst < 1e-13, "largest relative deviation {worst:e}");
        assert!(Kappa3::get(&s, &[0, 1, 2]).is_nan());
        assert!(Kappa4::get(&s, &[0, 1, 2, 2]).is_nan());
        let no_k4 = affine_sliced(w.as_ref(), &k3, None, &mut SliceWorkspace::default());
        assert!(no_k4.column(Slice::K4aabb, 0).iter().all(|v| v.is_nan()));
    }
}
