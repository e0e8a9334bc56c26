//! Measured statistics held in f32 (`layer_stats_narrow`, `--precision f32`): each class
//! finished as soon as its samples have passed equals the f64 measurement rounded to f32, the
//! start stage stays f64, and the comparison read through the widened covariances matches the
//! one on f64 statistics to f32 rounding; a streamed f32 propagation from statistics held
//! wholly in f32, each stage compared as it is handed over, gives the rows of comparing the
//! whole run afterwards.

use faer::Mat;

use crate::common::shuffled_classes;
use corrflow::analysis::{compare_stage_lean, compare_stages, RoundingCarry};
use corrflow::data::Dataset;
use corrflow::measure::{layer_stats, layer_stats_narrow, Higher, LayerStats, Measured};
use corrflow::net::{Activation, Mlp, Precision, Stage};
use corrflow::propagate::affine::AffineStrategy;
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::MomentAccumulator;
use corrflow::timing::Timings;

/// 3 classes of uneven size (40, 7, 25 samples: 72) in shuffled order, 6 inputs with per-class means.
fn data() -> Dataset {
    // Shuffled by the permutation j → 37j mod 72 (37 is prime to 72).
    shuffled_classes(11, 6, &[(0, 40), (1, 7), (2, 25)], 3, 37, 0.3)
}

/// A 6-8-5-3 relu network's statistics of [`data`] in batches of 9, in f64 and held in f32
/// (all but the input).
fn measured() -> (Mlp, LayerStats, LayerStats) {
    let net = Mlp::init(&[6, 8, 5, 3], Activation::Relu, 2f64.sqrt(), 4).unwrap();
    let data = data();
    let exact = layer_stats(&net, &data, Higher::None, 9).unwrap();
    let held = layer_stats_narrow(&net, &data, &[Stage::Input], 9, &Timings::disabled()).unwrap();
    (net, exact, held)
}

/// With batches of 9 samples (classes straddle batches), every stage but the start holds each
/// class's f64 mean exactly and its f64 covariance rounded to f32; the start stage is the f64
/// measurement itself.
#[test]
fn narrow_statistics_are_the_f64_ones_rounded() {
    let (net, exact, held) = measured();
    for stage in Stage::all(net.depth()) {
        let want = exact.get(stage).unwrap();
        let got = held.measured(stage).unwrap();
        assert_eq!(got.classes(), want.classes.as_slice(), "{stage}");
        match (stage, got) {
            (Stage::Input, Measured::Wide(m)) => {
                for (a, b) in m.per_class.iter().zip(&want.per_class) {
                    assert_eq!((&a.mean, &a.cov), (&b.mean, &b.cov));
                }
            }
            (Stage::Input, Measured::Narrow(_)) => panic!("the start stage must stay f64"),
            (_, Measured::Wide(_)) => panic!("{stage} should be held in f32"),
            (_, Measured::Narrow(m)) => {
                assert_eq!(m.counts, want.counts, "{stage}");
                for (k, b) in want.per_class.iter().enumerate() {
                    assert_eq!(got.mean(k), &b.mean, "{stage}");
                    let rounded = Mat::from_fn(b.cov.nrows(), b.cov.ncols(), |i, j| {
                        f64::from(b.cov[(i, j)] as f32)
                    });
                    assert_eq!(*got.cov(k), rounded, "{stage} class {k}");
                }
            }
        }
    }
    assert!(held.bytes() < exact.bytes());
}

/// The comparison of one propagation against f32-held statistics agrees with the comparison
/// against the f64 ones to within f32's rounding of the measured covariances (2⁻²⁴ relative per
/// entry, so ≤ 1e-6 on these errors).
#[test]
fn comparison_on_narrow_statistics_matches_f64() {
    let (net, exact, held) = measured();
    let start = &exact.get(Stage::Input).unwrap().per_class;
    let mut engine = Propagator::new();
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    engine
        .run(&net, 0, start, None, opts, &Timings::disabled())
        .unwrap();
    let predicted = engine.into_stages();
    let a = compare_stages(&predicted, &exact, net.depth()).unwrap();
    let b = compare_stages(&predicted, &held, net.depth()).unwrap();
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((x.layer, x.stage, x.class), (y.layer, y.stage, y.class));
        let close = |u: f64, v: f64| (u - v).abs() <= 1e-6 * u.abs().max(1.0);
        assert!(close(x.cov_rel_err, y.cov_rel_err), "{x:?} vs {y:?}");
        assert!(close(x.mean_err, y.mean_err), "{x:?} vs {y:?}");
    }
}

/// A class finished early takes no more samples: the push is refused, naming the label.
#[test]
fn a_taken_class_refuses_more_samples() {
    let mut acc = MomentAccumulator::new(2, 2, false).unwrap();
    let x = Mat::from_fn(2, 4, |i, j| (i + 2 * j) as f64);
    acc.push(x.as_ref(), &[0, 0, 1, 1]).unwrap();
    let (n, m) = acc.take_class(0).unwrap().unwrap();
    assert_eq!((n, m.mean[0]), (2, 1.0));
    let err = acc.push(x.as_ref(), &[1, 0, 1, 1]).unwrap_err().to_string();
    assert!(
        err.contains("label 0") && err.contains("already finished"),
        "{err}"
    );
    assert!(acc.take_class(5).is_err());
}

/// `propagate --precision f32`'s streamed path: every stage, the start included, held in f32;
/// the engine hands over h¹, z¹, h², z², y in order and each is compared as it arrives, one
/// class after another. The rows equal those of comparing the whole f32 propagation from the
/// f64 start afterwards (the f32 start is that start rounded as the engine rounds it), and an
/// f64 engine refuses to stream.
#[test]
fn streamed_comparison_matches_the_comparison_after_the_run() {
    let (net, exact, held) = measured();
    let depth = net.depth();
    let opts = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let mut whole = Propagator::with_settings(Precision::F32, AffineStrategy::Dense);
    let start = &exact.get(Stage::Input).unwrap().per_class;
    whole
        .run(&net, 0, start, None, opts, &Timings::disabled())
        .unwrap();
    let want = compare_stages(&whole.into_stages(), &held, depth).unwrap();

    let mut narrow = layer_stats_narrow(&net, &data(), &[], 9, &Timings::disabled()).unwrap();
    assert!(narrow
        .measured(Stage::Input)
        .is_some_and(|m| matches!(m, Measured::Narrow(_))));
    let start = narrow.take_narrow(Stage::Input).unwrap();
    let (mut order, mut got) = (Vec::new(), Vec::new());
    let mut carry = RoundingCarry::default();
    let mut streamed = Propagator::with_settings(Precision::F32, AffineStrategy::Dense);
    streamed
        .run_streamed(
            &net,
            0,
            start.clone(),
            ClosureMethod::Auto,
            &Timings::disabled(),
            &mut |p| {
                order.push(p.stage);
                got.extend(compare_stage_lean(p, &narrow, depth, &mut carry)?);
                Ok(())
            },
        )
        .unwrap();
    let stages: Vec<Stage> = Stage::all(depth).into_iter().skip(1).collect();
    assert_eq!(order, stages);
    assert_eq!(got.len(), want.len());
    for (x, y) in got.iter().zip(&want) {
        assert_eq!((x.layer, x.stage, x.class), (y.layer, y.stage, y.class));
        let close = |u: f64, v: f64| (u - v).abs() <= 1e-12 * u.abs().max(v.abs());
        assert!(close(x.cov_rel_err, y.cov_rel_err), "{x:?} vs {y:?}");
        assert!(close(x.mean_err, y.mean_err), "{x:?} vs {y:?}");
        assert_eq!(x.kl.is_some(), y.kl.is_some(), "{x:?} vs {y:?}");
        if let (Some(a), Some(b)) = (x.kl, y.kl) {
            assert!(close(a, b), "{x:?} vs {y:?}");
        }
    }

    let mut wide = Propagator::with_settings(Precision::F64, AffineStrategy::Dense);
    let err = wide
        .run_streamed(
            &net,
            0,
            start,
            ClosureMethod::Auto,
            &Timings::disabled(),
            &mut |_| Ok(()),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("f32"), "{err}");
}
