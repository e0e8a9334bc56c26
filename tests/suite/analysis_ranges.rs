//! Every probability `analyze --json` prints is one (issue #16 item 5): on XOR (whose
//! Edgeworth output-tails accuracy once printed 1.0005), the higher-order task and a small real
//! MNIST network, each accuracy-like field is finite and in [0, 1], each standard error finite
//! and ≥ 0, and each confusion row sums to 1; the Edgeworth warning of the text output is
//! printed exactly when the JSON lists a failed class.

use crate::common::{corrflow, json, mnist_dir, train_small_mnist};

use serde_json::Value;

/// Keys whose values are probabilities or accuracies (numbers or arrays of numbers).
const PROBABILITY_KEYS: &[&str] = &[
    "accuracy",
    "network_accuracy",
    "train_accuracy",
    "p_correct",
    "prior",
    "measured",
    "gaussian",
    "edgeworth",
    "student_t",
    "gaussian_accuracy",
    "edgeworth_accuracy",
    "student_t_accuracy",
    "negative_share",
    "p",
];

/// Checks the JSON tree under `v` (at `path`); returns how many probabilities it checked.
fn check(v: &Value, path: &str) -> usize {
    match v {
        Value::Object(map) => {
            if let Some(Value::Array(rows)) = map.get("rows") {
                for (i, row) in rows.iter().enumerate() {
                    let p = row["p"].as_array().expect("a confusion row has p");
                    let sum: f64 = p.iter().filter_map(Value::as_f64).sum();
                    assert!((sum - 1.0).abs() < 1e-9, "{path}.rows[{i}].p sums to {sum}");
                }
            }
            map.iter()
                .map(|(k, x)| {
                    let here = format!("{path}.{k}");
                    if PROBABILITY_KEYS.contains(&k.as_str()) {
                        probabilities(x, &here)
                    } else {
                        if k.ends_with("stderr") {
                            standard_errors(x, &here);
                        }
                        check(x, &here)
                    }
                })
                .sum()
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| check(x, &format!("{path}[{i}]")))
            .sum(),
        _ => 0,
    }
}

/// A probability, or an array of them (a nested object is checked as any other).
fn probabilities(v: &Value, path: &str) -> usize {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, x)| probabilities(x, &format!("{path}[{i}]")))
            .sum(),
        Value::Object(_) => check(v, path),
        _ => {
            let p = v
                .as_f64()
                .unwrap_or_else(|| panic!("{path} = {v}: not a number"));
            assert!(
                p.is_finite() && (0.0..=1.0).contains(&p),
                "{path} = {p}: not in [0, 1]"
            );
            1
        }
    }
}

fn standard_errors(v: &Value, path: &str) {
    match v {
        Value::Array(items) => items.iter().for_each(|x| standard_errors(x, path)),
        _ => {
            let s = v
                .as_f64()
                .unwrap_or_else(|| panic!("{path} = {v}: not a number"));
            assert!(s.is_finite() && s >= 0.0, "{path} = {s}");
        }
    }
}

/// Runs `analyze` with `args` in JSON and in text; checks the JSON's probabilities (at least
/// `min_checked` of them, the output tails among them) and the warning line against the JSON.
fn analyze_in_range(args: &[&str], min_checked: usize) -> Value {
    let mut with_json = vec!["analyze", "--json"];
    with_json.extend(args);
    let r = json(&corrflow(&with_json));
    let checked = check(&r, "");
    assert!(checked >= min_checked, "only {checked} probabilities");
    let tails = &r["output_tails"];
    assert!(tails["edgeworth_accuracy"].is_f64(), "tails ran: {tails}");
    let mut text = vec!["analyze"];
    text.extend(args);
    let out = corrflow(&text);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    let failed = tails["edgeworth_failed_classes"].as_array().unwrap();
    assert_eq!(
        stdout.contains("the Edgeworth expansion is not a density"),
        !failed.is_empty(),
        "warning vs failed classes {failed:?}:\n{stdout}"
    );
    for c in tails["per_class"].as_array().unwrap() {
        let listed = failed.contains(&c["class"]);
        assert_eq!(c["expansion_fails"].as_bool(), Some(listed), "{c}");
        assert_eq!(listed, c["negative_mass"].as_f64().unwrap() > 0.01, "{c}");
    }
    r
}

#[test]
fn xor_probabilities_are_probabilities() {
    analyze_in_range(&["--task", "xor"], 40);
}

#[test]
fn higher_order_probabilities_are_probabilities() {
    analyze_in_range(&["--task", "higher-order", "--mc-samples", "40000"], 40);
}

#[test]
fn small_mnist_probabilities_are_probabilities() {
    let Some(mnist) = mnist_dir() else {
        eprintln!("note: MNIST_DIR is unset or missing; skipping the real-MNIST range test");
        return;
    };
    let mnist = mnist.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist.safetensors");
    let model = model.to_str().unwrap();
    let common = train_small_mnist(model, mnist, "16", "2", "1000");
    let mut args = vec![
        "--model",
        model,
        "--mc-samples",
        "4000",
        "--surrogate-samples",
        "200",
    ];
    args.extend(common);
    analyze_in_range(&args, 300);
}
