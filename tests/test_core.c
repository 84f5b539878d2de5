/* tests/test_core.c - arena, measure mode, errors, autodiff rules, views, RNG, stability.
   Included by tests/main.c. */

/* a 64-byte-aligned block carved from malloc: the embedded user's static array */
typedef struct aligned_block { void *raw; void *p; } aligned_block;
static int aligned_alloc64(aligned_block *b, size_t n) {
    b->raw = malloc(n + 64);
    b->p = b->raw ? (void *)(((uintptr_t)b->raw + 63) & ~(uintptr_t)63) : NULL;
    return b->raw != NULL;
}
static const float k_123[3] = {1.0f, 2.0f, 3.0f};
static const float k_1552[4] = {1.0f, 5.0f, 5.0f, 2.0f};
static const float k_1000_0[2] = {1000.0f, 0.0f};
static const float k_1e4_0_m1e4[3] = {1e4f, 0.0f, -1e4f};
static const float k_m20_100_m100[3] = {-20.0f, 100.0f, -100.0f};

static dl_ctx *core_ctx(size_t bytes) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; return dl_ctx_init(&d);
}
static int msg_has(dl_ctx *ctx, const char *needle) { return strstr(dl_ctx_message(ctx), needle) != NULL; }

/* ---- the W1 MLP (784-512-256-10, batch 128): params, then one SGD training step ---- */
typedef struct mlp { dl_tensor *w[3], *b[3]; } mlp;
static void mlp_init(dl_ctx *ctx, mlp *m) {
    static const int64_t dims[4] = {784, 512, 256, 10};
    int l;
    for (l = 0; l < 3; l++) {
        float bound = 1.0f / sqrtf((float)dims[l]);
        m->w[l] = dl_uniform(ctx, dl_shape2(dims[l + 1], dims[l]), -bound, bound);
        m->b[l] = dl_uniform(ctx, dl_shape1(dims[l + 1]), -bound, bound);
        dl_requires_grad(ctx, m->w[l], 1); dl_requires_grad(ctx, m->b[l], 1);
    }
}
/* returns the loss value; x [128,784], labels [128,1] */
static float mlp_step(dl_ctx *ctx, mlp *m, dl_tensor *x, dl_tensor *labels, float lr) {
    dl_tensor *h = x, *loss; int l; int64_t i;
    for (l = 0; l < 3; l++) {
        h = dl_add(ctx, dl_matmul_ex(ctx, h, m->w[l], DL_TRANS_B), m->b[l]);
        if (l < 2) h = dl_relu(ctx, h);
    }
    loss = dl_neg(ctx, dl_mean_all(ctx, dl_gather(ctx, dl_log_softmax(ctx, h, 1), 1, labels)));
    for (l = 0; l < 3; l++) { dl_zero_grad(m->w[l]); dl_zero_grad(m->b[l]); }
    dl_backward(ctx, loss);
    if (!dl_ctx_is_measuring(ctx) && !dl_ctx_status(ctx))
        for (l = 0; l < 3; l++) {
            for (i = 0; i < m->w[l]->numel; i++) m->w[l]->data[i] -= lr * m->w[l]->grad[i];
            for (i = 0; i < m->b[l]->numel; i++) m->b[l]->data[i] -= lr * m->b[l]->grad[i];
        }
    return dl_item(loss);
}
/* one full program: init over `mem`, params, `steps` training steps on fixed data */
static dl_status mlp_run(void *mem, size_t bytes, int measure, int steps, size_t *peak, float *last_loss) {
    dl_ctx_desc d; dl_ctx *ctx; mlp m; dl_tensor *x, *y; dl_mark mk; int s; dl_status st;
    memset(&d, 0, sizeof d); d.memory = mem; d.memory_size = bytes; d.measure = measure; d.seed = 42;
    ctx = dl_ctx_init(&d);
    if (!ctx) return DL_STATUS_OOM;
    mlp_init(ctx, &m);
    x = dl_uniform(ctx, dl_shape2(128, 784), 0.0f, 1.0f);
    y = dl_index_zeros(ctx, dl_shape2(128, 1));
    for (s = 0; s < 128; s++) dl_set_index(y, s, s % 10);
    mk = dl_ctx_mark(ctx);
    for (s = 0; s < steps && !dl_ctx_status(ctx); s++) {
        float l = mlp_step(ctx, &m, x, y, 0.05f);
        if (last_loss) *last_loss = l;
        dl_ctx_rewind(ctx, mk);
    }
    if (peak) *peak = dl_ctx_peak_bytes(ctx);
    st = dl_ctx_status(ctx);
    if (st == DL_STATUS_OOM) printf("  (expected) %s\n", dl_ctx_message(ctx));
    dl_ctx_free(ctx);
    return st;
}

static void test_arena(void) {
    T_BEGIN("arena: mark/rewind frees a step in O(1), same addresses every step");
    {
        dl_ctx *ctx = core_ctx(1 << 20); dl_mark mk; float *first = NULL; int s;
        dl_tensor *p = dl_ones(ctx, dl_shape1(10));
        dl_requires_grad(ctx, p, 1);
        mk = dl_ctx_mark(ctx);
        for (s = 0; s < 3; s++) {
            dl_tensor *y = dl_sum_all(ctx, dl_mul(ctx, p, p));
            dl_zero_grad(p);
            T_EXPECT(dl_backward(ctx, y) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
            if (s == 0) first = y->data; else T_EXPECT(y->data == first, "step %d address moved", s);
            T_EXPECT(p->grad[3] == 2.0f, "grad %g", (double)p->grad[3]);
            dl_ctx_rewind(ctx, mk);
            T_EXPECT(dl_ctx_used_bytes(ctx) == mk.offset + dl_ctx_overhead_bytes(), "rewind did not restore");
        }
        T_EXPECT(p->data[0] == 1.0f && p->grad[0] == 2.0f, "params survive rewind");
        dl_ctx_free(ctx);
    }
    T_END();

    T_BEGIN("arena: caller buffer, nothing else allocated; too small buffer gives NULL");
    {
        static unsigned char buf[4096];
        dl_ctx_desc d; dl_ctx *ctx;
        memset(&d, 0, sizeof d); d.memory = buf; d.memory_size = sizeof buf;
        ctx = dl_ctx_init(&d);
        T_EXPECT(ctx != NULL, "init over 4 KiB");
        T_EXPECT((unsigned char *)ctx >= buf && (unsigned char *)ctx < buf + sizeof buf, "ctx lives in the buffer");
        if (ctx) {
            dl_tensor *t = dl_zeros(ctx, dl_shape1(8));
            T_EXPECT((unsigned char *)t->data > buf && (unsigned char *)(t->data + 8) <= buf + sizeof buf, "data in buffer");
            T_EXPECT(dl_ctx_capacity(ctx) <= sizeof buf, "capacity %zu", dl_ctx_capacity(ctx));
        }
        d.memory_size = 16;
        T_EXPECT(dl_ctx_init(&d) == NULL, "16 bytes cannot hold a context");
    }
    T_END();

    T_BEGIN("arena: out of memory names needed and available bytes, never crashes");
    {
        dl_ctx *ctx = core_ctx(dl_ctx_overhead_bytes() + 4096);
        dl_tensor *a = dl_zeros(ctx, dl_shape2(100, 100));
        T_EXPECT(dl_is_poison(a), "expected poison");
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OOM, "status %s", dl_status_name(dl_ctx_status(ctx)));
        T_EXPECT(msg_has(ctx, "dl_zeros: out of memory: needs 40000 more bytes"), "message: %s", dl_ctx_message(ctx));
        T_EXPECT(msg_has(ctx, "available"), "message: %s", dl_ctx_message(ctx));
        /* chained calls after the error stay safe */
        a = dl_relu(ctx, dl_matmul(ctx, a, a));
        T_EXPECT(dl_is_poison(a) && dl_get(a, 0) == 0.0f, "poison passes through");
        T_EXPECT(dl_backward(ctx, a) == DL_STATUS_OOM, "first error kept");
        dl_ctx_clear_error(ctx);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && dl_ctx_message(ctx)[0] == 0, "cleared");
        dl_ctx_free(ctx);
    }
    T_END();
}

static void test_measure(void) {
    size_t need = 0, need2 = 0, peak_real = 0; float loss1 = 0, loss2 = 0; dl_status st;
    aligned_block blk;
    T_BEGIN("measure: W1 MLP step (784-512-256-10, batch 128) runs in exactly the measured bytes");
    st = mlp_run(NULL, 0, 1, 1, &need, NULL);
    T_EXPECT(st == DL_STATUS_OK, "measure run: %s", dl_status_name(st));
    st = mlp_run(NULL, 0, 1, 3, &need2, NULL);
    T_EXPECT(need == need2, "peak grows with steps: %zu vs %zu", need, need2);
    printf("  W1 MLP, batch 128, one SGD training step: arena needs %zu bytes (%.2f MiB)\n", need, (double)need / 1048576.0);
    if (aligned_alloc64(&blk, need)) {
        st = mlp_run(blk.p, need, 0, 3, &peak_real, &loss1);
        T_EXPECT(st == DL_STATUS_OK, "run with exactly %zu bytes: %s", need, dl_status_name(st));
        T_EXPECT(peak_real == need, "real peak %zu != measured %zu", peak_real, need);
        st = mlp_run(blk.p, need - 1, 0, 3, NULL, &loss2);
        T_EXPECT(st == DL_STATUS_OOM, "one byte less must fail with OOM, got %s", dl_status_name(st));
        T_EXPECT(loss1 > 0.5f && loss1 < 5.0f, "loss %g", (double)loss1);
        free(blk.raw);
    } else T_EXPECT(0, "aligned allocation failed");
    T_END();

    T_BEGIN("measure: values read 0, shapes are real, nothing computed");
    {
        dl_ctx_desc d; dl_ctx *ctx; dl_tensor *a, *b;
        memset(&d, 0, sizeof d); d.measure = 1;
        ctx = dl_ctx_init(&d);
        a = dl_ones(ctx, dl_shape2(3, 4)); b = dl_matmul_ex(ctx, a, a, DL_TRANS_B);
        T_EXPECT(b->shape[0] == 3 && b->shape[1] == 3 && dl_get(b, 0) == 0.0f && b->data == NULL, "measure tensor");
        T_EXPECT(dl_ctx_is_measuring(ctx) && dl_ctx_peak_bytes(ctx) > dl_ctx_overhead_bytes(), "counted");
        dl_ctx_free(ctx);
    }
    T_END();
}

static void test_errors(void) {
    dl_ctx *ctx = core_ctx(1 << 20);
    dl_tensor *a = dl_ones(ctx, dl_shape2(64, 784)), *b = dl_ones(ctx, dl_shape2(100, 10)), *r;
    dl_tensor *ix = dl_index_zeros(ctx, dl_shape1(3));

    T_BEGIN("error SHAPE: matmul inner dims name op and shapes");
    r = dl_matmul(ctx, a, b);
    T_EXPECT(dl_is_poison(r) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "status %s", dl_status_name(dl_ctx_status(ctx)));
    T_EXPECT(strcmp(dl_ctx_message(ctx), "dl_matmul: inner dims differ: a[64,784] b[100,10]") == 0, "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error SHAPE: broadcast mismatch");
    r = dl_add(ctx, dl_ones(ctx, dl_shape2(3, 4)), dl_ones(ctx, dl_shape1(5)));
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_SHAPE && strcmp(dl_ctx_message(ctx), "dl_add: shapes [3,4] and [5] cannot broadcast") == 0, "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error AXIS: reduction axis out of range");
    r = dl_sum(ctx, b, 2, 0);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_AXIS && strcmp(dl_ctx_message(ctx), "dl_sum: axis 2 out of range for [100,10]") == 0, "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error AXIS: permute with a repeated axis");
    { int perm[2] = {0, 0}; r = dl_permute(ctx, b, perm); }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_AXIS && msg_has(ctx, "dl_permute: perm is not a permutation of the axes of [100,10]"), "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error DTYPE: float where an index tensor is needed, and reverse");
    r = dl_gather(ctx, b, 1, b);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_DTYPE && strcmp(dl_ctx_message(ctx), "dl_gather: argument 2[100,10] must be an index tensor (DL_I32)") == 0, "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    r = dl_exp(ctx, ix);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_DTYPE && msg_has(ctx, "dl_exp: argument 1[3] must be float32"), "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error INDEX: gather index out of range");
    { int32_t v[3] = {0, 12, 1}; dl_tensor *i2 = dl_index_tensor(ctx, dl_shape1(3), v);
      r = dl_index_select(ctx, b, 1, i2); }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INDEX && strcmp(dl_ctx_message(ctx), "dl_index_select: index 12 at position 1 out of range [0, 10)") == 0, "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error NONFINITE: check_finite context catches log(-1)");
    {
        dl_ctx_desc d; dl_ctx *c2; memset(&d, 0, sizeof d); d.memory_size = 1 << 16; d.check_finite = 1;
        c2 = dl_ctx_init(&d);
        r = dl_log(c2, dl_full(c2, dl_shape2(2, 2), -1.0f));
        T_EXPECT(dl_is_poison(r) && dl_ctx_status(c2) == DL_STATUS_NONFINITE, "status %s", dl_status_name(dl_ctx_status(c2)));
        T_EXPECT(strcmp(dl_ctx_message(c2), "dl_log: non-finite value nan in output[2,2] at index 0") == 0, "message: %s", dl_ctx_message(c2));
        dl_ctx_free(c2);
    }
    T_END();

    T_BEGIN("error INVALID: NULL argument; backward of a graph with no grad");
    r = dl_add(ctx, a, NULL);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID && strcmp(dl_ctx_message(ctx), "dl_add: argument 2 is NULL") == 0, "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_EXPECT(dl_backward(ctx, dl_sum_all(ctx, a)) == DL_STATUS_INVALID && msg_has(ctx, "does not require grad"), "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("error OOM status has a name and chained ops stay poison");
    T_EXPECT(strcmp(dl_status_name(DL_STATUS_OOM), "DL_STATUS_OOM") == 0 && strcmp(dl_status_name(DL_STATUS_UNSUPPORTED), "DL_STATUS_UNSUPPORTED") == 0, "names");
    T_END();

    T_BEGIN("error UNSUPPORTED: a tensor of more than DL_MAX_DIMS dims is a SHAPE error, unknown trans flag INVALID");
    { int64_t dd[7] = {1, 1, 1, 1, 1, 1, 1}; r = dl_zeros(ctx, dl_shape_n(7, dd)); }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_SHAPE && msg_has(ctx, "at most 6 supported"), "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    r = dl_matmul_ex(ctx, b, b, 8);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID && msg_has(ctx, "unknown trans flags 8"), "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();
    (void)r;
    dl_ctx_free(ctx);
}

static void test_autodiff(void) {
    dl_ctx *ctx = core_ctx(1 << 20); dl_mark mk;
    dl_tensor *x = dl_from_data(ctx, dl_shape1(3), k_123);
    dl_requires_grad(ctx, x, 1);
    mk = dl_ctx_mark(ctx);

    T_BEGIN("autodiff: mul(x, x) sums both slots to 2x");
    dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, x, x)));
    T_EXPECT(x->grad[0] == 2.0f && x->grad[2] == 6.0f, "grad %g %g", (double)x->grad[0], (double)x->grad[2]);
    T_END();

    T_BEGIN("autodiff: gradients accumulate until zeroed");
    dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, x, x)));
    T_EXPECT(x->grad[0] == 4.0f, "accumulated %g", (double)x->grad[0]);
    dl_zero_grad(x);
    T_EXPECT(x->grad[0] == 0.0f, "zeroed");
    dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: detach stops the gradient, shares storage");
    { dl_tensor *d = dl_detach(ctx, x);
      dl_backward(ctx, dl_sum_all(ctx, dl_mul(ctx, x, d)));
      T_EXPECT(x->grad[1] == 2.0f, "d(x*stop(x))/dx = x, got %g", (double)x->grad[1]);
      T_EXPECT(d->data == x->data && !d->requires_grad, "detach aliases"); }
    dl_zero_grad(x); dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: no-grad mode records nothing");
    { int prev = dl_set_grad_enabled(ctx, 0); dl_tensor *y = dl_exp(ctx, x);
      T_EXPECT(prev == 1 && !y->requires_grad && y->node == NULL, "no node");
      dl_set_grad_enabled(ctx, 1); }
    dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: chain z = f(f(f(w))) with f = exp gives f'(y) f'(x) f'(w)");
    { dl_tensor *w = dl_scalar(ctx, 0.1f), *z; double e1, e2, e3;
      dl_requires_grad(ctx, w, 1);
      z = dl_exp(ctx, dl_exp(ctx, dl_exp(ctx, w)));
      dl_backward(ctx, z);
      e1 = exp(0.1); e2 = exp(e1); e3 = exp(e2);
      T_EXPECT(fabs((double)w->grad[0] - e3 * e2 * e1) < 1e-4 * e3 * e2 * e1, "got %g want %g", (double)w->grad[0], e3 * e2 * e1); }
    dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: a second backward over the same tape restarts intermediate grads");
    { dl_tensor *h = dl_exp(ctx, x), *l1 = dl_sum_all(ctx, h), *l2 = dl_sum_all(ctx, dl_mul_scalar(ctx, h, 2.0f));
      dl_backward(ctx, l1); dl_zero_grad(x); dl_backward(ctx, l2);
      T_EXPECT(fabsf(x->grad[0] - 2.0f * expf(1.0f)) < 1e-5f, "got %g", (double)x->grad[0]); }
    dl_zero_grad(x); dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: requires_grad on a non-leaf is refused");
    { dl_tensor *h = dl_exp(ctx, x); dl_requires_grad(ctx, h, 1);
      T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_INVALID && msg_has(ctx, "only leaves"), "message: %s", dl_ctx_message(ctx));
      dl_ctx_clear_error(ctx); }
    dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: max reduction tie sends the gradient to the first maximum");
    { dl_tensor *t = dl_from_data(ctx, dl_shape1(4), k_1552);
      dl_requires_grad(ctx, t, 1);
      dl_backward(ctx, dl_max_all(ctx, t));
      T_EXPECT(t->grad[1] == 1.0f && t->grad[2] == 0.0f, "grads %g %g", (double)t->grad[1], (double)t->grad[2]);
      T_EXPECT(dl_get_index(dl_argmax(ctx, t, 0, 0), 0) == 1, "argmax first"); }
    dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: relu'(0) = 0 and abs'(0) = 0 (documented one-sided choices)");
    { dl_tensor *t = dl_zeros(ctx, dl_shape1(2)); dl_requires_grad(ctx, t, 1);
      dl_backward(ctx, dl_sum_all(ctx, dl_add(ctx, dl_relu(ctx, t), dl_abs(ctx, t))));
      T_EXPECT(t->grad[0] == 0.0f, "grad %g", (double)t->grad[0]); }
    dl_ctx_rewind(ctx, mk); T_END();

    T_BEGIN("autodiff: gather backward scatter-adds repeated indices");
    { dl_tensor *t = dl_arange(ctx, 0.0f, 4.0f, 1.0f); int32_t iv[5] = {1, 1, 3, 1, 0};
      dl_tensor *ix = dl_index_tensor(ctx, dl_shape1(5), iv);
      dl_requires_grad(ctx, t, 1);
      dl_backward(ctx, dl_sum_all(ctx, dl_index_select(ctx, t, 0, ix)));
      T_EXPECT(t->grad[0] == 1.0f && t->grad[1] == 3.0f && t->grad[2] == 0.0f && t->grad[3] == 1.0f, "grads %g %g %g %g",
               (double)t->grad[0], (double)t->grad[1], (double)t->grad[2], (double)t->grad[3]); }
    dl_ctx_rewind(ctx, mk); T_END();
    dl_ctx_free(ctx);
}

static void test_views_rng(void) {
    dl_ctx *ctx = core_ctx(1 << 22);
    T_BEGIN("views: transpose and slice alias storage; contiguous copies");
    { dl_tensor *a = dl_arange(ctx, 0.0f, 12.0f, 1.0f), *m = dl_reshape(ctx, a, dl_shape2(3, 4));
      dl_tensor *t = dl_transpose(ctx, m, 0, 1), *s = dl_slice(ctx, m, 1, 1, 4, 2), *c = dl_contiguous(ctx, t);
      T_EXPECT(m->data == a->data && t->data == a->data, "aliases");
      T_EXPECT(dl_get(t, 1) == 4.0f && dl_get(s, 0) == 1.0f && dl_get(s, 1) == 3.0f && dl_get(s, 2) == 5.0f, "values");
      T_EXPECT(!dl_is_contiguous(t) && dl_is_contiguous(c) && c->data != a->data && c->data[1] == 4.0f, "contiguous copy");
      dl_set(a, 4, 40.0f);
      T_EXPECT(dl_get(t, 1) == 40.0f, "write through alias"); }
    T_END();

    T_BEGIN("rng: same seed same bits; uniform and normal moments within 3 standard errors");
    { dl_ctx *c1 = core_ctx(1 << 23), *c2 = core_ctx(1 << 23); dl_tensor *u1, *u2, *n1; int64_t i, N = 1000000 / 4;
      double su = 0, sn = 0, sn2 = 0;
      dl_ctx_seed(c1, 7); dl_ctx_seed(c2, 7);
      u1 = dl_uniform(c1, dl_shape1(N), 0.0f, 1.0f); u2 = dl_uniform(c2, dl_shape1(N), 0.0f, 1.0f);
      T_EXPECT(memcmp(u1->data, u2->data, (size_t)N * 4) == 0, "same seed, same bits");
      n1 = dl_normal(c1, dl_shape1(N), 0.0f, 1.0f);
      for (i = 0; i < N; i++) { su += (double)u1->data[i]; sn += (double)n1->data[i]; sn2 += (double)n1->data[i] * (double)n1->data[i]; }
      T_EXPECT(fabs(su / (double)N - 0.5) < 3.0 * sqrt(1.0 / 12.0 / (double)N), "uniform mean %g", su / (double)N);
      T_EXPECT(fabs(sn / (double)N) < 3.0 / sqrt((double)N), "normal mean %g", sn / (double)N);
      T_EXPECT(fabs(sn2 / (double)N - 1.0) < 3.0 * sqrt(2.0 / (double)N), "normal var %g", sn2 / (double)N);
      dl_ctx_free(c1); dl_ctx_free(c2); }
    T_END();

    T_BEGIN("stability: softmax of all 1e4 is exactly 1/n; log_softmax([1000,0]) = [0,-1000]");
    { dl_tensor *a = dl_full(ctx, dl_shape1(4), 1e4f), *s = dl_softmax(ctx, a, 0);
      dl_tensor *b = dl_from_data(ctx, dl_shape1(2), k_1000_0), *l = dl_log_softmax(ctx, b, 0);
      dl_tensor *one = dl_from_data(ctx, dl_shape1(3), k_1e4_0_m1e4), *oh = dl_softmax(ctx, one, 0);
      T_EXPECT(dl_get(s, 0) == 0.25f && dl_get(s, 3) == 0.25f, "softmax %g", (double)dl_get(s, 0));
      T_EXPECT(dl_get(l, 0) == 0.0f && dl_get(l, 1) == -1000.0f, "log_softmax %g %g", (double)dl_get(l, 0), (double)dl_get(l, 1));
      T_EXPECT(dl_get(oh, 0) == 1.0f && dl_get(oh, 1) == 0.0f, "one-hot softmax"); }
    T_END();

    T_BEGIN("stability: sigmoid(-20), sigmoid(100), softplus(100), log_sigmoid(+-100)");
    { dl_tensor *x = dl_from_data(ctx, dl_shape1(3), k_m20_100_m100);
      dl_tensor *s = dl_sigmoid(ctx, x), *sp = dl_softplus(ctx, x), *ls = dl_log_sigmoid(ctx, x);
      T_EXPECT(fabs((double)dl_get(s, 0) - 2.0611536e-9) < 1e-6 * 2.0611536e-9, "sigmoid(-20) %.9g", (double)dl_get(s, 0));
      T_EXPECT(dl_get(s, 1) == 1.0f, "sigmoid(100)");
      T_EXPECT(dl_get(sp, 1) == 100.0f && fabs((double)dl_get(sp, 0) - 2.0611537e-9) < 1e-6 * 2.06e-9, "softplus %g %g", (double)dl_get(sp, 1), (double)dl_get(sp, 0));
      T_EXPECT(dl_get(ls, 2) == -100.0f && dl_get(ls, 1) <= 0.0f && dl_get(ls, 1) > -1e-30f, "log_sigmoid %g %g", (double)dl_get(ls, 2), (double)dl_get(ls, 1)); }
    T_END();
    dl_ctx_free(ctx);
}

/* every GEMM kernel set against the scalar reference: the same graph in two contexts, one
   capped to DL_ISA_REFERENCE; every transpose (a transposed dA is a column-major C), odd
   sizes: 1, 7, 17, 1023, sizes crossing the micro-tiles (4/6/8 x 8/16/32), the 72-row block
   and the 256-deep k slice. A set this CPU lacks must fall back to a lower one. */
static void test_isa_paths(void) {
    static const int64_t sz[][3] = {{1, 1, 1}, {7, 17, 5}, {17, 7, 130}, {33, 19, 257}, {4, 16, 128}, {5, 1, 3},
                                    {73, 33, 257}, {150, 70, 600}, {6, 32, 256}, {1023, 7, 1}, {3, 1023, 17}, {7, 5, 1023}};
    static const int isas[] = {DL_ISA_PORTABLE, DL_ISA_SSE2, DL_ISA_AVX2, DL_ISA_AVX512, DL_ISA_NEON};
    int c, tr, s;
    for (s = 0; s < (int)(sizeof isas / sizeof isas[0]); s++) {
        dl_ctx_desc d0; dl_ctx *probe; int got;
        memset(&d0, 0, sizeof d0); d0.memory_size = 1 << 16; d0.isa = isas[s];
        probe = dl_ctx_init(&d0); got = dl_ctx_isa(probe); dl_ctx_free(probe);
        if (got != isas[s]) {
            T_BEGIN("isa: a kernel set this CPU or build lacks falls back to one it has");
            T_EXPECT(got != DL_ISA_AUTO && got != isas[s] && got != DL_ISA_REFERENCE, "cap %s gave %s", dl_isa_name(isas[s]), dl_isa_name(got));
            printf("  (isa %s not available here: runs as %s)\n", dl_isa_name(isas[s]), dl_isa_name(got));
            T_END();
            continue;
        }
        T_BEGIN("isa: the GEMM of each kernel set matches the scalar reference, forward and backward (all transposes, odd sizes, batched)");
        for (c = 0; c < (int)(sizeof sz / sizeof sz[0]); c++) for (tr = 0; tr < 4; tr++) {
            dl_tensor *out[2], *ga[2], *gb[2]; int v; int64_t M = sz[c][0], N = sz[c][1], K = sz[c][2], i;
            dl_ctx *cx[2];
            for (v = 0; v < 2; v++) {
                dl_ctx_desc d; dl_tensor *a, *b; memset(&d, 0, sizeof d);
                d.memory_size = 1 << 24; d.seed = 99; d.isa = v ? DL_ISA_REFERENCE : isas[s];
                cx[v] = dl_ctx_init(&d);
                a = (tr & DL_TRANS_A) ? dl_uniform(cx[v], dl_shape3(2, K, M), -1.0f, 1.0f) : dl_uniform(cx[v], dl_shape3(2, M, K), -1.0f, 1.0f);
                b = (tr & DL_TRANS_B) ? dl_uniform(cx[v], dl_shape2(N, K), -1.0f, 1.0f) : dl_uniform(cx[v], dl_shape2(K, N), -1.0f, 1.0f);
                dl_requires_grad(cx[v], a, 1); dl_requires_grad(cx[v], b, 1);
                out[v] = dl_matmul_ex(cx[v], a, b, tr);
                dl_backward(cx[v], dl_sum_all(cx[v], dl_mul(cx[v], out[v], out[v])));
                ga[v] = a; gb[v] = b;
                T_EXPECT(dl_ctx_status(cx[v]) == DL_STATUS_OK, "%s", dl_ctx_message(cx[v]));
            }
            /* sums of K products: error grows like sqrt(K) ulp; scale by the sum of |terms| */
            for (i = 0; i < out[0]->numel; i++)
                T_EXPECT(fabsf(out[0]->data[i] - out[1]->data[i]) <= 2e-6f * (float)K + 1e-5f * fabsf(out[1]->data[i]), "%s case %d trans %d: y[%lld] %g vs %g", dl_isa_name(isas[s]), c, tr, (long long)i, (double)out[0]->data[i], (double)out[1]->data[i]);
            for (i = 0; i < ga[0]->numel; i++)
                T_EXPECT(fabsf(ga[0]->grad[i] - ga[1]->grad[i]) <= 1e-4f * (float)(N + K) + 1e-4f * fabsf(ga[1]->grad[i]), "%s case %d trans %d: da[%lld]", dl_isa_name(isas[s]), c, tr, (long long)i);
            for (i = 0; i < gb[0]->numel; i++)
                T_EXPECT(fabsf(gb[0]->grad[i] - gb[1]->grad[i]) <= 1e-4f * (float)(M + K) + 1e-4f * fabsf(gb[1]->grad[i]), "%s case %d trans %d: db[%lld]", dl_isa_name(isas[s]), c, tr, (long long)i);
            dl_ctx_free(cx[0]); dl_ctx_free(cx[1]);
        }
        T_END();
    }
}

/* threads: the same bits for 1, 2 and 3 pool threads and for a caller's parallel_for that
   runs the tasks backwards; a matmul chain with a conv, forward and backward, sizes big
   enough to be split into several tasks */
static void reverse_for(void *user, int64_t n, void (*task)(void *arg, int64_t i), void *arg) {
    int64_t i; int *calls = (int *)user;
    ++*calls;
    for (i = n - 1; i >= 0; i--) task(arg, i);
}
/* the binary ops' SIMD rows (contiguous add/sub/mul forward, add's backward) against
   DL_ISA_REFERENCE's plain loops, bit for bit: rows of 29 (vector body and tail), a
   broadcast [29] row added to [7, 29] (its gradient sums rows), NaN, inf and -0 inside */
static void test_binary_rows(void) {
    enum { R = 7, C = 29 };
    float av[R * C], bv[R * C], rv[C], *res[2][7]; int v, k; int64_t i;
    for (i = 0; i < R * C; i++) { av[i] = (float)((i * 37) % 101 - 50) / 16.0f; bv[i] = (float)((i * 53) % 89 - 44) / 8.0f; }
    for (i = 0; i < C; i++) rv[i] = (float)(i % 5) - 2.5f;
    av[3] = NAN; bv[5] = INFINITY; av[9] = -0.0f; bv[9] = 0.0f; av[C + 2] = -INFINITY;
    T_BEGIN("binary ops: SIMD rows (add/sub/mul forward, add backward, a broadcast row) equal DL_ISA_REFERENCE bit for bit");
    for (v = 0; v < 2; v++) {
        dl_ctx_desc d; dl_ctx *cx; dl_tensor *a, *b, *r, *y[4], *loss;
        memset(&d, 0, sizeof d); d.memory_size = (size_t)4 << 20; d.isa = v ? DL_ISA_REFERENCE : DL_ISA_AUTO;
        cx = dl_ctx_init(&d);
        a = dl_from_data(cx, dl_shape2(R, C), av); b = dl_from_data(cx, dl_shape2(R, C), bv); r = dl_from_data(cx, dl_shape1(C), rv);
        dl_requires_grad(cx, a, 1); dl_requires_grad(cx, b, 1); dl_requires_grad(cx, r, 1);
        y[0] = dl_add(cx, a, b); y[1] = dl_sub(cx, a, b); y[2] = dl_mul(cx, a, b); y[3] = dl_add(cx, b, r);
        loss = dl_sum_all(cx, dl_add(cx, dl_add(cx, dl_mul_scalar(cx, y[0], 3.0f), dl_mul_scalar(cx, y[3], 5.0f)), dl_mul_scalar(cx, y[1], 0.5f)));
        dl_backward(cx, loss);
        T_EXPECT(dl_ctx_status(cx) == DL_STATUS_OK, "%s", dl_ctx_message(cx));
        for (k = 0; k < 4; k++) { res[v][k] = (float *)malloc(sizeof(float) * R * C); dl_copy_to(y[k], res[v][k]); }
        res[v][4] = (float *)malloc(sizeof(float) * R * C); res[v][5] = (float *)malloc(sizeof(float) * R * C); res[v][6] = (float *)malloc(sizeof(float) * C);
        for (i = 0; i < R * C; i++) { res[v][4][i] = dl_grad_get(a, i); res[v][5][i] = dl_grad_get(b, i); }
        for (i = 0; i < C; i++) res[v][6][i] = dl_grad_get(r, i);
        dl_ctx_free(cx);
    }
    for (k = 0; k < 7; k++) T_EXPECT(memcmp(res[0][k], res[1][k], sizeof(float) * (k == 6 ? C : R * C)) == 0, "result %d differs from the reference loops", k);
    for (v = 0; v < 2; v++) for (k = 0; k < 7; k++) free(res[v][k]);
    T_END();
}

/* the elementwise unary ops in chunks (DL__EW_CHUNK, tasks with threads) and relu's vector
   loop: 1 and 2 threads give the same bits, and relu's vector loop gives DL_ISA_REFERENCE's
   bits (NaN, -0, +-inf, a scalar tail); sizes span several chunks plus a tail */
static void test_unary_chunks(void) {
    enum { N = 3 * 32768 + 37 };
    float *res[3][4]; int v, k; int64_t i;
    float *xs = (float *)malloc(sizeof(float) * N);
    for (i = 0; i < N; i++) xs[i] = (float)((i * 7919) % 2001 - 1000) / 250.0f;
    xs[3] = NAN; xs[10] = -0.0f; xs[11] = 0.0f; xs[12] = INFINITY; xs[13] = -INFINITY; xs[N - 1] = NAN; xs[N - 2] = -0.0f;
    T_BEGIN("unary ops in chunks: 1 and 2 threads the same bits; relu's vector loop equals DL_ISA_REFERENCE (NaN, -0, inf, tails)");
    for (v = 0; v < 3; v++) {
        dl_ctx_desc d; dl_ctx *cx; dl_tensor *x, *y[3], *loss;
        memset(&d, 0, sizeof d); d.memory_size = (size_t)16 << 20; d.threads = v == 1 ? 2 : 1; d.isa = v == 2 ? DL_ISA_REFERENCE : DL_ISA_AUTO;
        cx = dl_ctx_init(&d);
        x = dl_from_data(cx, dl_shape1(N), xs); dl_requires_grad(cx, x, 1);
        y[0] = dl_relu(cx, x); y[1] = dl_tanh(cx, x); y[2] = dl_softplus(cx, x);
        loss = dl_sum_all(cx, dl_add(cx, dl_add(cx, dl_mul_scalar(cx, y[0], 3.0f), dl_mul_scalar(cx, y[1], 5.0f)), dl_mul_scalar(cx, y[2], 7.0f)));
        dl_backward(cx, loss);
        T_EXPECT(dl_ctx_status(cx) == DL_STATUS_OK, "%s", dl_ctx_message(cx));
        for (k = 0; k < 3; k++) { res[v][k] = (float *)malloc(sizeof(float) * N); dl_copy_to(y[k], res[v][k]); }
        res[v][3] = (float *)malloc(sizeof(float) * N);
        for (i = 0; i < N; i++) res[v][3][i] = dl_grad_get(x, i);
        dl_ctx_free(cx);
    }
    for (k = 0; k < 4; k++) T_EXPECT(memcmp(res[0][k], res[1][k], sizeof(float) * N) == 0, "output %d differs between 1 and 2 threads", k);
    T_EXPECT(memcmp(res[0][0], res[2][0], sizeof(float) * N) == 0, "relu differs from the reference loop");
    T_EXPECT(res[0][0][3] == 0.0f && res[0][0][12] == INFINITY && !signbit(res[0][0][10]), "relu(NaN) = 0, relu(inf) = inf, relu(-0) = +0");
    {   /* relu's gradient alone: the reference context's x-gradient minus the other ops' parts is not
           exact, so compare a relu-only graph's gradient */
        float *g2[2]; int w;
        for (w = 0; w < 2; w++) {
            dl_ctx_desc d; dl_ctx *cx; dl_tensor *x;
            memset(&d, 0, sizeof d); d.memory_size = (size_t)8 << 20; d.isa = w ? DL_ISA_REFERENCE : DL_ISA_AUTO;
            cx = dl_ctx_init(&d);
            x = dl_from_data(cx, dl_shape1(N), xs); dl_requires_grad(cx, x, 1);
            dl_backward(cx, dl_sum_all(cx, dl_mul(cx, dl_relu(cx, x), dl_detach(cx, x))));
            g2[w] = (float *)malloc(sizeof(float) * N);
            for (i = 0; i < N; i++) g2[w][i] = dl_grad_get(x, i);
            dl_ctx_free(cx);
        }
        T_EXPECT(memcmp(g2[0], g2[1], sizeof(float) * N) == 0, "relu's gradient differs from the reference loop");
        free(g2[0]); free(g2[1]);
    }
    T_END();
    for (v = 0; v < 3; v++) for (k = 0; k < 4; k++) free(res[v][k]);
    free(xs);
}

/* a big parameter's update runs in chunks (tasks with threads): one 70000-element tensor and
   the same values split into small tensors (one chunk each) end bit for bit equal after
   three steps, for every optimizer kind (RMSprop centered with momentum: its two buffers) */
static void test_optim_chunks(void) {
    enum { N = 70000, PARTS = 5 };
    static const int kinds[] = {DL_SGD, DL_ADAGRAD, DL_RMSPROP, DL_ADAM, DL_ADAMW};
    int kk;
    T_BEGIN("optimizers: a 70000-element tensor updated in chunks (2 threads) equals the same values as 5 small tensors");
    for (kk = 0; kk < 5; kk++) {
        dl_ctx_desc d; dl_ctx *cx; dl_optim_desc od; dl_optim *o1, *o2; dl_tensor *big, *sm[PARTS]; int s, q; int64_t i, bad = 0;
        memset(&d, 0, sizeof d); d.memory_size = (size_t)32 << 20; d.threads = 2;
        cx = dl_ctx_init(&d);
        memset(&od, 0, sizeof od); od.kind = (dl_optim_kind)kinds[kk]; od.lr = 0.01f; od.momentum = kinds[kk] == DL_ADAM || kinds[kk] == DL_ADAMW || kinds[kk] == DL_ADAGRAD ? 0.0f : 0.9f;
        od.centered = kinds[kk] == DL_RMSPROP; od.amsgrad = kinds[kk] == DL_ADAMW; od.weight_decay = 0.01f;
        o1 = dl_optim_new(cx, &od, 1); o2 = dl_optim_new(cx, &od, PARTS);
        big = dl_uniform(cx, dl_shape1(N), -1.0f, 1.0f); dl_requires_grad(cx, big, 1);
        for (q = 0; q < PARTS; q++) {
            sm[q] = dl_empty(cx, dl_shape1(N / PARTS)); dl_requires_grad(cx, sm[q], 1);
            memcpy(sm[q]->data, big->data + q * (N / PARTS), sizeof(float) * (N / PARTS));
        }
        dl_optim_add(o1, &big, 1, NULL); dl_optim_add(o2, sm, PARTS, NULL);
        for (s = 0; s < 3; s++) {
            dl_mark m = dl_ctx_mark(cx);
            dl_optim_zero_grad(o1); dl_optim_zero_grad(o2);
            dl_backward(cx, dl_sum_all(cx, dl_mul(cx, dl_sin(cx, big), big)));
            for (q = 0; q < PARTS; q++) dl_backward(cx, dl_sum_all(cx, dl_mul(cx, dl_sin(cx, sm[q]), sm[q])));
            dl_optim_step(o1); dl_optim_step(o2);
            dl_ctx_rewind(cx, m);
        }
        T_EXPECT(dl_ctx_status(cx) == DL_STATUS_OK, "%s", dl_ctx_message(cx));
        for (i = 0; i < N; i++) if (memcmp(&big->data[i], &sm[i / (N / PARTS)]->data[i % (N / PARTS)], sizeof(float))) bad++;
        T_EXPECT(bad == 0, "optimizer kind %d: %lld elements differ", kinds[kk], (long long)bad);
        dl_ctx_free(cx);
    }
    T_END();
}

static void test_threads_bits(void) {
    enum { RUNS = 4 };
    float *res[RUNS]; int64_t nres = 0; int v, calls = 0;
    T_BEGIN("threads: results are bit-identical for 1, 2, 3 pool threads and a caller's parallel_for");
    for (v = 0; v < RUNS; v++) {
        dl_ctx_desc d; dl_ctx *cx; dl_tensor *x, *w1, *w2, *img, *k, *y, *loss, *c; dl_conv_desc cd; int64_t i, n = 0;
        memset(&d, 0, sizeof d); d.memory_size = (size_t)64 << 20; d.seed = 5;
        if (v < 3) d.threads = v + 1; else { d.parallel_for = reverse_for; d.parallel_user = &calls; }
        cx = dl_ctx_init(&d);
        T_EXPECT(v == 3 ? dl_ctx_threads(cx) == 0 : dl_ctx_threads(cx) == v + 1, "threads %d", dl_ctx_threads(cx));
        x = dl_uniform(cx, dl_shape2(200, 300), -1, 1);
        w1 = dl_uniform(cx, dl_shape2(600, 300), -1, 1); w2 = dl_uniform(cx, dl_shape2(600, 33), -1, 1);
        img = dl_uniform(cx, dl_shape4(3, 4, 30, 30), -1, 1); k = dl_uniform(cx, dl_shape4(40, 4, 3, 3), -1, 1);
        dl_requires_grad(cx, w1, 1); dl_requires_grad(cx, w2, 1); dl_requires_grad(cx, k, 1);
        y = dl_matmul(cx, dl_tanh(cx, dl_matmul_ex(cx, x, w1, DL_TRANS_B)), w2);
        memset(&cd, 0, sizeof cd); cd.pad[0] = cd.pad[1] = cd.pad[2] = cd.pad[3] = 1;
        c = dl_conv2d(cx, img, k, NULL, &cd);
        loss = dl_add(cx, dl_sum_all(cx, dl_square(cx, y)), dl_sum_all(cx, dl_square(cx, c)));
        dl_backward(cx, loss);
        T_EXPECT(dl_ctx_status(cx) == DL_STATUS_OK, "%s", dl_ctx_message(cx));
        if (dl_ctx_status(cx) == DL_STATUS_OK) {
            nres = y->numel + c->numel + w1->numel + w2->numel + k->numel;
            res[v] = (float *)malloc(sizeof(float) * (size_t)nres);
            for (i = 0; i < y->numel; i++) res[v][n++] = y->data[i];
            for (i = 0; i < c->numel; i++) res[v][n++] = c->data[i];
            for (i = 0; i < w1->numel; i++) res[v][n++] = w1->grad[i];
            for (i = 0; i < w2->numel; i++) res[v][n++] = w2->grad[i];
            for (i = 0; i < k->numel; i++) res[v][n++] = k->grad[i];
        } else res[v] = NULL;
        dl_ctx_free(cx);
    }
    T_EXPECT(calls > 0, "the caller's parallel_for was never called");
    for (v = 1; v < RUNS; v++)
        T_EXPECT(res[0] && res[v] && memcmp(res[0], res[v], sizeof(float) * (size_t)nres) == 0, "run %d differs from 1 thread", v);
    for (v = 0; v < RUNS; v++) free(res[v]);
    T_END();
}

/* the AVX update loops of SGD-momentum and Adam give the scalar loops' bits (1001 params:
   a vector body and a scalar tail), over 4 steps with changing gradients */
static void test_optim_isa_bits(void) {
    int kind;
    T_BEGIN("optim: the AVX SGD-momentum and Adam updates give the same bits as the portable loops");
    for (kind = 0; kind < 2; kind++) {
        float res[2][1001]; int v, st; int64_t i;
        for (v = 0; v < 2; v++) {
            dl_ctx_desc d; dl_ctx *cx; dl_tensor *w; dl_optim *o; dl_optim_desc od;
            memset(&d, 0, sizeof d); d.memory_size = 1 << 20; d.seed = 3; d.isa = v ? DL_ISA_PORTABLE : DL_ISA_AUTO;
            cx = dl_ctx_init(&d);
            w = dl_uniform(cx, dl_shape1(1001), -1, 1); dl_requires_grad(cx, w, 1);
            memset(&od, 0, sizeof od); od.kind = kind ? DL_ADAM : DL_SGD; od.lr = 0.05f; od.momentum = kind ? 0.0f : 0.9f;
            o = dl_optim_new(cx, &od, 1); dl_optim_add(o, &w, 1, NULL);
            for (st = 0; st < 4; st++) {
                for (i = 0; i < 1001; i++) w->grad[i] = sinf((float)(i * 7 + st * 13)) * (float)(st + 1);
                dl_optim_step(o);
            }
            T_EXPECT(dl_ctx_status(cx) == DL_STATUS_OK, "%s", dl_ctx_message(cx));
            memcpy(res[v], w->data, sizeof res[v]);
            dl_ctx_free(cx);
        }
        T_EXPECT(memcmp(res[0], res[1], sizeof res[0]) == 0, "%s: the kernel sets differ", kind ? "adam" : "sgd");
    }
    T_END();
}

/* tied weights: one W used as encoder (x W^T) and decoder (h W); its gradient is the sum */
static dl_tensor *tied_autoencoder(dl_ctx *ctx, dl_tensor *const *in, int n, void *user) {
    dl_tensor *h = dl_tanh(ctx, dl_matmul_ex(ctx, in[0], in[1], DL_TRANS_B));   /* [4,3] */
    (void)n; (void)user;
    return dl_mse_loss(ctx, dl_matmul(ctx, h, in[1]), in[0], DL_REDUCE_MEAN);      /* [4,5] */
}
static void test_sharing(void) {
    dl_ctx *ctx = core_ctx(1 << 20);
    dl_tensor *in[2]; dl_gradcheck_result r; dl_status st;
    T_BEGIN("autodiff: parameter sharing (tied autoencoder weight) passes gradcheck");
    in[0] = dl_uniform(ctx, dl_shape2(4, 5), -1.0f, 1.0f);
    in[1] = dl_uniform(ctx, dl_shape2(3, 5), -1.0f, 1.0f);
    dl_requires_grad(ctx, in[1], 1);
    st = dl_gradcheck(ctx, tied_autoencoder, NULL, in, 2, NULL, &r);
    T_EXPECT(st == DL_STATUS_OK && r.checked == 15, "%s (%s)", dl_gradcheck_message(ctx), dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

static void test_batch_rows(void) {
    dl_ctx *ctx = core_ctx(1 << 16);
    static const unsigned char bytes[3][4] = {{0, 51, 102, 255}, {1, 2, 3, 4}, {200, 100, 50, 25}};
    static const int32_t rows[2] = {2, 0};
    dl_tensor *t;
    T_BEGIN("data: dl_batch_rows_u8 gathers byte rows and scales them");
    t = dl_batch_rows_u8(ctx, &bytes[0][0], 4, rows, 2, dl_shape2(2, 4), 1.0f / 255.0f);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_get(t, 0) == 200.0f * (1.0f / 255.0f) && dl_get(t, 3) == 25.0f * (1.0f / 255.0f) && dl_get(t, 4) == 0.0f && dl_get(t, 7) == 255.0f * (1.0f / 255.0f),
             "values %g %g %g %g", (double)dl_get(t, 0), (double)dl_get(t, 3), (double)dl_get(t, 4), (double)dl_get(t, 7));
    t = dl_batch_rows_u8(ctx, &bytes[0][0], 4, rows, 2, dl_shape2(3, 4), 1.0f);
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_SHAPE && msg_has(ctx, "dl_batch_rows_u8: shape [3,4] does not hold 2 rows"), "message: %s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
    {   /* measure mode has no data to read: NULL data is fine there (the examples size their arena so) */
        dl_ctx_desc d; dl_ctx *mc; memset(&d, 0, sizeof d); d.measure = 1;
        T_BEGIN("data: dl_batch_rows and dl_batch_rows_u8 take NULL data in measure mode");
        mc = dl_ctx_init(&d);
        dl_batch_rows_u8(mc, NULL, 784, rows, 2, dl_shape2(2, 784), 1.0f);
        dl_batch_rows(mc, NULL, 784, rows, 2, dl_shape2(2, 784));
        T_EXPECT(dl_ctx_status(mc) == DL_STATUS_OK && dl_ctx_peak_bytes(mc) >= 2 * 2 * 784 * sizeof(float), "%s", dl_ctx_message(mc));
        dl_ctx_free(mc);
        T_END();
    }
}

static void suite_core(void) {
    test_batch_rows();
    test_sharing();
    test_isa_paths();
    test_threads_bits();
    test_unary_chunks();
    test_binary_rows();
    test_optim_chunks();
    test_optim_isa_bits();
    test_arena();
    test_measure();
    test_errors();
    test_autodiff();
    test_views_rng();
}
