//! Runs grid points: `jobs` points at once, each inside its own rayon pool, so the thread budget
//! is shared between points and within a point; every finished point is appended to the log, and
//! so is every failed one (an error, or a panic caught at the point), so the others go on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use super::evaluate::{evaluate, Prepared};
use super::grid::GridPoint;
use super::inputs::{InputCache, InputFile};
use super::keys::name_key;
use super::record::{FailedRecord, Record};
use super::store::ResultsLog;
use crate::config::RunConfig;
use crate::error::{Error, Field, Result};
use crate::io::limit::{check_thread_room, set_thread_limit, threads_failed};
use crate::io::MemoryLimit;

/// How the thread budget is split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Points that run at the same time (J ≥ 1).
    pub jobs: usize,
    /// Threads of each point's pool: ⌊T/J⌋, at least 1.
    pub threads_per_point: usize,
}

impl Budget {
    /// Splits `threads` (T) between `jobs` (J) points.
    pub fn split(threads: usize, jobs: usize) -> Budget {
        let jobs = jobs.max(1);
        Budget {
            jobs,
            threads_per_point: (threads / jobs).max(1),
        }
    }
}

/// A point that failed, and why.
#[derive(Debug)]
pub struct Failure {
    pub point: GridPoint,
    pub error: Error,
}

/// Runs `points` and appends one record per finished or failed point to `log`, with the
/// fingerprints of the files it read (taken from `inputs` before the point loads them).
/// `on_done` is called after each point (success or failure), for progress displays. A point
/// that fails (or panics) is recorded and reported and the others go on; an error writing the
/// log stops the run.
pub fn run_points(
    points: &[GridPoint],
    log: &mut ResultsLog,
    budget: Budget,
    limit: MemoryLimit,
    inputs: &InputCache,
    on_done: &(dyn Fn(&GridPoint, std::result::Result<&Record, &Error>) + Sync),
) -> Result<Vec<Failure>> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let log = Mutex::new(log);
    let failures = Mutex::new(Vec::new());
    let fatal: Mutex<Option<Error>> = Mutex::new(None);
    // Every job's thread and its pool's, refused before any starts where their stacks do not
    // fit under `ulimit -v` (`check_thread_room`: a thread started beside one that could not be
    // could abort the process).
    let jobs = budget.jobs.min(points.len());
    let threads = jobs.saturating_mul(1 + budget.threads_per_point);
    check_thread_room(threads, threads, "--jobs").map_err(|e| Error::config(Field::Jobs, e))?;
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let worker = std::thread::Builder::new().spawn_scoped(scope, || {
                // The sweep's budget on every thread of the point, for the checks that take
                // no limit of their own (`MemoryLimit::default`).
                set_thread_limit(limit);
                let pool = match rayon::ThreadPoolBuilder::new()
                    .num_threads(budget.threads_per_point)
                    .start_handler(move |_| set_thread_limit(limit))
                    .build()
                {
                    Ok(p) => p,
                    Err(e) => {
                        stop.store(true, Ordering::SeqCst);
                        *lock(&fatal) = Some(Error::config(
                            Field::Threads,
                            threads_failed(budget.threads_per_point, &e, "--threads"),
                        ));
                        return;
                    }
                };
                while !stop.load(Ordering::SeqCst) {
                    let Some(point) = points.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        break;
                    };
                    // Hashed before the point reads the files: a file edited after is
                    // refused by the next resume, not recorded with the new contents' hash.
                    let files = inputs.of_point(&point.config);
                    let result = catch_unwind(AssertUnwindSafe(|| {
                        pool.install(|| {
                            run_one(point, budget.threads_per_point, limit, files.clone())
                        })
                    }))
                    .unwrap_or_else(|panic| Err(panicked(panic.as_ref())))
                    .map_err(name_key);
                    match result {
                        Ok(record) => {
                            if let Err(e) = lock(&log).append(&record) {
                                stop.store(true, Ordering::SeqCst);
                                *lock(&fatal) = Some(e);
                                return;
                            }
                            on_done(point, Ok(&record));
                        }
                        Err(error) => {
                            let failure = FailedRecord {
                                id: point.id.clone(),
                                index: point.index,
                                config: point.config.clone(),
                                failed: error.to_string(),
                                inputs: files,
                                corrflow_version: env!("CARGO_PKG_VERSION").to_string(),
                            };
                            if let Err(e) = lock(&log).append_failure(&failure) {
                                stop.store(true, Ordering::SeqCst);
                                *lock(&fatal) = Some(e);
                                return;
                            }
                            on_done(point, Err(&error));
                            lock(&failures).push(Failure {
                                point: point.clone(),
                                error,
                            });
                        }
                    }
                }
            });
            // A job that cannot start stops the sweep like a pool that cannot (the points
            // already running finish and are recorded).
            if let Err(e) = worker {
                stop.store(true, Ordering::SeqCst);
                *lock(&fatal) = Some(Error::config(
                    Field::Jobs,
                    threads_failed(budget.jobs, &e, "--jobs"),
                ));
                break;
            }
        }
    });
    if let Some(e) = fatal.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut failures = failures.into_inner().unwrap_or_else(|p| p.into_inner());
    failures.sort_by_key(|f| f.point.index);
    Ok(failures)
}

/// The error of a point whose run panicked (a bug in corrflow): the panic's message.
fn panicked(payload: &(dyn std::any::Any + Send)) -> Error {
    let msg = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    Error::Unsupported(format!(
        "the point's run panicked (a bug in corrflow; please report it): {msg}"
    ))
}

/// Locks a mutex, carrying on past a worker that panicked (its data are plain values).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn run_one(
    point: &GridPoint,
    threads: usize,
    max_memory: MemoryLimit,
    inputs: Vec<InputFile>,
) -> Result<Record> {
    let start = Instant::now();
    let config = RunConfig {
        max_memory,
        ..point.config.run_config()?
    };
    let prepared = Prepared::new(&config)?;
    let widths = prepared.net.widths();
    let activation = prepared.net.activation.to_string();
    let data = prepared.data.clone();
    let outcome = evaluate(prepared, &config)?;
    let theory_at = |l: usize| {
        outcome
            .theory
            .get(l)
            .map_or(f64::NAN, |t| t.accuracy - outcome.test_accuracy)
    };
    Ok(Record {
        id: point.id.clone(),
        index: point.index,
        config: point.config.clone(),
        data,
        widths,
        activation,
        train_accuracy: outcome.train_accuracy,
        test_accuracy: outcome.test_accuracy,
        gap_from_input: theory_at(0),
        gap_from_layer1: theory_at(1),
        theory: outcome.theory,
        input_info: outcome.input_info,
        output_info: outcome.output_info,
        unlearned: outcome.unlearned,
        inputs,
        wall_seconds: start.elapsed().as_secs_f64(),
        threads,
        corrflow_version: env!("CARGO_PKG_VERSION").to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_are_split_between_points() {
        assert_eq!(
            Budget::split(8, 3),
            Budget {
                jobs: 3,
                threads_per_point: 2
            }
        );
        assert_eq!(
            Budget::split(2, 4),
            Budget {
                jobs: 4,
                threads_per_point: 1
            }
        );
        assert_eq!(
            Budget::split(4, 0),
            Budget {
                jobs: 1,
                threads_per_point: 4
            }
        );
    }
}
