//! `corrflow train`: fit an MLP to a task, report accuracy, write the model file.

use std::path::PathBuf;

use clap::Args;

use corrflow::command::train::train_model;
use corrflow::config::{defaults, RunConfig};
use corrflow::cumtrain::Objective;
use corrflow::io::MemoryLimit;
use corrflow::timing::Timings;
use corrflow::Result;

use super::data_args::DataArgs;
use super::net_args::NetArgs;
use super::output::{self, epoch_bar, print_json};

#[derive(Debug, Args)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// What to fit: samples (the loss on the training samples, mini-batches) or cumulants (the
    /// MSE as a function of each class's propagated input mean and covariance, DESIGN.md §6;
    /// full-batch, ⌈n_train/batch⌉ steps per epoch, --loss mse only).
    #[arg(long, value_enum, ignore_case = true, hide_possible_values = true, default_value_t = defaults::OBJECTIVE)]
    pub objective: Objective,
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

impl TrainArgs {
    fn config(&self) -> Result<RunConfig> {
        let (net, mut train) = self.net.clone().into_config()?;
        train.objective = self.objective;
        Ok(RunConfig {
            data: self.data.clone().into(),
            net,
            train,
            ..RunConfig::default()
        })
    }
}

pub fn run(args: TrainArgs, max_memory: MemoryLimit) -> Result<()> {
    let config = RunConfig {
        max_memory,
        ..args.config()?
    };
    let timings = Timings::when(args.timings);
    let bar = epoch_bar(config.epochs(), !args.json);
    let mut report = train_model(&config, &args.out, &timings, |e| bar.epoch(e))?;
    bar.finish();
    report.timings = output::finish_timings(&timings);
    if report.timings.is_some() {
        if let Some(line) = report.epoch_line() {
            eprintln!("{line}");
        }
    }
    if args.json {
        return print_json(&report);
    }
    print!("{report}");
    Ok(())
}
