//! One layer of propagation for the peer comparison (`just bench-peers`): the affine map
//! μ' = Wμ + b, Σ' = WΣWᵀ followed by the relu closure, for C classes at width N, timed (best
//! of `repeats`) and written out so that benches/peers/layer.py can check that NumPy/SciPy
//! computes the same numbers.
//!
//! Usage: `peer_layer N CLASSES OUT_DIR [REPEATS]`. Writes raw little-endian f64, column-major:
//! `w.f64` (N×N), `b.f64`, per class c `mu{c}.f64`, `sigma{c}.f64` (inputs) and `mean{c}.f64`,
//! `cov{c}.f64` (corrflow's post-relu mean and covariance), plus `timing.json`
//! (`{"n", "classes", "threads", "affine_s", "closure_s"}`, best of the repeats).
//!
//! Inputs: W with entries U(−1, 1)·√(3/N) (unit-variance rows), b = 0.1·U(−1, 1), per class
//! Σ = BBᵀ/8 + D (B of rank 8 with U(−1, 1) entries, D ∈ [0.05, 0.45]) and μ = 0.6·U(−1, 1):
//! a typical hidden layer, the same recipe as the criterion benches.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use corrflow::propagate::affine::{affine_moments, AffineWorkspace};
use corrflow::propagate::closures::{Closure, Corrections, ReluClosure};
use corrflow::stats::Moments;

use faer::{Col, Mat};

// The strong-correlation inputs serve the closure_ratio tool, not this example.
#[allow(dead_code)]
#[path = "../tools/inputs.rs"]
mod inputs;
use inputs::{layer_moments, Uniform};

fn write_f64(path: &Path, values: impl Iterator<Item = f64>) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for v in values {
        f.write_all(&v.to_le_bytes())?;
    }
    f.flush()
}

fn write_mat(path: &Path, m: &Mat<f64>) -> std::io::Result<()> {
    write_f64(
        path,
        (0..m.ncols()).flat_map(|j| (0..m.nrows()).map(move |i| m[(i, j)])),
    )
}

fn write_col(path: &Path, c: &Col<f64>) -> std::io::Result<()> {
    write_f64(path, (0..c.nrows()).map(|i| c[i]))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 3 {
        return Err("usage: peer_layer N CLASSES OUT_DIR [REPEATS]".into());
    }
    let (n, classes): (usize, usize) = (args[0].parse()?, args[1].parse()?);
    let out = Path::new(&args[2]);
    let repeats: usize = args.get(3).map_or(Ok(5), |r| r.parse())?;
    std::fs::create_dir_all(out)?;
    let mut u = Uniform(2024);
    let scale = (3.0 / n as f64).sqrt();
    let w = Mat::from_fn(n, n, |_, _| scale * u.next());
    let b = Col::from_fn(n, |_| 0.1 * u.next());
    let inputs: Vec<Moments> = (0..classes).map(|_| layer_moments(&mut u, n)).collect();
    let mut pre = inputs.clone();
    let mut post = inputs.clone();
    let mut ws = AffineWorkspace::new();
    let (mut affine_s, mut closure_s) = (f64::MAX, f64::MAX);
    for _ in 0..repeats {
        let t = Instant::now();
        affine_moments(w.as_ref(), b.as_ref(), &inputs, &mut pre, &mut ws)?;
        affine_s = affine_s.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for (h, z) in pre.iter().zip(post.iter_mut()) {
            ReluClosure.apply_into(h, Corrections::None, z)?;
        }
        closure_s = closure_s.min(t.elapsed().as_secs_f64());
    }
    write_mat(&out.join("w.f64"), &w)?;
    write_col(&out.join("b.f64"), &b)?;
    for (c, (x, z)) in inputs.iter().zip(&post).enumerate() {
        write_col(&out.join(format!("mu{c}.f64")), &x.mean)?;
        write_mat(&out.join(format!("sigma{c}.f64")), &x.cov)?;
        write_col(&out.join(format!("mean{c}.f64")), &z.mean)?;
        write_mat(&out.join(format!("cov{c}.f64")), &z.cov)?;
    }
    let timing = serde_json::json!({
        "n": n,
        "classes": classes,
        "threads": rayon::current_num_threads(),
        "affine_s": affine_s,
        "closure_s": closure_s,
    });
    std::fs::write(out.join("timing.json"), timing.to_string())?;
    println!(
        "corrflow  N={n} C={classes} threads={}: affine {:.1} ms, relu closure {:.1} ms, total {:.1} ms",
        rayon::current_num_threads(),
        affine_s * 1e3,
        closure_s * 1e3,
        (affine_s + closure_s) * 1e3
    );
    Ok(())
}
