//! The closure's output cumulants by the chaos rule. Each distinct unit u of an entry with
//! multiplicity p is expanded as (φ(h_u) − m_u)^p = Σⱼ B_{u,p,j} :δ_uʲ: ([`super::chaos`]), so a
//! joint moment of the centred outputs ẑ = z − m (m the Gaussian means) is
//!
//! ```text
//! E[Π_g ẑ_{u_g}^{p_g}] = Σ_{j_g} Π_g B_{u_g,p_g,j_g} · E[Π_g :δ_{u_g}^{j_g}:]
//! ```
//!
//! with the Wick moments E[Π :δ^j:] from h's Σ, κ₃, κ₄ by the diagrams of [`super::diagrams`]
//! (at most one κ block: linear in κ₃, κ₄, the leading non-Gaussian terms). Degrees run to 4
//! for one or two distinct units and to 2 for three or four (the Mehler series in the
//! correlations of distinct units, small in wide layers), at order 4 one higher (5 and 3) for
//! the diagrams of width power-counting cost ≤ 3 ([`ChaosRule::new`]). At order 3 h's κ₄ is its paired part
//! ([`super::paired`]) and only z's paired κ₄ is formed. With these moments about m —
//! Δm_a = E ẑ_a, P_ab = E ẑ_aẑ_b, T, Q the third and fourth — the cumulants to first order in κ:
//!
//! ```text
//! κ₃(z)[a,b,c]   = T_abc − Δm_a P_bc − Δm_b P_ac − Δm_c P_ab
//! κ₄(z)[a,b,c,d] = Q_abcd − (P_ab P_cd + P_ac P_bd + P_ad P_bc) − Σ₄ Δm_a κ₃(z)[b,c,d]
//! Δm_a = A_a3 κ₃[aaa] + A_a4 κ₄[aaaa],   ΔC_ab = the κ diagrams of P_ab
//! ```
//!
//! An entry of distinct units is computed as their joint cumulant directly (connected diagrams:
//! cumulants are multilinear and shift-invariant), the same terms without the cancelling ones.
//! An entry whose indices are all one unit is exact for Gaussian h (1-D quadrature); the
//! variance increment ΔC_aa = B_{a,2,3}κ₃\[aaa\] + B_{a,2,4}κ₄\[aaaa\] is the one-unit Edgeworth
//! term. The Gaussian part of mean and covariance is the closure's own (exact for relu, erf,
//! …); only Δm and ΔC come from the rule. Exact for the linear φ with any h and for
//! φ(h) = h + αh² with Gaussian h; for other φ an approximation measured against Monte Carlo
//! (EXPERIMENTS.md, "Higher cumulants through depth").

use faer::Mat;
use std::sync::OnceLock;

use super::batched::Pattern;
use super::batched::Sources;
use super::chaos::UnitChaos;
use super::diagrams::{terms, Block, Rules, Term};
use super::factored::{carried, StarTerms};
use super::fill::{
    fill3, fill4, pair_matrix, paired4, repeated3, triple4, unpaired4, Patterns, Reduced,
};
use super::paired::{Kappa4, Paired};
use super::sliced::Sliced;
use super::tensor::{Kappa3, SymTensor};
use super::triple4::Unpaired4;
use crate::stats::Moments;

/// Highest degree per unit for entries of three or four distinct units.
pub const MANY_UNIT_DEGREE: u8 = 2;

/// Highest degree per unit every order keeps in an entry of `g` distinct units: 4 for one or
/// two ([`super::chaos`]'s Edgeworth terms to κ₄), [`MANY_UNIT_DEGREE`] for three or four.
fn base_degree(g: usize) -> u8 {
    if g <= 2 {
        4
    } else {
        MANY_UNIT_DEGREE
    }
}

/// Whether the rule of `order` keeps the diagram `t` of an entry of `g` distinct units: every
/// diagram within [`base_degree`], and at order 4 also those one degree higher (5 for one or
/// two units, 3 for three or four) whose whole width power-counting cost ([`Term::cost`]) is at
/// most order − 1 = 3 — the peer's K = 4 budget (Wu et al. 2026, eq. 14), e.g. κ₄\[a,a,a,a\]Σ_ab
/// (degrees 5, 1) in ΔC_ab and Σ_ab²Σ_bc (degrees 2, 3, 1) in κ₄(z)\[a,a,b,c\].
pub(super) fn keeps(t: &Term, g: usize, order: usize) -> bool {
    t.degrees.iter().all(|&d| d <= base_degree(g)) || (order >= 4 && t.cost() < order)
}

/// The diagrams of one degree vector.
#[derive(Clone, Debug)]
pub(super) struct DegreeTerms {
    pub(super) degrees: Vec<u8>,
    pub(super) terms: Vec<Term>,
}

/// The compiled diagrams of the rule for one carried order.
#[derive(Clone, Debug)]
pub struct ChaosRule {
    order: usize,
    /// Joint-moment diagrams (Gaussian and κ) per number of distinct units G (index G).
    full: Vec<Vec<DegreeTerms>>,
    /// κ-only joint-moment diagrams for G = 1, 2 (the mean and covariance increments).
    kappa: Vec<Vec<DegreeTerms>>,
    /// The part of `kappa` beyond the order's power-counting budget (whole cost ≥ order).
    beyond: Vec<Vec<DegreeTerms>>,
    /// `beyond`'s two-unit list compiled for a column at a time ([`super::batched`]).
    beyond_pair: Pattern,
    /// Joint-cumulant (connected) diagrams for 3 and 4 distinct units, degrees 1..=2: an entry
    /// of distinct units is their cumulant directly (multilinearity), without the moment
    /// route's disconnected diagrams and subtractions.
    distinct: Vec<Vec<DegreeTerms>>,
    /// The lists above compiled for a column at a time ([`super::batched`]).
    patterns: Patterns,
}

/// What h supplies to the rule.
pub struct Input<'a> {
    pub cov: &'a Mat<f64>,
    /// κ₃ of h: the full tensor, or the last hidden layer's slices ([`super::sliced`]).
    pub k3: &'a dyn Kappa3,
    /// κ₄ of h: the full tensor (order 4) or its paired part (order 3, [`Paired`]).
    pub k4: Option<&'a dyn Kappa4>,
    /// Chaos coefficients per unit.
    pub units: &'a [UnitChaos],
}

/// Δm and ΔC of one class (to be added to the Gaussian closure's mean and covariance).
#[derive(Clone, Debug)]
pub struct Increments {
    pub mean: Vec<f64>,
    pub cov: Mat<f64>,
}

impl ChaosRule {
    /// The rule carrying κ₃ and the paired κ₄ (order 3) or κ₃ and κ₄ (order 4). A κ block
    /// is kept when its width power-counting cost ([`super::diagrams::Block::cost`]) is at most
    /// order − 1: order 3 drops the κ₄ blocks other than κ₄\[a,a,b,b\] and κ₄\[a,a,a,a\]
    /// ([`super::paired`]), order 4 keeps every κ₃/κ₄ block. At order 4 every entry also takes
    /// the diagrams one degree above the base cap (5 for one or two distinct units, 3 for three
    /// or four) whose whole cost ([`Term::cost`]) is at most 3 (`keeps`): e.g. the star
    /// Σ_ab Σ_ac Σ_ad of κ₄(z)\[a,b,c,d\], the leading non-Gaussian term of an odd φ such as
    /// tanh, whose degree-2 terms vanish; Σ_ab²Σ_bc in κ₄(z)\[a,a,b,c\]; and κ₄\[a,a,a,a\]Σ_ab
    /// in ΔC_ab and the entries with a repeated unit (fifth session: these brought order 4
    /// within 2× of the peer's K = 4 at n = 64, depth 4–8; EXPERIMENTS.md).
    pub fn new(order: usize) -> Self {
        Self::build(order, false, false, false)
    }

    /// [`ChaosRule::new`]`(order)` for order 3 or 4, built once per process and shared: its
    /// diagram tables are the same for every network (adv32: built anew per class, pilot check
    /// and jackknife replicate, ~0.1 s each, they were 98 % of a pilot-checked `--kappa-units`
    /// order-4 run of a width-8 net; since the forty-eighth session a build counts the
    /// diagrams' types instead of enumerating their partitions, [`super::diagrams::terms_for`],
    /// and takes a few milliseconds).
    pub fn shared(order: usize) -> &'static ChaosRule {
        static RULES: [OnceLock<ChaosRule>; 2] = [OnceLock::new(), OnceLock::new()];
        assert!(order == 3 || order == 4, "a chaos rule of order {order}");
        RULES[order - 3].get_or_init(|| Self::new(order))
    }

    /// Order 3's rule where h carries κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] beside the paired κ₄
    /// ([`super::triple4`]): [`ChaosRule::new`]`(3)` with order 4's diagrams one degree above
    /// the cap of whole cost ≤ 3 (`keeps`). Their cost-3 diagrams balance those of the new κ₄
    /// blocks: without them the output mean's error on relu n = 64, depth 8 is 3.9e-4, with
    /// them 6.3e-5 (EXPERIMENTS.md, "Against ARC's peer, eighth session").
    pub fn unpaired() -> Self {
        Self::build(3, false, true, false)
    }

    /// [`ChaosRule::unpaired`] with κ₃(z)'s diagrams over three distinct units restricted to
    /// those the factored κ₃ carries ([`super::factored`]: stars and the single full κ₃ block;
    /// the covariance triangle, κ₃\[a,b,c\]Σ_bc and κ₄\[a,a,b,c\] are dropped): the factored
    /// order 3's rule, whose h carries κ₄\[a,a,a,b\] beside the paired κ₄
    /// ([`super::unpaired_factored`]). Its entries over at most two distinct units (Δm, ΔC, z's
    /// κ₃\[a,a,b\], paired κ₄ and κ₄\[a,a,a,b\]) are `unpaired`'s.
    pub fn unpaired_factorable() -> Self {
        Self::build(3, true, true, false)
    }

    /// [`ChaosRule::unpaired_factorable`] with order 4's budget for Δm and ΔC (diagrams of
    /// whole cost ≤ 3 only, as [`ChaosRule::new`]`(4)`, so nothing is beyond it): the factored
    /// order 4's rule ([`super::carry::Carry::quartic`]), whose h carries every κ₄ slice a
    /// two-unit entry reads (P, T, κ₄\[a,a,a,a\]) with the star of κ₄ over four distinct units
    /// imaged in them ([`super::quartic_star`]). Its entries are those of an order-3 carry
    /// (the factored κ₃'s), so [`ChaosRule::order`] is 3.
    pub fn quartic_factorable() -> Self {
        Self::build(3, true, true, true)
    }

    fn build(order: usize, stars_only: bool, extended: bool, strict_budget: bool) -> Self {
        let rules = |gaussian| Rules {
            kappa3: true,
            kappa4: true,
            max_kappa_blocks: 1,
            gaussian,
            connected: false,
        };
        // The degree above the cap is taken at order 4, and at order 3 where h's κ₄ beyond the
        // paired entries is read ([`ChaosRule::unpaired`]), with order 4's budget.
        let budget = if extended { 4 } else { order };
        let kept = |g: usize, min_degree: u8, rules: Rules| -> Vec<Term> {
            let top = base_degree(g) + u8::from(budget >= 4);
            terms(g, min_degree, top, rules)
                .into_iter()
                .filter(|t| keeps(t, g, budget))
                .collect()
        };
        let connected = Rules {
            connected: true,
            ..rules(true)
        };
        let distinct: Vec<Vec<DegreeTerms>> = (0..=4)
            .map(|g| {
                if g < 3 {
                    Vec::new()
                } else {
                    let kept = kept(g, 1, connected)
                        .into_iter()
                        .filter(|t| !stars_only || g != 3 || carried(t))
                        .collect();
                    group_by_degrees(kept, order)
                }
            })
            .collect();
        let full: Vec<Vec<DegreeTerms>> = (0..=4)
            .map(|g| {
                if g == 0 {
                    Vec::new()
                } else {
                    group_by_degrees(kept(g, 0, rules(true)), order)
                }
            })
            .collect();
        // Order 4's Δm and ΔC keep only the diagrams within its budget (whole cost ≤ 3, as the
        // peer's K = 4); order 3 keeps the cost-3 ones too (strict counting cost gelu's
        // covariance there; EXPERIMENTS.md, fourth and fifth sessions).
        let strict = order >= 4 || strict_budget;
        let kappa_terms: Vec<Vec<Term>> = (0..=2)
            .map(|g| {
                if g == 0 {
                    Vec::new()
                } else {
                    kept(g, 0, rules(false))
                }
            })
            .collect();
        let select = |keep: &dyn Fn(&Term) -> bool| -> Vec<Vec<DegreeTerms>> {
            kappa_terms
                .iter()
                .map(|all| {
                    group_by_degrees(all.iter().filter(|t| keep(t)).cloned().collect(), order)
                })
                .collect()
        };
        let kappa = select(&|t| !strict || t.cost() < budget);
        // The diagrams order 3 keeps beyond its budget (reported as their share, `beyond_budget`).
        let beyond = select(&|t| !strict && t.cost() >= order);
        ChaosRule {
            order,
            patterns: Patterns::new(&full, &kappa, &distinct),
            beyond_pair: Pattern::compile(&beyond[2], &[1, 1]),
            beyond,
            distinct,
            full,
            kappa,
        }
    }

    /// Carried order (3 or 4).
    pub fn order(&self) -> usize {
        self.order
    }

    /// κ₃(z)'s diagrams over three distinct units sorted for the factored κ₃; an error where
    /// one is not carried there (a rule not made by [`ChaosRule::unpaired_factorable`]).
    pub fn star_terms(&self) -> crate::error::Result<StarTerms> {
        StarTerms::new(&self.distinct[3])
    }

    /// Δm and ΔC of one class.
    pub fn increments(&self, h: &Input<'_>) -> Increments {
        let n = h.units.len();
        let src = Sources::new(h.cov, h.k3, h.k4, h.units);
        let mean = (0..n).map(|a| moment(&self.kappa, h, &[a])).collect();
        let cov = pair_matrix(&self.patterns.kappa_pair, &src, |b| {
            moment(&self.kappa, h, &[b, b])
        });
        Increments {
            mean,
            cov: crate::io::filled(n, n, |i, j| cov[i + n * j]),
        }
    }

    /// The part of ΔC from diagrams beyond the order's power-counting budget (whole cost ≥
    /// order, [`Term::cost`]; e.g. κ₄\[a,a,b,b\]Σ_ab at order 3): the rule keeps them, and
    /// where they outweigh the rest of ΔC the expansion is not ordered (see [`super::carry`]).
    /// Zero at order 4, whose ΔC keeps only the diagrams within its budget.
    pub fn beyond_budget(&self, h: &Input<'_>) -> Mat<f64> {
        let n = h.units.len();
        let src = Sources::new(h.cov, h.k3, h.k4, h.units);
        let cov = pair_matrix(&self.beyond_pair, &src, |b| {
            moment(&self.beyond, h, &[b, b])
        });
        crate::io::filled(n, n, |i, j| cov[i + n * j])
    }

    /// Writes z's κ₃ (and, at order 4, κ₄) into `k3` (`k4`), resized to h's width: the
    /// entries with a unit of multiplicity 1 a column at a time (`fill.rs`), the others
    /// (κ₃\[a,a,a\], κ₄\[a,a,b,b\], κ₄\[a,a,a,a\]) by `ChaosRule::entry`.
    pub fn tensors(&self, h: &Input<'_>, k3: &mut SymTensor, k4: Option<&mut SymTensor>) {
        let src = Sources::new(h.cov, h.k3, h.k4, h.units);
        let (dm, p) = self.second(h, &src);
        let z = Reduced { dm: &dm, p: &p };
        fill3(&self.patterns, &src, &z, k3, |t| self.entry(h, &z, None, t));
        if let Some(k4) = k4 {
            let k3 = &*k3;
            fill4(&self.patterns, &src, &z, k3, k4, |t| {
                self.entry(h, &z, Some(k3 as &dyn Kappa3), t)
            });
        }
    }

    /// Writes z's κ₃ into `k3` (as [`ChaosRule::tensors`]) and returns z's paired κ₄
    /// (κ₄\[a,a,b,b\], the part order 3 carries; [`super::paired`]), its N(N+1)/2 entries
    /// by `ChaosRule::entry`.
    pub fn tensors_paired(&self, h: &Input<'_>, k3: &mut SymTensor) -> Paired {
        self.with_paired(h, k3, |_, _, _, paired| paired)
    }

    /// [`ChaosRule::tensors_paired`] with z's κ₄\[a,a,a,b\] and κ₄\[a,a,b,c\] beside the
    /// paired κ₄ ([`super::triple4`]), column-wise (`fill::unpaired4`).
    pub fn tensors_unpaired(&self, h: &Input<'_>, k3: &mut SymTensor) -> Unpaired4 {
        self.with_paired(h, k3, |src, z, k3, paired| {
            let (triple, by_double) = unpaired4(&self.patterns, src, z, k3);
            Unpaired4::new(paired, triple, by_double)
        })
    }

    /// Writes z's κ₃ into `k3` and hands `then` the sources, z's Δm and P, its κ₃ and its
    /// paired κ₄.
    fn with_paired<R>(
        &self,
        h: &Input<'_>,
        k3: &mut SymTensor,
        then: impl FnOnce(&Sources<'_>, &Reduced<'_>, &SymTensor, Paired) -> R,
    ) -> R {
        let src = Sources::new(h.cov, h.k3, h.k4, h.units);
        let (dm, p) = self.second(h, &src);
        let z = Reduced { dm: &dm, p: &p };
        fill3(&self.patterns, &src, &z, k3, |t| self.entry(h, &z, None, t));
        let n = h.units.len();
        let s = crate::io::filled(n, n, |a, b| k3.get(&[a, a, b]));
        let paired = self.paired_from(h, &src, &z, &s);
        then(&src, &z, k3, paired)
    }

    /// z's paired κ₄ from its κ₃ at repeated units `s` (S\[a,b\] = κ₃\[a,a,b\]), column-wise
    /// ([`paired4`]).
    fn paired_from(
        &self,
        h: &Input<'_>,
        src: &Sources<'_>,
        z: &Reduced<'_>,
        s: &Mat<f64>,
    ) -> Paired {
        let sliced = Sliced::new(s.clone(), None);
        Paired(paired4(&self.patterns, src, z, s, |a| {
            self.entry(h, z, Some(&sliced), &[a, a, a, a])
        }))
    }

    /// Order 3 with z's κ₃ held factored ([`super::factored`]): z's κ₃ at repeated units,
    /// S\[a,b\] = κ₃\[a,a,b\] (as [`ChaosRule::tensors_paired`] writes them), z's paired κ₄ and
    /// its κ₄\[a,a,a,b\] as T\[a,b\] (zero diagonal) from the same S (`fill::triple4`;
    /// [`super::unpaired_factored`]).
    pub fn slices_unpaired(&self, h: &Input<'_>) -> (Mat<f64>, Paired, Mat<f64>) {
        let src = Sources::new(h.cov, h.k3, h.k4, h.units);
        let (dm, p) = self.second(h, &src);
        let z = &Reduced { dm: &dm, p: &p };
        let s = repeated3(&self.patterns, &src, z, |a| {
            self.entry(h, z, None, &[a, a, a])
        });
        let paired = self.paired_from(h, &src, z, &s);
        // κ₃[a,b,b] over a is row b of S.
        let n = s.nrows();
        let rows: Vec<f64> = (0..n * n).map(|k| s[(k / n, k % n)]).collect();
        let mut t = triple4(
            &self.patterns,
            &src,
            z,
            |b| s[(b, b)],
            |b| &rows[b * n..(b + 1) * n],
        );
        zero_diagonal(&mut t);
        (s, paired, t)
    }

    /// [`ChaosRule::tensors_paired`] with z's κ₄\[a,a,a,b\] as T\[a,b\] (zero diagonal) from
    /// the κ₃ written (`fill::triple4`, as [`ChaosRule::tensors_unpaired`] forms it).
    pub fn tensors_triple(&self, h: &Input<'_>, k3: &mut SymTensor) -> (Paired, Mat<f64>) {
        self.with_paired(h, k3, |src, z, k3, paired| {
            let n = k3.dim();
            let mut t = triple4(
                &self.patterns,
                src,
                z,
                |b| k3.get(&[b, b, b]),
                |b| &k3.data()[(b + n * b) * n..(b + n * b + 1) * n],
            );
            zero_diagonal(&mut t);
            (paired, t)
        })
    }

    /// Δm_a and the second moments P_ab about the Gaussian means (module docs; P column-major).
    fn second(&self, h: &Input<'_>, src: &Sources<'_>) -> (Vec<f64>, Vec<f64>) {
        let n = h.units.len();
        let dm: Vec<f64> = (0..n).map(|a| moment(&self.full, h, &[a])).collect();
        let p = pair_matrix(&self.patterns.full_pair, src, |b| {
            moment(&self.full, h, &[b, b])
        });
        (dm, p)
    }

    /// Every pattern the rule compiled (the reference of [`super::batched`]'s tests).
    #[cfg(test)]
    pub(super) fn compiled_patterns(&self) -> Vec<&Pattern> {
        let mut all = self.patterns.all();
        all.push(&self.beyond_pair);
        all
    }

    /// E[Π ẑ_{t_k}] of the sorted tuple `t` from the full diagram lists (Δm for one unit, P
    /// for two): the reference of the column-wise fill's tests.
    #[cfg(test)]
    pub(super) fn entry_moment(&self, h: &Input<'_>, t: &[usize]) -> f64 {
        moment(&self.full, h, t)
    }

    /// E[Π ẑ_{t_k}] of the sorted tuple `t` from the beyond-budget lists: the reference of
    /// [`ChaosRule::beyond_budget`]'s tests.
    #[cfg(test)]
    pub(super) fn beyond_moment(&self, h: &Input<'_>, t: &[usize]) -> f64 {
        moment(&self.beyond, h, t)
    }

    /// One entry of z's κ₃ (`t` of length 3) or κ₄ (length 4, `k3z` = z's κ₃), `t` sorted:
    /// the joint cumulant of distinct units directly, else the moment about m less the
    /// products of lower orders (module docs).
    pub(super) fn entry(
        &self,
        h: &Input<'_>,
        z: &Reduced<'_>,
        k3z: Option<&dyn Kappa3>,
        t: &[usize],
    ) -> f64 {
        let (dm, n) = (z.dm, z.dm.len());
        let p = |i: usize, j: usize| z.p[i + n * j];
        if t.windows(2).all(|w| w[0] < w[1]) {
            return moment(&self.distinct, h, t);
        }
        if let [a, b, c] = *t {
            return moment(&self.full, h, t) - dm[a] * p(b, c) - dm[b] * p(a, c) - dm[c] * p(a, b);
        }
        let [a, b, c, d] = [t[0], t[1], t[2], t[3]];
        let k3 = |i: usize, j: usize, k: usize| k3z.map_or(0.0, |x| x.get(&[i, j, k]));
        moment(&self.full, h, t)
            - p(a, b) * p(c, d)
            - p(a, c) * p(b, d)
            - p(a, d) * p(b, c)
            - dm[a] * k3(b, c, d)
            - dm[b] * k3(a, c, d)
            - dm[c] * k3(a, b, d)
            - dm[d] * k3(a, b, c)
    }
}

/// Sets the diagonal of the square `t` to zero (κ₄\[a,a,a,b\]'s T has none: the column
/// pass leaves its free unit's meeting with the fixed one unset).
fn zero_diagonal(t: &mut Mat<f64>) {
    for a in 0..t.nrows() {
        t[(a, a)] = 0.0;
    }
}

/// Terms grouped by their degree vector (in the order `terms` produced them), keeping those
/// whose κ blocks cost at most `order` − 1 ([`ChaosRule::new`]) or are κ₄ blocks over at most
/// three units (κ₄\[a,a,a,b\], κ₄\[a,a,b,c\]: order 3 reads them where h carries them,
/// [`super::triple4`]; elsewhere they read 0).
fn group_by_degrees(all: Vec<Term>, order: usize) -> Vec<DegreeTerms> {
    let mut out: Vec<DegreeTerms> = Vec::new();
    let some_unit_twice = |b: &Block| b.groups().windows(2).any(|w| w[0] == w[1]);
    let kept = |t: &Term| {
        t.blocks
            .iter()
            .all(|b| b.len < 3 || b.cost() < order || (b.len == 4 && some_unit_twice(b)))
    };
    for t in all.into_iter().filter(kept) {
        match out.last_mut() {
            Some(last) if last.degrees == t.degrees => last.terms.push(t),
            _ => out.push(DegreeTerms {
                degrees: t.degrees.clone(),
                terms: vec![t],
            }),
        }
    }
    out
}

/// E[Π ẑ_{t_k}] for the sorted index tuple `t` (its distinct units with their multiplicities)
/// from the diagram lists `lists` (indexed by the number of distinct units).
fn moment(lists: &[Vec<DegreeTerms>], h: &Input<'_>, t: &[usize]) -> f64 {
    let mut units = [0usize; 4];
    let mut powers = [0usize; 4];
    let mut g = 0;
    for (k, &u) in t.iter().enumerate() {
        if k > 0 && u == t[k - 1] {
            powers[g - 1] += 1;
        } else {
            units[g] = u;
            powers[g] = 1;
            g += 1;
        }
    }
    let mut total = 0.0;
    let mut idx = [0usize; 4];
    for dt in &lists[g] {
        let mut v = 1.0;
        for (k, &j) in dt.degrees.iter().enumerate() {
            v *= h.units[units[k]].b[powers[k]][j as usize];
        }
        if v == 0.0 {
            continue;
        }
        let mut sum = 0.0;
        for term in &dt.terms {
            let mut w = term.coef;
            for b in &term.blocks {
                let gs = b.groups();
                for (slot, &gr) in gs.iter().enumerate() {
                    idx[slot] = units[gr as usize];
                }
                w *= match gs.len() {
                    2 => h.cov[(idx[0], idx[1])],
                    3 => h.k3.get(&idx[..3]),
                    _ => h.k4.map_or(0.0, |k4| k4.get(&idx[..4])),
                };
            }
            sum += w;
        }
        total += v * sum;
    }
    total
}

/// Largest standardised skewness |κ₃\[aaa\]|/σ³ and excess kurtosis |κ₄\[aaaa\]|/σ⁴ over the units
/// of h with a positive variance: where the expansion is trusted (see [`super::carry`]).
pub fn standardised(h: &Moments, k3: &dyn Kappa3, k4: Option<&dyn Kappa4>) -> (f64, f64) {
    standardised_diagonal(
        h,
        |a| k3.get(&[a, a, a]),
        |a| k4.map_or(0.0, |k4| k4.get(&[a, a, a, a])),
    )
}

/// [`standardised`] from the diagonal entries alone: `k3(a)` = κ₃\[aaa\] and `k4(a)` =
/// κ₄\[aaaa\] (0 where κ₄ is not carried).
pub fn standardised_diagonal(
    h: &Moments,
    k3: impl Fn(usize) -> f64,
    k4: impl Fn(usize) -> f64,
) -> (f64, f64) {
    let mut skew: f64 = 0.0;
    let mut kurt: f64 = 0.0;
    for a in 0..h.dim() {
        let var = h.cov[(a, a)];
        if var <= 0.0 {
            continue;
        }
        skew = skew.max(k3(a).abs() / var.powf(1.5));
        kurt = kurt.max(k4(a).abs() / (var * var));
    }
    (skew, kurt)
}
