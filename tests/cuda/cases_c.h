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
}
