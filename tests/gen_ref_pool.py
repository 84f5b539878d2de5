#!/usr/bin/python3
"""tests/gen_ref_pool.py - writes tests/ref_pool.h: PyTorch reference values for dl.h's
pooling ops (dl_max_pool2d with indices, dl_avg_pool2d, dl_adaptive_avg_pool2d,
dl_global_avg_pool2d, dl_max_unpool2d).

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_pool.py
The output is committed, so the C tests never need Python.

Each case records x, the op's parameters, the output (and for max the indices torch's
return_indices gives), a fixed upstream gradient dy and torch autograd's x.grad after
y.backward(dy). Inputs are float32 values on a 1/256 grid (short to print, exact); the
math runs in float64 and is rounded to float32 once.

Ties in max pooling: dl.h sends the gradient to the FIRST maximal element of a window in
row-major order (padding is -inf and never wins). torch 1.13's CPU kernel keeps the first
maximum too (`val > maxval`); every max case is checked here against an independent
numpy first-maximum implementation, and the deliberate tie cases (a constant plane,
values from {0,1,2}) must agree with torch as well: the script stops if they do not.
"""
import os

import numpy as np
import torch
import torch.nn.functional as F

SEED = 4321
torch.manual_seed(SEED)
GEN = torch.Generator().manual_seed(SEED)

OPS = {'max': 0, 'avg': 1, 'adaptive': 2, 'global': 3, 'unpool': 4}
cases = []
NC = [(1, 1), (2, 3), (1, 2), (2, 1)]   # (batch, channels), rotated over the grid


def grid_uniform(shape, lo=-1.0, hi=1.0):
    """uniform values rounded to multiples of 1/256 (exact in float32)"""
    u = torch.rand(shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo
    return torch.round(u * 256.0) / 256.0


def distinct(shape):
    """all values distinct (a shuffled grid, spacing 1/64): max pooling has no ties"""
    n = int(np.prod(shape))
    perm = torch.randperm(n, generator=GEN).to(torch.float64)
    return ((perm - n / 2.0) / 64.0).reshape(shape)


def upstream(shape):
    """dy: multiples of 1/16 in [-1, 1]"""
    return torch.randint(-16, 17, shape, generator=GEN).to(torch.float64) / 16.0


def np_max_pool_first(x, kh, kw, sh, sw, ph, pw):
    """independent max pooling: -inf padding, first maximum in row-major window order"""
    N, C, H, W = x.shape
    OH = (H + 2 * ph - kh) // sh + 1
    OW = (W + 2 * pw - kw) // sw + 1
    y = np.zeros((N, C, OH, OW))
    ix = np.zeros((N, C, OH, OW), dtype=np.int64)
    for n in range(N):
        for c in range(C):
            for oh in range(OH):
                for ow in range(OW):
                    best, bi = -np.inf, None
                    for h in range(oh * sh - ph, oh * sh - ph + kh):
                        for w in range(ow * sw - pw, ow * sw - pw + kw):
                            if 0 <= h < H and 0 <= w < W and x[n, c, h, w] > best:
                                best, bi = x[n, c, h, w], h * W + w
                    y[n, c, oh, ow], ix[n, c, oh, ow] = best, bi
    return y, ix


def add(name, op, x, y, dy, dx, idx=None, k=(0, 0), s=(0, 0), p=(0, 0), excl=0):
    cases.append(dict(name=name, op=OPS[op], x=x, y=y, dy=dy, dx=dx, idx=idx,
                      k=k, s=s, p=p, excl=excl))


def run(fn, x, dy_shape_fn):
    """y = fn(x) in float64, dy fixed, x.grad by autograd"""
    xd = x.clone().requires_grad_(True)
    out = fn(xd)
    y = out[0] if isinstance(out, tuple) else out
    dy = upstream(y.shape)
    y.backward(dy)
    return out, dy, xd.grad


# ---------------------------------------------------------------- max / avg grid
KERNELS = [(2, 2), (3, 3), (3, 2)]
STRIDES = [(1, 1), (2, 2), (0, 0)]        # (0, 0): the default, stride = kernel
PADS = [(0, 0), (1, 1)]
SIZES = [(7, 9), (5, 5)]


def tstride(k, s):
    return k if s == (0, 0) else s


def gen_max_case(name, x, k, s, p):
    st = tstride(k, s)
    (y, ix), dy, dx = run(lambda t: F.max_pool2d(t, k, st, p, return_indices=True), x, None)
    ry, rix = np_max_pool_first(x.numpy(), k[0], k[1], st[0], st[1], p[0], p[1])
    assert np.array_equal(ix.numpy(), rix), 'torch max_pool2d indices differ from first-max: ' + name
    assert np.array_equal(y.detach().numpy(), ry), name
    add(name, 'max', x, y.detach(), dy, dx, ix, k, s, p)


def gen_grid():
    i = 0
    for k in KERNELS:
        for s in STRIDES:
            for p in PADS:
                for (H, W) in SIZES:
                    N, C = NC[i % len(NC)]
                    i += 1
                    tag = 'k%dx%d s%dx%d p%dx%d %dx%d n%d c%d' % (k + s + p + (H, W, N, C))
                    gen_max_case('max ' + tag, distinct((N, C, H, W)), k, s, p)
                    x = grid_uniform((N, C, H, W))
                    for excl in ([0, 1] if p != (0, 0) else [0]):
                        st = tstride(k, s)
                        y, dy, dx = run(lambda t: F.avg_pool2d(t, k, st, p, count_include_pad=not excl), x, None)
                        add('avg%s %s' % (' excl' if excl else '', tag), 'avg', x, y.detach(), dy, dx, None, k, s, p, excl)
    # asymmetric kernel / stride / pad
    for (k, s, p, H, W, N, C) in [((2, 3), (1, 2), (1, 0), 7, 9, 2, 2), ((3, 2), (2, 1), (0, 1), 6, 5, 1, 3),
                                  ((1, 1), (1, 1), (0, 0), 3, 4, 1, 1), ((3, 3), (3, 3), (1, 1), 7, 7, 1, 1)]:
        tag = 'k%dx%d s%dx%d p%dx%d %dx%d n%d c%d' % (k + s + p + (H, W, N, C))
        gen_max_case('max ' + tag, distinct((N, C, H, W)), k, s, p)
        x = grid_uniform((N, C, H, W))
        for excl in [0, 1]:
            y, dy, dx = run(lambda t: F.avg_pool2d(t, k, s, p, count_include_pad=not excl), x, None)
            add('avg%s %s' % (' excl' if excl else '', tag), 'avg', x, y.detach(), dy, dx, None, k, s, p, excl)


# ---------------------------------------------------------------- deliberate ties
def gen_ties():
    # a constant plane: every window ties; torch 1.13 CPU picks the first (checked above)
    gen_max_case('max tie constant k3x3 s1x1 p1x1 4x4', torch.zeros((1, 1, 4, 4), dtype=torch.float64), (3, 3), (1, 1), (1, 1))
    gen_max_case('max tie constant k2x2 s2x2 p0x0 5x5', torch.full((1, 2, 5, 5), -0.5, dtype=torch.float64), (2, 2), (0, 0), (0, 0))
    # values from {0, 1, 2}: many ties across overlapping windows
    for (k, s, p) in [((3, 3), (1, 1), (1, 1)), ((2, 2), (1, 1), (0, 0)), ((3, 3), (2, 2), (1, 1)), ((3, 2), (1, 2), (1, 1))]:
        x = torch.randint(0, 3, (2, 2, 7, 9), generator=GEN).to(torch.float64)
        gen_max_case('max tie 012 k%dx%d s%dx%d p%dx%d 7x9' % (k + s + p), x, k, s, p)
    # negative values next to the padding: padding is -inf, never 0
    x = -1.0 - torch.randint(0, 2, (1, 1, 5, 5), generator=GEN).to(torch.float64)
    gen_max_case('max tie negative k3x3 s1x1 p1x1 5x5', x, (3, 3), (1, 1), (1, 1))


# ---------------------------------------------------------------- adaptive / global
def gen_adaptive():
    for (H, W, oh, ow, N, C) in [(7, 9, 3, 4, 2, 3), (9, 6, 4, 3, 1, 2), (6, 6, 3, 3, 2, 1),
                                 (5, 5, 2, 3, 1, 1), (3, 4, 5, 7, 1, 2), (1, 1, 1, 1, 2, 3),
                                 (7, 9, 1, 1, 1, 1), (5, 5, 5, 5, 1, 1), (8, 8, 2, 4, 2, 2), (7, 3, 3, 1, 1, 1)]:
        x = grid_uniform((N, C, H, W))
        y, dy, dx = run(lambda t: F.adaptive_avg_pool2d(t, (oh, ow)), x, None)
        add('adaptive %dx%d->%dx%d n%d c%d' % (H, W, oh, ow, N, C), 'adaptive', x, y.detach(), dy, dx)
    for (H, W, N, C) in [(7, 9, 2, 3), (5, 5, 1, 2), (1, 1, 2, 1)]:
        x = grid_uniform((N, C, H, W))
        y, dy, dx = run(lambda t: F.adaptive_avg_pool2d(t, 1), x, None)
        add('global %dx%d n%d c%d' % (H, W, N, C), 'global', x, y.detach(), dy, dx)


# ---------------------------------------------------------------- max_unpool2d
def gen_unpool():
    # indices from max_pool2d, unpooled back to the input size (k3 s2 p1: overlapping
    # windows, so an index may repeat; its value is then the same maximum)
    for (H, W, k, s, p, N, C) in [(7, 9, 2, 2, 0, 2, 3), (5, 5, 3, 2, 1, 1, 2), (6, 6, 2, 2, 0, 1, 1)]:
        xin = distinct((N, C, H, W))
        pooled, ix = F.max_pool2d(xin, k, s, p, return_indices=True)
        x = pooled.detach()
        y, dy, dx = run(lambda t: F.max_unpool2d(t, ix, k, s, p, output_size=(H, W)), x, None)
        add('unpool %dx%d from k%d s%d p%d n%d c%d' % (H, W, k, s, p, N, C), 'unpool', x, y.detach(), dy, dx,
            ix, (H, W))
    # distinct random indices into a larger plane: 3x3 -> 6x7
    N, C = 1, 2
    x = grid_uniform((N, C, 3, 3))
    ix = torch.stack([torch.randperm(42, generator=GEN)[:9] for _ in range(N * C)]).reshape(N, C, 3, 3)
    y, dy, dx = run(lambda t: F.max_unpool2d(t, ix, 2, 2, 0, output_size=(6, 7)), x, None)
    add('unpool random 3x3->6x7 n1 c2', 'unpool', x, y.detach(), dy, dx, ix, (6, 7))


# ---------------------------------------------------------------- output
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


def fmt_array(ctype, name, vals, fmt):
    out = ['static const %s %s[%d] = {' % (ctype, name, len(vals))]
    line = '   '
    for v in vals:
        item = ' ' + fmt(v) + ','
        if len(line) + len(item) > 96:
            out.append(line)
            line = '   '
        line += item
    out.append(line)
    out.append('};')
    return '\n'.join(out)


def write(path):
    arrays, seen, counter = [], {}, [0]

    def arr(t, kind):
        if t is None:
            return '0'
        if kind == 'i':
            a = t.detach().to(torch.int32).numpy()
        else:
            a = t.detach().to(torch.float32).numpy()
        key = (kind, a.tobytes())
        if key in seen:
            return seen[key]
        name = 'rpool_d%d' % counter[0]
        counter[0] += 1
        seen[key] = name
        flat = a.reshape(-1).tolist()
        if kind == 'i':
            arrays.append(fmt_array('int32_t', name, flat, lambda v: str(int(v))))
        else:
            arrays.append(fmt_array('float', name, flat, fmt_f))
        return name

    rows = []
    for c in cases:
        N, C, H, W = c['x'].shape
        _, _, OH, OW = c['y'].shape
        rows.append('    {"%s", %d, {%d, %d, %d, %d}, {%d, %d, %d, %d, %d, %d, %d}, {%d, %d},\n     %s, %s, %s, %s, %s}' % (
            c['name'], c['op'], N, C, H, W, c['k'][0], c['k'][1], c['s'][0], c['s'][1], c['p'][0], c['p'][1],
            c['excl'], OH, OW, arr(c['x'], 'f'), arr(c['idx'], 'i'), arr(c['y'], 'f'), arr(c['dy'], 'f'),
            arr(c['dx'], 'f')))
    hdr = '''/* tests/ref_pool.h - GENERATED by tests/gen_ref_pool.py with PyTorch %s (seed %d).
   Do not edit: change tests/gen_ref_pool.py and run  /usr/bin/python3 tests/gen_ref_pool.py
   %d cases. Values are float32, computed in float64 and rounded once. */
#ifndef DL_TEST_REF_POOL_H
#define DL_TEST_REF_POOL_H
#include <stdint.h>

enum { RPOOL_MAX = 0, RPOOL_AVG = 1, RPOOL_ADAPTIVE = 2, RPOOL_GLOBAL = 3, RPOOL_UNPOOL = 4 };

typedef struct rpool_case {
    const char *name;
    int op;                /* RPOOL_*                                                    */
    int x_shape[4];        /* N, C, H, W                                                 */
    int pool[7];           /* kh, kw, sh, sw (0: default), ph, pw, exclude_pad           */
    int out[2];            /* output plane oh, ow                                        */
    const float *x;        /* input                                                      */
    const int32_t *idx;    /* max: expected indices (y's shape); unpool: input (x's shape) */
    const float *y;        /* expected output [N, C, oh, ow]                              */
    const float *dy;       /* upstream gradient, y's shape                               */
    const float *dx;       /* expected gradient of x                                     */
} rpool_case;
''' % (torch.__version__, SEED, len(cases))
    table = ('\nstatic const rpool_case rpool_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
             '#define RPOOL_N_CASES ((int)(sizeof rpool_cases / sizeof rpool_cases[0]))\n'
             '#endif\n')
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + '\n'.join(arrays) + '\n' + table)


def main():
    torch.set_grad_enabled(True)
    gen_grid()
    gen_ties()
    gen_adaptive()
    gen_unpool()
    names = [c['name'] for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, dup
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_pool.h')
    write(path)
    print('wrote %s: %d cases' % (path, len(cases)))


if __name__ == '__main__':
    main()
