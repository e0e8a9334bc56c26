#!/usr/bin/env python3
"""Independent reference for `propagate::higher::chaos` (nd32): the Hermite-chaos coefficients
B_{p,j} = E[(phi - m)^p He_j(z)] / (j! s^j) (p = 1..4, j = 0..5) and the mean m = E phi(mu + s z)
of one unit h = mu + s z, z ~ N(0, 1), in mpmath (arbitrary precision and exponent range).

  /work/arc-venv/bin/python scripts/chaos_reference.py > fixtures/chaos_reference.csv

Two independent methods, chosen by s:
- s >= 1e-2 (and relu/leaky relu wherever the kink is within 40 s of mu): composite
  Gauss-Legendre quadrature at 50 digits over the Gaussian, split at the kink;
- relu and leaky relu at mu = 0: scale-free, phi(s z) = s phi(z), the quadrature at s = 1
  scaled exactly;
- otherwise the Taylor series of phi around mu to degree N = 30 (mpmath.taylor: numerical
  differentiation at raised precision), (phi - m)^p as a polynomial in delta = s z, and each
  power delta^n in Wick powers: delta^n = sum_i n!/(2^i i! (n-2i)!) s^{2i} :delta^{n-2i}:, so
  B_{p,j} = sum_i q_{j+2i} (j+2i)!/(2^i i! j!) s^{2i}, without forming s^j. Relu and leaky relu
  with the kink beyond 40 s: phi is linear there (the rest is below e^-800).
The two methods are cross-checked at s = 1e-2 ... 1e-3 (printed to stderr).

Each row: activation, mu, s, mean, then for p = 1..4 and j = 0..5: B_{p,j} and log10 u_{p,j},
u_{p,j} = ||(phi - m)^p||_2 / (s^j sqrt(j!)) -- the size a coefficient's error is measured in
(Parseval: |B_{p,j}| s^j sqrt(j!) <= ||(phi - m)^p||_2), given as log10 because it leaves f64's
range at tiny s.
"""
import sys
import mpmath as mp
from mpmath.calculus.quadrature import GaussLegendre

ACTS = {
    "linear": lambda h: h,
    "quad:0.5": lambda h: h + mp.mpf("0.5") * h * h,
    "relu": lambda h: h if h > 0 else mp.mpf(0),
    "leaky:0.1": lambda h: h if h > 0 else mp.mpf("0.1") * h,
    "erf": lambda h: mp.erf(h),
    "tanh": lambda h: mp.tanh(h),
    "sigmoid": lambda h: 1 / (1 + mp.exp(-h)),
    "gelu": lambda h: h * mp.ncdf(h),
    "silu": lambda h: h / (1 + mp.exp(-h)),
    "softplus": lambda h: mp.log1p(mp.exp(h)),
}
KINK = {"relu": (1, 0), "leaky:0.1": (1, mp.mpf("0.1"))}
MUS = ["0", "0.7", "-1.3", "3"]
RATIOS = ["1e-1", "1e-2", "1e-3", "1e-4", "1e-6", "1e-8", "1e-12", "1e-16", "1e-24", "1e-32",
          "1e-48", "1e-64", "1e-100", "1e-150", "1e-200", "1e-300"]
P, J, N = 4, 5, 30


def he(j, z):
    return [1, z, z * z - 1, z ** 3 - 3 * z, z ** 4 - 6 * z * z + 3, z ** 5 - 10 * z ** 3 + 15 * z][j]


def by_quadrature(f, mu, s, kink):
    """B, m and the norms ||(phi-m)^p|| by composite 48-point Gauss-Legendre quadrature at 50
    digits on panels of width 1/2 over z in [-16, 16], split at the kink (polynomial pieces
    are integrated exactly on each panel; the Gaussian tail beyond 16 is below 1e-57)."""
    with mp.workdps(50):
        mu, s = mp.mpf(mu), mp.mpf(s)
        edges = [mp.mpf(k) / 2 for k in range(-32, 33)]
        if kink is not None and -16 < -mu / s < 16:
            edges = sorted(edges + [-mu / s])
        nodes = GaussLegendre(mp.mp).calc_nodes(5, mp.mp.prec)
        zs, ws = [], []
        for a, b in zip(edges, edges[1:]):
            if b - a <= 0:
                continue
            h, c = (b - a) / 2, (a + b) / 2
            for x, w in nodes:  # the rule's nodes on [-1, 1], both signs
                z = c + h * x
                zs.append(z)
                ws.append(w * h * mp.npdf(z))
        phi = [f(mu + s * z) for z in zs]
        m = mp.fsum(w * v for w, v in zip(ws, phi))
        d = [v - m for v in phi]
        hes = [[he(j, z) for j in range(J + 1)] for z in zs]
        B, norms = [], []
        for p in range(1, P + 1):
            dp = [x ** p for x in d]
            B.append([mp.fsum(w * x * hz[j] for w, x, hz in zip(ws, dp, hes)) / (mp.factorial(j) * s ** j)
                      for j in range(J + 1)])
            norms.append(mp.sqrt(mp.fsum(w * x * x for w, x in zip(ws, dp))))
        return m, B, norms


def scale_free(f, s, kink):
    """Relu and leaky relu at mu = 0: phi(s z) = s phi(z), so m and B_{p,j} s^{j-p} and the
    norms s^-p are those at s = 1 (quadrature); a coefficient below 1e-40 of its unit u is
    the 50-digit quadrature's rounding of a zero by symmetry and is given as 0."""
    m1, B1, n1 = by_quadrature(f, "0", 1, kink)
    s = mp.mpf(s)
    B = [[(0 if abs(B1[p][j]) * mp.sqrt(mp.factorial(j)) < mp.mpf("1e-40") * n1[p] else B1[p][j])
          * s ** (p + 1 - j) for j in range(J + 1)] for p in range(P)]
    return m1 * s, B, [n * s ** (p + 1) for p, n in enumerate(n1)]


def moment(n, s):
    """E delta^n, delta ~ N(0, s^2)."""
    return mp.mpf(0) if n % 2 else mp.fac2(n - 1) * s ** n


def by_taylor(coef, s):
    """B, m and the norms from phi(mu + delta) = sum_k coef[k] delta^k."""
    s = mp.mpf(s)
    d0 = -sum(coef[k] * moment(k, s) for k in range(2, len(coef), 2))  # phi(mu) - m
    m = coef[0] - d0
    q = [d0] + list(coef[1:])

    def mul(a, b):
        out = [mp.mpf(0)] * (N + 1)
        for i, x in enumerate(a):
            if x == 0:
                continue
            for k, y in enumerate(b[: N + 1 - i]):
                out[i + k] += x * y
        return out

    pows = [None, q]
    for p in range(2, 2 * P + 1):
        pows.append(mul(pows[-1], q))
    B = []
    for p in range(1, P + 1):
        row = []
        for j in range(J + 1):
            acc = mp.mpf(0)
            for i in range(0, (N - j) // 2 + 1):
                n = j + 2 * i
                acc += pows[p][n] * mp.factorial(n) / (2 ** i * mp.factorial(i) * mp.factorial(j)) * s ** (2 * i)
            row.append(acc)
        B.append(row)
    norms = [mp.sqrt(sum(pows[2 * p][n] * moment(n, s) for n in range(N + 1))) for p in range(1, P + 1)]
    return m, B, norms


def taylor_coef(name, mu):
    if name in KINK:
        _, slope = KINK[name]
        mu = mp.mpf(mu)
        a = 1 if mu > 0 else slope
        return [a * mu, a] + [mp.mpf(0)] * (N - 1)
    with mp.workdps(60):
        return [mp.mpf(c) for c in mp.taylor(ACTS[name], mp.mpf(mu), N)]


def fmt(x):
    return mp.nstr(x, 20, min_fixed=1, max_fixed=0) if x != 0 else "0"


def main():
    mp.mp.dps = 60
    print("act,mu,s,mean," + ",".join(f"b{p}{j},lu{p}{j}" for p in range(1, P + 1) for j in range(J + 1)))
    worst = mp.mpf(0)
    for name, f in ACTS.items():
        for mu in MUS:
            coef = taylor_coef(name, mu)
            for r in RATIOS:
                s = mp.mpf(r) * (abs(mp.mpf(mu)) if mu != "0" else 1)
                kink = KINK.get(name)
                near_kink = kink is not None and abs(mp.mpf(mu)) < 40 * s
                if near_kink and mu == "0":
                    m, B, norms = scale_free(f, s, kink)
                elif mp.mpf(r) >= mp.mpf("1e-2") or near_kink:
                    m, B, norms = by_quadrature(f, mu, s, kink)
                else:
                    m, B, norms = by_taylor(coef, s)
                if mp.mpf("1e-3") <= mp.mpf(r) <= mp.mpf("1e-2") and not near_kink:
                    # cross-check: the other method, errors in units u
                    m2, B2, n2 = (by_taylor(coef, s) if mp.mpf(r) >= mp.mpf("1e-2")
                                  else by_quadrature(f, mu, s, kink))
                    for p in range(P):
                        for j in range(J + 1):
                            u = norms[p] / (s ** j * mp.sqrt(mp.factorial(j)))
                            if u > 0:
                                worst = max(worst, abs(B[p][j] - B2[p][j]) / u)
                cells = [name, mu, mp.nstr(s, 20), fmt(m)]
                for p in range(P):
                    for j in range(J + 1):
                        u = norms[p] / (s ** j * mp.sqrt(mp.factorial(j)))
                        cells += [fmt(B[p][j]), mp.nstr(mp.log10(u), 20) if u > 0 else "-inf"]
                print(",".join(cells))
                sys.stdout.flush()
        print(f"{name}: done; worst cross-check so far {mp.nstr(worst, 3)} (units u)", file=sys.stderr)


if __name__ == "__main__":
    main()
