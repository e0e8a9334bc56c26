//! A sweep's memory budget under `ulimit -v` (adv43): the points run in pools of ⌊T/J⌋ threads,
//! whose budget is not the sweep's (`ulimit -v` less all T threads), so a refusal that asked
//! "is this limit the current pool's budget?" named `--max-memory` (never given) and no
//! `ulimit -v`.

use corrflow::io::limit::thread_address_space;

use crate::common::{command, set_rlimit};

/// `sweep --threads T --jobs 2` (T = 2, 1) of two 2000-sample [64, 64] XOR points (~34 MiB
/// each) under `ulimit -v` at 16 limits from T threads' share + 60 MiB to the share of the
/// max(T, 2) threads the points run on + 900 MiB: every run either finishes (exit 0) or is
/// refused (exit 2) naming `ulimit -v` and not `--max-memory`, and both happen. The range is
/// the measured share's ([`thread_address_space`]: 522 MiB a thread on adv43's machine, 962
/// MiB on a 480 MiB-L3 Xeon, where T's share + 900 MiB left `--threads 1 --jobs 2`'s two
/// threads nothing to run on: ran 0, refused 15, adv45). Old: "invalid value for --max-memory: the memory limit of 8.0 MiB is below
/// the 32.0 MiB every run needs", "--jobs: … but the memory limit (--max-memory, default
/// MemAvailable) is 58.0 MiB", and with `--threads 1 --jobs 2` (two pools of one thread, the
/// budget counting one) at + 180 to + 300 MiB an abort, "memory allocation of 545259520 bytes
/// failed".
#[test]
fn a_sweep_refused_under_ulimit_v_names_it_at_every_jobs_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        "task = \"xor\"\nn_train = 2000\nhidden = [[64, 64]]\nepochs = 1\nseed = [1, 2]\n",
    )
    .unwrap();
    for threads in [2u64, 1] {
        let (mut ran, mut refused) = (0, 0);
        let low = threads * thread_address_space() + (60 << 20);
        let high = threads.max(2) * thread_address_space() + (900 << 20);
        for k in 0..16 {
            let limit = low + (high - low) * k / 15;
            let extra_mib = (limit - threads * thread_address_space()) >> 20;
            let out = dir.path().join(format!("sw{threads}-{k}"));
            let mut cmd = command();
            cmd.args(["--threads", &threads.to_string(), "sweep", "--jobs", "2"])
                .arg("--grid")
                .arg(&grid)
                .arg("--out")
                .arg(&out);
            set_rlimit(&mut cmd, libc::RLIMIT_AS, limit);
            let o = cmd.output().unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            let said = format!(
                "--threads {threads}, ulimit -v of its threads + {extra_mib} MiB: {:?}: {err}",
                o.status
            );
            match o.status.code() {
                Some(0) => ran += 1,
                Some(2) => {
                    assert!(err.contains("ulimit -v"), "{said}");
                    assert!(!err.contains("--max-memory"), "{said}");
                    refused += 1;
                }
                _ => panic!("{said}"),
            }
        }
        assert!(
            ran > 0 && refused > 0,
            "--threads {threads}: ran {ran}, refused {refused}"
        );
    }
}

/// `--jobs` far above the points (2⁶⁴ − 1, 10⁵) runs as many jobs as there are points, and the
/// budget counts those threads, not 2⁶⁴ − 1 of them (whose product with a thread's share
/// wrapped or left nothing: the first cut of the fix above refused both points under a
/// `ulimit -v` they fit).
#[test]
fn jobs_beyond_the_points_count_the_points_threads_under_ulimit_v() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    std::fs::write(&grid, "task = \"xor\"\nn_train = 200\nseed = [1, 2]\n").unwrap();
    for jobs in ["18446744073709551615", "100000"] {
        let out = dir.path().join(format!("sw{jobs}"));
        let mut cmd = command();
        cmd.args(["--threads", "2", "sweep", "--jobs", jobs, "--grid"])
            .arg(&grid)
            .arg("--out")
            .arg(&out);
        set_rlimit(
            &mut cmd,
            libc::RLIMIT_AS,
            2 * thread_address_space() + (900 << 20),
        );
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "--jobs {jobs}: {err}");
    }
}

/// adv45: under a `ulimit -v` that leaves less than every run's base, `--threads 1` is told to
/// raise `ulimit -v`, not to lower `--threads` (which cannot be lowered; adv43's leftover), and
/// `--threads 2` both. Old: "raise ulimit -v or lower --threads" at either.
#[test]
fn one_thread_under_ulimit_v_is_told_only_what_it_can_do() {
    let dir = tempfile::tempdir().unwrap();
    for threads in [1u64, 2] {
        let out = dir.path().join("m.safetensors");
        let mut cmd = command();
        cmd.args(["--threads", &threads.to_string(), "train", "--task", "xor"])
            .args(["--epochs", "1", "--out"])
            .arg(&out);
        set_rlimit(
            &mut cmd,
            libc::RLIMIT_AS,
            threads * thread_address_space() + (60 << 20),
        );
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "--threads {threads}: {err}");
        assert!(
            err.contains("raise ulimit -v"),
            "--threads {threads}: {err}"
        );
        assert_eq!(
            err.contains("lower --threads"),
            threads > 1,
            "--threads {threads}: {err}"
        );
        assert!(!out.exists(), "--threads {threads}");
    }
}

/// adv45: a sweep whose point fails under `ulimit -v` ends with a line that names the cause
/// (the first failed point's error, `ulimit -v` in it), not only the grid and the results file
/// (adv43's leftover: the cause stood in the lines above). `--threads 1` and 2, a point of
/// 3·10⁶ samples (~450 MiB) beside one of 200, with 400 MiB left to the points.
#[test]
fn a_failed_sweeps_last_line_names_the_cause() {
    let dir = tempfile::tempdir().unwrap();
    let grid = dir.path().join("g.toml");
    std::fs::write(
        &grid,
        "task = \"xor\"\nepochs = 1\nn_train = [200, 3000000]\nhidden = [[64, 64]]\n",
    )
    .unwrap();
    for threads in [1u64, 2] {
        let out = dir.path().join(format!("sw{threads}"));
        let mut cmd = command();
        cmd.args(["--threads", &threads.to_string(), "sweep", "--grid"])
            .arg(&grid)
            .arg("--out")
            .arg(&out);
        set_rlimit(
            &mut cmd,
            libc::RLIMIT_AS,
            threads * thread_address_space() + (400 << 20),
        );
        let o = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "--threads {threads}: {err}");
        let last = err
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        assert!(
            last.contains("1 points failed (#1")
                && last.contains("ulimit -v")
                && last.contains("--retry-failed"),
            "--threads {threads}: {last}"
        );
    }
}

/// A model loaded under a `ulimit -v` that one thread's share and the main reserve take whole
/// (the budget left is 0) is refused naming the model and what to do: raise `ulimit -v`. Before:
/// "needs 334432 bytes of weights, over the memory limit of 0 bytes (ulimit -v, …)" and no
/// advice (adv45's found-not-fixed).
#[test]
fn a_model_under_a_ulimit_v_the_threads_take_is_told_to_raise_it() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let trained = command()
        .args(["--threads", "1", "train", "--task", "xor", "--epochs", "1"])
        .args(["--hidden", "200,100", "--out"])
        .arg(&model)
        .output()
        .unwrap();
    assert!(trained.status.success(), "{trained:?}");
    let mut cmd = command();
    cmd.args([
        "--threads",
        "1",
        "propagate",
        "--task",
        "xor",
        "--json",
        "--model",
    ])
    .arg(&model);
    set_rlimit(
        &mut cmd,
        libc::RLIMIT_AS,
        thread_address_space() + (40 << 20),
    );
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("m.safetensors")
            && err.contains("ulimit -v")
            && err.contains("raise ulimit -v"),
        "{err}"
    );
    assert!(o.stdout.is_empty(), "{err}");
}

/// A model of 10⁵ layers of width 1 (linear units, no biases: 5 MB) under `--max-memory 1G`:
/// refused within seconds naming the model file and the limit (its statistics' batches, 3 ×
/// 512 samples × 8 padded rows a stage over 2·10⁵ stages, are ~20 GB). Old (adv47b): its
/// load searched a list of names per tensor (~30 s), its estimate summed the layers after each
/// start layer (~9 s), and the estimate left the statistics' batches out, so the run went on
/// past the limit (a model of 2·10⁴ such layers reached 4.3 GB under `--max-memory 500M`).
#[test]
fn a_model_of_a_hundred_thousand_layers_is_refused_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("deep.safetensors");
    let layers = 100_000;
    let mut widths = vec![2usize];
    widths.extend(std::iter::repeat_n(1, layers));
    widths.push(2);
    let mut header = serde_json::Map::new();
    let mut body: Vec<u8> = Vec::new();
    for l in 0..=layers {
        let name = if l == layers {
            "readout".to_string()
        } else {
            format!("hidden{}", l + 1)
        };
        let (rows, cols) = (widths[l + 1], widths[l]);
        let start = body.len();
        for k in 0..rows * cols {
            body.extend_from_slice(&(if k % 2 == 0 { 1.0f64 } else { -1.0 }).to_le_bytes());
        }
        header.insert(
            format!("{name}.weight"),
            serde_json::json!({"dtype": "F64", "shape": [rows, cols], "data_offsets": [start, body.len()]}),
        );
    }
    let widths: Vec<String> = widths.iter().map(usize::to_string).collect();
    header.insert(
        "__metadata__".into(),
        serde_json::json!({"format": "corrflow-mlp", "widths": widths.join(","), "activation": "linear"}),
    );
    let mut text = serde_json::to_vec(&header).unwrap();
    while !text.len().is_multiple_of(8) {
        text.push(b' ');
    }
    let mut file = (text.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&text);
    file.extend_from_slice(&body);
    std::fs::write(&model, file).unwrap();
    let started = std::time::Instant::now();
    let mut child = command()
        .args([
            "--threads",
            "1",
            "--max-memory",
            "1G",
            "propagate",
            "--model",
        ])
        .arg(&model)
        .args(["--task", "xor", "--json"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if started.elapsed().as_secs() > 20 {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let status = status.unwrap_or_else(|| panic!("still running after 20 s: {err}"));
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(
        err.contains("deep.safetensors") && err.contains("over the memory limit of 1.0 GiB"),
        "{err}"
    );
    assert!(err.len() < 1500, "{} bytes", err.len());
}
