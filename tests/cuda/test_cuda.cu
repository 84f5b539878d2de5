/* tests/cuda/test_cuda.cu - the CUDA suite: every op forward and backward on the CUDA
   backend against the CPU backend in the same process, training steps, step replay,
   determinism.
     GPU:      nvcc -O2 -arch=sm_90 -I. tests/cuda/test_cuda.cu -o build/test_cuda -lcublas
     emulated: g++ -O1 -std=c++11 -DDLC_EMULATE -I. -x c++ tests/cuda/test_cuda.cu -o build/test_cuda_emu
   Without a GPU the real build prints "SKIP" and `0 passed, 0 failed` and exits 0. The
   emulated build runs the same kernels on the CPU (see EMULATION in dl_cuda.h).
   Every check prints `PASS name` or `FAIL name (...)`; the last line is `N passed, N failed`.
   Errors are normalized: max |gpu - cpu| / (max |cpu| + 1e-3), per op a threshold. */
#define DL_IMPLEMENTATION
#define DL_CUDA_IMPLEMENTATION
#include "dl.h"
#include "dl_cuda.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int g_pass, g_fail;
static dl_ctx *g_cpu, *g_gpu;
static const char *g_filter;   /* argv[1]: run only checks whose name contains it */

static void report(const char *name, int ok, const char *fmt, double a, double b) {
    char extra[200];
    snprintf(extra, sizeof extra, fmt, a, b);
    if (ok) { g_pass++; printf("PASS %s %s\n", name, extra); }
    else { g_fail++; printf("FAIL %s %s\n", name, extra); }
    fflush(stdout);
}
static double nerr(const float *g, const float *c, int64_t n) {
    double mx = 0.0, mc = 0.0; int64_t i;
    for (i = 0; i < n; i++) {
        double d = fabs((double)g[i] - (double)c[i]);
        if (d != d) return INFINITY;
        if (d > mx) mx = d;
        if (fabs((double)c[i]) > mc) mc = fabs((double)c[i]);
    }
    return mx / (mc + 1e-3);
}

/* ---- the op harness ----------------------------------------------------------------
   An op case builds its output from inputs made on each context from the same numbers.
   Input kinds: 'f' float N(0,1), 'p' positive float in [0.5, 2], 'u' float U(-1,1) with
   no grad, 'i' index in [0, range). Float inputs ('f', 'p') require grad. The backward
   seed dy is the same random tensor on both sides. */
#define MAXIN 6
typedef struct opcase {
    const char *name;
    int nin;
    dl_shape shape[MAXIN];
    char kind[MAXIN];
    int range[MAXIN];
    dl_tensor *(*build)(dl_ctx *ctx, dl_tensor **in, const struct opcase *c);
    int iarg[4];
    float farg[4];
    double tol;                 /* 0: 1e-5 */
    int no_backward;
} opcase;

static uint64_t g_rng = 88172645463325252ull;
static double urand(void) { g_rng ^= g_rng << 13; g_rng ^= g_rng >> 7; g_rng ^= g_rng << 17; return (double)(g_rng >> 11) * (1.0 / 9007199254740992.0); }
static float nrand(void) { double u1 = urand() + 1e-12, u2 = urand(); return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2)); }

typedef struct side { dl_tensor *in[MAXIN], *y; } side;
static int make_side(dl_ctx *ctx, const opcase *c, float **hv, int32_t **hi, side *s) {
    int k;
    for (k = 0; k < c->nin; k++) {
        if (c->kind[k] == 'i') s->in[k] = dl_index_tensor(ctx, c->shape[k], hi[k]);
        else {
            s->in[k] = dl_from_data(ctx, c->shape[k], hv[k]);
            if (c->kind[k] != 'u') dl_requires_grad(ctx, s->in[k], 1);
        }
    }
    s->y = c->build(ctx, s->in, c);
    return dl_ctx_status(ctx) == DL_STATUS_OK;
}
static int64_t numel_of(dl_shape s) { int64_t n = 1; int d; for (d = 0; d < s.ndim; d++) n *= s.d[d]; return n; }

static void run_case(const opcase *c) {
    float *hv[MAXIN] = {0}; int32_t *hi[MAXIN] = {0}; side a, b; int k, ok = 1;
    dl_mark ma = dl_ctx_mark(g_cpu), mb = dl_ctx_mark(g_gpu);
    double worst = 0.0, tol = c->tol > 0 ? c->tol : 1e-5; char name[512];
    if (g_filter && !strstr(c->name, g_filter)) return;
    for (k = 0; k < c->nin; k++) {
        int64_t n = numel_of(c->shape[k]), i;
        if (c->kind[k] == 'i') { hi[k] = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n ? n : 1)); for (i = 0; i < n; i++) hi[k][i] = (int32_t)(urand() * c->range[k]) % (c->range[k] ? c->range[k] : 1); }
        else {
            hv[k] = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1));
            for (i = 0; i < n; i++) hv[k][i] = c->kind[k] == 'p' ? (float)(0.5 + 1.5 * urand()) : c->kind[k] == 'u' ? (float)(2.0 * urand() - 1.0) : nrand();
        }
    }
    memset(&a, 0, sizeof a); memset(&b, 0, sizeof b);
    if (!make_side(g_cpu, c, hv, hi, &a)) { snprintf(name, sizeof name, "%s (cpu: %s)", c->name, dl_ctx_message(g_cpu)); report(name, 0, "", 0, 0); ok = -1; }
    else if (!make_side(g_gpu, c, hv, hi, &b)) { snprintf(name, sizeof name, "%s (cuda: %s)", c->name, dl_ctx_message(g_gpu)); report(name, 0, "", 0, 0); ok = -1; }
    if (ok == 1) {
        int64_t n = a.y->numel; float *ya = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1)), *yb = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1));
        double e;
        dl_copy_to(a.y, ya); dl_copy_to(b.y, yb);
        e = nerr(yb, ya, n); if (e > worst) worst = e;
        if (a.y->ndim != b.y->ndim || a.y->numel != b.y->numel) worst = INFINITY;
        if (!c->no_backward && a.y->requires_grad) {
            float *dy = (float *)malloc(sizeof(float) * (size_t)(n ? n : 1)); int64_t i;
            for (i = 0; i < n; i++) dy[i] = nrand();
            dl_backward_with(g_cpu, a.y, dy); dl_backward_with(g_gpu, b.y, dy);
            free(dy);
            if (dl_ctx_status(g_gpu)) { snprintf(name, sizeof name, "%s backward (cuda: %s)", c->name, dl_ctx_message(g_gpu)); report(name, 0, "", 0, 0); ok = -1; }
            for (k = 0; k < c->nin && ok == 1; k++) if (a.in[k]->grad) {
                int64_t m = a.in[k]->numel, j; float *ga = (float *)malloc(sizeof(float) * (size_t)m), *gb = (float *)malloc(sizeof(float) * (size_t)m);
                for (j = 0; j < m; j++) { ga[j] = dl_grad_get(a.in[k], j); gb[j] = dl_grad_get(b.in[k], j); }
                e = nerr(gb, ga, m); if (e > worst) worst = e;
                free(ga); free(gb);
            }
        }
        if (ok == 1) report(c->name, worst <= tol && dl_ctx_status(g_gpu) == DL_STATUS_OK, "(err %.2e, tol %.0e)", worst, tol);
        free(ya); free(yb);
    }
    for (k = 0; k < c->nin; k++) { free(hv[k]); free(hi[k]); }
    dl_ctx_clear_error(g_cpu); dl_ctx_clear_error(g_gpu);
    dl_ctx_rewind(g_cpu, ma); dl_ctx_rewind(g_gpu, mb);
}
#define S1(a) dl_shape1(a)
#define S2(a, b) dl_shape2(a, b)
#define S3(a, b, c) dl_shape3(a, b, c)
#define S4(a, b, c, d) dl_shape4(a, b, c, d)

#include "cases_core.h"
#include "cases_e.h"
/* >>cuda-case-files-A */
#include "cases_a.h"
/* >>cuda-case-files-B */
#include "cases_b.h"
/* >>cuda-case-files-C */
#include "cases_c.h"
/* >>cuda-case-files-D */
#include "cases_d.h"

#include "steps.h"

int main(int argc, char **argv) {
    dl_ctx_desc cd;
    g_filter = argc > 1 ? argv[1] : NULL;
    printf("# dl_cuda: %s\n", dl_cuda_device_name());
    if (!dl_cuda_available()) {
        printf("SKIP cuda suite: no CUDA device\n0 passed, 0 failed\n");
        return 0;
    }
    memset(&cd, 0, sizeof cd); cd.memory_size = (size_t)256 << 20; cd.seed = 7;
    g_cpu = dl_ctx_init(&cd);
    cd.backend = dl_cuda_backend();
    g_gpu = dl_ctx_init(&cd);
    if (!g_cpu || !g_gpu) { printf("FAIL context init (cpu %p, cuda %p)\n0 passed, 1 failed\n", (void *)g_cpu, (void *)g_gpu); return 1; }
    run_core_cases();
    run_e_cases();
    /* >>cuda-case-calls-A */
    run_a_cases();
    /* >>cuda-case-calls-B */
    run_b_cases();
    /* >>cuda-case-calls-C */
    run_c_cases();
    /* >>cuda-case-calls-D */
    run_d_cases();
    run_step_tests();
    dl_ctx_free(g_cpu); dl_ctx_free(g_gpu);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
