#!/usr/bin/env bash
# Byte-for-byte comparison of two corrflow binaries on train, propagate --json, analyze --json
# and a small sweep, on XOR and MNIST: a restructuring must leave every output unchanged.
#   scripts/compare-outputs.sh OLD_BINARY NEW_BINARY [MNIST_DIR]
# Model files are compared tensor by tensor with their metadata. Fields that measure time (keys containing "time", "seconds", "wall" or "elapsed") are dropped
# from JSON lines before the comparison; everything else must match exactly.
set -euo pipefail
old=$1
new=$2
mnist=${3:-${MNIST_DIR:-/work/shared/mnist}}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0

strip_times() {
    python3 -c '
import json, sys
def clean(v):
    if isinstance(v, dict):
        return {k: clean(x) for k, x in v.items()
                if not any(t in k.lower() for t in ("time", "seconds", "wall", "elapsed"))}
    if isinstance(v, list):
        return [clean(x) for x in v]
    return v
text = sys.stdin.read()
try:
    docs = [json.loads(text)]
except json.JSONDecodeError:
    docs = []
    for line in text.splitlines():
        try:
            docs.append(json.loads(line))
        except json.JSONDecodeError:
            docs.append(line)
for d in docs:
    print(d if isinstance(d, str) else json.dumps(clean(d), sort_keys=True, indent=1))
'
}

# run NAME ARGS…: runs both binaries (model paths under $work/{old,new}/), compares stdout.
run() {
    local name=$1
    shift
    for side in old new; do
        local bin=${!side}
        mkdir -p "$work/$side"
        (cd "$work/$side" && "$bin" "$@" >"$work/$side/$name.out" 2>"$work/$side/$name.err") ||
            { echo "FAIL $name ($side exited non-zero)"; cat "$work/$side/$name.err"; status=1; }
        strip_times <"$work/$side/$name.out" >"$work/$side/$name.cmp"
    done
    if cmp -s "$work/old/$name.cmp" "$work/new/$name.cmp"; then
        echo "same $name"
    else
        echo "DIFF $name"
        diff "$work/old/$name.cmp" "$work/new/$name.cmp" | head -20 || true
        status=1
    fi
}

# Model files: the same tensors, bytes and metadata (the header's key order is not fixed).
same_file() {
    if python3 - "$work/old/$1" "$work/new/$1" <<'PY'
import json, struct, sys
def load(path):
    raw = open(path, "rb").read()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]
sys.exit(0 if load(sys.argv[1]) == load(sys.argv[2]) else 1)
PY
    then echo "same file $1"; else echo "DIFF file $1"; status=1; fi
}

run train_xor train --task xor --json --out xor.st
same_file xor.st
run train_xor_f32 train --task xor --precision f32 --json --out xor32.st
same_file xor32.st
run train_xor_f32_relu train --task xor --precision f32 --activation relu --json --out xor32r.st
same_file xor32r.st
run train_xor_f32_tanh train --task xor --precision f32 --activation tanh --json --out xor32t.st
same_file xor32t.st
run train_xor_cumulants train --task xor --objective cumulants --json --out xorc.st
same_file xorc.st
run propagate_xor propagate --task xor --model xor.st --json
run propagate_xor_k3k4 propagate --task xor --model xor.st --corrections k3k4 --json
run analyze_xor analyze --task xor --json
run train_mnist train --task mnist --mnist-dir "$mnist" --epochs 2 --json --out mnist.st
same_file mnist.st
run train_mnist_f32 train --task mnist --mnist-dir "$mnist" --epochs 1 --precision f32 --json --out mnist32.st
same_file mnist32.st
run propagate_mnist propagate --task mnist --mnist-dir "$mnist" --model mnist.st --json
run analyze_mnist analyze --task mnist --mnist-dir "$mnist" --json
cat >"$work/grid.toml" <<'TOML'
task = "xor"
n_train = 1000
epochs = 5
hidden = [[8], [8, 8]]
activation = ["quad:0.5", "relu"]
TOML
for side in old new; do
    bin=${!side}
    "$bin" sweep --grid "$work/grid.toml" --out "$work/$side/sweep" >/dev/null 2>&1 ||
        { echo "FAIL sweep ($side)"; status=1; }
    strip_times <"$work/$side/sweep/results.jsonl" | sort >"$work/$side/sweep.cmp"
done
if cmp -s "$work/old/sweep.cmp" "$work/new/sweep.cmp"; then echo "same sweep"; else
    echo "DIFF sweep"; diff "$work/old/sweep.cmp" "$work/new/sweep.cmp" | head -20 || true; status=1; fi
exit $status
