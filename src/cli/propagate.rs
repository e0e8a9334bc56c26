//! `corrflow propagate`: predict every layer's per-class mean and covariance from one layer's
//! measured statistics, and hold the prediction against the measured ones.

use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use serde::Serialize;

use corrflow::analysis::{compare_stages, StageComparison};
use corrflow::measure::{layer_stats, Higher};
use corrflow::net::Stage;
use corrflow::net::{model_io, train::check_fits};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::timing::Timings;
use corrflow::{Error, Result};

use super::data_args::DataArgs;
use super::output::print_json;

/// Which of the task's sets the statistics are measured on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum On {
    Train,
    Test,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClosureArg {
    /// Exact closed forms (linear, quadratic, relu, erf), Hermite series for tanh/sigmoid/gelu.
    Auto,
    /// Hermite (Mehler) series for every activation.
    Hermite,
    /// Reference 2-D Gauss–Hermite quadrature for every pair (slow).
    Quadrature,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CorrectionsArg {
    /// Gaussian closure: mean and covariance only.
    None,
    /// Add the measured κ₃[i,i,j], κ₄[i,i,j,j] of the first pre-activation (quadratic only).
    K3k4,
}

#[derive(Debug, Args)]
pub struct PropagateArgs {
    /// Trained model (safetensors written by `corrflow train` or the README's PyTorch recipe).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Start from the measured statistics of this layer (0 = the input x, l = zˡ).
    #[arg(long, default_value_t = 0, value_name = "L")]
    pub from_layer: usize,
    /// Closure of the nonlinearity.
    #[arg(long, value_enum, default_value_t = ClosureArg::Auto)]
    pub closure: ClosureArg,
    /// Cumulants beyond the covariance at the first nonlinearity.
    #[arg(long, value_enum, default_value_t = CorrectionsArg::None)]
    pub corrections: CorrectionsArg,
    /// Measure the statistics on the task's training or test set.
    #[arg(long, value_enum, default_value_t = On::Test)]
    pub on: On,
    /// Samples per forward-pass batch when measuring statistics.
    #[arg(long, default_value_t = 1024, value_name = "N")]
    pub batch: usize,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print a per-stage time breakdown (with GFLOP/s of the affine update) on stderr.
    #[arg(long)]
    pub timings: bool,
}

#[derive(Serialize)]
struct PropagateReport {
    model: PathBuf,
    task: String,
    on: On,
    n_samples: usize,
    widths: Vec<usize>,
    activation: String,
    from_layer: usize,
    closure: String,
    corrections: &'static str,
    layers: Vec<StageComparison>,
    wall_seconds: f64,
}

pub fn run(args: PropagateArgs) -> Result<()> {
    let start = Instant::now();
    let timings = Timings::when(args.timings);
    let (net, loaded) = timings.time("data load", 0.0, || {
        Ok::<_, Error>((model_io::load(&args.model)?, args.data.load()?))
    })?;
    let data = match args.on {
        On::Train => &loaded.split.train,
        On::Test => &loaded.split.test,
    };
    check_fits(&net, data).map_err(|e| {
        Error::Shape(format!(
            "{} vs {}: {e}",
            args.model.display(),
            loaded.description
        ))
    })?;
    let method = match args.closure {
        ClosureArg::Auto => ClosureMethod::Auto,
        ClosureArg::Hermite => ClosureMethod::Hermite,
        ClosureArg::Quadrature => ClosureMethod::Quadrature,
    };
    let (corrections, higher) = match args.corrections {
        CorrectionsArg::None => (Corrections::None, Higher::None),
        CorrectionsArg::K3k4 => (Corrections::K3K4, Higher::InputAndPre),
    };
    if args.from_layer > net.depth() {
        return Err(Error::flag(
            "--from-layer",
            format!(
                "{} is beyond the last hidden layer ({}) of {}",
                args.from_layer,
                net.depth(),
                args.model.display()
            ),
        ));
    }
    let closure = corrflow::propagate::ClosurePair::new(net.activation, method)?.closure;
    let stats = timings.time("empirical statistics", 0.0, || {
        layer_stats(&net, data, higher, args.batch)
    })?;
    let start_stage = if args.from_layer == 0 {
        Stage::Input
    } else {
        Stage::Post(args.from_layer)
    };
    let start_moments = &stats
        .get(start_stage)
        .expect("every stage is measured")
        .per_class;
    let first_pre = (args.from_layer < net.depth())
        .then(|| {
            &stats
                .get(Stage::Pre(args.from_layer + 1))
                .expect("measured")
                .per_class
        })
        .map(Vec::as_slice);
    let mut engine = Propagator::new();
    engine.run(
        &net,
        args.from_layer,
        start_moments,
        first_pre,
        PropagateOptions {
            method,
            corrections,
        },
        &timings,
    )?;
    let predicted = engine.into_stages();
    let layers = timings.time("analysis", 0.0, || {
        compare_stages(&predicted, &stats, net.depth())
    })?;
    if timings.enabled() {
        eprint!("{}", timings.table());
    }
    let report = PropagateReport {
        model: args.model.clone(),
        task: loaded.description,
        on: args.on,
        n_samples: data.len(),
        widths: net.widths(),
        activation: net.activation.to_string(),
        from_layer: args.from_layer,
        closure: closure.name(),
        corrections: match corrections {
            Corrections::None => "none",
            Corrections::K3K4 => "k3k4",
        },
        layers,
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    if args.json {
        return print_json(&report);
    }
    println!(
        "model       {} {:?} {}",
        report.model.display(),
        report.widths,
        report.activation
    );
    println!(
        "data        {} ({} set, {} samples)",
        report.task,
        if args.on == On::Test { "test" } else { "train" },
        report.n_samples
    );
    println!(
        "closure     {} from layer {}, corrections {}",
        report.closure, report.from_layer, report.corrections
    );
    println!();
    println!(
        "{:>5} {:>6} {:>5} {:>12} {:>12} {:>12}",
        "layer", "stage", "class", "cov_rel_err", "mean_err", "kl"
    );
    for r in &report.layers {
        let kl = r.kl.map_or("n/a".to_string(), |k| format!("{k:.3e}"));
        println!(
            "{:>5} {:>6} {:>5} {:>12.3e} {:>12.3e} {:>12}",
            r.layer, r.stage, r.class, r.cov_rel_err, r.mean_err, kl
        );
    }
    println!();
    println!("mean over classes");
    println!(
        "{:>5} {:>6} {:>12} {:>12} {:>12}",
        "layer", "stage", "cov_rel_err", "mean_err", "kl"
    );
    for rows in report
        .layers
        .chunk_by(|a, b| a.layer == b.layer && a.stage == b.stage)
    {
        let avg = |f: &dyn Fn(&StageComparison) -> f64| {
            rows.iter().map(f).sum::<f64>() / rows.len() as f64
        };
        let kl = avg(&|r| r.kl.unwrap_or(f64::NAN));
        println!(
            "{:>5} {:>6} {:>12.3e} {:>12.3e} {:>12.3e}",
            rows[0].layer,
            rows[0].stage,
            avg(&|r| r.cov_rel_err),
            avg(&|r| r.mean_err),
            kl
        );
    }
    println!();
    println!("wall time   {:.2} s", report.wall_seconds);
    Ok(())
}
