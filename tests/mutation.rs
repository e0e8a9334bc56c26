//! Mutation test (issue #13): seeded random mutations of small IDX files (raw and gzip),
//! safetensors models, sweep grids and a researcher's own data (NumPy `.npy` features of four
//! element types and layouts, a safetensors data file, `.npy` labels loaded with their
//! features) — bit flips, truncation, header bytes and size claims, digits, appended bytes —
//! each opened with a 1 MiB memory limit. Every case must give a clean error or a valid result:
//! never a panic, and never a peak heap above a bound (counted by this binary's allocator).

use std::alloc::{GlobalAlloc, Layout, System};
use std::fs;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use corrflow::data::array::{ArrayFile, OpenOptions};
use corrflow::data::arrays::ArraysConfig;
use corrflow::data::{IdxFile, IdxImages};
use corrflow::io::MemoryLimit;
use corrflow::net::{model_io, Activation, Mlp};
use corrflow::sweep::grid::Grid;
use flate2::write::GzEncoder;
use flate2::Compression;

#[path = "shared/npy.rs"]
mod npy;

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

/// A `.npy` file ([`npy::npy_bytes`]) and the length of its header (where the data start).
fn npy(descr: &str, fortran: bool, shape: &[usize], data: &[u8]) -> (Vec<u8>, usize) {
    let bytes = npy::npy_bytes(descr, fortran, shape, data);
    let head = bytes.len() - data.len();
    (bytes, head)
}

/// The valid `.npy` feature files the mutations start from: 6 samples of 4 values as f64,
/// big-endian i16 and u8, and as f32 of shape (6, 2, 2) in Fortran order.
fn npy_bases() -> Vec<(Vec<u8>, usize)> {
    let values: Vec<f64> = (0..24).map(|i| f64::from(i * 7 % 11) - 3.5).collect();
    let f8: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let i2: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v as i16).to_be_bytes())
        .collect();
    let u1: Vec<u8> = values.iter().map(|&v| (v + 4.0) as u8).collect();
    let f4: Vec<u8> = values
        .iter()
        .flat_map(|&v| (v as f32).to_le_bytes())
        .collect();
    [
        npy("<f8", false, &[6, 4], &f8),
        npy(">i2", false, &[6, 4], &i2),
        npy("|u1", false, &[6, 4], &u1),
        npy("<f4", true, &[6, 2, 2], &f4),
    ]
    .to_vec()
}

/// A safetensors data file with features `x` (F32, 6 × 4) and labels `y` (U8, 6), and the
/// length of its header (the 8-byte size and the JSON).
fn safetensors_data() -> (Vec<u8>, usize) {
    let x: Vec<u8> = (0..24)
        .flat_map(|i| (i as f32 * 0.25).to_le_bytes())
        .collect();
    let y: Vec<u8> = (0..6).map(|i| i % 3).collect();
    let json = format!(
        "{{\"x\":{{\"dtype\":\"F32\",\"shape\":[6,4],\"data_offsets\":[0,{}]}},\
         \"y\":{{\"dtype\":\"U8\",\"shape\":[6],\"data_offsets\":[{},{}]}}}}",
        x.len(),
        x.len(),
        x.len() + y.len()
    );
    let mut bytes = (json.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(json.as_bytes());
    let head = bytes.len();
    bytes.extend_from_slice(&x);
    bytes.extend_from_slice(&y);
    (bytes, head)
}

/// Every value of the array `tensor` of `path` read as f64 (the count of finite ones).
fn read_array(
    path: &Path,
    tensor: &str,
    cache: &Path,
    limit: MemoryLimit,
) -> corrflow::Result<usize> {
    let opts = OpenOptions {
        tensor,
        cache_dir: Some(cache),
        limit,
    };
    let array = ArrayFile::open(path, &opts)?;
    let mut row = vec![0.0; array.row_len()];
    let mut finite = 0;
    for i in 0..array.len() {
        array.row_f64(i, &mut row);
        finite += row.iter().filter(|v| v.is_finite()).count();
    }
    Ok(finite)
}

/// Opens one mutated input; `Ok` carries a small summary of a valid result. `features` is the
/// valid `.npy` feature file beside the mutated labels of kind 7.
fn open(kind: usize, path: &Path, cache: &Path, features: &Path) -> corrflow::Result<usize> {
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
        4 => Ok(Grid::load(path)?.points.len()),
        5 => read_array(path, "x", cache, limit),
        6 => Ok(read_array(path, "x", cache, limit)? + read_array(path, "y", cache, limit)?),
        _ => {
            let data = ArraysConfig {
                train_x: features.to_path_buf(),
                train_y: path.to_path_buf(),
                test_x: None,
                test_y: None,
                tensors: ("x".into(), "y".into()),
                test_split: Some("0:1".parse().expect("a test split")),
                limit: None,
                scale: Default::default(),
                n_classes: None,
                cache_dir: Some(cache.to_path_buf()),
            };
            let loaded = data.load_limited(limit)?;
            Ok(loaded.split.train.len() + loaded.split.test.len())
        }
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
    let npy_bases = npy_bases();
    let (data_file, data_head) = safetensors_data();
    let (labels, labels_head) = npy(
        "<i8",
        false,
        &[6],
        &[0i64, 1, 2, 0, 1, 2].map(i64::to_le_bytes).concat(),
    );
    let features = tmp.path().join("x.npy");
    fs::write(&features, &npy_bases[0].0).unwrap();
    let paths = [
        tmp.path().join("m-idx3-ubyte"),
        tmp.path().join("m-idx3-ubyte.gz"),
        tmp.path().join("m-idx3-ubyte.gz"),
        tmp.path().join("m.safetensors"),
        tmp.path().join("g.toml"),
        tmp.path().join("f.npy"),
        tmp.path().join("d.safetensors"),
        tmp.path().join("y.npy"),
    ];
    let mut rng = Rng(0x5EED_0013);
    let (mut ok, mut err) = ([0usize; 8], [0usize; 8]);
    for case in 0..CASES {
        let kind = case % paths.len();
        let npy_base = &npy_bases[(case / paths.len()) % npy_bases.len()];
        let mut bytes = match kind {
            0 | 2 => idx.clone(),
            1 => gzip(&idx),
            3 => model.clone(),
            4 => grid.clone(),
            5 => npy_base.0.clone(),
            6 => data_file.clone(),
            _ => labels.clone(),
        };
        let head = match kind {
            0 | 2 => 16,
            1 | 4 => bytes.len(),
            3 => model_head,
            5 => npy_base.1,
            6 => data_head,
            _ => labels_head,
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
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            open(kind, &paths[kind], &cache, &features)
        }));
        let grown = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        match outcome {
            Ok(Ok(_)) => ok[kind] += 1,
            Ok(Err(e)) => {
                let msg = e.to_string();
                assert!(
                    msg.contains(&*paths[kind].to_string_lossy()),
                    "case {case}: error does not name the file: {msg}"
                );
                err[kind] += 1;
            }
            Err(_) => panic!("case {case} (kind {kind}) panicked; bytes: {bytes:?}"),
        }
        assert!(
            grown <= PEAK_BOUND,
            "case {case} (kind {kind}) allocated {grown} bytes"
        );
    }
    eprintln!("{CASES} cases, per kind: valid {ok:?}, clean errors {err:?}");
    assert_eq!(ok.iter().sum::<usize>() + err.iter().sum::<usize>(), CASES);
    // Both outcomes occur for every kind of input: its mutations are neither all harmless
    // nor all fatal.
    for kind in 0..paths.len() {
        assert!(
            ok[kind] >= 10 && err[kind] >= 100,
            "kind {kind}: {} valid, {} errors",
            ok[kind],
            err[kind]
        );
    }
}
