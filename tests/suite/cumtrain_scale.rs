//! The cumulant objective at orders 3 and 4 on data of extreme scale (unit69): its κ slices are
//! measured in the unit ℓ that `stats::moments` chooses (`cumtrain::first_layer`), so a
//! positively homogeneous first closure keeps its corrections where the natural-unit κ₃ ~ s³
//! and κ₄ ~ s⁴ underflow.

use faer::Scale;

use corrflow::cumtrain::correction_bound::BoundMean;
use corrflow::cumtrain::{ClassStatistics, CorrectedLayers, CumulantObjective};
use corrflow::data::Dataset;
use corrflow::net::train::zeros_like;
use corrflow::net::{Activation, Layer, Mlp};
use corrflow::propagate::closures::Corrections;

use crate::cumtrain_corrected::skewed;

/// Relative agreement of two evaluations that are equal in exact arithmetic and differ only by
/// powers of two (the data ×s, the slices in another unit ℓ): each is a sum of O(10²) products
/// per class, whose orders of summation may differ (GEMM blocking is the same; the closures'
/// arithmetic is the same up to scalings by powers of two, which are exact), so a few hundred
/// ulps of the largest term at most; 10⁻¹² ≈ 4 500 ε leaves room for that.
const ROUNDING: f64 = 1e-12;

/// s = 2⁻⁴⁰⁰, the skewed data of 400 samples and the data ×s, each with its class statistics.
fn data_and_tiny() -> (f64, (Dataset, ClassStatistics), (Dataset, ClassStatistics)) {
    let data = skewed(400);
    let s = 2f64.powi(-400);
    let mut tiny = data.clone();
    tiny.x = &data.x * Scale(s);
    let stats = ClassStatistics::measure(&data).unwrap();
    let stats_tiny = ClassStatistics::measure(&tiny).unwrap();
    (s, (data, stats), (tiny, stats_tiny))
}

/// Asserts that the gradient `grads_tiny` on the data ×`s` (hidden biases ×s, read-out ×1/s),
/// rescaled (hidden weights' ×1, hidden biases' ×s, read-out weights' ×1/s, its bias's ×1), is
/// `grads` to [`ROUNDING`] of its largest entry, per layer.
fn same_rescaled(what: &str, grads: &[Layer], grads_tiny: &[Layer], s: f64) {
    let depth = grads.len() - 1;
    for (l, (g, g_tiny)) in grads.iter().zip(grads_tiny).enumerate() {
        let (w_factor, b_factor) = if l < depth { (1.0, s) } else { (1.0 / s, 1.0) };
        let w = &g_tiny.w * Scale(w_factor);
        let b = &g_tiny.b * Scale(b_factor);
        let scale = g.w.norm_max().max(g.b.norm_max());
        let worst = (&w - &g.w).norm_max().max((&b - &g.b).norm_max());
        assert!(
            worst <= ROUNDING * scale,
            "{what}: layer {l}'s gradient at ×2⁻⁴⁰⁰, rescaled, differs by {worst:e} \
             (largest entry {scale:e})"
        );
    }
}

/// A relu or leaky relu network is positively homogeneous in its hidden layers: with the data
/// ×s, every hidden layer's bias ×s and the read-out's weights ×1/s, every hidden
/// pre-activation h^l is s·h^l of the original network (the closures' moments: μ·s, Σ·s², κ₃·s³,
/// κ₄·s⁴) and the output y is the original's. So the cumulant objective is the same, and its
/// gradient is: the hidden weights' the same, the hidden biases' ×1/s (∂h/∂b = 1 with ∂L/∂h
/// ×1/s), the read-out's weights' ×s (∂y/∂W = a, a ×s) and its bias's the same. At s = 2⁻⁴⁰⁰
/// (≈ 3.9·10⁻¹²¹) the natural-unit κ₃ ~ 10⁻³⁶³ and κ₄ ~ 10⁻⁴⁸⁴ underflow to 0, while Σ ~ 10⁻²⁴¹
/// and the spectral floor's 10⁻⁹ of it stay normal (s = 2⁻⁵⁰⁰ would put the floor among the
/// subnormals). [4, 5, 2] (first layer corrected) and [4, 5, 4, 2] with every hidden layer
/// corrected (the deeper layer's slices, of h² over the samples forwarded through layer 1, in
/// their own unit), orders 3 and 4, with nonzero biases; the order-2 objective differs from
/// order 3's by far more than the tolerance (the comparison sees the corrections). With the
/// slices in natural units (ℓ ≡ 1), the objective at ×2⁻⁴⁰⁰ is order 2's.
#[test]
fn objective_and_gradient_of_data_times_2_pow_minus_400_are_the_datas() {
    let (s, (data, stats), (tiny, stats_tiny)) = data_and_tiny();
    let leaky = Activation::LeakyRelu { slope: 0.2 };
    for act in [Activation::Relu, leaky] {
        for (widths, layers) in [
            (&[4, 5, 2][..], CorrectedLayers::First),
            (&[4, 5, 4, 2][..], CorrectedLayers::All),
        ] {
            let mut net = Mlp::init(widths, act, 1.0, 3).unwrap();
            for (l, layer) in net.layers.iter_mut().enumerate() {
                for i in 0..layer.b.nrows() {
                    layer.b[i] = 0.3 * (1.3 * i as f64 + l as f64).sin();
                }
            }
            let depth = net.depth();
            let mut net_tiny = net.clone();
            for layer in &mut net_tiny.layers[..depth] {
                layer.b = &layer.b * Scale(s);
            }
            net_tiny.layers[depth].w = &net_tiny.layers[depth].w * Scale(1.0 / s);
            let run = |net: &Mlp, data, stats, order| {
                let obj = CumulantObjective::corrected(net, order, data, stats)
                    .unwrap()
                    .with_layers(layers);
                let mut grads = zeros_like(net);
                let f = obj.loss_and_grad(net, stats, &mut grads).unwrap();
                (f, grads)
            };
            let (gaussian, _) = run(&net, &data, &stats, Corrections::None);
            for order in [Corrections::K3, Corrections::K3K4] {
                let what = format!("{act} {widths:?} order {}", order.order());
                let (f, grads) = run(&net, &data, &stats, order);
                let (f_tiny, grads_tiny) = run(&net_tiny, &tiny, &stats_tiny, order);
                assert!(
                    (f - gaussian).abs() > 1e3 * ROUNDING * f,
                    "{what}: the corrections do not move the objective ({f} vs {gaussian})"
                );
                assert!(
                    (f_tiny - f).abs() <= ROUNDING * f,
                    "{what}: objective at ×2⁻⁴⁰⁰ {f_tiny} vs {f} (order 2: {gaussian})"
                );
                same_rescaled(&what, &grads, &grads_tiny, s);
            }
        }
    }
}

/// The correction bound at a slice unit ℓ ≠ 1: as above, the objective and gradient with the
/// bound (α = 0.9, the mean shrunk and kept; at α = 0.2 it does not act on this network) of the
/// relu [4, 5, 2] network (aligned with the skewed inputs, biases −0.3) on the data ×2⁻⁴⁰⁰
/// (biases ×s, read-out ×1/s) equal those on the data, rescaled, to [`ROUNDING`]: the bound
/// compares the corrected and the Gaussian closure's z in one unit (`FirstClosure::forward`
/// scales both back by ℓ, ℓ²), and t is scale-free (a generalized eigenvalue of ΔC against
/// C_G + εI, ε a share of tr C_G). The bound acts there (asserted: bounded class-steps at both
/// scales, and the objective differs from the unbounded one by far more than the tolerance).
/// Fails with the Gaussian closure's z left in the slice unit at ℓ ≠ 1 (not scaled back by
/// ℓ, ℓ² in `FirstClosure::forward`): the bound then compares natural-unit z against ℓ-unit
/// Gaussian z.
#[test]
fn bounded_objective_and_gradient_of_data_times_2_pow_minus_400_are_the_datas() {
    let (s, (data, stats), (tiny, stats_tiny)) = data_and_tiny();
    let mut net = Mlp::init(&[4, 5, 2], Activation::Relu, 1.0, 3).unwrap();
    for i in 0..4 {
        // Aligned with the skewed inputs, below zero: where the variance correction is largest
        // (suite `cumtrain_bound`).
        for j in 0..4 {
            net.layers[0].w[(i, j)] = if i == j { 0.8 } else { 0.05 * (i + j) as f64 };
        }
        net.layers[0].b[i] = -0.3;
    }
    let mut net_tiny = net.clone();
    net_tiny.layers[0].b = &net.layers[0].b * Scale(s);
    net_tiny.layers[1].w = &net.layers[1].w * Scale(1.0 / s);
    let run = |net: &Mlp, data, stats, bound: Option<BoundMean>| {
        let obj = CumulantObjective::corrected(net, Corrections::K3, data, stats)
            .unwrap()
            .with_correction_bound(bound.map(|_| 0.9))
            .with_correction_bound_mean(bound.unwrap_or_default());
        let mut grads = zeros_like(net);
        let f = obj.loss_and_grad(net, stats, &mut grads).unwrap();
        (f, grads, obj.take_tally().bounded.class_steps)
    };
    let (unbounded, _, _) = run(&net, &data, &stats, None);
    for mean in [BoundMean::Shrink, BoundMean::Keep] {
        let (f, grads, bounded) = run(&net, &data, &stats, Some(mean));
        let (f_tiny, grads_tiny, bounded_tiny) = run(&net_tiny, &tiny, &stats_tiny, Some(mean));
        assert!(
            bounded > 0 && bounded_tiny > 0,
            "{mean}: the bound did not act"
        );
        assert!(
            (f - unbounded).abs() > 1e3 * ROUNDING * f,
            "{mean}: the bound does not move the objective ({f} vs {unbounded})"
        );
        assert!(
            (f_tiny - f).abs() <= ROUNDING * f,
            "{mean}: objective at ×2⁻⁴⁰⁰ {f_tiny} vs {f} (unbounded {unbounded})"
        );
        same_rescaled(&mean.to_string(), &grads, &grads_tiny, s);
    }
}
