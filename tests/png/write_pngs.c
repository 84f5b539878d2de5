/* tests/png/write_pngs.c - writes PNGs with dl.h and the same pixels raw, for
   tests/png/check_png.py to decode independently (Python's zlib + struct) and compare.
   Usage: write_pngs DIR   -> DIR/{gray,rgb,big,grid}.png and .raw */
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int save_raw(const char *dir, const char *name, const unsigned char *p, size_t n, int w, int h, int c) {
    char path[512]; FILE *f;
    snprintf(path, sizeof path, "%s/%s.raw", dir, name);
    f = fopen(path, "wb");
    if (!f) return 1;
    fprintf(f, "%d %d %d\n", w, h, c);
    fwrite(p, 1, n, f);
    return fclose(f) != 0;
}
static int one(dl_ctx *ctx, const char *dir, const char *name, int w, int h, int c) {
    char path[512]; size_t n = (size_t)w * h * c, i; unsigned char *p = (unsigned char *)malloc(n); int bad;
    for (i = 0; i < n; i++) p[i] = (unsigned char)((i * 7u + i / 13u) & 0xffu);
    snprintf(path, sizeof path, "%s/%s.png", dir, name);
    bad = dl_write_png(ctx, path, p, w, h, c) != DL_STATUS_OK || save_raw(dir, name, p, n, w, h, c);
    free(p);
    return bad;
}
int main(int argc, char **argv) {
    dl_ctx_desc d; dl_ctx *ctx; dl_tensor *imgs; int bad = 0; int64_t i;
    const char *dir = argc > 1 ? argv[1] : ".";
    memset(&d, 0, sizeof d); d.memory_size = (size_t)8 << 20;
    ctx = dl_ctx_init(&d);
    bad |= one(ctx, dir, "gray", 5, 3, 1);
    bad |= one(ctx, dir, "rgb", 7, 4, 3);
    bad |= one(ctx, dir, "big", 300, 250, 3);          /* 225,250 bytes of rows: 4 stored blocks */
    /* a grid of 5 [1,4,3] images, values 0..1, 3 columns, 1-pixel gaps */
    imgs = dl_zeros(ctx, dl_shape4(5, 1, 4, 3));
    for (i = 0; i < imgs->numel; i++) imgs->data[i] = (float)(i % 12) / 11.0f;
    {
        char path[512]; unsigned char px[(2 * 5 + 1) * (3 * 4 + 1)]; int gw = 3 * 4 + 1, gh = 2 * 5 + 1, n, y, x;
        memset(px, 0, sizeof px);
        for (n = 0; n < 5; n++) for (y = 0; y < 4; y++) for (x = 0; x < 3; x++)
            px[((n / 3) * 5 + 1 + y) * gw + (n % 3) * 4 + 1 + x] = (unsigned char)((float)(y * 3 + x) / 11.0f * 255.0f + 0.5f);
        snprintf(path, sizeof path, "%s/grid.png", dir);
        bad |= dl_write_png_grid(ctx, path, imgs, 3, 0.0f, 1.0f) != DL_STATUS_OK;
        bad |= save_raw(dir, "grid", px, sizeof px, gw, gh, 1);
    }
    if (dl_ctx_status(ctx)) printf("%s\n", dl_ctx_message(ctx));
    dl_ctx_free(ctx);
    printf(bad ? "write_pngs: FAILED\n" : "write_pngs: wrote gray, rgb, big, grid\n");
    return bad;
}
