/* examples/01_xor.c - XOR with a 2-2-1 network (CATALOGUE §10.1), the smallest problem a
   linear model cannot solve: Linear 2->2, tanh, Linear 2->1, sigmoid cross-entropy on the
   logit (dl_bce_with_logits), full-batch SGD with momentum from a fixed seed. Shows the
   whole training loop: parameters and optimizer state first, then dl_ctx_mark, and each
   step builds the graph, runs dl_backward, steps the optimizer and rewinds the scratch.
   Prints the loss while training, then the 4 outputs and the accuracy; exits 0 only when
   all 4 are right. With only 2 hidden units, gradient descent gets stuck in a local
   minimum (3 of 4 right, or 2) from some random starts: about 4 seeds in 10 here. Seed 7
   is one that succeeds; try others with SEED.

   Build: cc -O2 -I. examples/01_xor.c -lm -o build/01_xor                              */
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>

#define SEED  7
#define STEPS 1000

int main(void) {
    static const float xs[4 * 2] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const float ys[4] = {0, 1, 1, 0};
    dl_ctx_desc cd = {0};
    dl_ctx *ctx;
    dl_linear l1, l2;
    dl_optim_desc od = {0};
    dl_optim *opt;
    dl_tensor *params[4], *x, *y, *out;
    dl_mark step;
    int it, i, right = 0;

    cd.memory_size = (size_t)1 << 20;  /* 1 MiB: parameters, optimizer state, one step */
    cd.seed = SEED;
    ctx = dl_ctx_init(&cd);
    if (!ctx) { fprintf(stderr, "01_xor: dl_ctx_init failed (no memory)\n"); return 1; }

    dl_linear_init(ctx, &l1, 2, 2, 1);  /* torch's default init, from the seeded RNG */
    dl_linear_init(ctx, &l2, 2, 1, 1);
    params[0] = l1.weight; params[1] = l1.bias; params[2] = l2.weight; params[3] = l2.bias;
    od.kind = DL_SGD; od.lr = 0.5f; od.momentum = 0.9f;
    opt = dl_optim_new(ctx, &od, 4);
    dl_optim_add(opt, params, 4, NULL);
    x = dl_from_data(ctx, dl_shape2(4, 2), xs);
    y = dl_from_data(ctx, dl_shape2(4, 1), ys);
    if (dl_ctx_status(ctx)) { fprintf(stderr, "01_xor: setup: %s\n", dl_ctx_message(ctx)); return 1; }

    step = dl_ctx_mark(ctx);            /* everything after this is one step's scratch */
    for (it = 1; it <= STEPS; it++) {
        dl_tensor *h = dl_tanh(ctx, dl_linear_forward(ctx, &l1, x));
        dl_tensor *loss = dl_bce_with_logits(ctx, dl_linear_forward(ctx, &l2, h), y, DL_REDUCE_MEAN);
        dl_optim_zero_grad(opt);
        dl_backward(ctx, loss);
        dl_optim_step(opt);
        if (it == 1 || it % 100 == 0) printf("step %4d  loss %.6f\n", it, (double)dl_item(loss));
        dl_ctx_rewind(ctx, step);
        if (dl_ctx_status(ctx)) break;
    }
    if (dl_ctx_status(ctx)) { fprintf(stderr, "01_xor: training: %s\n", dl_ctx_message(ctx)); return 1; }

    dl_set_grad_enabled(ctx, 0);
    out = dl_sigmoid(ctx, dl_linear_forward(ctx, &l2, dl_tanh(ctx, dl_linear_forward(ctx, &l1, x))));
    if (dl_ctx_status(ctx)) { fprintf(stderr, "01_xor: eval: %s\n", dl_ctx_message(ctx)); return 1; }
    for (i = 0; i < 4; i++) {
        float p = dl_get(out, i);
        int ok = (p > 0.5f) == (ys[i] > 0.5f);
        right += ok;
        printf("xor(%d, %d) = %.4f  (want %d)%s\n", (int)xs[2 * i], (int)xs[2 * i + 1],
               (double)p, (int)ys[i], ok ? "" : "  WRONG");
    }
    printf("accuracy %d%%\n", right * 25);
    dl_ctx_free(ctx);
    return right == 4 ? 0 : 1;
}
