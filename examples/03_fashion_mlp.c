/* examples/03_fashion_mlp.c - the W1 workload: an MLP 784-512-256-10 (ReLU) on
   Fashion-MNIST, softmax cross-entropy, SGD lr 0.05 momentum 0.9, batch 128, 10 epochs,
   the lr annealed by a cosine schedule (--constant-lr: W1's constant 0.05), pixels scaled to [0,1] and nothing else (like torchvision's ToTensor). dl_idx_load reads
   the gzip'd IDX files straight into the arena as bytes (47 MB for the training images,
   not 188 MB of floats); each minibatch is converted to floats as it is gathered. The
   training set is reshuffled every epoch with dl_shuffle. Prints train loss, test accuracy
   and seconds per epoch, then `test accuracy XX.XX% (N epochs, X.XX s/epoch)`.
   bench/torch_fashion_mlp.py runs the same recipe in PyTorch for comparison.

   Data: Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
   Build: cc -O2 -march=native -I. examples/03_fashion_mlp.c -lm -o build/03_fashion_mlp
   Run:   build/03_fashion_mlp [epochs] [data_dir] [--constant-lr]                         */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L
#endif
#define DL_IMPLEMENTATION
#include "dl.h"
#include "fashion_mnist.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#ifndef EXAMPLE_BACKEND
#define EXAMPLE_BACKEND NULL
#endif
#define SEED       1
#define BATCH      128
#define EVAL_BATCH 1000
#define DATA_DIR   "/usr/share/datasets/fashion-mnist"



/* rows[0..n) of the 784-byte images as a float [n,784] tensor in [0,1] */
static dl_tensor *image_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    return dl_batch_rows_u8(ctx, img ? img->u8 : NULL, 784, rows, n, dl_shape2(n, 784), 1.0f / 255.0f);
}

static dl_tensor *forward(dl_ctx *ctx, const dl_linear *l, dl_tensor *x) {
    x = dl_relu(ctx, dl_linear_forward(ctx, &l[0], x));
    x = dl_relu(ctx, dl_linear_forward(ctx, &l[1], x));
    return dl_linear_forward(ctx, &l[2], x);
}

int main(int argc, char **argv) {
    int epochs = 10, cosine = 1, a, npos = 0;
    const char *dir = DATA_DIR;
    dl_sched_desc sched;
    dl_ctx_desc cd;
    dl_ctx *ctx;
    dl_idx tr_img, tr_lab, te_img, te_lab;
    dl_tensor *tr_y, *te_y, *perm_t, *all_t, *params[6];
    dl_linear l[3];
    dl_optim_desc od;
    dl_optim *opt;
    dl_mark step;
    int64_t n_train, n_test, i, k;
    double train_s = 0, acc = 0;
    int epoch;

    for (a = 1; a < argc; a++) {     /* [epochs] [data_dir] [--constant-lr] */
        if (strcmp(argv[a], "--constant-lr") == 0) cosine = 0;
        else if (npos++ == 0) epochs = atoi(argv[a]);
        else dir = argv[a];
    }
    memset(&sched, 0, sizeof sched); memset(&od, 0, sizeof od); memset(&cd, 0, sizeof cd);   /* (C++ rejects = {0} here) */
    if (epochs < 1) { fprintf(stderr, "usage: %s [epochs >= 1] [data_dir] [--constant-lr]\n", argv[0]); return 2; }
    /* by default the learning rate follows CosineAnnealingLR(T_max = epochs, eta_min = 0),
       stepped once per epoch, as bench/torch_fashion_mlp.py does; --constant-lr keeps
       lr 0.05 throughout: WORKLOADS.md's W1 recipe exactly */
    sched.kind = DL_SCHED_COSINE; sched.base_lr = 0.05f; sched.t_max = epochs;
    /* 128 MiB: the uint8 data (55 MB), the model with gradients and momentum (6.4 MB), one
       step, and room to inflate the largest .gz file next to its compressed bytes while
       loading; the program prints dl_ctx_peak_bytes() at the end (about 71 MiB). */
    cd.memory_size = (size_t)128 << 20;
    cd.seed = SEED;
    cd.backend = EXAMPLE_BACKEND;   /* NULL: the CPU; examples/14_cuda_mlp.cu: the GPU */
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "03_fashion_mlp: dl_ctx_init failed (no memory%s)\n", cd.backend ? ", or no usable GPU" : ""); return 1; }
    if (!fm_load(ctx, "03_fashion_mlp", dir, "train-images-idx3-ubyte.gz", &tr_img) ||
        !fm_load(ctx, "03_fashion_mlp", dir, "train-labels-idx1-ubyte.gz", &tr_lab) ||
        !fm_load(ctx, "03_fashion_mlp", dir, "t10k-images-idx3-ubyte.gz", &te_img) ||
        !fm_load(ctx, "03_fashion_mlp", dir, "t10k-labels-idx1-ubyte.gz", &te_lab)) {
        dl_ctx_free(ctx);
        return 2;
    }
    n_train = tr_img.shape[0]; n_test = te_img.shape[0];
    if (tr_img.ndim != 3 || tr_img.shape[1] * tr_img.shape[2] != 784 || tr_lab.ndim != 1 || tr_lab.shape[0] != n_train ||
        te_img.ndim != 3 || te_img.shape[1] * te_img.shape[2] != 784 || te_lab.ndim != 1 || te_lab.shape[0] != n_test) {
        fprintf(stderr, "03_fashion_mlp: unexpected shapes in %s\n", dir);
        return 1;
    }

    /* labels as int32 for dl_batch_labels, and index arrays, all in the arena */
    tr_y = dl_index_zeros(ctx, dl_shape1(n_train));
    te_y = dl_index_zeros(ctx, dl_shape1(n_test));
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train));
    all_t = dl_index_zeros(ctx, dl_shape1(n_test));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "03_fashion_mlp: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < n_train; i++) tr_y->idata[i] = tr_lab.u8[i];
    for (i = 0; i < n_test; i++) { te_y->idata[i] = te_lab.u8[i]; all_t->idata[i] = (int32_t)i; }

    dl_linear_init(ctx, &l[0], 784, 512, 1);
    dl_linear_init(ctx, &l[1], 512, 256, 1);
    dl_linear_init(ctx, &l[2], 256, 10, 1);
    for (k = 0; k < 3; k++) { params[2 * k] = l[k].weight; params[2 * k + 1] = l[k].bias; }
    od.kind = DL_SGD; od.lr = 0.05f; od.momentum = 0.9f;
    opt = dl_optim_new(ctx, &od, 6);
    dl_optim_add(opt, params, 6, NULL);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "03_fashion_mlp: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    printf("Fashion-MNIST: %ld train, %ld test; MLP 784-512-256-10, SGD lr 0.05 momentum 0.9%s, batch %d\n",
           (long)n_train, (long)n_test, cosine ? ", cosine schedule" : "", BATCH);

    step = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), t1, loss_sum = 0;
        int64_t right = 0;
        if (cosine) dl_optim_set_lr(opt, dl_sched_lr(&sched, epoch - 1));
        dl_shuffle(ctx, perm_t->idata, n_train);
        for (i = 0; i < n_train; i += BATCH) {
            int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
            const int32_t *rows = perm_t->idata + i;
            dl_tensor *loss = dl_cross_entropy(ctx, forward(ctx, l, image_batch(ctx, &tr_img, rows, bn)),
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
            dl_tensor *logits = forward(ctx, l, image_batch(ctx, &te_img, rows, bn));
            right += (int64_t)(dl_accuracy(logits, dl_batch_labels(ctx, te_y->idata, rows, bn)) * (float)bn + 0.5f);
            dl_ctx_rewind(ctx, step);
        }
        dl_set_grad_enabled(ctx, 1);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "03_fashion_mlp: epoch %d: %s\n", epoch, dl_ctx_message(ctx)); return 1; }
        acc = (double)right / (double)n_test;
        printf("epoch %2d  train loss %.4f  test accuracy %.2f%%  %.2f s (eval %.2f s)\n", epoch,
               loss_sum / (double)n_train, 100.0 * acc, t1 - t0, fm_now_s() - t1);
        fflush(stdout);
    }
    printf("arena: %.1f MiB peak of %.1f MiB\n", (double)dl_ctx_peak_bytes(ctx) / 1048576.0,
           (double)dl_ctx_capacity(ctx) / 1048576.0);
    printf("test accuracy %.2f%% (%d epochs, %.2f s/epoch)\n", 100.0 * acc, epochs, train_s / epochs);
    dl_ctx_free(ctx);
    return 0;
}
