//! The allocator setting of corrflow's binaries: the CLI, and the timing tools `arc_compare`
//! and `fac3_loop`. The ratio tools (`affine_ratio`, `closure_ratio`, `precision_ratio`) keep
//! glibc's defaults: they reuse their buffers across rounds, and with the setting
//! `precision_ratio 1024 2 3` took 40 693 page faults against 42 836 without (the inputs'
//! first touch; thirty-second session), so their ratios do not depend on it.

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
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters (under glibc's arena lock), and values it
    // rejects leave the defaults in place; called first thing in main, before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
