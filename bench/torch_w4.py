#!/usr/bin/python3
"""bench/torch_w4.py - WORKLOADS.md's W4 in PyTorch, the peer of bench/w4_lstm.c: a char
LSTM, vocab 65, nn.Embedding(65, 64) -> nn.LSTM(64, 256) (1 layer, time-major) ->
nn.Linear(256, 65) at every step, batch 32, seq len 64, cross-entropy (mean) over all
steps, Adam 1e-3, clip_grad_norm_ 5. Random tokens fixed for the run, zero initial state.
A training step is zero_grad + forward + loss + backward + clip + Adam step; `infer` is the
forward pass under torch.no_grad() in eval mode.

Usage: python bench/torch_w4.py [steps] [warmup] [threads] [train|infer]   (30 5 1 train)
Prints
    W4 torch mode=train step_ms t1 t2 ...
    W4 torch mode=train median_ms M peak_rss_mib R version V
Run it in the peer's best configuration (WORKLOADS.md), as bench/w4.sh does:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive \\
        /usr/bin/python3 bench/torch_w4.py 30 5 1 train
"""
import os
import resource
import statistics
import sys
import time

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 30
warmup = int(sys.argv[2]) if len(sys.argv) > 2 else 5
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 1
mode = sys.argv[4] if len(sys.argv) > 4 else "train"
assert mode in ("train", "infer"), "mode: train or infer"
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(threads))

import torch  # noqa: E402  (after the thread variables)

torch.set_num_threads(threads)
VOCAB, EMB, HIDDEN, SEQ, BATCH = 65, 64, 256, 64, 32

torch.manual_seed(1)
emb = torch.nn.Embedding(VOCAB, EMB)
lstm = torch.nn.LSTM(EMB, HIDDEN)
fc = torch.nn.Linear(HIDDEN, VOCAB)
params = list(emb.parameters()) + list(lstm.parameters()) + list(fc.parameters())
opt = torch.optim.Adam(params, lr=1e-3)
x = torch.randint(0, VOCAB, (SEQ, BATCH))
y = torch.randint(0, VOCAB, (SEQ * BATCH,))


def train_step():
    opt.zero_grad()
    out, _ = lstm(emb(x))                                  # [SEQ, B, HIDDEN]
    loss = torch.nn.functional.cross_entropy(fc(out).reshape(SEQ * BATCH, VOCAB), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    opt.step()


def infer_step():
    with torch.no_grad():
        out, _ = lstm(emb(x))
        fc(out)


if mode == "infer":
    for m in (emb, lstm, fc):
        m.eval()
step = train_step if mode == "train" else infer_step
times = []
for i in range(warmup + steps):
    t0 = time.perf_counter()
    step()
    if i >= warmup:
        times.append(1e3 * (time.perf_counter() - t0))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print("W4 torch mode=%s step_ms %s" % (mode, " ".join("%.3f" % t for t in times)))
print("W4 torch mode=%s median_ms %.3f peak_rss_mib %.1f version %s" %
      (mode, statistics.median(times), rss, torch.__version__))
