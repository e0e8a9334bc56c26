//! The allocator setting of corrflow's binaries (the CLI and the benchmark tools that time the
//! engine as the CLI runs it).

use std::alloc::{GlobalAlloc, Layout, System};

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
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_FROM as i32);
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_TOP_PAD, TOP_PAD as i32);
    }
}

/// Blocks from this size on are their own mmap (glibc's largest threshold), not heap memory.
const MMAP_FROM: usize = 32 << 20;

/// The heap's head room: each time glibc grows the heap it takes this much beyond the request
/// (glibc's default is 128 KiB), so that the heap grows a few times per run instead of once per
/// fresh large block. Address space only: a page costs memory when first written.
const TOP_PAD: usize = 64 << 20;

/// One transparent huge page (x86-64, and aarch64 with 4 KiB pages).
const HUGE_PAGE: usize = 2 << 20;

/// The binaries' global allocator: glibc's (through [`System`]), with the heap advised for
/// transparent huge pages (`MADV_HUGEPAGE`) as it grows, blocks outside the heap advised
/// inside, and blocks large enough to be their own mmap placed on 2 MiB boundaries. Where the kernel's THP mode is `madvise` (the default of most
/// distributions, and this project's machines) fresh memory then faults in 2 MiB at a time
/// instead of 4 KiB: `analyze` of a 784-100-100-10 network on MNIST took ~29 000 minor faults,
/// most of them its 784² class covariances and factors (BENCHMARKS.md, ana24). This is what
/// glibc does itself under `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (it advises each growth of
/// the heap), which a program cannot set for itself.
///
/// After every allocation the program break is read (`sbrk(0)`: glibc's cached value, no system
/// call); when it has moved past what was advised, the new part of the heap is advised. glibc
/// writes the new top chunk's header into the new part before that, so the 2 MiB page around
/// that header stays in small pages; [`keep_freed_memory`]'s larger head room keeps that to a
/// few pages per run. Where THP is off, unsupported or not granted, the advice changes nothing;
/// on targets other than Linux with glibc this is `System` unchanged.
pub struct HugePages;

impl HugePages {
    /// Advises what is new since the last call: the heap above the advised end, and the whole
    /// 2 MiB pages inside `ptr..ptr + size` when the block lies outside the main heap.
    #[inline]
    fn advise(ptr: *mut u8, size: usize) {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        thp::advise(ptr, size);
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        let _ = (ptr, size);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod thp {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::HUGE_PAGE;

    /// The heap is advised up to here (0: not yet read; what lies below the break at the first
    /// read, the start-up's few allocations, is left as it is).
    static ADVISED_END: AtomicUsize = AtomicUsize::new(0);
    /// The program break at the first read: the heap's advised part starts here.
    static HEAP_START: AtomicUsize = AtomicUsize::new(0);

    /// The page size all advised ranges are aligned to (every Linux page size divides it).
    const PAGE: usize = 4096;

    pub(super) fn advise(ptr: *mut u8, size: usize) {
        if ptr.is_null() {
            return;
        }
        // SAFETY: sbrk(0) only reads glibc's record of the program break.
        let brk = unsafe { libc::sbrk(0) } as usize;
        if brk == usize::MAX {
            return;
        }
        let end = ADVISED_END.load(Ordering::Relaxed);
        if brk > end {
            // Each growth is advised by the one caller whose update moved the end past it.
            let prev = ADVISED_END.fetch_max(brk, Ordering::Relaxed);
            if prev == 0 {
                HEAP_START.store(brk, Ordering::Relaxed);
            } else if prev < brk {
                let start = prev & !(PAGE - 1);
                madvise(start, brk - start);
            }
        }
        // A block outside the main heap (its own mmap, or the heap of a second arena, which
        // glibc creates now and then even with one arena allowed): its whole 2 MiB pages.
        let at = ptr as usize;
        let in_heap = HEAP_START.load(Ordering::Relaxed) <= at && at < brk;
        if size >= HUGE_PAGE && !in_heap {
            let start = at.next_multiple_of(HUGE_PAGE);
            let stop = at.saturating_add(size) & !(HUGE_PAGE - 1);
            if stop > start {
                madvise(start, stop - start);
            }
        }
    }

    /// MADV_HUGEPAGE over `len` bytes at `addr`; a failure (THP not built in) is ignored.
    fn madvise(addr: usize, len: usize) {
        // SAFETY: the range is either heap between two program breaks glibc has set (its own
        // memory, mapped, handed out or not) or whole pages inside a block just allocated;
        // MADV_HUGEPAGE only sets a flag on the mapping and never changes its contents.
        unsafe {
            libc::madvise(addr as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}

/// The layout a block of `layout` is allocated with: one large enough to be its own mmap is
/// placed on a 2 MiB boundary (the kernel places a mapping on a 4 KiB one, and the 2 MiB page
/// holding its head, shared with whatever lies below, can never be a huge page: faer's GEMM
/// packs its operands at the head of such a per-thread buffer); others unchanged.
fn placed(layout: Layout) -> Layout {
    if layout.size() >= MMAP_FROM && layout.align() < HUGE_PAGE {
        // A power of two, and the size is far below isize::MAX - HUGE_PAGE where it is used:
        // an allocation of that size fails anyway, so the caller's layout is kept then.
        Layout::from_size_align(layout.size(), HUGE_PAGE).unwrap_or(layout)
    } else {
        layout
    }
}

/// The largest alignment for which glibc's `calloc` (through `System.alloc_zeroed`) is used:
/// `System` falls back to `malloc` and a clearing for larger ones, before this allocator could
/// advise the block.
const CALLOC_ALIGN: usize = 16;

// SAFETY: every block is `System`'s, allocated and freed with the same layout (`placed` is a
// pure function of the caller's layout, which `dealloc` and `realloc` receive unchanged); a
// placed layout is as large as the caller's and more aligned, so the block satisfies it.
// `advise` never changes a block's contents; `alloc_zeroed` clears the caller's bytes itself
// where it does not use `calloc`.
unsafe impl GlobalAlloc for HugePages {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let layout = placed(layout);
        // SAFETY: a layout of the caller's (non-zero) size.
        let ptr = unsafe { System.alloc(layout) };
        Self::advise(ptr, layout.size());
        ptr
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let big = placed(layout);
        if big.align() <= CALLOC_ALIGN {
            // SAFETY: as in `alloc`. calloc leaves fresh heap pages untouched (the kernel's are
            // zero), so the advice below still comes before their first write.
            let ptr = unsafe { System.alloc_zeroed(big) };
            Self::advise(ptr, big.size());
            return ptr;
        }
        // SAFETY: as in `alloc`; advised there, before the clearing faults the block in.
        let ptr = unsafe { self.alloc(layout) };
        if !ptr.is_null() {
            // SAFETY: the block holds `layout.size()` writable bytes.
            unsafe { std::ptr::write_bytes(ptr, 0, layout.size()) };
        }
        ptr
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `placed(layout)` (every method above).
        unsafe { System.dealloc(ptr, placed(layout)) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that `new_size`, rounded up to `layout.align()`, fits
        // `isize`, as `Layout` requires.
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        if placed(layout) == layout && placed(new) == new {
            // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `new_size`'s
            // rules. glibc's realloc may grow the block in place.
            let grown = unsafe { System.realloc(ptr, layout, new_size) };
            Self::advise(grown, new_size);
            return grown;
        }
        // SAFETY: `new` has a non-zero size (the caller's contract).
        let fresh = unsafe { self.alloc(new) };
        if !fresh.is_null() {
            // SAFETY: both blocks hold at least min(old, new) bytes and are distinct; `ptr`
            // came from this allocator with `layout`.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `VmFlags` of the mapping of /proc/self/smaps that holds `addr`.
    #[cfg(target_os = "linux")]
    fn vm_flags(addr: usize) -> Option<String> {
        let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
        let mut inside = false;
        for line in smaps.lines() {
            let head = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = head.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = lo <= addr && addr < hi;
                    continue;
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return Some(flags.trim().to_string());
                }
            }
        }
        None
    }

    /// Whether this kernel has transparent huge pages at all (MADV_HUGEPAGE is refused without).
    #[cfg(target_os = "linux")]
    fn thp_built_in() -> bool {
        std::path::Path::new("/sys/kernel/mm/transparent_hugepage/enabled").exists()
    }

    #[test]
    fn blocks_keep_their_contents_and_zeroes() {
        // Small, heap-sized and mmap-sized blocks, grown and shrunk across the placement size.
        let sizes = [24, 4096, 3 << 20, MMAP_FROM + 8, MMAP_FROM - 8, 100];
        for align in [8, 64, 4096] {
            let layout = Layout::from_size_align(sizes[0], align).unwrap();
            // SAFETY: a non-zero size; every pointer below is used within its layout and freed
            // with it.
            unsafe {
                let mut ptr = HugePages.alloc_zeroed(layout);
                assert!(!ptr.is_null());
                let mut layout = layout;
                for &size in &sizes[1..] {
                    let kept = layout.size().min(size);
                    for i in 0..kept {
                        ptr.add(i).write((i % 251) as u8);
                    }
                    ptr = HugePages.realloc(ptr, layout, size);
                    assert!(!ptr.is_null());
                    assert_eq!(ptr as usize % align, 0, "align {align} size {size}");
                    assert!(
                        (0..kept).all(|i| *ptr.add(i) == (i % 251) as u8),
                        "size {size}"
                    );
                    layout = Layout::from_size_align(size, align).unwrap();
                }
                HugePages.dealloc(ptr, layout);
                let big = Layout::from_size_align(MMAP_FROM + 12345, align).unwrap();
                let zeroed = HugePages.alloc_zeroed(big);
                assert!(!zeroed.is_null());
                assert!(std::slice::from_raw_parts(zeroed, big.size())
                    .iter()
                    .all(|&b| b == 0));
                HugePages.dealloc(zeroed, big);
            }
        }
    }

    #[test]
    fn large_blocks_are_placed_on_huge_pages() {
        let layout = Layout::from_size_align(MMAP_FROM, 8).unwrap();
        // SAFETY: a non-zero size, freed with the same layout.
        let ptr = unsafe { HugePages.alloc(layout) };
        assert!(!ptr.is_null());
        assert_eq!(
            ptr as usize % HUGE_PAGE,
            0,
            "a block of {} bytes",
            layout.size()
        );
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if thp_built_in() {
            let flags = vm_flags(ptr as usize).expect("the block's mapping in smaps");
            assert!(
                flags.split_whitespace().any(|f| f == "hg"),
                "VmFlags: {flags}"
            );
        }
        // SAFETY: as above.
        unsafe { HugePages.dealloc(ptr, layout) };
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn the_heap_is_advised_as_it_grows() {
        if !thp_built_in() {
            return;
        }
        // The test harness runs this on a thread of its own, whose glibc arena is not the
        // heap: the break is moved here directly (glibc allows other users of sbrk, and these
        // pages stay unused until the process ends), then any allocation must advise it.
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a non-zero size, freed with its layout; sbrk grows the break by whole pages
        // that nothing else uses.
        unsafe {
            HugePages.dealloc(HugePages.alloc(layout), layout);
            let before = libc::sbrk(0) as usize;
            let grown = libc::sbrk((2 * HUGE_PAGE) as libc::intptr_t);
            assert_ne!(grown as isize, -1, "sbrk failed");
            let after = libc::sbrk(0) as usize;
            assert!(after >= before + 2 * HUGE_PAGE);
            assert!(vm_flags(after - 1).is_some_and(|f| !f.split_whitespace().any(|f| f == "hg")));
            HugePages.dealloc(HugePages.alloc(layout), layout);
            let flags = vm_flags(after - 1).expect("the heap's mapping in smaps");
            assert!(
                flags.split_whitespace().any(|f| f == "hg"),
                "VmFlags: {flags}"
            );
        }
    }
}
