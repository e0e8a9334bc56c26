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

/// "Largest confusions" ranks the off-diagonal cells by their largest value in any matrix
/// report.md shows beside them — the measured one, the Gaussian theory's from every start layer
/// and the output tails' Edgeworth and Student t models (adv59: the tails' were left out) —
/// recomputed here cell by cell. On this tanh network (init seed 0: one of 11 of 80 seeds and
/// gains tried) the tails' models move the ranking, so leaving them out is seen.
#[test]
fn largest_confusions_rank_every_matrix_shown() {
    let data = gaussian_classes(3000, 1);
    let net = Mlp::init(&[4, 6, 5, 3], Activation::Tanh, 1.5, 0).unwrap();
    let (a, _) = analyze(&net, &data, options(40_000), &Timings::disabled()).unwrap();
    let tails = a.output_tails.as_ref().expect("tails computed");
    let rank = |with_tails: bool| {
        let mut cells: Vec<([usize; 2], f64)> = Vec::new();
        for c in 0..3 {
            for k in (0..3).filter(|&k| k != c) {
                let mut ms = vec![&a.measured_confusion];
                ms.extend(a.start_layers.iter().map(|o| &o.confusion));
                if with_tails {
                    ms.extend([&tails.edgeworth_confusion, &tails.student_t_confusion]);
                }
                let best = ms
                    .iter()
                    .map(|m| m.get(c, k).unwrap().0)
                    .fold(f64::MIN, f64::max);
                cells.push(([c, k], best));
            }
        }
        cells.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
        cells.into_iter().map(|(ck, _)| ck).collect::<Vec<_>>()
    };
    assert_eq!(a.confusion_matrices().len(), 1 + a.start_layers.len() + 2);
    assert_eq!(a.largest_confusions, rank(true));
    assert_ne!(rank(true), rank(false), "the tails move the ranking here");
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

/// Probabilists' Hermite polynomial He_n(x), n ≤ 6.
fn hermite(n: usize, x: f64) -> f64 {
    let x2 = x * x;
    match n {
        0 => 1.0,
        1 => x,
        2 => x2 - 1.0,
        3 => x * (x2 - 3.0),
        4 => x2 * x2 - 6.0 * x2 + 3.0,
        5 => x * (x2 * x2 - 10.0 * x2 + 15.0),
        6 => x2 * x2 * x2 - 15.0 * x2 * x2 + 45.0 * x2 - 15.0,
        _ => unreachable!("order {n}"),
    }
}

/// The sample mean and 1/n covariance of the columns of `y` (outputs × samples), summed
/// directly (the references' own, not the library's).
fn sample_mean_cov(y: &Mat<f64>) -> (faer::Col<f64>, Mat<f64>) {
    let (k, n) = (y.nrows(), y.ncols());
    let mean = faer::Col::from_fn(k, |i| (0..n).map(|s| y[(i, s)]).sum::<f64>() / n as f64);
    let cov = Mat::from_fn(k, k, |i, j| {
        (0..n)
            .map(|s| (y[(i, s)] - mean[i]) * (y[(j, s)] - mean[j]))
            .sum::<f64>()
            / n as f64
    });
    (mean, cov)
}

/// Composite Simpson nodes and weights on [lo, hi] with `m` (even) intervals.
fn simpson(lo: f64, hi: f64, m: usize) -> Vec<(f64, f64)> {
    let h = (hi - lo) / m as f64;
    (0..=m)
        .map(|i| {
            let wgt = if i == 0 || i == m {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            (lo + i as f64 * h, wgt * h / 3.0)
        })
        .collect()
}

/// The standard normal density.
fn normal_density(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// The sample moment E[Π t_{idx_k}] of whitened samples `t` (1/n).
fn sample_moment<const D: usize>(t: &[[f64; D]], idx: &[usize]) -> f64 {
    t.iter()
        .map(|u| idx.iter().map(|&i| u[i]).product::<f64>())
        .sum::<f64>()
        / t.len() as f64
}

/// Every ordered tuple of `m` indices below `d`.
fn ordered_tuples(d: usize, m: usize) -> Vec<Vec<usize>> {
    (0..d.pow(m as u32))
        .map(|b| (0..m).map(|i| (b / d.pow(i as u32)) % d).collect())
        .collect()
}

/// H_{i₁…iₘ}(t) of N(0, I₂): the product of He_{nₐ}(tₐ), nₐ = how often a is among the indices.
fn hermite_tensor(idx: &[usize], t: [f64; 2]) -> f64 {
    let n0 = idx.iter().filter(|&&i| i == 0).count();
    hermite(n0, t[0]) * hermite(idx.len() - n0, t[1])
}

/// The Edgeworth model's confusion row of a 2-output class against an independent computation:
/// the whitened cumulants recomputed here in other coordinates (Cholesky, then rotated so that
/// the decision boundary y₀ = y₁ is t₀ = c), the weight w(t) = 1 + κ₃·H₃/6 + κ₄·H₄/24 +
/// κ₃κ₃·H₆/72 summed over all ordered index tuples with tensor Hermite polynomials (not the
/// contractions of `tails::weight`), and P(argmax y = 0) = ∫_{t₀ ≥ c} φ max(w, 0) / ∫ φ max(w, 0)
/// by Simpson quadrature on [−10, 10]² (801² nodes: error far below the Monte Carlo's). The
/// Edgeworth density is affine-covariant, so the two coordinate choices give one model. The row
/// agrees within 4 of its standard errors, and that standard error is at most 3·√(p(1−p)/N) for
/// N = `mc` draws (the importance weights cost at most a factor 3 here), so the tolerance is set
/// by the sample count; the Edgeworth row differs from the Gaussian row on the same draws by more
/// than the tolerance (the κ terms are seen). Here ∫φ max(w, 0) = 1.067 (the clipping is
/// exercised); over Monte Carlo seeds 21…32 the row's z = (p − quadrature)/se were 2.40, −0.96,
/// 0.83, 0.67, 0.28, −1.19, −0.02, −0.27, −0.16, −0.73, 0.38, −0.63 (adv60): unbiased, its
/// standard error right; seed 21, the first, is kept.
#[test]
fn edgeworth_confusion_row_matches_quadrature() {
    use corrflow::analysis::outputs::ClassOutputs;
    use corrflow::analysis::tails::output_tails;
    let (n, mc) = (20_000, 400_000);
    let mut rng = StdRng::seed_from_u64(11);
    let mut y = Mat::zeros(2, n);
    for s in 0..n {
        let g: [f64; 2] = [
            StandardNormal.sample(&mut rng),
            StandardNormal.sample(&mut rng),
        ];
        // Skewed and heavy on one side: a χ²-like first output, correlated second.
        y[(0, s)] = 0.3 + g[0] + 0.35 * (g[0] * g[0] - 1.0);
        y[(1, s)] = 0.6 * g[1] + 0.3 * g[0];
    }
    let outputs = ClassOutputs {
        classes: vec![0],
        per_class: vec![y.clone()],
    };
    let (tails, _) = output_tails(&outputs, mc, 21, None).unwrap();
    let (p, se) = tails.edgeworth_confusion.get(0, 0).unwrap();
    let bound = 3.0 * (p * (1.0 - p) / mc as f64).sqrt();
    assert!(se > 0.0 && se <= bound, "se {se} vs 3√(p(1−p)/N) {bound}");

    // Mean and 1/n covariance; whitening t = R L⁻¹ (y − ȳ), R turning Lᵀd (d = e₀ − e₁) onto e₀.
    let (mean, cov) = sample_mean_cov(&y);
    let c = |i: usize, j: usize| cov[(i, j)];
    let l00 = c(0, 0).sqrt();
    let l10 = c(1, 0) / l00;
    let l11 = (c(1, 1) - l10 * l10).sqrt();
    let a = [l00 - l10, -l11]; // Lᵀd
    let na = (a[0] * a[0] + a[1] * a[1]).sqrt();
    let r = [[a[0] / na, a[1] / na], [-a[1] / na, a[0] / na]];
    let whiten = |s: usize| {
        let v0 = (y[(0, s)] - mean[0]) / l00;
        let v1 = (y[(1, s)] - mean[1] - l10 * v0) / l11;
        [r[0][0] * v0 + r[0][1] * v1, r[1][0] * v0 + r[1][1] * v1]
    };
    let t: Vec<[f64; 2]> = (0..n).map(whiten).collect();
    let moment = |idx: &[usize]| sample_moment(&t, idx);
    let tuples = |m: usize| ordered_tuples(2, m);
    let k3: Vec<(Vec<usize>, f64)> = tuples(3)
        .into_iter()
        .map(|ix| {
            let v = moment(&ix);
            (ix, v)
        })
        .collect();
    let k4: Vec<(Vec<usize>, f64)> = tuples(4)
        .into_iter()
        .map(|ix| {
            let m2 = |a: usize, b: usize| moment(&[ix[a], ix[b]]);
            let v = moment(&ix) - (m2(0, 1) * m2(2, 3) + m2(0, 2) * m2(1, 3) + m2(0, 3) * m2(1, 2));
            (ix, v)
        })
        .collect();
    assert!(k3.iter().any(|(_, v)| v.abs() > 0.5), "a skewed class");
    let w = |u: [f64; 2]| {
        let s3: f64 = k3.iter().map(|(ix, v)| v * hermite_tensor(ix, u)).sum();
        let s4: f64 = k4.iter().map(|(ix, v)| v * hermite_tensor(ix, u)).sum();
        let mut s6 = 0.0;
        for (i, a) in &k3 {
            for (j, b) in &k3 {
                s6 += a * b * hermite_tensor(&[i.as_slice(), j.as_slice()].concat(), u);
            }
        }
        1.0 + s3 / 6.0 + s4 / 24.0 + s6 / 72.0
    };
    // y₀ ≥ y₁ ⇔ d·(y − ȳ) ≥ −d·ȳ ⇔ t₀ ≥ cut, since d·(y − ȳ) = (Lᵀd)·v = |Lᵀd| t₀.
    let cut = -(mean[0] - mean[1]) / na;
    let phi = normal_density;
    let integral = |t0s: &[(f64, f64)], t1s: &[(f64, f64)]| {
        let mut s = 0.0;
        for &(t0, w0) in t0s {
            for &(t1, w1) in t1s {
                s += w0 * w1 * phi(t0) * phi(t1) * w([t0, t1]).max(0.0);
            }
        }
        s
    };
    let grid = simpson(-10.0, 10.0, 800);
    let z = integral(&grid, &grid);
    let exact = integral(&simpson(cut, 10.0, 800), &grid) / z;
    assert!(z > 1.0, "the clipping matters here: ∫φ max(w, 0) = {z}");
    assert!(
        (p - exact).abs() < 4.0 * se,
        "Edgeworth P(argmax = 0) {p} ± {se} vs quadrature {exact}"
    );
    let gaussian = tails.per_class[0].gaussian;
    assert!(
        (gaussian - exact).abs() > 8.0 * bound,
        "Gaussian {gaussian} vs {exact}"
    );
}

/// The three-output quadrature reference of [`edgeworth_confusion_rows_of_three_outputs_match_quadrature`]:
/// P(argmax y = k) under the clipped Edgeworth density φ max(w, 0)/Z of the samples `y` (3 × n),
/// computed independently of `tails`. Whitening v = L⁻¹(y − ȳ) by Cholesky (not `tails`'
/// eigenvectors), then an orthonormal basis t = Qᵀ v whose first two axes span the whitened
/// directions Lᵀ(e_j − e_k) of the three decision boundaries, so that every boundary is a line
/// in (t₀, t₁) and t₂ runs free. The weight w(t) = 1 + κ₃·H₃/6 + κ₄·H₄/24 + κ₃κ₃·H₆/72 is summed
/// over all ordered index tuples of t's sample cumulants with tensor Hermite polynomials,
/// collected by multi-index. The three regions are sectors about the apex where y₀ = y₁ = y₂:
/// P_k = ∫_sector dθ ∫₀^R r dr ∫ dt₂ φ₃(t) max(w(t), 0), composite Simpson in θ (`arc` nodes
/// per sector), r ∈ [0, 10 + |apex|] and t₂ ∈ [−10, 10], so the boundaries are exact; Z = Σ P_k.
fn edgeworth_row_by_quadrature(y: &Mat<f64>, arc: usize, radial: usize) -> ([f64; 3], f64) {
    let n = y.ncols();
    let (mean, cov) = sample_mean_cov(y);
    let c = |i: usize, j: usize| cov[(i, j)];
    // Cholesky C = L Lᵀ.
    let mut l = [[0.0f64; 3]; 3];
    for i in 0..3 {
        for j in 0..=i {
            let s = c(i, j) - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            l[i][j] = if i == j { s.sqrt() } else { s / l[j][j] };
        }
    }
    let dot = |a: [f64; 3], b: [f64; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
    // Lᵀ(e_j − e_k): row j of Lᵀ is column j of L.
    let lt_diff = |j: usize, k: usize| -> [f64; 3] { std::array::from_fn(|m| l[j][m] - l[k][m]) };
    let a1 = lt_diff(0, 1);
    let a2 = lt_diff(0, 2);
    let unit = |a: [f64; 3]| {
        let na = dot(a, a).sqrt();
        a.map(|x| x / na)
    };
    let q0 = unit(a1);
    let p = dot(a2, q0);
    let q1 = unit(std::array::from_fn(|m| a2[m] - p * q0[m]));
    let q2 = [
        q0[1] * q1[2] - q0[2] * q1[1],
        q0[2] * q1[0] - q0[0] * q1[2],
        q0[0] * q1[1] - q0[1] * q1[0],
    ];
    let q = [q0, q1, q2];
    let t: Vec<[f64; 3]> = (0..n)
        .map(|s| {
            let mut v = [0.0; 3];
            for i in 0..3 {
                let r = y[(i, s)] - mean[i] - (0..i).map(|k| l[i][k] * v[k]).sum::<f64>();
                v[i] = r / l[i][i];
            }
            q.map(|qi| dot(qi, v))
        })
        .collect();
    let moment = |idx: &[usize]| sample_moment(&t, idx);
    let tuples = |m: usize| ordered_tuples(3, m);
    // coef[n0][n1][n2] of He_{n0}(t₀) He_{n1}(t₁) He_{n2}(t₂), degrees ≤ 6.
    let mut coef = [[[0.0f64; 7]; 7]; 7];
    let mut add = |idx: &[usize], v: f64| {
        let count = |a: usize| idx.iter().filter(|&&i| i == a).count();
        coef[count(0)][count(1)][count(2)] += v;
    };
    let k3: Vec<(Vec<usize>, f64)> = tuples(3)
        .into_iter()
        .map(|ix| {
            let v = moment(&ix);
            (ix, v)
        })
        .collect();
    for (ix, v) in &k3 {
        add(ix, v / 6.0);
    }
    for ix in tuples(4) {
        let m2 = |a: usize, b: usize| moment(&[ix[a], ix[b]]);
        let v = moment(&ix) - (m2(0, 1) * m2(2, 3) + m2(0, 2) * m2(1, 3) + m2(0, 3) * m2(1, 2));
        add(&ix, v / 24.0);
    }
    for (i, a) in &k3 {
        for (j, b) in &k3 {
            add(&[i.as_slice(), j.as_slice()].concat(), a * b / 72.0);
        }
    }
    assert!(k3.iter().any(|(_, v)| v.abs() > 0.5), "a skewed class");
    let he = |x: f64| -> [f64; 7] { std::array::from_fn(|m| hermite(m, x)) };
    let phi = normal_density;
    let free: Vec<([f64; 7], f64)> = simpson(-10.0, 10.0, radial)
        .into_iter()
        .map(|(x, w)| (he(x), w * phi(x)))
        .collect();
    // ∫ dt₂ φ₃(t) max(w, 0) at (t₀, t₁).
    let plane = |t0: f64, t1: f64| {
        let (h0, h1) = (he(t0), he(t1));
        let mut by_t2 = [0.0f64; 7];
        for (n0, c0) in coef.iter().enumerate() {
            for (n1, c01) in c0.iter().enumerate() {
                for (n2, &v) in c01.iter().enumerate() {
                    by_t2[n2] += v * h0[n0] * h1[n1];
                }
            }
        }
        let s: f64 = free
            .iter()
            .map(|(h2, w)| {
                let wt = 1.0 + (0..7).map(|m| by_t2[m] * h2[m]).sum::<f64>();
                w * wt.max(0.0)
            })
            .sum();
        phi(t0) * phi(t1) * s
    };
    // Boundary y_j = y_k in (t₀, t₁): β_jk · t = −(ȳ_j − ȳ_k), β_jk = (q₀, q₁) · Lᵀ(e_j − e_k).
    let beta = |j: usize, k: usize| {
        let b = lt_diff(j, k);
        [dot(q0, b), dot(q1, b)]
    };
    assert!(
        dot(q2, lt_diff(1, 2)).abs() < 1e-12,
        "every boundary lies in (t₀, t₁)"
    );
    let (b1, b2) = (beta(0, 1), beta(0, 2));
    let (r1, r2) = (-(mean[0] - mean[1]), -(mean[0] - mean[2]));
    let det = b1[0] * b2[1] - b1[1] * b2[0];
    let apex = [
        (r1 * b2[1] - r2 * b1[1]) / det,
        (b1[0] * r2 - b2[0] * r1) / det,
    ];
    // The winner along direction θ from the apex, and the boundary rays' angles.
    let winner = |th: f64| {
        let w = [th.cos(), th.sin()];
        (0..3)
            .find(|&k| (0..3).all(|j| j == k || beta(k, j)[0] * w[0] + beta(k, j)[1] * w[1] >= 0.0))
            .unwrap()
    };
    let tau = 2.0 * std::f64::consts::PI;
    let mut rays: Vec<f64> = [(0, 1), (0, 2), (1, 2)]
        .iter()
        .map(|&(j, k)| {
            let b = beta(j, k);
            let perp = b[0].atan2(-b[1]);
            // Of the two directions along the boundary, the one where j and k beat the third.
            let other = 3 - j - k;
            [perp, perp + std::f64::consts::PI]
                .into_iter()
                .find(|&th| {
                    let b = beta(j, other);
                    b[0] * th.cos() + b[1] * th.sin() > 0.0
                })
                .unwrap()
                .rem_euclid(tau)
        })
        .collect();
    rays.sort_by(f64::total_cmp);
    let reach = 10.0 + (apex[0] * apex[0] + apex[1] * apex[1]).sqrt();
    let radii = simpson(0.0, reach, radial);
    let mut p = [0.0f64; 3];
    for s in 0..3 {
        let (lo, hi) = (rays[s], if s == 2 { rays[0] + tau } else { rays[s + 1] });
        let k = winner(0.5 * (lo + hi));
        for (th, wt) in simpson(lo, hi, arc) {
            let (ct, st) = (th.cos(), th.sin());
            for &(r, wr) in &radii {
                p[k] += wt * wr * r * plane(apex[0] + r * ct, apex[1] + r * st);
            }
        }
    }
    let z: f64 = p.iter().sum();
    (p.map(|x| x / z), z)
}

/// The Edgeworth model's confusion row of a 3-output class against an independent quadrature
/// ([`edgeworth_row_by_quadrature`]), on the class's own draws (no start layers) and on start
/// layer L's draws (its Gaussian given as the class's sample mean and 1/n covariance, so that the
/// weight is taken at u = T z, `tails::to_whitened`): the path with three or more outputs that
/// the 2-output test does not reach. Each entry agrees within 4 of its standard errors, and each
/// standard error is at most 3·√(p(1−p)/N) for N = `mc` draws, so the tolerance is set by the
/// sample count; the Edgeworth row differs from the Gaussian row by more than the tolerance (the
/// κ terms are seen) and the clipping is exercised (here ∫φ max(w, 0) = 1.115). The quadrature at
/// (arc, radial) = (96, 320) and (160, 480) nodes differs by less than 10⁻⁶ in every entry
/// (checked when this was written; the test runs the coarser one), far below the standard errors
/// (~1.2·10⁻³). Over Monte Carlo seeds 23…82 (the start layer's seed varied with it) the
/// entries' z = (p − quadrature)/se had means −0.03, 0.10, 0.00 and standard deviations 0.98,
/// 0.93, 0.99 on the own draws, −0.03, 0.04, 0.00 and 0.83, 1.13, 0.91 on start layer L's:
/// unbiased, the standard errors right; the seeds 22 and 5 below are the first tried. It fails
/// with `weight`'s κ₃² term −9|Q|² as −8|Q|² (own draws: 0.3692 vs 0.3414, 24 se) and with
/// `to_whitened` dividing by ‖f_a‖ instead of ‖f_a‖² (start layer L's draws only: 0.3971 vs
/// 0.3414, 34 se; the 2-output test does not reach that path).
#[test]
fn edgeworth_confusion_rows_of_three_outputs_match_quadrature() {
    use corrflow::analysis::outputs::ClassOutputs;
    use corrflow::analysis::tails::{output_tails, StartGaussians};
    let (n, mc) = (20_000, 400_000);
    let mut rng = StdRng::seed_from_u64(12);
    let mut y = Mat::zeros(3, n);
    for s in 0..n {
        let g: [f64; 3] = std::array::from_fn(|_| StandardNormal.sample(&mut rng));
        // Skewed on both sides: a χ²-like first output, a correlated second, a third skewed
        // the other way.
        y[(0, s)] = 0.3 + g[0] + 0.35 * (g[0] * g[0] - 1.0);
        y[(1, s)] = 0.6 * g[1] + 0.3 * g[0];
        y[(2, s)] = 0.1 + 0.5 * g[2] - 0.25 * (g[1] * g[1] - 1.0) + 0.2 * g[0];
    }
    let (exact, z) = edgeworth_row_by_quadrature(&y, 96, 320);
    assert!(z > 1.0, "the clipping matters here: ∫φ max(w, 0) = {z}");
    assert!(
        exact.iter().all(|&p| p > 0.05),
        "every entry non-trivial: {exact:?}"
    );

    let outputs = ClassOutputs {
        classes: vec![0],
        per_class: vec![y.clone()],
    };
    let (mean, cov) = sample_mean_cov(&y);
    let start = [StartGaussians {
        layers: vec![(mean.as_ref(), cov.as_ref())],
        seed: 5,
    }];
    for (path, start) in [
        ("own draws", None),
        ("start layer L's draws", Some(&start[..])),
    ] {
        let (tails, _) = output_tails(&outputs, mc, 22, start).unwrap();
        assert_eq!(tails.per_class[0].start_draws, start.is_some(), "{path}");
        for (k, &e) in exact.iter().enumerate() {
            let (p, se) = tails.edgeworth_confusion.get(0, k).unwrap();
            let bound = 3.0 * (p * (1.0 - p) / mc as f64).sqrt();
            assert!(
                se > 0.0 && se <= bound,
                "{path}: se {se} vs 3√(p(1−p)/N) {bound}"
            );
            assert!(
                (p - e).abs() < 4.0 * se,
                "{path}: Edgeworth P(argmax = {k}) {p} ± {se} vs quadrature {e}"
            );
        }
        let gaussian = tails.per_class[0].gaussian;
        let bound = 3.0 * (exact[0] * (1.0 - exact[0]) / mc as f64).sqrt();
        assert!(
            (gaussian - exact[0]).abs() > 8.0 * bound,
            "{path}: Gaussian {gaussian} vs {exact:?}"
        );
    }
}
