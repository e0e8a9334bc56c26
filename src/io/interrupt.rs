//! Interruption: SIGINT, SIGTERM, SIGHUP and the other signals whose default action ends the
//! process and that reach it from outside (`CAUGHT`: Ctrl-\\, a CPU-time limit, a scheduler's
//! warning signal, an alarm) remove the temporary files of writes they cut short (see
//! [`super::temp`]) before the process dies of the signal, so that Ctrl-C or a job scheduler's
//! kill leaves no debris; SIGXFSZ (a write past `ulimit -f`) becomes the write's
//! error instead of killing the process mid-write. A fault on a mapped input that shrank
//! ([`super::mapped`]) removes them too, through the same waiter ([`exit_after_fault`]).

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// The signals whose default action would kill the process with temporary files on disk, and
/// which are sent to the process (not to the thread that caused them, as SIGPIPE and SIGXFSZ
/// are: a blocked thread-directed signal stays pending on its thread, out of the waiter's
/// reach). adv37 found SIGXCPU (`ulimit -t`, the soft CPU limit of SGE and LSF) and SIGUSR1
/// (Slurm's `--signal`, SGE's `-notify`) leaving a 72 MB `.corrflow-tmp-` file mid-write; SIGQUIT
/// (Ctrl-\\), SIGUSR2, SIGALRM and SIGVTALRM end a process alike.
const CAUGHT: [libc::c_int; 9] = [
    libc::SIGINT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGQUIT,
    libc::SIGXCPU,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGVTALRM,
];

/// The signal that wakes the waiter of [`clean_up_on_interrupt`] (one of `CAUGHT` in its set; 0
/// while there is no waiter).
static WAKE: AtomicI32 = AtomicI32::new(0);

/// Set by [`exit_after_fault`]: the waiter, woken, exits with status 2 instead of dying of the
/// signal.
static FAULTED: AtomicBool = AtomicBool::new(false);

/// Ends the process with status 2 after a fault already said on stderr (a mapped input that
/// shrank, [`super::mapped`]), from a signal handler: wakes the waiter, which removes this
/// process's temporary files and exits, and sleeps meanwhile; without a waiter, exits at once.
/// Async-signal-safe (atomics, `kill`, `pause`, `_exit`).
pub(super) fn exit_after_fault() -> ! {
    FAULTED.store(true, Ordering::SeqCst);
    let wake = WAKE.load(Ordering::SeqCst);
    // SAFETY: kill, pause and _exit are async-signal-safe; `wake` is a signal the waiter waits
    // for, blocked in every other thread, so this thread sleeps until the waiter exits.
    unsafe {
        if wake != 0 && libc::kill(libc::getpid(), wake) == 0 {
            loop {
                libc::pause();
            }
        }
        libc::_exit(2)
    }
}

/// Blocks those of the `CAUGHT` signals that the process was not started with ignored
/// (`nohup`, a background job of a non-interactive shell: those stay ignored) in this thread,
/// and so in every thread started after it, and starts a thread that waits for them; on one it
/// removes this process's temporary files ([`super::temp::remove_own_for_exit`], which also
/// stops any later one from being created) and dies of the same signal, so the exit status is
/// the usual one (130 for Ctrl-C) — or, after a fault on a mapped input (`exit_after_fault`),
/// exits with status 2. Ignores SIGXFSZ. Call first thing in `main`, before other
/// threads.
pub fn clean_up_on_interrupt() {
    // The signal a fault sends the waiter ([`exit_after_fault`]): SIGTERM where it is caught.
    let mut wake = 0;
    // SAFETY: sigset_t is a plain C struct for which sigemptyset writes a valid empty set;
    // pthread_sigmask and signal take valid arguments and are called before any other thread
    // exists, so the mask is inherited by every thread the process starts.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in CAUGHT {
            let mut now: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut now);
            if now.sa_sigaction != libc::SIG_IGN {
                libc::sigaddset(&mut set, sig);
                wake = if wake == libc::SIGTERM { wake } else { sig };
            }
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        set
    };
    // The waiter says it has started, and main waits for that: a thread's start maps its
    // alternate signal stack (the standard library's), and where that failed because main
    // had meanwhile taken the address space `ulimit -v` leaves (a pool's thread stacks), the
    // process aborted ("failed to allocate an alternative stack", adv49b: seen under load at
    // `ulimit -v` 20 MiB). Once it has started, nothing the waiter maps can race main.
    let (started, has_started) = std::sync::mpsc::sync_channel::<()>(1);
    let waiter = std::thread::Builder::new()
        .name("corrflow-signals".into())
        .spawn(move || {
            let _ = started.send(());
            let mut sig: libc::c_int = 0;
            // SAFETY: `set` is a valid signal set and `sig` a valid place for the result.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                return;
            }
            super::temp::remove_own_for_exit();
            if FAULTED.load(Ordering::SeqCst) {
                // SAFETY: ends the process at once; the fault was said, the files removed.
                unsafe { libc::_exit(2) };
            }
            // SAFETY: restores the default action of `sig`, unblocks it in this thread only and
            // raises it in this thread: the process dies of it as if it had never been caught.
            unsafe {
                libc::signal(sig, libc::SIG_DFL);
                let mut one: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut one);
                libc::sigaddset(&mut one, sig);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &one, std::ptr::null_mut());
                libc::raise(sig);
            }
        });
    if waiter.is_ok() {
        // A started thread sends before anything else (or the process has aborted).
        let _ = has_started.recv();
        WAKE.store(wake, Ordering::SeqCst);
    } else {
        // Without the waiter the signals must keep their default action, not stay blocked.
        // SAFETY: as above; unblocking restores the state before this call.
        unsafe {
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        }
    }
}
