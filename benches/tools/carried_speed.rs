//! Time and result check of the carried cumulants (`propagate::higher`, issue #16 item 7): one
//! `Propagator::run_carried` through a random bias-free He-initialised MLP of width N and
//! depth L (the ARC setup of `examples/higher_depth.rs`), x ~ N(0, I), at order 3 or 4.
//! Prints the run's seconds and its per-stage split ("kappa affine", "kappa closure", …), and
//! either saves the result — output mean, covariance and the carried tensors of the last stage
//! — or compares it with a saved one, printing the largest relative difference per part
//! (max |a − b| / max |b|).
//!
//! ```text
//! cargo run --release --example carried_speed -- ACT N DEPTH ORDER [save|check FILE]
//! RAYON_NUM_THREADS=1 cargo run --release --example carried_speed -- relu 64 4 4 save /tmp/r.bin
//! ```
//! FILE holds the parts as little-endian f64s, each preceded by its length (u64).

use std::time::Instant;

use corrflow::net::{Activation, Mlp};
use corrflow::propagate::closures::ClosureMethod;
use corrflow::propagate::higher::Carry;
use corrflow::propagate::Propagator;
use corrflow::stats::Moments;
use corrflow::timing::Timings;
use faer::{Col, Mat};

const PARTS: [&str; 4] = ["mean", "cov", "k3", "k4"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 4 {
        return Err("usage: carried_speed ACT N DEPTH ORDER [save|check FILE]".into());
    }
    let act: Activation = args[0].parse()?;
    let n: usize = args[1].parse()?;
    let depth: usize = args[2].parse()?;
    let order: usize = args[3].parse()?;
    let net = Mlp::init(&vec![n; depth + 2], act, gain(act), 1)?;
    let x = Moments::gaussian(Col::zeros(n), Mat::identity(n, n));
    let mut engine = Propagator::new();
    let timings = Timings::new();
    let mut carry = Carry::from_gaussian(order, n, 1)?;
    let t0 = Instant::now();
    let stages = engine.run_carried(&net, 0, &[x], &mut carry, ClosureMethod::Auto, &timings)?;
    let secs = t0.elapsed().as_secs_f64();
    let y = &stages.last().ok_or("no stages")?.f64_moments()?[0];
    println!(
        "{act} n {n} depth {depth} order {order} threads {}: {secs:.4} s",
        rayon::current_num_threads()
    );
    for s in timings.stages() {
        println!(
            "  {:<16} {:>4} calls {:>9.4} s",
            s.stage, s.calls, s.seconds
        );
    }
    let last = carry.last().ok_or("the carry fell back to Gaussian")?;
    let parts: Vec<Vec<f64>> = vec![
        y.mean.iter().copied().collect(),
        (0..n * n).map(|k| y.cov[(k % n, k / n)]).collect(),
        last[0].k3.data().to_vec(),
        last[0]
            .k4
            .as_ref()
            .map_or(Vec::new(), |t| t.data().to_vec()),
    ];
    match (args.get(4).map(String::as_str), args.get(5)) {
        (Some("save"), Some(file)) => std::fs::write(file, encode(&parts))?,
        (Some("check"), Some(file)) => {
            let reference = decode(&std::fs::read(file)?)?;
            for ((name, got), want) in PARTS.iter().zip(&parts).zip(&reference) {
                if got.len() != want.len() {
                    return Err(
                        format!("{name}: {} entries, saved {}", got.len(), want.len()).into(),
                    );
                }
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let diff = got
                    .iter()
                    .zip(want)
                    .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
                println!(
                    "  {name:<4} max rel diff {:.3e} (max |entry| {scale:.3e})",
                    diff / scale.max(f64::MIN_POSITIVE)
                );
            }
        }
        (None, _) => {}
        _ => return Err("the fifth argument is `save FILE` or `check FILE`".into()),
    }
    Ok(())
}

/// He gain 1/√E[φ(Z)²] (trapezoid rule on ±12), as in `examples/higher_depth.rs`.
fn gain(act: Activation) -> f64 {
    let steps = 24_000;
    let h = 24.0 / steps as f64;
    let m2: f64 = (0..=steps)
        .map(|k| {
            let z = -12.0 + k as f64 * h;
            let w = if k == 0 || k == steps { 0.5 } else { 1.0 };
            w * h * act.eval(z).powi(2) * (-0.5 * z * z).exp() / (2.0 * std::f64::consts::PI).sqrt()
        })
        .sum();
    (1.0 / m2).sqrt()
}

fn encode(parts: &[Vec<f64>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in parts {
        out.extend((p.len() as u64).to_le_bytes());
        p.iter().for_each(|v| out.extend(v.to_le_bytes()));
    }
    out
}

fn decode(bytes: &[u8]) -> Result<Vec<Vec<f64>>, String> {
    let mut parts = Vec::new();
    let mut at = 0;
    let word = |at: usize| -> Result<[u8; 8], String> {
        bytes
            .get(at..at + 8)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("the saved file ends at byte {at}"))
    };
    while at < bytes.len() {
        let len = u64::from_le_bytes(word(at)?) as usize;
        at += 8;
        let mut p = Vec::with_capacity(len);
        for _ in 0..len {
            p.push(f64::from_le_bytes(word(at)?));
            at += 8;
        }
        parts.push(p);
    }
    Ok(parts)
}
