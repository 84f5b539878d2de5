#!/usr/bin/python3
"""bench/torch_adding.py - examples/07_adding.c's recipe in PyTorch, for comparison: the
adding problem (T = 100 steps of (U(0,1) number, marker), one marker in each half, target
the sum of the two marked numbers), nn.LSTM / nn.GRU (1 layer, hidden 128) -> final hidden
state -> nn.Linear(128, 1), MSE, Adam lr 2e-3, batch 50, clip_grad_norm_ 1, the LSTM's
forget-gate bias (b_ih) set to 1, 1000 test sequences. The random draws are numpy's, not
dl.h's: same distribution, different numbers.

Usage: python bench/torch_adding.py [steps] [T] [lstm|gru|both] [threads]   (3000 100 both 1)
"""
import os
import sys
import time

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
T = int(sys.argv[2]) if len(sys.argv) > 2 else 100
which = sys.argv[3] if len(sys.argv) > 3 else "both"
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(threads))
import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(threads)
HIDDEN, BATCH, LR, CLIP, N_TEST, FORGET_BIAS = 128, 50, 2e-3, 1.0, 1000, 1.0


def batch(g, n):
    x = np.zeros((T, n, 2), np.float32)
    x[:, :, 0] = g.random((T, n))
    a = g.integers(0, T // 2, n)
    b = g.integers(T // 2, T, n)
    x[a, np.arange(n), 1] = 1
    x[b, np.arange(n), 1] = 1
    return torch.from_numpy(x), torch.from_numpy(x[a, np.arange(n), 0] + x[b, np.arange(n), 0])


xt, yt = batch(np.random.default_rng(1), N_TEST)
base = ((yt - 1) ** 2).mean().item()
print("adding problem: T = %d, %d test sequences; always answering 1: test MSE %.4f; torch %s"
      % (T, N_TEST, base, torch.__version__))
results = []
for name in (["lstm", "gru"] if which == "both" else [which]):
    torch.manual_seed(2)
    g = np.random.default_rng(2)
    rnn = (torch.nn.LSTM if name == "lstm" else torch.nn.GRU)(2, HIDDEN)
    if name == "lstm":
        with torch.no_grad():
            rnn.bias_ih_l0[HIDDEN:2 * HIDDEN] = FORGET_BIAS
    fc = torch.nn.Linear(HIDDEN, 1)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    t0 = t_log = time.perf_counter()
    s = 0.0
    for step in range(1, steps + 1):
        x, y = batch(g, BATCH)
        _, h = rnn(x)
        h = h[0] if name == "lstm" else h
        loss = ((fc(h[-1]).squeeze(1) - y) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CLIP)
        opt.step()
        s += loss.item()
        if step % 250 == 0 or step == steps:
            n = step % 250 or 250
            t = time.perf_counter()
            with torch.no_grad():
                _, h = rnn(xt)
                h = h[0] if name == "lstm" else h
                mse = ((fc(h[-1]).squeeze(1) - yt) ** 2).mean().item()
            print("%-4s step %5d  train MSE %.5f  test MSE %.5f  %.1f ms/step  %.0f s"
                  % (name.upper(), step, s / n, mse, 1e3 * (t - t_log) / n, t - t0))
            sys.stdout.flush()
            s, t_log = 0.0, time.perf_counter()
    results.append("%s test MSE %.5f (%.0f s)" % (name.upper(), mse, time.perf_counter() - t0))
print("adding T=%d: %s; always answering 1: %.4f" % (T, ", ".join(results), base))
