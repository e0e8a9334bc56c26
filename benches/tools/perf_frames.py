#!/usr/bin/env python3
"""Charges each sample of a `perf script` dump (from `perf record --call-graph dwarf`) to the
first corrflow frame on its stack (faer's microkernels have no unwind info past themselves:
their samples have none and are counted as "(no corrflow frame)"), and prints the frames with
the most samples and their share of all samples (BENCHMARKS.md, "analyze at 50 % of the GEMM
rate, fifteenth session").

usage: perf_frames.py DUMP [TOP]   (DUMP: `perf script -i perf.data > DUMP`; TOP defaults to 25)
"""
import collections
import re
import sys


def frames(sample):
    """The symbols of one sample's stack, innermost first, without offsets and addresses."""
    lines = [l.strip() for l in sample.strip().split("\n")[1:] if l.strip()]
    return [re.sub(r"\+0x[0-9a-f]+.*", "", re.sub(r"^[0-9a-f]+ ", "", l)) for l in lines]


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    top = int(sys.argv[2]) if len(sys.argv) == 3 else 25
    with open(sys.argv[1], encoding="utf-8", errors="replace") as f:
        samples = [frames(s) for s in f.read().split("\n\n")]
    samples = [s for s in samples if s]
    if not samples:
        sys.exit(f"{sys.argv[1]}: no samples")
    counts = collections.Counter(
        next((x for x in s if "corrflow::" in x), "(no corrflow frame)") for s in samples
    )
    print(f"{len(samples)} samples")
    for frame, n in counts.most_common(top):
        print(f"{n:6d} {100 * n / len(samples):5.1f} %  {frame}")


if __name__ == "__main__":
    main()
