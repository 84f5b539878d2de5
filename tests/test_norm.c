/* tests/test_norm.c - batch / layer / group / instance norm against PyTorch, plus
   finite-difference checks, error paths, folding a batch norm into a conv, and measure
   mode. The reference values live in tests/ref_norm.h, written by tests/gen_ref_norm.py
   (PyTorch 1.13, committed), so this test needs no Python.
     "norm ref <case>"   forward, then the backward seeded with the recorded dy: output,
                         dx, dgamma, dbeta, and the running statistics after the call;
                         then the forward again without any tape.
     "norm bn sequence"  dl_batchnorm trained on 5 batches: every step's output, running
                         mean and var, and eval output match torch.nn.BatchNorm2d.
   The conv-based fold test needs dl_conv2d; build with -DDL_TEST_NO_CONV to leave it out. */
#include <stdlib.h>
#include <stdint.h>
#include "ref_norm.h"

typedef struct tn_block { void *raw; void *p; } tn_block;
static int tn_alloc64(tn_block *b, size_t n) {
    b->raw = malloc(n + 64);
    b->p = b->raw ? (void *)(((uintptr_t)b->raw + 63) & ~(uintptr_t)63) : NULL;
    return b->raw != NULL;
}
static dl_ctx *tn_ctx(size_t bytes) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = 77; return dl_ctx_init(&d);
}
static int tn_ok(dl_ctx *ctx, const char *when) {
    if (dl_ctx_status(ctx) == DL_STATUS_OK) return 1;
    T_EXPECT(0, "%s: %s: %s", when, dl_status_name(dl_ctx_status(ctx)), dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    return 0;
}
static int64_t tn_numel(int ndim, const int64_t *shape) { int64_t n = 1; int i; for (i = 0; i < ndim; i++) n *= shape[i]; return n; }
static void tn_close(const dl_tensor *t, const float *want, int64_t n, double atol, double rtol, const char *what) {
    float *buf;
    T_EXPECT(t != NULL && !dl_is_poison(t) && t->numel == n, "%s: missing, poison or %ld elements (want %ld)", what,
             t ? (long)t->numel : -1L, (long)n);
    if (!t || dl_is_poison(t) || t->numel != n) return;
    buf = (float *)malloc((size_t)(n ? n : 1) * sizeof *buf);
    if (!buf) { T_EXPECT(0, "out of host memory"); return; }
    dl_copy_to(t, buf);
    t_allclose(buf, want, (long)n, atol, rtol, what);
    free(buf);
}
static void tn_grad_close(const dl_tensor *t, const float *want, int64_t n, double atol, double rtol, const char *what) {
    T_EXPECT(t->grad != NULL, "%s: no gradient", what);
    if (t->grad) t_allclose(t->grad, want, (long)n, atol, rtol, what);
}

/* ---- reference cases ------------------------------------------------------------------ */
static dl_tensor *tn_run_op(dl_ctx *ctx, const rn_case *c, dl_tensor *x, dl_tensor *g, dl_tensor *b, dl_tensor *rm, dl_tensor *rv) {
    switch (c->op) {
    case RN_BN: return dl_batch_norm(ctx, x, g, b, rm, rv, c->train, c->momentum, c->eps);
    case RN_LN: return dl_layer_norm(ctx, x, c->param, g, b, c->eps);
    case RN_GN: return dl_group_norm(ctx, x, c->param, g, b, c->eps);
    default: return dl_instance_norm(ctx, x, g, b, c->eps);
    }
}
static void tn_run_ref(dl_ctx *ctx, const rn_case *c) {
    dl_shape xs = dl_shape_n(c->ndim, c->shape), ps = dl_shape_n(c->pndim, c->pshape);
    int64_t n = tn_numel(c->ndim, c->shape), np = tn_numel(c->pndim, c->pshape), C = c->shape[1];
    /* the repository's default tolerances; sums run in double, so errors stay ~1e-6 */
    double atol = 1e-5, rtol = 1e-4;
    int pass; dl_mark m = dl_ctx_mark(ctx);
    for (pass = 0; pass < 2; pass++) {
        dl_tensor *x = dl_from_data(ctx, xs, c->x), *g = NULL, *b = NULL, *rm = NULL, *rv = NULL, *y;
        if (c->gamma) g = dl_from_data(ctx, ps, c->gamma);
        if (c->beta) b = dl_from_data(ctx, ps, c->beta);
        if (c->rm) { rm = dl_from_data(ctx, dl_shape1(C), c->rm); rv = dl_from_data(ctx, dl_shape1(C), c->rv); }
        if (pass == 0) {
            dl_requires_grad(ctx, x, 1);
            if (g) dl_requires_grad(ctx, g, 1);
            if (b) dl_requires_grad(ctx, b, 1);
        }
        y = tn_run_op(ctx, c, x, g, b, rm, rv);
        if (!tn_ok(ctx, pass ? "forward (no grad)" : "forward")) break;
        T_EXPECT(dl_same_shape(x, y), "output shape differs from the input's");
        tn_close(y, c->y, n, atol, rtol, pass ? "no-grad output" : "output");
        if (c->rm_out) {
            tn_close(rm, c->rm_out, C, 1e-6, 1e-5, "running_mean after");
            tn_close(rv, c->rv_out, C, 1e-6, 1e-5, "running_var after");
            T_EXPECT(!rm->requires_grad && !rv->requires_grad && !rm->node && !rv->node, "running stats joined autodiff");
        } else if (c->rm) {   /* eval: the running statistics stay as they were */
            tn_close(rm, c->rm, C, 0.0, 0.0, "running_mean (eval)");
            tn_close(rv, c->rv, C, 0.0, 0.0, "running_var (eval)");
        }
        if (pass == 0) {
            T_EXPECT(dl_backward_with(ctx, y, c->dy) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
            if (!tn_ok(ctx, "backward")) break;
            tn_grad_close(x, c->dx, n, 1e-5, 1e-4, "dx");
            if (g) tn_grad_close(g, c->dgamma, np, 1e-5, 1e-4, "dgamma");
            if (b) tn_grad_close(b, c->dbeta, np, 1e-5, 1e-4, "dbeta");
        } else T_EXPECT(!y->requires_grad && y->node == NULL, "no tape without requires_grad");
        tn_close(x, c->x, n, 0.0, 0.0, "x after the op");
        dl_ctx_rewind(ctx, m);
    }
    dl_ctx_rewind(ctx, m);
}

/* ---- the 5-step BatchNorm2d sequence ----------------------------------------------------- */
static void tn_sequence(void) {
    dl_ctx *ctx = tn_ctx((size_t)4 << 20); dl_batchnorm bn; dl_mark mk; int k;
    int64_t n = tn_numel(4, rn_seq_shape), C = rn_seq_shape[1];
    dl_shape s = dl_shape_n(4, rn_seq_shape);
    char what[64];
    T_BEGIN("norm bn init: gamma 1, beta 0 learnable; running mean 0, var 1 without grad; momentum 0.1, eps 1e-5");
    dl_batchnorm_init(ctx, &bn, C);
    tn_ok(ctx, "init");
    T_EXPECT(bn.weight->requires_grad && bn.bias->requires_grad, "gamma/beta must be learnable");
    T_EXPECT(!bn.running_mean->requires_grad && !bn.running_var->requires_grad, "running stats must not require grad");
    T_EXPECT(bn.momentum == 0.1f && bn.eps == 1e-5f, "momentum %g eps %g", (double)bn.momentum, (double)bn.eps);
    for (k = 0; k < C; k++)
        T_EXPECT(dl_get(bn.weight, k) == 1.0f && dl_get(bn.bias, k) == 0.0f && dl_get(bn.running_mean, k) == 0.0f &&
                 dl_get(bn.running_var, k) == 1.0f, "channel %d init", k);
    T_END();

    T_BEGIN("norm bn sequence: 5 train steps, running stats and eval outputs match torch BatchNorm2d step by step");
    dl_copy_from(bn.weight, rn_seq_gamma);
    dl_copy_from(bn.bias, rn_seq_beta);
    mk = dl_ctx_mark(ctx);
    for (k = 0; k < RN_SEQ_STEPS; k++) {
        dl_tensor *x = dl_from_data(ctx, s, rn_seq_x[k]), *xe = dl_from_data(ctx, s, rn_seq_x_eval), *y, *ye, *loss;
        dl_zero_grad(bn.weight); dl_zero_grad(bn.bias);
        y = dl_batchnorm_forward(ctx, &bn, x, 1);
        loss = dl_sum_all(ctx, dl_square(ctx, y));            /* a backward through train mode */
        T_EXPECT(dl_backward(ctx, loss) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
        if (!tn_ok(ctx, "train step")) break;
        snprintf(what, sizeof what, "step %d train output", k); tn_close(y, rn_seq_y[k], n, 1e-5, 1e-4, what);
        snprintf(what, sizeof what, "step %d running_mean", k); tn_close(bn.running_mean, rn_seq_rm[k], C, 1e-6, 1e-5, what);
        snprintf(what, sizeof what, "step %d running_var", k); tn_close(bn.running_var, rn_seq_rv[k], C, 1e-6, 1e-5, what);
        ye = dl_batchnorm_forward(ctx, &bn, xe, 0);
        if (!tn_ok(ctx, "eval step")) break;
        snprintf(what, sizeof what, "step %d eval output", k); tn_close(ye, rn_seq_y_eval[k], n, 1e-5, 1e-4, what);
        snprintf(what, sizeof what, "step %d running_mean after eval", k); tn_close(bn.running_mean, rn_seq_rm[k], C, 1e-6, 1e-5, what);
        snprintf(what, sizeof what, "step %d running_var after eval", k); tn_close(bn.running_var, rn_seq_rv[k], C, 1e-6, 1e-5, what);
        dl_ctx_rewind(ctx, mk);
    }
    T_END();
    dl_ctx_free(ctx);
}

/* ---- finite differences ------------------------------------------------------------------- */
typedef struct tn_gc { int op, param, train; dl_tensor *rm, *rv; } tn_gc;
static dl_tensor *tn_gc_fn(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    const tn_gc *u = (const tn_gc *)user;
    dl_tensor *g = n > 1 ? x[1] : NULL, *b = n > 2 ? x[2] : NULL;
    switch (u->op) {
    case RN_BN: return dl_batch_norm(ctx, x[0], g, b, u->rm, u->rv, u->train, 0.0f, 0.0f);
    case RN_LN: return dl_layer_norm(ctx, x[0], u->param, g, b, 0.0f);
    case RN_GN: return dl_group_norm(ctx, x[0], u->param, g, b, 0.0f);
    case 4: /* a small chain: batch norm -> tanh -> group norm -> layer norm */
        return dl_layer_norm(ctx, dl_group_norm(ctx, dl_tanh(ctx, dl_batch_norm(ctx, x[0], g, b, NULL, NULL, 1, 0.0f, 0.0f)), 2, g, NULL, 0.0f), 1, NULL, NULL, 0.0f);
    default: return dl_instance_norm(ctx, x[0], g, b, 0.0f);
    }
}
static void tn_gradcheck_one(const char *name, int op, int param, int train, dl_shape xs, dl_shape ps, int nin) {
    dl_ctx *ctx = tn_ctx((size_t)8 << 20); dl_tensor *in[3]; tn_gc u; dl_gradcheck_result r; dl_status st; int i;
    T_BEGIN(name);
    in[0] = dl_uniform(ctx, xs, -1.0f, 1.0f);
    for (i = 0; i < in[0]->numel; i++) dl_set(in[0], i, dl_get(in[0], i) * 1.5f + 0.25f);
    in[1] = dl_uniform(ctx, ps, 0.5f, 1.5f);
    in[2] = dl_uniform(ctx, ps, -0.5f, 0.5f);
    for (i = 0; i < nin; i++) dl_requires_grad(ctx, in[i], 1);
    u.op = op; u.param = param; u.train = train; u.rm = NULL; u.rv = NULL;
    if (op == RN_BN && !train) { u.rm = dl_uniform(ctx, ps, -0.5f, 0.5f); u.rv = dl_uniform(ctx, ps, 0.5f, 2.0f); }
    st = dl_gradcheck(ctx, tn_gc_fn, &u, in, nin, NULL, &r);
    T_EXPECT(st == DL_STATUS_OK && r.checked > 0, "%s (%s)", dl_gradcheck_message(ctx), dl_ctx_message(ctx));
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}
static void tn_gradchecks(void) {
    tn_gradcheck_one("norm gradcheck batch_norm train [4,3,5] x gamma beta", RN_BN, 0, 1, dl_shape3(4, 3, 5), dl_shape1(3), 3);
    tn_gradcheck_one("norm gradcheck batch_norm train [3,2,3,4] x gamma beta", RN_BN, 0, 1, dl_shape4(3, 2, 3, 4), dl_shape1(2), 3);
    tn_gradcheck_one("norm gradcheck batch_norm train [5,4] x only", RN_BN, 0, 1, dl_shape2(5, 4), dl_shape1(4), 1);
    tn_gradcheck_one("norm gradcheck batch_norm eval [3,2,3,4] x gamma beta", RN_BN, 0, 0, dl_shape4(3, 2, 3, 4), dl_shape1(2), 3);
    tn_gradcheck_one("norm gradcheck layer_norm ndims 1 [3,4,5] x gamma beta", RN_LN, 1, 0, dl_shape3(3, 4, 5), dl_shape1(5), 3);
    tn_gradcheck_one("norm gradcheck layer_norm ndims 2 [3,4,5] x gamma beta", RN_LN, 2, 0, dl_shape3(3, 4, 5), dl_shape2(4, 5), 3);
    tn_gradcheck_one("norm gradcheck group_norm groups 2 [2,4,3,3] x gamma beta", RN_GN, 2, 0, dl_shape4(2, 4, 3, 3), dl_shape1(4), 3);
    tn_gradcheck_one("norm gradcheck group_norm groups 1 [3,4,5] x gamma beta", RN_GN, 1, 0, dl_shape3(3, 4, 5), dl_shape1(4), 3);
    tn_gradcheck_one("norm gradcheck instance_norm [2,3,7] x gamma beta", RN_IN, 0, 0, dl_shape3(2, 3, 7), dl_shape1(3), 3);
    tn_gradcheck_one("norm gradcheck chain bn -> tanh -> gn -> ln [3,4,5], gamma shared", 4, 0, 1, dl_shape3(3, 4, 5), dl_shape1(4), 3);
}

/* ---- non-contiguous inputs -------------------------------------------------------------- */
/* y(view) == y(contiguous copy); dx of the view's base == dx of the copy, permuted back */
static void tn_views(void) {
    static const int perm[3] = {2, 1, 0};
    dl_ctx *ctx = tn_ctx((size_t)4 << 20); int op, i;
    T_BEGIN("norm: non-contiguous x (permuted) and gamma (strided slice) give the contiguous results");
    for (op = 0; op < 4; op++) {
        dl_mark mk = dl_ctx_mark(ctx);
        dl_tensor *xt = dl_uniform(ctx, dl_shape3(5, 3, 4), -2.0f, 2.0f);            /* [L,C,N] */
        dl_tensor *xc = dl_contiguous(ctx, dl_permute(ctx, xt, perm));                /* [N,C,L] */
        dl_tensor *gbase = dl_uniform(ctx, dl_shape1(6), 0.5f, 1.5f), *gc = dl_contiguous(ctx, dl_slice(ctx, gbase, 0, 0, 6, 2));
        dl_tensor *rm1 = dl_zeros(ctx, dl_shape1(3)), *rv1 = dl_ones(ctx, dl_shape1(3));
        dl_tensor *rm2 = dl_zeros(ctx, dl_shape1(3)), *rv2 = dl_ones(ctx, dl_shape1(3));
        dl_tensor *xv, *gv, *y1, *y2, *w;
        dl_requires_grad(ctx, xt, 1); dl_requires_grad(ctx, xc, 1);
        dl_requires_grad(ctx, gbase, 1); dl_requires_grad(ctx, gc, 1);
        xv = dl_permute(ctx, xt, perm); gv = dl_slice(ctx, gbase, 0, 0, 6, 2);
        T_EXPECT(!dl_is_contiguous(xv) && !dl_is_contiguous(gv), "views should be non-contiguous");
        if (op == 0) { y1 = dl_batch_norm(ctx, xv, gv, NULL, rm1, rv1, 1, 0.0f, 0.0f); y2 = dl_batch_norm(ctx, xc, gc, NULL, rm2, rv2, 1, 0.0f, 0.0f); }
        else if (op == 1) { y1 = dl_group_norm(ctx, xv, 3, gv, NULL, 0.0f); y2 = dl_group_norm(ctx, xc, 3, gc, NULL, 0.0f); }
        else if (op == 2) { y1 = dl_instance_norm(ctx, xv, gv, NULL, 0.0f); y2 = dl_instance_norm(ctx, xc, gc, NULL, 0.0f); }
        else { /* layer norm over the last dim: gamma [5] is a slice too */
            dl_tensor *g4 = dl_uniform(ctx, dl_shape1(10), 0.5f, 1.5f); dl_requires_grad(ctx, g4, 1);
            gv = dl_slice(ctx, g4, 0, 1, 10, 2); gc = dl_contiguous(ctx, dl_detach(ctx, gv)); dl_requires_grad(ctx, gc, 1);
            y1 = dl_layer_norm(ctx, dl_permute(ctx, xt, perm), 1, gv, NULL, 0.0f); y2 = dl_layer_norm(ctx, xc, 1, gc, NULL, 0.0f);
            gbase = g4;
        }
        w = dl_uniform(ctx, dl_shape3(4, 3, 5), -1.0f, 1.0f);
        T_EXPECT(dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y1, w))) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        T_EXPECT(dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y2, w))) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        if (!tn_ok(ctx, "views")) break;
        for (i = 0; i < 60; i++) {
            int64_t n = i / 15, c = (i / 5) % 3, l = i % 5;
            T_EXPECT(dl_get(y1, i) == dl_get(y2, i), "op %d: y[%d] %g vs %g", op, i, (double)dl_get(y1, i), (double)dl_get(y2, i));
            T_EXPECT(xt->grad[(l * 3 + c) * 4 + n] == xc->grad[i], "op %d: dx[%d]", op, i);
        }
        for (i = 0; i < gc->numel; i++)
            T_EXPECT(gbase->grad[op == 3 ? 1 + 2 * i : 2 * i] == gc->grad[i], "op %d: dgamma[%d]", op, i);
        if (op == 0)
            for (i = 0; i < 3; i++) T_EXPECT(dl_get(rm1, i) == dl_get(rm2, i) && dl_get(rv1, i) == dl_get(rv2, i), "running stats %d", i);
        dl_ctx_rewind(ctx, mk);
    }
    T_END();
    dl_ctx_free(ctx);
}

/* ---- error paths ------------------------------------------------------------------------- */
static void tn_expect_error(dl_ctx *ctx, const dl_tensor *r, dl_status want, const char *msg) {
    T_EXPECT(dl_is_poison(r), "expected a poison result");
    T_EXPECT(dl_ctx_status(ctx) == want, "status %s, want %s (%s)", dl_status_name(dl_ctx_status(ctx)), dl_status_name(want), dl_ctx_message(ctx));
    T_EXPECT(strcmp(dl_ctx_message(ctx), msg) == 0, "message \"%s\", want \"%s\"", dl_ctx_message(ctx), msg);
    dl_ctx_clear_error(ctx);
}
static void tn_errors(void) {
    dl_ctx *ctx = tn_ctx((size_t)1 << 20);
    dl_tensor *x = dl_ones(ctx, dl_shape3(4, 3, 5)), *x6 = dl_ones(ctx, dl_shape3(2, 6, 5));
    dl_tensor *g3 = dl_ones(ctx, dl_shape1(3)), *g4 = dl_ones(ctx, dl_shape1(4)), *g5 = dl_ones(ctx, dl_shape1(5));
    dl_tensor *rm = dl_zeros(ctx, dl_shape1(3)), *rv = dl_ones(ctx, dl_shape1(3)), *r;

    T_BEGIN("norm error: batch_norm channels mismatch (gamma, running_var) -> SHAPE");
    tn_expect_error(ctx, dl_batch_norm(ctx, x, g4, NULL, NULL, NULL, 1, 0.0f, 0.0f), DL_STATUS_SHAPE,
                    "dl_batch_norm: gamma[4] must be [C] with C = x.shape[1] = 3, x[4,3,5]");
    tn_expect_error(ctx, dl_batch_norm(ctx, x, g3, g3, rm, g4, 1, 0.0f, 0.0f), DL_STATUS_SHAPE,
                    "dl_batch_norm: running_var[4] must be [C] with C = x.shape[1] = 3, x[4,3,5]");
    tn_expect_error(ctx, dl_batch_norm(ctx, dl_ones(ctx, dl_shape1(3)), NULL, NULL, NULL, NULL, 1, 0.0f, 0.0f), DL_STATUS_SHAPE,
                    "dl_batch_norm: x[3] must have a channel axis: [N,C], [N,C,L] or [N,C,H,W]");
    T_END();

    T_BEGIN("norm error: batch_norm train with one value per channel -> SHAPE, as torch; eval is fine");
    tn_expect_error(ctx, dl_batch_norm(ctx, dl_ones(ctx, dl_shape2(1, 3)), g3, g3, rm, rv, 1, 0.0f, 0.0f), DL_STATUS_SHAPE,
                    "dl_batch_norm: expected more than 1 value per channel when training, got input[1,3]");
    tn_expect_error(ctx, dl_batch_norm(ctx, dl_ones(ctx, dl_shape4(1, 3, 1, 1)), NULL, NULL, NULL, NULL, 1, 0.0f, 0.0f), DL_STATUS_SHAPE,
                    "dl_batch_norm: expected more than 1 value per channel when training, got input[1,3,1,1]");
    T_EXPECT(dl_get(rm, 0) == 0.0f && dl_get(rv, 0) == 1.0f, "running stats touched by a failed call");
    r = dl_batch_norm(ctx, dl_ones(ctx, dl_shape2(1, 3)), g3, g3, rm, rv, 0, 0.0f, 0.0f);
    T_EXPECT(!dl_is_poison(r) && dl_ctx_status(ctx) == DL_STATUS_OK, "eval [1,3]: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_END();

    T_BEGIN("norm error: batch_norm running statistics missing or half given, bad eps/momentum -> INVALID");
    tn_expect_error(ctx, dl_batch_norm(ctx, x, g3, g3, NULL, NULL, 0, 0.0f, 0.0f), DL_STATUS_INVALID,
                    "dl_batch_norm: eval mode (train = 0) needs running_mean and running_var");
    tn_expect_error(ctx, dl_batch_norm(ctx, x, g3, g3, rm, NULL, 1, 0.0f, 0.0f), DL_STATUS_INVALID,
                    "dl_batch_norm: give both running_mean and running_var, or neither");
    tn_expect_error(ctx, dl_batch_norm(ctx, x, NULL, NULL, NULL, NULL, 1, 0.0f, -1.0f), DL_STATUS_INVALID,
                    "dl_batch_norm: eps = -1 must be >= 0 (0: 1e-5)");
    tn_expect_error(ctx, dl_batch_norm(ctx, x, NULL, NULL, NULL, NULL, 1, 1.5f, 0.0f), DL_STATUS_INVALID,
                    "dl_batch_norm: momentum = 1.5 must be in (0, 1] (0: 0.1)");
    T_END();

    T_BEGIN("norm error: group_norm groups not dividing C -> SHAPE; groups 0 -> INVALID; gamma [C]");
    tn_expect_error(ctx, dl_group_norm(ctx, x6, 4, NULL, NULL, 0.0f), DL_STATUS_SHAPE,
                    "dl_group_norm: groups = 4 must divide the 6 channels of x[2,6,5]");
    tn_expect_error(ctx, dl_group_norm(ctx, x6, 0, NULL, NULL, 0.0f), DL_STATUS_INVALID,
                    "dl_group_norm: groups = 0 must be positive");
    tn_expect_error(ctx, dl_group_norm(ctx, x6, 2, g5, NULL, 0.0f), DL_STATUS_SHAPE,
                    "dl_group_norm: gamma[5] must be [C] with C = x.shape[1] = 6, x[2,6,5]");
    T_END();

    T_BEGIN("norm error: instance_norm with one spatial element -> SHAPE, as torch; channel mismatch");
    tn_expect_error(ctx, dl_instance_norm(ctx, dl_ones(ctx, dl_shape4(2, 3, 1, 1)), NULL, NULL, 0.0f), DL_STATUS_SHAPE,
                    "dl_instance_norm: expected more than 1 spatial element, got input[2,3,1,1]");
    tn_expect_error(ctx, dl_instance_norm(ctx, x, NULL, g4, 0.0f), DL_STATUS_SHAPE,
                    "dl_instance_norm: beta[4] must be [C] with C = x.shape[1] = 3, x[4,3,5]");
    T_END();

    T_BEGIN("norm error: layer_norm ndims out of range -> AXIS; gamma shape -> SHAPE; index gamma -> DTYPE");
    tn_expect_error(ctx, dl_layer_norm(ctx, x6, 4, NULL, NULL, 0.0f), DL_STATUS_AXIS,
                    "dl_layer_norm: ndims = 4 must be in 1..rank of x[2,6,5]");
    tn_expect_error(ctx, dl_layer_norm(ctx, x6, 0, NULL, NULL, 0.0f), DL_STATUS_AXIS,
                    "dl_layer_norm: ndims = 0 must be in 1..rank of x[2,6,5]");
    tn_expect_error(ctx, dl_layer_norm(ctx, x6, 1, dl_ones(ctx, dl_shape2(6, 5)), NULL, 0.0f), DL_STATUS_SHAPE,
                    "dl_layer_norm: gamma[6,5] must have the shape of the last 1 dims of x[2,6,5]");
    tn_expect_error(ctx, dl_layer_norm(ctx, x6, 2, NULL, g5, 0.0f), DL_STATUS_SHAPE,
                    "dl_layer_norm: beta[5] must have the shape of the last 2 dims of x[2,6,5]");
    tn_expect_error(ctx, dl_layer_norm(ctx, x6, 1, dl_index_zeros(ctx, dl_shape1(5)), NULL, 0.0f), DL_STATUS_DTYPE,
                    "dl_layer_norm: argument 3[5] must be float32 (DL_F32)");
    T_END();

    T_BEGIN("norm error: NULL x, then poison passes through every norm");
    tn_expect_error(ctx, dl_layer_norm(ctx, NULL, 1, NULL, NULL, 0.0f), DL_STATUS_INVALID, "dl_layer_norm: argument 1 is NULL");
    r = dl_group_norm(ctx, x6, 4, NULL, NULL, 0.0f);
    r = dl_batch_norm(ctx, r, NULL, NULL, NULL, NULL, 1, 0.0f, 0.0f);
    r = dl_layer_norm(ctx, dl_instance_norm(ctx, r, NULL, NULL, 0.0f), 1, NULL, NULL, 0.0f);
    T_EXPECT(dl_is_poison(r) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "first error kept: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_END();
    dl_ctx_free(ctx);
}

/* ---- folding into a conv ------------------------------------------------------------------- */
/* reference conv, stride 1, zero padding p on every side, in double */
static void tn_conv_ref(const float *x, const float *w, const float *b, double *y, int N, int C, int H, int W, int O, int k, int p) {
    int n, o, i, j, c, u, v, oh = H + 2 * p - k + 1, ow = W + 2 * p - k + 1;
    for (n = 0; n < N; n++) for (o = 0; o < O; o++) for (i = 0; i < oh; i++) for (j = 0; j < ow; j++) {
        double s = b ? (double)b[o] : 0.0;
        for (c = 0; c < C; c++) for (u = 0; u < k; u++) for (v = 0; v < k; v++) {
            int hi = i + u - p, wi = j + v - p;
            if (hi >= 0 && hi < H && wi >= 0 && wi < W)
                s += (double)x[((n * C + c) * H + hi) * W + wi] * (double)w[((o * C + c) * k + u) * k + v];
        }
        y[((n * O + o) * oh + i) * ow + j] = s;
    }
}
static void tn_fold_by_hand(void) {
    enum { N = 2, C = 3, H = 5, W = 6, O = 4, K = 3, P = 1, NX = N * C * H * W, NW = O * C * K * K, NY = N * O * H * W };
    int with_bias;
    for (with_bias = 0; with_bias < 2; with_bias++) {
        dl_ctx *ctx = tn_ctx((size_t)1 << 20); dl_conv2d_layer l; dl_batchnorm bn;
        float x[NX], w0[NW], b0[O], wf[NW], bf[O], yf[NY], yr[NY]; double acc[NY]; int i, o; dl_status st;
        T_BEGIN(with_bias ? "norm fold by hand: conv with bias; folded conv == conv then eval batch norm (1e-5)"
                          : "norm fold by hand: conv without bias; the bias is created; folded conv == conv then eval batch norm");
        memset(&l, 0, sizeof l);
        l.weight = dl_uniform(ctx, dl_shape4(O, C, K, K), -0.5f, 0.5f);
        dl_requires_grad(ctx, l.weight, 1);
        l.bias = with_bias ? dl_uniform(ctx, dl_shape1(O), -0.5f, 0.5f) : NULL;
        l.desc.pad[0] = l.desc.pad[1] = l.desc.pad[2] = l.desc.pad[3] = P;
        dl_batchnorm_init(ctx, &bn, O);
        dl_init_uniform(ctx, bn.weight, 0.5f, 1.5f); dl_init_uniform(ctx, bn.bias, -0.5f, 0.5f);
        dl_init_uniform(ctx, bn.running_mean, -0.5f, 0.5f); dl_init_uniform(ctx, bn.running_var, 0.2f, 2.0f);
        { dl_tensor *xt = dl_uniform(ctx, dl_shape4(N, C, H, W), -1.0f, 1.0f); dl_copy_to(xt, x); }
        dl_copy_to(l.weight, w0);
        if (with_bias) dl_copy_to(l.bias, b0);
        /* reference: conv then eval batch norm, in double */
        tn_conv_ref(x, w0, with_bias ? b0 : NULL, acc, N, C, H, W, O, K, P);
        for (i = 0; i < NY; i++) {
            o = (i / (H * W)) % O;
            yr[i] = (float)((acc[i] - (double)dl_get(bn.running_mean, o)) / sqrt((double)dl_get(bn.running_var, o) + 1e-5) *
                            (double)dl_get(bn.weight, o) + (double)dl_get(bn.bias, o));
        }
        st = dl_fold_batch_norm(ctx, &l, &bn);
        T_EXPECT(st == DL_STATUS_OK, "fold: %s", dl_ctx_message(ctx));
        T_EXPECT(l.bias != NULL && l.bias->ndim == 1 && l.bias->shape[0] == O, "bias [O] expected");
        if (st != DL_STATUS_OK || !l.bias) { dl_ctx_free(ctx); T_END(); continue; }
        if (!with_bias) T_EXPECT(l.bias->requires_grad == l.weight->requires_grad, "created bias follows the weight's requires_grad");
        dl_copy_to(l.weight, wf); dl_copy_to(l.bias, bf);
        for (i = 0; i < NW; i++) {
            double s;
            o = i / (C * K * K);
            s = (double)dl_get(bn.weight, o) / sqrt((double)dl_get(bn.running_var, o) + 1e-5);
            T_EXPECT(fabs((double)wf[i] - (double)w0[i] * s) <= 1e-6 * (1.0 + fabs((double)w0[i] * s)), "w'[%d]", i);
        }
        tn_conv_ref(x, wf, bf, acc, N, C, H, W, O, K, P);
        for (i = 0; i < NY; i++) yf[i] = (float)acc[i];
        t_allclose(yf, yr, NY, 1e-5, 1e-5, "folded conv output");
        T_END();
        dl_ctx_free(ctx);
    }

    T_BEGIN("norm fold: errors (channels, NULL) and measure mode (bias created, OK)");
    {
        dl_ctx *ctx = tn_ctx((size_t)1 << 20); dl_conv2d_layer l; dl_batchnorm bn; dl_ctx_desc d; dl_ctx *mc;
        memset(&l, 0, sizeof l);
        l.weight = dl_ones(ctx, dl_shape4(4, 3, 3, 3));
        dl_batchnorm_init(ctx, &bn, 5);
        T_EXPECT(dl_fold_batch_norm(ctx, &l, &bn) == DL_STATUS_SHAPE, "status %s", dl_status_name(dl_ctx_status(ctx)));
        T_EXPECT(strcmp(dl_ctx_message(ctx), "dl_fold_batch_norm: bn->weight[5] must be [4], the conv's output channels") == 0,
                 "message: %s", dl_ctx_message(ctx));
        T_EXPECT(l.bias == NULL, "no bias created on error");
        dl_ctx_clear_error(ctx);
        T_EXPECT(dl_fold_batch_norm(ctx, NULL, &bn) == DL_STATUS_INVALID, "NULL conv");
        T_EXPECT(strcmp(dl_ctx_message(ctx), "dl_fold_batch_norm: conv or bn is NULL") == 0, "message: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        bn.running_var = NULL;
        dl_batchnorm_init(ctx, &bn, 4); bn.running_var = NULL;
        T_EXPECT(dl_fold_batch_norm(ctx, &l, &bn) == DL_STATUS_INVALID, "missing running_var");
        T_EXPECT(strcmp(dl_ctx_message(ctx), "dl_fold_batch_norm: bn->running_var is NULL") == 0, "message: %s", dl_ctx_message(ctx));
        dl_ctx_free(ctx);
        memset(&d, 0, sizeof d); d.measure = 1;
        mc = dl_ctx_init(&d);
        memset(&l, 0, sizeof l);
        l.weight = dl_ones(mc, dl_shape4(4, 3, 3, 3));
        dl_batchnorm_init(mc, &bn, 4);
        T_EXPECT(dl_fold_batch_norm(mc, &l, &bn) == DL_STATUS_OK && l.bias && l.bias->shape[0] == 4, "measure: %s", dl_ctx_message(mc));
        dl_ctx_free(mc);
    }
    T_END();
}

#ifndef DL_TEST_NO_CONV
/* with dl_conv2d: bn trained a few steps on the conv's outputs, then folded */
static void tn_fold_conv(void) {
    int variant;
    for (variant = 0; variant < 3; variant++) {
        dl_ctx *ctx = tn_ctx((size_t)8 << 20); dl_conv2d_layer l; dl_batchnorm bn; dl_conv_desc d; dl_mark mk;
        dl_tensor *x, *y; float *want; int k; int64_t ny; dl_status st;
        static const char *names[3] = {
            "norm fold dl_conv2d 3->4 3x3 pad 1, bias: folded == conv + eval batch norm (1e-5)",
            "norm fold dl_conv2d 3->5 3x3 stride 2 no bias: folded == conv + eval batch norm (1e-5)",
            "norm fold dl_conv2d 4->6 1x3 groups 2 SAME, bias: folded == conv + eval batch norm (1e-5)" };
        static const int cin[3] = {3, 3, 4}, cout[3] = {4, 5, 6}, kh[3] = {3, 3, 1};
        T_BEGIN(names[variant]);
        memset(&d, 0, sizeof d);
        if (variant == 0) d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 1;
        if (variant == 1) d.stride[0] = d.stride[1] = 2;
        if (variant == 2) { d.groups = 2; d.padding_mode = DL_PAD_SAME; }
        dl_conv2d_init(ctx, &l, cin[variant], cout[variant], kh[variant], 3, variant != 1, &d);
        dl_batchnorm_init(ctx, &bn, cout[variant]);
        dl_init_uniform(ctx, bn.weight, 0.5f, 1.5f); dl_init_uniform(ctx, bn.bias, -0.5f, 0.5f);
        mk = dl_ctx_mark(ctx);
        for (k = 0; k < 4; k++) {   /* running statistics away from 0 / 1 */
            x = dl_uniform(ctx, dl_shape4(3, cin[variant], 7, 9), -1.0f, 2.0f);
            dl_batchnorm_forward(ctx, &bn, dl_conv2d_forward(ctx, &l, x), 1);
            dl_ctx_rewind(ctx, mk);
        }
        x = dl_uniform(ctx, dl_shape4(2, cin[variant], 7, 9), -1.0f, 2.0f);
        mk = dl_ctx_mark(ctx);
        y = dl_batchnorm_forward(ctx, &bn, dl_conv2d_forward(ctx, &l, x), 0);
        if (!tn_ok(ctx, "conv + batch norm")) { T_END(); dl_ctx_free(ctx); continue; }
        want = (float *)malloc((size_t)y->numel * sizeof(float));
        if (!want) { T_EXPECT(0, "out of host memory"); T_END(); dl_ctx_free(ctx); continue; }
        dl_copy_to(y, want);
        ny = y->numel;               /* y's header is freed by the rewind */
        dl_ctx_rewind(ctx, mk);
        st = dl_fold_batch_norm(ctx, &l, &bn);
        T_EXPECT(st == DL_STATUS_OK, "fold: %s", dl_ctx_message(ctx));
        T_EXPECT(l.bias != NULL && l.bias->numel == cout[variant], "folded conv has a bias [O]");
        tn_close(dl_conv2d_forward(ctx, &l, x), want, ny, 1e-5, 1e-5, "folded conv output");
        tn_ok(ctx, "folded conv");
        free(want);
        T_END();
        dl_ctx_free(ctx);
    }
}
#endif

/* ---- measure mode ------------------------------------------------------------------------ */
/* params, then 2 steps. variant 0: bn(train) -> relu -> group norm -> layer norm ->
   instance norm -> bn(eval) -> loss, backward, then a no-grad eval bn + layer norm.
   variants 1, 2: layer norm / group norm first, so their backward (the last one to run,
   with its double scratch for dgamma/dbeta) sits at the peak */
static dl_status tn_measure_run(void *mem, size_t bytes, int measure, int variant, size_t *peak) {
    dl_ctx_desc d; dl_ctx *ctx; dl_batchnorm bn; dl_tensor *gg, *gb, *lg, *lb, *x; dl_mark mk; int s; dl_status st;
    memset(&d, 0, sizeof d); d.memory = mem; d.memory_size = bytes; d.measure = measure; d.seed = 9;
    ctx = dl_ctx_init(&d);
    if (!ctx) return DL_STATUS_OOM;
    dl_batchnorm_init(ctx, &bn, 6);
    gg = dl_ones(ctx, dl_shape1(6)); gb = dl_zeros(ctx, dl_shape1(6));
    lg = dl_ones(ctx, dl_shape2(5, 7)); lb = dl_zeros(ctx, dl_shape2(5, 7));
    dl_requires_grad(ctx, gg, 1); dl_requires_grad(ctx, gb, 1); dl_requires_grad(ctx, lg, 1); dl_requires_grad(ctx, lb, 1);
    x = dl_uniform(ctx, dl_shape4(4, 6, 5, 7), -1.0f, 1.0f);
    dl_requires_grad(ctx, x, 1);
    mk = dl_ctx_mark(ctx);
    for (s = 0; s < 2 && !dl_ctx_status(ctx); s++) {
        dl_tensor *h, *e;
        if (variant == 1) e = dl_layer_norm(ctx, x, 2, lg, lb, 0.0f);
        else if (variant == 2) e = dl_group_norm(ctx, x, 2, gg, gb, 0.0f);
        else {
            h = dl_batchnorm_forward(ctx, &bn, x, 1);
            h = dl_group_norm(ctx, dl_relu(ctx, h), 3, gg, gb, 0.0f);
            h = dl_layer_norm(ctx, h, 2, lg, lb, 0.0f);
            h = dl_instance_norm(ctx, h, NULL, NULL, 0.0f);
            e = dl_batchnorm_forward(ctx, &bn, h, 0);
        }
        if (variant) dl_backward_with(ctx, e, NULL);   /* dy = 1: no other backward's scratch */
        else dl_backward(ctx, dl_sum_all(ctx, dl_square(ctx, e)));
        if (variant == 0) {
            int prev = dl_set_grad_enabled(ctx, 0);
            dl_layer_norm(ctx, dl_batchnorm_forward(ctx, &bn, x, 0), 1, NULL, NULL, 0.0f);
            dl_set_grad_enabled(ctx, prev);
        }
        dl_ctx_rewind(ctx, mk);
    }
    if (peak) *peak = dl_ctx_peak_bytes(ctx);
    st = dl_ctx_status(ctx);
    dl_ctx_free(ctx);
    return st;
}
static void tn_measure(void) {
    static const char *names[3] = {
        "norm measure: bn/gn/ln/instance chain, forward + backward, runs in exactly the measured bytes",
        "norm measure: layer norm first (backward scratch at the peak), exactly the measured bytes",
        "norm measure: group norm first (backward scratch at the peak), exactly the measured bytes" };
    int v;
    for (v = 0; v < 3; v++) {
        size_t need = 0, real = 0; tn_block blk; dl_status st;
        T_BEGIN(names[v]);
        st = tn_measure_run(NULL, 0, 1, v, &need);
        T_EXPECT(st == DL_STATUS_OK, "measure: %s", dl_status_name(st));
        if (tn_alloc64(&blk, need)) {
            st = tn_measure_run(blk.p, need, 0, v, &real);
            T_EXPECT(st == DL_STATUS_OK, "run with exactly %lu bytes: %s", (unsigned long)need, dl_status_name(st));
            T_EXPECT(real == need, "real peak %lu != measured %lu", (unsigned long)real, (unsigned long)need);
            st = tn_measure_run(blk.p, need - 1, 0, v, NULL);
            T_EXPECT(st == DL_STATUS_OOM, "one byte less must fail with OOM, got %s", dl_status_name(st));
            free(blk.raw);
        } else T_EXPECT(0, "host allocation failed");
        T_END();
    }
}

static void suite_norm(void) {
    dl_ctx *ctx = tn_ctx((size_t)16 << 20); size_t used0; int k; static char name[192];
    T_BEGIN("norm context");
    T_EXPECT(ctx != NULL, "dl_ctx_init failed");
    T_END();
    if (!ctx) return;
    used0 = dl_ctx_used_bytes(ctx);
    for (k = 0; k < RN_N_CASES; k++) {
        snprintf(name, sizeof name, "norm ref %s", rn_cases[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        tn_run_ref(ctx, &rn_cases[k]);
        T_END();
    }
    T_BEGIN("norm ref arena rewound");
    T_EXPECT(dl_ctx_used_bytes(ctx) == used0, "used %lu bytes, %lu before", (unsigned long)dl_ctx_used_bytes(ctx), (unsigned long)used0);
    T_END();
    dl_ctx_free(ctx);
    tn_sequence();
    tn_gradchecks();
    tn_views();
    tn_errors();
    tn_fold_by_hand();
#ifndef DL_TEST_NO_CONV
    tn_fold_conv();
#endif
    tn_measure();
}
