//! The series closure's coefficient table ([`super::hermite`]): every unit's c₁..c_K in blocks of
//! [`BLOCK`] units, order-major inside a block, with the units' means, variances and known orders.

use rayon::prelude::*;

use super::gelu_coef;
use super::hermite_coef::{HermiteCoefficients, UnitStats};
use super::series_lanes::BLOCK;
use crate::net::Activation;

// GELU's groups write their blocks in place (`HermiteCoefficients::gelu_table`).
const _: () = assert!(gelu_coef::GROUP == BLOCK);

/// cₒ₊₁(j) at `lanes[(j / BLOCK)·terms·BLOCK + o·BLOCK + j % BLOCK]`, o < K, zero for K ≤ o <
/// `terms` (K padded to a multiple of the 4 Horner chains of `series_lanes`) and for the padding
/// units of the last block, so that the K coefficients of the lanes j..j+8 are one contiguous
/// stretch.
pub(super) struct CoefficientTable {
    pub(super) lanes: Vec<f64>,
    pub(super) terms: usize,
    pub(super) stats: Vec<UnitStats>,
}

impl CoefficientTable {
    /// The table of [`HermiteCoefficients::for_units`] at K = `order` ≥ 1: GELU's written in
    /// place by its closed form (`HermiteCoefficients::gelu_table`, no vector per unit), the
    /// other activations' copied from their vectors — those computed already to a depth ≥ K
    /// (`earlier`, by unit: the probes of `hermite::probed_terms`) where they are the same bits
    /// (`HermiteCoefficients::reused`), else computed.
    pub(super) fn new(
        act: Activation,
        mu: &[f64],
        s: &[f64],
        order: usize,
        earlier: &[Option<HermiteCoefficients>],
    ) -> Self {
        let terms = order.next_multiple_of(4);
        assert!(terms > 0, "the series takes at least one term");
        let mut lanes = vec![0.0; terms * mu.len().div_ceil(BLOCK) * BLOCK];
        let stats = if act == Activation::Gelu {
            HermiteCoefficients::gelu_table(mu, s, order, terms, &mut lanes)
        } else {
            let coef = HermiteCoefficients::reused(act, mu, s, order, earlier)
                .unwrap_or_else(|| HermiteCoefficients::for_units(act, mu, s, order));
            lanes
                .par_chunks_mut(terms * BLOCK)
                .zip(coef.par_chunks(BLOCK))
                .for_each(|(block, units)| {
                    for (r, cj) in units.iter().enumerate() {
                        for (o, c) in cj.c.iter().enumerate() {
                            block[o * BLOCK + r] = *c;
                        }
                    }
                });
            coef.iter().map(HermiteCoefficients::stats).collect()
        };
        CoefficientTable {
            lanes,
            terms,
            stats,
        }
    }

    /// c₁..c_`len` of unit `i` into `out[..len]`.
    pub(super) fn column_into(&self, i: usize, len: usize, out: &mut [f64]) {
        let block = &self.lanes[(i / BLOCK) * self.terms * BLOCK + i % BLOCK..];
        for (o, x) in out[..len].iter_mut().enumerate() {
            *x = block[o * BLOCK];
        }
    }
}
