//! Blocks of their own anonymous mapping: faer's matrix blocks over the heap's 32 MiB (see
//! [`super::PaddingZeroing`]). The kernel hands out a fresh mapping as zero pages, each faulted
//! in at its first touch, so a page nobody writes costs nothing; `munmap` returns the block and
//! `mremap` resizes it in place or moves its pages (new pages are zero pages as well).

/// The alignment every mapping has (a page; mappings start on page boundaries).
pub(super) const PAGE: usize = 4096;

/// A fresh zeroed mapping of `size` bytes (page-aligned), or null when the kernel refuses.
///
/// # Safety
/// `size` is non-zero.
#[cfg(target_os = "linux")]
pub(super) unsafe fn map(size: usize) -> *mut u8 {
    // SAFETY: an anonymous private mapping at an address the kernel picks touches no memory of
    // ours; MAP_FAILED is turned into null.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            size,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Returns a block of [`map`] (or [`remap`]) of `size` bytes to the kernel.
///
/// # Safety
/// `ptr` came from [`map`] or [`remap`] with this `size` and is not used again.
#[cfg(target_os = "linux")]
pub(super) unsafe fn unmap(ptr: *mut u8, size: usize) {
    // SAFETY: the caller hands over the whole mapping; munmap of it cannot fail.
    unsafe { libc::munmap(ptr.cast(), size) };
}

/// The block of [`map`] at `ptr` resized from `old` to `new` bytes (moved if it must: its
/// contents up to min(old, new) kept, the rest zero), or null with the block untouched.
///
/// # Safety
/// `ptr` came from [`map`] or [`remap`] with size `old`; `new` is non-zero.
#[cfg(target_os = "linux")]
pub(super) unsafe fn remap(ptr: *mut u8, old: usize, new: usize) -> *mut u8 {
    // SAFETY: the caller hands over the whole mapping; on failure it stays as it was.
    let p = unsafe { libc::mremap(ptr.cast(), old, new, libc::MREMAP_MAYMOVE) };
    if p == libc::MAP_FAILED {
        std::ptr::null_mut()
    } else {
        p.cast()
    }
}

/// Elsewhere the system allocator's zeroed blocks stand in for mappings.
#[cfg(not(target_os = "linux"))]
pub(super) unsafe fn map(size: usize) -> *mut u8 {
    use std::alloc::{GlobalAlloc, Layout, System};
    // SAFETY: as `System.alloc_zeroed`, with a non-zero size and a power-of-two alignment.
    unsafe { System.alloc_zeroed(Layout::from_size_align_unchecked(size, PAGE)) }
}

/// See the Linux [`unmap`].
#[cfg(not(target_os = "linux"))]
pub(super) unsafe fn unmap(ptr: *mut u8, size: usize) {
    use std::alloc::{GlobalAlloc, Layout, System};
    // SAFETY: `ptr` came from `map` with this size.
    unsafe { System.dealloc(ptr, Layout::from_size_align_unchecked(size, PAGE)) }
}

/// See the Linux [`remap`] (the grown part zeroed by hand).
#[cfg(not(target_os = "linux"))]
pub(super) unsafe fn remap(ptr: *mut u8, old: usize, new: usize) -> *mut u8 {
    use std::alloc::{GlobalAlloc, Layout, System};
    // SAFETY: `ptr` came from `map` with size `old`; the grown part lies within the new block.
    unsafe {
        let p = System.realloc(ptr, Layout::from_size_align_unchecked(old, PAGE), new);
        if !p.is_null() && new > old {
            p.add(old).write_bytes(0, new - old);
        }
        p
    }
}
