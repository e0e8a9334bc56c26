//! The full κ₃ (and κ₄) tensors of samples: the start of the cumulants carried through depth,
//! measured at the first pre-activation after the start layer (issue #16 item 2).
//!
//! With δ = h − μ̂ (μ̂ the sample mean, population moments as DESIGN.md §1 defines them):
//!
//! ```text
//! Σ[i,j]        = E[δᵢδⱼ]
//! κ₃[i,j,k]     = E[δᵢδⱼδₖ]
//! κ₄[i,j,k,l]   = E[δᵢδⱼδₖδₗ] − Σ_ij Σ_kl − Σ_ik Σ_jl − Σ_il Σ_jk
//! ```
//!
//! **GEMM accumulation.** The P = N(N+1)/2 products δᵢδⱼ (i ≤ j) of a block of b samples form
//! a P × b matrix K; then Σ_s δᵢδⱼδₖ = (K δᵀ)\[ij, k\] (one P × N GEMM, 2PNb flops) and
//! Σ_s δᵢδⱼδₖδₗ = (K Kᵀ)\[ij, kl\] (its upper triangle by one triangular product, P(P + 1)b
//! flops, then mirrored): a quarter of the N⁴ product, symmetry in (i, j) and (k, l) used.
//! Memory: K (P × b, at most 64 MB), the sums (P × N and P × P) and the dense output tensors
//! (N³, N⁴). The estimates are multilinear in δ, so for h = W z + b the tensors of h equal W
//! applied to those of z on every index, to rounding (test
//! `measured_start_tensors_are_the_affine_map_of_the_inputs`).

use faer::linalg::matmul::matmul;
use faer::linalg::matmul::triangular::{self, BlockStructure};
use faer::{Accum, Mat, MatRef, Par};
use rayon::prelude::*;

use super::carry::Tensors;
use super::paired::Paired;
use super::tensor::SymTensor;
use super::triple4::Unpaired4;
use crate::error::{Error, Result};
use crate::linalg::{centre_rows, mirror_upper};

/// Bytes of the product block K at most (b is chosen to fit).
const BLOCK_BYTES: usize = 64 << 20;

/// Flops of [`measure_tensors`] for `n` samples of N units at `order`: Σ (2N²n), the P × N
/// sums of κ₃ (2PNn) and at order 4 the upper triangle of the P × P sums (P(P + 1)n).
pub fn tensor_flops(units: usize, samples: usize, order: usize) -> f64 {
    let (p, n, s) = (pairs(units) as f64, units as f64, samples as f64);
    2.0 * n * n * s + 2.0 * p * n * s + if order >= 4 { p * (p + 1.0) * s } else { 0.0 }
}

/// Flops of [`measure_third`] for `n` samples of N units: Σ and the paired sums (4N²n), the
/// sums of δ³δᵀ (2N²n) and the P × 2N sums of κ₃ and κ₄\[a,a,b,c\] (4PNn).
pub fn third_flops(units: usize, samples: usize) -> f64 {
    let (p, n, s) = (pairs(units) as f64, units as f64, samples as f64);
    6.0 * n * n * s + 4.0 * p * n * s
}

/// N(N+1)/2.
fn pairs(n: usize) -> usize {
    n * (n + 1) / 2
}

/// Row of the pair (i, j), i ≤ j, in K: columns of the upper triangle, j-major.
#[inline]
fn pair_row(i: usize, j: usize) -> usize {
    let (i, j) = if i <= j { (i, j) } else { (j, i) };
    j * (j + 1) / 2 + i
}

/// κ₃ (order 3) or κ₃ and κ₄ (order 4) of the samples in the columns of `h` (N × n, n ≥ 2),
/// by the formulas of the module docs.
pub fn measure_tensors(h: MatRef<'_, f64>, order: usize) -> Result<Tensors> {
    let (units, n) = (h.nrows(), h.ncols());
    if !(order == 3 || order == 4) {
        return Err(Error::Unsupported(format!(
            "measured cumulant tensors of order 3 or 4, got {order}"
        )));
    }
    if n < 2 {
        return Err(Error::Numeric(format!(
            "κ tensors of {units} units need at least 2 samples, got {n}"
        )));
    }
    let mean: Vec<f64> = (0..units)
        .map(|i| h.row(i).iter().sum::<f64>() / n as f64)
        .collect();
    let p = pairs(units);
    let block = block_samples(p, n);
    let mut delta = Mat::<f64>::zeros(units, block);
    let mut k = Mat::<f64>::zeros(p, block);
    let mut s2 = Mat::<f64>::zeros(units, units);
    let mut s3 = Mat::<f64>::zeros(p, units);
    let mut s4 = (order >= 4).then(|| Mat::<f64>::zeros(p, p));
    for start in (0..n).step_by(block) {
        let b = block.min(n - start);
        for s in 0..b {
            for i in 0..units {
                delta[(i, s)] = h[(i, start + s)] - mean[i];
            }
        }
        pair_products(delta.as_ref().subcols(0, b), k.as_mut());
        let (d, kb) = (delta.as_ref().subcols(0, b), k.as_ref().subcols(0, b));
        matmul(
            s2.as_mut(),
            Accum::Add,
            d,
            d.transpose(),
            1.0,
            Par::rayon(0),
        );
        matmul(
            s3.as_mut(),
            Accum::Add,
            kb,
            d.transpose(),
            1.0,
            Par::rayon(0),
        );
        if let Some(s4) = s4.as_mut() {
            // K Kᵀ is symmetric: its upper triangle only, half the flops.
            triangular::matmul(
                s4.as_mut(),
                BlockStructure::TriangularUpper,
                Accum::Add,
                kb,
                BlockStructure::Rectangular,
                kb.transpose(),
                BlockStructure::Rectangular,
                1.0,
                Par::rayon(0),
            );
        }
    }
    if let Some(s4) = s4.as_mut() {
        mirror_upper(s4.as_mut());
    }
    let inv = 1.0 / n as f64;
    let mut k3 = SymTensor::zeros(units, 3);
    fill(&mut k3, |t| s3[(pair_row(t[0], t[1]), t[2])] * inv);
    let k4 = s4.map(|s4| fourth_from_sums(&s4, &s2, inv));
    let tensors = Tensors { k3, k4 };
    if !tensors.k3.is_finite() || tensors.k4.as_ref().is_some_and(|t| !t.is_finite()) {
        return Err(Error::Numeric(format!(
            "the measured κ tensors of {units} units over {n} samples are not finite"
        )));
    }
    Ok(tensors)
}

/// κ₄\[a,b,c,d\] = s4\[(ab), (cd)\]/n − Σ_ab Σ_cd − Σ_ac Σ_bd − Σ_ad Σ_bc (module docs) from
/// the pair sums `s4` (P × P, rows and columns [`pair_row`]) and `s2` = Σ_s δδᵀ, over the
/// `samples` n behind `inv` = 1/n. The dense storage is N² blocks of N × N entries, block (c, d)
/// reading column (cd) of `s4` only: the blocks are filled in parallel, each column b over a
/// (the pair rows (ab) contiguous up to a = b, gathered beyond). Per entry the
/// same operations in the same order as the formula, so the result does not depend on the
/// schedule. (The former entry-by-entry fill, its indices decoded from the flat position,
/// was 19 % of a `propagate --order 4 --carry depth` run of a 784-100-100-10 network on
/// MNIST, on one thread.)
fn fourth_from_sums(s4: &Mat<f64>, s2: &Mat<f64>, inv: f64) -> SymTensor {
    let units = s2.nrows();
    let cov = Mat::from_fn(units, units, |a, b| s2[(a, b)] * inv);
    let mut k4 = SymTensor::zeros(units, 4);
    k4.data_mut()
        .par_chunks_mut(units * units)
        .enumerate()
        .for_each(|(cd, block)| {
            let (c, d) = (cd % units, cd / units);
            let sums = s4
                .col(pair_row(c, d))
                .try_as_col_major()
                .map(|c| c.as_slice());
            let sums = sums.expect("an owned matrix's columns are contiguous");
            let cov_cd = cov[(c, d)];
            let (cov_c, cov_d) = (cov.col(c), cov.col(d));
            for (b, out) in block.chunks_exact_mut(units).enumerate() {
                let (cov_b, cov_bd, cov_bc) = (cov.col(b), cov[(b, d)], cov[(b, c)]);
                let entry = |a: usize, e: f64| {
                    e * inv - cov_b[a] * cov_cd - cov_c[a] * cov_bd - cov_d[a] * cov_bc
                };
                // a ≤ b: the pair rows (ab) are contiguous; a > b: a gather.
                let (upper, lower) = out.split_at_mut(b + 1);
                for (a, (v, &e)) in upper.iter_mut().zip(&sums[b * (b + 1) / 2..]).enumerate() {
                    *v = entry(a, e);
                }
                for (a, v) in (b + 1..).zip(lower) {
                    *v = entry(a, sums[a * (a + 1) / 2 + b]);
                }
            }
        });
    k4
}

/// The paired κ₄ (κ₄\[i,i,j,j\], [`super::paired`]) of the samples in the columns of `h`
/// (N × n, n ≥ 2): with δ = h − μ̂, κ₄\[i,i,j,j\] = E\[δᵢ²δⱼ²\] − Σᵢᵢ Σⱼⱼ − 2 Σᵢⱼ², the
/// same estimate as [`measure_tensors`]' κ₄ on those entries (two N × N GEMMs over n).
pub fn measure_paired(h: MatRef<'_, f64>) -> Result<Paired> {
    Ok(paired_of(&centred(h)?)?.0)
}

/// δ = h − μ̂ of the samples in the columns of `h` (N × n), refusing n < 2.
fn centred(h: MatRef<'_, f64>) -> Result<Mat<f64>> {
    let (units, n) = (h.nrows(), h.ncols());
    if n < 2 {
        return Err(Error::Numeric(format!(
            "κ₄ of {units} units needs at least 2 samples, got {n}"
        )));
    }
    let mut delta = h.to_owned();
    centre_rows(delta.as_mut(), &mut faer::Col::zeros(units));
    Ok(delta)
}

/// [`measure_paired`] of the centred samples `delta` (N × n), with the covariance Σ = δδᵀ/n
/// it is formed from.
fn paired_of(delta: &Mat<f64>) -> Result<(Paired, Mat<f64>)> {
    let (units, n) = (delta.nrows(), delta.ncols());
    let sq = Mat::from_fn(units, n, |i, s| delta[(i, s)] * delta[(i, s)]);
    let mut s2 = Mat::<f64>::zeros(units, units);
    let mut s22 = Mat::<f64>::zeros(units, units);
    for (out, x) in [(&mut s2, delta), (&mut s22, &sq)] {
        matmul(
            out.as_mut(),
            Accum::Replace,
            x.as_ref(),
            x.transpose(),
            1.0,
            Par::rayon(0),
        );
    }
    let inv = 1.0 / n as f64;
    let cov = Mat::from_fn(units, units, |i, j| s2[(i, j)] * inv);
    let p = Mat::from_fn(units, units, |i, j| {
        s22[(i, j)] * inv - cov[(i, i)] * cov[(j, j)] - 2.0 * cov[(i, j)] * cov[(i, j)]
    });
    if !p.norm_max().is_finite() {
        return Err(Error::Numeric(format!(
            "the measured paired κ₄ of {units} units over {n} samples is not finite"
        )));
    }
    Ok((Paired(p), cov))
}

/// Samples per block of the pair products K (P × b): at most [`BLOCK_BYTES`], at least 16.
fn block_samples(pairs: usize, n: usize) -> usize {
    (BLOCK_BYTES / (8 * pairs.max(1))).clamp(16, 4096).min(n)
}

/// Order 3's measured start in one pass over the samples: κ₃ (as [`measure_tensors`] at
/// order 3) and the paired κ₄ with κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] ([`Unpaired4`], the classes
/// order 3's dense carry reads) of the samples in the columns of `h` (N × n, n ≥ 2): with
/// δ = h − μ̂,
///
/// ```text
/// κ₃[a,b,c]   = E[δa δb δc]
/// κ₄[a,a,a,b] = E[δa³ δb]    − 3 Σaa Σab
/// κ₄[a,a,b,c] = E[δa² δb δc] − Σaa Σbc − 2 Σab Σac
/// ```
///
/// the same estimates as [`measure_tensors`]' κ₃ and κ₄ on those entries; the paired entries
/// are [`measure_paired`]'s. Both third- and fourth-order sums come from one GEMM per block of
/// samples, K \[δ; δ²\]ᵀ (K the P × b pair products of the module docs: rows (b, c), columns
/// a of δ give E\[δb δc δa\], of δ² give E\[δb δc δa²\]): 2PNn·2 ≈ 2N³n flops in large
/// products, no N⁴ storage.
pub fn measure_third(h: MatRef<'_, f64>) -> Result<(Tensors, Unpaired4)> {
    let delta = centred(h)?;
    let (paired, cov) = paired_of(&delta)?;
    let (units, n) = (h.nrows(), h.ncols());
    let inv = 1.0 / n as f64;
    let cube = Mat::from_fn(units, n, |i, s| delta[(i, s)].powi(3));
    let mut e31 = Mat::<f64>::zeros(units, units);
    matmul(
        e31.as_mut(),
        Accum::Replace,
        cube.as_ref(),
        delta.transpose(),
        inv,
        Par::rayon(0),
    );
    let triple = Mat::from_fn(units, units, |a, b| {
        e31[(a, b)] - 3.0 * cov[(a, a)] * cov[(a, b)]
    });
    // Rows: the pairs (b, c); columns a < N: Σ_s δbδcδa, N + a: Σ_s δbδcδa².
    let p = pairs(units);
    let block = block_samples(p, n);
    let mut k = Mat::<f64>::zeros(p, block);
    let mut rhs = Mat::<f64>::zeros(2 * units, block);
    let mut sums = Mat::<f64>::zeros(p, 2 * units);
    for start in (0..n).step_by(block) {
        let b = block.min(n - start);
        let d = delta.as_ref().subcols(start, b);
        pair_products(d, k.as_mut());
        for s in 0..b {
            for i in 0..units {
                let x = d[(i, s)];
                rhs[(i, s)] = x;
                rhs[(units + i, s)] = x * x;
            }
        }
        matmul(
            sums.as_mut(),
            Accum::Add,
            k.as_ref().subcols(0, b),
            rhs.as_ref().subcols(0, b).transpose(),
            1.0,
            Par::rayon(0),
        );
    }
    let mut k3 = SymTensor::zeros(units, 3);
    fill(&mut k3, |t| sums[(pair_row(t[0], t[1]), t[2])] * inv);
    let mut by_double = vec![0.0; units * units * units];
    for a in 0..units {
        let block = &mut by_double[units * units * a..units * units * (a + 1)];
        for c in 0..units {
            for b in 0..units {
                block[b + units * c] = sums[(pair_row(b, c), units + a)] * inv
                    - cov[(a, a)] * cov[(b, c)]
                    - 2.0 * cov[(a, b)] * cov[(a, c)];
            }
        }
    }
    if !k3.is_finite() || !triple.norm_max().is_finite() || by_double.iter().any(|v| !v.is_finite())
    {
        return Err(Error::Numeric(format!(
            "the measured κ₃ and κ₄[a,a,a,b]/κ₄[a,a,b,c] of {units} units over {n} samples are \
             not finite"
        )));
    }
    let tensors = Tensors { k3, k4: None };
    Ok((tensors, Unpaired4::new(paired, triple, by_double)))
}

/// The products δᵢδⱼ (i ≤ j) of the b columns of `delta` into the first b columns of `k`
/// (P × ≥ b), row [`pair_row`]`(i, j)`: the block K of the module docs.
fn pair_products(delta: MatRef<'_, f64>, mut k: faer::MatMut<'_, f64>) {
    let units = delta.nrows();
    for s in 0..delta.ncols() {
        let col = delta.col(s);
        let mut out = k.as_mut().col_mut(s);
        for j in 0..units {
            let dj = col[j];
            let base = j * (j + 1) / 2;
            for i in 0..=j {
                out[base + i] = col[i] * dj;
            }
        }
    }
}

/// Sets every entry of `t` (column-major, first index fastest) to f at its index tuple.
fn fill(t: &mut SymTensor, f: impl Fn(&[usize]) -> f64) {
    let (n, order) = (t.dim(), t.order());
    let mut idx = [0usize; 4];
    for (flat, v) in t.data_mut().iter_mut().enumerate() {
        let mut r = flat;
        for slot in idx.iter_mut().take(order) {
            *slot = r % n;
            r /= n;
        }
        *v = f(&idx[..order]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// κ₃ equals the full measured κ₃, and κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] (and the paired
    /// entries) the full measured κ₄ on their entries; four distinct units read zero.
    #[test]
    fn third_equals_the_full_tensors_on_its_classes() {
        use crate::propagate::higher::paired::Kappa4;
        let (units, n) = (5, 40);
        let h = Mat::from_fn(units, n, |i, s| {
            let x = ((i * 31 + s * 17) % 23) as f64 / 23.0 - 0.4;
            x * x * x + 0.1 * i as f64 * x + 0.05 * ((s * 7) % 5) as f64
        });
        let full_tensors = measure_tensors(h.as_ref(), 4).unwrap();
        let full = full_tensors.k4.unwrap();
        let (third, u) = measure_third(h.as_ref()).unwrap();
        let k3 = full_tensors.k3.data();
        let k3_scale = full_tensors.k3.max_abs();
        for (x, y) in third.k3.data().iter().zip(k3) {
            assert!((x - y).abs() < 1e-12 * k3_scale);
        }
        assert!(third.k4.is_none());
        let scale = full.max_abs();
        let mut distinct = 0;
        for a in 0..units {
            for b in 0..units {
                for c in 0..units {
                    for d in 0..units {
                        let idx = [a, b, c, d];
                        let mut s = idx;
                        s.sort_unstable();
                        let four = s.windows(2).all(|w| w[0] != w[1]);
                        let want = if four { 0.0 } else { full.get(&idx) };
                        distinct += usize::from(four && full.get(&idx).abs() > 1e-6 * scale);
                        assert!((u.get(&idx) - want).abs() < 1e-12 * scale, "{idx:?}");
                    }
                }
            }
        }
        // The four-distinct entries are not zero in the data: the classes are a real cut.
        assert!(distinct > 0);
    }

    /// κ₃ and κ₄ equal their definitions (module docs) evaluated entry by entry from the
    /// centred samples, with an unsymmetric index tuple at every position.
    #[test]
    fn tensors_equal_the_definitions_entry_by_entry() {
        // 12 units: P = 78 pairs, several tiles of the mirrored sums.
        let (units, n) = (12, 50);
        let h = Mat::from_fn(units, n, |i, s| {
            let x = ((i * 29 + s * 13) % 19) as f64 / 19.0 - 0.3;
            x * x * x + 0.2 * i as f64 * x * x + 0.05 * ((s * 5) % 7) as f64
        });
        let t = measure_tensors(h.as_ref(), 4).unwrap();
        let k4 = t.k4.unwrap();
        let mean: Vec<f64> = (0..units)
            .map(|i| (0..n).map(|s| h[(i, s)]).sum::<f64>() / n as f64)
            .collect();
        let e = |idx: &[usize]| {
            (0..n)
                .map(|s| idx.iter().map(|&i| h[(i, s)] - mean[i]).product::<f64>())
                .sum::<f64>()
                / n as f64
        };
        let scale = k4.max_abs();
        assert!(scale > 1e-3, "a κ₄ of scale {scale:e} tests nothing");
        for d in 0..units {
            for c in 0..units {
                for b in 0..units {
                    for a in 0..units {
                        let want = e(&[a, b, c, d])
                            - e(&[a, b]) * e(&[c, d])
                            - e(&[a, c]) * e(&[b, d])
                            - e(&[a, d]) * e(&[b, c]);
                        let got = k4.get(&[a, b, c, d]);
                        assert!((got - want).abs() < 1e-12 * scale, "κ₄{:?}", [a, b, c, d]);
                    }
                    let got = t.k3.get(&[b, c, d]);
                    assert!(
                        (got - e(&[b, c, d])).abs() < 1e-12 * scale,
                        "κ₃{:?}",
                        [b, c, d]
                    );
                }
            }
        }
    }

    /// The paired κ₄ equals the full measured κ₄ on its paired entries.
    #[test]
    fn paired_equals_the_full_tensor_on_paired_entries() {
        let (units, n) = (5, 40);
        let h = Mat::from_fn(units, n, |i, s| {
            let x = ((i * 31 + s * 17) % 23) as f64 / 23.0 - 0.4;
            x * x * x + 0.1 * i as f64 * x
        });
        let full = measure_tensors(h.as_ref(), 4).unwrap().k4.unwrap();
        let p = measure_paired(h.as_ref()).unwrap();
        let scale = full.max_abs();
        for i in 0..units {
            for j in 0..units {
                let want = full.get(&[i, i, j, j]);
                assert!((p.0[(i, j)] - want).abs() < 1e-12 * scale, "{i},{j}");
            }
        }
    }
}
