//! corrflow's side of the comparison with ARC's cumulant propagation (benches/peers/arc/, issue
//! #16 item 7): propagates the exact input moments x ~ N(0, I) (μ = 0, Σ = I, κ₃ = κ₄ = 0)
//! through each given network with the library's engine ([`Propagator::run`], closures chosen by
//! `ClosureMethod::Auto`: the Φ₂ closed form for relu, the Hermite series for gelu/tanh) and
//! writes the predicted output mean and covariance with the run's wall time.
//!
//! Usage: `arc_compare [--order 2] MODEL.safetensors…`. For `DIR/model.safetensors` it writes
//! `DIR/corrflow_o{ORDER}.safetensors`: F64 tensors `mean` (n) and `cov` (n × n), metadata
//! `seconds` (best of the timed runs), `runs`, `threads`, `order`. Timing: one untimed warm-up,
//! then up to 5 runs, stopping after the first run that ends 1 s after the first began; run with
//! RAYON_NUM_THREADS=1 for the one-thread figures.
//!
//! Orders: 2 is the Gaussian closure. Orders 3 and 4 (κ₃, κ₃ + κ₄ carried through depth, issue
//! #16 items 1–2) are refused until the library has them: [`options_for`] is the one place to
//! pass the order through once it does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use corrflow::net::model_io;
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::Moments;
use corrflow::timing::Timings;
use faer::{Col, Mat};
use safetensors::tensor::{Dtype, TensorView};

/// Timed runs stop after this many…
const MAX_RUNS: usize = 5;
/// …or once this many seconds have passed since the first timed run began.
const TIME_BUDGET_S: f64 = 1.0;

/// The engine's settings for cumulant order `order` (2 = Gaussian).
fn options_for(order: u32) -> Result<PropagateOptions, String> {
    match order {
        2 => Ok(PropagateOptions {
            method: ClosureMethod::Auto,
            corrections: Corrections::None,
        }),
        3 | 4 => Err(format!(
            "--order {order}: this build of the library propagates the Gaussian closure only \
             (order 2); orders 3 and 4 through depth come with issue #16 items 1-2"
        )),
        _ => Err(format!("--order {order}: expected 2, 3 or 4")),
    }
}

/// Propagates N(0, I) through the network in `model` and writes its output file; returns the
/// output path and the best time in seconds.
fn run_one(model: &Path, order: u32) -> Result<(PathBuf, f64), String> {
    let net = model_io::load(model).map_err(|e| e.to_string())?;
    let opts = options_for(order)?;
    let n = net.input_dim();
    let start = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
    let mut engine = Propagator::new();
    let timings = Timings::disabled();
    let propagate = |engine: &mut Propagator| {
        engine
            .run(&net, 0, &start, None, opts, &timings)
            .map(|_| ())
            .map_err(|e| format!("{}: {e}", model.display()))
    };
    propagate(&mut engine)?;
    let (mut best, mut runs) = (f64::INFINITY, 0);
    let first = Instant::now();
    while runs < MAX_RUNS && (runs == 0 || first.elapsed().as_secs_f64() < TIME_BUDGET_S) {
        let t = Instant::now();
        propagate(&mut engine)?;
        best = best.min(t.elapsed().as_secs_f64());
        runs += 1;
    }
    let y = &engine
        .into_stages()
        .pop()
        .ok_or("the engine returned no output stage")?
        .per_class[0];
    let dir = model.parent().unwrap_or(Path::new("."));
    let out = dir.join(format!("corrflow_o{order}.safetensors"));
    let meta = HashMap::from([
        ("seconds".to_string(), format!("{best:e}")),
        ("runs".to_string(), runs.to_string()),
        (
            "threads".to_string(),
            rayon::current_num_threads().to_string(),
        ),
        ("order".to_string(), order.to_string()),
    ]);
    write_moments(&out, &y.mean, &y.cov, meta)?;
    Ok((out, best))
}

/// Writes `mean` and `cov` (row-major) as F64 safetensors with `meta`.
fn write_moments(
    path: &Path,
    mean: &Col<f64>,
    cov: &Mat<f64>,
    meta: HashMap<String, String>,
) -> Result<(), String> {
    let n = mean.nrows();
    let mean_bytes: Vec<u8> = mean.iter().flat_map(|v| v.to_le_bytes()).collect();
    let cov_bytes: Vec<u8> = (0..n)
        .flat_map(|i| (0..n).map(move |j| cov[(i, j)]))
        .flat_map(f64::to_le_bytes)
        .collect();
    let views = [
        ("mean", vec![n], &mean_bytes),
        ("cov", vec![n, n], &cov_bytes),
    ]
    .into_iter()
    .map(|(name, shape, bytes)| {
        TensorView::new(Dtype::F64, shape, bytes)
            .map(|v| (name.to_string(), v))
            .map_err(|e| format!("{}: tensor {name}: {e}", path.display()))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

fn main() -> Result<(), String> {
    let mut args = std::env::args().skip(1).peekable();
    let mut order = 2;
    if args.peek().map(String::as_str) == Some("--order") {
        args.next();
        let value = args.next().unwrap_or_default();
        order = value
            .parse()
            .map_err(|_| format!("--order {value:?}: expected 2, 3 or 4"))?;
    }
    let models: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if models.is_empty() {
        return Err("usage: arc_compare [--order 2|3|4] MODEL.safetensors...".into());
    }
    for model in &models {
        let (out, best) = run_one(model, order)?;
        println!("{}  {:.3} ms", out.display(), best * 1e3);
    }
    Ok(())
}
