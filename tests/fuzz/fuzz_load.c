/* tests/fuzz/fuzz_load.c - libFuzzer target for the two parsers that read untrusted bytes:
   dl_load_mem (weights files) and dl_idx_load (IDX, plain or gzip, through a temp file).
   Any crash, leak or sanitizer report is a bug; bad input must only give a status.
   Run: make fuzz   (clang-14 -fsanitize=fuzzer,address,undefined; seeds in tests/data) */
#define DL_IMPLEMENTATION
#include "../../dl.h"
#include <stdio.h>

static unsigned char mem[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    dl_ctx_desc d; dl_ctx *ctx; dl_tensor *t[2]; const char *names[2] = {"w", "b"};
    FILE *f;
    memset(&d, 0, sizeof d); d.memory = mem; d.memory_size = sizeof mem;
    ctx = dl_ctx_init(&d);
    t[0] = dl_zeros(ctx, dl_shape2(3, 4)); t[1] = dl_zeros(ctx, dl_shape1(4));
    dl_load_mem(ctx, t, names, 2, data, size);
    dl_ctx_clear_error(ctx);
    f = fopen("build/fuzz_input.bin", "wb");
    if (f) {
        dl_idx idx;
        fwrite(data, 1, size, f); fclose(f);
        dl_idx_load(ctx, "build/fuzz_input.bin", &idx);
    }
    return 0;
}
