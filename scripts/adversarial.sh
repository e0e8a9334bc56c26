#!/usr/bin/env bash
# Adversarial campaign of issue #13: absurd sizes for each numeric flag, FIFOs/folders/devices/
# symlinks for each path flag, NaN/Inf/huge-weight models, degenerate data, kill -9 mid-write
# then rerun, bad grid values. Each run is bounded: `timeout 20` (LIMIT on a `check` line sets
# another, for a run whose normal time under load comes near 20 s) and 16 GiB of address space.
#
# usage: scripts/adversarial.sh BINARY [WORKDIR]        (MNIST_DIR: the MNIST IDX folder)
#
# Counts (printed at the end, one line per failing run above them):
#   panics     exit 101, abort (134), any other signal but the timeout's, or "panicked" on stderr
#   hangs      killed by the 20 s timeout
#   rss>4G     peak resident memory over 4 GiB (getrusage through /usr/bin/time)
#   nonfinite  exit 0 with NaN/inf printed, or null for a float key that is never null by design,
#              or a JSON output (stdout starting with '{') that a strict parser refuses
#   unnamed    a refusal (exit ≠ 0) whose message does not name the flag, file or grid key at fault
#   refused    (section 8) a run that must succeed (EXPECT "+") and did not
#   ignored    (section 11) a run that must be refused (EXPECT "!TEXT": refused naming TEXT)
#              and succeeded: a flag, grid key or record ignored without a word
#   implausible (section 9 on) a JSON output that scripts/json-plausible.py refuses: a
#              probability outside [0, 1], a confusion row not summing to 1, an accuracy that
#              disagrees with its per-class terms or with the counts
#   clobbered  an output path that was a FIFO, symlink or folder is something else afterwards
#   debris     temporary files left after kill -9 mid-write and a rerun; (section 8) temporary
#              files or partial outputs left by SIGINT/SIGTERM mid-write, a full disk, ulimit -f;
#              (section 10) a merge's folder left by a failed write
#
# PRE (a shell command run before the binary, e.g. "ulimit -f 64") and environment variables
# set on a `check` line apply to that run only.
set -u
BIN=$(realpath "$1")
W=${2:-$(mktemp -d)}
mkdir -p "$W"
# A WORKDIR that holds files (an earlier run's: its sections' data, models, tampered sweep
# folders) is not reused: the run works in a fresh folder inside it, so that no section sees
# another run's files (scale67). Within a run the sections share data through the prologue's
# functions below.
if [ -n "$(ls -A "$W")" ]; then
  W=$(mktemp -d "$W/run.XXXXXX")
  echo "WORKDIR holds files: this run works in $W" >&2
fi
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH=$ROOT/scripts${PYTHONPATH:+:$PYTHONPATH}  # `from npy import npy` (scripts/npy.py)
MNIST=${MNIST_DIR:-/work/shared/mnist}
FIX=$ROOT/fixtures/idx
HUGE=4611686018427387904
runs=0 panics=0 hangs=0 big=0 nonfinite=0 unnamed=0 clobbered=0 refused=0 implausible=0 ignored=0 debris=0

# check NAME EXPECT ARGS...: runs BIN ARGS; EXPECT is a text the message of a refusal must hold
# ("-" when the run may succeed, "+" when it must).
check() {
  local name=$1 expect=$2
  shift 2
  runs=$((runs + 1))
  (
    ulimit -v 16777216
    [ -n "${PRE:-}" ] && eval "$PRE"
    exec /usr/bin/time -f %M -o "$W/rss" timeout -s KILL "${LIMIT:-20}" "$BIN" "$@" >"$W/out" 2>"$W/err" </dev/null
  )
  local rc=$? rss
  rss=$(tail -n 1 "$W/rss" 2>/dev/null | tr -cd 0-9)
  local what=""
  if [ $rc -eq 137 ] || [ $rc -eq 124 ]; then
    hangs=$((hangs + 1)); what="hang"
  elif [ $rc -eq 101 ] || [ $rc -gt 128 ] || grep -q panicked "$W/err"; then
    panics=$((panics + 1)); what="panic/abort (rc $rc)"
  fi
  if [ -n "$rss" ] && [ "$rss" -gt 4194304 ]; then
    big=$((big + 1)); what="$what rss ${rss} KiB"
  fi
  # A null for one of these keys counts, except in a budget's `shares` and `withheld` (null by
  # design: a total that cannot be told from 0, and a share given; `analysis::budget`).
  if [ $rc -eq 0 ] && { grep -Eq '(NaN|-?inf\b)' "$W/out" || { [ "$(head -c 1 "$W/out")" = "{" ] && ! python3 -c 'import json, sys
keys = {"cov_rel_err", "mean_err", "test_accuracy", "train_accuracy", "final_loss", "loss", "accuracy",
        "network_accuracy", "mean_term", "cov_term", "gap_from_input", "gap_from_layer1"}
def ok(x, shares=False):
    if isinstance(x, dict):
        return all((v is not None or k not in keys or shares) and ok(v, shares or k in ("shares", "withheld")) for k, v in x.items())
    return all(ok(v, shares) for v in x) if isinstance(x, list) else True
try:
    sys.exit(0 if ok(json.load(open(sys.argv[1]))) else 1)
except ValueError:
    sys.exit(0)' "$W/out" 2>/dev/null; }; }; then
    nonfinite=$((nonfinite + 1)); what="$what non-finite printed"
  fi
  if [ $rc -eq 0 ] && [ "$(head -c 1 "$W/out")" = "{" ] && ! python3 -c 'import json, sys
json.load(open(sys.argv[1]), parse_constant=lambda c: sys.exit(1))' "$W/out" 2>/dev/null; then
    nonfinite=$((nonfinite + 1)); what="$what JSON a strict parser refuses"
  fi
  if [ $rc -eq 0 ] && [ "$(head -c 1 "$W/out")" = "{" ] && ! python3 "$ROOT/scripts/json-plausible.py" "$W/out" >"$W/plaus" 2>/dev/null; then
    implausible=$((implausible + 1)); what="$what implausible JSON: $(head -n 1 "$W/plaus")"
  fi
  if [ $rc -eq 0 ] && [ "${expect:0:1}" = "!" ]; then
    ignored=$((ignored + 1)); what="$what ran, not refused naming '${expect:1}'"
  fi
  [ "${expect:0:1}" = "!" ] && expect=${expect:1}
  if [ $rc -ne 0 ] && [ "$expect" = "+" ] && [ -z "$what" ]; then
    refused=$((refused + 1)); what="$what refused a valid run"
  elif [ $rc -ne 0 ] && [ "$expect" != "-" ] && [ -z "$what" ] && ! grep -qF -- "$expect" "$W/err"; then
    unnamed=$((unnamed + 1)); what="$what message does not name '$expect'"
  fi
  [ -n "$what" ] && printf '%-40s %s | %s\n' "$name" "$what" "$(head -c 160 "$W/err" | tr '\n' ' ')"
  return 0
}
XOR=(--task xor --epochs 1)
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n' >"$W/g0.toml"
"$BIN" --threads 1 sweep --grid "$W/g0.toml" --out "$W/sw0" >/dev/null 2>&1
OUT="$W/m.safetensors"
"$BIN" --threads 1 train "${XOR[@]}" --hidden 8 --out "$OUT" >/dev/null 2>&1
"$BIN" --threads 1 train --task mnist --mnist-dir "$MNIST" --train-limit 2000 --hidden 32 --epochs 1 \
  --out "$W/mnist.safetensors" >/dev/null 2>&1
MN=(--task mnist --mnist-dir "$MNIST")
# Helpers of several sections (defined here, not in the first section that used them, so that
# every section runs alone; adv65).
# kept TEST PATH: counts a clobbered output when PATH no longer passes `test TEST`.
kept() {
  if ! test "$1" "$2"; then
    clobbered=$((clobbered + 1))
    echo "clobbered: $2 is no longer $1"
  fi
}
# left DIR WHAT: counts as debris every corrflow temporary file in DIR, and removes them (so
# that a later count does not see them again).
left() {
  local n
  n=$(find "$1" -name '.corrflow-tmp-*' 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] && echo "$2: $n temporary files left in $1"
  find "$1" -name '.corrflow-tmp-*' -prune -exec rm -rf {} + 2>/dev/null
  debris=$((debris + n))
}
# signalled SIG DIR WHAT ARGS...: runs BIN ARGS (outputs in the empty folder DIR), sends SIG 0.5 s
# in, and counts as debris whatever is left in DIR.
signalled() {
  local sig=$1 dir=$2 what=$3 pid n
  shift 3
  rm -rf "$dir" && mkdir -p "$dir"
  env --default-signal="$sig" "$BIN" "$@" >/dev/null 2>&1 &
  pid=$!
  sleep 0.5
  kill -"$sig" $pid 2>/dev/null
  wait $pid 2>/dev/null
  runs=$((runs + 1))
  n=$(ls -A "$dir" | wc -l)
  [ "$n" -eq 0 ] || { debris=$((debris + n)); echo "$what: left $(ls -A "$dir" | tr '\n' ' ')"; }
}
long33() { # NAME: the last run's message is short, escape-free and holds no 10+-digit fraction
  local e=$W/err
  if [ "$(wc -c <"$e")" -gt 1500 ] || grep -q $'\x1b' "$e" || grep -Eq '[0-9]\.[0-9]{10,}' "$e"; then
    unnamed=$((unnamed + 1)); echo "$1: $(wc -c <"$e") bytes, escape or long digits: $(head -c 120 "$e" | tr -d '\033')"
  fi
}
# Data and models that several sections read (adv66). Each is written by a function that
# returns at once where its last file is there, called by the section that wrote it before
# and by each later section that reads it: a whole run writes what it wrote before, in the
# same place, and a section run alone writes what it needs. (A WORKDIR of an earlier run
# keeps that run's files: give an empty one.)
# Section 3's tanh network (sections 3, 12).
tanh3() { [ -s "$W/tanh.safetensors" ] || "$BIN" train --task xor --activation tanh --hidden 8 --epochs 20 --out "$W/tanh.safetensors" >/dev/null 2>&1; }
# Degenerate data (.npy; sections 9, 11–13, 26, 27): 3 blobs of 300 in 4 dimensions (base), a class of 2
# samples (two), a class of identical samples (ident), classes 0 and 1 identical (same01),
# class 2 absent (absent), one class (one), one sample (single), NaN at sample 512 and 1e200 at
# sample 513 of 1200 (batches of 512), 33 classes (c33), 1e200 in class 2 with class 0 absent
# (gap), a 1-output model; iris-like data for section 11 (3 classes of 50 in 4 features: irisconst
# a class whose every feature is constant, iristwin two identical classes, irisfeat a feature
# constant in one class only, irisall every class constant, irisone a class of one sample).
DG=$W/deg
dat() { echo --task data --train-x "$DG/base-x.npy" --train-y "$DG/base-y.npy" --test-x "$DG/$1-x.npy" --test-y "$DG/$1-y.npy"; }
deg() {
  [ -s "$DG/base.safetensors" ] && return
  mkdir -p "$DG"
  python3 - "$W/deg" <<'PY'
import random, sys
from npy import xy
d = sys.argv[1]
def save(name, counts, dim=4, shift=2.0, edit=None):
    rng = random.Random(name)
    x, y = [], []
    for c, n in enumerate(counts):
        for _ in range(n):
            x.append([rng.gauss(0, 1) + shift * c for _ in range(dim)])
            y.append(c)
    if edit:
        edit(x, y)
    xy(d, name, x, y, dim)
def ident(x, y):
    for i, c in enumerate(y):
        if c == 1:
            x[i] = list(x[300])
def same01(x, y):
    for i in range(300):
        x[300 + i] = list(x[i])
def at(pos, val):
    def edit(x, y):
        x[pos][1] = val
    return edit
save("base", [300, 300, 300]); save("two", [300, 300, 2]); save("ident", [300, 300, 300], edit=ident)
save("same01", [300, 300, 300], edit=same01); save("absent", [300, 300]); save("one", [300])
save("single", [1]); save("nan512", [400, 400, 400], edit=at(512, float("nan")))
save("big513", [400, 400, 400], edit=at(513, 1e200)); save("c33", [30] * 33, dim=6, shift=0.5)
save("gap", [0, 400, 400], edit=at(500, 1e200)); save("c150", [20] * 150)  # c150: section 26
rng = random.Random(11)
means = [[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]]
x = [[m + 0.3 * rng.gauss(0, 1) for m in means[c]] for c in range(3) for _ in range(50)]
y = [c for c in range(3) for _ in range(50)]
def isave(name, x, y):
    xy(d, name, x, y, 4)
isave("iris", x, y)
isave("irisconst", [list(x[100]) if c == 2 else r for r, c in zip(x, y)], y)
isave("iristwin", [list(x[i - 50]) if c == 1 else r for i, (r, c) in enumerate(zip(x, y))], y)
isave("irisfeat", [[5.0] + r[1:] if c == 0 else r for r, c in zip(x, y)], y)
isave("irisall", [list(means[c]) for c in y], y)
isave("irisone", x[:101], y[:101])
PY
  "$BIN" --threads 1 train $(dat base) --hidden 8 --epochs 5 --out "$DG/base.safetensors" >/dev/null 2>&1
}
# Section 14's data (.npy; sections 14, 15) and its tanh models m-F of data F, XOR models A of
# activation A.
D14=$W/d14
dd() { echo --task data --train-x "$D14/$1.npy" --train-y "$D14/y.npy" --test-split 0:150; }
data14() {
  [ -s "$D14/tiny.npy" ] && return
  mkdir -p "$D14"
  python3 - "$W/d14" <<'PY'
import random, struct, sys
from npy import npy, f8
d = sys.argv[1]
rng = random.Random(23)
y = [c for c in range(3) for _ in range(200)]
rng.shuffle(y)
x = [[rng.gauss(0, 1) + c for _ in range(4)] for c in y]
npy(f"{d}/y.npy", "<i8", (600,), b"".join(struct.pack("<q", c) for c in y))
for name, rows in [
    ("u100", [[v * 1e100 for v in r] for r in x]),
    ("huge", [[v * 1e150 for v in r] for r in x]),
    ("f1", [r[:1] for r in x]),
    ("const", [[r[0], 5.0, r[2], r[3]] for r in x]),
    ("allconst", [[1.0, 2.0, 3.0, 4.0] for _ in x]),
    ("dup", [x[y.index(c)] for c in y]),
    ("rank1", [[r[0], 2 * r[0], -r[0], 3 * r[0]] for r in x]),
    ("tiny", [[v * 1e-300 for v in r] for r in x]),
]:
    npy(f"{d}/{name}.npy", "<f8", (600, len(rows[0])), f8(rows))
PY
}
m14() { [ -s "$D14/m-$1.safetensors" ] || "$BIN" --threads 1 train $(dd "$1") --activation tanh --hidden 16,16 --epochs 2 --out "$D14/m-$1.safetensors" >/dev/null 2>&1; }
xor14() { [ -s "$D14/$1.safetensors" ] || "$BIN" --threads 1 train --task xor --activation "$1" --hidden 8,8 --epochs 3 --out "$D14/$1.safetensors" >/dev/null 2>&1; }
# Section 15's data (.npy; sections 15–17).
D15=$W/d15
d15() { echo --task data --train-x "$D15/$1-x.npy" --train-y "$D15/$1-y.npy" --test-x "$D15/$2-x.npy" --test-y "$D15/$2-y.npy"; }
data15() {
  [ -s "$D15/labneg-y.npy" ] && return
  mkdir -p "$D15"
  python3 - "$W/d15" <<'PY'
import random, struct, sys
from npy import xy
d = sys.argv[1]
rng = random.Random(24)
put = lambda name, x, y: xy(d, name, x, y)
y = [i % 3 for i in range(600)]
x = [[rng.gauss(0, 1) + c for _ in range(4)] for c in y]
put("base", x, y)
for k in (1, 2, 3):
    keep = [i for i, c in enumerate(y) if c != 2 or sum(1 for j in range(i + 1) if y[j] == 2) <= k]
    put(f"c2n{k}", [x[i] for i in keep], [y[i] for i in keep])
put("one", [r for r, c in zip(x, y) if c == 0], [0] * 200)
xn = [r[:] for r in x]; xn[5][1] = float("nan"); put("nan", xn, y)
xi = [r[:] for r in x]; xi[7][2] = float("inf"); put("inf", xi, y)
put("labbig", x, [c if i != 9 else 7 for i, c in enumerate(y)])
put("labneg", x, [c if i != 9 else -1 for i, c in enumerate(y)])
PY
}
# Section 20's data (.npy; sections 20–23), its tanh model t (read-outs and layer 2 scaled in
# r25, h25, r25b) and its higher-order quad:0.5 model hq.
D20=$W/d20
d20() { echo --task data --train-x "$D20/$1-x.npy" --train-y "$D20/$1-y.npy" --test-x "$D20/${2:-$1}-x.npy" --test-y "$D20/${2:-$1}-y.npy"; }
data20() {
  [ -s "$D20/r25b.safetensors" ] && return
  python3 - "$W" <<'PY'
import os, random, sys
from npy import blobs, xy
d = os.path.join(sys.argv[1], "d20")
os.makedirs(d, exist_ok=True)
rng = random.Random(29)
x, y = blobs(rng, [300, 300, 300]); xy(d, "base", x, y)
for s, name in ((1e150, "e150"), (1e-20, "em20")):
    xy(d, name, [[v * s for v in r] for r in x], y)
xy(d, "const", [[0.7] * 4 if c == 1 else r for r, c in zip(x, y)], y)
for n in (2, 3, 5):
    xy(d, f"n{n}", *blobs(rng, [n, n, n]))
xy(d, "dup5", [x[j % 5 + 300 * c] for j, c in enumerate(y)], y)
xy(d, "rank1", [[r[0]] * 4 for r in x], y)
for dim in (128, 129):
    yy = [c for c in range(3) for _ in range(100)]
    xy(d, f"f{dim}", [[rng.gauss(0, 1) + 0.3 * c for _ in range(dim)] for c in yy], yy)
PY
  "$BIN" --threads 1 train $(d20 base) --hidden 8,8 --activation tanh --epochs 3 --out "$D20/t.safetensors" >/dev/null 2>&1
  python3 - "$D20" <<'PY'
import json, struct, sys
d = sys.argv[1]
raw = open(f"{d}/t.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
def scaled(out, rules):
    data = bytearray(raw[8 + n:])
    for k, v in head.items():
        for which, s in rules:
            if k != "__metadata__" and which(k):
                a, b = v["data_offsets"]
                data[a:b] = struct.pack(f"<{(b - a) // 8}d", *[w * s for w in struct.unpack(f"<{(b - a) // 8}d", data[a:b])])
    open(f"{d}/{out}.safetensors", "wb").write(raw[:8 + n] + data)
nob = (lambda k: k.endswith("bias"), 0.0)
scaled("r25", [(lambda k: k == "readout.weight", 1e-25), nob])
scaled("h25", [(lambda k: k == "hidden2.weight", 1e-25), nob])
scaled("r25b", [(lambda k: k == "readout.weight", 1e-25)])
PY
}
hq20() { [ -s "$D20/hq.safetensors" ] || "$BIN" --threads 1 train --task higher-order --activation quad:0.5 --out "$D20/hq.safetensors" >/dev/null 2>&1; }
# Section 22's data (.npy; sections 22, 23) and its quad:0.5 and tanh models.
D22=$W/d22
d22() { echo --task data --train-x "$D22/$1-x.npy" --train-y "$D22/$1-y.npy" --test-x "$D22/${2:-$1}-x.npy" --test-y "$D22/${2:-$1}-y.npy"; }
data22() {
  [ -s "$D22/tanh.safetensors" ] && return
  python3 - "$W" <<'PY'
import os, random, sys
from npy import blobs, xy
d = os.path.join(sys.argv[1], "d22")
os.makedirs(d, exist_ok=True)
rng = random.Random(31)
x, y = blobs(rng, [200, 200, 200]); xy(d, "base", x, y)
for s, name in ((1e-60, "em60"), (1e150, "e150"), (1e151, "e151"), (1e152, "e152"), (1e153, "e153"), (1e-150, "em150"),
                (1e19, "e19"), (1e-19, "em19"), (1e-30, "em30"), (1e-48, "em48")):
    xy(d, name, [[v * s for v in r] for r in x], y)
xy(d, "const", [[0.7] * 4 if c == 1 else r for r, c in zip(x, y)], y)
xy(d, "tied", [x[j % 200] for j in range(600)], y)
keep = [j for j, c in enumerate(y) if c != 2 or j < 401]
xy(d, "c2n1", [x[j] for j in keep], [y[j] for j in keep])
keep = [j for j, c in enumerate(y) if c != 2 or j < 402]
xy(d, "c2n2", [x[j] for j in keep], [y[j] for j in keep])
xy(d, "one", [r for r, c in zip(x, y) if c == 0], [0] * 200)
PY
  for a in quad:0.5 tanh; do
    "$BIN" --threads 1 train $(d22 base) --hidden 8,8 --activation $a --epochs 3 --out "$D22/${a%%:*}.safetensors" >/dev/null 2>&1
  done
}
# Section 26's model edits (sections 26–28).
same26() { # NAME A B: every layer's cov_rel_err and mean_err of B within 1e-7 of A's (those above 1e-6)
  python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
bad = [x for x, y in zip(a, b) for f in ("cov_rel_err", "mean_err")
       if abs(x[f]) > 1e-6 and abs(x[f] - y[f]) > 1e-7 * abs(x[f])]
sys.exit(1 if bad or len(a) != len(b) else 0)' "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: errors not data x1's"; }
}
st26() { # SRC DST NAME FACTOR: DST = SRC with every f64 of the tensors named *NAME* times FACTOR
  python3 - "$@" <<'PY'
import json, struct, sys
src, dst, name, factor = sys.argv[1], sys.argv[2], sys.argv[3], eval(sys.argv[4])
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
d = bytearray(raw[8 + n:])
for k, v in head.items():
    if k != "__metadata__" and name in k:
        a, b = v["data_offsets"]
        for i in range(a, b, 8):
            d[i:i + 8] = struct.pack("<d", struct.unpack("<d", d[i:i + 8])[0] * factor)
open(dst, "wb").write(raw[:8 + n] + d)
PY
}
# Section 4's blobs (section 9's base) and 150 classes of 20 (sections 26, 27).
K26=($(dat base))
C26=(--task data --train-x "$DG/c150-x.npy" --train-y "$DG/c150-y.npy" --test-x "$DG/c150-x.npy" --test-y "$DG/c150-y.npy")
# Section 27's tanh model t, its read-outs x2^k in rk and its first layer x2^-1000 in h1m1000
# (sections 27, 28).
D27=$W/d27
tanh27() {
  [ -s "$D27/h1m1000.safetensors" ] && return
  mkdir -p "$D27"
  "$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden 8,8 --activation tanh --out "$D27/t.safetensors" >/dev/null 2>&1
  for k in -200 200 -520 -1000 520; do
    st26 "$D27/t.safetensors" "$D27/r$k.safetensors" readout. "2.0 ** $k"
  done
  st26 "$D27/t.safetensors" "$D27/h1m1000.safetensors" hidden1. "2.0 ** -1000"
}
# Section 13's sweep of three seeds: its grid g13r.toml, folder sw13r and a copy of its records
# r13.jsonl (sections 13, 14; section 14 ran only after 13 before scale67).
sweep13() {
  [ -s "$W/r13.jsonl" ] && return
  printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2, 3]\n' >"$W/g13r.toml"
  rm -rf "$W/sw13r" && "$BIN" --threads 1 sweep --grid "$W/g13r.toml" --out "$W/sw13r" >/dev/null 2>&1
  cp "$W/sw13r/results.jsonl" "$W/r13.jsonl"
}
# Sections 59 and 61's data: the suite's (cumtrain_corrected) 3-d sines, class 1 the cube of
# class 0's (skewed), 200 samples, written ×SCALE as DIR/NAME-x.npy and NAME-y.npy per pair.
sines59() { # DIR NAME SCALE [NAME SCALE …]
  python3 - "$@" <<'PYS'
import math, sys
from npy import xy
d = sys.argv[1]
y = [k % 2 for k in range(200)]
x = [[math.sin(1.7 * k + 2.3 * j + 0.5) for j in range(3)] for k in range(200)]
x = [[2.0 * v ** 3 for v in r] if c == 1 else r for r, c in zip(x, y)]
for name, s in zip(sys.argv[2::2], sys.argv[3::2]):
    xy(d, name, [[v * float(s) for v in r] for r in x], y)
PYS
}
# recorded_key NAME KEY WANT: the last run's --json records config.closure_check.KEY as WANT (any
# case; sections 60 and 62), else counted implausible.
recorded_key() {
  python3 -c 'import json, sys
got = json.load(open(sys.argv[1]))["config"]["closure_check"].get(sys.argv[2])
sys.exit(0 if str(got).lower() == sys.argv[3].lower() else 1)' "$W/out" "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: --json does not record $2 $3"; }
}
# refused_without_model MODEL NAME TEXT ARGS...: the run ARGS is refused naming TEXT and
# writes no MODEL (sections 60 and 62), else counted clobbered.
refused_without_model() {
  local model=$1 name=$2 text=$3
  shift 3
  rm -f "$model"
  check "$name" "!$text" "$@"
  [ -e "$model" ] && { clobbered=$((clobbered + 1)); echo "$name: a model was written"; }
}
# bound_setting_refused TAG FLAG "VALUES" ODD MODEL ARGS...: the correction bound's setting
# FLAG (sections 62 and 63) refused naming it, no MODEL written, for the run ARGS (cumulants,
# no --order) at --order 3|4 with each of VALUES where the bound is absent or off and with each
# entry of the array named ODD where it is on (α = 0.2), at --order 2 and with --objective
# samples; α with quad:0.5 and the first of VALUES refused naming --correction-bound.
bound_setting_refused() {
  local tag=$1 flag=$2 values=$3 model=$5 o v
  local -n odd_values=$4
  shift 5
  local first=${values%% *}
  for o in 3 4; do
    for v in $values; do
      refused_without_model "$model" "$tag --order $o $flag $v (no bound)" "$flag" "$@" --order $o --activation relu $flag $v
      refused_without_model "$model" "$tag --order $o --correction-bound off $flag $v" "$flag" "$@" --order $o --activation relu --correction-bound off $flag $v
    done
    for v in "${odd_values[@]}"; do
      refused_without_model "$model" "$tag --order $o $flag '$v'" "$flag" "$@" --order $o --activation relu --correction-bound 0.2 "$flag=$v"
    done
    refused_without_model "$model" "$tag --order $o quad:0.5 --correction-bound 0.2 $flag $first" "--correction-bound" "$@" --order $o --activation quad:0.5 --correction-bound 0.2 $flag $first
  done
  refused_without_model "$model" "$tag --order 2 $flag $first" "$flag" "$@" --activation relu $flag $first
  refused_without_model "$model" "$tag --objective samples $flag $first" "$flag" --threads 1 train "${XOR[@]}" --out "$model" $flag $first
}
# --- end of prologue: a section runs alone after the lines above (EXPERIMENTS.md, npy63) ---
# 1. Sizes.
for v in 18446744073709551615 100000000000; do check "epochs $v" --epochs train "${XOR[@]}" --epochs $v --out "$W/x"; done
for f in --n-train --n-test --dim --hidden --batch; do check "train $f 2^62" "$f" train "${XOR[@]}" $f $HUGE --out "$W/x"; done
check "skewed 2^62" --skewed train --task higher-order --epochs 1 --skewed $HUGE --out "$W/x"
for f in --batch --epochs; do check "train $f 0" "$f" train "${XOR[@]}" $f 0 --out "$W/x"; done
check "n-test 0" --n-test train "${XOR[@]}" --n-test 0 --out "$W/x"
check "n-train 0" --n-train train "${XOR[@]}" --n-train 0 --out "$W/x"
for v in nan inf -1 0; do check "lr $v" --lr train "${XOR[@]}" --lr=$v --out "$W/x"; done
for v in nan inf 1e308; do check "sigma $v" --sigma train "${XOR[@]}" --sigma=$v --out "$W/x"; done
for v in nan 1e308; do check "gain $v" --gain train "${XOR[@]}" --gain=$v --out "$W/x"; done
check "momentum nan" --momentum train "${XOR[@]}" --optimizer sgd --momentum=nan --out "$W/x"
check "gamma-shape 0" --gamma-shape train --task higher-order --epochs 1 --gamma-shape 0 --out "$W/x"
check "train-limit 0" --train-limit train "${MN[@]}" --train-limit 0 --out "$W/x"
check "threads 99999" --threads --threads 99999 train "${XOR[@]}" --out "$W/x"
check "analyze surrogate 2^62" --surrogate-samples analyze --model "$OUT" --task xor --surrogate-samples $HUGE
check "analyze mc 2^62" --mc-samples analyze --model "$OUT" --task xor --mc-samples $HUGE
check "analyze mc 0" --mc-samples analyze --model "$OUT" --task xor --mc-samples 0
check "analyze heatmap-layer 2^62" --heatmap-layer analyze --model "$OUT" --task xor --heatmap-layer $HUGE
check "propagate from-layer 2^62" --from-layer propagate --model "$OUT" --task xor --from-layer $HUGE
check "propagate batch 0" --batch propagate --model "$OUT" --task xor --batch 0
check "propagate batch 2^62" - propagate --model "$OUT" --task xor --batch $HUGE
check "analyze ridge nan" --ridge analyze --model "$OUT" --task xor --ridge=nan
check "test-split huge" --test-split train "${MN[@]}" --train-limit 100 --test-split 0:$HUGE --out "$W/x"

# 2. Paths: FIFO, folder, device, symlink.
mkfifo "$W/fifo"
mkdir -p "$W/dir"
ln -sf "$OUT" "$W/link"
for p in "$W/fifo" "$W/dir" /dev/zero; do
  check "model $p" "$p" propagate --model "$p" --task xor
  check "train-images $p" "$p" train --task mnist --train-images "$p" --train-labels "$MNIST/train-labels-idx1-ubyte" --test-split 0:10 --out "$W/x"
  check "grid $p" "$p" sweep --grid "$p" --out "$W/sw"
done
# A private character device (never /dev/null or /dev/zero: an old binary replaces what it is
# given); without the right to create one, the device case is left out.
DEV=$W/dev
mknod -m 666 "$DEV" c 1 5 2>/dev/null || DEV=""
for p in "$W/fifo" "$W/dir" $DEV "$W/link"; do
  check "train --out $p" "$p" train "${XOR[@]}" --out "$p"
  check "analyze --report $p" "$p" analyze --model "$OUT" --task xor --report "$p"
  check "sweep export --csv $p" "$p" sweep export "$W/sw0" --csv "$p"
done
kept -p "$W/fifo"
kept -d "$W/dir"
[ -n "$DEV" ] && kept -c "$DEV"
kept -L "$W/link"
check "mnist-dir missing" "$W/nope" train --task mnist --mnist-dir "$W/nope" --out "$W/x"
check "out folder missing" "$W/nope" train --task xor --epochs 100000 --out "$W/nope/m.safetensors"

# 3. Models with NaN/Inf/huge weights (the safetensors header stays; the data is rewritten).
# tanh-x1e6: a tanh network ×10⁶ for section 7's saturating units.
tanh3
python3 - "$W" <<'PY'
import json, struct, sys
w = sys.argv[1]
def write(name, f, only="", src="m"):
    raw = open(f"{w}/{src}.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    d = bytearray(raw[8 + n:])
    for k, v in head.items():
        if k == "__metadata__" or v["dtype"] != "F64" or not k.endswith(only):
            continue
        a, b = v["data_offsets"]
        for i in range(a, b, 8):
            d[i:i + 8] = struct.pack("<d", f(struct.unpack("<d", d[i:i + 8])[0]))
    open(f"{w}/{name}.safetensors", "wb").write(raw[:8 + n] + d)
write("nan", lambda x: float("nan"))
write("inf", lambda x: float("inf"))
write("x1e100", lambda x: x * 1e100)
write("x1e6", lambda x: x * 1e6)
write("zero", lambda x: 0.0, ".weight")  # a constant network: its biases only
write("tanh-x1e6", lambda x: x * 1e6, src="tanh")
PY
for m in nan inf x1e100 x1e6; do
  check "propagate model $m" "$m.safetensors" propagate --model "$W/$m.safetensors" --task xor --json
  check "analyze model $m" "$m.safetensors" analyze --model "$W/$m.safetensors" --task xor --json
done

# 4. Degenerate data.
check "mnist --on train --train-limit 20" - propagate --model "$W/mnist.safetensors" "${MN[@]}" --on train --train-limit 20 --json
check "mnist analyze --train-limit 20" - analyze --model "$W/mnist.safetensors" "${MN[@]}" --on train --train-limit 20 --json
check "mnist analyze --center" - analyze --model "$W/mnist.safetensors" "${MN[@]}" --center --json
check "xor sigma 0" - propagate --model "$OUT" --task xor --sigma 0 --json
check "xor n-test 1" - propagate --model "$OUT" --task xor --n-test 1 --n-train 1 --json

# 5. Bad grid values: one absurd point among good ones.
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = [2, %s, 3]\n' "$HUGE" >"$W/g.toml"
rm -rf "$W/sw"
check "sweep with an absurd point" epochs sweep --grid "$W/g.toml" --out "$W/sw"
good=$(grep -c test_accuracy "$W/sw/results.jsonl" 2>/dev/null)
echo "sweep with an absurd point: ${good:-0} of 2 good points recorded"
check "sweep rerun" epochs sweep --grid "$W/g.toml" --out "$W/sw"
printf 'task = "xor"\nepochs = -1\n' >"$W/g2.toml"
check "grid epochs -1" epochs sweep --grid "$W/g2.toml" --out "$W/sw2"
printf 'task = "xor"\nhidden = [[0]]\n' >"$W/g3.toml"
check "grid hidden 0" hidden sweep --grid "$W/g3.toml" --out "$W/sw3"

# 7. Fifteenth session (adv15): draw counts, carried units, normaliser values, class counts,
# output paths that name a folder.
check "cumulant check-samples 2^62" --check-samples train "${XOR[@]}" --objective cumulants --check-samples $HUGE --out "$W/x"
check "kappa-units 2^62" - propagate --model "$OUT" --task xor --order 3 --carry depth --kappa-units $HUGE --json
check "normalize-mean nan" --normalize-mean train "${XOR[@]}" --normalize-mean nan --normalize-std 1 --out "$W/x"
check "normalize-std inf" --normalize-std train "${XOR[@]}" --normalize-mean 0 --normalize-std inf --out "$W/x"
for k in 0 $HUGE; do
  check "n-classes $k" --n-classes train --task data --train-x "$FIX/train-images-idx3-ubyte" \
    --train-y "$FIX/train-labels-idx1-ubyte" --test-split 0:5 --n-classes $k --out "$W/x"
done
check "out ending in /" "ends in '/'" train "${XOR[@]}" --out "$W/newdir/"
check "report is a file" "is a file" analyze --model "$OUT" --task xor --report "$OUT"
# (text, not --json: the error budget's shares are null by design where E(0) is 0, which the
# pattern of `nonfinite` would count)
check "cumulants of a constant net" - analyze --model "$W/zero.safetensors" --task xor
# The κ₃/κ₄ corrections on saturating units (s ≈ 10⁶): a tanh network ×10⁶ (section 3) at
# orders 3 and 4 (fifteenth session: the corrections' quadrature ran > 100 s before its windows).
for o in 3 4; do
  check "propagate --order $o saturating tanh" - propagate --model "$W/tanh-x1e6.safetensors" --task xor --order $o --json
done
check "analyze --order 3 saturating tanh" - analyze --model "$W/tanh-x1e6.safetensors" --task xor --order 3

# 6. kill -9 mid-write, then rerun: debris left behind.
mkdir -p "$W/kill"
for t in 0.3 0.5 0.7 0.9 1.1 1.3 1.5 1.7 1.9 2.1; do
  (timeout -s KILL $t "$BIN" train --task mnist --mnist-dir "$MNIST" --train-limit 200 --hidden 2000 \
    --epochs 1 --out "$W/kill/m.safetensors" >/dev/null 2>&1) 2>/dev/null
done
"$BIN" train "${XOR[@]}" --out "$W/kill/m.safetensors" >/dev/null 2>&1
debris=$(find "$W/kill" -name '.*' -type f | wc -l)
echo "kill -9 then rerun: $debris temporary files left in $W/kill"

# 8. Sixteenth session (adv16): interruption, write limits, names, environment.
# SIGINT/SIGTERM/SIGHUP while a 72 MB model is written: the run is stopped (SIGSTOP) as soon as
# its temporary file appears, sent the signal, and resumed; a run that finished first is retried.
# (A background job of a script starts with SIGINT ignored: env restores the default.)
for sig in INT TERM HUP; do
  mkdir -p "$W/sig$sig"
  for _ in 1 2 3 4 5; do
    env --default-signal=INT "$BIN" --threads 1 train --task xor --n-train 8 --n-test 8 --epochs 1 --hidden 3000,3000 \
      --out "$W/sig$sig/m.safetensors" >/dev/null 2>&1 &
    pid=$!
    caught=""
    while kill -0 $pid 2>/dev/null; do
      if ls -A "$W/sig$sig" | grep -q '^\.corrflow-tmp-'; then kill -STOP $pid; caught=1; break; fi
    done
    [ -n "$caught" ] && { kill -$sig $pid; kill -CONT $pid; }
    wait $pid 2>/dev/null
    [ -n "$caught" ] && break
  done
  runs=$((runs + 1))
  [ -z "$caught" ] && echo "SIG$sig: no run caught mid-write"
  left "$W/sig$sig" "SIG$sig mid-write"
done
PRE="ulimit -f 1024" check "ulimit -f: train" "File too large" train --task xor --n-train 8 --n-test 8 --epochs 1 --hidden 3000,3000 --out "$W/fsize.safetensors"
left "$W" "ulimit -f: train"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 2\nseed = [1, 2, 3]\n' >"$W/g8.toml"
rm -rf "$W/sw8"
PRE="ulimit -f 1" check "ulimit -f: sweep" "results.jsonl" sweep --grid "$W/g8.toml" --out "$W/sw8"
[ -s "$W/sw8/results.jsonl" ] && [ "$(tail -c 1 "$W/sw8/results.jsonl" | od -An -c | tr -d ' ')" != '\n' ] &&
  { debris=$((debris + 1)); echo "ulimit -f: sweep: a partial record is left"; }
"$BIN" --threads 1 sweep --grid "$W/g8.toml" --out "$W/sw8" >/dev/null 2>&1
PRE="ulimit -f 40" check "ulimit -f: sweep plots" "File too large" sweep summarize "$W/sw8" --plots "$W/plots8"
[ -e "$W/plots8" ] && { debris=$((debris + 1)); echo "ulimit -f: sweep plots: a partial plots folder is left"; }
left "$W" "ulimit -f: sweep plots"
# A full disk (a 64 KiB tmpfs, where this user may mount one).
mkdir -p "$W/full"
if mount -t tmpfs -o size=64k tmpfs "$W/full" 2>/dev/null; then
  check "full disk: train" "No space left" train "${MN[@]}" --train-limit 100 --hidden 64 --epochs 1 --out "$W/full/m.safetensors"
  check "full disk: report" "No space left" analyze --model "$W/mnist.safetensors" "${MN[@]}" --report "$W/full/rep"
  check "full disk: plots" "No space left" sweep summarize "$W/sw8" --plots "$W/full/plots"
  n=$(find "$W/full" -mindepth 1 | wc -l)
  [ "$n" -gt 0 ] && { debris=$((debris + n)); echo "full disk: $n entries left in $W/full"; }
  umount "$W/full"
fi
# Names: 255 bytes (its temporary twin must fit), 256 (refused before a million epochs), bytes
# that are not UTF-8 in an output, a report, a model and a data file.
check "output name of 255 bytes" + train "${XOR[@]}" --out "$W/$(printf 'n%.0s' $(seq 255))"
check "output name of 256 bytes" "File name too long" train --task xor --epochs 1000000 --out "$W/$(printf 'n%.0s' $(seq 256))"
NU="$W/$(printf 'u\xff')"
check "non-UTF-8 model, train --json" + train "${XOR[@]}" --out "$NU.safetensors" --json
check "non-UTF-8 model, propagate --json" + propagate --model "$NU.safetensors" --json
check "non-UTF-8 model, analyze --json" + analyze --model "$NU.safetensors" --json
check "non-UTF-8 report" + analyze --model "$NU.safetensors" --report "$NU-report"
cp "$FIX/train-images-idx3-ubyte" "$NU-x"
check "non-UTF-8 data path" --train-x train --task data --train-x "$NU-x" --train-y "$FIX/train-labels-idx1-ubyte" --test-split 0:5 --out "$W/x"
# Environment.
RAYON_NUM_THREADS=100000 check "RAYON_NUM_THREADS=100000" RAYON_NUM_THREADS train "${XOR[@]}" --out "$W/x"
RAYON_NUM_THREADS=abc check "RAYON_NUM_THREADS=abc" + train "${XOR[@]}" --out "$W/x"
PRE="ulimit -v 60000" check "ulimit -v 60000: analyze MNIST" "ulimit -v" analyze --model "$W/mnist.safetensors" "${MN[@]}" --json
touch "$W/cachefile"
CORRFLOW_CACHE="$W/cachefile" check "CORRFLOW_CACHE a file (MNIST .gz)" CORRFLOW_CACHE train "${MN[@]}" --train-limit 100 --epochs 1 --out "$W/x"
check "xor, 10 quadratic layers" "--activation quad" train "${XOR[@]}" --hidden 8,8,8,8,8,8,8,8,8,8 --out "$W/x"

# 9. Eighteenth session (adv18): threads that cannot start, immutable outputs, degenerate data
# and models (every JSON output also checked for plausibility above).
PRE="ulimit -v 20000" check "ulimit -v 20000, --max-memory 1G, 2 threads" "ulimit -v" --threads 2 --max-memory 1G train "${XOR[@]}" --out "$W/x"
cp "$OUT" "$W/imm.safetensors"
if chattr +i "$W/imm.safetensors" 2>/dev/null; then
  check "immutable --out" "immutable" train --task xor --epochs 100000 --out "$W/imm.safetensors"
  chattr -i "$W/imm.safetensors"
fi
deg
for c in two ident same01 absent; do
  check "analyze --json: data $c" + analyze --model "$DG/base.safetensors" $(dat $c) --json
  check "propagate --order 3 --carry depth: data $c" + propagate --model "$DG/base.safetensors" $(dat $c) --order 3 --carry depth --json
done
check "analyze --order 4 --carry depth: data ident" + analyze --model "$DG/base.safetensors" $(dat ident) --order 4 --carry depth --json
check "analyze: one class in the data" "at least 2 classes" analyze --model "$DG/base.safetensors" $(dat one) --json
check "analyze: one sample" "1 sample" analyze --model "$DG/base.safetensors" $(dat single) --json
check "analyze: NaN at sample 512" "sample 512" analyze --model "$DG/base.safetensors" $(dat nan512) --json
check "analyze: 1e200 at sample 513 (class 1)" "class 1" analyze --model "$DG/base.safetensors" $(dat big513) --json
check "analyze: class 0 absent, 1e200 in class 2" "class 2" analyze --model "$DG/base.safetensors" $(dat gap) --json
for b in 1 511 513 1000000; do check "propagate --batch $b" + propagate --model "$DG/base.safetensors" $(dat base) --batch $b --json; done
for s in 0 18446744073709551615; do check "analyze --seed $s" + analyze --model "$DG/base.safetensors" $(dat base) --seed $s --json; done
check "analyze --mc-samples 2" --mc-samples analyze --model "$DG/base.safetensors" $(dat base) --mc-samples 2
check "cumulant objective, class 2 absent" --objective train --task data --train-x "$DG/absent-x.npy" --train-y "$DG/absent-y.npy" \
  --test-x "$DG/base-x.npy" --test-y "$DG/base-y.npy" --objective cumulants --epochs 1 --out "$W/x"
check "train, 33 classes" + train --task data --train-x "$DG/c33-x.npy" --train-y "$DG/c33-y.npy" --test-split 0:330 --hidden 16 --epochs 3 --out "$DG/c33.safetensors"
check "analyze --json, 33 outputs" + analyze --model "$DG/c33.safetensors" --mc-samples 20000 --json
python3 - "$DG/base.safetensors" "$DG/out1.safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
body = raw[8 + n:]
keep = {}
for k, v in head.items():
    if k == "__metadata__":
        continue
    a, b = v["data_offsets"]
    data = body[a:b]
    if k.startswith("readout"):  # one output: the first row of the read-out
        cols = v["shape"][1] if len(v["shape"]) == 2 else 1
        data, v["shape"] = data[:8 * cols], [1] + v["shape"][1:]
    keep[k] = (v, data)
out, off, meta = {}, 0, dict(head["__metadata__"], widths="4,8,1")
for k, (v, data) in keep.items():
    out[k] = dict(v, data_offsets=[off, off + len(data)])
    off += len(data)
out["__metadata__"] = meta
h = json.dumps(out).encode()
h += b" " * (-len(h) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(h)) + h + b"".join(d for _, d in keep.values()))
PY
check "a model with 1 output" "1 output" analyze --model "$DG/out1.safetensors" $(dat base) --json
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_x = "%s"\ntest_y = "%s"\nhidden = [[8]]\nepochs = 2\n' \
  "$DG/ident-x.npy" "$DG/ident-y.npy" "$DG/ident-x.npy" "$DG/ident-y.npy" >"$W/g9.toml"
rm -rf "$W/sw9"
check "sweep, a class of identical samples" + sweep --grid "$W/g9.toml" --out "$W/sw9"
grep -q '"degenerate":true' "$W/sw9/results.jsonl" 2>/dev/null ||
  { implausible=$((implausible + 1)); echo "sweep, a class of identical samples: theory accuracy not flagged degenerate"; }
# A previous report holding a FIFO under one of its own names (the lead's review of adv18: the
# immutable-entry check opened it and waited for a writer): replaced like any previous report.
rm -rf "$W/rep9"
"$BIN" analyze --task xor --epochs 2 --report "$W/rep9" >/dev/null 2>&1
rm -f "$W/rep9/accuracy.svg" && mkfifo "$W/rep9/accuracy.svg"
check "analyze --report over a FIFO in the previous report" + analyze --task xor --epochs 2 --report "$W/rep9"

# 10. Nineteenth session (adv19): generator settings through a model's records, outputs of
# another user, stdout on a full disk, a diverging cumulant objective, nan/inf in a grid, a merge
# that cannot be written.
# A model trained with --rotate --data-seed 7 --dim 3 is propagated on those samples (the
# preprocessing record overwrote them with the defaults: implausible when it does not say so).
check "train --rotate --data-seed 7 --dim 3" + train "${XOR[@]}" --rotate --data-seed 7 --dim 3 --out "$W/rot.safetensors"
check "propagate the rotated model" + propagate --model "$W/rot.safetensors" --json
grep -q '"task": "xor (σ=0.3, d=3, rotate=true, seed=7)"' "$W/out" ||
  { implausible=$((implausible + 1)); echo "propagate the rotated model: not on the model's samples: $(grep '"task"' "$W/out")"; }
# Outputs this user may not replace, run as user 65534 against root's files (where possible):
# a model and a report in a sticky folder, a report folder it cannot write.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  mkdir -p "$W/sticky" "$W/open" && chmod 1777 "$W/sticky" && chmod 777 "$W/open" && chmod o+x "$W"
  "$BIN" train "${XOR[@]}" --out "$W/sticky/m.safetensors" >/dev/null 2>&1
  "$BIN" analyze "${XOR[@]}" --report "$W/sticky/rep" >/dev/null 2>&1
  "$BIN" analyze "${XOR[@]}" --report "$W/open/rep" >/dev/null 2>&1
  for t in "train|sticky/m.safetensors|sticky bit" "analyze|sticky/rep|sticky bit" "analyze|open/rep|cannot be removed"; do
    IFS='|' read -r cmd path says <<<"$t"
    if [ "$cmd" = train ]; then flag=--out; else flag=--report; fi
    runs=$((runs + 1))
    timeout -s KILL 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" $cmd --task xor --epochs 100000 $flag "$W/$path" \
      >/dev/null 2>"$W/err" </dev/null
    rc=$?
    if [ $rc -eq 137 ]; then hangs=$((hangs + 1)); echo "another user's $path: hang (the work ran)"
    elif [ $rc -ne 2 ] || ! grep -q "$says" "$W/err"; then unnamed=$((unnamed + 1)); echo "another user's $path: rc $rc $(head -c 160 "$W/err")"; fi
  done
  left "$W/open" "another user's report"
fi
# The result printed on a full disk (/dev/full): an error naming standard output, not a panic.
for c in "train ${XOR[*]} --out $W/x" "propagate --model $OUT --json" "analyze --model $OUT"; do
  runs=$((runs + 1))
  timeout -s KILL 20 "$BIN" $c >/dev/full 2>"$W/err" </dev/null
  rc=$?
  if [ $rc -eq 101 ] || [ $rc -gt 128 ]; then panics=$((panics + 1)); echo "stdout on /dev/full ($c): rc $rc"
  elif [ $rc -ne 2 ] || ! grep -q "standard output" "$W/err"; then unnamed=$((unnamed + 1)); echo "stdout on /dev/full ($c): rc $rc"; fi
done
# A flag the task does not read (lead, nineteenth session): refused naming it, not ignored.
check "xor with --test-split" --test-split train "${XOR[@]}" --test-split 0:10 --out "$W/x"
check "a model of xor with --train-limit" --train-limit propagate --model "$OUT" --train-limit 5
check "cumulant objective, sgd momentum 0.99" --lr train --task xor --epochs 2 --objective cumulants --optimizer sgd --momentum 0.99 --out "$W/x"
for v in "lr = nan" "gain = inf" "closure_check = [nan, inf]"; do
  printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nobjective = "cumulants"\n%s\n' "$v" >"$W/g10.toml"
  rm -rf "$W/sw10"
  check "grid $v" "expected a finite number" sweep --grid "$W/g10.toml" --out "$W/sw10"
  [ -s "$W/sw10/results.jsonl" ] &&
    { implausible=$((implausible + 1)); echo "grid $v: a point ran (with the key's default)"; }
done
rm -rf "$W/merged10"
PRE="ulimit -f 1" check "ulimit -f: sweep merge" "File too large" sweep merge --grid "$W/g8.toml" --out "$W/merged10" "$W/sw8"
[ -e "$W/merged10" ] && { debris=$((debris + 1)); echo "ulimit -f: sweep merge: $W/merged10 is left"; }

# 11. Twentieth session (adv20): generator flags at their default value where the task does not
# read them, order 3 from the last hidden layer, /proc and /sys files as inputs, the class
# information on degenerate iris-like data and absurd ridges, hand-edited model records, grid
# keys no task of the grid reads.
deg
check "higher-order with --sigma 0.3 (the default)" "!--sigma" train --task higher-order --epochs 1 --sigma 0.3 --out "$W/x"
check "xor with --skewed 3 (the default)" "!--skewed" train "${XOR[@]}" --skewed 3 --out "$W/x"
check "a data model with --data-seed 0" "!--data-seed" propagate --model "$DG/base.safetensors" $(dat base) --data-seed 0 --json
check "a data model with --gamma-shape 1" "!--gamma-shape" analyze --model "$DG/base.safetensors" $(dat base) --gamma-shape 1 --json
"$BIN" --threads 1 train "${XOR[@]}" --sigma 0.5 --out "$W/s05.safetensors" >/dev/null 2>&1
check "propagate a σ=0.5 model with --sigma 0.3" + propagate --model "$W/s05.safetensors" --sigma 0.3 --json
grep -q '"task": "xor (σ=0.3,' "$W/out" ||
  { implausible=$((implausible + 1)); echo "propagate a σ=0.5 model with --sigma 0.3: --sigma ignored: $(grep '"task"' "$W/out")"; }
check "propagate --order 3 from the last hidden layer" + propagate --model "$OUT" --order 3 --from-layer 1 --json
grep -q '"note": "from layer 1, the last hidden layer' "$W/out" ||
  { implausible=$((implausible + 1)); echo "propagate --order 3 from the last hidden layer: '0 of 0 units' without a note"; }
check "/proc/self/status as --model" "/proc/self/status: a special file" propagate --model /proc/self/status
check "/proc/cpuinfo as --train-x" "/proc/cpuinfo: a special file" train --task data --train-x /proc/cpuinfo --train-y "$DG/base-y.npy" --out "$W/x"
check "/proc/cpuinfo as --train-images" "/proc/cpuinfo: a special file" train --task mnist --train-images /proc/cpuinfo --train-labels "$FIX/train-labels-idx1-ubyte" --out "$W/x"
[ -e /sys/devices/system/cpu/online ] &&
  check "/sys/devices/system/cpu/online as --model" "cannot be mapped" propagate --model /sys/devices/system/cpu/online
iris() { echo --task data --train-x "$DG/$1-x.npy" --train-y "$DG/$1-y.npy" --test-x "$DG/$1-x.npy" --test-y "$DG/$1-y.npy"; }
for c in iris irisconst iristwin irisfeat; do check "analyze --json: $c" + analyze $(iris $c) --epochs 5 --json; done
check "analyze: every iris class constant" + analyze $(iris irisall) --epochs 5
grep -q "4 of 4 stages left out" "$W/out" ||
  { implausible=$((implausible + 1)); echo "analyze: every iris class constant: the empty information table says nothing"; }
check "analyze: an iris class of one sample" "irisone-x.npy[0..101]; 3 classes: class 2 has 1 sample in the test set" analyze $(iris irisone) --epochs 5 --json
"$BIN" --threads 1 train $(iris iris) --epochs 5 --out "$DG/iris.safetensors" >/dev/null 2>&1
for r in 0 1e-300 5e-324; do
  check "analyze --ridge $r" "--ridge" analyze --model "$DG/iris.safetensors" --ridge $r --json
  grep -q "0\.000000" "$W/err" && { unnamed=$((unnamed + 1)); echo "analyze --ridge $r: the ridge printed as a run of zeros"; }
done
for r in 1e300 1.5; do check "analyze --ridge $r" "must be a number in [0, 1]" analyze --model "$DG/iris.safetensors" --ridge $r --json; done
check "analyze --ridge 1" + analyze --model "$DG/iris.safetensors" --ridge 1 --json
# Hand-edited records of the XOR model: a value of the wrong type, another record's key of the
# wrong type, an empty value, a number out of range, a byte that is not UTF-8.
python3 - "$OUT" "$W" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head, body = json.loads(raw[8:8 + n]), raw[8 + n:]
for name, key, value in [("rstr", "corrflow.data", '{"task":"xor","sigma":"abc"}'),
                         ("rpre", "corrflow.preprocess", '{"center":"yes"}'),
                         ("rempty", "corrflow.data", ""),
                         ("rbig", "corrflow.data", '{"task":"xor","sigma":1e400}'),
                         ("rutf", "corrflow.data", '{"task":"xor","sigma":"@@"}')]:
    h = dict(head, __metadata__=dict(head["__metadata__"], **{key: value}))
    text = json.dumps(h).encode().replace(b"@@", b"\xff\xfe")
    text += b" " * (-len(text) % 8)
    open(f"{sys.argv[2]}/{name}.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + body)
PY
check "record: sigma of the wrong type" "corrflow.data sets sigma" propagate --model "$W/rstr.safetensors" --json
check "record: center of the wrong type" "corrflow.preprocess sets center" propagate --model "$W/rpre.safetensors" --json
check "record: an empty value" "rempty.safetensors: its record corrflow.data is not valid JSON" propagate --model "$W/rempty.safetensors" --json
check "record: 1e400" "number out of range" propagate --model "$W/rbig.safetensors" --json
check "record: not UTF-8" "rutf.safetensors" propagate --model "$W/rutf.safetensors" --json
# Grid keys the task of no point reads; one read by some points' task runs.
for v in "task = \"mnist\"|mnist_dir = \"$MNIST\"|sigma = 0.5|sigma" "task = \"xor\"|n_train = 200|test_split = \"0:10\"|test_split" \
  "task = \"xor\"|n_train = 200|skewed = 3|skewed"; do
  IFS='|' read -r t a k key <<<"$v"
  printf '%s\n%s\n%s\nhidden = [[4]]\nepochs = 1\n' "$t" "$a" "$k" >"$W/g11.toml"
  rm -rf "$W/sw11"
  check "grid: $key with $t" "!grid key '$key'" sweep --grid "$W/g11.toml" --out "$W/sw11"
done
printf 'task = ["xor", "higher-order"]\nsigma = 0.5\nn_train = 200\nhidden = [[4]]\nepochs = 1\n' >"$W/g11.toml"
rm -rf "$W/sw11"
check "grid: sigma beside a task axis xor, higher-order" + sweep --grid "$W/g11.toml" --out "$W/sw11"

# 12. Twenty-first session (adv21): a sweep point whose test set has a class of one sample, an
# empty MNIST_DIR, f32 overflows before a closure without f32 lanes, in the read-out and in
# training's gradients (tanh with --gain 1e20), a negative variance after corrections carried through 30 layers, and inputs held before (IDX of
# 255 dimensions, an MNIST folder that is a FIFO or a symlink loop, a path of 4 KiB).
deg; tanh3; [ -p "$W/fifo" ] || mkfifo "$W/fifo"
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_x = "%s"\ntest_y = "%s"\nhidden = [[4]]\nepochs = 1\n' \
  "$DG/iris-x.npy" "$DG/iris-y.npy" "$DG/irisone-x.npy" "$DG/irisone-y.npy" >"$W/g12.toml"
rm -rf "$W/sw12"
check "sweep: a test class of one sample" "points failed" sweep --grid "$W/g12.toml" --out "$W/sw12"
grep -q 'irisone-x.npy\[0..101\]; 3 classes: class 2 has 1 sample in the test set' "$W/sw12/results.jsonl" 2>/dev/null ||
  { unnamed=$((unnamed + 1)); echo "sweep: a test class of one sample: the failed record does not name the data: $(grep -o '"failed":"[^"]*' "$W/sw12/results.jsonl" 2>/dev/null | head -c 160)"; }
MNIST_DIR= check "MNIST_DIR empty: train --task xor" + train "${XOR[@]}" --out "$W/x"
MNIST_DIR= check "MNIST_DIR empty: propagate an XOR model" + propagate --model "$OUT" --json
MNIST_DIR= check "MNIST_DIR empty: train --task mnist" "MNIST_DIR in the environment" train --task mnist --out "$W/x"
python3 - "$W" <<'PY'
import json, struct, sys
w = sys.argv[1]
def scaled(src, name, suffix, f):
    raw = open(f"{w}/{src}.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    d = bytearray(raw[8 + n:])
    for k, v in head.items():
        if k != "__metadata__" and k.endswith(suffix):
            a, b = v["data_offsets"]
            for i in range(a, b, 8):
                d[i:i + 8] = struct.pack("<d", struct.unpack("<d", d[i:i + 8])[0] * f)
    open(f"{w}/{name}.safetensors", "wb").write(raw[:8 + n] + d)
scaled("tanh", "tanh-h1e22", "hidden1.weight", 1e22)  # f32 overflows at h1, before tanh's f64 closure
scaled("m", "ro1e22", "readout.weight", 1e22)          # f32 overflows in the read-out only
PY
for m in tanh-h1e22 ro1e22; do
  check "propagate --precision f32: $m" "--precision f64" propagate --model "$W/$m.safetensors" --precision f32 --json
  check "analyze --precision f32: $m" "--precision f64" analyze --model "$W/$m.safetensors" --precision f32 --json
  check "propagate --precision f64: $m" + propagate --model "$W/$m.safetensors" --json
done
check "train tanh --gain 1e20 --precision f32" "--precision f64" train "${XOR[@]}" --activation tanh --gain 1e20 --precision f32 --out "$W/x"
# (f64 ran to exit 0 with every weight as initialised; refused naming --gain since adv48a.)
check "train tanh --gain 1e20 (f64)" --gain train "${XOR[@]}" --activation tanh --gain 1e20 --out "$W/x"
"$BIN" --threads 1 train --task xor --activation tanh --hidden "$(printf '4,%.0s' $(seq 29))4" --epochs 2 --n-train 1000 \
  --n-test 1000 --out "$W/d30.safetensors" >/dev/null 2>&1
check "order 3 --carry depth, 30 tanh layers" "--carry depth" --threads 1 propagate --model "$W/d30.safetensors" --order 3 --carry depth --json
check "order 3 --carry first, 30 tanh layers" + --threads 1 propagate --model "$W/d30.safetensors" --order 3 --carry first --json
check "order 4 --carry depth from layer 10, 30 tanh layers" - --threads 1 propagate --model "$W/d30.safetensors" --order 4 --carry depth --from-layer 10 --json
python3 - "$W/idx255" <<'PY'
import struct, sys
open(sys.argv[1], "wb").write(bytes([0, 0, 8, 255]) + struct.pack(">I", 1) * 255 + b"\0")
PY
check "IDX of 255 dimensions as images" "idx255" train --task mnist --train-images "$W/idx255" --train-labels "$FIX/train-labels-idx1-ubyte" --out "$W/x"
check "IDX of 255 dimensions as --train-x" "count mismatch" train --task data --train-x "$W/idx255" --train-y "$FIX/train-labels-idx1-ubyte" --out "$W/x"
check "--mnist-dir a FIFO" "$W/fifo" train --task mnist --mnist-dir "$W/fifo" --out "$W/x"
ln -sfn "$W/loop2" "$W/loop1" && ln -sfn "$W/loop1" "$W/loop2"
check "--mnist-dir a symlink loop" "$W/loop1" train --task mnist --mnist-dir "$W/loop1" --out "$W/x"
LONG=$W/$(printf 'd%.0s' $(seq 200))
for _ in $(seq 21); do LONG=$LONG/$(printf 'd%.0s' $(seq 200)); done
check "--out a path of 4 KiB" "File name too long" train "${XOR[@]}" --out "$LONG/m.safetensors"

# 13. Twenty-second session (adv22): data whose squares overflow (named, not the model or --lr),
# an f32 first step that overflows, a dry run of 10⁵ points, the degenerate rows of propagate's
# text, and a seventh pass: odd .npy data for train --task data (one class, one feature, 10⁵
# features, labels 3/7/9, float labels), --carry depth --kappa-units 0/1/10⁶ on one unit and 30
# relu layers, a tampered results.jsonl, analyze's --report beside --out.
deg
for c in propagate analyze; do
  check "$c --model: 1e200 in test class 1" "big513-x.npy" $c --model "$DG/base.safetensors" $(dat big513) --json
  grep -q "base.safetensors" "$W/err" && { unnamed=$((unnamed + 1)); echo "$c --model: 1e200 in test class 1: blames the model"; }
done
check "analyze --task data: 1e200 in test class 1" "class 1 of the test set" analyze $(dat big513) --epochs 1 --json
check "train on 1e200 (f64)" "big513-x.npy" train --task data --train-x "$DG/big513-x.npy" --train-y "$DG/big513-y.npy" --test-split 0:100 --epochs 2 --out "$W/x"
grep -q -- "--lr" "$W/err" && { unnamed=$((unnamed + 1)); echo "train on 1e200 (f64): blames --lr"; }
check "train on 1e200 (f32)" "--precision f64" train --task data --train-x "$DG/big513-x.npy" --train-y "$DG/big513-y.npy" --test-split 0:100 --epochs 2 --precision f32 --out "$W/x"
check "train tanh --gain 1e30 --precision f32" "--precision f64" train "${XOR[@]}" --activation tanh --gain 1e30 --precision f32 --out "$W/x"
printf 'task = "xor"\nn_train = 200\nhidden = [[8]]\nepochs = 1\nactivation = "tanh"\ngain = 1e30\nprecision = "f32"\n' >"$W/g13.toml"
rm -rf "$W/sw13"
check "sweep: tanh, gain 1e30, f32" "points failed" sweep --grid "$W/g13.toml" --out "$W/sw13"
grep -q "first training step" "$W/sw13/results.jsonl" 2>/dev/null ||
  { unnamed=$((unnamed + 1)); echo "sweep: tanh, gain 1e30, f32: $(grep -o '"failed":"[^"]*' "$W/sw13/results.jsonl" 2>/dev/null | head -c 160)"; }
python3 -c "print('task = \"xor\"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [' + ', '.join(map(str, range(1000))) + ']\nlr = [' + ', '.join(repr(1e-4 * (i + 1)) for i in range(100)) + ']')" >"$W/g13big.toml"
check "sweep --dry-run of 10^5 points" + sweep --grid "$W/g13big.toml" --out "$W/sw13big" --dry-run
[ "$(wc -l <"$W/out")" -le 30 ] || { implausible=$((implausible + 1)); echo "sweep --dry-run of 10^5 points: $(wc -l <"$W/out") lines"; }
"$BIN" --threads 1 train --task xor --activation relu --hidden 8,8 --epochs 5 --out "$W/relu13.safetensors" >/dev/null 2>&1
python3 - "$W" <<'PY'
import json, struct, sys
w = sys.argv[1]
raw = open(f"{w}/relu13.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
d = bytearray(raw[8 + n:])
for i in range(0, len(d), 8):
    d[i:i + 8] = struct.pack("<d", struct.unpack("<d", d[i:i + 8])[0] * 1e-30)
open(f"{w}/relu-m30.safetensors", "wb").write(raw[:8 + n] + d)
PY
check "propagate text, relu x1e-30" + propagate --model "$W/relu-m30.safetensors"
grep -q "^\* degenerate:" "$W/out" || { implausible=$((implausible + 1)); echo "propagate text, relu x1e-30: degenerate rows not marked"; }
mkdir -p "$W/odd"
python3 - "$W/odd" <<'PY'
import random, struct, sys
from npy import npy, f8
d = sys.argv[1]
rng = random.Random(13)
y = [c for c in range(3) for _ in range(200)]
x = [[rng.gauss(0, 1) + c for _ in range(4)] for c in y]
npy(f"{d}/x.npy", "<f8", (600, 4), f8(x))
npy(f"{d}/f1-x.npy", "<f8", (600, 1), f8([r[:1] for r in x]))
npy(f"{d}/y.npy", "<i8", (600,), b"".join(struct.pack("<q", c) for c in y))
npy(f"{d}/one-y.npy", "<i8", (600,), struct.pack("<q", 0) * 600)
npy(f"{d}/gap-y.npy", "<i8", (600,), b"".join(struct.pack("<q", [3, 7, 9][c]) for c in y))
npy(f"{d}/flt-y.npy", "<f8", (600,), b"".join(struct.pack("<d", c) for c in y))
npy(f"{d}/wide-x.npy", "<f4", (40, 100000), b"".join(struct.pack("<f", rng.gauss(0, 1)) for _ in range(4000000)))
npy(f"{d}/wide-y.npy", "<i8", (40,), b"".join(struct.pack("<q", i % 2) for i in range(40)))
PY
O=$W/odd
check "train: one class" "at least 2 classes" train --task data --train-x "$O/x.npy" --train-y "$O/one-y.npy" --test-split 0:100 --epochs 2 --out "$W/x"
check "train: float labels" "labels of type float64" train --task data --train-x "$O/x.npy" --train-y "$O/flt-y.npy" --test-split 0:100 --epochs 2 --out "$W/x"
check "train: one feature" + train --task data --train-x "$O/f1-x.npy" --train-y "$O/y.npy" --test-split 0:100 --epochs 2 --out "$W/x"
check "train: labels 3, 7, 9" + train --task data --train-x "$O/x.npy" --train-y "$O/gap-y.npy" --test-split 0:100 --epochs 2 --out "$O/gap.safetensors"
check "propagate the labels-3-7-9 model" + propagate --model "$O/gap.safetensors" --json
# 10⁵ features: train (samples objective) is not charged the statistics d² (fixed after adv22).
check "train: 10^5 features" + train --task data --train-x "$O/wide-x.npy" --train-y "$O/wide-y.npy" --test-split 0:10 --hidden 4 --epochs 1 --out "$W/x"
"$BIN" --threads 1 train --task xor --hidden 1 --epochs 2 --out "$W/w1.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train --task xor --activation relu --hidden "$(printf '4,%.0s' $(seq 29))4" --epochs 2 --out "$W/d30r.safetensors" >/dev/null 2>&1
for m in w1 d30r; do
  for o in 3 4; do
    check "$m --order $o --kappa-units 0" "--kappa-units" propagate --model "$W/$m.safetensors" --order $o --carry depth --kappa-units 0 --json
    for k in 1 1000000; do check "$m --order $o --kappa-units $k" + propagate --model "$W/$m.safetensors" --order $o --carry depth --kappa-units $k --json; done
  done
done
sweep13
sed -i '2i this is not a record' "$W/sw13r/results.jsonl"
check "resume: a line that is not a record" "results.jsonl: line 2" sweep --grid "$W/g13r.toml" --out "$W/sw13r"
head -n 1 "$W/r13.jsonl" | sed 's/"test_accuracy":[0-9.e-]*/"test_accuracy":0.123/' | cat "$W/r13.jsonl" - >"$W/sw13r/results.jsonl"
check "resume: one point recorded twice" "recorded twice" sweep --grid "$W/g13r.toml" --out "$W/sw13r"
rm -rf "$W/both13"
check "analyze --out P --report P" "--out and --report" analyze "${XOR[@]}" --out "$W/both13" --report "$W/both13"
[ -e "$W/both13" ] && { debris=$((debris + 1)); echo "analyze --out P --report P: $W/both13 left"; }

# 14. Twenty-third session (adv23): a tampered results.jsonl whose records parse (refused naming
# the line and the field), SGD on data of 10¹⁰⁰ (the data's scale named beside --lr), and an
# eighth pass: analyze --order 3|4 on odd data, the Hermite/delta closures of gelu, erf, silu
# and softplus at weights ×10³…10³⁰⁰ and ×10⁻³⁰⁰, --affine factored|auto and --precision f32 on
# rank-1 and tiny data, power sums that overflow, SIGTERM during a sweep and analyze --out.
sweep13
cp "$W/r13.jsonl" "$W/r14.jsonl"
python3 - "$W" <<'PY'
import json, sys
w = sys.argv[1]
lines = open(f"{w}/r14.jsonl").read().splitlines()
def put(name, third):
    open(f"{w}/r14-{name}.jsonl", "w").write("\n".join(lines[:2] + [third]) + "\n")
r = json.loads(lines[2])
put("acc", json.dumps({**r, "test_accuracy": 2.5}))
put("index", json.dumps({**r, "index": 99}))
put("failed", json.dumps({**r, "failed": 5, "theory": None}))
put("config", json.dumps({**r, "config": {**r["config"], "seed": 9}}))
PY
for t in acc index failed config; do
  cp "$W/r14-$t.jsonl" "$W/sw13r/results.jsonl"
  check "resume: tampered record ($t)" "!results.jsonl: line 3: " sweep --grid "$W/g13r.toml" --out "$W/sw13r"
done
cp "$W/r14-acc.jsonl" "$W/sw13r/results.jsonl"
check "export: accuracy 2.5" "!results.jsonl: line 3: test_accuracy" sweep export "$W/sw13r" --csv -
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2]\n' >"$W/g14.toml"
cp "$W/r13.jsonl" "$W/sw13r/results.jsonl"
check "resume: records of another grid" "!is not a point of" sweep --grid "$W/g14.toml" --out "$W/sw13r"
cp "$W/r13.jsonl" "$W/sw13r/results.jsonl"
check "resume: untouched records" + sweep --grid "$W/g13r.toml" --out "$W/sw13r"
data14
check "train sgd on data x1e100" "--standardize" train $(dd u100) --optimizer sgd --epochs 2 --out "$W/x"
grep -q -- "--lr" "$W/err" || { unnamed=$((unnamed + 1)); echo "train sgd on data x1e100: --lr no longer named"; }
check "train sgd on data x1e100 --standardize" + train $(dd u100) --optimizer sgd --lr 0.01 --standardize --epochs 2 --out "$W/x"
# dup (every class one repeated row) and allconst in text: their JSON error budgets' shares are
# 0/0, null by design (README), which check's pattern would count as non-finite.
for f in f1 const allconst dup rank1; do
  j=--json
  case $f in dup | allconst) j="" ;; esac
  for o in 3 4; do check "analyze --order $o, $f data" + analyze $(dd $f) --epochs 2 --order $o ${j:+"$j"}; done
done
for f in rank1 tiny huge; do
  m14 $f
done
# (tiny, 1e-300: refused since adv28, its class variances underflow f64's normal range. The
# f32 run's --affine is dense since adv47, which refuses factored where f32 updates densely.)
for f in rank1 tiny; do
  want=+; [ $f = tiny ] && want="spreads below f64's normal range"
  for o in "--affine factored" "--affine auto" "--precision f32" "--precision f32 --affine dense"; do
    check "propagate $f data $o" "$want" propagate --model "$D14/m-$f.safetensors" --json $o
  done
done
check "propagate --order 4, model of data x1e150" "κ₃" propagate --model "$D14/m-huge.safetensors" --order 4 --json
for a in gelu erf silu softplus; do
  xor14 $a
  python3 - "$D14/$a.safetensors" <<'PY'
import struct, sys
p = sys.argv[1]
raw = open(p, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
for tag, f in [("k3", 1e3), ("k100", 1e100), ("k300", 1e300), ("m300", 1e-300)]:
    d = bytearray(raw[8 + n:])
    for i in range(0, len(d), 8):
        d[i:i + 8] = struct.pack("<d", struct.unpack("<d", d[i:i + 8])[0] * f)
    open(p.replace(".safetensors", f"-{tag}.safetensors"), "wb").write(raw[:8 + n] + d)
PY
  check "propagate $a xk3" + propagate --model "$D14/$a-k3.safetensors" --json
  # × 1e-300: every stage's values ~1e-301, their squares 0 — main printed cov_rel_err and
  # mean_err 0 at every stage with exit 0; since the thirty-sixth session (`measure::range`) the
  # first hidden stage is refused by name.
  check "propagate $a xm300" "!at h1, class" propagate --model "$D14/$a-m300.safetensors" --json
  for t in k100 k300; do check "propagate $a x$t" "$a-$t.safetensors" propagate --model "$D14/$a-$t.safetensors" --json; done
  # × 1e100: an unbounded φ's h2 (~1e200) overflows its squares — refused by the measurement
  # (thirty-sixth session) before the order-4 closure that named κ₄; erf's stays bounded.
  k4="overflows f64"; [ $a = erf ] && k4="κ₄"
  check "propagate --order 4 $a x1e100" "$k4" propagate --model "$D14/$a-k100.safetensors" --order 4 --json
done
# SIGTERM in the middle of a sweep's points, then the rerun: no partial record, every point once.
printf 'task = "xor"\nn_train = 20000\nepochs = 20\nhidden = [[16]]\nseed = [1, 2, 3, 4]\n' >"$W/g14t.toml"
rm -rf "$W/sw14t"
env --default-signal=TERM "$BIN" --threads 1 sweep --grid "$W/g14t.toml" --out "$W/sw14t" --jobs 1 >/dev/null 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ ! -s "$W/sw14t/results.jsonl" ]; do sleep 0.01; done
kill -TERM $pid 2>/dev/null
wait $pid 2>/dev/null
runs=$((runs + 1))
check "sweep rerun after SIGTERM" + sweep --grid "$W/g14t.toml" --out "$W/sw14t"
[ "$(wc -l <"$W/sw14t/results.jsonl")" -eq 4 ] || { debris=$((debris + 1)); echo "sweep after SIGTERM: $(wc -l <"$W/sw14t/results.jsonl") records, expected 4"; }
left "$W/sw14t" "sweep SIGTERM"
# SIGTERM while analyze trains (before --out and --report are written): nothing left at either.
# 1 000 epochs (~8 s since the thirty-eighth session's faster training; 50 epochs finished
# within the 0.5 s, and the complete model then written at --out was counted as debris).
signalled TERM "$W/an14" "analyze SIGTERM mid-training" --threads 1 analyze --task xor --n-train 20000 \
  --epochs 1000 --hidden 64 --out "$W/an14/m.safetensors" --report "$W/an14/rep"

# 15. Twenty-fourth session (adv24): adv23's open items (--order 3|4 of the rank-1 tanh model
# names --order, the stage and the class; gelu/silu ×10⁵⁰ name the closures' range; SGD at its
# default rate on unit-scale data names the read-out's curvature and a rate), and a ninth pass:
# the pilot of --carry depth on a held-out class of 1-3 samples (--on test and train, analyze),
# --kappa-units, --from-layer at the last layer, NaN/Inf features and labels out of range of a
# propagate's data, concurrent sweeps into one --out, SIGINT while train trains.
data14; m14 rank1; xor14 gelu; xor14 silu
for o in 3 4; do
  check "propagate --order $o, rank-1 tanh model" "--order $o at layer 1" propagate --model "$D14/m-rank1.safetensors" --order $o
done
for a in gelu silu; do
  python3 - "$D14/$a.safetensors" <<'PY'
import struct, sys
p = sys.argv[1]
raw = open(p, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
d = bytearray(raw[8 + n:])
for i in range(0, len(d), 8):
    d[i:i + 8] = struct.pack("<d", struct.unpack("<d", d[i:i + 8])[0] * 1e50)
open(p.replace(".safetensors", "-k50.safetensors"), "wb").write(raw[:8 + n] + d)
PY
  for o in 2 4; do
    check "propagate --order $o $a x1e50" "the closures take" propagate --model "$D14/$a-k50.safetensors" --order $o --json
  done
done
data15
check "train sgd default rate, unit-scale data" "curvature" train $(d15 base base) --optimizer sgd --hidden 100 --epochs 2 --out "$W/x"
"$BIN" --threads 1 train $(d15 base base) --activation tanh --hidden 16,16 --epochs 3 --out "$D15/m.safetensors" >/dev/null 2>&1
P15="propagate --model $D15/m.safetensors --carry depth"
for k in 1 2 3; do
  check "pilot: held-out class 2 of $k" + $P15 $(d15 c2n$k base) --order 3 --json
  check "pilot --on train: held-out class 2 of $k" + $P15 $(d15 base c2n$k) --order 4 --on train --json
  check "analyze pilot: held-out class 2 of $k" + analyze $(d15 c2n$k base) --activation tanh --hidden 16,16 --epochs 2 --order 3 --carry depth --json
done
check "pilot: one class" + $P15 $(d15 one one) --order 3 --json
check "pilot: --kappa-units 1" + $P15 $(d15 base base) --order 4 --kappa-units 1 --json
check "pilot: --kappa-units 0" "--kappa-units" $P15 $(d15 base base) --order 4 --kappa-units 0
check "pilot: --from-layer 2 (the last)" + $P15 $(d15 base base) --order 3 --from-layer 2 --json
check "pilot: --order 2" "--order 3 or 4" $P15 $(d15 base base) --order 2
for f in nan inf labbig labneg; do
  check "propagate: $f in the test files" "$f-" propagate --model "$D15/m.safetensors" $(d15 base $f) --json
done
# Two sweeps into one --out at once: one runs every point, the other is refused naming the lock.
printf 'task = "xor"\nn_train = 4000\nepochs = 5\nhidden = [[16]]\nseed = [1, 2, 3, 4, 5, 6]\n' >"$W/g15.toml"
rm -rf "$W/sw15"
"$BIN" --threads 1 sweep --grid "$W/g15.toml" --out "$W/sw15" --jobs 1 >/dev/null 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null && [ ! -e "$W/sw15/results.jsonl" ]; do sleep 0.01; done
check "second sweep into the same --out" "another corrflow sweep" sweep --grid "$W/g15.toml" --out "$W/sw15"
wait $pid
[ "$(wc -l <"$W/sw15/results.jsonl")" -eq 6 ] || { debris=$((debris + 1)); echo "concurrent sweeps: $(wc -l <"$W/sw15/results.jsonl") records, expected 6"; }
left "$W/sw15" "concurrent sweeps"
# SIGINT while train trains (before --out is written): nothing left. 1 000 epochs, as in
# section 14 (50 finish within the 0.5 s since the thirty-eighth session).
signalled INT "$W/tr15" "train SIGINT mid-training" --threads 1 train --task xor --n-train 20000 \
  --epochs 1000 --hidden 64 --out "$W/tr15/m.safetensors"

# 16. Twenty-fifth session (adv25): adv24's open items (a huge grid's --dry-run under an address-
# space limit, a stray label's absent classes named, SGD's rate said to be a necessary bound) and
# a tenth pass: model headers the safetensors crate refuses (named with the tensor and what was
# expected), MNIST_DIR that is not a folder (named with the setting).
data15
python3 - "$OUT" "$W/h16" <<'PY'
import json, os, struct, sys
src, d = sys.argv[1], sys.argv[2]
os.makedirs(d, exist_ok=True)
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
H, D = json.loads(raw[8:8 + n]), raw[8 + n:]
def put(name, text, data=D, hlen=None):
    t = text.encode()
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", hlen or len(t)) + t + data)
def edit(f):
    h = json.loads(json.dumps(H)); f(h); return json.dumps(h)
w = next(k for k in H if k.endswith(".weight"))
put("shape", edit(lambda h: h[w].__setitem__("shape", [h[w]["shape"][0], h[w]["shape"][1] + 1])))
put("dtype", edit(lambda h: h[w].__setitem__("dtype", "F32")))
put("missing", edit(lambda h: h.pop("readout.bias")))
put("overlap", edit(lambda h: h[w].__setitem__("data_offsets", [0, h[w]["data_offsets"][1] - h[w]["data_offsets"][0]])))
put("wide", edit(lambda h: h[w].__setitem__("shape", [10**9, 10**9])))
put("length", json.dumps(H), hlen=1 << 20)
put("truncated", json.dumps(H), D[:-5])
put("trailing", json.dumps(H), D + bytes(8))
t = json.dumps(H)
put("twice", t[:-1] + ', "readout.bias": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}')
PY
for m in shape dtype missing overlap wide length truncated trailing twice; do
  want="tensor '"; [ $m = length ] && want="beyond the file's"; [ $m = trailing ] && want="left over"
  check "propagate: model header $m" "$want" propagate --model "$W/h16/$m.safetensors" --task xor --json
done
mkfifo "$W/fifo16" 2>/dev/null
for t in "$W/fifo16" "$OUT" "$W/absent16"; do
  MNIST_DIR=$t check "MNIST_DIR=$(basename "$t")" "MNIST_DIR" train --task mnist --epochs 1 --out "$W/x"
done
check "SGD's rate: a necessary bound" "not a guarantee" train $(d15 base base) --optimizer sgd --hidden 100 --epochs 2 --out "$W/x"
# A stray label (7 among 0…2): trains, with a warning naming the absent classes and --n-classes.
runs=$((runs + 1))
if ! "$BIN" --threads 1 train $(d15 labbig base) --hidden 8 --epochs 1 --out "$W/x" 2>&1 >/dev/null | grep -q "no sample of classes 3, 4, 5, 6.*--n-classes"; then
  unnamed=$((unnamed + 1)); echo "stray label 7: no warning naming the absent classes and --n-classes"
fi
# 3·10⁵ points under 150 MB of address space: the held points alone were a 230 MB allocation.
python3 -c "print('task = \"xor\"'); print('seed = [%s]' % ', '.join(map(str, range(600)))); print('epochs = [%s]' % ', '.join(map(str, range(1, 501))))" >"$W/g16.toml"
PRE="ulimit -v 153600" check "dry run of 3e5 points in 150 MB" + sweep --grid "$W/g16.toml" --out "$W/sw16" --dry-run

# 17. Twenty-sixth session (adv26): adv25's open items (analyze's stray-label warning, read-only
# outputs tried as user 65534) and an eleventh pass: the cumulant objective on 1–3 samples per
# class, label files with no label, safetensors data files, --precision f32 on degenerate data,
# two writers of one output, SIGINT to a --jobs 2 sweep's process group and the resume.
data15
runs=$((runs + 1))
if ! "$BIN" --threads 1 analyze $(d15 labbig base) --hidden 8 --epochs 1 --json 2>&1 >/dev/null | grep -q "no sample of classes 3, 4, 5, 6.*--n-classes"; then
  unnamed=$((unnamed + 1)); echo "analyze, stray label 7: no warning naming the absent classes and --n-classes"
fi
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  R17=$W/ro17
  rm -rf "$R17" && mkdir -p "$R17/open" "$R17/shut" && chmod 755 "$R17" && chmod 777 "$R17/open" && chmod o+x "$W"
  printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n' >"$R17/g.toml"
  "$BIN" --threads 1 sweep --grid "$R17/g.toml" --out "$R17/open/sw" >/dev/null 2>&1
  printf keep >"$R17/open/m.safetensors" && printf keep >"$R17/open/e.csv"
  chown -R 65534:65534 "$R17/open" && chmod 444 "$R17/open/m.safetensors" "$R17/open/e.csv" "$R17/open/sw/results.jsonl"
  chmod 555 "$R17/shut"
  for t in "train --task xor --epochs 100000 --out $R17/open/m.safetensors|read-only for this user" \
    "sweep export $R17/open/sw --csv $R17/open/e.csv|read-only for this user" \
    "sweep --grid $R17/g.toml --out $R17/shut/sw|cannot be created as the output folder" \
    "sweep --grid $R17/g.toml --out $R17/open/sw|cannot be opened for appending" \
    "analyze --task xor --epochs 100000 --report $R17/shut/rep|cannot write here"; do
    IFS='|' read -r c says <<<"$t"
    runs=$((runs + 1))
    timeout -s KILL 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" $c >/dev/null 2>"$W/err" </dev/null
    rc=$?
    if [ $rc -eq 137 ]; then hangs=$((hangs + 1)); echo "read-only ($c): hang"
    elif [ $rc -ne 2 ] || ! grep -q "$says" "$W/err"; then unnamed=$((unnamed + 1)); echo "read-only ($c): rc $rc $(head -c 160 "$W/err")"; fi
  done
  for f in m.safetensors e.csv; do
    [ "$(cat "$R17/open/$f")" = keep ] && [ "$(stat -c %a "$R17/open/$f")" = 444 ] ||
      { clobbered=$((clobbered + 1)); echo "read-only $f replaced ($(stat -c %a "$R17/open/$f"))"; }
  done
  left "$R17" "read-only outputs"
fi
mkdir -p "$W/d17"
python3 - "$W/d17" <<'PY'
import json, random, struct, sys
from npy import f8, i8, xy
d = sys.argv[1]
rng = random.Random(26)
put = lambda name, x, y: xy(d, name, x, y, 4)
def blobs(counts):
    y = [c for c, n in enumerate(counts) for _ in range(n)]
    return [[rng.gauss(0, 1) + 2 * c for _ in range(4)] for c in y], y
put("base", *blobs([200, 200, 200]))
for k in (1, 2, 3):
    put(f"cs{k}", *blobs([k, k, k]))
put("mix1", *blobs([200, 200, 1]))
put("empty", [], [])
x, y = blobs([200, 200, 200])
put("constcol", [[r[0], r[1], 0.5, r[3]] for r in x], y)
put("classconst", [[7.0] * 4 if c == 1 else r for r, c in zip(x, y)], y)
put("tiny", [[v * 1e-30 for v in r] for r in x], y)
def st(name, tensors):
    h, data = {}, b""
    for t, (dtype, shape, raw) in tensors.items():
        h[t] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(h).encode()
    text += b" " * (-len(text) % 8)
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(text)) + text + data)
X, Y = ("F64", [600, 4], f8(x)), ("I64", [600], i8(y))
st("st-ok", {"x": X, "y": Y})
st("st-f16", {"x": ("F16", [600, 4], b"".join(struct.pack("<e", v) for r in x for v in r)), "y": Y})
st("st-rows0", {"x": ("F64", [0, 4], b""), "y": ("I64", [0], b"")})
st("st-yneg", {"x": X, "y": ("I64", [600], i8([-3] + y[1:]))})
st("st-xonly", {"x": X})
st("st-yshort", {"x": X, "y": ("I64", [599], i8(y[:-1]))})
PY
D17=$W/d17
d17() { echo --task data --train-x "$D17/$1-x.npy" --train-y "$D17/$1-y.npy" --test-x "$D17/$2-x.npy" --test-y "$D17/$2-y.npy"; }
for k in 1 2 3; do
  want=+; [ $k = 1 ] && want="class 0 has 1 training sample"
  check "cumulants, $k samples per class" "$want" train $(d17 cs$k base) --objective cumulants --hidden 8 --epochs 3 --out "$W/x" --json
  check "cumulants tanh 8,8, $k per class" "$want" train $(d17 cs$k base) --objective cumulants --activation tanh --hidden 8,8 --epochs 3 --out "$W/x" --json
done
check "cumulants, a class of 1 among 200s" "--objective" train $(d17 mix1 base) --objective cumulants --hidden 8 --epochs 3 --out "$W/x"
check "train: label files with no label" "holds no labels" train $(d17 empty empty) --epochs 1 --out "$W/x"
for f in ok f16 rows0 yneg xonly yshort; do
  want=+; case $f in rows0) want="holds no labels";; yneg) want="label -3";; xonly) want="no tensor 'y'";; yshort) want="count mismatch";; esac
  check "safetensors data $f" "$want" train --task data --train-x "$D17/st-$f.safetensors" --train-y "$D17/st-$f.safetensors" --test-split 0:60 --hidden 4 --epochs 2 --out "$W/x" --json
done
"$BIN" --threads 1 train $(d17 base base) --activation tanh --hidden 8,8 --epochs 3 --out "$D17/tanh.safetensors" >/dev/null 2>&1
for t in constcol classconst tiny cs2; do
  check "f32 train on $t" + train $(d17 $t $t) --precision f32 --hidden 8 --epochs 3 --out "$W/x" --json
  # (tiny, 1e-30: its variances of 1e-60 are below f32's range; since the twenty-eighth session
  # the f32 theory's start refuses them naming --precision f64, where before every error was
  # exactly 0 and the budget's shares null.)
  want=+; [ $t = tiny ] && want="--precision f64"
  check "f32 analyze tanh model on $t" "$want" analyze --model "$D17/tanh.safetensors" $(d17 base $t) --precision f32 --json
  check "f32 propagate --order 3 --carry depth on $t" + propagate --model "$D17/tanh.safetensors" $(d17 base $t) --precision f32 --order 3 --carry depth --json
done
# Two writers of one output: two trains into one --out (both succeed, the model loads, nothing
# left); a merge into a running sweep's folder (refused naming the lock); merge, export and
# summarize reading a folder a sweep is appending to (every one succeeds or names what is missing).
rm -rf "$W/c17" && mkdir -p "$W/c17"
for i in 1 2 3; do
  "$BIN" --threads 1 train --task xor --n-train 2000 --epochs 20 --seed 1 --out "$W/c17/m.safetensors" >/dev/null 2>"$W/c17/e1" & p=$!
  check "two trains into one --out ($i)" + --threads 1 train --task xor --n-train 2000 --epochs 20 --seed 2 --out "$W/c17/m.safetensors"
  wait $p || { refused=$((refused + 1)); echo "two trains into one --out: the first failed: $(head -c 160 "$W/c17/e1")"; }
  check "propagate the model two trains wrote ($i)" + propagate --model "$W/c17/m.safetensors" --json
done
printf 'task = "xor"\nn_train = 2000\nepochs = 1500\nhidden = [[8]]\nseed = [1, 2, 3, 4, 5, 6]\n' >"$W/c17/g.toml"
"$BIN" --threads 1 sweep --grid "$W/c17/g.toml" --out "$W/c17/sw" --jobs 1 >/dev/null 2>&1 & p=$!
while kill -0 $p 2>/dev/null && [ ! -s "$W/c17/sw/results.jsonl" ]; do sleep 0.02; done
check "merge into a running sweep's folder" "another corrflow sweep" sweep merge --grid "$W/c17/g.toml" --out "$W/c17/sw" "$W/sw0"
for i in 1 2 3; do
  rm -rf "$W/c17/merged"
  check "merge of a running sweep" "missing" sweep merge --grid "$W/c17/g.toml" --out "$W/c17/merged" "$W/c17/sw"
  check "export of a running sweep" + sweep export "$W/c17/sw" --csv "$W/c17/e.csv"
  check "summarize of a running sweep" + sweep summarize "$W/c17/sw"
done
wait $p
left "$W/c17" "two writers"
# SIGINT to a --jobs 2 sweep's process group (as a terminal's Ctrl-C) at 0.3 and 0.9 s, then the
# resume: every point once, no partial line, nothing left.
printf 'task = "xor"\nn_train = 4000\nepochs = 1000\nhidden = [[16]]\nseed = [1, 2, 3, 4, 5, 6, 7, 8]\n' >"$W/g17i.toml"
for t in 0.3 0.9; do
  rm -rf "$W/sw17i"
  setsid env --default-signal=INT "$BIN" --threads 2 sweep --grid "$W/g17i.toml" --out "$W/sw17i" --jobs 2 >/dev/null 2>&1 & p=$!
  sleep $t; kill -INT -- -$p 2>/dev/null; wait $p
  runs=$((runs + 1))
  check "sweep resume after SIGINT at $t s" + sweep --grid "$W/g17i.toml" --out "$W/sw17i"
  n=$(python3 -c 'import json, sys; print(len({json.loads(l)["id"] for l in open(sys.argv[1])}))' "$W/sw17i/results.jsonl" 2>/dev/null)
  [ "$(wc -l <"$W/sw17i/results.jsonl")" -eq 8 ] && [ "$n" = 8 ] || { debris=$((debris + 1)); echo "sweep after SIGINT at $t s: $(wc -l <"$W/sw17i/results.jsonl") records, $n distinct, expected 8"; }
  left "$W/sw17i" "sweep SIGINT"
done

# 18. Twenty-seventh session (adv27): the newest code. Outputs that are the run's own inputs
# (train/analyze --out of --train-x, sweep export --csv of the sweep's results.jsonl), a sweep
# --out that is a file or a FIFO, report
# paths ending in '.'/'..' or a symlink with a trailing '/', a report under a mode-555 parent as
# user 65534, SIGKILL held inside the report swap (strace makes each rename last 1 s), signals
# at moments of three writers over an existing output; the pilot's held-out set of 1-2 samples
# per class or a class absent, --kappa-units at absurd values, width 1, depth 30, huge weights
# in layer 3 only; analyze and propagate text beside their --json.
mkdir -p "$W/d18"
python3 - "$W/d18" <<'PY'
import random, sys
from npy import xy
d = sys.argv[1]
rng = random.Random(27)
def blobs(counts):
    y = [c for c, n in enumerate(counts) for _ in range(n)]
    return [[rng.gauss(0, 1) + 1.5 * c for _ in range(4)] for c in y], y
for name, counts in (("base", [300, 300, 300]), ("one", [1, 1, 1]), ("two", [2, 2, 2]),
                     ("absent2", [300, 300, 0]), ("mixed", [300, 300, 1])):
    xy(d, name, *blobs(counts), 4)
PY
D18=$W/d18
d18() { echo --task data --train-x "$D18/$1-x.npy" --train-y "$D18/$1-y.npy" --test-x "$D18/$2-x.npy" --test-y "$D18/$2-y.npy"; }
same() { cmp -s "$1" "$2" || { clobbered=$((clobbered + 1)); echo "$3: $1 was replaced"; }; }
cp "$D18/base-x.npy" "$W/x18.keep" && cp "$D18/base-y.npy" "$W/y18.keep"
for c in train analyze; do
  for f in ./base-x.npy base-y.npy; do
    check "$c --out its own $f" "an output never replaces an input" $c $(d18 base base) --hidden 4 --epochs 1 --out "$D18/$f"
    same "$D18/base-x.npy" "$W/x18.keep" "$c --out $f"
    same "$D18/base-y.npy" "$W/y18.keep" "$c --out $f"
    cp "$W/x18.keep" "$D18/base-x.npy" && cp "$W/y18.keep" "$D18/base-y.npy"
  done
done
cp "$W/sw0/results.jsonl" "$W/r18.keep"
check "export --csv the sweep's results.jsonl" "an output never replaces an input" sweep export "$W/sw0" --csv "$W/sw0/results.jsonl"
same "$W/sw0/results.jsonl" "$W/r18.keep" "export --csv = results.jsonl"
cp "$W/r18.keep" "$W/sw0/results.jsonl"
mkfifo "$W/fifo18" 2>/dev/null
for o in "$W/g0.toml" "$W/fifo18"; do
  check "sweep --out ${o##*/} (not a folder)" "expected --out to name the sweep's folder" sweep --grid "$W/g0.toml" --out "$o"
  check "sweep --dry-run --out ${o##*/}" "expected --out to name the sweep's folder" sweep --grid "$W/g0.toml" --out "$o" --dry-run
done
rm -rf "$W/r18" && mkdir -p "$W/r18" && "$BIN" --threads 1 analyze --model "$OUT" --report "$W/r18/rep" >/dev/null 2>&1
cp "$W/r18/rep/report.json" "$W/rj18.keep" && ln -sfn rep "$W/r18/link"
for r in . rep/. rep/.. link/ link//; do
  says="which a rename cannot replace"
  case $r in link*) says="symbolic link" ;; esac
  where=$W/r18
  [ "$r" = . ] && where=$W/r18/rep
  PRE="cd '$where'" check "analyze --report $r" "$says" analyze --model "$OUT" --report "$r"
done
same "$W/r18/rep/report.json" "$W/rj18.keep" "report ., rep/., link/"
left "$W/r18" "report path checks"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  rm -rf "$W/ro18" && mkdir -p "$W/ro18/shut" && cp -r "$W/r18/rep" "$W/ro18/shut/rep" && chmod 755 "$W/ro18" && chmod o+x "$W"
  cp "$OUT" "$W/ro18/m.safetensors" && chmod 644 "$W/ro18/m.safetensors"
  chown -R 65534:65534 "$W/ro18/shut" && chmod 555 "$W/ro18/shut"
  for r in rep rep/; do
    runs=$((runs + 1))
    timeout -s KILL 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" --threads 1 analyze --model "$W/ro18/m.safetensors" --report "$W/ro18/shut/$r" >/dev/null 2>"$W/err" </dev/null
    rc=$?
    if [ $rc -ne 2 ] || ! grep -q "cannot write here" "$W/err"; then unnamed=$((unnamed + 1)); echo "report $r under a mode-555 parent: rc $rc $(head -c 160 "$W/err")"; fi
  done
  same "$W/ro18/shut/rep/report.json" "$W/rj18.keep" "report under a mode-555 parent"
  chmod 755 "$W/ro18/shut"
  left "$W/ro18" "mode-555 parent"
fi
# SIGKILL inside the report swap: every rename-family call held 1 s by strace, the run killed
# 0.3 s into the first that names the report. A whole report (old or new) must be at its path.
if command -v strace >/dev/null; then
  for k in 1 2; do
    runs=$((runs + 1))
    rm -f "$W/st18"
    strace -f -qq -o "$W/st18" -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:delay_exit=1000000 \
      "$BIN" --threads 1 analyze --model "$OUT" --seed $k --report "$W/r18/rep" >/dev/null 2>&1 &
    p=$!
    for i in $(seq 1 1000); do grep -q 'r18/rep"' "$W/st18" 2>/dev/null && break; sleep 0.02; done
    sleep 0.3
    tid=$(grep 'r18/rep"' "$W/st18" | head -n 1 | cut -d' ' -f1)
    [ -n "$tid" ] && kill -KILL "$tid" 2>/dev/null
    wait $p
    n=$(ls "$W/r18/rep" 2>/dev/null | wc -l)
    if [ ! -d "$W/r18/rep" ] || [ "$n" -ne 12 ] || ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$W/r18/rep/report.json" 2>/dev/null; then
      clobbered=$((clobbered + 1)); echo "SIGKILL inside the report swap ($k): $n files at the report path"
    fi
    "$BIN" --threads 1 analyze --model "$OUT" --report "$W/r18/rep" >/dev/null 2>&1
    left "$W/r18" "after the SIGKILL inside the report swap and a rerun"
  done
fi
# Signals at two moments of analyze --report, train --out and sweep export --csv over an existing
# output: each output whole afterwards, no temporary left but SIGKILL's.
rm -rf "$W/k18" && mkdir -p "$W/k18"
for sig in INT TERM HUP KILL; do
  for at in 0.05 0.2; do
    # (each try over whole outputs: one a try left gone or half is written again)
    [ "$(ls "$W/k18/rep" 2>/dev/null | wc -l)" -eq 12 ] || "$BIN" --threads 1 analyze --model "$OUT" --report "$W/k18/rep" >/dev/null 2>&1
    [ -s "$W/k18/m.safetensors" ] || "$BIN" --threads 1 train "${XOR[@]}" --out "$W/k18/m.safetensors" >/dev/null 2>&1
    [ -s "$W/k18/e.csv" ] || "$BIN" sweep export "$W/sw0" --csv "$W/k18/e.csv" >/dev/null 2>&1
    for t in "analyze --task xor --epochs 20 --report $W/k18/rep" "train --task xor --hidden 400,400 --epochs 2 --out $W/k18/m.safetensors" "sweep export $W/sw0 --csv $W/k18/e.csv"; do
      runs=$((runs + 1))
      "$BIN" --threads 1 $t >/dev/null 2>&1 </dev/null &
      p=$!
      sleep $at
      kill -$sig $p 2>/dev/null
      wait $p
      if [ "$(ls "$W/k18/rep" 2>/dev/null | wc -l)" -ne 12 ] || [ ! -s "$W/k18/m.safetensors" ] || [ ! -s "$W/k18/e.csv" ]; then
        clobbered=$((clobbered + 1)); echo "SIG$sig at $at s ($t): an output is gone or half"
      fi
      [ $sig = KILL ] && find "$W/k18" -name '.corrflow-tmp-*' -prune -exec rm -rf {} +
      left "$W/k18" "SIG$sig at $at s"
    done
  done
done
if ! "$BIN" --threads 1 propagate --model "$W/k18/m.safetensors" --json >/dev/null 2>"$W/err"; then
  clobbered=$((clobbered + 1)); echo "the model after the signals does not load: $(head -c 160 "$W/err")"
fi
# The pilot and the carried orders.
"$BIN" --threads 1 train $(d18 base base) --activation tanh --hidden 8,8,8,8 --epochs 3 --out "$D18/t4.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train $(d18 base base) --activation tanh --hidden 1 --epochs 3 --out "$D18/w1.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train $(d18 base base) --activation tanh --hidden "$(printf '6,%.0s' $(seq 29))6" --epochs 1 --out "$D18/d30.safetensors" >/dev/null 2>&1
python3 - "$D18/t4.safetensors" "$D18/huge3.safetensors" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
data = bytearray(b[8 + n:])
s, e = h["hidden3.weight"]["data_offsets"]
w = struct.unpack(f"<{(e - s) // 8}d", data[s:e])
data[s:e] = struct.pack(f"<{len(w)}d", *[v * 1e300 for v in w])
open(sys.argv[2], "wb").write(b[:8 + n] + bytes(data))
PY
for c in propagate analyze; do
  for o in 3 4; do
    for k in 0 1 1000000 -1 nan inf 1e308 18446744073709551616; do
      want="--kappa-units"
      case $k in 1 | 1000000) want=+ ;; -1) want="'-1'" ;; esac
      check "$c o$o --kappa-units $k" "$want" --threads 1 $c --model "$D18/t4.safetensors" $(d18 base base) --order $o --carry depth --kappa-units $k --json
    done
    for tr in one two absent2 mixed; do
      check "$c o$o held-out set $tr" + --threads 1 $c --model "$D18/t4.safetensors" $(d18 $tr base) --order $o --carry depth --json
      check "$c o$o --on train, held-out set $tr" + --threads 1 $c --model "$D18/t4.safetensors" $(d18 base $tr) --on train --order $o --carry depth --json
    done
    check "$c o$o width 1" + --threads 1 $c --model "$D18/w1.safetensors" $(d18 base base) --order $o --carry depth --json
    check "$c o$o depth 30" + --threads 1 $c --model "$D18/d30.safetensors" $(d18 base base) --order $o --carry depth --json
    check "$c o$o huge weights in layer 3" "huge3.safetensors" --threads 1 $c --model "$D18/huge3.safetensors" $(d18 base base) --order $o --carry depth --json
  done
done
# Text beside --json: every figure both print agrees to the text's digits.
cat >"$W/agree.py" <<'PY'
import json, re, sys
c, txt, j = sys.argv[1], open(sys.argv[2]).read(), json.load(open(sys.argv[3]))
bad = []
def near(name, t, v, tol):
    if v is None or abs(float(t) - v) > tol:
        bad.append(f"{name}: text {t}, json {v}")
if c == "analyze":
    m = re.search(r"network accuracy ([\d.]+) ± ([\d.]+)", txt)
    near("network accuracy", m[1], j["network_accuracy"], 5e-5)
    near("its stderr", m[2], j["network_accuracy_stderr"], 5e-5)
    for t in j["theory_accuracy"]:
        m = re.search(rf"^\s+{t['start_layer']}\s+{t['start_stage']}\s+([\d.]+)\s+([\d.]+)", txt, re.M)
        near(f"theory from {t['start_stage']}", m[1], t["accuracy"], 5e-5)
        near("its stderr", m[2], t["stderr"], 5e-5)
else:
    rows = {(r["layer"], r["stage"], r["class"]): r for r in j["layers"]}
    for f in re.findall(r"^\s+(\d+)\s+(\w+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)$", txt, re.M):
        r = rows[(int(f[0]), f[1], int(f[2]))]
        for k, t in zip(("cov_rel_err", "mean_err", "kl"), f[3:]):
            if t == "n/a":
                if r[k] is not None:
                    bad.append(f"{f[:3]} {k}: n/a beside {r[k]}")
            elif t == "0" and k == "kl" and -1e-10 <= r[k] <= 0:
                pass  # report::number::non_negative: a rounding-level negative KL prints as 0
            else:
                near(f"{f[:3]} {k}", t, r[k], 5e-4 * abs(r[k] or 0) + 1e-15)
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
for c in analyze propagate; do
  runs=$((runs + 1))
  "$BIN" --threads 1 $c --model "$D18/t4.safetensors" $(d18 base base) --order 3 --carry depth >"$W/t18" 2>/dev/null
  "$BIN" --threads 1 $c --model "$D18/t4.safetensors" $(d18 base base) --order 3 --carry depth --json >"$W/j18" 2>/dev/null
  if ! python3 "$W/agree.py" "$c" "$W/t18" "$W/j18"; then
    implausible=$((implausible + 1)); echo "$c: the text and --json disagree"
  fi
done

# 19. Twenty-eighth session (adv28): degenerate data through the statistics (a class constant in
# every feature, classes of 1, 128, 129, 256 samples at the Gram's chunk edges, duplicated
# samples and features, disjoint supports, 1e150, 1e-160 and 1e-300 values, mixed 1e8/1e-8
# scales, a feature constant in training only), --precision f32 beyond f32's range (data of
# 1e39 and 1e-46, first-layer weights x1e20/x1e39), tanh pre-activations of 1e-17 (measured
# z = 0 by the old kernel), a quadratic network whose forward pass overflows, and the error
# budget of linear and quadratic networks scaled by 1e-8 and 1e8.
mkdir -p "$W/d19"
python3 - "$W/d19" <<'PY'
import random, sys
from functools import partial
import npy
xy = npy.xy
d = sys.argv[1]
rng = random.Random(28)
blobs = partial(npy.blobs, rng)
x, y = blobs([300, 300, 300]); xy(d, "base", x, y)
xy(d, "const", [[0.7] * 4 if c == 1 else r for r, c in zip(x, y)], y)
for n in (1, 2, 128, 129, 256, 257):
    xy(d, f"n{n}", *blobs([300, n, 300]))
xy(d, "dup", [x[300] if c == 1 else x[j % 5] if c == 0 else r for j, (r, c) in enumerate(zip(x, y))], y)
xy(d, "dup2", x + x, y + y)
xy(d, "collin", [[r[0], r[0], r[2], r[3]] for r in x], y)
xy(d, "disj", [[r[0], r[1], 0.0, 0.0] if c == 0 else [5.0, 5.0, r[2], r[3]] if c == 1 else r for r, c in zip(x, y)], y)
xy(d, "mixsc", [[r[0] * 1e8, r[1] * 1e8, r[2] * 1e-8, r[3] * 1e-8] for r in x], y)
xy(d, "trconst", [[r[0], r[1], 3.0, r[3]] for r in x], y)
for s, name in ((1e150, "e150"), (1e-160, "em160"), (1e-300, "em300"), (1e-17, "em17"), (1e-25, "em25"), (1e39, "f39"), (1e-46, "fm46")):
    xy(d, name, [[v * s for v in r] for r in x], y)
PY
D19=$W/d19
d19() { echo --task data --train-x "$D19/$1-x.npy" --train-y "$D19/$1-y.npy" --test-x "$D19/${2:-$1}-x.npy" --test-y "$D19/${2:-$1}-y.npy"; }
"$BIN" --threads 1 train $(d19 base) --hidden 8,8 --activation tanh --epochs 3 --out "$D19/t.safetensors" >/dev/null 2>&1
for ds in const n2 n128 n129 n256 n257 dup dup2 collin disj mixsc; do
  check "analyze --task data: $ds" + --threads 1 analyze $(d19 $ds) --hidden 8,8 --activation tanh --epochs 2 --json
  check "propagate --model: $ds" + --threads 1 propagate --model "$D19/t.safetensors" $(d19 $ds) --json
done
check "analyze: feature constant in training only" + --threads 1 analyze $(d19 trconst base) --hidden 8 --epochs 2 --json
check "propagate: a class of 1 sample" "class 1 has 1 sample in the test set" --threads 1 propagate --model "$D19/t.safetensors" $(d19 n1) --json
check "propagate: 1e150 data" - --threads 1 propagate --model "$D19/t.safetensors" $(d19 e150) --json
check "analyze --task data: 1e150" "overflow" --threads 1 analyze $(d19 e150) --hidden 8 --epochs 2 --json
for ds in em160 em300; do
  for c in propagate analyze; do
    check "$c --model: $ds data" "!spreads below f64's normal range" --threads 1 $c --model "$D19/t.safetensors" $(d19 $ds) --json
  done
  check "analyze --task data: $ds" "!spreads below f64's normal range" --threads 1 analyze $(d19 $ds) --hidden 8 --epochs 1 --json
done
python3 - "$D19" <<'PY'
import json, struct, sys
d = sys.argv[1]
raw = open(f"{d}/t.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
def scaled(out, which, s):
    data = bytearray(raw[8 + n:])
    for k, v in head.items():
        if k != "__metadata__" and which(k):
            a, b = v["data_offsets"]
            data[a:b] = struct.pack(f"<{(b - a) // 8}d", *[w * s for w in struct.unpack(f"<{(b - a) // 8}d", data[a:b])])
    open(f"{d}/{out}.safetensors", "wb").write(raw[:8 + n] + data)
scaled("nob", lambda k: k.endswith("bias"), 0.0)
scaled("w20", lambda k: k == "hidden1.weight", 1e20)
scaled("w39", lambda k: k == "hidden1.weight", 1e39)
PY
for c in propagate analyze; do
  check "$c f32: 1e39 data" "--precision f64" --threads 1 $c --model "$D19/t.safetensors" $(d19 f39) --precision f32 --json
  check "$c f32: 1e-46 data" - --threads 1 $c --model "$D19/t.safetensors" $(d19 fm46) --precision f32 --json
  for m in w20 w39; do
    check "$c f64: first weights of $m" + --threads 1 $c --model "$D19/$m.safetensors" $(d19 base) --json
    check "$c f32: first weights of $m" "--precision f64" --threads 1 $c --model "$D19/$m.safetensors" $(d19 base) --precision f32 --json
  done
done
# Variances of 1e-50 (data of 1e-25, fine in f64) held in f32 read as 0: every row
# "degenerate" with errors of 0 and no KL, exit 0, before adv28.
check "propagate f32: variances of 1e-50" "!below f32's normal range" --threads 1 propagate --model "$D19/nob.safetensors" $(d19 em25) --precision f32 --json
check "propagate f64: variances of 1e-50" + --threads 1 propagate --model "$D19/nob.safetensors" $(d19 em25) --json
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\nhidden = [[8]]\nactivation = "tanh"\nepochs = 1\nprecision = "f32"\ngain = 1e39\n' "$D19/base-x.npy" "$D19/base-y.npy" >"$W/g19.toml"
rm -rf "$W/sw19"
check "sweep f32, gain 1e39" "points failed" --threads 1 sweep --grid "$W/g19.toml" --out "$W/sw19"
# tanh of pre-activations of 1e-17 (no biases): z1 = tanh(h1) measured as 0 made every post row
# "degenerate" (the old kernel's 1 - 2/(e^2h + 1)).
check "propagate: tanh pre-activations of 1e-17" + --threads 1 propagate --model "$D19/nob.safetensors" $(d19 em17) --json
if [ "$(head -c 1 "$W/out")" = "{" ] && python3 -c 'import json, sys
sys.exit(any(r.get("degenerate") for r in json.load(open(sys.argv[1]))["layers"]))' "$W/out"; then :; else
  implausible=$((implausible + 1)); echo "propagate: tanh pre-activations of 1e-17: rows marked degenerate"
fi
"$BIN" --threads 1 train --task xor --hidden 8,8 --activation quad:0.5 --epochs 2 --out "$D19/q.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train --task xor --hidden 8,8 --activation linear --epochs 2 --out "$D19/l.safetensors" >/dev/null 2>&1
python3 - "$D19" <<'PY'
import struct, sys
d = sys.argv[1]
for m in ("q", "l"):
    raw = open(f"{d}/{m}.safetensors", "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    w = struct.unpack(f"<{(len(raw) - 8 - n) // 8}d", raw[8 + n:])
    for s, name in ((1e-8, "m8"), (1e8, "p8"), (1e100, "p100")):
        open(f"{d}/{m}-{name}.safetensors", "wb").write(raw[:8 + n] + struct.pack(f"<{len(w)}d", *[v * s for v in w]))
PY
for m in q l; do
  for s in m8 p8; do
    check "analyze: budget of $m x$s" + --threads 1 analyze --model "$D19/$m-$s.safetensors" --json
    check "analyze --order 4: budget of $m x$s" + --threads 1 analyze --model "$D19/$m-$s.safetensors" --order 4 --json
  done
done
for c in propagate analyze; do
  check "$c: quadratic x1e100 forward pass overflows" "the forward pass of the samples overflows f64" --threads 1 $c --model "$D19/q-p100.safetensors" --json
done

# 20. Twenty-ninth session (adv29): adv28's found-not-fixed items (data x1e150 named, not the
# model; the surrogate's rounding residue; a variance below f32's range inside the f32
# propagation), training's pieces of depth 128 (linalg::gemm_batch) at the edges of widths,
# batches and input features with 1/2/3 threads (weights and records compared), analyze's
# indefinite outputs in text, JSON and --report, order 3/4 carried on tiny data, io::temp's
# names in an output's folder (an output moved aside by a dead process, a live one's, names
# corrflow never writes) and kill -9 during --report.
data20
# adv28's items: data x1e150 named with --scale (it named the model); the surrogate says "no
# variance above rounding" (it printed "mean variance = -2.7e-48"); f32 variances of 1e-50 made
# inside the propagation (read-out or layer-2 weights x1e-25, biases 0) refused naming the
# layer and --precision f64 (analyze printed KLs of 3e8 at y with exit 0 for the read-out).
# (Since adv30 data x1e150 runs in both commands: the comparison's norms are taken scaled where
# their plain sums of squares overflow; section 21 checks the numbers.)
check "propagate: 1e150 data runs" + --threads 1 propagate --model "$D20/t.safetensors" $(d20 base e150) --json
# (Since adv47 training on data x1e150 is refused naming --scale: the first layer's gradients
# overflow Adam's second moment, whose steps then left that layer as initialised, exit 0.)
check "analyze --task data: 1e150 refused" "!--scale" --threads 1 analyze $(d20 e150) --hidden 8 --epochs 2 --json
check "analyze: data of 1e-20 (surrogate)" "no variance above rounding" --threads 1 analyze --model "$D20/t.safetensors" $(d20 base em20) --json
check "analyze: read-out x1e-25 (surrogate)" "no variance above rounding" --threads 1 analyze --model "$D20/r25b.safetensors" $(d20 base) --json
for m in r25 h25; do
  check "analyze f64: weights of $m" + --threads 1 analyze --model "$D20/$m.safetensors" $(d20 base) --json
  check "analyze f32: weights of $m" "!--precision f64" --threads 1 analyze --model "$D20/$m.safetensors" $(d20 base) --precision f32 --json
  check "propagate f32: weights of $m" "!--precision f64" --threads 1 propagate --model "$D20/$m.safetensors" $(d20 base) --precision f32 --json
done
# Training's pieces of depth 128: 128/129 input features, widths at 64 and 128, batches around
# 64 and 128, with 1, 2 and 3 threads: the weights and records (as JSON) must be the same (the
# metadata's key order is not: it varies from run to run).
same20() {
  python3 -c 'import json, struct, sys
def rd(p):
    raw = open(p, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]
first = rd(sys.argv[1])
sys.exit(0 if all(rd(p) == first for p in sys.argv[2:]) else 1)' "$@"
}
for dim in 128 129; do
  for h in 1 64 127 128 129; do
    for b in 1 63 64 65 128 129; do
      for t in 1 2 3; do
        check "train f$dim hidden $h,$h batch $b threads $t" + --threads $t train --task data --train-x "$D20/f$dim-x.npy" --train-y "$D20/f$dim-y.npy" --test-split 0:60 --hidden $h,$h --batch $b --epochs 1 --out "$D20/g$t.safetensors"
      done
      same20 "$D20/g1.safetensors" "$D20/g2.safetensors" "$D20/g3.safetensors" || {
        implausible=$((implausible + 1)); echo "train f$dim hidden $h,$h batch $b: threads 1/2/3 differ"; }
    done
  done
done
# analyze's indefinite output covariance (order 3 carried on the quadratic higher-order network):
# JSON indefinite_outputs, report.json and the warning lines of the text and report.md agree.
hq20
IND=(--threads 1 analyze --model "$D20/hq.safetensors" --order 3 --carry depth)
check "analyze --order 3 --carry depth: indefinite (json)" + "${IND[@]}" --json
cp "$W/out" "$D20/ind.json"
check "analyze --order 3 --carry depth: indefinite (text)" + "${IND[@]}"
cp "$W/out" "$D20/ind.txt"
rm -rf "$D20/indrep"
check "analyze --order 3 --carry depth: indefinite (report)" + "${IND[@]}" --report "$D20/indrep"
python3 -c 'import json, sys
d = sys.argv[1]
j = json.load(open(f"{d}/ind.json"))
r = json.load(open(f"{d}/indrep/report.json"))
listed = j.get("indefinite_outputs") or []
text = open(f"{d}/ind.txt").read()
md = open(f"{d}/indrep/report.md").read()
ok = bool(listed) and listed == r.get("indefinite_outputs")
for t in listed:
    line = "the output covariance carried from %s was not positive semidefinite" % t["start_stage"]
    ok = ok and line in text and line in md
sys.exit(0 if ok else 1)' "$D20" 2>/dev/null || {
  implausible=$((implausible + 1)); echo "indefinite outputs: text, JSON and --report disagree"; }
# Order 3 and 4 carried on tiny or degenerate data (classes of 2, 3, 5 samples, a constant
# class, 5 distinct samples per class, rank-1 features).
for ds in n2 n3 n5 const dup5 rank1; do
  for o in 3 4; do
    check "analyze --task data --order $o --carry depth: $ds" + --threads 1 analyze $(d20 $ds) --hidden 8 --epochs 2 --order $o --carry depth --json
  done
  check "analyze --model --order 3 --carry depth: $ds" + --threads 1 analyze --model "$D20/t.safetensors" $(d20 base $ds) --order 3 --carry depth --json
done
# io::temp in an output's folder: an output a dead process moved aside goes back to its empty
# place, a live process's is kept, and names corrflow never writes are left alone (before adv29
# '+<pid>' and '0<pid>' were read as the dead pid: renamed to U and V, or removed).
true &
DEADPID=$!
wait $DEADPID
TF=$W/tf20
rm -rf "$TF" && mkdir -p "$TF"
for n in "$DEADPID-3h-R" "$$-5h-T" "+$DEADPID-6h-U" "0$DEADPID-7h-V" "+$DEADPID-8-x" "$DEADPID-09-x"; do
  mkdir -p "$TF/.corrflow-tmp-$n" && echo "$n" >"$TF/.corrflow-tmp-$n/report.md"
done
check "train --out beside displaced reports" + --threads 1 train "${XOR[@]}" --out "$TF/m.safetensors"
[ "$(cat "$TF/R/report.md" 2>/dev/null)" = "$DEADPID-3h-R" ] || { debris=$((debris + 1)); echo "temp: the report a dead run moved aside is not back"; }
for n in "$$-5h-T" "+$DEADPID-6h-U" "0$DEADPID-7h-V" "+$DEADPID-8-x" "$DEADPID-09-x"; do
  [ -d "$TF/.corrflow-tmp-$n" ] || { clobbered=$((clobbered + 1)); echo "temp: .corrflow-tmp-$n removed or renamed"; }
done
# kill -9 while --report writes (as soon as its temporary folder appears): the old report stays
# whole, and a later run in the folder removes what the killed one left.
KR=$W/kr20
rm -rf "$KR" && mkdir -p "$KR"
"$BIN" --threads 1 analyze --model "$OUT" --task xor --report "$KR/R" >/dev/null 2>&1
for i in 1 2 3 4 5 6; do
  "$BIN" --threads 1 analyze --model "$OUT" --task xor --report "$KR/R" >/dev/null 2>&1 &
  KP=$!
  for _ in $(seq 1 3000); do
    compgen -G "$KR/.corrflow-tmp-*" >/dev/null && break
  done
  kill -9 $KP 2>/dev/null
  wait $KP 2>/dev/null
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$KR/R/report.json" 2>/dev/null ||
    { clobbered=$((clobbered + 1)); echo "kill -9 during --report ($i): the old report is not whole"; }
done
check "train --out after kill -9 during --report" + --threads 1 train "${XOR[@]}" --out "$KR/m.safetensors"
left "$KR" "kill -9 during --report, then a run in the folder"

# 21. Thirtieth session (adv30): adv29's found-not-fixed items (data x1e150 in both commands,
# with the unscaled numbers; data x1e-20 named against the biases; two asides of one output;
# an f32 closure whose output variance underflows) and train --objective cumulants --order 3|4
# (flags, activations, NaN, tiny and huge data, classes of 1, 2 and 5 samples), and the
# indefinite output of --carry first in text, JSON and --report.
data20; hq20
python3 - "$W" <<'PY'
import os, random, sys
from npy import blobs, xy
d = os.path.join(sys.argv[1], "d21")
os.makedirs(d, exist_ok=True)
rng = random.Random(30)
x, y = blobs(rng, [100, 100, 100]); xy(d, "base", x, y)
for s, name in ((1e150, "huge"), (1e-20, "tiny")):
    xy(d, name, [[v * s for v in r] for r in x], y)
xy(d, "nan", [[float("nan") if j == 5 and i == 0 else v for i, v in enumerate(r)] for j, r in enumerate(x)], y)
for n in (1, 2, 5):
    xy(d, f"c{n}", *blobs(rng, [50, 50, n]))
xy(d, "const", [[0.7] * 4 if c == 1 else r for r, c in zip(x, y)], y)
xy(d, "rank1", [[r[0]] * 4 for r in x], y)
x, y = blobs(random.Random(29), [300, 300, 300])
xy(d, "e153", [[v * 1e153 for v in r] for r in x], y)
PY
D21=$W/d21
# Models: section 20's t with its first layer x1e-150; sigmoid and silu nets with h1 biases -45
# and layer-2 weights x1e10 (h1's variances ~1e-39, below f32's normal range).
for a in sigmoid silu; do
  "$BIN" --threads 1 train $(d20 base) --hidden 8,8 --activation $a --epochs 3 --out "$D21/$a.safetensors" >/dev/null 2>&1
done
python3 - "$D20" "$D21" <<'PY'
import json, struct, sys
def edit(src, out, rules):
    raw = open(src, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; head = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    for k, v in head.items():
        if k in rules:
            a, b = v["data_offsets"]; w = struct.unpack(f"<{(b - a) // 8}d", data[a:b])
            data[a:b] = struct.pack(f"<{(b - a) // 8}d", *map(rules[k], w))
    open(out, "wb").write(raw[:8 + n] + data)
d20, d21 = sys.argv[1:]
edit(f"{d20}/t.safetensors", f"{d21}/t150.safetensors", {"hidden1.weight": lambda w: w * 1e-150})
for a in ("sigmoid", "silu"):
    edit(f"{d21}/{a}.safetensors", f"{d21}/{a}-sat.safetensors", {"hidden1.bias": lambda w: -45.0, "hidden2.weight": lambda w: w * 1e10})
PY
# Item 1: data x1e150 runs in propagate and analyze --model alike (adv29: propagate refused,
# analyze ran); through t's first layer x1e-150 every row is the unscaled run's (relative errors
# and KLs are scale-invariant; KLs of singular stages, exact up to rounding, to 1e-10 absolute:
# their relative jitter amplifies rounding); x1e153 (n.var beyond f64) is refused by both
# naming the data.
check "propagate --model t: data x1e150" + --threads 1 propagate --model "$D20/t.safetensors" $(d20 base e150) --json
check "analyze --model t: data x1e150" + --threads 1 analyze --model "$D20/t.safetensors" $(d20 base e150) --json
check "propagate --model t150: data x1e150" + --threads 1 propagate --model "$D21/t150.safetensors" $(d20 base e150) --json
cp "$W/out" "$D21/p150.json"
check "propagate --model t: unscaled" + --threads 1 propagate --model "$D20/t.safetensors" $(d20 base) --json
python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
tol = {"cov_rel_err": (1e-14, 1e-9), "mean_err": (1e-14, 1e-9), "kl": (1e-10, 1e-6)}
ok = len(a) == len(b) and all(abs(r[k] - s[k]) <= f + e * abs(s[k]) for r, s in zip(a, b) for k, (f, e) in tol.items())
sys.exit(0 if ok else 1)' "$D21/p150.json" "$W/out" 2>/dev/null || {
  implausible=$((implausible + 1)); echo "data x1e150 through the first layer x1e-150: rows differ from the unscaled run's"; }
for c in propagate analyze; do
  check "$c --model t: data x1e153" "!spreads beyond f64" --threads 1 $c --model "$D20/t.safetensors" --task data --train-x "$D20/base-x.npy" --train-y "$D20/base-y.npy" --test-x "$D21/e153-x.npy" --test-y "$D21/e153-y.npy" --json
done
# Item 2: data x1e-20 through t (biases of ~0.1) is named with its scale against the biases.
check "analyze --model t: data x1e-20 names the scale" "!16 rounding units of its bias" --threads 1 analyze --model "$D20/t.safetensors" $(d20 base em20) --json
# Item 4: an f32 closure whose output variance underflows (h1 ~ -45: sigmoid/silu variances
# ~1e-39) is refused naming z1 and --precision f64; the f64 runs run.
for a in sigmoid silu; do
  for c in propagate analyze; do
    check "$c f64: $a saturated" + --threads 1 $c --model "$D21/$a-sat.safetensors" $(d20 base) --json
    check "$c f32: $a saturated" "!--precision f64" --threads 1 $c --model "$D21/$a-sat.safetensors" $(d20 base) --precision f32 --json
  done
done
# The cumulant objective at orders 3 and 4.
d21() { echo --task data --train-x "$D21/$1-x.npy" --train-y "$D21/$1-y.npy" --test-split 0:20; }
CUM=(--threads 1 train --objective cumulants --hidden 8 --epochs 2 --out "$D21/m.safetensors")
for o in 3 4; do
  # relu and erf are corrected since the sixty-fourth session (cumrelu, cumerf): they must run
  # (the script's expectation "!--order" counted them as ignored 4 until adv65); tanh is not.
  for a in relu erf; do check "cumulants --order $o --activation $a" + "${CUM[@]}" $(d21 base) --order $o --activation $a; done
  check "cumulants --order $o --activation tanh" "!--order" "${CUM[@]}" $(d21 base) --order $o --activation tanh
  for ds in base tiny const rank1 c2 c5; do check "cumulants --order $o: $ds" + "${CUM[@]}" $(d21 $ds) --order $o --activation quad:0.5; done
  check "cumulants --order $o: x1e150" "!--scale" "${CUM[@]}" $(d21 huge) --order $o --activation quad:0.5
  check "cumulants --order $o: quad:1e300" "!--activation quad:" "${CUM[@]}" $(d21 base) --order $o --activation quad:1e300
  check "cumulants --order $o: NaN" "!nan-x.npy" "${CUM[@]}" $(d21 nan) --order $o --activation quad:0.5
  check "cumulants --order $o: a class of 1" "!1 training sample" "${CUM[@]}" $(d21 c1) --order $o --activation quad:0.5
  check "cumulants --order $o --precision f32" "!--precision" "${CUM[@]}" $(d21 base) --order $o --activation quad:0.5 --precision f32
  check "samples --order $o" "!--order" --threads 1 train $(d21 base) --order $o --activation quad:0.5 --hidden 8 --epochs 2 --out "$D21/m.safetensors"
done
for o in 0 1 5 x -1 99999999999999999999; do check "cumulants --order $o" "!--order" "${CUM[@]}" $(d21 base) --order=$o --activation quad:0.5; done
check "cumulants --order 4 --hidden 1" + "${CUM[@]}" $(d21 base) --order 4 --activation quad:0.5 --hidden 1
check "cumulants --order 4 --batch 1" + "${CUM[@]}" $(d21 base) --order 4 --activation quad:0.5 --batch 1
check "cumulants --order 4 --check-samples 0" "!--check-samples" "${CUM[@]}" $(d21 base) --order 4 --activation quad:0.5 --check-samples 0
# Item 3: two asides of one output from two dead processes: the newer goes back whatever the
# names' order, the older is removed (adv29: read_dir's order chose).
true &
DEAD1=$!
wait $DEAD1
true &
DEAD2=$!
wait $DEAD2
for newer in 1 2; do
  TA=$W/ta21-$newer
  rm -rf "$TA" && mkdir -p "$TA"
  for k in 1 2; do
    if [ $k = 1 ]; then p=$DEAD1; else p=$DEAD2; fi
    A="$TA/.corrflow-tmp-$p-${k}h-R"
    mkdir -p "$A"
    if [ $k = $newer ]; then
      echo newer >"$A/report.md"
    else
      echo older >"$A/report.md"
      touch -d '2 hours ago' "$A"
    fi
  done
  check "train --out beside two asides of R (newer $newer)" + --threads 1 train "${XOR[@]}" --out "$TA/m.safetensors"
  [ "$(cat "$TA/R/report.md" 2>/dev/null)" = newer ] || { clobbered=$((clobbered + 1)); echo "temp: of two asides of R the newer ($newer) is not back"; }
  left "$TA" "two asides of R (newer $newer), then a run in the folder"
done
# The indefinite output of --carry first (no fallback there): text, JSON and --report agree.
FIRST=(--threads 1 analyze --model "$D20/hq.safetensors" --order 3 --carry first)
check "analyze --order 3 --carry first: indefinite (json)" + "${FIRST[@]}" --json
cp "$W/out" "$D21/first.json"
check "analyze --order 3 --carry first: indefinite (text)" + "${FIRST[@]}"
cp "$W/out" "$D21/first.txt"
rm -rf "$D21/firstrep"
check "analyze --order 3 --carry first: indefinite (report)" + "${FIRST[@]}" --report "$D21/firstrep"
python3 -c 'import json, sys
d = sys.argv[1]
j = json.load(open(f"{d}/first.json"))
r = json.load(open(f"{d}/firstrep/report.json"))
listed = j.get("indefinite_outputs") or []
text, md = open(f"{d}/first.txt").read(), open(f"{d}/firstrep/report.md").read()
ok = bool(listed) and listed == r.get("indefinite_outputs") and j.get("fallbacks") == r.get("fallbacks")
for t in listed:
    line = "the output covariance propagated from %s is not positive semidefinite" % t["start_stage"]
    ok = ok and line in text and line in md
sys.exit(0 if ok else 1)' "$D21" 2>/dev/null || {
  implausible=$((implausible + 1)); echo "indefinite outputs (--carry first): text, JSON and --report disagree"; }

# 22. Thirty-first session (adv31): the output guard (carried outputs of zero, tiny, huge and
# tied variances, one output, identical classes), the pilot's KL statistic (held-out classes
# of 1 and 2 samples, constant outputs), the scaled norms (data x1e150 ... x1e153 and x1e-150
# through propagate, analyze, sweep and --report), the f32 check of subnormal affine terms
# (data and weights near f32's limits, subnormal weights) and io::temp::remove_stale (three
# asides of one output, an aside whose place is a dangling link or a file, a read-only
# folder); and adv30's --carry first output whose trace is negative (said so, not "115 %").
data20; hq20
data22
python3 - "$D22" <<'PY'
import json, struct, sys
d = sys.argv[1]
def edit(src, out, rules):
    raw = open(src, "rb").read(); n = struct.unpack("<Q", raw[:8])[0]; head = json.loads(raw[8:8 + n])
    data = bytearray(raw[8 + n:])
    for k, v in head.items():
        if k in rules:
            a, b = v["data_offsets"]; w = struct.unpack(f"<{(b - a) // 8}d", data[a:b])
            data[a:b] = struct.pack(f"<{(b - a) // 8}d", *rules[k](list(w)))
    open(out, "wb").write(raw[:8 + n] + data)
scale = lambda s: lambda w: [v * s for v in w]
edit(f"{d}/quad.safetensors", f"{d}/q-r0.safetensors", {"readout.weight": scale(0.0)})
edit(f"{d}/quad.safetensors", f"{d}/q-tiedout.safetensors", {"readout.weight": lambda w: w[:len(w) // 3] * 3, "readout.bias": lambda w: [0.0] * len(w)})
edit(f"{d}/quad.safetensors", f"{d}/q-r1e-150.safetensors", {"readout.weight": scale(1e-150)})
edit(f"{d}/quad.safetensors", f"{d}/q-r1e100.safetensors", {"readout.weight": scale(1e100)})
edit(f"{d}/quad.safetensors", f"{d}/q-h1e-150.safetensors", {"hidden1.weight": scale(1e-150)})
edit(f"{d}/tanh.safetensors", f"{d}/t-sub.safetensors", {"hidden1.weight": scale(1e-40)})
edit(f"{d}/tanh.safetensors", f"{d}/t-sub1.safetensors", {"hidden2.weight": lambda w: [1e-45] + w[1:]})
edit(f"{d}/tanh.safetensors", f"{d}/t-e30.safetensors", {"hidden2.weight": scale(1e30)})
edit(f"{d}/tanh.safetensors", f"{d}/t-f32max.safetensors", {"readout.weight": lambda w: [3.4e38] + w[1:]})
edit(f"{d}/tanh.safetensors", f"{d}/t-inf.safetensors", {"hidden1.weight": lambda w: [float("inf")] + w[1:]})
PY
# The output guard and the KL pilot: order 3 carried through the quadratic net on degenerate
# classes, with read-outs x0 (constant outputs), tied (three equal outputs), x1e-150 and x1e100;
# guarded_directions must be a count, every number finite.
CAR=(--threads 1 propagate --carry depth --json)
for ds in base const tied c2n2 one; do
  for o in 3 4; do check "guard/pilot: quad o$o $ds" + "${CAR[@]}" --model "$D22/quad.safetensors" $(d22 base $ds) --order $o; done
done
for o in 3 4; do
  check "guard/pilot: quad o$o a test class of 1" "!at least 2 samples" "${CAR[@]}" --model "$D22/quad.safetensors" $(d22 base c2n1) --order $o
  check "guard/pilot: quad o$o x1e150" "!--scale" "${CAR[@]}" --model "$D22/quad.safetensors" $(d22 base e150) --order $o
done
# Order 3 and 4 carried from x on data x1e-48, x1e-60 and x1e-150 (adv31 found them failing
# with "the affine map of the carried κ tensors into width 8 overflowed": the chaos
# coefficients of h1's near-deterministic units, s/|μ| ~ 1e-48, were 0/0; fixed in nd32 by
# their Taylor form). They must run, and agree with order 2 of the same data: there the
# network acts as its linearisation and the carried κ3/κ4 move mean and covariance only at
# relative O(s/|μ|), so every layer's error against the measured statistics (cov_rel_err,
# mean_err) must equal order 2's to 1e-9 relative (implausible otherwise).
for ds in em48 em60 em150; do
  for m in quad tanh; do
    check "carry o2 $m: data $ds" + --threads 1 propagate --json --model "$D22/$m.safetensors" $(d22 base $ds) --order 2
    cp "$W/out" "$D22/o2-$m-$ds.json"
    for o in 3 4; do
      check "carry o$o $m: data $ds" + "${CAR[@]}" --model "$D22/$m.safetensors" $(d22 base $ds) --order $o
      python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
key = lambda x: (x["layer"], x["stage"], x["class"])
two = {key(x): x for x in a}
bad = [x for x in b for f in ("cov_rel_err", "mean_err")
       if abs(x[f] - two[key(x)][f]) > 1e-9 * max(abs(x[f]), abs(two[key(x)][f]))]
sys.exit(1 if bad or len(b) != len(a) else 0)' "$D22/o2-$m-$ds.json" "$W/out" 2>/dev/null ||
        { implausible=$((implausible + 1)); echo "carry o$o $m: data $ds: errors not order 2's"; }
    done
  done
done
for m in q-r0 q-tiedout q-r1e-150 q-r1e100 q-h1e-150; do
  check "guard/pilot: $m o3" - "${CAR[@]}" --model "$D22/$m.safetensors" $(d22 base) --order 3
  check "guard/pilot: $m o3 analyze" - --threads 1 analyze --model "$D22/$m.safetensors" $(d22 base) --order 3 --carry depth --json
done
check "guard: one class held out of 1 draw (--on train)" + "${CAR[@]}" --model "$D22/quad.safetensors" $(d22 base c2n1) --order 3 --on train
check "guard: analyze --report tied" + --threads 1 analyze --model "$D22/quad.safetensors" $(d22 base tied) --order 3 --carry depth --report "$D22/rep-tied"
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
ok = True
for rep in r.get("carried", []):
    for c in rep.get("classes", []):
        g = c.get("guarded_directions", 0)
        ok = ok and isinstance(g, int) and 0 <= g <= 3
sys.exit(0 if ok else 1)' "$D22/rep-tied/report.json" 2>/dev/null || { implausible=$((implausible + 1)); echo "guard: guarded_directions not a count of the 3 outputs"; }
# Scaled norms: x1e150 ... x1e152 and x1e-150 run through propagate, analyze and --report;
# x1e153 refused naming the spread. Training on them (analyze --task data, a sweep) is refused
# naming --scale: x1e150 ... x1e152 since adv47 (Adam's second moment overflows, the first
# layer would stay as initialised), x1e-150 since adv48a (gradients far below Adam's ε: every
# weight bit-identical after the first epoch).
for ds in e150 e151 e152 em150; do
  tr='!--scale'
  check "scaled: propagate tanh $ds" + --threads 1 propagate --model "$D22/tanh.safetensors" $(d22 base $ds) --json
  check "scaled: analyze tanh $ds --report" + --threads 1 analyze --model "$D22/tanh.safetensors" $(d22 base $ds) --report "$D22/rep-$ds"
  check "scaled: analyze --task data $ds" "$tr" --threads 1 analyze $(d22 $ds) --hidden 8 --epochs 1 --json
  printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_split = "0:60"\nhidden = [[4]]\nepochs = 1\n' "$D22/$ds-x.npy" "$D22/$ds-y.npy" >"$D22/g-$ds.toml"
  rm -rf "$D22/sw-$ds"
  check "scaled: sweep $ds" "$tr" --threads 1 sweep --grid "$D22/g-$ds.toml" --out "$D22/sw-$ds"
done
check "scaled: propagate e153" "!spreads beyond f64" --threads 1 propagate --model "$D22/tanh.safetensors" $(d22 base e153) --json
check "scaled: analyze --report e153" "!spreads beyond f64" --threads 1 analyze --model "$D22/tanh.safetensors" $(d22 base e153) --report "$D22/rep-e153"
[ -e "$D22/rep-e153" ] && { debris=$((debris + 1)); echo "scaled: a refused --report left $D22/rep-e153"; }
# The f32 path near f32's limits: data x1e19 (squares near f32's largest), x1e-19 and x1e-30
# (squares subnormal or below f32), weights x1e-40 (subnormal), one weight 1e-45, layer-2
# weights x1e30, a read-out weight 3.4e38, an inf weight (refused on load).
for ds in e19 em19 em30; do
  for c in propagate analyze; do check "f32: $c tanh $ds" - --threads 1 $c --model "$D22/tanh.safetensors" $(d22 base $ds) --precision f32 --json; done
done
for m in t-sub t-sub1 t-e30 t-f32max; do
  for c in propagate analyze; do check "f32: $c $m" - --threads 1 $c --model "$D22/$m.safetensors" $(d22 base) --precision f32 --json; done
done
check "f32: inf weight" "t-inf.safetensors" --threads 1 propagate --model "$D22/t-inf.safetensors" $(d22 base) --precision f32 --json
# io::temp::remove_stale: three asides of R from dead processes (the newest goes back), an
# aside whose place is a dangling link (kept there: a link is not the output's place to take)
# or a file, and a read-only folder (the run refused, the aside untouched).
pids=()
for _ in 1 2 3; do true & pids+=($!); wait $!; done
TS=$W/ts22
rm -rf "$TS" && mkdir -p "$TS"
for k in 0 1 2; do
  A="$TS/.corrflow-tmp-${pids[$k]}-${k}h-R"
  mkdir -p "$A" && echo "age $k" >"$A/report.md" && touch -d "$((k + 1)) hours ago" "$A"
done
check "train --out beside three asides of R" + --threads 1 train "${XOR[@]}" --out "$TS/m.safetensors"
[ "$(cat "$TS/R/report.md" 2>/dev/null)" = "age 0" ] || { clobbered=$((clobbered + 1)); echo "temp: of three asides of R the newest is not back"; }
left "$TS" "three asides of R, then a run in the folder"
TL=$W/tl22
rm -rf "$TL" && mkdir -p "$TL" && ln -s "$TL/nowhere" "$TL/R" && echo f >"$TL/F"
mkdir -p "$TL/.corrflow-tmp-${pids[0]}-1h-R" "$TL/.corrflow-tmp-${pids[1]}-1h-F"
check "train --out beside asides whose places are a dangling link and a file" + --threads 1 train "${XOR[@]}" --out "$TL/m.safetensors"
{ [ -L "$TL/R" ] && [ "$(cat "$TL/F")" = f ]; } || { clobbered=$((clobbered + 1)); echo "temp: a link or file in an aside's place was replaced"; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  TR=$W/tr22
  rm -rf "$TR" && mkdir -p "$TR/.corrflow-tmp-${pids[2]}-1h-R" && echo keep >"$TR/.corrflow-tmp-${pids[2]}-1h-R/x"
  chmod o+x "$W" && chmod 555 "$TR"
  runs=$((runs + 1))
  timeout -s KILL 20 setpriv --reuid=65534 --regid=65534 --clear-groups "$BIN" --threads 1 train "${XOR[@]}" --out "$TR/m.safetensors" >/dev/null 2>"$W/err" </dev/null
  rc=$?
  if [ $rc -eq 137 ]; then hangs=$((hangs + 1)); echo "read-only folder with an aside: hang"
  elif [ $rc -ne 2 ] || ! grep -q "$TR" "$W/err"; then unnamed=$((unnamed + 1)); echo "read-only folder with an aside: rc $rc $(head -c 160 "$W/err")"; fi
  [ "$(cat "$TR/.corrflow-tmp-${pids[2]}-1h-R/x" 2>/dev/null)" = keep ] || { clobbered=$((clobbered + 1)); echo "temp: the aside in a read-only folder was touched"; }
  chmod 755 "$TR"
fi
# adv30's --carry first output with a negative trace: no share of it in the warning.
check "analyze --order 3 --carry first: negative trace (text)" + --threads 1 analyze --model "$D20/hq.safetensors" --order 3 --carry first
if grep -q "is negative too" "$W/out"; then :; elif grep -qE "[0-9]{3}\.[0-9]{2} % of its trace" "$W/out"; then
  implausible=$((implausible + 1)); echo "--carry first: a share above 100 % of the trace"; fi

# 23. Thirty-second session (adv32): --pilot fresh (absurd sizes of the set whose 4x fresh
# samples it generates: refused by the memory estimate naming the flag, before allocation; the
# tasks it refuses), the data's padded columns in the memory estimate (XOR's d = 2 takes 8 words
# a sample in faer: --n-test 3e8 passed the estimate and panicked on the allocation), the
# clipped 2-output difference variance at read-outs x1e80..x1e150 (the same accuracies as x1:
# the argmax does not depend on the scale), activation parameters printed with {:e} (subnormal,
# negative, beyond f64, and through a model file's metadata) and the stacked affine buffers
# (width 1 between wide layers, f64 and f32, orders 3 and 4).
data20; hq20; data22
D23=$W/d23
mkdir -p "$D23"
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --out "$D23/xor.safetensors" >/dev/null 2>&1
PF=(--threads 1 propagate --model "$D23/xor.safetensors" --order 3 --carry depth --pilot fresh --json)
for n in 100000000 300000000 $HUGE; do
  check "--pilot fresh: --n-test $n" --n-test "${PF[@]}" --n-test $n
  check "analyze --pilot fresh: --n-test $n" --n-test --threads 1 analyze --model "$D23/xor.safetensors" --order 3 --carry depth --pilot fresh --n-test $n --json
done
check "--pilot fresh --on train: --n-train 100000000" --n-train "${PF[@]}" --on train --n-train 100000000
check "--pilot fresh: --n-test 1000" + "${PF[@]}" --n-test 1000
check "no pilot: --n-test 300000000 (padded columns)" --n-test --threads 1 propagate --model "$D23/xor.safetensors" --n-test 300000000 --json
check "--pilot fresh on task data" "--pilot fresh" --threads 1 propagate --model "$D22/tanh.safetensors" $(d22 base) --order 3 --carry depth --pilot fresh --json
check "--pilot fresh with --carry first" "--carry depth" --threads 1 propagate --model "$D23/xor.safetensors" --order 3 --carry first --pilot fresh --json
check "--pilot yes" --pilot --threads 1 propagate --model "$D23/xor.safetensors" --order 3 --carry depth --pilot yes --json
# The clipped difference variance: read-outs scaled by s leave every accuracy unchanged.
python3 - "$D20/hq.safetensors" "$D23" <<'PY2'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
for s in (1e80, 1e100, 1e150):
    data = bytearray(b[8 + n:])
    for key in ("readout.weight", "readout.bias"):
        a, e = h[key]["data_offsets"]
        w = struct.unpack(f"<{(e - a) // 8}d", data[a:e])
        data[a:e] = struct.pack(f"<{len(w)}d", *[v * s for v in w])
    open(f"{sys.argv[2]}/hq{s:.0e}.safetensors", "wb").write(b[:8 + n] + bytes(data))
PY2
"$BIN" --threads 1 analyze --model "$D20/hq.safetensors" --order 3 --carry first --json >"$D23/hq1.json" 2>/dev/null
for s in 1e+80 1e+100 1e+150; do
  check "--carry first, read-out x$s" + --threads 1 analyze --model "$D23/hq$s.safetensors" --order 3 --carry first --json
  if ! python3 - "$D23/hq1.json" "$W/out" <<'PY2'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
acc = lambda j: [x["accuracy_err"] for e in j["error_budget"] for x in e["by_start_layer"]]
same = lambda u, v: u == v or (u is not None and v is not None and abs(u - v) < 1e-9)
sys.exit(0 if len(acc(a)) == len(acc(b)) and all(same(u, v) for u, v in zip(acc(a), acc(b))) else 1)
PY2
  then implausible=$((implausible + 1)); echo "--carry first, read-out x$s: accuracies differ from x1"; fi
done
# Activation parameters: train and a model file's metadata.
for a in quad:5e-324 quad:-1e-310 quad:-0 quad:1e-400 leaky_relu:1e-320 leaky_relu:-1e20 quad:1e+5; do
  check "--activation $a" + --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --activation $a --json --out "$D23/a.safetensors"
  check "--activation $a, its model" + --threads 1 propagate --model "$D23/a.safetensors" --json
done
for a in quad:1e400 quad:nan quad:inf "quad: 1" quad:0x10 leaky_relu:inf; do
  check "--activation '$a'" --activation --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --activation "$a" --out "$D23/b.safetensors"
  python3 - "$D23/xor.safetensors" "$D23/act.safetensors" "$a" <<'PY2'
import json, struct, sys
b = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", b[:8])[0]; h = json.loads(b[8:8 + n])
h["__metadata__"]["activation"] = sys.argv[3]
hb = json.dumps(h).encode(); hb += b" " * ((8 - len(hb) % 8) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(hb)) + hb + b[8 + n:])
PY2
  check "model metadata activation '$a'" act.safetensors --threads 1 propagate --model "$D23/act.safetensors" --json
done
# The stacked affine buffers: width 1 between wide layers, read-outs of width 1's input.
for h in 16,1,16,1 1,16,1 16,1; do
  "$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden $h --activation tanh --out "$D23/w$h.safetensors" >/dev/null 2>&1
  for p in f64 f32; do
    check "hidden $h $p order 2" + --threads 1 propagate --model "$D23/w$h.safetensors" --precision $p --json
    for o in 3 4; do
      check "hidden $h $p order $o depth" + --threads 1 propagate --model "$D23/w$h.safetensors" --precision $p --order $o --carry depth --json
    done
  done
  check "hidden $h analyze order 3 depth" + --threads 1 analyze --model "$D23/w$h.safetensors" --order 3 --carry depth --json
done

# 24. Thirty-third session (adv33): the carried κ tensors in the memory estimate (--order 4
# --carry depth of a width-100 layer: 1.6 GB resident under --max-memory 1G, the estimate left
# them out: must be refused naming --order, or --kappa-units where given), --pilot on|off|fresh
# with --carry first|depth on tiny test sets (1..5 samples), the default check of a generated
# task (reported_output) and of MNIST (halves), ChaosRule::shared (--threads 1 and 2 give the
# same JSON; --kappa-units 0, beyond the width, repeated) and the Taylor-form chaos
# coefficients through the CLI: networks that are linear (leaky_relu:1, quad:0) carried at
# orders 3/4 must give order 2's errors (the map is exact), other slopes and α must run.
D24=$W/d24
mkdir -p "$D24"
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 100 --activation tanh --out "$D24/w100.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --activation tanh --out "$D24/x.safetensors" >/dev/null 2>&1
W100=(--threads 1 --max-memory 1G propagate --model "$D24/w100.safetensors" --carry depth --pilot off --n-test 200 --json)
check "width 100 order 4 depth, 1G" "!--order" "${W100[@]}" --order 4
check "width 100 order 4 --kappa-units 100, 1G" "!--kappa-units" "${W100[@]}" --order 4 --kappa-units 100
check "width 100 order 4 --kappa-units 8, 1G" + "${W100[@]}" --order 4 --kappa-units 8
check "width 100 order 3 depth, 1G" + "${W100[@]}" --order 3
check "analyze width 100 order 4 depth, 1G" "!--order" --threads 1 --max-memory 1G analyze --model "$D24/w100.safetensors" --order 4 --carry depth --pilot off --n-test 200 --json
X24=(--model "$D24/x.safetensors" --order 3)
for c in propagate analyze; do
  for p in on off fresh; do
    check "$c --carry first --pilot $p" "--carry depth" --threads 1 $c "${X24[@]}" --carry first --pilot $p --json
    check "$c --pilot $p --n-test 1" "test set" --threads 1 $c "${X24[@]}" --carry depth --pilot $p --n-test 1 --json
    for n in 4 5; do
      check "$c --pilot $p --n-test $n" + --threads 1 $c "${X24[@]}" --carry depth --pilot $p --n-test $n --json
    done
  done
done
check_field() { # NAME FILE WANT: every pilot "check" in FILE is WANT
  python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
found = []
def walk(x):
    if isinstance(x, dict):
        if isinstance(x.get("check"), str): found.append(x["check"])
        for v in x.values(): walk(v)
    elif isinstance(x, list):
        for v in x: walk(v)
walk(j)
sys.exit(0 if found and all(f == sys.argv[2] for f in found) else 1)' "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: the pilot's check is not $3"; }
}
check "xor depth, default pilot" + --threads 1 propagate "${X24[@]}" --carry depth --json
check_field "xor depth, default pilot" "$W/out" reported_output
check "mnist depth, default pilot" + --threads 1 propagate --model "$W/mnist.safetensors" "${MN[@]}" --train-limit 2000 --order 3 --carry depth --json
check_field "mnist depth, default pilot" "$W/out" halves
# ChaosRule::shared: one diagram list per process, the same numbers on 1 and 2 threads.
for k in 1 3 1000000; do
  for t in 1 2; do
    check "--kappa-units $k threads $t" + --threads $t propagate --model "$D24/x.safetensors" --order 4 --carry depth --kappa-units $k --pilot on --json
    python3 -c 'import json, sys
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if not k.endswith("seconds")}
    return [strip(v) for v in x] if isinstance(x, list) else x
json.dump(strip(json.load(open(sys.argv[1]))), open(sys.argv[2], "w"), sort_keys=True)' "$W/out" "$D24/k$k-t$t.json" 2>/dev/null
  done
  cmp -s "$D24/k$k-t1.json" "$D24/k$k-t2.json" ||
    { implausible=$((implausible + 1)); echo "--kappa-units $k: threads 1 and 2 differ"; }
done
check "--kappa-units 0" --kappa-units --threads 1 propagate --model "$D24/x.safetensors" --order 4 --carry depth --kappa-units 0 --json
check "--kappa-units 2^64-1" + --threads 1 propagate --model "$D24/x.safetensors" --order 4 --carry depth --kappa-units 18446744073709551615 --json
check "--kappa-units repeated" --kappa-units --threads 1 propagate --model "$D24/x.safetensors" --order 4 --carry depth --kappa-units 1 --kappa-units 2 --json
# The Taylor-form coefficients: a linear network carried at orders 3/4 gives order 2's errors.
for a in leaky_relu:1 quad:0; do
  "$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden 8,8 --activation $a --out "$D24/lin.safetensors" >/dev/null 2>&1
  check "linear $a order 2" + --threads 1 propagate --model "$D24/lin.safetensors" --json
  cp "$W/out" "$D24/lin-o2.json"
  for o in 3 4; do
    check "linear $a order $o depth" + --threads 1 propagate --model "$D24/lin.safetensors" --order $o --carry depth --json
    python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
key = lambda x: (x["layer"], x["stage"], x["class"])
two = {key(x): x for x in a}
bad = [x for x in b for f in ("cov_rel_err", "mean_err")
       if abs(x[f] - two[key(x)][f]) > 1e-9 * max(abs(x[f]), abs(two[key(x)][f])) + 1e-12]
sys.exit(1 if bad or len(b) != len(a) else 0)' "$D24/lin-o2.json" "$W/out" 2>/dev/null ||
      { implausible=$((implausible + 1)); echo "linear $a order $o: errors not order 2's"; }
  done
done
# quad:±1e150 cannot be trained (the first batch's loss overflows: refused naming
# --activation); each trained network's carried runs must succeed (lead, thirty-third session:
# leaky_relu:1e20's outputs ~1e40 made the pilot's T_C variance overflow, "worse_cov_above is
# NaN", exit 2 under the default --pilot fresh; the check now scales such outputs by a power
# of two, `pilot::output_scale`). Before, the loop reused the previous model where training
# failed.
for a in leaky_relu:0 leaky_relu:-1 leaky_relu:1e20 quad:1e150 quad:-1e150; do
  rm -f "$D24/a.safetensors"
  case $a in quad:*) expect="--activation" ;; *) expect="+" ;; esac
  check "train $a" "$expect" --threads 1 train "${XOR[@]}" --n-train 400 --hidden 8,8 --activation $a --out "$D24/a.safetensors"
  [ -f "$D24/a.safetensors" ] || continue
  for o in 3 4; do
    for p in fresh on; do
      check "$a order $o depth, pilot $p" + --threads 1 propagate --model "$D24/a.safetensors" --order $o --carry depth --pilot $p --json
    done
  done
done

# 25. Thirty-fourth session (adv34): order 2's working set at large widths in the memory
# estimate (a width-2000 XOR net reached 656 MiB resident against an estimate of 435 MiB: under
# --max-memory 600M it must be refused naming the model file (--hidden until adv39), propagate and analyze, f64 and f32;
# width 1000 under 1G must run), `--carry first` at orders 3/4 past the 2-D quadrature's work
# limit (a width-40 tanh XOR net took past 212 s at order 3, width 1001 ~30 h: refused naming
# --order; width 8 must run), and the f32 engine's one-pass weights at widths 1, 15, 16, 17, 33.
D25=$W/d25
mkdir -p "$D25"
for h in 40 1000 2000; do
  "$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden $h --activation tanh --out "$D25/w$h.safetensors" >/dev/null 2>&1
done
for c in propagate analyze; do
  for p in f64 f32; do
    check "$c width 2000 order 2 $p, 600M" "!w2000.safetensors" --threads 1 --max-memory 600M $c --model "$D25/w2000.safetensors" --n-test 400 --precision $p --json
  done
done
check "propagate width 1000 order 2, 1G" + --threads 1 --max-memory 1G propagate --model "$D25/w1000.safetensors" --n-test 400 --json
for o in 3 4; do
  check "width 40 order $o carry first" "!--order" --threads 1 propagate --model "$D25/w40.safetensors" --order $o --json
  check "width 8 order $o carry first" + --threads 1 propagate --model "$OUT" --order $o --json
done
for h in 1 15 16 17 33; do
  "$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden $h,$h --out "$D25/f$h.safetensors" >/dev/null 2>&1
  for c in propagate analyze; do
    check "$c f32 width $h" + --threads 1 $c --model "$D25/f$h.safetensors" --precision f32 --json
  done
done

# 26. Thirty-fifth session (adv35): analyze's κ slices and the comparison's threads in the memory
# estimate (a [2, 2000, 2] quad:0.5 XOR net, analyze --n-test 400: 906–1272 MiB resident on one
# thread against an estimate of 710 MiB; under --max-memory 800M it must be refused naming
# the model file (--hidden until adv39: a flag analyze never takes), propagate of it still runs), a limit below the 64 MiB base (named --max-memory, not
# the largest term: train, propagate, sweep), --kappa-units with --carry first (ran, ignored) and
# at its boundary (0 refused; 1, N, N+1, 2^64-1 run, N..2^64-1 the same JSON), the kink range's
# other side (bias-free relu / leaky relu nets on data x1e55: order 3 ran with errors 8-70 %
# off x1's; must be refused naming the kink; x1e30 must give x1's errors), pilot::output_scale
# (read-outs x2^+-40/100/200 with tanh, relu, leaky_relu:0.1, quad at orders 3/4, --pilot
# fresh|on: x1's errors and verdicts; x2^500 refused naming the model), sweep with the carried
# flags (grid keys order, kappa_units, carry, pilot and the flags --order/--kappa-units: refused
# naming them; precision f32/F16) and 150 classes through task data in f32 (section 9's c150:
# f32's errors must be f64's to 1e-4; open at adv35: class means up to ~300 gave f32
# cov_rel_err 7686 where f64 gives 0.0018, one "implausible" until the f32 engine is fixed).
deg
D26=$W/d26
mkdir -p "$D26"
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 2000 --out "$D26/q2000.safetensors" >/dev/null 2>&1
Q26=(--model "$D26/q2000.safetensors" --n-test 400 --json)
check "analyze quad width 2000, 800M" "!q2000.safetensors" --threads 1 --max-memory 800M analyze "${Q26[@]}"
check "analyze quad width 2000 f32, 800M" "!q2000.safetensors" --threads 1 --max-memory 800M analyze "${Q26[@]}" --precision f32
check "analyze quad width 2000, 8 threads, 1200M" "!q2000.safetensors" --threads 8 --max-memory 1200M analyze "${Q26[@]}"
check "propagate quad width 2000, 800M" + --threads 1 --max-memory 800M propagate "${Q26[@]}"
check "train under 1M" "!--max-memory" --max-memory 1M train "${XOR[@]}" --out "$D26/never.safetensors"
check "propagate under 1M" "!--max-memory" --max-memory 1M propagate --model "$OUT" --json
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n' >"$D26/g.toml"
check "sweep under 1M" "!invalid value for --max-memory" --threads 1 --max-memory 1M sweep --grid "$D26/g.toml" --out "$D26/sw1m"
for kv in 'order = 3' 'kappa_units = 4' 'carry = "depth"' 'pilot = "on"' 'precision = "F16"'; do
  key=${kv%% *}
  printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n%s\n' "$kv" >"$D26/k.toml"
  check "sweep grid key $kv" "!$key" --threads 1 sweep --grid "$D26/k.toml" --out "$D26/sw-$key"
done
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nprecision = ["f32", "f64"]\n' >"$D26/p.toml"
check "sweep precision = [f32, f64]" + --threads 1 sweep --grid "$D26/p.toml" --out "$D26/swp"
for f in "--order 3" "--kappa-units 3" "--carry depth"; do
  check "sweep $f" "!${f%% *}" --threads 1 sweep --grid "$D26/g.toml" --out "$D26/swf" $f
done
"$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden 6,6 --activation tanh --out "$D26/k6.safetensors" >/dev/null 2>&1
for c in propagate analyze; do
  check "$c --carry first --kappa-units 3" "!--kappa-units" --threads 1 $c --model "$D26/k6.safetensors" --order 3 --carry first --kappa-units 3 --json
  check "$c --kappa-units 0" "--kappa-units" --threads 1 $c --model "$D26/k6.safetensors" --order 4 --carry depth --kappa-units 0 --json
  for k in 1 6 7 18446744073709551615; do
    check "$c --kappa-units $k" + --threads 1 $c --model "$D26/k6.safetensors" --order 4 --carry depth --kappa-units $k --json
    python3 -c 'import json, sys
def strip(x):
    if isinstance(x, dict): return {k: strip(v) for k, v in x.items() if not k.endswith("seconds") and k != "kappa_units"}
    return [strip(v) for v in x] if isinstance(x, list) else x
json.dump(strip(json.load(open(sys.argv[1]))), open(sys.argv[2], "w"), sort_keys=True)' "$W/out" "$D26/$c-k$k.json" 2>/dev/null
  done
  for k in 7 18446744073709551615; do
    cmp -s "$D26/$c-k6.json" "$D26/$c-k$k.json" ||
      { implausible=$((implausible + 1)); echo "$c --kappa-units $k: not --kappa-units 6's (N = 6)"; }
  done
done
for a in relu leaky_relu:0.1; do
  "$BIN" --threads 1 train "${K26[@]}" --hidden 8,8 --epochs 2 --activation $a --out "$D26/kb.safetensors" >/dev/null 2>&1
  st26 "$D26/kb.safetensors" "$D26/kb.safetensors" .bias 0
  KB=(--threads 1 propagate --model "$D26/kb.safetensors" "${K26[@]}" --carry depth --pilot off --json)
  check "$a order 3 data x1" + "${KB[@]}" --order 3 --scale 1
  cp "$W/out" "$D26/x1.json"
  check "$a order 3 data x1e30" + "${KB[@]}" --order 3 --scale 1e-30
  same26 "$a order 3 data x1e30" "$D26/x1.json" "$W/out"
  for o in 3 4; do
    check "$a order $o data x1e55" "!of its kink" "${KB[@]}" --order $o --scale 1e-55
    check "$a order $o data x1e-45" "!of its kink" "${KB[@]}" --order $o --scale 1e45
  done
done
# Read-outs x2^k (weights and biases): the pilot scales outputs beyond 2^+-32 by a power of two.
for a in tanh relu leaky_relu:0.1 quad:0.5; do
  "$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden 8,8 --activation $a --out "$D26/r.safetensors" >/dev/null 2>&1
  for k in 0 -200 -100 -40 40 100 200 500; do
    st26 "$D26/r.safetensors" "$D26/r$k.safetensors" readout. "2.0 ** $k"
    for o in 3 4; do
      for p in fresh on; do
        what="$a read-out x2^$k order $o pilot $p"
        if [ "$k" = 500 ]; then
          check "$what" "r500.safetensors" --threads 1 propagate --model "$D26/r$k.safetensors" --order $o --carry depth --pilot $p --json
          continue
        fi
        check "$what" + --threads 1 propagate --model "$D26/r$k.safetensors" --order $o --carry depth --pilot $p --json
        [ "$k" = 0 ] && cp "$W/out" "$D26/r0-$o-$p.json" && continue
        python3 -c 'import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:])
bad = [x for x, y in zip(a["layers"], b["layers"]) for f in ("cov_rel_err", "mean_err")
       if abs(x[f] - y[f]) > 1e-9 * abs(x[f]) + 1e-15]
verdict = lambda j: [(c.get("carried_to"), (c.get("pilot") or {}).get("verdict")) for c in j["carried"]["classes"]]
sys.exit(1 if bad or verdict(a) != verdict(b) else 0)' "$D26/r0-$o-$p.json" "$W/out" 2>/dev/null ||
          { implausible=$((implausible + 1)); echo "$what: not x1's errors and verdicts"; }
      done
    done
  done
done
check "train 150 classes" + --threads 1 train "${C26[@]}" --hidden 16 --epochs 2 --out "$D26/c150.safetensors"
for p in f64 f32; do
  check "propagate 150 classes $p" + --threads 1 propagate --model "$D26/c150.safetensors" "${C26[@]}" --precision $p --json
  cp "$W/out" "$D26/c150-$p.json"
  check "analyze 150 classes $p, 100 draws" + --threads 1 analyze --model "$D26/c150.safetensors" "${C26[@]}" --precision $p --mc-samples 100 --json
done
python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
bad = [x for x, y in zip(a, b) for f in ("cov_rel_err", "mean_err") if abs(x[f] - y[f]) > 1e-4 * abs(x[f]) + 1e-6]
sys.exit(1 if bad or len(a) != len(b) else 0)' "$D26/c150-f64.json" "$D26/c150-f32.json" 2>/dev/null ||
  { implausible=$((implausible + 1)); echo "150 classes: f32 errors not f64's to 1e-4"; }


# 27. Thirty-sixth session (adv36): a stage whose spread leaves f64's range (read-outs x2^-520,
# x2^-1000: the output's covariance subnormal or 0, `propagate` printed cov_rel_err 0.0 with exit
# 0; x2^520: "class 0: the covariances … are not finite" naming no stage; h1 x2^-1000 the same
# inside the net) refused naming the stage ("at y", "at h1"), x2^-200 and x2^200 still x1's
# errors; one-class analysed data named by its labels' flag (--test-y / --train-y, not
# --test-split); analyze's Monte Carlo time said before it starts (150 classes at the default
# draws: ~75 s of CPU without a word); a leaky relu of slope 1 (linear) not refused at a spread
# of 1e-42 at its kink (order 3, data x1's errors); .npy edge cases (Fortran order, big-endian,
# 3-D, int32 and (n, 1) labels: the trained tensors identical to the plain file's; bool /
# object / f2 / c16 / datetime dtypes, a header length past the file, version 9: refused naming
# the file), absurd training settings and grids with a duplicate key, an empty list or a
# repeated value (refused naming the grid file).
deg
tanh27
for o in 2 4; do
  check "tanh read-out x1 order $o" + --threads 1 propagate --model "$D27/t.safetensors" --order $o --json
  cp "$W/out" "$D27/x1-$o.json"
  for k in -200 200; do
    check "tanh read-out x2^$k order $o" + --threads 1 propagate --model "$D27/r$k.safetensors" --order $o --json
    same26 "tanh read-out x2^$k order $o" "$D27/x1-$o.json" "$W/out"
  done
  for k in -520 -1000 520; do
    check "tanh read-out x2^$k order $o" "!at y, class" --threads 1 propagate --model "$D27/r$k.safetensors" --order $o --json
  done
done
check "analyze read-out x2^-1000" "!at y, class" --threads 1 analyze --model "$D27/r-1000.safetensors" --n-test 400 --json
check "analyze: one-class test data" "--test-y" analyze --model "$DG/base.safetensors" $(dat one) --json
check "analyze: one-class training data, --on train" "--train-y" --threads 1 analyze --task data --train-x "$DG/one-x.npy" --train-y "$DG/one-y.npy" --test-x "$DG/base-x.npy" --test-y "$DG/base-y.npy" --on train --epochs 1 --json
check "train 150 classes (section 27)" + --threads 1 train "${C26[@]}" --hidden 16 --epochs 2 --out "$D27/c150.safetensors"
timeout 5 "$BIN" --threads 1 analyze --model "$D27/c150.safetensors" "${C26[@]}" --json >/dev/null 2>"$D27/mc.err"
{ grep -q "may take" "$D27/mc.err" && grep -q -- "--mc-samples" "$D27/mc.err"; } ||
  { ignored=$((ignored + 1)); echo "analyze 150 classes, default draws: no word of the time within 5 s"; }
"$BIN" --threads 1 train "${K26[@]}" --hidden 8,8 --epochs 2 --activation leaky_relu:1 --out "$D27/l1.safetensors" >/dev/null 2>&1
st26 "$D27/l1.safetensors" "$D27/l1.safetensors" .bias 0
L27=(--threads 1 propagate --model "$D27/l1.safetensors" "${K26[@]}" --carry depth --pilot off --order 3 --json)
check "leaky relu 1 order 3 data x1" + "${L27[@]}" --scale 1
cp "$W/out" "$D27/l1-x1.json"
check "leaky relu 1 order 3 data x1e-42" + "${L27[@]}" --scale 1e42
same26 "leaky relu 1 order 3 data x1e-42" "$D27/l1-x1.json" "$W/out"
python3 - "$D27" <<'PY'
import random, struct, sys
from npy import npy
d = sys.argv[1]
rng = random.Random(27)
y = [c for c in range(3) for _ in range(100)]
x = [[rng.gauss(0, 1) + c for _ in range(4)] for c in y]
f8 = lambda e: b"".join(struct.pack(e + "d", v) for r in x for v in r)
i8 = lambda e, f="q": b"".join(struct.pack(e + f, c) for c in y)
npy(f"{d}/x-x.npy", "<f8", (300, 4), f8("<")); npy(f"{d}/y-y.npy", "<i8", (300,), i8("<"))
npy(f"{d}/fortran-x.npy", "<f8", (300, 4), b"".join(struct.pack("<d", x[i][j]) for j in range(4) for i in range(300)), fortran=True)
npy(f"{d}/big-x.npy", ">f8", (300, 4), f8(">")); npy(f"{d}/big-y.npy", ">i8", (300,), i8(">"))
npy(f"{d}/three-x.npy", "<f8", (300, 2, 2), f8("<"))
npy(f"{d}/i4-y.npy", "<i4", (300,), i8("<", "i")); npy(f"{d}/col-y.npy", "<i8", (300, 1), i8("<"))
npy(f"{d}/bool-y.npy", "|b1", (300,), bytes(c % 2 for c in y))
for name, descr in (("object", "|O"), ("f2", "<f2"), ("c16", "<c16"), ("date", "<M8[s]")):
    npy(f"{d}/{name}-x.npy", descr, (300, 4), f8("<"))
npy(f"{d}/lie-x.npy", "<f8", (300, 4), f8("<"), hlen=60000)
npy(f"{d}/v9-x.npy", "<f8", (300, 4), f8("<"), version=9, wide=False)
PY
T27() { echo --threads 1 train --task data --train-x "$D27/$1-x.npy" --train-y "$D27/$2-y.npy" --test-split 0:60 --epochs 1; }
for xy in "x y" "fortran y" "big big" "three y" "x i4" "x col"; do
  set -- $xy
  check "train on $1-x / $2-y npy" + $(T27 $1 $2) --out "$D27/m-$1-$2.safetensors"
  python3 -c 'import json, struct, sys
def tensors(p):
    d = open(p, "rb").read(); n = struct.unpack("<Q", d[:8])[0]; h = json.loads(d[8:8 + n])
    return {k: d[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]] for k, v in h.items() if k != "__metadata__"}
sys.exit(0 if tensors(sys.argv[1]) == tensors(sys.argv[2]) else 1)' "$D27/m-x-y.safetensors" "$D27/m-$1-$2.safetensors" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "train on $1-x / $2-y npy: not the plain file's tensors"; }
done
check "train on bool labels" "bool-y.npy" $(T27 x bool) --out "$D27/m.safetensors"
for name in object f2 c16 date lie v9; do
  check "train on $name npy" "$name-x.npy" $(T27 $name y) --out "$D27/m.safetensors"
done
check "train --epochs 2^62" "--epochs" train "${XOR[@]}" --epochs $HUGE --out "$D27/m.safetensors"
check "train --lr 1e300" "--lr" train "${XOR[@]}" --lr 1e300 --out "$D27/m.safetensors"
check "train --batch 2^62" + train "${XOR[@]}" --batch $HUGE --out "$D27/m.safetensors"
for g in 'epochs = 1\nepochs = 2' 'epochs = []' 'epochs = [1, 1]' 'lr = [0.01, 1e-2]'; do
  printf "task = \"xor\"\nn_train = 200\nhidden = [[4]]\n$g\n" >"$D27/g.toml"
  check "sweep grid $g" "g.toml" --threads 1 sweep --grid "$D27/g.toml" --out "$D27/sw"
done


# 28. Thirty-seventh session (adv37): a hidden layer dead for every sample (GELU, weights x0.01,
# bias -30: z1 ~ -2e-196, squares 0) runs, its rows withheld ("unresolved" in the JSON, "n/a"
# in the text), where adv36's rule refused the run; its read-out x2^-1000 (the output below the
# range too) is still refused, naming z1; adv36's h1 x2^-1000 (biases after it: the output
# constant, resolved) now runs with h1 and z1 withheld. A long training is said before it
# starts (train / analyze --epochs 1000000: about an hour without a word); an unknown
# CORRFLOW_ISA is said once, at the start (the library printed it mid-run). SIGXCPU and SIGUSR1
# (a CPU-time limit, a scheduler's warning) mid-write left the 72 MB temporary model file.
# Safetensors with a duplicate tensor name, overlapping offsets, a shape or metadata widths
# that disagree; MNIST_DIR a FIFO; --threads 0 / RAYON_NUM_THREADS=0; a non-UTF-8 --out; a
# path component of 300 bytes and a path of 5000.
tanh27
D28=$W/d28
mkdir -p "$D28"
st28() { # SRC DST MODE [ARG]: the safetensors SRC edited (dead: hidden1 weights x0.01 and bias
  # -30; dup, overlap, shape, widths ARG: the header broken so)
  python3 - "$@" <<'PY28'
import json, struct, sys
src, dst, mode = sys.argv[1:4]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
text = raw[8:8 + n].decode()
head = json.loads(text)
d = bytearray(raw[8 + n:])
def put(h, data):
    hb = h.encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(dst, "wb").write(struct.pack("<Q", len(hb)) + hb + bytes(data))
def each(name, f):
    a, b = head[name]["data_offsets"]
    for i in range(a, b, 8):
        d[i:i + 8] = struct.pack("<d", f(struct.unpack("<d", d[i:i + 8])[0]))
if mode == "dead":
    each("hidden1.weight", lambda v: v * 0.01)
    each("hidden1.bias", lambda v: -30.0)
    put(text, d)
elif mode == "dup":
    w = head["hidden1.weight"]
    extra = json.dumps({"dtype": "F64", "shape": w["shape"], "data_offsets": [len(d), len(d) + 8 * w["shape"][0] * w["shape"][1]]})
    put(text.rstrip()[:-1] + ', "hidden1.weight": ' + extra + "}", d + bytes(8 * w["shape"][0] * w["shape"][1]))
elif mode == "overlap":
    a, _ = head["hidden1.weight"]["data_offsets"]
    head["hidden1.bias"]["data_offsets"] = [a, a + 8 * head["hidden1.bias"]["shape"][0]]
    put(json.dumps(head), d)
elif mode == "shape":
    head["readout.weight"]["shape"] = [4, 4]
    put(json.dumps(head), d)
elif mode == "widths":
    head["__metadata__"]["widths"] = sys.argv[4]
    put(json.dumps(head), d)
PY28
}
"$BIN" --threads 1 train "${XOR[@]}" --n-train 400 --hidden 8,8 --activation gelu --out "$D28/g.safetensors" >/dev/null 2>&1
st28 "$D28/g.safetensors" "$D28/dead.safetensors" dead
st26 "$D28/dead.safetensors" "$D28/dead-r.safetensors" readout. "2.0 ** -1000"
for o in 2 4; do
  check "gelu dead layer order $o" + --threads 1 propagate --model "$D28/dead.safetensors" --order $o --json
  python3 -c 'import json, sys
rows = json.load(open(sys.argv[1]))["layers"]
z1 = [r for r in rows if "unresolved" in r]
sys.exit(0 if z1 and all(r["layer"] == 1 and r["stage"] == "post" for r in z1) and len(z1) < len(rows) else 1)' "$W/out" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "gelu dead layer order $o: z1 not (only) marked unresolved"; }
  check "gelu dead layer, read-out x2^-1000, order $o" "!at z1, class" --threads 1 propagate --model "$D28/dead-r.safetensors" --order $o --json
  check "tanh h1 x2^-1000 order $o (section 27)" + --threads 1 propagate --model "$D27/h1m1000.safetensors" --order $o --json
done
check "gelu dead layer, text" + --threads 1 propagate --model "$D28/dead.safetensors"
grep -q "n/a†" "$W/out" || { implausible=$((implausible + 1)); echo "gelu dead layer, text: no n/a† row"; }
check "gelu dead layer, analyze" + --threads 1 analyze --model "$D28/dead.safetensors" --n-test 400 --mc-samples 2000 --json
for c in "train --out $D28/long.safetensors" "analyze --json"; do
  timeout 5 "$BIN" --threads 1 $c --task xor --hidden 8,8 --epochs 1000000 >/dev/null 2>"$D28/long.err"
  { grep -q "^warning: training .* may take" "$D28/long.err" && grep -q -- "--epochs" "$D28/long.err"; } ||
    { ignored=$((ignored + 1)); echo "${c%% *} --epochs 1000000: no word of the time within 5 s"; }
done
[ -e "$D28/long.safetensors" ] && { debris=$((debris + 1)); echo "train --epochs 1000000 killed: a model file"; }
CORRFLOW_ISA=bogus check "CORRFLOW_ISA=bogus" + --threads 1 propagate --model "$OUT" --task xor --json
[ "$(grep -c 'CORRFLOW_ISA' "$W/err")" = 1 ] || { unnamed=$((unnamed + 1)); echo "CORRFLOW_ISA=bogus: not said once"; }
for sig in XCPU USR1; do
  rm -rf "$D28/s" && mkdir -p "$D28/s"
  for try in $(seq 1 20); do
    (ulimit -c 0; exec "$BIN" train --task xor --n-train 8 --n-test 8 --epochs 1 --hidden 3000,3000 --out "$D28/s/m.safetensors") >/dev/null 2>&1 &
    pid=$!
    while kill -0 $pid 2>/dev/null && ! ls -A "$D28/s" | grep -q corrflow-tmp; do :; done
    kill -STOP $pid 2>/dev/null
    if ls -A "$D28/s" | grep -q corrflow-tmp; then
      kill -$sig $pid; kill -CONT $pid; wait $pid 2>/dev/null
      break
    fi
    kill -CONT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$D28/s/m.safetensors"
  done
  n=$(ls -A "$D28/s" | grep -c corrflow-tmp)
  [ "$n" -gt 0 ] && { debris=$((debris + n)); echo "SIG$sig mid-write: $n temporary files left"; }
done
for m in dup overlap shape; do
  st28 "$OUT" "$D28/$m.safetensors" $m
  check "safetensors $m" "$m.safetensors" --threads 1 propagate --model "$D28/$m.safetensors" --task xor --json
done
for w in 2,99,2 2,8,8,2 3,8,2; do
  st28 "$OUT" "$D28/w.safetensors" widths $w
  check "safetensors widths $w" "w.safetensors" --threads 1 propagate --model "$D28/w.safetensors" --task xor --json
done
mkfifo "$D28/fifo"
MNIST_DIR=$D28/fifo check "MNIST_DIR a FIFO" "$D28/fifo" train --task mnist --epochs 1 --out "$D28/m.safetensors"
check "--threads 0" + --threads 0 train "${XOR[@]}" --out "$D28/m.safetensors"
RAYON_NUM_THREADS=0 check "RAYON_NUM_THREADS=0" + train "${XOR[@]}" --out "$D28/m.safetensors"
check "non-UTF-8 --out" + --threads 1 train "${XOR[@]}" --out "$D28/"$'\xff\xfe'.safetensors
[ -s "$D28/"$'\xff\xfe'.safetensors ] || { refused=$((refused + 1)); echo "non-UTF-8 --out: no file"; }
check "--out component of 300 bytes" "cannot be written" --threads 1 train "${XOR[@]}" --out "$D28/$(printf 'a%.0s' $(seq 300)).safetensors"
check "--out path of 5000 bytes" "cannot be written" --threads 1 train "${XOR[@]}" --out "$D28/$(printf 'b%.0s' $(seq 200))$(printf '/%0200d' $(seq 24))/m.safetensors"

# 29. Thirty-eighth session (adv38): input files that shrink while they are mapped (a .npy
# training set and an uncompressed IDX test set truncated mid-run: SIGBUS, exit 135, no word of
# the file), npy edge cases (byte order, Fortran order, 0-d, 0-length axes, 3-d, complex, object,
# f16, bool and structured dtypes, a declared shape of 4e12 elements, headers without padding,
# versions 2 and 3, a header length past the file, keys reordered, a negative dimension),
# safetensors with F16/BF16/I64/F32 tensors, offsets out of order, a gap, offsets backwards or
# past 2^63, a shape of 2^80 elements, a scalar or 3-d shape, a header length of 2^62, a JSON
# array header, metadata that is a list, holds a NUL or a non-finite slope; sweep grids with
# duplicate keys or tables, nesting 5000 deep, 8e9 points, a float overflow, a seed of 2^64-1,
# a BOM, CRLF; flags at extremes (--seed 2^64, NaN/inf floats, --n-train 0 / 2^63,
# --mc-samples 0 / 2^64); COLUMNS=0/-5, HOME unset, TMPDIR missing, an odd locale; two trains
# and two sweeps writing the same --out at once; the --out folder removed mid-run.
D29=$W/d29
mkdir -p "$D29"
python3 - "$D29" "$OUT" <<'PY29'
import json, random, struct, sys
from npy import npy
d, model = sys.argv[1:3]
rng = random.Random(29)
n = 300
x = [rng.gauss(0, 1) for _ in range(n * 4)]
f8 = lambda fmt: b"".join(struct.pack(fmt, v) for v in x)
npy(f"{d}/x.npy", "<f8", (n, 4), f8("<d"))
npy(f"{d}/y.npy", "<i8", (n,), b"".join(struct.pack("<q", k % 3) for k in range(n)))
npy(f"{d}/xbe.npy", ">f8", (n, 4), f8(">d"))
npy(f"{d}/xF.npy", "<f8", (n, 4), f8("<d"), fortran=True)
npy(f"{d}/x0d.npy", "<f8", (), struct.pack("<d", 1.0))
npy(f"{d}/x0len.npy", "<f8", (0, 4), b"")
npy(f"{d}/x0feat.npy", "<f8", (n, 0), b"")
npy(f"{d}/x3d.npy", "<f8", (n, 2, 2), f8("<d"))
npy(f"{d}/xc16.npy", "<c16", (n, 2), f8("<d"))
npy(f"{d}/xO.npy", "|O", (n,), b"")
npy(f"{d}/xf2.npy", "<f2", (n, 4), b"\0" * (2 * n * 4))
npy(f"{d}/xb1.npy", "|b1", (n, 4), b"\1" * (n * 4))
npy(f"{d}/xrec.npy", "[('a', '<f8'), ('b', '<f8')]", (n,), f8("<d")[: 16 * n])
npy(f"{d}/xhuge.npy", "<f8", (10**12, 4), b"\0" * 64)
npy(f"{d}/xnopad.npy", "<f8", (n, 4), f8("<d"), pad=False)
npy(f"{d}/xv2.npy", "<f8", (n, 4), f8("<d"), version=2)
npy(f"{d}/xv3.npy", "<f8", (n, 4), f8("<d"), version=3)
# xhlen: a header cut short (no "\n"): written byte by byte, not by npy()
open(f"{d}/xhlen.npy", "wb").write(b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**32 - 1) + b"{'descr': '<f8', ")
npy(f"{d}/xkeys.npy", "<f8", (n, 4), f8("<d"), header="{'shape': (300, 4), 'fortran_order': False, 'descr': '<f8'}")
npy(f"{d}/xneg.npy", "<f8", "(300, -4)", f8("<d"))
# 200 000 x 16 (25.6 MB), truncated mid-run below
npy(f"{d}/big-x.npy", "<f8", (200000, 16), struct.pack("<d", 0.5) * (200000 * 16))
npy(f"{d}/big-y.npy", "<i8", (200000,), b"".join(struct.pack("<q", k % 3) for k in range(200000)))
raw = open(model, "rb").read()
hl = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + hl])
data = raw[8 + hl:]
names = [k for k in head if k != "__metadata__"]
def put(name, h, body):
    hb = json.dumps(h).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(hb)) + hb + body)
def values(k):
    a, b = head[k]["data_offsets"]
    return [v for (v,) in struct.iter_unpack("<d", data[a:b])]
def bf16(v):
    return struct.pack("<H", struct.unpack("<I", struct.pack("<f", v))[0] >> 16)
for dt, enc in [("F16", lambda v: struct.pack("<e", v)), ("BF16", bf16), ("I64", lambda v: struct.pack("<q", int(v))), ("F32", lambda v: struct.pack("<f", v))]:
    h, body = json.loads(json.dumps(head)), b""
    for k in names:
        bs = b"".join(enc(v) for v in values(k))
        h[k]["dtype"], h[k]["data_offsets"] = dt, [len(body), len(body) + len(bs)]
        body += bs
    put(f"st-{dt}", h, body)
h, body = json.loads(json.dumps(head)), b""
for k in reversed(names):
    a, b = head[k]["data_offsets"]
    h[k]["data_offsets"] = [len(body), len(body) + b - a]
    body += data[a:b]
put("st-reversed", h, body)
h, body = json.loads(json.dumps(head)), b""
for k in names:
    a, b = head[k]["data_offsets"]
    body += bytes(16)
    h[k]["data_offsets"] = [len(body), len(body) + b - a]
    body += data[a:b]
put("st-gap", h, body)
def edit(name, f):
    h = json.loads(json.dumps(head))
    f(h, names[0])
    put(name, h, data)
edit("st-backwards", lambda h, k: h[k].update(data_offsets=h[k]["data_offsets"][::-1]))
edit("st-offset63", lambda h, k: h[k].update(data_offsets=[0, 2**63]))
edit("st-shape80", lambda h, k: h[k].update(shape=[2**40, 2**40]))
edit("st-scalar", lambda h, k: h[k].update(shape=[]))
edit("st-3d", lambda h, k: h[k].update(shape=[8, 2, 1]))
edit("st-metalist", lambda h, k: h["__metadata__"].update(widths=[2, 8, 2]))
edit("st-metanul", lambda h, k: h["__metadata__"].update(activation="quad:0.5\u0000"))
edit("st-metanan", lambda h, k: h["__metadata__"].update(activation="quad:nan"))
edit("st-metainf", lambda h, k: h["__metadata__"].update(activation="leaky_relu:inf"))
open(f"{d}/st-hlen.safetensors", "wb").write(struct.pack("<Q", 2**62) + raw[8:])
open(f"{d}/st-array.safetensors", "wb").write(struct.pack("<Q", 8) + b"[1,2,3] ")
PY29
npx() { echo --threads 1 train --task data --train-x "$D29/$1.npy" --train-y "$D29/${2:-y}.npy" --test-split 0:100 --hidden 4 --epochs 1 --out "$D29/m.safetensors"; }
for f in x xbe xF x3d xnopad xv2 xv3 xkeys; do
  check "npy $f" + $(npx $f)
done
# float16 is read since the fiftieth session (widened exactly); all-zero features train nothing,
# refused naming --lr.
for f in xf2; do
  check "npy $f" "--lr" $(npx $f)
done
for f in x0d x0len x0feat xc16 xO xb1 xrec xhuge xhlen xneg; do
  check "npy $f" "$f.npy" $(npx $f)
done
for f in F32 F16 BF16 reversed; do
  check "safetensors $f" + --threads 1 propagate --model "$D29/st-$f.safetensors" --task xor --json
done
for f in I64 gap backwards offset63 shape80 scalar 3d metalist metanul metanan metainf hlen array; do
  check "safetensors $f" "st-$f.safetensors" --threads 1 propagate --model "$D29/st-$f.safetensors" --task xor --json
done
g29() { printf 'task = "xor"\nn_train = 400\n%b' "$2" >"$D29/$1.toml"; }
g29 dupkey 'epochs = 1\nepochs = 2\n'
g29 duptable '[net]\nhidden = [[4]]\n[net]\nhidden = [[8]]\n'
g29 deep "hidden = $(printf '[%.0s' $(seq 5000))4$(printf ']%.0s' $(seq 5000))\n"
g29 inline "x = $(printf '{a=%.0s' $(seq 3000))1$(printf '}%.0s' $(seq 3000))\n"
g29 points "n_test = [$(seq -s, 100 2099)]\nepochs = [$(seq -s, 1 2000)]\nseed = [$(seq -s, 0 1999)]\n"
g29 overflow 'epochs = 1e400\n'
g29 seedmax 'seed = 18446744073709551615\n'
for g in dupkey duptable deep inline points overflow seedmax; do
  check "grid $g" "$g.toml" --threads 1 sweep --grid "$D29/$g.toml" --out "$D29/sw-$g" --dry-run
done
printf '\xef\xbb\xbftask = "xor"\r\nn_train = 400\r\nepochs = 1\r\n' >"$D29/bomcrlf.toml"
check "grid with a BOM and CRLF" + --threads 1 sweep --grid "$D29/bomcrlf.toml" --out "$D29/sw-bom"
check "--seed 2^64" "--seed" --threads 1 train "${XOR[@]}" --seed 18446744073709551616 --out "$D29/m.safetensors"
for v in nan inf -inf 1e400; do
  check "--lr $v" "--lr" --threads 1 train "${XOR[@]}" --lr=$v --out "$D29/m.safetensors"
  check "--gain $v" "--gain" --threads 1 train "${XOR[@]}" --gain=$v --out "$D29/m.safetensors"
  check "--sigma $v" "--sigma" --threads 1 train "${XOR[@]}" --sigma=$v --out "$D29/m.safetensors"
done
check "--n-train 0" "--n-train" --threads 1 train "${XOR[@]}" --n-train 0 --out "$D29/m.safetensors"
check "--n-train 2^63" "--n-train" --threads 1 train "${XOR[@]}" --n-train 9223372036854775808 --out "$D29/m.safetensors"
check "--mc-samples 0" "--mc-samples" --threads 1 analyze --model "$OUT" --task xor --mc-samples 0 --json
check "--mc-samples 2^64" "--mc-samples" --threads 1 analyze --model "$OUT" --task xor --mc-samples 18446744073709551616 --json
COLUMNS=0 check "COLUMNS=0" + --threads 1 train "${XOR[@]}" --out "$D29/m.safetensors"
COLUMNS=-5 check "COLUMNS=-5 --help" + train --help
PRE="unset HOME" check "HOME unset" + --threads 1 train "${XOR[@]}" --out "$D29/m.safetensors"
TMPDIR=$D29/none CORRFLOW_CACHE= check "TMPDIR missing (MNIST cache)" + --threads 1 train "${MN[@]}" --train-limit 500 --hidden 8 --epochs 1 --out "$D29/m.safetensors"
PRE="export LC_ALL=tr_TR.UTF-8 LANG=xx 2>/dev/null" check "odd locale" + --threads 1 train "${XOR[@]}" --out "$D29/m.safetensors"
# Two writers of one --out at once: a whole model (the last rename) and no temporary file.
rm -rf "$D29/same" && mkdir -p "$D29/same"
for i in 1 2 3; do
  "$BIN" --threads 1 train --task xor --epochs 20 --hidden 100 --seed $i --out "$D29/same/m.safetensors" >/dev/null 2>&1 &
done
wait
check "model of three writers at once" + --threads 1 propagate --model "$D29/same/m.safetensors" --task xor --json
n=$(ls -A "$D29/same" | grep -c corrflow-tmp)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "three writers of one --out: $n temporary files"; }
printf 'task = "xor"\nn_train = 400\nhidden = [[4], [8], [16], [32]]\nepochs = [1, 2, 3]\n' >"$D29/g2.toml"
rm -rf "$D29/sw2"
for i in 1 2; do "$BIN" --threads 1 sweep --grid "$D29/g2.toml" --out "$D29/sw2" >/dev/null 2>"$D29/sw2.e$i" & done
wait
[ "$(wc -l <"$D29/sw2/results.jsonl")" = 12 ] && python3 -c 'import json, sys
ids = [json.dumps(json.loads(l).get("id")) for l in open(sys.argv[1])]
sys.exit(0 if len(set(ids)) == 12 else 1)' "$D29/sw2/results.jsonl" ||
  { implausible=$((implausible + 1)); echo "two sweeps into one --out: not 12 distinct records"; }
cat "$D29"/sw2.e1 "$D29"/sw2.e2 | grep -q "another corrflow sweep is writing" ||
  echo "two sweeps into one --out: neither was refused (ran one after the other)"
# The --out folder removed mid-run: refused naming it.
mkdir -p "$D29/gone"
"$BIN" --threads 1 train --task xor --epochs 300 --hidden 200 --out "$D29/gone/m.safetensors" >/dev/null 2>"$D29/gone.err" &
pid=$!
sleep 1
rm -rf "$D29/gone"
wait $pid
rc=$?
runs=$((runs + 1))
if [ $rc -gt 128 ]; then
  panics=$((panics + 1)); echo "--out folder removed mid-run: died of signal $((rc - 128))"
elif [ $rc -ne 0 ] && ! grep -q "gone" "$D29/gone.err"; then
  unnamed=$((unnamed + 1)); echo "--out folder removed mid-run: $(head -c 160 "$D29/gone.err")"
fi
# Inputs truncated while mapped: each try stopped, the file cut to 1 MB (100 kB), continued;
# the run must end without a signal, naming the file where it fails.
shrink() { # NAME FILE KEEP ARGS...: KEEP the bytes to restore FILE from before each try
  local name=$1 file=$2 keep=$3 rc delay
  shift 3
  for delay in 0.02 0.1 0.3; do
    cp "$keep" "$file"
    runs=$((runs + 1))
    ( exec "$BIN" "$@" >/dev/null 2>"$D29/shrink.err" ) &
    local pid=$!
    sleep $delay
    kill -STOP $pid 2>/dev/null
    truncate -s 100000 "$file"
    kill -CONT $pid 2>/dev/null
    wait $pid
    rc=$?
    if [ $rc -gt 128 ]; then
      panics=$((panics + 1)); echo "$name truncated after ${delay} s: died of signal $((rc - 128))"
    elif [ $rc -ne 0 ] && ! grep -qF "$(basename "$file")" "$D29/shrink.err"; then
      unnamed=$((unnamed + 1)); echo "$name truncated after ${delay} s: $(head -c 160 "$D29/shrink.err")"
    fi
  done
  cp "$keep" "$file"
}
cp "$D29/big-x.npy" "$D29/big-x.keep"
shrink "npy training set" "$D29/big-x.npy" "$D29/big-x.keep" --threads 1 train --task data \
  --train-x "$D29/big-x.npy" --train-y "$D29/big-y.npy" --test-split 0:1000 --hidden 4 --epochs 1 --out "$D29/m.safetensors"
mkdir -p "$D29/mn"
for f in train5k-images-idx3-ubyte train5k-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  gzip -dc "$MNIST/$f.gz" >"$D29/mn/$f"
done
cp "$D29/mn/t10k-images-idx3-ubyte" "$D29/t10k.keep"
shrink "IDX test set" "$D29/mn/t10k-images-idx3-ubyte" "$D29/t10k.keep" --threads 1 train --task mnist \
  --mnist-dir "$D29/mn" --hidden 32 --epochs 3 --out "$D29/m.safetensors"
n=$(ls -A "$D29" "$D29/mn" | grep -c corrflow-tmp)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "inputs truncated mid-run: $n temporary files"; }

# 30. Thirty-ninth session (adv39): a file mapped more than 64 times at once (a sweep of 100
# points, each mapping its training and test set) truncated mid-run (adv38's registry named
# the first 64 maps only: Bus error, exit 135; every faulting thread printed the line), npy
# headers with a key NumPy does not write or one given twice (read, the repeated descr at its
# first value), the smooth activations (tanh, sigmoid, SiLU, softplus, GELU, erf) trained at
# --lr 1e6 to 1e150 and their saturated models propagated and analysed, data of 1e150, 1e300,
# one f64::MAX and subnormals under three activations, a diverged --lr 1e300 said in 301 digits,
# a model too large for --max-memory blamed on --hidden (never given), `ulimit -v` 150-600 MB
# (faer's GEMM workspace is 2 x L3 = 520 MiB per thread here: "memory allocation of 545259520
# bytes failed", exit 134, where 64 MiB was reserved), --threads 8/9, RAYON_NUM_THREADS=100000,
# a sweep grid of seven activations x gains 1e100-1e200. A repeated error line counts as
# implausible.
D30=$W/d30
mkdir -p "$D30"
python3 - "$D30" <<'PY30'
import random, struct, sys
from npy import header_text, npy
d = sys.argv[1]
rng = random.Random(30)
n = 400
xs = [rng.gauss(0, 1) for _ in range(n * 4)]
f8 = lambda v, s=1.0: b"".join(struct.pack("<d", x * s) for x in v)
npy(f"{d}/y.npy", "<i8", (n,), b"".join(struct.pack("<q", k % 2) for k in range(n)))
for name, s in [("x", 1.0), ("x1e150", 1e150), ("x1e300", 1e300), ("xsub", 1e-310)]:
    npy(f"{d}/{name}.npy", "<f8", (n, 4), f8(xs, s))
npy(f"{d}/xmax.npy", "<f8", (n, 4), f8([1.7976931348623157e308] + xs[1:]))
npy(f"{d}/xextra.npy", data=f8(xs), header=header_text("<f8", (n, 4))[:-2] + "'units': 'm', }")
npy(f"{d}/xdup.npy", data=f8(xs), header="{'descr': '<i8', 'fortran_order': False, 'shape': (%d, 4), 'descr': '<f8', }" % n)
m = 25000
npy(f"{d}/big-x.npy", "<f8", (m, 16), b"".join(struct.pack("<d", (k * 7919 % 1000) / 1000) for k in range(m * 16)))
npy(f"{d}/big-y.npy", "<i8", (m,), b"".join(struct.pack("<q", k % 3) for k in range(m)))
PY30
nx30() { echo --threads 1 train --task data --train-x "$D30/$1.npy" --train-y "$D30/y.npy" --test-split 0:100 --hidden 8 --epochs 3; }
check "npy with an extra key" "!units" $(nx30 xextra) --out "$D30/m.safetensors"
check "npy with descr twice" "!descr" $(nx30 xdup) --out "$D30/m.safetensors"
# Saturating activations at huge learning rates: trained or refused; what is written is read.
for a in tanh sigmoid silu softplus gelu erf; do
  for lr in 1e6 1e30 1e150; do
    m30="$D30/m-$a-$lr.safetensors"
    rm -f "$m30"
    check "train $a --lr $lr" - --threads 1 train --task xor --epochs 3 --hidden 8,8 --activation $a --lr $lr --out "$m30"
    [ -f "$m30" ] || continue
    for o in 2 4; do check "propagate $a lr $lr order $o" - --threads 1 propagate --model "$m30" --task xor --order $o --json; done
    check "analyze $a lr $lr" - --threads 1 analyze --model "$m30" --task xor --json
  done
done
check "--lr 1e300 said in short" "(now 1e300)" --threads 1 train --task xor --hidden 8 --activation tanh --lr 1e300 --epochs 3 --out "$D30/m.safetensors"
# Data at the edges of f64 under three activations.
for f in x1e150 x1e300 xmax xsub; do
  for a in tanh relu softplus; do
    m30="$D30/d-$f-$a.safetensors"
    rm -f "$m30"
    check "train $f $a" - $(nx30 $f) --activation $a --out "$m30"
    [ -f "$m30" ] || continue
    for cmd in "propagate --order 2" "propagate --order 4" analyze; do
      check "$cmd $f $a" - --threads 1 $cmd --model "$m30" --task data --train-x "$D30/$f.npy" --train-y "$D30/y.npy" --test-split 0:100 --json
    done
  done
done
# A model over the memory limit is the model file's error, not --hidden's.
"$BIN" --threads 1 train "${XOR[@]}" --hidden 300,300 --out "$D30/w300.safetensors" >/dev/null 2>&1
for cmd in propagate analyze; do
  check "$cmd model over --max-memory" "w300.safetensors: its metadata 'widths'" --threads 1 $cmd --model "$D30/w300.safetensors" --task xor --max-memory 80M
done
# Address space: faer's GEMM workspace is reserved per thread.
for mb in 150 250 400 600; do
  for t in 1 2; do
    PRE="ulimit -v $((mb * 1024))" check "train under ulimit -v ${mb} MB, $t threads" "ulimit -v" --threads $t train "${XOR[@]}" --hidden 8 --out "$D30/m.safetensors"
  done
  PRE="ulimit -v $((mb * 1024))" check "propagate under ulimit -v ${mb} MB" "ulimit -v" --threads 1 propagate --model "$OUT" --task xor --json
  PRE="ulimit -v $((mb * 1024))" check "analyze under ulimit -v ${mb} MB" "ulimit -v" --threads 1 analyze --model "$OUT" --task xor --json
done
check "--threads 8" + --threads 8 train "${XOR[@]}" --hidden 8 --out "$D30/m.safetensors"
check "--threads 9" --threads --threads 9 train "${XOR[@]}" --hidden 8 --out "$D30/m.safetensors"
RAYON_NUM_THREADS=100000 check "RAYON_NUM_THREADS=100000" RAYON_NUM_THREADS --threads 0 train "${XOR[@]}" --hidden 8 --out "$D30/m.safetensors"
printf 'task = "xor"\nn_train = 400\nhidden = [[8]]\nepochs = 2\nseed = [1, 2, 3, 4, 5, 6, 7, 8]\n' >"$D30/g8.toml"
rm -rf "$D30/sw8"
check "sweep --threads 8 --jobs 8" + --threads 8 sweep --grid "$D30/g8.toml" --jobs 8 --out "$D30/sw8"
printf 'task = "xor"\nn_train = 400\nhidden = [[8, 8]]\nepochs = 3\nactivation = ["tanh", "softplus", "gelu", "silu", "sigmoid", "quad:1e150", "leaky_relu:1e300"]\ngain = [1e100, 1e150, 1e200]\n' >"$D30/gh.toml"
rm -rf "$D30/swh"
check "sweep of activations x huge gains" gh.toml --threads 1 sweep --grid "$D30/gh.toml" --out "$D30/swh"
[ -f "$D30/swh/results.jsonl" ] && ! python3 -c 'import json, sys
for line in open(sys.argv[1]):
    json.loads(line, parse_constant=lambda c: sys.exit(1))' "$D30/swh/results.jsonl" &&
  { nonfinite=$((nonfinite + 1)); echo "sweep of huge gains: a record a strict parser refuses"; }
# One .npy mapped by 100 sweep points at once (train and test set each): stopped once more than
# 70 maps of it are held, truncated, continued: exit 2 naming it once, no signal.
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_x = "%s"\ntest_y = "%s"\nhidden = [[4]]\nepochs = 1\nseed = [%s]\n' \
  "$D30/big-x.npy" "$D30/big-y.npy" "$D30/big-x.npy" "$D30/big-y.npy" "$(seq -s, 0 99)" >"$D30/gm.toml"
cp "$D30/big-x.npy" "$D30/big-x.keep"
for try in 1 2 3; do
  rm -rf "$D30/swm"
  cp "$D30/big-x.keep" "$D30/big-x.npy"
  runs=$((runs + 1))
  ( exec "$BIN" --threads 1 sweep --grid "$D30/gm.toml" --jobs 100 --out "$D30/swm" >/dev/null 2>"$D30/swm.err" ) &
  pid=$!
  held=0
  while [ -d /proc/$pid ] && [ "$held" -le 70 ]; do
    held=$(grep -c 'big-x.npy$' /proc/$pid/maps 2>/dev/null)
    held=${held:-0}
  done
  kill -STOP $pid 2>/dev/null
  held=$(grep -c 'big-x.npy$' /proc/$pid/maps 2>/dev/null)
  [ "${held:-0}" -gt 70 ] && truncate -s 1000000 "$D30/big-x.npy"
  kill -CONT $pid 2>/dev/null
  wait $pid
  rc=$?
  said=$(grep -c "big-x.npy: the file shrank" "$D30/swm.err")
  if [ $rc -gt 128 ]; then
    panics=$((panics + 1)); echo "npy mapped ${held} times, truncated: died of signal $((rc - 128))"
  elif [ $rc -ne 0 ] && [ "$said" -eq 0 ]; then
    unnamed=$((unnamed + 1)); echo "npy mapped ${held} times, truncated: $(head -c 160 "$D30/swm.err")"
  elif [ "$said" -gt 1 ]; then
    implausible=$((implausible + 1)); echo "npy mapped ${held} times, truncated: the error said $said times"
  fi
  [ "${held:-0}" -gt 70 ] && break
done
cp "$D30/big-x.keep" "$D30/big-x.npy"
n=$(find "$D30" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 30: $n temporary files"; }

# 31. Forty-first session (adv41): --timings under `ulimit -v` (its GEMM calibration ran before
# the run's memory check: "memory allocation of 545259520 bytes failed", exit 134, at every
# limit below ~600 MB, where the run without it was refused naming ulimit -v), matrix blocks over
# 32 MiB mapped on their own (MNIST's 10 000 x 784 test set) at the limits just below and above
# what a run needs, 1 and 2 threads; models at f64's extremes for the lane kernels (pre-activations
# inf - inf, +-inf, a constant +-1e308 whose class sum overflows: said as a spread of 1.9e153,
# subnormal and -0.0 weights, a read-out of 1e308) under sigmoid, SiLU, softplus, GELU, tanh;
# safetensors data and models whose header gives a tensor or a metadata key twice (read at the
# last entry, exit 0), header lengths of 2^63 and 2^64-1, metadata that is not strings, a header
# that is not UTF-8, labels of 2^64-1, -1, BOOL and a length other than the samples'; IDX labels
# 10 and 255, shorter or longer than the images; grids with an empty list, 10^21 points, a
# Unicode path; SIGTERM during `analyze --report` and a sweep (no debris; the resumed sweep holds
# each point once).
D31=$W/d31
mkdir -p "$D31"
python3 - "$D31" "$OUT" <<'PY31'
import gzip, json, os, random, struct, sys
from npy import npy
d, model = sys.argv[1:3]
rng = random.Random(31)
f8 = lambda v: b"".join(struct.pack("<d", x) for x in v)
i8 = lambda v: b"".join(struct.pack("<q", x) for x in v)
n = 400
xs, ys = [], []
for k in range(n):
    a, b = rng.choice([-1, 1]) * rng.uniform(2, 5), rng.choice([-1, 1]) * rng.uniform(2, 5)
    xs += [a, b]
    ys.append(int((a > 0) != (b > 0)))
npy(f"{d}/x.npy", "<f8", (n, 2), f8(xs))
npy(f"{d}/y.npy", "<i8", (n,), i8(ys))
def st(path, tensors, meta=None, header=None, hlen=None):
    head, body = ({"__metadata__": meta} if meta is not None else {}), b""
    for name, dt, shape, bs in tensors:
        head[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(body), len(body) + len(bs)]}
        body += bs
    hb = header if header is not None else json.dumps(head).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(hb) if hlen is None else hlen) + hb + body)
def net(name, act, w1, b1, w2=(0.5, -0.5, 0.25, -0.25, -0.5, 0.5, -0.25, 0.25), b2=(0.0, 0.0)):
    st(f"{d}/m-{name}-{act}.safetensors",
       [("hidden1.weight", "F64", [4, 2], f8(w1)), ("hidden1.bias", "F64", [4], f8(b1)),
        ("readout.weight", "F64", [2, 4], f8(w2)), ("readout.bias", "F64", [2], f8(b2))],
       {"format": "corrflow-mlp", "widths": "2,4,2", "activation": act})
for act in ["sigmoid", "silu", "softplus", "gelu", "tanh"]:
    net("nan", act, [1e308, -1e308] * 4, [0.0] * 4)
    net("inf", act, [1e308, 1e308] * 4, [1e308] * 4)
    net("bias", act, [0.0] * 8, [1e308, -1e308, 1e308, -1e308])
    net("sub", act, [5e-324] * 8, [5e-324] * 4)
    net("negzero", act, [-0.0] * 8, [-0.0] * 4, [-0.0] * 8, [-0.0] * 2)
    net("readout", act, [1.0, 1.0, -1.0, 1.0, 1.0, -1.0, 0.5, 0.5], [0.0] * 4,
        [1e308, -1e308, 1e308, -1e308, -1e308, 1e308, -1e308, 1e308])
m = 40
X = b"".join(struct.pack("<d", rng.gauss(0, 1) + 4 * (k // 2 % 2)) for k in range(2 * m))
Y = i8([k % 2 for k in range(m)])
x64 = ("x", "F64", [m, 2], X)
st(f"{d}/ok.safetensors", [x64, ("y", "I64", [m], Y)])
hdr = '{"x":{"dtype":"F64","shape":[40,2],"data_offsets":[0,640]},"x":{"dtype":"I64","shape":[40,2],"data_offsets":[0,640]},"y":{"dtype":"I64","shape":[40],"data_offsets":[640,960]}}'
open(f"{d}/xtwice.safetensors", "wb").write(struct.pack("<Q", len(hdr)) + hdr.encode() + X + Y)
st(f"{d}/hlen63.safetensors", [x64, ("y", "I64", [m], Y)], hlen=2**63)
st(f"{d}/hlenmax.safetensors", [x64, ("y", "I64", [m], Y)], hlen=2**64 - 1)
st(f"{d}/metanum.safetensors", [x64, ("y", "I64", [m], Y)], meta={"a": 1})
st(f"{d}/nonutf8.safetensors", [], header=b'{"x":{"dtype":"F64","shape":[40,2],"data_offsets":[0,640]},"y":{"dtype":"I64","shape":[40],"data_offsets":[640,960]},"__metadata__":{"k":"\xff\xfe"}}')
with open(f"{d}/nonutf8.safetensors", "ab") as f:
    f.write(X + Y)
st(f"{d}/ybig.safetensors", [x64, ("y", "U64", [m], b"".join(struct.pack("<Q", 2**64 - 1 if k == 0 else k % 2) for k in range(m)))])
st(f"{d}/yneg.safetensors", [x64, ("y", "I64", [m], i8([-1] + [k % 2 for k in range(1, m)]))])
st(f"{d}/ybool.safetensors", [x64, ("y", "BOOL", [m], bytes(k % 2 for k in range(m)))])
st(f"{d}/yshort.safetensors", [x64, ("y", "I64", [m - 5], i8([k % 2 for k in range(m - 5)]))])
st(f"{d}/ylong.safetensors", [x64, ("y", "I64", [m + 5], i8([k % 2 for k in range(m + 5)]))])
st(f"{d}/xzero.safetensors", [("x", "F64", [m, 0], b""), ("y", "I64", [m], Y)])
raw = open(model, "rb").read()
hl = struct.unpack("<Q", raw[:8])[0]
text = raw[8:8 + hl].decode().rstrip()
twice = text.replace('"format":', '"widths":"2,9,2","format":', 1).encode()
twice += b" " * ((8 - len(twice) % 8) % 8)
open(f"{d}/widths-twice.safetensors", "wb").write(struct.pack("<Q", len(twice)) + twice + raw[8 + hl:])
mn = os.environ.get("MNIST_DIR", "/work/shared/mnist")
lab = gzip.open(f"{mn}/train5k-labels-idx1-ubyte.gz").read()
open(f"{d}/img", "wb").write(gzip.open(f"{mn}/train5k-images-idx3-ubyte.gz").read())
k = struct.unpack(">I", lab[4:8])[0]
for name, b in [("l10", lab[:8] + bytes([10]) + lab[9:]), ("l255", lab[:8] + bytes([255]) + lab[9:]),
                ("lshort", lab[:4] + struct.pack(">I", k - 10) + lab[8:-10]),
                ("llong", lab[:4] + struct.pack(">I", k + 10) + lab[8:] + bytes(10))]:
    open(f"{d}/{name}", "wb").write(b)
PY31
# share: what each thread maps beyond the estimates (faer's workspace + stack), as the binary
# says (522 MiB on adv41's machine, 962 MiB on a 480 MiB-L3 Xeon: the limits below were fixed
# numbers of MB until adv45, and the run that must succeed at 680 MB was refused there).
share=$( (ulimit -v 300000; "$BIN" --threads 1 train "${XOR[@]}" --out "$D31/m.safetensors" 2>&1 >/dev/null) | grep -o 'less [0-9]* MiB per thread' | tr -cd 0-9)
share=${share:-522}
# --timings under ulimit -v: refused naming it, or runs; never the calibration's abort.
for mb in 150 250 400 580 620 $((share + 60)) $((share + 100)); do
  for t in 1 2; do
    PRE="ulimit -v $((mb * 1024))" check "train --timings, ulimit -v $mb MB, $t threads" "ulimit -v" --threads $t train "${XOR[@]}" --hidden 8 --timings --out "$D31/m.safetensors"
  done
  PRE="ulimit -v $((mb * 1024))" check "propagate --timings, ulimit -v $mb MB" "ulimit -v" --threads 1 propagate --model "$OUT" --task xor --timings --json
  PRE="ulimit -v $((mb * 1024))" check "analyze --timings, ulimit -v $mb MB" "ulimit -v" --threads 1 analyze --model "$OUT" --task xor --timings --json
done
PRE="ulimit -v $(((share + 160) * 1024))" check "propagate --timings, ulimit -v $((share + 160)) MB" + --threads 1 propagate --model "$OUT" --task xor --timings --json
# Mapped matrix blocks (> 32 MiB: MNIST's test set) just below and above the limit they need.
for mb in $((share + 678)) $((share + 698)) $((share + 718)) $((share + 778)); do
  for cmd in propagate analyze; do
    PRE="ulimit -v $((mb * 1024))" check "$cmd MNIST, ulimit -v $mb MB" "ulimit -v" --threads 1 $cmd --model "$W/mnist.safetensors" "${MN[@]}" --json
  done
  PRE="ulimit -v $(((mb + share) * 1024))" check "propagate MNIST, 2 threads, ulimit -v $((mb + share)) MB" "ulimit -v" --threads 2 propagate --model "$W/mnist.safetensors" "${MN[@]}" --json
done
# Models at f64's extremes through the lane kernels.
dx31=(--task data --train-x "$D31/x.npy" --train-y "$D31/y.npy" --test-split 0:100)
for a in sigmoid silu softplus gelu tanh; do
  for m31 in nan inf readout; do
    check "propagate $m31 $a" "m-$m31-$a.safetensors" --threads 1 propagate --model "$D31/m-$m31-$a.safetensors" "${dx31[@]}" --json
  done
  check "propagate bias 1e308 $a" "the sum of its values overflows" --threads 1 propagate --model "$D31/m-bias-$a.safetensors" "${dx31[@]}" --json
  for m31 in sub negzero; do
    for o in 2 4; do check "propagate $m31 $a order $o" + --threads 1 propagate --model "$D31/m-$m31-$a.safetensors" "${dx31[@]}" --order $o --json; done
    check "analyze $m31 $a" + --threads 1 analyze --model "$D31/m-$m31-$a.safetensors" "${dx31[@]}" --json
  done
done
# Odd safetensors data and models.
st31() { echo --threads 1 train --task data --train-x "$D31/$1.safetensors" --train-y "$D31/$1.safetensors" --test-split 0:10 --hidden 4 --epochs 1 --out "$D31/m.safetensors"; }
check "safetensors data ok" + $(st31 ok)
check "safetensors tensor x twice" "!names tensor 'x' twice" $(st31 xtwice)
for f in hlen63 hlenmax metanum nonutf8 ybig yneg ybool yshort ylong xzero; do
  check "safetensors data $f" "$f.safetensors" $(st31 $f)
done
check "model with widths twice" "!gives key 'widths' twice" --threads 1 propagate --model "$D31/widths-twice.safetensors" --task xor --json
for l in l10 l255 lshort llong; do
  check "IDX labels $l" "$l" --threads 1 train --task mnist --train-images "$D31/img" --train-labels "$D31/$l" --test-split 0:500 --hidden 8 --epochs 1 --out "$D31/m.safetensors"
done
# Grids.
printf 'task = "xor"\nn_train = 200\nhidden = []\n' >"$D31/empty.toml"
{ printf 'task = "xor"\nn_train = 200\n'; for key in seed epochs n_test batch; do printf '%s = [%s]\n' $key "$(seq -s, 1 1000)"; done; printf 'lr = [%s]\ngain = [%s]\nsigma = [%s]\n' "$(seq -s, 1 1000 | sed 's/\([0-9][0-9]*\)/0.\1/g')" "$(seq -s, 1 1000 | sed 's/\([0-9][0-9]*\)/0.\1/g')" "$(seq -s, 1 1000 | sed 's/\([0-9][0-9]*\)/0.\1/g')"; } >"$D31/e21.toml"
for g in empty e21; do check "grid $g" "$g.toml" --threads 1 sweep --grid "$D31/$g.toml" --out "$D31/sw-$g" --dry-run; done
: >"$D31/nokey.toml"
printf '# a grid to fill in\n\n' >"$D31/comments.toml"
for g in nokey comments; do check "grid $g (no key)" "$g.toml: holds no key" --threads 1 sweep --grid "$D31/$g.toml" --out "$D31/sw-$g"; done
printf 'task = "xor"\nn_train = 200\nepochs = 1\n' >"$D31/ü名前 grid.toml"
check "grid with a Unicode path" + --threads 1 sweep --grid "$D31/ü名前 grid.toml" --out "$D31/sw-ü名前"
# Outputs.
check "--out /dev/full" "/dev/full" --threads 1 train "${XOR[@]}" --out /dev/full
: >"$D31/afile"
check "--report a file" "afile" --threads 1 analyze --model "$OUT" --task xor --report "$D31/afile"
# SIGTERM mid-run: no temporary file, no partial report; a resumed sweep holds each point once.
for delay in 0.3 0.8 1.5; do
  rm -rf "$D31/rep"
  runs=$((runs + 1))
  ( exec "$BIN" --threads 1 analyze --model "$W/mnist.safetensors" "${MN[@]}" --report "$D31/rep" >/dev/null 2>&1 ) &
  pid=$!
  sleep $delay
  kill -TERM $pid 2>/dev/null
  wait $pid
  rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 143 ]; then
    panics=$((panics + 1)); echo "analyze --report, SIGTERM after $delay s: exit $rc"
  fi
  if [ -d "$D31/rep" ] && [ ! -f "$D31/rep/report.json" ]; then
    debris=$((debris + 1)); echo "analyze --report, SIGTERM after $delay s: a report folder without report.json"
  fi
done
printf 'task = "xor"\nn_train = 2000\nhidden = [[64, 64]]\nepochs = 30\nseed = [1, 2, 3, 4, 5, 6]\n' >"$D31/gs.toml"
for delay in 0.5 1; do
  rm -rf "$D31/sws"
  runs=$((runs + 1))
  ( exec "$BIN" --threads 1 sweep --grid "$D31/gs.toml" --jobs 2 --out "$D31/sws" >/dev/null 2>&1 ) &
  pid=$!
  sleep $delay
  kill -TERM $pid 2>/dev/null
  wait $pid
  "$BIN" --threads 1 sweep --grid "$D31/gs.toml" --jobs 2 --out "$D31/sws" >/dev/null 2>"$D31/sws.err" ||
    { refused=$((refused + 1)); echo "sweep resumed after SIGTERM: $(head -c 160 "$D31/sws.err")"; }
  python3 -c 'import json, sys
ids = [json.loads(l)["id"] for l in open(sys.argv[1])]
sys.exit(0 if len(ids) == 6 and len(set(ids)) == 6 else 1)' "$D31/sws/results.jsonl" ||
    { implausible=$((implausible + 1)); echo "sweep resumed after SIGTERM after $delay s: not 6 distinct records"; }
done
n=$(find "$D31" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 31: $n temporary files"; }

# 32. Forty-third session (adv43): a sweep's memory budget under `ulimit -v` (the points' pools
# are smaller than the sweep's threads: refusals named --max-memory, never given, and no ulimit
# -v), `--threads 1/2/8` and sweep `--jobs 1/2` just below and above what the threads leave;
# NaN and +-inf pre-activations under relu, leaky relu, quadratic, linear and erf (the lane
# kernels' clamps turned NaN into e^709, 0 or 1: refused before phi?); biases of 1e200 and
# +-1e308 on zero and nonzero weights under `analyze` (said to be the data's, "rescale the
# data"; a constant 1e200 said to deviate by 1.9e153); npy files of every dtype NumPy writes,
# byte orders, Fortran order, versions 1-3 and 9, 0-d, 1-d, 3-d, empty, huge, negative and
# lying shapes, labels of float, bool, one-hot; `--scale` with a generated task (ignored) and
# 1e-320 (the data's values overflow: blamed on the file, printed in 330 digits); `--report` to
# /dev/null, under a file, a FIFO, /proc, a 300-byte name and a 5 000-byte path; absurd
# --mc-samples, --order, --from-layer, --heatmap-layer, --kappa-units; models whose widths do
# not chain; Unicode and very long model, data and output paths.
D32=$W/d32
mkdir -p "$D32"
python3 - "$D32" <<'PY32'
import json, random, struct, sys
from npy import into
d = sys.argv[1]
rng = random.Random(32)
npy = into(d)
pk = lambda f, v: b"".join(struct.pack(f, x) for x in v)
n = 200
xs, ys = [], []
for k in range(n):
    a, b = rng.choice([-1, 1]) * rng.uniform(2, 5), rng.choice([-1, 1]) * rng.uniform(2, 5)
    xs += [a, b]
    ys.append(int((a > 0) != (b > 0)))
npy("x.npy", "<f8", (n, 2), pk("<d", xs))
npy("y.npy", "<i8", (n,), pk("<q", ys))
npy("ü名前 x.npy", "<f8", (n, 2), pk("<d", xs))
good = {"be": (">f8", (n, 2), pk(">d", xs)), "f4": ("<f4", (n, 2), pk("<f", xs)),
        "i1": ("|i1", (n, 2), pk("<b", [int(x * 20) for x in xs])),
        "i8": ("<i8", (n, 2), pk("<q", [int(x * 1000) for x in xs])),
        "u1": ("|u1", (n, 2), bytes(int(abs(x) * 40) for x in xs)),
        "u8": ("<u8", (n, 2), pk("<Q", [2**64 - 1 - int(abs(x) * 1000) for x in xs])),
        "3d": ("<f8", (n, 2, 1), pk("<d", xs)), "f2": ("<f2", (n, 2), pk("<e", xs))}
for k, (descr, shape, data) in good.items():
    npy(f"xg-{k}.npy", descr, shape, data)
npy("xg-fortran.npy", "<f8", (n, 2), pk("<d", xs[0::2] + xs[1::2]), fortran=True)
npy("xg-v2.npy", "<f8", (n, 2), pk("<d", xs), version=2)
npy("xg-v3.npy", "<f8", (n, 2), pk("<d", xs), version=3)
bad = {"f16": ("<f16", (n, 2), bytes(32 * n)),
       "c16": ("<c16", (n, 2), bytes(32 * n)), "b1": ("|b1", (n, 2), bytes(2 * n)),
       "O": ("|O", (n, 2), bytes(16 * n)), "V8": ("|V8", (n, 2), bytes(16 * n)),
       "M8": ("<M8[ns]", (n, 2), bytes(16 * n)), "U1": ("<U1", (n, 2), bytes(8 * n)),
       "empty": ("<f8", (0, 2), b""), "n0": ("<f8", (n, 0), b""), "1d": ("<f8", (2 * n,), pk("<d", xs)),
       "0d": ("<f8", (), pk("<d", [1.0])), "huge": ("<f8", (2**40, 2**40), pk("<d", xs)),
       "neg": ("<f8", (-1, 2), pk("<d", xs)), "short": ("<f8", (n, 2), pk("<d", xs)[:-8]),
       "long": ("<f8", (n, 2), pk("<d", xs) + bytes(8))}
for k, (descr, shape, data) in bad.items():
    npy(f"xb-{k}.npy", descr, shape, data)
npy("xb-v9.npy", "<f8", (n, 2), pk("<d", xs), version=9)
npy("xb-struct.npy", data=pk("<d", xs), header=b"{'descr': [('a', '<f8'), ('b', '<f8')], 'fortran_order': False, 'shape': (200,), }")
npy("xb-extra.npy", data=pk("<d", xs), header=b"{'descr': '<f8', 'fortran_order': False, 'shape': (200, 2), 'extra': 1}")
npy("xb-order0.npy", data=pk("<d", xs), header=b"{'descr': '<f8', 'fortran_order': 0, 'shape': (200, 2)}")
npy("yg-2d.npy", "<i8", (n, 1), pk("<q", ys))
npy("yg-be.npy", ">i4", (n,), pk(">i", ys))
npy("yg-u1.npy", "|u1", (n,), bytes(ys))
npy("yb-f8.npy", "<f8", (n,), pk("<d", [float(y) for y in ys]))
npy("yb-b1.npy", "|b1", (n,), bytes(ys))
npy("yb-onehot.npy", "<i8", (n, 2), pk("<q", [v for y in ys for v in ((1, 0), (0, 1))[y]]))
def st(path, tensors, meta):
    head, body = {"__metadata__": meta}, b""
    for name, dt, shape, bs in tensors:
        head[name] = {"dtype": dt, "shape": shape, "data_offsets": [len(body), len(body) + len(bs)]}
        body += bs
    hb = json.dumps(head).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(f"{d}/{path}", "wb").write(struct.pack("<Q", len(hb)) + hb + body)
def net(name, act, w1, b1, w2=(0.5, -0.5, 0.25, -0.25, -0.5, 0.5, -0.25, 0.25), b2=(0.0, 0.0), shapes=([4, 2], [4], [2, 4], [2]), widths="2,4,2"):
    st(f"m-{name}-{act}.safetensors",
       [("hidden1.weight", "F64", shapes[0], pk("<d", w1)), ("hidden1.bias", "F64", shapes[1], pk("<d", b1)),
        ("readout.weight", "F64", shapes[2], pk("<d", w2)), ("readout.bias", "F64", shapes[3], pk("<d", b2))],
       {"format": "corrflow-mlp", "widths": widths, "activation": act})
w = [1.0, 0.5, -1.0, 0.5, 0.5, 1.0, -0.5, -1.0]
for act in ["relu", "leaky_relu:0.1", "quad:0.5", "linear", "erf", "tanh", "sigmoid"]:
    net("nan", act, [1e308, -1e308] * 4, [0.0] * 4)
    net("inf", act, [1e308, 1e308] * 4, [1e308] * 4)
    net("b308w0", act, [0.0] * 8, [1e308, -1e308, 1e308, -1e308])
    net("b308", act, w, [1e308, -1e308, 1e308, -1e308])
    net("b200", act, w, [1e200, -1e200, 1e200, -1e200])
net("chain", "tanh", w, [0.0] * 4, [0.1] * 10, shapes=([4, 2], [4], [2, 5], [2]), widths="2,4,2")
net("chainmeta", "tanh", w, [0.0] * 4, widths="2,5,2")
net("chainbias", "tanh", w, [0.0] * 5, shapes=([4, 2], [5], [2, 4], [2]))
PY32
# A sweep under ulimit -v, --threads T and --jobs J, from T threads' share + 20 MiB to + 220 MiB:
# finished, or refused naming ulimit -v.
# share: what each thread maps beyond the estimates (faer's workspace + stack), as the binary says.
share=$( (ulimit -v 300000; "$BIN" --threads 1 train "${XOR[@]}" --out "$D32/m.safetensors" 2>&1 >/dev/null) | grep -o 'less [0-9]* MiB per thread' | tr -cd 0-9)
share=${share:-522}
printf 'task = "xor"\nn_train = 2000\nhidden = [[64, 64]]\nepochs = 1\nseed = [1, 2]\n' >"$D32/g.toml"
for t in 1 2; do
  for j in 1 2; do
    for extra in 40 100 140 200 300; do
      mb=$((t * share + extra))
      rm -rf "$D32/sw"
      PRE="ulimit -v $((mb * 1024))" check "sweep --threads $t --jobs $j, ulimit -v $mb MB" "ulimit -v" --threads $t sweep --grid "$D32/g.toml" --jobs $j --out "$D32/sw"
      grep -q -- "--max-memory" "$W/err" && { unnamed=$((unnamed + 1)); echo "sweep --threads $t --jobs $j, ulimit -v $mb MB: names --max-memory, never given"; }
    done
  done
done
for j in 18446744073709551615 100000; do
  rm -rf "$D32/sw"
  PRE="ulimit -v $(((2 * share + 900) * 1024))" check "sweep --threads 2 --jobs $j, ulimit -v $((2 * share + 900)) MB" + --threads 2 sweep --grid "$D32/g.toml" --jobs $j --out "$D32/sw"
done
for t in 1 2 8; do
  for extra in 60 110 140 300; do
    mb=$((t * share + extra))
    PRE="ulimit -v $((mb * 1024))" check "train --threads $t, ulimit -v $mb MB" "ulimit -v" --threads $t train "${XOR[@]}" --out "$D32/m.safetensors"
    grep -q -- "--max-memory" "$W/err" && { unnamed=$((unnamed + 1)); echo "train --threads $t, ulimit -v $mb MB: names --max-memory, never given"; }
  done
done
# Non-finite pre-activations and huge biases.
dx32=(--task data --train-x "$D32/x.npy" --train-y "$D32/y.npy" --test-split 0:50)
for a in relu leaky_relu:0.1 quad:0.5 linear erf; do
  for m32 in nan inf; do
    for c in propagate analyze; do check "$c $m32 $a" "m-$m32-$a.safetensors" --threads 1 $c --model "$D32/m-$m32-$a.safetensors" "${dx32[@]}" --json; done
  done
done
for a in relu quad:0.5 tanh sigmoid; do
  for m32 in b308w0 b308 b200; do
    for c in propagate analyze; do
      check "$c bias $m32 $a" "m-$m32-$a.safetensors" --threads 1 $c --model "$D32/m-$m32-$a.safetensors" "${dx32[@]}" --json
      grep -q "rescale the data\|deviates from the class's centre" "$W/err" &&
        { unnamed=$((unnamed + 1)); echo "$c bias $m32 $a: $(grep -o "rescale the data\|deviates from the class's centre" "$W/err" | head -n 1), a spread or a cure that is not there"; }
    done
  done
done
# npy files.
for f in "$D32"/xg-*.npy; do check "npy $(basename "$f")" + --threads 1 train --task data --train-x "$f" --train-y "$D32/y.npy" --test-split 0:50 --hidden 4 --epochs 1 --out "$D32/m.safetensors"; done
for f in "$D32"/xb-*.npy; do check "npy $(basename "$f")" "$(basename "$f")" --threads 1 train --task data --train-x "$f" --train-y "$D32/y.npy" --test-split 0:50 --hidden 4 --epochs 1 --out "$D32/m.safetensors"; done
for f in "$D32"/yg-*.npy; do check "npy labels $(basename "$f")" + --threads 1 train --task data --train-x "$D32/x.npy" --train-y "$f" --test-split 0:50 --hidden 4 --epochs 1 --out "$D32/m.safetensors"; done
for f in "$D32"/yb-*.npy; do check "npy labels $(basename "$f")" "$(basename "$f")" --threads 1 train --task data --train-x "$D32/x.npy" --train-y "$f" --test-split 0:50 --hidden 4 --epochs 1 --out "$D32/m.safetensors"; done
check "npy with a Unicode path" + --threads 1 train --task data --train-x "$D32/ü名前 x.npy" --train-y "$D32/y.npy" --test-split 0:50 --hidden 4 --epochs 1 --out "$D32/ü名前 m.safetensors"
# --scale.
check "--scale with xor" "!--scale" --threads 1 train "${XOR[@]}" --scale 5 --out "$D32/m.safetensors"
check "--scale with propagate xor" "!--scale" --threads 1 propagate --model "$OUT" --task xor --scale 1e-320 --json
for s in 1e-320 5e-324; do
  check "--scale $s on npy data" "--scale" --threads 1 train "${dx32[@]}" --scale $s --hidden 4 --epochs 1 --out "$D32/m.safetensors"
done
check "--scale 1e-300 on npy data" - --threads 1 propagate --model "$OUT" "${dx32[@]}" --scale 1e-300 --json
[ "$(wc -c <"$W/err")" -gt 1500 ] && { unnamed=$((unnamed + 1)); echo "--scale 1e-300: a message of $(wc -c <"$W/err") bytes"; }
# Absurd values.
check "--mc-samples 1e12" --mc-samples --threads 1 analyze --model "$OUT" --task xor --mc-samples 1000000000000 --json
check "--mc-samples 1" --mc-samples --threads 1 analyze --model "$OUT" --task xor --mc-samples 1 --json
for o in 0 1 5 99; do check "--order $o" --order --threads 1 propagate --model "$OUT" --task xor --order $o --json; done
check "--from-layer L+1" --from-layer --threads 1 propagate --model "$OUT" --task xor --from-layer 2 --json
check "--heatmap-layer 99" --heatmap-layer --threads 1 analyze --model "$OUT" --task xor --heatmap-layer 99 --json
check "--kappa-units 0" --kappa-units --threads 1 analyze --model "$OUT" --task xor --order 3 --carry depth --kappa-units 0 --json
check "--kappa-units 2^62" - --threads 1 analyze --model "$OUT" --task xor --order 3 --carry depth --kappa-units $HUGE --json
# Models whose widths do not chain.
for m32 in chain chainmeta chainbias; do check "model $m32" "m-$m32-tanh.safetensors" --threads 1 propagate --model "$D32/m-$m32-tanh.safetensors" "${dx32[@]}" --json; done
# Outputs and paths.
: >"$D32/afile"
mkfifo "$D32/fifo"
long=$(printf 'a%.0s' $(seq 300))
deep="$D32/$(printf 'd%.0s' $(seq 200))"
for k in $(seq 24); do deep="$deep/$(printf 'd%.0s' $(seq 200))"; done
for r in /dev/null "$D32/afile/sub" "$D32/fifo" /proc/self/rep "$D32/$long" "$deep/rep"; do
  check "--report ${r:0:40}" "${r:0:10}" --threads 1 analyze --model "$OUT" --task xor --report "$r"
done
check "--report a Unicode path" + --threads 1 analyze --model "$OUT" --task xor --report "$D32/ü名前 rép"
check "model of a 300-byte name" "aaaaaaaaaa" --threads 1 propagate --model "$D32/$long" --task xor --json
check "model under a 5000-byte path" "dddddddddd" --threads 1 propagate --model "$deep/m.safetensors" --task xor --json
check "--out of a 300-byte name" "aaaaaaaaaa" --threads 1 train "${XOR[@]}" --out "$D32/$long"
check "--train-x under a 5000-byte path" "dddddddddd" --threads 1 train --task data --train-x "$deep/x.npy" --train-y "$D32/y.npy" --test-split 0:50 --out "$D32/m.safetensors"
n=$(find "$D32" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 32: $n temporary files"; }

# 33. Forty-fifth session (adv45): what a refusal echoes of a file's own text (an .npy dtype of
# 30 000 characters, a header that is no dict, a fortran_order of terminal escapes; a model's
# metadata of 20 kB with escapes; a grid key of 5 000 characters with an escape) must be short
# (under 1 500 bytes) and hold no raw escape; the overflowing value of --scale in at most 6
# significant digits; a carry over the memory limit and --kappa-units 2^62 under --order 3/4
# must name --kappa-units; one thread under a `ulimit -v` below its share must not be told to
# lower --threads. A message over 1 500 bytes, with a raw escape, a 17-digit value or advice
# that cannot be followed counts as unnamed.
D33=$W/d33
mkdir -p "$D33"
python3 - "$D33" <<'PY33'
import json, struct, sys
from npy import into
d = sys.argv[1]
npy = into(d)
esc = "\x1b[2J\x1b[31m"
npy("xb-dtype.npy", header=("{'descr': '<" + "f" * 30000 + "', 'fortran_order': False, 'shape': (4, 2), }").encode())
npy("xb-nodict.npy", header=("[" + esc + "1, 2, 3]").encode())
npy("xb-order.npy", data=bytes(64), header=("{'descr': '<f8', 'fortran_order': '" + esc + "', 'shape': (4, 2), }").encode())
xs = [v for k in range(200) for v in ((-1) ** k * (2.1 + k % 7) / 3, (-1) ** (k // 2) * (3 + k % 5) / 7)]
ys = [int((xs[2 * k] > 0) != (xs[2 * k + 1] > 0)) for k in range(200)]
npy("x.npy", "<f8", (200, 2), b"".join(struct.pack("<d", v) for v in xs))
npy("y.npy", "<i8", (200,), b"".join(struct.pack("<q", v) for v in ys))
open(f"{d}/grid-key.toml", "w").write("task = 'xor'\n\"\\u001b[31m" + "k" * 5000 + "\" = [3]\n")
PY33
dx33=(--task data --train-x "$D33/x.npy" --train-y "$D33/y.npy" --test-split 0:50)
for f in dtype nodict order; do
  check "npy header $f" "xb-$f.npy" --threads 1 train --task data --train-x "$D33/xb-$f.npy" --train-y "$D33/y.npy" --test-split 0:2 --hidden 4 --epochs 1 --out "$D33/m.safetensors"
  long33 "npy header $f"
done
check "grid key of 5000 characters" grid-key.toml --threads 1 sweep --grid "$D33/grid-key.toml" --out "$D33/sw"
long33 "grid key of 5000 characters"
"$BIN" --threads 1 train --task xor --hidden 200,100 --epochs 1 --out "$D33/w.safetensors" >/dev/null 2>&1
python3 - "$D33/w.safetensors" "$D33/meta.safetensors" <<'PY33B'
import json, sys
b = open(sys.argv[1], "rb").read()
n = int.from_bytes(b[:8], "little")
h = json.loads(b[8:8 + n])
h["__metadata__"]["activation"] = "\x1b[2J" + "r" * 20000
t = json.dumps(h).encode()
t += b" " * ((8 - len(t) % 8) % 8)
open(sys.argv[2], "wb").write(len(t).to_bytes(8, "little") + t + b[8 + n:])
PY33B
check "model metadata of 20 kB" meta.safetensors --threads 1 propagate --model "$D33/meta.safetensors" --task xor --json
long33 "model metadata of 20 kB"
check "--scale 1e-320 (digits)" --scale --threads 1 train "${dx33[@]}" --scale 1e-320 --hidden 4 --epochs 1 --out "$D33/m.safetensors"
long33 "--scale 1e-320 (digits)"
for o in 3 4; do
  check "--order $o carry over --max-memory 100M" --kappa-units --threads 1 propagate --model "$D33/w.safetensors" --task xor --order $o --carry depth --max-memory 100M --json
  check "--order $o --kappa-units 2^62" - --threads 1 propagate --model "$D33/w.safetensors" --task xor --order $o --carry depth --kappa-units $HUGE --json
  grep -q '^error' "$W/err" && ! grep -Eq -- '--kappa-units [0-9]+ \(the most' "$W/err" && { unnamed=$((unnamed + 1)); echo "--order $o --kappa-units 2^62: refused without the --kappa-units that fits"; }
done
# One thread's share (as section 31 reads it) + 112 MiB leaves ~14 MiB beyond the 98 MiB reserve,
# below the 32 MiB base: refused naming --threads and ulimit -v.
share33=$( (ulimit -v 300000; "$BIN" --threads 1 train --task xor --out "$D33/m.safetensors" 2>&1 >/dev/null) | grep -o 'less [0-9]* MiB per thread' | tr -cd 0-9)
share33=${share33:-522}
PRE="ulimit -v $(((share33 + 112) * 1024))" check "--threads 1 under ulimit -v share + 112 MB" "ulimit -v" --threads 1 propagate --model "$D33/w.safetensors" --task xor --json
grep -q 'lower --threads' "$W/err" && { unnamed=$((unnamed + 1)); echo "--threads 1 under ulimit -v: told to lower --threads"; }
n=$(find "$D33" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 33: $n temporary files"; }

# 34. Forty-sixth session (adv46): the normaliser that makes finite data overflow (a std of
# 1e-320; a mean of -1e308 with a std of 1e-300) must name --normalize-std (it was blamed on the
# data's scale or spread, with the std in 330 digits: a message over 1 500 bytes or with 10+
# digits counts as unnamed); tensor names with .npy files must be refused naming the flag (they
# were ignored); gzip IDX files that inflate past their header, stop short, fail their CRC or
# claim 47 GB; IDX and .npy headers of odd shapes and types; a folder and a FIFO as data; absurd
# values of sweep submit, --jobs, --max-memory and --activation.
D34=$W/d34
mkdir -p "$D34"
python3 - "$D34" <<'PY34'
import gzip, struct, sys, zlib
from npy import into
d = sys.argv[1]
npy = into(d)
def idx(path, typ, dims, data):
    open(f"{d}/{path}", "wb").write(bytes([0, 0, typ, len(dims)]) + b"".join(struct.pack(">I", n) for n in dims) + data)
xs = [((-1) ** k * (1 + k % 5) / 3, (-1) ** (k // 2) * (2 + k % 3) / 5) for k in range(200)]
npy("x.npy", "<f8", "(200, 2)", b"".join(struct.pack("<d", v) for r in xs for v in r))
npy("y.npy", "<i8", "(200,)", b"".join(struct.pack("<q", int(r[0] > 0)) for r in xs))
npy("yf.npy", "<f8", "(200,)", b"".join(struct.pack("<d", 0.5) for r in xs))
npy("xneg.npy", "<f8", "(200, -2)", bytes(3200))
idx("img.idx", 8, (100, 4, 4), bytes(k % 256 for k in range(1600)))
idx("lab.idx", 8, (100,), bytes(k % 3 for k in range(100)))
idx("labneg.idx", 0x0C, (100,), b"".join(struct.pack(">i", -5 if k == 3 else k % 3) for k in range(100)))
idx("img0.idx", 8, (100, 0, 4), b"")
idx("img7.idx", 7, (100, 4, 4), bytes(1600))
co = zlib.compressobj(9, zlib.DEFLATED, 31)
bomb = co.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 100, 4, 4))
for _ in range(512):
    bomb += co.compress(bytes(1 << 20))
open(f"{d}/bomb.idx.gz", "wb").write(bomb + co.flush())
g = gzip.compress(open(f"{d}/img.idx", "rb").read())
open(f"{d}/short.idx.gz", "wb").write(g[: len(g) // 2])
open(f"{d}/crc.idx.gz", "wb").write(g[:-6] + bytes([g[-6] ^ 0xFF]) + g[-5:])
open(f"{d}/claim.idx.gz", "wb").write(gzip.compress(bytes([0, 0, 8, 3]) + struct.pack(">III", 60000000, 28, 28) + bytes(1000)))
PY34
dx34=(--task data --train-x "$D34/x.npy" --train-y "$D34/y.npy" --test-split 0:50)
"$BIN" --threads 1 train "${dx34[@]}" --hidden 4 --epochs 1 --out "$D34/m.safetensors" >/dev/null 2>&1
check "--normalize-std 1e-320" --normalize-std --threads 1 train "${dx34[@]}" --normalize-mean 0 --normalize-std 1e-320 --hidden 4 --epochs 1 --out "$D34/n.safetensors"
long33 "--normalize-std 1e-320"
check "--normalize-mean -1e308 --normalize-std 1e-300" --normalize-std --threads 1 propagate --model "$D34/m.safetensors" "${dx34[@]}" --normalize-mean=-1e308 --normalize-std 1e-300 --json
long33 "--normalize-mean -1e308 --normalize-std 1e-300"
check "--x-tensor with .npy files" "!--x-tensor" --threads 1 train "${dx34[@]}" --x-tensor features --hidden 4 --epochs 1 --out "$D34/n.safetensors"
rm -f "$D34/n.safetensors" # an old binary's run that ignored the name (counted above)
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_split = "0:50"\nx_tensor = "features"\nhidden = [[4]]\nepochs = 1\n' "$D34/x.npy" "$D34/y.npy" >"$D34/gx.toml"
check "sweep: x_tensor with .npy files" "!x_tensor" --threads 1 sweep --grid "$D34/gx.toml" --out "$D34/swx"
check "--y-tensor with .npy files" "!--y-tensor" --threads 1 propagate --model "$D34/m.safetensors" "${dx34[@]}" --y-tensor labels --json
for f in bomb.idx.gz short.idx.gz crc.idx.gz claim.idx.gz img0.idx img7.idx; do
  check "data $f" "$f" --threads 1 train --task data --train-x "$D34/$f" --train-y "$D34/lab.idx" --test-split 0:20 --hidden 4 --epochs 1 --out "$D34/n.safetensors"
done
check "labels labneg.idx" labneg.idx --threads 1 train --task data --train-x "$D34/img.idx" --train-y "$D34/labneg.idx" --test-split 0:20 --hidden 4 --epochs 1 --out "$D34/n.safetensors"
check "labels of float64" yf.npy --threads 1 train --task data --train-x "$D34/x.npy" --train-y "$D34/yf.npy" --test-split 0:50 --hidden 4 --epochs 1 --out "$D34/n.safetensors"
check "npy shape (200, -2)" xneg.npy --threads 1 train --task data --train-x "$D34/xneg.npy" --train-y "$D34/y.npy" --test-split 0:50 --hidden 4 --epochs 1 --out "$D34/n.safetensors"
mkdir -p "$D34/dir.npy"
mkfifo "$D34/fifo.npy"
for f in dir.npy fifo.npy; do
  check "--train-y $f" "$f" --threads 1 train --task data --train-x "$D34/x.npy" --train-y "$D34/$f" --test-split 0:50 --hidden 4 --epochs 1 --out "$D34/n.safetensors"
done
kept -p "$D34/fifo.npy"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n' >"$D34/g.toml"
check "sweep submit --shards 0" --shards --threads 1 sweep submit --grid "$D34/g.toml" --out "$D34/sub" --shards 0 --dry-run
check "sweep --jobs 0" --jobs --threads 1 sweep --grid "$D34/g.toml" --out "$D34/sw" --jobs 0
check "--max-memory 0" --max-memory --threads 1 --max-memory 0 train "${XOR[@]}" --out "$D34/n.safetensors"
check "--activation quad:nan" --activation --threads 1 train "${XOR[@]}" --activation quad:nan --out "$D34/n.safetensors"
[ -e "$D34/n.safetensors" ] && { debris=$((debris + 1)); echo "section 34: a refused run wrote n.safetensors"; }
n=$(find "$D34" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 34: $n temporary files"; }


# 35. Forty-sixth session (adv46b, second helper): gzip IDX files that end wrong (bytes appended
# after a whole stream must be placed after the declared data, not called a corrupt stream
# without a place; a stream longer than its header; a small stream whose header declares 3 TB),
# and .npy inputs of types or shapes corrflow does not take (complex, float labels, a test split
# past the end, too many classes, a FIFO as --out).
D35=$W/d35
mkdir -p "$D35"
python3 - "$D35" "$MNIST" <<'PY35'
import gzip, struct, sys
from npy import into
d, mn = sys.argv[1], sys.argv[2]
img = open(f"{mn}/t10k-images-idx3-ubyte.gz", "rb").read()
open(f"{d}/junk-images-idx3-ubyte.gz", "wb").write(img + b"garbage!garbage!")
for name, n, extra in (("long", 10000, 7840000 + 1), ("bomb", 4000000000, 1 << 20)):
    with gzip.open(f"{d}/{name}-images-idx3-ubyte.gz", "wb", compresslevel=1) as f:
        f.write(struct.pack(">BBBBIII", 0, 0, 8, 3, n, 28, 28) + bytes(extra))
npy = into(d)
xs = [(-1) ** k * (k % 7 + 1) / 8 for k in range(160)]
npy("x.npy", "<f8", "(40, 4)", struct.pack("<160d", *xs))
npy("xc.npy", "<c16", "(40, 4)", struct.pack("<320d", *[v for x in xs for v in (x, 0.0)]))
npy("y.npy", "<i8", "(40,)", struct.pack("<40q", *[k % 2 for k in range(40)]))
npy("yf.npy", "<f8", "(40,)", struct.pack("<40d", *[k % 2 + 0.5 for k in range(40)]))
PY35
t35=(--test-images "$MNIST/t10k-images-idx3-ubyte.gz" --test-labels "$MNIST/t10k-labels-idx1-ubyte.gz" --train-labels "$MNIST/t10k-labels-idx1-ubyte.gz")
CORRFLOW_CACHE=$D35/cache check "gzip IDX with junk appended" "data bytes its IDX header declares" --threads 1 train --task mnist "${t35[@]}" --train-images "$D35/junk-images-idx3-ubyte.gz" --epochs 1 --out "$D35/m.safetensors"
CORRFLOW_CACHE=$D35/cache check "gzip IDX longer than its header" "trailing bytes" --threads 1 train --task mnist "${t35[@]}" --train-images "$D35/long-images-idx3-ubyte.gz" --epochs 1 --out "$D35/m.safetensors"
CORRFLOW_CACHE=$D35/cache check "gzip IDX declaring 3 TB" "over the memory limit" --threads 1 train --task mnist "${t35[@]}" --train-images "$D35/bomb-images-idx3-ubyte.gz" --epochs 1 --out "$D35/m.safetensors"
dx35=(--task data --epochs 1 --hidden 4)
check "npy complex features" "<c16" --threads 1 train "${dx35[@]}" --train-x "$D35/xc.npy" --train-y "$D35/y.npy" --test-split 30:40 --out "$D35/m.safetensors"
check "npy float labels" "expected integers" --threads 1 train "${dx35[@]}" --train-x "$D35/x.npy" --train-y "$D35/yf.npy" --test-split 30:40 --out "$D35/m.safetensors"
check "--test-split past the end" --test-split --threads 1 train "${dx35[@]}" --train-x "$D35/x.npy" --train-y "$D35/y.npy" --test-split 30:41 --out "$D35/m.safetensors"
check "--n-classes 65537" --n-classes --threads 1 train "${dx35[@]}" --train-x "$D35/x.npy" --train-y "$D35/y.npy" --test-split 30:40 --n-classes 65537 --out "$D35/m.safetensors"
rm -f "$D35/fifo" && mkfifo "$D35/fifo"
check "train --out a FIFO" FIFO --threads 1 train "${dx35[@]}" --train-x "$D35/x.npy" --train-y "$D35/y.npy" --test-split 30:40 --out "$D35/fifo"
n=$(find "$D35" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 35: $n temporary files"; }



# 36. Forty-seventh session (adv47): flags of the cumulant objective and of the f32 path. A
# --closure-check whose product overflows the guarded objective J = L_C + λ|L_C − S| or its
# gradient's squares must name --closure-check (1e307/1e308 were blamed on --lr, "lower the
# learning rate", which no rate cures; 1e200 under Adam ran untrained, its second moment
# infinite: counted as ignored); --affine factored where --precision f32 at --order 2 updates
# every covariance densely must be refused naming --affine (grid key affine), not ignored (the
# output was --affine dense's), while --order 3 (the f64 path) still runs; a generated task's σ
# and gamma shape must be written in compact form (1e-300 was 302 characters in the summary,
# the JSON, the model's records and every message naming the task: a run of 11 zeros counts as
# unnamed), and an unridged split's mean variance in 4 digits (it was 16: 10+ fraction digits
# count as unnamed); a --gain whose first gradients' squares overflow Adam's second moment
# (1e50 on XOR: the run exited 0 untrained, under both objectives) refused naming --gain, and
# SGD's divergence there naming the read-out's curvature in short (it was 201 digits, 1 kB:
# a message over 900 bytes counts as unnamed); a CORRFLOW_CACHE folder that exists but takes no new file (/proc, /sys/kernel:
# a read-only folder, as root cannot be made) named with its variable, not as the temporary
# file's "No such file or directory".
D36=$W/d36
mkdir -p "$D36"
long36() { # NAME FILE: FILE holds no run of 11 zeros (a value in full digits)
  if grep -aEq '0{11}' "$2"; then
    unnamed=$((unnamed + 1)); echo "$1: a value in full digits: $(grep -aEo '.{0,40}0{11}' "$2" | head -n 1)"
  fi
}
cum36=(--task xor --hidden 8 --activation quad:0.5 --objective cumulants --epochs 1)
check "--closure-check 1e308" --closure-check --threads 1 train "${cum36[@]}" --closure-check 1e308 --out "$D36/n.safetensors"
check "--closure-check 1e307 --lr 1e-30" --closure-check --threads 1 train "${cum36[@]}" --closure-check 1e307 --lr 1e-30 --out "$D36/n.safetensors"
check "--closure-check 1e200 (adam)" "!--closure-check" --threads 1 train "${cum36[@]}" --closure-check 1e200 --out "$D36/n.safetensors"
rm -f "$D36/n.safetensors" # an old binary's run that trained nothing (counted above)
check "--closure-check 1e200 --optimizer sgd" --closure-check --threads 1 train "${cum36[@]}" --closure-check 1e200 --optimizer sgd --out "$D36/n.safetensors"
# (Since adv48a a λ above 2^53 is refused naming the flag: 1 + λ rounds to λ, the data term is
# gone; 1e15 is the largest power of ten below it.)
check "--closure-check 1e15 (fits)" + --threads 1 train "${cum36[@]}" --closure-check 1e15 --out "$D36/ok.safetensors"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nactivation = "quad:0.5"\nobjective = "cumulants"\nclosure_check = 1e308\n' >"$D36/gc.toml"
check "sweep: closure_check 1e308" "grid key 'closure_check'" --threads 1 sweep --grid "$D36/gc.toml" --out "$D36/swc"
"$BIN" --threads 1 train --task xor --hidden 8 --epochs 1 --out "$D36/m.safetensors" >/dev/null 2>&1
for cmd in propagate analyze; do
  check "$cmd --precision f32 --affine factored" "!--affine" --threads 1 $cmd --model "$D36/m.safetensors" --precision f32 --affine factored --json
done
check "propagate --precision f32 --affine factored --order 3" + --threads 1 propagate --model "$D36/m.safetensors" --precision f32 --affine factored --order 3 --json
check "propagate --precision f32 --affine dense" + --threads 1 propagate --model "$D36/m.safetensors" --precision f32 --affine dense --json
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nprecision = "f32"\naffine = "factored"\n' >"$D36/ga.toml"
check "sweep: precision f32, affine factored" "!grid key 'affine'" --threads 1 sweep --grid "$D36/ga.toml" --out "$D36/swa"
check "train --sigma 1e-300 (digits)" + --threads 1 train --task xor --hidden 4 --epochs 1 --sigma 1e-300 --json --out "$D36/s.safetensors"
long36 "train --sigma 1e-300" "$W/out"
long36 "the model's records of --sigma 1e-300" "$D36/s.safetensors"
check "train --gamma-shape 1e300 (digits)" + --threads 1 train --task higher-order --epochs 1 --gamma-shape 1e300 --out "$D36/g.safetensors"
long36 "train --gamma-shape 1e300" "$W/out"
check "propagate --sigma 1e300 (digits)" "spreads beyond f64" --threads 1 propagate --model "$D36/m.safetensors" --sigma 1e300 --json
long36 "propagate --sigma 1e300" "$W/err"
check "analyze --ridge 0 (digits)" --ridge --threads 1 analyze --model "$D36/m.safetensors" --ridge 0 --json
grep -Eq '[0-9]\.[0-9]{10,}' "$W/err" && { unnamed=$((unnamed + 1)); echo "analyze --ridge 0: a value in 17 digits: $(grep -Eo '.{0,30}[0-9]\.[0-9]{10,}' "$W/err")"; }
for o in samples cumulants; do
  check "--gain 1e50, --objective $o (Adam's squares)" "!--gain" --threads 1 train --task xor --hidden 8 --activation quad:0.5 --objective $o --gain 1e50 --epochs 1 --out "$D36/n.safetensors"
  rm -f "$D36/n.safetensors" # an old binary's untrained model (counted above)
done
check "--gain 1e50 --optimizer sgd (curvature digits)" --lr --threads 1 train --task xor --hidden 8 --activation quad:0.5 --optimizer sgd --gain 1e50 --epochs 1 --out "$D36/n.safetensors"
long36 "--gain 1e50 --optimizer sgd" "$W/err"
[ "$(wc -c <"$W/err")" -gt 900 ] && { unnamed=$((unnamed + 1)); echo "--gain 1e50 --optimizer sgd: $(wc -c <"$W/err") bytes"; }
for c in /proc /sys/kernel; do
  CORRFLOW_CACHE=$c check "CORRFLOW_CACHE=$c (takes no file)" CORRFLOW_CACHE --threads 1 propagate --model "$W/mnist.safetensors" "${MN[@]}" --json
done
n=$(find "$D36" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 36: $n temporary files"; }
[ -e "$D36/n.safetensors" ] && { debris=$((debris + 1)); echo "section 36: a refused run wrote n.safetensors"; }

# 37. Forty-seventh session (adv47b, second helper): sweep, train and model files. A model of
# 10^5 layers of width 1 (its load searched a list of names per tensor, ~30 s; its estimate
# summed the layers after each start layer, ~9 s) and of 2·10^4 (the statistics' batches, 3 x
# 512 samples x 8 padded rows a stage, were not in the estimate: 4.3 GB under --max-memory 2G);
# a grid of such architectures (--dry-run, 6–9 s a point) and one of 10^4 points of them (10^9
# widths from 250 kB: its points held before the first ran, minutes); `sweep merge` of another grid's
# folder (its records kept their old index: the merged folder could not be resumed) and into
# one of its own inputs (the input's other records were lost, exit 0); a model's data and
# preprocessing records of 20 kB with escapes (echoed whole) and normalisers or recorded files
# that cannot be read (named neither the flag nor the model); grids and train flags found fine.
D37=$W/d37
mkdir -p "$D37"
long37() { # NAME: the last run's message is short and escape-free
  if [ "$(wc -c <"$W/err")" -gt 1500 ] || grep -q $'\x1b' "$W/err"; then
    unnamed=$((unnamed + 1)); echo "$1: $(wc -c <"$W/err") bytes or a raw escape: $(head -c 120 "$W/err" | tr -d '\033')"
  fi
}
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --out "$D37/base.safetensors" >/dev/null 2>&1
python3 - "$D37" <<'PY37'
import json, struct, sys
d = sys.argv[1]
def st(path, tensors, meta):
    head, body = {"__metadata__": meta}, b""
    for name, shape, bs in tensors:
        head[name] = {"dtype": "F64", "shape": shape, "data_offsets": [len(body), len(body) + len(bs)]}
        body += bs
    hb = json.dumps(head).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + body)
for L, act, bias in ((100000, "linear", False), (20000, "tanh", True)):
    widths = [2] + [1] * L + [2]
    ts = []
    for l in range(L + 1):
        nm = "readout" if l == L else f"hidden{l + 1}"
        w = [1.0] * widths[l] if l < L else [1.0, -1.0]
        ts.append((nm + ".weight", [widths[l + 1], widths[l]], struct.pack(f"<{len(w)}d", *w)))
        if bias:
            ts.append((nm + ".bias", [widths[l + 1]], bytes(8 * widths[l + 1])))
    st(f"{d}/deep{L}.safetensors", ts, {"format": "corrflow-mlp", "widths": ",".join(map(str, widths)), "activation": act})
open(f"{d}/gwide.toml", "w").write('task = "xor"\nn_train = 200\nepochs = 1\nseed = [' + ",".join(map(str, range(10000))) + ']\nhidden = [[' + ",".join(["1"] * 100000) + "]]\n")
open(f"{d}/gdeep.toml", "w").write('task = "xor"\nn_train = 200\nepochs = 1\nseed = [1, 2, 3, 4, 5]\nhidden = [[' + ",".join(["1"] * 100000) + "]]\n")
b = open(f"{d}/base.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def model(name, key, value):
    hh = json.loads(json.dumps(h))
    hh["__metadata__"][key] = value
    t = json.dumps(hh).encode()
    t += b" " * ((8 - len(t) % 8) % 8)
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
esc = "\x1b[2J\x1b[31m"
junk = esc + "x" * 20000
model("rec-notjson", "corrflow.data", "{" + junk)
model("rec-array", "corrflow.data", json.dumps([junk]))
model("rec-sigma", "corrflow.data", json.dumps({"task": "xor", "sigma": junk}))
model("rec-scale", "corrflow.preprocess", json.dumps({"scale": junk}))
model("rec-norm", "corrflow.preprocess", json.dumps({"scale": "none", "center": False, "standardize": False, "normalize_mean": "abc", "normalize_std": "1"}))
model("rec-missing", "corrflow.data", json.dumps({"task": "data", "train_x": d + "/gone-x.npy", "train_y": d + "/gone-y.npy", "test_split": "0:10"}))
PY37
# Deep models and grids: refused naming the model (or run) within the timeout.
check "propagate: 10^5 layers of width 1" deep100000.safetensors --threads 1 --max-memory 1G propagate --model "$D37/deep100000.safetensors" --task xor --json
long37 "propagate: 10^5 layers of width 1"
check "propagate: 2·10^4 layers, --max-memory 2G" deep20000.safetensors --threads 1 --max-memory 2G propagate --model "$D37/deep20000.safetensors" --task xor --json
check "sweep --dry-run: 5 points of 10^5 layers" + --threads 1 sweep --grid "$D37/gdeep.toml" --out "$D37/swdeep" --dry-run
check "sweep --dry-run: 10^4 points of 10^5 layers" "gwide.toml: key 'hidden'" --threads 1 sweep --grid "$D37/gwide.toml" --out "$D37/swwide" --dry-run
check "sweep: 10^4 points of 10^5 layers" "gwide.toml: key 'hidden'" --threads 1 sweep --grid "$D37/gwide.toml" --out "$D37/swwide"
# sweep merge: another grid's folder, then the merged folder resumed; a merge into an input.
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2]\n' >"$D37/ga.toml"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [0, 1, 2]\n' >"$D37/gb.toml"
rm -rf "$D37/swa" "$D37/m"
"$BIN" --threads 1 sweep --grid "$D37/ga.toml" --out "$D37/swa" >/dev/null 2>&1
check "merge of another grid's folder" "points are missing" --threads 1 sweep merge --grid "$D37/gb.toml" --out "$D37/m" "$D37/swa"
check "resume of that merge" + --threads 1 sweep --grid "$D37/gb.toml" --out "$D37/m"
rm -rf "$D37/swb" && "$BIN" --threads 1 sweep --grid "$D37/gb.toml" --out "$D37/swb" >/dev/null 2>&1
cp "$D37/swb/results.jsonl" "$D37/swb.keep"
check "merge into one of its inputs" "!an output never replaces an input" --threads 1 sweep merge --grid "$D37/ga.toml" --out "$D37/swb" "$D37/swb"
cmp -s "$D37/swb/results.jsonl" "$D37/swb.keep" || { clobbered=$((clobbered + 1)); echo "merge into one of its inputs: its results.jsonl was replaced"; }
# A model's records.
for r in notjson array sigma scale; do
  check "model record $r of 20 kB" "rec-$r.safetensors: its record" --threads 1 propagate --model "$D37/rec-$r.safetensors" --json
  long37 "model record $r of 20 kB"
done
check "model record normalize_mean abc" "its record corrflow.preprocess sets normalize_mean" --threads 1 propagate --model "$D37/rec-norm.safetensors" --task xor --json
check "model record naming a deleted file" "its record corrflow.data sets train_x" --threads 1 analyze --model "$D37/rec-missing.safetensors" --json
check "--normalize-mean abc" --normalize-mean --threads 1 train "${XOR[@]}" --normalize-mean abc --normalize-std 1 --out "$D37/n.safetensors"
check "--normalize-mean a folder" --normalize-mean --threads 1 train "${XOR[@]}" --normalize-mean "$D37" --normalize-std 1 --out "$D37/n.safetensors"
# Found fine (adv47b): grids of odd TOML, train flags at their edges.
printf 'task = "xor"\nepochs = 1\nepochs = 2\n' >"$D37/g-dup.toml"
printf 'task = "xor"\nhidden.a = 3\n' >"$D37/g-dotted.toml"
printf 'task = "xor"\nseed = 1979-05-27\n' >"$D37/g-date.toml"
printf 'task = "xor"\nhidden = [[[4]]]\n' >"$D37/g-nest.toml"
printf 'task = "xor"\nepochs = 1.5\n' >"$D37/g-float.toml"
printf 'task = "xor"\nseed = [1, "a"]\n' >"$D37/g-mixed.toml"
for g in dup dotted date nest float mixed; do check "grid $g" "g-$g.toml" --threads 1 sweep --grid "$D37/g-$g.toml" --out "$D37/sw-$g"; done
printf 'task = "xor"\nn_train = 200\nepochs = 1\nprecision = "f32"\nobjective = "cumulants"\n' >"$D37/g-f32cum.toml"
check "grid precision f32 with objective cumulants" "grid key 'precision'" --threads 1 sweep --grid "$D37/g-f32cum.toml" --out "$D37/sw-f32cum"
check "train --batch beyond the data" + --threads 1 train "${XOR[@]}" --n-train 200 --batch 100000 --out "$D37/n.safetensors"
check "train --order 3 --objective cumulants, relu" --order --threads 1 train "${XOR[@]}" --objective cumulants --activation relu --order 3 --out "$D37/n.safetensors"
check "train --out a folder" "$D37" --threads 1 train "${XOR[@]}" --out "$D37"
n=$(find "$D37" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 37: $n temporary files"; }

# 38. Forty-eighth session (adv48a): train flags that trained nothing and exited 0. A --gain of
# 1e20…1e49 under Adam (weights of 10¹⁹… that its steps of ~--lr cannot move: every weight
# bit-identical, the huge loss printed) and an --lr of 5e-324 or 1e-300 (steps below every
# weight's spacing), under both objectives and optimisers, must be refused naming --gain / --lr
# (counted as ignored); a rate that is small but moves the weights (1e-6 on MNIST) still runs.
# SGD's divergence at --gain 1e50 must name --gain beside --lr (it named --lr alone: unnamed).
# A --closure-check beyond 2⁵³ (1e100: 1 + λ = λ, the data term gone, the network at chance)
# must be refused naming --closure-check; 2⁵³ itself still runs. --sigma 0 (the blob centres
# exactly) runs in train and propagate, and so must grid key sigma = 0 (refused: counted as
# refused), while a grid's sigma = -1 is refused in --sigma's words. A cumulant training of
# minutes (--order 4 --hidden 784 on MNIST, ~1 s a step, 5 steps an epoch, 100 epochs) must say
# so on stderr after its first step (no word: counted as unnamed); with --lr 1e-300 it is then
# refused after its first epoch (old: ran for minutes: a hang). Then what adv48a's probes found.
D38=$W/d38
mkdir -p "$D38"
xor38=(--threads 1 train --task xor --hidden 8 --epochs 2)
for g in 1e20 1e30 1e49; do
  check "--gain $g (adam)" "!--gain" "${xor38[@]}" --gain $g --out "$D38/n.safetensors"
done
check "--gain 1e20 (adam, tanh, ce)" "!--gain" "${xor38[@]}" --activation tanh --loss ce --gain 1e20 --out "$D38/n.safetensors"
check "--gain 1e20 --precision f32" --gain "${xor38[@]}" --activation tanh --gain 1e20 --precision f32 --out "$D38/n.safetensors"
check "--gain 1e50 --optimizer sgd" --gain "${xor38[@]}" --optimizer sgd --gain 1e50 --out "$D38/n.safetensors"
for lr in 5e-324 1e-300 1e-25; do
  check "--lr $lr (adam)" "!--lr" "${xor38[@]}" --lr $lr --out "$D38/n.safetensors"
  check "--lr $lr --optimizer sgd" "!--lr" "${xor38[@]}" --optimizer sgd --lr $lr --out "$D38/n.safetensors"
  check "--lr $lr --objective cumulants" "!--lr" "${xor38[@]}" --objective cumulants --lr $lr --out "$D38/n.safetensors"
done
check "--lr 1e-12 --precision f32" "!--lr" "${xor38[@]}" --lr 1e-12 --precision f32 --out "$D38/n.safetensors"
rm -f "$D38/n.safetensors" # an old binary's untrained models (counted above)
check "--lr 1e-6 on MNIST (moves the weights)" + --threads 1 train "${MN[@]}" --train-limit 2000 --epochs 1 --lr 1e-6 --out "$D38/ok.safetensors"
check "--lr 1e-12 (f64, moves the weights)" + "${xor38[@]}" --lr 1e-12 --out "$D38/ok.safetensors"
check "--closure-check 1e100" "!--closure-check" "${xor38[@]}" --objective cumulants --closure-check 1e100 --out "$D38/n.safetensors"
check "--closure-check 1e16" "!--closure-check" "${xor38[@]}" --objective cumulants --closure-check 1e16 --out "$D38/n.safetensors"
check "--closure-check 2^53 (accepted)" + "${xor38[@]}" --objective cumulants --closure-check 9007199254740992 --out "$D38/ok.safetensors"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nobjective = "cumulants"\nclosure_check = 1e100\n' >"$D38/gcc.toml"
check "sweep: closure_check 1e100" "!grid key 'closure_check'" --threads 1 sweep --grid "$D38/gcc.toml" --out "$D38/swcc"
rm -f "$D38/n.safetensors"
check "train --sigma 0" + "${xor38[@]}" --sigma 0 --out "$D38/s0.safetensors"
check "propagate --sigma 0" + --threads 1 propagate --model "$D38/s0.safetensors" --sigma 0 --json
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nsigma = 0\n' >"$D38/gs0.toml"
check "sweep: sigma 0" + --threads 1 sweep --grid "$D38/gs0.toml" --out "$D38/sws0"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nsigma = -1\n' >"$D38/gsm.toml"
check "sweep: sigma -1 (the flag's words)" "XOR noise σ must be finite and ≥ 0" --threads 1 sweep --grid "$D38/gsm.toml" --out "$D38/swsm"
check "train --sigma=-1 (the same words)" "XOR noise σ must be finite and ≥ 0" "${xor38[@]}" --sigma=-1 --out "$D38/n.safetensors"
# LIMIT 60: under load 7–8 on 2 cores its first epoch (5 steps of ~5 s) took 26.6 s, and the
# 20 s timeout killed it in adv65's whole run (a hang); given the time it is refused naming --lr.
LIMIT=60 check "cumulants --order 4 --hidden 784, 100 epochs, --lr 1e-300" --lr --threads 1 train "${MN[@]}" --train-limit 320 \
  --objective cumulants --activation quad:0.5 --order 4 --hidden 784 --epochs 100 --lr 1e-300 --out "$D38/n.safetensors"
grep -q "first step took" "$W/err" || { unnamed=$((unnamed + 1)); echo "cumulants --order 4 --hidden 784: no word of its time on stderr"; }
# Probed (adv48a): flags taken and ignored — --momentum under Adam, --check-samples with
# --closure-check 0, their grid keys where no point reads them — must be refused naming them
# (ignored); --momentum 1e300 must be refused in short (its 301 digits: unnamed); --gain 5e-324
# (weights of 0, no gradient) must be refused naming --gain, not run untrained (ignored).
check "--momentum 0.5 under adam" "!--momentum" "${xor38[@]}" --momentum 0.5 --out "$D38/n.safetensors"
check "analyze --momentum 0.5 under adam" "!--momentum" --threads 1 analyze --task xor --epochs 1 --momentum 0.5 --json
check "--momentum 1e300 (digits)" --momentum "${xor38[@]}" --optimizer sgd --momentum 1e300 --out "$D38/n.safetensors"
grep -aEq '0{11}' "$W/err" && { unnamed=$((unnamed + 1)); echo "--momentum 1e300: a value in full digits"; }
check "--check-samples with --closure-check 0" "!--check-samples" "${xor38[@]}" --objective cumulants --closure-check 0 --check-samples 8 --out "$D38/n.safetensors"
check "--gain 5e-324" "!--gain" "${xor38[@]}" --gain 5e-324 --out "$D38/n.safetensors"
rm -f "$D38/n.safetensors"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nmomentum = 0.5\n' >"$D38/gm.toml"
check "sweep: momentum, no sgd point" "!grid key 'momentum'" --threads 1 sweep --grid "$D38/gm.toml" --out "$D38/swm"
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nobjective = "cumulants"\nclosure_check = 0\ncheck_samples = 8\n' >"$D38/gk.toml"
check "sweep: check_samples, closure_check 0" "!grid key 'check_samples'" --threads 1 sweep --grid "$D38/gk.toml" --out "$D38/swk"
n=$(find "$D38" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 38: $n temporary files"; }
[ -e "$D38/n.safetensors" ] && { debris=$((debris + 1)); echo "section 38: a refused run wrote n.safetensors"; }

# 39. Forty-eighth session (adv48b): analyze, sweep and model files. The theory from every
# start layer of a deep narrow model (4 000 tanh layers of width 1: 8·10⁶ closures, 146 s,
# 1.35 GB at two threads) was called tiny by the time estimate and held more than its memory
# estimate (the surrogates' draws pass through every layer, a block per task); a sweep point
# whose closure check draws 2⁶² samples per class was called tiny by --dry-run; --heatmap-layer
# without --report drew nothing without a word; a model's records holding a key that is no
# setting (corrflow.data's 'sigmma', corrflow.preprocess's 'whiten') or a corrflow.* record this
# version does not know were ignored; `sweep export` of a store holding every record twice
# wrote each once without a note, and read past a record key no record has; --surrogate-samples
# of 10⁷ (35 s) ran without a word of its time.
D39=$W/d39
mkdir -p "$D39"
python3 - "$D39" <<'PY39'
import sys
d = sys.argv[1]
open(f"{d}/gdeep.toml", "w").write('task = "xor"\nn_train = 200\nepochs = 1\nactivation = "tanh"\nhidden = [[' + ",".join(["1"] * 4000) + "]]\n")
open(f"{d}/gcheck.toml", "w").write('task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nactivation = "quad:0.5"\nobjective = "cumulants"\nclosure_check = 1.0\ncheck_samples = 4611686018427387904\n')
PY39
"$BIN" --threads 1 train "${XOR[@]}" --n-train 2000 --activation tanh --hidden "$(python3 -c 'print(",".join(["1"] * 2000))')" \
  --out "$D39/deep2000.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --out "$D39/base.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 64,64 --out "$D39/h64.safetensors" >/dev/null 2>&1
python3 - "$D39" <<'PY39'
import json, struct, sys
d = sys.argv[1]
b = open(f"{d}/base.safetensors", "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
def model(name, edit):
    hh = json.loads(json.dumps(h))
    edit(hh["__metadata__"])
    t = json.dumps(hh).encode()
    t += b" " * ((8 - len(t) % 8) % 8)
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(t)) + t + b[8 + n:])
def record(key, extra):
    def edit(m):
        r = json.loads(m[key]); r.update(extra); m[key] = json.dumps(r)
    return edit
model("r-data", record("corrflow.data", {"sigmma": 0.5}))
model("r-pre", record("corrflow.preprocess", {"whiten": True}))
model("r-ns", lambda m: m.update({"corrflow.augment": json.dumps({"flip": True})}))
model("r-foreign", lambda m: m.update({"author": "someone"}))
PY39
# The theory from every start layer: quadratic in the depth, in the estimates.
"$BIN" --threads 1 sweep --grid "$D39/gdeep.toml" --out "$D39/swdeep" --dry-run >"$W/out" 2>&1
grep -q ' tiny ' "$W/out" && { ignored=$((ignored + 1)); echo "sweep --dry-run: 4 000 tanh layers called tiny (8·10⁶ closures)"; }
# 12.7 s of CPU alone at one thread, 31 s of wall time at a load of 300 (adv53): a 90 s limit
# (adv54) still counts a hang, without counting the load.
LIMIT=90 check "analyze: 2 000 layers, 2 threads, --max-memory 600M" deep2000.safetensors --threads 2 --max-memory 600M analyze --model "$D39/deep2000.safetensors" --json
# The closure check's draws in the dry run's time.
"$BIN" --threads 1 sweep --grid "$D39/gcheck.toml" --out "$D39/swcheck" --dry-run >"$W/out" 2>&1
grep -q ' tiny ' "$W/out" && { ignored=$((ignored + 1)); echo "sweep --dry-run: check_samples = 2^62 called tiny"; }
# --heatmap-layer without --report.
for j in "" --json; do
  check "--heatmap-layer 2 without --report $j" "!--report" --threads 1 analyze --model "$D39/base.safetensors" --heatmap-layer 2 $j
done
check "--heatmap-layer 2 --report" + --threads 1 analyze --model "$D39/base.safetensors" --heatmap-layer 2 --report "$D39/rep"
# A model's records.
check "record corrflow.data sets sigmma" "!r-data.safetensors: its record corrflow.data sets 'sigmma'" --threads 1 propagate --model "$D39/r-data.safetensors" --json
check "record corrflow.preprocess sets whiten" "!r-pre.safetensors: its record corrflow.preprocess sets 'whiten'" --threads 1 propagate --model "$D39/r-pre.safetensors" --json
check "record corrflow.augment" "!r-ns.safetensors: its metadata holds a record 'corrflow.augment'" --threads 1 analyze --model "$D39/r-ns.safetensors" --json
check "free-form key author" + --threads 1 propagate --model "$D39/r-foreign.safetensors" --json
check "PyTorch fixture" + --threads 1 propagate --model "$ROOT/fixtures/pytorch_mlp.safetensors" --task xor --dim 3 --json
# sweep export of a store holding every record twice.
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2]\n' >"$D39/g2.toml"
rm -rf "$D39/sw2" && "$BIN" --threads 1 sweep --grid "$D39/g2.toml" --out "$D39/sw2" >/dev/null 2>&1
cat "$D39/sw2/results.jsonl" "$D39/sw2/results.jsonl" >"$D39/twice" && mv "$D39/twice" "$D39/sw2/results.jsonl"
check "sweep export of every record twice" + --threads 1 sweep export "$D39/sw2" --csv "$D39/e.csv"
grep -q "2 copies" "$W/err" || { ignored=$((ignored + 1)); echo "sweep export of every record twice: no note of the copies dropped"; }
# A record line with a key no record has (a misspelt field): read past with a note.
python3 -c 'import json, sys
lines = open(sys.argv[1]).read().splitlines()[:2]
r = json.loads(lines[0]); r["tset_accuracy"] = 0.9
open(sys.argv[1], "w").write(json.dumps(r) + "\n" + lines[1] + "\n")' "$D39/sw2/results.jsonl"
check "sweep export: a record key no record has" + --threads 1 sweep export "$D39/sw2" --csv "$D39/e.csv"
grep -q "tset_accuracy" "$W/err" || { ignored=$((ignored + 1)); echo "sweep export: the record key tset_accuracy read past without a word"; }
# --surrogate-samples whose draws take minutes: said before the work.
# (35 s of work: stopped after 5 s, by which the warning is due.)
timeout 5 "$BIN" --threads 1 analyze --model "$D39/h64.safetensors" --surrogate-samples 10000000 --json >/dev/null 2>"$W/err"
grep -q "surrogate-samples" "$W/err" || { ignored=$((ignored + 1)); echo "analyze --surrogate-samples 10^7: no word of its time in 5 s"; }
n=$(find "$D39" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 39: $n temporary files"; }

# 40. Forty-ninth session (adv49a): the standard streams, `sweep submit`'s script, user data
# labels, odd grid files, SIGKILL mid-write of a report, a CSV and plots. stderr on a full disk
# (`2>/dev/full`): `eprintln!` panicked on the failed write, so a run that warned exited 101
# without its result and a refused one 101 instead of 2; `--help`/`--version` on a full stdout
# exited 0. `sweep submit`: a grid path holding a newline ended the script's comment line and
# bash ran the rest of the folder's name as a command; `--time 307445734561825861` (minutes)
# wrapped past u64 to a limit of 44 s; `--partition ''` wrote `--partition=`; a `%` in --out
# was left in `--output`, a Slurm filename pattern (`%j` became the job id); `--scale 0` and
# `--shard 5/4` were refused with the configuration field's inner name (data.scale, run.shard).
D40=$W/d40
rm -rf "$D40" && mkdir -p "$D40"
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --out "$D40/m.safetensors" >/dev/null 2>&1
# stderr on a full disk: runs, exit status unchanged (0 for a warned run with its result, 2 for
# a refusal), never a panic.
s40() {
  local name=$1 want=$2
  shift 2
  runs=$((runs + 1))
  timeout -s KILL 20 "$BIN" "$@" >"$W/out" 2>/dev/full </dev/null
  local rc=$?
  if [ $rc -eq 101 ] || [ $rc -gt 128 ]; then panics=$((panics + 1)); echo "stderr on /dev/full ($name): rc $rc"
  elif [ $rc -ne "$want" ]; then unnamed=$((unnamed + 1)); echo "stderr on /dev/full ($name): rc $rc, expected $want"
  elif [ "$want" = 0 ] && ! grep -q '"model"' "$W/out"; then refused=$((refused + 1)); echo "stderr on /dev/full ($name): no result printed"; fi
}
s40 "propagate, a --sigma warning" 0 --threads 1 propagate --model "$D40/m.safetensors" --sigma 0.4 --json
s40 "analyze, a --sigma warning" 0 --threads 1 analyze --model "$D40/m.safetensors" --sigma 0.4 --json
s40 "train --epochs 0" 2 train --task xor --epochs 0 --out "$D40/n.safetensors"
s40 "propagate of a missing model" 2 propagate --model "$D40/none.safetensors"
s40 "an unknown flag" 2 train --bogus
[ -e "$D40/n.safetensors" ] && { debris=$((debris + 1)); echo "stderr on /dev/full: a refused run wrote n.safetensors"; }
# --help and --version on a full stdout: an error naming standard output, exit 2.
for c in "--help" "train --help" "--version"; do
  runs=$((runs + 1))
  timeout -s KILL 20 "$BIN" $c >/dev/full 2>"$W/err" </dev/null
  rc=$?
  if [ $rc -eq 101 ] || [ $rc -gt 128 ]; then panics=$((panics + 1)); echo "stdout on /dev/full ($c): rc $rc"
  elif [ $rc -eq 0 ]; then ignored=$((ignored + 1)); echo "stdout on /dev/full ($c): exit 0, nothing printed"
  elif ! grep -q "standard output" "$W/err"; then unnamed=$((unnamed + 1)); echo "stdout on /dev/full ($c): rc $rc $(head -c 160 "$W/err")"; fi
done
# Closed standard streams (Rust's runtime opens /dev/null on them): the run as usual, the model
# whole (no printed text inside it).
for redir in ">&-" "2>&- >/dev/null" "<&- >/dev/null"; do
  runs=$((runs + 1))
  eval "timeout -s KILL 20 \"\$BIN\" --threads 1 train ${XOR[*]} --hidden 4 --out \"\$D40/c.safetensors\" --json $redir"
  rc=$?
  if [ $rc -ne 0 ]; then refused=$((refused + 1)); echo "train with $redir: rc $rc"
  elif ! "$BIN" --threads 1 propagate --model "$D40/c.safetensors" --json >/dev/null 2>&1; then clobbered=$((clobbered + 1)); echo "train with $redir: the model does not load"; fi
done
# sweep submit --dry-run: the script.
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2]\n' >"$D40/g.toml"
NL="$D40/evil
touch $D40/PWNED
"
mkdir -p "$NL" && cp "$D40/g.toml" "$NL/g.toml"
check "submit: a grid path with a newline" + --threads 1 sweep submit --grid "$NL/g.toml" --out "$D40/sbn" --shards 2 --dry-run
if [ -f "$D40/sbn/sweep.sbatch" ]; then
  head=$(sed '/^set -euo pipefail/,$d' "$D40/sbn/sweep.sbatch")
  if printf '%s\n' "$head" | grep -qv '^#'; then ignored=$((ignored + 1)); echo "submit: a line of a path's name outside the comments: $(printf '%s\n' "$head" | grep -v '^#' | head -n 1)"; fi
  bash -n "$D40/sbn/sweep.sbatch" 2>/dev/null || { ignored=$((ignored + 1)); echo "submit: the script is not valid bash"; }
fi
for v in 307445734561825861 18446744073709551615 2147483648 213503982334601-0; do
  check "submit --time $v" "!--time" --threads 1 sweep submit --grid "$D40/g.toml" --out "$D40/sbt" --shards 2 --dry-run --time $v
  grep -h -- '--time=' "$D40/sbt/sweep.sbatch" 2>/dev/null
  rm -rf "$D40/sbt"
done
check "submit --time 2147483647" + --threads 1 sweep submit --grid "$D40/g.toml" --out "$D40/sbt" --shards 2 --dry-run --time 2147483647
check "submit --partition ''" "!--partition" --threads 1 sweep submit --grid "$D40/g.toml" --out "$D40/sbp" --shards 2 --dry-run --partition ''
check "submit --out with %j" + --threads 1 sweep submit --grid "$D40/g.toml" --out "$D40/runs%j" --shards 2 --dry-run
grep -q -- '--output=.*runs%%j/logs/shard%a.log' "$D40/runs%j/sweep.sbatch" 2>/dev/null ||
  { ignored=$((ignored + 1)); echo "submit --out runs%j: $(grep -h -- '--output=' "$D40/runs%j/sweep.sbatch" 2>/dev/null)"; }
# --scale and --shard, parsed by clap with the library's parser: refused naming the flag, without
# the configuration field's inner name (data.scale, run.shard).
check "--scale 0" --scale train --task xor --epochs 1 --scale 0 --out "$D40/n.safetensors"
grep -q 'data\.scale' "$W/err" && { unnamed=$((unnamed + 1)); echo "--scale 0: names data.scale"; }
check "--shard 5/4" --shard --threads 1 sweep --grid "$D40/g.toml" --out "$D40/sws" --shard 5/4
grep -q 'run\.shard' "$W/err" && { unnamed=$((unnamed + 1)); echo "--shard 5/4: names run.shard"; }
# User data: labels and shapes (probed fine: refused naming the file, or run).
python3 - "$D40" <<'PY40'
import struct, sys
from npy import npy
d = sys.argv[1]
n = 300
y = [i % 3 for i in range(n)]
x = [[(i * 7 + j * 3) % 11 / 5 + y[i] for j in range(4)] for i in range(n)]
npy(f"{d}/x.npy", "<f8", (n, 4), b"".join(struct.pack("<d", v) for r in x for v in r))
npy(f"{d}/x3.npy", "<f8", (3, 4), b"".join(struct.pack("<d", v) for r in x[:3] for v in r))
def lab(name, vals, descr="<i8", fmt="<q"):
    npy(f"{d}/{name}.npy", descr, (len(vals),), b"".join(struct.pack(fmt, v) for v in vals))
lab("y", y); lab("y3", y[:3])
lab("yneg", [v - 1 for v in y]); lab("yhuge", [2**40 if v == 2 else v for v in y])
lab("yf", [float(v) for v in y], "<f8", "<d"); lab("ygap", [5 * v for v in y])
lab("yone", [0] * n); lab("ynoc2", [0 if v == 2 else v for v in y])
npy(f"{d}/y0d.npy", "<i8", (), struct.pack("<q", 1))
npy(f"{d}/y2d.npy", "<i8", (n, 2), b"".join(struct.pack("<qq", v, v) for v in y))
PY40
TD=(--threads 1 train --task data --epochs 2 --hidden 4 --train-x "$D40/x.npy")
check "labels -1" yneg.npy "${TD[@]}" --train-y "$D40/yneg.npy" --test-split 0:100 --out "$D40/d.safetensors"
check "labels of 2^40" yhuge.npy "${TD[@]}" --train-y "$D40/yhuge.npy" --test-split 0:100 --out "$D40/d.safetensors"
check "float labels" yf.npy "${TD[@]}" --train-y "$D40/yf.npy" --test-split 0:100 --out "$D40/d.safetensors"
check "labels of one class" yone.npy "${TD[@]}" --train-y "$D40/yone.npy" --test-split 0:100 --out "$D40/d.safetensors"
check "0-d labels" y0d.npy "${TD[@]}" --train-y "$D40/y0d.npy" --test-split 0:100 --out "$D40/d.safetensors"
check "labels (N, 2)" y2d.npy "${TD[@]}" --train-y "$D40/y2d.npy" --test-split 0:100 --out "$D40/d.safetensors"
check "labels 0, 5, 10 (warned)" + "${TD[@]}" --train-y "$D40/ygap.npy" --test-split 200:300 --out "$D40/d.safetensors"
check "train on 0, 1, 2" + "${TD[@]}" --train-y "$D40/y.npy" --test-x "$D40/x.npy" --test-y "$D40/y.npy" --out "$D40/d.safetensors"
DA=(--model "$D40/d.safetensors" --task data --train-x "$D40/x.npy" --train-y "$D40/y.npy")
check "analyze: test set without class 2" + --threads 1 analyze "${DA[@]}" --test-x "$D40/x.npy" --test-y "$D40/ynoc2.npy" --json
check "analyze: one sample per class" "1 sample" --threads 1 analyze "${DA[@]}" --test-x "$D40/x3.npy" --test-y "$D40/y3.npy" --json
check "propagate: one sample per class" "1 sample" --threads 1 propagate "${DA[@]}" --test-x "$D40/x3.npy" --test-y "$D40/y3.npy" --json
# Grid files: a BOM and CRLF run; nesting 10 000 deep, epochs 2.0 and duplicate keys refused
# naming the file.
printf '\xef\xbb\xbftask = "xor"\r\nn_train = 200\r\nhidden = [[4]]\r\nepochs = 1\r\n' >"$D40/gbom.toml"
check "grid with a BOM and CRLF" + --threads 1 sweep --grid "$D40/gbom.toml" --out "$D40/swbom" --dry-run
python3 -c 'import sys; open(sys.argv[1], "w").write("task = \"xor\"\nhidden = " + "[" * 10000 + "4" + "]" * 10000 + "\n")' "$D40/gdeep.toml"
check "grid nested 10 000 deep" gdeep.toml --threads 1 sweep --grid "$D40/gdeep.toml" --out "$D40/swdeep" --dry-run
printf 'task = "xor"\nepochs = 2.0\n' >"$D40/gfl.toml"
check "grid epochs = 2.0" "key 'epochs'" --threads 1 sweep --grid "$D40/gfl.toml" --out "$D40/swfl" --dry-run
printf 'task = "xor"\nepochs = 2\nepochs = 3\n' >"$D40/gdup.toml"
check "grid with a key twice" gdup.toml --threads 1 sweep --grid "$D40/gdup.toml" --out "$D40/swdup" --dry-run
# SIGKILL as soon as a temporary output appears (a report folder, a CSV, a plots folder), then
# the rerun: it completes and nothing temporary is left.
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [%s]\n' "$(seq -s, 1 40)" >"$D40/g40.toml"
"$BIN" --threads 1 sweep --grid "$D40/g40.toml" --out "$D40/sw40" >/dev/null 2>&1
mkdir -p "$D40/k1" "$D40/k2" "$D40/k3"
for spec in "k1|--threads 1 analyze --model $W/mnist.safetensors --task mnist --mnist-dir $MNIST --report $D40/k1/rep" \
  "k2|--threads 1 sweep export $D40/sw40 --csv $D40/k2/e.csv" "k3|--threads 1 sweep summarize $D40/sw40 --plots $D40/k3/pl"; do
  runs=$((runs + 1))
  dir=$D40/${spec%%|*}
  python3 - "$BIN" "$dir" ${spec#*|} <<'PY40' >"$W/out" 2>&1
import os, signal, subprocess, sys
binary, d, args = sys.argv[1], sys.argv[2], sys.argv[3:]
for _ in range(8):
    p = subprocess.Popen([binary] + args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    caught = False
    while p.poll() is None:
        if any(n.startswith(".corrflow-tmp-") and "probe" not in n for n in os.listdir(d)):
            os.kill(p.pid, signal.SIGKILL); p.wait(); caught = True
            break
    if caught:
        break
print("caught" if caught else "not caught")
PY40
  "$BIN" ${spec#*|} >/dev/null 2>"$W/err" || { refused=$((refused + 1)); echo "rerun after SIGKILL (${spec%%|*}): $(head -c 160 "$W/err")"; }
  grep -q "not caught" "$W/out" && echo "SIGKILL mid-write (${spec%%|*}): no run caught mid-write"
  n=$(find "$dir" -name '.corrflow-tmp-*' | wc -l)
  [ "$n" -gt 0 ] && { debris=$((debris + n)); echo "SIGKILL mid-write, then the rerun (${spec%%|*}): $n temporary files"; }
done
n=$(find "$D40" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 40: $n temporary files"; }

# 41. Forty-ninth session (adv49c): adv49a's open items and model files from PyTorch. Old:
# `--max-memory 99999999999999999999T` ran as if no limit was given; a grid's `seed =
# 18446744073709551615` was refused by the TOML parser without the key or the line; `sweep merge`
# of a folder given twice said one warning line per point; `sweep submit --cpus-per-task 100000`
# wrote a script whose every task's `--threads` is refused; a grid file named with a space was
# refused by `sweep submit` (its stem is only the job's name). Model files (probed fine): F16,
# BF16 and I64 tensors, optimizer state or a buffer beside the layers, a torch.nn.Sequential
# state dict's names, transposed and 3-d weights, layer numbers with a gap (refused naming the
# file and tensor); a missing bias, F32 tensors, subnormal and zero layers, two identical units,
# a layer of width 1, no hidden layer (run; every null in --json a documented one); weights
# ±1e300 (refused naming the model); three trains to one --out, two sweeps to one folder and
# three reports to one folder at once (a whole model and report; the second sweep refused).
D41=$W/d41
rm -rf "$D41" && mkdir -p "$D41"
check "--max-memory 99999999999999999999T" "!--max-memory" --max-memory 99999999999999999999T --threads 1 propagate --model "$OUT" --json
check "--max-memory 16777216T" "!--max-memory" --max-memory 16777216T --threads 1 propagate --model "$OUT" --json
check "--max-memory of 400 digits" "!--max-memory" --max-memory "$(printf '9%.0s' $(seq 400))" --threads 1 propagate --model "$OUT" --json
check "--max-memory 16777215T" + --max-memory 16777215T --threads 1 propagate --model "$OUT" --json
printf 'task = "xor"\nn_train = 200\nseed = 18446744073709551615\n' >"$D41/gbig.toml"
check "grid seed = 2^64 - 1" "line 3, key 'seed'" --threads 1 sweep --grid "$D41/gbig.toml" --out "$D41/swbig" --dry-run
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [%s]\n' "$(seq -s, 1 12)" >"$D41/g12.toml"
"$BIN" --threads 1 sweep --grid "$D41/g12.toml" --out "$D41/sw12" >/dev/null 2>&1
check "merge of a folder given twice" + --threads 1 sweep merge --grid "$D41/g12.toml" --out "$D41/mg" "$D41/sw12" "$D41/sw12"
n=$(grep -c warning "$W/err")
[ "$n" -gt 1 ] && { ignored=$((ignored + 1)); echo "merge of a folder given twice: $n warning lines for one pair of folders"; }
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2]\n' >"$D41/g2.toml"
check "merge of another grid's folder" + --threads 1 sweep merge --grid "$D41/g2.toml" --out "$D41/mg2" "$D41/sw12"
n=$(grep -c warning "$W/err")
[ "$n" -gt 1 ] && { ignored=$((ignored + 1)); echo "merge of another grid's folder: $n warning lines for one folder"; }
check "submit --cpus-per-task 100000" "!--cpus-per-task" --threads 1 sweep submit --grid "$D41/g2.toml" --out "$D41/sbc" --shards 2 --dry-run --cpus-per-task 100000
check "submit --cpus-per-task 1024" + --threads 1 sweep submit --grid "$D41/g2.toml" --out "$D41/sbk" --shards 2 --dry-run --cpus-per-task 1024
cp "$D41/g2.toml" "$D41/my grid.toml"
check "submit of 'my grid.toml'" + --threads 1 sweep submit --grid "$D41/my grid.toml" --out "$D41/sbw" --shards 2 --dry-run
grep -q -- '--job-name=my_grid$' "$D41/sbw/sweep.sbatch" 2>/dev/null ||
  { [ -f "$D41/sbw/sweep.sbatch" ] && { ignored=$((ignored + 1)); echo "submit of 'my grid.toml': $(grep -h -- '--job-name' "$D41/sbw/sweep.sbatch")"; }; }
# Model files as PyTorch writes them (safetensors by hand: no torch here), from the XOR model.
python3 - "$OUT" "$D41" <<'PY41'
import json, struct, sys
src, d = sys.argv[1], sys.argv[2]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n]); meta = head.pop("__metadata__")
body = raw[8 + n:]
T = {}
for k, v in head.items():
    a, b = v["data_offsets"]
    T[k] = (v["shape"], list(struct.unpack("<%dd" % ((b - a) // 8), body[a:b])))
def f16(x): return struct.pack("<e", x)
def bf16(x): return struct.pack("<f", x)[2:]
PACK = {"F64": lambda x: struct.pack("<d", x), "F32": lambda x: struct.pack("<f", x), "F16": f16, "BF16": bf16,
        "I64": lambda x: struct.pack("<q", int(x))}
def write(name, tensors, dtype="F64", m=None):
    md = dict(meta); md.update(m or {})
    h = {"__metadata__": md}; data = b""
    for k, (shape, vals) in tensors.items():
        dt = dtype if isinstance(dtype, str) else dtype.get(k, "F64")
        blob = b"".join(PACK[dt](v) for v in vals)
        h[k] = {"dtype": dt, "shape": shape, "data_offsets": [len(data), len(data) + len(blob)]}
        data += blob
    hj = json.dumps(h).encode(); hj += b" " * ((8 - len(hj) % 8) % 8)
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(hj)) + hj + data)
def mod(**kw):
    t = dict(T); t.update(kw); return t
W1, B1 = T["hidden1.weight"], T["hidden1.bias"]
for dt in ["F16", "BF16", "I64"]: write(dt.lower(), T, dt)
write("f32", T, "F32"); write("mixed", T, {"hidden1.weight": "F32"})
write("optim", mod(**{"hidden1.weight.exp_avg": W1}))
write("buffer", mod(num_batches_tracked=([], [3.0])))
write("seqnames", {k.replace("hidden1", "0").replace("readout", "2"): v for k, v in T.items()})
write("nobias", {k: v for k, v in T.items() if k != "hidden1.bias"})
write("transposed", mod(**{"hidden1.weight": ([W1[0][1], W1[0][0]], W1[1])}))
write("w3d", mod(**{"hidden1.weight": (W1[0] + [1], W1[1])}))
write("gap", {k.replace("hidden1", "hidden2"): v for k, v in T.items()})
write("subnormal", mod(**{"hidden1.weight": (W1[0], [w * 1e-310 for w in W1[1]])}))
write("zero", mod(**{"hidden1.weight": (W1[0], [0.0] * len(W1[1])), "hidden1.bias": (B1[0], [0.0] * len(B1[1]))}))
write("huge", mod(**{"readout.weight": (T["readout.weight"][0], [1e300 if w > 0 else -1e300 for w in T["readout.weight"][1]])}))
cols = W1[0][1]
write("twins", mod(**{"hidden1.weight": (W1[0], W1[1][:cols] * 2 + W1[1][2 * cols:]), "hidden1.bias": (B1[0], B1[1][:1] * 2 + B1[1][2:])}))
R = T["readout.weight"]
write("width1", mod(**{"hidden1.weight": ([1, cols], W1[1][:cols]), "hidden1.bias": ([1], B1[1][:1]),
                        "readout.weight": ([R[0][0], 1], R[1][::R[0][1]])}), m={"widths": "2,1,2"})
write("nohidden", {"readout.weight": ([R[0][0], 2], R[1][:2] + R[1][R[0][1]:R[0][1] + 2]), "readout.bias": T["readout.bias"]},
      m={"widths": "2,2", "activation": "relu"})
PY41
for f in f16 bf16; do check "model of $f tensors (widened exactly, fiftieth session)" + --threads 1 propagate --model "$D41/$f.safetensors" --json; done
check "model of i64 tensors" "i64.safetensors" --threads 1 propagate --model "$D41/i64.safetensors" --json
check "model with optimizer state" "hidden1.weight.exp_avg" --threads 1 propagate --model "$D41/optim.safetensors" --json
check "model with a buffer" "num_batches_tracked" --threads 1 propagate --model "$D41/buffer.safetensors" --json
check "model of nn.Sequential names" "'0." --threads 1 propagate --model "$D41/seqnames.safetensors" --json
check "model with a transposed weight" "shape" --threads 1 propagate --model "$D41/transposed.safetensors" --json
check "model with a 3-d weight" "shape" --threads 1 propagate --model "$D41/w3d.safetensors" --json
check "model with a gap in layer numbers" "hidden2" --threads 1 propagate --model "$D41/gap.safetensors" --json
check "model with ±1e300 read-out weights" "huge.safetensors" --threads 1 propagate --model "$D41/huge.safetensors" --json
for f in f32 mixed nobias subnormal zero twins width1 nohidden; do
  check "propagate: model $f" + --threads 1 propagate --model "$D41/$f.safetensors" --n-test 500 --json
  check "analyze: model $f" + --threads 1 analyze --model "$D41/$f.safetensors" --n-train 500 --n-test 500 --json
done
check "analyze --order 4: model twins" + --threads 1 analyze --model "$D41/twins.safetensors" --n-train 500 --n-test 500 --order 4 --json
check "analyze --report: model zero" + --threads 1 analyze --model "$D41/zero.safetensors" --n-train 500 --n-test 500 --report "$D41/repz"
grep -lE '\bNaN\b|\binf\b' "$D41/repz/report.md" "$D41/repz/report.json" 2>/dev/null | while read -r f; do echo "report of model zero: non-finite text in $f"; done
n=$(grep -lE '\bNaN\b|\binf\b' "$D41/repz/report.md" "$D41/repz/report.json" 2>/dev/null | wc -l)
nonfinite=$((nonfinite + n))
# Writers to one output at once: a whole model, one sweep refused and a whole results file, a
# whole report.
runs=$((runs + 3))
for i in 1 2 3; do "$BIN" --threads 1 train "${XOR[@]}" --hidden 4 --seed $i --out "$D41/same.safetensors" >/dev/null 2>&1 & done; wait
"$BIN" --threads 1 propagate --model "$D41/same.safetensors" --json >/dev/null 2>&1 || { clobbered=$((clobbered + 1)); echo "three trains to one --out: the model does not load"; }
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nseed = [1, 2, 3, 4]\n' >"$D41/g4.toml"
for i in 1 2; do "$BIN" --threads 1 sweep --grid "$D41/g4.toml" --out "$D41/swc" >/dev/null 2>"$D41/swc$i.err" & done; wait
[ "$(wc -l <"$D41/swc/results.jsonl")" = 4 ] || { clobbered=$((clobbered + 1)); echo "two sweeps to one --out: $(wc -l <"$D41/swc/results.jsonl") records"; }
"$BIN" --threads 1 sweep export "$D41/swc" --csv "$D41/swc.csv" >/dev/null 2>&1 || { clobbered=$((clobbered + 1)); echo "two sweeps to one --out: the folder does not export"; }
for i in 1 2 3; do "$BIN" --threads 1 analyze --model "$OUT" --n-train 300 --n-test 300 --seed $i --report "$D41/repc" >/dev/null 2>&1 & done; wait
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$D41/repc/report.json" 2>/dev/null || { clobbered=$((clobbered + 1)); echo "three reports to one folder: report.json does not parse"; }
n=$(find "$D41" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 41: $n temporary files"; }

# 42. Forty-ninth session (adv49b): the found-not-fixed list. Training flags given with
# `analyze --model` (a loaded model is not trained): --loss, --optimizer and --batch had clap
# defaults, so a given one could not be told from an unset one and was ignored with exit 0;
# every training flag must now be refused naming it (ignored), --seed and --precision (the
# Monte Carlo draws', the propagation's) still run. A training that ends far worse than a
# constant output (XOR --gain 10 … 1e10: loss 26 … 9e60, accuracy ~0.5, exit 0 without a word)
# must warn on stderr naming --gain (no warning: counted as ignored); the default, --gain 0.5
# and 3 on XOR and the MNIST default must stay silent (a warning there: counted as unnamed).
# Threads that cannot all start under a tight `ulimit -v` must be refused naming the limit,
# never abort ("failed to allocate an alternative stack", exit 134: a pool's thread stacks
# raced the signal waiter's and the first worker's alternate signal stacks).
D42=$W/d42
mkdir -p "$D42"
"$BIN" --threads 1 train "${XOR[@]}" --n-train 200 --hidden 4 --out "$D42/m.safetensors" >/dev/null 2>&1
a42=(--threads 1 analyze --task xor --n-train 200 --n-test 200 --mc-samples 1000 --json --model "$D42/m.safetensors")
for fv in "--loss ce" "--loss mse" "--optimizer sgd" "--optimizer adam" "--batch 7" "--batch 64" "--epochs 3" "--lr 0.1" "--gain 2" "--hidden 4"; do
  # shellcheck disable=SC2086
  check "analyze --model $fv" "!${fv%% *}" "${a42[@]}" $fv
done
check "analyze --model --seed 5" + "${a42[@]}" --seed 5
check "analyze --model --precision f32" + "${a42[@]}" --precision f32
x42=(--threads 1 train --task xor)
for g in 10 1e3 1e10; do
  check "train --gain $g (warned)" + "${x42[@]}" --gain $g --out "$D42/g.safetensors"
  grep -q "constant output" "$W/err" && grep -q -- "--gain" "$W/err" ||
    { ignored=$((ignored + 1)); echo "train --gain $g: no warning of a network worse than a constant output"; }
done
check "analyze --gain 1e3 (warned)" + --threads 1 analyze --task xor --gain 1e3 --mc-samples 1000 --json
grep -q "constant output" "$W/err" || { ignored=$((ignored + 1)); echo "analyze --gain 1e3: no warning"; }
for g in default 0.5 3; do
  gf=(); [ "$g" != default ] && gf=(--gain "$g")
  check "train --gain $g (silent)" + "${x42[@]}" "${gf[@]}" --out "$D42/g.safetensors"
  grep -q "constant output" "$W/err" && { unnamed=$((unnamed + 1)); echo "train --gain $g: warned of a healthy run"; }
done
check "train MNIST default (silent)" + --threads 1 train "${MN[@]}" --out "$D42/g.safetensors"
grep -q "constant output" "$W/err" && { unnamed=$((unnamed + 1)); echo "MNIST default: warned of a healthy run"; }
for v in 20400 20408 20416 20420 20424 20428 20432 20440 20448 20456 20464 20472 20480; do
  PRE="ulimit -v $v" check "ulimit -v $v: --threads 2" "ulimit -v" --threads 2 --max-memory 1G train "${XOR[@]}" --out "$D42/u.safetensors"
done
n=$(find "$D42" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 42: $n temporary files"; }

# 43. Fiftieth session (adv50): the environment of the threads, `sweep submit`'s output folder,
# the names a failed write and a report give. RUST_MIN_STACK (the standard library's stack size
# for new threads) reached the pools' threads: 1 (16 KiB) and 65536 overflowed a worker's stack
# in the kernels, abort, exit 134 (counted as a panic); it must run and say on stderr that the
# value is not used (no word: counted as ignored), while 2097152 and 8388608 (set for `cargo
# test`) stay silent (a word: unnamed). `sweep submit --out DIR` replaced a `sweep.sbatch` of
# the user's own in DIR (`--out .` beside one's batch script) without a word: it must be
# refused naming --out (ignored) and left as it was (clobbered); a resubmission into its own
# folder must still run; a file as --out was "File exists (os error 17)" (unnamed: --out). A
# write past `ulimit -f` named the temporary file (`DIR/.corrflow-tmp-<pid>-2-m.safetensors:
# File too large`, `DIR/.corrflow-tmp-<pid>-2-rep/heatmap.png`), a name the user never gave
# (unnamed: the model's path, the report's). A model named with a newline broke report.md's
# header table (the newline ended the row; the rest stood outside the table): every line of
# the table must be a row (counted as implausible).
D43=$W/d43
mkdir -p "$D43"
x43=(--threads 2 train --task xor --epochs 1)
for s in 1 65536; do
  RUST_MIN_STACK=$s check "RUST_MIN_STACK=$s: --threads 2 train" + "${x43[@]}" --out "$D43/m.safetensors"
  grep -q "RUST_MIN_STACK=\"$s\" is not used" "$W/err" ||
    { ignored=$((ignored + 1)); echo "RUST_MIN_STACK=$s: not said"; }
done
RUST_MIN_STACK=65536 check "RUST_MIN_STACK=65536: sweep" + --threads 2 sweep --grid "$W/g0.toml" --out "$D43/sw"
for s in 2097152 8388608; do
  RUST_MIN_STACK=$s check "RUST_MIN_STACK=$s (silent)" + "${x43[@]}" --out "$D43/m.safetensors"
  grep -q RUST_MIN_STACK "$W/err" && { unnamed=$((unnamed + 1)); echo "RUST_MIN_STACK=$s: warned"; }
done
mkdir -p "$D43/mine"
printf '#!/bin/bash\n#SBATCH --array=0-9\nsrun ./my-own-job\n' >"$D43/mine/sweep.sbatch"
cp "$D43/mine/sweep.sbatch" "$D43/mine.orig"
check "submit --out beside the user's sweep.sbatch" "!--out" sweep submit --grid "$W/g0.toml" --out "$D43/mine" --shards 1 --dry-run
cmp -s "$D43/mine/sweep.sbatch" "$D43/mine.orig" ||
  { clobbered=$((clobbered + 1)); echo "clobbered: the user's own sweep.sbatch was replaced"; }
check "submit into a new folder" + sweep submit --grid "$W/g0.toml" --out "$D43/job" --shards 1 --dry-run
check "submit again into its own folder" + sweep submit --grid "$W/g0.toml" --out "$D43/job" --shards 1 --dry-run
echo x >"$D43/a-file"
check "submit --out a file" "--out" sweep submit --grid "$W/g0.toml" --out "$D43/a-file" --shards 1 --dry-run
PRE="ulimit -f 64" check "ulimit -f: train names the model" "$D43/big.safetensors: File too large" --threads 1 train --task xor --n-train 8 --n-test 8 --epochs 1 --hidden 300,300 --out "$D43/big.safetensors"
PRE="ulimit -f 16" check "ulimit -f: report names the folder" "$D43/rep/" --threads 1 analyze --model "$OUT" --task xor --mc-samples 1000 --report "$D43/rep"
nl=$D43/$'x\n| injected |\n.safetensors'
cp "$OUT" "$nl"
check "report of a model named with a newline" + --threads 1 analyze --model "$nl" --task xor --mc-samples 1000 --report "$D43/nl"
if [ -f "$D43/nl/report.md" ] && awk '/^\|/ {t = 1} t && /^$/ {exit} t && !/^\|.*\|$/ {bad = 1} END {exit !bad}' "$D43/nl/report.md"; then
  implausible=$((implausible + 1)); echo "report.md: a line of the header table is not a row"
fi
n=$(find "$D43" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 43: $n temporary files"; }


# 44. Fifty-first session (adv51): the first AVX2-only machine (AMD EPYC Zen 3) and the float16
# readers. CORRFLOW_ISA=avx512 there ran the kernels on AVX2 without a word, and neither
# `--timings` table nor `--json` said which instruction set ran: the "this run" line must end
# "kernels on SET" (no: counted as ignored) and an asked set the CPU lacks must be warned of
# naming CORRFLOW_ISA (no word: unnamed). float16 `.npy` features (`<f2`, `>f2`) and F16/BF16
# safetensors models with NaN/±Inf must be refused naming the file (and the tensor); truncated,
# trailing, odd-length, mis-shaped and huge-shaped ones refused naming the file; subnormals run.
D44=$W/d44
mkdir -p "$D44"
for isa in avx512 avx2 scalar best; do
  CORRFLOW_ISA=$isa check "CORRFLOW_ISA=$isa --timings" + --threads 1 propagate --model "$OUT" --timings
  ran=$(sed -n 's/^this run: .*; kernels on \([a-z0-9]*\)$/\1/p' "$W/err")
  [ -n "$ran" ] || { ignored=$((ignored + 1)); echo "CORRFLOW_ISA=$isa: the table does not say the kernels' set"; }
  # What runs where the table does not say: avx512 needs AVX-512F (/proc/cpuinfo), else avx2.
  [ -n "$ran" ] || { [ "$isa" = avx512 ] && ! grep -qw avx512f /proc/cpuinfo && ran=avx2; }
  if [ -n "$ran" ] && [ "$isa" != best ] && [ "$ran" != "$isa" ] && ! grep -q "CORRFLOW_ISA=$isa but this CPU has no" "$W/err"; then
    unnamed=$((unnamed + 1)); echo "CORRFLOW_ISA=$isa ran on $ran without a word"
  fi
done
CORRFLOW_ISA=avx512 check "CORRFLOW_ISA=avx512 --timings --json" + --threads 1 analyze --model "$OUT" --task xor --mc-samples 1000 --timings --json
python3 -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["timings"].get("isa") not in ("avx512", "avx2", "scalar"))' "$W/out" 2>/dev/null ||
  { ignored=$((ignored + 1)); echo "analyze --json: no timings.isa"; }
python3 - "$D44" "$OUT" <<'PY'
import json, random, struct, sys
from npy import into
d, model = sys.argv[1], sys.argv[2]
npy = into(d)
random.seed(0)
n = 64
lab = [i % 2 for i in range(n)]
f = [v for l in lab for v in (random.gauss(0, 1) + 2 * l, random.gauss(0, 1))]
npy("y.npy", "<i8", (n,), struct.pack("<%dq" % n, *lab))
raw = struct.pack("<%de" % (2 * n), *f)
npy("ok-x.npy", "<f2", (n, 2), raw)
npy("be-x.npy", ">f2", (n, 2), struct.pack(">%de" % (2 * n), *f))
for name, bits in [("nan", 0x7e00), ("inf", 0x7c00), ("ninf", 0xfc00), ("sub", 0x0001)]:
    npy(name + "-x.npy", "<f2", (n, 2), raw[:6] + struct.pack("<H", bits) + raw[8:])
npy("odd-x.npy", "<f2", (n, 2), raw[:-1])
npy("long-x.npy", "<f2", (n, 2), raw + b"\0\0")
npy("huge-x.npy", "<f2", (1 << 40, 2), raw)
npy("huge2-x.npy", "<f2", (1 << 62, 4), raw)
npy("shape-x.npy", "<f2", (n, 3), raw)
b = open(model, "rb").read()
k = struct.unpack("<Q", b[:8])[0]
h, data = json.loads(b[8:8 + k]), b[8 + k:]
def st(name, dtype="F16", poison=None, bits=0x3c00, cut=0, shape=None):
    out, body = {"__metadata__": h["__metadata__"]}, b""
    for key, v in h.items():
        if key == "__metadata__":
            continue
        s, e = v["data_offsets"]
        vals = struct.unpack("<%dd" % ((e - s) // 8), data[s:e])
        t = struct.pack("<%de" % len(vals), *vals) if dtype == "F16" else b"".join(struct.pack("<f", x)[2:] for x in vals)
        if key == poison:
            t = (struct.pack("<H", bits) + t[2:])[:len(t) - cut]
        out[key] = {"dtype": dtype, "shape": shape if shape and key == poison else v["shape"], "data_offsets": [len(body), len(body) + len(t)]}
        body += t
    hj = json.dumps(out).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    open(f"{d}/{name}.safetensors", "wb").write(struct.pack("<Q", len(hj)) + hj + body)
st("f16"); st("bf16", "BF16")
st("f16nan", poison="hidden1.weight", bits=0x7e00); st("f16inf", poison="readout.bias", bits=0x7c00)
st("bf16nan", "BF16", "hidden1.weight", 0x7fc0); st("bf16inf", "BF16", "readout.weight", 0xff80)
st("f16sub", poison="hidden1.weight", bits=0x0001)
st("f16odd", poison="hidden1.weight", cut=1); st("f16shape", poison="hidden1.weight", shape=[8, 3])
st("f16huge", poison="hidden1.weight", shape=[1 << 40, 1 << 30])
PY
for f in ok be sub; do
  check "float16 npy features: $f" + --threads 1 train --task data --train-x "$D44/$f-x.npy" --train-y "$D44/y.npy" --test-split 0:16 --hidden 4 --epochs 2 --out "$D44/m-$f.safetensors"
done
for f in nan inf ninf odd long huge huge2 shape; do
  check "float16 npy features: $f" "$f-x.npy" --threads 1 train --task data --train-x "$D44/$f-x.npy" --train-y "$D44/y.npy" --test-split 0:16 --hidden 4 --epochs 2 --out "$D44/m-$f.safetensors"
done
for f in f16 bf16 f16sub; do
  check "model $f" + --threads 1 propagate --model "$D44/$f.safetensors" --json
done
check "model f16nan" "tensor 'hidden1.weight'" --threads 1 propagate --model "$D44/f16nan.safetensors"
check "model f16inf" "tensor 'readout.bias'" --threads 1 propagate --model "$D44/f16inf.safetensors"
check "model bf16nan" "tensor 'hidden1.weight'" --threads 1 analyze --model "$D44/bf16nan.safetensors" --task xor
check "model bf16inf" "tensor 'readout.weight'" --threads 1 propagate --model "$D44/bf16inf.safetensors"
for f in f16odd f16shape f16huge; do
  check "model $f" "$f.safetensors" --threads 1 propagate --model "$D44/$f.safetensors"
done
n=$(find "$D44" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 44: $n temporary files"; }

# 45. Fifty-second session (adv52): the `unlearned` warning where it fires, tiny stack limits,
# `sweep submit` against fake `sbatch`es. MNIST 784-100-100-10 at `--lr 0.1` collapses: its
# `unlearned` object must be the same in `train --json`, `analyze --json`'s `trained`, the
# report's report.json and a sweep's record (lr = [0.001, 0.1]) and its cause in the CSV
# (differs: implausible), and report.md must say it (no word: ignored); export, summarize and a
# resume noted 'unlearned' as a key no record has, read past (a note: unnamed), also after the
# field was stripped from the records (a results file written before it existed). Under
# `ulimit -s` 16 to 64 KiB every command aborted ("thread 'main' has overflowed its stack", exit
# 134: a panic); below 16 KiB not even /bin/true starts, not probed. A fake `sbatch` printing
# gigabytes was read whole (3 GB: an abort under `ulimit -v` 2G; 20 MB here, echoed whole into
# the error: unnamed); `--cpus-per-task 8` on a 2-point grid said "8 point(s) at once"
# (implausible). A hanging `sbatch` is waited for (not probed: bounded by the user).
D45=$W/d45
mkdir -p "$D45"
lr45=(--task mnist --mnist-dir "$MNIST" --hidden 100,100 --lr 0.1)
check "train --lr 0.1 (collapse)" + --threads 2 train "${lr45[@]}" --json --out "$D45/lr01.safetensors"
cp "$W/out" "$D45/train.json"
check "analyze --lr 0.1 --report" + --threads 2 analyze "${lr45[@]}" --json --report "$D45/rep"
cp "$W/out" "$D45/analyze.json"
grep -q '^| unlearned |.*learned nothing usable' "$D45/rep/report.md" 2>/dev/null ||
  { ignored=$((ignored + 1)); echo "report.md: no word of the network that learned nothing"; }
printf 'task = "mnist"\nmnist_dir = "%s"\nhidden = [[100, 100]]\nlr = [0.001, 0.1]\n' "$MNIST" >"$D45/g.toml"
check "sweep lr = [0.001, 0.1]" + --threads 2 sweep --grid "$D45/g.toml" --out "$D45/sw"
check "sweep export" + sweep export "$D45/sw" --csv "$D45/sw.csv"
grep -q "no result record has" "$W/err" && { unnamed=$((unnamed + 1)); echo "export: 'unlearned' noted as unknown"; }
check "sweep summarize" + sweep summarize "$D45/sw"
grep -q "no result record has" "$W/err" && { unnamed=$((unnamed + 1)); echo "summarize: 'unlearned' noted as unknown"; }
check "sweep resumed" + --threads 2 sweep --grid "$D45/g.toml" --out "$D45/sw"
grep -q "no result record has" "$W/err" && { unnamed=$((unnamed + 1)); echo "resume: 'unlearned' noted as unknown"; }
python3 - "$D45" <<'PY' || { implausible=$((implausible + 1)); echo "unlearned: the outputs disagree"; }
import csv, json, sys
d = sys.argv[1]
t = json.load(open(f"{d}/train.json"))["unlearned"]
a = json.load(open(f"{d}/analyze.json"))["trained"]["unlearned"]
r = json.load(open(f"{d}/rep/report.json"))["trained"]["unlearned"]
recs = {json.loads(l)["config"]["lr"]: json.loads(l) for l in open(f"{d}/sw/results.jsonl")}
rows = {float(row["lr"]): row["unlearned"] for row in csv.DictReader(open(f"{d}/sw.csv"))}
ok = t["cause"] == "collapse" and t == a == r == recs[0.1]["unlearned"] and "unlearned" not in recs[0.001]
ok = ok and rows == {0.001: "", 0.1: "collapse"}
sys.exit(0 if ok else 1)
PY
# The records as written before the field existed: resumed, exported, no note.
mkdir -p "$D45/old"
python3 -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l); r.pop("unlearned", None); print(json.dumps(r))' "$D45/sw/results.jsonl" >"$D45/old/results.jsonl"
check "sweep resumed from records without unlearned" + --threads 2 sweep --grid "$D45/g.toml" --out "$D45/old"
grep -q "2 already done, 0 to run" "$W/err" || { refused=$((refused + 1)); echo "resume: not 2 already done"; }
for s in 16 24 32 64; do
  PRE="ulimit -s $s" check "ulimit -s $s: --version" + --version
  PRE="ulimit -s $s" check "ulimit -s $s: train" + --threads 2 train "${XOR[@]}" --out "$D45/s.safetensors"
  PRE="ulimit -s $s" check "ulimit -s $s: analyze --report" + --threads 2 analyze --model "$OUT" --task xor --mc-samples 1000 --report "$D45/srep$s"
  PRE="ulimit -s $s" check "ulimit -s $s: missing model" "$D45/none.safetensors" --threads 2 propagate --model "$D45/none.safetensors"
done
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nseed = [1, 2]\nepochs = 1\n' >"$D45/g2.toml"
check "submit --cpus-per-task 8, 2 points" + sweep submit --grid "$D45/g2.toml" --out "$D45/c8" --shards 1 --cpus-per-task 8 --dry-run
grep -q "2 point(s) at once" "$W/err" || { implausible=$((implausible + 1)); echo "submit: $(grep -o '[0-9]* point(s) at once' "$W/err") for a 2-point grid"; }
for k in ok fail none big bigerr; do mkdir -p "$D45/fake-$k"; done
printf '#!/bin/sh\necho 4242\n' >"$D45/fake-ok/sbatch"
printf '#!/bin/sh\necho "sbatch: error: Invalid partition" >&2\nexit 1\n' >"$D45/fake-fail/sbatch"
printf '#!/bin/sh\nexit 0\n' >"$D45/fake-none/sbatch"
# 20 MB each (the old binary held and echoed it all; gigabytes as probed by hand would fill
# this machine's disk with the echo).
printf '#!/bin/sh\nhead -c 20000000 /dev/zero | tr "\\0" x\necho 42\n' >"$D45/fake-big/sbatch"
printf '#!/bin/sh\nhead -c 20000000 /dev/zero | tr "\\0" e >&2\nexit 1\n' >"$D45/fake-bigerr/sbatch"
chmod +x "$D45"/fake-*/sbatch
PATH="$D45/fake-ok:$PATH" check "fake sbatch: a job id" + sweep submit --grid "$D45/g2.toml" --out "$D45/s-ok" --shards 1
PATH="$D45/fake-fail:$PATH" check "fake sbatch: exit 1" "sbatch refused it (exit status: 1): sbatch: error: Invalid partition" sweep submit --grid "$D45/g2.toml" --out "$D45/s-fail" --shards 1
PATH="$D45/fake-none:$PATH" check "fake sbatch: no job id" "expected a job id" sweep submit --grid "$D45/g2.toml" --out "$D45/s-none" --shards 1
for k in big bigerr; do
  PATH="$D45/fake-$k:$PATH" check "fake sbatch: $k output" "sbatch: printed more than" sweep submit --grid "$D45/g2.toml" --out "$D45/s-$k" --shards 1
  [ "$(wc -c <"$W/err")" -gt 10000 ] && { unnamed=$((unnamed + 1)); echo "fake sbatch $k: $(wc -c <"$W/err") bytes of message"; }
done
n=$(find "$D45" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 45: $n temporary files"; }

# 46. Fifty-third session (adv53): the environment's thread counts, `ulimit -s` with `ulimit -v`,
# the terms of a `ulimit -v` refusal. rayon's global pool reads RAYON_NUM_THREADS and, where
# that is no count, the deprecated RAYON_RS_NUM_CPUS; corrflow held only the first to the bound
# of --threads: RAYON_RS_NUM_CPUS=99999 started threads until killed (a hang) and 100 ran 100
# threads on 2 cores (must be refused naming it: ignored). A value rayon does not read as a count
# (abc, -1, " 3") ran one thread per core without a word (ignored); 0 ends rayon's search and
# stays silent (a word: unnamed). A sweep under --threads 0 took one thread per core whatever
# the environment said (RAYON_NUM_THREADS=1: "2 at a time" on 2 cores: ignored). A refusal under
# `ulimit -v` must give every term of the limit it states, and they must add up (rounding of
# the figures printed: 0.05 MiB, 1 MiB per thread, 1 KiB): missing or off, implausible.
D46=$W/d46
mkdir -p "$D46"
x46=(train --task xor --epochs 1 --out "$D46/m.safetensors")
RAYON_RS_NUM_CPUS=99999 check "RAYON_RS_NUM_CPUS=99999" RAYON_RS_NUM_CPUS "${x46[@]}"
RAYON_RS_NUM_CPUS=100 check "RAYON_RS_NUM_CPUS=100" "!RAYON_RS_NUM_CPUS" "${x46[@]}"
RAYON_RS_NUM_CPUS=99999 check "RAYON_RS_NUM_CPUS=99999: sweep" RAYON_RS_NUM_CPUS sweep --grid "$W/g0.toml" --out "$D46/sw0"
for v in abc -1 " 3" 2.5; do
  RAYON_NUM_THREADS="$v" check "RAYON_NUM_THREADS='$v'" + "${x46[@]}"
  grep -qF "RAYON_NUM_THREADS=\"$v\" is not a thread count" "$W/err" ||
    { ignored=$((ignored + 1)); echo "RAYON_NUM_THREADS='$v': ignored without a word"; }
done
RAYON_NUM_THREADS=abc RAYON_RS_NUM_CPUS=1 check "RAYON_NUM_THREADS=abc RAYON_RS_NUM_CPUS=1" + "${x46[@]}"
grep -qF "running 1 thread(s), as RAYON_RS_NUM_CPUS=1 asks" "$W/err" ||
  { ignored=$((ignored + 1)); echo "RAYON_NUM_THREADS=abc RAYON_RS_NUM_CPUS=1: what runs is unsaid"; }
for vars in "RAYON_NUM_THREADS=0 RAYON_RS_NUM_CPUS=99999" "RAYON_NUM_THREADS=" "RAYON_NUM_THREADS=1"; do
  PRE="export $vars" check "$vars (silent)" + "${x46[@]}"
  grep -q RAYON "$W/err" && { unnamed=$((unnamed + 1)); echo "$vars: a word where none is due"; }
done
RAYON_NUM_THREADS=1 check "RAYON_NUM_THREADS=1: sweep" + sweep --grid "$W/g0.toml" --out "$D46/sw1"
grep -qF "(1 at a time, 1 threads each)" "$W/err" ||
  { ignored=$((ignored + 1)); echo "RAYON_NUM_THREADS=1: sweep ran $(grep -o '([0-9]* at a time, [0-9]* threads each)' "$W/err")"; }
# The terms of a refusal under ulimit -v: one thread's share (read from a first refusal),
# then 20 MiB beyond it and the 98 MiB reserve. The share follows faer's cache-sized GEMM
# workspace (522 MiB on an Intel Xeon with 260 MiB of L3, 66 MiB on an AMD Zen 4 with 32 MiB:
# there 300 000 KiB is no refusal), so the probe lowers the limit until one says it.
share46=""
for lim46 in 300000 150000 100000; do
  share46=$( (ulimit -v $lim46; "$BIN" --threads 1 "${x46[@]}" 2>&1 >/dev/null) | grep -o 'less [0-9]* MiB per thread' | tr -cd 0-9)
  [ -n "$share46" ] && break
done
v46=$(((${share46:-522} + 118) * 1024))
PRE="ulimit -v $v46" check "ulimit -v $v46: the refusal's terms" "ulimit -v" --threads 1 "${x46[@]}"
python3 - "$W/err" <<'EOF' || { implausible=$((implausible + 1)); echo "ulimit -v $v46: $(head -c 300 "$W/err")"; }
import re, sys
e = open(sys.argv[1]).read()
m = re.search(r"the memory limit of ([0-9.]+) (B|KiB|MiB) \(ulimit -v of ([0-9]+) KiB, less ([0-9]+) MiB per thread "
              r"for its stack and faer's GEMM workspace for ([0-9]+) thread\(s\) and ([0-9]+) MiB for the program itself\)", e)
if not m:
    sys.exit(1)
unit = {"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[m[2]]
stated, limit, share, threads, reserve = float(m[1]) * unit, int(m[3]) << 10, int(m[4]) << 20, int(m[5]), int(m[6]) << 20
left = max(limit - threads * share - reserve, 0)
sys.exit(0 if abs(left - stated) <= 0.05 * unit + threads * (1 << 20) + 1024 else 1)
EOF
# A tiny stack with a tight address space: the main work's own 2 MiB stack (adv52) fits, and a
# limit below what one thread needs is refused naming ulimit -v, never an abort.
PRE="ulimit -s 32; ulimit -v 60000" check "ulimit -s 32 -v 60000: --version" + --version
PRE="ulimit -s 32; ulimit -v $v46" check "ulimit -s 32 -v $v46: train" "ulimit -v" --threads 1 "${x46[@]}"
PRE="ulimit -s 32; ulimit -v $((v46 + 204800))" check "ulimit -s 32 -v $((v46 + 204800)): train" + --threads 1 "${x46[@]}"
PRE="ulimit -s 32; ulimit -v $((v46 + 204800))" check "ulimit -s 32 -v $((v46 + 204800)): analyze --report" + --threads 1 analyze --model "$OUT" --task xor --mc-samples 1000 --report "$D46/rep"
# Probed and found fine (kept as regressions): width-1 networks at --order 4 --carry depth,
# --from-layer at and past the depth, a --kappa-units past the width, .npy dtypes that are no
# numbers, IDX dimensions whose product overflows, a symlink loop as grid, report and model
# output, four trainings into one --out at once.
"$BIN" --threads 1 train --task xor --epochs 1 --hidden 1 --out "$D46/w1.safetensors" >/dev/null 2>&1
"$BIN" --threads 1 train --task xor --epochs 1 --hidden 1,1,1 --out "$D46/w111.safetensors" >/dev/null 2>&1
check "width 1: analyze --order 4 --carry depth" + --threads 1 analyze --model "$D46/w1.safetensors" --task xor --order 4 --carry depth --json
check "width 1,1,1: propagate --order 4 --carry depth --batch 1" + --threads 1 propagate --model "$D46/w111.safetensors" --task xor --order 4 --carry depth --batch 1 --json
check "width 1,1,1: --from-layer 3" + --threads 1 propagate --model "$D46/w111.safetensors" --task xor --order 4 --carry depth --from-layer 3 --json
check "width 1,1,1: --from-layer 4" "--from-layer" --threads 1 propagate --model "$D46/w111.safetensors" --task xor --from-layer 4
check "--kappa-units past the width" + --threads 1 analyze --model "$OUT" --task xor --order 4 --carry depth --kappa-units 99999999999 --json
python3 - "$D46" <<'EOF'
import struct, sys
from npy import into
d = sys.argv[1]
npy = into(d)
for name, descr in [("O", "|O"), ("c16", "<c16"), ("U3", "<U3"), ("b1", "|b1"), ("M8", "<M8[s]"), ("V8", "|V8")]:
    npy(f"x{name}.npy", descr, "(20, 2)", bytes(640))
npy("y.npy", "<i8", "(20,)", struct.pack("<20q", *([0, 1] * 10)))
def idx(name, dims, body):
    open(f"{d}/{name}", "wb").write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + body)
idx("ov-img", [0xffffffff] * 4, bytes(1000))
idx("ov-img2", [65536] * 4, bytes(1000))
idx("lab", [10], bytes([0, 1] * 5))
EOF
for t in O c16 U3 b1 M8 V8; do
  check "npy dtype $t" "x$t.npy" --threads 1 train --task data --train-x "$D46/x$t.npy" --train-y "$D46/y.npy" --test-split 0:10 --out "$D46/x.safetensors"
done
for f in ov-img ov-img2; do
  check "IDX dims overflow: $f" "$f" --threads 1 train --task mnist --train-images "$D46/$f" --train-labels "$D46/lab" --test-split 0:5 --out "$D46/x.safetensors"
done
ln -sfn "$D46/loop2" "$D46/loop1" && ln -sfn "$D46/loop1" "$D46/loop2"
check "grid a symlink loop" "loop1" sweep --grid "$D46/loop1" --out "$D46/swl"
check "report a symlink loop" "loop1" --threads 1 analyze --model "$OUT" --task xor --mc-samples 1000 --report "$D46/loop1"
check "model output a symlink loop" "loop1" --threads 1 train --task xor --epochs 1 --out "$D46/loop1"
kept -L "$D46/loop1"
for i in 1 2 3 4; do
  "$BIN" --threads 1 train --task xor --epochs 3 --seed $i --hidden 64,64 --out "$D46/same.safetensors" >/dev/null 2>&1 &
done
wait
check "four trainings into one --out: the model reads" + --threads 1 propagate --model "$D46/same.safetensors" --task xor --json
n=$(find "$D46" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 46: $n temporary files"; }

# 47. Fifty-fourth session (adv54): the output tails' draws, output paths, flag and grid
# extremes, MNIST_DIR, and SIGINT/SIGTERM caught during the report's write. The output tails
# draw --mc-samples per class whatever the outputs, but the time estimate counted only the
# Monte Carlo argmax, which has closed forms below 3 outputs: `analyze --mc-samples 10^9` of an
# XOR model ran 25 s without a word (a hang at 20 s; must say its time within 5 s: ignored). A
# sweep point, which draws no tails, was charged their Student t scales: `mc_samples = 3·10⁹`
# of an XOR point (0.03 s, 10 MB at 10⁹) refused for 22.4 GiB (refused).
D47=$W/d47
mkdir -p "$D47"
"$BIN" --threads 1 train "${XOR[@]}" --hidden 8 --out "$D47/m.safetensors" >/dev/null 2>&1
timeout 5 "$BIN" --threads 1 analyze --model "$D47/m.safetensors" --mc-samples 1000000000 --json >/dev/null 2>"$W/err"
grep -q -- "--mc-samples" "$W/err" || { ignored=$((ignored + 1)); echo "analyze --mc-samples 10^9 (xor): no word of its time in 5 s"; }
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nmc_samples = 3000000000\n' >"$D47/gmc.toml"
check "sweep: an XOR point of mc_samples = 3e9" + --threads 1 sweep --grid "$D47/gmc.toml" --out "$D47/swmc"
check "analyze --mc-samples 2^32" --mc-samples --threads 1 analyze --model "$D47/m.safetensors" --mc-samples 4294967296 --json
check "analyze --heatmap-layer 0" --heatmap-layer --threads 1 analyze --model "$D47/m.safetensors" --heatmap-layer 0 --report "$D47/r0"
# Output paths: a folder, a dangling symlink, a path through a file, a name of 300 bytes.
mkdir -p "$D47/dir" && : >"$D47/file" && ln -sfn "$D47/nowhere/x" "$D47/dangling"
long47=$D47/$(printf 'a%.0s' $(seq 300))
for p in "$D47/dir" "$D47/dangling" "$D47/file/x" "$long47"; do
  check "train --out $(basename "$p")" "$(basename "$p")" --threads 1 train "${XOR[@]}" --out "$p"
  check "analyze --report $(basename "$p")" "$(basename "$p")" --threads 1 analyze --model "$D47/m.safetensors" --mc-samples 1000 --report "$p"
  check "sweep export --csv $(basename "$p")" "$(basename "$p")" sweep export "$W/sw0" --csv "$p"
done
kept -d "$D47/dir"
kept -L "$D47/dangling"
# Training flags at their extremes, --hidden lists that are no widths.
for v in 1e308 1e-320; do check "lr $v" --lr --threads 1 train "${XOR[@]}" --lr=$v --out "$D47/x.safetensors"; done
check "batch past the data" + --threads 1 train "${XOR[@]}" --n-train 10 --batch 1000 --out "$D47/x.safetensors"
for h in "4,,4" " 4" "4, 4" "" 1099511627776 "4,0"; do
  check "hidden '$h'" --hidden --threads 1 train "${XOR[@]}" --hidden="$h" --out "$D47/x.safetensors"
done
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nlr = [1e-300, 1e308]\n' >"$D47/glr.toml"
check "sweep lr = [1e-300, 1e308]" "'lr'" sweep --grid "$D47/glr.toml" --out "$D47/swlr"
# .npy labels whose count disagrees with the features'.
python3 - "$D47" <<'PY47'
import struct, sys
from npy import into
d = sys.argv[1]
npy = into(d)
npy("x20.npy", "<f8", "(20, 2)", struct.pack("<40d", *[(i * 37 % 11) / 11 for i in range(40)]))
npy("y19.npy", "<i8", "(19,)", struct.pack("<19q", *([0, 1] * 9 + [0])))
npy("y21.npy", "<i8", "(21,)", struct.pack("<21q", *([0, 1] * 10 + [0])))
npy("y0.npy", "<i8", "(0,)", b"")
npy("y20x1.npy", "<i8", "(20, 1)", struct.pack("<20q", *([0, 1] * 10)))
PY47
for y in y19 y21 y0; do
  check "npy labels $y for 20 samples" "$y.npy" --threads 1 train --task data --train-x "$D47/x20.npy" --train-y "$D47/$y.npy" --test-split 0:10 --out "$D47/x.safetensors"
done
check "npy labels (20, 1)" + --threads 1 train --task data --train-x "$D47/x20.npy" --train-y "$D47/y20x1.npy" --test-split 0:10 --out "$D47/x.safetensors"
# MNIST_DIR: a FIFO, a file, a folder of empty IDX files.
mkfifo "$D47/fifo" && : >"$D47/plain"
mkdir -p "$D47/zero"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do : >"$D47/zero/$f"; done
for p in "$D47/fifo" "$D47/plain" "$D47/zero"; do
  MNIST_DIR=$p check "MNIST_DIR=$(basename "$p")" "$(basename "$p")" --threads 1 train --task mnist --epochs 1 --out "$D47/x.safetensors"
done
kept -p "$D47/fifo"
# SIGINT/SIGTERM during the report's write: each write, rename and mkdir slowed by 80 ms under
# strace (its write phase then spans ~1 s), the signal sent twice at a random time. The report
# folder must be absent or whole (every file of an uninterrupted run, report.json parsing), and
# no temporary file left; the exit is the signal's (130, 143) or 0 (it came after the end).
# (A background job of a script starts with SIGINT ignored: env restores the default.)
rm -rf "$D47/rep" && "$BIN" --threads 1 analyze --model "$D47/m.safetensors" --mc-samples 1000 --report "$D47/rep" >/dev/null 2>&1
whole47=$(ls "$D47/rep" | tr '\n' ' ')
slow47=(env --default-signal=INT)
command -v strace >/dev/null && slow47+=(strace -f -qq -o /dev/null -e trace=write,rename,renameat2,mkdir
  -e inject=write,rename,renameat2,mkdir:delay_enter=80000)
for i in $(seq 20); do
  sig=$([ $((RANDOM % 2)) = 0 ] && echo INT || echo TERM)
  runs=$((runs + 1))
  "${slow47[@]}" "$BIN" --threads 1 analyze --model "$D47/m.safetensors" --mc-samples 1000 --report "$D47/rep" --json >"$W/out" 2>"$W/err" </dev/null &
  top=$!
  sleep "$(awk "BEGIN { srand($RANDOM); print 0.05 + rand() * 1.3 }")"
  pid=$top
  [ ${#slow47[@]} -gt 2 ] && pid=$(pgrep -P "$top" | head -n 1)
  [ -n "$pid" ] && kill -"$sig" "$pid" 2>/dev/null
  sleep 0.0$((RANDOM % 10))
  [ -n "$pid" ] && kill -"$sig" "$pid" 2>/dev/null
  wait "$top"
  rc=$?
  n=$(find "$D47" -name '.corrflow-tmp*' | wc -l)
  if [ "$n" -gt 0 ] || { [ -e "$D47/rep" ] && { [ "$(ls "$D47/rep" | tr '\n' ' ')" != "$whole47" ] ||
    ! python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$D47/rep/report.json" 2>/dev/null; }; }; then
    debris=$((debris + 1))
    echo "SIG$sig during the report's write: $n temporary files, report folder: $(ls "$D47/rep" 2>&1 | tr '\n' ' ')"
    find "$D47" -name '.corrflow-tmp*' -exec rm -rf {} +
  fi
  case $rc in
    0 | 130 | 143) ;;
    *) panics=$((panics + 1)); echo "SIG$sig during the report's write: exit $rc | $(head -c 160 "$W/err")" ;;
  esac
done
n=$(find "$D47" -name '.corrflow-tmp*' | wc -l)
[ "$n" -gt 0 ] && { debris=$((debris + n)); echo "section 47: $n temporary files"; }

# 48. Fifty-fifth session (adv55): the Monte Carlo's fewest draws, the tails' time estimate
# at many outputs, a sweep point's surrogate draws. `--mc-samples 4` (two antithetic pairs)
# reported a p_correct of 0.5 with a standard error of 0; the minimum is 100 (50 pairs), for
# the flag and a grid's `mc_samples` alike (ignored). The tails' time estimate (39 flops per
# output and draw beside their whole count, fitted at K = 2) said ~14 s for 30 000 draws of
# 32 outputs, ~2.3 s of CPU (implausible); 400 000 draws (~30 s) must still be said within
# 3 s (ignored). A sweep point, which draws no surrogates, was charged their forward-pass blocks:
# [2, 256, 2] at 4 threads 72.1 MiB estimated, refused under --max-memory 60M (refused).
D48=$W/d48
mkdir -p "$D48"
"$BIN" --threads 1 train "${XOR[@]}" --hidden 8 --out "$D48/m.safetensors" >/dev/null 2>&1
check "analyze --mc-samples 4" "!--mc-samples" --threads 1 analyze --model "$D48/m.safetensors" --mc-samples 4 --json
check "analyze --mc-samples 99" "!at least 100" --threads 1 analyze --model "$D48/m.safetensors" --mc-samples 99 --json
check "analyze --mc-samples 100" + --threads 1 analyze --model "$D48/m.safetensors" --mc-samples 100 --json
printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\nmc_samples = 4\n' >"$D48/g4.toml"
check "sweep: mc_samples = 4" "!mc_samples" sweep --grid "$D48/g4.toml" --out "$D48/sw4"
python3 - "$D48" <<'PY48'
import random, sys
from npy import into, pack
d, rng = sys.argv[1], random.Random(48)
centres = [[rng.gauss(0, 2) for _ in range(8)] for _ in range(32)]
x = [[c + rng.gauss(0, 1) for c in centres[k]] for k in range(32) for _ in range(60)]
y = [k for k in range(32) for _ in range(60)]
npy = into(d)
npy("c32-x.npy", "<f8", f"({len(x)}, 8)", pack("<d", [v for r in x for v in r]))
npy("c32-y.npy", "<i8", f"({len(y)},)", pack("<q", y))
PY48
C48=(--task data --train-x "$D48/c32-x.npy" --train-y "$D48/c32-y.npy" --test-x "$D48/c32-x.npy" --test-y "$D48/c32-y.npy")
check "train 32 classes, [8, 64, 32]" + --threads 1 train "${C48[@]}" --hidden 64 --epochs 5 --out "$D48/c32.safetensors"
check "analyze 32 outputs, 30 000 draws" + --threads 1 analyze --model "$D48/c32.safetensors" "${C48[@]}" --mc-samples 30000 --json
grep -q "may take" "$W/err" && { implausible=$((implausible + 1)); echo "analyze 32 outputs, 30 000 draws (~2 s): warned $(grep -o '~[0-9]* s' "$W/err" | head -n 1)"; }
timeout 3 "$BIN" --threads 1 analyze --model "$D48/c32.safetensors" "${C48[@]}" --mc-samples 400000 --json >/dev/null 2>"$W/err"
grep -q -- "--mc-samples" "$W/err" || { ignored=$((ignored + 1)); echo "analyze 32 outputs, 400 000 draws: no word of its time in 3 s"; }
printf 'task = "xor"\nn_train = 2000\nhidden = [[256]]\nepochs = 1\n' >"$D48/g256.toml"
check "sweep [2, 256, 2] at 4 threads under --max-memory 60M" + --threads 4 sweep --grid "$D48/g256.toml" --out "$D48/sw256" --max-memory 60M

# 49. Fifty-seventh session (adv57): the closed forms of erf and GELU on wide units. Their
# correlations r = Σᵢⱼ/√((c + Σᵢᵢ)(c + Σⱼⱼ)) round near 1 where s is large, and `bvn_cov` (and
# GELU's α_B = (α − rβ)/q) took 1 − r from r: a variance off by ~ε·s (erf 1.1e-10 at s = 10⁶,
# 2.6e-9 at 10⁷; GELU 4e-9 at 10⁶, 2e-6 at 10⁷, μ/s = −6) with exit 0. A [1, 2, 2] model with
# pre-activations of s = 10⁷ (μ/s = −1) and 10⁶ (μ/s = 0.5): `propagate --closure auto` against
# `--closure quadrature` (which agrees with 40-digit mpmath to 1e-15), every stage's
# cov_rel_err within 1e-10 relative, the closures' tolerance (implausible).
D49=$W/d49
mkdir -p "$D49"
python3 - "$D49" <<'PY49'
import json, random, struct, sys
from npy import into, pack
d = sys.argv[1]
rng = random.Random(49)
npy = into(d)
n = 4000
x = [rng.gauss(0, 1) for _ in range(n)]
npy("x.npy", "<f8", f"({n}, 1)", pack("<d", x))
npy("y.npy", "<i8", f"({n},)", pack("<q", [int(v + rng.gauss(0, 1) > 0) for v in x]))
for act in ("erf", "gelu"):
    t = {"hidden1.weight": ([2, 1], [1e7, 1e6]), "hidden1.bias": ([2], [-1e7, 5e5]),
         "readout.weight": ([2, 2], [1.0, 0.0, 0.0, 1.0]), "readout.bias": ([2], [0.0, 0.0])}
    header, blob = {}, b""
    for k in sorted(t):
        shape, v = t[k]
        header[k] = {"dtype": "F64", "shape": shape, "data_offsets": [len(blob), len(blob) + 8 * len(v)]}
        blob += struct.pack(f"<{len(v)}d", *v)
    header["__metadata__"] = {"format": "corrflow-mlp", "widths": "1,2,2", "activation": act}
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    open(f"{d}/{act}.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + blob)
PY49
for a in erf gelu; do
  for c in auto quadrature; do
    check "propagate $a, s = 1e7, --closure $c" + --threads 1 propagate --model "$D49/$a.safetensors" --task data --train-x "$D49/x.npy" --train-y "$D49/y.npy" --test-split 0:2000 --closure $c --json
    cp "$W/out" "$D49/$a-$c.json"
  done
  python3 - "$D49/$a-auto.json" "$D49/$a-quadrature.json" <<'PY49' || implausible=$((implausible + 1))
import json, sys
try:
    auto, quad = (json.load(open(f))["layers"] for f in sys.argv[1:])
except (ValueError, KeyError):
    sys.exit(1)
worst = max(abs(a["cov_rel_err"] - q["cov_rel_err"]) / q["cov_rel_err"] for a, q in zip(auto, quad))
if worst > 1e-10:
    print(f"{sys.argv[1]}: cov_rel_err {worst:.1e} (relative) from the quadrature's")
    sys.exit(1)
PY49
done

# 50. Fifty-eighth session (adv58): the predicted accuracy where read-out rows are identical.
# Outputs y_a ≡ y_b tie in every sample and the network's argmax takes the first; the predicted
# Gaussian holds them equal only to rounding (v = Σ_aa + Σ_bb − 2Σ_ab a few ulps), and the Monte
# Carlo argmax read that rounding's sign: three identical rows of a [2, 4, 3] relu model gave a
# theory accuracy of 0.0 (from x) and 0.555 (from z¹) for the network's 1/3, with exit 0; two
# identical rows beside a third gave the shadowed output up to 0.48 of a class (implausible).
# Every start layer must give the network's 1/3 (three identical rows) and p = 0 for output 1
# (rows 0 and 1 identical) in every predicted confusion row. Then a mixed network whose first
# nonlinearity is linear, at --order 3|4 (below).
D50=$W/d50
mkdir -p "$D50"
# The safetensors writer: scripts/st_writer.py (on PYTHONPATH from the prologue).
python3 - "$D50" <<'PY50'
import random, sys
from st_writer import safetensors
d = sys.argv[1]
rng = random.Random(50)
centres = [(1.0, 0.0), (-1.0, 0.0), (0.0, 1.5)]
x = [c + rng.gauss(0, 1) for k in range(3) for _ in range(500) for c in centres[k]]
safetensors(f"{d}/data.safetensors", {"x": ("F64", [1500, 2], x),
                                      "y": ("I64", [1500], [k for k in range(3) for _ in range(500)])}, {})
w1 = [rng.gauss(0, 1) for _ in range(8)]
b1 = [rng.gauss(0, 0.2) for _ in range(4)]
row, other = [rng.gauss(0, 1) for _ in range(4)], [rng.gauss(0, 1) for _ in range(4)]
w2 = [rng.gauss(0, 0.5) for _ in range(16)]
models = {"same3": ({"readout.weight": ([3, 4], row * 3)}, "2,4,3", "relu"),
          "same2": ({"readout.weight": ([3, 4], row * 2 + other)}, "2,4,3", "relu"),
          "linq": ({"hidden2.weight": ([4, 4], w2), "hidden2.bias": ([4], [0.0] * 4),
                    "readout.weight": ([3, 4], row * 2 + other)}, "2,4,4,3", "linear,quad:0.5")}
for name, (tensors, widths, act) in models.items():
    t = {"hidden1.weight": ([4, 2], w1), "hidden1.bias": ([4], b1), "readout.bias": ([3], [0.0] * 3)}
    t.update(tensors)
    safetensors(f"{d}/{name}.safetensors", {k: ("F64", *v) for k, v in t.items()},
                {"format": "corrflow-mlp", "widths": widths, "activation": act})
PY50
for m in same3 same2; do
  check "analyze, read-out rows identical ($m)" + --threads 1 analyze --model "$D50/$m.safetensors" --task data --train-x "$D50/data.safetensors" --train-y "$D50/data.safetensors" --test-x "$D50/data.safetensors" --test-y "$D50/data.safetensors" --mc-samples 2000 --json
  python3 - "$W/out" "$m" <<'PY50' || implausible=$((implausible + 1))
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(1)
bad = []
for s in r["start_layers"]:
    if sys.argv[2] == "same3" and abs(s["accuracy"] - r["network_accuracy"]) > 1e-12:
        bad.append(f"from {s['start_stage']}: accuracy {s['accuracy']} for the network's {r['network_accuracy']}")
    if sys.argv[2] == "same2" and any(row["p"][1] != 0.0 for row in s["confusion"]["rows"]):
        bad.append(f"from {s['start_stage']}: the tied output 1 wins: {[row['p'][1] for row in s['confusion']['rows']]}")
for b in bad:
    print(f"{sys.argv[2]}: {b}")
sys.exit(1 if bad else 0)
PY50
done
# A linear first layer before a quadratic one (`linear,quad:0.5`): --order 3|4 --carry first
# corrects at the linear layer (exact already) and closes the quadratic Gaussian, order 2's
# result; it must say so (a note), not run silently (ignored).
for o in 3 4; do
  check "propagate linear,quad:0.5 --order $o" + --threads 1 propagate --model "$D50/linq.safetensors" --task data --train-x "$D50/data.safetensors" --train-y "$D50/data.safetensors" --test-x "$D50/data.safetensors" --test-y "$D50/data.safetensors" --order $o --json
  grep -Eq '"note": ?"the first nonlinearity' "$W/out" || { ignored=$((ignored + 1)); echo "propagate linear,quad:0.5 --order $o: order 2's result without a note"; }
done

# 51. Fifty-ninth session (adv59): the scientific read-outs of `analyze` against independent
# computations (NumPy on crafted cases: EXPERIMENTS.md "Adversarial pass adv59"). Four were
# silently wrong, each with exit 0: (a) `--surrogate-samples N` draws N of every class and the
# surrogate accuracy was the plain share of hits, the class-balanced accuracy (the identity
# network below: order-2 surrogate 0.4169 ± 0.0020 where its Gaussian theory from x, the same
# number in exact arithmetic, is 0.5222); (b) identical classes got a `mean_share` (5.5·10⁻¹⁸
# here, 1 elsewhere) of a distance that is rounding; (c) `--order 4` drew each start layer of
# its budget on its own seed, so its E(L), the Gaussian theory from z^L that order 2's budget
# also reports, was another number (0.0395 for 0.0421) and its steps held Monte Carlo noise;
# (d) report.md's budget total said "100 %" where every step's share is "—". Old: implausible
# 4; each defect is one implausible check below.
D51=$W/d51
mkdir -p "$D51"
python3 - "$D51" <<'PY51'
import random, sys
from st_writer import safetensors
d = sys.argv[1]
rng = random.Random(51)
centres, counts = [(1.0, 0.0, 0.0), (0.0, 0.8, 0.0), (0.5, 0.5, -1.5)], [600, 400, 200]
x = [c + rng.gauss(0, 1) for k in range(3) for _ in range(counts[k]) for c in centres[k]]
y = [k for k in range(3) for _ in range(counts[k])]
safetensors(f"{d}/data.safetensors", {"x": ("F64", [1200, 3], x), "y": ("I64", [1200], y)}, {})
# (b): class 1 is class 0's samples again.
safetensors(f"{d}/twins.safetensors", {"x": ("F64", [1200, 3], x[:1800] * 2),
                                       "y": ("I64", [1200], [0] * 600 + [1] * 600)}, {})
eye = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
w1 = [rng.gauss(0, 0.7) for _ in range(12)]
w2 = [rng.gauss(0, 0.7) for _ in range(12)]
models = {"identity": ({"hidden1.weight": ([3, 3], eye), "readout.weight": ([3, 3], eye)}, "3,3,3", "linear"),
          "quad": ({"hidden1.weight": ([4, 3], w1), "readout.weight": ([3, 4], w2)}, "3,4,3", "quad:0.5")}
for name, (t, widths, act) in models.items():
    safetensors(f"{d}/{name}.safetensors", {k: ("F64", *v) for k, v in t.items()},
                {"format": "corrflow-mlp", "widths": widths, "activation": act})
PY51
data51() { echo --task data --train-x "$D51/$1.safetensors" --train-y "$D51/$1.safetensors" --test-x "$D51/$1.safetensors" --test-y "$D51/$1.safetensors"; }
rm -rf "$D51/report"
# shellcheck disable=SC2046
check "analyze --surrogate-samples, unequal classes" + --threads 1 analyze --model "$D51/identity.safetensors" $(data51 data) --surrogate-samples 20000 --mc-samples 20000 --report "$D51/report" --json
cp "$W/out" "$D51/identity.json"
# shellcheck disable=SC2046
check "analyze, identical classes" + --threads 1 analyze --model "$D51/identity.safetensors" $(data51 twins) --mc-samples 2000 --json
cp "$W/out" "$D51/twins.json"
# shellcheck disable=SC2046
check "analyze --order 4, three outputs" + --threads 1 analyze --model "$D51/quad.safetensors" $(data51 data) --order 4 --mc-samples 20000 --json
cp "$W/out" "$D51/quad.json"
python3 - "$D51" <<'PY51'
import sys
from npy import load_json
d = sys.argv[1]
bad = 0
r = load_json(d, "identity")
if r:
    # y = x: the order-2 surrogate is the Gaussian theory from x, two estimates of one number.
    s, t = r["surrogate_accuracy"]["order2"], r["theory_accuracy"][0]
    if abs(s["accuracy"] - t["accuracy"]) > 4 * (s["stderr"] ** 2 + t["stderr"] ** 2) ** 0.5:
        bad += 1
        print(f"surrogates: order 2 {s['accuracy']:.4f} ± {s['stderr']:.4f}, the same Gaussian from x {t['accuracy']:.4f}")
    # An exact network: the covariance and KL totals are rounding and no step has a share of
    # them, so neither has the total (cells: order, step, Δ cov, share, Δ KL, share, …).
    total = [l.split("|")[1:-1] for l in open(f"{d}/report/report.md") if "**total E(0)**" in l]
    if not total or [total[0][3].strip(), total[0][5].strip()] != ["—", "—"]:
        bad += 1
        print(f"report.md budget total: {total} (every step's covariance and KL share is —)")
r = load_json(d, "twins")
if r:
    shares = [s["mean_share"] for s in r["information"] if s["mean_share"] is not None]
    if shares:
        bad += 1
        print(f"identical classes: mean_share {shares} (no distance to share)")
r = load_json(d, "quad")
if r:
    g, f = (b["by_start_layer"][-1] for b in r["error_budget"])
    if g != f:
        bad += 1
        print(f"--order 4: E(L) {f} for order 2's {g} (the same theory from z^L)")
sys.exit(bad)
PY51
implausible=$((implausible + $?))

# 52. Sixtieth session (adv60): analyze's doubtful read-outs (EXPERIMENTS.md "Adversarial pass,
# adv60"). Each exit 0 before: (a) the error budget split an accuracy total that is noise into
# shares: y = x on Gaussian classes (its Gaussian theory exact in distribution), total +0.0197
# beside a standard error of 0.0145 (the network accuracy's, binomial), shares 0 % and 100 %
# ("all from the output's non-Gaussianity", which this output does not have); now null with the
# reason in `withheld`; (b) "largest confusions" ranked the measured and start-layer matrices
# only, not the output tails' columns report.md shows beside them (the quad net below: 1 → 0
# and 1 → 2 in the wrong order); (c) `--order 4` on a network without a hidden layer reported
# order 2 without a word. Also: .npy features big-endian, Fortran-ordered, float16 and of shape
# (N, d, 1) read as the same numbers (f2: the same network accuracy); bool and complex dtypes
# refused naming the file. Old (30eb49d): implausible 3, ignored 1.
D52=$W/d52
mkdir -p "$D52"
python3 - "$D52" <<'PY52'
import random, struct, sys
from npy import into
from st_writer import safetensors
d = sys.argv[1]
rng = random.Random(51)
centres, counts = [(1.0, 0.0, 0.0), (0.0, 0.8, 0.0), (0.5, 0.5, -1.5)], [600, 400, 200]
x = [c + rng.gauss(0, 1) for k in range(3) for _ in range(counts[k]) for c in centres[k]]
y = [k for k in range(3) for _ in range(counts[k])]
safetensors(f"{d}/data.safetensors", {"x": ("F64", [1200, 3], x), "y": ("I64", [1200], y)}, {})
eye = [1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0]
w1 = [rng.gauss(0, 0.7) for _ in range(12)]
w2 = [rng.gauss(0, 0.7) for _ in range(12)]
models = {"identity": ({"hidden1.weight": ([3, 3], eye), "readout.weight": ([3, 3], eye)}, "3,3,3", "linear"),
          "quad": ({"hidden1.weight": ([4, 3], w1), "readout.weight": ([3, 4], w2)}, "3,4,3", "quad:0.5"),
          "flat": ({"readout.weight": ([3, 3], w1[:9])}, "3,3", "tanh")}
for name, (t, widths, act) in models.items():
    safetensors(f"{d}/{name}.safetensors", {k: ("F64", *v) for k, v in t.items()},
                {"format": "corrflow-mlp", "widths": widths, "activation": act})
npy = into(d, ".npy")
n = 1200
npy("x-f8", "<f8", (n, 3), struct.pack(f"<{3 * n}d", *x))
npy("x-be", ">f8", (n, 3), struct.pack(f">{3 * n}d", *x))
npy("x-fortran", "<f8", (n, 3), struct.pack(f"<{3 * n}d", *(x[3 * r + c] for c in range(3) for r in range(n))), True)
npy("x-f2", "<f2", (n, 3), struct.pack(f"<{3 * n}e", *x))
npy("x-3d", "<f8", (n, 3, 1), struct.pack(f"<{3 * n}d", *x))
npy("x-b1", "|b1", (n, 3), bytes(int(v > 0) for v in x))
npy("x-c16", "<c16", (n, 3), struct.pack(f"<{6 * n}d", *(u for v in x for u in (v, 0.0))))
npy("y", "<i8", f"({n})", struct.pack(f"<{n}q", *y))  # "(1200)": no comma, as this section always wrote it
PY52
data52() { echo --task data --train-x "$D52/$1.safetensors" --train-y "$D52/$1.safetensors" --test-x "$D52/$1.safetensors" --test-y "$D52/$1.safetensors"; }
npy52() { echo --task data --train-x "$D52/x-$1.npy" --train-y "$D52/y.npy" --test-x "$D52/x-$1.npy" --test-y "$D52/y.npy"; }
rm -rf "$D52/report"
# shellcheck disable=SC2046
check "analyze, identity: budget of noise" + --threads 1 analyze --model "$D52/identity.safetensors" $(data52 data) --mc-samples 20000 --report "$D52/report" --json
cp "$W/out" "$D52/identity.json"
# shellcheck disable=SC2046
check "analyze, quad: largest confusions" + --threads 1 analyze --model "$D52/quad.safetensors" $(data52 data) --mc-samples 20000 --json
cp "$W/out" "$D52/quad.json"
# shellcheck disable=SC2046
check "analyze --order 4, no hidden layer" + --threads 1 analyze --model "$D52/flat.safetensors" $(data52 data) --order 4 --mc-samples 2000 --json
if ! grep -q "no hidden layer" "$W/err"; then
  ignored=$((ignored + 1)); echo "analyze --order 4, no hidden layer        order 2 reported without a word"
fi
for f in f8 be fortran f2 3d; do
  # shellcheck disable=SC2046
  check "analyze, .npy features $f" + --threads 1 analyze --model "$D52/identity.safetensors" $(npy52 $f) --mc-samples 2000 --json
  cp "$W/out" "$D52/npy-$f.json"
done
for f in b1 c16; do
  # shellcheck disable=SC2046
  check "analyze, .npy features $f" "x-$f.npy" --threads 1 analyze --model "$D52/identity.safetensors" $(npy52 $f) --mc-samples 2000 --json
done
python3 - "$D52" <<'PY52'
import sys
from npy import load_json
d = sys.argv[1]
bad = 0
r = load_json(d, "identity")
if r:
    for b in r["error_budget"]:
        t, s = b["total"]["accuracy_err"], b.get("total_accuracy_stderr")
        s = s if s is not None else r["network_accuracy_stderr"]
        shares = [st["shares"]["accuracy_err"] for st in b["steps"]]
        if abs(t) <= 2 * s and any(x is not None for x in shares):
            bad += 1
            print(f"budget: accuracy total {t:+.4f} within 2 × {s:.4f} of 0, yet shares {shares}")
    md = open(f"{d}/report/report.md").read()
    if "no accuracy shares" not in md:
        bad += 1
        print("report.md: the budget's accuracy shares are not said to be withheld")
r = load_json(d, "quad")
if r:
    mats = [r["measured_confusion"]] + [o["confusion"] for o in r["start_layers"]]
    if r.get("output_tails"):
        mats += [r["output_tails"]["edgeworth_confusion"], r["output_tails"]["student_t_confusion"]]
    best = {}
    for m in mats:
        for row in m["rows"]:
            for k, p in enumerate(row["p"]):
                if k != row["class"]:
                    best[(row["class"], k)] = max(best.get((row["class"], k), -1.0), p)
    want = [list(c) for c in sorted(best, key=lambda c: (-best[c], c))][: len(r["largest_confusions"])]
    if r["largest_confusions"] != want:
        bad += 1
        print(f"largest confusions {r['largest_confusions']}, over every column shown {want}")
base = load_json(d, "npy-f8")
for f in ["be", "fortran", "3d", "f2"]:
    o = load_json(d, f"npy-{f}")
    if base and o and (o["network_accuracy"] != base["network_accuracy"]
                       or (f != "f2" and o["theory_accuracy"][0]["accuracy"] != base["theory_accuracy"][0]["accuracy"])):
        bad += 1
        print(f".npy {f}: network {o['network_accuracy']} theory {o['theory_accuracy'][0]['accuracy']} for f8's {base['network_accuracy']} {base['theory_accuracy'][0]['accuracy']}")
sys.exit(bad)
PY52
implausible=$((implausible + $?))

# 53. Sixty-first session (adv61): the quadratic closure's transfer table on degenerate layers
# (EXPERIMENTS.md "Adversarial pass, adv61"). (a) A first layer of zero weights (hˡ = 0 for
# every sample): every term is 0 and no share can be formed, yet each share, "covariance feeds
# the mean" and "κ₃/κ₄ feed the covariance" were printed as 0 (shares summing to 0, not 1); now
# null and "n/a". (b) Every pre-activation on a root of φ(h) = h + αh² (h ∈ {0, −1/α}, α = 0.5
# and 0.3): zˡ = 0 for every sample while hˡ has a mean and a spread; the residual of the
# cancelling terms was divided by the measured moment, 0, and `analyze --json`/`--report`
# exited 2 ("transfer[0].residual_mean is inf"); the terminal ran. Also probed fine: features
# as safetensors F32/F16/BF16/I16 and IDX >f8/>f4/>i2/>i1, read as the .npy's numbers (the same
# network accuracy); BOOL and F8_E4M3 tensors refused naming the file; `sweep submit --mem`
# below one point's need, nan and 16E refused naming --mem, 1T written as --mem=1048576M.
# Old (cd1057f): refused 3, implausible 3.
D53=$W/d53
mkdir -p "$D53"
python3 - "$D53" <<'PY53'
import json, random, struct, sys
from npy import into
d = sys.argv[1]
def f64(v):
    return struct.pack(f"<{len(v)}d", *v)
npy = into(d)
def idx(name, typ, fmt, shape, v):
    open(f"{d}/{name}", "wb").write(bytes([0, 0, typ, len(shape)]) + b"".join(struct.pack(">I", n) for n in shape)
                                    + struct.pack(f">{len(v)}{fmt}", *v))
def safetensors(path, tensors, meta):
    # tensors: name -> (dtype, shape, packed bytes)
    names = sorted(tensors)
    sizes = [len(tensors[k][2]) for k in names]
    head = {k: {"dtype": tensors[k][0], "shape": tensors[k][1], "data_offsets": [sum(sizes[:i]), sum(sizes[:i + 1])]}
            for i, k in enumerate(names)}
    if meta:
        head["__metadata__"] = meta
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(tensors[k][2] for k in names))
rng = random.Random(61)
# Three classes of 200 in 4 features, the last constant (5.0).
n = 600
y = [k // 200 for k in range(n)]
x = [v for k in range(n) for v in (rng.gauss(float(y[k] == 0), 1), rng.gauss(float(y[k] == 1), 1), rng.gauss(float(y[k] == 2), 1), 5.0)]
npy("x.npy", "<f8", (n, 4), f64(x))
npy("y.npy", "<i8", (n,), struct.pack(f"<{n}q", *y))
w2 = [rng.gauss(0, 1) for _ in range(12)]
meta = {"format": "corrflow-mlp", "widths": "4,4,3", "activation": "quad:0.5"}
safetensors(f"{d}/zero.safetensors", {"hidden1.weight": ("F64", [4, 4], f64([0.0] * 16)), "readout.weight": ("F64", [3, 4], f64(w2))}, meta)
# Feature 0 is 0 or 1 (1 in 30 % of class 0, 70 % of class 1), feature 1 normal; both hidden
# units are −x₀/α: h ∈ {0, −1/α}, φ(h) = 0.
m = 300
yb = [k // 150 for k in range(m)]
xb = [v for k in range(m) for v in (float(rng.random() < (0.3 if yb[k] == 0 else 0.7)), rng.gauss(0, 1))]
npy("xb.npy", "<f8", (m, 2), f64(xb))
npy("yb.npy", "<i8", (m,), struct.pack(f"<{m}q", *yb))
for a in (0.5, 0.3):
    r = -1 / a
    safetensors(f"{d}/root{a}.safetensors", {"hidden1.weight": ("F64", [2, 2], f64([r, 0.0, r, 0.0])),
                                             "readout.weight": ("F64", [2, 2], f64([1.0, 0.5, 0.3, -1.0]))},
                {"format": "corrflow-mlp", "widths": "2,2,2", "activation": f"quad:{a}"})
# Features in other containers: the same values (exactly representable in each type).
xq = [round(v * 4) / 4 for v in x]
xi = [max(-120, min(120, round(v * 10))) for v in x]
npy("xq.npy", "<f8", (n, 4), f64(xq))
npy("xi.npy", "<i8", (n, 4), struct.pack(f"<{4 * n}q", *xi))
yb8 = struct.pack(f"<{n}q", *y)
safetensors(f"{d}/f32.safetensors", {"x": ("F32", [n, 4], struct.pack(f"<{4 * n}f", *xq)), "y": ("I64", [n], yb8)}, None)
safetensors(f"{d}/f16.safetensors", {"x": ("F16", [n, 4], struct.pack(f"<{4 * n}e", *xq)), "y": ("I64", [n], yb8)}, None)
safetensors(f"{d}/bf16.safetensors", {"x": ("BF16", [n, 4], b"".join(struct.pack("<f", v)[2:] for v in xq)), "y": ("U8", [n], bytes(y))}, None)
safetensors(f"{d}/i16.safetensors", {"x": ("I16", [n, 4], struct.pack(f"<{4 * n}h", *xi)), "y": ("I16", [n], struct.pack(f"<{n}h", *y))}, None)
safetensors(f"{d}/bool.safetensors", {"x": ("BOOL", [n, 4], bytes(int(v > 0) for v in x)), "y": ("I64", [n], yb8)}, None)
safetensors(f"{d}/f8.safetensors", {"x": ("F8_E4M3", [n, 4], bytes(4 * n)), "y": ("I64", [n], yb8)}, None)
idx("xq.f8.idx", 0x0E, "d", (n, 4), xq)
idx("xq.f4.idx", 0x0D, "f", (n, 4), xq)
idx("xi.i2.idx", 0x0B, "h", (n, 4), xi)
idx("xi.i1.idx", 0x09, "b", (n, 4), xi)
PY53
d53() { echo --task data --train-x "$D53/$1" --train-y "$D53/$2" --test-x "$D53/$1" --test-y "$D53/$2"; }
rm -rf "$D53/rzero" "$D53/rroot"
# shellcheck disable=SC2046
check "analyze, quad layer of zeros" + --threads 1 analyze --model "$D53/zero.safetensors" $(d53 x.npy y.npy) --mc-samples 2000 --report "$D53/rzero" --json
cp "$W/out" "$D53/zero.json"
for a in 0.5 0.3; do
  # shellcheck disable=SC2046
  check "analyze, quad units on the roots ($a)" + --threads 1 analyze --model "$D53/root$a.safetensors" $(d53 xb.npy yb.npy) --mc-samples 2000 --json
  cp "$W/out" "$D53/root$a.json"
done
rm -rf "$D53/rroot"
# shellcheck disable=SC2046
check "analyze --report, quad units on the roots" + --threads 1 analyze --model "$D53/root0.5.safetensors" $(d53 xb.npy yb.npy) --mc-samples 2000 --report "$D53/rroot"
"$BIN" --threads 1 train $(d53 xq.npy y.npy) --hidden 5 --epochs 3 --out "$D53/m.safetensors" >/dev/null 2>&1
for f in xq.npy f32.safetensors f16.safetensors bf16.safetensors xq.f8.idx xq.f4.idx xi.npy i16.safetensors xi.i2.idx xi.i1.idx; do
  case $f in *.safetensors) yf=$f ;; *) yf=y.npy ;; esac
  # shellcheck disable=SC2046
  check "analyze, features $f" + --threads 1 analyze --model "$D53/m.safetensors" $(d53 $f $yf) --mc-samples 200 --json
  cp "$W/out" "$D53/acc-$f.json"
done
for f in bool.safetensors f8.safetensors; do
  # shellcheck disable=SC2046
  check "analyze, features $f" "$f" --threads 1 analyze --model "$D53/m.safetensors" $(d53 $f $f) --mc-samples 200 --json
done
printf 'task = "xor"\nn_train = 200\nhidden = [[4], [5]]\nepochs = 1\n' >"$D53/g.toml"
for v in 1 1K nan 16E; do
  check "submit --mem $v" --mem --threads 1 sweep submit --grid "$D53/g.toml" --out "$D53/sb" --shards 2 --dry-run --mem=$v
done
rm -rf "$D53/sb"
check "submit --mem 1T" + --threads 1 sweep submit --grid "$D53/g.toml" --out "$D53/sb" --shards 2 --dry-run --mem 1T
grep -q -- '--mem=1048576M' "$D53/sb/sweep.sbatch" 2>/dev/null || { implausible=$((implausible + 1)); echo "submit --mem 1T: $(grep -h -- '--mem' "$D53/sb/sweep.sbatch" 2>/dev/null)"; }
python3 - "$D53" <<'PY53'
import sys
from npy import load_json
d = sys.argv[1]
bad = 0
r = load_json(d, "zero")
if r:
    for t in r["transfer"]:
        for group, whole in (("mean_terms", "cov_feeds_mean"), ("cov_terms", "higher_feeds_cov")):
            if all(x["norm"] == 0 for x in t[group]) and (any(x["share"] is not None for x in t[group]) or t[whole] is not None):
                bad += 1
                print(f"transfer, layer {t['layer']}: every {group} norm 0, yet shares {[x['share'] for x in t[group]]}, {whole} {t[whole]}")
    md = open(f"{d}/rzero/report.md").read() if r else ""
    if "| 1 | n/a |" not in md:
        bad += 1
        print("report.md: the transfer table of a layer without terms shows shares")
for a in ("0.5", "0.3"):
    r = load_json(d, f"root{a}")
    # Rounding: below 1e-9 under adv61's measure; adv62 divides by the floor √ε·Σ‖T_k‖ where the
    # terms cancel, so rounding of c·ε·Σ‖T_k‖ reads c·√ε, below 1e-6 for c ≤ 64 (as the suite's
    # transfer_residual_of_a_layer_on_the_roots_of_phi_is_rounding).
    if r and not all(t["residual_mean"] < 1e-6 and t["residual_cov"] < 1e-6 for t in r["transfer"]):
        bad += 1
        print(f"transfer on the roots ({a}): residuals {[(t['residual_mean'], t['residual_cov']) for t in r['transfer']]}")
for base, others in (("xq.npy", ["f32.safetensors", "f16.safetensors", "bf16.safetensors", "xq.f8.idx", "xq.f4.idx"]),
                     ("xi.npy", ["i16.safetensors", "xi.i2.idx", "xi.i1.idx"])):
    b = load_json(d, f"acc-{base}")
    for f in others:
        o = load_json(d, f"acc-{f}")
        if b and o and o["network_accuracy"] != b["network_accuracy"]:
            bad += 1
            print(f"features {f}: network accuracy {o['network_accuracy']} for {base}'s {b['network_accuracy']}")
sys.exit(bad)
PY53
implausible=$((implausible + $?))

# 54. Sixty-first session (lead): `--pilot-statistics LIST` (EXPERIMENTS.md "The pilot judged by
# the benchmark's own errors"). Refused naming the flag: an empty list, an empty entry, a name
# outside mean/covariance/kl, with --carry first, with --pilot off. Run: the fresh check of
# xor (default) and the halves check (`--pilot on`), `propagate` and `analyze`; every class
# verdict names the judged statistics (`judged_by`) and is worse exactly where one of their z
# exceeds 3 (the others' z reported, not judged).
D54=$W/d54
mkdir -p "$D54"
"$BIN" --threads 1 train --task xor --hidden 4,4,4 --epochs 1 --out "$D54/m.safetensors" >/dev/null 2>&1
P54=(--threads 1 propagate --model "$D54/m.safetensors" --task xor --order 3)
for v in "" "mean,,kl" "variance" "mean;kl"; do
  check "--pilot-statistics '$v'" --pilot-statistics "${P54[@]}" --carry depth --pilot-statistics "$v"
done
check "--pilot-statistics, --carry first" "--pilot-statistics mean" "${P54[@]}" --pilot-statistics mean
check "--pilot-statistics, --pilot off" "--pilot off" "${P54[@]}" --carry depth --pilot off --pilot-statistics kl
check "propagate --pilot-statistics mean" + "${P54[@]}" --carry depth --pilot-statistics mean --json
cp "$W/out" "$D54/p-mean.json"
check "propagate --pilot on --pilot-statistics covariance,KL" + "${P54[@]}" --carry depth --pilot on --pilot-statistics covariance,KL --json
cp "$W/out" "$D54/p-on.json"
check "analyze --pilot-statistics mean,covariance" + --threads 1 analyze --model "$D54/m.safetensors" --task xor --order 4 --carry depth --mc-samples 2000 --pilot-statistics mean,covariance --json
cp "$W/out" "$D54/a.json"
python3 - "$D54" <<'PY54'
import json, sys
d = sys.argv[1]
bad = 0
for name, judged in (("p-mean", ["mean"]), ("p-on", ["covariance", "KL"]), ("a", ["mean", "covariance"])):
    try:
        r = json.load(open(f"{d}/{name}.json"))
    except (OSError, ValueError):
        continue
    reports = r["carried"] if isinstance(r.get("carried"), list) else [r.get("carried")]
    z = {"mean": "mean_z", "covariance": "cov_z", "KL": "kl_z"}
    seen = 0
    for rep in reports:
        for c in (rep or {}).get("classes", []):
            p = c.get("pilot") or {}
            if "judged_by" not in p:
                continue
            seen += 1
            worse = any(p[z[s]] > 3 for s in judged)
            if p["judged_by"] != judged or p["worse"] != worse:
                bad += 1
                print(f"{name}: class {c['class']} judged_by {p['judged_by']} worse {p['worse']}, z {[p[v] for v in z.values()]}")
    if seen == 0:
        bad += 1
        print(f"{name}: no class verdict names the judged statistics")
sys.exit(bad)
PY54
implausible=$((implausible + $?))

# 55. Sixty-second session (adv62): arrays read as vectors or as samples whose shape says
# something else (EXPERIMENTS.md "Adversarial pass, adv62"). A normaliser file of shape (2, 2)
# (C or Fortran order) was flattened and taken as the 4 values of 4 features, a text table
# likewise, also as a grid's normalize_mean; now refused naming the flag (grid key), the file
# and the shape. A 0-d Fortran-order .npy panicked (`fortran_offsets` of no dimension) as a
# normaliser and as --train-x; now one value and a refusal naming the file. Test samples of shape (4, 2) beside training samples of shape
# (2, 4) were read as the same 8 features; now refused naming both shapes. Also probed fine: a
# 0-d safetensors tensor and an IDX of 0 dimensions as --train-x, a (0, 4) .npy, a 3-D
# Fortran-order .npy, `analyze --order 4 --carry depth --pilot-statistics kl --json`, the grid
# keys pilot_statistics and carry (refused naming the key). Old (main 561f960): panics 2,
# refused 1, ignored 7.
D55=$W/d55
mkdir -p "$D55"
python3 - "$D55" <<'PY55'
import json, struct, sys
from npy import into
d = sys.argv[1]
npy = into(d)
f8 = lambda v: struct.pack("<%dd" % len(v), *v)
x = [((k * (j + 3)) % 7) - 3.0 for k in range(40) for j in range(8)]
y = struct.pack("<40q", *[k % 2 for k in range(40)])
npy("x4.npy", "<f8", (40, 4), f8(x[:160]))
npy("x24.npy", "<f8", (40, 2, 4), f8(x))
npy("tx42.npy", "<f8", (40, 4, 2), f8(x))
npy("tx8.npy", "<f8", (40, 8), f8(x))
npy("y.npy", "<i8", (40,), y)
npy("m22.npy", "<f8", (2, 2), f8([0.0] * 4))
npy("s22f.npy", "<f8", (2, 2), f8([1.0] * 4), fortran=True)
npy("m14.npy", "<f8", (1, 4), f8([0.5] * 4), fortran=True)
npy("m41.npy", "<f8", (4, 1), f8([0.5] * 4))
npy("m0d.npy", "<f8", (), f8([0.5]))
npy("mf0d.npy", "<f8", (), f8([0.5]), fortran=True)
npy("x0s.npy", "<f8", (0, 4), b"")
npy("xf3.npy", "<f8", (40, 2, 4), f8([x[k * 8 + a * 4 + b] for b in range(4) for a in range(2) for k in range(40)]), fortran=True)
open(f"{d}/t22.txt", "w").write("0 0\n0 0\n")
open(f"{d}/col.txt", "w").write("0.5\n0.5\n0.5\n0.5\n")
open(f"{d}/wrap.txt", "w").write("0.5, 0.5,\n0.5, 0.5\n")
open(f"{d}/x0d.idx", "wb").write(bytes([0, 0, 0x0D, 0]) + struct.pack(">f", 1.0))
h = json.dumps({"x": {"dtype": "F64", "shape": [], "data_offsets": [0, 8]}}).encode()
h += b" " * ((8 - len(h) % 8) % 8)
open(f"{d}/x0d.safetensors", "wb").write(struct.pack("<Q", len(h)) + h + f8([1.0]))
PY55
D4=(--threads 1 train --task data --train-x "$D55/x4.npy" --train-y "$D55/y.npy" --test-split 0:10 --epochs 1 --out "$D55/o.safetensors")
check "normalize-mean (2, 2)" '!--normalize-mean' "${D4[@]}" --normalize-mean "$D55/m22.npy" --normalize-std 1
check "normalize-std (2, 2) fortran" '!--normalize-std' "${D4[@]}" --normalize-mean 0 --normalize-std "$D55/s22f.npy"
check "normalize-mean text table" '!--normalize-mean' "${D4[@]}" --normalize-mean "$D55/t22.txt" --normalize-std 1
for f in m14.npy m41.npy m0d.npy mf0d.npy col.txt wrap.txt; do
  rm -f "$D55/o.safetensors"
  check "normalize-mean $f" + "${D4[@]}" --normalize-mean "$D55/$f" --normalize-std 2
done
check "propagate normalize-mean (2, 2)" '!--normalize-mean' --threads 1 propagate --model "$D55/o.safetensors" --task data --train-x "$D55/x4.npy" --train-y "$D55/y.npy" --test-split 0:10 --normalize-mean "$D55/m22.npy" --normalize-std 1 --json
check "analyze normalize-std (2, 2)" '!--normalize-std' --threads 1 analyze --model "$D55/o.safetensors" --task data --train-x "$D55/x4.npy" --train-y "$D55/y.npy" --test-split 0:10 --normalize-mean 0 --normalize-std "$D55/s22f.npy" --json
rm -f "$D55/o.safetensors"
for f in mf0d.npy x0d.safetensors x0d.idx x0s.npy; do
  check "train-x $f" "$f" --threads 1 train --task data --train-x "$D55/$f" --train-y "$D55/y.npy" --test-split 0:10 --epochs 1 --out "$D55/o.safetensors"
done
check "train-x fortran (40, 2, 4)" + --threads 1 train --task data --train-x "$D55/xf3.npy" --train-y "$D55/y.npy" --test-split 0:10 --epochs 1 --out "$D55/o.safetensors"
rm -f "$D55/o.safetensors"
T55=(--threads 1 train --task data --train-x "$D55/x24.npy" --train-y "$D55/y.npy" --test-y "$D55/y.npy" --epochs 1 --out "$D55/o.safetensors")
check "test-x (4, 2) beside (2, 4)" '!tx42.npy' "${T55[@]}" --test-x "$D55/tx42.npy"
rm -f "$D55/o.safetensors"
check "test-x (8,) beside (2, 4)" + "${T55[@]}" --test-x "$D55/tx8.npy"
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_split = "0:10"\nnormalize_mean = "%s"\nnormalize_std = "1"\nhidden = [[4]]\nepochs = 1\n' \
  "$D55/x4.npy" "$D55/y.npy" "$D55/m22.npy" >"$D55/gn.toml"
rm -rf "$D55/sw"
check "grid normalize_mean (2, 2)" '!normalize_mean' --threads 1 sweep --grid "$D55/gn.toml" --out "$D55/sw"
"$BIN" --threads 1 train --task xor --hidden 4,4,4 --epochs 1 --out "$D55/m.safetensors" >/dev/null 2>&1
check "analyze --order 4 --carry depth --pilot-statistics kl" + --threads 1 analyze --model "$D55/m.safetensors" --task xor --order 4 --carry depth --mc-samples 2000 --pilot-statistics kl --json
for key in 'pilot_statistics = "mean"' 'carry = "depth"'; do
  printf 'task = "xor"\nn_train = 200\nhidden = [[4]]\nepochs = 1\n%s\n' "$key" >"$D55/g.toml"
  rm -rf "$D55/sw"
  check "grid key ${key%% *}" "!${key%% *}" --threads 1 sweep --grid "$D55/g.toml" --out "$D55/sw"
done

# 56. Sixty-third session (adv63): normaliser lists and files as people write them (EXPERIMENTS.md
# "Adversarial pass, adv63"). A comma list's empty entry was dropped: `--normalize-mean
# 0.5,0.5,,0.5` read as three values, `0.5,` as one value for every feature (exit 0), in a text
# file and a grid's normalize_mean too; now refused naming the flag (key) and the entry. A .npy
# saved under another name and UTF-8 text with a byte-order mark were refused ("not UTF-8
# text", "expected numbers"); now read. A .npz said "not UTF-8 text"; now refused as for
# samples (".npz archives are not read"). Text that is no list named the file only; now the
# flag too. Also probed fine: chaos62's closed-form relu/leaky relu coefficients through the
# carried orders 3/4 on bias-free networks (leaky slopes −0.5, 3, 1e-300): data ×10⁻³⁰ and
# ×10³⁷ (`--scale`) give data ×1's errors (homogeneity) to 10⁻⁶; a class of 2 training samples
# under `--pilot on`; `--pilot-statistics mean,mean` (judged once). Old (main 53bb5c1): refused
# 2, unnamed 2, ignored 6. Added by tidy64: the resume's `--dry-run` after xe.npy was edited
# listed its point as done with exit 0 where the run exits 2 (old 7958240: ignored 1).
D56=$W/d56
mkdir -p "$D56"
python3 - "$D56" <<'PY56'
import json, random, struct, sys
from npy import into
d = sys.argv[1]
npy = into(d)
f8 = lambda v: struct.pack("<%dd" % len(v), *v)
def safetensors(path, tensors, meta):
    names = sorted(tensors)
    sizes = [len(tensors[k][2]) for k in names]
    head = {k: {"dtype": tensors[k][0], "shape": tensors[k][1], "data_offsets": [sum(sizes[:i]), sum(sizes[:i + 1])]}
            for i, k in enumerate(names)}
    head["__metadata__"] = meta
    h = json.dumps(head).encode()
    h += b" " * (-len(h) % 8)
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + b"".join(tensors[k][2] for k in names))
rng = random.Random(63)
# Three skewed classes in 2 features; the last 2 training samples are the only ones of class 2
# in x2/y2.
n = 1500
y = [k % 3 for k in range(n)]
x = [v for c in y for v in (rng.gauss(0.5 * c, 1) + 0.3 * rng.expovariate(1), rng.gauss(-0.3 * c, 0.7) + rng.expovariate(2) * (c - 1))]
npy("x.npy", "<f8", (n, 2), f8(x))
npy("y.npy", "<i8", (n,), struct.pack(f"<{n}q", *y))
y2 = [k % 2 for k in range(n - 2)] + [2, 2]
npy("y2.npy", "<i8", (n,), struct.pack(f"<{n}q", *y2))
npy("mean.bin", "<f8", (2,), f8([0.5, 0.25]))
open(f"{d}/mean.npz", "wb").write(b"PK\x03\x04\x14\x00\x00\x00\x00\x00\xff\xfe")
open(f"{d}/bom.txt", "wb").write(b"\xef\xbb\xbf0.5, 0.25\n")
open(f"{d}/gap.txt", "w").write("0.5,\n,0.25\n")
open(f"{d}/end.txt", "w").write("0.5,\n0.25,\n")
open(f"{d}/hex.txt", "w").write("0x1p-1 0.25\n")
widths = [2, 6, 6, 6, 3]
for act in ["leaky_relu:-0.5", "leaky_relu:3", "leaky_relu:1e-300"]:
    t = {}
    for l in range(1, len(widths)):
        name = f"hidden{l}.weight" if l < len(widths) - 1 else "readout.weight"
        t[name] = ("F64", [widths[l], widths[l - 1]], f8([rng.gauss(0, 1.2 / widths[l - 1] ** 0.5) for _ in range(widths[l] * widths[l - 1])]))
    safetensors(f"{d}/{act.replace(':', '')}.safetensors", t, {"format": "corrflow-mlp", "widths": ",".join(map(str, widths)), "activation": act})
PY56
T56=(--threads 1 train --task data --train-x "$D56/x.npy" --train-y "$D56/y.npy" --test-split 0:500 --hidden 4 --epochs 1 --out "$D56/o.safetensors")
for v in 0.5,,0.25 0.5, ,0.5 "$D56/gap.txt"; do
  rm -f "$D56/o.safetensors"
  check "normalize-mean '${v##*/}'" '!is empty' "${T56[@]}" --normalize-mean "$v" --normalize-std 1
done
rm -f "$D56/o.safetensors"
check "normalize-std '0.5,'" '!is empty' "${T56[@]}" --normalize-mean 0 --normalize-std 0.5,
for f in mean.bin bom.txt end.txt; do
  rm -f "$D56/o.safetensors"
  check "normalize-mean $f" + "${T56[@]}" --normalize-mean "$D56/$f" --normalize-std 2
done
rm -f "$D56/o.safetensors"
check "normalize-std mean.npz" '.npz archives are not read' "${T56[@]}" --normalize-mean 0 --normalize-std "$D56/mean.npz"
check "normalize-mean hex.txt" '--normalize-mean' "${T56[@]}" --normalize-mean "$D56/hex.txt" --normalize-std 1
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_split = "0:500"\nnormalize_mean = "0.5,,0.25"\nnormalize_std = "1"\nhidden = [[4]]\nepochs = 1\n' \
  "$D56/x.npy" "$D56/y.npy" >"$D56/g.toml"
rm -rf "$D56/sw"
check "grid normalize_mean '0.5,,0.25'" '!normalize_mean' --threads 1 sweep --grid "$D56/g.toml" --out "$D56/sw"
# fp63: a sweep resumed after a file its points read was edited (one value, same length) said
# "1 already done, 0 to run" and kept the old contents' record; now refused naming the file.
cp "$D56/x.npy" "$D56/xe.npy"
printf 'task = "data"\ntrain_x = "%s"\ntrain_y = "%s"\ntest_split = "0:500"\nhidden = [[4]]\nepochs = 1\n' \
  "$D56/xe.npy" "$D56/y.npy" >"$D56/ge.toml"
rm -rf "$D56/swe"
check "grid of xe.npy, first run" + --threads 1 sweep --grid "$D56/ge.toml" --out "$D56/swe"
python3 -c 'import struct, sys
f = open(sys.argv[1], "r+b"); f.seek(-8, 2); v = struct.unpack("<d", f.read(8))[0]
f.seek(-8, 2); f.write(struct.pack("<d", v + 1))' "$D56/xe.npy"
check "grid resumed, xe.npy edited" '!xe.npy: contents changed' --threads 1 sweep --grid "$D56/ge.toml" --out "$D56/swe"
check "grid --dry-run resumed, xe.npy edited" '!xe.npy: contents changed' --threads 1 sweep --grid "$D56/ge.toml" --out "$D56/swe" --dry-run
# The carried orders on bias-free networks: data ×S is the network's output ×S, every relative
# error the same (exact for a positively homogeneous φ).
DD56=(--task data --train-x "$D56/x.npy" --train-y "$D56/y.npy" --test-split 0:750)
for m in leaky_relu-0.5 leaky_relu3 leaky_relu1e-300; do
  for o in 3 4; do
    for s in 1 1e-30 1e37; do
      check "propagate $m order $o, data / $s" + --threads 1 propagate --model "$D56/$m.safetensors" "${DD56[@]}" --order $o --carry depth --scale $s --json
      cp "$W/out" "$D56/h-$m-$o-$s.json"
    done
  done
done
check "analyze --pilot on, a class of 2 training samples" + --threads 1 analyze --model "$D56/leaky_relu3.safetensors" --task data --train-x "$D56/x.npy" --train-y "$D56/y2.npy" --test-x "$D56/x.npy" --test-y "$D56/y.npy" --order 4 --carry depth --pilot on --mc-samples 500 --json
check "--pilot-statistics mean,mean" + --threads 1 propagate --model "$D56/leaky_relu-0.5.safetensors" "${DD56[@]}" --order 3 --carry depth --pilot-statistics mean,mean --json
cp "$W/out" "$D56/ps.json"
python3 - "$D56" <<'PY56'
import sys
from npy import load_json
d = sys.argv[1]
bad = 0
for m in ("leaky_relu-0.5", "leaky_relu3", "leaky_relu1e-300"):
    for o in (3, 4):
        base = load_json(d, f"h-{m}-{o}-1")
        for s in ("1e-30", "1e37"):
            r = load_json(d, f"h-{m}-{o}-{s}")
            if not base or not r:
                continue
            for a, b in zip(base["layers"], r["layers"]):
                for k in ("cov_rel_err", "mean_err", "kl"):
                    u, v = a.get(k), b.get(k)
                    if (u is None) != (v is None) or (u is not None and abs(u - v) > 1e-6 * max(abs(u), 1e-3)):
                        bad += 1
                        print(f"{m} order {o}, data / {s}: layer {a['layer']} {a['stage']} class {a['class']} {k} {v} for data x1's {u}")
            if [c["carried_to"] for c in base["carried"]["classes"]] != [c["carried_to"] for c in r["carried"]["classes"]]:
                bad += 1
                print(f"{m} order {o}, data / {s}: carried to {[c['carried_to'] for c in r['carried']['classes']]}")
r = load_json(d, "ps")
if r:
    for c in r["carried"]["classes"]:
        p = c.get("pilot") or {}
        if "judged_by" in p and p["judged_by"] != ["mean"]:
            bad += 1
            print(f"--pilot-statistics mean,mean: class {c['class']} judged_by {p['judged_by']}")
sys.exit(bad)
PY56
implausible=$((implausible + $?))

# 57. Sixty-fourth session (adv64): a report folder holding the run's own files (EXPERIMENTS.md
# "Adversarial pass, adv64"). The folder is replaced as a whole, and a file there under a report
# file's name passed its check: `analyze --model R/report.json --report R` replaced the model it
# read by the report's JSON, `--out R/report.json --report R` lost the model just written (both
# exit 0), a .npy training set the model's records name as R/report.json was deleted, and
# `--out R/m.safetensors` trained, wrote the model, then refused the folder that now held it.
# Each must be refused before the work naming the folder, the file left as it was. Old (main
# 7958240): ignored 3, unnamed 3, clobbered 4, debris 1, refused 1 (the data deleted by an earlier
# run); this binary 0 throughout.
D57=$W/d57
rm -rf "$D57"
mkdir -p "$D57/rm" "$D57/ro" "$D57/rn" "$D57/rd" "$D57/lk"
cp "$OUT" "$D57/rm/report.json"
python3 - "$D57" <<'PY57'
import random, sys
from npy import npy, f8, i8
d = sys.argv[1]
rng = random.Random(64)
y = [k % 2 for k in range(200)]
x = [(rng.gauss(1.5 * c, 1), rng.gauss(-c, 1), rng.gauss(0, 1)) for c in y]
npy(f"{d}/rd/report.json", "<f8", (200, 3), f8(x))
npy(f"{d}/rd/report.md", "<i8", (200,), i8(y))
PY57
"$BIN" --threads 1 train --task data --train-x "$D57/rd/report.json" --train-y "$D57/rd/report.md" --test-split 0:50 \
  --hidden 4 --epochs 1 --out "$D57/md.safetensors" >/dev/null 2>&1
ln -s rm "$D57/lk-rm"
sums57() { (cd "$D57" && md5sum rm/report.json rd/report.json rd/report.md); }
sums57 >"$D57/before"
A57=(--threads 1 analyze --mc-samples 1000)
check "--model R/report.json --report R" '!rm: holds the model' "${A57[@]}" --model "$D57/rm/report.json" --report "$D57/rm"
check "--model L/report.json (L -> R) --report R" '!rm: holds the model' "${A57[@]}" --model "$D57/lk-rm/report.json" --report "$D57/rm"
check "--out R/report.json --report R" '!ro: holds the model file to write' "${A57[@]}" --task xor --n-train 200 --epochs 1 --hidden 4 --out "$D57/ro/report.json" --report "$D57/ro"
check "--out R/m.safetensors --report R" 'rn: holds the model file to write' "${A57[@]}" --task xor --n-train 200 --epochs 1 --hidden 4 --out "$D57/rn/m.safetensors" --report "$D57/rn"
check "recorded --train-x R/report.json, --report R" '!rd: holds the training features' "${A57[@]}" --model "$D57/md.safetensors" --report "$D57/rd"
check "--train-x R/report.json given, --report R" '!rd: holds the training features' "${A57[@]}" --model "$D57/md.safetensors" --task data \
  --train-x "$D57/rd/report.json" --train-y "$D57/rd/report.md" --test-split 0:50 --report "$D57/rd"
check "a model beside the report folder" + "${A57[@]}" --model "$D57/md.safetensors" --report "$D57/lk/rep"
sums57 | diff -q - "$D57/before" >/dev/null || { clobbered=$((clobbered + $(sums57 | diff - "$D57/before" | grep -c '^<'))); echo "section 57: inputs replaced: $(sums57 | diff - "$D57/before" | grep '^<' | tr '\n' ' ')"; }
# --out R/m.safetensors: a refused run leaves the folder empty.
[ -n "$(ls -A "$D57/rn")" ] && { debris=$((debris + 1)); echo "section 57: a refused run left rn/$(ls -A "$D57/rn" | head -n 1)"; }
# --out R/report.json: a run that exits 0 must leave a model there, not the report's JSON.
if [ -e "$D57/ro/report.md" ]; then clobbered=$((clobbered + 1)); echo "section 57: --out ro/report.json replaced by the report"; fi

# 58. Sixty-fifth session (adv65): the cumulant objective at --order 3|4 (relu, erf, quad), new
# in the sixty-fourth session (EXPERIMENTS.md "Adversarial pass, adv65"). The `unlearned`
# warning read a cumulant epoch by its objective J = L_C + λ|L_C − S|, which the guard keeps
# ≥ max(L_C, S): three healthy epochs at the default λ = 1 (S falling below the untrained
# network's loss) were warned of as a collapse "1.0 times the untrained network's … expected a
# smaller --lr", and λ = 10³ (J 37× S, at chance) named --lr, not --closure-check. Old (main
# 7cd1a6b): implausible 1, unnamed 1; this binary 0. Then odd data, flags and sizes at orders 3
# and 4, MNIST, a huge --hidden and SIGINT mid-epoch: refused naming the flag or file, or run.
# Leaky relu (leaky65) runs at orders 3|4 too. The floor of z¹'s corrected covariance (lead65)
# first refused constant data (allconst: C = 0, "trace 0, expected a positive number"; refused 6
# on its first binary): a trace ≤ 0 now floors at ε = 0.
D58=$W/d58
mkdir -p "$D58"
python3 - "$D58" <<'PY58'
import random, sys
from npy import xy
d = sys.argv[1]
rng = random.Random(65)
y = [k % 2 for k in range(300)]
# Class 1 skewed (centred exponentials), class 0 Gaussian: equal means, differing κ₃.
x = [[rng.gauss(0, 1) if c == 0 else rng.expovariate(1) - 1 for _ in range(3)] for c in y]
xy(d, "base", x, y)
xy(d, "big", [[v * 1e150 for v in r] for r in x], y)
xy(d, "small", [[v * 1e-150 for v in r] for r in x], y)
xy(d, "oned", [r[:1] for r in x], y)
xy(d, "const", [r[:2] + [3.0] for r in x], y)
xy(d, "allconst", [[1.0, 2.0, 3.0] for _ in x], y)
xy(d, "one", x + [[0.5, 0.5, 0.5]], y + [2])
xy(d, "nan", [r if k != 5 else [r[0], float("nan"), r[2]] for k, r in enumerate(x)], y)
xy(d, "inf", [r if k != 7 else [float("inf")] + r[1:] for k, r in enumerate(x)], y)
PY58
d58() { echo --task data --train-x "$D58/$1-x.npy" --train-y "$D58/$1-y.npy" --test-split 0:50; }
C58=(--threads 1 train --objective cumulants --out "$D58/m.safetensors")
S58=(--hidden 4 --epochs 2)
HO58=(--threads 1 train --task higher-order --n-train 1000 --hidden 8 --epochs 3 --objective cumulants --order 3 --json --out "$D58/h.safetensors")
check "cumulants λ = 1, three healthy epochs" + "${HO58[@]}" --activation erf
grep -q 'learned nothing' "$W/err" && { implausible=$((implausible + 1)); echo "cumulants λ = 1: a healthy short run warned of: $(grep -o 'epoch 1 ended at[^:]*' "$W/err")"; }
# Since the guard is one-sided (J = L_C + λ·max(0, S − L_C), sixty-sixth session) erf's check
# rarely leads here (its closure lies above S): the quadratic network's does.
check "cumulants λ = 1e3: J outweighed by the check" + "${HO58[@]}" --activation quad:0.5 --closure-check 1e3
grep -q 'expected --closure-check' "$W/err" || { unnamed=$((unnamed + 1)); echo "cumulants λ = 1e3: the warning does not name --closure-check: $(grep -o 'expected [^)]*)' "$W/err")"; }
for o in 3 4; do
  for a in relu erf quad:0.5 leaky_relu:0.1; do
    for ds in base oned const allconst; do check "cumulants --order $o $a: $ds" + "${C58[@]}" "${S58[@]}" $(d58 $ds) --order $o --activation $a; done
    check "cumulants --order $o $a: x1e150" "big-x.npy" "${C58[@]}" "${S58[@]}" $(d58 big) --order $o --activation $a
    # relu at x1e-150: its first layer's gradients (~1e-150) lie far below Adam's ε, refused as
    # "training changed nothing … data of a larger scale" (vjp66; before, a NaN of the relu VJP
    # named --lr); erf, quad and leaky relu run.
    check "cumulants --order $o $a: x1e-150" - "${C58[@]}" "${S58[@]}" $(d58 small) --order $o --activation $a
    check "cumulants --order $o $a: a class of 1" "!1 training sample" "${C58[@]}" "${S58[@]}" $(d58 one) --order $o --activation $a
    check "cumulants --order $o $a: NaN" "!nan-x.npy" "${C58[@]}" "${S58[@]}" $(d58 nan) --order $o --activation $a
    check "cumulants --order $o $a: inf" "!inf-x.npy" "${C58[@]}" "${S58[@]}" $(d58 inf) --order $o --activation $a
  done
  for a in tanh gelu linear; do check "cumulants --order $o $a" "!--order" "${C58[@]}" "${S58[@]}" $(d58 base) --order $o --activation $a; done
  for l in 0 -0 1e-300 9e15; do check "cumulants --order $o --closure-check $l" + "${C58[@]}" "${S58[@]}" $(d58 base) --order $o --activation relu --closure-check=$l; done
  for l in 1e16 inf nan -1; do check "cumulants --order $o --closure-check $l" "!--closure-check" "${C58[@]}" "${S58[@]}" $(d58 base) --order $o --activation relu --closure-check=$l; done
  for n in 0 1 1000000000 18446744073709551615; do check "cumulants --order $o --check-samples $n" "!--check-samples" "${C58[@]}" "${S58[@]}" $(d58 base) --order $o --activation erf --check-samples=$n; done
  check "cumulants --order $o --check-samples 2" + "${C58[@]}" "${S58[@]}" $(d58 base) --order $o --activation erf --check-samples 2
  for r in 1e-300 1e100 inf; do check "cumulants --order $o --lr $r" "!--lr" "${C58[@]}" "${S58[@]}" $(d58 base) --order $o --activation quad:0.5 --lr=$r; done
  for h in 100000 4611686018427387904; do check "cumulants --order $o MNIST --hidden $h" "!--hidden" "${C58[@]}" "${MN[@]}" --train-limit 300 --order $o --activation relu --hidden $h; done
  LIMIT=60 check "cumulants --order $o MNIST relu" + "${C58[@]}" "${MN[@]}" --train-limit 300 --hidden 16 --epochs 1 --order $o --activation relu
  # SIGINT mid-epoch (6 300 full-batch steps, ~0.05 s each): nothing left in the folder.
  signalled INT "$D58/sig$o" "cumulants --order $o SIGINT mid-epoch" --threads 1 train --task higher-order --n-train 4000 \
    --hidden 64 --epochs 100 --objective cumulants --order $o --activation relu --out "$D58/sig$o/m.safetensors"
done

# 59. Sixty-seventh session (scale67): the cumulant objective and the corrected closures at
# extreme data scales (EXPERIMENTS.md "Extreme scales at orders 3 and 4, scale67"). relu and the
# leaky relu at --order 3|4 on data x1e-100 were refused "gradients of layer 1 exceed 1.3e154 …
# the data's scale … is too large" (the reverse pass's order-6 terms D_ab ∝ s^{2−a−b} overflowed,
# then φ's Hermite derivatives ∞·0 at the linear units' μ/s ~ 1e97), and `propagate --order 3|4`
# of a model whose biases and data are both x1e-100 clamped every corrected pair to 0 (√(vᵢvⱼ)
# underflowed: KL 3.44 for 1.63). Each run: exit 0 (finite JSON), or a
# refusal naming the real cause (relu on tiny data: "data of a larger scale"; erf and quad on data
# x1e+50: "too large"); tiny data never "too large"; the propagate KLs of the x1e-50 and x1e-100
# models equal the x1 model's (kl59). Old (main 52feaaf): refused 2, unnamed 6, implausible 4;
# this binary 0 (56 runs). scale68: the x1e-150 models' KLs too (their κ slices, ~1e-450 and
# ~1e-600, underflowed in natural units: order 4 ran as order 3, order 3 as order 2, z2 KL 1.6226
# for 1.6254), and every stage's cov_rel_err and mean_err at x1e-50 … x1e-150 (same26: at x1e-100
# the Frobenius norms underflowed to 0 and the rows were flagged degenerate). Main 350a1da:
# implausible 12 (kl59 at x1e-150, same26 at x1e-100 and x1e-150; both activations and orders);
# the norms' fix alone 8 (x1e-150); scale68's binary 0 (56 runs).
D59=$W/d59
rm -rf "$D59" && mkdir -p "$D59"
sines59 "$D59" x1 1.0 em50 1e-50 em100 1e-100 em150 1e-150 e50 1e50
kl59() { # NAME A B: every stage's KL of B within 1e-7 of A's (relative; absolute below 1)
  python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
bad = [x for x, y in zip(a, b) if x["kl"] is None or y["kl"] is None or abs(x["kl"] - y["kl"]) > 1e-7 * max(abs(x["kl"]), 1.0)]
sys.exit(1 if bad or len(a) != len(b) else 0)' "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: KLs not data x1's"; }
}
d59() { echo --task data --train-x "$D59/$1-x.npy" --train-y "$D59/$1-y.npy" --test-split 0:40; }
C59=(--threads 1 train --objective cumulants --hidden 4 --epochs 2 --out "$D59/m.safetensors")
for o in 3 4; do
  for a in relu leaky_relu:0.1 erf quad:0.5; do
    for ds in x1 em50 em100 em150 e50; do
      want=+
      case $ds:$a in
        em*:relu) want="data of a larger scale" ;;
        e50:erf | e50:quad:0.5) want="too large" ;;
      esac
      check "scale59 cumulants --order $o $a: $ds" "$want" "${C59[@]}" $(d59 $ds) --order $o --activation $a
      case $ds in em*) grep -q "too large" "$W/err" && { unnamed=$((unnamed + 1)); echo "scale59 cumulants --order $o $a: $ds: tiny data called too large"; } ;; esac
    done
  done
done
# Models trained on x1 with their biases x t (st26), propagated at --order 3|4 --carry first on
# the data x t: relu and the leaky relu are positively homogeneous, so every stage's errors are
# the x1 model's on x1 data.
for a in relu leaky_relu:0.1; do
  m=$D59/${a%%:*}
  "$BIN" --threads 1 train $(d59 x1) --hidden 4 --epochs 20 --activation $a --out "$m.safetensors" >/dev/null 2>&1
  for t in em50 em100 em150; do st26 "$m.safetensors" "$m-$t.safetensors" bias "1e-${t#em}"; done
  for o in 3 4; do
    check "scale59 propagate --order $o $a: x1" + propagate --model "$m.safetensors" $(d59 x1) --order $o --carry first --json
    cp "$W/out" "$D59/p-x1.json"
    for t in em50 em100 em150; do
      check "scale59 propagate --order $o $a: $t" + propagate --model "$m-$t.safetensors" $(d59 $t) --order $o --carry first --json
      kl59 "scale59 propagate --order $o $a: $t" "$D59/p-x1.json" "$W/out"
      same26 "scale59 propagate --order $o $a: $t" "$D59/p-x1.json" "$W/out"
    done
  done
done

# 60. Sixty-eighth session (gc68): --correction-bound α|off, the bound on the Gram–Charlier
# corrected closures' corrections in the cumulant objective (EXPERIMENTS.md "A bound on the
# corrected closures' corrections, gc68"). Bad values (NaN, ±inf, α ≥ 1, α < 0, words, empty)
# refused naming the flag with no model written; 0 ≤ α < 1 and off (any case) run at orders 3|4
# for relu, erf, leaky relu and quad:0.5 (whose exact closure is never bound), the value recorded
# in --json's closure_check.correction_bound; refused at --order 2 and with --objective samples.
# bound69: α (not off) refused with quad:0.5, whose closure is the only corrected one (the
# command line sets one φ for every layer), no model written.
D60=$W/d60
rm -rf "$D60" && mkdir -p "$D60"
C60=(--threads 1 train --task higher-order --n-train 400 --hidden 8 --epochs 2 --objective cumulants --json --out "$D60/m.safetensors")
bound60() { recorded_key "$1" correction_bound "$2"; } # NAME WANT
for o in 3 4; do
  for b in nan NaN inf -inf 1 1.0 1.5 1e300 -0.1 -1e-300 x "" 0.5.5 on 0x1; do
    refused_without_model "$D60/m.safetensors" "bound60 --order $o --correction-bound '$b'" "--correction-bound" "${C60[@]}" --order $o --activation relu --correction-bound="$b"
  done
  for a in relu erf leaky_relu:0.1 quad:0.5; do
    for b in 0 -0 0.5 0.999999 off OFF; do
      if [ "$a" = quad:0.5 ] && [ "${b,,}" != off ]; then
        # bound69: α where no corrected layer has a Gram–Charlier closure is refused.
        refused_without_model "$D60/m.safetensors" "bound60 --order $o $a --correction-bound $b" "--correction-bound" "${C60[@]}" --order $o --activation $a --correction-bound=$b
        continue
      fi
      check "bound60 --order $o $a --correction-bound $b" + "${C60[@]}" --order $o --activation $a --correction-bound=$b
      bound60 "bound60 --order $o $a --correction-bound $b" "$(python3 -c "import sys; b = sys.argv[1]; print(b if b.lower() == 'off' else float(b))" $b)"
    done
  done
done
check "bound60 --order 2 --correction-bound 0.5" "!--correction-bound" "${C60[@]}" --activation relu --correction-bound 0.5
check "bound60 --objective samples --correction-bound 0.5" "!--correction-bound" --threads 1 train "${XOR[@]}" --out "$D60/s.safetensors" --correction-bound 0.5

# 61. Sixty-ninth session (unit69): cumulant training's κ slices at extreme data scales
# (EXPERIMENTS.md "Cumulant training at extreme data scales, unit69"). `train --objective
# cumulants --order 3|4` measured h¹'s slices in natural units: on data x1e-150 κ₃ ~ 1e-450 and
# κ₄ ~ 1e-600 underflowed, and the leaky relu (which trains there) ran orders 3 and 4 as order 2,
# bit for bit, exit 0. Now the slices are in the unit stats::moments chooses, and a positively
# homogeneous closure reads them there. Each run: relu refused naming the data's scale (its
# gradients are far below Adam's ε, as at order 2), the leaky relu and erf exit 0; the leaky
# relu's closure losses at --order 3|4 differ from its --order 2 run's (the corrections act);
# erf's closure takes natural units (its corrections, relative to its Gaussian terms, scale with
# the spread: below rounding here). Main 1a781ed: implausible 4 (the leaky relu's [3, 4, 2] and
# [3, 4, 4, 2] with --corrected-layers all, orders 3 and 4: order 2's losses bit for bit); this
# binary 0 (18 runs).
D61=$W/d61
rm -rf "$D61" && mkdir -p "$D61"
sines59 "$D61" em150 1e-150
C61=(--threads 1 train --objective cumulants --epochs 2 --json --task data --train-x "$D61/em150-x.npy" --train-y "$D61/em150-y.npy" --test-split 0:40 --out "$D61/m.safetensors")
losses61() { python3 -c 'import json, sys
print(" ".join(repr(e["closure_loss"]) for e in json.load(open(sys.argv[1]))["epochs"]))' "$W/out" 2>/dev/null; }
for h in 4 4,4; do
  layers=()
  [ "$h" = 4,4 ] && layers=(--corrected-layers all)
  for a in relu leaky_relu:0.1 erf; do
    want=+
    [ "$a" = relu ] && want="data of a larger scale"
    check "unit61 --order 2 $a --hidden $h: x1e-150" "$want" "${C61[@]}" --hidden $h --activation $a
    base=$(losses61)
    for o in 3 4; do
      check "unit61 --order $o $a --hidden $h: x1e-150" "$want" "${C61[@]}" --hidden $h --activation $a --order $o "${layers[@]}"
      case $a in leaky*) [ -n "$base" ] && [ "$(losses61)" = "$base" ] && {
        implausible=$((implausible + 1)); echo "unit61 --order $o $a --hidden $h: x1e-150: the closure losses of --order 2 ($base)"; } ;; esac
    done
  done
done

# 62. Seventieth session (bound70): --correction-bound-mean shrink|keep, what the correction bound
# does to the mean's correction (EXPERIMENTS.md "A correction bound that keeps the mean's
# correction, and its cost, bound70"). Refused naming the flag, exit 2, no model written: any
# value where the bound is off (the flag absent: off by default; off), at --order 2, with
# --objective samples; odd values (empty, words, numbers, a list). α with quad:0.5 and keep is
# refused naming --correction-bound (no Gram–Charlier closure to bound). Both values (any case)
# run with α at orders 3|4 for relu, erf and leaky relu, the value recorded in --json's
# closure_check.correction_bound_mean (shrink where the flag is absent and the bound on).
D62=$W/d62
rm -rf "$D62" && mkdir -p "$D62"
C62=(--threads 1 train --task higher-order --n-train 400 --hidden 8 --epochs 2 --objective cumulants --json --out "$D62/m.safetensors")
mean62() { recorded_key "$1" correction_bound_mean "$2"; } # NAME WANT
ODD62=("" kept keeps 1 0 nan off "keep,shrink" " keep" shrink=1)
bound_setting_refused mean62 --correction-bound-mean "keep shrink KEEP" ODD62 "$D62/m.safetensors" "${C62[@]}"
for o in 3 4; do
  for a in relu erf leaky_relu:0.1; do
    check "mean62 --order $o $a --correction-bound 0.2" + "${C62[@]}" --order $o --activation $a --correction-bound 0.2
    mean62 "mean62 --order $o $a --correction-bound 0.2" shrink
    for m in keep shrink Keep; do
      check "mean62 --order $o $a --correction-bound 0.2 --correction-bound-mean $m" + "${C62[@]}" --order $o --activation $a --correction-bound 0.2 --correction-bound-mean $m
      mean62 "mean62 --order $o $a --correction-bound 0.2 --correction-bound-mean $m" "${m,,}"
    done
  done
done

# 63. Seventy-first session (clip71): --correction-bound-rule scale|clip, how the correction
# bound keeps the covariance within it (EXPERIMENTS.md "A correction bound that clips only the
# emptied directions, clip71"). Refused naming the flag, exit 2, no model written, wherever
# --correction-bound-mean is (section 62): any value where the bound is off (absent: off by
# default; off), at --order 2, with --objective samples; odd values (empty, words, numbers, a
# list, a padded word, an assignment). α with quad:0.5 and clip is refused naming
# --correction-bound. Both values (any case: Clip, SCALE) run with α at orders 3|4 for relu, erf
# and leaky relu, with either mean rule, the value recorded lower-case in --json's
# closure_check.correction_bound_rule (scale where the flag is absent and the bound on), and
# under clip the epochs' bounded tally carries the clipped directions (a count ≤ the width 8).
D63=$W/d63
rm -rf "$D63" && mkdir -p "$D63"
C63=(--threads 1 train --task higher-order --n-train 400 --hidden 8 --epochs 2 --objective cumulants --json --out "$D63/m.safetensors")
rule63() { recorded_key "$1" correction_bound_rule "$2"; } # NAME WANT
# clipped63 NAME: every epoch's bounded tally has clip counts with 0 ≤ most ≤ min(8, directions).
clipped63() {
  python3 -c 'import json, sys
for e in json.load(open(sys.argv[1]))["epochs"]:
    c = e["bounded"]["clipped"]
    assert 0 <= c["most"] <= min(8, c["directions"])' "$W/out" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: no plausible clip counts in --json"; }
}
ODD63=("" clips scales 1 0 nan off shrink "clip,scale" " clip" clip=1)
bound_setting_refused rule63 --correction-bound-rule "clip scale Clip" ODD63 "$D63/m.safetensors" "${C63[@]}"
for o in 3 4; do
  for a in relu erf leaky_relu:0.1; do
    check "rule63 --order $o $a --correction-bound 0.2" + "${C63[@]}" --order $o --activation $a --correction-bound 0.2
    rule63 "rule63 --order $o $a --correction-bound 0.2" scale
    for r in clip scale Clip SCALE; do
      for m in shrink keep; do
        name="rule63 --order $o $a --correction-bound 0.2 --correction-bound-rule $r --correction-bound-mean $m"
        check "$name" + "${C63[@]}" --order $o --activation $a --correction-bound 0.2 --correction-bound-rule $r --correction-bound-mean $m
        rule63 "$name" "${r,,}"
        [ "${r,,}" = clip ] && clipped63 "$name"
      done
    done
  done
done

# 64. Seventy-second session (meas72): --correction-bound-reference gauss|measured, what the
# correction bound keeps the corrected z near (EXPERIMENTS.md "The correction bound against the
# measured z covariance, meas72"). Refused naming the flag, exit 2, no model written, wherever
# --correction-bound-mean is (section 62): any value where the bound is off (absent: off by
# default; off), at --order 2, with --objective samples; odd values (empty, words, numbers, a
# list, a padded word, an assignment). Both values (any case: Measured, GAUSS) run with α at
# orders 3|4 for relu, erf and leaky relu, with either rule and mean, and with --corrected-layers
# all on two hidden layers, the value recorded lower-case in --json's
# closure_check.correction_bound_reference (gauss where the flag is absent and the bound on).
D64=$W/d64
rm -rf "$D64" && mkdir -p "$D64"
C64=(--threads 1 train --task higher-order --n-train 400 --hidden 8 --epochs 2 --objective cumulants --json --out "$D64/m.safetensors")
ref64() { recorded_key "$1" correction_bound_reference "$2"; } # NAME WANT
ODD64=("" measure gaussian 1 0 nan off clip "measured,gauss" " measured" measured=1)
bound_setting_refused ref64 --correction-bound-reference "measured gauss Measured" ODD64 "$D64/m.safetensors" "${C64[@]}"
for o in 3 4; do
  for a in relu erf leaky_relu:0.1; do
    check "ref64 --order $o $a --correction-bound 0.2" + "${C64[@]}" --order $o --activation $a --correction-bound 0.2
    ref64 "ref64 --order $o $a --correction-bound 0.2" gauss
    for r in measured Measured GAUSS; do
      for rm in "scale shrink" "clip keep"; do
        set -- $rm
        name="ref64 --order $o $a --correction-bound 0.2 --correction-bound-reference $r --correction-bound-rule $1 --correction-bound-mean $2"
        check "$name" + "${C64[@]}" --order $o --activation $a --correction-bound 0.2 --correction-bound-reference $r --correction-bound-rule $1 --correction-bound-mean $2
        ref64 "$name" "${r,,}"
      done
    done
    name="ref64 --order $o $a all --correction-bound 0.5 --correction-bound-reference measured"
    check "$name" + "${C64[@]/#8/8,8}" --order $o --activation $a --corrected-layers all --correction-bound 0.5 --correction-bound-reference measured
    ref64 "$name" measured
  done
done

# 65. Seventy-second session (adv72): erf at wide units, and what a cumulant model's file records
# (EXPERIMENTS.md "Adversarial pass, adv72"). (a) `train --objective cumulants --activation erf`
# on data x1e8 and x1e10 (pre-activations of s.d. ~1e8): the closure's VJP formed dᵢdⱼ − 4Σᵢⱼ²,
# Σⱼⱼ − 2Σᵢⱼ²/dᵢ and μⱼ − 2Σᵢⱼμᵢ/dᵢ (results of size 1 from terms of size Σ): a unit's D with
# itself rounded to ≤ 0, and every order was refused "gradients of layer 1 exceed 1.3e154 … the
# data's scale … too large" while the samples objective trains there; now each runs (refused
# before). (b) `propagate --order 3|4` of an erf network on the same rows x1e7 and x1e10: the
# unit terms E_G[(erf²)⁽ᵏ⁾] summed the Φ₂ partials at r₀ → 1 with 1 − r₀² taken from r₀, and
# at x1e10 cov_rel_err was 3·10⁵ (x1e7: 0.22), exit 0; now every stage's errors and KL at x1e10
# are x1e7's within 1e-4 (erf saturates: the two describe sign(h)), and so is analyze --order 3's
# theory_accuracy_k3k4 (main: 0.5001 at x1e10, chance); implausible before. (c) a
# cumulant model's file recorded closure_check and check_samples only, not the order, corrected
# layers or bound: each of those as --json names it, checked against the run's settings
# (implausible before). (d) cumulant-trained models of odd data (duplicated rows, a constant
# feature, 1-D input, 10 classes) at --order 3|4 with --corrected-layers all, through
# propagate --order 3|4 and analyze --order 3 --json: run, finite, plausible.
# Old (main 853ec52): refused 10, implausible 7; this binary 0 (116 runs).
D65=$W/d65
rm -rf "$D65" && mkdir -p "$D65"
python3 - "$D65" <<'PY65'
import random, sys
from npy import xy
d = sys.argv[1]
rng = random.Random(72)
y = [k % 2 for k in range(300)]
# Class 1 skewed (centred exponentials), class 0 Gaussian, as section 58's.
x = [[rng.gauss(0, 1) if c == 0 else rng.expovariate(1) - 1 for _ in range(3)] for c in y]
for s, name in ((1e4, "e4"), (1e7, "e7"), (1e8, "e8"), (1e10, "e10")):
    xy(d, name, [[v * s for v in r] for r in x], y)
xy(d, "dup", [x[k % 4] for k in range(300)], y)
xy(d, "const", [r[:2] + [3.0] for r in x], y)
xy(d, "oned", [r[:1] for r in x], y)
y10 = [k % 10 for k in range(300)]
xy(d, "c10", [[rng.gauss(0, 1) + 0.3 * c for _ in range(3)] for c in y10], y10)
PY65
d65() { echo --task data --train-x "$D65/$1-x.npy" --train-y "$D65/$1-y.npy" --test-split 0:50; }
C65=(--threads 1 train --objective cumulants --hidden 4,4 --epochs 2 --json)
M65=(--out "$D65/m.safetensors")
for ds in e8 e10; do
  for o in 2 3 4; do
    check "wide65 cumulants erf --order $o: x1$ds" + "${C65[@]}" "${M65[@]}" $(d65 $ds) --order $o --activation erf
  done
  for o in 3 4; do
    check "wide65 cumulants erf --order $o all, bound 0.2: x1$ds" + "${C65[@]}" "${M65[@]}" $(d65 $ds) --order $o --activation erf \
      --corrected-layers all --correction-bound 0.2
  done
done
# errs65 NAME A B: every stage's cov_rel_err, mean_err and KL of B within 1e-4 of A's (relative;
# absolute below 1).
errs65() {
  python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
near = lambda x, y: x is not None and y is not None and abs(x - y) <= 1e-4 * max(abs(x), 1.0)
bad = [x for x, y in zip(a, b) for f in ("cov_rel_err", "mean_err", "kl") if not near(x[f], y[f]) and (x[f], y[f]) != (None, None)]
sys.exit(1 if bad or len(a) != len(b) else 0)' "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: errors not those of data x1e7"; }
}
"$BIN" --threads 1 train $(d65 e4) --hidden 4,4 --epochs 3 --activation erf --out "$D65/erf.safetensors" >/dev/null 2>&1
for o in 3 4; do
  check "wide65 propagate erf --order $o: x1e7" + propagate --model "$D65/erf.safetensors" $(d65 e7) --order $o --json
  cp "$W/out" "$D65/p-e7.json"
  check "wide65 propagate erf --order $o: x1e10" + propagate --model "$D65/erf.safetensors" $(d65 e10) --order $o --json
  errs65 "wide65 propagate erf --order $o: x1e10" "$D65/p-e7.json" "$W/out"
done
# analyze's κ₃/κ₄ theory accuracy: x1e10's within 1e-4 of x1e7's (main: 0.5001 at x1e10, chance).
for ds in e7 e10; do
  check "wide65 analyze erf --order 3: x1$ds" + --threads 1 analyze --model "$D65/erf.safetensors" $(d65 $ds) --order 3 --json \
    --mc-samples 500 --surrogate-samples 500
  python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["theory_accuracy_k3k4"]["accuracy"])' "$W/out" >"$D65/a-$ds" 2>/dev/null
done
python3 -c 'import sys
a, b = (float(open(p).read()) for p in sys.argv[1:])
sys.exit(0 if abs(a - b) <= 1e-4 else 1)' "$D65/a-e7" "$D65/a-e10" 2>/dev/null ||
  { implausible=$((implausible + 1)); echo "wide65 analyze erf --order 3: x1e10's κ₃ accuracy $(cat "$D65/a-e10") for x1e7's $(cat "$D65/a-e7")"; }
# recorded65 NAME KEY=VALUE…: the model file's metadata holds each KEY as VALUE ("-": absent).
recorded65() {
  local name=$1
  shift
  python3 - "$D65/m.safetensors" "$@" <<'PY65' 2>/dev/null || { implausible=$((implausible + 1)); echo "$name: the model file does not record $*"; }
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]]).get("__metadata__", {})
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    assert meta.get(k) == (None if v == "-" else v), (k, meta.get(k))
PY65
}
check "record65 --order 2" + "${C65[@]}" "${M65[@]}" $(d65 e4) --activation relu
recorded65 "record65 --order 2" order=2 corrected_layers=- correction_bound=-
check "record65 --order 3" + "${C65[@]}" "${M65[@]}" $(d65 e4) --activation relu --order 3
recorded65 "record65 --order 3" order=3 corrected_layers=first correction_bound=off correction_bound_mean=- correction_bound_rule=-
check "record65 --order 4 all, clip" + "${C65[@]}" "${M65[@]}" $(d65 e4) --activation leaky_relu:0.1 --order 4 --corrected-layers all \
  --correction-bound 0.25 --correction-bound-rule clip --correction-bound-mean keep
recorded65 "record65 --order 4 all, clip" order=4 corrected_layers=all correction_bound=0.25 correction_bound_mean=keep correction_bound_rule=clip
check "record65 --order 3 bound" + "${C65[@]}" "${M65[@]}" $(d65 e4) --activation erf --order 3 --correction-bound 0
recorded65 "record65 --order 3 bound" order=3 corrected_layers=first correction_bound=0 correction_bound_mean=shrink correction_bound_rule=scale
for ds in dup const oned c10; do
  for a in relu leaky_relu:0.1 erf quad:0.5; do
    for o in 3 4; do
      m=$D65/$ds-${a%%:*}-$o.safetensors
      check "odd65 cumulants $a --order $o all: $ds" - "${C65[@]}" --out "$m" $(d65 $ds) --activation $a --order $o --corrected-layers all
      [ -s "$m" ] || continue
      check "odd65 propagate --order $o: $ds $a" + propagate --model "$m" --order $o --json
      check "odd65 analyze --order 3: $ds $a --order $o" + --threads 1 analyze --model "$m" --order 3 --json --mc-samples 500 --surrogate-samples 500
    done
  done
done

# 66. Seventy-third session (erf73): erf's pair terms near ρ = 1 (EXPERIMENTS.md "erf's pair
# terms near ρ = 1, erf73"). An erf [3, 4, 4, 2] network whose first layer has two equal rows
# (units 0 and 1 one variable: the measured z¹ has two equal rows, a zero-variance direction)
# and one whose row 1 is row 0 plus 1e-6 of row 2 (near-collinear), on section 65's skewed rows
# x1 to x1e10, propagate --order 2|3|4 and analyze --order 3. The corrected pair (1, 0) differed
# from the units' variance by the rounding of terms ~√Σ times larger (y − r·x of the Φ₂ partials
# at r → 1) or fell back to the Gaussian covariance beside corrected variances, and the KL that
# weighs the zero direction came out 2.5 (x1e4, order 3) to 6.4 (order 4, and order 3 from x1e7)
# against order 2's 0.10, exit 0: counted here as implausible when an order-3|4 KL of h¹'s post
# stage exceeds order 2's by more than 0.1, or a pair of the ρ = 1 network fell back. Old (main
# 89cd781): implausible 7; this binary 0 (32 runs). Seventy-fourth session (erf74, EXPERIMENTS.md
# "Near-collinear erf pairs, erf74"): the near-collinear networks, row 1 = row 0 + eps·row 2 for
# eps = 1e-3, 1e-6, 1e-9, are held to the same KL bound (order 2's + 0.1; their pairs may fall
# back, as unresolved). Main 49f370b: the order-3|4 KL came out 4.1–6.4 against order 2's
# 0.1–1.0 for eps 1e-6 and 1e-9 from x1e4, and 4.25 against 4.14 for eps 1e-3 (order 4, x1e4):
# implausible 11; erf74's binary: 0 (56 runs).
D66=$W/d66
rm -rf "$D66" && mkdir -p "$D66"
python3 - "$D66" <<'PY66'
import random, sys
from npy import xy
rng, y = random.Random(72), [k % 2 for k in range(300)]
# Section 65's rows (class 1 centred exponentials, class 0 Gaussian), x1 to x1e10.
x = [[rng.gauss(0, 1) if c == 0 else rng.expovariate(1) - 1 for _ in range(3)] for c in y]
for e in (0, 4, 7, 10):
    xy(sys.argv[1], f"e{e}", [[v * 10.0**e for v in r] for r in x], y)
PY66
d66() { echo --task data --train-x "$D66/$1-x.npy" --train-y "$D66/$1-y.npy" --test-split 0:50; }
"$BIN" --threads 1 train $(d66 e0) --hidden 4,4 --epochs 3 --activation erf --out "$D66/erf.safetensors" >/dev/null 2>&1
for eps in 0 1e-6 1e-3 1e-9; do
  python3 - "$D66/erf.safetensors" "$D66/dup$eps.safetensors" "$eps" <<'PY66'
import json, struct, sys
from st_writer import safetensors
src, dst, eps = sys.argv[1], sys.argv[2], float(sys.argv[3])
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h, blob = json.loads(raw[8:8 + n]), raw[8 + n:]
t = {}
for k, v in h.items():
    if k != "__metadata__":
        a, b = v["data_offsets"]
        t[k] = ["F64", v["shape"], list(struct.unpack(f"<{(b - a) // 8}d", blob[a:b]))]
w, bias, m = t["hidden1.weight"][2], t["hidden1.bias"][2], t["hidden1.weight"][1][1]
for c in range(m):
    w[m + c] = w[c] + eps * w[2 * m + c]
bias[1] = bias[0] + eps * bias[2]
safetensors(dst, t, h["__metadata__"])
PY66
done
# kl66 NAME A B [PAIRS]: every class's h¹ post KL of B at most A's + 0.1; with PAIRS, B's pair
# fallbacks are 0.
kl66() {
  python3 - "$2" "$3" "${4:-}" <<'PY66' 2>/dev/null || { implausible=$((implausible + 1)); echo "$1: h¹'s KL above order 2's or a ρ = 1 pair fell back"; }
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
post = lambda j: [l["kl"] for l in j["layers"] if l["layer"] == 1 and l["stage"] == "post"]
assert all(y is not None and y <= x + 0.1 for x, y in zip(post(a), post(b))), (post(a), post(b))
assert not sys.argv[3] or b["fallbacks"]["pairs"] == 0, b["fallbacks"]
PY66
}
for eps in 0 1e-6 1e-3 1e-9; do
  for ds in e0 e4 e7 e10; do
    check "rho66 propagate erf --order 2: eps $eps x1$ds" + propagate --model "$D66/dup$eps.safetensors" $(d66 $ds) --order 2 --json
    cp "$W/out" "$D66/o2.json"
    for o in 3 4; do
      check "rho66 propagate erf --order $o: eps $eps x1$ds" + propagate --model "$D66/dup$eps.safetensors" $(d66 $ds) --order $o --json
      if [ $eps = 0 ]; then
        kl66 "rho66 propagate erf --order $o: eps $eps x1$ds" "$D66/o2.json" "$W/out" pairs
      else
        kl66 "rho66 propagate erf --order $o: eps $eps x1$ds" "$D66/o2.json" "$W/out"
      fi
    done
    case $eps in 1e-3 | 1e-9) continue ;; esac
    check "rho66 analyze erf --order 3: eps $eps x1$ds" + --threads 1 analyze --model "$D66/dup$eps.safetensors" $(d66 $ds) --order 3 --json \
      --mc-samples 500 --surrogate-samples 500
  done
done

# 67. Seventy-third session (grid73): a sweep's grid keys of the corrected cumulant objective
# (order, corrected_layers, correction_bound, correction_bound_mean, correction_bound_rule,
# correction_bound_reference) and `train --init FILE`. (a) Bad values of every new key
# (unknown words, out-of-range numbers, NaN, huge, empty, a list repeating a value in two
# spellings) are refused naming the key; (b) the combinations `train` refuses (a bound or the
# corrected layers at order 2, a bound's setting with the bound off, order 3 of tanh, a bound on
# quad:0.5's exact closure, order with objective samples) are refused at plan time naming the
# key, with no results.jsonl; a valid grid runs and a resume of it runs nothing. (c) --init:
# a missing file, a FIFO, a folder, a truncated file, NaN weights, another architecture
# (--hidden, --activation, another task's inputs), --gain with it: refused naming the file or
# flag, no model written; a valid one runs and records the file.
D67=$W/d67
rm -rf "$D67" && mkdir -p "$D67"
G67='task = "higher-order"
n_train = 200
n_test = 200
hidden = [[4]]
activation = "relu"
epochs = 1
objective = "cumulants"'
# grid67 NAME EXPECT LINES: a grid of G67 (its keys overridden by LINES) swept into a fresh
# folder; a refusal must leave no results.jsonl.
grid67() {
  local name=$1 expect=$2 lines=$3 own
  own=$(printf '%s\n' "$lines" | sed -n 's/^\([a-z_]*\) *=.*/\1/p' | paste -sd'|')
  { printf '%s\n' "$G67" | grep -Ev "^(${own:-^})( |=)"; printf '%s\n' "$lines"; } >"$D67/g.toml"
  rm -rf "$D67/sw"
  check "$name" "$expect" --threads 1 sweep --grid "$D67/g.toml" --out "$D67/sw"
  if [ "${expect:0:1}" = "!" ] && [ -e "$D67/sw/results.jsonl" ]; then
    debris=$((debris + 1)); echo "$name: a point ran before the refusal"
  fi
}
for v in 1 5 0 -3 256 18446744073709551616 '"three"' 3.0 nan inf '[]' '[3, 3]' '""'; do
  grid67 "grid67 order = $v" "!order" "order = $v"
done
for key in corrected_layers correction_bound_mean correction_bound_rule correction_bound_reference; do
  for v in '"second"' '""' 1 nan '[]' true; do
    grid67 "grid67 $key = $v" "!$key" "order = 3
correction_bound = 0.2
$key = $v"
  done
done
grid67 "grid67 corrected_layers twice" "!same configuration" 'order = 3
corrected_layers = ["first", "FIRST"]'
grid67 "grid67 correction_bound_mean twice" "!same configuration" 'order = 3
correction_bound = 0.2
correction_bound_mean = ["keep", "Keep"]'
for v in 1 1.0 -0.1 nan inf -inf 1e308 '"of"' '""' '"0.2.1"' true '[]' '[0.2, "0.2"]' '["off", "OFF"]'; do
  case $v in '[0.2, "0.2"]'|'["off", "OFF"]') want='!same configuration' ;; *) want='!correction_bound' ;; esac
  grid67 "grid67 correction_bound = $v" "$want" "order = 3
correction_bound = $v"
done
grid67 "grid67 order 2 with a bound" "!grid key 'correction_bound'" 'order = [2, 3]
correction_bound = ["off", 0.2]'
grid67 "grid67 order 2 all" "!grid key 'corrected_layers'" 'corrected_layers = "all"'
grid67 "grid67 rule, bound off" "!grid key 'correction_bound_rule'" 'order = 3
correction_bound = "off"
correction_bound_rule = "clip"'
grid67 "grid67 reference, no bound" "!grid key 'correction_bound_reference'" 'order = 4
correction_bound_reference = "measured"'
grid67 "grid67 order 3 tanh" "!grid key 'order'" 'order = 3
activation = ["relu", "tanh"]'
grid67 "grid67 bound on quad" "!grid key 'correction_bound'" 'order = 3
correction_bound = 0.2
activation = "quad:0.5"'
grid67 "grid67 order, objective samples" "!grid key 'order'" 'order = 3
objective = ["cumulants", "samples"]'
grid67 "grid67 valid grid" + 'order = [3, 4]
correction_bound = ["off", 0.2]
seed = [1, 2]'
[ "$(wc -l <"$D67/sw/results.jsonl" 2>/dev/null)" = 8 ] || { refused=$((refused + 1)); echo "grid67 valid grid: not 8 records"; }
check "grid67 valid grid resumed" + --threads 1 sweep --grid "$D67/g.toml" --out "$D67/sw"
[ "$(wc -l <"$D67/sw/results.jsonl")" = 8 ] || { debris=$((debris + 1)); echo "grid67 resume ran points again"; }
sed -i 's/0.2\]/0.3]/' "$D67/g.toml"
check "grid67 edited grid resumed" '!results.jsonl' --threads 1 sweep --grid "$D67/g.toml" --out "$D67/sw"
# (c) --init.
T67=(--threads 1 train --task higher-order --n-train 200 --n-test 200 --epochs 1)
"$BIN" "${T67[@]}" --hidden 4 --activation relu --out "$D67/init.safetensors" >/dev/null 2>&1
python3 - "$D67" <<'PY67'
import struct, sys
d = sys.argv[1]
raw = open(d + "/init.safetensors", "rb").read()
open(d + "/trunc.safetensors", "wb").write(raw[: len(raw) - 8])
open(d + "/head.safetensors", "wb").write(raw[:5])
n = struct.unpack("<Q", raw[:8])[0]
open(d + "/nan.safetensors", "wb").write(raw[: 8 + n] + struct.pack("<d", float("nan")) + raw[16 + n :])
open(d + "/inf.safetensors", "wb").write(raw[: len(raw) - 8] + struct.pack("<d", float("-inf")))
PY67
mkfifo "$D67/fifo.safetensors"
O67=$D67/out.safetensors
for f in missing fifo trunc head nan inf; do
  check "init67 --init $f" "!$f.safetensors" "${T67[@]}" --init "$D67/$f.safetensors" --out "$O67"
  [ -e "$O67" ] && { debris=$((debris + 1)); echo "init67 $f: a model was written"; rm -f "$O67"; }
done
check "init67 --init a folder" "!$D67" "${T67[@]}" --init "$D67" --out "$O67"
check "init67 --init --hidden 5" "!--hidden" "${T67[@]}" --init "$D67/init.safetensors" --hidden 5 --out "$O67"
check "init67 --init --hidden 4,4" "!--hidden" "${T67[@]}" --init "$D67/init.safetensors" --hidden 4,4 --out "$O67"
check "init67 --init --activation erf" "!--activation" "${T67[@]}" --init "$D67/init.safetensors" --activation erf --out "$O67"
check "init67 --init --gain 2" "!--gain" "${T67[@]}" --init "$D67/init.safetensors" --gain 2 --out "$O67"
check "init67 --init of another task" "!--init" --threads 1 train "${XOR[@]}" --init "$D67/init.safetensors" --out "$O67"
check "init67 --init of MNIST's model" "!--init" "${T67[@]}" --init "$W/mnist.safetensors" --out "$O67"
check "init67 --init ''" "!--init" "${T67[@]}" --init '' --out "$O67"
[ -e "$O67" ] && { debris=$((debris + 1)); echo "init67: a refused run wrote a model"; rm -f "$O67"; }
check "init67 --init, cumulants" + "${T67[@]}" --init "$D67/init.safetensors" --objective cumulants --order 3 --correction-bound 0.2 --json --out "$O67"
python3 -c 'import json, struct, sys
r = json.load(open(sys.argv[1]))
raw = open(sys.argv[2], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
assert r["init"]["path"] == meta["init"] and r["init"]["xxh64"] == meta["init_xxh64"], (r["init"], meta)' "$W/out" "$O67" 2>/dev/null ||
  { implausible=$((implausible + 1)); echo "init67: --json and the file do not record the same init"; }
check "init67 --init in place" + "${T67[@]}" --init "$D67/init.safetensors" --out "$D67/init.safetensors"

# 68. Seventy-third session (adv73): the KL of a stage singular by construction under
# --precision f32, and odd-but-valid networks and classes (EXPERIMENTS.md "Adversarial pass,
# adv73"). (a) `propagate --precision f32 --json` of [4, 6, 2, 3] networks (relu, leaky
# relu -1 and 2, quad -3, tanh; biases spread): h¹ (6 units fed by 4 inputs) and y (3
# of 2 units) are singular by construction, and the KL's ridge (1e-8 × the mean variance) is
# below f32's rounding of their dependent directions: main printed 0.19–1.4 at an h¹ whose
# f64 KL is 0 (an exact affine map), or null, by chance. Now null at those rows, and every
# other row's KL within 1e-3 of f64's (relative; absolute below 1); implausible before. (b)
# Networks with a zero-weight (constant) unit and two identical units, biases ±30 and ±8,
# widths 1, weights 1e-6, per-layer activations, for every activation, through propagate
# (orders 2, 3, 4; from layers 0 and 1; f64) and analyze --json on 3 classes of 900, 40 and 2
# samples (the 2-sample class: ρ = ±1 everywhere): every run succeeds and is plausible. Their
# figures were checked against an independent numpy closure (EXPERIMENTS.md); not here. The
# GELU network with biases ±30 takes 6.7 CPU s at --order 4 (the corrected pairs' quadrature;
# 43 s wall at load 8, over 90 s at load 10): its runs get 180 s.
# Old (main's binary, 1b98024): implausible 4 (leaky relu 2's f32 rows happened to be null),
# and hangs 2 (the GELU runs below at 90 s, while builds loaded the machine: 6.4 CPU s on both
# binaries); this binary 0 (219 runs).
D68=$W/d68
rm -rf "$D68" && mkdir -p "$D68"
python3 - "$D68" <<'PY68'
import random, sys
from npy import xy, blobs
from st_writer import mlp
d = sys.argv[1]
rng = random.Random(73)
x, y = blobs(rng, [300, 300, 300])
xy(d, "b3", x, y)
x, y = blobs(rng, [900, 40, 2])
xy(d, "uneq", x, y)
x, y = blobs(rng, [200, 200], dim=4)
xy(d, "b2", x, y)
def mat(o, i, s=1.5):
    return [[rng.gauss(0, s / i ** 0.5) for _ in range(i)] for _ in range(o)]
def write(name, ws, bs, act):
    mlp(f"{d}/{name}.safetensors", ws, bs, act)
for a in ["relu", "leaky_relu:-1", "leaky_relu:2", "quad:-3", "linear", "tanh"]:
    write("s-" + a.replace(":", "_"), [mat(6, 4), mat(2, 6), mat(3, 2)], [[0.3 * i - 0.8 for i in range(6)], [0.1, -0.2], None], a)
for a in ["relu", "leaky_relu:0.37", "leaky_relu:-1", "leaky_relu:1e-9", "erf", "tanh", "sigmoid", "silu", "softplus", "gelu", "quad:0.5", "linear"]:
    tag = a.replace(":", "_")
    w1 = mat(5, 4)
    w1[2] = [0.0] * 4
    w1[4] = list(w1[3])
    w2 = mat(4, 5)
    w2[1] = list(w2[0])
    write("odd-" + tag, [w1, w2, mat(3, 4)], [[0.3, -0.2, 0.7, 0.1, 0.0], [0.2] * 4, None], a)
    write("bias-" + tag, [mat(5, 4), mat(3, 5)], [[30.0, -30.0, 8.0, -8.0, 0.0], None], a)
    write("tiny-" + tag, [mat(5, 4, 1e-6), mat(3, 5)], [[0.5, -0.3, 1.0, 0.2, -1.0], None], a)
    write("w1-" + tag, [mat(1, 4), mat(1, 1), mat(2, 1)], [[0.2], [-0.1], None], a)
write("mixed", [mat(5, 4), mat(5, 5), mat(4, 5), mat(3, 4)], [[0.1] * 5, None, [0.2] * 4, None], "relu,tanh,leaky_relu:0.2")
PY68
d68() { echo --task data --train-x "$D68/$1-x.npy" --train-y "$D68/$1-y.npy" --test-x "$D68/$1-x.npy" --test-y "$D68/$1-y.npy"; }
# kl68 NAME F64 F32: h¹ and y rows null in F32, every other row's KL within 1e-3 of F64's
# (or null in both: a dead unit's stage singular even with the ridge).
kl68() {
  python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:])
sing = lambda r: (r["layer"] == 1 and r["stage"] == "pre") or r["stage"] == "output"
ok = len(a) == len(b) and all(
    (y["kl"] is None) if sing(x) else (x["kl"] is None and y["kl"] is None) or (x["kl"] is not None and y["kl"] is not None and abs(x["kl"] - y["kl"]) <= 1e-3 * max(abs(x["kl"]), 1.0))
    for x, y in zip(a, b))
sys.exit(0 if ok else 1)' "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: an f32 KL at a singular stage, or one off f64's"; }
}
# (The linear network is written but not checked: its z¹ = h¹ keeps h¹'s rank deficit, which
# the comparison's one-step rank bound does not see, and f32 prints a KL of rounding there,
# 2.0 against f64's 0; found, not fixed: EXPERIMENTS.md.)
for a in relu leaky_relu_-1 leaky_relu_2 quad_-3 tanh; do
  check "f32kl68 propagate f64: $a" + --threads 1 propagate --model "$D68/s-$a.safetensors" $(d68 b3) --json
  cp "$W/out" "$D68/f64.json"
  check "f32kl68 propagate f32: $a" + --threads 1 propagate --model "$D68/s-$a.safetensors" $(d68 b3) --json --precision f32
  kl68 "f32kl68 propagate f32: $a" "$D68/f64.json" "$W/out"
done
for m in "$D68"/odd-*.safetensors "$D68"/bias-*.safetensors "$D68"/tiny-*.safetensors "$D68/mixed.safetensors"; do
  n=$(basename "$m" .safetensors)
  for o in 2 3 4; do
    LIMIT=180 check "odd68 propagate --order $o: $n" + --threads 1 propagate --model "$m" $(d68 uneq) --order $o --json
  done
  check "odd68 propagate --from-layer 1: $n" + --threads 1 propagate --model "$m" $(d68 uneq) --from-layer 1 --json
  check "odd68 analyze: $n" + --threads 1 analyze --model "$m" $(d68 uneq) --json --mc-samples 2000 --surrogate-samples 500
done
for m in "$D68"/w1-*.safetensors; do
  n=$(basename "$m" .safetensors)
  check "odd68 propagate: $n" + --threads 1 propagate --model "$m" $(d68 b2) --json
  check "odd68 analyze: $n" + --threads 1 analyze --model "$m" $(d68 b2) --json --mc-samples 2000 --surrogate-samples 500
done

# 69. Seventy-fourth session (f32k74): `--precision f32` prints no KL of rounding, and a
# constant unit is no reason to refuse it (EXPERIMENTS.md "f32 KL and rounding, f32k74").
# (a) networks of section 68's kinds ([4, 6, 2, 3], first-layer weights 10⁻⁶, biases ±30
# and ±8, and a deeper [4, 8, 8, 6, 3]) for 8 φ on section 68's blobs, f64 against f32 (`propagate --json`): every
# f32 row carries `kl_rounding` (the bound on how far f32's rounding of the two Σ's can move
# the KL; no f64 row does), every f32 KL printed is f64's to within 10 % (the rule's
# threshold), and the rows of the kinds adv73 found wrong are null: z¹ of the linear
# [4, 6, 2, 3] network (adv73's: f32 2.0 against f64 0, the rank deficit of h¹ carried through
# φ = h; section 68 left it out) and z¹ of the weights-10⁻⁶ quadratic network (f64 KL
# ~10⁻⁶; adv73's f32 0.0118 against 9.2·10⁻⁶).
# (b) a zero weight row with a bias (relu, bias 5.1; erf, bias 0.2) on the blobs: the
# measured variance of the constant unit is the rounding of its shift (1.1e-44, 4.4e-47) and
# f32 refused it "below f32's normal range"; now propagate (from x and from layer 1) and
# analyze run in f32 and pass the same checks as (a).
# Old (main's binary, 49f370b): implausible 2 (the linear z¹ and the quadratic z¹), refused 6
# (the constant units); this binary 0.
# f32r75 (the rounding estimate of the seventy-fifth session): the quadratic z¹ is no longer
# required null — on these blobs f32 gives f64's KL (5.4·10⁻⁸) to 2.6·10⁻⁷ relative and the
# estimate is 4.5·10⁻¹¹, so it is printed; the within-10 % check stands, and section 68's
# weights-10⁻⁶ quadratic (f32 39 % off) stays null (EXPERIMENTS.md "f32 rounding shaped by the
# layer"). Binary 56b5ee2: implausible 0; f32r75 with the old expectation: 1 (that row).
D69=$W/d69
rm -rf "$D69" && mkdir -p "$D69"
python3 - "$D69" <<'PY69'
import random, sys
from npy import xy, blobs
from st_writer import mlp
d = sys.argv[1]
# Section 68's blobs (its first draws): the constant units below hit the refusal on them.
x, y = blobs(random.Random(73), [300, 300, 300])
xy(d, "b3", x, y)
def write(name, ws, bs, act):
    mlp(f"{d}/{name}.safetensors", ws, bs, act)
rng = random.Random(74)
def mat(o, i, s=1.5):
    return [[rng.gauss(0, s / i ** 0.5) for _ in range(i)] for _ in range(o)]
for a in ["relu", "leaky_relu:-1", "quad:-3", "linear", "tanh", "erf"]:
    tag = a.replace(":", "_")
    write("s-" + tag, [mat(6, 4), mat(2, 6), mat(3, 2)], [[0.3 * i - 0.8 for i in range(6)], [0.1, -0.2], None], a)
    write("tiny-" + tag, [mat(5, 4, 1e-6), mat(3, 5)], [[0.5, -0.3, 1.0, 0.2, -1.0], None], a)
    write("bias-" + tag, [mat(5, 4), mat(3, 5)], [[30.0, -30.0, 8.0, -8.0, 0.0], None], a)
    write("deep-" + tag, [mat(8, 4), mat(8, 8), mat(6, 8), mat(3, 6)], [[0.1] * 8, [0.0] * 8, [-0.1] * 6, None], a)
for a in ["quad:0.5", "leaky_relu:0.37"]:
    write("tiny-" + a.replace(":", "_"), [mat(5, 4, 1e-6), mat(3, 5)], [[0.5, -0.3, 1.0, 0.2, -1.0], None], a)
# A zero weight row with a bias (section 68's `odd` layer 1, the bias of unit 2 changed).
for bias, act in [(5.1, "relu"), (0.2, "erf")]:
    rng = random.Random(73)
    ws = [mat(5, 4), mat(4, 5), mat(3, 4)]
    ws[0][2] = [0.0] * 4
    write(f"const-{act}", ws, [[0.3, -0.2, bias, 0.1, 0.0], [0.2] * 4, None], act)
PY69
d69() { echo --task data --train-x "$D69/$1-x.npy" --train-y "$D69/$1-y.npy" --test-x "$D69/$1-x.npy" --test-y "$D69/$1-y.npy"; }
# kl69 NAME F64 F32 [LAYER STAGE]: kl_rounding on every f32 row and on no f64 row, every f32
# KL within 10 % of f64's, and the rows of LAYER STAGE (if given) null in f32.
kl69() {
  python3 -c 'import json, sys
a, b = (json.load(open(p))["layers"] for p in sys.argv[1:3])
at = (int(sys.argv[3]), sys.argv[4]) if len(sys.argv) > 4 else None
ok = len(a) == len(b) and all(
    "kl_rounding" not in x and "kl_rounding" in y
    and (x["kl"] is None or y["kl"] is None or abs(x["kl"] - y["kl"]) <= 0.1 * x["kl"])
    and (at != (x["layer"], x["stage"]) or y["kl"] is None)
    for x, y in zip(a, b))
sys.exit(0 if ok else 1)' "$2" "$3" ${4:-} ${5:-} 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: an f32 KL off f64 by over 10 %, or printed where it is rounding"; }
}
for m in "$D69"/*.safetensors; do
  n=$(basename "$m" .safetensors)
  case $n in s-linear) at="1 post" ;; *) at="" ;; esac
  for from in 0 1; do
    check "f32kl69 propagate f64 --from-layer $from: $n" + --threads 1 propagate --model "$m" $(d69 b3) --from-layer $from --json
    cp "$W/out" "$D69/f64.json"
    check "f32kl69 propagate f32 --from-layer $from: $n" + --threads 1 propagate --model "$m" $(d69 b3) --from-layer $from --json --precision f32
    kl69 "f32kl69 propagate f32 --from-layer $from: $n" "$D69/f64.json" "$W/out" $at
  done
done
for m in "$D69"/const-*.safetensors; do
  check "const69 analyze f32: $(basename "$m")" + --threads 1 analyze --model "$m" $(d69 b3) --json --precision f32 --mc-samples 2000 --surrogate-samples 500
done

# 71. Seventy-fourth session (gelu74): κ₃/κ₄ corrections of smooth networks whose units lie
# deep in a linear regime of φ (biases ±25 … ±50, |μ| − c ≥ 9s; EXPERIMENTS.md "Bounded cost on
# odd smooth networks, gelu74"). Their pairs missed the Hermite series' convergence test and
# took the 2-D quadrature of the expanded density, 4–9·10⁶ evaluations a pair: adv73's GELU
# network with biases ±30 (section 68's bias-gelu) took 6.4–7.1 CPU s at --order 3|4 for one
# 5-unit layer, 13–43 s wall under load. Such a pair's terms are now one 1-D rule over the other
# unit (`closures::regime_terms`): 0.01 CPU s, the same JSON to 4·10⁻¹² relative. Each run
# here gets 30 s, 300 times the new binary's time (the old one took 6.9–7.5 CPU s and 26–30 s
# wall a GELU run at load 8–9, at this limit); every run succeeds and is plausible.
D71=$W/d71
rm -rf "$D71" && mkdir -p "$D71"
python3 - "$D71" <<'PY71'
import random, sys
from npy import xy, blobs
from st_writer import mlp
d = sys.argv[1]
rng = random.Random(71)
for name, counts in [("b3", [300, 300, 300]), ("uneq", [900, 40, 2])]:
    xy(d, name, *blobs(rng, counts))
def mat(o, i, s=1.5):
    return [[rng.gauss(0, s / i ** 0.5) for _ in range(i)] for _ in range(o)]
def write(name, ws, bs, act):
    mlp(f"{d}/{name}.safetensors", ws, bs, act)
for a in ["gelu", "silu", "softplus", "tanh", "sigmoid", "erf"]:
    # section 68's bias network, and one with regime units in both hidden layers
    write("bias-" + a, [mat(5, 4), mat(3, 5)], [[30.0, -30.0, 8.0, -8.0, 0.0], None], a)
    write("deep-" + a, [mat(6, 4), mat(5, 6, 0.3), mat(3, 5)],
          [[30.0, -30.0, 50.0, -8.0, 0.0, -45.0], [25.0, -25.0, 0.0, 50.0, -50.0], None], a)
PY71
d71() { echo --task data --train-x "$D71/$1-x.npy" --train-y "$D71/$1-y.npy" --test-x "$D71/$1-x.npy" --test-y "$D71/$1-y.npy"; }
for m in "$D71"/bias-*.safetensors "$D71"/deep-*.safetensors; do
  n=$(basename "$m" .safetensors)
  for data in uneq b3; do
    for o in 3 4; do
      LIMIT=30 check "regime71 propagate --order $o: $n on $data" + --threads 1 propagate --model "$m" $(d71 $data) --order $o --json
    done
  done
  LIMIT=30 check "regime71 propagate --order 4 --carry depth: $n" + --threads 1 propagate --model "$m" $(d71 b3) --order 4 --carry depth --json
done

# 72. Seventy-fourth session (lead): the `unlearned` warning after `train --init`. From a trained
# XOR model, fine-tunes at a diverging --lr (10, 100, 1e6) must warn (stderr and JSON: cause lr
# or collapse, from_init true, no gain) and exit 0; a small --lr must not; a model far from the
# targets (trained at --gain 1e3) fine-tuned at --lr 1e-9 is cause init_model. Every run's JSON
# passes the usual checks (no NaN, no null loss).
D72=$W/d72
rm -rf "$D72" && mkdir -p "$D72"
check "init72 base" + --threads 1 train --task xor --out "$D72/base.safetensors"
check "init72 far base" + --threads 1 train --task xor --gain 1e3 --out "$D72/far.safetensors"
# warned72 NAME FILE CAUSES: the JSON in FILE has unlearned.cause in CAUSES (a|b), from_init
# true and no gain; CAUSES "-" wants no unlearned object.
warned72() {
  python3 -c 'import json, sys
d = json.load(open(sys.argv[1])); u = d.get("unlearned"); want = sys.argv[2]
ok = (u is None) if want == "-" else (u is not None and u["cause"] in want.split("|") and u.get("from_init") is True and "gain" not in u and u["initial_loss"] > 0)
sys.exit(0 if ok else 1)' "$2" "$3" 2>/dev/null ||
    { implausible=$((implausible + 1)); echo "$1: unlearned not as expected ($3): $(grep -o '"unlearned":{[^}]*}' "$2" | head -c 300)"; }
}
for lr in 10 100 1e6; do
  check "init72 --lr $lr" + --threads 1 train --task xor --init "$D72/base.safetensors" --lr $lr --epochs 5 --json --out "$D72/t.safetensors"
  warned72 "init72 --lr $lr" "$W/out" 'lr|collapse'
  grep -q "the --init model's" "$W/err" || { implausible=$((implausible + 1)); echo "init72 --lr $lr: no warning on stderr"; }
done
check "init72 --lr 1e-3" + --threads 1 train --task xor --init "$D72/base.safetensors" --lr 1e-3 --epochs 5 --json --out "$D72/t.safetensors"
warned72 "init72 --lr 1e-3" "$W/out" -
check "init72 far model" + --threads 1 train --task xor --init "$D72/far.safetensors" --lr 1e-9 --epochs 1 --json --out "$D72/t.safetensors"
warned72 "init72 far model" "$W/out" init_model

# 73. Seventy-fourth session (lead): order 3|4 on a skewed input (EXPERIMENTS.md "After the
# merges …, lead (seventy-fourth session)"). 3 classes of 1000 samples in 4-d, feature 0
# exponential (skew 2); 32 random [4, 5, 5, 3] sigmoid/softplus/tanh/silu networks. The corrected
# z¹ covariance can leave the positive semidefinite cone: its KL was null with no reason given.
# Every run either succeeds, and then every null KL of an f64 row carries "indefinite" (or is a
# degenerate/unresolved row), or is refused naming the stage (exit 2: a later closure meets the
# indefinite covariance, "indefinite (smallest eigenvalue …)"). Main 936140b: 22 of 64 runs had
# an unexplained null KL; this binary 0.
# Seventy-sixth session (wpsd76): a class whose corrected covariance is not positive semidefinite
# has its spectrum floored (`propagate::closures::cone`), so every run must now succeed ("+"),
# no row is `indefinite`, and fallbacks counts projected ≤ classes_tried. Main 8baf037: refused
# or implausible in some runs; this binary 0.
D73=$W/d73
rm -rf "$D73" && mkdir -p "$D73"
python3 - "$D73" <<'PY73'
import random, sys
from npy import xy
from st_writer import mlp
d = sys.argv[1]
rng = random.Random(73)
x, y = [], []
for c in range(3):
    shift = [rng.gauss(0, 0.7) for _ in range(4)]
    for _ in range(1000):
        r = [rng.gauss(0, 1) + s for s in shift]
        r[0] = rng.expovariate(1) * (1 + 0.5 * c)
        x.append(r)
        y.append(c)
xy(d, "skew", x, y)
for seed in range(8):
    r = random.Random(1000 + seed)
    mat = lambda o, i, s: [[r.gauss(0, s) for _ in range(i)] for _ in range(o)]
    ws = [mat(5, 4, 1.5), mat(5, 5, 1.5), mat(3, 5, 1.0)]
    bs = [[r.gauss(0, 1) for _ in range(n)] for n in (5, 5, 3)]
    for act in ("sigmoid", "softplus", "tanh", "silu"):
        mlp(f"{d}/{act}-{seed}.safetensors", ws, bs, act)
PY73
for m in "$D73"/*.safetensors; do
  n=$(basename "$m" .safetensors)
  for o in 3 4; do
    check "skew73 propagate --order $o: $n" + --threads 1 propagate --model "$m" --task data \
      --train-x "$D73/skew-x.npy" --train-y "$D73/skew-y.npy" --test-x "$D73/skew-x.npy" \
      --test-y "$D73/skew-y.npy" --order $o --json
    if [ "$(head -c 1 "$W/out")" = "{" ]; then
      python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
rows, f = d["layers"], d["fallbacks"]
ok = all(r["kl"] is not None or r.get("degenerate") or r.get("unresolved") for r in rows)
sys.exit(0 if ok and not any(r.get("indefinite") for r in rows) and f["projected"] <= f["classes_tried"] else 1)' "$W/out" 2>/dev/null ||
        { implausible=$((implausible + 1)); echo "skew73 propagate --order $o: $n: a null KL, an indefinite row or a miscount"; }
    fi
  done
done

# 76. Seventy-fifth session (lead): the grid key `init` (a sweep's points train from a model file,
# as `train --init`). A grid with init runs and its record has the file's widths and the file in
# `inputs`; gain, other hidden widths or activation beside it, an absent file, a FIFO, a folder, a
# truncated file, a model with a NaN weight, a wrong type are refused before any point runs naming
# the key; a model of other inputs fails its point naming the file; an edited file refuses the
# resume; a diverging fine-tune's record says `unlearned` with from_init.
D76=$W/d76
rm -rf "$D76" && mkdir -p "$D76"
check "init76 base" + --threads 1 train --task xor --hidden 5 --out "$D76/m.safetensors"
check "init76 dim 3" + --threads 1 train --task xor --dim 3 --hidden 5 --epochs 1 --out "$D76/d3.safetensors"
head -c 700 "$D76/m.safetensors" > "$D76/cut.safetensors"
mkfifo "$D76/fifo"
python3 - "$D76" <<'PY76'
import sys
from st_writer import mlp
d = sys.argv[1]
mlp(f"{d}/nan.safetensors", [[[float("nan"), 1.0], [0.5, 0.2]], [[1.0, -1.0], [0.3, 0.1]]], [[0.0, 0.0], [0.0, 0.0]], "relu")
PY76
# grid76 NAME EXPECT KEYS...: a sweep of the xor task (1 epoch) with the lines KEYS.
grid76() {
  local name=$1 expect=$2
  shift 2
  printf 'task = "xor"\nepochs = 1\n' > "$D76/g.toml"
  printf '%s\n' "$@" >> "$D76/g.toml"
  rm -rf "$D76/sw"
  check "init76 $name" "$expect" --threads 1 sweep --grid "$D76/g.toml" --out "$D76/sw"
}
grid76 "runs" + "init = \"$D76/m.safetensors\"" 'lr = [1e-3, 1e-2]'
python3 -c 'import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(rs) == 2 and all(r["widths"] == [2, 5, 2] and r["inputs"][0]["path"].endswith("m.safetensors") for r in rs) else 1)' "$D76/sw/results.jsonl" 2>/dev/null ||
  { implausible=$((implausible + 1)); echo "init76 runs: records without the file's widths or inputs"; }
check "init76 dry run" + --threads 1 sweep --grid "$D76/g.toml" --out "$D76/sw" --dry-run
cp "$D76/m.safetensors" "$D76/keep.safetensors"
check "init76 retrain" + --threads 1 train --task xor --hidden 5 --epochs 3 --out "$D76/m.safetensors"
check "init76 edited, resumed" '!m.safetensors: contents changed' --threads 1 sweep --grid "$D76/g.toml" --out "$D76/sw"
cp "$D76/keep.safetensors" "$D76/m.safetensors"
grid76 "gain" "!grid key 'gain'" "init = \"$D76/m.safetensors\"" 'gain = 2.0'
grid76 "hidden" "!grid key 'hidden'" "init = \"$D76/m.safetensors\"" 'hidden = [[5], [6]]'
grid76 "activation" "!grid key 'activation'" "init = \"$D76/m.safetensors\"" 'activation = "relu"'
grid76 "absent" "!grid key 'init'" "init = \"$D76/absent.safetensors\""
grid76 "fifo" "!grid key 'init'" "init = \"$D76/fifo\""
grid76 "folder" "!grid key 'init'" "init = \"$D76\""
grid76 "truncated" "!cut.safetensors" "init = \"$D76/cut.safetensors\""
grid76 "nan weight" "!nan.safetensors" "init = \"$D76/nan.safetensors\""
grid76 "number" "!init" 'init = 3'
grid76 "empty" "!init" 'init = ""'
grid76 "other inputs" "!d3.safetensors" "init = [\"$D76/d3.safetensors\", \"$D76/m.safetensors\"]"
grid76 "diverging" + "init = \"$D76/m.safetensors\"" 'lr = 1e6'
python3 -c 'import json, sys
r = json.loads(open(sys.argv[1]).readline()); u = r.get("unlearned")
sys.exit(0 if u and u.get("from_init") is True and "gain" not in u else 1)' "$D76/sw/results.jsonl" 2>/dev/null ||
  { implausible=$((implausible + 1)); echo "init76 diverging: no unlearned from_init in the record"; }

echo "runs $runs  panics $panics  hangs>20s $hangs  rss>4G $big  nonfinite $nonfinite  unnamed $unnamed  clobbered $clobbered  debris $debris  refused $refused  implausible $implausible  ignored $ignored"
