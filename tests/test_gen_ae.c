/* tests/test_gen_ae.c - autoencoder and VAE building blocks (>>api-ae-vae).
     "gen ref <case>"     tests/ref_gen.h (written by tests/gen_ref_gen.py, PyTorch 1.13): a small
                          VAE for fixed noise eps (mu, logvar, z, logits, the reconstruction and
                          KL terms of the ELBO, and the gradient of every parameter and of x
                          through the reparameterized sample), the KL sparsity and contractive
                          penalties (the latter against torch's Jacobian), Gaussian
                          log-densities, and the importance-weighted estimate.
     "gen gradcheck ..."  dl_gradcheck on small cases of each differentiable helper.
     "gen iw ..."         on a random tiny VAE (4 binary pixels, 2-D latent) whose log p(x) is
                          computed by quadrature: ELBO <= IW_10 <= IW_100 <= log p(x), the gaps
                          shrink with k, IW_1 matches the ELBO.
     "gen noise", "gen errors", "gen measure". */
#include <stdlib.h>
#include <stdint.h>
#include "ref_gen.h"
/* tn_ok and tn_close come from tests/test_norm.c (one translation unit: tests/main.c) */

static dl_ctx *tv_ctx(size_t bytes) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = 7; return dl_ctx_init(&d);
}
static const rg_tensor *tv_find(const rg_case *c, const char *name) {
    int i;
    for (i = 0; i < c->nt; i++) if (!strcmp(c->t[i].name, name)) return &c->t[i];
    return NULL;
}
static int64_t tv_numel(const rg_tensor *r) { int64_t n = 1; int i; for (i = 0; i < r->ndim; i++) n *= r->shape[i]; return n; }
static dl_tensor *tv_get(dl_ctx *ctx, const rg_case *c, const char *name, int grad) {
    const rg_tensor *r = tv_find(c, name); dl_tensor *t;
    if (!r) return NULL;
    t = dl_from_data(ctx, dl_shape_n(r->ndim, r->shape), r->data);
    if (grad) dl_requires_grad(ctx, t, 1);
    return t;
}
static void tv_close_ref(const dl_tensor *t, const rg_case *c, const char *name, int grad, double atol) {
    const rg_tensor *r = tv_find(c, name);
    T_EXPECT(r != NULL, "reference %s missing", name);
    if (!r || !t) return;
    if (grad) {
        T_EXPECT(t->grad != NULL && t->numel == tv_numel(r), "%s: no gradient", name);
        if (t->grad && t->numel == tv_numel(r)) t_allclose(t->grad, r->data, (long)tv_numel(r), atol, 1e-4, name);
    } else tn_close(t, r->data, tv_numel(r), atol, 1e-4, name);
}

static void tv_run_vae(dl_ctx *ctx, const rg_case *c) {
    static const char *pn[10] = {"w1", "b1", "w21", "b21", "w22", "b22", "w3", "b3", "w4", "b4"};
    char gname[16]; dl_tensor *p[10], *x = tv_get(ctx, c, "x", 1), *eps = tv_get(ctx, c, "eps", 0);
    dl_tensor *h, *mu, *lv, *z, *logits, *rec, *kl, *loss; int i; float n = (float)x->shape[0];
    for (i = 0; i < 10; i++) p[i] = tv_get(ctx, c, pn[i], 1);
    h = dl_relu(ctx, dl_add(ctx, dl_matmul_ex(ctx, x, p[0], DL_TRANS_B), p[1]));
    mu = dl_add(ctx, dl_matmul_ex(ctx, h, p[2], DL_TRANS_B), p[3]);
    lv = dl_add(ctx, dl_matmul_ex(ctx, h, p[4], DL_TRANS_B), p[5]);
    z = dl_reparameterize(ctx, mu, lv, eps);
    logits = dl_add(ctx, dl_matmul_ex(ctx, dl_relu(ctx, dl_add(ctx, dl_matmul_ex(ctx, z, p[6], DL_TRANS_B), p[7])), p[8], DL_TRANS_B), p[9]);
    rec = dl_neg(ctx, dl_sum_all(ctx, dl_bernoulli_log_prob(ctx, logits, x)));
    kl = dl_sum_all(ctx, dl_gaussian_kl(ctx, mu, lv));
    loss = dl_mul_scalar(ctx, dl_add(ctx, rec, kl), 1.0f / n);
    if (!tn_ok(ctx, "forward")) return;
    tv_close_ref(mu, c, "mu", 0, 2e-5); tv_close_ref(lv, c, "logvar", 0, 2e-5); tv_close_ref(z, c, "z", 0, 2e-5);
    tv_close_ref(logits, c, "logits", 0, 2e-5); tv_close_ref(rec, c, "rec", 0, 1e-4); tv_close_ref(kl, c, "kl", 0, 2e-5);
    /* the same terms through dl_bce_with_logits(sum), as the examples write them */
    tn_close(dl_bce_with_logits(ctx, logits, x, DL_REDUCE_SUM), tv_find(c, "rec")->data, 1, 1e-4, 1e-5, "rec via bce");
    dl_backward(ctx, loss);
    if (!tn_ok(ctx, "backward")) return;
    for (i = 0; i < 10; i++) { sprintf(gname, "g_%s", pn[i]); tv_close_ref(p[i], c, gname, 1, 2e-5); }
    tv_close_ref(x, c, "g_x", 1, 2e-5);
}
/* h = sigmoid(x W^T + b) */
static dl_tensor *tv_enc(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b) {
    return dl_sigmoid(ctx, dl_add(ctx, dl_matmul_ex(ctx, x, w, DL_TRANS_B), b));
}
static void tv_run_pen(dl_ctx *ctx, const rg_case *c) {
    dl_tensor *x = tv_get(ctx, c, "x", 1), *w = tv_get(ctx, c, "w", 1), *b = tv_get(ctx, c, "b", 1), *h, *pen;
    h = tv_enc(ctx, x, w, b);
    pen = c->kind == RG_SPARSE ? dl_kl_sparsity_penalty(ctx, h, (float)c->iarg[0] / 1000.0f) : dl_contractive_penalty(ctx, w, h);
    if (!tn_ok(ctx, "forward")) return;
    T_EXPECT(pen->ndim == 0, "scalar penalty, got ndim %d", pen->ndim);
    tv_close_ref(pen, c, "pen", 0, 2e-5);
    dl_backward(ctx, pen);
    if (!tn_ok(ctx, "backward")) return;
    tv_close_ref(w, c, "g_w", 1, 2e-5); tv_close_ref(b, c, "g_b", 1, 2e-5); tv_close_ref(x, c, "g_x", 1, 2e-5);
}
static void tv_run_glp(dl_ctx *ctx, const rg_case *c) {
    dl_tensor *z = tv_get(ctx, c, "z", 1), *mu = tv_get(ctx, c, "mu", 1), *lv = tv_get(ctx, c, "logvar", 1), *y;
    y = dl_gaussian_log_prob(ctx, z, mu, lv);
    if (!tn_ok(ctx, "forward")) return;
    tv_close_ref(y, c, "y", 0, 1e-4);
    dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y, tv_get(ctx, c, "dy", 0))));
    if (!tn_ok(ctx, "backward")) return;
    tv_close_ref(z, c, "g_z", 1, 2e-5); tv_close_ref(mu, c, "g_mu", 1, 2e-5); tv_close_ref(lv, c, "g_logvar", 1, 2e-5);
}
static void tv_run_iw(dl_ctx *ctx, const rg_case *c) {
    dl_tensor *l = tv_get(ctx, c, "lpx", 1), *z = tv_get(ctx, c, "z", 1), *mu = tv_get(ctx, c, "mu", 1), *lv = tv_get(ctx, c, "logvar", 1), *y;
    y = dl_iw_log_likelihood(ctx, l, z, mu, lv);
    if (!tn_ok(ctx, "forward")) return;
    tv_close_ref(y, c, "y", 0, 1e-4);
    dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, y, tv_get(ctx, c, "dy", 0))));
    if (!tn_ok(ctx, "backward")) return;
    tv_close_ref(l, c, "g_lpx", 1, 2e-5); tv_close_ref(z, c, "g_z", 1, 2e-5);
    tv_close_ref(mu, c, "g_mu", 1, 2e-5); tv_close_ref(lv, c, "g_logvar", 1, 2e-5);
}
static void tv_ref(void) {
    dl_ctx *ctx = tv_ctx(4u << 20); int i; char nm[96];
    for (i = 0; i < RG_N_CASES; i++) {
        const rg_case *c = &rg_cases[i]; dl_mark m = dl_ctx_mark(ctx);
        snprintf(nm, sizeof nm, "gen ref %s", c->name);
        T_BEGIN(nm);
        if (c->kind == RG_VAE) tv_run_vae(ctx, c);
        else if (c->kind == RG_SPARSE || c->kind == RG_CAE) tv_run_pen(ctx, c);
        else if (c->kind == RG_GLP) tv_run_glp(ctx, c);
        else tv_run_iw(ctx, c);
        T_END();
        dl_ctx_rewind(ctx, m);
    }
    dl_ctx_free(ctx);
}

/* ---- gradcheck: one graph function, switched on u->which ---- */
typedef struct tv_gc { int which; float a; } tv_gc;
static dl_tensor *tv_gc_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    const tv_gc *u = (const tv_gc *)user; (void)n;
    switch (u->which) {
    case 0: return dl_kl_sparsity_penalty(ctx, dl_sigmoid(ctx, in[0]), u->a);
    case 1: return dl_contractive_penalty(ctx, in[0], tv_enc(ctx, in[1], in[0], in[2]));
    case 2: return dl_reparameterize(ctx, in[0], in[1], in[2]);
    case 3: return dl_gaussian_kl(ctx, in[0], in[1]);
    case 4: return dl_gaussian_log_prob(ctx, in[0], in[1], in[2]);
    case 5: return dl_bernoulli_log_prob(ctx, in[0], in[1]);
    case 6: return dl_log_mean_exp(ctx, in[0], 1);
    default: return dl_iw_log_likelihood(ctx, in[0], in[1], in[2], in[3]);
    }
}
static void tv_gc_run(dl_ctx *ctx, const char *name, int which, float a, dl_tensor **in, int n, int64_t want) {
    tv_gc u; dl_gradcheck_result r; dl_status st; int i;
    u.which = which; u.a = a;
    T_BEGIN(name);
    for (i = 0; i < n; i++) dl_requires_grad(ctx, in[i], 1);
    st = dl_gradcheck(ctx, tv_gc_fn, &u, in, n, NULL, &r);
    T_EXPECT(st == DL_STATUS_OK && r.checked == want, "%s (checked %ld, want %ld)", dl_gradcheck_message(ctx), (long)r.checked, (long)want);
    T_EXPECT(tn_ok(ctx, name), "status");
    T_END();
}
static void tv_gradcheck(void) {
    dl_ctx *ctx = tv_ctx(8u << 20); dl_tensor *in[4];
    in[0] = dl_uniform(ctx, dl_shape2(5, 4), -2.0f, 2.0f);
    tv_gc_run(ctx, "gen gradcheck kl sparsity", 0, 0.1f, in, 1, 20);
    in[0] = dl_uniform(ctx, dl_shape2(3, 4), -1.0f, 1.0f); in[1] = dl_uniform(ctx, dl_shape2(5, 4), 0.0f, 1.0f);
    in[2] = dl_uniform(ctx, dl_shape1(3), -1.0f, 1.0f);
    tv_gc_run(ctx, "gen gradcheck contractive", 1, 0, in, 3, 12 + 20 + 3);
    in[0] = dl_normal(ctx, dl_shape2(3, 2), 0.0f, 1.0f); in[1] = dl_uniform(ctx, dl_shape2(3, 2), -1.0f, 1.0f);
    in[2] = dl_normal(ctx, dl_shape3(4, 3, 2), 0.0f, 1.0f);
    tv_gc_run(ctx, "gen gradcheck reparameterize k samples", 2, 0, in, 3, 6 + 6 + 24);
    in[0] = dl_normal(ctx, dl_shape2(3, 4), 0.0f, 1.0f); in[1] = dl_uniform(ctx, dl_shape2(3, 4), -1.5f, 1.0f);
    tv_gc_run(ctx, "gen gradcheck gaussian kl", 3, 0, in, 2, 24);
    in[0] = dl_normal(ctx, dl_shape3(2, 3, 4), 0.0f, 1.0f); in[1] = dl_normal(ctx, dl_shape2(3, 4), 0.0f, 1.0f);
    in[2] = dl_uniform(ctx, dl_shape2(3, 4), -1.0f, 1.0f);
    tv_gc_run(ctx, "gen gradcheck gaussian log prob", 4, 0, in, 3, 24 + 12 + 12);
    in[0] = dl_normal(ctx, dl_shape2(3, 5), 0.0f, 2.0f); in[1] = dl_uniform(ctx, dl_shape2(3, 5), 0.0f, 1.0f);
    tv_gc_run(ctx, "gen gradcheck bernoulli log prob", 5, 0, in, 2, 30);
    in[0] = dl_normal(ctx, dl_shape2(3, 6), 0.0f, 3.0f);
    tv_gc_run(ctx, "gen gradcheck log mean exp", 6, 0, in, 1, 18);
    in[0] = dl_uniform(ctx, dl_shape2(5, 3), -8.0f, -2.0f); in[1] = dl_normal(ctx, dl_shape3(5, 3, 2), 0.0f, 1.0f);
    in[2] = dl_normal(ctx, dl_shape2(3, 2), 0.0f, 0.5f); in[3] = dl_uniform(ctx, dl_shape2(3, 2), -1.0f, 0.5f);
    tv_gc_run(ctx, "gen gradcheck iw log likelihood", 7, 0, in, 4, 15 + 30 + 6 + 6);
    dl_ctx_free(ctx);
}

/* ---- IW estimate on a tiny VAE with a quadrature log p(x) ---- */
#define TV_D 4
#define TV_H 8
#define TV_Z 2
typedef struct tv_vae { dl_tensor *we, *be, *wm, *bm, *wv, *bv, *wd, *bd, *wo, *bo; } tv_vae;
static void tv_vae_encode(dl_ctx *ctx, const tv_vae *m, dl_tensor *x, dl_tensor **mu, dl_tensor **lv) {
    dl_tensor *h = dl_tanh(ctx, dl_add(ctx, dl_matmul_ex(ctx, x, m->we, DL_TRANS_B), m->be));
    *mu = dl_add(ctx, dl_matmul_ex(ctx, h, m->wm, DL_TRANS_B), m->bm);
    *lv = dl_add(ctx, dl_matmul_ex(ctx, h, m->wv, DL_TRANS_B), m->bv);
}
static dl_tensor *tv_vae_decode(dl_ctx *ctx, const tv_vae *m, dl_tensor *z) { /* z [..., Z] -> logits [..., D] */
    dl_tensor *h = dl_tanh(ctx, dl_add(ctx, dl_matmul_ex(ctx, z, m->wd, DL_TRANS_B), m->bd));
    return dl_add(ctx, dl_matmul_ex(ctx, h, m->wo, DL_TRANS_B), m->bo);
}
/* log p(x|z) for z [k, N, Z] and x [N, D] -> [k, N] */
static dl_tensor *tv_lpx(dl_ctx *ctx, const tv_vae *m, dl_tensor *x, dl_tensor *z) {
    int64_t k = z->shape[0], n = z->shape[1];
    dl_tensor *lg = tv_vae_decode(ctx, m, dl_reshape(ctx, z, dl_shape2(k * n, TV_Z)));
    dl_tensor *xr = dl_reshape(ctx, dl_contiguous(ctx, dl_add(ctx, dl_zeros(ctx, dl_shape3(k, n, TV_D)), x)), dl_shape2(k * n, TV_D));
    return dl_reshape(ctx, dl_bernoulli_log_prob(ctx, lg, xr), dl_shape2(k, n));
}
/* mean over R repeats of IW_k for each of the N inputs (avg over inputs too) */
static double tv_iw(dl_ctx *ctx, const tv_vae *m, dl_tensor *x, dl_tensor *mu, dl_tensor *lv, int k, int reps) {
    double s = 0; int r; int64_t n = x->shape[0], i;
    for (r = 0; r < reps; r++) {
        dl_mark mk = dl_ctx_mark(ctx);
        dl_tensor *z = dl_reparameterize(ctx, mu, lv, dl_normal(ctx, dl_shape3(k, n, TV_Z), 0.0f, 1.0f));
        dl_tensor *y = dl_iw_log_likelihood(ctx, tv_lpx(ctx, m, x, z), z, mu, lv);
        for (i = 0; i < n; i++) s += (double)dl_get(y, i);
        dl_ctx_rewind(ctx, mk);
    }
    return s / (double)(reps * n);
}
static void tv_iw_bounds(void) {
    dl_ctx *ctx = tv_ctx(64u << 20); tv_vae m; dl_tensor *x, *mu, *lv, *elbo_t; int64_t i, j, g, n = 6;
    static const float xs[6 * TV_D] = {1,0,1,1, 0,0,0,1, 1,1,1,1, 0,1,0,0, 1,0,0,1, 0,0,0,0};
    double logp = 0, elbo = 0, iw1, iw10, iw100, iw1000;
    const int G = 241; const double lim = 6.0, step = 2.0 * lim / (G - 1);
    dl_set_grad_enabled(ctx, 0);
    m.we = dl_normal(ctx, dl_shape2(TV_H, TV_D), 0.0f, 1.0f); m.be = dl_normal(ctx, dl_shape1(TV_H), 0.0f, 0.5f);
    m.wm = dl_normal(ctx, dl_shape2(TV_Z, TV_H), 0.0f, 0.5f); m.bm = dl_normal(ctx, dl_shape1(TV_Z), 0.0f, 0.5f);
    m.wv = dl_normal(ctx, dl_shape2(TV_Z, TV_H), 0.0f, 0.3f); m.bv = dl_full(ctx, dl_shape1(TV_Z), -1.0f);
    m.wd = dl_normal(ctx, dl_shape2(TV_H, TV_Z), 0.0f, 1.5f); m.bd = dl_normal(ctx, dl_shape1(TV_H), 0.0f, 0.5f);
    m.wo = dl_normal(ctx, dl_shape2(TV_D, TV_H), 0.0f, 1.5f); m.bo = dl_normal(ctx, dl_shape1(TV_D), 0.0f, 0.5f);
    x = dl_from_data(ctx, dl_shape2(n, TV_D), xs);
    tv_vae_encode(ctx, &m, x, &mu, &lv);
    T_BEGIN("gen iw bounds vs quadrature log p(x)");
    {   /* log p(x) = log sum_grid p(x|z) N(z; 0, I) dz, a 241 x 241 grid over [-6, 6]^2 */
        dl_mark mk = dl_ctx_mark(ctx);
        dl_tensor *zg = dl_empty(ctx, dl_shape3(G * G, 1, TV_Z)), *lz, *lx, *lpz;
        for (i = 0; i < G; i++) for (j = 0; j < G; j++) {
            dl_set(zg, (i * G + j) * 2, (float)(-lim + step * (double)i)); dl_set(zg, (i * G + j) * 2 + 1, (float)(-lim + step * (double)j)); }
        lpz = dl_gaussian_log_prob(ctx, zg, NULL, NULL);                       /* [G*G, 1] */
        for (g = 0; g < n; g++) {
            dl_mark m2 = dl_ctx_mark(ctx);
            dl_tensor *xg = dl_slice(ctx, x, 0, g, g + 1, 1);
            lx = dl_add(ctx, tv_lpx(ctx, &m, xg, zg), lpz);                     /* [G*G, 1] */
            lz = dl_logsumexp(ctx, lx, 0, 0);
            logp += (double)dl_item(lz) + 2.0 * log(step);
            dl_ctx_rewind(ctx, m2);
        }
        logp /= (double)n;
        dl_ctx_rewind(ctx, mk);
    }
    {   /* ELBO: E_q log p(x|z) over 4000 samples minus the analytic KL */
        dl_mark mk = dl_ctx_mark(ctx);
        dl_tensor *z = dl_reparameterize(ctx, mu, lv, dl_normal(ctx, dl_shape3(4000, n, TV_Z), 0.0f, 1.0f));
        elbo_t = dl_sub(ctx, dl_mean(ctx, tv_lpx(ctx, &m, x, z), 0, 0), dl_gaussian_kl(ctx, mu, lv));
        for (i = 0; i < n; i++) elbo += (double)dl_get(elbo_t, i);
        elbo /= (double)n;
        dl_ctx_rewind(ctx, mk);
    }
    iw1 = tv_iw(ctx, &m, x, mu, lv, 1, 4000);
    iw10 = tv_iw(ctx, &m, x, mu, lv, 10, 400);
    iw100 = tv_iw(ctx, &m, x, mu, lv, 100, 40);
    iw1000 = tv_iw(ctx, &m, x, mu, lv, 1000, 8);
    T_EXPECT(tn_ok(ctx, "iw"), "status");
    if (!t_skip_case) printf("  iw: log p(x) %.4f  ELBO %.4f  IW_1 %.4f  IW_10 %.4f  IW_100 %.4f  IW_1000 %.4f (nats, mean of 6 inputs)\n",
                             logp, elbo, iw1, iw10, iw100, iw1000);
    T_EXPECT(logp - elbo > 0.1, "the test needs a visible gap: log p %.4f ELBO %.4f", logp, elbo);
    T_EXPECT(fabs(iw1 - elbo) < 0.05, "IW_1 %.4f should match the ELBO %.4f", iw1, elbo);
    T_EXPECT(iw10 > elbo + 0.3 * (logp - elbo) - 0.02, "IW_10 %.4f vs ELBO %.4f, log p %.4f", iw10, elbo, logp);
    T_EXPECT(iw100 > iw10 && iw1000 > iw100 - 0.01, "IW must rise with k: %.4f %.4f %.4f", iw10, iw100, iw1000);
    T_EXPECT(iw100 <= logp + 0.02 && iw1000 <= logp + 0.02, "IW above log p: %.4f %.4f vs %.4f", iw100, iw1000, logp);
    T_EXPECT(logp - iw1000 < 0.25 * (logp - elbo), "IW_1000 %.4f should close most of the gap to %.4f", iw1000, logp);
    T_END();
    dl_ctx_free(ctx);
}

static void tv_noise(void) {
    dl_ctx *ctx = tv_ctx(4u << 20); dl_tensor *x, *y, *y2; int64_t i, zeros = 0, nz = 0; double s = 0, s2 = 0;
    T_BEGIN("gen noise mask and gaussian");
    x = dl_uniform(ctx, dl_shape2(100, 100), 0.5f, 1.0f);
    dl_requires_grad(ctx, x, 1);
    y = dl_mask_noise(ctx, x, 0.3f);
    T_EXPECT(tn_ok(ctx, "mask"), "status");
    T_EXPECT(!y->requires_grad && y->node == NULL && y->data != x->data, "a new tensor without gradient");
    for (i = 0; i < x->numel; i++) {
        if (y->data[i] == 0.0f) zeros++;
        else { nz++; if (y->data[i] != x->data[i]) { T_EXPECT(0, "kept element %ld changed", (long)i); break; } }
    }
    T_EXPECT(fabs((double)zeros / 1e4 - 0.3) < 0.02, "masked fraction %g, want 0.3", (double)zeros / 1e4);
    T_EXPECT(dl_item(dl_sum_all(ctx, dl_mask_noise(ctx, x, 1.0f))) == 0.0f, "p = 1 zeroes all");
    y = dl_mask_noise(ctx, x, 0.0f);
    for (i = 0; i < x->numel && y->data[i] == x->data[i]; i++) {}
    T_EXPECT(i == x->numel, "p = 0 keeps all");
    y = dl_gaussian_noise(ctx, x, 0.5f);
    for (i = 0; i < x->numel; i++) { double d = (double)y->data[i] - (double)x->data[i]; s += d; s2 += d * d; }
    s /= 1e4; s2 = sqrt(s2 / 1e4 - s * s);
    T_EXPECT(fabs(s) < 0.02 && fabs(s2 - 0.5) < 0.02, "noise mean %g std %g, want 0 and 0.5", s, s2);
    T_EXPECT(!y->requires_grad, "no gradient");
    dl_ctx_seed(ctx, 3); y = dl_gaussian_noise(ctx, x, 0.5f);
    dl_ctx_seed(ctx, 3); y2 = dl_gaussian_noise(ctx, x, 0.5f);
    T_EXPECT(memcmp(y->data, y2->data, 4 * (size_t)y->numel) == 0, "same seed, same noise");
    /* a view input: the logical order */
    y = dl_mask_noise(ctx, dl_transpose(ctx, x, 0, 1), 0.0f);
    T_EXPECT(y->data[1] == x->data[100], "transposed view read in logical order");
    T_EXPECT(tn_ok(ctx, "noise"), "status");
    T_END();
    dl_ctx_free(ctx);
}

static void tv_expect_err(dl_ctx *ctx, dl_tensor *t, dl_status want, const char *what) {
    T_EXPECT(dl_is_poison(t) && dl_ctx_status(ctx) == want, "%s: status %s, message '%s'", what,
             dl_status_name(dl_ctx_status(ctx)), dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
}
static void tv_errors(void) {
    dl_ctx *ctx = tv_ctx(1u << 20);
    dl_tensor *a = dl_zeros(ctx, dl_shape2(3, 4)), *b = dl_zeros(ctx, dl_shape2(4, 3)), *k = dl_zeros(ctx, dl_shape3(5, 3, 4));
    T_BEGIN("gen errors");
    tv_expect_err(ctx, dl_mask_noise(ctx, a, 1.5f), DL_STATUS_INVALID, "mask p 1.5");
    tv_expect_err(ctx, dl_mask_noise(ctx, NULL, 0.5f), DL_STATUS_INVALID, "mask NULL");
    tv_expect_err(ctx, dl_gaussian_noise(ctx, a, -1.0f), DL_STATUS_INVALID, "noise std < 0");
    tv_expect_err(ctx, dl_kl_sparsity_penalty(ctx, a, 0.0f), DL_STATUS_INVALID, "rho 0");
    tv_expect_err(ctx, dl_kl_sparsity_penalty(ctx, dl_index_zeros(ctx, dl_shape1(3)), 0.1f), DL_STATUS_DTYPE, "int h");
    tv_expect_err(ctx, dl_contractive_penalty(ctx, a, a), DL_STATUS_SHAPE, "contractive h width");
    tv_expect_err(ctx, dl_reparameterize(ctx, a, b, NULL), DL_STATUS_SHAPE, "reparam logvar shape");
    tv_expect_err(ctx, dl_reparameterize(ctx, a, a, b), DL_STATUS_SHAPE, "reparam eps shape");
    tv_expect_err(ctx, dl_gaussian_kl(ctx, a, b), DL_STATUS_SHAPE, "kl shapes");
    tv_expect_err(ctx, dl_gaussian_log_prob(ctx, a, b, NULL), DL_STATUS_SHAPE, "log prob mu");
    tv_expect_err(ctx, dl_gaussian_log_prob(ctx, a, dl_zeros(ctx, dl_shape1(4)), k), DL_STATUS_SHAPE, "log prob logvar too big");
    tv_expect_err(ctx, dl_bernoulli_log_prob(ctx, a, b), DL_STATUS_SHAPE, "bernoulli shapes");
    tv_expect_err(ctx, dl_log_mean_exp(ctx, a, 2), DL_STATUS_AXIS, "lme axis");
    tv_expect_err(ctx, dl_iw_log_likelihood(ctx, dl_zeros(ctx, dl_shape2(5, 3)), k, b, b), DL_STATUS_SHAPE, "iw mu");
    tv_expect_err(ctx, dl_iw_log_likelihood(ctx, dl_zeros(ctx, dl_shape2(4, 3)), k, a, a), DL_STATUS_SHAPE, "iw log_px_z");
    T_EXPECT(!dl_is_poison(dl_iw_log_likelihood(ctx, dl_zeros(ctx, dl_shape2(5, 3)), k, a, a)) && tn_ok(ctx, "iw ok"), "valid iw call");
    T_END();
    dl_ctx_free(ctx);
}

/* measure mode: a VAE step built from the helpers allocates exactly what the real step needs */
static size_t tv_vae_step(dl_ctx *ctx) {
    dl_linear l[5]; dl_tensor *x, *h, *mu, *lv, *z, *lg, *loss; int i;
    dl_linear_init(ctx, &l[0], 12, 8, 1); dl_linear_init(ctx, &l[1], 8, 3, 1); dl_linear_init(ctx, &l[2], 8, 3, 1);
    dl_linear_init(ctx, &l[3], 3, 8, 1); dl_linear_init(ctx, &l[4], 8, 12, 1);
    x = dl_mask_noise(ctx, dl_uniform(ctx, dl_shape2(5, 12), 0.0f, 1.0f), 0.25f);
    x = dl_gaussian_noise(ctx, x, 0.1f);
    h = dl_relu(ctx, dl_linear_forward(ctx, &l[0], x));
    mu = dl_linear_forward(ctx, &l[1], h); lv = dl_linear_forward(ctx, &l[2], h);
    z = dl_reparameterize(ctx, mu, lv, NULL);
    lg = dl_linear_forward(ctx, &l[4], dl_relu(ctx, dl_linear_forward(ctx, &l[3], z)));
    loss = dl_mean_all(ctx, dl_add(ctx, dl_neg(ctx, dl_bernoulli_log_prob(ctx, lg, x)), dl_gaussian_kl(ctx, mu, lv)));
    loss = dl_add(ctx, loss, dl_kl_sparsity_penalty(ctx, dl_sigmoid(ctx, h), 0.1f));
    loss = dl_add(ctx, loss, dl_contractive_penalty(ctx, l[0].weight, dl_sigmoid(ctx, h)));
    dl_backward(ctx, loss);
    for (i = 0; i < 5; i++) (void)l[i];
    return dl_ctx_peak_bytes(ctx);
}
static void tv_measure(void) {
    dl_ctx_desc d; dl_ctx *mc, *ctx; size_t need, used; aligned_block blk;
    T_BEGIN("gen measure vae step");
    memset(&d, 0, sizeof d); d.measure = 1; d.seed = 5;
    mc = dl_ctx_init(&d); need = tv_vae_step(mc);
    T_EXPECT(dl_ctx_status(mc) == DL_STATUS_OK, "measure: %s", dl_ctx_message(mc));
    dl_ctx_free(mc);
    if (aligned_alloc64(&blk, need)) {     /* from tests/test_core.c */
        memset(&d, 0, sizeof d); d.memory = blk.p; d.memory_size = need; d.seed = 5;
        ctx = dl_ctx_init(&d); used = tv_vae_step(ctx);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && used == need, "real step: %s (peak %lu, measured %lu)", dl_ctx_message(ctx),
                 (unsigned long)used, (unsigned long)need);
        dl_ctx_free(ctx);
        memset(&d, 0, sizeof d); d.memory = blk.p; d.memory_size = need - 1; d.seed = 5;
        ctx = dl_ctx_init(&d); tv_vae_step(ctx);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OOM, "one byte less: %s", dl_status_name(dl_ctx_status(ctx)));
        dl_ctx_free(ctx); free(blk.raw);
    } else T_EXPECT(0, "aligned allocation failed");
    T_END();
}

static void suite_gen_ae(void) {
    tv_ref();
    tv_gradcheck();
    tv_iw_bounds();
    tv_noise();
    tv_errors();
    tv_measure();
}
