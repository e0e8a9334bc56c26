//! Arbitrary bytes as a raw IDX file: a clean error or a valid file, never a panic.
#![no_main]

use corrflow::data::{IdxImages, IdxFile};
use corrflow::io::MemoryLimit;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f-idx3-ubyte");
    std::fs::write(&path, data).unwrap();
    if let Ok(file) = IdxFile::open_limited(&path, dir.path(), MemoryLimit::new(1 << 20)) {
        let total: usize = file.dims().iter().product();
        assert_eq!(file.data().len(), total);
        if let Ok(images) = IdxImages::from_file(file) {
            for i in 0..images.len() {
                assert_eq!(images.image(i).map(<[u8]>::len), Some(images.pixels()));
            }
        }
    }
});
