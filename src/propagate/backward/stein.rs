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
//! The closure returns mᵢ = E[φᵢ] and Cᵢⱼ = Eᵢⱼ − mᵢmⱼ with Eᵢⱼ = E[φᵢφⱼ], φᵢ = φ(hᵢ). The mᵢmⱼ
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
//! (the sums over j include j = i). Each row i needs its own Aᵢⱼ, Bᵢⱼ for every j, so rows are
//! independent and run in parallel; the symmetric Pᵢⱼ is evaluated from both sides and the two
//! values averaged.

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

/// The expectations one φ needs, per unit and per ordered pair of units.
pub trait SteinExpectations: Sync {
    /// (E[φ'(hᵢ)], E[φ''(hᵢ)]).
    fn unit(&self, i: usize) -> (f64, f64);
    /// (Pᵢⱼ, Aᵢⱼ, Bᵢⱼ) for the ordered pair (i, j); j = i is asked for too.
    fn pair(&self, i: usize, j: usize) -> [f64; 3];
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
    let g_hat: Vec<f64> = (0..n)
        .map(|i| {
            let cross: f64 = (0..n).map(|j| gc[(i, j)] * output.mean[j]).sum();
            adjoint.mean[i] - 2.0 * cross
        })
        .collect();
    let rows: Vec<(f64, Vec<f64>)> = (0..n)
        .into_par_iter()
        .map(|i| {
            let (d1, d2) = k.unit(i);
            let mut d_mu = g_hat[i] * d1;
            let mut row = vec![0.0; n];
            let mut d_var = 0.5 * g_hat[i] * d2;
            for (j, r) in row.iter_mut().enumerate() {
                let [p, a, b] = k.pair(i, j);
                let g = gc[(i, j)];
                d_mu += 2.0 * g * a;
                d_var += g * b;
                if j == i {
                    d_var += g * p;
                } else {
                    *r = g * p;
                }
            }
            row[i] = d_var;
            (d_mu, row)
        })
        .collect();
    let mut mean = Col::zeros(n);
    let mut cov = Mat::zeros(n, n);
    for (i, (d_mu, row)) in rows.iter().enumerate() {
        mean[i] = *d_mu;
        // Pᵢⱼ was evaluated from both sides: average, so that ∂L/∂Σ is exactly symmetric.
        for j in 0..=i {
            let v = 0.5 * (row[j] + rows[j].1[i]);
            cov[(i, j)] = v;
            cov[(j, i)] = v;
        }
    }
    Ok(Adjoint { mean, cov })
}
