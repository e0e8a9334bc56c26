"""A prototype of a "radial common-mode" closure (issue #16): a Gaussian scale mixture (GSM) at
each hidden pre-activation of the peer's bias-free relu benchmark, against the plain Gaussian
closure, the peer's K = 3 and corrflow's factored order 3, on the case directories of driver.py.

Usage: ``radial.py DIR... [--draws LOG2]`` (case directories <act>/n<n>/d<L> holding config.json,
model.safetensors, truth.npz and optionally peer_k3.npz, corrflow_o2.safetensors,
corrflow_o3_factored.safetensors); prints Markdown tables, and writes ``radial.json`` beside
each case's model (so run it on copies, never in /work/arc-data). NumPy, SciPy, torch (float64)
and safetensors; one thread. --draws (default 19): log2 of the samples of each diagnostic.

The model (h_l the pre-activation of hidden layer l, x ~ N(0, I)):
* h_l = R_l g_l, g_l ~ N(μ_g, C_g) independent of a scalar R_l > 0 with E R_l² = 1 and
  τ_l = Var(R_l²); R_l² ~ Gamma(shape 1/τ, scale τ), so E R^p = τ^{p/2} Γ(1/τ + p/2)/Γ(1/τ)
  (E R = 1 − τ/8 + O(τ²); τ ≤ 0 is taken as 0). Layer 1 is exact: h_1 = W_1 x is Gaussian,
  τ_1 = 0.
* From h's mean μ_h and covariance C_h (the linear maps carry both exactly):
  μ_g = μ_h / E R, C_g = C_h + μ_h μ_hᵀ − μ_g μ_gᵀ (E[hhᵀ] = E[ggᵀ] since E R² = 1). Where
  C_g is not positive semidefinite no GSM with this τ holds h's moments: the run "breaks".
* relu is homogeneous: a = relu(h) = R relu(g), so E a = E R · m and
  Cov a = C_relu(g) + (1 − (E R)²) m mᵀ, with (m, C_relu(g)) the Gaussian closure of g
  (Φ₂ closed form, layer_torch.relu_closure: Genz's BVNU). τ = 0 is the Gaussian closure.
* h' = W a = R · W relu(g); W relu(g) is fitted by a GSM R_gen g', so R' = R R_gen and
  τ' = (1 + τ)(1 + τ_gen) − 1.

τ_gen (modes SOURCE-FIT): SOURCE gives the κ₄[i,i,j,j] (i ≠ j) of W relu(g):
  ``indep``: Σ_k W_ik² W_jk² κ₄ₖ (the units of relu(g) independent; κ₄ₖ the closed-form
  fourth cumulant of relu of N(μ_k, s_k²)); ``sampled``: estimated from samples of
  g ~ N(μ_g, C_g) (the correlated units included; a diagnostic, not a closure);
  ``oracle``: no τ_gen, τ_l itself fitted to the κ₄ of the network's own h_l sampled from x
  (what the one-scalar model would need; a diagnostic).
FIT maps κ₄[iijj] to τ by least squares over i ≠ j: ``vv`` against τ v_i v_j (v = diag C;
the brief's fit, O(n²) with indep: Σ_k κ₄ₖ[(Σ_i W_ik² v_i)² − Σ_i W_ik⁴ v_i²]), ``full``
against τ(C_ii C_jj + 2C_ij²) (the zero-mean GSM), ``exact`` against the GSM's κ₄ with its
means to all orders in τ (gsm_k4).

Diagnostics: ``best c``, the multiple of the oracle-exact τ profile that minimises the mean
error against the truth (a ceiling, fitted to the truth); the last layer's marginal split
(marginal_split: how much of the error at the last relu is each unit's marginal shape, by
the Edgeworth terms of its sampled κ₃ and κ₄).
Errors as table.py defines them: mean MSE/Var = Σ(m − μ)²/tr Σ, covariance ‖C − Σ‖_F/‖Σ‖_F.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.numpy import load_file
from scipy.special import gammaln

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benches/peers: layer_torch
import layer_torch  # noqa: E402

ndtr = torch.special.ndtr


def check_case(case: Path):
    """Exits with a message unless `case` holds a driver.py case's config, model and truth."""
    missing = [f for f in ("config.json", "model.safetensors", "truth.npz") if not (case / f).exists()]
    if missing:
        raise SystemExit(f"{case}: no {', '.join(missing)} (expected a driver.py case directory)")


def load_weights(case: Path):
    """[W_1, …, W_L, W_out] of a driver.py case (float64 tensors)."""
    t = load_file(str(case / "model.safetensors"))
    hidden = sorted((k for k in t if k.startswith("hidden")), key=lambda k: int(k[6:].split(".")[0]))
    return [torch.from_numpy(t[k]) for k in hidden + ["readout.weight"]]


def relu_cumulants(mu, s):
    """(κ₃, κ₄) of relu(X), X ~ N(μ, s²), elementwise, from the raw moments (a = μ/s):
    M1 = μΦ + sφ, M2 = (μ² + s²)Φ + μsφ, M3 = (μ³ + 3μs²)Φ + (μ² + 2s²)sφ,
    M4 = (μ⁴ + 6μ²s² + 3s⁴)Φ + (μ³ + 5μs²)sφ; κ₃ = M3 − 3M2M1 + 2M1³,
    κ₄ = M4 − 4M3M1 − 3M2² + 12M2M1² − 6M1⁴."""
    a = mu / s
    cdf, pdf = ndtr(a), layer_torch.pdf(a)
    m1 = mu * cdf + s * pdf
    m2 = (mu**2 + s**2) * cdf + mu * s * pdf
    m3 = (mu**3 + 3 * mu * s**2) * cdf + (mu**2 + 2 * s**2) * s * pdf
    m4 = (mu**4 + 6 * mu**2 * s**2 + 3 * s**4) * cdf + (mu**3 + 5 * mu * s**2) * s * pdf
    return m3 - 3 * m2 * m1 + 2 * m1**3, m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4


def pattern(c, full=True):
    """The GSM's κ₄[i,i,j,j] per unit τ, at leading order in τ (law of total cumulance given R:
    h | R ~ N(Rμ_g, R²C_g), κ(R², R²) = τ, the mean terms O(τ²)): C_ii C_jj + 2 C_ij²; with
    `full` False the brief's v_i v_j alone (v = diag C)."""
    v = torch.diagonal(c)
    return torch.outer(v, v) + (2.0 * c * c if full else 0.0)


def fit_tau(k4, p):
    """Least-squares τ of the off-diagonal κ₄[i,i,j,j] (matrix `k4`) to τ·p (a `pattern`)."""
    off = ~torch.eye(len(p), dtype=torch.bool)
    return float((k4 * p)[off].sum() / (p * p)[off].sum())


def root_moments(tau: float):
    """E R, E R², E R³, E R⁴ for R² ~ Gamma(shape 1/τ, scale τ): E R^p = τ^{p/2} Γ(1/τ + p/2)/Γ(1/τ)."""
    if tau <= 0.0:
        return 1.0, 1.0, 1.0, 1.0
    k = 1.0 / tau
    return tuple(float(np.exp(gammaln(k + p / 2) - gammaln(k) + p / 2 * np.log(tau))) for p in (1, 2, 3, 4))


def gsm_k4(tau, mu_h, c_h):
    """The GSM's κ₄[i,i,j,j] of h with mean μ_h and covariance C_h, to all orders in τ (law of
    total cumulance given R, h | R ~ N(Rμ_g, R²C_g), with μ_g, C_g as in the module docs):
    κ(R², R²)(C_ii C_jj + 2C_ij²) + κ(R², R, R)(C_ii μ_j² + C_jj μ_i² + 4C_ij μ_i μ_j)
    + κ₄(R) μ_i² μ_j² (C = C_g, μ = μ_g); None where C_g is not positive semidefinite."""
    r1, r2, r3, r4 = root_moments(tau)
    try:
        mu, c = scale_free(r1, mu_h, c_h, "h")
    except Breakdown:
        return None
    k22 = r4 - r2 * r2
    k211 = r4 - 2 * r3 * r1 - r2 * r2 + 2 * r2 * r1 * r1
    k1111 = r4 - 4 * r3 * r1 - 3 * r2 * r2 + 12 * r2 * r1 * r1 - 6 * r1**4
    v, m2 = torch.diagonal(c), mu * mu
    return (k22 * (torch.outer(v, v) + 2 * c * c)
            + k211 * (torch.outer(v, m2) + torch.outer(m2, v) + 4 * c * torch.outer(mu, mu))
            + k1111 * torch.outer(m2, m2))


def fit_tau_exact(k4, mu_h, c_h):
    """τ ∈ [0, 2] minimising Σ_{i≠j} (κ₄[iijj] − gsm_k4(τ))² (Brent's method after a scan in
    steps of 0.01; τ where C_g breaks count as infinite)."""
    from scipy.optimize import minimize_scalar

    off = ~torch.eye(len(mu_h), dtype=torch.bool)

    def resid(tau):
        p = gsm_k4(tau, mu_h, c_h)
        return np.inf if p is None else float(((k4 - p)[off] ** 2).sum())

    grid = np.arange(0.0, 2.0 + 1e-9, 0.01)
    t0 = grid[int(np.argmin([resid(t) for t in grid]))]
    with np.errstate(invalid="ignore"):  # Brent's parabola through an infinite (broken) τ
        t = minimize_scalar(resid, bounds=(max(t0 - 0.01, 0.0), t0 + 0.01), method="bounded",
                            options=dict(xatol=1e-5)).x
    return float(t if resid(t) <= resid(t0) else t0)


def tau_indep(w, mu_g, c_g, p):
    """τ_gen with the units of relu(g) independent: κ₄[i,i,j,j] = Σ_k W_ik² W_jk² κ₄ₖ, so the
    fit's numerator is Σ_k κ₄ₖ [(W∘W)ᵀ P (W∘W) − (W∘W∘W∘W)ᵀ diag P]_kk (P the pattern: O(n²)
    by (Σ_i W_ik² v_i)² − Σ_i W_ik⁴ v_i² when P = v vᵀ, one n³ product with 2 C∘C)."""
    k4 = relu_cumulants(mu_g, torch.sqrt(torch.diagonal(c_g)))[1]
    w2 = w * w
    num = (k4 * ((w2 * (p @ w2)).sum(0) - torch.diagonal(p) @ (w2 * w2))).sum()
    off = ~torch.eye(len(p), dtype=torch.bool)
    return float(num / (p * p)[off].sum())


CHUNK = 1 << 15
EPS = float(np.finfo(np.float64).eps)
MODES = ("gauss", "indep-vv", "indep-full", "indep-exact", "sampled-full", "sampled-exact", "oracle-vv", "oracle-full",
         "oracle-exact")


def chunked_k4(draw, chunks, seed):
    """κ₄[i,i,j,j] matrices and variances of every output of `draw(gen, size)` (a list of
    arrays draws × n), from `chunks` chunks of CHUNK draws: one pass for the means, a second
    (the same draws, regenerated from `seed`) for the centred sums."""
    gen = torch.Generator()
    gen.manual_seed(seed)
    means = None
    for _ in range(chunks):
        sums = [h.sum(0) for h in draw(gen, CHUNK)]
        means = sums if means is None else [a + b for a, b in zip(means, sums)]
    means = [m / (chunks * CHUNK) for m in means]
    gen.manual_seed(seed)
    sq = [torch.zeros(len(m), len(m), dtype=torch.float64) for m in means]
    cov = [torch.zeros_like(q) for q in sq]
    for _ in range(chunks):
        for h, m, q, c in zip(draw(gen, CHUNK), means, sq, cov):
            d = h - m
            q += (d * d).T @ (d * d)
            c += d.T @ d
    out = []
    for q, c, m in zip(sq, cov, means):
        q, c = q / (chunks * CHUNK), c / (chunks * CHUNK)
        v = torch.diagonal(c).clone()
        out.append((q - torch.outer(v, v) - 2 * c * c, c, m))
    return out


def fit(fit_kind, k4, c, mu):
    """τ of the κ₄[i,i,j,j] matrix `k4` of h (covariance `c`, mean `mu`) by `fit_kind`: "vv",
    "full" (linear fits to `pattern`) or "exact" (fit_tau_exact)."""
    if fit_kind == "exact":
        return fit_tau_exact(k4, mu, c)
    return fit_tau(k4, pattern(c, fit_kind == "full"))


def tau_sampled(w, mu_g, c_g, chunks, seed, fit_kind):
    """τ_gen from κ₄ of W relu(g) on samples of g ~ N(μ_g, C_g) (correlated units)."""
    evals, evecs = torch.linalg.eigh(c_g)
    root = evecs * torch.sqrt(torch.clamp(evals, min=0.0))

    def draw(gen, size):
        z = torch.randn(size, len(mu_g), generator=gen, dtype=torch.float64)
        return [torch.relu(mu_g + z @ root.T) @ w.T]

    (k4, c, mu), = chunked_k4(draw, chunks, seed)
    return fit(fit_kind, k4, c, mu)


def oracle_taus(weights, chunks, seed, fit_kinds, act=torch.relu):
    """{fit kind: [τ_l]} fitted to the κ₄ of the network's own pre-activations h_1 … h_L
    (x ~ N(0, I), activation `act`), for each of `fit_kinds`."""

    def draw(gen, size):
        h = torch.randn(size, weights[0].shape[1], generator=gen, dtype=torch.float64) @ weights[0].T
        out = [h]
        for w in weights[1:-1]:
            h = act(h) @ w.T
            out.append(h)
        return out

    layers = chunked_k4(draw, chunks, seed)
    return {f: [fit(f, k4, c, mu) for k4, c, mu in layers] for f in fit_kinds}


def last_marginals(weights, chunks, seed):
    """Per unit of the network's last pre-activation h_L (sampled from x): mean, variance,
    κ₃, κ₄ (centred sample moments) and E relu(h_L), in two passes over the same draws."""

    def draw(gen, size):
        h = torch.randn(size, weights[0].shape[1], generator=gen, dtype=torch.float64) @ weights[0].T
        for w in weights[1:-1]:
            h = torch.relu(h) @ w.T
        return h

    gen, total = torch.Generator(), chunks * CHUNK
    gen.manual_seed(seed)
    mu = sum(draw(gen, CHUNK).sum(0) for _ in range(chunks)) / total
    gen.manual_seed(seed)
    m2 = m3 = m4 = relu = 0.0
    for _ in range(chunks):
        h = draw(gen, CHUNK)
        d = h - mu
        m2, m3, m4 = m2 + (d**2).sum(0), m3 + (d**3).sum(0), m4 + (d**4).sum(0)
        relu = relu + torch.relu(h).sum(0)
    m2, m3, m4 = m2 / total, m3 / total, m4 / total
    return mu, m2, m3, m4 - 3 * m2 * m2, relu / total


def edgeworth_relu_mean(mu, var, k3, k4):
    """E relu(X) by the Edgeworth series to κ₄ (a = μ/s): μΦ(a) + sφ(a) + κ₃ E_G δ'(X)/6 +
    κ₄ E_G δ''(X)/24, with E_G δ'(X) = −aφ(a)/s², E_G δ''(X) = (a² − 1)φ(a)/s³ (the Gaussian
    density's derivatives at 0). Returns the three terms."""
    s = torch.sqrt(var)
    a = mu / s
    pdf = layer_torch.pdf(a)
    return mu * ndtr(a) + s * pdf, -k3 * a * pdf / (6 * s * s), k4 * (a * a - 1) * pdf / (24 * s**3)


def marginal_split(weights, chunks, seed, trace, mu_prev, c_prev):
    """Mean MSE/Var (÷ `trace` = tr Σ) of W_out·E relu(h_L) with each unit's true (sampled) mean
    and variance and a Gaussian marginal, + its κ₃ term, + its κ₄ term, against W_out times the
    same draws' E relu(h_L): how much of the last layer's error is the marginal's shape. Also
    + the κ₃ term with independent units, κ₃(h_L)ᵢ = Σₖ W_ik³ κ₃(relu(g_k)), g ~ N(`mu_prev`,
    `c_prev`) the Gaussian closure's h_{L−1} (exact at L = 2)."""
    mu, var, k3, k4, relu = last_marginals(weights, chunks, seed)
    gauss, t3, t4 = edgeworth_relu_mean(mu, var, k3, k4)
    k3_indep = weights[-2] ** 3 @ relu_cumulants(mu_prev, torch.sqrt(torch.diagonal(c_prev)))[0]
    t3_indep = edgeworth_relu_mean(mu, var, k3_indep, k4)[1]
    w = weights[-1]
    err = lambda m: float(((w @ (m - relu)) ** 2).sum() / trace)  # noqa: E731
    return dict(gauss_true_moments=err(gauss), plus_k3=err(gauss + t3), plus_k3_k4=err(gauss + t3 + t4),
                k4_only=err(gauss + t4), plus_k3_indep=err(gauss + t3_indep),
                k3_indep_vs_sampled=float(torch.linalg.norm(k3_indep - k3) / torch.linalg.norm(k3)))


def best_scale(weights, taus, truth):
    """The multiple c of the oracle τ profile that minimises the mean error against the truth
    (a scan of c on [0, 3] in steps of 0.05, then Brent's method within ±0.05 of the best; a
    ceiling of the one-scalar model, fitted to the truth). c where the model breaks count as
    infinite error."""
    from scipy.optimize import minimize_scalar

    def mse(c):
        try:
            mean, cov, _, _ = propagate(weights, "oracle-c", taus={"oracle-c": [c * t for t in taus]})
        except Breakdown:
            return np.inf
        return errors(mean, cov, truth)[0]

    grid = np.arange(0.0, 3.0 + 1e-9, 0.05)
    c0 = grid[int(np.argmin([mse(c) for c in grid]))]
    lo, hi = max(c0 - 0.05, 0.0), c0 + 0.05
    with np.errstate(invalid="ignore"):  # Brent's parabola through an infinite (broken) c
        c = minimize_scalar(mse, bounds=(lo, hi), method="bounded", options=dict(xatol=1e-3)).x
    c = c if mse(c) <= mse(c0) else c0
    mean, cov, _, _ = propagate(weights, "oracle-c", taus={"oracle-c": [c * t for t in taus]})
    return float(c), errors(mean, cov, truth)


def propagate(weights, mode, chunks=0, seed=0, taus=None):
    """Output (mean, covariance, per-layer τ, per-layer (μ_g, C_g)) of the GSM closure with
    τ_gen by `mode` ("gauss": τ ≡ 0, the plain Gaussian closure; "SOURCE-FIT" with SOURCE
    "indep" or "sampled" (τ_gen from κ₄ of W relu(g) with independent units or sampled) or
    "oracle" (`taus[mode]`, fitted to the network's own h_l), FIT "vv", "full" or "exact"
    (`fit`)). Raises Breakdown where C_g is not a covariance (scale_free)."""
    w1 = weights[0]
    mu_h, c_h = torch.zeros(w1.shape[0], dtype=torch.float64), w1 @ w1.T
    tau, used, pre = 0.0, [], []
    for layer, w in enumerate(weights[1:]):
        if mode.startswith("oracle"):
            tau = taus[mode][layer]
        used.append(tau)
        er = root_moments(tau)[0]
        mu_g, c_g = scale_free(er, mu_h, c_h, f"h{layer + 1}")
        pre.append((mu_g, c_g))
        m, c_relu = layer_torch.relu_closure(mu_g, c_g)
        mu_a = er * m
        c_a = c_relu + (1.0 - er * er) * torch.outer(m, m)
        mu_h, c_h = w @ mu_a, w @ c_a @ w.T
        last = layer == len(weights) - 2
        source, _, fit_kind = mode.partition("-")
        if source in ("indep", "sampled") and not last:
            if source == "sampled":
                gen_tau = tau_sampled(w, mu_g, c_g, chunks, seed + layer, fit_kind)
            elif fit_kind == "exact":  # κ₄[iijj] = Σ_k W_ik² W_jk² κ₄ₖ as a matrix (one n³ product)
                k4 = relu_cumulants(mu_g, torch.sqrt(torch.diagonal(c_g)))[1]
                gen_tau = fit_tau_exact((w * w * k4) @ (w * w).T, w @ m, w @ c_relu @ w.T)
            else:
                gen_tau = tau_indep(w, mu_g, c_g, pattern(w @ c_relu @ w.T, fit_kind == "full"))
            tau = (1.0 + tau) * (1.0 + gen_tau) - 1.0
    return mu_h.numpy(), c_h.numpy(), used, pre


class Breakdown(Exception):
    """The GSM closure's C_g is not a covariance at the layer named."""


def scale_free(er, mu_h, c_h, where):
    """(μ_g, C_g) of h = R g given E R = `er` (E R² = 1): μ_g = μ_h/E R,
    C_g = C_h + μ_h μ_hᵀ − μ_g μ_gᵀ. Raises Breakdown (naming `where`) where C_g has an
    eigenvalue below −n·ε·λ_max (the rounding of forming it): Var(R) μ_g μ_gᵀ exceeds C_h along
    some direction, so no GSM with this E R holds h's moments."""
    mu_g = mu_h / er
    c_g = c_h + torch.outer(mu_h, mu_h) - torch.outer(mu_g, mu_g)
    evals = torch.linalg.eigvalsh(c_g)
    if evals[0] < -len(evals) * EPS * evals[-1]:
        raise Breakdown(where)
    return mu_g, c_g


def errors(mean, cov, truth):
    """(mean MSE/Var, covariance relative Frobenius error) against the Monte Carlo truth."""
    mu, sigma = truth["mean"], truth["cov"]
    return float(((mean - mu) ** 2).sum() / np.trace(sigma)), float(
        np.linalg.norm(cov - sigma) / np.linalg.norm(sigma)
    )


def peer_outputs(case: Path):
    """{name: (mean, cov)} of the peer's K = 3 and corrflow's files present in `case`."""
    out = {}
    if (case / "peer_k3.npz").exists():
        d = np.load(case / "peer_k3.npz")
        out["peer K=3"] = d["mean"], d["cov"]
    for name in ("corrflow_o2", "corrflow_o3_factored"):
        path = case / f"{name}.safetensors"
        if path.exists():
            t = load_file(str(path))
            out[name] = t["mean"], t["cov"]
    return out


def along_mean(cov_err, mu):
    """Share of ‖ΔC‖_F² in the rank-1 part along the output mean: (uᵀΔu)²/‖Δ‖_F², u = μ/|μ|."""
    u = mu / np.linalg.norm(mu)
    return float((u @ cov_err @ u) ** 2 / np.linalg.norm(cov_err) ** 2)


def run_case(case: Path, draws: int):
    cfg = json.loads((case / "config.json").read_text())
    if cfg["act"] != "relu":
        raise SystemExit(f"{case}: activation {cfg['act']}; this prototype's closure is relu only")
    weights = load_weights(case)
    truth = np.load(case / "truth.npz")
    chunks, seed = max(draws // CHUNK, 1), 20261130
    fitted = oracle_taus(weights, chunks, seed, ("vv", "full", "exact"))
    # h_1 = W_1 x is Gaussian: τ_1 = 0 exactly (fitted τ_1 ≈ 0 checks the fit)
    oracle = {f"oracle-{f}": [0.0] + t[1:] for f, t in fitted.items()}
    results, taus = {}, {}
    for mode in MODES:
        try:
            mean, cov, taus[mode], pre = propagate(weights, mode, chunks, seed, oracle)
        except Breakdown as e:
            results[mode] = f"breaks at {e}"
            continue
        results[mode] = errors(mean, cov, truth)
        if mode == "gauss":
            gauss, gauss_pre = (mean, cov), pre
    best_c, results["best c"] = best_scale(weights, oracle["oracle-exact"], truth)
    trace = float(np.trace(truth["cov"]))
    split = marginal_split(weights, chunks, seed + 1000, trace, *gauss_pre[-2]) if len(weights) > 2 else None
    for name, (mean, cov) in peer_outputs(case).items():
        results[name] = errors(mean, cov, truth)
        if name == "corrflow_o2":  # the prototype's Gaussian closure against corrflow's
            results["gauss vs corrflow_o2"] = (
                float(np.abs(gauss[0] - mean).max() / np.sqrt(np.diag(cov).max())),  # ÷ the largest s.d.
                float(np.abs(gauss[1] - cov).max() / np.abs(cov).max()),
            )
    record = dict(
        cfg, results=results, taus=taus, oracle_fitted=fitted, draws=chunks * CHUNK,
        marginal_split=split, best_c=best_c,
        gauss_cov_err_along_mean=along_mean(gauss[1] - truth["cov"], truth["mean"]),
        floor=float(truth["se2_mean"].sum() / trace),
        se_cov=float(truth["se_cov_rel"]),
    )
    (case / "radial.json").write_text(json.dumps(record, indent=1))
    return record


def fmt(x):
    if x == 0:
        return "0"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 100 else f"{x:.1e}".replace("e-0", "e-")


def cell(r):
    return r if isinstance(r, str) else f"{fmt(r[0])} / {fmt(r[1])}"


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print()


def name(r):
    return f"{r['act']} n{r['n']} L{r['depth']}"


def print_tables(records):
    """The Markdown tables of the write-up from the cases' records (radial.json)."""
    res = lambda r, m: r["results"].get(m, "–")  # noqa: E731
    cols = ["gauss", "indep-vv", "sampled-exact", "best c", "peer K=3", "corrflow_o3_factored"]
    print("Mean MSE/Var / covariance error (Gaussian; GSM with the brief's O(n²) τ_gen; GSM with τ_gen from"
          " samples, exact fit; GSM at the best multiple c of the network's own τ profile; peer K = 3;"
          " corrflow factored order 3):\n")
    table(["case", "MC floor / s.e."] + cols + ["c"],
          [[name(r), f"{fmt(r['floor'])} / {fmt(r['se_cov'])}"] + [cell(res(r, c)) for c in cols]
           + [f"{r['best_c']:.2f}"] for r in records])
    print("Share of the Gaussian closure's error removed (mean / covariance), and the GSM's error ÷ the"
          " peer's K = 3:\n")
    rows = []
    for r in records:
        g = r["results"]["gauss"]
        share = [cell(res(r, m)) if isinstance(res(r, m), str) else
                 f"{1 - res(r, m)[0] / g[0]:.0%} / {1 - res(r, m)[1] / g[1]:.0%}" for m in ("indep-vv", "sampled-exact", "best c")]
        peer = res(r, "peer K=3")
        ratio = [f"{res(r, m)[0] / peer[0]:.1f} / {res(r, m)[1] / peer[1]:.1f}" if not isinstance(peer, str) else "–"
                 for m in ("gauss", "indep-vv", "sampled-exact")]
        rows.append([name(r)] + share + ratio)
    table(["case", "removed: indep-vv", "sampled-exact", "best c", "÷ peer: Gaussian", "indep-vv", "sampled-exact"], rows)
    modes = ("indep-vv", "indep-exact", "sampled-exact")
    print("τ at h_L by the model (indep-vv / indep-exact / sampled-exact) and fitted to the network's own h_L"
          " (vv / exact); the GSM run with the network's own τ profile (oracle-vv, oracle-exact):\n")
    table(["case", "model τ_L", "own τ_L", "oracle-vv", "oracle-exact"],
          [[name(r), " / ".join(fmt(r["taus"][m][-1]) if m in r["taus"] else "–" for m in modes),
            " / ".join(fmt(r["oracle_fitted"][f][-1]) for f in ("vv", "exact")),
            cell(res(r, "oracle-vv")), cell(res(r, "oracle-exact"))] for r in records])
    keys = ["gauss_true_moments", "k4_only", "plus_k3", "plus_k3_indep", "plus_k3_k4"]
    print("The last relu's marginals (sampled h_L: each unit's mean and variance, Gaussian, + Edgeworth κ₄ term,"
          " + κ₃ term, + κ₃ with independent units, + both), mean MSE/Var against the same draws; the"
          " Gaussian closure's ΔC along the output mean; its agreement with corrflow's order 2 (max |Δ mean| ÷ the"
          " largest output s.d. / max |Δ cov| ÷ max |cov|):\n")
    rows = []
    for r in records:
        sp = r["marginal_split"]
        cells = [fmt(sp[k]) for k in keys] + [fmt(sp["k3_indep_vs_sampled"])] if sp else ["–"] * (len(keys) + 1)
        d = r["results"].get("gauss vs corrflow_o2")
        rows.append([name(r), fmt(r["results"]["gauss"][0])] + cells
                    + [f"{r['gauss_cov_err_along_mean']:.2f}", f"{d[0]:.0e} / {d[1]:.0e}" if d else "–"])
    table(["case", "Gaussian closure"] + keys + ["‖κ₃ indep − κ₃‖/‖κ₃‖", "ΔC along mean", "vs corrflow_o2"], rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="+", type=Path)
    ap.add_argument("--draws", type=int, default=19, help="log2 of the diagnostic samples")
    ap.add_argument("--from-json", action="store_true", help="print the tables from the cases' radial.json")
    args = ap.parse_args()
    torch.set_num_threads(1)
    records = []
    for case in args.cases:
        check_case(case)
        if args.from_json:
            if not (case / "radial.json").exists():
                raise SystemExit(f"{case}: no radial.json (run without --from-json first)")
            records.append(json.loads((case / "radial.json").read_text()))
        else:
            records.append(run_case(case, 1 << args.draws))
            print(f"{case}: done", file=sys.stderr, flush=True)
    print_tables(records)


if __name__ == "__main__":
    main()
