//! The pair kernels of the Hermite series closure ([`super::hermite`]): Cᵢⱼ = Σ_{n=1..L} ρⁿ
//! cₙ(i)cₙ(j) (Mehler; DESIGN.md §3, "Any smooth φ") on SIMD lanes over j, one column at a time
//! ([`SeriesLanes`]) or [`GROUP`] columns sharing each load of the coefficient table
//! ([`GroupLanes`]).

use pulp::{Simd, WithSimd};

use crate::simd::{load, store};

/// Units per block of the coefficient table (a multiple of every lane count: 8, 4, 2, 1).
pub(super) const BLOCK: usize = 8;
/// Steps of the per-vector term counts (`hermite::vector_limits`), a multiple of the 4 Horner
/// chains.
pub(super) const LIMIT_STEP: usize = 8;
/// Columns of one [`GroupLanes`] call.
pub(super) const GROUP: usize = 4;

/// The terms one lane vector takes: `len`, or with `limits` (`hermite::vector_limits`, non-
/// decreasing, at most 1) the least 8(t + 1) whose limit covers the vector's largest
/// max(|ρ|, floor) — `floor` per unit, 0 or (a unit whose pairs need all `len` terms: not
/// settled at K and known to fewer orders, `short` in `hermite`) 2 — at most `len`.
#[inline(always)]
fn vector_terms<S: Simd>(
    simd: S,
    rho: S::f64s,
    floor: S::f64s,
    limits: &[f64],
    len: usize,
) -> usize {
    if limits.is_empty() {
        return len;
    }
    let top = simd.reduce_max_f64s(simd.max_f64s(simd.abs_f64s(rho), floor));
    // The limits are non-decreasing: their count below `top` is the partition point, counted
    // without the binary search's unpredictable branches.
    let t = limits.iter().filter(|&&l| l < top).count();
    ((t + 1) * LIMIT_STEP).min(len)
}

/// ρ = clamp(Σᵢⱼ/(sᵢsⱼ), −1, 1) of one lane vector.
#[inline(always)]
fn correlation<S: Simd>(simd: S, sig: S::f64s, inv_si: S::f64s, inv_sj: S::f64s) -> S::f64s {
    let rho = simd.mul_f64s(simd.mul_f64s(sig, inv_si), inv_sj);
    simd.min_f64s(
        simd.max_f64s(rho, simd.splat_f64s(-1.0)),
        simd.splat_f64s(1.0),
    )
}

/// SIMD lanes over j ≤ i: ρ = clamp(Σᵢⱼ/(sᵢsⱼ), −1, 1), C = ρ(c₁ᵢc₁ⱼ + ρ(c₂ᵢc₂ⱼ + …)), as four
/// interleaved Horner chains in ρ⁴; with `limits` (`hermite::vector_limits`) each vector takes
/// only the terms its largest |ρ| needs.
pub(super) struct SeriesLanes<'a> {
    pub out: &'a mut [f64],
    pub sig: &'a [f64],
    pub inv_s: &'a [f64],
    /// Per unit j (as `inv_s`): 0, or 2 where the vector must take all its terms
    /// ([`vector_terms`]).
    pub floor: &'a [f64],
    pub inv_si: f64,
    /// cₒ(i), padded with zeros to a multiple of 4 (≤ `terms`).
    pub ci: &'a [f64],
    /// Empty (every vector takes `ci.len()` terms) or `hermite::vector_limits` of the column.
    pub limits: &'a [f64],
    /// cₒ(j) at `lanes[(j / BLOCK)·terms·BLOCK + o·BLOCK + j % BLOCK]`, `terms` a multiple of 4.
    pub lanes: &'a [f64],
    pub terms: usize,
}

impl WithSimd for SeriesLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let len = self.out.len();
        let inv_si = simd.splat_f64s(self.inv_si);
        let mut j = 0;
        while j < len {
            let end = (j + S::F64_LANES).min(len);
            let sig = load(simd, &self.sig[j..end]);
            let inv_sj = load(simd, &self.inv_s[j..end]);
            let rho = correlation(simd, sig, inv_si, inv_sj);
            // Four Horner chains in ρ⁴ (orders o ≡ 0, 1, 2, 3 mod 4; the padded top orders are 0),
            // so the FMA latency does not serialise the K terms.
            let rho2 = simd.mul_f64s(rho, rho);
            let rho4 = simd.mul_f64s(rho2, rho2);
            let block = &self.lanes[(j / BLOCK) * self.terms * BLOCK + j % BLOCK..];
            let width = end - j;
            let term = |o: usize| {
                let cj = load(simd, &block[o * BLOCK..o * BLOCK + width]);
                simd.mul_f64s(simd.splat_f64s(self.ci[o]), cj)
            };
            let mut acc = [simd.splat_f64s(0.0); 4];
            let floor = load(simd, &self.floor[j..end]);
            let len = vector_terms(simd, rho, floor, self.limits, self.ci.len());
            for t in (0..len / 4).rev() {
                for (k, a) in acc.iter_mut().enumerate() {
                    *a = simd.mul_add_e_f64s(*a, rho4, term(4 * t + k));
                }
            }
            // ρ(S₀ + ρS₁ + ρ²(S₂ + ρS₃))
            let low = simd.mul_add_e_f64s(rho, acc[1], acc[0]);
            let high = simd.mul_add_e_f64s(rho, acc[3], acc[2]);
            let sum = simd.mul_add_e_f64s(rho2, high, low);
            store(simd, &mut self.out[j..end], simd.mul_f64s(sum, rho));
            j = end;
        }
    }
}

/// One column of a [`GroupLanes`] call.
pub(super) struct Column<'a> {
    /// Σ's column i (at least the group's `end` entries).
    pub sig: &'a [f64],
    pub inv_si: f64,
    /// cₒ(i), padded with zeros to a multiple of 4 (the column's terms, as in [`SeriesLanes`]).
    pub ci: &'a [f64],
    /// Empty or `hermite::vector_limits` of the column.
    pub limits: &'a [f64],
}

/// [`GROUP`] adjacent columns i₀..i₀+3 over the rows j < `end` (a multiple of [`BLOCK`]): each
/// load of the coefficient table (`lanes`, as in [`SeriesLanes`]) serves the four columns, so
/// that at large K (2 MiB at K = 256, beyond L2) the table is read from memory a quarter as
/// often (issue #14, item 3). Each column takes the same terms as in [`SeriesLanes`]
/// ([`vector_terms`]; a column joins the shared descent at its own top order), summed by two
/// Horner chains in ρ² per column (eight independent chains) instead of four in ρ⁴.
pub(super) struct GroupLanes<'a, 'b> {
    pub out: &'a mut [&'b mut [f64]],
    pub cols: &'a [Column<'a>; GROUP],
    pub inv_s: &'a [f64],
    /// As in [`SeriesLanes`].
    pub floor: &'a [f64],
    pub lanes: &'a [f64],
    pub terms: usize,
    pub end: usize,
}

impl WithSimd for GroupLanes<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let w = S::F64_LANES;
        let zero = simd.splat_f64s(0.0);
        let inv_si: [S::f64s; GROUP] =
            std::array::from_fn(|c| simd.splat_f64s(self.cols[c].inv_si));
        let mut j = 0;
        while j + w <= self.end {
            let inv_sj = load(simd, &self.inv_s[j..j + w]);
            let floor = load(simd, &self.floor[j..j + w]);
            let mut rho = [zero; GROUP];
            let mut rho2 = [zero; GROUP];
            let mut top = [0; GROUP];
            for (c, col) in self.cols.iter().enumerate() {
                let r = correlation(simd, load(simd, &col.sig[j..j + w]), inv_si[c], inv_sj);
                rho[c] = r;
                rho2[c] = simd.mul_f64s(r, r);
                top[c] = vector_terms(simd, r, floor, col.limits, col.ci.len()) / 2;
            }
            let need = 2 * top.iter().copied().max().unwrap_or(0);
            let block = &self.lanes[(j / BLOCK) * self.terms * BLOCK + j % BLOCK..];
            let ci: [&[[f64; 2]]; GROUP] =
                std::array::from_fn(|c| self.cols[c].ci[..2 * top[c]].as_chunks::<2>().0);
            let (mut even, mut odd) = ([zero; GROUP], [zero; GROUP]);
            for t in (0..need / 2).rev() {
                let at = 2 * t * BLOCK;
                let x0 = load(simd, &block[at..at + w]);
                let x1 = load(simd, &block[at + BLOCK..at + BLOCK + w]);
                for c in 0..GROUP {
                    if t >= top[c] {
                        continue;
                    }
                    let [a, b] = ci[c][t];
                    even[c] = simd.mul_add_e_f64s(
                        even[c],
                        rho2[c],
                        simd.mul_f64s(simd.splat_f64s(a), x0),
                    );
                    odd[c] =
                        simd.mul_add_e_f64s(odd[c], rho2[c], simd.mul_f64s(simd.splat_f64s(b), x1));
                }
            }
            for (c, out) in self.out.iter_mut().enumerate() {
                // ρ(S₀ + ρS₁)
                let sum = simd.mul_add_e_f64s(rho[c], odd[c], even[c]);
                store(simd, &mut out[j..j + w], simd.mul_f64s(sum, rho[c]));
            }
            j += w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::input::Isa;
    use super::*;

    /// xorshift values in (−1, 1).
    fn values(state: &mut u64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                (*state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    /// Four columns by [`GroupLanes`] against each column by [`SeriesLanes`] over the same rows,
    /// on every instruction set, with columns of different lengths, with and without
    /// per-vector limits: the same terms in another summation order (two chains in ρ² against
    /// four in ρ⁴), so they agree to a few ulps of the sum of the terms' magnitudes.
    #[test]
    fn grouped_columns_match_single_columns() {
        let (n, terms) = (40, 64);
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let lanes: Vec<f64> = values(&mut state, terms * n)
            .iter()
            .enumerate()
            .map(|(k, v)| v / (1.0 + ((k / BLOCK) % terms) as f64))
            .collect();
        let inv_s: Vec<f64> = values(&mut state, n).iter().map(|v| 1.5 + v).collect();
        let sig: Vec<Vec<f64>> = (0..GROUP).map(|_| values(&mut state, n)).collect();
        let ci: Vec<Vec<f64>> = [64, 12, 40, 0]
            .iter()
            .map(|&len| values(&mut state, len))
            .collect();
        // Column 0 stops early on small |ρ|, column 2 only from |ρ| ≥ 0.3.
        let limits: [Vec<f64>; GROUP] = [
            vec![0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0],
            Vec::new(),
            vec![0.3, 0.3, 0.3, 0.3, 1.0],
            Vec::new(),
        ];
        let end = 32;
        // Units 5 and 17 are not settled: their vectors take every term of the column.
        let floor: Vec<f64> = (0..n)
            .map(|j| if j == 5 || j == 17 { 2.0 } else { 0.0 })
            .collect();
        for isa in [Isa::Dispatch, Isa::Avx2, Isa::Scalar] {
            let mut got = vec![vec![0.0; end]; GROUP];
            let mut out: Vec<&mut [f64]> = got.iter_mut().map(Vec::as_mut_slice).collect();
            let cols: [Column; GROUP] = std::array::from_fn(|c| Column {
                sig: &sig[c],
                inv_si: 0.9,
                ci: &ci[c],
                limits: &limits[c],
            });
            isa.run(
                pulp::Arch::new(),
                GroupLanes {
                    out: &mut out,
                    cols: &cols,
                    inv_s: &inv_s,
                    floor: &floor,
                    lanes: &lanes,
                    terms,
                    end,
                },
            );
            for c in 0..GROUP {
                let single = |limits: &[f64]| {
                    let mut want = vec![0.0; end];
                    isa.run(
                        pulp::Arch::new(),
                        SeriesLanes {
                            out: &mut want,
                            sig: &sig[c][..end],
                            inv_s: &inv_s[..end],
                            floor: &floor[..end],
                            inv_si: 0.9,
                            ci: &ci[c],
                            limits,
                            lanes: &lanes,
                            terms,
                        },
                    );
                    want
                };
                let (want, full) = (single(&limits[c]), single(&[]));
                for j in 0..end {
                    let size: f64 = (0..ci[c].len())
                        .map(|o| {
                            (ci[c][o] * lanes[(j / BLOCK) * terms * BLOCK + o * BLOCK + j % BLOCK])
                                .abs()
                        })
                        .sum();
                    assert!(
                        (got[c][j] - want[j]).abs() <= 8.0 * f64::EPSILON * size,
                        "{isa:?} column {c}, row {j}: {} vs {}",
                        got[c][j],
                        want[j]
                    );
                    if floor[j] > 0.0 {
                        assert!(
                            (want[j] - full[j]).abs() <= 8.0 * f64::EPSILON * size,
                            "{isa:?} column {c}, unsettled row {j}: {} vs all terms {}",
                            want[j],
                            full[j]
                        );
                    }
                }
                if c == 3 {
                    assert!(got[c].iter().all(|&x| x == 0.0));
                }
            }
        }
    }
}
