//! A carried run whose series diverges is abandoned as a whole (issue #16 item 7, "never worse
//! than the Gaussian"): [`Propagator::run_carried`] returns the Gaussian closure's run from the
//! start, and the carry says so in its first fallback ([`Carry::abandons_run`]).

use faer::{Col, Mat};

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::{Carry, Tensors};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::Moments;
use corrflow::timing::Timings;

use super::higher_moments_only::{deviation, run};

/// The Gaussian closure's output moments of `start` through `net`.
fn gaussian(net: &Mlp, start: &[Moments]) -> Vec<Moments> {
    let options = PropagateOptions {
        method: ClosureMethod::Auto,
        corrections: Corrections::None,
    };
    let mut engine = Propagator::new();
    let stages = engine
        .run(net, 0, start, None, options, &Timings::disabled())
        .unwrap();
    stages.last().unwrap().f64_moments().unwrap().to_vec()
}

#[test]
fn a_diverging_series_returns_the_gaussian_run_and_says_so() {
    // Width 4 and depth 24: far beyond the expansion's range (depth ≫ width), where a unit's
    // variance increment outgrows its Gaussian variance.
    let n = 4;
    let mut widths = vec![n; 25];
    widths.push(3);
    let net = Mlp::init(&widths, Activation::Relu, 1.4, 5).unwrap();
    let start = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
    let want = gaussian(&net, &start);
    for order in [3, 4] {
        let carry = Carry::new(order, vec![Tensors::gaussian(n, order)]).unwrap();
        let (y, fallbacks, last) = run(&net, &start, carry);
        let first = fallbacks.first().expect("the series diverges here");
        assert!(
            first.reason.contains("whole run"),
            "order {order}: {fallbacks:?}"
        );
        assert_eq!(first.layer, 1, "order {order}: {first:?}");
        assert_eq!(
            deviation(&y, &want),
            0.0,
            "order {order}: not the Gaussian run"
        );
        assert!(!last, "order {order}: y's tensors are not the run's");
    }
}
