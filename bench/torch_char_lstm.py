#!/usr/bin/python3
"""bench/torch_char_lstm.py - examples/06_char_lstm.c's recipe in PyTorch, for comparison:
a character-level LSTM language model on Debian's wamerican word list,
    nn.Embedding(V, 64) -> nn.LSTM(64, 256) -> nn.Linear(256, V) at every step,
cross-entropy over all steps, Adam lr 1e-3, clip_grad_norm_ 5, batch 32, seq len 64,
truncated BPTT with the state carried between chunks (detached) and reset every epoch.
The data handling is the C example's, bit for bit: every 10th word held out, the same
splitmix64 Fisher-Yates shuffles (the test words once, then the training words every
epoch), each word followed by '\n', the stream cut into 32 rows. Only the initial weights
differ (torch's generator vs dl.h's). Prints the unigram bits/char, the training bits/char
and ms/step every 100 steps, the held-out bits/char every 400 steps and at the end.

Usage: python bench/torch_char_lstm.py [steps] [threads] [word_list]   (1200 1)
Best configuration for Debian's torch (WORKLOADS.md):
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE MALLOC_MMAP_THRESHOLD_=1073741824 \\
        MALLOC_TRIM_THRESHOLD_=1073741824 OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive \\
        /usr/bin/python3 bench/torch_char_lstm.py
"""
import math
import os
import sys
import time

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1200
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
path = sys.argv[3] if len(sys.argv) > 3 else "/usr/share/dict/american-english"
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, str(threads))
import torch  # noqa: E402

torch.set_num_threads(threads)
EMB, HIDDEN, SEQ, BATCH, LR, CLIP, HOLD_OUT, SEED = 64, 256, 64, 32, 1e-3, 5.0, 10, 1
M64 = (1 << 64) - 1

if not os.path.exists(path):
    sys.exit("cannot open %s\n  install the word list with: sudo apt-get install wamerican" % path)


class SplitMix64:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s + 0x9e3779b97f4a7c15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M64
        z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M64
        return z ^ (z >> 31)


def shuffle(words, rng):
    for i in range(len(words) - 1, 0, -1):
        j = rng.next() % (i + 1)
        words[i], words[j] = words[j], words[i]


with open(path, encoding="utf-8") as f:
    words = [w for w in f.read().split("\n") if w]
syms = sorted(set("".join(words)) | {"\n"})           # characters (code points), sorted
tok = {c: i for i, c in enumerate(syms)}
V = len(syms)
test_w = [w for i, w in enumerate(words) if i % HOLD_OUT == HOLD_OUT - 1]
train_w = [w for i, w in enumerate(words) if i % HOLD_OUT != HOLD_OUT - 1]
rng = SplitMix64(SEED)


def stream(ws):
    return torch.tensor([tok[c] for c in "".join(w + "\n" for w in ws)], dtype=torch.long)


shuffle(test_w, rng)
te = stream(test_w)
shuffle(train_w, rng)
tr = stream(train_w)
tr_len, te_len = len(tr) // BATCH, len(te) // BATCH
tr_chunks, te_chunks = (tr_len - 1) // SEQ, (te_len - 1) // SEQ


def rows(s, length):
    return s[:BATCH * length].view(BATCH, length)


def chunk(r, k):  # inputs [SEQ, BATCH], targets [SEQ*BATCH] (row t*BATCH + b)
    x = r[:, k * SEQ:k * SEQ + SEQ].t()
    y = r[:, k * SEQ + 1:k * SEQ + SEQ + 1].t()
    return x.contiguous(), y.reshape(-1)


# the unigram model: training frequencies, add-one, on the test targets the LSTM is scored on
counts = torch.bincount(tr, minlength=V).double() + 1
te_rows = rows(te, te_len)
tgt = te_rows[:, 1:te_chunks * SEQ + 1].reshape(-1)
unigram = -(torch.log2(counts[tgt] / (len(tr) + V))).mean().item()

torch.manual_seed(SEED)
emb = torch.nn.Embedding(V, EMB)
lstm = torch.nn.LSTM(EMB, HIDDEN)
fc = torch.nn.Linear(HIDDEN, V)
params = list(emb.parameters()) + list(lstm.parameters()) + list(fc.parameters())
opt = torch.optim.Adam(params, lr=LR)


def forward(x, state):
    out, state = lstm(emb(x), state)
    return fc(out).reshape(-1, V), state


def test_bpc():
    state, nats = None, 0.0
    with torch.no_grad():
        for k in range(te_chunks):
            x, y = chunk(te_rows, k)
            logits, state = forward(x, state)
            nats += torch.nn.functional.cross_entropy(logits, y, reduction="sum").item()
    return nats / (te_chunks * SEQ * BATCH * math.log(2))


print("%s: %d words, vocabulary %d; %d training words (%d chars), %d held-out (%d chars); torch %s, %d thread(s)"
      % (path, len(words), V, len(train_w), len(tr), len(test_w), len(te), torch.__version__, threads))
print("unigram model (training character frequencies): %.3f bits/char on the held-out words" % unigram)
sys.stdout.flush()
tr_rows = rows(tr, tr_len)
state, k, epoch, loss_sum, n, bpc = None, 0, 1, 0.0, 0, float("nan")
t_start = t_log = time.perf_counter()
for step in range(1, steps + 1):
    if k == tr_chunks:
        shuffle(train_w, rng)
        tr_rows = rows(stream(train_w), tr_len)
        state, k, epoch = None, 0, epoch + 1
    x, y = chunk(tr_rows, k)
    k += 1
    opt.zero_grad()
    logits, state = forward(x, state)
    state = tuple(s.detach() for s in state)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, CLIP)
    opt.step()
    loss_sum, n = loss_sum + loss.item(), n + 1
    if step % 100 == 0 or step == steps:
        t = time.perf_counter()
        line = "step %5d  epoch %d  train %.3f bits/char  %.1f ms/step" % (
            step, epoch, loss_sum / n / math.log(2), 1e3 * (t - t_log) / n)
        loss_sum, n = 0.0, 0
        if step % 400 == 0 or step == steps:
            bpc = test_bpc()
            line += "  held-out %.3f bits/char (eval %.1f s)" % (bpc, time.perf_counter() - t)
        print(line)
        sys.stdout.flush()
        t_log = time.perf_counter()
print("trained %d steps (%.2f epochs) in %.1f s" % (steps, steps / tr_chunks, time.perf_counter() - t_start))
print("held-out %.3f bits/char (unigram %.3f) after %d steps" % (bpc, unigram, steps))
