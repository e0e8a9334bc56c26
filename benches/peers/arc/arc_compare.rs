//! corrflow's side of the comparison with ARC's cumulant propagation (benches/peers/arc/, issue
//! #16 item 7): propagates the exact input moments x ~ N(0, I) (μ = 0, Σ = I, κ₃ = κ₄ = 0)
//! through each given network with the library's engine (closures chosen by
//! `ClosureMethod::Auto`: the Φ₂ closed form for relu, the Hermite series for gelu/tanh) and
//! writes the predicted output mean and covariance with the run's wall time.
//!
//! Orders: 2 is the Gaussian closure ([`Propagator::run`]); 3 and 4 carry κ₃ and the paired
//! κ₄ (order 3) or κ₃ and κ₄ (order 4) through every layer from the input's zero tensors
//! (held without storage, [`Carry::from_gaussian`]; [`Propagator::run_carried`], issue #16 items 2 and 7), dropping them at the layers where
//! the expansion breaks down ([`Carry::fallbacks`]; where its series diverges, the whole run is
//! the Gaussian one, [`Carry::abandons_run`]). Only y's mean and covariance are written,
//! so the carry computes only what they need ([`Carry::moments_only`]: the last hidden layer's
//! κ slices mapped directly, no output tensors).
//!
//! Usage: `arc_compare [--order 2|3|4] [--breakdown SKEW,KURTOSIS] [--kappa3 dense|stars|factored]
//! MODEL.safetensors…` (`--kappa3`, order 3: `factored` holds κ₃ factored between the layers,
//! [`Carry::factored`], writing `corrflow_o3_factored.safetensors`; `stars` is the dense carry
//! with that path's rule, [`Carry::factorable_rule`], its reference, `corrflow_o3_stars…`;
//! `compressed:TOL` is `factored` with each hidden h's smallest κ₃ terms dropped within the
//! relative tolerance TOL, [`Carry::compressed`], writing
//! `corrflow_o3_compressed{TOL}.safetensors`, TOL as Rust's `{:e}` writes it, e.g. `1e-2`;
//! `blocks:TOL` is `factored` with each z's κ₄\[a,a,b,c\] blocks' smallest terms dropped within
//! the relative tolerance TOL, [`Carry::truncated_blocks`], writing
//! `corrflow_o3_blocks{TOL}.safetensors`).
//! (`--kappa4 dense|factored`, order 4: `factored` is the factored order 4, the factored κ₃
//! carry with order 4's budget and the star of κ₄ over four distinct units imaged in the next
//! h, [`Carry::quartic`], writing `corrflow_o4_factored.safetensors`; `factored-mixed` that
//! with the mixed positions of z's κ₄\[a,a,b,c\] blocks in h's P, [`Carry::with_mixed_paired`],
//! writing `corrflow_o4_factored_mixed.safetensors`; default dense, the full
//! N⁴ κ₄; `one-map-star|one-map-covariance|one-map-budget|one-map` is the dense order 4 as a
//! diagnostic of the factored one, [`Carry::with_distinct4`]: z's κ₄ over four distinct units
//! from the star, the covariance-only diagrams of cost ≤ 3, every diagram of cost ≤ 3, or the
//! rule's, h's over four distinct units not carried beyond one map, writing
//! `corrflow_o4_one_map_star…`, `…_covariance`, `…_budget`, `corrflow_o4_one_map…`.)
//! (`--generations G`, the factored orders 3/4: z's κ₄\[a,a,b,c\] blocks kept through G maps
//! after their birth instead of 1, [`Carry::with_generations`]; the output's name gains
//! `_gen{G}`, e.g. `corrflow_o4_factored_gen2.safetensors`.)
//! (`--kappa3-term imaged|blocks`, the factored orders 3/4: the κ₃ term of z's κ₄\[a,a,b,c\]
//! imaged once (default) or carried as blocks, [`Carry::with_kappa3_blocks`]; with `blocks`
//! the output's name gains `_k3blocks`.)
//! (`--dropped-blocks mapped|paired`, the factored orders 3/4: the κ₄\[a,a,b,c\] blocks the
//! carry drops after a map give h their image in its paired κ₄ and their part of its
//! κ₄\[i,i,i,j\] (default `mapped`), or the image alone, their A factors not mapped
//! (`paired`, [`Carry::with_dropped_blocks_paired_only`]; the output's name gains `_dpaired`).)
//! (`--breakdown`: limits on h's standardised skewness and excess kurtosis beyond which a layer
//! falls back, [`Carry::with_breakdown`]; default none, as the carry's). (`--pilot S`, orders
//! 3/4: the Monte Carlo pilot check with S draws, seed 0x5eed, that abandons a carried run
//! significantly worse than the Gaussian closure against the draws, [`Carry::with_pilot`];
//! default 4096 at order 4 and at order 3 beyond 8 hidden layers, none on shallower order-3
//! runs, 0 for none; its time is part of the run's. `--pilot-statistics LIST`: the statistics
//! whose z decides it, from mean, covariance, kl, default all three,
//! [`JudgedBy`].) For `DIR/model.safetensors` it
//! writes `DIR/corrflow_o{ORDER}.safetensors`: F64 tensors `mean` (n) and `cov` (n × n),
//! metadata `seconds` (best of the timed runs), `cpu_seconds` (the least process CPU time of a
//! timed run, every thread: a figure less sensitive than the wall time to other processes on a
//! loaded machine), `runs`, `threads`, `order`, and at orders 3/4 `pilot` (`none`, or the
//! draws, the estimated differences of the squared errors carried − Gaussian of the mean and
//! covariance and of the KL with their z, the statistics judged, and `kept`/`abandoned`,
//! [`Carry::pilot_verdict`]),
//! `fallback` (`none`, or `layers L1,L2,…: reason`: the hidden layers whose closure dropped the
//! carried cumulants, [`Carry::fallbacks`]), `gaussian_unit_layers` (units that kept the
//! Gaussian moments, summed over layers) and `checks` (per layer `l:skew/kurtosis/growth/shift/
//! relative`: the largest standardised skewness/kurtosis of h, z's variance increment over its
//! Gaussian variance, its mean shift in Gaussian standard deviations and ‖ΔC‖_F/‖C‖_F,
//! [`Carry::checks`]). Timing: one untimed warm-up, then up to 5 runs,
//! stopping after the first run that ends 1 s after the first began (each run from a fresh
//! carry); a warm-up longer than 5 s is itself the one timed run. Run with RAYON_NUM_THREADS=1
//! for the one-thread figures.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use corrflow::net::{model_io, Mlp};
use corrflow::propagate::closures::{ClosureMethod, Corrections};
use corrflow::propagate::higher::distinct4::Distinct4;
use corrflow::propagate::higher::pilot::{JudgedBy, Pilot};
use corrflow::propagate::higher::Carry;
use corrflow::propagate::{PropagateOptions, Propagator};
use corrflow::stats::Moments;
use corrflow::timing::Timings;
use faer::{Col, Mat};
use safetensors::tensor::{Dtype, TensorView};

/// Timed runs stop after this many…
const MAX_RUNS: usize = 5;
/// …or once this many seconds have passed since the first timed run began.
const TIME_BUDGET_S: f64 = 1.0;
/// A warm-up longer than this is the one timed run (caches are a negligible share of it).
const LONG_RUN_S: f64 = 5.0;

/// The Gaussian closure's settings (order 2).
const GAUSSIAN: PropagateOptions = PropagateOptions {
    method: ClosureMethod::Auto,
    corrections: Corrections::None,
};

/// The seed of the pilot's draws (`--pilot`).
const PILOT_SEED: u64 = 0x5eed;
/// Draws of the pilot per class at order 4, and at order 3 on networks deeper than
/// [`PILOT_DEPTH_ORDER3`], unless `--pilot` says otherwise (none on shallower order-3 runs:
/// there its 4096 draws cost 4–8× the factored run at n = 64, L = 2, EXPERIMENTS.md "Never
/// worse than the Gaussian, eighth session").
const DEFAULT_PILOT: usize = 4096;
/// Order 3 runs the pilot by default on networks with more hidden layers than this: the
/// factored order 3 of gelu n = 128, L = 16 keeps a run whose output mean is worse than the
/// Gaussian closure's (EXPERIMENTS.md "Against ARC's peer, tenth session"), and at that depth
/// the draws cost a small share of the run.
const PILOT_DEPTH_ORDER3: usize = 8;

/// How order 3 holds κ₃ (`--kappa3`).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Form {
    /// Dense tensors, the default rule.
    Dense,
    /// Dense tensors, the factored carry's rule ([`Carry::factorable_rule`]): its reference.
    Stars,
    /// Factored κ₃ ([`Carry::factored`]).
    Factored,
    /// Order 4: the factored order 4 with the mixed positions of z's κ₄\[a,a,b,c\] blocks in
    /// h's P ([`Carry::with_mixed_paired`]).
    FactoredMixed,
    /// Factored κ₃ with its smallest terms dropped after each map within a relative
    /// tolerance ([`Carry::compressed`]).
    Compressed(f64),
    /// Factored κ₃ with each z's κ₄\[a,a,b,c\] blocks' smallest terms dropped within a
    /// relative tolerance ([`Carry::truncated_blocks`]).
    Blocks(f64),
    /// Order 4's dense tensors, some diagrams of κ₄ over four distinct units, carried one map
    /// ([`Carry::with_distinct4`]).
    OneMap(Distinct4),
}

impl Form {
    /// The output file's suffix.
    fn suffix(self) -> String {
        match self {
            Form::Dense => String::new(),
            Form::Stars => "_stars".into(),
            Form::Factored => "_factored".into(),
            Form::FactoredMixed => "_factored_mixed".into(),
            Form::Compressed(tol) => format!("_compressed{tol:e}"),
            Form::Blocks(tol) => format!("_blocks{tol:e}"),
            Form::OneMap(Distinct4::Star) => "_one_map_star".into(),
            Form::OneMap(Distinct4::Covariance) => "_one_map_covariance".into(),
            Form::OneMap(Distinct4::Budget) => "_one_map_budget".into(),
            Form::OneMap(Distinct4::Rule) => "_one_map".into(),
        }
    }
}

/// One propagation of N(0, I) through `net` at `order` (the factored carry's blocks kept
/// through `generations` maps where given, their κ₃ term as blocks with `k3_blocks`, the
/// dropped blocks imaged in the paired κ₄ alone with `dropped`): the
/// output moments, and at orders 3/4 the carry
/// (for its fallback report).
fn propagate(
    engine: &mut Propagator,
    net: &Mlp,
    (order, form, generations, k3_blocks, dropped): (usize, Form, Option<usize>, bool, bool),
    (max_skew, max_kurtosis): (f64, f64),
    (pilot, judged): (usize, JudgedBy),
    model: &Path,
) -> Result<(Moments, Option<Carry>), String> {
    let n = net.input_dim();
    let start = [Moments::gaussian(Col::zeros(n), Mat::identity(n, n))];
    let timings = Timings::disabled();
    let err = |e: corrflow::error::Error| format!("{}: {e}", model.display());
    let (stages, carry) = match order {
        2 => (
            engine
                .run(net, 0, &start, None, GAUSSIAN, &timings)
                .map_err(err)?,
            None,
        ),
        3 | 4 => {
            // The factored order 4 is the factored order-3 carry made quartic.
            let quartic = order == 4 && matches!(form, Form::Factored | Form::FactoredMixed);
            let carry = Carry::from_gaussian(if quartic { 3 } else { order }, n, 1)
                .map_err(err)?
                .with_breakdown(max_skew, max_kurtosis)
                .moments_only();
            let mut carry = match form {
                Form::Dense => carry,
                Form::Stars => carry.factorable_rule().map_err(err)?,
                Form::Factored | Form::FactoredMixed => carry.factored().map_err(err)?,
                Form::Compressed(tol) => carry
                    .factored()
                    .and_then(|c| c.compressed(tol))
                    .map_err(err)?,
                Form::Blocks(tol) => carry
                    .factored()
                    .and_then(|c| c.truncated_blocks(tol))
                    .map_err(err)?,
                Form::OneMap(kind) => carry.with_distinct4(kind).map_err(err)?,
            };
            if let Some(g) = generations {
                carry = carry.with_generations(g).map_err(err)?;
            }
            if k3_blocks {
                carry = carry.with_kappa3_blocks().map_err(err)?;
            }
            if dropped {
                carry = carry.with_dropped_blocks_paired_only().map_err(err)?;
            }
            if quartic {
                carry = carry.quartic().map_err(err)?;
            }
            if form == Form::FactoredMixed {
                carry = carry.with_mixed_paired().map_err(err)?;
            }
            if pilot > 0 {
                let pilot = Pilot {
                    samples: pilot,
                    seed: PILOT_SEED,
                    judged,
                };
                carry = carry.with_pilot(pilot).map_err(err)?;
            }
            let stages = engine
                .run_carried(net, 0, &start, &mut carry, ClosureMethod::Auto, &timings)
                .map_err(err)?;
            (stages, Some(carry))
        }
        _ => return Err(format!("--order {order}: expected 2, 3 or 4")),
    };
    let y = stages
        .last()
        .ok_or("the engine returned no output stage")?
        .f64_moments()
        .map_err(err)?[0]
        .clone();
    Ok((y, carry))
}

/// The carry's fallback report as metadata: the layers where the expansion was abandoned (the
/// first reason), how many unit-layers kept the Gaussian closure's moments, and per layer the
/// breakdown statistics of [`Carry::checks`] (`l:skew/kurtosis/growth/shift/relative;…`).
fn carry_meta(carry: &Carry) -> [(String, String); 4] {
    let fallback = carry.fallback().map_or("none".to_string(), |f| {
        let layers: Vec<String> = carry
            .fallbacks()
            .iter()
            .map(|f| f.layer.to_string())
            .collect();
        format!("layers {}: {}", layers.join(","), f.reason)
    });
    let units: usize = carry.gaussian_units().iter().map(|g| g.units).sum();
    let checks: Vec<String> = carry
        .checks()
        .iter()
        .map(|c| {
            format!(
                "{}:{:.3}/{:.3}/{:.3}/{:.3}/{:.3}",
                c.layer, c.skew, c.kurtosis, c.growth, c.shift, c.relative
            )
        })
        .collect();
    let pilot = carry.pilot_verdict().map_or("none".to_string(), |v| {
        format!(
            "{} draws: mean diff {:.3e} z {:.2}, covariance diff {:.3e} z {:.2}, KL diff {:.3e} \
             z {:.2}, judged by {}: {}",
            v.samples,
            v.mean_diff,
            v.mean_z,
            v.cov_diff,
            v.cov_z,
            v.kl_diff,
            v.kl_z,
            v.judged_by.flag_value(),
            if v.worse { "abandoned" } else { "kept" }
        )
    });
    [
        ("pilot".to_string(), pilot),
        ("fallback".to_string(), fallback),
        ("gaussian_unit_layers".to_string(), units.to_string()),
        ("checks".to_string(), checks.join(";")),
    ]
}

/// Propagates N(0, I) through the network in `model` at `order` and writes its output file;
/// returns the output path, the best time in seconds and the fallback report.
fn run_one(
    model: &Path,
    (order, form, generations, k3_blocks, dropped): (usize, Form, Option<usize>, bool, bool),
    limits: (f64, f64),
    (pilot, judged): (Option<usize>, JudgedBy),
) -> Result<(PathBuf, f64, String), String> {
    let net = model_io::load(model).map_err(|e| e.to_string())?;
    let deep = order == 3 && net.depth() > PILOT_DEPTH_ORDER3;
    let pilot = (
        pilot.unwrap_or(if order == 4 || deep { DEFAULT_PILOT } else { 0 }),
        judged,
    );
    let mut engine = Propagator::new();
    let warm = Instant::now();
    let variant = (order, form, generations, k3_blocks, dropped);
    let warm_up = propagate(&mut engine, &net, variant, limits, pilot, model)?;
    let warm_s = warm.elapsed().as_secs_f64();
    let (mut best, mut runs, mut last) = if warm_s > LONG_RUN_S {
        (warm_s, 1, Some(warm_up))
    } else {
        (f64::INFINITY, 0, None)
    };
    let mut best_cpu = f64::INFINITY;
    let first = Instant::now();
    while runs < MAX_RUNS && (runs == 0 || first.elapsed().as_secs_f64() < TIME_BUDGET_S) {
        let (t, cpu) = (Instant::now(), process_cpu_seconds()?);
        let got = propagate(&mut engine, &net, variant, limits, pilot, model)?;
        best = best.min(t.elapsed().as_secs_f64());
        best_cpu = best_cpu.min(process_cpu_seconds()? - cpu);
        runs += 1;
        last = Some(got);
    }
    let (y, carry) = last.ok_or("no timed run")?;
    let dir = model.parent().unwrap_or(Path::new("."));
    let generation = generations.map_or(String::new(), |g| format!("_gen{g}"));
    let k3 = if k3_blocks { "_k3blocks" } else { "" };
    let dpaired = if dropped { "_dpaired" } else { "" };
    let out = dir.join(format!(
        "corrflow_o{order}{}{generation}{k3}{dpaired}.safetensors",
        form.suffix()
    ));
    let mut meta = HashMap::from([
        ("seconds".to_string(), format!("{best:e}")),
        ("cpu_seconds".to_string(), format!("{best_cpu:e}")),
        ("runs".to_string(), runs.to_string()),
        (
            "threads".to_string(),
            rayon::current_num_threads().to_string(),
        ),
        ("order".to_string(), order.to_string()),
    ]);
    let report = carry.as_ref().map(carry_meta);
    let note = report.as_ref().map_or(String::new(), |r| {
        format!(
            "pilot {}, fallback {}, {} Gaussian unit-layers, checks {}",
            r[0].1, r[1].1, r[2].1, r[3].1
        )
    });
    meta.extend(report.into_iter().flatten());
    write_moments(&out, &y.mean, &y.cov, meta)?;
    Ok((out, best, note))
}

/// [`corrflow::timing::cpu::process_cpu_seconds`] with its error as text.
fn process_cpu_seconds() -> Result<f64, String> {
    corrflow::timing::cpu::process_cpu_seconds()
        .map_err(|e| format!("clock_gettime(CLOCK_PROCESS_CPUTIME_ID): {e}"))
}

/// Writes `mean` and `cov` (row-major) as F64 safetensors with `meta`.
fn write_moments(
    path: &Path,
    mean: &Col<f64>,
    cov: &Mat<f64>,
    meta: HashMap<String, String>,
) -> Result<(), String> {
    let n = mean.nrows();
    let mean_bytes: Vec<u8> = mean.iter().flat_map(|v| v.to_le_bytes()).collect();
    let cov_bytes: Vec<u8> = (0..n)
        .flat_map(|i| (0..n).map(move |j| cov[(i, j)]))
        .flat_map(f64::to_le_bytes)
        .collect();
    let views = [
        ("mean", vec![n], &mean_bytes),
        ("cov", vec![n, n], &cov_bytes),
    ]
    .into_iter()
    .map(|(name, shape, bytes)| {
        TensorView::new(Dtype::F64, shape, bytes)
            .map(|v| (name.to_string(), v))
            .map_err(|e| format!("{}: tensor {name}: {e}", path.display()))
    })
    .collect::<Result<Vec<_>, _>>()?;
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The command line.
const USAGE: &str =
    "usage: arc_compare [--order 2|3|4] [--breakdown SKEW,KURTOSIS] [--kappa3 dense|stars|factored|compressed:TOL|blocks:TOL] [--kappa4 dense|factored|factored-mixed|one-map-star|one-map-covariance|one-map-budget|one-map] [--generations G] [--kappa3-term imaged|blocks] [--dropped-blocks mapped|paired] [--pilot S] [--pilot-statistics mean,covariance,kl] MODEL.safetensors...";

/// The allocator of the `corrflow` binary ([`corrflow::io::PaddingZeroing`]).
#[global_allocator]
static ALLOCATOR: corrflow::io::PaddingZeroing = corrflow::io::PaddingZeroing;

fn main() -> Result<(), String> {
    // The allocator setting of the `corrflow` binary, so that the engine is timed as it runs there.
    corrflow::io::keep_freed_memory();
    let mut args = std::env::args().skip(1).peekable();
    let mut order = 2;
    let mut limits = (f64::INFINITY, f64::INFINITY);
    let mut form = Form::Dense;
    let mut pilot = None;
    let mut judged = None;
    let mut generations = None;
    let mut k3_blocks = false;
    let mut dropped = false;
    // The flag that chose the form (`--kappa3` or `--kappa4`) and the order it belongs to.
    let mut form_flag: Option<(&str, usize)> = None;
    while let Some(flag) = args.next_if(|a| a.starts_with("--")) {
        let value = args.next().unwrap_or_default();
        match flag.as_str() {
            "--order" => {
                order = value
                    .parse()
                    .map_err(|_| format!("--order {value:?}: expected 2, 3 or 4"))?
            }
            "--breakdown" => {
                let bad = || format!("--breakdown {value:?}: expected SKEW,KURTOSIS (two numbers)");
                let (s, k) = value.split_once(',').ok_or_else(bad)?;
                limits = (s.parse().map_err(|_| bad())?, k.parse().map_err(|_| bad())?);
            }
            "--pilot" => {
                pilot = Some(value.parse().map_err(|_| {
                    format!("--pilot {value:?}: expected a number of draws (0: no pilot)")
                })?)
            }
            "--pilot-statistics" => {
                judged = Some(
                    JudgedBy::parse(&value)
                        .map_err(|e| format!("--pilot-statistics {value:?}: {e}"))?,
                )
            }
            "--generations" => {
                generations = Some(value.parse().map_err(|_| {
                    format!("--generations {value:?}: expected a number of maps (0, 1, 2, …)")
                })?)
            }
            "--kappa3-term" => {
                k3_blocks = match value.as_str() {
                    "imaged" => false,
                    "blocks" => true,
                    _ => {
                        return Err(format!(
                            "--kappa3-term {value:?}: expected imaged or blocks"
                        ))
                    }
                }
            }
            "--dropped-blocks" => {
                dropped = match value.as_str() {
                    "mapped" => false,
                    "paired" => true,
                    _ => {
                        return Err(format!(
                            "--dropped-blocks {value:?}: expected mapped or paired"
                        ))
                    }
                }
            }
            "--kappa3" | "--kappa4" if form_flag.is_some() => {
                return Err(format!("give one of --kappa3 and --kappa4; {USAGE}"))
            }
            "--kappa3" => {
                form_flag = Some(("--kappa3", 3));
                form = match value.as_str() {
                    "dense" => Form::Dense,
                    "stars" => Form::Stars,
                    "factored" => Form::Factored,
                    other => match (
                        other.strip_prefix("compressed:").map(str::parse::<f64>),
                        other.strip_prefix("blocks:").map(str::parse::<f64>),
                    ) {
                        (Some(Ok(tol)), _) => Form::Compressed(tol),
                        (_, Some(Ok(tol))) => Form::Blocks(tol),
                        _ => {
                            return Err(format!(
                                "--kappa3 {value:?}: expected dense, stars, factored, \
                                 compressed:TOL or blocks:TOL (a relative tolerance ≥ 0)"
                            ))
                        }
                    },
                }
            }
            "--kappa4" => {
                form_flag = Some(("--kappa4", 4));
                form = match value.as_str() {
                    "dense" => Form::Dense,
                    "factored" => Form::Factored,
                    "factored-mixed" => Form::FactoredMixed,
                    "one-map-star" => Form::OneMap(Distinct4::Star),
                    "one-map-covariance" => Form::OneMap(Distinct4::Covariance),
                    "one-map-budget" => Form::OneMap(Distinct4::Budget),
                    "one-map" => Form::OneMap(Distinct4::Rule),
                    _ => {
                        return Err(format!(
                            "--kappa4 {value:?}: expected dense, factored, factored-mixed, one-map-star, \
                             one-map-covariance, one-map-budget or one-map"
                        ))
                    }
                }
            }
            _ => return Err(format!("unknown flag {flag}; {USAGE}")),
        }
    }
    if let Some((flag, its_order)) = form_flag.filter(|&(_, o)| o != order) {
        return Err(format!(
            "{flag} is order {its_order}'s (given --order {order})"
        ));
    }
    if (generations.is_some() || k3_blocks || dropped)
        && !matches!(
            form,
            Form::Factored | Form::FactoredMixed | Form::Compressed(_) | Form::Blocks(_)
        )
    {
        return Err(format!(
            "--generations, --kappa3-term and --dropped-blocks are the factored carry's (give --kappa3 or --kappa4 factored…); {USAGE}"
        ));
    }
    if judged.is_some() && (order == 2 || pilot == Some(0)) {
        return Err(format!(
            "--pilot-statistics judges the pilot of orders 3/4 (given --order {order}{})",
            if pilot == Some(0) { ", --pilot 0" } else { "" }
        ));
    }
    let models: Vec<PathBuf> = args.map(PathBuf::from).collect();
    if models.is_empty() {
        return Err(USAGE.into());
    }
    for model in &models {
        let (out, best, note) = run_one(
            model,
            (order, form, generations, k3_blocks, dropped),
            limits,
            (pilot, judged.unwrap_or_default()),
        )?;
        println!("{}  {:.3} ms  {note}", out.display(), best * 1e3);
    }
    Ok(())
}
