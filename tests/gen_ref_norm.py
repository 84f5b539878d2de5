#!/usr/bin/python3
"""tests/gen_ref_norm.py - writes tests/ref_norm.h: PyTorch reference values for the
normalization ops of dl.h (dl_batch_norm, dl_layer_norm, dl_group_norm, dl_instance_norm).

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_norm.py
The output is committed, so the C tests never need Python.

Each case records its inputs (float32 values), the output, a fixed random upstream gradient
dy and the gradients of x, gamma and beta (torch autograd), against
torch.nn.functional.batch_norm / layer_norm / group_norm / instance_norm. Batch norm cases
given running statistics also record them after the call (train mode updates them in place).
The math runs in float64 on the float32 inputs and is rounded to float32 once.

The running-statistics sequence: a torch.nn.BatchNorm2d(momentum 0.1) with random affine
parameters, trained on 5 different batches; per step the train output, running mean and
var, and the eval output on one fixed batch.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 4321
GEN = torch.Generator().manual_seed(SEED)
RN_BN, RN_LN, RN_GN, RN_IN = 0, 1, 2, 3

cases = []


def f32(t):
    return t.to(torch.float32)


def U(shape, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo)


def xin(shape):
    """per-channel scale and offset (axis 1), so the statistics are not trivial"""
    C = shape[1]
    bshape = [1, C] + [1] * (len(shape) - 2)
    scale = U([C], 0.5, 2.0).reshape(bshape).to(torch.float64)
    off = U([C], -1.0, 1.0).reshape(bshape).to(torch.float64)
    return f32(torch.rand(shape, generator=GEN, dtype=torch.float64) * 2 - 1) * scale + off


def d64(t):
    return None if t is None else t.to(torch.float32).to(torch.float64).clone()


def add_case(name, op, x, gamma, beta, fn, param=0, train=0, rm=None, rv=None, eps=0.0, momentum=0.0):
    """fn(x, gamma, beta, rm, rv) on float64 copies; rm/rv are updated in place by torch"""
    x = f32(x)
    xs = d64(x).requires_grad_(True)
    gs = d64(gamma).requires_grad_(True) if gamma is not None else None
    bs = d64(beta).requires_grad_(True) if beta is not None else None
    rms, rvs = d64(rm), d64(rv)
    y = fn(xs, gs, bs, rms, rvs)
    dy = U(list(y.shape)).to(torch.float64)
    y.backward(dy)
    cases.append(dict(name=name, op=op, param=param, train=train, eps=eps, momentum=momentum,
                      x=x, gamma=gamma, beta=beta, rm=rm, rv=rv, dy=f32(dy), y=f32(y.detach()),
                      dx=f32(xs.grad), dgamma=f32(gs.grad) if gs is not None else None,
                      dbeta=f32(bs.grad) if bs is not None else None,
                      rm_out=f32(rms) if rms is not None else None,
                      rv_out=f32(rvs) if rvs is not None else None))


def sh(shape):
    return '[' + ','.join(str(int(d)) for d in shape) + ']'


def affine_tag(g, b):
    return {(1, 1): 'affine', (1, 0): 'gamma only', (0, 1): 'beta only', (0, 0): 'no affine'}[(g is not None, b is not None)]


def gen_batch_norm():
    # (shape, gamma, beta, running, eps, momentum)
    train = [([7, 5], 1, 1, 1, 0.0, 0.0), ([3, 5, 7], 1, 1, 1, 1e-3, 0.3), ([3, 4, 5, 7], 1, 1, 1, 0.0, 0.0),
             ([2, 3], 1, 1, 1, 0.0, 0.0), ([3, 4, 5, 7], 0, 0, 0, 0.0, 0.0), ([3, 5, 7], 1, 0, 0, 0.0, 0.0),
             ([7, 5], 0, 1, 1, 0.0, 0.5), ([1, 3, 2, 3], 1, 1, 1, 0.0, 0.0), ([2, 6, 3, 5], 1, 1, 0, 0.01, 0.0)]
    for shape, hg, hb, run, eps, mom in train:
        C = shape[1]
        g = U([C], 0.5, 1.5) if hg else None
        b = U([C], -0.5, 0.5) if hb else None
        rm = U([C], -0.5, 0.5) if run else None
        rv = U([C], 0.5, 2.0) if run else None
        x = xin(shape)
        e, mo = eps if eps else 1e-5, mom if mom else 0.1
        add_case('batch_norm train %s %s%s eps %g momentum %g' % (sh(shape), affine_tag(g, b), ' running' if run else '', e, mo),
                 RN_BN, x, g, b, lambda xs, gs, bs, rms, rvs: F.batch_norm(xs, rms, rvs, gs, bs, True, mo, e),
                 train=1, rm=rm, rv=rv, eps=eps, momentum=mom)
    evals = [([7, 5], 1, 1, 0.0), ([3, 5, 7], 0, 0, 0.0), ([3, 4, 5, 7], 1, 1, 1e-3), ([1, 3, 1, 1], 1, 1, 0.0),
             ([2, 6, 3, 5], 1, 0, 0.0)]
    for shape, hg, hb, eps in evals:
        C = shape[1]
        g = U([C], 0.5, 1.5) if hg else None
        b = U([C], -0.5, 0.5) if hb else None
        rm, rv = U([C], -0.5, 0.5), U([C], 0.5, 2.0)
        x = xin(shape)
        e = eps if eps else 1e-5
        add_case('batch_norm eval %s %s eps %g' % (sh(shape), affine_tag(g, b), e), RN_BN, x, g, b,
                 lambda xs, gs, bs, rms, rvs: F.batch_norm(xs, rms, rvs, gs, bs, False, 0.1, e),
                 train=0, rm=rm, rv=rv, eps=eps)


def gen_layer_norm():
    for shape, nd, aff, eps in [([7, 5], 1, 1, 0.0), ([3, 5, 7], 1, 1, 0.0), ([3, 5, 7], 2, 1, 0.0),
                                ([2, 3, 5, 7], 2, 0, 0.0), ([2, 3, 5, 7], 3, 1, 1e-3), ([3, 4, 5, 7], 1, 0, 0.0),
                                ([5, 9], 1, 1, 0.1), ([4, 3, 5], 3, 1, 0.0)]:
        ps = shape[len(shape) - nd:]
        g = U(ps, 0.5, 1.5) if aff else None
        b = U(ps, -0.5, 0.5) if aff else None
        x = xin(shape)
        e = eps if eps else 1e-5
        add_case('layer_norm %s ndims %d %s eps %g' % (sh(shape), nd, affine_tag(g, b), e), RN_LN, x, g, b,
                 lambda xs, gs, bs, rms, rvs: F.layer_norm(xs, ps, gs, bs, e), param=nd, eps=eps)


def gen_group_norm():
    for shape, G, hg, hb, eps in [([5, 6], 2, 1, 1, 0.0), ([3, 6, 7], 1, 1, 1, 0.0), ([3, 6, 7], 2, 1, 1, 0.0),
                                  ([3, 6, 7], 6, 1, 1, 1e-3), ([2, 6, 3, 5], 1, 0, 0, 0.0), ([2, 6, 3, 5], 2, 1, 1, 0.0),
                                  ([2, 6, 3, 5], 3, 1, 0, 0.0), ([2, 6, 3, 5], 6, 0, 0, 0.0), ([3, 4, 5, 7], 2, 1, 1, 0.0)]:
        C = shape[1]
        g = U([C], 0.5, 1.5) if hg else None
        b = U([C], -0.5, 0.5) if hb else None
        x = xin(shape)
        e = eps if eps else 1e-5
        add_case('group_norm %s groups %d %s eps %g' % (sh(shape), G, affine_tag(g, b), e), RN_GN, x, g, b,
                 lambda xs, gs, bs, rms, rvs: F.group_norm(xs, G, gs, bs, e), param=G, eps=eps)


def gen_instance_norm():
    for shape, aff, eps in [([3, 5, 7], 1, 0.0), ([2, 4, 5, 7], 0, 0.0), ([2, 3, 5, 7], 1, 1e-3), ([1, 2, 3], 1, 0.0)]:
        C = shape[1]
        g = U([C], 0.5, 1.5) if aff else None
        b = U([C], -0.5, 0.5) if aff else None
        x = xin(shape)
        e = eps if eps else 1e-5
        add_case('instance_norm %s %s eps %g' % (sh(shape), affine_tag(g, b), e), RN_IN, x, g, b,
                 lambda xs, gs, bs, rms, rvs: F.instance_norm(xs, None, None, gs, bs, True, 0.1, e), eps=eps)


SEQ_SHAPE = [3, 3, 5, 7]
SEQ_STEPS = 5
seq = {}


def gen_sequence():
    C = SEQ_SHAPE[1]
    bn = torch.nn.BatchNorm2d(C, momentum=0.1).double()
    g, b = U([C], 0.5, 1.5), U([C], -0.5, 0.5)
    with torch.no_grad():
        bn.weight.copy_(g.to(torch.float64))
        bn.bias.copy_(b.to(torch.float64))
    xe = xin(SEQ_SHAPE)
    xs, ys, rms, rvs, yes = [], [], [], [], []
    for k in range(SEQ_STEPS):
        x = xin(SEQ_SHAPE)
        bn.train()
        with torch.no_grad():
            y = bn(x.to(torch.float64))
        rms.append(f32(bn.running_mean.clone()))
        rvs.append(f32(bn.running_var.clone()))
        bn.eval()
        with torch.no_grad():
            ye = bn(xe.to(torch.float64))
        xs.append(x); ys.append(f32(y)); yes.append(f32(ye))
    seq.update(gamma=g, beta=b, x_eval=xe, x=xs, y=ys, rm=rms, rv=rvs, y_eval=yes)


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


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def write(path):
    arrays, seen, counter = [], {}, [0]

    def arr(t):
        if t is None:
            return '0'
        t = f32(t).contiguous()
        key = t.numpy().tobytes()
        if key in seen:
            return seen[key]
        name = 'rn_d%d' % counter[0]
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

    def shp(s):
        s = [int(d) for d in s]
        return '%d, {%s}' % (len(s), ', '.join(map(str, s + [0] * (4 - len(s)))))

    rows = []
    for c in cases:
        p = c['gamma'] if c['gamma'] is not None else c['beta']
        pshape = list(p.shape) if p is not None else []
        fields = [arr(c[k]) for k in ('x', 'gamma', 'beta', 'rm', 'rv', 'dy', 'y', 'dx', 'dgamma', 'dbeta', 'rm_out', 'rv_out')]
        rows.append('    {%s, %d, %d, %d, %s, %s, %s, %s,\n     %s}' % (
            c_str(c['name']), c['op'], c['param'], c['train'], fmt_f(c['eps']), fmt_f(c['momentum']),
            shp(c['x'].shape), shp(pshape), ', '.join(fields)))
    sq = ['static const float rn_seq_gamma[%d] = {%s};' % (SEQ_SHAPE[1], ', '.join(fmt_f(v) for v in seq['gamma'].tolist())),
          'static const float rn_seq_beta[%d] = {%s};' % (SEQ_SHAPE[1], ', '.join(fmt_f(v) for v in seq['beta'].tolist()))]
    xe = arr(seq['x_eval'])
    for k in ('x', 'y', 'rm', 'rv', 'y_eval'):
        names = [arr(t) for t in seq[k]]
        sq.append('static const float *const rn_seq_%s[RN_SEQ_STEPS] = {%s};' % (k, ', '.join(names)))
    sq.append('#define rn_seq_x_eval %s' % xe)
    hdr = '''/* tests/ref_norm.h - GENERATED by tests/gen_ref_norm.py with PyTorch %s (seed %d).
   Do not edit: change tests/gen_ref_norm.py and run  /usr/bin/python3 tests/gen_ref_norm.py
   %d cases against torch.nn.functional.batch_norm / layer_norm / group_norm /
   instance_norm: inputs, output, upstream gradient dy, gradients of x, gamma, beta, and
   (batch norm with running statistics) the running statistics after the call; plus a
   %d-step torch.nn.BatchNorm2d(momentum 0.1) sequence. Float32, computed in float64. */
#ifndef DL_TEST_REF_NORM_H
#define DL_TEST_REF_NORM_H
#include <stdint.h>

enum { RN_BN = 0, RN_LN = 1, RN_GN = 2, RN_IN = 3 };
typedef struct rn_case {
    const char *name;
    int op;                 /* RN_BN, RN_LN, RN_GN, RN_IN                                  */
    int param;              /* layer norm: ndims; group norm: groups                       */
    int train;              /* batch norm: 1 train, 0 eval                                 */
    float eps, momentum;    /* as passed to dl.h (0: the default)                          */
    int ndim; int64_t shape[4];    /* x                                                   */
    int pndim; int64_t pshape[4];  /* gamma / beta (0 when neither is given)             */
    const float *x, *gamma, *beta, *rm, *rv;   /* 0: not given                           */
    const float *dy, *y, *dx, *dgamma, *dbeta, *rm_out, *rv_out;
} rn_case;

#define RN_SEQ_STEPS %d
static const int64_t rn_seq_shape[4] = {%s};
''' % (torch.__version__, SEED, len(cases), SEQ_STEPS, SEQ_STEPS, ', '.join(map(str, SEQ_SHAPE)))
    table = ('\nstatic const rn_case rn_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
             '#define RN_N_CASES ((int)(sizeof rn_cases / sizeof rn_cases[0]))\n')
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + '\n'.join(arrays) + '\n' + '\n'.join(sq) + '\n' + table + '#endif\n')


def main():
    gen_batch_norm()
    gen_layer_norm()
    gen_group_norm()
    gen_instance_norm()
    gen_sequence()
    names = [c['name'] for c in cases]
    assert len(set(names)) == len(names), names
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_norm.h')
    write(path)
    print('%s: %d cases, %d bytes' % (path, len(cases), os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
