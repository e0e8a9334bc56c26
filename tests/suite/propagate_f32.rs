//! `--precision f32` against f64: every propagated stage (mean and covariance) of random
//! networks of each activation — f32 closures (relu, leaky relu, quadratic, linear) and the f64
//! fallback (tanh, erf) — and of a relu layer on real MNIST statistics, within the stated error;
//! the hidden stages held in f32 at half the bytes.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use corrflow::analysis::accuracy::{theory_accuracy, AccuracyOptions};
use corrflow::data::MnistConfig;
use corrflow::measure::{layer_stats, Higher};
use corrflow::net::{Activation, Mlp, Precision};
use corrflow::propagate::affine::AffineStrategy;
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{EngineSettings, Predicted, PropagateOptions, Propagator};
use corrflow::stats::gaussian::relative_frobenius;
use corrflow::stats::Moments;
use corrflow::timing::Timings;

use super::common::mnist_dir;

const GAUSSIAN: PropagateOptions = PropagateOptions {
    method: ClosureMethod::Auto,
    corrections: Corrections::None,
};

/// The stated error of f32 propagation relative to f64 (Frobenius, per stage): every entry of an
/// affine map is an inner product of length N, whose f32 rounding is at most γ_N ≈ N·u relative
/// to Σ|terms| (u = 2⁻²⁴; Higham, *Accuracy and Stability*, §3.1), the start Σ's own rounding
/// is u, and the closures pass errors on with gain ≲ 1 (they are Lipschitz with constant
/// max|φ'| ≈ 1 here), so the errors of the maps add: (maps + 1) × max N × 2u.
fn stated_error(net: &Mlp, from: usize) -> f64 {
    let maps = (net.layers.len() - from) as f64;
    let widest = net.widths().into_iter().max().unwrap_or(1) as f64;
    (maps + 1.0) * widest * f64::from(f32::EPSILON)
}

/// Every stage of `start` propagated from `from` in f64 and in f32.
fn both(net: &Mlp, from: usize, start: &[Moments]) -> (Vec<Predicted>, Vec<Predicted>) {
    let run = |precision| {
        let mut engine = Propagator::with_settings(precision, AffineStrategy::Dense);
        engine
            .run(net, from, start, None, GAUSSIAN, &Timings::disabled())
            .unwrap();
        engine.into_stages()
    };
    (run(Precision::F64), run(Precision::F32))
}

/// The largest relative error of f32 against f64 over every stage and class: Frobenius for Σ,
/// Euclidean for μ.
fn worst_error(f64s: &[Predicted], f32s: &[Predicted]) -> f64 {
    let mut worst = 0.0f64;
    for (a, b) in f64s.iter().zip(f32s) {
        assert_eq!(a.stage, b.stage);
        assert_eq!(a.classes(), b.classes());
        for c in 0..a.classes() {
            let cov = relative_frobenius(b.cov(c).as_ref().as_ref(), a.cov(c).as_ref().as_ref());
            let (x, y) = (a.mean(c), b.mean(c));
            let mean = (y - x).norm_l2() / x.norm_l2().max(f64::MIN_POSITIVE);
            let cov = cov.unwrap();
            worst = worst.max(cov).max(mean);
        }
    }
    worst
}

/// The storage of an f32 propagation: every hidden stage's Σ held in f32 only, at half the
/// bytes of f64's (the means, N per class, stay f64), and the output y in f64 for its readers.
/// An f32 stage refuses to lend f64 moments (whose covariance slot is empty there).
fn assert_storage(f64s: &[Predicted], f32s: &[Predicted]) {
    let (last, hidden) = f32s.split_last().unwrap();
    let y = last.f64_moments().unwrap();
    assert!(!last.is_f32() && y.iter().all(|m| m.cov.nrows() == m.dim()));
    for (a, b) in f64s.iter().zip(hidden) {
        assert!(!a.is_f32() && b.is_f32(), "{}", b.stage);
        assert!(b.f64_moments().is_err(), "{}", b.stage);
        assert!((0..b.classes()).all(|c| b.cov(c).nrows() == b.mean(c).nrows()));
        let means: usize = (0..a.classes()).map(|c| 8 * a.mean(c).nrows()).sum();
        assert_eq!(2 * (b.bytes() - means), a.bytes() - means, "{}", b.stage);
    }
}

/// Per class: μ ~ N(0, 0.25 I) and Σ = F Fᵀ/r + 0.1 I for a Gaussian n × r F.
fn random_start(n: usize, classes: usize, seed: u64) -> Vec<Moments> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = move || -> f64 { StandardNormal.sample(&mut rng) };
    (0..classes)
        .map(|_| {
            let r = n / 2;
            let f = Mat::from_fn(n, r, |_, _| draw());
            let cov = &f * f.transpose() * (1.0 / r as f64) + Mat::<f64>::identity(n, n) * 0.1;
            Moments::gaussian(Col::from_fn(n, |_| 0.5 * draw()), cov)
        })
        .collect()
}

#[test]
fn random_networks_agree_with_f64_within_the_stated_error() {
    for (k, act) in [
        Activation::Relu,
        Activation::LeakyRelu { slope: 0.1 },
        Activation::Quadratic { alpha: 0.2 },
        Activation::Linear,
        Activation::Tanh,
        Activation::Erf,
    ]
    .into_iter()
    .enumerate()
    {
        let gain = if act == Activation::Relu {
            2f64.sqrt()
        } else {
            1.0
        };
        let net = Mlp::init(&[48, 64, 40, 10], act, gain, 7 + k as u64).unwrap();
        for from in [0, 1] {
            let width = net.widths()[from];
            let start = random_start(width, 3, 11 + k as u64);
            let (exact, single) = both(&net, from, &start);
            let (worst, bound) = (worst_error(&exact, &single), stated_error(&net, from));
            eprintln!("{act} from {from}: worst relative error {worst:.2e} (stated {bound:.2e})");
            assert!(
                worst <= bound,
                "{act} from layer {from}: {worst:e} > {bound:e}"
            );
            // The f32 path ran: its results carry f32 rounding.
            assert!(
                worst > f64::from(f32::EPSILON) / 64.0,
                "{act}: f32 path not taken"
            );
            assert_storage(&exact, &single);
        }
    }
}

/// A relu layer of 256 units on the real MNIST test set's class statistics (784 pixels, many
/// of them constant: Σ singular), propagated from the input: every stage within the stated
/// error, and the predicted accuracy within its Monte Carlo standard error of f64's.
#[test]
fn real_mnist_layer_agrees_with_f64() {
    let Some(dir) = mnist_dir() else {
        eprintln!("note: MNIST_DIR is unset or missing; skipping the real-MNIST f32 test");
        return;
    };
    let cache = tempfile::tempdir().unwrap();
    let mnist = MnistConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..MnistConfig::from_dir(&dir)
    }
    .load()
    .unwrap();
    let data = &mnist.split.test;
    let net = Mlp::init(&[784, 256, 10], Activation::Relu, 2f64.sqrt(), 5).unwrap();
    let stats = layer_stats(&net, data, Higher::None, 2048).unwrap();
    let start = &stats.get(corrflow::net::Stage::Input).unwrap().per_class;
    let (exact, single) = both(&net, 0, start);
    let (worst, bound) = (worst_error(&exact, &single), stated_error(&net, 0));
    eprintln!("MNIST 784-256-10 relu: worst relative error {worst:.2e} (stated {bound:.2e})");
    assert!(worst <= bound, "{worst:e} > {bound:e}");
    assert_storage(&exact, &single);
    let accuracy = |precision| {
        let opts = AccuracyOptions {
            method: ClosureMethod::Auto,
            mc_samples: 20_000,
            seed: 3,
            engine: EngineSettings {
                precision,
                affine: AffineStrategy::Dense,
            },
        };
        theory_accuracy(&net, &stats, opts, &Timings::disabled()).unwrap()
    };
    for (a, b) in accuracy(Precision::F64)
        .iter()
        .zip(accuracy(Precision::F32))
    {
        eprintln!(
            "A_{}: f64 {:.5} ± {:.5}, f32 {:.5}",
            a.start_layer, a.accuracy, a.stderr, b.accuracy
        );
        assert!(
            (a.accuracy - b.accuracy).abs() <= a.stderr,
            "A_{}",
            a.start_layer
        );
    }
}

/// An f32 engine that runs in f64 afterwards (as it does with κ corrections) hands on f64
/// stages only, equal to a fresh f64 engine's: no f32 covariance of the earlier run is left
/// behind for a reader to take.
#[test]
fn an_f32_engine_reused_in_f64_keeps_no_f32_stage() {
    let net = Mlp::init(&[24, 32, 16, 4], Activation::Relu, 2f64.sqrt(), 3).unwrap();
    let start = random_start(24, 2, 5);
    let mut engine = Propagator::with_settings(Precision::F32, AffineStrategy::Dense);
    let timings = Timings::disabled();
    engine
        .run(&net, 0, &start, None, GAUSSIAN, &timings)
        .unwrap();
    let pairs =
        corrflow::propagate::ClosurePair::for_layers(&net, ClosureMethod::Auto, true).unwrap();
    let closures: Vec<_> = pairs.iter().map(|p| p.closure.as_ref()).collect();
    let stages = engine
        .run_closure(
            &net,
            0,
            &start,
            None,
            &closures,
            Corrections::None,
            &timings,
        )
        .unwrap();
    let (exact, _) = both(&net, 0, &start);
    for (a, b) in exact.iter().zip(stages) {
        assert!(!b.is_f32(), "{}", b.stage);
        let (x, y) = (a.f64_moments().unwrap(), b.f64_moments().unwrap());
        for (x, y) in x.iter().zip(y) {
            assert_eq!(x.cov, y.cov, "{}", b.stage);
        }
    }
}

/// A covariance that overflows f32 (entries ~1e40 > 3.4e38, finite in f64) is an error naming
/// the entry and the f32 precision with the way out, not an ∞ handed on; f64 runs it.
#[test]
fn an_f32_covariance_that_overflows_is_an_error() {
    let mut net = Mlp::init(&[24, 32, 16, 4], Activation::Linear, 1.0, 3).unwrap();
    net.layers[0].w *= faer::Scale(1e20);
    let err = f32_error(&net);
    assert!(
        err.contains("(f32)") && err.contains("= inf") && err.contains("--precision f64"),
        "{err}"
    );
}

/// The error of `net`'s f32 propagation of a random start of 24 inputs, which f64 runs.
fn f32_error(net: &Mlp) -> String {
    let start = random_start(24, 2, 5);
    let mut exact = Propagator::with_settings(Precision::F64, AffineStrategy::Dense);
    exact
        .run(net, 0, &start, None, GAUSSIAN, &Timings::disabled())
        .unwrap();
    let mut engine = Propagator::with_settings(Precision::F32, AffineStrategy::Dense);
    engine
        .run(net, 0, &start, None, GAUSSIAN, &Timings::disabled())
        .unwrap_err()
        .to_string()
}

/// The same before an activation without f32 lanes (tanh: the f64 closure on the widened f32
/// stage said "Hermite series closure: cov[(0, 0)] = inf", naming neither f32 nor the way out)
/// and in the read-out, whose f32 update is widened to f64 for the output (it said "produced by
/// the f32 propagation" without the range or the way out; twenty-first session). f64 runs each.
#[test]
fn an_f32_overflow_before_a_closure_without_f32_lanes_or_in_the_read_out_names_the_way_out() {
    for (act, layer) in [
        (Activation::Tanh, 0),
        (Activation::Tanh, 2),
        (Activation::Relu, 2),
    ] {
        let mut net = Mlp::init(&[24, 32, 16, 4], act, 1.0, 3).unwrap();
        net.layers[layer].w *= faer::Scale(1e22);
        let err = f32_error(&net);
        assert!(
            err.contains("f32 overflows above 3.4e38") && err.contains("--precision f64"),
            "{act} ×1e22 at layer {layer}: {err}"
        );
    }
}

/// `propagate --json --threads 1 --precision PRECISION` of `model` on the data files `xy`
/// (train and test alike): the rows of its comparison ("layers").
fn kl_rows(
    model: &std::path::Path,
    xy: (&std::path::Path, &std::path::Path),
    precision: &str,
) -> Vec<serde_json::Value> {
    let (m, xs, ys) = (
        model.to_str().unwrap(),
        xy.0.to_str().unwrap(),
        xy.1.to_str().unwrap(),
    );
    let o = super::common::corrflow(&[
        "propagate",
        "--model",
        m,
        "--task",
        "data",
        "--train-x",
        xs,
        "--train-y",
        ys,
        "--test-x",
        xs,
        "--test-y",
        ys,
        "--threads",
        "1",
        "--json",
        "--precision",
        precision,
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    super::common::json(&o)["layers"]
        .as_array()
        .unwrap()
        .clone()
}

/// [`kl_rows`] of `net` (saved in `dir`) in f64 and in f32, of equal length.
fn f64_and_f32_rows(
    net: &Mlp,
    dir: &std::path::Path,
    xy: (&std::path::Path, &std::path::Path),
) -> (Vec<serde_json::Value>, Vec<serde_json::Value>) {
    let model = dir.join("m.safetensors");
    corrflow::net::model_io::save(net, &model, &[]).unwrap();
    let (wide, narrow) = (kl_rows(&model, xy, "f64"), kl_rows(&model, xy, "f32"));
    assert_eq!(wide.len(), narrow.len());
    (wide, narrow)
}

/// `propagate --precision f32 --json` against f64 on a relu network [4, 6, 2, 3] of three
/// blob classes: h¹ (6 units fed by 4 inputs) and y (3 outputs of 2 units) are singular by
/// construction. Their KL is null in f32: the KL's ridge (10⁻⁸ × the mean variance) lies
/// below f32's rounding of the dependent directions (~6·10⁻⁸‖Σ‖), so the ridged KL measured
/// that rounding — 0.19, 0.40, 1.4 at an h¹ whose f64 KL is 0 (the affine map is exact), or
/// null where the rounding went negative (adv73). The bound on the KL's rounding
/// (`kl_rounding`) sees it through the ridged direction (infinite: null). Every other stage
/// keeps its KL, within 10⁻³ (relative, or absolute below 1) of f64's: f32's rounding is
/// ~10⁻⁷ of each Σ and these stages are far from singular.
#[test]
fn an_f32_kl_of_a_stage_singular_by_construction_is_null() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(900, 3, 4, 7);
    let (xp, yp) = super::common::write_xy(dir.path(), "", &x, &y);
    let mut net = Mlp::init(&[4, 6, 2, 3], Activation::Relu, 1.5, 2).unwrap();
    for (i, b) in net.layers[0].b.iter_mut().enumerate() {
        *b = 0.3 * i as f64 - 0.8;
    }
    let (wide, narrow) = f64_and_f32_rows(&net, dir.path(), (&xp, &yp));
    let mut singular_rows = 0;
    for (w, n) in wide.iter().zip(&narrow) {
        let at = format!("layer {} {} class {}", w["layer"], w["stage"], w["class"]);
        let singular = (w["layer"] == 1 && w["stage"] == "pre") || w["stage"] == "output";
        if singular {
            singular_rows += 1;
            assert!(
                n["kl"].is_null() && n["kl_jitter"].is_null(),
                "{at}: f32 {n}"
            );
        } else {
            let (a, b) = (w["kl"].as_f64().unwrap(), n["kl"].as_f64());
            let b = b.unwrap_or_else(|| panic!("{at}: f32 KL null, f64 {a}"));
            assert!((a - b).abs() <= 1e-3 * a.max(1.0), "{at}: f64 {a}, f32 {b}");
        }
    }
    assert_eq!(singular_rows, 6);
    // h¹ is an exact affine map of the measured x: its f64 KL is 0 to rounding.
    for w in wide
        .iter()
        .filter(|w| w["layer"] == 1 && w["stage"] == "pre")
    {
        assert!(w["kl"].as_f64().unwrap() < 1e-12, "{w}");
    }
}

/// The f32 KL of stages near-singular, or singular in a way the rank bounds do not see, is
/// null, and every f32 KL printed is f64's to within 10 % (`KL_ROUNDING_SHARE`, the rule's
/// promise; the bound behind it is an estimate of the typical rounding, so 10 % is what is
/// claimed, not less). Found by adv73, not fixed there: (a) a quadratic [4, 5, 3] network whose
/// first-layer weights are 10⁻⁶ (h¹ rank 4 of 5, z¹ within 10⁻⁶ of it): z¹'s f32 KL was
/// 0.0118 against f64's 9.2·10⁻⁶; (b) a linear [4, 6, 2, 3] network: z¹ = h¹ keeps h¹'s
/// rank deficit, which the one-step rank bound does not see: f32 KL 2.0 against 0. Here those
/// rows (f64 KL below 10⁻⁴ for (a), 10⁻¹² for (b)) are null, with `kl_rounding` written on
/// every f32 row and absent from every f64 row.
#[test]
fn an_f32_kl_not_resolved_against_rounding_is_null() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(900, 3, 4, 7);
    let (xp, yp) = super::common::write_xy(dir.path(), "", &x, &y);
    let mut tiny = Mlp::init(&[4, 5, 3], Activation::Quadratic { alpha: 0.5 }, 1.5, 3).unwrap();
    tiny.layers[0].w = &tiny.layers[0].w * faer::Scale(1e-6);
    for (i, b) in tiny.layers[0].b.iter_mut().enumerate() {
        *b = 0.4 * i as f64 - 0.9;
    }
    let linear = Mlp::init(&[4, 6, 2, 3], Activation::Linear, 1.5, 2).unwrap();
    for (name, net, at, small) in [
        ("tiny quad", tiny, (1, "post"), 1e-4),
        ("linear", linear, (1, "post"), 1e-12),
    ] {
        let (wide, narrow) = f64_and_f32_rows(&net, dir.path(), (&xp, &yp));
        let mut found = 0;
        for (w, n) in wide.iter().zip(&narrow) {
            let row = format!(
                "{name}: layer {} {} class {}",
                w["layer"], w["stage"], w["class"]
            );
            assert!(
                w.get("kl_rounding").is_none() && n.get("kl_rounding").is_some(),
                "{row}"
            );
            if w["layer"] == at.0 && w["stage"] == at.1 {
                found += 1;
                assert!(w["kl"].as_f64().unwrap() < small, "{row}: f64 {w}");
                assert!(n["kl"].is_null(), "{row}: f32 {n}");
            }
            if let (Some(a), Some(b)) = (w["kl"].as_f64(), n["kl"].as_f64()) {
                assert!((a - b).abs() <= 0.1 * a, "{row}: f64 {a}, f32 {b}");
            }
        }
        assert_eq!(found, 3, "{name}");
    }
}

/// A trained square layer's KL is kept in f32 where f32 resolves it: tanh [64, 12, 12, 3] on
/// 900 blob samples whose square W² = H₁·diag(10^(−2.7i/11))·H₂ (H Householder reflections:
/// singular values 1 … 2·10⁻³), so that Σ_{h²} = W²Σ_{z¹}W²ᵀ has directions ~10⁻⁵ of its
/// diagonal. h² inherits z¹'s rounding as W²δW²ᵀ, whose effect on the KL is z¹'s (the KL is
/// invariant under an invertible W²); only the update's own rounding is read through Σ_{h²}'s
/// weak directions (`analysis::compare::RoundingCarry`). h² of classes 0 and 2 is kept in
/// f32, within its `kl_rounding` (and 10 %) of f64's; taking the whole accumulated η as the
/// entry-wise rounding of h² (no carry) nulls it, as f32k74's model did.
#[test]
fn an_f32_kl_behind_a_square_layer_of_wide_spectrum_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = super::common::blobs(900, 3, 64, 7);
    let (xp, yp) = super::common::write_xy(dir.path(), "", &x, &y);
    let mut net = Mlp::init(&[64, 12, 12, 3], Activation::Tanh, 1.5, 5).unwrap();
    let n = 12;
    let reflection = |seed: u64| {
        let mut rng = StdRng::seed_from_u64(seed);
        let v = Col::<f64>::from_fn(n, |_| StandardNormal.sample(&mut rng));
        let v = &v * faer::Scale(1.0 / v.norm_l2());
        Mat::<f64>::identity(n, n) - faer::Scale(2.0) * &v * v.transpose()
    };
    let spectrum = Mat::<f64>::from_fn(n, n, |i, j| {
        if i == j {
            10f64.powf(-2.7 * i as f64 / (n - 1) as f64)
        } else {
            0.0
        }
    });
    net.layers[1].w = reflection(1) * spectrum * reflection(2);
    let (wide, narrow) = f64_and_f32_rows(&net, dir.path(), (&xp, &yp));
    let mut kept = 0;
    for (w, f) in wide.iter().zip(&narrow) {
        if !(w["layer"] == 2 && w["stage"] == "pre") {
            continue;
        }
        let (Some(a), Some(b)) = (w["kl"].as_f64(), f["kl"].as_f64()) else {
            continue;
        };
        let bound = f["kl_rounding"].as_f64().unwrap();
        assert!(
            (a - b).abs() <= bound,
            "class {}: {a} {b} {bound}",
            w["class"]
        );
        assert!((a - b).abs() <= 0.1 * a, "class {}: {a} {b}", w["class"]);
        kept += 1;
    }
    assert!(kept >= 2, "h² kept in {kept} of 3 classes: {narrow:?}");
}
