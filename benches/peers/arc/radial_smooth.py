"""The radial common-mode (GSM) closure of radial.py for activations that are not homogeneous
(gelu, tanh), with a quadrature over R, at the network's own τ profile (its best case).

Usage: ``radial_smooth.py DIR... [--draws LOG2]`` (driver.py case directories of gelu or tanh,
with truth.npz and optionally peer_k3.npz, corrflow_o2.safetensors,
corrflow_o3_factored.safetensors); prints a Markdown table and writes ``radial_smooth.json``
beside each case's model (run it on copies).

With h = R g as in radial.py (E R² = 1, R² ~ Gamma(shape 1/τ, scale τ), μ_g = μ_h/E R,
C_g = C_h + μ_h μ_hᵀ − μ_g μ_gᵀ), φ(h) = φ(R g) no longer factors: E a = Σ_q w_q m(r_q),
E aaᵀ = Σ_q w_q (C(r_q) + m(r_q) m(r_q)ᵀ), with (m(r), C(r)) the Gaussian closure of φ at
N(r μ_g, r² C_g) and (r_q², w_q) the Q-point generalised Gauss–Laguerre rule for R²'s Gamma law
(nodes τ·x_q, x_q the roots for weight x^{1/τ − 1} e^{−x}, weights normalised to sum 1).
The Gaussian closure is Gauss–Hermite: 1-D for the means and variances, 2-D on every pair
((g_i, g_j) = (μ_i + s_i z₁, μ_j + s_j(ρ z₁ + √(1 − ρ²) z₂))); it is checked against
corrflow's order 2 (corrflow_o2.safetensors). τ_l is fitted to the network's own h_l
(radial.oracle_taus, exact fit on τ ≥ 0; the linear "full" fit, which may be negative, is
recorded beside it), and also scaled by the best multiple c against the truth (a ceiling). The relation τ' = (1 + τ)(1 + τ_gen) − 1 of radial.py needs a homogeneous φ, so no
τ_gen model is tried here.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from scipy.special import roots_genlaguerre

sys.path.insert(0, str(Path(__file__).resolve().parent))
import radial  # noqa: E402

ACTS = {"gelu": lambda x: x * torch.special.ndtr(x), "tanh": torch.tanh}
NODES = 32  # Gauss–Hermite points per dimension
R_NODES = 5  # quadrature points over R²


def hermite():
    x, w = np.polynomial.hermite_e.hermegauss(NODES)  # weight e^{−x²/2}
    return torch.from_numpy(x), torch.from_numpy(w / np.sqrt(2 * np.pi))


def gauss_closure(phi, mu, c):
    """(E φ(g), Cov φ(g)) for g ~ N(μ, C) by Gauss–Hermite (module docs)."""
    x, w = hermite()
    s = torch.sqrt(torch.diagonal(c))
    vals = phi(mu[:, None] + s[:, None] * x)  # n × K
    m = vals @ w
    second = torch.empty_like(c)
    second.diagonal().copy_((vals * vals) @ w)
    i, j = torch.triu_indices(len(mu), len(mu), 1)
    for start in range(0, len(i), 4096):
        a, b = i[start : start + 4096], j[start : start + 4096]
        rho = (c[a, b] / (s[a] * s[b])).clamp(-1.0, 1.0)
        q = torch.sqrt((1 - rho) * (1 + rho))
        # inner[p, k] = Σ_l w_l φ(μ_b + s_b(ρ x_k + q x_l))
        arg = mu[b, None, None] + s[b, None, None] * (rho[:, None, None] * x[None, :, None] + q[:, None, None] * x[None, None, :])
        inner = phi(arg) @ w
        e = (vals[a] * inner) @ w
        second[a, b] = e
        second[b, a] = e
    return m, second - torch.outer(m, m)


def r_rule(tau):
    """(nodes r_q, weights w_q) over R for R² ~ Gamma(1/τ, τ); one node r = 1 at τ ≤ 0."""
    if tau <= 0.0:
        return np.array([1.0]), np.array([1.0])
    x, w = roots_genlaguerre(R_NODES, 1.0 / tau - 1.0)
    return np.sqrt(tau * x), w / w.sum()


def propagate(weights, phi, taus):
    """Output (mean, covariance) of the GSM closure with the τ profile `taus` (τ ≡ 0: the
    Gaussian closure). Raises radial.Breakdown where C_g is not a covariance."""
    w1 = weights[0]
    mu_h, c_h = torch.zeros(w1.shape[0], dtype=torch.float64), w1 @ w1.T
    for layer, w in enumerate(weights[1:]):
        mu_g, c_g = radial.scale_free(radial.root_moments(taus[layer])[0], mu_h, c_h, f"h{layer + 1}")
        mean, second = 0.0, 0.0
        for r, wq in zip(*r_rule(taus[layer])):
            m, c = gauss_closure(phi, r * mu_g, r * r * c_g)
            mean, second = mean + wq * m, second + wq * (c + torch.outer(m, m))
        mu_h, c_h = w @ mean, w @ (second - torch.outer(mean, mean)) @ w.T
    return mu_h.numpy(), c_h.numpy()


def run_case(case: Path, draws: int):
    cfg = json.loads((case / "config.json").read_text())
    if cfg["act"] not in ACTS:
        raise SystemExit(f"{case}: activation {cfg['act']}; expected one of {sorted(ACTS)} (relu: radial.py)")
    phi = ACTS[cfg["act"]]
    weights = radial.load_weights(case)
    truth = np.load(case / "truth.npz")
    chunks = max(draws // radial.CHUNK, 1)
    fitted = radial.oracle_taus(weights, chunks, 20261130, ("exact", "full"), act=phi)
    own = [0.0] + fitted["exact"][1:]
    results = {}
    gauss = propagate(weights, phi, [0.0] * len(own))
    results["gauss"] = radial.errors(*gauss, truth)
    try:
        results["oracle-exact"] = radial.errors(*propagate(weights, phi, own), truth)
    except radial.Breakdown as e:
        results["oracle-exact"] = f"breaks at {e}"

    def mse(c):
        try:
            return radial.errors(*propagate(weights, phi, [c * t for t in own]), truth)[0]
        except radial.Breakdown:
            return np.inf

    grid = np.arange(0.0, 3.0 + 1e-9, 0.25)
    best_c = float(grid[int(np.argmin([mse(c) for c in grid]))])
    results["best c"] = radial.errors(*propagate(weights, phi, [best_c * t for t in own]), truth)
    for name, (mean, cov) in radial.peer_outputs(case).items():
        results[name] = radial.errors(mean, cov, truth)
        if name == "corrflow_o2":
            results["gauss vs corrflow_o2"] = (
                float(np.abs(gauss[0] - mean).max() / np.sqrt(np.diag(cov).max())),  # ÷ the largest s.d.
                float(np.abs(gauss[1] - cov).max() / np.abs(cov).max()),
            )
    record = dict(cfg, results=results, own_taus=own, own_taus_full=fitted["full"], best_c=best_c,
                  draws=chunks * radial.CHUNK,
                  floor=float(truth["se2_mean"].sum() / np.trace(truth["cov"])), se_cov=float(truth["se_cov_rel"]))
    (case / "radial_smooth.json").write_text(json.dumps(record, indent=1))
    return record


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--draws", type=int, default=18, help="log2 of the samples for the network's own τ")
    args = ap.parse_args()
    torch.set_num_threads(1)
    cols = ["gauss", "oracle-exact", "best c", "peer K=3", "corrflow_o3_factored"]
    head = ["case", "MC floor / s.e."] + cols + ["c", "own τ_L exact / full", "Gauss vs corrflow_o2"]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for case in args.cases:
        radial.check_case(case)
        r = run_case(case, 1 << args.draws)
        d = r["results"].get("gauss vs corrflow_o2")
        cells = [radial.cell(r["results"].get(c, "–")) for c in cols]
        print(f"| {radial.name(r)} | {radial.fmt(r['floor'])} / {radial.fmt(r['se_cov'])} | " + " | ".join(cells)
              + f" | {r['best_c']:.2f} | {radial.fmt(r['own_taus'][-1])} / {radial.fmt(r['own_taus_full'][-1])} | "
              + (f"{d[0]:.0e} / {d[1]:.0e} |" if d else "– |"), flush=True)


if __name__ == "__main__":
    main()
