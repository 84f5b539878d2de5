/* bench/gemm.c - dl.h's GEMM (through dl_matmul_ex) against OpenBLAS's cblas_sgemm, same
   process, same matrices, interleaved, one thread. Prints one line per case:
     gemm m=.. n=.. k=.. trans=.. threads=1 isa=.. dl_gflops=.. openblas_gflops=.. ratio=..
   ratio = dl / openblas (higher is better for dl.h). Median of `reps` timed runs each.
   Usage: bench_gemm [isa] [threads]   (threads: dl.h's pool and OpenBLAS's, default 1)
   Build and run (make bench does this):
     cc -O2 -march=native -I. bench/gemm.c -o build/bench_gemm -lopenblas -lm
     env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE ./build/bench_gemm [isa] [threads]
   isa: auto (default), portable, sse2, avx2, avx512 (a cap, as dl_ctx_desc.isa).
   The OpenBLAS kernel set it uses is printed from openblas_get_config().
   With -DBENCH_ONEDNN -ldnnl (libdnnl-dev; make bench adds them when /usr/include/dnnl.h
   exists) oneDNN's dnnl_sgemm runs in the same rounds: onednn_gflops=.. onednn_ratio=..
   (dl / oneDNN). First it measures the FMA peak of one core with a register-only loop of
   the widest vector FMA this CPU has (12 independent accumulators); each line then gives
   dl_peak_pct, dl.h's share of it. */
#define _POSIX_C_SOURCE 199309L
#define DL_IMPLEMENTATION
#include "dl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef BENCH_ONEDNN
#include <dnnl.h>
#endif
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#ifndef BENCH_NO_OPENBLAS
#include <cblas.h>
extern char *openblas_get_config(void);
extern char *openblas_get_corename(void);
#else   /* dl.h alone (a machine without OpenBLAS): the peer columns read 0 */
enum { CblasRowMajor, CblasNoTrans, CblasTrans };
static void cblas_sgemm(int o, int ta, int tb, int m, int n, int k, float al, const float *a, int lda, const float *b, int ldb, float be, float *c, int ldc) {
    (void)o; (void)ta; (void)tb; (void)m; (void)n; (void)k; (void)al; (void)a; (void)lda; (void)b; (void)ldb; (void)be; (void)c; (void)ldc;
}
static char *openblas_get_config(void) { return (char *)"(none: BENCH_NO_OPENBLAS)"; }
static char *openblas_get_corename(void) { return (char *)"-"; }
static void openblas_set_num_threads(int t) { (void)t; }
#endif

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec; }
static int cmpd(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

/* GFLOP/s of a register-only FMA loop: 12 independent accumulators (more than latency x
   ports on current cores), the best of 5 runs of ~0.1 s; *what names the vector width */
#if defined(__x86_64__)
/* twelve named accumulators (an array may live in memory at -O2); one body for both widths */
#define FMA12(F, P, Q) F(0, P, Q) F(1, P, Q) F(2, P, Q) F(3, P, Q) F(4, P, Q) F(5, P, Q) \
                       F(6, P, Q) F(7, P, Q) F(8, P, Q) F(9, P, Q) F(10, P, Q) F(11, P, Q)
#define DECL(j, SET1, V) V a##j = SET1((float)j);
#define STEP(j, FMA, U) a##j = FMA(a##j, x, y);
#define SUM(j, ADD, U) s = ADD(s, a##j);
#define FMA_LOOP(NAME, ATTR, V, W, SET1, FMA, ADD, STOREU)                                          \
ATTR static double NAME(long iters) {                                                               \
    const V x = SET1(1.0000001f), y = SET1(0.9999999f); V s = SET1(0.0f); float out[W]; double t; long i; \
    FMA12(DECL, SET1, V)                                                                            \
    t = now();                                                                                      \
    for (i = 0; i < iters; i++) { FMA12(STEP, FMA, 0) }                                             \
    t = now() - t;                                                                                  \
    FMA12(SUM, ADD, 0)                                                                              \
    STOREU(out, s); if (out[0] == 12345.0f) printf("#\n");   /* keeps the loop */               \
    return 2.0 * W * 12 * (double)iters / t * 1e-9;                                                 \
}
FMA_LOOP(fma_avx2, __attribute__((target("avx2,fma"))), __m256, 8, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps)
FMA_LOOP(fma_avx512, __attribute__((target("avx512f"))), __m512, 16, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps)
#endif
static double fma_peak(const char **what) {
    double best = 0.0; int r;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) { *what = "avx512"; for (r = 0; r < 5; r++) { double g = fma_avx512(2000000); if (g > best) best = g; } return best; }
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { *what = "avx2+fma"; for (r = 0; r < 5; r++) { double g = fma_avx2(4000000); if (g > best) best = g; } return best; }
#endif
    (void)r; *what = "none measured"; return best;
}

int main(int argc, char **argv) {
    /* square sizes, then W1's (M = batch 128): forward Y = X W^T, dW = G^T X, dX = G W */
    static const struct { int m, n, k, tr; } cs[] = {
        {128, 128, 128, 0}, {256, 256, 256, 0}, {512, 512, 512, 0}, {1024, 1024, 1024, 0}, {2048, 2048, 2048, 0},
        {128, 512, 784, DL_TRANS_B}, {512, 784, 128, DL_TRANS_A}, {128, 784, 512, 0},
        {128, 256, 512, DL_TRANS_B}, {256, 512, 128, DL_TRANS_A}, {128, 512, 256, 0},
        {128, 10, 256, DL_TRANS_B}, {10, 256, 128, DL_TRANS_A}, {128, 256, 10, 0},
    };
    int isa = DL_ISA_AUTO, c, threads = argc > 2 ? atoi(argv[2]) : 1; double peak; const char *peak_what = "";
    dl_ctx_desc d; dl_ctx *ctx;
    if (argc > 1) {
        if (!strcmp(argv[1], "portable")) isa = DL_ISA_PORTABLE; else if (!strcmp(argv[1], "sse2")) isa = DL_ISA_SSE2;
        else if (!strcmp(argv[1], "avx2")) isa = DL_ISA_AVX2; else if (!strcmp(argv[1], "avx512")) isa = DL_ISA_AVX512;
        else if (!strcmp(argv[1], "reference")) isa = DL_ISA_REFERENCE;
    }
    if (threads < 1) threads = 1;
    memset(&d, 0, sizeof d); d.memory_size = (size_t)200 << 20; d.isa = isa; d.threads = threads;
    ctx = dl_ctx_init(&d);
    if (!ctx) { fprintf(stderr, "no memory\n"); return 1; }
    printf("# dl.h %s, kernel set %s; OpenBLAS %s (core %s); %d thread(s) each\n", dl_version(), dl_isa_name(dl_ctx_isa(ctx)),
           openblas_get_config(), openblas_get_corename(), threads);
#ifdef BENCH_ONEDNN
    { const dnnl_version_t *v = dnnl_version(); printf("# oneDNN %d.%d.%d (dnnl_sgemm, its own threads: DNNL/OMP defaults)\n", v->major, v->minor, v->patch); }
#endif
    peak = fma_peak(&peak_what);
    printf("# FMA peak of one core (register-only %s loop): %.1f GFLOP/s\n", peak_what, peak);
    openblas_set_num_threads(threads);
    for (c = 0; c < (int)(sizeof cs / sizeof cs[0]); c++) {
        const int m = cs[c].m, n = cs[c].n, k = cs[c].k, tr = cs[c].tr;
        const double flop = 2.0 * m * n * k;
        int reps = flop > 4e9 ? 5 : flop > 2e8 ? 15 : 60, inner = flop < 5e7 ? (int)(5e7 / flop) + 1 : 1, r, i;
        double td[64], to[64], tn[64];
        dl_mark mk = dl_ctx_mark(ctx);
        dl_tensor *a = (tr & DL_TRANS_A) ? dl_uniform(ctx, dl_shape2(k, m), -1, 1) : dl_uniform(ctx, dl_shape2(m, k), -1, 1);
        dl_tensor *b = (tr & DL_TRANS_B) ? dl_uniform(ctx, dl_shape2(n, k), -1, 1) : dl_uniform(ctx, dl_shape2(k, n), -1, 1);
        float *co = (float *)malloc(sizeof(float) * (size_t)m * n);
        for (r = 0; r < reps + 1; r++) {   /* first round is warm-up */
            double t0 = now();
            for (i = 0; i < inner; i++) { dl_mark m2 = dl_ctx_mark(ctx); dl_matmul_ex(ctx, a, b, tr); dl_ctx_rewind(ctx, m2); }
            t0 = (now() - t0) / inner;
            {
                double t1 = now();
                for (i = 0; i < inner; i++)
                    cblas_sgemm(CblasRowMajor, (tr & DL_TRANS_A) ? CblasTrans : CblasNoTrans, (tr & DL_TRANS_B) ? CblasTrans : CblasNoTrans,
                                m, n, k, 1.0f, a->data, (tr & DL_TRANS_A) ? m : k, b->data, (tr & DL_TRANS_B) ? k : n, 0.0f, co, n);
                t1 = (now() - t1) / inner;
                if (r) { td[r - 1] = t0; to[r - 1] = t1; tn[r - 1] = 0.0; }
            }
            {
#ifdef BENCH_ONEDNN
                double t2 = now();
                for (i = 0; i < inner; i++)
                    dnnl_sgemm((tr & DL_TRANS_A) ? 'T' : 'N', (tr & DL_TRANS_B) ? 'T' : 'N', m, n, k, 1.0f, a->data, (tr & DL_TRANS_A) ? m : k,
                               b->data, (tr & DL_TRANS_B) ? k : n, 0.0f, co, n);
                t2 = (now() - t2) / inner;
                if (r) tn[r - 1] = t2;
#endif
            }
        }
        if (dl_ctx_status(ctx)) { fprintf(stderr, "%s\n", dl_ctx_message(ctx)); return 1; }
        qsort(td, (size_t)reps, sizeof(double), cmpd); qsort(to, (size_t)reps, sizeof(double), cmpd); qsort(tn, (size_t)reps, sizeof(double), cmpd);
#ifdef BENCH_NO_OPENBLAS
        to[reps / 2] = 0.0;
#endif
        printf("gemm m=%d n=%d k=%d trans=%s threads=%d isa=%s dl_gflops=%.1f openblas_gflops=%.1f ratio=%.2f", m, n, k,
               tr == DL_TRANS_A ? "A" : tr == DL_TRANS_B ? "B" : "none", threads, dl_isa_name(dl_ctx_isa(ctx)),
               flop / td[reps / 2] * 1e-9, to[reps / 2] > 0 ? flop / to[reps / 2] * 1e-9 : 0.0, to[reps / 2] / td[reps / 2]);
        if (tn[reps / 2] > 0) printf(" onednn_gflops=%.1f onednn_ratio=%.2f", flop / tn[reps / 2] * 1e-9, tn[reps / 2] / td[reps / 2]);
        if (peak > 0) printf(" dl_peak_pct=%.0f", 100.0 * flop / td[reps / 2] * 1e-9 / (peak * threads));
        printf("\n");
        fflush(stdout);
        free(co);
        dl_ctx_rewind(ctx, mk);
    }
    dl_ctx_free(ctx);
    return 0;
}
