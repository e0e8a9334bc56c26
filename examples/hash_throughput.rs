//! Throughput of the content hash a sweep's records fingerprint their input files with
//! (`sweep::inputs`: XXH64, streamed from the file in 1 MiB blocks) against byte-wise FNV-1a
//! (the point ids' hash), on the file given: `hash_throughput FILE [ROUNDS]`. Prints GB/s of
//! each, best of ROUNDS (default 5); the file is read once into memory for the in-memory
//! figures, then streamed from the page cache for `fingerprint`'s.

use std::time::Instant;

use corrflow::io::checksum::xxh64;
use corrflow::sweep::inputs::fingerprint;

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn best(rounds: usize, bytes: usize, mut f: impl FnMut() -> u64) -> (f64, u64) {
    let mut fastest = f64::INFINITY;
    let mut h = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        h = std::hint::black_box(f());
        fastest = fastest.min(t.elapsed().as_secs_f64());
    }
    (bytes as f64 / fastest * 1e-9, h)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = std::path::PathBuf::from(args.next().expect("usage: hash_throughput FILE [ROUNDS]"));
    let rounds: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("ROUNDS: a count"));
    let bytes = std::fs::read(&path).expect("the file reads");
    let n = bytes.len();
    let (x, hx) = best(rounds, n, || xxh64(&bytes));
    let (f, hf) = best(rounds, n, || fnv1a(&bytes));
    let (s, hs) = best(rounds, n, || fingerprint(&path).expect("the file reads").1);
    assert_eq!(hx, hs, "streamed and in-memory XXH64 agree");
    println!("{n} bytes: xxh64 in memory {x:.2} GB/s, fnv1a in memory {f:.2} GB/s, fingerprint (streamed) {s:.2} GB/s; xxh64 {hx:016x} fnv1a {hf:016x}");
}
