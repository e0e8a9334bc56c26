#!/usr/bin/env python3
"""Old/new `closure_ratio` builds alternated at several scales (issue #14, item 3).

usage: closure_scales.py OLD NEW [ROUNDS [SCALES...]]

Runs `BIN 1024 1 3 strong S` for every scale S (default 1 2 4 8 16 32 64), old then new, ROUNDS
times (default 3), and prints per closure and scale the least process CPU ms per class over the
rounds (the `cpu` figure of `closure_ratio`'s median line, every thread) for old and new, with
the affine update's CPU and the load average at the start and end. The thread count is the
caller's (`RAYON_NUM_THREADS`).
"""

import os
import re
import subprocess
import sys

SMOOTH = ["hermite_tanh", "sigmoid", "gelu", "silu", "softplus"]


def run(binary, scale):
    out = subprocess.run(
        [binary, "1024", "1", "3", "strong", str(scale)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    line = next(l for l in out.splitlines() if l.startswith("median over"))
    cpu = {"affine": float(re.search(r"affine [\d.]+ ms/class \(cpu ([\d.]+)\)", line).group(1))}
    for name in SMOOTH:
        cpu[name] = float(re.search(rf"{name} [\d.]+ ms \(cpu ([\d.]+)\)", line).group(1))
    return cpu


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    old, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    scales = [int(s) for s in sys.argv[4:]] or [1, 2, 4, 8, 16, 32, 64]
    load = [os.getloadavg()[0]]
    best = {}
    for _ in range(rounds):
        for scale in scales:
            for tag, binary in (("old", old), ("new", new)):
                for name, ms in run(binary, scale).items():
                    key = (tag, scale, name)
                    best[key] = min(best.get(key, ms), ms)
    load.append(os.getloadavg()[0])
    print(f"min CPU ms per class over {rounds} alternated rounds, load {load[0]:.1f}-{load[1]:.1f}")
    print("| scale | " + " | ".join(f"{n} old / new" for n in ["affine"] + SMOOTH) + " |")
    print("|---" * (len(SMOOTH) + 2) + "|")
    for scale in scales:
        cells = [
            f"{best[('old', scale, n)]:.2f} / {best[('new', scale, n)]:.2f}"
            for n in ["affine"] + SMOOTH
        ]
        print(f"| x{scale} | " + " | ".join(cells) + " |")
    for tag in ("old", "new"):
        ratios = []
        for n in SMOOTH:
            base = best[(tag, scales[0], n)]
            top = max(best[(tag, s, n)] for s in scales)
            ratios.append(f"{n} {top / base:.2f}")
        print(f"{tag}: max over scales / x{scales[0]}: " + ", ".join(ratios))


if __name__ == "__main__":
    main()
