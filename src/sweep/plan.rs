//! Planning a sweep before it runs: which points are pending (resume), how many run at once so
//! that they fit the memory limit, and the dry-run listing.

use std::collections::{HashSet, VecDeque};
use std::fmt::Write;
use std::path::Path;

use super::grid::GridPoint;
use super::record::Record;
use super::runner::Budget;
use super::shard::Shard;
use crate::config::estimate::sizes::human_bytes;
use crate::config::estimate::{Estimate, TimeClass};
use crate::error::{Error, Field, Result};
use crate::io::MemoryLimit;

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
/// checks that they fit `budget` (named as `ulimit -v` where it is that limit's); lowers an unset J until they do. A point that alone
/// needs more than the budget does not count: it fails when it runs, with its estimate, and the
/// others go on.
pub fn plan(
    pending: impl IntoIterator<Item = (usize, Estimate)>,
    threads: usize,
    jobs: Option<usize>,
    budget: Option<MemoryLimit>,
) -> Result<Budget> {
    if jobs == Some(0) {
        return Err(Error::config(Field::Jobs, "must be at least 1"));
    }
    // (bytes, grid index) of every pending point, largest first (ties in grid order).
    let mut est: Vec<(f64, usize)> = Vec::new();
    let mut all_small = true;
    for (index, e) in pending {
        all_small &= e.time_class() <= TimeClass::Small;
        est.push((e.bytes, index));
    }
    est.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut j = jobs
        .unwrap_or(if all_small { threads } else { 1 })
        .min(est.len().max(1));
    let Some(budget) = budget else {
        return Ok(Budget::split(threads, j));
    };
    let limit = budget.bytes as f64;
    est.retain(|e| e.0 <= limit);
    let source = if budget.is_address_space() {
        format!("the memory limit{}", budget.source())
    } else {
        "the memory limit (--max-memory, default MemAvailable)".to_string()
    };
    let peak = |j: usize| est.iter().take(j).map(|e| e.0).sum::<f64>();
    while j > 1 && peak(j) > limit {
        if jobs.is_some() {
            return Err(Error::config(
                Field::Jobs,
                format!(
                    "{j} points at once need up to {} (the largest is #{}) but {source} is {}; use fewer jobs",
                    human_bytes(peak(j)),
                    est[0].1,
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

/// The dry-run listing, built one point of the shard at a time ([`Listing::add`]): every point
/// with its status and estimates, or above [`DRY_RUN_ROWS`] points the first and last
/// [`DRY_RUN_ENDS`] with the count of the others and of the done and pending points among all.
/// It holds the points it may list and each point's index, id and estimate (32 bytes), not the
/// points (~900 bytes each; adv24's open item).
#[derive(Default)]
pub struct Listing {
    /// The first [`DRY_RUN_ROWS`] points.
    head: Vec<GridPoint>,
    /// The last [`DRY_RUN_ENDS`] points after `head`.
    tail: VecDeque<GridPoint>,
    /// Every point's index, id (as the number its hexadecimal text writes) and estimate.
    points: Vec<(usize, u64, Estimate)>,
}

impl Listing {
    /// Adds the next point of the shard.
    pub fn add(&mut self, p: GridPoint) {
        self.points.push((p.index, id_number(&p.id), p.estimate));
        if self.head.len() < DRY_RUN_ROWS {
            self.head.push(p);
        } else {
            if self.tail.len() == DRY_RUN_ENDS {
                self.tail.pop_front();
            }
            self.tail.push_back(p);
        }
    }

    /// A listing with room for `points` points.
    pub fn with_capacity(points: usize) -> Listing {
        Listing {
            points: Vec::with_capacity(points),
            ..Listing::default()
        }
    }

    /// Points added.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// True when no point was added.
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Index and estimate of each point not in `done`, in grid order.
    pub fn pending<'a>(
        &'a self,
        done: &'a HashSet<String>,
    ) -> impl Iterator<Item = (usize, Estimate)> + 'a {
        let done = done_numbers(done);
        self.points
            .iter()
            .filter(move |p| !done.contains(&p.1))
            .map(|p| (p.0, p.2))
    }

    /// The listing's text for the grid of `total` points at `path`.
    pub fn text(&self, total: usize, path: &Path, shard: Shard, done: &HashSet<String>) -> String {
        let mine = self.points.len();
        let mut out = String::new();
        let shard_note = if shard == Shard::ALL {
            String::new()
        } else {
            format!(", {mine} in shard {shard}")
        };
        let _ = writeln!(out, "{total} points in {}{shard_note}", path.display());
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
        if mine <= DRY_RUN_ROWS {
            self.head.iter().for_each(|p| row(&mut out, p));
            return out;
        }
        self.head[..DRY_RUN_ENDS]
            .iter()
            .for_each(|p| row(&mut out, p));
        let finished = mine - self.pending(done).count();
        let _ = writeln!(
            out,
            "  … {} points not listed (a dry run lists every point up to {DRY_RUN_ROWS}, else the \
             first and last {DRY_RUN_ENDS}); of all {mine}: {finished} done, {} pending",
            mine - 2 * DRY_RUN_ENDS,
            mine - finished
        );
        let last = self.head.iter().chain(&self.tail);
        last.skip(self.head.len() + self.tail.len() - DRY_RUN_ENDS)
            .for_each(|p| row(&mut out, p));
        out
    }
}

/// The number a point id's 16 hexadecimal digits write ([`super::point::PointConfig::id`]).
fn id_number(id: &str) -> u64 {
    u64::from_str_radix(id, 16).expect("a point id is 16 hexadecimal digits")
}

/// The ids of `done` that are point ids, as numbers (an id a grid's points cannot have is
/// left out: it matches none of them).
fn done_numbers(done: &HashSet<String>) -> HashSet<u64> {
    done.iter()
        .filter_map(|id| {
            let n = u64::from_str_radix(id, 16).ok()?;
            (format!("{n:016x}") == *id).then_some(n)
        })
        .collect()
}
