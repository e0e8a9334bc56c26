//! The correction bound of the cumulant objective (`--correction-bound α`,
//! `cumtrain::correction_bound`): its gradient against central differences where it acts and
//! where it does not, and the lower bound it puts under the closure objective on a network
//! where the unbounded closure cheats.

use corrflow::cumtrain::{
    train_cumulants, CheckSettings, ClassStatistics, CorrectedLayers, CumulantObjective,
};
use corrflow::net::train::{Loss, Optimizer, TrainConfig};
use corrflow::net::{Activation, Activations, Mlp, Precision};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::ClosurePair;

use super::cumtrain_corrected::{class_samples, engine_stages, skewed};
use crate::common::corrflow;
use crate::cumtrain_corrected::check_gradient_with;
use corrflow::cumtrain::correction_bound::{BoundMean, BoundReference, BoundRule, BoundSetting};
use corrflow::net::train::zeros_like;

const LEAKY: Activation = Activation::LeakyRelu { slope: 0.2 };

/// A network of `widths` (first hidden width ≥ 4) whose first four units lie along the inputs
/// (the skewed coordinates 0 and 1 among them), as suite
/// `capped_gradient_matches_central_differences` builds it, with biases `bias` (a unit below
/// zero on a skewed coordinate is where the Gram–Charlier variance correction is largest).
fn aligned(widths: &[usize], act: Activation, bias: f64) -> Mlp {
    let mut net = Mlp::init(widths, act, 1.0, 3).unwrap();
    for i in 0..4 {
        for j in 0..4 {
            net.layers[0].w[(i, j)] = if i == j { 0.8 } else { 0.05 * (i + j) as f64 };
        }
        net.layers[0].b[i] = bias;
    }
    net
}

/// Adam at rate 10⁻², `epochs` epochs of 100-sample batches, seed 1, MSE, f64.
fn adam(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch: 100,
        lr: 1e-2,
        loss: Loss::Mse,
        optimizer: Optimizer::Adam,
        momentum: 0.9,
        seed: 1,
        precision: Precision::F64,
    }
}

/// The closure objective alone (λ = 0) at order 3, correcting `layers`, with the bound `bound`.
fn closure_alone(layers: CorrectedLayers, bound: Option<BoundSetting>) -> CheckSettings {
    CheckSettings {
        weight: 0.0,
        samples: 2,
        order: 3,
        layers: Some(layers),
        bound,
        bound_mean: None,
        bound_rule: None,
        bound_reference: None,
    }
}

/// The objective's gradient with the bound, relu, leaky relu and erf at orders 3 and 4
/// (`check_gradient_with`: every weight and bias against central differences, tolerance from the
/// third derivative and the rounding): at α = 0.9 on the aligned [4, 5, 2] network, where the
/// bound acts (asserted), at α = 0 on the default one, where it leaves at least one class
/// alone (asserted: that class's corrected C ⪰ 0), and at α = 0.99 on an aligned [4, 4, 4, 2]
/// network correcting both layers, where it acts (at α = 0.9 erf's did not); and with the
/// mean's correction kept (`BoundMean::Keep`) and with the clip rule (`BoundRule::Clip`) on the
/// aligned [4, 5, 2] network at α = 0.9. Fails with the Gaussian side's adjoint (`gauss_adj`)
/// left out of the objective's reverse pass, and (the clip) with ΔC̄ left out of the corrected
/// closure's adjoint (C̄ = Ḡ).
#[test]
fn bounded_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    for act in [Activation::Relu, LEAKY, Activation::Erf] {
        for (mean, rule) in [
            (BoundMean::Shrink, BoundRule::Scale),
            (BoundMean::Keep, BoundRule::Scale),
            (BoundMean::Shrink, BoundRule::Clip),
        ] {
            check_gradient_with(
                &aligned(&[4, 5, 2], act, -0.3),
                &data,
                &stats,
                |obj| {
                    obj.with_correction_bound(Some(0.9))
                        .with_correction_bound_mean(mean)
                        .with_correction_bound_rule(rule)
                },
                |tally, order| {
                    assert!(
                        tally.bounded.class_steps > 0,
                        "{act} {mean} {rule} order {}: the bound did not act",
                        order.order()
                    )
                },
            );
        }
        check_gradient_with(
            &Mlp::init(&[4, 5, 2], act, 1.0, 3).unwrap(),
            &data,
            &stats,
            |obj| obj.with_correction_bound(Some(0.0)),
            |tally, order| {
                assert!(
                    tally.bounded.class_steps < 2,
                    "{act} order {}: the bound acted on both classes",
                    order.order()
                )
            },
        );
        check_gradient_with(
            &aligned(&[4, 4, 4, 2], act, -0.3),
            &data,
            &stats,
            |obj| obj.with_correction_bound(Some(0.99)),
            |tally, order| {
                assert!(
                    tally.bounded.class_steps > 0,
                    "{act} deep order {}: the bound did not act",
                    order.order()
                )
            },
        );
    }
}

/// The objective's gradient with the bound against the measured z
/// (`BoundReference::Measured`: the reference moments of every bounded layer are φ(H)'s over
/// the class's samples, differentiated through them), relu, leaky relu and erf at orders 3 and 4
/// (`check_gradient_with`), scale and clip, the mean shrunk and kept, at α = 0.9 on the aligned
/// [4, 5, 2] network and at α = 0.99 on the aligned [4, 4, 4, 2] network (second biases off
/// zero) correcting both layers (the deeper layer's samples forwarded through the first), the
/// bound acting (asserted). Fails
/// with the measured mean's adjoint dropped (μ̄_ref/n_c out of `SampleLayer::moments_vjp`), with
/// φ′ dropped from the samples' H̄ (H̄ = Ā), and with the reference's adjoint sent through the
/// Gaussian closure's VJP as under `gauss`.
#[test]
fn measured_bound_gradient_matches_central_differences() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    for act in [Activation::Relu, LEAKY, Activation::Erf] {
        for rule in [BoundRule::Scale, BoundRule::Clip] {
            for mean in [BoundMean::Shrink, BoundMean::Keep] {
                for (widths, alpha) in [(&[4, 5, 2][..], 0.9), (&[4, 4, 4, 2][..], 0.99)] {
                    let mut net = aligned(widths, act, -0.3);
                    if widths.len() == 4 {
                        // Off zero: the samples whose first-layer relu is dead in every unit
                        // have h² = b² exactly, where relu's kink makes the measured z²
                        // non-differentiable in b² (central differences ½, φ′ 0).
                        for i in 0..4 {
                            net.layers[1].b[i] = 0.05 + 0.1 * i as f64;
                        }
                    }
                    check_gradient_with(
                        &net,
                        &data,
                        &stats,
                        |obj| {
                            obj.with_correction_bound(Some(alpha))
                                .with_correction_bound_mean(mean)
                                .with_correction_bound_rule(rule)
                                .with_correction_bound_reference(BoundReference::Measured)
                        },
                        |tally, order| {
                            assert!(
                                tally.bounded.class_steps > 0,
                                "{act} {mean} {rule} {widths:?} order {}: the bound did not act",
                                order.order()
                            )
                        },
                    );
                }
            }
        }
    }
}

/// The quadratic's closure is exact at any skewness and is never bound: the same loss to the
/// bit with and without a bound, and no bounded class-step.
#[test]
fn the_quadratic_closure_is_not_bound() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let net = aligned(&[4, 5, 2], Activation::Quadratic { alpha: 0.5 }, -0.3);
    for order in [Corrections::K3, Corrections::K3K4] {
        let plain = CumulantObjective::corrected(&net, order, &data, &stats).unwrap();
        let bound = CumulantObjective::corrected(&net, order, &data, &stats)
            .unwrap()
            .with_correction_bound(Some(0.9));
        assert!(!bound.bounds_corrections());
        assert_eq!(
            plain.loss(&net, &stats).unwrap(),
            bound.loss(&net, &stats).unwrap()
        );
        assert_eq!(bound.take_tally().bounded.class_steps, 0);
    }
}

/// The lower bound. With one hidden layer, y = W²z¹ + b², and the bound keeps
/// C(t) ⪰ αC_G − (1 − α)εI (the floor only raises eigenvalues), so for every class
/// tr Σ_y ≥ α·tr(W²C_G W²ᵀ) − (1 − α)ε‖W²‖²_F, and
///
/// ```text
/// L ≥ Σ_c p(c) tr Σ_y,c ≥ α·V_G − (1 − α) ε_max ‖W²‖²_F,   V_G = Σ_c p(c) tr(W²C_G,c W²ᵀ),
/// ```
///
/// with C_G,c the Gaussian closure's z¹ covariance (V_G from the engine's order-2 run) and ε the
/// ridge, 10⁻⁹ of the mean Gaussian variance. The network: relu [4, 32, 2] trained 100 epochs
/// (600 steps) on the closure objective alone (λ = 0) at order 3 without the bound, which drives
/// its z¹ covariance indefinite and L to 0.09, below the share α = 1/2 of V_G = 1.12 (asserted:
/// the case has the power to fail); the bounded objective at the same network is 1.37. Fails with the
/// bound not applied in the forward pass (`CorrectionBound::apply` returning `None`): L = the
/// unbounded value.
#[test]
fn bounded_closure_stays_above_its_share_of_the_gaussian_variance() {
    let data = skewed(600);
    let stats = ClassStatistics::measure(&data).unwrap();
    let mut net = Mlp::init(&[4, 32, 2], Activation::Relu, 1.0, 2).unwrap();
    let cfg = adam(100);
    let check = closure_alone(CorrectedLayers::First, None);
    train_cumulants(&mut net, &data, &cfg, &check, |_, _| {}).unwrap();
    let alpha = 0.5;
    let pairs = ClosurePair::for_layers(&net, ClosureMethod::Auto, false).unwrap();
    let closures: Vec<_> = pairs.iter().map(|p| p.closure.as_ref()).collect();
    let samples = class_samples(&data, &stats);
    let (mut v_g, mut eps) = (0.0, 0.0f64);
    for (c, (x, p)) in stats.per_class.iter().zip(&stats.weights).enumerate() {
        let stages = engine_stages(
            &net,
            &closures,
            x,
            &samples.centred[c],
            (Corrections::None, false),
        );
        let z = &stages[1];
        let n = z.dim();
        eps = eps.max(1e-9 * (0..n).map(|i| z.cov[(i, i)]).sum::<f64>() / n as f64);
        let y = stages.last().unwrap();
        v_g += p * (0..y.dim()).map(|i| y.cov[(i, i)]).sum::<f64>();
    }
    let w2 = &net.layers[1].w;
    let frob: f64 = (0..w2.nrows())
        .flat_map(|i| (0..w2.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| w2[(i, j)] * w2[(i, j)])
        .sum();
    let floor = alpha * v_g - (1.0 - alpha) * eps * frob;
    let objective = |bound: Option<f64>| {
        let obj = CumulantObjective::corrected(&net, Corrections::K3, &data, &stats)
            .unwrap()
            .with_layers(CorrectedLayers::First)
            .with_correction_bound(bound);
        let l = obj.loss(&net, &stats).unwrap();
        (l, obj.take_tally())
    };
    let (cheat, tally) = objective(None);
    println!(
        "V_G {v_g:.4}, floor {floor:.4}, unbounded L {cheat:.4} (indefinite class-steps {})",
        tally.floored.indefinite
    );
    assert!(
        cheat < floor,
        "the unbounded closure did not fall below α·V_G: {cheat} against {floor}"
    );
    let (bounded, tally) = objective(Some(alpha));
    println!(
        "bounded L {bounded:.4}, bounded class-steps {}",
        tally.bounded.class_steps
    );
    // The inequality is exact; the evaluation rounds at 10⁻¹⁵ of the terms.
    assert!(
        bounded >= floor - 1e-12 * v_g,
        "the bounded closure fell below α·V_G: {bounded} against {floor}"
    );
    assert!(tally.bounded.class_steps > 0);
}

/// `--correction-bound α` where no corrected layer has a Gram–Charlier closure is refused as
/// `--order 2` refuses it. The command line (one φ for every layer): quad:0.5 with α = 0.2 and
/// 0 exits 2 naming the flag, no model written; `off` runs. The library, where layers may differ
/// (`Activations::PerLayer`), names the configuration key `train.correction_bound`: quadratic
/// then relu is refused at `CorrectedLayers::First` (the relu layer stays Gaussian) and trains at
/// `All` (the relu layer corrected and bound); the quadratic alone is refused at `All`. Fails
/// with the refusal removed (`no_closure_to_bound` in `cumtrain::train`): the runs succeed.
#[test]
fn a_bound_with_no_closure_to_bound_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let run = |bound: &str| {
        let _ = std::fs::remove_file(&model);
        let line = "--threads 1 train --task xor --n-train 200 --hidden 6 --epochs 1 \
                    --objective cumulants --order 3 --activation quad:0.5 --correction-bound";
        let mut args: Vec<&str> = line.split_whitespace().collect();
        args.extend([bound, "--out", m]);
        let out = corrflow(&args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        (out.status.code(), err)
    };
    for bound in ["0.2", "0"] {
        let (code, err) = run(bound);
        assert_eq!(code, Some(2), "{bound}: {err}");
        assert!(err.contains("--correction-bound"), "{bound}: {err}");
        assert!(err.contains("Gram–Charlier"), "{bound}: {err}");
        assert!(!model.exists(), "{bound}: a model was written");
    }
    let (code, err) = run("off");
    assert_eq!(code, Some(0), "off: {err}");
    assert!(model.exists(), "off: no model");
    let data = skewed(200);
    let quad = Activation::Quadratic { alpha: 0.5 };
    let bound = Some(BoundSetting::Share(0.2));
    for (acts, layers, refused) in [
        (vec![quad, Activation::Relu], CorrectedLayers::First, true),
        (vec![quad, Activation::Relu], CorrectedLayers::All, false),
        (vec![quad, quad], CorrectedLayers::All, true),
    ] {
        let what = format!("{acts:?} {layers:?}");
        let mut net = Mlp::init(&[4, 5, 5, 2], quad, 1.0, 3).unwrap();
        net.activation = Activations::per_layer(acts).unwrap();
        let result = train_cumulants(
            &mut net,
            &data,
            &adam(1),
            &closure_alone(layers, bound),
            |_, _| {},
        );
        match result {
            Err(e) if refused => {
                assert!(
                    e.to_string().contains("train.correction_bound"),
                    "{what}: {e}"
                )
            }
            Ok(_) if !refused => {}
            other => panic!("{what}: {:?}", other.map(|_| ())),
        }
    }
}

/// `--correction-bound-mean keep` changes the objective only in the mean. With one class's
/// weight 1 and the other's 0, L = ‖μ_y − t_c‖² + tr Σ_y of that class alone and ∂L/∂b² =
/// 2(μ_y − t_c) (b² the read-out's bias), so L splits into its mean term M and its covariance
/// term V = L − M. On the aligned [4, 5, 2] network at α = 0.9, relu, leaky relu and erf, orders
/// 3 and 4, each class where the bound acts (shrink's M and V differ from the bound off's by
/// ≫ rounding; at least one class per φ and order, asserted): keep's V is shrink's (the same
/// C(t), the same floor) and keep's M is the bound off's (the corrected closure's mean whole;
/// the floor keeps the mean), to 10⁻¹² of L (sums of a few hundred products in the same order
/// but for L − M); where it does not act, keep's terms are the bound off's. Fails with the mean
/// shrunk under keep (`CorrectionBound::apply` ignoring `BoundMean`): M_keep = M_shrink.
#[test]
fn keeping_the_mean_changes_the_objective_only_in_the_mean() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let tol = |l: f64| 1e-12 * l.abs().max(1.0);
    for act in [Activation::Relu, LEAKY, Activation::Erf] {
        let net = aligned(&[4, 5, 2], act, -0.3);
        let readout = net.layers.len() - 1;
        for order in [Corrections::K3, Corrections::K3K4] {
            let mut acted = 0;
            for c in 0..2 {
                let one = ClassStatistics {
                    per_class: stats.per_class.clone(),
                    weights: (0..2).map(|k| f64::from(u8::from(k == c))).collect(),
                };
                // (M, V, L) of the objective with `bound` (None: off).
                let terms = |bound: Option<BoundMean>| {
                    let obj = CumulantObjective::corrected(&net, order, &data, &one)
                        .unwrap()
                        .with_correction_bound(bound.map(|_| 0.9))
                        .with_correction_bound_mean(bound.unwrap_or_default());
                    let mut grads = zeros_like(&net);
                    let l = obj.loss_and_grad(&net, &one, &mut grads).unwrap();
                    let g = &grads[readout].b;
                    let m: f64 = (0..g.nrows()).map(|i| 0.25 * g[i] * g[i]).sum();
                    (m, l - m, l)
                };
                let what = format!("{act} order {} class {c}", order.order());
                let (m_off, v_off, l_off) = terms(None);
                let (m_shrink, v_shrink, l) = terms(Some(BoundMean::Shrink));
                let (m_keep, v_keep, _) = terms(Some(BoundMean::Keep));
                println!(
                    "{what}: M off {m_off:.6} shrink {m_shrink:.6} keep {m_keep:.6}; \
                     V off {v_off:.6} shrink {v_shrink:.6} keep {v_keep:.6}"
                );
                if (m_shrink - m_off).abs() <= 1e3 * tol(l_off)
                    || (v_shrink - v_off).abs() <= 1e3 * tol(l_off)
                {
                    // The bound left this class alone (t = 1): so must keep.
                    assert_eq!((m_keep, v_keep), (m_off, v_off), "{what}");
                    continue;
                }
                acted += 1;
                assert!(
                    (v_keep - v_shrink).abs() <= tol(l),
                    "{what}: keep's covariance term {v_keep} is not shrink's {v_shrink}"
                );
                assert!(
                    (m_keep - m_off).abs() <= tol(l_off),
                    "{what}: keep's mean term {m_keep} is not the unbounded {m_off}"
                );
            }
            assert!(
                acted > 0,
                "{act} order {}: the bound did not act",
                order.order()
            );
        }
    }
}

/// `--correction-bound-mean` where the bound is off is refused naming it, exit 2, no model:
/// the bound absent (off by default) or `off`, either value; at `--order 2` and with
/// `--objective samples`; and in the library (`CheckSettings` with the bound off and a mean
/// rule) naming the configuration key `train.correction_bound_mean`. Where the bound is on
/// (relu, α = 0.2) both values train and `--json` records the rule (and `shrink` where it was
/// not given). Fails with the refusal removed from `CheckSettings::validate`.
#[test]
fn a_mean_rule_without_a_bound_is_refused() {
    a_setting_of_the_bound_without_it_is_refused(
        ("--correction-bound-mean", "correction_bound_mean"),
        ["shrink", "keep"],
        |check| check.bound_mean = Some(BoundMean::Keep),
    );
}

/// `--correction-bound-rule` where the bound is off is refused as `--correction-bound-mean` is
/// (the same cases, naming `--correction-bound-rule` and `train.correction_bound_rule`), and
/// recorded in `--json` where the bound is on (`scale` where it was not given). Fails with the
/// rule left out of the refusal in `CheckSettings::validate`.
#[test]
fn a_bound_rule_without_a_bound_is_refused() {
    a_setting_of_the_bound_without_it_is_refused(
        ("--correction-bound-rule", "correction_bound_rule"),
        ["scale", "clip"],
        |check| check.bound_rule = Some(BoundRule::Clip),
    );
}

/// `--correction-bound-reference` where the bound is off is refused as `--correction-bound-mean`
/// is (the same cases, naming `--correction-bound-reference` and
/// `train.correction_bound_reference`), and recorded in `--json` where the bound is on (`gauss`
/// where it was not given). Fails with the reference left out of the refusal in
/// `CheckSettings::validate`.
#[test]
fn a_bound_reference_without_a_bound_is_refused() {
    a_setting_of_the_bound_without_it_is_refused(
        ("--correction-bound-reference", "correction_bound_reference"),
        ["gauss", "measured"],
        |check| check.bound_reference = Some(BoundReference::Measured),
    );
}

/// The cases of the three tests above for the flag `flag` (configuration key `train.KEY`, `--json`
/// key KEY) with the values `[default, other]`; `set` sets the other in `CheckSettings`.
fn a_setting_of_the_bound_without_it_is_refused(
    (flag, key): (&str, &str),
    [default, other]: [&str; 2],
    set: impl Fn(&mut CheckSettings),
) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let run = |extra: &str| {
        let _ = std::fs::remove_file(&model);
        let line = "--threads 1 train --task xor --n-train 200 --hidden 6 --epochs 1 \
                    --activation relu --json";
        let mut args: Vec<&str> = line.split_whitespace().collect();
        args.extend(extra.split_whitespace());
        args.extend(["--out", m]);
        let out = corrflow(&args);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), err, json)
    };
    let cumulants = "--objective cumulants --order 3";
    for extra in [
        format!("{cumulants} {flag} {other}"),
        format!("{cumulants} {flag} {default}"),
        format!("{cumulants} --correction-bound off {flag} {other}"),
        format!("--objective cumulants {flag} {other}"),
        format!("{flag} {other}"),
    ] {
        let (code, err, _) = run(&extra);
        assert_eq!(code, Some(2), "{extra}: {err}");
        assert!(err.contains(flag), "{extra}: {err}");
        assert!(!err.contains("  "), "{extra}: a run of spaces in {err}");
        assert!(!model.exists(), "{extra}: a model was written");
    }
    for (rule, want) in [
        (String::new(), default),
        (format!(" {flag} {other}"), other),
    ] {
        let extra = format!("{cumulants} --correction-bound 0.2{rule}");
        let (code, err, json) = run(&extra);
        assert_eq!(code, Some(0), "{extra}: {err}");
        let json: serde_json::Value = serde_json::from_str(&json).expect("JSON on stdout");
        let recorded = &json["config"]["closure_check"][key];
        assert_eq!(recorded, want, "{extra}");
    }
    let data = skewed(200);
    let mut net = Mlp::init(&[4, 5, 2], Activation::Relu, 1.0, 3).unwrap();
    let mut check = closure_alone(CorrectedLayers::First, Some(BoundSetting::Off));
    set(&mut check);
    match train_cumulants(&mut net, &data, &adam(1), &check, |_, _| {}) {
        Err(e) => assert!(e.to_string().contains(&format!("train.{key}")), "{e}"),
        Ok(_) => panic!("{flag} with the bound off trained"),
    }
}

/// `--correction-bound-rule clip` is the scale rule where the correction is within the bound
/// and differs from it where it is not: relu, leaky relu and erf at orders 3 and 4, on the
/// default [4, 5, 2] network at α = 0 (where the bound leaves some or all classes alone) and the
/// aligned one at α = 0.9 (where it acts). Where the scale rule does not act (t = 1 in every
/// class: no bounded class-step) the clip does not either, and L is the same to the bit (the
/// clip's tally: 0 directions); where it acts the clip acts in the same class-steps, with 1 to
/// 5 directions clipped in one, and L differs by more than 10⁻⁶ of L. Both cases occur
/// (asserted). Fails with the clip's covariance replaced by the scale rule's C(t) in
/// `CorrectionBound::apply`: L the same where the bound acts.
#[test]
fn clip_is_scale_within_the_bound_and_differs_beyond_it() {
    let data = skewed(400);
    let stats = ClassStatistics::measure(&data).unwrap();
    let (mut alone, mut acted) = (0, 0);
    for act in [Activation::Relu, LEAKY, Activation::Erf] {
        for (net, alpha) in [
            (Mlp::init(&[4, 5, 2], act, 1.0, 3).unwrap(), 0.0),
            (aligned(&[4, 5, 2], act, -0.3), 0.9),
        ] {
            for order in [Corrections::K3, Corrections::K3K4] {
                let run = |rule: BoundRule| {
                    let obj = CumulantObjective::corrected(&net, order, &data, &stats)
                        .unwrap()
                        .with_correction_bound(Some(alpha))
                        .with_correction_bound_rule(rule);
                    let l = obj.loss(&net, &stats).unwrap();
                    (l, obj.take_tally().bounded)
                };
                let what = format!("{act} α {alpha} order {}", order.order());
                let (l_scale, scale) = run(BoundRule::Scale);
                let (l_clip, clip) = run(BoundRule::Clip);
                println!(
                    "{what}: L scale {l_scale:.6} clip {l_clip:.6}, bounded class-steps {}, \
                     clipped {:?}",
                    scale.class_steps, clip.clipped
                );
                assert_eq!(scale.clipped, None, "{what}");
                let clipped = clip.clipped.expect("the clip's tally");
                assert_eq!(clip.class_steps, scale.class_steps, "{what}");
                if scale.class_steps == 0 {
                    alone += 1;
                    assert_eq!(clipped.directions, 0, "{what}");
                    assert_eq!(l_clip, l_scale, "{what}");
                } else {
                    acted += 1;
                    assert!((1..=5).contains(&clipped.most), "{what}");
                    assert!(
                        (l_clip - l_scale).abs() > 1e-6 * l_scale.abs(),
                        "{what}: L clip {l_clip} is scale's {l_scale}"
                    );
                }
            }
        }
    }
    assert!(alone > 0 && acted > 0, "alone {alone}, acted {acted}");
}

/// The model file records the cumulant objective's closure settings as `--json`'s
/// `config.closure_check` names them: `order` always, and at order 3|4 `corrected_layers`,
/// `correction_bound` and, where the bound is on, `correction_bound_mean`,
/// `correction_bound_rule` and `correction_bound_reference`; the keys the run does not have are
/// absent. Before adv72 the file held `closure_check` and `check_samples` only, so an order-4
/// model with a clipped bound on every layer read as a Gaussian (order 2) one. Fails with the
/// new keys not written (`command::train`).
#[test]
fn model_file_records_the_closure_settings() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let keys = [
        "order",
        "corrected_layers",
        "correction_bound",
        "correction_bound_mean",
        "correction_bound_rule",
        "correction_bound_reference",
    ];
    for (extra, want) in [
        ("", [Some("2"), None, None, None, None, None]),
        (
            "--order 3",
            [Some("3"), Some("first"), Some("off"), None, None, None],
        ),
        (
            "--order 4 --corrected-layers all --correction-bound 0.2 \
             --correction-bound-mean keep --correction-bound-rule clip \
             --correction-bound-reference measured",
            [
                Some("4"),
                Some("all"),
                Some("0.2"),
                Some("keep"),
                Some("clip"),
                Some("measured"),
            ],
        ),
        (
            "--order 3 --correction-bound 0.5",
            [
                Some("3"),
                Some("first"),
                Some("0.5"),
                Some("shrink"),
                Some("scale"),
                Some("gauss"),
            ],
        ),
    ] {
        let line = "--threads 1 train --task xor --n-train 200 --hidden 6,6 --epochs 1 \
                    --activation relu --objective cumulants --json";
        let mut args: Vec<&str> = line.split_whitespace().collect();
        args.extend(extra.split_whitespace());
        args.extend(["--out", m]);
        let out = corrflow(&args);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{extra}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
        let meta = corrflow::net::model_io::metadata(&model).unwrap();
        for (key, want) in keys.iter().zip(want) {
            assert_eq!(meta.get(*key).map(String::as_str), want, "{extra}: {key}");
            // The file's value is the JSON's (a number there, 0.2 and 4 alike), where the JSON
            // has the key: it leaves out order 2 (`CheckSettings`), the file states it.
            let recorded = &json["config"]["closure_check"][key];
            match want {
                Some("2") if *key == "order" => assert!(recorded.is_null(), "{extra}: {key}"),
                Some(v) => assert_eq!(recorded.to_string().trim_matches('"'), v, "{extra}: {key}"),
                None => assert!(recorded.is_null(), "{extra}: {key} in the JSON"),
            }
        }
    }
}
