/* tests/cuda/cases_core.h - copy, binary ops with broadcasting, every unary op, matmul */
static dl_tensor *b_binary(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    switch (c->iarg[0]) {
    case 0: return dl_add(ctx, in[0], in[1]);
    case 1: return dl_sub(ctx, in[0], in[1]);
    case 2: return dl_mul(ctx, in[0], in[1]);
    case 3: return dl_div(ctx, in[0], in[1]);
    case 4: return dl_minimum(ctx, in[0], in[1]);
    default: return dl_maximum(ctx, in[0], in[1]);
    }
}
static dl_tensor *b_unary(dl_ctx *ctx, dl_tensor **in, const opcase *c) {
    dl_tensor *x = in[0]; float p = c->farg[0], q = c->farg[1];
    switch (c->iarg[0]) {
    case 0: return dl_neg(ctx, x);          case 1: return dl_abs(ctx, x);
    case 2: return dl_sign(ctx, x);         case 3: return dl_exp(ctx, x);
    case 4: return dl_log(ctx, x);          case 5: return dl_sqrt(ctx, x);
    case 6: return dl_square(ctx, x);       case 7: return dl_pow(ctx, x, p);
    case 8: return dl_sin(ctx, x);          case 9: return dl_cos(ctx, x);
    case 10: return dl_clamp(ctx, x, p, q); case 11: return dl_relu(ctx, x);
    case 12: return dl_sigmoid(ctx, x);     case 13: return dl_tanh(ctx, x);
    case 14: return dl_softplus(ctx, x);    case 15: return dl_log_sigmoid(ctx, x);
    case 16: return dl_add_scalar(ctx, x, p); case 17: return dl_mul_scalar(ctx, x, p);
    case 18: return dl_leaky_relu(ctx, x, p); case 19: return dl_elu(ctx, x, p);
    case 20: return dl_selu(ctx, x);        case 21: return dl_gelu(ctx, x);
    case 22: return dl_gelu_tanh(ctx, x);   case 23: return dl_silu(ctx, x);
    case 24: return dl_hard_tanh(ctx, x, p, q); default: return dl_softsign(ctx, x);
    }
}
static dl_tensor *b_matmul(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return dl_matmul_ex(ctx, in[0], in[1], c->iarg[0]); }
static dl_tensor *b_copy(dl_ctx *ctx, dl_tensor **in, const opcase *c) {   /* a transposed view made contiguous */
    (void)c; return dl_contiguous(ctx, dl_transpose(ctx, in[0], 0, 1));
}
static dl_tensor *b_sum_all(dl_ctx *ctx, dl_tensor **in, const opcase *c) { return c->iarg[0] ? dl_mean_all(ctx, in[0]) : dl_sum_all(ctx, in[0]); }
static void run_core_cases(void) {
    static const char *bn[] = { "add", "sub", "mul", "div", "minimum", "maximum" };
    static const char *un[] = { "neg", "abs", "sign", "exp", "log", "sqrt", "square", "pow", "sin", "cos", "clamp", "relu",
        "sigmoid", "tanh", "softplus", "log_sigmoid", "add_scalar", "mul_scalar", "leaky_relu", "elu", "selu", "gelu",
        "gelu_tanh", "silu", "hard_tanh", "softsign" };
    char names[96][48]; int i, k = 0;
    for (i = 0; i < 6; i++) {
        opcase c; memset(&c, 0, sizeof c);
        snprintf(names[k], sizeof names[k], "dl_%s broadcast", bn[i]);
        c.name = names[k++]; c.nin = 2; c.shape[0] = S3(4, 5, 6); c.shape[1] = S2(1, 6);
        c.kind[0] = 'f'; c.kind[1] = i == 3 ? 'p' : 'f'; c.build = b_binary; c.iarg[0] = i;
        run_case(&c);
        c.shape[0] = S3(4, 5, 6); c.shape[1] = S3(4, 5, 6);   /* the same shapes */
        snprintf(names[k], sizeof names[k], "dl_%s same shape", bn[i]); c.name = names[k++];
        run_case(&c);
        c.shape[0] = S2(300, 70); c.shape[1] = S1(70);         /* a bias row: column sums */
        snprintf(names[k], sizeof names[k], "dl_%s bias row [300,70]+[70]", bn[i]); c.name = names[k++];
        run_case(&c);
        c.shape[0] = S2(7, 1); c.shape[1] = S3(3, 1, 9);   /* both operands broadcast */
        snprintf(names[k], sizeof names[k], "dl_%s both broadcast", bn[i]); c.name = names[k++];
        run_case(&c);
    }
    for (i = 0; i < 26; i++) {
        opcase c; memset(&c, 0, sizeof c);
        snprintf(names[k % 64], sizeof names[0], "dl_%s", un[i]);
        c.name = names[k++ % 64]; c.nin = 1; c.shape[0] = S2(33, 17); c.build = b_unary; c.iarg[0] = i;
        c.kind[0] = (i == 4 || i == 5 || i == 7) ? 'p' : 'f';
        c.farg[0] = i == 7 ? 2.5f : (i == 10 || i == 24) ? -0.5f : 0.3f; c.farg[1] = 0.7f;
        run_case(&c);
    }
    {   static const int tr[4] = { 0, DL_TRANS_A, DL_TRANS_B, DL_TRANS_A | DL_TRANS_B };
        static const char *tn[4] = { "dl_matmul", "dl_matmul trans A", "dl_matmul trans B", "dl_matmul trans AB" };
        for (i = 0; i < 4; i++) {
            opcase c; memset(&c, 0, sizeof c);
            c.name = tn[i]; c.nin = 2; c.build = b_matmul; c.iarg[0] = tr[i]; c.kind[0] = c.kind[1] = 'f'; c.tol = 1e-5;
            c.shape[0] = (tr[i] & DL_TRANS_A) ? S2(37, 19) : S2(19, 37);
            c.shape[1] = (tr[i] & DL_TRANS_B) ? S2(23, 37) : S2(37, 23);
            run_case(&c);
        }
        {   opcase c; memset(&c, 0, sizeof c);
            c.name = "dl_matmul batched [3,M,K] x [K,N]"; c.nin = 2; c.build = b_matmul; c.kind[0] = c.kind[1] = 'f';
            c.shape[0] = S3(3, 9, 14); c.shape[1] = S2(14, 11); run_case(&c);
            c.name = "dl_matmul batched [M,K] x [3,K,N] trans B"; c.iarg[0] = DL_TRANS_B;
            c.shape[0] = S2(9, 14); c.shape[1] = S3(3, 11, 14); run_case(&c);
            c.name = "dl_matmul batched [3,K,M] x [3,K,N] trans A"; c.iarg[0] = DL_TRANS_A;
            c.shape[0] = S3(3, 14, 9); c.shape[1] = S3(3, 14, 11); run_case(&c);
        }
    }
    {   opcase c; memset(&c, 0, sizeof c);   /* the two-pass full reduction (>= 16384 elements) */
        c.name = "dl_sum_all of [130,200] (two-pass)"; c.nin = 1; c.shape[0] = S2(130, 200); c.kind[0] = 'f'; c.build = b_sum_all; c.tol = 1e-5;
        run_case(&c);
        c.name = "dl_mean_all of [130,200] (two-pass)"; c.iarg[0] = 1; run_case(&c);
    }
    {   opcase c; memset(&c, 0, sizeof c);
        c.name = "dl_contiguous (strided copy)"; c.nin = 1; c.shape[0] = S3(5, 6, 7); c.kind[0] = 'f'; c.build = b_copy;
        run_case(&c);
    }
}
