//! The cumulant objective: whole-network gradients against finite differences, and its meaning
//! (the expected sample MSE) on linear networks, against samples.

use corrflow::cumtrain::{ClassStatistics, CumulantObjective};
use corrflow::data::Dataset;
use corrflow::net::train::zeros_like;
use corrflow::net::{Activation, ForwardPass, Mlp};
use corrflow::stats::Moments;
use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

/// Class c: N(μ_c, Σ_c) with Σ_c = A_cA_cᵀ, A_c random (moderate correlations).
fn random_classes(seed: u64, dim: usize, weights: &[f64]) -> (ClassStatistics, Vec<Mat<f64>>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut per_class = Vec::new();
    let mut factors = Vec::new();
    for _ in weights {
        let a = Mat::from_fn(dim, dim, |i, k| {
            let g: f64 = rng.sample(StandardNormal);
            if i == k {
                0.6 + 0.3 * g
            } else {
                0.3 * g
            }
        });
        let mean = Col::from_fn(dim, |_| 0.5 * rng.sample::<f64, _>(StandardNormal));
        per_class.push(Moments::gaussian(mean, &a * a.transpose()));
        factors.push(a);
    }
    let stats = ClassStatistics {
        per_class,
        weights: weights.to_vec(),
    };
    (stats, factors)
}

#[test]
fn network_gradient_matches_finite_differences() {
    let (stats, _) = random_classes(1, 4, &[0.2, 0.3, 0.5]);
    for act in [
        Activation::Quadratic { alpha: 0.4 },
        Activation::Relu,
        Activation::Erf,
        Activation::Tanh,
    ] {
        let net = Mlp::init(&[4, 6, 5, 3], act, 1.0, 11).unwrap();
        let obj = CumulantObjective::new(&net).unwrap();
        let mut grads = zeros_like(&net);
        let loss = obj.loss_and_grad(&net, &stats, &mut grads).unwrap();
        assert!((loss - obj.loss(&net, &stats).unwrap()).abs() < 1e-14 * loss.abs());
        let mut worst: f64 = 0.0;
        for (l, grad) in grads.iter().enumerate() {
            let (rows, cols) = (grad.fan_out(), grad.fan_in());
            let mut entries: Vec<(usize, Option<usize>)> = (0..rows)
                .flat_map(|i| (0..cols).map(move |j| (i, Some(j))))
                .collect();
            entries.extend((0..rows).map(|i| (i, None)));
            for (i, j) in entries {
                let h = 1e-6;
                let shifted = |delta: f64| {
                    let mut n = net.clone();
                    match j {
                        Some(j) => n.layers[l].w[(i, j)] += delta,
                        None => n.layers[l].b[i] += delta,
                    }
                    obj.loss(&n, &stats).unwrap()
                };
                let fd = (shifted(h) - shifted(-h)) / (2.0 * h);
                let g = match j {
                    Some(j) => grad.w[(i, j)],
                    None => grad.b[i],
                };
                let err = (fd - g).abs() / (g.abs() + 1e-3);
                assert!(err < 1e-6, "{act} layer {l} ({i}, {j:?}): {g} vs {fd}");
                worst = worst.max(err);
            }
        }
        println!("{act}: loss {loss:.6}, worst relative gradient error {worst:e}");
    }
}

/// Per-draw MSE ‖y − t_c‖² of a network on `x` (columns) of class c.
fn per_draw_losses(net: &Mlp, x: &Mat<f64>, c: usize) -> Vec<f64> {
    let mut fp = ForwardPass::new(net, x.ncols());
    net.forward_into(x.as_ref(), &mut fp);
    let y = fp.output();
    (0..x.ncols())
        .map(|k| {
            (0..y.nrows())
                .map(|i| {
                    let d = y[(i, k)] - if i == c { 1.0 } else { 0.0 };
                    d * d
                })
                .sum()
        })
        .collect()
}

/// Linear network, Gaussian classes: the objective is E[‖y − t‖²] exactly, so it must agree
/// with the mean per-draw loss of 10⁶ draws within a few standard errors (estimated from the
/// per-draw losses' sample variance).
#[test]
fn linear_network_objective_is_the_expected_sample_mse() {
    let weights = [0.3, 0.7];
    let (stats, factors) = random_classes(5, 3, &weights);
    let net = Mlp::init(&[3, 4, 2], Activation::Linear, 1.0, 2).unwrap();
    let obj = CumulantObjective::new(&net).unwrap();
    let predicted = obj.loss(&net, &stats).unwrap();
    let mut rng = StdRng::seed_from_u64(9);
    let total = 1_000_000usize;
    let (mut mc, mut var_of_mean) = (0.0, 0.0);
    for (c, (&p, a)) in weights.iter().zip(&factors).enumerate() {
        let n = (p * total as f64) as usize;
        let z = Mat::from_fn(3, n, |_, _| rng.sample::<f64, _>(StandardNormal));
        let mut x = a * &z;
        for k in 0..n {
            for i in 0..3 {
                x[(i, k)] += stats.per_class[c].mean[i];
            }
        }
        let losses = per_draw_losses(&net, &x, c);
        let mean = losses.iter().sum::<f64>() / n as f64;
        let var = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        mc += p * mean;
        var_of_mean += p * p * var / n as f64;
    }
    let se = var_of_mean.sqrt();
    println!("objective {predicted:.6}, Monte Carlo {mc:.6} ± {se:.2e}");
    assert!(
        (predicted - mc).abs() < 4.0 * se,
        "objective {predicted} vs sample MSE {mc} ± {se}"
    );
}

/// With the statistics measured from a data set, the objective of a linear network equals that
/// data set's mean sample MSE (population moments, the convention of `--loss mse`).
#[test]
fn measured_statistics_reproduce_the_sample_mse_of_a_linear_network() {
    let split = corrflow::data::XorConfig::default().generate().unwrap();
    let data: &Dataset = &split.train;
    let stats = ClassStatistics::measure(data).unwrap();
    let net = Mlp::init(&[2, 5, 3, 2], Activation::Linear, 1.0, 4).unwrap();
    let obj = CumulantObjective::new(&net).unwrap();
    let predicted = obj.loss(&net, &stats).unwrap();
    let mut total = 0.0;
    for c in 0..2 {
        let cols: Vec<usize> = (0..data.len()).filter(|&k| data.labels[k] == c).collect();
        let x = Mat::from_fn(2, cols.len(), |i, k| data.x[(i, cols[k])]);
        total += per_draw_losses(&net, &x, c as usize).iter().sum::<f64>();
    }
    let sample = total / data.len() as f64;
    assert!(
        (predicted - sample).abs() < 1e-10 * sample,
        "objective {predicted} vs sample MSE {sample}"
    );
}
