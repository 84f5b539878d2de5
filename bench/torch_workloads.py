#!/usr/bin/python3
"""bench/torch_workloads.py - WORKLOADS.md's W1-W5 in PyTorch: the same models, shapes, init
(torch's defaults), losses and optimizers as bench/workloads.c, the same command line and
the same output, for bench/run_workloads.sh to compare side by side.

Usage: python3 bench/torch_workloads.py W1|W2|W3|W4|W5 train|infer threads steps [warmup]
    threads  OMP_NUM_THREADS / OPENBLAS_NUM_THREADS (set here unless already in the
             environment) and torch.set_num_threads, before the first op
    warmup   untimed steps first (default 5)
A training step is zero_grad(set_to_none=True) + forward + loss + backward (+ W4's
clip_grad_norm_ 5) + optimizer step. Inference is the forward pass to the logits (W5:
encode, sample z, decode) under torch.inference_mode() with the model in eval().
The input batch is drawn once before timing; W5's eps is drawn inside each step.
Output keys (as workloads.c): params, flop_per_step, loss0, step_ms (one per timed step),
median_ms, peak_rss_kib (resource.getrusage ru_maxrss), after a `# torch ...` line.
Runs with Debian's torch 1.13 (/usr/bin/python3) and newer torch 2.x.

The peer's best configuration (WORKLOADS.md), set by run_workloads.sh:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 OMP_WAIT_POLICY=passive|active \\
        /usr/bin/python3 bench/torch_workloads.py W1 train 1 30
"""
import os
import re
import resource
import sys
import time

USAGE = "usage: torch_workloads.py W1|W2|W3|W4|W5 train|infer threads steps [warmup]"
if len(sys.argv) not in (5, 6) or sys.argv[1] not in ("W1", "W2", "W3", "W4", "W5") \
        or sys.argv[2] not in ("train", "infer"):
    sys.exit(USAGE)
W, MODE = int(sys.argv[1][1]), sys.argv[2]
THREADS, STEPS = int(sys.argv[3]), int(sys.argv[4])
WARMUP = int(sys.argv[5]) if len(sys.argv) > 5 else 5
if THREADS < 1 or STEPS < 1 or WARMUP < 0:
    sys.exit(USAGE)
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(THREADS))

import torch  # noqa: E402  (after the thread variables)
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(THREADS)
torch.manual_seed(1)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workload_models import model_and_data  # noqa: E402

FLOP = {1: 2.0 * 128 * (784 * 512 + 512 * 256 + 256 * 10),
        2: 2.0 * 64 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10),
        3: 2.0 * 64 * (28 * 28 * 32 * 9 + 28 * 28 * 64 * 288 + 12544 * 128 + 128 * 10),
        4: 2.0 * 64 * 32 * (4 * 256 * (64 + 256) + 256 * 65),
        5: 2.0 * 128 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784)}


def build(w):
    """model, optimizer, input batch, target (or None), nominal forward flop"""
    m, x, y = model_and_data(w)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) if w == 1 else torch.optim.Adam(m.parameters(), lr=1e-3)
    return m, opt, x, y, FLOP[w]


model, opt, x, y, flop = build(W)
params = list(model.parameters())


def train_step():
    opt.zero_grad(set_to_none=True)
    if W == 5:
        logits, mu, logvar = model(x)
        loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") \
            - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    else:
        loss = F.cross_entropy(model(x), y)
    loss.backward()
    if W == 4:
        nn.utils.clip_grad_norm_(params, 5.0)
    opt.step()
    return loss


def infer_step():
    with torch.inference_mode():
        return model(x)


if MODE == "infer":
    model.eval()
def blas_in_use():
    """BLAS_INFO from the build settings and the BLAS libraries mapped into this process"""
    m = re.search(r"BLAS_INFO=([^,\s]+)", torch.__config__.show())
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({os.path.basename(os.path.realpath(ln.split()[-1])) for ln in f
                           if "blas" in ln.lower() and "cublas" not in ln.lower()})
    except OSError:
        libs = []
    return "%s(%s)" % (m.group(1) if m else "?", ",".join(libs) or "none-mapped")


print("# torch %s W%d %s threads=%d blas=%s" % (torch.__version__, W, MODE, torch.get_num_threads(), blas_in_use()))
print("params %d" % sum(p.numel() for p in params))
print("flop_per_step %.0f" % (flop * (3 if MODE == "train" else 1)))
ms, loss0 = [], 0.0
step = train_step if MODE == "train" else infer_step
for i in range(WARMUP + STEPS):
    t0 = time.perf_counter()
    out = step()
    t1 = time.perf_counter()
    if i == 0 and MODE == "train":
        loss0 = out.item()
    if i >= WARMUP:
        ms.append(1e3 * (t1 - t0))
print("loss0 %.6g" % loss0)
for t in ms:
    print("step_ms %.4f" % t)
s = sorted(ms)
n = len(s)
print("median_ms %.4f" % (s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])))
print("peak_rss_kib %d" % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
