//! One `corrflow sweep` run from start to end: read the grid, check every point and the memory
//! plan, lock and resume the results log, run the pending points. The front end sees it through
//! [`Progress`].

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use super::grid::{Axes, Grid, GridPoint, KeysRead};
use super::inputs::{check_unchanged, InputCache, Settled};
use super::merge::results_path;
use super::plan::{ids, not_done, plan, Listing};
use super::record::{FailedRecord, Record};
use super::runner::run_points;
use super::shard::Shard;
use super::store::{check_out_folder, read_log, GridIds, LogContents, ResultsLog};
use crate::command::init::InitsRead;
use crate::config::estimate::sizes::mem_available;
use crate::config::estimate::work::{human_duration, ASSUMED_FLOPS_PER_THREAD};
use crate::error::{Error, Result};
use crate::io::MemoryLimit;

/// How to run a grid (`corrflow sweep` flags).
#[derive(Clone, Debug)]
pub struct SweepOptions {
    pub grid: PathBuf,
    pub out: PathBuf,
    /// Points at once [default: chosen by [`plan`]].
    pub jobs: Option<usize>,
    pub shard: Shard,
    /// Threads in all (0 = the environment's count as rayon reads it, else one per core:
    /// [`crate::io::thread_count::threads_of`]).
    pub threads: usize,
    /// Memory limit in bytes [default: MemAvailable].
    pub max_memory: Option<f64>,
    /// Run again the points whose last attempt failed (by default a rerun skips them).
    pub retry_failed: bool,
}

/// What a running sweep tells its front end.
pub trait Progress: Sync {
    /// A status line.
    fn note(&self, line: &str);
    /// `points` points are about to run.
    fn start(&self, points: usize);
    /// One point finished or failed.
    fn done(&self, point: &GridPoint, result: std::result::Result<&Record, &Error>);
    /// Every point has run.
    fn finish(&self);
}

/// The grid, the points of this shard, and the threads and memory limit in effect.
struct Setup {
    grid: Grid,
    threads: usize,
    budget: Option<MemoryLimit>,
}

fn setup(opts: &SweepOptions) -> Result<Setup> {
    let grid = Grid::load(&opts.grid)?;
    let mut inits = InitsRead::default();
    for p in grid.points.iter().filter(|p| opts.shard.contains(p.index)) {
        preflight(p, opts, &mut inits)?;
    }
    grid.check_keys_are_read()?;
    let (threads, budget) = threads_and_budget(opts, grid.points.len());
    Ok(Setup {
        grid,
        threads,
        budget,
    })
}

/// A point's own checks, failing with the grid file, the point's index and summary.
fn preflight(p: &GridPoint, opts: &SweepOptions, inits: &mut InitsRead) -> Result<()> {
    p.config.preflight(inits).map_err(|e| {
        Error::format(
            &opts.grid,
            format!("point #{} ({}): {e}", p.index, p.config.summary()),
        )
    })
}

/// The threads in all (0 = one per core) and the memory limit in effect: `--max-memory`, else
/// the smaller of `MemAvailable` and what `ulimit -v` leaves the threads the points (at most
/// `points` of them at once) run on (marked as such, [`MemoryLimit::of_address_space`], so that
/// its refusals name `ulimit -v`).
fn threads_and_budget(opts: &SweepOptions, points: usize) -> (usize, Option<MemoryLimit>) {
    // Under `--threads 0`, the count the command's own pool has: the environment's as rayon
    // reads it (adv53: `RAYON_NUM_THREADS=1` ran 2 points at once on a 2-core machine).
    let threads = crate::io::thread_count::threads_of(opts.threads);
    // The points' threads: J pools of ⌊T/J⌋ threads, at least 1 each (`Budget::split`), so
    // J > T runs J threads (adv43: `--threads 1 --jobs 2` under `ulimit -v` 720–820 MB counted
    // one thread's workspace, ran two, and aborted: "memory allocation of 545259520 bytes
    // failed"); J is at most the points (`plan`), so `--jobs 2^62` counts no more.
    let running = threads.max(opts.jobs.unwrap_or(0).min(points));
    // Sizes are whole bytes; `as` saturates a huge f64 at u64::MAX.
    let budget = opts
        .max_memory
        .map(|b| MemoryLimit::new(b as u64))
        .or_else(|| {
            // ulimit -v less what the points' threads and the process map beyond the estimates.
            let flag = if running > threads {
                "--jobs"
            } else {
                "--threads"
            };
            let left = crate::io::limit::address_space_budget_for(running as u64)
                .map(|b| MemoryLimit::of_address_space(b, running as u64, flag));
            let available = mem_available().map(|a| MemoryLimit::new(a as u64));
            match (available, left) {
                (Some(a), Some(l)) => Some(if l.bytes <= a.bytes { l } else { a }),
                (a, l) => a.or(l),
            }
        });
    (threads, budget)
}

impl Setup {
    /// The points of this shard, and the ids already in the results file (read without the
    /// lock: they only decide what the plan checks and the dry run shows).
    fn mine_and_done(&self, opts: &SweepOptions) -> Result<(Vec<&GridPoint>, HashSet<String>)> {
        let mine = self
            .grid
            .points
            .iter()
            .filter(|p| opts.shard.contains(p.index))
            .collect();
        let done = settled(
            read_log(
                &results_path(&opts.out),
                records_to_check(&self.grid, opts).as_ref(),
            )?,
            opts.retry_failed,
        )
        .0;
        Ok((mine, done))
    }
}

/// The `--dry-run` text: the points with their estimates and the plan. Creates and locks
/// nothing. The grid's points are walked one at a time, not held ([`Axes::try_for_each`],
/// [`Listing`]): the checks and the text are those of a run's setup and a held grid's (the
/// first point that fails its own check is reported after the grid's repeated points, as
/// [`Grid::load`] finds those first). A dry run of a resume also refuses where the run would:
/// the records it counts as done must have read their files as they are now
/// ([`check_unchanged`]: the run's error, after the plan's check as in the run).
pub fn dry_run(opts: &SweepOptions) -> Result<String> {
    check_out_folder(&opts.out)?;
    let axes = Axes::load(&opts.grid)?;
    let mut listing = Listing::with_capacity(axes.total);
    let mut keys = KeysRead::default();
    let mut failed: Option<Error> = None;
    let mut inits = InitsRead::default();
    let ids = axes.try_for_each(|p| {
        keys.add(&p.config)?;
        if opts.shard.contains(p.index) {
            if failed.is_none() {
                failed = preflight(&p, opts, &mut inits).err();
            }
            listing.add(p);
        }
        Ok(())
    })?;
    if let Some(e) = failed {
        return Err(e);
    }
    // The keys' check after every point's own, as in a run's setup.
    keys.check(&axes.path)?;
    let (threads, limit) = threads_and_budget(opts, axes.total);
    let results = results_path(&opts.out);
    let check = std::fs::metadata(&results).is_ok_and(|m| m.len() > 0);
    let contents = read_log(&results, check.then_some(&ids))?;
    drop(ids);
    // The run's resume check (tidy64: a dry run listed as done the points whose files had
    // changed, where the run exits 2), reported after the plan's as the run reports it.
    let unchanged = check_unchanged(skipped(&contents, opts), &InputCache::default(), &results);
    let done = settled(contents, opts.retry_failed).0;
    let mut text = listing.text(axes.total, &axes.path, opts.shard, &done);
    let budget = plan(listing.pending(&done), threads, opts.jobs, limit)?;
    unchanged?;
    let pending = listing.pending(&done).count();
    text.push_str(&format!(
        "plan: {} of {} points to run, {} at a time with {} threads each\n",
        pending,
        listing.len(),
        budget.jobs,
        budget.threads_per_point
    ));
    let flops: f64 = listing.pending(&done).map(|p| p.1.flops).sum();
    let threads = budget.jobs * budget.threads_per_point;
    text.push_str(&format!(
        "estimated time: ~{} ({flops:.2e} flops on {threads} threads at an assumed {:.0} \
         GFLOP/s per thread)\n",
        human_duration(flops, threads),
        ASSUMED_FLOPS_PER_THREAD * 1e-9
    ));
    Ok(text)
}

/// Runs the pending points of `opts.grid` into `opts.out`; an error lists the failed points.
pub fn run_sweep(opts: &SweepOptions, progress: &dyn Progress) -> Result<()> {
    check_out_folder(&opts.out)?;
    let s = setup(opts)?;
    // Check the plan before anything is created or locked; the locked read below decides what
    // runs.
    let (mine, done) = s.mine_and_done(opts)?;
    plan(
        not_done(&mine, &done).iter().map(|p| (p.index, p.estimate)),
        s.threads,
        opts.jobs,
        s.budget,
    )?;

    let (mut log, contents) =
        ResultsLog::open(&opts.out, records_to_check(&s.grid, opts).as_ref())?;
    if let Some(bytes) = contents.dropped_tail {
        progress.note(&format!(
            "note: removed a partial last record ({bytes} bytes) from {}; that point runs again",
            log.path().display()
        ));
    }
    // The notes export and summarize give (adv48b: a resumed store's copies went unsaid).
    for note in contents.notes(log.path()) {
        progress.note(&note);
    }
    // The points of this shard that are skipped must have read the files as they are now
    // (adv63: an edited `train_x` kept the old contents' records, "N already done").
    let inputs = InputCache::default();
    check_unchanged(skipped(&contents, opts), &inputs, log.path())?;
    let (settled, failed_before) = settled(contents, opts.retry_failed);
    let failed_before: Vec<&FailedRecord> = failed_before
        .iter()
        .filter(|f| mine.iter().any(|p| p.id == f.id))
        .collect();
    for f in &failed_before {
        progress.note(&format!(
            "point #{} {} failed before: {}",
            f.index, f.id, f.failed
        ));
    }
    // The first error, said again in the last line (adv43: a sweep failed under `ulimit -v`
    // ended naming only the grid and the results file; the cause was lines above).
    let first_before = failed_before.first().map(|f| (f.index, f.failed.clone()));
    let failed_before: Vec<usize> = failed_before.iter().map(|f| f.index).collect();
    if !failed_before.is_empty() {
        progress.note(&format!(
            "note: {} points failed before and are skipped (#{}); --retry-failed runs them again",
            failed_before.len(),
            join(&failed_before)
        ));
    }
    let pending = not_done(&mine, &settled);
    let budget = plan(
        pending.iter().map(|p| (p.index, p.estimate)),
        s.threads,
        opts.jobs,
        s.budget,
    )?;
    let pending: Vec<GridPoint> = pending.into_iter().cloned().collect();
    progress.note(&format!(
        "sweep: {} points in {}{}, {} already done, {} to run ({} at a time, {} threads each)",
        s.grid.points.len(),
        opts.grid.display(),
        if opts.shard == Shard::ALL {
            String::new()
        } else {
            format!(", shard {} has {}", opts.shard, mine.len())
        },
        mine.len() - pending.len(),
        pending.len(),
        budget.jobs,
        budget.threads_per_point
    ));
    let start = Instant::now();
    progress.start(pending.len());
    let limit = s.budget.unwrap_or_default();
    let failures = run_points(&pending, &mut log, budget, limit, &inputs, &|p, r| {
        progress.done(p, r)
    })?;
    progress.finish();
    progress.note(&format!(
        "sweep: {} of {} points finished in {:.1} s; results in {}",
        pending.len() - failures.len(),
        pending.len(),
        start.elapsed().as_secs_f64(),
        log.path().display()
    ));
    let mut failed: Vec<usize> = failures.iter().map(|f| f.point.index).collect();
    failed.extend(failed_before);
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort_unstable();
    let (first, cause) = failures
        .first()
        .map(|f| (f.point.index, f.error.to_string()))
        .or(first_before)
        .unwrap_or_default();
    Err(Error::format(
        &opts.grid,
        format!(
            "{} points failed (#{}; their errors are in {}; #{first}: {cause}); rerun with \
             --retry-failed to run them again",
            failed.len(),
            join(&failed),
            log.path().display()
        ),
    ))
}

/// The ids that a run skips (those with a result, and unless `retry_failed` those whose last
/// attempt failed), and the failed ones among them.
fn settled(contents: LogContents, retry_failed: bool) -> (HashSet<String>, Vec<FailedRecord>) {
    let failed = if retry_failed {
        Vec::new()
    } else {
        contents.failed
    };
    let mut done = ids(contents.records);
    done.extend(failed.iter().map(|f| f.id.clone()));
    (done, failed)
}

/// The records of `contents` that a run of `opts` skips, with their fingerprints: this shard's
/// results, and unless `--retry-failed` its failures.
fn skipped<'a>(
    contents: &'a LogContents,
    opts: &'a SweepOptions,
) -> impl Iterator<Item = Settled<'a>> {
    let records = contents.records.iter().map(|r| Settled {
        index: r.index,
        id: &r.id,
        inputs: &r.inputs,
        failed: false,
    });
    let failed = contents
        .failed
        .iter()
        .filter(|_| !opts.retry_failed)
        .map(|f| Settled {
            index: f.index,
            id: &f.id,
            inputs: &f.inputs,
            failed: true,
        });
    records
        .chain(failed)
        .filter(|s| opts.shard.contains(s.index))
}

/// The grid's ids to check the records of `opts.out` against, built only when its results
/// file holds something (a map of every point: 10⁶ points cost ~80 MB a fresh run or dry run
/// need not spend).
fn records_to_check(grid: &Grid, opts: &SweepOptions) -> Option<GridIds> {
    std::fs::metadata(results_path(&opts.out))
        .is_ok_and(|m| m.len() > 0)
        .then(|| GridIds::of(grid))
}

/// Grid indices as `1, #4, #7` (after a leading `#`).
fn join(indices: &[usize]) -> String {
    let list: Vec<String> = indices.iter().map(usize::to_string).collect();
    list.join(", #")
}
