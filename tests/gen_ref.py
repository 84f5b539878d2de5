#!/usr/bin/python3
"""tests/gen_ref.py - writes tests/ref_ops.h: PyTorch reference values for every dl.h op.

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref.py
The output is committed, so the C tests never need Python.

Each case records the op, its parameters, every input, the output, a fixed random
upstream gradient of the output's shape and the gradient of each float input
(torch autograd: x.grad after out.backward(upstream)). Inputs are float32 values;
the math runs in float64 and is rounded to float32 once, so the reference carries no
float32 summation-order noise of its own.

Tie rules (dl.h AUTODIFF RULES): max reductions send the gradient to the FIRST maximal
element, while torch 1.13's amax splits it evenly; max/max_axes/max_all gradients are
therefore built here with a first-index rule (and checked against torch autograd when
there are no ties). Elementwise maximum/minimum split evenly on ties, as torch does.
relu'(0) = 0, abs'(0) = 0, clamp passes at lo <= x <= hi: also torch's choices.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 1234
MAX_IN, MAX_OUT, N_IP, N_FP = 4, 4, 8, 4
TRANS_A, TRANS_B = 1, 2

torch.manual_seed(SEED)
GEN = torch.Generator().manual_seed(SEED)

cases = []


# ---------------------------------------------------------------- input builders
def f32(t):
    return t.to(torch.float32)


def U(shape, lo=-1.0, hi=1.0):
    """uniform float32 values in [lo, hi)"""
    return f32(torch.rand(shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo)


def away(shape, lo=0.1, hi=1.0):
    """random sign, |x| in [lo, hi): away from the kink at 0"""
    mag = U(shape, lo, hi)
    sgn = torch.where(torch.rand(shape, generator=GEN) < 0.5, -1.0, 1.0)
    return f32(mag * sgn)


def distinct(shape, spacing=0.0625, offset=0.0):
    """all values distinct (shuffled grid), so max/argmax have no ties"""
    n = int(np.prod(shape)) if len(shape) else 1
    perm = torch.randperm(n, generator=GEN).to(torch.float64)
    return f32((perm - n / 2.0) * spacing + offset).reshape(shape)


def idx(values, shape=None):
    t = torch.tensor(values, dtype=torch.int32)
    return t.reshape(shape) if shape is not None else t


def randidx(shape, n):
    return torch.randint(0, n, shape, generator=GEN, dtype=torch.int64).to(torch.int32)


# ---------------------------------------------------------------- max first-index rule
def max_first_grad(x, axes, keepdim, up):
    """gradient of amax(x, axes) w.r.t. x when ties go to the first maximal element
    (row-major order over the reduced axes)."""
    nd = x.dim()
    axes = sorted(a % nd for a in axes)
    keep = [a for a in range(nd) if a not in axes]
    perm = keep + axes
    xp = x.permute(perm)
    kshape = [x.shape[a] for a in keep]
    flat = xp.reshape(kshape + [-1])
    am = flat.argmax(dim=-1, keepdim=True)           # torch: first maximal index
    upr = up
    if keepdim:
        upr = up.reshape(kshape) if kshape else up.reshape(())
    upr = upr.reshape(kshape + [1])
    g = torch.zeros_like(flat).scatter(-1, am, upr)
    g = g.reshape([x.shape[a] for a in perm])
    inv = [0] * nd
    for i, p in enumerate(perm):
        inv[p] = i
    return g.permute(inv).contiguous()


# ---------------------------------------------------------------- case recorder
def add_case(name, op, inputs, fn, ip=(), fp=(), backward=True, max_axes=None):
    """inputs: list of (tensor, kind): 'f' float with gradient, 'c' float without
    gradient, 'i' int32 index tensor. fn(*torch_inputs) -> tensor or list of tensors.
    max_axes: (axes, keepdim) -> replace the gradient by the first-index rule."""
    assert len(inputs) <= MAX_IN and len(ip) <= N_IP and len(fp) <= N_FP
    tin = []
    for t, kind in inputs:
        if kind == 'i':
            tin.append(t.to(torch.int64))
        else:
            x = t.to(torch.float32).to(torch.float64).clone()
            if kind == 'f' and backward:
                x.requires_grad_(True)
            tin.append(x)
    out = fn(*tin)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert len(outs) <= MAX_OUT
    ups = []
    if backward:
        ups = [f32(U(list(o.shape))).to(torch.float64) for o in outs]
        torch.autograd.backward(outs, ups)
    rec_in = []
    for (t, kind), x in zip(inputs, tin):
        g = None
        if kind == 'f' and backward:
            g = x.grad if x.grad is not None else torch.zeros_like(x)
            if max_axes is not None:
                axes, kd = max_axes
                mg = max_first_grad(x.detach(), axes, kd, ups[0])
                flat = x.detach().reshape(-1)
                if torch.unique(flat).numel() == flat.numel():
                    assert torch.allclose(mg, g), name
                g = mg
            g = f32(g)
        rec_in.append((kind, t, g))
    rec_out = []
    for k, o in enumerate(outs):
        o = o.detach()
        if o.dtype in (torch.int64, torch.int32):
            rec_out.append(('i', o.to(torch.int32), None))
        else:
            rec_out.append(('f', f32(o), f32(ups[k]) if backward else None))
    cases.append(dict(name=name, op=op, ip=list(ip), fp=list(fp), ins=rec_in,
                      outs=rec_out, backward=1 if backward else 0))


def sh(t):
    return '[' + ','.join(str(int(d)) for d in t.shape) + ']'


# ---------------------------------------------------------------- the cases
def gen_binary():
    ops = {
        'add': torch.add, 'sub': torch.sub, 'mul': torch.mul, 'div': torch.div,
        'minimum': torch.minimum, 'maximum': torch.maximum,
    }
    pairs = [([3, 4], [3, 4]), ([3, 4], [4]), ([3, 1], [1, 4]), ([2, 3, 4], [3, 1]),
             ([], [5]), ([1], [7]), ([7], [1]), ([17], [17]), ([17, 7], [7]),
             ([4], [2, 3, 4])]
    for op, f in ops.items():
        for sa, sb in pairs:
            if op in ('minimum', 'maximum'):
                # distinct values across both inputs: no ties
                n_a = int(np.prod(sa)) if sa else 1
                n_b = int(np.prod(sb)) if sb else 1
                vals = distinct([n_a + n_b], spacing=0.0625)
                a, b = vals[:n_a].reshape(sa), vals[n_a:].reshape(sb)
            elif op == 'div':
                a, b = U(sa), away(sb, 0.5, 2.0)
            else:
                a, b = U(sa), U(sb)
            tag = 'bcast ' if sa != sb else ''
            add_case('%s %s%s%s' % (op, tag, sh(a), ('+' if op == 'add' else ',') + sh(b)),
                     op, [(a, 'f'), (b, 'f')], f)
    # odd sizes, SIMD tails
    for n in (1, 7, 17, 1023):
        for op in ('add', 'mul'):
            add_case('%s [%d]' % (op, n), op, [(U([n]), 'f'), (U([n]), 'f')], ops[op])
    add_case('div [1023]', 'div', [(U([1023]), 'f'), (away([1023], 0.5, 2.0), 'f')], torch.div)
    v = distinct([2046])
    add_case('maximum [1023]', 'maximum', [(v[:1023], 'f'), (v[1023:], 'f')], torch.maximum)
    # deliberate ties: elementwise maximum/minimum split the gradient evenly
    a = torch.tensor([1.0, 2.0, 3.0, -1.0, 0.5, 0.5])
    b = torch.tensor([1.0, 1.0, 3.0, -2.0, 0.5, 0.75])
    add_case('maximum ties split evenly', 'maximum', [(a, 'f'), (b, 'f')], torch.maximum)
    add_case('minimum ties split evenly', 'minimum', [(a, 'f'), (b, 'f')], torch.minimum)


def gen_where():
    def wf(c, a, b):
        return torch.where(c != 0, a, b)
    trip = [([3, 4], [3, 4], [3, 4]), ([3, 4], [4], [3, 1]), ([3, 1], [1, 4], []),
            ([4], [2, 3, 4], [3, 4]), ([17], [17], [17])]
    for sc, sa, sb in trip:
        c = f32((torch.rand(sc, generator=GEN) < 0.5).to(torch.float64) *
                torch.where(torch.rand(sc, generator=GEN) < 0.5, 1.0, -2.5))
        add_case('where %s,%s,%s' % (sh(c), sh(torch.zeros(sa)), sh(torch.zeros(sb))),
                 'where', [(c, 'c'), (U(sa), 'f'), (U(sb), 'f')], wf)


def gen_unary():
    un = {
        'neg': (torch.neg, lambda s: U(s)),
        'abs': (torch.abs, lambda s: away(s)),
        'sign': (torch.sign, lambda s: away(s)),
        'exp': (torch.exp, lambda s: U(s, -3, 3)),
        'log': (torch.log, lambda s: U(s, 0.1, 4)),
        'sqrt': (torch.sqrt, lambda s: U(s, 0.1, 4)),
        'square': (torch.square, lambda s: U(s, -2, 2)),
        'sin': (torch.sin, lambda s: U(s, -4, 4)),
        'cos': (torch.cos, lambda s: U(s, -4, 4)),
        'relu': (torch.relu, lambda s: away(s)),
        'sigmoid': (torch.sigmoid, lambda s: U(s, -6, 6)),
        'tanh': (torch.tanh, lambda s: U(s, -4, 4)),
        'softplus': (F.softplus, lambda s: U(s, -6, 6)),
        'log_sigmoid': (F.logsigmoid, lambda s: U(s, -6, 6)),
    }
    for op, (f, mk) in un.items():
        for s in ([3, 4], [1], [7], [17, 7]):
            add_case('%s %s' % (op, sh(torch.zeros(s))), op, [(mk(s), 'f')], f)
    for op in ('exp', 'log', 'relu', 'sigmoid', 'tanh', 'sqrt'):
        add_case('%s [1023]' % op, op, [(un[op][1]([1023]), 'f')], un[op][0])
    add_case('neg []', 'neg', [(U([]), 'f')], torch.neg)
    # deliberate kinks: relu'(0) = 0, abs'(0) = 0, sign' = 0 (torch's choices too)
    k = torch.tensor([-1.0, -0.0, 0.0, 0.5, 2.0])
    add_case('relu at 0', 'relu', [(k, 'f')], torch.relu)
    add_case('abs at 0', 'abs', [(k, 'f')], torch.abs)
    add_case('sign at 0', 'sign', [(k, 'f')], torch.sign)
    # scalar-parameter ops
    for c in (2.5, -0.75, 0.0):
        add_case('add_scalar %g [3,4]' % c, 'add_scalar', [(U([3, 4]), 'f')],
                 lambda x, c=c: x + c, fp=[c])
        add_case('mul_scalar %g [3,4]' % c, 'mul_scalar', [(U([3, 4]), 'f')],
                 lambda x, c=c: x * c, fp=[c])
    add_case('add_scalar 1 [1023]', 'add_scalar', [(U([1023]), 'f')], lambda x: x + 1.0, fp=[1.0])
    add_case('mul_scalar 3 [17]', 'mul_scalar', [(U([17]), 'f')], lambda x: x * 3.0, fp=[3.0])
    for p, lo, hi in ((2.5, 0.2, 3.0), (-1.5, 0.2, 3.0), (0.5, 0.2, 3.0), (-1.0, 0.3, 3.0),
                      (2.0, -2.0, 2.0), (3.0, -2.0, 2.0), (1.0, -2.0, 2.0)):
        add_case('pow %g [3,4]' % p, 'pow', [(U([3, 4], lo, hi), 'f')],
                 lambda x, p=p: x ** p, fp=[p])
    add_case('pow 1.5 [17]', 'pow', [(U([17], 0.2, 3.0), 'f')], lambda x: x ** 1.5, fp=[1.5])
    # clamp: values away from the bounds, then a deliberate case at the bounds
    x = U([4, 5], -2, 2)
    x = torch.where((x - 0.5).abs() < 0.05, x + 0.1, x)
    x = torch.where((x + 0.5).abs() < 0.05, x - 0.1, x)
    add_case('clamp [-0.5,0.5] [4,5]', 'clamp', [(x, 'f')],
             lambda t: torch.clamp(t, -0.5, 0.5), fp=[-0.5, 0.5])
    add_case('clamp [17] lo=0 hi=1', 'clamp', [(away([17], 0.05, 0.95) * 2, 'f')],
             lambda t: torch.clamp(t, 0.0, 1.0), fp=[0.0, 1.0])
    b = torch.tensor([-1.0, -0.5, 0.0, 0.5, 1.0])
    add_case('clamp passes at lo and hi', 'clamp', [(b, 'f')],
             lambda t: torch.clamp(t, -0.5, 0.5), fp=[-0.5, 0.5])
    # stability: forward values (and gradients) at large |x|
    big = torch.tensor([-1e4, -100.0, -20.0, 20.0, 100.0, 1e4])
    for op in ('sigmoid', 'softplus', 'log_sigmoid', 'tanh'):
        add_case('%s stable +-20,+-100,+-1e4' % op, op, [(big, 'f')], un[op][0])


def gen_matmul():
    def mm_ex(trans):
        def f(a, b):
            if trans & TRANS_A:
                a = a.transpose(-1, -2)
            if trans & TRANS_B:
                b = b.transpose(-1, -2)
            return torch.matmul(a, b)
        return f
    for m, k, n in ((3, 4, 5), (1, 7, 17), (7, 17, 1), (17, 33, 7), (1, 1, 1), (33, 65, 17)):
        add_case('matmul [%d,%d]@[%d,%d]' % (m, k, k, n), 'matmul',
                 [(U([m, k]), 'f'), (U([k, n]), 'f')], torch.matmul)
    for bt, m, k, n in ((2, 3, 4, 5), (3, 7, 17, 5), (1, 2, 3, 4)):
        add_case('matmul batched [%d,%d,%d]@[%d,%d,%d]' % (bt, m, k, bt, k, n), 'matmul',
                 [(U([bt, m, k]), 'f'), (U([bt, k, n]), 'f')], torch.matmul)
    names = {TRANS_A: 'TRANS_A', TRANS_B: 'TRANS_B', TRANS_A | TRANS_B: 'TRANS_A|TRANS_B'}
    for trans, nm in names.items():
        for m, k, n in ((3, 4, 5), (7, 17, 1), (17, 7, 33)):
            sa = [k, m] if trans & TRANS_A else [m, k]
            sb = [n, k] if trans & TRANS_B else [k, n]
            add_case('matmul_ex %s %s@%s' % (nm, sh(torch.zeros(sa)), sh(torch.zeros(sb))),
                     'matmul_ex', [(U(sa), 'f'), (U(sb), 'f')], mm_ex(trans), ip=[trans])
    # batched with a transposed b: attention's q @ k^T
    add_case('matmul_ex TRANS_B batched [2,3,4]@[2,5,4]', 'matmul_ex',
             [(U([2, 3, 4]), 'f'), (U([2, 5, 4]), 'f')], mm_ex(TRANS_B), ip=[TRANS_B])


def gen_reduce():
    x3 = [2, 3, 4]
    for op, f in (('sum', torch.sum), ('mean', torch.mean)):
        for s, ax in (([3, 4], 0), ([3, 4], 1), ([3, 4], -1), (x3, 1), (x3, -3), ([17, 7], 0),
                      ([1023], 0), ([3, 1023], 1), ([5], 0), ([1], 0)):
            for kd in (0, 1):
                if s in ([5], [1], [3, 1023]) and kd == 1:
                    continue
                add_case('%s axis=%d keepdim=%d %s' % (op, ax, kd, sh(torch.zeros(s))), op,
                         [(U(s), 'f')], lambda t, ax=ax, kd=kd, f=f: f(t, dim=ax, keepdim=bool(kd)),
                         ip=[ax, kd])
        for s, mask in (([2, 3, 4], 0b101), ([2, 3, 4], 0b110), ([2, 3, 4], 0b111), ([3, 4], 0b11),
                        ([2, 3, 4, 5], 0b1010)):
            dims = tuple(i for i in range(len(s)) if mask >> i & 1)
            for kd in (0, 1):
                add_case('%s_axes mask=0x%x keepdim=%d %s' % (op, mask, kd, sh(torch.zeros(s))),
                         op + '_axes', [(U(s), 'f')],
                         lambda t, dims=dims, kd=kd, f=f: f(t, dim=dims, keepdim=bool(kd)),
                         ip=[mask, kd])
        for s in ([3, 4], [2, 3, 4], [1023], [17, 7], [1], []):
            add_case('%s_all %s' % (op, sh(torch.zeros(s))), op + '_all', [(U(s), 'f')],
                     lambda t, f=f: f(t))
    # max: distinct values (no ties) through torch autograd; first-index rule applied
    for s, ax in (([3, 4], 0), ([3, 4], 1), ([3, 4], -1), ([2, 3, 4], 1), ([2, 3, 4], -3),
                  ([17, 7], 0), ([1023], 0), ([1], 0)):
        for kd in (0, 1):
            add_case('max axis=%d keepdim=%d %s' % (ax, kd, sh(torch.zeros(s))), 'max',
                     [(distinct(s), 'f')],
                     lambda t, ax=ax, kd=kd: torch.amax(t, dim=ax, keepdim=bool(kd)),
                     ip=[ax, kd], max_axes=([ax], kd))
    for s, mask in (([2, 3, 4], 0b101), ([2, 3, 4], 0b110), ([3, 4], 0b11)):
        dims = [i for i in range(len(s)) if mask >> i & 1]
        for kd in (0, 1):
            add_case('max_axes mask=0x%x keepdim=%d %s' % (mask, kd, sh(torch.zeros(s))),
                     'max_axes', [(distinct(s), 'f')],
                     lambda t, dims=dims, kd=kd: torch.amax(t, dim=dims, keepdim=bool(kd)),
                     ip=[mask, kd], max_axes=(dims, kd))
    for s in ([3, 4], [2, 3, 4], [1023], [1]):
        add_case('max_all %s' % sh(torch.zeros(s)), 'max_all', [(distinct(s), 'f')],
                 lambda t: torch.amax(t, dim=list(range(t.dim()))) if t.dim() else t.clone(),
                 max_axes=(list(range(len(s))), 0))
    # deliberate ties: the gradient goes to the FIRST maximal element (dl.h rule)
    t = torch.tensor([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 5.0], [0.0, -1.0, 0.0, -1.0]])
    add_case('max ties first axis=1', 'max', [(t, 'f')],
             lambda x: torch.amax(x, dim=1), ip=[1, 0], max_axes=([1], 0))
    add_case('max ties first axis=0', 'max', [(t, 'f')],
             lambda x: torch.amax(x, dim=0, keepdim=True), ip=[0, 1], max_axes=([0], 1))
    add_case('max_all ties first', 'max_all', [(t, 'f')],
             lambda x: torch.amax(x, dim=[0, 1]), max_axes=([0, 1], 0))
    add_case('max_axes ties first mask=0x3', 'max_axes', [(t.reshape(1, 3, 4), 'f')],
             lambda x: torch.amax(x, dim=[0, 1], keepdim=False), ip=[0b11, 0],
             max_axes=([0, 1], 0))

    def var(t, dims, c, kd):
        n = 1
        for d in dims:
            n *= t.shape[d]
        m = t.mean(dim=dims, keepdim=True)
        return ((t - m) ** 2).sum(dim=dims, keepdim=kd) / (n - c)
    for s, ax in (([3, 4], 1), ([3, 4], 0), ([2, 3, 4], -1), ([17, 7], 0), ([1023], 0)):
        for c in (0, 1):
            for kd in (0, 1):
                if s == [1023] and kd:
                    continue
                add_case('var axis=%d correction=%d keepdim=%d %s'
                         % (ax, c, kd, sh(torch.zeros(s))),
                         'var', [(U(s), 'f')],
                         lambda t, ax=ax, c=c, kd=kd: var(t, [ax], c, bool(kd)), ip=[ax, c, kd])
    for s, mask in (([2, 3, 4], 0b101), ([2, 3, 4], 0b111), ([3, 4], 0b11)):
        dims = [i for i in range(len(s)) if mask >> i & 1]
        for c in (0, 1):
            for kd in (0, 1):
                add_case('var_axes mask=0x%x correction=%d keepdim=%d %s'
                         % (mask, c, kd, sh(torch.zeros(s))),
                         'var_axes', [(U(s), 'f')],
                         lambda t, dims=dims, c=c, kd=kd: var(t, dims, c, bool(kd)),
                         ip=[mask, c, kd])
    # argmax: forward only, int32 output
    for s, ax, kd in (([3, 4], 1, 0), ([3, 4], 0, 1), ([2, 3, 4], -1, 0), ([2, 3, 4], 1, 1),
                      ([1023], 0, 0), ([17, 7], 0, 0)):
        add_case('argmax axis=%d keepdim=%d %s' % (ax, kd, sh(torch.zeros(s))), 'argmax',
                 [(distinct(s), 'f')],
                 lambda t, ax=ax, kd=kd: torch.argmax(t, dim=ax, keepdim=bool(kd)),
                 ip=[ax, kd], backward=False)
    add_case('argmax ties first', 'argmax', [(t, 'f')], lambda x: torch.argmax(x, dim=1),
             ip=[1, 0], backward=False)
    # logsumexp / softmax / log_softmax along several axes
    for s, ax in (([3, 4], 1), ([3, 4], 0), ([3, 4], -1), ([2, 3, 4], 1), ([2, 3, 4], -3),
                  ([17, 7], 1), ([1023], 0), ([1], 0)):
        x = U(s, -3, 3)
        for kd in (0, 1):
            add_case('logsumexp axis=%d keepdim=%d %s' % (ax, kd, sh(x)), 'logsumexp', [(x, 'f')],
                     lambda t, ax=ax, kd=kd: torch.logsumexp(t, dim=ax, keepdim=bool(kd)),
                     ip=[ax, kd])
        add_case('softmax axis=%d %s' % (ax, sh(x)), 'softmax', [(x, 'f')],
                 lambda t, ax=ax: torch.softmax(t, dim=ax), ip=[ax])
        add_case('log_softmax axis=%d %s' % (ax, sh(x)), 'log_softmax', [(x, 'f')],
                 lambda t, ax=ax: torch.log_softmax(t, dim=ax), ip=[ax])
    # stability at |x| = 1e4
    stab = {
        'all +1e4': torch.full([2, 5], 1e4),
        'all -1e4': torch.full([2, 5], -1e4),
        'one +1e4': torch.tensor([[0.5, 1e4, -0.25, 0.0, 1.0], [1e4, -1e4, 2.0, 0.0, -1.0]]),
    }
    for nm, x in stab.items():
        add_case('logsumexp stable %s' % nm, 'logsumexp', [(x, 'f')],
                 lambda t: torch.logsumexp(t, dim=1), ip=[1, 0])
        add_case('softmax stable %s' % nm, 'softmax', [(x, 'f')],
                 lambda t: torch.softmax(t, dim=1), ip=[1])
        add_case('log_softmax stable %s' % nm, 'log_softmax', [(x, 'f')],
                 lambda t: torch.log_softmax(t, dim=1), ip=[1])


def gen_shape():
    x = U([2, 3, 4])
    for s in ([6, 4], [4, -1], [-1], [2, 12], [1, 24, 1], [2, 3, 2, 2]):
        add_case('reshape %s->[%s]' % (sh(x), ','.join(map(str, s))),
                 'reshape', [(x, 'f')], lambda t, s=s: t.reshape(s), ip=[len(s)] + s)
    add_case('reshape [17,7]->[-1,17]', 'reshape', [(U([17, 7]), 'f')],
             lambda t: t.reshape(-1, 17), ip=[2, -1, 17])
    add_case('reshape [1]->[]', 'reshape', [(U([1]), 'f')], lambda t: t.reshape([]), ip=[0])
    x4 = U([2, 3, 4, 5])
    for a, b in ((1, 2), (0, -1), (0, 1), (2, 3), (1, 1)):
        add_case('flatten %d..%d %s' % (a, b, sh(x4)), 'flatten', [(x4, 'f')],
                 lambda t, a=a, b=b: torch.flatten(t, a, b), ip=[a, b])
    for s, ax in (([3, 1, 4], 1), ([1, 5], 0), ([5, 1], -1), ([1], 0)):
        add_case('squeeze %d %s' % (ax, sh(torch.zeros(s))), 'squeeze', [(U(s), 'f')],
                 lambda t, ax=ax: t.squeeze(ax), ip=[ax])
    for s, ax in (([3, 4], 0), ([3, 4], 1), ([3, 4], 2), ([3, 4], -1), ([], 0)):
        add_case('unsqueeze %d %s' % (ax, sh(torch.zeros(s))), 'unsqueeze', [(U(s), 'f')],
                 lambda t, ax=ax: t.unsqueeze(ax), ip=[ax])
    for s, a, b in (([3, 4], 0, 1), ([2, 3, 4], 0, 2), ([2, 3, 4], -1, -2), ([17, 7], 1, 0)):
        add_case('transpose %d,%d %s' % (a, b, sh(torch.zeros(s))), 'transpose', [(U(s), 'f')],
                 lambda t, a=a, b=b: t.transpose(a, b), ip=[a, b])
        add_case('contiguous of transpose %d,%d %s' % (a, b, sh(torch.zeros(s))), 'contiguous_t',
                 [(U(s), 'f')], lambda t, a=a, b=b: t.transpose(a, b).contiguous(), ip=[a, b])
    for s, p in (([2, 3, 4], [2, 0, 1]), ([2, 3, 4], [1, 2, 0]), ([2, 3, 4, 5], [0, 2, 3, 1]),
                 ([3, 4], [1, 0]), ([2, 3, 4], [0, 1, 2])):
        add_case('permute %s %s' % (p, sh(torch.zeros(s))), 'permute', [(U(s), 'f')],
                 lambda t, p=p: t.permute(p), ip=p)

    def slc(ax, a, b, st):
        def f(t):
            ix = [slice(None)] * t.dim()
            ix[ax] = slice(a, b, st)
            return t[tuple(ix)]
        return f
    for s, ax, a, b, st in (([10], 0, 2, 8, 1), ([10], 0, 1, 10, 3), ([10], 0, -5, 10, 1),
                            ([10], 0, -7, -1, 2), ([4, 6], 1, 1, 5, 2), ([4, 6], 0, 1, 3, 1),
                            ([2, 5, 3], -2, -4, 5, 2), ([17, 7], 0, 0, 17, 4)):
        add_case('slice axis=%d %d:%d:%d %s' % (ax, a, b, st, sh(torch.zeros(s))), 'slice',
                 [(U(s), 'f')], slc(ax, a, b, st), ip=[ax, a, b, st])
    for shapes, ax in ((([2, 3], [4, 3]), 0), (([2, 3], [2, 1], [2, 5]), 1),
                       (([2, 3, 4], [2, 1, 4], [2, 2, 4]), 1), (([3, 2], [3, 5]), -1),
                       (([7], [17], [1]), 0)):
        xs = [(U(s), 'f') for s in shapes]
        add_case('concat axis=%d %s' % (ax, '+'.join(sh(t) for t, _ in xs)), 'concat', xs,
                 lambda *ts, ax=ax: torch.cat(ts, ax), ip=[ax])
    for shapes, ax in ((([2, 3], [2, 3]), 0), (([2, 3], [2, 3], [2, 3]), 1),
                       (([2, 3], [2, 3]), 2), (([4], [4], [4], [4]), 1)):
        xs = [(U(s), 'f') for s in shapes]
        add_case('stack axis=%d %dx%s' % (ax, len(xs), sh(xs[0][0])), 'stack', xs,
                 lambda *ts, ax=ax: torch.stack(ts, ax), ip=[ax])
    for s, ax, sizes in (([6, 4], 0, [2, 3, 1]), ([3, 7], 1, [3, 4]), ([2, 6, 3], 1, [1, 2, 3]),
                         ([5, 4], -1, [2, 2]), ([10], 0, [1, 2, 3, 4])):
        add_case('split axis=%d %s %s' % (ax, sizes, sh(torch.zeros(s))), 'split', [(U(s), 'f')],
                 lambda t, ax=ax, sizes=sizes: torch.split(t, sizes, ax),
                 ip=[ax, len(sizes)] + sizes)
    # ops applied to views (non-contiguous inputs)
    add_case('add of a transposed view [4,3]^T+[3,4]', 'add_tview',
             [(U([4, 3]), 'f'), (U([3, 4]), 'f')], lambda a, b: a.t() + b)
    add_case('mul of a strided slice [8,3][0:8:2]*[3]', 'mul_sliceview',
             [(U([8, 3]), 'f'), (U([3]), 'f')], lambda a, b: a[0:8:2] * b)
    add_case('exp of a permuted view [2,3,4]', 'exp_permview', [(U([2, 3, 4]), 'f')],
             lambda t: torch.exp(t.permute(2, 0, 1)))
    add_case('sum axis=1 of a transposed view [5,3]', 'sum_tview', [(U([5, 3]), 'f')],
             lambda t: t.t().sum(1))
    add_case('matmul of a transposed view [4,3]^T@[4,5]', 'matmul_tview',
             [(U([4, 3]), 'f'), (U([4, 5]), 'f')], lambda a, b: a.t() @ b)
    add_case('softmax axis=1 of a transposed view [5,3]', 'softmax_tview', [(U([5, 3]), 'f')],
             lambda t: torch.softmax(t.t(), dim=1))


def gen_index():
    x = U([5, 4])
    add_case('index_select axis=0 repeated [5,4]', 'index_select',
             [(x, 'f'), (idx([4, 0, 4, 2, 4, 1]), 'i')],
             lambda t, i: torch.index_select(t, 0, i), ip=[0])
    add_case('index_select axis=1 repeated [5,4]', 'index_select',
             [(x, 'f'), (idx([3, 3, 0]), 'i')], lambda t, i: torch.index_select(t, 1, i), ip=[1])
    add_case('index_select axis=-1 [2,3,4]', 'index_select',
             [(U([2, 3, 4]), 'f'), (idx([1, 1, 2, 0, 3]), 'i')],
             lambda t, i: torch.index_select(t, -1, i), ip=[-1])
    add_case('index_select embedding [17,7] x 9', 'index_select',
             [(U([17, 7]), 'f'), (randidx([9], 17), 'i')],
             lambda t, i: torch.index_select(t, 0, i), ip=[0])
    add_case('gather axis=1 repeated [4,5]', 'gather',
             [(U([4, 5]), 'f'), (idx([[0, 0, 4], [1, 2, 1], [3, 3, 3], [4, 0, 2]]), 'i')],
             lambda t, i: torch.gather(t, 1, i), ip=[1])
    add_case('gather axis=1 picks [6,10]<-[6,1]', 'gather',
             [(U([6, 10]), 'f'), (randidx([6, 1], 10), 'i')],
             lambda t, i: torch.gather(t, 1, i), ip=[1])
    add_case('gather axis=0 repeated [3,4]', 'gather',
             [(U([3, 4]), 'f'), (idx([[2, 0, 1, 2], [2, 2, 0, 1]]), 'i')],
             lambda t, i: torch.gather(t, 0, i), ip=[0])
    add_case('gather axis=-1 [2,3,4]', 'gather',
             [(U([2, 3, 4]), 'f'), (randidx([2, 3, 6], 4), 'i')],
             lambda t, i: torch.gather(t, -1, i), ip=[-1])
    add_case('one_hot [5] C=4', 'one_hot', [(idx([0, 3, 1, 3, 2]), 'i')],
             lambda i: F.one_hot(i, 4).to(torch.float64), ip=[4], backward=False)
    add_case('one_hot [2,3] C=5', 'one_hot', [(idx([[4, 0, 1], [1, 1, 3]]), 'i')],
             lambda i: F.one_hot(i, 5).to(torch.float64), ip=[5], backward=False)
    add_case('one_hot [] C=3', 'one_hot', [(idx(2, []), 'i')],
             lambda i: F.one_hot(i, 3).to(torch.float64), ip=[3], backward=False)


# ---------------------------------------------------------------- C writer
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


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def write(path):
    arrays = []
    counter = [0]
    seen = {}

    def arr(t, kind):
        if t is None:
            return '0'
        flat = t.reshape(-1).tolist()
        key = (kind, t.numpy().tobytes())  # bytes: keeps -0.0 apart from 0.0
        if key in seen:            # identical data (an input reused, dx == dy...): share it
            return seen[key]
        name = 'ref_d%d' % counter[0]
        counter[0] += 1
        seen[key] = name
        if kind == 'i':
            arrays.append(fmt_array('int32_t', name, flat, lambda v: str(int(v))))
        else:
            arrays.append(fmt_array('float', name, flat, fmt_f))
        return name

    def tens(kind, t, g):
        shape = [int(d) for d in t.shape] + [0] * (6 - t.dim())
        fv = arr(t, 'f') if kind != 'i' else '0'
        iv = arr(t, 'i') if kind == 'i' else '0'
        gv = arr(g, 'f') if g is not None else '0'
        return '{%d, {%s}, %d, %s, %s, %s}' % (t.dim(), ', '.join(map(str, shape)),
                                               1 if kind == 'i' else 0, fv, iv, gv)

    empty = '{0, {0, 0, 0, 0, 0, 0}, 0, 0, 0, 0}'
    rows = []
    for c in cases:
        ins = [tens(*x) for x in c['ins']] + [empty] * (MAX_IN - len(c['ins']))
        outs = [tens(*x) for x in c['outs']] + [empty] * (MAX_OUT - len(c['outs']))
        ip = c['ip'] + [0] * (N_IP - len(c['ip']))
        fp = [fmt_f(v) for v in c['fp']] + ['0.0f'] * (N_FP - len(c['fp']))
        rows.append('    {%s, %s, {%s}, {%s}, %d, %d, %d,\n     {%s},\n     {%s}}' % (
            c_str(c['name']), c_str(c['op']), ', '.join(map(str, ip)), ', '.join(fp),
            len(c['ins']), len(c['outs']), c['backward'],
            ',\n      '.join(ins), ',\n      '.join(outs)))
    hdr = '''/* tests/ref_ops.h - GENERATED by tests/gen_ref.py with PyTorch %s (seed %d).
   Do not edit: change tests/gen_ref.py and run  /usr/bin/python3 tests/gen_ref.py
   %d cases. Per case: op, parameters (ip/fp, meaning per op: see gen_ref.py and
   tests/test_ref.c), inputs, outputs, the upstream gradient of each output and the
   gradient of each float input (NULL: no gradient). Values are float32, computed in
   float64 and rounded once. */
#ifndef DL_TEST_REF_OPS_H
#define DL_TEST_REF_OPS_H
#include <stdint.h>

#define REF_MAX_IN %d
#define REF_MAX_OUT %d

typedef struct ref_tensor {
    int ndim;
    int64_t shape[6];
    int is_index;          /* 1: DL_I32 values in i, else float values in f            */
    const float *f;
    const int32_t *i;
    const float *grad;     /* input: expected gradient (0: none); output: upstream dy */
} ref_tensor;

typedef struct ref_case {
    const char *name;
    const char *op;
    int ip[%d];            /* int parameters: axis, keepdim, trans, dims, perm, sizes  */
    float fp[%d];          /* float parameters: scalar c, p, lo, hi                    */
    int n_in, n_out;
    int backward;          /* 0: forward only (argmax, one_hot)                        */
    ref_tensor in[REF_MAX_IN];
    ref_tensor out[REF_MAX_OUT];
} ref_case;
''' % (torch.__version__, SEED, len(cases), MAX_IN, MAX_OUT, N_IP, N_FP)
    body = '\n'.join(arrays)
    table = ('\nstatic const ref_case ref_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
             '#define REF_N_CASES ((int)(sizeof ref_cases / sizeof ref_cases[0]))\n'
             '#endif\n')
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + body + '\n' + table)


def main():
    torch.set_grad_enabled(True)
    gen_binary()
    gen_where()
    gen_unary()
    gen_matmul()
    gen_reduce()
    gen_shape()
    gen_index()
    names = [c['name'] for c in cases]
    dup = {n for n in names if names.count(n) > 1}
    assert not dup, dup
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_ops.h')
    write(path)
    print('%s: %d cases, %d bytes' % (path, len(cases), os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
