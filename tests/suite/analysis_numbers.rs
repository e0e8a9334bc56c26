//! The analysis modules against cases with known answers: a linear network on Gaussian classes
//! (the Gaussian description is exact), the Bhattacharyya split in closed form, the quadratic
//! transfer terms adding up to the measured moments, and the within-class covariance.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::SeedableRng;

use corrflow::analysis::accuracy::{theory_accuracy, AccuracyOptions};
use corrflow::analysis::information::stage_information;
use corrflow::analysis::surrogate::{surrogate_accuracy, within_class_covariance};
use corrflow::analysis::transfer::quadratic_transfer;
use corrflow::data::Dataset;
use corrflow::measure::{layer_stats, layer_stats_timed, Higher};
use corrflow::net::Stage;
use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::EngineSettings;
use corrflow::stats::gaussian::GaussianSampler;
use corrflow::stats::Moments;
use corrflow::timing::Timings;

/// `counts[c]` samples of N(means[c], covs[c]) per class, classes in blocks.
fn gaussian_classes(means: &[Col<f64>], covs: &[Mat<f64>], counts: &[usize], seed: u64) -> Dataset {
    let d = means[0].nrows();
    let total: usize = counts.iter().sum();
    let mut x = Mat::zeros(d, total);
    let mut labels = Vec::new();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut at = 0;
    for (c, &n) in counts.iter().enumerate() {
        let s = GaussianSampler::new(means[c].as_ref(), covs[c].as_ref()).unwrap();
        x.as_mut()
            .subcols_mut(at, n)
            .copy_from(s.sample(n, &mut rng));
        labels.extend(std::iter::repeat_n(c as u32, n));
        at += n;
    }
    Dataset {
        x,
        labels,
        n_classes: counts.len(),
    }
}

/// A random SPD matrix A Aᵀ/d + 0.3 I.
fn spd(d: usize, seed: u64) -> Mat<f64> {
    let z = GaussianSampler::new(Col::zeros(d).as_ref(), Mat::<f64>::identity(d, d).as_ref())
        .unwrap()
        .sample(d, &mut StdRng::seed_from_u64(seed));
    Mat::from_fn(d, d, |i, j| {
        (0..d).map(|k| z[(i, k)] * z[(j, k)]).sum::<f64>() / d as f64
            + if i == j { 0.3 } else { 0.0 }
    })
}

/// With a linear network and Gaussian classes the output is exactly Gaussian, so the predicted
/// accuracy from every start layer must equal the measured one up to (a) the Monte Carlo error
/// `stderr` of the prediction and (b) the binomial error √(A(1−A)/n) of the measured fraction
/// on n samples. The plug-in moments add an error of order √(d/n)·|∂A/∂θ|, below (b) here
/// (d ≤ 6, n = 24 000). Tolerance: 4 standard deviations of (a) and (b) combined.
#[test]
fn linear_network_on_gaussian_classes_predicts_its_accuracy() {
    for (n_classes, mc) in [(3usize, 400_000usize), (2, 4)] {
        let d = 6;
        let means: Vec<Col<f64>> = (0..n_classes)
            .map(|c| Col::from_fn(d, |i| 0.6 * ((c * 7 + i * 3) % 5) as f64 - 1.0))
            .collect();
        let covs: Vec<Mat<f64>> = (0..n_classes).map(|c| spd(d, 10 + c as u64)).collect();
        let counts: Vec<usize> = (0..n_classes).map(|c| 6000 + 6000 * c).collect();
        let data = gaussian_classes(&means, &covs, &counts, 3);
        let mut net = Mlp::init(&[d, 5, 4, n_classes], Activation::Linear, 1.0, 4).unwrap();
        for (l, layer) in net.layers.iter_mut().enumerate() {
            layer.b = Col::from_fn(layer.b.nrows(), |i| 0.1 * (i as f64 - l as f64));
        }
        let measuring = Timings::new();
        let stats = layer_stats_timed(&net, &data, Higher::None, 4096, &measuring).unwrap();
        // Forward pass 2·Σ NₗNₗ₋₁ per sample; statistics d(d+1) per sample and stage (the lower
        // triangle of the Gram), stages x, h¹, z¹, h², z², y of widths 6, 5, 5, 4, 4, C.
        let n = data.len();
        let recorded = |t: &Timings, stage: &str| {
            let s = t.stages().into_iter().find(|s| s.stage == stage);
            s.unwrap_or_else(|| panic!("no {stage} stage")).flops
        };
        let sq = |d: usize| d * (d + 1);
        let forward = 2 * (5 * 6 + 4 * 5 + n_classes * 4) * n;
        let moments = (sq(6) + 2 * sq(5) + 2 * sq(4) + sq(n_classes)) * n;
        // The forward passes and the per-batch statistics overlap: one stage with both counts;
        // the conversion at the end ("statistics") is not counted.
        assert_eq!(
            recorded(&measuring, "forward pass + statistics"),
            (forward + moments) as f64
        );
        assert_eq!(recorded(&measuring, "statistics"), 0.0);
        let timings = Timings::new();
        let theory = theory_accuracy(
            &net,
            &stats,
            AccuracyOptions {
                method: ClosureMethod::Auto,
                mc_samples: mc,
                seed: 9,
                engine: EngineSettings::default(),
            },
            &timings,
        )
        .unwrap();
        assert_eq!(theory.len(), 3, "start layers 0, 1, 2");
        // The affine maps are recorded with their exact flop count, 2·o·i² + o(o+1)·i per class
        // for W of o × i: 6→5→4→C from layer 0, 5→4→C from 1, 4→C from 2, all classes at once.
        let flops = |o: usize, i: usize| (2 * o * i * i + o * (o + 1) * i) as f64;
        let c = n_classes;
        let affine = timings.stages().into_iter().find(|s| s.stage == "affine");
        let affine = affine.expect("an affine stage");
        assert_eq!(affine.calls, 6);
        assert_eq!(
            affine.flops,
            c as f64 * (flops(5, 6) + 2.0 * flops(4, 5) + 3.0 * flops(c, 4))
        );
        // Monte Carlo: per class and start layer, the eigendecomposition's 10c³/3 and the spread
        // of mc/2 antithetic pairs, 2c²·mc/2; closed form (no flops) for 2 outputs.
        let per_class = if c >= 3 {
            10.0 * (c as f64).powi(3) / 3.0 + (2 * c * c * (mc / 2)) as f64
        } else {
            0.0
        };
        let mc_flops = recorded(&timings, "Monte Carlo argmax");
        let want = 3.0 * c as f64 * per_class;
        assert!(
            (mc_flops - want).abs() <= 1e-12 * want,
            "{mc_flops} vs {want}"
        );
        let measured = net.accuracy(&data);
        let n = data.len() as f64;
        assert!(
            measured > 0.45 && measured < 0.98,
            "a non-trivial task: {measured}"
        );
        for t in &theory {
            if n_classes == 2 {
                assert_eq!(t.stderr, 0.0, "2 outputs are exact");
            } else {
                assert!(t.stderr > 0.0 && t.stderr < 2e-3);
            }
            let sigma = (t.stderr.powi(2) + measured * (1.0 - measured) / n).sqrt();
            assert!(
                (t.accuracy - measured).abs() < 4.0 * sigma,
                "{n_classes} classes, from layer {}: theory {} vs measured {measured} (σ {sigma})",
                t.start_layer,
                t.accuracy
            );
            let priors: f64 = t.per_class.iter().map(|p| p.prior).sum();
            assert!((priors - 1.0).abs() < 1e-12);
        }
    }
}

/// Two Gaussians with diagonal covariances: mean term ⅛ Σᵢ Δμᵢ² / s̄ᵢ, covariance term
/// ½ Σᵢ ln(s̄ᵢ / √(s₁ᵢ s₂ᵢ)), s̄ = (s₁ + s₂)/2; a rotation leaves both unchanged.
#[test]
fn bhattacharyya_split_matches_the_closed_form() {
    let (s1, s2): ([f64; 3], [f64; 3]) = ([1.0, 2.0, 0.5], [3.0, 2.0, 0.25]);
    let (m1, m2): ([f64; 3], [f64; 3]) = ([0.0, 1.0, -1.0], [2.0, 0.0, -1.0]);
    let mut mean_term = 0.0;
    let mut cov_term = 0.0;
    for i in 0..3 {
        let sbar = 0.5 * (s1[i] + s2[i]);
        mean_term += (m1[i] - m2[i]).powi(2) / sbar / 8.0;
        cov_term += 0.5 * (sbar / (s1[i] * s2[i]).sqrt()).ln();
    }
    // Rotate by an orthogonal Q (Householder): Q diag Qᵀ, Q μ.
    let v = [1.0, -2.0, 0.5];
    let vv: f64 = v.iter().map(|x| x * x).sum();
    let q = Mat::from_fn(
        3,
        3,
        |i, j| if i == j { 1.0 } else { 0.0 } - 2.0 * v[i] * v[j] / vv,
    );
    let rotate = |m: [f64; 3], s: [f64; 3]| {
        Moments::gaussian(
            Col::from_fn(3, |i| (0..3).map(|k| q[(i, k)] * m[k]).sum()),
            Mat::from_fn(3, 3, |i, j| {
                (0..3).map(|k| q[(i, k)] * s[k] * q[(j, k)]).sum()
            }),
        )
    };
    let classes = [rotate(m1, s1), rotate(m2, s2), rotate(m1, s1)];
    let info = stage_information(Stage::Post(1), 2, &classes, 0.0).unwrap();
    assert_eq!(info.stage, "z1");
    assert_eq!(info.pairs.len(), 3);
    for p in &info.pairs {
        let (m, c) = if (p.a, p.b) == (0, 2) {
            (0.0, 0.0)
        } else {
            (mean_term, cov_term)
        };
        assert!((p.mean_term - m).abs() < 1e-12, "{p:?} mean term vs {m}");
        assert!((p.cov_term - c).abs() < 1e-12, "{p:?} cov term vs {c}");
        assert_eq!(p.jitter, 0.0);
    }
    assert!((info.mean_term - 2.0 * mean_term / 3.0).abs() < 1e-12);
    assert!((info.cov_term - 2.0 * cov_term / 3.0).abs() < 1e-12);
}

/// The quadratic closure is exact for sample moments, so the transfer terms of every layer
/// must add up to the measured mean and covariance of zˡ (to rounding), on skewed inputs where
/// the κ₃/κ₄ terms are not small.
#[test]
fn quadratic_transfer_terms_add_up_to_the_measured_moments() {
    let split = corrflow::data::HigherOrderConfig {
        dim: 6,
        n_train: 4000,
        n_test: 10,
        ..Default::default()
    }
    .generate()
    .unwrap();
    let data = split.train;
    let mut net = Mlp::init(&[6, 8, 5, 2], Activation::Quadratic { alpha: 0.4 }, 1.0, 2).unwrap();
    net.layers[0].b = Col::from_fn(8, |i| 0.2 * i as f64 - 0.5);
    let stats = layer_stats(&net, &data, Higher::Pre, 512).unwrap();
    let transfer = quadratic_transfer(&net, &stats)
        .unwrap()
        .expect("quadratic");
    assert_eq!(transfer.len(), 2);
    for t in &transfer {
        assert!(t.residual_mean < 1e-9, "{t:?}");
        assert!(t.residual_cov < 1e-9, "{t:?}");
        let m: f64 = t.mean_terms.iter().filter_map(|x| x.share).sum();
        let c: f64 = t.cov_terms.iter().filter_map(|x| x.share).sum();
        assert!((m - 1.0).abs() < 1e-12 && (c - 1.0).abs() < 1e-12);
        let shares = (t.cov_feeds_mean.unwrap(), t.higher_feeds_cov.unwrap());
        assert!(shares.0 > 0.0 && shares.1 > 0.01, "{t:?}");
    }
    let relu = Mlp::init(&[6, 8, 2], Activation::Relu, 1.0, 2).unwrap();
    let stats = layer_stats(&relu, &data, Higher::None, 512).unwrap();
    assert!(quadratic_transfer(&relu, &stats).unwrap().is_none());
}

/// A quadratic layer whose every pre-activation sits on a root of φ(h) = h + h²/2 (h ∈ {0, −2}):
/// zˡ = 0 for every sample while hˡ has a mean, a spread and κ₃/κ₄, whose terms cancel to
/// rounding. Their residual was divided by the measured moment, 0: inf, and `analyze --json`
/// and `--report` refused the run (adv61). Divided by its floor √ε·Σ‖T_k‖ (adv62), rounding of
/// c·ε·Σ‖T_k‖ reads c·√ε: below 10⁻⁶ for c up to 64 (a sum of 8 terms of moments of 150
/// samples each rounds at a few ε of its terms).
#[test]
fn transfer_residual_of_a_layer_on_the_roots_of_phi_is_rounding() {
    let n = 300;
    // Feature 0 is 1 in a third of class 0's samples and two thirds of class 1's.
    let x = Mat::from_fn(2, n, |i, j| match i {
        0 => f64::from(u8::from((j % 3 == 0) == (j < n / 2))),
        _ => (j as f64 * 0.37).sin(),
    });
    let labels = (0..n).map(|j| u32::from(j >= n / 2)).collect();
    let data = Dataset {
        x,
        labels,
        n_classes: 2,
    };
    let mut net = Mlp::init(&[2, 2, 2], Activation::Quadratic { alpha: 0.5 }, 1.0, 3).unwrap();
    net.layers[0].w = Mat::from_fn(2, 2, |_, j| if j == 0 { -2.0 } else { 0.0 });
    net.layers[0].b = Col::zeros(2);
    let stats = layer_stats(&net, &data, Higher::Pre, 512).unwrap();
    let z = stats.get(Stage::Post(1)).unwrap();
    assert!(z
        .per_class
        .iter()
        .all(|m| m.mean.norm_l2() == 0.0 && m.cov.norm_l2() == 0.0));
    let h = stats.get(Stage::Pre(1)).unwrap();
    assert!(h.per_class.iter().all(|m| m.cov[(0, 0)] > 0.1));
    let transfer = quadratic_transfer(&net, &stats)
        .unwrap()
        .expect("quadratic");
    let t = &transfer[0];
    assert!(t.residual_mean < 1e-6 && t.residual_cov < 1e-6, "{t:?}");
    assert!(t.cov_feeds_mean.is_some_and(|s| s > 0.0), "{t:?}");
}

/// Σ_w = Σ_c p(c)Σ_c (not the mixture covariance), and on Gaussian classes the network's
/// accuracy on order-2 surrogates equals its accuracy on the real data within the two binomial
/// errors (4σ); order-1 surrogates with different class covariances give a different answer.
#[test]
fn surrogates_use_the_within_class_covariance_and_match_gaussian_data() {
    let d = 4;
    let means = [
        Col::from_fn(d, |i| 0.3 * i as f64),
        Col::from_fn(d, |i| -0.2 * i as f64),
    ];
    let covs = [
        spd(d, 1),
        Mat::from_fn(d, d, |i, j| if i == j { 4.0 } else { 0.0 }),
    ];
    let data = gaussian_classes(&means, &covs, &[8000, 16000], 5);
    let stats = layer_stats(
        &Mlp::init(&[d, 2], Activation::Linear, 1.0, 1).unwrap(),
        &data,
        Higher::None,
        4096,
    )
    .unwrap();
    let input = stats.get(Stage::Input).unwrap();
    let sw = within_class_covariance(input).unwrap();
    for i in 0..d {
        for j in 0..d {
            let want = (8000.0 * input.per_class[0].cov[(i, j)]
                + 16000.0 * input.per_class[1].cov[(i, j)])
                / 24000.0;
            assert!((sw[(i, j)] - want).abs() < 1e-12);
        }
    }
    // A quadratic read-out of ‖x‖² separates the classes by their covariance.
    let mut net = Mlp::init(&[d, d, 2], Activation::Quadratic { alpha: 1.0 }, 1.0, 1).unwrap();
    net.layers[0].w = Mat::identity(d, d);
    net.layers[1].w = Mat::from_fn(2, d, |c, _| if c == 0 { -1.0 } else { 1.0 });
    net.layers[1].b = Col::from_fn(2, |c| if c == 0 { 8.0 } else { -8.0 });
    let s = surrogate_accuracy(&net, (&data, net.accuracy(&data)), input, None, 11).unwrap();
    assert_eq!(s.order2.n_samples, 24000);
    let sigma = (s.order2.stderr.powi(2) + s.real.stderr.powi(2)).sqrt();
    assert!(
        (s.order2.accuracy - s.real.accuracy).abs() < 4.0 * sigma,
        "order 2 {} vs real {}",
        s.order2.accuracy,
        s.real.accuracy
    );
    assert!(
        (s.order1.accuracy - s.real.accuracy).abs() > 10.0 * sigma,
        "order 1 {} should differ from real {}",
        s.order1.accuracy,
        s.real.accuracy
    );
    assert_eq!(s.order2.dropped_directions, 0);
    let few = surrogate_accuracy(&net, (&data, net.accuracy(&data)), input, Some(100), 11).unwrap();
    assert_eq!(few.order1.n_samples, 200);
    assert!(surrogate_accuracy(&net, (&data, net.accuracy(&data)), input, Some(0), 11).is_err());
}

/// One quadratic hidden layer: with the measured κ₃/κ₄ of h¹ the closure gives z¹'s sample
/// mean and covariance exactly, and the read-out is affine, so the corrected theory from the
/// input must equal the theory from z¹ (2 outputs: both exact, equal to rounding). Without the
/// corrections, on the higher-order task (class only in κ₃), the input theory is at chance.
#[test]
fn corrected_input_theory_equals_theory_from_the_first_layer() {
    use corrflow::analysis::accuracy::corrected_input_accuracy;
    let data = corrflow::data::HigherOrderConfig {
        n_train: 6000,
        n_test: 10,
        ..Default::default()
    }
    .generate()
    .unwrap()
    .train;
    let mut net = Mlp::init(&[10, 12, 2], Activation::Quadratic { alpha: 0.5 }, 1.0, 3).unwrap();
    net.layers[0].b = Col::from_fn(12, |i| 0.1 * i as f64 - 0.6);
    let stats = layer_stats(&net, &data, Higher::Pre, 1024).unwrap();
    let opts = AccuracyOptions {
        method: ClosureMethod::Auto,
        mc_samples: 4,
        seed: 1,
        engine: EngineSettings::default(),
    };
    let plain = theory_accuracy(&net, &stats, opts, &Timings::disabled()).unwrap();
    let (corrected, fallbacks) =
        corrected_input_accuracy(&net, &stats, opts, Corrections::None, &Timings::disabled())
            .unwrap()
            .unwrap();
    assert_eq!(
        fallbacks.units + fallbacks.pairs,
        0,
        "the quadratic closure never falls back"
    );
    assert!(
        (corrected.accuracy - plain[1].accuracy).abs() < 1e-9,
        "corrected from x {} vs from z1 {}",
        corrected.accuracy,
        plain[1].accuracy
    );
    assert!(
        (plain[0].accuracy - 0.5).abs() < 0.02,
        "Gaussian input theory sees no class: {}",
        plain[0].accuracy
    );
    let relu = Mlp::init(&[10, 12, 2], Activation::Relu, 1.0, 3).unwrap();
    let stats = layer_stats(&relu, &data, Higher::Pre, 1024).unwrap();
    assert!(
        corrected_input_accuracy(&relu, &stats, opts, Corrections::None, &Timings::disabled())
            .unwrap()
            .is_none()
    );
    // At order 3 the relu network's input theory sees the class (its κ₃) too.
    let (relu3, _) =
        corrected_input_accuracy(&relu, &stats, opts, Corrections::K3, &Timings::disabled())
            .unwrap()
            .unwrap();
    assert_eq!(relu3.start_stage, "x (+κ₃ at h1)");
}
