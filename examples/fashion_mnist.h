/* examples/fashion_mnist.h - the one Fashion-MNIST loader (and clock) the examples share (include it
   after dl.h with DL_IMPLEMENTATION). Debian's dataset-fashion-mnist puts the four .gz
   IDX files in /usr/share/datasets/fashion-mnist; dl_idx_load reads the gzip directly. */
#ifndef FASHION_MNIST_H
#define FASHION_MNIST_H
#include <stdio.h>
#include <time.h>

/* seconds on a monotonic clock, for the examples' per-epoch timings (needs _POSIX_C_SOURCE) */
static double fm_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}


/* loads DIR/NAME into *out; prints why (as PROG: ...) and returns 0 when it cannot */
static int fm_load(dl_ctx *ctx, const char *prog, const char *dir, const char *name, dl_idx *out) {
    char path[1024];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: missing %s\n"
                        "  install Fashion-MNIST with: sudo apt-get install dataset-fashion-mnist\n", prog, path);
        return 0;
    }
    fclose(f);
    if (dl_idx_load(ctx, path, out)) { fprintf(stderr, "%s: %s: %s\n", prog, path, dl_ctx_message(ctx)); return 0; }
    return 1;
}
#endif
