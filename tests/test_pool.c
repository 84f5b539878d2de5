/* tests/test_pool.c - pooling: dl_max_pool2d (indices, first-maximum ties), dl_avg_pool2d
   (count_include_pad / exclude_pad), dl_adaptive_avg_pool2d, dl_global_avg_pool2d and
   dl_max_unpool2d against PyTorch 1.13 (tests/ref_pool.h, written by
   tests/gen_ref_pool.py), plus finite-difference checks, non-contiguous inputs, NaN/-inf,
   error paths and measure-mode exactness. Included by tests/main.c: names are tpool_*. */
#include <stdlib.h>
#include "ref_pool.h"

static dl_ctx *tpool_ctx(size_t bytes, int measure, void *mem) {
    dl_ctx_desc d;
    memset(&d, 0, sizeof d);
    d.memory = mem; d.memory_size = bytes; d.measure = measure; d.seed = 777;
    return dl_ctx_init(&d);
}
static int tpool_msg_has(dl_ctx *ctx, const char *needle) { return strstr(dl_ctx_message(ctx), needle) != NULL; }

static dl_pool_desc tpool_desc(int kh, int kw, int sh, int sw, int ph, int pw, int excl) {
    dl_pool_desc d;
    memset(&d, 0, sizeof d);
    d.kernel[0] = kh; d.kernel[1] = kw; d.stride[0] = sh; d.stride[1] = sw;
    d.pad[0] = ph; d.pad[1] = pw; d.exclude_pad = excl;
    return d;
}

/* runs one reference case's op; *ix receives max's indices when asked */
static dl_tensor *tpool_apply(dl_ctx *ctx, const rpool_case *c, dl_tensor *x, dl_tensor *uix, dl_tensor **ix) {
    dl_pool_desc d = tpool_desc(c->pool[0], c->pool[1], c->pool[2], c->pool[3], c->pool[4], c->pool[5], c->pool[6]);
    switch (c->op) {
    case RPOOL_MAX: return dl_max_pool2d(ctx, x, &d, ix);
    case RPOOL_AVG: return dl_avg_pool2d(ctx, x, &d);
    case RPOOL_ADAPTIVE: return dl_adaptive_avg_pool2d(ctx, x, c->out[0], c->out[1]);
    case RPOOL_GLOBAL: return dl_global_avg_pool2d(ctx, x);
    default: return dl_max_unpool2d(ctx, x, uix, c->out[0], c->out[1]);
    }
}

static void tpool_check_y(const rpool_case *c, dl_tensor *y, const char *what) {
    int64_t n = (int64_t)c->x_shape[0] * c->x_shape[1] * c->out[0] * c->out[1];
    float *buf;
    T_EXPECT(!dl_is_poison(y) && y->ndim == 4 && y->shape[0] == c->x_shape[0] && y->shape[1] == c->x_shape[1] &&
             y->shape[2] == c->out[0] && y->shape[3] == c->out[1], "%s: wrong shape", what);
    if (dl_is_poison(y) || y->numel != n) return;
    buf = (float *)malloc((size_t)(n ? n : 1) * sizeof *buf);
    if (!buf) { T_EXPECT(0, "out of host memory"); return; }
    dl_copy_to(y, buf);
    t_allclose(buf, c->y, (long)n, 1e-6, 1e-5, what);
    free(buf);
}

static void tpool_check_ix(const rpool_case *c, dl_tensor *ix) {
    int64_t i, n = (int64_t)c->x_shape[0] * c->x_shape[1] * c->out[0] * c->out[1];
    T_EXPECT(!dl_is_poison(ix) && ix->dtype == DL_I32 && ix->numel == n, "indices: wrong tensor");
    if (dl_is_poison(ix) || ix->dtype != DL_I32 || ix->numel != n) return;
    for (i = 0; i < n; i++)
        if (dl_get_index(ix, i) != c->idx[i]) {
            T_EXPECT(0, "indices: position %ld: got %d want %d", (long)i, (int)dl_get_index(ix, i), (int)c->idx[i]);
            return;
        }
}

static void tpool_run_case(dl_ctx *ctx, const rpool_case *c) {
    dl_shape xs = dl_shape4(c->x_shape[0], c->x_shape[1], c->x_shape[2], c->x_shape[3]);
    dl_mark m = dl_ctx_mark(ctx);
    int pass;
    /* pass 0: with gradient; 1: no gradient, indices asked; 2: no gradient, none asked */
    for (pass = 0; pass < 3; pass++) {
        dl_tensor *x = dl_from_data(ctx, xs, c->x), *uix = NULL, *ix = NULL, *y;
        if (c->op == RPOOL_UNPOOL) uix = dl_index_tensor(ctx, xs, c->idx);
        if (pass == 0) dl_requires_grad(ctx, x, 1);
        y = tpool_apply(ctx, c, x, uix, (c->op == RPOOL_MAX && pass < 2) ? &ix : NULL);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "pass %d forward: %s", pass, dl_ctx_message(ctx));
        if (dl_ctx_status(ctx)) break;
        tpool_check_y(c, y, pass ? "no-grad output" : "output");
        if (c->op == RPOOL_MAX && pass < 2) tpool_check_ix(c, ix);
        if (pass == 0) {
            dl_status st = dl_backward_with(ctx, y, c->dy);
            T_EXPECT(st == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
            T_EXPECT(x->grad != NULL, "no gradient");
            if (st == DL_STATUS_OK && x->grad) t_allclose(x->grad, c->dx, (long)x->numel, 1e-6, 1e-5, "grad of x");
        }
        {   /* ops never write to their inputs */
            float *buf = (float *)malloc((size_t)x->numel * sizeof *buf);
            if (buf) { dl_copy_to(x, buf); t_allclose(buf, c->x, (long)x->numel, 0.0, 0.0, "x after the op"); free(buf); }
        }
        if (dl_ctx_status(ctx)) dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m);
    }
    dl_ctx_rewind(ctx, m);
}

/* ---- hand-built tie and non-finite cases ------------------------------------------- */
static void tpool_ties_and_nonfinite(dl_ctx *ctx) {
    dl_mark m = dl_ctx_mark(ctx);
    T_BEGIN("pool max ties: the first maximum in row-major window order gets the gradient");
    {   /* 3x3 plane of ones, kernel 2 stride 1: windows start at 0, 1, 3, 4 */
        static const float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        static const float want_g[9] = {1, 1, 0, 1, 1, 0, 0, 0, 0};
        static const int32_t want_i[4] = {0, 1, 3, 4};
        static const float dy[4] = {1, 1, 1, 1};
        dl_pool_desc d = tpool_desc(2, 2, 1, 1, 0, 0, 0);
        dl_tensor *x = dl_from_data(ctx, dl_shape4(1, 1, 3, 3), ones), *ix = NULL, *y;
        int i;
        dl_requires_grad(ctx, x, 1);
        y = dl_max_pool2d(ctx, x, &d, &ix);
        T_EXPECT(dl_backward_with(ctx, y, dy) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        for (i = 0; i < 4 && ix && !dl_is_poison(ix); i++) T_EXPECT(dl_get_index(ix, i) == want_i[i], "index %d: %d", i, (int)dl_get_index(ix, i));
        if (x->grad) t_allclose(x->grad, want_g, 9, 0.0, 0.0, "tie gradient");
        /* the same rule as dl_max over a window: both pick the first */
        {   dl_tensor *mx = dl_argmax(ctx, dl_reshape(ctx, x, dl_shape1(9)), 0, 0);
            T_EXPECT(dl_get_index(mx, 0) == 0, "argmax of a constant: %d", (int)dl_get_index(mx, 0)); }
    }
    T_END();
    dl_ctx_clear_error(ctx); dl_ctx_rewind(ctx, m);

    T_BEGIN("pool max: padding never wins over negative values; -inf and NaN as torch");
    {   static const float neg[4] = {-5, -7, -6, -8};
        dl_pool_desc d = tpool_desc(3, 3, 1, 1, 1, 1, 0), d2 = tpool_desc(2, 2, 2, 2, 0, 0, 0);
        dl_tensor *x = dl_from_data(ctx, dl_shape4(1, 1, 2, 2), neg), *ix = NULL, *y;
        float buf[9];
        /* all-negative 2x2 with kernel 3, pad 1: every window holds -5 or smaller, never 0 */
        y = dl_max_pool2d(ctx, x, &d, &ix);
        dl_copy_to(y, buf);
        T_EXPECT(buf[0] == -5.0f && buf[1] == -5.0f && buf[2] == -5.0f && buf[3] == -5.0f, "got %g %g %g %g",
                 (double)buf[0], (double)buf[1], (double)buf[2], (double)buf[3]);
        {   /* -inf everywhere in a window: output -inf, index the window's first element;
               NaN propagates. torch 1.13 gives the same: (-inf at 0, nan at 6) */
            float v[8]; dl_tensor *t, *ti = NULL;
            v[0] = -INFINITY; v[1] = -INFINITY; v[2] = 1.0f; v[3] = 2.0f;
            v[4] = -INFINITY; v[5] = -INFINITY; v[6] = NAN; v[7] = 3.0f;
            t = dl_from_data(ctx, dl_shape4(1, 1, 2, 4), v);
            y = dl_max_pool2d(ctx, t, &d2, &ti);
            dl_copy_to(y, buf);
            T_EXPECT(buf[0] == -INFINITY && dl_get_index(ti, 0) == 0, "-inf window: %g at %d", (double)buf[0], (int)dl_get_index(ti, 0));
            T_EXPECT(buf[1] != buf[1] && dl_get_index(ti, 1) == 6, "NaN window: %g at %d", (double)buf[1], (int)dl_get_index(ti, 1));
        }
    }
    T_END();
    dl_ctx_clear_error(ctx); dl_ctx_rewind(ctx, m);
}

/* ---- an empty batch: shapes follow, nothing is computed, no error --------------------- */
static void tpool_empty_batch(dl_ctx *ctx) {
    dl_mark m = dl_ctx_mark(ctx);
    dl_pool_desc d = tpool_desc(3, 3, 2, 2, 1, 1, 0);
    dl_tensor *x = dl_zeros(ctx, dl_shape4(0, 3, 5, 5)), *ix = NULL, *y[5];
    int k;
    T_BEGIN("pool ops on an empty batch [0,3,5,5] give empty outputs of the right shape");
    dl_requires_grad(ctx, x, 1);
    y[0] = dl_max_pool2d(ctx, x, &d, &ix);
    y[1] = dl_avg_pool2d(ctx, x, &d);
    y[2] = dl_adaptive_avg_pool2d(ctx, x, 2, 4);
    y[3] = dl_global_avg_pool2d(ctx, x);
    y[4] = dl_max_unpool2d(ctx, y[0], ix, 5, 5);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    for (k = 0; k < 5 && !dl_ctx_status(ctx); k++)
        T_EXPECT(y[k]->ndim == 4 && y[k]->numel == 0 && y[k]->shape[1] == 3, "output %d", k);
    if (!dl_ctx_status(ctx)) {
        static const float none[1] = {0.0f};
        T_EXPECT(dl_backward_with(ctx, y[4], none) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
    }
    T_EXPECT(y[0]->shape[2] == 3 && y[0]->shape[3] == 3 && y[2]->shape[2] == 2 && y[2]->shape[3] == 4, "spatial sizes");
    T_END();
    dl_ctx_clear_error(ctx); dl_ctx_rewind(ctx, m);
}

/* ---- non-contiguous inputs: a permuted view gives the contiguous result ------------- */
static void tpool_views(dl_ctx *ctx) {
    static const int perm[4] = {0, 1, 3, 2};
    dl_mark m = dl_ctx_mark(ctx);
    int op;
    T_BEGIN("pool ops on a transposed view equal the ops on its contiguous copy (values and grads)");
    for (op = 0; op < 5; op++) {
        dl_pool_desc d = tpool_desc(3, 2, 2, 1, 1, 1, op == 2);
        dl_tensor *base = dl_uniform(ctx, dl_shape4(2, 2, 7, 6), -1.0f, 1.0f), *b2, *v, *c, *yv, *yc, *ui;
        int32_t iv[2 * 2 * 6 * 7]; int64_t i; float gv[2 * 2 * 7 * 6], gc[2 * 2 * 7 * 6];
        dl_requires_grad(ctx, base, 1);
        b2 = dl_from_data(ctx, dl_shape4(2, 2, 7, 6), base->data);
        dl_requires_grad(ctx, b2, 1);
        v = dl_permute(ctx, base, perm);                  /* [2,2,6,7], non-contiguous */
        c = dl_contiguous(ctx, dl_permute(ctx, b2, perm));
        for (i = 0; i < 2 * 2 * 6 * 7; i++) iv[i] = (int32_t)((i * 37) % 80);
        ui = dl_index_tensor(ctx, dl_shape4(2, 2, 6, 7), iv);
        switch (op) {
        case 0: yv = dl_max_pool2d(ctx, v, &d, NULL); yc = dl_max_pool2d(ctx, c, &d, NULL); break;
        case 1: case 2: yv = dl_avg_pool2d(ctx, v, &d); yc = dl_avg_pool2d(ctx, c, &d); break;
        case 3: yv = dl_adaptive_avg_pool2d(ctx, v, 4, 3); yc = dl_adaptive_avg_pool2d(ctx, c, 4, 3); break;
        default: yv = dl_max_unpool2d(ctx, v, ui, 8, 10); yc = dl_max_unpool2d(ctx, c, ui, 8, 10); break;
        }
        dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, yv, yv)));
        dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, yc, yc)));
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "op %d: %s", op, dl_ctx_message(ctx));
        if (dl_ctx_status(ctx)) break;
        T_EXPECT(dl_same_shape(yv, yc), "op %d: shapes differ", op);
        for (i = 0; i < yv->numel; i++) if (dl_get(yv, i) != dl_get(yc, i)) { T_EXPECT(0, "op %d: value %ld differs", op, (long)i); break; }
        memcpy(gv, base->grad, sizeof gv); memcpy(gc, b2->grad, sizeof gc);
        t_allclose(gv, gc, 2 * 2 * 7 * 6, 0.0, 0.0, "grad through the view");
        dl_ctx_rewind(ctx, m);
    }
    T_END();
    dl_ctx_clear_error(ctx); dl_ctx_rewind(ctx, m);
}

/* ---- finite differences --------------------------------------------------------------- */
typedef struct tpool_gc { int op; dl_pool_desc d; int oh, ow; dl_tensor *idx; } tpool_gc;
static dl_tensor *tpool_gc_fn(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    const tpool_gc *g = (const tpool_gc *)user;
    (void)n;
    switch (g->op) {
    case 0: return dl_max_pool2d(ctx, x[0], &g->d, NULL);
    case 1: return dl_avg_pool2d(ctx, x[0], &g->d);
    case 2: return dl_adaptive_avg_pool2d(ctx, x[0], g->oh, g->ow);
    case 3: return dl_global_avg_pool2d(ctx, x[0]);
    case 4: return dl_max_unpool2d(ctx, x[0], g->idx, g->oh, g->ow);
    default: {  /* a small CNN head: max -> unpool -> avg(pad, exclude) -> adaptive, times x */
        dl_tensor *ix = NULL, *p = dl_max_pool2d(ctx, x[0], &g->d, &ix);
        dl_pool_desc a = tpool_desc(3, 3, 1, 1, 1, 1, 1);
        dl_tensor *u = dl_max_unpool2d(ctx, p, ix, (int)x[0]->shape[2], (int)x[0]->shape[3]);
        dl_tensor *s = dl_avg_pool2d(ctx, dl_mul(ctx, u, x[0]), &a);
        return dl_adaptive_avg_pool2d(ctx, s, 3, 2); }
    }
}
/* the 2x2 / stride 2 path's SIMD loop (x86-64) against the scalar loop (DL_ISA_REFERENCE):
   the same values, indices and gradients bit for bit, on ties, -inf, NaN and an odd width
   (a scalar tail after the four-window steps) */
static void tpool_isa_paths(void) {
    dl_ctx *cx[2]; dl_tensor *y[2], *ix[2], *x[2]; float *yv[2], *gv[2]; int v; int64_t i, n = 2 * 3 * 10 * 19, ny = 2 * 3 * 5 * 9;
    float *xv = (float *)malloc(sizeof(float) * (size_t)n);
    dl_pool_desc d = tpool_desc(2, 2, 2, 2, 0, 0, 0);
    T_BEGIN("pool max 2x2 s2: the SIMD path and DL_ISA_REFERENCE agree bit for bit (values, indices, gradient)");
    {   uint32_t r = 12345u;   /* values in {-1, 0, 1}: many ties inside windows */
        for (i = 0; i < n; i++) { r = r * 1664525u + 1013904223u; xv[i] = (float)((r >> 24) % 3u) - 1.0f; } }
    xv[5] = NAN; xv[40] = -INFINITY; xv[41] = -INFINITY; xv[60] = NAN; xv[61] = NAN; xv[200] = INFINITY;
    for (v = 0; v < 2; v++) {
        dl_ctx_desc cd; memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)1 << 20; cd.isa = v ? DL_ISA_REFERENCE : DL_ISA_AUTO;
        cx[v] = dl_ctx_init(&cd);
        x[v] = dl_from_data(cx[v], dl_shape4(2, 3, 10, 19), xv); dl_requires_grad(cx[v], x[v], 1);
        y[v] = dl_max_pool2d(cx[v], x[v], &d, &ix[v]);
        dl_backward(cx[v], dl_sum_all(cx[v], dl_mul_scalar(cx[v], y[v], 3.0f)));
        T_EXPECT(dl_ctx_status(cx[v]) == DL_STATUS_OK, "%s", dl_ctx_message(cx[v]));
        yv[v] = (float *)malloc(sizeof(float) * (size_t)ny); gv[v] = (float *)malloc(sizeof(float) * (size_t)n);
        dl_copy_to(y[v], yv[v]);
        for (i = 0; i < n; i++) gv[v][i] = dl_grad_get(x[v], i);
    }
    T_EXPECT(y[0]->numel == ny && memcmp(yv[0], yv[1], sizeof(float) * (size_t)ny) == 0, "values differ");
    for (i = 0; i < ny; i++) if (dl_get_index(ix[0], i) != dl_get_index(ix[1], i)) { T_EXPECT(0, "index %d: %d vs %d", (int)i, (int)dl_get_index(ix[0], i), (int)dl_get_index(ix[1], i)); break; }
    T_EXPECT(memcmp(gv[0], gv[1], sizeof(float) * (size_t)n) == 0, "gradients differ");
    T_EXPECT(yv[0][2] != yv[0][2], "the NaN window (x[5]) gives NaN");
    for (v = 0; v < 2; v++) { free(yv[v]); free(gv[v]); dl_ctx_free(cx[v]); }
    free(xv);
    T_END();
}
static void tpool_gradchecks(dl_ctx *ctx) {
    static const struct { const char *name; int op, kh, kw, sh, sw, ph, pw, excl, oh, ow; int64_t N, C, H, W; } gcs[] = {
        {"max k3 s2 p1 (distinct values)", 0, 3, 3, 2, 2, 1, 1, 0, 0, 0, 2, 2, 7, 9},
        {"max k3x2 s1 p1x1", 0, 3, 2, 1, 1, 1, 1, 0, 0, 0, 1, 3, 5, 5},
        {"avg k3 s2 p1 count_include_pad", 1, 3, 3, 2, 2, 1, 1, 0, 0, 0, 2, 2, 7, 9},
        {"avg k3 s2 p1 exclude_pad", 1, 3, 3, 2, 2, 1, 1, 1, 0, 0, 2, 2, 7, 9},
        {"avg k2x3 s1x2 p1x0", 1, 2, 3, 1, 2, 1, 0, 0, 0, 0, 1, 2, 5, 7},
        {"adaptive 7x9 -> 3x4", 2, 0, 0, 0, 0, 0, 0, 0, 3, 4, 2, 2, 7, 9},
        {"adaptive 3x4 -> 5x7 (overlapping bins)", 2, 0, 0, 0, 0, 0, 0, 0, 5, 7, 1, 2, 3, 4},
        {"global 5x5", 3, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 5, 5},
        {"unpool 3x3 -> 6x7", 4, 0, 0, 0, 0, 0, 0, 0, 6, 7, 2, 2, 3, 3},
        {"max -> unpool -> avg -> adaptive composite", 5, 2, 2, 2, 2, 0, 0, 0, 0, 0, 1, 2, 6, 6},
    };
    size_t k;
    for (k = 0; k < sizeof gcs / sizeof gcs[0]; k++) {
        static char name[128];
        dl_mark m = dl_ctx_mark(ctx);
        tpool_gc g; dl_tensor *x; dl_gradcheck_result r; dl_status st; int64_t i, n;
        snprintf(name, sizeof name, "pool gradcheck %s", gcs[k].name);
        T_BEGIN(name);
        memset(&g, 0, sizeof g);
        g.op = gcs[k].op; g.oh = gcs[k].oh; g.ow = gcs[k].ow;
        g.d = tpool_desc(gcs[k].kh, gcs[k].kw, gcs[k].sh, gcs[k].sw, gcs[k].ph, gcs[k].pw, gcs[k].excl);
        n = gcs[k].N * gcs[k].C * gcs[k].H * gcs[k].W;
        x = dl_empty(ctx, dl_shape4(gcs[k].N, gcs[k].C, gcs[k].H, gcs[k].W));
        /* distinct values 0.05 apart (shuffled): max never sees a tie within 2 eps */
        for (i = 0; i < n; i++) dl_set(x, i, 0.05f * (float)((i * 7919) % n) - 0.025f * (float)n);
        if (g.op == 4) {
            int32_t iv[2 * 2 * 9]; int64_t p;
            for (p = 0; p < 4; p++) for (i = 0; i < 9; i++) iv[p * 9 + i] = (int32_t)((i * 5 + p * 3) % 42);
            g.idx = dl_index_tensor(ctx, dl_shape4(2, 2, 3, 3), iv);
        }
        dl_requires_grad(ctx, x, 1);
        st = dl_gradcheck(ctx, tpool_gc_fn, &g, &x, 1, NULL, &r);
        T_EXPECT(st == DL_STATUS_OK, "%s | %s", dl_gradcheck_message(ctx), dl_ctx_message(ctx));
        T_EXPECT(r.checked == n, "checked %ld of %ld", (long)r.checked, (long)n);
        T_END();
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m);
    }
}

/* ---- error paths: status and message ------------------------------------------------ */
static void tpool_errors(dl_ctx *ctx) {
    dl_mark m = dl_ctx_mark(ctx);
    dl_tensor *x4 = dl_zeros(ctx, dl_shape4(2, 3, 5, 5)), *x3 = dl_zeros(ctx, dl_shape3(3, 5, 5));
    dl_tensor *x0 = dl_zeros(ctx, dl_shape4(1, 1, 0, 5)), *ix = NULL, *y;
    dl_pool_desc d;
    T_BEGIN("pool errors: status and message name the op and the shapes");
#define TPOOL_ERR(call, status, needle1, needle2) do { \
        y = (call); \
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == (status), "%s: got %s (%s)", #call, \
                 dl_status_name(dl_ctx_status(ctx)), dl_ctx_message(ctx)); \
        T_EXPECT(tpool_msg_has(ctx, needle1) && tpool_msg_has(ctx, needle2), "%s: message \"%s\"", #call, dl_ctx_message(ctx)); \
        dl_ctx_clear_error(ctx); } while (0)
    TPOOL_ERR(dl_max_pool2d(ctx, x4, NULL, NULL), DL_STATUS_INVALID, "dl_max_pool2d: ", "desc is NULL");
    d = tpool_desc(0, 2, 0, 0, 0, 0, 0);
    TPOOL_ERR(dl_max_pool2d(ctx, x4, &d, &ix), DL_STATUS_INVALID, "dl_max_pool2d: kernel 0x2", "[2,3,5,5]");
    T_EXPECT(dl_is_poison(ix), "indices must be poison after an error");
    d = tpool_desc(2, -1, 0, 0, 0, 0, 0);
    TPOOL_ERR(dl_avg_pool2d(ctx, x4, &d), DL_STATUS_INVALID, "dl_avg_pool2d: kernel 2x-1", "positive");
    d = tpool_desc(2, 2, -1, 1, 0, 0, 0);
    TPOOL_ERR(dl_avg_pool2d(ctx, x4, &d), DL_STATUS_INVALID, "dl_avg_pool2d: stride -1x1", "[2,3,5,5]");
    d = tpool_desc(2, 2, 1, 1, 2, 0, 0);
    TPOOL_ERR(dl_max_pool2d(ctx, x4, &d, NULL), DL_STATUS_INVALID, "dl_max_pool2d: pad 2x0", "half the kernel 2x2");
    d = tpool_desc(3, 3, 1, 1, 0, -1, 0);
    TPOOL_ERR(dl_avg_pool2d(ctx, x4, &d), DL_STATUS_INVALID, "dl_avg_pool2d: pad 0x-1", "kernel 3x3");
    d = tpool_desc(2, 2, 0, 0, 0, 0, 0);
    TPOOL_ERR(dl_max_pool2d(ctx, x3, &d, NULL), DL_STATUS_SHAPE, "dl_max_pool2d: x[3,5,5]", "4-D");
    TPOOL_ERR(dl_avg_pool2d(ctx, x0, &d), DL_STATUS_SHAPE, "dl_avg_pool2d: x[1,1,0,5]", "empty");
    d = tpool_desc(8, 2, 0, 0, 1, 0, 0);
    TPOOL_ERR(dl_max_pool2d(ctx, x4, &d, NULL), DL_STATUS_SHAPE, "dl_max_pool2d: kernel 8x2 larger than the padded input x[2,3,5,5] (pad 1x0)", "empty output");
    d = tpool_desc(2, 6, 0, 0, 0, 0, 0);
    TPOOL_ERR(dl_avg_pool2d(ctx, x4, &d), DL_STATUS_SHAPE, "dl_avg_pool2d: kernel 2x6", "[2,3,5,5]");
    TPOOL_ERR(dl_max_pool2d(ctx, dl_index_zeros(ctx, dl_shape4(1, 1, 4, 4)), &d, NULL), DL_STATUS_DTYPE, "dl_max_pool2d: argument 1", "float32");
    TPOOL_ERR(dl_adaptive_avg_pool2d(ctx, x4, 0, 2), DL_STATUS_INVALID, "dl_adaptive_avg_pool2d: output size 0x2", "[2,3,5,5]");
    TPOOL_ERR(dl_adaptive_avg_pool2d(ctx, x3, 2, 2), DL_STATUS_SHAPE, "dl_adaptive_avg_pool2d: x[3,5,5]", "4-D");
    TPOOL_ERR(dl_adaptive_avg_pool2d(ctx, x0, 2, 2), DL_STATUS_SHAPE, "dl_adaptive_avg_pool2d: x[1,1,0,5]", "empty");
    TPOOL_ERR(dl_global_avg_pool2d(ctx, x3), DL_STATUS_SHAPE, "dl_global_avg_pool2d: x[3,5,5]", "4-D");
    TPOOL_ERR(dl_global_avg_pool2d(ctx, NULL), DL_STATUS_INVALID, "dl_global_avg_pool2d: argument 1", "NULL");
    {   dl_tensor *xs = dl_zeros(ctx, dl_shape4(1, 2, 2, 2));
        int32_t iv[8] = {0, 1, 2, 3, 0, 1, 2, 9};
        dl_tensor *good = dl_index_tensor(ctx, dl_shape4(1, 2, 2, 2), iv), *bad = dl_index_zeros(ctx, dl_shape4(1, 2, 2, 1));
        TPOOL_ERR(dl_max_unpool2d(ctx, xs, good, 3, 3), DL_STATUS_INDEX, "dl_max_unpool2d: index 9 at position 7", "3x3 output plane");
        y = dl_max_unpool2d(ctx, xs, good, 3, 4);   /* 9 < 12: fine */
        T_EXPECT(!dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        iv[7] = -1; good = dl_index_tensor(ctx, dl_shape4(1, 2, 2, 2), iv);
        TPOOL_ERR(dl_max_unpool2d(ctx, xs, good, 3, 3), DL_STATUS_INDEX, "index -1", "x[1,2,2,2]");
        TPOOL_ERR(dl_max_unpool2d(ctx, xs, bad, 3, 3), DL_STATUS_SHAPE, "dl_max_unpool2d: indices[1,2,2,1]", "x[1,2,2,2]");
        TPOOL_ERR(dl_max_unpool2d(ctx, xs, xs, 3, 3), DL_STATUS_DTYPE, "dl_max_unpool2d: argument 2", "DL_I32");
        TPOOL_ERR(dl_max_unpool2d(ctx, xs, dl_index_zeros(ctx, dl_shape4(1, 2, 2, 2)), 3, -3), DL_STATUS_INVALID, "output size 3x-3", "[1,2,2,2]");
        TPOOL_ERR(dl_max_unpool2d(ctx, x3, dl_index_zeros(ctx, dl_shape3(3, 5, 5)), 3, 3), DL_STATUS_SHAPE, "x[3,5,5]", "4-D");
    }
    /* after an error, every op returns poison and the first message is kept */
    d = tpool_desc(9, 9, 0, 0, 0, 0, 0);
    y = dl_max_pool2d(ctx, x4, &d, NULL);
    y = dl_avg_pool2d(ctx, y, &d);
    T_EXPECT(dl_is_poison(y) && tpool_msg_has(ctx, "dl_max_pool2d: kernel 9x9"), "first error kept: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
#undef TPOOL_ERR
    T_END();
    dl_ctx_rewind(ctx, m);
}

/* ---- measure mode: forward + backward peak equal in measuring and real contexts ----- */
static dl_status tpool_measure_run(void *mem, size_t bytes, int measure, size_t *peak) {
    dl_ctx *ctx = tpool_ctx(bytes, measure, mem);
    dl_tensor *x, *v, *ix = NULL, *p, *u, *a, *g, *loss;
    dl_pool_desc mp = tpool_desc(3, 3, 2, 2, 1, 1, 0), ap = tpool_desc(2, 3, 1, 2, 1, 1, 1);
    dl_status st;
    if (!ctx) return DL_STATUS_OOM;
    x = dl_uniform(ctx, dl_shape4(2, 3, 11, 9), -1.0f, 1.0f);
    dl_requires_grad(ctx, x, 1);
    {   static const int perm[4] = {0, 1, 3, 2};   /* a non-contiguous view: its copy counts too */
        v = dl_permute(ctx, x, perm); }
    p = dl_max_pool2d(ctx, v, &mp, &ix);
    u = dl_max_unpool2d(ctx, p, ix, 9, 11);
    a = dl_avg_pool2d(ctx, dl_add(ctx, u, v), &ap);
    g = dl_global_avg_pool2d(ctx, dl_adaptive_avg_pool2d(ctx, a, 4, 3));
    loss = dl_sum_all(ctx, dl_add(ctx, dl_sum_all(ctx, g), dl_sum_all(ctx, dl_max_pool2d(ctx, a, &mp, NULL))));
    dl_backward(ctx, loss);
    st = dl_ctx_status(ctx);
    if (peak) *peak = dl_ctx_peak_bytes(ctx);
    dl_ctx_free(ctx);
    return st;
}
static void tpool_measure(void) {
    size_t need = 0, real = 0; dl_status st; void *raw; void *p;
    T_BEGIN("pool measure: forward+backward peak of a measuring context equals the real one");
    st = tpool_measure_run(NULL, 0, 1, &need);
    T_EXPECT(st == DL_STATUS_OK, "measure: %s", dl_status_name(st));
    raw = malloc(need + 64);
    p = raw ? (void *)(((uintptr_t)raw + 63) & ~(uintptr_t)63) : NULL;
    T_EXPECT(raw != NULL, "host allocation");
    if (raw) {
        st = tpool_measure_run(p, need, 0, &real);
        T_EXPECT(st == DL_STATUS_OK, "real run in exactly %lu bytes: %s", (unsigned long)need, dl_status_name(st));
        T_EXPECT(real == need, "real peak %lu != measured %lu", (unsigned long)real, (unsigned long)need);
        st = tpool_measure_run(p, need - 1, 0, NULL);
        T_EXPECT(st == DL_STATUS_OOM, "one byte less must fail with OOM, got %s", dl_status_name(st));
        free(raw);
    }
    T_END();
}

static void suite_pool(void) {
    static char name[192];
    dl_ctx *ctx = tpool_ctx((size_t)32 << 20, 0, NULL);
    size_t used0;
    int k;
    T_BEGIN("pool context");
    T_EXPECT(ctx != NULL, "dl_ctx_init failed");
    T_END();
    if (!ctx) return;
    used0 = dl_ctx_used_bytes(ctx);
    for (k = 0; k < RPOOL_N_CASES; k++) {
        snprintf(name, sizeof name, "pool ref %s", rpool_cases[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        tpool_run_case(ctx, &rpool_cases[k]);
        T_END();
    }
    tpool_ties_and_nonfinite(ctx);
    tpool_empty_batch(ctx);
    tpool_views(ctx);
    tpool_isa_paths();
    tpool_gradchecks(ctx);
    tpool_errors(ctx);
    T_BEGIN("pool arena rewound");
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_ctx_used_bytes(ctx) == used0, "used %lu bytes, %lu before", (unsigned long)dl_ctx_used_bytes(ctx), (unsigned long)used0);
    T_END();
    dl_ctx_free(ctx);
    tpool_measure();
}
