"""corrflow vs PyTorch CPU: time of one MNIST training epoch, side by side (`just bench-train-peers`).

    python train_compare.py CORRFLOW_BINARY MNIST_DIR [--epochs 20] [--reps 3] [--threads 1,2]
                            [--precision f64,f32] [--batch 128] [--hidden 100,100]

For every repetition, thread count T and precision it runs, alternately,
`corrflow --threads T train --task mnist … --precision P --timings` (its "training epoch" line)
and train_torch.py with `torch.set_num_threads(T)` and the matching dtype, so both see the same
machine load. Prints per run the median epoch time, then per (T, precision) the median over the
repetitions of corrflow's and PyTorch's medians, the best (min) epochs, achieved GFLOP/s
(6 flops per weight and sample) and the ratio corrflow / PyTorch (< 1: corrflow faster).
If torch cannot be imported by this interpreter, prints why and reports corrflow alone.
"""

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
EPOCH = re.compile(r"training epoch\s+min ([0-9.]+) s\s+median ([0-9.]+) s")


def corrflow_epoch(args, threads, precision, out):
    cmd = [args.corrflow, "--threads", str(threads), "train", "--task", "mnist", "--mnist-dir",
           args.mnist_dir, "--hidden", args.hidden, "--batch", str(args.batch), "--epochs",
           str(args.epochs), "--precision", precision, "--timings", "--out", out]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"corrflow failed ({' '.join(cmd)}):\n{run.stderr}")
    m = EPOCH.search(run.stderr)
    if not m:
        raise SystemExit(f"no 'training epoch' line in corrflow's --timings output:\n{run.stderr}")
    return float(m.group(1)), float(m.group(2))


def torch_epoch(args, threads, precision):
    dtype = {"f64": "float64", "f32": "float32"}[precision]
    cmd = [sys.executable, str(HERE / "train_torch.py"), args.mnist_dir, "--threads", str(threads),
           "--dtype", dtype, "--epochs", str(args.epochs), "--batch", str(args.batch), "--hidden",
           args.hidden, "--json"]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"train_torch.py failed ({' '.join(cmd)}):\n{run.stderr}")
    rec = json.loads(run.stdout.strip().splitlines()[-1])
    return rec["min"], rec["median"], rec["test_accuracy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corrflow")
    ap.add_argument("mnist_dir")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--precision", default="f64,f32")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--hidden", default="100,100")
    args = ap.parse_args()

    have_torch = importlib.util.find_spec("torch") is not None
    if not have_torch:
        print(f"PyTorch is not importable by {sys.executable}: skipping the PyTorch peer "
              "(install torch into that interpreter, or set CORRFLOW_PYTHON); corrflow alone:")
    widths = [784] + [int(w) for w in args.hidden.split(",")] + [10]
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    epoch_flops = 6.0 * weights * 5000  # train5k; GFLOP/s are indicative for other sizes
    out = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench-train-peers-{os.getpid()}.safetensors")
    results = {}
    try:
        with open("/proc/loadavg") as f:
            print("load average before:", f.read().split()[:3])
    except OSError:
        pass
    for rep in range(args.reps):
        for t in [int(x) for x in args.threads.split(",")]:
            for p in args.precision.split(","):
                c = corrflow_epoch(args, t, p, out)
                line = f"rep {rep + 1} T={t} {p}: corrflow median {1e3 * c[1]:6.1f} ms"
                tch = None
                if have_torch:
                    tch = torch_epoch(args, t, p)
                    line += f"  torch median {1e3 * tch[1]:6.1f} ms (test acc {tch[2]:.4f})"
                print(line, flush=True)
                results.setdefault((t, p), []).append((c, tch))
    if os.path.exists(out):
        os.remove(out)
    try:
        with open("/proc/loadavg") as f:
            print("load average after:", f.read().split()[:3])
    except OSError:
        pass
    print(f"\nepoch of {args.epochs}-epoch runs, {args.reps} reps, batch {args.batch}, widths {widths}")
    print("T  prec  corrflow med / min (GFLOP/s)      torch med / min (GFLOP/s)        corrflow/torch (medians)")
    for (t, p), runs in results.items():
        c_med = statistics.median(r[0][1] for r in runs)
        c_min = min(r[0][0] for r in runs)
        row = f"{t}  {p}   {1e3 * c_med:6.1f} / {1e3 * c_min:6.1f} ms ({epoch_flops / c_med * 1e-9:5.1f})"
        if have_torch:
            t_med = statistics.median(r[1][1] for r in runs)
            t_min = min(r[1][0] for r in runs)
            row += (f"      {1e3 * t_med:6.1f} / {1e3 * t_min:6.1f} ms ({epoch_flops / t_med * 1e-9:5.1f})"
                    f"      {c_med / t_med:.2f}x")
        print(row)


if __name__ == "__main__":
    main()
