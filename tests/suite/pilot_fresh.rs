//! `--pilot fresh` (issue #16 goal "never worse than the Gaussian at any depth"; EXPERIMENTS.md,
//! "The pilot's check against the report, thirty-first session (nw31)"): for a generated task
//! the reported carried output itself is tested against fresh samples of the generator (4 ×
//! the reported set's size, drawn after the test set: never trained on nor reported), instead
//! of the carry from one half of the other set against its other half. On dm22's 30-layer,
//! width-4 XOR networks (1000 test samples: 4000 fresh, 2000 per class): gelu at order 4,
//! worse than the Gaussian closure on the test set, is replaced by it; erf at order 3, better,
//! is kept; MNIST, which has no unseen samples, is refused with the flag named. The check is the
//! generated tasks' default (no `--pilot`) since the thirty-second session (EXPERIMENTS.md,
//! "`--pilot fresh` on more networks, thirty-second session (fresh32)").

use corrflow::propagate::higher::pilot::PILOT_Z;

use crate::carry_cli::d30;
use crate::common::{corrflow, json, refused_over_memory};

/// `propagate --threads 1 --model MODEL ARGS --json`.
fn propagate(model: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let m = model.to_str().unwrap();
    let mut all = vec!["--threads", "1", "propagate", "--model", m];
    all.extend_from_slice(args);
    all.push("--json");
    json(&corrflow(&all))
}

/// The output rows' `key` per class of a `propagate --json` report.
fn output(report: &serde_json::Value, key: &str) -> Vec<f64> {
    let rows = report["layers"].as_array().unwrap();
    let y = rows.iter().filter(|r| r["stage"] == "output");
    y.map(|r| r[key].as_f64().unwrap()).collect()
}

/// Every class's pilot says it tested the reported output against the 2000 fresh samples of
/// its class (of 4000 drawn after the 1000 test samples), from the reported start of 500.
fn says_fresh(report: &serde_json::Value) {
    for c in report["carried"]["classes"].as_array().unwrap() {
        let p = &c["pilot"];
        assert_eq!(p["check"], "reported_output", "{c}");
        let set = p["held_out"].as_str().unwrap();
        assert!(
            set.contains("4000 fresh samples") && set.contains("1000..5000"),
            "{set}"
        );
        assert_eq!(p["samples"], 2000, "{c}");
        assert_eq!(p["start_samples"], 500, "{c}");
        assert_eq!(p["jackknife_groups"], 0, "{c}");
    }
}

/// gelu d30 at order 4: every class's carried output is worse than the Gaussian closure's on
/// the test set; the reported outputs tested against the fresh samples are worse (a z above
/// the limit), both classes are replaced by the Gaussian closure's, bit for bit the order-2
/// run, and the text names the check; without `--pilot` the run is the same (the generated
/// tasks' default). Fails where the check keeps them (broken on purpose: `reported_class`'s
/// verdict inverted), and where the default is the check on halves (the binary before the
/// default changed: `check` is `halves`).
#[test]
fn a_reported_output_worse_on_fresh_samples_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let model = d30(dir.path(), "gelu");
    let carried = ["--order", "4", "--carry", "depth"];
    let gauss = propagate(&model, &["--order", "2"]);
    let unchecked = propagate(&model, &[&carried[..], &["--pilot", "off"]].concat());
    let (e2, e4) = (
        output(&gauss, "cov_rel_err"),
        output(&unchecked, "cov_rel_err"),
    );
    assert!(e2.iter().zip(&e4).all(|(g, k)| k > g), "{e2:?} {e4:?}");

    let checked = propagate(&model, &[&carried[..], &["--pilot", "fresh"]].concat());
    says_fresh(&checked);
    assert_eq!(checked["layers"], gauss["layers"]);
    let default = propagate(&model, &carried);
    says_fresh(&default);
    assert_eq!(default["layers"], checked["layers"]);
    assert_eq!(default["carried"]["classes"], checked["carried"]["classes"]);
    for c in checked["carried"]["classes"].as_array().unwrap() {
        let p = &c["pilot"];
        assert_eq!(p["verdict"], "worse", "{c}");
        let z = ["mean_z", "cov_z", "kl_z"].map(|k| p[k].as_f64().unwrap());
        assert!(z.iter().any(|&z| z > PILOT_Z), "{c}");
        let why = c["fallback"][1].as_str().unwrap();
        assert!(
            why.contains("the reported output against 2000 outputs"),
            "{why}"
        );
    }
    let m = model.to_str().unwrap();
    let args = [&["--threads", "1", "propagate", "--model", m][..], &carried];
    let text = corrflow(&[&args.concat()[..], &["--pilot", "fresh"]].concat());
    let out = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(0), "{out}");
    assert!(
        out.contains("pilot of the reported outputs against 4000 fresh samples")
            && out.contains("class 0 abandoned")
            && out.contains("start 500, 2000 draws"),
        "{out}"
    );
    // analyze makes the same check.
    let analysis = json(&corrflow(
        &[
            &["--threads", "1", "analyze", "--model", m][..],
            &carried,
            &["--pilot", "fresh", "--json"],
        ]
        .concat(),
    ));
    let (kept, plain) = (
        &analysis["carried_start_layers"][0],
        &analysis["start_layers"][0],
    );
    assert_eq!(kept["cov_rel_err"], plain["cov_rel_err"], "{kept} {plain}");
    let p = &analysis["carried"][0]["classes"][0]["pilot"];
    assert_eq!(
        (&p["check"], &p["verdict"]),
        (&"reported_output".into(), &"worse".into())
    );
}

/// erf d30 at order 3: the carried output is better than the Gaussian closure's on the test
/// set; tested against the fresh samples it is better too (mean and covariance z < −3) and
/// every number of the unchecked run is kept. Fails where the check abandons it (broken on
/// purpose: `reported_class`'s verdict inverted).
#[test]
fn a_reported_output_better_on_fresh_samples_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let model = d30(dir.path(), "erf");
    let carried = ["--order", "3", "--carry", "depth"];
    let gauss = propagate(&model, &["--order", "2"]);
    let unchecked = propagate(&model, &[&carried[..], &["--pilot", "off"]].concat());
    let (e2, e3) = (
        output(&gauss, "cov_rel_err"),
        output(&unchecked, "cov_rel_err"),
    );
    assert!(e2.iter().zip(&e3).all(|(g, k)| k < g), "{e2:?} {e3:?}");
    let checked = propagate(&model, &[&carried[..], &["--pilot", "fresh"]].concat());
    says_fresh(&checked);
    assert_eq!(checked["layers"], unchecked["layers"]);
    for c in checked["carried"]["classes"].as_array().unwrap() {
        let p = &c["pilot"];
        assert_eq!(p["verdict"], "kept", "{c}");
        assert!(p["cov_z"].as_f64().unwrap() < -PILOT_Z, "{c}");
        assert!(p["mean_z"].as_f64().unwrap() < -PILOT_Z, "{c}");
    }
}

/// `--pilot fresh` needs a generator: on MNIST it is refused, naming the flag and the task,
/// with nothing on stdout; with `--carry first` it is refused as `on` and `off` are.
#[test]
fn pilot_fresh_refusals_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let model = d30(dir.path(), "tanh");
    let m = model.to_str().unwrap();
    let out = corrflow(&[
        "propagate",
        "--model",
        m,
        "--order",
        "3",
        "--pilot",
        "fresh",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--pilot fresh") && err.contains("--carry depth"),
        "{err}"
    );
    let Some(mnist) = crate::common::mnist_dir() else {
        eprintln!("note: MNIST_DIR is unset or missing; skipping the MNIST refusal");
        return;
    };
    let model = dir.path().join("mnist32.safetensors");
    let (m, mnist) = (model.to_str().unwrap(), mnist.to_str().unwrap());
    let data = crate::common::train_small_mnist(m, mnist, "32,32", "1", "1000");
    let args = [&["propagate", "--model", m][..], &data];
    let more = ["--order", "3", "--carry", "depth", "--pilot", "fresh"];
    let out = corrflow(&[&args.concat()[..], &more].concat());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        err.contains("--pilot fresh") && err.contains("--task mnist") && err.contains("--pilot on"),
        "{err}"
    );
}

/// `--pilot fresh` generates the task again with 4 × the analysed set's size of fresh samples
/// beside the loaded sets: the memory estimate counts them, so an absurd `--n-test` is refused
/// before anything is allocated, naming the flag. XOR's 10⁶ test samples fit 400 MiB (72 MB)
/// but their 4·10⁶ fresh ones do not (648 MB at the generation's peak). Before adv32 the
/// estimate left them out: this ran (and `--n-test 100000000` panicked on the generator's
/// 32 GB allocation under a 16 GiB address limit). Fails on main's binary (checked).
#[test]
fn fresh_samples_count_in_the_memory_estimate() {
    let carried = ["--n-test", "1000000", "--order", "3", "--carry", "depth"];
    refused_over_memory(
        "4",
        400,
        &[&carried[..], &["--pilot", "fresh"]].concat(),
        "--n-test",
    );
}
