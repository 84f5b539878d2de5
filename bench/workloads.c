/* bench/workloads.c - the five reference workloads of WORKLOADS.md (W1-W5) in dl.h, on random
   data of the workload's shape, timed step by step. bench/torch_workloads.py is the same in
   PyTorch, with the same command line and output; bench/run_workloads.sh runs the two
   interleaved and prints the ratios.

     W1  MLP 784-512-256-10, ReLU, batch 128; softmax CE; SGD lr 0.05 momentum 0.9
     W2  LeNet-5: conv5x5 6 pad 2, ReLU, maxpool2, conv5x5 16, ReLU, maxpool2, fc 120-84-10
         (ReLU), batch 64; softmax CE; Adam 1e-3
     W3  small VGG: conv3x3 32 pad 1, ReLU, conv3x3 64 pad 1, ReLU, maxpool2, fc128, ReLU,
         fc10, batch 64; softmax CE; Adam 1e-3
     W4  char LSTM: vocab 65, embedding 64, LSTM 256 (1 layer), seq 64, fc 65 at every step,
         batch 32 (time-major [T, B]); softmax CE over all steps; Adam 1e-3; clip norm 5
     W5  VAE 784-400-(20 mu, 20 logvar), z = mu + eps exp(logvar / 2), 20-400-784, batch
         128; BCE with logits (summed) + KL; Adam 1e-3

   Parameters get torch's default init (dl_linear_init, dl_conv2d_init, dl_rnn_init; the
   embedding N(0, 1) like nn.Embedding). The input batch (uniform [0,1) images, random
   classes / characters) is drawn once, before timing; W5's eps is drawn inside each step.

   A training step is zero-grad + forward + loss + backward (+ clip) + optimizer step, then
   rewinding the arena to the mark taken before the step. Inference is the forward pass to
   the logits (W5: encode, sample z, decode) with gradients off (dl_set_grad_enabled(ctx,0)).

   The arena is sized exactly: the same setup and one step run first in a measuring context
   (shapes only), and the real arena gets dl_ctx_peak_bytes of it.

   Usage: workloads W1|W2|W3|W4|W5 train|infer threads steps [warmup]
     threads: dl_ctx_desc.threads (the built-in pool); warmup: untimed steps first (default 5)
   Output (the same keys as torch_workloads.py; run_workloads.sh reads them):
     # dl.h <version> W1 train threads=1 isa=avx512 arena_mib=..
     params N            the parameter count (elements) of the model
     flop_per_step F     nominal: 2 x the multiply-adds of the GEMMs/convolutions of one
                         forward pass; a training step counts 3 x that
     loss0 L             the loss of the first warm-up step (train) or 0 (infer)
     step_ms t           one line per timed step
     median_ms t         the median of those
     peak_rss_kib K      getrusage(RUSAGE_SELF).ru_maxrss at the end
   Build: cc -O2 -march=native -pthread -I. bench/workloads.c -o build/bench_workloads -lm */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>

#define MAXP 16

typedef struct model {
    int w;                                   /* 1..5 */
    dl_linear l[5];
    dl_conv2d_layer c[2];
    dl_tensor *emb;
    dl_rnn rnn;
    dl_tensor *params[MAXP];
    int np;
    dl_optim *opt;
    dl_tensor *x, *y;                        /* the fixed input batch and labels (y: W1-W4) */
    int64_t batch;
} model;

enum { W4_V = 65, W4_D = 64, W4_H = 256, W4_T = 64, W4_B = 32 };

static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

static void add_linear(model *m, dl_linear *l) { m->params[m->np++] = l->weight; m->params[m->np++] = l->bias; }

/* fills t (when it has data) with uniform [0,1) or random classes below k */
/* (dl_upload: on a backend the device copy gets what was written; a no-op on the CPU) */
static void fill_uniform(dl_ctx *ctx, dl_tensor *t) { int64_t i; if (t->data) for (i = 0; i < t->numel; i++) t->data[i] = dl_rand_uniform(ctx); dl_upload(ctx, t); }
static void fill_classes(dl_ctx *ctx, dl_tensor *t, int k) { int64_t i; if (t->idata) for (i = 0; i < t->numel; i++) t->idata[i] = (int32_t)(dl_rand_u64(ctx) % (uint64_t)k); dl_upload(ctx, t); }

/* parameters, optimizer and the input batch */
static void setup(dl_ctx *ctx, model *m, int w) {
    dl_optim_desc od;
    memset(m, 0, sizeof *m); m->w = w;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 1e-3f;
    if (w == 1) {
        m->batch = 128;
        dl_linear_init(ctx, &m->l[0], 784, 512, 1); dl_linear_init(ctx, &m->l[1], 512, 256, 1); dl_linear_init(ctx, &m->l[2], 256, 10, 1);
        add_linear(m, &m->l[0]); add_linear(m, &m->l[1]); add_linear(m, &m->l[2]);
        od.kind = DL_SGD; od.lr = 0.05f; od.momentum = 0.9f;
        m->x = dl_empty(ctx, dl_shape2(m->batch, 784));
    } else if (w == 2 || w == 3) {
        dl_conv_desc cd; memset(&cd, 0, sizeof cd);
        m->batch = 64;
        if (w == 2) {
            cd.pad[0] = cd.pad[1] = cd.pad[2] = cd.pad[3] = 2;
            dl_conv2d_init(ctx, &m->c[0], 1, 6, 5, 5, 1, &cd);
            memset(&cd, 0, sizeof cd);
            dl_conv2d_init(ctx, &m->c[1], 6, 16, 5, 5, 1, &cd);
            dl_linear_init(ctx, &m->l[0], 16 * 5 * 5, 120, 1); dl_linear_init(ctx, &m->l[1], 120, 84, 1); dl_linear_init(ctx, &m->l[2], 84, 10, 1);
        } else {
            cd.pad[0] = cd.pad[1] = cd.pad[2] = cd.pad[3] = 1;
            dl_conv2d_init(ctx, &m->c[0], 1, 32, 3, 3, 1, &cd);
            dl_conv2d_init(ctx, &m->c[1], 32, 64, 3, 3, 1, &cd);
            dl_linear_init(ctx, &m->l[0], 64 * 14 * 14, 128, 1); dl_linear_init(ctx, &m->l[1], 128, 10, 1);
        }
        m->params[m->np++] = m->c[0].weight; m->params[m->np++] = m->c[0].bias;
        m->params[m->np++] = m->c[1].weight; m->params[m->np++] = m->c[1].bias;
        add_linear(m, &m->l[0]); add_linear(m, &m->l[1]);
        if (w == 2) add_linear(m, &m->l[2]);
        m->x = dl_empty(ctx, dl_shape4(m->batch, 1, 28, 28));
    } else if (w == 4) {
        m->batch = W4_B;
        m->emb = dl_normal(ctx, dl_shape2(W4_V, W4_D), 0.0f, 1.0f); dl_requires_grad(ctx, m->emb, 1);
        dl_rnn_init(ctx, &m->rnn, DL_LSTM, W4_D, W4_H, 1, 0, 0.0f, 1);
        dl_linear_init(ctx, &m->l[0], W4_H, W4_V, 1);
        m->params[m->np++] = m->emb;
        m->np += dl_rnn_params(&m->rnn, m->params + m->np);
        add_linear(m, &m->l[0]);
        m->x = dl_index_zeros(ctx, dl_shape2(W4_T, W4_B));
        m->y = dl_index_zeros(ctx, dl_shape1(W4_T * W4_B));
        fill_classes(ctx, m->x, W4_V); fill_classes(ctx, m->y, W4_V);
    } else {
        m->batch = 128;
        dl_linear_init(ctx, &m->l[0], 784, 400, 1); dl_linear_init(ctx, &m->l[1], 400, 20, 1); dl_linear_init(ctx, &m->l[2], 400, 20, 1);
        dl_linear_init(ctx, &m->l[3], 20, 400, 1); dl_linear_init(ctx, &m->l[4], 400, 784, 1);
        add_linear(m, &m->l[0]); add_linear(m, &m->l[1]); add_linear(m, &m->l[2]); add_linear(m, &m->l[3]); add_linear(m, &m->l[4]);
        m->x = dl_empty(ctx, dl_shape2(m->batch, 784));
    }
    if (w != 4) fill_uniform(ctx, m->x);
    if (w <= 3) { m->y = dl_index_zeros(ctx, dl_shape1(m->batch)); fill_classes(ctx, m->y, 10); }
    m->opt = dl_optim_new(ctx, &od, m->np);
    dl_optim_add(m->opt, m->params, m->np, NULL);
}

static int64_t param_count(const model *m) { int64_t n = 0; int i; for (i = 0; i < m->np; i++) n += m->params[i]->numel; return n; }

static double flop_fwd(int w) {
    if (w == 1) return 2.0 * 128 * (784 * 512 + 512 * 256 + 256 * 10);
    if (w == 2) return 2.0 * 64 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10);
    if (w == 3) return 2.0 * 64 * (28.0 * 28 * 32 * 9 + 28.0 * 28 * 64 * 288 + 12544.0 * 128 + 128 * 10);
    if (w == 4) return 2.0 * W4_T * W4_B * (4.0 * W4_H * (W4_D + W4_H) + W4_H * W4_V);
    return 2.0 * 128 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784);
}

/* the forward pass to the logits; W5 also returns mu and logvar */
static dl_tensor *forward(dl_ctx *ctx, model *m, dl_tensor **mu, dl_tensor **logvar) {
    dl_tensor *x = m->x;
    if (m->w == 1) {
        x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[0], x));
        x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[1], x));
        return dl_linear_forward(ctx, &m->l[2], x);
    }
    if (m->w == 2 || m->w == 3) {
        dl_pool_desc pd; memset(&pd, 0, sizeof pd); pd.kernel[0] = pd.kernel[1] = 2;
        if (m->w == 2) {
            x = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d_forward(ctx, &m->c[0], x)), &pd, NULL);
            x = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d_forward(ctx, &m->c[1], x)), &pd, NULL);
            x = dl_reshape(ctx, x, dl_shape2(m->batch, 16 * 5 * 5));
            x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[0], x));
            x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[1], x));
            return dl_linear_forward(ctx, &m->l[2], x);
        }
        x = dl_relu(ctx, dl_conv2d_forward(ctx, &m->c[0], x));
        x = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d_forward(ctx, &m->c[1], x)), &pd, NULL);
        x = dl_reshape(ctx, x, dl_shape2(m->batch, 64 * 14 * 14));
        x = dl_relu(ctx, dl_linear_forward(ctx, &m->l[0], x));
        return dl_linear_forward(ctx, &m->l[1], x);
    }
    if (m->w == 4) {
        dl_rnn_out o = dl_rnn_forward(ctx, &m->rnn, dl_embedding(ctx, m->emb, x, -1), NULL, NULL, NULL, 1);
        return dl_linear_forward(ctx, &m->l[0], dl_reshape(ctx, o.y, dl_shape2(W4_T * W4_B, W4_H)));
    }
    {   dl_tensor *h = dl_relu(ctx, dl_linear_forward(ctx, &m->l[0], x)), *eps;
        *mu = dl_linear_forward(ctx, &m->l[1], h);
        *logvar = dl_linear_forward(ctx, &m->l[2], h);
        eps = dl_normal(ctx, dl_shape2(m->batch, 20), 0.0f, 1.0f);
        h = dl_add(ctx, *mu, dl_mul(ctx, eps, dl_exp(ctx, dl_mul_scalar(ctx, *logvar, 0.5f))));
        h = dl_relu(ctx, dl_linear_forward(ctx, &m->l[3], h));
        return dl_linear_forward(ctx, &m->l[4], h);
    }
}

/* one training step, leaving the loss tensor in *loss_out (dl_step_run's step function
   shape: no value is read inside) */
static void train_step(dl_ctx *ctx, model *m, dl_tensor **loss_out) {
    dl_tensor *mu = NULL, *logvar = NULL, *out, *loss;
    dl_optim_zero_grad(m->opt);
    out = forward(ctx, m, &mu, &logvar);
    if (m->w <= 4) loss = dl_cross_entropy(ctx, out, m->y, NULL);
    else {   /* BCE(logits, x) summed + KL = -1/2 sum(1 + logvar - mu^2 - exp(logvar)) */
        dl_tensor *kl = dl_sum_all(ctx, dl_sub(ctx, dl_sub(ctx, dl_add_scalar(ctx, logvar, 1.0f), dl_square(ctx, mu)), dl_exp(ctx, logvar)));
        loss = dl_add(ctx, dl_bce_with_logits(ctx, out, m->x, DL_REDUCE_SUM), dl_mul_scalar(ctx, kl, -0.5f));
    }
    dl_backward(ctx, loss);
    if (m->w == 4) dl_clip_grad_norm(m->params, m->np, 5.0f);
    dl_optim_step(m->opt);
    *loss_out = loss;
}
/* one step; returns the loss (train) or 0 */
static float step(dl_ctx *ctx, model *m, int train) {
    dl_tensor *mu = NULL, *logvar = NULL, *loss = NULL;
    if (!train) { forward(ctx, m, &mu, &logvar); return 0.0f; }
    train_step(ctx, m, &loss);
    return dl_item(loss);
}

#ifndef WL_NO_MAIN
int main(int argc, char **argv) {
    int w, train, threads, steps, warmup = 5, i;
    dl_ctx_desc d; dl_ctx *ctx; model m; dl_mark mk; size_t need; double *ms; float loss0 = 0.0f;
    struct rusage ru;
    if (argc < 5 || argc > 6 || argv[1][0] != 'W' || argv[1][1] < '1' || argv[1][1] > '5' || argv[1][2] ||
        (strcmp(argv[2], "train") && strcmp(argv[2], "infer"))) {
        fprintf(stderr, "usage: %s W1|W2|W3|W4|W5 train|infer threads steps [warmup]\n", argv[0]);
        return 2;
    }
    w = argv[1][1] - '0'; train = !strcmp(argv[2], "train");
    threads = atoi(argv[3]); steps = atoi(argv[4]);
    if (argc > 5) warmup = atoi(argv[5]);
    if (threads < 1 || steps < 1 || warmup < 0) { fprintf(stderr, "workloads: threads, steps >= 1, warmup >= 0\n"); return 2; }

    /* measuring pass: the same setup and one step, shapes only */
    memset(&d, 0, sizeof d); d.measure = 1;
    ctx = dl_ctx_init(&d);
    if (!ctx) { fprintf(stderr, "workloads: no memory\n"); return 1; }
    setup(ctx, &m, w);
    if (!train) dl_set_grad_enabled(ctx, 0);
    mk = dl_ctx_mark(ctx);
    step(ctx, &m, train);
    dl_ctx_rewind(ctx, mk);
    need = dl_ctx_status(ctx) ? 0 : dl_ctx_peak_bytes(ctx);
    if (!need) { fprintf(stderr, "workloads: measuring: %s\n", dl_ctx_message(ctx)); return 1; }
    dl_ctx_free(ctx);

    memset(&d, 0, sizeof d); d.memory_size = need; d.threads = threads; d.seed = 1;
    ctx = dl_ctx_init(&d);
    if (!ctx) { fprintf(stderr, "workloads: no memory for %zu bytes\n", need); return 1; }
    setup(ctx, &m, w);
    if (!train) dl_set_grad_enabled(ctx, 0);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "workloads: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    ms = (double *)malloc(sizeof(double) * (size_t)steps);
    if (!ms) return 1;
    printf("# dl.h %s W%d %s threads=%d isa=%s arena_mib=%.2f\n", dl_version(), w, argv[2], dl_ctx_threads(ctx),
           dl_isa_name(dl_ctx_isa(ctx)), (double)need / 1048576.0);
    printf("params %lld\n", (long long)param_count(&m));
    printf("flop_per_step %.0f\n", flop_fwd(w) * (train ? 3.0 : 1.0));
    mk = dl_ctx_mark(ctx);
    for (i = 0; i < warmup + steps; i++) {
        double t0 = now_ms();
        float l = step(ctx, &m, train);
        dl_ctx_rewind(ctx, mk);
        t0 = now_ms() - t0;
        if (i == 0) loss0 = l;
        if (i >= warmup) ms[i - warmup] = t0;
        if (dl_ctx_status(ctx)) { fprintf(stderr, "workloads: step %d: %s\n", i, dl_ctx_message(ctx)); return 1; }
    }
    printf("loss0 %.6g\n", (double)loss0);
    for (i = 0; i < steps; i++) printf("step_ms %.4f\n", ms[i]);
    qsort(ms, (size_t)steps, sizeof(double), cmpd);
    printf("median_ms %.4f\n", steps % 2 ? ms[steps / 2] : 0.5 * (ms[steps / 2 - 1] + ms[steps / 2]));
    getrusage(RUSAGE_SELF, &ru);
    printf("peak_rss_kib %ld\n", (long)ru.ru_maxrss);
    free(ms);
    dl_ctx_free(ctx);
    return 0;
}
#endif
