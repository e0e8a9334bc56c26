"""Each method's error over the peer's, per case: the issue #16 goal "within 2x of the peer's K".

Usage: ``ratios.py OUT_DIR [--peer peer_k4] METHOD...`` (METHOD: an output's stem in the case
directories, e.g. ``corrflow_o4_factored``; OUT_DIR: the --out of driver.py, as table.py's).
Prints per case (activation, n, L) the peer's and each method's output-mean MSE/Var and
covariance relative Frobenius error (table.py's definitions, read through its ``case_rows``) to
three digits, and method/peer of each; a ratio above 2 is marked ``*``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from table import case_rows  # noqa: E402


def main():
    args = sys.argv[1:]
    peer = "peer_k4"
    if "--peer" in args:
        k = args.index("--peer")
        peer = args[k + 1]
        del args[k : k + 2]
    if len(args) < 2:
        raise SystemExit(__doc__)
    out, methods = Path(args[0]), args[1:]
    print("| act n L | " + peer + " | " + " | ".join(f"{m} (÷ peer)" for m in methods) + " |")
    print("|---" * (2 + len(methods)) + "|")
    for row in case_rows(out, [peer] + methods, retimed=False):
        res = row["results"]
        p = res.get(peer)
        name = f"{row['act']} {row['n']} {row['depth']}"
        if not isinstance(p, dict):
            cells = [p or "–"] + ["–"] * len(methods)
        else:
            cells = [f"{p['mse_var']:.3g} / {p['cov_rel']:.3g}"]
            for m in methods:
                r = res.get(m)
                if not isinstance(r, dict):
                    cells.append(r or "–")
                    continue
                qm, qc = r["mse_var"] / p["mse_var"], r["cov_rel"] / p["cov_rel"]
                mark = lambda q: f"{q:.3g}" + ("*" if q > 2 else "")
                cells.append(f"{r['mse_var']:.3g} / {r['cov_rel']:.3g} ({mark(qm)} / {mark(qc)})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
