//! The stack of `main`'s work: a thread's (`limit::THREAD_STACK`, 2 MiB), whatever `ulimit -s` says.
//!
//! The main thread's stack is the one the stack limit (`RLIMIT_STACK`, `ulimit -s`) bounds.
//! Under `ulimit -s` 16 to 64 (KiB) every command, `--version` included, overflowed it before
//! its first line ("thread 'main' has overflowed its stack", abort, exit 134; adv52), where
//! corrflow's work needs under 96 KiB of it (measured: train, analyze --report, propagate,
//! sweep, all ran at 96). Below 16 KiB not even `/bin/true` starts (SIGSEGV in the loader):
//! nothing a program can do. A spawned thread's stack is mapped at its start, not bound by the
//! limit; it counts against `ulimit -v` like the pools' threads, within the main thread's
//! reserve (`limit::MAIN_ADDRESS_SPACE`).

use super::limit::THREAD_STACK;

/// Runs `work` on the calling thread when the stack limit allows `THREAD_STACK`, else on a
/// new thread with a stack of that size, and returns its result (a panic in it goes on
/// unwinding in the caller). An error naming `ulimit -s` when that thread cannot start.
pub fn with_full_stack<T: Send>(work: impl FnOnce() -> T + Send) -> Result<T, String> {
    let Some(limit) = stack_limit().filter(|&l| l < THREAD_STACK) else {
        return Ok(work());
    };
    std::thread::scope(|s| {
        let worker = std::thread::Builder::new()
            .name("main".into())
            .stack_size(THREAD_STACK as usize)
            .spawn_scoped(s, work)
            .map_err(|e| {
                format!(
                    "the stack limit (ulimit -s {}) is below the {} KiB corrflow's work may \
                     need, and a thread with a stack of that size could not start ({e}); \
                     expected ulimit -s {} or more",
                    limit >> 10,
                    THREAD_STACK >> 10,
                    THREAD_STACK >> 10
                )
            })?;
        Ok(worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}

/// The soft stack limit (`ulimit -s`) in bytes; `None` without a limit or where it cannot be
/// read.
fn stack_limit() -> Option<u64> {
    // SAFETY: rlimit is a plain C struct of integers; getrlimit writes it.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid resource and a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_STACK, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn work_runs_and_returns_its_value() {
        assert_eq!(with_full_stack(|| 6 * 7), Ok(42));
    }
}
