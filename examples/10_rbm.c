/* examples/10_rbm.c - restricted Boltzmann machines on binarized Fashion-MNIST (pixel > 127
   -> 1), then a deep belief net.
     1. a binary RBM 784-H trained with CD-1, and another with PCD-1 (100 persistent
        chains), batch 100, weight decay 1e-4, momentum 0.5 then 0.9 (PCD: 0.5);
     2. for each, log Z by annealed importance sampling (100 chains, `betas` inverse
        temperatures, from the base-rate model) and the average test log-likelihood
        log p(v) = -F(v) - log Z in nats;
     3. samples (100 Gibbs chains from test images, 1000 steps, the last p(v|h) shown) and
        the first 100 filters (rows of W), written as PNG grids;
     4. a DBN: a second RBM H-200 trained (CD-1) on p(h|v) of the CD-1 RBM, both copied into
        dl_linear layers (dl_rbm_to_linear), a 10-way output layer added, and the MLP
        x -> sigmoid -> sigmoid -> softmax fine-tuned with SGD; prints its test accuracy.
   Writes 10_rbm_cd_samples.png, 10_rbm_pcd_samples.png, 10_rbm_cd_filters.png,
   10_rbm_pcd_filters.png and 10_rbm_curve.csv (model, epoch, reconstruction error) in the
   current directory, and ends with `test log-likelihood (AIS): CD-1 ... PCD-1 ... nats`.

   Data: Debian's dataset-fashion-mnist.
   Build: cc -O2 -march=native -I. examples/10_rbm.c -lm -o build/10_rbm
   Run:   build/10_rbm [epochs (default 3)] [hidden (default 100)] [ais betas (default 3000)]
                       [data_dir]      e.g. build/10_rbm 20 500 30000 for a longer run */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include "fashion_mnist.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#define SEED     3
#define BATCH    100
#define CHAINS   100
#define DATA_DIR "/usr/share/datasets/fashion-mnist"

/* rows of the 784-byte images as binary floats [n,784] */
static dl_tensor *bin_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    dl_tensor *x = dl_batch_rows_u8(ctx, img->u8, 784, rows, n, dl_shape2(n, 784), 1.0f / 255.0f);
    int64_t i;
    if (!dl_ctx_status(ctx) && x->data) for (i = 0; i < x->numel; i++) x->data[i] = x->data[i] > 0.5f ? 1.0f : 0.0f;
    return x;
}

/* CD-1 (chain NULL) or PCD-1 training for `epochs`; logs to csv */
static void train_rbm(dl_ctx *ctx, dl_rbm *r, const dl_idx *img, int64_t n, int32_t *perm, dl_tensor *chain,
                      int epochs, float lr, const dl_rbm *below, const char *name, FILE *csv) {
    dl_rbm_train_desc d; dl_mark mk = dl_ctx_mark(ctx); int epoch; int64_t i;
    memset(&d, 0, sizeof d); d.k = 1; d.lr = lr; d.weight_decay = 1e-4f;
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), err = 0; int64_t nb = 0;
        d.momentum = epoch == 1 || chain ? 0.5f : 0.9f;   /* PCD: 0.9 outruns the persistent chains */
        dl_shuffle(ctx, perm, n);
        for (i = 0; i + BATCH <= n; i += BATCH) {
            dl_tensor *x = bin_batch(ctx, img, perm + i, BATCH);
            if (below) x = dl_rbm_hidden_probs(ctx, below, x);     /* DBN: the layer below's features */
            err += (double)dl_rbm_train_step(ctx, r, x, chain, &d);
            nb++;
            dl_ctx_rewind(ctx, mk);
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "10_rbm: %s\n", dl_ctx_message(ctx)); exit(1); }
        printf("  %s epoch %d: reconstruction error %.4f (%.1f s)\n", name, epoch, err / (double)nb, fm_now_s() - t0);
        if (csv) fprintf(csv, "%s,%d,%.5f\n", name, epoch, err / (double)nb);
        fflush(stdout);
    }
}
/* AIS log Z, test log-likelihood, samples and filters */
static double evaluate(dl_ctx *ctx, const dl_rbm *r, const dl_idx *te, int64_t n_test, const int32_t *all,
                       const dl_tensor *base, int betas, const char *name) {
    dl_mark mk = dl_ctx_mark(ctx); double t0 = fm_now_s(), sd, logz, ll = 0; int64_t i; char path[256];
    dl_tensor *v, *p, *h;
    logz = dl_rbm_log_z_ais(ctx, r, CHAINS, betas, base, &sd);
    for (i = 0; i < n_test; i += 1000) {
        int64_t bn = n_test - i < 1000 ? n_test - i : 1000;
        ll += (double)bn * dl_rbm_log_likelihood(ctx, r, bin_batch(ctx, te, all + i, bn), logz);
        dl_ctx_rewind(ctx, mk);
    }
    ll /= (double)n_test;
    printf("  %s: AIS log Z %.2f (sd %.3f, %d chains, %d betas, %.1f s); test log-likelihood %.2f nats\n",
           name, logz, sd, CHAINS, betas, fm_now_s() - t0, ll);
    /* samples: 100 chains started at test images, 1000 Gibbs steps, then p(v|h) */
    v = dl_rbm_gibbs(ctx, r, bin_batch(ctx, te, all, 100), 1000);
    h = dl_rbm_sample_hidden(ctx, r, v);
    p = dl_rbm_visible_mean(ctx, r, h);
    snprintf(path, sizeof path, "10_rbm_%s_samples.png", name);
    if (dl_write_png_grid(ctx, path, p, 10, 0.0f, 1.0f)) fprintf(stderr, "10_rbm: %s\n", dl_ctx_message(ctx));
    snprintf(path, sizeof path, "10_rbm_%s_filters.png", name);
    if (dl_write_png_grid(ctx, path, dl_slice(ctx, r->W, 0, 0, r->nh < 100 ? r->nh : 100, 1), 10, 0.0f, 0.0f))
        fprintf(stderr, "10_rbm: %s\n", dl_ctx_message(ctx));
    dl_ctx_rewind(ctx, mk);
    return ll;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 3, hidden = argc > 2 ? atoi(argv[2]) : 100, betas = argc > 3 ? atoi(argv[3]) : 3000;
    const char *dir = argc > 4 ? argv[4] : DATA_DIR;
    dl_ctx_desc cd; dl_ctx *ctx; dl_idx tr_img, tr_lab, te_img, te_lab; dl_tensor *perm_t, *all_t, *base, *chain, *tr_y, *te_y;
    dl_rbm cd1, pcd, top; dl_linear l[3]; dl_tensor *params[6]; dl_optim_desc od; dl_optim *opt; dl_mark mk;
    int64_t n_train, n_test, i; double t_start = fm_now_s(), ll_cd, ll_pcd; FILE *csv; int epoch, k;
    if (epochs < 1 || hidden < 1 || betas < 1) { fprintf(stderr, "usage: %s [epochs] [hidden] [ais betas] [data_dir]\n", argv[0]); return 2; }
    memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)192 << 20; cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "10_rbm: no memory\n"); return 1; }
    if (!fm_load(ctx, "10_rbm", dir, "train-images-idx3-ubyte.gz", &tr_img) || !fm_load(ctx, "10_rbm", dir, "train-labels-idx1-ubyte.gz", &tr_lab) ||
        !fm_load(ctx, "10_rbm", dir, "t10k-images-idx3-ubyte.gz", &te_img) || !fm_load(ctx, "10_rbm", dir, "t10k-labels-idx1-ubyte.gz", &te_lab)) return 2;
    n_train = tr_img.shape[0]; n_test = te_img.shape[0];
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train)); all_t = dl_index_zeros(ctx, dl_shape1(n_test));
    tr_y = dl_index_zeros(ctx, dl_shape1(n_train)); te_y = dl_index_zeros(ctx, dl_shape1(n_test));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "10_rbm: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < n_train; i++) { perm_t->idata[i] = (int32_t)i; tr_y->idata[i] = tr_lab.u8[i]; }
    for (i = 0; i < n_test; i++) { all_t->idata[i] = (int32_t)i; te_y->idata[i] = te_lab.u8[i]; }
    /* base rates of the first 10000 training images: the visible biases' start and AIS's base model */
    base = dl_zeros(ctx, dl_shape1(784));
    mk = dl_ctx_mark(ctx);
    dl_tensor_copy(ctx, base, dl_rbm_base_rate(ctx, bin_batch(ctx, &tr_img, perm_t->idata, 10000)));
    dl_ctx_rewind(ctx, mk);
    dl_rbm_init(ctx, &cd1, 784, hidden, DL_RBM_BINARY, 0.01f);
    dl_rbm_init(ctx, &pcd, 784, hidden, DL_RBM_BINARY, 0.01f);
    dl_rbm_init(ctx, &top, hidden, 200, DL_RBM_BINARY, 0.01f);
    dl_tensor_copy(ctx, cd1.b_v, base); dl_tensor_copy(ctx, pcd.b_v, base);
    chain = bin_batch(ctx, &tr_img, perm_t->idata, CHAINS);   /* PCD's persistent chains start at data */
    if (dl_ctx_status(ctx)) { fprintf(stderr, "10_rbm: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    csv = fopen("10_rbm_curve.csv", "w");
    if (csv) fprintf(csv, "model,epoch,reconstruction_error\n");
    printf("binarized Fashion-MNIST: %ld train, %ld test; RBM 784-%d, %d epochs, batch %d\n", (long)n_train, (long)n_test, hidden, epochs, BATCH);
    printf("CD-1 (lr 0.05):\n");
    train_rbm(ctx, &cd1, &tr_img, n_train, perm_t->idata, NULL, epochs, 0.05f, NULL, "cd", csv);
    ll_cd = evaluate(ctx, &cd1, &te_img, n_test, all_t->idata, base, betas, "cd");
    printf("PCD-1 (%d persistent chains, lr 0.005, momentum 0.5):\n", CHAINS);
    train_rbm(ctx, &pcd, &tr_img, n_train, perm_t->idata, chain, epochs, 0.005f, NULL, "pcd", csv);
    ll_pcd = evaluate(ctx, &pcd, &te_img, n_test, all_t->idata, base, betas, "pcd");

    /* DBN: greedy layer-wise pretraining of a second RBM on the first one's p(h|v) */
    printf("DBN: RBM %d-200 on p(h|v) of the CD-1 RBM (CD-1, lr 0.05):\n", hidden);
    train_rbm(ctx, &top, &tr_img, n_train, perm_t->idata, NULL, epochs, 0.05f, &cd1, "dbn2", csv);
    if (csv) fclose(csv);
    dl_rbm_to_linear(ctx, &cd1, &l[0]);
    dl_rbm_to_linear(ctx, &top, &l[1]);
    dl_linear_init(ctx, &l[2], 200, 10, 1);
    for (k = 0; k < 3; k++) { params[2 * k] = l[k].weight; params[2 * k + 1] = l[k].bias; }
    memset(&od, 0, sizeof od); od.kind = DL_SGD; od.lr = 0.1f; od.momentum = 0.9f;
    opt = dl_optim_new(ctx, &od, 6);
    dl_optim_add(opt, params, 6, NULL);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "10_rbm: %s\n", dl_ctx_message(ctx)); return 1; }
    mk = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), loss_sum = 0; int64_t right = 0;
        dl_shuffle(ctx, perm_t->idata, n_train);
        for (i = 0; i + BATCH <= n_train; i += BATCH) {
            dl_tensor *x = bin_batch(ctx, &tr_img, perm_t->idata + i, BATCH), *loss;
            x = dl_sigmoid(ctx, dl_linear_forward(ctx, &l[0], x));
            x = dl_sigmoid(ctx, dl_linear_forward(ctx, &l[1], x));
            loss = dl_cross_entropy(ctx, dl_linear_forward(ctx, &l[2], x), dl_batch_labels(ctx, tr_y->idata, perm_t->idata + i, BATCH), NULL);
            dl_optim_zero_grad(opt);
            dl_backward(ctx, loss);
            dl_optim_step(opt);
            loss_sum += (double)dl_item(loss);
            dl_ctx_rewind(ctx, mk);
        }
        {   int prev = dl_set_grad_enabled(ctx, 0);
            for (i = 0; i < n_test; i += 1000) {
                int64_t bn = n_test - i < 1000 ? n_test - i : 1000, j;
                dl_tensor *x = bin_batch(ctx, &te_img, all_t->idata + i, bn), *am;
                x = dl_sigmoid(ctx, dl_linear_forward(ctx, &l[0], x));
                x = dl_sigmoid(ctx, dl_linear_forward(ctx, &l[1], x));
                am = dl_argmax(ctx, dl_linear_forward(ctx, &l[2], x), 1, 0);
                for (j = 0; j < bn && !dl_ctx_status(ctx); j++) right += am->idata[j] == te_y->idata[i + j];
                dl_ctx_rewind(ctx, mk);
            }
            dl_set_grad_enabled(ctx, prev);
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "10_rbm: %s\n", dl_ctx_message(ctx)); return 1; }
        printf("  fine-tune epoch %d: train loss %.4f, test accuracy %.2f%% (%.1f s)\n", epoch,
               loss_sum / (double)(n_train / BATCH), 100.0 * (double)right / (double)n_test, fm_now_s() - t0);
    }
    printf("wrote 10_rbm_{cd,pcd}_samples.png, 10_rbm_{cd,pcd}_filters.png, 10_rbm_curve.csv\n");
    printf("test log-likelihood (AIS): CD-1 %.2f nats, PCD-1 %.2f nats (%.1f s in all)\n", ll_cd, ll_pcd, fm_now_s() - t_start);
    dl_ctx_free(ctx);
    return 0;
}
