//! Handing the allocator's free pages back to the kernel at a phase boundary of a run whose
//! peak resident memory matters (`propagate --precision f32`).
//!
//! The binary keeps freed blocks up to 32 MiB on the heap and never trims it (`main.rs`), so a
//! phase reuses the blocks the phase before freed instead of faulting in fresh pages. The cost
//! is fragmentation: blocks freed between live ones (4 MB f32 covariances among 8 MB f64
//! factors) stay resident while a larger request grows the heap past them. glibc's
//! `malloc_trim(0)` returns every whole free page, wherever it lies in the heap
//! (`MADV_DONTNEED`), so after it the resident memory is the live blocks again; the pages come
//! back zeroed when the heap hands them out again.

/// Returns the heap's free pages to the kernel (glibc on Linux; elsewhere nothing).
pub fn return_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases pages of free chunks; it takes the allocator's locks
    // and may be called from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
