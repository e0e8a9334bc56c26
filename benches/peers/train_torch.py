"""PyTorch CPU peer of `corrflow train --task mnist`: the same network, loss, optimiser and
initialisation, trained on the same IDX files, timed per epoch (data loading excluded).

    python train_torch.py MNIST_DIR [--threads 1,2] [--dtype float64,float32] [--epochs 10]
                          [--batch 128] [--hidden 100,100] [--loss mse|ce] [--lr 1e-3] [--seed 1]

corrflow's MNIST defaults (src/cli/train.rs, `NetArgs::resolve`): relu hidden layers, weights
N(0, 2/fan_in) (gain √2), biases 0, loss mse = mean over the batch of ‖y − onehot‖², Adam
(β₁ 0.9, β₂ 0.999, ε 1e-8, lr 1e-3), a fresh shuffle every epoch. Pixels are byte/255 in [0, 1].

Per (threads, dtype) it trains --epochs epochs and prints one line per configuration with the
min and median epoch time and the test accuracy, then (with --json) one JSON object per line:
{"threads", "dtype", "epoch_seconds": [...], "min", "median", "test_accuracy"}.
An epoch is: shuffle, gather each batch (x[:, idx]), forward, loss, backward, Adam step, as in
corrflow's training loop. If torch cannot be imported, prints a message and exits with status 3.
"""

import argparse
import gzip
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError as e:  # the just recipe turns this into a skip
    print(f"train_torch.py: PyTorch is not importable ({e}); skipping the PyTorch peer", file=sys.stderr)
    sys.exit(3)


def read_idx(path):
    """An IDX file (raw or .gz) as a numpy array of its declared shape (u8 data only)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[0] != 0 or data[1] != 0 or data[2] != 8:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(folder, stem):
    """train5k-… / train-… / t10k-…, raw or .gz, as corrflow's --mnist-dir does."""
    for name in (stem, stem + ".gz"):
        p = Path(folder) / name
        if p.exists():
            return p
    return None


def load(folder):
    for prefix in ("train", "train5k"):
        xi, yi = find(folder, f"{prefix}-images-idx3-ubyte"), find(folder, f"{prefix}-labels-idx1-ubyte")
        if xi and yi:
            break
    else:
        raise SystemExit(f"{folder}: no training images/labels")
    x = read_idx(xi).reshape(-1, 784).astype(np.float64) / 255.0
    y = read_idx(yi).astype(np.int64)
    xt = read_idx(find(folder, "t10k-images-idx3-ubyte")).reshape(-1, 784).astype(np.float64) / 255.0
    yt = read_idx(find(folder, "t10k-labels-idx1-ubyte")).astype(np.int64)
    return x, y, xt, yt


def build(widths, dtype, seed):
    torch.manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        lin = torch.nn.Linear(fan_in, fan_out, dtype=dtype)
        with torch.no_grad():
            lin.weight.normal_(0.0, (2.0 / fan_in) ** 0.5)  # N(0, gain²/fan_in), gain √2
            lin.bias.zero_()
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def train(x, y, widths, dtype, args):
    net = build(widths, dtype, args.seed)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.9, 0.999), eps=1e-8)
    n = x.shape[0]
    eye = torch.eye(widths[-1], dtype=dtype)
    gen = torch.Generator().manual_seed(args.seed)
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen)
        for start in range(0, n, args.batch):
            idx = order[start : start + args.batch]
            xb, yb = x[idx], y[idx]
            out = net(xb)
            if args.loss == "mse":
                loss = ((out - eye[yb]) ** 2).sum(dim=1).mean()
            else:
                loss = torch.nn.functional.cross_entropy(out, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return net, times


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mnist_dir")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--dtype", default="float64,float32")
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--hidden", default="100,100")
    ap.add_argument("--loss", default="mse", choices=["mse", "ce"])
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    x64, y, xt64, yt = load(args.mnist_dir)
    widths = [784] + [int(w) for w in args.hidden.split(",")] + [10]
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    epoch_flops = 6.0 * weights * x64.shape[0]
    print(
        f"torch {torch.__version__}, {x64.shape[0]} train / {xt64.shape[0]} test, widths {widths}, "
        f"batch {args.batch}, loss {args.loss}, adam lr {args.lr}, {args.epochs} epochs",
        file=sys.stderr,
    )
    records = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        for name in args.dtype.split(","):
            dtype = getattr(torch, name)
            x = torch.from_numpy(x64).to(dtype)
            yy = torch.from_numpy(y)
            net, times = train(x, yy, widths, dtype, args)
            with torch.no_grad():
                pred = net(torch.from_numpy(xt64).to(dtype)).argmax(dim=1).numpy()
            acc = float((pred == yt).mean())
            rec = {
                "threads": threads,
                "dtype": name,
                "epoch_seconds": times,
                "min": min(times),
                "median": statistics.median(times),
                "test_accuracy": acc,
            }
            records.append(rec)
            print(
                f"torch T={threads} {name:8} epoch min {1e3 * rec['min']:7.1f} ms  median "
                f"{1e3 * rec['median']:7.1f} ms  ({epoch_flops / rec['min'] * 1e-9:5.1f} GFLOP/s at the min)"
                f"  test accuracy {acc:.4f}",
                file=sys.stderr,
            )
    if args.json:
        for rec in records:
            print(json.dumps(rec))


if __name__ == "__main__":
    main()
