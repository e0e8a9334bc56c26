//! The closures that run on f32 lanes, and the test that picks them: the f32 twins of
//! `closures::{linear, quadratic, relu, leaky_relu}` (same formulas, DESIGN.md §3).

use faer::{Col, Mat};
use rayon::prelude::*;

use super::relu::relu_f32;
use super::units::units32;
use crate::error::Result;
use crate::linalg::fill_symmetric;
use crate::net::Activation;
use crate::propagate::closures::ClosureMethod;
use crate::special::normal_cdf;

/// Whether `act` under `method` has an f32 closure here; the others run the f64 closure on a
/// widened Σ (module docs of [`super`]).
pub fn has_f32_lanes(act: Activation, method: ClosureMethod) -> bool {
    method == ClosureMethod::Auto
        && matches!(
            act,
            Activation::Linear
                | Activation::Quadratic { .. }
                | Activation::Relu
                | Activation::LeakyRelu { .. }
        )
}

/// The Gaussian closure of `act` for h ~ N(`mean`, `cov`) into (`out_mean`, `out_cov`), which
/// are resized. Only for the activations [`has_f32_lanes`] accepts.
pub fn apply_f32(
    act: Activation,
    mean: &Col<f64>,
    cov: &Mat<f32>,
    out_mean: &mut Col<f64>,
    out_cov: &mut Mat<f32>,
) -> Result<()> {
    let name = act.to_string();
    let u = units32(mean, cov, &name)?;
    let n = u.mu.len();
    match act {
        Activation::Relu => relu_f32(&u, out_mean, out_cov, cov),
        Activation::LeakyRelu { slope } => {
            relu_f32(&u, out_mean, out_cov, cov)?;
            leaky_from_relu(slope, &u.mu, &u.s, cov, out_mean, out_cov);
            Ok(())
        }
        // m = μ + α(μ² + Σᵢᵢ), Cᵢⱼ = gᵢgⱼΣᵢⱼ + 2α²Σᵢⱼ², g = 1 + 2αμ (Gaussian closure).
        Activation::Quadratic { alpha } => {
            out_mean.resize_with(n, |_| 0.0);
            crate::io::resize_for_overwrite(out_cov, n, n);
            for i in 0..n {
                out_mean[i] = u.mu[i] + alpha * (u.mu[i] * u.mu[i] + f64::from(cov[(i, i)]));
            }
            let g: Vec<f32> =
                u.mu.iter()
                    .map(|m| (1.0 + 2.0 * alpha * m) as f32)
                    .collect();
            let two_a2 = (2.0 * alpha * alpha) as f32;
            fill_symmetric(out_cov, |i, col| {
                let sig = &cov.col_as_slice(i)[..=i];
                for ((c, &s), &gj) in col.iter_mut().zip(sig).zip(&g) {
                    *c = g[i] * gj * s + two_a2 * s * s;
                }
            })
        }
        // m = μ, C = Σ.
        _ => {
            out_mean.resize_with(n, |_| 0.0);
            out_mean.copy_from(mean);
            crate::io::resize_for_overwrite(out_cov, n, n);
            out_cov.copy_from(cov);
            Ok(())
        }
    }
}

/// The leaky relu's moments from the relu's (`closures::leaky_relu`):
/// mᵢ = aμᵢ + (1 − a)m⁺ᵢ, Cᵢⱼ = a[a + (1 − a)(Φ(bᵢ) + Φ(bⱼ))]Σᵢⱼ + (1 − a)²C⁺ᵢⱼ.
fn leaky_from_relu(
    a: f64,
    mu: &[f64],
    s: &[f64],
    sigma: &Mat<f32>,
    mean: &mut Col<f64>,
    cov: &mut Mat<f32>,
) {
    let p: Vec<f32> = mu
        .iter()
        .zip(s)
        .map(|(&m, &s)| {
            if s > 0.0 {
                normal_cdf(m / s) as f32
            } else {
                0.0
            }
        })
        .collect();
    for (i, &m) in mu.iter().enumerate() {
        mean[i] = a * m + (1.0 - a) * mean[i];
    }
    let (a32, keep) = (a as f32, ((1.0 - a) * (1.0 - a)) as f32);
    let n = mu.len();
    cov.as_mut()
        .par_col_chunks_mut(1)
        .enumerate()
        .for_each(|(j, mut col)| {
            let sig = sigma.col_as_slice(j);
            for i in 0..n {
                let linear = a32 * (a32 + (1.0 - a32) * (p[i] + p[j]));
                col[(i, 0)] = linear * sig[i] + keep * col[(i, 0)];
            }
        });
}
