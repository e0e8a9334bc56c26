//! The factored order 3's propagation in a loop, for a profiler (issue #16 item 7; BENCHMARKS.md,
//! "Factored order 3's speed, tenth session"): N(0, I) through the network of an ARC peer model
//! (the carry of `arc_compare --order 3 --kappa3 factored`), RUNS times after one
//! untimed run (which builds the rule's diagram tables), printing the best and mean time, then
//! one more run's stage table (the carry's "kappa affine" and "kappa closure" beside the rest).
//!
//! ```text
//! cargo build --release --example fac3_loop
//! RAYON_NUM_THREADS=1 perf record -g target/release/examples/fac3_loop MODEL.safetensors [RUNS]
//! ```

use std::time::Instant;

use corrflow::net::model_io;
use corrflow::propagate::closures::ClosureMethod;
use corrflow::propagate::higher::Carry;
use corrflow::propagate::Propagator;
use corrflow::stats::Moments;
use corrflow::timing::Timings;
use faer::{Col, Mat};

const USAGE: &str = "usage: fac3_loop MODEL.safetensors [RUNS]";

/// The allocator of the `corrflow` binary ([`corrflow::io::PaddingZeroing`]).
#[global_allocator]
static ALLOCATOR: corrflow::io::PaddingZeroing = corrflow::io::PaddingZeroing;

fn main() -> Result<(), String> {
    // The allocator setting of `arc_compare` and the CLI: without it a profile of this loop
    // counts page faults the timed runs do not take (EXPERIMENTS.md, twenty-eighth session).
    corrflow::io::keep_freed_memory();
    let mut args = std::env::args().skip(1);
    let model = args.next().ok_or(USAGE)?;
    let runs: usize = match args.next() {
        Some(r) => r
            .parse()
            .map_err(|_| format!("RUNS {r:?}: expected a count\n{USAGE}"))?,
        None => 50,
    };
    let net = model_io::load(model.as_ref()).map_err(|e| format!("{model}: {e}"))?;
    let n = net.input_dim();
    let start = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
    let mut engine = Propagator::new();
    let mut once = |timings: &Timings| -> Result<f64, String> {
        let t = Instant::now();
        let mut carry = Carry::from_gaussian(3, n, 1)
            .and_then(|c| c.moments_only().factored())
            .map_err(|e| format!("{model}: {e}"))?;
        engine
            .run_carried(&net, 0, &start, &mut carry, ClosureMethod::Auto, timings)
            .map_err(|e| format!("{model}: {e}"))?;
        Ok(t.elapsed().as_secs_f64())
    };
    let quiet = Timings::disabled();
    once(&quiet)?;
    let times = (0..runs)
        .map(|_| once(&quiet))
        .collect::<Result<Vec<f64>, String>>()?;
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = times.iter().sum::<f64>() / runs.max(1) as f64;
    println!(
        "{model}: {runs} runs, best {:.3} ms, mean {:.3} ms",
        best * 1e3,
        mean * 1e3
    );
    let stages = Timings::new();
    once(&stages)?;
    print!("{}", stages.table());
    Ok(())
}
