#!/usr/bin/python3
"""tests/gen_ref_conv.py - writes tests/ref_conv.h: PyTorch references for dl_conv2d,
dl_conv1d and dl_conv_transpose2d (forward, and the gradient of input, weight and bias).

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_conv.py
The output is committed, so the C tests never need Python.

Inputs are not stored: x, weight, bias and the upstream gradient dy come from a small
integer hash (cv_val() in tests/test_conv.c is the same function), values k/256 with
k in [-256, 256), exactly representable in float32. That keeps ref_conv.h small enough
for a real grid. Each case stores its output and the three gradients, computed by torch
in float64 from those float32 values and rounded to float32 once.

torch is the authority for every convention checked here: padding='same' (the odd extra
row/column at the bottom/right), asymmetric and full padding (F.pad, then no padding),
conv_transpose2d's weight layout [Cin, Cout/groups, kh, kw] and output_padding.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

EXPLICIT, VALID, SAME, FULL = 0, 1, 2, 3
MODE_NAME = {EXPLICIT: 'explicit', VALID: 'valid', SAME: 'same', FULL: 'full'}
CONV2D, CONV1D, CONVT2D = 0, 1, 2
OP_NAME = {CONV2D: 'conv2d', CONV1D: 'conv1d', CONVT2D: 'conv_transpose2d'}
M32 = 0xffffffff

cases = []


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


def tensor(seed, shape):
    n = int(np.prod(shape))
    return torch.tensor(gen(seed, n), dtype=torch.float64).reshape(shape)


def out_size(n, k, s, d, p0, p1):
    return (n + p0 + p1 - d * (k - 1) - 1) // s + 1


def pads(mode, k, d, explicit):
    """(before, after) padding of one spatial dim"""
    if mode == EXPLICIT:
        return explicit
    if mode == VALID:
        return (0, 0)
    if mode == SAME:
        t = d * (k - 1)
        return (t // 2, t - t // 2)
    return (d * (k - 1), d * (k - 1))


def add(name, op, xs, ws, stride=(1, 1), dil=(1, 1), mode=EXPLICIT, pad=(0, 0, 0, 0),
        groups=1, outpad=(0, 0), bias=True):
    """conv2d: xs [N,C,H,W], ws [O,C/g,kh,kw], pad (top, bottom, left, right).
    conv1d: xs [N,C,L], ws [O,C/g,k]; stride/dil index 0; pad (left, right, -, -).
    conv_transpose2d: xs [N,Cin,H,W], ws [Cin,Cout/g,kh,kw]; pad (h, -, w, -) symmetric."""
    idx = len(cases)
    seed = 1000 + 16 * idx
    x = tensor(seed + 1, xs).requires_grad_(True)
    w = tensor(seed + 2, ws).requires_grad_(True)
    cout = ws[1] * groups if op == CONVT2D else ws[0]
    b = tensor(seed + 3, [cout]).requires_grad_(True) if bias else None
    if op == CONV2D:
        kh, kw = ws[2], ws[3]
        if mode == SAME:
            y = F.conv2d(x, w, b, 1, 'same', dil, groups)
        elif mode == VALID:
            y = F.conv2d(x, w, b, stride, 'valid', dil, groups)
        else:
            ph = pads(mode, kh, dil[0], (pad[0], pad[1]))
            pw = pads(mode, kw, dil[1], (pad[2], pad[3]))
            y = F.conv2d(F.pad(x, (pw[0], pw[1], ph[0], ph[1])), w, b, stride, 0, dil, groups)
    elif op == CONV1D:
        k = ws[2]
        if mode == SAME:
            y = F.conv1d(x, w, b, 1, 'same', dil[0], groups)
        elif mode == VALID:
            y = F.conv1d(x, w, b, stride[0], 'valid', dil[0], groups)
        else:
            p = pads(mode, k, dil[0], (pad[0], pad[1]))
            y = F.conv1d(F.pad(x, (p[0], p[1])), w, b, stride[0], 0, dil[0], groups)
    else:
        assert mode in (EXPLICIT, VALID)
        p = (pad[0], pad[2]) if mode == EXPLICIT else (0, 0)
        y = F.conv_transpose2d(x, w, b, stride, p, outpad, groups, dil)
    assert y.numel() > 0, name
    dy = tensor(seed + 4, list(y.shape))
    y.backward(dy)
    assert x.grad is not None and w.grad is not None
    full = '%s %s' % (OP_NAME[op], name)
    cases.append(dict(name=full, op=op, xs=list(xs), ws=list(ws), ys=list(y.shape),
                      stride=list(stride), dil=list(dil), mode=mode, pad=list(pad),
                      groups=groups, outpad=list(outpad), bias=1 if bias else 0, seed=seed,
                      y=y.detach(), gx=x.grad, gw=w.grad, gb=b.grad if bias else None))


# ---------------------------------------------------------------- the grid
EXPL2 = [(1, 0, 2, 1), (0, 2, 1, 0), (2, 1, 0, 3), (1, 2, 2, 0)]   # top, bottom, left, right
SPATIAL2 = [(7, 9), (5, 5), (4, 7), (3, 5), (9, 10)]
SPATIAL2_FULL = [(3, 5), (5, 5), (2, 3)]   # full padding grows the output by 2*d*(k-1)


def fits(h, w, k, s, d, mode, expl):
    ph = pads(mode, k, d, (expl[0], expl[1]))
    pw = pads(mode, k, d, (expl[2], expl[3]))
    return out_size(h, k, s, d, *ph) > 0 and out_size(w, k, s, d, *pw) > 0


def gen_conv2d():
    i = 0
    for k in (1, 3, 5):
        for s in (1, 2):
            for mode in (VALID, SAME, FULL, EXPLICIT):
                if mode == SAME and s != 1:
                    continue                               # torch: 'same' needs stride 1
                for d in (1, 2):
                    for gname in ('g1', 'g2', 'depthwise'):
                        expl = EXPL2[i % len(EXPL2)] if mode == EXPLICIT else (0, 0, 0, 0)
                        sizes = SPATIAL2_FULL if mode == FULL else SPATIAL2
                        j = i
                        while not fits(*sizes[j % len(sizes)], k, s, d, mode, expl):
                            j += 1
                            assert j < i + len(sizes), 'no spatial size fits'
                        h, w = sizes[j % len(sizes)]
                        n = 3 if i % 4 == 0 else 1
                        if gname == 'g1':
                            c, o, g = 3, 4, 1
                        elif gname == 'g2':
                            c, o, g = 4, 4, 2
                        else:
                            c, g = 3, 3
                            o = 6 if i % 2 else 3              # channel multiplier 2 or 1
                        bias = i % 2 == 0
                        name = 'k%d s%d %s d%d %s %dx%d n%d%s%s' % (
                            k, s, MODE_NAME[mode], d, gname, h, w, n, ' bias' if bias else '',
                            ' pad%s' % (expl,) if mode == EXPLICIT else '')
                        add(name.replace(' ', ' '), CONV2D, [n, c, h, w], [o, c // g, k, k], (s, s),
                            (d, d), mode, expl, g, bias=bias)
                        i += 1
    # non-square kernels, per-axis stride and dilation, odd corners
    add('k1x3 s(1,2) d(2,1) explicit(0,1,1,0) g1 5x7 n2', CONV2D, [2, 3, 5, 7], [4, 3, 1, 3],
        (1, 2), (2, 1), EXPLICIT, (0, 1, 1, 0))
    add('k5x3 s(2,1) d(1,2) full g2 7x6 n1', CONV2D, [1, 4, 7, 6], [2, 2, 5, 3], (2, 1), (1, 2), FULL,
        groups=2, bias=False)
    add('k3x1 same d(2,1) depthwise 6x5 n2', CONV2D, [2, 3, 6, 5], [6, 1, 3, 1], dil=(2, 1), mode=SAME,
        groups=3)
    add('k2x4 same (even kernel: extra pad bottom/right) g1 5x7 n1', CONV2D, [1, 2, 5, 7], [3, 2, 2, 4],
        mode=SAME)
    add('k4x2 same d(1,3) (odd totals 3 and 3: extra at bottom/right) g2 6x7 n2', CONV2D,
        [2, 4, 6, 7], [2, 2, 4, 2], dil=(1, 3), mode=SAME, groups=2)
    add('k3 s3 valid g1 8x10 (stride does not divide) n2', CONV2D, [2, 2, 8, 10], [3, 2, 3, 3], (3, 3),
        mode=VALID)
    add('k3 full on a 1x1 input n1', CONV2D, [1, 2, 1, 1], [3, 2, 3, 3], mode=FULL)
    add('k3 d2 full on a 1x1 input n3', CONV2D, [3, 2, 1, 1], [2, 2, 3, 3], dil=(2, 2), mode=FULL,
        bias=False)
    add('k1 explicit(1,0,0,2) (1x1, general path) g1 4x5 n2', CONV2D, [2, 3, 4, 5], [4, 3, 1, 1],
        mode=EXPLICIT, pad=(1, 0, 0, 2))
    add('k1 s1 valid (fast path) g2 5x5 n3', CONV2D, [3, 4, 5, 5], [6, 2, 1, 1], mode=VALID, groups=2)
    add('k5 same on a 3x3 input (kernel > input) g1 n1', CONV2D, [1, 2, 3, 3], [2, 2, 5, 5], mode=SAME)
    add('k3 s2 explicit(3,3,3,3) (pad > kernel/2) g1 5x5 n1', CONV2D, [1, 2, 5, 5], [2, 2, 3, 3], (2, 2),
        mode=EXPLICIT, pad=(3, 3, 3, 3))


def gen_conv1d():
    i = 0
    expl1 = [(1, 0), (0, 2), (2, 1), (3, 3)]
    lens = [9, 11, 6, 13]
    for k in (1, 3, 5):
        for s in (1, 2):
            for mode in (VALID, SAME, FULL, EXPLICIT):
                if mode == SAME and s != 1:
                    continue
                for gname in ('g1', 'depthwise'):
                    d = 1 + i % 2
                    e = expl1[i % len(expl1)] if mode == EXPLICIT else (0, 0)
                    j = i
                    while out_size(lens[j % 4], k, s, d, *pads(mode, k, d, e)) <= 0:
                        j += 1
                        assert j < i + 4, 'no length fits'
                    L = lens[j % 4]
                    n = 3 if i % 3 == 0 else 1
                    c, o, g = (3, 4, 1) if gname == 'g1' else (4, 8, 4)
                    bias = i % 2 == 1
                    name = 'k%d s%d %s d%d %s L%d n%d%s%s' % (
                        k, s, MODE_NAME[mode], d, gname, L, n, ' bias' if bias else '',
                        ' pad%s' % (e,) if mode == EXPLICIT else '')
                    add(name, CONV1D, [n, c, L], [o, c // g, k], (s, 0), (d, 0), mode,
                        (e[0], e[1], 0, 0), g, bias=bias)
                    i += 1
    add('k3 s1 explicit(0,0) g2 L7 n2', CONV1D, [2, 4, 7], [6, 2, 3], groups=2)
    add('k4 same (extra pad right) g1 L8 n2', CONV1D, [2, 3, 8], [2, 3, 4], mode=SAME)


def gen_conv_transpose2d():
    i = 0
    spatial = [(4, 5), (3, 3), (5, 4), (2, 3)]
    for k in (1, 3, 5):
        for s in (1, 2):
            for d in (1, 2):
                for gname in ('g1', 'g2', 'depthwise'):
                    h, w = spatial[i % len(spatial)]
                    p = (i % 3, (i + 1) % 3)
                    op_max = max(s, d) - 1                   # output_padding < stride or dilation
                    outpad = (min(op_max, i % 2), min(op_max, (i // 2) % 2))
                    while True:                              # shrink padding until the output fits
                        oh = (h - 1) * s - 2 * p[0] + d * (k - 1) + outpad[0] + 1
                        ow = (w - 1) * s - 2 * p[1] + d * (k - 1) + outpad[1] + 1
                        if oh > 0 and ow > 0:
                            break
                        p = (max(0, p[0] - 1), max(0, p[1] - 1))
                    n = 3 if i % 4 == 1 else 1
                    if gname == 'g1':
                        cin, cout, g = 3, 4, 1
                    elif gname == 'g2':
                        cin, cout, g = 4, 6, 2
                    else:
                        cin, g = 4, 4
                        cout = 8 if i % 2 else 4
                    bias = i % 2 == 0
                    name = 'k%d s%d d%d %s pad(%d,%d) outpad(%d,%d) %dx%d n%d%s' % (
                        k, s, d, gname, p[0], p[1], outpad[0], outpad[1], h, w, n,
                        ' bias' if bias else '')
                    add(name, CONVT2D, [n, cin, h, w], [cin, cout // g, k, k], (s, s), (d, d),
                        EXPLICIT, (p[0], 0, p[1], 0), g, outpad, bias)
                    i += 1
    add('k3x5 s(2,3) d(1,2) pad(1,2) outpad(1,2) g1 3x4 n2', CONVT2D, [2, 2, 3, 4], [2, 3, 3, 5],
        (2, 3), (1, 2), EXPLICIT, (1, 0, 2, 0), 1, (1, 2))
    add('k3 s1 d3 outpad(2,1) (< dilation) g1 3x3 n1', CONVT2D, [1, 2, 3, 3], [2, 2, 3, 3], (1, 1),
        (3, 3), EXPLICIT, (0, 0, 0, 0), 1, (2, 1))
    add('k3 on a 1x1 input g1 n2', CONVT2D, [2, 3, 1, 1], [3, 2, 3, 3], bias=False)
    add('k1 s1 valid (fast path) g2 4x5 n2', CONVT2D, [2, 4, 4, 5], [4, 3, 1, 1], mode=VALID, groups=2)
    add('k2 s2 (the usual upsampler) g1 3x4 n1', CONVT2D, [1, 3, 3, 4], [3, 2, 2, 2], (2, 2))


# ---------------------------------------------------------------- the C file
def fmt_f(v):
    v = np.float32(v)
    assert np.isfinite(v), 'non-finite reference value'
    s = str(v)
    if s in ('0.0', '-0.0'):
        return s + 'f'
    assert np.float32(s) == v, (s, v)
    if '.' not in s and 'e' not in s:
        s += '.0'
    return s + 'f'


def fmt_array(name, vals):
    out = ['static const float %s[%d] = {' % (name, len(vals))]
    line = '   '
    for v in vals:
        item = ' ' + fmt_f(v) + ','
        if len(line) + len(item) > 96:
            out.append(line)
            line = '   '
        line += item
    out.append(line)
    out.append('};')
    return '\n'.join(out)


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def write(path):
    arrays, rows = [], []
    counter = [0]

    def arr(t):
        if t is None:
            return '0'
        name = 'rc_d%d' % counter[0]
        counter[0] += 1
        arrays.append(fmt_array(name, t.to(torch.float32).reshape(-1).tolist()))
        return name

    def dims(v):
        return '{' + ', '.join(str(int(d)) for d in list(v) + [0] * (4 - len(v))) + '}'

    for c in cases:
        rows.append('    {%s, %d, %d, %s, %s, %s,\n     {%d, %d}, {%d, %d}, %d, {%d, %d, %d, %d}, %d, {%d, %d}, %d, %du,\n'
                    '     %s, %s, %s, %s}' % (
                        c_str(c['name']), c['op'], len(c['xs']), dims(c['xs']), dims(c['ws']),
                        dims(c['ys']), c['stride'][0], c['stride'][1], c['dil'][0], c['dil'][1],
                        c['mode'], c['pad'][0], c['pad'][1], c['pad'][2], c['pad'][3], c['groups'],
                        c['outpad'][0], c['outpad'][1], c['bias'], c['seed'],
                        arr(c['y']), arr(c['gx']), arr(c['gw']), arr(c['gb'])))
    hdr = '''/* tests/ref_conv.h - GENERATED by tests/gen_ref_conv.py with PyTorch %s.
   Do not edit: change tests/gen_ref_conv.py and run  /usr/bin/python3 tests/gen_ref_conv.py
   %d cases of dl_conv2d, dl_conv1d and dl_conv_transpose2d. Inputs are not stored: x, w,
   b and the upstream gradient dy are cv_val(seed + 1..4, i) (tests/test_conv.c). Per case:
   the shapes, the descriptor, the output and the gradients of x, w and b (b: 0 when the
   case has no bias), computed in float64 and rounded to float32 once. */
#ifndef DL_TEST_REF_CONV_H
#define DL_TEST_REF_CONV_H
#include <stdint.h>

enum { RC_CONV2D = 0, RC_CONV1D = 1, RC_CONV_TRANSPOSE2D = 2 };
typedef struct rc_case {
    const char *name;
    int op, ndim;              /* ndim: 4, or 3 for conv1d (x, w and y alike)            */
    int64_t xs[4], ws[4], ys[4];
    int stride[2], dilation[2], padding_mode, pad[4], groups, output_padding[2];
    int bias;
    uint32_t seed;
    const float *y, *gx, *gw, *gb;
} rc_case;
''' % (torch.__version__, len(cases))
    table = ('\nstatic const rc_case rc_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
             '#define RC_N_CASES ((int)(sizeof rc_cases / sizeof rc_cases[0]))\n#endif\n')
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + '\n'.join(arrays) + '\n' + table)


def main():
    torch.set_grad_enabled(True)
    gen_conv2d()
    gen_conv1d()
    gen_conv_transpose2d()
    names = [c['name'] for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, dup
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_conv.h')
    write(path)
    print('%s: %d cases, %d bytes' % (path, len(cases), os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
