#!/usr/bin/env python3
"""Charges the samples of a one-thread `perf` run of `analyze` built with `class_split.patch`
(CF_SPLIT=1: the output tails, the class information and the surrogates one after another) to
the three parts by time window, and sorts each part's samples into kinds of work (BENCHMARKS.md,
"`analyze`'s whole run, ana54, fifty-fourth session").

faer's GEMM micro-kernels carry no unwind information, so their samples have no caller; at one
thread the parts run one after another, so each part's window runs from its first to its last
sample with the part's function on the stack, and every sample inside it (the micro-kernels'
included) is that part's.

usage: perf_windows.py DUMP   (DUMP: `perf record -e cpu-clock:u --call-graph dwarf,16384 …`,
then `perf script -F tid,time,ip,sym > DUMP`)
"""
import collections
import re
import sys

# A function on the stack of every sample of each part.
MARKS = {
    "tails": "analysis::tails::output_tails",
    "information": "pairwise::pairwise_bhattacharyya",
    "surrogates": "analysis::surrogate::surrogate_accuracy",
}

# (kind, test on (leaf symbol, whole stack)), the first that holds names the sample.
KINDS = [
    ("GEMM micro-kernels (faer)", lambda leaf, s: any(
        k in leaf for k in ("gemm_microkernel", "private_gemm", "nano_gemm", "millikernel"))),
    ("normal draws", lambda leaf, s: "NormalStream::fill" in s),
    ("pair averages (SupportSum)", lambda leaf, s: "SupportSum" in s or (
        "lower_cholesky_on" in s and "faer" not in s.split("lower_cholesky_on")[0])),
    ("pivoted Cholesky outside GEMM", lambda leaf, s: "llt_pivoting" in s or "swap_cols" in leaf),
    ("Cholesky outside GEMM", lambda leaf, s: "cholesky" in s and "faer" in s),
    ("Edgeworth weight outside GEMM", lambda leaf, s: "EdgeworthWeight" in s),
    ("argmax winners + tallies", lambda leaf, s: any(
        k in s for k in ("Winners", "Tally", "weighted_argmax"))),
    ("memset", lambda leaf, s: "memset" in leaf),
    ("null rows + finite checks", lambda leaf, s: any(
        k in s for k in ("null_rows", "column_finite", "pairwise::check"))),
    ("factor copies (gather)", lambda leaf, s: "with_work" in s or "LowRankFactor::new" in s),
    ("within-class covariance", lambda leaf, s: "within_class_covariance" in s),
    ("Student t scales", lambda leaf, s: "chi_square" in s or "student_t" in s),
    ("surrogates' forward pass outside GEMM", lambda leaf, s: any(
        k in s for k in ("hits_on_draws", "OutputPass", "bias_activation"))),
    ("cumulants outside GEMM", lambda leaf, s: "cumulants" in s),
    ("triangular solves", lambda leaf, s: "solve_lower" in s or "mahalanobis" in s),
]


def kind(stack):
    leaf = stack[0] if stack else "?"
    whole = " ".join(stack)
    return next((k for k, test in KINDS if test(leaf, whole)), "other: " + leaf[:50])


def samples(path):
    """(time, stack innermost first) of every sample of a `perf script` dump."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for block in f.read().split("\n\n"):
            lines = [l for l in block.strip().split("\n") if l.strip()]
            head = re.match(r"\s*\d+\s+([\d.]+):", lines[0]) if lines else None
            if head:
                stack = [re.sub(r"^\s*[0-9a-f]+\s+", "", l.strip()) for l in lines[1:]]
                out.append((float(head.group(1)), stack))
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    all_samples = samples(sys.argv[1])
    windows = {}
    for t, stack in all_samples:
        whole = " ".join(stack)
        for part, mark in MARKS.items():
            if mark in whole:
                a, b = windows.get(part, (t, t))
                windows[part] = (min(a, t), max(b, t))
    for part, (a, b) in windows.items():
        counts = collections.Counter(kind(s) for t, s in all_samples if a <= t <= b)
        n = sum(counts.values())
        print(f"{part}: {n} samples over {b - a:.4f} s")
        for k, v in counts.most_common(10):
            print(f"  {100 * v / n:5.1f} %  {k}")


if __name__ == "__main__":
    main()
