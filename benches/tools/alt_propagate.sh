#!/bin/bash
# Old/new `corrflow propagate` (or `analyze`) alternated run by run (BENCHMARKS.md, "Performance
# II: whole runs on Zen 5, eleventh session" and "analyze on Zen 5, twelfth session"): per run
# the process CPU time (user, sys), page faults and peak RSS from /usr/bin/time and, from
# --timings, the comparison stage's seconds (propagate) or the data load's and the class
# analyses' seconds and the CPU seconds of the data load, forward pass + statistics, Monte
# Carlo argmax, class analyses and total (analyze, whose JSON report is kept as
# OUTDIR/VERSION-ROUND-tTHREADS.json to compare the two binaries' outputs).
# usage: alt_propagate.sh OLD_BIN NEW_BIN MODEL ROUNDS THREADS OUTDIR [propagate|analyze]
# (MNIST_DIR must be set; the command defaults to propagate)
set -eu
old=$1 new=$2 model=$3 rounds=$4 threads=$5 out=$6 cmd=${7:-propagate}
case $cmd in
  propagate) json=() ;;
  analyze) json=(--json) ;;
  *) echo "unknown command $cmd: propagate or analyze" >&2; exit 2 ;;
esac
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for v in old new; do
    bin=$old; [ "$v" = new ] && bin=$new
    tag="$out/$v-$r-t$threads"
    /usr/bin/time -f "%U %S %R %M" -o "$tag.time" "$bin" "$cmd" --threads "$threads" \
      --model "$model" --task mnist --mnist-dir "$MNIST_DIR" --timings "${json[@]}" \
      > "$tag.$([ "$cmd" = analyze ] && echo json || echo out)" 2> "$tag.err"
    if [ "$cmd" = analyze ]; then
      stages="data_s $(awk '/^data load/ {print $4}' "$tag.err")"
      stages="$stages class_analyses_s $(awk '/^surrogates/ {print $7}' "$tag.err")"
      # process CPU seconds (--timings' last column) of the data load, the forward pass +
      # statistics, the Monte Carlo argmax, the class analyses and the whole recorded run
      stages="$stages cpu_s $(awk '/^(data load|forward pass|Monte Carlo|surrogates|total)/ \
        {printf "%s ", $NF}' "$tag.err")"
    else
      stages="comparison_s $(awk '/^comparison/ {print $3}' "$tag.err")"
    fi
    echo "$(date -u +%T) load $(cut -d' ' -f1 /proc/loadavg) $v round $r threads $threads" \
      "user/sys/faults/rssKB $(cat "$tag.time") $stages"
  done
done
