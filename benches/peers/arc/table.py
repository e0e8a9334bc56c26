"""Joins the ARC comparison's files (driver.py, arc_compare.rs) into Markdown tables, one set per
activation: error vs depth of the peer's kprop at k_max = 2, 3, 4 and corrflow at order 2 (3, 4
where their files exist), time, and the equal-accuracy sampling ratio.

Usage: ``table.py OUT_DIR [--retimed]`` (the --out of driver.py); prints Markdown. NumPy and
safetensors only. With ``--retimed`` the sampling ratio takes the per-draw time from each case's
``sample_time.json`` (``driver.py sample-time``: re-timed in the same window as the methods)
instead of truth.npz's ``sample_seconds``, on one clock per method: corrflow's process CPU time
(``cpu_seconds``) against the sampler's CPU time, the peer's wall time against the sampler's
wall time (the time table shows the clock the ratio used); a case without that file is an
error.

Definitions (μ, Σ the Monte Carlo output mean and covariance, m, C a method's):
* mean error  MSE/Var = Σᵢ(mᵢ − μᵢ)² / Σᵢ Σᵢᵢ; its Monte Carlo floor Σᵢ SEᵢ² / Σᵢ Σᵢᵢ (≈ 1/samples)
  is what the truth's own noise adds to it in expectation.
* covariance error ‖C − Σ‖_F / ‖Σ‖_F; the truth's own relative standard error beside it.
* sampling ratio: plain sampling needs N_eq = Var/MSE samples for the same mean error (its
  estimate of the mean has MSE Var/N); ratio = N_eq · (time per forward sample) / (method's
  time). Above 1 the method is cheaper. MSE is the measured one less the floor. The truth's
  noise term Σᵢeᵢ², e ~ N(0, Σ/samples), has standard deviation √2‖Σ‖_F/samples (relative to
  tr Σ; large when the outputs share a common mode; the sum is skewed to the right); a measured
  error below the floor plus four of these is not resolved, and the ratio from the uncorrected
  MSE is a lower bound (≥).
* † after an error: the run clamped variances below 1e-10 to 1e-10 (the peer's "Snapping negative
  variance to zero" warning); ? : not counted (files from before the driver counted them).
* corrflow orders 3/4: ‡L1,L2 after an error: at hidden layers L1, L2 the carry dropped the
  carried cumulants (h taken as Gaussian there, the carry resuming after); (g) : some units kept the Gaussian closure's moments
  (their corrected variance broke down; count in the file's ``gaussian_unit_layers``).
"""

import json
import sys
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file


def fmt(x: float) -> str:
    if x is None:
        return "–"
    if not np.isfinite(x):
        return "NaN" if np.isnan(x) else "inf"
    if 100 <= abs(x) < 1e5:
        return f"{x:.0f}"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 100 else f"{x:.1e}".replace("e-0", "e-").replace("e+0", "e")


def load_method(case: Path, name: str):
    """(mean, cov, seconds by clock ("wall", and "cpu" where the file has it), marks after its
    errors) of one method's output in `case`, or a status string, or None."""
    if name.startswith("peer"):
        npz, status = case / f"{name}.npz", case / f"{name}.json"
        if npz.exists():
            d = np.load(npz)
            clamps = float(d["clamps_per_run"]) if "clamps_per_run" in d else None
            marks = {None: " ?", 0.0: ""}.get(clamps, " †")
            return d["mean"], d["cov"], {"wall": float(d["seconds"])}, marks
        if status.exists():
            return json.loads(status.read_text())["status"].split(":")[0]
        return None
    path = case / f"{name}.safetensors"
    if not path.exists():
        return None
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata()
    t = load_file(str(path))
    seconds = {"wall": float(meta["seconds"])}
    if "cpu_seconds" in meta:
        seconds["cpu"] = float(meta["cpu_seconds"])
    return t["mean"], t["cov"], seconds, carry_mark(meta)


def carry_mark(meta) -> str:
    """The fallback marks of a corrflow order 3/4 file's metadata ("" at order 2)."""
    fallback = meta.get("fallback", "none")
    layers = fallback.split(":")[0].removeprefix("layers ").removeprefix("layer ")
    mark = "" if fallback == "none" else " ‡" + layers
    return mark + (" (g)" if int(meta.get("gaussian_unit_layers", "0")) > 0 else "")


def draw_seconds(case: Path, truth, retimed: bool) -> dict:
    """The per-draw sampling time by clock ("wall", "cpu"): truth.npz's wall time, or with
    `retimed` sample_time.json's wall and CPU times."""
    if not retimed:
        return {"wall": float(truth["sample_seconds"])}
    path = case / "sample_time.json"
    if not path.exists():
        raise SystemExit(f"{path}: missing (run driver.py sample-time --out DIR first)")
    times = json.loads(path.read_text())
    return {"wall": times["sample_seconds"], "cpu": times["sample_cpu_seconds"]}


def case_rows(out: Path, methods, retimed: bool):
    def order(p):  # <act>/n<n>/d<L>/config.json, by activation, width, depth
        return p.parts[-4], int(p.parts[-3][1:]), int(p.parts[-2][1:])

    for cfg_path in sorted(out.glob("*/n*/d*/config.json"), key=order):
        case = cfg_path.parent
        cfg = json.loads(cfg_path.read_text())
        truth = np.load(case / "truth.npz")
        mu, sigma = truth["mean"], truth["cov"]
        var = np.trace(sigma)
        floor = truth["se2_mean"].sum() / var
        noise_sd = np.sqrt(2.0) * np.linalg.norm(sigma) / (float(truth["samples"]) * var)
        row = dict(cfg, floor=floor, se_cov=float(truth["se_cov_rel"]), results={})
        per_draw = draw_seconds(case, truth, retimed)
        for m in methods:
            got = load_method(case, m)
            if got is None or isinstance(got, str):
                row["results"][m] = got
                continue
            mean, cov, seconds, marks = got
            with np.errstate(over="ignore", invalid="ignore"):  # a diverged run shows inf/NaN
                mse_var = float(((mean - mu) ** 2).sum() / var)
                cov_rel = float(np.linalg.norm(cov - sigma) / np.linalg.norm(sigma))
            resolved = mse_var > floor + 4 * noise_sd
            n_eq = 1.0 / (mse_var - floor if resolved else mse_var)
            clock = "cpu" if "cpu" in seconds and "cpu" in per_draw else "wall"
            ratio = n_eq * per_draw[clock] / seconds[clock]
            row["results"][m] = dict(
                mse_var=mse_var, cov_rel=cov_rel, seconds=seconds[clock], clock=clock, ratio=ratio,
                resolved=resolved,
                marks=marks,
            )
        yield row


def cell(r, key):
    if r is None:
        return "–"
    if isinstance(r, str):
        return r
    if key == "ms":
        return fmt(r["seconds"] * 1e3) + (" cpu" if r["clock"] == "cpu" else "")
    if key == "ratio":
        if not np.isfinite(r["mse_var"]) or r["mse_var"] > 1e6:
            return "diverged"
        return ("" if r["resolved"] else "≥ ") + fmt(r["ratio"])
    return fmt(r[key]) + r["marks"]


def main():
    args = sys.argv[1:]
    retimed = "--retimed" in args
    args = [a for a in args if a != "--retimed"]
    if len(args) != 1:
        raise SystemExit("usage: table.py OUT_DIR [--retimed] (the --out of driver.py)")
    out = Path(args[0])
    if not any(out.glob("*/n*/d*/config.json")):
        raise SystemExit(f"{out}: no cases (expected <act>/n<n>/d<L>/config.json from driver.py)")
    methods = ["peer_k2", "peer_k3", "peer_k4"] + [
        f"corrflow_o{o}{form}"
        for o in (2, 3, 4)
        for form in ("", "_factored", "_one_map_star", "_one_map_covariance", "_one_map_budget",
                     "_one_map")
        if any(out.glob(f"*/n*/d*/corrflow_o{o}{form}.safetensors"))
    ]
    labels = [m.replace("peer_k", "peer k=").replace("corrflow_o", "corrflow o") for m in methods]
    rows = list(case_rows(out, methods, retimed))
    for act in sorted({r["act"] for r in rows}):
        these = [r for r in rows if r["act"] == act]
        samples = sorted({r["samples"] for r in these})
        timed = "re-timed per draw (sample_time.json)" if retimed else "truth.npz's per-draw time"
        print(f"\n#### {act} (Monte Carlo: {', '.join(map(str, samples))} samples; sampling: {timed})\n")
        tables = [
            ("Output mean, MSE/Var", "MC floor", "floor", "mse_var"),
            ("Output covariance, relative Frobenius error", "MC s.e.", "se_cov", "cov_rel"),
            ("Time, ms (1 thread)", None, None, "ms"),
            ("Sampling to equal mean error / method time", None, None, "ratio"),
        ]
        for title, ref_label, ref_key, key in tables:
            head = ["n", "L"] + ([ref_label] if ref_label else []) + labels
            print(f"{title}:\n")
            print("| " + " | ".join(head) + " |")
            print("|" + "---|" * len(head))
            for r in these:
                cells = [str(r["n"]), str(r["depth"])] + ([fmt(r[ref_key])] if ref_key else [])
                cells += [cell(r["results"][m], key) for m in methods]
                print("| " + " | ".join(cells) + " |")
            print()


if __name__ == "__main__":
    main()
