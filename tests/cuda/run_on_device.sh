#!/usr/bin/env bash
# tests/cuda/run_on_device.sh - everything that needs a GPU, in one run (under 8 minutes on
# an H100/H200): the CUDA suite, the CUDA example (examples/14_cuda_mlp.cu, Fashion-MNIST),
# and the CUDA workload benchmark against PyTorch on the same GPU. Logs go to $OUT (default
# build/device). Binaries already in build/cuda/ (built by `make cuda`) are used as they are;
# missing ones are built with nvcc.
#   OUT=/tmp/out bash tests/cuda/run_on_device.sh [FMNIST_DIR] [BENCH_STEPS]
set -u
cd "$(dirname "$0")/../.." || exit 2
OUT=${OUT:-build/device}
DATA=${1:-/usr/share/datasets/fashion-mnist}
STEPS=${2:-50}
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
mkdir -p "$OUT" build/cuda
ARCH="-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90"
build() {   # build NAME SOURCE [extra flags]
    [ -x "build/cuda/$1" ] && return 0
    "$NVCC" -O2 -std=c++14 $ARCH -I. -Ibench "$2" -o "build/cuda/$1" -lcublas > "$OUT/build_$1.log" 2>&1 \
        || { echo "BUILD FAILED: $1 (see build_$1.log)"; return 1; }
}
{ nvidia-smi; nvcc --version; python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)'; } > "$OUT/machine.txt" 2>&1
t0=$(date +%s)
build test_cuda tests/cuda/test_cuda.cu && timeout 180 ./build/cuda/test_cuda > "$OUT/test_cuda.log" 2>&1
echo "test_cuda rc=$? ($(( $(date +%s) - t0 )) s): $(tail -1 "$OUT/test_cuda.log")"
grep '^FAIL' "$OUT/test_cuda.log" | head -40
t0=$(date +%s)
build 14_cuda_mlp examples/14_cuda_mlp.cu && timeout 100 ./build/cuda/14_cuda_mlp 2 "$DATA" > "$OUT/14_cuda_mlp.log" 2>&1
echo "14_cuda_mlp rc=$? ($(( $(date +%s) - t0 )) s): $(tail -1 "$OUT/14_cuda_mlp.log")"
t0=$(date +%s)
build cuda_workloads bench/cuda_workloads.cu && bash bench/run_cuda_workloads.sh "$STEPS" "$OUT/bench" > "$OUT/bench.txt" 2>&1
echo "bench ($(( $(date +%s) - t0 )) s):"; cat "$OUT/bench.txt"
