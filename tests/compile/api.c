/* tests/compile/api.c - compile test: dl.h with its implementation, built as C99 and as
   C++11 by gcc, g++, clang and clang++ with -Werror (tests/run_all.sh), then run.
   -DAPI_NO_IMPL: use an implementation compiled elsewhere (C impl + C++ caller link). */
#ifndef API_NO_IMPL
#define DL_IMPLEMENTATION
#endif
#include "dl.h"
#include <string.h>

static int api_smoke(void) {
    static unsigned char mem[1 << 16];
    dl_ctx_desc d;
    dl_ctx *ctx;
    dl_tensor *a, *s;
    int ok;
    memset(&d, 0, sizeof d);
    d.memory = mem;
    d.memory_size = sizeof mem;
    ctx = dl_ctx_init(&d);
    if (!ctx) return 2;
    a = dl_full(ctx, dl_shape1(3), 2.0f);
    s = dl_sum_all(ctx, dl_add(ctx, a, a));            /* 3 * (2 + 2) = 12 */
    ok = dl_ctx_status(ctx) == DL_STATUS_OK && dl_item(s) == 12.0f &&
         strcmp(dl_version(), "0.1.0") == 0;
    dl_ctx_free(ctx);
    return ok ? 0 : 1;
}

int main(void) { return api_smoke(); }
