//! Model files written by Python's `safetensors` package (the PyTorch route of the README) load
//! in corrflow, and corrflow's files load in Python.

use std::path::{Path, PathBuf};
use std::process::Command;

use corrflow::net::{model_io, Activation};

use crate::common::python;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

fn check_fixture_values(path: &Path) {
    let net = model_io::load(path).unwrap();
    assert_eq!(net.widths(), vec![3, 4, 2]);
    assert_eq!(net.activation.uniform(), Some(Activation::Tanh));
    for layer in &net.layers {
        let cols = layer.fan_in();
        for i in 0..layer.fan_out() {
            for j in 0..cols {
                assert_eq!(layer.w[(i, j)], (i * cols + j) as f64 / 64.0 - 1.0);
            }
            assert_eq!(layer.b[i], i as f64 / 8.0 - 0.5);
        }
    }
}

#[test]
fn loads_a_file_written_by_python_safetensors() {
    match python() {
        Some(py) => {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("py.safetensors");
            let status = Command::new(py)
                .arg(fixture("make_pytorch_fixture.py"))
                .arg(&out)
                .status()
                .unwrap();
            assert!(status.success());
            check_fixture_values(&out);
        }
        None => eprintln!("note: no Python with numpy+safetensors; using the checked-in fixture"),
    }
    check_fixture_values(&fixture("pytorch_mlp.safetensors"));
}

#[test]
fn python_reads_what_corrflow_writes() {
    let Some(py) = python() else {
        eprintln!("note: no Python with numpy+safetensors; skipped the Python read-back");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rust.safetensors");
    let net = corrflow::net::Mlp::init(&[5, 3, 2], Activation::Relu, 1.0, 4).unwrap();
    model_io::save(&net, &path, &[]).unwrap();
    let script = "import sys; from safetensors.numpy import load_file; from safetensors import safe_open\n\
t = load_file(sys.argv[1]); m = safe_open(sys.argv[1], 'np').metadata()\n\
print(m['widths'], m['activation'], sorted(t), t['hidden1.weight'].shape, repr(float(t['readout.weight'][1, 2])))";
    let out = Command::new(py)
        .args(["-c", script])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let want = format!(
        "5,3,2 relu ['hidden1.bias', 'hidden1.weight', 'readout.bias', 'readout.weight'] (3, 5) {:?}\n",
        net.layers[1].w[(1, 2)]
    );
    assert_eq!(text, want);
}
