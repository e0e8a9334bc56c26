"""The peer's cost at k_max = K on prepared cases: its FLOPs and its least process CPU time
(BENCHMARKS.md, "Order 3 against the peer's cost, o3t75").

Usage: ``peer_cost.py --peer ARC_CHECKOUT [--k 3] CASE_DIR...`` (CASE_DIR: a case of
driver.py's --out, e.g. OUT/relu/n128/d8; run with /work/arc-venv/bin/python and
OMP_NUM_THREADS=1).

Per case: the peer's ``kprop_harmonic.mlp_kprop`` called as driver.py times it (kind SIMPLE,
factored top cumulant for K >= 3, use_avg_metric False, output_d_max 2, float64, one thread)
on the network driver.py builds for the case; after a warm-up run, the least process CPU time
of 3 runs, then one run under the peer's own counter (``flop_utils.NamedFlopCounter``: torch's
FlopCounterMode with the peer's elementwise and reduction rules). Prints the total raw FLOPs
(without the peer's symmetry factors: what its kernels execute) and the largest named regions
(e.g. ``FactoredTensor3.contract_W``, the map of its factored κ₃; ``get_dslice``, κ₃'s
diagonal slices), in GFLOP.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import arc_import  # noqa: E402
import driver  # noqa: E402

REGIONS_SHOWN = 6
CPU_RUNS = 3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peer", required=True, help="the ARC checkout (holding src/mlp_kprop)")
    ap.add_argument("--k", type=int, default=3, help="the peer's k_max (default 3)")
    ap.add_argument("cases", nargs="+", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(1)
    arc_import.install(args.peer)
    from mlp_kprop.flop_utils import NamedFlopCounter
    from mlp_kprop.kprop_harmonic import Kind, mlp_kprop

    for case in args.cases:
        config = case / "config.json"
        if not config.is_file():
            raise SystemExit(f"{case}: expected a case directory of driver.py holding config.json")
        cfg = json.loads(config.read_text())
        n = cfg["n"]
        mlp = driver.peer_mlp(args.peer, cfg["act"], n, cfg["depth"], cfg["seed"]).double()
        k_in = {1: torch.zeros(n, dtype=torch.float64), 2: torch.eye(n, dtype=torch.float64)}

        def run():
            return mlp_kprop(
                mlp, k_in, k_max=args.k, kind=Kind.SIMPLE, use_avg_metric=False,
                factor=args.k >= 3, output_d_max=2,
            )

        with torch.no_grad():
            run()
            cpu = float("inf")
            for _ in range(CPU_RUNS):
                start = time.process_time()
                run()
                cpu = min(cpu, time.process_time() - start)
            with NamedFlopCounter() as counter:
                run()
        regions = sorted(counter.raw_flop_dict().items(), key=lambda kv: -kv[1])[:REGIONS_SHOWN]
        shown = ", ".join(f"{name} {flops / 1e9:.3f}" for name, flops in regions)
        print(
            f"{case} K={args.k}: {counter.raw_total() / 1e9:.3f} GFLOP, "
            f"least CPU {cpu * 1e3:.1f} ms; {shown}",
            flush=True,
        )


if __name__ == "__main__":
    main()
