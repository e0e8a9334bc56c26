//! The confusion matrices, the error budget and the output-tails model of `analyze` (issue #16
//! items 3–5) against independent computations: the theory accuracy, the propagation and the
//! Gaussian comparisons run directly, and the network's own predictions.

use faer::Mat;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use corrflow::analysis::accuracy::{theory_accuracy, AccuracyOptions};
use corrflow::analysis::compare::KL_RIDGE;
use corrflow::analysis::{analyze, AnalysisOptions};
use corrflow::data::Dataset;
use corrflow::measure::{layer_stats, CarrySettings, Higher, STATS_BATCH};
use corrflow::net::{Activation, Mlp, Stage};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{propagate, EngineSettings, PropagateOptions};
use corrflow::stats::gaussian::{kl_divergence, relative_frobenius};
use corrflow::timing::Timings;

/// `n` samples per class of μ_c + A z, z ~ N(0, I) (Gaussian classes with a shared covariance).
fn gaussian_classes(n: usize, seed: u64) -> Dataset {
    let (d, k) = (4, 3);
    let a = Mat::from_fn(d, d, |i, j| {
        if i == j {
            0.9
        } else {
            0.2 * ((i + 2 * j) % 3) as f64 - 0.2
        }
    });
    let mut rng = StdRng::seed_from_u64(seed);
    let mut x = Mat::zeros(d, n * k);
    let mut labels = Vec::new();
    for c in 0..k {
        for s in 0..n {
            let z: Vec<f64> = (0..d).map(|_| StandardNormal.sample(&mut rng)).collect();
            for i in 0..d {
                let mu = 0.8 * ((c * 5 + i * 3) % 4) as f64 - 1.0;
                x[(i, c * n + s)] = mu + (0..d).map(|j| a[(i, j)] * z[j]).sum::<f64>();
            }
            labels.push(c as u32);
        }
    }
    Dataset {
        x,
        labels,
        n_classes: k,
    }
}

fn options(mc: usize) -> AnalysisOptions {
    AnalysisOptions {
        method: ClosureMethod::Auto,
        mc_samples: mc,
        surrogate_samples: Some(2000),
        ridge: 1e-9,
        heatmap_layer: 1,
        order: Corrections::None,
        carry: CarrySettings::default(),
        seed: 5,
        engine: EngineSettings::default(),
    }
}

/// A tanh network (closures that lose something): the predicted confusion rows are the argmax
/// distributions behind the theory accuracy (the diagonal equals its per-class P exactly, the
/// rows sum to 1), bit for bit `theory_accuracy`'s (`sweep`'s) although `analyze` draws every
/// start layer's rows beside the output tails (common random numbers); the budget's E(l) equal the output errors of a direct propagation from layer
/// l and Gaussian comparisons per class; its steps add up to E(0); the measured confusion
/// diagonal is the network's per-class accuracy from its own predictions.
#[test]
fn confusion_and_budget_match_independent_computations() {
    let data = gaussian_classes(3000, 1);
    let net = Mlp::init(&[4, 6, 5, 3], Activation::Tanh, 1.5, 2).unwrap();
    let opts = options(40_000);
    let (a, _) = analyze(&net, &data, opts, &Timings::disabled()).unwrap();
    let stats = layer_stats(&net, &data, Higher::None, STATS_BATCH).unwrap();
    let acc_opts = AccuracyOptions {
        method: opts.method,
        mc_samples: opts.mc_samples,
        seed: opts.seed,
        engine: opts.engine,
    };
    let theory = theory_accuracy(&net, &stats, acc_opts, &Timings::disabled()).unwrap();
    assert_eq!(a.start_layers.len(), 3);
    // Every start layer's rows were drawn beside the output tails, on start layer L's normals.
    let tails = a.output_tails.as_ref().expect("tails computed");
    assert!(tails
        .per_class
        .iter()
        .all(|c| c.start_draws && c.drawn_alongside == 2));
    let measured_out = stats.get(Stage::Output).unwrap();
    let budget = &a.error_budget[0];
    assert_eq!(budget.order, 2);
    for (l, (o, t)) in a.start_layers.iter().zip(&theory).enumerate() {
        assert_eq!(o.accuracy, t.accuracy, "start layer {l}");
        for (row, p) in o.confusion.rows.iter().zip(&t.per_class) {
            assert_eq!(row.p[row.class], p.p_correct);
            assert!((row.p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        let start = &stats.get(Stage::start(l)).unwrap().per_class;
        let prop_opts = PropagateOptions {
            method: opts.method,
            corrections: Corrections::None,
        };
        let predicted = propagate(&net, l, start, None, prop_opts).unwrap();
        let out = &predicted.last().unwrap().f64_moments().unwrap();
        let (mut cov, mut kl) = (0.0, 0.0);
        for (p, m) in out.iter().zip(&measured_out.per_class) {
            cov += relative_frobenius(p.cov.as_ref(), m.cov.as_ref()).unwrap() / 3.0;
            let k = kl_divergence(
                (m.mean.as_ref(), m.cov.as_ref()),
                (p.mean.as_ref(), p.cov.as_ref()),
                KL_RIDGE,
            );
            kl += k.unwrap().value / 3.0;
        }
        let e = budget.by_start_layer[l];
        assert!(
            (e.cov_rel_err - cov).abs() <= 1e-12 * (1.0 + cov),
            "l = {l}: {} vs {cov}",
            e.cov_rel_err
        );
        assert!(
            (e.kl.unwrap() - kl).abs() <= 1e-12 * (1.0 + kl),
            "l = {l}: {:?} vs {kl}",
            e.kl
        );
        assert_eq!(e.accuracy_err, t.accuracy - a.network_accuracy);
    }
    assert!(
        budget.steps[0].errors.cov_rel_err.abs() > 1e-3,
        "the first closure loses something"
    );
    let sum: f64 = budget.steps.iter().map(|s| s.errors.cov_rel_err).sum();
    assert!((sum - budget.total.cov_rel_err).abs() < 1e-12);
    let predicted = net.predict(data.x.as_ref(), 512);
    for row in &a.measured_confusion.rows {
        let c = row.class;
        let hits = (0..data.len())
            .filter(|&s| data.labels[s] as usize == c && predicted[s] == c)
            .count();
        assert_eq!(row.p[c], hits as f64 / 3000.0);
    }
}

/// A linear network on Gaussian classes: the output is exactly Gaussian, so the Edgeworth model
/// (with κ₃/κ₄ that are sampling noise) stays a density almost everywhere and agrees with the
/// Gaussian model on the same draws and with the network, within 4 standard errors (Monte Carlo
/// and binomial) plus the plug-in error of the κ's, bounded here by 0.01.
#[test]
fn gaussian_outputs_have_edgeworth_close_to_gaussian() {
    let n = 20_000;
    let data = gaussian_classes(n, 3);
    let net = Mlp::init(&[4, 3], Activation::Linear, 1.0, 7).unwrap();
    let (a, _) = analyze(&net, &data, options(100_000), &Timings::disabled()).unwrap();
    let t = a.output_tails.expect("tails computed");
    let binom = (a.network_accuracy * (1.0 - a.network_accuracy) / (3 * n) as f64).sqrt();
    let sigma = (t.edgeworth_stderr.powi(2) + binom.powi(2)).sqrt();
    assert!((t.edgeworth_accuracy - a.network_accuracy).abs() < 4.0 * sigma + 0.01);
    assert!((t.edgeworth_accuracy - t.gaussian_accuracy).abs() < 4.0 * t.edgeworth_stderr + 0.01);
    // Full rank: the models ran on start layer L's draws, whose row is the Gaussian column.
    let last = a.theory_accuracy.last().unwrap();
    assert_eq!(t.gaussian_accuracy, last.accuracy);
    for c in &t.per_class {
        assert!(c.start_draws, "class {}", c.class);
        assert_eq!(c.rank, 3);
        assert!(
            c.negative_share < 0.01,
            "class {}: {}",
            c.class,
            c.negative_share
        );
        assert!((c.weight_mean - 1.0).abs() < 0.01);
    }
}

/// The order dimension of the budget on a quadratic network with two hidden layers, whose
/// κ₃/κ₄-corrected closure reproduces the next layer's sample mean and covariance exactly
/// (Σ_z is a function of h's moments to 4th order, all measured on the same samples). At
/// `--order 4` the theory from z¹ corrected at h² is therefore exact at the output, as is the
/// theory from z² (affine): the order-4 step of layer 2 vanishes to rounding — covariance, KL and
/// accuracy (2 outputs: exact, no Monte Carlo) — while the Gaussian step of that layer is of
/// order one on skewed data. The theory from x corrected at h¹ reaches z¹ exactly and then
/// closes h² Gaussian, so its errors are those of the Gaussian theory from z¹.
#[test]
fn order_four_budget_step_vanishes_where_the_quadratic_closure_is_exact() {
    let data = corrflow::data::HigherOrderConfig {
        n_train: 4000,
        n_test: 10,
        ..Default::default()
    }
    .generate()
    .unwrap()
    .train;
    let mut net = Mlp::init(&[10, 8, 6, 2], Activation::Quadratic { alpha: 0.5 }, 1.0, 4).unwrap();
    net.layers[0].b = faer::Col::from_fn(8, |i| 0.1 * i as f64 - 0.4);
    let opts = AnalysisOptions {
        order: Corrections::K3K4,
        carry: CarrySettings::default(),
        ..options(4)
    };
    let (a, _) = analyze(&net, &data, opts, &Timings::disabled()).unwrap();
    let orders: Vec<usize> = a.error_budget.iter().map(|b| b.order).collect();
    assert_eq!(orders, [2, 4]);
    let (gauss, fourth) = (&a.error_budget[0], &a.error_budget[1]);
    let (g2, k2) = (gauss.steps[1].errors, fourth.steps[1].errors);
    assert_eq!(
        (gauss.steps[1].layer, fourth.steps[1].layer),
        (Some(2), Some(2))
    );
    assert!(
        k2.cov_rel_err.abs() < 1e-9,
        "order-4 step of layer 2: {k2:?}"
    );
    assert!(
        k2.kl.unwrap().abs() < 1e-9,
        "order-4 step of layer 2: {k2:?}"
    );
    assert!(
        k2.accuracy_err.abs() < 1e-9,
        "order-4 step of layer 2: {k2:?}"
    );
    assert!(
        g2.cov_rel_err > 0.05,
        "the Gaussian closure of layer 2 loses something: {g2:?}"
    );
    let (e4, e2) = (fourth.by_start_layer[0], gauss.by_start_layer[1]);
    assert!((e4.cov_rel_err - e2.cov_rel_err).abs() < 1e-9 * (1.0 + e2.cov_rel_err));
    assert!((e4.kl.unwrap() - e2.kl.unwrap()).abs() < 1e-9 * (1.0 + e2.kl.unwrap()));
    assert!((e4.accuracy_err - e2.accuracy_err).abs() < 1e-9);
    // The last step, E(L), has no closure to correct: the same in both budgets.
    assert_eq!(gauss.steps[2].errors, fourth.steps[2].errors);
    // The row "x+κ" is the order-4 theory from the input.
    let k3k4 = a.theory_accuracy_k3k4.as_ref().unwrap();
    assert_eq!(k3k4.start_stage, "x (+κ₃/κ₄ at h1)");
    assert_eq!(
        k3k4.accuracy - a.network_accuracy,
        fourth.by_start_layer[0].accuracy_err
    );
}

/// The same with three outputs, whose accuracies are Monte Carlo: every start layer of both
/// orders draws class c on the same normals, so the order-4 step of layer 2 (two exact theories
/// of one output Gaussian, up to rounding) vanishes in the accuracy too, and E(L) — the one
/// Gaussian theory from z², no closure — is one number in both budgets. With a seed per start
/// layer and order (adv59) the step was the difference of two independent estimates and the
/// two E(L) differed by their Monte Carlo noise (40 000 draws: ~3·10⁻³, against ≤ 10⁻⁹ here).
#[test]
fn both_budgets_draw_every_start_layer_on_the_same_normals() {
    let data = gaussian_classes(1500, 3);
    let mut net = Mlp::init(&[4, 6, 5, 3], Activation::Quadratic { alpha: 0.5 }, 1.0, 4).unwrap();
    net.layers[0].b = faer::Col::from_fn(6, |i| 0.1 * i as f64 - 0.3);
    let opts = AnalysisOptions {
        order: Corrections::K3K4,
        ..options(40_000)
    };
    let (a, _) = analyze(&net, &data, opts, &Timings::disabled()).unwrap();
    let (gauss, fourth) = (&a.error_budget[0], &a.error_budget[1]);
    assert_eq!(fourth.order, 4);
    assert_eq!(gauss.by_start_layer[2], fourth.by_start_layer[2]);
    let k2 = fourth.steps[1].errors;
    assert!(
        k2.accuracy_err.abs() < 1e-9,
        "order-4 step of layer 2: {k2:?}"
    );
    assert!(a.theory_accuracy[2].stderr > 0.0, "a Monte Carlo accuracy");
}
