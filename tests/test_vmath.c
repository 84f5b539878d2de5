/* tests/test_vmath.c - the vector exp / sigmoid / tanh / softplus kernels (>>vmath in dl.h):
   for each kernel level this CPU runs (scalar libm, SSE2 and AVX2+FMA on x86-64, NEON on
   AArch64), every function over ~300k inputs (float bit patterns across every exponent,
   dense grids over [-30, 30] and over the overflow / denormal-result edges, tiny, huge,
   +-0, +-inf, NaN) against a double-precision reference, with the max error bound in ulps
   that dl.h documents (a polynomial coefficient off by 0.1%, e.g. exp's r^5 term, fails);
   lengths 1, 7, 17, 1023 at odd offsets (the padded tail) give the
   same bits as the long run. Then the ops that use them (dl_exp, dl_sigmoid, dl_tanh,
   dl_softplus, dl_log_sigmoid, dl_bce_with_logits, forward and backward) and the
   RNN / LSTM / GRU layer, forward and backward, on DL_ISA_AUTO against DL_ISA_REFERENCE;
   a DL_ISA_REFERENCE context still gives libm's bits; 1 and 3 threads give the same bits. */
#include <stdlib.h>

/* the documented bounds (dl.h >>vmath), in ulps of the float result; denormal results in
   ulps of 2^-149. The measured maxima sit 0.4 to 0.6 ulp below them: exp's r^5 coefficient
   off by 0.12% fails (1.6 ulp), tanh's or log1p's x^7 term off in the 3rd digit fails by far. */
static double tvm_bound(int fn) {
    switch (fn) {
    case DL__VM_EXP: return 1.5;
    case DL__VM_SIGMOID: case DL__VM_NSIGMOID: return 2.5;
    case DL__VM_TANH: return 2.5;
    default: return 3.0;
    }
}
static const char *tvm_fname(int fn) {
    static const char *n[] = {"exp", "sigmoid", "sigmoid(-x)", "tanh", "softplus", "log_sigmoid"};
    return n[fn];
}
static double tvm_sigd(double x) { return x >= 0.0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }
static double tvm_spd(double x) { return (x > 0.0 ? x : 0.0) + log1p(exp(-fabs(x))); }
static double tvm_ref(int fn, double x) {
    switch (fn) {
    case DL__VM_EXP: return exp(x);
    case DL__VM_SIGMOID: return tvm_sigd(x);
    case DL__VM_NSIGMOID: return tvm_sigd(-x);
    case DL__VM_TANH: return tanh(x);
    case DL__VM_SOFTPLUS: return tvm_spd(x);
    default: return -tvm_spd(-x);
    }
}
/* |y - r| in ulps of r rounded to float (at least 2^-149); infinities and NaN must match */
static double tvm_ulps(float y, double r) {
    double u; int e;
    if (r != r) return y != y ? 0.0 : 1e30;
    if (y != y) return 1e30;
    if (fabs(r) >= 3.4028235677973366e38) return ((double)y > 0.0) == (r > 0.0) && isinf(y) ? 0.0 : 1e30;  /* rounds to +-inf */
    if (isinf(y)) return 1e30;
    if (r == 0.0) return fabs((double)y) / ldexp(1.0, -149);
    (void)frexp(r, &e);
    u = ldexp(1.0, e - 24);
    if (u < ldexp(1.0, -149)) u = ldexp(1.0, -149);
    return fabs((double)y - r) / u;
}
static int64_t tvm_inputs(float *x) {
    static const float sp[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-40f, -1e-40f, 1e-45f, 1e-7f, -3e-5f, 0.25f, 0.4999999f, 0.5f, -0.5f,
                               0.5000001f, 1.0f, -1.0f, 9.0f, -9.0f, 15.0f, 20.0f, -20.0f, 87.0f, 88.0f, 88.72f, 88.7228f, 88.7229f,
                               89.0f, 100.0f, -87.33f, -87.34f, -100.0f, -103.0f, -103.97f, -103.98f, -104.0f, -110.0f, 1e30f,
                               -1e30f, 3.4028235e38f, -3.4028235e38f, INFINITY, -INFINITY, NAN, -NAN};
    int64_t n = 0, i; uint32_t b;
    for (i = 0; i < (int64_t)(sizeof sp / sizeof sp[0]); i++) x[n++] = sp[i];
    for (b = 0; b < 0xFFFFFFFFu - 16411u; b += 16411u) { float v; memcpy(&v, &b, sizeof v); x[n++] = v; }   /* every exponent */
    for (i = -7680; i <= 7680; i++) x[n++] = (float)i / 256.0f;                          /* [-30, 30] */
    for (i = 0; i <= 4096; i++) { x[n++] = 85.0f + (float)i / 1024.0f; x[n++] = -100.0f - (float)i / 1024.0f; }  /* the edges */
    for (i = 0; i < 200; i++) x[n++] = ldexpf(1.2345f, -(int)i);                         /* tiny, to denormals */
    return n;
}
#define TVM_MAXN 300000
static void tvm_level(int lv, const char *lname) {
    static float x[TVM_MAXN], y[TVM_MAXN], z[1100];
    static const int64_t lens[] = {1, 7, 17, 1023}, offs[] = {0, 3, 1000};
    static char name[128];
    const int64_t n = tvm_inputs(x);
    int fn; size_t a, c;
    for (fn = DL__VM_EXP; fn <= DL__VM_LOGSIGMOID; fn++) {
        double worst = 0.0, e; int64_t i, wi = 0;
        snprintf(name, sizeof name, "vmath %s %s: max error <= %.1f ulp over %ld inputs, tails of 1/7/17/1023 give the same bits",
                 lname, tvm_fname(fn), tvm_bound(fn), (long)n);
        T_BEGIN(name);
        T_EXPECT(n <= TVM_MAXN, "input count %ld", (long)n);
        dl__vmath(lv, fn, n, x, y);
        for (i = 0; i < n; i++) if ((e = tvm_ulps(y[i], tvm_ref(fn, (double)x[i]))) > worst) { worst = e; wi = i; }
        T_EXPECT(worst <= tvm_bound(fn), "max error %.3f ulp at x = %.9g (got %.9g, want %.9g)", worst, (double)x[wi],
                 (double)y[wi], tvm_ref(fn, (double)x[wi]));
        if (!t_skip_case) printf("      vmath %-6s %-12s max %.3f ulp at x = %.9g\n", lname, tvm_fname(fn), worst, (double)x[wi]);
        for (a = 0; a < sizeof lens / sizeof lens[0]; a++)
            for (c = 0; c < sizeof offs / sizeof offs[0]; c++) {
                const int64_t o = offs[c] + 30000, m = lens[a];   /* inside the [-30, 30] grid and its neighbours */
                memset(z, 0xff, sizeof z);
                dl__vmath(lv, fn, m, x + o, z);
                T_EXPECT(memcmp(z, y + o, (size_t)m * sizeof(float)) == 0, "length %ld at %ld: bits differ from the long run", (long)m, (long)o);
                for (i = m; i < 1100; i++) { uint32_t u; memcpy(&u, z + i, sizeof u); if (u != 0xffffffffu) break; }
                T_EXPECT(i == 1100, "length %ld: wrote past the end (index %ld)", (long)m, (long)i);
            }
        { float t = -0.0f, r = 1.0f;   /* in place, and -0 keeps its sign where f(-0) = -0 */
          dl__vmath(lv, fn, 1, &t, &t);
          if (fn == DL__VM_TANH || fn == DL__VM_EXP) { r = fn == DL__VM_TANH ? -0.0f : 1.0f; T_EXPECT(t == r && signbit(t) == signbit(r), "f(-0) = %g", (double)t); } }
        T_END();
    }
}
static void tvm_kernels(void) {
    tvm_level(DL__VL_SCALAR, "scalar");
#if defined(DL__X86_64)
    tvm_level(DL__VL_SSE2, "sse2");
    if (dl__isa_rank(dl__isa_detect()) >= 3) tvm_level(DL__VL_AVX2, "avx2");
    else { T_BEGIN("vmath avx2: not on this CPU (the SSE2 leg runs without AVX)"); T_END(); }
#endif
#if defined(DL__NEON64)
    tvm_level(DL__VL_NEON, "neon");
#endif
    T_BEGIN("vmath level: REFERENCE and PORTABLE contexts use libm, AUTO the best vector level");
    {   dl_ctx_desc d; dl_ctx *cx; int k; static const int caps[] = {DL_ISA_REFERENCE, DL_ISA_PORTABLE, DL_ISA_AUTO};
        for (k = 0; k < 3; k++) {
            memset(&d, 0, sizeof d); d.memory_size = (size_t)1 << 16; d.isa = caps[k];
            cx = dl_ctx_init(&d);
            if (!cx) { T_EXPECT(0, "dl_ctx_init"); continue; }
            if (k < 2) T_EXPECT(dl__vm_level(cx) == DL__VL_SCALAR, "cap %d: level %d", caps[k], dl__vm_level(cx));
#if defined(DL__X86_64)
            else T_EXPECT(dl__vm_level(cx) == (dl__isa_rank(dl_ctx_isa(cx)) >= 3 ? DL__VL_AVX2 : DL__VL_SSE2), "auto: level %d", dl__vm_level(cx));
#elif defined(DL__NEON64)
            else T_EXPECT(dl__vm_level(cx) == DL__VL_NEON, "auto: level %d", dl__vm_level(cx));
#else
            else T_EXPECT(dl__vm_level(cx) == DL__VL_SCALAR, "auto: level %d", dl__vm_level(cx));
#endif
            dl_ctx_free(cx);
        }
    }
    T_END();
}

/* ---------------------------------------------------------------- the ops, AUTO vs REFERENCE */
static dl_ctx *tvm_ctx_t(int isa, int threads) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = (size_t)8 << 20; d.seed = 5; d.isa = isa; d.threads = threads;
    return dl_ctx_init(&d);
}
static dl_ctx *tvm_ctx(int isa) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = (size_t)8 << 20; d.seed = 5; d.isa = isa;
    return dl_ctx_init(&d);
}
/* y = op(x) and dx of sum(y * w) for 1023 values in [-12, 12] and a few edge values */
static void tvm_op_run(dl_ctx *ctx, int op, float *y, float *gx) {
    dl_tensor *x = dl_empty(ctx, dl_shape1(1023)), *w = dl_empty(ctx, dl_shape1(1023)), *t = NULL, *out; int64_t i;
    for (i = 0; i < 1023; i++) { dl_set(x, i, -12.0f + 24.0f * (float)((i * 389) % 1023) / 1022.0f); dl_set(w, i, 0.5f + (float)(i % 7) / 7.0f); }
    dl_set(x, 5, -95.0f); dl_set(x, 6, 95.0f); dl_set(x, 7, 1e-20f); dl_set(x, 8, -1e-20f); dl_set(x, 9, 30.0f); dl_set(x, 10, -30.0f);
    dl_requires_grad(ctx, x, 1);
    switch (op) {
    case 0: out = dl_exp(ctx, dl_mul_scalar(ctx, x, 0.5f)); break;
    case 1: out = dl_sigmoid(ctx, x); break;
    case 2: out = dl_tanh(ctx, x); break;
    case 3: out = dl_softplus(ctx, x); break;
    case 4: out = dl_log_sigmoid(ctx, x); break;
    default:
        t = dl_empty(ctx, dl_shape1(1023));
        for (i = 0; i < 1023; i++) dl_set(t, i, (float)(i % 3) / 2.0f);
        out = dl_bce_with_logits(ctx, x, t, DL_REDUCE_NONE); break;
    }
    dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, out, w)));
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    dl_copy_to(out, y);
    for (i = 0; i < 1023; i++) gx[i] = dl_grad_get(x, i);
}
static void tvm_ops(void) {
    static const char *names[] = {"exp", "sigmoid", "tanh", "softplus", "log_sigmoid", "bce_with_logits"};
    static char name[128];
    static float y[2][1023], g[2][1023], want[1023];
    int op, v; int64_t i;
    for (op = 0; op < 6; op++) {
        dl_ctx *cx[2];
        snprintf(name, sizeof name, "vmath op dl_%s: DL_ISA_AUTO matches DL_ISA_REFERENCE (values and gradient, 1023 elements)", names[op]);
        T_BEGIN(name);
        for (v = 0; v < 2; v++) {
            cx[v] = tvm_ctx(v ? DL_ISA_REFERENCE : DL_ISA_AUTO);
            if (!cx[v]) { T_EXPECT(0, "dl_ctx_init"); continue; }
            tvm_op_run(cx[v], op, y[v], g[v]);
        }
        /* the reference context gives the libm formula's bits */
        if (cx[1]) {
            dl_tensor *x = dl_empty(cx[1], dl_shape1(1023));
            for (i = 0; i < 1023; i++) dl_set(x, i, -12.0f + 24.0f * (float)((i * 389) % 1023) / 1022.0f);
            dl_set(x, 5, -95.0f); dl_set(x, 6, 95.0f); dl_set(x, 7, 1e-20f); dl_set(x, 8, -1e-20f); dl_set(x, 9, 30.0f); dl_set(x, 10, -30.0f);
            for (i = 0; i < 1023 && op < 5; i++) {
                const float xi = dl_get(x, i);
                want[i] = op == 0 ? expf(xi * 0.5f) : op == 1 ? dl__sigmoidf(xi) : op == 2 ? tanhf(xi) : op == 3 ? dl__softplusf(xi) : -dl__softplusf(-xi);
            }
            if (op < 5) T_EXPECT(memcmp(want, y[1], sizeof want) == 0, "the DL_ISA_REFERENCE values are not libm's bits");
        }
        t_allclose(y[0], y[1], 1023, 1e-6, 4e-7, "values");   /* 1 - y and softplus - t x cancel */
        t_allclose(g[0], g[1], 1023, 1e-6, 4e-7, "gradient");
        for (v = 0; v < 2; v++) if (cx[v]) dl_ctx_free(cx[v]);
        T_END();
    }
}

/* RNN tanh, LSTM, GRU: y, h, c and every gradient, AUTO (vector gates, SIMD GEMM) against
   REFERENCE (libm gates, scalar GEMM); odd H (tails), both directions; lengths mixed (the
   backward copies each step's gate gradients, transposed, for the GEMM), none, or all equal
   and short (the GEMM reads the step's contiguous rows through a transposed view) */
static const int32_t tvm_rnn_len[3][3] = {{6, 4, 6}, {0, 0, 0}, {4, 4, 4}};
static void tvm_rnn_run(dl_ctx *ctx, int mode, int reverse, int lens, float *out, int64_t *nout) {
    const int64_t T = 6, B = 3, I = 5, H = 19, G = mode == DL_LSTM ? 4 : mode == DL_GRU ? 3 : 1;
    dl_tensor *in[7], *len = lens == 1 ? NULL : dl_index_tensor(ctx, dl_shape1(B), tvm_rnn_len[lens]), *loss; dl_rnn_out o; int k; int64_t n = 0, i;
    in[0] = dl_uniform(ctx, dl_shape3(T, B, I), -1.5f, 1.5f);
    in[1] = dl_uniform(ctx, dl_shape2(B, H), -0.8f, 0.8f);
    in[2] = mode == DL_LSTM ? dl_uniform(ctx, dl_shape2(B, H), -2.0f, 2.0f) : NULL;
    in[3] = dl_uniform(ctx, dl_shape2(G * H, I), -0.9f, 0.9f);
    in[4] = dl_uniform(ctx, dl_shape2(G * H, H), -0.5f, 0.5f);
    in[5] = dl_uniform(ctx, dl_shape1(G * H), -0.5f, 0.5f);
    in[6] = dl_uniform(ctx, dl_shape1(G * H), -0.5f, 0.5f);
    for (k = 0; k < 7; k++) if (in[k]) dl_requires_grad(ctx, in[k], 1);
    o = dl_rnn_layer(ctx, (dl_rnn_mode)mode, in[0], in[1], in[2], in[3], in[4], in[5], in[6], len, reverse);
    loss = dl_add(ctx, dl_sum_all(ctx, dl_mul(ctx, o.y, dl_uniform(ctx, dl_shape3(T, B, H), -1.0f, 1.0f))),
                  dl_sum_all(ctx, dl_mul(ctx, o.h, dl_uniform(ctx, dl_shape2(B, H), -1.0f, 1.0f))));
    if (o.c) loss = dl_add(ctx, loss, dl_sum_all(ctx, dl_mul(ctx, o.c, dl_uniform(ctx, dl_shape2(B, H), -1.0f, 1.0f))));
    dl_backward(ctx, loss);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    if (dl_ctx_status(ctx)) { *nout = 0; return; }
    dl_copy_to(o.y, out + n); n += o.y->numel;
    dl_copy_to(o.h, out + n); n += o.h->numel;
    if (o.c) { dl_copy_to(o.c, out + n); n += o.c->numel; }
    for (k = 0; k < 7; k++) if (in[k]) for (i = 0; i < in[k]->numel; i++) out[n++] = dl_grad_get(in[k], i);
    *nout = n;
}
static void tvm_rnn(void) {
    static const char *mn[] = {"rnn tanh", "", "lstm", "gru"};
    static char name[128];
    static float out[2][4096];
    static const char *ln[] = {"lengths 6,4,6", "no lengths", "lengths 4,4,4"};
    int mode, rev, v, lens;
    for (mode = DL_RNN_TANH; mode <= DL_GRU; mode++) for (lens = 0; lens < 3; lens++) {
        if (mode == DL_RNN_RELU) continue;   /* no transcendental: the same loop on every level */
        for (rev = 0; rev < 2; rev++) {
            int64_t n[2] = {0, 0};
            snprintf(name, sizeof name, "vmath %s%s T 6 B 3 H 19 %s: DL_ISA_AUTO matches DL_ISA_REFERENCE (y, h, c, every gradient)",
                     mn[mode], rev ? " reverse" : "", ln[lens]);
            T_BEGIN(name);
            for (v = 0; v < 2; v++) {
                dl_ctx *cx = tvm_ctx(v ? DL_ISA_REFERENCE : DL_ISA_AUTO);
                if (!cx) { T_EXPECT(0, "dl_ctx_init"); continue; }
                tvm_rnn_run(cx, mode, rev, lens, out[v], &n[v]);
                dl_ctx_free(cx);
            }
            T_EXPECT(n[0] == n[1] && n[0] > 0 && n[0] <= 4096, "%ld vs %ld values", (long)n[0], (long)n[1]);
            /* values O(1) to O(10); a few ulps per gate carried over 6 steps, and the SIMD GEMMs sum in
               another order: the tolerance of the PyTorch reference tests (test_rnn.c) */
            if (n[0] == n[1]) {
                double worst = 0.0, big = 0.0; int64_t i;
                for (i = 0; i < n[0]; i++) { double e = fabs((double)out[0][i] - (double)out[1][i]); if (e > worst) worst = e; if (fabs((double)out[1][i]) > big) big = fabs((double)out[1][i]); }
                if (!t_skip_case) printf("      vmath %s%s %s: max |auto - reference| %.3g (max |value| %.3g)\n", mn[mode], rev ? " reverse" : "", ln[lens], worst, big);
                t_allclose(out[0], out[1], (long)n[0], 1e-5, 1e-5, "outputs and gradients");
            }
            T_END();
        }
    }
}

/* the vector gates run per sequence on the calling thread: 3 pool threads give the bits of 1 */
static void tvm_rnn_threads(void) {
    static float out[2][4096]; int64_t n[2] = {0, 0}; int mode, v, lens;
    T_BEGIN("vmath lstm and gru, DL_ISA_AUTO: 1 and 3 threads give the same bits (mixed lengths, none)");
    for (mode = DL_LSTM; mode <= DL_GRU; mode++) for (lens = 0; lens < 2; lens++) {
        for (v = 0; v < 2; v++) {
            dl_ctx *cx = tvm_ctx_t(DL_ISA_AUTO, v ? 3 : 1);
            if (!cx) { T_EXPECT(0, "dl_ctx_init"); continue; }
            tvm_rnn_run(cx, mode, 0, lens, out[v], &n[v]);
            dl_ctx_free(cx);
        }
        T_EXPECT(n[0] == n[1] && n[0] > 0 && memcmp(out[0], out[1], sizeof(float) * (size_t)n[0]) == 0, "mode %d lengths %d: 3 threads differ", mode, lens);
    }
    T_END();
}

static void suite_vmath(void) {
    tvm_kernels();
    tvm_ops();
    tvm_rnn();
    tvm_rnn_threads();
}
