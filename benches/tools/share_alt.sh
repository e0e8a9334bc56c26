#!/bin/bash
# share_alt.sh OLD NEW [ROUNDS]: issue #14 item 2's whole-run share, two binaries alternated run
# by run. Each round runs OLD then NEW, each `--threads 2 analyze --model $M100` and
# `--threads 2 propagate --model $M1000` on MNIST with --timings, and prints the command's wall
# seconds and the run's own "this run: … % of this machine's GEMM" line.
#   M100  = a 784-100-100-10 relu model  (corrflow train --task mnist --hidden 100,100 --out …)
#   M1000 = a 784-1000-1000-10 relu model (… --hidden 1000,1000 --epochs 5 --out …)
#   MNIST_DIR = the IDX folder (../shared/mnist); CMDS = "analyze propagate" (default) or one.
set -euo pipefail
OLD=$1; NEW=$2; R=${3:-5}
: "${M100:?set M100 to the 784-100-100-10 model}" "${M1000:?set M1000 to the 784-1000-1000-10 model}"
: "${MNIST_DIR:?set MNIST_DIR}"
for r in $(seq 1 "$R"); do
  for b in OLD NEW; do
    bin=${!b}
    for c in ${CMDS:-analyze propagate}; do
      case $c in analyze) m=$M100 ;; propagate) m=$M1000 ;; *) echo "CMDS: $c?" >&2; exit 2 ;; esac
      s=$(date +%s.%N)
      line=$("$bin" --threads 2 "$c" --model "$m" --task mnist --mnist-dir "$MNIST_DIR" --timings 2>&1 >/dev/null | grep "^this run" || true)
      e=$(date +%s.%N)
      printf '%s %s wall %.3f | %s\n' "$b" "$c" "$(echo "$e - $s" | bc)" "$line"
    done
  done
done
