//! The environment a run starts in (sixteenth session): `RAYON_NUM_THREADS` is held to the
//! bound of `--threads`, `ulimit -v` bounds the default memory limit, and an unusable
//! `CORRFLOW_CACHE` is named.

use super::common::{command, set_rlimit, train_data};

#[test]
fn rayon_num_threads_beyond_the_bound_of_threads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.safetensors");
    let train = |value: &str| {
        command()
            .args(["train", "--task", "xor", "--epochs", "1", "--out"])
            .arg(&out)
            .env("RAYON_NUM_THREADS", value)
            .output()
            .unwrap()
    };
    let o = train("100000");
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("RAYON_NUM_THREADS=100000"), "{err}");
    assert!(!out.exists());
    // Values rayon itself ignores, or a count within the bound, run.
    for ok in ["abc", "0", "1"] {
        let o = train(ok);
        assert!(
            o.status.success(),
            "{ok}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

#[test]
fn the_default_memory_limit_stays_under_ulimit_v() {
    // 48 MiB of address space: below the estimate's fixed base; 80 MiB: above the XOR run's
    // estimate, but a second thread's GEMM workspace (64 MiB) no longer fits, where the run
    // used to abort inside faer (exit 134). Both must be refused by the estimate, naming it.
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let model = model.to_str().unwrap();
    for (args, bytes) in [
        (vec!["analyze", "--task", "xor", "--json"], 48u64 << 20),
        (
            vec![
                "train",
                "--task",
                "xor",
                "--epochs",
                "1",
                "--threads",
                "2",
                "--out",
                model,
            ],
            80 << 20,
        ),
    ] {
        let mut cmd = command();
        cmd.args(&args);
        set_rlimit(&mut cmd, libc::RLIMIT_AS, bytes);
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {:?}: {err}", o.status);
        assert!(
            err.contains("(ulimit -v, less 66 MiB per thread for its stack and faer's GEMM"),
            "{err}"
        );
    }
    assert!(!dir.path().join("m.safetensors").exists());
}

#[test]
fn a_cache_folder_that_is_a_file_is_named_with_its_variable() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let images = dir.path().join("x.idx.gz");
    let labels = dir.path().join("y.idx.gz");
    for (path, header) in [
        (&images, &[0u8, 0, 8, 2, 0, 0, 0, 4, 0, 0, 0, 2][..]),
        (&labels, &[0, 0, 8, 1, 0, 0, 0, 4][..]),
    ] {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(header).unwrap();
        gz.write_all(&[0, 1, 0, 1, 1, 0, 1, 0][..if header[3] == 2 { 8 } else { 4 }])
            .unwrap();
        std::fs::write(path, gz.finish().unwrap()).unwrap();
    }
    let o = train_data(&images, &labels, &dir.path().join("m.safetensors"))
        .env("CORRFLOW_CACHE", &file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("set CORRFLOW_CACHE to a writable folder"),
        "{err}"
    );
}

/// Worker threads that cannot be started (20 MiB of address space, `--max-memory` lifting the
/// estimate's limit, two threads: `pthread_create` fails with EAGAIN) are refused naming the
/// limit, `--threads` and what a thread maps (it was "invalid value for --threads: Resource
/// temporarily unavailable (os error 11)").
#[test]
fn threads_that_cannot_start_name_the_address_space_limit() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let mut cmd = command();
    cmd.args([
        "--threads",
        "2",
        "--max-memory",
        "1G",
        "train",
        "--task",
        "xor",
    ])
    .args(["--epochs", "1", "--out"])
    .arg(&model);
    set_rlimit(&mut cmd, libc::RLIMIT_AS, 20 << 20);
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{:?}: {err}", o.status);
    assert!(
        err.contains("could not start 2 threads")
            && err.contains("limited to 20480 KiB (ulimit -v)")
            && err.contains("lower --threads"),
        "{err}"
    );
    assert!(!model.exists());
}
