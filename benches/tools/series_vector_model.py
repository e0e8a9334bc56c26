#!/usr/bin/env python3
"""Term-count model of the series closure's pair fill at large scales (clo21, issue #14 item 3).

usage: series_vector_model.py [SEED]

Builds the `strong` layer of `closure_ratio` in distribution (Σ = BBᵀ/8 + D, B of rank 8 with
U(−1, 1) entries, D ~ U(0.005, 0.05); not the tool's exact draws), caps |ρ| at 0.9 (the closed
pairs above), and counts the Mehler terms a pair needs at the 10⁻¹⁰ tolerance with a relu-like
remainder R(L)/Var = 1/(L + 1): per pair, per lane rounded up to the 8-term steps of the limits,
and per 8-lane vector (its largest |ρ|), in natural order and in two unit orders. Then the
relative term work of two designs that let lanes take their own counts:
- head + gathered tail: every vector takes at most H terms contiguously, the lanes needing more
  go, sorted by count, into gathered vectors costing G contiguous vector-terms per term;
- head + tail along n: the tail of each such pair as a dot product over 8 orders per step
  (a unit-major copy of the table), 2 operations per 8 terms plus ~15 per pair.
Work is counted in vector-terms (2 floating-point operations each); 1.00 = today's kernel.
"""

import sys

import numpy as np


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    rng = np.random.default_rng(seed)
    n = 1024
    b = rng.uniform(-1, 1, (n, 8))
    cov = b @ b.T / 8 + np.diag(rng.uniform(0.005, 0.05, n))
    s = np.sqrt(np.diag(cov))
    rho = np.minimum(np.abs(cov / np.outer(s, s)), 0.9)
    np.fill_diagonal(rho, 0)
    ls = np.arange(1, 300)
    ln_r = np.log(1.0 / (ls + 1))

    def terms(r):
        lr = np.log(np.maximum(r, 1e-300))
        need = np.full(r.shape, 299.0)
        for l in ls[::-1]:
            need = np.where((l + 1) * lr + ln_r[l - 1] <= np.log(1e-10), l, need)
        return need

    def report(perm, name):
        t = terms(rho[np.ix_(perm, perm)])
        own = np.ceil(t / 8) * 8
        low = np.tril_indices(n, -1)
        vec = sum(
            own[i, j0 : min(j0 + 8, i)].max() * (min(j0 + 8, i) - j0)
            for i in range(n)
            for j0 in range(0, i, 8)
        )
        print(
            f"{name}: terms per pair {t[low].mean():.1f}, per lane (own step) "
            f"{own[low].mean():.1f}, per vector {vec / len(low[0]):.1f}"
        )
        return own

    own = report(np.arange(n), "natural order")
    u = b / np.linalg.norm(b, axis=1, keepdims=True)
    k = np.argmax(np.abs(u), axis=1)
    report(np.argsort(k, kind="stable"), "by dominant factor")
    a = np.abs(u @ u.T)
    np.fill_diagonal(a, -1)
    used = np.zeros(n, bool)
    order = [0]
    used[0] = True
    for _ in range(n - 1):
        row = a[order[-1]].copy()
        row[used] = -2
        order.append(int(np.argmax(row)))
        used[order[-1]] = True
    report(np.array(order), "greedy nearest-neighbour chain")

    # Work in pair-terms (a vector-term is 8): a vector takes its largest lane's count.
    vectors = [(v, min(8, i - j0)) for i in range(n) for j0, v in vector_max_row(own, i)]
    base = sum(v * w for v, w in vectors)
    for h in [8, 16, 24, 32, 40]:
        head = sum(min(v, h) * w for v, w in vectors)
        gathered, along = 0.0, 0.0
        for i in range(n):
            tail = np.sort(own[i, :i][own[i, :i] > h] - h)
            gathered += sum(tail[min(k0 + 7, len(tail) - 1)] * 8 for k0 in range(0, len(tail), 8))
            # t terms along n: t/8 vector-terms; ~15 operations (7.5 vector-terms) per pair.
            along += (tail + 8 * 7.5).sum()
        cells = ", ".join(f"G={g}: {(head + g * gathered) / base:.2f}" for g in [2, 3, 4])
        print(f"H={h}: gathered tail {cells}; tail along n {(head + along) / base:.2f}")


def vector_max_row(own, i):
    """(first row, largest count) of each 8-lane vector of column i."""
    return [(j0, own[i, j0 : min(j0 + 8, i)].max()) for j0 in range(0, i, 8)]


if __name__ == "__main__":
    main()
