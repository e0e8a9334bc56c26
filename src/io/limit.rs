//! The memory limit that readers check a file's claimed size against before they allocate or
//! inflate anything, so that a header claiming terabytes gives a clear error instead of an
//! allocation failure.

use std::path::Path;

/// Fallback limit where the physical memory cannot be read: 4 GiB.
const FALLBACK_BYTES: u64 = 4 << 30;

/// A limit in bytes on what one reader may allocate (or write to a cache) for one input, and
/// whether it is what `ulimit -v` leaves ([`address_space_budget_for`]), so that a refusal names
/// that limit. The origin is kept with the bytes, not found by comparing them with the current
/// pool's budget: a sweep's points run in pools smaller than the sweep's threads, whose budget
/// (`ulimit -v` less every thread of the sweep) is not their pool's (adv43: a `sweep --jobs 2`
/// under `ulimit -v` was refused as "invalid value for --max-memory", naming no `ulimit -v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryLimit {
    pub bytes: u64,
    /// `Some` when the limit is what `ulimit -v` leaves: what to do about it, for a refusal
    /// ([`MemoryLimit::advice`]), and the threads reserved ([`MemoryLimit::source`]).
    address_space: Option<(&'static str, u64)>,
}

impl MemoryLimit {
    /// A limit of `bytes` (the command line's `--max-memory`, half the physical memory, a test's).
    pub fn new(bytes: u64) -> Self {
        MemoryLimit {
            bytes,
            address_space: None,
        }
    }

    /// A limit of `bytes` that is what `ulimit -v` leaves ([`address_space_budget_for`]) once
    /// `threads` threads are reserved, `flag` setting their count (`--threads`, a sweep's
    /// `--jobs` where it runs more points than `--threads`).
    pub fn of_address_space(bytes: u64, threads: u64, flag: &str) -> Self {
        MemoryLimit {
            bytes,
            address_space: Some((relief(threads, flag), threads)),
        }
    }

    /// True when this limit is what `ulimit -v` leaves.
    pub fn is_address_space(&self) -> bool {
        self.address_space.is_some()
    }

    /// What raises this limit: "raise ulimit -v or lower --threads" under `ulimit -v` with more
    /// than one thread, "raise ulimit -v" with one (adv43: `--threads 1` was told to lower
    /// `--threads`), "raise it" (`--max-memory`) otherwise.
    pub fn advice(&self) -> &'static str {
        self.address_space.map_or("raise it", |(advice, _)| advice)
    }

    /// True when `needed` bytes fit under the limit.
    pub fn allows(&self, needed: u128) -> bool {
        needed <= u128::from(self.bytes)
    }

    /// This limit, but never above [`address_space_budget`]: for a check right before an
    /// allocation, which fails past `ulimit -v` whatever `--max-memory` allows.
    pub fn within_address_space(self) -> Self {
        match address_space_budget() {
            Some(left) if left < self.bytes => MemoryLimit::of_address_space(
                left,
                rayon::current_num_threads() as u64,
                "--threads",
            ),
            _ => self,
        }
    }

    /// "N bytes", with where the limit comes from when that is `ulimit -v`
    /// ([`address_space_budget`]), for the messages of a refused read or estimate.
    pub fn describe(&self) -> String {
        format!("{} bytes{}", self.bytes, self.source())
    }

    /// " (ulimit -v of L, less P MiB per thread … for T threads and M MiB for the program
    /// itself)" when the limit is what `ulimit -v` leaves ([`address_space_budget_for`]), else
    /// "": every term of the subtraction, so that the limit can be checked by hand (adv53:
    /// under `ulimit -v 560000`, 547 MiB, one thread, "the memory limit of 0 B (ulimit -v,
    /// less 522 MiB per thread …)" left 25 MiB unexplained: the reserve was unsaid).
    pub fn source(&self) -> String {
        let Some((_, threads)) = self.address_space else {
            return String::new();
        };
        let of = address_space_limit().map_or(String::new(), |b| format!(" of {} KiB", b >> 10));
        format!(
            " (ulimit -v{of}, less {} MiB per thread for its stack and faer's GEMM workspace for \
             {threads} thread(s) and {} MiB for the program itself)",
            thread_address_space() >> 20,
            MAIN_ADDRESS_SPACE >> 20
        )
    }
}

impl Default for MemoryLimit {
    /// The limit [`set_thread_limit`] set on this thread (a sweep point's pool), else the one
    /// [`set_process_limit`] set (the command line's `--max-memory`), else
    /// [`default_memory_limit`].
    fn default() -> Self {
        THREAD_LIMIT
            .with(std::cell::Cell::get)
            .or_else(|| PROCESS_LIMIT.get().copied())
            .unwrap_or_else(default_memory_limit)
    }
}

thread_local! {
    /// The limit [`MemoryLimit::default`] returns on this thread once [`set_thread_limit`] has
    /// set it.
    static THREAD_LIMIT: std::cell::Cell<Option<MemoryLimit>> = const { std::cell::Cell::new(None) };
}

/// Makes `limit` what [`MemoryLimit::default`] returns on this thread: a sweep sets its budget
/// on the threads of its points' pools, so that the checks inside a point that take no limit
/// of their own hold it to the sweep's budget (`ulimit -v` less every thread of the sweep), not
/// to [`default_memory_limit`] of the point's smaller pool, which reserved one pool's threads
/// only (adv43's leftover).
pub fn set_thread_limit(limit: MemoryLimit) {
    THREAD_LIMIT.with(|l| l.set(Some(limit)));
}

/// The limit [`MemoryLimit::default`] returns once [`set_process_limit`] has set it.
static PROCESS_LIMIT: std::sync::OnceLock<MemoryLimit> = std::sync::OnceLock::new();

/// Makes `limit` what [`MemoryLimit::default`] returns for the rest of the process (the first
/// call wins): the command line sets its `--max-memory` here, so that the checks inside the
/// library that take no limit of their own (the per-class statistics' sums before they are
/// allocated) hold the run to the limit the user gave, not to the machine's default — a
/// `--max-memory` above the default was refused by them though every estimate allowed it.
pub fn set_process_limit(limit: MemoryLimit) {
    let _ = PROCESS_LIMIT.set(limit);
}

/// Half of the physical memory (`MemTotal` in `/proc/meminfo`), or 4 GiB where that cannot be
/// read, and never more than [`address_space_budget`] (`ulimit -v` less what the threads map
/// outside the estimates): past that an allocation fails, which faer and the standard library
/// answer with an abort. The estimates' fixed overhead (`config::estimate`'s base) stands for
/// the binary and its libraries. The CLI may replace it (e.g. with `--max-memory`).
pub fn default_memory_limit() -> MemoryLimit {
    let half = mem_total().map_or(FALLBACK_BYTES, |b| b / 2);
    MemoryLimit::new(half).within_address_space()
}

/// A thread's stack (rayon's and the standard library's default, 2 MiB), which every thread of
/// the process gets ([`pin_thread_stacks`]).
pub(crate) const THREAD_STACK: u64 = 2 << 20;

/// The variable the standard library reads, once, for the stack size of every thread started
/// without an explicit one: rayon's pools, the signal waiter, a sweep's jobs.
const MIN_STACK_VAR: &str = "RUST_MIN_STACK";

/// Sets `RUST_MIN_STACK` to `THREAD_STACK` (2 MiB), so that every thread the process starts has the
/// stack that [`thread_address_space`] and [`check_thread_room`] count. A user's value took
/// effect before (adv50): 64 KiB or less overflowed a pool thread's stack in the kernels
/// (`RUST_MIN_STACK=65536 corrflow --threads 2 train --task xor`: "has overflowed its stack",
/// abort, exit 134), and 100 GB was refused as threads that "map 962 MiB". Returns the value it
/// replaced where that asked for a smaller stack, for the caller's warning; a larger one (set
/// for `cargo test`, say) is replaced without a word, as no run of corrflow needs more, and a
/// value that is no size was not used by the standard library either. Changes the environment:
/// call it first thing in `main`, before any thread exists.
pub fn pin_thread_stacks() -> Option<String> {
    let before = std::env::var_os(MIN_STACK_VAR);
    std::env::set_var(MIN_STACK_VAR, THREAD_STACK.to_string());
    let before = before?.to_string_lossy().into_owned();
    let bytes: u64 = before.trim().parse().ok()?;
    (bytes < THREAD_STACK).then_some(before)
}

/// The warning for a replaced `RUST_MIN_STACK` value ([`pin_thread_stacks`]).
pub fn pinned_stack_warning(before: &str) -> String {
    format!(
        "warning: {MIN_STACK_VAR}={before:?} is not used: corrflow's threads take stacks of {} \
         MiB, what its memory checks count (a smaller one overflows in the kernels)",
        THREAD_STACK >> 20
    )
}

/// Address space a thread maps beyond the arrays the estimates count: faer's GEMM workspace
/// (private-gemm's thread-local buffer of 2 × its L3 size, allocated on a thread's first
/// product, `io::gemm_workspace`; a failed allocation aborts — seen under `ulimit -v`
/// 70–80 MiB with a 64 MiB workspace, and under 250 MB with this machine's 520 MiB, adv39) and
/// its stack.
pub fn thread_address_space() -> u64 {
    THREAD_STACK + super::gemm_workspace::gemm_workspace_bytes()
}

/// What the main thread and the process map beyond the estimates and the pool's threads: 98
/// MiB. Measured (tidy42b, `ulimit -v` lowered by 10 MB with the estimate check lifted by
/// `--max-memory 100M`, 520 MiB workspaces, so 522 MiB per thread): a 1-thread `propagate
/// --task xor` ran from 640 000 KiB (625 MiB) and aborted or panicked below, 103 MiB beyond its
/// one thread; with 2 threads from 1 160 000 KiB, 89 MiB beyond them; a 1-point XOR `sweep`
/// from 630 000 KiB (1 thread, 93 MiB beyond) and 1 140 000 KiB (2 threads, 69 MiB beyond).
/// Less the runs' estimates' fixed part (`config::estimate::memory::BASE_BYTES`, 32 MiB) and their
/// 2.2 MiB of data, at most 69 MiB is left to this reserve; 98 MiB keeps 29 MiB of margin and
/// the sum with `BASE_BYTES` at the 130 MiB it was (66 + 64 MiB, adv39).
const MAIN_ADDRESS_SPACE: u64 = 98 << 20;

/// [`address_space_budget_for`] rayon's current pool.
pub fn address_space_budget() -> Option<u64> {
    address_space_budget_for(rayon::current_num_threads() as u64)
}

/// [`address_space_limit`] less [`thread_address_space`] for each of `threads` threads and
/// `MAIN_ADDRESS_SPACE` (0 when that is more than the limit); `None` without a limit. The one
/// budget of a command (its pool) and of a sweep (all its points' threads).
pub fn address_space_budget_for(threads: u64) -> Option<u64> {
    address_space_limit().map(|left| {
        left.saturating_sub(
            threads
                .saturating_mul(thread_address_space())
                .saturating_add(MAIN_ADDRESS_SPACE),
        )
    })
}

/// What to do about a `ulimit -v` that leaves too little once `threads` threads are reserved,
/// `flag` setting their count: lowering it only where it is above 1.
fn relief(threads: u64, flag: &str) -> &'static str {
    match (threads > 1, flag) {
        (false, _) => "raise ulimit -v",
        (true, "--jobs") => "raise ulimit -v or lower --jobs",
        (true, _) => "raise ulimit -v or lower --threads",
    }
}

/// The message of `threads` threads (0: one per core) that could not be started (`e`, from
/// `pthread_create`: EAGAIN when the address space or the thread count is exhausted); `flag`
/// sets their count (`--threads`, a sweep's `--jobs`). Each thread maps
/// [`thread_address_space`] (its stack and faer's GEMM workspace) beyond the estimates, so
/// under `ulimit -v` the message names that limit and what the threads take.
pub fn threads_failed(threads: usize, e: &dyn std::fmt::Display, flag: &str) -> String {
    let count = match threads {
        0 => "one thread per core".to_string(),
        1 => "1 thread".to_string(),
        n => format!("{n} threads"),
    };
    let mib = thread_address_space() >> 20;
    // One thread cannot be fewer: no "lower --threads" that cannot be followed (adv43).
    let lower = if threads == 1 {
        String::new()
    } else {
        format!(" or lower {flag}")
    };
    match address_space_limit() {
        Some(bytes) => format!(
            "could not start {count} ({e}): the address space is limited to {} KiB (ulimit -v) \
             and each thread maps {mib} MiB (its stack and faer's GEMM workspace); raise \
             ulimit -v{lower}",
            bytes >> 10
        ),
        None if threads == 1 => format!(
            "could not start {count} ({e}): the system refused another thread (the limit on \
             processes, ulimit -u, or memory); raise ulimit -u or free memory"
        ),
        None => format!(
            "could not start {count} ({e}): the system refused another thread (the limit on \
             processes, ulimit -u, or memory); lower {flag}"
        ),
    }
}

/// Address space a new thread maps as it starts, before any of its work: its stack
/// ([`THREAD_STACK`]) and the standard library's alternate signal stack with its guard page
/// (SIGSTKSZ or the kernel's AT_MINSIGSTKSZ, a few pages), with margin: 256 KiB a thread, so
/// that even one thread's margin holds a growth of the main thread's heap (glibc's 128 KiB
/// top pad) while the pool starts.
const THREAD_START: u64 = THREAD_STACK + (256 << 10);

/// The address space this process maps now, its VmSize (`/proc/self/statm`'s first field, in
/// pages), which `ulimit -v` is checked against; `None` where it cannot be read.
fn mapped_now() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().next()?.parse().ok()?;
    // SAFETY: sysconf with a valid name has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(page).ok().map(|p| pages.saturating_mul(p))
}

/// Refuses, before any is started, `count` threads (`threads` as the user gave it, 0 for one
/// per core, for the message) whose stacks and alternate signal stacks (`THREAD_START` each)
/// do not fit in what `ulimit -v` leaves now: the message of [`threads_failed`], `flag`
/// setting their count. Without this, a pool whose second thread could not be created
/// (EAGAIN, the clean refusal) raced its first thread's start: when that thread mapped its
/// alternate signal stack after the second's stack had taken the room, the standard library
/// aborted the process ("failed to allocate an alternative stack", exit 134), seen once under
/// load at `ulimit -v` 20 MiB (adv49b). With the room checked first no thread starts, so
/// nothing can race. `Ok` without a limit or where the mapped size cannot be read.
pub fn check_thread_room(
    threads: usize,
    count: usize,
    flag: &str,
) -> std::result::Result<(), String> {
    let (Some(limit), Some(mapped)) = (address_space_limit(), mapped_now()) else {
        return Ok(());
    };
    let room = limit.saturating_sub(mapped);
    let needed = (count as u64).saturating_mul(THREAD_START);
    if needed <= room {
        return Ok(());
    }
    let why = format!(
        "{} KiB of address space left, {needed_kib} KiB needed for their stacks",
        room >> 10,
        needed_kib = needed >> 10
    );
    Err(threads_failed(threads, &why, flag))
}

/// The address space this process may map, its soft `RLIMIT_AS` (`ulimit -v`); `None` without
/// a limit or where it cannot be read.
pub fn address_space_limit() -> Option<u64> {
    // SAFETY: rlimit is a plain C struct of integers; getrlimit writes it.
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: a valid resource and a valid, writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut lim) };
    (rc == 0 && lim.rlim_cur != libc::RLIM_INFINITY).then_some(lim.rlim_cur)
}

/// `MemTotal` from `/proc/meminfo`, in bytes, read once per process: a sweep asks for the
/// default limit once per grid point (its preflight estimate), and reading `/proc/meminfo` was
/// half of a 10⁵-point `--dry-run`'s time (adv22, perf). The physical memory does not change
/// while a run lasts.
fn mem_total() -> Option<u64> {
    static TOTAL: std::sync::OnceLock<Option<u64>> = std::sync::OnceLock::new();
    *TOTAL.get_or_init(read_mem_total)
}

/// [`mem_total`] read from the file.
fn read_mem_total() -> Option<u64> {
    let text = std::fs::read_to_string(Path::new("/proc/meminfo")).ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limit set on a pool's threads is what [`MemoryLimit::default`] returns there, and
    /// nowhere else.
    #[test]
    fn a_thread_limit_holds_on_its_pool_only() {
        let limit = MemoryLimit::of_address_space(12345, 2, "--threads");
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .start_handler(move |_| set_thread_limit(limit))
            .build()
            .unwrap();
        let seen: Vec<MemoryLimit> = pool.install(|| {
            use rayon::prelude::*;
            (0..8)
                .into_par_iter()
                .map(|_| MemoryLimit::default())
                .collect()
        });
        assert!(seen.iter().all(|&l| l == limit), "{seen:?}");
        assert_ne!(MemoryLimit::default(), limit);
        assert_eq!(limit.advice(), "raise ulimit -v or lower --threads");
        assert_eq!(
            MemoryLimit::of_address_space(1, 1, "--threads").advice(),
            "raise ulimit -v"
        );
    }
}
