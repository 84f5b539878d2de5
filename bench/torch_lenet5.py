#!/usr/bin/python3
"""bench/torch_lenet5.py - examples/04_lenet5.c's recipe in PyTorch, for a side-by-side
comparison (WORKLOADS.md's W2): LeNet-5 adapted to 28x28,
    conv5x5 6ch pad 2 -> ReLU -> maxpool2 -> conv5x5 16ch -> ReLU -> maxpool2
    -> fc120 -> ReLU -> fc84 -> ReLU -> fc10,
torch's default Conv2d/Linear init, softmax cross-entropy (mean), Adam lr 1e-3, batch 64
(the last batch of 32 kept), reshuffled every epoch, pixels scaled to [0,1] and nothing
else. The data is read from Debian's dataset-fashion-mnist .gz files with gzip + numpy
(no torchvision).

Usage: /usr/bin/python3 bench/torch_lenet5.py [epochs] [threads]
    epochs   default 10
    threads  torch.set_num_threads (default: torch's own choice)
Prints per-epoch train loss, test accuracy and seconds (training only, like the C
example), then `test accuracy XX.XX% (N epochs, X.XX s/epoch)`.

Run the peer in its best configuration (WORKLOADS.md):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive \\
        /usr/bin/python3 bench/torch_lenet5.py 10 1
(WORKLOADS.md measured passive OpenMP waiting slowing W2 a little at 2 threads: try
both ways and keep the faster.) The script prints the BLAS library it finds mapped;
say which one it was when you quote a ratio.
"""
import sys
import time

import numpy as np
import torch
from fmnist import load_idx, blas_in_use  # bench/fmnist.py

BATCH, LR, SEED = 64, 1e-3, 1


def images(name):
    """a float [N,1,28,28] tensor in [0,1]"""
    return torch.from_numpy(load_idx(name).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)


def main():
    args = sys.argv[1:]
    epochs = int(args[0]) if len(args) > 0 else 10
    if len(args) > 1:
        torch.set_num_threads(int(args[1]))
    torch.manual_seed(SEED)
    xtr = images("train-images-idx3-ubyte.gz")
    ytr = torch.from_numpy(load_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = images("t10k-images-idx3-ubyte.gz")
    yte = torch.from_numpy(load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    print("Fashion-MNIST: %d train, %d test; LeNet-5 (conv5x5 6 pad 2, pool, conv5x5 16, pool, "
          "fc 120-84-10, ReLU), Adam lr %g, batch %d; torch %s, %d threads"
          % (n, xte.shape[0], LR, BATCH, torch.__version__, torch.get_num_threads()))
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
        print("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s (eval %.2f s)"
              % (epoch, loss_sum / n, 100 * acc, t1 - t0, time.perf_counter() - t1), flush=True)
    print("test accuracy %.2f%% (%d epochs, %.2f s/epoch)" % (100 * acc, epochs, train_s / epochs))


if __name__ == "__main__":
    main()
