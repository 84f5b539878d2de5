#!/usr/bin/python3
"""bench/torch_fashion_mlp.py - examples/03_fashion_mlp.c's recipe in PyTorch, for a
side-by-side comparison: MLP 784-512-256-10 (ReLU), torch's default Linear init, softmax
cross-entropy (mean), SGD lr 0.05 momentum 0.9, batch 128 (the last batch of 96 kept),
reshuffled every epoch, pixels scaled to [0,1] and nothing else. The data is read from
Debian's dataset-fashion-mnist .gz files with gzip + numpy (no torchvision).

Usage: /usr/bin/python3 bench/torch_fashion_mlp.py [epochs] [threads] [--constant-lr]
    By default the lr follows CosineAnnealingLR(T_max=epochs, eta_min=0), stepped once
    per epoch, as examples/03_fashion_mlp.c does; --constant-lr keeps lr 0.05 (W1).
    epochs   default 10
    threads  torch.set_num_threads (default: torch's own choice)
Prints per-epoch train loss, test accuracy and seconds (training only, like the C
example), then `test accuracy XX.XX% (N epochs, X.XX s/epoch)`.

Speed depends on the BLAS that torch loads: Debian's torch calls the system libblas.so.3,
which is the slow netlib reference unless an optimized one (e.g. libopenblas0-pthread)
is installed. The script prints the BLAS library it finds mapped, so say which one it was
when you quote a ratio.
"""
import sys
import time

import numpy as np
import torch
from fmnist import load_idx, blas_in_use  # bench/fmnist.py

BATCH, LR, MOMENTUM, SEED = 128, 0.05, 0.9, 1


def main():
    cosine = "--constant-lr" not in sys.argv
    args = [a for a in sys.argv[1:] if a != "--constant-lr"]
    epochs = int(args[0]) if len(args) > 0 else 10
    if len(args) > 1:
        torch.set_num_threads(int(args[1]))
    torch.manual_seed(SEED)
    xtr = torch.from_numpy(load_idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    ytr = torch.from_numpy(load_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = torch.from_numpy(load_idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    yte = torch.from_numpy(load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10))
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if cosine else None
    lossf = torch.nn.CrossEntropyLoss()
    n = xtr.shape[0]
    print("Fashion-MNIST: %d train, %d test; MLP 784-512-256-10, SGD lr %g momentum %g, "
          "batch %d%s; torch %s, %d threads" % (n, xte.shape[0], LR, MOMENTUM, BATCH,
                                              ", cosine schedule" if cosine else "",
                                              torch.__version__, torch.get_num_threads()))
    print("BLAS: %s" % blas_in_use())
    train_s, acc = 0.0, 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        loss_sum = 0.0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            loss = lossf(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * idx.shape[0]
        t1 = time.perf_counter()
        train_s += t1 - t0
        model.eval()
        with torch.no_grad():
            right = sum(int((model(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum())
                        for i in range(0, xte.shape[0], 1000))
        acc = right / xte.shape[0]
        if sched is not None:
            sched.step()
        print("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s (eval %.2f s)"
              % (epoch, loss_sum / n, 100 * acc, t1 - t0, time.perf_counter() - t1), flush=True)
    print("test accuracy %.2f%% (%d epochs, %.2f s/epoch)" % (100 * acc, epochs, train_s / epochs))


if __name__ == "__main__":
    main()
