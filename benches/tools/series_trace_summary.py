#!/usr/bin/env python3
"""Summary of `benches/tools/series_trace.patch`'s stderr lines (issue #14, item 3).

usage: series_trace_summary.py FILE

FILE holds, per run, a line `== T=THREADS S=SCALE ...` followed by the TRACE and UNITS lines of
`FLAT_TRACE=1 RAYON_NUM_THREADS=THREADS closure_ratio 1024 1 ROUNDS strong SCALE 2>&1`. Prints
per thread count, scale and activation: the layer's K and the pairs taken by a closed form, the
least process CPU ms of each stage over the run's calls (the closure is called once per round
and once before them) and their sum, then the term counts of the last call: the columns' L, per
lane vector as the kernel takes them, per pair at the layer's r*(L), per pair at its own Rⱼ(L)
and per lane vector at its own units' largest Rⱼ(L)/Varⱼ. The closure times that
`closure_ratio` prints in a traced run include the trace's own counting: not used.
"""

import re
import sys

STAGES = ["rho", "terms", "coef", "rem", "plan", "fill"]


def number(line, key):
    return float(re.search(key + r" ([\d.]+)", line).group(1))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    runs, cur = {}, None
    for line in open(sys.argv[1]):
        if line.startswith("=="):
            m = re.match(r"== T=(\d+) S=(\d+)", line)
            cur = (int(m.group(1)), int(m.group(2)))
            continue
        if not (line.startswith("TRACE") or line.startswith("UNITS")):
            continue
        kind, act = line.split()[:2]
        runs.setdefault(cur + (act,), {}).setdefault(kind, []).append(line)
    print("| T | S | act | K | closed | " + " | ".join(STAGES) + " | sum | column L | "
          "per vector | per pair | own per pair | block-own per vector |")
    print("|---" * (len(STAGES) + 11) + "|")
    for (threads, scale, act), lines in runs.items():
        trace = lines["TRACE"]
        least = [min(number(l, s) for l in trace) for s in STAGES]
        last, units = trace[-1], lines["UNITS"][-1]
        k = re.search(r"K (\d+)", last).group(1)
        closed = re.search(r"fallbacks (\d+)", last).group(1)
        counts = [number(last, "column L"), number(last, "per vector"),
                  number(last, "per pair"), number(units, "own terms per pair"),
                  number(units, "block-own terms per vector")]
        cells = [str(threads), str(scale), act, k, closed]
        cells += [f"{x:.2f}" for x in least] + [f"{sum(least):.2f}"]
        cells += [f"{x:.1f}" for x in counts]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
