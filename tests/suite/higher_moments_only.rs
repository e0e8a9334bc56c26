//! The carry's shortcuts when only the output's mean and covariance are wanted (issue #16
//! item 7): a Gaussian start held without tensors ([`Carry::from_gaussian`]) and the last
//! hidden layer's κ as slices only ([`Carry::moments_only`]) give the full carry's mean,
//! covariance and fallbacks, also where the expansion falls back.

use faer::{Col, Mat};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use rand_distr::StandardNormal;

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::ClosureMethod;
use corrflow::propagate::higher::{Carry, Fallback, Tensors};
use corrflow::propagate::Propagator;
use corrflow::stats::Moments;
use corrflow::timing::Timings;

/// Output means and covariances per class, and the carry's fallbacks.
pub(crate) fn run(
    net: &Mlp,
    start: &[Moments],
    mut carry: Carry,
) -> (Vec<Moments>, Vec<Fallback>, bool) {
    let mut engine = Propagator::new();
    let stages = engine
        .run_carried(
            net,
            0,
            start,
            &mut carry,
            ClosureMethod::Auto,
            &Timings::disabled(),
        )
        .unwrap();
    let y = stages.last().unwrap().f64_moments().unwrap().to_vec();
    (y, carry.fallbacks().to_vec(), carry.last().is_some())
}

/// Largest |a − b| / max |b| over the means and over the covariances of every class.
pub(crate) fn deviation(a: &[Moments], b: &[Moments]) -> f64 {
    let mut worst: f64 = 0.0;
    for (x, y) in a.iter().zip(b) {
        let scale = y.mean.norm_max().max(1e-300);
        worst = worst.max((&x.mean - &y.mean).norm_max() / scale);
        let scale = y.cov.norm_max().max(1e-300);
        worst = worst.max((&x.cov - &y.cov).norm_max() / scale);
    }
    worst
}

/// Two Gaussian classes over `n` units with different means and correlated inputs.
pub(crate) fn two_classes(n: usize, seed: u64) -> Vec<Moments> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..2)
        .map(|c| {
            let a = Mat::from_fn(n, n, |_, _| 0.4 * rng.sample::<f64, _>(StandardNormal));
            let cov = &a * a.transpose() + Mat::<f64>::identity(n, n);
            let mean = Col::from_fn(n, |i| 0.3 * (i as f64 - 2.0) * (c as f64 + 0.5));
            Moments::gaussian(mean, cov)
        })
        .collect()
}

#[test]
fn gaussian_start_and_moments_only_equal_the_full_carry() {
    let n = 5;
    let start = two_classes(n, 11);
    for act in [Activation::Relu, Activation::Tanh, Activation::Gelu] {
        for depth in [1, 2, 3] {
            let mut widths = vec![n];
            widths.extend((0..depth).map(|l| 6 - l % 2));
            widths.push(3);
            let net = Mlp::init(&widths, act, 1.4, 7 + depth as u64).unwrap();
            for order in [3, 4] {
                // Default limits, and limits that make every layer after the first fall back.
                for limits in [None, Some((1e-9, 1e-9))] {
                    let limited = |c: Carry| match limits {
                        Some((s, k)) => c.with_breakdown(s, k),
                        None => c,
                    };
                    let tensors = (0..2).map(|_| Tensors::gaussian(n, order)).collect();
                    let full = run(&net, &start, limited(Carry::new(order, tensors).unwrap()));
                    let gauss = run(
                        &net,
                        &start,
                        limited(Carry::from_gaussian(order, n, 2).unwrap()),
                    );
                    let only = run(
                        &net,
                        &start,
                        limited(Carry::from_gaussian(order, n, 2).unwrap()).moments_only(),
                    );
                    let case = format!("{act:?} depth {depth} order {order} limits {limits:?}");
                    // y's tensors are there unless the series diverged (the run abandoned).
                    let kept = !full
                        .1
                        .first()
                        .is_some_and(|f| f.reason.contains("whole run"));
                    assert!(
                        full.2 == kept && gauss.2 == kept && !only.2,
                        "{case}: last()"
                    );
                    assert_eq!(deviation(&gauss.0, &full.0), 0.0, "{case}: Gaussian start");
                    assert_eq!(gauss.1, full.1, "{case}: fallbacks, Gaussian start");
                    let d = deviation(&only.0, &full.0);
                    assert!(d < 1e-12, "{case}: moments only deviates by {d:e}");
                    assert_eq!(only.1, full.1, "{case}: fallbacks, moments only");
                    // Without a fallback the corrections are there: the output is not order 2's.
                    if depth >= 2 && limits.is_none() && full.1.is_empty() {
                        let mut engine = Propagator::new();
                        let options = corrflow::propagate::PropagateOptions {
                            method: ClosureMethod::Auto,
                            corrections: corrflow::propagate::closures::Corrections::None,
                        };
                        let stages = engine
                            .run(&net, 0, &start, None, options, &Timings::disabled())
                            .unwrap();
                        let y2 = stages.last().unwrap().f64_moments().unwrap().to_vec();
                        assert!(deviation(&only.0, &y2) > 1e-8, "{case}: no correction");
                    }
                }
            }
        }
    }
}

#[test]
fn gaussian_start_checks_the_width() {
    let net = Mlp::init(&[4, 5, 3], Activation::Relu, 1.0, 1).unwrap();
    let start = [Moments::gaussian(Col::zeros(4), Mat::identity(4, 4))];
    let mut carry = Carry::from_gaussian(3, 6, 1).unwrap();
    let mut engine = Propagator::new();
    let got = engine.run_carried(
        &net,
        0,
        &start,
        &mut carry,
        ClosureMethod::Auto,
        &Timings::disabled(),
    );
    let Err(err) = got else {
        panic!("a Gaussian start of the wrong width is refused");
    };
    assert!(err.to_string().contains("6 units"), "{err}");
}
