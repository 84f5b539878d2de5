/* tests/test_train.c - the training stack against PyTorch: activations, losses, optimizers,
   LR schedules, gradient clipping, init. Reference values live in tests/ref_train.h,
   written by tests/gen_ref_train.py (PyTorch 1.13, committed), so no Python is needed.

   "train <case>"           activation/loss forward + input gradients (dl_backward_with the
                            recorded upstream gradient), then forward again without a tape.
                            atol 1e-5, rtol 1e-4 (reference: float64 rounded once; dl.h
                            computes in float32, a few ulp per op). Outputs of ~1e4 (|z| =
                            1e4 cross-entropy) and var gradients of ~1e12 (gaussian_nll with
                            var < eps) are covered by rtol.
   "train optim <name>"     12 steps, gradients written into p->grad, params after each step
                            vs torch.optim: atol 1e-6, rtol 1e-5; the first diverging step is
                            reported.
   "train sched/plateau"    lr per epoch vs torch.optim.lr_scheduler: rtol 1e-5, atol 1e-9.
   "train clip <name>"      dl_clip_grad_norm / dl_clip_grad_value vs torch.nn.utils.
   "train gain <name>"      dl_calculate_gain vs torch.nn.init.calculate_gain (rtol 1e-6).
   "train gradcheck <name>" dl_gradcheck (default tolerances) on every activation and loss,
                            small shapes, inputs away from kinks and ties.
   "train init <name>"      sample mean/std of each init on [256,512] vs torch's formula
                            (mean within 3 standard errors, std within 2%), orthogonality. */
#include <stdlib.h>
#include "ref_train.h"

/* ---------------------------------------------------------------- op dispatch */
/* the op named by a case, on inputs x[] (floats and index tensors in table order) */
static dl_tensor *rt_op(dl_ctx *ctx, const char *op, const int *ip, const float *fp,
                        dl_tensor *const *x) {
    dl_reduction r = (dl_reduction)ip[0];
    if (strcmp(op, "leaky_relu") == 0) return dl_leaky_relu(ctx, x[0], fp[0]);
    if (strcmp(op, "prelu") == 0) return dl_prelu(ctx, x[0], x[1]);
    if (strcmp(op, "elu") == 0) return dl_elu(ctx, x[0], fp[0]);
    if (strcmp(op, "selu") == 0) return dl_selu(ctx, x[0]);
    if (strcmp(op, "gelu") == 0) return dl_gelu(ctx, x[0]);
    if (strcmp(op, "gelu_tanh") == 0) return dl_gelu_tanh(ctx, x[0]);
    if (strcmp(op, "silu") == 0) return dl_silu(ctx, x[0]);
    if (strcmp(op, "hard_tanh") == 0) return dl_hard_tanh(ctx, x[0], fp[0], fp[1]);
    if (strcmp(op, "softsign") == 0) return dl_softsign(ctx, x[0]);
    if (strcmp(op, "maxout") == 0) return dl_maxout(ctx, x[0], ip[0]);
    if (strcmp(op, "dropout") == 0) return dl_dropout(ctx, x[0], fp[0], 0);
    if (strcmp(op, "mse") == 0) return dl_mse_loss(ctx, x[0], x[1], r);
    if (strcmp(op, "l1") == 0) return dl_l1_loss(ctx, x[0], x[1], r);
    if (strcmp(op, "huber") == 0) return dl_huber_loss(ctx, x[0], x[1], fp[0], r);
    if (strcmp(op, "bce_with_logits") == 0) return dl_bce_with_logits(ctx, x[0], x[1], r);
    if (strcmp(op, "ce") == 0) {
        dl_ce_desc d;
        memset(&d, 0, sizeof d);
        d.reduction = r;
        d.label_smoothing = fp[0];
        return dl_cross_entropy(ctx, x[0], x[1], &d);
    }
    if (strcmp(op, "nll") == 0) return dl_nll_loss(ctx, x[0], x[1], r);
    if (strcmp(op, "hinge") == 0) return dl_hinge_loss(ctx, x[0], x[1], r);
    if (strcmp(op, "multi_margin") == 0) return dl_multi_margin_loss(ctx, x[0], x[1], fp[0], r);
    if (strcmp(op, "kl_div") == 0) return dl_kl_div(ctx, x[0], x[1], r);
    if (strcmp(op, "gaussian_nll") == 0) return dl_gaussian_nll_loss(ctx, x[0], x[1], x[2], r);
    return NULL;
}

/* ---------------------------------------------------------------- helpers */
static int64_t rt_numel(const rt_tensor *r) {
    int64_t n = 1;
    int i;
    for (i = 0; i < r->ndim; i++) n *= r->shape[i];
    return n;
}

static dl_shape rt_shape(const rt_tensor *r) { return dl_shape_n(r->ndim, r->shape); }

static int rt_ok(dl_ctx *ctx, const char *when) {
    dl_status s = dl_ctx_status(ctx);
    if (s == DL_STATUS_OK) return 1;
    T_EXPECT(0, "%s: %s: %s", when, dl_status_name(s), dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    return 0;
}

static void rt_shape_str(char *buf, size_t cap, int ndim, const int64_t *d) {
    int k, len = snprintf(buf, cap, "[");
    for (k = 0; k < ndim && len < (int)cap - 24; k++)
        len += snprintf(buf + len, cap - (size_t)len, "%s%lld", k ? "," : "", (long long)d[k]);
    snprintf(buf + len, cap - (size_t)len, "]");
}

static int rt_check_values(const dl_tensor *t, const rt_tensor *r, double atol, double rtol,
                           const char *what) {
    int64_t n = rt_numel(r);
    int i, ok = t != NULL && t->ndim == r->ndim && !dl_is_poison(t);
    float *buf;
    for (i = 0; ok && i < r->ndim; i++) ok = t->shape[i] == r->shape[i];
    if (!ok) {
        char got[96] = "(null)", want[96];
        if (t) rt_shape_str(got, sizeof got, t->ndim, t->shape);
        rt_shape_str(want, sizeof want, r->ndim, r->shape);
        T_EXPECT(0, "%s: shape %s%s, want %s", what, got, t && dl_is_poison(t) ? " (poison)" : "",
                 want);
        return 0;
    }
    buf = (float *)malloc((size_t)n * sizeof *buf);
    if (!buf) { T_EXPECT(0, "out of host memory"); return 0; }
    dl_copy_to(t, buf);
    ok = t_allclose(buf, r->f, (long)n, atol, rtol, what);
    free(buf);
    return ok;
}

/* ---------------------------------------------------------------- reference cases */
static const char *const rt_input_name[4] = {"input 0", "input 1 (target/weight)", "input 2",
                                             "input 3"};

static void rt_run_case(dl_ctx *ctx, const rt_case *c) {
    dl_tensor *in[4] = {NULL, NULL, NULL, NULL}, *out;
    char what[96];
    const double atol = 1e-5, rtol = 1e-4;
    int i, pass;
    dl_mark m = dl_ctx_mark(ctx);
    /* pass 0: with gradients; pass 1: forward only, no tape */
    for (pass = 0; pass < 2; pass++) {
        for (i = 0; i < c->n_in; i++) {
            const rt_tensor *r = &c->in[i];
            in[i] = r->kind == RT_INDEX ? dl_index_tensor(ctx, rt_shape(r), r->i)
                                        : dl_from_data(ctx, rt_shape(r), r->f);
            if (pass == 0 && r->kind == RT_GRAD) dl_requires_grad(ctx, in[i], 1);
        }
        out = rt_op(ctx, c->op, c->ip, c->fp, in);
        T_EXPECT(out != NULL, "no C dispatch for op \"%s\"", c->op);
        if (!out) break;
        if (!rt_ok(ctx, pass ? "forward (no grad)" : "forward")) break;
        rt_check_values(out, &c->out, atol, rtol, pass ? "no-grad output" : "output");
        if (pass == 0) {
            dl_status st = dl_backward_with(ctx, out, c->out.grad);
            T_EXPECT(st == DL_STATUS_OK, "backward returned %s", dl_status_name(st));
            if (!rt_ok(ctx, "backward")) break;
            for (i = 0; i < c->n_in; i++) {
                const rt_tensor *r = &c->in[i];
                if (r->kind != RT_GRAD) continue;
                snprintf(what, sizeof what, "grad of %s", rt_input_name[i]);
                T_EXPECT(in[i]->grad != NULL, "%s: NULL", what);
                if (in[i]->grad)
                    t_allclose(in[i]->grad, r->grad, (long)rt_numel(r), atol, rtol, what);
            }
        }
        for (i = 0; i < c->n_in; i++) { /* losses and activations never write their inputs */
            if (c->in[i].kind == RT_INDEX) continue;
            snprintf(what, sizeof what, "%s after the op", rt_input_name[i]);
            rt_check_values(in[i], &c->in[i], 0.0, 0.0, what);
        }
        rt_ok(ctx, "end of case");
        dl_ctx_rewind(ctx, m);
    }
    dl_ctx_rewind(ctx, m);
}

/* ---------------------------------------------------------------- optimizers */
static int rt_close(float got, float want, double atol, double rtol) {
    double g = (double)got, w = (double)want;
    return g == w || fabs(g - w) <= atol + rtol * fabs(w);
}

static void rt_run_optim(dl_ctx *ctx, const rt_optim_case *c) {
    static const char *const pname[2] = {"weight[3,4]", "bias[4]"};
    dl_tensor *p[2];
    dl_optim_desc d;
    dl_optim *o;
    int s, i, k, bad = 0;
    dl_mark m = dl_ctx_mark(ctx);

    p[0] = dl_from_data(ctx, dl_shape2(3, 4), rt_opt_p0);
    p[1] = dl_from_data(ctx, dl_shape1(4), rt_opt_p0 + 12);
    dl_requires_grad(ctx, p[0], 1);
    dl_requires_grad(ctx, p[1], 1);
    memset(&d, 0, sizeof d);
    d.kind = c->kind;
    d.lr = c->lr;
    d.momentum = c->momentum;
    d.dampening = c->dampening;
    d.nesterov = c->nesterov;
    d.weight_decay = c->weight_decay;
    d.no_weight_decay = c->no_weight_decay;
    d.alpha = c->alpha;
    d.centered = c->centered;
    d.eps = c->eps;
    d.beta1 = c->beta1;
    d.beta2 = c->beta2;
    d.amsgrad = c->amsgrad;
    d.lr_decay = c->lr_decay;
    d.initial_accumulator_value = c->initial_accumulator_value;
    o = dl_optim_new(ctx, &d, 2);
    T_EXPECT(o != NULL, "dl_optim_new returned NULL: %s", dl_ctx_message(ctx));
    if (!o || !rt_ok(ctx, "dl_optim_new")) { dl_ctx_rewind(ctx, m); return; }
    if (c->n_groups == 0) {
        int gid = dl_optim_add(o, p, 2, NULL);
        T_EXPECT(gid == 0, "dl_optim_add returned %d, want group 0", gid);
    } else {
        for (i = 0; i < 2; i++) {
            dl_group_desc g;
            int gid;
            memset(&g, 0, sizeof g);
            g.set = c->gset[i];
            g.lr = c->glr[i];
            g.weight_decay = c->gwd[i];
            gid = dl_optim_add(o, &p[i], 1, c->gset[i] ? &g : NULL);
            T_EXPECT(gid == i, "dl_optim_add returned %d, want group %d", gid, i);
        }
    }
    T_EXPECT(dl_optim_num_params(o) == 2, "dl_optim_num_params %d, want 2", dl_optim_num_params(o));
    T_EXPECT(dl_optim_param(o, 0) == p[0] && dl_optim_param(o, 1) == p[1],
             "dl_optim_param does not give the params in order");
    if (!rt_ok(ctx, "dl_optim_add")) { dl_ctx_rewind(ctx, m); return; }

    for (s = 0; s < RT_STEPS && !bad; s++) {
        const float *g = rt_opt_grads + (size_t)s * RT_NPARAM;
        const float *want = c->traj + (size_t)s * RT_NPARAM;
        if (s == c->set_lr_step) {
            dl_optim_set_lr(o, c->set_lr);
            T_EXPECT(rt_close(dl_optim_get_lr(o), c->set_lr, 0.0, 1e-6),
                     "dl_optim_get_lr %.9g after dl_optim_set_lr(%.9g)",
                     (double)dl_optim_get_lr(o), (double)c->set_lr);
        }
        memcpy(p[0]->grad, g, 12 * sizeof(float));
        memcpy(p[1]->grad, g + 12, 4 * sizeof(float));
        dl_optim_step(o);
        if (!rt_ok(ctx, "dl_optim_step")) break;
        for (k = 0; k < RT_NPARAM && !bad; k++) {
            int which = k < 12 ? 0 : 1, j = k < 12 ? k : k - 12;
            float got = p[which]->data[j];
            if (!rt_close(got, want[k], 1e-6, 1e-5)) {
                T_EXPECT(0, "diverges at step %d of %d: %s[%d] got %.9g want %.9g (before: %.9g)",
                         s + 1, RT_STEPS, pname[which], j, (double)got, (double)want[k],
                         s ? (double)c->traj[(size_t)(s - 1) * RT_NPARAM + k]
                           : (double)rt_opt_p0[k]);
                bad = 1;
            }
        }
        /* the step must leave the gradients alone */
        T_EXPECT(memcmp(p[0]->grad, g, 12 * sizeof(float)) == 0 &&
                 memcmp(p[1]->grad, g + 12, 4 * sizeof(float)) == 0,
                 "dl_optim_step changed p->grad at step %d", s + 1);
    }
    dl_optim_zero_grad(o);
    for (k = 0; k < 12; k++) T_EXPECT(p[0]->grad[k] == 0.0f, "zero_grad left weight grad[%d]", k);
    for (k = 0; k < 4; k++) T_EXPECT(p[1]->grad[k] == 0.0f, "zero_grad left bias grad[%d]", k);
    rt_ok(ctx, "end of case");
    dl_ctx_rewind(ctx, m);
}

/* ---------------------------------------------------------------- schedules */
static void rt_run_sched(const rt_sched_case *c) {
    dl_sched_desc d;
    int e;
    memset(&d, 0, sizeof d);
    d.kind = c->kind;
    d.base_lr = c->base_lr;
    d.step_size = c->step_size;
    d.gamma = c->gamma;
    d.milestones = c->n_milestones ? c->milestones : NULL;
    d.n_milestones = c->n_milestones;
    d.t_max = c->t_max;
    d.eta_min = c->eta_min;
    d.warmup_epochs = c->warmup_epochs;
    d.start_factor = c->start_factor;
    for (e = 0; e < RT_EPOCHS; e++) {
        float got = dl_sched_lr(&d, e);
        if (!rt_close(got, c->lr[e], 1e-9, 1e-5)) {
            T_EXPECT(0, "epoch %d: lr %.9g, want %.9g", e, (double)got, (double)c->lr[e]);
            break;
        }
    }
}

static void rt_run_plateau(const rt_plateau_case *c) {
    dl_plateau p;
    int i;
    dl_plateau_init(&p, c->lr, c->factor, c->patience, c->mode_max);
    for (i = 0; i < c->n; i++) {
        float got = dl_plateau_step(&p, c->metric[i]);
        if (!rt_close(got, c->lr_after[i], 1e-9, 1e-5)) {
            T_EXPECT(0, "step %d (metric %.9g): lr %.9g, want %.9g", i, (double)c->metric[i],
                     (double)got, (double)c->lr_after[i]);
            break;
        }
    }
}

static void rt_run_clip(dl_ctx *ctx, const rt_clip_case *c) {
    dl_tensor *p[2];
    float g[RT_NPARAM];
    dl_mark m = dl_ctx_mark(ctx);
    p[0] = dl_zeros(ctx, dl_shape2(3, 4));
    p[1] = dl_zeros(ctx, dl_shape1(4));
    dl_requires_grad(ctx, p[0], 1);
    dl_requires_grad(ctx, p[1], 1);
    if (!rt_ok(ctx, "setup")) { dl_ctx_rewind(ctx, m); return; }
    memcpy(p[0]->grad, c->g0, 12 * sizeof(float));
    memcpy(p[1]->grad, c->g0 + 12, 4 * sizeof(float));
    if (c->by_value) {
        dl_clip_grad_value(p, 2, c->arg);
    } else {
        float norm = dl_clip_grad_norm(p, 2, c->arg);
        T_EXPECT(rt_close(norm, c->norm, 1e-7, 1e-5), "returned norm %.9g, want %.9g",
                 (double)norm, (double)c->norm);
    }
    memcpy(g, p[0]->grad, 12 * sizeof(float));
    memcpy(g + 12, p[1]->grad, 4 * sizeof(float));
    t_allclose(g, c->g1, RT_NPARAM, 1e-7, 1e-5, "clipped grads");
    rt_ok(ctx, "end of case");
    dl_ctx_rewind(ctx, m);
}

/* ---------------------------------------------------------------- finite differences */
enum {
    TG_U = 0,   /* U[-2, 2)                                                             */
    TG_AWAY,    /* |x| in [0.2, 2), random sign; hinge: also |x| not within 0.05 of 1   */
    TG_POS,     /* [0.2, 2)                                                             */
    TG_UNIT,    /* [0, 1)                                                               */
    TG_PM1,     /* -1 or +1                                                             */
    TG_PROB,    /* rows (last axis) positive, summing to 1                              */
    TG_LOGP,    /* log of TG_PROB                                                       */
    TG_GRID,    /* shuffled grid, spacing 0.13, offset 0.01: no ties, margins != 0      */
    TG_OFFSET,  /* input 0 + d, |d| in [0.2, 2), |d| at least 0.05 from fp[0] (huber)   */
    TG_HT,      /* U[lo-1, hi+1) at least 0.05 from lo = fp[0] and hi = fp[1]           */
    TG_INDEX    /* DL_I32 class indices in [0, C), C = input 0's last dim; no gradient */
};

typedef struct tg_case {
    const char *name;
    const char *op;
    int ip[4];
    float fp[4];
    int n;
    dl_shape s[4];
    int gen[4];
} tg_case;

#define TS1(a) {1, {a}}
#define TS2(a, b) {2, {a, b}}
#define TS4(a, b, c, d) {4, {a, b, c, d}}
#define TS0 {0, {0}}
#define TG_ACT(nm, op, f0, f1, ip0, gen, shp) \
    {nm, op, {ip0, 0, 0, 0}, {f0, f1, 0.f, 0.f}, 1, {shp, TS0, TS0, TS0}, {gen, 0, 0, 0}}
/* losses: one entry, checked with each reduction (ip[0] set by the suite) */
#define TG_LOSS(nm, op, f0, n, s0, s1, s2, g0, g1, g2) \
    {nm, op, {-1, 0, 0, 0}, {f0, 0.f, 0.f, 0.f}, n, {s0, s1, s2, TS0}, {g0, g1, g2, 0}}

static const tg_case tg_cases[] = {
    TG_ACT("leaky_relu 0.01", "leaky_relu", 0.01f, 0.f, 0, TG_AWAY, TS2(3, 5)),
    TG_ACT("leaky_relu 0.2", "leaky_relu", 0.2f, 0.f, 0, TG_AWAY, TS2(3, 5)),
    TG_ACT("elu 1", "elu", 1.f, 0.f, 0, TG_AWAY, TS2(3, 5)),
    TG_ACT("elu 0.5", "elu", 0.5f, 0.f, 0, TG_AWAY, TS2(3, 5)),
    TG_ACT("selu", "selu", 0.f, 0.f, 0, TG_AWAY, TS2(3, 5)),
    TG_ACT("gelu", "gelu", 0.f, 0.f, 0, TG_U, TS2(3, 5)),
    TG_ACT("gelu_tanh", "gelu_tanh", 0.f, 0.f, 0, TG_U, TS2(3, 5)),
    TG_ACT("silu", "silu", 0.f, 0.f, 0, TG_U, TS2(3, 5)),
    TG_ACT("hard_tanh -1,1", "hard_tanh", -1.f, 1.f, 0, TG_HT, TS2(3, 5)),
    TG_ACT("hard_tanh -2,0.5", "hard_tanh", -2.f, 0.5f, 0, TG_HT, TS2(3, 5)),
    TG_ACT("softsign", "softsign", 0.f, 0.f, 0, TG_U, TS2(3, 5)),
    TG_ACT("maxout k=2", "maxout", 0.f, 0.f, 2, TG_GRID, TS2(3, 6)),
    TG_ACT("maxout k=3", "maxout", 0.f, 0.f, 3, TG_GRID, TS2(3, 6)),
    TG_ACT("dropout eval", "dropout", 0.5f, 0.f, 0, TG_U, TS2(3, 5)),
    {"prelu a[C]", "prelu", {0, 0, 0, 0}, {0.f, 0.f, 0.f, 0.f}, 2,
     {TS4(2, 3, 2, 2), TS1(3), TS0, TS0}, {TG_AWAY, TG_POS, 0, 0}},
    {"prelu a[1]", "prelu", {0, 0, 0, 0}, {0.f, 0.f, 0.f, 0.f}, 2,
     {TS2(4, 3), TS1(1), TS0, TS0}, {TG_AWAY, TG_AWAY, 0, 0}},
    TG_LOSS("mse", "mse", 0.f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_U, TG_U, 0),
    TG_LOSS("l1", "l1", 0.f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_U, TG_OFFSET, 0),
    TG_LOSS("huber d=1", "huber", 1.f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_U, TG_OFFSET, 0),
    TG_LOSS("huber d=0.5", "huber", 0.5f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_U, TG_OFFSET, 0),
    TG_LOSS("bce_with_logits", "bce_with_logits", 0.f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_U,
             TG_UNIT, 0),
    TG_LOSS("ce index", "ce", 0.f, 2, TS2(4, 5), TS1(4), TS0, TG_U, TG_INDEX, 0),
    TG_LOSS("ce index ls=0.1", "ce", 0.1f, 2, TS2(4, 5), TS1(4), TS0, TG_U, TG_INDEX, 0),
    TG_LOSS("ce prob", "ce", 0.f, 2, TS2(4, 5), TS2(4, 5), TS0, TG_U, TG_PROB, 0),
    TG_LOSS("ce prob ls=0.1", "ce", 0.1f, 2, TS2(4, 5), TS2(4, 5), TS0, TG_U, TG_PROB, 0),
    TG_LOSS("nll", "nll", 0.f, 2, TS2(4, 5), TS1(4), TS0, TG_LOGP, TG_INDEX, 0),
    TG_LOSS("hinge", "hinge", 0.f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_AWAY, TG_PM1, 0),
    TG_LOSS("multi_margin m=1", "multi_margin", 1.f, 2, TS2(4, 5), TS1(4), TS0, TG_GRID,
             TG_INDEX, 0),
    TG_LOSS("multi_margin m=0.5", "multi_margin", 0.5f, 2, TS2(4, 5), TS1(4), TS0, TG_GRID,
             TG_INDEX, 0),
    TG_LOSS("kl_div", "kl_div", 0.f, 2, TS2(3, 4), TS2(3, 4), TS0, TG_LOGP, TG_PROB, 0),
    TG_LOSS("gaussian_nll", "gaussian_nll", 0.f, 3, TS2(3, 4), TS2(3, 4), TS2(3, 4), TG_U,
             TG_U, TG_POS)
};

typedef struct tg_user { const tg_case *c; dl_tensor *idx; } tg_user;

static dl_tensor *tg_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    const tg_user *u = (const tg_user *)user;
    dl_tensor *x[4] = {NULL, NULL, NULL, NULL};
    int i, k = 0;
    for (i = 0; i < u->c->n; i++) x[i] = u->c->gen[i] == TG_INDEX ? u->idx : (k < n ? in[k++] : NULL);
    return rt_op(ctx, u->c->op, u->c->ip, u->c->fp, x);
}

static uint64_t tg_state = 0x9e3779b97f4a7c15ull;
static double tg_rand(void) { /* [0,1), splitmix64 */
    uint64_t z = (tg_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * (1.0 / 9007199254740992.0);
}
static double tg_unif(double lo, double hi) { return lo + (hi - lo) * tg_rand(); }

static int64_t tg_numel(const dl_shape *s) {
    int64_t n = 1;
    int i;
    for (i = 0; i < s->ndim; i++) n *= s->d[i];
    return n;
}

/* fills v[n] for input i of case c; x0 = input 0's values (TG_OFFSET) */
static void tg_fill(const tg_case *c, int i, float *v, const float *x0) {
    int64_t k, n = tg_numel(&c->s[i]), row = c->s[i].ndim ? c->s[i].d[c->s[i].ndim - 1] : 1;
    int gen = c->gen[i], is_hinge = strcmp(c->op, "hinge") == 0;
    for (k = 0; k < n; k++) {
        double x = 0.0, d;
        switch (gen) {
        case TG_U: x = tg_unif(-2.0, 2.0); break;
        case TG_AWAY:
            do { x = tg_unif(0.2, 2.0); } while (is_hinge && fabs(x - 1.0) < 0.05);
            if (tg_rand() < 0.5) x = -x;
            break;
        case TG_POS: x = tg_unif(0.2, 2.0); break;
        case TG_UNIT: x = tg_rand(); break;
        case TG_PM1: x = tg_rand() < 0.5 ? -1.0 : 1.0; break;
        case TG_PROB: case TG_LOGP: x = exp(tg_unif(-2.0, 2.0)); break;
        case TG_GRID: x = 0.0; break;
        case TG_OFFSET:
            do { d = tg_unif(0.2, 2.0); } while (fabs(d - (double)c->fp[0]) < 0.05);
            x = (double)x0[k] + (tg_rand() < 0.5 ? -d : d);
            break;
        case TG_HT:
            do { x = tg_unif((double)c->fp[0] - 1.0, (double)c->fp[1] + 1.0); }
            while (fabs(x - (double)c->fp[0]) < 0.05 || fabs(x - (double)c->fp[1]) < 0.05);
            break;
        default: break;
        }
        v[k] = (float)x;
    }
    if (gen == TG_PROB || gen == TG_LOGP) { /* normalize rows */
        for (k = 0; k < n; k += row) {
            double s = 0.0;
            int64_t j;
            for (j = 0; j < row; j++) s += (double)v[k + j];
            for (j = 0; j < row; j++) {
                double p = (double)v[k + j] / s;
                v[k + j] = (float)(gen == TG_LOGP ? log(p) : p);
            }
        }
    }
    if (gen == TG_GRID) { /* a random permutation of a grid */
        for (k = 0; k < n; k++) v[k] = (float)((double)(k - n / 2) * 0.13 + 0.01);
        for (k = n - 1; k > 0; k--) {
            int64_t j = (int64_t)(tg_rand() * (double)(k + 1));
            float t = v[k];
            v[k] = v[j];
            v[j] = t;
        }
    }
}

static void tg_run_case(dl_ctx *ctx, const tg_case *c) {
    dl_tensor *x[4];
    float v[64], x0[64];
    int32_t iv[16];
    tg_user u;
    int i, n = 0;
    dl_gradcheck_result res;
    dl_status st;
    dl_mark m = dl_ctx_mark(ctx);
    u.c = c;
    u.idx = NULL;
    memset(&res, 0, sizeof res);
    for (i = 0; i < c->n; i++) {
        if (c->gen[i] == TG_INDEX) {
            int64_t k, nc = c->s[0].d[c->s[0].ndim - 1], ni = tg_numel(&c->s[i]);
            for (k = 0; k < ni && k < 16; k++) iv[k] = (int32_t)(tg_rand() * (double)nc);
            u.idx = dl_index_tensor(ctx, c->s[i], iv);
            continue;
        }
        DL_ASSERT(tg_numel(&c->s[i]) <= 64);
        tg_fill(c, i, v, x0);
        if (i == 0) memcpy(x0, v, sizeof v);
        x[n] = dl_from_data(ctx, c->s[i], v);
        dl_requires_grad(ctx, x[n], 1);
        n++;
    }
    if (!rt_ok(ctx, "setup")) { dl_ctx_rewind(ctx, m); return; }
    st = dl_gradcheck(ctx, tg_fn, &u, x, n, NULL, &res);
    T_EXPECT(st == DL_STATUS_OK, "%s: %s", dl_status_name(st), dl_gradcheck_message(ctx));
    T_EXPECT(res.checked > 0, "nothing checked");
    rt_ok(ctx, "end of case");
    dl_ctx_rewind(ctx, m);
}

/* ---------------------------------------------------------------- init */
typedef struct ti_stats { double mean, std, lo, hi; } ti_stats;

static ti_stats ti_measure(const dl_tensor *t) {
    ti_stats s;
    double sum = 0.0, sq = 0.0;
    int64_t i, n = t->numel;
    s.lo = 1e300;
    s.hi = -1e300;
    for (i = 0; i < n; i++) {
        double v = (double)t->data[i];
        sum += v;
        if (v < s.lo) s.lo = v;
        if (v > s.hi) s.hi = v;
    }
    s.mean = sum / (double)n;
    for (i = 0; i < n; i++) {
        double dv = (double)t->data[i] - s.mean;
        sq += dv * dv;
    }
    s.std = sqrt(sq / (double)(n - 1));
    return s;
}

/* uniform: bound = sqrt(3) * std, values in [-bound, bound] (shifted by mean) */
static void ti_check(const dl_tensor *t, double mean, double std, int uniform) {
    ti_stats s = ti_measure(t);
    double se = std / sqrt((double)t->numel);
    T_EXPECT(fabs(s.mean - mean) <= 3.0 * se, "mean %.6g, want %.6g +- %.3g (3 SE)", s.mean,
             mean, 3.0 * se);
    T_EXPECT(fabs(s.std - std) <= 0.02 * std, "std %.6g, want %.6g +- 2%%", s.std, std);
    if (uniform) {
        double b = sqrt(3.0) * std;
        T_EXPECT(s.lo >= mean - b * (1 + 1e-6) && s.hi <= mean + b * (1 + 1e-6),
                 "range [%.6g, %.6g] outside [%.6g, %.6g]", s.lo, s.hi, mean - b, mean + b);
        T_EXPECT(s.lo < mean - 0.99 * b && s.hi > mean + 0.99 * b,
                 "range [%.6g, %.6g] does not reach the bounds +-%.6g", s.lo, s.hi, b);
    } else {
        T_EXPECT(s.hi - mean > 3.5 * std && mean - s.lo > 3.5 * std,
                 "range [%.6g, %.6g]: no normal tails (std %.6g)", s.lo, s.hi, std);
    }
}

/* max |W^T W - g^2 I| (cols) or |W W^T - g^2 I| (rows) */
static double ti_ortho_err(const dl_tensor *t, int rows, double g2) {
    int64_t r = t->shape[0], c = t->shape[1], n = rows ? r : c, m = rows ? c : r, i, j, k;
    double worst = 0.0;
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++) {
            double s = 0.0;
            for (k = 0; k < m; k++) {
                double a = rows ? (double)t->data[i * c + k] : (double)t->data[k * c + i];
                double b = rows ? (double)t->data[j * c + k] : (double)t->data[k * c + j];
                s += a * b;
            }
            s -= i == j ? g2 : 0.0;
            if (fabs(s) > worst) worst = fabs(s);
        }
    return worst;
}

static void ti_run(dl_ctx *ctx) {
    const double fi = 512.0, fo = 256.0;
    dl_tensor *t;
    dl_mark m = dl_ctx_mark(ctx);
#define TI_CASE(nm, call, mean, std, uni) \
    T_BEGIN("train init " nm); \
    if (!t_skip_case) { \
        t = dl_empty(ctx, dl_shape2(256, 512)); \
        call; \
        if (rt_ok(ctx, #call)) ti_check(t, mean, std, uni); \
        dl_ctx_rewind(ctx, m); \
    } \
    T_END()
    TI_CASE("uniform -1,3", dl_init_uniform(ctx, t, -1.f, 3.f), 1.0, 4.0 / sqrt(12.0), 1);
    TI_CASE("normal 0.5,2", dl_init_normal(ctx, t, 0.5f, 2.f), 0.5, 2.0, 0);
    TI_CASE("xavier_uniform gain 0 (=1)", dl_init_xavier_uniform(ctx, t, 0.f), 0.0,
            sqrt(2.0 / (fi + fo)), 1);
    TI_CASE("xavier_uniform gain 2", dl_init_xavier_uniform(ctx, t, 2.f), 0.0,
            2.0 * sqrt(2.0 / (fi + fo)), 1);
    TI_CASE("xavier_normal gain 0 (=1)", dl_init_xavier_normal(ctx, t, 0.f), 0.0,
            sqrt(2.0 / (fi + fo)), 0);
    TI_CASE("xavier_normal gain 1.5", dl_init_xavier_normal(ctx, t, 1.5f), 0.0,
            1.5 * sqrt(2.0 / (fi + fo)), 0);
    TI_CASE("kaiming_uniform defaults", dl_init_kaiming_uniform(ctx, t, 0.f, 0, DL_NL_LEAKY_RELU),
            0.0, sqrt(2.0) / sqrt(fi), 1);
    TI_CASE("kaiming_uniform a=sqrt5 (Linear)",
            dl_init_kaiming_uniform(ctx, t, (float)sqrt(5.0), 0, DL_NL_LEAKY_RELU), 0.0,
            sqrt(2.0 / 6.0) / sqrt(fi), 1);
    TI_CASE("kaiming_uniform fan_out relu", dl_init_kaiming_uniform(ctx, t, 0.f, 1, DL_NL_RELU),
            0.0, sqrt(2.0) / sqrt(fo), 1);
    TI_CASE("kaiming_normal defaults", dl_init_kaiming_normal(ctx, t, 0.f, 0, DL_NL_LEAKY_RELU),
            0.0, sqrt(2.0) / sqrt(fi), 0);
    TI_CASE("kaiming_normal a=0.2 fan_out", dl_init_kaiming_normal(ctx, t, 0.2f, 1, DL_NL_LEAKY_RELU),
            0.0, sqrt(2.0 / (1.0 + (double)0.2f * (double)0.2f)) / sqrt(fo), 0);
    TI_CASE("kaiming_normal tanh", dl_init_kaiming_normal(ctx, t, 0.f, 0, DL_NL_TANH), 0.0,
            (5.0 / 3.0) / sqrt(fi), 0);
    TI_CASE("lecun_uniform", dl_init_lecun_uniform(ctx, t), 0.0, 1.0 / sqrt(fi), 1);
    TI_CASE("lecun_normal", dl_init_lecun_normal(ctx, t), 0.0, 1.0 / sqrt(fi), 0);
#undef TI_CASE

    T_BEGIN("train init kaiming_normal conv [64,16,3,3] fan_in 144");
    if (!t_skip_case) {
        t = dl_empty(ctx, dl_shape4(64, 16, 3, 3));
        dl_init_kaiming_normal(ctx, t, 0.f, 0, DL_NL_RELU);
        if (rt_ok(ctx, "init")) ti_check(t, 0.0, sqrt(2.0 / 144.0), 0);
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init xavier_uniform conv [64,16,3,3]");
    if (!t_skip_case) {
        t = dl_empty(ctx, dl_shape4(64, 16, 3, 3));
        dl_init_xavier_uniform(ctx, t, 0.f);
        if (rt_ok(ctx, "init")) ti_check(t, 0.0, sqrt(2.0 / (144.0 + 576.0)), 1);
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init constant");
    if (!t_skip_case) {
        int64_t i;
        t = dl_empty(ctx, dl_shape2(7, 17));
        dl_init_constant(t, 0.25f);
        for (i = 0; i < t->numel; i++)
            if (t->data[i] != 0.25f) { T_EXPECT(0, "element %lld = %g", (long long)i, (double)t->data[i]); break; }
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init orthogonal [64,64]");
    if (!t_skip_case) {
        double err, off = 0.0;
        int64_t i;
        t = dl_empty(ctx, dl_shape2(64, 64));
        dl_init_orthogonal(ctx, t, 0.f);
        if (rt_ok(ctx, "init")) {
            err = ti_ortho_err(t, 0, 1.0);
            T_EXPECT(err <= 1e-5, "max |W^T W - I| = %.3g", err);
            err = ti_ortho_err(t, 1, 1.0);
            T_EXPECT(err <= 1e-5, "max |W W^T - I| = %.3g", err);
            for (i = 0; i < 64 * 64; i++)
                if (i % 65 != 0 && fabs((double)t->data[i]) > off) off = fabs((double)t->data[i]);
            T_EXPECT(off > 0.2, "largest off-diagonal %.3g: not a random rotation", off);
        }
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init orthogonal [32,64] rows");
    if (!t_skip_case) {
        t = dl_empty(ctx, dl_shape2(32, 64));
        dl_init_orthogonal(ctx, t, 0.f);
        if (rt_ok(ctx, "init")) {
            double err = ti_ortho_err(t, 1, 1.0);
            T_EXPECT(err <= 1e-5, "max |W W^T - I| = %.3g", err);
        }
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init orthogonal [64,32] columns");
    if (!t_skip_case) {
        t = dl_empty(ctx, dl_shape2(64, 32));
        dl_init_orthogonal(ctx, t, 0.f);
        if (rt_ok(ctx, "init")) {
            double err = ti_ortho_err(t, 0, 1.0);
            T_EXPECT(err <= 1e-5, "max |W^T W - I| = %.3g", err);
        }
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init orthogonal [48,48] gain 2");
    if (!t_skip_case) {
        t = dl_empty(ctx, dl_shape2(48, 48));
        dl_init_orthogonal(ctx, t, 2.f);
        if (rt_ok(ctx, "init")) {
            double err = ti_ortho_err(t, 0, 4.0);
            T_EXPECT(err <= 4e-5, "max |W^T W - 4I| = %.3g", err);
        }
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    T_BEGIN("train init same seed, same values");
    if (!t_skip_case) {
        dl_tensor *a, *b;
        dl_ctx_seed(ctx, 77);
        a = dl_empty(ctx, dl_shape2(16, 16));
        dl_init_kaiming_uniform(ctx, a, 0.f, 0, DL_NL_LEAKY_RELU);
        dl_ctx_seed(ctx, 77);
        b = dl_empty(ctx, dl_shape2(16, 16));
        dl_init_kaiming_uniform(ctx, b, 0.f, 0, DL_NL_LEAKY_RELU);
        if (rt_ok(ctx, "init"))
            T_EXPECT(memcmp(a->data, b->data, 256 * sizeof(float)) == 0, "values differ");
        dl_ctx_rewind(ctx, m);
    }
    T_END();
}

/* dropout in training mode has no torch reference (random masks): check the statistics */
static void rt_dropout_train(dl_ctx *ctx) {
    const int64_t n = 20000;
    dl_tensor *x, *y;
    float *dy;
    int64_t i, kept = 0, bad = 0;
    dl_mark m = dl_ctx_mark(ctx);
    x = dl_full(ctx, dl_shape1(n), 1.5f);
    dl_requires_grad(ctx, x, 1);
    y = dl_dropout(ctx, x, 0.25f, 1);
    dy = (float *)malloc((size_t)n * sizeof *dy);
    if (!dy || !rt_ok(ctx, "dropout")) { free(dy); dl_ctx_rewind(ctx, m); return; }
    for (i = 0; i < n; i++) dy[i] = 1.0f;
    T_EXPECT(dl_backward_with(ctx, y, dy) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
    for (i = 0; i < n && x->grad; i++) {
        float v = dl_get(y, i), g = x->grad[i];
        if (v != 0.0f) {
            kept++;
            if (fabsf(v - 2.0f) > 1e-6f || fabsf(g - 4.0f / 3.0f) > 1e-6f) bad++;
        } else if (g != 0.0f) {
            bad++;
        }
    }
    /* kept ~ Binomial(n, 0.75): sd = 61; allow 5 sd */
    T_EXPECT(labs((long)kept - 15000L) < 306, "kept %ld of %ld, want ~15000", (long)kept, (long)n);
    T_EXPECT(bad == 0, "%ld elements: y not in {0, x/(1-p)} or grad not mask/(1-p)", (long)bad);
    free(dy);
    y = dl_dropout(ctx, x, 0.0f, 1);
    T_EXPECT(dl_get(y, 0) == 1.5f && dl_get(y, n - 1) == 1.5f, "p = 0 in training is not identity");
    rt_ok(ctx, "end");
    dl_ctx_rewind(ctx, m);
}

/* ---------------------------------------------------------------- suite */
static void suite_train(void) {
    static char name[200];
    dl_ctx_desc d;
    dl_ctx *ctx;
    size_t used0;
    int k;
    memset(&d, 0, sizeof d);
    d.memory_size = (size_t)32 << 20;
    d.seed = 2024;
    ctx = dl_ctx_init(&d);
    T_BEGIN("train context");
    T_EXPECT(ctx != NULL, "dl_ctx_init failed");
    T_END();
    if (!ctx) return;
    used0 = dl_ctx_used_bytes(ctx);

    for (k = 0; k < RT_N_CASES; k++) {
        snprintf(name, sizeof name, "train %s", rt_cases[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        rt_run_case(ctx, &rt_cases[k]);
        T_END();
    }
    for (k = 0; k < RT_N_OPTIMS; k++) {
        snprintf(name, sizeof name, "train optim %s", rt_optims[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        rt_run_optim(ctx, &rt_optims[k]);
        T_END();
    }
    for (k = 0; k < RT_N_SCHEDS; k++) {
        snprintf(name, sizeof name, "train sched %s", rt_scheds[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        rt_run_sched(&rt_scheds[k]);
        T_END();
    }
    for (k = 0; k < RT_N_PLATEAUS; k++) {
        snprintf(name, sizeof name, "train plateau %s", rt_plateaus[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        rt_run_plateau(&rt_plateaus[k]);
        T_END();
    }
    for (k = 0; k < RT_N_CLIPS; k++) {
        snprintf(name, sizeof name, "train clip %s", rt_clips[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        rt_run_clip(ctx, &rt_clips[k]);
        T_END();
    }
    for (k = 0; k < RT_N_GAINS; k++) {
        const rt_gain_case *g = &rt_gains[k];
        float got;
        snprintf(name, sizeof name, "train gain %s %g", g->name, (double)g->param);
        T_BEGIN(name);
        if (t_skip_case) continue;
        got = dl_calculate_gain(g->nl, g->param);
        T_EXPECT(rt_close(got, g->gain, 0.0, 1e-6), "gain %.9g, want %.9g", (double)got,
                 (double)g->gain);
        T_END();
    }
    for (k = 0; k < (int)(sizeof tg_cases / sizeof tg_cases[0]); k++) {
        static const char *const rname[3] = {"mean", "sum", "none"};
        int r, is_loss = tg_cases[k].ip[0] < 0;
        for (r = 0; r < (is_loss ? 3 : 1); r++) {
            tg_case c = tg_cases[k];
            if (is_loss) c.ip[0] = r; /* DL_REDUCE_MEAN, _SUM, _NONE */
            snprintf(name, sizeof name, "train gradcheck %s%s%s", c.name, is_loss ? " " : "",
                     is_loss ? rname[r] : "");
            T_BEGIN(name);
            if (t_skip_case) continue;
            tg_run_case(ctx, &c);
            T_END();
        }
    }
    T_BEGIN("train dropout training statistics");
    if (!t_skip_case) rt_dropout_train(ctx);
    T_END();
    ti_run(ctx);

    T_BEGIN("train arena rewound");
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_ctx_used_bytes(ctx) == used0, "used %lu bytes, %lu before the cases",
             (unsigned long)dl_ctx_used_bytes(ctx), (unsigned long)used0);
    T_END();
    dl_ctx_free(ctx);
}
