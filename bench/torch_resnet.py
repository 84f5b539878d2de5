#!/usr/bin/python3
"""bench/torch_resnet.py - examples/05_resnet.c's recipe in PyTorch, for a side-by-side
comparison: a small ResNet with batch norm on Fashion-MNIST,
    stem     conv3x3 1->16 -> BN -> ReLU                                      16@28x28
    block 1  basic block 16->32, stride 2, 1x1 conv + BN projection shortcut  32@14x14
    block 2  basic block 32->64, stride 2, 1x1 conv + BN projection shortcut  64@7x7
    block 3  basic block 64->64, identity shortcut                            64@7x7
    head     global average pool -> fc 64->10
(a basic block is relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)); convolutions
before BN have no bias; torch's default init everywhere), softmax cross-entropy (mean),
SGD lr 0.1 momentum 0.9 weight decay 5e-4 on every parameter, batch 128 (the last batch
of 96 kept), reshuffled every epoch, CosineAnnealingLR(T_max = all steps) stepped once
per batch, 5 epochs. Pixels scaled to [0,1], then (x - 0.2860) / 0.3530. --augment adds,
as the C example does it and with torch ops on the whole batch: zero-pad by 2 and crop
28x28 at a random offset per image, then flip each image left-right with probability
0.5, before normalizing. BN in train mode while training, eval mode for testing. The data
is read from Debian's dataset-fashion-mnist .gz files with gzip + numpy (no torchvision).

Usage: /usr/bin/python3 bench/torch_resnet.py [epochs] [threads] [--augment]
    epochs   default 5
    threads  torch.set_num_threads (default: torch's own choice)
Prints per-epoch lr, train loss, test accuracy and seconds (training only, like the C
example), then `test accuracy XX.XX% (N epochs, X.XX s/epoch)`.

Run the peer in its best configuration (WORKLOADS.md):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive \\
        /usr/bin/python3 bench/torch_resnet.py 5 1
(WORKLOADS.md measured passive OpenMP waiting slowing the conv workloads a little at 2
threads: try both ways and keep the faster.) The script prints the BLAS library it
finds mapped; say which one it was when you quote a ratio.
"""
import sys
import time

import numpy as np
import torch
from fmnist import load_idx, blas_in_use  # bench/fmnist.py

BATCH, LR, MOMENTUM, WEIGHT_DECAY, SEED = 128, 0.1, 0.9, 5e-4, 1
MEAN, STD, PAD = 0.2860, 0.3530, 2
STEM_WIDTH, ARCH = 16, [(32, 2), (64, 2), (64, 1)]   # the stem's width; one basic block per (width, stride)
EPOCHS = 5
nn = torch.nn


def images(name):
    """a float [N,1,28,28] tensor in [0,1]"""
    return torch.from_numpy(load_idx(name).reshape(-1, 1, 28, 28).astype(np.float32) / 255.0)


def conv_bn(cin, cout, k, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
                         nn.BatchNorm2d(cout))


class Block(nn.Module):
    """relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x))"""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = conv_bn(cin, cout, 3, stride)
        self.c2 = conv_bn(cout, cout, 3, 1)
        self.proj = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        h = torch.relu(self.c1(x))
        return torch.relu(self.c2(h) + (self.proj(x) if self.proj is not None else x))


class ResNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = conv_bn(1, STEM_WIDTH, 3, 1)
        blocks, cin = [], STEM_WIDTH
        for width, stride in ARCH:
            blocks.append(Block(cin, width, stride))
            cin = width
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, 10)

    def forward(self, x):
        x = self.blocks(torch.relu(self.stem(x)))
        return self.fc(x.mean(dim=(2, 3)))


def augment(x, on):
    """if on: random crop (zero pad PAD, a random offset per image), random hflip
    (p 0.5); then normalize; x [N,1,28,28] in [0,1]"""
    if not on:
        return (x - MEAN) / STD
    n, _, h, w = x.shape
    xp = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD))
    oy = torch.randint(0, 2 * PAD + 1, (n,))
    ox = torch.randint(0, 2 * PAD + 1, (n,))
    rows = (oy[:, None] + torch.arange(h))[:, :, None]          # [n,h,1]
    cols = (ox[:, None] + torch.arange(w))[:, None, :]          # [n,1,w]
    x = xp[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
    flip = torch.rand(n) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return (x - MEAN) / STD


def main():
    aug = "--augment" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--augment"]
    epochs = int(args[0]) if len(args) > 0 else EPOCHS
    if len(args) > 1:
        torch.set_num_threads(int(args[1]))
    torch.manual_seed(SEED)
    xtr = images("train-images-idx3-ubyte.gz")
    ytr = torch.from_numpy(load_idx("train-labels-idx1-ubyte.gz").astype(np.int64))
    xte = (images("t10k-images-idx3-ubyte.gz") - MEAN) / STD
    yte = torch.from_numpy(load_idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))
    model = ResNet()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = (xtr.shape[0] + BATCH - 1) // BATCH
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * steps_per_epoch)
    lossf = nn.CrossEntropyLoss()
    n = xtr.shape[0]
    nparams = sum(p.numel() for p in model.parameters())
    print("Fashion-MNIST: %d train, %d test; ResNet (stem %d, blocks %s, batch norm, %d parameters), "
          "SGD lr %g momentum %g weight decay %g, cosine schedule per step, batch %d, %s; torch %s, %d threads"
          % (n, xte.shape[0], STEM_WIDTH, " ".join("%d/s%d" % a for a in ARCH), nparams, LR, MOMENTUM,
             WEIGHT_DECAY, BATCH, "random crop pad %d + hflip" % PAD if aug else "no augmentation",
             torch.__version__, torch.get_num_threads()))
    print("BLAS: %s" % blas_in_use())
    train_s, acc = 0.0, 0.0
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        model.train()
        perm = torch.randperm(n)
        loss_sum = 0.0
        lr = opt.param_groups[0]["lr"]
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            loss = lossf(model(augment(xtr[idx], aug)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * idx.shape[0]
            sched.step()
        t1 = time.perf_counter()
        train_s += t1 - t0
        model.eval()
        with torch.no_grad():
            right = sum(int((model(xte[i:i + 250]).argmax(1) == yte[i:i + 250]).sum())
                        for i in range(0, xte.shape[0], 250))
        acc = right / xte.shape[0]
        print("epoch %2d  lr %.4f  train loss %.4f  test accuracy %.2f%%  %.2f s (eval %.2f s)"
              % (epoch, lr, loss_sum / n, 100 * acc, t1 - t0, time.perf_counter() - t1), flush=True)
    print("test accuracy %.2f%% (%d epochs, %.2f s/epoch)" % (100 * acc, epochs, train_s / epochs))


if __name__ == "__main__":
    main()
