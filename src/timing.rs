//! A cheap per-stage wall-clock recorder for `--timings` (issue #5): the CLI hands one
//! [`Timings`] down to the stages it wants broken down (data load, empirical statistics, affine
//! update, closure, analysis); each records its elapsed time, the process CPU time it took
//! ([`cpu`]: what the stage cost where other work shares the cores) and, where the work has a
//! known flop count (the affine update's GEMMs), the flops, so the table shows achieved GFLOP/s.
//! A disabled recorder costs one branch per stage. A [`StageObserver`] (the CLI's progress
//! bars) is told when each stage starts, recording or not. With a [`GemmReference`] measured in
//! the same process ([`calibrate`]), the table ends with the whole run's rate against it.

pub mod calibrate;
pub mod cpu;
pub mod duration;
pub mod flops;
pub mod peak;

use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use serde::Serialize;

pub use calibrate::{GemmReference, Moment};
use calibrate::{GemmSample, CALIBRATION_N, CALIBRATION_REPS};

/// Accumulated time of one named stage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StageTime {
    pub stage: &'static str,
    pub calls: u64,
    pub seconds: f64,
    /// Process CPU time (user and system, every thread; [`cpu::process_cpu_seconds`]) while
    /// the stage ran: its cost on a loaded machine, where `seconds` also counts the waits for a
    /// core. Like `seconds`, a stage timed inside or beside another is counted in both: the
    /// run's rate is taken over the recorded span ([`TimingSummary::span_seconds`]), not over
    /// the sum.
    pub cpu_seconds: f64,
    /// Floating-point operations done in the stage (0 when not counted).
    pub flops: f64,
}

/// Told when a stage starts: the command line's per-stage progress display. It is also the
/// channel of the run's notes ([`Timings::note`]: a warning of the time a part of the work may
/// take, said before that work starts), which the display shows without breaking its lines.
pub trait StageObserver: Send + Sync + std::fmt::Debug {
    /// `stage` (a name passed to [`Timings::time`]) starts once more.
    fn enter(&self, stage: &'static str);
    /// A line for the user (a warning), given once, before the work it is about.
    fn note(&self, line: &str);
}

/// Per-stage recorder; stages keep the order in which they were first seen.
#[derive(Debug, Default)]
pub struct Timings {
    enabled: bool,
    stages: Mutex<Vec<StageTime>>,
    observer: Option<Box<dyn StageObserver>>,
    reference: Mutex<Option<GemmReference>>,
    /// The first recorded stage's start and the last one's end ([`Timings::time`]).
    span: Mutex<Option<(Instant, Instant)>>,
}

/// The recorded stages and the whole run's rate, for `--json` with `--timings`.
#[derive(Clone, Debug, Serialize)]
pub struct TimingSummary {
    pub stages: Vec<StageTime>,
    /// Sum of the stages' seconds (stages side by side or one inside another counted in each).
    pub seconds: f64,
    /// The recorded run's wall time: from the first stage's start to the last stage's end,
    /// the gaps between stages included and stages that ran side by side counted once (the sum
    /// of the stages' seconds where no stage went through [`Timings::time`]).
    pub span_seconds: f64,
    /// Sum of the stages' CPU seconds.
    pub cpu_seconds: f64,
    /// Sum of the stages' counted flops.
    pub flops: f64,
    /// flops / span_seconds · 10⁻⁹: the whole recorded run's rate.
    pub gflops: f64,
    /// The in-process GEMM rate, when measured.
    pub gemm_reference: Option<GemmReference>,
    /// gflops / gemm_reference.gflops (null without a reference).
    pub share_of_gemm: Option<f64>,
    /// The instruction set the crate's SIMD kernels ran on ([`crate::simd::Isa::name`] of the
    /// process's setting): "avx512", "avx2" or "scalar", what the CPU has, not what
    /// `CORRFLOW_ISA` asked (adv51: neither output said it).
    pub isa: &'static str,
}

impl Timings {
    /// A recorder that records.
    pub fn new() -> Self {
        Timings {
            enabled: true,
            stages: Mutex::new(Vec::new()),
            observer: None,
            reference: Mutex::new(None),
            span: Mutex::new(None),
        }
    }

    /// This recorder, also telling `observer` when each stage starts.
    pub fn observed_by(mut self, observer: Box<dyn StageObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Passes `line` (a warning or an estimate of the work to come, [`StageObserver::note`]) to
    /// the observer, recording or not; a recorder without one (a library caller's) drops it.
    /// Library code says such lines here, never on stderr itself: the command line's progress
    /// lines would be broken by them (adv36: `analyze`'s Monte Carlo warning).
    pub fn note(&self, line: &str) {
        if let Some(observer) = &self.observer {
            observer.note(line);
        }
    }

    /// A recorder that only runs the closures it is given.
    pub fn disabled() -> Self {
        Timings::default()
    }

    /// A recorder that records if `record` (a CLI's `--timings`), else a disabled one.
    pub fn when(record: bool) -> Self {
        if record {
            Timings::new()
        } else {
            Timings::disabled()
        }
    }

    /// Whether stages are being recorded.
    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Runs `f`, adding its wall time, the process CPU time it took and `flops` to `stage`.
    pub fn time<T>(&self, stage: &'static str, flops: f64, f: impl FnOnce() -> T) -> T {
        if let Some(observer) = &self.observer {
            observer.enter(stage);
        }
        if !self.enabled {
            return f();
        }
        let (start, cpu_start) = (Instant::now(), cpu::process_cpu_seconds().ok());
        let out = f();
        self.extend_span(start, Instant::now());
        // A clock that could not be read (never on Linux) counts as 0 CPU seconds.
        let cpu_seconds = cpu_start
            .zip(cpu::process_cpu_seconds().ok())
            .map_or(0.0, |(a, b)| (b - a).max(0.0));
        self.add(stage, (start.elapsed().as_secs_f64(), cpu_seconds), flops);
        out
    }

    /// Adds one call of (wall `seconds`, `cpu_seconds`) and `flops` to `stage`.
    pub fn add(&self, stage: &'static str, (seconds, cpu_seconds): (f64, f64), flops: f64) {
        if !self.enabled {
            return;
        }
        let mut stages = self.stages.lock().expect("timings lock");
        match stages.iter_mut().find(|s| s.stage == stage) {
            Some(s) => {
                s.calls += 1;
                s.seconds += seconds;
                s.cpu_seconds += cpu_seconds;
                s.flops += flops;
            }
            None => stages.push(StageTime {
                stage,
                calls: 1,
                seconds,
                cpu_seconds,
                flops,
            }),
        }
    }

    /// Widens the recorded span to cover `start … end`.
    fn extend_span(&self, start: Instant, end: Instant) {
        let mut span = self.span.lock().expect("timings lock");
        *span = Some(match *span {
            Some((a, b)) => (a.min(start), b.max(end)),
            None => (start, end),
        });
    }

    /// Adds `flops` to `stage` without counting a call (work known only after the stage ran).
    pub fn add_flops(&self, stage: &'static str, flops: f64) {
        if !self.enabled {
            return;
        }
        let mut stages = self.stages.lock().expect("timings lock");
        if let Some(s) = stages.iter_mut().find(|s| s.stage == stage) {
            s.flops += flops;
        }
    }

    /// The recorded stages.
    pub fn stages(&self) -> Vec<StageTime> {
        self.stages.lock().expect("timings lock").clone()
    }

    /// When recording: measures faer's GEMM rate now ([`calibrate::calibrate`],
    /// `CALIBRATION_REPS` products of side `CALIBRATION_N` after a warm-up) and adds the samples
    /// to the reference at `moment` (the CLI calibrates just before the run and just after it).
    pub fn calibrate(&self, moment: Moment) {
        if !self.enabled {
            return;
        }
        let mut reference = self.reference.lock().expect("timings lock");
        calibrate::calibrate(&mut reference, moment, CALIBRATION_N, CALIBRATION_REPS);
    }

    /// The stages, their totals and the whole run's rate against the reference, if set.
    pub fn summary(&self) -> TimingSummary {
        let stages = self.stages();
        let seconds: f64 = stages.iter().map(|s| s.seconds).sum();
        let cpu_seconds: f64 = stages.iter().map(|s| s.cpu_seconds).sum();
        let flops: f64 = stages.iter().map(|s| s.flops).sum();
        let span_seconds = self
            .span
            .lock()
            .expect("timings lock")
            .map_or(seconds, |(a, b)| (b - a).as_secs_f64());
        let gflops = if span_seconds > 0.0 {
            flops / span_seconds * 1e-9
        } else {
            0.0
        };
        let gemm_reference = self.reference.lock().expect("timings lock").clone();
        TimingSummary {
            stages,
            seconds,
            span_seconds,
            cpu_seconds,
            flops,
            gflops,
            share_of_gemm: gemm_reference.as_ref().map(|r| gflops / r.gflops),
            gemm_reference,
            isa: crate::simd::Isa::current().name(),
        }
    }

    /// A table: stage, calls, seconds, share of the recorded total, GFLOP (counted flops),
    /// GFLOP/s where counted and the process CPU seconds (last, so that the columns before it
    /// stay where scripts read them); the total of the stages' seconds, the recorded span (first
    /// stage's start to last stage's end); then the whole run's rate over the span, against the
    /// GEMM reference when set:
    /// "this run: 41.2 GFLOP/s = 61 % of this machine's GEMM (67.5 GFLOP/s, 2 threads); kernels on
    /// avx2" (the instruction set the SIMD kernels ran on).
    pub fn table(&self) -> String {
        let summary = self.summary();
        let (stages, total) = (&summary.stages, summary.seconds);
        // The stage column as wide as its longest name, so that every row's numbers line up.
        let w = stages
            .iter()
            .map(|s| s.stage.chars().count())
            .chain([22])
            .max()
            .unwrap_or(22);
        let mut out = format!(
            "{:<w$} {:>6} {:>10} {:>7} {:>9} {:>9} {:>9}\n",
            "stage", "calls", "seconds", "share", "GFLOP", "GFLOP/s", "CPU s"
        );
        for s in stages {
            let (work, gflops) = if s.flops > 0.0 && s.seconds > 0.0 {
                (
                    format!("{:.2}", s.flops * 1e-9),
                    format!("{:.1}", s.flops / s.seconds * 1e-9),
                )
            } else {
                ("-".into(), "-".into())
            };
            let share = if total > 0.0 { s.seconds / total } else { 0.0 };
            let _ = writeln!(
                out,
                "{:<w$} {:>6} {:>10.4} {:>6.1}% {:>9} {:>9} {:>9.4}",
                s.stage,
                s.calls,
                s.seconds,
                100.0 * share,
                work,
                gflops,
                s.cpu_seconds
            );
        }
        let rate = |seconds: f64| {
            if seconds > 0.0 {
                summary.flops / seconds * 1e-9
            } else {
                0.0
            }
        };
        let _ = writeln!(
            out,
            "{:<w$} {:>6} {:>10.4} {:>7} {:>9.2} {:>9.1} {:>9.4}",
            "total (recorded)",
            "",
            total,
            "",
            summary.flops * 1e-9,
            rate(total),
            summary.cpu_seconds
        );
        // The run's wall from the first stage's start to the last one's end: what the rate
        // below is taken over (stages side by side counted once, gaps included).
        let _ = writeln!(
            out,
            "{:<w$} {:>6} {:>10.4} {:>7} {:>9.2} {:>9.1} {:>9}",
            "recorded span",
            "",
            summary.span_seconds,
            "",
            summary.flops * 1e-9,
            summary.gflops,
            "-"
        );
        match &summary.gemm_reference {
            Some(r) => {
                let _ = writeln!(
                    out,
                    "this run: {:.1} GFLOP/s = {:.0} % of this machine's GEMM ({:.1} GFLOP/s: the fastest of {} products {}; {} thread{}; {}² f64 GEMM measured in this process); kernels on {}",
                    summary.gflops,
                    100.0 * summary.gflops / r.gflops,
                    r.gflops,
                    r.before.len() + r.after.len(),
                    moments(r),
                    r.threads,
                    if r.threads == 1 { "" } else { "s" },
                    r.n,
                    summary.isa
                );
            }
            None => {
                let _ = writeln!(
                    out,
                    "this run: {:.1} GFLOP/s; kernels on {}",
                    summary.gflops, summary.isa
                );
            }
        }
        out
    }
}

/// "before the run 48.0–52.1, after it 50.3–61.2 GFLOP/s": each moment's range of rates.
fn moments(r: &GemmReference) -> String {
    let range = |when: &str, samples: &[GemmSample]| {
        let (lo, hi) = samples.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), s| {
            (lo.min(s.gflops), hi.max(s.gflops))
        });
        (!samples.is_empty()).then(|| format!("{when} {lo:.1}–{hi:.1}"))
    };
    let parts: Vec<String> = [
        range("before the run", &r.before),
        range("after it", &r.after),
    ]
    .into_iter()
    .flatten()
    .collect();
    format!("{} GFLOP/s", parts.join(", "))
}

/// Flops of the affine covariance update Σ' = WΣWᵀ (DESIGN.md §2) for `classes` classes, W of
/// n_out × n_in: 2·n_out·n_in² for WΣ plus n_out(n_out+1)·n_in for the lower triangle of
/// (WΣ)Wᵀ, per class (means are negligible and not counted).
pub fn affine_flops(n_out: usize, n_in: usize, classes: usize) -> f64 {
    let (o, i) = (n_out as f64, n_in as f64);
    classes as f64 * (2.0 * o * i * i + o * (o + 1.0) * i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accumulates_by_stage_in_first_seen_order() {
        let t = Timings::new();
        assert_eq!(t.time("a", 10.0, || 1 + 1), 2);
        t.add("b", (0.5, 0.125), 0.0);
        t.add("a", (0.25, 0.0625), 5.0);
        let s = t.stages();
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].stage, s[0].calls, s[0].flops), ("a", 2, 15.0));
        assert!(t.table().contains("total"));
        t.add_flops("b", 2.0);
        t.add_flops("never seen", 1.0);
        assert_eq!((t.stages()[1].calls, t.stages()[1].flops), (1, 2.0));
        t.add_flops("b", -2.0);
        let sample = |gflops| GemmSample {
            gflops,
            cpu_seconds: 0.0,
        };
        let mut reference = GemmReference::new(8, 2, Moment::Before, vec![sample(90.0)]);
        reference.add(Moment::After, vec![sample(100.0), sample(80.0)]);
        *t.reference.lock().unwrap() = Some(reference);
        let sum = t.summary();
        assert_eq!((sum.flops, sum.seconds), (15.0, s[0].seconds + 0.5));
        assert_eq!(sum.cpu_seconds, s[0].cpu_seconds + 0.125);
        assert!(s[0].cpu_seconds >= 0.0625 && t.table().contains("CPU s"));
        assert_eq!(sum.share_of_gemm, Some(sum.gflops / 100.0));
        assert!(t
            .table()
            .contains("of this machine's GEMM (100.0 GFLOP/s: the fastest of 3 products before the run 90.0–90.0, after it 80.0–100.0 GFLOP/s; 2 threads"));
        let off = Timings::disabled();
        off.add("a", (1.0, 1.0), 1.0);
        assert!(off.time("a", 0.0, || true) && off.stages().is_empty());
        assert_eq!(affine_flops(2, 3, 1), 2.0 * 2.0 * 9.0 + 2.0 * 3.0 * 3.0);
    }

    /// The span runs from the earliest start to the latest end: stages side by side count once,
    /// a gap between stages counts, and the rate is taken over the span, not the sum.
    #[test]
    fn the_rate_is_over_the_span_of_the_stages() {
        let t = Timings::new();
        let t0 = Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        // a: 0–400 ms, b: 100–300 ms beside it, c: 500–600 ms after a gap.
        for (stage, (a, b), flops) in [
            ("a", (0, 400), 4e9),
            ("b", (100, 300), 2e9),
            ("c", (500, 600), 1e9),
        ] {
            t.add(stage, ((b - a) as f64 * 1e-3, 0.0), flops);
            t.extend_span(at(a), at(b));
        }
        let sum = t.summary();
        assert!((sum.seconds - 0.7).abs() < 1e-12, "{}", sum.seconds);
        assert!(
            (sum.span_seconds - 0.6).abs() < 1e-9,
            "{}",
            sum.span_seconds
        );
        assert!((sum.gflops - 7.0 / 0.6).abs() < 1e-6, "{}", sum.gflops);
        // Without a timed stage the span is the sum.
        let u = Timings::new();
        u.add("a", (0.5, 0.0), 1e9);
        assert_eq!(u.summary().span_seconds, 0.5);
    }

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);
    impl StageObserver for std::sync::Arc<Seen> {
        fn enter(&self, stage: &'static str) {
            self.0.lock().unwrap().push(stage.to_string());
        }
        fn note(&self, line: &str) {
            self.0.lock().unwrap().push(format!("note {line}"));
        }
    }

    /// A stage name longer than the default column still leaves every row's numbers in the
    /// same character columns (each row's last field ends where the header's does).
    #[test]
    fn long_stage_names_keep_the_columns_aligned() {
        let t = Timings::new();
        t.add("surrogates + information + tails", (0.5, 0.25), 1e9);
        t.add("affine", (0.125, 0.125), 2e9);
        let table = t.table();
        let rows: Vec<&str> = table.lines().take(5).collect();
        assert!(rows[3].starts_with("total (recorded)"), "{table}");
        assert!(rows[4].starts_with("recorded span"), "{table}");
        let ends: Vec<usize> = rows.iter().map(|r| r.chars().count()).collect();
        assert!(ends.iter().all(|&e| e == ends[0]), "{table}");
        let calls_end = |r: &str| r.find(" 1 ").map(|k| k + 2);
        assert_eq!(calls_end(rows[1]), calls_end(rows[2]), "{table}");
    }

    #[test]
    fn observers_see_every_stage_start_recording_or_not() {
        let seen = std::sync::Arc::new(Seen::default());
        let off = Timings::disabled().observed_by(Box::new(seen.clone()));
        off.time("a", 0.0, || ());
        off.time("b", 0.0, || off.time("a", 0.0, || ()));
        off.note("w");
        assert_eq!(*seen.0.lock().unwrap(), ["a", "b", "a", "note w"]);
        // Without an observer a note goes nowhere (no stderr from library code).
        Timings::new().note("dropped");
        assert!(off.stages().is_empty());
    }
}
