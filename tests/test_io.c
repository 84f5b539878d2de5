/* tests/test_io.c - weights files (dl_save/dl_load and their _mem forms), IDX files
   (plain and gzip), metrics, dl_shuffle, dl_early_stop, dl_ema. Included by tests/main.c.
   Files: tests/data/tiny-idx3-ubyte{,.gz,.stored.gz,.fixed.gz} (made by
   tests/data/make_tiny_idx.py); temporary files go to /tmp/dl_test_io_<n>_*, removed after.
   Paths are relative to the repository root, where `make` runs the suite.              */
#include <stdlib.h>
#include <time.h>

static dl_ctx *io_ctx(size_t bytes) {
    dl_ctx_desc d; memset(&d, 0, sizeof d); d.memory_size = bytes; d.seed = 7; return dl_ctx_init(&d);
}
static int io_msg_has(dl_ctx *ctx, const char *needle) { return strstr(dl_ctx_message(ctx), needle) != NULL; }

/* a temp path unique to this process: a stack address (ASLR) and the time */
static char io_tmp_base[64];
static const char *io_tmp(const char *suffix) {
    static char path[128];
    if (!io_tmp_base[0]) {
        int local = 0;
        unsigned long u = (unsigned long)((uintptr_t)&local >> 4) ^ (unsigned long)time(NULL) ^ ((unsigned long)clock() << 16);
        snprintf(io_tmp_base, sizeof io_tmp_base, "/tmp/dl_test_io_%lx", u);
    }
    snprintf(path, sizeof path, "%s_%s", io_tmp_base, suffix);
    return path;
}
static int io_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb"); size_t w;
    if (!f) return 0;
    w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n;
}
/* whole file into malloc'd memory (caller frees); NULL if unreadable */
static unsigned char *io_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb"); unsigned char *p; long len;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    p = (unsigned char *)malloc((size_t)len + 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) { free(p); p = NULL; }
    fclose(f);
    *n = (size_t)len;
    return p;
}
/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32), bit by bit: the reference */
static uint32_t io_crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xffffffffu; size_t i; int k;
    for (i = 0; i < n; i++) { c ^= p[i]; for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u))); }
    return c ^ 0xffffffffu;
}
static void io_put32(unsigned char **q, uint32_t v) { int i; for (i = 0; i < 4; i++) *(*q)++ = (unsigned char)(v >> (8 * i)); }
static void io_put64(unsigned char **q, uint64_t v) { int i; for (i = 0; i < 8; i++) *(*q)++ = (unsigned char)(v >> (8 * i)); }
static void io_putf(unsigned char **q, float f) { uint32_t u; memcpy(&u, &f, 4); io_put32(q, u); }
static int io_same_bits(const dl_tensor *a, const dl_tensor *b) {
    return a->numel == b->numel && memcmp(a->data, b->data, (size_t)a->numel * sizeof(float)) == 0;
}

static const float k_io_w[6] = {1.5f, -2.0f, 0.25f, 3.0e-8f, -0.0f, 12345.678f};
static const float k_io_b[3] = {0.1f, -0.2f, 0.3f};

static void test_io_weights(void) {
    dl_ctx *ctx = io_ctx(1 << 20);
    dl_tensor *w = dl_from_data(ctx, dl_shape2(2, 3), k_io_w);
    dl_tensor *b = dl_from_data(ctx, dl_shape1(3), k_io_b);
    dl_tensor *w2 = dl_zeros(ctx, dl_shape2(2, 3)), *b2 = dl_zeros(ctx, dl_shape1(3));
    dl_tensor *ts[2], *ts2[2], *rev[2];
    const char *names[2] = {"fc.weight", "fc.bias"}, *rnames[2] = {"fc.bias", "fc.weight"};
    size_t size = 0, i, rejected = 0, other_status = 0;
    unsigned char *buf = NULL, *want = NULL;
    ts[0] = w; ts[1] = b; ts2[0] = w2; ts2[1] = b2; rev[0] = b2; rev[1] = w2;

    T_BEGIN("io: dl_save_size and dl_save_mem write the documented DLW1 layout byte for byte");
    size = dl_save_size(ts, names, 2);
    {   /* the layout of dl.h's >>api-io comment, written independently here */
        size_t n = 12 + (4 + 9 + 4 + 16 + 4 + 24) + (4 + 7 + 4 + 8 + 4 + 12) + 4;
        unsigned char *q;
        want = (unsigned char *)malloc(n);
        q = want;
        memcpy(q, "DLW1", 4); q += 4; io_put32(&q, 1); io_put32(&q, 2);
        io_put32(&q, 9); memcpy(q, "fc.weight", 9); q += 9; io_put32(&q, 2); io_put64(&q, 2); io_put64(&q, 3); io_put32(&q, 0);
        for (i = 0; i < 6; i++) io_putf(&q, k_io_w[i]);
        io_put32(&q, 7); memcpy(q, "fc.bias", 7); q += 7; io_put32(&q, 1); io_put64(&q, 3); io_put32(&q, 0);
        for (i = 0; i < 3; i++) io_putf(&q, k_io_b[i]);
        io_put32(&q, io_crc32(want, (size_t)(q - want)));
        T_EXPECT((size_t)(q - want) == n, "test's own layout: %ld bytes", (long)(q - want));
        T_EXPECT(size == n, "dl_save_size %ld, want %ld", (long)size, (long)n);
        buf = (unsigned char *)malloc(size ? size : 1);
        T_EXPECT(dl_save_mem(ts, names, 2, buf, size) == DL_STATUS_OK, "dl_save_mem failed");
        T_EXPECT(size == n && memcmp(buf, want, n) == 0, "bytes differ from the documented layout");
    }
    T_END();

    T_BEGIN("io: dl_save_mem into a buffer one byte short fails without writing past it");
    {
        unsigned char *small = (unsigned char *)malloc(size + 1);
        memset(small, 0xAB, size + 1);
        T_EXPECT(dl_save_mem(ts, names, 2, small, size - 1) != DL_STATUS_OK, "accepted cap = size - 1");
        T_EXPECT(small[size - 1] == 0xAB && small[size] == 0xAB, "wrote past cap");
        free(small);
    }
    T_END();

    T_BEGIN("io: dl_load_mem round trip is bit exact, in any name order");
    T_EXPECT(dl_load_mem(ctx, ts2, names, 2, buf, size) == DL_STATUS_OK, "status %s: %s", dl_status_name(dl_ctx_status(ctx)), dl_ctx_message(ctx));
    T_EXPECT(io_same_bits(w, w2) && io_same_bits(b, b2), "values differ after load");
    dl_fill(w2, 0.0f); dl_fill(b2, 0.0f);
    T_EXPECT(dl_load_mem(ctx, rev, rnames, 2, buf, size) == DL_STATUS_OK, "reversed order: %s", dl_ctx_message(ctx));
    T_EXPECT(io_same_bits(w, w2) && io_same_bits(b, b2), "values differ after reversed load");
    dl_fill(b2, 0.0f);
    T_EXPECT(dl_load_mem(ctx, rev, rnames, 1, buf, size) == DL_STATUS_OK && io_same_bits(b, b2), "a subset of the file's tensors: %s", dl_ctx_message(ctx));
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "context error after good loads: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("io: one flipped data byte is DL_STATUS_FORMAT naming the checksum");
    {
        unsigned char *bad = (unsigned char *)malloc(size);
        memcpy(bad, buf, size);
        bad[size - 4 - 5] ^= 0x01;   /* inside fc.bias's floats */
        dl_fill(b2, 7.0f);
        T_EXPECT(dl_load_mem(ctx, ts2, names, 2, bad, size) == DL_STATUS_FORMAT, "status %s", dl_status_name(dl_ctx_status(ctx)));
        T_EXPECT(io_msg_has(ctx, "checksum"), "message: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        memcpy(bad, buf, size); bad[size - 1] ^= 0x80;   /* the CRC itself */
        T_EXPECT(dl_load_mem(ctx, ts2, names, 2, bad, size) == DL_STATUS_FORMAT && io_msg_has(ctx, "checksum"), "bad CRC: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
        memcpy(bad, buf, size); bad[0] = 'X';             /* not our magic */
        T_EXPECT(dl_load_mem(ctx, ts2, names, 2, bad, size) == DL_STATUS_FORMAT, "bad magic: %s", dl_status_name(dl_ctx_status(ctx)));
        dl_ctx_clear_error(ctx);
        free(bad);
    }
    T_END();

    T_BEGIN("io: every truncated prefix (0..size-1 bytes) is DL_STATUS_FORMAT, never a crash");
    for (i = 0; i < size; i++) {
        /* an exact-size copy so ASan/valgrind catch any read past the prefix */
        unsigned char *pre = (unsigned char *)malloc(i ? i : 1);
        dl_status s;
        memcpy(pre, buf, i);
        s = dl_load_mem(ctx, ts2, names, 2, pre, i);
        if (s != DL_STATUS_OK) rejected++;
        if (s != DL_STATUS_FORMAT) { if (!other_status) T_EXPECT(0, "prefix of %ld bytes: status %s (%s)", (long)i, dl_status_name(s), dl_ctx_message(ctx)); other_status++; }
        dl_ctx_clear_error(ctx);
        free(pre);
    }
    T_EXPECT(rejected == size, "%ld of %ld prefixes accepted", (long)(size - rejected), (long)size);
    T_EXPECT(dl_load_mem(ctx, ts2, names, 2, NULL, 0) == DL_STATUS_FORMAT || dl_ctx_status(ctx) == DL_STATUS_INVALID, "NULL buffer: %s", dl_status_name(dl_ctx_status(ctx)));
    dl_ctx_clear_error(ctx); T_END();

    T_BEGIN("io: a tensor of another shape is DL_STATUS_SHAPE naming it");
    {
        dl_tensor *wt = dl_zeros(ctx, dl_shape2(3, 2)), *bad_ts[2];
        bad_ts[0] = wt; bad_ts[1] = b2;
        T_EXPECT(dl_load_mem(ctx, bad_ts, names, 2, buf, size) == DL_STATUS_SHAPE, "status %s", dl_status_name(dl_ctx_status(ctx)));
        T_EXPECT(io_msg_has(ctx, "fc.weight"), "message: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
    }
    T_END();

    T_BEGIN("io: a name the file lacks is an error naming it");
    {
        const char *missing[2] = {"fc.weight", "fc.gamma"};
        dl_status s = dl_load_mem(ctx, ts2, missing, 2, buf, size);
        T_EXPECT(s != DL_STATUS_OK && s == dl_ctx_status(ctx), "status %s", dl_status_name(s));
        T_EXPECT(io_msg_has(ctx, "fc.gamma"), "message: %s", dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
    }
    T_END();

    T_BEGIN("io: dl_save / dl_load through a file round trip; the file equals dl_save_mem's bytes");
    {
        const char *path = io_tmp("weights.dlw");
        unsigned char *file; size_t fn = 0;
        T_EXPECT(dl_save(ctx, ts, names, 2, path) == DL_STATUS_OK, "dl_save %s: %s", path, dl_ctx_message(ctx));
        file = io_read(path, &fn);
        T_EXPECT(file && fn == size && memcmp(file, buf, size) == 0, "file differs from dl_save_mem (%ld bytes)", (long)fn);
        dl_fill(w2, 0.0f); dl_fill(b2, 0.0f);
        T_EXPECT(dl_load(ctx, ts2, names, 2, path) == DL_STATUS_OK, "dl_load: %s", dl_ctx_message(ctx));
        T_EXPECT(io_same_bits(w, w2) && io_same_bits(b, b2), "values differ after file load");
        if (file && fn > 8) {   /* truncated on disk too */
            io_write(path, file, fn - 8);
            T_EXPECT(dl_load(ctx, ts2, names, 2, path) == DL_STATUS_FORMAT, "truncated file: %s", dl_status_name(dl_ctx_status(ctx)));
            dl_ctx_clear_error(ctx);
        }
        free(file);
        remove(path);
    }
    T_END();

    T_BEGIN("io: a missing file is DL_STATUS_IO naming the path; an unwritable one too");
    T_EXPECT(dl_load(ctx, ts2, names, 2, "/tmp/dl_test_io_no_such_dir/none.dlw") == DL_STATUS_IO, "status %s", dl_status_name(dl_ctx_status(ctx)));
    T_EXPECT(io_msg_has(ctx, "none.dlw"), "message: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_EXPECT(dl_save(ctx, ts, names, 2, "/tmp/dl_test_io_no_such_dir/out.dlw") == DL_STATUS_IO, "save: status %s", dl_status_name(dl_ctx_status(ctx)));
    dl_ctx_clear_error(ctx); T_END();

    free(buf); free(want);
    dl_ctx_free(ctx);
}

/* the bytes of tests/data/tiny-idx3-ubyte, from make_tiny_idx.py's formula */
static unsigned char io_tiny_byte(int i) { return (unsigned char)(((i / 8 % 8) * (i % 8) + 5 * (i / 64)) % 23 * 11); }
/* dl_idx_load expected to fail: returns its status, then frees what it took and clears the error */
static dl_status io_idx_try(dl_ctx *ctx, const char *path) {
    dl_idx idx; dl_mark mk = dl_ctx_mark(ctx); dl_status s;
    s = dl_idx_load(ctx, path, &idx);
    dl_ctx_rewind(ctx, mk);
    dl_ctx_clear_error(ctx);
    return s;
}

static void test_io_idx(void) {
    dl_ctx *ctx = io_ctx(1 << 20);
    static const char *const files[4] = {"tests/data/tiny-idx3-ubyte", "tests/data/tiny-idx3-ubyte.gz",
                                         "tests/data/tiny-idx3-ubyte.stored.gz", "tests/data/tiny-idx3-ubyte.fixed.gz"};
    unsigned char *gz; size_t gzn = 0, i;
    int f;

    for (f = 0; f < 4; f++) {
        dl_idx idx; dl_status s; int ok = 1; dl_mark mk = dl_ctx_mark(ctx);
        T_BEGIN(f == 0 ? "idx: plain tiny-idx3-ubyte [4,8,8] loads" : f == 1 ? "idx: gzip (dynamic Huffman) twin loads the same"
                : f == 2 ? "idx: gzip (stored blocks) twin loads the same" : "idx: gzip (fixed Huffman) twin loads the same");
        memset(&idx, 0, sizeof idx);
        s = dl_idx_load(ctx, files[f], &idx);
        T_EXPECT(s == DL_STATUS_OK, "%s: %s %s (run the suite from the repository root)", files[f], dl_status_name(s), dl_ctx_message(ctx));
        if (s == DL_STATUS_OK) {
            T_EXPECT(idx.ndim == 3 && idx.shape[0] == 4 && idx.shape[1] == 8 && idx.shape[2] == 8, "shape ndim %d [%ld,%ld,%ld]",
                     idx.ndim, (long)idx.shape[0], (long)idx.shape[1], (long)idx.shape[2]);
            T_EXPECT(idx.count == 256, "count %ld, want 256 (elements)", (long)idx.count);
            for (i = 0; i < 256 && idx.u8; i++) if (idx.u8[i] != io_tiny_byte((int)i)) { ok = 0; break; }
            T_EXPECT(idx.u8 && ok, "byte %ld: %d, want %d", (long)i, idx.u8 ? idx.u8[i < 256 ? i : 0] : -1, io_tiny_byte((int)i));
        }
        dl_ctx_rewind(ctx, mk); dl_ctx_clear_error(ctx); T_END();
    }

    T_BEGIN("idx: a file the test writes itself (idx1, 5 labels) loads");
    {
        static const unsigned char lab[13] = {0, 0, 8, 1, 0, 0, 0, 5, 9, 0, 3, 7, 1};
        const char *path = io_tmp("labels-idx1-ubyte");
        dl_idx idx; dl_status s;
        memset(&idx, 0, sizeof idx);
        T_EXPECT(io_write(path, lab, sizeof lab), "cannot write %s", path);
        s = dl_idx_load(ctx, path, &idx);
        T_EXPECT(s == DL_STATUS_OK && idx.ndim == 1 && idx.shape[0] == 5 && idx.u8 && memcmp(idx.u8, lab + 8, 5) == 0,
                 "status %s ndim %d shape0 %ld: %s", dl_status_name(s), idx.ndim, (long)idx.shape[0], dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);

        /* bad magic: first two bytes must be 0; type byte 0x08 (ubyte) */
        { static const unsigned char bad1[13] = {0x12, 0x34, 8, 1, 0, 0, 0, 5, 9, 0, 3, 7, 1};
          io_write(path, bad1, sizeof bad1);
          s = io_idx_try(ctx, path);
          T_EXPECT(s == DL_STATUS_FORMAT, "bad magic: %s", dl_status_name(s)); }
        { static const unsigned char bad2[13] = {0, 0, 8, 0, 0, 0, 0, 5, 9, 0, 3, 7, 1};   /* 0 dims */
          io_write(path, bad2, sizeof bad2);
          s = io_idx_try(ctx, path);
          T_EXPECT(s == DL_STATUS_FORMAT, "0 dims: %s", dl_status_name(s)); }
        /* the header promises 5 bytes, 3 are present; then headers cut short */
        io_write(path, lab, 11);
        s = io_idx_try(ctx, path);
        T_EXPECT(s == DL_STATUS_FORMAT, "short data: %s", dl_status_name(s));
        for (i = 0; i < 8; i++) {
            io_write(path, lab, i);
            s = io_idx_try(ctx, path);
            T_EXPECT(s == DL_STATUS_FORMAT, "header cut at %ld bytes: %s", (long)i, dl_status_name(s));
        }
        remove(path);
    }
    T_END();

    T_BEGIN("idx: a missing file is DL_STATUS_IO");
    { dl_status s = io_idx_try(ctx, "/tmp/dl_test_io_no_such_dir/x-idx3-ubyte.gz");
      T_EXPECT(s == DL_STATUS_IO, "status %s", dl_status_name(s)); }
    T_END();

    T_BEGIN("idx: corrupt gzip (flipped CRC, length, deflate data, every truncation) is DL_STATUS_FORMAT");
    gz = io_read(files[1], &gzn);
    T_EXPECT(gz && gzn > 20, "cannot read %s", files[1]);
    if (gz && gzn > 20) {
        const char *path = io_tmp("bad-idx3-ubyte.gz");
        unsigned char *bad = (unsigned char *)malloc(gzn);
        size_t where[3]; int k; size_t cut, bad_cuts = 0;
        where[0] = gzn - 8;       /* CRC-32 of the data  */
        where[1] = gzn - 4;       /* ISIZE               */
        where[2] = gzn / 2;       /* inside the deflate stream */
        for (k = 0; k < 3; k++) {
            dl_status s;
            memcpy(bad, gz, gzn); bad[where[k]] ^= 0x55;
            io_write(path, bad, gzn);
            s = io_idx_try(ctx, path);
            T_EXPECT(s == DL_STATUS_FORMAT, "byte %ld of %ld flipped: status %s", (long)where[k], (long)gzn, dl_status_name(s));
        }
        for (cut = 1; cut < gzn; cut++) {   /* cut = 0 is an empty file: also FORMAT */
            dl_status s;
            io_write(path, gz, gzn - cut);
            s = io_idx_try(ctx, path);
            if (s != DL_STATUS_FORMAT) { if (!bad_cuts) T_EXPECT(0, "gzip cut to %ld bytes: status %s", (long)(gzn - cut), dl_status_name(s)); bad_cuts++; }
        }
        T_EXPECT(bad_cuts == 0, "%ld truncations not rejected as FORMAT", (long)bad_cuts);
        free(bad);
        remove(path);
    }
    free(gz);
    T_END();
    dl_ctx_free(ctx);
}

static void test_io_metrics(void) {
    /* Reference values computed once with scikit-learn 1.2.1 (sklearn.metrics:
       confusion_matrix, precision_recall_fscore_support average='macro'/'micro',
       accuracy_score) on these 12 labels, and pasted here: */
    static const int32_t truth[12] = {0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2};
    static const int32_t pred[12] = {0, 1, 0, 1, 1, 2, 0, 2, 2, 1, 2, 0};
    static const int64_t want_cm[9] = {2, 1, 0, 1, 2, 1, 1, 1, 3};
    const double macro_p = 0.583333333, macro_r = 0.588888889, macro_f1 = 0.579365079; /* f1: mean of per-class f1 */
    const double micro = 0.583333333, acc = 0.5833333333333334;
    int64_t cm[9];
    dl_prf m;
    dl_ctx *ctx = io_ctx(1 << 16);
    int i;

    T_BEGIN("metrics: dl_confusion_matrix = sklearn confusion_matrix (rows truth, cols pred)");
    memset(cm, 0, sizeof cm);
    dl_confusion_matrix(pred, truth, 12, 3, cm);
    T_EXPECT(memcmp(cm, want_cm, sizeof cm) == 0, "cm %ld %ld %ld / %ld %ld %ld / %ld %ld %ld",
             (long)cm[0], (long)cm[1], (long)cm[2], (long)cm[3], (long)cm[4], (long)cm[5], (long)cm[6], (long)cm[7], (long)cm[8]);
    T_END();

    T_BEGIN("metrics: dl_prf_macro / dl_prf_micro = sklearn precision_recall_fscore_support");
    memcpy(cm, want_cm, sizeof cm);
    m = dl_prf_macro(cm, 3);
    T_EXPECT(fabs((double)m.precision - macro_p) < 1e-6 && fabs((double)m.recall - macro_r) < 1e-6 && fabs((double)m.f1 - macro_f1) < 1e-6,
             "macro p %.9g r %.9g f1 %.9g, want %.9g %.9g %.9g", (double)m.precision, (double)m.recall, (double)m.f1, macro_p, macro_r, macro_f1);
    m = dl_prf_micro(cm, 3);
    T_EXPECT(fabs((double)m.precision - micro) < 1e-6 && fabs((double)m.recall - micro) < 1e-6 && fabs((double)m.f1 - micro) < 1e-6,
             "micro p %.9g r %.9g f1 %.9g, want %.9g", (double)m.precision, (double)m.recall, (double)m.f1, micro);
    T_END();

    T_BEGIN("metrics: dl_accuracy = argmax over axis 1 vs labels (fraction), first max on ties");
    {
        float lg[12 * 3];
        dl_tensor *logits, *labels; float a;
        for (i = 0; i < 12; i++) {   /* logits whose argmax is pred[i] */
            lg[3 * i + 0] = 0.1f * (float)i; lg[3 * i + 1] = -0.5f; lg[3 * i + 2] = 0.0f;
            lg[3 * i + pred[i]] = 5.0f + (float)i;
        }
        logits = dl_from_data(ctx, dl_shape2(12, 3), lg);
        labels = dl_index_tensor(ctx, dl_shape1(12), truth);
        a = dl_accuracy(logits, labels);
        T_EXPECT(fabs((double)a - acc) < 1e-6, "accuracy %.9g, want %.9g", (double)a, acc);
        lg[0] = lg[1] = lg[2] = 1.0f;  /* a tie in row 0 (truth 0): the first max is class 0 */
        lg[3 * 1 + 0] = lg[3 * 1 + 1] = 2.0f; lg[3 * 1 + 2] = 0.0f;  /* row 1 (truth 0): tie 0/1 -> 0: now right */
        logits = dl_from_data(ctx, dl_shape2(12, 3), lg);
        a = dl_accuracy(logits, labels);
        T_EXPECT(fabs((double)a - 8.0 / 12.0) < 1e-6, "with ties %.9g, want %.9g", (double)a, 8.0 / 12.0);
    }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

static void test_io_shuffle(void) {
    dl_ctx *ctx = io_ctx(1 << 16);
    int32_t a[1000], b[1000], seen[1000];
    int i, is_perm = 1, same = 1, identity = 1, moved_a = 0;

    T_BEGIN("dl_shuffle: a permutation of 0..n-1, the same for the same seed, another for another");
    dl_ctx_seed(ctx, 123);
    dl_shuffle(ctx, a, 1000);
    memset(seen, 0, sizeof seen);
    for (i = 0; i < 1000; i++) {
        if (a[i] < 0 || a[i] >= 1000 || seen[a[i]]++) is_perm = 0;
        if (a[i] != i) identity = 0;
    }
    T_EXPECT(is_perm, "not a permutation");
    T_EXPECT(!identity, "identity permutation");
    dl_ctx_seed(ctx, 123);
    dl_shuffle(ctx, b, 1000);
    for (i = 0; i < 1000; i++) if (a[i] != b[i]) same = 0;
    T_EXPECT(same, "same seed, different permutation");
    dl_ctx_seed(ctx, 124);
    dl_shuffle(ctx, b, 1000);
    for (i = 0; i < 1000; i++) if (a[i] != b[i]) moved_a++;
    T_EXPECT(moved_a > 900, "seed 124 agrees with seed 123 at %d of 1000 places", 1000 - moved_a);
    dl_shuffle(ctx, b, 1); T_EXPECT(b[0] == 0, "n = 1: %d", b[0]);
    dl_shuffle(ctx, b, 0);   /* nothing to do, must not crash */
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();

    T_BEGIN("dl_shuffle: every order of 3 items appears, near uniformly (6000 draws)");
    {
        int count[6] = {0, 0, 0, 0, 0, 0}, ok = 1, bad = 0;
        for (i = 0; i < 6000; i++) {
            int32_t p[3];
            dl_shuffle(ctx, p, 3);
            if (p[0] + p[1] + p[2] != 3 || p[0] == p[1] || p[0] == p[2] || p[1] == p[2]) { bad++; continue; }
            count[p[0] * 2 + (p[1] > p[2])]++;
        }
        for (i = 0; i < 6; i++) if (count[i] < 850 || count[i] > 1150) ok = 0;  /* mean 1000, sd 29 */
        T_EXPECT(!bad && ok, "counts %d %d %d %d %d %d, %d bad", count[0], count[1], count[2], count[3], count[4], count[5], bad);
    }
    T_END();
    dl_ctx_free(ctx);
}

static void test_io_early_stop_ema(void) {
    dl_ctx *ctx = io_ctx(1 << 16);
    dl_tensor *p = dl_zeros(ctx, dl_shape1(3)), *q = dl_zeros(ctx, dl_shape1(2)), *ps[2];
    ps[0] = p; ps[1] = q;

    T_BEGIN("dl_early_stop: stops after `patience` epochs without improvement, restores the best params");
    {
        /* mode min (a loss): 1.0, 0.5 (best), then 0.6, 0.7, 0.8 = 3 bad epochs, patience 3 */
        static const float metric[5] = {1.0f, 0.5f, 0.6f, 0.7f, 0.8f};
        dl_early_stop es;
        int e, stop = 0, stopped_at = -1;
        dl_early_stop_init(ctx, &es, ps, 2, 3, 0);
        for (e = 0; e < 5 && !stop; e++) {
            dl_fill(p, (float)(e + 1)); dl_fill(q, -(float)(e + 1));   /* "training" changes the params */
            stop = dl_early_stop_update(&es, metric[e]);
            if (stop) stopped_at = e;
        }
        T_EXPECT(stopped_at == 4, "stopped at epoch index %d, want 4", stopped_at);
        T_EXPECT(es.best_metric == 0.5f, "best metric %g", (double)es.best_metric);
        dl_early_stop_restore(&es);
        T_EXPECT(dl_get(p, 0) == 2.0f && dl_get(p, 2) == 2.0f && dl_get(q, 1) == -2.0f, "restored %g %g, want 2 -2",
                 (double)dl_get(p, 0), (double)dl_get(q, 1));
        /* mode max (an accuracy): improvements reset the count */
        dl_early_stop_init(ctx, &es, ps, 2, 2, 1);
        T_EXPECT(!dl_early_stop_update(&es, 0.5f) && !dl_early_stop_update(&es, 0.4f) && !dl_early_stop_update(&es, 0.6f) &&
                 !dl_early_stop_update(&es, 0.55f) && dl_early_stop_update(&es, 0.59f), "mode max: wrong stop point");
    }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();

    T_BEGIN("dl_ema: 3 updates match shadow = d*shadow + (1-d)*param; swap exchanges");
    {
        static const float p0[3] = {1.0f, -2.0f, 0.5f}, q0[2] = {4.0f, 0.0f};
        const float d = 0.9f;
        float sp[3], sq[2];
        dl_ema e;
        int k, i, ok = 1;
        dl_copy_from(p, p0); dl_copy_from(q, q0);
        dl_ema_init(ctx, &e, ps, 2, d);
        for (i = 0; i < 3; i++) sp[i] = p0[i];
        for (i = 0; i < 2; i++) sq[i] = q0[i];
        for (k = 1; k <= 3; k++) {
            for (i = 0; i < 3; i++) p->data[i] = p0[i] + (float)k * 0.25f;
            for (i = 0; i < 2; i++) q->data[i] = q0[i] - (float)k;
            dl_ema_update(&e);
            for (i = 0; i < 3; i++) sp[i] = d * sp[i] + (1.0f - d) * p->data[i];
            for (i = 0; i < 2; i++) sq[i] = d * sq[i] + (1.0f - d) * q->data[i];
        }
        for (i = 0; i < 3; i++) if (fabsf(dl_get(e.shadow[0], i) - sp[i]) > 1e-6f) ok = 0;
        for (i = 0; i < 2; i++) if (fabsf(dl_get(e.shadow[1], i) - sq[i]) > 1e-6f) ok = 0;
        T_EXPECT(ok, "shadow %g %g, want %g %g", (double)dl_get(e.shadow[0], 0), (double)dl_get(e.shadow[1], 0), (double)sp[0], (double)sq[0]);
        dl_ema_swap(&e);
        T_EXPECT(fabsf(dl_get(p, 1) - sp[1]) < 1e-6f && dl_get(e.shadow[0], 1) == p0[1] + 0.75f, "after swap p %g shadow %g",
                 (double)dl_get(p, 1), (double)dl_get(e.shadow[0], 1));
        dl_ema_swap(&e);
        T_EXPECT(dl_get(p, 1) == p0[1] + 0.75f && dl_get(q, 0) == q0[0] - 3.0f, "swap back: %g", (double)dl_get(p, 1));
    }
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

/* PNG: sizes, bad input, the arena rule; the pixels are checked by an independent decoder
   in tests/png (Python's zlib), run by the compile leg of tests/run_all.sh */
static void test_io_png(void) {
    unsigned char px[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, buf[256];
    dl_ctx *ctx = io_ctx(1 << 16); dl_tensor *t;
    T_BEGIN("png: sizes, encoder errors, writer and grid errors");
    /* 8 sig + 25 IHDR + 12 + (2 + 3*(1+4) + 5 + 4) IDAT + 12 IEND */
    T_EXPECT(dl_png_size(4, 3, 1) == 8 + 25 + 12 + 26 + 12, "size %zu", dl_png_size(4, 3, 1));
    T_EXPECT(dl_png_size(0, 3, 1) == 0 && dl_png_size(4, 3, 2) == 0 && dl_png_size(4, -1, 3) == 0, "invalid sizes give 0");
    T_EXPECT(dl_png_size(70000, 1, 1) == 8 + 25 + 12 + (2 + 70001 + 5 * 2 + 4) + 12, "two stored blocks: %zu", dl_png_size(70000, 1, 1));
    T_EXPECT(dl_png_encode(px, 4, 3, 1, buf, sizeof buf) == DL_STATUS_OK && buf[1] == 'P' && buf[12] == 'I', "encode");
    T_EXPECT(dl_png_encode(px, 4, 3, 1, buf, 10) == DL_STATUS_OOM, "short buffer is OOM");
    T_EXPECT(dl_png_encode(NULL, 4, 3, 1, buf, sizeof buf) == DL_STATUS_INVALID, "NULL pixels");
    T_EXPECT(dl_write_png(ctx, "/nonexistent-dir/x.png", px, 4, 3, 1) == DL_STATUS_IO && strstr(dl_ctx_message(ctx), "cannot open"), "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    T_EXPECT(dl_write_png(ctx, "x.png", px, 4, 3, 2) == DL_STATUS_INVALID, "2 channels rejected: %s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    t = dl_zeros(ctx, dl_shape2(2, 10));
    T_EXPECT(dl_write_png_grid(ctx, "x.png", t, 2, 0.0f, 1.0f) == DL_STATUS_SHAPE && strstr(dl_ctx_message(ctx), "not square"), "%s", dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    dl_ctx_free(ctx);
    ctx = io_ctx(300000);
    t = dl_zeros(ctx, dl_shape4(1, 1, 250, 250));   /* 250 KB: the grid's pixels do not fit what is left */
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_write_png_grid(ctx, "x.png", t, 1, 0.0f, 1.0f) == DL_STATUS_OOM && strstr(dl_ctx_message(ctx), "dl_write_png_grid"), "arena too small: %s", dl_ctx_message(ctx));
    T_END();
    dl_ctx_free(ctx);
}

static void suite_io(void) {
    test_io_png();
    test_io_weights();
    test_io_idx();
    test_io_metrics();
    test_io_shuffle();
    test_io_early_stop_ema();
}
