//! corrflow's allocator ([`PaddingZeroing`]) hands out matrix blocks over 32 MiB zeroed also
//! where glibc would serve them from freed heap memory (issue #14 items 2 and 6: garbage in
//! faer's padding rows costs microcode assists). glibc takes a request over its mmap threshold
//! from a free chunk of the heap when one fits and mmaps only otherwise; which happens depends
//! on the heap's history. This test makes it certain: with glibc's own mmaps switched off
//! (`M_MMAP_MAX` = 0, process-wide, hence a test binary of its own) every block glibc hands out
//! is heap, where freed, dirtied blocks wait.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

use std::alloc::{GlobalAlloc, Layout, System};

use corrflow::io::{keep_freed_memory, PaddingZeroing};

/// The alignment of faer's matrix blocks.
const ALIGN: usize = 64;

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, ALIGN).unwrap()
}

/// Whether `len` bytes at `ptr` all equal `byte`.
///
/// # Safety
/// `ptr` points to `len` readable bytes.
unsafe fn all_equal(ptr: *const u8, len: usize, byte: u8) -> bool {
    // SAFETY: as the caller promises.
    unsafe { std::slice::from_raw_parts(ptr, len) }
        .iter()
        .all(|&b| b == byte)
}

/// One round: four 12 MiB heap blocks dirtied and freed, then a 40 MiB matrix block, which
/// must come zeroed; grown (mapping to mapping), shrunk back onto the heap and grown off it
/// again, it keeps its contents and every new byte is zero. Returns how many bytes of a 40 MiB
/// block glibc itself handed out just before were nonzero (reported, not asserted: glibc's
/// choice of chunk is its own).
fn round() -> usize {
    let piece = layout(12 << 20);
    let (big, small) = (40 << 20, 16 << 20);
    // SAFETY: non-zero layouts; every block is freed with the layout it was made with, and
    // read or written only within its size.
    unsafe {
        let dirty = |count: bool| {
            let pieces: Vec<*mut u8> = (0..4).map(|_| System.alloc(piece)).collect();
            for &p in &pieces {
                assert!(!p.is_null());
                p.write_bytes(0xA5, piece.size());
            }
            for &p in &pieces {
                System.dealloc(p, piece);
            }
            if !count {
                return 0;
            }
            let plain = System.alloc(layout(big));
            assert!(!plain.is_null());
            let n = std::slice::from_raw_parts(plain, big)
                .iter()
                .filter(|&&b| b != 0)
                .count();
            plain.write_bytes(0xA5, big);
            System.dealloc(plain, layout(big));
            n
        };
        let garbage = dirty(true);
        dirty(false);
        let block = PaddingZeroing.alloc(layout(big));
        assert!(!block.is_null());
        assert!(
            all_equal(block, big, 0),
            "a large matrix block held garbage"
        );
        block.write_bytes(0x3C, big);
        let grown = PaddingZeroing.realloc(block, layout(big), 2 * big);
        assert!(!grown.is_null());
        assert!(all_equal(grown, big, 0x3C), "growing lost the contents");
        assert!(
            all_equal(grown.add(big), big, 0),
            "a grown large block held garbage"
        );
        let shrunk = PaddingZeroing.realloc(grown, layout(2 * big), small);
        assert!(!shrunk.is_null());
        assert!(
            all_equal(shrunk, small, 0x3C),
            "shrinking lost the contents"
        );
        let regrown = PaddingZeroing.realloc(shrunk, layout(small), big);
        assert!(!regrown.is_null());
        assert!(
            all_equal(regrown, small, 0x3C),
            "regrowing lost the contents"
        );
        assert!(
            all_equal(regrown.add(small), big - small, 0),
            "a block grown off the heap held garbage"
        );
        PaddingZeroing.dealloc(regrown, layout(big));
        garbage
    }
}

/// Rounds in fresh threads (sharing the heap's one arena under `keep_freed_memory`), so that
/// each meets the freed blocks of the rounds before it.
#[test]
fn large_matrix_blocks_come_zeroed_where_the_heap_holds_garbage() {
    keep_freed_memory();
    // SAFETY: mallopt only sets an allocator parameter; 0 forbids glibc's own mmaps.
    assert_eq!(unsafe { libc::mallopt(libc::M_MMAP_MAX, 0) }, 1);
    let garbage: Vec<usize> = (0..4)
        .map(|_| std::thread::spawn(round).join().unwrap())
        .collect();
    eprintln!("nonzero bytes of glibc's own 40 MiB blocks, by round: {garbage:?}");
}
