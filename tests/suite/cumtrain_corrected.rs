//! The cumulant objective with κ₃/κ₄ corrections at the first layer (`--order 3|4`,
//! `cumtrain::first_layer`): its gradient against central differences on skewed data, its
//! first layer against the sample moments of φ(h¹), and the command line.

use crate::common::corrflow;

use corrflow::cumtrain::{
    ClassStatistics, CorrectedLayers, CumulantObjective, StepTally, SurrogateCheck,
};
use corrflow::data::{Dataset, HigherOrderConfig};
use corrflow::net::train::zeros_like;
use corrflow::net::{Activation, ForwardPass, Mlp};
use corrflow::propagate::closures::{Closure, ClosureMethod, Corrections};
use corrflow::propagate::{ClosurePair, Propagator};
use corrflow::stats::Moments;
use corrflow::timing::Timings;

use corrflow::cumtrain::first_layer::{ClassSamples, Slices};

const QUAD: Activation = Activation::Quadratic { alpha: 0.5 };

/// The higher-order task at d = 4 (two skewed directions, exponential: skewness 2), `n`
/// training samples: classes with equal mean and covariance, opposite κ₃.
pub(crate) fn skewed(n: usize) -> Dataset {
    HigherOrderConfig {
        dim: 4,
        n_skewed: 2,
        n_train: n,
        n_test: 2,
        ..HigherOrderConfig::default()
    }
    .generate()
    .unwrap()
    .train
}

/// One class's stages (h¹, z¹, …, y) from the engine's corrected run at `order` from its input
/// moments `x`, with the κ slices of h¹ measured from its centred samples `centred`, their
/// skewness capped where `cap` (as the objective does for the Gram–Charlier closures).
pub(crate) fn engine_stages(
    net: &Mlp,
    closures: &[&dyn Closure],
    x: &Moments,
    centred: &faer::Mat<f64>,
    (order, cap): (Corrections, bool),
) -> Vec<Moments> {
    let mut slices = Slices::measure(
        net.layers[0].w.as_ref(),
        centred.as_ref(),
        order == Corrections::K3K4,
    );
    if cap {
        slices.cap_skewness();
    }
    let measured = [slices.moments()];
    let mut engine = Propagator::new();
    let stages = engine
        .run_closure(
            net,
            0,
            std::slice::from_ref(x),
            (order != Corrections::None).then_some(&measured[..]),
            closures,
            order,
            &Timings::disabled(),
        )
        .unwrap();
    stages
        .iter()
        .map(|s| s.f64_moments().unwrap()[0].clone())
        .collect()
}

/// Each class's samples of `data` centred on its mean in `stats` (d = 4).
pub(crate) fn class_samples(data: &Dataset, stats: &ClassStatistics) -> ClassSamples {
    let means: Vec<Vec<f64>> = stats
        .per_class
        .iter()
        .map(|m| (0..4).map(|i| m.mean[i]).collect())
        .collect();
    let refs: Vec<&[f64]> = means.iter().map(Vec::as_slice).collect();
    ClassSamples::gather(data, &refs)
}

/// The objective's loss at `net`.
fn loss(obj: &CumulantObjective, net: &Mlp, stats: &ClassStatistics) -> f64 {
    obj.loss(net, stats).unwrap()
}

/// Every weight and bias of `net` with the objective at orders 3 and 4, against central
/// differences f'(w) ≈ (f(w + h) − f(w − h)) / 2h. Their error is at most h²/6·|f'''|
/// (truncation) plus 2δ/2h (each evaluation's rounding δ). |f'''| along the weight is estimated by the 4-point
/// difference (f(2H) − 2f(H) + 2f(−H) − f(−2H)) / 2H³ at H = 10⁻², and counted twice (its own
/// O(H²) error); δ ≤ 64ε|f| (the loss is a sum of O(N²) products per class whose rounding adds
/// up to far less than 64 ulps of the total, f ≥ 0 and of order 1). h = 10⁻⁵ balances the two.
///
/// `floor`: the floor share of z¹'s corrected covariance (`cumtrain::spectral_floor`), large
/// enough that the floor acts (asserted) so that its reverse pass is checked too; `None`: the
/// default (which acts where z¹'s covariance is nearly singular: h¹ of width 5 from a 4-d
/// input, φ nearly linear).
fn check_gradient(net: &Mlp, data: &Dataset, stats: &ClassStatistics, floor: Option<f64>) {
    check_gradient_with(
        net,
        data,
        stats,
        |obj| match floor {
            Some(share) => obj.with_floor_share(share),
            None => obj,
        },
        |tally, _| {
            assert!(
                floor.is_none() || tally.floored.class_steps > 0,
                "the floor did not act"
            )
        },
    );
}

/// [`check_gradient`] of the objective as `configure` makes it, with `acted` asserting on the
/// first evaluation's tally at each order.
pub(crate) fn check_gradient_with(
    net: &Mlp,
    data: &Dataset,
    stats: &ClassStatistics,
    configure: impl Fn(CumulantObjective) -> CumulantObjective,
    acted: impl Fn(StepTally, Corrections),
) {
    for order in [Corrections::K3, Corrections::K3K4] {
        let obj = configure(CumulantObjective::corrected(net, order, data, stats).unwrap());
        let mut grads = zeros_like(net);
        let f0 = obj.loss_and_grad(net, stats, &mut grads).unwrap();
        acted(obj.take_tally(), order);
        assert_eq!(f0, loss(&obj, net, stats));
        let (h, big_h) = (1e-5, 1e-2);
        let mut worst: f64 = 0.0;
        for (l, grad) in grads.iter().enumerate() {
            let mut entries: Vec<(usize, Option<usize>)> = (0..grad.fan_out())
                .flat_map(|i| (0..grad.fan_in()).map(move |j| (i, Some(j))))
                .collect();
            entries.extend((0..grad.fan_out()).map(|i| (i, None)));
            for (i, j) in entries {
                let at = |delta: f64| {
                    let mut n = net.clone();
                    match j {
                        Some(j) => n.layers[l].w[(i, j)] += delta,
                        None => n.layers[l].b[i] += delta,
                    }
                    loss(&obj, &n, stats)
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                let third = (at(2.0 * big_h) - 2.0 * at(big_h) + 2.0 * at(-big_h)
                    - at(-2.0 * big_h))
                    / (2.0 * big_h.powi(3));
                let tol = 2.0 * third.abs() * h * h / 6.0 + 64.0 * f64::EPSILON * f0.abs() / h;
                let g = j.map_or(grad.b[i], |j| grad.w[(i, j)]);
                assert!(
                    (fd - g).abs() <= tol,
                    "{} order {} layer {l} ({i}, {j:?}): {g} vs {fd} (tol {tol:e})",
                    net.activation.at(0),
                    order.order()
                );
                worst = worst.max((fd - g).abs() / tol);
            }
        }
        println!(
            "{} {} layers order {}: loss {f0:.6}, worst |error|/tol {worst:.3}",
            net.activation.at(0),
            net.layers.len(),
            order.order()
        );
    }
}

/// The quadratic: a [4, 3, 2] and a [4, 3, 3, 2] network ([`check_gradient`]). Removing the κ
/// slices' reverse pass (`Slices::backward`) or the κ₃ term of the mean's adjoint makes the W¹
/// entries miss by 5·10⁻⁴…3·10⁻².
#[test]
fn corrected_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    for widths in [&[4, 3, 2][..], &[4, 3, 3, 2][..]] {
        check_gradient(
            &Mlp::init(widths, QUAD, 1.0, 3).unwrap(),
            &data,
            &stats,
            None,
        );
    }
}

/// The relu: a [4, 5, 2] network on the skewed data, through the generic corrected VJP and the
/// slices' reverse pass with κ₄\[i,i,i,j\] ([`check_gradient`]). Fails with κ₄\[i,i,i,j\]'s
/// reverse pass (Ū) left out of `Slices::backward`.
#[test]
fn corrected_relu_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    check_gradient(
        &Mlp::init(&[4, 5, 2], Activation::Relu, 1.0, 3).unwrap(),
        &data,
        &stats,
        None,
    );
}

/// The floor of z¹'s corrected covariance in the gradient: relu, leaky relu, erf and quadratic
/// [4, 5, 2] networks with the floor at half the mean variance, where it raises some of z¹'s
/// eigenvalues ([`check_gradient`]). Fails with the floor's reverse pass left out of the objective
/// (W¹ and b¹ off by up to 10⁻²) and with the trace term of its reverse pass dropped.
#[test]
fn floored_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let leaky = Activation::LeakyRelu { slope: 0.2 };
    for act in [Activation::Relu, leaky, Activation::Erf, QUAD] {
        let net = Mlp::init(&[4, 5, 2], act, 1.0, 3).unwrap();
        check_gradient(&net, &data, &stats, Some(0.5));
    }
}

/// Where the floor does not act (asserted: h¹ no wider than the input, so z¹'s covariance is
/// well conditioned), the objective's own corrected first layer (`first_pass`, then the engine
/// from z¹) is the engine's corrected run from x with the measured slices (their skewness
/// capped for relu and erf, as the objective caps it; it acts on this net): the same loss to
/// rounding (10⁻¹³ relative: the same operations, partly in another order). For relu and erf at
/// orders 3 and 4, the quadratic at order 4; the order-2 loss differs by far more (so the
/// comparison sees the corrections).
#[test]
fn corrected_objective_is_the_engines_corrected_run() {
    let data = skewed(600);
    let stats = ClassStatistics::measure(&data).unwrap();
    let samples = class_samples(&data, &stats);
    let mut capped = 0;
    for act in [Activation::Relu, Activation::Erf, QUAD] {
        let net = Mlp::init(&[4, 4, 3, 2], act, 1.0, 11).unwrap();
        let pairs = ClosurePair::for_layers(&net, ClosureMethod::Auto, false).unwrap();
        let closures: Vec<_> = pairs.iter().map(|p| p.closure.as_ref()).collect();
        let engine_loss = |order: Corrections| {
            let mut total = 0.0;
            for (c, (x, p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
                let stages = engine_stages(
                    &net,
                    &closures,
                    x,
                    &samples.centred[c],
                    (order, act != QUAD),
                );
                let y = stages.last().unwrap();
                let class: f64 = (0..2)
                    .map(|i| (y.mean[i] - f64::from(i == c)).powi(2) + y.cov[(i, i)])
                    .sum();
                total += p * class;
            }
            total
        };
        let gaussian = engine_loss(Corrections::None);
        // The quadratic's z¹ at order 3 (κ₄ left out) is indefinite on this data: the floor
        // acts there (its order 4 is the sample covariance of φ(h¹), positive definite).
        let orders = if act == QUAD {
            &[Corrections::K3K4][..]
        } else {
            &[Corrections::K3, Corrections::K3K4][..]
        };
        for &order in orders {
            // The engine corrects the first closure only.
            let obj = CumulantObjective::corrected(&net, order, &data, &stats)
                .unwrap()
                .with_layers(CorrectedLayers::First);
            let ours = loss(&obj, &net, &stats);
            let tally = obj.take_tally();
            assert_eq!(tally.floored.class_steps, 0);
            capped += tally.capped;
            let theirs = engine_loss(order);
            assert!(
                (ours - theirs).abs() <= 1e-13 * theirs,
                "{act} order {}: {ours} against the engine's {theirs}",
                order.order()
            );
            assert!(
                (ours - gaussian).abs() > 1e-6 * gaussian,
                "{act}: {ours} {gaussian}"
            );
        }
    }
    // Some units were capped (the engine got the same capped slices): the cap is compared too.
    assert!(capped > 0);
}

/// erf: a [4, 5, 2] network on the skewed data, through the same generic corrected VJP with
/// erf's terms to order 6 (`closures::erf_high`) ([`check_gradient`]).
#[test]
fn corrected_erf_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    check_gradient(
        &Mlp::init(&[4, 5, 2], Activation::Erf, 1.0, 3).unwrap(),
        &data,
        &stats,
        None,
    );
}

/// The leaky relu (slope 0.2): a [4, 5, 2] network on the skewed data, through the generic
/// corrected VJP with the leaky relu's terms to order 6 (`closures::leaky_relu_high`)
/// ([`check_gradient`]). Fails with the Stein term Σᵢⱼ sⱼ⁻ᵇΦ⁽ᵇ⁾ of the linear–relu cross terms
/// dropped.
#[test]
fn corrected_leaky_relu_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    check_gradient(
        &Mlp::init(&[4, 5, 2], Activation::LeakyRelu { slope: 0.2 }, 1.0, 3).unwrap(),
        &data,
        &stats,
        None,
    );
}

/// κ₄\[i,i,i,j\] of h¹ from `Slices::measure` is the sample cumulant
/// E[δᵢ³δⱼ] − 3E[δᵢ²]E[δᵢδⱼ] (δ = W¹x̃, population moments) computed directly, to rounding
/// (10⁻¹² of the largest entry: sums of n products in another order); none at order 3.
#[test]
fn measured_k4_iiij_is_the_sample_cumulant() {
    let data = skewed(300);
    let stats = ClassStatistics::measure(&data).unwrap();
    let net = Mlp::init(&[4, 3, 2], Activation::Relu, 1.0, 7).unwrap();
    let samples = class_samples(&data, &stats);
    let x = &samples.centred[0];
    let w = &net.layers[0].w;
    let slices = Slices::measure(w.as_ref(), x.as_ref(), true);
    let u = slices.k4_iiij.as_ref().unwrap();
    let n = x.ncols();
    let delta = |i: usize, k: usize| (0..4).map(|c| w[(i, c)] * x[(c, k)]).sum::<f64>();
    let mean = |f: &dyn Fn(usize) -> f64| (0..n).map(f).sum::<f64>() / n as f64;
    let scale = u.norm_max();
    for i in 0..3 {
        for j in 0..3 {
            let direct = mean(&|k| delta(i, k).powi(3) * delta(j, k))
                - 3.0 * mean(&|k| delta(i, k).powi(2)) * mean(&|k| delta(i, k) * delta(j, k));
            assert!((u[(i, j)] - direct).abs() <= 1e-12 * scale, "({i}, {j})");
        }
    }
    assert!(Slices::measure(w.as_ref(), x.as_ref(), false)
        .k4_iiij
        .is_none());
}

/// The order-4 closure of φ(h) = h + αh² is exact for sample cumulants: z¹'s predicted mean
/// and covariance equal the sample mean and covariance (÷ n) of φ(W¹x + b¹) over each class's
/// samples, to rounding (64ε of the largest entry: both are sums of n products of O(1)
/// numbers computed in different orders). Order 3 (κ₄ left out) and order 2 differ by far more
/// on this skewed data, so the check sees the corrections.
#[test]
fn corrected_first_layer_is_the_sample_moments_of_phi() {
    let data = skewed(2000);
    let stats = ClassStatistics::measure(&data).unwrap();
    let net = Mlp::init(&[4, 5, 2], QUAD, 1.0, 5).unwrap();
    let samples = class_samples(&data, &stats);
    let pairs = ClosurePair::for_layers(&net, ClosureMethod::Auto, false).unwrap();
    let closures: Vec<_> = pairs.iter().map(|p| p.closure.as_ref()).collect();
    for c in 0..2 {
        // The sample moments of z¹ = φ(W¹x + b¹) over class c.
        let xs: Vec<usize> = (0..data.len())
            .filter(|&k| data.labels[k] == c as u32)
            .collect();
        let x = faer::Mat::from_fn(4, xs.len(), |i, k| data.x[(i, xs[k])]);
        let mut fp = ForwardPass::new(&net, xs.len());
        net.forward_into(x.as_ref(), &mut fp);
        let z = fp.post(1);
        let n = xs.len() as f64;
        let m: Vec<f64> = (0..5)
            .map(|i| (0..xs.len()).map(|k| z[(i, k)]).sum::<f64>() / n)
            .collect();
        let cov = faer::Mat::from_fn(5, 5, |i, j| {
            (0..xs.len())
                .map(|k| (z[(i, k)] - m[i]) * (z[(j, k)] - m[j]))
                .sum::<f64>()
                / n
        });
        let scale = cov
            .norm_max()
            .max(m.iter().fold(0.0_f64, |a, v| a.max(v.abs())));
        let tol = 64.0 * f64::EPSILON * scale;
        let mut gaps = Vec::new();
        for order in [Corrections::None, Corrections::K3, Corrections::K3K4] {
            let stages = engine_stages(
                &net,
                &closures,
                &stats.per_class[c],
                &samples.centred[c],
                (order, false),
            );
            let z1 = &stages[1];
            let mean_gap = (0..5).fold(0.0_f64, |a, i| a.max((z1.mean[i] - m[i]).abs()));
            let cov_gap = (&z1.cov - &cov).norm_max();
            assert!(
                mean_gap <= tol,
                "class {c} order {}: mean {mean_gap:e}",
                order.order()
            );
            gaps.push(cov_gap);
        }
        println!("class {c}: covariance gaps (orders 2, 3, 4) {gaps:?}, tol {tol:e}");
        assert!(
            gaps[2] <= tol,
            "class {c}: order 4 covariance off by {:e}",
            gaps[2]
        );
        assert!(gaps[0] > 1e6 * tol && gaps[1] > 1e6 * tol, "{gaps:?}");
    }
}

#[test]
fn cli_trains_with_corrections_and_refuses_what_it_cannot_correct() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("k3.safetensors");
    let m = model.to_str().unwrap();
    let common = [
        "train",
        "--task",
        "higher-order",
        "--n-train",
        "400",
        "--n-test",
        "200",
        "--hidden",
        "8",
        "--epochs",
        "2",
        "--objective",
        "cumulants",
        "--json",
    ];
    let out = corrflow(
        &[
            &common[..],
            &["--activation", "quad:0.5", "--order", "3", "--out", m],
        ]
        .concat(),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["config"]["closure_check"]["order"], 3);
    assert!(report["final_loss"].as_f64().unwrap().is_finite());
    // Every epoch counts the floors of z¹'s covariance; the note says so where it was
    // indefinite (the quadratic's order 3 is, on this data: κ₄ left out).
    let mut indefinite = 0;
    for epoch in report["epochs"].as_array().unwrap() {
        let floored = &epoch["floored"];
        let steps = floored["class_steps"].as_u64().unwrap();
        let bad = floored["indefinite"].as_u64().unwrap();
        let share = floored["largest_share"].as_f64().unwrap();
        assert!(bad <= steps && (0.0..1.0).contains(&share), "{floored}");
        indefinite += bad;
    }
    assert!(indefinite > 0);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("was indefinite in {indefinite} class-steps")),
        "{err}"
    );
    assert!(model.exists());
    std::fs::remove_file(&model).unwrap();
    for (activation, order) in [("relu", "4"), ("erf", "3"), ("leaky_relu:0.1", "3")] {
        let args = ["--activation", activation, "--order", order, "--out", m];
        let out = corrflow(&[&common[..], &args[..]].concat());
        assert!(
            out.status.success(),
            "{activation}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            report["config"]["closure_check"]["order"],
            order.parse::<u8>().unwrap()
        );
        assert!(
            report["final_loss"].as_f64().unwrap().is_finite(),
            "{activation}"
        );
        std::fs::remove_file(&model).unwrap();
    }
    for (args, needles) in [
        (
            vec!["--activation", "tanh", "--order", "3"],
            &["--order", "tanh", "quadratic", "relu", "leaky relu", "erf"][..],
        ),
        (
            vec!["--activation", "quad:0.5", "--order", "5"],
            &["--order"][..],
        ),
    ] {
        let out = corrflow(&[&common[..], &args[..], &["--out", m]].concat());
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = String::from_utf8_lossy(&out.stderr);
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: {err}");
        }
        assert!(!model.exists());
    }
    let out = corrflow(&["train", "--order", "3", "--out", m]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--order") && err.contains("samples"), "{err}");
}

/// At order 3/4 the sampled check draws from each class's training samples: its mean over many
/// steps is the network's MSE on the training set (p(c) = n_c/n), within 4 standard errors
/// √(Σ_c p(c)² v_c / (N·R)), v_c the variance of one sample's loss in class c (draws with
/// replacement). The Gaussian surrogate's mean (the order-2 check) is printed beside it: on
/// this skewed data it is many standard errors away, so a check still drawing from
/// N(μ_c, Σ_c) fails here.
#[test]
fn sample_check_estimates_the_training_mse() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let net = Mlp::init(&[4, 3, 2], QUAD, 1.0, 5).unwrap();
    let zero = [0.0; 4];
    let own = ClassSamples::gather(&data, &[&zero[..], &zero[..]]);
    // Every sample's loss, per class: the exact training MSE and v_c.
    let mut fp = ForwardPass::new(&net, data.len());
    net.forward_into(data.x.as_ref(), &mut fp);
    let y = fp.output();
    let (mut train_mse, mut var_s) = (0.0, 0.0);
    let (per_class, steps) = (4000, 50);
    for c in 0..2 {
        let losses: Vec<f64> = (0..data.len())
            .filter(|&k| data.labels[k] == c as u32)
            .map(|k| {
                (0..2)
                    .map(|i| (y[(i, k)] - f64::from(u8::from(i == c))).powi(2))
                    .sum()
            })
            .collect();
        let n_c = losses.len() as f64;
        let mean = losses.iter().sum::<f64>() / n_c;
        let v = losses.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / n_c;
        let p = stats.weights[c];
        train_mse += p * mean;
        var_s += p * p * v / (per_class * steps) as f64;
    }
    let mut grads = zeros_like(&net);
    let mut mean_of = |mut check: SurrogateCheck| {
        (0..steps)
            .map(|_| check.loss_and_grad(&net, &mut grads))
            .sum::<f64>()
            / steps as f64
    };
    let drawn = mean_of(SurrogateCheck::from_samples(
        &net,
        own.centred,
        &stats,
        per_class,
        3,
    ));
    let gaussian = mean_of(SurrogateCheck::new(&net, &stats, per_class, 3).unwrap());
    let se = var_s.sqrt();
    println!(
        "training MSE {train_mse:.6}, sample check {drawn:.6} ± {se:.1e}, Gaussian {gaussian:.6}"
    );
    assert!(
        (drawn - train_mse).abs() < 4.0 * se,
        "{drawn} vs {train_mse} ± {se}"
    );
}

/// Constant features (every sample the same row): z¹ is deterministic, its corrected covariance
/// 0, which the floor leaves alone; training runs at orders 3 and 4 (the floor's first version
/// refused it, "trace 0, expected a positive number": adversarial section 58).
#[test]
fn constant_data_trains_at_orders_3_and_4() {
    let dir = tempfile::tempdir().unwrap();
    let x: Vec<Vec<f64>> = (0..120).map(|_| vec![1.0, 2.0, 3.0]).collect();
    let y: Vec<i64> = (0..120).map(|k| k % 2).collect();
    let (xp, yp) = crate::common::write_xy(dir.path(), "c", &x, &y);
    let model = dir.path().join("m.safetensors");
    let (xs, ys, m) = (
        xp.to_str().unwrap(),
        yp.to_str().unwrap(),
        model.to_str().unwrap(),
    );
    let fixed = "--threads 1 train --task data --test-split 0:20 --hidden 4 --epochs 2 \
                 --objective cumulants --activation relu";
    for order in ["3", "4"] {
        let out = train_on(fixed, (xs, ys, m), &["--order", order]);
        assert!(
            out.status.success(),
            "order {order}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(&model).unwrap();
    }
}

/// The skewness cap in the gradient (`cumtrain::skew_cap`): relu, leaky relu and erf [4, 5, 2]
/// networks whose first-layer units 0–3 are the input's coordinates (two of them the task's
/// exponential directions, skewness ±2, beyond any Gram–Charlier density) with unit 4 a mix, so
/// that the cap scales some units' κ₃ (asserted) ([`check_gradient`]). Fails with the cap's
/// reverse pass left out of `Slices::backward` (the T̄ and v̄ corrections).
#[test]
fn capped_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let leaky = Activation::LeakyRelu { slope: 0.2 };
    for act in [Activation::Relu, leaky, Activation::Erf] {
        let mut net = Mlp::init(&[4, 5, 2], act, 1.0, 3).unwrap();
        for i in 0..4 {
            for j in 0..4 {
                net.layers[0].w[(i, j)] = if i == j { 0.8 } else { 0.05 * (i + j) as f64 };
            }
        }
        for order in [Corrections::K3, Corrections::K3K4] {
            let obj = CumulantObjective::corrected(&net, order, &data, &stats).unwrap();
            obj.loss_and_grad(&net, &stats, &mut zeros_like(&net))
                .unwrap();
            assert!(
                obj.take_tally().capped > 0,
                "{act}: the cap did not act at order {}",
                order.order()
            );
        }
        check_gradient(&net, &data, &stats, None);
    }
}

/// Data ×10⁻¹⁵⁰ (adversarial section 58's `small`): after the first step the biases (~--lr)
/// dwarf W¹x (~10⁻¹⁵⁰), the relu units sit at μ/s ~ ±10¹⁴⁷, and the closure's VJP took Φ₂ there,
/// a NaN (0·∞ in Genz's expansion at |ρ| ≥ 0.925) refused as "diverged … lower the learning
/// rate", which no --lr cured. Now the VJP takes such units as linear (`backward::relu`): the
/// leaky relu trains at orders 2–4, and the relu is refused for what it is: W¹'s gradients
/// (~10⁻¹⁵⁰, far below Adam's ε) leave layer 1 unchanged, the error names the data's scale.
/// Fails on the previous binary (both activations "diverged").
///
/// The same data ×10⁻¹⁰⁰ (scale67), where the κ₃ slices (~10⁻³⁰⁰) still count: at orders 3
/// and 4 both activations were refused "gradients of layer 1 exceed 1.3e154 … too large" (the
/// reverse pass's order-6 terms D_ab ∝ s^{2−a−b} overflowed in natural units), then, with
/// those in standardised units, "diverged" (Hermite polynomials ∞·φ = NaN at the linear units'
/// μ/s ~ 10⁹⁷). Fails on main 52feaaf's binary (relu and leaky relu at orders 3, 4).
#[test]
fn data_times_1e_minus_150_trains_or_names_its_scale() {
    for scale in [1e-150, 1e-100] {
        tiny_data_trains_or_names_its_scale(scale);
    }
}

/// [`data_times_1e_minus_150_trains_or_names_its_scale`] on the data ×`scale`.
fn tiny_data_trains_or_names_its_scale(scale: f64) {
    let dir = tempfile::tempdir().unwrap();
    let (x, y): (Vec<Vec<f64>>, Vec<i64>) = (0..200)
        .map(|k| {
            let r = (0..3).map(|j| (1.7 * k as f64 + 2.3 * j as f64 + 0.5).sin());
            let c = k % 2;
            let r = r.map(|v| if c == 1 { 2.0 * v.powi(3) } else { v });
            (r.map(|v| v * scale).collect(), c)
        })
        .unzip();
    let (xp, yp) = crate::common::write_xy(dir.path(), "small", &x, &y);
    let model = dir.path().join("m.safetensors");
    let (xs, ys, m) = (
        xp.to_str().unwrap(),
        yp.to_str().unwrap(),
        model.to_str().unwrap(),
    );
    let fixed = "--threads 1 train --task data --test-split 0:40 --hidden 4 --epochs 2 \
                 --objective cumulants";
    for activation in ["relu", "leaky_relu:0.1"] {
        for order in ["2", "3", "4"] {
            let out = train_on(
                fixed,
                (xs, ys, m),
                &["--order", order, "--activation", activation],
            );
            let err = String::from_utf8_lossy(&out.stderr);
            if activation == "relu" {
                assert!(
                    !out.status.success()
                        && err.contains("training changed nothing")
                        && err.contains("data of a larger scale"),
                    "×{scale:e} relu order {order}: {err}"
                );
            } else {
                assert!(
                    out.status.success(),
                    "×{scale:e} {activation} order {order}: {err}"
                );
                std::fs::remove_file(&model).unwrap();
            }
        }
    }
}

/// `corrflow` with the arguments `fixed`, the data files and model (x, y, out) and `extra`.
fn train_on(fixed: &str, (x, y, out): (&str, &str, &str), extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = fixed.split_whitespace().collect();
    args.extend(["--train-x", x, "--train-y", y, "--out", out]);
    args.extend(extra);
    corrflow(&args)
}

/// Corrections at every hidden layer (`--corrected-layers all`): relu, leaky relu, erf and
/// quadratic [4, 4, 4, 2] networks, whose second hidden layer takes the κ slices of
/// h² = W²a¹ + b² over the class's samples forwarded through the first layer (all four φ have
/// a corrected closure), orders 3 and 4 ([`check_gradient`]: every weight and bias against
/// central differences, W¹ and b¹ through the samples' chain included). Fails with the
/// samples' adjoint not taken below layer 2 (relu order 3: a W¹ entry 0.071 against 0.021) and
/// with S's adjoint at layer 2 sent into h²'s covariance adjoint as at layer 1 (relu order 4:
/// 0.00987 against 0.00994, tolerance 3·10⁻⁷).
#[test]
fn deep_corrected_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let leaky = Activation::LeakyRelu { slope: 0.2 };
    for act in [Activation::Relu, leaky, Activation::Erf, QUAD] {
        let net = Mlp::init(&[4, 4, 4, 2], act, 1.0, 5).unwrap();
        check_gradient(&net, &data, &stats, None);
    }
}

/// `--corrected-layers all` against `first`: with one hidden layer there is nothing deeper to
/// correct and the two are the same objective, loss and gradient to the bit; with two they
/// differ (the second closure's corrections move the loss by more than 10⁻⁶ of it), and `all`
/// counts the second layer's capped units too. Fails with `first` correcting the deeper layers
/// as well (`Corrected::at` ignoring the setting).
#[test]
fn all_layers_is_first_with_one_hidden_layer_and_differs_with_two() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    for act in [Activation::Relu, Activation::Erf, QUAD] {
        for order in [Corrections::K3, Corrections::K3K4] {
            let run = |widths: &[usize], layers| {
                let net = Mlp::init(widths, act, 1.0, 7).unwrap();
                let obj = CumulantObjective::corrected(&net, order, &data, &stats)
                    .unwrap()
                    .with_layers(layers);
                let mut grads = zeros_like(&net);
                let l = obj.loss_and_grad(&net, &stats, &mut grads).unwrap();
                (l, grads, obj.take_tally())
            };
            let (first, g_first, _) = run(&[4, 5, 2], CorrectedLayers::First);
            let (all, g_all, _) = run(&[4, 5, 2], CorrectedLayers::All);
            assert_eq!(
                first.to_bits(),
                all.to_bits(),
                "{act} order {}",
                order.order()
            );
            for (a, b) in g_first.iter().zip(&g_all) {
                assert!(a.w == b.w && a.b == b.b, "{act}: the gradients differ");
            }
            let (first, _, t_first) = run(&[4, 5, 5, 2], CorrectedLayers::First);
            let (all, _, t_all) = run(&[4, 5, 5, 2], CorrectedLayers::All);
            assert!(
                (first - all).abs() > 1e-6 * first,
                "{act} order {}: first {first} all {all}",
                order.order()
            );
            assert!(t_all.capped >= t_first.capped);
        }
    }
}

/// At the first layer S = DDᵀ/n = W¹Σ_cW¹ᵀ exactly, so S's adjoint (K and U read S, order 4)
/// can go into Σ's adjoint and through the affine map's VJP (∂W¹ += (Σ̄ + Σ̄ᵀ)W¹Σ_c) or through
/// D (D̄ += (S̄ + S̄ᵀ)D/n, as at deeper layers): the same ∂W¹ to rounding. Fails with the
/// samples route's S̄ dropped.
#[test]
fn slice_adjoint_of_s_is_the_same_through_covariance_or_samples() {
    use corrflow::cumtrain::first_layer::SRoute;
    use corrflow::propagate::backward::SliceAdjoint;
    use faer::Mat;
    let data = skewed(300);
    let stats = ClassStatistics::measure(&data).unwrap();
    let x = &class_samples(&data, &stats).centred[0];
    let n = x.ncols() as f64;
    let w = Mat::from_fn(3, 4, |i, j| {
        0.3 + 0.2 * i as f64 - 0.15 * j as f64 + 0.1 * (i * j) as f64
    });
    let slices = Slices::measure(w.as_ref(), x.as_ref(), true);
    let adj = SliceAdjoint {
        k3_iij: Mat::from_fn(3, 3, |i, j| 0.1 * (i as f64 - j as f64) + 0.05),
        k4_iijj: Some(Mat::from_fn(3, 3, |i, j| 0.02 * (1 + i + 2 * j) as f64)),
        k4_iiij: Some(Mat::from_fn(3, 3, |i, j| 0.03 * (2.0 - (i + j) as f64))),
    };
    let mut cov_adj = Mat::<f64>::zeros(3, 3);
    let mut via_cov = Mat::<f64>::zeros(3, 4);
    slices.backward(
        x.as_ref(),
        &adj,
        SRoute::Covariance(&mut cov_adj),
        via_cov.as_mut(),
    );
    // Σ_c = X̃X̃ᵀ/n (population, as `ClassStatistics`), ∂W += (C + Cᵀ)WΣ_c.
    let sigma = Mat::from_fn(4, 4, |i, j| {
        (0..x.ncols()).map(|k| x[(i, k)] * x[(j, k)]).sum::<f64>() / n
    });
    let sym = Mat::from_fn(3, 3, |i, j| cov_adj[(i, j)] + cov_adj[(j, i)]);
    via_cov += &sym * &w * &sigma;
    let mut via_samples = Mat::<f64>::zeros(3, 4);
    slices.backward(x.as_ref(), &adj, SRoute::Samples, via_samples.as_mut());
    let scale = via_samples.norm_max();
    assert!(cov_adj.norm_max() > 1e-3 * scale, "S̄ plays no part");
    let diff = (&via_cov - &via_samples).norm_max();
    assert!(diff <= 1e-12 * scale, "{diff:e} of {scale:e}");
}
