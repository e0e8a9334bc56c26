//! Terminal output shared by the subcommands: progress bars (training, sweep) that vanish when
//! piped, JSON.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use corrflow::net::train::EpochStats;
use corrflow::sweep::session::Progress;
use corrflow::sweep::{GridPoint, Record};
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
            "{prefix:>10} [{bar:30}] {pos}/{len} {msg} ({elapsed}, ETA {eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(what.to_string());
    bar
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
}

/// Prints `value` as one JSON object on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::Numeric(format!("JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}

/// The sweep's progress bar on stderr.
pub struct SweepBar(pub ProgressBar);

impl Progress for SweepBar {
    fn note(&self, line: &str) {
        eprintln!("{line}");
    }
    fn start(&self, points: usize) {
        self.0.set_length(points as u64);
    }
    fn done(&self, p: &GridPoint, r: std::result::Result<&Record, &Error>) {
        match r {
            Ok(rec) => self.0.set_message(format!(
                "#{} net {:.3} theory(l=1) {:+.3}",
                p.index, rec.test_accuracy, rec.gap_from_layer1
            )),
            // suspend, not println: a hidden bar (stderr not a terminal) drops println.
            Err(e) => self.0.suspend(|| {
                eprintln!(
                    "point #{} {} ({}) failed: {e}",
                    p.index,
                    p.id,
                    p.config.summary()
                )
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
        eprintln!(
            "warning: {} {} differs from the model's {} (recorded when it was trained); using {}",
            super::flags::flag(m.field),
            m.given,
            m.model,
            m.given
        );
    }
}
