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

use std::collections::BTreeMap;

/// One block of a diagram: the groups of its legs, sorted (len 2: Σ, 3: κ₃, 4: κ₄).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Block {
    pub len: u8,
    pub groups: [u8; 4],
}

impl Block {
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
pub fn terms_for(degrees: &[u8], rules: Rules) -> Vec<Term> {
    let legs: Vec<u8> = degrees
        .iter()
        .enumerate()
        .flat_map(|(g, &d)| std::iter::repeat_n(g as u8, d as usize))
        .collect();
    let mut found: BTreeMap<Vec<Block>, usize> = BTreeMap::new();
    let mut blocks = Vec::new();
    partitions(&legs, 0, &mut blocks, 0, rules, &mut |bs| {
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

/// Enumerates the admissible set partitions of `legs` not yet in `used` (bit mask).
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
    // Companions of `first`: every subset of `rest` of size 1 to 3.
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
        let mut groups = [0u8; 4];
        for (slot, &i) in members.iter().enumerate() {
            groups[slot] = legs[i];
        }
        groups[..size].sort_unstable();
        let bits = members.iter().fold(used, |u, &i| u | (1 << i));
        blocks.push(Block {
            len: size as u8,
            groups,
        });
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
