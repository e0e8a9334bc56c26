//! The factored order 3 with κ₄\[a,a,a,b\] (issue #16 item 7): z's T\[a,b\] = κ₄(z)\[a,a,a,b\]
//! carried beside the paired κ₄ and the blocks of κ₄\[a,a,b,c\] ([`super::triple4_factored`]),
//! and h's T read by the rule ([`super::closure::ChaosRule::unpaired_factorable`]), as the
//! dense order 3 ([`super::triple4`]) carries and reads them.
//!
//! **What the rule reads.** A diagram of an entry joins the entry's own units only, so an entry
//! over at most two distinct units — Δm, ΔC, z's κ₃\[a,a,b\], κ₄\[a,a,b,b\] and κ₄\[a,a,a,b\] —
//! reads h's κ₄ at κ₄\[a,a,a,a\], κ₄\[a,a,b,b\] (P) and κ₄\[a,a,a,b\] (T) alone: N² numbers,
//! the column vectors κ₄\[·,u,u,u\] (Tᵀ's columns) and κ₄\[·,·,·,u\] (T's). h's κ₄\[a,a,b,c\]
//! enters only entries over three distinct units: z's κ₄\[a,a,b,c\] (the carried blocks'
//! diagrams, [`super::triple4_factored::carried_blocks`]) and z's κ₃\[a,b,c\] (α_a β_b β_c
//! κ₄(h)\[a,a,b,c\], not a star: the factored κ₃ does not carry it, as it does not carry the
//! covariance triangle; [`super::factored`]). So the rule reads h's κ₄ through
//! [`PairedTriple`], P and T with every entry over three distinct units 0, and its outputs
//! over at most two distinct units are those of [`super::closure::ChaosRule::unpaired`] on the
//! dense store of the same P, T and any κ₄\[a,a,b,c\] (test below).
//!
//! **z's T** is the rule's column κ₄\[·,b,b,b\] per b (`fill::triple4`):
//!
//! ```text
//! κ₄(z)[a,b,b,b] = E ẑ_a ẑ_b³ − 3 P_bb P_ab − Δm_a κ₃(z)[b,b,b] − 3 Δm_b κ₃(z)[a,b,b]
//! ```
//!
//! with E ẑ_a ẑ_b³ the rule's diagrams over h's Σ, κ₃ slices, P and T (the same patterns as
//! the dense path's `fill::unpaired4`), and z's κ₃ at repeated units S, which the factored path
//! forms exactly (`fill::repeated3`). O(N²) entries, no N³ storage.
//!
//! **Its affine map** is [`super::triple4`]'s: z's T enters h's paired κ₄ exactly,
//! 2\[(W∘S')(W∘W)ᵀ + (W∘W)(W∘S')ᵀ\]\_ij with S' = W Tᵀ ([`super::triple4_factored`]'s image),
//! and h's T to leading order from F(i;i,j) alone (z's T there is one order in n^(−1/2) below).

use faer::Mat;

use super::paired::{Kappa4, Paired};

/// The paired κ₄ with T\[a,b\] = κ₄\[a,a,a,b\] beside it, every entry over three or four distinct
/// units 0: h's κ₄ as the factored path's rule reads it (module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct PairedTriple {
    /// P\[a,b\] = κ₄\[a,a,b,b\].
    pub paired: Paired,
    /// T (zero diagonal)…
    triple: Mat<f64>,
    /// …and Tᵀ.
    triple_t: Mat<f64>,
}

impl PairedTriple {
    /// From P and T (its diagonal is set to zero).
    pub fn new(paired: Paired, mut triple: Mat<f64>) -> Self {
        for a in 0..triple.nrows() {
            triple[(a, a)] = 0.0;
        }
        PairedTriple {
            paired,
            triple_t: triple.transpose().to_owned(),
            triple,
        }
    }
}

impl Kappa4 for PairedTriple {
    /// P for {a,a,b,b} and {a,a,a,a}, T for {a,a,a,b}, else 0.
    fn get(&self, idx: &[usize]) -> f64 {
        let mut s = [idx[0], idx[1], idx[2], idx[3]];
        s.sort_unstable();
        match (s[0] == s[1], s[1] == s[2], s[2] == s[3]) {
            (true, true, true) | (true, false, true) => self.paired.0[(s[0], s[2])],
            (true, true, false) => self.triple[(s[0], s[3])],
            (false, true, true) => self.triple[(s[3], s[0])],
            _ => 0.0,
        }
    }

    fn paired(&self) -> Option<&Paired> {
        Some(&self.paired)
    }

    fn triple(&self) -> Option<[&Mat<f64>; 2]> {
        Some([&self.triple, &self.triple_t])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::chaos::UnitChaos;
    use crate::propagate::higher::closure::{ChaosRule, Input};
    use crate::propagate::higher::tensor::SymTensor;
    use crate::propagate::higher::triple4::Unpaired4;
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    /// Largest |x − y| over the entries, relative to the largest |y|; and that largest |y|.
    fn deviation(x: &Mat<f64>, y: &Mat<f64>) -> (f64, f64) {
        let size = y.norm_max();
        ((x - y).norm_max() / size, size)
    }

    /// Through relu, gelu and tanh, the factored path's rule reading h's κ₄ as [`PairedTriple`]
    /// gives the Δm, ΔC, z's κ₃\[a,a,b\], paired κ₄ and κ₄\[a,a,a,b\] that
    /// [`ChaosRule::unpaired`] gives from the dense store of the same P and T with a nonzero
    /// κ₄\[a,a,b,c\] (the entries over at most two distinct units never read it), to rounding;
    /// and h's T changes them (the rule reads it).
    #[test]
    fn rule_through_the_view_is_the_dense_rule_on_two_unit_entries() {
        let n = 6;
        let mut rng = StdRng::seed_from_u64(21);
        let mut g = || rng.sample::<f64, _>(StandardNormal);
        let a = Mat::from_fn(n, n, |_, _| g());
        let cov = &a * a.transpose() * faer::Scale(0.2) + Mat::<f64>::identity(n, n);
        let mut k3 = SymTensor::zeros(n, 3);
        for f in 0..n.pow(3) {
            let idx: Vec<usize> = (0..3).map(|k| f / n.pow(k as u32) % n).collect();
            if idx.windows(2).all(|x| x[0] <= x[1]) {
                k3.set_sym(&idx, 0.05 * g());
            }
        }
        let p = Mat::from_fn(n, n, |_, _| 0.1 * g());
        let p = Paired((&p + p.transpose()) * faer::Scale(0.5));
        let t = Mat::from_fn(n, n, |_, _| 0.05 * g());
        let q: Vec<f64> = (0..n * n * n).map(|_| 0.05 * g()).collect();
        let dense = Unpaired4::new(p.clone(), t.clone(), q);
        let view = PairedTriple::new(p.clone(), t);
        let without_t = PairedTriple::new(p, Mat::zeros(n, n));
        for act in [Activation::Relu, Activation::Gelu, Activation::Tanh] {
            let units: Vec<UnitChaos> = (0..n)
                .map(|i| UnitChaos::new(act, 0.3 * i as f64 - 0.8, cov[(i, i)].sqrt()))
                .collect();
            fn with<'a>(h: &Input<'a>, k4: &'a dyn Kappa4) -> Input<'a> {
                Input { k4: Some(k4), ..*h }
            }
            let base = Input {
                cov: &cov,
                k3: &k3,
                k4: None,
                units: &units,
            };
            let input = |k4| with(&base, k4);
            let (dense_rule, ours) = (ChaosRule::unpaired(), ChaosRule::unpaired_factorable());
            let mut o3 = SymTensor::zeros(0, 3);
            let want = dense_rule.tensors_unpaired(&input(&dense), &mut o3);
            let want_s = Mat::from_fn(n, n, |a, b| o3.get(&[a, a, b]));
            // T's diagonal is no entry of the class (the dense store reads P there).
            let want_t = Mat::from_fn(
                n,
                n,
                |a, b| {
                    if a == b {
                        0.0
                    } else {
                        want.get(&[a, a, a, b])
                    }
                },
            );
            let (s, paired, triple) = ours.slices_unpaired(&input(&view));
            let inc = ours.increments(&input(&view));
            let want_inc = dense_rule.increments(&input(&dense));
            let dm = |v: &[f64]| Mat::from_fn(n, 1, |a, _| v[a]);
            let pairs = [
                ("S", s, want_s),
                ("P", paired.0, want.paired.0.clone()),
                ("T", triple.clone(), want_t),
                ("Δm", dm(&inc.mean), dm(&want_inc.mean)),
                ("ΔC", inc.cov.clone(), want_inc.cov),
            ];
            for (name, x, y) in &pairs {
                let (d, size) = deviation(x, y);
                assert!(size > 1e-4, "{act:?} {name}: ~0 ({size:e})");
                assert!(d < 1e-12, "{act:?} {name}: relative deviation {d:e}");
            }
            let (_, _, t0) = ours.slices_unpaired(&input(&without_t));
            let inc0 = ours.increments(&input(&without_t));
            assert!(
                deviation(&t0, &triple).0 > 1e-3,
                "{act:?}: T(z) ignores h's T"
            );
            assert!(
                deviation(&inc0.cov, &inc.cov).0 > 1e-3,
                "{act:?}: ΔC ignores h's T"
            );
        }
    }
}
