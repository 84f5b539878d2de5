/* tests/compile/nostdio.c - DL_NO_STDIO: the implementation must not include <stdio.h>
   (checked here) nor call stdio functions (tests/run_all.sh checks the object's symbols). */
#define DL_NO_STDIO
#define DL_IMPLEMENTATION
#include "dl.h"

#if defined(BUFSIZ) || defined(FILENAME_MAX)
#error "dl.h included <stdio.h> under DL_NO_STDIO"
#endif

int main(void) {
    static unsigned char mem[1 << 16];
    dl_ctx_desc d;
    dl_ctx *ctx;
    int ok;
    unsigned i;
    for (i = 0; i < sizeof d; i++) ((unsigned char *)&d)[i] = 0;
    d.memory = mem;
    d.memory_size = sizeof mem;
    ctx = dl_ctx_init(&d);
    if (!ctx) return 2;
    /* an error path formats a message: that must work without stdio too */
    dl_matmul(ctx, dl_zeros(ctx, dl_shape2(2, 3)), dl_zeros(ctx, dl_shape2(4, 5)));
    ok = dl_ctx_status(ctx) == DL_STATUS_SHAPE && dl_ctx_message(ctx)[0] != '\0';
    dl_ctx_free(ctx);
    return ok ? 0 : 1;
}
