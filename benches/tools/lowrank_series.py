"""The strong pairs of a tanh layer through a rank-one factor and a Price (Mehler) series in the
residual correlation, against corrflow's own closure output (BENCHMARKS.md, "The strong pairs
through a low-rank factor and a Price series, lowrank56").

    python3 lowrank_series.py spectrum PREFIX                      # every layer, class 0
    python3 lowrank_series.py series PREFIX UNITS Q KMAX TOL LAYERS [LOG]

PREFIX is `layer_dump`'s OUTDIR/theory or OUTDIR/measured (files PREFIX_h{l}_c{c}.bin and
PREFIX_z{l}_c{c}.bin); LOG is `layer_dump`'s printout, whose closure seconds per layer are the
"today" column of the projection (else none is printed).

Method. Σ = u uᵀ + R with u = √λ₁ v₁ (top eigenpair), R ⪰ 0, D = diag R, ρᵢⱼ = Rᵢⱼ/√(DᵢDⱼ).
Given z ~ N(0,1), hᵢ = μᵢ + uᵢz + eᵢ with e ~ N(0, R), and Mehler's formula gives
E[φ(hᵢ)φ(hⱼ) | z] = Σₖ ρᵢⱼᵏ cₖᵢ(z) cₖⱼ(z), cₖᵢ(z) = E[φ(μᵢ + uᵢz + √Dᵢ ε) Heₖ(ε)]/√k!
(= Dᵢ^{k/2}/√k! · E[φ⁽ᵏ⁾(…)], Price's form). Each k is one product G_k diag(w) G_kᵀ over the
z nodes. Parseval per z, Σₖ cₖᵢ(z)² = E[φ(hᵢ)² | z], bounds the tail after K terms by Cauchy–
Schwarz: |Σ_{k≥K} …| ≤ |ρᵢⱼ|ᴷ √(Tᵢ Tⱼ), Tᵢ = E[φ(hᵢ)²] − Σ_{k<K} E_z cₖᵢ² (computable; it does
not cover the z rule's own error, which the Q sweep checks). z: trapezoidal rule on [−8.5, 8.5]
with Q nodes; ε: trapezoidal rule with step 0.04 on ±(√(4 KMAX) + 9) (the normalized Hermite
functions decay past √(4k)). Reference: corrflow's auto closure on the same μ, Σ (PREFIX_z).

Per layer (classes 0 and 1, UNITS units drawn per class): the share of pairs within TOL·√(VarᵢVarⱼ)
from K terms on ("right", against the reference), the share the tail bound admits ("bound") and
how many of those are not right, and the projected closure CPU seconds of the hybrid at the best
K: both classes' K products (5.3 ms CPU per 500 × 700 × 500 product, NumPy's BLAS here, scaled by
Q/700), the ε projections (N·Q·M·K·2 flops at 66 GFLOP/s, M = 2K + 60 Gauss nodes) and their
N·Q·M tanh evaluations at 2 ns, plus today's closure time for the share of pairs the bound refuses.
"""
import os, re, sys
import numpy as np


def load(p):
    b = open(p, 'rb').read()
    n = int(np.frombuffer(b[:8], np.uint64)[0])
    a = np.frombuffer(b[8:], np.float64)
    return a[:n].copy(), a[n:].reshape(n, n).T.copy()


def spectrum(prefix):
    for l in range(1, 100):
        if not os.path.exists(f'{prefix}_h{l}_c0.bin'):
            break
        mu, S = load(f'{prefix}_h{l}_c0.bin')
        s = np.sqrt(np.diag(S)); w, V = np.linalg.eigh(S); w = w[::-1]; V = V[:, ::-1]
        iu = np.triu_indices(len(s), 1)
        rho = np.abs((S / np.outer(s, s))[iu])
        line = f"L{l:2d} s med {np.median(s):5.2f} |rho|>.9 {np.mean(rho > .9):.2f} top-4 share {np.round(w[:4] / w.sum(), 4)}"
        for r in [1, 2, 3, 4]:
            U = V[:, :r] * np.sqrt(np.maximum(w[:r], 0)); R = S - U @ U.T; D = np.diag(R)
            ok = D > 0
            with np.errstate(all='ignore'):
                rr = np.abs((R / np.sqrt(np.outer(D, D)))[iu])[(ok[iu[0]]) & (ok[iu[1]])]
            q = np.quantile(rr, [.5, .9, .99]).round(2) if rr.size else '-'
            line += f" | r{r} D/s² {np.median(D / s**2):.4f} |ρR| {q}"
        print(line)


def series(prefix, nu, Q, Kmax, tol, layers, log):
    today = {}
    if log:
        pat = (r'layer (\d+): closure ([\d.]+) s on the measured h' if 'measured' in prefix
               else r'layer (\d+): closure ([\d.]+) s$')
        today = {int(a): float(b) for a, b in re.findall(pat, open(log).read(), re.M)}
    gemm_k = 5.3e-3 * Q / 700
    print(f"units {nu} per class, Q {Q}, KMAX {Kmax}, tol {tol:g} of sqrt(Var_i Var_j)")
    z = np.linspace(-8.5, 8.5, Q); wz = (z[1] - z[0]) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)
    Le = np.sqrt(4 * Kmax) + 9; M = int(2 * Le / 0.04) | 1
    x = np.linspace(-Le, Le, M); wx = (x[1] - x[0]) * np.exp(-x * x / 2) / np.sqrt(2 * np.pi)
    H = np.zeros((M, Kmax)); H[:, 0] = 1; H[:, 1] = x
    for k in range(1, Kmax - 1):
        H[:, k + 1] = (x * H[:, k] - np.sqrt(k) * H[:, k - 1]) / np.sqrt(k + 1)
    HW = H * wx[:, None]
    for l in layers:
        right, admitted = [], []
        for c in [0, 1]:
            mu, S = load(f'{prefix}_h{l}_c{c}.bin'); mz, Sz = load(f'{prefix}_z{l}_c{c}.bin')
            n = len(mu); rng = np.random.default_rng(l * 10 + c)
            idx = np.sort(rng.choice(n, nu, replace=False))
            w, V = np.linalg.eigh(S); u = V[:, -1] * np.sqrt(w[-1])
            R = S - np.outer(u, u); D = np.maximum(np.diag(R), 1e-300)
            mu_, u_, D_ = mu[idx], u[idx], D[idx]
            rho = R[np.ix_(idx, idx)] / np.sqrt(np.outer(D_, D_))
            G = np.empty((nu, Q, Kmax))
            for a in range(nu):
                G[a] = np.tanh(mu_[a] + u_[a] * z[:, None] + np.sqrt(D_[a]) * x[None, :]) @ HW
            Gw = G * np.sqrt(wz)[None, :, None]
            T = np.einsum('iqk,jqk->kij', Gw, Gw)
            mean = G[:, :, 0] @ wz
            ref = Sz[np.ix_(idx, idx)]; sd = np.sqrt(np.diag(ref)); scale = np.outer(sd, sd)
            part = np.cumsum(rho[None] ** np.arange(Kmax)[:, None, None] * T, axis=0)
            iu = np.triu_indices(nu, 1)
            e = (np.abs(part - np.outer(mean, mean)[None] - ref[None]) / scale[None])[:, iu[0], iu[1]]
            right.append(np.flip(np.cumprod(np.flip(e < tol, 0), 0), 0).astype(bool))
            Ti = np.maximum((np.diag(ref) + mz[idx] ** 2)[None, :] - np.cumsum(np.einsum('iqk->ki', Gw ** 2), 0), 0)
            rr = np.abs(rho[iu])
            bound = rr[None, :] ** np.arange(1, Kmax + 1)[:, None] * np.sqrt(Ti[:, iu[0]] * Ti[:, iu[1]])
            admitted.append(bound / scale[iu][None, :] < tol)
        right = np.concatenate(right, 1); admitted = np.concatenate(admitted, 1)
        line = f"L{l:2d}" + (f" today {today[l]:.2f} s" if l in today else "")
        best = None
        for K in [10, 20, 40, 60, 80, 120, 160, 200, 250]:
            if K > Kmax:
                break
            f_right = right[K - 1].mean(); f_adm = admitted[K - 1].mean()
            wrong = (admitted[K - 1] & ~right[K - 1]).mean()
            if K in (20, 60, 120):
                line += f" | K{K}: right {f_right:.3f} bound {f_adm:.3f}"
            if l in today:
                cost = 2 * (K * gemm_k + 500 * Q * (2 * K + 60) * K * 2 / 66e9
                            + 500 * Q * (2 * K + 60) * 2e-9) + (1 - f_adm) * today[l]
                if best is None or cost < best[1]:
                    best = (K, cost, f_adm, wrong)
        if best:
            line += (f" || best K {best[0]}: bound {best[2]:.3f} (not right {best[3]:.4f}),"
                     f" projected {best[1]:.2f} s, gain {today[l] / best[1]:.1f}x")
        print(line, flush=True)


if __name__ == '__main__':
    a = sys.argv[1:]
    if a[:1] == ['spectrum'] and len(a) == 2:
        spectrum(a[1])
    elif a[:1] == ['series'] and len(a) in (7, 8):
        series(a[1], int(a[2]), int(a[3]), int(a[4]), float(a[5]),
               [int(v) for v in a[6].split(',')], a[7] if len(a) == 8 else None)
    else:
        sys.exit(__doc__)
