/* examples/11_vae.c - the W5 workload: a variational autoencoder (Kingma & Welling 2014) on
   Fashion-MNIST. Encoder 784-400 (ReLU) -> (20 mu, 20 logvar); the sample
   z = mu + exp(logvar/2) eps (dl_reparameterize); decoder 20-400 (ReLU) -784 logits, a Bernoulli
   likelihood on the [0,1] pixels: loss = BCE-with-logits summed over pixels + KL(q(z|x) || N(0,I))
   (dl_gaussian_kl), averaged over the batch of 128; Adam lr 1e-3; torch's default Linear init;
   the training set reshuffled every epoch. After each epoch it prints the test ELBO per example
   (one sample of z per test image, in nats; higher is better). At the end it prints the
   importance-weighted estimate of log p(x) with k = 100 samples (dl_iw_log_likelihood, Burda
   et al.) on the first --iw-n test images, and writes:
     vae_samples.png   64 decoder means sigmoid(logits) for z ~ N(0, I)
     vae_recon.png     16 test images (rows 1, 3) above their reconstructions (rows 2, 4)
     vae_manifold.png  with --latent2 (a 2-D latent space): the decoder's means on a 20x20 grid
                       of z over [-2.5, 2.5]^2
     vae_curve.csv     epoch, train loss, test ELBO, seconds
   bench/torch_vae.py runs the same recipe in PyTorch and prints its test ELBO the same way.

   Data: Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
   Build: cc -O2 -march=native -I. examples/11_vae.c -lm -o build/11_vae
   Run:   build/11_vae [epochs (5)] [--latent2] [--iw-n N (1000)] [--seed S (1)] [--data DIR] [--out DIR] */
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
#define HIDDEN     400
#define IW_K       100
#define IW_CHUNK   10          /* test images per IW pass: IW_K * IW_CHUNK decoder rows */
#define DATA_DIR   "/usr/share/datasets/fashion-mnist"

static dl_tensor *image_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    return dl_batch_rows_u8(ctx, img->u8, 784, rows, n, dl_shape2(n, 784), 1.0f / 255.0f);
}

typedef struct vae { dl_linear fc1, fc21, fc22, fc3, fc4; int64_t zdim; } vae;
static void encode(dl_ctx *ctx, const vae *m, dl_tensor *x, dl_tensor **mu, dl_tensor **logvar) {
    dl_tensor *h = dl_relu(ctx, dl_linear_forward(ctx, &m->fc1, x));
    *mu = dl_linear_forward(ctx, &m->fc21, h);
    *logvar = dl_linear_forward(ctx, &m->fc22, h);
}
static dl_tensor *decode(dl_ctx *ctx, const vae *m, dl_tensor *z) {       /* -> logits */
    return dl_linear_forward(ctx, &m->fc4, dl_relu(ctx, dl_linear_forward(ctx, &m->fc3, z)));
}
/* per-example reconstruction term (BCE summed over pixels) and KL, [n] each */
static void elbo_terms(dl_ctx *ctx, const vae *m, dl_tensor *x, dl_tensor **rec, dl_tensor **kl) {
    dl_tensor *mu, *lv, *z;
    encode(ctx, m, x, &mu, &lv);
    z = dl_reparameterize(ctx, mu, lv, NULL);
    *rec = dl_neg(ctx, dl_bernoulli_log_prob(ctx, decode(ctx, m, z), x));
    *kl = dl_gaussian_kl(ctx, mu, lv);
}

int main(int argc, char **argv) {
    int epochs = 5, latent2 = 0, a, epoch; int64_t iw_n = 1000; uint64_t seed = SEED;
    const char *dir = DATA_DIR, *out = ".";
    char path[1200];
    dl_ctx_desc cd = {0}; dl_ctx *ctx; dl_idx tr_img, te_img;
    dl_tensor *perm_t, *all_t, *params[10]; vae m;
    dl_optim_desc od = {0}; dl_optim *opt; dl_mark step;
    int64_t n_train, n_test, i, k;
    double train_s = 0, elbo = 0, t_start = fm_now_s();
    FILE *csv;

    for (a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--latent2")) latent2 = 1;
        else if (!strcmp(argv[a], "--iw-n") && a + 1 < argc) iw_n = atol(argv[++a]);
        else if (!strcmp(argv[a], "--data") && a + 1 < argc) dir = argv[++a];
        else if (!strcmp(argv[a], "--out") && a + 1 < argc) out = argv[++a];
        else if (!strcmp(argv[a], "--seed") && a + 1 < argc) seed = (uint64_t)atol(argv[++a]);
        else if (argv[a][0] != '-' && atoi(argv[a]) > 0) epochs = atoi(argv[a]);
        else { fprintf(stderr, "usage: %s [epochs (5)] [--latent2] [--iw-n N (1000)] [--seed S (1)] [--data DIR] [--out DIR]\n", argv[0]); return 2; }
    }
    m.zdim = latent2 ? 2 : 20;
    cd.memory_size = (size_t)160 << 20;  /* uint8 data 55 MB + model, Adam state, one step, IW passes */
    cd.seed = seed;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "11_vae: dl_ctx_init failed (no memory)\n"); return 1; }
    if (!fm_load(ctx, "11_vae", dir, "train-images-idx3-ubyte.gz", &tr_img) || !fm_load(ctx, "11_vae", dir, "t10k-images-idx3-ubyte.gz", &te_img)) {
        dl_ctx_free(ctx); return 2;
    }
    n_train = tr_img.shape[0]; n_test = te_img.shape[0];
    if (tr_img.ndim != 3 || tr_img.shape[1] * tr_img.shape[2] != 784 || te_img.ndim != 3 || te_img.shape[1] * te_img.shape[2] != 784) {
        fprintf(stderr, "11_vae: unexpected shapes in %s\n", dir); return 1;
    }
    if (iw_n < 0 || iw_n > n_test) iw_n = n_test;
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train));
    all_t = dl_index_zeros(ctx, dl_shape1(n_test));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "11_vae: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < n_test; i++) all_t->idata[i] = (int32_t)i;

    dl_linear_init(ctx, &m.fc1, 784, HIDDEN, 1);
    dl_linear_init(ctx, &m.fc21, HIDDEN, m.zdim, 1);
    dl_linear_init(ctx, &m.fc22, HIDDEN, m.zdim, 1);
    dl_linear_init(ctx, &m.fc3, m.zdim, HIDDEN, 1);
    dl_linear_init(ctx, &m.fc4, HIDDEN, 784, 1);
    params[0] = m.fc1.weight; params[1] = m.fc1.bias; params[2] = m.fc21.weight; params[3] = m.fc21.bias;
    params[4] = m.fc22.weight; params[5] = m.fc22.bias; params[6] = m.fc3.weight; params[7] = m.fc3.bias;
    params[8] = m.fc4.weight; params[9] = m.fc4.bias;
    od.kind = DL_ADAM; od.lr = 1e-3f;
    opt = dl_optim_new(ctx, &od, 10);
    dl_optim_add(opt, params, 10, NULL);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "11_vae: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    printf("Fashion-MNIST: %ld train, %ld test; VAE 784-%d-(%ld mu, %ld logvar), %ld-%d-784, Bernoulli decoder, "
           "Adam lr 1e-3, batch %d, %d epochs\n", (long)n_train, (long)n_test, HIDDEN, (long)m.zdim, (long)m.zdim,
           (long)m.zdim, HIDDEN, BATCH, epochs);
    snprintf(path, sizeof path, "%s/vae_curve.csv", out);
    csv = fopen(path, "w");
    if (csv) fprintf(csv, "epoch,train_loss,test_elbo,seconds\n");

    step = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), t1, loss_sum = 0, rec_sum = 0, kl_sum = 0;
        dl_shuffle(ctx, perm_t->idata, n_train);
        for (i = 0; i < n_train; i += BATCH) {
            int64_t bn = n_train - i < BATCH ? n_train - i : BATCH;
            dl_tensor *rec, *kl, *loss;
            elbo_terms(ctx, &m, image_batch(ctx, &tr_img, perm_t->idata + i, bn), &rec, &kl);
            loss = dl_mean_all(ctx, dl_add(ctx, rec, kl));        /* (sum BCE + KL) per example */
            dl_optim_zero_grad(opt);
            dl_backward(ctx, loss);
            dl_optim_step(opt);
            loss_sum += (double)dl_item(loss) * (double)bn;
            dl_ctx_rewind(ctx, step);
            if (dl_ctx_status(ctx)) break;
        }
        t1 = fm_now_s();
        train_s += t1 - t0;
        dl_set_grad_enabled(ctx, 0);                /* test ELBO: one z per image */
        for (i = 0; i < n_test && !dl_ctx_status(ctx); i += EVAL_BATCH) {
            int64_t bn = n_test - i < EVAL_BATCH ? n_test - i : EVAL_BATCH;
            dl_tensor *rec, *kl;
            elbo_terms(ctx, &m, image_batch(ctx, &te_img, all_t->idata + i, bn), &rec, &kl);
            rec_sum += (double)dl_item(dl_sum_all(ctx, rec)); kl_sum += (double)dl_item(dl_sum_all(ctx, kl));
            dl_ctx_rewind(ctx, step);
        }
        dl_set_grad_enabled(ctx, 1);
        if (dl_ctx_status(ctx)) { fprintf(stderr, "11_vae: epoch %d: %s\n", epoch, dl_ctx_message(ctx)); return 1; }
        elbo = -(rec_sum + kl_sum) / (double)n_test;
        printf("epoch %2d  train loss %.3f  test ELBO %.3f nats (rec %.3f, KL %.3f)  %.2f s (eval %.2f s)\n", epoch,
               loss_sum / (double)n_train, elbo, rec_sum / (double)n_test, kl_sum / (double)n_test, t1 - t0, fm_now_s() - t1);
        if (csv) fprintf(csv, "%d,%.4f,%.4f,%.3f\n", epoch, loss_sum / (double)n_train, elbo, t1 - t0);
        fflush(stdout);
    }
    if (csv) fclose(csv);

    dl_set_grad_enabled(ctx, 0);
    {   /* importance-weighted log p(x), k = IW_K, IW_CHUNK test images per pass */
        double t0 = fm_now_s(), iw_sum = 0, el_sum = 0;
        for (i = 0; i < iw_n && !dl_ctx_status(ctx); i += IW_CHUNK) {
            int64_t c = iw_n - i < IW_CHUNK ? iw_n - i : IW_CHUNK, s;
            int32_t rows[IW_K * IW_CHUNK];
            dl_tensor *x, *xr, *mu, *lv, *z, *lpx, *iw, *el;
            for (s = 0; s < IW_K; s++) for (k = 0; k < c; k++) rows[s * c + k] = (int32_t)(i + k);
            x = image_batch(ctx, &te_img, all_t->idata + i, c);
            xr = image_batch(ctx, &te_img, rows, IW_K * c);             /* x repeated k times */
            encode(ctx, &m, x, &mu, &lv);
            z = dl_reparameterize(ctx, mu, lv, dl_normal(ctx, dl_shape3(IW_K, c, m.zdim), 0.0f, 1.0f));
            lpx = dl_bernoulli_log_prob(ctx, decode(ctx, &m, dl_reshape(ctx, z, dl_shape2(IW_K * c, m.zdim))), xr);
            lpx = dl_reshape(ctx, lpx, dl_shape2(IW_K, c));
            iw = dl_iw_log_likelihood(ctx, lpx, z, mu, lv);
            /* the ELBO from the same samples: mean_s log p(x|z_s) - KL */
            el = dl_sub(ctx, dl_mean(ctx, lpx, 0, 0), dl_gaussian_kl(ctx, mu, lv));
            iw_sum += (double)dl_item(dl_sum_all(ctx, iw)); el_sum += (double)dl_item(dl_sum_all(ctx, el));
            dl_ctx_rewind(ctx, step);
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "11_vae: IW: %s\n", dl_ctx_message(ctx)); return 1; }
        if (iw_n > 0)
            printf("first %ld test images: ELBO %.3f (mean over %d samples), IW log p(x) estimate k=%d: %.3f nats  (%.1f s)\n",
                   (long)iw_n, el_sum / (double)iw_n, IW_K, IW_K, iw_sum / (double)iw_n, fm_now_s() - t0);
    }
    {   /* images */
        dl_tensor *img, *x, *mu, *lv, *both[2], *grid;
        dl_ctx_seed(ctx, 123);
        img = dl_sigmoid(ctx, decode(ctx, &m, dl_normal(ctx, dl_shape2(64, m.zdim), 0.0f, 1.0f)));
        snprintf(path, sizeof path, "%s/vae_samples.png", out);
        if (dl_write_png_grid(ctx, path, img, 8, 0.0f, 1.0f)) fprintf(stderr, "11_vae: %s\n", dl_ctx_message(ctx));
        else printf("wrote %s (64 samples, decoder means)\n", path);
        x = image_batch(ctx, &te_img, all_t->idata, 16);
        encode(ctx, &m, x, &mu, &lv);
        img = dl_sigmoid(ctx, decode(ctx, &m, mu));
        /* rows of 8: originals 0-7, reconstructions 0-7, originals 8-15, reconstructions 8-15 */
        both[0] = dl_reshape(ctx, x, dl_shape3(2, 8, 784)); both[1] = dl_reshape(ctx, img, dl_shape3(2, 8, 784));
        grid = dl_reshape(ctx, dl_stack(ctx, both, 2, 1), dl_shape2(32, 784));
        snprintf(path, sizeof path, "%s/vae_recon.png", out);
        if (dl_write_png_grid(ctx, path, grid, 8, 0.0f, 1.0f)) fprintf(stderr, "11_vae: %s\n", dl_ctx_message(ctx));
        else printf("wrote %s (test images above their reconstructions from mu)\n", path);
        if (latent2) {
            dl_tensor *zg = dl_empty(ctx, dl_shape2(400, 2)); int r, c;
            for (r = 0; r < 20; r++) for (c = 0; c < 20; c++) {
                dl_set(zg, (r * 20 + c) * 2, -2.5f + 5.0f * (float)c / 19.0f);
                dl_set(zg, (r * 20 + c) * 2 + 1, 2.5f - 5.0f * (float)r / 19.0f);
            }
            img = dl_sigmoid(ctx, decode(ctx, &m, zg));
            snprintf(path, sizeof path, "%s/vae_manifold.png", out);
            if (dl_write_png_grid(ctx, path, img, 20, 0.0f, 1.0f)) fprintf(stderr, "11_vae: %s\n", dl_ctx_message(ctx));
            else printf("wrote %s (20x20 grid of z over [-2.5, 2.5]^2)\n", path);
        }
        dl_ctx_rewind(ctx, step);
    }
    printf("arena: %.1f MiB peak of %.1f MiB\n", (double)dl_ctx_peak_bytes(ctx) / 1048576.0, (double)dl_ctx_capacity(ctx) / 1048576.0);
    printf("test ELBO %.3f nats per example (%d epochs, %.2f s/epoch, %.1f s in all)\n", elbo, epochs, train_s / epochs, fm_now_s() - t_start);
    dl_ctx_free(ctx);
    return 0;
}
