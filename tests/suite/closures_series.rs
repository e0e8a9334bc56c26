//! Hermite-series closure: against quadrature and Monte Carlo, its truncation bound, and the
//! quadratic closure's κ₃/κ₄ corrections on skewed input.

use crate::common::closures::*;
use corrflow::net::Activation;
use corrflow::propagate::closures::hermite::HermiteCoefficients;
use corrflow::propagate::closures::quadrature::{pair_cov, Unit};
use corrflow::propagate::closures::{ClosureMethod, Corrections, HermiteClosure};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;
use corrflow::Error;
use faer::{Col, Mat};
use rand::RngExt;

const SMOOTH: [Activation; 7] = [
    Activation::Silu,
    Activation::Softplus,
    Activation::Tanh,
    Activation::Sigmoid,
    Activation::Gelu,
    Activation::Erf,
    Activation::Quadratic { alpha: 0.4 },
];

#[test]
fn hermite_matches_quadrature() {
    for act in SMOOTH {
        let mut worst: f64 = 0.0;
        for seed in 0..2 {
            let (input, _) =
                random_case(30 + seed, 6, (0.2, 1.5), &[0.3, -6.0, 6.0, -1.5, 2.0, 0.0]);
            let c = ClosurePair::new(act, ClosureMethod::Hermite)
                .map(|p| p.closure)
                .unwrap();
            let got = apply(c.as_ref(), &input);
            let reference = quadrature(act, &input);
            worst = worst.max(assert_close(
                &got,
                &reference,
                1e-9,
                1e-14,
                &format!("hermite {act}"),
            ));
        }
        println!("hermite {act}: max error vs quadrature / √(CᵢᵢCⱼⱼ) = {worst:e}");
    }
}

/// Pre-activations widened k = 2, 4, 8 times (μ·k, Σ·k², s up to 5.6): wide units take the
/// Fourier rule and up to 256 terms, GELU's unsettled pairs its conditional route (issue #14,
/// item 3). Rows 1 and 2 are ≈ ±row 0 (|ρ| ≈ 0.999), so the slow high-|ρ| pairs are present.
/// Against the 2-D quadrature reference (within 10⁻⁹·√(CᵢᵢCⱼⱼ), as at scale 1) and Monte Carlo
/// (within 5 SE of 10⁶ draws).
#[test]
fn hermite_is_accurate_at_every_scale() {
    for (k, act) in [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
    ]
    .into_iter()
    .enumerate()
    {
        for widen in [2.0, 4.0, 8.0] {
            let (input, a) = random_case(60 + k as u64, 4, (0.5, 0.7), &[0.3, -2.0, 1.0, -0.5]);
            let input = Moments::gaussian(&input.mean * widen, &input.cov * (widen * widen));
            let a = &a * widen;
            let got = apply(
                ClosurePair::new(act, ClosureMethod::Auto)
                    .map(|p| p.closure)
                    .unwrap()
                    .as_ref(),
                &input,
            );
            let label = format!("{act} x{widen}");
            if widen != 4.0 {
                let reference = quadrature(act, &input);
                let worst = assert_close(&got, &reference, 1e-9, 1e-14, &label);
                println!("{label}: max error vs quadrature / √(CᵢᵢCⱼⱼ) = {worst:e}");
            }
            let mc = monte_carlo(1_000_000, 9 + k as u64, 4, gaussian_draw(&input, &a, act));
            let worst = assert_mc(&got, &mc, 5.0, &label);
            println!("{label}: worst |Δ|/SE vs Monte Carlo = {worst:.2}");
        }
    }
}

#[test]
fn hermite_matches_monte_carlo() {
    for (k, act) in [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
    ]
    .into_iter()
    .enumerate()
    {
        let (input, a) = random_case(40 + k as u64, 5, (0.3, 1.5), &[0.3, -2.0, 1.0, 6.0, -0.5]);
        let got = apply(
            ClosurePair::new(act, ClosureMethod::Auto)
                .map(|p| p.closure)
                .unwrap()
                .as_ref(),
            &input,
        );
        let mc = monte_carlo(1_000_000, 7 + k as u64, 5, gaussian_draw(&input, &a, act));
        let worst = assert_mc(&got, &mc, 5.0, &format!("{act}"));
        println!("{act}: worst |Δ|/SE vs Monte Carlo = {worst:.2}");
    }
}

#[test]
fn truncation_bound_holds() {
    let cases = [
        (Activation::Tanh, (0.4, 1.2), (-0.8, 2.5)),
        (Activation::Sigmoid, (1.0, 3.0), (-2.0, 0.5)),
        (Activation::Gelu, (0.0, 1.0), (0.5, 2.0)),
    ];
    for (act, (mi, si), (mj, sj)) in cases {
        let ci = HermiteCoefficients::new(act, mi, si, 96);
        let cj = HermiteCoefficients::new(act, mj, sj, 96);
        for &rho in &[-0.999, -0.9, -0.5, 0.3, 0.8, 0.95, 0.999] {
            let exact = pair_cov(
                act,
                Unit {
                    mu: mi,
                    s: si,
                    m: ci.mean,
                },
                Unit {
                    mu: mj,
                    s: sj,
                    m: cj.mean,
                },
                rho,
            );
            for k in [1, 2, 3, 5, 8, 16, 32, 64, 96] {
                let err = (ci.series(&cj, rho, k) - exact).abs();
                let bound = ci.truncation_bound(&cj, rho, k);
                // Allowance for the quadrature error of `exact` and of the coefficients.
                assert!(
                    err <= bound + 1e-12 * (ci.var * cj.var).sqrt(),
                    "{act} ρ={rho} K={k}: error {err:e} > bound {bound:e}"
                );
            }
        }
    }
}

#[test]
fn relu_hermite_is_refused() {
    let e = ClosurePair::new(Activation::Relu, ClosureMethod::Hermite)
        .map(|p| p.closure)
        .err()
        .unwrap();
    assert!(matches!(e, Error::Unsupported(ref m) if m.contains("relu")));
    assert!(HermiteClosure::new(Activation::Relu).is_err());
    assert!(
        ClosurePair::new(Activation::Relu, ClosureMethod::Quadrature)
            .map(|p| p.closure)
            .is_ok()
    );
}

/// h = A e with centred exponential noise e: clearly skewed input. The quadratic closure with
/// κ₃/κ₄ matches the empirical statistics of φ(h); the Gaussian-only one does not.
#[test]
fn quadratic_corrections_match_skewed_samples() {
    let n = 4;
    let alpha = 0.6;
    let act = Activation::Quadratic { alpha };
    let a = Mat::from_fn(n, n, |i, j| {
        [
            [1.0, 0.3, 0.0, 0.2],
            [0.5, 0.8, -0.4, 0.0],
            [0.0, -0.6, 0.9, 0.3],
            [0.2, 0.0, 0.5, -0.7],
        ][i][j]
    });
    let mu = [0.4, -0.3, 0.1, 0.8];
    let draw_h = |rng: &mut rand::rngs::StdRng, h: &mut [f64]| {
        let e: Vec<f64> = (0..n).map(|_| -rng.random::<f64>().ln() - 1.0).collect();
        for i in 0..n {
            h[i] = mu[i] + (0..n).map(|k| a[(i, k)] * e[k]).sum::<f64>();
        }
    };
    // Exact input cumulants of h: κ₂ = AAᵀ, κ₃[i,i,j] = 2 Σ_k A_ik² A_jk, κ₄[i,i,j,j] = 6 Σ_k A_ik² A_jk²
    // (exponential: κ₃ = 2, κ₄ = 6).
    let cov = &a * a.transpose();
    let k3 = Mat::from_fn(n, n, |i, j| {
        (0..n)
            .map(|k| 2.0 * a[(i, k)] * a[(i, k)] * a[(j, k)])
            .sum()
    });
    let k4 = Mat::from_fn(n, n, |i, j| {
        (0..n)
            .map(|k| 6.0 * a[(i, k)] * a[(i, k)] * a[(j, k)] * a[(j, k)])
            .sum()
    });
    let input = Moments::with_slices(
        Col::from_fn(n, |i| mu[i]),
        cov,
        (Some(k3), Some(k4), None),
        1.0,
    );
    let c = ClosurePair::new(act, ClosureMethod::Auto)
        .map(|p| p.closure)
        .unwrap();
    let corrected = c.apply(&input, Corrections::K3K4).unwrap();
    let gaussian = c.apply(&input, Corrections::None).unwrap();
    let mut draw = |rng: &mut rand::rngs::StdRng, out: &mut [f64]| {
        let mut h = [0.0; 4];
        draw_h(rng, &mut h);
        for i in 0..n {
            out[i] = act.eval(h[i]);
        }
    };
    let mc = monte_carlo(2_000_000, 5, n, &mut draw);
    let worst = assert_mc(&corrected, &mc, 5.0, "quadratic + κ₃/κ₄");
    println!("quadratic + κ₃/κ₄ on skewed input: worst |Δ|/SE = {worst:.2}");
    let gauss_worst = std::panic::catch_unwind(|| assert_mc(&gaussian, &mc, 5.0, "gaussian"));
    assert!(
        gauss_worst.is_err(),
        "the Gaussian-only closure should miss the skewed statistics"
    );
    // The mean is exact either way.
    assert_eq!(corrected.mean, gaussian.mean);
}
