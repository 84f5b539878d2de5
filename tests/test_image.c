/* tests/test_image.c - augmentation and per-channel normalization (dl.h >>ops-image).
   The random helpers are checked against a direct computation: the test replays the
   documented draws (crop: oy then ox, each dl_rand_u64 % (2 pad + 1); translate: dy then
   dx the same way, minus max_shift; hflip: one dl_rand_uniform per image, flip when
   u < p) from the same seed and builds the expected image by hand (zero-padded copy,
   window, flip). Also: pad 0 / p 0 / shift 0 are the identity, p 1 flips every image,
   strided inputs give the same result as contiguous ones, the same seed gives the same
   result, measure mode draws the same numbers and measures the real peak, no gradient
   flows, bad arguments fail with a status. dl_normalize_channels: the formula and
   dl_gradcheck on [N,C,H,W], [N,C,L] and [N,C].                                          */
#include <stdlib.h>

static dl_ctx *img_ctx(size_t bytes, uint64_t seed) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = seed;
    return dl_ctx_init(&d);
}
/* x.flat[i] = 1 + i: distinct and non-zero, so a value identifies its source pixel and
   zero fill is unambiguous */
static dl_tensor *img_input(dl_ctx *ctx, int64_t N, int64_t C, int64_t H, int64_t W) {
    dl_tensor *x = dl_empty(ctx, dl_shape4(N, C, H, W)); int64_t i;
    if (!dl_is_poison(x) && x->data) for (i = 0; i < x->numel; i++) x->data[i] = 1.0f + (float)i;
    return x;
}
/* expected y for image n shifted by (dy, dx), y[i,j] = x[i-dy, j-dx] or 0; x contiguous */
static void img_expect_shift(const float *x, float *e, int64_t C, int64_t H, int64_t W, int64_t dy, int64_t dx) {
    int64_t c, i, j;
    for (c = 0; c < C; c++)
        for (i = 0; i < H; i++)
            for (j = 0; j < W; j++) {
                int64_t si = i - dy, sj = j - dx;
                e[(c * H + i) * W + j] = (si >= 0 && si < H && sj >= 0 && sj < W) ? x[(c * H + si) * W + sj] : 0.0f;
            }
}

static void test_image_crop(void) {
    T_BEGIN("image crop: pad 0 is the identity (x itself, nothing drawn)");
    {
        dl_ctx *ctx = img_ctx(1 << 20, 7); dl_tensor *x = img_input(ctx, 2, 3, 5, 4), *y;
        uint64_t r0, r1; dl_ctx *ref = img_ctx(1 << 16, 7);
        y = dl_random_crop(ctx, x, 0);
        T_EXPECT(y == x && dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        r0 = dl_rand_u64(ctx); r1 = dl_rand_u64(ref);   /* x init drew nothing either */
        T_EXPECT(r0 == r1, "pad 0 drew random numbers");
        dl_ctx_free(ctx); dl_ctx_free(ref);
    }
    T_END();

    T_BEGIN("image crop: each image is the drawn window of the zero-padded image");
    {
        const int64_t N = 32, C = 2, H = 6, W = 5; const int pad = 3;
        const int64_t PH = H + 2 * pad, PW = W + 2 * pad;
        dl_ctx *ctx = img_ctx(1 << 20, 11); dl_tensor *x = img_input(ctx, N, C, H, W), *y;
        float *padded = (float *)calloc((size_t)(C * PH * PW), sizeof(float));
        float *e = (float *)malloc((size_t)(C * H * W) * sizeof(float));
        int64_t n, c, i, j, distinct = 0, seen[64] = {0};
        dl_ctx_seed(ctx, 99);
        y = dl_random_crop(ctx, x, pad);
        T_EXPECT(!dl_is_poison(y) && y != x && dl_same_shape(x, y), "%s", dl_ctx_message(ctx));
        T_EXPECT(!y->requires_grad && y->node == NULL, "crop must not record a node");
        dl_ctx_seed(ctx, 99);
        for (n = 0; n < N && !dl_is_poison(y); n++) {
            int64_t oy = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(2 * pad + 1));
            int64_t ox = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(2 * pad + 1));
            /* the padded image, built directly, then the window at (oy, ox) */
            for (c = 0; c < C; c++)
                for (i = 0; i < H; i++)
                    for (j = 0; j < W; j++)
                        padded[(c * PH + i + pad) * PW + j + pad] = x->data[((n * C + c) * H + i) * W + j];
            for (c = 0; c < C; c++)
                for (i = 0; i < H; i++)
                    for (j = 0; j < W; j++) e[(c * H + i) * W + j] = padded[(c * PH + i + oy) * PW + j + ox];
            if (!t_allclose(y->data + n * C * H * W, e, (long)(C * H * W), 0, 0, "crop window")) break;
            if (!seen[oy * (2 * pad + 1) + ox]++) distinct++;
        }
        T_EXPECT(distinct >= 10, "only %ld distinct offsets in %ld images", (long)distinct, (long)N);
        free(padded); free(e);
        dl_ctx_free(ctx);
    }
    T_END();

    T_BEGIN("image crop: pad larger than the image, strided input, x needing grad");
    {
        dl_ctx *ctx = img_ctx(1 << 20, 3); dl_tensor *x = img_input(ctx, 4, 2, 3, 3), *xv, *y1, *y2, *big;
        int64_t i; int zeros = 0;
        dl_requires_grad(ctx, x, 1);
        xv = dl_transpose(ctx, dl_contiguous(ctx, dl_transpose(ctx, x, 2, 3)), 2, 3); /* x's values, strided */
        T_EXPECT(!dl_is_contiguous(xv), "want a strided view");
        dl_ctx_seed(ctx, 5); y1 = dl_random_crop(ctx, x, 2);
        dl_ctx_seed(ctx, 5); y2 = dl_random_crop(ctx, xv, 2);
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        if (!dl_is_poison(y2)) t_allclose(y2->data, y1->data, (long)y1->numel, 0, 0, "strided vs contiguous");
        T_EXPECT(!y1->requires_grad && y1->grad == NULL, "crop output needs no grad");
        big = dl_random_crop(ctx, x, 10);
        for (i = 0; !dl_is_poison(big) && i < big->numel; i++) zeros += big->data[i] == 0.0f;
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK && zeros > 0, "pad 10 on 3x3: %s", dl_ctx_message(ctx));
        dl_ctx_free(ctx);
    }
    T_END();
}

static void test_image_flip_translate(void) {
    T_BEGIN("image hflip: p 1 flips every image exactly, p 0 is x itself");
    {
        dl_ctx *ctx = img_ctx(1 << 20, 1); dl_tensor *x = img_input(ctx, 3, 2, 4, 5), *y;
        int64_t n, c, i, j; int bad = 0;
        y = dl_random_hflip(ctx, x, 1.0f);
        for (n = 0; !dl_is_poison(y) && n < 3; n++)
            for (c = 0; c < 2; c++)
                for (i = 0; i < 4; i++)
                    for (j = 0; j < 5; j++)
                        bad += y->data[((n * 2 + c) * 4 + i) * 5 + j] != x->data[((n * 2 + c) * 4 + i) * 5 + 4 - j];
        T_EXPECT(!dl_is_poison(y) && bad == 0, "%d elements not flipped; %s", bad, dl_ctx_message(ctx));
        T_EXPECT(dl_random_hflip(ctx, x, 0.0f) == x, "p 0 must return x");
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
        dl_ctx_free(ctx);
    }
    T_END();

    T_BEGIN("image hflip: p 0.5 flips the images whose draw is below p, on strided input");
    {
        const int64_t N = 40, C = 1, H = 3, W = 4;
        dl_ctx *ctx = img_ctx(1 << 20, 2); dl_tensor *x = img_input(ctx, N, C, H, W), *xv, *y;
        int64_t n, i, j; int flipped = 0, bad = 0;
        /* a strided view with x's values: [N,C,W,H] made contiguous, transposed back */
        xv = dl_transpose(ctx, dl_contiguous(ctx, dl_transpose(ctx, x, 2, 3)), 2, 3);
        T_EXPECT(!dl_is_contiguous(xv), "want a strided view");
        dl_ctx_seed(ctx, 8); y = dl_random_hflip(ctx, xv, 0.5f);
        dl_ctx_seed(ctx, 8);
        for (n = 0; !dl_is_poison(y) && n < N; n++) {
            int f = dl_rand_uniform(ctx) < 0.5f;
            flipped += f;
            for (i = 0; i < H; i++)
                for (j = 0; j < W; j++)
                    bad += y->data[(n * H + i) * W + j] != x->data[(n * H + i) * W + (f ? W - 1 - j : j)];
        }
        T_EXPECT(bad == 0 && flipped > 5 && flipped < 35, "bad %d, flipped %d of 40; %s", bad, flipped, dl_ctx_message(ctx));
        dl_ctx_free(ctx);
    }
    T_END();

    T_BEGIN("image translate: moves pixels by the drawn shift, fills with zeros");
    {
        const int64_t N = 30, C = 2, H = 5, W = 6; const int m = 2;
        dl_ctx *ctx = img_ctx(1 << 20, 4); dl_tensor *x = img_input(ctx, N, C, H, W), *y;
        float *e = (float *)malloc((size_t)(C * H * W) * sizeof(float));
        int64_t n; int moved = 0, zero_filled = 0;
        T_EXPECT(dl_random_translate(ctx, x, 0) == x, "max_shift 0 must return x");
        dl_ctx_seed(ctx, 21); y = dl_random_translate(ctx, x, m);
        dl_ctx_seed(ctx, 21);
        for (n = 0; !dl_is_poison(y) && n < N; n++) {
            int64_t dy = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(2 * m + 1)) - m;
            int64_t dx = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(2 * m + 1)) - m;
            int64_t k;
            img_expect_shift(x->data + n * C * H * W, e, C, H, W, dy, dx);
            if (!t_allclose(y->data + n * C * H * W, e, (long)(C * H * W), 0, 0, "translate")) break;
            moved += dy != 0 || dx != 0;
            for (k = 0; k < C * H * W; k++) zero_filled += y->data[n * C * H * W + k] == 0.0f;
            /* spot check by value: source pixel (2,2) of channel 1 lands at (2+dy, 2+dx) */
            T_EXPECT(y->data[((n * C + 1) * H + 2 + dy) * W + 2 + dx] == x->data[((n * C + 1) * H + 2) * W + 2], "pixel moved wrong");
        }
        T_EXPECT(moved > N / 2 && zero_filled > 0, "moved %d, zeros %d; %s", moved, zero_filled, dl_ctx_message(ctx));
        free(e);
        dl_ctx_free(ctx);
    }
    T_END();

    T_BEGIN("image: same seed, same result; another seed, another result");
    {
        dl_ctx *a = img_ctx(1 << 20, 123), *b = img_ctx(1 << 20, 123), *c = img_ctx(1 << 20, 124);
        dl_tensor *xa = img_input(a, 16, 1, 8, 8), *xb = img_input(b, 16, 1, 8, 8), *xc = img_input(c, 16, 1, 8, 8);
        dl_tensor *ya = dl_random_translate(a, dl_random_hflip(a, dl_random_crop(a, xa, 2), 0.5f), 1);
        dl_tensor *yb = dl_random_translate(b, dl_random_hflip(b, dl_random_crop(b, xb, 2), 0.5f), 1);
        dl_tensor *yc = dl_random_translate(c, dl_random_hflip(c, dl_random_crop(c, xc, 2), 0.5f), 1);
        T_EXPECT(!dl_ctx_status(a) && !dl_ctx_status(b) && !dl_ctx_status(c), "status");
        if (!dl_ctx_status(a) && !dl_ctx_status(b) && !dl_ctx_status(c)) {
            T_EXPECT(memcmp(ya->data, yb->data, (size_t)ya->numel * sizeof(float)) == 0, "same seed differs");
            T_EXPECT(memcmp(ya->data, yc->data, (size_t)ya->numel * sizeof(float)) != 0, "different seeds agree");
        }
        dl_ctx_free(a); dl_ctx_free(b); dl_ctx_free(c);
    }
    T_END();

    T_BEGIN("image: bad arguments fail with a status, never crash");
    {
        dl_ctx *ctx = img_ctx(1 << 20, 1); dl_tensor *x = img_input(ctx, 2, 1, 4, 4), *v = dl_zeros(ctx, dl_shape3(1, 4, 4));
        T_EXPECT(dl_is_poison(dl_random_crop(ctx, v, 1)) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "3-D crop: %s", dl_ctx_message(ctx));
        T_EXPECT(strstr(dl_ctx_message(ctx), "dl_random_crop") != NULL, "message: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        T_EXPECT(dl_is_poison(dl_random_crop(ctx, x, -1)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "pad -1: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        T_EXPECT(dl_is_poison(dl_random_hflip(ctx, x, 1.5f)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "p 1.5: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        T_EXPECT(dl_is_poison(dl_random_translate(ctx, x, -2)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "shift -2: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        T_EXPECT(dl_is_poison(dl_random_hflip(ctx, NULL, 0.5f)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "NULL: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        {   float mean[1] = {0.5f}, sd[1] = {0.0f};
            T_EXPECT(dl_is_poison(dl_normalize_channels(ctx, x, mean, sd)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "std 0: %s", dl_ctx_message(ctx));
            dl_ctx_clear_error(ctx);
            T_EXPECT(dl_is_poison(dl_normalize_channels(ctx, x, NULL, sd)) && dl_ctx_status(ctx) == DL_STATUS_INVALID, "NULL mean: %s", dl_ctx_message(ctx));
            dl_ctx_clear_error(ctx);
            T_EXPECT(dl_is_poison(dl_normalize_channels(ctx, dl_zeros(ctx, dl_shape1(4)), mean, mean)) && dl_ctx_status(ctx) == DL_STATUS_SHAPE, "1-D: %s", dl_ctx_message(ctx));
            dl_ctx_clear_error(ctx); }
        dl_ctx_free(ctx);
    }
    T_END();
}

/* one augmentation + normalize + tiny model step; returns the peak and the next raw draw */
static dl_status img_measure_run(int measure, size_t *peak, uint64_t *next) {
    dl_ctx_desc d; dl_ctx *ctx; dl_tensor *x, *w, *y, *loss; dl_mark mk; dl_status st;
    float mean[3] = {0.1f, 0.2f, 0.3f}, sd[3] = {0.5f, 0.6f, 0.7f}; int s;
    memset(&d, 0, sizeof d); d.memory_size = 4 << 20; d.measure = measure; d.seed = 77;
    ctx = dl_ctx_init(&d);
    if (!ctx) return DL_STATUS_OOM;
    w = dl_uniform(ctx, dl_shape2(5, 3 * 8 * 8), -0.1f, 0.1f);
    dl_requires_grad(ctx, w, 1);
    x = dl_uniform(ctx, dl_shape4(6, 3, 8, 8), 0.0f, 1.0f);
    mk = dl_ctx_mark(ctx);
    for (s = 0; s < 2; s++) {
        y = dl_random_translate(ctx, dl_random_hflip(ctx, dl_random_crop(ctx, x, 2), 0.5f), 1);
        y = dl_normalize_channels(ctx, y, mean, sd);
        loss = dl_mean_all(ctx, dl_square(ctx, dl_matmul_ex(ctx, dl_reshape(ctx, y, dl_shape2(6, -1)), w, DL_TRANS_B)));
        dl_zero_grad(w);
        dl_backward(ctx, loss);
        dl_ctx_rewind(ctx, mk);
    }
    *peak = dl_ctx_peak_bytes(ctx);
    *next = dl_rand_u64(ctx);
    st = dl_ctx_status(ctx);
    dl_ctx_free(ctx);
    return st;
}

static void test_image_measure(void) {
    T_BEGIN("image: measure mode measures the real peak and draws the same random numbers");
    {
        size_t pm = 0, pr = 0; uint64_t nm = 0, nr = 0;
        dl_status sm = img_measure_run(1, &pm, &nm), sr = img_measure_run(0, &pr, &nr);
        T_EXPECT(sm == DL_STATUS_OK && sr == DL_STATUS_OK, "measure %s, real %s", dl_status_name(sm), dl_status_name(sr));
        T_EXPECT(pm == pr, "measured peak %zu != real %zu", pm, pr);
        T_EXPECT(nm == nr, "RNG streams diverged between measure and real runs");
    }
    T_END();
}

static dl_tensor *img_norm_fn(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    const float *ms = (const float *)user;   /* mean[0..4), std[4..8) */
    (void)n;
    return dl_normalize_channels(ctx, x[0], ms, ms + 4);
}

static void test_image_normalize(void) {
    static const float ms[8] = {0.25f, -0.5f, 1.0f, 0.0f, 0.5f, 2.0f, 0.25f, 1.5f};
    T_BEGIN("image normalize_channels: (x - mean[c]) / std[c] on [N,C,H,W], [N,C,L], [N,C], strided");
    {
        dl_ctx *ctx = img_ctx(1 << 20, 9);
        dl_shape shapes[3]; int k;
        shapes[0] = dl_shape4(2, 3, 4, 5); shapes[1] = dl_shape3(3, 4, 6); shapes[2] = dl_shape2(5, 4);
        for (k = 0; k < 3; k++) {
            dl_tensor *x = dl_uniform(ctx, shapes[k], -2.0f, 2.0f), *y = dl_normalize_channels(ctx, x, ms, ms + 4);
            int64_t i, inner = 1, C = x->shape[1]; int d, bad = 0;
            for (d = 2; d < x->ndim; d++) inner *= x->shape[d];
            for (i = 0; !dl_is_poison(y) && i < x->numel; i++) {
                int64_t c = (i / inner) % C;
                float want = (x->data[i] - ms[c]) / ms[4 + c];
                bad += fabsf(y->data[i] - want) > 1e-6f * (1.0f + fabsf(want));
            }
            T_EXPECT(!dl_is_poison(y) && dl_same_shape(x, y) && bad == 0, "shape %d: %d bad; %s", k, bad, dl_ctx_message(ctx));
        }
        {   /* a strided [N,C,H,W] view gives the same values as its contiguous copy */
            dl_tensor *x = dl_uniform(ctx, dl_shape4(2, 3, 5, 4), -1.0f, 1.0f), *xv = dl_transpose(ctx, x, 2, 3);
            dl_tensor *y1 = dl_normalize_channels(ctx, xv, ms, ms + 4), *y2 = dl_normalize_channels(ctx, dl_contiguous(ctx, xv), ms, ms + 4);
            T_EXPECT(!dl_is_poison(y1) && !dl_is_poison(y2), "%s", dl_ctx_message(ctx));
            if (!dl_is_poison(y1) && !dl_is_poison(y2)) {
                float *a = (float *)malloc((size_t)y1->numel * sizeof(float)), *b = (float *)malloc((size_t)y1->numel * sizeof(float));
                dl_copy_to(y1, a); dl_copy_to(y2, b);
                t_allclose(a, b, (long)y1->numel, 0, 0, "strided");
                free(a); free(b);
            }
        }
        dl_ctx_free(ctx);
    }
    T_END();

    T_BEGIN("image normalize_channels: dl_gradcheck on [N,C,H,W], [N,C,L] and [N,C]");
    {
        dl_ctx *ctx = img_ctx(1 << 22, 10);
        dl_shape shapes[3]; int k;
        shapes[0] = dl_shape4(2, 4, 3, 3); shapes[1] = dl_shape3(2, 4, 5); shapes[2] = dl_shape2(3, 4);
        for (k = 0; k < 3; k++) {
            dl_tensor *x = dl_uniform(ctx, shapes[k], -1.0f, 1.0f); dl_gradcheck_result r; dl_status st;
            dl_requires_grad(ctx, x, 1);
            st = dl_gradcheck(ctx, img_norm_fn, (void *)ms, &x, 1, NULL, &r);
            T_EXPECT(st == DL_STATUS_OK && r.checked == x->numel, "shape %d: %s", k, dl_gradcheck_message(ctx));
        }
        dl_ctx_free(ctx);
    }
    T_END();
}

static void suite_image(void) {
    test_image_crop();
    test_image_flip_translate();
    test_image_measure();
    test_image_normalize();
}
