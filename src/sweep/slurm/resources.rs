//! What one array task asks Slurm for, from the sweep's own estimates ([`Estimate`](crate::config::estimate::Estimate)): CPUs,
//! points at once, memory (`--mem`) and wall time (`--time`), the same for every task.
//!
//! Points at once J: as a local sweep chooses (all points ≤ [`TimeClass::Small`]: one per CPU,
//! else one), lowered until the requested memory holds them. Memory: the largest over shards of
//! the J largest point estimates of the shard, × [`MEM_MARGIN`]. Time: per shard,
//! Σ flops / ([`FLOPS_PER_THREAD`] · CPUs) + ⌈n/J⌉ · [`POINT_OVERHEAD_S`], × [`TIME_MARGIN`],
//! at least [`MIN_TIME_S`], rounded up to whole minutes; the largest over shards.

use super::super::grid::{Grid, GridPoint};
use super::super::shard::Shard;
use crate::config::estimate::sizes::human_bytes;
use crate::config::estimate::TimeClass;
use crate::config::MAX_THREADS;
use crate::error::{Error, Result};

/// Sustained flop rate assumed per thread, deliberately low: sweep points measured on one
/// thread of an AMD EPYC Zen 4 (shared with other builds) ran at 2.4 GFLOP/s (XOR, hidden 16:
/// per-batch overhead dominates) to 13 GFLOP/s (MNIST 5k, hidden 512); cluster nodes are
/// often older.
pub const FLOPS_PER_THREAD: f64 = 1e9;
/// Seconds per point that do not scale with its flops (start-up, data loading, writing).
pub const POINT_OVERHEAD_S: f64 = 5.0;
/// Factor on the time estimate.
pub const TIME_MARGIN: f64 = 2.0;
/// Factor on the memory estimate.
pub const MEM_MARGIN: f64 = 1.25;
/// Shortest time a task asks for, seconds.
pub const MIN_TIME_S: u64 = 600;
/// Longest time limit sbatch can hold, seconds: it reads `--time` as a count of minutes in a
/// signed 32-bit integer.
pub const MAX_TIME_S: u64 = i32::MAX as u64 * 60;

/// The resources of every array task.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Resources {
    /// CPUs per task (`--cpus-per-task`), also the sweep's `--threads`.
    pub cpus: usize,
    /// Points each task runs at once (the sweep's `--jobs`).
    pub jobs: usize,
    /// Memory per task, bytes (`--mem`, and the sweep's `--max-memory`).
    pub mem_bytes: f64,
    /// Wall time per task, seconds (`--time`).
    pub time_s: u64,
}

impl Resources {
    /// Resources for `grid` split into `shards` tasks of `cpus` CPUs each; `mem` and `time`
    /// replace the estimates where given (J is then lowered until J points fit `mem`).
    pub fn plan(
        grid: &Grid,
        shards: usize,
        cpus: usize,
        mem: Option<f64>,
        time: Option<u64>,
    ) -> Result<Resources> {
        if cpus == 0 {
            return Err(Error::flag("--cpus-per-task", "must be at least 1"));
        }
        // Each task runs `corrflow --threads CPUS`, which refuses more than MAX_THREADS: a
        // larger request (`--cpus-per-task 100000`, adv49a) wrote a script whose every task
        // failed.
        if cpus > MAX_THREADS {
            return Err(Error::flag(
                "--cpus-per-task",
                format!(
                    "{cpus} is over {MAX_THREADS}, the most threads a task's `corrflow --threads` \
                     accepts"
                ),
            ));
        }
        let parts: Vec<Vec<&GridPoint>> = (0..shards)
            .map(|index| {
                let shard = Shard {
                    index,
                    count: shards,
                };
                grid.points
                    .iter()
                    .filter(|p| shard.contains(p.index))
                    .collect()
            })
            .collect();
        let all_small = grid
            .points
            .iter()
            .all(|p| p.estimate.time_class() <= TimeClass::Small);
        // At most the points of the largest shard: a task's sweep runs no more at once (adv52:
        // `--cpus-per-task 8` on a 2-point grid said "8 point(s) at once" and wrote `--jobs 8`).
        let most = parts.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let mut jobs = if all_small { cpus.min(most) } else { 1 };
        let mem_bytes = match mem {
            None => mib_ceil(MEM_MARGIN * worst_peak(&parts, jobs)),
            Some(limit) => {
                while jobs > 1 && worst_peak(&parts, jobs) > limit {
                    jobs -= 1;
                }
                let need = worst_peak(&parts, 1);
                if need > limit {
                    return Err(Error::flag(
                        "--mem",
                        format!(
                            "{} is less than one point needs (about {}); raise it or leave it out",
                            human_bytes(limit),
                            human_bytes(need)
                        ),
                    ));
                }
                limit
            }
        };
        let time_s = time.unwrap_or_else(|| {
            let worst = parts
                .iter()
                .map(|part| shard_seconds(part, cpus, jobs))
                .fold(0.0, f64::max);
            // `as` saturates; a saturated count stays there instead of wrapping past u64::MAX
            // (checked against MAX_TIME_S where the script is written).
            (((TIME_MARGIN * worst).ceil() as u64).max(MIN_TIME_S))
                .div_ceil(60)
                .saturating_mul(60)
        });
        Ok(Resources {
            cpus,
            jobs,
            mem_bytes,
            time_s,
        })
    }
}

/// The largest over shards of the summed memory estimates of a shard's `jobs` largest points.
fn worst_peak(parts: &[Vec<&GridPoint>], jobs: usize) -> f64 {
    parts
        .iter()
        .map(|part| {
            let mut bytes: Vec<f64> = part.iter().map(|p| p.estimate.bytes).collect();
            bytes.sort_by(|a, b| b.total_cmp(a));
            bytes.iter().take(jobs).sum::<f64>()
        })
        .fold(0.0, f64::max)
}

/// Estimated seconds for one shard's points on `cpus` CPUs, `jobs` at a time (no margin).
fn shard_seconds(part: &[&GridPoint], cpus: usize, jobs: usize) -> f64 {
    let flops: f64 = part.iter().map(|p| p.estimate.flops).sum();
    flops / (FLOPS_PER_THREAD * cpus as f64) + part.len().div_ceil(jobs) as f64 * POINT_OVERHEAD_S
}

/// `bytes` rounded up to whole MiB.
fn mib_ceil(bytes: f64) -> f64 {
    const MIB: f64 = 1024.0 * 1024.0;
    (bytes / MIB).ceil() * MIB
}

/// Memory as `sbatch --mem` takes it: whole MiB, rounded up (`512M`).
pub fn slurm_mem(bytes: f64) -> String {
    format!("{}M", (bytes / (1024.0 * 1024.0)).ceil() as u64)
}

/// Seconds as Slurm writes a time limit: `D-HH:MM:SS`, or `HH:MM:SS` under a day.
pub fn slurm_time(seconds: u64) -> String {
    let (d, h, m, s) = (
        seconds / 86_400,
        seconds / 3600 % 24,
        seconds / 60 % 60,
        seconds % 60,
    );
    if d > 0 {
        format!("{d}-{h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

/// Parses a time limit in the forms `sbatch --time` accepts: `M`, `M:S`, `H:M:S`, `D-H`,
/// `D-H:M`, `D-H:M:S`; returns seconds.
pub fn parse_slurm_time(text: &str) -> Result<u64> {
    let bad = || {
        Error::flag(
            "--time",
            format!("'{text}' is not a Slurm time limit (minutes, H:MM:SS or D-HH:MM:SS)"),
        )
    };
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| bad());
    let (days, rest) = match text.split_once('-') {
        Some((d, rest)) => (Some(number(d)?), rest),
        None => (None, text),
    };
    let fields = rest.split(':').map(number).collect::<Result<Vec<u64>>>()?;
    // (days, hours, minutes, seconds), summed without wrapping: `--time 307445734561825861`
    // (minutes) wrapped past u64::MAX to a limit of 44 s (adv49a).
    let (h, m, s) = match (days, fields.as_slice()) {
        (None, [m]) => (0, *m, 0),
        (None, [m, s]) => (0, *m, *s),
        (None, [h, m, s]) | (Some(_), [h, m, s]) => (*h, *m, *s),
        (Some(_), [h]) => (*h, 0, 0),
        (Some(_), [h, m]) => (*h, *m, 0),
        _ => return Err(bad()),
    };
    let seconds = [(days.unwrap_or(0), 86_400), (h, 3600), (m, 60), (s, 1)]
        .into_iter()
        .try_fold(0u64, |sum, (n, unit)| sum.checked_add(n.checked_mul(unit)?));
    match seconds {
        Some(0) => Err(bad()),
        Some(seconds) if seconds <= MAX_TIME_S => Ok(seconds),
        _ => Err(time_over_slurm("--time", text)),
    }
}

/// The refusal of a time limit beyond [`MAX_TIME_S`], naming `what` (`--time`, or the planned
/// limit) and the `limit` as written.
pub fn time_over_slurm(what: &str, limit: &str) -> Error {
    Error::flag(
        what,
        format!(
            "{limit} is over the longest time limit sbatch can hold, {} (2^31 - 1 minutes)",
            slurm_time(MAX_TIME_S)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn slurm_times_round_trip() {
        for (text, s) in [
            ("30", 1800),
            ("1:30", 90),
            ("2:00:00", 7200),
            ("1-0", 86_400),
            ("1-2:3", 93_780),
            ("1-02:03:04", 93_784),
        ] {
            assert_eq!(parse_slurm_time(text).unwrap(), s, "{text}");
        }
        assert_eq!(slurm_time(93_784), "1-02:03:04");
        assert_eq!(slurm_time(600), "00:10:00");
        for bad in ["", "0", "1:2:3:4", "x", "1-", "-5", "1-2:3:4:5"] {
            assert!(parse_slurm_time(bad).is_err(), "{bad}");
        }
        // Beyond sbatch's 2^31 - 1 minutes, and sums past u64::MAX (which wrapped: the first
        // to 44 s), refused naming --time.
        assert_eq!(parse_slurm_time("2147483647").unwrap(), MAX_TIME_S);
        for huge in [
            "2147483648",
            "307445734561825861",
            "18446744073709551615",
            "213503982334601-0",
            "1-18446744073709551615:0:0",
        ] {
            let err = parse_slurm_time(huge).unwrap_err().to_string();
            assert!(
                err.contains("--time") && err.contains("sbatch"),
                "{huge}: {err}"
            );
        }
    }

    fn grid(text: &str) -> Grid {
        Grid::parse(text, Path::new("g.toml")).unwrap()
    }

    #[test]
    fn small_points_run_one_per_cpu_and_memory_holds_them() {
        let g = grid("task = \"xor\"\nseed = [1, 2, 3, 4, 5, 6, 7, 8]\n");
        let one = g.points[0].estimate.bytes;
        let r = Resources::plan(&g, 2, 3, None, None).unwrap();
        assert_eq!((r.cpus, r.jobs, r.time_s), (3, 3, MIN_TIME_S));
        // Every point is the same size: 3 at once, with the margin, in whole MiB.
        assert_eq!(r.mem_bytes, mib_ceil(MEM_MARGIN * 3.0 * one));
        assert_eq!(
            slurm_mem(r.mem_bytes),
            format!("{}M", r.mem_bytes as u64 >> 20)
        );

        // A memory limit for two points lowers J to 2; one for less than a point is refused.
        let r = Resources::plan(&g, 2, 3, Some(2.5 * one), Some(60)).unwrap();
        assert_eq!((r.jobs, r.mem_bytes, r.time_s), (2, 2.5 * one, 60));
        let err = Resources::plan(&g, 2, 3, Some(0.5 * one), None).unwrap_err();
        assert!(err.to_string().contains("--mem"), "{err}");

        // adv52: 8 CPUs for shards of 4 points run 4 at once, and memory is asked for 4.
        let r = Resources::plan(&g, 2, 8, None, None).unwrap();
        assert_eq!((r.cpus, r.jobs), (8, 4));
        assert_eq!(r.mem_bytes, mib_ceil(MEM_MARGIN * 4.0 * one));
    }

    /// More CPUs than a task's `corrflow --threads` accepts are refused, naming the flag. Old
    /// (adv49a): `--cpus-per-task 100000` was written into the script, whose every task failed.
    #[test]
    fn more_cpus_than_a_task_can_use_are_refused() {
        let g = grid("task = \"xor\"\nseed = [1, 2]\n");
        assert_eq!(
            Resources::plan(&g, 1, MAX_THREADS, None, None)
                .unwrap()
                .cpus,
            MAX_THREADS
        );
        for cpus in [MAX_THREADS + 1, 100_000, usize::MAX] {
            let err = Resources::plan(&g, 1, cpus, None, None)
                .unwrap_err()
                .to_string();
            assert!(err.contains("--cpus-per-task"), "{err}");
            assert!(err.contains("is over 1024"), "{err}");
        }
    }

    #[test]
    fn time_follows_the_largest_shard_and_large_points_run_alone() {
        let g = grid("task = \"mnist\"\nhidden = [[1000, 1000]]\nseed = [1, 2, 3]\n");
        let flops = g.points[0].estimate.flops;
        assert!(g.points[0].estimate.time_class() > TimeClass::Small);
        let r = Resources::plan(&g, 2, 4, None, None).unwrap();
        assert_eq!(r.jobs, 1);
        // Shard 0 holds points 0 and 2.
        let want = TIME_MARGIN * (2.0 * flops / (FLOPS_PER_THREAD * 4.0) + 2.0 * POINT_OVERHEAD_S);
        assert_eq!(
            r.time_s,
            (want.ceil() as u64).max(MIN_TIME_S).div_ceil(60) * 60
        );
        assert!(r.time_s > MIN_TIME_S);
    }
}
