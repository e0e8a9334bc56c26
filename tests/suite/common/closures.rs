//! Shared helpers for the closure tests: random Gaussian inputs with near-singular pairs and
//! large |μ|/s, Monte Carlo with standard errors estimated from the samples, quadrature
//! comparison.

use corrflow::net::Activation;
use corrflow::propagate::closures::{Closure, ClosureMethod, Corrections};
use corrflow::stats::Moments;
use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// A random N(μ, Σ) of dimension n ≥ 4: rows of the factor A (Σ = A Aᵀ) are random unit
/// vectors scaled by sᵢ, except unit 1 ≈ unit 0 (ρ > 0.99) and unit 2 ≈ −unit 0 (ρ < −0.99);
/// μᵢ/sᵢ cycles through `ratios` (e.g. up to ±6).
pub fn random_case(
    seed: u64,
    n: usize,
    s_range: (f64, f64),
    ratios: &[f64],
) -> (Moments, Mat<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut a = Mat::<f64>::zeros(n, n);
    for i in 0..n {
        for k in 0..n {
            a[(i, k)] = rng.sample::<f64, _>(StandardNormal);
        }
    }
    for k in 0..n {
        let e1: f64 = rng.sample(StandardNormal);
        let e2: f64 = rng.sample(StandardNormal);
        a[(1, k)] = a[(0, k)] + 0.04 * e1;
        a[(2, k)] = -a[(0, k)] + 0.04 * e2;
    }
    let mut mean = Col::<f64>::zeros(n);
    for i in 0..n {
        let norm = (0..n).map(|k| a[(i, k)] * a[(i, k)]).sum::<f64>().sqrt();
        let s = s_range.0 + (s_range.1 - s_range.0) * rng.random::<f64>();
        for k in 0..n {
            a[(i, k)] *= s / norm;
        }
        mean[i] = ratios[i % ratios.len()] * s;
    }
    let cov = &a * a.transpose();
    (Moments::gaussian(mean, cov), a)
}

/// Monte Carlo statistics of φ(h) for h = μ + A z: sample means and covariances with standard
/// errors estimated from the samples (SE of the mean of φᵢ, and of the mean of the centred
/// products (φᵢ − m̂ᵢ)(φⱼ − m̂ⱼ)).
pub struct McStats {
    pub mean: Vec<f64>,
    pub mean_se: Vec<f64>,
    pub cov: Mat<f64>,
    pub cov_se: Mat<f64>,
}

/// Draws `samples` of φ(μ + A z) (or of `draw` when given) and returns [`McStats`].
pub fn monte_carlo(
    samples: usize,
    seed: u64,
    n: usize,
    mut draw: impl FnMut(&mut StdRng, &mut [f64]),
) -> McStats {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut buf = vec![0.0; n];
    let mut all = vec![0.0; samples * n];
    for t in 0..samples {
        draw(&mut rng, &mut buf);
        all[t * n..(t + 1) * n].copy_from_slice(&buf);
    }
    let ns = samples as f64;
    let mean: Vec<f64> = (0..n)
        .map(|i| (0..samples).map(|t| all[t * n + i]).sum::<f64>() / ns)
        .collect();
    let mut cov = Mat::zeros(n, n);
    let mut cov_se = Mat::zeros(n, n);
    let mut mean_se = vec![0.0; n];
    for i in 0..n {
        for j in 0..=i {
            let (mut s1, mut s2) = (0.0, 0.0);
            for t in 0..samples {
                let p = (all[t * n + i] - mean[i]) * (all[t * n + j] - mean[j]);
                s1 += p;
                s2 += p * p;
            }
            let m = s1 / ns;
            let se = ((s2 / ns - m * m).max(0.0) / ns).sqrt();
            cov[(i, j)] = m;
            cov[(j, i)] = m;
            cov_se[(i, j)] = se;
            cov_se[(j, i)] = se;
        }
        mean_se[i] = (cov[(i, i)] / ns).sqrt();
    }
    McStats {
        mean,
        mean_se,
        cov,
        cov_se,
    }
}

/// Gaussian sampler h = μ + A z, then φ.
pub fn gaussian_draw<'a>(
    input: &'a Moments,
    a: &'a Mat<f64>,
    act: Activation,
) -> impl FnMut(&mut StdRng, &mut [f64]) + 'a {
    let n = input.dim();
    let mut z = vec![0.0; n];
    move |rng, out| {
        for zk in z.iter_mut() {
            *zk = rng.sample(StandardNormal);
        }
        for i in 0..n {
            let h = input.mean[i] + (0..n).map(|k| a[(i, k)] * z[k]).sum::<f64>();
            out[i] = act.eval(h);
        }
    }
}

/// Asserts that `got` agrees with the Monte Carlo within `k` standard errors (plus 1e-12 for
/// entries whose sample SE is 0, e.g. deterministic units); returns the worst |Δ|/SE.
pub fn assert_mc(got: &Moments, mc: &McStats, k: f64, what: &str) -> f64 {
    let n = got.dim();
    let mut worst: f64 = 0.0;
    for i in 0..n {
        let d = (got.mean[i] - mc.mean[i]).abs();
        assert!(
            d <= k * mc.mean_se[i] + 1e-12,
            "{what}: mean[{i}] {} vs MC {} ± {}",
            got.mean[i],
            mc.mean[i],
            mc.mean_se[i]
        );
        worst = worst.max(d / mc.mean_se[i].max(1e-300));
        for j in 0..=i {
            let d = (got.cov[(i, j)] - mc.cov[(i, j)]).abs();
            assert!(
                d <= k * mc.cov_se[(i, j)] + 1e-12,
                "{what}: C[{i},{j}] {} vs MC {} ± {}",
                got.cov[(i, j)],
                mc.cov[(i, j)],
                mc.cov_se[(i, j)]
            );
            worst = worst.max(d / mc.cov_se[(i, j)].max(1e-300));
        }
    }
    worst
}

/// Asserts |Δm| ≤ tol·(|m| + √C) and |ΔCᵢⱼ| ≤ tol·√(CᵢᵢCⱼⱼ) + floor against a reference;
/// returns the worst relative error in those units.
pub fn assert_close(got: &Moments, reference: &Moments, tol: f64, floor: f64, what: &str) -> f64 {
    let n = got.dim();
    let mut worst: f64 = 0.0;
    for i in 0..n {
        let scale = reference.mean[i].abs() + reference.cov[(i, i)].sqrt();
        let d = (got.mean[i] - reference.mean[i]).abs();
        assert!(
            d <= tol * scale + floor,
            "{what}: mean[{i}] {} vs {}",
            got.mean[i],
            reference.mean[i]
        );
        worst = worst.max(d / scale.max(1e-300));
        for j in 0..n {
            let scale = (reference.cov[(i, i)] * reference.cov[(j, j)]).sqrt();
            let d = (got.cov[(i, j)] - reference.cov[(i, j)]).abs();
            assert!(
                d <= tol * scale + floor,
                "{what}: C[{i},{j}] {:e} vs {:e} (scale {scale:e})",
                got.cov[(i, j)],
                reference.cov[(i, j)]
            );
            assert_eq!(got.cov[(i, j)], got.cov[(j, i)], "{what}: asymmetric");
            worst = worst.max(d / scale.max(1e-300));
        }
    }
    worst
}

/// The reference quadrature closure applied to `input`.
pub fn quadrature(act: Activation, input: &Moments) -> Moments {
    corrflow::propagate::ClosurePair::new(act, ClosureMethod::Quadrature)
        .map(|p| p.closure)
        .unwrap()
        .apply(input, Corrections::None)
        .unwrap()
}

/// Applies a closure and checks all outputs are finite.
pub fn apply(c: &dyn Closure, input: &Moments) -> Moments {
    let out = c.apply(input, Corrections::None).unwrap();
    for i in 0..out.dim() {
        assert!(out.mean[i].is_finite());
        for j in 0..out.dim() {
            assert!(
                out.cov[(i, j)].is_finite(),
                "{}: C[{i},{j}] not finite",
                c.name()
            );
        }
    }
    out
}
