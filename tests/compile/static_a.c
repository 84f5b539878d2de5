/* tests/compile/static_a.c - DL_STATIC: each translation unit gets its own private copy
   of the implementation. Linked with static_b.c into one program (tests/run_all.sh). */
#define DL_STATIC
#define DL_IMPLEMENTATION
#include "dl.h"

int static_a_run(void);

int static_a_run(void) {
    static unsigned char mem[1 << 16];
    dl_ctx_desc d = {0};
    dl_ctx *ctx;
    int ok;
    d.memory = mem;
    d.memory_size = sizeof mem;
    ctx = dl_ctx_init(&d);
    if (!ctx) return 0;
    ok = dl_item(dl_sum_all(ctx, dl_ones(ctx, dl_shape2(2, 3)))) == 6.0f &&
         dl_ctx_status(ctx) == DL_STATUS_OK;
    dl_ctx_free(ctx);
    return ok;
}
