"""The ARC side of corrflow's comparison with ARC's cumulant propagation ("kprop", Wu et al. 2026,
arXiv 2605.05179; github.com/alignment-research-center/mlp_cumulant_propagation), on the peer's
own benchmark: its random bias-free MLPs, x ~ N(0, I), one thread.

Every case (activation, width n, depth L) lives in OUT/<act>/n<n>/d<L>/:

* ``model.safetensors``: the network in corrflow's model format (python/corrflow_torch.py).
  Built exactly as the peer's scripts/kprop_by_width.py builds trial 0: ``torch.manual_seed(seed)``,
  then ``mlp.MLP(input_dim=n, hidden_dim=n, output_dim=n, num_layers=L+1, nonlin=act)`` (He
  init, no biases, float32), so L is the number of hidden (nonlinear) layers. Weights are
  written widened to f64 (exact); the analytic methods all run in f64.
* ``truth.npz``: Monte Carlo output mean and covariance (population) from ``--samples`` inputs
  in 32 chunks (float32 forward like the peer's own sampler; sums in float32 within a
  batch of 2^16, f64 across batches), with the standard
  error of each mean entry (``se2_mean``, from the chunk means) and the relative Frobenius
  standard error of the covariance (``se_cov_rel``, from the chunk covariances); plus
  ``sample_seconds``, the time of one plain forward sample (drawing x and the float32 forward,
  best of 3 batches of 2^14, one thread), for the equal-accuracy sampling comparison.
* ``peer_k{K}.npz``: the peer's ``kprop_harmonic.mlp_kprop`` at k_max = K (kind SIMPLE, the
  factored top cumulant for K >= 3 as in its experiments, use_avg_metric False): output mean,
  covariance (``output_d_max=2``) and ``seconds`` (after a warm-up on a width-8 copy of the
  same depth and activation, which fills the peer's caches of partitions and diagrams; best of
  up to 5 runs within 1 s) and ``clamps_per_run``, how often per run the peer clamped a
  variance below 1e-10 (its "Snapping negative variance to zero" warning). ``peer_k{K}.json`` records a run that did not finish: ``timeout``
  (over ``--timeout`` seconds), ``skipped`` (a shallower depth of the same activation, width and
  K timed out, or K = 4 above ``--k4-max-width``). The timeout is an interval timer in the
  one process that runs every case: it fires between the peer's torch operations.

Commands (run with /work/arc-venv/bin/python, or any Python with torch, numpy, safetensors,
einops, jaxtyping, opt_einsum, tqdm; the peer's checkout is given by --peer):

    driver.py prepare --out DIR [--acts relu,gelu,tanh] [--widths 64,128,256]
                      [--depths 1,2,4,8,16,32] [--max-depth 256:8] [--samples 2097152]
    driver.py peers   --out DIR --peer ARC_CHECKOUT [--ks 2,3,4] [--timeout 120]
                      [--k4-max-width 128]
    driver.py sample-time --out DIR --peer ARC_CHECKOUT

``sample-time`` re-times the per-draw sampling cost of every prepared case (the same sampler
and timing as ``sample_seconds`` in truth.npz: best of 3 batches of 2^14, one thread), in wall
time and in process CPU time, prints them beside the stored figure and writes them to
``sample_time.json`` in the case directory (``sample_seconds``, ``sample_cpu_seconds``;
truth.npz is left as it is): the same-window figures that ``table.py --retimed`` uses on a
loaded machine.

Both grid commands skip cases whose files exist, so an interrupted run resumes.
"""

import argparse
import json
import logging
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "python"))  # corrflow_torch

CHUNKS = 32
MC_SEED = 20260516
REPEAT_BUDGET_S = 1.0
MAX_REPEATS = 5


def case_dirs(out: Path):
    """Every prepared case directory, in (act, n, depth) order."""
    dirs = [p.parent for p in out.glob("*/n*/d*/config.json")]
    return sorted(dirs, key=lambda d: (d.parent.parent.name, int(d.parent.name[1:]), int(d.name[1:])))


def peer_mlp(peer_root: str, act: str, n: int, depth: int, seed: int):
    """The peer's network for trial `seed` (float32, as its kprop_by_width.py makes it)."""
    import arc_import

    arc_import.install(peer_root)
    from mlp_kprop.mlp import MLP

    torch.manual_seed(seed)
    return MLP(input_dim=n, hidden_dim=n, output_dim=n, num_layers=depth + 1, nonlin=act)


def best_time(fn, clock=time.perf_counter):
    """(best time on `clock` (wall by default), last result, calls) of up to MAX_REPEATS calls
    of `fn`, stopping once REPEAT_BUDGET_S of wall time has passed."""
    best, start = float("inf"), time.perf_counter()
    for runs in range(1, MAX_REPEATS + 1):
        t = clock()
        result = fn()
        best = min(best, clock() - t)
        if time.perf_counter() - start >= REPEAT_BUDGET_S:
            break
    return best, result, runs


class ClampCounter(logging.Handler):
    """Counts the peer's "Snapping negative variance to zero" warnings (mlp_kprop/wick.py: a
    Wick coefficient asked for a variance below 1e-10, which the peer clamps and goes on)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record):
        self.count += "negative variance" in record.getMessage()


@torch.no_grad()
def monte_carlo(mlp, n: int, samples: int):
    """Output mean, covariance and their standard errors from `samples` N(0, I) inputs."""
    if samples % CHUNKS:
        raise SystemExit(f"--samples {samples}: expected a multiple of {CHUNKS}")
    per_chunk = samples // CHUNKS
    batch = min(per_chunk, 1 << 16)
    gen = torch.Generator().manual_seed(MC_SEED)
    means, seconds = [], []
    s2_total = torch.zeros(n, n, dtype=torch.float64)
    covs = []
    for _ in range(CHUNKS):
        s1 = torch.zeros(n, dtype=torch.float64)
        s2 = torch.zeros(n, n, dtype=torch.float64)
        done = 0
        while done < per_chunk:
            b = min(batch, per_chunk - done)
            y = mlp(torch.randn(b, n, generator=gen)).out
            s1 += y.double().sum(0)
            s2 += (y.T @ y).double()  # float32 within a batch, f64 across batches
            done += b
        m = s1 / per_chunk
        means.append(m)
        covs.append(s2 / per_chunk - torch.outer(m, m))
        s2_total += s2
    means = torch.stack(means)
    mean = means.mean(0)
    cov = s2_total / samples - torch.outer(mean, mean)
    se2_mean = means.var(0, unbiased=True) / CHUNKS
    covs = torch.stack(covs)
    spread = ((covs - covs.mean(0)) ** 2).sum() / (CHUNKS * (CHUNKS - 1))
    se_cov_rel = (spread.sqrt() / torch.linalg.norm(cov)).item()
    return mean.numpy(), cov.numpy(), se2_mean.numpy(), se_cov_rel


@torch.no_grad()
def sample_seconds(mlp, n: int, clock=time.perf_counter) -> float:
    """Time of one plain forward sample on `clock` (wall by default; `time.process_time`, the
    process CPU time, for a loaded machine): draw x, float32 forward, add y to a running sum."""
    batch = 1 << 14
    gen = torch.Generator().manual_seed(1)
    acc = torch.zeros(n)

    def once():
        acc.add_(mlp(torch.randn(batch, n, generator=gen)).out.sum(0))

    once()
    return min(best_time(once, clock)[0] for _ in range(3)) / batch


def prepare(args):
    import corrflow_torch

    torch.set_num_threads(1)
    max_depth = dict(tuple(int(v) for v in kv.split(":")) for kv in args.max_depth.split(",") if kv)
    for act in args.acts.split(","):
        for n in map(int, args.widths.split(",")):
            for depth in map(int, args.depths.split(",")):
                if depth > max_depth.get(n, depth):
                    continue
                case = Path(args.out) / act / f"n{n}" / f"d{depth}"
                if (case / "config.json").exists():  # written last: the case is complete
                    continue
                case.mkdir(parents=True, exist_ok=True)
                mlp = peer_mlp(args.peer, act, n, depth, args.seed)
                weights = [lin.weight.detach().double().numpy() for lin in mlp.Ws]
                corrflow_torch.export_arrays(
                    weights, [None] * len(weights), [act] * depth, case / "model.safetensors",
                    metadata={"source": "ARC mlp_kprop.mlp.MLP", "seed": args.seed},
                )
                t = time.perf_counter()
                mean, cov, se2_mean, se_cov_rel = monte_carlo(mlp, n, args.samples)
                mc_s = time.perf_counter() - t
                np.savez(
                    case / "truth.npz", mean=mean, cov=cov, se2_mean=se2_mean,
                    se_cov_rel=se_cov_rel, samples=args.samples, seconds=mc_s,
                    sample_seconds=sample_seconds(mlp, n),
                )
                config = dict(act=act, n=n, depth=depth, seed=args.seed, samples=args.samples)
                (case / "config.json").write_text(json.dumps(config))
                print(f"{case}: Monte Carlo {mc_s:.1f} s", flush=True)


class PeerTimeout(Exception):
    """Raised by the interval timer when one peer run passes --timeout."""


def _alarm(signum, frame):
    raise PeerTimeout


@torch.no_grad()
def peer_case(case: Path, cfg: dict, k: int, peer_root: str, timeout: float) -> str | None:
    """One peer run at k_max = k: writes peer_k{k}.npz and returns None, or returns why not."""
    import arc_import

    arc_import.install(peer_root)
    from mlp_kprop.kprop_harmonic import Kind, mlp_kprop

    import corrflow_torch

    def propagate(mlp, n):
        k_in = {1: torch.zeros(n, dtype=torch.float64), 2: torch.eye(n, dtype=torch.float64)}
        return mlp_kprop(
            mlp, k_in, k_max=k, kind=Kind.SIMPLE, use_avg_metric=False, factor=k >= 3,
            output_d_max=2,
        )

    propagate(peer_mlp(peer_root, cfg["act"], 8, cfg["depth"], cfg["seed"]).double(), 8)
    mlp = peer_mlp(peer_root, cfg["act"], cfg["n"], cfg["depth"], cfg["seed"]).double()
    weights = corrflow_torch.load_arrays(case / "model.safetensors")[0]
    if any(not np.array_equal(lin.weight.numpy(), w) for lin, w in zip(mlp.Ws, weights)):
        raise SystemExit(f"{case}: the rebuilt peer network differs from model.safetensors")
    clamps = ClampCounter()
    logging.getLogger("mlp_kprop").addHandler(clamps)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        seconds, out, runs = best_time(lambda: propagate(mlp, cfg["n"]))
    except PeerTimeout:
        return f"timeout: over {timeout:g} s"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        logging.getLogger("mlp_kprop").removeHandler(clamps)
    np.savez(
        case / f"peer_k{k}.npz", mean=out[1].to_tensor().numpy(), cov=out[2].to_tensor().numpy(),
        seconds=seconds, clamps_per_run=clamps.count / runs,
    )
    return None


def peers(args):
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _alarm)
    timed_out = {}  # (act, n, k) -> the depth that timed out
    for case in case_dirs(Path(args.out)):
        cfg = json.loads((case / "config.json").read_text())
        for k in map(int, args.ks.split(",")):
            key = (cfg["act"], cfg["n"], k)
            done = case / f"peer_k{k}.json"
            if done.exists() and json.loads(done.read_text())["status"].startswith("timeout"):
                timed_out.setdefault(key, cfg["depth"])
            if (case / f"peer_k{k}.npz").exists() or done.exists():
                continue
            t = time.perf_counter()
            if k == 4 and cfg["n"] > args.k4_max_width:
                status = f"skipped: k=4 above --k4-max-width {args.k4_max_width}"
            elif key in timed_out:
                status = f"skipped: depth {timed_out[key]} timed out"
            else:
                status = peer_case(case, cfg, k, args.peer, args.timeout)
                if status is not None:
                    timed_out[key] = cfg["depth"]
            print(f"{case} k={k}: {status or 'ok'} ({time.perf_counter() - t:.1f} s)", flush=True)
            if status is not None:
                done.write_text(json.dumps({"status": status}))


def sample_time(args):
    torch.set_num_threads(1)
    for case in case_dirs(Path(args.out)):
        cfg = json.loads((case / "config.json").read_text())
        mlp = peer_mlp(args.peer, cfg["act"], cfg["n"], cfg["depth"], cfg["seed"])
        wall = sample_seconds(mlp, cfg["n"])
        cpu = sample_seconds(mlp, cfg["n"], time.process_time)
        stored = float(np.load(case / "truth.npz")["sample_seconds"])
        times = {"sample_seconds": wall, "sample_cpu_seconds": cpu}
        (case / "sample_time.json").write_text(json.dumps(times))
        print(
            f"{case}: {wall * 1e6:.3f} us wall, {cpu * 1e6:.3f} us CPU per draw "
            f"(truth.npz: {stored * 1e6:.3f} us wall)",
            flush=True,
        )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("prepare")
    pr.add_argument("--out", required=True)
    pr.add_argument("--peer", required=True)
    pr.add_argument("--acts", default="relu,gelu,tanh")
    pr.add_argument("--widths", default="64,128,256")
    pr.add_argument("--depths", default="1,2,4,8,16,32")
    pr.add_argument("--max-depth", default="256:8", help="WIDTH:DEPTH,... deepest case per width")
    pr.add_argument("--samples", type=int, default=1 << 21)
    pr.add_argument("--seed", type=int, default=0)
    pe = sub.add_parser("peers")
    pe.add_argument("--out", required=True)
    pe.add_argument("--peer", required=True)
    pe.add_argument("--ks", default="2,3,4")
    pe.add_argument("--timeout", type=float, default=120.0)
    pe.add_argument("--k4-max-width", type=int, default=128)
    st = sub.add_parser("sample-time")
    st.add_argument("--out", required=True)
    st.add_argument("--peer", required=True)
    args = p.parse_args()
    {"prepare": prepare, "peers": peers, "sample-time": sample_time}[args.cmd](args)


if __name__ == "__main__":
    main()
