//! `corrflow sweep`: run a grid of configurations (resumable, shardable, memory-checked), and
//! its helpers `merge`, `export` and `summarize`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use corrflow::io::say;
use corrflow::sweep::export::{check_not_in_folder, write_csv};
use corrflow::sweep::merge::{merge_into, read_records};
use corrflow::sweep::plots::write_plots;
use corrflow::sweep::session::{dry_run, run_sweep, SweepOptions};
use corrflow::sweep::summary::failed_table;
use corrflow::sweep::summary::{means_table, table, unlearned_line};
use corrflow::sweep::Shard;
use corrflow::{Error, Result};

use super::output::{print_out, progress, SweepBar};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    command: Option<SweepCommand>,
    #[command(flatten)]
    run: RunArgs,
}

/// Running a grid: `corrflow sweep --grid sweep.toml --out results/`.
#[derive(Debug, Args)]
struct RunArgs {
    /// Grid file (TOML): every key a scalar or a list; the grid is their Cartesian product.
    #[arg(long, value_name = "FILE", required = true)]
    grid: Option<PathBuf>,
    /// Output folder; results.jsonl there gets one line per finished point. Points already in
    /// it are skipped, so rerunning the same command resumes an interrupted sweep.
    #[arg(long, value_name = "DIR", required = true)]
    out: Option<PathBuf>,
    /// Points run at the same time, each with ⌊T/J⌋ threads, at least 1 (T = --threads, or all
    /// cores; J > T runs J threads, J at most the points) [default: T when every point is
    /// small (< 10¹¹ flops), else 1; lowered to fit memory].
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
    /// Run only the points whose grid index i has i mod N = I (I counts from 0).
    #[arg(long, value_name = "I/N", value_parser = super::flags::library_value::<Shard>)]
    shard: Option<Shard>,
    /// List the points with their memory and time estimates, and stop.
    #[arg(long)]
    dry_run: bool,
    /// Run again the points whose last attempt failed (recorded in results.jsonl); by default
    /// a rerun skips them.
    #[arg(long)]
    retry_failed: bool,
}

#[derive(Debug, Subcommand)]
enum SweepCommand {
    /// Combine the output folders of shards into one and report missing or duplicated points.
    Merge {
        /// The grid file the shards ran.
        #[arg(long, value_name = "FILE")]
        grid: PathBuf,
        /// Folder for the merged results.jsonl.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Output folders of the shards.
        #[arg(required = true, value_name = "DIR")]
        inputs: Vec<PathBuf>,
    },
    /// Write a Slurm job array for a grid (one task per shard) and submit it with sbatch.
    Submit(super::sweep_submit::SubmitArgs),
    /// Write a sweep's records as CSV.
    Export {
        /// Output folder of a sweep.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// CSV file to write.
        #[arg(long, value_name = "FILE")]
        csv: PathBuf,
    },
    /// Print a table of a sweep's records and write SVG plots.
    Summarize {
        /// Output folder of a sweep.
        #[arg(value_name = "DIR")]
        dir: PathBuf,
        /// Folder for the plots [default: DIR/plots].
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
    },
}

fn note(line: &str) {
    say(line);
}

/// Runs a sweep command; `max_memory` is the global `--max-memory` in bytes (default for a
/// sweep: MemAvailable).
pub fn run(args: SweepArgs, threads: usize, max_memory: Option<f64>) -> Result<()> {
    match args.command {
        Some(SweepCommand::Merge { grid, out, inputs }) => merge_into(&grid, &out, &inputs, &note),
        Some(SweepCommand::Export { dir, csv }) => {
            check_not_in_folder(&csv, &dir)?;
            let (records, failed) = read_records(&dir, &note)?;
            write_csv(&records, &csv)?;
            say(format_args!(
                "wrote {} records to {}",
                records.len(),
                csv.display()
            ));
            if !failed.is_empty() {
                say(format_args!(
                    "{} failed points left out (see sweep summarize)",
                    failed.len()
                ));
            }
            Ok(())
        }
        Some(SweepCommand::Summarize { dir, plots }) => {
            let (records, failed) = read_records(&dir, &note)?;
            let mut text = table(&records);
            if !failed.is_empty() {
                text += &format!("\nfailed points ({})\n", failed.len());
                text += &failed_table(&failed);
            }
            text += "\nmeans over seeds\n";
            text += &means_table(&records);
            text += &unlearned_line(&records);
            // The plots first: a plots folder that cannot be written is refused before any
            // table is printed (no partial output).
            let written = write_plots(&records, &plots.unwrap_or_else(|| dir.join("plots")))?;
            print_out(&text)?;
            for path in written {
                say(format_args!("wrote {}", path.display()));
            }
            Ok(())
        }
        Some(SweepCommand::Submit(args)) => super::sweep_submit::run(args),
        None => run_grid(args.run, threads, max_memory),
    }
}

fn run_grid(args: RunArgs, threads: usize, max_memory: Option<f64>) -> Result<()> {
    let (Some(grid), Some(out)) = (args.grid, args.out) else {
        return Err(Error::flag("--grid/--out", "both are required"));
    };
    let opts = SweepOptions {
        grid,
        out,
        jobs: args.jobs,
        shard: args.shard.unwrap_or(Shard::ALL),
        threads,
        max_memory,
        retry_failed: args.retry_failed,
    };
    if args.dry_run {
        return print_out(dry_run(&opts)?);
    }
    run_sweep(&opts, &SweepBar(progress(0, "sweep", true)))
}
