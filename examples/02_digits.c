/* examples/02_digits.c - an MLP classifies the UCI 8x8 handwritten digits (1797 images,
   shipped as examples/data/digits.txt; see examples/data/README.md). 64-64-10 with ReLU,
   softmax cross-entropy, Adam (lr 3e-3), minibatches of 32, 30 epochs. A seeded
   dl_shuffle makes a fixed 1437/360 train/test split and reshuffles the training set
   every epoch; dl_batch_rows / dl_batch_labels gather each minibatch; dl_accuracy scores
   the test set. Prints the loss and test accuracy per epoch, then `test accuracy XX.X%`;
   exits 1 below 95%. Runs in well under a second.

   Build: cc -O2 -I. examples/02_digits.c -lm -o build/02_digits
   Run:   build/02_digits [path/to/digits.txt]                                        */
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>

#define SEED    42
#define N_TEST  360
#define HIDDEN  64
#define EPOCHS  30
#define BATCH   32

/* "N F K" then N lines of F integers and a label; returns N, or 0 on a bad file */
static int64_t read_digits(dl_ctx *ctx, const char *path, dl_tensor **x, dl_tensor **y) {
    FILE *f = fopen(path, "r");
    long n, nf, k, i, j, v;
    if (!f) { fprintf(stderr, "02_digits: cannot open %s\n", path); return 0; }
    if (fscanf(f, "%ld %ld %ld", &n, &nf, &k) != 3 || n <= N_TEST || nf != 64 || k != 10) {
        fprintf(stderr, "02_digits: %s: bad header (want \"N 64 10\")\n", path);
        fclose(f); return 0;
    }
    *x = dl_empty(ctx, dl_shape2(n, nf));
    *y = dl_index_zeros(ctx, dl_shape1(n));
    if (dl_ctx_status(ctx)) { fclose(f); return 0; }
    for (i = 0; i < n; i++) {
        for (j = 0; j <= nf; j++) {
            if (fscanf(f, "%ld", &v) != 1 || v < 0 || v > (j < nf ? 16 : k - 1)) {
                fprintf(stderr, "02_digits: %s: bad value at sample %ld, column %ld\n", path, i, j);
                fclose(f); return 0;
            }
            if (j < nf) (*x)->data[i * nf + j] = (float)v / 16.0f;  /* pixels to [0,1] */
            else (*y)->idata[i] = (int32_t)v;
        }
    }
    fclose(f);
    return n;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "examples/data/digits.txt";
    dl_ctx_desc cd = {0};
    dl_ctx *ctx;
    dl_tensor *x, *y, *perm_t, *order_t, *params[4];
    int32_t *perm, *order, *train, *test;
    int64_t n, n_train, i, b;
    dl_linear l1, l2;
    dl_optim_desc od = {0};
    dl_optim *opt;
    dl_mark step;
    float acc = 0;
    int epoch;

    cd.memory_size = (size_t)4 << 20;  /* 4 MiB: data 0.5 MiB, model, Adam, one batch */
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "02_digits: dl_ctx_init failed (no memory)\n"); return 1; }
    n = read_digits(ctx, path, &x, &y);
    if (!n) { if (dl_ctx_status(ctx)) fprintf(stderr, "02_digits: %s\n", dl_ctx_message(ctx)); return 1; }
    n_train = n - N_TEST;

    /* fixed split: a seeded permutation, the first n_train for training, the rest test */
    perm_t = dl_index_zeros(ctx, dl_shape1(n));
    order_t = dl_index_zeros(ctx, dl_shape1(n_train));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "02_digits: %s\n", dl_ctx_message(ctx)); return 1; }
    perm = perm_t->idata; order = order_t->idata;
    dl_shuffle(ctx, perm, n);
    train = perm; test = perm + n_train;

    dl_linear_init(ctx, &l1, 64, HIDDEN, 1);
    dl_linear_init(ctx, &l2, HIDDEN, 10, 1);
    params[0] = l1.weight; params[1] = l1.bias; params[2] = l2.weight; params[3] = l2.bias;
    od.kind = DL_ADAM; od.lr = 3e-3f;
    opt = dl_optim_new(ctx, &od, 4);
    dl_optim_add(opt, params, 4, NULL);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "02_digits: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    printf("digits: %ld train, %ld test; MLP 64-%d-10, Adam lr 3e-3, batch %d\n",
           (long)n_train, (long)(n - n_train), HIDDEN, BATCH);

    step = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= EPOCHS; epoch++) {
        double loss_sum = 0;
        dl_tensor *logits;
        dl_shuffle(ctx, order, n_train);          /* a new order of the training set */
        for (i = 0; i < n_train; i += BATCH) {
            int32_t rows[BATCH];
            int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
            dl_tensor *xb, *yb, *loss;
            for (b = 0; b < bn; b++) rows[b] = train[order[i + b]];
            xb = dl_batch_rows(ctx, x->data, 64, rows, bn, dl_shape2(bn, 64));
            yb = dl_batch_labels(ctx, y->idata, rows, bn);
            loss = dl_cross_entropy(ctx, dl_linear_forward(ctx, &l2,
                       dl_relu(ctx, dl_linear_forward(ctx, &l1, xb))), yb, NULL);
            dl_optim_zero_grad(opt);
            dl_backward(ctx, loss);
            dl_optim_step(opt);
            loss_sum += (double)dl_item(loss) * (double)bn;
            dl_ctx_rewind(ctx, step);
        }
        /* test set: one batch of 360, no tape */
        dl_set_grad_enabled(ctx, 0);
        logits = dl_linear_forward(ctx, &l2, dl_relu(ctx, dl_linear_forward(ctx, &l1,
                     dl_batch_rows(ctx, x->data, 64, test, N_TEST, dl_shape2(N_TEST, 64)))));
        acc = dl_accuracy(logits, dl_batch_labels(ctx, y->idata, test, N_TEST));
        dl_set_grad_enabled(ctx, 1);
        dl_ctx_rewind(ctx, step);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "02_digits: epoch %d: %s\n", epoch, dl_ctx_message(ctx)); return 1; }
        printf("epoch %2d  loss %.4f  test accuracy %.1f%%\n", epoch, loss_sum / (double)n_train,
               100.0 * (double)acc);
    }
    printf("test accuracy %.1f%%\n", 100.0 * (double)acc);
    dl_ctx_free(ctx);
    return acc >= 0.95f ? 0 : 1;
}
