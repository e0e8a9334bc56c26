#!/bin/bash
# Where `arc_compare` spends its propagation time (BENCHMARKS.md, "Order 3 and order 2 at n = 64:
# where the time goes, twelfth session"): one process runs MODEL REPEATS times (each time a warm-up
# and up to 5 timed runs), so that the one-time rule build (`ChaosRule::build`, ~0.1–0.2 s CPU,
# cached for the process) is a small share; `perf record` samples it with DWARF call graphs, 1
# thread. Prints each function's inclusive samples as a share of `Propagator::run_layers` (the
# propagation), largest first, for corrflow's functions (those outside the propagation — the model
# load, `Propagator::run` — left out), and perf's count of lost samples if it lost any.
# usage: profile_arc.sh ARC_COMPARE MODEL REPEATS OUTDIR [arc_compare flags…]
#   e.g. profile_arc.sh target/release/examples/arc_compare /tmp/x/relu/n64/d8/model.safetensors 20 /tmp/x/prof --order 3 --kappa3 factored
# MODEL's directory receives arc_compare's output file (run it on a copy of the ARC case).
set -eu
bin=$1 model=$2 repeats=$3 out=$4
shift 4
mkdir -p "$out"
models=()
for _ in $(seq 1 "$repeats"); do models+=("$model"); done
RAYON_NUM_THREADS=1 perf record -q -F 2000 --call-graph dwarf,32768 -o "$out/perf.data" \
  "$bin" "$@" "${models[@]}" > "$out/arc_compare.out"
perf report -i "$out/perf.data" --children --stdio -g none --percent-limit 0.5 2> "$out/report.err" \
  | awk '$1 ~ /%$/ && $0 ~ /corrflow::/ {
      pct = $1; sub(/%/, "", pct); name = $0; sub(/.*\[\.\] /, "", name)
      if (name ~ /Propagator::run_layers$/) total = pct
      if (!(name in seen)) { seen[name] = 1; names[++k] = name; share[name] = pct }
    }
    END {
      if (total == 0) { print "no samples in Propagator::run_layers" > "/dev/stderr"; exit 1 }
      for (i = 1; i <= k; i++) {
        n = names[i]
        if (n ~ /run_layers|Timings::time|ChaosRule::build|diagrams::|Carry::new|from_gaussian|Carry::factored|model_io::|io::limit::|Propagator::run$|split::on_pool/) continue
        printf "%5.1f %%  %s\n", 100 * share[n] / total, n
      }
    }' | head -40
grep -h "lost" "$out/report.err" || true
