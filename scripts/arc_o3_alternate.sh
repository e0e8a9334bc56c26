#!/usr/bin/env bash
# Alternates two arc_compare binaries (e.g. main's and a branch's) on copies of ARC peer cases:
# factored order 3, 1 thread, ROUNDS rounds, old then new per row. Prints per run the wall
# `seconds` and process `cpu_seconds` arc_compare writes in its output's metadata (the least
# over its timed repetitions), and the load average.
#
#   scripts/arc_o3_alternate.sh OLD_BIN NEW_BIN WORKDIR ROUNDS ROW...   # ROW = act/nN/dL
#
# The cases are copied from $ARC_DATA (default /work/arc-data) to WORKDIR/{old,new}/ROW:
# arc_compare writes corrflow_o3_factored.safetensors beside the model, never in ARC_DATA.
set -euo pipefail
[ $# -ge 5 ] || { sed -n 2,9p "$0"; exit 2; }
old=$1 new=$2 work=$3 rounds=$4
shift 4
data=${ARC_DATA:-/work/arc-data}
for row in "$@"; do
  for v in old new; do
    mkdir -p "$work/$v/$row"
    cp "$data/$row"/{model.safetensors,config.json,truth.npz} "$work/$v/$row/"
  done
done
meta() {
  python3 - "$1" <<'PY'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    (n,) = struct.unpack("<Q", f.read(8))
    m = json.loads(f.read(n))["__metadata__"]
print(f"{1e3 * float(m['seconds']):.2f} {1e3 * float(m['cpu_seconds']):.2f}")
PY
}
echo "round row binary wall_ms cpu_ms load1"
for r in $(seq "$rounds"); do
  for row in "$@"; do
    for v in old new; do
      bin=$old
      [ "$v" = new ] && bin=$new
      RAYON_NUM_THREADS=1 "$bin" --order 3 --kappa3 factored "$work/$v/$row/model.safetensors" \
        > "$work/$v/$row/arc_compare.log"
      echo "$r $row $v $(meta "$work/$v/$row/corrflow_o3_factored.safetensors") $(cut -d' ' -f1 /proc/loadavg)"
    done
  done
done
