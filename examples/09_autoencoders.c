/* examples/09_autoencoders.c - autoencoders on Fashion-MNIST, built from dl.h's autoencoder
   helpers (>>api-ae-vae). Each model: encoder h = sigmoid(x W^T + b) with 784 -> 128 units,
   decoder logits = h V^T + c -> 784 (with --tied, V = W: tied weights), a Bernoulli
   reconstruction loss (BCE with logits summed over the pixels, averaged over the batch),
   Adam lr 1e-3, batch 128. The models (pick with --models a,b,...; default denoise,sparse):
     plain     undercomplete autoencoder
     denoise   denoising: the input masked (dl_mask_noise, 30% of pixels zeroed), the clean
               image the target
     gauss     denoising with additive Gaussian noise (dl_gaussian_noise, std 0.3)
     sparse    sparse: + 3 * dl_kl_sparsity_penalty(h, rho = 0.05)
     l1        sparse: + 0.1 * sum |h| per image (an L1 activity penalty)
     cae       contractive: + 1.0 * dl_contractive_penalty(W, h) (||dh/dx||_F^2)
   After each epoch: the test reconstruction error from clean inputs (BCE per image, nats, and
   MSE per pixel; for denoising models also from corrupted inputs) and the mean hidden
   activation. Writes per model:
     ae_<model>.png          rows of 10 test images: originals / corrupted inputs (the
                             originals again for non-denoising models) / reconstructions
     ae_<model>_filters.png  the first 64 encoder filters (rows of W), each scaled to its range
   and ae_curve.csv: model, epoch, train loss, test BCE, test MSE, seconds.

   Data: Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
   Build: cc -O2 -march=native -I. examples/09_autoencoders.c -lm -o build/09_autoencoders
   Run:   build/09_autoencoders [epochs (3)] [--models denoise,sparse] [--tied] [--hidden N]
                                [--data DIR] [--out DIR]                                     */
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
#define EVAL_BATCH 1000
#define DATA_DIR   "/usr/share/datasets/fashion-mnist"

static dl_tensor *image_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    return dl_batch_rows_u8(ctx, img->u8, 784, rows, n, dl_shape2(n, 784), 1.0f / 255.0f);
}

enum { M_PLAIN, M_DENOISE, M_GAUSS, M_SPARSE, M_L1, M_CAE, M_COUNT };
static const char *model_names[M_COUNT] = {"plain", "denoise", "gauss", "sparse", "l1", "cae"};

typedef struct ae { dl_tensor *w, *b, *v, *c; int kind, tied; } ae;   /* v NULL when tied */
static dl_tensor *corrupt(dl_ctx *ctx, const ae *m, dl_tensor *x) {
    if (m->kind == M_DENOISE) return dl_mask_noise(ctx, x, 0.3f);
    if (m->kind == M_GAUSS) return dl_gaussian_noise(ctx, x, 0.3f);
    return x;
}
static dl_tensor *encode(dl_ctx *ctx, const ae *m, dl_tensor *x) {
    return dl_sigmoid(ctx, dl_add(ctx, dl_matmul_ex(ctx, x, m->w, DL_TRANS_B), m->b));
}
static dl_tensor *decode(dl_ctx *ctx, const ae *m, dl_tensor *h) {   /* -> logits */
    return dl_add(ctx, m->tied ? dl_matmul(ctx, h, m->w) : dl_matmul_ex(ctx, h, m->v, DL_TRANS_B), m->c);
}
/* the training loss on clean x: reconstruction of x from corrupt(x), plus the penalty */
static dl_tensor *train_loss(dl_ctx *ctx, const ae *m, dl_tensor *x) {
    int64_t n = x->shape[0];
    dl_tensor *h = encode(ctx, m, corrupt(ctx, m, x));
    dl_tensor *loss = dl_mul_scalar(ctx, dl_bce_with_logits(ctx, decode(ctx, m, h), x, DL_REDUCE_SUM), 1.0f / (float)n);
    if (m->kind == M_SPARSE) loss = dl_add(ctx, loss, dl_mul_scalar(ctx, dl_kl_sparsity_penalty(ctx, h, 0.05f), 3.0f));
    if (m->kind == M_L1) loss = dl_add(ctx, loss, dl_mul_scalar(ctx, dl_sum_all(ctx, h), 0.1f / (float)n)); /* h > 0: |h| = h */
    if (m->kind == M_CAE) loss = dl_add(ctx, loss, dl_contractive_penalty(ctx, m->w, h));
    return loss;
}

int main(int argc, char **argv) {
    int epochs = 3, tied = 0, a, mi, epoch, run[M_COUNT] = {0}, any = 0; int64_t hidden = 128;
    const char *dir = DATA_DIR, *out = ".", *models = "denoise,sparse";
    char path[1200];
    dl_ctx_desc cd = {0}; dl_ctx *ctx; dl_idx tr_img, te_img;
    dl_tensor *perm_t, *all_t; dl_mark base;
    int64_t n_train, n_test, i;
    double t_start = fm_now_s();
    FILE *csv;

    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--tied")) tied = 1;
        else if (!strcmp(argv[a], "--models") && a + 1 < argc) models = argv[++a];
        else if (!strcmp(argv[a], "--hidden") && a + 1 < argc) hidden = atol(argv[++a]);
        else if (!strcmp(argv[a], "--data") && a + 1 < argc) dir = argv[++a];
        else if (!strcmp(argv[a], "--out") && a + 1 < argc) out = argv[++a];
        else if (argv[a][0] != '-' && atoi(argv[a]) > 0) epochs = atoi(argv[a]);
        else { fprintf(stderr, "usage: %s [epochs (3)] [--models denoise,sparse] [--tied] [--hidden N] [--data DIR] [--out DIR]\n"
                               "  models: plain, denoise, gauss, sparse, l1, cae\n", argv[0]); return 2; }
    }
    for (mi = 0; mi < M_COUNT; mi++) {
        const char *p = strstr(models, model_names[mi]); size_t L = strlen(model_names[mi]);
        while (p && !((p == models || p[-1] == ',') && (p[L] == ',' || p[L] == 0))) p = strstr(p + 1, model_names[mi]);
        if (p) { run[mi] = 1; any = 1; }
    }
    if (!any || hidden < 1) { fprintf(stderr, "09_autoencoders: no known model in '%s' (plain, denoise, gauss, sparse, l1, cae)\n", models); return 2; }
    cd.memory_size = (size_t)128 << 20;
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "09_autoencoders: dl_ctx_init failed (no memory)\n"); return 1; }
    if (!fm_load(ctx, "09_autoencoders", dir, "train-images-idx3-ubyte.gz", &tr_img) || !fm_load(ctx, "09_autoencoders", dir, "t10k-images-idx3-ubyte.gz", &te_img)) {
        dl_ctx_free(ctx); return 2;
    }
    n_train = tr_img.shape[0]; n_test = te_img.shape[0];
    if (tr_img.ndim != 3 || tr_img.shape[1] * tr_img.shape[2] != 784 || te_img.ndim != 3 || te_img.shape[1] * te_img.shape[2] != 784 || n_test < 10) {
        fprintf(stderr, "09_autoencoders: unexpected shapes in %s\n", dir); return 1;
    }
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train));
    all_t = dl_index_zeros(ctx, dl_shape1(n_test));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "09_autoencoders: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < n_test; i++) all_t->idata[i] = (int32_t)i;
    snprintf(path, sizeof path, "%s/ae_curve.csv", out);
    csv = fopen(path, "w");
    if (csv) fprintf(csv, "model,epoch,train_loss,test_bce,test_mse,seconds\n");
    printf("Fashion-MNIST: %ld train, %ld test; autoencoders 784-%ld-784%s (sigmoid encoder, Bernoulli decoder), Adam lr 1e-3, batch %d, %d epochs each\n",
           (long)n_train, (long)n_test, (long)hidden, tied ? " tied" : "", BATCH, epochs);

    base = dl_ctx_mark(ctx);
    for (mi = 0; mi < M_COUNT; mi++) {
        ae m; dl_tensor *params[4]; int np = 0; dl_optim_desc od = {0}; dl_optim *opt; dl_mark step; float bound;
        double bce = 0, mse = 0, bce_c = 0, act = 0;
        if (!run[mi]) continue;
        dl_ctx_seed(ctx, SEED + (uint64_t)mi);
        memset(&m, 0, sizeof m); m.kind = mi; m.tied = tied;
        bound = 1.0f / sqrtf(784.0f);                    /* torch's Linear init for each layer */
        m.w = dl_uniform(ctx, dl_shape2(hidden, 784), -bound, bound); m.b = dl_uniform(ctx, dl_shape1(hidden), -bound, bound);
        bound = 1.0f / sqrtf((float)hidden);
        if (!tied) m.v = dl_uniform(ctx, dl_shape2(784, hidden), -bound, bound);
        m.c = dl_uniform(ctx, dl_shape1(784), -bound, bound);
        params[np++] = m.w; params[np++] = m.b; params[np++] = m.c; if (!tied) params[np++] = m.v;
        for (i = 0; i < np; i++) dl_requires_grad(ctx, params[i], 1);
        od.kind = DL_ADAM; od.lr = 1e-3f;
        opt = dl_optim_new(ctx, &od, np);
        dl_optim_add(opt, params, np, NULL);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "09_autoencoders: setup: %s\n", dl_ctx_message(ctx)); return 1; }
        printf("-- %s\n", model_names[mi]);
        step = dl_ctx_mark(ctx);
        for (epoch = 1; epoch <= epochs; epoch++) {
            double t0 = fm_now_s(), t1, loss_sum = 0;
            dl_shuffle(ctx, perm_t->idata, n_train);
            for (i = 0; i < n_train; i += BATCH) {
                int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
                dl_tensor *loss = train_loss(ctx, &m, image_batch(ctx, &tr_img, perm_t->idata + i, bn));
                dl_optim_zero_grad(opt);
                dl_backward(ctx, loss);
                dl_optim_step(opt);
                loss_sum += (double)dl_item(loss) * (double)bn;
                dl_ctx_rewind(ctx, step);
                if (dl_ctx_status(ctx)) break;
            }
            t1 = fm_now_s();
            bce = mse = bce_c = act = 0;
            dl_set_grad_enabled(ctx, 0);
            for (i = 0; i < n_test && !dl_ctx_status(ctx); i += EVAL_BATCH) {
                int64_t bn = n_test - i < EVAL_BATCH ? n_test - i : EVAL_BATCH;
                dl_tensor *x = image_batch(ctx, &te_img, all_t->idata + i, bn), *h = encode(ctx, &m, x), *lg = decode(ctx, &m, h);
                bce += (double)dl_item(dl_bce_with_logits(ctx, lg, x, DL_REDUCE_SUM));
                mse += (double)dl_item(dl_mse_loss(ctx, dl_sigmoid(ctx, lg), x, DL_REDUCE_SUM));
                act += (double)dl_item(dl_sum_all(ctx, h));
                if (mi == M_DENOISE || mi == M_GAUSS)
                    bce_c += (double)dl_item(dl_bce_with_logits(ctx, decode(ctx, &m, encode(ctx, &m, corrupt(ctx, &m, x))), x, DL_REDUCE_SUM));
                dl_ctx_rewind(ctx, step);
            }
            dl_set_grad_enabled(ctx, 1);
            if (dl_ctx_status(ctx)) { fprintf(stderr, "09_autoencoders: %s epoch %d: %s\n", model_names[mi], epoch, dl_ctx_message(ctx)); return 1; }
            bce /= (double)n_test; mse /= (double)n_test * 784.0; act /= (double)n_test * (double)hidden; bce_c /= (double)n_test;
            printf("epoch %2d  train loss %.3f  test reconstruction: BCE %.3f nats/image, MSE %.5f/pixel", epoch,
                   loss_sum / (double)n_train, bce, mse);
            if (mi == M_DENOISE || mi == M_GAUSS) printf(", from corrupted inputs BCE %.3f", bce_c);
            printf("  mean activation %.3f  %.2f s\n", act, t1 - t0);
            if (csv) fprintf(csv, "%s,%d,%.4f,%.4f,%.6f,%.3f\n", model_names[mi], epoch, loss_sum / (double)n_train, bce, mse, t1 - t0);
            fflush(stdout);
        }
        {   /* pictures: originals / inputs / reconstructions, and the filters */
            dl_tensor *x, *xin, *rows[3], *grid;
            dl_set_grad_enabled(ctx, 0);
            dl_ctx_seed(ctx, 99);
            x = image_batch(ctx, &te_img, all_t->idata, 10);
            xin = corrupt(ctx, &m, x);
            rows[0] = x; rows[1] = xin; rows[2] = dl_sigmoid(ctx, decode(ctx, &m, encode(ctx, &m, xin)));
            grid = dl_concat(ctx, rows, 3, 0);
            snprintf(path, sizeof path, "%s/ae_%s.png", out, model_names[mi]);
            if (dl_write_png_grid(ctx, path, grid, 10, 0.0f, 1.0f)) fprintf(stderr, "09_autoencoders: %s\n", dl_ctx_message(ctx));
            else printf("wrote %s (originals / inputs / reconstructions)\n", path);
            snprintf(path, sizeof path, "%s/ae_%s_filters.png", out, model_names[mi]);
            if (dl_write_png_grid(ctx, path, dl_slice(ctx, m.w, 0, 0, hidden < 64 ? hidden : 64, 1), 8, 0.0f, 0.0f))
                fprintf(stderr, "09_autoencoders: %s\n", dl_ctx_message(ctx));
            else printf("wrote %s\n", path);
            dl_set_grad_enabled(ctx, 1);
        }
        printf("%s: test reconstruction BCE %.3f nats/image, MSE %.5f/pixel\n", model_names[mi], bce, mse);
        dl_ctx_rewind(ctx, base);
    }
    if (csv) fclose(csv);
    printf("arena: %.1f MiB peak of %.1f MiB; %.1f s in all\n", (double)dl_ctx_peak_bytes(ctx) / 1048576.0,
           (double)dl_ctx_capacity(ctx) / 1048576.0, fm_now_s() - t_start);
    dl_ctx_free(ctx);
    return 0;
}
