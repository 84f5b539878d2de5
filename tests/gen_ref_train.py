#!/usr/bin/python3
"""tests/gen_ref_train.py - writes tests/ref_train.h: PyTorch reference values for the
training stack of dl.h (activations, losses, optimizers, LR schedules, gradient clipping,
init gains).

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_train.py
The output is committed, so the C tests (tests/test_train.c) never need Python.

Activations and losses: inputs are float32 values; the math runs in float64 and is
rounded to float32 once (as tests/gen_ref.py does). Each case records the inputs, the
output, a fixed random upstream gradient of the output's shape and torch autograd's
gradient of every float input that has one.

Optimizers: two parameters ([3,4] weight, [4] bias), 12 steps; before each step p.grad
is set from committed random arrays, then opt.step(). Runs in float64 with the
float32-rounded hyperparameters the C code sees; the trajectory is rounded once.

Losses torch does not have: hinge = clamp(1 - t s, min=0) reduced; maxout =
x.view(N, C, k).max(-1). dl_kl_div's DL_REDUCE_MEAN is torch's reduction='batchmean'.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

SEED = 4321
N_STEPS = 12
N_EPOCHS = 15
GEN = torch.Generator().manual_seed(SEED)
torch.manual_seed(SEED)

RED = {'mean': 0, 'sum': 1, 'none': 2}      # dl_reduction values

cases = []      # activation / loss cases
optims = []
scheds = []
plateaus = []
clips = []
gains = []


def f32(t):
    return t.to(torch.float32)


def r32(v):
    """a Python float rounded to float32, as the C code sees it"""
    return float(np.float32(v))


def U(shape, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo)


def away(shape, lo=0.1, hi=1.0):
    mag = U(shape, lo, hi)
    sgn = torch.where(torch.rand(shape, generator=GEN) < 0.5, -1.0, 1.0)
    return f32(mag * sgn)


def randidx(shape, n):
    return torch.randint(0, n, shape, generator=GEN, dtype=torch.int64).to(torch.int32)


def probs(shape):
    return f32(torch.softmax(torch.randn(shape, generator=GEN, dtype=torch.float64) * 1.5, -1))


def sh(t):
    return '[' + ','.join(str(int(d)) for d in t.shape) + ']'


# ---------------------------------------------------------------- case recorder
def add_case(name, op, inputs, fn, ip=(), fp=()):
    """inputs: list of (tensor, kind): 'f' float with gradient, 'c' float constant,
    'i' int32 index tensor. fn(*torch_inputs) -> tensor."""
    assert len(inputs) <= 4 and len(ip) <= 4 and len(fp) <= 4
    tin = []
    for t, kind in inputs:
        if kind == 'i':
            tin.append(t.to(torch.int64))
        else:
            x = t.to(torch.float32).to(torch.float64).clone()
            if kind == 'f':
                x.requires_grad_(True)
            tin.append(x)
    out = fn(*tin)
    up = f32(U(list(out.shape))).to(torch.float64)
    out.backward(up)
    rec = []
    for (t, kind), x in zip(inputs, tin):
        g = None
        if kind == 'f':
            g = x.grad if x.grad is not None else torch.zeros_like(x)
            assert torch.isfinite(g).all(), (name, g)
            g = f32(g)
        rec.append((kind, t, g))
    o = out.detach()
    assert torch.isfinite(o).all(), name
    cases.append(dict(name=name, op=op, ip=list(ip), fp=[r32(v) for v in fp], ins=rec,
                      out=(f32(o), f32(up))))


# ---------------------------------------------------------------- activations
def edge_values(extra=()):
    """extreme and exact-zero inputs"""
    v = [-100.0, 100.0, 0.0, -0.0, 1e-3, -1e-3, -5.0, 5.0, -30.0, 30.0] + list(extra)
    return torch.tensor(v, dtype=torch.float32)


def gen_activations():
    acts = [
        ('leaky_relu 0.01', 'leaky_relu', [0.01], lambda x: F.leaky_relu(x, r32(0.01)), ()),
        ('leaky_relu 0.2', 'leaky_relu', [0.2], lambda x: F.leaky_relu(x, r32(0.2)), ()),
        ('elu 1', 'elu', [1.0], lambda x: F.elu(x, 1.0), ()),
        ('elu 0.5', 'elu', [0.5], lambda x: F.elu(x, 0.5), ()),
        ('selu', 'selu', [], F.selu, ()),
        ('gelu', 'gelu', [], F.gelu, ()),
        ('gelu_tanh', 'gelu_tanh', [], lambda x: F.gelu(x, approximate='tanh'), ()),
        ('silu', 'silu', [], F.silu, ()),
        ('hard_tanh -1,1', 'hard_tanh', [-1.0, 1.0], lambda x: F.hardtanh(x, -1.0, 1.0),
         (-1.0, 1.0, 0.999, -0.999)),
        ('hard_tanh -2,0.5', 'hard_tanh', [-2.0, 0.5], lambda x: F.hardtanh(x, -2.0, 0.5),
         (-2.0, 0.5, 0.4999, -1.999)),
        ('softsign', 'softsign', [], F.softsign, ()),
        ('dropout eval', 'dropout', [0.5], lambda x: F.dropout(x, 0.5, training=False), ()),
    ]
    for name, op, fp, fn, extra in acts:
        for n in (1, 7, 17):
            add_case('%s [%d]' % (name, n), op, [(U([n], -3, 3), 'f')], fn, fp=fp)
        add_case('%s [3,5]' % name, op, [(U([3, 5], -3, 3), 'f')], fn, fp=fp)
        add_case('%s edges' % name, op, [(edge_values(extra), 'f')], fn, fp=fp)
    # prelu: a [1] and a [C], C = x.shape[1]; gradient of the weight too
    add_case('prelu a[1] [5,7]', 'prelu', [(U([5, 7], -3, 3), 'f'), (U([1], 0.05, 0.5), 'f')],
             F.prelu)
    add_case('prelu a[C] [4,3]', 'prelu', [(U([4, 3], -3, 3), 'f'), (U([3], 0.05, 0.5), 'f')],
             F.prelu)
    add_case('prelu a[C] [2,3,2,2]', 'prelu',
             [(U([2, 3, 2, 2], -3, 3), 'f'), (U([3], -0.5, 0.5), 'f')], F.prelu)
    add_case('prelu a[C] [1,17]', 'prelu', [(U([1, 17], -3, 3), 'f'), (U([17], 0.05, 0.5), 'f')],
             F.prelu)
    add_case('prelu a[1] [1,1]', 'prelu', [(U([1, 1], -3, 3), 'f'), (U([1], 0.05, 0.5), 'f')],
             F.prelu)
    add_case('prelu a[C] edges', 'prelu',
             [(edge_values().reshape(5, 2), 'f'), (torch.tensor([0.25, 0.1]), 'f')], F.prelu)

    # maxout: [N, C*k] -> [N, C]; distinct values (no ties)
    def maxout(k):
        return lambda x: x.view(x.shape[0], x.shape[1] // k, k).max(-1)[0]

    def distinct(n, spacing=0.125):
        perm = torch.randperm(n, generator=GEN).to(torch.float64)
        return f32((perm - n / 2.0) * spacing)

    for k, (N, C) in ((2, (1, 1)), (2, (3, 7)), (2, (2, 17)), (3, (1, 1)), (3, (4, 7)),
                      (3, (2, 17))):
        add_case('maxout k=%d [%d,%d]' % (k, N, C * k), 'maxout',
                 [(distinct(N * C * k).reshape(N, C * k), 'f')], maxout(k), ip=[k])
    e = torch.tensor([[-100.0, 100.0, 0.0, -1.0, -0.5, -100.0]])
    add_case('maxout k=2 edges', 'maxout', [(e, 'f')], maxout(2), ip=[2])
    add_case('maxout k=3 edges', 'maxout', [(e, 'f')], maxout(3), ip=[3])


# ---------------------------------------------------------------- losses
def hinge(s, t, reduction):
    l = torch.clamp(1 - t * s, min=0)
    return l.mean() if reduction == 'mean' else l.sum() if reduction == 'sum' else l


def gen_losses():
    for r in ('mean', 'sum', 'none'):
        ri = [RED[r]]
        p, t = U([4, 5], -2, 2), U([4, 5], -2, 2)
        add_case('mse %s [4,5]' % r, 'mse', [(p, 'f'), (t, 'f')],
                 lambda a, b: F.mse_loss(a, b, reduction=r), ip=ri)
        add_case('mse %s [17]' % r, 'mse', [(U([17]), 'f'), (U([17]), 'f')],
                 lambda a, b: F.mse_loss(a, b, reduction=r), ip=ri)
        p = U([4, 5], -2, 2)
        t = p.clone() + away([4, 5], 0.05, 1.0)
        t.view(-1)[3] = p.view(-1)[3]          # one exact zero difference: l1'(0) = 0
        add_case('l1 %s [4,5]' % r, 'l1', [(p, 'f'), (t, 'f')],
                 lambda a, b: F.l1_loss(a, b, reduction=r), ip=ri)
        for delta in (1.0, 0.5):
            p, t = U([4, 5], -2, 2), U([4, 5], -2, 2)
            add_case('huber d=%g %s [4,5]' % (delta, r), 'huber', [(p, 'f'), (t, 'f')],
                     lambda a, b: F.huber_loss(a, b, reduction=r, delta=delta), ip=ri,
                     fp=[delta])
        z = U([4, 5], -4, 4)
        z.view(-1)[0], z.view(-1)[1], z.view(-1)[2] = 100.0, -100.0, 0.0
        tt = U([4, 5], 0, 1)
        tt.view(-1)[4], tt.view(-1)[5] = 0.0, 1.0
        add_case('bce_with_logits %s [4,5]' % r, 'bce_with_logits', [(z, 'f'), (tt, 'f')],
                 lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction=r), ip=ri)
        # cross-entropy: class indices / probabilities, label smoothing 0 / 0.1
        for ls in (0.0, 0.1):
            add_case('ce index ls=%g %s [5,4]' % (ls, r), 'ce',
                     [(U([5, 4], -3, 3), 'f'), (randidx([5], 4), 'i')],
                     lambda a, b: F.cross_entropy(a, b, reduction=r, label_smoothing=r32(ls)),
                     ip=ri, fp=[ls])
            add_case('ce prob ls=%g %s [5,4]' % (ls, r), 'ce',
                     [(U([5, 4], -3, 3), 'f'), (probs([5, 4]), 'f')],
                     lambda a, b: F.cross_entropy(a, b, reduction=r, label_smoothing=r32(ls)),
                     ip=ri, fp=[ls])
        lp = f32(torch.log_softmax(U([5, 4], -3, 3).to(torch.float64), 1))
        add_case('nll %s [5,4]' % r, 'nll', [(lp, 'f'), (randidx([5], 4), 'i')],
                 lambda a, b: F.nll_loss(a, b, reduction=r), ip=ri)
        s = away([8], 0.05, 2.0)
        tgt = torch.where(torch.rand([8], generator=GEN) < 0.5, -1.0, 1.0)
        # keep 1 - t s away from the kink at 0
        s = torch.where((1 - tgt * s).abs() < 0.05, s + 0.2, s)
        add_case('hinge %s [8]' % r, 'hinge', [(s, 'f'), (tgt, 'f')],
                 lambda a, b: hinge(a, b, r), ip=ri)
        s2 = U([4, 3], -2, 2)
        t2 = torch.where(torch.rand([4, 3], generator=GEN) < 0.5, -1.0, 1.0)
        s2 = torch.where((1 - t2 * s2).abs() < 0.05, s2 + 0.2, s2)
        add_case('hinge %s [4,3]' % r, 'hinge', [(s2, 'f'), (t2, 'f')],
                 lambda a, b: hinge(a, b, r), ip=ri)
        for margin in (1.0, 0.5):
            add_case('multi_margin m=%g %s [5,4]' % (margin, r), 'multi_margin',
                     [(U([5, 4], -1, 1), 'f'), (randidx([5], 4), 'i')],
                     lambda a, b: F.multi_margin_loss(a, b, p=1, margin=margin, reduction=r),
                     ip=ri, fp=[margin])
        tr = {'mean': 'batchmean', 'sum': 'sum', 'none': 'none'}[r]
        lq = f32(torch.log_softmax(U([4, 5], -2, 2).to(torch.float64), 1))
        add_case('kl_div %s [4,5]' % r, 'kl_div', [(lq, 'f'), (probs([4, 5]), 'f')],
                 lambda a, b: F.kl_div(a, b, reduction=tr), ip=ri)
        pz = probs([4, 5])
        pz[0, 1], pz[2, 3] = 0.0, 0.0          # 0 log 0 = 0 (target gradient is -inf there)
        add_case('kl_div %s p has zeros' % r, 'kl_div',
                 [(lq, 'f'), (pz, 'c')], lambda a, b: F.kl_div(a, b, reduction=tr), ip=ri)
        mu, tg, var = U([4, 3], -1, 1), U([4, 3], -1, 1), U([4, 3], 0.1, 2.0)
        add_case('gaussian_nll %s [4,3]' % r, 'gaussian_nll',
                 [(mu, 'f'), (tg, 'f'), (var, 'f')],
                 lambda a, b, v: F.gaussian_nll_loss(a, b, v, reduction=r), ip=ri)
    # stability and edge cases
    z = torch.tensor([[1e4, -1e4, 0.0, 5e3], [9999.0, 1e4, -3.0, 1.0], [-1e4, -1e4, -9999.0, -1e4]])
    for r in ('mean', 'none'):
        add_case('ce index |z|=1e4 %s' % r, 'ce', [(z, 'f'), (torch.tensor([1, 0, 2], dtype=torch.int32), 'i')],
                 lambda a, b: F.cross_entropy(a, b, reduction=r), ip=[RED[r]], fp=[0.0])
    add_case('ce prob ls=0.1 |z|=1e4 sum', 'ce', [(z, 'f'), (probs([3, 4]), 'f')],
             lambda a, b: F.cross_entropy(a, b, reduction='sum', label_smoothing=r32(0.1)),
             ip=[RED['sum']], fp=[0.1])
    add_case('ce index 1-D logits [6]', 'ce',
             [(U([6], -3, 3), 'f'), (torch.tensor(4, dtype=torch.int32), 'i')],
             lambda a, b: F.cross_entropy(a, b), ip=[RED['mean']], fp=[0.0])
    add_case('ce prob 1-D logits [6]', 'ce', [(U([6], -3, 3), 'f'), (probs([6]), 'f')],
             lambda a, b: F.cross_entropy(a, b), ip=[RED['mean']], fp=[0.0])
    add_case('ce index [1,1]', 'ce', [(U([1, 1]), 'f'), (torch.tensor([0], dtype=torch.int32), 'i')],
             lambda a, b: F.cross_entropy(a, b), ip=[RED['mean']], fp=[0.0])
    add_case('ce index ls=0.1 [7,17]', 'ce', [(U([7, 17], -3, 3), 'f'), (randidx([7], 17), 'i')],
             lambda a, b: F.cross_entropy(a, b, label_smoothing=r32(0.1)),
             ip=[RED['mean']], fp=[0.1])
    zb = torch.tensor([100.0, -100.0, 100.0, -100.0, 50.0, -50.0])
    tb = torch.tensor([1.0, 0.0, 0.0, 1.0, 0.25, 0.75])
    add_case('bce_with_logits +-100 sum', 'bce_with_logits', [(zb, 'f'), (tb, 'f')],
             lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction='sum'),
             ip=[RED['sum']])
    mu, tg = U([6], -1, 1), U([6], -1, 1)
    var = torch.tensor([1e-8, 5e-7, 1e-6, 1e-3, 0.5, 2.0])
    # torch clamps var to eps=1e-6 under no_grad: the var gradient is that of the clamped
    # value, passed straight through
    add_case('gaussian_nll var<eps none', 'gaussian_nll', [(mu, 'f'), (tg, 'f'), (var, 'f')],
             lambda a, b, v: F.gaussian_nll_loss(a, b, v, reduction='none'), ip=[RED['none']])
    p = U([7], -2, 2)
    t = p.clone()
    t[1:4] += torch.tensor([1.0, -0.5, 0.5])
    add_case('huber d=0.5 |d|=delta exactly', 'huber', [(p, 'f'), (t, 'f')],
             lambda a, b: F.huber_loss(a, b, delta=0.5), ip=[RED['mean']], fp=[0.5])


# ---------------------------------------------------------------- optimizers
def gen_optims():
    p0 = [U([3, 4]), U([4])]
    grads = [[f32(torch.randn([3, 4], generator=GEN, dtype=torch.float64)),
              f32(torch.randn([4], generator=GEN, dtype=torch.float64))] for _ in range(N_STEPS)]
    C = dict(kind='DL_SGD', lr=0.0, momentum=0.0, dampening=0.0, nesterov=0, weight_decay=0.0,
             no_weight_decay=0, alpha=0.0, centered=0, eps=0.0, beta1=0.0, beta2=0.0,
             amsgrad=0, lr_decay=0.0, initial_accumulator_value=0.0)

    def run(name, cls, kw, cdesc, groups=None, set_lr=None):
        """kw: torch kwargs (float32-rounded); cdesc: the C desc fields that are set.
        groups: [(set, lr, wd) for the weight, ... for the bias] or None.
        set_lr: (step, lr): dl_optim_set_lr(lr) before that step (0-based)."""
        ps = [p.to(torch.float64).clone().requires_grad_(True) for p in p0]
        kw = {k: (r32(v) if isinstance(v, float) else
                  tuple(r32(x) for x in v) if isinstance(v, tuple) else v) for k, v in kw.items()}
        if groups:
            pg = []
            for p, (gset, glr, gwd) in zip(ps, groups):
                d = {'params': [p]}
                if gset & 1:
                    d['lr'] = r32(glr)
                if gset & 2:
                    d['weight_decay'] = r32(gwd)
                pg.append(d)
            opt = cls(pg, **kw)
        else:
            opt = cls(ps, **kw)
        base = [g['lr'] for g in opt.param_groups]
        traj = []
        for s in range(N_STEPS):
            if set_lr and s == set_lr[0]:
                for g, b in zip(opt.param_groups, base):
                    g['lr'] = r32(set_lr[1]) * b / base[0]
            for p, g in zip(ps, grads[s]):
                p.grad = g.to(torch.float64).clone()
            opt.step()
            traj.append(torch.cat([p.detach().reshape(-1) for p in ps]))
        d = dict(C)
        d.update(cdesc)
        optims.append(dict(name=name, c=d, groups=groups, set_lr=set_lr,
                           traj=f32(torch.stack(traj))))

    O = torch.optim
    run('sgd plain (default lr)', O.SGD, dict(lr=0.01), dict(kind='DL_SGD'))
    run('sgd lr 0.1', O.SGD, dict(lr=0.1), dict(kind='DL_SGD', lr=0.1))
    run('sgd momentum 0.9', O.SGD, dict(lr=0.05, momentum=0.9), dict(kind='DL_SGD', lr=0.05, momentum=0.9))
    run('sgd momentum 0.9 dampening 0.1', O.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1),
        dict(kind='DL_SGD', lr=0.05, momentum=0.9, dampening=0.1))
    run('sgd nesterov 0.9', O.SGD, dict(lr=0.05, momentum=0.9, nesterov=True),
        dict(kind='DL_SGD', lr=0.05, momentum=0.9, nesterov=1))
    run('sgd weight_decay 0.01', O.SGD, dict(lr=0.1, weight_decay=0.01),
        dict(kind='DL_SGD', lr=0.1, weight_decay=0.01))
    run('adagrad default', O.Adagrad, dict(lr=0.01, eps=1e-10), dict(kind='DL_ADAGRAD'))
    run('adagrad lr_decay wd init_acc', O.Adagrad,
        dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1, eps=1e-10),
        dict(kind='DL_ADAGRAD', lr=0.1, lr_decay=0.01, weight_decay=0.1,
             initial_accumulator_value=0.1))
    run('rmsprop default', O.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8), dict(kind='DL_RMSPROP'))
    run('rmsprop momentum 0.9', O.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8, momentum=0.9),
        dict(kind='DL_RMSPROP', momentum=0.9))
    run('rmsprop centered', O.RMSprop, dict(lr=0.01, alpha=0.99, eps=1e-8, centered=True),
        dict(kind='DL_RMSPROP', centered=1))
    run('rmsprop centered momentum wd alpha', O.RMSprop,
        dict(lr=0.005, alpha=0.9, eps=1e-8, centered=True, momentum=0.9, weight_decay=0.01),
        dict(kind='DL_RMSPROP', lr=0.005, alpha=0.9, centered=1, momentum=0.9, weight_decay=0.01))
    run('adam default', O.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8), dict(kind='DL_ADAM'))
    run('adam lr betas eps', O.Adam, dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6),
        dict(kind='DL_ADAM', lr=1e-2, beta1=0.8, beta2=0.99, eps=1e-6))
    run('adam amsgrad', O.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, amsgrad=True),
        dict(kind='DL_ADAM', lr=1e-2, amsgrad=1))
    run('adam weight_decay 0.01', O.Adam, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
        dict(kind='DL_ADAM', lr=1e-2, weight_decay=0.01))
    run('adamw default', O.AdamW, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
        dict(kind='DL_ADAMW'))
    run('adamw lr 0.01 wd 0.1', O.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
        dict(kind='DL_ADAMW', lr=1e-2, weight_decay=0.1))
    run('adamw no_weight_decay', O.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0),
        dict(kind='DL_ADAMW', lr=1e-2, no_weight_decay=1))
    run('adamw amsgrad', O.AdamW, dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01, amsgrad=True),
        dict(kind='DL_ADAMW', lr=1e-2, amsgrad=1))
    # parameter groups: the weight inherits the desc (lr 1e-3, wd 0.1), the bias overrides
    run('adam 2 groups', O.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
        dict(kind='DL_ADAM', lr=1e-3, weight_decay=0.1), groups=[(0, 0.0, 0.0), (3, 1e-2, 0.0)])
    run('adam 2 groups explicit', O.Adam, dict(lr=5e-3, betas=(0.9, 0.999), eps=1e-8),
        dict(kind='DL_ADAM', lr=5e-3), groups=[(3, 1e-3, 0.1), (3, 1e-2, 0.0)])
    run('adam 2 groups set_lr 0.5x at step 6', O.Adam,
        dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1),
        dict(kind='DL_ADAM', lr=1e-3, weight_decay=0.1), groups=[(0, 0.0, 0.0), (3, 1e-2, 0.0)],
        set_lr=(6, 5e-4))
    run('sgd momentum set_lr 0.01 at step 4', O.SGD, dict(lr=0.05, momentum=0.9),
        dict(kind='DL_SGD', lr=0.05, momentum=0.9), set_lr=(4, 0.01))
    return p0, grads


# ---------------------------------------------------------------- schedules
def gen_scheds():
    S = torch.optim.lr_scheduler
    K = dict(kind='DL_SCHED_STEP', base_lr=0.1, step_size=0, gamma=0.0, milestones=[],
             t_max=0, eta_min=0.0, warmup_epochs=0, start_factor=0.0)

    def run(name, mk, c):
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([p], lr=r32(0.1))
        sch = mk(opt)
        lrs = []
        for _ in range(N_EPOCHS):
            lrs.append(opt.param_groups[0]['lr'])
            opt.step()
            sch.step()
        d = dict(K)
        d.update(c)
        scheds.append(dict(name=name, c=d, lr=lrs))

    run('StepLR step 3 gamma 0.5', lambda o: S.StepLR(o, 3, r32(0.5)),
        dict(kind='DL_SCHED_STEP', step_size=3, gamma=0.5))
    run('StepLR step 4 default gamma', lambda o: S.StepLR(o, 4, r32(0.1)),
        dict(kind='DL_SCHED_STEP', step_size=4))
    run('MultiStepLR [2,5] 0.1', lambda o: S.MultiStepLR(o, [2, 5], r32(0.1)),
        dict(kind='DL_SCHED_MULTISTEP', milestones=[2, 5], gamma=0.1))
    run('MultiStepLR [3,7,12] 0.5', lambda o: S.MultiStepLR(o, [3, 7, 12], r32(0.5)),
        dict(kind='DL_SCHED_MULTISTEP', milestones=[3, 7, 12], gamma=0.5))
    run('ExponentialLR 0.9', lambda o: S.ExponentialLR(o, r32(0.9)),
        dict(kind='DL_SCHED_EXPONENTIAL', gamma=0.9))
    run('CosineAnnealingLR T_max 10 eta_min 0.001',
        lambda o: S.CosineAnnealingLR(o, 10, r32(0.001)),
        dict(kind='DL_SCHED_COSINE', t_max=10, eta_min=0.001))
    run('LinearLR 1/3 over 5 (warm-up)',
        lambda o: S.LinearLR(o, start_factor=r32(1.0 / 3.0), total_iters=5),
        dict(kind='DL_SCHED_WARMUP', warmup_epochs=5, start_factor=1.0 / 3.0))
    run('LinearLR defaults (warm-up)',
        lambda o: S.LinearLR(o, start_factor=r32(1.0 / 3.0), total_iters=5),
        dict(kind='DL_SCHED_WARMUP'))
    run('LinearLR 0.1 over 8 (warm-up)',
        lambda o: S.LinearLR(o, start_factor=r32(0.1), total_iters=8),
        dict(kind='DL_SCHED_WARMUP', warmup_epochs=8, start_factor=0.1))

    def plateau(name, metrics, factor, patience, mode_max):
        metrics = [r32(m) for m in metrics]
        p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([p], lr=r32(0.1))
        sch = S.ReduceLROnPlateau(opt, mode='max' if mode_max else 'min', factor=r32(factor),
                                  patience=patience)
        lrs = []
        for m in metrics:
            opt.step()
            sch.step(m)
            lrs.append(opt.param_groups[0]['lr'])
        plateaus.append(dict(name=name, lr=0.1, factor=factor, patience=patience,
                             mode_max=mode_max, metrics=metrics, lrs=lrs))

    # improvements, a plateau, improvements smaller than the 1e-4 relative threshold (they
    # count as bad epochs), one just above it, then a long plateau (several reductions)
    plateau('min factor 0.5 patience 2',
            [1.0, 0.8, 0.7, 0.7, 0.71, 0.69995, 0.69999, 0.6999, 0.65, 0.66, 0.66, 0.66,
             0.649999, 0.66, 0.67, 0.68, 0.69, 0.70], 0.5, 2, 0)
    plateau('max factor 0.1 patience 1',
            [0.1, 0.2, 0.2, 0.2, 0.5, 0.49, 0.50002, 0.51, 0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6],
            0.1, 1, 1)


# ---------------------------------------------------------------- clipping, gains
def gen_clip():
    for name, scale, max_norm in (('norm clips', 1.0, 1.0), ('norm no clip', 1.0, 100.0),
                                  ('norm tiny grads', 1e-3, 0.5), ('norm max 0.1', 3.0, 0.1)):
        ps = [torch.zeros([3, 4], dtype=torch.float64), torch.zeros([4], dtype=torch.float64)]
        g0 = [f32(torch.randn(list(p.shape), generator=GEN, dtype=torch.float64) * scale) for p in ps]
        for p, g in zip(ps, g0):
            p.grad = g.to(torch.float64).clone()
        # torch 1.13: total_norm, clip_coef = max_norm/(norm+1e-6), clamped to 1
        norm = torch.nn.utils.clip_grad_norm_(ps, r32(max_norm))
        clips.append(dict(name=name, value=0, arg=max_norm, g0=torch.cat([g.reshape(-1) for g in g0]),
                          norm=float(norm),
                          g1=f32(torch.cat([p.grad.reshape(-1) for p in ps]))))
    for name, clip in (('value 0.5', 0.5), ('value 2', 2.0)):
        ps = [torch.zeros([3, 4], dtype=torch.float64), torch.zeros([4], dtype=torch.float64)]
        g0 = [f32(torch.randn(list(p.shape), generator=GEN, dtype=torch.float64)) for p in ps]
        for p, g in zip(ps, g0):
            p.grad = g.to(torch.float64).clone()
        torch.nn.utils.clip_grad_value_(ps, r32(clip))
        clips.append(dict(name=name, value=1, arg=clip, g0=torch.cat([g.reshape(-1) for g in g0]),
                          norm=0.0, g1=f32(torch.cat([p.grad.reshape(-1) for p in ps]))))


def gen_gains():
    cg = torch.nn.init.calculate_gain
    for nl, c, param in (('linear', 'DL_NL_LINEAR', 0.0), ('relu', 'DL_NL_RELU', 0.0),
                         ('leaky_relu', 'DL_NL_LEAKY_RELU', 0.0),
                         ('leaky_relu', 'DL_NL_LEAKY_RELU', 0.01),
                         ('leaky_relu', 'DL_NL_LEAKY_RELU', 0.2),
                         ('tanh', 'DL_NL_TANH', 0.0), ('sigmoid', 'DL_NL_SIGMOID', 0.0),
                         ('selu', 'DL_NL_SELU', 0.0)):
        gains.append((nl, c, param, cg(nl, r32(param)) if nl == 'leaky_relu' else cg(nl)))


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


def write(path, p0, grads):
    arrays = []
    counter = [0]
    seen = {}

    def arr(t, kind='f'):
        if t is None:
            return '0'
        if not torch.is_tensor(t):
            t = torch.tensor(t, dtype=torch.float32 if kind == 'f' else torch.int32)
        t = t.to(torch.float32) if kind == 'f' else t.to(torch.int32)
        flat = t.reshape(-1).tolist()
        key = (kind, t.numpy().tobytes())
        if key in seen:
            return seen[key]
        name = 'rt_d%d' % counter[0]
        counter[0] += 1
        seen[key] = name
        if kind == 'i':
            arrays.append(fmt_array('int32_t', name, flat, lambda v: str(int(v))))
        else:
            arrays.append(fmt_array('float', name, flat, fmt_f))
        return name

    def tens(kind, t, g):
        shape = [int(d) for d in t.shape] + [0] * (6 - t.dim())
        k = {'f': 'RT_GRAD', 'c': 'RT_CONST', 'i': 'RT_INDEX'}[kind]
        fv = arr(t, 'f') if kind != 'i' else '0'
        iv = arr(t, 'i') if kind == 'i' else '0'
        gv = arr(g, 'f') if g is not None else '0'
        return '{%d, {%s}, %s, %s, %s, %s}' % (t.dim(), ', '.join(map(str, shape)), k, fv, iv, gv)

    empty = '{0, {0, 0, 0, 0, 0, 0}, RT_CONST, 0, 0, 0}'
    rows = []
    for c in cases:
        ins = [tens(*x) for x in c['ins']] + [empty] * (4 - len(c['ins']))
        o, up = c['out']
        ip = c['ip'] + [0] * (4 - len(c['ip']))
        fp = [fmt_f(v) for v in c['fp']] + ['0.0f'] * (4 - len(c['fp']))
        rows.append('    {%s, %s, {%s}, {%s}, %d,\n     {%s},\n     %s}' % (
            c_str(c['name']), c_str(c['op']), ', '.join(map(str, ip)), ', '.join(fp),
            len(c['ins']), ',\n      '.join(ins), tens('c', o, up)))

    p0n = arr(torch.cat([p.reshape(-1) for p in p0]))
    gn = arr(torch.stack([torch.cat([g[0].reshape(-1), g[1].reshape(-1)]) for g in grads]))
    orows = []
    for o in optims:
        c = o['c']
        gr = o['groups'] or [(0, 0.0, 0.0), (0, 0.0, 0.0)]
        sl = o['set_lr'] or (-1, 0.0)
        orows.append('    {%s, %s, %s, %s, %s, %d, %s, %d, %s, %d, %s, %s, %s, %d, %s, %s,\n'
                     '     %d, {%d, %d}, {%s, %s}, {%s, %s}, %d, %s, %s}' % (
                         c_str(o['name']), c['kind'], fmt_f(c['lr']), fmt_f(c['momentum']),
                         fmt_f(c['dampening']), c['nesterov'], fmt_f(c['weight_decay']),
                         c['no_weight_decay'], fmt_f(c['alpha']), c['centered'], fmt_f(c['eps']),
                         fmt_f(c['beta1']), fmt_f(c['beta2']), c['amsgrad'], fmt_f(c['lr_decay']),
                         fmt_f(c['initial_accumulator_value']),
                         2 if o['groups'] else 0, gr[0][0], gr[1][0], fmt_f(gr[0][1]),
                         fmt_f(gr[1][1]), fmt_f(gr[0][2]), fmt_f(gr[1][2]), sl[0], fmt_f(sl[1]),
                         arr(o['traj'])))
    srows = []
    for s in scheds:
        c = s['c']
        ms = c['milestones'] + [0] * (4 - len(c['milestones']))
        srows.append('    {%s, %s, %s, %d, %s, {%s}, %d, %d, %s, %d, %s, %s}' % (
            c_str(s['name']), c['kind'], fmt_f(c['base_lr']), c['step_size'], fmt_f(c['gamma']),
            ', '.join(map(str, ms)), len(c['milestones']), c['t_max'], fmt_f(c['eta_min']),
            c['warmup_epochs'], fmt_f(c['start_factor']), arr(s['lr'])))
    prows = []
    for p in plateaus:
        prows.append('    {%s, %s, %s, %d, %d, %d, %s, %s}' % (
            c_str(p['name']), fmt_f(p['lr']), fmt_f(p['factor']), p['patience'], p['mode_max'],
            len(p['metrics']), arr(p['metrics']), arr(p['lrs'])))
    crows = []
    for c in clips:
        crows.append('    {%s, %d, %s, %s, %s, %s}' % (
            c_str(c['name']), c['value'], fmt_f(c['arg']), arr(c['g0']), fmt_f(c['norm']),
            arr(c['g1'])))
    grows = ['    {%s, %s, %s, %s}' % (c_str(nl), c, fmt_f(p), fmt_f(v)) for nl, c, p, v in gains]

    hdr = '''/* tests/ref_train.h - GENERATED by tests/gen_ref_train.py with PyTorch %s (seed %d).
   Do not edit: change tests/gen_ref_train.py and run  /usr/bin/python3 tests/gen_ref_train.py
   %d activation/loss cases, %d optimizer runs of %d steps, %d schedules of %d epochs,
   %d plateau runs, %d clipping cases, %d gains. Values are float32, computed in float64
   and rounded once. Needs dl.h's training-stack API (dl_optim_desc, dl_sched_desc...). */
#ifndef DL_TEST_REF_TRAIN_H
#define DL_TEST_REF_TRAIN_H
#include <stdint.h>

#define RT_STEPS %d          /* optimizer steps per run                                */
#define RT_NPARAM 16         /* optimizer params: weight [3,4] then bias [4], flattened */
#define RT_EPOCHS %d         /* schedule epochs 0..RT_EPOCHS-1                         */

enum { RT_GRAD = 0, RT_CONST = 1, RT_INDEX = 2 }; /* float needing a gradient, float, DL_I32 */

typedef struct rt_tensor {
    int ndim;
    int64_t shape[6];
    int kind;              /* RT_GRAD, RT_CONST, RT_INDEX                                */
    const float *f;
    const int32_t *i;
    const float *grad;     /* input: expected gradient (0: none); output: upstream dy    */
} rt_tensor;

/* op: leaky_relu (fp0 slope), prelu (in1 = a), elu (fp0 alpha), selu, gelu, gelu_tanh,
   silu, hard_tanh (fp0 lo, fp1 hi), softsign, maxout (ip0 k), dropout (fp0 p, eval);
   losses: ip0 = dl_reduction; huber fp0 delta, ce fp0 label_smoothing, multi_margin fp0
   margin; mse l1 huber bce_with_logits ce nll hinge multi_margin kl_div gaussian_nll.  */
typedef struct rt_case {
    const char *name;
    const char *op;
    int ip[4];
    float fp[4];
    int n_in;
    rt_tensor in[4];
    rt_tensor out;         /* out.grad: the upstream gradient                           */
} rt_case;

/* one dl_optim_desc (fields as a C user sets them: zero means default), then either one
   dl_optim_add of both params (n_groups 0) or one add per param with a dl_group_desc.
   set_lr_step >= 0: dl_optim_set_lr(set_lr) just before that step (0-based).
   traj: params after each step, RT_STEPS x RT_NPARAM.                                   */
typedef struct rt_optim_case {
    const char *name;
    dl_optim_kind kind;
    float lr, momentum, dampening; int nesterov; float weight_decay; int no_weight_decay;
    float alpha; int centered; float eps, beta1, beta2; int amsgrad;
    float lr_decay, initial_accumulator_value;
    int n_groups; unsigned gset[2]; float glr[2], gwd[2];
    int set_lr_step; float set_lr;
    const float *traj;
} rt_optim_case;

typedef struct rt_sched_case {
    const char *name;
    dl_sched_kind kind;
    float base_lr; int step_size; float gamma; int milestones[4]; int n_milestones;
    int t_max; float eta_min; int warmup_epochs; float start_factor;
    const float *lr;       /* RT_EPOCHS values: lr at epoch 0, 1, ...                    */
} rt_sched_case;

typedef struct rt_plateau_case {
    const char *name;
    float lr, factor; int patience, mode_max, n;
    const float *metric, *lr_after;   /* lr_after[i]: lr after step(metric[i])           */
} rt_plateau_case;

typedef struct rt_clip_case {
    const char *name;
    int by_value;          /* 0: clip_grad_norm_(max_norm = arg); 1: clip_grad_value_   */
    float arg;
    const float *g0;       /* grads before (RT_NPARAM)                                   */
    float norm;            /* returned total norm (by_value 0)                           */
    const float *g1;       /* grads after                                                */
} rt_clip_case;

typedef struct rt_gain_case { const char *name; dl_nonlin nl; float param, gain; } rt_gain_case;
''' % (torch.__version__, SEED, len(cases), len(optims), N_STEPS, len(scheds), N_EPOCHS,
       len(plateaus), len(clips), len(gains), N_STEPS, N_EPOCHS)
    body = '\n'.join(arrays)
    tables = '\nstatic const float *const rt_opt_p0 = %s;\n' % p0n
    tables += 'static const float *const rt_opt_grads = %s; /* RT_STEPS x RT_NPARAM */\n' % gn
    tables += '\nstatic const rt_case rt_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
    tables += '#define RT_N_CASES ((int)(sizeof rt_cases / sizeof rt_cases[0]))\n'
    tables += '\nstatic const rt_optim_case rt_optims[] = {\n' + ',\n'.join(orows) + '\n};\n'
    tables += '#define RT_N_OPTIMS ((int)(sizeof rt_optims / sizeof rt_optims[0]))\n'
    tables += '\nstatic const rt_sched_case rt_scheds[] = {\n' + ',\n'.join(srows) + '\n};\n'
    tables += '#define RT_N_SCHEDS ((int)(sizeof rt_scheds / sizeof rt_scheds[0]))\n'
    tables += '\nstatic const rt_plateau_case rt_plateaus[] = {\n' + ',\n'.join(prows) + '\n};\n'
    tables += '#define RT_N_PLATEAUS ((int)(sizeof rt_plateaus / sizeof rt_plateaus[0]))\n'
    tables += '\nstatic const rt_clip_case rt_clips[] = {\n' + ',\n'.join(crows) + '\n};\n'
    tables += '#define RT_N_CLIPS ((int)(sizeof rt_clips / sizeof rt_clips[0]))\n'
    tables += '\nstatic const rt_gain_case rt_gains[] = {\n' + ',\n'.join(grows) + '\n};\n'
    tables += '#define RT_N_GAINS ((int)(sizeof rt_gains / sizeof rt_gains[0]))\n#endif\n'
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + body + '\n' + tables)


def main():
    torch.set_grad_enabled(True)
    gen_activations()
    gen_losses()
    p0, grads = gen_optims()
    gen_scheds()
    gen_clip()
    gen_gains()
    for group in (cases, optims, scheds, plateaus, clips):
        names = [c['name'] for c in group]
        dup = {n for n in names if names.count(n) > 1}
        assert not dup, dup
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_train.h')
    write(path, p0, grads)
    print('%s: %d cases, %d optimizers, %d schedules, %d plateaus, %d clips, %d gains, %d bytes'
          % (path, len(cases), len(optims), len(scheds), len(plateaus), len(clips), len(gains),
             os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
