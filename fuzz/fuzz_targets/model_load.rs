//! Arbitrary bytes as a safetensors model: a clean error or a valid network, never a panic.
#![no_main]

use corrflow::io::MemoryLimit;
use corrflow::net::model_io;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    std::fs::write(&path, data).unwrap();
    if let Ok(net) = model_io::load_limited(&path, MemoryLimit::new(1 << 20)) {
        net.validate().unwrap();
    }
});
