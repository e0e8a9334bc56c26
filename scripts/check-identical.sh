#!/usr/bin/env bash
# Compares the outputs of two corrflow binaries byte for byte: train (JSON, text, the model
# file), train --objective cumulants, propagate (JSON, text), analyze (JSON, text tables,
# --report folder's report.md and report.json), analyze on MNIST, and sweeps on XOR and MNIST
# (records and CSV export); f32 training on XOR and MNIST, propagate on MNIST.
#
#   scripts/check-identical.sh OLD_BIN NEW_BIN      (MNIST_DIR defaults to ../shared/mnist)
#
# Ignored, being wall-clock timings or the command line itself:
#   - JSON "wall_seconds" values (train, propagate, analyze, report.json, sweep records);
#   - the text lines "wall time … s";
#   - the CSV column wall_seconds of `sweep export`;
#   - the "| command | … |" row of report.md (it holds the binary's path);
#   - the order of the lines of a sweep's results.jsonl: points run in parallel append as they
#     finish (the lines are compared sorted; `sweep export` orders by grid index itself);
#   - the key order of a model file's safetensors header: the safetensors crate writes its
#     metadata map in HashMap order, which differs between two runs of the same binary; model
#     files are compared as (header parsed as JSON, tensor bytes), both exactly;
#   - the metadata keys corrflow.data and corrflow.preprocess of a model file that only the NEW
#     binary writes (issue #12: the data source and preprocessing a model was trained with).
# Exits 1 on the first difference (printing a diff), 0 when everything matches.
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

# Blanks the timing fields listed above.
untime() {
    sed -E -e 's/("wall_seconds": ?)[-0-9.eE+naNinf]+/\1T/g' \
        -e 's/^(wall time +)[0-9.]+ s$/\1T s/' \
        -e '/^\| command \|/d'
}

# run NAME ARGS…: runs both binaries in their own folder, stdout to NAME.out (untimed).
run() {
    local name=$1
    shift
    for side in old new; do
        local bin=$OLD
        [ "$side" = new ] && bin=$NEW
        (cd "$WORK/$side" && "$bin" "$@" 2>"$name.err" | untime >"$name.out")
    done
    same "$name.out"
}

# same FILE: FILE must be identical under old/ and new/.
same() {
    if [ ! -s "$WORK/old/$1" ]; then
        echo "EMPTY: $1 (the old binary wrote nothing)" >&2
        exit 1
    fi
    if ! cmp -s "$WORK/old/$1" "$WORK/new/$1"; then
        echo "DIFFERENT: $1" >&2
        diff "$WORK/old/$1" "$WORK/new/$1" | head -40 >&2
        exit 1
    fi
    echo "same: $1"
}

# same_model FILE: the model files under old/ and new/ have equal headers (as JSON values) and
# identical tensor bytes.
same_model() {
    if ! python3 - "$WORK/old/$1" "$WORK/new/$1" <<'PY'; then
import json, struct, sys
def parts(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    for key in ("corrflow.data", "corrflow.preprocess"):
        head.get("__metadata__", {}).pop(key, None)
    return head, raw[8 + n:]
sys.exit(0 if parts(sys.argv[1]) == parts(sys.argv[2]) else 1)
PY
        echo "DIFFERENT: $1" >&2
        exit 1
    fi
    echo "same: $1"
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
for f in report/report.md report/report.json; do
    for side in old new; do untime <"$WORK/$side/$f" >"$WORK/$side/$f.untimed"; done
    same "$f.untimed"
done
run analyze-model.json analyze --task xor --model m.safetensors --json
run analyze-higher-order.json analyze --task higher-order --n-train 2000 --epochs 5 --json
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
        untime <"$WORK/$side/sweep-$grid/results.jsonl" | sort >"$WORK/$side/sweep-$grid.jsonl"
        csv_untimed "$WORK/$side/sweep-$grid.csv" >"$WORK/$side/sweep-$grid.untimed.csv"
    done
    same "sweep-$grid.jsonl"
    same "sweep-$grid.untimed.csv"
done
echo "all outputs identical (timings ignored)"
