#!/usr/bin/env bash
# bench/run_cuda_workloads.sh - W1-W5 training steps on one GPU: dl.h's CUDA backend
# (bench/cuda_workloads.cu: the step replayed as a CUDA graph, eager, deterministic eager)
# side by side with PyTorch on the same GPU (bench/torch_cuda_workloads.py: eager and
# torch.cuda.graphs), workload by workload (dl.h, then PyTorch), then the ratios.
#   bash bench/run_cuda_workloads.sh [STEPS] [LOGDIR]      (default 50, build/bench_cuda)
# Prints per workload:
#   W1 device=cuda mode=train dl_ms=.. torch_eager_ms=.. torch_graph_ms=.. ratio_graph=.. ratio_eager=..
# dl_ms: dl.h's graph-replayed step; ratio_graph = dl_ms / torch_graph_ms, ratio_eager =
# dl_ms / torch_eager_ms (the targets: <= 0.7 and <= 0.1). PYTHON picks the interpreter
# (default python3; it needs torch with CUDA). build/cuda/cuda_workloads is used if there.
set -u
cd "$(dirname "$0")/.." || exit 2
STEPS=${1:-50}
LOG=${2:-build/bench_cuda}
PY=${PYTHON:-python3}
NVCC=${NVCC:-nvcc}
command -v "$NVCC" >/dev/null 2>&1 || NVCC=/usr/local/cuda/bin/nvcc
mkdir -p "$LOG" build/cuda
if [ ! -x build/cuda/cuda_workloads ]; then
    "$NVCC" -O2 -std=c++14 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
        -I. -Ibench bench/cuda_workloads.cu -o build/cuda/cuda_workloads -lcublas || exit 1
fi
: > "$LOG/dl.log"; : > "$LOG/torch.log"
for w in W1 W2 W3 W4 W5; do
    timeout 45 ./build/cuda/cuda_workloads "$w" --steps "$STEPS" >> "$LOG/dl.log" 2>&1
    timeout 60 "$PY" bench/torch_cuda_workloads.py "$w" --steps "$STEPS" >> "$LOG/torch.log" 2>&1
done
"$PY" - "$LOG/dl.log" "$LOG/torch.log" <<'PY'
import re, sys
def kv(path):
    d = {}
    for line in open(path, errors="replace"):
        m = re.match(r"(W\d) (.*)", line)
        if m:
            d[m.group(1)] = dict(re.findall(r"(\w+)=([^ ]+)", m.group(2)))
    return d
dl, th = kv(sys.argv[1]), kv(sys.argv[2])
f = lambda x: float(x) if x not in (None, "", "nan") else float("nan")
r = lambda x, y: x / y if x == x and y == y and x > 0 and y > 0 else float("nan")
for w in ["W1", "W2", "W3", "W4", "W5"]:
    a, b = dl.get(w, {}), th.get(w, {})
    g, te, tg = f(a.get("dl_graph_ms")), f(b.get("torch_eager_ms")), f(b.get("torch_graph_ms"))
    print("%s device=cuda mode=train dl_ms=%.4f torch_eager_ms=%.4f torch_graph_ms=%.4f ratio_graph=%.3f ratio_eager=%.3f"
          " dl_eager_ms=%s dl_det_ms=%s" % (w, g, te, tg, r(g, tg), r(g, te), a.get("dl_eager_ms"), a.get("dl_det_ms")))
PY
