//! The order-4 chaos rule's diagrams beyond degree 4 (issue #16 item 7, fifth session): the
//! width power-counting budget of Wu et al. (2026, eq. 14) keeps κ₄\[a,a,a,a\]Σ_ab, whose unit a
//! has chaos degree 5.

use faer::Mat;

use corrflow::net::Activation;
use corrflow::propagate::higher::chaos::UnitChaos;
use corrflow::propagate::higher::closure::{ChaosRule, Input};
use corrflow::propagate::higher::tensor::SymTensor;

/// E_G[g(δ) He₄(δ/s)] for δ ~ N(0, s²), by the trapezoid rule on z ∈ [−12, 12] (spectrally
/// accurate for a smooth g with Gaussian weight).
fn gauss_he4(g: impl Fn(f64) -> f64, s: f64) -> f64 {
    let (steps, range) = (24_000, 12.0);
    let h = 2.0 * range / steps as f64;
    (0..=steps)
        .map(|k| {
            let z = -range + k as f64 * h;
            let w = (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt();
            let he4 = z.powi(4) - 6.0 * z * z + 3.0;
            w * g(s * z) * he4 * h
        })
        .sum()
}

/// h = (h_a, h_b) with h_b − E h_b = ρ(h_a − μ) + an independent Gaussian, and h_a of excess
/// cumulant κ₄ = k only (a Gram–Charlier density, first order in k): the κ's of the pair are
/// κ₄\[a^{4−r} b^r\] = ρ^r k, and with φ_b linear the covariance increment is exactly
///
/// ```text
/// ΔC_ab = ρ k/24 · E_G[d⁴/dδ⁴ (φ(μ+δ) δ)] = ρ k (A₃ + 5 s² A₅),   A_j = E_G[φ⁽ʲ⁾]/j!
/// ```
///
/// (Stein: E_G[g⁽⁴⁾] = E_G[g He₄(δ/s)]/s⁴). The A₃ term is κ₄\[a,a,a,b\] at degrees (3, 1); the
/// 5 s² A₅ term is κ₄\[a,a,a,a\]Σ_ab at degrees (5, 1), cost 3: the order-4 rule must have it.
#[test]
fn order_four_covariance_increment_has_the_degree_five_term() {
    let (mu, s, rho, k): (f64, f64, f64, f64) = (0.3, 0.8, 0.6, 0.05);
    let c = rho * s * s;
    let cov = Mat::from_fn(2, 2, |i, j| match (i, j) {
        (0, 0) => s * s,
        (1, 1) => 1.0,
        _ => c,
    });
    let k3 = SymTensor::zeros(2, 3);
    let mut k4 = SymTensor::zeros(2, 4);
    for r in 0..=4 {
        let mut idx = [0usize; 4];
        idx[4 - r..].fill(1);
        // δ_b = ρ δ_a + g: κ₄ with r indices on b is ρ^r k (multilinearity).
        k4.set_sym(&idx, rho.powi(r as i32) * k);
    }
    let units = [
        UnitChaos::new(Activation::Tanh, mu, s),
        UnitChaos::new(Activation::Linear, 0.0, 1.0),
    ];
    let input = Input {
        cov: &cov,
        k3: &k3,
        k4: Some(&k4),
        units: &units,
    };
    let got = ChaosRule::new(4).increments(&input).cov[(0, 1)];
    let exact = rho * k / 24.0 * gauss_he4(|d| (mu + d).tanh() * d, s) / s.powi(4);
    let degree_four = rho * k * units[0].b[1][3];
    let tol = 1e-10 * exact.abs();
    assert!(
        (got - exact).abs() < tol,
        "ΔC_ab = {got:e}, exact {exact:e}"
    );
    // Without the degree-5 diagram the increment would miss by 5 s² A₅ ρ k.
    assert!(
        (degree_four - exact).abs() > 1e4 * tol,
        "the degree-5 term is too small to test: {degree_four:e} vs {exact:e}"
    );
}
