#!/bin/bash
# Old/new `corrflow propagate` alternated run by run (BENCHMARKS.md, "Performance II: whole
# runs on Zen 5, eleventh session"): per run the process CPU time (user, sys), page faults and
# peak RSS from /usr/bin/time, and the comparison stage's seconds from --timings.
# usage: alt_propagate.sh OLD_BIN NEW_BIN MODEL ROUNDS THREADS OUTDIR   (MNIST_DIR must be set)
set -eu
old=$1 new=$2 model=$3 rounds=$4 threads=$5 out=$6
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    bin=$old; [ "$v" = new ] && bin=$new
    tag="$out/$v-$r-t$threads"
    /usr/bin/time -f "%U %S %R %M" -o "$tag.time" "$bin" propagate --threads "$threads" \
      --model "$model" --task mnist --mnist-dir "$MNIST_DIR" --timings > "$tag.out" 2> "$tag.err"
    cmp=$(awk '/^comparison/ {print $3}' "$tag.err")
    echo "$(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) $v round $r threads $threads" \
      "user/sys/faults/rssKB $(cat "$tag.time") comparison_s $cmp"
  done
done
