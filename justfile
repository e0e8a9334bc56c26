# corrflow recipes. MNIST recipes read the IDX files from MNIST_DIR (default ../shared/mnist).

mnist_dir := env_var_or_default("MNIST_DIR", "../shared/mnist")

# List the recipes.
default:
    @just --list

# The main job on the embedded XOR default: train, then report.
run *ARGS:
    cargo run --release -- train --task xor {{ARGS}}

# All tests, in release (numeric tests are slow in debug), with the real MNIST data.
test:
    MNIST_DIR={{mnist_dir}} cargo test --release

# Train the 784-100-100-10 reference network on train5k, test on all of t10k.
mnist *ARGS:
    cargo run --release -- train --task mnist --mnist-dir {{mnist_dir}} --hidden 100,100 --out mnist-100-100.safetensors {{ARGS}}

# Criterion benchmarks.
bench *ARGS:
    cargo bench {{ARGS}}

# Release build with debug symbols, for perf and callgrind.
build-profiling:
    cargo build --profile profiling
