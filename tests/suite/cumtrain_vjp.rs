//! Closure and affine VJPs against central finite differences of the forward closures, per
//! closure family, at random (μ, Σ) with moderate correlations.

use corrflow::net::Activation;
use corrflow::propagate::backward::{affine_vjp, Adjoint};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::ClosurePair;
use corrflow::stats::Moments;
use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// A random N(μ, Σ) of dimension n: Σ = AAᵀ with A = D(I + 0.5 G)/‖row‖ (|ρ| mostly ≲ 0.7),
/// standard deviations in [0.4, 1.6], μᵢ/sᵢ in [−1.5, 1.5].
fn random_moments(seed: u64, n: usize) -> Moments {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut a = Mat::<f64>::from_fn(n, n, |i, k| {
        let g: f64 = rng.sample(StandardNormal);
        if i == k {
            1.0 + 0.5 * g
        } else {
            0.5 * g
        }
    });
    let mut mean = Col::<f64>::zeros(n);
    for i in 0..n {
        let norm = (0..n).map(|k| a[(i, k)] * a[(i, k)]).sum::<f64>().sqrt();
        let s = 0.4 + 1.2 * rng.random::<f64>();
        for k in 0..n {
            a[(i, k)] *= s / norm;
        }
        mean[i] = (3.0 * rng.random::<f64>() - 1.5) * s;
    }
    Moments::gaussian(mean, &a * a.transpose())
}

/// A random adjoint: ḡ ~ N(0, 1), symmetric Ḡ ~ N(0, 1).
fn random_adjoint(seed: u64, n: usize) -> Adjoint {
    let mut rng = StdRng::seed_from_u64(seed);
    let mean = Col::from_fn(n, |_| rng.sample::<f64, _>(StandardNormal));
    let mut cov = Mat::from_fn(n, n, |_, _| rng.sample::<f64, _>(StandardNormal));
    cov = Mat::from_fn(n, n, |i, j| 0.5 * (cov[(i, j)] + cov[(j, i)]));
    Adjoint { mean, cov }
}

/// L(μ, Σ) = ḡᵀm + Σᵢⱼ Ḡᵢⱼ Cᵢⱼ through the forward closure.
fn scalar_loss(act: Activation, method: ClosureMethod, input: &Moments, adj: &Adjoint) -> f64 {
    let out = ClosurePair::new(act, method)
        .map(|p| p.closure)
        .unwrap()
        .apply(input, Corrections::None)
        .unwrap();
    let n = input.dim();
    let mut l = 0.0;
    for i in 0..n {
        l += adj.mean[i] * out.mean[i];
        for j in 0..n {
            l += adj.cov[(i, j)] * out.cov[(i, j)];
        }
    }
    l
}

/// Checks every entry of the VJP of `act` against central differences (step 1e-5 relative to
/// the entry's scale); returns the worst relative error.
fn check_closure(act: Activation, method: ClosureMethod, seed: u64) -> f64 {
    let n = 5;
    let input = random_moments(seed, n);
    let adj = random_adjoint(seed + 100, n);
    let out = ClosurePair::new(act, method)
        .map(|p| p.closure)
        .unwrap()
        .apply(&input, Corrections::None)
        .unwrap();
    let got = ClosurePair::new(act, method)
        .unwrap()
        .vjp()
        .unwrap()
        .vjp(&input, &out, &adj)
        .unwrap();
    let scale = (0..n).map(|i| got.mean[i].abs()).fold(0.0, f64::max);
    let mut worst: f64 = 0.0;
    let mut compare = |fd: f64, g: f64, what: String| {
        let err = (fd - g).abs() / (g.abs() + 0.1 * scale);
        assert!(
            err < 1e-6,
            "{act} {what}: VJP {g} vs finite difference {fd}"
        );
        worst = worst.max(err);
    };
    for i in 0..n {
        let s = input.cov[(i, i)].sqrt();
        let h = 1e-5 * s;
        let (mut plus, mut minus) = (input.clone(), input.clone());
        plus.mean[i] += h;
        minus.mean[i] -= h;
        let fd = (scalar_loss(act, method, &plus, &adj) - scalar_loss(act, method, &minus, &adj))
            / (2.0 * h);
        compare(fd, got.mean[i], format!("∂L/∂μ[{i}]"));
        for j in 0..=i {
            let h = 1e-5 * s * input.cov[(j, j)].sqrt();
            let (mut plus, mut minus) = (input.clone(), input.clone());
            plus.cov[(i, j)] += h;
            minus.cov[(i, j)] -= h;
            if i != j {
                plus.cov[(j, i)] += h;
                minus.cov[(j, i)] -= h;
            }
            let fd = (scalar_loss(act, method, &plus, &adj)
                - scalar_loss(act, method, &minus, &adj))
                / (2.0 * h);
            // A tied off-diagonal move changes both Σᵢⱼ and Σⱼᵢ: 2·∂L/∂Σᵢⱼ.
            let g = if i == j {
                got.cov[(i, i)]
            } else {
                2.0 * got.cov[(i, j)]
            };
            compare(fd, g, format!("∂L/∂Σ[{i},{j}]"));
            assert_eq!(got.cov[(i, j)], got.cov[(j, i)], "adjoint not symmetric");
        }
    }
    worst
}

#[test]
fn closed_form_vjps_match_finite_differences() {
    for act in [
        Activation::Linear,
        Activation::Quadratic { alpha: 0.6 },
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.2 },
        Activation::LeakyRelu { slope: -0.4 },
        Activation::Erf,
    ] {
        let worst = (0..3)
            .map(|seed| check_closure(act, ClosureMethod::Auto, seed))
            .fold(0.0, f64::max);
        println!("{act}: worst relative error {worst:e}");
    }
}

#[test]
fn hermite_vjps_match_finite_differences() {
    for act in [
        Activation::Tanh,
        Activation::Sigmoid,
        Activation::Gelu,
        Activation::Silu,
        Activation::Softplus,
    ] {
        let worst = (0..2)
            .map(|seed| check_closure(act, ClosureMethod::Auto, 10 + seed))
            .fold(0.0, f64::max);
        println!("{act} (Hermite): worst relative error {worst:e}");
    }
    // The series VJP of erf agrees with its closed-form VJP.
    let input = random_moments(7, 5);
    let adj = random_adjoint(8, 5);
    let out = ClosurePair::new(Activation::Erf, ClosureMethod::Auto)
        .map(|p| p.closure)
        .unwrap()
        .apply(&input, Corrections::None)
        .unwrap();
    let exact = ClosurePair::new(Activation::Erf, ClosureMethod::Auto)
        .unwrap()
        .vjp()
        .unwrap()
        .vjp(&input, &out, &adj)
        .unwrap();
    let series = ClosurePair::new(Activation::Erf, ClosureMethod::Hermite)
        .unwrap()
        .vjp()
        .unwrap()
        .vjp(&input, &out, &adj)
        .unwrap();
    for i in 0..5 {
        assert!((exact.mean[i] - series.mean[i]).abs() < 1e-9 * (1.0 + exact.mean[i].abs()));
        for j in 0..5 {
            let (e, s) = (exact.cov[(i, j)], series.cov[(i, j)]);
            assert!(
                (e - s).abs() < 1e-9 * (1.0 + e.abs()),
                "[{i},{j}] {e} vs {s}"
            );
        }
    }
}

/// erf's closed-form VJP on wide units (μ × s, Σ × s², s up to 10¹²: data far from
/// standardised): every entry against central differences of the forward closure (which forms
/// 1 − r² from the Σ's), each within its own size plus the two sides' rounding. The VJP formed
/// dᵢdⱼ − 4Σᵢⱼ², Σⱼⱼ − 2Σᵢⱼ²/dᵢ and μⱼ − 2Σᵢⱼμᵢ/dᵢ, each of size 1 from terms of size Σ: from
/// Σ ≈ 10¹⁶ a unit's D with itself rounded to ≤ 0, P = ∞, and `train --objective cumulants
/// --activation erf` refused data ×10⁸ as "gradients of layer 1 exceed 1.3e154" (adv72). Fails
/// under those forms at s = 10⁴ already: ∂L/∂Σ[0,0] off by 5·10⁻⁶ of itself.
#[test]
fn erf_vjp_holds_on_wide_units() {
    let (act, method, n) = (Activation::Erf, ClosureMethod::Auto, 5);
    for (seed, s) in [(31, 1e4), (32, 1e8), (33, 1e12)] {
        let mut input = random_moments(seed, n);
        input.mean = Col::from_fn(n, |i| s * input.mean[i]);
        input.cov = Mat::from_fn(n, n, |i, j| s * s * input.cov[(i, j)]);
        let adj = random_adjoint(seed + 100, n);
        let pair = ClosurePair::new(act, method).unwrap();
        let out = pair.closure.apply(&input, Corrections::None).unwrap();
        let got = pair.vjp().unwrap().vjp(&input, &out, &adj).unwrap();
        // Σ|terms| of L = ḡᵀm + ΣḠC: the forward's rounding, ε·that over 2h, bounds the
        // difference quotient's noise.
        let l_abs: f64 = (0..n)
            .map(|i| {
                (adj.mean[i] * out.mean[i]).abs()
                    + (0..n)
                        .map(|j| (adj.cov[(i, j)] * out.cov[(i, j)]).abs())
                        .sum::<f64>()
            })
            .sum();
        let central = |h: f64, edit: &dyn Fn(&mut Moments, f64)| {
            let (mut plus, mut minus) = (input.clone(), input.clone());
            edit(&mut plus, h);
            edit(&mut minus, -h);
            let fd = (scalar_loss(act, method, &plus, &adj)
                - scalar_loss(act, method, &minus, &adj))
                / (2.0 * h);
            (fd, 64.0 * f64::EPSILON * l_abs / h)
        };
        for i in 0..n {
            let si = input.cov[(i, i)].sqrt();
            let (fd, noise) = central(1e-5 * si, &|m, h| m.mean[i] += h);
            let g = got.mean[i];
            assert!(
                g.is_finite() && (fd - g).abs() <= 1e-6 * g.abs() + noise,
                "s = {s:e}: ∂L/∂μ[{i}] {g:e} vs finite difference {fd:e}"
            );
            for j in 0..=i {
                let h = 1e-5 * si * input.cov[(j, j)].sqrt();
                let (fd, noise) = central(h, &|m, h| {
                    m.cov[(i, j)] += h;
                    if i != j {
                        m.cov[(j, i)] += h;
                    }
                });
                let g = if i == j {
                    got.cov[(i, i)]
                } else {
                    2.0 * got.cov[(i, j)]
                };
                // ∂L/∂Σᵢᵢ sums terms each ≤ 2/sᵢ times an adjoint entry (E[φ'] ≤ 2/(√π sᵢ),
                // Pᵢᵢ, Bᵢᵢ) to a value ~1/sᵢ³: their rounding.
                let sums = if i == j {
                    let a = adj.mean[i].abs()
                        + (0..n)
                            .map(|k| adj.cov[(i, k)].abs() * (1.0 + 2.0 * out.mean[k].abs()))
                            .sum::<f64>();
                    64.0 * f64::EPSILON * a * 2.0 / si
                } else {
                    0.0
                };
                assert!(
                    g.is_finite() && (fd - g).abs() <= 1e-6 * g.abs() + noise + sums,
                    "s = {s:e}: ∂L/∂Σ[{i},{j}] {g:e} vs finite difference {fd:e}"
                );
            }
        }
    }
}

#[test]
fn relu_vjp_handles_degenerate_and_deterministic_units() {
    // Unit 1 duplicates unit 0 (ρ = 1), unit 2 is deterministic (s = 0): finite everywhere.
    let a = Mat::from_fn(3, 2, |i, k| match (i, k) {
        (0, 0) | (1, 0) => 1.0,
        (0, 1) | (1, 1) => 0.3,
        _ => 0.0,
    });
    let input = Moments::gaussian(
        Col::from_fn(3, |i| 0.2 - 0.3 * i as f64),
        &a * a.transpose(),
    );
    let adj = random_adjoint(3, 3);
    let out = ClosurePair::new(Activation::Relu, ClosureMethod::Auto)
        .map(|p| p.closure)
        .unwrap()
        .apply(&input, Corrections::None)
        .unwrap();
    let got = ClosurePair::new(Activation::Relu, ClosureMethod::Auto)
        .unwrap()
        .vjp()
        .unwrap()
        .vjp(&input, &out, &adj)
        .unwrap();
    for i in 0..3 {
        assert!(got.mean[i].is_finite());
        for j in 0..3 {
            assert!(got.cov[(i, j)].is_finite(), "[{i},{j}]");
        }
    }
    // The deterministic unit below its kink contributes nothing to its mean's gradient.
    assert_eq!(got.mean[2], 0.0);
}

#[test]
fn affine_vjp_matches_finite_differences() {
    let (n_in, n_out) = (4, 3);
    let input = random_moments(21, n_in);
    let adj = random_adjoint(22, n_out);
    let mut rng = StdRng::seed_from_u64(23);
    let w = Mat::from_fn(n_out, n_in, |_, _| rng.sample::<f64, _>(StandardNormal));
    let b = Col::from_fn(n_out, |_| rng.sample::<f64, _>(StandardNormal));
    // L = ḡᵀ(Wμ + b) + Σᵢⱼ Ḡᵢⱼ (WΣWᵀ)ᵢⱼ.
    let loss = |w: &Mat<f64>, b: &Col<f64>, x: &Moments| {
        let mu = w * &x.mean + b;
        let sig = w * &x.cov * w.transpose();
        let mut l = 0.0;
        for i in 0..n_out {
            l += adj.mean[i] * mu[i];
            for j in 0..n_out {
                l += adj.cov[(i, j)] * sig[(i, j)];
            }
        }
        l
    };
    let mut grad = corrflow::net::Layer {
        w: Mat::zeros(n_out, n_in),
        b: Col::zeros(n_out),
    };
    let below = affine_vjp(w.as_ref(), &input, &adj, &mut grad, true)
        .unwrap()
        .unwrap();
    let h = 1e-6;
    let close = |fd: f64, g: f64, what: &str| {
        assert!(
            (fd - g).abs() < 1e-7 * (1.0 + g.abs()),
            "{what}: {g} vs {fd}"
        );
    };
    for i in 0..n_out {
        for j in 0..n_in {
            let (mut wp, mut wm) = (w.clone(), w.clone());
            wp[(i, j)] += h;
            wm[(i, j)] -= h;
            let fd = (loss(&wp, &b, &input) - loss(&wm, &b, &input)) / (2.0 * h);
            close(fd, grad.w[(i, j)], "∂W");
        }
        let (mut bp, mut bm) = (b.clone(), b.clone());
        bp[i] += h;
        bm[i] -= h;
        close(
            (loss(&w, &bp, &input) - loss(&w, &bm, &input)) / (2.0 * h),
            grad.b[i],
            "∂b",
        );
    }
    for i in 0..n_in {
        let (mut p, mut m) = (input.clone(), input.clone());
        p.mean[i] += h;
        m.mean[i] -= h;
        close(
            (loss(&w, &b, &p) - loss(&w, &b, &m)) / (2.0 * h),
            below.mean[i],
            "∂μ",
        );
        for j in 0..n_in {
            let (mut p, mut m) = (input.clone(), input.clone());
            p.cov[(i, j)] += h;
            m.cov[(i, j)] -= h;
            close(
                (loss(&w, &b, &p) - loss(&w, &b, &m)) / (2.0 * h),
                below.cov[(i, j)],
                "∂Σ",
            );
        }
    }
}
