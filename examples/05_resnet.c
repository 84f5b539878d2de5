/* examples/05_resnet.c - a small ResNet with batch norm (CATALOGUE §10.17) on Fashion-MNIST:
     stem     conv3x3 1->16 -> BN -> ReLU                                      16@28x28
     block 1  basic block 16->32, stride 2, 1x1 conv + BN projection shortcut  32@14x14
     block 2  basic block 32->64, stride 2, 1x1 conv + BN projection shortcut  64@7x7
     block 3  basic block 64->64, identity shortcut                            64@7x7
     head     global average pool -> fc 64->10
   A basic block is relu(bn(conv3x3(relu(bn(conv3x3(x))))) + shortcut(x)); convolutions
   before BN have no bias; torch's default init. 147k parameters, 18.6 MFLOP per image
   forward (ARCH below lists the blocks). Softmax cross-entropy, SGD lr 0.1 momentum 0.9
   weight decay 5e-4 (every parameter, as torch.optim.SGD does), batch 128, 5 epochs, the
   lr annealed to 0 by a cosine schedule stepped once per batch. The pixels are scaled to
   [0,1] and normalized with dl_normalize_channels (Fashion-MNIST's mean 0.2860, std
   0.3530). --augment adds a random crop (dl_random_crop, zero pad 2) and a random
   horizontal flip (dl_random_hflip, p 0.5) of each training image before normalizing.
   Batch norm runs in train mode while training (batch statistics, running averages
   updated) and in eval mode for the test accuracy.
   Why this size and length: training time. dl.h trains an epoch in about 260 s on one
   core here (PyTorch 1.13 on one thread: 83 s), so the 5 epochs take about 23 minutes
   with the evaluations. In PyTorch (bench/torch_resnet.py) this recipe reached 92.47% and
   92.45% (seeds 1, 2) after 5 epochs, 92.76% after 6. Without block 3: 92.16% and 91.84%
   after 6 epochs, 91.95% after 7. The classic ResNet-8 (a 16@28x28 block in front of
   blocks 1-2, no block 3) costs twice as much per step in dl.h: 91.88% after 4 epochs.
   Augmentation did not help at this length (so it is off by default): without block 3,
   after 6 epochs, crop + flip gave 89.96% and flip alone 91.55%, against 92.16% without.
   The arena is sized by a measure-mode run of one training step and one evaluation batch,
   plus room for the data; the program prints the peak. Prints lr, train loss, test
   accuracy and seconds per epoch, then `test accuracy XX.XX% (N epochs, X.XX s/epoch)`.
   bench/torch_resnet.py runs the same recipe in PyTorch for comparison.

   Data: Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
   Build: cc -O2 -march=native -I. examples/05_resnet.c -lm -o build/05_resnet
   Run:   build/05_resnet [epochs] [data_dir] [--augment]                                 */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include "fashion_mnist.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#define SEED       1
#define BATCH      128
#define EVAL_BATCH 250
#define DATA_DIR   "/usr/share/datasets/fashion-mnist"
#define LR         0.1f
#define EPOCHS     5
#define MAX_PARAMS 64
static const float MEAN[1] = {0.2860f}, STD[1] = {0.3530f};

/* the architecture: the stem's width, then one basic block per row (its width, stride) */
#define STEM_WIDTH 16
static const struct { int64_t width; int stride; } ARCH[] = {{32, 2}, {64, 2}, {64, 1}};
#define NBLOCKS ((int)(sizeof ARCH / sizeof ARCH[0]))

typedef struct block {
    dl_conv2d_layer c1, c2, proj;
    dl_batchnorm b1, b2, bp;
    int has_proj;
} block;
typedef struct resnet {
    dl_conv2d_layer stem;
    dl_batchnorm bstem;
    block blk[NBLOCKS];
    dl_linear fc;
    dl_tensor *params[MAX_PARAMS];
    int nparams;
} resnet;



/* rows[0..n) of the 784-byte images as a float [n,1,28,28] tensor in [0,1]; img may be
   NULL (the measuring run has no data) */
static dl_tensor *image_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    return dl_batch_rows_u8(ctx, img ? img->u8 : NULL, 784, rows, n, dl_shape4(n, 1, 28, 28), 1.0f / 255.0f);
}

static void add_param(resnet *m, dl_tensor *p) { if (m->nparams < MAX_PARAMS) m->params[m->nparams++] = p; }
/* conv k x k (pad k/2, no bias) + batch norm */
static void conv_bn_init(dl_ctx *ctx, resnet *m, dl_conv2d_layer *c, dl_batchnorm *bn, int64_t in, int64_t out, int k, int stride) {
    dl_conv_desc d;
    memset(&d, 0, sizeof d);
    d.stride[0] = d.stride[1] = stride;
    d.pad[0] = d.pad[1] = d.pad[2] = d.pad[3] = k / 2;
    dl_conv2d_init(ctx, c, in, out, k, k, 0, &d);
    dl_batchnorm_init(ctx, bn, out);
    add_param(m, c->weight); add_param(m, bn->weight); add_param(m, bn->bias);
}
static void resnet_init(dl_ctx *ctx, resnet *m) {
    int64_t in = STEM_WIDTH;
    int s;
    memset(m, 0, sizeof *m);
    conv_bn_init(ctx, m, &m->stem, &m->bstem, 1, STEM_WIDTH, 3, 1);
    for (s = 0; s < NBLOCKS; s++) {
        block *b = &m->blk[s];
        int64_t out = ARCH[s].width;
        conv_bn_init(ctx, m, &b->c1, &b->b1, in, out, 3, ARCH[s].stride);
        conv_bn_init(ctx, m, &b->c2, &b->b2, out, out, 3, 1);
        b->has_proj = ARCH[s].stride != 1 || in != out;
        if (b->has_proj) conv_bn_init(ctx, m, &b->proj, &b->bp, in, out, 1, ARCH[s].stride);
        in = out;
    }
    dl_linear_init(ctx, &m->fc, in, 10, 1);
    add_param(m, m->fc.weight); add_param(m, m->fc.bias);
}

static dl_tensor *conv_bn(dl_ctx *ctx, dl_conv2d_layer *c, dl_batchnorm *bn, dl_tensor *x, int train) {
    return dl_batchnorm_forward(ctx, bn, dl_conv2d_forward(ctx, c, x), train);
}
static dl_tensor *resnet_forward(dl_ctx *ctx, resnet *m, dl_tensor *x, int train) {
    int s;
    x = dl_relu(ctx, conv_bn(ctx, &m->stem, &m->bstem, x, train));
    for (s = 0; s < NBLOCKS; s++) {
        block *b = &m->blk[s];
        dl_tensor *h = dl_relu(ctx, conv_bn(ctx, &b->c1, &b->b1, x, train));
        dl_tensor *sc = b->has_proj ? conv_bn(ctx, &b->proj, &b->bp, x, train) : x;
        x = dl_relu(ctx, dl_add(ctx, conv_bn(ctx, &b->c2, &b->b2, h, train), sc));
    }
    x = dl_reshape(ctx, dl_global_avg_pool2d(ctx, x), dl_shape2(x->shape[0], x->shape[1]));
    return dl_linear_forward(ctx, &m->fc, x);
}
/* the training input: random crop (zero pad 2) and horizontal flip of the [0,1] pixels,
   then (x - mean) / std; the test input is only normalized */
static dl_tensor *augment(dl_ctx *ctx, dl_tensor *x, int on) {
    if (on) x = dl_random_hflip(ctx, dl_random_crop(ctx, x, 2), 0.5f);
    return dl_normalize_channels(ctx, x, MEAN, STD);
}

static dl_optim *make_optim(dl_ctx *ctx, resnet *m) {
    dl_optim_desc od;
    dl_optim *opt;
    memset(&od, 0, sizeof od);
    od.kind = DL_SGD; od.lr = LR; od.momentum = 0.9f; od.weight_decay = 5e-4f;
    opt = dl_optim_new(ctx, &od, m->nparams);
    dl_optim_add(opt, m->params, m->nparams, NULL);
    return opt;
}

/* the arena bytes for the model, the optimizer state, one training step and one
   evaluation batch: the same code run once in a measuring context (shapes only) */
static size_t measure_step_bytes(void) {
    dl_ctx_desc md;
    dl_ctx *mc;
    resnet *m = (resnet *)calloc(1, sizeof(resnet));
    dl_tensor *loss;
    dl_optim *opt;
    dl_mark mk;
    int32_t rows[EVAL_BATCH], labels[EVAL_BATCH];
    size_t need;
    int i;
    if (!m) return 0;
    memset(&md, 0, sizeof md); md.measure = 1;
    for (i = 0; i < EVAL_BATCH; i++) rows[i] = labels[i] = 0;
    mc = dl_ctx_init(&md);
    if (!mc) { free(m); return 0; }
    resnet_init(mc, m);
    opt = make_optim(mc, m);
    mk = dl_ctx_mark(mc);
    loss = dl_cross_entropy(mc, resnet_forward(mc, m, augment(mc, image_batch(mc, NULL, rows, BATCH), 1), 1),
                            dl_batch_labels(mc, labels, rows, BATCH), NULL);
    dl_optim_zero_grad(opt);
    dl_backward(mc, loss);
    dl_optim_step(opt);
    dl_ctx_rewind(mc, mk);                    /* the step's scratch is freed before eval */
    dl_set_grad_enabled(mc, 0);
    resnet_forward(mc, m, dl_normalize_channels(mc, image_batch(mc, NULL, rows, EVAL_BATCH), MEAN, STD), 0);
    need = dl_ctx_status(mc) ? 0 : dl_ctx_peak_bytes(mc);
    if (!need) fprintf(stderr, "05_resnet: measuring: %s\n", dl_ctx_message(mc));
    dl_ctx_free(mc);
    free(m);
    return need;
}

int main(int argc, char **argv) {
    int epochs = EPOCHS, epoch, aug = 0, a, npos = 0;
    const char *dir = DATA_DIR;
    dl_sched_desc sched;
    dl_ctx_desc cd;
    dl_ctx *ctx;
    dl_idx tr_img, tr_lab, te_img, te_lab;
    dl_tensor *tr_y, *te_y, *perm_t, *all_t;
    resnet *m;
    dl_optim *opt;
    dl_mark step;
    int64_t n_train, n_test, i, nweights = 0, steps_per_epoch, t = 0;
    double train_s = 0, acc = 0, t_start = fm_now_s();
    size_t step_bytes;

    for (a = 1; a < argc; a++) {     /* [epochs] [data_dir] [--augment] */
        if (strcmp(argv[a], "--augment") == 0) aug = 1;
        else if (npos++ == 0) epochs = atoi(argv[a]);
        else dir = argv[a];
    }
    if (epochs < 1 || npos > 2) { fprintf(stderr, "usage: %s [epochs >= 1] [data_dir] [--augment]\n", argv[0]); return 2; }
    step_bytes = measure_step_bytes();
    if (!step_bytes) return 1;
    /* the uint8 data (55 MB) and room to inflate the largest .gz file next to its
       compressed bytes while loading, plus the measured model and step */
    memset(&cd, 0, sizeof cd);
    cd.memory_size = ((size_t)96 << 20) + step_bytes;
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    m = (resnet *)calloc(1, sizeof(resnet));
    if (!ctx || !m) { fprintf(stderr, "05_resnet: dl_ctx_init failed (no memory)\n"); return 1; }
    if (!fm_load(ctx, "05_resnet", dir, "train-images-idx3-ubyte.gz", &tr_img) ||
        !fm_load(ctx, "05_resnet", dir, "train-labels-idx1-ubyte.gz", &tr_lab) ||
        !fm_load(ctx, "05_resnet", dir, "t10k-images-idx3-ubyte.gz", &te_img) ||
        !fm_load(ctx, "05_resnet", dir, "t10k-labels-idx1-ubyte.gz", &te_lab)) {
        dl_ctx_free(ctx);
        free(m);
        return 2;
    }
    n_train = tr_img.shape[0]; n_test = te_img.shape[0];
    if (tr_img.ndim != 3 || tr_img.shape[1] != 28 || tr_img.shape[2] != 28 || tr_lab.ndim != 1 || tr_lab.shape[0] != n_train ||
        te_img.ndim != 3 || te_img.shape[1] != 28 || te_img.shape[2] != 28 || te_lab.ndim != 1 || te_lab.shape[0] != n_test) {
        fprintf(stderr, "05_resnet: unexpected shapes in %s\n", dir);
        return 1;
    }

    /* labels as int32 for dl_batch_labels, and index arrays, all in the arena */
    tr_y = dl_index_zeros(ctx, dl_shape1(n_train));
    te_y = dl_index_zeros(ctx, dl_shape1(n_test));
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train));
    all_t = dl_index_zeros(ctx, dl_shape1(n_test));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "05_resnet: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < n_train; i++) tr_y->idata[i] = tr_lab.u8[i];
    for (i = 0; i < n_test; i++) { te_y->idata[i] = te_lab.u8[i]; all_t->idata[i] = (int32_t)i; }

    resnet_init(ctx, m);
    opt = make_optim(ctx, m);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "05_resnet: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < m->nparams; i++) nweights += m->params[i]->numel;
    /* CosineAnnealingLR(T_max = all steps, eta_min = 0), stepped once per batch */
    steps_per_epoch = (n_train + BATCH - 1) / BATCH;
    memset(&sched, 0, sizeof sched);
    sched.kind = DL_SCHED_COSINE; sched.base_lr = LR; sched.t_max = (int)(epochs * steps_per_epoch);
    printf("Fashion-MNIST: %ld train, %ld test; ResNet (stem %d, blocks", (long)n_train, (long)n_test, STEM_WIDTH);
    for (a = 0; a < NBLOCKS; a++) printf(" %ld/s%d", (long)ARCH[a].width, ARCH[a].stride);
    printf(", batch norm, %ld parameters), SGD lr %g momentum 0.9 weight decay 5e-4, cosine schedule per step, "
           "batch %d, %s\n", (long)nweights, (double)LR, BATCH, aug ? "random crop pad 2 + hflip" : "no augmentation");

    step = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), t1, loss_sum = 0;
        int64_t right = 0;
        float lr0 = dl_sched_lr(&sched, (int)t);
        dl_shuffle(ctx, perm_t->idata, n_train);
        for (i = 0; i < n_train; i += BATCH) {
            int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
            const int32_t *rows = perm_t->idata + i;
            dl_tensor *x = augment(ctx, image_batch(ctx, &tr_img, rows, bn), aug);
            dl_tensor *loss = dl_cross_entropy(ctx, resnet_forward(ctx, m, x, 1),
                                               dl_batch_labels(ctx, tr_y->idata, rows, bn), NULL);
            dl_optim_set_lr(opt, dl_sched_lr(&sched, (int)t++));
            dl_optim_zero_grad(opt);
            dl_backward(ctx, loss);
            dl_optim_step(opt);
            loss_sum += (double)dl_item(loss) * (double)bn;
            dl_ctx_rewind(ctx, step);
            if (dl_ctx_status(ctx)) break;
        }
        t1 = fm_now_s();
        train_s += t1 - t0;
        /* test accuracy, EVAL_BATCH images at a time, batch norm in eval mode, no tape */
        dl_set_grad_enabled(ctx, 0);
        for (i = 0; i < n_test && !dl_ctx_status(ctx); i += EVAL_BATCH) {
            int64_t bn = n_test - i < EVAL_BATCH ? n_test - i : EVAL_BATCH;
            const int32_t *rows = all_t->idata + i;
            dl_tensor *x = dl_normalize_channels(ctx, image_batch(ctx, &te_img, rows, bn), MEAN, STD);
            dl_tensor *logits = resnet_forward(ctx, m, x, 0);
            right += (int64_t)(dl_accuracy(logits, dl_batch_labels(ctx, te_y->idata, rows, bn)) * (float)bn + 0.5f);
            dl_ctx_rewind(ctx, step);
        }
        dl_set_grad_enabled(ctx, 1);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "05_resnet: epoch %d: %s\n", epoch, dl_ctx_message(ctx)); return 1; }
        acc = (double)right / (double)n_test;
        printf("epoch %2d  lr %.4f  train loss %.4f  test accuracy %.2f%%  %.2f s (eval %.2f s)\n", epoch,
               (double)lr0, loss_sum / (double)n_train, 100.0 * acc, t1 - t0, fm_now_s() - t1);
        fflush(stdout);
    }
    printf("arena: %.1f MiB peak of %.1f MiB (model + step measured at %.1f MiB); total %.1f s\n",
           (double)dl_ctx_peak_bytes(ctx) / 1048576.0, (double)dl_ctx_capacity(ctx) / 1048576.0,
           (double)step_bytes / 1048576.0, fm_now_s() - t_start);
    printf("test accuracy %.2f%% (%d epochs, %.2f s/epoch)\n", 100.0 * acc, epochs, train_s / epochs);
    dl_ctx_free(ctx);
    free(m);
    return 0;
}
