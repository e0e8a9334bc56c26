//! `--timings` under `ulimit -v` (adv41): its GEMM calibration ran before the run's own memory
//! check and aborted inside faer where the same run without `--timings` was refused. adv51:
//! the instruction set the kernels ran on is said (table and JSON), and a `CORRFLOW_ISA` the
//! CPU cannot honour is warned of.

use crate::common::{command, set_rlimit, train_tiny_xor};

/// Under `ulimit -v` 150–580 MB, `train` and `propagate` with `--timings` on 1 and 2 threads
/// either run (exit 0) or are refused naming `ulimit -v` (exit 2), as they are without it; the
/// calibration's 1024² products aborted them ("memory allocation of 545259520 bytes failed" in
/// private-gemm's workspace, exit 134, on this project's machine at every limit below ~600 MB).
#[test]
fn timings_under_ulimit_v_are_refused_or_run_never_aborted_by_the_calibration() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "4");
    let out = dir.path().join("out.safetensors");
    for threads in ["1", "2"] {
        for mb in [150u64, 250, 400, 580] {
            for what in ["train", "propagate"] {
                let mut cmd = command();
                cmd.args(["--threads", threads, what, "--timings", "--task", "xor"]);
                if what == "train" {
                    cmd.args(["--n-train", "200", "--epochs", "1", "--out"])
                        .arg(&out);
                } else {
                    cmd.args(["--model", m, "--json"]);
                }
                set_rlimit(&mut cmd, libc::RLIMIT_AS, mb << 20);
                let o = cmd.output().unwrap();
                let err = String::from_utf8_lossy(&o.stderr);
                let said = format!(
                    "{what}, {threads} thread(s), {mb} MB: {:?}: {err}",
                    o.status
                );
                match o.status.code() {
                    Some(0) => assert!(what != "train" || out.exists(), "{said}"),
                    Some(2) => assert!(err.contains("ulimit -v") && !out.exists(), "{said}"),
                    _ => panic!("{said}"),
                }
                let _ = std::fs::remove_file(&out);
            }
        }
    }
}

/// `--timings` says the instruction set the SIMD kernels ran on, in the table's "this run"
/// line and the JSON's `timings.isa`, and a `CORRFLOW_ISA` set this CPU lacks (avx512 on the
/// AVX2-only AMD Zen 3 of the fifty-first session) is warned of naming the variable and the set
/// that runs instead (main's binary: no `isa`, no warning; the run silently used AVX2).
#[test]
fn timings_name_the_instruction_set_run_and_an_unmet_corrflow_isa_is_warned_of() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("m.safetensors");
    let m = model.to_str().unwrap();
    train_tiny_xor(m, "4");
    for asked in ["avx512", "avx2", "scalar"] {
        let o = command()
            .args([
                "--threads",
                "1",
                "propagate",
                "--timings",
                "--json",
                "--model",
                m,
            ])
            .env("CORRFLOW_ISA", asked)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{asked}: {err}");
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let isa = r["timings"]["isa"]
            .as_str()
            .unwrap_or_else(|| panic!("{asked}: no timings.isa in {}", r["timings"]));
        assert!(
            ["avx512", "avx2", "scalar"].contains(&isa),
            "{asked}: {isa}"
        );
        if asked == "scalar" {
            assert_eq!(isa, "scalar");
        }
        let line = err.lines().find(|l| l.starts_with("this run: ")).unwrap();
        assert!(line.ends_with(&format!("; kernels on {isa}")), "{line}");
        let warned = err.contains(&format!("CORRFLOW_ISA={asked} but this CPU has no"));
        assert_eq!(warned, isa != asked, "{asked} ran on {isa}:\n{err}");
    }
}
