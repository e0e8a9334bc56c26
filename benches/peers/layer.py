"""Peer comparison for one layer of cumulant propagation (affine map + relu closure), the way a
NumPy/SciPy user would write it (and a PyTorch user, layer_torch.py, when torch imports),
against corrflow's `peer_layer` example (same inputs).

    python layer.py DIR [--mc-n 512]

DIR holds the files written by `cargo run --release --example peer_layer -- N C DIR`. Prints
the agreement of each peer with corrflow (max |ΔC| / max |C|), the timings and their ratios,
and a Monte
Carlo comparison at width --mc-n: how many samples a sampling estimate of the post-relu
covariance needs to reach a given relative Frobenius error, and its time against the analytic
propagation.

relu closure (DESIGN.md §3): a = μ/s, ρ = Σ/(s sᵀ), q = √(1−ρ²),
E[h⁺h⁺]/(sᵢsⱼ) = (ab+ρ)Φ₂(a,b;ρ) + aφ(b)Φ((a−ρb)/q) + bφ(a)Φ((b−ρa)/q) + qφ(b)φ((a−ρb)/q),
with Φ₂ vectorised through Owen's T (scipy.special.owens_t):
Φ₂(h,k;ρ) = ½(Φ(h)+Φ(k)) − T(h, (k−ρh)/(hq)) − T(k, (h−ρk)/(kq)) − β,
β = ½ if hk < 0 or (hk = 0 and h + k < 0), else 0.
"""

import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.special import ndtr, owens_t

INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def load(path, shape=None):
    a = np.fromfile(path, dtype="<f8")
    return a.reshape(shape, order="F") if shape else a


def pdf(x):
    return INV_SQRT_2PI * np.exp(-0.5 * x * x)


def bvn_owen(h, k, rho):
    """Φ₂(h, k; ρ) elementwise through Owen's T (|ρ| < 1, h, k ≠ 0)."""
    q = np.sqrt((1.0 - rho) * (1.0 + rho))
    with np.errstate(divide="ignore", invalid="ignore"):
        t = owens_t(h, (k - rho * h) / (h * q)) + owens_t(k, (h - rho * k) / (k * q))
    beta = np.where((h * k < 0) | ((h * k == 0) & (h + k < 0)), 0.5, 0.0)
    return 0.5 * (ndtr(h) + ndtr(k)) - t - beta


def relu_closure(mu, sigma):
    s = np.sqrt(np.diag(sigma))
    a = mu / s
    m = mu * ndtr(a) + s * pdf(a)
    var = (mu * mu + s * s) * ndtr(a) + mu * s * pdf(a) - m * m
    rho = sigma / np.outer(s, s)
    np.fill_diagonal(rho, 0.0)  # the diagonal is the variance above
    ai, aj = a[:, None], a[None, :]
    q = np.sqrt((1.0 - rho) * (1.0 + rho))
    xa = (ai - rho * aj) / q
    xb = (aj - rho * ai) / q
    cross = (
        (ai * aj + rho) * bvn_owen(ai, aj, rho)
        + ai * pdf(aj) * ndtr(xa)
        + aj * pdf(ai) * ndtr(xb)
        + q * pdf(aj) * pdf(xa)
    )
    cov = np.outer(s, s) * cross - np.outer(m, m)
    np.fill_diagonal(cov, var)
    return m, cov


def layer(w, b, mus, sigmas, closure=relu_closure):
    """Affine map then `closure` for every class (numpy arrays or torch tensors alike);
    returns (times, outputs)."""
    t0 = time.perf_counter()
    pre = [(w @ mu + b, w @ sigma @ w.T) for mu, sigma in zip(mus, sigmas)]
    t1 = time.perf_counter()
    post = [closure(mu, sigma) for mu, sigma in pre]
    t2 = time.perf_counter()
    return (t1 - t0, t2 - t1), post


def best_of(k, f):
    best, out = None, None
    for _ in range(k):
        t, out = f()
        best = t if best is None else tuple(min(x, y) for x, y in zip(best, t))
    return best, out


def monte_carlo(w, b, mu, sigma, cov_ref, n_samples, rng, chunk=20000):
    """Sample covariance of relu(W x + b), x ~ N(μ, Σ), from n_samples draws (streamed)."""
    chol = np.linalg.cholesky(sigma)
    n = mu.shape[0]
    s1, s2, seen = np.zeros(n), np.zeros((n, n)), 0
    t0 = time.perf_counter()
    while seen < n_samples:
        k = min(chunk, n_samples - seen)
        x = mu[:, None] + chol @ rng.standard_normal((n, k))
        z = np.maximum(w @ x + b[:, None], 0.0)
        s1 += z.sum(axis=1)
        s2 += z @ z.T
        seen += k
    mean = s1 / seen
    cov = s2 / seen - np.outer(mean, mean)
    elapsed = time.perf_counter() - t0
    err = np.linalg.norm(cov - cov_ref) / np.linalg.norm(cov_ref)
    return err, elapsed


def worst_difference(post, refs):
    """max over classes of max |Δ| / max |ref| for means and covariances."""
    worst = 0.0
    for (m, cov), (ref_m, ref_c) in zip(post, refs):
        m, cov = np.asarray(m), np.asarray(cov)
        worst = max(
            worst,
            np.max(np.abs(cov - ref_c)) / np.max(np.abs(ref_c)),
            np.max(np.abs(m - ref_m)) / np.max(np.abs(ref_m)),
        )
    return worst


def report(name, times, worst, tim):
    """Prints a peer's times, its agreement and its ratios to corrflow; exits if they disagree."""
    t_aff, t_clo = times
    print(f"{name}: affine {t_aff*1e3:.1f} ms, relu closure {t_clo*1e3:.1f} ms, "
          f"total {(t_aff+t_clo)*1e3:.1f} ms")
    print(f"agreement max relative |Δ| = {worst:.2e}")
    ra, rc = t_aff / tim["affine_s"], t_clo / tim["closure_s"]
    rt = (t_aff + t_clo) / (tim["affine_s"] + tim["closure_s"])
    peer = name.split()[0]
    print(f"ratio {peer}/corrflow: affine {ra:.2f}×, closure {rc:.2f}×, layer {rt:.2f}×")
    if worst > 1e-10:
        sys.exit(f"{peer} and corrflow disagree: {worst:.2e}")


def torch_peer(w, b, mus, sigmas, refs, tim):
    """The same layer in PyTorch (CPU, float64), if torch imports: its Φ₂ checked against
    scipy on both of Genz's branches, then agreement, times, ratios."""
    try:
        import torch

        import layer_torch
    except ImportError as e:
        print(f"\ntorch peer skipped: {e}")
        return
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))
    rng = np.random.default_rng(7)
    h, k = rng.uniform(-4, 4, 20000), rng.uniform(-4, 4, 20000)
    rho = rng.uniform(-0.999, 0.999, 20000)
    bvn_err = np.max(np.abs(layer_torch.bvn_cdf(t(h), t(k), t(rho)).numpy() - bvn_owen(h, k, rho)))
    print(f"\ntorch Φ₂ (both Genz branches) vs scipy Owen's T on 20000 points, |ρ| < 0.999: "
          f"max |Δ| = {bvn_err:.1e}")
    if bvn_err > 1e-13:
        sys.exit(f"torch Φ₂ disagrees with scipy: {bvn_err:.2e}")
    tw, tb, tmus, tsigmas = t(w), t(b), [t(m) for m in mus], [t(s) for s in sigmas]
    times, post = best_of(3, lambda: layer(tw, tb, tmus, tsigmas, layer_torch.relu_closure))
    name = f"torch {torch.__version__} ×{torch.get_num_threads()} threads"
    report(name, times, worst_difference(post, refs), tim)


def main():
    d = Path(sys.argv[1])
    mc_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    tim = json.loads((d / "timing.json").read_text())
    n, c = tim["n"], tim["classes"]
    w, b = load(d / "w.f64", (n, n)), load(d / "b.f64")
    mus = [load(d / f"mu{k}.f64") for k in range(c)]
    sigmas = [load(d / f"sigma{k}.f64", (n, n)) for k in range(c)]
    refs = [(load(d / f"mean{k}.f64"), load(d / f"cov{k}.f64", (n, n))) for k in range(c)]
    times, post = best_of(3, lambda: layer(w, b, mus, sigmas))
    try:
        from threadpoolctl import threadpool_info

        blas = ", ".join(
            f"{i.get('internal_api')} {i.get('architecture')} ×{i.get('num_threads')}"
            for i in threadpool_info()
        )
    except ImportError:
        blas = "threadpoolctl not installed"
    report(f"numpy N={n} C={c} ({blas})", times, worst_difference(post, refs), tim)
    torch_peer(w, b, mus, sigmas, refs, tim)
    if mc_dir is None:
        return
    tm = json.loads((mc_dir / "timing.json").read_text())
    nm = tm["n"]
    w, b = load(mc_dir / "w.f64", (nm, nm)), load(mc_dir / "b.f64")
    mu, sigma = load(mc_dir / "mu0.f64"), load(mc_dir / "sigma0.f64", (nm, nm))
    cov_ref = load(mc_dir / "cov0.f64", (nm, nm))
    t_analytic = tm["affine_s"] / tm["classes"] + tm["closure_s"] / tm["classes"]
    (_, _), post = best_of(1, lambda: layer(w, b, [mu], [sigma]))
    numerr = np.linalg.norm(post[0][1] - cov_ref) / np.linalg.norm(cov_ref)
    print(f"\nMonte Carlo at N={nm} (one class): analytic corrflow {t_analytic*1e3:.1f} ms, "
          f"numerical error vs numpy/Owen's T {numerr:.1e}")
    rng = np.random.default_rng(1)
    for ns in (10_000, 100_000, 400_000):
        err, el = monte_carlo(w, b, mu, sigma, cov_ref, ns, rng)
        need = ns * (err / max(numerr, 1e-16)) ** 2
        print(f"  MC n={ns:>7}: rel. Frobenius error {err:.2e}, {el:.2f} s "
              f"({el/t_analytic:.0f}× the analytic time); "
              f"error ∝ n^-1/2 ⇒ n ≈ {need:.1e} samples to match the analytic {max(numerr,1e-16):.0e}")


if __name__ == "__main__":
    main()
