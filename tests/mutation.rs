//! Mutation test (issue #13): seeded random mutations of small IDX files (raw and gzip),
//! safetensors models and sweep grids — bit flips, truncation, header bytes and size claims,
//! digits, appended bytes — each opened with a 1 MiB memory limit. Every case must give a clean error or a valid result:
//! never a panic, and never a peak heap above a bound (counted by this binary's allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use corrflow::data::{IdxFile, IdxImages};
use corrflow::io::MemoryLimit;
use corrflow::net::{model_io, Activation, Mlp};
use corrflow::sweep::grid::Grid;
use flate2::write::GzEncoder;
use flate2::Compression;

/// The system allocator, counting live bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only counters are updated.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` (a valid, non-zero-size layout) is passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `alloc` above with this `layout`, as the caller guarantees.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Cases per run.
const CASES: usize = 10_000;
/// Memory limit handed to the loaders.
const LIMIT: u64 = 1 << 20;
/// Bound on the heap growth of any single case.
const PEAK_BOUND: usize = 16 << 20;

/// A small xorshift64* generator: the test needs only reproducible bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// One random mutation of `b`; `head` is the length of the region holding header fields.
fn mutate(rng: &mut Rng, b: &mut Vec<u8>, head: usize) {
    match rng.below(6) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                if !b.is_empty() {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
        }
        1 => b.truncate(rng.below(b.len() + 1)),
        2 => {
            let i = rng.below(head.min(b.len()));
            if i < b.len() {
                b[i] = rng.next() as u8;
            }
        }
        3 => {
            // A size claim: a 4- or 8-byte field inside the header region set to a big value.
            let claims = [0u64, 1, 255, 65_535, 1 << 31, u64::from(u32::MAX), u64::MAX];
            let v = claims[rng.below(claims.len())].to_le_bytes();
            let width = if rng.below(2) == 0 { 4 } else { 8 };
            let i = rng.below(head.min(b.len()));
            for (x, &y) in b.iter_mut().skip(i).zip(&v[..width]) {
                *x = y;
            }
        }
        4 => {
            let n = 1 + rng.below(64);
            b.extend((0..n).map(|_| rng.next() as u8));
        }
        _ => {
            // A digit of a text header (the safetensors JSON) changed; elsewhere a byte.
            let digits: Vec<usize> = (0..head.min(b.len()))
                .filter(|&i| b[i].is_ascii_digit())
                .collect();
            if !digits.is_empty() {
                let i = digits[rng.below(digits.len())];
                b[i] = b'0' + rng.below(10) as u8;
            }
        }
    }
}

/// Opens one mutated input; `Ok` carries a small summary of a valid result.
fn open(kind: usize, path: &Path, cache: &Path) -> corrflow::Result<usize> {
    let limit = MemoryLimit::new(LIMIT);
    match kind {
        0..=2 => {
            let file = IdxFile::open_limited(path, cache, limit)?;
            let sum = file.data().iter().map(|&x| usize::from(x)).sum::<usize>();
            let images = IdxImages::from_file(file)?;
            Ok(sum + (0..images.len()).filter_map(|i| images.image(i)).count())
        }
        3 => {
            let net = model_io::load_limited(path, limit)?;
            net.validate()?;
            Ok(net.widths().iter().sum())
        }
        _ => Ok(Grid::load(path)?.points.len()),
    }
}

#[test]
fn mutated_inputs_give_clean_errors_within_a_memory_bound() {
    // Memory-backed when available: the cache's fsync then costs nothing.
    let shm = Path::new("/dev/shm");
    let tmp = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let cache = tmp.path().join("cache");
    let mut idx = vec![0, 0, 8, 3, 0, 0, 0, 4, 0, 0, 0, 3, 0, 0, 0, 3];
    idx.extend((0..36u8).map(|i| i.wrapping_mul(37)));
    let model_path = tmp.path().join("base.safetensors");
    let net = Mlp::init(&[4, 3, 2], Activation::Relu, 1.0, 3).unwrap();
    model_io::save(&net, &model_path, &[("task", "xor".into())]).unwrap();
    let model = fs::read(&model_path).unwrap();
    let model_head = 8 + u64::from_le_bytes(model[..8].try_into().unwrap()) as usize;
    let grid = fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sweep-example.toml"))
        .unwrap();
    let paths = [
        tmp.path().join("m-idx3-ubyte"),
        tmp.path().join("m-idx3-ubyte.gz"),
        tmp.path().join("m-idx3-ubyte.gz"),
        tmp.path().join("m.safetensors"),
        tmp.path().join("g.toml"),
    ];
    let mut rng = Rng(0x5EED_0013);
    let (mut ok, mut err) = (0usize, 0usize);
    for case in 0..CASES {
        let kind = case % paths.len();
        let mut bytes = match kind {
            0 | 2 => idx.clone(),
            1 => gzip(&idx),
            3 => model.clone(),
            _ => grid.clone(),
        };
        let head = match kind {
            0 | 2 => 16,
            1 | 4 => bytes.len(),
            _ => model_head,
        };
        for _ in 0..1 + rng.below(3) {
            mutate(&mut rng, &mut bytes, head);
        }
        if kind == 2 {
            bytes = gzip(&bytes);
        }
        fs::write(&paths[kind], &bytes).unwrap();
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let outcome = catch_unwind(AssertUnwindSafe(|| open(kind, &paths[kind], &cache)));
        let grown = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        match outcome {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&*paths[kind].to_string_lossy()),
                    "case {case}: error does not name the file: {msg}"
                );
                err += 1;
            }
            Err(_) => panic!("case {case} (kind {kind}) panicked; bytes: {bytes:?}"),
        }
        assert!(
            grown <= PEAK_BOUND,
            "case {case} (kind {kind}) allocated {grown} bytes"
        );
    }
    eprintln!("{CASES} cases: {ok} valid, {err} clean errors");
    assert_eq!(ok + err, CASES);
    // Both outcomes occur: the mutations are neither all harmless nor all fatal.
    assert!(ok > 100 && err > 1000, "{ok} valid, {err} errors");
}
