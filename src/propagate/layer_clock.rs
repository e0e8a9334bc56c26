//! A propagation that will run long says so while it runs: after each hidden layer, the layers
//! still to come at the time that layer took, noted through the run's [`Timings`] when past
//! [`LONG_RUN_SECONDS`], and again only when a later layer projects [`RENOTE_FACTOR`] times the
//! last figure said: a closure's cost can grow with depth (the tanh XOR network of 20 × 500
//! units: its first layer took 1 s, and the run was still at its layers after two minutes), so
//! the first figure may be low, and the notes stay few (logarithmic in the final figure).

use std::time::Instant;

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

    /// A layer never started notes nothing, whatever its depth.
    #[test]
    fn a_layer_never_started_notes_nothing() {
        let mut clock = LayerClock::default();
        clock.finish(1, usize::MAX, &Timings::disabled());
        assert_eq!(clock.noted, 0.0);
    }
}
