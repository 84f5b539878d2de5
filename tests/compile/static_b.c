/* tests/compile/static_b.c - second translation unit of the DL_STATIC test (see
   static_a.c): the same functions again, static, with no clash at link time. */
#define DL_STATIC
#define DL_IMPLEMENTATION
#include "dl.h"

int static_a_run(void);

static int static_b_run(void) {
    static unsigned char mem[1 << 16];
    dl_ctx_desc d = {0};
    dl_ctx *ctx;
    int ok;
    d.memory = mem;
    d.memory_size = sizeof mem;
    ctx = dl_ctx_init(&d);
    if (!ctx) return 0;
    ok = dl_item(dl_sum_all(ctx, dl_full(ctx, dl_shape1(4), 0.5f))) == 2.0f &&
         dl_ctx_status(ctx) == DL_STATUS_OK;
    dl_ctx_free(ctx);
    return ok;
}

int main(void) { return static_a_run() && static_b_run() ? 0 : 1; }
