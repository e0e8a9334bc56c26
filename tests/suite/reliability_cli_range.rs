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
