//! The VJP of a Gaussian closure for any φ, assembled from Gaussian expectations of φ and its
//! derivatives (Price's theorem / Stein's lemma).
//!
//! For h ~ N(μ, Σ) and a function f of h, Stein's lemma and Price's theorem give
//!
//! ```text
//! ∂E[f(h)]/∂μᵢ = E[∂ᵢf],   ∂E[f(h)]/∂Σᵢⱼ = E[∂ᵢ∂ⱼf] (i ≠ j, Σᵢⱼ = Σⱼᵢ tied),   ∂E[f(h)]/∂Σᵢᵢ = ½E[∂ᵢ²f]
//! ```
//!
//! (R. Price, IRE Trans. Inf. Theory 4, 69 (1958); C. Stein, Ann. Stat. 9, 1135 (1981)).
//! The closure returns mᵢ = E\[φᵢ\] and Cᵢⱼ = Eᵢⱼ − mᵢmⱼ with Eᵢⱼ = E\[φᵢφⱼ\], φᵢ = φ(hᵢ). The mᵢmⱼ
//! terms move into an effective mean adjoint, ĝ = ḡ_m − 2Ḡ_C m, after which
//! dL = Σᵢ ĝᵢ dmᵢ + Σᵢⱼ Ḡᵢⱼ dEᵢⱼ. With the pair expectations (φ', φ'' distributional for relu)
//!
//! ```text
//! Pᵢⱼ = E[φ'ᵢ φ'ⱼ],   Aᵢⱼ = E[φ'ᵢ φⱼ],   Bᵢⱼ = E[φ''ᵢ φⱼ]     (all i, j, including i = j)
//! ```
//!
//! and E[(φᵢ²)'] = 2Aᵢᵢ, E[(φᵢ²)''] = 2(Pᵢᵢ + Bᵢᵢ), the input adjoint is
//!
//! ```text
//! ∂L/∂μᵢ  = ĝᵢ E[φ'ᵢ] + 2 Σⱼ Ḡᵢⱼ Aᵢⱼ
//! ∂L/∂Σᵢᵢ = ½ ĝᵢ E[φ''ᵢ] + Ḡᵢᵢ Pᵢᵢ + Σⱼ Ḡᵢⱼ Bᵢⱼ
//! ∂L/∂Σᵢⱼ = Ḡᵢⱼ Pᵢⱼ                                            (i ≠ j)
//! ```
//!
//! (the sums over j include j = i). Each unordered pair is evaluated once (its P is symmetric,
//! A and B come in both orders), in parallel over the columns of the lower triangle; the sums
//! are then formed from the three N×N matrices.

use faer::{Col, Mat};
use rayon::prelude::*;

use super::{check_dims, Adjoint};
use crate::error::Result;
use crate::stats::Moments;

/// Per-unit means μᵢ and standard deviations sᵢ = √max(Σᵢᵢ, 0) of the closure's input (the
/// forward closure has already validated it).
pub fn unit_scales(input: &Moments) -> (Vec<f64>, Vec<f64>) {
    let n = input.dim();
    let mu = (0..n).map(|i| input.mean[i]).collect();
    let s = (0..n).map(|i| input.cov[(i, i)].max(0.0).sqrt()).collect();
    (mu, s)
}

/// The expectations of one unordered pair i ≥ j: P = Pᵢⱼ = Pⱼᵢ, a = [Aᵢⱼ, Aⱼᵢ], b = [Bᵢⱼ, Bⱼᵢ].
#[derive(Clone, Copy, Debug, Default)]
pub struct PairExpectations {
    pub p: f64,
    pub a: [f64; 2],
    pub b: [f64; 2],
}

/// The expectations one φ needs, per unit and per unordered pair of units.
pub trait SteinExpectations: Sync {
    /// (E[φ'(hᵢ)], E[φ''(hᵢ)]).
    fn unit(&self, i: usize) -> (f64, f64);
    /// The pair (i, j) with j ≤ i; j = i is asked for too (then `a[0] == a[1]`, `b[0] == b[1]`).
    fn pair(&self, i: usize, j: usize) -> PairExpectations;
}

/// Assembles the input adjoint from `k` (see the module docs). `output` is the forward closure's
/// result (only its mean m is used).
pub fn stein_vjp<K: SteinExpectations>(
    k: &K,
    input: &Moments,
    output: &Moments,
    adjoint: &Adjoint,
) -> Result<Adjoint> {
    let n = check_dims(input, output, adjoint)?;
    let gc = &adjoint.cov;
    let columns: Vec<Vec<PairExpectations>> = (0..n)
        .into_par_iter()
        .map(|i| (0..=i).map(|j| k.pair(i, j)).collect())
        .collect();
    // p[(i, j)] = Pᵢⱼ, a[(i, j)] = Aᵢⱼ, b[(i, j)] = Bᵢⱼ over all ordered pairs.
    let (mut p, mut a, mut b) = (Mat::zeros(n, n), Mat::zeros(n, n), Mat::zeros(n, n));
    for (i, col) in columns.iter().enumerate() {
        for (j, e) in col.iter().enumerate() {
            p[(i, j)] = e.p;
            p[(j, i)] = e.p;
            a[(i, j)] = e.a[0];
            a[(j, i)] = e.a[1];
            b[(i, j)] = e.b[0];
            b[(j, i)] = e.b[1];
        }
    }
    let mut mean = Col::zeros(n);
    let mut cov = Mat::from_fn(n, n, |i, j| gc[(i, j)] * p[(i, j)]);
    for i in 0..n {
        let (d1, d2) = k.unit(i);
        let (mut cross, mut d_mu, mut d_var) = (0.0, 0.0, 0.0);
        for j in 0..n {
            let g = gc[(i, j)];
            cross += g * output.mean[j];
            d_mu += 2.0 * g * a[(i, j)];
            d_var += g * b[(i, j)];
        }
        let g_hat = adjoint.mean[i] - 2.0 * cross;
        mean[i] = g_hat * d1 + d_mu;
        cov[(i, i)] += 0.5 * g_hat * d2 + d_var;
    }
    Ok(Adjoint { mean, cov })
}
