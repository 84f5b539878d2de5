/* tests/cuda/cases_c.h - embedding (atomic and deterministic backward, padding_idx),
   batch norm (train / eval, 1d / 2d, affine or not, the running-statistics update),
   layer norm, group norm, instance norm */
static dl_tensor *b_embedding(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_embedding(ctx, in[0], in[1], c->iarg[0]); }

/* affine mode: 0 none, 1 gamma and beta, 2 gamma only, 3 beta only (inputs 1, 2) */
static dl_tensor *c_gamma(dl_tensor **in, const opcase *c) { return (c->iarg[1] == 1 || c->iarg[1] == 2) ? in[1] : NULL; }
static dl_tensor *c_beta(dl_tensor **in, const opcase *c) { return (c->iarg[1] == 1 || c->iarg[1] == 3) ? in[2] : NULL; }
static void c_running(int64_t C, float *rm, float *rv) {
    int64_t k;
    for (k = 0; k < C; k++) { rm[k] = 0.1f * (float)(k % 5) - 0.2f; rv[k] = 0.5f + 0.25f * (float)(k % 4); }
}
/* iarg: 0 train, 1 affine mode, 2 running statistics; farg: momentum, eps */
static dl_tensor *b_batch_norm(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    float rm[64], rv[64]; int64_t C = in[0]->shape[1]; dl_tensor *tm = NULL, *tv = NULL;
    c_running(C, rm, rv);
    if (c->iarg[2]) { tm = dl_from_data(ctx, S1(C), rm); tv = dl_from_data(ctx, S1(C), rv); }
    return dl_batch_norm(ctx, in[0], c_gamma(in, c), c_beta(in, c), tm, tv, c->iarg[0], c->farg[0], c->farg[1]);
}
/* iarg: 0 ndims, 1 affine mode; farg[1] eps */
static dl_tensor *b_layer_norm(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_layer_norm(ctx, in[0], c->iarg[0], c_gamma(in, c), c_beta(in, c), c->farg[1]); }
/* iarg: 0 groups (0: instance norm), 1 affine mode */
static dl_tensor *b_group_norm(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    if (!c->iarg[0]) return dl_instance_norm(ctx, in[0], c_gamma(in, c), c_beta(in, c), c->farg[1]);
    return dl_group_norm(ctx, in[0], c->iarg[0], c_gamma(in, c), c_beta(in, c), c->farg[1]);
}

/* dl_batchnorm_forward (the layer API): two training steps update the running statistics on
   the device, then eval uses them; running stats, outputs and grads compared with the CPU */
static void c_bn_layer_check(const char *name, dl_shape xs, int steps) {
    dl_ctx *cx[2] = { g_cpu, g_gpu }; dl_batchnorm bn[2]; dl_tensor *y[2] = {0}, *ye[2] = {0};
    dl_mark mk[2]; int64_t C = xs.d[1], n = numel_of(xs), i; int k, s; double worst = 0.0;
    float *xv = (float *)malloc(sizeof(float) * (size_t)n), *dy = (float *)malloc(sizeof(float) * (size_t)n);
    float *out[2][5];
    if (g_filter && !strstr(name, g_filter)) { free(xv); free(dy); return; }
    for (i = 0; i < n; i++) { xv[i] = 2.0f * nrand() + 0.5f; dy[i] = nrand(); }
    for (k = 0; k < 2; k++) {
        dl_ctx *ctx = cx[k]; dl_tensor *x;
        mk[k] = dl_ctx_mark(ctx);
        dl_batchnorm_init(ctx, &bn[k], C);
        bn[k].momentum = 0.3f;
        x = dl_from_data(ctx, xs, xv);
        dl_requires_grad(ctx, x, 1);
        for (s = 0; s < steps; s++) y[k] = dl_batchnorm_forward(ctx, &bn[k], dl_mul_scalar(ctx, x, 1.0f + 0.5f * (float)s), 1);
        dl_backward_with(ctx, y[k], dy);
        ye[k] = dl_batchnorm_forward(ctx, &bn[k], x, 0);
        out[k][0] = (float *)malloc(sizeof(float) * (size_t)C); dl_copy_to(bn[k].running_mean, out[k][0]);
        out[k][1] = (float *)malloc(sizeof(float) * (size_t)C); dl_copy_to(bn[k].running_var, out[k][1]);
        out[k][2] = (float *)malloc(sizeof(float) * (size_t)n); dl_copy_to(y[k], out[k][2]);
        out[k][3] = (float *)malloc(sizeof(float) * (size_t)n); dl_copy_to(ye[k], out[k][3]);
        out[k][4] = (float *)malloc(sizeof(float) * (size_t)(n + 2 * C));
        for (i = 0; i < n; i++) out[k][4][i] = dl_grad_get(x, i);
        for (i = 0; i < C; i++) { out[k][4][n + i] = dl_grad_get(bn[k].weight, i); out[k][4][n + C + i] = dl_grad_get(bn[k].bias, i); }
    }
    if (dl_ctx_status(g_cpu) || dl_ctx_status(g_gpu)) {
        char nm[1200]; snprintf(nm, sizeof nm, "%s (cpu: %s; cuda: %s)", name, dl_ctx_message(g_cpu), dl_ctx_message(g_gpu));
        report(nm, 0, "", 0, 0);
    } else {
        const int64_t len[5] = { C, C, n, n, n + 2 * C };
        for (i = 0; i < 5; i++) { double e = nerr(out[1][i], out[0][i], len[i]); if (e > worst) worst = e; }
        report(name, worst <= 1e-4, "(err %.2e, tol %.0e)", worst, 1e-4);
    }
    for (k = 0; k < 2; k++) { for (i = 0; i < 5; i++) free(out[k][i]); dl_ctx_clear_error(cx[k]); dl_ctx_rewind(cx[k], mk[k]); }
    free(xv); free(dy);
}

/* a training step through every op here: embedding -> layer norm -> matmul -> batch norm
   (train, running stats) -> group norm, backward with a fixed dy, SGD momentum. Eager on
   the CPU vs eager on cuda, and eager vs dl_step_run replay (deterministic contexts, bit
   for bit, running statistics included) */
enum { C_V = 11, C_D = 12, C_H = 8, C_B = 6, C_NP = 8 };
typedef struct cmodel { dl_tensor *p[C_NP], *rm, *rv, *idx; dl_optim *opt; float dy[C_B * C_H]; } cmodel;
static void c_fill(dl_tensor *t, uint64_t seed, float scale) {   /* the same numbers on every context */
    int64_t i, n = t->numel; float *v = (float *)malloc(sizeof(float) * (size_t)n);
    uint64_t s = seed * 2654435761u + 1;
    for (i = 0; i < n; i++) { s ^= s << 13; s ^= s >> 7; s ^= s << 17; v[i] = scale * (float)((double)(s >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0); }
    dl_copy_from(t, v);
    free(v);
}
static dl_ctx *c_ctx(int backend, int det) {
    dl_ctx_desc cd; memset(&cd, 0, sizeof cd);
    cd.memory_size = (size_t)32 << 20; cd.seed = 7; cd.deterministic = det;
    if (backend) cd.backend = dl_cuda_backend();
    return dl_ctx_init(&cd);
}
static void cmodel_init(dl_ctx *ctx, cmodel *m) {
    static const int64_t sz[C_NP][2] = { { C_V, C_D }, { C_D, 0 }, { C_D, 0 }, { C_D, C_H }, { C_H, 0 }, { C_H, 0 }, { C_H, 0 }, { C_H, 0 } };
    int32_t idx[C_B] = { 3, 0, 7, 3, 10, 3 }; dl_optim_desc od; int k;
    memset(m, 0, sizeof *m);
    for (k = 0; k < C_NP; k++) {
        m->p[k] = sz[k][1] ? dl_empty(ctx, dl_shape2(sz[k][0], sz[k][1])) : dl_empty(ctx, dl_shape1(sz[k][0]));
        dl_requires_grad(ctx, m->p[k], 1);
        c_fill(m->p[k], (uint64_t)(k + 31), 0.8f);
    }
    m->rm = dl_zeros(ctx, dl_shape1(C_H)); m->rv = dl_ones(ctx, dl_shape1(C_H));
    m->idx = dl_index_tensor(ctx, dl_shape1(C_B), idx);
    for (k = 0; k < C_B * C_H; k++) m->dy[k] = (float)((k * 37) % 11) / 11.0f - 0.5f;
    memset(&od, 0, sizeof od); od.kind = DL_SGD; od.lr = 0.05f; od.momentum = 0.9f;
    m->opt = dl_optim_new(ctx, &od, C_NP);
    dl_optim_add(m->opt, m->p, C_NP, NULL);
}
static void cmodel_step(dl_ctx *ctx, void *u) {
    cmodel *m = (cmodel *)u; dl_tensor *h;
    dl_optim_zero_grad(m->opt);
    h = dl_embedding(ctx, m->p[0], m->idx, 0);
    h = dl_layer_norm(ctx, h, 1, m->p[1], m->p[2], 0.0f);
    h = dl_matmul(ctx, h, m->p[3]);
    h = dl_batch_norm(ctx, h, m->p[4], m->p[5], m->rm, m->rv, 1, 0.2f, 0.0f);
    h = dl_group_norm(ctx, h, 2, m->p[6], m->p[7], 0.0f);
    dl_backward_with(ctx, h, m->dy);
    dl_optim_step(m->opt);
}
static int64_t cmodel_state(cmodel *m, float *out) {   /* parameters, then running stats */
    int64_t off = 0; int k;
    for (k = 0; k < C_NP; k++) { if (out) dl_copy_to(m->p[k], out + off); off += m->p[k]->numel; }
    if (out) { dl_copy_to(m->rm, out + off); dl_copy_to(m->rv, out + off + C_H); }
    return off + 2 * C_H;
}
static void c_step_check(void) {
    enum { N = 5 };
    dl_ctx *cx[4]; cmodel m[4]; dl_step st; int k, i; int64_t n; float *out[4]; int ok = 1;
    const char *name = "norms + embedding: training steps (cpu vs cuda; eager vs replay, bit for bit)";
    if (g_filter && !strstr(name, g_filter)) return;
    cx[0] = c_ctx(0, 0); cx[1] = c_ctx(1, 0); cx[2] = c_ctx(1, 1); cx[3] = c_ctx(1, 1);
    memset(&st, 0, sizeof st);
    for (k = 0; k < 4; k++) {
        dl_mark mk;
        if (!cx[k]) { ok = 0; continue; }
        cmodel_init(cx[k], &m[k]);
        mk = dl_ctx_mark(cx[k]);
        for (i = 0; i < N; i++) {
            if (k == 3) dl_step_run(cx[k], &st, cmodel_step, &m[k]); else cmodel_step(cx[k], &m[k]);
            dl_ctx_rewind(cx[k], mk);
        }
        if (dl_ctx_status(cx[k])) { printf("# context %d: %s\n", k, dl_ctx_message(cx[k])); ok = 0; }
    }
    n = cmodel_state(&m[0], NULL);
    for (k = 0; k < 4; k++) { out[k] = (float *)calloc((size_t)n, sizeof(float)); if (ok) cmodel_state(&m[k], out[k]); }
    {   double e1 = ok ? nerr(out[1], out[0], n) : INFINITY, e2 = ok ? nerr(out[2], out[0], n) : INFINITY;
        int same = ok && !memcmp(out[2], out[3], sizeof(float) * (size_t)n);
        printf("# replay: %d captures, %d replays\n", st.captures, st.replays);
        report(name, ok && e1 < 1e-4 && e2 < 1e-4 && same && st.replays == N - 1, "(cpu err %.2e, replay bitwise %.0f)", e1 > e2 ? e1 : e2, (double)same);
    }
    if (cx[3]) dl_step_free(cx[3], &st);
    for (k = 0; k < 4; k++) { free(out[k]); if (cx[k]) dl_ctx_free(cx[k]); }
}

static void run_c_cases(void) {
    static const char *aff[4] = { "no affine", "affine", "gamma only", "beta only" };
    char names[96][96]; int k = 0, i, a;
    /* ---- embedding: atomic backward on g_gpu, then the ordered one on a deterministic context */
    {   dl_ctx *keep = g_gpu, *det; dl_ctx_desc cd; int pass;
        memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)64 << 20; cd.seed = 7; cd.backend = dl_cuda_backend(); cd.deterministic = 1;
        det = dl_ctx_init(&cd);
        for (pass = 0; pass < 2; pass++) {
            const char *tag = pass ? "deterministic" : "atomic";
            opcase c; memset(&c, 0, sizeof c);
            if (pass) { if (!det) { report("dl_embedding deterministic context", 0, "", 0, 0); break; } g_gpu = det; }
            c.nin = 2; c.kind[0] = 'f'; c.kind[1] = 'i'; c.build = b_embedding;
            c.shape[0] = S2(7, 5); c.shape[1] = S1(13); c.range[1] = 7; c.iarg[0] = -1;
            snprintf(names[k], sizeof names[k], "dl_embedding %s [13] of [7,5]", tag); c.name = names[k++]; run_case(&c);
            c.shape[1] = S2(3, 6); c.iarg[0] = 2;
            snprintf(names[k], sizeof names[k], "dl_embedding %s [3,6] padding_idx 2", tag); c.name = names[k++]; run_case(&c);
            c.shape[0] = S2(11, 37); c.shape[1] = S3(2, 3, 5); c.range[1] = 9; c.iarg[0] = 0;   /* rows 9, 10 unused */
            snprintf(names[k], sizeof names[k], "dl_embedding %s [2,3,5] of [11,37] padding_idx 0", tag); c.name = names[k++]; run_case(&c);
            c.shape[0] = S2(3, 300); c.shape[1] = S1(40); c.range[1] = 3; c.iarg[0] = -1;          /* many repeats, > 256 columns */
            snprintf(names[k], sizeof names[k], "dl_embedding %s [40] of [3,300]", tag); c.name = names[k++]; run_case(&c);
        }
        g_gpu = keep;
        if (det) dl_ctx_free(det);
    }
    /* ---- batch norm */
    {   static const int nd[3] = { 2, 3, 4 };
        for (i = 0; i < 3; i++) for (a = 0; a < 4; a++) {
            int train;
            for (train = 0; train < 2; train++) {
                int run;
                for (run = 0; run < 2; run++) {
                    opcase c; memset(&c, 0, sizeof c);
                    if (!train && !run) continue;                    /* eval needs running statistics */
                    if (a >= 2 && run == 0) continue;
                    c.nin = 3; c.kind[0] = c.kind[1] = c.kind[2] = 'f'; c.build = b_batch_norm; c.tol = 1e-4;
                    c.shape[0] = nd[i] == 2 ? S2(9, 5) : nd[i] == 3 ? S3(3, 4, 7) : S4(2, 3, 5, 6);
                    c.shape[1] = c.shape[2] = S1(c.shape[0].d[1]);
                    c.iarg[0] = train; c.iarg[1] = a; c.iarg[2] = run;
                    c.farg[0] = (i == 1) ? 0.0f : 0.25f; c.farg[1] = (a == 1 && i == 2) ? 1e-3f : 0.0f;
                    snprintf(names[k], sizeof names[k], "dl_batch_norm %s %s %s%s", nd[i] == 2 ? "[N,C]" : nd[i] == 3 ? "[N,C,L]" : "[N,C,H,W]",
                             train ? "train" : "eval", aff[a], run ? " running stats" : "");
                    c.name = names[k++]; run_case(&c);
                }
            }
        }
        c_bn_layer_check("dl_batchnorm_forward [6,4] running stats, eval", S2(6, 4), 2);
        c_bn_layer_check("dl_batchnorm_forward [3,5,4,3] running stats, eval", S4(3, 5, 4, 3), 3);
    }
    /* ---- layer norm */
    for (a = 0; a < 4; a++) {
        opcase c; memset(&c, 0, sizeof c);
        c.nin = 3; c.kind[0] = c.kind[1] = c.kind[2] = 'f'; c.build = b_layer_norm; c.tol = 1e-4; c.iarg[1] = a;
        c.shape[0] = S3(4, 6, 10); c.shape[1] = c.shape[2] = S1(10); c.iarg[0] = 1;
        snprintf(names[k], sizeof names[k], "dl_layer_norm [4,6,10] ndims 1 %s", aff[a]); c.name = names[k++]; run_case(&c);
        c.shape[1] = c.shape[2] = S2(6, 10); c.iarg[0] = 2; c.farg[1] = 1e-3f;
        snprintf(names[k], sizeof names[k], "dl_layer_norm [4,6,10] ndims 2 %s eps 1e-3", aff[a]); c.name = names[k++]; run_case(&c);
    }
    {   opcase c; memset(&c, 0, sizeof c);
        c.nin = 3; c.kind[0] = c.kind[1] = c.kind[2] = 'f'; c.build = b_layer_norm; c.tol = 1e-4; c.iarg[1] = 1; c.iarg[0] = 1;
        c.shape[0] = S2(40, 7); c.shape[1] = c.shape[2] = S1(7);   /* 40 rows: several dgamma chunks */
        c.name = "dl_layer_norm [40,7] affine"; run_case(&c);
        c.shape[0] = S2(3, 333); c.shape[1] = c.shape[2] = S1(333);
        c.name = "dl_layer_norm [3,333] affine"; run_case(&c);
    }
    /* ---- group norm, instance norm */
    {   static const int gr[4] = { 1, 2, 3, 6 };
        for (i = 0; i < 4; i++) for (a = 0; a < 4; a++) {
            opcase c; memset(&c, 0, sizeof c);
            if (i == 1 && a >= 2) continue;
            c.nin = 3; c.kind[0] = c.kind[1] = c.kind[2] = 'f'; c.build = b_group_norm; c.tol = 1e-4; c.iarg[0] = gr[i]; c.iarg[1] = a;
            c.shape[0] = S4(3, 6, 5, 4); c.shape[1] = c.shape[2] = S1(6);
            snprintf(names[k], sizeof names[k], "dl_group_norm [3,6,5,4] groups %d %s", gr[i], aff[a]); c.name = names[k++]; run_case(&c);
        }
        for (a = 0; a < 2; a++) {
            opcase c; memset(&c, 0, sizeof c);
            c.nin = 3; c.kind[0] = c.kind[1] = c.kind[2] = 'f'; c.build = b_group_norm; c.tol = 1e-4; c.iarg[0] = 2; c.iarg[1] = a;
            c.shape[0] = S3(4, 6, 9); c.shape[1] = c.shape[2] = S1(6);
            snprintf(names[k], sizeof names[k], "dl_group_norm [4,6,9] groups 2 %s", aff[a]); c.name = names[k++]; run_case(&c);
            c.shape[0] = S2(5, 8); c.shape[1] = c.shape[2] = S1(8); c.iarg[0] = 4;
            snprintf(names[k], sizeof names[k], "dl_group_norm [5,8] groups 4 %s", aff[a]); c.name = names[k++]; run_case(&c);
            c.shape[0] = S3(2, 4, 9); c.shape[1] = c.shape[2] = S1(4); c.iarg[0] = 0;
            snprintf(names[k], sizeof names[k], "dl_instance_norm [2,4,9] %s", aff[a]); c.name = names[k++]; run_case(&c);
            c.shape[0] = S4(2, 3, 4, 5); c.shape[1] = c.shape[2] = S1(3);
            snprintf(names[k], sizeof names[k], "dl_instance_norm [2,3,4,5] %s", aff[a]); c.name = names[k++]; run_case(&c);
        }
    }
    c_step_check();
}
