#!/usr/bin/env python3
"""Charges the samples of a `perf` run of `corrflow analyze` (the main build, no split patch) to
its stages and to kinds of work (BENCHMARKS.md, "`analyze`'s whole run on Zen 4, perf71").

faer's GEMM micro-kernels carry no unwind information: a sample in one has no caller, and is
charged to the stage and innermost corrflow frame of the same thread's previous sample. The
in-process GEMM yardstick of `--timings` (`timing::calibrate`) is left out of every share.

- Stages: the outermost stage function on a sample's stack. Exact at `--threads 1`; at 2
  threads a task stolen by the other worker has no stage function on its stack, so use the
  kinds there.
- Kinds: the GEMM micro-kernels, then the first kind whose test holds for the sample's leaf,
  stack and innermost corrflow frame; they need no stage function, so they hold at any thread
  count.

usage: perf_stages.py DUMP [TOP]
  DUMP: `perf record -F 4999 --call-graph dwarf,16384 -- corrflow-profiling --threads T analyze
  … --timings`, then `perf script -F tid,time,ip,sym > DUMP` (several runs may be concatenated);
  the profiling build (`cargo build --profile profiling`) names inlined frames.
  TOP: the innermost corrflow frames listed per stage outside the kernels (default 8).
"""
import collections
import re
import sys

# (stage function, stage): the first found from the outermost frame names the sample's stage.
STAGES = [
    ("layer_stats_and_outputs", "forward pass + statistics"),
    ("start_layer_outcomes", "start layers (affine, closure)"),
    ("PendingStart>::finish", "start layers' Monte Carlo"),
    ("output_tails", "output tails"),
    ("class_information", "class information"),
    ("surrogate_accuracy", "surrogates"),
    ("quadratic_transfer", "transfer"),
    ("load_limited", "model and data load"),
    ("assemble_pixels", "model and data load"),
]


def kernel_frame(stack, *names):
    """Whether the top of a sample in the OS kernel holds one of `names`."""
    return stack[0].startswith("ffffffff") and any(n in " ".join(stack[:12]) for n in names)


# (kind, test on (leaf, stack, innermost corrflow frame)): the first that holds names the sample.
KINDS = [
    ("GEMM micro-kernels (faer)", lambda leaf, s, cf: "gemm_v0" in leaf or "[unknown]" in leaf),
    ("OS: page faults, page clearing", lambda leaf, s, cf: kernel_frame(s, "fault", "clear_page")),
    ("OS: other (futex, scheduling, munmap)", lambda leaf, s, cf: s[0].startswith("ffffffff")),
    ("libc memset / memcpy", lambda leaf, s, cf: "__mem" in leaf),
    ("input bytes → f64, data gather", lambda leaf, s, cf: any(
        k in cf for k in ("ToUnit", "assemble_pixels", "data::"))),
    ("statistics: varying rows, shifted gather", lambda leaf, s, cf: any(
        k in cf for k in ("batch::Gather", "batch::Varying", "set_shift", "Runs::rows"))),
    ("statistics: Gram pieces scattered", lambda leaf, s, cf: "ScatterColumn" in cf),
    ("statistics: Σ from the sums (CentralCov)", lambda leaf, s, cf: "CentralCov" in cf),
    ("zero fills (io::zeros, allocator)", lambda leaf, s, cf: any(
        k in cf for k in ("io::zeros", "PaddingZeroing"))),
    ("finite scans", lambda leaf, s, cf: any(
        k in cf for k in ("AllFinite", "finite_null_rows", "check_finite"))),
    ("information: pair sums ½(Σa + Σb)", lambda leaf, s, cf: any(
        k in cf for k in ("weighted_sum", "SupportSum"))),
    ("information: Cholesky and solves outside GEMM", lambda leaf, s, cf: any(
        k in cf for k in ("lower_cholesky_on", "mahalanobis"))),
    ("surrogates: pivoted Cholesky outside GEMM, factor copies", lambda leaf, s, cf:
        "LowRankFactor" in cf),
    ("surrogates: Σ_w", lambda leaf, s, cf: "class_weighted_sum" in cf),
    ("normal draws", lambda leaf, s, cf: any(k in cf for k in ("normals::", "fdlibm"))),
    ("χ² draws, Student t scales", lambda leaf, s, cf: any(
        k in cf for k in ("chi_square", "student_t"))),
    ("argmax winners and tallies", lambda leaf, s, cf: "argmax" in cf),
    ("Edgeworth weight outside GEMM", lambda leaf, s, cf: "tails::weight" in cf),
    ("output cumulants outside GEMM", lambda leaf, s, cf: "tails::cumulants" in cf),
    ("forward pass: bias + activation", lambda leaf, s, cf: any(
        k in cf for k in ("BiasActivation", "phi"))),
    ("start layers outside GEMM", lambda leaf, s, cf: "propagate::" in cf),
]


def samples(path):
    """(thread, stack) per sample, innermost frame first, without addresses and offsets (OS
    frames keep their address, which marks them)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        blocks = f.read().split("\n\n")
    for block in blocks:
        lines = [line.strip() for line in block.strip().split("\n") if line.strip()]
        if len(lines) < 2:
            continue
        stack = []
        for line in lines[1:]:
            line = re.sub(r" \(.*\)$", "", re.sub(r"\+0x[0-9a-f]+", "", line))
            stack.append(line if line.startswith("ffffffff") else re.sub(r"^[0-9a-f]+ ", "", line))
        yield lines[0].split()[0], stack


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) == 3 else 8
    last = {}
    stage_n, stage_gemm = collections.Counter(), collections.Counter()
    frames = collections.defaultdict(collections.Counter)
    kinds = collections.Counter()
    total = calibration = 0
    for tid, stack in samples(sys.argv[1]):
        cf = next((f for f in stack if "corrflow::" in f), None)
        stage = next((name for f in reversed(stack) for key, name in STAGES if key in f), None)
        if "calibrat" in " ".join(stack):
            stage = "calibration"
        if cf is None and tid in last:
            stage, cf = last[tid]
        stage, cf = stage or "other", cf or "(no corrflow frame)"
        last[tid] = (stage, cf)
        if stage == "calibration":
            calibration += 1
            continue
        total += 1
        leaf = stack[0]
        kind = next(k for k, test in KINDS + [("other", lambda *_: True)] if test(leaf, stack, cf))
        kinds[kind] += 1
        stage_n[stage] += 1
        if kind == KINDS[0][0]:
            stage_gemm[stage] += 1
        else:
            frames[stage][cf[-100:]] += 1
    if total == 0:
        sys.exit(f"{sys.argv[1]}: no samples outside the calibration")
    share = lambda n: f"{100 * n / total:5.1f} %"
    print(f"{total} samples ({calibration} more in the calibration, left out)")
    print("\nstage: share of the samples, in GEMM micro-kernels")
    for stage, n in stage_n.most_common():
        print(f"{share(n)}  {stage}: {share(stage_gemm[stage])} in GEMM micro-kernels")
        for frame, m in frames[stage].most_common(top):
            print(f"      {share(m)}  {frame}")
    print("\nkind of work: share of the samples")
    for kind, n in kinds.most_common():
        print(f"{share(n)}  {kind}")


if __name__ == "__main__":
    main()
