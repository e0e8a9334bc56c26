//! κ₃ held in factored form (issue #16 item 7): a symmetrised sum of rank-one terms,
//!
//! ```text
//! κ₃[a,b,c] = Sym(Σ_r F₀[a,r] F₁[b,r] F₂[c,r]),   Sym(T)[a,b,c] = (1/6) Σ_perms T[perm(a,b,c)]
//! ```
//!
//! exact at every entry, repeated indices included. Its affine map h = W z is W applied to each
//! factor (three M × N × R GEMMs instead of the dense map's 4MN³), and the slice the closures
//! read, κ₃\[i,i,j\] = (1/3)\[(F₀∘F₁)F₂ᵀ + (F₀∘F₂)F₁ᵀ + (F₁∘F₂)F₀ᵀ\]_ij, costs O(N²R).
//!
//! The chaos rule's entries of z's κ₃ over three distinct units ([`super::closure`]) are sums of
//! diagrams over h's Σ and κ₃. Those whose index structure is a *star* — two blocks sharing a
//! centre unit g, each joining it to one other unit: f(a) Σ\[g,a\] Σ\[g,b\], f(a) Σ\[g,a\] κ₃\[b,b,g\],
//! … — are rank N in this form: Σ_g X\[a,g\] Y\[b,g\] δ\[c,g\] (the arms' matrices with their chaos
//! coefficients as X, Y; the centre's on the diagonal). The diagram of the single full κ₃ block,
//! A_j(a)A_j(b)A_j(c) κ₃(h)\[a,b,c\], is h's factors with their rows scaled. The sum over a
//! rule's diagrams is symmetric in the three units, so each diagram may be placed with its
//! centre in the third slot; stars whose first arm is the same matrix are merged into one rank-N
//! block (at order 3 every star has the arm A₁∘Σ: one block per layer). Diagrams of any other
//! structure — the covariance triangle Σ_ab Σ_bc Σ_ca and κ₃\[a,b,c\]Σ_bc — have no rank-O(N)
//! form; a rule with them cannot be carried here (`ChaosRule::star_terms` refuses it; ARC's
//! peer drops them in its factored path as well, `factored_keeps_term`).
//!
//! The entries with a repeated unit (κ₃\[a,a,b\], κ₃\[a,a,a\]) are not those of the stars: the
//! closure gives them exactly as an N × N matrix S (`fill::repeated3`). Before the next map the
//! difference E = κ₃ − Sym(F) (zero on distinct units) is added as one rank-N block: with
//! e\[i,k\] = S\[i,k\] − Sym(F)\[i,i,k\],
//!
//! ```text
//! E = Sym(Σ_i e_i ⊗ e_i ⊗ q_i),   q_i[k] = 3 e[i,k] (k ≠ i),  q_i[i] = e[i,i]
//! ```
//!
//! (an entry (i,i,k), i ≠ k, appears in 2 of the 6 permutations of the first term), mapped as
//! Σ_i W\[:,i\] ⊗ W\[:,i\] ⊗ (W q_i). The rank grows by 2N per layer.
//!
//! These correction terms have two equal factors, and keep them equal through every later map
//! and row scaling (the full block's coefficient goes on their third factor). They are held
//! apart as pairs P = (P₀, P₁), Sym(Σ_t P₀\[·,t\] ⊗ P₀\[·,t\] ⊗ P₁\[·,t\]): mapped by two GEMMs
//! instead of three, with the slice (1/3)\[(P₀∘P₀)P₁ᵀ + 2(P₀∘P₁)P₀ᵀ\] by two products instead of
//! three (half the terms: a sixth of the GEMM flops).

use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatRef, Par};

use super::chaos::UnitChaos;
use super::closure::DegreeTerms;
use super::diagrams::Term;
use crate::error::{Error, Result};

/// κ₃ = Sym(Σ_r F₀\[·,r\] ⊗ F₁\[·,r\] ⊗ F₂\[·,r\] + Σ_t P₀\[·,t\] ⊗ P₀\[·,t\] ⊗ P₁\[·,t\]) over N
/// units (module docs): general terms and terms with two equal factors.
#[derive(Debug, PartialEq)]
pub struct Factored {
    pub factors: [Mat<f64>; 3],
    pub pairs: [Mat<f64>; 2],
}

/// Each factor copied with its block written once ([`crate::io::copied`]), not zeroed by the
/// allocator first: the carry clones h's factors at every layer (`Carry::star4_of`).
impl Clone for Factored {
    fn clone(&self) -> Self {
        Factored {
            factors: std::array::from_fn(|k| crate::io::copied(self.factors[k].as_ref())),
            pairs: std::array::from_fn(|k| crate::io::copied(self.pairs[k].as_ref())),
        }
    }
}

/// What an arm of a star reads: the matrix M\[g, x\] for centre unit g and arm unit x.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Arm {
    /// Σ\[g,x\].
    Cov,
    /// κ₃\[g,g,x\] = S\[g,x\].
    K3Centre,
    /// κ₃\[x,x,g\] = S\[x,g\].
    K3Far,
}

/// One star diagram: `coef` · A_{dg}(g) · Π_arms A_{d}(x) M_arm\[g,x\].
#[derive(Clone, Debug, PartialEq)]
struct Star {
    coef: f64,
    centre_degree: u8,
    /// (arm kind, degree of the arm's unit), the smaller first.
    arms: [(Arm, u8); 2],
}

/// A rule's diagrams of κ₃(z) over three distinct units, sorted into the factored form's shapes.
#[derive(Clone, Debug, PartialEq)]
pub struct StarTerms {
    /// The single-κ₃-block diagram, if the rule has one: (coef, degree of every unit).
    full: Option<(f64, u8)>,
    stars: Vec<Star>,
}

/// The arm of `block` (a Σ or κ₃ block) from centre group `g` to its other group, if it joins
/// g to exactly one other group.
fn arm(block: &[u8], g: u8) -> Option<(Arm, u8)> {
    let other: Vec<u8> = block.iter().copied().filter(|&x| x != g).collect();
    let at_g = block.len() - other.len();
    if other.is_empty() || other.iter().any(|&x| x != other[0]) {
        return None;
    }
    let kind = match (block.len(), at_g) {
        (2, 1) => Arm::Cov,
        (3, 2) => Arm::K3Centre,
        (3, 1) => Arm::K3Far,
        _ => return None,
    };
    Some((kind, other[0]))
}

/// The star of `term` (two blocks with one common group, each joining it to another), if it is
/// one.
fn star(term: &Term) -> Option<Star> {
    let [b0, b1] = term.blocks.as_slice() else {
        return None;
    };
    (0..3u8).find_map(|g| {
        let (k0, x0) = arm(b0.groups(), g)?;
        let (k1, x1) = arm(b1.groups(), g)?;
        if x0 == x1 {
            return None;
        }
        let mut arms = [
            (k0, term.degrees[x0 as usize]),
            (k1, term.degrees[x1 as usize]),
        ];
        arms.sort();
        Some(Star {
            coef: term.coef,
            centre_degree: term.degrees[g as usize],
            arms,
        })
    })
}

/// Whether the factored κ₃ carries `term` (a diagram of κ₃(z) over three distinct units): the
/// single full κ₃ block with one degree for every unit, or a star.
pub fn carried(term: &Term) -> bool {
    full_block(term) || star(term).is_some()
}

/// Whether `term` is the single κ₃ block over the three units, every unit of one degree.
fn full_block(term: &Term) -> bool {
    let one_block = matches!(term.blocks.as_slice(), [b] if b.groups() == [0, 1, 2]);
    one_block && term.degrees.iter().all(|&d| d == term.degrees[0])
}

impl StarTerms {
    /// Whether z's full κ₃ block is h's factors with their rows scaled by β = B_{1,1} and
    /// coefficient 1 (the single full κ₃ diagram at degree 1): the next map's first columns
    /// are then h's factors mapped by W diag(β) ([`super::star4::HKappa3::factored_with_slice`]).
    pub fn full_is_beta(&self) -> bool {
        self.full == Some((1.0, 1))
    }

    /// Sorts `list` (the rule's κ₃(z) diagrams over three distinct units); an error names the
    /// first diagram that is neither a star nor the single full κ₃ block, or a second full
    /// block (z's factors are h's scaled in place: one scaling).
    pub(super) fn new(list: &[DegreeTerms]) -> Result<Self> {
        let mut out = StarTerms {
            full: None,
            stars: Vec::new(),
        };
        for dt in list {
            for term in &dt.terms {
                if full_block(term) {
                    if out.full.is_some() {
                        return Err(Error::Unsupported(format!(
                            "the factored κ₃ carries one full κ₃ diagram; the rule has a \
                             second at degrees {:?}",
                            dt.degrees
                        )));
                    }
                    out.full = Some((term.coef, dt.degrees[0]));
                } else if let Some(s) = star(term) {
                    out.stars.push(s);
                } else {
                    return Err(Error::Unsupported(format!(
                        "the factored κ₃ carries star diagrams only; the rule has {:?} at \
                         degrees {:?}",
                        term.blocks, dt.degrees
                    )));
                }
            }
        }
        Ok(out)
    }

    /// z's factored κ₃ on distinct units from h's: Σ (rank N), κ₃ (`k3`, factored, taken
    /// and reused as z's storage) and its slice `s` = κ₃(h)\[a,a,b\], and the units' chaos
    /// coefficients. Exact on distinct units only (the repeated ones are corrected by
    /// [`Factored::map`]). The full block's factors are h's with their rows scaled by
    /// D = diag(A_d) in place (the coefficient on the first factor of the general terms, on
    /// the third of the pairs), the star blocks' \[X, Y, I\]
    /// appended after them. Returned with its own slice Sym(F)\[i,i,k\] ([`Factored::slice`]),
    /// formed in O(N²) per block: the full block has c·D²·s·D, since
    /// (DF₀∘DF₁)(DF₂)ᵀ = D²(F₀∘F₁)F₂ᵀD for each of the three pairings; a star block \[X, Y, I\]
    /// has (1/3)(X∘Y + diag(X)Yᵀ + diag(Y)Xᵀ), diag(X) the diagonal matrix of X's diagonal.
    pub fn closure(
        &self,
        cov: &Mat<f64>,
        mut k3: Factored,
        s: &Mat<f64>,
        units: &[UnitChaos],
    ) -> (Factored, Mat<f64>) {
        let n = units.len();
        let a = |d: u8, u: usize| units[u].b[1][d as usize];
        let mut own = crate::io::zeroed(n, n);
        let full = self.full.filter(|_| k3.rank() > 0);
        if let Some((coef, d)) = full {
            let scale = |f: &mut Mat<f64>, c: f64| {
                let rows: Vec<f64> = (0..n).map(|x| c * a(d, x)).collect();
                for j in 0..f.ncols() {
                    for (v, &scale) in f.col_mut(j).iter_mut().zip(&rows) {
                        *v *= scale;
                    }
                }
            };
            let ([f0, f1, f2], [p0, p1]) = (&mut k3.factors, &mut k3.pairs);
            scale(f0, coef);
            scale(f1, 1.0);
            scale(f2, 1.0);
            scale(p0, 1.0);
            scale(p1, coef);
            own = crate::io::filled(n, n, |i, k| coef * a(d, i) * a(d, i) * a(d, k) * s[(i, k)]);
        } else {
            for p in &mut k3.pairs {
                fit(p, n, 0);
            }
            for f in &mut k3.factors {
                fit(f, n, 0);
            }
        }
        let r = k3.factors[0].ncols();
        // One block per first arm: X[x,g] = A(x) M[g,x]; Y sums the second arms with the
        // centre's coefficient.
        let matrix = |kind: Arm, g: usize, x: usize| match kind {
            Arm::Cov => cov[(g, x)],
            Arm::K3Centre => s[(g, x)],
            Arm::K3Far => s[(x, g)],
        };
        // M[g,·] as column g: Σ and S transposed (S's own columns for K3Far), and each
        // degree's coefficients A_d(x) as one vector, so the sums below run down columns.
        let (cov_t, s_t) = (
            crate::io::copied(cov.transpose()),
            crate::io::copied(s.transpose()),
        );
        let along = |kind: Arm, g: usize| -> &[f64] {
            match kind {
                Arm::Cov => cov_t.col_as_slice(g),
                Arm::K3Centre => s_t.col_as_slice(g),
                Arm::K3Far => s.col_as_slice(g),
            }
        };
        let degrees = units.first().map_or(0, |u| u.b[1].len());
        let coefs: Vec<Vec<f64>> = (0..degrees)
            .map(|d| units.iter().map(|u| u.b[1][d]).collect())
            .collect();
        let mut merged: Vec<((Arm, u8), Mat<f64>)> = Vec::new();
        for st in &self.stars {
            let at = match merged.iter().position(|(k, _)| *k == st.arms[0]) {
                Some(at) => at,
                None => {
                    merged.push((st.arms[0], crate::io::zeroed(n, n)));
                    merged.len() - 1
                }
            };
            let (kind, d) = st.arms[1];
            let y = &mut merged[at].1;
            for g in 0..n {
                let centre = st.coef * a(st.centre_degree, g);
                if centre == 0.0 {
                    continue;
                }
                let column = y.col_as_slice_mut(g).iter_mut();
                for ((y, &ax), &mx) in column.zip(&coefs[d as usize]).zip(along(kind, g)) {
                    *y += centre * ax * mx;
                }
            }
        }
        for f in &mut k3.factors {
            fit(f, n, r + merged.len() * n);
        }
        for (b, ((kind, d), y)) in merged.into_iter().enumerate() {
            let x = crate::io::filled(n, n, |x, g| a(d, x) * matrix(kind, g, x));
            own += crate::io::filled(n, n, |i, k| {
                (x[(i, k)] * y[(i, k)] + x[(i, i)] * y[(k, i)] + y[(i, i)] * x[(k, i)]) / 3.0
            });
            let at = r + b * n;
            let [f0, f1, f2] = &mut k3.factors;
            f0.as_mut().subcols_mut(at, n).copy_from(&x);
            f1.as_mut().subcols_mut(at, n).copy_from(&y);
            f2.as_mut()
                .subcols_mut(at, n)
                .copy_from(Mat::<f64>::identity(n, n));
        }
        (k3, own)
    }
}

/// Fewest columns [`fit`] reserves, per row: room for a few layers' growth (2N each) before
/// the first reallocation (only the columns written touch memory).
const MIN_COLUMNS: usize = 8;

/// Makes `f` `rows` × `cols`, keeping its first columns where it already has them (new
/// entries 0). The column capacity is reserved in powers of two (at least [`MIN_COLUMNS`] per
/// row), so a factor growing by 2N per layer is reallocated (and copied) only when it doubles.
fn fit(f: &mut Mat<f64>, rows: usize, cols: usize) {
    f.reserve(rows, cols.max(MIN_COLUMNS * rows).next_power_of_two());
    f.resize_with(rows, cols, |_, _| 0.0);
}

/// Columns of h's factors per block of [`Factored::slice`]: the Hadamard products of a block
/// (N × 256) stay in cache instead of three N × R temporaries.
const SLICE_BLOCK: usize = 256;

impl Factored {
    /// The zero tensor over `n` units (rank 0).
    pub fn zeros(n: usize) -> Self {
        Factored {
            factors: [
                crate::io::zeroed(n, 0),
                crate::io::zeroed(n, 0),
                crate::io::zeroed(n, 0),
            ],
            pairs: [crate::io::zeroed(n, 0), crate::io::zeroed(n, 0)],
        }
    }

    /// Number of units N.
    pub fn dim(&self) -> usize {
        self.factors[0].nrows()
    }

    /// Number of rank-one terms R (general and pairs).
    pub fn rank(&self) -> usize {
        self.factors[0].ncols() + self.pairs[0].ncols()
    }

    /// Flops of [`Factored::map`] into width M (its GEMMs: three per general term, two where
    /// the third factor is copied, two per pair, the correction's W·Q).
    pub fn map_flops(&self, m: usize) -> f64 {
        let (m, n) = (m as f64, self.dim() as f64);
        let (r, t) = (self.factors[0].ncols() as f64, self.pairs[0].ncols() as f64);
        // F₂ copied from the mapped P₀ where it is [P₀, I] (`third_is_first_pairs`).
        let general = if self.third_is_first_pairs() {
            2.0
        } else {
            3.0
        };
        2.0 * m * n * (general * r + 2.0 * t + n)
    }

    /// κ₃\[i,i,j\] as an N × N matrix (module docs), accumulated over blocks of
    /// `SLICE_BLOCK` (256) columns.
    pub fn slice(&self) -> Mat<f64> {
        self.slice_from(0, 0)
    }

    /// The slice of the terms from general term `r0` and pair `t0` on (the others' is formed
    /// elsewhere: [`super::star4::Star4::next_slice`]).
    pub fn slice_from(&self, r0: usize, t0: usize) -> Mat<f64> {
        let n = self.dim();
        let mut out = crate::io::zeroed(n, n);
        let ([f0, f1, f2], [p0, p1]) = (&self.factors, &self.pairs);
        let widest = f0.ncols().max(p0.ncols());
        let mut had = crate::io::zeroed(n, SLICE_BLOCK.min(widest));
        // (Hadamard pair, the other factor, weight) of the three pairings of the general
        // terms and the two distinct ones of the pairs.
        let third = 1.0 / 3.0;
        let terms = [
            (f0, f1, f2, third, r0),
            (f0, f2, f1, third, r0),
            (f1, f2, f0, third, r0),
            (p0, p0, p1, third, t0),
            (p0, p1, p0, 2.0 * third, t0),
        ];
        for (x, y, o, weight, from) in terms {
            for at in (from..x.ncols()).step_by(SLICE_BLOCK) {
                let w = SLICE_BLOCK.min(x.ncols() - at);
                let mut h = had.as_mut().subcols_mut(0, w);
                h.copy_from(x.subcols(at, w));
                zip!(h, y.subcols(at, w)).for_each(|unzip!(h, y)| *h *= *y);
                matmul(
                    out.as_mut(),
                    Accum::Add,
                    had.subcols(0, w),
                    o.subcols(at, w).transpose(),
                    weight,
                    Par::rayon(0),
                );
            }
        }
        out
    }

    /// Maps `self` in place into the factored κ₃ of h = W z, z's κ₃ being `self` on distinct
    /// units and `s` (κ₃\[a,a,b\]) on the repeated ones (module docs: the correction E as one
    /// rank-N block of pairs, appended); `own` is `self`'s slice ([`Factored::slice`], e.g. as
    /// [`StarTerms::closure`] returns it). Each factor is replaced by W·F a block of
    /// `MAP_BLOCK` (256) columns at a time through one M × 256 scratch, so z's storage becomes
    /// h's.
    pub fn map(&mut self, w: MatRef<'_, f64>, own: &Mat<f64>, s: &Mat<f64>) -> Result<()> {
        let n = self.dim();
        let square = |x: &Mat<f64>| x.nrows() == n && x.ncols() == n;
        if w.ncols() != n || !square(s) || !square(own) {
            return Err(Error::Shape(format!(
                "the factored κ₃ over {n} units mapped by a {} × {} layer with a {} × {} slice \
                 and its own {} × {}",
                w.nrows(),
                w.ncols(),
                s.nrows(),
                s.ncols(),
                own.nrows(),
                own.ncols()
            )));
        }
        let e = s - own;
        let q = crate::io::filled(
            n,
            n,
            |k, i| if k == i { e[(i, i)] } else { 3.0 * e[(i, k)] },
        );
        let m = w.nrows();
        let widest = self.factors[0].ncols().max(self.pairs[0].ncols());
        let mut scratch = crate::io::zeroed(m, MAP_BLOCK.min(widest));
        let shared = self.third_is_first_pairs();
        let [f0, f1, f2] = &mut self.factors;
        for f in [f0, f1] {
            map_in_place(f, w, &mut scratch);
        }
        if !shared {
            map_in_place(f2, w, &mut scratch);
        }
        let t = self.pairs[0].ncols();
        for (k, p) in self.pairs.iter_mut().enumerate() {
            map_in_place(p, w, &mut scratch);
            fit(p, m, t + n);
            let mut block = p.as_mut().subcols_mut(t, n);
            if k == 0 {
                block.copy_from(w);
            } else {
                matmul(block, Accum::Replace, w, q.as_ref(), 1.0, Par::rayon(0));
            }
        }
        if shared {
            // W·[P₀, I] = [W·P₀, W]: the pairs' first factor as just mapped, the correction's
            // block W included.
            let f2 = &mut self.factors[2];
            fit(f2, m, t + n);
            f2.copy_from(&self.pairs[0]);
        }
        Ok(())
    }

    /// Whether the general terms' third factor is the pairs' first factor, F₂ = P₀ entry for
    /// entry (`==`): the factorable order-3 rule's carry after a map
    /// ([`Factored::third_is_first_pairs`]). The full contraction of the star's κ₃ term
    /// (`star4`) then forms F₂'s product and P₀'s as one.
    pub fn third_is_first_factor(&self) -> bool {
        let ([.., f2], [p0, _]) = (&self.factors, &self.pairs);
        // faer's `==` compares the row counts only.
        f2.nrows() == p0.nrows() && f2.ncols() == p0.ncols() && f2 == p0
    }

    /// Whether the general terms' third factor is the pairs' first followed by the identity,
    /// F₂ = \[P₀, I\], entry for entry (`==`): the factorable order-3 rule's carry keeps it so.
    /// Each closure ([`StarTerms::closure`]) appends one star block whose third factor is I and
    /// scales F₂ and P₀ alike (both by 1: the full block's coefficient goes on F₀ and P₁); each
    /// map ([`Factored::map`]) maps both by W and appends to P₀ the correction's first factor
    /// W = W·I, so after it F₂ = P₀ and the next closure's star block restores \[P₀, I\]. Then
    /// W·F₂ is W·P₀ with W appended: [`Factored::map`] copies it instead of a third GEMM over
    /// the general terms (the same numbers: W·I is W exactly, and equal columns map to equal
    /// columns).
    pub fn third_is_first_pairs(&self) -> bool {
        let ([.., f2], [p0, _]) = (&self.factors, &self.pairs);
        let (n, t) = (f2.nrows(), p0.ncols());
        let column = |j: usize| f2.col(j).iter();
        n > 0
            && f2.ncols() == t + n
            && p0.nrows() == n
            && (0..t).all(|j| column(j).eq(p0.col(j).iter()))
            && (0..n).all(|j| (column(t + j).enumerate()).all(|(i, &x)| x == f64::from(i == j)))
    }
}

/// Columns per block of [`Factored::map`].
const MAP_BLOCK: usize = 256;

/// F ← W·F (F N × R, W M × N), [`MAP_BLOCK`] columns at a time through `scratch` (M rows):
/// each block is read before it is overwritten; rows are added first when M > N (the new rows
/// are written by the blocks) and dropped last when M < N.
fn map_in_place(f: &mut Mat<f64>, w: MatRef<'_, f64>, scratch: &mut Mat<f64>) {
    let (m, n, r) = (w.nrows(), w.ncols(), f.ncols());
    if m > n {
        fit(f, m, r);
    }
    for at in (0..r).step_by(MAP_BLOCK) {
        let c = MAP_BLOCK.min(r - at);
        matmul(
            scratch.as_mut().subcols_mut(0, c),
            Accum::Replace,
            w,
            f.as_ref().subrows(0, n).subcols(at, c),
            1.0,
            Par::rayon(0),
        );
        f.as_mut()
            .subrows_mut(0, m)
            .subcols_mut(at, c)
            .copy_from(scratch.subcols(0, c));
    }
    if m < n {
        f.truncate(m, r);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::propagate::higher::tensor::SymTensor;

    /// The dense symmetric tensor of `f` (general terms and pairs).
    pub(crate) fn dense(f: &Factored) -> SymTensor {
        let n = f.dim();
        let mut t = SymTensor::zeros(n, 3);
        let ([f0, f1, f2], [p0, p1]) = (&f.factors, &f.pairs);
        let raw = |i: usize, j: usize, k: usize| {
            let general = (0..f0.ncols()).map(|r| f0[(i, r)] * f1[(j, r)] * f2[(k, r)]);
            let pairs = (0..p0.ncols()).map(|r| p0[(i, r)] * p0[(j, r)] * p1[(k, r)]);
            general.chain(pairs).sum::<f64>()
        };
        for i in 0..n {
            for j in 0..n {
                for k in 0..n {
                    let v = (raw(i, j, k)
                        + raw(i, k, j)
                        + raw(j, i, k)
                        + raw(j, k, i)
                        + raw(k, i, j)
                        + raw(k, j, i))
                        / 6.0;
                    t.data_mut()[i + n * (j + n * k)] = v;
                }
            }
        }
        t
    }

    pub(crate) fn random(n: usize, r: usize, seed: u64) -> Mat<f64> {
        Mat::from_fn(n, r, |i, j| {
            let x = (seed as f64 + 1.0) * (i as f64 * 0.731 + j as f64 * 1.377 + 0.29);
            x.sin()
        })
    }

    /// R general terms and T pairs over N units.
    pub(crate) fn terms(n: usize, (r, t): (usize, usize), seed: u64) -> Factored {
        Factored {
            factors: std::array::from_fn(|k| random(n, r, seed + k as u64)),
            pairs: std::array::from_fn(|k| random(n, t, seed + 3 + k as u64)),
        }
    }

    /// The default order-3 rule has diagrams without a rank-O(N) form (the triangle, κ₃Σ);
    /// the factorable one has the full κ₃ block and stars whose first arms are all A₁∘Σ (one
    /// rank-N block per layer).
    #[test]
    fn the_factorable_rule_is_stars_with_one_first_arm() {
        use super::super::closure::ChaosRule;
        let err = ChaosRule::new(3).star_terms().unwrap_err();
        assert!(err.to_string().contains("star diagrams only"), "{err}");
        let stars = ChaosRule::unpaired_factorable().star_terms().unwrap();
        assert_eq!(stars.full, Some((1.0, 1)));
        // So the carry forms the next h's slice from the κ₃ term's contraction.
        assert!(stars.full_is_beta());
        assert!(!stars.stars.is_empty());
        assert!(stars.stars.iter().all(|s| s.arms[0] == (Arm::Cov, 1)));
    }

    /// The slice equals the dense tensor's κ₃\[i,i,j\] (general terms and pairs).
    #[test]
    fn slice_is_the_dense_tensors() {
        let f = terms(5, (4, 3), 1);
        let (t, s) = (dense(&f), f.slice());
        for i in 0..5 {
            for j in 0..5 {
                assert!((s[(i, j)] - t.get(&[i, i, j])).abs() < 1e-14);
            }
        }
    }

    /// The closure's own slice, formed from h's slice per block, equals the slice of the
    /// factors it returns.
    #[test]
    fn closure_slice_is_its_factors_slice() {
        use super::super::closure::ChaosRule;
        use crate::net::Activation;
        let n = 6;
        let stars = ChaosRule::unpaired_factorable().star_terms().unwrap();
        let h = terms(n, (4, 3), 11);
        let a = random(n, n, 17);
        let cov = &a * a.transpose() + Mat::<f64>::identity(n, n);
        let units: Vec<UnitChaos> = (0..n)
            .map(|i| UnitChaos::new(Activation::Gelu, 0.4 * i as f64 - 1.0, cov[(i, i)].sqrt()))
            .collect();
        let (z, own) = stars.closure(&cov, h.clone(), &h.slice(), &units);
        let want = z.slice();
        let worst = (&own - &want).norm_max() / want.norm_max();
        assert!(worst < 1e-13, "largest relative deviation {worst:e}");
    }

    /// W·F within the rounding bound of a product: |fl(W·F) − W·F| ≤ γ_n |W|·|F| entry by
    /// entry (γ_n = n u / (1 − n u), n the inner dimension, u = 2⁻⁵³).
    fn within_product_bound(got: &Mat<f64>, w: &Mat<f64>, f: &Mat<f64>) -> bool {
        let n = w.ncols() as f64;
        let u = f64::EPSILON / 2.0;
        let gamma = n * u / (1.0 - n * u);
        let abs = |x: &Mat<f64>| Mat::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)].abs());
        let (want, bound) = (w * f, abs(w) * abs(f));
        got.nrows() == want.nrows()
            && got.ncols() == want.ncols()
            && (0..want.nrows()).all(|i| {
                (0..want.ncols())
                    .all(|j| (got[(i, j)] - want[(i, j)]).abs() <= gamma * bound[(i, j)])
            })
    }

    /// Through three layers of the factorable rule's carry (closure, then map), F₂ = \[P₀, I\]
    /// before every map (the first closure's from rank 0, the later ones with the full block's
    /// scaling), the map copies F₂ from the mapped P₀, and the copy is W·F₂ within a product's
    /// rounding bound; a copy from any other columns (the pairs' second factor, P₀ shifted by
    /// a block) is not. With one entry of F₂ changed the map multiplies F₂ by W instead.
    #[test]
    fn third_factor_copied_from_the_pairs_is_its_map() {
        use super::super::closure::ChaosRule;
        use crate::net::Activation;
        let n = 6;
        let stars = ChaosRule::unpaired_factorable().star_terms().unwrap();
        let a = random(n, n, 17);
        let cov = &a * a.transpose() + Mat::<f64>::identity(n, n);
        let units: Vec<UnitChaos> = (0..n)
            .map(|i| UnitChaos::new(Activation::Gelu, 0.4 * i as f64 - 1.0, cov[(i, i)].sqrt()))
            .collect();
        let w = random(n, n, 23) * faer::Scale(0.5);
        let mut h = Factored::zeros(n);
        for layer in 0..3 {
            let (z, own) = stars.closure(&cov, h.clone(), &h.slice(), &units);
            assert!(z.third_is_first_pairs(), "layer {layer}");
            assert_eq!(z.pairs[0].ncols() + n, z.factors[2].ncols());
            let s = random(n, n, 30 + layer);
            let mut mapped = z.clone();
            mapped.map(w.as_ref(), &own, &s).unwrap();
            let got = &mapped.factors[2];
            assert!(mapped.third_is_first_factor(), "layer {layer}");
            assert!(
                within_product_bound(got, &w, &z.factors[2]),
                "layer {layer}"
            );
            assert!(!within_product_bound(&mapped.pairs[1], &w, &z.factors[2]));
            if layer > 0 {
                let mut shifted = got.clone();
                let t = got.ncols();
                shifted
                    .as_mut()
                    .subcols_mut(0, t - n)
                    .copy_from(got.subcols(n, t - n));
                assert!(!within_product_bound(&shifted, &w, &z.factors[2]));
            }
            // One entry off: not [P₀, I], mapped by the GEMM.
            let mut off = z.clone();
            off.factors[2][(1, 0)] += 0.25;
            assert!(!off.third_is_first_pairs());
            let before = off.factors[2].clone();
            off.map(w.as_ref(), &own, &s).unwrap();
            assert!(within_product_bound(&off.factors[2], &w, &before));
            assert!(!off.third_is_first_factor());
            h = mapped;
        }
    }

    /// The map with the repeated-entry correction equals the dense map of the tensor that is
    /// Sym(F) on distinct units and S on repeated ones: into a narrower and a wider layer, with
    /// few terms and with more than one block of [`MAP_BLOCK`] columns.
    #[test]
    fn map_equals_the_dense_map_with_the_repeated_entries() {
        let n = 5;
        for (m, ranks) in [(4, (3, 2)), (7, (300, 260))] {
            let f = terms(n, ranks, 4);
            let s = random(n, n, 9);
            let w = random(m, n, 10);
            let mut z = dense(&f);
            for i in 0..n {
                for k in 0..n {
                    z.set_sym(&[i, i, k], s[(i, k)]);
                }
            }
            let mut mapped = f.clone();
            mapped.map(w.as_ref(), &f.slice(), &s).unwrap();
            let h = dense(&mapped);
            let (mut worst, mut largest): (f64, f64) = (0.0, 0.0);
            for i in 0..m {
                for j in 0..m {
                    for k in 0..m {
                        let mut want = 0.0;
                        for a in 0..n {
                            for b in 0..n {
                                for c in 0..n {
                                    want += w[(i, a)] * w[(j, b)] * w[(k, c)] * z.get(&[a, b, c]);
                                }
                            }
                        }
                        worst = worst.max((h.get(&[i, j, k]) - want).abs());
                        largest = largest.max(want.abs());
                    }
                }
            }
            let rel = worst / largest;
            assert!(
                rel < 1e-12,
                "m {m}, ranks {ranks:?}: largest deviation {rel:e}"
            );
        }
    }
}
