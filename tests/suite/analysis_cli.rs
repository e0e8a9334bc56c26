//! `corrflow analyze` end to end, as a user types it: XOR (where the class moves from the
//! covariance to the mean), the report folder and its plots, real MNIST, and bad input.

use crate::common::{corrflow, json, mnist_dir, train_small_mnist};

use std::path::Path;

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |o: usize| u32::from_be_bytes(bytes[o..o + 4].try_into().unwrap());
    (be(16), be(20))
}

/// XOR with the default quadratic network trained on the fly: at the input both classes have
/// mean 0, so the mean term is sampling noise (O(1/n)) while the covariance term is
/// ½ ln((1+σ²)²/((1+σ²)² − 1)) ≈ 0.92; at the output the mean term dominates.
#[test]
fn xor_class_moves_from_the_covariance_to_the_mean() {
    let r = json(&corrflow(&["analyze", "--task", "xor", "--json"]));
    let info = r["information"].as_array().unwrap();
    let names: Vec<&str> = info.iter().map(|s| s["stage"].as_str().unwrap()).collect();
    assert_eq!(names, ["x", "h1", "z1", "y"]);
    let (x, y) = (&info[0], &info[3]);
    let sigma2: f64 = 0.09;
    let want = 0.5 * ((1.0 + sigma2).powi(2) / ((1.0 + sigma2).powi(2) - 1.0)).ln();
    assert!(
        (f(&x["cov_term"]) - want).abs() < 0.05,
        "input cov term {x}"
    );
    assert!(f(&x["mean_term"]) < 1e-3, "input mean term {x}");
    assert!(f(&y["mean_term"]) > 5.0 * f(&y["cov_term"]), "output {y}");
    assert_eq!(x["pairs"].as_array().unwrap().len(), 1);

    let net = f(&r["network_accuracy"]);
    assert!(net > 0.97, "network accuracy {net}");
    let theory = r["theory_accuracy"].as_array().unwrap();
    assert_eq!(theory.len(), 2, "start layers 0 and 1");
    for t in theory {
        assert!(t["accuracy"].is_f64() && t["stderr"].is_f64());
    }
    let s = &r["surrogate_accuracy"];
    assert_eq!(f(&s["real"]["accuracy"]), net);
    // Order 1 keeps only the (equal) class means: chance level within 4 binomial errors.
    let o1 = f(&s["order1"]["accuracy"]);
    assert!((o1 - 0.5).abs() < 4.0 * (0.25 / f(&s["order1"]["n_samples"])).sqrt());
    assert!(r["transfer"].as_array().unwrap().len() == 1);
    assert!(r["trained"]["epochs"].as_u64().unwrap() > 0);
}

#[test]
fn report_folder_holds_markdown_json_and_decodable_plots() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("xor-report");
    let r = json(&corrflow(&[
        "analyze",
        "--task",
        "xor",
        "--json",
        "--report",
        out.to_str().unwrap(),
    ]));
    for (stem, size) in [
        ("accuracy", (900, 600)),
        ("information", (900, 600)),
        ("heatmap", (1200, 640)),
    ] {
        assert_eq!(png_size(&out.join(format!("{stem}.png"))), size);
        let svg = std::fs::read_to_string(out.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"));
    }
    let svg = std::fs::read_to_string(out.join("accuracy.svg")).unwrap();
    assert!(
        svg.contains("accuracy") && svg.contains("start layer"),
        "axis labels"
    );
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains(&format!("{:.4}", f(&r["network_accuracy"]))));
    for t in r["theory_accuracy"].as_array().unwrap() {
        assert!(md.contains(&format!("| {:.4} |", f(&t["accuracy"]))), "{t}");
    }
    for i in r["information"].as_array().unwrap() {
        let term = corrflow::report::number::non_negative(f(&i["mean_term"]), 5);
        assert!(md.contains(&format!("| {term} |")), "{i}");
    }
    assert!(md.contains("accuracy.png") && md.contains("heatmap.svg"));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(saved["network_accuracy"], r["network_accuracy"]);
    assert_eq!(saved["information"], r["information"]);
}

#[test]
fn real_mnist_end_to_end_with_a_small_model() {
    let Some(mnist) = mnist_dir() else {
        eprintln!("note: MNIST_DIR is unset or missing; skipping the real-MNIST analysis test");
        return;
    };
    let mnist = mnist.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("mnist.safetensors");
    let model = model.to_str().unwrap();
    let common = train_small_mnist(model, mnist, "32", "3", "2000");
    let report = dir.path().join("report");
    let mut analyze = vec![
        "analyze",
        "--model",
        model,
        "--json",
        "--mc-samples",
        "20000",
        "--surrogate-samples",
        "300",
        "--heatmap-layer",
        "2",
        "--report",
        report.to_str().unwrap(),
    ];
    analyze.extend(common);
    let r = json(&corrflow(&analyze));
    assert_eq!(r["n_samples"].as_u64(), Some(10_000));
    let net = f(&r["network_accuracy"]);
    assert!(
        net > 0.6,
        "a trained network, far above chance (0.1): {net}"
    );
    let theory = r["theory_accuracy"].as_array().unwrap();
    assert_eq!(theory.len(), 2);
    for t in theory {
        let a = f(&t["accuracy"]);
        assert!(a > 0.5 && a <= 1.0 && f(&t["stderr"]) > 0.0, "{t}");
    }
    let s = &r["surrogate_accuracy"];
    assert_eq!(s["order2"]["n_samples"].as_u64(), Some(3000));
    // MNIST's class covariances are singular: the directions left out are reported, not hidden.
    assert!(s["order2"]["dropped_directions"].as_u64().unwrap() > 0);
    assert_eq!(r["information"].as_array().unwrap().len(), 4);
    assert_eq!(r["information"][0]["pairs"].as_array().unwrap().len(), 45);
    assert!(report.join("heatmap.png").is_file());
}

/// Bad flags and a model that does not fit the data fail with a message naming the problem,
/// and leave no report folder behind.
#[test]
fn bad_input_fails_clearly_without_partial_reports() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let out = corrflow(&[
        "train",
        "--task",
        "xor",
        "--epochs",
        "2",
        "--out",
        model.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let report = dir.path().join("report");
    let rep = report.to_str().unwrap();
    let m = model.to_str().unwrap();
    // 4 draws ran (adv54: two antithetic pairs, a p_correct of 0.5 read ± 0); the minimum
    // is 100 (`defaults::MIN_MC_SAMPLES`), named with its reason. 1 surrogate draw per class
    // read 1.0 ± 0 (`defaults::MIN_SURROGATE_SAMPLES`: 50).
    let cases: [(&[&str], &str); 10] = [
        (&["--on", "validation"], "--on"),
        (&["--closure", "magic"], "--closure"),
        (&["--heatmap-layer", "5"], "--heatmap-layer"),
        (&["--mc-samples", "1"], "--mc-samples"),
        (&["--mc-samples", "4"], "--mc-samples"),
        (
            &["--mc-samples", "99"],
            "at least 100 draws in antithetic pairs",
        ),
        (&["--hidden", "8"], "--hidden"),
        (&["--task", "higher-order"], "shape mismatch"),
        (&["--surrogate-samples", "1"], "--surrogate-samples"),
        (
            &["--surrogate-samples", "49"],
            "at least 50 draws per class",
        ),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["analyze", "--model", m, "--report", rep];
        args.extend(extra);
        let out = corrflow(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} should fail");
        assert!(err.contains(expect), "{extra:?}: {err}");
        assert!(!report.exists(), "{extra:?} left a report folder");
        assert!(out.stdout.is_empty(), "{extra:?} printed {:?}", out.stdout);
    }
    let out = corrflow(&["analyze", "--model", "/nonexistent/m.safetensors"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/m.safetensors"));
}

/// `--heatmap-layer` without `--report` is refused naming both flags: only the report folder
/// draws the heatmap, and the flag was accepted and nothing drawn (adv48b). With `--report` it
/// still runs (`real_mnist_end_to_end_with_a_small_model` draws layer 2).
#[test]
fn a_heatmap_layer_without_a_report_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("xor.safetensors");
    let m = model.to_str().unwrap();
    let train = ["train", "--task", "xor", "--epochs", "1", "--out", m];
    assert!(corrflow(&train).status.success());
    for extra in [&[][..], &["--json"][..]] {
        let mut args = vec!["analyze", "--model", m, "--heatmap-layer", "2"];
        args.extend(extra);
        let out = corrflow(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success(),
            "{extra:?}: accepted without --report"
        );
        assert!(
            err.contains("--heatmap-layer") && err.contains("--report"),
            "{extra:?}: {err}"
        );
        assert!(out.stdout.is_empty(), "{extra:?} printed {:?}", out.stdout);
    }
}

/// `--timings` adds a per-stage table on stderr and a `timings` object to the JSON on stdout:
/// every stage analyze runs appears with at least one call, the counted stages carry GFLOP and
/// GFLOP/s figures, every stage its process CPU seconds (last column; the JSON's
/// `cpu_seconds`, summed into the total), the recorded total does not exceed the run's wall
/// time, and the run's rate
/// is set against the GEMM rate measured in the same process. Only structure and consistency
/// are checked, never a rate: a tiny XOR affine map runs at 0.0 GFLOP/s (to one decimal) on a
/// slower machine. The flop counts themselves are checked exactly in `analysis_numbers`.
#[test]
fn timings_break_analyze_into_its_stages() {
    let out = corrflow(&["analyze", "--task", "xor", "--json", "--timings"]);
    let r = json(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let row = |stage: &str| -> Vec<String> {
        let line = stderr
            .lines()
            .find(|l| l.starts_with(stage))
            .unwrap_or_else(|| panic!("no {stage:?} row in\n{stderr}"));
        line[stage.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect()
    };
    let stages = [
        "data load",
        "training",
        "forward pass + statistics",
        "statistics",
        "affine",
        "closure",
        "Monte Carlo argmax",
        "surrogates + information + tails",
        "transfer",
    ];
    for stage in stages {
        let calls: u64 = row(stage)[0].parse().unwrap();
        assert!(calls >= 1, "{stage}: {calls} calls");
    }
    // XOR 2-16-2 quadratic: one run per start layer 0 and 1 gives the theory accuracy, the
    // confusion matrices and the Gaussian budget (2 + 1 affine maps), one κ₃/κ₄-corrected run
    // per start layer gives the row "x+κ" and the order-4 budget (2 + 1); the heatmap takes its
    // covariance from the Gaussian run from 0: 3 + 3 affine maps.
    assert_eq!(row("affine")[0], "6");
    let numbers = |stage: &str| -> Vec<f64> {
        let cells = row(stage);
        assert_eq!(
            cells.len(),
            6,
            "{stage}: calls, seconds, share, GFLOP, GFLOP/s, CPU s: {cells:?}"
        );
        [
            &cells[1],
            cells[2].trim_end_matches('%'),
            &cells[3],
            &cells[4],
            &cells[5],
        ]
        .map(|c| {
            c.parse::<f64>()
                .unwrap_or_else(|e| panic!("{stage}: {c:?}: {e}"))
        })
        .to_vec()
    };
    for stage in [
        "forward pass + statistics",
        "affine",
        "surrogates + information + tails",
    ] {
        for x in numbers(stage) {
            assert!(x.is_finite() && x >= 0.0, "{stage} row: {x}");
        }
    }
    assert_eq!(row("closure")[3..5], ["-", "-"], "no flop count, no rate");
    let total: f64 = row("total (recorded)")[0].parse().unwrap();
    assert!(total.is_finite() && total >= 0.0);
    assert!(total <= f(&r["wall_seconds"]) + 1e-3);
    let line = stderr
        .lines()
        .find(|l| l.starts_with("this run: "))
        .unwrap_or_else(|| panic!("no 'this run' line in\n{stderr}"));
    assert!(line.contains("% of this machine's GEMM ("), "{line}");
    // The JSON holds the same stages, totals that add up, and the reference.
    let t = &r["timings"];
    let names: Vec<&str> = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["stage"].as_str().unwrap())
        .collect();
    for stage in stages {
        assert!(names.contains(&stage), "{stage} not in {names:?}");
    }
    let flops: f64 = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| f(&s["flops"]))
        .sum();
    assert!(flops > 0.0 && (flops - f(&t["flops"])).abs() <= 1e-9 * flops);
    let cpu: Vec<f64> = t["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| f(&s["cpu_seconds"]))
        .collect();
    let cpu_total: f64 = cpu.iter().sum();
    assert!(cpu.iter().all(|c| c.is_finite() && *c >= 0.0), "{cpu:?}");
    assert!((cpu_total - f(&t["cpu_seconds"])).abs() <= 1e-12 + 1e-9 * cpu_total);
    let printed: f64 = row("total (recorded)")[3].parse().unwrap();
    assert!(
        (printed - cpu_total).abs() <= 1e-4,
        "{printed} vs {cpu_total}"
    );
    let reference = f(&t["gemm_reference"]["gflops"]);
    assert!(reference > 0.0 && t["gemm_reference"]["threads"].as_u64().unwrap() >= 1);
    // The reference is the fastest of the products timed just before and just after the run,
    // each of them in the JSON, and the line names both moments.
    let rates = |moment: &str| -> Vec<f64> {
        let samples = t["gemm_reference"][moment].as_array().unwrap();
        samples.iter().map(|s| f(&s["gflops"])).collect()
    };
    let (before, after) = (rates("before"), rates("after"));
    assert_eq!((before.len(), after.len()), (2, 2), "{before:?} {after:?}");
    assert_eq!(
        reference,
        before.iter().chain(&after).fold(0.0_f64, |a, &b| a.max(b))
    );
    assert!(
        line.contains("the fastest of 4 products before the run ") && line.contains(", after it "),
        "{line}"
    );
    let share = f(&t["share_of_gemm"]);
    assert!((share - f(&t["gflops"]) / reference).abs() <= 1e-12 * share.max(1.0));
    // Without --timings the JSON has no timings object.
    let plain = json(&corrflow(&["analyze", "--task", "xor", "--json"]));
    assert!(plain.get("timings").is_none());
}

/// `analyze --out FILE` without `--model` keeps the network it trains: analysing that file
/// gives the same numbers; `--out` with `--model` is refused.
#[test]
fn analyze_keeps_the_network_it_trains() {
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.safetensors");
    let k = kept.to_str().unwrap();
    let first = json(&corrflow(&[
        "analyze", "--task", "xor", "--json", "--out", k,
    ]));
    let again = json(&corrflow(&[
        "analyze", "--task", "xor", "--json", "--model", k,
    ]));
    assert_eq!(first["network_accuracy"], again["network_accuracy"]);
    assert_eq!(first["theory_accuracy"], again["theory_accuracy"]);
    let both = corrflow(&["analyze", "--task", "xor", "--model", k, "--out", k]);
    assert!(!both.status.success());
    assert!(String::from_utf8_lossy(&both.stderr).contains("--out"));
}

/// adv52: a network trained by `analyze` that learned nothing usable (XOR at `--gain 1e3`) was
/// warned of on stderr and in `--json`'s and report.json's `trained.unlearned`, while report.md
/// said nothing of it. Its header now has an "unlearned" row with the warning's text.
#[test]
fn a_report_of_a_network_that_learned_nothing_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("rep");
    let run = |gain: &str, out: &Path| {
        json(&corrflow(&[
            "--threads",
            "1",
            "analyze",
            "--task",
            "xor",
            "--gain",
            gain,
            "--mc-samples",
            "1000",
            "--json",
            "--report",
            out.to_str().unwrap(),
        ]))
    };
    let r = run("1e3", &out);
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(r["trained"]["unlearned"]["cause"], "gain", "{r}");
    assert_eq!(file["trained"]["unlearned"], r["trained"]["unlearned"]);
    let row = md.lines().find(|l| l.starts_with("| unlearned |"));
    assert!(
        row.is_some_and(|l| l.contains("learned nothing usable") && l.contains("--gain 1000")),
        "{md}"
    );
    // A healthy run has no such row.
    let healthy = dir.path().join("healthy");
    run("0.5", &healthy);
    let md = std::fs::read_to_string(healthy.join("report.md")).unwrap();
    assert!(!md.contains("| unlearned |"), "{md}");
}
