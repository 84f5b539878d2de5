/* tests/cuda/steps.h - training steps on the CUDA backend against the CPU, step replay
   (dl_step_run) against eager, the deterministic mode. W1 (MLP, SGD momentum) and W4
   (embedding + LSTM + linear, CE over every step, clip 5, Adam) at WORKLOADS.md's shapes
   on a GPU; smaller under the emulator (its GEMM is a plain triple loop). */
#if defined(DLC_EMULATE)
enum { T_IN = 64, T_H1 = 48, T_H2 = 32, T_C = 10, T_B = 16, T4_V = 13, T4_D = 8, T4_H = 16, T4_T = 6, T4_B = 4 };
#else
enum { T_IN = 784, T_H1 = 512, T_H2 = 256, T_C = 10, T_B = 128, T4_V = 65, T4_D = 64, T4_H = 256, T4_T = 64, T4_B = 32 };
#endif
typedef struct tmodel {
    int w;
    dl_linear l[3];
    dl_tensor *emb;
    dl_rnn rnn;
    dl_tensor *params[16];
    int np;
    dl_optim *opt;
    dl_tensor *x, *y;
    float loss;
    dl_tensor *loss_t;
    int64_t batch;
} tmodel;
/* the same numbers on every context: parameters and data from a fixed host RNG */
static void fill_host(dl_tensor *t, uint64_t seed, float scale) {
    int64_t i, n = t->numel; float *v = (float *)malloc(sizeof(float) * (size_t)n);
    uint64_t s = seed * 2654435761u + 1;
    for (i = 0; i < n; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; v[i] = scale * (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0); }
    dl_copy_from(t, v);
    free(v);
}
static void tmodel_init(dl_ctx *ctx, tmodel *m, int w, int64_t batch) {
    dl_optim_desc od; int k; int32_t *idx;
    memset(m, 0, sizeof *m); m->w = w; m->batch = batch;
    memset(&od, 0, sizeof od);
    if (w == 1) {
        dl_linear_init(ctx, &m->l[0], T_IN, T_H1, 1); dl_linear_init(ctx, &m->l[1], T_H1, T_H2, 1); dl_linear_init(ctx, &m->l[2], T_H2, T_C, 1);
        for (k = 0; k < 3; k++) { m->params[m->np++] = m->l[k].weight; m->params[m->np++] = m->l[k].bias; }
        od.kind = DL_SGD; od.lr = 0.05f; od.momentum = 0.9f;
        m->x = dl_empty(ctx, dl_shape2(batch, T_IN)); fill_host(m->x, 99, 1.0f);
        idx = (int32_t *)malloc(sizeof(int32_t) * (size_t)batch);
        for (k = 0; k < batch; k++) idx[k] = (k * 7 + 3) % T_C;
        m->y = dl_index_tensor(ctx, dl_shape1(batch), idx);
        free(idx);
    } else {
        m->emb = dl_empty(ctx, dl_shape2(T4_V, T4_D)); dl_requires_grad(ctx, m->emb, 1);
        dl_rnn_init(ctx, &m->rnn, DL_LSTM, T4_D, T4_H, 1, 0, 0.0f, 1);
        dl_linear_init(ctx, &m->l[0], T4_H, T4_V, 1);
        m->params[m->np++] = m->emb;
        m->np += dl_rnn_params(&m->rnn, m->params + m->np);
        m->params[m->np++] = m->l[0].weight; m->params[m->np++] = m->l[0].bias;
        od.kind = DL_ADAM; od.lr = 1e-3f;
        idx = (int32_t *)malloc(sizeof(int32_t) * (size_t)(T4_T * batch));
        for (k = 0; k < T4_T * batch; k++) idx[k] = (k * 11 + 5) % T4_V;
        m->x = dl_index_tensor(ctx, dl_shape2(T4_T, batch), idx);
        for (k = 0; k < T4_T * batch; k++) idx[k] = (k * 5 + 1) % T4_V;
        m->y = dl_index_tensor(ctx, dl_shape1(T4_T * batch), idx);
        free(idx);
    }
    for (k = 0; k < m->np; k++) fill_host(m->params[k], (uint64_t)(k + 1), w == 1 ? 0.05f : 0.2f);
    m->opt = dl_optim_new(ctx, &od, m->np);
    dl_optim_add(m->opt, m->params, m->np, NULL);
}
static void tmodel_step(dl_ctx *ctx, void *u) {
    tmodel *m = (tmodel *)u; dl_tensor *out, *x;
    dl_optim_zero_grad(m->opt);
    if (m->w == 1) {
        x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[0], m->x));
        x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[1], x));
        out = dl_linear_forward(ctx, &m->l[2], x);
    } else {
        dl_rnn_out o = dl_rnn_forward(ctx, &m->rnn, dl_embedding(ctx, m->emb, m->x, -1), NULL, NULL, NULL, 1);
        out = dl_linear_forward(ctx, &m->l[0], dl_reshape(ctx, o.y, dl_shape2(T4_T * m->batch, T4_H)));
    }
    m->loss_t = dl_cross_entropy(ctx, out, m->y, NULL);
    dl_backward(ctx, m->loss_t);
    if (m->w == 4) dl_clip_grad_norm(m->params, m->np, 5.0f);
    dl_optim_step(m->opt);
}
/* nsteps steps; losses[] filled; replay: through dl_step_run */
static int run_steps(dl_ctx *ctx, tmodel *m, int nsteps, float *losses, dl_step *st) {
    dl_mark mk = dl_ctx_mark(ctx); int i;
    for (i = 0; i < nsteps; i++) {
        if (st) dl_step_run(ctx, st, tmodel_step, m); else tmodel_step(ctx, m);
        losses[i] = dl_item(m->loss_t);
        dl_ctx_rewind(ctx, mk);
        if (dl_ctx_status(ctx)) return 0;
    }
    return 1;
}
static void params_of(tmodel *m, float *out) {
    int k; int64_t off = 0;
    for (k = 0; k < m->np; k++) { dl_copy_to(m->params[k], out + off); off += m->params[k]->numel; }
}
static int64_t params_numel(tmodel *m) { int k; int64_t n = 0; for (k = 0; k < m->np; k++) n += m->params[k]->numel; return n; }

static dl_ctx *fresh_gpu(int det) {
    dl_ctx_desc cd; memset(&cd, 0, sizeof cd);
    cd.memory_size = (size_t)128 << 20; cd.seed = 7; cd.backend = dl_cuda_backend(); cd.deterministic = det;
    return dl_ctx_init(&cd);
}
static dl_ctx *fresh_cpu(void) {
    dl_ctx_desc cd; memset(&cd, 0, sizeof cd);
    cd.memory_size = (size_t)128 << 20; cd.seed = 7;
    return dl_ctx_init(&cd);
}
/* W1/W4 on the GPU vs the CPU: losses of 5 steps and the final parameters */
static void test_vs_cpu(int w) {
    enum { N = 5 };
    dl_ctx *c = fresh_cpu(), *g = fresh_gpu(0); tmodel mc, mg; float lc[N], lg[N]; char name[160];
    double el = 0.0, ep; int i, okc, okg;
    snprintf(name, sizeof name, "W%d: %d training steps on cuda match the CPU", w, N);
    if (g_filter && !strstr(name, g_filter)) { dl_ctx_free(c); dl_ctx_free(g); return; }
    tmodel_init(c, &mc, w, w == 1 ? T_B : T4_B); tmodel_init(g, &mg, w, w == 1 ? T_B : T4_B);
    okc = run_steps(c, &mc, N, lc, NULL); okg = run_steps(g, &mg, N, lg, NULL);
    if (!okc || !okg) {
        char why[1024]; snprintf(why, sizeof why, "%s (cpu: %s; cuda: %s)", name, dl_ctx_message(c), dl_ctx_message(g));
        report(why, 0, "", 0, 0);
    } else {
        int64_t n = params_numel(&mc); float *pc = (float *)malloc(sizeof(float) * (size_t)n), *pg = (float *)malloc(sizeof(float) * (size_t)n);
        for (i = 0; i < N; i++) { double e = fabs((double)lc[i] - (double)lg[i]) / (fabs((double)lc[i]) + 1e-3); if (e > el) el = e; }
        params_of(&mc, pc); params_of(&mg, pg);
        ep = nerr(pg, pc, n);
        printf("# W%d losses cpu %.6f .. %.6f, cuda %.6f .. %.6f\n", w, (double)lc[0], (double)lc[N - 1], (double)lg[0], (double)lg[N - 1]);
        report(name, el < 1e-4 && ep < 1e-4, "(loss err %.2e, param err %.2e)", el, ep);
        free(pc); free(pg);
    }
    dl_ctx_free(c); dl_ctx_free(g);
}
/* replay: 6 steps through dl_step_run give the same bits as 6 eager steps (deterministic
   contexts: W4's embedding backward adds with atomics otherwise, in a varying order); then
   a smaller batch runs eagerly and the full batch replays again */
static void test_replay(int w) {
    enum { N = 6 };
    dl_ctx *a = fresh_gpu(1), *b = fresh_gpu(1); tmodel ma, mb; float la[N], lb[N]; dl_step st; char name[160];
    int i, same = 1;
    snprintf(name, sizeof name, "W%d: %d steps replayed as a CUDA graph equal eager, bit for bit", w, N);
    if (g_filter && !strstr(name, g_filter)) { dl_ctx_free(a); dl_ctx_free(b); return; }
    memset(&st, 0, sizeof st);
    tmodel_init(a, &ma, w, w == 1 ? T_B : T4_B); tmodel_init(b, &mb, w, w == 1 ? T_B : T4_B);
    if (!run_steps(a, &ma, N, la, NULL) || !run_steps(b, &mb, N, lb, &st)) {
        char why[1024]; snprintf(why, sizeof why, "%s (eager: %s; replay: %s)", name, dl_ctx_message(a), dl_ctx_message(b));
        report(why, 0, "", 0, 0);
    } else {
        int64_t n = params_numel(&ma); float *pa = (float *)malloc(sizeof(float) * (size_t)n), *pb = (float *)malloc(sizeof(float) * (size_t)n);
        for (i = 0; i < N; i++) if (memcmp(&la[i], &lb[i], sizeof(float))) same = 0;
        params_of(&ma, pa); params_of(&mb, pb);
        if (memcmp(pa, pb, sizeof(float) * (size_t)n)) same = 0;
        printf("# W%d replay: %d captures, %d replays, %d eager\n", w, st.captures, st.replays, st.eager);
        report(name, same && st.captures == 1 && st.replays == N - 1, "(param err %.2e, replays %.0f)", nerr(pb, pa, n), (double)st.replays);
        free(pa); free(pb);
        if (w == 1) {   /* shapes change: eager fallback, then the old graph again */
            tmodel small = mb; float l1; dl_mark mk = dl_ctx_mark(b); int ok;
            small.batch = T_B / 2;
            small.x = dl_reshape(b, dl_slice(b, mb.x, 0, 0, T_B / 2, 1), dl_shape2(T_B / 2, T_IN));
            {   int32_t lab[T_B]; int j; for (j = 0; j < T_B / 2; j++) lab[j] = (j * 7 + 3) % T_C;
                small.y = dl_index_tensor(b, dl_shape1(T_B / 2), lab); }
            small.x = dl_contiguous(b, small.x);
            {   dl_mark m2 = dl_ctx_mark(b);
                dl_step_run(b, &st, tmodel_step, &small); l1 = dl_item(small.loss_t); dl_ctx_rewind(b, m2); }
            dl_ctx_rewind(b, mk);
            {   dl_mark m3 = dl_ctx_mark(b);
                dl_step_run(b, &st, tmodel_step, &mb); dl_ctx_rewind(b, m3); }
            ok = dl_ctx_status(b) == DL_STATUS_OK && st.eager == 1 && st.replays == N && l1 == l1;
            report("W1: a smaller batch inside dl_step_run runs eagerly, then the graph replays", ok,
                   "(eager %.0f, replays %.0f)", (double)st.eager, (double)st.replays);
        }
    }
    dl_step_free(b, &st);
    dl_ctx_free(a); dl_ctx_free(b);
}
/* deterministic mode: two fresh runs, the same bits */
static void test_deterministic(int w) {
    enum { N = 3 };
    dl_ctx *a = fresh_gpu(1), *b = fresh_gpu(1); tmodel ma, mb; float la[N], lb[N]; char name[160];
    snprintf(name, sizeof name, "W%d: deterministic mode gives identical bits twice", w);
    if (g_filter && !strstr(name, g_filter)) { dl_ctx_free(a); dl_ctx_free(b); return; }
    tmodel_init(a, &ma, w, w == 1 ? T_B : T4_B); tmodel_init(b, &mb, w, w == 1 ? T_B : T4_B);
    if (!run_steps(a, &ma, N, la, NULL) || !run_steps(b, &mb, N, lb, NULL)) {
        char why[1024]; snprintf(why, sizeof why, "%s (%s; %s)", name, dl_ctx_message(a), dl_ctx_message(b));
        report(why, 0, "", 0, 0);
    } else {
        int64_t n = params_numel(&ma); float *pa = (float *)malloc(sizeof(float) * (size_t)n), *pb = (float *)malloc(sizeof(float) * (size_t)n);
        params_of(&ma, pa); params_of(&mb, pb);
        report(name, !memcmp(pa, pb, sizeof(float) * (size_t)n) && !memcmp(la, lb, sizeof la), "(param err %.2e)", nerr(pb, pa, n), 0);
        free(pa); free(pb);
    }
    dl_ctx_free(a); dl_ctx_free(b);
}
/* an op without a kernel reports DL_STATUS_UNSUPPORTED with its name; nothing aborts.
   A copy of the table with one slot emptied stands for a backend that lacks a kernel. */
static void test_unsupported(void) {
    static dl_backend partial;
    dl_ctx_desc cd; dl_ctx *g; dl_tensor *x, *y; int ok;
    if (g_filter && !strstr("unsupported", g_filter)) return;
    partial = *dl_cuda_backend();
    partial.fwd[DL__OP_relu] = NULL;
    memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)1 << 20; cd.backend = &partial;
    g = dl_ctx_init(&cd);
    x = dl_from_data(g, dl_shape1(4), (const float[]){1, -2, 3, -4});
    y = dl_relu(g, x);
    printf("# %s: %s\n", dl_status_name(dl_ctx_status(g)), dl_ctx_message(g));
    ok = dl_is_poison(y) && dl_ctx_status(g) == DL_STATUS_UNSUPPORTED && strstr(dl_ctx_message(g), "dl_relu") != NULL;
    report("an op without a kernel: DL_STATUS_UNSUPPORTED naming the op", ok, "", 0, 0);
    dl_ctx_clear_error(g);
    y = dl_exp(g, x);           /* the context goes on working after clearing the error */
    report("  ... and the context still runs other ops", !dl_ctx_status(g) && fabs((double)dl_get(y, 1) - exp(-2.0)) < 1e-6, "", 0, 0);
    dl_ctx_free(g);
}
/* global-norm clipping on the device: the norm and the scaled gradients equal the CPU's */
static void test_clip(void) {
    dl_ctx *c = fresh_cpu(), *g = fresh_gpu(0); dl_ctx *cx[2]; dl_tensor *p[2][3]; float norm[2]; int s, k;
    double e = 0.0;
    if (g_filter && !strstr("dl_clip_grad_norm", g_filter)) { dl_ctx_free(c); dl_ctx_free(g); return; }
    cx[0] = c; cx[1] = g;
    for (s = 0; s < 2; s++) {
        dl_tensor *loss = NULL;
        p[s][0] = dl_empty(cx[s], dl_shape2(300, 70)); p[s][1] = dl_empty(cx[s], dl_shape1(70)); p[s][2] = dl_empty(cx[s], dl_shape3(2, 3, 5));
        for (k = 0; k < 3; k++) {
            dl_tensor *t;
            fill_host(p[s][k], (uint64_t)(k + 11), 1.0f); dl_requires_grad(cx[s], p[s][k], 1);
            t = dl_sum_all(cx[s], dl_mul_scalar(cx[s], dl_square(cx[s], p[s][k]), 3.0f));
            loss = loss ? dl_add(cx[s], loss, t) : t;
        }
        dl_backward(cx[s], loss);
        norm[s] = dl_clip_grad_norm(p[s], 3, 5.0f);
    }
    for (k = 0; k < 3; k++) {
        int64_t n = p[0][k]->numel, j; float *a = (float *)malloc(sizeof(float) * (size_t)n), *b = (float *)malloc(sizeof(float) * (size_t)n); double ek;
        for (j = 0; j < n; j++) { a[j] = dl_grad_get(p[0][k], j); b[j] = dl_grad_get(p[1][k], j); }
        ek = nerr(b, a, n); if (ek > e) e = ek;
        free(a); free(b);
    }
    report("dl_clip_grad_norm on cuda: norm and clipped gradients equal the CPU's", !dl_ctx_status(g) && fabs((double)norm[0] - (double)norm[1]) <= 1e-5 * (double)norm[0] && e < 1e-5,
           "(norm err %.2e, grad err %.2e)", fabs((double)norm[0] - (double)norm[1]) / (double)norm[0], e);
    dl_ctx_free(c); dl_ctx_free(g);
}
static void run_step_tests(void) {
    test_clip();
    test_vs_cpu(1);
    test_replay(1);
    test_deterministic(1);
    test_vs_cpu(4);
    test_replay(4);
    test_deterministic(4);
    test_unsupported();
}
