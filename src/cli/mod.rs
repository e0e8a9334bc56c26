//! Command-line interface: clap definitions, each converted into the library's run
//! configuration, and the dispatch to the library. Configuration errors leave here naming the
//! flag ([`flags::flag`]).

mod analyze;
mod data_args;
mod flags;
mod net_args;
mod output;
mod propagate;
mod sweep;
mod sweep_submit;
mod train;

use clap::{Parser, Subcommand};

use corrflow::config::Field;
use corrflow::Result;

/// Decompose a trained feed-forward network as a mapping of correlation functions (cumulants),
/// layer by layer (Fischer et al., Phys. Rev. Research 4, 043143, 2022).
#[derive(Debug, Parser)]
#[command(name = "corrflow", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads for GEMMs and kernels (0 = one per core).
    #[arg(long, global = true, default_value_t = 0, value_name = "N")]
    threads: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an MLP on a task and write it as a safetensors model file.
    Train(train::TrainArgs),
    /// Propagate one layer's measured statistics to the output and compare with the measured ones.
    Propagate(propagate::PropagateArgs),
    /// Accuracy of the Gaussian description, surrogates by correlation order, class information.
    Analyze(analyze::AnalyzeArgs),
    /// Run a grid of configurations (train → propagate → analyse), resumably; merge shards,
    /// export CSV, summarize.
    Sweep(sweep::SweepArgs),
}

/// Runs the parsed command line; a configuration error names the flag at fault.
pub fn run(cli: Cli) -> Result<()> {
    dispatch(cli).map_err(|e| e.name_field(flags::flag))
}

fn dispatch(cli: Cli) -> Result<()> {
    init_threads(cli.threads)?;
    match cli.command {
        Command::Train(args) => train::run(args),
        Command::Propagate(args) => propagate::run(args),
        Command::Analyze(args) => analyze::run(args),
        Command::Sweep(args) => sweep::run(args, cli.threads),
    }
}

/// Sizes the global rayon pool that faer's `Par::rayon(0)` and the kernels use.
fn init_threads(threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| corrflow::Error::config(Field::Threads, e.to_string()))
}
