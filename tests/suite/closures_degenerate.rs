//! Degenerate and extreme inputs to the closures and the engine (issue #13, classes 3 and 4):
//! near-deterministic relu units take their limits (bounded cost, against Monte Carlo), a
//! rounding-level negative variance is zero, huge weights give an error naming the stage, and
//! the ridge advice never contradicts itself.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::{
    Closure, ClosureMethod, Corrections, ErfClosure, HermiteClosure, ReluClosure,
};
use corrflow::propagate::{propagate, PropagateOptions};
use corrflow::stats::gaussian::{bhattacharyya, pairwise_bhattacharyya};
use corrflow::stats::Moments;

/// h = μ + Bz, z ~ N(0, I₃): Σ = BBᵀ. Units: 0 regular, 1 near-deterministic below its kink
/// (the centred constant pixel: μ = −2.5·10⁻⁴, s = 7·10⁻²⁷, a ≈ −3.5·10²²), 2
/// near-deterministic above (μ = 0.3, s = 10⁻¹², a = 3·10¹¹), 3 regular and correlated with 2,
/// 4 exactly deterministic (s = 0).
fn degenerate_units() -> (Col<f64>, Mat<f64>) {
    let mu = Col::from_fn(5, |i| [0.2, -2.5e-4, 0.3, -0.1, 0.5][i]);
    let b = Mat::from_fn(5, 3, |i, k| {
        [
            [0.8, 0.3, 0.0],
            [5e-27, -4e-27, 3e-27],
            [6e-13, 8e-13, 0.0],
            [0.4, 0.9, 0.2],
            [0.0, 0.0, 0.0],
        ][i][k]
    });
    (mu, b)
}

/// The relu closure on near-deterministic units ends (before: ⌈1 + a²/32⌉ ≈ 4·10⁴³ panels) and
/// agrees with Monte Carlo: means within 5 standard errors of the sample mean (plus the sum's
/// rounding, n·ε·|mean|), covariances
/// within 5 standard errors of the sample covariance (from the sample variance of the centred
/// products), deterministic units exactly (relu(h) = h or 0 on every draw).
#[test]
fn relu_takes_the_deterministic_limits() {
    let (mu, b) = degenerate_units();
    let cov = &b * b.transpose();
    let out = ReluClosure
        .apply(
            &Moments::gaussian(mu.clone(), cov.clone()),
            Corrections::None,
        )
        .unwrap();
    let n = 400_000;
    let mut rng = StdRng::seed_from_u64(13);
    let draws: Vec<[f64; 5]> = (0..n)
        .map(|_| {
            let z: [f64; 3] = std::array::from_fn(|_| rng.sample(StandardNormal));
            std::array::from_fn(|i| {
                (mu[i] + (0..3).map(|k| b[(i, k)] * z[k]).sum::<f64>()).max(0.0)
            })
        })
        .collect();
    let nf = n as f64;
    // Sums shifted by the first draw, so that their rounding scales with the spread, not with
    // |mean| (a plain sum of 0.3 + 10⁻¹²z is biased by ~n·ε·0.3, far beyond the spread).
    let mean: [f64; 5] = std::array::from_fn(|i| {
        let k = draws[0][i];
        k + draws.iter().map(|d| d[i] - k).sum::<f64>() / nf
    });
    for i in 0..5 {
        let var = draws.iter().map(|d| (d[i] - mean[i]).powi(2)).sum::<f64>() / nf;
        // 5 standard errors plus the rounding bound n·ε·|mean| of the plain sum.
        let tol = 5.0 * (var / nf).sqrt() + nf * f64::EPSILON * mean[i].abs();
        assert!(
            (out.mean[i] - mean[i]).abs() <= tol,
            "mean {i}: {} vs Monte Carlo {} ± {tol:e}",
            out.mean[i],
            mean[i]
        );
        for j in 0..=i {
            let p: Vec<f64> = draws
                .iter()
                .map(|d| (d[i] - mean[i]) * (d[j] - mean[j]))
                .collect();
            let c = p.iter().sum::<f64>() / nf;
            let sd = (p.iter().map(|x| (x - c).powi(2)).sum::<f64>() / nf / nf).sqrt();
            let got = out.cov[(i, j)];
            assert!(got.is_finite());
            assert!(
                (got - c).abs() <= 5.0 * sd + 1e-12 * c.abs(),
                "C[{i},{j}] = {got:e} vs Monte Carlo {c:e} ± {:e}",
                5.0 * sd
            );
        }
    }
    // The limits themselves: unit 1 is off, unit 2 is h₂ itself.
    assert_eq!(out.mean[1], 0.0);
    assert!((0..5).all(|j| out.cov[(1, j)] == 0.0));
    assert_eq!(out.mean[2], 0.3);
    assert!((out.cov[(2, 2)] - cov[(2, 2)]).abs() <= 4.0 * f64::EPSILON * cov[(2, 2)]);
}

/// A constant unit whose variance rounded to −5·10⁻⁵⁴ (the whole covariance that small, so the
/// old floor −64ε·max|Σᵢᵢ| rejected it) is deterministic, not "negative variance"; a negative
/// variance beyond rounding is still an error that says so.
#[test]
fn rounding_level_negative_variance_is_zero() {
    let input = Moments::gaussian(
        Col::from_fn(1, |_| 2.5e-4),
        Mat::from_fn(1, 1, |_, _| -5e-54),
    );
    let out = ReluClosure.apply(&input, Corrections::None).unwrap();
    assert_eq!((out.mean[0], out.cov[(0, 0)]), (2.5e-4, 0.0));
    let tanh = HermiteClosure::new(Activation::Tanh).unwrap();
    let out = tanh.apply(&input, Corrections::None).unwrap();
    assert_eq!((out.mean[0], out.cov[(0, 0)]), (2.5e-4f64.tanh(), 0.0));
    let bad = Moments::gaussian(
        Col::from_fn(1, |_| 2.5e-4),
        Mat::from_fn(1, 1, |_, _| -1e-9),
    );
    let err = ReluClosure.apply(&bad, Corrections::None).unwrap_err();
    assert!(err.to_string().contains("negative variance"), "{err}");
}

/// A relu network whose weights are ×10¹⁰⁰ overflows: the engine stops at the stage where the
/// first non-finite value appears and names it (stage, layer, class, producing map) instead of
/// passing ∞/NaN on.
#[test]
fn non_finite_stage_is_an_error_naming_the_layer() {
    let mut net = Mlp::init(&[3, 4, 4, 2], Activation::Relu, 1.0, 5).unwrap();
    for layer in &mut net.layers {
        for j in 0..layer.w.ncols() {
            for i in 0..layer.w.nrows() {
                layer.w[(i, j)] *= 1e100;
            }
        }
    }
    let start = vec![Moments::gaussian(
        Col::from_fn(3, |i| 1.0 + i as f64),
        Mat::from_fn(3, 3, |i, j| if i == j { 1.0 } else { 0.2 }),
    )];
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let err = propagate(&net, 0, &start, None, opts).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("stage h2 (layer 2), class 0") && msg.contains("affine map"),
        "{msg}"
    );
}

/// With a ridge > 0 and covariances that are exactly 0 (a constant class), the error says the
/// group is degenerate and never advises to "pass a ridge > 0"; with ridge 0 it does.
#[test]
fn ridge_advice_does_not_contradict_itself() {
    let mean = Col::from_fn(2, |i| i as f64);
    let zero = Mat::<f64>::zeros(2, 2);
    let classes = [
        (mean.as_ref(), zero.as_ref()),
        (mean.as_ref(), zero.as_ref()),
    ];
    for msg in [
        pairwise_bhattacharyya(&classes, 1e-6)
            .unwrap_err()
            .to_string(),
        bhattacharyya(
            mean.as_ref(),
            zero.as_ref(),
            mean.as_ref(),
            zero.as_ref(),
            1e-6,
        )
        .unwrap_err()
        .to_string(),
    ] {
        assert!(
            !msg.contains("pass a ridge") && msg.contains("degenerate"),
            "{msg}"
        );
    }
    let msg = pairwise_bhattacharyya(&classes, 0.0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("pass a ridge > 0"), "{msg}");
}

/// erf has an exact closure at every scale, so the series closure (Hermite coefficients by the
/// windowed rule, pairs it cannot bound by the windowed 2-D quadrature) is checked against it
/// from s = 10⁻¹² to 10⁶: means and covariances to 10⁻⁹ of the output's scale. Before the
/// windowed rules, s = 10⁶ needed ~10⁹ nodes per unit (memory in GB).
#[test]
fn series_closure_matches_erf_at_every_scale() {
    let series = HermiteClosure::new(Activation::Erf).unwrap();
    for s in [1e-12, 1e-6, 1e-2, 1.0, 10.0, 1e2, 1e4, 1e6] {
        // Three units of std s, correlations 0.3, 0.95 and 0.6, means ±s/2 and 0.1 s.
        let corr = [[1.0, 0.3, 0.6], [0.3, 1.0, 0.95], [0.6, 0.95, 1.0]];
        let cov = Mat::from_fn(3, 3, |i, j| corr[i][j] * s * s);
        let mean = Col::from_fn(3, |i| [0.5, -0.5, 0.1][i] * s);
        let input = Moments::gaussian(mean, cov);
        let exact = ErfClosure.apply(&input, Corrections::None).unwrap();
        let got = series.apply(&input, Corrections::None).unwrap();
        let scale = exact.cov[(0, 0)].max(exact.mean[0].abs()).max(1e-300);
        for i in 0..3 {
            assert!(
                (got.mean[i] - exact.mean[i]).abs() <= 1e-9 * scale.max(exact.mean[i].abs()),
                "s = {s:e}: m[{i}] {} vs {}",
                got.mean[i],
                exact.mean[i]
            );
            for j in 0..3 {
                let tol = 1e-9 * (exact.cov[(i, i)] * exact.cov[(j, j)]).sqrt();
                assert!(
                    (got.cov[(i, j)] - exact.cov[(i, j)]).abs() <= tol,
                    "s = {s:e}: C[{i},{j}] {:e} vs {:e}",
                    got.cov[(i, j)],
                    exact.cov[(i, j)]
                );
            }
        }
    }
}

/// The reference pair quadrature at large scales (windowed rules) against erf's exact closure,
/// including ρ = 1 (a point evaluation inside): to 10⁻¹² of √(CᵢᵢCⱼⱼ).
#[test]
fn pair_quadrature_matches_erf_at_large_scales() {
    use corrflow::propagate::closures::quadrature::{moments_1d, pair_cov, Unit};
    for s in [10.0, 1e3, 1e6] {
        for rho in [0.5, 0.99, 1.0] {
            let (mu, sj) = ([0.4 * s, -1.5 * s], [s, 2.0 * s]);
            let cov = Mat::from_fn(2, 2, |i, j| {
                if i == j {
                    [s * s, sj[1] * sj[1]][i]
                } else {
                    rho * s * sj[1]
                }
            });
            let exact = ErfClosure
                .apply(
                    &Moments::gaussian(Col::from_fn(2, |i| mu[i]), cov),
                    Corrections::None,
                )
                .unwrap();
            let unit = |k: usize| Unit {
                mu: mu[k],
                s: sj[k],
                m: moments_1d(Activation::Erf, mu[k], sj[k]).0,
            };
            let got = pair_cov(Activation::Erf, unit(0), unit(1), rho);
            let tol = 1e-12 * (exact.cov[(0, 0)] * exact.cov[(1, 1)]).sqrt();
            assert!(
                (got - exact.cov[(0, 1)]).abs() <= tol,
                "s = {s:e} ρ = {rho}: {got:e} vs {:e}",
                exact.cov[(0, 1)]
            );
        }
    }
}
