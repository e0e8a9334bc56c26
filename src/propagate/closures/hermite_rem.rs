//! Parseval remainders of every unit of a layer for the series closure ([`super::hermite`]),
//! from its coefficient table with the units of one block in SIMD lanes.

use pulp::{Simd, WithSimd};

use super::input::Isa;
use crate::simd::{load, store};

/// Rⱼ(L) = Varⱼ − Σ_{n=1..L} cₙ(j)², floored at 0 and raised by 4ε·Varⱼ (`var`\[j\] = Varⱼ),
/// for L = 0..=`k` and every unit j, in the layout of the coefficient table: Rⱼ(L) at
/// `(j / block)·(k + 1)·block + L·block + j % block`. The values of
/// [`HermiteCoefficients::remainders`](super::hermite_coef::HermiteCoefficients::remainders)
/// bit for bit (the same operations in the same order,
/// each unit's running sum Σ cₙ² in its own lane), but one SIMD step per block of units and
/// order instead of one serial add chain per unit (at K = 256 and N = 1024 those chains took
/// ~0.9 of a series closure's ~14 ms on one thread). `table` holds cₒ(j) at
/// `(j / block)·terms·block + o·block + j % block` (`block` a multiple of every lane count).
pub(super) fn remainders(
    var: &[f64],
    table: &[f64],
    terms: usize,
    block: usize,
    k: usize,
) -> Vec<f64> {
    let mut rem = vec![0.0; var.len().div_ceil(block) * block * (k + 1)];
    let arch = pulp::Arch::new();
    // The blocks in order on the calling thread: O(N·K) steps, which rayon's splitting and a
    // vector per task outweighed at N = 64 (BENCHMARKS.md "… fourteenth session (gelu4)").
    let mut padded = vec![0.0; block];
    for ((rows, units), table) in rem
        .chunks_mut(block * (k + 1))
        .zip(var.chunks(block))
        .zip(table.chunks(terms * block))
    {
        padded[..units.len()].copy_from_slice(units);
        padded[units.len()..].fill(0.0);
        Isa::Dispatch.run(
            arch,
            RemainderLanes {
                table,
                var: &padded,
                rows,
                k,
                block,
            },
        )
    }
    rem
}

/// r*(L) = max over the units j with `include[j]` of Rⱼ(L)/Varⱼ (`var`\[j\] = Varⱼ),
/// L = 0..=`k` (0 if none), from [`remainders`]' layout; each quotient is the scalar one (an
/// excluded lane divides 0 by 1). The blocks in order on the calling thread, as [`remainders`].
pub(super) fn worst_ratio(
    rem: &[f64],
    var: &[f64],
    include: &[bool],
    block: usize,
    k: usize,
) -> Vec<f64> {
    let arch = pulp::Arch::new();
    let mut worst = vec![0.0; k + 1];
    let (mut keep, mut scale) = (vec![0.0; block], vec![1.0; block]);
    for (rows, (units, include)) in rem
        .chunks(block * (k + 1))
        .zip(var.chunks(block).zip(include.chunks(block)))
    {
        keep.fill(0.0);
        scale.fill(1.0);
        for (u, (&v, &inc)) in units.iter().zip(include).enumerate() {
            if inc {
                (keep[u], scale[u]) = (1.0, v);
            }
        }
        Isa::Dispatch.run(
            arch,
            WorstLanes {
                rows,
                keep: &keep,
                var: &scale,
                worst: &mut worst,
                block,
            },
        );
    }
    worst
}

/// [`remainders`] of one block: lanes over its units, orders in sequence.
struct RemainderLanes<'a> {
    table: &'a [f64],
    /// Varⱼ of the block's units, padded with zeros to `block`.
    var: &'a [f64],
    /// The block's rows: Rⱼ(L) at `L·block + j % block`.
    rows: &'a mut [f64],
    k: usize,
    block: usize,
}

impl WithSimd for RemainderLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (lanes, block) = (S::F64_LANES, self.block);
        let zero = simd.splat_f64s(0.0);
        let eps4 = simd.splat_f64s(4.0 * f64::EPSILON);
        for g in (0..block).step_by(lanes) {
            let var = load(simd, &self.var[g..g + lanes]);
            let floor = simd.mul_f64s(eps4, var);
            let mut head = zero;
            store(
                simd,
                &mut self.rows[g..g + lanes],
                simd.add_f64s(var, floor),
            );
            for o in 0..self.k {
                let at = o * block + g;
                let c = load(simd, &self.table[at..at + lanes]);
                head = simd.add_f64s(head, simd.mul_f64s(c, c));
                let r = simd.max_f64s(simd.sub_f64s(var, head), zero);
                let at = (o + 1) * block + g;
                store(
                    simd,
                    &mut self.rows[at..at + lanes],
                    simd.add_f64s(r, floor),
                );
            }
        }
    }
}

/// [`worst_ratio`] of one block: `worst`\[L\] raised to the block's largest kept Rⱼ(L)/Varⱼ.
struct WorstLanes<'a> {
    rows: &'a [f64],
    /// 1 for a kept unit, 0 for another (or padding).
    keep: &'a [f64],
    /// Varⱼ of a kept unit, 1 for another.
    var: &'a [f64],
    worst: &'a mut [f64],
    block: usize,
}

impl WithSimd for WorstLanes<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (lanes, block) = (S::F64_LANES, self.block);
        for (l, w) in self.worst.iter_mut().enumerate() {
            let mut top = simd.splat_f64s(0.0);
            for g in (0..block).step_by(lanes) {
                let at = l * block + g;
                let r = simd.mul_f64s(
                    load(simd, &self.rows[at..at + lanes]),
                    load(simd, &self.keep[g..g + lanes]),
                );
                top = simd.max_f64s(top, simd.div_f64s(r, load(simd, &self.var[g..g + lanes])));
            }
            *w = w.max(simd.reduce_max_f64s(top));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::closures::hermite_coef::HermiteCoefficients;

    /// Equal bit for bit to each unit's own [`HermiteCoefficients::remainders`], for a partial
    /// last block and K not a multiple of the lanes; the block kernel likewise on every
    /// instruction set.
    #[test]
    fn remainders_match_each_unit_bit_for_bit() {
        let (block, k): (usize, usize) = (8, 37);
        let terms = k.next_multiple_of(4);
        let coef: Vec<HermiteCoefficients> = (0..13)
            .map(|j| {
                HermiteCoefficients::new(
                    Activation::Tanh,
                    0.3 * j as f64 - 1.0,
                    0.2 + 0.4 * j as f64,
                    k,
                )
            })
            .collect();
        let mut table = vec![0.0; terms * coef.len().div_ceil(block) * block];
        for (j, c) in coef.iter().enumerate() {
            for (o, x) in c.c.iter().enumerate() {
                table[(j / block) * terms * block + o * block + j % block] = *x;
            }
        }
        let var: Vec<f64> = coef.iter().map(|u| u.var).collect();
        let got = remainders(&var, &table, terms, block, k);
        let at = |j: usize, l: usize| got[(j / block) * (k + 1) * block + l * block + j % block];
        for (j, c) in coef.iter().enumerate() {
            let want = c.remainders();
            for (l, w) in want.iter().enumerate() {
                assert_eq!(at(j, l).to_bits(), w.to_bits(), "unit {j}, L = {l}");
            }
        }
        let include: Vec<bool> = (0..coef.len()).map(|j| j % 3 != 1).collect();
        let worst = worst_ratio(&got, &var, &include, block, k);
        for (l, w) in worst.iter().enumerate() {
            let want = (0..coef.len())
                .filter(|&j| include[j])
                .fold(0.0f64, |a, j| a.max(at(j, l) / coef[j].var));
            assert_eq!(w.to_bits(), want.to_bits(), "r*({l})");
        }
        for isa in [Isa::Dispatch, Isa::Avx2, Isa::Scalar] {
            let mut rows = vec![0.0; block * (k + 1)];
            isa.run(
                pulp::Arch::new(),
                RemainderLanes {
                    table: &table[..terms * block],
                    var: &var[..block],
                    rows: &mut rows,
                    k,
                    block,
                },
            );
            assert_eq!(rows, got[..block * (k + 1)], "{isa:?}");
        }
    }
}
