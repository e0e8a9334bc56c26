#!/usr/bin/env python3
"""Two `thread_scaling` binaries (an old and a new build of benches/tools/thread_scaling.rs)
alternated in one window, and what their blocks say (issue #14 item 6).

    python3 benches/tools/scaling_alternate.py OLD NEW [--rounds R] [--blocks B]
        [--max-load L] [--wait S]

Each round runs `OLD B` then `NEW B` (odd rounds) or `NEW B` then `OLD B` (even rounds), so
drift in the machine's load falls on both alike. With --max-load, each run first waits (up to
--wait seconds, polling every 5 s) for the 1-minute load average to fall below L, and says
when it ran without that. Every block line is printed as it comes, tagged with the binary;
at the end, per binary: the median and range of the FMA loop's, the GEMM's and the epoch
slice's 2/1 ratios over all blocks, the fastest 1- and 2-thread slice, and each step phase's
minimum over blocks on 1 and 2 threads (ms per 640-sample slice by default), with the ratio of
those minima.
"""

import argparse
import statistics
import subprocess
import sys
import time


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def wait_quiet(max_load, wait):
    start = time.time()
    while load1() >= max_load:
        if time.time() - start > wait:
            return False
        time.sleep(5)
    return True


def run(binary, blocks):
    """Blocks of one run: dicts with the block line's numbers and the phases."""
    out = subprocess.run([binary, str(blocks)], check=True, capture_output=True, text=True)
    result, current = [], None
    for line in out.stdout.splitlines():
        fields = line.replace("→", " ").split()
        if len(fields) == 14 and fields[0].isdigit():
            n = [float(v) for v in fields[1:]]
            # load running steal fma1 fma2 ratio gemm1 gemm2 ratio slice1 slice2 ratio train/fma
            current = {
                "load": n[0],
                "fma": n[5],
                "gemm": n[8],
                "slice1": n[9],
                "slice2": n[10],
                "slice": n[11],
                "line": line.strip(),
                "phases": {},
            }
            result.append(current)
        elif "step phases" in line and current is not None:
            body = line.split("ms:", 1)[1]
            for cell in body.split(","):
                name, one, _, two = cell.split()
                current["phases"][name] = (float(one), float(two))
            current["phases_line"] = line.strip()
    return result


def summary(tag, blocks):
    def spread(key):
        values = [b[key] for b in blocks]
        return f"{statistics.median(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    print(f"{tag}: {len(blocks)} blocks, load {min(b['load'] for b in blocks):.1f}–"
          f"{max(b['load'] for b in blocks):.1f}")
    print(f"  2/1 ratios, median (range): FMA {spread('fma')}, GEMM {spread('gemm')}, "
          f"epoch slice {spread('slice')}")
    one = min(b["slice1"] for b in blocks)
    two = min(b["slice2"] for b in blocks)
    print(f"  fastest slice: 1 thread {one:.1f} ms, 2 threads {two:.1f} ms, ratio of minima "
          f"{one / two:.2f}")
    names = list(blocks[0]["phases"])
    cells = []
    for name in names:
        a = min(b["phases"][name][0] for b in blocks)
        c = min(b["phases"][name][1] for b in blocks)
        cells.append(f"{name} {a:.1f} → {c:.1f} ({a / c if c > 0 else float('nan'):.2f}×)")
    print("  phase minima 1t → 2t ms: " + ", ".join(cells))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--blocks", type=int, default=2)
    ap.add_argument("--max-load", type=float)
    ap.add_argument("--wait", type=float, default=300)
    args = ap.parse_args()
    blocks = {"old": [], "new": []}
    for r in range(1, args.rounds + 1):
        order = ["old", "new"] if r % 2 else ["new", "old"]
        for tag in order:
            note = ""
            if args.max_load is not None and not wait_quiet(args.max_load, args.wait):
                note = f" (load stayed ≥ {args.max_load})"
            stamp = time.strftime("%H:%M:%S", time.gmtime())
            got = run(getattr(args, tag), args.blocks)
            for b in got:
                print(f"round {r} {tag} {stamp}{note}: {b['line']}")
                print(f"    {b.get('phases_line', '')}")
            sys.stdout.flush()
            blocks[tag].extend(got)
    for tag in ["old", "new"]:
        summary(tag, blocks[tag])


if __name__ == "__main__":
    main()
