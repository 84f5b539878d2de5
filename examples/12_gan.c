/* examples/12_gan.c - a GAN on Fashion-MNIST (Goodfellow et al. 2014; DCGAN: Radford et
   al. 2016): a generator G and a discriminator D trained in alternation, D with
   bce_with_logits (real -> 1, fake -> 0), G with the non-saturating loss -log D(G(z)) =
   bce_with_logits(D(G(z)), 1). Pixels are scaled to [-1, 1] to match G's tanh output.
   Adam lr 2e-4, beta1 0.5 for both networks (one dl_optim each); both networks, both
   optimizer states and each step's scratch share ONE arena, rewound after every step.

   DCGAN (default), z 64:
     G: z -> fc 64*7*7 -> [64,7,7] -> batch norm -> ReLU
          -> conv_transpose2d 4x4 stride 2 pad 1 -> [32,14,14] -> batch norm -> ReLU
          -> conv_transpose2d 4x4 stride 2 pad 1 -> [1,28,28] -> tanh
     D: [1,28,28] -> conv 4x4 stride 2 pad 1 -> [32,14,14] -> leaky ReLU 0.2
          -> conv 4x4 stride 2 pad 1 -> [64,7,7] -> batch norm -> leaky ReLU 0.2
          -> fc 1 (a logit)
   --fc: the fully connected GAN instead:
     G: z -> fc 256 -> ReLU -> fc 512 -> ReLU -> fc 784 -> tanh
     D: 784 -> fc 512 -> leaky ReLU 0.2 -> fc 256 -> leaky ReLU 0.2 -> fc 1
   Weights use DCGAN's init: N(0, 0.02) for conv/linear weights, N(1, 0.02) for batch norm
   scales, zero biases.

   Each epoch writes OUT/gan_epoch_NN.png: a grid of G's samples (the same fixed z every
   epoch, G's batch norm in eval mode), and appends the epoch's mean D and G losses and
   D's mean outputs on real and fake images to OUT/gan_losses.csv (one row per 100 steps
   and one per epoch). Prints progress, seconds per epoch, and at the end the final
   epoch's losses and D(x), D(G(z)).

   Data: Debian's dataset-fashion-mnist (sudo apt-get install dataset-fashion-mnist).
   Build: cc -O2 -march=native -I. examples/12_gan.c -lm -o build/12_gan
   Run:   build/12_gan [--epochs N] [--samples N] [--limit N] [--fc] [--out DIR] [--data DIR]
          --epochs N   training epochs (default 1)
          --samples N  images in each sample grid (default 64, up to 256)
          --limit N    use only the first N training images (default: all 60000)
          --fc         the fully connected GAN instead of the DCGAN
          --out DIR    where the PNGs and the CSV go (default: .)                         */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include "fashion_mnist.h"
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <time.h>

#define SEED        1
#define BATCH       64
#define ZDIM        64
#define MAX_SAMPLES 256
#define DATA_DIR    "/usr/share/datasets/fashion-mnist"
#define MAXP        16

typedef struct gen {
    int fc;
    dl_linear l1, l2, l3;                   /* fc: three layers; dcgan: l1 only */
    dl_batchnorm bn0, bn1;
    dl_tensor *w1, *b1, *w2, *b2;           /* dcgan: the two transposed convolutions */
    dl_tensor *params[MAXP];
    int np;
} gen;

typedef struct disc {
    int fc;
    dl_linear l1, l2, l3;                   /* fc: three layers; dcgan: l3 only */
    dl_conv2d_layer c1, c2;
    dl_batchnorm bn2;
    dl_tensor *params[MAXP];
    int np;
} disc;



/* DCGAN's init on a weight (N(0, 0.02)) and a bias (0) */
static void dcgan_init(dl_ctx *ctx, dl_tensor *w, dl_tensor *b) {
    dl_init_normal(ctx, w, 0.0f, 0.02f);
    if (b) dl_init_constant(b, 0.0f);
}
static void bn_init(dl_ctx *ctx, dl_batchnorm *bn, int64_t c) {
    dl_batchnorm_init(ctx, bn, c);
    dl_init_normal(ctx, bn->weight, 1.0f, 0.02f);
}
static dl_tensor *param(dl_ctx *ctx, dl_shape s) {
    dl_tensor *t = dl_zeros(ctx, s);
    dl_requires_grad(ctx, t, 1);
    return t;
}

static void gen_init(dl_ctx *ctx, gen *g, int fc) {
    memset(g, 0, sizeof *g);
    g->fc = fc;
    if (fc) {
        dl_linear_init(ctx, &g->l1, ZDIM, 256, 1);
        dl_linear_init(ctx, &g->l2, 256, 512, 1);
        dl_linear_init(ctx, &g->l3, 512, 784, 1);
        dcgan_init(ctx, g->l1.weight, g->l1.bias);
        dcgan_init(ctx, g->l2.weight, g->l2.bias);
        dcgan_init(ctx, g->l3.weight, g->l3.bias);
        g->params[g->np++] = g->l2.weight; g->params[g->np++] = g->l2.bias;
        g->params[g->np++] = g->l3.weight; g->params[g->np++] = g->l3.bias;
    } else {
        dl_linear_init(ctx, &g->l1, ZDIM, 64 * 7 * 7, 1);
        dcgan_init(ctx, g->l1.weight, g->l1.bias);
        bn_init(ctx, &g->bn0, 64);
        g->w1 = param(ctx, dl_shape4(64, 32, 4, 4)); g->b1 = param(ctx, dl_shape1(32));
        bn_init(ctx, &g->bn1, 32);
        g->w2 = param(ctx, dl_shape4(32, 1, 4, 4)); g->b2 = param(ctx, dl_shape1(1));
        dcgan_init(ctx, g->w1, g->b1);
        dcgan_init(ctx, g->w2, g->b2);
        g->params[g->np++] = g->bn0.weight; g->params[g->np++] = g->bn0.bias;
        g->params[g->np++] = g->w1; g->params[g->np++] = g->b1;
        g->params[g->np++] = g->bn1.weight; g->params[g->np++] = g->bn1.bias;
        g->params[g->np++] = g->w2; g->params[g->np++] = g->b2;
    }
    g->params[g->np++] = g->l1.weight; g->params[g->np++] = g->l1.bias;
}

/* z [N, ZDIM] -> images [N,1,28,28] in (-1, 1) */
static dl_tensor *gen_forward(dl_ctx *ctx, gen *g, dl_tensor *z, int train) {
    dl_conv_desc up;
    dl_tensor *h;
    int64_t n = z->shape[0];
    if (g->fc) {
        h = dl_relu(ctx, dl_linear_forward(ctx, &g->l1, z));
        h = dl_relu(ctx, dl_linear_forward(ctx, &g->l2, h));
        h = dl_tanh(ctx, dl_linear_forward(ctx, &g->l3, h));
        return dl_reshape(ctx, h, dl_shape4(n, 1, 28, 28));
    }
    memset(&up, 0, sizeof up);
    up.stride[0] = up.stride[1] = 2;
    up.pad[0] = up.pad[1] = up.pad[2] = up.pad[3] = 1;
    h = dl_reshape(ctx, dl_linear_forward(ctx, &g->l1, z), dl_shape4(n, 64, 7, 7));
    h = dl_relu(ctx, dl_batchnorm_forward(ctx, &g->bn0, h, train));
    h = dl_relu(ctx, dl_batchnorm_forward(ctx, &g->bn1, dl_conv_transpose2d(ctx, h, g->w1, g->b1, &up), train));
    return dl_tanh(ctx, dl_conv_transpose2d(ctx, h, g->w2, g->b2, &up));
}

static void disc_init(dl_ctx *ctx, disc *d, int fc) {
    memset(d, 0, sizeof *d);
    d->fc = fc;
    if (fc) {
        dl_linear_init(ctx, &d->l1, 784, 512, 1);
        dl_linear_init(ctx, &d->l2, 512, 256, 1);
        dl_linear_init(ctx, &d->l3, 256, 1, 1);
        dcgan_init(ctx, d->l1.weight, d->l1.bias);
        dcgan_init(ctx, d->l2.weight, d->l2.bias);
        d->params[d->np++] = d->l1.weight; d->params[d->np++] = d->l1.bias;
        d->params[d->np++] = d->l2.weight; d->params[d->np++] = d->l2.bias;
    } else {
        dl_conv_desc down;
        memset(&down, 0, sizeof down);
        down.stride[0] = down.stride[1] = 2;
        down.pad[0] = down.pad[1] = down.pad[2] = down.pad[3] = 1;
        dl_conv2d_init(ctx, &d->c1, 1, 32, 4, 4, 1, &down);
        dl_conv2d_init(ctx, &d->c2, 32, 64, 4, 4, 1, &down);
        dcgan_init(ctx, d->c1.weight, d->c1.bias);
        dcgan_init(ctx, d->c2.weight, d->c2.bias);
        bn_init(ctx, &d->bn2, 64);
        dl_linear_init(ctx, &d->l3, 64 * 7 * 7, 1, 1);
        d->params[d->np++] = d->c1.weight; d->params[d->np++] = d->c1.bias;
        d->params[d->np++] = d->c2.weight; d->params[d->np++] = d->c2.bias;
        d->params[d->np++] = d->bn2.weight; d->params[d->np++] = d->bn2.bias;
    }
    dcgan_init(ctx, d->l3.weight, d->l3.bias);
    d->params[d->np++] = d->l3.weight; d->params[d->np++] = d->l3.bias;
}

/* images [N,1,28,28] -> logits [N,1] */
static dl_tensor *disc_forward(dl_ctx *ctx, disc *d, dl_tensor *x) {
    dl_tensor *h;
    int64_t n = x->shape[0];
    if (d->fc) {
        h = dl_reshape(ctx, x, dl_shape2(n, 784));
        h = dl_leaky_relu(ctx, dl_linear_forward(ctx, &d->l1, h), 0.2f);
        h = dl_leaky_relu(ctx, dl_linear_forward(ctx, &d->l2, h), 0.2f);
        return dl_linear_forward(ctx, &d->l3, h);
    }
    h = dl_leaky_relu(ctx, dl_conv2d_forward(ctx, &d->c1, x), 0.2f);
    h = dl_leaky_relu(ctx, dl_batchnorm_forward(ctx, &d->bn2, dl_conv2d_forward(ctx, &d->c2, h), 1), 0.2f);
    return dl_linear_forward(ctx, &d->l3, dl_reshape(ctx, h, dl_shape2(n, 64 * 7 * 7)));
}

/* rows of the 784-byte images as floats [n,1,28,28] in [-1,1]; img NULL when measuring */
static dl_tensor *image_batch(dl_ctx *ctx, const dl_idx *img, const int32_t *rows, int64_t n) {
    dl_tensor *x = dl_batch_rows_u8(ctx, img ? img->u8 : NULL, 784, rows, n, dl_shape4(n, 1, 28, 28), 2.0f / 255.0f);
    return dl_add_scalar(ctx, x, -1.0f);
}

typedef struct step_out { double ld, lg, d_real, d_fake; } step_out;

/* mean of sigmoid(logits): D's probability that its inputs are real */
static double mean_prob(const dl_tensor *logits) {
    double s = 0;
    int64_t i;
    if (!logits->data) return 0.0;
    for (i = 0; i < logits->numel; i++) s += 1.0 / (1.0 + exp(-(double)logits->data[i]));
    return s / (double)logits->numel;
}

/* one D step then one G step on the same z; everything it allocates is scratch */
static step_out train_step(dl_ctx *ctx, gen *g, disc *d, dl_optim *og, dl_optim *od,
                           const dl_idx *img, const int32_t *rows, int64_t n) {
    step_out o;
    dl_tensor *real = image_batch(ctx, img, rows, n);
    dl_tensor *fake = gen_forward(ctx, g, dl_normal(ctx, dl_shape2(n, ZDIM), 0.0f, 1.0f), 1);
    dl_tensor *ones = dl_ones(ctx, dl_shape2(n, 1)), *zeros = dl_zeros(ctx, dl_shape2(n, 1));
    dl_tensor *lr_, *lf, *ld, *lg, *dfake;
    dl_tensor *dreal_logits = disc_forward(ctx, d, real);
    dl_tensor *dfake_logits = disc_forward(ctx, d, dl_detach(ctx, fake));
    lr_ = dl_bce_with_logits(ctx, dreal_logits, ones, DL_REDUCE_MEAN);
    lf = dl_bce_with_logits(ctx, dfake_logits, zeros, DL_REDUCE_MEAN);
    ld = dl_add(ctx, lr_, lf);
    dl_optim_zero_grad(od);
    dl_backward(ctx, ld);
    dl_optim_step(od);
    /* G: the non-saturating loss, through the just-updated D; D's gradients from this
       backward pass are cleared by D's zero_grad at the next step */
    dfake = disc_forward(ctx, d, fake);
    lg = dl_bce_with_logits(ctx, dfake, ones, DL_REDUCE_MEAN);
    dl_optim_zero_grad(og);
    dl_backward(ctx, lg);
    dl_optim_step(og);
    o.ld = (double)dl_item(ld); o.lg = (double)dl_item(lg);
    o.d_real = mean_prob(dreal_logits); o.d_fake = mean_prob(dfake_logits);
    return o;
}

/* bytes for the models, the two Adam states, one training step, and sampling */
static size_t measure_bytes(int fc, int nsamples) {
    dl_ctx_desc md;
    dl_ctx *mc;
    gen g;
    disc d;
    dl_optim_desc od;
    dl_optim *og, *odis;
    int32_t rows[BATCH];
    size_t need;
    int i;
    memset(&md, 0, sizeof md); md.measure = 1;
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 2e-4f; od.beta1 = 0.5f;
    for (i = 0; i < BATCH; i++) rows[i] = 0;
    mc = dl_ctx_init(&md);
    if (!mc) return 0;
    gen_init(mc, &g, fc);
    disc_init(mc, &d, fc);
    og = dl_optim_new(mc, &od, g.np); dl_optim_add(og, g.params, g.np, NULL);
    odis = dl_optim_new(mc, &od, d.np); dl_optim_add(odis, d.params, d.np, NULL);
    dl_normal(mc, dl_shape2(nsamples, ZDIM), 0.0f, 1.0f);      /* the fixed z */
    {
        dl_mark mk = dl_ctx_mark(mc);
        train_step(mc, &g, &d, og, odis, NULL, rows, BATCH);
        dl_ctx_rewind(mc, mk);
        dl_set_grad_enabled(mc, 0);
        gen_forward(mc, &g, dl_normal(mc, dl_shape2(nsamples, ZDIM), 0.0f, 1.0f), 0);
    }
    need = dl_ctx_status(mc) ? 0 : dl_ctx_peak_bytes(mc);
    if (!need) fprintf(stderr, "12_gan: measuring: %s\n", dl_ctx_message(mc));
    dl_ctx_free(mc);
    return need;
}

static int usage(const char *argv0) {
    fprintf(stderr, "usage: %s [--epochs N] [--samples N (1..%d)] [--limit N] [--fc] [--out DIR] [--data DIR]\n",
            argv0, MAX_SAMPLES);
    return 2;
}

int main(int argc, char **argv) {
    int epochs = 1, nsamples = 64, fc = 0, epoch, a, cols;
    long limit = 0;
    const char *dir = DATA_DIR, *out = ".";
    char path[1200];
    dl_ctx_desc cd;
    dl_ctx *ctx;
    dl_idx tr_img;
    dl_tensor *perm_t, *zfix;
    gen g;
    disc d;
    dl_optim_desc od;
    dl_optim *og, *odis;
    dl_mark mk;
    int64_t n_train, i;
    size_t need;
    FILE *csv;
    double t_start = fm_now_s();
    step_out last;
    long gstep = 0;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--fc") == 0) fc = 1;
        else if (a + 1 < argc && strcmp(argv[a], "--epochs") == 0) epochs = atoi(argv[++a]);
        else if (a + 1 < argc && strcmp(argv[a], "--samples") == 0) nsamples = atoi(argv[++a]);
        else if (a + 1 < argc && strcmp(argv[a], "--limit") == 0) limit = atol(argv[++a]);
        else if (a + 1 < argc && strcmp(argv[a], "--out") == 0) out = argv[++a];
        else if (a + 1 < argc && strcmp(argv[a], "--data") == 0) dir = argv[++a];
        else return usage(argv[0]);
    }
    if (epochs < 1 || nsamples < 1 || nsamples > MAX_SAMPLES || limit < 0) return usage(argv[0]);
    need = measure_bytes(fc, nsamples);
    if (!need) return 1;
    memset(&cd, 0, sizeof cd);
    cd.memory_size = ((size_t)64 << 20) + need + ((size_t)1 << 20); /* data + model/step + PNG */
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "12_gan: dl_ctx_init failed (no memory)\n"); return 1; }
    if (!fm_load(ctx, "12_gan", dir, "train-images-idx3-ubyte.gz", &tr_img)) { dl_ctx_free(ctx); return 2; }
    if (tr_img.ndim != 3 || tr_img.shape[1] != 28 || tr_img.shape[2] != 28) {
        fprintf(stderr, "12_gan: unexpected image shape in %s\n", dir);
        dl_ctx_free(ctx);
        return 1;
    }
    n_train = tr_img.shape[0];
    if (limit > 0 && limit < n_train) n_train = limit;
    perm_t = dl_index_zeros(ctx, dl_shape1(n_train));

    gen_init(ctx, &g, fc);
    disc_init(ctx, &d, fc);
    memset(&od, 0, sizeof od); od.kind = DL_ADAM; od.lr = 2e-4f; od.beta1 = 0.5f;
    og = dl_optim_new(ctx, &od, g.np); dl_optim_add(og, g.params, g.np, NULL);
    odis = dl_optim_new(ctx, &od, d.np); dl_optim_add(odis, d.params, d.np, NULL);
    zfix = dl_normal(ctx, dl_shape2(nsamples, ZDIM), 0.0f, 1.0f);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "12_gan: setup: %s\n", dl_ctx_message(ctx)); return 1; }
    snprintf(path, sizeof path, "%s/gan_losses.csv", out);
    csv = fopen(path, "w");
    if (!csv) { fprintf(stderr, "12_gan: cannot write %s\n", path); dl_ctx_free(ctx); return 1; }
    fprintf(csv, "epoch,step,loss_d,loss_g,d_real,d_fake\n");
    printf("Fashion-MNIST: %ld training images; %s GAN, z %d, batch %d, Adam lr 2e-4 beta1 0.5, "
           "non-saturating G loss; arena %.1f MiB (model + step + sampling measured at %.1f MiB)\n",
           (long)n_train, fc ? "fully connected" : "DCGAN", ZDIM, BATCH,
           (double)dl_ctx_capacity(ctx) / 1048576.0, (double)need / 1048576.0);
    fflush(stdout);

    memset(&last, 0, sizeof last);
    mk = dl_ctx_mark(ctx);
    for (epoch = 1; epoch <= epochs; epoch++) {
        double t0 = fm_now_s(), sd = 0, sg = 0, sr = 0, sf = 0, wd = 0, wg = 0, wr = 0, wf = 0;
        long nb = 0, wn = 0;
        dl_tensor *x;
        dl_shuffle(ctx, perm_t->idata, n_train);   /* --limit: the first n_train images */
        for (i = 0; i + BATCH <= n_train; i += BATCH) {           /* whole batches only */
            step_out o;
            o = train_step(ctx, &g, &d, og, odis, &tr_img, perm_t->idata + i, BATCH);
            dl_ctx_rewind(ctx, mk);
            if (dl_ctx_status(ctx)) break;
            sd += o.ld; sg += o.lg; sr += o.d_real; sf += o.d_fake; nb++;
            wd += o.ld; wg += o.lg; wr += o.d_real; wf += o.d_fake; wn++;
            gstep++;
            if (gstep % 100 == 0) {
                fprintf(csv, "%d,%ld,%.5f,%.5f,%.4f,%.4f\n", epoch, gstep, wd / wn, wg / wn, wr / wn, wf / wn);
                printf("  epoch %d step %5ld  loss D %.4f G %.4f  D(x) %.3f D(G(z)) %.3f  %.1f s\n", epoch, gstep,
                       wd / wn, wg / wn, wr / wn, wf / wn, fm_now_s() - t0);
                fflush(stdout);
                wd = wg = wr = wf = 0; wn = 0;
            }
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "12_gan: epoch %d: %s\n", epoch, dl_ctx_message(ctx)); return 1; }
        last.ld = sd / nb; last.lg = sg / nb; last.d_real = sr / nb; last.d_fake = sf / nb;
        fprintf(csv, "%d,epoch,%.5f,%.5f,%.4f,%.4f\n", epoch, sd / nb, sg / nb, sr / nb, sf / nb);
        fflush(csv);
        /* samples from the fixed z, no tape, G's batch norm in eval mode */
        dl_set_grad_enabled(ctx, 0);
        x = gen_forward(ctx, &g, zfix, 0);
        for (cols = 1; cols * cols < nsamples; cols++) {}
        snprintf(path, sizeof path, "%s/gan_epoch_%02d.png", out, epoch);
        if (dl_write_png_grid(ctx, path, x, cols, -1.0f, 1.0f))
            fprintf(stderr, "12_gan: %s: %s\n", path, dl_ctx_message(ctx));
        dl_ctx_rewind(ctx, mk);
        dl_set_grad_enabled(ctx, 1);
        printf("epoch %d  loss D %.4f G %.4f  D(x) %.3f D(G(z)) %.3f  %.1f s  -> %s\n", epoch, sd / nb, sg / nb,
               sr / nb, sf / nb, fm_now_s() - t0, path);
        fflush(stdout);
    }
    fclose(csv);
    printf("arena: %.1f MiB peak of %.1f MiB\n", (double)dl_ctx_peak_bytes(ctx) / 1048576.0,
           (double)dl_ctx_capacity(ctx) / 1048576.0);
    printf("final (epoch %d): loss D %.4f G %.4f, D(x) %.3f, D(G(z)) %.3f; %ld steps in %.1f s; "
           "samples %s/gan_epoch_%02d.png, losses %s/gan_losses.csv\n", epochs, last.ld, last.lg,
           last.d_real, last.d_fake, gstep, fm_now_s() - t_start, out, epochs, out);
    dl_ctx_free(ctx);
    return 0;
}
