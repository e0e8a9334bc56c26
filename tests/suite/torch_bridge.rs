//! `python/corrflow_torch.py`: models it writes load in corrflow and compute what NumPy/PyTorch
//! compute (bias-free layers, per-layer activations, a folded or recorded normaliser); a PyTorch
//! MLP trained on scikit-learn's iris classifies every test sample as corrflow does.

use std::path::{Path, PathBuf};
use std::process::Command;

use corrflow::net::{model_io, Activation};
use faer::Mat;

use crate::common::corrflow;

/// A Python with numpy and safetensors ($CORRFLOW_PYTHON, else python3) that can also import
/// `extra` (e.g. "torch, sklearn").
fn python_with(extra: &str) -> Option<PathBuf> {
    let exe = std::env::var_os("CORRFLOW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| "python3".into());
    let import = format!("import numpy, safetensors.numpy{}", extra);
    let ok = Command::new(&exe)
        .args(["-c", &import])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    ok.then_some(exe)
}

fn loud_skip(what: &str) {
    eprintln!("\n**************** SKIPPED: {what} ****************\n");
}

/// Runs `script` with the bridge importable and `dir` as its first argument.
fn run_python(python: &Path, script: &str, dir: &Path) {
    let bridge = Path::new(env!("CARGO_MANIFEST_DIR")).join("python");
    let out = Command::new(python)
        .args(["-c", script])
        .arg(dir)
        .env("PYTHONPATH", bridge)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn matrix(rows: &serde_json::Value) -> Mat<f64> {
    let rows = rows.as_array().unwrap();
    let cols = rows[0].as_array().unwrap().len();
    // one sample per column, as corrflow stores data
    Mat::from_fn(cols, rows.len(), |i, k| rows[k][i].as_f64().unwrap())
}

const NUMPY_SCRIPT: &str = r#"
import json, sys
import numpy as np
import corrflow_torch as ct
d = sys.argv[1]
rng = np.random.default_rng(3)
w = [rng.normal(size=(5, 4)), rng.normal(size=(6, 5)), rng.normal(size=(3, 6))]
b = [None, rng.normal(size=6), rng.normal(size=3)]
acts = ["leaky_relu:0.2", "softplus"]
mean, std = np.array([0.5, -1.0, 2.0, 0.0]), np.array([2.0, 0.5, 1.5, 3.0])
ct.export_arrays(w, b, acts, f"{d}/folded.safetensors", preprocess=(mean, std))
ct.export_arrays(w, b, acts, f"{d}/recorded.safetensors", preprocess=(mean, std), fold=False)
x = rng.normal(size=(7, 4)) * 2
def forward(x):
    h = ((x - mean) / std) @ w[0].T
    z = np.where(h > 0, h, 0.2 * h)
    h = z @ w[1].T + b[1]
    z = np.maximum(h, 0) + np.log1p(np.exp(-np.abs(h)))
    return z @ w[2].T + b[2]
json.dump({"x": x.tolist(), "y": forward(x).tolist()}, open(f"{d}/expected.json", "w"))
back = ct.load_arrays(f"{d}/recorded.safetensors")
assert back[1][0] is None and back[2] == acts, back[2]
assert json.loads(back[3]["corrflow.preprocess"])["normalize_std"] == "2.0,0.5,1.5,3.0"
"#;

#[test]
fn numpy_exports_load_and_compute_the_same_outputs() {
    let Some(python) = python_with("") else {
        loud_skip("torch_bridge numpy test: no Python with numpy and safetensors");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_python(&python, NUMPY_SCRIPT, dir.path());
    let expected = read_json(&dir.path().join("expected.json"));
    let (x, y) = (matrix(&expected["x"]), matrix(&expected["y"]));

    let net = model_io::load(&dir.path().join("folded.safetensors")).unwrap();
    assert_eq!(net.widths(), vec![4, 5, 6, 3]);
    assert_eq!(net.activation.at(0), Activation::LeakyRelu { slope: 0.2 });
    assert_eq!(net.activation.at(1), Activation::Softplus);
    let mut fp = corrflow::net::ForwardPass::new(&net, x.ncols());
    net.forward_into(x.as_ref(), &mut fp);
    for k in 0..x.ncols() {
        for i in 0..3 {
            let (got, want) = (fp.output()[(i, k)], y[(i, k)]);
            assert!(
                (got - want).abs() <= 1e-12 * (1.0 + want.abs()),
                "sample {k} output {i}: {got} vs {want}"
            );
        }
    }

    // Recorded instead of folded: the raw first layer is bias-free and the normaliser is in the
    // metadata under the key the data side reads.
    let path = dir.path().join("recorded.safetensors");
    let raw = model_io::load(&path).unwrap();
    assert!(raw.layers[0].b.iter().all(|&b| b == 0.0));
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let pre = &header.metadata().as_ref().unwrap()["corrflow.preprocess"];
    let pre: serde_json::Value = serde_json::from_str(pre).unwrap();
    assert_eq!(pre["normalize_mean"], "0.5,-1.0,2.0,0.0");
}

const TORCH_SCRIPT: &str = r#"
import json, sys
import numpy as np, torch
from torch import nn
from sklearn.datasets import load_iris
import corrflow_torch as ct
d = sys.argv[1]
torch.manual_seed(0)
x, y = load_iris(return_X_y=True)
perm = np.random.default_rng(0).permutation(len(y))
x, y = x[perm], y[perm]
xtr, ytr, xte, yte = x[:100], y[:100], x[100:], y[100:]
mean, std = xtr.mean(0), xtr.std(0)
model = nn.Sequential(nn.Linear(4, 16, bias=False), nn.LeakyReLU(0.05), nn.Linear(16, 12),
                      nn.Tanh(), nn.Linear(12, 3)).double()
opt = torch.optim.Adam(model.parameters(), lr=0.02)
xt, yt = torch.from_numpy((xtr - mean) / std), torch.from_numpy(ytr)
for _ in range(300):
    opt.zero_grad()
    nn.functional.cross_entropy(model(xt), yt).backward()
    opt.step()
with torch.no_grad():
    pred = model(torch.from_numpy((xte - mean) / std)).argmax(1).numpy()
ct.export(model, f"{d}/iris.safetensors", preprocess=(mean, std), metadata={"task": "iris"})
ct.write_dataset(xtr, ytr, f"{d}/train")
ct.write_dataset(torch.from_numpy(xte), torch.from_numpy(yte), f"{d}/test")
back = ct.load(f"{d}/iris.safetensors")
with torch.no_grad():
    assert (back(torch.from_numpy(xte)).argmax(1).numpy() == pred).all()
json.dump({"x": xte.tolist(), "labels": yte.tolist(), "pred": pred.tolist(),
           "accuracy": float((pred == yte).mean())}, open(f"{d}/torch.json", "w"))
"#;

#[test]
fn pytorch_iris_model_classifies_every_sample_as_corrflow_does() {
    let Some(python) = python_with(", torch, sklearn") else {
        loud_skip(
            "torch_bridge iris test: no Python with torch and scikit-learn \
             (.ci/run installs them into .venv where it can)",
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    run_python(&python, TORCH_SCRIPT, dir.path());
    let t = read_json(&dir.path().join("torch.json"));
    let x = matrix(&t["x"]);
    let want: Vec<usize> = t["pred"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let model = dir.path().join("iris.safetensors");
    let net = model_io::load(&model).unwrap();
    assert_eq!(net.predict(x.as_ref(), 64), want, "per-sample predictions");
    let accuracy = t["accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.8, "PyTorch's iris accuracy {accuracy}");

    // The command-line route needs `--task data` (issue #12 part A).
    let help = corrflow(&["analyze", "--help"]);
    if !String::from_utf8_lossy(&help.stdout).contains("--train-x") {
        loud_skip("torch_bridge CLI half: this build has no `--task data --train-x …`");
        return;
    }
    let p = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let out = corrflow(&[
        "analyze",
        "--model",
        &p("iris.safetensors"),
        "--task",
        "data",
        "--train-x",
        &p("train_x.npy"),
        "--train-y",
        &p("train_y.npy"),
        "--test-x",
        &p("test_x.npy"),
        "--test-y",
        &p("test_y.npy"),
        "--json",
    ]);
    let report = crate::common::json(&out);
    assert_eq!(report["network_accuracy"].as_f64().unwrap(), accuracy);
}
