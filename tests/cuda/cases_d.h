/* tests/cuda/cases_d.h - recurrent layers (DL__OP_rnn) through dl_rnn_forward / dl_rnn_layer:
   RNN tanh / relu, LSTM, GRU; 1 and 2 layers; uni- and bidirectional; with and without
   bias; with and without lengths (mixed, and all shorter than T); h0 / c0 absent, given with
   grad, given without grad, c0 alone. Compares y, h_n, c_n and the gradients of x, h0, c0
   and every parameter (three backward sweeps: from y, h_n and c_n, each with its own dy). */

/* one configuration */
typedef struct dcase { int mode, layers, bidir, bias, lens, st; } dcase;   /* st: 0 none, 1 h0 (+c0) grad, 2 no grad, 3 c0 only */
enum { DT = 5, DB = 3, DD = 4, DH = 6 };
typedef struct dside { dl_rnn r; dl_tensor *x, *h0, *c0, *len, *params[4 * 2 * DL_RNN_MAX_LAYERS]; int np; dl_rnn_out o; } dside;
static void d_fill(dl_tensor *t, uint64_t seed, float scale) {
    int64_t i, n = t->numel; float *v = (float *)malloc(sizeof(float) * (size_t)n); uint64_t s = seed * 2654435761u + 12345;
    for (i = 0; i < n; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; v[i] = scale * (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0); }
    dl_copy_from(t, v);
    free(v);
}
static int d_build(dl_ctx *ctx, const dcase *c, const int32_t *lens, dside *s) {
    int k, LD = c->layers * (c->bidir ? 2 : 1);
    memset(s, 0, sizeof *s);
    dl_rnn_init(ctx, &s->r, (dl_rnn_mode)c->mode, DD, DH, c->layers, c->bidir, 0.0f, c->bias);
    s->np = dl_rnn_params(&s->r, s->params);
    for (k = 0; k < s->np; k++) d_fill(s->params[k], (uint64_t)(k + 1), 0.5f);
    s->x = dl_empty(ctx, dl_shape3(DT, DB, DD)); d_fill(s->x, 101, 1.0f); dl_requires_grad(ctx, s->x, 1);
    if (c->st == 1 || c->st == 2) {
        s->h0 = dl_empty(ctx, dl_shape3(LD, DB, DH)); d_fill(s->h0, 202, 0.8f);
        if (c->st == 1) dl_requires_grad(ctx, s->h0, 1);
    }
    if (c->mode == DL_LSTM && c->st != 0) {
        s->c0 = dl_empty(ctx, dl_shape3(LD, DB, DH)); d_fill(s->c0, 303, 0.8f);
        if (c->st != 2) dl_requires_grad(ctx, s->c0, 1);
    }
    if (c->lens) s->len = dl_index_tensor(ctx, dl_shape1(DB), lens);
    s->o = dl_rnn_forward(ctx, &s->r, s->x, s->h0, s->c0, s->len, 0);
    return dl_ctx_status(ctx) == DL_STATUS_OK;
}
static double d_cmp(dl_tensor *a, dl_tensor *b) {
    int64_t n = a->numel; double e; float *va, *vb;
    if (!b || a->numel != b->numel) return INFINITY;
    va = (float *)malloc(sizeof(float) * (size_t)n); vb = (float *)malloc(sizeof(float) * (size_t)n);
    dl_copy_to(a, va); dl_copy_to(b, vb);
    e = nerr(vb, va, n); free(va); free(vb);
    return e;
}
static double d_cmp_grad(dl_tensor *a, dl_tensor *b) {
    int64_t n, j; double e; float *ga, *gb;
    if (!a || !a->grad) return 0.0;
    if (!b->grad) return INFINITY;
    n = a->numel; ga = (float *)malloc(sizeof(float) * (size_t)n); gb = (float *)malloc(sizeof(float) * (size_t)n);
    for (j = 0; j < n; j++) { ga[j] = dl_grad_get(a, j); gb[j] = dl_grad_get(b, j); }
    e = nerr(gb, ga, n); free(ga); free(gb);
    return e;
}
static void d_backward(dl_tensor *ya, dl_tensor *yb) {
    int64_t n = ya->numel, i; float *dy = (float *)malloc(sizeof(float) * (size_t)n);
    for (i = 0; i < n; i++) dy[i] = nrand();
    dl_backward_with(g_cpu, ya, dy); dl_backward_with(g_gpu, yb, dy);
    free(dy);
}
static void d_run(const dcase *c, const char *name) {
    static const int32_t lens_a[DB] = { DT, 2, 1 }, lens_b[DB] = { 3, 1, 2 };   /* b: every length < T */
    const int32_t *lens = c->lens == 2 ? lens_b : lens_a;
    dl_mark ma = dl_ctx_mark(g_cpu), mb = dl_ctx_mark(g_gpu); dside a, b; double worst = 0.0, e, tol = 1e-4; int k; char msg[1200];
    if (g_filter && !strstr(name, g_filter)) return;
    if (!d_build(g_cpu, c, lens, &a)) { snprintf(msg, sizeof msg, "%s (cpu: %s)", name, dl_ctx_message(g_cpu)); report(msg, 0, "", 0, 0); goto done; }
    if (!d_build(g_gpu, c, lens, &b)) { snprintf(msg, sizeof msg, "%s (cuda: %s)", name, dl_ctx_message(g_gpu)); report(msg, 0, "", 0, 0); goto done; }
    e = d_cmp(a.o.y, b.o.y); if (e > worst) worst = e;
    e = d_cmp(a.o.h, b.o.h); if (e > worst) worst = e;
    if (c->mode == DL_LSTM) { e = d_cmp(a.o.c, b.o.c); if (e > worst) worst = e; }
    d_backward(a.o.y, b.o.y);
    d_backward(a.o.h, b.o.h);
    if (c->mode == DL_LSTM) d_backward(a.o.c, b.o.c);
    if (dl_ctx_status(g_gpu) || dl_ctx_status(g_cpu)) {
        snprintf(msg, sizeof msg, "%s backward (cpu: %s; cuda: %s)", name, dl_ctx_message(g_cpu), dl_ctx_message(g_gpu)); report(msg, 0, "", 0, 0); goto done;
    }
    e = d_cmp_grad(a.x, b.x); if (e > worst) worst = e;
    e = d_cmp_grad(a.h0, b.h0); if (e > worst) worst = e;
    e = d_cmp_grad(a.c0, b.c0); if (e > worst) worst = e;
    for (k = 0; k < a.np; k++) { e = d_cmp_grad(a.params[k], b.params[k]); if (e > worst) worst = e; }
    if (c->st == 1 && !(a.h0->grad && b.h0->grad)) worst = INFINITY;    /* the gradients did arrive */
    report(name, worst <= tol && dl_ctx_status(g_gpu) == DL_STATUS_OK, "(err %.2e, tol %.0e)", worst, tol);
done:
    dl_ctx_clear_error(g_cpu); dl_ctx_clear_error(g_gpu);
    dl_ctx_rewind(g_cpu, ma); dl_ctx_rewind(g_gpu, mb);
}
/* one layer called directly, reverse, without bias, with lengths and h0 only: the raw op */
static void d_layer_case(int mode, int reverse) {
    static const int32_t lens[DB] = { 4, DT, 2 };
    dl_mark ma = dl_ctx_mark(g_cpu), mb = dl_ctx_mark(g_gpu); dl_ctx *cx[2]; dl_tensor *t[2][5]; dl_rnn_out o[2]; int q, k;
    double worst = 0.0, e; char name[128]; const int G = mode == DL_LSTM ? 4 : mode == DL_GRU ? 3 : 1;
    static const char *mn[4] = { "tanh", "relu", "lstm", "gru" };
    snprintf(name, sizeof name, "dl_rnn_layer %s%s lengths, h0, no bias", mn[mode], reverse ? " reverse" : "");
    if (g_filter && !strstr(name, g_filter)) return;
    cx[0] = g_cpu; cx[1] = g_gpu;
    for (q = 0; q < 2; q++) {
        dl_ctx *ctx = cx[q]; dl_tensor *len;
        t[q][0] = dl_empty(ctx, dl_shape3(DT, DB, DD)); t[q][1] = dl_empty(ctx, dl_shape2(DB, DH));
        t[q][2] = dl_empty(ctx, dl_shape2(G * DH, DD)); t[q][3] = dl_empty(ctx, dl_shape2(G * DH, DH));
        for (k = 0; k < 4; k++) { d_fill(t[q][k], (uint64_t)(50 + k), k < 2 ? 1.0f : 0.5f); dl_requires_grad(ctx, t[q][k], 1); }
        len = dl_index_tensor(ctx, dl_shape1(DB), lens);
        o[q] = dl_rnn_layer(ctx, (dl_rnn_mode)mode, t[q][0], t[q][1], NULL, t[q][2], t[q][3], NULL, NULL, len, reverse);
    }
    if (dl_ctx_status(g_cpu) || dl_ctx_status(g_gpu)) {
        char msg[1200]; snprintf(msg, sizeof msg, "%s (cpu: %s; cuda: %s)", name, dl_ctx_message(g_cpu), dl_ctx_message(g_gpu)); report(msg, 0, "", 0, 0);
    } else {
        e = d_cmp(o[0].y, o[1].y); if (e > worst) worst = e;
        e = d_cmp(o[0].h, o[1].h); if (e > worst) worst = e;
        d_backward(o[0].y, o[1].y);
        d_backward(o[0].h, o[1].h);
        if (mode == DL_LSTM) { e = d_cmp(o[0].c, o[1].c); if (e > worst) worst = e; d_backward(o[0].c, o[1].c); }
        for (k = 0; k < 4; k++) { e = d_cmp_grad(t[0][k], t[1][k]); if (e > worst) worst = e; }
        report(name, worst <= 1e-4 && !dl_ctx_status(g_gpu), "(err %.2e, tol %.0e)", worst, 1e-4);
    }
    dl_ctx_clear_error(g_cpu); dl_ctx_clear_error(g_gpu);
    dl_ctx_rewind(g_cpu, ma); dl_ctx_rewind(g_gpu, mb);
}
/* step replay: an LSTM (2 layers, bidirectional, lengths) trained 4 steps with SGD through
   dl_step_run equals 4 eager steps bit for bit (one capture, then replays) */
typedef struct dstep { dside s; dl_optim *opt; float *dy; int64_t ny; } dstep;
static void d_step_fn(dl_ctx *ctx, void *u) {
    dstep *m = (dstep *)u;
    dl_optim_zero_grad(m->opt);
    m->s.o = dl_rnn_forward(ctx, &m->s.r, m->s.x, m->s.h0, m->s.c0, m->s.len, 0);
    dl_backward_with(ctx, m->s.o.y, m->dy);
    dl_optim_step(m->opt);
}
static void d_replay_case(void) {
    enum { N = 4 };
    static const int32_t lens[DB] = { DT, 2, 4 };
    const char *name = "dl_rnn lstm L2 bidir lengths: 4 SGD steps replayed as a graph equal eager, bit for bit";
    dl_ctx *cx[2]; dstep m[2]; dl_step st; int q, i, k, same = 1; dcase c;
    if (g_filter && !strstr(name, g_filter)) return;
    c.mode = DL_LSTM; c.layers = 2; c.bidir = 1; c.bias = 1; c.lens = 1; c.st = 1;
    memset(&st, 0, sizeof st);
    for (q = 0; q < 2; q++) {
        dl_ctx_desc cd; dl_optim_desc od; dl_mark mk;
        memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)64 << 20; cd.seed = 7; cd.backend = dl_cuda_backend();
        cx[q] = dl_ctx_init(&cd);
        if (!cx[q]) { report(name, 0, "(no context)", 0, 0); if (q) dl_ctx_free(cx[0]); return; }
        memset(&m[q], 0, sizeof m[q]); memset(&od, 0, sizeof od); od.kind = DL_SGD; od.lr = 0.1f; od.momentum = 0.9f;
        m[q].opt = dl_optim_new(cx[q], &od, 4 * 2 * DL_RNN_MAX_LAYERS);
        d_build(cx[q], &c, lens, &m[q].s);   /* parameters, x, h0, c0, lengths (its graph is dropped below) */
        dl_optim_add(m[q].opt, m[q].s.params, m[q].s.np, NULL);
        m[q].ny = m[q].s.o.y->numel; m[q].dy = (float *)malloc(sizeof(float) * (size_t)m[q].ny);
        for (i = 0; i < m[q].ny; i++) m[q].dy[i] = (float)((i * 37 % 11) - 5) * 0.1f;
        mk = dl_ctx_mark(cx[q]);
        for (i = 0; i < N; i++) {
            if (q) dl_step_run(cx[q], &st, d_step_fn, &m[q]); else d_step_fn(cx[q], &m[q]);
            dl_ctx_sync(cx[q]);
            dl_ctx_rewind(cx[q], mk);
        }
    }
    if (dl_ctx_status(cx[0]) || dl_ctx_status(cx[1])) {
        char msg[1200]; snprintf(msg, sizeof msg, "%s (eager: %s; replay: %s)", name, dl_ctx_message(cx[0]), dl_ctx_message(cx[1]));
        report(msg, 0, "", 0, 0);
    } else {
        double e = 0.0;
        for (k = 0; k < m[0].s.np; k++) {
            int64_t n = m[0].s.params[k]->numel; float *pa = (float *)malloc(sizeof(float) * (size_t)n), *pb = (float *)malloc(sizeof(float) * (size_t)n);
            dl_copy_to(m[0].s.params[k], pa); dl_copy_to(m[1].s.params[k], pb);
            if (memcmp(pa, pb, sizeof(float) * (size_t)n)) same = 0;
            if (nerr(pb, pa, n) > e) e = nerr(pb, pa, n);
            free(pa); free(pb);
        }
        printf("# rnn replay: %d captures, %d replays, %d eager\n", st.captures, st.replays, st.eager);
        report(name, same && st.captures == 1 && st.replays == N - 1, "(param err %.2e, replays %.0f)", e, (double)st.replays);
    }
    dl_step_free(cx[1], &st);
    for (q = 0; q < 2; q++) { free(m[q].dy); dl_ctx_free(cx[q]); }
}
static void run_d_cases(void) {
    static const char *mn[4] = { "tanh", "relu", "lstm", "gru" };
    static const char *sn[4] = { "no h0", "h0 grad", "h0 no grad", "c0 only" };
    int mode, layers, bidir, bias, lens, idx = 0; char name[200];
    for (mode = 0; mode < 4; mode++) for (layers = 1; layers <= 2; layers++) for (bidir = 0; bidir < 2; bidir++)
    for (bias = 0; bias < 2; bias++) for (lens = 0; lens < 2; lens++) {
        dcase c; c.mode = mode; c.layers = layers; c.bidir = bidir; c.bias = bias;
        c.lens = lens ? 1 + (idx / 2) % 2 : 0;
        c.st = idx % (mode == DL_LSTM ? 4 : 3); idx++;
        snprintf(name, sizeof name, "dl_rnn %s L%d %s %s %s %s", mn[mode], layers, bidir ? "bidir" : "uni", bias ? "bias" : "no bias",
                 c.lens == 0 ? "full" : c.lens == 1 ? "lengths" : "lengths<T", sn[c.st]);
        d_run(&c, name);
    }
    for (mode = 0; mode < 4; mode++) { d_layer_case(mode, 0); d_layer_case(mode, 1); }
    d_replay_case();
}
