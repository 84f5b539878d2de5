/* tests/test_conv.c - dl_conv2d, dl_conv1d, dl_conv_transpose2d and the Conv2d layer:
   PyTorch references over a grid (tests/ref_conv.h, written by tests/gen_ref_conv.py),
   finite differences, error paths, the 1x1 fast path against the general im2col path,
   the scalar reference GEMM against the tiled one, and measure-mode exactness.

   Tolerances for the references: atol 1e-4, rtol 1e-4. Every output and gradient
   element is a float32 sum of up to a few hundred products (C/g*kh*kw for the output,
   N*OH*OW for dW) and dl.h's GEMM adds them in its own blocked order; the reference is
   float64 rounded once. A float32 sum of n terms of size ~1 may drift by ~n ulp (1e-5 for
   n ~ 100), and sums that cancel to near zero lose their relative precision, hence the
   absolute 1e-4. (With the k/256 test values most sums here happen to be exact.)      */
#include <stdlib.h>
#include "ref_conv.h"

#define CV_ATOL 1e-4
#define CV_RTOL 1e-4

/* the inputs of the reference cases: k/256, k in [-256, 256), from a murmur3-finalized
   counter; gen() in tests/gen_ref_conv.py is the same function */
static float cv_val(uint32_t seed, uint32_t i) {
    uint32_t z = seed * 0x9E3779B9u + i * 0x7F4A7C15u;
    z ^= z >> 16; z *= 0x85EBCA6Bu; z ^= z >> 13; z *= 0xC2B2AE35u; z ^= z >> 16;
    return (float)((int)((z >> 8) & 511u) - 256) / 256.0f;
}
static dl_tensor *cv_gen(dl_ctx *ctx, int ndim, const int64_t *shape, uint32_t seed, int grad) {
    dl_tensor *t = dl_empty(ctx, dl_shape_n(ndim, shape)); int64_t i;
    if (t->data && !dl_is_poison(t)) for (i = 0; i < t->numel; i++) t->data[i] = cv_val(seed, (uint32_t)i);
    if (grad) dl_requires_grad(ctx, t, 1);
    return t;
}
static int cv_msg_has(dl_ctx *ctx, const char *s) { return strstr(dl_ctx_message(ctx), s) != NULL; }
static dl_ctx *cv_ctx(size_t bytes, int isa) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = 7; d.isa = isa;
    return dl_ctx_init(&d);
}
static dl_conv_desc cv_desc(int sh, int sw, int dh, int dw, int mode, int p0, int p1, int p2, int p3, int groups) {
    dl_conv_desc d; memset(&d, 0, sizeof d);
    d.stride[0] = sh; d.stride[1] = sw; d.dilation[0] = dh; d.dilation[1] = dw; d.padding_mode = mode;
    d.pad[0] = p0; d.pad[1] = p1; d.pad[2] = p2; d.pad[3] = p3; d.groups = groups;
    return d;
}
static dl_tensor *cv_apply(dl_ctx *ctx, int op, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *d) {
    if (op == RC_CONV1D) return dl_conv1d(ctx, x, w, b, d);
    if (op == RC_CONV_TRANSPOSE2D) return dl_conv_transpose2d(ctx, x, w, b, d);
    return dl_conv2d(ctx, x, w, b, d);
}
static int cv_shape_is(const dl_tensor *t, int ndim, const int64_t *s) {
    int i;
    if (!t || t->ndim != ndim) return 0;
    for (i = 0; i < ndim; i++) if (t->shape[i] != s[i]) return 0;
    return 1;
}

/* ---------------------------------------------------------------- PyTorch references */
static void cv_ref_case(dl_ctx *ctx, const rc_case *c) {
    dl_conv_desc d; dl_tensor *x, *w, *b = NULL, *y; float *dy; int64_t bs[1], i, ny = 1; int pass;
    dl_mark m = dl_ctx_mark(ctx);
    memset(&d, 0, sizeof d);
    d.stride[0] = c->stride[0]; d.stride[1] = c->stride[1];
    d.dilation[0] = c->dilation[0]; d.dilation[1] = c->dilation[1];
    d.padding_mode = c->padding_mode; d.groups = c->groups;
    for (i = 0; i < 4; i++) d.pad[i] = c->pad[i];
    d.output_padding[0] = c->output_padding[0]; d.output_padding[1] = c->output_padding[1];
    for (i = 0; i < c->ndim; i++) ny *= c->ys[i];
    bs[0] = c->op == RC_CONV_TRANSPOSE2D ? c->ws[1] * c->groups : c->ws[0];
    dy = (float *)malloc((size_t)ny * sizeof *dy);
    if (!dy) { T_EXPECT(0, "out of host memory"); return; }
    for (i = 0; i < ny; i++) dy[i] = cv_val(c->seed + 4u, (uint32_t)i);
    for (pass = 0; pass < 2; pass++) {      /* 0: with the tape and backward; 1: no grad */
        int grad = pass == 0, prev;
        x = cv_gen(ctx, c->ndim, c->xs, c->seed + 1u, grad);
        w = cv_gen(ctx, c->ndim, c->ws, c->seed + 2u, grad);
        if (c->bias) b = cv_gen(ctx, 1, bs, c->seed + 3u, grad);
        prev = dl_set_grad_enabled(ctx, grad);
        y = cv_apply(ctx, c->op, x, w, b, &d);
        dl_set_grad_enabled(ctx, prev);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "forward: %s", dl_ctx_message(ctx));
        if (dl_ctx_status(ctx)) break;
        T_EXPECT(cv_shape_is(y, c->ndim, c->ys), "output shape");
        if (!cv_shape_is(y, c->ndim, c->ys)) break;
        T_EXPECT(y->requires_grad == grad, "requires_grad %d", y->requires_grad);
        {   float *buf = (float *)malloc((size_t)ny * sizeof *buf);
            if (buf) { dl_copy_to(y, buf); t_allclose(buf, c->y, (long)ny, CV_ATOL, CV_RTOL, pass ? "no-grad output" : "output"); free(buf); } }
        if (grad) {
            T_EXPECT(dl_backward_with(ctx, y, dy) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
            if (dl_ctx_status(ctx)) break;
            t_allclose(x->grad, c->gx, (long)x->numel, CV_ATOL, CV_RTOL, "grad x");
            t_allclose(w->grad, c->gw, (long)w->numel, CV_ATOL, CV_RTOL, "grad w");
            if (b) t_allclose(b->grad, c->gb, (long)b->numel, CV_ATOL, CV_RTOL, "grad b");
        }
        for (i = 0; i < x->numel; i++) if (x->data[i] != cv_val(c->seed + 1u, (uint32_t)i)) { T_EXPECT(0, "x changed at %lld", (long long)i); break; }
        for (i = 0; i < w->numel; i++) if (w->data[i] != cv_val(c->seed + 2u, (uint32_t)i)) { T_EXPECT(0, "w changed at %lld", (long long)i); break; }
        dl_ctx_rewind(ctx, m);
    }
    if (dl_ctx_status(ctx)) dl_ctx_clear_error(ctx);
    dl_ctx_rewind(ctx, m);
    free(dy);
}
static void test_conv_ref(void) {
    static char name[192];
    dl_ctx *ctx = cv_ctx((size_t)16 << 20, DL_ISA_AUTO);
    size_t used0; int k;
    T_BEGIN("conv ref context");
    T_EXPECT(ctx != NULL, "dl_ctx_init failed");
    T_END();
    if (!ctx) return;
    used0 = dl_ctx_used_bytes(ctx);
    for (k = 0; k < RC_N_CASES; k++) {
        snprintf(name, sizeof name, "conv ref %s", rc_cases[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        cv_ref_case(ctx, &rc_cases[k]);
        T_END();
    }
    T_BEGIN("conv ref arena rewound");
    T_EXPECT(dl_ctx_used_bytes(ctx) == used0, "used %lu bytes, %lu before", (unsigned long)dl_ctx_used_bytes(ctx), (unsigned long)used0);
    T_END();
    dl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- finite differences */
typedef struct cv_gc { const char *name; int op; int nd; int64_t xs[4], ws[4]; int bias; dl_conv_desc d; } cv_gc;
static dl_tensor *cv_gc_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    const cv_gc *g = (const cv_gc *)user;
    return cv_apply(ctx, g->op, in[0], in[1], n > 2 ? in[2] : NULL, &g->d);
}
/* tanh(conv2d(x)) -> conv_transpose2d -> conv1d over the flattened rows: a chain */
static dl_tensor *cv_gc_chain(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    dl_conv_desc d1 = cv_desc(2, 1, 1, 1, DL_PAD_EXPLICIT, 1, 0, 1, 1, 1), d2 = cv_desc(2, 2, 1, 1, DL_PAD_EXPLICIT, 1, 0, 0, 0, 1);
    dl_conv_desc d3 = cv_desc(1, 0, 2, 0, DL_PAD_SAME, 0, 0, 0, 0, 1);
    dl_tensor *h = dl_tanh(ctx, dl_conv2d(ctx, in[0], in[1], in[2], &d1));        /* [2,4,2,4] */
    dl_tensor *u;
    (void)n; (void)user;
    d2.output_padding[0] = 1;
    u = dl_conv_transpose2d(ctx, h, in[3], NULL, &d2);                              /* [2,2,3,9] */
    return dl_conv1d(ctx, dl_reshape(ctx, u, dl_shape3(2, 6, 9)), in[4], NULL, &d3); /* [2,3,9] */
}
static void test_conv_gradcheck(void) {
    static const cv_gc cases[] = {
        {"conv2d g2 stride (2,1) dilation (1,2) pad (1,0,2,1) bias", RC_CONV2D, 4, {2, 4, 5, 6}, {4, 2, 3, 3}, 1, {{2, 1}, {1, 2}, DL_PAD_EXPLICIT, {1, 0, 2, 1}, 2, {0, 0}}},
        {"conv2d depthwise x2 SAME k(2,3) dilation (2,1)", RC_CONV2D, 4, {1, 3, 5, 4}, {6, 1, 2, 3}, 1, {{1, 1}, {2, 1}, DL_PAD_SAME, {0, 0, 0, 0}, 3, {0, 0}}},
        {"conv2d FULL k3 stride 2 no bias", RC_CONV2D, 4, {2, 2, 3, 3}, {3, 2, 3, 3}, 0, {{2, 2}, {1, 1}, DL_PAD_FULL, {0, 0, 0, 0}, 1, {0, 0}}},
        {"conv2d 1x1 fast path g2 bias", RC_CONV2D, 4, {2, 4, 3, 3}, {6, 2, 1, 1}, 1, {{1, 1}, {1, 1}, DL_PAD_VALID, {0, 0, 0, 0}, 2, {0, 0}}},
        {"conv1d k3 stride 2 dilation 2 FULL bias", RC_CONV1D, 3, {2, 3, 7, 0}, {4, 3, 3, 0}, 1, {{2, 0}, {2, 0}, DL_PAD_FULL, {0, 0, 0, 0}, 1, {0, 0}}},
        {"conv1d depthwise explicit (2,1)", RC_CONV1D, 3, {1, 4, 6, 0}, {4, 1, 3, 0}, 0, {{1, 0}, {1, 0}, DL_PAD_EXPLICIT, {2, 1, 0, 0}, 4, {0, 0}}},
        {"conv_transpose2d g2 stride 2 pad 1 output_padding 1 bias", RC_CONV_TRANSPOSE2D, 4, {2, 4, 3, 3}, {4, 3, 3, 3}, 1, {{2, 2}, {1, 1}, DL_PAD_EXPLICIT, {1, 0, 1, 0}, 2, {1, 1}}},
        {"conv_transpose2d dilation 2 output_padding (1,0) k(3,2)", RC_CONV_TRANSPOSE2D, 4, {1, 2, 3, 4}, {2, 3, 3, 2}, 1, {{1, 1}, {2, 2}, DL_PAD_EXPLICIT, {0, 0, 0, 0}, 1, {1, 0}}},
        {"conv_transpose2d depthwise stride (1,2) pad (0,1)", RC_CONV_TRANSPOSE2D, 4, {2, 3, 3, 3}, {3, 2, 3, 3}, 0, {{1, 2}, {1, 1}, DL_PAD_EXPLICIT, {0, 0, 1, 0}, 3, {0, 0}}},
        {"conv_transpose2d 1x1 fast path", RC_CONV_TRANSPOSE2D, 4, {2, 3, 2, 3}, {3, 2, 1, 1}, 1, {{1, 1}, {1, 1}, DL_PAD_VALID, {0, 0, 0, 0}, 1, {0, 0}}},
    };
    dl_ctx *ctx = cv_ctx((size_t)8 << 20, DL_ISA_AUTO);
    dl_gradcheck_result r; dl_status st; size_t k; char name[160];
    if (!ctx) { T_BEGIN("conv gradcheck context"); T_EXPECT(0, "init"); T_END(); return; }
    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const cv_gc *g = &cases[k]; dl_tensor *in[3]; int64_t bs[1]; int n = g->bias ? 3 : 2, i;
        dl_mark m = dl_ctx_mark(ctx);
        snprintf(name, sizeof name, "conv gradcheck %s", g->name);
        T_BEGIN(name);
        in[0] = dl_uniform(ctx, dl_shape_n(g->nd, g->xs), -1.0f, 1.0f);
        in[1] = dl_uniform(ctx, dl_shape_n(g->nd, g->ws), -1.0f, 1.0f);
        bs[0] = g->op == RC_CONV_TRANSPOSE2D ? g->ws[1] * (g->d.groups ? g->d.groups : 1) : g->ws[0];
        in[2] = dl_uniform(ctx, dl_shape_n(1, bs), -1.0f, 1.0f);
        for (i = 0; i < n; i++) dl_requires_grad(ctx, in[i], 1);
        st = dl_gradcheck(ctx, cv_gc_fn, (void *)(uintptr_t)g, in, n, NULL, &r);
        T_EXPECT(st == DL_STATUS_OK, "%s (%s)", dl_gradcheck_message(ctx), dl_ctx_message(ctx));
        T_EXPECT(r.checked > 0 && r.failed == 0, "checked %lld failed %lld", (long long)r.checked, (long long)r.failed);
        T_END();
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m);
    }
    T_BEGIN("conv gradcheck chain: conv2d -> tanh -> conv_transpose2d -> conv1d");
    {   dl_tensor *in[5]; int i; dl_gradcheck_desc gd; dl_mark m = dl_ctx_mark(ctx);
        in[0] = dl_uniform(ctx, dl_shape4(2, 3, 5, 4), -1.0f, 1.0f);
        in[1] = dl_uniform(ctx, dl_shape4(4, 3, 3, 3), -0.5f, 0.5f);
        in[2] = dl_uniform(ctx, dl_shape1(4), -0.5f, 0.5f);
        in[3] = dl_uniform(ctx, dl_shape4(4, 2, 2, 3), -0.5f, 0.5f);
        in[4] = dl_uniform(ctx, dl_shape3(3, 6, 3), -0.5f, 0.5f);
        for (i = 0; i < 5; i++) dl_requires_grad(ctx, in[i], 1);
        /* a deeper float32 graph: the rounding noise of the central difference, ~ulp(f)/h,
           came within 2/3 of atol at the default h = 1e-3; h = 3e-3 keeps it well below
           (tanh's curvature adds only ~h^2 = 1e-5). */
        memset(&gd, 0, sizeof gd); gd.eps = 3e-3;
        st = dl_gradcheck(ctx, cv_gc_chain, NULL, in, 5, &gd, &r);
        T_EXPECT(st == DL_STATUS_OK && r.checked == 120 + 108 + 4 + 48 + 54, "%s (%s) checked %lld", dl_gradcheck_message(ctx), dl_ctx_message(ctx), (long long)r.checked);
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m); }
    T_END();
    dl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- error paths */
static void cv_expect_error(dl_ctx *ctx, dl_tensor *y, dl_status want, const char *s1, const char *s2) {
    T_EXPECT(dl_is_poison(y), "expected a poison tensor");
    T_EXPECT(dl_ctx_status(ctx) == want, "status %s, want %s (%s)", dl_status_name(dl_ctx_status(ctx)), dl_status_name(want), dl_ctx_message(ctx));
    T_EXPECT(cv_msg_has(ctx, s1), "message lacks \"%s\": %s", s1, dl_ctx_message(ctx));
    if (s2) T_EXPECT(cv_msg_has(ctx, s2), "message lacks \"%s\": %s", s2, dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
}
static void test_conv_errors(void) {
    dl_ctx *ctx = cv_ctx((size_t)1 << 20, DL_ISA_AUTO);
    dl_tensor *x, *w, *b; dl_conv_desc d; dl_conv2d_layer l;
    if (!ctx) return;
    T_BEGIN("conv errors: groups must divide the channels");
    x = dl_zeros(ctx, dl_shape4(1, 3, 5, 5)); w = dl_zeros(ctx, dl_shape4(4, 1, 3, 3));
    d = cv_desc(1, 1, 1, 1, DL_PAD_VALID, 0, 0, 0, 0, 2);
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_SHAPE, "dl_conv2d: groups 2 must divide", "x[1,3,5,5]");
    x = dl_zeros(ctx, dl_shape4(1, 4, 5, 5)); w = dl_zeros(ctx, dl_shape4(3, 2, 3, 3));
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_SHAPE, "groups 2 must divide", "weight[3,2,3,3]");
    x = dl_zeros(ctx, dl_shape4(1, 3, 4, 4)); w = dl_zeros(ctx, dl_shape4(3, 2, 3, 3));
    cv_expect_error(ctx, dl_conv_transpose2d(ctx, x, w, NULL, &d), DL_STATUS_SHAPE, "dl_conv_transpose2d: groups 2 must divide", "x[1,3,4,4]");
    T_END();

    T_BEGIN("conv errors: weight shape");
    x = dl_zeros(ctx, dl_shape4(1, 4, 5, 5)); w = dl_zeros(ctx, dl_shape4(4, 3, 3, 3));
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_SHAPE, "weight[4,3,3,3] must have C/groups = 2 input channels", "x[1,4,5,5]");
    w = dl_zeros(ctx, dl_shape3(4, 2, 3));
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_SHAPE, "weight[4,2,3] must be [O, C/groups, kh, kw]", NULL);
    cv_expect_error(ctx, dl_conv2d(ctx, dl_zeros(ctx, dl_shape3(1, 4, 5)), dl_zeros(ctx, dl_shape4(4, 2, 3, 3)), NULL, &d), DL_STATUS_SHAPE, "x[1,4,5] must be [N,C,H,W]", NULL);
    b = dl_zeros(ctx, dl_shape1(3));
    cv_expect_error(ctx, dl_conv2d(ctx, x, dl_zeros(ctx, dl_shape4(4, 2, 3, 3)), b, &d), DL_STATUS_SHAPE, "bias[3] must be [O]", "weight[4,2,3,3]");
    x = dl_zeros(ctx, dl_shape4(1, 4, 3, 3)); w = dl_zeros(ctx, dl_shape4(3, 2, 3, 3));
    cv_expect_error(ctx, dl_conv_transpose2d(ctx, x, w, NULL, NULL), DL_STATUS_SHAPE, "weight[3,2,3,3] must be [Cin, Cout/groups, kh, kw]", "x[1,4,3,3]");
    cv_expect_error(ctx, dl_conv1d(ctx, dl_zeros(ctx, dl_shape3(1, 4, 9)), dl_zeros(ctx, dl_shape3(2, 3, 3)), NULL, NULL), DL_STATUS_SHAPE, "dl_conv1d: weight[2,3,3] must have C/groups = 4", NULL);
    cv_expect_error(ctx, dl_conv2d(ctx, NULL, w, NULL, NULL), DL_STATUS_INVALID, "dl_conv2d: argument 1 is NULL", NULL);
    T_END();

    T_BEGIN("conv errors: output size <= 0 names the shapes");
    x = dl_zeros(ctx, dl_shape4(2, 2, 3, 4)); w = dl_zeros(ctx, dl_shape4(2, 2, 5, 5));
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, NULL), DL_STATUS_SHAPE, "output size -1 x 0 <= 0: x[2,2,3,4] padded by 0 rows and 0 columns", "weight[2,2,5,5]");
    d = cv_desc(1, 1, 2, 2, DL_PAD_EXPLICIT, 1, 1, 1, 1, 1);   /* dilated kernel 9 > 4 + 2 */
    x = dl_zeros(ctx, dl_shape4(1, 2, 8, 4));
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_SHAPE, "output size 2 x -2 <= 0", "padded by 2 rows and 2 columns");
    cv_expect_error(ctx, dl_conv1d(ctx, dl_zeros(ctx, dl_shape3(1, 2, 2)), dl_zeros(ctx, dl_shape3(1, 2, 3)), NULL, NULL), DL_STATUS_SHAPE, "dl_conv1d: output length 0 <= 0: x[1,2,2] padded by 0", "weight[1,2,3]");
    d = cv_desc(1, 1, 1, 1, DL_PAD_EXPLICIT, 3, 0, 3, 0, 1);
    cv_expect_error(ctx, dl_conv_transpose2d(ctx, dl_zeros(ctx, dl_shape4(1, 2, 1, 1)), dl_zeros(ctx, dl_shape4(2, 1, 3, 3)), NULL, &d), DL_STATUS_SHAPE, "output size -3 x -3 <= 0 for x[1,2,1,1] and weight[2,1,3,3]", NULL);
    T_END();

    T_BEGIN("conv errors: SAME needs stride 1; bad descriptors");
    x = dl_zeros(ctx, dl_shape4(1, 2, 5, 5)); w = dl_zeros(ctx, dl_shape4(2, 2, 3, 3));
    d = cv_desc(2, 2, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 1);
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "dl_conv2d: padding_mode DL_PAD_SAME needs stride 1, got stride (2, 2)", NULL);
    d = cv_desc(1, 2, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 1);
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "needs stride 1, got stride (1, 2)", NULL);
    d = cv_desc(2, 0, 1, 0, DL_PAD_SAME, 0, 0, 0, 0, 1);
    cv_expect_error(ctx, dl_conv1d(ctx, dl_zeros(ctx, dl_shape3(1, 2, 9)), dl_zeros(ctx, dl_shape3(2, 2, 3)), NULL, &d), DL_STATUS_INVALID, "dl_conv1d: padding_mode DL_PAD_SAME needs stride 1, got stride 2", NULL);
    d = cv_desc(1, 1, 1, 1, 7, 0, 0, 0, 0, 1);
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "unknown padding_mode 7", NULL);
    d = cv_desc(1, 1, 1, 1, DL_PAD_EXPLICIT, 0, -1, 0, 0, 1);
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "padding -1 must not be negative", NULL);
    d = cv_desc(-1, 1, 1, 1, DL_PAD_VALID, 0, 0, 0, 0, 1);
    cv_expect_error(ctx, dl_conv2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "stride -1 and dilation 1 must be positive", NULL);
    d = cv_desc(2, 2, 1, 1, DL_PAD_EXPLICIT, 0, 0, 0, 0, 1); d.output_padding[1] = 2;
    cv_expect_error(ctx, dl_conv_transpose2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "dl_conv_transpose2d: output_padding (0, 2) must be smaller than the stride or the dilation", NULL);
    d = cv_desc(1, 1, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 1);
    cv_expect_error(ctx, dl_conv_transpose2d(ctx, x, w, NULL, &d), DL_STATUS_INVALID, "padding_mode 2: only DL_PAD_EXPLICIT", NULL);
    T_END();

    T_BEGIN("conv errors: the layer");
    d = cv_desc(1, 1, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 3);
    dl_conv2d_init(ctx, &l, 4, 6, 3, 3, 1, &d);
    cv_expect_error(ctx, l.weight, DL_STATUS_SHAPE, "dl_conv2d_init: groups 3 must divide in 4 and out 6", NULL);
    dl_conv2d_init(ctx, &l, 4, 6, 0, 3, 1, NULL);
    cv_expect_error(ctx, l.weight, DL_STATUS_SHAPE, "kernel 0 x 3 must be positive", NULL);
    cv_expect_error(ctx, dl_conv2d_forward(ctx, NULL, x), DL_STATUS_INVALID, "dl_conv2d_forward: layer is NULL", NULL);
    T_END();

    T_BEGIN("conv errors: after an error every op returns poison; clear_error recovers");
    d = cv_desc(2, 2, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 1);
    x = dl_conv2d(ctx, dl_zeros(ctx, dl_shape4(1, 2, 5, 5)), w, NULL, &d);
    T_EXPECT(dl_is_poison(dl_conv_transpose2d(ctx, x, w, NULL, NULL)), "poison in, poison out");
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID, "the first error is kept");
    dl_ctx_clear_error(ctx);
    x = dl_conv2d(ctx, dl_ones(ctx, dl_shape4(1, 2, 5, 5)), dl_ones(ctx, dl_shape4(2, 2, 3, 3)), NULL, NULL);
    T_EXPECT(!dl_is_poison(x) && dl_get(x, 0) == 18.0f, "after clear: %s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- 1x1 fast path vs general */
static void test_conv_fastpath(void) {
    int tr;
    for (tr = 0; tr < 2; tr++) {
        /* conv2d: VALID 1x1 (fast) vs padding bottom/right 1 (general): the top-left crop agrees.
           conv_transpose2d: 1x1 (fast) vs dilation 2 + output_padding 1 (general), likewise. */
        dl_ctx *ctx = cv_ctx((size_t)4 << 20, DL_ISA_AUTO);
        dl_tensor *x[2], *w[2], *b[2], *y[2]; dl_conv_desc d[2]; int v; int64_t n, c, h, q;
        int64_t xs[4] = {2, 4, 5, 6}, ws[4] = {6, 2, 1, 1}, bs[1] = {6};
        T_BEGIN(tr ? "conv_transpose2d: 1x1 fast path equals the general im2col path (forward, dx, dw, db)"
                   : "conv2d: 1x1 fast path equals the general im2col path (forward, dx, dw, db)");
        if (!ctx) { T_EXPECT(0, "init"); T_END(); continue; }
        if (tr) { ws[0] = 4; ws[1] = 3; bs[0] = 6; }
        d[0] = cv_desc(1, 1, 1, 1, DL_PAD_VALID, 0, 0, 0, 0, 2);
        d[1] = tr ? cv_desc(1, 1, 2, 2, DL_PAD_EXPLICIT, 0, 0, 0, 0, 2) : cv_desc(1, 1, 1, 1, DL_PAD_EXPLICIT, 0, 1, 0, 1, 2);
        if (tr) { d[1].output_padding[0] = 1; d[1].output_padding[1] = 1; }
        for (v = 0; v < 2; v++) {
            float *dy; int64_t i;
            x[v] = cv_gen(ctx, 4, xs, 11u, 1); w[v] = cv_gen(ctx, 4, ws, 12u, 1); b[v] = cv_gen(ctx, 1, bs, 13u, 1);
            y[v] = tr ? dl_conv_transpose2d(ctx, x[v], w[v], b[v], &d[v]) : dl_conv2d(ctx, x[v], w[v], b[v], &d[v]);
            T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
            if (dl_ctx_status(ctx)) break;
            T_EXPECT(y[v]->shape[2] == 5 + v && y[v]->shape[3] == 6 + v, "shape %lldx%lld", (long long)y[v]->shape[2], (long long)y[v]->shape[3]);
            dy = (float *)calloc((size_t)y[v]->numel, sizeof *dy);
            if (!dy) break;
            for (n = 0; n < 2; n++) for (c = 0; c < 6; c++) for (h = 0; h < 5; h++) for (q = 0; q < 6; q++)
                dy[((n * 6 + c) * (5 + v) + h) * (6 + v) + q] = cv_val(14u, (uint32_t)(((n * 6 + c) * 5 + h) * 6 + q));
            dl_backward_with(ctx, y[v], dy);
            free(dy);
            for (i = 0; i < 2 * 6 * (5 + v) * (6 + v) && v; i++) {
                int64_t qq = i % 7, hh = (i / 7) % 6;
                if (hh == 5 || qq == 6) {   /* the extra row / column: bias only (conv2d) or untouched (transposed) */
                    float want = b[1]->data[(i / 42) % 6];
                    if (y[1]->data[i] != want) { T_EXPECT(0, "extra row/col %lld: %g want %g", (long long)i, (double)y[1]->data[i], (double)want); break; }
                }
            }
        }
        if (!dl_ctx_status(ctx)) {
            int64_t i, bad = 0;
            for (n = 0; n < 2; n++) for (c = 0; c < 6; c++) for (h = 0; h < 5; h++) for (q = 0; q < 6; q++) {
                float a = y[0]->data[((n * 6 + c) * 5 + h) * 6 + q], e = y[1]->data[((n * 6 + c) * 6 + h) * 7 + q];
                if (fabsf(a - e) > 1e-6f) bad++;
            }
            T_EXPECT(bad == 0, "%lld outputs differ", (long long)bad);
            for (i = 0; i < x[0]->numel; i++) if (fabsf(x[0]->grad[i] - x[1]->grad[i]) > 1e-6f) { T_EXPECT(0, "dx[%lld] %g vs %g", (long long)i, (double)x[0]->grad[i], (double)x[1]->grad[i]); break; }
            for (i = 0; i < w[0]->numel; i++) if (fabsf(w[0]->grad[i] - w[1]->grad[i]) > 1e-5f) { T_EXPECT(0, "dw[%lld] %g vs %g", (long long)i, (double)w[0]->grad[i], (double)w[1]->grad[i]); break; }
            for (i = 0; i < b[0]->numel; i++) if (fabsf(b[0]->grad[i] - b[1]->grad[i]) > 1e-5f) { T_EXPECT(0, "db[%lld] %g vs %g", (long long)i, (double)b[0]->grad[i], (double)b[1]->grad[i]); break; }
        }
        T_END();
        dl_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------- reference GEMM vs tiled */
static void test_conv_isa(void) {
    /* sizes cross the tiled kernel's blocks: K = 16*3*3 = 144 > 128, N = 81 columns */
    static const int64_t xs[4] = {2, 16, 9, 9}, ws[4] = {8, 16, 3, 3}, bs[1] = {8};
    static const int64_t txs[4] = {2, 6, 10, 17}, tws[4] = {8, 3, 3, 3}, tbs[1] = {6};
    dl_ctx *cx[2]; dl_tensor *y[2], *t[2], *x[2], *w[2], *b[2], *tw[2], *tb[2]; int v; int64_t i;
    T_BEGIN("conv: DL_ISA_REFERENCE and the default GEMM agree (conv2d and conv_transpose2d, forward and backward)");
    for (v = 0; v < 2; v++) {
        dl_conv_desc d = cv_desc(1, 1, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 1), dt = cv_desc(2, 2, 1, 1, DL_PAD_EXPLICIT, 1, 0, 1, 0, 2);
        cx[v] = cv_ctx((size_t)8 << 20, v ? DL_ISA_REFERENCE : DL_ISA_AUTO);
        if (!cx[v]) return;
        x[v] = cv_gen(cx[v], 4, xs, 21u, 1); w[v] = cv_gen(cx[v], 4, ws, 22u, 1); b[v] = cv_gen(cx[v], 1, bs, 23u, 1);
        tw[v] = cv_gen(cx[v], 4, tws, 24u, 1); tb[v] = cv_gen(cx[v], 1, tbs, 25u, 1);
        for (i = 0; i < w[v]->numel; i++) w[v]->data[i] *= 0.125f;
        y[v] = dl_conv2d(cx[v], x[v], w[v], b[v], &d);                          /* [2,8,9,9]   */
        dt.output_padding[0] = 1;                       /* a strided view in: [2,8,5,9] -> [2,6,10,17] */
        t[v] = dl_conv_transpose2d(cx[v], dl_slice(cx[v], dl_tanh(cx[v], y[v]), 2, 0, 5, 1), tw[v], tb[v], &dt);
        dl_backward(cx[v], dl_sum_all(cx[v], dl_mul(cx[v], t[v], t[v])));
        T_EXPECT(dl_ctx_status(cx[v]) == DL_STATUS_OK, "%s", dl_ctx_message(cx[v]));
    }
    if (!dl_ctx_status(cx[0]) && !dl_ctx_status(cx[1])) {
        T_EXPECT(cv_shape_is(t[0], 4, txs), "transposed output shape");
        for (i = 0; i < y[0]->numel; i++) if (fabsf(y[0]->data[i] - y[1]->data[i]) > 1e-5f * (1.0f + fabsf(y[1]->data[i]))) { T_EXPECT(0, "y[%lld]", (long long)i); break; }
        for (i = 0; i < t[0]->numel; i++) if (fabsf(t[0]->data[i] - t[1]->data[i]) > 1e-5f * (1.0f + fabsf(t[1]->data[i]))) { T_EXPECT(0, "t[%lld]", (long long)i); break; }
        for (i = 0; i < x[0]->numel; i++) if (fabsf(x[0]->grad[i] - x[1]->grad[i]) > 1e-4f * (1.0f + fabsf(x[1]->grad[i]))) { T_EXPECT(0, "dx[%lld]", (long long)i); break; }
        for (i = 0; i < w[0]->numel; i++) if (fabsf(w[0]->grad[i] - w[1]->grad[i]) > 1e-4f * (1.0f + fabsf(w[1]->grad[i]))) { T_EXPECT(0, "dw[%lld]", (long long)i); break; }
        for (i = 0; i < b[0]->numel; i++) if (fabsf(b[0]->grad[i] - b[1]->grad[i]) > 1e-4f * (1.0f + fabsf(b[1]->grad[i]))) { T_EXPECT(0, "db[%lld]", (long long)i); break; }
        for (i = 0; i < tw[0]->numel; i++) if (fabsf(tw[0]->grad[i] - tw[1]->grad[i]) > 1e-4f * (1.0f + fabsf(tw[1]->grad[i]))) { T_EXPECT(0, "dtw[%lld]", (long long)i); break; }
        for (i = 0; i < tb[0]->numel; i++) if (fabsf(tb[0]->grad[i] - tb[1]->grad[i]) > 1e-4f * (1.0f + fabsf(tb[1]->grad[i]))) { T_EXPECT(0, "dtb[%lld]", (long long)i); break; }
    }
    T_END();
    dl_ctx_free(cx[0]); dl_ctx_free(cx[1]);
}

/* ---------------------------------------------------------------- measure mode */
/* Programs whose peak the measuring context must predict to the byte. The im2col scratch
   dominates the peak of 1-4 (forward: 1, 3; backward: 2, 4), so leaving it out of the
   count in either pass in either op would show; 0 mixes everything, two steps rewound:
   conv2d (im2col) -> relu -> 1x1 conv2d (fast path) -> conv_transpose2d -> conv1d.      */
static const char *const cv_prog_name[5] = {
    "a training graph of every conv op, two steps", "conv2d inference, large im2col",
    "conv2d training step, large im2col", "conv_transpose2d inference, large cols",
    "conv_transpose2d training step, large cols"};
static dl_status cv_measure_run(void *mem, size_t bytes, int measure, int prog, size_t *peak, float *loss_out) {
    dl_ctx_desc dd; dl_ctx *ctx; dl_conv2d_layer l1; dl_tensor *w2, *w3, *w4, *x; dl_mark mk; int s; dl_status st;
    dl_conv_desc d1 = cv_desc(2, 2, 1, 1, DL_PAD_EXPLICIT, 1, 2, 0, 1, 1), d3 = cv_desc(2, 2, 1, 1, DL_PAD_EXPLICIT, 1, 0, 1, 0, 2);
    dl_conv_desc d4 = cv_desc(1, 0, 2, 0, DL_PAD_SAME, 0, 0, 0, 0, 1), same = cv_desc(1, 1, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 1);
    memset(&dd, 0, sizeof dd); dd.memory = mem; dd.memory_size = bytes; dd.measure = measure; dd.seed = 5;
    ctx = dl_ctx_init(&dd);
    if (!ctx) return DL_STATUS_OOM;
    d3.output_padding[0] = 1;
    if (prog == 0) {
        dl_conv2d_init(ctx, &l1, 3, 8, 3, 3, 1, &d1);
        w2 = dl_uniform(ctx, dl_shape4(4, 8, 1, 1), -0.3f, 0.3f); dl_requires_grad(ctx, w2, 1);
        w3 = dl_uniform(ctx, dl_shape4(4, 3, 3, 3), -0.3f, 0.3f); dl_requires_grad(ctx, w3, 1);
        w4 = dl_uniform(ctx, dl_shape3(2, 6, 3), -0.3f, 0.3f); dl_requires_grad(ctx, w4, 1);
        x = dl_uniform(ctx, dl_shape4(4, 3, 15, 13), -1.0f, 1.0f);
        mk = dl_ctx_mark(ctx);
        for (s = 0; s < 2 && !dl_ctx_status(ctx); s++) {
            dl_tensor *h = dl_relu(ctx, dl_conv2d_forward(ctx, &l1, x));           /* [4,8,8,6]   */
            dl_tensor *g = dl_conv2d(ctx, h, w2, NULL, NULL);                       /* [4,4,8,6]   */
            dl_tensor *u = dl_conv_transpose2d(ctx, g, w3, NULL, &d3);              /* [4,6,16,11] */
            dl_tensor *v = dl_conv1d(ctx, dl_reshape(ctx, u, dl_shape3(4 * 16, 6, 11)), w4, NULL, &d4);
            dl_tensor *loss = dl_mean_all(ctx, dl_square(ctx, v));
            dl_zero_grad(l1.weight); dl_zero_grad(l1.bias); dl_zero_grad(w2); dl_zero_grad(w3); dl_zero_grad(w4);
            dl_backward(ctx, loss);
            if (loss_out) *loss_out = dl_item(loss);
            dl_ctx_rewind(ctx, mk);
        }
    } else {                 /* no reduction (its offset tables would rival the scratch) */
        dl_tensor *y; float *dy = NULL; int64_t i;
        if (prog <= 2) {     /* k5 SAME on 40x40: cols 75 x 1600 floats (480 KB), y 100 KB */
            dl_conv2d_init(ctx, &l1, 3, 8, 5, 5, 1, &same);
            x = dl_uniform(ctx, dl_shape4(2, 3, 40, 40), -1.0f, 1.0f);
            if (prog == 1) dl_set_grad_enabled(ctx, 0);
            y = dl_conv2d_forward(ctx, &l1, x);
        } else {             /* k5 SAME-sized: cols 75 x 400 floats (120 KB), y 19 KB        */
            x = dl_uniform(ctx, dl_shape4(2, 8, 20, 20), -1.0f, 1.0f);
            w3 = dl_uniform(ctx, dl_shape4(8, 3, 5, 5), -0.3f, 0.3f);
            if (prog == 4) { dl_requires_grad(ctx, x, 1); dl_requires_grad(ctx, w3, 1); }
            d3 = cv_desc(1, 1, 1, 1, DL_PAD_EXPLICIT, 2, 0, 2, 0, 1);
            y = dl_conv_transpose2d(ctx, x, w3, NULL, &d3);
        }
        if ((prog == 2 || prog == 4) && !dl_is_poison(y) && (dy = (float *)malloc((size_t)y->numel * sizeof *dy)) != NULL) {
            for (i = 0; i < y->numel; i++) dy[i] = 1.0f;
            dl_backward_with(ctx, y, dy);
            free(dy);
        }
        if (loss_out) *loss_out = dl_is_poison(y) ? 0.0f : 1.0f;
    }
    if (peak) *peak = dl_ctx_peak_bytes(ctx);
    st = dl_ctx_status(ctx);
    dl_ctx_free(ctx);
    return st;
}
static void test_conv_measure(void) {
    int prog;
    for (prog = 0; prog < 5; prog++) {
        size_t need = 0, real = 0; float loss = 0.0f; dl_status st; unsigned char *raw, *p; char name[160];
        snprintf(name, sizeof name, "conv measure: %s: the measured peak is the real peak; one byte less fails", cv_prog_name[prog]);
        T_BEGIN(name);
        st = cv_measure_run(NULL, 0, 1, prog, &need, NULL);
        T_EXPECT(st == DL_STATUS_OK && need > 0, "measure: %s", dl_status_name(st));
        raw = (unsigned char *)malloc(need + 64);
        if (raw) {
            p = raw + ((64 - ((uintptr_t)raw & 63)) & 63);
            st = cv_measure_run(p, need, 0, prog, &real, &loss);
            T_EXPECT(st == DL_STATUS_OK, "real run in %lu bytes: %s", (unsigned long)need, dl_status_name(st));
            T_EXPECT(real == need, "real peak %lu, measured %lu", (unsigned long)real, (unsigned long)need);
            T_EXPECT(loss > 0.0f && loss == loss, "loss %g", (double)loss);
            st = cv_measure_run(p, need - 1, 0, prog, NULL, NULL);
            T_EXPECT(st == DL_STATUS_OOM, "one byte less: %s", dl_status_name(st));
            free(raw);
        }
        T_END();
    }
}

/* ---------------------------------------------------------------- the layer */
static void test_conv_layer(void) {
    dl_ctx *ctx = cv_ctx((size_t)1 << 20, DL_ISA_AUTO);
    dl_conv2d_layer l; dl_conv_desc d = cv_desc(1, 1, 1, 1, DL_PAD_SAME, 0, 0, 0, 0, 2);
    dl_tensor *x, *y, *y2; int64_t i; float bound = 1.0f / sqrtf(18.0f), mx = 0.0f;
    if (!ctx) return;
    T_BEGIN("conv layer: torch's init (U(+-1/sqrt(fan_in)), fan_in = in/groups*kh*kw) and forward");
    dl_conv2d_init(ctx, &l, 4, 6, 3, 3, 1, &d);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(l.weight->ndim == 4 && l.weight->shape[0] == 6 && l.weight->shape[1] == 2 && l.weight->shape[2] == 3 && l.weight->shape[3] == 3, "weight shape");
    T_EXPECT(l.bias && l.bias->numel == 6 && l.weight->requires_grad && l.bias->requires_grad, "bias, requires_grad");
    T_EXPECT(l.desc.groups == 2 && l.desc.padding_mode == DL_PAD_SAME, "desc kept");
    for (i = 0; i < l.weight->numel; i++) { float a = fabsf(l.weight->data[i]); if (a > mx) mx = a; }
    for (i = 0; i < l.bias->numel; i++) T_EXPECT(fabsf(l.bias->data[i]) <= bound, "bias %g", (double)l.bias->data[i]);
    T_EXPECT(mx <= bound && mx > 0.5f * bound, "max |w| %g, bound %g", (double)mx, (double)bound);
    x = dl_uniform(ctx, dl_shape4(2, 4, 5, 7), -1.0f, 1.0f);
    y = dl_conv2d_forward(ctx, &l, x);
    y2 = dl_conv2d(ctx, x, l.weight, l.bias, &d);
    T_EXPECT(y->shape[1] == 6 && y->shape[2] == 5 && y->shape[3] == 7, "SAME keeps the size");
    for (i = 0; i < y->numel; i++) if (y->data[i] != y2->data[i]) { T_EXPECT(0, "forward differs at %lld", (long long)i); break; }
    dl_conv2d_init(ctx, &l, 3, 2, 1, 1, 0, NULL);
    T_EXPECT(l.bias == NULL && l.weight->shape[1] == 3 && l.desc.groups == 0, "no bias, default desc");
    T_END();
    dl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- im2col layouts */
/* conv2d against a direct loop (double), forward and dx, on geometries where the output row
   is as wide as the input row (stride 1): im2col then copies whole shifted planes and zeroes
   the columns that fell outside. Pads larger than the kernel, one-sided pads, dilation, and
   planes shorter than the kernel (whole planes of zeros) are the edge cases. */
static void test_conv_same_layout(void) {
    static const struct { int64_t C, H, W, O, kh, kw; int dh, dw, pt, pb, pl, pr; } gs[] = {
        {2, 5, 7, 3, 3, 3, 1, 1, 1, 1, 1, 1},     /* plain 'same' 3x3 */
        {1, 4, 6, 2, 2, 4, 1, 1, 0, 1, 3, 0},     /* all the width pad on the left, = kw - 1 */
        {3, 6, 5, 2, 3, 2, 2, 3, 4, 0, 0, 3},     /* dilated; top pad larger than the kernel */
        {1, 2, 9, 2, 5, 3, 1, 2, 2, 2, 4, 0},     /* kernel taller than the plane */
        {2, 3, 1, 1, 3, 5, 1, 1, 1, 1, 2, 2},     /* a one-column image */
    };
    size_t k;
    for (k = 0; k < sizeof gs / sizeof gs[0]; k++) {
        dl_ctx *ctx = cv_ctx((size_t)8 << 20, DL_ISA_AUTO);
        dl_conv_desc d = cv_desc(1, 1, gs[k].dh, gs[k].dw, DL_PAD_EXPLICIT, gs[k].pt, gs[k].pb, gs[k].pl, gs[k].pr, 1);
        const int64_t N = 2, C = gs[k].C, H = gs[k].H, W = gs[k].W, O = gs[k].O, kh = gs[k].kh, kw = gs[k].kw;
        const int64_t OH = H + gs[k].pt + gs[k].pb - gs[k].dh * (kh - 1), OW = W + gs[k].pl + gs[k].pr - gs[k].dw * (kw - 1);
        int64_t xs[4], ws[4], n, o, c, i, j, y0, x0, bad = 0; double worst = 0.0; char name[128];
        dl_tensor *x, *w, *y;
        xs[0] = N; xs[1] = C; xs[2] = H; xs[3] = W; ws[0] = O; ws[1] = C; ws[2] = kh; ws[3] = kw;
        snprintf(name, sizeof name, "conv2d im2col 'same' row layout %d: forward and dx against a direct loop", (int)k);
        T_BEGIN(name);
        if (!ctx) { T_EXPECT(0, "init"); T_END(); continue; }
        T_EXPECT(OW == W, "case %d must keep the row width", (int)k);
        x = cv_gen(ctx, 4, xs, 31u + (uint32_t)k, 1); w = cv_gen(ctx, 4, ws, 41u + (uint32_t)k, 1);
        y = dl_conv2d(ctx, x, w, NULL, &d);
        dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y, dl_detach(ctx, y))));   /* dy = y (one path) */
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        if (dl_ctx_status(ctx) == DL_STATUS_OK) {
            double *gx = (double *)calloc((size_t)(N * C * H * W), sizeof(double));
            for (n = 0; n < N; n++) for (o = 0; o < O; o++) for (y0 = 0; y0 < OH; y0++) for (x0 = 0; x0 < OW; x0++) {
                double acc = 0.0, e;
                for (c = 0; c < C; c++) for (i = 0; i < kh; i++) for (j = 0; j < kw; j++) {
                    int64_t ih = y0 - gs[k].pt + i * gs[k].dh, iw = x0 - gs[k].pl + j * gs[k].dw;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    acc += (double)x->data[((n * C + c) * H + ih) * W + iw] * (double)w->data[((o * C + c) * kh + i) * kw + j];
                }
                e = fabs(acc - (double)y->data[((n * O + o) * OH + y0) * OW + x0]);
                if (e > 1e-4 + 1e-4 * fabs(acc)) bad++;
                if (e > worst) worst = e;
                for (c = 0; c < C; c++) for (i = 0; i < kh; i++) for (j = 0; j < kw; j++) {
                    int64_t ih = y0 - gs[k].pt + i * gs[k].dh, iw = x0 - gs[k].pl + j * gs[k].dw;
                    if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                    gx[((n * C + c) * H + ih) * W + iw] += acc * (double)w->data[((o * C + c) * kh + i) * kw + j];
                }
            }
            T_EXPECT(y->numel == N * O * OH * OW && bad == 0, "forward: %lld elements off, worst %.3g", (long long)bad, worst);
            bad = 0; worst = 0.0;
            for (i = 0; i < N * C * H * W; i++) {
                double e = fabs(gx[i] - (double)dl_grad_get(x, i));
                if (e > 1e-3 + 1e-4 * fabs(gx[i])) bad++;
                if (e > worst) worst = e;
            }
            T_EXPECT(bad == 0, "dx: %lld elements off, worst %.3g", (long long)bad, worst);
            free(gx);
        }
        T_END();
        dl_ctx_free(ctx);
    }
}

static void suite_conv(void) {
    test_conv_ref();
    test_conv_gradcheck();
    test_conv_errors();
    test_conv_fastpath();
    test_conv_isa();
    test_conv_same_layout();
    test_conv_measure();
    test_conv_layer();
}
