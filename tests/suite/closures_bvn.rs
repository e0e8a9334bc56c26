//! Φ₂ against exact values, identities and an independent Plackett-integral reference.

use corrflow::propagate::closures::rules::gauss_legendre;
use corrflow::special::{bvn_cdf, bvn_cov, normal_cdf as cdf};
use std::f64::consts::PI;

/// Reference: Φ₂(a,b;ρ) − Φ(a)Φ(b) = ∫₀^ρ φ₂(a,b;r) dr (Plackett), with r = sin θ:
/// (1/2π)∫₀^{asin ρ} exp((ab sin θ − (a²+b²)/2)/cos²θ) dθ by 64 panels of 20-point
/// Gauss–Legendre (nodes computed by Newton, independent of BVND's tables). The exponent is
/// evaluated as −(a−b)²/(2cos²θ) − ab/(1+sin θ), free of the cancellation at θ → π/2.
fn reference_cov(a: f64, b: f64, rho: f64) -> f64 {
    let (x, w) = gauss_legendre(20);
    let top = rho.clamp(-1.0, 1.0).asin();
    let panels = 64;
    let h = top / panels as f64;
    let mut sum = 0.0;
    for p in 0..panels {
        let mid = (p as f64 + 0.5) * h;
        for (xi, wi) in x.iter().zip(&w) {
            let t = mid + 0.5 * h * xi;
            let c2 = t.cos() * t.cos();
            let e = -(a - b) * (a - b) / (2.0 * c2) - a * b / (1.0 + t.sin());
            sum += 0.5 * h * wi * e.exp();
        }
    }
    sum / (2.0 * PI)
}

fn grid() -> Vec<(f64, f64, f64)> {
    let xs = [-9.0, -5.5, -3.0, -1.2, -0.3, 0.0, 0.4, 1.7, 3.3, 6.0, 8.5];
    let rs = [
        -1.0,
        -(1.0 - 1e-12),
        -0.9999,
        -0.99,
        -0.95,
        -0.925,
        -0.9,
        -0.7,
        -0.5,
        -0.2,
        0.0,
        0.1,
        0.3,
        0.6,
        0.8,
        0.92,
        0.925,
        0.97,
        0.999,
        1.0 - 1e-9,
        1.0 - 1e-12,
        1.0,
    ];
    let mut v = Vec::new();
    for &a in &xs {
        for &b in &xs {
            for &r in &rs {
                v.push((a, b, r));
            }
        }
    }
    v
}

#[test]
fn matches_plackett_reference() {
    let mut worst: f64 = 0.0;
    let mut worst_cov_rel: f64 = 0.0;
    for (a, b, r) in grid() {
        let reference = cdf(a) * cdf(b) + reference_cov(a, b, r);
        let got = bvn_cdf(a, b, r);
        let err = (got - reference).abs();
        worst = worst.max(err);
        assert!(
            err < 1e-14,
            "Φ₂({a},{b};{r}) = {got:e}, reference {reference:e}"
        );
        // The covariance form, relative to its own size where that is not tiny.
        let c = bvn_cov(a, b, r);
        let rc = reference_cov(a, b, r);
        let rel = (c - rc).abs() / (rc.abs() + 1e-300);
        assert!(
            (c - rc).abs() < 1e-15 || rel < 1e-10,
            "cov({a},{b};{r}) = {c:e}, reference {rc:e}"
        );
        if rc.abs() > 1e-12 {
            worst_cov_rel = worst_cov_rel.max(rel);
        }
    }
    println!("max |Φ₂ − reference| = {worst:e}; max rel. error of Φ₂ − ΦΦ where > 1e-12: {worst_cov_rel:e}");
}

#[test]
fn exact_values_and_identities() {
    for &r in &[-1.0, -0.999, -0.5, 0.0, 0.3, 0.93, 0.99999, 1.0] {
        let exact = 0.25 + f64::asin(r) / (2.0 * PI);
        assert!(
            (bvn_cdf(0.0, 0.0, r) - exact).abs() < 1e-15,
            "orthant ρ={r}"
        );
    }
    for &a in &[-7.0, -2.0, -0.5, 0.0, 1.0, 2.5, 8.0] {
        for &b in &[-6.0, -1.0, 0.0, 0.7, 3.0] {
            assert!((bvn_cdf(a, b, 0.0) - cdf(a) * cdf(b)).abs() < 1e-16);
            assert!((bvn_cdf(a, b, 1.0) - cdf(a.min(b))).abs() < 1e-16);
            let lim = (cdf(a) - cdf(-b)).max(0.0);
            assert!(
                (bvn_cdf(a, b, -1.0) - lim).abs() < 4e-16,
                "{a} {b}: {} {lim}",
                bvn_cdf(a, b, -1.0)
            );
            for &r in &[-0.999999, -0.95, -0.4, 0.2, 0.8, 0.93, 0.9999] {
                assert_eq!(bvn_cdf(a, b, r), bvn_cdf(b, a, r), "symmetry");
                let sum = bvn_cdf(a, b, r) + bvn_cdf(a, -b, -r);
                assert!(
                    (sum - cdf(a)).abs() < 2e-15,
                    "Φ₂(a,b;ρ)+Φ₂(a,−b;−ρ) = Φ(a): {sum} {a} {b} {r}"
                );
            }
        }
    }
    assert_eq!(bvn_cdf(f64::NEG_INFINITY, 0.3, 0.5), 0.0);
    assert_eq!(bvn_cdf(f64::INFINITY, 0.3, 0.5), cdf(0.3));
    assert!(bvn_cdf(1e300, -1e300, 0.5).is_finite());
}
