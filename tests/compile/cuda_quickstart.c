/* tests/compile/cuda_quickstart.c - the program of README.md's "GPU: dl_cuda.h" section (and
   dl_cuda.h's top comment), built by tests/run_all.sh's cuda leg against a separate
   dl_cuda.o, as the README's build lines say. Prints "ctx" on a GPU, "no GPU" otherwise. */
#define DL_IMPLEMENTATION
#include "dl.h"
#include "dl_cuda.h"
#include <stdio.h>
int main(void) {
    dl_ctx_desc cd = {0};
    cd.memory_size = 256 << 20;
    cd.backend = dl_cuda_backend();   /* the only difference from a CPU program */
    dl_ctx *ctx = dl_ctx_init(&cd);   /* NULL when there is no usable GPU */
    printf("%s\n", ctx ? "ctx" : "no GPU");
    dl_ctx_free(ctx);
    return 0;
}
