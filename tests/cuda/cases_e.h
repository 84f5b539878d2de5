/* tests/cuda/cases_e.h - host-side helpers on a backend context: what host code writes is
   uploaded (batch helpers, RNG init, masks and noise built on the host), what it reads is
   downloaded first (metrics, argmax, save), and CPU-only functions fail cleanly. Each check
   runs the same builder on a fresh CPU context and a fresh CUDA context (same seed) and
   compares what dl_copy_to gives. */
static dl_ctx *e_ctx(int gpu) {
    dl_ctx_desc cd; memset(&cd, 0, sizeof cd);
    cd.memory_size = (size_t)16 << 20; cd.seed = 7;
    if (gpu) cd.backend = dl_cuda_backend();
    return dl_ctx_init(&cd);
}
static float *e_host(const dl_tensor *t) {   /* malloc'd copy (dl_copy_to), NULL for poison */
    float *p;
    if (dl_is_poison(t)) return NULL;
    p = (float *)malloc(sizeof(float) * (size_t)(t->numel ? t->numel : 1));
    if (p) dl_copy_to(t, p);
    return p;
}
typedef dl_tensor *(*e_build)(dl_ctx *ctx);
/* builder on both sides; tol 0: bit for bit */
static void e_compare(const char *name, e_build f, double tol) {
    dl_ctx *c, *g; dl_tensor *a, *b; float *pa = NULL, *pb = NULL; char why[1200]; double err = 0.0; int ok;
    if (g_filter && !strstr(name, g_filter)) return;
    c = e_ctx(0); g = e_ctx(1);
    if (!c || !g) { report(name, 0, "(no context)", 0, 0); if (c) dl_ctx_free(c); if (g) dl_ctx_free(g); return; }
    a = f(c); b = f(g);
    if (dl_ctx_status(c) || dl_ctx_status(g) || dl_is_poison(a) || dl_is_poison(b)) {
        snprintf(why, sizeof why, "%s (cpu: %s; cuda: %s)", name, dl_ctx_message(c), dl_ctx_message(g));
        report(why, 0, "", 0, 0);
    } else {
        pa = e_host(a); pb = e_host(b);
        ok = pa && pb && a->numel == b->numel && dl_same_shape(a, b) && dl_ctx_status(g) == DL_STATUS_OK;
        if (ok) {
            if (tol == 0.0) ok = a->numel == 0 || !memcmp(pa, pb, sizeof(float) * (size_t)a->numel);
            err = nerr(pb, pa, a->numel);
            if (tol > 0.0) ok = err <= tol;
        }
        report(name, ok, "(err %.2e)", err, 0);
    }
    free(pa); free(pb);
    dl_ctx_free(c); dl_ctx_free(g);
}
static const unsigned char e_u8[5 * 6] = { 0, 10, 20, 30, 40, 50,  60, 70, 80, 90, 100, 110,  120, 130, 140, 150, 160, 170,
                                           180, 190, 200, 210, 220, 230,  240, 250, 255, 1, 2, 3 };
static const int32_t e_rows[3] = { 3, 0, 4 };
static const int32_t e_labels[5] = { 2, 0, 1, 1, 2 };
static dl_tensor *e_b_rows_u8(dl_ctx *ctx) { return dl_batch_rows_u8(ctx, e_u8, 6, e_rows, 3, S2(3, 6), 1.0f / 255.0f); }
static dl_tensor *e_b_rows(dl_ctx *ctx) {
    float d[5 * 6]; int i;
    for (i = 0; i < 30; i++) d[i] = (float)i * 0.5f - 3.0f;
    return dl_batch_rows(ctx, d, 6, e_rows, 3, S3(3, 2, 3));
}
static dl_tensor *e_b_labels(dl_ctx *ctx) { return dl_batch_labels(ctx, e_labels, e_rows, 3); }
static const float e_logits[4 * 3] = { 0.1f, 0.9f, -1.0f,  2.0f, 1.0f, 3.0f,  -0.5f, -0.2f, -0.1f,  5.0f, 4.0f, 4.5f };
static dl_tensor *e_b_argmax(dl_ctx *ctx) {     /* of an op's output: the device copy is the live one */
    dl_tensor *x = dl_mul_scalar(ctx, dl_from_data(ctx, S2(4, 3), e_logits), -2.0f);
    return dl_argmax(ctx, x, 1, 0);
}
static dl_tensor *e_b_uniform(dl_ctx *ctx) { return dl_uniform(ctx, S2(5, 7), -1.0f, 2.0f); }
static dl_tensor *e_b_normal(dl_ctx *ctx) { return dl_normal(ctx, S3(2, 3, 4), 0.5f, 2.0f); }
static dl_tensor *e_b_kaiming(dl_ctx *ctx) {
    dl_tensor *t = dl_zeros(ctx, S2(6, 5));
    dl_init_kaiming_uniform(ctx, t, 0.0f, 0, DL_NL_RELU);
    return t;
}
static dl_tensor *e_b_orthogonal(dl_ctx *ctx) {
    dl_tensor *t = dl_zeros(ctx, S2(4, 6));
    dl_init_orthogonal(ctx, t, 1.0f);
    return t;
}
static dl_tensor *e_b_one_hot(dl_ctx *ctx) {
    static const int32_t ix[5] = { 3, 0, 1, 3, 2 };
    return dl_one_hot(ctx, dl_index_tensor(ctx, S1(5), ix), 4);
}
static dl_tensor *e_b_dropout(dl_ctx *ctx) { return dl_dropout(ctx, dl_uniform(ctx, S2(4, 8), 1.0f, 2.0f), 0.5f, 1); }
static dl_tensor *e_b_mask_noise(dl_ctx *ctx) { return dl_mask_noise(ctx, dl_uniform(ctx, S2(4, 8), 1.0f, 2.0f), 0.3f); }
static dl_tensor *e_b_gauss_noise(dl_ctx *ctx) { return dl_gaussian_noise(ctx, dl_uniform(ctx, S2(4, 8), -1.0f, 1.0f), 0.1f); }
static dl_tensor *e_b_sinusoidal(dl_ctx *ctx) { return dl_sinusoidal_positions(ctx, 5, 6); }
static dl_tensor *e_b_max_norm(dl_ctx *ctx) {
    dl_tensor *w = dl_uniform(ctx, S2(4, 5), -2.0f, 2.0f);
    dl_max_norm(w, 1.0f);
    return w;
}
static dl_tensor *e_b_ema(dl_ctx *ctx) {
    dl_tensor *p = dl_uniform(ctx, S2(3, 4), -1.0f, 1.0f); dl_ema e;
    dl_ema_init(ctx, &e, &p, 1, 0.9f);
    dl_fill(p, 3.0f);
    dl_ema_update(&e);
    return e.shadow ? e.shadow[0] : &ctx->poison;
}
static dl_tensor *e_b_hflip(dl_ctx *ctx) { return dl_random_hflip(ctx, dl_uniform(ctx, S4(3, 2, 3, 4), 0.0f, 1.0f), 0.5f); }
static dl_tensor *e_b_crop(dl_ctx *ctx) { return dl_random_crop(ctx, dl_uniform(ctx, S4(3, 1, 4, 4), 0.0f, 1.0f), 1); }
static dl_tensor *e_b_base_rate(dl_ctx *ctx) {
    return dl_rbm_base_rate(ctx, dl_batch_rows_u8(ctx, e_u8, 6, e_rows, 3, S2(3, 6), 1.0f / 255.0f));
}

static void e_accuracy(void) {
    const char *name = "dl_accuracy on cuda (logits from an op) equals the CPU's";
    dl_ctx *c, *g; float ac, ag; dl_tensor *lc, *lg; static const int32_t lab[4] = { 1, 2, 0, 0 };
    if (g_filter && !strstr(name, g_filter)) return;
    c = e_ctx(0); g = e_ctx(1);
    lc = dl_mul_scalar(c, dl_from_data(c, S2(4, 3), e_logits), 1.5f);
    lg = dl_mul_scalar(g, dl_from_data(g, S2(4, 3), e_logits), 1.5f);
    ac = dl_accuracy(lc, dl_index_tensor(c, S1(4), lab));
    ag = dl_accuracy(lg, dl_index_tensor(g, S1(4), lab));
    report(name, ac == ag && ac == 0.75f && !dl_ctx_status(g), "(cpu %g, cuda %g)", ac, ag);
    dl_ctx_free(c); dl_ctx_free(g);
}
static dl_tensor *e_gc_fn(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) { (void)n; (void)user; return dl_square(ctx, in[0]); }
static void e_cpu_only(void) {
    const char *n1 = "dl_rbm_log_z_exact on cuda: DL_STATUS_UNSUPPORTED with a message";
    const char *n2 = "dl_gradcheck on cuda: DL_STATUS_UNSUPPORTED with a message";
    dl_ctx *g; dl_rbm r; double z; dl_status st; dl_tensor *x;
    if (!g_filter || strstr(n1, g_filter)) {
        g = e_ctx(1);
        dl_rbm_init(g, &r, 4, 3, DL_RBM_BINARY, 0.1f);
        z = dl_rbm_log_z_exact(g, &r, 0);
        printf("# %s: %s\n", dl_status_name(dl_ctx_status(g)), dl_ctx_message(g));
        report(n1, z != z && dl_ctx_status(g) == DL_STATUS_UNSUPPORTED && strstr(dl_ctx_message(g), "CPU only") != NULL, "", 0, 0);
        dl_ctx_free(g);
    }
    if (!g_filter || strstr(n2, g_filter)) {
        g = e_ctx(1);
        x = dl_uniform(g, S1(3), -1.0f, 1.0f); dl_requires_grad(g, x, 1);
        st = dl_gradcheck(g, e_gc_fn, NULL, &x, 1, NULL, NULL);
        report(n2, st == DL_STATUS_UNSUPPORTED && dl_ctx_status(g) == DL_STATUS_UNSUPPORTED && dl_ctx_message(g)[0], "", 0, 0);
        dl_ctx_free(g);
    }
}
/* dl_save_mem / dl_load_mem on cuda: the file equals the CPU's byte for byte; loading it back
   into zeroed tensors gives the saved values on the device */
static void e_save_load(void) {
    const char *name = "dl_save_mem / dl_load_mem round trip on cuda (same bytes as the CPU)";
    const char *names[2] = { "a", "b" };
    dl_ctx *ctx[2]; unsigned char *buf[2] = { NULL, NULL }; size_t sz[2] = { 0, 0 }; float *va = NULL, *vb = NULL, *la = NULL, *lb = NULL;
    dl_status st[2] = { DL_STATUS_INVALID, DL_STATUS_INVALID }, stl = DL_STATUS_INVALID; int s, ok;
    if (g_filter && !strstr(name, g_filter)) return;
    for (s = 0; s < 2; s++) {
        dl_tensor *t[2];
        ctx[s] = e_ctx(s);
        t[0] = dl_uniform(ctx[s], S2(3, 4), -1.0f, 1.0f);
        t[1] = dl_mul_scalar(ctx[s], t[0], 2.0f);                   /* an op's output */
        sz[s] = dl_save_size(t, names, 2);
        buf[s] = (unsigned char *)malloc(sz[s]);
        st[s] = dl_save_mem(t, names, 2, buf[s], sz[s]);
        if (s == 1) {
            dl_tensor *u[2];
            u[0] = dl_zeros(ctx[s], S2(3, 4)); u[1] = dl_zeros(ctx[s], S2(3, 4));
            stl = dl_load_mem(ctx[s], u, names, 2, buf[s], sz[s]);
            va = e_host(t[0]); vb = e_host(t[1]); la = e_host(u[0]); lb = e_host(u[1]);
        }
    }
    ok = st[0] == DL_STATUS_OK && st[1] == DL_STATUS_OK && stl == DL_STATUS_OK && sz[0] == sz[1] && buf[0] && buf[1] &&
         !memcmp(buf[0], buf[1], sz[0]) && va && vb && la && lb && !memcmp(va, la, 12 * sizeof(float)) && !memcmp(vb, lb, 12 * sizeof(float));
    if (!ok) printf("# save %s/%s, load %s: %s\n", dl_status_name(st[0]), dl_status_name(st[1]), dl_status_name(stl), dl_ctx_message(ctx[1]));
    report(name, ok, "", 0, 0);
    free(buf[0]); free(buf[1]); free(va); free(vb); free(la); free(lb);
    dl_ctx_free(ctx[0]); dl_ctx_free(ctx[1]);
}
static void run_e_cases(void) {
    e_compare("dl_batch_rows_u8 on cuda equals the CPU", e_b_rows_u8, 0.0);
    e_compare("dl_batch_rows on cuda equals the CPU", e_b_rows, 0.0);
    e_compare("dl_batch_labels on cuda equals the CPU", e_b_labels, 0.0);
    e_compare("dl_argmax on cuda (of an op's output) equals the CPU", e_b_argmax, 0.0);
    e_compare("dl_uniform on cuda equals the CPU (same seed)", e_b_uniform, 0.0);
    e_compare("dl_normal on cuda equals the CPU (same seed)", e_b_normal, 0.0);
    e_compare("dl_init_kaiming_uniform on cuda equals the CPU", e_b_kaiming, 0.0);
    e_compare("dl_init_orthogonal on cuda equals the CPU", e_b_orthogonal, 0.0);
    e_compare("dl_one_hot on cuda equals the CPU", e_b_one_hot, 0.0);
    e_compare("dl_dropout on cuda equals the CPU (host mask uploaded)", e_b_dropout, 0.0);
    e_compare("dl_mask_noise on cuda equals the CPU", e_b_mask_noise, 0.0);
    e_compare("dl_gaussian_noise on cuda equals the CPU", e_b_gauss_noise, 0.0);
    e_compare("dl_sinusoidal_positions on cuda equals the CPU", e_b_sinusoidal, 0.0);
    e_compare("dl_max_norm on cuda equals the CPU", e_b_max_norm, 0.0);
    e_compare("dl_ema_update on cuda equals the CPU", e_b_ema, 0.0);
    e_compare("dl_random_hflip on cuda equals the CPU", e_b_hflip, 0.0);
    e_compare("dl_random_crop on cuda equals the CPU", e_b_crop, 0.0);
    e_compare("dl_rbm_base_rate on cuda equals the CPU", e_b_base_rate, 0.0);
    e_accuracy();
    e_cpu_only();
    e_save_load();
}
