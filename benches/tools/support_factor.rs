//! `LowRankFactor` on the support against the d × d pivoted Cholesky it replaced (wall27, issue
//! #14 item 2): `cargo run --release --example support_factor -- ROUNDS` (MNIST_DIR set).
//!
//! The class covariances of MNIST's test set and their pooled within-class covariance (the
//! K + 1 = 11 factors of `analyze`'s surrogates) are factored both ways: *full*, faer's
//! `llt_pivoting` on the d × d copy with the silent rows and columns zeroed (the code before
//! wall27, block 32), and *support*, [`LowRankFactor::new`]. Printed per matrix: d, the support
//! m, both ranks and residuals, and how many entries of F differ and by how much (largest
//! |ΔF| relative to max |F|; (=) when the residuals agree to the bit); then per round the process CPU seconds of the 11 factors each
//! way, alternated (the order reversed every round), and the medians.

use faer::dyn_stack::{MemBuffer, MemStack};
use faer::linalg::cholesky::llt_pivoting::factor::{
    cholesky_in_place, cholesky_in_place_scratch, PivLltParams,
};
use faer::{Mat, MatRef, Par, Spec};

use corrflow::analysis::surrogate::within_class_covariance;
use corrflow::data::MnistConfig;
use corrflow::linalg::with_work;
use corrflow::stats::gaussian::LowRankFactor;
use corrflow::stats::MomentAccumulator;
use corrflow::timing::cpu::process_cpu_seconds;

const USAGE: &str = "usage: support_factor ROUNDS (MNIST_DIR set)";

/// The d × d factor as `LowRankFactor` formed it before wall27 (in this thread's kept work
/// matrix, as it did): (F, rank, residual).
fn full_factor(cov: MatRef<'_, f64>) -> (Mat<f64>, usize, f64) {
    with_work(cov.nrows(), cov.nrows(), |a| full_factor_in(cov, a))
}

fn full_factor_in(cov: MatRef<'_, f64>, a: &mut Mat<f64>) -> (Mat<f64>, usize, f64) {
    let d = cov.nrows();
    let silent: Vec<bool> = (0..d).map(|i| cov[(i, i)] <= 0.0).collect();
    for j in 0..d {
        for i in 0..d {
            a[(i, j)] = if i < j || silent[i] || silent[j] {
                0.0
            } else {
                cov[(i, j)]
            };
        }
    }
    let (mut perm, mut perm_inv) = (vec![0usize; d], vec![0usize; d]);
    let mut params: Spec<PivLltParams, f64> = Default::default();
    params.config.block_size = 32;
    let mut mem = MemBuffer::new(cholesky_in_place_scratch::<usize, f64>(d, Par::Seq, params));
    let (info, _) = cholesky_in_place(
        a.as_mut(),
        &mut perm,
        &mut perm_inv,
        Par::Seq,
        MemStack::new(&mut mem),
        params,
    )
    .expect("full pivoted Cholesky");
    let r = info.rank;
    let residual = if r < d { a[(r, r)].max(0.0) } else { 0.0 };
    let mut f = Mat::zeros(d, r);
    for k in 0..r {
        for (i, &row) in perm.iter().enumerate().skip(k) {
            f[(row, k)] = a[(i, k)];
        }
    }
    (f, r, residual)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), String> {
    let rounds: usize = match std::env::args().nth(1).map(|a| a.parse()) {
        Some(Ok(r)) if r > 0 => r,
        _ => return Err(USAGE.into()),
    };
    let dir = std::env::var_os("MNIST_DIR").ok_or(USAGE)?;
    let mnist = MnistConfig::from_dir(dir)
        .load()
        .map_err(|e| e.to_string())?;
    let test = &mnist.split.test;
    let mut acc =
        MomentAccumulator::new(test.x.nrows(), test.n_classes, false).map_err(|e| e.to_string())?;
    acc.push(test.x.as_ref(), &test.labels)
        .map_err(|e| e.to_string())?;
    let moments = acc.finish().map_err(|e| e.to_string())?;
    let sw = within_class_covariance(&moments).map_err(|e| e.to_string())?;
    let mut covs = vec![("Σ_w".to_string(), sw)];
    for (k, m) in moments.per_class.iter().enumerate() {
        covs.push((format!("Σ_{}", moments.classes[k]), m.cov.clone()));
    }
    println!("matrix  d  m  rank(full)  rank(support)  residual(full)  residual(support)  F entries differing  max|ΔF|/max|F|");
    for (name, cov) in &covs {
        let d = cov.nrows();
        let m = (0..d).filter(|&i| cov[(i, i)] > 0.0).count();
        let (f, r, res) = full_factor(cov.as_ref());
        let s = LowRankFactor::new(cov.as_ref(), Par::Seq, name).map_err(|e| e.to_string())?;
        let (differ, dev) = if s.rank() == r {
            let g = s.factor();
            let scale = (0..d)
                .flat_map(|i| (0..r).map(move |k| (i, k)))
                .map(|(i, k)| f[(i, k)].abs())
                .fold(0.0, f64::max);
            let mut differ = 0usize;
            let mut dev = 0.0f64;
            for k in 0..r {
                for i in 0..d {
                    if f[(i, k)].to_bits() != g[(i, k)].to_bits() {
                        differ += 1;
                        dev = dev.max((f[(i, k)] - g[(i, k)]).abs() / scale);
                    }
                }
            }
            (differ.to_string(), format!("{dev:.2e}"))
        } else {
            ("-".into(), "-".into())
        };
        println!(
            "{name}  {d}  {m}  {r}  {}  {res:.6e}  {:.6e}{}  {differ}  {dev}",
            s.rank(),
            s.residual(),
            if s.residual().to_bits() == res.to_bits() {
                " (=)"
            } else {
                " (≠)"
            }
        );
    }
    let cpu = || process_cpu_seconds().map_err(|e| e.to_string());
    let (mut full_s, mut support_s) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for which in [round % 2 == 0, round % 2 == 1] {
            let t0 = cpu()?;
            for (name, cov) in &covs {
                if which {
                    std::hint::black_box(full_factor(cov.as_ref()));
                } else {
                    std::hint::black_box(
                        LowRankFactor::new(cov.as_ref(), Par::Seq, name)
                            .map_err(|e| e.to_string())?,
                    );
                }
            }
            let t = cpu()? - t0;
            if which {
                full_s.push(t);
            } else {
                support_s.push(t);
            }
        }
        println!(
            "round {round}: full {:.4} s, support {:.4} s (CPU, {} factors)",
            full_s[round],
            support_s[round],
            covs.len()
        );
    }
    println!(
        "median CPU: full {:.4} s, support {:.4} s, ratio {:.3}",
        median(&mut full_s),
        median(&mut support_s),
        median(&mut support_s.clone()) / median(&mut full_s.clone())
    );
    Ok(())
}
