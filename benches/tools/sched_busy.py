#!/usr/bin/env python3
"""How many of a corrflow process's threads run at each moment of its span, from `perf sched`.

    perf sched record -o S.data -- corrflow analyze ... ; benches/tools/sched_busy.py S.data ...

For each recording: the span from the first to the last scheduling interval of a thread whose
name holds "corrflow", and the seconds during which 0, 1, 2, … of them were running (the
intervals are `perf sched timehist`'s run times ending at each switch-out). BENCHMARKS.md,
"Issue #14 item 2, twenty-sixth session (lead)".
"""
import re
import subprocess
import sys


def intervals(path):
    out = subprocess.run(["perf", "sched", "timehist", "-i", path],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        p = line.split()
        if len(p) < 6 or not re.fullmatch(r"\d+\.\d+", p[0]) or "corrflow" not in p[2]:
            continue
        end = float(p[0])
        yield end - float(p[-1]) / 1e3, end


def main():
    for path in sys.argv[1:]:
        events = sorted(e for a, b in intervals(path) for e in ((a, 1), (b, -1)))
        if not events:
            print(f"{path}: no corrflow thread recorded")
            continue
        busy, running, last = {}, 0, events[0][0]
        for t, step in events:
            busy[running] = busy.get(running, 0.0) + t - last
            running, last = running + step, t
        span = events[-1][0] - events[0][0]
        shares = ", ".join(f"{k} running {v:.4f} s ({100 * v / span:.1f} %)"
                           for k, v in sorted(busy.items()))
        print(f"{path}: span {span:.3f} s; {shares}")


if __name__ == "__main__":
    main()
