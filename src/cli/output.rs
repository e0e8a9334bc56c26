//! Terminal output shared by the subcommands: progress bars (training, sweep) that vanish when
//! piped, JSON.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indicatif::{
    HumanDuration, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle,
};
use serde::Serialize;

use corrflow::config::estimate::memory::BASE_BYTES;
use corrflow::io::{say, MemoryLimit};
use corrflow::net::train::EpochStats;
use corrflow::report::json::to_json;
use corrflow::sweep::session::Progress;
use corrflow::sweep::{GridPoint, Record};
use corrflow::timing::calibrate::CALIBRATION_N;
use corrflow::timing::{Moment, StageObserver, TimingSummary, Timings};
use corrflow::{Error, Result};

/// A progress bar on stderr, drawn only when stderr is a terminal and `enabled`.
pub fn progress(len: u64, what: &str, enabled: bool) -> ProgressBar {
    let target = if enabled {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta_known})",
        )
        .expect("static template")
        .with_key("eta_known", eta_known)
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// indicatif's ETA, or "?" before the first step is done (indicatif's own reads "0s" then).
fn eta_known(state: &ProgressState, w: &mut dyn std::fmt::Write) {
    let _ = if state.pos() == 0 {
        write!(w, "?")
    } else {
        write!(w, "{:#}", HumanDuration(state.eta()))
    };
}

/// The training bar: one step per epoch, with its loss and accuracy.
pub struct EpochBar(ProgressBar);

/// A training bar over `epochs` epochs.
pub fn epoch_bar(epochs: usize, enabled: bool) -> EpochBar {
    EpochBar(progress(epochs as u64, "training", enabled))
}

impl EpochBar {
    /// Shows one finished epoch; the bar clears itself after the last one, before the work
    /// that follows training.
    pub fn epoch(&self, e: &EpochStats) {
        self.0
            .set_message(format!("loss {:.4} acc {:.3}", e.loss, e.train_accuracy));
        self.0.inc(1);
        if self.0.length() == Some(self.0.position()) {
            self.0.finish_and_clear();
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }

    /// The run's notes ([`Timings::note`]) on stderr, the bar cleared while each is written
    /// (`train`, which has no stage lines).
    pub fn notes(&self) -> Box<dyn StageObserver> {
        Box::new(BarNotes(self.0.clone()))
    }
}

/// The notes of a run whose only display is one bar ([`EpochBar::notes`]).
#[derive(Debug)]
struct BarNotes(ProgressBar);

impl StageObserver for BarNotes {
    fn enter(&self, _stage: &'static str) {}

    fn note(&self, line: &str) {
        self.0.suspend(|| say(line));
    }
}

/// One spinner line per stage of `analyze`/`propagate` on stderr (drawn only when stderr is a
/// terminal): the stage's name, how often it has started and the time since it first did.
/// Stages repeated inside others (affine, closure) update their own line.
/// Clones share the lines.
#[derive(Clone, Debug)]
pub struct StageBars {
    lines: MultiProgress,
    bars: Arc<Mutex<HashMap<&'static str, ProgressBar>>>,
}

impl StageBars {
    /// The display, hidden unless `enabled`.
    pub fn new(enabled: bool) -> Self {
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        StageBars {
            lines: MultiProgress::with_draw_target(target),
            bars: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl StageObserver for StageBars {
    fn enter(&self, stage: &'static str) {
        let mut bars = self.bars.lock().expect("stage bars lock");
        let bar = bars.entry(stage).or_insert_with(|| {
            let bar = self.lines.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>22} {spinner} {pos} × ({elapsed})")
                    .expect("static template"),
            );
            bar.set_prefix(stage);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        bar.inc(1);
    }

    /// The line on stderr with the stage lines cleared while it is written (drawn or not).
    fn note(&self, line: &str) {
        self.lines.suspend(|| say(line));
    }
}

impl StageBars {
    /// Removes every line.
    pub fn finish(&self) {
        for bar in self.bars.lock().expect("stage bars lock").values() {
            bar.finish_and_clear();
        }
        let _ = self.lines.clear();
    }
}

/// Whether `analyze`/`propagate` draw their stage bars: not when `--json` goes to a pipe (a
/// script is reading), else whenever stderr is a terminal (indicatif checks that).
pub fn stage_bars_wanted(json: bool) -> bool {
    use std::io::IsTerminal;
    !json || std::io::stdout().is_terminal()
}

/// Bytes the GEMM calibration of `--timings` holds at once: its three n × n f64 matrices
/// (n = [`CALIBRATION_N`]: 24 MiB).
fn calibration_bytes() -> u128 {
    3 * 8 * (CALIBRATION_N as u128).pow(2)
}

/// Whether the calibration, as a run of its own (the [`BASE_BYTES`] every run needs and its
/// matrices), fits `limit` within the address space ([`MemoryLimit::within_address_space`]:
/// `ulimit -v` less what the threads map, faer's GEMM workspace among it). The calibration runs
/// before the run's own memory check; under `ulimit -v` 100–580 MB it aborted inside faer
/// ("memory allocation of 545259520 bytes failed", exit 134) where the same run without
/// `--timings` was refused naming `ulimit -v`; with its matrices alone counted, at 620 MB (32 MiB
/// left) too (adv41).
fn calibration_fits(limit: MemoryLimit) -> bool {
    limit
        .within_address_space()
        .allows(BASE_BYTES as u128 + calibration_bytes())
}

/// The run's recorder (`record`: `--timings`) telling `observer` of each stage; when recording,
/// faer's GEMM rate is measured in this process first, just before the run
/// ([`Timings::calibrate`]), if its matrices fit `limit` (else it says so through the run's
/// notes and the table has no share of the machine's GEMM).
pub fn start_timings(
    record: bool,
    observer: Box<dyn StageObserver>,
    limit: MemoryLimit,
) -> Timings {
    let timings = Timings::when(record).observed_by(observer);
    if !record {
        return timings;
    }
    if calibration_fits(limit) {
        timings.calibrate(Moment::Before);
    } else {
        timings.note(&format!(
            "note: --timings measures no GEMM rate: its calibration needs {} MiB (the {} MiB \
             base of every run and its matrices), over the memory limit of {}",
            (BASE_BYTES as u128 + calibration_bytes()) >> 20,
            BASE_BYTES as u128 >> 20,
            limit.within_address_space().describe()
        ));
    }
    timings
}

/// With `--timings`: measures faer's GEMM rate again just after the run (with its thread count,
/// when its matrices fit `limit`, as in [`start_timings`]), prints the stage table and the run's
/// share of the fastest GEMM of both moments on stderr, and returns the summary for `--json`.
/// None without `--timings`.
pub fn finish_timings(timings: &Timings, limit: MemoryLimit) -> Option<TimingSummary> {
    if !timings.enabled() {
        return None;
    }
    if calibration_fits(limit) {
        timings.calibrate(Moment::After);
    }
    let table = timings.table();
    say(table.strip_suffix('\n').unwrap_or(&table));
    Some(timings.summary())
}

/// Prints `value` as one JSON object on stdout; a non-finite number is an error naming it.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = to_json(value, "JSON output")?;
    print_out(format_args!("{text}\n"))
}

/// Writes `text` on stdout and flushes it: a failed write (a full disk behind `> FILE`) is an
/// error naming standard output, where `print!` panicked (exit 101). A closed pipe still ends
/// the process by SIGPIPE (`main`); a standard output closed at start (`>&-`) is /dev/null by
/// then (Rust's runtime opens it there), as `>/dev/null` is.
pub fn print_out(text: impl std::fmt::Display) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    write!(out, "{text}")
        .and_then(|()| out.flush())
        .map_err(|e| Error::io("standard output", e))
}

/// The sweep's progress bar on stderr.
pub struct SweepBar(pub ProgressBar);

impl Progress for SweepBar {
    fn note(&self, line: &str) {
        say(line);
    }
    fn start(&self, points: usize) {
        self.0.set_length(points as u64);
    }
    fn done(&self, p: &GridPoint, r: std::result::Result<&Record, &Error>) {
        match r {
            Ok(rec) => {
                // A point's training far worse than a constant output: `train`'s warning, named
                // by the point (the record holds it as `unlearned`).
                if let Some(u) = &rec.unlearned {
                    let (id, summary) = (&p.id, p.config.summary());
                    self.0
                        .suspend(|| say(format_args!("point #{} {id} ({summary}): {u}", p.index)));
                }
                self.0.set_message(format!(
                    "#{} net {:.3} theory(l=1) {:+.3}",
                    p.index, rec.test_accuracy, rec.gap_from_layer1
                ))
            }
            // suspend, not println: a hidden bar (stderr not a terminal) drops println.
            Err(e) => self.0.suspend(|| {
                say(format_args!(
                    "point #{} {} ({}) failed: {e}",
                    p.index,
                    p.id,
                    p.config.summary()
                ))
            }),
        }
        self.0.inc(1);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// One warning on stderr per data setting the user chose differently from the model's record.
pub fn warn_mismatches(mismatches: &[corrflow::config::provenance::Mismatch]) {
    for m in mismatches {
        say(format_args!(
            "warning: {} {} differs from the model's {} (recorded when it was trained); using {}",
            super::flags::flag(m.field),
            m.given,
            m.model,
            m.given
        ));
    }
}
