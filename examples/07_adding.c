/* examples/07_adding.c - the adding problem (Hochreiter & Schmidhuber 1997, in the form of
   Arjovsky, Shah & Bengio 2016): a long-range memory task for recurrent networks.
   Each sequence has T = 100 steps of 2 inputs: a number drawn from U(0,1) and a marker,
   1 at exactly two steps (one drawn in the first half, one in the second) and 0 elsewhere.
   The target is the sum of the two marked numbers, read out after the last step. Always
   answering 1 (the mean) gives a mean squared error of Var(u1 + u2) = 1/6 = 0.167; doing
   better means carrying a number across up to 99 steps while ignoring the others.

   Model: dl_rnn_forward (1 layer, hidden 128) -> the final hidden state h_T -> linear
   128->1, trained on fresh random batches of 50 with the mean squared error, Adam lr 2e-3,
   global-norm gradient clipping at 1 (dl_clip_grad_norm), torch's default init except the
   LSTM's forget-gate bias, set to 1 (Gers et al. 2000; Jozefowicz et al. 2015) so that
   the cell starts out remembering. First an LSTM, then a GRU, from the same seed, scored
   on the same 1000 test sequences. It prints the training and test MSE every 250 steps,
   then `adding T=100: LSTM test MSE x (n s), GRU test MSE y (m s); always answering 1: 0.167`.
   The LSTM sits on the 0.167 plateau (it answers the mean) for a while, ~1600 steps with
   the default seed, then falls well below 0.01: test MSE 0.0029 at 2000 steps, 0.00026 at
   3000; the GRU leaves it at ~700 steps and ends at 0.00023. Every knob below can be changed at
   build time: -DHIDDEN=64 -DBATCH=20 -DLR=1e-3f -DFORGET_BIAS=0.0f -DSEED=2 ...
   bench/torch_adding.py runs the same recipe in PyTorch.

   Build: cc -O2 -march=native -I. examples/07_adding.c -lm -o build/07_adding
   Run:   build/07_adding [steps] [T] [lstm|gru]   (default 3000 steps, T = 100, both)  */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#ifndef SEED
#define SEED       1
#endif
#ifndef HIDDEN
#define HIDDEN     128
#endif
#ifndef BATCH
#define BATCH      50
#endif
#ifndef LR
#define LR         2e-3f
#endif
#ifndef CLIP
#define CLIP       1.0f
#endif
#ifndef STEPS
#define STEPS      3000
#endif
#define N_TEST     1000
#define EVAL_BATCH 500
#define LOG_EVERY  250
#ifndef FORGET_BIAS
#define FORGET_BIAS 1.0f          /* LSTM: b_ih[H:2H] (b_hh keeps torch's init); 0: torch's init */
#endif

typedef struct model { dl_rnn rnn; dl_linear fc; dl_tensor *params[6]; int nparams; dl_optim *opt; } model;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* n sequences: x [T, n, 2] (number, marker), y [n, 1] the sum of the marked numbers.
   Randomness from the ctx RNG; nothing is drawn in measure mode. */
static void make_batch(dl_ctx *ctx, int64_t T, int64_t n, dl_tensor **x, dl_tensor **y) {
    int64_t t, b;
    *x = dl_zeros(ctx, dl_shape3(T, n, 2));
    *y = dl_zeros(ctx, dl_shape2(n, 1));
    if (dl_ctx_status(ctx) || dl_ctx_is_measuring(ctx)) return;
    for (b = 0; b < n; b++) {
        int64_t m1 = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(T / 2));
        int64_t m2 = T / 2 + (int64_t)(dl_rand_u64(ctx) % (uint64_t)(T - T / 2));
        float *xb = (*x)->data + 2 * b;
        for (t = 0; t < T; t++) xb[2 * n * t] = dl_rand_uniform(ctx);
        xb[2 * n * m1 + 1] = 1.0f;
        xb[2 * n * m2 + 1] = 1.0f;
        (*y)->data[b] = xb[2 * n * m1] + xb[2 * n * m2];
    }
}

static void model_init(dl_ctx *ctx, model *m, dl_rnn_mode mode) {
    dl_optim_desc od;
    dl_rnn_init(ctx, &m->rnn, mode, 2, HIDDEN, 1, 0, 0.0f, 1);
    dl_linear_init(ctx, &m->fc, HIDDEN, 1, 1);
    if (mode == DL_LSTM && FORGET_BIAS != 0.0f && !dl_ctx_is_measuring(ctx)) {
        int64_t j;
        for (j = HIDDEN; j < 2 * HIDDEN; j++) m->rnn.b_ih[0]->data[j] = FORGET_BIAS;
    }
    m->nparams = dl_rnn_params(&m->rnn, m->params);
    m->params[m->nparams++] = m->fc.weight;
    m->params[m->nparams++] = m->fc.bias;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = LR;
    m->opt = dl_optim_new(ctx, &od, m->nparams);
    dl_optim_add(m->opt, m->params, m->nparams, NULL);
}

/* x [T, B, 2] -> prediction [B, 1] from the final hidden state */
static dl_tensor *model_forward(dl_ctx *ctx, const model *m, dl_tensor *x) {
    dl_rnn_out o = dl_rnn_forward(ctx, &m->rnn, x, NULL, NULL, NULL, 1);  /* h [1, B, H] */
    return dl_linear_forward(ctx, &m->fc, dl_reshape(ctx, o.h, dl_shape2(x->shape[1], HIDDEN)));
}

static float train_step(dl_ctx *ctx, model *m, int64_t T) {
    dl_tensor *x, *y, *loss;
    make_batch(ctx, T, BATCH, &x, &y);
    loss = dl_mse_loss(ctx, model_forward(ctx, m, x), y, DL_REDUCE_MEAN);
    dl_optim_zero_grad(m->opt);
    dl_backward(ctx, loss);
    dl_clip_grad_norm(m->params, m->nparams, CLIP);
    dl_optim_step(m->opt);
    return dl_item(loss);
}

/* test MSE over x [T, N_TEST, 2], y [N_TEST, 1], EVAL_BATCH sequences at a time, no tape */
static double test_mse(dl_ctx *ctx, const model *m, dl_tensor *x, dl_tensor *y) {
    int prev = dl_set_grad_enabled(ctx, 0);
    double s = 0;
    int64_t i;
    for (i = 0; i < N_TEST; i += EVAL_BATCH) {
        dl_mark mk = dl_ctx_mark(ctx);
        dl_tensor *pred = model_forward(ctx, m, dl_slice(ctx, x, 1, i, i + EVAL_BATCH, 1));
        s += (double)dl_item(dl_mse_loss(ctx, pred, dl_slice(ctx, y, 0, i, i + EVAL_BATCH, 1), DL_REDUCE_SUM));
        dl_ctx_rewind(ctx, mk);
    }
    dl_set_grad_enabled(ctx, prev);
    return s / N_TEST;
}

/* the arena bytes: the test set, then for each model its parameters, Adam, one training
   step and one evaluation batch, measured by running the same code on shapes only */
static size_t measure_bytes(int64_t T) {
    dl_ctx_desc md;
    dl_ctx *mc;
    dl_tensor *xt, *yt;
    dl_mark m0, m1;
    model m;
    size_t need;
    int k;
    memset(&md, 0, sizeof md); md.measure = 1;
    mc = dl_ctx_init(&md);
    if (!mc) return 0;
    make_batch(mc, T, N_TEST, &xt, &yt);
    m0 = dl_ctx_mark(mc);
    for (k = 0; k < 2; k++) {
        model_init(mc, &m, k == 0 ? DL_LSTM : DL_GRU);
        m1 = dl_ctx_mark(mc);
        train_step(mc, &m, T);
        dl_ctx_rewind(mc, m1);
        test_mse(mc, &m, xt, yt);
        dl_ctx_rewind(mc, m0);
    }
    need = dl_ctx_status(mc) ? 0 : dl_ctx_peak_bytes(mc);
    if (!need) fprintf(stderr, "07_adding: measuring: %s\n", dl_ctx_message(mc));
    dl_ctx_free(mc);
    return need;
}

int main(int argc, char **argv) {
    int steps = STEPS, step, k, first = 0, last = 1;
    int64_t T = 100, i;
    dl_ctx_desc cd;
    dl_ctx *ctx;
    dl_tensor *xt, *yt;
    dl_mark m0, m1;
    double base = 0, mse[2] = {0, 0}, secs[2] = {0, 0};
    static const char *names[2] = {"LSTM", "GRU"};
    size_t need;

    if (argc > 1) steps = atoi(argv[1]);       /* [steps] [T] */
    if (argc > 2) T = atoi(argv[2]);
    if (argc > 3) {                            /* [lstm|gru]: only that one */
        if (strcmp(argv[3], "lstm") == 0) last = 0; else if (strcmp(argv[3], "gru") == 0) first = 1; else T = 0;
    }
    if (steps < 1 || T < 2 || T > 100000 || argc > 4) {
        fprintf(stderr, "usage: %s [steps >= 1] [T >= 2] [lstm|gru]\n", argv[0]);
        return 2;
    }
    need = measure_bytes(T);
    if (!need) return 1;
    memset(&cd, 0, sizeof cd);
    cd.memory_size = need;
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "07_adding: dl_ctx_init failed (no memory)\n"); return 1; }
    make_batch(ctx, T, N_TEST, &xt, &yt);       /* the test set, drawn once */
    if (dl_ctx_status(ctx)) { fprintf(stderr, "07_adding: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < N_TEST; i++) base += (double)((yt->data[i] - 1.0f) * (yt->data[i] - 1.0f));
    base /= N_TEST;
    printf("adding problem: T = %ld, %d test sequences; always answering 1: test MSE %.4f (expected 1/6)\n",
           (long)T, N_TEST, base);
    printf("hidden %d, batch %d, Adam lr %g, clip %g, LSTM forget-gate bias %g, %d steps; arena %.1f MiB\n", HIDDEN,
           BATCH, (double)LR, (double)CLIP, (double)FORGET_BIAS, steps, (double)need / 1048576.0);
    m0 = dl_ctx_mark(ctx);
    for (k = first; k <= last; k++) {
        model m;
        double t0 = now_s(), t_log = t0, sum = 0;
        dl_ctx_seed(ctx, SEED + 1);              /* both models: the same init stream and batches */
        model_init(ctx, &m, k == 0 ? DL_LSTM : DL_GRU);
        m1 = dl_ctx_mark(ctx);
        for (step = 1; step <= steps; step++) {
            sum += (double)train_step(ctx, &m, T);
            dl_ctx_rewind(ctx, m1);
            if (dl_ctx_status(ctx)) { fprintf(stderr, "07_adding: %s step %d: %s\n", names[k], step, dl_ctx_message(ctx)); return 1; }
            if (step % LOG_EVERY == 0 || step == steps) {
                int n = step % LOG_EVERY ? step % LOG_EVERY : LOG_EVERY;
                double t = now_s();
                mse[k] = test_mse(ctx, &m, xt, yt);
                printf("%-4s step %5d  train MSE %.5f  test MSE %.5f  %.1f ms/step  %.0f s\n", names[k], step, sum / n,
                       mse[k], 1e3 * (t - t_log) / n, t - t0);
                fflush(stdout);
                sum = 0; t_log = now_s();
            }
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "07_adding: %s: %s\n", names[k], dl_ctx_message(ctx)); return 1; }
        secs[k] = now_s() - t0;
        dl_ctx_rewind(ctx, m0);
    }
    printf("adding T=%ld:", (long)T);
    for (k = first; k <= last; k++) printf(" %s test MSE %.5f (%.0f s)%s", names[k], mse[k], secs[k], k < last ? "," : ";");
    printf(" always answering 1: %.4f\n", base);
    dl_ctx_free(ctx);
    return 0;
}
