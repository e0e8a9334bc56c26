#!/usr/bin/env python3
"""Repeats the interruption that could leave a temporary file behind (twenty-sixth session).

Each run trains a 2-3000-3000-2 network (a 72 MB model), is stopped (SIGSTOP) as soon as any
`.corrflow-tmp-` file appears in its output folder (the folder's write probe or the model's
temporary file), then sent SIGTERM and SIGCONT; a temporary file left after it has died is
debris. Before `io::temp::create_temp` a run stopped at the probe could create the model's
temporary file after the clean-up had looked (4 of 240 runs); the count must be 0.

    scripts/interrupt-race.py BINARY [RUNS]          (prints one line of counts; exit 1 on debris)
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

TRAIN = ["train", "--task", "xor", "--n-train", "8", "--n-test", "8", "--epochs", "1",
         "--hidden", "3000,3000", "--out"]


def temporaries(folder):
    return [f for f in os.listdir(folder) if f.startswith(".corrflow-tmp-")]


def one_run(binary, folder):
    """(caught, stopped at the probe, debris) of one run."""
    child = subprocess.Popen([binary] + TRAIN + [os.path.join(folder, "m.safetensors")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen = []
    while not seen and child.poll() is None:
        seen = temporaries(folder)
    if seen:
        os.kill(child.pid, signal.SIGSTOP)
        os.kill(child.pid, signal.SIGTERM)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGCONT)
    child.wait()
    left = temporaries(folder) if seen else []
    if left:
        print(f"debris after a run stopped at {seen}: {left}", file=sys.stderr)
    return bool(seen), any("probe" in f for f in seen), bool(left)


def main():
    binary, runs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 200
    counts = [0, 0, 0]
    with tempfile.TemporaryDirectory(prefix="corrflow-race-") as scratch:
        for k in range(runs):
            folder = os.path.join(scratch, str(k))
            os.mkdir(folder)
            for i, x in enumerate(one_run(binary, folder)):
                counts[i] += x
            shutil.rmtree(folder)
    print(f"{binary}: runs {runs}, caught {counts[0]} (at the probe {counts[1]}), "
          f"debris {counts[2]}")
    sys.exit(1 if counts[2] else 0)


if __name__ == "__main__":
    main()
