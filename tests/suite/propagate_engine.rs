//! The propagation engine against measured statistics (issue checks of DESIGN.md §8):
//! linear networks exact at every depth, quadratic layer 1 exact on Gaussian input, κ₃/κ₄
//! corrections exact on skewed input where the Gaussian closure is not.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::{Exp1, StandardNormal};

use corrflow::data::Dataset;
use corrflow::measure::{layer_stats, Higher};
use corrflow::net::Stage;
use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{propagate, PropagateOptions, Propagator};
use corrflow::stats::gaussian::{relative_frobenius, GaussianSampler};
use corrflow::stats::Moments;
use corrflow::timing::Timings;

const GAUSSIAN: PropagateOptions = PropagateOptions {
    method: ClosureMethod::Auto,
    corrections: Corrections::None,
};

/// Two Gaussian classes in d dimensions with different means and covariances, n per class.
fn gaussian_classes(d: usize, n: usize, seed: u64) -> (Dataset, Vec<Moments>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut truth = Vec::new();
    let mut x = Mat::zeros(d, 2 * n);
    let mut labels = Vec::new();
    for c in 0..2 {
        let a = Mat::from_fn(d, d, |_, _| {
            rng.sample::<f64, _>(StandardNormal) / (d as f64).sqrt()
        });
        let cov = &a * a.transpose() + Mat::<f64>::identity(d, d) * 0.2;
        let mean = Col::from_fn(d, |i| (c as f64 - 0.5) * (i as f64 * 0.3).cos());
        let draws = GaussianSampler::new(mean.as_ref(), cov.as_ref())
            .unwrap()
            .sample(n, &mut rng);
        x.as_mut().subcols_mut(c * n, n).copy_from(draws.as_ref());
        labels.extend(std::iter::repeat_n(c as u32, n));
        truth.push(Moments::gaussian(mean, cov));
    }
    (
        Dataset {
            x,
            labels,
            n_classes: 2,
        },
        truth,
    )
}

fn random_net(widths: &[usize], act: Activation, seed: u64) -> Mlp {
    let mut net = Mlp::init(widths, act, 1.0, seed).unwrap();
    let mut rng = StdRng::seed_from_u64(seed + 100);
    for layer in &mut net.layers {
        for i in 0..layer.b.nrows() {
            layer.b[i] = 0.3 * rng.sample::<f64, _>(StandardNormal);
        }
    }
    net
}

#[test]
fn linear_network_propagation_equals_measurement_at_every_depth() {
    let (data, truth) = gaussian_classes(6, 50_000, 1);
    let net = random_net(&[6, 9, 7, 5, 2], Activation::Linear, 2);
    let stats = layer_stats(&net, &data, Higher::None, 4096).unwrap();
    // From the measured input statistics: exact up to rounding at every stage (the affine map is
    // exact for the empirical measure too).
    let from_data = propagate(
        &net,
        0,
        &stats.get(Stage::Input).unwrap().per_class,
        None,
        GAUSSIAN,
    )
    .unwrap();
    assert_eq!(from_data.len(), 2 * 3 + 1);
    for p in &from_data {
        let emp = stats.get(p.stage).unwrap();
        for (prop, meas) in p.f64_moments().unwrap().iter().zip(&emp.per_class) {
            let err = relative_frobenius(prop.cov.as_ref(), meas.cov.as_ref()).unwrap();
            assert!(err < 1e-12, "{}: {err}", p.stage);
            let dm = (&prop.mean - &meas.mean).norm_l2();
            assert!(
                dm < 1e-11 * (1.0 + meas.mean.norm_l2()),
                "{}: {dm}",
                p.stage
            );
        }
    }
    // From the true input parameters: equal to the measurement within sampling error. For a
    // Gaussian, Var(Σ̂ᵢⱼ) = (ΣᵢᵢΣⱼⱼ + Σᵢⱼ²)/n and Var(μ̂ᵢ) = Σᵢᵢ/n; allow 5 standard errors.
    let from_truth = propagate(&net, 0, &truth, None, GAUSSIAN).unwrap();
    let n = 50_000.0;
    for p in &from_truth {
        let emp = stats.get(p.stage).unwrap();
        for (prop, meas) in p.f64_moments().unwrap().iter().zip(&emp.per_class) {
            let s = &prop.cov;
            for i in 0..s.nrows() {
                let se_mean = (s[(i, i)] / n).sqrt();
                assert!(
                    (prop.mean[i] - meas.mean[i]).abs() < 5.0 * se_mean,
                    "{} mean {i}",
                    p.stage
                );
                for j in 0..=i {
                    let se = ((s[(i, i)] * s[(j, j)] + s[(i, j)] * s[(i, j)]) / n).sqrt();
                    assert!(
                        (s[(i, j)] - meas.cov[(i, j)]).abs() < 5.0 * se,
                        "{} cov {i},{j}",
                        p.stage
                    );
                }
            }
        }
    }
}

#[test]
fn quadratic_layer_one_is_exact_on_gaussian_input() {
    let n = 400_000;
    let (data, truth) = gaussian_classes(4, n, 3);
    let net = random_net(&[4, 5, 2], Activation::Quadratic { alpha: 0.4 }, 4);
    let predicted = propagate(&net, 0, &truth, None, GAUSSIAN).unwrap();
    let z1 = predicted
        .iter()
        .find(|p| p.stage == Stage::Post(1))
        .unwrap();
    // Measured moments of z¹ and the standard error of each entry, from the samples themselves.
    for (c, prop) in z1.f64_moments().unwrap().iter().enumerate() {
        let cols: Vec<usize> = (0..data.len())
            .filter(|&k| data.labels[k] as usize == c)
            .collect();
        let w = &net.layers[0];
        let z: Vec<Vec<f64>> = cols
            .iter()
            .map(|&k| {
                (0..5)
                    .map(|i| {
                        let h = w.b[i] + (0..4).map(|a| w.w[(i, a)] * data.x[(a, k)]).sum::<f64>();
                        net.activation.at(0).eval(h)
                    })
                    .collect()
            })
            .collect();
        let m = cols.len() as f64;
        let mean: Vec<f64> = (0..5)
            .map(|i| z.iter().map(|v| v[i]).sum::<f64>() / m)
            .collect();
        for i in 0..5 {
            let var_i = z.iter().map(|v| (v[i] - mean[i]).powi(2)).sum::<f64>() / m;
            assert!(
                (prop.mean[i] - mean[i]).abs() < 5.0 * (var_i / m).sqrt(),
                "class {c} mean {i}"
            );
            for j in 0..=i {
                let prods: Vec<f64> = z
                    .iter()
                    .map(|v| (v[i] - mean[i]) * (v[j] - mean[j]))
                    .collect();
                let cov = prods.iter().sum::<f64>() / m;
                let sd = (prods.iter().map(|p| (p - cov).powi(2)).sum::<f64>() / m).sqrt();
                let se = sd / m.sqrt();
                assert!(
                    (prop.cov[(i, j)] - cov).abs() < 5.0 * se,
                    "class {c} C[{i},{j}]: predicted {} measured {cov} (se {se})",
                    prop.cov[(i, j)]
                );
            }
        }
    }
}

#[test]
fn k3k4_corrections_match_skewed_input_where_the_gaussian_closure_fails() {
    // Skewed classes: x = A·(e − 1) with e ~ Exp(1) per coordinate (κ₃ = 2, κ₄ = 6 per source).
    let (d, n) = (5, 200_000);
    let mut rng = StdRng::seed_from_u64(9);
    let mut x = Mat::zeros(d, 2 * n);
    let mut labels = Vec::new();
    for c in 0..2 {
        let a = Mat::from_fn(d, d, |_, _| {
            rng.sample::<f64, _>(StandardNormal) / (d as f64).sqrt()
        });
        for k in 0..n {
            let e: Vec<f64> = (0..d).map(|_| rng.sample::<f64, _>(Exp1) - 1.0).collect();
            for i in 0..d {
                x[(i, c * n + k)] = c as f64 + (0..d).map(|j| a[(i, j)] * e[j]).sum::<f64>();
            }
        }
        labels.extend(std::iter::repeat_n(c as u32, n));
    }
    let data = Dataset {
        x,
        labels,
        n_classes: 2,
    };
    let net = random_net(&[d, 6, 2], Activation::Quadratic { alpha: 0.5 }, 5);
    let stats = layer_stats(&net, &data, Higher::Pre, 8192).unwrap();
    let start = &stats.get(Stage::Input).unwrap().per_class;
    let first_pre = &stats.get(Stage::Pre(1)).unwrap().per_class;
    let measured = &stats.get(Stage::Post(1)).unwrap().per_class;
    // What propagate measures: the κ slices of h¹ alone, the same numbers.
    let needed = Higher::for_propagation(Corrections::K3K4, 0, net.depth());
    let only = layer_stats(&net, &data, needed, 8192).unwrap();
    for (stage, m) in &only.stages {
        let has = m
            .per_class
            .iter()
            .all(|c| c.k3_iij().is_some() && c.k4_iijj().is_some());
        let none = m
            .per_class
            .iter()
            .all(|c| c.k3_iij().is_none() && c.k4_iijj().is_none());
        assert!(if *stage == Stage::Pre(1) { has } else { none }, "{stage}");
    }
    let only_pre = &only.get(Stage::Pre(1)).unwrap().per_class;
    for (a, b) in only_pre.iter().zip(first_pre) {
        assert!(a.k3_iij() == b.k3_iij() && a.k4_iijj() == b.k4_iijj() && a.cov == b.cov);
    }
    assert_eq!(
        Higher::for_propagation(Corrections::K3K4, 1, 1),
        Higher::None,
        "from the last hidden layer no closure takes corrections"
    );
    let corrected = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::K3K4,
    };
    let with_k = propagate(&net, 0, start, Some(first_pre), corrected).unwrap();
    let gauss = propagate(&net, 0, start, None, GAUSSIAN).unwrap();
    for (c, measured) in measured.iter().enumerate() {
        // Exact identity on the empirical measure: only rounding remains.
        let err_k = relative_frobenius(
            with_k[1].f64_moments().unwrap()[c].cov.as_ref(),
            measured.cov.as_ref(),
        )
        .unwrap();
        assert!(err_k < 1e-10, "class {c}: corrected error {err_k}");
        // The Gaussian closure misses κ terms of order one; sampling error is ~1/√n ≈ 0.002.
        let err_g = relative_frobenius(
            gauss[1].f64_moments().unwrap()[c].cov.as_ref(),
            measured.cov.as_ref(),
        )
        .unwrap();
        assert!(err_g > 0.05, "class {c}: Gaussian-only error only {err_g}");
    }
    // Every closure takes the corrections; without the measured slices it says what is missing.
    let relu = Mlp {
        activation: Activation::Relu.into(),
        ..net.clone()
    };
    let mut engine = Propagator::new();
    engine
        .run(
            &relu,
            0,
            start,
            Some(first_pre),
            corrected,
            &Timings::disabled(),
        )
        .unwrap();
    assert_eq!(
        engine.fallbacks().units_tried,
        2 * 6,
        "two classes of six units"
    );
    let err = propagate(&relu, 0, start, None, corrected)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("κ₃/κ₄ corrections need the measured κ slices of h1"),
        "{err}"
    );
}
