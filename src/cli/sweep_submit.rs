//! `corrflow sweep submit`: a sweep as a Slurm job array, one task per shard. Argument
//! definitions and output; the work is in `corrflow::sweep::slurm`.

use std::path::PathBuf;

use clap::Args;

use corrflow::config::estimate::sizes::{human_bytes, parse_size};
use corrflow::io::say;
use corrflow::sweep::slurm::resources::{parse_slurm_time, slurm_time};
use corrflow::sweep::slurm::sbatch::{find_sbatch, submit};
use corrflow::sweep::slurm::script::shell_quote;
use corrflow::sweep::slurm::Request;
use corrflow::{Error, Result};

use super::output::print_out;

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// Grid file (TOML), as for `corrflow sweep --grid`.
    #[arg(long, value_name = "FILE")]
    grid: PathBuf,
    /// Output folder: the script sweep.sbatch, one folder shardI per task, logs/.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Array tasks N; task I runs `corrflow sweep --shard I/N`.
    #[arg(long, value_name = "N")]
    shards: usize,
    /// CPUs per task (the sweep's --threads in the task).
    #[arg(long, value_name = "C", default_value_t = 1)]
    cpus_per_task: usize,
    /// Memory per task, e.g. 4G [default: the sweep's estimate for the points a task runs at
    /// once, +25%].
    #[arg(long, value_name = "SIZE")]
    mem: Option<String>,
    /// Time per task: minutes, H:MM:SS or D-HH:MM:SS [default: twice the sweep's estimate for
    /// the largest shard, at least 10 minutes].
    #[arg(long, value_name = "TIME")]
    time: Option<String>,
    /// Slurm partition.
    #[arg(long, value_name = "NAME")]
    partition: Option<String>,
    /// Write the script and stop (no Slurm needed).
    #[arg(long)]
    dry_run: bool,
}

/// Writes the script and, unless `--dry-run`, submits it; stdout gets the job id (the script's
/// path with `--dry-run`), stderr what was planned and what to run next.
pub fn run(args: SubmitArgs) -> Result<()> {
    let sbatch = if args.dry_run {
        None
    } else {
        Some(find_sbatch()?)
    };
    let mem = match &args.mem {
        Some(s) => Some(parse_size(s, "--mem")?),
        None => None,
    };
    let request = Request {
        grid: args.grid,
        out: args.out,
        shards: args.shards,
        cpus: args.cpus_per_task,
        mem,
        time: args.time.as_deref().map(parse_slurm_time).transpose()?,
        partition: args.partition,
        corrflow: std::env::current_exe().map_err(|e| Error::io("corrflow", e))?,
    };
    let (grid, job) = request.plan()?;
    let script = job.write()?;
    let r = job.resources;
    say(format_args!(
        "wrote {}: {} array tasks for the {} points of {}; each {} CPU(s), {} point(s) at once, {}, {}",
        script.display(),
        job.shards,
        grid.points.len(),
        job.grid.display(),
        r.cpus,
        r.jobs,
        human_bytes(r.mem_bytes),
        slurm_time(r.time_s)
    ));
    let merge = format!(
        "corrflow sweep merge --grid {} --out {} {}/shard*",
        shell_quote(&job.grid),
        shell_quote(&job.out.join("merged")),
        shell_quote(&job.out)
    );
    let Some(sbatch) = sbatch else {
        say(format_args!(
            "dry run: nothing submitted; submit with: sbatch {}",
            shell_quote(&script)
        ));
        say(format_args!("when every task has ended: {merge}"));
        return print_out(format_args!("{}\n", script.display()));
    };
    let id = submit(&sbatch, &script, &[])?;
    say(format_args!(
        "submitted job array {id} (tasks 0-{}); watch it with: squeue -j {id}",
        job.shards - 1
    ));
    say(format_args!("when every task has ended: {merge}"));
    say(format_args!(
        "merge lists the shards a failed task left short; `sbatch --array=I {}` reruns task I alone",
        shell_quote(&script)
    ));
    print_out(format_args!("{id}\n"))
}
