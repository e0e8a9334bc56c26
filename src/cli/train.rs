//! `corrflow train`: fit an MLP to a task, report accuracy, write the model file.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde::Serialize;

use corrflow::cumtrain::{train_cumulants, Objective};
use corrflow::net::train::{train, EpochStats, Loss, Optimizer, TrainConfig};
use corrflow::net::{model_io, Activation, Mlp, Precision};
use corrflow::timing::Timings;
use corrflow::{Error, Result};

use super::data_args::{DataArgs, Task};
use super::output::{print_json, progress};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// What to fit: samples (the loss on the training samples, mini-batches) or cumulants (the
    /// MSE as a function of each class's propagated input mean and covariance, DESIGN.md §6;
    /// full-batch, ⌈n_train/batch⌉ steps per epoch, --loss mse only).
    #[arg(long, default_value = "samples")]
    pub objective: String,
    /// Where to write the trained model (safetensors; written atomically).
    #[arg(long, value_name = "FILE", default_value = "model.safetensors")]
    pub out: PathBuf,
    /// Print one JSON object on stdout instead of the human summary.
    #[arg(long)]
    pub json: bool,
    /// Print a per-stage time breakdown on stderr (GFLOP/s from 2 flops per weight and sample
    /// forward, 6 for a training step), and the min/median time of one training epoch.
    #[arg(long)]
    pub timings: bool,
}

/// Architecture and optimisation flags; unset values take the task's defaults (see `--help`).
#[derive(Debug, Args, Clone)]
pub struct NetArgs {
    /// Hidden layer widths, comma separated [default: xor 16 · higher-order 64,64 · mnist 100,100].
    #[arg(long, value_name = "N,N,…", value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// Activation of every hidden layer: linear, quad:ALPHA (φ(h)=h+αh²), relu, erf, tanh,
    /// sigmoid, gelu [default: quad:0.5, mnist relu].
    #[arg(long, value_name = "φ")]
    pub activation: Option<String>,
    /// Loss: mse (squared error to one-hot targets) or ce (softmax cross-entropy).
    #[arg(long, default_value = "mse")]
    pub loss: String,
    /// Optimiser: adam or sgd (with --momentum).
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// Passes over the training set [default: xor 40 · higher-order 60 · mnist 15].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Learning rate [default: adam 1e-3 (xor 1e-2), sgd 0.05].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Momentum of SGD.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f64,
    /// Initial weights N(0, gain²/fan_in) [default: relu √2, others 1].
    #[arg(long)]
    pub gain: Option<f64>,
    /// Seed of the weight initialisation and of the batch order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Float type of training (forward pass, backpropagation, optimiser): f64 or f32
    /// [default: f64]. The model is stored in f64 either way (f32 weights widened exactly);
    /// evaluation, statistics and propagation are f64.
    #[arg(long, value_name = "TYPE",
          value_parser = clap::builder::PossibleValuesParser::new(["f64", "f32"]))]
    pub precision: Option<String>,
}

impl NetArgs {
    /// The untrained network and the training settings for `task` with `d_in` inputs and
    /// `n_classes` outputs.
    pub fn resolve(&self, task: Task, d_in: usize, n_classes: usize) -> Result<(Mlp, TrainConfig)> {
        let activation: Activation = match &self.activation {
            Some(s) => s.parse()?,
            None if task == Task::Mnist => Activation::Relu,
            None => Activation::Quadratic { alpha: 0.5 },
        };
        let hidden = self.hidden.clone().unwrap_or_else(|| match task {
            Task::Xor => vec![16],
            Task::HigherOrder => vec![64, 64],
            Task::Mnist => vec![100, 100],
        });
        if hidden.contains(&0) {
            return Err(Error::flag("--hidden", "every width must be at least 1"));
        }
        let mut widths = vec![d_in];
        widths.extend(&hidden);
        widths.push(n_classes);
        let gain = self.gain.unwrap_or(if activation == Activation::Relu {
            2f64.sqrt()
        } else {
            1.0
        });
        let net = Mlp::init(&widths, activation, gain, self.seed)?;
        let optimizer: Optimizer = self.optimizer.parse()?;
        let lr = self.lr.unwrap_or(match (optimizer, task) {
            (Optimizer::Adam, Task::Xor) => 1e-2,
            (Optimizer::Adam, _) => 1e-3,
            (Optimizer::Sgd, _) => 0.05,
        });
        let epochs = self.epochs.unwrap_or(match task {
            Task::Xor => 40,
            Task::HigherOrder => 60,
            Task::Mnist => 15,
        });
        let cfg = TrainConfig {
            epochs,
            batch: self.batch,
            lr,
            loss: self.loss.parse::<Loss>()?,
            optimizer,
            momentum: self.momentum,
            seed: self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15),
            precision: match &self.precision {
                Some(p) => p.parse::<Precision>()?,
                None => Precision::F64,
            },
        };
        Ok((net, cfg))
    }
}

/// The `--json` record of a training run.
#[derive(Serialize)]
struct TrainReport {
    task: String,
    widths: Vec<usize>,
    activation: String,
    objective: Objective,
    config: TrainConfig,
    n_train: usize,
    n_test: usize,
    train_accuracy: f64,
    test_accuracy: f64,
    final_loss: f64,
    wall_seconds: f64,
    model: PathBuf,
    epochs: Vec<EpochStats>,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let start = Instant::now();
    let objective: Objective = args.objective.parse()?;
    let timings = Timings::when(args.timings);
    let loaded = timings.time("data load", 0.0, || args.data.load())?;
    let split = &loaded.split;
    let (mut net, cfg) =
        args.net
            .resolve(args.data.task, split.train.dim(), split.train.n_classes)?;
    if objective == Objective::Cumulants && cfg.precision != Precision::F64 {
        return Err(Error::flag(
            "--precision",
            "f32 applies to --objective samples; the cumulant objective trains in f64",
        ));
    }
    let weights: usize = net.layers.iter().map(|l| l.fan_in() * l.fan_out()).sum();
    let bar = progress(cfg.epochs as u64, "training", !args.json);
    // GFLOP/s of sample training (forward + backward ≈ 6 flops per weight and sample); the
    // cumulant objective's cost is not a GEMM count, so it is timed without a rate.
    let epoch_flops = (6 * weights * split.train.len()) as f64;
    let mut epoch_seconds = Vec::with_capacity(cfg.epochs);
    let mut epoch_start = Instant::now();
    let on_epoch = |e: &EpochStats| {
        epoch_seconds.push(epoch_start.elapsed().as_secs_f64());
        bar.set_message(format!("loss {:.4} acc {:.3}", e.loss, e.train_accuracy));
        bar.inc(1);
        epoch_start = Instant::now();
    };
    let history = match objective {
        Objective::Samples => timings.time("training", epoch_flops * cfg.epochs as f64, || {
            train(&mut net, &split.train, &cfg, on_epoch)
        })?,
        Objective::Cumulants => timings.time("training (cumulants)", 0.0, || {
            train_cumulants(&mut net, &split.train, &cfg, on_epoch)
        })?,
    };
    bar.finish_and_clear();
    let eval_flops = (2 * weights * (split.train.len() + split.test.len())) as f64;
    let (train_accuracy, test_accuracy) = timings.time("evaluation", eval_flops, || {
        (net.accuracy(&split.train), net.accuracy(&split.test))
    });
    if timings.enabled() {
        eprint!("{}", timings.table());
        if objective == Objective::Samples {
            eprintln!("{}", epoch_line(&epoch_seconds, epoch_flops, cfg.precision));
        }
    }
    model_io::save(
        &net,
        &args.out,
        &[
            ("task", loaded.description.clone()),
            ("objective", objective.to_string()),
            ("loss", cfg.loss.to_string()),
            ("optimizer", cfg.optimizer.to_string()),
            ("epochs", cfg.epochs.to_string()),
            ("seed", args.net.seed.to_string()),
            ("precision", cfg.precision.to_string()),
            ("test_accuracy", format!("{test_accuracy}")),
        ],
    )?;
    let report = TrainReport {
        task: loaded.description,
        widths: net.widths(),
        activation: net.activation.to_string(),
        objective,
        n_train: split.train.len(),
        n_test: split.test.len(),
        train_accuracy,
        test_accuracy,
        final_loss: history.last().map_or(f64::NAN, |e| e.loss),
        wall_seconds: start.elapsed().as_secs_f64(),
        model: args.out.clone(),
        config: cfg,
        epochs: history,
    };
    if args.json {
        return print_json(&report);
    }
    println!("task            {}", report.task);
    println!("network         {:?} {}", report.widths, report.activation);
    println!(
        "training        {} objective, {} epochs, batch {}, {} lr {:e}, loss {}",
        report.objective,
        report.config.epochs,
        report.config.batch,
        report.config.optimizer,
        report.config.lr,
        report.config.loss
    );
    println!(
        "samples         {} train, {} test",
        report.n_train, report.n_test
    );
    println!("train accuracy  {:.4}", report.train_accuracy);
    println!("test accuracy   {:.4}", report.test_accuracy);
    println!("final loss      {:.5}", report.final_loss);
    println!("wall time       {:.2} s", report.wall_seconds);
    println!("model           {}", report.model.display());
    Ok(())
}

/// `training epoch  min … s  median … s  (E epochs, f64, … GFLOP/s at the median)`: the
/// per-epoch figure of `--timings` (the first epoch includes buffer allocation and thread
/// start-up, so the median is the steady state).
fn epoch_line(seconds: &[f64], epoch_flops: f64, precision: Precision) -> String {
    let mut sorted = seconds.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (min, median) = match sorted.len() {
        0 => (f64::NAN, f64::NAN),
        n if n % 2 == 1 => (sorted[0], sorted[n / 2]),
        n => (sorted[0], 0.5 * (sorted[n / 2 - 1] + sorted[n / 2])),
    };
    format!(
        "training epoch  min {min:.4} s  median {median:.4} s  ({} epochs, {precision}, {:.1} GFLOP/s at the median)",
        seconds.len(),
        epoch_flops / median * 1e-9
    )
}
