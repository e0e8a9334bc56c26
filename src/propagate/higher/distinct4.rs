//! A diagnostic of the dense order 4 (issue #16 item 7): which diagrams of z's κ₄ over four
//! distinct units, and whether h's κ₄ over four distinct units is carried beyond one map,
//! account for the factored order 4's error ([`super::quartic_star`] images only the star).
//!
//! Each entry κ₄(z)\[a,b,c,d\] of four distinct units is the sum over the connected diagrams
//! of [`super::diagrams`] (degrees 1 to 3 per unit, at most one κ block) that the order-4 rule
//! keeps ([`super::closure`]'s `keeps`: every degree ≤ 2, or whole cost ≤ 3), each
//!
//! ```text
//! coef · Π_g B_{u_g,1,j_g} · Π_blocks (Σ | κ₃(h) | κ₄(h))[units of the block]
//! ```
//!
//! (multilinearity of the joint cumulant in each unit's chaos expansion, the Leonov–Shiryaev
//! formula for the Wick powers). A [`Distinct4`] keeps a subset of these diagrams:
//! - [`Distinct4::Star`]: c_k Π_{l≠k} β_l Σ_kl, degrees (3,1,1,1), the factored order 4's;
//! - [`Distinct4::Covariance`]: the covariance-only diagrams of whole cost ≤ 3: the star and the
//!   paths 4 β_a γ_b γ_c β_d Σ_ab Σ_bc Σ_cd (degrees (1,2,2,1), γ = B_{·,1,2});
//! - [`Distinct4::Budget`]: every diagram of whole cost ≤ 3: also 2 β_a β_b γ_c β_d κ₃(h)\[a,b,c\]
//!   Σ_cd and β_aβ_bβ_cβ_d κ₄(h)\[a,b,c,d\];
//! - [`Distinct4::Rule`]: all the rule keeps.
//!
//! With any of them the carry also sets h's κ₄ over four distinct units to zero after each map
//! (z's entries reach h's entries with a repeated unit — P, T, κ₄\[a,a,b,c\] — and go no
//! further), as the factored order 4 does.

use super::closure::{keeps, Input};
use super::diagrams::{terms, Rules, Term};
use super::tensor::SymTensor;

/// Which diagrams of z's κ₄ over four distinct units are kept (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Distinct4 {
    Star,
    Covariance,
    Budget,
    Rule,
}

impl Distinct4 {
    /// Whether the diagram `t` (four distinct units) is of this kind.
    fn admits(self, t: &Term) -> bool {
        let covariance = t.blocks.iter().all(|b| b.len == 2);
        match self {
            Distinct4::Star => covariance && t.degrees.contains(&3),
            Distinct4::Covariance => covariance && t.cost() <= 3,
            Distinct4::Budget => t.cost() <= 3,
            Distinct4::Rule => true,
        }
    }
}

/// The kept diagrams of κ₄(z) over four distinct units, and the evaluation of their entries.
#[derive(Clone, Debug, PartialEq)]
pub struct Distinct4Diagrams {
    kind: Distinct4,
    terms: Vec<Term>,
}

impl Distinct4Diagrams {
    /// The diagrams of `kind` (module docs).
    pub fn new(kind: Distinct4) -> Self {
        let rules = Rules {
            kappa3: true,
            kappa4: true,
            max_kappa_blocks: 1,
            gaussian: true,
            connected: true,
        };
        let terms = terms(4, 1, 3, rules)
            .into_iter()
            .filter(|t| keeps(t, 4, 4) && kind.admits(t))
            .collect();
        Distinct4Diagrams { kind, terms }
    }

    /// The entry κ₄(z)\[a,b,c,d\] of four distinct units from the kept diagrams.
    pub fn entry(&self, h: &Input<'_>, idx: [usize; 4]) -> f64 {
        let mut units = [0usize; 4];
        self.terms
            .iter()
            .map(|t| {
                let chaos = (t.degrees.iter().zip(idx))
                    .fold(t.coef, |v, (&j, u)| v * h.units[u].b[1][j as usize]);
                t.blocks.iter().fold(chaos, |v, b| {
                    for (slot, &g) in units.iter_mut().zip(b.groups()) {
                        *slot = idx[g as usize];
                    }
                    let u = &units[..b.len as usize];
                    v * match b.len {
                        2 => h.cov[(u[0], u[1])],
                        3 => h.k3.get(u),
                        _ => h.k4.map_or(0.0, |k| k.get(u)),
                    }
                })
            })
            .sum()
    }

    /// Overwrites z's κ₄ `k4` over four distinct units with the kept diagrams' entries (the
    /// rule's own where the kind is [`Distinct4::Rule`]).
    pub fn fill(&self, h: &Input<'_>, k4: &mut SymTensor) {
        if self.kind == Distinct4::Rule {
            return;
        }
        for idx in increasing(k4.dim()) {
            k4.set_sym(&idx, self.entry(h, idx));
        }
    }
}

/// Sets h's κ₄ over four distinct units to zero (carried one map only, module docs).
pub fn cut(k4: &mut SymTensor) {
    for idx in increasing(k4.dim()) {
        k4.set_sym(&idx, 0.0);
    }
}

/// The index tuples a < b < c < d of `0..n`.
fn increasing(n: usize) -> impl Iterator<Item = [usize; 4]> {
    (0..n).flat_map(move |a| {
        (a + 1..n)
            .flat_map(move |b| (b + 1..n).flat_map(move |c| (c + 1..n).map(move |d| [a, b, c, d])))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::chaos::UnitChaos;
    use crate::propagate::higher::closure::ChaosRule;
    use crate::propagate::higher::quartic_star::QuarticStar;
    use crate::propagate::higher::star4::tests::cov;
    use faer::Mat;

    /// A symmetric tensor of `order` over `n` units with entries of size `scale`.
    fn tensor(n: usize, order: usize, scale: f64) -> SymTensor {
        let mut t = SymTensor::zeros(n, order);
        let len = n.pow(order as u32);
        for k in 0..len {
            let idx: Vec<usize> = (0..order).map(|p| k / n.pow(p as u32) % n).collect();
            if idx.windows(2).all(|w| w[0] <= w[1]) {
                let s: usize = idx.iter().enumerate().map(|(p, i)| (p + 2) * i).sum();
                t.set_sym(&idx, scale * (((s * 7919) % 13) as f64 / 6.0 - 1.0));
            }
        }
        t
    }

    fn units(act: Activation, c: &Mat<f64>) -> Vec<UnitChaos> {
        (0..c.nrows())
            .map(|i| UnitChaos::new(act, 0.25 * i as f64 - 0.6, c[(i, i)].sqrt()))
            .collect()
    }

    /// Calls `f` with h's Σ, κ₃, κ₄ and units (φ = `act`) over 6 units, as the rule's input.
    fn with_input(act: Activation, f: impl FnOnce(&Input<'_>, &Mat<f64>, &[UnitChaos])) {
        let n = 6;
        let c = cov(n, 0.3);
        let (k3, k4) = (tensor(n, 3, 0.05), tensor(n, 4, 0.02));
        let u = units(act, &c);
        let input = Input {
            cov: &c,
            k3: &k3,
            k4: Some(&k4),
            units: &u,
        };
        f(&input, &c, &u);
    }

    /// The largest entry of four distinct units, and the largest difference there.
    fn compare(
        want: impl Fn([usize; 4]) -> f64,
        got: impl Fn([usize; 4]) -> f64,
        n: usize,
    ) -> (f64, f64) {
        increasing(n).fold((0.0f64, 0.0f64), |(size, err), t| {
            (size.max(want(t).abs()), err.max((want(t) - got(t)).abs()))
        })
    }

    /// Every diagram the rule keeps, evaluated here, gives the order-4 rule's κ₄(z) over four
    /// distinct units to rounding, with κ₃ and κ₄ input (relu, gelu, tanh off zero mean): the
    /// enumeration and the evaluation are the rule's.
    #[test]
    fn all_kept_diagrams_are_the_order_four_rule() {
        let n = 6;
        for act in [Activation::Relu, Activation::Gelu, Activation::Tanh] {
            with_input(act, |input, _, _| {
                let (mut z3, mut z4) = (SymTensor::zeros(n, 3), SymTensor::zeros(n, 4));
                ChaosRule::new(4).tensors(input, &mut z3, Some(&mut z4));
                let all = Distinct4Diagrams::new(Distinct4::Rule);
                let (size, err) = compare(|t| z4.get(&t), |t| all.entry(input, t), n);
                assert!(size > 1e-4, "{act}: nothing to compare ({size})");
                assert!(err <= 1e-12 * size, "{act}: {err} of {size}");
                // The budget's diagrams leave out some of the rule's (cost 4: e.g. the cycle).
                let budget = Distinct4Diagrams::new(Distinct4::Budget);
                let (_, off) = compare(|t| z4.get(&t), |t| budget.entry(input, t), n);
                assert!(off > 1e-9 * size, "{act}: the budget kept every diagram");
            });
        }
    }

    /// The star kind is [`QuarticStar::entry`] (the factored order 4's), the covariance kind
    /// adds the paths 4 β γ γ β Σ Σ Σ over the 12 undirected paths (module docs).
    #[test]
    fn star_and_paths_are_the_stated_formulas() {
        let n = 6;
        for act in [Activation::Relu, Activation::Gelu] {
            with_input(act, |input, c, u| {
                let q = QuarticStar::new(c, u);
                let star = Distinct4Diagrams::new(Distinct4::Star);
                let (size, err) = compare(|t| q.entry(t), |t| star.entry(input, t), n);
                assert!(
                    size > 1e-4 && err <= 1e-12 * size,
                    "{act} star: {err} of {size}"
                );
                let path = |t: [usize; 4]| {
                    let (b, g) = (|k: usize| u[k].b[1][1], |k: usize| u[k].b[1][2]);
                    let mut sum = 0.0;
                    for p in 0..4 {
                        for q2 in (0..4).filter(|&x| x != p) {
                            for r in (0..4).filter(|&x| x != p && x != q2) {
                                let s = 6 - p - q2 - r;
                                // Each undirected path once: its first end before its last.
                                if p < s {
                                    let (a, bb, cc, d) = (t[p], t[q2], t[r], t[s]);
                                    sum += 4.0
                                        * b(a)
                                        * g(bb)
                                        * g(cc)
                                        * b(d)
                                        * c[(a, bb)]
                                        * c[(bb, cc)]
                                        * c[(cc, d)];
                                }
                            }
                        }
                    }
                    q.entry(t) + sum
                };
                let covariance = Distinct4Diagrams::new(Distinct4::Covariance);
                let (size, err) = compare(path, |t| covariance.entry(input, t), n);
                assert!(
                    size > 1e-4 && err <= 1e-12 * size,
                    "{act} paths: {err} of {size}"
                );
            });
        }
    }

    /// The diagnostic is the dense order 4's: refused at order 3 (dense or factored).
    #[test]
    fn only_the_dense_order_four_takes_it() {
        use crate::propagate::higher::Carry;
        let order3 = Carry::from_gaussian(3, 4, 1).unwrap();
        assert!(order3.clone().with_distinct4(Distinct4::Star).is_err());
        assert!(order3
            .factored()
            .unwrap()
            .with_distinct4(Distinct4::Star)
            .is_err());
        assert!(Carry::from_gaussian(4, 4, 1)
            .unwrap()
            .with_distinct4(Distinct4::Star)
            .is_ok());
    }
}
