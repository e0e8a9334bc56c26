#!/usr/bin/env python3
"""Conditional (Rao–Blackwellised) Monte Carlo for the Gaussian argmax, against the plain
antithetic estimator `analyze` uses (issue #14 item 2; BENCHMARKS.md, "analyze at 50 % of the
GEMM rate, fourteenth session (ana50)").

usage: rb_variance.py MODEL MNIST_DIR [PAIRS [SEED]]

For each class c of MNIST's 10 000 test images, y ~ N(ȳ_c, C_c) with the mean and 1/n covariance
of the network's outputs on the class (the Gaussian of the output tails and of start layer L).
PAIRS (default 100 000) antithetic pairs y± = ȳ ± F z (F the Cholesky factor of C_c, z ~ N(0, I)).
Per pair and output k:
  plain  xₖ = ½(1{argmax y⁺ = k} + 1{argmax y⁻ = k})           (`weighted_argmax` with w = 1)
  RB     xₖ = ½(Φ((mₖ(y⁺) − max_{j≠k} y⁺_j)/σₖ) + same for y⁻)
with mₖ(y) = yₖ − (Λ(y − ȳ))ₖ/Λₖₖ, σₖ² = 1/Λₖₖ, Λ = C⁻¹: P(argmax y = k | y₋ₖ), an unbiased
estimate of P(argmax = k) with variance ≤ the indicator's (Rao–Blackwell). Printed per class:
P(argmax = c) and its standard error by each estimator, the variance ratio plain/RB of the
correct class and of the whole row (Σₖ var xₖ), and the draws RB needs for the plain estimator's
standard error (PAIRS / ratio).
"""

import gzip
import os
import sys

import numpy as np
import safetensors.numpy as st
from scipy.special import ndtr


def idx(path, offset):
    with gzip.open(path) as f:
        return np.frombuffer(f.read()[offset:], np.uint8)


def outputs(model, mnist):
    m = st.load_file(model)
    x = idx(os.path.join(mnist, "t10k-images-idx3-ubyte.gz"), 16).reshape(-1, 784) / 255.0
    labels = idx(os.path.join(mnist, "t10k-labels-idx1-ubyte.gz"), 8)
    names = sorted({k.rsplit(".", 1)[0] for k in m}, key=lambda n: (n == "readout", n))
    h = x
    for i, n in enumerate(names):
        h = h @ m[n + ".weight"].T + m[n + ".bias"]
        if i < len(names) - 1:
            h = np.maximum(h, 0.0)
    return h, labels


def per_pair(mean, cov, pairs, rng):
    k = len(mean)
    f = np.linalg.cholesky(cov)
    lam = np.linalg.inv(cov)
    d = np.diag(lam)
    sigma = 1.0 / np.sqrt(d)
    z = rng.standard_normal((pairs, k))
    plain = np.zeros((pairs, k))
    rb = np.zeros((pairs, k))
    for sign in (1.0, -1.0):
        s = sign * (z @ f.T)
        y = mean + s
        plain[np.arange(pairs), y.argmax(1)] += 0.5
        cond = y - (s @ lam) / d
        top2 = np.sort(y, axis=1)[:, -2:]
        best = y.argmax(1)
        for c in range(k):
            rest = np.where(best == c, top2[:, 0], top2[:, 1])
            rb[:, c] += 0.5 * ndtr((cond[:, c] - rest) / sigma[c])
    return plain, rb


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    model, mnist = sys.argv[1], sys.argv[2]
    pairs = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    h, labels = outputs(model, mnist)
    rng = np.random.default_rng(seed)
    print("class  P plain   se plain   P RB      se RB      var ratio c  var ratio row  RB pairs")
    for c in range(10):
        y = h[labels == c]
        mean, cov = y.mean(0), np.cov(y.T, bias=True)
        plain, rb = per_pair(mean, cov, pairs, rng)
        se = lambda x: x.std(ddof=1) / np.sqrt(pairs)
        ratio = plain[:, c].var() / rb[:, c].var()
        row = plain.var(0).sum() / rb.var(0).sum()
        print(
            f"{c:5d}  {plain[:, c].mean():.5f}  {se(plain[:, c]):.2e}  {rb[:, c].mean():.5f}"
            f"  {se(rb[:, c]):.2e}  {ratio:11.2f}  {row:13.2f}  {pairs / min(ratio, row):8.0f}"
        )


if __name__ == "__main__":
    main()
