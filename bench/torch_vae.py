#!/usr/bin/python3
"""bench/torch_vae.py - examples/11_vae.c's recipe in PyTorch, for a side-by-side comparison of
the test ELBO: the W5 VAE 784-400 (ReLU) -> (20 mu, 20 logvar), z = mu + exp(logvar/2) eps,
20-400 (ReLU) -784 logits; loss = BCE-with-logits summed over pixels + KL(q || N(0,I)),
averaged over the batch of 128 (the last batch of 96 kept); Adam lr 1e-3; torch's default
Linear init; the training set reshuffled every epoch; pixels scaled to [0,1] (the Bernoulli
targets). Data from Debian's dataset-fashion-mnist .gz files with gzip + numpy.

Usage: /usr/bin/python3 bench/torch_vae.py [epochs (5)] [threads (1)] [--iw-n N (1000)] [--seed S (1)] [--latent2]
Prints per epoch the train loss and the test ELBO per example (one z per test image, nats),
then the k=100 importance-weighted log p(x) estimate on the first N test images, and
`test ELBO X nats per example (N epochs, X s/epoch)`, as the C example does. The two use
different random streams (init, order, noise), so compare the ELBOs, not bits.
"""
import math
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from fmnist import load_idx  # bench/fmnist.py

BATCH, LR, HIDDEN, SEED, IW_K, IW_CHUNK, EVAL_BATCH = 128, 1e-3, 400, 1, 100, 10, 1000


class VAE(torch.nn.Module):
    def __init__(self, zdim):
        super().__init__()
        self.fc1 = torch.nn.Linear(784, HIDDEN)
        self.fc21 = torch.nn.Linear(HIDDEN, zdim)
        self.fc22 = torch.nn.Linear(HIDDEN, zdim)
        self.fc3 = torch.nn.Linear(zdim, HIDDEN)
        self.fc4 = torch.nn.Linear(HIDDEN, 784)

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def terms(self, x):
        """per-example reconstruction (BCE summed over pixels) and KL"""
        mu, lv = self.encode(x)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        rec = F.binary_cross_entropy_with_logits(self.decode(z), x, reduction="none").sum(1)
        kl = -0.5 * (1 + lv - mu.pow(2) - lv.exp()).sum(1)
        return rec, kl


def main():
    args, iw_n, latent2, seed = [], 1000, False, SEED
    a = sys.argv[1:]
    i = 0
    while i < len(a):
        if a[i] == "--iw-n":
            iw_n = int(a[i + 1])
            i += 1
        elif a[i] == "--seed":
            seed = int(a[i + 1])
            i += 1
        elif a[i] == "--latent2":
            latent2 = True
        else:
            args.append(a[i])
        i += 1
    epochs = int(args[0]) if len(args) > 0 else 5
    threads = int(args[1]) if len(args) > 1 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tr = torch.from_numpy(load_idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    te = torch.from_numpy(load_idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255.0)
    zdim = 2 if latent2 else 20
    model = VAE(zdim)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    print("PyTorch %s, %d thread(s); Fashion-MNIST %d train, %d test; VAE 784-%d-(%d, %d), %d-%d-784, Adam lr 1e-3, "
          "batch %d, %d epochs" % (torch.__version__, threads, len(tr), len(te), HIDDEN, zdim, zdim, zdim, HIDDEN, BATCH, epochs))
    train_s, elbo, t_start = 0.0, 0.0, time.time()
    for epoch in range(1, epochs + 1):
        t0 = time.time()
        perm = torch.randperm(len(tr))
        loss_sum = 0.0
        model.train()
        for s in range(0, len(tr), BATCH):
            x = tr[perm[s:s + BATCH]]
            rec, kl = model.terms(x)
            loss = (rec + kl).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(x)
        t1 = time.time()
        train_s += t1 - t0
        rec_sum = kl_sum = 0.0
        with torch.no_grad():
            for s in range(0, len(te), EVAL_BATCH):
                rec, kl = model.terms(te[s:s + EVAL_BATCH])
                rec_sum += rec.sum().item()
                kl_sum += kl.sum().item()
        elbo = -(rec_sum + kl_sum) / len(te)
        print("epoch %2d  train loss %.3f  test ELBO %.3f nats (rec %.3f, KL %.3f)  %.2f s (eval %.2f s)" % (
            epoch, loss_sum / len(tr), elbo, rec_sum / len(te), kl_sum / len(te), t1 - t0, time.time() - t1), flush=True)
    iw_n = max(0, min(iw_n, len(te)))
    if iw_n:
        t0 = time.time()
        iw_sum = el_sum = 0.0
        log2pi = math.log(2 * math.pi)
        with torch.no_grad():
            for s in range(0, iw_n, IW_CHUNK):
                x = te[s:min(s + IW_CHUNK, iw_n)]
                c = len(x)
                mu, lv = model.encode(x)
                eps = torch.randn(IW_K, c, zdim)
                z = mu + torch.exp(0.5 * lv) * eps
                lpx = -F.binary_cross_entropy_with_logits(model.decode(z.reshape(-1, zdim)), x.repeat(IW_K, 1),
                                                          reduction="none").sum(1).reshape(IW_K, c)
                lpz = (-0.5 * (log2pi + z.pow(2))).sum(2)
                lqz = (-0.5 * (log2pi + lv + (z - mu).pow(2) * torch.exp(-lv))).sum(2)
                iw = torch.logsumexp(lpx + lpz - lqz, 0) - math.log(IW_K)
                el = lpx.mean(0) + 0.5 * (1 + lv - mu.pow(2) - lv.exp()).sum(1)
                iw_sum += iw.sum().item()
                el_sum += el.sum().item()
        print("first %d test images: ELBO %.3f (mean over %d samples), IW log p(x) estimate k=%d: %.3f nats  (%.1f s)" % (
            iw_n, el_sum / iw_n, IW_K, IW_K, iw_sum / iw_n, time.time() - t0))
    print("test ELBO %.3f nats per example (%d epochs, %.2f s/epoch, %.1f s in all)" % (
        elbo, epochs, train_s / epochs, time.time() - t_start))


if __name__ == "__main__":
    main()
