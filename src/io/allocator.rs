//! The allocator of corrflow's binaries ([`PaddingZeroing`]: the CLI and the timing tools
//! `arc_compare` and `fac3_loop`) and their allocator setting ([`keep_freed_memory`]).
//! The ratio tools (`affine_ratio`, `closure_ratio`, `precision_ratio`) keep
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

mod mapped;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// Whether this thread's next matrix blocks are handed out as the system gives them
    /// ([`unzeroed`]). A constant-initialised `Cell` without destructor: reading it allocates
    /// nothing, as an allocator must not.
    static UNZEROED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the heap's matrix blocks (≤ 32 MiB) that this thread allocates handed out
/// as the system gives them, not zeroed by [`PaddingZeroing`]: for a caller that writes
/// every byte of the block itself at once ([`super::par_zeros`], in parallel, padding
/// rows included), where zeroing them here first would write each page twice, the first
/// time on this thread alone (with all of a fresh block's page faults). Blocks over 32 MiB
/// are fresh mappings either way. Restores the previous setting when `f` returns or unwinds.
pub fn unzeroed<R>(f: impl FnOnce() -> R) -> R {
    /// Puts the setting back on drop, also when `f` panics.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            UNZEROED.with(|u| u.set(self.0));
        }
    }
    let _restore = Restore(UNZEROED.with(|u| u.replace(true)));
    f()
}

/// Blocks of this alignment or more are faer's matrices (64 bytes: `Mat` rounds its column
/// length up to whole cache lines) and workspaces.
const MATRIX_ALIGN: usize = 64;

/// Matrix blocks up to this size come from glibc's heap, zeroed: [`keep_freed_memory`] keeps
/// every freed block up to its 32 MiB mmap threshold there. Larger ones are mappings of their own
/// (faer's packing arena of an L3's size among them: zeroing that would touch every page of it).
const ZEROED_UP_TO: usize = 32 << 20;

/// Where a block of a given alignment and size comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Block {
    /// Not a matrix block (alignment < 64): the system allocator's, as it hands it out.
    Plain,
    /// A matrix block of the heap (≤ 32 MiB, or over a page's alignment): zeroed.
    Zeroed,
    /// The same inside [`unzeroed`]: as the system hands it out, its caller writes it all.
    Unzeroed,
    /// A matrix block over 32 MiB (alignment ≤ a page): an anonymous mapping of its own, zero
    /// pages from the kernel, faulted in only where written or read.
    Mapped,
}

impl Block {
    /// Where a block comes from (`unzeroed`: inside [`unzeroed`] on this thread).
    fn of(align: usize, size: usize, unzeroed: bool) -> Block {
        if align < MATRIX_ALIGN {
            Block::Plain
        } else if size <= ZEROED_UP_TO || align > mapped::PAGE {
            if unzeroed {
                Block::Unzeroed
            } else {
                Block::Zeroed
            }
        } else {
            Block::Mapped
        }
    }

    /// Where a new block comes from on this thread now.
    fn new(align: usize, size: usize) -> Block {
        Block::of(align, size, UNZEROED.with(Cell::get))
    }

    /// Where a block handed out earlier came from, as far as releasing or resizing it goes
    /// (zeroed or not, a heap block is the system's).
    fn old(align: usize, size: usize) -> Block {
        Block::of(align, size, false)
    }
}

/// The system allocator, handing out faer's matrix blocks (alignment ≥ 64 bytes) zeroed: up to
/// 32 MiB from the heap, zeroed there; larger ones as anonymous mappings of their own.
///
/// Why: faer's `Mat` rounds each column up to a multiple of 64 bytes (8 f64, 16 f32) and leaves
/// the padding rows uninitialised, and faer's GEMM (private-gemm-x86) multiplies whole 8-row
/// (16-row) panels of its left operand, read in place, discarding the padding rows' results. On a
/// block recycled from the heap the padding holds the integers and pointers of earlier blocks,
/// whose bit patterns as doubles are subnormal (the integer 8 is 4·10⁻³²³), and an FMA on a
/// subnormal operand takes a microcode assist, ~100 cycles. Any product whose left operand has
/// rows ≢ 0 mod 8 paid it on its last panel: a read-out's 2 or 10 rows, a layer's δ. Training
/// `--task xor --dim 2 --hidden 1000` spent 0.19 s per epoch in its forward pass and 0.22 s in
/// its update (1 thread; with the denormals-are-zero flag set, 0.016 and 0.006 s); MNIST
/// 784-100-100-10 0.07–0.095 and 0.10–0.12 s (0.036–0.056 and 0.066–0.072). The results never
/// depended on the padding (its rows are discarded), only the time did: zeroed padding stays
/// zero, as nothing writes it.
///
/// Blocks over glibc's 32 MiB mmap threshold are fresh mmaps only when no free chunk of the heap
/// fits: glibc serves them from a coalesced free chunk (or the heap's top) first, garbage and
/// all. Mapping them here gives zero pages whatever the heap holds, without touching a page
/// nobody uses, as zeroing such a block would (thirty-ninth session, kern39).
///
/// Inside [`unzeroed`] the heap's matrix blocks of that thread are handed out as the system
/// gives them: the caller writes every byte itself ([`super::par_zeros`]).
pub struct PaddingZeroing;

// SAFETY: plain and heap blocks are forwarded to `System` with the caller's layout, and zeroing
// a block the system allocator returned writes only within it; mapped blocks are whole
// mappings of at least the layout's size, page-aligned (≥ the layout's alignment, which is at
// most a page for them), released or resized only by the calls that take their layout.
unsafe impl GlobalAlloc for PaddingZeroing {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, which `alloc_zeroed` shares, and a
        // mapped block's size (> 32 MiB) is non-zero.
        unsafe {
            match Block::new(layout.align(), layout.size()) {
                Block::Plain | Block::Unzeroed => System.alloc(layout),
                Block::Zeroed => System.alloc_zeroed(layout),
                Block::Mapped => mapped::map(layout.size()),
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc_zeroed`'s contract; a mapping comes zeroed.
        unsafe {
            match Block::old(layout.align(), layout.size()) {
                Block::Mapped => mapped::map(layout.size()),
                _ => System.alloc_zeroed(layout),
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator with `layout`, hence from the same source.
        unsafe {
            match Block::old(layout.align(), layout.size()) {
                Block::Mapped => mapped::unmap(ptr, layout.size()),
                _ => System.dealloc(ptr, layout),
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (align, size) = (layout.align(), layout.size());
        // SAFETY: `ptr` came from this allocator with `layout`; the caller guarantees `new_size`
        // with `align` is a valid non-zero layout, and both blocks hold min(size, new_size) bytes.
        unsafe {
            match (Block::old(align, size), Block::old(align, new_size)) {
                (Block::Plain, _) => System.realloc(ptr, layout, new_size),
                (Block::Mapped, Block::Mapped) => mapped::remap(ptr, size, new_size),
                // A matrix block changing size otherwise: a fresh zeroed block of the new size,
                // the old contents copied in (what `System` does for such alignments anyway).
                _ => {
                    let new_layout = Layout::from_size_align_unchecked(new_size, align);
                    let new = self.alloc(new_layout);
                    if !new.is_null() {
                        std::ptr::copy_nonoverlapping(ptr, new, size.min(new_size));
                        self.dealloc(ptr, layout);
                    }
                    new
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inside [`unzeroed`], nested too, this thread's heap matrix blocks are the system's as
    /// they come (plain and mapped blocks as outside); the setting is this thread's only, and
    /// it is put back when the closure returns and when it panics.
    #[test]
    fn unzeroed_holds_inside_on_this_thread_only() {
        assert_eq!(Block::new(64, 4096), Block::Zeroed);
        unzeroed(|| {
            assert_eq!(Block::new(64, 4096), Block::Unzeroed);
            assert_eq!(Block::new(16, 4096), Block::Plain);
            assert_eq!(Block::new(4096, ZEROED_UP_TO + 1), Block::Mapped);
            unzeroed(|| assert_eq!(Block::new(128, ZEROED_UP_TO), Block::Unzeroed));
            assert_eq!(Block::new(64, 4096), Block::Unzeroed);
            assert_eq!(Block::old(64, 4096), Block::Zeroed);
            let other = std::thread::spawn(|| Block::new(64, 4096)).join().unwrap();
            assert_eq!(other, Block::Zeroed);
        });
        assert_eq!(Block::new(64, 4096), Block::Zeroed);
        let unwound = std::panic::catch_unwind(|| unzeroed(|| panic!("a panic inside unzeroed")));
        assert!(unwound.is_err());
        assert_eq!(Block::new(64, 4096), Block::Zeroed);
    }

    /// A matrix block recycled from the heap comes back zeroed; a byte buffer is left as the
    /// system hands it out, a block over the limit is a mapping of its own.
    #[test]
    fn matrix_blocks_come_zeroed() {
        assert_eq!(Block::new(64, 8 * 1024), Block::Zeroed);
        assert_eq!(Block::new(128, ZEROED_UP_TO), Block::Zeroed);
        assert_eq!(Block::new(16, 8 * 1024), Block::Plain);
        assert_eq!(Block::new(16, ZEROED_UP_TO + 1), Block::Plain);
        assert_eq!(Block::new(4096, ZEROED_UP_TO + 1), Block::Mapped);
        assert_eq!(Block::new(8192, ZEROED_UP_TO + 1), Block::Zeroed);
        let layout = Layout::from_size_align(4096, MATRIX_ALIGN).unwrap();
        for _ in 0..8 {
            // SAFETY: a non-zero layout; each block is freed with it.
            unsafe {
                let dirty = System.alloc(layout);
                assert!(!dirty.is_null());
                dirty.write_bytes(0xA5, layout.size());
                System.dealloc(dirty, layout);
                let block = PaddingZeroing.alloc(layout);
                assert!(!block.is_null());
                let bytes = std::slice::from_raw_parts(block, layout.size());
                assert!(
                    bytes.iter().all(|&b| b == 0),
                    "a recycled matrix block was not zeroed"
                );
                let grown = PaddingZeroing.realloc(block, layout, 2 * layout.size());
                assert!(!grown.is_null());
                let bytes = std::slice::from_raw_parts(grown, 2 * layout.size());
                assert!(
                    bytes.iter().all(|&b| b == 0),
                    "a grown matrix block was not zeroed"
                );
                PaddingZeroing.dealloc(grown, Layout::from_size_align(8192, MATRIX_ALIGN).unwrap());
            }
        }
    }
}
