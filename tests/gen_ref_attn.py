#!/usr/bin/python3
"""tests/gen_ref_attn.py - writes tests/ref_attn.h: PyTorch reference values for the
attention part of dl.h (dl_mha_forward, dl_attention, dl_additive_attention,
dl_sinusoidal_positions).

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_attn.py
The output is committed, so the C tests never need Python.

Every case is a list of named float32 tensors: the inputs, fixed random upstream gradients
dy (for the output) and dw (for the attention weights), the outputs y and w, and the
gradients (prefix g_) of loss = sum(y * dy) + sum(w * dw) with respect to every input and
parameter. int32 masks are stored as 0/1 floats (1: masked out).
  RA_MHA   torch.nn.MultiheadAttention(batch_first=True) with the stored weights,
           need_weights=True, average_attn_weights=True. torch 1.13 has no is_causal: a
           causal case passes the equivalent triu(…, 1) mask, merged into attn_mask.
  RA_SDPA  softmax(q k^T / sqrt(E) + mask) v written out in torch (masked_fill for
           int masks and causal), over batched leading dims.
  RA_ADD   Bahdanau: e_j = v . tanh(W_q q + W_k k_j), masked softmax, context = sum a_j v_j.
  RA_SIN   PE[p, 2i] = sin(p w_i), PE[p, 2i+1] = cos(p w_i), w_i = exp(-2i ln(10000) / dim).
The math runs in float64 on the float32 inputs and is rounded to float32 once.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_norm import c_str, fmt_f  # noqa: E402  (the same float formatting)

SEED = 2718
GEN = torch.Generator().manual_seed(SEED)
RA_MHA, RA_SDPA, RA_ADD, RA_SIN = 0, 1, 2, 3
cases = []


def f32(t):
    return t.detach().to(torch.float32)


def U(shape, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo)


def leaf(t):
    return t.to(torch.float64).clone().requires_grad_(True)


def rand_mask(shape, p=0.3):
    """0/1 float32 (1: masked), never a fully masked last-axis row"""
    m = (torch.rand(shape, generator=GEN, dtype=torch.float64) < p).to(torch.float32)
    m[..., 0] = 0.0  # the first key always stays
    return m


def triu_mask(lq, lk):
    return torch.triu(torch.ones(lq, lk, dtype=torch.bool), diagonal=1)


def mha_case(name, B, Lq, Lk, E, H, bias, self_attn=False, kpm=False, am_kind=0, causal=False):
    m = torch.nn.MultiheadAttention(E, H, bias=bias, batch_first=True).double()
    params = {'in_w': U([3 * E, E]), 'out_w': U([E, E])}
    if bias:
        params['in_b'] = U([3 * E], -0.5, 0.5)
        params['out_b'] = U([E], -0.5, 0.5)
    with torch.no_grad():
        m.in_proj_weight.copy_(params['in_w'].double())
        m.out_proj.weight.copy_(params['out_w'].double())
        if bias:
            m.in_proj_bias.copy_(params['in_b'].double())
            m.out_proj.bias.copy_(params['out_b'].double())
    t = dict(params)
    if self_attn:
        Lk = Lq
        t['x'] = U([B, Lq, E])
        x = leaf(t['x'])
        q = k = v = x
    else:
        t['q'], t['k'], t['v'] = U([B, Lq, E]), U([B, Lk, E]), U([B, Lk, E])
        q, k, v = leaf(t['q']), leaf(t['k']), leaf(t['v'])
    kpm_t = None
    if kpm:
        t['kpm'] = rand_mask([B, Lk], 0.4)
        kpm_t = t['kpm'].bool()
    am = None
    if am_kind == 1:
        t['am'] = U([Lq, Lk], -2.0, 2.0)
        am = t['am'].double()
        if causal:
            am = am.masked_fill(triu_mask(Lq, Lk), float('-inf'))
    elif am_kind == 2:
        t['am'] = rand_mask([Lq, Lk], 0.3)
        am = t['am'].bool()
        if causal:
            am = am | triu_mask(Lq, Lk)
    elif causal:
        am = triu_mask(Lq, Lk)
    y, w = m(q, k, v, key_padding_mask=kpm_t, attn_mask=am, need_weights=True, average_attn_weights=True)
    t['dy'], t['dw'] = U(list(y.shape)), U(list(w.shape))
    loss = (y * t['dy'].double()).sum() + (w * t['dw'].double()).sum()
    loss.backward()
    t['y'], t['w'] = f32(y), f32(w)
    t['g_in_w'], t['g_out_w'] = f32(m.in_proj_weight.grad), f32(m.out_proj.weight.grad)
    if bias:
        t['g_in_b'], t['g_out_b'] = f32(m.in_proj_bias.grad), f32(m.out_proj.bias.grad)
    if self_attn:
        t['g_x'] = f32(x.grad)
    else:
        t['g_q'], t['g_k'], t['g_v'] = f32(q.grad), f32(k.grad), f32(v.grad)
    cases.append(dict(name=name, kind=RA_MHA, iarg=[H, int(bias), int(causal), am_kind, int(kpm), int(self_attn)], t=t))


def sdpa_case(name, lead, Lq, Lk, E, Ev, mask_kind=0, mask_shape=None, causal=False):
    t = {'q': U(lead + [Lq, E]), 'k': U(lead + [Lk, E]), 'v': U(lead + [Lk, Ev])}
    q, k, v = leaf(t['q']), leaf(t['k']), leaf(t['v'])
    s = q @ k.transpose(-1, -2) / math.sqrt(E)
    mk = None
    if mask_kind == 1:
        t['mask'] = U(mask_shape, -2.0, 2.0)
        mk = leaf(t['mask'])
        s = s + mk
    elif mask_kind == 2:
        t['mask'] = rand_mask(mask_shape, 0.3)
        s = s.masked_fill(t['mask'].bool(), float('-inf'))
    if causal:
        s = s.masked_fill(triu_mask(Lq, Lk), float('-inf'))
    w = torch.softmax(s, dim=-1)
    y = w @ v
    t['dy'], t['dw'] = U(list(y.shape)), U(list(w.shape))
    ((y * t['dy'].double()).sum() + (w * t['dw'].double()).sum()).backward()
    t['y'], t['w'] = f32(y), f32(w)
    t['g_q'], t['g_k'], t['g_v'] = f32(q.grad), f32(k.grad), f32(v.grad)
    if mk is not None:
        t['g_mask'] = f32(mk.grad)
    cases.append(dict(name=name, kind=RA_SDPA, iarg=[int(causal), mask_kind, 0, 0, 0, 0], t=t))


def additive_case(name, B, L, dq, dk, dv, dim, masked):
    t = {'query': U([B, dq]), 'keys': U([B, L, dk]), 'values': U([B, L, dv]),
         'w_q': U([dim, dq]), 'w_k': U([dim, dk]), 'v': U([dim])}
    lv = {n: leaf(x) for n, x in t.items()}
    e = torch.tanh((lv['query'] @ lv['w_q'].T)[:, None, :] + lv['keys'] @ lv['w_k'].T) @ lv['v']  # [B, L]
    if masked:
        t['mask'] = rand_mask([B, L], 0.4)
        e = e.masked_fill(t['mask'].bool(), float('-inf'))
    a = torch.softmax(e, dim=-1)
    y = (a[:, :, None] * lv['values']).sum(1)
    t['dy'], t['dw'] = U(list(y.shape)), U(list(a.shape))
    ((y * t['dy'].double()).sum() + (a * t['dw'].double()).sum()).backward()
    t['y'], t['w'] = f32(y), f32(a)
    for n, x in lv.items():
        t['g_' + n] = f32(x.grad)
    cases.append(dict(name=name, kind=RA_ADD, iarg=[int(masked), 0, 0, 0, 0, 0], t=t))


def sin_case(length, dim):
    pos = np.arange(length, dtype=np.float64)[:, None]
    div = np.exp(np.arange(0, dim, 2, dtype=np.float64) * (-math.log(10000.0) / dim))
    pe = np.zeros((length, dim))
    pe[:, 0::2] = np.sin(pos * div)
    pe[:, 1::2] = np.cos(pos * div[: dim // 2])
    cases.append(dict(name='sinusoidal %dx%d' % (length, dim), kind=RA_SIN, iarg=[length, dim, 0, 0, 0, 0],
                      t={'pe': torch.from_numpy(pe).to(torch.float32)}))


def gen():
    mha_case('mha self 1 head', 2, 5, 5, 8, 1, True, self_attn=True)
    mha_case('mha self 4 heads kpm', 3, 6, 6, 8, 4, True, self_attn=True, kpm=True)
    mha_case('mha cross 2 heads float mask', 2, 3, 7, 6, 2, True, am_kind=1)
    mha_case('mha self causal no bias', 2, 5, 5, 6, 3, False, self_attn=True, causal=True)
    mha_case('mha cross no bias kpm int mask', 2, 4, 6, 8, 4, False, kpm=True, am_kind=2)
    mha_case('mha self causal kpm float mask', 2, 6, 6, 4, 2, True, self_attn=True, kpm=True, am_kind=1, causal=True)
    mha_case('mha cross 1 head Lq>Lk', 1, 7, 3, 5, 1, True)
    sdpa_case('sdpa 2-D', [], 4, 6, 5, 3)
    sdpa_case('sdpa lead [2,3]', [2, 3], 4, 6, 5, 7)
    sdpa_case('sdpa float mask [Lq,Lk]', [2, 3], 4, 6, 5, 7, mask_kind=1, mask_shape=[4, 6])
    sdpa_case('sdpa int mask [2,1,Lq,Lk]', [2, 3], 4, 6, 5, 7, mask_kind=2, mask_shape=[2, 1, 4, 6])
    sdpa_case('sdpa int mask [Lk]', [3], 5, 6, 4, 2, mask_kind=2, mask_shape=[6])
    sdpa_case('sdpa causal', [2], 5, 5, 4, 3, causal=True)
    sdpa_case('sdpa causal Lq>Lk float mask', [2, 2], 6, 4, 3, 3, mask_kind=1, mask_shape=[2, 1, 1, 4], causal=True)
    additive_case('additive', 3, 5, 4, 6, 3, 7, False)
    additive_case('additive masked', 4, 7, 5, 3, 2, 6, True)
    sin_case(7, 6)
    sin_case(5, 7)
    sin_case(60, 16)


def write(path):
    arrays, tlists, rows, seen, counter = [], [], [], {}, [0]

    def arr(t):
        t = f32(t).contiguous()
        key = t.numpy().tobytes()
        if key in seen:
            return seen[key]
        name = 'ra_d%d' % counter[0]
        counter[0] += 1
        seen[key] = name
        vals = t.reshape(-1).tolist()
        out, line = ['static const float %s[%d] = {' % (name, len(vals))], '   '
        for v in vals:
            item = ' ' + fmt_f(v) + ','
            if len(line) + len(item) > 96:
                out.append(line)
                line = '   '
            line += item
        out.append(line)
        out.append('};')
        arrays.append('\n'.join(out))
        return name

    for ci, c in enumerate(cases):
        ents = []
        for n, t in c['t'].items():
            s = [int(d) for d in t.shape]
            assert len(s) <= 4
            ents.append('    {%s, %d, {%s}, %s}' % (c_str(n), len(s), ', '.join(map(str, s + [0] * (4 - len(s)))), arr(t)))
        tlists.append('static const ra_tensor ra_t%d[] = {\n%s\n};' % (ci, ',\n'.join(ents)))
        rows.append('    {%s, %d, {%s}, %d, ra_t%d}' % (c_str(c['name']), c['kind'], ', '.join(map(str, c['iarg'])), len(ents), ci))
    hdr = '''/* tests/ref_attn.h - GENERATED by tests/gen_ref_attn.py with PyTorch %s (seed %d).
   Do not edit: change tests/gen_ref_attn.py and run  /usr/bin/python3 tests/gen_ref_attn.py
   %d cases: torch.nn.MultiheadAttention (batch_first), scaled dot-product attention and
   additive attention written out in torch (inputs, dy, dw, outputs y and weights w, the
   gradients g_* of sum(y dy) + sum(w dw)), and sinusoidal positions. Float32 values,
   computed in float64; int32 masks stored as 0/1 floats. */
#ifndef DL_TEST_REF_ATTN_H
#define DL_TEST_REF_ATTN_H
#include <stdint.h>

enum { RA_MHA = 0, RA_SDPA = 1, RA_ADD = 2, RA_SIN = 3 };
typedef struct ra_tensor { const char *name; int ndim; int64_t shape[4]; const float *data; } ra_tensor;
typedef struct ra_case {
    const char *name;
    int kind;     /* RA_*                                                                   */
    int iarg[6];  /* MHA: heads, bias, causal, attn_mask (0 none, 1 float, 2 int), kpm, self;
                     SDPA: causal, mask (0 none, 1 float, 2 int); ADD: masked; SIN: len, dim */
    int nt;
    const ra_tensor *t;
} ra_case;
''' % (torch.__version__, SEED, len(cases))
    table = ('\nstatic const ra_case ra_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
             '#define RA_N_CASES ((int)(sizeof ra_cases / sizeof ra_cases[0]))\n')
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + '\n'.join(arrays) + '\n\n' + '\n'.join(tlists) + '\n' + table + '#endif\n')


def main():
    torch.set_grad_enabled(True)
    gen()
    names = [c['name'] for c in cases]
    assert len(set(names)) == len(names), names
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_attn.h')
    write(path)
    print('%s: %d cases, %d bytes' % (path, len(cases), os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
