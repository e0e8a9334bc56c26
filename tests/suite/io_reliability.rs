//! Issue #13, file part: every input path refuses a FIFO, directory or device at once; gzip
//! files are checked as they inflate; the gzip cache cannot serve stale or edited data; a model
//! is validated before its tensors are read; the results file carries an OS lock; an IDX header
//! claiming terabytes gives an error naming the file.

use std::ffi::CString;
use std::fs;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use corrflow::data::array::{ArrayFile, OpenOptions as ArrayOptions};
use corrflow::data::mnist::{MnistConfig, TestSplit};
use corrflow::data::{write_idx_u8, IdxFile};
use corrflow::io::MemoryLimit;
use corrflow::net::{model_io, Activation, Mlp};
use corrflow::sweep::grid::Grid;
use corrflow::sweep::store::{lock_dir, read_log, ResultsLog, RESULTS_FILE};
use flate2::write::GzEncoder;
use flate2::Compression;

/// Runs `f` in a thread and returns its error message, failing the test when it takes longer
/// than 10 s (a blocked open) or succeeds.
fn err_within<T: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> corrflow::Result<T> + Send + 'static,
) -> String {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f().err().map(|e| e.to_string()));
    });
    match rx.recv_timeout(Duration::from_secs(10)) {
        Ok(Some(msg)) => msg,
        Ok(None) => panic!("{what}: accepted"),
        Err(_) => panic!("{what}: still blocked after 10 s"),
    }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

#[test]
fn a_fifo_or_directory_as_any_input_is_refused_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    for name in [
        "raw-idx1-ubyte",
        "gz-idx1-ubyte.gz",
        "model.safetensors",
        "grid.toml",
    ] {
        let fifo = tmp.path().join(name);
        mkfifo(&fifo);
        let (f, c) = (fifo.clone(), cache.clone());
        let msg = err_within(name, move || IdxFile::open_with_cache(&f, &c));
        assert!(
            msg.contains("not a regular file (a FIFO)") && msg.contains(name),
            "{msg}"
        );
        let f = fifo.clone();
        let msg = err_within(name, move || model_io::load(&f));
        assert!(
            msg.contains("not a regular file (a FIFO)") && msg.contains(name),
            "{msg}"
        );
        let f = fifo.clone();
        let msg = err_within(name, move || Grid::load(&f));
        assert!(
            msg.contains("not a regular file (a FIFO)") && msg.contains(name),
            "{msg}"
        );
    }
    // A results log that is a FIFO, read and locked.
    let out = tmp.path().join("out");
    fs::create_dir(&out).unwrap();
    mkfifo(&out.join(RESULTS_FILE));
    let p = out.join(RESULTS_FILE);
    let msg = err_within("results", move || read_log(&p, None));
    assert!(msg.contains("not a regular file (a FIFO)"), "{msg}");
    let o = out.clone();
    let msg = err_within("lock", move || lock_dir(&o));
    assert!(msg.contains("not a regular file (a FIFO)"), "{msg}");
    // An MNIST folder whose training images are a FIFO.
    let mnist = tmp.path().join("mnist");
    fs::create_dir(&mnist).unwrap();
    mkfifo(&mnist.join("train-images-idx3-ubyte"));
    write_idx_u8(mnist.join("train-labels-idx1-ubyte"), &[1], &[0]).unwrap();
    let cfg = MnistConfig::from_dir(&mnist);
    let msg = err_within("mnist", move || cfg.load());
    assert!(
        msg.contains("not a regular file (a FIFO)") && msg.contains("train-images-idx3-ubyte"),
        "{msg}"
    );
    // A directory says so.
    let d = tmp.path().join("dir.safetensors");
    fs::create_dir(&d).unwrap();
    let msg = err_within("dir", move || model_io::load(&d));
    assert!(msg.contains("is a directory"), "{msg}");
    // A character device (no end to its data) is refused too.
    let msg = err_within("dev", || model_io::load(Path::new("/dev/zero")));
    assert!(msg.contains("a character device"), "{msg}");
    // An MNIST folder that cannot be read says why, not "not found".
    let file = tmp.path().join("plain");
    fs::write(&file, b"x").unwrap();
    let cfg = MnistConfig::from_dir(file.join("sub"));
    let msg = err_within("mnist-dir", move || cfg.load());
    assert!(msg.contains("Not a directory"), "{msg}");
}

/// A /proc file reports 0 bytes and read as an empty model or data file ("0 bytes"); a /sys
/// attribute reports a page but cannot be mapped ("No such device (os error 19)"). Both are
/// now named as special files, as a model, task data and MNIST files (twentieth session).
#[test]
fn a_proc_or_sys_file_as_an_input_is_named_as_a_special_file() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    for (file, what) in [
        ("/proc/self/status", "whose size is not known"),
        ("/proc/cpuinfo", "whose size is not known"),
        (
            "/sys/devices/system/cpu/online",
            "cannot be mapped into memory",
        ),
    ] {
        let path = Path::new(file);
        let errors = [
            model_io::load(path).unwrap_err().to_string(),
            model_io::metadata(path).unwrap_err().to_string(),
            IdxFile::open_with_cache(path, &cache)
                .err()
                .unwrap()
                .to_string(),
            ArrayFile::open(
                path,
                &ArrayOptions {
                    tensor: "x",
                    cache_dir: Some(&cache),
                    limit: MemoryLimit::default(),
                },
            )
            .err()
            .unwrap()
            .to_string(),
        ];
        for err in errors {
            assert!(
                err.contains(file) && err.contains("a special file") && err.contains(what),
                "{err}"
            );
        }
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn header(dims: &[u32]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v
}

/// Files in `dir` (none when it does not exist).
fn listing(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir(dir)
        .map(|r| r.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

#[test]
fn gzip_is_checked_against_its_header_as_it_inflates() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    // A bomb: the header declares 10 bytes, the stream inflates to 4 MiB of zeros. Inflation
    // stops one byte past the declared size, and no cache file is left behind.
    let mut bomb = header(&[10]);
    bomb.resize(bomb.len() + (4 << 20), 0);
    let p = tmp.path().join("bomb-idx1-ubyte.gz");
    fs::write(&p, gzip(&bomb)).unwrap();
    let e = IdxFile::open_with_cache(&p, &cache)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("bomb-idx1-ubyte.gz")
            && e.contains("trailing bytes")
            && e.contains("inflates to at least 11"),
        "{e}"
    );
    assert!(listing(&cache).is_empty(), "{:?}", listing(&cache));
    // A header declaring more than the memory limit is refused before inflating.
    let p = tmp.path().join("big-idx3-ubyte.gz");
    fs::write(&p, gzip(&header(&[1000, 1000, 1000]))).unwrap();
    let e = IdxFile::open_limited(&p, &cache, MemoryLimit::new(1 << 20))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("big-idx3-ubyte.gz")
            && e.contains("1000×1000×1000")
            && e.contains("memory limit"),
        "{e}"
    );
    assert!(listing(&cache).is_empty(), "{:?}", listing(&cache));
}

#[test]
fn the_gzip_cache_never_serves_a_replaced_source_or_an_edited_entry() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let src = tmp.path().join("l-idx1-ubyte.gz");
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let put = |data: &[u8]| {
        write_idx_u8(&src, &[3], data).unwrap();
        let f = fs::File::options().write(true).open(&src).unwrap();
        f.set_modified(t0).unwrap();
    };
    put(&[1, 2, 3]);
    let len0 = fs::metadata(&src).unwrap().len();
    assert_eq!(
        IdxFile::open_with_cache(&src, &cache).unwrap().data(),
        &[1, 2, 3]
    );
    // Replaced as `cp -p` would: same size, same mtime, other content.
    put(&[1, 2, 4]);
    assert_eq!(fs::metadata(&src).unwrap().len(), len0);
    assert_eq!(
        IdxFile::open_with_cache(&src, &cache).unwrap().data(),
        &[1, 2, 4]
    );
    // An edited cache entry is rebuilt, not trusted and not blamed on the source.
    let entries = listing(&cache);
    assert_eq!(entries.len(), 1, "{entries:?}");
    let mut bytes = fs::read(&entries[0]).unwrap();
    bytes[10] ^= 0x01;
    fs::write(&entries[0], &bytes).unwrap();
    assert_eq!(
        IdxFile::open_with_cache(&src, &cache).unwrap().data(),
        &[1, 2, 4]
    );
    fs::write(&entries[0], b"garbage").unwrap();
    assert_eq!(
        IdxFile::open_with_cache(&src, &cache).unwrap().data(),
        &[1, 2, 4]
    );
    // The temporary file of a killed run (its pid no longer alive) is removed by the next
    // inflation.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let debris = cache.join(format!(".corrflow-tmp-{dead}-0-l-idx1-ubyte.idx"));
    fs::write(&debris, vec![0u8; 1000]).unwrap();
    put(&[7, 7, 7]);
    assert_eq!(
        IdxFile::open_with_cache(&src, &cache).unwrap().data(),
        &[7, 7, 7]
    );
    assert!(!debris.exists(), "stale temporary file left");
    assert_eq!(listing(&cache).len(), 1, "{:?}", listing(&cache));
}

#[test]
fn model_errors_name_the_file_and_tensor_and_claims_are_bounded() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("m.safetensors");
    let net = Mlp::init(&[3, 2, 2], Activation::Relu, 1.0, 1).unwrap();
    model_io::save(&net, &path, &[]).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    // hidden1.weight is the first tensor of the data section (sorted names): its element (0, 1)
    // becomes +inf.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let json: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let start = json["hidden1.weight"]["data_offsets"][0].as_u64().unwrap() as usize;
    let at = 8 + n + start + 8;
    bytes[at..at + 8].copy_from_slice(&f64::INFINITY.to_le_bytes());
    let bad = tmp.path().join("inf.safetensors");
    fs::write(&bad, &bytes).unwrap();
    let e = model_io::load(&bad).unwrap_err().to_string();
    assert!(
        e.contains("inf.safetensors")
            && e.contains("hidden1.weight")
            && e.contains("non-finite value inf at row 0, column 1"),
        "{e}"
    );
    // Widths beyond the memory limit are refused before any tensor is read.
    let e = model_io::load_limited(&path, MemoryLimit::new(64))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("m.safetensors") && e.contains("memory limit"),
        "{e}"
    );
    // Extra bytes after the declared tensors are an error.
    let mut long = fs::read(&path).unwrap();
    long.extend_from_slice(&[0; 4096]);
    let grown = tmp.path().join("grown.safetensors");
    fs::write(&grown, &long).unwrap();
    let e = model_io::load(&grown).unwrap_err().to_string();
    assert!(e.contains("grown.safetensors"), "{e}");
}

#[test]
fn the_results_file_itself_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let (_writer, _) = ResultsLog::open(&out, None).unwrap();
    // Deleting every other file in the folder (a lock file, say) does not let a second writer in.
    for p in listing(&out) {
        if p.file_name().unwrap() != RESULTS_FILE {
            fs::remove_file(p).unwrap();
        }
    }
    let e = lock_dir(&out).unwrap_err().to_string();
    assert!(e.contains("another corrflow sweep"), "{e}");
    assert!(ResultsLog::open(&out, None).is_err());
}

/// Writes a sparse IDX image file of `n × rows × cols` (nothing but the header is stored) and a
/// label file of `n` zeros into `dir`.
fn sparse_pair(dir: &Path, n: u32, rows: u32, cols: u32) {
    let img = dir.join("train-images-idx3-ubyte");
    let f = fs::File::create(&img).unwrap();
    (&f).write_all(&header(&[n, rows, cols])).unwrap();
    f.set_len(16 + u64::from(n) * u64::from(rows) * u64::from(cols))
        .unwrap();
    write_idx_u8(
        dir.join("train-labels-idx1-ubyte"),
        &[n as usize],
        &vec![0; n as usize],
    )
    .unwrap();
}

#[test]
fn an_honest_terabyte_claim_is_an_error_and_a_limit_reads_only_what_it_uses() {
    let tmp = tempfile::tempdir().unwrap();
    sparse_pair(tmp.path(), 1_000_000, 1000, 1000);
    let mut cfg = MnistConfig::from_dir(tmp.path());
    cfg.test_split = Some(TestSplit::new(0, 5).unwrap());
    let e = cfg.load().unwrap_err().to_string();
    assert!(
        e.contains("train-images-idx3-ubyte") && e.contains("memory limit"),
        "{e}"
    );
    // Ten training samples (and five test samples) of the same file fit.
    cfg.limit = Some(10);
    let m = cfg.load().unwrap();
    assert_eq!(m.split.train.x.shape(), (1_000_000, 10));
    assert_eq!(m.split.test.x.shape(), (1_000_000, 5));
}
