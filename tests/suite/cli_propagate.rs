//! `corrflow propagate` as a user runs it: JSON fields, the XOR story, and clear errors.

use crate::common::{corrflow, json};

#[test]
fn xor_quadratic_network_gaussian_closure_vs_k3k4() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    json(&corrflow(&["train", "--task", "xor", "--json", "--out", m]));

    let gauss = json(&corrflow(&[
        "propagate",
        "--model",
        m,
        "--task",
        "xor",
        "--json",
    ]));
    let layers = gauss["layers"].as_array().unwrap();
    // 2 classes × (h1, z1, y).
    assert_eq!(layers.len(), 6);
    for row in layers {
        for key in ["layer", "stage", "class", "cov_rel_err", "mean_err", "kl"] {
            assert!(row.get(key).is_some(), "missing {key} in {row}");
        }
    }
    let err = |v: &serde_json::Value, stage: &str| {
        v["layers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["stage"] == stage)
            .map(|r| r["cov_rel_err"].as_f64().unwrap())
            .fold(0.0f64, f64::max)
    };
    // h1 is an exact affine image; z1 of an XOR class (a two-blob mixture) is far from the
    // Gaussian closure, and exact once κ₃/κ₄ enter.
    assert!(err(&gauss, "pre") < 1e-12);
    assert!(err(&gauss, "post") > 0.1);
    let k = json(&corrflow(&[
        "propagate",
        "--model",
        m,
        "--task",
        "xor",
        "--corrections",
        "k3k4",
        "--json",
    ]));
    assert!(err(&k, "post") < 1e-10);
    assert!(err(&k, "output") < 1e-10);
    assert_eq!(k["order"], 4, "--corrections k3k4 is --order 4");
    let o4 = json(&corrflow(&[
        "propagate",
        "--model",
        m,
        "--task",
        "xor",
        "--order",
        "4",
        "--json",
    ]));
    assert_eq!(o4["layers"], k["layers"]);
    // The quadratic closure takes κ₃/κ₄ in closed form: nothing goes through the expansion,
    // and the text says so instead of "0 of 0 units".
    assert_eq!(o4["fallbacks"]["units_tried"], 0, "{}", o4["fallbacks"]);
    let out = corrflow(&["propagate", "--model", m, "--task", "xor", "--order", "4"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("fallbacks   none: no unit or pair went through") && !text.contains("0 of 0"),
        "{text}"
    );
}

/// A relu network takes `--order 3`: the first nonlinearity moves, the fallbacks are counted in
/// JSON and named in the text output.
#[test]
fn relu_takes_an_order() {
    let dir = tempfile::tempdir().unwrap();
    let model = relu_xor_model(dir.path());
    let m = model.to_str().unwrap();
    let run = |order: &str| {
        json(&corrflow(&[
            "propagate",
            "--model",
            m,
            "--task",
            "xor",
            "--order",
            order,
            "--json",
        ]))
    };
    let (gauss, third) = (run("2"), run("3"));
    assert_eq!(third["order"], 3);
    let tried = third["fallbacks"]["units_tried"].as_u64().unwrap();
    assert!(tried > 0, "{}", third["fallbacks"]);
    let post = |r: &serde_json::Value| {
        r["layers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["stage"] == "post")
            .unwrap()["cov_rel_err"]
            .as_f64()
            .unwrap()
    };
    assert_ne!(post(&gauss), post(&third));
    let out = corrflow(&["propagate", "--model", m, "--task", "xor", "--order", "3"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("order 3") && text.contains("fallbacks"),
        "{text}"
    );
    // A KL that does not exist (an indefinite corrected Σ) reads "n/a", in the class rows and
    // in their mean, never NaN.
    assert!(!text.contains("NaN"), "{text}");
}

#[test]
fn bad_requests_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let model = relu_xor_model(dir.path());
    let m = model.to_str().unwrap();
    let cases: [(&[&str], &str); 4] = [
        (
            &["propagate", "--model", m, "--task", "xor", "--order", "5"],
            "--order",
        ),
        (
            &[
                "propagate",
                "--model",
                m,
                "--task",
                "xor",
                "--from-layer",
                "5",
            ],
            "--from-layer",
        ),
        (
            &[
                "propagate",
                "--model",
                m,
                "--task",
                "xor",
                "--closure",
                "magic",
            ],
            "--closure",
        ),
        (
            &["propagate", "--model", m, "--task", "xor", "--dim", "3"],
            "3 inputs",
        ),
    ];
    for (args, needle) in cases {
        let out = corrflow(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(needle),
            "{args:?}: error does not mention {needle}: {text}"
        );
    }
    let missing = corrflow(&[
        "propagate",
        "--model",
        "/nonexistent/m.safetensors",
        "--task",
        "xor",
    ]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/m.safetensors"));
}

/// `--precision f32` and `--affine` reach the engine: on the XOR network (2-16-2, quadratic)
/// every reported error agrees with f64's within the f32 bound of `propagate_f32`
/// ((maps + 1)·max N·ε_f32 = 3·16·2⁻²³), κ₃/κ₄ corrections run in f64 (identical output), and
/// a bad `--affine` is refused naming the flag (as `factored` under f32 is since adv47, where
/// the f32 path updates densely: `reliability_cli_affine`).
#[test]
fn precision_and_affine_flags() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    json(&corrflow(&["train", "--task", "xor", "--json", "--out", m]));
    let run = |extra: &[&str]| {
        let mut args = vec!["propagate", "--model", m, "--task", "xor", "--json"];
        args.extend_from_slice(extra);
        json(&corrflow(&args))["layers"].as_array().unwrap().clone()
    };
    let errors = |rows: &[serde_json::Value]| -> Vec<f64> {
        rows.iter()
            .map(|r| r["cov_rel_err"].as_f64().unwrap())
            .collect()
    };
    let exact = errors(&run(&["--affine", "dense"]));
    let bound = 3.0 * 16.0 * f64::from(f32::EPSILON);
    for extra in [
        &["--precision", "f32"][..],
        &["--precision", "F32", "--affine", "dense"],
    ] {
        let single = errors(&run(extra));
        assert_eq!(single.len(), exact.len());
        for (a, b) in exact.iter().zip(&single) {
            assert!((a - b).abs() <= bound, "{extra:?}: {b} vs f64 {a}");
        }
        assert_ne!(single, exact, "{extra:?}: the f32 path left no trace");
    }
    let k3k4 = |extra: &[&str]| {
        let mut args = vec!["--corrections", "k3k4"];
        args.extend_from_slice(extra);
        errors(&run(&args))
    };
    assert_eq!(k3k4(&["--precision", "f32"]), k3k4(&[]));
    let out = corrflow(&[
        "propagate",
        "--model",
        m,
        "--task",
        "xor",
        "--affine",
        "sparse",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--affine"));
}

/// Trains a 2-epoch relu network on XOR into `dir`/relu.safetensors and returns its path.
fn relu_xor_model(dir: &std::path::Path) -> std::path::PathBuf {
    let model = dir.join("relu.safetensors");
    json(&corrflow(&[
        "train",
        "--task",
        "xor",
        "--activation",
        "relu",
        "--epochs",
        "2",
        "--json",
        "--out",
        model.to_str().unwrap(),
    ]));
    model
}
