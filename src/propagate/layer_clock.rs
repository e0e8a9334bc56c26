//! A propagation that will run long says so while it runs: after each hidden layer, the layers
//! still to come at the time that layer took, noted through the run's [`Timings`] when past
//! [`LONG_RUN_SECONDS`], and again only when a later layer projects [`RENOTE_FACTOR`] times the
//! last figure said: a closure's cost can grow with depth (the tanh XOR network of 20 × 500
//! units: its first layer took 1 s, and the run was still at its layers after two minutes), so
//! the first figure may be low, and the notes stay few (logarithmic in the final figure).

use std::time::Instant;

use super::closures::Work;
use crate::timing::duration::{human_seconds, LONG_RUN_SECONDS};
use crate::timing::Timings;

/// The clock of one engine's propagations; [`LayerClock::start`] at a hidden layer's affine
/// map, [`LayerClock::finish`] after its closure.
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerClock {
    began: Option<Instant>,
    /// The largest projection this engine has noted (0: none): `analyze` runs one propagation
    /// per start layer on one engine, and says the whole run's projection itself after the
    /// first; the shorter propagations after it do not repeat the note.
    noted: f64,
}

/// How many times the last projection noted a later one must be to be noted too.
const RENOTE_FACTOR: f64 = 4.0;

impl LayerClock {
    /// Starts hidden layer l's map.
    pub(crate) fn start(&mut self) {
        self.began = Some(Instant::now());
    }

    /// Hidden layer `l` of `depth` finished: its note ([`LayerClock::projected`]) said through
    /// `timings`.
    pub(crate) fn finish(&mut self, l: usize, depth: usize, timings: &Timings) {
        let Some(began) = self.began.take() else {
            return;
        };
        if let Some(note) = self.projected(l, depth, began.elapsed().as_secs_f64()) {
            timings.note(&note);
        }
    }

    /// Hidden layer `l`'s closure `name` is about to do `work` (summed over its `classes`;
    /// [`Closure::foreseen_work`](super::closures::Closure::foreseen_work)) on `threads`
    /// threads: noted ([`foreseen_note`]) when past [`LONG_RUN_SECONDS`] and [`RENOTE_FACTOR`]
    /// times the last figure noted, which it then becomes. The clock's other notes come after
    /// a layer; a layer of the quadrature reference can take many minutes alone (a 500-wide
    /// tanh layer, ~4·10¹⁰ evaluations of φ per class), and ran without a word before.
    pub(crate) fn foresee(
        &mut self,
        (l, name, classes): (usize, &str, usize),
        work: Work,
        threads: usize,
        timings: &Timings,
    ) {
        let seconds = work.cpu_seconds / threads.max(1) as f64;
        if seconds <= LONG_RUN_SECONDS || seconds <= RENOTE_FACTOR * self.noted {
            return;
        }
        self.noted = seconds;
        timings.note(&foreseen_note((l, name, classes), work, threads));
    }

    /// The note [`remaining_layers_note`] when hidden layer `l`'s `seconds` times the
    /// `depth − l` hidden layers after it exceed [`LONG_RUN_SECONDS`] and [`RENOTE_FACTOR`]
    /// times the last projection noted (which it then becomes).
    fn projected(&mut self, l: usize, depth: usize, seconds: f64) -> Option<String> {
        let rest = seconds * depth.saturating_sub(l) as f64;
        if rest <= RENOTE_FACTOR * self.noted {
            return None;
        }
        let note = remaining_layers_note(l, depth, seconds)?;
        self.noted = rest;
        Some(note)
    }
}

/// The note after hidden layer `l` of `depth` took `seconds` when the `depth − l` after it
/// would take longer than [`LONG_RUN_SECONDS`] at that time each. A closure's cost depends on
/// its input's correlations, which no estimate before the run sees (`analyze`'s counts a
/// closure at 2 µs a unit): a tanh network of 3 × 500 units trained one epoch on XOR, most of
/// its unit pairs strongly correlated, propagated its four layer maps in 52 s on a loaded Zen 3
/// (two threads, fifty-second session), and `analyze` of a 20-layer one ran over 41 min of CPU
/// against an estimate of ~11 s, without a word (clo51). None below the threshold or at the
/// last layer.
pub(crate) fn remaining_layers_note(l: usize, depth: usize, seconds: f64) -> Option<String> {
    let after = depth.saturating_sub(l);
    let rest = seconds * after as f64;
    (rest > LONG_RUN_SECONDS).then(|| {
        format!(
            "note: hidden layer {l}'s map took {}; the {after} hidden layer(s) after it may take \
             ~{} more at that rate (a closure's cost depends on its input's correlations, which \
             the estimate before the work cannot see: strongly correlated wide units of tanh or \
             sigmoid cost the most)",
            human_seconds(seconds),
            human_seconds(rest)
        )
    })
}

/// The note before hidden layer `l`'s closure `name` does `work` for `classes` classes on
/// `threads` threads.
fn foreseen_note((l, name, classes): (usize, &str, usize), work: Work, threads: usize) -> String {
    let (least, more) = if work.at_least {
        ("at least ", "; its κ₃/κ₄ corrections' terms come on top")
    } else {
        ("", "")
    };
    format!(
        "note: hidden layer {l}'s closure, {name}, will evaluate φ {least}~{:.1e} times for its \
         {classes} class(es), {least}~{} on {threads} thread(s) (counted before the work{more}; \
         --closure auto takes the closed forms and series, checked against this reference in \
         the tests)",
        work.evaluations,
        human_seconds(work.cpu_seconds / threads.max(1) as f64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Layer 1 of 20 at 3 s: the 19 after it ~57 s; layer 19 of 20 at 3 s (3 s left) and the
    /// last layer are below the threshold.
    #[test]
    fn the_layers_after_are_projected_from_the_one_that_finished() {
        let note = remaining_layers_note(1, 20, 3.0).expect("57 s is past the threshold");
        assert!(note.contains("hidden layer 1's map took 3 s"), "{note}");
        assert!(
            note.contains("the 19 hidden layer(s) after it may take ~57 s more"),
            "{note}"
        );
        assert_eq!(remaining_layers_note(19, 20, 3.0), None);
        assert_eq!(remaining_layers_note(20, 20, 1e6), None);
    }

    /// The clock notes a projection once, and again only past 4× the last: 20 layers, layer 1
    /// at 1 s (19 s left: noted), layer 2 at 2 s (36 s: within 4× of 19), layer 3 at 5 s (85 s:
    /// noted), layer 4 at 5 s (80 s: within 4× of 85), layer 19 at 1 000 s (1 000 s, 11.8× 85:
    /// noted).
    #[test]
    fn an_engine_notes_again_only_when_the_projection_grows() {
        let mut clock = LayerClock::default();
        let said: Vec<bool> = [(1, 1.0), (2, 2.0), (3, 5.0), (4, 5.0), (19, 1000.0)]
            .into_iter()
            .map(|(l, s)| clock.projected(l, 20, s).is_some())
            .collect();
        assert_eq!(said, [true, false, true, false, true]);
    }

    /// Work foreseen before a layer is noted past the threshold at its wall time on the
    /// threads (2 000 CPU s on 2 threads: ~17 min), not below it (16 CPU s on 2 threads:
    /// 8 s, under the 10 s threshold), and not again within 4× of the last figure noted.
    #[test]
    fn foreseen_work_is_noted_before_the_layer() {
        let work = |cpu_seconds: f64| Work {
            evaluations: cpu_seconds / 19e-9,
            cpu_seconds,
            at_least: false,
        };
        let note = foreseen_note((3, "tanh (2-D quadrature, reference)", 2), work(2000.0), 2);
        assert!(
            note.contains(
                "hidden layer 3's closure, tanh (2-D quadrature, reference), will \
                 evaluate φ ~1.1e11 times for its 2 class(es), ~16.7 min on 2 thread(s) \
                 (counted before the work; --closure"
            ),
            "{note}"
        );
        // With corrections the count is of the Gaussian pairs only: a lower bound, said so.
        let note = foreseen_note((3, "q", 2), work(2000.0).with_more(true), 2);
        assert!(
            note.contains(
                "will evaluate φ at least ~1.1e11 times for its 2 class(es), at least ~16.7 min \
                 on 2 thread(s) (counted before the work; its κ₃/κ₄ corrections' terms come on \
                 top;"
            ),
            "{note}"
        );
        let mut clock = LayerClock::default();
        let said: Vec<bool> = [16.0, 2000.0, 3000.0, 9000.0]
            .into_iter()
            .map(|cpu| {
                let before = clock.noted;
                clock.foresee((1, "q", 1), work(cpu), 2, &Timings::disabled());
                clock.noted != before
            })
            .collect();
        assert_eq!(said, [false, true, false, true]);
    }

    /// A layer never started notes nothing, whatever its depth.
    #[test]
    fn a_layer_never_started_notes_nothing() {
        let mut clock = LayerClock::default();
        clock.finish(1, usize::MAX, &Timings::disabled());
        assert_eq!(clock.noted, 0.0);
    }
}
