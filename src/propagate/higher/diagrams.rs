//! Connected Wick diagrams: the joint cumulants of Wick (Hermite) powers of a non-Gaussian
//! vector δ with covariance Σ and cumulants κ₃, κ₄ (κ₅ and beyond taken as 0).
//!
//! Each unit a of a layer is expanded in its own Hermite chaos, φ(h_a) − E φ(h_a) ≈
//! Σ_{j≥1} A_{a,j} :δ_a^j:, where :δ^j: is the Wick power of δ_a with respect to Σ_aa
//! (:δ: = δ, :δ²: = δ² − Σ_aa, :δ³: = δ³ − 3Σ_aa δ, …). By the Leonov–Shiryaev formula, the
//! joint cumulant of G such Wick powers of degrees j₁ … j_G is the sum over the partitions of
//! the j₁ + … + j_G "legs" (leg = one factor δ_{a_g} of group g) into blocks such that
//! - a block is a cumulant of δ: size 2 → Σ, 3 → κ₃, 4 → κ₄ (size 1 → 0 as E δ = 0);
//! - no size-2 block joins two legs of one group (the Wick ordering removes exactly these);
//! - for a joint cumulant, the blocks connect all G groups (a joint moment keeps every
//!   partition; a group of degree 0 has no legs and is the constant 1).
//!
//! Each partition contributes the product of its blocks' entries, e.g. for degrees (1, 1, 2)
//! the partitions {a c}{b c'} and {a c'}{b c} give 2·Σ_acΣ_bc. Partitions with the same blocks
//! (as multisets of groups) are merged into one [`Term`] with their count as coefficient.
//! Which blocks may appear is set by [`Rules`]; keeping at most one κ block makes the rule
//! linear in the input's κ₃/κ₄ (the leading non-Gaussian terms), and with Gaussian input
//! (no κ blocks needed) it is Wick's theorem, exact.

/// One block of a diagram: the groups of its legs, sorted (len 2: Σ, 3: κ₃, 4: κ₄).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Block {
    pub len: u8,
    pub groups: [u8; 4],
}

impl Block {
    /// The block over the sorted `groups` (2 to 4 of them).
    fn of(groups: &[u8]) -> Block {
        let mut all = [0u8; 4];
        all[..groups.len()].copy_from_slice(groups);
        Block {
            len: groups.len() as u8,
            groups: all,
        }
    }

    /// The block's groups.
    pub fn groups(&self) -> &[u8] {
        &self.groups[..self.len as usize]
    }

    /// Width power-counting cost: in a random layer of width n an entry of this block is of
    /// size n^(−cost/2), cost = legs − 1, less 1 when every group holds an even number of legs
    /// (Wu et al. 2026, arXiv 2605.05179, eq. 14; `vec_block_cost` in its `kprop_harmonic.py`).
    /// Σ between two units: 1; κ₃: 2; κ₄\[a,a,b,b\], κ₄\[a,a,a,a\]: 2; the other κ₄: 3.
    pub fn cost(&self) -> usize {
        let g = self.groups();
        let even = g
            .iter()
            .all(|x| g.iter().filter(|&y| y == x).count() % 2 == 0);
        g.len() - 1 - usize::from(even)
    }
}

/// All partitions with the same blocks, for one choice of degrees.
#[derive(Clone, Debug, PartialEq)]
pub struct Term {
    /// Chaos degree of each group (1 ≤ j).
    pub degrees: Vec<u8>,
    /// Number of partitions giving these blocks.
    pub coef: f64,
    pub blocks: Vec<Block>,
}

impl Term {
    /// The diagram's width power-counting cost, the sum of its blocks' ([`Block::cost`]): its
    /// value is of size n^(−cost/2) in a random layer of width n.
    pub fn cost(&self) -> usize {
        self.blocks.iter().map(Block::cost).sum()
    }
}

/// Which diagrams to keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rules {
    /// Blocks of size 3 (κ₃ of the input) allowed.
    pub kappa3: bool,
    /// Blocks of size 4 (κ₄ of the input) allowed.
    pub kappa4: bool,
    /// At most this many κ₃/κ₄ blocks per diagram.
    pub max_kappa_blocks: usize,
    /// Keep diagrams made of Σ blocks only (false: only the non-Gaussian increments).
    pub gaussian: bool,
    /// Keep only diagrams joining all groups (a joint cumulant); false: every diagram (a joint
    /// moment, E[Π :δ_g^{j_g}:]).
    pub connected: bool,
}

/// The terms for `groups` Wick powers, every degree from `min_degree` to `max_degree` per
/// group, under `rules`.
pub fn terms(groups: usize, min_degree: u8, max_degree: u8, rules: Rules) -> Vec<Term> {
    let mut out = Vec::new();
    let mut degrees = vec![min_degree; groups];
    loop {
        out.extend(terms_for(&degrees, rules));
        // Next degree vector (odometer).
        let Some(g) = degrees.iter().position(|&d| d < max_degree) else {
            break;
        };
        degrees[g] += 1;
        for d in &mut degrees[..g] {
            *d = min_degree;
        }
    }
    out
}

/// The terms for one degree vector.
///
/// The legs of one group are interchangeable, so a term is fixed by its *type*, the multiset of
/// its blocks (each a multiset of groups), and its coefficient is the number of labelled
/// partitions of that type: with d_g legs in group g, m_{b,g} of them in block b and k_τ blocks
/// of each distinct kind τ,
///
/// ```text
/// coef = Π_g d_g! / (Π_b Π_g m_{b,g}! · Π_τ k_τ!)
/// ```
///
/// (the multinomial assignment of each group's legs to the blocks' slots, with blocks of one
/// kind interchangeable). The types are enumerated directly (`types`), not the partitions:
/// four groups of degree 3 (the rules' degree above the cap) have 12 legs and up to ~10⁵
/// partitions, and building one chaos rule enumerated ~10⁶ of them (0.13 s, 92 % of a
/// `propagate --order 3` run of a 16-16 XOR network; now a few milliseconds).
/// The terms are in the order of their sorted blocks, as a map keyed by them would give.
pub fn terms_for(degrees: &[u8], rules: Rules) -> Vec<Term> {
    let groups = degrees.len();
    let kinds = block_kinds(groups, rules);
    let mut remaining = degrees.to_vec();
    let mut chosen = Vec::new();
    let mut out = Vec::new();
    types(
        &kinds,
        &mut remaining,
        (0, 0),
        0,
        rules,
        &mut chosen,
        &mut |bs| {
            let joined = !rules.connected || connected(bs, groups);
            if joined && (rules.gaussian || bs.iter().any(|b| b.len > 2)) {
                let mut blocks = bs.to_vec();
                blocks.sort();
                let coef = partition_count(degrees, &blocks);
                out.push(Term {
                    degrees: degrees.to_vec(),
                    coef,
                    blocks,
                });
            }
        },
    );
    out.sort_by(|a, b| a.blocks.cmp(&b.blocks));
    out
}

/// Every block `rules` admits over `groups` groups, sorted: Σ between two distinct groups
/// (a Σ block inside one group is what the Wick ordering removes), κ₃ and κ₄ over any groups.
fn block_kinds(groups: usize, rules: Rules) -> Vec<Block> {
    let mut kinds = Vec::new();
    let g = groups as u8;
    for a in 0..g {
        for b in a..g {
            if a != b {
                kinds.push(Block::of(&[a, b]));
            }
            for c in b..g {
                if rules.kappa3 {
                    kinds.push(Block::of(&[a, b, c]));
                }
                for d in c..g {
                    if rules.kappa4 {
                        kinds.push(Block::of(&[a, b, c, d]));
                    }
                }
            }
        }
    }
    kinds.sort();
    kinds
}

/// Enumerates each multiset of blocks from `kinds` that uses exactly the `remaining` legs of
/// each group, once: the lowest group g₀ with legs left is served first, by the blocks whose
/// lowest group is g₀ (no other block can take its legs), those picked in the order of
/// `kinds` from index `from.1` on while g₀ = `from.0`.
fn types(
    kinds: &[Block],
    remaining: &mut [u8],
    from: (usize, usize),
    kappas: usize,
    rules: Rules,
    chosen: &mut Vec<Block>,
    visit: &mut impl FnMut(&[Block]),
) {
    let Some(low) = remaining.iter().position(|&r| r > 0) else {
        visit(chosen);
        return;
    };
    let first = if low == from.0 { from.1 } else { 0 };
    for (k, block) in kinds.iter().enumerate().skip(first) {
        let g = block.groups();
        let is_kappa = g.len() > 2;
        if g[0] as usize != low || (is_kappa && kappas >= rules.max_kappa_blocks) {
            continue;
        }
        if !fits(remaining, g) {
            continue;
        }
        for &x in g {
            remaining[x as usize] -= 1;
        }
        chosen.push(*block);
        types(
            kinds,
            remaining,
            (low, k),
            kappas + usize::from(is_kappa),
            rules,
            chosen,
            visit,
        );
        chosen.pop();
        for &x in g {
            remaining[x as usize] += 1;
        }
    }
}

/// Whether the legs left (`remaining`, per group) hold a block over the sorted `groups`.
fn fits(remaining: &[u8], groups: &[u8]) -> bool {
    groups
        .chunk_by(|x, y| x == y)
        .all(|same| remaining[same[0] as usize] as usize >= same.len())
}

/// The number of labelled partitions of the legs `degrees` into `blocks` (sorted):
/// Π_g d_g! / (Π_b Π_g m_{b,g}! · Π_τ k_τ!) (module docs of [`terms_for`]).
fn partition_count(degrees: &[u8], blocks: &[Block]) -> f64 {
    let factorial = |n: usize| (1..=n as u64).product::<u64>();
    let mut count: u64 = degrees.iter().map(|&d| factorial(d as usize)).product();
    for b in blocks {
        let g = b.groups();
        for w in g.chunk_by(|x, y| x == y) {
            count /= factorial(w.len());
        }
    }
    for same in blocks.chunk_by(|x, y| x == y) {
        count /= factorial(same.len());
    }
    count as f64
}

/// Whether the blocks join all `groups` groups into one component.
fn connected(blocks: &[Block], groups: usize) -> bool {
    let mut parent: Vec<usize> = (0..groups).collect();
    fn root(p: &mut [usize], mut i: usize) -> usize {
        while p[i] != i {
            p[i] = p[p[i]];
            i = p[i];
        }
        i
    }
    for b in blocks {
        let g = b.groups();
        for &h in &g[1..] {
            let (r0, r1) = (
                root(&mut parent, g[0] as usize),
                root(&mut parent, h as usize),
            );
            parent[r0] = r1;
        }
    }
    let r = root(&mut parent, 0);
    (1..groups).all(|g| root(&mut parent, g) == r)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// The terms by brute force: every admissible labelled partition of the legs, those with
    /// the same sorted blocks counted into one term (the enumeration `terms_for` replaced).
    fn by_partitions(degrees: &[u8], rules: Rules) -> Vec<Term> {
        let legs: Vec<u8> = degrees
            .iter()
            .enumerate()
            .flat_map(|(g, &d)| std::iter::repeat_n(g as u8, d as usize))
            .collect();
        let mut found: BTreeMap<Vec<Block>, usize> = BTreeMap::new();
        partitions(&legs, 0, &mut Vec::new(), 0, rules, &mut |bs| {
            let joined = !rules.connected || connected(bs, degrees.len());
            if joined && (rules.gaussian || bs.iter().any(|b| b.len > 2)) {
                let mut key = bs.to_vec();
                key.sort();
                *found.entry(key).or_insert(0) += 1;
            }
        });
        found
            .into_iter()
            .map(|(blocks, count)| Term {
                degrees: degrees.to_vec(),
                coef: count as f64,
                blocks,
            })
            .collect()
    }

    /// Every admissible set partition of the `legs` not in `used` (bit mask): the lowest free
    /// leg with each subset of 1–3 other free legs as its block.
    fn partitions(
        legs: &[u8],
        used: u32,
        blocks: &mut Vec<Block>,
        kappas: usize,
        rules: Rules,
        visit: &mut impl FnMut(&[Block]),
    ) {
        let n = legs.len();
        let Some(first) = (0..n).find(|&i| used & (1 << i) == 0) else {
            visit(blocks);
            return;
        };
        let rest: Vec<usize> = (first + 1..n).filter(|&i| used & (1 << i) == 0).collect();
        for mask in 1u32..(1 << rest.len()) {
            let size = mask.count_ones() as usize + 1;
            let allowed = match size {
                2 => true,
                3 => rules.kappa3,
                4 => rules.kappa4,
                _ => false,
            };
            let is_kappa = size > 2;
            if !allowed || (is_kappa && kappas >= rules.max_kappa_blocks) {
                continue;
            }
            let mut members = vec![first];
            members.extend(
                (0..rest.len())
                    .filter(|k| mask & (1 << k) != 0)
                    .map(|k| rest[k]),
            );
            if size == 2 && legs[members[0]] == legs[members[1]] {
                continue;
            }
            let mut groups: Vec<u8> = members.iter().map(|&i| legs[i]).collect();
            groups.sort_unstable();
            let bits = members.iter().fold(used, |u, &i| u | (1 << i));
            blocks.push(Block::of(&groups));
            partitions(
                legs,
                bits,
                blocks,
                kappas + usize::from(is_kappa),
                rules,
                visit,
            );
            blocks.pop();
        }
    }

    /// Every degree vector of `groups` groups with degrees 0..=`top`.
    fn degree_vectors(groups: usize, top: u8) -> Vec<Vec<u8>> {
        (0..(top as usize + 1).pow(groups as u32))
            .map(|mut k| {
                (0..groups)
                    .map(|_| {
                        let d = (k % (top as usize + 1)) as u8;
                        k /= top as usize + 1;
                        d
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_types_counted_equal_the_partitions_enumerated() {
        let mut compared = 0;
        for (groups, top) in [(1, 6), (2, 5), (3, 3), (4, 3)] {
            for bits in 0..48u32 {
                let rules = Rules {
                    kappa3: bits & 1 != 0,
                    kappa4: bits & 2 != 0,
                    gaussian: bits & 4 != 0,
                    connected: bits & 8 != 0,
                    max_kappa_blocks: (bits >> 4) as usize,
                };
                // Four groups: the rules the chaos rules build (one κ block at most).
                if groups == 4 && rules.max_kappa_blocks != 1 {
                    continue;
                }
                for degrees in degree_vectors(groups, top) {
                    let want = by_partitions(&degrees, rules);
                    assert_eq!(terms_for(&degrees, rules), want, "{degrees:?} {rules:?}");
                    compared += want.len();
                }
            }
        }
        // The comparison is not empty: thousands of terms, coefficients up to 10⁴.
        assert!(compared > 10_000, "{compared} terms compared");
    }

    #[test]
    fn a_coefficient_counts_the_labelled_partitions() {
        // Degrees (1, 1, 2): {a c}{b c'} and {a c'}{b c}, 2·Σ_acΣ_bc (module docs).
        let rules = Rules {
            kappa3: false,
            kappa4: false,
            max_kappa_blocks: 0,
            gaussian: true,
            connected: true,
        };
        let t = terms_for(&[1, 1, 2], rules);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].coef, 2.0);
        assert_eq!(t[0].blocks, vec![Block::of(&[0, 2]), Block::of(&[1, 2])]);
        // Four legs of two groups, two each, Σ only: the two matchings across, 2·Σ_ab².
        let t = terms_for(&[2, 2], rules);
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].coef, 2.0);
    }
}
