//! z's κ₄\[a,a,b,c\] blocks ([`super::triple4_factored`]) with their smallest terms dropped
//! under a stated relative tolerance (issue #16 goal: the blocks' map is most of the factored
//! order 3's time at n ≥ 64, and its cost is linear in their rank, 12N per layer).
//!
//! **The bound.** The blocks hold Q = Σ_t Σ_r A_t\[·,r\] ⊗ ½(X_t\[·,r\] ⊗ Y_t\[·,r\] +
//! Y_t\[·,r\] ⊗ X_t\[·,r\]), and ‖a ⊗ ½(x ⊗ y + y ⊗ x)‖_F ≤ ‖a‖ ‖x‖ ‖y‖, so dropping a set D
//! of terms moves the blocks' tensor by at most the sum of their norms ν; and the blocks' values
//! at b = c, G\[a,b\] = Q\[a,b,b\], are entries of Q:
//!
//! ```text
//! ‖Q − Q_c‖_F ≤ Σ_{(t,r)∈D} ν_tr,   ν_tr = ‖A_t[·,r]‖ ‖X_t[·,r]‖ ‖Y_t[·,r]‖,   ‖Q‖_F ≥ ‖G‖_F
//! ```
//!
//! Terms are dropped smallest first while Σ_D ν ≤ τ ‖G‖_F, so ‖Q − Q_c‖_F ≤ τ ‖Q‖_F for the
//! relative tolerance τ (as [`super::compressed`] does for κ₃; the bound is pessimistic, by
//! about √N where the terms are nearly orthogonal, so useful τ are near 1).
//!
//! **What is dropped together.** Blocks that share an X or Y factor (one [`std::sync::Arc`],
//! mapped once) pair column r of every factor with column r of each A: the carried blocks of
//! one of h's blocks share diag(β)X, diag(β)Y and diag(γ)A, and h's blocks share factors in
//! turn. So the unit of dropping is a column index r of a set of blocks linked by shared
//! factors, ν summed over the set's blocks; the kept columns of a shared factor stay one
//! [`std::sync::Arc`]. A set holding a block with a diagonal A (the fresh star at a, whose split
//! image reads column r as unit r) is kept whole. A carried group that lost terms loses its G
//! and H ([`Sums`]): the map sums its kept blocks instead, O(N² R_kept).

use std::sync::Arc;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, Par};

use super::blocks_wide::Factor;
use super::compressed::{column_norms, smallest_within};
use super::triple4_factored::{Block, Sums};
use crate::linalg::columns;

/// The sets of blocks linked by a shared X or Y factor, each as its blocks' indices.
fn linked(blocks: &[Block]) -> Vec<Vec<usize>> {
    let mut set: Vec<usize> = (0..blocks.len()).collect();
    fn root(set: &mut [usize], mut k: usize) -> usize {
        while set[k] != k {
            set[k] = set[set[k]];
            k = set[k];
        }
        k
    }
    for i in 0..blocks.len() {
        for j in 0..i {
            let shared = [&blocks[i].x, &blocks[i].y]
                .iter()
                .any(|f| Arc::ptr_eq(f, &blocks[j].x) || Arc::ptr_eq(f, &blocks[j].y));
            if shared {
                let (a, b) = (root(&mut set, i), root(&mut set, j));
                set[a] = b;
            }
        }
    }
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut at: Vec<Option<usize>> = vec![None; blocks.len()];
    for k in 0..blocks.len() {
        let r = root(&mut set, k);
        match at[r] {
            Some(i) => out[i].push(k),
            None => {
                at[r] = Some(out.len());
                out.push(vec![k]);
            }
        }
    }
    out
}

/// G = Σ_t A_t (X_t∘Y_t)ᵀ over `blocks`, each group with [`Sums`] read from them once.
fn g_sum(blocks: &[Block]) -> Mat<f64> {
    let n = blocks.first().map_or(0, |k| k.a.nrows());
    let mut g = Mat::zeros(n, n);
    let mut seen: Vec<&Arc<Sums>> = Vec::new();
    for k in blocks {
        match &k.sums {
            Some(s) => {
                if !seen.iter().any(|t| Arc::ptr_eq(t, s)) {
                    g += &s.g;
                    seen.push(s);
                }
            }
            // A = diag(d): G[a,b] = d_a X[b,a] Y[b,a].
            None if k.diagonal => {
                g += Mat::from_fn(n, n, |a, b| k.a[(a, a)] * k.x[(b, a)] * k.y[(b, a)]);
            }
            None => {
                let xy = Mat::from_fn(n, k.a.ncols(), |i, r| k.x[(i, r)] * k.y[(i, r)]);
                matmul(
                    g.as_mut(),
                    Accum::Add,
                    k.a.as_ref(),
                    xy.transpose(),
                    1.0,
                    Par::Seq,
                );
            }
        }
    }
    g
}

/// `blocks` with their smallest terms dropped for the relative tolerance `tol`
/// ([`super::compressed::valid_tolerance`]; module docs), and how many terms were dropped. Nothing is dropped
/// where the budget τ ‖G‖_F covers no set's column.
pub fn truncate(blocks: Vec<Block>, tol: f64) -> (Vec<Block>, usize) {
    let sets: Vec<Vec<usize>> = linked(&blocks)
        .into_iter()
        .filter(|set| {
            let r = blocks[set[0]].a.ncols();
            set.iter().all(|&k| {
                let b = &blocks[k];
                !b.diagonal && b.a.ncols() == r && b.x.ncols() == r && b.y.ncols() == r
            })
        })
        .collect();
    // ν of each (set, column), set by set.
    let (mut nu, mut term) = (Vec::new(), Vec::new());
    for (s, set) in sets.iter().enumerate() {
        let mut set_nu = vec![0.0; blocks[set[0]].a.ncols()];
        for &k in set {
            let b = &blocks[k];
            let [a, x, y] =
                [b.a.as_ref(), b.x.as_ref().as_ref(), b.y.as_ref().as_ref()].map(column_norms);
            for r in 0..set_nu.len() {
                set_nu[r] += a[r] * x[r] * y[r];
            }
        }
        term.extend((0..set_nu.len()).map(|r| (s, r)));
        nu.extend(set_nu);
    }
    let (drop, _) = smallest_within(&nu, tol * g_sum(&blocks).norm_l2());
    let mut dropped: Vec<Vec<usize>> = vec![Vec::new(); sets.len()];
    for (&(s, r), _) in term.iter().zip(&drop).filter(|(_, &d)| d) {
        dropped[s].push(r);
    }
    let count: usize = (sets.iter().zip(&dropped))
        .map(|(set, d)| set.len() * d.len())
        .sum();
    if count == 0 {
        return (blocks, 0);
    }
    (select(blocks, &sets, &dropped), count)
}

/// `blocks` without the columns `dropped[s]` of each set `sets[s]`: the kept columns of a
/// shared factor one [`Arc`]; a carried group that lost terms loses its [`Sums`] (its blocks
/// are then summed as blocks by the map, over the kept columns: cheaper than the dropped
/// terms' sums where most are dropped).
fn select(mut blocks: Vec<Block>, sets: &[Vec<usize>], dropped: &[Vec<usize>]) -> Vec<Block> {
    let mut lost: Vec<Arc<Sums>> = Vec::new();
    for (set, d) in sets.iter().zip(dropped) {
        if d.is_empty() {
            continue;
        }
        let r = blocks[set[0]].a.ncols();
        let kept: Vec<usize> = (0..r).filter(|c| !d.contains(c)).collect();
        let mut factors: Vec<(Factor, Factor)> = Vec::new();
        for &k in set {
            let b = &blocks[k];
            if let Some(s) = &b.sums {
                if !lost.iter().any(|t| Arc::ptr_eq(t, s)) {
                    lost.push(s.clone());
                }
            }
            let mut keep = |f: &Factor| -> Factor {
                if let Some((_, k)) = factors.iter().find(|(g, _)| Arc::ptr_eq(g, f)) {
                    return k.clone();
                }
                let k = Arc::new(columns(f.as_ref().as_ref(), &kept));
                factors.push((f.clone(), k.clone()));
                k
            };
            let (x, y) = (keep(&b.x), keep(&b.y));
            let a = columns(b.a.as_ref(), &kept);
            let b = &mut blocks[k];
            (b.a, b.x, b.y) = (a, x, y);
        }
    }
    for b in blocks.iter_mut() {
        if b.sums
            .as_ref()
            .is_some_and(|s| lost.iter().any(|t| Arc::ptr_eq(t, s)))
        {
            b.sums = None;
        }
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::chaos::UnitChaos;
    use crate::propagate::higher::star4::Star4;
    use crate::propagate::higher::triple4_factored::{carried_blocks, fresh_blocks};
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    /// The blocks' full tensor Q\[a,b,c\] (every a, b, c), a, b, c over `n` units.
    fn full(blocks: &[Block], n: usize) -> Vec<f64> {
        let mut q = vec![0.0; n * n * n];
        for k in blocks {
            for r in 0..k.a.ncols() {
                for a in 0..n {
                    for b in 0..n {
                        for c in 0..n {
                            q[a + n * (b + n * c)] += k.a[(a, r)]
                                * 0.5
                                * (k.x[(b, r)] * k.y[(c, r)] + k.x[(c, r)] * k.y[(b, r)]);
                        }
                    }
                }
            }
        }
        q
    }

    fn norm(x: &[f64]) -> f64 {
        x.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// z's blocks as the closure forms them (fresh from a star, carried from a mapped h) lose
    /// terms at τ = 0.3, 1, 3: the blocks' tensor moves by at most τ ‖Q‖_F, shared factors
    /// stay shared, the fresh star's set is kept whole, the carried group's sums are dropped;
    /// τ = 0 drops nothing.
    #[test]
    fn truncation_stays_within_the_bound() {
        let n = 7;
        let mut rng = StdRng::seed_from_u64(31);
        let mut g =
            |r: usize, c: usize| Mat::from_fn(r, c, |_, _| rng.sample::<f64, _>(StandardNormal));
        let a = g(n, n);
        let cov = &a * a.transpose() * faer::Scale(0.2) + Mat::<f64>::identity(n, n);
        let units: Vec<UnitChaos> = (0..n)
            .map(|i| UnitChaos::new(Activation::Relu, 0.3 * i as f64 - 0.8, cov[(i, i)].sqrt()))
            .collect();
        let fresh = fresh_blocks(&Star4::new(&cov, &units));
        let z = super::super::triple4_factored::Unpaired4Factored::new(
            super::super::paired::Paired(g(n, n) * faer::Scale(0.1)),
            Mat::zeros(n, n),
            fresh.clone(),
        );
        let (h, _) = z.map(g(n, n).as_ref(), 1);
        let mut blocks = fresh;
        blocks.extend(carried_blocks(&h, &units));
        let q = full(&blocks, n);
        let size = norm(&q);
        let (same, none) = truncate(blocks.clone(), 0.0);
        assert_eq!((same, none), (blocks.clone(), 0));
        let mut dropped_any = false;
        for tol in [0.3, 1.0, 3.0] {
            let (kept, count) = truncate(blocks.clone(), tol);
            let moved = norm(
                &(full(&kept, n).iter().zip(&q))
                    .map(|(x, y)| x - y)
                    .collect::<Vec<_>>(),
            );
            assert!(moved <= tol * size, "τ {tol}: moved {moved:e} of {size:e}");
            let total = |b: &[Block]| b.iter().map(|k| k.a.ncols()).sum::<usize>();
            assert_eq!(total(&kept) + count, total(&blocks), "τ {tol}");
            // The fresh blocks (the first two, one with a diagonal A) are kept whole.
            assert_eq!(kept[..2], blocks[..2]);
            for (k, b) in kept.iter().enumerate() {
                assert_eq!(
                    (b.x.ncols(), b.y.ncols()),
                    (b.a.ncols(), b.a.ncols()),
                    "{k}"
                );
                if b.a.ncols() < n {
                    assert!(
                        b.sums.is_none(),
                        "τ {tol}: block {k} keeps its group's sums"
                    );
                }
            }
            // Shared factors are still shared: the carried blocks hold as few distinct ones.
            let distinct = |b: &[Block]| {
                super::super::blocks_wide::distinct_columns(b.iter().flat_map(|k| [&k.x, &k.y]))
            };
            let ranks: Vec<usize> = kept.iter().map(|k| k.a.ncols()).collect();
            let before: Vec<usize> = blocks.iter().map(|k| k.a.ncols()).collect();
            if count > 0 {
                dropped_any = true;
                assert!(
                    distinct(&kept) < distinct(&blocks),
                    "τ {tol}: {ranks:?} of {before:?}"
                );
            }
        }
        assert!(dropped_any, "no tolerance dropped a term");
    }
}
