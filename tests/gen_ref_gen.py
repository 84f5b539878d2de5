#!/usr/bin/python3
"""tests/gen_ref_gen.py - writes tests/ref_gen.h: PyTorch reference values for the autoencoder
and VAE part of dl.h (>>api-ae-vae).

Run with Debian's PyTorch:   /usr/bin/python3 tests/gen_ref_gen.py
The output is committed, so the C tests never need Python.

Every case is a list of named float32 tensors (inputs, outputs, and gradients g_*):
  RG_VAE     a small VAE D-H-(Z mu, Z logvar), Z-H-D with ReLU hidden layers, the sample
             z = mu + exp(logvar/2) eps for a FIXED eps, Bernoulli decoder. Outputs: mu,
             logvar, z, logits, rec = sum BCE-with-logits, kl = -1/2 sum(1 + lv - mu^2 - e^lv)
             (both summed over the batch), and the gradients of loss = (rec + kl) / N with
             respect to every parameter and x.
  RG_SPARSE  h = sigmoid(x W^T + b); pen = sum_j KL(rho || mean_n h_nj) (torch's kl_div on
             the two-point distributions); gradients of pen w.r.t. W, b, x.  iarg: rho*1000.
  RG_CAE     the same h; pen = mean_n ||dh/dx||_F^2, taken from torch.autograd.functional
             .jacobian (not the closed form); gradients of the closed form w.r.t. W, b, x
             (the generator checks the closed form equals the Jacobian norm first).
  RG_GLP     Normal(mu, exp(lv/2)).log_prob(z).sum(-1) with broadcast mu, lv; gradients of
             sum(y dy).
  RG_IW      log mean_k exp(log p(x|z) + log N(z; 0, I) - log N(z; mu, e^lv)) over axis 0,
             written with torch.distributions and logsumexp; gradients of sum(y dy).
The math runs in float64 on the float32 inputs and is rounded to float32 once.
"""
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_ref_norm import c_str, fmt_f  # noqa: E402  (the same float formatting)

SEED = 1905
GEN = torch.Generator().manual_seed(SEED)
RG_VAE, RG_SPARSE, RG_CAE, RG_GLP, RG_IW = 0, 1, 2, 3, 4
cases = []


def f32(t):
    return t.detach().to(torch.float32)


def U(shape, lo=-1.0, hi=1.0):
    return f32(torch.rand(shape, generator=GEN, dtype=torch.float64) * (hi - lo) + lo)


def N(shape):
    return f32(torch.randn(shape, generator=GEN, dtype=torch.float64))


def leaf(t):
    return t.to(torch.float64).clone().requires_grad_(True)


def vae_case(name, n, d, h, z):
    t = {}
    t['x'] = U([n, d], 0.0, 1.0)
    for nm, (o, i) in (('w1', (h, d)), ('w21', (z, h)), ('w22', (z, h)), ('w3', (h, z)), ('w4', (d, h))):
        b = 1.0 / math.sqrt(i)
        t[nm] = U([o, i], -b, b)
        t['b' + nm[1:]] = U([o], -b, b)
    t['eps'] = N([n, z])
    p = {k: leaf(v) for k, v in t.items()}
    F = torch.nn.functional
    hh = torch.relu(F.linear(p['x'], p['w1'], p['b1']))
    mu = F.linear(hh, p['w21'], p['b21'])
    lv = F.linear(hh, p['w22'], p['b22'])
    zz = mu + torch.exp(0.5 * lv) * p['eps']
    logits = F.linear(torch.relu(F.linear(zz, p['w3'], p['b3'])), p['w4'], p['b4'])
    rec = F.binary_cross_entropy_with_logits(logits, p['x'], reduction='sum')
    kl = -0.5 * torch.sum(1 + lv - mu.pow(2) - lv.exp())
    loss = (rec + kl) / n
    loss.backward()
    out = dict(t)
    out.update({'mu': mu, 'logvar': lv, 'z': zz, 'logits': logits, 'rec': rec.reshape(1), 'kl': kl.reshape(1)})
    for k in ('x', 'w1', 'b1', 'w21', 'b21', 'w22', 'b22', 'w3', 'b3', 'w4', 'b4'):
        out['g_' + k] = p[k].grad
    cases.append({'name': name, 'kind': RG_VAE, 'iarg': [0, 0], 't': out})


def enc_inputs(n, d, h):
    t = {'x': U([n, d], 0.0, 1.0), 'w': U([h, d], -1.5, 1.5), 'b': U([h], -1.0, 1.0)}
    p = {k: leaf(v) for k, v in t.items()}
    return t, p, torch.sigmoid(torch.nn.functional.linear(p['x'], p['w'], p['b']))


def sparse_case(name, n, d, h, rho):
    t, p, hh = enc_inputs(n, d, h)
    r = hh.mean(0)
    P = torch.stack([torch.full_like(r, rho), torch.full_like(r, 1 - rho)], 1)
    Q = torch.stack([r, 1 - r], 1)
    pen = torch.nn.functional.kl_div(Q.log(), P, reduction='sum')
    pen.backward()
    out = dict(t)
    out.update({'pen': pen.reshape(1), 'g_w': p['w'].grad, 'g_b': p['b'].grad, 'g_x': p['x'].grad})
    cases.append({'name': name, 'kind': RG_SPARSE, 'iarg': [int(round(rho * 1000)), 0], 't': out})


def cae_case(name, n, d, h):
    t, p, hh = enc_inputs(n, d, h)
    w64, b64 = t['w'].double(), t['b'].double()
    jn = 0.0
    for i in range(n):
        J = torch.autograd.functional.jacobian(lambda v: torch.sigmoid(torch.nn.functional.linear(v, w64, b64)),
                                               t['x'][i].double())
        jn += float((J ** 2).sum())
    jn /= n
    closed = (((hh * (1 - hh)) ** 2) * (p['w'] ** 2).sum(1)).sum() / n
    assert abs(float(closed) - jn) < 1e-12 * max(1.0, jn), (float(closed), jn)
    closed.backward()
    out = dict(t)
    out.update({'pen': torch.tensor([jn]), 'g_w': p['w'].grad, 'g_b': p['b'].grad, 'g_x': p['x'].grad})
    cases.append({'name': name, 'kind': RG_CAE, 'iarg': [0, 0], 't': out})


def glp_case(name, zs, ms, ls):
    t = {'z': N(zs), 'mu': N(ms), 'logvar': U(ls, -2.0, 1.0)}
    p = {k: leaf(v) for k, v in t.items()}
    y = torch.distributions.Normal(p['mu'], torch.exp(0.5 * p['logvar'])).log_prob(p['z']).sum(-1)
    dy = U(list(y.shape))
    (y * dy.double()).sum().backward()
    out = dict(t)
    out.update({'dy': dy, 'y': y, 'g_z': p['z'].grad, 'g_mu': p['mu'].grad, 'g_logvar': p['logvar'].grad})
    cases.append({'name': name, 'kind': RG_GLP, 'iarg': [0, 0], 't': out})


def iw_case(name, k, n, d):
    t = {'lpx': U([k, n], -30.0, -5.0), 'mu': N([n, d]), 'logvar': U([n, d], -2.0, 0.5)}
    t['z'] = f32(t['mu'].double() + torch.exp(0.5 * t['logvar'].double()) * N([k, n, d]).double())
    p = {k2: leaf(v) for k2, v in t.items()}
    D = torch.distributions
    lw = (p['lpx'] + D.Normal(torch.zeros_like(p['z']), torch.ones_like(p['z'])).log_prob(p['z']).sum(-1)
          - D.Normal(p['mu'], torch.exp(0.5 * p['logvar'])).log_prob(p['z']).sum(-1))
    y = torch.logsumexp(lw, 0) - math.log(k)
    dy = U([n])
    (y * dy.double()).sum().backward()
    out = dict(t)
    out.update({'dy': dy, 'y': y, 'g_lpx': p['lpx'].grad, 'g_z': p['z'].grad, 'g_mu': p['mu'].grad,
                'g_logvar': p['logvar'].grad})
    cases.append({'name': name, 'kind': RG_IW, 'iarg': [0, 0], 't': out})


def gen():
    vae_case('vae small', 4, 6, 5, 3)
    vae_case('vae wide', 7, 12, 9, 2)
    sparse_case('sparse rho 0.05', 6, 5, 4, 0.05)
    sparse_case('sparse rho 0.3', 3, 4, 7, 0.3)
    cae_case('cae 5x4x3', 5, 4, 3)
    cae_case('cae 2x9x6', 2, 9, 6)
    glp_case('glp same', [3, 4], [3, 4], [3, 4])
    glp_case('glp broadcast', [5, 3, 4], [3, 4], [3, 4])
    iw_case('iw k1', 1, 3, 2)
    iw_case('iw k7', 7, 4, 3)


def write(path):
    arrays, tlists, rows, seen, counter = [], [], [], {}, [0]

    def arr(t):
        t = f32(t).contiguous()
        key = t.numpy().tobytes()
        if key in seen:
            return seen[key]
        name = 'rg_d%d' % counter[0]
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
        tlists.append('static const rg_tensor rg_t%d[] = {\n%s\n};' % (ci, ',\n'.join(ents)))
        rows.append('    {%s, %d, {%s}, %d, rg_t%d}' % (c_str(c['name']), c['kind'], ', '.join(map(str, c['iarg'])), len(ents), ci))
    hdr = '''/* tests/ref_gen.h - GENERATED by tests/gen_ref_gen.py with PyTorch %s (seed %d).
   Do not edit: change tests/gen_ref_gen.py and run  /usr/bin/python3 tests/gen_ref_gen.py
   %d cases: a small VAE for fixed noise (ELBO terms and every gradient), the KL sparsity
   and contractive penalties, Gaussian log-densities and the importance-weighted estimate.
   Float32 values, computed in float64. */
#ifndef DL_TEST_REF_GEN_H
#define DL_TEST_REF_GEN_H
#include <stdint.h>

enum { RG_VAE = 0, RG_SPARSE = 1, RG_CAE = 2, RG_GLP = 3, RG_IW = 4 };
typedef struct rg_tensor { const char *name; int ndim; int64_t shape[4]; const float *data; } rg_tensor;
typedef struct rg_case {
    const char *name;
    int kind;     /* RG_*                                                                   */
    int iarg[2];  /* SPARSE: rho * 1000                                                     */
    int nt;
    const rg_tensor *t;
} rg_case;
''' % (torch.__version__, SEED, len(cases))
    table = ('\nstatic const rg_case rg_cases[] = {\n' + ',\n'.join(rows) + '\n};\n'
             '#define RG_N_CASES ((int)(sizeof rg_cases / sizeof rg_cases[0]))\n')
    with open(path, 'w') as fh:
        fh.write(hdr + '\n' + '\n'.join(arrays) + '\n\n' + '\n'.join(tlists) + '\n' + table + '#endif\n')


def main():
    torch.set_grad_enabled(True)
    gen()
    names = [c['name'] for c in cases]
    assert len(set(names)) == len(names), names
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'ref_gen.h')
    write(path)
    print('%s: %d cases, %d bytes' % (path, len(cases), os.path.getsize(path)), file=sys.stderr)


if __name__ == '__main__':
    main()
