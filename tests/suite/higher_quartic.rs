//! The factored order 4 ([`Carry::quartic`], issue #16 item 7): the factored κ₃ carry with
//! order 4's budget and z's κ₄ over four distinct units (its star) and κ₄\[a,a,a,b\] imaged in
//! the next h. Exact where the dense order 4 is (one hidden layer); beyond, it approximates
//! the dense order 4 to leading order in the width.

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::higher::Carry;
use corrflow::stats::Moments;
use faer::{Col, Mat};

use super::higher_moments_only::{deviation, run, two_classes};

#[test]
fn quartic_needs_the_factored_carry() {
    let Err(err) = Carry::from_gaussian(3, 4, 1).unwrap().quartic() else {
        panic!("a dense carry is refused");
    };
    assert!(err.to_string().contains("Carry::factored"), "{err}");
    let ok = Carry::from_gaussian(3, 4, 1)
        .unwrap()
        .factored()
        .unwrap()
        .quartic();
    assert!(ok.is_ok(), "the factored carry takes it");
}

#[test]
fn mixed_paired_needs_the_factored_order_four() {
    let factored = || Carry::from_gaussian(3, 4, 1).unwrap().factored().unwrap();
    let Err(err) = factored().with_mixed_paired() else {
        panic!("the factored order 3 is refused");
    };
    assert!(err.to_string().contains("Carry::quartic"), "{err}");
    assert!(factored().quartic().unwrap().with_mixed_paired().is_ok());
}

/// With one hidden layer (h¹ Gaussian) every order is the closure's exact output: the factored
/// order 4 equals the dense order 4 to rounding, for two classes and changing widths.
#[test]
fn quartic_equals_the_dense_order_four_at_depth_one() {
    let n = 6;
    let start = two_classes(n, 17);
    for act in [Activation::Relu, Activation::Tanh, Activation::Gelu] {
        let net = Mlp::init(&[n, 7, 3], act, 1.4, 5).unwrap();
        let dense = run(
            &net,
            &start,
            Carry::from_gaussian(4, n, 2).unwrap().moments_only(),
        );
        let quartic = Carry::from_gaussian(3, n, 2).unwrap().factored().unwrap();
        let fac = run(&net, &start, quartic.quartic().unwrap());
        let d = deviation(&fac.0, &dense.0);
        assert!(d < 1e-12, "{act:?}: the factored order 4 deviates by {d:e}");
    }
}

/// A wide symmetric tanh network (no biases, zero-mean start) at depth 2, where order 3 drops
/// κ₄ (h symmetric) and order 4's correction is made of κ₄ alone: the factored order 4's output
/// covariance is nearer the dense order 4's than the factored order 3's is (which drops κ₄
/// there, so that its distance to the dense order 4 is that order's whole correction).
#[test]
fn quartic_follows_the_dense_order_four_on_a_symmetric_network() {
    let n = 24;
    let start = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
    let mut net = Mlp::init(&[n, n, n, n], Activation::Tanh, 1.0, 7).unwrap();
    for layer in &mut net.layers {
        layer.b.fill(0.0);
    }
    let gauss = |order| Carry::from_gaussian(order, n, 1).unwrap();
    let dense = run(&net, &start, gauss(4).moments_only()).0;
    let order3 = run(&net, &start, gauss(3).factored().unwrap()).0;
    let quartic = run(
        &net,
        &start,
        gauss(3).factored().unwrap().quartic().unwrap(),
    )
    .0;
    let dist = |x: &[Moments]| (&x[0].cov - &dense[0].cov).norm_l2();
    let (d3, d4) = (dist(&order3), dist(&quartic));
    assert!(d3 > 0.0, "order 4 corrects nothing here");
    assert!(
        d4 < d3,
        "factored order 4 {d4:e} vs factored order 3 {d3:e}"
    );
}
