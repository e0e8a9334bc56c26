"""Per hidden layer of a case directory of driver.py (x ~ N(0, I)): how large the terms of the
one-unit mean closure are, measured with the exact (Monte Carlo) cumulants of h, and what a
closure truncated at κ₄ — the peer's K = 4 and corrflow's order 4 alike — would still miss.

For a unit with h = μ + s·u (u standardised, cumulants κ₃, κ₄, … of u) the mean of φ(h) is
exactly its Hermite (Gram–Charlier) series

    E φ(h) = Σ_j c_j E[He_j(u)],   c_j = E_G[φ(μ + s z) He_j(z)]/j!   (z ~ N(0, 1)),
    E He₃ = κ₃,  E He₄ = κ₄,  E He₅ = κ₅,  E He₆ = κ₆ + 10 κ₃²

(the last from E exp(t u − t²/2) = exp(Σ_{r≥3} κ_r t^r/r!)). Printed per layer, as the RMS
over units divided by the layer's RMS σ_z (the output's mean error is W_out times these):
the standardised cumulants of h (k3 … k6), the terms c₃κ₃, c₄κ₄, c₅κ₅, the κ₃² part of the
degree-6 term (t6_k3sq = 10 c₆ κ₃²) and its κ₆ part, and the residual of the closure to κ₄
(`resid_k4` = E φ(h) − c₀ − c₃κ₃ − c₄κ₄, with μ, s, κ from the same draws, so that most of
the draws' noise cancels) without and with the κ₃² term. Then the output's MSE/Var (table.py's
definition, truth.npz's covariance) that these residuals alone give, mapped to y to first order
(each layer's residual carried by diag E φ'(h) W through the later layers): the floor of a
closure to κ₄ fed the exact cumulants of h.

Usage: ``layer_terms.py CASE_DIR [--draws LOG2] [--seed S]`` (torch, numpy, safetensors; one
thread, float64 draws; 2²⁰ draws take about a minute at n = 128, L = 4).
"""

import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file

ACTS = {"relu": torch.relu, "gelu": torch.nn.functional.gelu, "tanh": torch.tanh}
BATCH = 1 << 16
GRID = np.linspace(-12.0, 12.0, 24001)  # the c_j's quadrature (trapezoid; φ at most a kink)


def hermite(j):
    """He₀ … He_j on GRID."""
    he = [np.ones_like(GRID), GRID]
    for k in range(1, j):
        he.append(GRID * he[k] - k * he[k - 1])
    return he


def chaos(phi, mu, s, j_max=6):
    """c_j[a] = E_G[φ(μ_a + s_a z) He_j(z)]/j! for j = 0 … j_max."""
    w = np.exp(-GRID**2 / 2) / math.sqrt(2 * math.pi) * (GRID[1] - GRID[0])
    vals = phi(torch.tensor(mu[:, None] + s[:, None] * GRID[None, :])).numpy()
    return [vals @ (w * he) / math.factorial(j) for j, he in enumerate(hermite(j_max))]


def sums(weights, act, draws, seed):
    """Per layer: power sums of h (1 … 6), sums of z and z², sums of φ'(h)."""
    n, depth = weights[0].shape[0], len(weights)
    ph = [torch.zeros(7, n, dtype=torch.float64) for _ in range(depth)]
    pz = [torch.zeros(2, n, dtype=torch.float64) for _ in range(depth)]
    dphi = [torch.zeros(n, dtype=torch.float64) for _ in range(depth)]
    gen = torch.Generator().manual_seed(seed)
    for _ in range(draws // BATCH):
        z = torch.randn(BATCH, n, generator=gen, dtype=torch.float64)
        for l, w in enumerate(weights):
            h = (z @ w.T).requires_grad_(True)
            out = act(h)
            dphi[l] += torch.autograd.grad(out.sum(), h)[0].sum(0)
            h, z = h.detach(), out.detach()
            p = torch.ones_like(h)
            for k in range(1, 7):
                p = p * h
                ph[l][k] += p.sum(0)
            pz[l][0] += z.sum(0)
            pz[l][1] += (z * z).sum(0)
    return ph, pz, dphi


def standardised(raw):
    """μ, s and the standardised κ₃ … κ₆ from raw moments raw[k] = E h^k (k = 1 … 6)."""
    mu = raw[1]
    cm = {k: sum(math.comb(k, i) * raw[i] * (-mu) ** (k - i) for i in range(k + 1)) for k in range(2, 7)}
    var = cm[2]
    s = np.sqrt(var)
    k3 = cm[3] / s**3
    k4 = cm[4] / var**2 - 3
    k5 = cm[5] / s**5 - 10 * k3
    k6 = cm[6] / var**3 - 15 * k4 - 10 * k3**2 - 15
    return mu, s, k3, k4, k5, k6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case", type=Path)
    ap.add_argument("--draws", type=int, default=20, help="log2 of the number of draws")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    cfg = json.loads((args.case / "config.json").read_text())
    arrays = load_file(str(args.case / "model.safetensors"))
    depth = cfg["depth"]
    weights = [torch.tensor(arrays[f"hidden{l}.weight"]) for l in range(1, depth + 1)]
    act = ACTS[cfg["act"]]
    draws = 1 << args.draws
    ph, pz, dphi = sums(weights, act, draws, args.seed)
    rms = lambda x: float(np.sqrt(np.mean(x**2)))
    resid, with_k3sq = [], []
    for l in range(depth):
        raw = [np.ones(1)] + [(ph[l][k] / draws).numpy() for k in range(1, 7)]
        mu, s, k3, k4, k5, k6 = standardised(raw)
        mz = (pz[l][0] / draws).numpy()
        sz = math.sqrt(float(np.mean((pz[l][1] / draws).numpy() - mz**2)))
        c = chaos(act, mu, s)
        r = mz - c[0] - c[3] * k3 - c[4] * k4
        resid.append(r)
        with_k3sq.append(r - 10 * c[6] * k3**2)
        terms = dict(k3=rms(k3), k4=rms(k4), k5=rms(k5), k6=rms(k6), t3=rms(c[3] * k3) / sz,
                     t4=rms(c[4] * k4) / sz, t5=rms(c[5] * k5) / sz,
                     t6_k3sq=rms(10 * c[6] * k3**2) / sz, t6_k6=rms(c[6] * k6) / sz,
                     resid_k4=rms(r) / sz, resid_k4_k3sq=rms(with_k3sq[-1]) / sz)
        print(f"layer {l + 1}: " + " ".join(f"{k}={v:.3g}" for k, v in terms.items()))
    truth = np.load(args.case / "truth.npz")
    w_out = arrays["readout.weight"]
    slopes = [(d / draws).numpy() for d in dphi]
    w = [x.numpy() for x in weights]

    def output_mse_var(res):
        total = np.zeros_like(res[0])
        for l in range(depth):
            e = res[l]
            for k in range(l + 1, depth):
                e = slopes[k] * (w[k] @ e)
            total += e
        return float(((w_out @ total) ** 2).sum() / np.trace(truth["cov"]))

    print(f"output MSE/Var of the closure to κ₄ fed exact cumulants: {output_mse_var(resid):.3g}; "
          f"with the κ₃² term: {output_mse_var(with_k3sq):.3g}")


if __name__ == "__main__":
    main()
