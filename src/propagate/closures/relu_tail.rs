//! The full-range sum of relu's tail variance (`relu::tail_variance`, DESIGN.md §3 "ReLU") on
//! SIMD lanes: Σₖ wₖ·2sin²(uₖ/2)·exp(−a²/(2cos²(uₖ/2))) over the Gauss–Legendre nodes uₖ of
//! [0, π/2], one vector exp per lane vector instead of a libm exp per node (up to 180 per unit,
//! ~5 % of a 64-wide relu layer at order 2: BENCHMARKS.md "… fourteenth session (relu3)").

use pulp::{Simd, WithSimd};

use crate::simd::{dispatch, exp, load};

/// Node lists are padded to a multiple of this (every pulp lane count, 1, 2, 4, 8, divides it).
const PAD: usize = 8;

/// The nodes of one full-range rule as three arrays: weight wₖ, 2 sin²(uₖ/2), 2 cos²(uₖ/2),
/// padded with (0, 0, 1), whose term w·2sin²·exp(−a²) is exactly 0.
pub(super) struct TailNodes {
    w: Vec<f64>,
    two_sn2: Vec<f64>,
    two_cs2: Vec<f64>,
}

impl TailNodes {
    /// The nodes (wₖ, 2 sin²(uₖ/2), 2 cos²(uₖ/2)) in order, padded.
    pub(super) fn new(nodes: impl Iterator<Item = (f64, f64, f64)>) -> Self {
        let mut t = TailNodes {
            w: Vec::new(),
            two_sn2: Vec::new(),
            two_cs2: Vec::new(),
        };
        for (w, sn2, cs2) in nodes {
            t.w.push(w);
            t.two_sn2.push(sn2);
            t.two_cs2.push(cs2);
        }
        let len = t.w.len().next_multiple_of(PAD);
        t.w.resize(len, 0.0);
        t.two_sn2.resize(len, 0.0);
        t.two_cs2.resize(len, 1.0);
        t
    }

    /// Σₖ wₖ·2sin²(uₖ/2)·exp(−a²/(2cos²(uₖ/2))) for `a2` = a² (finite; 2cos² ≥ 1 on the
    /// full range, so every exp argument is in [−a², 0]), each lane summing every L-th node and
    /// the lanes added at the end: positive terms, each within a few ulp of the libm one
    /// (`simd::exp`), on the process's instruction set (`simd::dispatch`, `CORRFLOW_ISA`).
    pub(super) fn sum(&self, a2: f64) -> f64 {
        dispatch(TailSum { nodes: self, a2 })
    }
}

/// The lanes of [`TailNodes::sum`].
struct TailSum<'a> {
    nodes: &'a TailNodes,
    a2: f64,
}

impl WithSimd for TailSum<'_> {
    type Output = f64;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> f64 {
        let lanes = S::F64_LANES;
        let neg_a2 = simd.splat_f64s(-self.a2);
        let mut acc = simd.splat_f64s(0.0);
        let n = &self.nodes;
        for ((w, sn2), cs2) in
            n.w.chunks_exact(lanes)
                .zip(n.two_sn2.chunks_exact(lanes))
                .zip(n.two_cs2.chunks_exact(lanes))
        {
            let e = exp(simd, simd.div_f64s(neg_a2, load(simd, cs2)));
            acc = simd.mul_add_f64s(load(simd, w), simd.mul_f64s(load(simd, sn2), e), acc);
        }
        simd.reduce_sum_f64s(acc)
    }
}
