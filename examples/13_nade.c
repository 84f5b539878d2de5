/* examples/13_nade.c - NADE (Larochelle & Murray 2011) on the 8x8 digits binarized
   (pixel >= 8 of 16 -> 1): 64 binary pixels, H hidden units, trained by Adam on the exact
   negative log-likelihood (dl_nade_log_prob is differentiable, so dl_backward gives the
   gradient). The last 360 digits are the test set. Prints the train/test log-likelihood
   in nats per epoch and the time, writes 13_nade_samples.png (100 samples drawn pixel by
   pixel, 8x8 each), 13_nade_curve.csv (epoch, train nll, test nll), and finally
   `test log-likelihood -XX.XX nats`.

   Build: cc -O2 -I. examples/13_nade.c -lm -o build/13_nade
   Run:   build/13_nade [epochs (default 40)] [hidden (default 64)] [path/to/digits.txt]  */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEED   7
#define N_TEST 360
#define BATCH  32

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* "N 64 10" then N lines of 64 pixels (0..16) and a label; pixels binarized at 8 */
static int64_t read_digits(dl_ctx *ctx, const char *path, dl_tensor **x) {
    FILE *f = fopen(path, "r");
    long n, nf, k, i, j, v;
    if (!f) { fprintf(stderr, "13_nade: cannot open %s\n", path); return 0; }
    if (fscanf(f, "%ld %ld %ld", &n, &nf, &k) != 3 || n <= N_TEST || nf != 64) {
        fprintf(stderr, "13_nade: %s: bad header (want \"N 64 10\")\n", path);
        fclose(f); return 0;
    }
    *x = dl_empty(ctx, dl_shape2(n, nf));
    if (dl_ctx_status(ctx)) { fclose(f); return 0; }
    for (i = 0; i < n; i++)
        for (j = 0; j <= nf; j++) {
            if (fscanf(f, "%ld", &v) != 1) { fprintf(stderr, "13_nade: %s: bad value at sample %ld\n", path, i); fclose(f); return 0; }
            if (j < nf) (*x)->data[i * nf + j] = v >= 8 ? 1.0f : 0.0f;
        }
    fclose(f);
    return n;
}

/* mean log p(x) in nats over rows [r0, r1) of x, 256 rows at a time, no tape */
static double mean_ll(dl_ctx *ctx, const dl_nade *m, dl_tensor *x, int64_t r0, int64_t r1) {
    dl_mark mk = dl_ctx_mark(ctx); int prev = dl_set_grad_enabled(ctx, 0); double s = 0; int64_t i, a;
    for (a = r0; a < r1; a += 256) {
        int64_t b = r1 - a < 256 ? r1 : a + 256;
        dl_tensor *lp = dl_nade_log_prob(ctx, m, dl_slice(ctx, x, 0, a, b, 1));
        for (i = 0; i < b - a && !dl_ctx_status(ctx); i++) s += (double)lp->data[i];
        dl_ctx_rewind(ctx, mk);
    }
    dl_set_grad_enabled(ctx, prev);
    if (dl_ctx_status(ctx)) fprintf(stderr, "13_nade: %s\n", dl_ctx_message(ctx));
    return s / (double)(r1 - r0);
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 40, hidden = argc > 2 ? atoi(argv[2]) : 64, epoch;
    const char *path = argc > 3 ? argv[3] : "examples/data/digits.txt";
    dl_ctx_desc cd; dl_ctx *ctx; dl_tensor *x, *perm, *params[4], *s; dl_nade m; dl_optim_desc od; dl_optim *opt;
    dl_mark step; int64_t n, n_train, i; double t_start = now_s(), te = 0, tr = 0; FILE *csv;
    if (epochs < 1 || hidden < 1) { fprintf(stderr, "usage: %s [epochs >= 1] [hidden >= 1] [digits.txt]\n", argv[0]); return 2; }
    memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)64 << 20; cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "13_nade: no memory\n"); return 1; }
    n = read_digits(ctx, path, &x);
    if (!n) return 1;
    n_train = n - N_TEST;
    perm = dl_index_zeros(ctx, dl_shape1(n_train));
    dl_nade_init(ctx, &m, 64, hidden);
    {   /* output biases from the training pixel means (a good start, as for RBMs) */
        dl_tensor *br = dl_rbm_base_rate(ctx, dl_slice(ctx, x, 0, 0, n_train, 1));
        for (i = 0; i < 64 && !dl_ctx_status(ctx); i++) m.b->data[i] = br->data[i];
    }
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 0.005f;
    opt = dl_optim_new(ctx, &od, 4);
    dl_nade_params(&m, params);
    dl_optim_add(opt, params, 4, NULL);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "13_nade: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    csv = fopen("13_nade_curve.csv", "w");
    if (csv) fprintf(csv, "epoch,train_nll_nats,test_nll_nats\n");
    printf("NADE on binarized 8x8 digits: %ld train, %d test, 64 pixels, %d hidden, Adam lr 0.005, batch %d\n",
           (long)n_train, N_TEST, hidden, BATCH);
    printf("epoch 0: train log-likelihood %.2f, test %.2f nats\n", mean_ll(ctx, &m, x, 0, n_train), mean_ll(ctx, &m, x, n_train, n));
    step = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = now_s();
        dl_shuffle(ctx, perm->idata, n_train);
        for (i = 0; i < n_train; i += BATCH) {
            int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
            dl_tensor *xb = dl_batch_rows(ctx, x->data, 64, perm->idata + i, bn, dl_shape2(bn, 64));
            dl_tensor *loss = dl_neg(ctx, dl_mean_all(ctx, dl_nade_log_prob(ctx, &m, xb)));
            dl_optim_zero_grad(opt);
            dl_backward(ctx, loss);
            dl_optim_step(opt);
            dl_ctx_rewind(ctx, step);
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "13_nade: %s\n", dl_ctx_message(ctx)); return 1; }
        tr = mean_ll(ctx, &m, x, 0, n_train); te = mean_ll(ctx, &m, x, n_train, n);
        if (csv) fprintf(csv, "%d,%.4f,%.4f\n", epoch, -tr, -te);
        if (epoch % 5 == 0 || epoch == epochs)
            printf("epoch %d: train log-likelihood %.2f, test %.2f nats (%.2f s/epoch)\n", epoch, tr, te, now_s() - t0);
    }
    if (csv) fclose(csv);
    s = dl_nade_sample(ctx, &m, 100);
    if (dl_write_png_grid(ctx, "13_nade_samples.png", s, 10, 0.0f, 1.0f) != DL_STATUS_OK)
        fprintf(stderr, "13_nade: %s\n", dl_ctx_message(ctx));
    else printf("wrote 13_nade_samples.png (100 samples) and 13_nade_curve.csv\n");
    printf("test log-likelihood %.2f nats (train %.2f; %d epochs, %.1f s)\n", te, tr, epochs, now_s() - t_start);
    dl_ctx_free(ctx);
    return 0;
}
