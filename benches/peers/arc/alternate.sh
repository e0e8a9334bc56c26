#!/usr/bin/env bash
# Alternated timing of two arc_compare runs on copies of ARC cases (1 thread): per round and
# row, OLD_BIN with OLD_ARGS then NEW_BIN with NEW_ARGS on OUT/<row>/model.safetensors; prints
# each run's process CPU time (`cpu_seconds`) and wall time (`seconds`) from the output file's
# metadata. Rows are <act>/n<N>/d<L> under SRC (default /work/arc-data), copied to OUT first
# (arc_compare writes beside the model; SRC is never written).
#
#   alternate.sh OUT ROUNDS "OLD_BIN OLD_ARGS" "NEW_BIN NEW_ARGS" ROW...
#   e.g. alternate.sh /tmp/x 3 "old/arc_compare --order 4" \
#        "target/release/examples/arc_compare --order 4 --kappa4 factored" relu/n64/d4
set -euo pipefail
out=$1 rounds=$2 old=$3 new=$4
shift 4
src=${SRC:-/work/arc-data}
py=${CORRFLOW_PYTHON:-/work/arc-venv/bin/python}
meta() { # FILE -> "cpu_ms wall_ms"
  "$py" -c 'import json,struct,sys
f=open(sys.argv[1],"rb"); n=struct.unpack("<Q",f.read(8))[0]; m=json.loads(f.read(n))["__metadata__"]
print("%.2f %.2f" % (1e3*float(m[sys.argv[2]]), 1e3*float(m[sys.argv[3]])))' "$1" cpu_seconds seconds
}
for row in "$@"; do
  mkdir -p "$out/$row"
  cp "$src/$row/model.safetensors" "$src/$row/config.json" "$out/$row/"
done
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg); RAYON_NUM_THREADS=1"
echo "round row old_cpu_ms old_wall_ms new_cpu_ms new_wall_ms"
for r in $(seq 1 "$rounds"); do
  for row in "$@"; do
    line="$r $row"
    for cmd in "$old" "$new"; do
      o=$(RAYON_NUM_THREADS=1 $cmd "$out/$row/model.safetensors" | awk '{print $1}')
      line="$line $(meta "$o")"
    done
    echo "$line"
  done
done
echo "# $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
