"""Checks radial.py's closed forms against sampling: relu_cumulants (κ₃, κ₄ of relu of a
normal) and gsm_k4 (a GSM's κ₄[i,i,j,j] with means), and that fit_tau_exact recovers the τ a
GSM was drawn with. Each sampled estimate comes with its standard error from BATCHES batch
estimates (their spread / √BATCHES); a check fails where |closed form − sample| exceeds
Z standard errors (the batch estimates' small bias, O(1/draws), is far below one error).

Usage: ``radial_check.py [--draws LOG2]``; prints each check and exits 1 on a failure.
"""

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import radial  # noqa: E402

BATCHES = 16
Z = 5.0  # standard errors a check allows (two-sided normal tail 6e-7 per entry)


def batched(estimate, draw, batch):
    """(mean, standard error) over BATCHES batch estimates of `estimate(draw(batch))`."""
    est = torch.stack([estimate(draw(batch)) for _ in range(BATCHES)])
    return est.mean(0), est.std(0) / BATCHES**0.5


def check(label, closed, sampled, se):
    z = ((closed - sampled).abs() / se).max().item()
    print(f"{label}: max |closed − sampled| / s.e. = {z:.2f} (limit {Z})")
    return z <= Z


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=22, help="log2 of the samples of each check")
    batch = (1 << ap.parse_args().draws) // BATCHES
    gen = torch.Generator().manual_seed(7)
    f64 = dict(dtype=torch.float64)
    ok = True

    mu, s = torch.tensor([-1.0, 0.0, 0.7, 2.0], **f64), torch.tensor([1.0, 2.0, 0.5, 1.3], **f64)
    draw = lambda b: torch.relu(mu + s * torch.randn(b, 4, generator=gen, **f64))  # noqa: E731

    def cumulants(x):
        d = x - x.mean(0)
        m2 = (d**2).mean(0)
        return torch.stack([(d**3).mean(0), (d**4).mean(0) - 3 * m2**2])

    est, se = batched(cumulants, draw, batch)
    ok &= check("relu_cumulants κ₃, κ₄", torch.stack(radial.relu_cumulants(mu, s)), est, se)

    n, tau = 6, 0.3
    a = torch.randn(n, n, generator=gen, **f64) / 2
    c_g = a @ a.T + 0.2 * torch.eye(n, **f64)
    mu_g = 1.5 * torch.randn(n, generator=gen, **f64)
    root = torch.linalg.cholesky(c_g)
    gamma = torch.distributions.Gamma(torch.tensor(1 / tau, **f64), torch.tensor(1 / tau, **f64))

    def draw_gsm(b):
        r = gamma.sample((b,)).sqrt()  # torch's global generator: seeded below
        return r[:, None] * (mu_g + torch.randn(b, n, generator=gen, **f64) @ root.T)

    def k4_and_moments(h):
        mh, d = h.mean(0), h - h.mean(0)
        c = d.T @ d / len(h)
        v = torch.diagonal(c)
        return torch.stack([(d * d).T @ (d * d) / len(h) - torch.outer(v, v) - 2 * c * c, c, mh.expand(n, n)])

    torch.manual_seed(7)
    batches = [k4_and_moments(draw_gsm(batch)) for _ in range(BATCHES)]
    est = torch.stack(batches)
    k4, se = est[:, 0].mean(0), est[:, 0].std(0) / BATCHES**0.5
    r1 = radial.root_moments(tau)[0]  # h's population moments: E h = E R μ_g, Cov h = C_g + Var(R) μ_g μ_gᵀ
    closed = radial.gsm_k4(tau, r1 * mu_g, c_g + (1 - r1 * r1) * torch.outer(mu_g, mu_g))
    off = ~torch.eye(n, dtype=torch.bool)
    ok &= check("gsm_k4 (off-diagonal)", closed[off], k4[off], se[off])
    fits = torch.tensor([radial.fit_tau_exact(e[0], e[2][0], e[1]) for e in batches])
    fitted = radial.fit_tau_exact(k4, est[:, 2, 0].mean(0), est[:, 1].mean(0))
    ok &= check(f"fit_tau_exact on all draws ({fitted:.4f}) against the drawn τ", torch.tensor(fitted),
                torch.tensor(tau), fits.std() / BATCHES**0.5)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
