//! `propagate --order 3|4 --carry depth` (issue #16 item 2) as a user runs it: the cumulants
//! carried through every later layer from each start layer, the report naming the order, the
//! carried stages and the fallbacks, no NaN, and clear refusals.

use corrflow::data::xor::XorConfig;
use corrflow::measure::layers::{layer_stats, Higher};
use corrflow::measure::propagate_carried;
use corrflow::net::{model_io, Activation, Mlp, Stage};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::MomentAccumulator;
use corrflow::timing::Timings;

use crate::common::{corrflow, json};

/// A 2-epoch XOR network with two hidden layers of 8 units and `activation`.
fn two_layer_xor(dir: &std::path::Path, activation: &str) -> String {
    let model = dir.join(format!("{}.safetensors", activation.replace(':', "_")));
    let m = model.to_str().unwrap().to_string();
    json(&corrflow(&[
        "train",
        "--task",
        "xor",
        "--hidden",
        "8,8",
        "--activation",
        activation,
        "--epochs",
        "2",
        "--json",
        "--out",
        &m,
    ]));
    m
}

fn propagate(m: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["propagate", "--model", m, "--task", "xor"];
    args.extend_from_slice(extra);
    corrflow(&args)
}

/// The text output of a run of `args` that must succeed.
fn success_text(args: &[&str]) -> String {
    let out = corrflow(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Largest output-stage covariance error of a `--json` report.
fn output_err(report: &serde_json::Value) -> f64 {
    report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["stage"] == "output")
        .map(|r| r["cov_rel_err"].as_f64().unwrap())
        .fold(0.0, f64::max)
}

/// From l = 0 and l = 1 at orders 3 and 4 on a relu network: the JSON names the order, the
/// measured stage h^{l+1} and, per class, how far the carry went; the text output says
/// "carried" and never prints NaN; the carried run differs from the first-nonlinearity one
/// from l = 0 (there are two nonlinearities to correct).
#[test]
fn relu_carries_from_every_start_layer() {
    let dir = tempfile::tempdir().unwrap();
    let m = two_layer_xor(dir.path(), "relu");
    for from in ["0", "1"] {
        for order in ["3", "4"] {
            let args = ["--from-layer", from, "--order", order, "--carry", "depth"];
            let out = propagate(&m, &args);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("carried     order"), "{text}");
            assert!(!text.contains("NaN"), "{text}");
            let mut with_json = args.to_vec();
            with_json.push("--json");
            let r = json(&propagate(&m, &with_json));
            let c = &r["carried"];
            assert_eq!(c["order"].as_u64().unwrap().to_string(), order);
            let next = from.parse::<usize>().unwrap() + 1;
            assert_eq!(c["measured_at"], format!("h{next}"));
            let classes = c["classes"].as_array().unwrap();
            assert_eq!(classes.len(), 2, "{c}");
            for cl in classes {
                let to = cl["carried_to"].as_str().unwrap();
                assert!(to == "y" || to == "none" || to.starts_with('z'), "{cl}");
                assert_eq!(to == "y", cl["fallback"].is_null(), "{cl}");
            }
            assert!(output_err(&r).is_finite());
        }
    }
    let first = json(&propagate(&m, &["--order", "3", "--json"]));
    let depth = json(&propagate(
        &m,
        &["--order", "3", "--carry", "depth", "--json"],
    ));
    assert!(first.get("carried").is_none());
    assert_ne!(first["layers"], depth["layers"]);
}

/// On a quadratic network the chaos rule's mean and covariance increments are exact for any
/// input at order 4 (Cov(hᵢ², hⱼ²) is linear in κ₃, κ₄), so the carried theory from x is exact
/// at z¹ (the measured κ tensors of h¹ enter exactly), as the first-nonlinearity corrections
/// are; deeper stages are the rule's approximation.
#[test]
fn quadratic_first_layer_is_exact_when_carried() {
    let dir = tempfile::tempdir().unwrap();
    let m = two_layer_xor(dir.path(), "quad:0.5");
    let r = json(&propagate(
        &m,
        &["--order", "4", "--carry", "depth", "--json"],
    ));
    let worst_z1 = r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["stage"] == "post" && row["layer"] == 1)
        .map(|row| row["cov_rel_err"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(worst_z1 < 1e-9, "z1 covariance error {worst_z1:e}");
    let gauss = json(&propagate(&m, &["--json"]));
    let g_z1 = gauss["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["stage"] == "post" && row["layer"] == 1)
        .map(|row| row["cov_rel_err"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(g_z1 > 1e-3, "the Gaussian is not exact here: {g_z1:e}");
}

/// `--carry depth` needs an order above 2; a width above the full tensors' memory limit is
/// carried on a subset of units, and a subset that does not fit is refused naming the
/// width and what fits.
#[test]
fn carry_refusals_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let m = two_layer_xor(dir.path(), "relu");
    let out = propagate(&m, &["--carry", "depth"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--carry depth") && err.contains("--order 3 or 4"),
        "{err}"
    );
    let wide = dir.path().join("wide.safetensors");
    let w = wide.to_str().unwrap();
    json(&corrflow(&[
        "train",
        "--task",
        "xor",
        "--hidden",
        "200",
        "--activation",
        "relu",
        "--epochs",
        "1",
        "--json",
        "--out",
        w,
    ]));
    // Width 200 is above order 4's full-tensor limit (143): the subset carry takes over
    // (32 units by default) and says so; asking for more units than fit is refused.
    let r = json(&corrflow(&[
        "propagate",
        "--model",
        w,
        "--task",
        "xor",
        "--order",
        "4",
        "--carry",
        "depth",
        "--json",
    ]));
    assert_eq!(r["carried"]["kappa_units"], 32, "{}", r["carried"]);
    let out = corrflow(&[
        "propagate",
        "--model",
        w,
        "--task",
        "xor",
        "--order",
        "4",
        "--carry",
        "depth",
        "--kappa-units",
        "200",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("width 200") && err.contains("143"), "{err}");
}

/// `analyze --order 3 --carry depth`: one carried report per start layer below L, a carried
/// outcome per start layer, the order-3 error budget, and a text output without NaN.
#[test]
fn analyze_carries_from_every_start_layer() {
    let dir = tempfile::tempdir().unwrap();
    let m = two_layer_xor(dir.path(), "relu");
    let args = [
        "analyze", "--model", &m, "--task", "xor", "--order", "3", "--carry", "depth",
    ];
    let mut with_json = args.to_vec();
    with_json.push("--json");
    let r = json(&corrflow(&with_json));
    let carried = r["carried"].as_array().unwrap();
    let measured: Vec<&str> = carried
        .iter()
        .map(|c| c["measured_at"].as_str().unwrap())
        .collect();
    assert_eq!(measured, ["h1", "h2"]);
    assert_eq!(r["carried_start_layers"].as_array().unwrap().len(), 3);
    let orders: Vec<u64> = r["error_budget"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["order"].as_u64().unwrap())
        .collect();
    assert_eq!(orders, [2, 3]);
    let text = success_text(&args);
    assert!(
        text.contains("carried     order 3 from h1") && !text.contains("NaN"),
        "{text}"
    );
}

/// `--kappa-units` above the widest layer keeps every unit, the same carry as `--kappa-units N`
/// (the subset takes min(r, N) per layer): reported as N with N's tensor bytes. 2⁶² used to be
/// reported as such, with a tensor size wrapped to 1536 bytes; 65536 was refused as if a layer
/// were that wide.
#[test]
fn kappa_units_above_the_widest_layer_are_the_widest_layer() {
    let dir = tempfile::tempdir().unwrap();
    let m = two_layer_xor(dir.path(), "relu");
    let carried = |r: &str| {
        let out = propagate(
            &m,
            &[
                "--order",
                "3",
                "--carry",
                "depth",
                "--kappa-units",
                r,
                "--json",
            ],
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "--kappa-units {r}: {err}");
        let mut c = json(&out)["carried"].clone();
        for key in ["measure_seconds", "carry_seconds"] {
            c.as_object_mut().unwrap().remove(key);
        }
        c
    };
    let widest = carried("8");
    assert_eq!(widest["kappa_units"], 8);
    for r in ["9", "65536", "4611686018427387904"] {
        assert_eq!(carried(r), widest, "--kappa-units {r}");
    }
}

/// From the last hidden layer only the affine read-out follows, which maps the cumulants
/// exactly: order 3 or 4 has nothing to correct. The run says so (text and JSON `note`) instead
/// of "0 of 0 units" with no word (adv19's "found, not fixed"), and its comparisons are order
/// 2's; from the layer before, the corrections apply and there is no note.
#[test]
fn corrections_from_the_last_hidden_layer_say_they_have_nothing_to_correct() {
    let dir = tempfile::tempdir().unwrap();
    let m = two_layer_xor(dir.path(), "relu");
    let gaussian = json(&propagate(&m, &["--from-layer", "2", "--json"]));
    assert!(gaussian.get("note").is_none());
    for order in ["3", "4"] {
        for carry in ["first", "depth"] {
            let args = ["--from-layer", "2", "--order", order, "--carry", carry];
            let out = propagate(&m, &args);
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{args:?}: {text}");
            assert!(
                text.contains(&format!(
                    "no nonlinearity for order {order} to correct and the result is order 2's"
                )) && !text.contains("0 of 0 units"),
                "{args:?}: {text}"
            );
            let mut with_json = args.to_vec();
            with_json.push("--json");
            let r = json(&propagate(&m, &with_json));
            assert!(r["note"]
                .as_str()
                .unwrap()
                .contains("the last hidden layer"));
            assert_eq!(r["layers"], gaussian["layers"], "{args:?}");
        }
    }
    let before = json(&propagate(
        &m,
        &["--from-layer", "1", "--order", "3", "--json"],
    ));
    assert!(before.get("note").is_none(), "{before}");
}

/// A linear first layer before a quadratic one (`linear,quad:0.5`): `--carry first` corrects
/// at the linear layer, which maps every cumulant exactly, and closes the quadratic Gaussian, so
/// orders 3 and 4 give order 2's comparisons; the run says so in a note (adv58: no word
/// before). `--carry depth` carries κ₃/κ₄ to the quadratic and has no such note. `analyze
/// --order 3`'s corrected row from x is order 2's, and says so in
/// `theory_accuracy_k3k4_note` and in the report (no word up to the fifty-eighth session).
#[test]
fn corrections_at_a_linear_first_layer_say_they_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("linear-quad.safetensors");
    let mut net = Mlp::init(&[2, 8, 8, 2], Activation::Linear, 1.0, 5).unwrap();
    net.activation = "linear,quad:0.5".parse().unwrap();
    model_io::save(&net, &model, &[]).unwrap();
    let m = model.to_str().unwrap();
    let gaussian = json(&propagate(m, &["--json"]));
    assert!(gaussian.get("note").is_none(), "{gaussian}");
    for order in ["3", "4"] {
        let r = json(&propagate(m, &["--order", order, "--json"]));
        assert!(
            r["note"].as_str().is_some_and(|n| n.contains("is linear")),
            "order {order}: {r}"
        );
        assert_eq!(r["layers"], gaussian["layers"], "order {order}");
        let depth = json(&propagate(
            m,
            &[
                "--order", order, "--carry", "depth", "--pilot", "off", "--json",
            ],
        ));
        assert!(depth.get("note").is_none(), "order {order}: {depth}");
    }
    // `analyze`'s corrected row ("x+κ") likewise: order 2's accuracy, with the note.
    let analyze = |extra: &[&str]| {
        let mut args = vec!["analyze", "--model", m, "--task", "xor", "--json"];
        args.extend_from_slice(extra);
        json(&corrflow(&args))
    };
    let a = analyze(&["--order", "3"]);
    assert!(
        a["theory_accuracy_k3k4_note"]
            .as_str()
            .is_some_and(|n| n.contains("is linear")),
        "{a}"
    );
    assert_eq!(
        a["theory_accuracy_k3k4"]["accuracy"], a["theory_accuracy"][0]["accuracy"],
        "{a}"
    );
    assert!(analyze(&[]).get("theory_accuracy_k3k4_note").is_none());
    let report = dir.path().join("report");
    analyze(&["--order", "3", "--report", report.to_str().unwrap()]);
    let md = std::fs::read_to_string(report.join("report.md")).unwrap();
    assert!(md.contains("**Note:** the first nonlinearity after layer 0 is linear"));
}

/// A 30-layer XOR network of width 4 with `activation` (2 epochs, 1000 training samples):
/// adv21's d30 for tanh.
pub(crate) fn d30(dir: &std::path::Path, activation: &str) -> std::path::PathBuf {
    let model = dir.join(format!("d30-{activation}.safetensors"));
    let hidden = vec!["4"; 30].join(",");
    json(&corrflow(&[
        "--threads",
        "1",
        "train",
        "--task",
        "xor",
        "--activation",
        activation,
        "--hidden",
        &hidden,
        "--epochs",
        "2",
        "--n-train",
        "1000",
        "--n-test",
        "1000",
        "--json",
        "--out",
        model.to_str().unwrap(),
    ]));
    model
}

/// The reason of the first class whose carry was cut (JSON `carried.classes[].gaussian_from`);
/// fails when no class was cut.
fn first_cut(report: &serde_json::Value) -> String {
    let classes = report["carried"]["classes"].as_array().unwrap();
    let cut = classes.iter().find(|c| !c["gaussian_from"].is_null());
    let cut = cut.unwrap_or_else(|| panic!("no class was cut: {classes:?}"));
    cut["gaussian_from"][1].as_str().unwrap().to_string()
}

/// Through the library, on the XOR test set `model` was trained beside: each class carried
/// from layer `from` at `order` with `units` (None: the full tensors), and for every class
/// that was cut at hidden layer k, every stage from h^k on equals, bit for bit,
/// `Propagator::run` at order 2 from layer k − 1 started from the cut run's z^{k−1}. Returns
/// the number of classes cut.
fn cut_stages_are_the_gaussian_closures(
    model: &std::path::Path,
    from: usize,
    order: usize,
    units: Option<usize>,
) -> usize {
    let net = corrflow::net::model_io::load(model).unwrap();
    let split = XorConfig {
        n_train: 1000,
        n_test: 1000,
        ..XorConfig::default()
    }
    .generate()
    .unwrap();
    let data = split.test;
    let start = if from == 0 {
        let mut acc = MomentAccumulator::new(data.x.nrows(), data.n_classes, false).unwrap();
        acc.push(data.x.as_ref(), &data.labels).unwrap();
        acc.finish().unwrap().per_class
    } else {
        let stats = layer_stats(&net, &data, Higher::None, 64).unwrap();
        stats.get(Stage::Post(from)).unwrap().per_class.clone()
    };
    let timings = Timings::disabled();
    let mut cuts = 0;
    for c in 0..start.len() {
        let mut engine = Propagator::new();
        let (carried, report) = propagate_carried(
            &mut engine,
            &net,
            &data,
            from,
            (&start[c..=c], &[c]),
            (order, units),
            None,
            ClosureMethod::Auto,
            64,
            &timings,
        )
        .unwrap();
        let Some((k, _)) = &report.classes[0].gaussian_from else {
            continue;
        };
        cuts += 1;
        // Stages h^{from+1}, z^{from+1}, …: z^{k−1} is entry 2(k − from) − 3, h^k the next.
        assert!(
            *k >= from + 2,
            "a cut at h{k} is the order-2 run from layer {from}"
        );
        let at = 2 * (k - from) - 2;
        let z = carried[at - 1].f64_moments().unwrap();
        let options = PropagateOptions {
            method: ClosureMethod::Auto,
            corrections: Corrections::None,
        };
        let gauss = Propagator::new()
            .run(&net, k - 1, z, None, options, &timings)
            .unwrap()
            .to_vec();
        assert_eq!(gauss.len(), carried.len() - at);
        for (a, b) in carried[at..].iter().zip(&gauss) {
            assert_eq!(a.stage, b.stage);
            let (a, b) = (a.f64_moments().unwrap(), b.f64_moments().unwrap());
            assert!(a[0].mean == b[0].mean && a[0].cov == b[0].cov, "{:?}", b[0]);
        }
    }
    cuts
}

/// adv21's 30-layer tanh XOR network of width 4 (2 epochs): the corrections carried from the
/// measured h¹ leave z's covariance indefinite (z⁵ of class 1) and, 14 layers later, h¹⁹ gets a
/// negative variance. `propagate` and `analyze --order 3 --carry depth` exited 2 with the
/// closure's error; now the carry stops where the covariance turned indefinite, says so in the
/// text and the JSON (`gaussian_from`), and from there the numbers are the Gaussian closure's:
/// equal, bit for bit, to `Propagator::run` at order 2 from the carried z^{k−1}.
#[test]
fn a_carry_that_leaves_a_covariance_indefinite_falls_back_to_the_gaussian_closure() {
    let dir = tempfile::tempdir().unwrap();
    let model = d30(dir.path(), "tanh");
    let m = model.to_str().unwrap();
    let run = |command: &str, extra: &[&str]| {
        // The cut, not the pilot (which abandons both classes' carried outputs here for the
        // Gaussian closure's, `pilot_data`), is what this test checks.
        let mut args = vec!["--threads", "1", command, "--model", m, "--order", "3"];
        args.extend_from_slice(&["--carry", "depth", "--pilot", "off"]);
        args.extend_from_slice(extra);
        corrflow(&args)
    };
    let report = json(&run("propagate", &["--json"]));
    let why = first_cut(&report);
    assert!(why.contains("indefinite"), "{why}");
    let text = run("propagate", &[]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(0), "{out}");
    assert!(
        out.contains("carry stopped, Gaussian closure alone from hidden layer"),
        "{out}"
    );
    json(&run("analyze", &["--json"]));

    // The library's run of the same data: from the cut on, the Gaussian closure's numbers.
    assert!(
        cut_stages_are_the_gaussian_closures(&model, 0, 3, None) > 0,
        "no class was cut"
    );
}

/// The subset carry (`--kappa-units`, [`corrflow::propagate::higher::subset::SubsetCarry`])
/// takes the same cut through the carry hook: on the 30-layer erf network from layer 16 at
/// order 4 with 3 units per layer the corrections carried into z¹⁹ gave h²⁰ a negative
/// variance and the run exited 2 (dm22); now it exits 0, says where the carry stopped (text
/// and JSON `gaussian_from`), and the stages from the cut on are the order-2 run's from the
/// carried z at the cut.
#[test]
fn the_subset_carry_is_cut_where_its_covariance_turns_indefinite() {
    let dir = tempfile::tempdir().unwrap();
    let model = d30(dir.path(), "erf");
    let m = model.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["--threads", "1", "propagate", "--model", m];
        args.extend_from_slice(&["--from-layer", "16", "--order", "4", "--carry", "depth"]);
        args.extend_from_slice(&["--kappa-units", "3"]);
        args.extend_from_slice(extra);
        corrflow(&args)
    };
    let text = run(&[]);
    let out = String::from_utf8_lossy(&text.stdout);
    let err = String::from_utf8_lossy(&text.stderr);
    assert_eq!(text.status.code(), Some(0), "{out}{err}");
    assert!(
        out.contains("carry stopped, Gaussian closure alone from hidden layer")
            || out.contains("Gaussian from hidden layer"),
        "{out}"
    );
    let report = json(&run(&["--json"]));
    assert_eq!(report["carried"]["kappa_units"], 3);
    let why = first_cut(&report);
    assert!(why.contains("the Gaussian closure alone from h"), "{why}");
    assert!(
        cut_stages_are_the_gaussian_closures(&model, 16, 4, Some(3)) > 0,
        "no class was cut"
    );
}

/// A quadratic (quad:0.5) network trained on the higher-order task with the default settings,
/// in `dir`: its path.
fn higher_order_quad(dir: &std::path::Path) -> String {
    let model = dir.join("ho-quad.safetensors");
    let m = model.to_str().unwrap().to_string();
    json(&corrflow(&[
        "train",
        "--task",
        "higher-order",
        "--activation",
        "quad:0.5",
        "--json",
        "--out",
        &m,
    ]));
    m
}

/// On the higher-order task a quadratic network (the default training) with order 3 carried
/// from x leaves class 0's 2 × 2 output covariance with a negative eigenvalue (10 % of its
/// trace): the expansion broke down, and the class falls back (here to the Gaussian closure's
/// output from x, z¹ being indefinite already). `--json` lists it under `indefinite_outputs`
/// with the theory's label, the carried eigenvalue and the fallback (also under the carry's
/// class, `indefinite_output`); the theory's KL and accuracy are finite numbers; the text says
/// "fell back to" for that theory and no longer that its KL is n/a. No Gaussian theory is
/// listed (the Gaussian closure's covariances are positive semidefinite). The binary before
/// the fallback (twenty-eighth session) fails it: no `fallback`, KL null.
#[test]
fn an_indefinite_carried_output_covariance_falls_back_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let m: &str = &higher_order_quad(dir.path());
    let args = [
        "analyze",
        "--task",
        "higher-order",
        "--model",
        m,
        "--order",
        "3",
        "--carry",
        "depth",
    ];
    let r = json(&corrflow(&[&args[..], &["--json"]].concat()));
    let listed = r["indefinite_outputs"]
        .as_array()
        .expect("indefinite_outputs listed");
    assert!(!listed.is_empty());
    let carried = r["carried_start_layers"].as_array().unwrap();
    let text = success_text(&args);
    for t in listed {
        let stage = t["start_stage"].as_str().unwrap();
        let theory = carried
            .iter()
            .find(|o| o["start_stage"] == stage)
            .unwrap_or_else(|| panic!("{stage} is not a carried theory: {carried:?}"));
        let from = theory["start_layer"].as_u64().unwrap();
        assert!(
            theory["kl"].as_f64().is_some_and(f64::is_finite),
            "{theory}"
        );
        assert!(
            theory["accuracy"]
                .as_f64()
                .is_some_and(|a| (0.0..=1.0).contains(&a)),
            "{theory}"
        );
        for c in t["classes"].as_array().unwrap() {
            let (lowest, trace) = (
                c["most_negative_eigenvalue"].as_f64().unwrap(),
                c["trace"].as_f64().unwrap(),
            );
            assert!(lowest < -1e-10 * trace.abs(), "{c}");
            let k = c["fallback"]["gaussian_from_layer"]
                .as_u64()
                .expect("a fallback");
            assert!(k > from, "{c}");
            let to = c["fallback"]["fell_back_to"].as_str().unwrap();
            assert!(
                text.contains(&format!("fell back to {to}")),
                "{to}:\n{text}"
            );
            let class = r["carried"]
                .as_array()
                .unwrap()
                .iter()
                .find(|rep| rep["from_layer"].as_u64() == Some(from))
                .and_then(|rep| {
                    rep["classes"]
                        .as_array()?
                        .iter()
                        .find(|cc| cc["class"] == c["class"])
                })
                .expect("the carry lists the class");
            assert_eq!(
                class["indefinite_output"]["most_negative_eigenvalue"],
                c["most_negative_eigenvalue"]
            );
        }
        let warned = format!("warning     the output covariance carried from {stage} was not");
        assert!(text.contains(&warned), "no warning for {stage}:\n{text}");
    }
    assert!(!text.contains("KL is n/a"), "{text}");
}

/// `--carry first` keeps an indefinite output (no fallback there); on the quadratic
/// higher-order network the theory from z¹ (+κ₃ at h²) leaves class 0 with eigenvalues
/// −3.0e-2 and +4.1e-3: its trace is negative, and the warning said "115.43 % of its trace"
/// (a share of |tr Σ|). It now gives the trace itself ("is negative too") wherever the trace
/// is not positive, a share only where it is; and with 2 outputs it gives the variance of the
/// outputs' difference (JSON `difference_variance`) where that is negative (here −6.1e-2), read
/// from the covariance with its negative eigenvalue set to 0 (before adv31 the negative
/// variance read as a certain difference, p = 1, without a word).
#[test]
fn an_indefinite_output_whose_trace_is_negative_is_not_given_a_share_of_it() {
    let dir = tempfile::tempdir().unwrap();
    let m: &str = &higher_order_quad(dir.path());
    let args = ["analyze", "--model", m, "--order", "3", "--carry", "first"];
    let r = json(&corrflow(&[&args[..], &["--json"]].concat()));
    let text = success_text(&args);
    let (mut negative, mut negative_difference) = (0, 0);
    for t in r["indefinite_outputs"].as_array().expect("listed") {
        for c in t["classes"].as_array().unwrap() {
            let (lowest, trace) = (
                c["most_negative_eigenvalue"].as_f64().unwrap(),
                c["trace"].as_f64().unwrap(),
            );
            let said = if trace > 0.0 {
                format!("{:.2} % of its trace", 100.0 * lowest.abs() / trace)
            } else {
                negative += 1;
                format!("lowest eigenvalue {lowest:.3e}; its trace, {trace:.3e}, is negative too")
            };
            assert!(text.contains(&said), "{said}:\n{text}");
            let v = c["difference_variance"]
                .as_f64()
                .expect("2 outputs, Σ kept");
            if v < 0.0 {
                negative_difference += 1;
                let said = format!("the outputs' difference has variance {v:.3e} < 0");
                assert!(text.contains(&said), "{said}:\n{text}");
            }
        }
    }
    assert!(negative > 0, "no negative trace here any more: {r}");
    assert!(
        negative_difference > 0,
        "no negative difference variance: {r}"
    );
    assert!(
        text.contains("from the covariance with its negative eigenvalue set to 0"),
        "{text}"
    );
}

/// The output KL of each class at y, from `propagate --json`'s per-stage rows.
fn output_kls(r: &serde_json::Value) -> Vec<(u64, f64)> {
    r["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["stage"] == "output")
        .map(|row| (row["class"].as_u64().unwrap(), row["kl"].as_f64().unwrap()))
        .collect()
}

/// A quadratic 784-100-100-10 MNIST network (the default training) carried at order 3 from x:
/// class 4's carried output reaches y positive definite with a covariance error of 0.12 (the
/// Gaussian closure's: 0.83) but along one direction with under 10 % of the Gaussian closure's
/// variance, so that its KL was 12.5 against the Gaussian closure's 0.80 (EXPERIMENTS.md, "The
/// carried output's collapsed directions keep the Gaussian variance, thirtieth session"). That
/// direction now keeps the Gaussian variance: `carried.classes[4].guarded_directions` ≥ 1, the
/// text names the class, and its KL is below the Gaussian closure's (0.36). Fails without the
/// guard (KL 12.5, no field): checked.
#[test]
fn a_collapsed_carried_output_direction_keeps_the_gaussian_variance() {
    let Some(mnist) = crate::common::mnist_dir() else {
        eprintln!("note: MNIST_DIR is unset or missing; skipping the collapsed-direction test");
        return;
    };
    let mnist = mnist.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist-quad.safetensors");
    let m = model.to_str().unwrap();
    json(&corrflow(&[
        "train",
        "--task",
        "mnist",
        "--mnist-dir",
        mnist,
        "--hidden",
        "100,100",
        "--activation",
        "quad:0.5",
        "--json",
        "--out",
        m,
    ]));
    let base = [
        "propagate",
        "--model",
        m,
        "--task",
        "mnist",
        "--mnist-dir",
        mnist,
    ];
    let carried = [&base[..], &["--order", "3", "--carry", "depth"]].concat();
    let gaussian = output_kls(&json(&corrflow(&[&base[..], &["--json"]].concat())));
    let r = json(&corrflow(&[&carried[..], &["--json"]].concat()));
    let classes = r["carried"]["classes"].as_array().unwrap();
    let guarded: Vec<u64> = classes
        .iter()
        .filter(|c| c["guarded_directions"].as_u64().unwrap() > 0)
        .map(|c| c["class"].as_u64().unwrap())
        .collect();
    assert!(guarded.contains(&4), "guarded classes {guarded:?}");
    let kls = output_kls(&r);
    for &c in &guarded {
        let (g, k) = (gaussian[c as usize].1, kls[c as usize].1);
        assert!(
            k < g,
            "class {c}: carried KL {k} against the Gaussian closure's {g}"
        );
    }
    let text = String::from_utf8(corrflow(&carried).stdout).unwrap();
    assert!(
        text.contains("kept the Gaussian's: class 4 ("),
        "no guarded-direction line:\n{text}"
    );
}
