# corrflow recipes. MNIST recipes read the IDX files from MNIST_DIR (default ../shared/mnist).

mnist_dir := env_var_or_default("MNIST_DIR", "../shared/mnist")

# List the recipes.
default:
    @just --list

# The main job on the embedded XOR default: train the default network, then decompose it.
run *ARGS:
    cargo run --release -- analyze --task xor {{ARGS}}

# All tests, in release (numeric tests are slow in debug), with the real MNIST data.
test:
    MNIST_DIR={{mnist_dir}} cargo test --release

# Edit-test loop: the `fast` profile (release code, incremental), no examples; e.g.
# `just test-fast closures_exact::`.
test-fast *FILTER:
    MNIST_DIR={{mnist_dir}} cargo test --profile fast --tests -- {{FILTER}}

# What CI runs: fmt, clippy and rustdoc gates, then the tests.
ci:
    bash .ci/run

# Train the 784-100-100-10 reference network on train5k, test on all of t10k.
mnist *ARGS:
    cargo run --release -- train --task mnist --mnist-dir {{mnist_dir}} --hidden 100,100 --out mnist-100-100.safetensors {{ARGS}}

target_dir := env_var_or_default("CARGO_TARGET_DIR", "target")

# Filter with a regex, e.g. `just bench '^closure_relu/'`.
# Criterion benchmarks (~10 min on 2 cores): affine, faer GEMM, closures per N, forward, moments.
bench *ARGS:
    cargo bench --bench propagation -- {{ARGS}}

# Table of the last `just bench` (cost vs N, GFLOP/s, fitted slopes) and a log-log SVG plot.
bench-summary *ARGS:
    cargo run --release --bin bench_summary -- {{ARGS}}

# OpenBLAS runs with its own kernel choice (OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset for
# that command only); also Monte Carlo vs analytic at N = 512. PyTorch is installed if it can be
# (the CPU wheel, else PyPI's); without it the torch peer is skipped with a message.
# NumPy/SciPy and PyTorch peers of one layer (affine + relu, N = 1024, 10 classes): checked, timed, ratios.
bench-peers:
    test -x .venv/bin/python || python3 -m venv .venv
    .venv/bin/pip install -q numpy scipy threadpoolctl
    .venv/bin/python -c 'import torch' 2>/dev/null || .venv/bin/pip install -q torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null || .venv/bin/pip install -q torch || echo "PyTorch did not install: its peer is skipped"
    cargo build --release --example peer_layer
    {{target_dir}}/release/examples/peer_layer 1024 10 {{target_dir}}/peers/n1024
    {{target_dir}}/release/examples/peer_layer 512 1 {{target_dir}}/peers/n512
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benches/peers/layer.py {{target_dir}}/peers/n1024 {{target_dir}}/peers/n512

# One layer (affine + relu, N = 1024, 1 class, 20 repeats) under `perf record` (cpu-clock,
# DWARF call graphs), or valgrind's callgrind where perf cannot sample; output in <target>/profile.
# Profile a propagation run (perf record, else callgrind).
profile:
    cargo build --profile profiling --example peer_layer
    mkdir -p {{target_dir}}/profile
    if perf record -e cpu-clock -o /dev/null true 2>/dev/null; then \
        perf record -e cpu-clock --call-graph dwarf -o {{target_dir}}/profile/perf.data \
            {{target_dir}}/profiling/examples/peer_layer 1024 1 {{target_dir}}/profile/run 20 && \
        perf report -i {{target_dir}}/profile/perf.data --no-children --sort symbol --stdio -g none 2>/dev/null | grep -v "^#" | head -25; \
    else \
        valgrind --tool=callgrind --callgrind-out-file={{target_dir}}/profile/callgrind.out \
            {{target_dir}}/profiling/examples/peer_layer 256 1 {{target_dir}}/profile/run 1 && \
        callgrind_annotate {{target_dir}}/profile/callgrind.out | head -40; \
    fi

# Release build with debug symbols, for perf and callgrind.
build-profiling:
    cargo build --profile profiling

# Python for the PyTorch training peer (needs numpy; torch optional: skipped with a message).
python := env_var_or_default("CORRFLOW_PYTHON", ".venv/bin/python")

# E.g. `just bench-train-peers 20 3` (epochs per run, repetitions): T = 1, 2 threads, f64 and
# f32, corrflow and PyTorch runs alternating; figures and commands in BENCHMARKS.md.
# MNIST training epoch (784-100-100-10 relu, batch 128): corrflow vs PyTorch CPU, with ratios.
bench-train-peers EPOCHS="20" REPS="3":
    cargo build --release --bin corrflow
    {{python}} benches/peers/train_compare.py {{target_dir}}/release/corrflow {{mnist_dir}} --epochs {{EPOCHS}} --reps {{REPS}}

# Python with torch, numpy, safetensors, einops, jaxtyping, opt_einsum, tqdm, joblib, scipy
# (ARC's kprop), and ARC's mlp_cumulant_propagation checkout (holding src/mlp_kprop), for
# `just arc-compare`; `just arc-setup` makes both.
arc_python := env_var_or_default("ARC_PYTHON", "../arc-venv/bin/python")
arc_peer := env_var_or_default("ARC_PEER", "../arc-peer")
arc_commit := "93d091a"

# The peer's environment: ARC's checkout at the commit every comparison in EXPERIMENTS.md used
# (in ARC_PEER) and a virtual environment with its imports (torch from PyPI, ~4.5 GB with its
# CUDA wheels; the CPU index where it is reachable). Skips what exists.
arc-setup:
    test -d {{arc_peer}}/src/mlp_kprop || (rm -rf {{arc_peer}}.clone && git clone -q https://github.com/alignment-research-center/mlp_cumulant_propagation {{arc_peer}}.clone && mkdir -p {{arc_peer}} && git -C {{arc_peer}}.clone archive {{arc_commit}} | tar -x -C {{arc_peer}} && rm -rf {{arc_peer}}.clone)
    test -x {{arc_python}} || python3 -m venv $(dirname $(dirname {{arc_python}}))
    {{arc_python}} -m pip install -q numpy safetensors einops jaxtyping opt_einsum tqdm joblib scipy
    {{arc_python}} -c 'import torch' 2>/dev/null || {{arc_python}} -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu 2>/dev/null || {{arc_python}} -m pip install -q torch

# corrflow vs ARC's cumulant propagation on its random bias-free MLPs (relu/gelu/tanh, n = 64,
# 128, 256, depth 1-32, N(0, I) input, 1 thread): weights, Monte Carlo truth, the peer at
# k_max = 2, 3, 4, corrflow at ORDER; tables in <target>/arc/tables.md (EXPERIMENTS.md).
arc-compare ORDER="2":
    cargo build --release --example arc_compare
    {{arc_python}} benches/peers/arc/driver.py prepare --out {{target_dir}}/arc --peer {{arc_peer}}
    {{arc_python}} benches/peers/arc/driver.py peers --out {{target_dir}}/arc --peer {{arc_peer}}
    RAYON_NUM_THREADS=1 {{target_dir}}/release/examples/arc_compare --order {{ORDER}} {{target_dir}}/arc/*/n*/d*/model.safetensors
    {{arc_python}} benches/peers/arc/table.py {{target_dir}}/arc > {{target_dir}}/arc/tables.md
    cat {{target_dir}}/arc/tables.md
