//! `corrflow sweep`: run a grid of configurations (resumable, shardable, memory-checked), and
//! its helpers `merge`, `export` and `summarize`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use clap::{Args, Parser, Subcommand};

use corrflow::sweep::estimate::{human_bytes, mem_available, parse_size, Estimate, TimeClass};
use corrflow::sweep::evaluate::Prepared;
use corrflow::sweep::export::write_csv;
use corrflow::sweep::merge::{merge, results_path};
use corrflow::sweep::plots::write_plots;
use corrflow::sweep::point::TaskName;
use corrflow::sweep::runner::{run_points, Budget};
use corrflow::sweep::store::{lock_dir, read_log, ResultsLog, RESULTS_FILE};
use corrflow::sweep::summary::{means_table, table};
use corrflow::sweep::{Grid, GridPoint, PointConfig, Record, Shard};
use corrflow::{Error, Result};

use super::data_args::DataArgs;
use super::output::progress;
use super::train::NetArgs;

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
    /// Points run at the same time, each with ⌊T/J⌋ threads (T = --threads, or all cores)
    /// [default: T when every point is small (< 10¹¹ flops), else 1; lowered to fit memory].
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
    /// Run only the points whose grid index i has i mod N = I (I counts from 0).
    #[arg(long, value_name = "I/N")]
    shard: Option<Shard>,
    /// List the points with their memory and time estimates, and stop.
    #[arg(long)]
    dry_run: bool,
    /// Memory the sweep may use, e.g. 8G [default: MemAvailable from /proc/meminfo].
    #[arg(long, value_name = "SIZE")]
    max_memory: Option<String>,
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

pub fn run(args: SweepArgs, threads: usize) -> Result<()> {
    match args.command {
        Some(SweepCommand::Merge { grid, out, inputs }) => run_merge(&grid, &out, &inputs),
        Some(SweepCommand::Export { dir, csv }) => {
            let records = read_records(&dir)?;
            write_csv(&records, &csv)?;
            eprintln!("wrote {} records to {}", records.len(), csv.display());
            Ok(())
        }
        Some(SweepCommand::Summarize { dir, plots }) => run_summarize(&dir, plots),
        Some(SweepCommand::Submit(args)) => super::sweep_submit::run(args),
        None => run_grid(args.run, threads),
    }
}

/// A point's settings as the flags of `corrflow train`, parsed by the same clap definitions so
/// that defaults and validation are exactly those of the other subcommands.
#[derive(Debug, Parser)]
#[command(no_binary_name = true)]
struct PointArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    net: NetArgs,
}

fn point_args(config: &PointConfig) -> Result<PointArgs> {
    let mut argv: Vec<String> = Vec::new();
    let value = serde_json::to_value(config).map_err(|e| Error::Numeric(e.to_string()))?;
    for (key, v) in value.as_object().into_iter().flatten() {
        if key == "mc_samples" {
            continue;
        }
        let flag = format!("--{}", key.replace('_', "-"));
        match v {
            serde_json::Value::Bool(true) => argv.push(flag),
            serde_json::Value::Bool(false) => {}
            serde_json::Value::String(s) => argv.extend([flag, s.clone()]),
            serde_json::Value::Array(items) => argv.extend([
                flag,
                items
                    .iter()
                    .map(|i| i.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            ]),
            other => argv.extend([flag, other.to_string()]),
        }
    }
    PointArgs::try_parse_from(&argv).map_err(|e| {
        let text = e.to_string();
        let first = text.lines().next().unwrap_or_default();
        Error::Unsupported(format!(
            "as flags of `corrflow train` ({}): {}",
            argv.join(" "),
            first.trim_start_matches("error: ")
        ))
    })
}

/// Checks before a run starts what would otherwise fail in every point: the flags, and where
/// MNIST comes from.
fn preflight(config: &PointConfig) -> Result<()> {
    let args = point_args(config)?;
    if config.task() != TaskName::Mnist || args.data.train_images.is_some() {
        return Ok(());
    }
    match &args.data.mnist_dir {
        None => Err(Error::flag(
            "mnist_dir",
            "task mnist needs mnist_dir in the grid, or MNIST_DIR in the environment",
        )),
        Some(dir) if !dir.is_dir() => Err(Error::flag(
            "mnist_dir",
            format!("{} is not a folder", dir.display()),
        )),
        Some(_) => Ok(()),
    }
}

fn prepare(config: &PointConfig) -> Result<Prepared> {
    let args = point_args(config)?;
    let loaded = args.data.load()?;
    let (net, train) = args.net.resolve(
        args.data.task,
        loaded.split.train.dim(),
        loaded.split.train.n_classes,
    )?;
    Ok(Prepared {
        split: loaded.split,
        net,
        train,
        data: loaded.description,
    })
}

fn run_grid(args: RunArgs, threads: usize) -> Result<()> {
    let (Some(grid_path), Some(out)) = (args.grid, args.out) else {
        return Err(Error::flag("--grid/--out", "both are required"));
    };
    let grid = Grid::load(&grid_path)?;
    let shard = args.shard.unwrap_or(Shard::ALL);
    let mine: Vec<&GridPoint> = grid
        .points
        .iter()
        .filter(|p| shard.contains(p.index))
        .collect();
    for p in &mine {
        preflight(&p.config).map_err(|e| {
            Error::format(
                &grid_path,
                format!("point #{} ({}): {e}", p.index, p.config.summary()),
            )
        })?;
    }
    let threads = if threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        threads
    };
    let budget_bytes = match &args.max_memory {
        Some(s) => Some(parse_size(s)?),
        None => mem_available(),
    };

    // Check the plan before anything is created or locked; the records read here without the
    // lock only decide what the guard and --dry-run consider; the locked read below decides
    // what runs.
    let done = ids(read_log(&results_path(&out))?.records);
    let pending = not_done(&mine, &done);
    let budget = plan(&pending, threads, args.jobs, budget_bytes, &grid_path);
    if args.dry_run {
        print_points(&grid, shard, &mine, &done);
        let budget = budget?;
        println!(
            "plan: {} of {} points to run, {} at a time with {} threads each",
            pending.len(),
            mine.len(),
            budget.jobs,
            budget.threads_per_point
        );
        return Ok(());
    }
    budget?;

    let (mut log, contents) = ResultsLog::open(&out)?;
    if let Some(bytes) = contents.dropped_tail {
        eprintln!(
            "note: removed a partial last record ({bytes} bytes) from {}; that point runs again",
            log.path().display()
        );
    }
    let pending = not_done(&mine, &ids(contents.records));
    let budget = plan(&pending, threads, args.jobs, budget_bytes, &grid_path)?;
    let pending: Vec<GridPoint> = pending.into_iter().cloned().collect();
    eprintln!(
        "sweep: {} points in {}{}, {} already done, {} to run ({} at a time, {} threads each)",
        grid.points.len(),
        grid_path.display(),
        if shard == Shard::ALL {
            String::new()
        } else {
            format!(", shard {shard} has {}", mine.len())
        },
        mine.len() - pending.len(),
        pending.len(),
        budget.jobs,
        budget.threads_per_point
    );
    let start = Instant::now();
    let bar = progress(pending.len() as u64, "sweep", true);
    let on_done = |p: &GridPoint, r: std::result::Result<&Record, &Error>| {
        match r {
            Ok(rec) => bar.set_message(format!(
                "#{} net {:.3} theory(l=1) {:+.3}",
                p.index, rec.test_accuracy, rec.gap_from_layer1
            )),
            // suspend, not println: a hidden bar (stderr not a terminal) drops println.
            Err(e) => bar.suspend(|| {
                eprintln!(
                    "point #{} {} ({}) failed: {e}",
                    p.index,
                    p.id,
                    p.config.summary()
                )
            }),
        }
        bar.inc(1);
    };
    let failures = run_points(&pending, &mut log, budget, &prepare, &on_done)?;
    bar.finish_and_clear();
    eprintln!(
        "sweep: {} of {} points finished in {:.1} s; results in {}",
        pending.len() - failures.len(),
        pending.len(),
        start.elapsed().as_secs_f64(),
        log.path().display()
    );
    if failures.is_empty() {
        return Ok(());
    }
    Err(Error::format(
        &grid_path,
        format!(
            "{} points failed (#{}; errors above); rerun to retry them",
            failures.len(),
            failures
                .iter()
                .map(|f| f.point.index.to_string())
                .collect::<Vec<_>>()
                .join(", #")
        ),
    ))
}

/// The ids of `records`.
fn ids(records: Vec<Record>) -> HashSet<String> {
    records.into_iter().map(|r| r.id).collect()
}

/// The points of `mine` without a record.
fn not_done<'a>(mine: &[&'a GridPoint], done: &HashSet<String>) -> Vec<&'a GridPoint> {
    mine.iter()
        .copied()
        .filter(|p| !done.contains(&p.id))
        .collect()
}

/// Chooses J and checks that J points at once fit the memory budget.
fn plan(
    pending: &[&GridPoint],
    threads: usize,
    jobs: Option<usize>,
    budget_bytes: Option<f64>,
    grid_path: &Path,
) -> Result<Budget> {
    if jobs == Some(0) {
        return Err(Error::flag("--jobs", "must be at least 1"));
    }
    let mut est: Vec<(f64, &GridPoint)> = pending
        .iter()
        .map(|p| (Estimate::of(&p.config).bytes, *p))
        .collect();
    est.sort_by(|a, b| b.0.total_cmp(&a.0));
    let all_small = pending
        .iter()
        .all(|p| Estimate::of(&p.config).time_class() <= TimeClass::Small);
    let mut j = jobs
        .unwrap_or(if all_small { threads } else { 1 })
        .min(pending.len().max(1));
    let Some(limit) = budget_bytes else {
        return Ok(Budget::split(threads, j));
    };
    let source = "the memory limit (--max-memory, default MemAvailable)";
    if let Some(&(bytes, p)) = est.first() {
        if bytes > limit {
            return Err(Error::format(
                grid_path,
                format!(
                    "point #{} ({}, id {}) needs about {} but {source} is {}; shrink it or raise --max-memory",
                    p.index,
                    p.config.summary(),
                    p.id,
                    human_bytes(bytes),
                    human_bytes(limit)
                ),
            ));
        }
    }
    let peak = |j: usize| est.iter().take(j).map(|e| e.0).sum::<f64>();
    while j > 1 && peak(j) > limit {
        if jobs.is_some() {
            return Err(Error::flag(
                "--jobs",
                format!(
                    "{j} points at once need up to {} (the largest is #{}) but {source} is {}; use fewer jobs",
                    human_bytes(peak(j)),
                    est[0].1.index,
                    human_bytes(limit)
                ),
            ));
        }
        j -= 1;
    }
    Ok(Budget::split(threads, j))
}

fn print_points(grid: &Grid, shard: Shard, mine: &[&GridPoint], done: &HashSet<String>) {
    println!(
        "{} points in {}{}",
        grid.points.len(),
        grid.path.display(),
        if shard == Shard::ALL {
            String::new()
        } else {
            format!(", {} in shard {shard}", mine.len())
        }
    );
    println!(
        "{:>5} {:>16} {:>7} {:>10} {:>9} {:>6}  config",
        "#", "id", "status", "memory", "flops", "time"
    );
    for p in mine {
        let e = Estimate::of(&p.config);
        println!(
            "{:>5} {:>16} {:>7} {:>10} {:>9.2e} {:>6}  {}",
            p.index,
            p.id,
            if done.contains(&p.id) {
                "done"
            } else {
                "pending"
            },
            human_bytes(e.bytes),
            e.flops,
            e.time_class().to_string(),
            p.config.summary()
        );
    }
}

fn read_records(dir: &Path) -> Result<Vec<Record>> {
    let path = results_path(dir);
    if !path.exists() {
        return Err(Error::format(
            dir,
            format!("no {RESULTS_FILE} here; is this a sweep's --out folder?"),
        ));
    }
    let contents = read_log(&path)?;
    if let Some(bytes) = contents.dropped_tail {
        eprintln!(
            "note: {} ends in a partial record ({bytes} bytes), skipped",
            path.display()
        );
    }
    let mut records = contents.records;
    records.sort_by_key(|r| r.index);
    Ok(records)
}

fn run_summarize(dir: &Path, plots: Option<PathBuf>) -> Result<()> {
    let records = read_records(dir)?;
    print!("{}", table(&records));
    println!();
    println!("means over seeds and other keys");
    print!("{}", means_table(&records));
    let plots = plots.unwrap_or_else(|| dir.join("plots"));
    for path in write_plots(&records, &plots)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

fn run_merge(grid_path: &Path, out: &Path, inputs: &[PathBuf]) -> Result<()> {
    let grid = Grid::load(grid_path)?;
    let m = merge(&grid, inputs)?;
    for dir in &m.partial {
        eprintln!(
            "note: {} ends in a partial record, skipped",
            results_path(dir).display()
        );
    }
    for (id, dirs) in &m.duplicates {
        let list: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
        eprintln!(
            "warning: point {id} is in {} folders ({}); kept the first",
            dirs.len(),
            list.join(", ")
        );
    }
    for (dir, id) in &m.foreign {
        eprintln!(
            "warning: {} holds {id}, which is not a point of {}; left out",
            dir.display(),
            grid_path.display()
        );
    }
    let _lock = lock_dir(out)?;
    let mut text = String::new();
    for r in &m.records {
        text.push_str(&serde_json::to_string(r).map_err(|e| Error::Numeric(e.to_string()))?);
        text.push('\n');
    }
    let path = results_path(out);
    corrflow::report::write_atomically(&path, text.as_bytes())?;
    eprintln!(
        "merged {} of {} points from {} folders into {}",
        m.records.len(),
        grid.points.len(),
        inputs.len(),
        path.display()
    );
    if m.missing.is_empty() {
        return Ok(());
    }
    for p in &m.missing {
        eprintln!("  missing #{} {} ({})", p.index, p.id, p.config.summary());
    }
    for short in corrflow::sweep::slurm::report::short_shards(&grid, inputs, &m.missing)? {
        for line in short.lines() {
            eprintln!("{line}");
        }
    }
    Err(Error::format(
        grid_path,
        format!(
            "{} of {} points are missing from the inputs (listed above)",
            m.missing.len(),
            grid.points.len()
        ),
    ))
}
