//! Order 3's image of z's κ₄\[a,a,b,c\] (one unit twice, two others once) in the next h's
//! paired κ₄ (issue #16 item 7).
//!
//! The factored order 3 carries z's paired κ₄ only ([`super::paired`]); the entries
//! κ₄(z)\[a,a,b,c\] it drops map into h = W z's paired entries coherently (EXPERIMENTS.md,
//! "Against ARC's peer", sixth and seventh sessions: on relu n = 64, depth 8 this image moves
//! the output mean's error 8.3e-4 → 5.9e-4). The dense order 3 carries those entries and h's
//! non-paired κ₄ instead, with their exact image ([`super::triple4`], eighth session: 6.3e-5);
//! this leading-order image serves the factored path. Their image, over the ordered index
//! tuples with multiset
//! {a,a,b,c} (b ≠ c, both ≠ a):
//!
//! ```text
//! κ₄(h)[i,i,j,j] += Σ_a [W_ia² D[a,j] + W_ja² D[a,i] + 4 W_ia W_ja (W Q_a Wᵀ)_ij]
//! D[a,j] = (W Q_a Wᵀ)_jj = Σ_{b≠c; b,c≠a} W_jb W_jc Q_a[b,c],   Q_a[b,c] = κ₄(z)[a,a,b,c]
//! ```
//!
//! (the two a's at positions {1,2}, at {3,4}, or one in each of the 4 mixed ways). At i = j
//! the three terms are one, 6 Σ_a W_ia² D\[a,i\]. At i ≠ j the last term is a sum of n products
//! of random sign, one order in n^(−1/2) below the first two (as the exact paired map's second
//! pairing, [`super::paired_leading`]): it is kept on the diagonal only.
//!
//! **z's κ₄\[a,a,b,c\] to leading order.** From the chaos rule ([`super::closure`]; B_{p,j}
//! the unit's chaos coefficients, [`super::chaos`]: β = B_{1,1} = E φ', γ = B_{1,2} = E φ''/2,
//! α = B_{2,1} = 2E\[(φ − m)φ'\], B_{2,2} = E\[φ'² + (φ − m)φ''\]), the joint cumulant of
//! z_a, z_a, z_b, z_c is a sum of diagrams over h's Σ and κ₃; those of width cost 2
//! (n^(−1), [`super::diagrams::Block::cost`]) are the two-edge trees over the three units and
//! the single κ₃ block:
//!
//! ```text
//! κ₄(z)[a,a,b,c] = s_a β_b β_c Σ_ab Σ_ac                              (star at a)
//!                + 2 α_a (γ_b β_c Σ_ab Σ_bc + γ_c β_b Σ_ac Σ_bc)         (star at b, at c)
//!                + α_a β_b β_c κ₃(h)[a,b,c] + O(n^(−3/2)),
//! s_a = 2 (B_{a,2,2} − β_a²) = κ(φ_a, φ_a, h_a, h_a) / Σ_aa²
//! ```
//!
//! (star at a: the moment's 2 B_{a,2,2} β_b β_c Σ_ab Σ_ac less the product 2 P_ab P_ac, P_ab =
//! β_a β_b Σ_ab; star at b: E\[:δ_a: :δ_b²: :δ_c:\] = 2 Σ_ab Σ_bc, no product to subtract; the
//! other products and the Δm terms are of higher cost). The Σ terms make Q_a rank-one plus a
//! rank-two piece, so D is a few N × N × M GEMMs: with Σ̊ = Σ less its diagonal,
//! G = W diag(β) Σ̊ (M × N), column a = W v_a, v_a\[b\] = β_b Σ̊_ab,
//!
//! ```text
//! D[a,j] = s_a (G[j,a]² − Σ_b W_jb² v_a[b]²)
//!        + 4 α_a (Σ_b Σ̊_ab γ_b W_jb G[j,b] − β_a W_ja Σ_b Σ̊_ab² γ_b W_jb)
//! ```
//!
//! (the subtracted parts remove b = c and c = a). The κ₃ term, with U = W diag(β) and
//! S\[a,b\] = κ₃(h)\[a,a,b\], by inclusion–exclusion over b = c, b = a, c = a:
//!
//! ```text
//! D₃[a,j] = α_a (Σ_{b,c} U_jb U_jc κ₃(h)[a,b,c] − ((U∘U) S)[j,a] − 2 U_ja (U Sᵀ)[j,a] + 2 U_ja² S[a,a])
//! ```
//!
//! with the full contraction from h's κ₃ as the carry holds it ([`HKappa3`]): the dense tensor
//! one N × N block per unit times Uᵀ (2N³M flops, a third of the dense κ₃ map's), or the factored
//! one, (1/3) Σ_k F_k ((U F_l)∘(U F_m))ᵀ over its N × R factors (O(NMR)).
//! Cost of the Σ terms O(MN² + M²N) per class, as the leading paired map's.
//!
//! **The next slice.** On the factored path z's full κ₃ block is h's factors with their rows
//! scaled by β (coefficient 1, [`super::factored::StarTerms::full_is_beta`]), so the next h's
//! factors begin with U·F₀, U·F₁, U·F₂ and pairs U·P₀, U·P₁ ([`super::factored::Factored::map`]
//! lays them first). The contraction above reads those products instead of forming them, and
//! the next h's slice over those columns is a product with U:
//!
//! ```text
//! Σ_r (UF₀∘UF₁)[i,r] (UF₂)[j,r] = Σ_b U_jb [F₂ (UF₀∘UF₁)ᵀ][b,i],   so   S'[i,j] = (U T)[j,i] + S'_rest[i,j]
//! T[a,j] = Σ_{b,c} U_jb U_jc κ₃(h)[a,b,c] = (1/3) Σ_k F_k (UF_l∘UF_o)ᵀ + (2/3) P₀(UP₀∘UP₁)ᵀ + (1/3) P₁(UP₀∘UP₀)ᵀ
//! ```
//!
//! (the same pairings and weights as [`super::factored::Factored::slice`]; S'_rest the slice of
//! the next h's other columns). That costs 2M²N instead of 2M²(3R + 2T) for a κ₃ of R general
//! terms and T pairs, which grow by N each per layer; the results are the same to rounding.

use faer::linalg::matmul::matmul;
use faer::{unzip, zip, Accum, Mat, MatRef, Par};

use super::chaos::UnitChaos;
use super::factored::Factored;
use super::tensor::SymTensor;

/// h's κ₃ as the carry holds it, for the κ₃ term of κ₄(z)\[a,a,b,c\] (module docs).
#[derive(Clone, Debug, PartialEq)]
pub enum HKappa3 {
    Dense(SymTensor),
    Factored(Box<FactoredH>),
}

/// h's factored κ₃ with its slice S\[a,b\] = κ₃\[a,a,b\] ([`Factored::slice`], which the carry
/// formed for h's closure) and whether the next h's factors begin with these mapped by
/// U = W diag(β) ([`HKappa3::factored_with_slice`]).
#[derive(Clone, Debug, PartialEq)]
pub struct FactoredH {
    pub(super) f: Factored,
    pub(super) slice: Mat<f64>,
    pub(super) leads: bool,
}

impl HKappa3 {
    /// `f` held factored, its slice formed here; not leading the next h's factors
    /// ([`HKappa3::factored_with_slice`]).
    pub fn factored(f: Factored) -> Self {
        let slice = f.slice();
        HKappa3::Factored(Box::new(FactoredH {
            f,
            slice,
            leads: false,
        }))
    }

    /// `f` held factored with its slice `slice` (= `f.slice()`); `leads`: the next h's
    /// factored κ₃ ([`Factored::map`] of z's) has U·F₀, U·F₁, U·F₂ as its first general
    /// columns and U·P₀, U·P₁ as its first pairs (U = W diag(β), β the units' B_{1,1}): z's
    /// full κ₃ block ([`super::factored::StarTerms::closure`]) scaled h's rows by β with
    /// coefficient 1.
    pub fn factored_with_slice(f: Factored, slice: Mat<f64>, leads: bool) -> Self {
        HKappa3::Factored(Box::new(FactoredH { f, slice, leads }))
    }
}

impl HKappa3 {
    /// κ₃\[a,b,c\].
    fn get(&self, a: usize, b: usize, c: usize) -> f64 {
        match self {
            HKappa3::Dense(t) => t.get(&[a, b, c]),
            HKappa3::Factored(h) => {
                let [f0, f1, f2] = &h.f.factors;
                let mut sum = 0.0;
                for (x, y, z) in [
                    (a, b, c),
                    (a, c, b),
                    (b, a, c),
                    (b, c, a),
                    (c, a, b),
                    (c, b, a),
                ] {
                    sum += (0..f0.ncols())
                        .map(|r| f0[(x, r)] * f1[(y, r)] * f2[(z, r)])
                        .sum::<f64>();
                }
                let [p0, p1] = &h.f.pairs;
                let pairs = (0..p0.ncols())
                    .map(|t| {
                        p0[(a, t)] * p0[(b, t)] * p1[(c, t)]
                            + p0[(a, t)] * p1[(b, t)] * p0[(c, t)]
                            + p1[(a, t)] * p0[(b, t)] * p0[(c, t)]
                    })
                    .sum::<f64>();
                sum / 6.0 + pairs / 3.0
            }
        }
    }

    /// Flops of [`HKappa3::full_contraction`] for an M × N map; `lead`: the products U·F are
    /// read from the next h's factors, not formed.
    fn full_flops(&self, m: usize, n: usize, lead: bool) -> f64 {
        let (m, n) = (m as f64, n as f64);
        match self {
            HKappa3::Dense(_) => 2.0 * n * n * n * m,
            HKappa3::Factored(h) => {
                let (r, t) = (h.f.factors[0].ncols() as f64, h.f.pairs[0].ncols() as f64);
                let products = if lead {
                    0.0
                } else {
                    (6.0 * r + 4.0 * t) * m * n
                };
                // F₂'s product shared with P₀'s where F₂ is P₀ (`full_contraction`).
                let general = if h.f.third_is_first_factor() {
                    4.0
                } else {
                    6.0
                };
                products + (general * r + 4.0 * t) * m * n
            }
        }
    }

    /// Whether `next` (the next h's factored κ₃) begins with this factored κ₃'s columns mapped
    /// by U ([`HKappa3::factored_with_slice`]): its general terms and pairs are at least as many.
    fn leads(&self, next: &Factored) -> bool {
        matches!(self, HKappa3::Factored(h) if h.leads
            && next.factors[0].ncols() >= h.f.factors[0].ncols()
            && next.pairs[0].ncols() >= h.f.pairs[0].ncols())
    }

    /// Σ_{b,c} U_jb U_jc κ₃\[a,b,c\] over all b, c, N × M (module docs): the dense tensor one
    /// N × N block per unit times Uᵀ; the factored one (1/3) Σ_k F_k (UF_l ∘ UF_o)ᵀ over its
    /// general terms Sym(F₀⊗F₁⊗F₂) and (2/3) P₀ (UP₀ ∘ UP₁)ᵀ + (1/3) P₁ (UP₀ ∘ UP₀)ᵀ over its
    /// pairs Sym(P₀⊗P₀⊗P₁), with the products U·F read from `lead`'s first columns where this
    /// κ₃ [`HKappa3::leads`] it (the same numbers to rounding), else formed.
    fn full_contraction(&self, u: MatRef<'_, f64>, lead: Option<&Factored>) -> Mat<f64> {
        let (m, n) = (u.nrows(), u.ncols());
        match self {
            HKappa3::Dense(t) => {
                // Per a, the contiguous N × N block K_a[b,c] = κ₃[b,c,a] (symmetric, first
                // index fastest): (U K_a Uᵀ)_jj = Σ_b U_jb (K_a Uᵀ)[b,j], one scratch reused.
                let mut total = crate::io::zeroed(n, m);
                let mut ku = crate::io::zeroed::<f64>(n, m);
                for (a, block) in t.data().chunks_exact(n * n).enumerate() {
                    let k = MatRef::from_column_major_slice(block, n, n);
                    matmul(
                        ku.as_mut(),
                        Accum::Replace,
                        k,
                        u.transpose(),
                        1.0,
                        Par::rayon(0),
                    );
                    for j in 0..m {
                        total[(a, j)] = (0..n).map(|b| u[(j, b)] * ku[(b, j)]).sum::<f64>();
                    }
                }
                total
            }
            HKappa3::Factored(h) => {
                let f = &h.f;
                // U·F for F₀, F₁, F₂, P₀, P₁: views of `lead`'s first columns, or formed.
                let formed: Vec<Mat<f64>>;
                let products: Vec<MatRef<'_, f64>> = match lead.filter(|next| self.leads(next)) {
                    Some(next) => (next.factors.iter().chain(&next.pairs))
                        .zip(f.factors.iter().chain(&f.pairs))
                        .map(|(y, x)| y.subcols(0, x.ncols()))
                        .collect(),
                    None => {
                        formed = (f.factors.iter().chain(&f.pairs))
                            .map(|x| gemm(u, x.as_ref()))
                            .collect();
                        formed.iter().map(Mat::as_ref).collect()
                    }
                };
                let (p, q) = products.split_at(3);
                // (factor, Hadamard pair, weight): F_k (UF_l∘UF_o)ᵀ, 2 P₀(UP₀∘UP₁)ᵀ, P₁(UP₀∘UP₀)ᵀ;
                // one scratch for the Hadamard products. Where F₂ is P₀ (the factorable
                // rule's carry after a map, [`Factored::third_is_first_factor`]), F₂'s term and
                // P₀'s are one product, P₀ [(UF₀∘UF₁) + 2(UP₀∘UP₁)]ᵀ (`shared`).
                // The fifth entry: whether the term also carries F₂'s (UF₀∘UF₁), true for P₀'s
                // term only and only where `shared`.
                let shared = f.third_is_first_factor();
                let mut terms = vec![
                    (&f.factors[0], p[1], p[2], 1.0, false),
                    (&f.factors[1], p[0], p[2], 1.0, false),
                ];
                if !shared {
                    terms.push((&f.factors[2], p[0], p[1], 1.0, false));
                }
                terms.push((&f.pairs[0], q[0], q[1], 2.0, shared));
                terms.push((&f.pairs[1], q[0], q[0], 1.0, false));
                let widest = f.factors[0].ncols().max(f.pairs[0].ncols());
                let mut had = crate::io::zeroed::<f64>(m, widest);
                let mut total = crate::io::zeroed::<f64>(n, m);
                for (x, y, z, weight, plus_general) in terms {
                    let mut hy = had.as_mut().subcols_mut(0, x.ncols());
                    hy.copy_from(y);
                    zip!(hy.as_mut(), z).for_each(|unzip!(h, z)| *h *= *z);
                    let weight = if plus_general {
                        // (UF₀∘UF₁) + 2(UP₀∘UP₁) with weight 1.
                        zip!(hy.as_mut(), p[0], p[1])
                            .for_each(|unzip!(h, x, y)| *h = *x * *y + 2.0 * *h);
                        1.0
                    } else {
                        weight
                    };
                    matmul(
                        total.as_mut(),
                        Accum::Add,
                        x.as_ref(),
                        hy.transpose(),
                        weight / 3.0,
                        Par::rayon(0),
                    );
                }
                total
            }
        }
    }

    /// Σ_{b≠c; b,c≠a} U_jb U_jc κ₃\[a,b,c\] (module docs), N × M, from the full contraction
    /// `total` ([`HKappa3::full_contraction`]) by inclusion–exclusion over b = c, b = a, c = a
    /// with S\[a,b\] = κ₃\[a,a,b\].
    fn contracted(&self, u: MatRef<'_, f64>, total: &Mat<f64>) -> Mat<f64> {
        let (m, n) = (u.nrows(), u.ncols());
        let dense;
        let s = match self {
            HKappa3::Dense(t) => {
                dense = crate::io::filled(n, n, |a, b| t.get(&[a, a, b]));
                &dense
            }
            HKappa3::Factored(h) => &h.slice,
        };
        let u2 = hadamard(u, u);
        let same = gemm(u2.as_ref(), s.as_ref());
        let at_a = gemm(u, s.transpose());
        crate::io::filled(n, m, |a, j| {
            let ua = u[(j, a)];
            total[(a, j)] - same[(j, a)] - 2.0 * ua * at_a[(j, a)] + 2.0 * ua * ua * s[(a, a)]
        })
    }
}

/// The element-wise product X ∘ Y.
fn hadamard(x: MatRef<'_, f64>, y: MatRef<'_, f64>) -> Mat<f64> {
    crate::io::filled(x.nrows(), x.ncols(), |i, j| x[(i, j)] * y[(i, j)])
}

/// A · B, computed by faer.
pub(super) fn gemm(a: MatRef<'_, f64>, b: MatRef<'_, f64>) -> Mat<f64> {
    let mut out = crate::io::zeroed(a.nrows(), b.ncols());
    matmul(out.as_mut(), Accum::Replace, a, b, 1.0, Par::rayon(0));
    out
}

/// What one class's z supplies to the image: h's Σ̊ and the units' chaos coefficients.
#[derive(Clone, Debug, PartialEq)]
pub struct Star4 {
    /// Σ̊: h's covariance with a zero diagonal.
    pub(super) hollow: Mat<f64>,
    /// β_a = B_{a,1,1}.
    pub(super) beta: Vec<f64>,
    /// γ_a = B_{a,1,2}.
    pub(super) gamma: Vec<f64>,
    /// α_a = B_{a,2,1}.
    pub(super) alpha: Vec<f64>,
    /// s_a = 2(B_{a,2,2} − β_a²).
    pub(super) s: Vec<f64>,
    /// h's κ₃, where not zero.
    pub(super) k3: Option<HKappa3>,
}

impl Star4 {
    /// The pieces of z's κ₄\[a,a,b,c\] from h's covariance `cov` and the units' coefficients.
    pub fn new(cov: &Mat<f64>, units: &[UnitChaos]) -> Self {
        let n = units.len();
        Star4 {
            hollow: crate::io::filled(n, n, |a, b| if a == b { 0.0 } else { cov[(a, b)] }),
            beta: units.iter().map(|u| u.b[1][1]).collect(),
            gamma: units.iter().map(|u| u.b[1][2]).collect(),
            alpha: units.iter().map(|u| u.b[2][1]).collect(),
            s: units
                .iter()
                .map(|u| 2.0 * (u.b[2][2] - u.b[1][1] * u.b[1][1]))
                .collect(),
            k3: None,
        }
    }

    /// Adds the κ₃ term from h's κ₃ (module docs).
    pub fn with_kappa3(mut self, k3: HKappa3) -> Self {
        self.k3 = Some(k3);
        self
    }

    /// Flops of [`Star4::image_with`] for an M × N map; `given`: with the full contraction of
    /// h's κ₃ given ([`Star4::next_slice`] formed it).
    pub fn flops(&self, m: usize, given: bool) -> f64 {
        let n = self.beta.len();
        let (mf, nf) = (m as f64, n as f64);
        let sigma = if self.sigma_free() {
            0.0
        } else {
            8.0 * mf * nf * nf
        };
        let k3 = self.k3.as_ref().map_or(0.0, |k| {
            let full = if given {
                0.0
            } else {
                k.full_flops(m, n, false)
            };
            full + 6.0 * mf * nf * nf
        });
        sigma + 2.0 * mf * mf * nf + 12.0 * mf * nf + k3
    }

    /// κ₄(z)\[a,a,b,c\] to leading order (module docs), for distinct a, b, c.
    pub fn entry(&self, a: usize, b: usize, c: usize) -> f64 {
        let (sg, be, ga) = (&self.hollow, &self.beta, &self.gamma);
        let k3 = self.k3.as_ref().map_or(0.0, |k| k.get(a, b, c));
        self.s[a] * be[b] * be[c] * sg[(a, b)] * sg[(a, c)]
            + self.alpha[a]
                * (2.0 * (ga[b] * be[c] * sg[(a, b)] + ga[c] * be[b] * sg[(a, c)]) * sg[(b, c)]
                    + be[b] * be[c] * k3)
    }

    /// Whether the Σ terms are zero (s and γ zero, as [`super::triple4_factored::kappa3_part`]
    /// makes them): D is then α_a times the κ₃ term alone.
    fn sigma_free(&self) -> bool {
        self.s.iter().chain(&self.gamma).all(|&x| x == 0.0)
    }

    /// U = W diag(β), M × N.
    fn scaled(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        crate::io::filled(w.nrows(), w.ncols(), |j, b| w[(j, b)] * self.beta[b])
    }

    /// D\[a,j\] = (W Q_a Wᵀ)_jj (module docs), N × M; `total`: the full contraction of h's κ₃
    /// by U where [`Star4::next_slice`] formed it.
    fn contracted(&self, w: MatRef<'_, f64>, total: Option<&Mat<f64>>) -> Mat<f64> {
        let (m, n) = (w.nrows(), w.ncols());
        // U = W diag(β) (M × N).
        let wb = self.scaled(w);
        let k3 = self.k3.as_ref().map(|k| match total {
            Some(t) => k.contracted(wb.as_ref(), t),
            None => k.contracted(wb.as_ref(), &k.full_contraction(wb.as_ref(), None)),
        });
        if self.sigma_free() {
            // The Σ terms below are exact zeros: s_a · (…) and the γ products vanish.
            return crate::io::filled(n, m, |a, j| {
                self.alpha[a] * k3.as_ref().map_or(0.0, |t| t[(a, j)])
            });
        }
        let sg = self.hollow.as_ref();
        // G = U Σ̊ (M × N).
        let g = gemm(wb.as_ref(), sg);
        // Σ_b W_jb² v_a[b]² = [(W∘W) diag(β²) (Σ̊∘Σ̊)]_ja.
        let sq = crate::io::filled(n, n, |a, b| sg[(a, b)] * sg[(a, b)]);
        let wbb = crate::io::filled(m, n, |j, b| wb[(j, b)] * wb[(j, b)]);
        let diag = gemm(wbb.as_ref(), sq.as_ref());
        // Σ_b Σ̊_ab γ_b W_jb G[j,b] and Σ_b Σ̊_ab² γ_b W_jb.
        let x = crate::io::filled(n, m, |b, j| self.gamma[b] * w[(j, b)] * g[(j, b)]);
        let star_b = gemm(sg, x.as_ref());
        let wg = crate::io::filled(n, m, |b, j| self.gamma[b] * w[(j, b)]);
        let back = gemm(sq.as_ref(), wg.as_ref());
        crate::io::filled(n, m, |a, j| {
            let third = k3.as_ref().map_or(0.0, |t| t[(a, j)]);
            self.s[a] * (g[(j, a)] * g[(j, a)] - diag[(j, a)])
                + self.alpha[a]
                    * (4.0 * (star_b[(a, j)] - self.beta[a] * w[(j, a)] * back[(a, j)]) + third)
        })
    }

    /// The image of z's κ₄\[a,a,b,c\] (the Σ terms) in h = W z's paired κ₄, M × M (module
    /// docs): F + Fᵀ off the diagonal and 6 F_ii on it, F = (W∘W) D.
    pub fn image(&self, w: MatRef<'_, f64>) -> Mat<f64> {
        self.image_with(w, None)
    }

    /// [`Star4::image`] with the full contraction of h's κ₃ by U = W diag(β) given (`total`,
    /// from [`Star4::next_slice`]) instead of formed.
    pub fn image_with(&self, w: MatRef<'_, f64>, total: Option<&Mat<f64>>) -> Mat<f64> {
        let d = self.contracted(w, total);
        let (m, n) = (w.nrows(), w.ncols());
        let w2 = crate::io::filled(m, n, |i, a| w[(i, a)] * w[(i, a)]);
        let f = gemm(w2.as_ref(), d.as_ref());
        crate::io::filled(m, m, |i, j| {
            if i == j {
                6.0 * f[(i, i)]
            } else {
                f[(i, j)] + f[(j, i)]
            }
        })
    }

    /// The next h's κ₃ slice from this z's κ₃ term (module docs, "The next slice"), where h's
    /// factored κ₃ leads `next` (the next h's factored κ₃, W's map of z's, which
    /// begins with U·F₀, U·F₁, U·F₂ and U·P₀, U·P₁, U = W diag(β)): every slice term over those
    /// columns is a product with U, e.g. Σ_r (UF₀∘UF₁)\[i,r\] (UF₂)\[j,r\] =
    /// (U F₂ (UF₀∘UF₁)ᵀ)\[j,i\], so their sum is (U T)ᵀ with T = Σ_{b,c} U_jb U_jc κ₃(h)\[a,b,c\]
    /// the full contraction [`Star4::image_with`] reads (2M²N flops instead of 2M²(3R + 2T)),
    /// and next's other columns add their own slice ([`Factored::slice_from`]). Returns
    /// (next's slice, T), or None where h's κ₃ does not lead `next`.
    pub fn next_slice(&self, w: MatRef<'_, f64>, next: &Factored) -> Option<(Mat<f64>, Mat<f64>)> {
        let k = self.k3.as_ref().filter(|k| k.leads(next))?;
        let HKappa3::Factored(h) = k else {
            return None;
        };
        let wb = self.scaled(w);
        let total = k.full_contraction(wb.as_ref(), Some(next));
        let mut slice = next.slice_from(h.f.factors[0].ncols(), h.f.pairs[0].ncols());
        matmul(
            slice.as_mut().transpose_mut(),
            Accum::Add,
            wb.as_ref(),
            total.as_ref(),
            1.0,
            Par::rayon(0),
        );
        Some((slice, total))
    }

    /// Flops of [`Star4::next_slice`] beyond next's own slice over its other columns: the
    /// full contraction from next's columns and U T.
    pub fn next_slice_flops(&self, m: usize) -> f64 {
        let n = self.beta.len();
        let k3 = self.k3.as_ref().map_or(0.0, |k| k.full_flops(m, n, true));
        k3 + 2.0 * (m * m * n) as f64
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::affine::{affine_tensor, TensorAffineWorkspace};
    use crate::propagate::higher::closure::{ChaosRule, Input};

    /// A covariance with variances near 1 and correlations of size `eps` (also
    /// [`super::super::quartic_star`]'s tests').
    pub(in crate::propagate::higher) fn cov(n: usize, eps: f64) -> Mat<f64> {
        Mat::from_fn(n, n, |a, b| {
            if a == b {
                0.8 + 0.1 * a as f64
            } else {
                eps * (((a * 5 + b * 5 + a * b) % 7) as f64 / 3.0 - 1.0)
            }
        })
    }

    /// A symmetric κ₃ with entries of size `size`.
    fn kappa3(n: usize, size: f64) -> SymTensor {
        let mut t = SymTensor::zeros(n, 3);
        for a in 0..n {
            for b in a..n {
                for c in b..n {
                    let v = ((a * 3 + b * 5 + c * 11) % 9) as f64 / 4.0 - 1.0;
                    t.set_sym(&[a, b, c], size * v);
                }
            }
        }
        t
    }

    fn units(act: Activation, c: &Mat<f64>) -> Vec<UnitChaos> {
        (0..c.nrows())
            .map(|i| UnitChaos::new(act, 0.25 * i as f64 - 0.6, c[(i, i)].sqrt()))
            .collect()
    }

    /// Largest |order 4 closure's κ₄\[a,a,b,c\] − [`Star4::entry`]| over distinct a, b, c and
    /// the largest |κ₄\[a,a,b,c\]|, for h with correlations of size `eps` and κ₃ of size eps²
    /// (both n^(−1/2) and n^(−1) in a layer of width n = eps^(−2)).
    fn residual(act: Activation, eps: f64) -> (f64, f64) {
        let n = 5;
        let c = cov(n, eps);
        let u = units(act, &c);
        let h3 = kappa3(n, eps * eps);
        let zero = SymTensor::zeros(n, 4);
        let input = Input {
            cov: &c,
            k3: &h3,
            k4: Some(&zero),
            units: &u,
        };
        let (mut k3, mut k4) = (SymTensor::zeros(n, 3), SymTensor::zeros(n, 4));
        ChaosRule::new(4).tensors(&input, &mut k3, Some(&mut k4));
        let star = Star4::new(&c, &u).with_kappa3(HKappa3::Dense(h3));
        let (mut err, mut size) = (0.0f64, 0.0f64);
        for a in 0..n {
            for b in 0..n {
                for d in 0..b {
                    if a == b || a == d {
                        continue;
                    }
                    let want = k4.get(&[a, a, b, d]);
                    err = err.max((want - star.entry(a, b, d)).abs());
                    size = size.max(want.abs());
                }
            }
        }
        (err, size)
    }

    /// The Σ and κ₃ terms are κ₄(z)\[a,a,b,c\]'s leading order: the rest is of third order in
    /// eps (halving eps divides it by about 8, the entries by 4).
    #[test]
    fn entries_match_order_four_closure_to_leading_order() {
        for act in [Activation::Relu, Activation::Gelu, Activation::Tanh] {
            let (e1, s1) = residual(act, 0.1);
            let (e2, s2) = residual(act, 0.05);
            assert!(s1 > 1e-4 && (s1 / s2 - 4.0).abs() < 0.6, "{act}: {s1} {s2}");
            assert!(e1 < 0.2 * s1, "{act}: residual {e1} of {s1}");
            let ratio = e1 / e2;
            assert!(ratio > 6.0 && ratio < 10.0, "{act}: residual ratio {ratio}");
        }
    }

    /// The image of `star` by brute force: the full affine map of a κ₄ holding only its
    /// \[a,a,b,c\] entries on the diagonal, Σ_a W_ia² (W Q_a Wᵀ)_jj + (i ↔ j) off it.
    fn brute_image(star: &Star4, w: MatRef<'_, f64>) -> Mat<f64> {
        let (m, n) = (w.nrows(), w.ncols());
        let mut t = SymTensor::zeros(n, 4);
        for a in 0..n {
            for b in 0..n {
                for d in 0..b {
                    if a != b && a != d {
                        t.set_sym(&[a, a, b, d], star.entry(a, b, d));
                    }
                }
            }
        }
        let mut out = SymTensor::zeros(m, 4);
        affine_tensor(w, &t, &mut out, &mut TensorAffineWorkspace::default()).unwrap();
        let wqw = |a: usize, i: usize, j: usize| {
            let mut s = 0.0;
            for b in 0..n {
                for d in 0..n {
                    if b != d && b != a && d != a {
                        s += w[(i, b)] * w[(j, d)] * star.entry(a, b, d);
                    }
                }
            }
            s
        };
        Mat::from_fn(m, m, |i, j| {
            if i == j {
                out.get(&[i, i, i, i])
            } else {
                (0..n)
                    .map(|a| w[(i, a)].powi(2) * wqw(a, j, j) + w[(j, a)].powi(2) * wqw(a, i, i))
                    .sum()
            }
        })
    }

    fn weights(m: usize, n: usize) -> Mat<f64> {
        Mat::from_fn(m, n, |i, a| ((i * 7 + a * 3) % 5) as f64 * 0.3 - 0.55)
    }

    /// The image matches the full affine map of the entries: on the diagonal exactly, off it
    /// without the mixed pairing (module docs).
    #[test]
    fn image_matches_the_full_map_of_the_entries() {
        let (m, n) = (4, 5);
        let c = cov(n, 0.3);
        let w = weights(m, n);
        let plain = Star4::new(&c, &units(Activation::Gelu, &c));
        let with_k3 = plain.clone().with_kappa3(HKappa3::Dense(kappa3(n, 0.2)));
        for star in [plain, with_k3] {
            let got = star.image(w.as_ref());
            let want = brute_image(&star, w.as_ref());
            for i in 0..m {
                for j in 0..m {
                    let tol = 1e-12 * (1.0 + want[(i, j)].abs());
                    assert!((got[(i, j)] - want[(i, j)]).abs() < tol, "{i},{j}");
                }
            }
        }
    }

    /// The image of the factored κ₃ `f` over 5 units into 4 equals that of the same κ₃ written
    /// out densely (entry by entry, no contraction).
    fn assert_dense_image(f: Factored) {
        let (m, n) = (4, f.dim());
        let c = cov(n, 0.3);
        let fk = HKappa3::factored(f);
        let mut dense = SymTensor::zeros(n, 3);
        for a in 0..n {
            for b in a..n {
                for d in b..n {
                    dense.set_sym(&[a, b, d], fk.get(a, b, d));
                }
            }
        }
        let star = Star4::new(&c, &units(Activation::Relu, &c));
        let w = weights(m, n);
        let got = star.clone().with_kappa3(fk).image(w.as_ref());
        let want = star.with_kappa3(HKappa3::Dense(dense)).image(w.as_ref());
        assert!((&got - &want).norm_max() < 1e-12 * (1.0 + want.norm_max()));
        assert!(want.norm_max() > 1e-3);
    }

    /// The factored κ₃ gives the image of the same κ₃ written out densely.
    #[test]
    fn factored_kappa3_gives_the_dense_image() {
        let (n, r) = (5, 3);
        assert_dense_image(Factored {
            factors: std::array::from_fn(|k| {
                Mat::from_fn(n, r, |i, q| {
                    ((i * 3 + q * 7 + k * 5) % 6) as f64 / 5.0 - 0.4
                })
            }),
            pairs: std::array::from_fn(|k| {
                Mat::from_fn(n, 2, |i, q| {
                    ((i * 5 + q * 3 + k * 7) % 7) as f64 / 6.0 - 0.5
                })
            }),
        });
    }

    /// Where F₂ is P₀ ([`Factored::third_is_first_factor`], the factorable carry after a map)
    /// the full contraction forms their two products as one, P₀ \[(UF₀∘UF₁) + 2(UP₀∘UP₁)\]ᵀ:
    /// the image still equals that of the same κ₃ written out densely, to the tolerance of
    /// `factored_kappa3_gives_the_dense_image`; a wrong weight of either Hadamard term in the
    /// shared product fails it. A copy with one entry of F₂ changed is not shared.
    #[test]
    fn shared_third_factor_gives_the_dense_image() {
        let (n, r) = (5, 3);
        let p0 = pattern(n, r, 4);
        let f = Factored {
            factors: [pattern(n, r, 1), pattern(n, r, 2), p0.clone()],
            pairs: [p0, pattern(n, r, 6)],
        };
        assert!(f.third_is_first_factor());
        let mut off = f.clone();
        off.factors[2][(0, 0)] += 0.5;
        assert!(!off.third_is_first_factor());
        assert_dense_image(f);
    }

    /// `n` × `cols` entries of a fixed pattern (`seed` varies it).
    fn pattern(n: usize, cols: usize, seed: usize) -> Mat<f64> {
        Mat::from_fn(n, cols, |i, q| {
            ((i * 3 + q * 7 + seed * 5) % 11) as f64 / 7.0 - 0.6
        })
    }

    /// The next h's slice from the contraction ([`Star4::next_slice`]) equals its slice formed
    /// from all its columns, and the image reading that contraction equals the image forming
    /// it, to rounding; where h's κ₃ does not lead (its flag off, or `next` narrower) there is
    /// no shortcut.
    #[test]
    fn next_slice_from_the_contraction_is_the_slice() {
        let (m, n, (r, t), extra) = (6, 5, (4, 3), 5);
        let c = cov(n, 0.3);
        let units = units(Activation::Gelu, &c);
        let star = Star4::new(&c, &units);
        let f = Factored {
            factors: std::array::from_fn(|k| pattern(n, r, k)),
            pairs: std::array::from_fn(|k| pattern(n, t, 3 + k)),
        };
        let w = weights(m, n);
        let u = Mat::from_fn(m, n, |j, b| w[(j, b)] * star.beta[b]);
        // next: U·F followed by other columns (W times z's own), as Factored::map lays it out.
        let joined = |lead: &Mat<f64>, seed: usize| {
            let other = &w * pattern(n, extra, seed);
            Mat::from_fn(m, lead.ncols() + extra, |i, q| {
                if q < lead.ncols() {
                    lead[(i, q)]
                } else {
                    other[(i, q - lead.ncols())]
                }
            })
        };
        let next = Factored {
            factors: std::array::from_fn(|k| joined(&(&u * &f.factors[k]), 10 + k)),
            pairs: std::array::from_fn(|k| joined(&(&u * &f.pairs[k]), 20 + k)),
        };
        let slice = f.slice();
        let leading =
            star.clone()
                .with_kappa3(HKappa3::factored_with_slice(f.clone(), slice.clone(), true));
        let (got, total) = leading.next_slice(w.as_ref(), &next).expect("h leads next");
        let want = next.slice();
        assert!(want.norm_max() > 1e-2);
        assert!((&got - &want).norm_max() < 1e-13 * want.norm_max());
        let image = leading.image(w.as_ref());
        let read = leading.image_with(w.as_ref(), Some(&total));
        assert!(image.norm_max() > 1e-3);
        assert!((&read - &image).norm_max() < 1e-13 * image.norm_max());
        let plain = star
            .clone()
            .with_kappa3(HKappa3::factored_with_slice(f.clone(), slice, false));
        assert!(plain.next_slice(w.as_ref(), &next).is_none());
        let narrow = Factored {
            factors: std::array::from_fn(|k| next.factors[k].subcols(0, r - 1).to_owned()),
            pairs: std::array::from_fn(|k| next.pairs[k].to_owned()),
        };
        assert!(leading.next_slice(w.as_ref(), &narrow).is_none());
    }
}
