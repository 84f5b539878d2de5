/* tests/test_rbm.c - restricted Boltzmann machines and NADE (tests/main.c includes it).
     "rbm log z exact"       10x8 binary RBM: log Z by enumerating the 2^10 visible configurations
                             and the 2^8 hidden ones agree, and match a brute force over all
                             2^18 joint states written here in plain double loops.
     "rbm ais"               AIS log Z within 0.1 nats of the exact value (binary, gaussian).
     "rbm cd-k converges"    CD-k gradient estimates (averaged over many chains) approach the
                             exact log-likelihood gradient as k grows: err(1) > err(10) > err(100);
                             PCD with a long-run chain is close too.
     "rbm gibbs tv"          the sampler's distribution over 16 visible states vs the exact p(v):
                             total variation small, while a mean-field (wrong) sampler fails.
     "rbm free energy"       binary and gaussian F(v) against the formula; gradient by gradcheck.
     "rbm train step"        the update rule (lr, momentum, weight decay) and that CD-1 training
                             raises the exact log-likelihood.
     "nade sums to one", "nade gradcheck", "nade sample", "rbm errors", "rbm measure". */
#include <stdlib.h>

static dl_ctx *tr_ctx(size_t bytes, uint64_t seed) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = seed; return dl_ctx_init(&d);
}
static double tr_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
/* -F(v) for a binary visible configuration bits s, in double */
static double tr_negF(const dl_rbm *r, const float *v) {
    int64_t i, j, V = r->nv, H = r->nh; double f = 0;
    for (i = 0; i < V; i++) f += (double)r->b_v->data[i] * (double)v[i];
    for (j = 0; j < H; j++) {
        double a = r->b_h->data[j];
        for (i = 0; i < V; i++) a += (double)r->W->data[j * V + i] * (double)v[i];
        f += tr_softplus(a);
    }
    return f;
}
static void tr_bits(int64_t s, int64_t n, float *v) { int64_t i; for (i = 0; i < n; i++) v[i] = (float)(s >> i & 1); }
/* exact p(v) over all 2^V binary visible states */
static void tr_exact_pv(const dl_rbm *r, double *p) {
    int64_t s, n = (int64_t)1 << r->nv; float v[16]; double mx = -1e300, z = 0;
    for (s = 0; s < n; s++) { tr_bits(s, r->nv, v); p[s] = tr_negF(r, v); if (p[s] > mx) mx = p[s]; }
    for (s = 0; s < n; s++) { p[s] = exp(p[s] - mx); z += p[s]; }
    for (s = 0; s < n; s++) p[s] /= z;
}
static void tr_random_rbm(dl_ctx *ctx, dl_rbm *r, int64_t V, int64_t H, int vis, float wstd, float bstd) {
    int64_t i;
    dl_rbm_init(ctx, r, V, H, vis, wstd);
    for (i = 0; i < V; i++) r->b_v->data[i] = bstd * dl_rand_normal(ctx);
    for (i = 0; i < H; i++) r->b_h->data[i] = bstd * dl_rand_normal(ctx);
}

static void test_rbm_log_z_exact(void) {
    dl_ctx *ctx = tr_ctx(8 << 20, 1); dl_rbm r; double zv, zh, za, mx = -1e300, s = 0; int64_t a, b, i, j;
    T_BEGIN("rbm log z exact");
    tr_random_rbm(ctx, &r, 10, 8, DL_RBM_BINARY, 1.0f, 0.5f);
    zv = dl_rbm_log_z_exact(ctx, &r, 1);
    zh = dl_rbm_log_z_exact(ctx, &r, 2);
    za = dl_rbm_log_z_exact(ctx, &r, 0);
    /* brute force over the joint (v, h): log sum exp(-E) */
    for (a = 0; a < 1024; a++) for (b = 0; b < 256; b++) {
        double e = 0;
        for (i = 0; i < 10; i++) if (a >> i & 1) e += (double)r.b_v->data[i];
        for (j = 0; j < 8; j++) if (b >> j & 1) {
            e += (double)r.b_h->data[j];
            for (i = 0; i < 10; i++) if (a >> i & 1) e += (double)r.W->data[j * 10 + i];
        }
        if (e > mx) { s = s * exp(mx - e) + 1; mx = e; } else s += exp(e - mx);
    }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(fabs(zv - zh) < 1e-9 * fabs(zv) + 1e-9, "visible %.12f vs hidden %.12f", zv, zh);
    T_EXPECT(fabs(zv - (mx + log(s))) < 1e-9 * fabs(zv) + 1e-9, "visible %.12f vs joint brute force %.12f", zv, mx + log(s));
    T_EXPECT(za == zh, "auto picks the hidden layer: %.12f vs %.12f", za, zh);
    T_END();
    dl_ctx_free(ctx);
}

static void test_rbm_ais(void) {
    dl_ctx *ctx = tr_ctx(8 << 20, 2); dl_rbm r; double ex, est, sd; int vis;
    for (vis = 0; vis < 2; vis++) {
        T_BEGIN(vis ? "rbm ais gaussian" : "rbm ais binary");
        tr_random_rbm(ctx, &r, 10, 8, vis, vis ? 0.3f : 1.0f, 0.5f);
        ex = dl_rbm_log_z_exact(ctx, &r, 2);
        dl_ctx_seed(ctx, 77);
        est = dl_rbm_log_z_ais(ctx, &r, 200, 1000, NULL, &sd);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        if (!t_skip_case) printf("  rbm ais %s: exact log Z %.4f, AIS %.4f (sd %.4f)\n", vis ? "gaussian" : "binary", ex, est, sd);
        T_EXPECT(fabs(est - ex) < 0.1, "AIS %.4f (sd %.4f) vs exact %.4f", est, sd, ex);
        T_EXPECT(sd >= 0 && sd < 0.1, "sd %.4f", sd);
        /* a much too short run (one intermediate distribution) is off: the test can fail */
        if (!vis) {
            double bad = dl_rbm_log_z_ais(ctx, &r, 200, 1, NULL, NULL);
            T_EXPECT(fabs(bad - ex) > 0.1, "1-beta AIS %.4f unexpectedly close to %.4f", bad, ex);
        }
        T_END();
    }
    dl_ctx_free(ctx);
}

/* exact gradient of the mean log-likelihood of `data` (n rows) into g (W, b_v, b_h) */
static void tr_exact_grad(const dl_rbm *r, const float *data, int64_t n, double *g) {
    int64_t V = r->nv, H = r->nh, i, j, t, ns = (int64_t)1 << V; double *p = (double *)malloc((size_t)ns * sizeof(double));
    float v[16]; double ph[16];
    int64_t np = H * V + V + H;
    for (i = 0; i < np; i++) g[i] = 0;
    tr_exact_pv(r, p);
    for (t = 0; t < n + ns; t++) {
        const float *x; double w;
        if (t < n) { x = data + t * V; w = 1.0 / (double)n; }
        else { tr_bits(t - n, V, v); x = v; w = -p[t - n]; }
        for (j = 0; j < H; j++) {
            double a = r->b_h->data[j];
            for (i = 0; i < V; i++) a += (double)r->W->data[j * V + i] * (double)x[i];
            ph[j] = 1.0 / (1.0 + exp(-a));
        }
        for (j = 0; j < H; j++) for (i = 0; i < V; i++) g[j * V + i] += w * ph[j] * (double)x[i];
        for (i = 0; i < V; i++) g[H * V + i] += w * (double)x[i];
        for (j = 0; j < H; j++) g[H * V + V + j] += w * ph[j];
    }
    free(p);
}
static double tr_grad_err(const dl_tensor *gW, const dl_tensor *gbv, const dl_tensor *gbh, const double *g) {
    int64_t i, nw = gW->numel, nv = gbv->numel; double e = 0;
    for (i = 0; i < nw; i++) e += pow((double)gW->data[i] - g[i], 2);
    for (i = 0; i < nv; i++) e += pow((double)gbv->data[i] - g[nw + i], 2);
    for (i = 0; i < gbh->numel; i++) e += pow((double)gbh->data[i] - g[nw + nv + i], 2);
    return sqrt(e);
}
static void test_rbm_cd_converges(void) {
    enum { V = 10, H = 8, ND = 16, REP = 1000 };
    dl_ctx *ctx = tr_ctx(32 << 20, 3); dl_rbm r; double g[H * V + V + H], gn = 0, e[3]; int ks[3] = { 1, 10, 100 }, q;
    float data[ND * V]; int64_t i, n;
    dl_tensor *batch, *gW, *gbv, *gbh, *chain;
    T_BEGIN("rbm cd-k converges");
    tr_random_rbm(ctx, &r, V, H, DL_RBM_BINARY, 2.5f, 0.5f);   /* strong weights: slow mixing */
    for (i = 0; i < ND * V; i++) data[i] = dl_rand_uniform(ctx) < (i % V < 5 ? 0.85f : 0.15f) ? 1.0f : 0.0f;
    tr_exact_grad(&r, data, ND, g);
    for (i = 0; i < H * V + V + H; i++) gn += g[i] * g[i];
    gn = sqrt(gn);
    batch = dl_empty(ctx, dl_shape2(ND * REP, V));
    for (n = 0; n < ND * REP; n++) memcpy(batch->data + n * V, data + (n % ND) * V, sizeof(float) * V);
    gW = dl_empty(ctx, dl_shape2(H, V)); gbv = dl_empty(ctx, dl_shape1(V)); gbh = dl_empty(ctx, dl_shape1(H));
    for (q = 0; q < 3; q++) {
        float rec = dl_rbm_cd_grad(ctx, &r, batch, ks[q], NULL, gW, gbv, gbh);
        T_EXPECT(rec >= 0.0f && rec < 1.0f, "reconstruction error %g", (double)rec);
        e[q] = tr_grad_err(gW, gbv, gbh, g);
    }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    if (!t_skip_case) printf("  rbm cd-k gradient error: k=1 %.4f, k=10 %.4f, k=100 %.4f (|g| %.4f)\n", e[0], e[1], e[2], gn);
    T_EXPECT(e[0] > e[1] && e[1] > e[2], "errors k=1 %.4f, k=10 %.4f, k=100 %.4f should decrease (|g| %.4f)", e[0], e[1], e[2], gn);
    T_EXPECT(e[0] > 0.3 * gn && e[2] < 0.1 * gn, "k=1 error %.4f should be large, k=100 %.4f small, |g| %.4f", e[0], e[2], gn);
    /* PCD: a persistent chain (4000 rows) that has run long samples the model */
    chain = dl_zeros(ctx, dl_shape2(4000, V));
    dl_rbm_cd_grad(ctx, &r, batch, 100, chain, gW, gbv, gbh);
    dl_rbm_cd_grad(ctx, &r, batch, 1, chain, gW, gbv, gbh);
    if (!t_skip_case) printf("  rbm pcd gradient error %.4f\n", tr_grad_err(gW, gbv, gbh, g));
    T_EXPECT(tr_grad_err(gW, gbv, gbh, g) < 0.1 * gn, "PCD error %.4f, |g| %.4f", tr_grad_err(gW, gbv, gbh, g), gn);
    T_END();
    dl_ctx_free(ctx);
}

/* count the rows of binary x [N,V] by state */
static void tr_count(const dl_tensor *x, double *cnt) {
    int64_t i, s, V = x->shape[1], N = x->shape[0];
    if (!x->data) return;
    for (i = 0; i < N; i++) {
        int64_t idx = 0;
        for (s = 0; s < V; s++) if (x->data[i * V + s] != 0.0f) idx |= (int64_t)1 << s;
        cnt[idx] += 1.0;
    }
}
static void test_rbm_gibbs_tv(void) {
    dl_ctx *ctx = tr_ctx(16 << 20, 4); dl_rbm r; double p[16], c1[16], c2[16], tv1 = 0, tv2 = 0, n1 = 0, n2 = 0; int rounds, s;
    dl_tensor *v, *w; dl_mark m;
    T_BEGIN("rbm gibbs tv");
    tr_random_rbm(ctx, &r, 4, 3, DL_RBM_BINARY, 1.5f, 0.5f);
    tr_exact_pv(&r, p);
    memset(c1, 0, sizeof c1); memset(c2, 0, sizeof c2);
    v = dl_zeros(ctx, dl_shape2(2000, 4)); w = dl_zeros(ctx, dl_shape2(2000, 4));
    m = dl_ctx_mark(ctx);
    v = dl_rbm_gibbs(ctx, &r, v, 50);                 /* burn-in */
    for (rounds = 0; rounds < 50; rounds++) {         /* wrong sampler: h = p(h|v), not a sample */
        w = dl_rbm_sample_visible(ctx, &r, dl_rbm_hidden_probs(ctx, &r, w));
    }
    for (rounds = 0; rounds < 10; rounds++) {
        v = dl_rbm_gibbs(ctx, &r, v, 3); tr_count(v, c1);
        w = dl_rbm_sample_visible(ctx, &r, dl_rbm_hidden_probs(ctx, &r, w)); tr_count(w, c2);
    }
    dl_ctx_rewind(ctx, m);
    for (s = 0; s < 16; s++) { n1 += c1[s]; n2 += c2[s]; }
    for (s = 0; s < 16; s++) { tv1 += 0.5 * fabs(c1[s] / n1 - p[s]); tv2 += 0.5 * fabs(c2[s] / n2 - p[s]); }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    if (!t_skip_case) printf("  rbm gibbs TV %.4f, mean-field sampler TV %.4f\n", tv1, tv2);
    T_EXPECT(tv1 < 0.02, "Gibbs sampler TV %.4f from the exact p(v) (20000 samples)", tv1);
    T_EXPECT(tv2 > 0.05, "the mean-field sampler should fail the same bound: TV %.4f", tv2);
    T_END();
    dl_ctx_free(ctx);
}

static dl_rbm tr_gc_rbm;
static dl_tensor *tr_fe_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    dl_rbm r = tr_gc_rbm; (void)n; (void)user;
    r.W = in[0]; r.b_v = in[1]; r.b_h = in[2];
    return dl_rbm_free_energy(ctx, &r, in[3]);
}
static void test_rbm_free_energy(void) {
    dl_ctx *ctx = tr_ctx(8 << 20, 5); dl_rbm r; dl_tensor *v, *f, *in[4]; int vis; int64_t i, j, k;
    for (vis = 0; vis < 2; vis++) {
        T_BEGIN(vis ? "rbm free energy gaussian" : "rbm free energy binary");
        tr_random_rbm(ctx, &r, 7, 5, vis, 0.5f, 0.5f);
        v = dl_normal(ctx, dl_shape2(6, 7), 0.3f, 1.0f);
        if (!vis) for (i = 0; i < v->numel; i++) v->data[i] = v->data[i] > 0.3f ? 1.0f : 0.0f;
        f = dl_rbm_free_energy(ctx, &r, v);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && f->ndim == 1 && f->shape[0] == 6, "%s", dl_ctx_message(ctx));
        for (k = 0; k < 6 && !dl_ctx_status(ctx); k++) {
            double want = 0;                          /* direct formula */
            for (i = 0; i < 7; i++) {
                double x = v->data[k * 7 + i], b = r.b_v->data[i];
                want += vis ? 0.5 * (x - b) * (x - b) : -b * x;
            }
            for (j = 0; j < 5; j++) {
                double a = r.b_h->data[j];
                for (i = 0; i < 7; i++) a += (double)r.W->data[j * 7 + i] * (double)v->data[k * 7 + i];
                want -= tr_softplus(a);
            }
            T_EXPECT(fabs((double)f->data[k] - want) < 1e-5 * (1 + fabs(want)), "row %d: %.7f want %.7f", (int)k, (double)f->data[k], want);
        }
        /* gaussian: log Z by hidden enumeration vs -F integrated numerically is AIS's job;
           here the gradient of F by finite differences, v included */
        tr_gc_rbm = r;
        in[0] = r.W; in[1] = r.b_v; in[2] = r.b_h; in[3] = v;
        for (i = 0; i < 4; i++) dl_requires_grad(ctx, in[i], 1);
        T_EXPECT(dl_gradcheck(ctx, tr_fe_fn, NULL, in, 4, NULL, NULL) == DL_STATUS_OK, "%s", dl_gradcheck_message(ctx));
        for (i = 0; i < 4; i++) dl_requires_grad(ctx, in[i], 0);
        T_END();
    }
    dl_ctx_free(ctx);
}

static void test_rbm_train_step(void) {
    dl_ctx *ctx = tr_ctx(16 << 20, 6); dl_rbm r; dl_rbm_train_desc d; dl_tensor *data, *gW, *gbv, *gbh;
    float W0[80], W1[80], m1[80], bh1[8]; double ll0, ll1; int64_t i; int it, ok = 1;
    T_BEGIN("rbm train step");
    tr_random_rbm(ctx, &r, 10, 8, DL_RBM_BINARY, 0.1f, 0.0f);
    data = dl_empty(ctx, dl_shape2(64, 10));
    for (i = 0; i < 64 * 10; i++) data->data[i] = dl_rand_uniform(ctx) < ((i / 10) % 2 ? (i % 10 < 5 ? 0.9f : 0.1f) : (i % 10 < 5 ? 0.1f : 0.9f)) ? 1.0f : 0.0f;
    gW = dl_empty(ctx, dl_shape2(8, 10)); gbv = dl_empty(ctx, dl_shape1(10)); gbh = dl_empty(ctx, dl_shape1(8));
    memset(&d, 0, sizeof d); d.k = 2; d.lr = 0.1f; d.momentum = 0.5f; d.weight_decay = 0.01f;
    /* the update rule: same seed, same gradient */
    memcpy(W0, r.W->data, sizeof W0);
    dl_ctx_seed(ctx, 11); dl_rbm_cd_grad(ctx, &r, data, 2, NULL, gW, gbv, gbh);
    dl_ctx_seed(ctx, 11); dl_rbm_train_step(ctx, &r, data, NULL, &d);
    for (i = 0; i < 80; i++) { m1[i] = 0.1f * (gW->data[i] - 0.01f * W0[i]); if (fabsf(r.W->data[i] - (W0[i] + m1[i])) > 1e-6f) ok = 0; }
    for (i = 0; i < 8; i++) { bh1[i] = 0.1f * gbh->data[i]; if (fabsf(r.b_h->data[i] - bh1[i]) > 1e-6f) ok = 0; }
    T_EXPECT(ok, "first step: W += lr (g - wd W), b_h += lr g");
    memcpy(W1, r.W->data, sizeof W1); ok = 1;
    dl_ctx_seed(ctx, 12); dl_rbm_cd_grad(ctx, &r, data, 2, NULL, gW, gbv, gbh);
    dl_ctx_seed(ctx, 12); dl_rbm_train_step(ctx, &r, data, NULL, &d);
    for (i = 0; i < 80; i++) if (fabsf(r.W->data[i] - (W1[i] + 0.5f * m1[i] + 0.1f * (gW->data[i] - 0.01f * W1[i]))) > 1e-6f) ok = 0;
    T_EXPECT(ok, "second step: momentum 0.5 carries the first step");
    /* CD-1 training raises the exact log-likelihood */
    ll0 = dl_rbm_log_likelihood(ctx, &r, data, dl_rbm_log_z_exact(ctx, &r, 0));
    memset(&d, 0, sizeof d); d.lr = 0.05f; d.momentum = 0.5f;
    for (it = 0; it < 300; it++) dl_rbm_train_step(ctx, &r, data, NULL, &d);
    ll1 = dl_rbm_log_likelihood(ctx, &r, data, dl_rbm_log_z_exact(ctx, &r, 0));
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    if (!t_skip_case) printf("  rbm CD-1 training: exact log-likelihood %.4f -> %.4f nats\n", ll0, ll1);
    T_EXPECT(ll1 > ll0 + 0.5, "log-likelihood %.4f -> %.4f nats", ll0, ll1);
    T_EXPECT(ll0 < 0 && ll1 < 0 && ll0 > -10 * log(2.0) - 0.5, "log-likelihoods %.4f %.4f out of range", ll0, ll1);
    T_END();
    dl_ctx_free(ctx);
}

static dl_nade tr_gc_nade;
static dl_tensor *tr_gc_x;
static dl_tensor *tr_nade_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    dl_nade m = tr_gc_nade; (void)n; (void)user;
    m.W = in[0]; m.c = in[1]; m.V = in[2]; m.b = in[3];
    return dl_nade_log_prob(ctx, &m, tr_gc_x);
}
static void test_nade(void) {
    dl_ctx *ctx = tr_ctx(16 << 20, 7); dl_nade m; dl_tensor *x, *lp, *p[4], *s; double tot = 0, mx = -1e300; int64_t i, n, D = 8;
    T_BEGIN("nade sums to one");
    dl_nade_init(ctx, &m, D, 5);
    for (i = 0; i < D; i++) m.b->data[i] = dl_rand_normal(ctx);
    for (i = 0; i < 5; i++) m.c->data[i] = dl_rand_normal(ctx);
    for (i = 0; i < m.W->numel; i++) m.W->data[i] *= 3.0f;
    x = dl_empty(ctx, dl_shape2(256, D));
    for (n = 0; n < 256; n++) for (i = 0; i < D; i++) x->data[n * D + i] = (float)(n >> i & 1);
    lp = dl_nade_log_prob(ctx, &m, x);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && lp->numel == 256, "%s", dl_ctx_message(ctx));
    for (n = 0; n < 256 && lp->data; n++) { tot += exp((double)lp->data[n]); if ((double)lp->data[n] > mx) mx = (double)lp->data[n]; }
    T_EXPECT(fabs(tot - 1.0) < 1e-4, "sum of p over 2^8 configurations %.7f", tot);
    T_EXPECT(mx < -0.1, "not a degenerate distribution: max log p %.4f", mx);
    T_END();

    T_BEGIN("nade sample");
    {   /* sample distribution vs the exact one, 4 pixels */
        dl_nade m4; double p4[16], c[16], tv = 0; dl_tensor *x4, *l4;
        dl_nade_init(ctx, &m4, 4, 3);
        for (i = 0; i < 4; i++) m4.b->data[i] = dl_rand_normal(ctx);
        for (i = 0; i < m4.W->numel; i++) m4.W->data[i] *= 3.0f;
        x4 = dl_empty(ctx, dl_shape2(16, 4));
        for (n = 0; n < 16; n++) for (i = 0; i < 4; i++) x4->data[n * 4 + i] = (float)(n >> i & 1);
        l4 = dl_nade_log_prob(ctx, &m4, x4);
        for (n = 0; n < 16; n++) { p4[n] = exp((double)dl_get(l4, n)); c[n] = 0; }
        s = dl_nade_sample(ctx, &m4, 20000);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        for (n = 0; n < 20000 && s->data; n++) {
            int idx = 0;
            for (i = 0; i < 4; i++) if (s->data[n * 4 + i] != 0.0f) idx |= 1 << i;
            c[idx] += 1.0 / 20000.0;
        }
        for (n = 0; n < 16; n++) tv += 0.5 * fabs(c[n] - p4[n]);
        if (!t_skip_case) printf("  nade sample TV %.4f\n", tv);
        T_EXPECT(tv < 0.02, "NADE sample TV %.4f", tv);
    }
    T_END();

    T_BEGIN("nade gradcheck");
    {
        dl_tensor *xb = dl_empty(ctx, dl_shape2(3, D)); dl_status st; dl_gradcheck_result res;
        for (i = 0; i < 3 * D; i++) xb->data[i] = dl_rand_uniform(ctx) < 0.5f ? 1.0f : 0.0f;
        dl_nade_params(&m, p);
        tr_gc_nade = m; tr_gc_x = xb;
        st = dl_gradcheck(ctx, tr_nade_fn, NULL, p, 4, NULL, &res);
        T_EXPECT(st == DL_STATUS_OK && res.checked > 0, "%s", dl_gradcheck_message(ctx));
    }
    T_END();
    dl_ctx_free(ctx);
}

static void test_rbm_errors(void) {
    dl_ctx *ctx = tr_ctx(4 << 20, 8); dl_rbm r; dl_nade m; dl_tensor *v, *y, *g;
    T_BEGIN("rbm errors");
    tr_random_rbm(ctx, &r, 6, 4, DL_RBM_BINARY, 0.5f, 0.0f);
    v = dl_zeros(ctx, dl_shape2(3, 5));
    y = dl_rbm_free_energy(ctx, &r, v);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "dl_rbm_free_energy"), "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    v = dl_zeros(ctx, dl_shape2(3, 6)); g = dl_zeros(ctx, dl_shape2(4, 5));
    T_EXPECT(dl_rbm_cd_grad(ctx, &r, v, 1, NULL, g, r.b_v, r.b_h) < 0 && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_EXPECT(dl_rbm_cd_grad(ctx, &r, v, 0, NULL, r.W, r.b_v, r.b_h) < 0 && dl_ctx_status(ctx) == DL_STATUS_INVALID, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_EXPECT(isnan(dl_rbm_log_z_ais(ctx, &r, 0, 10, NULL, NULL)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    r.visible = DL_RBM_GAUSSIAN;
    T_EXPECT(isnan(dl_rbm_log_z_exact(ctx, &r, 1)) && dl_ctx_status(ctx) == DL_STATUS_UNSUPPORTED, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    r.visible = 7;
    y = dl_rbm_hidden_probs(ctx, &r, v);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    y = dl_rbm_gibbs(ctx, NULL, v, 1);
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_nade_init(ctx, &m, 6, 3);
    y = dl_nade_log_prob(ctx, &m, dl_zeros(ctx, dl_shape2(2, 5)));
    T_EXPECT(dl_is_poison(y) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_END();
    dl_ctx_free(ctx);
}

/* measure mode: the same calls allocate alike and touch no data */
static void test_rbm_measure(void) {
    dl_ctx_desc d; dl_ctx *ctx; dl_rbm r; dl_nade m; dl_tensor *v;
    T_BEGIN("rbm measure");
    memset(&d, 0, sizeof d); d.measure = 1; d.memory_size = 1 << 20;
    ctx = dl_ctx_init(&d);
    dl_rbm_init(ctx, &r, 20, 10, DL_RBM_BINARY, 0.1f);
    v = dl_zeros(ctx, dl_shape2(8, 20));
    dl_rbm_train_step(ctx, &r, v, NULL, NULL);
    dl_rbm_gibbs(ctx, &r, v, 3);
    dl_rbm_free_energy(ctx, &r, v);
    dl_rbm_log_z_ais(ctx, &r, 10, 10, NULL, NULL);
    dl_rbm_log_likelihood(ctx, &r, v, 0.0);
    dl_nade_init(ctx, &m, 20, 5);
    dl_backward(ctx, dl_sum_all(ctx, dl_nade_log_prob(ctx, &m, v)));
    dl_nade_sample(ctx, &m, 4);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_ctx_peak_bytes(ctx) > 8 * 20 * 4, "peak %zu", dl_ctx_peak_bytes(ctx));
    T_END();
    dl_ctx_free(ctx);
}

static void suite_rbm(void) {
    test_rbm_log_z_exact();
    test_rbm_ais();
    test_rbm_cd_converges();
    test_rbm_gibbs_tv();
    test_rbm_free_energy();
    test_rbm_train_step();
    test_nade();
    test_rbm_errors();
    test_rbm_measure();
}
