//! `corrflow`: the command-line front end. Every subcommand is a thin layer over the library.
//! Nothing here prints with `print!`/`eprint!`: results go through `cli::output::print_out`
//! (a failed write is an error naming standard output), notes through [`corrflow::io::say`]
//! (a failed write is ignored; `eprintln!` panicked on `2>/dev/full`, exit 101).
#![warn(clippy::print_stdout, clippy::print_stderr)]

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// faer's matrix blocks handed out zeroed: see [`corrflow::io::PaddingZeroing`].
#[global_allocator]
static ALLOCATOR: corrflow::io::PaddingZeroing = corrflow::io::PaddingZeroing;

fn main() -> ExitCode {
    cli::unset_empty_variables();
    if let Some(before) = corrflow::io::limit::pin_thread_stacks() {
        corrflow::io::say(corrflow::io::limit::pinned_stack_warning(&before));
    }
    restore_sigpipe();
    corrflow::io::clean_up_on_interrupt();
    corrflow::io::keep_freed_memory();
    // The work on a stack of its own where `ulimit -s` is too small for it (`io::main_stack`).
    corrflow::io::main_stack::with_full_stack(|| {
        let args = match cli::Cli::try_parse() {
            Ok(args) => args,
            Err(e) => return usage(&e),
        };
        match cli::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                corrflow::io::say(format_args!("error: {err}"));
                ExitCode::from(2)
            }
        }
    })
    .unwrap_or_else(|why| {
        corrflow::io::say(format_args!("error: {why}"));
        ExitCode::from(2)
    })
}

/// clap's usage error (on stderr, exit 2) or its `--help`/`--version` text (on stdout, exit 0);
/// a help text that cannot be printed (stdout on a full disk) is an error naming
/// standard output, exit 2, as a result's is: clap's `exit` ignored the failed write and exited 0.
fn usage(e: &clap::Error) -> ExitCode {
    if e.use_stderr() {
        let _ = e.print();
        return ExitCode::from(2);
    }
    match e.print() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            corrflow::io::say(format_args!("error: standard output: {err}"));
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
