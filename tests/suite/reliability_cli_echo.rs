//! adv45: what a message echoes of a file's own text is short and its control characters
//! escaped (`corrflow::error::excerpt`): a model's metadata and a data file's tensor names were
//! echoed whole, 20–200 kB of stderr, terminal escapes and all.

use super::common::{corrflow, train_tiny_xor, with_metadata};

/// `propagate --json` of the model at `path` with one thread and `extra` flags.
fn propagate(path: &std::path::Path, extra: &[&str]) -> std::process::Output {
    let args = [
        "--threads",
        "1",
        "propagate",
        "--model",
        path.to_str().unwrap(),
        "--json",
    ];
    corrflow(&[&args[..], extra].concat())
}

/// Asserts that `out` is a refusal naming `name`, under 800 bytes, without control characters.
fn short_and_escaped(out: &std::process::Output, name: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    let shown = &err[..err.len().min(300)];
    assert_eq!(out.status.code(), Some(2), "{name}: {shown}");
    assert!(err.contains(name), "{shown}");
    assert!(err.len() < 800, "{name}: {} bytes: {shown}", err.len());
    assert!(
        !err.trim_end().chars().any(char::is_control),
        "{name}: a control character: {shown}"
    );
}

/// A model whose metadata 'activation', 'widths' or 'format' is 20 kB with terminal escapes.
/// Old: 'activation' echoed whole with its raw escape (20 kB), 'widths' and 'format' whole
/// in Rust's debug form (27–30 kB).
#[test]
fn a_models_metadata_is_echoed_short_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    train_tiny_xor(model.to_str().unwrap(), "4");
    let bytes = std::fs::read(&model).unwrap();
    let junk = format!("\x1b[2J{}", "relu".repeat(5000));
    for key in ["activation", "widths", "format"] {
        let path = dir.path().join(format!("bad-{key}.safetensors"));
        std::fs::write(&path, with_metadata(&bytes, key, &junk)).unwrap();
        let out = propagate(&path, &["--task", "xor"]);
        short_and_escaped(&out, &format!("bad-{key}.safetensors"));
        assert!(out.stdout.is_empty(), "{key}");
    }
}

/// Data whose tensor is not found among 20 000 names, or among one name of 5 000 characters
/// with an escape: the names are listed short. Old: 200 kB and 5 kB of names.
#[test]
fn a_data_files_tensor_names_are_listed_short() {
    let dir = tempfile::tempdir().unwrap();
    for (file, names) in [
        (
            "many.safetensors",
            (0..20_000).map(|k| format!("t{k:05}")).collect::<Vec<_>>(),
        ),
        (
            "long.safetensors",
            vec![format!("x\x1b[2J{}", "A".repeat(5000))],
        ),
    ] {
        let mut header = serde_json::Map::new();
        for (k, name) in names.iter().enumerate() {
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": "F64", "shape": [1], "data_offsets": [8 * k, 8 * k + 8]}),
            );
        }
        let mut text = serde_json::to_vec(&header).unwrap();
        while !text.len().is_multiple_of(8) {
            text.push(b' ');
        }
        let mut bytes = (text.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(&text);
        bytes.extend(std::iter::repeat_n(0u8, 8 * names.len()));
        let path = dir.path().join(file);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        let out = corrflow(&[
            "--threads",
            "1",
            "train",
            "--task",
            "data",
            "--train-x",
            p,
            "--train-y",
            p,
            "--test-split",
            "0:1",
            "--epochs",
            "1",
            "--out",
            dir.path().join("m.safetensors").to_str().unwrap(),
        ]);
        short_and_escaped(&out, file);
    }
}

/// A sweep grid whose unknown key is 5 000 characters with a terminal escape, and whose known
/// key's value is such a string. Old (before adv45): the key echoed whole, twice (once by the
/// message of the TOML reader it repeats), the escape raw: ~10 kB of stderr.
#[test]
fn a_grids_keys_and_values_are_echoed_short_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let long = format!("\u{1b}[31m{}", "k".repeat(5000));
    for (name, text) in [
        ("key.toml", format!("task = 'xor'\n\"{long}\" = [3]\n")),
        ("value.toml", format!("activation = [\"{long}\"]\n")),
    ] {
        let grid = dir.path().join(name);
        std::fs::write(&grid, text.replace('\u{1b}', "\\u001b")).unwrap();
        let out_dir = dir.path().join("out");
        let out = corrflow(&[
            "sweep",
            "--grid",
            grid.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        short_and_escaped(&out, name);
    }
}

/// A generated task's σ and gamma shape are written in compact form in the task's description
/// (the summary, the JSON, a model's records and every message that names the task); old: a
/// σ of 1e-300 was 302 characters ("0.000…0001"), 1e300 likewise (adv47).
#[test]
fn a_generated_tasks_settings_are_written_compactly() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    let cases: [(&[&str], &str); 2] = [
        (&["--task", "xor", "--sigma", "1e-300"], "σ=1e-300,"),
        (
            &["--task", "higher-order", "--gamma-shape", "1e300"],
            "gamma shape=1e300,",
        ),
    ];
    for (task, shown) in cases {
        let args = [
            "--threads",
            "1",
            "train",
            "--epochs",
            "1",
            "--json",
            "--out",
            m,
        ];
        let out = corrflow(&[&args[..], task].concat());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{task:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let description = report["task"].as_str().unwrap_or_default();
        assert!(description.contains(shown), "{task:?}: {description}");
        assert!(
            description.len() < 120,
            "{task:?}: {} bytes",
            description.len()
        );
        assert!(!text.contains("00000000000"), "{task:?}");
    }
}

/// `analyze --ridge 0` on a class covariance that is not positive definite says the mean
/// variance in 4 significant digits; old: "mean variance = 7.478465597215772e-1" (adv47).
#[test]
fn an_unridged_split_says_the_mean_variance_in_short() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "8");
    let out = corrflow(&[
        "--threads",
        "1",
        "analyze",
        "--model",
        m,
        "--ridge",
        "0",
        "--json",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let mean = err
        .split("mean variance = ")
        .nth(1)
        .unwrap_or_else(|| panic!("no mean variance: {err}"));
    let digits: String = mean
        .chars()
        .skip(2)
        .take_while(char::is_ascii_digit)
        .collect();
    assert!(digits.len() <= 3, "{err}");
}

/// SGD's divergence at `--gain 1e50` names the read-out's curvature in exponent form; old: its
/// 9.2e200 in 201 digits, a 1 kB message (adv47).
#[test]
fn an_sgd_divergences_curvature_is_written_in_short() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let args = "--threads 1 train --task xor --hidden 8 --activation quad:0.5 --optimizer sgd \
                --gain 1e50 --epochs 1 --out";
    let mut args: Vec<&str> = args.split_whitespace().collect();
    args.push(model.to_str().unwrap());
    let out = corrflow(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("curvature"), "{err}");
    assert!(!err.contains("00000000000"), "{err}");
    assert!(err.len() < 900, "{} bytes: {err}", err.len());
}

/// A model whose data or preprocessing record (`corrflow.data`, `corrflow.preprocess`) is 20 kB
/// with terminal escapes: not JSON, no object, a value of the wrong type, a task that is none.
/// Old (adv47b): the record, or its value and serde's message repeating it, echoed whole, 20–40
/// kB, the escapes raw where the record was no JSON.
#[test]
fn a_models_records_are_echoed_short_and_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    train_tiny_xor(model.to_str().unwrap(), "4");
    let bytes = std::fs::read(&model).unwrap();
    let junk = format!("\x1b[2J{}", "x".repeat(20_000));
    let quoted = serde_json::Value::from(junk.clone()).to_string();
    for (name, key, value) in [
        ("notjson", "corrflow.data", format!("{{{junk}")),
        ("array", "corrflow.data", format!("[{quoted}]")),
        (
            "sigma",
            "corrflow.data",
            format!("{{\"task\":\"xor\",\"sigma\":{quoted}}}"),
        ),
        ("task", "corrflow.data", format!("{{\"task\":{quoted}}}")),
        (
            "scale",
            "corrflow.preprocess",
            format!("{{\"scale\":{quoted}}}"),
        ),
    ] {
        let path = dir.path().join(format!("bad-{name}.safetensors"));
        std::fs::write(&path, with_metadata(&bytes, key, &value)).unwrap();
        let out = propagate(&path, &[]);
        short_and_escaped(&out, &format!("bad-{name}.safetensors: its record {key}"));
        assert!(out.stdout.is_empty(), "{name}");
    }
}
