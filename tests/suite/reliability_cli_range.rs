//! adv36: measured stages whose spread lies outside f64's range are refused naming the stage
//! (`measure::range`), not read as a measurement.

use super::common::{corrflow, json};

/// A random tanh [2, 8, 8, 2] network with its read-out (weights and biases) × 2^k, saved in
/// `dir`.
fn read_out_scaled(dir: &std::path::Path, k: i32) -> String {
    use corrflow::net::{model_io, Activation, Mlp};
    let mut net = Mlp::init(&[2, 8, 8, 2], Activation::Tanh, 1.0, 3).unwrap();
    let f = 2f64.powi(k);
    let out = net.layers.last_mut().unwrap();
    out.w = &out.w * faer::Scale(f);
    out.b = &out.b * faer::Scale(f);
    let p = dir.join(format!("r{k}.safetensors"));
    model_io::save(&net, &p, &[]).unwrap();
    p.to_str().unwrap().to_owned()
}

/// Read-outs × 2⁻⁵²⁰ (outputs ~10⁻¹⁵⁷, their variance subnormal) and × 2⁻¹⁰⁰⁰ (~10⁻³⁰¹, the
/// squares 0) made `propagate` print the output's `cov_rel_err` 0.0 (× 1: ~0.3) with exit 0
/// at every order (adv35); × 2⁵²⁰ was refused as "class 0: the covariances … are not finite",
/// naming no stage. Each is now refused naming the output stage y, the class and the unit;
/// × 2⁻²⁰⁰ and × 2²⁰⁰ still give × 1's errors (exact powers of two: to 10⁻⁹ relative).
#[test]
fn a_read_out_scaled_beyond_f64s_range_is_refused_naming_the_stage() {
    let dir = tempfile::tempdir().unwrap();
    let errors = |k: i32, order: &str| {
        let m = read_out_scaled(dir.path(), k);
        let out = corrflow(&[
            "--threads",
            "1",
            "propagate",
            "--model",
            &m,
            "--task",
            "xor",
            "--n-test",
            "400",
            "--order",
            order,
            "--json",
        ]);
        (out.status.code(), out)
    };
    for order in ["2", "3"] {
        let (code, one) = errors(0, order);
        assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&one.stderr));
        let one = json(&one);
        let last = |j: &serde_json::Value| {
            j["layers"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|l| l["stage"] == "output")
                .map(|l| l["cov_rel_err"].as_f64().unwrap())
                .collect::<Vec<_>>()
        };
        let base = last(&one);
        assert!(
            !base.is_empty() && base.iter().all(|&e| e > 1e-3),
            "{base:?}"
        );
        for k in [-200, 200] {
            let (code, o) = errors(k, order);
            assert_eq!(code, Some(0), "{k}: {}", String::from_utf8_lossy(&o.stderr));
            for (a, b) in base.iter().zip(last(&json(&o))) {
                assert!(
                    (a - b).abs() <= 1e-9 * a,
                    "x2^{k} order {order}: {b} vs {a}"
                );
            }
        }
        for (k, why) in [
            (-520, "below f64's normal range"),
            (-1000, "below 2^-450"),
            (520, "overflows f64"),
        ] {
            let (code, o) = errors(k, order);
            let e = String::from_utf8_lossy(&o.stderr);
            assert_eq!(code, Some(2), "x2^{k} order {order}: {e}");
            assert!(o.stdout.is_empty(), "x2^{k}: partial output");
            assert!(
                e.contains("at y, class ")
                    && e.contains(why)
                    && e.contains(&format!("r{k}.safetensors")),
                "x2^{k} order {order}: {e}"
            );
        }
    }
}

/// One GELU unit whose pre-activation sits at −30 (weights × 0.01, bias −30) for every sample:
/// its outputs are ~−2·10⁻¹⁹⁶ and their squares 0. The range check refused the whole run ("at
/// z1, class 0, unit 0 … below 2^-450") though the other units' spread is resolved (lead,
/// thirty-sixth session); it runs, with finite errors at every stage.
#[test]
fn a_dead_gelu_unit_beside_resolved_ones_is_not_refused() {
    use corrflow::net::{model_io, Activation, Mlp};
    let dir = tempfile::tempdir().unwrap();
    let mut net = Mlp::init(&[2, 8, 2], Activation::Gelu, 1.0, 3).unwrap();
    let first = &mut net.layers[0];
    for k in 0..2 {
        first.w[(0, k)] *= 0.01;
    }
    first.b[0] = -30.0;
    let p = dir.path().join("dead.safetensors");
    model_io::save(&net, &p, &[]).unwrap();
    let out = corrflow(&[
        "--threads",
        "1",
        "propagate",
        "--model",
        p.to_str().unwrap(),
        "--task",
        "xor",
        "--n-test",
        "400",
        "--json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let layers = json(&out)["layers"].as_array().unwrap().clone();
    assert!(!layers.is_empty());
    for l in &layers {
        let e = l["cov_rel_err"].as_f64().unwrap();
        assert!(e.is_finite(), "{l}");
    }
}

/// A GELU [2, 8, 8, 2] net whose first layer is dead for every sample (every unit's weights
/// × 0.01, bias −30: z1's values ~−2·10⁻¹⁹⁶, their squares 0): a valid network, the stages
/// after z1 constant at the next biases. adv36's rule refused the whole run ("at z1, class 0,
/// unit 0 … below 2^-450"; main's binary, checked); now z1's rows are withheld ("unresolved",
/// "n/a†" in the text), every other row is reported without the mark, and the same net with
/// its read-out × 2⁻¹⁰⁰⁰ (the output below the range too) is still refused, naming z1.
#[test]
fn a_dead_gelu_layer_is_reported_as_unresolved_not_refused() {
    use corrflow::net::{model_io, Activation, Mlp};
    let dir = tempfile::tempdir().unwrap();
    let mut net = Mlp::init(&[2, 8, 8, 2], Activation::Gelu, 1.0, 3).unwrap();
    let first = &mut net.layers[0];
    first.w = &first.w * faer::Scale(0.01);
    for i in 0..first.b.nrows() {
        first.b[i] = -30.0;
    }
    // Biases after it (Mlp::init's are 0, which would carry z1's scale to the output).
    for layer in &mut net.layers[1..] {
        for i in 0..layer.b.nrows() {
            layer.b[i] = 0.1 * (i + 1) as f64;
        }
    }
    let dead = dir.path().join("dead.safetensors");
    model_io::save(&net, &dead, &[]).unwrap();
    let out = net.layers.last_mut().unwrap();
    out.w = &out.w * faer::Scale(2f64.powi(-1000));
    out.b = &out.b * faer::Scale(2f64.powi(-1000));
    let tiny = dir.path().join("tiny.safetensors");
    model_io::save(&net, &tiny, &[]).unwrap();
    let run = |model: &std::path::Path, json: bool| {
        let mut args = vec![
            "--threads",
            "1",
            "propagate",
            "--model",
            model.to_str().unwrap(),
            "--task",
            "xor",
            "--n-test",
            "400",
        ];
        if json {
            args.push("--json");
        }
        corrflow(&args)
    };
    let o = run(&dead, true);
    let layers = json(&o)["layers"].as_array().unwrap().clone();
    assert_eq!(layers.len(), 10, "{layers:?}");
    for l in &layers {
        let z1 = l["layer"] == 1 && l["stage"] == "post";
        let why = l["unresolved"].as_str();
        assert_eq!(why.is_some(), z1, "{l}");
        if let Some(why) = why {
            assert!(
                why.contains("unit 0") && why.contains("below 2^-450"),
                "{l}"
            );
            assert_eq!(l["degenerate"], true, "{l}");
        }
        assert!(l["cov_rel_err"].as_f64().unwrap().is_finite(), "{l}");
        // The stages after z1 are constant to rounding, measured and predicted: no KL of the
        // ridges' difference (it read 10.1 at z2 and 9.4 at y for class 0, checked).
        if l["layer"].as_u64().unwrap() >= 2 {
            assert!(l["kl"].is_null() || l["kl"].as_f64() == Some(0.0), "{l}");
        }
    }
    let text = run(&dead, false);
    assert_eq!(text.status.code(), Some(0));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("n/a†") && text.contains("† not resolved"),
        "{text}"
    );
    let refused = run(&tiny, true);
    let e = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{e}");
    assert!(refused.stdout.is_empty());
    assert!(
        e.contains("at z1, class 0, unit 0") && e.contains("tiny.safetensors"),
        "{e}"
    );
}
