//! Order 3's κ₄\[a,a,b,c\] held factored (issue #16 item 7): the factored path's carry of the
//! class that [`super::triple4`] holds as N³ numbers, with its leading-order affine map and its
//! image in the next h's paired κ₄ in O(N²R) flops (R the blocks' total rank) instead of N⁴.
//!
//! **The form.** κ₄\[a,a,b,c\] (a the repeated unit; b, c distinct, both ≠ a) is held as a sum of
//! blocks, each symmetrised in b, c:
//!
//! ```text
//! Q[a,b,c] = Σ_t Σ_r A_t[a,r] ½ (X_t[b,r] Y_t[c,r] + X_t[c,r] Y_t[b,r])     (a, b, c distinct)
//! ```
//!
//! read on distinct units only (the blocks' values where two indices meet are not the class's).
//! [`super::star4`]'s Σ terms of z's κ₄\[a,a,b,c\] have this form with R = N: the star at a,
//! s_a β_b β_c Σ̊_ab Σ̊_ac, is A = diag(s), X = Y = diag(β) Σ̊; the stars at b and c,
//! 2α_a (γ_b β_c Σ̊_ab Σ̊_bc + γ_c β_b Σ̊_ac Σ̊_bc), are A = 4 diag(α) Σ̊, X = diag(γ), Y = diag(β) Σ̊.
//! Its κ₃ term α_a β_b β_c κ₃(h)\[a,b,c\] is h's κ₃ factors with their rows scaled, of κ₃'s
//! rank (2N more per layer): it is imaged as [`super::star4`] does ([`kappa3_part`]) and not
//! carried (carried as five blocks it took relu n = 64, depth 8 from 2.2e-4 to 1.3e-4 at 2.5×
//! the time; EXPERIMENTS.md, ninth session), unless the carry is asked to
//! ([`super::kappa3_blocks`], [`super::carry::Carry::with_kappa3_blocks`]). h's own κ₄\[a,a,b,c\] enters z's through the
//! diagrams of one κ₄ block and no Σ edge ([`carried_blocks`]; the test
//! `carried_coefficient_is_the_rules` checks them against
//! [`super::closure::ChaosRule::unpaired`]); the diagrams with a Σ edge and the rule's other
//! cost-3 terms are not carried.
//!
//! **The affine map** h = W z to leading order is [`super::triple4`]'s, F(i;j,k) =
//! Σ_a W_ia² (W R_a Wᵀ)_jk with R_a = Q_a (zero where two indices meet) + diag(P\[a,·\]). The
//! held blocks are not zero where indices meet, so correction blocks make R_a exact first:
//!
//! ```text
//! G[a,b]  = Σ_t Σ_r A_t[a,r] X_t[b,r] Y_t[b,r]                          (the blocks at b = c)
//! H[a,c]  = Σ_t Σ_r A_t[a,r] ½ (X_t[a,r] Y_t[c,r] + X_t[c,r] Y_t[a,r])   (at b = a)
//! R_a     = Σ_t block_t + (−G + 2 diag(H_aa), I, I) + (I, I, −2Hᵀ) + (P, I, I)
//! ```
//!
//! (the second removes b = c, the third b = a and c = a; H\[a,a\], the entry with all three
//! equal, was removed three times and is put back twice). Each block maps as (W∘W)A, W X, W Y:
//! the map is exact for F, and h's κ₄\[i,i,i,j\] = 3F(i;i,j) − 2 Σ_a W_ia³ W_ja P\[a,a\] with
//! F(i;i,j) = ½\[(A'∘X')Y'ᵀ + (A'∘Y')X'ᵀ\]_ij.
//!
//! **Growth.** Each map adds three correction blocks of rank N, each closure two fresh ones,
//! and [`carried_blocks`] makes three of every block it carries, so the rank would grow
//! geometrically with depth; [`Unpaired4Factored::map`] keeps the blocks that have been
//! through at most [`GENERATIONS`] maps (the carry's cap: with 1, h's blocks are those born
//! at the last closure and map, rank 4N — P's block is folded into the correction
//! (−G + 2 diag(H), I, I), both X = Y = W after the map — and z's at most 2N + 10N: the two
//! of h's blocks with X = Y, the star at a and that correction, carry as two blocks each, the
//! other two as three).
//!
//! **The image in h's paired κ₄** is [`super::triple4::Unpaired4::map`]'s, with
//! X_a = W Q_a Wᵀ:
//!
//! ```text
//! Σ_a [W_ia² X_a[j,j] + W_ja² X_a[i,i] + 4 W_ia W_ja X_a[i,j]] + 2 [(W∘S)(W∘W)ᵀ + (W∘W)(W∘S)ᵀ]_ij
//! ```
//!
//! (S = W Tᵀ, T\[a,b\] = κ₄(z)\[a,a,a,b\]). With R_a's blocks (P's left out), Σ_a W_ia² X_a\[j,j\] =
//! \[A'(X'∘Y')ᵀ\]_ij from the mapped blocks. The split term Σ_a W_ia W_ja X_a\[i,j\] =
//! Σ_r (W diag(A\[·,r\]) Wᵀ)_ij ½(X'_ir Y'_jr + X'_jr Y'_ir) is a GEMM where A is diagonal (the
//! star at a and the correction at b = a: Σ_r d_r W_ir W_jr …) and N⁴ otherwise; for the other
//! blocks it is kept at i = j only, as [`super::star4`]'s image keeps its mixed term.
//!
//! **Speed** (`blocks_wide`): the blocks are mapped side by side, one GEMM per factor
//! role, each X/Y factor that several blocks share (an [`Arc`]) once, and G, H, e and F are
//! one GEMM each over the blocks. A carried group's G and H ([`Sums`]) follow from h's G_h, H_h
//! over its blocks (β, γ, α, B₂₂ as in [`carried_blocks`]):
//!
//! ```text
//! G[a,b] = B₂₂_a β_b² G_h[a,b] + 2 α_a β_b γ_b H_h[b,a]
//! H[a,c] = (B₂₂_a β_a + α_a γ_a) β_c H_h[a,c] + α_a β_a γ_c G_h[c,a]
//! ```
//!
//! (the block with the repeated unit at a gives the first terms, the two at b and c together
//! the second), so the corrections sum only the fresh blocks, and h's G_h, H_h are the kept
//! blocks' parts of e and F with P's block's added.
//!
//! **z's κ₄\[a,a,a,b\]** is the closure's ([`super::unpaired_factored`]), held as T in z's
//! store; the rule reads h's T (formed by the map) through
//! [`super::unpaired_factored::PairedTriple`].

use std::sync::Arc;

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatRef, Par};

use super::blocks_wide::{diagonal, distinct_columns, Factor, Wide};
use super::chaos::UnitChaos;
use super::paired::Paired;
use super::star4::Star4;

/// Maps a block goes through before the carry drops it ([`Unpaired4Factored::map`]), unless
/// [`super::carry::Carry::with_generations`] sets another cap.
pub const GENERATIONS: usize = 1;

/// What the blocks [`Unpaired4Factored::map`] drops after this map (those older than the
/// generations cap: with [`GENERATIONS`], the blocks [`carried_blocks`] made) give h.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dropped {
    /// Their image in h's paired κ₄ and their part of h's κ₄\[i,i,i,j\], F(i;i,j) =
    /// ½\[(A'∘X')Y'ᵀ + (A'∘Y')X'ᵀ\]_ij, which needs their A mapped, A' = (W∘W)A (the default).
    #[default]
    Mapped,
    /// Their image in h's paired κ₄ alone, e = (W∘W) Σ_t A_t((W X_t)∘(W Y_t))ᵀ
    /// (`blocks_wide`'s `Wide::g_mapped`): their A is not mapped and their part of
    /// κ₄\[i,i,i,j\] is dropped (a method change; EXPERIMENTS.md, nineteenth session (o3t)).
    PairedOnly,
}

/// A · B, computed by faer; where B or A is diagonal (P's diag, the identities) the columns or
/// rows of the other are scaled instead, the same numbers to the sign of a zero: the product's
/// other terms are zeros.
fn gemm(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    if let Some(d) = diagonal(b) {
        return crate::io::filled(a.nrows(), b.ncols(), |i, j| a[(i, j)] * d[j]);
    }
    if let Some(d) = diagonal(a) {
        return crate::io::filled(a.nrows(), b.ncols(), |i, j| d[i] * b[(i, j)]);
    }
    let mut out = crate::io::zeroed(a.nrows(), b.ncols());
    matmul(out.as_mut(), Accum::Replace, a, b, 1.0, Par::rayon(0));
    out
}

/// The element-wise product.
fn hadamard(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Mat<f64> {
    crate::io::filled(x.nrows(), x.ncols(), |i, j| x[(i, j)] * y[(i, j)])
}

/// diag(d) · X, a column at a time.
fn scale_rows(d: &[f64], x: MatRef<'_, f64>) -> Mat<f64> {
    crate::io::filled(x.nrows(), x.ncols(), |i, r| x[(i, r)] * d[i])
}

/// One block Σ_r A\[a,r\] ½(X\[b,r\] Y\[c,r\] + X\[c,r\] Y\[b,r\]) (module docs), with the layer
/// it was born at.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// A, N × R.
    pub(super) a: Mat<f64>,
    /// Whether A is diagonal (R = N, A\[a,r\] = 0 for a ≠ r): its split image is exact.
    pub(super) diagonal: bool,
    /// X and Y, N × R; a factor several blocks hold (the carried blocks' diag(β)X, a fresh
    /// star's X = Y) is one [`Arc`], mapped once ([`Wide`]).
    pub(super) x: Factor,
    pub(super) y: Factor,
    /// How many maps the block has been through since it was formed.
    pub(super) age: usize,
    /// G and H summed over the group of blocks [`carried_blocks`] made this one with (every
    /// block of the group holds the same [`Arc`]), formed from h's sums in O(N²): the
    /// corrections read them instead of summing the group's blocks. None: summed as blocks.
    pub(super) sums: Option<Arc<Sums>>,
}

/// G\[a,b\] = Σ_t \[A_t (X_t∘Y_t)ᵀ\]_ab and H\[a,c\] = ½ Σ_t \[(A_t∘X_t)Y_tᵀ + (A_t∘Y_t)X_tᵀ\]_ac over a set
/// of blocks (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Sums {
    pub(super) g: Mat<f64>,
    pub(super) h: Mat<f64>,
}

impl Block {
    pub(super) fn new(a: Mat<f64>, diagonal: bool, x: Factor, y: Factor) -> Self {
        Block {
            a,
            diagonal,
            x,
            y,
            age: 0,
            sums: None,
        }
    }

    /// The block at (a, b, c).
    fn get(&self, a: usize, b: usize, c: usize) -> f64 {
        (0..self.a.ncols())
            .map(|r| {
                self.a[(a, r)]
                    * 0.5
                    * (self.x[(b, r)] * self.y[(c, r)] + self.x[(c, r)] * self.y[(b, r)])
            })
            .sum()
    }

    /// Its rank R.
    fn rank(&self) -> usize {
        self.a.ncols()
    }
}

/// κ₄\[a,a,a,b\] as T\[a,b\], the paired κ₄ and κ₄\[a,a,b,c\] as blocks (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Unpaired4Factored {
    pub paired: Paired,
    /// T\[a,b\] = κ₄\[a,a,a,b\] (zero diagonal).
    triple: Mat<f64>,
    blocks: Vec<Block>,
    /// G and H over `blocks` where [`Unpaired4Factored::map`] formed them (None: not formed).
    sums: Option<Arc<Sums>>,
}

impl Unpaired4Factored {
    /// From P, T (its diagonal is set to zero) and the blocks of κ₄\[a,a,b,c\].
    pub fn new(paired: Paired, mut triple: Mat<f64>, blocks: Vec<Block>) -> Self {
        for a in 0..triple.nrows() {
            triple[(a, a)] = 0.0;
        }
        Unpaired4Factored {
            paired,
            triple,
            blocks,
            sums: None,
        }
    }

    /// Number of units.
    pub fn dim(&self) -> usize {
        self.paired.0.nrows()
    }

    /// Total rank of the blocks.
    pub fn rank(&self) -> usize {
        self.blocks.iter().map(Block::rank).sum()
    }

    /// T\[a,b\] = κ₄\[a,a,a,b\].
    pub fn triple(&self) -> &Mat<f64> {
        &self.triple
    }

    /// Adds `t` to T off the diagonal: an image formed beside the blocks' map (the factored
    /// order 4's star, [`super::quartic_star`]).
    pub fn add_triple(&mut self, t: &Mat<f64>) {
        for b in 0..self.triple.ncols() {
            for a in (0..self.triple.nrows()).filter(|&a| a != b) {
                self.triple[(a, b)] += t[(a, b)];
            }
        }
    }

    /// κ₄\[a,a,b,c\]: the blocks' sum on distinct a, b, c, else 0.
    pub fn double(&self, a: usize, b: usize, c: usize) -> f64 {
        if a == b || a == c || b == c {
            return 0.0;
        }
        self.blocks.iter().map(|k| k.get(a, b, c)).sum()
    }

    /// Whether T is zero (its image term is then skipped: it adds zeros).
    fn triple_is_zero(&self) -> bool {
        self.triple.col_iter().all(|c| c.iter().all(|&t| t == 0.0))
    }

    /// The blocks side by side ([`Wide`]) with the two correction blocks (module docs) that
    /// make the blocks' sum equal R_a\[b,c\] = κ₄\[a,a,b,c\] (zero where two indices meet) at
    /// every b, c (the paired κ₄'s δ_bc P\[a,b\], a third block (P, I, I), is formed by
    /// [`Unpaired4Factored::map`] alone): the blocks without group sums first, then the
    /// corrections, then the carried groups. G and H are [`Wide::g_form`] and [`Wide::h_form`]
    /// over the first, plus each group's [`Sums`]. With the index of the correction
    /// (−G + 2 diag(H), I, I), the block P's (P, I, I) is folded into after the map.
    fn with_corrections(&self) -> (Wide, usize) {
        let n = self.dim();
        let v = distinct_columns(self.blocks.iter().flat_map(|k| [&k.x, &k.y]));
        let mut z = Wide::with_capacity(n, self.rank() + 2 * n, v + 2 * n);
        let (grouped, own): (Vec<&Block>, Vec<&Block>) =
            self.blocks.iter().partition(|k| k.sums.is_some());
        for k in &own {
            z.push((k.a.as_ref(), &k.x, &k.y), k.diagonal, k.age);
        }
        let sel: Vec<usize> = (0..own.len()).collect();
        let (mut g, mut h) = (z.g_form(&sel), z.h_form(&sel));
        let mut seen: Vec<&Arc<Sums>> = Vec::new();
        for sums in grouped.iter().filter_map(|k| k.sums.as_ref()) {
            if !seen.iter().any(|s| Arc::ptr_eq(s, sums)) {
                g += &sums.g;
                h += &sums.h;
                seen.push(sums);
            }
        }
        let diag = crate::io::filled(n, n, |a, b| {
            -g[(a, b)] + if a == b { 2.0 * h[(a, a)] } else { 0.0 }
        });
        let eye = Arc::new(Mat::<f64>::identity(n, n));
        let rows = Arc::new(crate::io::filled(n, n, |c, a| -2.0 * h[(a, c)]));
        z.push((diag.as_ref(), &eye, &eye), false, 0);
        z.push((eye.as_ref().as_ref(), &eye, &rows), true, 0);
        for k in &grouped {
            z.push((k.a.as_ref(), &k.x, &k.y), k.diagonal, k.age);
        }
        (z, own.len())
    }

    /// Flops of [`Unpaired4Factored::image`] for an M × N map (no F, no P block): the
    /// corrections' G and H over the blocks without group sums, the map of the A and the
    /// distinct X/Y factors (`blocks_wide`; diagonal ones counted as dense), e, the split term and
    /// T's term.
    pub fn image_flops(&self, m: usize) -> f64 {
        let (m, n) = (m as f64, self.dim() as f64);
        let own = || self.blocks.iter().filter(|k| k.sums.is_none());
        let r_own = own().map(Block::rank).sum::<usize>() as f64;
        let v_own = distinct_columns(own().flat_map(|k| [&k.x, &k.y])) as f64;
        let r = self.rank() as f64 + 2.0 * n;
        let v = distinct_columns(self.blocks.iter().flat_map(|k| [&k.x, &k.y])) as f64 + 2.0 * n;
        let t = if self.triple_is_zero() {
            0.0
        } else {
            2.0 * m * n * n + 2.0 * m * m * n
        };
        2.0 * n * n * (r_own + v_own) + 2.0 * m * n * (r + v) + 2.0 * m * m * (r + 2.0 * n) + t
    }

    /// Flops of [`Unpaired4Factored::map`] for an M × N map: the image's, F over the distinct
    /// factors, P's block and its G, and T's second term.
    pub fn map_flops(&self, m: usize) -> f64 {
        let (mf, n) = (m as f64, self.dim() as f64);
        let v = distinct_columns(self.blocks.iter().flat_map(|k| [&k.x, &k.y])) as f64;
        self.image_flops(m) + 2.0 * mf * mf * (v + 2.0 * n) + 2.0 * mf * n * n + 6.0 * mf * mf * n
    }

    /// Flops of [`Unpaired4Factored::map_with`]: [`Unpaired4Factored::map_flops`] less, for
    /// the blocks imaged alone ([`Dropped::PairedOnly`]; rank R, distinct factor columns V),
    /// their G and F from mapped A (2M²R + 2M²V) and plus (W∘W)D (2M²N); D's 2NMR replaces
    /// A's map.
    pub fn map_with_flops(&self, m: usize, generations: usize, dropped: Dropped) -> f64 {
        let imaged: Vec<&Block> = match dropped {
            Dropped::Mapped => Vec::new(),
            Dropped::PairedOnly => self.imaged(generations).collect(),
        };
        if imaged.is_empty() {
            return self.map_flops(m);
        }
        let (mf, n) = (m as f64, self.dim() as f64);
        let r = imaged.iter().map(|k| k.rank()).sum::<usize>() as f64;
        let v = distinct_columns(imaged.iter().flat_map(|k| [&k.x, &k.y])) as f64;
        self.map_flops(m) - 2.0 * mf * mf * (r + v) + 2.0 * mf * mf * n
    }

    /// The blocks [`Dropped::PairedOnly`] images alone: those the map drops after
    /// `generations` maps whose A is not diagonal (the corrections are younger).
    fn imaged(&self, generations: usize) -> impl Iterator<Item = &Block> {
        self.blocks
            .iter()
            .filter(move |k| k.age + 1 > generations && !k.diagonal)
    }

    /// Maps z's classes (`self`) through h = W z (module docs): h's κ₄\[i,i,i,j\] and
    /// κ₄\[i,i,j,k\] to leading order (the map of [`super::triple4::Unpaired4::map`]),
    /// keeping the blocks that have been through at most `generations` maps, with h's paired
    /// κ₄ `paired`; and the image of z's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] in h's paired κ₄
    /// ([`Unpaired4Factored::image`], the same numbers where `generations` is
    /// [`GENERATIONS`]). The blocks are mapped once for both; the G and H sums of the kept
    /// blocks ([`Sums`]) come with them for [`carried_blocks`].
    pub fn map(&self, w: MatRef<'_, f64>, generations: usize) -> (Unpaired4Factored, Mat<f64>) {
        self.map_with(w, generations, Dropped::Mapped)
    }

    /// [`Unpaired4Factored::map`] with what the dropped blocks give h chosen by `dropped`
    /// ([`Dropped::PairedOnly`]: their image in h's paired κ₄ alone, the same numbers to
    /// rounding, and h's κ₄\[i,i,i,j\] without their part).
    pub fn map_with(
        &self,
        w: MatRef<'_, f64>,
        generations: usize,
        dropped: Dropped,
    ) -> (Unpaired4Factored, Mat<f64>) {
        let (m, n) = (w.nrows(), w.ncols());
        let w2 = hadamard(w, w);
        let (mut mapped, image, [kept, rest], g_kept, at) =
            self.mapped_image(w, w2.as_ref(), generations, dropped);
        // P's block (P, I, I) through the map: ((W∘W)P, W, W), folded into the mapped
        // correction (−G + 2 diag(H), I, I), whose X and Y are W as well (one block of rank N,
        // not two: its H, (A'∘W)Wᵀ, comes with the kept blocks'). Its G is A'(W∘W)ᵀ.
        let pa = gemm(w2.as_ref(), self.paired.0.as_ref());
        mapped.add_to_a(at, pa.as_ref());
        let h_kept = mapped.h_form(&kept);
        // F(i;i,j) = ½[(A'∘X')Y'ᵀ + (A'∘Y')X'ᵀ]_ij over every block, P's included.
        let f = &h_kept + mapped.h_form(&rest);
        let p = &self.paired.0;
        let w3p = crate::io::filled(m, n, |i, a| w2[(i, a)] * w[(i, a)] * p[(a, a)]);
        let once = gemm(w3p.as_ref(), w.transpose());
        let triple = crate::io::filled(m, m, |i, j| 3.0 * f[(i, j)] - 2.0 * once[(i, j)]);
        let blocks: Vec<Block> = (mapped.blocks(|p| p.age <= generations).into_iter())
            .map(|(a, x, y, age)| Block {
                a,
                diagonal: false,
                x,
                y,
                age,
                sums: None,
            })
            .collect();
        let sums = (generations >= 1).then(|| {
            let mut g = g_kept;
            matmul(
                g.as_mut(),
                Accum::Add,
                pa.as_ref(),
                w2.transpose(),
                1.0,
                Par::rayon(0),
            );
            Arc::new(Sums { g, h: h_kept })
        });
        let mut h = Unpaired4Factored::new(Paired::zeros(m), triple, blocks);
        h.sums = sums;
        (h, image)
    }

    /// The image of z's κ₄\[a,a,a,b\] (T) in h = W z's κ₄\[i,i,i,j\] (i ≠ j; zero diagonal),
    /// exact: over the orderings of {a,a,a,b} (b at the position of row j, or at one of the
    /// three of row i),
    ///
    /// ```text
    /// Σ_{a≠b} (W_ia³ W_jb + 3 W_ia² W_ib W_ja) T[a,b] = [(W∘W∘W) T Wᵀ + 3 (W∘W∘S) Wᵀ]_ij,  S = W Tᵀ
    /// ```
    ///
    /// The factored order 3's [`Unpaired4Factored::map`] leaves it out as one order in
    /// n^(−1/2) below the blocks' image; for an odd φ at zero mean, whose blocks hold the star
    /// at a alone, it is of their order, and the factored order 4 adds it
    /// ([`super::carry::Carry::quartic`]).
    pub fn triple_map(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        let (m, n) = (w.nrows(), w.ncols());
        let s = gemm(w, self.triple.transpose());
        let left = crate::io::filled(m, n, |i, a| {
            let x = w[(i, a)];
            x * x * x
        });
        let mut out = gemm(
            gemm(left.as_ref(), self.triple.as_ref()).as_ref(),
            w.transpose(),
        );
        let ws = crate::io::filled(m, n, |i, a| 3.0 * w[(i, a)] * w[(i, a)] * s[(i, a)]);
        matmul(
            out.as_mut(),
            Accum::Add,
            ws.as_ref(),
            w.transpose(),
            1.0,
            Par::rayon(0),
        );
        for i in 0..m {
            out[(i, i)] = 0.0;
        }
        out
    }

    /// The mixed positions of z's κ₄\[a,a,b,c\] that [`Unpaired4Factored::map`] leaves out,
    /// exact, as (P, T) to add to h = W z's paired κ₄ and κ₄\[i,i,i,j\] (both M × M, zero
    /// diagonal): the two a's on rows i and j (one each). In T, with one a at row j's position,
    ///
    /// ```text
    /// 3 Σ_a W_ia W_ja (W Q_a Wᵀ)_ii = 3 [(W ∘ Eᵀ) Wᵀ]_ij,   E[a,i] = Σ_t [A_t ((W X_t) ∘ (W Y_t))ᵀ]_ai
    /// ```
    ///
    /// over the blocks and their corrections (Q_a zero where two indices meet; module docs):
    /// the map's F(i;i,j) holds both a's at row i's positions only. In P, the split term
    /// 4 Σ_a W_ia W_ja (W Q_a Wᵀ)_ij = 2 (split\[i,j\] + split\[j,i\]) of the blocks with a
    /// non-diagonal A, which the image keeps at i = j only (module docs),
    ///
    /// ```text
    /// split[i,j] = Σ_a W_ia W_ja V_i[a,j],   V_i = A diag(W X[i,·]) (W Y)ᵀ
    /// ```
    ///
    /// over those blocks side by side, formed only `with_paired` (None otherwise). Both are of
    /// the order in the width of what the map keeps (sums over a of random sign). The factored
    /// order 4 adds T's ([`super::carry::Carry::quartic`]), and P's on request
    /// ([`super::carry::Carry::with_mixed_paired`]): at depth 2 (one map from a Gaussian h)
    /// the two are the largest pieces of its covariance's gap to the dense one-map order 4,
    /// but carried through depth P's made the ARC benchmark's relu/gelu errors worse at depth
    /// 4–8 (EXPERIMENTS.md, sixteenth session (o4cov)). Flops ≈ 4MN(R + N) + 2M²N, and
    /// 2M²NR' more for P, R the rank and R' that of the non-diagonal blocks
    /// ([`Unpaired4Factored::mixed_flops`]).
    pub fn mixed(&self, w: MatRef<'_, f64>, with_paired: bool) -> (Option<Mat<f64>>, Mat<f64>) {
        let (m, n) = (w.nrows(), w.ncols());
        let (z, _) = self.with_corrections();
        let h = z.mapped(w, hadamard(w, w).as_ref());
        let general: Vec<usize> = (0..z.placed.len())
            .filter(|&k| with_paired && !z.placed[k].diagonal)
            .collect();
        let width = general.iter().map(|&k| z.placed[k].rank).sum();
        let mut e = crate::io::zeroed::<f64>(n, m);
        let (mut a, mut x, mut y) = (
            crate::io::zeroed::<f64>(n, width),
            crate::io::zeroed::<f64>(m, width),
            crate::io::zeroed::<f64>(m, width),
        );
        let mut col = 0;
        for k in 0..z.placed.len() {
            let xy = hadamard(h.x(k), h.y(k));
            matmul(
                e.as_mut(),
                Accum::Add,
                z.a_of(k),
                xy.transpose(),
                1.0,
                Par::rayon(0),
            );
            if general.contains(&k) {
                let rank = z.placed[k].rank;
                a.subcols_mut(col, rank).copy_from(z.a_of(k));
                x.subcols_mut(col, rank).copy_from(h.x(k));
                y.subcols_mut(col, rank).copy_from(h.y(k));
                col += rank;
            }
        }
        let we = crate::io::filled(m, n, |i, a| 3.0 * w[(i, a)] * e[(a, i)]);
        let mut t = gemm(we.as_ref(), w.transpose());
        let mut split = crate::io::zeroed::<f64>(m, m);
        let mut v = crate::io::zeroed::<f64>(n, m);
        for i in (0..m).filter(|_| with_paired) {
            let scaled = crate::io::filled(n, width, |b, r| a[(b, r)] * x[(i, r)]);
            matmul(
                v.as_mut(),
                Accum::Replace,
                scaled.as_ref(),
                y.transpose(),
                1.0,
                Par::rayon(0),
            );
            for j in 0..m {
                split[(i, j)] = (0..n).map(|b| w[(i, b)] * w[(j, b)] * v[(b, j)]).sum();
            }
        }
        for i in 0..m {
            t[(i, i)] = 0.0;
        }
        if !with_paired {
            return (None, t);
        }
        let p = crate::io::filled(m, m, |i, j| {
            if i == j {
                0.0
            } else {
                2.0 * (split[(i, j)] + split[(j, i)])
            }
        });
        (Some(p), t)
    }

    /// Flops of [`Unpaired4Factored::mixed`] for an M × N map.
    pub fn mixed_flops(&self, m: usize, with_paired: bool) -> f64 {
        let (mf, n) = (m as f64, self.dim() as f64);
        let r = self.rank() as f64 + 2.0 * n;
        let general = (self.blocks.iter().filter(|k| !k.diagonal))
            .map(Block::rank)
            .sum::<usize>() as f64
            + n;
        let p = if with_paired {
            2.0 * mf * mf * n * (general + 1.0)
        } else {
            0.0
        };
        4.0 * mf * n * (r + n) + 2.0 * mf * mf * n + p
    }

    /// The image of z's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] in h's paired κ₄ alone, for a class
    /// whose mapped blocks nothing reads (the read-out, an h that drops its paired κ₄):
    /// [`Unpaired4Factored::map`]'s image, the same operations, without h's κ₄\[i,i,i,j\]
    /// and the P block it needs.
    pub fn image(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        self.mapped_image(w, hadamard(w, w).as_ref(), GENERATIONS, Dropped::Mapped)
            .1
    }

    /// z's blocks and corrections mapped (`w2` = W∘W), and their image in h's paired κ₄
    /// ([`super::triple4::Unpaired4::map`]'s but for the split term of the blocks with a
    /// non-diagonal A, kept at i = j only); with the mapped blocks kept after `generations`
    /// maps and the rest, the kept ones' G (e's part from them) and where the correction
    /// (−G + 2 diag(H), I, I) stands ([`Unpaired4Factored::with_corrections`]). With
    /// [`Dropped::PairedOnly`] the dropped blocks with a non-diagonal A give e alone, as
    /// (W∘W)D ([`Wide::g_mapped`]), and are not among the mapped blocks returned.
    #[allow(clippy::type_complexity)]
    fn mapped_image(
        &self,
        w: MatRef<'_, f64>,
        w2: MatRef<'_, f64>,
        generations: usize,
        dropped: Dropped,
    ) -> (Wide, Mat<f64>, [Vec<usize>; 2], Mat<f64>, usize) {
        let m = w.nrows();
        let (z, at) = self.with_corrections();
        let imaged: Vec<usize> = (0..z.placed.len())
            .filter(|&k| {
                let p = &z.placed[k];
                dropped == Dropped::PairedOnly && k != at && !p.diagonal && p.age + 1 > generations
            })
            .collect();
        let e_imaged = (!imaged.is_empty()).then(|| gemm(w2, z.g_mapped(&imaged, w).as_ref()));
        let (z, at) = if imaged.is_empty() {
            (z, at)
        } else {
            let before = imaged.iter().filter(|&&k| k < at).count();
            (z.without(&imaged), at - before)
        };
        let h = z.mapped(w, w2);
        let (kept, rest): (Vec<usize>, Vec<usize>) =
            (0..h.placed.len()).partition(|&k| h.placed[k].age <= generations);
        // e[i,j] = Σ_a W_ia² X_a[j,j] = [A'(X'∘Y')ᵀ]_ij, and the split term of the diagonal
        // blocks, split[i,j] = Σ_r d_r W_ir X'_ir W_jr Y'_jr, over z's κ₄\[a,a,b,c\] only.
        let g_kept = h.g_form(&kept);
        let mut e = &g_kept + h.g_form(&rest);
        if let Some(x) = &e_imaged {
            e += x;
        }
        let diagonal: Vec<usize> = (0..z.placed.len())
            .filter(|&k| z.placed[k].diagonal)
            .collect();
        let width = diagonal.iter().map(|&k| z.placed[k].rank).sum();
        let (mut wx, mut wy) = (
            crate::io::zeroed::<f64>(m, width),
            crate::io::zeroed::<f64>(m, width),
        );
        let mut col = 0;
        for &k in &diagonal {
            let (a, x, y) = (z.a_of(k), h.x(k), h.y(k));
            for r in 0..z.placed[k].rank {
                for i in 0..m {
                    wx[(i, col)] = a[(r, r)] * w[(i, r)] * x[(i, r)];
                    wy[(i, col)] = w[(i, r)] * y[(i, r)];
                }
                col += 1;
            }
        }
        let split = gemm(wx.as_ref(), wy.transpose());
        let t = (!self.triple_is_zero()).then(|| {
            let sw = gemm(w, self.triple.transpose());
            let ws = hadamard(w, sw.as_ref());
            gemm(ws.as_ref(), w2.transpose()) * faer::Scale(2.0)
        });
        let image = crate::io::filled(m, m, |i, j| {
            // The diagonal blocks' split term is ½(split + splitᵀ); the others' is kept at
            // i = j, where it is their part of e, e − split.
            let rest = if i == j {
                4.0 * (e[(i, i)] - split[(i, i)])
            } else {
                0.0
            };
            let t = t.as_ref().map_or(0.0, |t| t[(i, j)] + t[(j, i)]);
            e[(i, j)] + e[(j, i)] + 2.0 * (split[(i, j)] + split[(j, i)]) + rest + t
        });
        (h, image, [kept, rest], g_kept, at)
    }
}

/// The blocks of z's κ₄\[a,a,b,c\] from h's Σ̊ and the units' coefficients ([`Star4`]'s stars,
/// module docs); its κ₃ term is imaged by [`kappa3_part`] and not carried.
pub fn fresh_blocks(star: &Star4) -> Vec<Block> {
    let n = star.beta.len();
    let sg = &star.hollow;
    let bs = Arc::new(scale_rows(&star.beta, sg.as_ref()));
    vec![
        Block::new(
            crate::io::filled(n, n, |a, r| if a == r { star.s[a] } else { 0.0 }),
            true,
            bs.clone(),
            bs.clone(),
        ),
        Block::new(
            crate::io::filled(n, n, |a, r| 4.0 * star.alpha[a] * sg[(a, r)]),
            false,
            Arc::new(crate::io::filled(n, n, |b, r| {
                if b == r {
                    star.gamma[b]
                } else {
                    0.0
                }
            })),
            bs,
        ),
    ]
}

/// The part of [`Star4::image`] from h's κ₃ alone (its Σ stars zeroed): the κ₃ term of z's
/// κ₄\[a,a,b,c\] imaged without being carried as blocks.
pub fn kappa3_part(star: Star4) -> Star4 {
    let n = star.beta.len();
    Star4 {
        s: vec![0.0; n],
        gamma: vec![0.0; n],
        ..star
    }
}

/// h's blocks as z's (module docs): with α = B_{·,2,1}, β = B_{·,1,1}, γ = B_{·,1,2} and
/// B₂₂ = B_{·,2,2}, the diagrams of one κ₄(h) block of this class and no Σ edge are
///
/// ```text
/// B₂₂_a β_b β_c Q_h[a,b,c] + α_a γ_b β_c Q_h[b,a,c] + α_a β_b γ_c Q_h[c,a,b]
/// ```
///
/// (the block's repeated unit at z's a, at b, at c). The first is each block with its rows
/// scaled; the other two together are, per block (A, X, Y), the blocks (diag(α)X, diag(γ)A,
/// diag(β)Y) and (diag(α)Y, diag(γ)A, diag(β)X). Three blocks out per block in; two where
/// X = Y (the same factor: a star at a, the correction with P's block folded in), whose last
/// two are then one, (2 diag(α)X, diag(γ)A, diag(β)X).
pub fn carried_blocks(h: &Unpaired4Factored, units: &[UnitChaos]) -> Vec<Block> {
    let coef = |p: usize, j: usize| -> Vec<f64> { units.iter().map(|u| u.b[p][j]).collect() };
    let (b22, alpha, beta, gamma) = (coef(2, 2), coef(2, 1), coef(1, 1), coef(1, 2));
    let s = |d: &[f64], x: &Mat<f64>| scale_rows(d, x.as_ref());
    // diag(β)F once per distinct factor F of h's blocks, shared by the blocks that hold it.
    let mut scaled: Vec<(Factor, Factor)> = Vec::new();
    let mut beta_of = |f: &Factor| -> Factor {
        if let Some((_, b)) = scaled.iter().find(|(g, _)| Arc::ptr_eq(g, f)) {
            return b.clone();
        }
        let b = Arc::new(s(&beta, f));
        scaled.push((f.clone(), b.clone()));
        b
    };
    // The group's G and H from h's (module docs, "Speed").
    let sums = h.sums.as_ref().map(|hs| {
        let n = units.len();
        let (g, hh) = (&hs.g, &hs.h);
        Arc::new(Sums {
            g: crate::io::filled(n, n, |a, b| {
                b22[a] * beta[b] * beta[b] * g[(a, b)]
                    + 2.0 * alpha[a] * beta[b] * gamma[b] * hh[(b, a)]
            }),
            h: crate::io::filled(n, n, |a, c| {
                (b22[a] * beta[a] + alpha[a] * gamma[a]) * beta[c] * hh[(a, c)]
                    + alpha[a] * beta[a] * gamma[c] * g[(c, a)]
            }),
        })
    });
    let mut out = Vec::with_capacity(3 * h.blocks.len());
    for k in &h.blocks {
        let ga = Arc::new(s(&gamma, &k.a));
        let (bx, by) = (beta_of(&k.x), beta_of(&k.y));
        let block = |a: Mat<f64>, diagonal: bool, x: &Factor, y: &Factor| Block {
            a,
            diagonal,
            x: x.clone(),
            y: y.clone(),
            age: k.age,
            sums: sums.clone(),
        };
        out.push(block(s(&b22, &k.a), k.diagonal, &bx, &by));
        if Arc::ptr_eq(&k.x, &k.y) {
            let twice: Vec<f64> = alpha.iter().map(|a| 2.0 * a).collect();
            out.push(block(s(&twice, &k.x), false, &ga, &by));
        } else {
            out.push(block(s(&alpha, &k.x), false, &ga, &by));
            out.push(block(s(&alpha, &k.y), false, &ga, &bx));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
    use crate::propagate::higher::paired::Kappa4;
    use crate::propagate::higher::tensor::SymTensor;
    use crate::propagate::higher::triple4::Unpaired4;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
        Mat::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
    }

    /// A store over `n` units with blocks of both kinds, P, T random.
    fn store(n: usize, seed: u64) -> Unpaired4Factored {
        let mut rng = StdRng::seed_from_u64(seed);
        let p = random(n, n, &mut rng);
        let p = Paired((&p + p.transpose()) * faer::Scale(0.5));
        let t = random(n, n, &mut rng);
        let d = random(n, 1, &mut rng);
        let blocks = vec![
            Block::new(
                Mat::from_fn(n, n, |a, r| if a == r { d[(a, 0)] } else { 0.0 }),
                true,
                Arc::new(random(n, n, &mut rng)),
                Arc::new(random(n, n, &mut rng)),
            ),
            Block::new(
                random(n, 3, &mut rng),
                false,
                Arc::new(random(n, 3, &mut rng)),
                Arc::new(random(n, 3, &mut rng)),
            ),
        ];
        Unpaired4Factored::new(p, t, blocks)
    }

    /// The same entries held densely ([`Unpaired4`]).
    fn dense(f: &Unpaired4Factored) -> Unpaired4 {
        let n = f.dim();
        let mut q = vec![0.0; n * n * n];
        for a in 0..n {
            for c in 0..n {
                for b in 0..n {
                    q[b + n * (c + n * a)] = f.double(a, b, c);
                }
            }
        }
        Unpaired4::new(f.paired.clone(), f.triple.clone(), q)
    }

    /// h = W z's full κ₄ from z's `k4` ([`affine_tensor`]), M = W's rows.
    fn full_map(w: &Mat<f64>, k4: &SymTensor) -> SymTensor {
        let mut out = SymTensor::zeros(w.nrows(), 4);
        affine_tensor(
            w.as_ref(),
            k4,
            &mut out,
            &mut TensorAffineWorkspace::default(),
        )
        .unwrap();
        out
    }

    /// z's T (`z.triple`) written into `k4` at κ₄\[a,a,a,b\] (a ≠ b).
    fn set_triple(k4: &mut SymTensor, z: &Unpaired4Factored) {
        for a in 0..z.dim() {
            for b in (0..z.dim()).filter(|&b| b != a) {
                k4.set_sym(&[a, a, a, b], z.triple[(a, b)]);
            }
        }
    }

    /// `got` has a zero diagonal and is `full`'s κ₄\[i,i,i,j\] off it, to `tol`.
    fn assert_triple(got: &Mat<f64>, full: &SymTensor, tol: f64) {
        for i in 0..got.nrows() {
            assert_eq!(got[(i, i)], 0.0);
            for j in (0..got.nrows()).filter(|&j| j != i) {
                let want = full.get(&[i, i, i, j]);
                assert!(
                    (got[(i, j)] - want).abs() <= tol,
                    "{i},{j}: {} vs {want}",
                    got[(i, j)]
                );
            }
        }
    }

    /// z's T alone through the full affine map of a κ₄ holding only its entries
    /// κ₄\[a,a,a,b\] (a ≠ b): h's κ₄\[i,i,i,j\] is [`Unpaired4Factored::triple_map`] to
    /// rounding.
    #[test]
    fn triple_map_is_the_full_map_of_t() {
        let (m, n) = (4, 5);
        let z = store(n, 3);
        let mut rng = StdRng::seed_from_u64(4);
        let w = random(m, n, &mut rng);
        let mut t = SymTensor::zeros(n, 4);
        set_triple(&mut t, &z);
        let got = z.triple_map(w.as_ref());
        let scale = got.norm_max();
        assert!(scale > 1e-3);
        assert_eq!(got.nrows(), m);
        assert_triple(&got, &full_map(&w, &t), 1e-12 * scale);
    }

    /// The factored order 4's h's κ₄\[i,i,i,j\] — the map's (P's block and the blocks' F),
    /// [`Unpaired4Factored::triple_map`]'s and [`Unpaired4Factored::mixed`]'s — is the
    /// full affine map of z's κ₄ holding P (κ₄\[a,a,b,b\], κ₄\[a,a,a,a\]), T and the blocks'
    /// κ₄\[a,a,b,c\] on distinct units, to rounding: without the mixed positions it is not
    /// (checked below: they are a large part of it here).
    #[test]
    fn triple_with_the_mixed_positions_is_the_full_map() {
        let (m, n) = (4, 6);
        let z = store(n, 5);
        let mut rng = StdRng::seed_from_u64(6);
        let w = random(m, n, &mut rng);
        let mut k4 = SymTensor::zeros(n, 4);
        for a in 0..n {
            for b in 0..n {
                k4.set_sym(&[a, a, b, b], z.paired.0[(a, b)]);
            }
        }
        set_triple(&mut k4, &z);
        for a in 0..n {
            for b in (0..n).filter(|&b| b != a) {
                for c in (0..n).filter(|&c| c != a && c != b) {
                    k4.set_sym(&[a, a, b, c], z.double(a, b, c));
                }
            }
        }
        let out = full_map(&w, &k4);
        let (h, _) = z.map(w.as_ref(), GENERATIONS);
        let (_, mixed) = z.mixed(w.as_ref(), false);
        let got = &h.triple + z.triple_map(w.as_ref()) + &mixed;
        // Rounding: each entry sums O(N⁴) products; the map's scale bounds them.
        let scale = (0..m)
            .flat_map(|i| (0..m).map(move |j| (i, j)))
            .map(|(i, j)| out.get(&[i, i, i, j]).abs())
            .fold(0.0, f64::max);
        assert_eq!(mixed[(0, 0)], 0.0);
        assert_triple(&got, &out, 1e-12 * scale);
        assert!(mixed.norm_max() > 0.1 * scale);
    }

    /// The factored map equals [`Unpaired4::map`] of the same entries, to rounding, on
    /// κ₄\[i,i,j,k\] and κ₄\[i,i,i,j\], through two layers (the second map reads the first's
    /// blocks and corrections).
    #[test]
    fn affine_equals_the_dense_map() {
        let (m, n) = (6, 7);
        let z = store(n, 1);
        let mut rng = StdRng::seed_from_u64(2);
        let w = random(m, n, &mut rng);
        let v = random(5, m, &mut rng);
        let hp = Paired(random(m, m, &mut rng));
        let (mut h, _) = z.map(w.as_ref(), usize::MAX);
        let hd = dense(&z).map(w.as_ref(), Paired::zeros(m));
        h.paired = hp;
        let (h2, _) = h.map(v.as_ref(), usize::MAX);
        let h2d = dense(&h).map(v.as_ref(), Paired::zeros(5));
        for (f, d, k) in [(&h, &hd, m), (&h2, &h2d, 5)] {
            let scale = (0..k)
                .flat_map(|i| (0..k).map(move |j| (i, j)))
                .map(|(i, j)| d.get(&[i, i, i, j]).abs())
                .fold(0.0, f64::max);
            for i in 0..k {
                for j in (0..k).filter(|&j| j != i) {
                    let tol = 1e-12 * scale;
                    assert!((f.triple[(i, j)] - d.get(&[i, i, i, j])).abs() < tol);
                    for l in (0..k).filter(|&l| l != i && l != j) {
                        let want = d.get(&[i, i, j, l]);
                        assert!((f.double(i, j, l) - want).abs() < tol, "{i},{j},{l}");
                    }
                }
            }
        }
    }

    /// Through two maps with the blocks carried between them ([`carried_blocks`]), a cap of 2
    /// generations keeps the descendants of z's blocks: the second h's κ₄\[i,i,j,k\] is
    /// [`Unpaired4::map`] of every block the carry formed, to rounding; with 1 it lacks them
    /// (checked to be a large part of the entries).
    #[test]
    fn two_generations_keep_the_first_blocks_descendants() {
        let (m, n, k) = (6, 7, 5);
        let mut rng = StdRng::seed_from_u64(31);
        let (w, v) = (random(m, n, &mut rng), random(k, m, &mut rng));
        let units = chaos_units(m, crate::net::Activation::Gelu);
        let second = |generations: usize| {
            let (h, _) = store(n, 32).map(w.as_ref(), generations);
            let z = Unpaired4Factored::new(
                Paired::zeros(m),
                Mat::zeros(m, m),
                carried_blocks(&h, &units),
            );
            let (h2, _) = z.map(v.as_ref(), generations);
            (h2, dense(&z).map(v.as_ref(), Paired::zeros(k)))
        };
        let (kept, want) = second(2);
        let (capped, _) = second(1);
        let (mut worst, mut missed, mut scale) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..k {
            for j in (0..k).filter(|&j| j != i) {
                for l in (0..k).filter(|&l| l != i && l != j) {
                    let d = want.get(&[i, i, j, l]);
                    worst = worst.max((kept.double(i, j, l) - d).abs());
                    missed = missed.max((capped.double(i, j, l) - d).abs());
                    scale = scale.max(d.abs());
                }
            }
        }
        // Rounding: each entry sums O(N³) products of the blocks; the map's scale bounds them.
        assert!(
            scale > 1e-3 && worst <= 1e-12 * scale,
            "{worst:e} of {scale:e}"
        );
        assert!(missed > 0.1 * scale, "{missed:e} of {scale:e}");
    }

    /// The image with [`Unpaired4Factored::mixed`]'s P added is the paired image of
    /// [`Unpaired4::map`] (from a zero paired κ₄) of the same entries at every i, j, to
    /// rounding; without it, it is not off the diagonal (the next test's split term).
    #[test]
    fn image_with_the_mixed_positions_is_the_dense_image() {
        let (m, n) = (5, 6);
        let mut rng = StdRng::seed_from_u64(7);
        let w = random(m, n, &mut rng);
        let full = store(n, 8);
        let (Some(p), _) = full.mixed(w.as_ref(), true) else {
            panic!("P's mixed positions were asked for");
        };
        let got = full.image(w.as_ref()) + &p;
        let want = dense(&full).map(w.as_ref(), Paired::zeros(m)).paired.0;
        // Rounding: each entry sums O(N³) products; the image's scale bounds them.
        let scale = want.norm_max();
        for i in 0..m {
            assert_eq!(p[(i, i)], 0.0);
            for j in 0..m {
                let d = (got[(i, j)] - want[(i, j)]).abs();
                assert!(
                    d <= 1e-12 * scale,
                    "{i},{j}: {} vs {}",
                    got[(i, j)],
                    want[(i, j)]
                );
            }
        }
        assert!(p.norm_max() > 0.1 * scale);
    }

    /// The image differs from the paired image of [`Unpaired4::map`] (from a zero paired κ₄) of the same entries by exactly the
    /// split term 4 Σ_a W_ia W_ja (W R_a Wᵀ)_ij off the diagonal of the blocks with a
    /// non-diagonal A — the general block and the correction at b = c, R_a\[b,b\] = −G\[a,b\] +
    /// 2δ_ab H\[a,a\] (module docs) — computed here by brute force from the entries; the diagonal
    /// block's split term is kept, and on the diagonal the image is exact.
    #[test]
    fn image_is_the_dense_image_but_for_the_dropped_split_term() {
        let (m, n) = (5, 6);
        let mut rng = StdRng::seed_from_u64(4);
        let w = random(m, n, &mut rng);
        let full = store(n, 3);
        let (_, got) = full.map(w.as_ref(), GENERATIONS);
        // The image alone (no h's κ₄[i,i,i,j]) is the map's, bit for bit.
        assert_eq!(full.image(w.as_ref()), got);
        let want = dense(&full).map(w.as_ref(), Paired::zeros(m)).paired.0;
        let all = |a: usize, b: usize, c: usize| -> f64 {
            full.blocks.iter().map(|k| k.get(a, b, c)).sum()
        };
        let r = |a: usize, b: usize, c: usize| -> f64 {
            let general = full.blocks[1].get(a, b, c);
            let at_bb = if b == c {
                -all(a, b, b) + if a == b { 2.0 * all(a, a, a) } else { 0.0 }
            } else {
                0.0
            };
            general + at_bb
        };
        let x = |a: usize, i: usize, j: usize| -> f64 {
            let mut s = 0.0;
            for b in 0..n {
                for c in 0..n {
                    s += w[(i, b)] * w[(j, c)] * r(a, b, c);
                }
            }
            s
        };
        let mut largest: f64 = 0.0;
        for i in 0..m {
            for j in 0..m {
                let dropped: f64 = if i == j {
                    0.0
                } else {
                    (0..n)
                        .map(|a| 4.0 * w[(i, a)] * w[(j, a)] * x(a, i, j))
                        .sum()
                };
                largest = largest.max(dropped.abs());
                let tol = 1e-12 * want.norm_max();
                assert!(
                    (got[(i, j)] + dropped - want[(i, j)]).abs() < tol,
                    "{i},{j}: {} + {dropped} vs {}",
                    got[(i, j)],
                    want[(i, j)]
                );
            }
        }
        assert!(largest > 0.01 * want.norm_max());
        assert!(want.norm_max() > 0.1);
    }

    /// [`Dropped::PairedOnly`] on z's blocks with carried ones ([`carried_blocks`], which the
    /// map drops) beside fresh ones: the image in h's paired κ₄ and h's blocks are the default
    /// map's to rounding, and h's κ₄\[i,i,i,j\] differs from the default's by exactly 3F of the
    /// dropped blocks, F(i;i,j) = Σ_r A'\[i,r\] ½(X'\[i,r\] Y'\[j,r\] + Y'\[i,r\] X'\[j,r\]),
    /// A' = (V∘V)A, X' = VX, Y' = VY (by brute force per block), a large part of it.
    #[test]
    fn paired_only_drops_the_dropped_blocks_triple_alone() {
        let (m, n, k) = (6, 7, 5);
        let mut rng = StdRng::seed_from_u64(41);
        let (w, v) = (random(m, n, &mut rng), random(k, m, &mut rng));
        let units = chaos_units(m, crate::net::Activation::Gelu);
        let (h, _) = store(n, 42).map(w.as_ref(), GENERATIONS);
        let fresh = store(m, 43);
        let mut blocks = carried_blocks(&h, &units);
        let carried = blocks.len();
        blocks.extend(fresh.blocks);
        let z = Unpaired4Factored::new(fresh.paired, fresh.triple, blocks);
        let (want, want_image) = z.map(v.as_ref(), GENERATIONS);
        let (got, got_image) = z.map_with(v.as_ref(), GENERATIONS, Dropped::PairedOnly);
        let scale = want_image.norm_max();
        assert!(scale > 1e-3);
        assert!((&got_image - &want_image).norm_max() <= 1e-12 * scale);
        assert_eq!(got.blocks.len(), want.blocks.len());
        let (mut worst, mut size) = (0.0f64, 0.0f64);
        for i in 0..k {
            for j in (0..k).filter(|&j| j != i) {
                for l in (0..k).filter(|&l| l != i && l != j) {
                    worst = worst.max((got.double(i, j, l) - want.double(i, j, l)).abs());
                    size = size.max(want.double(i, j, l).abs());
                }
            }
        }
        assert!(
            size > 1e-3 && worst <= 1e-12 * size,
            "{worst:e} of {size:e}"
        );
        let v2 = hadamard(v.as_ref(), v.as_ref());
        let mut f = Mat::<f64>::zeros(k, k);
        for b in &z.blocks[..carried] {
            let (a, x, y) = (&v2 * &b.a, &v * b.x.as_ref(), &v * b.y.as_ref());
            f += Mat::from_fn(k, k, |i, j| {
                (0..b.rank())
                    .map(|r| a[(i, r)] * 0.5 * (x[(i, r)] * y[(j, r)] + y[(i, r)] * x[(j, r)]))
                    .sum::<f64>()
            });
        }
        let t_scale = want.triple.norm_max();
        for i in 0..k {
            assert_eq!(got.triple[(i, i)], 0.0);
            for j in (0..k).filter(|&j| j != i) {
                let d = want.triple[(i, j)] - got.triple[(i, j)] - 3.0 * f[(i, j)];
                assert!(d.abs() <= 1e-12 * t_scale, "{i},{j}: {d:e} of {t_scale:e}");
            }
        }
        assert!(3.0 * f.norm_max() > 0.1 * t_scale);
    }

    fn chaos_units(n: usize, act: crate::net::Activation) -> Vec<UnitChaos> {
        (0..n)
            .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 0.7, 0.8 + 0.1 * i as f64))
            .collect()
    }

    /// A GEMM with a diagonal factor (scaled rows/columns) is faer's product to rounding.
    #[test]
    fn diagonal_factor_gemm_is_the_product() {
        let n = 7;
        let mut rng = StdRng::seed_from_u64(6);
        let w = random(5, n, &mut rng);
        let d = Mat::from_fn(n, n, |i, j| if i == j { (i as f64) - 2.5 } else { 0.0 });
        let x = random(n, n, &mut rng);
        for (a, b) in [(w.as_ref(), d.as_ref()), (d.as_ref(), x.as_ref())] {
            let mut want = Mat::zeros(a.nrows(), b.ncols());
            matmul(want.as_mut(), Accum::Replace, a, b, 1.0, Par::Seq);
            let got = gemm(a, b);
            assert!((&got - &want).norm_max() <= 1e-15 * want.norm_max());
        }
    }

    /// The fresh blocks hold [`Star4::entry`] (without κ₃) on distinct units, and
    /// [`kappa3_part`]'s image is the rest of [`Star4::image`].
    #[test]
    fn fresh_blocks_hold_the_star_entries() {
        use crate::propagate::higher::factored::Factored;
        use crate::propagate::higher::star4::HKappa3;
        let n = 6;
        let mut rng = StdRng::seed_from_u64(6);
        let a = random(n, n, &mut rng);
        let cov = &a * a.transpose() * faer::Scale(0.2) + Mat::<f64>::identity(n, n);
        let star = Star4::new(&cov, &chaos_units(n, crate::net::Activation::Gelu));
        let held = Unpaired4Factored::new(Paired::zeros(n), Mat::zeros(n, n), fresh_blocks(&star));
        let mut worst: f64 = 0.0;
        let mut size: f64 = 0.0;
        for a in 0..n {
            for b in 0..n {
                for c in 0..n {
                    if a != b && a != c && b != c {
                        let want = star.entry(a, b, c);
                        worst = worst.max((held.double(a, b, c) - want).abs());
                        size = size.max(want.abs());
                    }
                }
            }
        }
        assert!(size > 1e-2 && worst < 1e-13 * size, "{worst:e} of {size:e}");
        let f = Factored {
            factors: std::array::from_fn(|_| random(n, 2, &mut rng)),
            pairs: std::array::from_fn(|_| random(n, 3, &mut rng)),
        };
        let with_k3 = star.clone().with_kappa3(HKappa3::factored(f));
        let w = random(4, n, &mut rng);
        let rest = with_k3.image(w.as_ref()) - star.image(w.as_ref());
        let part = kappa3_part(with_k3).image(w.as_ref());
        assert!((&rest - &part).norm_max() < 1e-12 * rest.norm_max());
        assert!(rest.norm_max() > 1e-3);
    }

    /// A carried group's G and H, formed from h's sums ([`Sums`]), are its blocks' sums, and
    /// the next map reading them equals the map summing the blocks, to rounding.
    #[test]
    fn group_sums_are_the_blocks_sums() {
        let (m, n) = (6, 7);
        let z = store(n, 9);
        let mut rng = StdRng::seed_from_u64(10);
        let (w, v) = (random(m, n, &mut rng), random(5, m, &mut rng));
        let (h, _) = z.map(w.as_ref(), GENERATIONS);
        let units = chaos_units(m, crate::net::Activation::Gelu);
        let carried = carried_blocks(&h, &units);
        let plain: Vec<Block> = (carried.iter())
            .map(|k| Block {
                sums: None,
                ..k.clone()
            })
            .collect();
        let sums = carried[0].sums.clone().expect("h's sums from the map");
        let mut wide = Wide::with_capacity(m, 0, 0);
        for k in &plain {
            wide.push((k.a.as_ref(), &k.x, &k.y), k.diagonal, k.age);
        }
        let all: Vec<usize> = (0..plain.len()).collect();
        let close = |got: &Mat<f64>, want: &Mat<f64>| {
            (got - want).norm_max() <= 1e-12 * want.norm_max() && want.norm_max() > 1e-3
        };
        assert!(close(&sums.g, &wide.g_form(&all)));
        assert!(close(&sums.h, &wide.h_form(&all)));
        let store = |blocks| Unpaired4Factored::new(Paired::zeros(m), Mat::zeros(m, m), blocks);
        let (with, image) = store(carried).map(v.as_ref(), GENERATIONS);
        let (without, want) = store(plain).map(v.as_ref(), GENERATIONS);
        assert!(close(&image, &want));
        assert!(close(&with.triple, &without.triple));
    }

    /// With h Gaussian but for κ₄\[a,a,b,c\] and Σ diagonal (no edge), z's κ₄\[a,a,b,c\] by
    /// [`super::super::closure::ChaosRule::unpaired`] is B_{a,2,2} β_b β_c κ₄(h)\[a,a,b,c\]
    /// ([`carried_blocks`]), for relu, gelu and tanh: for random blocks, and for a mapped
    /// store's, whose correction with P's block folded in has X = Y (carried as two blocks).
    #[test]
    fn carried_coefficient_is_the_rules() {
        let n = 5;
        let drawn = {
            let full = store(n, 8);
            Unpaired4Factored::new(Paired::zeros(n), Mat::zeros(n, n), full.blocks)
        };
        assert_eq!(
            carried_blocks(&drawn, &chaos_units(n, crate::net::Activation::Relu)).len(),
            6
        );
        let mut rng = StdRng::seed_from_u64(12);
        let (mapped, _) = store(n + 1, 13).map(random(n, n + 1, &mut rng).as_ref(), GENERATIONS);
        let same = mapped
            .blocks
            .iter()
            .filter(|k| Arc::ptr_eq(&k.x, &k.y))
            .count();
        assert_eq!(same, 1, "the correction with P's block");
        let mapped = Unpaired4Factored::new(Paired::zeros(n), Mat::zeros(n, n), mapped.blocks);
        let units = chaos_units(n, crate::net::Activation::Relu);
        assert_eq!(carried_blocks(&mapped, &units).len(), 3 * 4 - 1);
        for h in [drawn, mapped] {
            carried_match_the_rule(&h);
        }
    }

    /// [`carried_blocks`] of `h` against the rule (`carried_coefficient_is_the_rules`).
    fn carried_match_the_rule(h: &Unpaired4Factored) {
        use crate::propagate::higher::closure::{ChaosRule, Input};
        let n = h.dim();
        let hd = dense(h);
        let cov = Mat::from_fn(n, n, |a, b| if a == b { 0.7 + 0.2 * a as f64 } else { 0.0 });
        for act in [
            crate::net::Activation::Relu,
            crate::net::Activation::Gelu,
            crate::net::Activation::Tanh,
        ] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 0.7, cov[(i, i)].sqrt()))
                .collect();
            let k3 = SymTensor::zeros(n, 3);
            let input = Input {
                cov: &cov,
                k3: &k3,
                k4: Some(&hd as &dyn Kappa4),
                units: &units,
            };
            let mut o3 = SymTensor::zeros(0, 3);
            let z = ChaosRule::unpaired().tensors_unpaired(&input, &mut o3);
            let ours = Unpaired4Factored::new(
                Paired::zeros(n),
                Mat::zeros(n, n),
                carried_blocks(h, &units),
            );
            let (mut worst, mut size) = (0.0f64, 0.0f64);
            for a in 0..n {
                for b in 0..n {
                    for c in 0..n {
                        if a != b && a != c && b != c {
                            let want = z.get(&[a, a, b, c]);
                            worst = worst.max((ours.double(a, b, c) - want).abs());
                            size = size.max(want.abs());
                        }
                    }
                }
            }
            assert!(
                size > 1e-3 && worst < 1e-12 * size,
                "{act:?}: {worst:e} of {size:e}"
            );
        }
    }
}
