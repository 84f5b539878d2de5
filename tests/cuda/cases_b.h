/* tests/cuda/cases_b.h - convolutions (conv2d, conv1d, conv_transpose2d) and pooling (max,
   avg, adaptive avg, max_unpool), forward and backward, every option; W2 (LeNet-5) and W3
   layer shapes. The desc of the case being run sits in a global the builders read. */
static dl_conv_desc g_b_cd;
static dl_pool_desc g_b_pd;
#if defined(DLC_EMULATE)
#define B_N 2               /* emulated: a naive GEMM, keep the batch small */
#else
#define B_N 8
#endif
static dl_tensor *b_conv2d(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_conv2d(ctx, in[0], in[1], c->nin > 2 ? in[2] : NULL, &g_b_cd); }
static dl_tensor *b_conv1d(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_conv1d(ctx, in[0], in[1], c->nin > 2 ? in[2] : NULL, &g_b_cd); }
static dl_tensor *b_convt2d(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_conv_transpose2d(ctx, in[0], in[1], c->nin > 2 ? in[2] : NULL, &g_b_cd); }
static dl_tensor *b_maxpool(dl_ctx *ctx, dl_tensor **in, const opcase *c) { (void)c; return dl_max_pool2d(ctx, in[0], &g_b_pd, NULL); }
static dl_tensor *b_avgpool(dl_ctx *ctx, dl_tensor **in, const opcase *c) { (void)c; return dl_avg_pool2d(ctx, in[0], &g_b_pd); }
static dl_tensor *b_adapool(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_adaptive_avg_pool2d(ctx, in[0], c->iarg[0], c->iarg[1]); }
static dl_tensor *b_gapool(dl_ctx *ctx, dl_tensor **in, const opcase *c) { (void)c; return dl_global_avg_pool2d(ctx, in[0]); }
static dl_tensor *b_unpool(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_max_unpool2d(ctx, in[0], in[1], c->iarg[0], c->iarg[1]); }
/* max_pool2d's indices feeding max_unpool2d (overlapping windows: repeated indices) */
static dl_tensor *b_pool_unpool(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_tensor *ix = NULL, *y = dl_max_pool2d(ctx, in[0], &g_b_pd, &ix);
    return dl_max_unpool2d(ctx, y, ix, (int)in[0]->shape[2], (int)in[0]->shape[3]);
    (void)c;
}
/* LeNet-5's feature stack (W2) and W3's conv stack, through relu and max pooling */
static dl_tensor *b_lenet(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_conv_desc d1; dl_pool_desc p; dl_tensor *h;
    memset(&d1, 0, sizeof d1); memset(&p, 0, sizeof p); (void)c;
    d1.pad[0] = d1.pad[1] = d1.pad[2] = d1.pad[3] = 2; p.kernel[0] = p.kernel[1] = 2;
    h = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d(ctx, in[0], in[1], in[2], &d1)), &p, NULL);
    h = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d(ctx, h, in[3], in[4], NULL)), &p, NULL);
    return h;
}
static dl_tensor *b_w3(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_conv_desc d; dl_pool_desc p; dl_tensor *h;
    memset(&d, 0, sizeof d); memset(&p, 0, sizeof p); (void)c;
    d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = 1; p.kernel[0] = p.kernel[1] = 2;
    h = dl_relu(ctx, dl_conv2d(ctx, in[0], in[1], in[2], &d));
    h = dl_relu(ctx, dl_conv2d(ctx, h, in[3], in[4], &d));
    return dl_max_pool2d(ctx, h, &p, NULL);
}
static void b_cd(int sh, int sw, int dh, int dw, int pt, int pb, int pl, int pr, int groups, int mode) {
    memset(&g_b_cd, 0, sizeof g_b_cd);
    g_b_cd.stride[0] = sh; g_b_cd.stride[1] = sw; g_b_cd.dilation[0] = dh; g_b_cd.dilation[1] = dw;
    g_b_cd.pad[0] = pt; g_b_cd.pad[1] = pb; g_b_cd.pad[2] = pl; g_b_cd.pad[3] = pr;
    g_b_cd.groups = groups; g_b_cd.padding_mode = mode;
}
static void b_pd(int kh, int kw, int sh, int sw, int ph, int pw, int excl) {
    memset(&g_b_pd, 0, sizeof g_b_pd);
    g_b_pd.kernel[0] = kh; g_b_pd.kernel[1] = kw; g_b_pd.stride[0] = sh; g_b_pd.stride[1] = sw;
    g_b_pd.pad[0] = ph; g_b_pd.pad[1] = pw; g_b_pd.exclude_pad = excl;
}
static void b_conv_case(const char *name, dl_tensor *(*build)(dl_ctx *, dl_tensor **, const opcase *), dl_shape x, dl_shape w, int64_t nbias) {
    opcase c; memset(&c, 0, sizeof c);
    c.name = name; c.build = build; c.nin = nbias ? 3 : 2; c.shape[0] = x; c.shape[1] = w; c.shape[2] = S1(nbias);
    c.kind[0] = c.kind[1] = c.kind[2] = 'f'; c.tol = 1e-5;
    run_case(&c);
}
static void b_pool_case(const char *name, dl_tensor *(*build)(dl_ctx *, dl_tensor **, const opcase *), dl_shape x, int a0, int a1) {
    opcase c; memset(&c, 0, sizeof c);
    c.name = name; c.build = build; c.nin = 1; c.shape[0] = x; c.kind[0] = 'f'; c.iarg[0] = a0; c.iarg[1] = a1;
    run_case(&c);
}
/* ties: values from {-1, 0, 1, 2}; y, the indices and dx must match the CPU exactly, with
   atomics (g_gpu) and the ordered gather (a deterministic context) */
static void b_maxpool_ties(void) {
    static const char *nm = "dl_max_pool2d ties, indices, deterministic and not";
    dl_ctx_desc cd; dl_ctx *det; dl_ctx *cx[3]; float *xv, *dy, *out[3][3]; int64_t nx, ny, i; int k, ok = 1;
    dl_shape xs = S4(2, 3, 7, 8);
    if (g_filter && !strstr(nm, g_filter)) return;
    memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)16 << 20; cd.seed = 7; cd.backend = dl_cuda_backend(); cd.deterministic = 1;
    det = dl_ctx_init(&cd);
    if (!det) { report(nm, 0, "(no deterministic context)", 0, 0); return; }
    cx[0] = g_cpu; cx[1] = g_gpu; cx[2] = det;
    b_pd(3, 3, 2, 2, 1, 1, 0);
    nx = numel_of(xs); ny = 2 * 3 * 4 * 4;
    xv = (float *)malloc(sizeof(float) * (size_t)nx); dy = (float *)malloc(sizeof(float) * (size_t)ny);
    for (i = 0; i < nx; i++) xv[i] = (float)((int)(urand() * 4.0) - 1);
    for (i = 0; i < ny; i++) dy[i] = nrand();
    for (k = 0; k < 3; k++) {
        dl_mark mk = dl_ctx_mark(cx[k]); dl_tensor *x, *y, *ix = NULL;
        x = dl_from_data(cx[k], xs, xv); dl_requires_grad(cx[k], x, 1);
        y = dl_max_pool2d(cx[k], x, &g_b_pd, &ix);
        out[k][0] = (float *)malloc(sizeof(float) * (size_t)ny); out[k][1] = (float *)malloc(sizeof(float) * (size_t)ny);
        out[k][2] = (float *)malloc(sizeof(float) * (size_t)nx);
        if (dl_ctx_status(cx[k]) || y->numel != ny) { ok = 0; memset(out[k][0], 0, sizeof(float) * (size_t)ny); memset(out[k][1], 0, sizeof(float) * (size_t)ny); memset(out[k][2], 0, sizeof(float) * (size_t)nx); }
        else {
            dl_copy_to(y, out[k][0]); dl_copy_to(ix, out[k][1]);
            dl_backward_with(cx[k], y, dy);
            for (i = 0; i < nx; i++) out[k][2][i] = dl_grad_get(x, i);
            if (dl_ctx_status(cx[k])) ok = 0;
        }
        dl_ctx_clear_error(cx[k]); dl_ctx_rewind(cx[k], mk);
    }
    for (k = 1; k < 3; k++) {
        if (memcmp(out[k][0], out[0][0], sizeof(float) * (size_t)ny) || memcmp(out[k][1], out[0][1], sizeof(float) * (size_t)ny)) ok = 0;
        if (nerr(out[k][2], out[0][2], nx) > 1e-6) ok = 0;
    }
    if (memcmp(out[2][2], out[0][2], sizeof(float) * (size_t)nx)) ok = 0;   /* ordered: the CPU's bits */
    report(nm, ok, "", 0, 0);
    for (k = 0; k < 3; k++) { free(out[k][0]); free(out[k][1]); free(out[k][2]); }
    free(xv); free(dy); dl_ctx_free(det);
}
static void run_b_cases(void) {
    /* conv2d */
    b_cd(0, 0, 0, 0, 1, 1, 1, 1, 0, 0);
    b_conv_case("dl_conv2d 3x3 pad 1 bias", b_conv2d, S4(2, 3, 7, 6), S4(4, 3, 3, 3), 4);
    b_cd(2, 2, 0, 0, 1, 0, 2, 1, 0, 0);
    b_conv_case("dl_conv2d stride 2 asymmetric pad, no bias", b_conv2d, S4(2, 3, 9, 8), S4(5, 3, 3, 2), 0);
    b_cd(2, 1, 2, 3, 2, 2, 1, 3, 0, 0);
    b_conv_case("dl_conv2d dilation (2,3) stride (2,1)", b_conv2d, S4(1, 2, 10, 11), S4(3, 2, 3, 3), 3);
    b_cd(0, 0, 0, 0, 1, 1, 1, 1, 2, 0);
    b_conv_case("dl_conv2d groups 2", b_conv2d, S4(2, 4, 6, 5), S4(6, 2, 3, 3), 6);
    b_cd(2, 2, 0, 0, 1, 1, 1, 1, 3, 0);
    b_conv_case("dl_conv2d depthwise (groups = C, 2 per group) stride 2", b_conv2d, S4(2, 3, 7, 7), S4(6, 1, 3, 3), 6);
    b_cd(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    b_conv_case("dl_conv2d 1x1", b_conv2d, S4(2, 5, 4, 3), S4(3, 5, 1, 1), 3);
    b_cd(0, 0, 0, 0, 0, 0, 0, 0, 0, DL_PAD_SAME);
    b_conv_case("dl_conv2d SAME even kernel", b_conv2d, S4(2, 2, 6, 5), S4(3, 2, 4, 2), 3);
    b_cd(2, 1, 1, 2, 0, 0, 0, 0, 0, DL_PAD_FULL);
    b_conv_case("dl_conv2d FULL stride 2 dilation", b_conv2d, S4(1, 2, 5, 4), S4(2, 2, 2, 3), 0);
    b_cd(3, 2, 0, 0, 0, 0, 0, 0, 0, DL_PAD_VALID);
    b_conv_case("dl_conv2d VALID stride (3,2) kernel larger than stride", b_conv2d, S4(2, 2, 11, 9), S4(2, 2, 5, 4), 2);
    b_cd(0, 0, 0, 0, 1, 1, 1, 1, 0, 0);
    b_conv_case("dl_conv2d chunked (several image chunks)", b_conv2d, S4(3, 60, 64, 64), S4(2, 60, 3, 3), 2);
    b_cd(0, 0, 0, 0, 2, 2, 2, 2, 0, 0);
    b_conv_case("dl_conv2d W2 conv1 (1->6, 5x5 pad 2, 28x28)", b_conv2d, S4(B_N, 1, 28, 28), S4(6, 1, 5, 5), 6);
    b_cd(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    b_conv_case("dl_conv2d W2 conv2 (6->16, 5x5, 14x14)", b_conv2d, S4(B_N, 6, 14, 14), S4(16, 6, 5, 5), 16);
    /* conv1d: x [N,C,L], w [O,C/g,k]; pad[0] left, pad[1] right */
    b_cd(2, 0, 2, 0, 1, 2, 0, 0, 0, 0);
    b_conv_case("dl_conv1d stride 2 dilation 2 pad (1,2)", b_conv1d, S3(2, 3, 11), S3(4, 3, 3), 4);
    b_cd(0, 0, 0, 0, 1, 1, 0, 0, 2, 0);
    b_conv_case("dl_conv1d groups 2 no bias", b_conv1d, S3(2, 4, 9), S3(6, 2, 3), 0);
    /* conv_transpose2d: x [N,Cin,H,W], w [Cin, Cout/g, kh, kw]; symmetric pad[0], pad[2] */
    b_cd(2, 2, 0, 0, 1, 0, 1, 0, 0, 0); g_b_cd.output_padding[0] = 1; g_b_cd.output_padding[1] = 1;
    b_conv_case("dl_conv_transpose2d stride 2 pad 1 output_padding 1", b_convt2d, S4(2, 4, 5, 4), S4(4, 3, 3, 3), 3);
    b_cd(1, 2, 2, 1, 2, 0, 0, 0, 2, 0);
    b_conv_case("dl_conv_transpose2d groups 2 dilation (2,1) stride (1,2) no bias", b_convt2d, S4(1, 4, 4, 5), S4(4, 2, 3, 2), 0);
    b_cd(0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    b_conv_case("dl_conv_transpose2d 1x1", b_convt2d, S4(2, 3, 4, 5), S4(3, 2, 1, 1), 2);
    b_cd(2, 2, 0, 0, 0, 0, 0, 0, 4, DL_PAD_VALID);
    b_conv_case("dl_conv_transpose2d depthwise 2x2 stride 2", b_convt2d, S4(2, 4, 3, 3), S4(4, 1, 2, 2), 4);
    b_cd(3, 3, 0, 0, 1, 0, 1, 0, 0, 0); g_b_cd.output_padding[0] = 2; g_b_cd.output_padding[1] = 0;
    b_conv_case("dl_conv_transpose2d stride 3 kernel 2 (gaps)", b_convt2d, S4(2, 2, 3, 4), S4(2, 3, 2, 2), 3);
    /* max pool */
    b_pd(2, 2, 0, 0, 0, 0, 0);
    b_pool_case("dl_max_pool2d 2x2 (W2)", b_maxpool, S4(B_N, 6, 28, 28), 0, 0);
    b_pd(3, 3, 2, 2, 1, 1, 0);
    b_pool_case("dl_max_pool2d 3x3 stride 2 pad 1 odd sizes", b_maxpool, S4(2, 3, 9, 8), 0, 0);
    b_pd(3, 2, 1, 2, 1, 0, 0);
    b_pool_case("dl_max_pool2d 3x2 stride (1,2) pad (1,0) overlapping", b_maxpool, S4(2, 2, 6, 7), 0, 0);
    b_maxpool_ties();
    /* avg pool */
    b_pd(3, 3, 2, 2, 1, 1, 0);
    b_pool_case("dl_avg_pool2d 3x3 stride 2 pad 1 count_include_pad", b_avgpool, S4(2, 3, 9, 8), 0, 0);
    b_pd(3, 3, 2, 2, 1, 1, 1);
    b_pool_case("dl_avg_pool2d 3x3 stride 2 pad 1 exclude_pad", b_avgpool, S4(2, 3, 9, 8), 0, 0);
    b_pd(2, 2, 0, 0, 0, 0, 0);
    b_pool_case("dl_avg_pool2d 2x2 odd input", b_avgpool, S4(2, 2, 7, 5), 0, 0);
    b_pd(3, 2, 2, 1, 1, 1, 1);
    b_pool_case("dl_avg_pool2d 3x2 stride (2,1) pad 1 exclude_pad", b_avgpool, S4(1, 3, 6, 5), 0, 0);
    /* adaptive */
    b_pool_case("dl_adaptive_avg_pool2d 7x9 -> 3x4", b_adapool, S4(2, 3, 7, 9), 3, 4);
    b_pool_case("dl_adaptive_avg_pool2d 3x5 -> 5x7 (upsampling bins)", b_adapool, S4(1, 2, 3, 5), 5, 7);
    b_pool_case("dl_adaptive_avg_pool2d 6x6 -> 2x3", b_adapool, S4(2, 2, 6, 6), 2, 3);
    b_pool_case("dl_global_avg_pool2d", b_gapool, S4(2, 5, 4, 7), 0, 0);
    /* max_unpool */
    {   opcase c; memset(&c, 0, sizeof c);
        c.name = "dl_max_unpool2d random (repeated) indices"; c.build = b_unpool; c.nin = 2;
        c.shape[0] = S4(2, 3, 4, 5); c.shape[1] = S4(2, 3, 4, 5); c.kind[0] = 'f'; c.kind[1] = 'i'; c.range[1] = 6 * 7;
        c.iarg[0] = 6; c.iarg[1] = 7;
        run_case(&c); }
    b_pd(3, 3, 1, 1, 1, 1, 0);
    b_pool_case("dl_max_pool2d -> dl_max_unpool2d (overlapping windows)", b_pool_unpool, S4(2, 2, 6, 5), 0, 0);
    b_pd(2, 2, 0, 0, 0, 0, 0);
    b_pool_case("dl_max_pool2d 2x2 -> dl_max_unpool2d", b_pool_unpool, S4(2, 2, 6, 8), 0, 0);
    /* workload stacks */
    {   opcase c; memset(&c, 0, sizeof c);
        c.name = "W2 LeNet-5 features: conv5x5 pad 2, relu, maxpool 2, conv5x5, relu, maxpool 2"; c.build = b_lenet; c.nin = 5;
        c.shape[0] = S4(B_N, 1, 28, 28); c.shape[1] = S4(6, 1, 5, 5); c.shape[2] = S1(6); c.shape[3] = S4(16, 6, 5, 5); c.shape[4] = S1(16);
        c.kind[0] = c.kind[1] = c.kind[2] = c.kind[3] = c.kind[4] = 'f'; c.tol = 1e-5;
        run_case(&c);
        c.name = "W3 conv stack: conv3x3 pad 1 x2, relu, maxpool 2"; c.build = b_w3;
#if defined(DLC_EMULATE)
        c.shape[0] = S4(2, 1, 28, 28); c.shape[1] = S4(8, 1, 3, 3); c.shape[2] = S1(8); c.shape[3] = S4(16, 8, 3, 3); c.shape[4] = S1(16);
#else
        c.shape[0] = S4(8, 1, 28, 28); c.shape[1] = S4(32, 1, 3, 3); c.shape[2] = S1(32); c.shape[3] = S4(64, 32, 3, 3); c.shape[4] = S1(64);
#endif
        run_case(&c); }
}
