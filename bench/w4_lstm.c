/* bench/w4_lstm.c - WORKLOADS.md's W4 with dl.h: a char LSTM, vocab 65, embedding 64,
   1-layer LSTM hidden 256, seq len 64, linear 256->65 at every step, batch 32, softmax
   cross-entropy over all steps, Adam 1e-3, global-norm clipping at 5. Random tokens (fixed
   for the run), zero initial state each step, torch's default init.
   A training step is zero-grad + forward + loss + backward + clip + Adam step, exactly
   what bench/torch_w4.py times; `infer` times the forward pass (logits) without a tape.
   After `warmup` untimed steps it times `steps` steps one by one and prints
       W4 dl mode=train step_ms t1 t2 ...
       W4 dl mode=train median_ms M arena_mib A peak_rss_mib R isa I threads N
   bench/w4.sh runs it interleaved with PyTorch and prints the ratio.

   Build: cc -O2 -march=native -I. bench/w4_lstm.c -lm -o build/w4_lstm
   Run:   build/w4_lstm [steps] [warmup] [train|infer] [threads]   (default 30 5 train 1)  */
#define _POSIX_C_SOURCE 200112L
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <sys/resource.h>

#define VOCAB  65
#define EMB    64
#define HIDDEN 256
#define SEQ    64
#define BATCH  32
#define MAX_STEPS 10000

typedef struct w4 {
    dl_tensor *emb; dl_rnn rnn; dl_linear fc;
    dl_tensor *params[8]; int nparams;
    dl_optim *opt;
    dl_tensor *x, *y;              /* tokens [SEQ, BATCH], targets [SEQ*BATCH] */
} w4;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void w4_init(dl_ctx *ctx, w4 *m) {
    dl_optim_desc od;
    int64_t i;
    m->emb = dl_normal(ctx, dl_shape2(VOCAB, EMB), 0.0f, 1.0f);
    dl_requires_grad(ctx, m->emb, 1);
    dl_rnn_init(ctx, &m->rnn, DL_LSTM, EMB, HIDDEN, 1, 0, 0.0f, 1);
    dl_linear_init(ctx, &m->fc, HIDDEN, VOCAB, 1);
    m->params[0] = m->emb;
    m->nparams = 1 + dl_rnn_params(&m->rnn, m->params + 1);
    m->params[m->nparams++] = m->fc.weight;
    m->params[m->nparams++] = m->fc.bias;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 1e-3f;
    m->opt = dl_optim_new(ctx, &od, m->nparams);
    dl_optim_add(m->opt, m->params, m->nparams, NULL);
    m->x = dl_index_zeros(ctx, dl_shape2(SEQ, BATCH));
    m->y = dl_index_zeros(ctx, dl_shape1(SEQ * BATCH));
    if (dl_ctx_status(ctx) || dl_ctx_is_measuring(ctx)) return;
    for (i = 0; i < SEQ * BATCH; i++) {
        m->x->idata[i] = (int32_t)(dl_rand_u64(ctx) % VOCAB);
        m->y->idata[i] = (int32_t)(dl_rand_u64(ctx) % VOCAB);
    }
}

static dl_tensor *w4_logits(dl_ctx *ctx, const w4 *m) {
    dl_tensor *e = dl_embedding(ctx, m->emb, m->x, -1);                      /* [SEQ, B, EMB]   */
    dl_rnn_out o = dl_rnn_forward(ctx, &m->rnn, e, NULL, NULL, NULL, 1);   /* [SEQ, B, HIDDEN] */
    return dl_linear_forward(ctx, &m->fc, dl_reshape(ctx, o.y, dl_shape2(SEQ * BATCH, HIDDEN)));
}

static void w4_step(dl_ctx *ctx, w4 *m, int train) {
    if (train) {
        dl_tensor *loss;
        dl_optim_zero_grad(m->opt);
        loss = dl_cross_entropy(ctx, w4_logits(ctx, m), m->y, NULL);
        dl_backward(ctx, loss);
        dl_clip_grad_norm(m->params, m->nparams, 5.0f);
        dl_optim_step(m->opt);
    } else {
        int prev = dl_set_grad_enabled(ctx, 0);
        w4_logits(ctx, m);
        dl_set_grad_enabled(ctx, prev);
    }
}

static const char *isa_name(int isa) {
    static const char *names[] = {"auto", "reference", "portable", "sse2", "avx2", "avx512", "neon"};
    return isa >= 0 && isa < 7 ? names[isa] : "?";
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int steps = 30, warmup = 5, train = 1, threads = 1, i;
    static double ms[MAX_STEPS], sorted[MAX_STEPS];
    dl_ctx_desc d;
    dl_ctx *ctx;
    dl_mark mk;
    w4 m;
    size_t need;
    struct rusage ru;
    const char *mode = "train";

    if (argc > 1) steps = atoi(argv[1]);
    if (argc > 2) warmup = atoi(argv[2]);
    if (argc > 3) { mode = argv[3]; train = strcmp(mode, "train") == 0; }
    if (argc > 4) threads = atoi(argv[4]);
    if (steps < 1 || steps > MAX_STEPS || warmup < 0 || threads < 1 || argc > 5 || (!train && strcmp(mode, "infer") != 0)) {
        fprintf(stderr, "usage: %s [steps 1..%d] [warmup] [train|infer] [threads >= 1]\n", argv[0], MAX_STEPS);
        return 2;
    }
    /* the arena: one step measured on shapes only */
    memset(&d, 0, sizeof d); d.measure = 1;
    ctx = dl_ctx_init(&d);
    if (!ctx) return 1;
    w4_init(ctx, &m);
    w4_step(ctx, &m, train);
    need = dl_ctx_status(ctx) ? 0 : dl_ctx_peak_bytes(ctx);
    if (!need) { fprintf(stderr, "w4_lstm: measuring: %s\n", dl_ctx_message(ctx)); return 1; }
    dl_ctx_free(ctx);
    memset(&d, 0, sizeof d); d.memory_size = need; d.seed = 1; d.threads = threads;
    ctx = dl_ctx_init(&d);
    if (!ctx) { fprintf(stderr, "w4_lstm: no memory\n"); return 1; }
    w4_init(ctx, &m);
    mk = dl_ctx_mark(ctx);
    for (i = 0; i < warmup + steps; i++) {
        double t0 = now_s();
        w4_step(ctx, &m, train);
        dl_ctx_rewind(ctx, mk);
        if (i >= warmup) ms[i - warmup] = 1e3 * (now_s() - t0);
    }
    if (dl_ctx_status(ctx)) { fprintf(stderr, "w4_lstm: %s\n", dl_ctx_message(ctx)); return 1; }
    printf("W4 dl mode=%s step_ms", mode);
    for (i = 0; i < steps; i++) printf(" %.3f", ms[i]);
    memcpy(sorted, ms, sizeof(double) * (size_t)steps);
    qsort(sorted, (size_t)steps, sizeof(double), cmp_double);
    getrusage(RUSAGE_SELF, &ru);
    printf("\nW4 dl mode=%s median_ms %.3f arena_mib %.1f peak_rss_mib %.1f isa %s threads %d\n", mode,
           steps % 2 ? sorted[steps / 2] : 0.5 * (sorted[steps / 2 - 1] + sorted[steps / 2]),
           (double)need / 1048576.0, (double)ru.ru_maxrss / 1024.0, isa_name(dl_ctx_isa(ctx)), dl_ctx_threads(ctx));
    dl_ctx_free(ctx);
    return 0;
}
