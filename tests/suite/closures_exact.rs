//! Closed-form closures (linear, quadratic, relu, leaky relu, erf) against 2-D quadrature, Monte
//! Carlo with sample-estimated standard errors, and independent Price-theorem integrals.

use crate::common::closures::*;
use corrflow::net::Activation;
use corrflow::propagate::closures::erf::erf_cov_price;
use corrflow::propagate::closures::relu::relu_cross;
use corrflow::propagate::closures::rules::gauss_legendre;
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;
use corrflow::Error;
use faer::{Col, Mat};

const RATIOS: [f64; 6] = [0.3, -6.0, 6.0, -1.5, 2.0, 0.0];

fn auto(act: Activation) -> Box<dyn corrflow::propagate::closures::Closure> {
    ClosurePair::new(act, ClosureMethod::Auto)
        .map(|p| p.closure)
        .unwrap()
}

/// The leaky relu's covariance is (1 − a)²C⁺ plus exact terms in Σ, so it inherits the relu
/// closure's error scaled by (1 − a)²: in units of √(CᵢᵢCⱼⱼ) that is at most
/// k = maxᵢ (1 − a)² C⁺ᵢᵢ/Cᵢᵢ times the relu's (k > 1 only for negative slopes, where the
/// leaky relu's variance can fall below the scaled relu's). 1 for every other φ.
fn leaky_amplification(act: Activation, input: &Moments, reference: &Moments) -> f64 {
    let Activation::LeakyRelu { slope } = act else {
        return 1.0;
    };
    let relu = quadrature(Activation::Relu, input);
    (0..input.dim())
        .map(|i| (1.0 - slope).powi(2) * relu.cov[(i, i)] / reference.cov[(i, i)])
        .fold(1.0, f64::max)
}

#[test]
fn closed_forms_match_quadrature() {
    let acts = [
        Activation::Linear,
        Activation::Quadratic { alpha: 0.7 },
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::LeakyRelu { slope: -0.6 },
        Activation::Erf,
    ];
    for act in acts {
        let mut worst: f64 = 0.0;
        for seed in 0..3 {
            let (input, _) = random_case(seed, 6, (0.2, 2.0), &RATIOS);
            let got = apply(auto(act).as_ref(), &input);
            let reference = quadrature(act, &input);
            worst = worst.max(assert_close(
                &got,
                &reference,
                1e-10 * leaky_amplification(act, &input, &reference),
                1e-14,
                &format!("{act}"),
            ));
        }
        println!("{act}: max error vs quadrature (units of √(CᵢᵢCⱼⱼ)) = {worst:e}");
    }
}

#[test]
fn closed_forms_match_monte_carlo() {
    for (k, act) in [
        Activation::Linear,
        Activation::Quadratic { alpha: 0.5 },
        Activation::Relu,
        Activation::Erf,
        Activation::LeakyRelu { slope: 0.3 },
    ]
    .into_iter()
    .enumerate()
    {
        let (input, a) = random_case(10 + k as u64, 5, (0.3, 1.5), &[0.3, -2.0, 1.0, 6.0, -0.5]);
        let got = apply(auto(act).as_ref(), &input);
        let mc = monte_carlo(1_000_000, 99 + k as u64, 5, gaussian_draw(&input, &a, act));
        let worst = assert_mc(&got, &mc, 5.0, &format!("{act}"));
        println!("{act}: worst |Δ|/SE vs Monte Carlo = {worst:.2}");
    }
}

/// Detects a wrong closure: a covariance 2 % too large must fail the MC check.
#[test]
fn monte_carlo_check_can_fail() {
    let act = Activation::Relu;
    let (input, a) = random_case(10, 5, (0.3, 1.5), &[0.3, -2.0, 1.0, 6.0, -0.5]);
    let mut got = apply(auto(act).as_ref(), &input);
    let mc = monte_carlo(1_000_000, 7, 5, gaussian_draw(&input, &a, act));
    got.cov = &got.cov * faer::Scale(1.02);
    let r = std::panic::catch_unwind(|| assert_mc(&got, &mc, 5.0, "bumped"));
    assert!(r.is_err());
}

#[test]
fn relu_matches_price_integral() {
    // Price: Cᵢⱼ = sᵢsⱼ ∫₀^ρ Φ₂(aᵢ, aⱼ; r) dr, an integrand without cancellation; with
    // r = sin θ to remove the √(1 − r²) singularity of ∂Φ₂/∂r at |r| → 1.
    let (x, w) = gauss_legendre(40);
    for &(a, b) in &[
        (0.0, 0.0),
        (1.3, -0.4),
        (-3.0, -2.5),
        (5.0, 6.0),
        (-6.0, 2.0),
    ] {
        for &rho in &[-0.999f64, -0.6, 0.2, 0.9, 0.995] {
            let price: f64 = x
                .iter()
                .zip(&w)
                .map(|(x, w)| {
                    let t = 0.5 * rho.asin() * (1.0 + x);
                    w * t.cos() * corrflow::special::bvn_cdf(a, b, t.sin())
                })
                .sum::<f64>()
                * 0.5
                * rho.asin();
            let (ma, va) = corrflow::propagate::closures::relu::relu_moments(a, 1.0);
            let (mb, vb) = corrflow::propagate::closures::relu::relu_moments(b, 1.0);
            let closed = relu_cross(a, b, rho) - ma * mb;
            let scale = (va * vb).sqrt();
            assert!(
                (closed - price).abs() <= 1e-11 * scale + 1e-15,
                "relu a={a} b={b} ρ={rho}: {closed:e} vs Price {price:e}"
            );
        }
    }
}

#[test]
fn erf_matches_price_integral() {
    let mut worst: f64 = 0.0;
    for seed in 0..3 {
        let (input, _) = random_case(seed + 20, 6, (0.2, 2.0), &RATIOS);
        let got = apply(auto(Activation::Erf).as_ref(), &input);
        for i in 0..6 {
            for j in 0..6 {
                let price = erf_cov_price(
                    [input.mean[i], input.mean[j]],
                    [input.cov[(i, i)], input.cov[(j, j)]],
                    input.cov[(i, j)],
                    64,
                );
                let scale = (got.cov[(i, i)] * got.cov[(j, j)]).sqrt();
                let err = (got.cov[(i, j)] - price).abs() / scale;
                assert!(
                    err < 1e-11,
                    "erf C[{i},{j}] {:e} vs Price {price:e}",
                    got.cov[(i, j)]
                );
                worst = worst.max(err);
            }
        }
    }
    println!("erf vs Price integral: max error / √(CᵢᵢCⱼⱼ) = {worst:e}");
}

#[test]
fn erf_covariance_keeps_digits_at_large_means() {
    // μ = 9: Var erf(h) ~ 1e-30; the naive 4Φ₂ − 2Φ − 2Φ + 1 − mᵢmⱼ would return 0 or noise.
    // Second case: r ≈ 0.976 (the |r| ≥ 0.925 branch) with uₖ ≈ 8.
    for (mu, cov) in [
        ([9.0, -8.5], [[0.3, -0.2], [-0.2, 0.25]]),
        ([36.0, 35.0], [[20.0, 19.9], [19.9, 20.0]]),
    ] {
        check_large_means(mu, cov);
    }
}

fn check_large_means(mu: [f64; 2], cov: [[f64; 2]; 2]) {
    let input = Moments::gaussian(
        Col::from_fn(2, |i| mu[i]),
        Mat::from_fn(2, 2, |i, j| cov[i][j]),
    );
    let got = apply(auto(Activation::Erf).as_ref(), &input);
    for (i, j) in [(0, 0), (1, 1), (0, 1)] {
        let price = erf_cov_price(
            [input.mean[i], input.mean[j]],
            [input.cov[(i, i)], input.cov[(j, j)]],
            input.cov[(i, j)],
            400,
        );
        assert!(price.abs() > 0.0);
        let rel = (got.cov[(i, j)] - price).abs() / price.abs();
        assert!(
            rel < 1e-9,
            "C[{i},{j}] = {:e}, Price {price:e}",
            got.cov[(i, j)]
        );
    }
}

#[test]
fn degenerate_inputs_are_finite() {
    // s = 0 units, ρ = ±1 exactly, huge means.
    let mean = Col::from_fn(5, |i| [0.5, -0.3, 1e3, -2.0, 0.7][i]);
    let a = [1.0, 1.0, 1.0, 0.0, -1.0];
    let cov = Mat::from_fn(5, 5, |i, j| 0.8 * a[i] * a[j]);
    let input = Moments::gaussian(mean, cov);
    for act in [
        Activation::Linear,
        Activation::Quadratic { alpha: 0.3 },
        Activation::Relu,
        Activation::Erf,
    ] {
        let got = apply(auto(act).as_ref(), &input);
        let reference = quadrature(act, &input);
        assert_close(&got, &reference, 1e-9, 1e-12, &format!("degenerate {act}"));
        for j in 0..5 {
            assert_eq!(
                got.cov[(3, j)],
                0.0,
                "{act}: deterministic unit has a zero row"
            );
        }
    }
    let relu = apply(auto(Activation::Relu).as_ref(), &input);
    assert_eq!(relu.mean[3], 0.0);
}

#[test]
/// Corrections without the measured κ slices are an error naming the closure.
fn corrections_are_refused_or_required() {
    let (input, _) = random_case(1, 4, (0.5, 1.0), &RATIOS);
    for act in [Activation::Relu, Activation::Erf] {
        let e = auto(act).apply(&input, Corrections::K3K4).unwrap_err();
        assert!(
            matches!(e, Error::Unsupported(ref m) if m.contains(&act.to_string())),
            "{e}"
        );
    }
    let e = auto(Activation::Quadratic { alpha: 1.0 })
        .apply(&input, Corrections::K3K4)
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)));
    // Linear is exact for any input: corrections change nothing.
    let lin = auto(Activation::Linear)
        .apply(&input, Corrections::K3K4)
        .unwrap();
    assert_eq!(lin.cov, input.cov);
}
