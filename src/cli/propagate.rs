//! `corrflow propagate`: predict every layer's per-class mean and covariance from one layer's
//! measured statistics, and hold the prediction against the measured ones.

use std::path::PathBuf;

use clap::Args;

use corrflow::command::propagate::propagate;
use corrflow::config::TrainSettings;
use corrflow::config::{defaults, AnalysisConfig, On, RunConfig};
use corrflow::io::MemoryLimit;
use corrflow::net::Precision;
use corrflow::propagate::affine::AffineStrategy;
use corrflow::propagate::closures::ClosureMethod;
use corrflow::Result;

use super::data_args::DataArgs;
use super::order_args::OrderArgs;
use super::output::{self, print_json, stage_bars_wanted, StageBars};

#[derive(Debug, Args)]
pub struct PropagateArgs {
    /// Trained model (safetensors written by `corrflow train` or the README's PyTorch recipe).
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Start from the measured statistics of this layer (0 = the input x, l = zˡ).
    #[arg(long, default_value_t = defaults::FROM_LAYER, value_name = "L")]
    pub from_layer: usize,
    /// Closure of the nonlinearity.
    #[arg(long, value_enum, default_value_t = ClosureMethod::Auto)]
    pub closure: ClosureMethod,
    /// Float type of the propagated covariances: f64, or f32 (affine update and the relu, leaky
    /// relu, linear and quadratic closures on f32 lanes; statistics, comparison and the other
    /// closures in f64; error against f64: BENCHMARKS.md "f32 propagation").
    #[arg(long, value_name = "TYPE", value_enum, ignore_case = true, default_value_t = Precision::F64)]
    pub precision: Precision,
    /// Update of f64 covariances through an affine layer: dense (W Σ Wᵀ), auto (through the
    /// non-constant coordinates or a Cholesky factor where the flop model says it is cheaper;
    /// equal to rounding) or factored (wherever a factor exists; for measurements). Under
    /// --precision f32 at --order 2 every covariance is updated densely in f32: factored is
    /// refused there.
    #[arg(long, value_enum, default_value_t = defaults::AFFINE)]
    pub affine: AffineStrategy,
    #[command(flatten)]
    pub order: OrderArgs,
    /// Measure the statistics on the task's training or test set.
    #[arg(long, value_enum, default_value_t = On::Test)]
    pub on: On,
    /// Samples per forward-pass batch when measuring statistics.
    #[arg(long, default_value_t = defaults::STATS_BATCH, value_name = "N")]
    pub batch: usize,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Print a per-stage time breakdown (with GFLOP/s of the affine update) on stderr, ending
    /// with the run's share of faer's GEMM rate: the fastest of the products timed in this
    /// process just before and just after the run.
    #[arg(long)]
    pub timings: bool,
}

impl From<&PropagateArgs> for RunConfig {
    fn from(a: &PropagateArgs) -> RunConfig {
        RunConfig {
            data: a.data.clone().into(),
            analysis: AnalysisConfig {
                on: a.on,
                closure: a.closure,
                order: a.order.corrections(),
                carry: a.order.carry(),
                from_layer: a.from_layer,
                stats_batch: a.batch,
                affine: a.affine,
                output_tails: false,
                surrogates: false,
                ..AnalysisConfig::default()
            },
            train: TrainSettings {
                precision: Some(a.precision),
                ..TrainSettings::default()
            },
            ..RunConfig::default()
        }
    }
}

pub fn run(args: PropagateArgs, max_memory: MemoryLimit) -> Result<()> {
    let stages = StageBars::new(stage_bars_wanted(args.json));
    let timings = output::start_timings(args.timings, Box::new(stages.clone()), max_memory);
    let config = RunConfig {
        max_memory,
        ..RunConfig::from(&args)
    };
    let report = propagate(&config, &args.model, &timings);
    stages.finish();
    let mut report = report?;
    output::warn_mismatches(&report.mismatches);
    report.timings = output::finish_timings(&timings, max_memory);
    if args.json {
        return print_json(&report);
    }
    output::print_out(&report)
}
