//! `corrflow`: the command-line front end. Every subcommand is a thin layer over the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_sigpipe();
    keep_freed_memory();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(2)
        }
    }
}

/// Dies quietly on a closed pipe (`corrflow … | head`) like other Unix tools, instead of
/// panicking on the failed write: Rust ignores SIGPIPE by default.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called first thing in main, before any other thread exists; SIG_DFL is a valid
    // disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// Lets glibc reuse freed d × d matrices instead of returning them to the kernel. By default a
/// block over 128 KiB (the threshold grows only to the largest block freed) is its own mmap, and
/// a free heap top over 128 KiB is trimmed: every N × N factor, solve or covariance a stage
/// allocates and drops (the comparison makes ~3 per (stage, class)) comes back as fresh pages,
/// each page faulted in and zeroed by the kernel. With blocks up to 32 MiB (glibc's maximum) on
/// the heap and no trimming, freed blocks are reused: `propagate` of a 784-1000-1000-10 network
/// on MNIST took 5.3 instead of 6.0 CPU-seconds (273 000 instead of 491 000 page faults).
/// One arena for every thread: a block freed by one thread is reused by the next that needs
/// one, where per-thread arenas would each keep their own freed blocks (the comparison's
/// per-thread factors grew the peak RSS of an f32 `propagate` by ~100 MB). The hot loops reuse
/// their buffers, so threads rarely contend for the allocator.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: called in main before any other thread exists; mallopt only sets allocator
    // parameters, and values it rejects leave the defaults in place.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
