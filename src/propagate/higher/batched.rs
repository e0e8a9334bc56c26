//! The chaos rule's diagram sums for a whole column of entries at once (issue #16 item 7).
//!
//! An entry of [`super::closure`] is E[Π_g ẑ_{u_g}^{p_g}] = Σ_terms coef · Π_g B_{u_g,p_g,j_g} ·
//! Π_blocks X_block, X a Σ, κ₃ or κ₄ entry of h indexed by the blocks' units. Fix every unit but
//! one of multiplicity 1 — group 0, the unit a — and each factor is either a number (it does not
//! involve a) or an entry of a vector over a that is contiguous in memory:
//!
//! ```text
//! B_{a,1,j}                      the chaos coefficients of every unit (one vector per degree j)
//! Σ[a,u]                         column u of Σ
//! κ₃[a,u,v], κ₄[a,u,v,w]         a column of the dense tensor (first index fastest)
//! κ₃[a,a,u], κ₄[a,a,u,v]         a column of the N² (N³) diagonal slice
//! κ₄[a,a,a,u], κ₃[a,a,a], κ₄[a,a,a,a]
//! ```
//!
//! (order 3 with [`Unpaired4`]: κ₄\[a,u,u,v\], κ₄\[a,u,u,u\], κ₄\[a,a,u,v\] and κ₄\[a,a,a,u\]
//! from its N³ and N² stores, contiguous over a; κ₄\[a,u,v,w\] of distinct units is 0. With T
//! alone, [`Kappa4::triple`]: κ₄\[a,u,u,u\] and κ₄\[a,a,a,u\] from T's N² store, the classes
//! over three distinct units 0.)
//!
//! So the column over a of the entries with the other units fixed is Σ_k s_k · Π_{v ∈ V_k} v:
//! terms with the same vector factors V_k (the same degree of a and the same blocks through a)
//! are merged at compile time ([`Pattern::compile`]), their numbers summed per column, and the
//! vector products run in SIMD lanes ([`Products`]). The result is the per-entry sum of
//! [`super::closure`] reordered, equal to rounding; entries where a coincides with a fixed unit
//! follow another pattern and are set by the caller.

use std::collections::BTreeMap;

use pulp::{Simd, WithSimd};

use super::chaos::{UnitChaos, MAX_DEGREE};
use super::closure::DegreeTerms;
use super::paired::{Kappa4, Paired};
use super::sliced::{Slice, Sliced};
use super::tensor::{Kappa3, SymTensor};
use super::triple4::Unpaired4;
use crate::simd::{dispatch, load, store};

/// A vector factor over the free unit a (groups ≥ 1 name fixed units).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Vector {
    /// B_{a,1,j}.
    Coef(u8),
    /// B_{a,2,j} (the free unit of multiplicity 2: z's paired κ₄\[a,a,u,u\]).
    Coef2(u8),
    /// Σ\[a,u_g\].
    Cov(u8),
    /// κ₃\[a,u_g,u_h\].
    K3(u8, u8),
    /// κ₃\[a,a,u_g\].
    K3aa(u8),
    /// κ₃\[a,a,a\].
    K3aaa,
    /// κ₄\[a,u_g,u_h,u_k\].
    K4(u8, u8, u8),
    /// κ₄\[a,a,u_g,u_h\].
    K4aa(u8, u8),
    /// κ₄\[a,a,a,u_g\].
    K4aaa(u8),
    /// κ₄\[a,a,a,a\].
    K4aaaa,
}

/// A number factor (every group ≥ 1).
#[derive(Clone, Debug, PartialEq)]
enum Number {
    /// B_{u_g,p_g,j}.
    Coef(u8, u8),
    /// A Σ, κ₃ or κ₄ entry at the groups' units.
    Block(Vec<u8>),
}

/// One term's number part: coef · Π factors (indices into [`Pattern`]'s distinct numbers).
#[derive(Clone, Debug, PartialEq)]
struct Summand {
    coef: f64,
    numbers: Vec<u16>,
}

/// The terms sharing one set of vector factors (indices into [`Pattern`]'s distinct vectors).
#[derive(Clone, Debug, PartialEq)]
struct Product {
    vectors: Vec<u16>,
    summands: Vec<Summand>,
}

impl Product {
    /// Σ_summands coef · Π numbers\[f\], the product's number at one column's fixed units.
    fn scale(&self, numbers: &[f64]) -> f64 {
        self.summands
            .iter()
            .map(|s| {
                s.numbers
                    .iter()
                    .fold(s.coef, |acc, &f| acc * numbers[f as usize])
            })
            .sum()
    }
}

/// One diagram list compiled for a fixed multiplicity of each group, group 0 (the free unit)
/// of multiplicity 1 or 2.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    powers: Vec<u8>,
    /// The distinct number factors, evaluated once per column.
    numbers: Vec<Number>,
    /// The distinct vector factors, looked up once per column (the products share them: the
    /// two-unit lists' 22 products hold 62 vector factors, at most 14 distinct).
    vectors: Vec<Vector>,
    products: Vec<Product>,
}

impl Pattern {
    /// Compiles `list` (terms over `powers.len()` groups) for group multiplicities `powers`
    /// (`powers[0]` ∈ {1, 2}: the free unit).
    pub fn compile(list: &[DegreeTerms], powers: &[u8]) -> Self {
        debug_assert!(matches!(powers.first(), Some(1 | 2)));
        let mut merged: BTreeMap<Vec<Vector>, Vec<Summand>> = BTreeMap::new();
        let mut distinct: Vec<Number> = Vec::new();
        let mut intern = |f: Number| -> u16 {
            let at = distinct.iter().position(|d| *d == f).unwrap_or_else(|| {
                distinct.push(f);
                distinct.len() - 1
            });
            at as u16
        };
        for dt in list {
            for term in &dt.terms {
                let mut vectors = vec![if powers[0] == 2 {
                    Vector::Coef2(dt.degrees[0])
                } else {
                    Vector::Coef(dt.degrees[0])
                }];
                let mut numbers: Vec<Number> = (1..dt.degrees.len())
                    .map(|g| Number::Coef(g as u8, dt.degrees[g]))
                    .collect();
                for b in &term.blocks {
                    let gs = b.groups();
                    let free = gs.iter().filter(|&&g| g == 0).count();
                    let rest = &gs[free..];
                    match (gs.len(), free) {
                        (_, 0) => numbers.push(Number::Block(gs.to_vec())),
                        (2, _) => vectors.push(Vector::Cov(rest[0])),
                        (3, 1) => vectors.push(Vector::K3(rest[0], rest[1])),
                        (3, 2) => vectors.push(Vector::K3aa(rest[0])),
                        (3, _) => vectors.push(Vector::K3aaa),
                        (_, 1) => vectors.push(Vector::K4(rest[0], rest[1], rest[2])),
                        (_, 2) => vectors.push(Vector::K4aa(rest[0], rest[1])),
                        (_, 3) => vectors.push(Vector::K4aaa(rest[0])),
                        _ => vectors.push(Vector::K4aaaa),
                    }
                }
                vectors.sort();
                merged.entry(vectors).or_default().push(Summand {
                    coef: term.coef,
                    numbers: numbers.into_iter().map(&mut intern).collect(),
                });
            }
        }
        let mut vectors: Vec<Vector> = Vec::new();
        let products = merged
            .into_iter()
            .map(|(vs, summands)| Product {
                vectors: vs
                    .into_iter()
                    .map(|v| intern_vector(&mut vectors, v))
                    .collect(),
                summands,
            })
            .collect();
        Pattern {
            powers: powers.to_vec(),
            numbers: distinct,
            vectors,
            products,
        }
    }
}

/// The index of `v` in `distinct`, appended if it is not there.
fn intern_vector(distinct: &mut Vec<Vector>, v: Vector) -> u16 {
    let at = distinct.iter().position(|&d| d == v).unwrap_or_else(|| {
        distinct.push(v);
        distinct.len() - 1
    });
    at as u16
}

/// What the patterns read for one class at one layer: h's Σ, κ₃, κ₄ and their diagonal
/// slices, and the units' chaos coefficients as vectors.
pub struct Sources<'a> {
    n: usize,
    cov: Vec<f64>,
    k3: &'a dyn Kappa3,
    /// The full κ₃, whose columns the vectors read, or only its slices (the last hidden
    /// layer's h, [`Sliced`]: entries of at most two distinct units).
    k3_dense: Option<&'a SymTensor>,
    k3_sliced: Option<&'a Sliced>,
    /// The slices of κ₄ (the last hidden layer's h at order 4).
    k4_sliced: Option<&'a Sliced>,
    /// h's κ₄ as the rule reads it (full or paired, [`Kappa4`]).
    k4: Option<&'a dyn Kappa4>,
    /// The full κ₄ (order 4), whose columns the vectors read…
    k4_dense: Option<&'a SymTensor>,
    /// …or the paired one (order 3): κ₄\[a,a,u,u\] = P\[a,u\], the other vectors through a
    /// vanish…
    k4_paired: Option<&'a Paired>,
    /// …unless κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] are carried beside it ([`Unpaired4`]).
    k4_unpaired: Option<&'a Unpaired4>,
    /// …or κ₄\[a,a,a,b\] alone, as T and Tᵀ ([`Kappa4::triple`]).
    k4_triple: Option<[&'a faer::Mat<f64>; 2]>,
    units: &'a [UnitChaos],
    /// `coef[j][a]` = B_{a,1,j}…
    coef: Vec<Vec<f64>>,
    /// …and `coef2[j][a]` = B_{a,2,j}.
    coef2: Vec<Vec<f64>>,
    k3aa: Vec<f64>,
    k3aaa: Vec<f64>,
    k4aa: Vec<f64>,
    k4aaa: Vec<f64>,
    k4aaaa: Vec<f64>,
}

impl<'a> Sources<'a> {
    /// Gathers the vectors (O(N³) for a full κ₄'s κ₄\[a,a,u,v\], O(N²) else). A κ₄ that is
    /// neither a [`SymTensor`] nor a [`Paired`] ([`Kappa4::dense`], [`Kappa4::paired`]) is
    /// read only where no unit is free (its vectors count as zero).
    pub fn new(
        cov: &faer::Mat<f64>,
        k3: &'a dyn Kappa3,
        k4: Option<&'a dyn Kappa4>,
        units: &'a [UnitChaos],
    ) -> Self {
        let n = units.len();
        let k3_dense = k3.dense();
        let k3_sliced = k3.sliced();
        let k4_dense = k4.and_then(|t| t.dense());
        let k4_paired = k4.and_then(|t| t.paired());
        let k4_sliced = k4.and_then(|t| t.sliced());
        let k4_unpaired = k4.and_then(|t| t.unpaired());
        let k4_triple = k4.and_then(|t| t.triple());
        let diag = |t: &SymTensor, reps: usize, cols: usize| -> Vec<f64> {
            // t[a, …, a (reps times), rest] for rest over `cols` flat positions.
            let step: usize = (0..reps).map(|r| n.pow(r as u32)).sum();
            let tail = n.pow(reps as u32);
            let d = t.data();
            (0..cols)
                .flat_map(|c| (0..n).map(move |a| d[a * step + c * tail]))
                .collect()
        };
        Sources {
            n,
            cov: (0..n * n).map(|k| cov[(k % n, k / n)]).collect(),
            k3,
            k3_dense,
            k3_sliced,
            k4_sliced,
            k4,
            k4_dense,
            k4_paired,
            k4_unpaired,
            k4_triple,
            units,
            coef: (0..=MAX_DEGREE)
                .map(|j| units.iter().map(|u| u.b[1][j]).collect())
                .collect(),
            coef2: (0..=MAX_DEGREE)
                .map(|j| units.iter().map(|u| u.b[2][j]).collect())
                .collect(),
            k3aa: k3_dense.map_or_else(Vec::new, |t| diag(t, 2, n)),
            k3aaa: match (k3_dense, k3_sliced) {
                (Some(t), _) => diag(t, 3, 1),
                (None, Some(s)) => s.diagonal(3),
                (None, None) => Vec::new(),
            },
            k4aa: k4_dense.map_or_else(Vec::new, |t| diag(t, 2, n * n)),
            k4aaa: k4_dense.map_or_else(Vec::new, |t| diag(t, 3, n)),
            k4aaaa: match (k4_dense, k4_paired, k4_sliced) {
                (Some(t), _, _) => diag(t, 4, 1),
                (None, Some(p), _) => (0..n).map(|a| p.0[(a, a)]).collect(),
                (None, None, Some(s)) => s.diagonal(4),
                (None, None, None) => Vec::new(),
            },
        }
    }

    /// Number of units N.
    pub fn dim(&self) -> usize {
        self.n
    }

    /// Σ column u (Σ\[·, u\]).
    pub fn cov_col(&self, u: usize) -> &[f64] {
        &self.cov[u * self.n..(u + 1) * self.n]
    }

    /// The vector `v` at fixed units `u` (u\[0\] unused), or `None` where it needs κ₄ and
    /// only κ₃ is carried (the term is 0).
    fn vector(&self, v: Vector, u: &[usize]) -> Option<&[f64]> {
        let n = self.n;
        let col = |data: &'a [f64], at: usize| Some(&data[at * n..(at + 1) * n]);
        let g = |i: u8| u[i as usize];
        // The last hidden layer's slices: the column over a with the fixed units all one.
        let one = |gs: &[u8]| gs.iter().all(|&x| g(x) == g(gs[0]));
        let sliced = |s: &'a Sliced, kind: Slice, gs: &[u8]| {
            Some(if one(gs) {
                s.column(kind, g(gs[0]))
            } else {
                s.missing()
            })
        };
        if let Some(s) = self.k3_sliced {
            match v {
                Vector::K3(a, b) => return sliced(s, Slice::K3abb, &[a, b]),
                Vector::K3aa(a) => return sliced(s, Slice::K3aab, &[a]),
                _ => {}
            }
        }
        if let Some(s) = self.k4_sliced {
            match v {
                Vector::K4(a, b, c) => return sliced(s, Slice::K4abbb, &[a, b, c]),
                Vector::K4aa(a, b) => return sliced(s, Slice::K4aabb, &[a, b]),
                Vector::K4aaa(a) => return sliced(s, Slice::K4aaab, &[a]),
                _ => {}
            }
        }
        if let Some(t) = self.k4_unpaired {
            match v {
                Vector::K4aa(a, b) if g(a) != g(b) => return Some(t.free_col(g(a), g(b))),
                Vector::K4aaa(a) => return Some(t.triple_col(g(a))),
                Vector::K4(a, b, c) => {
                    let [x, y, z] = [g(a), g(b), g(c)];
                    return match (x == y, y == z, x == z) {
                        (true, true, _) => Some(t.triple_row(x)),
                        (true, false, _) => Some(t.double_col(x, z)),
                        (false, true, _) => Some(t.double_col(y, x)),
                        (false, false, true) => Some(t.double_col(x, y)),
                        (false, false, false) => None,
                    };
                }
                _ => {}
            }
        }
        if let Some([t, t_t]) = self.k4_triple {
            match v {
                Vector::K4aaa(a) => return Some(t.col_as_slice(g(a))),
                Vector::K4(a, b, c) if g(a) == g(b) && g(b) == g(c) => {
                    return Some(t_t.col_as_slice(g(a)))
                }
                _ => {}
            }
        }
        match v {
            Vector::Coef(j) => Some(&self.coef[j as usize]),
            Vector::Coef2(j) => Some(&self.coef2[j as usize]),
            Vector::Cov(a) => Some(self.cov_col(g(a))),
            Vector::K3(a, b) => self.k3_dense.and_then(|t| col(t.data(), g(a) + n * g(b))),
            Vector::K3aa(a) => self.k3_dense.map(|_| &self.k3aa[g(a) * n..(g(a) + 1) * n]),
            Vector::K3aaa => (!self.k3aaa.is_empty()).then_some(&self.k3aaa[..]),
            Vector::K4(a, b, c) => self
                .k4_dense
                .and_then(|t| col(t.data(), g(a) + n * (g(b) + n * g(c)))),
            Vector::K4aa(a, b) => match (self.k4_dense, self.k4_paired) {
                (Some(_), _) => {
                    let at = g(a) + n * g(b);
                    Some(&self.k4aa[at * n..(at + 1) * n])
                }
                // κ₄[a,a,u,u] = P[a,u] (P symmetric: its column u); κ₄[a,a,u,v], u ≠ v, is 0.
                (None, Some(p)) if g(a) == g(b) => Some(p.0.col_as_slice(g(a))),
                _ => None,
            },
            Vector::K4aaa(a) => self.k4_dense.map(|_| &self.k4aaa[g(a) * n..(g(a) + 1) * n]),
            Vector::K4aaaa => (!self.k4aaaa.is_empty()).then_some(&self.k4aaaa[..]),
        }
    }

    /// A number factor at fixed units `u`.
    fn number(&self, f: &Number, powers: &[u8], u: &[usize]) -> f64 {
        match f {
            Number::Coef(g, j) => {
                let g = *g as usize;
                self.units[u[g]].b[powers[g] as usize][*j as usize]
            }
            Number::Block(gs) => {
                let mut idx = [0usize; 4];
                for (slot, &g) in gs.iter().enumerate() {
                    idx[slot] = u[g as usize];
                }
                match gs.len() {
                    2 => self.cov[idx[0] + self.n * idx[1]],
                    3 => self.k3.get(&idx[..3]),
                    _ => self.k4.map_or(0.0, |t| t.get(&idx[..4])),
                }
            }
        }
    }
}

/// Reusable lists of the products of one column: (number, range of `vectors`).
#[derive(Default)]
pub struct Column<'s> {
    products: Vec<(f64, u32, u32)>,
    vectors: Vec<&'s [f64]>,
    numbers: Vec<f64>,
    /// A pattern's distinct vectors at the column's fixed units (`None`: not carried, 0).
    found: Vec<Option<&'s [f64]>>,
}

impl<'s> Column<'s> {
    /// Empties the lists.
    pub fn clear(&mut self) {
        self.products.clear();
        self.vectors.clear();
    }

    /// Adds `pattern`'s products at fixed units `u` (u\[0\] unused).
    pub fn add_pattern(&mut self, pattern: &Pattern, src: &'s Sources<'_>, u: &[usize]) {
        self.numbers.clear();
        self.numbers.extend(
            pattern
                .numbers
                .iter()
                .map(|f| src.number(f, &pattern.powers, u)),
        );
        self.found.clear();
        self.found
            .extend(pattern.vectors.iter().map(|&v| src.vector(v, u)));
        let (numbers, found) = (&self.numbers, &self.found);
        for p in &pattern.products {
            // A product with a vector not carried is 0: skipped before its number is formed.
            if p.vectors.iter().any(|&v| found[v as usize].is_none()) {
                continue;
            }
            let scale = p.scale(numbers);
            if scale == 0.0 {
                continue;
            }
            let lo = self.vectors.len();
            self.vectors
                .extend(p.vectors.iter().filter_map(|&v| found[v as usize]));
            self.products
                .push((scale, lo as u32, self.vectors.len() as u32));
        }
    }

    /// Adds the product `scale` · Π `vectors`.
    pub fn add(&mut self, scale: f64, vectors: &[&'s [f64]]) {
        let lo = self.vectors.len() as u32;
        self.vectors.extend_from_slice(vectors);
        self.products.push((scale, lo, self.vectors.len() as u32));
    }

    /// out\[a\] = Σ_k s_k Π_{v ∈ V_k} v\[a\] for a < out.len().
    pub fn eval(&self, out: &mut [f64]) {
        dispatch(Products {
            products: &self.products,
            vectors: &self.vectors,
            out,
        });
    }
}

/// The SIMD kernel of [`Column::eval`]: lanes over a, the products accumulated in registers.
/// [`GROUP`] lane blocks are evaluated side by side, so that each product's chain of
/// multiplications and the accumulating additions run as that many independent chains
/// (one block alone waits on the latency of each dependent multiply and add); every entry's
/// sum is formed in the same order either way, so the results are identical.
struct Products<'a> {
    products: &'a [(f64, u32, u32)],
    vectors: &'a [&'a [f64]],
    out: &'a mut [f64],
}

/// Lane blocks evaluated side by side in [`Products`].
const GROUP: usize = 4;

impl WithSimd for Products<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let (n, w) = (self.out.len(), S::F64_LANES);
        let mut start = 0;
        while start + GROUP * w <= n {
            let mut acc = [simd.splat_f64s(0.0); GROUP];
            for &(scale, lo, hi) in self.products {
                let mut p = [simd.splat_f64s(scale); GROUP];
                for v in &self.vectors[lo as usize..hi as usize] {
                    let v = &v[start..start + GROUP * w];
                    for (k, pk) in p.iter_mut().enumerate() {
                        *pk = simd.mul_f64s(*pk, load(simd, &v[k * w..(k + 1) * w]));
                    }
                }
                for (a, pk) in acc.iter_mut().zip(p) {
                    *a = simd.add_f64s(*a, pk);
                }
            }
            for (k, a) in acc.into_iter().enumerate() {
                let at = start + k * w;
                store(simd, &mut self.out[at..at + w], a);
            }
            start += GROUP * w;
        }
        while start < n {
            let end = (start + w).min(n);
            let mut acc = simd.splat_f64s(0.0);
            for &(scale, lo, hi) in self.products {
                let mut p = simd.splat_f64s(scale);
                for v in &self.vectors[lo as usize..hi as usize] {
                    p = simd.mul_f64s(p, load(simd, &v[start..end]));
                }
                acc = simd.add_f64s(acc, p);
            }
            store(simd, &mut self.out[start..end], acc);
            start = end;
        }
    }
}

#[cfg(test)]
mod tests {
    use faer::Mat;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    use super::super::chaos::UnitChaos;
    use super::super::closure::ChaosRule;
    use super::super::fill::tests::random_sym;
    use super::super::paired::{Kappa4, Paired};
    use super::super::sliced::Sliced;
    use super::super::tensor::Kappa3;
    use super::super::triple4::Unpaired4;
    use super::super::unpaired_factored::PairedTriple;
    use super::{Column, Pattern, Sources};
    use crate::net::Activation;

    /// [`Column::add_pattern`] as it was before the distinct vectors were looked up once per
    /// column: each product's number first, then each of its vectors looked up where it
    /// occurs (the reference the shared lookup must equal bit for bit).
    fn add_per_factor<'s>(
        col: &mut Column<'s>,
        pattern: &Pattern,
        src: &'s Sources<'_>,
        u: &[usize],
    ) {
        let numbers: Vec<f64> = (pattern.numbers.iter())
            .map(|f| src.number(f, &pattern.powers, u))
            .collect();
        'product: for p in &pattern.products {
            let scale = p.scale(&numbers);
            if scale == 0.0 {
                continue;
            }
            let mut vectors = Vec::new();
            for &v in &p.vectors {
                match src.vector(pattern.vectors[v as usize], u) {
                    Some(x) => vectors.push(x),
                    None => continue 'product,
                }
            }
            col.add(scale, &vectors);
        }
    }

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
        Mat::from_fn(rows, cols, |_, _| {
            0.1 * rng.sample::<f64, _>(StandardNormal)
        })
    }

    /// Every compiled pattern of the rules of order 3 (plain, unpaired, factorable) and 4, at
    /// every tuple of fixed units (repeated ones included), over h's κ held dense, paired,
    /// unpaired, as T beside P, and as the last layer's slices: the products that
    /// [`Column::add_pattern`] lists (their numbers and vectors) and the column it evaluates
    /// equal [`add_per_factor`]'s bit for bit, and some products are skipped for a vector
    /// not carried.
    #[test]
    fn shared_vector_lookup_equals_the_lookup_per_factor() {
        let n = 5;
        let mut rng = StdRng::seed_from_u64(62);
        let a = random(n, n, &mut rng);
        let cov = &a * a.transpose() + Mat::<f64>::identity(n, n);
        let (k3, k4) = (random_sym(n, 3, &mut rng), random_sym(n, 4, &mut rng));
        let q = random(n, n, &mut rng);
        let paired = Paired(&q + q.transpose());
        let mut by_double = vec![0.0; n * n * n];
        for x in &mut by_double {
            *x = 0.1 * rng.sample::<f64, _>(StandardNormal);
        }
        let unpaired = Unpaired4::new(paired.clone(), random(n, n, &mut rng), by_double);
        let triple = PairedTriple::new(paired.clone(), random(n, n, &mut rng));
        let s = random(n, n, &mut rng);
        let sliced3 = Sliced::new(s.clone(), None);
        let sliced4 = Sliced::new(s, Some((random(n, n, &mut rng), random(n, n, &mut rng))));
        let kappas: [(&dyn Kappa3, Option<&dyn Kappa4>); 7] = [
            (&k3, Some(&k4)),
            (&k3, Some(&paired)),
            (&k3, Some(&unpaired)),
            (&sliced3, Some(&triple)),
            (&sliced3, Some(&paired)),
            (&sliced4, Some(&sliced4)),
            (&k3, None),
        ];
        let rules = [
            ChaosRule::new(3),
            ChaosRule::new(4),
            ChaosRule::unpaired(),
            ChaosRule::unpaired_factorable(),
        ];
        let mut skipped = 0;
        for act in [Activation::Relu, Activation::Tanh] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 0.6, cov[(i, i)].sqrt()))
                .collect();
            for (k3, k4) in kappas {
                let src = Sources::new(&cov, k3, k4, &units);
                for pattern in rules.iter().flat_map(|r| r.compiled_patterns()) {
                    let fixed = pattern.powers.len() - 1;
                    for f in 0..n.pow(fixed as u32) {
                        let u: Vec<usize> = std::iter::once(0)
                            .chain((0..fixed).map(|k| f / n.pow(k as u32) % n))
                            .collect();
                        let (mut got, mut want) = (Column::default(), Column::default());
                        got.add_pattern(pattern, &src, &u);
                        add_per_factor(&mut want, pattern, &src, &u);
                        let bits = |c: &Column<'_>| -> Vec<(u64, Vec<*const f64>)> {
                            (c.products.iter())
                                .map(|&(s, lo, hi)| {
                                    let v = &c.vectors[lo as usize..hi as usize];
                                    (s.to_bits(), v.iter().map(|x| x.as_ptr()).collect())
                                })
                                .collect()
                        };
                        assert_eq!(bits(&got), bits(&want), "{act:?} u {u:?}");
                        let (mut x, mut y) = (vec![0.0; n], vec![0.0; n]);
                        got.eval(&mut x);
                        want.eval(&mut y);
                        let same = x.iter().zip(&y).all(|(x, y)| x.to_bits() == y.to_bits());
                        assert!(same, "{act:?} u {u:?}: {x:?} against {y:?}");
                        let found = got.found.iter().filter(|v| v.is_some()).count();
                        skipped += usize::from(found < got.found.len());
                    }
                }
            }
        }
        assert!(skipped > 0, "no column lacked a vector");
    }
}
