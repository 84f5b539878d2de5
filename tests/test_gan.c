/* tests/test_gan.c - a fully connected GAN on the 8-mode ring (Metz et al. 2017, "Unrolled
   GANs"; Srivastava et al. 2017, VEEGAN): a mixture of 8 two-dimensional Gaussians with
   means on a circle of radius 2 and standard deviation 0.02.

     G: z [B,8] ~ N(0,1) -> fc 64 -> ReLU -> fc 64 -> ReLU -> fc 2
     D: x [B,2] -> fc 64 -> leaky ReLU 0.2 -> fc 64 -> leaky ReLU 0.2 -> fc 1 (a logit)

   Both networks, their Adam states (one dl_optim each) and every step's scratch live in
   ONE arena; each step is rewound to a mark taken after setup. Alternating updates: a D
   step on a real and a (detached) fake batch, bce_with_logits with targets 1 and 0, then
   a G step with the non-saturating loss -log D(G(z)) = bce_with_logits(D(G(z)), 1). A
   G step backpropagates through D too (D's gradients are cleared by D's own zero_grad
   before its next step, and D's optimizer is not stepped there).

   Scoring (as the literature): 1000 samples of G; each is assigned to its nearest mode
   centre; a sample is "high quality" when it lies within GAN_HQ_RADIUS of that centre;
   a mode is covered when it holds >= 1% (10) of the high-quality samples.

   "gan ring 8 modes"    3000 alternating steps, batch 128, Adam lr 1e-3 beta1 0.5 for
                         both, seed 1: >= 6 of 8 modes covered and >= 50% of the samples
                         high quality (within 0.1 = 5 std of a mode centre). Measured with
                         seeds 1..6: 8/8 modes and 65..81% high quality every time.
                         When the first 20 steps project more than 60 s of CPU for all 3000
                         (valgrind runs this ~400x slower), training stops there and only
                         the mode check is skipped, with a line saying so.
   "gan ring untrained"  the same G before training: < 6 modes, < 10% high quality, mean
                         radius < 0.5 (its samples sit near the origin). The control that
                         shows the score can fail.
   gan_ring_run(seed, steps, saturating = 1) trains G with the saturating loss
   log(1 - D(G(z))) = -bce_with_logits(D(G(z)), 0) instead; the suite does not run it (it
   is there for comparison runs).                                                         */

#include <time.h>

#define GAN_Z         8
#define GAN_H         64
#define GAN_BATCH     128
#define GAN_STEPS     3000
#define GAN_RADIUS    2.0f
#define GAN_STD       0.02f
#define GAN_HQ_RADIUS 0.1f      /* 5 std: high quality within 5 sigma of a mode */
#define GAN_NSAMPLES  1000
#define GAN_MAX_CPU_S 60.0      /* projected CPU seconds above which training stops */

typedef struct gan_net { dl_linear l1, l2, l3; } gan_net;

typedef struct gan_score {
    int modes;          /* modes with >= 1% of the samples, high quality */
    float hq;           /* fraction of high-quality samples */
    float mean_r;       /* mean distance from the origin */
    float loss_d, loss_g;
    int ok;             /* no error status */
    int cut;            /* training stopped early: too slow here (valgrind, emulators) */
    double projected_s; /* projected CPU seconds for all the steps */
} gan_score;

static void gan_net_init(dl_ctx *ctx, gan_net *n, int64_t in, int64_t out, dl_tensor **params) {
    dl_linear_init(ctx, &n->l1, in, GAN_H, 1);
    dl_linear_init(ctx, &n->l2, GAN_H, GAN_H, 1);
    dl_linear_init(ctx, &n->l3, GAN_H, out, 1);
    params[0] = n->l1.weight; params[1] = n->l1.bias; params[2] = n->l2.weight;
    params[3] = n->l2.bias; params[4] = n->l3.weight; params[5] = n->l3.bias;
}

static dl_tensor *gan_gen(dl_ctx *ctx, const gan_net *g, dl_tensor *z) {
    dl_tensor *h = dl_relu(ctx, dl_linear_forward(ctx, &g->l1, z));
    h = dl_relu(ctx, dl_linear_forward(ctx, &g->l2, h));
    return dl_linear_forward(ctx, &g->l3, h);
}

static dl_tensor *gan_disc(dl_ctx *ctx, const gan_net *d, dl_tensor *x) {
    dl_tensor *h = dl_leaky_relu(ctx, dl_linear_forward(ctx, &d->l1, x), 0.2f);
    h = dl_leaky_relu(ctx, dl_linear_forward(ctx, &d->l2, h), 0.2f);
    return dl_linear_forward(ctx, &d->l3, h);
}

/* a batch of the ring mixture, from the ctx RNG */
static dl_tensor *gan_ring_batch(dl_ctx *ctx, int64_t n) {
    dl_tensor *x = dl_empty(ctx, dl_shape2(n, 2));
    int64_t i;
    if (dl_ctx_status(ctx) || dl_ctx_is_measuring(ctx)) return x;
    for (i = 0; i < n; i++) {
        int k = (int)(dl_rand_u64(ctx) % 8u);
        float a = 2.0f * 3.14159265358979f * (float)k / 8.0f;
        x->data[2 * i] = GAN_RADIUS * cosf(a) + GAN_STD * dl_rand_normal(ctx);
        x->data[2 * i + 1] = GAN_RADIUS * sinf(a) + GAN_STD * dl_rand_normal(ctx);
    }
    return x;
}

/* trains for `steps` alternating steps (0: none) and scores 1000 samples of G */
static gan_score gan_ring_run(uint64_t seed, int steps, int saturating) {
    gan_score sc;
    dl_ctx_desc cd;
    dl_ctx *ctx;
    gan_net g, d;
    dl_tensor *gp[6], *dp[6], *x;
    dl_optim_desc od;
    dl_optim *og, *odis;
    dl_mark mk;
    int step, counts[8], i, k;
    clock_t t0 = clock();
    double rsum = 0;

    memset(&sc, 0, sizeof sc);
    memset(&cd, 0, sizeof cd);
    cd.memory_size = (size_t)8 << 20;
    cd.seed = seed;
    ctx = dl_ctx_init(&cd);
    if (!ctx) return sc;
    gan_net_init(ctx, &g, GAN_Z, 2, gp);
    gan_net_init(ctx, &d, 2, 1, dp);
    memset(&od, 0, sizeof od);
    od.kind = DL_ADAM; od.lr = 1e-3f; od.beta1 = 0.5f;     /* both networks */
    og = dl_optim_new(ctx, &od, 6);
    odis = dl_optim_new(ctx, &od, 6);
    dl_optim_add(og, gp, 6, NULL);
    dl_optim_add(odis, dp, 6, NULL);
    mk = dl_ctx_mark(ctx);
    for (step = 0; step < steps && !dl_ctx_status(ctx); step++) {
        dl_tensor *real = gan_ring_batch(ctx, GAN_BATCH);
        dl_tensor *fake = gan_gen(ctx, &g, dl_normal(ctx, dl_shape2(GAN_BATCH, GAN_Z), 0.0f, 1.0f));
        dl_tensor *ones = dl_ones(ctx, dl_shape2(GAN_BATCH, 1));
        dl_tensor *zeros = dl_zeros(ctx, dl_shape2(GAN_BATCH, 1));
        dl_tensor *ld, *lg, *dfake;
        /* D step: real -> 1, fake (no gradient into G) -> 0 */
        ld = dl_add(ctx, dl_bce_with_logits(ctx, gan_disc(ctx, &d, real), ones, DL_REDUCE_MEAN),
                    dl_bce_with_logits(ctx, gan_disc(ctx, &d, dl_detach(ctx, fake)), zeros, DL_REDUCE_MEAN));
        dl_optim_zero_grad(odis);
        dl_backward(ctx, ld);
        dl_optim_step(odis);
        /* G step on the same z, through the updated D */
        dfake = gan_disc(ctx, &d, fake);
        lg = saturating ? dl_neg(ctx, dl_bce_with_logits(ctx, dfake, zeros, DL_REDUCE_MEAN))
                        : dl_bce_with_logits(ctx, dfake, ones, DL_REDUCE_MEAN);
        dl_optim_zero_grad(og);
        dl_backward(ctx, lg);
        dl_optim_step(og);
        sc.loss_d = dl_item(ld); sc.loss_g = dl_item(lg);
        dl_ctx_rewind(ctx, mk);
        if (step == 19) {       /* under valgrind or an emulator this takes hours: stop */
            sc.projected_s = (double)(clock() - t0) / CLOCKS_PER_SEC * (double)steps / 20.0;
            if (sc.projected_s > GAN_MAX_CPU_S) { sc.cut = 1; break; }
        }
    }
    /* score */
    dl_set_grad_enabled(ctx, 0);
    x = gan_gen(ctx, &g, dl_normal(ctx, dl_shape2(GAN_NSAMPLES, GAN_Z), 0.0f, 1.0f));
    sc.ok = dl_ctx_status(ctx) == DL_STATUS_OK;
    for (k = 0; k < 8; k++) counts[k] = 0;
    for (i = 0; sc.ok && i < GAN_NSAMPLES; i++) {
        float px = x->data[2 * i], py = x->data[2 * i + 1], best = 1e30f;
        int bk = 0;
        for (k = 0; k < 8; k++) {
            float a = 2.0f * 3.14159265358979f * (float)k / 8.0f;
            float dx = px - GAN_RADIUS * cosf(a), dy = py - GAN_RADIUS * sinf(a);
            float dd = dx * dx + dy * dy;
            if (dd < best) { best = dd; bk = k; }
        }
        rsum += sqrt((double)(px * px + py * py));
        if (best <= GAN_HQ_RADIUS * GAN_HQ_RADIUS) { counts[bk]++; sc.hq += 1.0f; }
    }
    sc.hq /= (float)GAN_NSAMPLES;
    sc.mean_r = (float)(rsum / GAN_NSAMPLES);
    for (k = 0; k < 8; k++) if (counts[k] >= GAN_NSAMPLES / 100) sc.modes++;
    if (!sc.ok) printf("gan: %s\n", dl_ctx_message(ctx));
    dl_ctx_free(ctx);
    return sc;
}

static void suite_gan(void) {
    gan_score s;
    const uint64_t seed = 1;

    T_BEGIN("gan ring 8 modes");
    if (!t_skip_case) {
        s = gan_ring_run(seed, GAN_STEPS, 0);
        if (!s.cut) printf("    gan ring (non-saturating, %d steps): %d/8 modes, %.1f%% high quality (<= %.2f from a mode), "
               "mean radius %.3f, last loss D %.3f G %.3f\n", GAN_STEPS, s.modes, 100.0 * (double)s.hq,
               (double)GAN_HQ_RADIUS, (double)s.mean_r, (double)s.loss_d, (double)s.loss_g);
        T_EXPECT(s.ok, "training failed");
        if (s.cut) {
            printf("    gan ring: NOT CHECKED here: the %d steps would take %.0f s of CPU (> %.0f s: valgrind or "
                   "an emulator?); trained 20 steps only, the mode count is checked by the native run\n",
                   GAN_STEPS, s.projected_s, GAN_MAX_CPU_S);
        } else {
            T_EXPECT(s.modes >= 6, "%d of 8 modes covered, want >= 6", s.modes);
            T_EXPECT(s.hq >= 0.5f, "%.3f of the samples high quality, want >= 0.5", (double)s.hq);
        }
    }
    T_END();

    T_BEGIN("gan ring untrained");
    if (!t_skip_case) {
        s = gan_ring_run(seed, 0, 0);
        printf("    gan ring (untrained G): %d/8 modes, %.1f%% high quality, mean radius %.3f\n",
               s.modes, 100.0 * (double)s.hq, (double)s.mean_r);
        T_EXPECT(s.ok, "sampling failed");
        T_EXPECT(s.modes < 6, "untrained G covers %d modes: the score cannot tell", s.modes);
        T_EXPECT(s.hq < 0.1f, "untrained G: %.3f high quality", (double)s.hq);
        T_EXPECT(s.mean_r < 0.5f, "untrained G: mean radius %.3f", (double)s.mean_r);
    }
    T_END();
}
