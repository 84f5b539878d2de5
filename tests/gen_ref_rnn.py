#!/usr/bin/python3
"""tests/gen_ref_rnn.py - writes tests/ref_rnn.h: PyTorch references for dl_rnn_forward /
dl_rnn_layer (torch.nn.RNN tanh and relu, LSTM, GRU) and dl_embedding.

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_rnn.py
The output is committed, so the C tests never need Python.

Inputs are not stored: every input, parameter and upstream gradient comes from the same
integer hash as tests/gen_ref_conv.py (rn_val() in tests/test_rnn.c), values k/256 with
k in [-256, 256), scaled by a power of two, so they are exact in float32. Per case:
  x = val(seed+1) [T,B,I];  h0 = val(seed+2)/2, c0 = val(seed+3)/2  [layers*dirs,B,H];
  parameter k of named_parameters() = val(seed+10+k)/2;
  loss = sum(y * val(seed+4)) + sum(h_n * val(seed+5)) + sum(c_n * val(seed+6)).
torch computes in float64 from those values; outputs and gradients are rounded to float32
once. Mixed lengths run through pack_padded_sequence(enforce_sorted=False) and
pad_packed_sequence(total_length=T), so y is 0 past each sequence's end and h_n / c_n are
the states after each sequence's last valid step, in the original batch order.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

M32 = 0xffffffff
MODES = {'tanh': 0, 'relu': 1, 'lstm': 2, 'gru': 3}


def gen(seed, n):
    """n values k/256, k in [-256, 256): the murmur3 finalizer of seed*A + i*B (mod 2^32)"""
    i = np.arange(n, dtype=np.uint64)
    z = (np.uint64(seed) * np.uint64(0x9E3779B9) + i * np.uint64(0x7F4A7C15)) & np.uint64(M32)
    z ^= z >> np.uint64(16)
    z = (z * np.uint64(0x85EBCA6B)) & np.uint64(M32)
    z ^= z >> np.uint64(13)
    z = (z * np.uint64(0xC2B2AE35)) & np.uint64(M32)
    z ^= z >> np.uint64(16)
    k = ((z >> np.uint64(8)) & np.uint64(511)).astype(np.int64) - 256
    return k.astype(np.float64) / 256.0


def tensor(seed, shape, scale=1.0):
    n = int(np.prod(shape))
    return torch.tensor(gen(seed, n) * scale, dtype=torch.float64).reshape(shape)


cases = []
emb_cases = []


def add(mode, T, B, I, H, layers=1, bidir=False, bias=True, lengths=None, h0=True, c0=True):
    idx = len(cases)
    seed = 5000 + 64 * idx
    D = 2 if bidir else 1
    kw = dict(num_layers=layers, bias=bias, bidirectional=bidir)
    if mode in ('tanh', 'relu'):
        m = torch.nn.RNN(I, H, nonlinearity=mode, **kw)
    elif mode == 'lstm':
        m = torch.nn.LSTM(I, H, **kw)
    else:
        m = torch.nn.GRU(I, H, **kw)
    m = m.double()
    params = list(m.named_parameters())
    with torch.no_grad():
        for k, (_, p) in enumerate(params):
            p.copy_(tensor(seed + 10 + k, list(p.shape), 0.5))
    x = tensor(seed + 1, [T, B, I]).requires_grad_(True)
    hx = tensor(seed + 2, [layers * D, B, H], 0.5).requires_grad_(True) if h0 else None
    cx = None
    if mode == 'lstm':
        c0 = c0 and h0        # torch takes (h0, c0) together
        cx = tensor(seed + 3, [layers * D, B, H], 0.5).requires_grad_(True) if c0 else None
    else:
        c0 = False
    state = None
    if mode == 'lstm':
        if hx is not None:
            state = (hx, cx)
    else:
        state = hx
    if lengths is not None:
        packed = pack_padded_sequence(x, torch.tensor(lengths), enforce_sorted=False)
        out, hn = m(packed, state)
        y, _ = pad_packed_sequence(out, total_length=T)
    else:
        y, hn = m(x, state)
    if mode == 'lstm':
        h, c = hn
    else:
        h, c = hn, None
    loss = (y * tensor(seed + 4, list(y.shape))).sum() + (h * tensor(seed + 5, list(h.shape))).sum()
    if c is not None:
        loss = loss + (c * tensor(seed + 6, list(c.shape))).sum()
    loss.backward()
    name = '%s T%d B%d I%d H%d L%d%s%s%s%s' % (mode, T, B, I, H, layers, ' bidir' if bidir else '',
                                             '' if bias else ' nobias',
                                             ' len' + ','.join(map(str, lengths)) if lengths else '',
                                             '' if h0 else ' noh0')
    gp = torch.cat([p.grad.reshape(-1) for _, p in params])
    cases.append(dict(name=name, mode=MODES[mode], T=T, B=B, I=I, H=H, layers=layers, dirs=D, bias=bias,
                      lengths=lengths, h0=h0, c0=c0, seed=seed, y=y, h=h, c=c, gx=x.grad,
                      gh0=hx.grad if h0 else None, gc0=cx.grad if c0 else None, gp=gp))


def add_emb(V, D, shape, padding_idx):
    idx = len(emb_cases)
    seed = 9000 + 16 * idx
    w = tensor(seed + 1, [V, D]).requires_grad_(True)
    n = int(np.prod(shape))
    ids = torch.tensor([(i * 7 + idx * 3) % V for i in range(n)], dtype=torch.long).reshape(shape)
    y = F.embedding(ids, w, padding_idx=padding_idx if padding_idx >= 0 else None)
    (y * tensor(seed + 2, list(y.shape))).sum().backward()
    emb_cases.append(dict(V=V, D=D, shape=shape, pad=padding_idx, seed=seed, ids=ids.reshape(-1).tolist(),
                          y=y, gw=w.grad))


for mode in ('tanh', 'relu', 'lstm', 'gru'):
    add(mode, 5, 3, 4, 6)
    add(mode, 7, 1, 3, 5, bias=False, h0=False)
    add(mode, 5, 3, 4, 3, layers=2, bidir=True, lengths=[5, 2, 4])
    add(mode, 6, 4, 2, 7, bidir=True, bias=False, lengths=[1, 6, 3, 6])
    add(mode, 4, 2, 3, 4, layers=2, lengths=[2, 4])
    add(mode, 3, 2, 17, 17, h0=False)
    add(mode, 12, 2, 3, 5, bidir=True, lengths=[12, 7], h0=False)

add_emb(7, 5, [2, 4], 2)
add_emb(7, 5, [2, 4], -1)
add_emb(11, 3, [3, 2, 5], 0)
add_emb(4, 17, [9], 3)


def arr(name, t, out):
    v = t.detach().reshape(-1).to(torch.float32).tolist()
    out.append('static const float %s[%d] = {' % (name, len(v)))
    line = '   '
    for a in v:
        r = '%.9g' % float(np.float32(a))
        if '.' not in r and 'e' not in r:
            r += '.0'
        s = ' %sf,' % r
        if len(line) + len(s) > 100:
            out.append(line)
            line = '   '
        line += s
    out.append(line)
    out.append('};')


out = []
out.append('/* tests/ref_rnn.h - GENERATED by tests/gen_ref_rnn.py with PyTorch %s.' % torch.__version__)
out.append('   Do not edit: change tests/gen_ref_rnn.py and run  /usr/bin/python3 tests/gen_ref_rnn.py')
out.append('   %d recurrent cases (torch.nn.RNN/LSTM/GRU) and %d embedding cases. Inputs are not stored:' % (len(cases), len(emb_cases)))
out.append('   see the generator\'s docstring for how rn_val() (tests/test_rnn.c) makes them. Per case:')
out.append('   y, h_n, c_n, the gradients of x, h0, c0 and of every parameter in named_parameters()')
out.append('   order, concatenated. float64 in torch, rounded to float32 once. */')
out.append('#ifndef DL_TEST_REF_RNN_H')
out.append('#define DL_TEST_REF_RNN_H')
out.append('#include <stdint.h>')
out.append('')
out.append('typedef struct rr_case {')
out.append('    const char *name;')
out.append('    int mode, T, B, I, H, layers, dirs, bias, has_h0, has_c0;')
out.append('    const int32_t *lengths;          /* NULL: every sequence runs T steps */')
out.append('    uint32_t seed;')
out.append('    const float *y, *h, *c, *gx, *gh0, *gc0, *gp;')
out.append('} rr_case;')
out.append('typedef struct rr_emb_case {')
out.append('    int V, D, ndim, padding_idx; int64_t shape[3]; int n;')
out.append('    uint32_t seed; const int32_t *idx; const float *y, *gw;')
out.append('} rr_emb_case;')
out.append('')
for i, c in enumerate(cases):
    if c['lengths']:
        out.append('static const int32_t rr_len%d[%d] = {%s};' % (i, len(c['lengths']), ', '.join(map(str, c['lengths']))))
    for key in ('y', 'h', 'c', 'gx', 'gh0', 'gc0', 'gp'):
        if c[key] is not None:
            arr('rr_%s%d' % (key, i), c[key], out)
for i, e in enumerate(emb_cases):
    out.append('static const int32_t re_idx%d[%d] = {%s};' % (i, len(e['ids']), ', '.join(map(str, e['ids']))))
    arr('re_y%d' % i, e['y'], out)
    arr('re_gw%d' % i, e['gw'], out)
out.append('')
out.append('#define RR_N_CASES %d' % len(cases))
out.append('static const rr_case rr_cases[RR_N_CASES] = {')
for i, c in enumerate(cases):
    def p(key):
        return 'rr_%s%d' % (key, i) if c[key] is not None else '0'
    out.append('    {"%s", %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %s, %du,' % (
        c['name'], c['mode'], c['T'], c['B'], c['I'], c['H'], c['layers'], c['dirs'], int(c['bias']),
        int(c['h0']), int(c['c0']), 'rr_len%d' % i if c['lengths'] else '0', c['seed']))
    out.append('     %s, %s, %s, %s, %s, %s, %s},' % (p('y'), p('h'), p('c'), p('gx'), p('gh0'), p('gc0'), p('gp')))
out.append('};')
out.append('#define RE_N_CASES %d' % len(emb_cases))
out.append('static const rr_emb_case re_cases[RE_N_CASES] = {')
for i, e in enumerate(emb_cases):
    sh = list(e['shape']) + [0] * (3 - len(e['shape']))
    out.append('    {%d, %d, %d, %d, {%d, %d, %d}, %d, %du, re_idx%d, re_y%d, re_gw%d},' % (
        e['V'], e['D'], len(e['shape']), e['pad'], sh[0], sh[1], sh[2], len(e['ids']), e['seed'], i, i, i))
out.append('};')
out.append('#endif')
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_rnn.h')
with open(path, 'w') as f:
    f.write('\n'.join(out) + '\n')
print('wrote %s: %d rnn cases, %d embedding cases' % (path, len(cases), len(emb_cases)))
