//! Arbitrary bytes as a `.gz` IDX file (and the same bytes gzip-compressed, so that the fuzzer
//! also reaches the inflated header): a clean error or a valid file within a 1 MiB limit.
#![no_main]

use std::io::Write;

use corrflow::data::IdxFile;
use corrflow::io::MemoryLimit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).unwrap();
    let compressed = enc.finish().unwrap();
    for (name, bytes) in [("raw.gz", data), ("wrapped.gz", &compressed[..])] {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        if let Ok(file) = IdxFile::open_limited(&path, &cache, MemoryLimit::new(1 << 20)) {
            let total: usize = file.dims().iter().product();
            assert_eq!(file.data().len(), total);
        }
    }
});
