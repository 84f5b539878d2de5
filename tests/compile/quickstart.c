/* tests/compile/quickstart.c - the 12-line program from the top comment of dl.h, copied
   verbatim between the BEGIN and END lines. tests/run_all.sh builds and runs it, and checks
   that the copy still matches dl.h, so the documented program cannot go stale. */
#include <stdio.h>
#define DL_IMPLEMENTATION
#include "dl.h"

int main(void) {
    /* BEGIN quickstart */
    static char mem[1 << 20];
    dl_ctx_desc d = {0}; d.memory = mem; d.memory_size = sizeof mem;
    dl_ctx *ctx = dl_ctx_init(&d);
    dl_tensor *w = dl_uniform(ctx, dl_shape2(1, 2), -1.f, 1.f);
    dl_requires_grad(ctx, w, 1);                      // a parameter: grad lives with it
    float xs[8] = {0,0, 0,1, 1,0, 1,1}, ys[4] = {1,3,2,4};  // y = 1 + x0 + 2 x1, no bias: fits badly
    dl_mark step = dl_ctx_mark(ctx);                  // everything after this is step scratch
    for (int it = 0; it < 100; it++) {
        dl_tensor *y = dl_matmul_ex(ctx, dl_from_data(ctx, dl_shape2(4, 2), xs), w, DL_TRANS_B);
        dl_tensor *loss = dl_mean_all(ctx, dl_square(ctx, dl_sub(ctx, y, dl_from_data(ctx, dl_shape2(4, 1), ys))));
        dl_zero_grad(w); dl_backward(ctx, loss);
        for (int i = 0; i < 2; i++) w->data[i] -= 0.1f * w->grad[i];
        dl_ctx_rewind(ctx, step); }                   // O(1): frees the whole step
    if (dl_ctx_status(ctx)) puts(dl_ctx_message(ctx)); // errors never crash: check once
    /* END quickstart */
    return dl_ctx_status(ctx) == DL_STATUS_OK ? 0 : 1;
}
