/* tests/test_attention.c - attention, positional encodings and sampling.
     "attn ref <case>"    tests/ref_attn.h (written by tests/gen_ref_attn.py, PyTorch 1.13):
                          dl_mha_forward against torch.nn.MultiheadAttention, dl_attention and
                          dl_additive_attention against the formulas written in torch: output,
                          weights, and the gradients of sum(y dy) + sum(w dw) with respect to
                          every input and parameter; dl_sinusoidal_positions against numpy.
     "attn gradcheck ..." dl_gradcheck on small cases of each.
     "attn fully masked"  a row with every key masked: zero weights, zero output, no NaN.
     "attn errors", "attn init", "attn measure", "sample ...", "teacher forcing". */
#include <stdlib.h>
#include <stdint.h>
#include "ref_attn.h"
/* tn_ok and tn_close come from tests/test_norm.c (one translation unit: tests/main.c) */

static dl_ctx *ta_ctx(size_t bytes) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = 99; return dl_ctx_init(&d);
}
static const ra_tensor *ta_find(const ra_case *c, const char *name) {
    int i;
    for (i = 0; i < c->nt; i++) if (!strcmp(c->t[i].name, name)) return &c->t[i];
    return NULL;
}
static int64_t ta_numel(const ra_tensor *r) { int64_t n = 1; int i; for (i = 0; i < r->ndim; i++) n *= r->shape[i]; return n; }
/* a float tensor from the case (NULL when absent), optionally a parameter */
static dl_tensor *ta_get(dl_ctx *ctx, const ra_case *c, const char *name, int grad) {
    const ra_tensor *r = ta_find(c, name); dl_tensor *t;
    if (!r) return NULL;
    t = dl_from_data(ctx, dl_shape_n(r->ndim, r->shape), r->data);
    if (grad) dl_requires_grad(ctx, t, 1);
    return t;
}
/* an int32 mask from the 0/1 floats */
static dl_tensor *ta_get_mask(dl_ctx *ctx, const ra_case *c, const char *name) {
    const ra_tensor *r = ta_find(c, name); dl_tensor *t; int64_t i;
    if (!r) return NULL;
    t = dl_index_zeros(ctx, dl_shape_n(r->ndim, r->shape));
    for (i = 0; i < ta_numel(r); i++) dl_set_index(t, i, r->data[i] != 0.0f);
    return t;
}
static void ta_close_ref(const dl_tensor *t, const ra_case *c, const char *name, int grad) {
    const ra_tensor *r = ta_find(c, name);
    T_EXPECT(r != NULL, "reference %s missing", name);
    if (!r || !t) return;
    if (grad) {
        T_EXPECT(t->grad != NULL && t->numel == ta_numel(r), "%s: no gradient", name);
        if (t->grad && t->numel == ta_numel(r)) t_allclose(t->grad, r->data, (long)ta_numel(r), 2e-5, 1e-4, name);
    } else tn_close(t, r->data, ta_numel(r), 2e-5, 1e-4, name);
}
/* sum(y * dy) + sum(w * dw) */
static dl_tensor *ta_loss(dl_ctx *ctx, const ra_case *c, dl_tensor *y, dl_tensor *w) {
    return dl_add(ctx, dl_sum_all(ctx, dl_mul(ctx, y, ta_get(ctx, c, "dy", 0))),
                  dl_sum_all(ctx, dl_mul(ctx, w, ta_get(ctx, c, "dw", 0))));
}

static void ta_run_mha(dl_ctx *ctx, const ra_case *c) {
    int heads = c->iarg[0], bias = c->iarg[1], causal = c->iarg[2], amk = c->iarg[3], kpm = c->iarg[4], self = c->iarg[5];
    dl_mha m; dl_tensor *q, *k, *v, *x = NULL, *am = NULL, *pm = NULL, *y, *w = NULL;
    const ra_tensor *iw = ta_find(c, "in_w");
    m.embed = iw->shape[1]; m.heads = heads;
    m.in_proj_weight = ta_get(ctx, c, "in_w", 1); m.out_proj_weight = ta_get(ctx, c, "out_w", 1);
    m.in_proj_bias = bias ? ta_get(ctx, c, "in_b", 1) : NULL; m.out_proj_bias = bias ? ta_get(ctx, c, "out_b", 1) : NULL;
    if (self) { x = ta_get(ctx, c, "x", 1); q = k = v = x; }
    else { q = ta_get(ctx, c, "q", 1); k = ta_get(ctx, c, "k", 1); v = ta_get(ctx, c, "v", 1); }
    if (amk == 1) am = ta_get(ctx, c, "am", 0);
    if (amk == 2) am = ta_get_mask(ctx, c, "am");
    if (kpm) pm = ta_get_mask(ctx, c, "kpm");
    y = dl_mha_forward(ctx, &m, q, k, v, pm, am, causal, &w);
    if (!tn_ok(ctx, "forward")) return;
    ta_close_ref(y, c, "y", 0); ta_close_ref(w, c, "w", 0);
    dl_backward(ctx, ta_loss(ctx, c, y, w));
    if (!tn_ok(ctx, "backward")) return;
    ta_close_ref(m.in_proj_weight, c, "g_in_w", 1); ta_close_ref(m.out_proj_weight, c, "g_out_w", 1);
    if (bias) { ta_close_ref(m.in_proj_bias, c, "g_in_b", 1); ta_close_ref(m.out_proj_bias, c, "g_out_b", 1); }
    if (self) ta_close_ref(x, c, "g_x", 1);
    else { ta_close_ref(q, c, "g_q", 1); ta_close_ref(k, c, "g_k", 1); ta_close_ref(v, c, "g_v", 1); }
    /* weights not asked for: the same output */
    y = dl_mha_forward(ctx, &m, q, k, v, pm, am, causal, NULL);
    if (tn_ok(ctx, "forward without weights")) ta_close_ref(y, c, "y", 0);
}
static void ta_run_sdpa(dl_ctx *ctx, const ra_case *c) {
    int causal = c->iarg[0], mk = c->iarg[1];
    dl_tensor *q = ta_get(ctx, c, "q", 1), *k = ta_get(ctx, c, "k", 1), *v = ta_get(ctx, c, "v", 1), *mask = NULL, *y, *w = NULL;
    if (mk == 1) mask = ta_get(ctx, c, "mask", 1);
    if (mk == 2) mask = ta_get_mask(ctx, c, "mask");
    y = dl_attention(ctx, q, k, v, mask, causal, &w);
    if (!tn_ok(ctx, "forward")) return;
    ta_close_ref(y, c, "y", 0); ta_close_ref(w, c, "w", 0);
    T_EXPECT(y->ndim == q->ndim && w->ndim == q->ndim, "output ranks %d, %d (want %d)", y->ndim, w->ndim, q->ndim);
    dl_backward(ctx, ta_loss(ctx, c, y, w));
    if (!tn_ok(ctx, "backward")) return;
    ta_close_ref(q, c, "g_q", 1); ta_close_ref(k, c, "g_k", 1); ta_close_ref(v, c, "g_v", 1);
    if (mk == 1) ta_close_ref(mask, c, "g_mask", 1);
}
static void ta_run_additive(dl_ctx *ctx, const ra_case *c) {
    dl_additive_attn a; dl_tensor *q = ta_get(ctx, c, "query", 1), *ks = ta_get(ctx, c, "keys", 1), *vs = ta_get(ctx, c, "values", 1);
    dl_tensor *mask = c->iarg[0] ? ta_get_mask(ctx, c, "mask") : NULL, *y, *w = NULL;
    a.w_q = ta_get(ctx, c, "w_q", 1); a.w_k = ta_get(ctx, c, "w_k", 1); a.v = ta_get(ctx, c, "v", 1);
    a.dq = a.w_q->shape[1]; a.dk = a.w_k->shape[1]; a.dim = a.v->shape[0];
    y = dl_additive_attention(ctx, &a, q, ks, vs, mask, &w);
    if (!tn_ok(ctx, "forward")) return;
    ta_close_ref(y, c, "y", 0); ta_close_ref(w, c, "w", 0);
    dl_backward(ctx, ta_loss(ctx, c, y, w));
    if (!tn_ok(ctx, "backward")) return;
    ta_close_ref(q, c, "g_query", 1); ta_close_ref(ks, c, "g_keys", 1); ta_close_ref(vs, c, "g_values", 1);
    ta_close_ref(a.w_q, c, "g_w_q", 1); ta_close_ref(a.w_k, c, "g_w_k", 1); ta_close_ref(a.v, c, "g_v", 1);
}
static void ta_ref_cases(void) {
    char name[160]; int i;
    dl_ctx *ctx = ta_ctx(16u << 20);
    for (i = 0; i < RA_N_CASES; i++) {
        const ra_case *c = &ra_cases[i]; dl_mark mk = dl_ctx_mark(ctx);
        snprintf(name, sizeof name, "attn ref %s", c->name);
        T_BEGIN(name);
        switch (c->kind) {
        case RA_MHA: ta_run_mha(ctx, c); break;
        case RA_SDPA: ta_run_sdpa(ctx, c); break;
        case RA_ADD: ta_run_additive(ctx, c); break;
        default: {
            dl_tensor *pe = dl_sinusoidal_positions(ctx, c->iarg[0], c->iarg[1]);
            if (tn_ok(ctx, "sinusoidal")) {
                T_EXPECT(pe->ndim == 2 && pe->shape[0] == c->iarg[0] && pe->shape[1] == c->iarg[1], "shape");
                tn_close(pe, ta_find(c, "pe")->data, ta_numel(ta_find(c, "pe")), 1e-6, 1e-5, "pe");
                T_EXPECT(!pe->requires_grad, "positions need no gradient");
            }
        } }
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, mk);
        T_END();
    }
    dl_ctx_free(ctx);
}

/* ---- finite differences --------------------------------------------------------------- */
typedef struct ta_gc { dl_tensor *mask; int causal, which; dl_mha *m; dl_additive_attn *a; dl_tensor *kpm; } ta_gc;
static dl_tensor *ta_gc_fn(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    ta_gc *u = (ta_gc *)user; dl_tensor *w = NULL, *y;
    (void)n;
    if (u->which == 0) y = dl_attention(ctx, x[0], x[1], x[2], u->mask, u->causal, &w);
    else if (u->which == 1) {
        u->m->in_proj_weight = x[3]; u->m->in_proj_bias = x[4]; u->m->out_proj_weight = x[5]; u->m->out_proj_bias = x[6];
        y = dl_mha_forward(ctx, u->m, x[0], x[1], x[2], u->kpm, u->mask, u->causal, &w);
    } else {
        u->a->w_q = x[3]; u->a->w_k = x[4]; u->a->v = x[5];
        y = dl_additive_attention(ctx, u->a, x[0], x[1], x[2], u->mask, &w);
    }
    /* the weights join the checked output (summed with weights of their own) */
    return dl_add(ctx, dl_sum_all(ctx, dl_mul(ctx, y, y)), dl_sum_all(ctx, dl_mul(ctx, w, dl_reshape(ctx, dl_arange(ctx, 0.5f, 0.5f + (float)w->numel * 0.25f - 0.125f, 0.25f), dl_shape_of(w)))));
}
static void ta_gradcheck(void) {
    dl_ctx *ctx = ta_ctx(8u << 20); dl_gradcheck_result r; dl_status st; ta_gc u; dl_tensor *in[7]; int i;
    static const int32_t im[12] = {0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 1, 0};
    memset(&u, 0, sizeof u);
    T_BEGIN("attn gradcheck sdpa int mask + causal");
    in[0] = dl_uniform(ctx, dl_shape3(2, 3, 4), -1, 1); in[1] = dl_uniform(ctx, dl_shape3(2, 4, 4), -1, 1);
    in[2] = dl_uniform(ctx, dl_shape3(2, 4, 2), -1, 1);
    for (i = 0; i < 3; i++) dl_requires_grad(ctx, in[i], 1);
    u.mask = dl_index_tensor(ctx, dl_shape3(1, 3, 4), im); u.causal = 1; u.which = 0;
    st = dl_gradcheck(ctx, ta_gc_fn, &u, in, 3, NULL, &r);
    T_EXPECT(st == DL_STATUS_OK && r.checked == 24 + 32 + 16, "%s (checked %ld)", dl_gradcheck_message(ctx), (long)r.checked);
    T_END();

    T_BEGIN("attn gradcheck mha 2 heads kpm float mask");
    {   dl_mha m; dl_tensor *kpm; static const int32_t kp[8] = {0, 0, 0, 1, 0, 1, 0, 0};
        dl_mha_init(ctx, &m, 4, 2, 1);
        in[0] = dl_uniform(ctx, dl_shape3(2, 3, 4), -1, 1); in[1] = dl_uniform(ctx, dl_shape3(2, 4, 4), -1, 1);
        in[2] = dl_uniform(ctx, dl_shape3(2, 4, 4), -1, 1);
        for (i = 0; i < 3; i++) dl_requires_grad(ctx, in[i], 1);
        in[3] = m.in_proj_weight; in[4] = dl_uniform(ctx, dl_shape1(12), -0.5f, 0.5f); in[5] = m.out_proj_weight;
        in[6] = dl_uniform(ctx, dl_shape1(4), -0.5f, 0.5f);
        dl_requires_grad(ctx, in[4], 1); dl_requires_grad(ctx, in[6], 1);
        kpm = dl_index_tensor(ctx, dl_shape2(2, 4), kp);
        u.m = &m; u.kpm = kpm; u.mask = dl_uniform(ctx, dl_shape2(3, 4), -1, 1); u.causal = 0; u.which = 1;
        st = dl_gradcheck(ctx, ta_gc_fn, &u, in, 7, NULL, &r);
        T_EXPECT(st == DL_STATUS_OK && r.checked == 24 + 32 + 32 + 48 + 12 + 16 + 4, "%s (checked %ld)", dl_gradcheck_message(ctx), (long)r.checked);
        T_EXPECT(tn_ok(ctx, "mha gradcheck"), "status");
    }
    T_END();

    T_BEGIN("attn gradcheck additive masked");
    {   dl_additive_attn a; static const int32_t mk[8] = {0, 1, 0, 0, 0, 0, 1, 1};
        dl_additive_attn_init(ctx, &a, 3, 2, 5);
        in[0] = dl_uniform(ctx, dl_shape2(2, 3), -1, 1); in[1] = dl_uniform(ctx, dl_shape3(2, 4, 2), -1, 1);
        in[2] = dl_uniform(ctx, dl_shape3(2, 4, 3), -1, 1);
        for (i = 0; i < 3; i++) dl_requires_grad(ctx, in[i], 1);
        in[3] = a.w_q; in[4] = a.w_k; in[5] = a.v;
        u.a = &a; u.mask = dl_index_tensor(ctx, dl_shape2(2, 4), mk); u.which = 2;
        st = dl_gradcheck(ctx, ta_gc_fn, &u, in, 6, NULL, &r);
        T_EXPECT(st == DL_STATUS_OK && r.checked == 6 + 16 + 24 + 15 + 10 + 5, "%s (checked %ld)", dl_gradcheck_message(ctx), (long)r.checked);
        T_EXPECT(tn_ok(ctx, "additive gradcheck"), "status");
    }
    T_END();
    dl_ctx_free(ctx);
}

/* a row with every key masked: zero weights and output, no NaN, no gradient through it */
static void ta_fully_masked(void) {
    dl_ctx *ctx = ta_ctx(4u << 20); dl_tensor *q, *k, *v, *mask, *w = NULL, *y, *fm; int64_t i; int bad = 0;
    static const int32_t mk[2 * 3] = {1, 1, 1, 0, 1, 0};   /* query row 0: every key masked */
    float neg[6]; 
    T_BEGIN("attn fully masked row");
    q = dl_uniform(ctx, dl_shape2(2, 4), -1, 1); k = dl_uniform(ctx, dl_shape2(3, 4), -1, 1); v = dl_uniform(ctx, dl_shape2(3, 5), -1, 1);
    dl_requires_grad(ctx, q, 1); dl_requires_grad(ctx, k, 1); dl_requires_grad(ctx, v, 1);
    mask = dl_index_tensor(ctx, dl_shape2(2, 3), mk);
    y = dl_attention(ctx, q, k, v, mask, 0, &w);
    if (tn_ok(ctx, "forward")) {
        for (i = 0; i < 5; i++) bad += dl_get(y, i) != 0.0f;
        for (i = 0; i < 3; i++) bad += dl_get(w, i) != 0.0f;
        T_EXPECT(!bad, "row 0 is not zero");
        T_EXPECT(fabsf(dl_get(w, 3) + dl_get(w, 5) - 1.0f) < 1e-6f && dl_get(w, 4) == 0.0f, "row 1 weights %g %g %g",
                 (double)dl_get(w, 3), (double)dl_get(w, 4), (double)dl_get(w, 5));
        dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y, y)));
        for (i = 0; i < 4; i++) bad += q->grad[i] != 0.0f;           /* query 0 sees nothing */
        for (i = 0; i < 8; i++) bad += !isfinite(q->grad[i]);
        for (i = 0; i < 12; i++) bad += !isfinite(k->grad[i]) || !isfinite(v->grad[i]);
        T_EXPECT(!bad && tn_ok(ctx, "backward"), "gradient through a fully masked row");
    }
    /* a float mask of -inf everywhere in a row behaves the same */
    for (i = 0; i < 6; i++) neg[i] = i < 3 ? -INFINITY : 0.0f;
    fm = dl_from_data(ctx, dl_shape2(2, 3), neg);
    y = dl_attention(ctx, q, k, v, fm, 0, &w);
    if (tn_ok(ctx, "float -inf mask")) {
        for (i = 0; i < 10; i++) bad += !isfinite(dl_get(y, i)) || (i < 5 && dl_get(y, i) != 0.0f);
        T_EXPECT(!bad, "float -inf row");
    }
    /* causal with Lq > Lk never empties a row; MHA with a key_padding_mask that hides every key of batch 1 */
    {   dl_mha m; static const int32_t kp[6] = {0, 1, 0, 1, 1, 1}; dl_tensor *x = dl_uniform(ctx, dl_shape3(2, 3, 4), -1, 1);
        dl_mha_init(ctx, &m, 4, 2, 1);
        y = dl_mha_forward(ctx, &m, x, x, x, dl_index_tensor(ctx, dl_shape2(2, 3), kp), NULL, 1, &w);
        if (tn_ok(ctx, "mha")) {
            for (i = 0; i < 24; i++) bad += !isfinite(dl_get(y, i));
            for (i = 9; i < 18; i++) bad += dl_get(w, i) != 0.0f;
            T_EXPECT(!bad, "mha: batch 1 fully padded: weights must be 0 and outputs finite");
        }
    }
    T_END();
    dl_ctx_free(ctx);

    /* masks must not trip desc.check_finite (int32 and causal masks are finite inside) */
    T_BEGIN("attn masks with check_finite");
    {   dl_ctx_desc d; dl_mha m; dl_tensor *x; static const int32_t kp[6] = {0, 1, 0, 1, 1, 1};
        memset(&d, 0, sizeof d); d.memory_size = 4u << 20; d.check_finite = 1;
        ctx = dl_ctx_init(&d);
        dl_mha_init(ctx, &m, 4, 2, 1);
        x = dl_uniform(ctx, dl_shape3(2, 3, 4), -1, 1); dl_requires_grad(ctx, x, 1);
        y = dl_mha_forward(ctx, &m, x, x, x, dl_index_tensor(ctx, dl_shape2(2, 3), kp), NULL, 1, &w);
        dl_backward(ctx, dl_add(ctx, dl_sum_all(ctx, y), dl_sum_all(ctx, w)));
        T_EXPECT(tn_ok(ctx, "check_finite"), "masked attention under check_finite");
        dl_ctx_free(ctx);
    }
    T_END();
}

static void ta_errors(void) {
    dl_ctx *ctx = ta_ctx(1u << 20); dl_tensor *q, *k, *v, *w = NULL, *y; dl_mha m; dl_additive_attn a;
    T_BEGIN("attn errors");
    q = dl_zeros(ctx, dl_shape3(2, 3, 4)); k = dl_zeros(ctx, dl_shape3(2, 5, 4)); v = dl_zeros(ctx, dl_shape3(2, 5, 6));
    y = dl_attention(ctx, q, dl_zeros(ctx, dl_shape3(2, 5, 3)), v, NULL, 0, &w);
    T_EXPECT(dl_is_poison(y) && dl_is_poison(w) && dl_ctx_status(ctx) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "dl_attention"),
             "E mismatch: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    y = dl_attention(ctx, q, k, v, dl_zeros(ctx, dl_shape2(3, 4)), 0, NULL);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "mask[3,4]"), "mask: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    y = dl_attention(ctx, q, k, NULL, NULL, 0, NULL);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "NULL v: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_mha_init(ctx, &m, 6, 4, 1);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "heads"), "6 %% 4: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_mha_init(ctx, &m, 4, 2, 1);
    y = dl_mha_forward(ctx, &m, q, k, dl_zeros(ctx, dl_shape3(2, 4, 4)), NULL, NULL, 0, NULL);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "value length: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    y = dl_mha_forward(ctx, &m, q, k, k, dl_index_zeros(ctx, dl_shape2(2, 4)), NULL, 0, NULL);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "key_padding_mask"), "kpm: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    y = dl_mha_forward(ctx, &m, q, k, k, dl_zeros(ctx, dl_shape2(2, 5)), NULL, 0, NULL);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_DTYPE, "float kpm: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_additive_attn_init(ctx, &a, 4, 4, 8);
    y = dl_additive_attention(ctx, &a, dl_zeros(ctx, dl_shape2(2, 4)), k, v, dl_index_zeros(ctx, dl_shape2(2, 4)), NULL);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "mask"), "additive mask: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    y = dl_sinusoidal_positions(ctx, 4, 0);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "dim 0: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_END();
    dl_ctx_free(ctx);
}

/* init distributions: xavier bound for in_proj, 1/sqrt(E) for out_proj, zero biases */
static void ta_init(void) {
    dl_ctx *ctx = ta_ctx(4u << 20); dl_mha m; int64_t i, E = 64; float mx = 0, mo = 0; double s2 = 0; int zb = 1;
    T_BEGIN("attn init");
    dl_mha_init(ctx, &m, E, 8, 1);
    if (tn_ok(ctx, "init")) {
        float bx = sqrtf(6.0f / (float)(E + 3 * E)), bo = 1.0f / sqrtf((float)E);
        for (i = 0; i < 3 * E * E; i++) { float a = fabsf(m.in_proj_weight->data[i]); if (a > mx) mx = a; s2 += (double)a * (double)a; }
        for (i = 0; i < E * E; i++) { float a = fabsf(m.out_proj_weight->data[i]); if (a > mo) mo = a; }
        for (i = 0; i < 3 * E; i++) zb &= m.in_proj_bias->data[i] == 0.0f;
        for (i = 0; i < E; i++) zb &= m.out_proj_bias->data[i] == 0.0f;
        T_EXPECT(mx <= bx && mx > 0.95f * bx, "in_proj max %g, bound %g", (double)mx, (double)bx);
        T_EXPECT(fabs(s2 / (double)(3 * E * E) - (double)(bx * bx) / 3.0) < 0.05 * (double)(bx * bx) / 3.0, "in_proj variance");
        T_EXPECT(mo <= bo && mo > 0.95f * bo, "out_proj max %g, bound %g", (double)mo, (double)bo);
        T_EXPECT(zb, "biases must be zero");
        T_EXPECT(m.in_proj_weight->requires_grad && m.out_proj_bias->requires_grad, "parameters need gradients");
    }
    dl_mha_init(ctx, &m, 8, 2, 0);
    T_EXPECT(m.in_proj_bias == NULL && m.out_proj_bias == NULL && m.in_proj_weight->shape[0] == 24, "no bias");
    T_END();
    dl_ctx_free(ctx);
}

/* measure mode: the same peak as a real step */
static size_t ta_mha_step(dl_ctx *ctx) {
    dl_mha m; dl_tensor *x, *y, *w = NULL; static const int32_t kp[10] = {0, 0, 0, 1, 1, 0, 0, 0, 0, 0};
    dl_mha_init(ctx, &m, 8, 2, 1);
    x = dl_uniform(ctx, dl_shape3(2, 5, 8), -1, 1);
    y = dl_mha_forward(ctx, &m, x, x, x, dl_index_tensor(ctx, dl_shape2(2, 5), kp), NULL, 1, &w);
    dl_backward(ctx, dl_add(ctx, dl_sum_all(ctx, y), dl_sum_all(ctx, w)));
    return dl_ctx_peak_bytes(ctx);
}
static void ta_measure(void) {
    dl_ctx_desc d; dl_ctx *mc, *rc; size_t need, real;
    T_BEGIN("attn measure");
    memset(&d, 0, sizeof d); d.measure = 1;
    mc = dl_ctx_init(&d); need = ta_mha_step(mc);
    T_EXPECT(dl_ctx_status(mc) == DL_STATUS_OK, "measure: %s", dl_ctx_message(mc));
    dl_ctx_free(mc);
    rc = ta_ctx(4u << 20); real = ta_mha_step(rc);
    T_EXPECT(dl_ctx_status(rc) == DL_STATUS_OK && need == real, "measured %lu, real %lu", (unsigned long)need, (unsigned long)real);
    dl_ctx_free(rc);
    T_END();
}

/* learned positional encodings are an embedding table [max_len, D]: rows 0..L-1 (looked up
   with dl_embedding) are added to x [B, L, D]; the gradient lands on those rows only */
static void ta_learned_positions(void) {
    dl_ctx *ctx = tn_ctx(1u << 20); dl_tensor *table, *x, *idx, *y; int64_t i, r; int bad = 0;
    static const int32_t pos[5] = {0, 1, 2, 3, 4};
    T_BEGIN("attn learned positions");
    table = dl_uniform(ctx, dl_shape2(8, 3), -1, 1); dl_requires_grad(ctx, table, 1);
    x = dl_uniform(ctx, dl_shape3(2, 5, 3), -1, 1);
    idx = dl_index_tensor(ctx, dl_shape1(5), pos);
    y = dl_add(ctx, x, dl_embedding(ctx, table, idx, -1));            /* [2,5,3] + [5,3] */
    dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y, y)));
    if (tn_ok(ctx, "learned positions")) {
        for (r = 0; r < 8; r++) for (i = 0; i < 3; i++) {
            /* d/dP[r,i] sum (x + P)^2 = 2 sum_b (x[b,r,i] + P[r,i]) for r < 5, else 0 */
            double want = 0.0; int b;
            if (r < 5) for (b = 0; b < 2; b++) want += 2.0 * ((double)dl_get(x, (b * 5 + r) * 3 + i) + (double)dl_get(table, r * 3 + i));
            bad += fabs((double)table->grad[r * 3 + i] - want) > 1e-5;
        }
        T_EXPECT(!bad, "%d gradient entries of the position table differ", bad);
    }
    T_END();
    dl_ctx_free(ctx);
}

/* ---- sampling ------------------------------------------------------------------------- */
static void ta_sampling(void) {
    dl_ctx *ctx = ta_ctx(1u << 20); int i, j, s, bad = 0;
    static const float lg[6] = {0.3f, 2.0f, -1.0f, 1.2f, 0.9f, -0.4f};
    T_BEGIN("sample argmax");
    T_EXPECT(dl_sample_logits(ctx, lg, 6, 0.0f, 0) == 1 && dl_sample_logits(ctx, lg, 6, -1.0f, 3) == 1, "temperature <= 0");
    for (i = 0; i < 100; i++) bad += dl_sample_logits(ctx, lg, 6, 5.0f, 1) != 1;
    T_EXPECT(!bad, "top_k = 1 must give the argmax");
    {   static const float tie[4] = {1.0f, 3.0f, 3.0f, 0.0f};
        T_EXPECT(dl_sample_logits(ctx, tie, 4, 0.0f, 0) == 1, "ties: first max"); }
    T_EXPECT(tn_ok(ctx, "argmax"), "status");
    T_END();

    T_BEGIN("sample top-k support");
    {   int seen[6] = {0};
        for (i = 0; i < 4000; i++) { s = dl_sample_logits(ctx, lg, 6, 3.0f, 3); if (s < 0 || s >= 6) bad++; else seen[s]++; }
        T_EXPECT(!bad && seen[0] == 0 && seen[2] == 0 && seen[5] == 0, "outside the top 3: %d %d %d", seen[0], seen[2], seen[5]);
        T_EXPECT(seen[1] > 0 && seen[3] > 0 && seen[4] > 0, "every top-3 class drawn: %d %d %d", seen[1], seen[3], seen[4]);
    }
    {   /* ties at the k-th value: the lower index is kept */
        static const float tie[5] = {1.0f, 0.5f, 1.0f, 1.0f, 2.0f}; int seen[5] = {0};
        for (i = 0; i < 2000; i++) { s = dl_sample_logits(ctx, tie, 5, 1.0f, 2); if (s >= 0) seen[s]++; }
        T_EXPECT(seen[1] == 0 && seen[2] == 0 && seen[3] == 0 && seen[0] > 0 && seen[4] > 0, "tie: %d %d %d %d %d",
                 seen[0], seen[1], seen[2], seen[3], seen[4]);
    }
    {   /* -inf: never drawn */
        float m[4] = {0.0f, -INFINITY, 0.0f, -INFINITY}; int seen[4] = {0};
        for (i = 0; i < 500; i++) { s = dl_sample_logits(ctx, m, 4, 1.0f, 0); if (s >= 0) seen[s]++; }
        T_EXPECT(seen[1] == 0 && seen[3] == 0 && seen[0] + seen[2] == 500, "-inf drawn");
    }
    T_EXPECT(tn_ok(ctx, "top-k"), "status");
    T_END();

    /* empirical distribution vs softmax(l / T): chi-square with 5 dof over 60000 draws
       (99.99th percentile 25.7); the same draws tested against T' = 1.15 T must fail */
    T_BEGIN("sample distribution");
    {   const int N = 60000; const float temps[2] = {0.7f, 2.0f}; int ti;
        for (ti = 0; ti < 2; ti++) {
            int cnt[6] = {0}; double p[6], q[6], zs = 0, zq = 0, chi = 0, chi_wrong = 0; float T = temps[ti];
            dl_ctx_seed(ctx, 1234u + (unsigned)ti);
            for (i = 0; i < N; i++) { s = dl_sample_logits(ctx, lg, 6, T, 0); if (s >= 0) cnt[s]++; }
            for (j = 0; j < 6; j++) { p[j] = exp((double)lg[j] / (double)T); zs += p[j]; q[j] = exp((double)lg[j] / (1.15 * (double)T)); zq += q[j]; }
            for (j = 0; j < 6; j++) {
                double e = N * p[j] / zs, f = N * q[j] / zq;
                chi += (cnt[j] - e) * (cnt[j] - e) / e; chi_wrong += (cnt[j] - f) * (cnt[j] - f) / f;
            }
            T_EXPECT(chi < 25.7, "T %g: chi-square %g against softmax(l/T)", (double)T, chi);
            T_EXPECT(chi_wrong > 25.7, "T %g: chi-square %g against a 15%% wrong temperature should fail", (double)T, chi_wrong);
        }
        /* top-k: the kept classes renormalized */
        {   int cnt[6] = {0}; double z = 0, chi = 0; const int keep[3] = {1, 3, 4};
            dl_ctx_seed(ctx, 99);
            for (i = 0; i < N; i++) { s = dl_sample_logits(ctx, lg, 6, 1.0f, 3); if (s >= 0) cnt[s]++; }
            for (j = 0; j < 3; j++) z += exp((double)lg[keep[j]]);
            for (j = 0; j < 3; j++) { double e = N * exp((double)lg[keep[j]]) / z; chi += (cnt[keep[j]] - e) * (cnt[keep[j]] - e) / e; }
            T_EXPECT(chi < 21.1, "top-3: chi-square %g (2 dof)", chi);   /* 99.99th percentile 18.4 */
        }
        /* the same seed gives the same draws */
        {   int a1[20], a2[20];
            dl_ctx_seed(ctx, 5); for (i = 0; i < 20; i++) a1[i] = dl_sample_logits(ctx, lg, 6, 1.0f, 0);
            dl_ctx_seed(ctx, 5); for (i = 0; i < 20; i++) a2[i] = dl_sample_logits(ctx, lg, 6, 1.0f, 0);
            T_EXPECT(!memcmp(a1, a2, sizeof a1), "same seed, different draws");
        }
    }
    T_END();

    T_BEGIN("sample bad input");
    {   float nanl[3] = {0.0f, NAN, 1.0f}, infl[2] = {INFINITY, 0.0f}, ninf[2] = {-INFINITY, -INFINITY};
        struct { const float *l; int n; float t; int k; const char *what; } bads[7];
        int nb = 0;
        bads[nb].l = lg; bads[nb].n = 0; bads[nb].t = 1; bads[nb].k = 0; bads[nb++].what = "must be >= 1";
        bads[nb].l = NULL; bads[nb].n = 3; bads[nb].t = 1; bads[nb].k = 0; bads[nb++].what = "NULL";
        bads[nb].l = lg; bads[nb].n = 6; bads[nb].t = 1; bads[nb].k = 7; bads[nb++].what = "top_k 7";
        bads[nb].l = nanl; bads[nb].n = 3; bads[nb].t = 1; bads[nb].k = 0; bads[nb++].what = "logit 1";
        bads[nb].l = infl; bads[nb].n = 2; bads[nb].t = 1; bads[nb].k = 0; bads[nb++].what = "logit 0";
        bads[nb].l = ninf; bads[nb].n = 2; bads[nb].t = 1; bads[nb].k = 0; bads[nb++].what = "every logit";
        bads[nb].l = lg; bads[nb].n = 6; bads[nb].t = NAN; bads[nb].k = 0; bads[nb++].what = "temperature";
        for (i = 0; i < nb; i++) {
            s = dl_sample_logits(ctx, bads[i].l, bads[i].n, bads[i].t, bads[i].k);
            T_EXPECT(s == -1 && dl_ctx_status(ctx) == DL_STATUS_INVALID && strstr(dl_ctx_message(ctx), "dl_sample_logits") &&
                     strstr(dl_ctx_message(ctx), bads[i].what), "case %d: got %d, %s", i, s, dl_ctx_message(ctx));
            dl_ctx_clear_error(ctx);
        }
        {   size_t before = dl_ctx_used_bytes(ctx);     /* the top-k scratch is released */
            s = dl_sample_logits(ctx, lg, 6, 1.0f, 2);
            T_EXPECT((s == 1 || s == 3) && dl_ctx_used_bytes(ctx) == before, "top-2 draw %d, arena %lu -> %lu", s,
                     (unsigned long)before, (unsigned long)dl_ctx_used_bytes(ctx)); }
    }
    T_END();

    T_BEGIN("teacher forcing");
    {   float p0 = dl_teacher_forcing_prob(10.0f, 0), p1 = dl_teacher_forcing_prob(10.0f, 30), p2 = dl_teacher_forcing_prob(10.0f, 100);
        T_EXPECT(fabsf(p0 - 10.0f / 11.0f) < 1e-6f, "step 0: %g", (double)p0);
        T_EXPECT(fabs((double)p1 - 10.0 / (10.0 + exp(3.0))) < 1e-6, "step 30: %g", (double)p1);
        T_EXPECT(p2 < p1 && p1 < p0 && p2 > 0.0f, "decreasing");
        T_EXPECT(dl_teacher_forcing_prob(10.0f, 100000) == 0.0f, "far steps: 0");
        T_EXPECT(dl_teacher_forcing_prob(0.5f, 0) == 0.5f, "k < 1 counts as 1");
    }
    T_END();
    dl_ctx_free(ctx);
}

static void suite_attention(void) {
    ta_ref_cases();
    ta_gradcheck();
    ta_fully_masked();
    ta_errors();
    ta_init();
    ta_measure();
    ta_learned_positions();
    ta_sampling();
}
