"""Accuracy effect of `corrflow train --precision f32` on real MNIST.

    python precision_accuracy.py CORRFLOW_BINARY MNIST_DIR [--seeds 1,2,3,4,5] [--epochs 15]
                                 [--batch 128] [--hidden 100,100] [--threads 1]

For every seed it trains the same network (784-…-10 relu, corrflow's MNIST defaults) in f64
and in f32, reads both model files (safetensors, f64), evaluates the logits of the 10k test
images in f64 with numpy, and prints: test accuracy f64 / f32, their difference, the share of
test images whose predicted class differs, and max |Δ logits| between the two trained networks
(relative to max |logits|); then the mean accuracy difference over seeds.
"""

import argparse
import gzip
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np


def read_idx(path):
    with (gzip.open if str(path).endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    for name in (stem, stem + ".gz"):
        if (Path(folder) / name).exists():
            return Path(folder) / name
    raise SystemExit(f"{folder}: no {stem}[.gz]")


def load_model(path):
    """corrflow's safetensors file: tensors hidden1…L.{weight,bias}, readout.*, F64."""
    raw = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    tensors = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F64", meta
        a, b = meta["data_offsets"]
        tensors[name] = np.frombuffer(body[a:b], dtype="<f8").reshape(meta["shape"])
    depth = sum(1 for k in tensors if k.startswith("hidden") and k.endswith(".weight"))
    names = [f"hidden{i + 1}" for i in range(depth)] + ["readout"]
    return [(tensors[f"{m}.weight"], tensors[f"{m}.bias"]) for m in names]


def logits(layers, x):
    a = x
    for i, (w, b) in enumerate(layers):
        a = a @ w.T + b
        if i < len(layers) - 1:
            a = np.maximum(a, 0.0)
    return a


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corrflow")
    ap.add_argument("mnist_dir")
    ap.add_argument("--seeds", default="1,2,3,4,5")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--hidden", default="100,100")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    xt = read_idx(find(args.mnist_dir, "t10k-images-idx3-ubyte")).reshape(-1, 784) / 255.0
    yt = read_idx(find(args.mnist_dir, "t10k-labels-idx1-ubyte")).astype(np.int64)
    diffs = []
    print("seed  acc f64  acc f32  Δacc     pred. differ  max|Δlogit|  /max|logit|")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",")]:
            out = {}
            for p in ("f64", "f32"):
                model = Path(tmp) / f"{p}.safetensors"
                subprocess.run(
                    [args.corrflow, "--threads", str(args.threads), "train", "--task", "mnist",
                     "--mnist-dir", args.mnist_dir, "--hidden", args.hidden, "--activation", "relu",
                     "--batch", str(args.batch), "--epochs", str(args.epochs), "--seed", str(seed),
                     "--precision", p, "--json", "--out", str(model)],
                    check=True, stdout=subprocess.DEVNULL,
                )
                out[p] = logits(load_model(model), xt)
            acc = {p: float((out[p].argmax(1) == yt).mean()) for p in out}
            differ = float((out["f64"].argmax(1) != out["f32"].argmax(1)).mean())
            dmax = float(np.abs(out["f64"] - out["f32"]).max())
            rel = dmax / float(np.abs(out["f64"]).max())
            diffs.append(acc["f32"] - acc["f64"])
            print(f"{seed:4}  {acc['f64']:.4f}   {acc['f32']:.4f}   {acc['f32'] - acc['f64']:+.4f}  "
                  f"{differ:10.4f}    {dmax:10.3e}   {rel:.3e}")
    d = np.array(diffs)
    print(f"mean Δacc (f32 − f64) over {len(d)} seeds: {d.mean():+.5f} (sd {d.std(ddof=1) if len(d) > 1 else 0:.5f})")


if __name__ == "__main__":
    sys.exit(main())
