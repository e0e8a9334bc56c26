//! The κ₄ map of [`super::affine`], κ₄'\[a,b,c,d\] = Σ W_ai W_bj W_ck W_dl κ₄\[i,j,k,l\], for an
//! M × N map W on the dense storage of [`super::tensor::SymTensor`] (first index fastest),
//! with P = M(M+1)/2 and P₃ = N(N+1)(N+2)/6 (the sorted triples b ≤ c ≤ d):
//!
//! 1. the P₃ columns κ\[·,b,c,d\], b ≤ c ≤ d (contiguous N-vectors), gathered side by side
//!    and mapped by one GEMM: T₁\[i,(b,c,d)\] = Σ_a W_ia κ\[a,b,c,d\], symmetric in b, c, d
//!    (2MNP₃ ≈ N⁵/3 flops; mapping the N²(N+1)/2 columns with c ≤ d took ≈ N⁵);
//! 2. per pair c ≤ d, the M × N block T₁\[·,b,c,d\] over b (its columns gathered from the
//!    sorted triples) times Wᵀ: T₂\[i,j,c,d\], kept for i ≤ j and copied to (d,c)
//!    (P × N², M²N²(N+1) flops);
//! 3. T₃\[(ij),k,d\] = Σ_c T₂\[(ij),c,d\] W_kc, one GEMM per d (2PN²M);
//! 4. κ₄'\[(ij),k,l\] = Σ_d T₃\[(ij),k,d\] W_ld for k ≤ l only: per block of [`BLOCK`]
//!    columns l, the rows of the k below the block's end (≈ PM²N(1 + BLOCK/M) flops instead
//!    of 2PM²N);
//!
//! then unpacked: the pairs i ≤ j into each block (k, l ≤ ...) with k ≤ l, which is copied to
//! (l, k). ≈ 2.9N⁵ flops at M = N = 64, where mapping every c ≤ d column and every (k, l)
//! took ≈ 4N⁵. The result is symmetric in (i,j) and in (k,l) exactly, in the other index
//! exchanges to rounding.

use faer::reborrow::ReborrowMut;
use faer::{MatMut, MatRef};

use super::affine::{ensure, gemm, pack_upper, packed, TensorAffineWorkspace};

/// Columns l per GEMM of step 4.
const BLOCK: usize = 16;

/// Position of the sorted triple b ≤ c ≤ d among all sorted triples (d slowest).
pub(super) fn tri(b: usize, c: usize, d: usize) -> usize {
    d * (d + 1) * (d + 2) / 6 + c * (c + 1) / 2 + b
}

/// The column blocks \[l0, l1) of step 4.
fn blocks(m: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..m)
        .step_by(BLOCK)
        .map(move |l0| (l0, (l0 + BLOCK).min(m)))
}

/// Flops of [`map4`] (module docs).
pub(super) fn flops(m: usize, n: usize) -> f64 {
    let (mf, nf) = (m as f64, n as f64);
    let p = mf * (mf + 1.0) / 2.0;
    let step4: f64 = blocks(m)
        .map(|(l0, l1)| 2.0 * p * l1 as f64 * nf * (l1 - l0) as f64)
        .sum();
    2.0 * mf * nf * tri(0, 0, n) as f64
        + nf * (nf + 1.0) * mf * mf * nf
        + 2.0 * p * nf * nf * mf
        + step4
}

/// Writes W·κ₄ (`x`, N⁴ entries) into `out` (M⁴ entries). T₁ and T₃ are written into `out`
/// itself while its entries are not yet needed (M⁴ holds T₁'s M·P₃ and T₃'s P·M·N when
/// N ≤ M); a widening map uses the workspace for them.
pub(super) fn map4(
    w: MatRef<'_, f64>,
    wt: MatRef<'_, f64>,
    x: &[f64],
    ws: &mut TensorAffineWorkspace,
    out: &mut [f64],
) {
    let (m, n) = (w.nrows(), w.ncols());
    let (p, p3, wide) = (packed(m), tri(0, 0, n), n.max(m));
    let TensorAffineWorkspace { a, b, block, lhs } = ws;
    // 1. The sorted columns of κ side by side (b), mapped into T₁ (t).
    ensure(b, (n * p3).max(p * wide * wide));
    for d in 0..n {
        for c in 0..=d {
            let (from, to) = (n * n * (c + n * d), n * tri(0, c, d));
            b[to..to + n * (c + 1)].copy_from_slice(&x[from..from + n * (c + 1)]);
        }
    }
    let scratch = (m * p3).max(p * m * n);
    let t: &mut [f64] = if out.len() >= scratch {
        &mut *out
    } else {
        ensure(a, scratch);
        a
    };
    gemm(
        MatMut::from_column_major_slice_mut(&mut t[..m * p3], m, p3),
        w,
        MatRef::from_column_major_slice(&b[..n * p3], n, p3),
    );
    // 2. T₂ (b) per pair c ≤ d from the gathered block T₁[·,·,c,d] (lhs).
    ensure(lhs, m * n);
    block.resize(m * m, 0.0);
    for d in 0..n {
        for c in 0..=d {
            for u in 0..n {
                let mut s = [u, c, d];
                s.sort_unstable();
                let at = m * tri(s[0], s[1], s[2]);
                lhs[m * u..m * (u + 1)].copy_from_slice(&t[at..at + m]);
            }
            let t1 = MatRef::from_column_major_slice(&lhs[..m * n], m, n);
            gemm(MatMut::from_column_major_slice_mut(block, m, m), t1, wt);
            let col = p * (c + n * d);
            pack_upper(block, m, &mut b[col..col + p]);
            if c < d {
                b.copy_within(col..col + p, p * (d + n * c));
            }
        }
    }
    // 3. T₃ (t).
    for d in 0..n {
        gemm(
            MatMut::from_column_major_slice_mut(&mut t[p * m * d..p * m * (d + 1)], p, m),
            MatRef::from_column_major_slice(&b[p * n * d..p * n * (d + 1)], p, n),
            wt,
        );
    }
    // 4. κ₄' packed (b), columns l ≤ the block's end only.
    {
        let mut dst = MatMut::from_column_major_slice_mut(&mut b[..p * m * m], p * m, m);
        let src = MatRef::from_column_major_slice(&t[..p * m * n], p * m, n);
        for (l0, l1) in blocks(m) {
            gemm(
                dst.rb_mut().submatrix_mut(0, l0, p * l1, l1 - l0),
                src.submatrix(0, 0, p * l1, n),
                wt.submatrix(0, l0, n, l1 - l0),
            );
        }
    }
    unpack_upper(&b[..p * m * m], m, out);
}

/// Writes the full tensor from `y`, packed pairs (i ≤ j) × (k, l), read for k ≤ l only:
/// block (k, l) unpacked, then copied to (l, k).
fn unpack_upper(y: &[f64], m: usize, out: &mut [f64]) {
    let (p, mm) = (packed(m), m * m);
    for l in 0..m {
        for k in 0..=l {
            let r = k + m * l;
            let (col, dst) = (&y[p * r..p * (r + 1)], &mut out[mm * r..mm * (r + 1)]);
            for j in 0..m {
                for i in 0..=j {
                    let v = col[packed(j) + i];
                    dst[i + m * j] = v;
                    dst[j + m * i] = v;
                }
            }
            if k < l {
                out.copy_within(mm * r..mm * (r + 1), mm * (l + m * k));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use faer::Mat;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    use super::super::affine::{affine_tensor, TensorAffineWorkspace};
    use super::super::tensor::SymTensor;
    use super::*;

    /// The sorted triples are numbered 0, 1, … in the order d, then c, then b ascending.
    #[test]
    fn triples_are_numbered_consecutively() {
        let n = 6;
        let mut next = 0;
        for d in 0..n {
            for c in 0..=d {
                for b in 0..=c {
                    assert_eq!(tri(b, c, d), next);
                    next += 1;
                }
            }
        }
        assert_eq!(tri(0, 0, n), next);
    }

    /// Mode `k` of the dense tensor `t` (dimensions `dims`, first fastest) mapped by `w`, by
    /// explicit sums.
    fn mode(t: &[f64], dims: [usize; 4], k: usize, w: &Mat<f64>) -> (Vec<f64>, [usize; 4]) {
        let mut od = dims;
        od[k] = w.nrows();
        let total: usize = od.iter().product();
        let out = (0..total)
            .map(|f| {
                let mut idx = [0; 4];
                let mut r = f;
                for q in 0..4 {
                    idx[q] = r % od[q];
                    r /= od[q];
                }
                (0..dims[k])
                    .map(|i| {
                        let mut j = idx;
                        j[k] = i;
                        let at = j[0] + dims[0] * (j[1] + dims[1] * (j[2] + dims[2] * j[3]));
                        w[(idx[k], i)] * t[at]
                    })
                    .sum()
            })
            .collect();
        (out, od)
    }

    /// A symmetric κ₄ (sum of five random rank-one terms, each entry set at every
    /// permutation of its sorted index).
    fn random_k4(n: usize, rng: &mut StdRng) -> SymTensor {
        let v: Vec<Vec<f64>> = (0..5)
            .map(|_| (0..n).map(|_| rng.sample(StandardNormal)).collect())
            .collect();
        let mut t = SymTensor::zeros(n, 4);
        for d in 0..n {
            for c in 0..=d {
                for b in 0..=c {
                    for a in 0..=b {
                        let x = v.iter().map(|v| v[a] * v[b] * v[c] * v[d]).sum();
                        t.set_sym(&[a, b, c, d], x);
                    }
                }
            }
        }
        t
    }

    /// The map equals four explicit mode products: narrowing, square and mildly widening (T₁
    /// and T₃ in the output's storage), widening by 2× (in the workspace), M above one block
    /// of step 4, all in one reused workspace.
    #[test]
    fn map_equals_explicit_mode_products() {
        let mut rng = StdRng::seed_from_u64(3);
        let mut ws = TensorAffineWorkspace::default();
        for (m, n) in [(20, 18), (17, 21), (6, 12), (20, 18), (19, 19)] {
            let w = Mat::from_fn(m, n, |_, _| rng.sample::<f64, _>(StandardNormal));
            let x = random_k4(n, &mut rng);
            let mut out = SymTensor::zeros(0, 4);
            affine_tensor(w.as_ref(), &x, &mut out, &mut ws).unwrap();
            let (mut want, mut dims) = (x.data().to_vec(), [n; 4]);
            for k in 0..4 {
                (want, dims) = mode(&want, dims, k, &w);
            }
            let scale = want.iter().fold(0.0f64, |s, v| s.max(v.abs()));
            let worst = out
                .data()
                .iter()
                .zip(&want)
                .fold(0.0f64, |s, (a, b)| s.max((a - b).abs()));
            assert!(
                worst < 1e-12 * scale,
                "{m}×{n}: deviation {worst:e} of {scale:e}"
            );
        }
    }
}
