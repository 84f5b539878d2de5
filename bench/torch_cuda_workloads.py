#!/usr/bin/python3
"""bench/torch_cuda_workloads.py - WORKLOADS.md's W1-W5 training steps in PyTorch on a GPU,
timed eager and as one captured CUDA graph: the peer for dl_cuda.h. The models, shapes,
init (torch's defaults), losses and optimizers are those of bench/torch_workloads.py.

Usage: python3 bench/torch_cuda_workloads.py [W1 ... W5 | all] [--steps N] [--warmup N]
                                             [--device cuda|cpu]
    default: all workloads, 50 timed steps after 10 warm-up steps, on cuda
A training step is zero_grad(set_to_none=True) + forward + loss + backward (+ W4's
clip_grad_norm_ 5) + optimizer step, on an input batch and targets drawn once (seed 1, on
the CPU, then copied to the device); W5's eps is drawn inside each step.
  torch_eager_ms  median of N steps, each timed alone with time.perf_counter between
                  torch.cuda.synchronize() calls (default optimizers: SGD momentum 0.9
                  lr 0.05 for W1, Adam 1e-3 for W2-W5).
  torch_graph_ms  (cuda only) the same step captured once as a CUDA graph, the "whole
                  network capture" recipe of the torch.cuda.graphs docs (warm-up on a side
                  stream, then capture; a fresh model with Adam(capturable=True)), then
                  the median of N g.replay() calls, each synchronized. W5's eps comes from
                  torch.randn inside the graph (graph-safe Philox RNG). nan if capture
                  fails (the reason goes to stderr) and always on cpu.
  loss0           the first eager step's loss, for sanity.
fp32 throughout: TF32 is switched off for matmuls and cuDNN. One line per workload:
  W1 torch_eager_ms=1.5600 torch_graph_ms=0.1480 loss0=2.3026 device=NVIDIA H200 torch=2.x
If --device cuda finds no CUDA device it prints `# no CUDA device; skipped` and exits 0.
Runs with Debian's torch 1.13 (/usr/bin/python3) and newer torch 2.x.
"""
import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from workload_models import model_and_data  # noqa: E402


def build(w, dev, capturable):
    """model, optimizer, input batch, target (or None), all on dev; seeded, so every build
    of a workload starts from the same weights and data"""
    torch.manual_seed(1)
    adam = dict(lr=1e-3, capturable=True) if capturable else dict(lr=1e-3)
    m, x, y = model_and_data(w)
    m = m.to(dev)
    x, y = x.to(dev), (y.to(dev) if y is not None else None)
    opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9) if w == 1 \
        else torch.optim.Adam(m.parameters(), **adam)
    return m, opt, x, y


def make_step(w, m, opt, x, y):
    """the training step without zero_grad (the graph recipe zeroes outside the capture)"""
    params = list(m.parameters())

    def step():
        if w == 5:
            logits, mu, logvar = m(x)
            loss = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") \
                - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        else:
            loss = F.cross_entropy(m(x), y)
        loss.backward()
        if w == 4:
            nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        return loss
    return step


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn, n, dev):
    ms = []
    for _ in range(n):
        sync(dev)
        t0 = time.perf_counter()
        fn()
        sync(dev)
        ms.append(1e3 * (time.perf_counter() - t0))
    return statistics.median(ms)


def eager(w, dev, steps, warmup):
    m, opt, x, y = build(w, dev, False)
    step = make_step(w, m, opt, x, y)

    def full():
        opt.zero_grad(set_to_none=True)
        return step()
    loss0 = full().item()                      # the first step, untimed
    for _ in range(max(warmup - 1, 0)):
        full()
    return timed(full, steps, dev), loss0


def graph(w, dev, steps, warmup):
    m, opt, x, y = build(w, dev, True)
    step = make_step(w, m, opt, x, y)
    s = torch.cuda.Stream(dev)
    s.wait_stream(torch.cuda.current_stream(dev))
    with torch.cuda.stream(s):                 # warm-up on a side stream, as the docs do
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            step()
    torch.cuda.current_stream(dev).wait_stream(s)
    g = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(g):
        step()
    for _ in range(warmup):
        g.replay()
    return timed(g.replay, steps, dev)


def main():
    ap = argparse.ArgumentParser(description="W1-W5 training steps in PyTorch, eager and CUDA-graphed")
    ap.add_argument("workloads", nargs="*", default=["all"], metavar="W1..W5|all")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    a = ap.parse_args()
    names = ("W1", "W2", "W3", "W4", "W5")
    bad = [n for n in a.workloads if n not in names + ("all",)]
    if bad or a.steps < 1 or a.warmup < 0:
        ap.error("unknown workload %s" % bad[0] if bad else "--steps must be >= 1, --warmup >= 0")
    ws = [int(n[1]) for n in names if n in a.workloads or "all" in a.workloads]
    if a.device == "cuda" and not torch.cuda.is_available():
        print("# no CUDA device; skipped")
        return
    dev = torch.device(a.device)
    if dev.type == "cuda":
        dev = torch.device("cuda", torch.cuda.current_device())
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        name = torch.cuda.get_device_name(dev)
    else:
        name = "cpu"
    for w in ws:
        e_ms, loss0 = eager(w, dev, a.steps, a.warmup)
        g_ms = float("nan")
        if dev.type == "cuda":
            try:
                g_ms = graph(w, dev, a.steps, a.warmup)
            except Exception as ex:            # report and go on with the next workload
                print("W%d graph capture failed: %s: %s" % (w, type(ex).__name__, ex), file=sys.stderr)
                try:
                    torch.cuda.synchronize(dev)
                except Exception:
                    pass
        print("W%d torch_eager_ms=%.4f torch_graph_ms=%.4f loss0=%.4f device=%s torch=%s"
              % (w, e_ms, g_ms, loss0, name, torch.__version__), flush=True)


if __name__ == "__main__":
    main()
