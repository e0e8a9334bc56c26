#!/usr/bin/env bash
# Compares the outputs of two corrflow binaries: train (JSON, text, the model file), train
# --objective cumulants, propagate (JSON, text), analyze (JSON, text tables, --report folder's
# report.md and report.json), analyze on MNIST, and sweeps on XOR and MNIST (records and CSV
# export); f32 training on XOR and MNIST, propagate on MNIST.
#
#   scripts/check-identical.sh OLD_BIN NEW_BIN      (MNIST_DIR defaults to ../shared/mnist)
#
# What is compared:
#   - text outputs (and report.md) byte for byte;
#   - JSON outputs (stdout of --json, report.json, each record of a sweep's results.jsonl) as
#     JSON values, exactly (numbers as parsed, so key order and spacing do not count);
#   - model files as (the tensors' names, dtypes, shapes and bytes; the metadata), where every
#     metadata key the NEW binary writes must be in the old file with the same value, and the
#     records corrflow.data and corrflow.preprocess (JSON objects) key by key: every key of the
#     NEW record must be in the old one with the same value.
# Skipped, and listed at the end (they are changes of form, not of results):
#   - JSON "wall_seconds" values (train, propagate, analyze, report.json, sweep records), the
#     text lines "wall time … s", the CSV column wall_seconds of `sweep export`, the
#     "| command | … |" row of report.md (it holds the binary's path);
#   - the order of the lines of a sweep's results.jsonl (points run in parallel append as they
#     finish; the records are matched by grid index; `sweep export` orders by index itself);
#   - keys of a JSON output only the NEW binary writes (a note, a new field);
#   - metadata keys and record keys only the OLD model file holds (a record the new binary writes
#     without a setting its task does not read, twentieth session: XOR's record lost `skewed`,
#     higher-order's `sigma`), and a record the OLD binary did not write at all (issue #12).
# Every difference is printed (with a diff) and the comparison goes on; exits 1 when any output
# differs, 0 when everything compared matches.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 OLD_BIN NEW_BIN" >&2
    exit 2
fi
OLD=$(realpath "$1")
NEW=$(realpath "$2")
MNIST=${MNIST_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/shared/mnist}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/old" "$WORK/new"
SKIPPED=$WORK/skipped
DIFFERENT=$WORK/different
: >"$SKIPPED"
: >"$DIFFERENT"

# Blanks the timing fields of text outputs listed above.
untime() {
    sed -E -e 's/("wall_seconds": ?)[-0-9.eE+naNinf]+/\1T/g' \
        -e 's/^(wall time +)[0-9.]+ s$/\1T s/' \
        -e '/^\| command \|/d'
}

# compare KIND FILE: the Python comparison of old/FILE and new/FILE (KIND json, jsonl or model);
# prints what it skipped to $SKIPPED and what differs to stderr.
compare() {
    python3 - "$1" "$WORK/old/$2" "$WORK/new/$2" "$2" "$SKIPPED" <<'PY'
import json, struct, sys
kind, old_path, new_path, name, skipped_path = sys.argv[1:]
skipped, diffs = [], []

def strip_times(x):
    if isinstance(x, dict):
        return {k: strip_times(v) for k, v in x.items() if k != "wall_seconds"}
    if isinstance(x, list):
        return [strip_times(v) for v in x]
    return x

def same(old, new, path):
    """Compares two JSON values; keys only `new` has are skipped, keys only `old` has differ."""
    if isinstance(old, dict) and isinstance(new, dict):
        for k in new:
            if k not in old:
                skipped.append(f"{path}.{k} (only the new binary writes it)")
            else:
                same(old[k], new[k], f"{path}.{k}")
        for k in old:
            if k not in new:
                diffs.append(f"{path}.{k}: dropped by the new binary (old {json.dumps(old[k])[:80]})")
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            same(a, b, f"{path}[{i}]")
    elif type(old) is not type(new) or old != new:
        diffs.append(f"{path}: old {json.dumps(old)[:80]}, new {json.dumps(new)[:80]}")

def model(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    return head.pop("__metadata__", {}), head, raw[8 + n:]

RECORDS = ("corrflow.data", "corrflow.preprocess")
if kind == "model":
    (om, oh, ob), (nm, nh, nb) = model(old_path), model(new_path)
    if oh != nh:
        diffs.append("tensor names, dtypes, shapes or offsets differ")
    if ob != nb:
        diffs.append("tensor bytes differ")
    for k, v in nm.items():
        if k not in om:
            skipped.append(f"metadata {k} (only the new binary writes it)")
        elif k in RECORDS:
            old_rec, new_rec = json.loads(om[k]), json.loads(v)
            for rk in new_rec:
                if rk not in old_rec:
                    diffs.append(f"metadata {k}.{rk}: not in the old record (new {json.dumps(new_rec[rk])})")
                elif old_rec[rk] != new_rec[rk]:
                    diffs.append(f"metadata {k}.{rk}: old {json.dumps(old_rec[rk])}, new {json.dumps(new_rec[rk])}")
            for rk in old_rec:
                if rk not in new_rec:
                    skipped.append(f"metadata {k}.{rk} = {json.dumps(old_rec[rk])} (only the old record holds it)")
        elif om[k] != v:
            diffs.append(f"metadata {k}: old {om[k][:80]!r}, new {v[:80]!r}")
    for k in om:
        if k not in nm:
            skipped.append(f"metadata {k} (only the old file holds it)")
elif kind == "json":
    try:
        new_value = json.load(open(new_path))
    except ValueError as e:
        diffs.append(f"the new output is not JSON ({e})")
    else:
        same(strip_times(json.load(open(old_path))), strip_times(new_value), "")
else:  # jsonl: the records of a sweep, matched by grid index
    def records(path):
        out = {}
        for line in open(path):
            if line.strip():
                r = strip_times(json.loads(line))
                out[r.get("index")] = r
        return out
    o, n = records(old_path), records(new_path)
    if sorted(o, key=str) != sorted(n, key=str):
        diffs.append(f"grid indices: old {sorted(o, key=str)}, new {sorted(n, key=str)}")
    for i in o:
        if i in n:
            same(o[i], n[i], f"[index {i}]")
with open(skipped_path, "a") as f:
    for s in dict.fromkeys(skipped):
        f.write(f"{s}\t{name}\n")
for d in diffs[:40]:
    print(f"  {d}", file=sys.stderr)
sys.exit(1 if diffs else 0)
PY
}

# differ FILE: records FILE as different (after the details were printed).
differ() {
    echo "DIFFERENT: $1" >&2
    echo "$1" >>"$DIFFERENT"
}

# run NAME ARGS…: runs both binaries in their own folder, stdout to NAME.out, and compares it.
run() {
    local name=$1
    shift
    for side in old new; do
        local bin=$OLD
        [ "$side" = new ] && bin=$NEW
        (cd "$WORK/$side" && "$bin" "$@" 2>"$name.err" >"$name.out") || true
    done
    same "$name.out"
}

# same FILE: FILE must match under old/ and new/: as JSON when the old one is a JSON object,
# else byte for byte less the timing fields.
same() {
    if [ ! -s "$WORK/old/$1" ]; then
        echo "EMPTY: $1 (the old binary wrote nothing: $(head -c 200 "$WORK/old/${1%.out}.err" 2>/dev/null))" >&2
        echo "$1" >>"$DIFFERENT"
        return
    fi
    if [ "$(head -c 1 "$WORK/old/$1")" = "{" ]; then
        if compare json "$1"; then echo "same: $1"; else differ "$1"; fi
        return
    fi
    for side in old new; do untime <"$WORK/$side/$1" >"$WORK/$side/$1.untimed"; done
    if cmp -s "$WORK/old/$1.untimed" "$WORK/new/$1.untimed"; then
        echo "same: $1"
    else
        diff "$WORK/old/$1.untimed" "$WORK/new/$1.untimed" | head -40 >&2 || true
        differ "$1"
    fi
}

# same_model FILE: the model files under old/ and new/ have the same tensors and metadata
# (records key by key, as described above).
same_model() {
    if compare model "$1"; then echo "same: $1"; else differ "$1"; fi
}

# csv_untimed FILE: FILE without its wall_seconds column.
csv_untimed() {
    python3 - "$1" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
drop = rows[0].index("wall_seconds") if rows and "wall_seconds" in rows[0] else None
w = csv.writer(sys.stdout, lineterminator="\n")
for r in rows:
    w.writerow([c for i, c in enumerate(r) if i != drop])
PY
}

run train-xor.json train --task xor --json --out m.safetensors
same_model m.safetensors
run train-xor.txt train --task xor --out m-text.safetensors
same_model m-text.safetensors
run train-cumulants.json train --task xor --objective cumulants --json --out mc.safetensors
same_model mc.safetensors
run train-sgd-f32.json train --task xor --optimizer SGD --precision f32 --hidden 8,8 --activation relu --epochs 5 --json --out ms.safetensors
same_model ms.safetensors
run train-f32-relu.json train --task xor --precision f32 --activation relu --json --out m32r.safetensors
same_model m32r.safetensors
run train-f32-tanh.json train --task xor --precision f32 --activation tanh --json --out m32t.safetensors
same_model m32t.safetensors
run propagate.json propagate --task xor --model m.safetensors --json
run propagate.txt propagate --task xor --model m.safetensors
run propagate-k3k4.json propagate --task xor --model m.safetensors --corrections k3k4 --closure hermite --from-layer 1 --on train --json
run analyze.json analyze --task xor --json
run analyze.txt analyze --task xor --report report
same report/report.md
same report/report.json
run analyze-model.json analyze --task xor --model m.safetensors --json
run analyze-higher-order.json analyze --task higher-order --n-train 2000 --epochs 5 --json
run train-higher-order.json train --task higher-order --n-train 2000 --epochs 2 --json --out mh.safetensors
same_model mh.safetensors
run propagate-higher-order.json propagate --model mh.safetensors --json
run analyze-mnist.json analyze --task mnist --mnist-dir "$MNIST" --json
run train-mnist.json train --task mnist --mnist-dir "$MNIST" --epochs 2 --json --out mn.safetensors
same_model mn.safetensors
run train-mnist-f32.json train --task mnist --mnist-dir "$MNIST" --epochs 1 --precision f32 --json --out mn32.safetensors
same_model mn32.safetensors
run propagate-mnist.json propagate --task mnist --mnist-dir "$MNIST" --model mn.safetensors --json

cat >"$WORK/xor.toml" <<'TOML'
task = "xor"
n_train = 1000
epochs = 5
loss = "MSE"
activation = ["relu", "QUAD:0.5"]
TOML
cat >"$WORK/mnist.toml" <<TOML
task = "mnist"
mnist_dir = "$MNIST"
train_limit = 2000
epochs = 1
hidden = [[32]]
mc_samples = 2000
TOML
for grid in xor mnist; do
    for side in old new; do
        bin=$OLD
        [ "$side" = new ] && bin=$NEW
        (cd "$WORK/$side" && "$bin" sweep --grid "$WORK/$grid.toml" --out "sweep-$grid" 2>/dev/null &&
            "$bin" sweep export "sweep-$grid" --csv "sweep-$grid.csv" 2>/dev/null)
        csv_untimed "$WORK/$side/sweep-$grid.csv" >"$WORK/$side/sweep-$grid.untimed.csv"
    done
    if compare jsonl "sweep-$grid/results.jsonl"; then echo "same: sweep-$grid/results.jsonl"; else differ "sweep-$grid/results.jsonl"; fi
    same "sweep-$grid.untimed.csv"
done
if [ -s "$SKIPPED" ]; then
    echo "skipped (not compared; see the header of $0):"
    python3 - "$SKIPPED" <<'PY'
import sys
files = {}
for line in open(sys.argv[1]):
    what, name = line.rstrip("\n").split("\t")
    files.setdefault(what, []).append(name)
for what, names in files.items():
    print(f"  {what}: {', '.join(names)}")
PY
fi
echo "skipped everywhere: wall_seconds, the text lines 'wall time', report.md's command row, the order of results.jsonl's lines"
if [ -s "$DIFFERENT" ]; then
    echo "$(wc -l <"$DIFFERENT") outputs differ: $(tr '\n' ' ' <"$DIFFERENT")" >&2
    exit 1
fi
echo "all outputs compared are identical"
