//! The chaos rule's output tensors and matrices a column at a time ([`super::batched`]).
//!
//! κ₃(z) and κ₄(z) are stored dense with the first index fastest, so the entries with the last
//! k − 1 indices fixed form a contiguous column over the first, a. For every sorted tuple r of
//! the last indices, the column over a is evaluated with a as the free unit, which is right
//! wherever a is not in r (the formulas of [`super::closure`] with a of multiplicity 1), and
//! copied to the columns of r's permutations. A second pass sets the entries with a repeated
//! index: from a column in which one of their units of multiplicity 1 is the free index, or —
//! κ₃\[a,a,a\], κ₄\[a,a,b,b\], κ₄\[a,a,a,a\], O(N²) of them — one at a time. Work: N^{k−1}/(k−1)!
//! columns of N (κ₃: N³/2 entry evaluations, κ₄: N⁴/6) in SIMD lanes, in parallel over the last
//! index; every entry of distinct units is evaluated once per choice of its free unit, so the
//! tensors are symmetric to rounding.

use rayon::prelude::*;

use super::batched::{Column, Pattern, Sources};
use super::closure::DegreeTerms;
use super::tensor::SymTensor;

/// The rule's diagram lists compiled for each column shape.
#[derive(Clone, Debug)]
pub struct Patterns {
    /// P\[a,b\] = E ẑ_aẑ_b (full list, two units).
    pub full_pair: Pattern,
    /// ΔC\[a,b\] (κ-only list, two units).
    pub kappa_pair: Pattern,
    /// κ₃\[a,b,c\], distinct units.
    k3_distinct: Pattern,
    /// κ₃\[a,b,b\].
    k3_double: Pattern,
    /// κ₄\[a,b,c,d\], distinct units.
    k4_distinct: Pattern,
    /// κ₄\[a,b,c,c\].
    k4_double: Pattern,
    /// κ₄\[a,b,b,b\].
    k4_triple: Pattern,
    /// E ẑ_a²ẑ_b² (full list, two units of multiplicity 2): z's paired κ₄.
    k4_paired: Pattern,
}

impl Patterns {
    /// From the rule's lists (indexed by the number of distinct units).
    pub fn new(
        full: &[Vec<DegreeTerms>],
        kappa: &[Vec<DegreeTerms>],
        distinct: &[Vec<DegreeTerms>],
    ) -> Self {
        Patterns {
            full_pair: Pattern::compile(&full[2], &[1, 1]),
            kappa_pair: Pattern::compile(&kappa[2], &[1, 1]),
            k3_distinct: Pattern::compile(&distinct[3], &[1, 1, 1]),
            k3_double: Pattern::compile(&full[2], &[1, 2]),
            k4_distinct: Pattern::compile(&distinct[4], &[1, 1, 1, 1]),
            k4_double: Pattern::compile(&full[3], &[1, 1, 2]),
            k4_triple: Pattern::compile(&full[2], &[1, 3]),
            k4_paired: Pattern::compile(&full[2], &[2, 2]),
        }
    }
}

impl Patterns {
    /// Every pattern (the reference of [`super::batched`]'s tests).
    #[cfg(test)]
    pub(super) fn all(&self) -> Vec<&Pattern> {
        vec![
            &self.full_pair,
            &self.kappa_pair,
            &self.k3_distinct,
            &self.k3_double,
            &self.k4_distinct,
            &self.k4_double,
            &self.k4_triple,
            &self.k4_paired,
        ]
    }
}

/// The lower moments the cumulants subtract: Δm_a = E ẑ_a and P (N × N, column-major).
pub struct Reduced<'a> {
    pub dm: &'a [f64],
    pub p: &'a [f64],
}

impl Reduced<'_> {
    fn p(&self, a: usize, b: usize) -> f64 {
        self.p[a + self.dm.len() * b]
    }

    fn p_col(&self, b: usize) -> &[f64] {
        let n = self.dm.len();
        &self.p[b * n..(b + 1) * n]
    }
}

/// The symmetric N × N matrix (column-major) whose entries a < b are `pattern`'s column b and
/// whose diagonal is `diag`.
pub fn pair_matrix(
    pattern: &Pattern,
    src: &Sources<'_>,
    diag: impl Fn(usize) -> f64 + Sync,
) -> Vec<f64> {
    let n = src.dim();
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each_init(Column::default, |col, (b, column)| {
            col.clear();
            col.add_pattern(pattern, src, &[0, b]);
            col.eval(&mut column[..b]);
            column[b] = diag(b);
        });
    for b in 0..n {
        for a in 0..b {
            out[b + n * a] = out[a + n * b];
        }
    }
    out
}

/// Writes z's κ₃ into `out` (resized to N units); `entry` gives one sorted entry.
pub fn fill3(
    patterns: &Patterns,
    src: &Sources<'_>,
    z: &Reduced<'_>,
    out: &mut SymTensor,
    entry: impl Fn(&[usize]) -> f64,
) {
    let n = src.dim();
    out.resize(n);
    let columns = Columns::new(out.data_mut(), n);
    (0..n).into_par_iter().for_each_init(
        || (Column::default(), vec![0.0; n]),
        |(col, buf), c| {
            for b in 0..=c {
                col.clear();
                if b < c {
                    col.add_pattern(&patterns.k3_distinct, src, &[0, b, c]);
                } else {
                    // M − Δm_a P_bb − 2 Δm_b P_ab.
                    col.add_pattern(&patterns.k3_double, src, &[0, b]);
                    col.add(-z.p(b, b), &[z.dm]);
                    col.add(-2.0 * z.dm[b], &[z.p_col(b)]);
                }
                col.eval(buf);
                columns.write(b + n * c, buf);
                if b < c {
                    columns.write(c + n * b, buf);
                }
            }
        },
    );
    for x in 0..n {
        out.set_sym(&[x, x, x], entry(&[x, x, x]));
        for y in x + 1..n {
            let v = out.get(&[y, x, x]);
            out.set_sym(&[x, x, y], v);
            let v = out.get(&[x, y, y]);
            out.set_sym(&[x, y, y], v);
        }
    }
}

/// z's κ₃ at repeated units as an N × N matrix S\[a,b\] = κ₃\[a,a,b\]: the columns of
/// [`fill3`]'s κ₃\[a,b,b\] (a the free unit), transposed, with the diagonal κ₃\[a,a,a\] from
/// `diag`.
pub fn repeated3(
    patterns: &Patterns,
    src: &Sources<'_>,
    z: &Reduced<'_>,
    diag: impl Fn(usize) -> f64 + Sync,
) -> faer::Mat<f64> {
    let n = src.dim();
    let mut abb = vec![0.0; n * n];
    abb.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each_init(Column::default, |col, (b, column)| {
            col.clear();
            col.add_pattern(&patterns.k3_double, src, &[0, b]);
            col.add(-z.p(b, b), &[z.dm]);
            col.add(-2.0 * z.dm[b], &[z.p_col(b)]);
            col.eval(column);
            column[b] = diag(b);
        });
    crate::io::filled(n, n, |a, b| abb[b + n * a])
}

/// z's paired κ₄ Q\[a,b\] = κ₄\[a,a,b,b\] ([`super::paired`]) from z's κ₃ at repeated units
/// `s` (S\[a,b\] = κ₃\[a,a,b\]), a column over a per b:
///
/// ```text
/// κ₄[a,a,b,b] = E ẑ_a²ẑ_b² − P_aa P_bb − 2 P_ab² − 2 Δm_a S[b,a] − 2 Δm_b S[a,b]   (a ≠ b)
/// ```
///
/// (`ChaosRule::entry`'s formula for the sorted tuple (a,a,b,b)); the diagonal κ₄\[a,a,a,a\]
/// from `diag`.
pub fn paired4(
    patterns: &Patterns,
    src: &Sources<'_>,
    z: &Reduced<'_>,
    s: &faer::Mat<f64>,
    diag: impl Fn(usize) -> f64 + Sync,
) -> faer::Mat<f64> {
    let n = src.dim();
    let p_diag: Vec<f64> = (0..n).map(|a| z.p(a, a)).collect();
    // Row b of S as a contiguous vector over a: S[b, a].
    let s_rows: Vec<f64> = (0..n * n).map(|k| s[(k / n, k % n)]).collect();
    let s_cols: Vec<f64> = (0..n * n).map(|k| s[(k % n, k / n)]).collect();
    let mut out = vec![0.0; n * n];
    out.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each_init(Column::default, |col, (b, column)| {
            col.clear();
            col.add_pattern(&patterns.k4_paired, src, &[0, b]);
            col.add(-z.p(b, b), &[&p_diag]);
            col.add(-2.0, &[z.p_col(b), z.p_col(b)]);
            col.add(-2.0, &[z.dm, &s_rows[b * n..(b + 1) * n]]);
            col.add(-2.0 * z.dm[b], &[&s_cols[b * n..(b + 1) * n]]);
            col.eval(&mut column[..b]);
            column[b] = diag(b);
        });
    crate::io::filled(n, n, |a, b| out[a.min(b) + n * a.max(b)])
}

/// Writes z's κ₄ into `out` (resized to N units) from z's κ₃ `k3z`; `entry` gives one sorted
/// entry.
pub fn fill4(
    patterns: &Patterns,
    src: &Sources<'_>,
    z: &Reduced<'_>,
    k3z: &SymTensor,
    out: &mut SymTensor,
    entry: impl Fn(&[usize]) -> f64,
) {
    let n = src.dim();
    out.resize(n);
    let columns = Columns::new(out.data_mut(), n);
    (0..n).into_par_iter().for_each_init(
        || (Column::default(), vec![0.0; n]),
        |(col, buf), d| {
            for c in 0..=d {
                for b in 0..=c {
                    col.clear();
                    if b < c && c < d {
                        col.add_pattern(&patterns.k4_distinct, src, &[0, b, c, d]);
                    } else {
                        if b == d {
                            col.add_pattern(&patterns.k4_triple, src, &[0, b]);
                        } else {
                            let (single, double) = if b == c { (d, b) } else { (b, d) };
                            col.add_pattern(&patterns.k4_double, src, &[0, single, double]);
                        }
                        subtract_lower(col, z, k3z, [b, c, d]);
                    }
                    col.eval(buf);
                    for q in permutations([b, c, d]) {
                        columns.write(q[0] + n * (q[1] + n * q[2]), buf);
                    }
                }
            }
        },
    );
    fix_repeated4(out.data_mut(), n, entry);
}

/// Adds −(Σ₃ P P + Σ₄ Δm κ₃(z)) to a κ₄ column over the free unit a with fixed units `r`
/// (`ChaosRule::entry`'s subtraction, a of multiplicity 1).
fn subtract_lower<'s>(
    col: &mut Column<'s>,
    z: &'s Reduced<'_>,
    k3z: &'s SymTensor,
    [b, c, d]: [usize; 3],
) {
    let n = z.dm.len();
    let k3col = |i: usize, j: usize| &k3z.data()[(i + n * j) * n..(i + n * j + 1) * n];
    col.add(-z.p(c, d), &[z.p_col(b)]);
    col.add(-z.p(b, d), &[z.p_col(c)]);
    col.add(-z.p(b, c), &[z.p_col(d)]);
    col.add(-k3z.get(&[b, c, d]), &[z.dm]);
    col.add(-z.dm[b], &[k3col(c, d)]);
    col.add(-z.dm[c], &[k3col(b, d)]);
    col.add(-z.dm[d], &[k3col(b, c)]);
}

/// z's κ₄\[a,a,a,b\] as T\[a,b\] and κ₄\[a,a,b,c\] in [`super::triple4::Unpaired4`]'s layout
/// (`by_double[b + N(c + N a)]`) from z's κ₃ `k3z`, a column over the free unit per fixed
/// units: κ₄\[·,b,b,b\] (N columns) and κ₄\[·,c,x,x\] (N² half columns) as [`fill4`] forms them.
/// Entries whose free unit meets a fixed one are left for the caller (their classes are
/// carried elsewhere).
pub fn unpaired4(
    patterns: &Patterns,
    src: &Sources<'_>,
    z: &Reduced<'_>,
    k3z: &SymTensor,
) -> (faer::Mat<f64>, Vec<f64>) {
    let n = src.dim();
    let triple = triple4(
        patterns,
        src,
        z,
        |b| k3z.get(&[b, b, b]),
        |b| &k3z.data()[(b + n * b) * n..(b + n * b + 1) * n],
    );
    // Block x is the symmetric Q_x[a,y] = κ₄[a,y,x,x]: column y is formed over a < y (the
    // units a and y both of multiplicity 1, the rule's terms are symmetric in them) and the
    // rest mirrored from the columns a > y.
    let mut by_double = vec![0.0; n * n * n];
    by_double
        .par_chunks_mut((n * n).max(1))
        .enumerate()
        .for_each_init(Column::default, |col, (x, block)| {
            for (y, column) in block.chunks_mut(n).enumerate() {
                if y == x {
                    continue;
                }
                col.clear();
                col.add_pattern(&patterns.k4_double, src, &[0, y, x]);
                subtract_lower(col, z, k3z, [y, x, x]);
                col.eval(&mut column[..y]);
            }
            for y in 0..n {
                for a in y + 1..n {
                    block[a + n * y] = block[y + n * a];
                }
            }
        });
    (triple, by_double)
}

/// z's κ₄\[a,a,a,b\] as T\[a,b\] (diagonal unset: the caller's class has none), from z's κ₃ at
/// repeated units only — `k3_bbb(b)` = κ₃\[b,b,b\] and `k3_abb(b)` = κ₃\[a,b,b\] over a — a
/// column κ₄\[·,b,b,b\] over the free unit per b, as [`fill4`] forms it:
///
/// ```text
/// κ₄[a,b,b,b] = E ẑ_a ẑ_b³ − 3 P_bb P_ab − Δm_a κ₃[b,b,b] − 3 Δm_b κ₃[a,b,b]   (a ≠ b)
/// ```
///
/// (`ChaosRule::entry`'s formula for the sorted tuple, the terms in `subtract_lower`'s order:
/// the dense path's [`unpaired4`] and the factored path's T are the same sums).
pub fn triple4<'k>(
    patterns: &Patterns,
    src: &Sources<'_>,
    z: &Reduced<'_>,
    k3_bbb: impl Fn(usize) -> f64 + Sync,
    k3_abb: impl Fn(usize) -> &'k [f64] + Sync,
) -> faer::Mat<f64> {
    let n = src.dim();
    let mut abbb = vec![0.0; n * n];
    abbb.par_chunks_mut(n.max(1))
        .enumerate()
        .for_each_init(Column::default, |col, (b, column)| {
            col.clear();
            col.add_pattern(&patterns.k4_triple, src, &[0, b]);
            let pbb = z.p(b, b);
            for _ in 0..3 {
                col.add(-pbb, &[z.p_col(b)]);
            }
            col.add(-k3_bbb(b), &[z.dm]);
            for _ in 0..3 {
                col.add(-z.dm[b], &[k3_abb(b)]);
            }
            col.eval(column);
        });
    crate::io::filled(n, n, |a, b| abbb[b + n * a])
}

/// The second pass of [`fill4`]: in every column r (a sorted triple) the entries whose free
/// unit a is one of r's units, copied from a column of the same sorted 4-tuple in which a unit
/// of multiplicity 1 is free (the first pass left those right, and this pass does not write
/// them), or — κ₄\[x,x,y,y\], κ₄\[x,x,x,x\], which have none — from `entry`. ~3N³ writes,
/// each into a column of r's permutations.
fn fix_repeated4(data: &mut [f64], n: usize, entry: impl Fn(&[usize]) -> f64) {
    // entry([x,x,y,y]) at x + n·y for x ≤ y (x = y: [x,x,x,x]).
    let mut unpaired = vec![0.0; n * n];
    for y in 0..n {
        for x in 0..=y {
            unpaired[x + n * y] = entry(&[x, x, y, y]);
        }
    }
    let column = |q: [usize; 3]| n * (q[0] + n * (q[1] + n * q[2]));
    for d in 0..n {
        for c in 0..=d {
            for b in 0..=c {
                let r = [b, c, d];
                for (k, &x) in r.iter().enumerate() {
                    if k > 0 && r[k - 1] == x {
                        continue;
                    }
                    let mut t = [x, b, c, d];
                    t.sort_unstable();
                    let value = match singleton(&t) {
                        Some((s, rest)) => data[s + column(rest)],
                        None => unpaired[t[0] + n * t[3]],
                    };
                    for q in permutations(r) {
                        data[x + column(q)] = value;
                    }
                }
            }
        }
    }
}

/// The distinct permutations of the triple `r`.
fn permutations(r: [usize; 3]) -> impl Iterator<Item = [usize; 3]> {
    let [b, c, d] = r;
    let all = [
        [b, c, d],
        [b, d, c],
        [c, b, d],
        [c, d, b],
        [d, b, c],
        [d, c, b],
    ];
    (0..6)
        .filter(move |&k| !all[..k].contains(&all[k]))
        .map(move |k| all[k])
}

/// A unit of multiplicity 1 in the sorted 4-tuple `t` and the other three, if there is one.
fn singleton(t: &[usize; 4]) -> Option<(usize, [usize; 3])> {
    (0..4)
        .find(|&k| t.iter().filter(|&&u| u == t[k]).count() == 1)
        .map(|k| {
            let mut rest = [0; 3];
            let mut at = 0;
            for (i, &u) in t.iter().enumerate() {
                if i != k {
                    rest[at] = u;
                    at += 1;
                }
            }
            (t[k], rest)
        })
}

/// Columns of N entries of one tensor, written from several threads, each column by one.
struct Columns {
    ptr: *mut f64,
    n: usize,
    len: usize,
}

// SAFETY: `Columns` only hands out writes to columns, and its users write each column from one
// thread (see `write`); the buffer outlives every use (it is borrowed for the fill's duration).
unsafe impl Sync for Columns {}

impl Columns {
    fn new(data: &mut [f64], n: usize) -> Self {
        Columns {
            ptr: data.as_mut_ptr(),
            n,
            len: data.len(),
        }
    }

    /// Copies `src` (N entries) into column `at`. The fills above write each column from the
    /// one task of the sorted tuple it is a permutation of, so no two threads write one column.
    fn write(&self, at: usize, src: &[f64]) {
        assert!(src.len() == self.n && (at + 1) * self.n <= self.len);
        // SAFETY: the range is inside the buffer (checked above); no other thread touches this
        // column (see the doc comment) and nothing reads the buffer until the parallel loop ends.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.ptr.add(at * self.n), self.n) }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use faer::Mat;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    use super::super::chaos::UnitChaos;
    use super::super::closure::{ChaosRule, Input};
    use super::super::tensor::{Kappa3, SymTensor};
    use crate::net::Activation;

    /// Δm and P (column-major N×N) of z by the per-entry rule: the reference the
    /// column-wise fill is checked against.
    fn reference_moments(rule: &ChaosRule, h: &Input<'_>, n: usize) -> (Vec<f64>, Vec<f64>) {
        let dm = (0..n).map(|a| rule.entry_moment(h, &[a])).collect();
        let p = (0..n * n)
            .map(|f| {
                let (i, j) = (f % n, f / n);
                rule.entry_moment(h, &[i.min(j), i.max(j)])
            })
            .collect();
        (dm, p)
    }

    /// A symmetric tensor with Gaussian entries.
    pub(in crate::propagate::higher) fn random_sym(
        n: usize,
        order: usize,
        rng: &mut StdRng,
    ) -> SymTensor {
        let mut t = SymTensor::zeros(n, order);
        for f in 0..n.pow(order as u32) {
            let idx: Vec<usize> = (0..order).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|w| w[0] <= w[1]) {
                t.set_sym(&idx, 0.1 * rng.sample::<f64, _>(StandardNormal));
            }
        }
        t
    }

    /// Every entry of the column-wise κ₃/κ₄ equals the rule's per-entry formula, and every
    /// permutation of an entry holds it, on random h (Σ, κ₃, κ₄) through relu and tanh.
    #[test]
    fn columns_equal_the_per_entry_rule() {
        let n = 7;
        let mut rng = StdRng::seed_from_u64(5);
        let a = Mat::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
        let cov = &a * a.transpose() + Mat::<f64>::identity(n, n);
        let (k3, k4) = (random_sym(n, 3, &mut rng), random_sym(n, 4, &mut rng));
        for act in [Activation::Relu, Activation::Tanh] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 1.0, cov[(i, i)].sqrt()))
                .collect();
            let h = Input {
                cov: &cov,
                k3: &k3,
                k4: Some(&k4),
                units: &units,
            };
            let rule = ChaosRule::new(4);
            let (mut o3, mut o4) = (SymTensor::zeros(0, 3), SymTensor::zeros(0, 4));
            rule.tensors(&h, &mut o3, Some(&mut o4));
            let (dm, p) = reference_moments(&rule, &h, n);
            let z = super::Reduced { dm: &dm, p: &p };
            let mut worst: f64 = 0.0;
            for (t, order) in [(&o3, 3usize), (&o4, 4)] {
                let scale = t.max_abs();
                for f in 0..n.pow(order as u32) {
                    let idx: Vec<usize> = (0..order).map(|k| f / n.pow(k as u32) % n).collect();
                    let mut sorted = idx.clone();
                    sorted.sort_unstable();
                    let want =
                        rule.entry(&h, &z, (order == 4).then_some(&o3 as &dyn Kappa3), &sorted);
                    worst = worst.max((t.get(&idx) - want).abs() / scale);
                }
            }
            assert!(
                worst < 1e-13,
                "{act:?}: largest relative deviation {worst:e}"
            );
        }
    }

    /// A random h for order 3 over `n` units: Σ, κ₃ and the paired κ₄, and the generator.
    fn random_order3(
        n: usize,
        seed: u64,
    ) -> (Mat<f64>, SymTensor, super::super::paired::Paired, StdRng) {
        let mut rng = StdRng::seed_from_u64(seed);
        let a = Mat::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
        let cov = &a * a.transpose() + Mat::<f64>::identity(n, n);
        let k3 = random_sym(n, 3, &mut rng);
        let q = Mat::from_fn(n, n, |_, _| 0.1 * rng.sample::<f64, _>(StandardNormal));
        let paired = super::super::paired::Paired(&q + q.transpose());
        (cov, k3, paired, rng)
    }

    /// Order 3 (h's κ₄ the paired [`Paired`]): the column-wise κ₃, z's paired κ₄ and the
    /// beyond-budget ΔC equal the per-entry formulas, through relu and tanh.
    #[test]
    fn paired_columns_equal_the_per_entry_rule() {
        use super::super::paired::Kappa4;
        let n = 7;
        let (cov, k3, k4, _) = random_order3(n, 7);
        for act in [Activation::Relu, Activation::Tanh] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 1.0, cov[(i, i)].sqrt()))
                .collect();
            let h = Input {
                cov: &cov,
                k3: &k3,
                k4: Some(&k4 as &dyn Kappa4),
                units: &units,
            };
            let rule = ChaosRule::new(3);
            let mut o3 = SymTensor::zeros(0, 3);
            let o4 = rule.tensors_paired(&h, &mut o3);
            let (dm, p) = reference_moments(&rule, &h, n);
            let z = super::Reduced { dm: &dm, p: &p };
            let mut worst: f64 = 0.0;
            let scale = o3.max_abs();
            for f in 0..n.pow(3) {
                let idx: Vec<usize> = (0..3).map(|k| f / n.pow(k as u32) % n).collect();
                let mut sorted = idx.clone();
                sorted.sort_unstable();
                let want = rule.entry(&h, &z, None, &sorted);
                worst = worst.max((o3.get(&idx) - want).abs() / scale);
            }
            let scale = o4.0.norm_max();
            let beyond = rule.beyond_budget(&h);
            let bscale = beyond.norm_max().max(1e-300);
            for i in 0..n {
                for j in 0..n {
                    let (x, y) = (i.min(j), i.max(j));
                    let want = rule.entry(&h, &z, Some(&o3 as &dyn Kappa3), &[x, x, y, y]);
                    worst = worst.max((o4.0[(i, j)] - want).abs() / scale);
                    let want = rule.beyond_moment(&h, &[x, y]);
                    worst = worst.max((beyond[(i, j)] - want).abs() / bscale);
                }
            }
            assert!(
                worst < 1e-13,
                "{act:?}: largest relative deviation {worst:e}"
            );
        }
    }

    /// Order 3 with h's κ₄ an [`Unpaired4`] (paired, κ₄\[a,a,a,b\], κ₄\[a,a,b,c\]): z's
    /// κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] from the columns equal the per-entry formula, and Δm,
    /// ΔC, z's κ₃ and paired κ₄ equal those from the same entries held as a dense tensor (zero
    /// on four distinct units), through relu and tanh.
    #[test]
    fn unpaired_columns_equal_the_per_entry_rule() {
        use super::super::paired::Kappa4;
        use super::super::triple4::Unpaired4;
        let n = 6;
        let (cov, k3, paired, mut rng) = random_order3(n, 11);
        let t = Mat::from_fn(n, n, |_, _| 0.1 * rng.sample::<f64, _>(StandardNormal));
        let mut by_double = vec![0.0; n * n * n];
        for a in 0..n {
            for c in 0..n {
                for b in 0..c {
                    let v = 0.1 * rng.sample::<f64, _>(StandardNormal);
                    by_double[b + n * (c + n * a)] = v;
                    by_double[c + n * (b + n * a)] = v;
                }
            }
        }
        let k4 = Unpaired4::new(paired, t, by_double);
        let mut dense = SymTensor::zeros(n, 4);
        for f in 0..n.pow(4) {
            let idx: Vec<usize> = (0..4).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|w| w[0] <= w[1]) {
                dense.set_sym(&idx, k4.get(&idx));
            }
        }
        let rule = ChaosRule::unpaired();
        for act in [Activation::Relu, Activation::Tanh] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 1.0, cov[(i, i)].sqrt()))
                .collect();
            let h = Input {
                cov: &cov,
                k3: &k3,
                k4: Some(&k4 as &dyn Kappa4),
                units: &units,
            };
            let hd = Input {
                k4: Some(&dense as &dyn Kappa4),
                ..h
            };
            let (mut o3, mut d3) = (SymTensor::zeros(0, 3), SymTensor::zeros(0, 3));
            let o4 = rule.tensors_unpaired(&h, &mut o3);
            let d4 = rule.tensors_paired(&hd, &mut d3);
            let (dm, p) = reference_moments(&rule, &h, n);
            let z = super::Reduced { dm: &dm, p: &p };
            let at = |f: usize| -> Vec<usize> { (0..4).map(|k| f / n.pow(k as u32) % n).collect() };
            let scale = (0..n.pow(4))
                .map(|f| o4.get(&at(f)).abs())
                .fold(0.0, f64::max);
            assert!(scale > 1e-3, "{act:?}: z's κ₄ entries all ~0");
            let mut worst: f64 = 0.0;
            for f in 0..n.pow(4) {
                let idx = at(f);
                let mut s = idx.clone();
                s.sort_unstable();
                let want = if s.windows(2).all(|w| w[0] < w[1]) {
                    0.0
                } else if s[0] == s[1] && s[2] == s[3] {
                    d4.get(&idx)
                } else {
                    rule.entry(&h, &z, Some(&o3 as &dyn Kappa3), &s)
                };
                worst = worst.max((o4.get(&idx) - want).abs() / scale);
            }
            for (x, y) in o3.data().iter().zip(d3.data()) {
                worst = worst.max((x - y).abs() / o3.max_abs());
            }
            let (inc, dinc) = (rule.increments(&h), rule.increments(&hd));
            for (x, y) in inc.mean.iter().zip(&dinc.mean) {
                worst = worst.max((x - y).abs() / (1.0 + y.abs()));
            }
            worst = worst.max((&inc.cov - &dinc.cov).norm_max() / dinc.cov.norm_max());
            assert!(
                worst < 1e-13,
                "{act:?}: largest relative deviation {worst:e}"
            );
        }
    }
}
