"""Old/new arc_compare binaries alternated on the same models, for speed comparisons on a loaded
machine (benches/peers/arc/, issue #16's sampling goal).

Usage: ``alternate.py --old BIN --new BIN [--rounds 5] [--order 2] [--old-args ARGS]
[--new-args ARGS] [--out DIR] MODEL_DIR...``

Each round runs ``BIN ARGS MODEL_DIR/model.safetensors`` with RAYON_NUM_THREADS=1 for the old
binary and then the new one, on every model in turn, so that both see the same minute of load.
ARGS is ``--order ORDER`` unless ``--old-args`` / ``--new-args`` give a side its own (e.g. the
dense order 4 against ``--order 4 --kappa4 factored``); each side's output is the
``corrflow_o*.safetensors`` its run wrote. Each binary writes into its own copy directory under --out (default
/tmp/alternate/{old,new}/<the model's last three path parts>, holding a link to the model), so
that the two outputs can be compared afterwards. Prints, per model, the median over rounds of
the run's best wall time (``seconds`` in the output's metadata) and of its least process CPU
time (``cpu_seconds``), old and new, and new/old of each; and the largest relative difference
of the two outputs' mean and covariance entries (max |new − old| / max |old|, per tensor).
Standard library only (the outputs are read as safetensors by hand).
"""

import argparse
import json
import os
import shlex
import statistics
import struct
import subprocess
import time
from array import array
from pathlib import Path


def read_safetensors(path: Path):
    """(metadata, {name: list of floats}) of an F64 safetensors file."""
    raw = path.read_bytes()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + size])
    body = raw[8 + size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F64":
            raise SystemExit(f"{path}: tensor {name} is {info['dtype']}, expected F64")
        lo, hi = info["data_offsets"]
        tensors[name] = array("d", body[lo:hi])
    return header.get("__metadata__", {}), tensors


def rel_diff(a, b) -> float:
    scale = max(abs(x) for x in a)
    return max(abs(x - y) for x, y in zip(a, b)) / scale if scale > 0 else 0.0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", required=True)
    p.add_argument("--new", required=True)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--order", default="2")
    p.add_argument("--old-args", help="arguments of the old binary (default: --order ORDER)")
    p.add_argument("--new-args", help="arguments of the new binary (default: --order ORDER)")
    p.add_argument("--out", default="/tmp/alternate")
    p.add_argument("models", nargs="+", help="case directories holding model.safetensors")
    args = p.parse_args()
    env = dict(os.environ, RAYON_NUM_THREADS="1")
    cases = []
    for m in args.models:
        src = Path(m).resolve() / "model.safetensors"
        if not src.exists():
            raise SystemExit(f"{src}: missing")
        tag = Path(*Path(m).resolve().parts[-3:])
        dirs = {}
        for side in ("old", "new"):
            d = Path(args.out) / side / tag
            d.mkdir(parents=True, exist_ok=True)
            link = d / "model.safetensors"
            if link.is_symlink() or link.exists():
                link.unlink()
            link.symlink_to(src)
            dirs[side] = d
        cases.append((tag, dirs))
    side_args = {
        side: shlex.split(getattr(args, f"{side}_args") or f"--order {args.order}")
        for side in ("old", "new")
    }
    outputs = {}
    times = {(tag, side): [] for tag, _ in cases for side in ("old", "new")}
    for _ in range(args.rounds):
        for tag, dirs in cases:
            for side in ("old", "new"):
                binary = getattr(args, side)
                model = dirs[side] / "model.safetensors"
                cmd = [binary, *side_args[side], str(model)]
                start = time.time()
                subprocess.run(cmd, env=env, check=True, capture_output=True)
                written = [
                    f for f in dirs[side].glob("corrflow_o*.safetensors") if f.stat().st_mtime >= start - 1
                ]
                if len(written) != 1:
                    raise SystemExit(f"{' '.join(cmd)}: expected one fresh corrflow_o*.safetensors, found {written}")
                outputs[(tag, side)] = written[0]
                meta, _ = read_safetensors(written[0])
                times[(tag, side)].append((float(meta["seconds"]), float(meta["cpu_seconds"])))
    print("| case | old wall ms | new wall ms | new/old | old CPU ms | new CPU ms | new/old | max rel. diff mean, cov |")
    print("|---|---|---|---|---|---|---|---|")
    for tag, dirs in cases:
        med = {
            side: [statistics.median(t[k] for t in times[(tag, side)]) * 1e3 for k in (0, 1)]
            for side in ("old", "new")
        }
        _, old = read_safetensors(outputs[(tag, "old")])
        _, new = read_safetensors(outputs[(tag, "new")])
        diff = f"{rel_diff(old['mean'], new['mean']):.1e}, {rel_diff(old['cov'], new['cov']):.1e}"
        (ow, oc), (nw, nc) = med["old"], med["new"]
        print(
            f"| {tag} | {ow:.3f} | {nw:.3f} | {nw / ow:.2f} | {oc:.3f} | {nc:.3f} | {nc / oc:.2f} | {diff} |"
        )


if __name__ == "__main__":
    main()
