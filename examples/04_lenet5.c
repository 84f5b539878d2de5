/* examples/04_lenet5.c - the W2 workload: LeNet-5 (CATALOGUE §10.2) in its modern form
   (ReLU, max pooling, softmax output) adapted to 28x28 inputs as in WORKLOADS.md:
     1x28x28 -> conv5x5 6ch pad 2 -> ReLU -> maxpool2 -> conv5x5 16ch -> ReLU -> maxpool2
     -> fc120 -> ReLU -> fc84 -> ReLU -> fc10
   on Fashion-MNIST, softmax cross-entropy, Adam lr 1e-3, batch 64, 10 epochs, pixels
   scaled to [0,1] and nothing else, torch's default init (dl_conv2d_init, dl_linear_init).
   The data handling is 03_fashion_mlp.c's: dl_idx_load keeps the images as bytes in the
   arena and each minibatch is converted to a float [n,1,28,28] tensor as it is gathered;
   the training set is reshuffled every epoch. The arena is sized by a measure-mode run of
   one training step and one evaluation batch, plus room for the data. Prints train loss,
   test accuracy and seconds per epoch, then `test accuracy XX.XX% (N epochs, X.XX s/epoch)`.
   bench/torch_lenet5.py runs the same recipe in PyTorch for comparison.

   Data: Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
   Build: cc -O2 -march=native -I. examples/04_lenet5.c -lm -o build/04_lenet5
   Run:   build/04_lenet5 [epochs] [data_dir]                                             */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include "fashion_mnist.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#define SEED       1
#define BATCH      64
#define EVAL_BATCH 1000
#define DATA_DIR   "/usr/share/datasets/fashion-mnist"
#define NPARAMS    10

typedef struct lenet { dl_conv2d_layer c1, c2; dl_linear f1, f2, f3; } lenet;



/* rows[0..n) of the 784-byte images as a float [n,1,28,28] tensor in [0,1]; img may be
   NULL (the measuring run has no data) */
static dl_tensor *image_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    return dl_batch_rows_u8(ctx, img ? img->u8 : NULL, 784, rows, n, dl_shape4(n, 1, 28, 28), 1.0f / 255.0f);
}

/* the parameters (torch's default init) and their list for the optimizer */
static void lenet_init(dl_ctx *ctx, lenet *m, dl_tensor **params) {
    dl_conv_desc pad2, valid;
    memset(&pad2, 0, sizeof pad2); memset(&valid, 0, sizeof valid);
    pad2.pad[0] = pad2.pad[1] = pad2.pad[2] = pad2.pad[3] = 2;
    dl_conv2d_init(ctx, &m->c1, 1, 6, 5, 5, 1, &pad2);      /* 6@28x28 -> pool 6@14x14   */
    dl_conv2d_init(ctx, &m->c2, 6, 16, 5, 5, 1, &valid);    /* 16@10x10 -> pool 16@5x5   */
    dl_linear_init(ctx, &m->f1, 16 * 5 * 5, 120, 1);
    dl_linear_init(ctx, &m->f2, 120, 84, 1);
    dl_linear_init(ctx, &m->f3, 84, 10, 1);
    params[0] = m->c1.weight; params[1] = m->c1.bias; params[2] = m->c2.weight; params[3] = m->c2.bias;
    params[4] = m->f1.weight; params[5] = m->f1.bias; params[6] = m->f2.weight; params[7] = m->f2.bias;
    params[8] = m->f3.weight; params[9] = m->f3.bias;
}

static dl_tensor *lenet_forward(dl_ctx *ctx, const lenet *m, dl_tensor *x) {
    dl_pool_desc pool;
    memset(&pool, 0, sizeof pool);
    pool.kernel[0] = pool.kernel[1] = 2;
    x = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d_forward(ctx, &m->c1, x)), &pool, NULL);
    x = dl_max_pool2d(ctx, dl_relu(ctx, dl_conv2d_forward(ctx, &m->c2, x)), &pool, NULL);
    x = dl_reshape(ctx, x, dl_shape2(x->shape[0], 16 * 5 * 5));
    x = dl_relu(ctx, dl_linear_forward(ctx, &m->f1, x));
    x = dl_relu(ctx, dl_linear_forward(ctx, &m->f2, x));
    return dl_linear_forward(ctx, &m->f3, x);
}

/* the arena bytes for the model, Adam's state, one training step and one evaluation
   batch: the same code run once in a measuring context (shapes only, no data) */
static size_t measure_step_bytes(void) {
    dl_ctx_desc md;
    dl_ctx *mc;
    lenet m;
    dl_tensor *params[NPARAMS], *loss;
    dl_optim_desc od;
    dl_optim *opt;
    dl_mark mk;
    int32_t rows[EVAL_BATCH], labels[EVAL_BATCH];
    size_t need;
    int i;
    memset(&md, 0, sizeof md); md.measure = 1;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 1e-3f;
    for (i = 0; i < EVAL_BATCH; i++) rows[i] = labels[i] = 0;
    mc = dl_ctx_init(&md);
    if (!mc) return 0;
    lenet_init(mc, &m, params);
    opt = dl_optim_new(mc, &od, NPARAMS);
    dl_optim_add(opt, params, NPARAMS, NULL);
    mk = dl_ctx_mark(mc);
    loss = dl_cross_entropy(mc, lenet_forward(mc, &m, image_batch(mc, NULL, rows, BATCH)),
                            dl_batch_labels(mc, labels, rows, BATCH), NULL);
    dl_optim_zero_grad(opt);
    dl_backward(mc, loss);
    dl_optim_step(opt);
    dl_ctx_rewind(mc, mk);                    /* the step's scratch is freed before eval */
    dl_set_grad_enabled(mc, 0);
    lenet_forward(mc, &m, image_batch(mc, NULL, rows, EVAL_BATCH));
    need = dl_ctx_status(mc) ? 0 : dl_ctx_peak_bytes(mc);
    if (!need) fprintf(stderr, "04_lenet5: measuring: %s\n", dl_ctx_message(mc));
    dl_ctx_free(mc);
    return need;
}

int main(int argc, char **argv) {
    int epochs = 10, epoch;
    const char *dir = DATA_DIR;
    dl_ctx_desc cd;
    dl_ctx *ctx;
    dl_idx tr_img, tr_lab, te_img, te_lab;
    dl_tensor *tr_y, *te_y, *perm_t, *all_t, *params[NPARAMS];
    lenet m;
    dl_optim_desc od;
    dl_optim *opt;
    dl_mark step;
    int64_t n_train, n_test, i;
    double train_s = 0, acc = 0;
    size_t step_bytes;

    if (argc > 1) epochs = atoi(argv[1]);     /* [epochs] [data_dir] */
    if (argc > 2) dir = argv[2];
    if (epochs < 1 || argc > 3) { fprintf(stderr, "usage: %s [epochs >= 1] [data_dir]\n", argv[0]); return 2; }
    step_bytes = measure_step_bytes();
    if (!step_bytes) return 1;
    /* the uint8 data (55 MB) and room to inflate the largest .gz file next to its
       compressed bytes while loading, plus the measured model and step */
    memset(&cd, 0, sizeof cd);
    cd.memory_size = ((size_t)96 << 20) + step_bytes;
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "04_lenet5: dl_ctx_init failed (no memory)\n"); return 1; }
    if (!fm_load(ctx, "04_lenet5", dir, "train-images-idx3-ubyte.gz", &tr_img) ||
        !fm_load(ctx, "04_lenet5", dir, "train-labels-idx1-ubyte.gz", &tr_lab) ||
        !fm_load(ctx, "04_lenet5", dir, "t10k-images-idx3-ubyte.gz", &te_img) ||
        !fm_load(ctx, "04_lenet5", dir, "t10k-labels-idx1-ubyte.gz", &te_lab)) {
        dl_ctx_free(ctx);
        return 2;
    }
    n_train = tr_img.shape[0]; n_test = te_img.shape[0];
    if (tr_img.ndim != 3 || tr_img.shape[1] != 28 || tr_img.shape[2] != 28 || tr_lab.ndim != 1 || tr_lab.shape[0] != n_train ||
        te_img.ndim != 3 || te_img.shape[1] != 28 || te_img.shape[2] != 28 || te_lab.ndim != 1 || te_lab.shape[0] != n_test) {
        fprintf(stderr, "04_lenet5: unexpected shapes in %s\n", dir);
        return 1;
    }

    /* labels as int32 for dl_batch_labels, and index arrays, all in the arena */
    tr_y = dl_index_zeros(ctx, dl_shape1(n_train));
    te_y = dl_index_zeros(ctx, dl_shape1(n_test));
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train));
    all_t = dl_index_zeros(ctx, dl_shape1(n_test));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "04_lenet5: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < n_train; i++) tr_y->idata[i] = tr_lab.u8[i];
    for (i = 0; i < n_test; i++) { te_y->idata[i] = te_lab.u8[i]; all_t->idata[i] = (int32_t)i; }

    lenet_init(ctx, &m, params);
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 1e-3f;
    opt = dl_optim_new(ctx, &od, NPARAMS);
    dl_optim_add(opt, params, NPARAMS, NULL);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "04_lenet5: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    printf("Fashion-MNIST: %ld train, %ld test; LeNet-5 (conv5x5 6 pad 2, pool, conv5x5 16, pool, fc 120-84-10, ReLU), "
           "Adam lr 0.001, batch %d\n", (long)n_train, (long)n_test, BATCH);

    step = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), t1, loss_sum = 0;
        int64_t right = 0;
        dl_shuffle(ctx, perm_t->idata, n_train);
        for (i = 0; i < n_train; i += BATCH) {
            int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
            const int32_t *rows = perm_t->idata + i;
            dl_tensor *loss = dl_cross_entropy(ctx, lenet_forward(ctx, &m, image_batch(ctx, &tr_img, rows, bn)),
                                               dl_batch_labels(ctx, tr_y->idata, rows, bn), NULL);
            dl_optim_zero_grad(opt);
            dl_backward(ctx, loss);
            dl_optim_step(opt);
            loss_sum += (double)dl_item(loss) * (double)bn;
            dl_ctx_rewind(ctx, step);
            if (dl_ctx_status(ctx)) break;
        }
        t1 = fm_now_s();
        train_s += t1 - t0;
        /* test accuracy, EVAL_BATCH images at a time, no tape */
        dl_set_grad_enabled(ctx, 0);
        for (i = 0; i < n_test && !dl_ctx_status(ctx); i += EVAL_BATCH) {
            int64_t bn = n_test - i < EVAL_BATCH ? n_test - i : EVAL_BATCH;
            const int32_t *rows = all_t->idata + i;
            dl_tensor *logits = lenet_forward(ctx, &m, image_batch(ctx, &te_img, rows, bn));
            right += (int64_t)(dl_accuracy(logits, dl_batch_labels(ctx, te_y->idata, rows, bn)) * (float)bn + 0.5f);
            dl_ctx_rewind(ctx, step);
        }
        dl_set_grad_enabled(ctx, 1);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "04_lenet5: epoch %d: %s\n", epoch, dl_ctx_message(ctx)); return 1; }
        acc = (double)right / (double)n_test;
        printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s (eval %.2f s)\n", epoch,
               loss_sum / (double)n_train, 100.0 * acc, t1 - t0, fm_now_s() - t1);
        fflush(stdout);
    }
    printf("arena: %.1f MiB peak of %.1f MiB (model + step measured at %.1f MiB)\n",
           (double)dl_ctx_peak_bytes(ctx) / 1048576.0, (double)dl_ctx_capacity(ctx) / 1048576.0,
           (double)step_bytes / 1048576.0);
    printf("test accuracy %.2f%% (%d epochs, %.2f s/epoch)\n", 100.0 * acc, epochs, train_s / epochs);
    dl_ctx_free(ctx);
    return 0;
}
