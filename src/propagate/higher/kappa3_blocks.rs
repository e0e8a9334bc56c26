//! The κ₃ term of z's κ₄\[a,a,b,c\] carried as blocks ([`super::triple4_factored`]'s form)
//! instead of imaged once ([`super::triple4_factored::kappa3_part`]), the factored carry's
//! option [`super::carry::Carry::with_kappa3_blocks`].
//!
//! The term is α_a β_b β_c κ₃(h)\[a,b,c\] on distinct units ([`super::star4`]; α = B_{·,2,1},
//! β = B_{·,1,1}), with h's κ₃ factored as Sym(Σ_r F₀ ⊗ F₁ ⊗ F₂ + Σ_t P₀ ⊗ P₀ ⊗ P₁)
//! ([`super::factored`]). Grouping the six permutations of Sym(u ⊗ v ⊗ w) by the factor at a,
//!
//! ```text
//! Sym(u⊗v⊗w)[a,b,c] = ⅓ [u_a ½(v_b w_c + w_b v_c) + v_a ½(u_b w_c + w_b u_c) + w_a ½(u_b v_c + v_b u_c)]
//! ```
//!
//! so the general terms are three blocks (A, X, Y) = (⅓ diag(α) F_k, diag(β) F_l,
//! diag(β) F_m), {k, l, m} = {0, 1, 2}, and the pairs (u = v = P₀, w = P₁) two:
//! (⅔ diag(α) P₀, diag(β) P₀, diag(β) P₁) and (⅓ diag(α) P₁, diag(β) P₀, diag(β) P₀). Their rank
//! is 3R + 2R' for κ₃'s R general and R' paired terms. The ninth session's factored order 3
//! carried it so ("cap 1, κ₃ as blocks": relu n = 64, depth 8, 2.2e-4 → 1.3e-4 at 2.5× the
//! time; EXPERIMENTS.md).

use std::sync::Arc;

use faer::Mat;

use super::factored::Factored;
use super::star4::{HKappa3, Star4};
use super::triple4_factored::Block;

/// diag(d) · X · s.
fn scaled(d: &[f64], x: &Mat<f64>, s: f64) -> Mat<f64> {
    Mat::from_fn(x.nrows(), x.ncols(), |b, r| s * d[b] * x[(b, r)])
}

/// The blocks of α_a β_b β_c κ₃(h)\[a,b,c\] (module docs) for the star's factored κ₃ (empty where
/// h's κ₃ is zero or, None, held dense).
pub fn kappa3_blocks(star: &Star4) -> Option<Vec<Block>> {
    let f: &Factored = match &star.k3 {
        None => return Some(Vec::new()),
        Some(HKappa3::Dense(_)) => return None,
        Some(HKappa3::Factored(h)) => &h.f,
    };
    let (alpha, beta) = (&star.alpha, &star.beta);
    let third = 1.0 / 3.0;
    let b: Vec<Arc<Mat<f64>>> = (f.factors.iter())
        .map(|x| Arc::new(scaled(beta, x, 1.0)))
        .collect();
    let mut out = Vec::with_capacity(5);
    if f.factors[0].ncols() > 0 {
        for (k, l, m) in [(0, 1, 2), (1, 0, 2), (2, 0, 1)] {
            let a = scaled(alpha, &f.factors[k], third);
            out.push(Block::new(a, false, b[l].clone(), b[m].clone()));
        }
    }
    if f.pairs[0].ncols() > 0 {
        let (p0, p1) = (&f.pairs[0], &f.pairs[1]);
        let (b0, b1) = (
            Arc::new(scaled(beta, p0, 1.0)),
            Arc::new(scaled(beta, p1, 1.0)),
        );
        out.push(Block::new(
            scaled(alpha, p0, 2.0 * third),
            false,
            b0.clone(),
            b1,
        ));
        out.push(Block::new(scaled(alpha, p1, third), false, b0.clone(), b0));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::Activation;
    use crate::propagate::higher::chaos::UnitChaos;
    use crate::propagate::higher::paired::Paired;
    use crate::propagate::higher::triple4_factored::{
        fresh_blocks, kappa3_part, Unpaired4Factored,
    };
    use rand::rngs::StdRng;
    use rand::{RngExt, SeedableRng};
    use rand_distr::StandardNormal;

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> Mat<f64> {
        Mat::from_fn(rows, cols, |_, _| rng.sample::<f64, _>(StandardNormal))
    }

    /// A gelu layer's star over h's covariance `cov` with a random factored κ₃ (4 general
    /// terms, 3 paired).
    fn star_with_kappa3(cov: &Mat<f64>, rng: &mut StdRng) -> Star4 {
        let n = cov.nrows();
        let units: Vec<UnitChaos> = (0..n)
            .map(|i| UnitChaos::new(Activation::Gelu, 0.3 * i as f64 - 0.7, 0.9))
            .collect();
        let f = Factored {
            factors: std::array::from_fn(|_| random(n, 4, rng)),
            pairs: std::array::from_fn(|_| random(n, 3, rng)),
        };
        Star4::new(cov, &units).with_kappa3(HKappa3::factored(f))
    }

    /// The fresh blocks and the κ₃ blocks together hold [`Star4::entry`] with h's κ₃ on
    /// distinct units, to rounding (the same products summed in another order); without the
    /// κ₃ blocks they miss its κ₃ term, checked to be a large part of the entries.
    #[test]
    fn with_the_kappa3_blocks_the_blocks_hold_the_star_entries() {
        let n = 6;
        let mut rng = StdRng::seed_from_u64(21);
        let a = random(n, n, &mut rng);
        let cov = &a * a.transpose() * faer::Scale(0.2) + Mat::<f64>::identity(n, n);
        let star = star_with_kappa3(&cov, &mut rng);
        let k3 = kappa3_blocks(&star).expect("h's κ₃ is factored");
        assert_eq!(k3.len(), 5);
        let mut blocks = fresh_blocks(&star);
        let without = Unpaired4Factored::new(Paired::zeros(n), Mat::zeros(n, n), blocks.clone());
        blocks.extend(k3);
        let with = Unpaired4Factored::new(Paired::zeros(n), Mat::zeros(n, n), blocks);
        let (mut worst, mut missed, mut size) = (0.0f64, 0.0f64, 0.0f64);
        for a in 0..n {
            for b in (0..n).filter(|&b| b != a) {
                for c in (0..n).filter(|&c| c != a && c != b) {
                    let want = star.entry(a, b, c);
                    worst = worst.max((with.double(a, b, c) - want).abs());
                    missed = missed.max((without.double(a, b, c) - want).abs());
                    size = size.max(want.abs());
                }
            }
        }
        assert!(size > 1e-2 && worst < 1e-13 * size, "{worst:e} of {size:e}");
        assert!(missed > 0.1 * size, "{missed:e} of {size:e}");
    }

    /// On the diagonal (the output mean's input) the κ₃ blocks' image in h = W z's paired κ₄
    /// is [`kappa3_part`]'s, the image the carry forms without them, to rounding: both are exact
    /// there. (Off it the blocks' image also holds the split term of the correction at b = a,
    /// whose A is diagonal, which the star's leading-order image drops: module docs of
    /// [`super::super::triple4_factored`] and [`super::super::star4`].)
    #[test]
    fn kappa3_blocks_image_the_diagonal_as_the_star_does() {
        let n = 6;
        let mut rng = StdRng::seed_from_u64(23);
        let star = star_with_kappa3(&Mat::identity(n, n), &mut rng);
        let blocks = kappa3_blocks(&star).expect("h's κ₃ is factored");
        let held = Unpaired4Factored::new(Paired::zeros(n), Mat::zeros(n, n), blocks);
        let w = random(5, n, &mut rng);
        let got = held.image(w.as_ref());
        let want = kappa3_part(star).image(w.as_ref());
        // Rounding: each entry sums O(N³) products; the image's scale bounds them.
        let scale = want.norm_max();
        assert!(scale > 1.0);
        for i in 0..5 {
            let d = (got[(i, i)] - want[(i, i)]).abs();
            assert!(
                d <= 1e-12 * scale,
                "{i}: {} vs {}",
                got[(i, i)],
                want[(i, i)]
            );
        }
    }

    /// A dense κ₃ has no blocks (None); a zero one none to add.
    #[test]
    fn only_a_factored_kappa3_gives_blocks() {
        use crate::propagate::higher::tensor::SymTensor;
        let units: Vec<UnitChaos> = (0..3)
            .map(|_| UnitChaos::new(Activation::Tanh, 0.1, 1.0))
            .collect();
        let star = Star4::new(&Mat::identity(3, 3), &units);
        assert_eq!(kappa3_blocks(&star), Some(Vec::new()));
        let dense = star.with_kappa3(HKappa3::Dense(SymTensor::zeros(3, 3)));
        assert_eq!(kappa3_blocks(&dense), None);
    }
}
