/* tests/cuda/cases_a.h - reductions, softmax, views, gather, index_select, concat, where,
   prelu, and the losses built from them (cross_entropy, nll_loss) */
static dl_tensor *b_softmax(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    return c->iarg[1] ? dl_log_softmax(ctx, in[0], c->iarg[0]) : dl_softmax(ctx, in[0], c->iarg[0]);
}
/* iarg[0]: 0 sum 1 mean 2 max 3 var 4 logsumexp; iarg[1]: axis, or -100 all, or -200 the mask
   iarg[3]; iarg[2]: keepdim (var: correction in farg[0]) */
static dl_tensor *b_reduce(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_tensor *x = in[0]; int k = c->iarg[0], ax = c->iarg[1], kd = c->iarg[2], corr = (int)c->farg[0];
    unsigned m = (unsigned)c->iarg[3];
    if (c->farg[1] != 0.0f)   /* values sign(x) (ties), gradient 1: the max tie rule shows in dx */
        x = dl_add(ctx, dl_sub(ctx, x, dl_detach(ctx, x)), dl_sign(ctx, x));
    if (ax == -100) switch (k) { case 0: return dl_sum_all(ctx, x); case 1: return dl_mean_all(ctx, x); case 2: return dl_max_all(ctx, x);
                                 case 3: return dl_var_axes(ctx, x, (1u << x->ndim) - 1u, corr, 0); default: return dl_logsumexp(ctx, dl_reshape(ctx, x, S1(-1)), 0, 0); }
    if (ax == -200) switch (k) { case 0: return dl_sum_axes(ctx, x, m, kd); case 1: return dl_mean_axes(ctx, x, m, kd); case 2: return dl_max_axes(ctx, x, m, kd);
                                 default: return dl_var_axes(ctx, x, m, corr, kd); }
    switch (k) {
    case 0: return dl_sum(ctx, x, ax, kd);
    case 1: return dl_mean(ctx, x, ax, kd);
    case 2: return dl_max(ctx, x, ax, kd);
    case 3: return dl_var(ctx, x, ax, corr, kd);
    default: return dl_logsumexp(ctx, x, ax, kd);
    }
}
/* views, then an op that reads them (the view itself is the output where it is contiguous) */
static dl_tensor *b_view(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_tensor *x = in[0];
    switch (c->iarg[0]) {
    case 0: return dl_reshape(ctx, x, S2(-1, 10));
    case 1: { int p[3] = { 2, 0, 1 }; return dl_mul_scalar(ctx, dl_permute(ctx, x, p), 2.0f); }
    case 2: return dl_mul_scalar(ctx, dl_transpose(ctx, x, 0, 2), -1.5f);
    case 3: return dl_mul_scalar(ctx, dl_slice(ctx, x, 1, 1, 6, 2), 3.0f);
    case 4: return dl_mul_scalar(ctx, dl_slice(ctx, dl_transpose(ctx, x, 1, 2), 2, -4, 5, 1), 0.5f);   /* view of a view */
    case 5: return dl_unsqueeze(ctx, dl_squeeze(ctx, dl_reshape(ctx, x, S4(4, 1, 5, 6)), 1), 0);
    case 6: {   /* split: three slices, used differently (one twice, one not at all) */
        int64_t sz[3] = { 1, 2, 2 }; dl_tensor *o[3];
        dl_split(ctx, x, 1, sz, 3, o);
        return dl_add(ctx, dl_mul_scalar(ctx, o[1], 2.0f), dl_mul(ctx, o[1], o[2]));
    }
    case 7: return dl_flatten(ctx, dl_slice(ctx, x, 0, 0, 4, 3), 0, -1);
    case 8: {   /* a broadcast (stride-0) view, as an expand would make: [4,1,6] -> [4,5,6] */
        int64_t st[3] = { 6, 0, 1 };
        return dl_mul_scalar(ctx, dl__view(ctx, x, S3(4, 5, 6), st, 0, 0, st), 2.0f);
    }
    default: {  /* overlapping windows (unfold-like): [12] -> [5,4], stride 2 */
        int64_t st[2] = { 2, 1 };
        return dl_mul_scalar(ctx, dl__view(ctx, x, S2(5, 4), st, 0, 0, st), 2.0f);
    }
    }
}
static dl_tensor *b_gather(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_gather(ctx, in[0], c->iarg[0], in[1]); }
static dl_tensor *b_index_select(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_index_select(ctx, in[0], c->iarg[0], in[1]); }
static dl_tensor *b_concat(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_concat(ctx, in, c->nin, c->iarg[0]); }
static dl_tensor *b_stack(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_stack(ctx, in, c->nin, c->iarg[0]); }
static dl_tensor *b_where(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_tensor *cond = c->kind[0] == 'u' ? dl_relu(ctx, in[0]) : in[0];   /* float cond: zero where u < 0 */
    return dl_where(ctx, cond, in[1], in[2]);
}
static dl_tensor *b_prelu(dl_ctx *ctx, dl_tensor **in, const opcase *c) { (void)c; return dl_prelu(ctx, in[0], in[1]); }
/* iarg[0]: 0 CE int labels, 1 CE probability target (softmax of in[1]), 2 nll_loss of
   log_softmax; iarg[1] reduction; farg[0] label smoothing */
static dl_tensor *b_loss(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_ce_desc d; memset(&d, 0, sizeof d); d.reduction = (dl_reduction)c->iarg[1]; d.label_smoothing = c->farg[0];
    if (c->iarg[0] == 0) return dl_cross_entropy(ctx, in[0], in[1], &d);
    if (c->iarg[0] == 1) return dl_cross_entropy(ctx, in[0], dl_softmax(ctx, in[1], -1), &d);
    return dl_nll_loss(ctx, dl_log_softmax(ctx, in[0], 1), in[1], d.reduction);
}

static void run_a_cases(void) {
    static char names[320][96]; int k = 0, i;
    dl_ctx *det, *saved;
    /* softmax / log_softmax over every axis, long and short rows */
    {   static const struct { int nd; int64_t d[3]; int axis; } sh[] = {
            { 2, { 7, 13, 0 }, 1 }, { 2, { 7, 13, 0 }, 0 }, { 3, { 3, 5, 4 }, 1 }, { 3, { 3, 5, 4 }, -1 }, { 3, { 3, 5, 4 }, 0 },
            { 2, { 3, 1000, 0 }, 1 }, { 1, { 9, 0, 0 }, 0 }, { 2, { 5, 1, 0 }, 1 } };
        int lg;
        for (lg = 0; lg < 2; lg++) for (i = 0; i < (int)(sizeof sh / sizeof sh[0]); i++) {
            opcase c; memset(&c, 0, sizeof c);
            c.shape[0] = sh[i].nd == 1 ? S1(sh[i].d[0]) : sh[i].nd == 2 ? S2(sh[i].d[0], sh[i].d[1]) : S3(sh[i].d[0], sh[i].d[1], sh[i].d[2]);
            snprintf(names[k], sizeof names[k], "dl_%s [%d dims] axis %d #%d", lg ? "log_softmax" : "softmax", sh[i].nd, sh[i].axis, i);
            c.name = names[k++]; c.nin = 1; c.kind[0] = 'f'; c.build = b_softmax; c.iarg[0] = sh[i].axis; c.iarg[1] = lg;
            run_case(&c);
        }
    }
    /* reductions: every axis, keepdim, masks, all; var corrections; logsumexp */
    {   static const char *rn[] = { "sum", "mean", "max", "var", "logsumexp" };
        int r, ax, kd;
        for (r = 0; r < 5; r++) {
            for (ax = -1; ax < 3; ax++) for (kd = 0; kd < 2; kd++) {
                opcase c; memset(&c, 0, sizeof c);
                snprintf(names[k], sizeof names[k], "dl_%s [4,5,6] axis %d keepdim %d", rn[r], ax, kd);
                c.name = names[k++]; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = S3(4, 5, 6); c.build = b_reduce;
                c.iarg[0] = r; c.iarg[1] = ax; c.iarg[2] = kd; c.farg[0] = (float)(ax & 1);
                run_case(&c);
            }
            {   opcase c; memset(&c, 0, sizeof c);
                snprintf(names[k], sizeof names[k], "dl_%s all [3,7,5]", rn[r]);
                c.name = names[k++]; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = S3(3, 7, 5); c.build = b_reduce; c.iarg[0] = r; c.iarg[1] = -100;
                c.farg[0] = 1.0f; c.tol = 2e-5;
                run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_%s long rows [3,1000] axis 1", rn[r]);
                c.name = names[k++]; c.shape[0] = S2(3, 1000); c.iarg[1] = 1;
                run_case(&c);
            }
            if (r < 4) {
                static const unsigned masks[] = { 5u, 3u, 6u, 0u, 15u };
                int mi;
                for (mi = 0; mi < 5; mi++) for (kd = 0; kd < 2; kd++) {
                    opcase c; memset(&c, 0, sizeof c);
                    snprintf(names[k], sizeof names[k], "dl_%s_axes [3,4,5,2] mask %u keepdim %d", rn[r], masks[mi], kd);
                    c.name = names[k++]; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = S4(3, 4, 5, 2); c.build = b_reduce;
                    c.iarg[0] = r; c.iarg[1] = -200; c.iarg[2] = kd; c.iarg[3] = (int)masks[mi]; c.farg[0] = (float)(mi & 1);
                    if (r == 3 && masks[mi] == 0u) continue;   /* var over nothing: n - corr <= 0 */
                    run_case(&c);
                }
            }
        }
        for (ax = 0; ax < 3; ax++) {   /* max ties: the gradient goes to the first maximal element */
            opcase c; memset(&c, 0, sizeof c);
            snprintf(names[k], sizeof names[k], "dl_max ties axis %d", ax);
            c.name = names[k++]; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = S3(4, 5, 6); c.build = b_reduce;
            c.iarg[0] = 2; c.iarg[1] = ax; c.farg[1] = 1.0f;
            run_case(&c);
        }
        {   opcase c; memset(&c, 0, sizeof c);
            c.name = "dl_max_all ties"; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = S2(6, 7); c.build = b_reduce;
            c.iarg[0] = 2; c.iarg[1] = -100; c.farg[1] = 1.0f;
            run_case(&c);
        }
    }
    /* views */
    {   static const char *vn[] = { "dl_reshape", "dl_permute", "dl_transpose", "dl_slice step 2", "dl_slice of dl_transpose", "dl_squeeze/dl_unsqueeze", "dl_split",
            "dl_flatten of dl_slice", "broadcast (stride 0) view", "overlapping view" };
        for (i = 0; i < 10; i++) {
            opcase c; memset(&c, 0, sizeof c);
            snprintf(names[k], sizeof names[k], "view: %s", vn[i]);
            c.name = names[k++]; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = i == 8 ? S3(4, 1, 6) : i == 9 ? S1(12) : S3(4, 5, 6); c.build = b_view; c.iarg[0] = i;
            run_case(&c);
        }
    }
    /* gather, index_select: repeated indices; eager atomics and the deterministic order */
    {   memset(&det, 0, sizeof det);
        {   dl_ctx_desc cd; memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)64 << 20; cd.seed = 7; cd.backend = dl_cuda_backend(); cd.deterministic = 1;
            det = dl_ctx_init(&cd); }
        saved = g_gpu;
        for (i = 0; i < 2; i++) {
            const char *tag = i ? " (deterministic)" : "";
            if (i) { if (!det) { report("deterministic context", 0, "", 0, 0); break; } g_gpu = det; }
            {   opcase c; memset(&c, 0, sizeof c);
                c.nin = 2; c.kind[0] = 'f'; c.kind[1] = 'i'; c.build = b_gather;
                snprintf(names[k], sizeof names[k], "dl_gather axis 1 [5,7] idx [5,3]%s", tag); c.name = names[k++];
                c.shape[0] = S2(5, 7); c.shape[1] = S2(5, 3); c.range[1] = 7; c.iarg[0] = 1; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_gather axis 0 [5,7] idx [9,4]%s", tag); c.name = names[k++];
                c.shape[1] = S2(9, 4); c.range[1] = 5; c.iarg[0] = 0; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_gather axis 1 [3,4,5] idx [2,6,3]%s", tag); c.name = names[k++];
                c.shape[0] = S3(3, 4, 5); c.shape[1] = S3(2, 6, 3); c.range[1] = 4; c.iarg[0] = 1; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_gather axis 2 [3,4,5] idx [3,4,8]%s", tag); c.name = names[k++];
                c.shape[1] = S3(3, 4, 8); c.range[1] = 5; c.iarg[0] = 2; run_case(&c);
            }
            {   opcase c; memset(&c, 0, sizeof c);
                c.nin = 2; c.kind[0] = 'f'; c.kind[1] = 'i'; c.build = b_index_select;
                snprintf(names[k], sizeof names[k], "dl_index_select axis 0 [6,5] idx [11]%s", tag); c.name = names[k++];
                c.shape[0] = S2(6, 5); c.shape[1] = S1(11); c.range[1] = 6; c.iarg[0] = 0; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_index_select axis 1 [3,6,4] idx [9]%s", tag); c.name = names[k++];
                c.shape[0] = S3(3, 6, 4); c.shape[1] = S1(9); c.range[1] = 6; c.iarg[0] = 1; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_index_select axis -1 [3,6,4] idx [7]%s", tag); c.name = names[k++];
                c.shape[1] = S1(7); c.range[1] = 4; c.iarg[0] = -1; run_case(&c);
            }
            {   opcase c; memset(&c, 0, sizeof c);
                c.nin = 2; c.kind[0] = 'f'; c.kind[1] = 'i'; c.build = b_loss; c.shape[0] = S2(16, 10); c.shape[1] = S1(16); c.range[1] = 10;
                snprintf(names[k], sizeof names[k], "dl_cross_entropy int labels mean%s", tag); c.name = names[k++]; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_cross_entropy label smoothing 0.1%s", tag); c.name = names[k++]; c.farg[0] = 0.1f; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_cross_entropy sum, smoothing 0.2%s", tag); c.name = names[k++]; c.farg[0] = 0.2f; c.iarg[1] = DL_REDUCE_SUM; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_cross_entropy none%s", tag); c.name = names[k++]; c.farg[0] = 0.0f; c.iarg[1] = DL_REDUCE_NONE; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_nll_loss of log_softmax mean%s", tag); c.name = names[k++]; c.iarg[0] = 2; c.iarg[1] = 0; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_nll_loss sum%s", tag); c.name = names[k++]; c.iarg[1] = DL_REDUCE_SUM; run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_cross_entropy 1-D logits%s", tag); c.name = names[k++];
                c.iarg[0] = 0; c.iarg[1] = 0; c.shape[0] = S1(10); c.shape[1] = S1(1); run_case(&c);
                snprintf(names[k], sizeof names[k], "dl_cross_entropy probability target, smoothing 0.1%s", tag); c.name = names[k++];
                c.iarg[0] = 1; c.kind[1] = 'u'; c.shape[0] = S2(8, 6); c.shape[1] = S2(8, 6); c.farg[0] = 0.1f; run_case(&c);
            }
        }
        g_gpu = saved;
    }
    /* concat (2 to 5 inputs, every axis), stack */
    {   static const int axes[] = { 0, 1, 2, -1 };
        int a, n;
        for (n = 2; n <= 5; n += 3) for (a = 0; a < 4; a++) {
            opcase c; int j; memset(&c, 0, sizeof c);
            snprintf(names[k], sizeof names[k], "dl_concat %d inputs axis %d", n, axes[a]);
            c.name = names[k++]; c.nin = n; c.build = b_concat; c.iarg[0] = axes[a];
            for (j = 0; j < n; j++) {
                int64_t d[3] = { 3, 4, 5 }; d[axes[a] < 0 ? 2 : axes[a]] = 1 + (j * 2) % 5;
                c.shape[j] = S3(d[0], d[1], d[2]); c.kind[j] = 'f';
            }
            run_case(&c);
        }
        {   opcase c; memset(&c, 0, sizeof c);
            c.name = "dl_concat one input no grad + two"; c.nin = 3; c.build = b_concat; c.iarg[0] = 1;
            c.shape[0] = S2(4, 3); c.shape[1] = S2(4, 2); c.shape[2] = S2(4, 6); c.kind[0] = 'f'; c.kind[1] = 'u'; c.kind[2] = 'f';
            run_case(&c);
            c.name = "dl_stack 4 inputs axis 1"; c.nin = 4; c.build = b_stack; c.iarg[0] = 1;
            for (i = 0; i < 4; i++) { c.shape[i] = S2(3, 5); c.kind[i] = 'f'; }
            run_case(&c);
        }
    }
    /* where: float and int conditions, broadcasting */
    {   opcase c; memset(&c, 0, sizeof c);
        c.name = "dl_where float cond"; c.nin = 3; c.build = b_where; c.kind[0] = 'u'; c.kind[1] = c.kind[2] = 'f';
        c.shape[0] = c.shape[1] = c.shape[2] = S2(7, 9); run_case(&c);
        c.name = "dl_where float cond broadcast"; c.shape[0] = S3(4, 1, 6); c.shape[1] = S2(5, 6); c.shape[2] = S3(4, 5, 1); run_case(&c);
        c.name = "dl_where int cond broadcast"; c.kind[0] = 'i'; c.range[0] = 2; c.shape[0] = S2(5, 1); run_case(&c);
        c.name = "dl_where int cond, b no grad"; c.kind[2] = 'u'; c.shape[0] = S3(4, 5, 6); c.shape[1] = S1(6); c.shape[2] = S3(4, 5, 6); run_case(&c);
    }
    /* empty tensors */
    {   opcase c; memset(&c, 0, sizeof c);
        c.name = "dl_sum over an empty axis [3,0] -> [3]"; c.nin = 1; c.kind[0] = 'f'; c.shape[0] = S2(3, 0); c.build = b_reduce; c.iarg[1] = 1;
        run_case(&c);
        c.name = "dl_softmax of [0,5]"; c.shape[0] = S2(0, 5); c.build = b_softmax; c.iarg[0] = 1; run_case(&c);
        c.name = "dl_concat with an empty input"; c.nin = 3; c.build = b_concat; c.iarg[0] = 1; c.kind[1] = c.kind[2] = 'f';
        c.shape[0] = S2(3, 2); c.shape[1] = S2(3, 0); c.shape[2] = S2(3, 4); run_case(&c);
    }
    /* prelu: per channel and shared */
    {   opcase c; memset(&c, 0, sizeof c);
        c.name = "dl_prelu [4,3,5] a[3]"; c.nin = 2; c.build = b_prelu; c.kind[0] = c.kind[1] = 'f';
        c.shape[0] = S3(4, 3, 5); c.shape[1] = S1(3); run_case(&c);
        c.name = "dl_prelu [6,3] a[3]"; c.shape[0] = S2(6, 3); run_case(&c);
        c.name = "dl_prelu [2,4,3,3] a[1]"; c.shape[0] = S4(2, 4, 3, 3); c.shape[1] = S1(1); run_case(&c);
        c.name = "dl_prelu [7] a[1]"; c.shape[0] = S1(7); run_case(&c);
    }
    if (det) dl_ctx_free(det);
}
