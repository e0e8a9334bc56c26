//! Planning a sweep before it runs: which points are pending (resume), how many run at once so
//! that they fit the memory limit, and the dry-run listing.

use std::collections::HashSet;
use std::fmt::Write;

use super::grid::{Grid, GridPoint};
use super::record::Record;
use super::runner::Budget;
use super::shard::Shard;
use crate::config::estimate::{human_bytes, TimeClass};
use crate::error::{Error, Field, Result};

/// The ids of `records`.
pub fn ids(records: Vec<Record>) -> HashSet<String> {
    records.into_iter().map(|r| r.id).collect()
}

/// The points of `mine` without a record.
pub fn not_done<'a>(mine: &[&'a GridPoint], done: &HashSet<String>) -> Vec<&'a GridPoint> {
    mine.iter()
        .copied()
        .filter(|p| !done.contains(&p.id))
        .collect()
}

/// Chooses how many points run at once (`jobs`, or T when every point is small, else 1) and
/// checks that they fit `budget_bytes`; lowers an unset J until they do. A point that alone
/// needs more than the budget does not count: it fails when it runs, with its estimate, and the
/// others go on.
pub fn plan(
    pending: &[&GridPoint],
    threads: usize,
    jobs: Option<usize>,
    budget_bytes: Option<f64>,
) -> Result<Budget> {
    if jobs == Some(0) {
        return Err(Error::config(Field::Jobs, "must be at least 1"));
    }
    let mut est: Vec<(f64, &GridPoint)> = pending.iter().map(|p| (p.estimate.bytes, *p)).collect();
    est.sort_by(|a, b| b.0.total_cmp(&a.0));
    let all_small = pending
        .iter()
        .all(|p| p.estimate.time_class() <= TimeClass::Small);
    let mut j = jobs
        .unwrap_or(if all_small { threads } else { 1 })
        .min(pending.len().max(1));
    let Some(limit) = budget_bytes else {
        return Ok(Budget::split(threads, j));
    };
    est.retain(|e| e.0 <= limit);
    let source = "the memory limit (--max-memory, default MemAvailable)";
    let peak = |j: usize| est.iter().take(j).map(|e| e.0).sum::<f64>();
    while j > 1 && peak(j) > limit {
        if jobs.is_some() {
            return Err(Error::config(
                Field::Jobs,
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

/// Points a dry run lists one by one; a larger shard shows its first and last
/// [`DRY_RUN_ENDS`] and how many lie between (adv22: a 10⁶-point grid's full table took 41 s
/// and 1 GB to print 122 MB that nobody reads).
pub const DRY_RUN_ROWS: usize = 1000;
/// Points listed at each end of a dry run above [`DRY_RUN_ROWS`].
pub const DRY_RUN_ENDS: usize = 10;

/// The dry-run listing: every point of `mine` with its status and estimates, or above
/// [`DRY_RUN_ROWS`] points the first and last [`DRY_RUN_ENDS`] with the count of the others and
/// of the done and pending points among all.
pub fn points_table(
    grid: &Grid,
    shard: Shard,
    mine: &[&GridPoint],
    done: &HashSet<String>,
) -> String {
    let mut out = String::new();
    let shard_note = if shard == Shard::ALL {
        String::new()
    } else {
        format!(", {} in shard {shard}", mine.len())
    };
    let _ = writeln!(
        out,
        "{} points in {}{shard_note}",
        grid.points.len(),
        grid.path.display()
    );
    let _ = writeln!(
        out,
        "{:>5} {:>16} {:>7} {:>10} {:>9} {:>6}  config",
        "#", "id", "status", "memory", "flops", "time"
    );
    let row = |out: &mut String, p: &GridPoint| {
        let e = p.estimate;
        let status = if done.contains(&p.id) {
            "done"
        } else {
            "pending"
        };
        let _ = writeln!(
            out,
            "{:>5} {:>16} {:>7} {:>10} {:>9.2e} {:>6}  {}",
            p.index,
            p.id,
            status,
            human_bytes(e.bytes),
            e.flops,
            e.time_class().to_string(),
            p.config.summary()
        );
    };
    if mine.len() <= DRY_RUN_ROWS {
        mine.iter().for_each(|p| row(&mut out, p));
        return out;
    }
    let tail = mine.len() - DRY_RUN_ENDS;
    mine[..DRY_RUN_ENDS].iter().for_each(|p| row(&mut out, p));
    let finished = mine.iter().filter(|p| done.contains(&p.id)).count();
    let _ = writeln!(
        out,
        "  … {} points not listed (a dry run lists every point up to {DRY_RUN_ROWS}, else the \
         first and last {DRY_RUN_ENDS}); of all {}: {finished} done, {} pending",
        tail - DRY_RUN_ENDS,
        mine.len(),
        mine.len() - finished
    );
    mine[tail..].iter().for_each(|p| row(&mut out, p));
    out
}
