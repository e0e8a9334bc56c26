//! `corrflow analyze`: accuracy of the Gaussian description from every start layer, surrogate
//! inputs by correlation order, class information per stage and the quadratic closure's
//! transfer between orders (DESIGN.md §4), as tables, JSON or a report folder with plots.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use corrflow::analysis::information::INFORMATION_RIDGE;
use corrflow::analysis::{analyze, Analysis, AnalysisOptions};
use corrflow::net::train::{check_fits, train};
use corrflow::net::{model_io, Mlp};
use corrflow::propagate::closures::ClosureMethod;
use corrflow::report::{analysis_report, write_files};
use corrflow::timing::Timings;
use corrflow::{Error, Result};

use super::data_args::DataArgs;
use super::output::{print_json, progress};
use super::propagate::{ClosureArg, On};
use super::train::NetArgs;

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Trained model (safetensors). Without it, a network is first trained on the task's
    /// training set with the architecture and training flags below (task defaults).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// Analyse the task's test or training set.
    #[arg(long, value_enum, default_value_t = On::Test)]
    pub on: On,
    /// Closure of the nonlinearity for the theory.
    #[arg(long, value_enum, default_value_t = ClosureArg::Auto)]
    pub closure: ClosureArg,
    /// Monte Carlo draws per class for P(argmax y = c) (≥ 3 outputs; 2 outputs are exact).
    #[arg(long, default_value_t = 200_000, value_name = "N")]
    pub mc_samples: usize,
    /// Surrogate samples per class [default: the data's own class counts].
    #[arg(long, value_name = "N")]
    pub surrogate_samples: Option<usize>,
    /// Relative ridge of the Bhattacharyya split for singular covariances.
    #[arg(long, default_value_t = INFORMATION_RIDGE, value_name = "ε")]
    pub ridge: f64,
    /// Layer whose class-0 covariance is drawn as a heatmap: 1…L (zˡ) or L+1 (output).
    #[arg(long, default_value_t = 1, value_name = "L")]
    pub heatmap_layer: usize,
    /// Print one JSON object on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Write report.md, report.json and the plots (PNG and SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Print a per-stage time breakdown (data load, training, empirical statistics, affine with
    /// GFLOP/s, closure, Monte Carlo argmax, surrogates, information, transfer, report) on stderr.
    #[arg(long)]
    pub timings: bool,
}

/// How the network was obtained when no `--model` was given.
#[derive(Serialize)]
struct Trained {
    epochs: usize,
    n_train: usize,
    train_accuracy: f64,
}

#[derive(Serialize)]
struct AnalyzeReport {
    model: Option<PathBuf>,
    trained: Option<Trained>,
    task: String,
    on: On,
    closure: String,
    heatmap_layer: usize,
    #[serde(flatten)]
    analysis: Analysis,
    wall_seconds: f64,
}

pub fn run(args: AnalyzeArgs) -> Result<()> {
    let start = Instant::now();
    if args.model.is_some() {
        reject_training_flags(&args.net)?;
    }
    if args.mc_samples < 4 {
        return Err(Error::flag("--mc-samples", "must be at least 4"));
    }
    let timings = Timings::when(args.timings);
    let loaded = timings.time("data load", 0.0, || args.data.load())?;
    let split = &loaded.split;
    let (net, trained) = match &args.model {
        Some(path) => (
            timings.time("data load", 0.0, || model_io::load(path))?,
            None,
        ),
        None => timings.time("training", 0.0, || train_default(&args, split))?,
    };
    let data = match args.on {
        On::Train => &split.train,
        On::Test => &split.test,
    };
    check_fits(&net, data).map_err(|e| {
        let what = args
            .model
            .as_ref()
            .map_or("the trained network".to_string(), |p| {
                p.display().to_string()
            });
        Error::Shape(format!("{what} vs {}: {e}", loaded.description))
    })?;
    let method = match args.closure {
        ClosureArg::Auto => ClosureMethod::Auto,
        ClosureArg::Hermite => ClosureMethod::Hermite,
        ClosureArg::Quadrature => ClosureMethod::Quadrature,
    };
    let closure = corrflow::propagate::ClosurePair::new(net.activation, method)?.closure;
    let (analysis, heatmap) = analyze(
        &net,
        data,
        AnalysisOptions {
            method,
            mc_samples: args.mc_samples,
            surrogate_samples: args.surrogate_samples,
            ridge: args.ridge,
            heatmap_layer: args.heatmap_layer,
            seed: args.net.seed,
        },
        &timings,
    )?;
    let report = AnalyzeReport {
        model: args.model.clone(),
        trained,
        task: loaded.description,
        on: args.on,
        closure: closure.name(),
        heatmap_layer: args.heatmap_layer,
        analysis,
        wall_seconds: start.elapsed().as_secs_f64(),
    };
    if let Some(dir) = &args.report {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Numeric(format!("JSON output: {e}")))?;
        let header = [
            (
                "model",
                report
                    .model
                    .as_ref()
                    .map_or("trained by this run".into(), |p| p.display().to_string()),
            ),
            ("data", report.task.clone()),
            ("analysed set", format!("{:?}", report.on).to_lowercase()),
            ("closure", report.closure.clone()),
            ("command", std::env::args().collect::<Vec<_>>().join(" ")),
        ];
        timings.time("report", 0.0, || {
            let files = analysis_report(&header, &report.analysis, &heatmap, &json)?;
            write_files(dir, &files)
        })?;
    }
    if timings.enabled() {
        eprint!("{}", timings.table());
    }
    if args.json {
        return print_json(&report);
    }
    print_tables(&report, &net);
    if let Some(dir) = &args.report {
        println!("report      {}", dir.join("report.md").display());
    }
    Ok(())
}

/// Architecture and training flags have no meaning with `--model`: refuse them rather than
/// ignore them.
fn reject_training_flags(net: &NetArgs) -> Result<()> {
    let given = [
        ("--hidden", net.hidden.is_some()),
        ("--activation", net.activation.is_some()),
        ("--epochs", net.epochs.is_some()),
        ("--lr", net.lr.is_some()),
        ("--gain", net.gain.is_some()),
        ("--precision", net.precision.is_some()),
    ];
    match given.iter().find(|(_, set)| *set) {
        Some((flag, _)) => Err(Error::flag(
            *flag,
            "configures the network trained when no --model is given; remove it or --model",
        )),
        None => Ok(()),
    }
}

/// Trains the task's default network (or the one the flags describe) on the training set.
fn train_default(
    args: &AnalyzeArgs,
    split: &corrflow::data::Split,
) -> Result<(Mlp, Option<Trained>)> {
    let (mut net, cfg) =
        args.net
            .resolve(args.data.task, split.train.dim(), split.train.n_classes)?;
    let bar = progress(cfg.epochs as u64, "training", true);
    train(&mut net, &split.train, &cfg, |e| {
        bar.set_message(format!("loss {:.4} acc {:.3}", e.loss, e.train_accuracy));
        bar.inc(1);
    })?;
    bar.finish_and_clear();
    let trained = Trained {
        epochs: cfg.epochs,
        n_train: split.train.len(),
        train_accuracy: net.accuracy(&split.train),
    };
    Ok((net, Some(trained)))
}

fn print_tables(r: &AnalyzeReport, net: &Mlp) {
    let a = &r.analysis;
    match &r.model {
        Some(p) => println!(
            "model       {} {:?} {}",
            p.display(),
            a.widths,
            a.activation
        ),
        None => println!("model       trained here {:?} {}", a.widths, a.activation),
    }
    println!(
        "data        {} ({} set, {} samples)",
        r.task,
        format!("{:?}", r.on).to_lowercase(),
        a.n_samples
    );
    println!("closure     {}", r.closure);
    println!();
    println!(
        "network accuracy {:.4} ± {:.4}",
        a.network_accuracy, a.network_accuracy_stderr
    );
    println!(
        "{:>11} {:>6} {:>9} {:>8} {:>9}",
        "start layer", "stage", "theory", "stderr", "Δ"
    );
    for t in &a.theory_accuracy {
        println!(
            "{:>11} {:>6} {:>9.4} {:>8.4} {:>+9.4}",
            t.start_layer,
            t.start_stage,
            t.accuracy,
            t.stderr,
            t.accuracy - a.network_accuracy
        );
    }
    if let Some(t) = &a.theory_accuracy_k3k4 {
        println!(
            "{:>11} {:>6} {:>9.4} {:>8.4} {:>+9.4}   (+ κ₃/κ₄ of h1 at the first nonlinearity)",
            0,
            "x+κ",
            t.accuracy,
            t.stderr,
            t.accuracy - a.network_accuracy
        );
    }
    println!();
    let s = &a.surrogate_accuracy;
    println!(
        "{:>9} {:>9} {:>8} {:>8} {:>8}",
        "surrogate", "accuracy", "stderr", "samples", "clipped"
    );
    for (name, x) in [
        ("order 1", &s.order1),
        ("order 2", &s.order2),
        ("real", &s.real),
    ] {
        println!(
            "{name:>9} {:>9.4} {:>8.4} {:>8} {:>8}",
            x.accuracy, x.stderr, x.n_samples, x.clipped_eigenvalues
        );
    }
    println!();
    println!(
        "{:>6} {:>11} {:>11} {:>10}   (Bhattacharyya, mean over class pairs, ridge {:e})",
        "stage", "mean term", "cov term", "mean share", a.information_ridge
    );
    for i in &a.information {
        println!(
            "{:>6} {:>11.4e} {:>11.4e} {:>10.3}",
            i.stage, i.mean_term, i.cov_term, i.mean_share
        );
    }
    if let Some(transfer) = &a.transfer {
        println!();
        println!(
            "{:>6} {:>15} {:>17}   (quadratic closure, shares of term norms)",
            "layer", "cov feeds mean", "κ₃/κ₄ feed cov"
        );
        for t in transfer {
            println!(
                "{:>6} {:>15.3} {:>17.3}",
                t.layer, t.cov_feeds_mean, t.higher_feeds_cov
            );
        }
    }
    println!();
    println!("depth       {} hidden layers", net.depth());
    println!("wall time   {:.2} s", r.wall_seconds);
}
