//! Memory-mapped input files that shrink while they are read. A map of a regular file whose
//! pages past a new end of file are touched raises SIGBUS (the kernel has no page to give), and
//! the process died of it — `bash: Bus error`, exit 135, no word of the file — when a training
//! set's `.npy` was truncated (rewritten in place, `cp` over it, a download restarting) while
//! `train` read it (adv38: at every delay tried from 0.02 to 0.4 s into the run).
//!
//! Every map [`super::map_regular`] makes is registered here (its address range and its path)
//! for as long as it lives ([`Mapped`]), however many are held at once (blocks of 64 slots,
//! chained as needed and kept for the process's life: adv38's single table of 64 named none past
//! the 64th); a SIGBUS handler looks the faulting address up among
//! them and, where it lies in one, writes "error: `<path>`: the file shrank while corrflow read
//! it …" to stderr and has the process exit with status 2 once the temporary files of its writes
//! are removed (`io::interrupt::exit_after_fault`). A SIGBUS outside every registered map
//! keeps its default action. The handler only reads atomics and calls `write(2)`,
//! async-signal-safe; blocks are allocated by `Mapped::new`, never by the handler, and never
//! freed, so a block the handler reaches stays valid.

use std::ops::Deref;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicU8, AtomicUsize, Ordering};
use std::sync::Once;

use memmap2::Mmap;

/// Slots per block of the registry.
const SLOTS: usize = 64;

/// One registered map: its first address (0 when free), its length and its path's bytes (a
/// leaked `Box<[u8]>`, reclaimed when the map is dropped).
#[derive(Debug)]
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    path: AtomicPtr<u8>,
    path_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    path: AtomicPtr::new(std::ptr::null_mut()),
    path_len: AtomicUsize::new(0),
};

/// A block of slots and the next block (null until more maps than the blocks so far hold are
/// held at once).
struct Block {
    slots: [Slot; SLOTS],
    next: AtomicPtr<Block>,
}

/// The first block; the others hang from it.
static REGISTRY: Block = Block {
    slots: [FREE; SLOTS],
    next: AtomicPtr::new(std::ptr::null_mut()),
};

/// Every slot of every block so far, in order.
fn slots() -> impl Iterator<Item = &'static Slot> {
    std::iter::successors(Some(&REGISTRY), |block| {
        // SAFETY: a non-null `next` is a leaked `Box<Block>`, published once and never freed.
        unsafe { block.next.load(Ordering::Acquire).as_ref() }
    })
    .flat_map(|block| block.slots.iter())
}

/// The block after `block`, chained to it first if there is none yet (one allocation, never
/// freed; a block another thread chained first is taken instead).
fn next_block(block: &'static Block) -> &'static Block {
    let next = block.next.load(Ordering::Acquire);
    // SAFETY: as in [`slots`].
    if let Some(next) = unsafe { next.as_ref() } {
        return next;
    }
    let fresh = Box::into_raw(Box::new(Block {
        slots: [FREE; SLOTS],
        next: AtomicPtr::new(std::ptr::null_mut()),
    }));
    let chained = block.next.compare_exchange(
        std::ptr::null_mut(),
        fresh,
        Ordering::AcqRel,
        Ordering::Acquire,
    );
    // SAFETY: the block chained (`fresh`, or `winner` that another thread chained first) is a
    // leaked `Box<Block>`, never freed; a `fresh` that lost was never published: freed here.
    unsafe {
        match chained {
            Ok(_) => &*fresh,
            Err(winner) => {
                drop(Box::from_raw(fresh));
                &*winner
            }
        }
    }
}

/// A read-only map of a regular file, registered for the SIGBUS handler while it lives; reads
/// as its bytes.
#[derive(Debug)]
pub struct Mapped {
    map: Mmap,
    slot: Option<&'static Slot>,
}

impl Mapped {
    /// Registers `map`, the map of `path` (installing the SIGBUS handler on first use).
    pub(super) fn new(map: Mmap, path: &Path) -> Self {
        static HANDLER: Once = Once::new();
        HANDLER.call_once(install_handler);
        let start = map.as_ptr() as usize;
        if map.is_empty() || start == 0 {
            return Mapped { map, slot: None };
        }
        let bytes: Box<[u8]> = path.as_os_str().as_bytes().into();
        let path_len = bytes.len();
        let path_ptr = Box::into_raw(bytes) as *mut u8;
        let mut block = &REGISTRY;
        loop {
            // Claim a free slot by its length (0 = free), fill it, publish its start last.
            let claimed = block.slots.iter().find(|slot| {
                slot.len
                    .compare_exchange(0, map.len(), Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            });
            if let Some(slot) = claimed {
                slot.path.store(path_ptr, Ordering::Relaxed);
                slot.path_len.store(path_len, Ordering::Relaxed);
                slot.start.store(start, Ordering::Release);
                return Mapped {
                    map,
                    slot: Some(slot),
                };
            }
            block = next_block(block);
        }
    }
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        let Some(slot) = self.slot else { return };
        slot.start.store(0, Ordering::Release);
        let ptr = slot.path.swap(std::ptr::null_mut(), Ordering::AcqRel);
        let len = slot.path_len.load(Ordering::Relaxed);
        // SAFETY: `ptr` and `len` are the path `new` leaked into this slot, taken out once.
        drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
        slot.len.store(0, Ordering::Release);
    }
}

/// Installs [`on_sigbus`] for SIGBUS.
fn install_handler() {
    // SAFETY: a zeroed sigaction with a valid handler of the SA_SIGINFO form and an empty mask.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_sigbus as *const () as usize;
        act.sa_flags = libc::SA_SIGINFO;
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut());
    }
}

/// The registered map holding `addr`: its path's bytes.
fn mapped_at(addr: usize) -> Option<&'static [u8]> {
    slots().find_map(|slot| {
        let start = slot.start.load(Ordering::Acquire);
        let len = slot.len.load(Ordering::Acquire);
        if start == 0 || addr < start || addr - start >= len {
            return None;
        }
        let ptr = slot.path.load(Ordering::Acquire);
        // SAFETY: a slot with a start holds the path leaked for it until its map is dropped,
        // which cannot happen while that map is being read.
        (!ptr.is_null()).then(|| unsafe {
            std::slice::from_raw_parts(ptr, slot.path_len.load(Ordering::Relaxed))
        })
    })
}

/// Whether a fault has been said: [`QUIET`] until the first, [`SAYING`] while its thread
/// writes the line, [`SAID`] once written. Threads that fault after the first (a sweep's points
/// reading one shrunk file: 60 copies of the line, the first two interleaved, adv39) say
/// nothing more, and wait for the line to be written before they end the process: one that
/// exited at once cut the line to "error: " (CI load, fiftieth session).
static SAYING_STATE: AtomicU8 = AtomicU8::new(QUIET);
const QUIET: u8 = 0;
const SAYING: u8 = 1;
const SAID: u8 = 2;

/// How long a later fault waits for the first one's line (a stderr that never drains, a pipe
/// nobody reads, must not hang the exit): 2 000 naps of 1 ms.
const WAIT_NAPS: usize = 2000;

/// The SIGBUS handler (module docs): the first fault in a registered map says the file, and
/// every one exits with status 2; any other restores the default action, and the fault,
/// repeated on return, ends the process as before.
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo_t for a SA_SIGINFO handler of SIGBUS.
    let addr = unsafe { (*info).si_addr() } as usize;
    let Some(path) = mapped_at(addr) else {
        // SAFETY: restoring the default action of the signal being handled.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    };
    if SAYING_STATE
        .compare_exchange(QUIET, SAYING, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        let nap = libc::timespec {
            tv_sec: 0,
            tv_nsec: 1_000_000,
        };
        for _ in 0..WAIT_NAPS {
            if SAYING_STATE.load(Ordering::Acquire) == SAID {
                break;
            }
            // SAFETY: nanosleep of a valid timespec, async-signal-safe.
            unsafe { libc::nanosleep(&nap, std::ptr::null_mut()) };
        }
        super::interrupt::exit_after_fault();
    }
    let parts: [&[u8]; 3] = [
        b"error: ",
        path,
        b": the file shrank while corrflow read it (truncated or rewritten in place: \
           the bytes it declared are gone); expected the file unchanged for the whole run: \
           rerun once it is complete\n",
    ];
    let iov = parts.map(|part| libc::iovec {
        iov_base: part.as_ptr() as *mut libc::c_void,
        iov_len: part.len(),
    });
    // SAFETY: writev(2) of valid buffers, async-signal-safe; one call, so the line is not
    // split by other writers to a pipe (up to PIPE_BUF); a short write loses text only.
    unsafe { libc::writev(2, iov.as_ptr(), iov.len() as libc::c_int) };
    SAYING_STATE.store(SAID, Ordering::Release);
    super::interrupt::exit_after_fault();
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::io::Write;

    use super::*;

    /// A live map is found by any address inside it and named by its path; once dropped, its
    /// path is no longer found there.
    #[test]
    fn a_registered_map_is_found_by_its_addresses_until_dropped() {
        let dir = std::env::temp_dir().join(format!("corrflow-mapped-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.bin");
        File::create(&path)
            .unwrap()
            .write_all(&[7u8; 5000])
            .unwrap();
        let file = File::open(&path).unwrap();
        // SAFETY: a read-only map of a file this test owns.
        let mapped = Mapped::new(unsafe { Mmap::map(&file) }.unwrap(), &path);
        let start = mapped.as_ptr() as usize;
        let name = path.as_os_str().as_bytes();
        assert_eq!(mapped_at(start), Some(name));
        assert_eq!(mapped_at(start + 4999), Some(name));
        assert_eq!(mapped_at(start + 5000), None);
        drop(mapped);
        // (Another test's map may take the freed addresses: only this path must be gone.)
        assert_ne!(mapped_at(start), Some(name));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Far more maps than one block's 64 held at once are each found by their own path (adv38's
    /// table named none past the 64th: a fault there was a bare `Bus error`).
    #[test]
    fn maps_past_a_block_are_registered_too() {
        let dir = tempfile::tempdir().unwrap();
        let maps: Vec<_> = (0..3 * SLOTS + 5)
            .map(|i| {
                let path = dir.path().join(format!("m{i}.bin"));
                File::create(&path).unwrap().write_all(&[1u8; 100]).unwrap();
                let file = File::open(&path).unwrap();
                // SAFETY: a read-only map of a file this test owns.
                (
                    Mapped::new(unsafe { Mmap::map(&file) }.unwrap(), &path),
                    path,
                )
            })
            .collect();
        for (mapped, path) in &maps {
            let at = mapped.as_ptr() as usize;
            assert_eq!(mapped_at(at + 99), Some(path.as_os_str().as_bytes()));
        }
    }
}
