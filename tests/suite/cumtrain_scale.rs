//! The cumulant objective at orders 3 and 4 on data of extreme scale (unit69): its κ slices are
//! measured in the unit ℓ that `stats::moments` chooses (`cumtrain::first_layer`), so a
//! positively homogeneous first closure keeps its corrections where the natural-unit κ₃ ~ s³
//! and κ₄ ~ s⁴ underflow.

use faer::Scale;

use corrflow::cumtrain::{ClassStatistics, CorrectedLayers, CumulantObjective};
use corrflow::net::train::zeros_like;
use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::Corrections;

use crate::cumtrain_corrected::skewed;

/// Relative agreement of two evaluations that are equal in exact arithmetic and differ only by
/// powers of two (the data ×s, the slices in another unit ℓ): each is a sum of O(10²) products
/// per class, whose orders of summation may differ (GEMM blocking is the same; the closures'
/// arithmetic is the same up to scalings by powers of two, which are exact), so a few hundred
/// ulps of the largest term at most; 10⁻¹² ≈ 4 500 ε leaves room for that.
const ROUNDING: f64 = 1e-12;

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
    let data = skewed(400);
    let s = 2f64.powi(-400);
    let mut tiny = data.clone();
    tiny.x = &data.x * Scale(s);
    let stats = ClassStatistics::measure(&data).unwrap();
    let stats_tiny = ClassStatistics::measure(&tiny).unwrap();
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
                for (l, (g, g_tiny)) in grads.iter().zip(&grads_tiny).enumerate() {
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
        }
    }
}
