"""PyTorch (CPU, float64) relu closure for the peer comparison of one layer of cumulant
propagation, written the way a PyTorch user would, on tensors; layer.py applies the affine map
(`w @ Σ @ w.T` on tensors), times it and checks it against corrflow when torch imports. PyTorch has no bivariate normal cdf (and no Owen's T), so
Φ₂ is Genz's BVNU algorithm (Genz 2004, "Numerical computation of rectangular bivariate and
trivariate normal and t probabilities", the TVPACK code scipy and corrflow also follow),
vectorised over all pairs with boolean masks:

|ρ| < 0.925: Φ₂(h,k;ρ) = Φ(h)Φ(k) + asin ρ/(4π) Σₙ wₙ exp((sₙhk − (h²+k²)/2)/(1 − sₙ²)),
sₙ = sin(asin ρ (xₙ+1)/2), 20-point Gauss–Legendre (xₙ, wₙ) on [−1, 1];
|ρ| ≥ 0.925: Genz's expansion around ρ = ±1 with the same 20-point rule.

relu closure (DESIGN.md §3): a = μ/s, ρ = Σ/(s sᵀ), q = √(1−ρ²),
E[h⁺h⁺]/(sᵢsⱼ) = (ab+ρ)Φ₂(a,b;ρ) + aφ(b)Φ((a−ρb)/q) + bφ(a)Φ((b−ρa)/q) + qφ(b)φ((a−ρb)/q).
"""

import math

import numpy as np
import torch

NODES, WEIGHTS = (torch.from_numpy(v) for v in np.polynomial.legendre.leggauss(20))
TWO_PI = 2.0 * math.pi


def pdf(x):
    return torch.exp(-0.5 * x * x) / math.sqrt(TWO_PI)


def bvnu_moderate(h, k, r):
    """P(X > h, Y > k) for |r| < 0.925 (Genz's first branch)."""
    hk, hs, asr = h * k, 0.5 * (h * h + k * k), torch.asin(r)
    acc = torch.zeros_like(h)
    for x, w in zip(NODES.tolist(), WEIGHTS.tolist()):
        sn = torch.sin(asr * (x + 1.0) / 2.0)
        acc += w * torch.exp((sn * hk - hs) / (1.0 - sn * sn))
    return acc * asr / (2.0 * TWO_PI) + torch.special.ndtr(-h) * torch.special.ndtr(-k)


def bvnu_strong(h, k, r):
    """P(X > h, Y > k) for 0.925 ≤ |r| < 1 (Genz's second branch)."""
    neg = r < 0
    k = torch.where(neg, -k, k)
    hk = h * k
    a2 = (1.0 - r) * (1.0 + r)
    a = torch.sqrt(a2)
    bs = (h - k) ** 2
    c, d = (4.0 - hk) / 8.0, (12.0 - hk) / 16.0
    bvn = a * torch.exp(-(bs / a2 + hk) / 2.0) * (
        1.0 - c * (bs - a2) * (1.0 - d * bs / 5.0) / 3.0 + c * d * a2 * a2 / 5.0
    )
    b = torch.sqrt(bs)
    tail = torch.exp(-hk / 2.0) * math.sqrt(TWO_PI) * torch.special.ndtr(-b / a) * b * (
        1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0
    )
    bvn = bvn - torch.where(hk > -160.0, tail, torch.zeros_like(tail))
    half = a / 2.0
    for x, w in zip(NODES.tolist(), WEIGHTS.tolist()):
        xs = (half * (x + 1.0)) ** 2
        rs = torch.sqrt(1.0 - xs)
        bvn += half * w * (
            torch.exp(-bs / (2.0 * xs) - hk / (1.0 + rs)) / rs
            - torch.exp(-(bs / xs + hk) / 2.0) * (1.0 + c * xs * (1.0 + d * xs))
        )
    bvn = -bvn / TWO_PI
    ndtr = torch.special.ndtr
    pos_part = bvn + ndtr(-torch.maximum(h, k))
    neg_part = -bvn + torch.where(
        k > h, torch.where(h < 0, ndtr(k) - ndtr(h), ndtr(-h) - ndtr(-k)), torch.zeros_like(h)
    )
    return torch.where(neg, neg_part, pos_part)


def bvn_cdf(h, k, r):
    """Φ₂(h, k; r) = P(X < h, Y < k) = BVNU(−h, −k, r), elementwise, branches by mask."""
    out = torch.empty_like(h)
    moderate = r.abs() < 0.925
    strong = ~moderate
    out[moderate] = bvnu_moderate(-h[moderate], -k[moderate], r[moderate])
    out[strong] = bvnu_strong(-h[strong], -k[strong], r[strong])
    return out


def relu_closure(mu, sigma):
    ndtr = torch.special.ndtr
    s = torch.sqrt(torch.diagonal(sigma))
    a = mu / s
    m = mu * ndtr(a) + s * pdf(a)
    var = (mu * mu + s * s) * ndtr(a) + mu * s * pdf(a) - m * m
    rho = sigma / torch.outer(s, s)
    rho.fill_diagonal_(0.0)  # the diagonal is the variance above
    ai, aj = a[:, None].expand_as(rho), a[None, :].expand_as(rho)
    q = torch.sqrt((1.0 - rho) * (1.0 + rho))
    xa = (ai - rho * aj) / q
    xb = (aj - rho * ai) / q
    cross = (
        (ai * aj + rho) * bvn_cdf(ai.contiguous(), aj.contiguous(), rho)
        + ai * pdf(aj) * ndtr(xa)
        + aj * pdf(ai) * ndtr(xb)
        + q * pdf(aj) * pdf(xa)
    )
    cov = torch.outer(s, s) * cross - torch.outer(m, m)
    cov.diagonal().copy_(var)
    return m, cov
