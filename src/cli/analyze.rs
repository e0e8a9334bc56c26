//! `corrflow analyze`: accuracy of the Gaussian description from every start layer, surrogate
//! inputs by correlation order, class information per stage and the quadratic closure's
//! transfer between orders (DESIGN.md §4), as tables, JSON or a report folder with plots.

use std::path::PathBuf;

use clap::Args;

use corrflow::command::analyze::analyze_run;
use corrflow::config::{defaults, AnalysisConfig, On, RunConfig};
use corrflow::io::{say, MemoryLimit};
use corrflow::propagate::affine::AffineStrategy;
use corrflow::propagate::closures::ClosureMethod;
use corrflow::Result;

use super::data_args::DataArgs;
use super::net_args::NetArgs;
use super::order_args::OrderArgs;
use super::output::{self, epoch_bar, print_json, stage_bars_wanted, StageBars};

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Trained model (safetensors). Without it, a network is first trained on the task's
    /// training set with the architecture and training flags below (task defaults).
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Without --model: also write the network this run trains to FILE (safetensors), to
    /// analyse or propagate again later with --model FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// Analyse the task's test or training set.
    #[arg(long, value_enum, default_value_t = On::Test)]
    pub on: On,
    /// Closure of the nonlinearity for the theory.
    #[arg(long, value_enum, default_value_t = ClosureMethod::Auto)]
    pub closure: ClosureMethod,
    /// Update of f64 covariances through an affine layer: dense, auto or factored (see
    /// `corrflow propagate --help`; factored is refused under --precision f32 at --order 2).
    #[arg(long, value_enum, default_value_t = defaults::AFFINE)]
    pub affine: AffineStrategy,
    /// (Adds the row "x+κ", the theory from the input corrected at h1 at this order, and the
    /// error budget of this order, each start layer corrected at its first nonlinearity.)
    #[command(flatten)]
    pub order: OrderArgs,
    /// Monte Carlo draws per class for P(argmax y = c) (≥ 3 outputs; 2 outputs are exact) and
    /// the output tails; at least 100, 50 antithetic pairs whose spread is the standard error.
    #[arg(long, default_value_t = defaults::MC_SAMPLES, value_name = "N")]
    pub mc_samples: usize,
    /// Surrogate samples per class, at least 50 (a smaller count's standard error is 0 whenever
    /// its few draws agree) [default: the data's own class counts]; the accuracy weights the
    /// classes by the data's priors either way.
    #[arg(long, value_name = "N")]
    pub surrogate_samples: Option<usize>,
    /// Relative ridge of the Bhattacharyya split for singular covariances, in [0, 1] (a
    /// fraction of each stage's mean variance).
    #[arg(long, default_value_t = defaults::RIDGE, value_name = "ε")]
    pub ridge: f64,
    /// Layer whose class-0 covariance is drawn as a heatmap in the --report folder: 1…L (zˡ)
    /// or L+1 (output) [default: 1]. Needs --report, where the heatmap is drawn.
    #[arg(long, value_name = "L")]
    pub heatmap_layer: Option<usize>,
    /// Print one JSON object on stdout instead of the tables.
    #[arg(long)]
    pub json: bool,
    /// Write report.md, report.json and the plots (PNG and SVG) into this folder.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Print a per-stage time breakdown (data load, training, empirical statistics, affine with
    /// GFLOP/s, closure, Monte Carlo argmax, surrogates, information, transfer, report) on stderr,
    /// ending with the run's share of faer's GEMM rate: the fastest of the products timed in
    /// this process just before and just after the run.
    #[arg(long)]
    pub timings: bool,
}

impl AnalyzeArgs {
    /// `--heatmap-layer`, or its default; refused without `--report`, the only output that
    /// draws the heatmap (before, the flag was accepted and nothing was drawn, adv48b).
    fn heatmap_layer(&self) -> Result<usize> {
        match (self.heatmap_layer, &self.report) {
            (Some(_), None) => Err(corrflow::Error::flag(
                "--heatmap-layer",
                "the heatmap is drawn only into a --report folder: give --report DIR, or \
                 leave --heatmap-layer out",
            )),
            (layer, _) => Ok(layer.unwrap_or(defaults::HEATMAP_LAYER)),
        }
    }

    fn config(&self) -> Result<RunConfig> {
        if self.model.is_some() {
            self.net.reject()?;
        }
        let (net, train) = self.net.clone().into_config()?;
        Ok(RunConfig {
            data: self.data.clone().into(),
            net,
            train,
            analysis: AnalysisConfig {
                on: self.on,
                closure: self.closure,
                affine: self.affine,
                order: self.order.corrections(),
                carry: self.order.carry(),
                mc_samples: self.mc_samples,
                surrogate_samples: self.surrogate_samples,
                ridge: self.ridge,
                heatmap_layer: self.heatmap_layer()?,
                ..AnalysisConfig::default()
            },
            ..RunConfig::default()
        })
    }
}

pub fn run(args: AnalyzeArgs, max_memory: MemoryLimit) -> Result<()> {
    let config = RunConfig {
        max_memory,
        ..args.config()?
    };
    let stages = StageBars::new(stage_bars_wanted(args.json));
    let timings = output::start_timings(args.timings, Box::new(stages.clone()), max_memory);
    let bar = epoch_bar(config.epochs(), args.model.is_none());
    let work = || {
        let report = analyze_run(
            &config,
            args.model.as_deref(),
            args.out.as_deref(),
            args.report.as_deref(),
            &timings,
            |e| bar.epoch(e),
        )?;
        if let Some(dir) = &args.report {
            let command = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ");
            report.write_folder(dir, command, &timings)?;
        }
        Ok::<_, corrflow::Error>(report)
    };
    let report = work();
    // The bars go before any output, an error's included.
    bar.finish();
    stages.finish();
    let mut report = report?;
    output::warn_mismatches(&report.mismatches);
    if let Some(warning) = report.absent_classes_warning() {
        say(warning);
    }
    report.timings = output::finish_timings(&timings, max_memory);
    if args.json {
        return print_json(&report);
    }
    output::print_out(&report)?;
    if let Some(dir) = &args.report {
        output::print_out(format_args!(
            "report      {}\n",
            dir.join("report.md").display()
        ))?;
    }
    Ok(())
}
