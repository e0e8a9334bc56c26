//! `corrflow`: the command-line front end. Every subcommand is a thin layer over the library.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// faer's matrix blocks handed out zeroed: see [`corrflow::io::PaddingZeroing`].
#[global_allocator]
static ALLOCATOR: corrflow::io::PaddingZeroing = corrflow::io::PaddingZeroing;

fn main() -> ExitCode {
    cli::unset_empty_variables();
    restore_sigpipe();
    corrflow::io::clean_up_on_interrupt();
    corrflow::io::keep_freed_memory();
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
