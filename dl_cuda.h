/* dl_cuda.h - the CUDA backend for dl.h                                 v0.1.0
   The same API on an NVIDIA GPU: set one field and nothing else changes.

       dl_ctx_desc cd = {0};
       cd.memory_size = 256 << 20;
       cd.backend = dl_cuda_backend();        <- the only line that differs from the CPU
       dl_ctx *ctx = dl_ctx_init(&cd);        <- NULL when there is no usable GPU

   BUILD. One .cu file holds the implementation:
       // dl_cuda.cu
       #define DL_CUDA_IMPLEMENTATION
       #include "dl_cuda.h"
       nvcc -O2 -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -c dl_cuda.cu
   Any C file includes dl_cuda.h for the declarations (no CUDA headers needed); the one with
   DL_IMPLEMENTATION links against it:
       cc -O2 main.c dl_cuda.o -L/usr/local/cuda/lib64 -lcudart -lcublas -lstdc++ -lm
   A .cu file may also hold both implementations (examples/14_cuda_mlp.cu does).

   WHAT RUNS WHERE (see BACKENDS in dl.h). The context takes one device block, the twin of
   its arena; tensors live on the device and the host copy is refreshed only on a read
   (dl_item, dl_get, dl_copy_to, dl_download). Every op with a kernel here runs on the GPU,
   in order, on one stream; GEMMs go to cuBLAS. An op without a kernel fails with
   DL_STATUS_UNSUPPORTED and its name. dl_step_run captures a training step as a CUDA graph
   and replays it.

   MEMORY. One device block per context (cudaMalloc at dl_ctx_init, the arena's twin);
   cuBLAS's 8 MiB workspace is carved from its start when the arena is at least 32 MiB
   (below that cuBLAS uses its own default workspace). The host arena is pinned
   (cudaMallocHost) unless desc.memory is given. cuBLAS's handle and the stream keep their
   own small allocations.

   DETERMINISM. desc.deterministic = 1: every kernel that would add with atomics in a varying
   order (embedding, index_select and gather backward, max-pool backward) uses an ordered
   loop instead, so two runs give the same bits. cuBLAS is deterministic for a given GPU and
   library version. The cost is measured by bench/cuda_workloads.c (README).

   EMULATION. Compiled as C++ with DLC_EMULATE defined (no CUDA at all), the same kernels
   run on the CPU, one thread per block, and graphs are recorded and replayed as closures.
   The CUDA suite runs that way in CI, where there is no GPU; it checks the logic of every
   kernel and of step capture, not the GPU's parallel execution.

   License: MIT, at the end of this file. */
#ifndef DL_CUDA_H
#define DL_CUDA_H
#include "dl.h"
#ifdef __cplusplus
extern "C" {
#endif
DLDEF const dl_backend *dl_cuda_backend(void);   /* the table (never NULL)              */
DLDEF int dl_cuda_available(void);               /* 1: a device this build can run on    */
DLDEF const char *dl_cuda_device_name(void);     /* "NVIDIA H100 80GB HBM3", "emulated" */
#ifdef __cplusplus
}
#endif
#endif /* DL_CUDA_H */

#if defined(DL_CUDA_IMPLEMENTATION) && !defined(DL_CUDA__DONE)
#define DL_CUDA__DONE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <stdint.h>

/* ======================================================================================
   >>cuda-portability  the few CUDA runtime pieces used, real or emulated
   ====================================================================================== */
#if defined(DLC_EMULATE)
#include <stdlib.h>
#include <vector>
#include <functional>
struct dlc_dim3 { unsigned x, y, z; dlc_dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {} };
typedef dlc_dim3 dim3;
static dim3 threadIdx(0, 0, 0), blockIdx(0, 0, 0), blockDim(1, 1, 1), gridDim(1, 1, 1);
#define __global__ static inline
#define __device__ static inline
#define __host__
#define __forceinline__
#define __shared__ static
#define __restrict__
#define __syncthreads() ((void)0)
static inline float atomicAdd(float *p, float v) { float o = *p; *p = o + v; return o; }
static inline int atomicOr(int *p, int v) { int o = *p; *p = o | v; return o; }
typedef std::vector<std::function<void()> > dlc_emu_graph;
static dlc_emu_graph *dlc_emu_capture = NULL;                  /* non-NULL while capturing */
static void dlc_emu_run(const dim3 &g, const std::function<void()> &f) {
    gridDim = g; blockDim = dim3(1, 1, 1); threadIdx = dim3(0, 0, 0);
    for (unsigned z = 0; z < g.z; z++) for (unsigned y = 0; y < g.y; y++) for (unsigned x = 0; x < g.x; x++) {
        blockIdx = dim3(x, y, z); f();
    }
}
static void dlc_emu_launch(dim3 g, std::function<void()> f) {
    if (dlc_emu_capture) dlc_emu_capture->push_back([g, f]() { dlc_emu_run(g, f); });
    else dlc_emu_run(g, f);
}
static void dlc_emu_do(std::function<void()> f) { if (dlc_emu_capture) dlc_emu_capture->push_back(f); else f(); }
/* kernel<<<grid, block, 0, stream>>>(args...) */
#define DLC_LAUNCH(kern, grid, block, S, ...) ((void)(S), (void)(block), dlc_emu_launch((grid), [=]() { kern(__VA_ARGS__); }))
#else
#include <cuda_runtime.h>
#include <cublas_v2.h>
#define DLC_LAUNCH(kern, grid, block, S, ...) kern<<<(grid), (block), 0, (S)->stream>>>(__VA_ARGS__)
#endif

/* per-context state */
typedef struct dlc_state {
#if defined(DLC_EMULATE)
    int stream;
    void *blas_ws;
#else
    cudaStream_t stream;
    cublasHandle_t blas;
    void *blas_ws;
#endif
    int deterministic, capturing;
    dl_status err;            /* first failure seen by a wrapper below */
    /* DLC_PROFILE=1 in the environment: every command outside a capture is timed alone
       (the stream drained before and after it) and a table goes to stderr at the end */
    int profile, nprof;
    double t0;
    struct { const char *name; int kind; long count; double ms; } prof[160];
} dlc_state;

static dlc_state *dlc_st(dl_ctx *ctx) { return (dlc_state *)dl_backend_state(ctx); }
#define DLC_F(ctx, p) ((float *)dl_backend_dev((ctx), (p)))
#define DLC_I(ctx, p) ((int32_t *)dl_backend_dev((ctx), (p)))
#define DLC_CF(ctx, p) ((const float *)dl_backend_dev((ctx), (p)))
#define DLC_CI(ctx, p) ((const int32_t *)dl_backend_dev((ctx), (p)))

/* 1-D launches: grid-stride loops, so any grid (and the emulator's 1-thread blocks) works */
#define DLC_THREADS 256
static unsigned dlc_blocks(int64_t n) {
    int64_t b = (n + DLC_THREADS - 1) / DLC_THREADS;
    return (unsigned)(b < 1 ? 1 : (b > 65535 ? 65535 : b));
}
#define DLC_LOOP(i, n) for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (int64_t)blockDim.x * gridDim.x)
/* block-wide sum through shared memory (blockDim a power of two, at most 1024) */
__device__ float dlc_block_sum(float v, float *sh) {
    unsigned t = threadIdx.x, s;
    sh[t] = v; __syncthreads();
    for (s = blockDim.x / 2; s > 0; s >>= 1) { if (t < s) sh[t] += sh[t + s]; __syncthreads(); }
    v = sh[0]; __syncthreads();
    return v;
}
static unsigned dlc_row_threads(int64_t n) {        /* threads per row for a row reduction */
    unsigned t = 32; while (t < 256 && (int64_t)t < n) t <<= 1; return t;
}

/* ======================================================================================
   >>cuda-memory  runtime calls, real or emulated; every failure lands in st->err
   ====================================================================================== */
static dl_status dlc_check(dlc_state *S, int bad) {
    if (bad && !S->err) S->err = DL_STATUS_INVALID;
    return bad ? DL_STATUS_INVALID : DL_STATUS_OK;
}
#if defined(DLC_EMULATE)
static int dlc_device_ok(void) { return 1; }
static void *dlc_init(int det) {
    dlc_state *S = (dlc_state *)calloc(1, sizeof(dlc_state));
    if (S) { S->deterministic = det; S->profile = getenv("DLC_PROFILE") != NULL; }
    return S;
}
static void dlc_prof_print(dlc_state *S);
static void dlc_release(void *st) { dlc_prof_print((dlc_state *)st); free(st); }
static void dlc_attach(void *st, void *dev, size_t bytes) { ((dlc_state *)st)->blas_ws = dev; (void)bytes; }
static void *dlc_dev_alloc(void *st, size_t n) { (void)st; return malloc(n); }
static void dlc_dev_free(void *st, void *p) { (void)st; free(p); }
static void *dlc_host_alloc(void *st, size_t n) { (void)st; return malloc(n); }
static void dlc_host_free(void *st, void *p) { (void)st; free(p); }
static dl_status dlc_upload(void *st, void *dev, const void *host, size_t n) {
    (void)st; dlc_emu_do([=]() { memcpy(dev, host, n); }); return DL_STATUS_OK;
}
static dl_status dlc_download(void *st, void *host, const void *dev, size_t n) {
    (void)st; memcpy(host, dev, n); return DL_STATUS_OK;
}
static dl_status dlc_memset0(void *st, void *dev, size_t n) {
    (void)st; dlc_emu_do([=]() { memset(dev, 0, n); }); return DL_STATUS_OK;
}
static dl_status dlc_sync(void *st) { dlc_state *S = (dlc_state *)st; return dlc_check(S, 0) ? S->err : S->err; }
static dl_status dlc_capture_begin(void *st) {
    dlc_state *S = (dlc_state *)st; S->capturing = 1; dlc_emu_capture = new dlc_emu_graph(); return DL_STATUS_OK;
}
static dl_status dlc_capture_end(void *st, void **graph) {
    dlc_state *S = (dlc_state *)st; S->capturing = 0; *graph = dlc_emu_capture; dlc_emu_capture = NULL; return DL_STATUS_OK;
}
static dl_status dlc_graph_launch(void *st, void *graph) {
    dlc_emu_graph *g = (dlc_emu_graph *)graph; size_t i; (void)st;
    for (i = 0; i < g->size(); i++) (*g)[i]();
    return DL_STATUS_OK;
}
static void dlc_graph_free(void *st, void *graph) { (void)st; delete (dlc_emu_graph *)graph; }
static const char *dlc_name(void) { return "emulated (CPU, DLC_EMULATE)"; }
#else
static void dlc_prof_print(dlc_state *S);
static int dlc_device_ok(void) {
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess || n < 1) { cudaGetLastError(); return 0; }
    return 1;
}
static void *dlc_init(int det) {
    dlc_state *S;
    if (!dlc_device_ok()) return NULL;
    S = (dlc_state *)calloc(1, sizeof(dlc_state));
    if (!S) return NULL;
    S->deterministic = det;
    S->profile = getenv("DLC_PROFILE") != NULL;
    if (cudaStreamCreateWithFlags(&S->stream, cudaStreamNonBlocking) != cudaSuccess) { free(S); return NULL; }
    if (cublasCreate(&S->blas) != CUBLAS_STATUS_SUCCESS) { cudaStreamDestroy(S->stream); free(S); return NULL; }
    cublasSetStream(S->blas, S->stream);
    cublasSetMathMode(S->blas, CUBLAS_PEDANTIC_MATH);    /* fp32 throughout, no TF32 */
    return S;
}
/* cuBLAS's workspace comes from the context's device block (dl_backend.reserve), so no
   allocation happens while a step is captured and the context keeps one device block */
static void dlc_attach(void *st, void *dev, size_t bytes) {
    dlc_state *S = (dlc_state *)st;
    if (cublasSetWorkspace(S->blas, dev, bytes) == CUBLAS_STATUS_SUCCESS) S->blas_ws = dev;
}
static void dlc_release(void *st) {
    dlc_state *S = (dlc_state *)st;
    if (!S) return;
    cudaStreamSynchronize(S->stream);
    dlc_prof_print(S);
    cublasDestroy(S->blas);
    cudaStreamDestroy(S->stream);
    free(S);
}
static void *dlc_dev_alloc(void *st, size_t n) { void *p = NULL; (void)st; return cudaMalloc(&p, n) == cudaSuccess ? p : NULL; }
static void dlc_dev_free(void *st, void *p) { (void)st; cudaFree(p); }
static void *dlc_host_alloc(void *st, size_t n) { void *p = NULL; (void)st; return cudaMallocHost(&p, n) == cudaSuccess ? p : NULL; }
static void dlc_host_free(void *st, void *p) { (void)st; cudaFreeHost(p); }
static dl_status dlc_upload(void *st, void *dev, const void *host, size_t n) {
    dlc_state *S = (dlc_state *)st;
    if (dlc_check(S, cudaMemcpyAsync(dev, host, n, cudaMemcpyHostToDevice, S->stream) != cudaSuccess)) return DL_STATUS_INVALID;
    /* eager: the host may overwrite its copy as soon as we return */
    if (!S->capturing) return dlc_check(S, cudaStreamSynchronize(S->stream) != cudaSuccess);
    return DL_STATUS_OK;
}
static dl_status dlc_download(void *st, void *host, const void *dev, size_t n) {
    dlc_state *S = (dlc_state *)st;
    if (dlc_check(S, cudaMemcpyAsync(host, dev, n, cudaMemcpyDeviceToHost, S->stream) != cudaSuccess)) return DL_STATUS_INVALID;
    return dlc_check(S, cudaStreamSynchronize(S->stream) != cudaSuccess);
}
static dl_status dlc_memset0(void *st, void *dev, size_t n) {
    dlc_state *S = (dlc_state *)st;
    return dlc_check(S, cudaMemsetAsync(dev, 0, n, S->stream) != cudaSuccess);
}
static dl_status dlc_sync(void *st) {
    dlc_state *S = (dlc_state *)st;
    dlc_check(S, cudaStreamSynchronize(S->stream) != cudaSuccess);
    dlc_check(S, cudaGetLastError() != cudaSuccess);
    return S->err;
}
static dl_status dlc_capture_begin(void *st) {
    dlc_state *S = (dlc_state *)st;
    if (cudaStreamBeginCapture(S->stream, cudaStreamCaptureModeThreadLocal) != cudaSuccess) { cudaGetLastError(); return DL_STATUS_UNSUPPORTED; }
    S->capturing = 1;
    return DL_STATUS_OK;
}
static dl_status dlc_capture_end(void *st, void **graph) {
    dlc_state *S = (dlc_state *)st; cudaGraph_t g = NULL; cudaGraphExec_t e = NULL;
    S->capturing = 0;
    if (cudaStreamEndCapture(S->stream, &g) != cudaSuccess || !g) { cudaGetLastError(); return DL_STATUS_UNSUPPORTED; }
    if (cudaGraphInstantiate(&e, g, 0) != cudaSuccess) { cudaGetLastError(); cudaGraphDestroy(g); return DL_STATUS_UNSUPPORTED; }
    cudaGraphDestroy(g);
    *graph = (void *)e;
    return DL_STATUS_OK;
}
static dl_status dlc_graph_launch(void *st, void *graph) {
    dlc_state *S = (dlc_state *)st;
    return dlc_check(S, cudaGraphLaunch((cudaGraphExec_t)graph, S->stream) != cudaSuccess);
}
static void dlc_graph_free(void *st, void *graph) { (void)st; cudaGraphExecDestroy((cudaGraphExec_t)graph); }
static const char *dlc_name(void) {
    static char name[256]; cudaDeviceProp p; int d = 0;
    if (!dlc_device_ok() || cudaGetDevice(&d) != cudaSuccess || cudaGetDeviceProperties(&p, d) != cudaSuccess) return "none";
    memcpy(name, p.name, sizeof name < sizeof p.name ? sizeof name : sizeof p.name); name[sizeof name - 1] = 0;
    return name;
}
#endif

/* ======================================================================================
   >>cuda-gemm  row-major C[M,N] = alpha op(A) op(B) + beta C, batched by strides;
   cuBLAS (column-major) computes C^T = op(B)^T op(A)^T. lda/ldb/ldc: row strides.
   ====================================================================================== */
#if defined(DLC_EMULATE)
static void dlc_gemm(dlc_state *S, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, int64_t sa, const float *B, int64_t ldb, int64_t sb,
                     float beta, float *C, int64_t ldc, int64_t sc, int64_t batch) {
    (void)S;
    dlc_emu_do([=]() {
        for (int64_t b = 0; b < batch; b++)
            for (int64_t i = 0; i < M; i++) for (int64_t j = 0; j < N; j++) {
                float acc = 0.0f;
                for (int64_t k = 0; k < K; k++) {
                    float a = ta ? A[b * sa + k * lda + i] : A[b * sa + i * lda + k];
                    float bb = tb ? B[b * sb + j * ldb + k] : B[b * sb + k * ldb + j];
                    acc += a * bb;
                }
                float *c = &C[b * sc + i * ldc + j];
                *c = alpha * acc + (beta == 0.0f ? 0.0f : beta * *c);
            }
    });
}
#else
static void dlc_gemm(dlc_state *S, int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                     const float *A, int64_t lda, int64_t sa, const float *B, int64_t ldb, int64_t sb,
                     float beta, float *C, int64_t ldc, int64_t sc, int64_t batch) {
    cublasStatus_t r;
    if (M == 0 || N == 0 || batch == 0) return;
    if (batch == 1)
        r = cublasSgemm(S->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K,
                        &alpha, B, (int)ldb, A, (int)lda, &beta, C, (int)ldc);
    else
        r = cublasSgemmStridedBatched(S->blas, tb ? CUBLAS_OP_T : CUBLAS_OP_N, ta ? CUBLAS_OP_T : CUBLAS_OP_N, (int)N, (int)M, (int)K,
                                      &alpha, B, (int)ldb, (long long)sb, A, (int)lda, (long long)sa, &beta, C, (int)ldc, (long long)sc, (int)batch);
    dlc_check(S, r != CUBLAS_STATUS_SUCCESS);
}
#endif
static dl_status dlc_status(dl_ctx *ctx) {   /* what an op returns after launching */
    dlc_state *S = dlc_st(ctx);
#if !defined(DLC_EMULATE)
    if (cudaPeekAtLastError() != cudaSuccess) { cudaGetLastError(); if (!S->err) S->err = DL_STATUS_INVALID; }
#endif
    return S->err;
}

/* the profiler (see dlc_state.profile) */
#include <time.h>
static double dlc_now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return 1e3 * (double)t.tv_sec + 1e-6 * (double)t.tv_nsec; }
static void dlc_drain(dlc_state *S) {
#if defined(DLC_EMULATE)
    (void)S;
#else
    cudaStreamSynchronize(S->stream);
#endif
}
static void dlc_trace(void *st, int kind, const char *name, int end) {
    dlc_state *S = (dlc_state *)st; double t; int i;
    if (!S->profile || S->capturing) return;
    dlc_drain(S); t = dlc_now_ms();
    if (!end) { S->t0 = t; return; }
    for (i = 0; i < S->nprof; i++) if (S->prof[i].kind == kind && !strcmp(S->prof[i].name, name)) break;
    if (i == S->nprof) {
        if (i == (int)(sizeof S->prof / sizeof S->prof[0])) return;
        S->nprof++; S->prof[i].name = name; S->prof[i].kind = kind; S->prof[i].count = 0; S->prof[i].ms = 0.0;
    }
    S->prof[i].count++; S->prof[i].ms += t - S->t0;
}
static void dlc_prof_print(dlc_state *S) {
    static const char *kn[] = { "forward", "backward", "upload", "zero", "fill", "optimizer", "clip", "zero list" };
    double total = 0.0; int i, j;
    if (!S->profile || !S->nprof) return;
    for (i = 0; i < S->nprof; i++) total += S->prof[i].ms;
    for (i = 1; i < S->nprof; i++) for (j = i; j > 0 && S->prof[j].ms > S->prof[j - 1].ms; j--) {   /* by time, largest first */
        const char *n = S->prof[j].name; int k = S->prof[j].kind; long c = S->prof[j].count; double m = S->prof[j].ms;
        S->prof[j] = S->prof[j - 1]; S->prof[j - 1].name = n; S->prof[j - 1].kind = k; S->prof[j - 1].count = c; S->prof[j - 1].ms = m;
    }
    fprintf(stderr, "# DLC_PROFILE: %.3f ms in commands (each timed alone, stream drained around it)\n", total);
    for (i = 0; i < S->nprof; i++)
        fprintf(stderr, "#   %-24s %-9s %8ld calls %10.3f ms %6.1f%%  %8.2f us/call\n", S->prof[i].name, kn[S->prof[i].kind], S->prof[i].count,
                S->prof[i].ms, 100.0 * S->prof[i].ms / (total > 0 ? total : 1), 1e3 * S->prof[i].ms / (double)S->prof[i].count);
}

/* ======================================================================================
   >>cuda-fill  fill (dl_backward's seed)
   ====================================================================================== */
__global__ void dlc_k_fill(float *y, int64_t n, float v) { DLC_LOOP(i, n) y[i] = v; }
static dl_status dlc_fill(void *st, float *dev, int64_t n, float v) {
    dlc_state *S = (dlc_state *)st;
    if (n > 0) DLC_LAUNCH(dlc_k_fill, dlc_blocks(n), DLC_THREADS, S, dev, n, v);
#if !defined(DLC_EMULATE)
    dlc_check(S, cudaPeekAtLastError() != cudaSuccess);
#endif
    return S->err;
}

/* ======================================================================================
   >>cuda-ops-elementwise  copy (strided gather), binary with broadcast, where, unary
   ====================================================================================== */
/* strides of up to 8 dims, passed by value */
typedef struct dlc_geo { int nd; int64_t shape[DL_MAX_DIMS], st[3][DL_MAX_DIMS]; } dlc_geo;
/* operand k's storage offset of the contiguous output index i */
__device__ int64_t dlc_off(const dlc_geo &g, int k, int64_t i) {
    int64_t off = 0; int d;
    for (d = g.nd - 1; d >= 0; d--) { int64_t n = g.shape[d]; off += (i % n) * g.st[k][d]; i /= n; }
    return off;
}
/* broadcast strides of t against out's shape (0 where t has size 1 or no dim) */
static void dlc_bcast(dlc_geo *g, int k, const dl_tensor *out, const dl_tensor *t) {
    int d, off = out->ndim - t->ndim;
    for (d = 0; d < out->ndim; d++) {
        int td = d - off;
        g->st[k][d] = (td < 0 || t->shape[td] == 1) ? 0 : t->stride[td];
    }
}
static void dlc_geo_init(dlc_geo *g, const dl_tensor *out) {
    int d; memset(g, 0, sizeof *g); g->nd = out->ndim;
    for (d = 0; d < out->ndim; d++) { g->shape[d] = out->shape[d]; g->st[0][d] = out->stride[d]; }
}

/* copy: y (contiguous) = x (any strides); backward: dx += dy (same contiguous layout as y) */
__global__ void dlc_k_gather(float *y, const float *x, dlc_geo g, int64_t n) { DLC_LOOP(i, n) y[i] = x[dlc_off(g, 1, i)]; }
__global__ void dlc_k_axpy(float *y, const float *x, int64_t n, float a) { DLC_LOOP(i, n) y[i] += a * x[i]; }
static dl_status dlc_fwd_copy(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_geo g; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_geo_init(&g, y); memcpy(g.st[1], x->stride, sizeof g.st[1]);
    DLC_LAUNCH(dlc_k_gather, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), g, y->numel);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_copy(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    DLC_LAUNCH(dlc_k_axpy, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), y->numel, 1.0f);
    return dlc_status(ctx);
}

/* binary: y = a op b, a and b contiguous, broadcast to y's shape */
__device__ float dlc_bin(int op, float p, float q) {
    switch (op) {
    case DL__OP_add: return p + q;
    case DL__OP_sub: return p - q;
    case DL__OP_mul: return p * q;
    case DL__OP_div: return p / q;
    case DL__OP_minimum: return (p != p || q != q) ? p + q : (p < q ? p : q);
    default: return (p != p || q != q) ? p + q : (p > q ? p : q);
    }
}
__global__ void dlc_k_binary(int op, float *y, const float *a, const float *b, dlc_geo g, int64_t n) {
    DLC_LOOP(i, n) y[i] = dlc_bin(op, a[dlc_off(g, 1, i)], b[dlc_off(g, 2, i)]);
}
/* d/da (which = 0) or d/db (1) of one element */
__device__ float dlc_bin_d(int op, int which, float gi, float p, float q, float y) {
    switch (op) {
    case DL__OP_add: return gi;
    case DL__OP_sub: return which ? -gi : gi;
    case DL__OP_mul: return which ? gi * p : gi * q;
    case DL__OP_div: return which ? -gi * y / q : gi / q;
    case DL__OP_minimum: return which ? (q < p ? gi : (p == q ? 0.5f * gi : 0.0f)) : (p < q ? gi : (p == q ? 0.5f * gi : 0.0f));
    default: return which ? (q > p ? gi : (p == q ? 0.5f * gi : 0.0f)) : (p > q ? gi : (p == q ? 0.5f * gi : 0.0f));
    }
}
/* the gradient of a broadcast operand: one thread per operand element sums, in a fixed
   order, over the output elements that read it (no atomics: deterministic). The operand's
   element e has multi-index over the out dims where its stride != 0; the others are
   summed. red = the out dims it is broadcast along. */
typedef struct dlc_red { int nr; int64_t rshape[DL_MAX_DIMS], rstride[DL_MAX_DIMS]; int nk; int64_t kshape[DL_MAX_DIMS], kstride[DL_MAX_DIMS]; } dlc_red;
static void dlc_red_init(dlc_red *r, const dl_tensor *out, const dl_tensor *t) {
    int d, off = out->ndim - t->ndim; int64_t ost[DL_MAX_DIMS], s = 1;
    for (d = out->ndim - 1; d >= 0; d--) { ost[d] = s; s *= out->shape[d]; }
    memset(r, 0, sizeof *r);
    for (d = 0; d < out->ndim; d++) {
        int td = d - off;
        if (td < 0 || (t->shape[td] == 1 && out->shape[d] != 1)) { r->rshape[r->nr] = out->shape[d]; r->rstride[r->nr++] = ost[d]; }
        else { r->kshape[r->nk] = out->shape[d]; r->kstride[r->nk++] = ost[d]; }
    }
}
__device__ int64_t dlc_red_base(const dlc_red &r, int64_t e) {  /* out offset of kept index e */
    int64_t off = 0; int d;
    for (d = r.nk - 1; d >= 0; d--) { off += (e % r.kshape[d]) * r.kstride[d]; e /= r.kshape[d]; }
    return off;
}
__device__ int64_t dlc_red_off(const dlc_red &r, int64_t j) {
    int64_t off = 0; int d;
    for (d = r.nr - 1; d >= 0; d--) { off += (j % r.rshape[d]) * r.rstride[d]; j /= r.rshape[d]; }
    return off;
}
__global__ void dlc_k_binary_bwd(int op, int which, float *gt, int64_t nt, int64_t nred, dlc_red r, dlc_geo g,
                                 const float *gy, const float *a, const float *b, const float *y) {
    DLC_LOOP(e, nt) {
        int64_t base = dlc_red_base(r, e), j; float acc = 0.0f;
        for (j = 0; j < nred; j++) {
            int64_t o = base + dlc_red_off(r, j);
            acc += dlc_bin_d(op, which, gy[o], a[dlc_off(g, 1, o)], b[dlc_off(g, 2, o)], y[o]);
        }
        gt[e] += acc;
    }
}
static dl_status dlc_fwd_binary(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out; dlc_geo g; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_geo_init(&g, y); dlc_bcast(&g, 1, y, a); dlc_bcast(&g, 2, y, b);
    DLC_LAUNCH(dlc_k_binary, dlc_blocks(y->numel), DLC_THREADS, S, nd->op, DLC_F(ctx, y->data), DLC_CF(ctx, a->data), DLC_CF(ctx, b->data), g, y->numel);
    return dlc_status(ctx);
}
/* fast paths: an operand of the output's shape gets one thread per element; an operand
   broadcast along leading dims only (a bias row: out [R, C], t [C]) gets column sums, 32
   columns x 8 row-strided threads per block, added in a fixed order (deterministic) */
__global__ void dlc_k_binary_bwd_same(int op, int which, float *gt, int64_t n, dlc_geo g, const float *gy, const float *a, const float *b, const float *y) {
    DLC_LOOP(i, n) {
        float d;
        if (op == DL__OP_add) d = gy[i];
        else if (op == DL__OP_sub) d = which ? -gy[i] : gy[i];
        else d = dlc_bin_d(op, which, gy[i], a[dlc_off(g, 1, i)], b[dlc_off(g, 2, i)], y[i]);
        gt[i] += d;
    }
}
__global__ void dlc_k_binary_bwd_cols(int op, int which, float *gt, int64_t R, int64_t C, dlc_geo g, const float *gy, const float *a, const float *b, const float *y) {
    __shared__ float sh[8][33];
    const int64_t c = (int64_t)blockIdx.x * 32 + threadIdx.x % 32; const int ty = (int)(threadIdx.x / 32), ny = (int)(blockDim.x / 32 > 0 ? blockDim.x / 32 : 1);
    float acc = 0.0f; int64_t r;
    if (c < C)
        for (r = ty; r < R; r += ny) {
            const int64_t o = r * C + c; const float gi = gy[o];
            acc += op == DL__OP_add ? gi : op == DL__OP_sub ? (which ? -gi : gi) : dlc_bin_d(op, which, gi, a[dlc_off(g, 1, o)], b[dlc_off(g, 2, o)], y[o]);
        }
    if (blockDim.x < 32) {                   /* the emulator: one thread does it all */
        for (int64_t cc = (int64_t)blockIdx.x * 32; cc < C && cc < (int64_t)blockIdx.x * 32 + 32; cc++) {
            float s2 = 0.0f;
            for (r = 0; r < R; r++) {
                const int64_t o = r * C + cc; const float gi = gy[o];
                s2 += op == DL__OP_add ? gi : op == DL__OP_sub ? (which ? -gi : gi) : dlc_bin_d(op, which, gi, a[dlc_off(g, 1, o)], b[dlc_off(g, 2, o)], y[o]);
            }
            gt[cc] += s2;
        }
        return;
    }
    sh[ty][threadIdx.x % 32] = acc;
    __syncthreads();
    if (ty == 0 && c < C) { float s2 = 0.0f; int k; for (k = 0; k < ny; k++) s2 += sh[k][threadIdx.x]; gt[c] += s2; }
}
/* t broadcast along leading dims only: its shape, left-padded with 1s, is 1...1 then out's
   trailing dims; returns C (t's element count) or 0 */
static int64_t dlc_bias_cols(const dl_tensor *out, const dl_tensor *t) {
    int d, off = out->ndim - t->ndim, seen = 0;
    if (!dl_is_contiguous(t) || t->numel == 0) return 0;
    for (d = 0; d < out->ndim; d++) {
        int64_t ts = d - off < 0 ? 1 : t->shape[d - off];
        if (ts == out->shape[d]) { if (ts != 1) seen = 1; }
        else if (ts == 1 && !seen) continue;
        else return 0;
    }
    return t->numel;
}
static dl_status dlc_bwd_binary(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *y = nd->out; dlc_geo g; dlc_state *S = dlc_st(ctx); int w;
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_geo_init(&g, y); dlc_bcast(&g, 1, y, nd->in[0]); dlc_bcast(&g, 2, y, nd->in[1]);
    for (w = 0; w < 2; w++) {
        dl_tensor *t = nd->in[w]; dlc_red r; int64_t C;
        if (!t->grad) continue;
        if (t->numel == y->numel) {
            DLC_LAUNCH(dlc_k_binary_bwd_same, dlc_blocks(y->numel), DLC_THREADS, S, nd->op, w, DLC_F(ctx, t->grad), y->numel, g,
                       DLC_CF(ctx, y->grad), DLC_CF(ctx, nd->in[0]->data), DLC_CF(ctx, nd->in[1]->data), DLC_CF(ctx, y->data));
            continue;
        }
        if ((C = dlc_bias_cols(y, t)) > 0 && y->numel / C >= 8) {
            DLC_LAUNCH(dlc_k_binary_bwd_cols, (unsigned)((C + 31) / 32), 256, S, nd->op, w, DLC_F(ctx, t->grad), y->numel / C, C, g,
                       DLC_CF(ctx, y->grad), DLC_CF(ctx, nd->in[0]->data), DLC_CF(ctx, nd->in[1]->data), DLC_CF(ctx, y->data));
            continue;
        }
        dlc_red_init(&r, y, t);
        DLC_LAUNCH(dlc_k_binary_bwd, dlc_blocks(t->numel), DLC_THREADS, S, nd->op, w, DLC_F(ctx, t->grad), t->numel, y->numel / (t->numel ? t->numel : 1), r, g,
                   DLC_CF(ctx, y->grad), DLC_CF(ctx, nd->in[0]->data), DLC_CF(ctx, nd->in[1]->data), DLC_CF(ctx, y->data));
    }
    return dlc_status(ctx);
}

/* unary y = f(x; p0, p1) and dx += g f'(x): the same formulas as dl.h's DL__UNARY_KERNELS */
#define DLC_SELU_SCALE 1.0507009873554804934f
#define DLC_SELU_ALPHA 1.6732632423543772848f
#define DLC_SQRT_2_OVER_PI 0.7978845608028654f
__device__ float dlc_sigm(float x) { if (x >= 0.0f) return 1.0f / (1.0f + expf(-x)); { float e = expf(x); return e / (1.0f + e); } }
__device__ float dlc_softplus(float x) { return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x))); }
__device__ float dlc_gelu_tanh_d(float x) {
    float x2 = x * x, t = tanhf(DLC_SQRT_2_OVER_PI * (x + 0.044715f * x2 * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * DLC_SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x2);
}
__device__ float dlc_un(int op, float x, float p0, float p1) {
    switch (op) {
    case DL__OP_neg: return -x;
    case DL__OP_abs: return fabsf(x);
    case DL__OP_sign: return (float)((x > 0.0f) - (x < 0.0f));
    case DL__OP_exp: return expf(x);
    case DL__OP_log: return logf(x);
    case DL__OP_sqrt: return sqrtf(x);
    case DL__OP_square: return x * x;
    case DL__OP_pow: return powf(x, p0);
    case DL__OP_sin: return sinf(x);
    case DL__OP_cos: return cosf(x);
    case DL__OP_clamp: case DL__OP_hard_tanh: return x < p0 ? p0 : (x > p1 ? p1 : x);
    case DL__OP_relu: return x > 0.0f ? x : 0.0f;
    case DL__OP_sigmoid: return dlc_sigm(x);
    case DL__OP_tanh: return tanhf(x);
    case DL__OP_softplus: return dlc_softplus(x);
    case DL__OP_log_sigmoid: return -dlc_softplus(-x);
    case DL__OP_add_scalar: return x + p0;
    case DL__OP_mul_scalar: return x * p0;
    case DL__OP_leaky_relu: return x > 0.0f ? x : p0 * x;
    case DL__OP_elu: return x > 0.0f ? x : p0 * expm1f(x);
    case DL__OP_selu: return DLC_SELU_SCALE * (x > 0.0f ? x : DLC_SELU_ALPHA * expm1f(x));
    case DL__OP_gelu: return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case DL__OP_gelu_tanh: return 0.5f * x * (1.0f + tanhf(DLC_SQRT_2_OVER_PI * (x + 0.044715f * x * x * x)));
    case DL__OP_silu: return x * dlc_sigm(x);
    case DL__OP_softsign: return x / (1.0f + fabsf(x));
    default: return 0.0f;
    }
}
__device__ float dlc_un_d(int op, float x, float y, float g, float p0, float p1) {
    switch (op) {
    case DL__OP_neg: return -g;
    case DL__OP_abs: return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f);
    case DL__OP_sign: return 0.0f * g;
    case DL__OP_exp: return g * y;
    case DL__OP_log: return g / x;
    case DL__OP_sqrt: return g * 0.5f / y;
    case DL__OP_square: return 2.0f * x * g;
    case DL__OP_pow: return p0 == 0.0f ? 0.0f : g * p0 * powf(x, p0 - 1.0f);
    case DL__OP_sin: return g * cosf(x);
    case DL__OP_cos: return -g * sinf(x);
    case DL__OP_clamp: return (x >= p0 && x <= p1) ? g : 0.0f;
    case DL__OP_hard_tanh: return (x > p0 && x < p1) ? g : 0.0f;
    case DL__OP_relu: return x > 0.0f ? g : 0.0f;
    case DL__OP_sigmoid: return g * y * (1.0f - y);
    case DL__OP_tanh: return g * (1.0f - y * y);
    case DL__OP_softplus: return g * dlc_sigm(x);
    case DL__OP_log_sigmoid: return g * dlc_sigm(-x);
    case DL__OP_add_scalar: return g;
    case DL__OP_mul_scalar: return g * p0;
    case DL__OP_leaky_relu: return x > 0.0f ? g : g * p0;
    case DL__OP_elu: return x > 0.0f ? g : g * p0 * expf(x);
    case DL__OP_selu: return x > 0.0f ? g * DLC_SELU_SCALE : g * DLC_SELU_SCALE * DLC_SELU_ALPHA * expf(x);
    case DL__OP_gelu: return g * (0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.3989422804014327f * expf(-0.5f * x * x));
    case DL__OP_gelu_tanh: return g * dlc_gelu_tanh_d(x);
    case DL__OP_silu: { float s = dlc_sigm(x); return g * s * (1.0f + x * (1.0f - s)); }
    case DL__OP_softsign: { float d = 1.0f + fabsf(x); return g / (d * d); }
    default: return 0.0f;
    }
}
__global__ void dlc_k_unary(int op, float *y, const float *x, int64_t n, float p0, float p1) { DLC_LOOP(i, n) y[i] = dlc_un(op, x[i], p0, p1); }
__global__ void dlc_k_unary_bwd(int op, float *gx, const float *x, const float *y, const float *g, int64_t n, float p0, float p1) {
    DLC_LOOP(i, n) gx[i] += dlc_un_d(op, x[i], y[i], g[i], p0, p1);
}
static dl_status dlc_fwd_unary(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    DLC_LAUNCH(dlc_k_unary, dlc_blocks(y->numel), DLC_THREADS, S, nd->op, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), y->numel, nd->farg[0], nd->farg[1]);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_unary(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    DLC_LAUNCH(dlc_k_unary_bwd, dlc_blocks(y->numel), DLC_THREADS, S, nd->op, DLC_F(ctx, x->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, y->data),
               DLC_CF(ctx, y->grad), y->numel, nd->farg[0], nd->farg[1]);
    return dlc_status(ctx);
}

/* ======================================================================================
   >>cuda-ops-matmul  cuBLAS; iarg[0] = DL_TRANS_* flags; 2-D or 3-D (batched) operands
   ====================================================================================== */
typedef struct dlc_mm { int64_t batch, M, N, K, bsa, bsb; int ta, tb; } dlc_mm;
static void dlc_mm_dims(const dl_tensor *a, const dl_tensor *b, int trans, dlc_mm *m) {
    int ra = a->ndim, rb = b->ndim;
    m->ta = (trans & DL_TRANS_A) != 0; m->tb = (trans & DL_TRANS_B) != 0;
    m->M = m->ta ? a->shape[ra - 1] : a->shape[ra - 2];
    m->K = m->ta ? a->shape[ra - 2] : a->shape[ra - 1];
    m->N = m->tb ? b->shape[rb - 2] : b->shape[rb - 1];
    m->batch = ra == 3 ? a->shape[0] : (rb == 3 ? b->shape[0] : 1);
    m->bsa = ra == 3 ? a->shape[1] * a->shape[2] : 0;
    m->bsb = rb == 3 ? b->shape[1] * b->shape[2] : 0;
}
static dl_status dlc_fwd_matmul(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out; dlc_mm m; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_mm_dims(a, b, nd->iarg[0], &m);
    if (m.K == 0) return dlc_memset0(S, DLC_F(ctx, y->data), (size_t)y->numel * 4u);
    dlc_gemm(S, m.ta, m.tb, m.M, m.N, m.K, 1.0f, DLC_CF(ctx, a->data), a->shape[a->ndim - 1], m.bsa,
             DLC_CF(ctx, b->data), b->shape[b->ndim - 1], m.bsb, 0.0f, DLC_F(ctx, y->data), m.N, m.M * m.N, m.batch);
    return dlc_status(ctx);
}
/* a batched operand's gradient sums over the batch when the operand itself is 2-D */
static dl_status dlc_bwd_matmul(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out; dlc_mm m; dlc_state *S = dlc_st(ctx);
    int64_t bi;
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_mm_dims(a, b, nd->iarg[0], &m);
    if (m.K == 0) return DL_STATUS_OK;
    if (a->grad) {   /* d op(A) [M,K] = G [M,N] . op(B)^T; stored through op: dA = G op(B)^T or (G op(B)^T)^T */
        float *ga = DLC_F(ctx, a->grad); const float *G = DLC_CF(ctx, y->grad), *B = DLC_CF(ctx, b->data);
        int64_t ldb = b->shape[b->ndim - 1];
        if (m.bsa || m.batch == 1) {
            if (!m.ta) dlc_gemm(S, 0, !m.tb, m.M, m.K, m.N, 1.0f, G, m.N, m.M * m.N, B, ldb, m.bsb, 1.0f, ga, m.K, m.bsa, m.batch);
            else dlc_gemm(S, m.tb, 1, m.K, m.M, m.N, 1.0f, B, ldb, m.bsb, G, m.N, m.M * m.N, 1.0f, ga, m.M, m.bsa, m.batch);
        } else for (bi = 0; bi < m.batch; bi++) {   /* 2-D A, 3-D B: accumulate batch by batch */
            if (!m.ta) dlc_gemm(S, 0, !m.tb, m.M, m.K, m.N, 1.0f, G + bi * m.M * m.N, m.N, 0, B + bi * m.bsb, ldb, 0, 1.0f, ga, m.K, 0, 1);
            else dlc_gemm(S, m.tb, 1, m.K, m.M, m.N, 1.0f, B + bi * m.bsb, ldb, 0, G + bi * m.M * m.N, m.N, 0, 1.0f, ga, m.M, 0, 1);
        }
    }
    if (b->grad) {   /* d op(B) [K,N] = op(A)^T G; stored through op */
        float *gb = DLC_F(ctx, b->grad); const float *G = DLC_CF(ctx, y->grad), *A = DLC_CF(ctx, a->data);
        int64_t lda = a->shape[a->ndim - 1];
        if (m.bsb || m.batch == 1) {
            if (!m.tb) dlc_gemm(S, !m.ta, 0, m.K, m.N, m.M, 1.0f, A, lda, m.bsa, G, m.N, m.M * m.N, 1.0f, gb, m.N, m.bsb, m.batch);
            else dlc_gemm(S, 1, m.ta, m.N, m.K, m.M, 1.0f, G, m.N, m.M * m.N, A, lda, m.bsa, 1.0f, gb, m.K, m.bsb, m.batch);
        } else for (bi = 0; bi < m.batch; bi++) {
            if (!m.tb) dlc_gemm(S, !m.ta, 0, m.K, m.N, m.M, 1.0f, A + bi * m.bsa, lda, 0, G + bi * m.M * m.N, m.N, 0, 1.0f, gb, m.N, 0, 1);
            else dlc_gemm(S, 1, m.ta, m.N, m.K, m.M, 1.0f, G + bi * m.M * m.N, m.N, 0, A + bi * m.bsa, lda, 0, 1.0f, gb, m.K, 0, 1);
        }
    }
    return dlc_status(ctx);
}

/* ======================================================================================
   >>cuda-optim  the fused multi-tensor update (torch.optim's rules, as dl.h's CPU loops)
   and global-norm clipping. blockIdx.y = parameter; the records come from the arena.
   ====================================================================================== */
__global__ void dlc_k_optim(dl_optim_args a, const dl_optim_rec *recs) {
    const dl_optim_rec r = recs[blockIdx.y];
    float *p = r.p, *s1 = r.s1, *s2 = r.s2, *s3 = r.s3; const float *gr = r.g;
    const float lr = r.lr, wd = r.wd; const int first = r.t == 1.0f;
    DLC_LOOP(i, r.numel) {
        switch (a.kind) {
        case DL_SGD: {
            const float mom = a.momentum, damp = 1.0f - a.dampening, g = gr[i] + wd * p[i];
            if (mom == 0.0f) p[i] -= lr * g;
            else {
                const float m = first ? g : mom * s1[i] + damp * g;
                s1[i] = m;
                p[i] -= a.nesterov ? lr * (g + mom * m) : lr * m;
            }
            break; }
        case DL_ADAGRAD: {
            const float g = gr[i] + wd * p[i], s = s1[i] + g * g;
            s1[i] = s; p[i] -= r.clr * (g / (sqrtf(s) + a.eps));
            break; }
        case DL_RMSPROP: {
            const int64_t n = r.numel; float *gavg = a.centered ? s3 + (a.momentum > 0.0f ? n : 0) : NULL, *buf = a.momentum > 0.0f ? s3 : NULL;
            const float g = gr[i] + wd * p[i]; float avg;
            s2[i] = a.alpha * s2[i] + (1.0f - a.alpha) * g * g;
            if (gavg) { gavg[i] = a.alpha * gavg[i] + (1.0f - a.alpha) * g; avg = sqrtf(s2[i] - gavg[i] * gavg[i]) + a.eps; }
            else avg = sqrtf(s2[i]) + a.eps;
            if (buf) { buf[i] = a.momentum * buf[i] + g / avg; p[i] -= lr * buf[i]; }
            else p[i] -= lr * (g / avg);
            break; }
        default: {   /* adam, adamw */
            float g = gr[i], pv = p[i], denom;
            if (a.kind == DL_ADAMW) pv *= r.decay; else g += r.l2 * pv;
            const float m = s1[i] * a.beta1 + (1.0f - a.beta1) * g, v = s2[i] * a.beta2 + (1.0f - a.beta2) * g * g;
            s1[i] = m; s2[i] = v;
            if (s3) { float mx = s3[i] > v ? s3[i] : v; s3[i] = mx; denom = sqrtf(mx) / r.bc2s + a.eps; }
            else denom = sqrtf(v) / r.bc2s + a.eps;
            p[i] = pv - r.step_size * (m / denom);
            break; }
        }
    }
}
/* many memsets in one launch: blockIdx.y = range, a grid-stride loop over its floats */
__global__ void dlc_k_zero_list(const uint64_t *tab) {
    float *p = (float *)(uintptr_t)tab[2 * blockIdx.y]; const int64_t n = (int64_t)(tab[2 * blockIdx.y + 1] / 4u);
    DLC_LOOP(i, n) p[i] = 0.0f;
}
static unsigned dlc_blocks_y(int64_t max_numel);
static dl_status dlc_zero_list(void *st, const void *table, int count, size_t max_bytes) {
    dlc_state *S = (dlc_state *)st;
    if (count > 0) DLC_LAUNCH(dlc_k_zero_list, dim3(dlc_blocks_y((int64_t)(max_bytes / 4u)), (unsigned)count), DLC_THREADS, S, (const uint64_t *)table);
#if !defined(DLC_EMULATE)
    dlc_check(S, cudaPeekAtLastError() != cudaSuccess);
#endif
    return S->err;
}
static unsigned dlc_blocks_y(int64_t max_numel) { int64_t b = (max_numel + DLC_THREADS - 1) / DLC_THREADS; return (unsigned)(b < 1 ? 1 : (b > 4096 ? 4096 : b)); }
static dl_status dlc_optim(dl_ctx *ctx, const dl_optim_args *a, int phase) {
    dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || a->n == 0) return DL_STATUS_OK;
    DLC_LAUNCH(dlc_k_optim, dim3(dlc_blocks_y(a->max_numel), (unsigned)a->n), DLC_THREADS, S, *a, (const dl_optim_rec *)dl_backend_dev(ctx, a->recs));
    return dlc_status(ctx);
}
/* clip: each tensor's sum of squares in DLC_CLIP_PARTS fixed slices (one block each), one
   thread adds the parts in order and writes norm and scale, then every gradient is scaled */
#define DLC_CLIP_PARTS 32
__device__ double dlc_block_sum_d(double v, double *sh);   /* (with the reductions below) */
__global__ void dlc_k_sumsq(const dl_optim_rec *recs, double *part) {
    __shared__ double shd[1024];
    const dl_optim_rec r = recs[blockIdx.y];
    const int64_t per = (r.numel + gridDim.x - 1) / gridDim.x, lo = (int64_t)blockIdx.x * per, hi = lo + per < r.numel ? lo + per : r.numel;
    double acc = 0.0; int64_t i;
    for (i = lo + threadIdx.x; i < hi; i += blockDim.x) acc += (double)r.g[i] * (double)r.g[i];
    acc = dlc_block_sum_d(acc, shd);
    if (threadIdx.x == 0) part[(int64_t)blockIdx.y * gridDim.x + blockIdx.x] = acc;
}
__global__ void dlc_k_clip_coef(const double *part, int nparts, float *out, int n, float max_norm) {
    if (threadIdx.x == 0 && blockIdx.x == 0) {
        double s = 0.0; float total, coef; int k;
        for (k = 0; k < nparts; k++) s += part[k];
        total = (float)sqrt(s); coef = max_norm / (total + 1e-6f);
        out[n] = total; out[n + 1] = coef < 1.0f ? coef : 1.0f;
    }
}
__global__ void dlc_k_scale(const dl_optim_rec *recs, const float *coef) {
    const dl_optim_rec r = recs[blockIdx.y]; const float c = *coef;
    if (c < 1.0f) DLC_LOOP(i, r.numel) r.g[i] *= c;
}
static dl_status dlc_clip(dl_ctx *ctx, dl_clip_args *a, int phase) {
    dlc_state *S = dlc_st(ctx); const dl_optim_rec *recs; float *out; double *part;
    if (a->n == 0) return DL_STATUS_OK;
    if (phase == DL_PHASE_PLAN) {
        a->aux = dl_backend_alloc(ctx, sizeof(double) * DLC_CLIP_PARTS * (size_t)a->n);
        return a->aux ? DL_STATUS_OK : DL_STATUS_OOM;
    }
    recs = (const dl_optim_rec *)dl_backend_dev(ctx, a->recs); out = DLC_F(ctx, a->scratch); part = (double *)dl_backend_dev(ctx, a->aux);
    DLC_LAUNCH(dlc_k_sumsq, dim3(DLC_CLIP_PARTS, (unsigned)a->n), 256, S, recs, part);
    DLC_LAUNCH(dlc_k_clip_coef, 1, 32, S, (const double *)part, DLC_CLIP_PARTS * a->n, out, a->n, a->max_norm);
    DLC_LAUNCH(dlc_k_scale, dim3(dlc_blocks_y(a->max_numel), (unsigned)a->n), DLC_THREADS, S, recs, out + a->n + 1);
    return dlc_status(ctx);
}

/* >>cuda-ops-A  reductions, softmax, views, concat, index ops, where, prelu */
/* double block reductions (any blockDim up to 1024: the tree handles odd sizes) */
__device__ double dlc_block_sum_d(double v, double *sh) {
    unsigned t = threadIdx.x, n = blockDim.x, s;
    sh[t] = v; __syncthreads();
    while (n > 1) { s = (n + 1) / 2; if (t + s < n && t < s) sh[t] += sh[t + s]; __syncthreads(); n = s; }
    v = sh[0]; __syncthreads();
    return v;
}
/* max that keeps a NaN seed (every thread starts from the group's first element, as the CPU) */
__device__ float dlc_block_max_f(float v, float *sh) {
    unsigned t = threadIdx.x, n = blockDim.x, s;
    sh[t] = v; __syncthreads();
    while (n > 1) { s = (n + 1) / 2; if (t + s < n && t < s && sh[t + s] > sh[t]) sh[t] = sh[t + s]; __syncthreads(); n = s; }
    v = sh[0]; __syncthreads();
    return v;
}
__device__ int64_t dlc_block_min_i(int64_t v, int64_t *sh) {
    unsigned t = threadIdx.x, n = blockDim.x, s;
    sh[t] = v; __syncthreads();
    while (n > 1) { s = (n + 1) / 2; if (t + s < n && t < s && sh[t + s] < sh[t]) sh[t] = sh[t + s]; __syncthreads(); n = s; }
    v = sh[0]; __syncthreads();
    return v;
}
static unsigned dlc_grid(int64_t n) { return (unsigned)(n < 1 ? 1 : (n > 65535 ? 65535 : n)); }

/* ---- reductions (sum, mean, max, var, logsumexp) over an axis mask (iarg[0]; iarg[1] =
   var's correction). x is contiguous. One block per output element (grid-stride over
   outputs), threads stride over the reduced elements; sums in double like the CPU. The
   backward has the same layout: each input element belongs to one output, so the blocks
   write disjoint input gradients (no atomics). */
typedef struct dlc_rg { int nk, nr; int64_t kshape[DL_MAX_DIMS], kst[DL_MAX_DIMS], rshape[DL_MAX_DIMS], rst[DL_MAX_DIMS]; } dlc_rg;
static void dlc_rg_init(dlc_rg *r, const dl_tensor *x, unsigned mask, int64_t *kcount, int64_t *rcount) {
    int d; memset(r, 0, sizeof *r); *kcount = *rcount = 1;
    for (d = 0; d < x->ndim; d++) {
        if (mask & (1u << d)) { r->rshape[r->nr] = x->shape[d]; r->rst[r->nr++] = x->stride[d]; *rcount *= x->shape[d]; }
        else { r->kshape[r->nk] = x->shape[d]; r->kst[r->nk++] = x->stride[d]; *kcount *= x->shape[d]; }
    }
}
__device__ int64_t dlc_rg_koff(const dlc_rg &r, int64_t o) {
    int64_t off = 0; int d;
    for (d = r.nk - 1; d >= 0; d--) { off += (o % r.kshape[d]) * r.kst[d]; o /= r.kshape[d]; }
    return off;
}
__device__ int64_t dlc_rg_roff(const dlc_rg &r, int64_t j) {
    int64_t off = 0; int d;
    for (d = r.nr - 1; d >= 0; d--) { off += (j % r.rshape[d]) * r.rst[d]; j /= r.rshape[d]; }
    return off;
}
__global__ void dlc_k_reduce(int op, float *y, const float *x, dlc_rg r, int64_t kcount, int64_t rcount, int corr) {
    __shared__ double shd[1024];
    __shared__ float shf[1024];
    int64_t o, j;
    for (o = blockIdx.x; o < kcount; o += gridDim.x) {
        const int64_t base = dlc_rg_koff(r, o); double s = 0.0; float res;
        if (op == DL__OP_max || op == DL__OP_logsumexp) {
            float v = rcount > 0 ? x[base] : 0.0f;
            for (j = threadIdx.x; j < rcount; j += blockDim.x) {
                float t = x[base + dlc_rg_roff(r, j)];
                if (op == DL__OP_max ? (t > v || t != t) : t > v) v = t;
            }
            if (op == DL__OP_max) {   /* a NaN anywhere wins, as the CPU */
                float nanv = (v != v) ? 1.0f : 0.0f;
                nanv = dlc_block_max_f(nanv, shf);
                v = dlc_block_max_f(v, shf);
                res = nanv > 0.0f ? NAN : v;
            } else {
                v = dlc_block_max_f(v, shf);
                if (v == -INFINITY || v == INFINITY || v != v) res = v;
                else {
                    for (j = threadIdx.x; j < rcount; j += blockDim.x) s += exp((double)(x[base + dlc_rg_roff(r, j)] - v));
                    s = dlc_block_sum_d(s, shd);
                    res = (float)((double)v + log(s));
                }
            }
        } else {
            for (j = threadIdx.x; j < rcount; j += blockDim.x) s += (double)x[base + dlc_rg_roff(r, j)];
            s = dlc_block_sum_d(s, shd);
            if (op == DL__OP_sum) res = (float)s;
            else if (op == DL__OP_mean) res = (float)(s / (double)rcount);
            else {
                const double m = s / (double)rcount; double q = 0.0;
                for (j = threadIdx.x; j < rcount; j += blockDim.x) { double dd = (double)x[base + dlc_rg_roff(r, j)] - m; q += dd * dd; }
                q = dlc_block_sum_d(q, shd);
                res = (float)(q / (double)(rcount - corr));
            }
        }
        if (threadIdx.x == 0) y[o] = res;
    }
}
__global__ void dlc_k_reduce_bwd(int op, float *gx, const float *x, const float *y, const float *gy, dlc_rg r, int64_t kcount, int64_t rcount, int corr) {
    __shared__ double shd[1024];
    __shared__ int64_t shi[1024];
    int64_t o, j;
    for (o = blockIdx.x; o < kcount; o += gridDim.x) {
        const int64_t base = dlc_rg_koff(r, o); const float g = gy[o], v = y[o];
        switch (op) {
        case DL__OP_sum: for (j = threadIdx.x; j < rcount; j += blockDim.x) gx[base + dlc_rg_roff(r, j)] += g; break;
        case DL__OP_mean: { const float gm = g / (float)rcount; for (j = threadIdx.x; j < rcount; j += blockDim.x) gx[base + dlc_rg_roff(r, j)] += gm; } break;
        case DL__OP_max: {   /* the first element equal to the max (any element when it is NaN) */
            int64_t first = rcount;
            for (j = threadIdx.x; j < rcount; j += blockDim.x) if (x[base + dlc_rg_roff(r, j)] == v || v != v) { first = j; break; }
            first = dlc_block_min_i(first, shi);
            if (threadIdx.x == 0 && first < rcount) gx[base + dlc_rg_roff(r, first)] += g;
            break; }
        case DL__OP_var: {
            double m = 0.0;
            for (j = threadIdx.x; j < rcount; j += blockDim.x) m += (double)x[base + dlc_rg_roff(r, j)];
            m = dlc_block_sum_d(m, shd) / (double)rcount;
            for (j = threadIdx.x; j < rcount; j += blockDim.x) {
                const int64_t off = base + dlc_rg_roff(r, j);
                gx[off] += (float)((double)g * 2.0 * ((double)x[off] - m) / (double)(rcount - corr));
            }
            break; }
        default:   /* logsumexp */
            for (j = threadIdx.x; j < rcount; j += blockDim.x) { const int64_t off = base + dlc_rg_roff(r, j); gx[off] += g * expf(x[off] - v); }
            break;
        }
    }
}
/* a full sum / mean of a large tensor: one block would take ~100 us, so DLC_RED_PARTS
   blocks each add a fixed slice (in double), and one block adds the parts in order */
#define DLC_RED_PARTS 128
__global__ void dlc_k_sum_part(const float *x, int64_t n, double *part) {
    __shared__ double shd[1024];
    const int64_t per = (n + gridDim.x - 1) / gridDim.x, lo = (int64_t)blockIdx.x * per, hi = lo + per < n ? lo + per : n;
    double s = 0.0; int64_t j;
    for (j = lo + threadIdx.x; j < hi; j += blockDim.x) s += (double)x[j];
    s = dlc_block_sum_d(s, shd);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}
__global__ void dlc_k_sum_fin(const double *part, int parts, float *y, double scale) {
    if (blockIdx.x == 0 && threadIdx.x == 0) { double s = 0.0; int k; for (k = 0; k < parts; k++) s += part[k]; *y = (float)(s * scale); }
}
static int dlc_red_full(const dl__node *nd, const dl_tensor *x) {   /* sum/mean of every element of a big contiguous x */
    return (nd->op == DL__OP_sum || nd->op == DL__OP_mean) && nd->out->numel == 1 && x->numel >= 16384 && dl_is_contiguous(x);
}
/* sum / mean backward: one thread per input element; o = its output element */
typedef struct dlc_rb { int nd; int64_t shape[DL_MAX_DIMS], ost[DL_MAX_DIMS]; } dlc_rb;
__global__ void dlc_k_sum_bwd(float *gx, const float *gy, dlc_rb b, int64_t n, float scale) {
    DLC_LOOP(i, n) {
        int64_t rem = i, o = 0; int d;
        for (d = b.nd - 1; d >= 0; d--) { o += (rem % b.shape[d]) * b.ost[d]; rem /= b.shape[d]; }
        gx[i] += scale * gy[o];
    }
}
__global__ void dlc_k_add_scalar_from(float *gx, const float *gy, int64_t n, float scale) { DLC_LOOP(i, n) gx[i] += scale * gy[0]; }
static dl_status dlc_fwd_reduce(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_rg r; int64_t kc, rc; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN) {
        if (dlc_red_full(nd, x)) { nd->aux = dl_backend_alloc(ctx, sizeof(double) * DLC_RED_PARTS); if (!nd->aux) return DL_STATUS_OOM; }
        return DL_STATUS_OK;
    }
    if (!y->numel) return DL_STATUS_OK;
    if (dlc_red_full(nd, x) && nd->aux) {
        double *part = (double *)dl_backend_dev(ctx, nd->aux);
        DLC_LAUNCH(dlc_k_sum_part, DLC_RED_PARTS, 256, S, DLC_CF(ctx, x->data), x->numel, part);
        DLC_LAUNCH(dlc_k_sum_fin, 1, 32, S, (const double *)part, DLC_RED_PARTS, DLC_F(ctx, y->data), nd->op == DL__OP_mean ? 1.0 / (double)x->numel : 1.0);
        return dlc_status(ctx);
    }
    dlc_rg_init(&r, x, (unsigned)nd->iarg[0], &kc, &rc);
    DLC_LAUNCH(dlc_k_reduce, dlc_grid(kc), dlc_row_threads(rc), S, nd->op, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), r, kc, rc, nd->iarg[1]);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_reduce(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_rg r; int64_t kc, rc; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel || !x->numel) return DL_STATUS_OK;
    dlc_rg_init(&r, x, (unsigned)nd->iarg[0], &kc, &rc);
    if ((nd->op == DL__OP_sum || nd->op == DL__OP_mean) && dl_is_contiguous(x)) {   /* every element in parallel */
        const float scale = nd->op == DL__OP_mean ? 1.0f / (float)rc : 1.0f;
        if (kc == 1) DLC_LAUNCH(dlc_k_add_scalar_from, dlc_blocks(x->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), x->numel, scale);
        else {
            dlc_rb b; int d; int64_t st = 1; unsigned mask = (unsigned)nd->iarg[0];
            memset(&b, 0, sizeof b); b.nd = x->ndim;
            for (d = x->ndim - 1; d >= 0; d--) { b.shape[d] = x->shape[d]; b.ost[d] = (mask & (1u << d)) ? 0 : st; if (!(mask & (1u << d))) st *= x->shape[d]; }
            DLC_LAUNCH(dlc_k_sum_bwd, dlc_blocks(x->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), b, x->numel, scale);
        }
        return dlc_status(ctx);
    }
    DLC_LAUNCH(dlc_k_reduce_bwd, dlc_grid(kc), dlc_row_threads(rc), S, nd->op, DLC_F(ctx, x->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, y->data),
               DLC_CF(ctx, y->grad), r, kc, rc, nd->iarg[1]);
    return dlc_status(ctx);
}

/* ---- softmax / log_softmax along iarg[0], as [outer, n, inner]: one block per row */
static void dlc_sm_dims(const dl_tensor *x, int a, int64_t *outer, int64_t *n, int64_t *inner) {
    int d; *outer = 1; *inner = 1; *n = x->shape[a];
    for (d = 0; d < a; d++) *outer *= x->shape[d];
    for (d = a + 1; d < x->ndim; d++) *inner *= x->shape[d];
}
__global__ void dlc_k_softmax(int logsm, float *y, const float *x, int64_t rows, int64_t n, int64_t inner) {
    __shared__ double shd[1024];
    __shared__ float shf[1024];
    int64_t row, i;
    for (row = blockIdx.x; row < rows; row += gridDim.x) {
        const int64_t b = (row / inner) * n * inner + row % inner;
        const float *p = x + b; float *q = y + b; float m = p[0]; double s = 0.0;
        for (i = threadIdx.x; i < n; i += blockDim.x) if (p[i * inner] > m) m = p[i * inner];
        m = dlc_block_max_f(m, shf);
        if (logsm) {
            float ls;
            for (i = threadIdx.x; i < n; i += blockDim.x) s += (double)expf(p[i * inner] - m);
            s = dlc_block_sum_d(s, shd);
            ls = (float)log(s);
            for (i = threadIdx.x; i < n; i += blockDim.x) q[i * inner] = (p[i * inner] - m) - ls;
        } else {
            double rr;
            for (i = threadIdx.x; i < n; i += blockDim.x) { float e = expf(p[i * inner] - m); q[i * inner] = e; s += (double)e; }
            s = dlc_block_sum_d(s, shd);
            rr = 1.0 / s;
            for (i = threadIdx.x; i < n; i += blockDim.x) q[i * inner] = (float)((double)q[i * inner] * rr);
        }
    }
}
__global__ void dlc_k_softmax_bwd(int logsm, float *gx, const float *y, const float *gy, int64_t rows, int64_t n, int64_t inner) {
    __shared__ double shd[1024];
    int64_t row, i;
    for (row = blockIdx.x; row < rows; row += gridDim.x) {
        const int64_t b = (row / inner) * n * inner + row % inner;
        const float *yy = y + b, *g = gy + b; float *gg = gx + b; double s = 0.0; float fs;
        if (logsm) for (i = threadIdx.x; i < n; i += blockDim.x) s += (double)g[i * inner];
        else for (i = threadIdx.x; i < n; i += blockDim.x) s += (double)g[i * inner] * (double)yy[i * inner];
        s = dlc_block_sum_d(s, shd); fs = (float)s;
        if (logsm) for (i = threadIdx.x; i < n; i += blockDim.x) gg[i * inner] += g[i * inner] - expf(yy[i * inner]) * fs;
        else for (i = threadIdx.x; i < n; i += blockDim.x) gg[i * inner] += yy[i * inner] * (g[i * inner] - fs);
    }
}
static dl_status dlc_fwd_softmax(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; int64_t outer, n, inner; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_sm_dims(x, nd->iarg[0], &outer, &n, &inner);
    DLC_LAUNCH(dlc_k_softmax, dlc_grid(outer * inner), dlc_row_threads(n), S, nd->op == DL__OP_log_softmax, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), outer * inner, n, inner);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_softmax(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; int64_t outer, n, inner; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    dlc_sm_dims(y, nd->iarg[0], &outer, &n, &inner);
    DLC_LAUNCH(dlc_k_softmax_bwd, dlc_grid(outer * inner), dlc_row_threads(n), S, nd->op == DL__OP_log_softmax, DLC_F(ctx, x->grad), DLC_CF(ctx, y->data),
               DLC_CF(ctx, y->grad), outer * inner, n, inner);
    return dlc_status(ctx);
}

/* ---- view: the output shares the input's storage, so the forward does nothing. The
   backward adds dy (contiguous in the view's shape) into dx at larg[0] + sum idx_d larg[1+d].
   The dims with a nonzero logical stride are "kept", stride-0 dims of size > 1 (a broadcast
   view) are summed by the thread that owns the kept index, in order. When the kept dims are
   injective (every view dl.h makes) the threads write distinct elements; otherwise (an
   overlapping view) one thread walks everything in order. */
typedef struct dlc_vg { int nk, nr; int64_t base, kshape[DL_MAX_DIMS], kst[DL_MAX_DIMS], kost[DL_MAX_DIMS], rshape[DL_MAX_DIMS], rost[DL_MAX_DIMS]; } dlc_vg;
__global__ void dlc_k_view_bwd(float *gx, const float *gy, dlc_vg v, int64_t nk, int64_t nr) {
    DLC_LOOP(e, nk) {
        int64_t xo = v.base, yo = 0, t = e, j; float acc = 0.0f; int d;
        for (d = v.nk - 1; d >= 0; d--) { int64_t c = t % v.kshape[d]; t /= v.kshape[d]; xo += c * v.kst[d]; yo += c * v.kost[d]; }
        for (j = 0; j < nr; j++) {
            int64_t u = j, off = yo;
            for (d = v.nr - 1; d >= 0; d--) { off += (u % v.rshape[d]) * v.rost[d]; u /= v.rshape[d]; }
            acc += gy[off];
        }
        gx[xo] += nr == 1 ? gy[yo] : acc;
    }
}
__global__ void dlc_k_view_bwd_serial(float *gx, const float *gy, dlc_vg v, int64_t n) {   /* <<<1, 1>>> */
    int64_t i;
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    for (i = 0; i < n; i++) {
        int64_t t = i, xo = v.base; int d;
        for (d = v.nk - 1; d >= 0; d--) { xo += (t % v.kshape[d]) * v.kst[d]; t /= v.kshape[d]; }
        gx[xo] += gy[i];
    }
}
static dl_status dlc_fwd_view(dl_ctx *ctx, dl__node *nd, int phase) { (void)ctx; (void)nd; (void)phase; return DL_STATUS_OK; }
static dl_status dlc_bwd_view(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_vg v; dlc_state *S = dlc_st(ctx);
    int d, i, injective = 1; int64_t ost[DL_MAX_DIMS], s = 1, nk = 1, nr = 1;
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    memset(&v, 0, sizeof v); v.base = nd->larg[0];
    for (d = y->ndim - 1; d >= 0; d--) { ost[d] = s; s *= y->shape[d]; }
    for (d = 0; d < y->ndim; d++) {
        int64_t st = nd->larg[1 + d];
        if (st == 0 && y->shape[d] > 1) { v.rshape[v.nr] = y->shape[d]; v.rost[v.nr++] = ost[d]; nr *= y->shape[d]; }
        else { v.kshape[v.nk] = y->shape[d]; v.kst[v.nk] = st; v.kost[v.nk++] = ost[d]; nk *= y->shape[d]; }
    }
    /* injective when, sorted by |stride|, each stride exceeds the span of the smaller ones */
    {   int used[DL_MAX_DIMS] = {0}; int64_t span = 0;
        for (i = 0; i < v.nk && injective; i++) {
            int best = -1;
            for (d = 0; d < v.nk; d++) if (!used[d] && v.kshape[d] > 1 && (best < 0 || llabs((long long)v.kst[d]) < llabs((long long)v.kst[best]))) best = d;
            if (best < 0) break;
            used[best] = 1;
            if (llabs((long long)v.kst[best]) <= span) injective = 0;
            span += (v.kshape[best] - 1) * llabs((long long)v.kst[best]);
        }
    }
    if (injective) DLC_LAUNCH(dlc_k_view_bwd, dlc_blocks(nk), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), v, nk, nr);
    else {   /* overlapping: walk every output element in order, as the CPU (all dims kept) */
        memset(&v, 0, sizeof v); v.base = nd->larg[0]; v.nk = y->ndim;
        for (d = 0; d < y->ndim; d++) { v.kshape[d] = y->shape[d]; v.kst[d] = nd->larg[1 + d]; }
        DLC_LAUNCH(dlc_k_view_bwd_serial, 1, 1, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), v, y->numel);
    }
    return dlc_status(ctx);
}

/* ---- gather (torch.gather) along iarg[0]: y[p] = x[p with axis coordinate idx[p]].
   Backward: atomics, or (deterministic) one thread per line along the axis walking the
   line's index entries in order. */
typedef struct dlc_gg { int nd, a; int64_t shape[DL_MAX_DIMS], xst[DL_MAX_DIMS]; } dlc_gg;
__device__ int64_t dlc_gg_off(const dlc_gg &g, int64_t i) {   /* x offset of idx element i, axis coordinate 0 */
    int64_t off = 0; int d;
    for (d = g.nd - 1; d >= 0; d--) { int64_t c = i % g.shape[d]; i /= g.shape[d]; if (d != g.a) off += c * g.xst[d]; }
    return off;
}
__global__ void dlc_k_gather_idx(float *y, const float *x, const int32_t *idx, dlc_gg g, int64_t n) {
    DLC_LOOP(i, n) y[i] = x[dlc_gg_off(g, i) + (int64_t)idx[i] * g.xst[g.a]];
}
__global__ void dlc_k_gather_bwd_atomic(float *gx, const float *gy, const int32_t *idx, dlc_gg g, int64_t n) {
    DLC_LOOP(i, n) atomicAdd(&gx[dlc_gg_off(g, i) + (int64_t)idx[i] * g.xst[g.a]], gy[i]);
}
/* line l: the idx elements sharing every coordinate but the axis one */
__global__ void dlc_k_gather_bwd_lines(float *gx, const float *gy, const int32_t *idx, dlc_gg g, int64_t lines, int64_t m, int64_t in_st) {
    DLC_LOOP(l, lines) {
        const int64_t first = (l / in_st) * m * in_st + l % in_st, xb = dlc_gg_off(g, first); int64_t k;
        for (k = 0; k < m; k++) { const int64_t i = first + k * in_st; gx[xb + (int64_t)idx[i] * g.xst[g.a]] += gy[i]; }
    }
}
static void dlc_gg_init(dlc_gg *g, const dl_tensor *x, const dl_tensor *idx, int a) {
    int d; memset(g, 0, sizeof *g); g->nd = idx->ndim; g->a = a;
    for (d = 0; d < idx->ndim; d++) { g->shape[d] = idx->shape[d]; g->xst[d] = x->stride[d]; }
}
static dl_status dlc_fwd_gather(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *idx = nd->in[1], *y = nd->out; dlc_gg g; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_gg_init(&g, x, idx, nd->iarg[0]);
    DLC_LAUNCH(dlc_k_gather_idx, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), DLC_CI(ctx, idx->idata), g, y->numel);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_gather(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *idx = nd->in[1], *y = nd->out; dlc_gg g; dlc_state *S = dlc_st(ctx); int a = nd->iarg[0], d;
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    dlc_gg_init(&g, x, idx, a);
    if (!dl_backend_deterministic(ctx))
        DLC_LAUNCH(dlc_k_gather_bwd_atomic, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), DLC_CI(ctx, idx->idata), g, y->numel);
    else {
        int64_t m = idx->shape[a], in_st = 1;
        for (d = a + 1; d < idx->ndim; d++) in_st *= idx->shape[d];
        DLC_LAUNCH(dlc_k_gather_bwd_lines, dlc_blocks(y->numel / m), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), DLC_CI(ctx, idx->idata),
                   g, y->numel / m, m, in_st);
    }
    return dlc_status(ctx);
}

/* ---- index_select along iarg[0]: y[o, j, i] = x[o, idx[j], i]. Backward: atomics, or
   (deterministic) one thread per (o, i) column walking j in order. */
static void dlc_is_dims(const dl_tensor *x, int a, int64_t *outer, int64_t *inner) {
    int d; *outer = 1; *inner = 1;
    for (d = 0; d < a; d++) *outer *= x->shape[d];
    for (d = a + 1; d < x->ndim; d++) *inner *= x->shape[d];
}
__global__ void dlc_k_index_select(float *y, const float *x, const int32_t *idx, int64_t n, int64_t m, int64_t inner, int64_t total) {
    DLC_LOOP(e, total) {
        const int64_t i = e % inner, j = (e / inner) % m, o = e / (inner * m);
        y[e] = x[(o * n + idx[j]) * inner + i];
    }
}
__global__ void dlc_k_index_select_bwd_atomic(float *gx, const float *gy, const int32_t *idx, int64_t n, int64_t m, int64_t inner, int64_t total) {
    DLC_LOOP(e, total) {
        const int64_t i = e % inner, j = (e / inner) % m, o = e / (inner * m);
        atomicAdd(&gx[(o * n + idx[j]) * inner + i], gy[e]);
    }
}
__global__ void dlc_k_index_select_bwd_cols(float *gx, const float *gy, const int32_t *idx, int64_t n, int64_t m, int64_t inner, int64_t cols) {
    DLC_LOOP(c, cols) {
        const int64_t i = c % inner, o = c / inner; int64_t j;
        for (j = 0; j < m; j++) gx[(o * n + idx[j]) * inner + i] += gy[(o * m + j) * inner + i];
    }
}
static dl_status dlc_fwd_index_select(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *idx = nd->in[1], *y = nd->out; int64_t outer, inner; int a = nd->iarg[0]; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_is_dims(x, a, &outer, &inner);
    DLC_LAUNCH(dlc_k_index_select, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), DLC_CI(ctx, idx->idata),
               x->shape[a], y->shape[a], inner, y->numel);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_index_select(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *idx = nd->in[1], *y = nd->out; int64_t outer, inner; int a = nd->iarg[0]; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    dlc_is_dims(x, a, &outer, &inner);
    if (!dl_backend_deterministic(ctx))
        DLC_LAUNCH(dlc_k_index_select_bwd_atomic, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), DLC_CI(ctx, idx->idata),
                   x->shape[a], y->shape[a], inner, y->numel);
    else
        DLC_LAUNCH(dlc_k_index_select_bwd_cols, dlc_blocks(outer * inner), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), DLC_CI(ctx, idx->idata),
                   x->shape[a], y->shape[a], inner, outer * inner);
    return dlc_status(ctx);
}

/* ---- concat along iarg[0], any number of inputs: one launch per input slab */
__global__ void dlc_k_concat(float *y, const float *x, int64_t w, int64_t yw, int64_t pos, int64_t n, int bwd) {
    DLC_LOOP(e, n) {
        const int64_t yo = (e / w) * yw + pos + e % w;
        if (bwd) y[e] += x[yo];   /* y = dx, x = dy */
        else y[yo] = x[e];
    }
}
static dl_status dlc_concat_run(dl_ctx *ctx, dl__node *nd, int bwd) {
    dl_tensor *y = nd->out; int a = nd->iarg[0], i, d; int64_t inner = 1, pos = 0, yw; dlc_state *S = dlc_st(ctx);
    for (d = a + 1; d < y->ndim; d++) inner *= y->shape[d];
    yw = y->shape[a] * inner;
    for (i = 0; i < nd->nin; i++) {
        dl_tensor *x = nd->in[i]; const int64_t w = x->shape[a] * inner;
        if (x->numel) {
            if (!bwd) DLC_LAUNCH(dlc_k_concat, dlc_blocks(x->numel), DLC_THREADS, S, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), w, yw, pos * inner, x->numel, 0);
            else if (x->grad) DLC_LAUNCH(dlc_k_concat, dlc_blocks(x->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, y->grad), w, yw, pos * inner, x->numel, 1);
        }
        pos += x->shape[a];
    }
    return dlc_status(ctx);
}
static dl_status dlc_fwd_concat(dl_ctx *ctx, dl__node *nd, int phase) {
    if (phase == DL_PHASE_PLAN || !nd->out->numel) return DL_STATUS_OK;
    return dlc_concat_run(ctx, nd, 0);
}
static dl_status dlc_bwd_concat(dl_ctx *ctx, dl__node *nd, int phase) {
    if (phase == DL_PHASE_PLAN || !nd->out->numel) return DL_STATUS_OK;
    return dlc_concat_run(ctx, nd, 1);
}

/* ---- where(cond, a, b) with broadcast; cond is F32 (nonzero: true) or I32, no gradient.
   Backward: one thread per operand element sums, in order, over the outputs reading it. */
typedef struct dlc_geo4 { int nd; int64_t shape[DL_MAX_DIMS], st[4][DL_MAX_DIMS]; } dlc_geo4;
__device__ int64_t dlc_off4(const dlc_geo4 &g, int k, int64_t i) {
    int64_t off = 0; int d;
    for (d = g.nd - 1; d >= 0; d--) { int64_t n = g.shape[d]; off += (i % n) * g.st[k][d]; i /= n; }
    return off;
}
__device__ int dlc_cond(const float *cf, const int32_t *ci, int64_t o) { return cf ? cf[o] != 0.0f : ci[o] != 0; }
__global__ void dlc_k_where(float *y, const float *cf, const int32_t *ci, const float *a, const float *b, dlc_geo4 g, int64_t n) {
    DLC_LOOP(i, n) y[i] = dlc_cond(cf, ci, dlc_off4(g, 1, i)) ? a[dlc_off4(g, 2, i)] : b[dlc_off4(g, 3, i)];
}
__global__ void dlc_k_where_bwd(int which, float *gt, int64_t nt, int64_t nred, dlc_red r, dlc_geo4 g, const float *gy, const float *cf, const int32_t *ci) {
    DLC_LOOP(e, nt) {
        int64_t base = dlc_red_base(r, e), j; float acc = 0.0f;
        for (j = 0; j < nred; j++) {
            const int64_t o = base + dlc_red_off(r, j);
            const int c = dlc_cond(cf, ci, dlc_off4(g, 1, o));
            if (which == 0 ? c : !c) acc += gy[o];
        }
        gt[e] += acc;
    }
}
static void dlc_geo4_init(dlc_geo4 *g, const dl__node *nd) {
    const dl_tensor *y = nd->out; int k, d;
    memset(g, 0, sizeof *g); g->nd = y->ndim;
    for (d = 0; d < y->ndim; d++) { g->shape[d] = y->shape[d]; g->st[0][d] = y->stride[d]; }
    for (k = 0; k < 3; k++) {
        const dl_tensor *t = nd->in[k]; int off = y->ndim - t->ndim;
        for (d = 0; d < y->ndim; d++) { int td = d - off; g->st[k + 1][d] = (td < 0 || t->shape[td] == 1) ? 0 : t->stride[td]; }
    }
}
static dl_status dlc_fwd_where(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *c = nd->in[0], *y = nd->out; dlc_geo4 g; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_geo4_init(&g, nd);
    DLC_LAUNCH(dlc_k_where, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, y->data), c->dtype == DL_I32 ? NULL : DLC_CF(ctx, c->data),
               c->dtype == DL_I32 ? DLC_CI(ctx, c->idata) : NULL, DLC_CF(ctx, nd->in[1]->data), DLC_CF(ctx, nd->in[2]->data), g, y->numel);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_where(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *c = nd->in[0], *y = nd->out; dlc_geo4 g; dlc_state *S = dlc_st(ctx); int w;
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    dlc_geo4_init(&g, nd);
    for (w = 0; w < 2; w++) {
        dl_tensor *t = nd->in[1 + w]; dlc_red r;
        if (!t->grad || !t->numel) continue;
        dlc_red_init(&r, y, t);
        DLC_LAUNCH(dlc_k_where_bwd, dlc_blocks(t->numel), DLC_THREADS, S, w, DLC_F(ctx, t->grad), t->numel, y->numel / t->numel, r, g,
                   DLC_CF(ctx, y->grad), c->dtype == DL_I32 ? NULL : DLC_CF(ctx, c->data), c->dtype == DL_I32 ? DLC_CI(ctx, c->idata) : NULL);
    }
    return dlc_status(ctx);
}

/* ---- prelu: channel c = (i / inner) % C (one shared weight when C = 1). The weight's
   gradient: one block per channel sums its elements (double) in a fixed order. */
__global__ void dlc_k_prelu(float *y, const float *x, const float *a, int64_t C, int64_t inner, int64_t n) {
    DLC_LOOP(i, n) { const float v = x[i]; const int64_t c = C == 1 ? 0 : (i / inner) % C; y[i] = v > 0.0f ? v : a[c] * v; }
}
__global__ void dlc_k_prelu_bwd_x(float *gx, const float *x, const float *a, const float *gy, int64_t C, int64_t inner, int64_t n) {
    DLC_LOOP(i, n) { const int64_t c = C == 1 ? 0 : (i / inner) % C; gx[i] += x[i] > 0.0f ? gy[i] : a[c] * gy[i]; }
}
__global__ void dlc_k_prelu_bwd_a(float *ga, const float *x, const float *gy, int64_t C, int64_t inner, int64_t n) {
    __shared__ double shd[1024];
    int64_t c, k;
    for (c = blockIdx.x; c < C; c += gridDim.x) {
        const int64_t per = n / C; double s = 0.0;   /* channel c: elements (k / inner) * C * inner + c * inner + k % inner */
        for (k = threadIdx.x; k < per; k += blockDim.x) {
            const int64_t i = C == 1 ? k : (k / inner) * C * inner + c * inner + k % inner;
            const float v = x[i];
            if (!(v > 0.0f)) s += (double)(v * gy[i]);
        }
        s = dlc_block_sum_d(s, shd);
        if (threadIdx.x == 0) ga[c] += (float)s;
    }
}
static dl_status dlc_fwd_prelu(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *a = nd->in[1], *y = nd->out; int64_t inner = 1; int d; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    for (d = 2; d < x->ndim; d++) inner *= x->shape[d];
    DLC_LAUNCH(dlc_k_prelu, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, y->data), DLC_CF(ctx, x->data), DLC_CF(ctx, a->data), a->numel, inner, y->numel);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_prelu(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *a = nd->in[1], *y = nd->out; int64_t inner = 1; int d; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    for (d = 2; d < x->ndim; d++) inner *= x->shape[d];
    if (x->grad) DLC_LAUNCH(dlc_k_prelu_bwd_x, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, x->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, a->data),
                            DLC_CF(ctx, y->grad), a->numel, inner, y->numel);
    if (a->grad) DLC_LAUNCH(dlc_k_prelu_bwd_a, dlc_grid(a->numel), DLC_THREADS, S, DLC_F(ctx, a->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, y->grad),
                            a->numel, inner, y->numel);
    return dlc_status(ctx);
}
/* (end of >>cuda-ops-A) */

/* >>cuda-ops-B  convolutions and pooling */
/* ---- convolutions: dl.h's im2col geometry (dl__cgeo, see >>ops-conv), batched over a chunk
   of nb images at once. Scratch (nd->aux, arena, planned once per node and shared by its
   forward and backward): cols [Ckk, nb*P] then buf [O, nb*P], where Ckk = C*kh*kw (every
   group's rows, group g at rows g*kc), P = OH*OW and column n*P + p is image n0+n, output
   pixel p ("channels first" layout: one GEMM per group covers the whole chunk, batched over
   the groups by strides). buf holds the column side [O, nb*P] (conv2d's output,
   conv_transpose2d's input) transposed from / to [N, O, P]. col2im is a gather: each image
   pixel sums the column entries that read it, in the CPU's (i, j) order, no atomics. */
typedef struct dlc_cg { int64_t N, C, H, W, O, OH, OW, kh, kw, sh, sw, dh, dw, pt, pl, g; } dlc_cg;
/* the node's geometry as dl.h's dl__cg_from_node stores it (larg: strides, dilations,
   top/left pads; iarg[0]: groups) */
static dlc_cg dlc_cg_of(const dl__node *nd, int transposed) {
    const dl_tensor *img = transposed ? nd->out : nd->in[0], *col = transposed ? nd->in[0] : nd->out, *w = nd->in[1];
    dlc_cg r;
    r.N = img->shape[0]; r.C = img->shape[1]; r.H = img->shape[2]; r.W = img->shape[3];
    r.O = col->shape[1]; r.OH = col->shape[2]; r.OW = col->shape[3];
    r.kh = w->shape[2]; r.kw = w->shape[3];
    r.sh = nd->larg[0]; r.sw = nd->larg[1]; r.dh = nd->larg[2]; r.dw = nd->larg[3];
    r.pt = nd->larg[4]; r.pl = nd->larg[5]; r.g = nd->iarg[0];
    return r;
}
#define DLC_CG_BUDGET ((int64_t)1 << 22)   /* scratch floats a chunk aims at (16 MiB) */
static int64_t dlc_cg_nb(const dlc_cg *q) {     /* images per chunk */
    int64_t per = (q->C * q->kh * q->kw + q->O) * q->OH * q->OW, nb = per > 0 ? DLC_CG_BUDGET / per : q->N;
    if (nb < 1) nb = 1;
    if (nb > q->N) nb = q->N;
    return nb;
}
/* cols[r][n*P + p] = img[n0+n][c][ih][iw], r = (c*kh + i)*kw + j; 0 outside the image */
__global__ void dlc_k_im2col(dlc_cg q, const float *img, float *cols, int64_t n0, int64_t nb) {
    const int64_t P = q.OH * q.OW, L = nb * P, tot = q.C * q.kh * q.kw * L;
    DLC_LOOP(e, tot) {
        int64_t r = e / L, col = e - r * L, n = col / P, p = col - n * P, oh = p / q.OW, ow = p - oh * q.OW;
        int64_t j = r % q.kw, i = (r / q.kw) % q.kh, c = r / (q.kw * q.kh);
        int64_t ih = oh * q.sh - q.pt + i * q.dh, iw = ow * q.sw - q.pl + j * q.dw;
        cols[e] = (ih >= 0 && ih < q.H && iw >= 0 && iw < q.W) ? img[(((n0 + n) * q.C + c) * q.H + ih) * q.W + iw] : 0.0f;
    }
}
/* img[n0+n][c][h][w] = (assign ? (b ? b[c] : 0) : img) + sum over (i, j) of the entry that read it */
__global__ void dlc_k_col2im(dlc_cg q, const float *cols, float *img, const float *b, int assign, int64_t n0, int64_t nb) {
    const int64_t P = q.OH * q.OW, L = nb * P, HW = q.H * q.W, tot = nb * q.C * HW;
    DLC_LOOP(e, tot) {
        int64_t n = e / (q.C * HW), rem = e - n * q.C * HW, c = rem / HW, hw = rem - c * HW, h = hw / q.W, w = hw - h * q.W, i, j;
        float *dst = img + n0 * q.C * HW + e;
        float acc = assign ? (b ? b[c] : 0.0f) : *dst;
        for (i = 0; i < q.kh; i++) {
            int64_t th = h + q.pt - i * q.dh, oh;
            if (th < 0 || th % q.sh) continue;
            oh = th / q.sh;
            if (oh >= q.OH) continue;
            for (j = 0; j < q.kw; j++) {
                int64_t tw = w + q.pl - j * q.dw, ow;
                if (tw < 0 || tw % q.sw) continue;
                ow = tw / q.sw;
                if (ow >= q.OW) continue;
                acc += cols[((c * q.kh + i) * q.kw + j) * L + n * P + oh * q.OW + ow];
            }
        }
        *dst = acc;
    }
}
/* buf[o][n*P + p] = src[n0+n][o][p] */
__global__ void dlc_k_to_cnp(const float *src, float *buf, int64_t O, int64_t P, int64_t n0, int64_t nb) {
    const int64_t L = nb * P;
    DLC_LOOP(e, O * L) {
        int64_t o = e / L, col = e - o * L, n = col / P, p = col - n * P;
        buf[e] = src[((n0 + n) * O + o) * P + p];
    }
}
/* dst[n0+n][o][p] = (acc ? dst : (b ? b[o] : 0)) + buf[o][n*P + p] */
__global__ void dlc_k_from_cnp(const float *buf, float *dst, const float *b, int acc, int64_t O, int64_t P, int64_t n0, int64_t nb) {
    const int64_t L = nb * P;
    DLC_LOOP(e, nb * O * P) {
        int64_t n = e / (O * P), rem = e - n * O * P, o = rem / P, p = rem - o * P;
        float *d = dst + n0 * O * P + e;
        *d = (acc ? *d : (b ? b[o] : 0.0f)) + buf[o * L + n * P + p];
    }
}
__global__ void dlc_k_bias_fill(float *y, const float *b, int64_t Ch, int64_t S, int64_t n) {
    DLC_LOOP(e, n) y[e] = b ? b[(e / S) % Ch] : 0.0f;
}
/* db[c] += sum over n, s of g[n][c][s]: one block per channel, in double as the CPU */
__global__ void dlc_k_bias_grad(float *db, const float *g, int64_t N, int64_t Ch, int64_t S) {
    __shared__ double sh[1024];
    const int64_t c = blockIdx.x, tot = N * S; double acc = 0.0; int64_t k; unsigned t = threadIdx.x, s;
    for (k = t; k < tot; k += blockDim.x) { int64_t n = k / S; acc += (double)g[(n * Ch + c) * S + (k - n * S)]; }
    sh[t] = acc; __syncthreads();
    for (s = blockDim.x / 2; s > 0; s >>= 1) { if (t < s) sh[t] += sh[t + s]; __syncthreads(); }
    if (t == 0) db[c] += (float)sh[0];
}
static dl_status dlc_bias_grad(dl_ctx *ctx, float *db, const float *g, int64_t N, int64_t Ch, int64_t S) {
    int64_t c0;
    for (c0 = 0; c0 < Ch; c0 += 65535) {   /* gridDim.x <= 65535 */
        int64_t nc = Ch - c0 < 65535 ? Ch - c0 : 65535;
        DLC_LAUNCH(dlc_k_bias_grad, dim3((unsigned)nc), 256, dlc_st(ctx), db + c0, g + c0 * S, N, Ch, S);
    }
    return dlc_status(ctx);
}
/* PLAN: the node's scratch (cols then buf), shared by its forward and backward */
static dl_status dlc_cg_plan(dl_ctx *ctx, dl__node *nd, int transposed) {
    dlc_cg q = dlc_cg_of(nd, transposed); int64_t nb = dlc_cg_nb(&q), P = q.OH * q.OW, n;
    if (nd->aux || q.N == 0 || P == 0 || q.C == 0 || q.O == 0) return DL_STATUS_OK;
    n = (q.C * q.kh * q.kw + q.O) * nb * P;
    nd->aux = dl_backend_alloc(ctx, (size_t)n * sizeof(float));
    if (!nd->aux) return dl_backend_fail(ctx, DL_STATUS_OOM, "no arena room for the im2col scratch");
    return DL_STATUS_OK;
}
/* the per-group GEMMs over a chunk, batched over the groups (L = nb*P columns):
   colside_g [Og, L] (=|+=) W_g [Og, kc] @ cols_g [kc, L]        (which 0)
   cols_g [kc, L] = W_g^T @ colside_g                            (which 1)
   dW_g [Og, kc] += colside_g @ cols_g^T                         (which 2) */
static void dlc_cg_gemm(dlc_state *S, const dlc_cg *q, int which, int64_t L, const float *w, float *dw, float *cols, float *buf, float beta) {
    int64_t Og = q->O / q->g, kc = (q->C / q->g) * q->kh * q->kw;
    if (which == 0) dlc_gemm(S, 0, 0, Og, L, kc, 1.0f, w, kc, Og * kc, cols, L, kc * L, beta, buf, L, Og * L, q->g);
    else if (which == 1) dlc_gemm(S, 1, 0, kc, L, Og, 1.0f, w, kc, Og * kc, buf, L, Og * L, 0.0f, cols, L, kc * L, q->g);
    else dlc_gemm(S, 0, 1, Og, kc, L, 1.0f, buf, L, Og * L, cols, L, kc * L, 1.0f, dw, kc, Og * kc, q->g);
}
static dl_status dlc_fwd_conv(dl_ctx *ctx, dl__node *nd, int phase, int tr) {
    dlc_cg q; int64_t nb, P, n0, Ckk; float *cols, *buf; const float *x, *w, *b; float *y; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN) return dlc_cg_plan(ctx, nd, tr);
    q = dlc_cg_of(nd, tr); P = q.OH * q.OW; Ckk = q.C * q.kh * q.kw; nb = dlc_cg_nb(&q);
    if (!nd->out->numel) return DL_STATUS_OK;
    x = DLC_CF(ctx, nd->in[0]->data); w = DLC_CF(ctx, nd->in[1]->data);
    b = nd->nin > 2 && nd->in[2] ? DLC_CF(ctx, nd->in[2]->data) : NULL; y = DLC_F(ctx, nd->out->data);
    if (!nd->aux) {   /* an empty side: y is the bias (or 0) */
        int64_t ch = tr ? q.C : q.O, sp = tr ? q.H * q.W : P;
        DLC_LAUNCH(dlc_k_bias_fill, dlc_blocks(nd->out->numel), DLC_THREADS, S, y, b, ch, sp, nd->out->numel);
        return dlc_status(ctx);
    }
    cols = DLC_F(ctx, nd->aux); buf = cols + Ckk * nb * P;
    for (n0 = 0; n0 < q.N; n0 += nb) {
        int64_t m = q.N - n0 < nb ? q.N - n0 : nb, L = m * P;
        if (!tr) {   /* y = b + W @ im2col(x) */
            DLC_LAUNCH(dlc_k_im2col, dlc_blocks(Ckk * L), DLC_THREADS, S, q, x, cols, n0, m);
            dlc_cg_gemm(S, &q, 0, L, w, NULL, cols, buf, 0.0f);
            DLC_LAUNCH(dlc_k_from_cnp, dlc_blocks(q.O * L), DLC_THREADS, S, (const float *)buf, y, b, 0, q.O, P, n0, m);
        } else {     /* y = b + col2im(W^T @ x) */
            DLC_LAUNCH(dlc_k_to_cnp, dlc_blocks(q.O * L), DLC_THREADS, S, x, buf, q.O, P, n0, m);
            dlc_cg_gemm(S, &q, 1, L, w, NULL, cols, buf, 0.0f);
            DLC_LAUNCH(dlc_k_col2im, dlc_blocks(m * q.C * q.H * q.W), DLC_THREADS, S, q, (const float *)cols, y, b, 1, n0, m);
        }
    }
    return dlc_status(ctx);
}
static dl_status dlc_bwd_conv(dl_ctx *ctx, dl__node *nd, int phase, int tr) {
    dlc_cg q; int64_t nb, P, n0, Ckk; float *cols, *buf, *gx, *gw, *gb; const float *x, *w, *gy; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN) return dlc_cg_plan(ctx, nd, tr);
    q = dlc_cg_of(nd, tr); P = q.OH * q.OW; Ckk = q.C * q.kh * q.kw; nb = dlc_cg_nb(&q);
    if (!nd->out->numel) return DL_STATUS_OK;
    gx = nd->in[0]->grad ? DLC_F(ctx, nd->in[0]->grad) : NULL; gw = nd->in[1]->grad ? DLC_F(ctx, nd->in[1]->grad) : NULL;
    gb = nd->nin > 2 && nd->in[2] && nd->in[2]->grad ? DLC_F(ctx, nd->in[2]->grad) : NULL;
    x = DLC_CF(ctx, nd->in[0]->data); w = DLC_CF(ctx, nd->in[1]->data); gy = DLC_CF(ctx, nd->out->grad);
    if (gb) {
        if (!tr) dlc_bias_grad(ctx, gb, gy, q.N, q.O, P);
        else dlc_bias_grad(ctx, gb, gy, q.N, q.C, q.H * q.W);
    }
    if (!nd->aux || (!gx && !gw)) return dlc_status(ctx);
    cols = DLC_F(ctx, nd->aux); buf = cols + Ckk * nb * P;
    for (n0 = 0; n0 < q.N; n0 += nb) {
        int64_t m = q.N - n0 < nb ? q.N - n0 : nb, L = m * P;
        if (!tr) {   /* dW += dY im2col(x)^T; dX += col2im(W^T dY) */
            DLC_LAUNCH(dlc_k_to_cnp, dlc_blocks(q.O * L), DLC_THREADS, S, gy, buf, q.O, P, n0, m);
            if (gw) {
                DLC_LAUNCH(dlc_k_im2col, dlc_blocks(Ckk * L), DLC_THREADS, S, q, x, cols, n0, m);
                dlc_cg_gemm(S, &q, 2, L, w, gw, cols, buf, 1.0f);
            }
            if (gx) {
                dlc_cg_gemm(S, &q, 1, L, w, NULL, cols, buf, 0.0f);
                DLC_LAUNCH(dlc_k_col2im, dlc_blocks(m * q.C * q.H * q.W), DLC_THREADS, S, q, (const float *)cols, gx, (const float *)NULL, 0, n0, m);
            }
        } else {     /* cols = im2col(dY); dX += W cols; dW += x cols^T */
            DLC_LAUNCH(dlc_k_im2col, dlc_blocks(Ckk * L), DLC_THREADS, S, q, gy, cols, n0, m);
            if (gw) {
                DLC_LAUNCH(dlc_k_to_cnp, dlc_blocks(q.O * L), DLC_THREADS, S, x, buf, q.O, P, n0, m);
                dlc_cg_gemm(S, &q, 2, L, w, gw, cols, buf, 1.0f);
            }
            if (gx) {
                dlc_cg_gemm(S, &q, 0, L, w, NULL, cols, buf, 0.0f);
                DLC_LAUNCH(dlc_k_from_cnp, dlc_blocks(q.O * L), DLC_THREADS, S, (const float *)buf, gx, (const float *)NULL, 1, q.O, P, n0, m);
            }
        }
    }
    return dlc_status(ctx);
}
static dl_status dlc_fwd_conv2d(dl_ctx *ctx, dl__node *nd, int phase) { return dlc_fwd_conv(ctx, nd, phase, 0); }
static dl_status dlc_bwd_conv2d(dl_ctx *ctx, dl__node *nd, int phase) { return dlc_bwd_conv(ctx, nd, phase, 0); }
static dl_status dlc_fwd_convt2d(dl_ctx *ctx, dl__node *nd, int phase) { return dlc_fwd_conv(ctx, nd, phase, 1); }
static dl_status dlc_bwd_convt2d(dl_ctx *ctx, dl__node *nd, int phase) { return dlc_bwd_conv(ctx, nd, phase, 1); }

/* ---- pooling over planes p = n*C + c (see >>ops-pool). pool geometry: kh, kw, sh, sw, ph, pw */
typedef struct dlc_pg { int64_t P, H, W, OH, OW; int kh, kw, sh, sw, ph, pw, excl, adaptive; } dlc_pg;
static dlc_pg dlc_pg_of(const dl__node *nd, const int *g, int adaptive) {
    const dl_tensor *x = nd->in[0], *y = nd->out; dlc_pg r; memset(&r, 0, sizeof r);
    r.P = x->numel ? x->shape[0] * x->shape[1] : 0; r.H = x->shape[2]; r.W = x->shape[3]; r.OH = y->shape[2]; r.OW = y->shape[3];
    if (g) { r.kh = g[0]; r.kw = g[1]; r.sh = g[2]; r.sw = g[3]; r.ph = g[4]; r.pw = g[5]; }
    r.adaptive = adaptive;
    return r;
}
/* max: one thread per output, the CPU's scan (first max, NaN wins) */
__global__ void dlc_k_maxpool(dlc_pg q, const float *x, float *y, int32_t *ix) {
    DLC_LOOP(e, q.P * q.OH * q.OW) {
        int64_t p = e / (q.OH * q.OW), o = e - p * q.OH * q.OW, oh = o / q.OW, ow = o - oh * q.OW;
        int64_t h0 = oh * q.sh - q.ph, h1 = h0 + q.kh < q.H ? h0 + q.kh : q.H, w0 = ow * q.sw - q.pw, w1 = w0 + q.kw < q.W ? w0 + q.kw : q.W, h, w, bi;
        const float *xp = x + p * q.H * q.W; float best = -INFINITY;
        if (h0 < 0) h0 = 0;
        if (w0 < 0) w0 = 0;
        bi = h0 * q.W + w0;
        for (h = h0; h < h1; h++) for (w = w0; w < w1; w++) {
            float v = xp[h * q.W + w];
            if (v > best || v != v) { best = v; bi = h * q.W + w; }
        }
        y[e] = best;
        if (ix) ix[e] = (int32_t)bi;
    }
}
/* the outputs along one axis whose window may hold input h: [*lo, *hi] (checked exactly by the caller) */
__device__ void dlc_pool_cands(int64_t h, int k, int s, int p, int64_t OH, int64_t *lo, int64_t *hi) {
    int64_t a = h + p - k + 1, b = h + p;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b < 0 ? -1 : b / s;
    if (*hi > OH - 1) *hi = OH - 1;
}
/* max backward, gather: input i sums g[o] over the outputs o (in order) whose argmax is i */
__global__ void dlc_k_maxpool_bwd(dlc_pg q, const int32_t *ix, const float *g, float *gx) {
    DLC_LOOP(e, q.P * q.H * q.W) {
        int64_t p = e / (q.H * q.W), i = e - p * q.H * q.W, h = i / q.W, w = i - h * q.W, ohl, ohh, owl, owh, oh, ow;
        const int32_t *ip = ix + p * q.OH * q.OW; const float *gp = g + p * q.OH * q.OW; float acc = gx[e];
        dlc_pool_cands(h, q.kh, q.sh, q.ph, q.OH, &ohl, &ohh);
        dlc_pool_cands(w, q.kw, q.sw, q.pw, q.OW, &owl, &owh);
        for (oh = ohl; oh <= ohh; oh++) for (ow = owl; ow <= owh; ow++)
            if (ip[oh * q.OW + ow] == (int32_t)i) acc += gp[oh * q.OW + ow];
        gx[e] = acc;
    }
}
/* max backward, scatter with atomics (not deterministic: the order of the adds varies) */
__global__ void dlc_k_maxpool_bwd_atomic(dlc_pg q, const int32_t *ix, const float *g, float *gx) {
    DLC_LOOP(e, q.P * q.OH * q.OW) {
        int64_t p = e / (q.OH * q.OW);
        atomicAdd(gx + p * q.H * q.W + ix[e], g[e]);
    }
}
static dl_status dlc_fwd_max_pool2d(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_pg q; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    if (nd->nin < 2 || !nd->in[1]) return dl_backend_fail(ctx, DL_STATUS_UNSUPPORTED, "max_pool2d: no index tensor recorded");
    q = dlc_pg_of(nd, nd->iarg, 0);
    DLC_LAUNCH(dlc_k_maxpool, dlc_blocks(y->numel), DLC_THREADS, S, q, DLC_CF(ctx, x->data), DLC_F(ctx, y->data), DLC_I(ctx, nd->in[1]->idata));
    return dlc_status(ctx);
}
static dl_status dlc_bwd_max_pool2d(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_pg q; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !x->grad || !y->numel) return DL_STATUS_OK;
    q = dlc_pg_of(nd, nd->iarg, 0);
    if (dl_backend_deterministic(ctx))
        DLC_LAUNCH(dlc_k_maxpool_bwd, dlc_blocks(x->numel), DLC_THREADS, S, q, DLC_CI(ctx, nd->in[1]->idata), DLC_CF(ctx, y->grad), DLC_F(ctx, x->grad));
    else
        DLC_LAUNCH(dlc_k_maxpool_bwd_atomic, dlc_blocks(y->numel), DLC_THREADS, S, q, DLC_CI(ctx, nd->in[1]->idata), DLC_CF(ctx, y->grad), DLC_F(ctx, x->grad));
    return dlc_status(ctx);
}
/* mean pooling bins along one axis, as dl__mean_bin: [*a, *b) and the divisor's factor */
__device__ int64_t dlc_mean_bin(int adaptive, int k, int s, int p, int excl, int64_t o, int64_t H, int64_t OH, int64_t *a, int64_t *b) {
    int64_t lo, hi, full;
    if (adaptive) { *a = o * H / OH; *b = ((o + 1) * H + OH - 1) / OH; return *b - *a; }
    lo = o * s - p; hi = lo + k < H + p ? lo + k : H + p; full = hi - lo;
    *a = lo < 0 ? 0 : lo; *b = hi < H ? hi : H;
    return excl ? *b - *a : full;
}
__global__ void dlc_k_meanpool(dlc_pg q, const float *x, float *y) {
    DLC_LOOP(e, q.P * q.OH * q.OW) {
        int64_t p = e / (q.OH * q.OW), o = e - p * q.OH * q.OW, oh = o / q.OW, ow = o - oh * q.OW, h0, h1, w0, w1, h, w;
        int64_t fh = dlc_mean_bin(q.adaptive, q.kh, q.sh, q.ph, q.excl, oh, q.H, q.OH, &h0, &h1);
        int64_t fw = dlc_mean_bin(q.adaptive, q.kw, q.sw, q.pw, q.excl, ow, q.W, q.OW, &w0, &w1);
        const float *xp = x + p * q.H * q.W; double s = 0.0;
        if (h0 >= h1 || w0 >= w1) { y[e] = 0.0f; continue; }
        for (h = h0; h < h1; h++) for (w = w0; w < w1; w++) s += (double)xp[h * q.W + w];
        y[e] = (float)(s / (double)(fh * fw));
    }
}
/* gather: input (h, w) adds g[o] / div(o) over the bins o holding it, in the CPU's order */
__global__ void dlc_k_meanpool_bwd(dlc_pg q, const float *g, float *gx) {
    DLC_LOOP(e, q.P * q.H * q.W) {
        int64_t p = e / (q.H * q.W), i = e - p * q.H * q.W, h = i / q.W, w = i - h * q.W, ohl, ohh, owl, owh, oh, ow;
        const float *gp = g + p * q.OH * q.OW; float acc = gx[e];
        if (q.adaptive) {   /* bins holding h: floor(h OH / H) .. ceil((h+1) OH / H) - 1 */
            ohl = h * q.OH / q.H; ohh = ((h + 1) * q.OH + q.H - 1) / q.H - 1;
            owl = w * q.OW / q.W; owh = ((w + 1) * q.OW + q.W - 1) / q.W - 1;
            if (ohh > q.OH - 1) ohh = q.OH - 1;
            if (owh > q.OW - 1) owh = q.OW - 1;
        } else {
            dlc_pool_cands(h, q.kh, q.sh, q.ph, q.OH, &ohl, &ohh);
            dlc_pool_cands(w, q.kw, q.sw, q.pw, q.OW, &owl, &owh);
        }
        for (oh = ohl; oh <= ohh; oh++) {
            int64_t h0, h1, fh = dlc_mean_bin(q.adaptive, q.kh, q.sh, q.ph, q.excl, oh, q.H, q.OH, &h0, &h1);
            if (h < h0 || h >= h1) continue;
            for (ow = owl; ow <= owh; ow++) {
                int64_t w0, w1, fw = dlc_mean_bin(q.adaptive, q.kw, q.sw, q.pw, q.excl, ow, q.W, q.OW, &w0, &w1);
                if (w < w0 || w >= w1) continue;
                acc += gp[oh * q.OW + ow] / (float)(fh * fw);
            }
        }
        gx[e] = acc;
    }
}
static dl_status dlc_mean_pool(dl_ctx *ctx, dl__node *nd, int phase, int fwd) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_pg q; dlc_state *S = dlc_st(ctx); int adaptive = nd->op == DL__OP_adaptive_avg_pool2d;
    if (phase == DL_PHASE_PLAN || !y->numel || (!fwd && !x->grad)) return DL_STATUS_OK;
    q = dlc_pg_of(nd, adaptive ? NULL : nd->iarg, adaptive);
    if (!adaptive) q.excl = nd->iarg[6] != 0;
    if (fwd) DLC_LAUNCH(dlc_k_meanpool, dlc_blocks(y->numel), DLC_THREADS, S, q, DLC_CF(ctx, x->data), DLC_F(ctx, y->data));
    else if (x->numel) DLC_LAUNCH(dlc_k_meanpool_bwd, dlc_blocks(x->numel), DLC_THREADS, S, q, DLC_CF(ctx, y->grad), DLC_F(ctx, x->grad));
    return dlc_status(ctx);
}
static dl_status dlc_fwd_mean_pool(dl_ctx *ctx, dl__node *nd, int phase) { return dlc_mean_pool(ctx, nd, phase, 1); }
static dl_status dlc_bwd_mean_pool(dl_ctx *ctx, dl__node *nd, int phase) { return dlc_mean_pool(ctx, nd, phase, 0); }

/* ---- max_unpool2d: y = 0 but y.flat[idx[i]] = x[i], a repeated index keeping the LAST i
   (as the CPU): the winner per output is the largest i (atomicMax on a planned int scratch,
   order-free, so deterministic), then y gathers. Backward: dx[i] += g.flat[idx[i]]. dl.h
   cannot check the indices on a backend (they may come from a kernel): out-of-range ones
   are skipped here (no write, no gradient). */
#if defined(DLC_EMULATE)
static inline int dlc_atomic_max_i(int32_t *p, int32_t v) { int32_t o = *p; if (v > o) *p = v; return o; }
#else
__device__ __forceinline__ int dlc_atomic_max_i(int32_t *p, int32_t v) { return atomicMax((int *)p, (int)v); }
#endif
__global__ void dlc_k_fill_i(int32_t *p, int64_t n, int32_t v) { DLC_LOOP(i, n) p[i] = v; }
__global__ void dlc_k_unpool_win(const int32_t *ix, int32_t *win, int64_t P, int64_t HW, int64_t OHW) {
    DLC_LOOP(e, P * HW) { int64_t p = e / HW; int32_t k = ix[e]; if (k >= 0 && k < OHW) dlc_atomic_max_i(win + p * OHW + k, (int32_t)(e - p * HW)); }
}
__global__ void dlc_k_unpool_fwd(const float *x, const int32_t *win, float *y, int64_t P, int64_t HW, int64_t OHW) {
    DLC_LOOP(e, P * OHW) { int64_t p = e / OHW; int32_t i = win[e]; y[e] = i >= 0 ? x[p * HW + i] : 0.0f; }
}
__global__ void dlc_k_unpool_bwd(const int32_t *ix, const float *g, float *gx, int64_t P, int64_t HW, int64_t OHW) {
    DLC_LOOP(e, P * HW) { int64_t p = e / HW; int32_t k = ix[e]; if (k >= 0 && k < OHW) gx[e] += g[p * OHW + k]; }
}
static dl_status dlc_fwd_max_unpool2d(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_state *S = dlc_st(ctx);
    int64_t P = x->numel ? x->shape[0] * x->shape[1] : 0, HW = x->numel ? x->shape[2] * x->shape[3] : 0, OHW = y->numel ? y->shape[2] * y->shape[3] : 0;
    if (phase == DL_PHASE_PLAN) {
        if (y->numel && HW > INT32_MAX) return dl_backend_fail(ctx, DL_STATUS_UNSUPPORTED, "max_unpool2d: input plane too large for int32");
        if (y->numel) { nd->aux = dl_backend_alloc(ctx, (size_t)y->numel * sizeof(int32_t)); if (!nd->aux) return dl_backend_fail(ctx, DL_STATUS_OOM, "no arena room for max_unpool2d's scratch"); }
        return DL_STATUS_OK;
    }
    if (!y->numel) return DL_STATUS_OK;
    {   int32_t *win = DLC_I(ctx, nd->aux);
        if (!P) P = y->shape[0] * y->shape[1];
        DLC_LAUNCH(dlc_k_fill_i, dlc_blocks(y->numel), DLC_THREADS, S, win, y->numel, (int32_t)-1);
        if (x->numel) DLC_LAUNCH(dlc_k_unpool_win, dlc_blocks(x->numel), DLC_THREADS, S, DLC_CI(ctx, nd->in[1]->idata), win, P, HW, OHW);
        DLC_LAUNCH(dlc_k_unpool_fwd, dlc_blocks(y->numel), DLC_THREADS, S, DLC_CF(ctx, x->data), (const int32_t *)win, DLC_F(ctx, y->data), P, HW, OHW); }
    return dlc_status(ctx);
}
static dl_status dlc_bwd_max_unpool2d(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *y = nd->out; dlc_state *S = dlc_st(ctx); int64_t P, HW, OHW;
    if (phase == DL_PHASE_PLAN || !x->grad || !x->numel || !y->numel) return DL_STATUS_OK;
    P = x->shape[0] * x->shape[1]; HW = x->shape[2] * x->shape[3]; OHW = y->shape[2] * y->shape[3];
    DLC_LAUNCH(dlc_k_unpool_bwd, dlc_blocks(x->numel), DLC_THREADS, S, DLC_CI(ctx, nd->in[1]->idata), DLC_CF(ctx, y->grad), DLC_F(ctx, x->grad), P, HW, OHW);
    return dlc_status(ctx);
}

/* (end of >>cuda-ops-B) */

/* >>cuda-ops-C  normalizations and embedding */
/* embedding: y[i, :] = w[idx[i], :] (an out-of-range index reads nothing: y row 0).
   backward, deterministic: block (row v, column tile) scans the indices in order, through
   a shared chunk, and adds into dw[v, k] in the CPU's order; otherwise one atomicAdd per
   (position, column). padding_idx and out-of-range indices are skipped. */
__global__ void dlc_k_emb_fwd(float *y, const float *w, const int32_t *idx, int64_t n, int64_t V, int64_t D) {
    DLC_LOOP(e, n * D) {
        const int64_t i = e / D, k = e - i * D; const int64_t r = idx[i];
        y[e] = (r >= 0 && r < V) ? w[r * D + k] : 0.0f;
    }
}
__global__ void dlc_k_emb_bwd_atomic(float *gw, const float *g, const int32_t *idx, int64_t n, int64_t V, int64_t D, int pad) {
    DLC_LOOP(e, n * D) {
        const int64_t i = e / D, k = e - i * D; const int64_t r = idx[i];
        if (r < 0 || r >= V || r == pad) continue;
        atomicAdd(&gw[r * D + k], g[e]);
    }
}
__global__ void dlc_k_emb_bwd_ordered(float *gw, const float *g, const int32_t *idx, int64_t n, int64_t V, int64_t D, int pad) {
    __shared__ int32_t sidx[1024];
    const int64_t bd = blockDim.x;
    for (int64_t v = blockIdx.x; v < V; v += gridDim.x) {
        if (v == pad) continue;                                   /* uniform over the block */
        for (int64_t k0 = (int64_t)blockIdx.y * bd; k0 < D; k0 += (int64_t)gridDim.y * bd) {
            const int64_t k = k0 + threadIdx.x; float acc = k < D ? gw[v * D + k] : 0.0f; int hit = 0;
            for (int64_t i0 = 0; i0 < n; i0 += bd) {
                const int64_t cnt = n - i0 < bd ? n - i0 : bd; int64_t j;
                sidx[threadIdx.x] = threadIdx.x < cnt ? idx[i0 + threadIdx.x] : -1;
                __syncthreads();
                if (k < D) for (j = 0; j < cnt; j++) if (sidx[j] == v) { acc += g[(i0 + j) * D + k]; hit = 1; }
                __syncthreads();
            }
            if (k < D && hit) gw[v * D + k] = acc;
        }
    }
}
static dl_status dlc_fwd_embedding(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *w = nd->in[0], *idx = nd->in[1], *y = nd->out; dlc_state *S = dlc_st(ctx);
    if (phase == DL_PHASE_PLAN || !y->numel) return DL_STATUS_OK;
    DLC_LAUNCH(dlc_k_emb_fwd, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, y->data), DLC_CF(ctx, w->data), DLC_CI(ctx, idx->idata),
               idx->numel, w->shape[0], w->shape[1]);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_embedding(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *w = nd->in[0], *idx = nd->in[1], *y = nd->out; dlc_state *S = dlc_st(ctx);
    int64_t V = w->shape[0], D = w->shape[1], n = idx->numel;
    if (phase == DL_PHASE_PLAN || !w->grad || !y->numel || !V) return DL_STATUS_OK;
    if (dl_backend_deterministic(ctx)) {
        int64_t tiles = (D + DLC_THREADS - 1) / DLC_THREADS;
        dim3 grid((unsigned)(V < 65535 ? V : 65535), (unsigned)(tiles < 65535 ? tiles : 65535));
        DLC_LAUNCH(dlc_k_emb_bwd_ordered, grid, DLC_THREADS, S, DLC_F(ctx, w->grad), DLC_CF(ctx, y->grad), DLC_CI(ctx, idx->idata), n, V, D, nd->iarg[0]);
    } else
        DLC_LAUNCH(dlc_k_emb_bwd_atomic, dlc_blocks(y->numel), DLC_THREADS, S, DLC_F(ctx, w->grad), DLC_CF(ctx, y->grad), DLC_CI(ctx, idx->idata), n, V, D, nd->iarg[0]);
    return dlc_status(ctx);
}

/* batch norm: one block per channel c (grid-stride over channels), over its m = N*S
   elements (n, s) at (n*C + c)*S + s. Two passes in float (mean, then squared deviations);
   thread 0 writes mean / invstd to st ([2, C], input 3) and updates the running statistics
   as dl.h does (in double; unbiased variance); eval reads them instead. Then y. */
__global__ void dlc_k_bn_fwd(float *y, float *st, const float *x, const float *ga, const float *be, float *rm, int64_t rms,
                             float *rv, int64_t rvs, int64_t N, int64_t C, int64_t S, int train, float mo, float eps) {
    __shared__ float sh[1024];
    __shared__ float mi[2];
    const int64_t m = N * S;
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        float mean, inv;
        if (train) {
            float acc = 0.0f, var;
            for (int64_t e = threadIdx.x; e < m; e += blockDim.x) { const int64_t n = e / S; acc += x[(n * C + c) * S + (e - n * S)]; }
            mean = dlc_block_sum(acc, sh) / (float)m;
            acc = 0.0f;
            for (int64_t e = threadIdx.x; e < m; e += blockDim.x) { const int64_t n = e / S; const float d = x[(n * C + c) * S + (e - n * S)] - mean; acc += d * d; }
            var = dlc_block_sum(acc, sh) / (float)m;
            if (threadIdx.x == 0) {
                mi[0] = mean; mi[1] = (float)(1.0 / sqrt((double)var + (double)eps));
                if (rm && m > 1) {
                    const double dm = (double)mo;
                    rm[c * rms] = (float)((1.0 - dm) * (double)rm[c * rms] + dm * (double)mean);
                    rv[c * rvs] = (float)((1.0 - dm) * (double)rv[c * rvs] + dm * (double)var * (double)m / (double)(m - 1));
                }
            }
        } else if (threadIdx.x == 0) {
            mi[0] = rm[c * rms]; mi[1] = (float)(1.0 / sqrt((double)rv[c * rvs] + (double)eps));
        }
        __syncthreads();
        mean = mi[0]; inv = mi[1];
        if (threadIdx.x == 0) { st[c] = mean; st[C + c] = inv; }
        {   const float gam = ga ? ga[c] : 1.0f, bet = be ? be[c] : 0.0f;
            for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
                const int64_t n = e / S, o = (n * C + c) * S + (e - n * S);
                y[o] = (x[o] - mean) * inv * gam + bet;
            }
        }
        __syncthreads();                                          /* mi is reused */
    }
}
/* backward, one block per channel: s1 = sum dy, s2 = sum dy xhat; dgamma += s2, dbeta += s1;
   dx += gamma invstd (dy - s1/m - xhat s2/m) (train) or gamma invstd dy (eval) */
__global__ void dlc_k_bn_bwd(float *gx, float *gg, float *gb, const float *g, const float *x, const float *st, const float *ga,
                             int64_t N, int64_t C, int64_t S, int train) {
    __shared__ float sh[1024];
    const int64_t m = N * S;
    for (int64_t c = blockIdx.x; c < C; c += gridDim.x) {
        const float mean = st[c], inv = st[C + c], a = (ga ? ga[c] : 1.0f) * inv;
        float p1 = 0.0f, p2 = 0.0f, s1, s2;
        for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
            const int64_t n = e / S, o = (n * C + c) * S + (e - n * S);
            p1 += g[o]; p2 += g[o] * ((x[o] - mean) * inv);
        }
        s1 = dlc_block_sum(p1, sh); s2 = dlc_block_sum(p2, sh);
        if (threadIdx.x == 0) { if (gg) gg[c] += s2; if (gb) gb[c] += s1; }
        if (gx && m > 0) {
            const float b = train ? s1 / (float)m : 0.0f, cc = train ? s2 / (float)m : 0.0f;
            for (int64_t e = threadIdx.x; e < m; e += blockDim.x) {
                const int64_t n = e / S, o = (n * C + c) * S + (e - n * S);
                gx[o] += a * (g[o] - b - (x[o] - mean) * inv * cc);
            }
        }
    }
}
static int64_t dlc_norm_inner(const dl_tensor *x) { int d; int64_t n = 1; for (d = 2; d < x->ndim; d++) n *= x->shape[d]; return n; }
static dl_status dlc_fwd_batch_norm(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *ga = nd->in[1], *be = nd->in[2], *st = nd->in[3], *y = nd->out;
    dl_tensor *rm = nd->nin > 4 ? nd->in[4] : NULL, *rv = nd->nin > 5 ? nd->in[5] : NULL; dlc_state *S = dlc_st(ctx);
    int64_t N, C, Sp; int train = nd->iarg[0];
    if (phase == DL_PHASE_PLAN) {
        if (!st || nd->nin < 6) return dl_backend_fail(ctx, DL_STATUS_UNSUPPORTED, "batch_norm node without its statistics tensor");
        if (!train && (!rm || !rv)) return dl_backend_fail(ctx, DL_STATUS_INVALID, "batch_norm eval without running statistics");
        return DL_STATUS_OK;
    }
    if (!y->numel) return DL_STATUS_OK;
    N = x->shape[0]; C = x->shape[1]; Sp = dlc_norm_inner(x);
    DLC_LAUNCH(dlc_k_bn_fwd, dlc_grid(C), dlc_row_threads(N * Sp), S, DLC_F(ctx, y->data), DLC_F(ctx, st->data), DLC_CF(ctx, x->data),
               ga ? DLC_CF(ctx, ga->data) : (const float *)NULL, be ? DLC_CF(ctx, be->data) : (const float *)NULL,
               rm ? DLC_F(ctx, rm->data) : (float *)NULL, rm ? rm->stride[0] : 0, rv ? DLC_F(ctx, rv->data) : (float *)NULL, rv ? rv->stride[0] : 0,
               N, C, Sp, train, nd->farg[0], nd->farg[1]);
    return dlc_status(ctx);
}
static dl_status dlc_bwd_batch_norm(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *ga = nd->in[1], *be = nd->in[2], *st = nd->in[3], *y = nd->out; dlc_state *S = dlc_st(ctx);
    float *gx = x->grad, *gg = ga ? ga->grad : NULL, *gb = be ? be->grad : NULL; int64_t N, C, Sp;
    if (phase == DL_PHASE_PLAN || (!gx && !gg && !gb)) return DL_STATUS_OK;
    N = x->shape[0]; C = x->shape[1]; Sp = dlc_norm_inner(x);
    if (!C) return DL_STATUS_OK;
    DLC_LAUNCH(dlc_k_bn_bwd, dlc_grid(C), dlc_row_threads(N * Sp), S, gx ? DLC_F(ctx, gx) : (float *)NULL, gg ? DLC_F(ctx, gg) : (float *)NULL,
               gb ? DLC_F(ctx, gb) : (float *)NULL, DLC_CF(ctx, y->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, st->data),
               ga ? DLC_CF(ctx, ga->data) : (const float *)NULL, N, C, Sp, nd->iarg[0]);
    return dlc_status(ctx);
}

/* layer / group norm (dl.h's dl__rownorm): R rows of m = cg*S contiguous elements, G groups
   per sample; element k = j*S + s of row r takes gamma/beta p = (r % G)*cg + j. One block
   per row: mean, then squared deviations (float, two passes), st[r] = mean, st[R + r] = invstd. */
__global__ void dlc_k_rn_fwd(float *y, float *st, const float *x, const float *ga, const float *be, int64_t R, int64_t G, int64_t cg, int64_t S, float eps) {
    __shared__ float sh[1024];
    const int64_t m = cg * S;
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const float *xr = x + r * m; float *yr = y + r * m; const int64_t p0 = (r % G) * cg;
        float acc = 0.0f, mean, inv;
        for (int64_t k = threadIdx.x; k < m; k += blockDim.x) acc += xr[k];
        mean = dlc_block_sum(acc, sh) / (float)m;
        acc = 0.0f;
        for (int64_t k = threadIdx.x; k < m; k += blockDim.x) { const float d = xr[k] - mean; acc += d * d; }
        acc = dlc_block_sum(acc, sh);
        inv = (float)(1.0 / sqrt((double)acc / (double)m + (double)eps));
        if (threadIdx.x == 0) { st[r] = mean; st[R + r] = inv; }
        for (int64_t k = threadIdx.x; k < m; k += blockDim.x) {
            const int64_t p = p0 + k / S;
            yr[k] = (xr[k] - mean) * inv * (ga ? ga[p] : 1.0f) + (be ? be[p] : 0.0f);
        }
    }
}
/* dx, one block per row: gy = gamma dy; dx += invstd (gy - mean(gy) - xhat mean(gy xhat)) */
__global__ void dlc_k_rn_bwd_dx(float *gx, const float *g, const float *x, const float *st, const float *ga, int64_t R, int64_t G, int64_t cg, int64_t S) {
    __shared__ float sh[1024];
    const int64_t m = cg * S;
    for (int64_t r = blockIdx.x; r < R; r += gridDim.x) {
        const float *xr = x + r * m, *gr = g + r * m; float *dr = gx + r * m; const int64_t p0 = (r % G) * cg;
        const float mean = st[r], inv = st[R + r];
        float p1 = 0.0f, p2 = 0.0f, b, c;
        for (int64_t k = threadIdx.x; k < m; k += blockDim.x) {
            const float gy = gr[k] * (ga ? ga[p0 + k / S] : 1.0f);
            p1 += gy; p2 += gy * ((xr[k] - mean) * inv);
        }
        b = dlc_block_sum(p1, sh) / (float)m; c = dlc_block_sum(p2, sh) / (float)m;
        for (int64_t k = threadIdx.x; k < m; k += blockDim.x) {
            const float gy = gr[k] * (ga ? ga[p0 + k / S] : 1.0f);
            dr[k] += inv * (gy - b - (xr[k] - mean) * inv * c);
        }
    }
}
/* dgamma / dbeta, deterministic in two passes: part[ch][p] (and part[nch + ch][p]) = the
   sums over chunk ch of the rows of p's group (in double, in order), then dgamma[p] +=
   the chunks in order. Rows of group q are r = n*G + q, n < NR = R / G. */
__global__ void dlc_k_rn_bwd_part(double *part, const float *g, const float *x, const float *st, int64_t R, int64_t G, int64_t cg, int64_t S,
                                  int64_t NR, int64_t chunk, int64_t nch) {
    const int64_t m = cg * S, P = G * cg;
    DLC_LOOP(e, nch * P) {
        const int64_t ch = e / P, p = e - ch * P, q = p / cg, j = p - q * cg;
        const int64_t n1 = (ch + 1) * chunk < NR ? (ch + 1) * chunk : NR; int64_t n, s;
        double sdg = 0.0, sdb = 0.0;
        for (n = ch * chunk; n < n1; n++) {
            const int64_t r = n * G + q; const float mean = st[r], inv = st[R + r];
            const float *xr = x + r * m + j * S, *gr = g + r * m + j * S;
            for (s = 0; s < S; s++) { const float xh = (xr[s] - mean) * inv; sdg += (double)gr[s] * (double)xh; sdb += (double)gr[s]; }
        }
        part[ch * P + p] = sdg; part[(nch + ch) * P + p] = sdb;
    }
}
/* the same partials when S is large (group norm on images): one block per (sample n, p)
   reduces its S elements (per-thread double, then a fixed tree in float); chunk = 1 row */
__global__ void dlc_k_rn_bwd_part_s(double *part, const float *g, const float *x, const float *st, int64_t R, int64_t G, int64_t cg, int64_t S, int64_t NR) {
    __shared__ float sh[1024];
    const int64_t m = cg * S, P = G * cg;
    for (int64_t b = blockIdx.x; b < NR * P; b += gridDim.x) {
        const int64_t n = b / P, p = b - n * P, q = p / cg, j = p - q * cg, r = n * G + q;
        const float mean = st[r], inv = st[R + r], *xr = x + r * m + j * S, *gr = g + r * m + j * S;
        double sdg = 0.0, sdb = 0.0; float tg, tb;
        for (int64_t s = threadIdx.x; s < S; s += blockDim.x) { const float xh = (xr[s] - mean) * inv; sdg += (double)gr[s] * (double)xh; sdb += (double)gr[s]; }
        tg = dlc_block_sum((float)sdg, sh); tb = dlc_block_sum((float)sdb, sh);
        if (threadIdx.x == 0) { part[n * P + p] = (double)tg; part[(NR + n) * P + p] = (double)tb; }
    }
}
__global__ void dlc_k_rn_bwd_sum(float *gg, float *gb, const double *part, int64_t P, int64_t nch) {
    DLC_LOOP(p, P) {
        double sdg = 0.0, sdb = 0.0; int64_t ch;
        for (ch = 0; ch < nch; ch++) { sdg += part[ch * P + p]; sdb += part[(nch + ch) * P + p]; }
        if (gg) gg[p] += (float)sdg;
        if (gb) gb[p] += (float)sdb;
    }
}
static dl_status dlc_fwd_rownorm(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *ga = nd->in[1], *be = nd->in[2], *st = nd->in[3], *y = nd->out; dlc_state *S = dlc_st(ctx);
    int64_t G = nd->larg[0], cg = nd->larg[1], Sp = nd->larg[2], m = cg * Sp, R;
    if (phase == DL_PHASE_PLAN) return st ? DL_STATUS_OK : dl_backend_fail(ctx, DL_STATUS_UNSUPPORTED, "norm node without its statistics tensor");
    if (!y->numel || !m) return DL_STATUS_OK;
    R = st->shape[1];
    DLC_LAUNCH(dlc_k_rn_fwd, dlc_grid(R), dlc_row_threads(m), S, DLC_F(ctx, y->data), DLC_F(ctx, st->data), DLC_CF(ctx, x->data),
               ga ? DLC_CF(ctx, ga->data) : (const float *)NULL, be ? DLC_CF(ctx, be->data) : (const float *)NULL, R, G, cg, Sp, nd->farg[0]);
    return dlc_status(ctx);
}
/* the chunking of the dgamma / dbeta pass: at most 256 chunks and ~4 MB of partials;
   S >= 16: one row per chunk (dlc_k_rn_bwd_part_s) */
static void dlc_rn_chunks(int64_t NR, int64_t P, int64_t S, int64_t *chunk, int64_t *nch) {
    int64_t maxch = (int64_t)(1 << 19) / (2 * (P > 0 ? P : 1)), c;
    if (S >= 16) { *chunk = 1; *nch = NR > 0 ? NR : 1; return; }
    if (maxch > 256) maxch = 256;
    if (maxch < 1) maxch = 1;
    c = (NR + maxch - 1) / maxch; if (c < 16) c = 16;
    *chunk = c; *nch = NR > 0 ? (NR + c - 1) / c : 1;
}
static dl_status dlc_bwd_rownorm(dl_ctx *ctx, dl__node *nd, int phase) {
    dl_tensor *x = nd->in[0], *ga = nd->in[1], *be = nd->in[2], *st = nd->in[3], *y = nd->out; dlc_state *S = dlc_st(ctx);
    int64_t G = nd->larg[0], cg = nd->larg[1], Sp = nd->larg[2], m = cg * Sp, R = st->shape[1], P = G * cg, NR = G ? R / G : 0, chunk, nch;
    float *gx = x->grad, *gg = ga ? ga->grad : NULL, *gb = be ? be->grad : NULL;
    dlc_rn_chunks(NR, P, Sp, &chunk, &nch);
    if (phase == DL_PHASE_PLAN) {
        nd->aux = NULL;
        if ((gg || gb) && P > 0) {
            nd->aux = dl_backend_alloc(ctx, sizeof(double) * 2u * (size_t)(nch * P));
            if (!nd->aux) return DL_STATUS_OOM;   /* dl__alloc has set the status */
        }
        return DL_STATUS_OK;
    }
    if (!y->numel || !m) return DL_STATUS_OK;
    if (gx)
        DLC_LAUNCH(dlc_k_rn_bwd_dx, dlc_grid(R), dlc_row_threads(m), S, DLC_F(ctx, gx), DLC_CF(ctx, y->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, st->data),
                   ga ? DLC_CF(ctx, ga->data) : (const float *)NULL, R, G, cg, Sp);
    if (nd->aux) {
        double *part = (double *)dl_backend_dev(ctx, nd->aux);
        if (Sp >= 16)
            DLC_LAUNCH(dlc_k_rn_bwd_part_s, dlc_grid(NR * P), dlc_row_threads(Sp), S, part, DLC_CF(ctx, y->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, st->data),
                       R, G, cg, Sp, NR);
        else
            DLC_LAUNCH(dlc_k_rn_bwd_part, dlc_blocks(nch * P), DLC_THREADS, S, part, DLC_CF(ctx, y->grad), DLC_CF(ctx, x->data), DLC_CF(ctx, st->data),
                       R, G, cg, Sp, NR, chunk, nch);
        DLC_LAUNCH(dlc_k_rn_bwd_sum, dlc_blocks(P), DLC_THREADS, S, gg ? DLC_F(ctx, gg) : (float *)NULL, gb ? DLC_F(ctx, gb) : (float *)NULL, part, P, nch);
    }
    return dlc_status(ctx);
}

/* (end of >>cuda-ops-C) */

/* >>cuda-ops-D  recurrent layers */
/* dl_rnn_layer (DL__OP_rnn), the math of dl.h's >>op-rnn. Inputs: 0 x [T,B,I], 1 h0, 2 c0
   [B,H], 3 w_ih [GH,I], 4 w_hh [GH,H], 5 b_ih, 6 b_hh [GH], 7 lengths int32 [B], 8 saved;
   iarg[0] mode, iarg[1] reverse. The output P [T+1 (+1 LSTM), B, H] holds y, h_n, c_n; the
   running state lives in P's h_n / c_n rows (natural [B, H] layout). Forward: Xp = x W_ih^T
   for all T*B rows (one GEMM), then per step R = h W_hh^T (one GEMM [B,H] x [H,GH]) and one
   fused cell kernel (one thread per (b, unit j), all G gates of unit j: no races; h and c
   read and written in place by that thread only). All T steps always run, so the lengths
   may change between graph replays: at step s a sequence with s >= len[b] writes zeros to
   row t = s (y forward, dG backward), which covers exactly its padding rows. Saved per
   (t, b): LSTM i, f, g, o, c; GRU r, z, n, hn; then copies of h0, c0 (made here).
   Backward, steps in reverse: a fused cell kernel (dGate rows, the hh part into sb [B,GH],
   dh / dc in place) then dh += sb W_hh (one GEMM); after the loop dx += dG W_ih,
   dW_ih += dG^T x, dW_hh += dG_hh^T H_prev (GEMMs over all T*B rows) and the bias grads as
   ordered column sums (a fixed block tree: deterministic). */
typedef struct dlc_rnn_plan {
    float *xp, *R;                                   /* forward: Xp [T*B, GH], R [B, GH]  */
    float *dG, *dGh, *sb, *dh, *dc, *hp;             /* backward (planned by bwd)         */
} dlc_rnn_plan;
typedef struct dlc_rnn_geo { int mode, rev; int64_t T, B, H, G, S; } dlc_rnn_geo;
static dlc_rnn_geo dlc_rnn_geo_of(const dl__node *nd) {
    dlc_rnn_geo g; const int m = nd->iarg[0];
    g.mode = m; g.rev = nd->iarg[1] != 0;
    g.T = nd->in[0]->shape[0]; g.B = nd->in[0]->shape[1]; g.H = nd->in[4]->shape[1];
    g.G = m == DL_LSTM ? 4 : m == DL_GRU ? 3 : 1;
    g.S = m == DL_LSTM ? 5 * g.H : m == DL_GRU ? 4 * g.H : 0;
    return g;
}
__device__ float dlc_rnn_sig(float v) { return 1.0f / (1.0f + expf(-v)); }
/* sequence b's length, clamped to [0, T] (checked on the host; a stale host copy cannot
   send a kernel out of bounds) */
__device__ int64_t dlc_rnn_len(const int32_t *len, int64_t b, int64_t T) {
    int64_t L = len ? (int64_t)len[b] : T; return L < 0 ? 0 : (L > T ? T : L);
}
/* the state rows of P from h0 / c0 (or 0), and the saved copies of h0 / c0 */
__global__ void dlc_k_rnn_init(int64_t n, float *hn, float *cn, const float *h0, const float *c0, float *svh, float *svc) {
    DLC_LOOP(i, n) {
        float h = h0 ? h0[i] : 0.0f;
        hn[i] = h; if (svh) svh[i] = h;
        if (cn) { float c = c0 ? c0[i] : 0.0f; cn[i] = c; if (svc) svc[i] = c; }
    }
}
__global__ void dlc_k_rnn_cell(dlc_rnn_geo g, int64_t s, const float *xp, const float *R, const float *bih, const float *bhh,
                               const int32_t *len, float *y, float *hn, float *cn, float *sv) {
    const int64_t B = g.B, H = g.H, GH = g.G * g.H;
    DLC_LOOP(i, B * H) {
        const int64_t b = i / H, j = i % H, L = dlc_rnn_len(len, b, g.T);
        int64_t t, k; const float *xr, *rr; float pre[4], *sb;
        if (s >= L) { y[(s * B + b) * H + j] = 0.0f; continue; }
        t = g.rev ? L - 1 - s : s;
        xr = xp + (t * B + b) * GH; rr = R + b * GH;
        sb = sv ? sv + (t * B + b) * g.S : NULL;
        for (k = 0; k < g.G; k++) {   /* as the CPU: (x W_ih^T + (b_ih + b_hh)) + h W_hh^T; GRU's b_hn apart */
            const int64_t c = k * H + j; float v = xr[c];
            if (bih || bhh) v += (bih ? bih[c] : 0.0f) + ((bhh && !(g.mode == DL_GRU && k == 2)) ? bhh[c] : 0.0f);
            pre[k] = v;
        }
        if (g.mode == DL_RNN_TANH) { const float v = tanhf(pre[0] + rr[j]); hn[i] = v; y[(t * B + b) * H + j] = v; }
        else if (g.mode == DL_RNN_RELU) { float v = pre[0] + rr[j]; v = v > 0.0f ? v : 0.0f; hn[i] = v; y[(t * B + b) * H + j] = v; }
        else if (g.mode == DL_LSTM) {
            const float ig = dlc_rnn_sig(pre[0] + rr[j]), fg = dlc_rnn_sig(pre[1] + rr[H + j]);
            const float gg = tanhf(pre[2] + rr[2 * H + j]), og = dlc_rnn_sig(pre[3] + rr[3 * H + j]);
            const float c = fg * cn[i] + ig * gg, h = og * tanhf(c);
            cn[i] = c; hn[i] = h; y[(t * B + b) * H + j] = h;
            if (sb) { sb[j] = ig; sb[H + j] = fg; sb[2 * H + j] = gg; sb[3 * H + j] = og; sb[4 * H + j] = c; }
        } else {
            const float rg = dlc_rnn_sig(pre[0] + rr[j]), zg = dlc_rnn_sig(pre[1] + rr[H + j]);
            const float hnv = rr[2 * H + j] + (bhh ? bhh[2 * H + j] : 0.0f);
            const float n = tanhf(pre[2] + rg * hnv), h = (1.0f - zg) * n + zg * hn[i];
            hn[i] = h; y[(t * B + b) * H + j] = h;
            if (sb) { sb[j] = rg; sb[H + j] = zg; sb[2 * H + j] = n; sb[3 * H + j] = hnv; }
        }
    }
}
static dl_status dlc_fwd_rnn(dl_ctx *ctx, dl__node *nd, int phase) {
    const dlc_rnn_geo g = dlc_rnn_geo_of(nd); const int64_t T = g.T, B = g.B, H = g.H, GH = g.G * g.H;
    dl_tensor *const *in = nd->in; const int64_t I = in[0]->shape[2];
    dlc_rnn_plan *p = (dlc_rnn_plan *)nd->aux; dlc_state *S = dlc_st(ctx);
    float *P, *hn, *cn, *sv, *svh = NULL, *svc = NULL; int64_t s;
    if (phase == DL_PHASE_PLAN) {
        if (g.mode < DL_RNN_TANH || g.mode > DL_GRU) return dl_backend_fail(ctx, DL_STATUS_INVALID, "bad rnn mode");
        p = (dlc_rnn_plan *)dl_backend_alloc(ctx, sizeof(dlc_rnn_plan));
        if (!p) return dl_ctx_status(ctx) ? dl_ctx_status(ctx) : DL_STATUS_OOM;
        memset(p, 0, sizeof *p);
        p->xp = (float *)dl_backend_alloc(ctx, (size_t)(T * B * GH) * sizeof(float));
        p->R = (float *)dl_backend_alloc(ctx, (size_t)(B * GH) * sizeof(float));
        nd->aux = p;
        return dl_ctx_status(ctx);
    }
    if (!p) return dl_backend_fail(ctx, DL_STATUS_INVALID, "rnn forward was not planned");
    P = DLC_F(ctx, nd->out->data); hn = P + T * B * H; cn = g.mode == DL_LSTM ? hn + B * H : NULL;
    sv = in[8] ? DLC_F(ctx, in[8]->data) : NULL;
    if (sv && in[1]) svh = sv + T * B * g.S;
    if (sv && in[2]) svc = sv + T * B * g.S + (in[1] ? B * H : 0);
    if (I == 0) dlc_memset0(S, DLC_F(ctx, p->xp), (size_t)(T * B * GH) * sizeof(float));   /* cuBLAS refuses lda 0 */
    else dlc_gemm(S, 0, 1, T * B, GH, I, 1.0f, DLC_CF(ctx, in[0]->data), I, 0, DLC_CF(ctx, in[3]->data), I, 0, 0.0f, DLC_F(ctx, p->xp), GH, 0, 1);
    DLC_LAUNCH(dlc_k_rnn_init, dlc_blocks(B * H), DLC_THREADS, S, B * H, hn, cn, in[1] ? DLC_CF(ctx, in[1]->data) : (const float *)NULL,
               in[2] ? DLC_CF(ctx, in[2]->data) : (const float *)NULL, svh, svc);
    for (s = 0; s < T; s++) {
        dlc_gemm(S, 0, 1, B, GH, H, 1.0f, hn, H, 0, DLC_CF(ctx, in[4]->data), H, 0, 0.0f, DLC_F(ctx, p->R), GH, 0, 1);
        DLC_LAUNCH(dlc_k_rnn_cell, dlc_blocks(B * H), DLC_THREADS, S, g, s, DLC_CF(ctx, p->xp), DLC_CF(ctx, p->R),
                   in[5] ? DLC_CF(ctx, in[5]->data) : (const float *)NULL, in[6] ? DLC_CF(ctx, in[6]->data) : (const float *)NULL,
                   in[7] ? DLC_CI(ctx, in[7]->idata) : (const int32_t *)NULL, P, hn, cn, sv);
    }
    return dlc_status(ctx);
}
/* dh, dc from the gradients of P's h_n and c_n rows */
__global__ void dlc_k_rnn_bwd_init(int64_t n, float *dh, float *dc, const float *gh, const float *gc) {
    DLC_LOOP(i, n) { dh[i] = gh[i]; if (dc) dc[i] = gc[i]; }
}
__global__ void dlc_k_rnn_cell_bwd(dlc_rnn_geo g, int64_t s, const int32_t *len, const float *y, const float *gP, const float *sv,
                                   const float *h0, const float *c0, float *dG, float *dGh, float *sb, float *dh, float *dc) {
    const int64_t B = g.B, H = g.H, GH = g.G * g.H, S = g.S;
    DLC_LOOP(i, B * H) {
        const int64_t b = i / H, j = i % H, L = dlc_rnn_len(len, b, g.T);
        int64_t t, tp, k; float *gi, *gh, *sc = sb + b * GH, d;
        if (s >= L) {   /* this sequence is over: its padding row t = s gets zero gate gradients */
            for (k = 0; k < g.G; k++) { sc[k * H + j] = 0.0f; dG[(s * B + b) * GH + k * H + j] = 0.0f; dGh[(s * B + b) * GH + k * H + j] = 0.0f; }
            continue;
        }
        t = g.rev ? L - 1 - s : s;
        tp = s == 0 ? -1 : (g.rev ? t + 1 : t - 1);
        gi = dG + (t * B + b) * GH; gh = dGh + (t * B + b) * GH;
        d = dh[i] + gP[(t * B + b) * H + j];
        if (g.mode == DL_RNN_TANH) {
            const float h = y[(t * B + b) * H + j], a = d * (1.0f - h * h);
            gi[j] = a; sc[j] = a; dh[i] = 0.0f;
        } else if (g.mode == DL_RNN_RELU) {
            const float a = y[(t * B + b) * H + j] > 0.0f ? d : 0.0f;
            gi[j] = a; sc[j] = a; dh[i] = 0.0f;
        } else if (g.mode == DL_LSTM) {
            const float *svr = sv + (t * B + b) * S;
            const float ig = svr[j], fg = svr[H + j], gg = svr[2 * H + j], og = svr[3 * H + j], c = svr[4 * H + j];
            const float cp = tp < 0 ? (c0 ? c0[i] : 0.0f) : sv[(tp * B + b) * S + 4 * H + j];
            const float tc = tanhf(c), dct = dc[i] + d * og * (1.0f - tc * tc);
            const float ai = dct * gg * ig * (1.0f - ig), af = dct * cp * fg * (1.0f - fg);
            const float ag = dct * ig * (1.0f - gg * gg), ao = d * tc * og * (1.0f - og);
            gi[j] = ai; gi[H + j] = af; gi[2 * H + j] = ag; gi[3 * H + j] = ao;
            sc[j] = ai; sc[H + j] = af; sc[2 * H + j] = ag; sc[3 * H + j] = ao;
            dc[i] = dct * fg; dh[i] = 0.0f;
        } else {
            const float *svr = sv + (t * B + b) * S;
            const float rg = svr[j], zg = svr[H + j], n = svr[2 * H + j], hnv = svr[3 * H + j];
            const float hpv = tp < 0 ? (h0 ? h0[i] : 0.0f) : y[(tp * B + b) * H + j];
            const float an = d * (1.0f - zg) * (1.0f - n * n), ar = an * hnv * rg * (1.0f - rg);
            const float az = d * (hpv - n) * zg * (1.0f - zg);
            gi[j] = ar; gi[H + j] = az; gi[2 * H + j] = an;
            gh[j] = ar; gh[H + j] = az; gh[2 * H + j] = an * rg;
            sc[j] = ar; sc[H + j] = az; sc[2 * H + j] = an * rg;
            dh[i] = d * zg;
        }
    }
}
/* H_prev [T*B, H]: the state each valid (t, b) started from; 0 on padding rows */
__global__ void dlc_k_rnn_hprev(dlc_rnn_geo g, const int32_t *len, const float *y, const float *h0, float *hp) {
    const int64_t B = g.B, H = g.H;
    DLC_LOOP(i, g.T * B * H) {
        const int64_t r = i / H, j = i % H, t = r / B, b = r % B, L = dlc_rnn_len(len, b, g.T);
        int64_t tp;
        if (t >= L) { hp[i] = 0.0f; continue; }
        tp = g.rev ? (t == L - 1 ? -1 : t + 1) : t - 1;
        hp[i] = tp >= 0 ? y[(tp * B + b) * H + j] : (h0 ? h0[b * H + j] : 0.0f);
    }
}
__global__ void dlc_k_rnn_state_grad(int64_t n, float *gh0, float *gc0, const float *dh, const float *dc) {
    DLC_LOOP(i, n) { if (gh0) gh0[i] += dh[i]; if (gc0) gc0[i] += dc[i]; }
}
/* gb[j] += sum over rows r of g[r * ncol + j], rows in a fixed order per thread and a fixed
   block tree (blockDim a power of two): the same bits every run */
__global__ void dlc_k_rnn_colsum(float *gb, const float *g, int64_t rows, int64_t ncol) {
    __shared__ float sh[1024];
    for (int64_t j = blockIdx.x; j < ncol; j += gridDim.x) {   /* uniform over the block */
        float acc = 0.0f; int64_t r;
        for (r = threadIdx.x; r < rows; r += blockDim.x) acc += g[r * ncol + j];
        acc = dlc_block_sum(acc, sh);
        if (threadIdx.x == 0) gb[j] += acc;
    }
}
static float *dlc_rnn_ingrad(dl_ctx *ctx, dl__node *nd, int i) {
    dl_tensor *t = nd->in[i];
    return (t && t->requires_grad && t->grad) ? DLC_F(ctx, t->grad) : NULL;
}
static dl_status dlc_bwd_rnn(dl_ctx *ctx, dl__node *nd, int phase) {
    const dlc_rnn_geo g = dlc_rnn_geo_of(nd); const int64_t T = g.T, B = g.B, H = g.H, GH = g.G * g.H;
    dl_tensor *const *in = nd->in; const int64_t I = in[0]->shape[2];
    dlc_rnn_plan *p = (dlc_rnn_plan *)nd->aux; dlc_state *S = dlc_st(ctx);
    float *gx, *gh0, *gc0, *gwih, *gwhh, *gbih, *gbhh; const float *gP, *y, *sv, *h0 = NULL, *c0 = NULL;
    const int32_t *len; int64_t s;
    if (!p) return dl_backend_fail(ctx, DL_STATUS_INVALID, "rnn forward was not planned");
    if (!nd->out->grad) return DL_STATUS_OK;
    if (phase == DL_PHASE_PLAN) {
        p->dG = (float *)dl_backend_alloc(ctx, (size_t)(T * B * GH) * sizeof(float));
        p->dGh = g.mode == DL_GRU ? (float *)dl_backend_alloc(ctx, (size_t)(T * B * GH) * sizeof(float)) : p->dG;
        p->sb = (float *)dl_backend_alloc(ctx, (size_t)(B * GH) * sizeof(float));
        p->dh = (float *)dl_backend_alloc(ctx, (size_t)(B * H) * sizeof(float));
        p->dc = g.mode == DL_LSTM ? (float *)dl_backend_alloc(ctx, (size_t)(B * H) * sizeof(float)) : NULL;
        p->hp = (in[4]->requires_grad && in[4]->grad) ? (float *)dl_backend_alloc(ctx, (size_t)(T * B * H) * sizeof(float)) : NULL;
        if (!dl_ctx_status(ctx) && g.mode != DL_RNN_TANH && g.mode != DL_RNN_RELU && !in[8])
            return dl_backend_fail(ctx, DL_STATUS_INVALID, "rnn backward without saved gates");
        return dl_ctx_status(ctx);
    }
    gx = dlc_rnn_ingrad(ctx, nd, 0); gh0 = dlc_rnn_ingrad(ctx, nd, 1); gc0 = dlc_rnn_ingrad(ctx, nd, 2);
    gwih = dlc_rnn_ingrad(ctx, nd, 3); gwhh = dlc_rnn_ingrad(ctx, nd, 4); gbih = dlc_rnn_ingrad(ctx, nd, 5); gbhh = dlc_rnn_ingrad(ctx, nd, 6);
    gP = DLC_CF(ctx, nd->out->grad); y = DLC_CF(ctx, nd->out->data);
    sv = in[8] ? DLC_CF(ctx, in[8]->data) : NULL;
    len = in[7] ? DLC_CI(ctx, in[7]->idata) : NULL;
    if (in[1]) h0 = sv ? sv + T * B * g.S : DLC_CF(ctx, in[1]->data);                  /* the forward's copies */
    if (in[2]) c0 = sv ? sv + T * B * g.S + (in[1] ? B * H : 0) : DLC_CF(ctx, in[2]->data);
    DLC_LAUNCH(dlc_k_rnn_bwd_init, dlc_blocks(B * H), DLC_THREADS, S, B * H, DLC_F(ctx, p->dh), p->dc ? DLC_F(ctx, p->dc) : (float *)NULL,
               gP + T * B * H, gP + (T + 1) * B * H);
    for (s = T - 1; s >= 0; s--) {
        DLC_LAUNCH(dlc_k_rnn_cell_bwd, dlc_blocks(B * H), DLC_THREADS, S, g, s, len, y, gP, sv, h0, c0, DLC_F(ctx, p->dG), DLC_F(ctx, p->dGh),
                   DLC_F(ctx, p->sb), DLC_F(ctx, p->dh), p->dc ? DLC_F(ctx, p->dc) : (float *)NULL);
        /* dh_prev += sb [B, GH] x W_hh [GH, H] (rows of finished sequences add 0) */
        dlc_gemm(S, 0, 0, B, H, GH, 1.0f, DLC_CF(ctx, p->sb), GH, 0, DLC_CF(ctx, in[4]->data), H, 0, 1.0f, DLC_F(ctx, p->dh), H, 0, 1);
    }
    if (gh0 || gc0)
        DLC_LAUNCH(dlc_k_rnn_state_grad, dlc_blocks(B * H), DLC_THREADS, S, B * H, gh0, gc0, DLC_CF(ctx, p->dh), p->dc ? DLC_CF(ctx, p->dc) : (const float *)NULL);
    if (I == 0) gx = gwih = NULL;   /* both empty */
    if (gx) dlc_gemm(S, 0, 0, T * B, I, GH, 1.0f, DLC_CF(ctx, p->dG), GH, 0, DLC_CF(ctx, in[3]->data), I, 0, 1.0f, gx, I, 0, 1);
    if (gwih) dlc_gemm(S, 1, 0, GH, I, T * B, 1.0f, DLC_CF(ctx, p->dG), GH, 0, DLC_CF(ctx, in[0]->data), I, 0, 1.0f, gwih, I, 0, 1);
    if (gwhh && p->hp) {
        DLC_LAUNCH(dlc_k_rnn_hprev, dlc_blocks(T * B * H), DLC_THREADS, S, g, len, y, h0, DLC_F(ctx, p->hp));
        dlc_gemm(S, 1, 0, GH, H, T * B, 1.0f, DLC_CF(ctx, p->dGh), GH, 0, DLC_CF(ctx, p->hp), H, 0, 1.0f, gwhh, H, 0, 1);
    }
    if (gbih) DLC_LAUNCH(dlc_k_rnn_colsum, dlc_blocks(GH * DLC_THREADS), DLC_THREADS, S, gbih, DLC_CF(ctx, p->dG), T * B, GH);
    if (gbhh) DLC_LAUNCH(dlc_k_rnn_colsum, dlc_blocks(GH * DLC_THREADS), DLC_THREADS, S, gbhh, DLC_CF(ctx, p->dGh), T * B, GH);
    return dlc_status(ctx);
}

/* (end of >>cuda-ops-D) */

/* ======================================================================================
   >>cuda-table  the backend table: one slot per op of DL_OPS
   ====================================================================================== */
static dl_backend dlc_table;
static void dlc_table_fill(dl_backend *t) {
    int op;
    memset(t, 0, sizeof *t);
    t->version = DL_BACKEND_VERSION; t->name = "cuda";
    t->init = dlc_init; t->release = dlc_release;
    t->dev_alloc = dlc_dev_alloc; t->dev_free = dlc_dev_free;
    t->host_alloc = dlc_host_alloc; t->host_free = dlc_host_free;
    t->upload = dlc_upload; t->download = dlc_download; t->memset0 = dlc_memset0; t->fill = dlc_fill; t->sync = dlc_sync;
    t->capture_begin = dlc_capture_begin; t->capture_end = dlc_capture_end;
    t->graph_launch = dlc_graph_launch; t->graph_free = dlc_graph_free; t->trace = dlc_trace; t->zero_list = dlc_zero_list;
    t->reserve = (size_t)8 << 20; t->attach = dlc_attach;   /* cuBLAS workspace, 8 MiB */
    t->fwd[DL__OP_copy] = dlc_fwd_copy; t->bwd[DL__OP_copy] = dlc_bwd_copy;
    for (op = DL__OP_add; op <= DL__OP_maximum; op++) { t->fwd[op] = dlc_fwd_binary; t->bwd[op] = dlc_bwd_binary; }
    {   static const int un[] = { DL__OP_add_scalar, DL__OP_mul_scalar, DL__OP_neg, DL__OP_abs, DL__OP_sign, DL__OP_exp, DL__OP_log,
            DL__OP_sqrt, DL__OP_square, DL__OP_pow, DL__OP_sin, DL__OP_cos, DL__OP_clamp, DL__OP_relu, DL__OP_sigmoid, DL__OP_tanh,
            DL__OP_softplus, DL__OP_log_sigmoid, DL__OP_leaky_relu, DL__OP_elu, DL__OP_selu, DL__OP_gelu, DL__OP_gelu_tanh,
            DL__OP_silu, DL__OP_hard_tanh, DL__OP_softsign };
        size_t i;
        for (i = 0; i < sizeof un / sizeof un[0]; i++) { t->fwd[un[i]] = dlc_fwd_unary; t->bwd[un[i]] = dlc_bwd_unary; } }
    t->fwd[DL__OP_matmul] = dlc_fwd_matmul; t->bwd[DL__OP_matmul] = dlc_bwd_matmul;
    t->optim = dlc_optim; t->clip = dlc_clip;
    /* >>cuda-table-A */
    {   static const int red[] = { DL__OP_sum, DL__OP_mean, DL__OP_max, DL__OP_var, DL__OP_logsumexp };
        size_t i;
        for (i = 0; i < sizeof red / sizeof red[0]; i++) { t->fwd[red[i]] = dlc_fwd_reduce; t->bwd[red[i]] = dlc_bwd_reduce; } }
    t->fwd[DL__OP_softmax] = t->fwd[DL__OP_log_softmax] = dlc_fwd_softmax; t->bwd[DL__OP_softmax] = t->bwd[DL__OP_log_softmax] = dlc_bwd_softmax;
    t->fwd[DL__OP_view] = dlc_fwd_view; t->bwd[DL__OP_view] = dlc_bwd_view;
    t->fwd[DL__OP_gather] = dlc_fwd_gather; t->bwd[DL__OP_gather] = dlc_bwd_gather;
    t->fwd[DL__OP_index_select] = dlc_fwd_index_select; t->bwd[DL__OP_index_select] = dlc_bwd_index_select;
    t->fwd[DL__OP_concat] = dlc_fwd_concat; t->bwd[DL__OP_concat] = dlc_bwd_concat;
    t->fwd[DL__OP_where] = dlc_fwd_where; t->bwd[DL__OP_where] = dlc_bwd_where;
    t->fwd[DL__OP_prelu] = dlc_fwd_prelu; t->bwd[DL__OP_prelu] = dlc_bwd_prelu;
    /* >>cuda-table-B */
    t->fwd[DL__OP_conv2d] = dlc_fwd_conv2d; t->bwd[DL__OP_conv2d] = dlc_bwd_conv2d;
    t->fwd[DL__OP_conv_transpose2d] = dlc_fwd_convt2d; t->bwd[DL__OP_conv_transpose2d] = dlc_bwd_convt2d;
    t->fwd[DL__OP_max_pool2d] = dlc_fwd_max_pool2d; t->bwd[DL__OP_max_pool2d] = dlc_bwd_max_pool2d;
    t->fwd[DL__OP_avg_pool2d] = dlc_fwd_mean_pool; t->bwd[DL__OP_avg_pool2d] = dlc_bwd_mean_pool;
    t->fwd[DL__OP_adaptive_avg_pool2d] = dlc_fwd_mean_pool; t->bwd[DL__OP_adaptive_avg_pool2d] = dlc_bwd_mean_pool;
    t->fwd[DL__OP_max_unpool2d] = dlc_fwd_max_unpool2d; t->bwd[DL__OP_max_unpool2d] = dlc_bwd_max_unpool2d;
    /* >>cuda-table-C */
    t->fwd[DL__OP_embedding] = dlc_fwd_embedding; t->bwd[DL__OP_embedding] = dlc_bwd_embedding;
    t->fwd[DL__OP_batch_norm] = dlc_fwd_batch_norm; t->bwd[DL__OP_batch_norm] = dlc_bwd_batch_norm;
    t->fwd[DL__OP_layer_norm] = dlc_fwd_rownorm; t->bwd[DL__OP_layer_norm] = dlc_bwd_rownorm;
    t->fwd[DL__OP_group_norm] = dlc_fwd_rownorm; t->bwd[DL__OP_group_norm] = dlc_bwd_rownorm;
    /* >>cuda-table-D */
    t->fwd[DL__OP_rnn] = dlc_fwd_rnn; t->bwd[DL__OP_rnn] = dlc_bwd_rnn;
}
extern "C" {
DLDEF const dl_backend *dl_cuda_backend(void) {
    if (!dlc_table.version) dlc_table_fill(&dlc_table);
    return &dlc_table;
}
DLDEF int dl_cuda_available(void) { return dlc_device_ok(); }
DLDEF const char *dl_cuda_device_name(void) { return dlc_name(); }
}
#endif /* DL_CUDA_IMPLEMENTATION */

/*
------------------------------------------------------------------------------
MIT License

Copyright (c) 2026 the dl.h authors

Permission is hereby granted, free of charge, to any person obtaining a copy of
this software and associated documentation files (the "Software"), to deal in
the Software without restriction, including without limitation the rights to
use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies
of the Software, and to permit persons to whom the Software is furnished to do
so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
------------------------------------------------------------------------------
*/
