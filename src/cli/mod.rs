//! Command-line interface: clap definitions, each converted into the library's run
//! configuration, and the dispatch to the library. Configuration errors leave here naming the
//! flag ([`flags::flag`]).

mod analyze;
mod data_args;
mod flags;
mod net_args;
mod order_args;
mod output;
mod propagate;
mod sweep;
mod sweep_submit;
mod train;

use clap::{Parser, Subcommand};

use corrflow::config::estimate::sizes::parse_size;
use corrflow::config::{Field, MAX_THREADS};
use corrflow::io::limit::{check_thread_room, threads_failed};
use corrflow::io::thread_count::{available_cores, AskedThreads};
use corrflow::io::{say, set_process_limit, MemoryLimit};
use corrflow::linalg::on_pool;
use corrflow::Result;

/// Decompose a trained feed-forward network as a mapping of correlation functions (cumulants),
/// layer by layer (Fischer et al., Phys. Rev. Research 4, 043143, 2022).
#[derive(Debug, Parser)]
#[command(name = "corrflow", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Worker threads for GEMMs and kernels (0 = one per core).
    #[arg(long, global = true, default_value_t = 0, value_name = "N")]
    threads: usize,
    /// Memory a run may use, e.g. 8G; a run whose estimated peak (or a file's claimed size) is
    /// larger stops before it allocates [default: half the physical memory; a sweep:
    /// MemAvailable; under `ulimit -v` at most that limit less what each thread maps: its stack
    /// and faer's GEMM workspace, twice the L3 cache].
    #[arg(long, global = true, value_name = "SIZE")]
    max_memory: Option<String>,
}

/// Most worker threads `--threads` may ask for, per available core (and never more than
/// [`MAX_THREADS`]).
const THREADS_PER_CORE: usize = 4;

#[derive(Debug, Subcommand)]
enum Command {
    /// Train an MLP on a task and write it as a safetensors model file.
    Train(train::TrainArgs),
    /// Propagate one layer's measured statistics to the output and compare with the measured ones.
    Propagate(propagate::PropagateArgs),
    /// Accuracy of the Gaussian description, surrogates by correlation order, class information.
    Analyze(analyze::AnalyzeArgs),
    /// Run a grid of configurations (train → propagate → analyse), resumably; merge shards,
    /// export CSV, summarize.
    Sweep(sweep::SweepArgs),
}

/// The environment variables clap reads as a flag's value when the flag is not given.
const FLAG_VARIABLES: [&str; 1] = ["MNIST_DIR"];

/// Takes each of [`FLAG_VARIABLES`] that is set but empty (`export MNIST_DIR=$UNSET`) as unset.
/// clap passed the empty value to the flag, so every command, `--task xor` too, failed with "a
/// value is required for '--mnist-dir <DIR>'", a flag the user never gave (twenty-first
/// session). Changes the environment: call it first thing in `main`, before any other thread
/// exists.
pub fn unset_empty_variables() {
    for name in FLAG_VARIABLES {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            std::env::remove_var(name);
        }
    }
}

/// Runs the parsed command line; a configuration error names the flag at fault.
pub fn run(cli: Cli) -> Result<()> {
    dispatch(cli).map_err(|e| e.name_field(flags::flag))
}

fn dispatch(cli: Cli) -> Result<()> {
    init_threads(cli.threads)?;
    // An unknown CORRFLOW_ISA, said once before any work (the kernels then use the best).
    if let Err(e) = corrflow::simd::Isa::from_env() {
        say(format_args!("warning: {e}; using the best instruction set"));
    }
    let asked = std::env::var(corrflow::simd::ISA_VAR).ok();
    if let Some(line) = corrflow::simd::Isa::unmet(asked.as_deref()) {
        say(format_args!("warning: {line}"));
    }
    let bytes = cli
        .max_memory
        .as_deref()
        .map(|s| parse_size(s, "--max-memory"))
        .transpose()?;
    // Sizes are whole bytes; `as` saturates a huge f64 at u64::MAX.
    let limit = bytes.map_or_else(MemoryLimit::default, |b| MemoryLimit::new(b as u64));
    if bytes.is_some() {
        set_process_limit(limit);
    }
    // Each command on a pool thread, so that its parallel kernels do not each hand their work
    // over from the main thread (`on_pool`); a sweep runs its points in pools of its own.
    match cli.command {
        Command::Train(args) => on_pool(|| train::run(args, limit)),
        Command::Propagate(args) => on_pool(|| propagate::run(args, limit)),
        Command::Analyze(args) => on_pool(|| analyze::run(args, limit)),
        Command::Sweep(args) => sweep::run(args, cli.threads, bytes),
    }
}

/// Sizes the global rayon pool that faer's `Par::rayon(0)` and the kernels use; refuses more
/// than [`THREADS_PER_CORE`] threads per available core or [`MAX_THREADS`] in all, asked for
/// by `--threads` or, under `--threads 0`, by the environment as rayon reads it
/// ([`AskedThreads`]: `RAYON_NUM_THREADS`, the deprecated `RAYON_RS_NUM_CPUS`); a value there
/// that is no count is said. The pool gets the checked count itself, so that rayon starts no
/// other.
fn init_threads(threads: usize) -> Result<()> {
    let cores = available_cores();
    let most = (THREADS_PER_CORE * cores).min(MAX_THREADS);
    if threads > most {
        return Err(corrflow::Error::config(
            Field::Threads,
            format!(
                "{threads} threads on {cores} available cores; at most {most} (0 = one per core)"
            ),
        ));
    }
    let count = if threads == 0 {
        let asked = AskedThreads::from_env(cores);
        if let Some(line) = asked.ignored_warning() {
            say(line);
        }
        if let Some((name, value)) = asked.from.as_ref().filter(|_| asked.count > most) {
            return Err(corrflow::Error::config(
                Field::Threads,
                format!(
                    "0 defers to {name}={value} in the environment: {value} threads on {cores} \
                     available cores; at most {most} (unset it or lower it)"
                ),
            ));
        }
        asked.count
    } else {
        threads
    };
    // Threads that cannot all start are refused before any starts (`check_thread_room`).
    check_thread_room(threads, count, "--threads")
        .map_err(|e| corrflow::Error::config(Field::Threads, e))?;
    // Every worker says it has started, and the command waits for all: a thread's start maps
    // its alternate signal stack, which aborted the process where the command's own
    // allocations had meanwhile taken the room (`check_thread_room`).
    let started = std::sync::Arc::new((std::sync::Mutex::new(0usize), std::sync::Condvar::new()));
    let seen = started.clone();
    rayon::ThreadPoolBuilder::new()
        .num_threads(count)
        .start_handler(move |_| {
            let (n, changed) = &*seen;
            *n.lock().unwrap_or_else(|p| p.into_inner()) += 1;
            changed.notify_all();
        })
        .build_global()
        .map_err(|e| {
            corrflow::Error::config(Field::Threads, threads_failed(threads, &e, "--threads"))
        })?;
    // Each thread the pool created runs the handler first (or the process has aborted).
    let workers = rayon::current_num_threads();
    let (n, changed) = &*started;
    let mut n = n.lock().unwrap_or_else(|p| p.into_inner());
    while *n < workers {
        n = changed.wait(n).unwrap_or_else(|p| p.into_inner());
    }
    Ok(())
}
