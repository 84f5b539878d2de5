/* tests/test_rnn.c - dl_embedding, dl_rnn_layer and the dl_rnn stack (RNN tanh/relu, LSTM,
   GRU): PyTorch references (tests/ref_rnn.h, written by tests/gen_ref_rnn.py) for the
   outputs y, h_n, c_n and the gradients of x, h0, c0 and every parameter, over 1 and 2
   layers, bidirectional, with and without bias, mixed lengths (pack_padded_sequence),
   batch 1 and > 1, odd sizes; every case on the tiled GEMM and on the scalar reference.
   Then finite differences (dl_gradcheck) of each mode with lengths and reverse, a BPTT
   check over 12 steps, truncated BPTT (two chunks with carried state == one long run),
   measure-mode exactness of a T = 200 LSTM language-model training step, error paths.

   Tolerances for the references: atol 5e-6, rtol 1e-5 (float32 against float64 rounded
   once). Values here are O(1) and every element is a float32 sum of a few dozen products
   per step, carried through up to 12 steps of recurrence; the worst absolute error over
   every output and gradient is printed by the "rnn ref worst error" case: 7e-7 to 1e-6
   with gcc/clang/g++ at -O0..-O2 and -march=native (FMA contraction), 5x under atol.    */
#include <stdlib.h>
#include "ref_rnn.h"

#define RN_ATOL 5e-6
#define RN_RTOL 1e-5

static double rn_worst_abs;

/* the same hash as gen() in tests/gen_ref_rnn.py: k/256, k in [-256, 256) */
static float rn_val(uint32_t seed, uint32_t i) {
    uint32_t z = seed * 0x9E3779B9u + i * 0x7F4A7C15u;
    z ^= z >> 16; z *= 0x85EBCA6Bu; z ^= z >> 13; z *= 0xC2B2AE35u; z ^= z >> 16;
    return (float)((int)((z >> 8) & 511u) - 256) / 256.0f;
}
static void rn_fill(dl_tensor *t, uint32_t seed, float scale) {
    int64_t i; if (t && !dl_is_poison(t) && t->data) for (i = 0; i < t->numel; i++) dl_set(t, i, rn_val(seed, (uint32_t)i) * scale);
}
static dl_tensor *rn_gen(dl_ctx *ctx, dl_shape s, uint32_t seed, float scale, int grad) {
    dl_tensor *t = dl_empty(ctx, s);
    rn_fill(t, seed, scale);
    if (grad) dl_requires_grad(ctx, t, 1);
    return t;
}
static dl_ctx *rn_ctx(size_t bytes, int isa) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = 11; d.isa = isa;
    return dl_ctx_init(&d);
}
static int rn_msg_has(dl_ctx *ctx, const char *s) { return strstr(dl_ctx_message(ctx), s) != NULL; }
/* compares with the reference and tracks the worst absolute error */
static void rn_close(const dl_tensor *t, const float *want, const char *what) {
    int64_t i; float *buf;
    if (!t || dl_is_poison(t)) { T_EXPECT(0, "%s: poison", what); return; }
    buf = (float *)malloc((size_t)t->numel * sizeof *buf);
    if (!buf) { T_EXPECT(0, "host memory"); return; }
    dl_copy_to(t, buf);
    for (i = 0; i < t->numel; i++) { double e = fabs((double)buf[i] - (double)want[i]); if (e > rn_worst_abs) rn_worst_abs = e; }
    t_allclose(buf, want, (long)t->numel, RN_ATOL, RN_RTOL, what);
    free(buf);
}
static void rn_close_grad(const dl_tensor *t, const float *want, const char *what) {
    int64_t i;
    if (!t || !t->grad) { T_EXPECT(0, "%s: no gradient", what); return; }
    for (i = 0; i < t->numel; i++) { double e = fabs((double)t->grad[i] - (double)want[i]); if (e > rn_worst_abs) rn_worst_abs = e; }
    t_allclose(t->grad, want, (long)t->numel, RN_ATOL, RN_RTOL, what);
}
/* sum(a * val(seed)) as a graph */
static dl_tensor *rn_dot(dl_ctx *ctx, dl_tensor *a, uint32_t seed) {
    dl_tensor *w = dl_empty(ctx, dl_shape_of(a));
    rn_fill(w, seed, 1.0f);
    return dl_sum_all(ctx, dl_mul(ctx, a, w));
}

/* ---------------------------------------------------------------- PyTorch references */
static void rn_ref_case(dl_ctx *ctx, const rr_case *c) {
    dl_rnn r; dl_tensor *params[4 * 2 * DL_RNN_MAX_LAYERS], *x, *h0 = NULL, *c0 = NULL, *len = NULL, *loss;
    dl_rnn_out o; int np, k, pass; int64_t off; int64_t LD = (int64_t)c->layers * c->dirs;
    dl_mark m = dl_ctx_mark(ctx);
    for (pass = 0; pass < 2; pass++) {      /* 0: tape and backward; 1: no grad (no saved state) */
        int grad = pass == 0, prev;
        dl_rnn_init(ctx, &r, (dl_rnn_mode)c->mode, c->I, c->H, c->layers, c->dirs == 2, 0.0f, c->bias);
        np = dl_rnn_params(&r, params);
        T_EXPECT(np == c->layers * c->dirs * (c->bias ? 4 : 2), "dl_rnn_params count %d", np);
        for (k = 0; k < np; k++) rn_fill(params[k], c->seed + 10u + (uint32_t)k, 0.5f);
        x = rn_gen(ctx, dl_shape3(c->T, c->B, c->I), c->seed + 1u, 1.0f, grad);
        if (c->has_h0) h0 = rn_gen(ctx, dl_shape3(LD, c->B, c->H), c->seed + 2u, 0.5f, grad);
        if (c->has_c0) c0 = rn_gen(ctx, dl_shape3(LD, c->B, c->H), c->seed + 3u, 0.5f, grad);
        if (c->lengths) len = dl_index_tensor(ctx, dl_shape1(c->B), c->lengths);
        prev = dl_set_grad_enabled(ctx, grad);
        o = dl_rnn_forward(ctx, &r, x, h0, c0, len, 1);
        dl_set_grad_enabled(ctx, prev);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "forward: %s", dl_ctx_message(ctx));
        if (dl_ctx_status(ctx)) break;
        T_EXPECT(o.y->ndim == 3 && o.y->shape[0] == c->T && o.y->shape[1] == c->B && o.y->shape[2] == (int64_t)c->dirs * c->H, "y shape");
        T_EXPECT(o.h->ndim == 3 && o.h->shape[0] == LD && o.h->shape[1] == c->B && o.h->shape[2] == c->H, "h shape");
        T_EXPECT((o.c != NULL) == (c->mode == DL_LSTM), "c present only for LSTM");
        rn_close(o.y, c->y, grad ? "y" : "no-grad y");
        rn_close(o.h, c->h, grad ? "h_n" : "no-grad h_n");
        if (o.c) rn_close(o.c, c->c, grad ? "c_n" : "no-grad c_n");
        T_EXPECT(o.y->requires_grad == grad, "requires_grad %d", o.y->requires_grad);
        if (grad) {
            loss = dl_add(ctx, rn_dot(ctx, o.y, c->seed + 4u), rn_dot(ctx, o.h, c->seed + 5u));
            if (o.c) loss = dl_add(ctx, loss, rn_dot(ctx, o.c, c->seed + 6u));
            T_EXPECT(dl_backward(ctx, loss) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
            if (dl_ctx_status(ctx)) break;
            rn_close_grad(x, c->gx, "grad x");
            if (h0) rn_close_grad(h0, c->gh0, "grad h0");
            if (c0) rn_close_grad(c0, c->gc0, "grad c0");
            for (k = 0, off = 0; k < np; k++) {
                static char what[64];
                snprintf(what, sizeof what, "grad of parameter %d", k);
                rn_close_grad(params[k], c->gp + off, what);
                off += params[k]->numel;
            }
        }
        dl_ctx_rewind(ctx, m); h0 = c0 = len = NULL;
    }
    if (dl_ctx_status(ctx)) dl_ctx_clear_error(ctx);
    dl_ctx_rewind(ctx, m);
}
static void test_rnn_ref(void) {
    static char name[192];
    int k, isa;
    for (isa = 0; isa < 2; isa++) {
        dl_ctx *ctx = rn_ctx((size_t)8 << 20, isa ? DL_ISA_REFERENCE : DL_ISA_AUTO);
        size_t used0;
        if (!ctx) { T_BEGIN("rnn ref context"); T_EXPECT(0, "dl_ctx_init failed"); T_END(); return; }
        used0 = dl_ctx_used_bytes(ctx);
        for (k = 0; k < RR_N_CASES; k++) {
            snprintf(name, sizeof name, "rnn ref %s%s", rr_cases[k].name, isa ? " (scalar gemm)" : "");
            T_BEGIN(name);
            if (t_skip_case) continue;
            rn_ref_case(ctx, &rr_cases[k]);
            T_END();
        }
        T_BEGIN(isa ? "rnn ref arena rewound (scalar gemm)" : "rnn ref arena rewound");
        T_EXPECT(dl_ctx_used_bytes(ctx) == used0, "used %lu bytes, %lu before", (unsigned long)dl_ctx_used_bytes(ctx), (unsigned long)used0);
        T_END();
        dl_ctx_free(ctx);
    }
    T_BEGIN("rnn ref worst error");
    if (!t_skip_case) printf("  rnn references: worst absolute error %.3g (atol %g, rtol %g)\n", rn_worst_abs, RN_ATOL, RN_RTOL);
    T_EXPECT(rn_worst_abs < RN_ATOL * 10, "worst %g", rn_worst_abs);
    T_END();
}

/* ---------------------------------------------------------------- embedding */
static void test_embedding(void) {
    dl_ctx *ctx = rn_ctx((size_t)1 << 20, DL_ISA_AUTO); int k;
    for (k = 0; k < RE_N_CASES; k++) {
        static char name[96]; const rr_emb_case *e = &re_cases[k];
        dl_tensor *w, *idx, *y, *loss; dl_mark m = dl_ctx_mark(ctx);
        snprintf(name, sizeof name, "embedding ref V%d D%d padding_idx %d", e->V, e->D, e->padding_idx);
        T_BEGIN(name);
        w = rn_gen(ctx, dl_shape2(e->V, e->D), e->seed + 1u, 1.0f, 1);
        idx = dl_index_tensor(ctx, dl_shape_n(e->ndim, e->shape), e->idx);
        y = dl_embedding(ctx, w, idx, e->padding_idx);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        T_EXPECT(y->ndim == e->ndim + 1 && y->shape[e->ndim] == e->D, "shape");
        rn_close(y, e->y, "y");
        loss = rn_dot(ctx, y, e->seed + 2u);
        T_EXPECT(dl_backward(ctx, loss) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        rn_close_grad(w, e->gw, "grad weight");
        if (e->padding_idx >= 0) {
            int64_t j; int zero = 1;
            for (j = 0; j < e->D; j++) if (w->grad[e->padding_idx * e->D + j] != 0.0f) zero = 0;
            T_EXPECT(zero, "padding row got a gradient");
        }
        dl_ctx_clear_error(ctx); dl_ctx_rewind(ctx, m);
        T_END();
    }
    T_BEGIN("embedding: index out of range, negative index, bad padding_idx, dtypes, rank");
    {
        dl_tensor *w = dl_ones(ctx, dl_shape2(5, 3)), *y; int32_t bad[3] = {0, 5, 1}, neg[2] = {1, -1}, ok[2] = {4, 0};
        dl_tensor *ib = dl_index_tensor(ctx, dl_shape1(3), bad), *in = dl_index_tensor(ctx, dl_shape1(2), neg);
        dl_tensor *io = dl_index_tensor(ctx, dl_shape1(2), ok);
        y = dl_embedding(ctx, w, ib, -1);
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INDEX, "status %s", dl_status_name(dl_ctx_status(ctx)));
        T_EXPECT(rn_msg_has(ctx, "dl_embedding: index 5 at position 1 out of range [0, 5)"), "message: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        y = dl_embedding(ctx, w, in, -1);
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INDEX, "negative: %s", dl_status_name(dl_ctx_status(ctx)));
        dl_ctx_clear_error(ctx);
        y = dl_embedding(ctx, w, io, 5);
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INDEX && rn_msg_has(ctx, "padding_idx 5"), "padding_idx: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        y = dl_embedding(ctx, w, w, -1);
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_DTYPE, "float idx: %s", dl_status_name(dl_ctx_status(ctx)));
        dl_ctx_clear_error(ctx);
        y = dl_embedding(ctx, dl_ones(ctx, dl_shape1(5)), io, -1);
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "1-D weight: %s", dl_status_name(dl_ctx_status(ctx)));
        dl_ctx_clear_error(ctx);
        y = dl_embedding(ctx, NULL, io, -1);
        T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "NULL weight: %s", dl_status_name(dl_ctx_status(ctx)));
        dl_ctx_clear_error(ctx);
        y = dl_embedding(ctx, w, io, 0);
        T_EXPECT(!dl_is_poison(y) && y->shape[0] == 2 && y->shape[1] == 3 && dl_get(y, 0) == 1.0f, "valid call after errors");
        T_EXPECT(dl_embedding(NULL, w, io, 0) == NULL, "NULL ctx");
    }
    T_END();
    dl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- finite differences */
typedef struct rn_gc_user { int mode, reverse, has_c0, has_b; dl_tensor *len; } rn_gc_user;
static dl_tensor *rn_flat(dl_ctx *ctx, dl_tensor *t) { return dl_reshape(ctx, t, dl_shape1(-1)); }
/* inputs: x, h0, [c0], w_ih, w_hh, [b_ih, b_hh] -> [y | h | c] flattened */
static dl_tensor *rn_gc_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    const rn_gc_user *u = (const rn_gc_user *)user; int k = 2; dl_tensor *c0 = NULL, *b_ih = NULL, *b_hh = NULL, *w_ih, *w_hh, *parts[3];
    dl_rnn_out o;
    (void)n;
    if (u->has_c0) c0 = in[k++];
    w_ih = in[k++]; w_hh = in[k++];
    if (u->has_b) { b_ih = in[k++]; b_hh = in[k++]; }
    o = dl_rnn_layer(ctx, (dl_rnn_mode)u->mode, in[0], in[1], c0, w_ih, w_hh, b_ih, b_hh, u->len, u->reverse);
    parts[0] = rn_flat(ctx, o.y); parts[1] = rn_flat(ctx, o.h);
    if (o.c) parts[2] = rn_flat(ctx, o.c);
    return dl_concat(ctx, parts, o.c ? 3 : 2, 0);
}
static void rn_gradcheck(dl_ctx *ctx, int mode, int T, int B, int I, int H, const int32_t *lens, int reverse, int bias) {
    dl_tensor *in[7]; int n = 0, G = mode == DL_LSTM ? 4 : mode == DL_GRU ? 3 : 1; rn_gc_user u; dl_gradcheck_result res;
    dl_mark m = dl_ctx_mark(ctx); dl_status st;
    u.mode = mode; u.reverse = reverse; u.has_c0 = mode == DL_LSTM; u.has_b = bias;
    u.len = lens ? dl_index_tensor(ctx, dl_shape1(B), lens) : NULL;
    in[n++] = dl_uniform(ctx, dl_shape3(T, B, I), -1.0f, 1.0f);
    in[n++] = dl_uniform(ctx, dl_shape2(B, H), -0.5f, 0.5f);
    if (u.has_c0) in[n++] = dl_uniform(ctx, dl_shape2(B, H), -0.5f, 0.5f);
    in[n++] = dl_uniform(ctx, dl_shape2(G * H, I), -0.6f, 0.6f);
    in[n++] = dl_uniform(ctx, dl_shape2(G * H, H), -0.6f, 0.6f);
    if (bias) { in[n++] = dl_uniform(ctx, dl_shape1(G * H), -0.3f, 0.3f); in[n++] = dl_uniform(ctx, dl_shape1(G * H), -0.3f, 0.3f); }
    if (mode == DL_RNN_RELU) {   /* keep pre-activations away from the kink: positive biases */
        int64_t i; for (i = 0; bias && i < in[n - 1]->numel; i++) { dl_set(in[n - 1], i, 0.4f + 0.1f * (float)(i % 3)); dl_set(in[n - 2], i, 0.3f); }
    }
    { int k; for (k = 0; k < n; k++) dl_requires_grad(ctx, in[k], 1); }
    st = dl_gradcheck(ctx, rn_gc_fn, &u, in, n, NULL, &res);
    T_EXPECT(st == DL_STATUS_OK, "%s / %s", dl_gradcheck_message(ctx), dl_ctx_message(ctx));
    T_EXPECT(res.checked > 0, "nothing checked");
    if (dl_ctx_status(ctx)) dl_ctx_clear_error(ctx);
    dl_ctx_rewind(ctx, m);
}
static void test_rnn_gradcheck(void) {
    dl_ctx *ctx = rn_ctx((size_t)4 << 20, DL_ISA_AUTO);
    static const int32_t l3[3] = {3, 1, 2}, l2[2] = {12, 7};
    static const char *names[4] = {"tanh", "relu", "lstm", "gru"};
    static char name[96];
    int mode, rev;
    for (mode = 0; mode < 4; mode++) for (rev = 0; rev < 2; rev++) {
        snprintf(name, sizeof name, "rnn gradcheck %s%s, lengths 3,1,2", names[mode], rev ? " reverse" : "");
        T_BEGIN(name);
        rn_gradcheck(ctx, mode, 3, 3, 2, 3, l3, rev, 1);
        T_END();
    }
    for (mode = 0; mode < 4; mode++) {
        snprintf(name, sizeof name, "rnn gradcheck %s, no bias, no lengths", names[mode]);
        T_BEGIN(name);
        rn_gradcheck(ctx, mode, 4, 2, 3, 2, NULL, 0, mode == DL_RNN_RELU);
        T_END();
    }
    /* equal lengths short of T: the backward's GEMM reads each step's gate gradients in
       place (one t per step); H 9 runs the vector cell and its tail */
    for (mode = 0; mode < 4; mode++) for (rev = 0; rev < 2; rev++) {
        static const int32_t l33[2] = {3, 3};
        snprintf(name, sizeof name, "rnn gradcheck %s%s T 5 H 9, lengths 3,3", names[mode], rev ? " reverse" : "");
        T_BEGIN(name);
        rn_gradcheck(ctx, mode, 5, 2, 2, 9, l33, rev, 1);
        T_END();
    }
    T_BEGIN("rnn gradcheck BPTT over 12 steps: lstm reverse, lengths 12,7");
    rn_gradcheck(ctx, DL_LSTM, 12, 2, 2, 3, l2, 1, 1);
    T_END();
    T_BEGIN("rnn gradcheck BPTT over 12 steps: gru, lengths 12,7");
    rn_gradcheck(ctx, DL_GRU, 12, 2, 2, 3, l2, 0, 1);
    T_END();
    T_BEGIN("rnn gradcheck BPTT over 12 steps: tanh reverse, lengths 7,12");
    {   static const int32_t l2r[2] = {7, 12}; rn_gradcheck(ctx, DL_RNN_TANH, 12, 2, 2, 3, l2r, 1, 1); }
    T_END();
    dl_ctx_free(ctx);
}

/* ---------------------------------------------------------------- truncated BPTT */
static void test_rnn_tbptt(void) {
    static const int cuts[2][12] = {{0, 4, 10}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}};
    static const int ncut[2] = {2, 10};
    static const char *names[2][2] = {
        {"rnn truncated BPTT: LSTM 2 layers, chunks 4 + 6 with carried state == one run of 10",
         "rnn truncated BPTT: GRU 2 layers, chunks 4 + 6 with carried state == one run of 10"},
        {"rnn step by step: LSTM 2 layers, 10 calls of T = 1 with carried state == one run of 10",
         "rnn step by step: GRU 2 layers, 10 calls of T = 1 with carried state == one run of 10"}};
    int mode, sched;
    for (sched = 0; sched < 2; sched++) for (mode = DL_LSTM; mode <= DL_GRU; mode++) {
        const int *cut = cuts[sched];
        dl_ctx *ctx = rn_ctx((size_t)4 << 20, DL_ISA_AUTO); dl_rnn r; dl_tensor *x, *hs, *cs = NULL, *params[16];
        dl_rnn_out full; float yfull[10 * 3 * 5], hfull[2 * 3 * 5], cfull[2 * 3 * 5], buf[10 * 3 * 5]; dl_mark m;
        int np, k, chunk, t0; const int T = 10, B = 3, H = 5, LD = 2;
        T_BEGIN(names[sched][mode - DL_LSTM]);
        dl_rnn_init(ctx, &r, (dl_rnn_mode)mode, 4, H, 2, 0, 0.0f, 1);
        np = dl_rnn_params(&r, params);
        x = dl_uniform(ctx, dl_shape3(T, B, 4), -1.0f, 1.0f);
        hs = dl_zeros(ctx, dl_shape3(LD, B, H));     /* persistent state, no grad */
        if (mode == DL_LSTM) cs = dl_zeros(ctx, dl_shape3(LD, B, H));
        m = dl_ctx_mark(ctx);
        full = dl_rnn_forward(ctx, &r, x, NULL, NULL, NULL, 0);
        dl_copy_to(full.y, yfull); dl_copy_to(full.h, hfull); if (full.c) dl_copy_to(full.c, cfull);
        dl_ctx_rewind(ctx, m);
        for (chunk = 0; chunk < ncut[sched]; chunk++) {
            dl_tensor *xc = dl_slice(ctx, x, 0, cut[chunk], cut[chunk + 1], 1), *loss;
            dl_rnn_out o = dl_rnn_forward(ctx, &r, xc, hs, cs, NULL, 1);
            t0 = cut[chunk];
            dl_copy_to(o.y, buf);
            T_EXPECT(o.y->shape[0] == cut[chunk + 1] - t0, "chunk %d has %d steps", chunk, (int)o.y->shape[0]);
            t_allclose(buf, yfull + t0 * B * H, (long)o.y->numel, 1e-6, 1e-5, "chunk y");
            for (k = 0; k < np; k++) dl_zero_grad(params[k]);
            loss = dl_sum_all(ctx, dl_square(ctx, o.y));
            T_EXPECT(dl_backward(ctx, loss) == DL_STATUS_OK, "backward: %s", dl_ctx_message(ctx));
            T_EXPECT(params[0]->grad && params[0]->grad[0] != 0.0f, "weights got a gradient");
            T_EXPECT(!hs->requires_grad && hs->grad == NULL, "the carried state is a leaf without grad");
            /* carry: detached values into the persistent tensors */
            T_EXPECT(dl_tensor_copy(ctx, hs, o.h) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
            if (cs) T_EXPECT(dl_tensor_copy(ctx, cs, o.c) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
            dl_ctx_rewind(ctx, m);
        }
        dl_copy_to(hs, buf); t_allclose(buf, hfull, (long)hs->numel, 1e-6, 1e-5, "final h");
        if (cs) { dl_copy_to(cs, buf); t_allclose(buf, cfull, (long)cs->numel, 1e-6, 1e-5, "final c"); }
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        T_END();
        dl_ctx_free(ctx);
    }
}

/* the carried state may be overwritten before backward (the forward keeps its own copy) */
static void test_rnn_state_overwrite(void) {
    int mode;
    for (mode = 0; mode < 4; mode++) {
        static char name[96]; dl_ctx *ctx = rn_ctx((size_t)1 << 20, DL_ISA_AUTO); dl_rnn r; dl_tensor *x, *hs, *cs = NULL, *params[4];
        float g1[4][4 * 5 * 5]; int pass, k, np; dl_mark m;
        snprintf(name, sizeof name, "rnn %s: h0/c0 overwritten between forward and backward, same gradients",
                 mode == 0 ? "tanh" : mode == 1 ? "relu" : mode == 2 ? "lstm" : "gru");
        T_BEGIN(name);
        dl_rnn_init(ctx, &r, (dl_rnn_mode)mode, 3, 5, 1, 0, 0.0f, 1);
        np = dl_rnn_params(&r, params);
        x = dl_uniform(ctx, dl_shape3(6, 2, 3), -1.0f, 1.0f);
        hs = dl_uniform(ctx, dl_shape3(1, 2, 5), -0.5f, 0.5f);
        if (mode == DL_LSTM) cs = dl_uniform(ctx, dl_shape3(1, 2, 5), -0.5f, 0.5f);
        m = dl_ctx_mark(ctx);
        for (pass = 0; pass < 2; pass++) {
            dl_rnn_out o = dl_rnn_forward(ctx, &r, x, hs, cs, NULL, 1);
            dl_tensor *loss = dl_sum_all(ctx, dl_square(ctx, o.y));
            for (k = 0; k < np; k++) dl_zero_grad(params[k]);
            if (pass == 1) { dl_fill(hs, 0.25f); if (cs) dl_fill(cs, -0.25f); }   /* carry before backward */
            T_EXPECT(dl_backward(ctx, loss) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
            for (k = 0; k < np; k++) {
                if (pass == 0) memcpy(g1[k], params[k]->grad, (size_t)params[k]->numel * sizeof(float));
                else t_allclose(params[k]->grad, g1[k], (long)params[k]->numel, 0.0, 0.0, "gradient after overwriting the state");
            }
            dl_ctx_rewind(ctx, m);
        }
        T_END();
        dl_ctx_free(ctx);
    }
}

/* ---------------------------------------------------------------- measure mode */
/* a character-level LSTM language model: embedding 20x8, LSTM 8->16, linear 16->20,
   T = 200, B = 4, cross-entropy on the next token, Adam; state carried across steps */
static dl_status rn_lm_run(void *mem, size_t bytes, int measure, int steps, size_t *peak, float *last_loss) {
    enum { V = 20, E = 8, H = 16, T = 200, B = 4 };
    dl_ctx_desc d; dl_ctx *ctx; dl_rnn r; dl_linear head; dl_tensor *emb, *tok, *tgt, *hs, *cs, *params[8];
    dl_optim_desc od; dl_optim *opt; dl_mark mk; int s, np; int64_t i; dl_status st;
    memset(&d, 0, sizeof d); d.memory = mem; d.memory_size = bytes; d.measure = measure; d.seed = 5;
    ctx = dl_ctx_init(&d);
    if (!ctx) return DL_STATUS_OOM;
    emb = dl_normal(ctx, dl_shape2(V, E), 0.0f, 1.0f); dl_requires_grad(ctx, emb, 1);
    dl_rnn_init(ctx, &r, DL_LSTM, E, H, 1, 0, 0.0f, 1);
    dl_linear_init(ctx, &head, H, V, 1);
    params[0] = emb; np = 1 + dl_rnn_params(&r, params + 1);
    params[np++] = head.weight; params[np++] = head.bias;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 0.01f;
    opt = dl_optim_new(ctx, &od, np);
    if (opt) dl_optim_add(opt, params, np, NULL);
    tok = dl_index_zeros(ctx, dl_shape2(T, B)); tgt = dl_index_zeros(ctx, dl_shape1(T * B));
    for (i = 0; i < T * B; i++) { int64_t t = i / B, b = i % B; dl_set_index(tok, i, (int32_t)((t * 3 + b) % V)); dl_set_index(tgt, i, (int32_t)(((t + 1) * 3 + b) % V)); }
    hs = dl_zeros(ctx, dl_shape3(1, B, H)); cs = dl_zeros(ctx, dl_shape3(1, B, H));
    mk = dl_ctx_mark(ctx);
    for (s = 0; s < steps && !dl_ctx_status(ctx); s++) {
        dl_tensor *e, *logits, *loss; dl_rnn_out o;
        dl_optim_zero_grad(opt);
        e = dl_embedding(ctx, emb, tok, -1);
        o = dl_rnn_forward(ctx, &r, e, hs, cs, NULL, 1);
        logits = dl_linear_forward(ctx, &head, dl_reshape(ctx, o.y, dl_shape2(T * B, H)));
        loss = dl_cross_entropy(ctx, logits, tgt, NULL);
        dl_backward(ctx, loss);
        dl_optim_step(opt);
        if (last_loss) *last_loss = dl_item(loss);
        dl_tensor_copy(ctx, hs, o.h); dl_tensor_copy(ctx, cs, o.c);
        dl_ctx_rewind(ctx, mk);
    }
    if (peak) *peak = dl_ctx_peak_bytes(ctx);
    st = dl_ctx_status(ctx);
    if (st == DL_STATUS_OOM) printf("  (expected) %s\n", dl_ctx_message(ctx));
    else if (st) printf("  %s\n", dl_ctx_message(ctx));
    dl_ctx_free(ctx);
    return st;
}
static void test_rnn_measure(void) {
    size_t need = 0, need2 = 0, peak_real = 0; float loss1 = 0, loss2 = 0; dl_status st; aligned_block blk;
    T_BEGIN("rnn measure: T = 200 LSTM LM training step (embedding, LSTM, linear, CE, Adam) runs in exactly the measured bytes");
    if (t_skip_case) return;
    st = rn_lm_run(NULL, 0, 1, 1, &need, NULL);
    T_EXPECT(st == DL_STATUS_OK, "measure run: %s", dl_status_name(st));
    st = rn_lm_run(NULL, 0, 1, 3, &need2, NULL);
    T_EXPECT(need == need2, "peak grows with steps: %zu vs %zu", need, need2);
    printf("  LSTM LM, T 200, batch 4, one Adam training step: arena needs %zu bytes (%.2f MiB)\n", need, (double)need / 1048576.0);
    if (aligned_alloc64(&blk, need)) {
        st = rn_lm_run(blk.p, need, 0, 3, &peak_real, &loss1);
        T_EXPECT(st == DL_STATUS_OK, "run with exactly %zu bytes: %s", need, dl_status_name(st));
        T_EXPECT(peak_real == need, "real peak %zu != measured %zu", peak_real, need);
        st = rn_lm_run(blk.p, need - 1, 0, 3, NULL, &loss2);
        T_EXPECT(st == DL_STATUS_OOM, "one byte less must fail with OOM, got %s", dl_status_name(st));
        T_EXPECT(loss1 > 0.1f && loss1 < 4.0f, "loss %g", (double)loss1);
        free(blk.raw);
    } else T_EXPECT(0, "aligned allocation failed");
    T_END();
}

/* ---------------------------------------------------------------- error paths */
#define RN_EXPECT_ERR(o, status, frag) do { \
        T_EXPECT(dl_is_poison((o).y) && dl_is_poison((o).h), "outputs must be poison"); \
        T_EXPECT(dl_ctx_status(ctx) == (status), "status %s, want %s (%s)", dl_status_name(dl_ctx_status(ctx)), dl_status_name(status), dl_ctx_message(ctx)); \
        T_EXPECT(rn_msg_has(ctx, frag), "message: %s", dl_ctx_message(ctx)); \
        dl_ctx_clear_error(ctx); } while (0)
static void test_rnn_errors(void) {
    dl_ctx *ctx = rn_ctx((size_t)1 << 20, DL_ISA_AUTO); dl_rnn_out o; dl_rnn r;
    dl_tensor *x = dl_zeros(ctx, dl_shape3(4, 2, 3)), *wi = dl_zeros(ctx, dl_shape2(20, 3)), *wh = dl_zeros(ctx, dl_shape2(20, 5));
    dl_tensor *b = dl_zeros(ctx, dl_shape1(20)), *h0 = dl_zeros(ctx, dl_shape2(2, 5)), *x2 = dl_zeros(ctx, dl_shape2(4, 3));
    int32_t l_ok[2] = {4, 1}, l_zero[2] = {0, 2}, l_big[2] = {5, 1};
    dl_tensor *len_ok = dl_index_tensor(ctx, dl_shape1(2), l_ok), *len0 = dl_index_tensor(ctx, dl_shape1(2), l_zero);
    dl_tensor *len5 = dl_index_tensor(ctx, dl_shape1(2), l_big), *len3 = dl_index_zeros(ctx, dl_shape1(3));
    T_BEGIN("rnn errors: dl_rnn_layer shapes, NULLs, mode, c0, lengths");
    o = dl_rnn_layer(ctx, DL_LSTM, NULL, NULL, NULL, wi, wh, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "argument 2 is NULL");
    T_EXPECT(o.c != NULL && dl_is_poison(o.c), "LSTM c poison");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, NULL, wh, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "argument 5 is NULL");
    o = dl_rnn_layer(ctx, DL_LSTM, x2, NULL, NULL, wi, wh, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "x[4,3] must be [T, B, input_size]");
    o = dl_rnn_layer(ctx, DL_GRU, x, NULL, NULL, wi, wh, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "w_hh[20,5] must be [G*H, H] with G = 3");
    T_EXPECT(o.c == NULL, "GRU has no c");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, dl_zeros(ctx, dl_shape2(20, 4)), wh, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "w_ih[20,4] must be [G*H, input_size] = [20, 3]");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, dl_zeros(ctx, dl_shape1(19)), b, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "b_ih[19] must be [G*H] = [20]");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, b, dl_zeros(ctx, dl_shape2(20, 1)), NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "b_hh[20,1]");
    o = dl_rnn_layer(ctx, DL_LSTM, x, dl_zeros(ctx, dl_shape2(3, 5)), NULL, wi, wh, b, b, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "h0[3,5] must be [B, H] = [2, 5]");
    o = dl_rnn_layer(ctx, DL_LSTM, x, h0, dl_zeros(ctx, dl_shape2(2, 4)), wi, wh, b, b, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "c0[2,4]");
    o = dl_rnn_layer(ctx, DL_RNN_TANH, x, NULL, h0, dl_zeros(ctx, dl_shape2(5, 3)), dl_zeros(ctx, dl_shape2(5, 5)), NULL, NULL, NULL, 0);
    RN_EXPECT_ERR(o, DL_STATUS_INVALID, "only DL_LSTM has a cell state");
    o = dl_rnn_layer(ctx, (dl_rnn_mode)7, x, NULL, NULL, wi, wh, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "mode 7");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, len0, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "lengths[0] = 0 must be in [1, T = 4]");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, len5, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "lengths[0] = 5");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, len3, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "lengths[3] must be int32 [B] with B = 2");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, b, 0); RN_EXPECT_ERR(o, DL_STATUS_DTYPE, "argument 9");
    o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, len_ok, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && !dl_is_poison(o.y) && !dl_is_poison(o.c), "valid call after errors: %s", dl_ctx_message(ctx));
    o = dl_rnn_layer(NULL, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, NULL, 0);
    T_EXPECT(o.y == NULL && o.h == NULL && o.c == NULL, "NULL ctx gives NULL outputs");
    T_END();

    T_BEGIN("rnn errors: dl_rnn_init, dl_rnn_forward, dl_rnn_params");
    dl_rnn_init(ctx, &r, DL_LSTM, 3, 0, 1, 0, 0.0f, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_SHAPE && rn_msg_has(ctx, "dl_rnn_init: input_size 3 and hidden 0 must be positive"), "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_rnn_params(&r, NULL) == 0, "failed init has no params");
    dl_ctx_clear_error(ctx);
    dl_rnn_init(ctx, &r, DL_LSTM, 3, 5, 0, 0, 0.0f, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID && rn_msg_has(ctx, "layers = 0"), "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_rnn_init(ctx, &r, DL_LSTM, 3, 5, 1, 0, 1.5f, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID && rn_msg_has(ctx, "dropout = 1.5"), "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_rnn_init(ctx, NULL, DL_LSTM, 3, 5, 1, 0, 0.0f, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID, "NULL r");
    dl_ctx_clear_error(ctx);
    o = dl_rnn_forward(ctx, NULL, x, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "r is NULL");
    memset(&r, 0, sizeof r);
    o = dl_rnn_forward(ctx, &r, x, NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "not initialized");
    dl_rnn_init(ctx, &r, DL_GRU, 3, 5, 2, 1, 0.0f, 1);
    T_EXPECT(dl_rnn_params(&r, NULL) == 16, "params %d", dl_rnn_params(&r, NULL));
    T_EXPECT(r.w_ih[2]->shape[1] == 10 && r.w_ih[0]->shape[0] == 15, "layer 2 input is 2*hidden");
    o = dl_rnn_forward(ctx, &r, dl_zeros(ctx, dl_shape3(4, 2, 4)), NULL, NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "input_size = 3");
    o = dl_rnn_forward(ctx, &r, x, dl_zeros(ctx, dl_shape3(2, 2, 5)), NULL, NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_SHAPE, "h0[2,2,5] must be [layers*dirs, B, hidden] = [4, 2, 5]");
    o = dl_rnn_forward(ctx, &r, x, NULL, dl_zeros(ctx, dl_shape3(4, 2, 5)), NULL, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "only DL_LSTM");
    o = dl_rnn_forward(ctx, &r, x, NULL, NULL, len5, 0); RN_EXPECT_ERR(o, DL_STATUS_INVALID, "lengths[0] = 5");
    o = dl_rnn_forward(ctx, &r, x, NULL, NULL, len_ok, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && o.y->shape[2] == 10 && o.h->shape[0] == 4 && o.c == NULL, "valid: %s", dl_ctx_message(ctx));
    T_END();

    T_BEGIN("rnn errors: a poisoned input passes through, nothing crashes");
    {   dl_tensor *bad = dl_zeros(ctx, dl_shape2(-1, 2));
        T_EXPECT(dl_is_poison(bad), "poison");
        o = dl_rnn_layer(ctx, DL_LSTM, x, NULL, NULL, wi, wh, NULL, NULL, NULL, 0);
        T_EXPECT(dl_is_poison(o.y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "first error kept: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        o = dl_rnn_forward(ctx, &r, bad, NULL, NULL, NULL, 0);
        T_EXPECT(dl_is_poison(o.y) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "poison x: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx); }
    T_END();
    dl_ctx_free(ctx);
}

/* dropout between layers: active only when training with dropout > 0 */
static void test_rnn_dropout(void) {
    dl_ctx *ctx = rn_ctx((size_t)1 << 20, DL_ISA_AUTO); dl_rnn r; dl_rnn_out a, b, c2; dl_tensor *x; float ya[6 * 2 * 4], yb[6 * 2 * 4], yc[6 * 2 * 4];
    int i, same_ab = 1, same_ac = 1;
    T_BEGIN("rnn dropout between layers: eval and dropout 0 deterministic, train differs");
    dl_rnn_init(ctx, &r, DL_LSTM, 3, 4, 2, 0, 0.5f, 1);
    x = dl_uniform(ctx, dl_shape3(6, 2, 3), -1.0f, 1.0f);
    a = dl_rnn_forward(ctx, &r, x, NULL, NULL, NULL, 0); dl_copy_to(a.y, ya);
    b = dl_rnn_forward(ctx, &r, x, NULL, NULL, NULL, 0); dl_copy_to(b.y, yb);
    c2 = dl_rnn_forward(ctx, &r, x, NULL, NULL, NULL, 1); dl_copy_to(c2.y, yc);
    for (i = 0; i < 48; i++) { if (ya[i] != yb[i]) same_ab = 0; if (ya[i] != yc[i]) same_ac = 0; }
    T_EXPECT(same_ab, "eval is deterministic");
    T_EXPECT(!same_ac, "train applies dropout between the layers");
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

/* dl_rnn_init: torch's shapes and U(-1/sqrt(H), 1/sqrt(H)) for every parameter */
static void test_rnn_init(void) {
    dl_ctx *ctx = rn_ctx((size_t)1 << 20, DL_ISA_AUTO); dl_rnn r; dl_tensor *p[32]; int n, k; int64_t i;
    double sum_abs = 0; int64_t cnt = 0; float lo = 1, hi = -1; int shapes_ok = 1, grad_ok = 1;
    T_BEGIN("rnn init: LSTM 2 layers bidir, torch shapes, U(-1/sqrt(H), 1/sqrt(H)), requires_grad");
    dl_rnn_init(ctx, &r, DL_LSTM, 7, 16, 2, 1, 0.25f, 1);
    n = dl_rnn_params(&r, p);
    T_EXPECT(n == 16 && r.dirs == 2 && r.layers == 2 && r.dropout == 0.25f, "n %d", n);
    for (k = 0; k < n; k++) {
        int kind = k % 4, layer = k / 8; int64_t in = layer == 0 ? 7 : 32;
        if (kind == 0) shapes_ok &= p[k]->ndim == 2 && p[k]->shape[0] == 64 && p[k]->shape[1] == in;
        if (kind == 1) shapes_ok &= p[k]->ndim == 2 && p[k]->shape[0] == 64 && p[k]->shape[1] == 16;
        if (kind >= 2) shapes_ok &= p[k]->ndim == 1 && p[k]->shape[0] == 64;
        grad_ok &= p[k]->requires_grad;
        for (i = 0; i < p[k]->numel; i++) { float v = dl_get(p[k], i); if (v < lo) lo = v; if (v > hi) hi = v; sum_abs += fabs((double)v); cnt++; }
    }
    T_EXPECT(shapes_ok, "shapes as torch.nn.LSTM(7, 16, 2, bidirectional=True)");
    T_EXPECT(grad_ok, "every parameter requires grad");
    T_EXPECT(lo >= -0.25f && hi <= 0.25f && lo < -0.24f && hi > 0.24f, "range [%g, %g]", (double)lo, (double)hi);
    T_EXPECT(fabs(sum_abs / (double)cnt - 0.125) < 0.01, "mean |v| %g, want 0.125", sum_abs / (double)cnt);
    T_EXPECT(p[0] == r.w_ih[0] && p[3] == r.b_hh[0] && p[4] == r.w_ih[1] && p[8] == r.w_ih[2], "named_parameters order");
    dl_rnn_init(ctx, &r, DL_GRU, 3, 4, 1, 0, 0.0f, 0);
    T_EXPECT(dl_rnn_params(&r, NULL) == 2 && r.b_ih[0] == NULL && r.w_hh[0]->shape[0] == 12, "GRU without bias");
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

/* finite differences through the embedding (repeated indices, an unused row) into a
   nonlinear loss. No padding index here: its row is read but deliberately gets no gradient
   (torch's rule, checked against torch in test_embedding), so it cannot match differences. */
typedef struct emb_gc { dl_tensor *idx; int pad; } emb_gc;
static dl_tensor *emb_gc_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    const emb_gc *u = (const emb_gc *)user;
    (void)n;
    return dl_sum_all(ctx, dl_tanh(ctx, dl_mul(ctx, dl_embedding(ctx, in[0], u->idx, u->pad), dl_embedding(ctx, in[0], u->idx, u->pad))));
}
static void test_embedding_gradcheck(void) {
    static const int32_t ids[6] = {2, 0, 2, 4, 1, 2};
    dl_ctx *ctx = rn_ctx((size_t)1 << 22, DL_ISA_AUTO);
    dl_tensor *w; emb_gc u; dl_gradcheck_result res; dl_status st;
    T_BEGIN("embedding gradcheck: repeated indices and an unused row (weight [5,3], idx [2,3])");
    w = dl_uniform(ctx, dl_shape2(5, 3), -1, 1); dl_requires_grad(ctx, w, 1);
    u.idx = dl_index_tensor(ctx, dl_shape2(2, 3), ids); u.pad = -1;
    st = dl_gradcheck(ctx, emb_gc_fn, &u, &w, 1, NULL, &res);
    T_EXPECT(st == DL_STATUS_OK && res.checked == 15, "%s / %s", dl_gradcheck_message(ctx), dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

static void suite_rnn(void) {
    test_rnn_init();
    test_rnn_ref();
    test_embedding();
    test_embedding_gradcheck();
    test_rnn_gradcheck();
    test_rnn_tbptt();
    test_rnn_state_overwrite();
    test_rnn_measure();
    test_rnn_errors();
    test_rnn_dropout();
}
