//! The SIMD lane machinery of the Φ₂-based closures (relu, erf): Plackett's integral on lanes,
//! the tetrachoric and Mehler series with their term counts, and the Hermite tables they read.
//! The scalar Φ, φ and Φ₂ are in [`crate::special`].

use std::sync::OnceLock;

use crate::simd::{dispatch, load, store};

const TWO_PI: f64 = 2.0 * std::f64::consts::PI;

/// Plackett's term of [`crate::special::bvn`] on SIMD lanes: ∫₀^ρ φ₂(h, k; t) dt =
/// (1/2π) ∫₀^{asin ρ} exp((hk sin θ − (h² + k²)/2)/cos²θ) dθ by the Gauss–Legendre rule
/// `(x, w)` (positive nodes of [`genz_rule`](crate::special::bvn::genz_rule)), from `hk` = h·k, `hs` = (h² + k²)/2 and ρ per lane.
/// Valid for |ρ| < 0.925 (sin and asin run without range reduction); ρ = 0 gives 0.
#[inline(always)]
pub(crate) fn plackett_lanes<S: pulp::Simd>(
    simd: S,
    hk: S::f64s,
    hs: S::f64s,
    rho: S::f64s,
    (x, w): (&[f64], &[f64]),
) -> S::f64s {
    use crate::simd::{asin, exp, sin_small};
    let one = simd.splat_f64s(1.0);
    let asr = simd.mul_f64s(simd.splat_f64s(0.5), asin(simd, rho));
    let mut sum = simd.splat_f64s(0.0);
    for (&xi, &wi) in x.iter().zip(w) {
        let mut pair = simd.splat_f64s(0.0);
        for t in [1.0 - xi, 1.0 + xi] {
            let sn = sin_small(simd, simd.mul_f64s(asr, simd.splat_f64s(t)));
            let num = simd.mul_add_f64s(sn, hk, simd.neg_f64s(hs));
            let den = simd.negate_mul_add_f64s(sn, sn, one);
            pair = simd.add_f64s(pair, exp(simd, simd.div_f64s(num, den)));
        }
        sum = simd.mul_add_f64s(simd.splat_f64s(wi), pair, sum);
    }
    simd.mul_f64s(sum, simd.mul_f64s(asr, simd.splat_f64s(1.0 / TWO_PI)))
}

/// Largest |ρ| (exclusive) for which [`tetrachoric_lanes`] replaces the Gauss–Legendre sum.
/// At |ρ| → 0.75 the series takes [`SERIES_TERMS`] = 120 terms of two flops each, still several
/// times cheaper than the 12- or 20-point Gauss–Legendre sum (24–40 vector exp, sin and
/// divisions); trained layers have most of their strong pairs in 0.5 ≤ |ρ| < 0.75.
pub(crate) const SERIES_MAX_RHO: f64 = 0.75;

/// Bound on the absolute truncation error of [`tetrachoric_lanes`] (after the factor
/// φ(h)φ(k)): below a twentieth of an ulp of 1, and ≤ 2e-16 after relu's factor ab + ρ
/// (|a|, |b| ≤ 4).
pub(crate) const SERIES_REMAINDER: f64 = 1e-17;

/// Cramér's remainder bound of [`tetrachoric_lanes`] after `terms` terms at |ρ| = `r`:
/// 0.19 r^{terms+1}/((terms+1)(1−r)) (the factor e^{−(h²+k²)/4} ≤ 1 dropped).
pub(crate) fn series_remainder(r: f64, terms: usize) -> f64 {
    0.19 * r.powi(terms as i32 + 1) / ((terms + 1) as f64 * (1.0 - r))
}

/// Cramér's remainder bound of relu's Mehler series (`relu::ReluLanes`) after `terms` terms at
/// |ρ| = `r`, relative to sᵢsⱼ: its terms are the tetrachoric ones times ρ/(m+2), so
/// 0.19 r^{terms+2}/((terms+1)(terms+2)(1−r)).
pub(crate) fn mehler_remainder(r: f64, terms: usize) -> f64 {
    series_remainder(r, terms) * r / (terms + 2) as f64
}

/// For each count of 4c terms (c = 1, 2, …), the largest |ρ| whose `remainder` after 4c terms
/// is at most [`SERIES_REMAINDER`], by bisection.
fn term_limits(remainder: fn(f64, usize) -> f64) -> [f64; SERIES_TERMS / 4] {
    std::array::from_fn(|c| {
        let (mut lo, mut hi) = (0.0f64, 1.0f64);
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if remainder(mid, 4 * (c + 1)) <= SERIES_REMAINDER {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        lo
    })
}

/// Buckets of |ρ| ∈ [0, 1) in a [`TermTable`], each 1/256 wide: narrower than the gap between
/// any two consecutive [`term_limits`] (≥ 0.006 on [0, 1), checked when a table is built and
/// in the tests), so that a bucket holds at most one.
const BUCKETS: usize = 256;

/// The count lookup of [`terms_from`] by bucket instead of a binary search (whose five
/// dependent compare-and-select steps per lane vector stalled relu's series: BENCHMARKS.md
/// "… fourteenth session (relu3)"): for bucket b = ⌊256|ρ|⌋, the number of limits below
/// b/256 and the one limit in [b/256, (b+1)/256) (+∞ where there is none).
struct TermTable {
    below: [usize; BUCKETS],
    limit: [f64; BUCKETS],
}

impl TermTable {
    /// The table of `limits` (increasing). Panics if a bucket holds two limits, which the
    /// remainder bounds of this module do not give (a fault of the constants, not of input).
    fn new(limits: &[f64; SERIES_TERMS / 4]) -> Self {
        let edge = |b: usize| b as f64 / BUCKETS as f64;
        let mut table = TermTable {
            below: [0; BUCKETS],
            limit: [f64::INFINITY; BUCKETS],
        };
        for b in 0..BUCKETS {
            table.below[b] = limits.iter().filter(|&&l| l < edge(b)).count();
            let mut inside = limits.iter().filter(|&&l| l >= edge(b) && l < edge(b + 1));
            if let Some(&l) = inside.next() {
                table.limit[b] = l;
            }
            assert!(inside.next().is_none(), "two term limits in bucket {b}");
        }
        table
    }

    /// The number of limits below `abs_rho` (`limits.partition_point(|l| l < abs_rho)`):
    /// those below the bucket's lower edge (≤ |ρ|), and its own limit if below |ρ|; every
    /// limit is below 1, so |ρ| ≥ 1 (and +∞) counts all of them in the last bucket, NaN none
    /// in the first.
    #[inline(always)]
    fn count_below(&self, abs_rho: f64) -> usize {
        let b = ((abs_rho * BUCKETS as f64) as usize).min(BUCKETS - 1);
        self.below[b] + usize::from(self.limit[b] < abs_rho)
    }
}

/// The smallest count 4c in the limits of `table` ([`term_limits`]) that serves `abs_rho`, at
/// most [`SERIES_TERMS`].
#[inline(always)]
fn terms_from(table: &TermTable, abs_rho: f64) -> usize {
    4 * (table.count_below(abs_rho) + 1).min(SERIES_TERMS / 4)
}

/// Number of series terms for lanes with |ρ| ≤ `abs_rho` (< [`SERIES_MAX_RHO`]): the smallest
/// multiple of 4 (the chain count of [`tetrachoric_lanes`]) whose [`series_remainder`] is at
/// most [`SERIES_REMAINDER`], looked up in a table of the largest |ρ| each count serves (found
/// once by bisection, [`TermTable`]); at most [`SERIES_TERMS`].
pub(crate) fn series_terms(abs_rho: f64) -> usize {
    static TABLE: OnceLock<TermTable> = OnceLock::new();
    terms_from(
        TABLE.get_or_init(|| TermTable::new(&term_limits(series_remainder))),
        abs_rho,
    )
}

/// [`series_terms`] for relu's Mehler series, by [`mehler_remainder`] (104 terms at
/// |ρ| → 0.75 instead of 120).
pub(crate) fn mehler_terms(abs_rho: f64) -> usize {
    static TABLE: OnceLock<TermTable> = OnceLock::new();
    terms_from(
        TABLE.get_or_init(|| TermTable::new(&term_limits(mehler_remainder))),
        abs_rho,
    )
}

/// Terms needed at |ρ| → [`SERIES_MAX_RHO`] = 0.75: the smallest multiple of 4 with
/// [`series_remainder`](0.75, n) ≤ [`SERIES_REMAINDER`] (checked in the tests).
pub(crate) const SERIES_TERMS: usize = 120;

/// Units per block of the [`hermite_table`] layout; every pulp lane count (1, 2, 4, 8) divides it.
pub(crate) const HERM_BLOCK: usize = 8;

/// Index of ĥₘ(xⱼ) in the [`hermite_table`] layout.
#[inline(always)]
pub(crate) fn herm_index(j: usize, m: usize) -> usize {
    ((j / HERM_BLOCK) * SERIES_TERMS + m) * HERM_BLOCK + j % HERM_BLOCK
}

/// Normalised Hermite values ĥₘ(x) = Heₘ(x)/√m! for m < `terms` (at most [`SERIES_TERMS`]; the
/// entries m ≥ `terms` are 0: a caller whose series never take more terms does not pay for
/// them), in blocks of [`HERM_BLOCK`] units, term-major within a block ([`herm_index`]): the
/// series of one vector of lanes j..j+L (L | 8, j a multiple of L) reads one contiguous stretch
/// of memory. By the stable recurrence ĥₘ₊₁ = (x ĥₘ − √m ĥₘ₋₁)/√(m+1), ĥ₀ = 1, ĥ₁ = x;
/// padding units are 0.
pub(crate) fn hermite_table(x: &[f64], terms: usize) -> Vec<f64> {
    let mut table = vec![0.0; x.len().div_ceil(HERM_BLOCK) * HERM_BLOCK * SERIES_TERMS];
    hermite_table_into(x, terms, &mut table);
    table
}

/// [`hermite_table`] into a reused buffer `table` (resized to the layout's length): rows
/// m < max(`terms`, 1) are written in full, padding lanes 0, with the same bits; the rows from
/// `terms` on keep whatever `table` held (for a caller that never reads them, so that a reused
/// table is neither zeroed nor reallocated per layer).
pub(crate) fn hermite_table_into(x: &[f64], terms: usize, table: &mut Vec<f64>) {
    let blocks = x.len().div_ceil(HERM_BLOCK);
    table.resize(blocks * HERM_BLOCK * SERIES_TERMS, 0.0);
    let terms = terms.min(SERIES_TERMS);
    for (block, units) in x.chunks(HERM_BLOCK).enumerate() {
        let row0 = &mut table[herm_index(block * HERM_BLOCK, 0)..][..HERM_BLOCK];
        row0.fill(0.0);
        row0[..units.len()].fill(1.0);
        if terms > 1 {
            let row1 = &mut table[herm_index(block * HERM_BLOCK, 1)..][..HERM_BLOCK];
            row1.fill(0.0);
            row1[..units.len()].copy_from_slice(units);
        }
    }
    dispatch(HermiteLanes {
        table,
        blocks,
        terms,
    });
}

/// The recurrence of [`hermite_table`] from ĥ₂ on, in place in the table (whose rows 0 and 1
/// hold ĥ₀ and ĥ₁ = x, padding lanes 0): ĥₘ₊₁ = x·aₘ·ĥₘ − bₘ·ĥₘ₋₁ with aₘ = 1/√(m+1),
/// bₘ = √m/√(m+1), in that order of roundings (no fused multiply-add), a block's units side by
/// side on SIMD lanes (independent chains; a unit's own chain is serial), every block's step m
/// before any block's step m + 1 (the blocks' chains overlap instead of waiting on one
/// another's latency); padding lanes stay 0 (ĥ₀ = ĥ₁ = 0 there).
struct HermiteLanes<'a> {
    table: &'a mut [f64],
    blocks: usize,
    terms: usize,
}

impl pulp::WithSimd for HermiteLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        for m in 1..self.terms.saturating_sub(1) {
            let a = simd.splat_f64s(1.0 / ((m + 1) as f64).sqrt());
            let b = simd.splat_f64s((m as f64).sqrt() / ((m + 1) as f64).sqrt());
            for block in 0..self.blocks {
                let row = |k: usize| herm_index(block * HERM_BLOCK, k);
                let (done, next) = self.table.split_at_mut(row(m + 1));
                let x = S::as_simd_f64s(&done[row(1)..][..HERM_BLOCK]).0;
                let prev = S::as_simd_f64s(&done[row(m - 1)..][..HERM_BLOCK]).0;
                let cur = S::as_simd_f64s(&done[row(m)..][..HERM_BLOCK]).0;
                let next = S::as_mut_simd_f64s(&mut next[..HERM_BLOCK]).0;
                for (l, next) in next.iter_mut().enumerate() {
                    let ax = simd.mul_f64s(x[l], a);
                    *next = simd.sub_f64s(simd.mul_f64s(ax, cur[l]), simd.mul_f64s(b, prev[l]));
                }
            }
        }
    }
}

/// The per-column factors of [`tetrachoric_lanes`]: ĥₘ(xᵢ)/(m+1) for m < [`SERIES_TERMS`].
pub(crate) fn series_column(table: &[f64], i: usize) -> [f64; SERIES_TERMS] {
    std::array::from_fn(|m| table[herm_index(i, m)] / (m + 1) as f64)
}

/// ∫₀^ρ φ₂(h, k; t) dt / (φ(h)φ(k)) = (Φ₂(h, k; ρ) − Φ(h)Φ(k)) / (φ(h)φ(k)) on SIMD lanes
/// (h fixed, k per lane; the caller multiplies by φ(h)φ(k)) by the tetrachoric series
/// (Mehler's expansion of φ₂ integrated in ρ):
///
/// ```text
/// φ(h)φ(k) Σ_{n≥1} ρⁿ/n! Heₙ₋₁(h)Heₙ₋₁(k) = φ(h)φ(k) ρ Σ_{m≥0} ρᵐ [ĥₘ(h)/(m+1)] ĥₘ(k),
/// ```
///
/// from the factors ĥₘ(h)/(m+1) ([`series_column`]), the m-th at `column[m·STRIDE]` (relu reads
/// its factors in place in a table of the [`hermite_table`] layout, STRIDE = [`HERM_BLOCK`]),
/// and the ĥₘ(k) of the lanes `lanes` (at most
/// the lane count L, starting at a multiple of L, within one [`HERM_BLOCK`]) in `table`
/// ([`hermite_table`]). A partial vector (the last of a column) reads its whole L-lane stretch
/// of the table, which the padded blocks always hold: each lane's sum is its own (the lanes
/// never mix), so the lanes beyond `lanes` are computed and left to the caller to drop, instead
/// of a masked load per term.
/// The sum over m runs as four independent Horner chains in ρ⁴ (m ≡ 0, 1, 2, 3 mod 4,
/// Σ = S₀ + ρS₁ + ρ²S₂ + ρ³S₃), so that the FMA latency does not serialise the terms; it takes
/// at least `terms` terms (rounded up to a multiple of 4). Cramér's inequality
/// |ĥₘ(x)| ≤ 1.09 e^{x²/4} bounds the remainder after `terms` terms by
/// 0.19 |ρ|^{terms+1}/((terms+1)(1−|ρ|)) · e^{−(h²+k²)/4} (absolute, after the factor
/// φ(h)φ(k); [`series_remainder`]). One load, one multiplication and one FMA per term.
#[inline(always)]
pub(crate) fn tetrachoric_lanes<S: pulp::Simd, const STRIDE: usize>(
    simd: S,
    rho: S::f64s,
    column: &[f64],
    table: &[f64],
    lanes: std::ops::Range<usize>,
    terms: usize,
) -> S::f64s {
    let zero = simd.splat_f64s(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    let rho2 = simd.mul_f64s(rho, rho);
    let rho4 = simd.mul_f64s(rho2, rho2);
    debug_assert!(lanes.len() <= S::F64_LANES && lanes.start.is_multiple_of(S::F64_LANES));
    let base = herm_index(lanes.start, 0);
    let chains = terms.div_ceil(4);
    // Every factor read, m < 4·chains, lies in `column`: checked once here, not per term (the
    // compiler kept a bounds check per strided read).
    assert!(chains == 0 || column.len() > (4 * chains - 1) * STRIDE);
    // SAFETY: m < 4·chains at every call below, so m·STRIDE < column.len() by the assertion.
    let factor = |m: usize| unsafe { *column.get_unchecked(m * STRIDE) };
    let c = |m: usize| simd.splat_f64s(factor(m));
    if S::F64_LANES == HERM_BLOCK {
        // A vector is one whole block: its terms are consecutive vectors (no per-term bounds
        // check or partial load).
        let block = S::as_simd_f64s(&table[base..base + 4 * chains * HERM_BLOCK]).0;
        for (t, h) in block.chunks_exact(4).enumerate().rev() {
            let c = |k: usize| c(4 * t + k);
            s0 = simd.mul_add_f64s(s0, rho4, simd.mul_f64s(c(0), h[0]));
            s1 = simd.mul_add_f64s(s1, rho4, simd.mul_f64s(c(1), h[1]));
            s2 = simd.mul_add_f64s(s2, rho4, simd.mul_f64s(c(2), h[2]));
            s3 = simd.mul_add_f64s(s3, rho4, simd.mul_f64s(c(3), h[3]));
        }
    } else {
        let h = |m: usize| {
            let at = base + m * HERM_BLOCK;
            load(simd, &table[at..at + S::F64_LANES])
        };
        for t in (0..chains).rev() {
            let m = 4 * t;
            s0 = simd.mul_add_f64s(s0, rho4, simd.mul_f64s(c(m), h(m)));
            s1 = simd.mul_add_f64s(s1, rho4, simd.mul_f64s(c(m + 1), h(m + 1)));
            s2 = simd.mul_add_f64s(s2, rho4, simd.mul_f64s(c(m + 2), h(m + 2)));
            s3 = simd.mul_add_f64s(s3, rho4, simd.mul_f64s(c(m + 3), h(m + 3)));
        }
    }
    // S₀ + ρS₁ + ρ²(S₂ + ρS₃)
    let low = simd.mul_add_f64s(rho, s1, s0);
    let high = simd.mul_add_f64s(rho, s3, s2);
    simd.mul_f64s(rho, simd.mul_add_f64s(rho2, high, low))
}

/// The series terms a vector of lanes takes: `terms`(largest |ρ| of the lanes), i.e.
/// [`series_terms`], or [`mehler_terms`] for relu's column factors.
#[inline(always)]
pub(crate) fn lane_terms<S: pulp::Simd>(simd: S, rho: S::f64s, terms: fn(f64) -> usize) -> usize {
    terms(simd.reduce_max_f64s(simd.abs_f64s(rho)))
}

/// Φ₂(h, k; ρ) − Φ(h)Φ(k) on lanes by [`tetrachoric_lanes`] with `terms` terms (at least
/// [`lane_terms`] of the lanes), given `pdf_hk` = φ(h)φ(k): φ(h)φ(k)·series, and 0 where
/// φ(h)φ(k) = 0 (|h| or |k| ≳ 38, where the Hermite values may have overflowed). Lanes must
/// have |ρ| < [`SERIES_MAX_RHO`].
#[inline(always)]
pub(crate) fn series_plackett<S: pulp::Simd, const STRIDE: usize>(
    simd: S,
    rho: S::f64s,
    pdf_hk: S::f64s,
    (column, terms): (&[f64], usize),
    table: &[f64],
    lanes: std::ops::Range<usize>,
) -> S::f64s {
    let series = tetrachoric_lanes::<S, STRIDE>(simd, rho, column, table, lanes, terms);
    let zero = simd.splat_f64s(0.0);
    simd.select_f64s(
        simd.greater_than_f64s(pdf_hk, zero),
        simd.mul_f64s(pdf_hk, series),
        zero,
    )
}

/// Lane capacity of the gather buffers and lane flags of the closures: the widest pulp vector
/// (AVX-512: 8 f64) fits with room to spare.
pub(crate) const MAX_LANES: usize = 16;

/// Lanes of one column queued for a gathered Gauss–Legendre path of the relu and erf lanes:
/// their indices and correlations, gathered into full vectors by the caller's flush.
pub(crate) struct LaneQueue {
    pub idx: [usize; MAX_LANES],
    pub r: [f64; MAX_LANES],
    pub len: usize,
}

impl LaneQueue {
    /// An empty queue.
    pub(crate) fn new() -> Self {
        LaneQueue {
            idx: [0; MAX_LANES],
            r: [0.0; MAX_LANES],
            len: 0,
        }
    }

    /// Queues lane `k` with correlation `r`; whether the queue now holds `lanes` lanes (a full
    /// vector, to flush). At most [`MAX_LANES`] lanes are queued between flushes.
    #[inline(always)]
    pub(crate) fn push(&mut self, k: usize, r: f64, lanes: usize) -> bool {
        (self.idx[self.len], self.r[self.len]) = (k, r);
        self.len += 1;
        self.len == lanes
    }
}

/// The indices j..end of the lanes where `ok` is false, or `None` when every lane is ok.
#[inline(always)]
pub(crate) fn failing_lanes<S: pulp::Simd>(
    simd: S,
    ok: S::m64s,
    lanes: std::ops::Range<usize>,
) -> Option<impl Iterator<Item = usize>> {
    let zero = simd.splat_f64s(0.0);
    let rest = simd.select_f64s(ok, zero, simd.splat_f64s(1.0));
    if simd.reduce_max_f64s(rest) == 0.0 {
        return None;
    }
    let mut flags = [0.0; MAX_LANES];
    store(simd, &mut flags[..lanes.len()], rest);
    Some(lanes.zip(flags).filter(|(_, f)| *f != 0.0).map(|(k, _)| k))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table holds each unit's three-term recurrence ĥₘ₊₁ = (x ĥₘ − √m ĥₘ₋₁)/√(m+1)
    /// evaluated one unit at a time, bit for bit, and zeros in the padding lanes.
    #[test]
    fn hermite_table_is_the_scalar_recurrence() {
        let x: Vec<f64> = (0..13).map(|j| -3.1 + 0.53 * j as f64).collect();
        let table = hermite_table(&x, SERIES_TERMS);
        assert_eq!(table.len(), 16 * SERIES_TERMS);
        for (j, &xj) in x.iter().enumerate() {
            let (mut prev, mut cur) = (1.0, xj);
            assert_eq!(table[herm_index(j, 0)], 1.0);
            for m in 1..SERIES_TERMS {
                assert_eq!(table[herm_index(j, m)].to_bits(), cur.to_bits(), "{j} {m}");
                let a = 1.0 / ((m + 1) as f64).sqrt();
                let b = (m as f64).sqrt() / ((m + 1) as f64).sqrt();
                (prev, cur) = (cur, xj * a * cur - b * prev);
            }
        }
        for j in x.len()..16 {
            assert!((0..SERIES_TERMS).all(|m| table[herm_index(j, m)] == 0.0));
        }
    }

    /// A reused buffer (stale NaN everywhere, and a longer previous layer's length) receives
    /// the fresh table's rows below `terms`, padding zeros included, bit for bit.
    #[test]
    fn reused_hermite_table_matches_the_fresh_one_below_its_terms() {
        let x: Vec<f64> = (0..21).map(|j| -5.3 + 0.49 * j as f64).collect();
        for terms in [0, 1, 2, 37, 104, SERIES_TERMS] {
            let fresh = hermite_table(&x, terms);
            let mut reused = vec![f64::NAN; 5 * HERM_BLOCK * SERIES_TERMS];
            hermite_table_into(&x, terms, &mut reused);
            assert_eq!(reused.len(), fresh.len());
            for j in 0..24 {
                for m in 0..terms.max(1) {
                    let (got, want) = (reused[herm_index(j, m)], fresh[herm_index(j, m)]);
                    assert_eq!(got.to_bits(), want.to_bits(), "{terms} {j} {m}");
                }
            }
        }
    }

    /// A table cut at `terms` holds the full table's values below it, bit for bit (the
    /// blocks' recurrences are the same whatever the count), and zeros from it on.
    #[test]
    fn truncated_hermite_table_is_the_full_one_below_its_terms() {
        let x: Vec<f64> = (0..21).map(|j| -5.3 + 0.49 * j as f64).collect();
        let full = hermite_table(&x, SERIES_TERMS);
        for terms in [0, 1, 2, 37, 104] {
            let cut = hermite_table(&x, terms);
            for j in 0..24 {
                for m in 0..SERIES_TERMS {
                    let want = if m < terms.max(1) {
                        full[herm_index(j, m)]
                    } else {
                        0.0
                    };
                    assert_eq!(
                        cut[herm_index(j, m)].to_bits(),
                        want.to_bits(),
                        "{terms} {j} {m}"
                    );
                }
            }
        }
    }

    /// The bucket lookup gives the binary search's count (`partition_point`) for every |ρ|
    /// on a fine grid, at each limit and its neighbouring floats, at the bucket edges, and
    /// for 1, +∞, NaN; for both remainder bounds.
    #[test]
    fn bucket_lookup_is_the_binary_search() {
        for remainder in [series_remainder as fn(f64, usize) -> f64, mehler_remainder] {
            let limits = term_limits(remainder);
            let table = TermTable::new(&limits);
            let mut probes: Vec<f64> = (0..=20_000).map(|k| k as f64 * 5e-5).collect();
            for &l in &limits {
                probes.extend([l.next_down(), l, l.next_up()]);
            }
            for b in 0..=BUCKETS {
                let e = b as f64 / BUCKETS as f64;
                probes.extend([e.next_down(), e, e.next_up()]);
            }
            probes.extend([f64::INFINITY, f64::NAN, 1e300, 0.0]);
            for r in probes {
                let want = limits.partition_point(|&l| l < r);
                assert_eq!(table.count_below(r), want, "|ρ| = {r:e}");
            }
        }
    }

    /// The term counts (tetrachoric and relu's Mehler series) keep Cramér's bound below
    /// [`SERIES_REMAINDER`] on the whole series range, each the smallest multiple of 4 that does,
    /// and [`SERIES_TERMS`] is the smallest count that does so at |ρ| → 0.75.
    #[test]
    fn series_terms_meet_the_remainder_bound() {
        for k in 0..=7500 {
            let r = (k as f64 * 1e-4).min(SERIES_MAX_RHO - 1e-12);
            let n = series_terms(r);
            assert!(
                n.is_multiple_of(4) && n <= SERIES_TERMS,
                "|ρ| = {r}: {n} terms"
            );
            assert!(
                series_remainder(r, n) <= SERIES_REMAINDER,
                "|ρ| = {r}: {n} terms"
            );
            assert!(n == 4 || series_remainder(r, n - 4) > SERIES_REMAINDER || r == 0.0);
        }
        for k in 0..=7500 {
            let r = (k as f64 * 1e-4).min(SERIES_MAX_RHO - 1e-12);
            let n = mehler_terms(r);
            assert!(n <= series_terms(r) && mehler_remainder(r, n) <= SERIES_REMAINDER);
            assert!(n == 4 || mehler_remainder(r, n - 4) > SERIES_REMAINDER || r == 0.0);
        }
        assert_eq!(mehler_terms(SERIES_MAX_RHO - 1e-12), 104);
        assert!(series_remainder(SERIES_MAX_RHO, SERIES_TERMS) <= SERIES_REMAINDER);
        assert!(series_remainder(SERIES_MAX_RHO, SERIES_TERMS - 4) > SERIES_REMAINDER);
    }
}
