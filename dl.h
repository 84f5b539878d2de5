/* dl.h - v0.1.0 - deep learning in one C header                  license: end of file

   QUICK START
     In exactly one C or C++ file:
         #define DL_IMPLEMENTATION
         #include "dl.h"
     Everywhere else just #include "dl.h". Link with -lm (and -pthread where the C library
     still needs it, for the optional thread pool). No other dependency.

   A 12-LINE PROGRAM  (compiled by tests/compile/quickstart.c, so it cannot go stale)
     static char mem[1 << 20];
     dl_ctx_desc d = {0}; d.memory = mem; d.memory_size = sizeof mem;
     dl_ctx *ctx = dl_ctx_init(&d);
     dl_tensor *w = dl_uniform(ctx, dl_shape2(1, 2), -1.f, 1.f);
     dl_requires_grad(ctx, w, 1);                      // a parameter: grad lives with it
     float xs[8] = {0,0, 0,1, 1,0, 1,1}, ys[4] = {1,3,2,4};  // y = 1 + x0 + 2 x1, no bias: fits badly
     dl_mark step = dl_ctx_mark(ctx);                  // everything after this is step scratch
     for (int it = 0; it < 100; it++) {
         dl_tensor *y = dl_matmul_ex(ctx, dl_from_data(ctx, dl_shape2(4, 2), xs), w, DL_TRANS_B);
         dl_tensor *loss = dl_mean_all(ctx, dl_square(ctx, dl_sub(ctx, y, dl_from_data(ctx, dl_shape2(4, 1), ys))));
         dl_zero_grad(w); dl_backward(ctx, loss);
         for (int i = 0; i < 2; i++) w->data[i] -= 0.1f * w->grad[i];
         dl_ctx_rewind(ctx, step); }                   // O(1): frees the whole step
     if (dl_ctx_status(ctx)) puts(dl_ctx_message(ctx)); // errors never crash: check once

   WHAT IT IS
     - float32 tensors (and int32 index tensors) of up to DL_MAX_DIMS (6) dimensions, shapes
       outermost first with PyTorch's layouts (row-major, NCHW, Linear weight [out,in]).
     - A fixed arena: one block of memory, given by you or taken with one DL_MALLOC at init.
       Parameters, activations, gradients and the tape are bump-allocated from it. Nothing
       else is ever allocated. dl_ctx_mark / dl_ctx_rewind free a step's scratch in O(1).
     - Define-by-run reverse-mode autodiff: each op computes at once (print values while
       debugging) and appends a node to a tape when an input needs a gradient.
       dl_backward() sweeps the tape in reverse, adding into one gradient buffer per tensor.
     - Every op has a forward, a backward, a PyTorch reference test and a finite-difference
       test (tests/). dl_gradcheck() checks your own graphs the same way.
     - Around the core: activations, dl_linear, losses, optimizers (torch.optim's rules),
       LR schedules, clipping and regularizers, torch.nn.init initializers, convolutions
       (via im2col + GEMM), pooling, batch/layer/group norm, image augmentation, embeddings,
       recurrent layers (RNN, LSTM, GRU as torch.nn's: layers, bidirectional, lengths),
       attention (scaled dot-product, multi-head, additive), sampling from logits,
       autoencoder and VAE helpers, RBMs (CD-k, PCD-k, AIS) and NADE, a PNG writer, an IDX
       reader that reads gzip, metrics, and a checksummed weights format. Sections are
       marked with greppable banners: // >>api-... for declarations, >>ops-... and
       >>op-... for each op's forward and backward side by side.
     - Backends: dl_cuda.h (a companion header, built by nvcc from one .cu file) runs every
       op on an NVIDIA GPU behind the same API: set desc.backend = dl_cuda_backend(). See
       BACKENDS (>>api-backend) for how memory, commands and step replay (dl_step_run,
       one training step as a CUDA graph) work.
   WHAT IT IS NOT (yet)
     - No float64/float16 compute, no higher-order derivatives, no multi-GPU. SIMD and
       threads cover the matrix products (so convolutions and recurrent layers), threads
       also a convolution's image chunks, the unary ops and the optimizer; SIMD also relu,
       add/sub/mul rows, 2x2 max pooling, exp / sigmoid / tanh / softplus / log_sigmoid
       and the RNN, LSTM and GRU cells (>>vmath). Batch norm, other pooling, softmax and
       the reductions are plain C (gcc -O2 leaves most such loops scalar).

   CONFIG MACROS  (define before the #include that has DL_IMPLEMENTATION)
     DL_IMPLEMENTATION   emit the implementation in this translation unit
     DL_STATIC           make every function static (private copy per translation unit)
     DLDEF               override the linkage of public functions (default: extern)
     DL_MALLOC/DL_FREE   replace malloc/free (define both or neither); used once per ctx
     DL_ASSERT           internal invariant checks (default: assert.h's assert)
     DL_NO_STDIO         drop dl_print and every use of <stdio.h>
     DL_NO_MALLOC        drop DL_MALLOC entirely: contexts must be given memory
     DL_NO_SIMD          portable C kernels only (no intrinsics, no cpuid)
     DL_NO_THREADS       no built-in pool (desc.parallel_for still works)

   ERRORS
     Each context keeps its first failure as a dl_status and a message that names the op and
     the shapes, e.g. "dl_matmul: inner dims differ: a[64,784] b[100,10]". A failing op
     returns a poison tensor (shape [], value 0); every later op given a poison tensor, or
     called while the context holds an error, returns poison too. Nothing crashes, nothing
     aborts. Check dl_ctx_status() once per step. dl_ctx_clear_error() resets it.
     Statuses: DL_STATUS_OOM (message: bytes needed vs available), DL_STATUS_SHAPE,
     DL_STATUS_AXIS, DL_STATUS_DTYPE, DL_STATUS_NONFINITE (only when desc.check_finite),
     DL_STATUS_INDEX, DL_STATUS_INVALID (bad argument), DL_STATUS_UNSUPPORTED, DL_STATUS_IO
     and DL_STATUS_FORMAT (files: unreadable, or corrupt/truncated).

   MEMORY
     All memory comes from one arena. To size a static array before committing memory,
     run one step in measure mode (desc.measure = 1: shapes only, no data, no compute):
         dl_ctx_desc m = {0}; m.measure = 1;
         dl_ctx *mc = dl_ctx_init(&m);   build params + one training step   ;
         size_t need = dl_ctx_peak_bytes(mc);   dl_ctx_free(mc);
     A 64-byte-aligned buffer of exactly `need` bytes then runs that step; one byte fewer
     fails with DL_STATUS_OOM. An unaligned buffer loses up to 63 bytes to alignment.
     In measure mode values read back as 0; everything else behaves the same. The same
     figure is available from a real context as dl_ctx_peak_bytes() after a step.

   AUTODIFF RULES
     - dl_requires_grad(ctx, t, 1) on a leaf allocates its gradient buffer at once, so a
       parameter's gradient survives dl_ctx_rewind. Zero it with dl_zero_grad().
     - Gradients accumulate (+=), as in PyTorch: zero them before each step.
     - Non-differentiable points use the one-sided choices of PyTorch: relu'(0) = 0,
       abs'(0) = 0, sign' = 0; max/min reductions send the gradient to the first maximal
       element (ties); elementwise maximum/minimum split it evenly on ties; clamp passes
       the gradient where lo <= x <= hi.
     - Views (reshape of contiguous data, transpose, permute, slice, squeeze) share their
       input's storage; dl_contiguous() copies. Ops that need contiguous data copy for you.

   GRADIENT CHECKING
     dl_gradcheck() evaluates your graph in float32, weights a non-scalar output with fixed
     pseudo-random weights, and compares each analytic partial with the central difference
     (f(x+h) - f(x-h)) / 2h, h = eps * max(1, |x|), computed in double. An element passes
     when |analytic - numeric| <= atol + rtol * max(|analytic|, |numeric|). Defaults
     eps 1e-3, atol 1e-3, rtol 1e-2: float32 rounding in f limits the numeric estimate to
     about 1e-4 relative, so tighter tolerances produce false failures.

   THREADS, SIMD & DETERMINISM
     Matrix products use packed panels and one register-blocked micro-kernel per kernel set:
     AVX-512 (6x32), AVX2+FMA (6x16), SSE2 (4x8) and NEON (8x8), beside a register-tiled
     portable C kernel and the plain scalar reference. x86-64 picks the best set at run time
     (cpuid + xgetbv; no -march flag needed), AArch64 uses NEON. desc.isa caps the choice
     (DL_ISA_REFERENCE, _PORTABLE, _SSE2, _AVX2, _AVX512), so one binary runs every path;
     dl_ctx_isa() says which one runs, and the tests check each against the reference.
     exp, sigmoid, tanh, softplus and log_sigmoid (and the recurrent gates) have vector
     kernels too (AVX2+FMA, SSE2, NEON), polynomial approximations within 1.1 (exp) to 2.8
     (softplus) ulp, the max error per function and kernel set listed at >>vmath;
     DL_ISA_REFERENCE and _PORTABLE keep libm's expf / tanhf / log1pf.
     Threads: desc.threads = n starts a pool of n - 1 POSIX threads beside the caller
     (dl_ctx_free joins them), or desc.parallel_for hands the tasks to your job system.
     Work is split into tasks by the shapes alone (GEMM blocks, a convolution's two image
     chunks, elementwise ops and optimizer updates in chunks of 32768 elements) and each
     output element is summed in a fixed order, so results are bit-identical for any thread
     count (tested), and run to run for the same seed. A different kernel set may round
     differently. Pool threads spin briefly before sleeping between forks. Randomness comes
     from a counter-based generator (splitmix64) kept in the context: same seed, same bits,
     on every platform.

   RECENT CHANGES   (full list in CHANGELOG.md)
     0.1.0  arena, tensors, autodiff, core ops, gradcheck, errors; training stack;
            convolutions, pooling, normalization; embeddings, RNN/LSTM/GRU, attention,
            sampling; packed SIMD GEMM (AVX-512/AVX2/SSE2/NEON) and a thread pool,
            vector math and cells, threaded convolutions and elementwise ops;
            autoencoders, VAEs, RBMs, NADE, GAN examples; PNG writer; the backend
            table, step replay, and dl_cuda.h (every op on the GPU, cuBLAS, CUDA graphs).
*/
#ifndef DL_H
#define DL_H

#include <stddef.h>
#include <stdint.h>

#define DL_VERSION_MAJOR 0
#define DL_VERSION_MINOR 1
#define DL_VERSION_PATCH 0
#define DL_MAX_DIMS 6
#define DL_ALIGN 64

#ifndef DLDEF
#ifdef DL_STATIC
#if defined(__GNUC__) || defined(__clang__)
#define DLDEF static __attribute__((unused)) /* a private copy may leave functions unused */
#else
#define DLDEF static
#endif
#else
#define DLDEF extern
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

// >>api-types
typedef enum dl_status {
    DL_STATUS_OK = 0,
    DL_STATUS_OOM = 1,          /* arena too small: message gives needed vs available bytes */
    DL_STATUS_SHAPE = 2,        /* shapes do not fit the op                               */
    DL_STATUS_AXIS = 3,         /* axis out of range, repeated, or not a permutation       */
    DL_STATUS_DTYPE = 4,        /* float tensor where an index tensor is needed, or reverse */
    DL_STATUS_NONFINITE = 5,    /* NaN/Inf found (desc.check_finite, dl_check_finite)      */
    DL_STATUS_INDEX = 6,        /* an index value out of range                             */
    DL_STATUS_INVALID = 7,      /* bad argument: NULL, foreign tensor, bad size            */
    DL_STATUS_UNSUPPORTED = 8,  /* not implemented for this case                           */
    DL_STATUS_IO = 9,           /* a file could not be opened, read or written             */
    DL_STATUS_FORMAT = 10       /* a file or buffer is corrupt, truncated or not ours      */
} dl_status;

typedef enum dl_dtype { DL_F32 = 0, DL_I32 = 1 } dl_dtype;

typedef struct dl_shape { int ndim; int64_t d[DL_MAX_DIMS]; } dl_shape;

typedef struct dl__node dl__node;
typedef struct dl_ctx dl_ctx;

typedef struct dl_tensor {
    int ndim;
    int64_t shape[DL_MAX_DIMS];   /* outermost first                                     */
    int64_t stride[DL_MAX_DIMS];  /* in elements; views may have any strides             */
    int64_t numel;
    dl_dtype dtype;
    float *data;                  /* first element (DL_F32); NULL in measure mode         */
    int32_t *idata;               /* first element (DL_I32)                               */
    float *grad;                  /* contiguous, same logical shape; NULL until needed    */
    int requires_grad;
    int flags;                    /* DL__F_* below                                        */
    dl__node *node;               /* op that produced it (NULL for leaves)                */
    const char *name;             /* optional, for messages                               */
    dl_ctx *ctx;                  /* the context whose arena holds the data               */
} dl_tensor;

/* a job system's parallel for: run task(arg, i) for every i in [0, n), in any order and on
   any threads, and return when all are done. Work is split into tasks independently of the
   thread count, so results are bit-identical for any number of threads. */
typedef void (*dl_parallel_for_fn)(void *user, int64_t n, void (*task)(void *arg, int64_t i), void *arg);

typedef struct dl_ctx_desc {      /* zero means default                                   */
    void *memory;                 /* caller's buffer; NULL: one DL_MALLOC of memory_size  */
    size_t memory_size;           /* buffer bytes (header included); measure mode: bytes
                                     for headers and tape only, default 16 MiB             */
    uint64_t seed;                /* RNG seed; default 0x5eed                             */
    int measure;                  /* 1: shapes only, count bytes (see MEMORY)             */
    int check_finite;             /* 1: every op output is checked for NaN/Inf            */
    int isa;                      /* cap on the kernels used: DL_ISA_AUTO (best available),
                                     DL_ISA_REFERENCE (the plain scalar reference loops),
                                     or a named set (DL_ISA_AVX2 ...): see dl_ctx_isa      */
    int threads;                  /* built-in pool: 0 or 1 = none (default), n = n threads
                                     in all (the caller's included); needs dl_ctx_free     */
    dl_parallel_for_fn parallel_for; /* or the caller's job system (wins over threads)    */
    void *parallel_user;          /* passed back to parallel_for                          */
    const struct dl_backend *backend; /* NULL: the CPU; dl_cuda_backend(): the GPU         */
    int deterministic;            /* 1: a backend gives the same bits every run            */
} dl_ctx_desc;
/* kernel sets, best last per architecture; desc.isa caps the choice (a cap this CPU or build
   cannot run falls back to the next lower set it can). PORTABLE: register-tiled C. */
enum { DL_ISA_AUTO = 0, DL_ISA_REFERENCE = 1, DL_ISA_PORTABLE = 2, DL_ISA_SSE2 = 3, DL_ISA_AVX2 = 4,
       DL_ISA_AVX512 = 5, DL_ISA_NEON = 6 };

typedef struct dl_mark { size_t offset, meta; dl__node *tape; } dl_mark;

enum { DL_TRANS_A = 1, DL_TRANS_B = 2 };

// >>api-ctx
DLDEF const char *dl_version(void);                         /* "0.1.0"                    */
DLDEF dl_ctx *dl_ctx_init(const dl_ctx_desc *desc);         /* NULL only if no memory     */
DLDEF void    dl_ctx_free(dl_ctx *ctx);                     /* frees what init malloc'd   */
DLDEF dl_status   dl_ctx_status(const dl_ctx *ctx);
DLDEF const char *dl_ctx_message(const dl_ctx *ctx);        /* "" when OK                 */
DLDEF void        dl_ctx_clear_error(dl_ctx *ctx);
DLDEF const char *dl_status_name(dl_status s);              /* "DL_STATUS_OOM"            */
DLDEF dl_mark dl_ctx_mark(dl_ctx *ctx);                     /* remember arena + tape top  */
DLDEF void    dl_ctx_rewind(dl_ctx *ctx, dl_mark m);        /* free all after mark, O(1)  */
DLDEF size_t  dl_ctx_used_bytes(const dl_ctx *ctx);         /* buffer bytes in use now    */
DLDEF size_t  dl_ctx_peak_bytes(const dl_ctx *ctx);         /* buffer bytes ever needed   */
DLDEF size_t  dl_ctx_capacity(const dl_ctx *ctx);           /* buffer bytes usable        */
DLDEF size_t  dl_ctx_overhead_bytes(void);                  /* header before the arena    */
DLDEF int     dl_ctx_is_measuring(const dl_ctx *ctx);
DLDEF int     dl_ctx_isa(const dl_ctx *ctx);                /* kernel set in use: DL_ISA_* */
DLDEF int     dl_ctx_threads(const dl_ctx *ctx);            /* pool threads; 0: caller's hook */
DLDEF const char *dl_isa_name(int isa);                     /* "avx2", "reference", ...   */
DLDEF int     dl_set_grad_enabled(dl_ctx *ctx, int enabled); /* returns previous setting  */
DLDEF void    dl_ctx_seed(dl_ctx *ctx, uint64_t seed);
DLDEF uint64_t dl_rand_u64(dl_ctx *ctx);                    /* next raw 64 random bits    */
DLDEF float   dl_rand_uniform(dl_ctx *ctx);                 /* [0,1), 24 random bits      */
DLDEF float   dl_rand_normal(dl_ctx *ctx);                  /* N(0,1), Box-Muller         */

// >>api-tensor
DLDEF dl_shape dl_shape1(int64_t a);
DLDEF dl_shape dl_shape2(int64_t a, int64_t b);
DLDEF dl_shape dl_shape3(int64_t a, int64_t b, int64_t c);
DLDEF dl_shape dl_shape4(int64_t a, int64_t b, int64_t c, int64_t d);
DLDEF dl_shape dl_shape_n(int ndim, const int64_t *d);      /* ndim 0: a scalar           */
DLDEF dl_shape dl_shape_of(const dl_tensor *t);

DLDEF dl_tensor *dl_empty(dl_ctx *ctx, dl_shape s);          /* uninitialized data        */
DLDEF dl_tensor *dl_zeros(dl_ctx *ctx, dl_shape s);
DLDEF dl_tensor *dl_ones(dl_ctx *ctx, dl_shape s);
DLDEF dl_tensor *dl_full(dl_ctx *ctx, dl_shape s, float v);
DLDEF dl_tensor *dl_scalar(dl_ctx *ctx, float v);            /* shape []                   */
DLDEF dl_tensor *dl_from_data(dl_ctx *ctx, dl_shape s, const float *data); /* copies     */
DLDEF dl_tensor *dl_arange(dl_ctx *ctx, float start, float stop, float step); /* 1-D      */
DLDEF dl_tensor *dl_uniform(dl_ctx *ctx, dl_shape s, float lo, float hi); /* U[lo,hi)    */
DLDEF dl_tensor *dl_normal(dl_ctx *ctx, dl_shape s, float mean, float std);
DLDEF dl_tensor *dl_index_tensor(dl_ctx *ctx, dl_shape s, const int32_t *data); /* DL_I32 */
DLDEF dl_tensor *dl_index_zeros(dl_ctx *ctx, dl_shape s);    /* DL_I32 zeros             */
DLDEF int dl_is_poison(const dl_tensor *t);
DLDEF int dl_is_contiguous(const dl_tensor *t);
DLDEF int dl_same_shape(const dl_tensor *a, const dl_tensor *b);

/* element access by row-major logical index (works on views); poison/measure read 0     */
DLDEF float   dl_get(const dl_tensor *t, int64_t i);
DLDEF void    dl_set(dl_tensor *t, int64_t i, float v);
DLDEF float   dl_get_at(const dl_tensor *t, const int64_t *idx); /* idx[ndim]            */
DLDEF void    dl_set_at(dl_tensor *t, const int64_t *idx, float v);
DLDEF int32_t dl_get_index(const dl_tensor *t, int64_t i);   /* DL_I32 tensors           */
DLDEF void    dl_set_index(dl_tensor *t, int64_t i, int32_t v);
DLDEF float   dl_item(const dl_tensor *t);                   /* first element            */
DLDEF void    dl_copy_to(const dl_tensor *t, float *dst);    /* numel floats, logical order */
DLDEF void    dl_copy_from(dl_tensor *t, const float *src);  /* into storage (no autodiff) */
DLDEF dl_status dl_tensor_copy(dl_ctx *ctx, dl_tensor *dst, const dl_tensor *src); /* same shape */
DLDEF void    dl_fill(dl_tensor *t, float v);
#ifndef DL_NO_STDIO
DLDEF void    dl_print(const dl_tensor *t, const char *label); /* to stdout               */
#endif
DLDEF dl_status dl_check_finite(dl_ctx *ctx, const dl_tensor *t, const char *what);

// >>api-autodiff
DLDEF void       dl_requires_grad(dl_ctx *ctx, dl_tensor *t, int on); /* leaf: allocs grad */
DLDEF void       dl_zero_grad(dl_tensor *t);
DLDEF dl_tensor *dl_detach(dl_ctx *ctx, dl_tensor *x);       /* same storage, no gradient */
DLDEF dl_status  dl_backward(dl_ctx *ctx, dl_tensor *loss);  /* loss: one element        */
DLDEF dl_status  dl_backward_with(dl_ctx *ctx, dl_tensor *y, const float *dy); /* seed dy */
DLDEF float      dl_grad_get(const dl_tensor *t, int64_t i); /* 0 when no grad           */

// >>api-ops  elementwise, NumPy broadcasting; gradients sum over broadcast axes
DLDEF dl_tensor *dl_add(dl_ctx *ctx, dl_tensor *a, dl_tensor *b);      /* a + b           */
DLDEF dl_tensor *dl_sub(dl_ctx *ctx, dl_tensor *a, dl_tensor *b);      /* a - b           */
DLDEF dl_tensor *dl_mul(dl_ctx *ctx, dl_tensor *a, dl_tensor *b);      /* a * b           */
DLDEF dl_tensor *dl_div(dl_ctx *ctx, dl_tensor *a, dl_tensor *b);      /* a / b           */
DLDEF dl_tensor *dl_minimum(dl_ctx *ctx, dl_tensor *a, dl_tensor *b);  /* min(a, b)       */
DLDEF dl_tensor *dl_maximum(dl_ctx *ctx, dl_tensor *a, dl_tensor *b);  /* max(a, b)       */
DLDEF dl_tensor *dl_where(dl_ctx *ctx, dl_tensor *cond, dl_tensor *a, dl_tensor *b); /* cond != 0 ? a : b */
DLDEF dl_tensor *dl_add_scalar(dl_ctx *ctx, dl_tensor *x, float c);   /* x + c           */
DLDEF dl_tensor *dl_mul_scalar(dl_ctx *ctx, dl_tensor *x, float c);   /* x * c           */
DLDEF dl_tensor *dl_neg(dl_ctx *ctx, dl_tensor *x);                   /* -x              */
DLDEF dl_tensor *dl_abs(dl_ctx *ctx, dl_tensor *x);                   /* |x|             */
DLDEF dl_tensor *dl_sign(dl_ctx *ctx, dl_tensor *x);                  /* -1, 0, 1; grad 0 */
DLDEF dl_tensor *dl_exp(dl_ctx *ctx, dl_tensor *x);                   /* e^x             */
DLDEF dl_tensor *dl_log(dl_ctx *ctx, dl_tensor *x);                   /* ln x            */
DLDEF dl_tensor *dl_sqrt(dl_ctx *ctx, dl_tensor *x);                  /* sqrt x          */
DLDEF dl_tensor *dl_square(dl_ctx *ctx, dl_tensor *x);                /* x^2             */
DLDEF dl_tensor *dl_pow(dl_ctx *ctx, dl_tensor *x, float p);          /* x^p             */
DLDEF dl_tensor *dl_sin(dl_ctx *ctx, dl_tensor *x);
DLDEF dl_tensor *dl_cos(dl_ctx *ctx, dl_tensor *x);
DLDEF dl_tensor *dl_clamp(dl_ctx *ctx, dl_tensor *x, float lo, float hi); /* min(max(x,lo),hi) */
DLDEF dl_tensor *dl_relu(dl_ctx *ctx, dl_tensor *x);                  /* max(x, 0)       */
DLDEF dl_tensor *dl_sigmoid(dl_ctx *ctx, dl_tensor *x);      /* 1/(1+e^-x), sign-split    */
DLDEF dl_tensor *dl_tanh(dl_ctx *ctx, dl_tensor *x);
DLDEF dl_tensor *dl_softplus(dl_ctx *ctx, dl_tensor *x);     /* max(x,0) + log1p(e^-|x|)  */
DLDEF dl_tensor *dl_log_sigmoid(dl_ctx *ctx, dl_tensor *x);  /* -softplus(-x)             */

// >>api-matmul
DLDEF dl_tensor *dl_matmul(dl_ctx *ctx, dl_tensor *a, dl_tensor *b); /* [M,K]@[K,N]->[M,N]; [B,M,K]@[B,K,N]->[B,M,N] */
DLDEF dl_tensor *dl_matmul_ex(dl_ctx *ctx, dl_tensor *a, dl_tensor *b, int trans); /* DL_TRANS_A: a is [K,M]; DL_TRANS_B: b is [N,K] */

// >>api-reduce   `axes` is a bit mask (bit i = axis i). Everywhere, an axis < 0 counts from the end
DLDEF dl_tensor *dl_sum(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim);
DLDEF dl_tensor *dl_sum_axes(dl_ctx *ctx, dl_tensor *x, unsigned axes, int keepdim);
DLDEF dl_tensor *dl_sum_all(dl_ctx *ctx, dl_tensor *x);                 /* shape []       */
DLDEF dl_tensor *dl_mean(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim);
DLDEF dl_tensor *dl_mean_axes(dl_ctx *ctx, dl_tensor *x, unsigned axes, int keepdim);
DLDEF dl_tensor *dl_mean_all(dl_ctx *ctx, dl_tensor *x);
DLDEF dl_tensor *dl_max(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim);  /* grad: first max */
DLDEF dl_tensor *dl_max_axes(dl_ctx *ctx, dl_tensor *x, unsigned axes, int keepdim);
DLDEF dl_tensor *dl_max_all(dl_ctx *ctx, dl_tensor *x);
DLDEF dl_tensor *dl_var(dl_ctx *ctx, dl_tensor *x, int axis, int correction, int keepdim); /* sum (x-mean)^2 / (n - correction) */
DLDEF dl_tensor *dl_var_axes(dl_ctx *ctx, dl_tensor *x, unsigned axes, int correction, int keepdim);
DLDEF dl_tensor *dl_argmax(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim); /* DL_I32, first max */
DLDEF dl_tensor *dl_logsumexp(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim); /* m + log sum e^(x-m) */
DLDEF dl_tensor *dl_softmax(dl_ctx *ctx, dl_tensor *x, int axis);       /* e^(x-m)/sum     */
DLDEF dl_tensor *dl_log_softmax(dl_ctx *ctx, dl_tensor *x, int axis);   /* x - logsumexp   */

// >>api-shape    views share storage; see AUTODIFF RULES
DLDEF dl_tensor *dl_reshape(dl_ctx *ctx, dl_tensor *x, dl_shape s);     /* one dim may be -1 */
DLDEF dl_tensor *dl_flatten(dl_ctx *ctx, dl_tensor *x, int start, int end); /* dims start..end -> one */
DLDEF dl_tensor *dl_squeeze(dl_ctx *ctx, dl_tensor *x, int axis);       /* drop a size-1 axis */
DLDEF dl_tensor *dl_unsqueeze(dl_ctx *ctx, dl_tensor *x, int axis);     /* insert a size-1 axis */
DLDEF dl_tensor *dl_transpose(dl_ctx *ctx, dl_tensor *x, int d0, int d1);
DLDEF dl_tensor *dl_permute(dl_ctx *ctx, dl_tensor *x, const int *perm); /* out dim i = x dim perm[i] */
DLDEF dl_tensor *dl_slice(dl_ctx *ctx, dl_tensor *x, int axis, int64_t start, int64_t end, int64_t step); /* x[start:end:step]; negative start/end count from the end */
DLDEF dl_tensor *dl_contiguous(dl_ctx *ctx, dl_tensor *x);  /* x itself if contiguous     */
DLDEF dl_tensor *dl_concat(dl_ctx *ctx, dl_tensor *const *xs, int n, int axis);
DLDEF dl_tensor *dl_stack(dl_ctx *ctx, dl_tensor *const *xs, int n, int axis); /* new axis */
DLDEF dl_status  dl_split(dl_ctx *ctx, dl_tensor *x, int axis, const int64_t *sizes, int n, dl_tensor **out); /* views */

// >>api-index    index tensors are DL_I32
DLDEF dl_tensor *dl_index_select(dl_ctx *ctx, dl_tensor *x, int axis, dl_tensor *idx); /* idx 1-D: out.shape[axis] = len(idx) */
DLDEF dl_tensor *dl_gather(dl_ctx *ctx, dl_tensor *x, int axis, dl_tensor *idx); /* torch.gather: out[i][j] = x[i][idx[i][j]] (axis 1) */
DLDEF dl_tensor *dl_one_hot(dl_ctx *ctx, dl_tensor *idx, int num_classes); /* [..] -> [..,C] float */

// >>api-gradcheck
typedef dl_tensor *(*dl_graph_fn)(dl_ctx *ctx, dl_tensor *const *inputs, int n, void *user);
typedef struct dl_gradcheck_desc {    /* zero means default                               */
    double eps;                       /* 1e-3: step h = eps * max(1, |x|)                   */
    double atol;                      /* 1e-3                                              */
    double rtol;                      /* 1e-2                                              */
    int64_t max_per_input;            /* 0: every element; else a seeded sample of so many */
} dl_gradcheck_desc;
typedef struct dl_gradcheck_result {
    int64_t checked, failed;
    double max_abs_err;               /* over all checked elements                        */
    double max_rel_err;               /* over elements whose abs error exceeds atol       */
    int worst_input; int64_t worst_index;
    double worst_analytic, worst_numeric;
} dl_gradcheck_result;
/* Checks d(sum(w * fn(inputs)))/d(input) for every input with requires_grad, w fixed
   pseudo-random. Zeroes those inputs' gradients. Returns DL_STATUS_OK when every checked
   element passes; on a mismatch, DL_STATUS_INVALID with a message naming the worst one
   (the context's error state is left untouched). `res` may be NULL.                      */
DLDEF dl_status dl_gradcheck(dl_ctx *ctx, dl_graph_fn fn, void *user, dl_tensor *const *inputs, int n,
                             const dl_gradcheck_desc *desc, dl_gradcheck_result *res);
DLDEF const char *dl_gradcheck_message(const dl_ctx *ctx); /* text of the last gradcheck */

// >>api-activations   (CATALOGUE §3.3-3.18; PyTorch's formulas and defaults)
DLDEF dl_tensor *dl_leaky_relu(dl_ctx *ctx, dl_tensor *x, float slope);  /* x > 0 ? x : slope*x (torch default 0.01) */
DLDEF dl_tensor *dl_prelu(dl_ctx *ctx, dl_tensor *x, dl_tensor *a);      /* x > 0 ? x : a[c]*x; a is [1] or [C], C = x.shape[1] */
DLDEF dl_tensor *dl_elu(dl_ctx *ctx, dl_tensor *x, float alpha);         /* x > 0 ? x : alpha*(e^x - 1) */
DLDEF dl_tensor *dl_selu(dl_ctx *ctx, dl_tensor *x);                     /* 1.0507*(x > 0 ? x : 1.67326*(e^x - 1)) */
DLDEF dl_tensor *dl_gelu(dl_ctx *ctx, dl_tensor *x);                     /* x * Phi(x), exact erf form */
DLDEF dl_tensor *dl_gelu_tanh(dl_ctx *ctx, dl_tensor *x);                /* 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715x^3))) */
DLDEF dl_tensor *dl_silu(dl_ctx *ctx, dl_tensor *x);                     /* x * sigmoid(x) (swish)   */
DLDEF dl_tensor *dl_hard_tanh(dl_ctx *ctx, dl_tensor *x, float lo, float hi); /* clamp; grad only strictly inside (lo, hi), as torch */
DLDEF dl_tensor *dl_softsign(dl_ctx *ctx, dl_tensor *x);                 /* x / (1 + |x|)            */
DLDEF dl_tensor *dl_maxout(dl_ctx *ctx, dl_tensor *x, int k);            /* [N, C*k] -> [N, C]: max over k consecutive units */
DLDEF dl_tensor *dl_dropout(dl_ctx *ctx, dl_tensor *x, float p, int train); /* train: x * mask / (1-p), mask ~ Bernoulli(1-p); eval: x */

// >>api-layers   a layer is a plain struct of parameter tensors + init + forward
typedef struct dl_linear { dl_tensor *weight, *bias; int64_t in, out; } dl_linear; /* weight [out,in], bias [out] or NULL */
DLDEF void       dl_linear_init(dl_ctx *ctx, dl_linear *l, int64_t in, int64_t out, int bias); /* torch's default init: U(-1/sqrt(in), 1/sqrt(in)) */
DLDEF dl_tensor *dl_linear_forward(dl_ctx *ctx, const dl_linear *l, dl_tensor *x); /* x [...,in] @ W^T + b -> [...,out] */

// >>api-losses   reduction: DL_REDUCE_MEAN (default, 0), DL_REDUCE_SUM, DL_REDUCE_NONE
typedef enum dl_reduction { DL_REDUCE_MEAN = 0, DL_REDUCE_SUM = 1, DL_REDUCE_NONE = 2 } dl_reduction;
DLDEF dl_tensor *dl_mse_loss(dl_ctx *ctx, dl_tensor *pred, dl_tensor *target, dl_reduction r);  /* (p - t)^2 */
DLDEF dl_tensor *dl_l1_loss(dl_ctx *ctx, dl_tensor *pred, dl_tensor *target, dl_reduction r);   /* |p - t|   */
DLDEF dl_tensor *dl_huber_loss(dl_ctx *ctx, dl_tensor *pred, dl_tensor *target, float delta, dl_reduction r); /* |d| <= delta ? d^2/2 : delta(|d| - delta/2) */
DLDEF dl_tensor *dl_bce_with_logits(dl_ctx *ctx, dl_tensor *logits, dl_tensor *target, dl_reduction r); /* softplus(z) - t z, stable */
typedef struct dl_ce_desc {         /* zero means default                                      */
    dl_reduction reduction;         /* DL_REDUCE_MEAN                                          */
    float label_smoothing;          /* 0: target mixes (1-s) one-hot + s/C uniform, as torch    */
} dl_ce_desc;
/* softmax cross-entropy with logits [N,C] (or [C]). target: DL_I32 class indices [N], or
   DL_F32 probabilities [N,C]. Fused log_softmax: stable at any logit size. */
DLDEF dl_tensor *dl_cross_entropy(dl_ctx *ctx, dl_tensor *logits, dl_tensor *target, const dl_ce_desc *desc);
DLDEF dl_tensor *dl_nll_loss(dl_ctx *ctx, dl_tensor *logp, dl_tensor *target, dl_reduction r); /* -logp[n, t[n]] */
DLDEF dl_tensor *dl_hinge_loss(dl_ctx *ctx, dl_tensor *score, dl_tensor *target, dl_reduction r); /* max(0, 1 - t s), t in {-1, +1} */
DLDEF dl_tensor *dl_multi_margin_loss(dl_ctx *ctx, dl_tensor *score, dl_tensor *target, float margin, dl_reduction r); /* torch MultiMarginLoss, p = 1: sum_{i != y} max(0, margin - s_y + s_i) / C */
DLDEF dl_tensor *dl_kl_div(dl_ctx *ctx, dl_tensor *logq, dl_tensor *p, dl_reduction r); /* torch kl_div(input=log q, target=p): p (log p - log q); DL_REDUCE_MEAN is batchmean here */
DLDEF dl_tensor *dl_gaussian_nll_loss(dl_ctx *ctx, dl_tensor *mu, dl_tensor *target, dl_tensor *var, dl_reduction r); /* 0.5 (log max(var,1e-6) + (t - mu)^2 / max(var,1e-6)) */

// >>api-init   torch.nn.init formulas; fan_in = shape[1]*receptive, fan_out = shape[0]*receptive
typedef enum dl_nonlin { DL_NL_LINEAR = 0, DL_NL_RELU, DL_NL_LEAKY_RELU, DL_NL_TANH, DL_NL_SIGMOID, DL_NL_SELU } dl_nonlin;
DLDEF float dl_calculate_gain(dl_nonlin nl, float param);                /* torch.nn.init.calculate_gain */
DLDEF void  dl_init_uniform(dl_ctx *ctx, dl_tensor *t, float a, float b);
DLDEF void  dl_init_normal(dl_ctx *ctx, dl_tensor *t, float mean, float std);
DLDEF void  dl_init_constant(dl_tensor *t, float v);
DLDEF void  dl_init_xavier_uniform(dl_ctx *ctx, dl_tensor *t, float gain); /* gain 0 means 1 */
DLDEF void  dl_init_xavier_normal(dl_ctx *ctx, dl_tensor *t, float gain);
DLDEF void  dl_init_kaiming_uniform(dl_ctx *ctx, dl_tensor *t, float a, int fan_out, dl_nonlin nl); /* torch defaults: a 0, fan_in, leaky_relu */
DLDEF void  dl_init_kaiming_normal(dl_ctx *ctx, dl_tensor *t, float a, int fan_out, dl_nonlin nl);
DLDEF void  dl_init_lecun_uniform(dl_ctx *ctx, dl_tensor *t);           /* U(+-sqrt(3/fan_in))     */
DLDEF void  dl_init_lecun_normal(dl_ctx *ctx, dl_tensor *t);            /* N(0, 1/fan_in)          */
DLDEF void  dl_init_orthogonal(dl_ctx *ctx, dl_tensor *t, float gain);  /* QR of a normal matrix; gain 0 means 1 */

// >>api-optim   options structs: zero means torch.optim's default
typedef enum dl_optim_kind { DL_SGD = 1, DL_ADAGRAD, DL_RMSPROP, DL_ADAM, DL_ADAMW } dl_optim_kind;
typedef struct dl_optim_desc {
    dl_optim_kind kind;
    float lr;               /* default: sgd 0.01 (torch requires one), adagrad 0.01, rmsprop 0.01, adam/adamw 0.001 */
    float momentum;         /* sgd, rmsprop: 0                                            */
    float dampening;        /* sgd: 0                                                     */
    int   nesterov;         /* sgd                                                        */
    float weight_decay;     /* 0; adamw: 0.01 (set no_weight_decay to get 0)              */
    int   no_weight_decay;  /* forces weight_decay 0 (needed for adamw)                   */
    float alpha;            /* rmsprop smoothing: 0.99                                    */
    int   centered;         /* rmsprop                                                    */
    float eps;              /* adagrad 1e-10, rmsprop 1e-8, adam 1e-8                     */
    float beta1, beta2;     /* adam: 0.9, 0.999                                           */
    int   amsgrad;          /* adam/adamw                                                 */
    float lr_decay;         /* adagrad: 0                                                 */
    float initial_accumulator_value; /* adagrad: 0                                        */
} dl_optim_desc;
enum { DL_GROUP_LR = 1, DL_GROUP_WEIGHT_DECAY = 2 };
typedef struct dl_group_desc { unsigned set; float lr, weight_decay; } dl_group_desc; /* set: which fields override */
typedef struct dl_optim dl_optim;
DLDEF dl_optim *dl_optim_new(dl_ctx *ctx, const dl_optim_desc *desc, int max_params); /* state lives in the arena: create before dl_ctx_mark */
DLDEF int    dl_optim_add(dl_optim *o, dl_tensor *const *params, int n, const dl_group_desc *group); /* returns group id, -1 on error */
DLDEF void   dl_optim_step(dl_optim *o);             /* one update of every parameter with a gradient */
DLDEF void   dl_optim_zero_grad(dl_optim *o);
DLDEF void   dl_optim_set_lr(dl_optim *o, float lr); /* every group, scaled by its ratio to the base lr */
DLDEF float  dl_optim_get_lr(const dl_optim *o);
DLDEF int    dl_optim_num_params(const dl_optim *o);
DLDEF dl_tensor *dl_optim_param(const dl_optim *o, int i);

// >>api-regularize
DLDEF float dl_clip_grad_norm(dl_tensor *const *params, int n, float max_norm); /* torch: scale by max_norm/(norm+1e-6) if < 1; returns norm */
DLDEF void  dl_clip_grad_value(dl_tensor *const *params, int n, float clip);
DLDEF dl_tensor *dl_l1_penalty(dl_ctx *ctx, dl_tensor *const *params, int n);   /* sum |w|   */
DLDEF dl_tensor *dl_l2_penalty(dl_ctx *ctx, dl_tensor *const *params, int n);   /* sum w^2 / 2 */
DLDEF void  dl_max_norm(dl_tensor *w, float max_norm); /* each row w[i,:] rescaled to norm <= max_norm (torch.renorm dim 0) */
typedef struct dl_ema { dl_tensor **params, **shadow; int n; float decay; } dl_ema;   /* Polyak/EMA weights */
DLDEF void  dl_ema_init(dl_ctx *ctx, dl_ema *e, dl_tensor *const *params, int n, float decay);
DLDEF void  dl_ema_update(dl_ema *e);                /* shadow = decay*shadow + (1-decay)*param */
DLDEF void  dl_ema_swap(dl_ema *e);                  /* exchange params and shadow (evaluate with EMA, swap back) */
typedef struct dl_early_stop { dl_tensor **params, **best; int n, patience, bad_epochs, mode_max; float best_metric; int best_epoch, epoch; } dl_early_stop;
DLDEF void  dl_early_stop_init(dl_ctx *ctx, dl_early_stop *es, dl_tensor *const *params, int n, int patience, int mode_max);
DLDEF int   dl_early_stop_update(dl_early_stop *es, float metric); /* 1: stop now. Keeps a copy of the best params */
DLDEF void  dl_early_stop_restore(dl_early_stop *es);

// >>api-schedule   lr as a pure function of the epoch (torch.optim.lr_scheduler)
typedef enum dl_sched_kind { DL_SCHED_STEP = 1, DL_SCHED_MULTISTEP, DL_SCHED_EXPONENTIAL, DL_SCHED_COSINE, DL_SCHED_WARMUP } dl_sched_kind;
typedef struct dl_sched_desc {
    dl_sched_kind kind;
    float base_lr;
    int   step_size;        /* step                                                      */
    float gamma;            /* step, multistep: 0.1; exponential: required               */
    const int *milestones; int n_milestones; /* multistep                                */
    int   t_max; float eta_min; /* cosine (CosineAnnealingLR)                            */
    int   warmup_epochs; float start_factor; /* warm-up (LinearLR): start_factor 1/3, total_iters warmup_epochs (default 5) */
} dl_sched_desc;
DLDEF float dl_sched_lr(const dl_sched_desc *s, int epoch);
typedef struct dl_plateau { float lr, factor, threshold, min_lr, best; int patience, cooldown, bad, cool, mode_max, started; } dl_plateau;
DLDEF void  dl_plateau_init(dl_plateau *p, float lr, float factor, int patience, int mode_max); /* torch defaults: factor 0.1, patience 10, threshold 1e-4 rel */
DLDEF float dl_plateau_step(dl_plateau *p, float metric); /* returns the lr to use next */

// >>api-data
DLDEF void  dl_shuffle(dl_ctx *ctx, int32_t *perm, int64_t n);           /* perm = a random permutation of 0..n-1 */
DLDEF dl_tensor *dl_batch_rows(dl_ctx *ctx, const float *data, int64_t row_len, const int32_t *rows, int64_t n, dl_shape s); /* copy rows[] of data into a new [n,...] tensor */
DLDEF dl_tensor *dl_batch_rows_u8(dl_ctx *ctx, const unsigned char *data, int64_t row_len, const int32_t *rows, int64_t n, dl_shape s, float scale); /* bytes (e.g. dl_idx.u8) -> floats * scale */
DLDEF dl_tensor *dl_batch_labels(dl_ctx *ctx, const int32_t *labels, const int32_t *rows, int64_t n); /* DL_I32 [n] */
typedef struct dl_idx { int ndim; int64_t shape[4]; int64_t count; unsigned char *u8; } dl_idx; /* an IDX file of unsigned bytes: count = product of shape; u8 in the arena */
#ifndef DL_NO_STDIO
/* Reads an IDX file (MNIST/Fashion-MNIST format, uncompressed, or gzip: see README) into
   the arena: returns DL_STATUS_OK and fills *out. Errors: DL_STATUS_IO, DL_STATUS_FORMAT.  */
DLDEF dl_status dl_idx_load(dl_ctx *ctx, const char *path, dl_idx *out);
#endif

// >>api-metrics
DLDEF float dl_accuracy(const dl_tensor *logits, const dl_tensor *labels);  /* argmax over axis 1 vs DL_I32 labels */
DLDEF void  dl_confusion_matrix(const int32_t *pred, const int32_t *truth, int64_t n, int k, int64_t *cm); /* cm[truth*k + pred] += 1 */
typedef struct dl_prf { float precision, recall, f1; } dl_prf;
DLDEF dl_prf dl_prf_macro(const int64_t *cm, int k);
DLDEF dl_prf dl_prf_micro(const int64_t *cm, int k);

// >>api-io   weights file, little-endian: "DLW1" u32 version=1, u32 count, then per tensor:
//  u32 name_len, name bytes, u32 ndim, ndim x i64 shape, u32 dtype (0 f32), numel x f32;
//  then u32 CRC-32 (IEEE) of every byte before it.
DLDEF size_t    dl_save_size(dl_tensor *const *ts, const char *const *names, int n);
DLDEF dl_status dl_save_mem(dl_tensor *const *ts, const char *const *names, int n, void *buf, size_t cap);
DLDEF dl_status dl_load_mem(dl_ctx *ctx, dl_tensor *const *ts, const char *const *names, int n, const void *buf, size_t size);
#ifndef DL_NO_STDIO
DLDEF dl_status dl_save(dl_ctx *ctx, dl_tensor *const *ts, const char *const *names, int n, const char *path);
DLDEF dl_status dl_load(dl_ctx *ctx, dl_tensor *const *ts, const char *const *names, int n, const char *path);
#endif

// >>api-png   8-bit PNG files, gray (channels 1) or RGB (3), with stored (uncompressed)
// deflate blocks: any PNG reader opens them; no compression library needed.
DLDEF size_t    dl_png_size(int width, int height, int channels);  /* encoded bytes; 0 if invalid */
/* pixels row-major, interleaved channels; buf gets dl_png_size() bytes */
DLDEF dl_status dl_png_encode(const unsigned char *pixels, int width, int height, int channels, void *buf, size_t cap);
#ifndef DL_NO_STDIO
/* the encoded file is built in the arena (rewound after), so the context needs room for it */
DLDEF dl_status dl_write_png(dl_ctx *ctx, const char *path, const unsigned char *pixels, int width, int height, int channels);
/* images [N,C,H,W] (C 1 or 3), [N,H,W] or [N, side*side] tiled in rows of `cols` with a
   1-pixel gap; values mapped from [lo, hi] to 0..255 and clamped (lo == hi: each image's
   own min..max). Sample grids, reconstructions, filters. */
DLDEF dl_status dl_write_png_grid(dl_ctx *ctx, const char *path, const dl_tensor *images, int cols, float lo, float hi);
#endif

// >>api-conv   PyTorch layouts: x [N,C,H,W], weight [O, C/groups, kh, kw], bias [O]
enum { DL_PAD_EXPLICIT = 0, DL_PAD_VALID = 1, DL_PAD_SAME = 2, DL_PAD_FULL = 3 };
typedef struct dl_conv_desc {   /* zero means default                                       */
    int stride[2];              /* (h, w); 1                                                 */
    int dilation[2];            /* (h, w); 1                                                 */
    int padding_mode;           /* DL_PAD_EXPLICIT (pad[] below), VALID (0), SAME (output
                                   size = input size, stride 1 only; an odd total puts the
                                   extra row/column at the bottom/right, as torch),
                                   FULL (dilation*(k-1) on every side)                       */
    int pad[4];                 /* explicit: top, bottom, left, right; 0                     */
    int groups;                 /* 1; groups == C == O/m is depthwise                        */
    int output_padding[2];      /* conv_transpose2d only: extra rows/cols at the bottom/right */
} dl_conv_desc;
/* conv2d: cross-correlation as torch.nn.functional.conv2d. bias may be NULL.
   out = floor((H + top + bottom - dilation*(kh-1) - 1) / stride) + 1 (same for W).      */
DLDEF dl_tensor *dl_conv2d(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *d);
/* conv1d: x [N,C,L], w [O, C/groups, k]; desc index 0 is the one spatial dim:
   stride[0], dilation[0], pad[0] (left), pad[1] (right); padding modes as conv2d.       */
DLDEF dl_tensor *dl_conv1d(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *d);
/* conv_transpose2d as torch: x [N,Cin,H,W], w [Cin, Cout/groups, kh, kw], bias [Cout].
   Symmetric padding as torch: pad[0] for H, pad[2] for W (pad[1], pad[3] ignored).
   out = (H-1)*stride - 2*pad + dilation*(kh-1) + output_padding + 1.                     */
DLDEF dl_tensor *dl_conv_transpose2d(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *d);
typedef struct dl_conv2d_layer { dl_tensor *weight, *bias; dl_conv_desc desc; } dl_conv2d_layer;
/* torch's default init: weight and bias U(+-1/sqrt(fan_in)), fan_in = (in/groups)*kh*kw */
DLDEF void dl_conv2d_init(dl_ctx *ctx, dl_conv2d_layer *l, int64_t in, int64_t out, int kh, int kw, int bias, const dl_conv_desc *d);
DLDEF dl_tensor *dl_conv2d_forward(dl_ctx *ctx, const dl_conv2d_layer *l, dl_tensor *x);

// >>api-pool   x [N,C,H,W]
typedef struct dl_pool_desc {   /* zero means default                                       */
    int kernel[2];              /* required                                                  */
    int stride[2];              /* default: kernel                                           */
    int pad[2];                 /* (h, w) on both sides; 0; max pads with -inf               */
    int exclude_pad;            /* avg: 0 counts padding in the divisor (torch's default
                                   count_include_pad=True); 1 excludes it                   */
} dl_pool_desc;
/* max: gradient goes to the argmax; ties: the first maximal element in row-major window
   order (torch's CPU kernel also keeps the first). indices may be NULL; else it receives
   a DL_I32 tensor of the same shape as the output: the flat index h*W + w of each max in
   its input plane, as torch's return_indices.                                            */
DLDEF dl_tensor *dl_max_pool2d(dl_ctx *ctx, dl_tensor *x, const dl_pool_desc *d, dl_tensor **indices);
DLDEF dl_tensor *dl_avg_pool2d(dl_ctx *ctx, dl_tensor *x, const dl_pool_desc *d);
DLDEF dl_tensor *dl_global_avg_pool2d(dl_ctx *ctx, dl_tensor *x);        /* -> [N,C,1,1]     */
DLDEF dl_tensor *dl_adaptive_avg_pool2d(dl_ctx *ctx, dl_tensor *x, int oh, int ow); /* torch's bins: start floor(i*H/oh), end ceil((i+1)*H/oh) */
/* max_unpool2d: y[n,c] of size oh x ow, zero but y.flat[indices] = x; grad gathers back.
   Indices out of range fail with DL_STATUS_INDEX (on a backend they are skipped instead) */
DLDEF dl_tensor *dl_max_unpool2d(dl_ctx *ctx, dl_tensor *x, dl_tensor *indices, int oh, int ow);

// >>api-norm   channels are axis 1: x [N,C], [N,C,L] or [N,C,H,W]; gamma/beta may be NULL
/* batch norm. train: normalize with the batch mean and biased variance over all axes but
   1, and (if running_mean/var are given, not in measure mode) update them:
   rm = (1-momentum) rm + momentum mean; rv = (1-momentum) rv + momentum var_unbiased.
   eval: normalize with running_mean/var. momentum default (0) means 0.1, eps 0 means 1e-5. */
DLDEF dl_tensor *dl_batch_norm(dl_ctx *ctx, dl_tensor *x, dl_tensor *gamma, dl_tensor *beta,
                               dl_tensor *running_mean, dl_tensor *running_var, int train, float momentum, float eps);
/* layer norm over the last `ndims` dims; gamma/beta have those dims' shape. eps 0: 1e-5 */
DLDEF dl_tensor *dl_layer_norm(dl_ctx *ctx, dl_tensor *x, int ndims, dl_tensor *gamma, dl_tensor *beta, float eps);
/* group norm: C split in `groups`, each normalized over (C/groups, spatial); gamma/beta [C] */
DLDEF dl_tensor *dl_group_norm(dl_ctx *ctx, dl_tensor *x, int groups, dl_tensor *gamma, dl_tensor *beta, float eps);
DLDEF dl_tensor *dl_instance_norm(dl_ctx *ctx, dl_tensor *x, dl_tensor *gamma, dl_tensor *beta, float eps); /* groups = C */
typedef struct dl_batchnorm { dl_tensor *weight, *bias, *running_mean, *running_var; float momentum, eps; } dl_batchnorm;
DLDEF void dl_batchnorm_init(dl_ctx *ctx, dl_batchnorm *bn, int64_t channels); /* gamma 1, beta 0, rm 0, rv 1 */
DLDEF dl_tensor *dl_batchnorm_forward(dl_ctx *ctx, dl_batchnorm *bn, dl_tensor *x, int train);
/* inference: fold bn into the conv before it: w' = w*g/sqrt(rv+eps), b' = (b-rm)*g/sqrt(rv+eps) + beta.
   Creates the conv's bias when it has none (from the arena: call before dl_ctx_mark).     */
DLDEF dl_status dl_fold_batch_norm(dl_ctx *ctx, dl_conv2d_layer *conv, const dl_batchnorm *bn);

// >>api-image   augmentation (no gradient; randomness from the ctx RNG), x [N,C,H,W]
DLDEF dl_tensor *dl_random_crop(dl_ctx *ctx, dl_tensor *x, int pad);      /* zero-pad by pad, crop HxW at a random offset, per image */
DLDEF dl_tensor *dl_random_hflip(dl_ctx *ctx, dl_tensor *x, float p);     /* flip each image left-right with probability p */
DLDEF dl_tensor *dl_random_translate(dl_ctx *ctx, dl_tensor *x, int max_shift); /* shift by -max..max pixels in h and w, zero fill */
DLDEF dl_tensor *dl_normalize_channels(dl_ctx *ctx, dl_tensor *x, const float *mean, const float *std); /* (x - mean[c]) / std[c], differentiable */

// >>api-seq   embedding, recurrent layers (RNN, LSTM, GRU), sampling. Time-major like torch:
// x [T, B, features]. Parameter layout, gate order and double bias as torch.nn.RNN/LSTM/GRU:
// w_ih [G*H, I], w_hh [G*H, H], b_ih/b_hh [G*H]; G = 1 (RNN), 4 (LSTM: i, f, g, o), 3 (GRU: r, z, n
// with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))).
/* weight [V, D], idx int32 of any shape -> [..., D]. Index rows equal to padding_idx (>= 0) read
   their row as usual but send it no gradient; padding_idx < 0: no padding index. */
DLDEF dl_tensor *dl_embedding(dl_ctx *ctx, dl_tensor *weight, dl_tensor *idx, int padding_idx);
typedef enum dl_rnn_mode { DL_RNN_TANH = 0, DL_RNN_RELU = 1, DL_LSTM = 2, DL_GRU = 3 } dl_rnn_mode;
typedef struct dl_rnn_out { dl_tensor *y, *h, *c; } dl_rnn_out;  /* c: LSTM only, else NULL   */
/* One layer, one direction, the whole sequence as one op (BPTT in its backward).
   x [T,B,I]; h0, c0 [B,H] or NULL (zeros; c0 LSTM only); b_ih, b_hh may be NULL.
   lengths: int32 [B] with 1 <= len <= T, or NULL (all T): sequence b runs for t < len[b];
   reverse: it runs t = len[b]-1 down to 0. Returns y [T,B,H] (0 where t >= len[b]), h [B,H] and
   c [B,H] the state after each sequence's last valid step. All three are differentiable. */
DLDEF dl_rnn_out dl_rnn_layer(dl_ctx *ctx, dl_rnn_mode mode, dl_tensor *x, dl_tensor *h0, dl_tensor *c0,
                              dl_tensor *w_ih, dl_tensor *w_hh, dl_tensor *b_ih, dl_tensor *b_hh,
                              dl_tensor *lengths, int reverse);
#define DL_RNN_MAX_LAYERS 8
/* a stack of layers as torch.nn.RNN/LSTM/GRU; parameters indexed [layer * dirs + dir] */
typedef struct dl_rnn {
    dl_rnn_mode mode; int64_t input_size, hidden; int layers, dirs; float dropout;
    dl_tensor *w_ih[2 * DL_RNN_MAX_LAYERS], *w_hh[2 * DL_RNN_MAX_LAYERS];
    dl_tensor *b_ih[2 * DL_RNN_MAX_LAYERS], *b_hh[2 * DL_RNN_MAX_LAYERS];   /* NULL without bias */
} dl_rnn;
/* torch's init: every parameter U(-1/sqrt(hidden), 1/sqrt(hidden)) */
DLDEF void dl_rnn_init(dl_ctx *ctx, dl_rnn *r, dl_rnn_mode mode, int64_t input_size, int64_t hidden,
                       int layers, int bidirectional, float dropout, int bias);
/* parameters in torch's named_parameters() order (w_ih, w_hh, b_ih, b_hh per layer, forward
   direction then reverse); out may be NULL to count them; returns the count */
DLDEF int dl_rnn_params(const dl_rnn *r, dl_tensor **out);
/* x [T,B,I]; h0, c0 [layers*dirs, B, H] or NULL; lengths int32 [B] or NULL; train: dropout
   between layers. y [T,B,dirs*H], h and c [layers*dirs, B, H] (c: LSTM only). */
DLDEF dl_rnn_out dl_rnn_forward(dl_ctx *ctx, const dl_rnn *r, dl_tensor *x, dl_tensor *h0, dl_tensor *c0,
                                dl_tensor *lengths, int train);
/* draws a class from softmax(logits / temperature) restricted to the top_k largest logits
   (top_k <= 0: all; temperature <= 0 or top_k 1: argmax, the first on ties), with the ctx RNG.
   Ties at the k-th value keep the lower index. A -inf logit is never drawn. Returns -1 and
   sets DL_STATUS_INVALID for n < 1, NULL logits, top_k > n, a NaN or +inf logit, every
   logit -inf, or a NaN temperature. */
DLDEF int dl_sample_logits(dl_ctx *ctx, const float *logits, int n, float temperature, int top_k);
/* scheduled sampling (Bengio et al. 2015): the probability of feeding the ground truth at
   training step `step`, inverse-sigmoid decay k / (k + exp(step / k)), k >= 1 (k < 1 counts
   as 1, step < 0 as 0) */
DLDEF float dl_teacher_forcing_prob(float k, int64_t step);

// >>api-attention   composed from differentiable ops (matmul, softmax, where): gradients free
/* scaled dot-product attention: q [..., Lq, E], k [..., Lk, E], v [..., Lk, Ev] ->
   [..., Lq, Ev] = softmax(q k^T / sqrt(E) + mask) v. mask: NULL, a float additive mask, or an
   int32 mask where nonzero means "masked out", broadcastable to [..., Lq, Lk]; causal: also
   mask key j > query i. weights: if not NULL, receives the attention weights [..., Lq, Lk].
   q, k, v have the same leading dims. A query row whose every key is masked gets zero weights
   and a zero output, and passes no gradient (torch 1.13 gives NaN there). */
DLDEF dl_tensor *dl_attention(dl_ctx *ctx, dl_tensor *q, dl_tensor *k, dl_tensor *v, dl_tensor *mask,
                              int causal, dl_tensor **weights);
/* multi-head attention with torch.nn.MultiheadAttention's parameters (batch_first = True) */
typedef struct dl_mha {
    int64_t embed, heads;
    dl_tensor *in_proj_weight, *in_proj_bias;    /* [3E, E], [3E] (NULL without bias)     */
    dl_tensor *out_proj_weight, *out_proj_bias;  /* [E, E], [E]                           */
} dl_mha;
DLDEF void dl_mha_init(dl_ctx *ctx, dl_mha *m, int64_t embed, int64_t heads, int bias); /* torch's init */
/* query [B, Lq, E], key/value [B, Lk, E]; key_padding_mask int32 [B, Lk] (nonzero: ignore that
   key) or NULL; attn_mask [Lq, Lk] (float additive or int32) or NULL; causal. weights: if not
   NULL, the weights averaged over heads [B, Lq, Lk]. -> [B, Lq, E] */
DLDEF dl_tensor *dl_mha_forward(dl_ctx *ctx, const dl_mha *m, dl_tensor *query, dl_tensor *key, dl_tensor *value,
                                dl_tensor *key_padding_mask, dl_tensor *attn_mask, int causal, dl_tensor **weights);
/* additive (Bahdanau) attention: e_j = v . tanh(W_q q + W_k k_j), a = softmax(e) over j.
   init: w_q, w_k U(+-1/sqrt(fan_in)) as torch's Linear, v U(+-1/sqrt(dim)) */
typedef struct dl_additive_attn { dl_tensor *w_q, *w_k, *v; int64_t dq, dk, dim; } dl_additive_attn; /* [dim,dq], [dim,dk], [dim] */
DLDEF void dl_additive_attn_init(dl_ctx *ctx, dl_additive_attn *a, int64_t dq, int64_t dk, int64_t dim);
/* query [B, dq], keys [B, L, dk], values [B, L, dv]; mask int32 [B, L] (nonzero: ignore) or
   NULL -> context [B, dv]; weights: if not NULL, [B, L] */
DLDEF dl_tensor *dl_additive_attention(dl_ctx *ctx, const dl_additive_attn *a, dl_tensor *query, dl_tensor *keys,
                                       dl_tensor *values, dl_tensor *mask, dl_tensor **weights);
/* sinusoidal positional encoding [len, dim] (Vaswani et al.): sin on even, cos on odd columns */
DLDEF dl_tensor *dl_sinusoidal_positions(dl_ctx *ctx, int64_t len, int64_t dim);

// >>api-ae-vae   autoencoder and VAE building blocks (declarations below this line)
// Composed from differentiable ops, so gradients come free. Features lie on the last axis;
// a "per sample" result drops it ([N, D] -> [N]). Corruption draws from the ctx RNG.
/* masking noise (denoising AE): each element of x kept with probability 1-p, else 0 (not
   rescaled); a new tensor without gradient, p in [0, 1] */
DLDEF dl_tensor *dl_mask_noise(dl_ctx *ctx, dl_tensor *x, float p);
/* additive Gaussian noise x + std * N(0, 1); a new tensor without gradient, std >= 0 */
DLDEF dl_tensor *dl_gaussian_noise(dl_ctx *ctx, dl_tensor *x, float std);
/* KL sparsity penalty (sparse AE), scalar: sum_j KL(rho || r_j), r_j the mean of h[..., j]
   over every other axis (h in (0,1), e.g. sigmoid units; r clamped to [1e-6, 1 - 1e-6]) */
DLDEF dl_tensor *dl_kl_sparsity_penalty(dl_ctx *ctx, dl_tensor *h, float rho);
/* contractive penalty (CAE), scalar, for h = sigmoid(x W^T + b), w [H, D], h [..., H]: the
   mean over samples of ||dh/dx||_F^2 = sum_j (h_j (1 - h_j))^2 sum_i W_ji^2 */
DLDEF dl_tensor *dl_contractive_penalty(dl_ctx *ctx, dl_tensor *w, dl_tensor *h);
/* reparameterized sample z = mu + exp(logvar / 2) * eps; eps NULL: drawn N(0, I) with mu's
   shape; eps may add leading dims (eps [k, N, D] with mu [N, D]: k samples each) */
DLDEF dl_tensor *dl_reparameterize(dl_ctx *ctx, dl_tensor *mu, dl_tensor *logvar, dl_tensor *eps);
/* KL(N(mu, e^logvar) || N(0, I)) per sample: -1/2 sum (1 + logvar - mu^2 - e^logvar) */
DLDEF dl_tensor *dl_gaussian_kl(dl_ctx *ctx, dl_tensor *mu, dl_tensor *logvar);
/* Gaussian log-density per sample: sum -1/2 (log 2pi + logvar + (z - mu)^2 e^-logvar); mu and
   logvar broadcast against z, either may be NULL (0): a Gaussian decoder, or log p(z) */
DLDEF dl_tensor *dl_gaussian_log_prob(dl_ctx *ctx, dl_tensor *z, dl_tensor *mu, dl_tensor *logvar);
/* Bernoulli log-likelihood per sample (Bernoulli decoder): -sum BCE-with-logits(logits, x),
   x in [0, 1]; same shapes */
DLDEF dl_tensor *dl_bernoulli_log_prob(dl_ctx *ctx, dl_tensor *logits, dl_tensor *x);
/* log-mean-exp along an axis, removed: logsumexp(x, axis) - log(n), stable */
DLDEF dl_tensor *dl_log_mean_exp(dl_ctx *ctx, dl_tensor *x, int axis);
/* importance-weighted log-likelihood (Burda et al. 2016) -> [N]: log (1/k) sum_s
   p(x|z_s) p(z_s) / q(z_s|x), with log_px_z [k, N] = log p(x | z_s), z [k, N, D] drawn from
   q = N(mu, e^logvar), mu and logvar [N, D], p(z) = N(0, I). k = 1 is a one-sample ELBO; the
   expected value rises with k toward log p(x). */
DLDEF dl_tensor *dl_iw_log_likelihood(dl_ctx *ctx, dl_tensor *log_px_z, dl_tensor *z, dl_tensor *mu, dl_tensor *logvar);

// (end of >>api-ae-vae)

// >>api-rbm   restricted Boltzmann machines, DBN, NADE (declarations below this line)
/* RBM with binary hidden units h and binary (DL_RBM_BINARY) or unit-variance Gaussian
   (DL_RBM_GAUSSIAN; standardize the data) visible units v. Energy:
     binary    E(v,h) = -b_v.v - b_h.h - h.W v
     gaussian  E(v,h) = |v - b_v|^2 / 2 - b_h.h - h.W v
   so p(h_j=1|v) = sigmoid(b_h + W v)_j, p(v|h) = Bernoulli(sigmoid(b_v + W^T h)) or
   N(b_v + W^T h, 1). Batches are rows: v [N,V], h [N,H]. Sampling uses the ctx RNG.   */
enum { DL_RBM_BINARY = 0, DL_RBM_GAUSSIAN = 1 };
typedef struct dl_rbm {
    int64_t nv, nh; int visible;       /* sizes V, H; DL_RBM_BINARY or DL_RBM_GAUSSIAN      */
    dl_tensor *W, *b_v, *b_h;          /* [H,V], [V], [H]                                    */
    dl_tensor *mW, *mb_v, *mb_h;       /* momentum (velocity) of the CD/PCD updates          */
} dl_rbm;
/* W ~ N(0, std^2) (std 0 means 0.01), biases 0; from the arena (call before dl_ctx_mark) */
DLDEF void dl_rbm_init(dl_ctx *ctx, dl_rbm *r, int64_t nv, int64_t nh, int visible, float std);
/* free energy F(v) = -log sum_h e^-E(v,h): [N,V] -> [N]; differentiable (composed of ops)
     binary   -b_v.v - sum_j softplus(b_h + W v)_j;  gaussian  |v-b_v|^2/2 - sum_j softplus(.) */
DLDEF dl_tensor *dl_rbm_free_energy(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v);
DLDEF dl_tensor *dl_rbm_hidden_probs(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v);  /* p(h=1|v) [N,H]; no gradient */
DLDEF dl_tensor *dl_rbm_visible_mean(dl_ctx *ctx, const dl_rbm *r, dl_tensor *h);  /* E[v|h] [N,V]: sigmoid or linear */
DLDEF dl_tensor *dl_rbm_sample_hidden(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v); /* h ~ p(h|v), 0/1 */
DLDEF dl_tensor *dl_rbm_sample_visible(dl_ctx *ctx, const dl_rbm *r, dl_tensor *h); /* v ~ p(v|h) */
/* `steps` block Gibbs steps v -> h -> v' from v; returns the final v (a new tensor) */
DLDEF dl_tensor *dl_rbm_gibbs(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v, int steps);
/* CD-k / PCD-k estimate of the gradient of the mean log-likelihood of the batch v [N,V]:
     gW = <p(h|v) v^T>_data - <p(h|v~) v~^T>_chain (means over rows), gb_v, gb_h likewise.
   chain NULL: CD-k, the chain starts at v and runs k steps. chain [M,V]: PCD-k, the
   persistent chain is advanced k steps in place (any M). gW [H,V], gb_v [V], gb_h [H] are
   overwritten. Returns the mean squared reconstruction error |v - E[v|h~p(h|v)]|^2 / V
   (a progress number), or -1 on failure. Scratch is rewound before returning.        */
DLDEF float dl_rbm_cd_grad(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v, int k, dl_tensor *chain,
                           dl_tensor *gW, dl_tensor *gb_v, dl_tensor *gb_h);
typedef struct dl_rbm_train_desc {  /* zero means default                                   */
    int k;                          /* Gibbs steps: 1                                        */
    float lr;                       /* 0.01 (gaussian data wants ~0.001)                     */
    float momentum;                 /* 0                                                     */
    float weight_decay;             /* 0: L2 on W only, added as -weight_decay * W          */
} dl_rbm_train_desc;
/* one CD-k (chain NULL) or PCD-k step: m = momentum m + lr (g - wd W); W += m (biases
   likewise, without decay). Returns the reconstruction error as dl_rbm_cd_grad.       */
DLDEF float dl_rbm_train_step(dl_ctx *ctx, dl_rbm *r, dl_tensor *v, dl_tensor *chain, const dl_rbm_train_desc *d);
/* log Z exactly by enumeration (double precision): enumerate 0 picks the smaller layer,
   1 the visible configurations (binary only), 2 the hidden ones (the visible sum or
   integral done analytically). At most 2^24 configurations; NAN on failure.           */
DLDEF double dl_rbm_log_z_exact(dl_ctx *ctx, const dl_rbm *r, int enumerate);
/* annealed importance sampling (Salakhutdinov & Murray 2008) from the base model with
   W = 0 (binary: visible biases base_bv [V], e.g. dl_rbm_base_rate of the data, or zeros
   when NULL; gaussian: the same b_v, base_bv ignored) to the RBM through `betas`
   intermediate inverse temperatures (10% of them in [0,0.5], 40% in [0.5,0.9], 50% in
   [0.9,1]) with `chains` independent runs. Returns the estimate of log Z; *log_z_sd (if
   not NULL) gets the delta-method standard deviation of the estimate. NAN on failure.  */
DLDEF double dl_rbm_log_z_ais(dl_ctx *ctx, const dl_rbm *r, int chains, int betas, const dl_tensor *base_bv, double *log_z_sd);
DLDEF dl_tensor *dl_rbm_base_rate(dl_ctx *ctx, const dl_tensor *data); /* logit of the smoothed column means of data [N,V] -> [V] */
/* mean over the rows of data of log p(v) = -F(v) - log_z, in nats (NAN on failure)    */
DLDEF double dl_rbm_log_likelihood(dl_ctx *ctx, const dl_rbm *r, dl_tensor *data, double log_z);
/* DBN fine-tuning: a dl_linear (in V, out H) holding copies of W and b_h, with gradients
   on, so sigmoid(linear(x)) is the RBM's p(h|x) (arena: call before dl_ctx_mark)      */
DLDEF void dl_rbm_to_linear(dl_ctx *ctx, const dl_rbm *r, dl_linear *l);

/* NADE (Larochelle & Murray 2011) on binary x [N,D]: a_d = c + W[:, <d] x_<d,
   p(x_d = 1 | x_<d) = sigmoid(b_d + V[d,:] . sigmoid(a_d)). W [H,D], c [H], V [D,H], b [D]. */
typedef struct dl_nade { int64_t d, h; dl_tensor *W, *c, *V, *b; } dl_nade;
/* W, V ~ U(+-1/sqrt(fan_in)) as torch's Linear, biases 0, gradients on */
DLDEF void dl_nade_init(dl_ctx *ctx, dl_nade *m, int64_t d, int64_t h);
DLDEF int  dl_nade_params(const dl_nade *m, dl_tensor **out);       /* W, c, V, b; out may be NULL; returns 4 */
/* exact log p(x) [N], differentiable (composed of ops; O(N D^2 H) through a masked GEMM) */
DLDEF dl_tensor *dl_nade_log_prob(dl_ctx *ctx, const dl_nade *m, dl_tensor *x);
/* n samples [n,D], drawn pixel by pixel with the ctx RNG; no gradient */
DLDEF dl_tensor *dl_nade_sample(dl_ctx *ctx, const dl_nade *m, int64_t n);

// (end of >>api-rbm)

// >>api-backend
// >>ops-list  one list drives the op enum, the name table and the backward table.
// Numbers are permanent: never reuse one. Each op's forward and backward sit together below.
#define DL_OPS(X) \
    X(copy, 1)       X(add, 2)        X(sub, 3)         X(mul, 4)        X(div, 5)        \
    X(minimum, 6)    X(maximum, 7)    X(where, 8)       X(add_scalar, 9) X(mul_scalar, 10) \
    X(neg, 11)       X(abs, 12)       X(sign, 13)       X(exp, 14)       X(log, 15)       \
    X(sqrt, 16)      X(square, 17)    X(pow, 18)        X(sin, 19)       X(cos, 20)       \
    X(clamp, 21)     X(relu, 22)      X(sigmoid, 23)    X(tanh, 24)      X(softplus, 25)  \
    X(log_sigmoid, 26) X(matmul, 27)  X(sum, 28)        X(mean, 29)      X(max, 30)       \
    X(var, 31)       X(logsumexp, 32) X(softmax, 33)    X(log_softmax, 34) X(view, 35)    \
    X(concat, 36)    X(index_select, 37) X(gather, 38)  X(leaky_relu, 39) X(elu, 40)      \
    X(selu, 41)      X(gelu, 42)      X(gelu_tanh, 43)  X(silu, 44)      X(hard_tanh, 45) \
    X(softsign, 46)  X(prelu, 47) \
    X(conv2d, 48) X(conv_transpose2d, 49) \
    X(max_pool2d, 50) X(avg_pool2d, 51) X(adaptive_avg_pool2d, 52) X(max_unpool2d, 53) \
    X(batch_norm, 54) X(layer_norm, 55) X(group_norm, 56) X(embedding, 57) X(rnn, 58)

enum dl__op {
    DL__OP_NONE = 0,
#define DL__X(name, num) DL__OP_##name = num,
    DL_OPS(DL__X)
#undef DL__X
    DL__OP_COUNT
};

enum { DL__MAX_IN = 3 };

struct dl__node {
    dl__node *prev;             /* tape: previous node (tape grows forward)            */
    int op;
    int nin;
    dl_tensor *out;
    dl_tensor **in;             /* in_small, or an arena array (concat)               */
    dl_tensor *in_small[DL__MAX_IN];
    int iarg[DL_MAX_DIMS + 4];  /* op parameters: axis, keepdim, perm, mask, flags     */
    int64_t larg[DL_MAX_DIMS + 2];
    float farg[2];
    void *aux;                  /* a backend's saved state (plan phase)             */
};
/* BACKENDS. A backend runs the ops somewhere else (dl_cuda.h: an NVIDIA GPU). Set
   dl_ctx_desc.backend and nothing else changes in user code.
   Memory: the context keeps its host arena and takes ONE device block of the same size; a
   tensor's host pointer (t->data) and its device copy sit at the same offset, so the arena's
   mark/rewind frees both and a step that starts at the same mark gets the same addresses.
   The device copy is the live one. Host code that writes a tensor (dl_from_data, dl_fill,
   dl_set, init, batch helpers) uploads what it wrote; host code that reads one (dl_item,
   dl_get, dl_copy_to, dl_accuracy, dl_print) downloads first. Functions that would read a
   tensor on the host in the middle of an op fail with DL_STATUS_UNSUPPORTED instead.
   Each op records a node (even without grad) and the backend's fwd[op] runs it; backward
   calls bwd[op]. An op whose slot is NULL fails with DL_STATUS_UNSUPPORTED and its name.
   Every device action is a command: in eager mode it runs at once; inside dl_step_run it
   is recorded, hashed, and replayed as one captured graph (see dl_step_run).
   Kernels are called twice: phase PLAN when the op is recorded (validate, allocate scratch
   with dl_backend_alloc, keep it in nd->aux; no device work) and phase RUN (launch).
   Where this departs from DESIGN.md section 2 (per-op dl__fwd_<op> in every backend
   table): the CPU is not a table. Its forward loops stay inside each op's function, next
   to the shape checks, guarded by ctx->nocomp (the flag measure mode already used); only
   other backends fill fwd/bwd slots, reached from the node every op records. That kept
   every CPU op and test unchanged and adds one mechanism (the node) instead of 58 split
   functions; a backend author reads the CPU op for the node's layout. */
#define DL_BACKEND_VERSION 1
enum { DL_PHASE_PLAN = 0, DL_PHASE_RUN = 1 };
typedef dl_status (*dl_backend_op)(dl_ctx *ctx, dl__node *nd, int phase);
/* one fused optimizer update over every parameter with a gradient. recs is an arena array
   whose device twin is uploaded before each update (so lr and step counts may change
   between replays of a captured step); its pointers are DEVICE pointers. */
typedef struct dl_optim_rec {
    float *p, *g, *s1, *s2, *s3;          /* parameter, gradient, state as in dl.h's optim  */
    int64_t numel;
    float lr, wd, t, step_size, bc2s, decay, clr, l2; /* this step's scalars (adam: step_size
                                             = lr/bc1, bc2s = sqrt(bc2); adamw decay = 1-lr*wd;
                                             adagrad clr = lr/(1+(t-1)lr_decay))          */
} dl_optim_rec;
typedef struct dl_optim_args {
    int kind, n;                          /* dl_optim_kind; records in recs                 */
    float momentum, dampening, alpha, eps, beta1, beta2;
    int nesterov, centered, amsgrad;
    int64_t max_numel;
    dl_optim_rec *recs;                   /* host address (the device twin is current)      */
} dl_optim_args;
/* global-norm clipping: recs[k].g / .numel used; scratch: n + 2 floats of arena (device
   twin): per-tensor sums, then the norm and the scale */
typedef struct dl_clip_args { int n; float max_norm; int64_t max_numel; dl_optim_rec *recs; float *scratch; void *aux; } dl_clip_args; /* aux: the backend's (PLAN) */
typedef struct dl_backend {
    int version;                          /* DL_BACKEND_VERSION                            */
    const char *name;                     /* "cuda"                                        */
    void *(*init)(int deterministic);     /* per-context state; NULL: cannot start (no GPU) */
    void  (*release)(void *st);
    void *(*dev_alloc)(void *st, size_t bytes);        /* the context's one device block   */
    void  (*dev_free)(void *st, void *p);
    void *(*host_alloc)(void *st, size_t bytes);       /* optional: pinned host arena      */
    void  (*host_free)(void *st, void *p);
    dl_status (*upload)(void *st, void *dev, const void *host, size_t bytes);   /* ordered  */
    dl_status (*download)(void *st, void *host, const void *dev, size_t bytes); /* waits    */
    dl_status (*memset0)(void *st, void *dev, size_t bytes);
    dl_status (*fill)(void *st, float *dev, int64_t n, float v);
    dl_status (*sync)(void *st);          /* waits for all queued work; reports its errors */
    dl_backend_op fwd[DL__OP_COUNT], bwd[DL__OP_COUNT];
    dl_status (*optim)(dl_ctx *ctx, const dl_optim_args *a, int phase);
    dl_status (*clip)(dl_ctx *ctx, dl_clip_args *a, int phase);
    /* step capture: begin/end around the RUN of one step's commands; NULL: no graphs */
    dl_status (*capture_begin)(void *st);
    dl_status (*capture_end)(void *st, void **graph);
    dl_status (*graph_launch)(void *st, void *graph);
    void (*graph_free)(void *st, void *graph);
    /* optional: called before (end 0) and after (end 1) every command that runs, with its
       kind (0 forward, 1 backward, 2 upload, 3 zero, 4 fill, 5 optimizer, 6 clip, 7 zero
       list) and name:
       a profiler's hook (dl_cuda.h: DLC_PROFILE=1) */
    void (*trace)(void *st, int kind, const char *name, int end);
    /* optional: zero `count` device ranges at once; table (device): {address, bytes} pairs
       as two uint64 each; max_bytes: the largest. dl_step_run puts the zeroing of every
       gradient first made in the step into one such call at the step's start. */
    dl_status (*zero_list)(void *st, const void *table, int count, size_t max_bytes);
    /* optional: device memory the backend keeps for itself (a BLAS workspace), taken from
       the start of the context's device block, so a context still makes one allocation;
       attach gets its device address. Skipped when the arena is under 4x reserve. */
    size_t reserve;
    void (*attach)(void *st, void *dev, size_t bytes);
} dl_backend;
/* for backend authors */
DLDEF const dl_backend *dl_ctx_backend(const dl_ctx *ctx);  /* NULL: the built-in CPU     */
DLDEF void   *dl_backend_state(const dl_ctx *ctx);          /* what init returned         */
DLDEF void   *dl_backend_dev(const dl_ctx *ctx, const void *host); /* device twin of an arena pointer */
DLDEF void   *dl_backend_alloc(dl_ctx *ctx, size_t bytes);  /* arena scratch (PLAN only)  */
DLDEF float  *dl_backend_grad(dl_ctx *ctx, dl_tensor *t);   /* t's grad, zeroed when new  */
DLDEF dl_status dl_backend_fail(dl_ctx *ctx, dl_status s, const char *msg); /* "op: msg"  */
DLDEF int     dl_backend_deterministic(const dl_ctx *ctx);  /* desc.deterministic         */
/* for users */
DLDEF dl_status dl_upload(dl_ctx *ctx, dl_tensor *t);       /* host copy -> device (done
                                                               by every host writer)     */
DLDEF dl_status dl_download(dl_ctx *ctx, dl_tensor *t);     /* device -> host copy; waits */
DLDEF dl_status dl_ctx_sync(dl_ctx *ctx);                   /* wait for queued work       */
/* STEP REPLAY. dl_step_run(ctx, s, fn, user) calls fn(ctx, user) (one training step: forward,
   backward, clipping, optimizer) with device work recorded instead of run, hashes the
   recorded commands (ops, shapes, addresses, arguments), and then:
     - the same hash as the graph s holds: replays the graph (one launch);
     - no graph yet: captures the commands into a graph and replays it;
     - a different hash (shapes changed, e.g. a smaller last batch): runs the commands
       eagerly and keeps the old graph (a hash seen twice in a row is captured instead).
   It waits for the device before it returns, so the tensors fn made can be read. Call it
   at the same arena mark each time (rewind after reading the results). Inside fn: no
   reads of device values (dl_item ...) and no rewinds; host writes (a batch, random noise)
   are fine: their uploads are part of the graph, from the same host addresses. Values that
   change every step (lr, Adam's step count) travel in uploaded blocks, not in the graph.
   On the CPU backend it just calls fn. */
typedef struct dl_step { void *graph; uint64_t hash, pending; int replays, captures, eager; } dl_step;
DLDEF dl_status dl_step_run(dl_ctx *ctx, dl_step *s, void (*fn)(dl_ctx *ctx, void *user), void *user);
DLDEF void      dl_step_free(dl_ctx *ctx, dl_step *s);
#ifdef __cplusplus
}
#endif
#endif /* DL_H */

/* ======================================================================================
   IMPLEMENTATION
   ====================================================================================== */
#if defined(DL_IMPLEMENTATION) && !defined(DL__IMPLEMENTATION_DONE)
#define DL__IMPLEMENTATION_DONE

#include <string.h>
#include <math.h>
/* SIMD kernels: x86-64 picks at run time (cpuid + xgetbv, functions compiled with
   __attribute__((target))), AArch64 uses NEON at compile time. DL_NO_SIMD: portable C only. */
#if !defined(DL_NO_SIMD) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DL__X86_64 1
#include <immintrin.h>
#endif
#if !defined(DL_NO_SIMD) && defined(__aarch64__) && defined(__ARM_NEON)
#define DL__NEON64 1
#include <arm_neon.h>
#endif
/* the built-in thread pool: POSIX threads where there are any; DL_NO_THREADS: none (the
   parallel_for hook in dl_ctx_desc still works) */
#if !defined(DL_NO_THREADS) && (defined(__unix__) || defined(__APPLE__)) && !defined(__EMSCRIPTEN__)
#define DL__THREADS 1
#include <pthread.h>
#endif
#ifndef DL_NO_STDIO
#include <stdio.h>
#endif
#if defined(DL_MALLOC) != defined(DL_FREE)
#error "dl.h: define both DL_MALLOC and DL_FREE, or neither"
#endif
#if !defined(DL_MALLOC) && !defined(DL_NO_MALLOC)
#include <stdlib.h>
#define DL_MALLOC(sz) malloc(sz)
#define DL_FREE(p) free(p)
#endif
#ifndef DL_ASSERT
#include <assert.h>
#define DL_ASSERT(c) assert(c)
#endif

#ifdef DL_STATIC
#define DL__API DLDEF
#else
#define DL__API
#endif

#ifdef __cplusplus
extern "C" {
#endif


static const char *dl__op_name(int op) {
    switch (op) {
#define DL__X(name, num) case num: return "dl_" #name;
    DL_OPS(DL__X)
#undef DL__X
    default: return "dl_?";
    }
}

// >>internal-types
enum { DL__F_POISON = 1, DL__F_LEAF_GRAD = 2 };

/* >>threads  the built-in pool: POSIX threads, fork-join. The caller runs tasks too; a
   task index is taken under the mutex, so any thread runs any task, in any order. */
#if defined(DL__THREADS)
#define DL__MAX_THREADS 64
typedef struct dl__pool {
    pthread_t th[DL__MAX_THREADS];
    int n, quit;                       /* workers started; shutting down                   */
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    unsigned long gen;                 /* bumped for each parallel for                     */
    void (*task)(void *, int64_t);
    void *arg;
    int64_t ntasks, next, finished;
} dl__pool;
#endif

struct dl_ctx {
    unsigned char *base;        /* arena start (64-aligned)                             */
    size_t cap;                 /* arena bytes usable                                   */
    size_t off, peak;           /* arena bytes in use, most ever in use                 */
    void *owned;                /* what dl_ctx_init malloc'd (freed by dl_ctx_free)     */
    dl__node *tape;             /* newest node                                          */
    size_t meta_off, meta_cap;  /* measure mode: real bytes for headers and tape nodes   */
    uint64_t seed, counter;     /* splitmix64 counter-based RNG                         */
    int measure, check_finite, grad_enabled, isa;
    dl_status status;
    const char *op;             /* op now running, for messages                         */
    dl_tensor poison;
    float poison_val;
    int32_t poison_ival;
    char msg[320];
    char gc_msg[320];
    dl_parallel_for_fn pfor;    /* the caller's, or the built-in pool's; NULL: serial    */
    void *pfor_user;
#if defined(DL__THREADS)
    dl__pool pool;              /* the built-in pool (pool.n workers beside the caller)  */
#endif
    /* >>backend-state  (see BACKENDS in the header) */
    const dl_backend *be;       /* NULL: the CPU                                         */
    void *be_st;                /* be->init's state                                      */
    unsigned char *dev;         /* device twin of base (same offsets)                    */
    void *be_owned;             /* pinned host arena from be->host_alloc, if any         */
    int nocomp;                 /* measure mode or a backend: the CPU loops do not run   */
    int deterministic;
    dl__node *fwd_pending;      /* the node the next dl__done runs on the backend        */
    int rec;                    /* inside dl_step_run: commands are recorded, not run    */
    struct dl__cmd_s *cmd_head, *cmd_tail;
    uint64_t cmd_hash;
};

/* ======================================================================================
   >>format  a tiny formatter so messages need no stdio: %s %d %I(int64) %z(size_t)
   %T(tensor shape) %g(double) %%
   ====================================================================================== */
typedef struct dl__buf { char *p; size_t n, cap; } dl__buf;
static void dl__putc(dl__buf *b, char c) { if (b->n + 1 < b->cap) b->p[b->n++] = c; b->p[b->n] = 0; }
static void dl__puts(dl__buf *b, const char *s) { while (s && *s) dl__putc(b, *s++); }
static void dl__puti(dl__buf *b, int64_t v) {
    char t[24]; int n = 0; uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    if (v < 0) dl__putc(b, '-');
    do { t[n++] = (char)('0' + (int)(u % 10)); u /= 10; } while (u);
    while (n) dl__putc(b, t[--n]);
}
static void dl__putg(dl__buf *b, double v) {
    int e = 0, i; double m;
    if (v != v) { dl__puts(b, "nan"); return; }
    if (v < 0) { dl__putc(b, '-'); v = -v; }
    if (v > 1e300) { dl__puts(b, "inf"); return; }
    if (v == 0) { dl__putc(b, '0'); return; }
    m = v;
    while (m >= 10) { m /= 10; e++; }
    while (m < 1) { m *= 10; e--; }
    if (e >= -4 && e < 7) {              /* fixed: 6 significant digits */
        double ip = floor(v); int64_t frac; int dig = 5 - e; if (dig < 0) dig = 0;
        {   double scale = 1; for (i = 0; i < dig; i++) scale *= 10;
            frac = (int64_t)((v - ip) * scale + 0.5);
            if ((double)frac >= scale) { ip += 1; frac = 0; }
            dl__puti(b, (int64_t)ip);
            if (dig > 0 && frac) { char t[24]; int k; dl__putc(b, '.');
                for (k = dig - 1; k >= 0; k--) { t[k] = (char)('0' + (int)(frac % 10)); frac /= 10; }
                k = dig; while (k > 0 && t[k - 1] == '0') k--; for (i = 0; i < k; i++) dl__putc(b, t[i]); } }
    } else {
        int64_t q = (int64_t)(m * 100000 + 0.5);
        if (q >= 1000000) { q /= 10; e++; }
        dl__puti(b, q / 100000); dl__putc(b, '.');
        { char t[6]; int k; int64_t f = q % 100000; for (k = 4; k >= 0; k--) { t[k] = (char)('0' + (int)(f % 10)); f /= 10; }
          for (k = 0; k < 5; k++) dl__putc(b, t[k]); }
        dl__putc(b, 'e'); dl__puti(b, e);
    }
}
static void dl__put_shape(dl__buf *b, const dl_tensor *t) {
    int i;
    if (!t) { dl__puts(b, "(null)"); return; }
    if (t->flags & DL__F_POISON) { dl__puts(b, "(poison)"); return; }
    dl__putc(b, '[');
    for (i = 0; i < t->ndim; i++) { if (i) dl__putc(b, ','); dl__puti(b, t->shape[i]); }
    dl__putc(b, ']');
}
static void dl__vfmt(dl__buf *b, const char *f, const void *const *args) {
    int ai = 0;
    for (; *f; f++) {
        if (*f != '%') { dl__putc(b, *f); continue; }
        f++;
        switch (*f) {
        case 's': dl__puts(b, (const char *)args[ai++]); break;
        case 'd': dl__puti(b, *(const int *)args[ai++]); break;
        case 'I': dl__puti(b, *(const int64_t *)args[ai++]); break;
        case 'z': dl__puti(b, (int64_t)*(const size_t *)args[ai++]); break;
        case 'g': dl__putg(b, *(const double *)args[ai++]); break;
        case 'T': dl__put_shape(b, (const dl_tensor *)args[ai++]); break;
        case '%': dl__putc(b, '%'); break;
        default: return;
        }
    }
}

/* ======================================================================================
   >>errors  first failure wins; ops return the context's poison tensor afterwards
   ====================================================================================== */
static dl_tensor *dl__fail_v(dl_ctx *ctx, dl_status s, const char *fmt, const void *const *args) {
    if (ctx->status == DL_STATUS_OK) {
        dl__buf b; b.p = ctx->msg; b.n = 0; b.cap = sizeof ctx->msg; ctx->msg[0] = 0;
        dl__puts(&b, ctx->op ? ctx->op : "dl"); dl__puts(&b, ": ");
        dl__vfmt(&b, fmt, args);
        ctx->status = s;
    }
    return &ctx->poison;
}
#define DL__A(x) ((const void *)(x))
static dl_tensor *dl__fail0(dl_ctx *c, dl_status s, const char *f) { return dl__fail_v(c, s, f, NULL); }
static dl_tensor *dl__fail1(dl_ctx *c, dl_status s, const char *f, const void *a) { const void *v[1]; v[0] = a; return dl__fail_v(c, s, f, v); }
static dl_tensor *dl__fail2(dl_ctx *c, dl_status s, const char *f, const void *a, const void *b2) { const void *v[2]; v[0] = a; v[1] = b2; return dl__fail_v(c, s, f, v); }
static dl_tensor *dl__fail3(dl_ctx *c, dl_status s, const char *f, const void *a, const void *b2, const void *c3) { const void *v[3]; v[0] = a; v[1] = b2; v[2] = c3; return dl__fail_v(c, s, f, v); }
static dl_tensor *dl__fail4(dl_ctx *c, dl_status s, const char *f, const void *a, const void *b2, const void *c3, const void *d4) { const void *v[4]; v[0] = a; v[1] = b2; v[2] = c3; v[3] = d4; return dl__fail_v(c, s, f, v); }

DL__API const char *dl_status_name(dl_status s) {
    switch (s) {
    case DL_STATUS_OK: return "DL_STATUS_OK";
    case DL_STATUS_OOM: return "DL_STATUS_OOM";
    case DL_STATUS_SHAPE: return "DL_STATUS_SHAPE";
    case DL_STATUS_AXIS: return "DL_STATUS_AXIS";
    case DL_STATUS_DTYPE: return "DL_STATUS_DTYPE";
    case DL_STATUS_NONFINITE: return "DL_STATUS_NONFINITE";
    case DL_STATUS_INDEX: return "DL_STATUS_INDEX";
    case DL_STATUS_INVALID: return "DL_STATUS_INVALID";
    case DL_STATUS_UNSUPPORTED: return "DL_STATUS_UNSUPPORTED";
    case DL_STATUS_IO: return "DL_STATUS_IO";
    case DL_STATUS_FORMAT: return "DL_STATUS_FORMAT";
    }
    return "DL_STATUS_?";
}
DL__API dl_status dl_ctx_status(const dl_ctx *ctx) { return ctx ? ctx->status : DL_STATUS_INVALID; }
DL__API const char *dl_ctx_message(const dl_ctx *ctx) { return ctx ? ctx->msg : "dl: NULL context"; }
DL__API void dl_ctx_clear_error(dl_ctx *ctx) { if (ctx) { ctx->status = DL_STATUS_OK; ctx->msg[0] = 0; } }
DL__API int dl_is_poison(const dl_tensor *t) { return !t || (t->flags & DL__F_POISON); }
DL__API const char *dl_version(void) { return "0.1.0"; }

/* ======================================================================================
   >>arena  one block; bump allocation in DL_ALIGN steps; mark/rewind
   ====================================================================================== */
static size_t dl__align_up(size_t n) { return (n + (DL_ALIGN - 1)) & ~(size_t)(DL_ALIGN - 1); }
DL__API size_t dl_ctx_overhead_bytes(void) { return dl__align_up(sizeof(dl_ctx)); }

/* Bump allocation. Returns NULL and records DL_STATUS_OOM when the arena is full.
   In measure mode the offset advances the same way, but tensor data (meta == 0) gets no
   memory (NULL, *ok = 1), while headers and tape nodes (meta == 1) live in the buffer. */
static void *dl__alloc(dl_ctx *ctx, size_t bytes, int meta, int *ok) {
    size_t need = dl__align_up(bytes ? bytes : 1);
    *ok = 0;
    if (ctx->status) return NULL;
    if (need < bytes || ctx->off + need < ctx->off) {
        dl__fail1(ctx, DL_STATUS_OOM, "allocation of %z bytes overflows size_t", DL__A(&bytes));
        return NULL;
    }
    if (ctx->measure) {
        void *p = NULL;
        if (meta) {
            if (ctx->meta_off + need > ctx->meta_cap) {
                size_t have = ctx->meta_cap - ctx->meta_off;
                dl__fail2(ctx, DL_STATUS_OOM, "out of memory in measure mode: headers need %z more bytes, %z available (give the measuring context a larger memory_size)", DL__A(&need), DL__A(&have));
                return NULL;
            }
            p = ctx->base + ctx->meta_off;
            ctx->meta_off += need;
        }
        ctx->off += need;
        if (ctx->off > ctx->peak) ctx->peak = ctx->off;
        *ok = 1;
        return p;
    }
    if (ctx->off + need > ctx->cap) {
        size_t have = ctx->cap - ctx->off, total = dl_ctx_overhead_bytes() + ctx->off + need;
        dl__fail3(ctx, DL_STATUS_OOM,
                  "out of memory: needs %z more bytes, %z available (the step needs a buffer of at least %z bytes)",
                  DL__A(&need), DL__A(&have), DL__A(&total));
        return NULL;
    }
    {
        void *p = ctx->base + ctx->off;
        ctx->off += need;
        if (ctx->off > ctx->peak) ctx->peak = ctx->off;
        *ok = 1;
        return p;
    }
}

/* >>threads-pool  fork-join over task indices; dl__parallel is what kernels call */
#if defined(DL__THREADS)
/* Waking a sleeping thread costs tens of microseconds in these VMs, and a training step
   forks hundreds of times (an LSTM: twice per time step): a worker that finished spins for
   a short while (DL__SPIN polls of the generation counter) before it sleeps on the
   condition variable, and so does the caller waiting for the last task. gcc/clang
   atomics; other compilers just sleep. */
#if defined(__GNUC__) || defined(__clang__)
#define DL__SPIN 20000
#define DL__LOAD(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#if defined(DL__X86_64)
#define DL__RELAX() _mm_pause()
#else
#define DL__RELAX() ((void)0)
#endif
#else
#define DL__SPIN 0
#define DL__LOAD(x) (x)
#define DL__RELAX() ((void)0)
#endif
static void dl__pool_drain(dl__pool *p) {       /* with p->mu held: run tasks until none is left */
    while (p->next < p->ntasks) {
        int64_t i = p->next++;
        pthread_mutex_unlock(&p->mu);
        p->task(p->arg, i);
        pthread_mutex_lock(&p->mu);
#if DL__SPIN
        if (__atomic_add_fetch(&p->finished, 1, __ATOMIC_RELEASE) == p->ntasks) pthread_cond_broadcast(&p->done);
#else
        if (++p->finished == p->ntasks) pthread_cond_broadcast(&p->done);
#endif
    }
}
static void *dl__pool_worker(void *vp) {
    dl__pool *p = (dl__pool *)vp; unsigned long seen = 0; long i;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        if (DL__SPIN && !p->quit && p->gen == seen) {
            pthread_mutex_unlock(&p->mu);
            for (i = 0; i < DL__SPIN && DL__LOAD(p->gen) == seen && !DL__LOAD(p->quit); i++) DL__RELAX();
            pthread_mutex_lock(&p->mu);
        }
        while (!p->quit && p->gen == seen) pthread_cond_wait(&p->work, &p->mu);
        if (p->quit) break;
        seen = p->gen;
        dl__pool_drain(p);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}
static void dl__pool_for(void *user, int64_t n, void (*task)(void *, int64_t), void *arg) {
    dl__pool *p = (dl__pool *)user; long i;
    pthread_mutex_lock(&p->mu);
    p->task = task; p->arg = arg; p->ntasks = n; p->next = 0; p->finished = 0;
#if DL__SPIN
    __atomic_store_n(&p->gen, p->gen + 1, __ATOMIC_RELEASE);
#else
    p->gen++;
#endif
    pthread_cond_broadcast(&p->work);
    dl__pool_drain(p);                                  /* the caller works too */
    if (DL__SPIN && p->finished < p->ntasks) {
        pthread_mutex_unlock(&p->mu);
        for (i = 0; i < DL__SPIN && DL__LOAD(p->finished) < n; i++) DL__RELAX();
        pthread_mutex_lock(&p->mu);
    }
    while (p->finished < p->ntasks) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
static void dl__pool_start(dl_ctx *ctx, int threads) {
    dl__pool *p = &ctx->pool; int i; pthread_attr_t at;
    if (threads > DL__MAX_THREADS) threads = DL__MAX_THREADS;
    if (pthread_mutex_init(&p->mu, NULL)) return;
    if (pthread_cond_init(&p->work, NULL)) { pthread_mutex_destroy(&p->mu); return; }
    if (pthread_cond_init(&p->done, NULL)) { pthread_cond_destroy(&p->work); pthread_mutex_destroy(&p->mu); return; }
    pthread_attr_init(&at);
    pthread_attr_setstacksize(&at, (size_t)4 << 20);   /* the packed GEMM keeps ~110 KiB on the stack */
    for (i = 0; i < threads - 1; i++)
        if (pthread_create(&p->th[i], &at, dl__pool_worker, p)) break;
    pthread_attr_destroy(&at);
    p->n = i;
    ctx->pfor = dl__pool_for; ctx->pfor_user = p;      /* with 0 workers it still runs, serially */
}
static void dl__pool_stop(dl_ctx *ctx) {
    dl__pool *p = &ctx->pool; int i;
    if (ctx->pfor != dl__pool_for) return;
    pthread_mutex_lock(&p->mu);
#if DL__SPIN
    __atomic_store_n(&p->quit, 1, __ATOMIC_RELEASE);
#else
    p->quit = 1;
#endif
    pthread_cond_broadcast(&p->work); pthread_mutex_unlock(&p->mu);
    for (i = 0; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_cond_destroy(&p->work); pthread_cond_destroy(&p->done); pthread_mutex_destroy(&p->mu);
    ctx->pfor = NULL;
}
#endif
static void dl__parallel(const dl_ctx *ctx, int64_t n, void (*task)(void *, int64_t), void *arg) {
    int64_t i;
    if (ctx->pfor && n > 1) ctx->pfor(ctx->pfor_user, n, task, arg);
    else for (i = 0; i < n; i++) task(arg, i);
}
DL__API int dl_ctx_threads(const dl_ctx *ctx) {
    if (!ctx || !ctx->pfor) return 1;
#if defined(DL__THREADS)
    if (ctx->pfor == dl__pool_for) return ctx->pool.n + 1;
#endif
    return 0;   /* the caller's job system: unknown */
}

/* >>isa  the best kernel set this CPU runs, capped by desc.isa. Ranks: reference 0,
   portable 1, sse2/neon 2, avx2 3, avx512 4; a cap above what the CPU has gives the best it
   has, and a cap naming another architecture's set counts by its rank. */
static int dl__isa_rank(int isa) {
    switch (isa) {
    case DL_ISA_REFERENCE: return 0; case DL_ISA_PORTABLE: return 1; case DL_ISA_SSE2: case DL_ISA_NEON: return 2;
    case DL_ISA_AVX2: return 3; case DL_ISA_AVX512: return 4; default: return 99;
    }
}
static int dl__isa_lower(int isa) {
    switch (isa) {
    case DL_ISA_AVX512: return DL_ISA_AVX2; case DL_ISA_AVX2: return DL_ISA_SSE2;
    case DL_ISA_SSE2: case DL_ISA_NEON: return DL_ISA_PORTABLE; default: return DL_ISA_REFERENCE;
    }
}
#if defined(DL__X86_64)
static void dl__cpuid(unsigned leaf, unsigned sub, unsigned r[4]) {
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static int dl__isa_detect(void) {
    unsigned r[4], maxleaf, lo, hi; unsigned long long xcr0; int best = DL_ISA_SSE2;  /* x86-64 baseline */
    dl__cpuid(0, 0, r); maxleaf = r[0];
    if (maxleaf < 7) return best;
    dl__cpuid(1, 0, r);
    if (!(r[2] & (1u << 27)) || !(r[2] & (1u << 28)) || !(r[2] & (1u << 12))) return best;  /* OSXSAVE, AVX, FMA */
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    xcr0 = ((unsigned long long)hi << 32) | lo;
    if ((xcr0 & 6u) != 6u) return best;                              /* the OS saves xmm and ymm */
    dl__cpuid(7, 0, r);
    if (r[1] & (1u << 5)) best = DL_ISA_AVX2;
    if (best == DL_ISA_AVX2 && (r[1] & (1u << 16)) && (xcr0 & 0xe6u) == 0xe6u) best = DL_ISA_AVX512; /* AVX512F, opmask+zmm state */
    return best;
}
#elif defined(DL__NEON64)
static int dl__isa_detect(void) { return DL_ISA_NEON; }
#else
static int dl__isa_detect(void) { return DL_ISA_PORTABLE; }
#endif
static int dl__isa_pick(int cap) {
    int isa = dl__isa_detect();
    if (cap == DL_ISA_AUTO) return isa;
    if (dl__isa_rank(cap) == 99) cap = DL_ISA_PORTABLE;
    while (dl__isa_rank(isa) > dl__isa_rank(cap)) isa = dl__isa_lower(isa);
    return isa;
}
DL__API int dl_ctx_isa(const dl_ctx *ctx) { return ctx ? ctx->isa : 0; }
DL__API const char *dl_isa_name(int isa) {
    switch (isa) {
    case DL_ISA_REFERENCE: return "reference"; case DL_ISA_PORTABLE: return "portable"; case DL_ISA_SSE2: return "sse2";
    case DL_ISA_AVX2: return "avx2"; case DL_ISA_AVX512: return "avx512"; case DL_ISA_NEON: return "neon"; default: return "auto";
    }
}

DL__API dl_ctx *dl_ctx_init(const dl_ctx_desc *desc) {
    dl_ctx_desc d;
    unsigned char *mem, *aligned;
    size_t size, head = dl_ctx_overhead_bytes();
    void *owned = NULL, *be_owned = NULL, *st = NULL;
    const dl_backend *be = NULL;
    dl_ctx *ctx;
    if (desc) d = *desc; else memset(&d, 0, sizeof d);
    if (d.measure && !d.memory && !d.memory_size) d.memory_size = (size_t)16 << 20;
    if (d.backend && !d.measure) {              /* measure mode counts bytes on the CPU    */
        be = d.backend;
        if (be->version != DL_BACKEND_VERSION || !be->init || !be->dev_alloc) return NULL;
        st = be->init(d.deterministic != 0);
        if (!st) return NULL;                    /* e.g. no GPU                             */
    }
    if (d.memory) { mem = (unsigned char *)d.memory; size = d.memory_size; }
    else {
        size = d.memory_size + DL_ALIGN;   /* the same usable bytes as an aligned buffer */
        if (size < d.memory_size) { if (be && be->release) be->release(st); return NULL; }
        if (be && be->host_alloc) owned = be_owned = be->host_alloc(st, size);  /* pinned */
#ifndef DL_NO_MALLOC
        else owned = DL_MALLOC(size);
#endif
        if (!owned) { if (be && be->release) be->release(st); return NULL; }
        mem = (unsigned char *)owned;
    }
    aligned = (unsigned char *)(((uintptr_t)mem + (DL_ALIGN - 1)) & ~(uintptr_t)(DL_ALIGN - 1));
    if (owned) size = d.memory_size;
    else size = size > (size_t)(aligned - mem) ? size - (size_t)(aligned - mem) : 0;
    if (!mem || size < head) {
        if (be_owned) be->host_free(st, be_owned);
#ifndef DL_NO_MALLOC
        else if (owned) DL_FREE(owned);
#endif
        if (be && be->release) be->release(st);
        return NULL;
    }
    size -= head;
    ctx = (dl_ctx *)(void *)aligned;
    memset(ctx, 0, sizeof *ctx);
    ctx->base = aligned + head;
    ctx->owned = be_owned ? NULL : owned;
    ctx->measure = d.measure != 0;
    ctx->nocomp = ctx->measure;
    if (ctx->measure) ctx->meta_cap = size; else ctx->cap = size;
    if (be) {                                    /* one device block, the arena's twin     */
        ctx->dev = (unsigned char *)be->dev_alloc(st, size ? size : 1);
        if (!ctx->dev) {
            if (be_owned) be->host_free(st, be_owned);
#ifndef DL_NO_MALLOC
            else if (owned) DL_FREE(owned);
#endif
            if (be->release) be->release(st);
            return NULL;
        }
        ctx->be = be; ctx->be_st = st; ctx->be_owned = be_owned; ctx->nocomp = 1;
        ctx->deterministic = d.deterministic != 0;
    }
    ctx->check_finite = d.check_finite != 0;
    ctx->isa = dl__isa_pick(d.isa);
    if (d.parallel_for) { ctx->pfor = d.parallel_for; ctx->pfor_user = d.parallel_user; }
#if defined(DL__THREADS)
    else if (d.threads > 1 && !d.measure) dl__pool_start(ctx, d.threads);
#endif
    if (owned && !ctx->measure) memset(ctx->base, 0, size);   /* touch every page now, not in a training step */
    ctx->grad_enabled = 1;
    ctx->seed = d.seed ? d.seed : 0x5eedu;
    ctx->poison.flags = DL__F_POISON;
    ctx->poison.numel = 1;
    ctx->poison.data = &ctx->poison_val;
    ctx->poison.idata = &ctx->poison_ival;
    ctx->poison.name = "poison";
    if (ctx->be && ctx->be->reserve && ctx->be->attach && ctx->cap / 4 >= ctx->be->reserve) {
        int ok; void *p = dl__alloc(ctx, ctx->be->reserve, 0, &ok);   /* the arena's first bytes */
        if (ok) ctx->be->attach(ctx->be_st, ctx->dev + ((unsigned char *)p - ctx->base), ctx->be->reserve);
    }
    return ctx;
}
DL__API void dl_ctx_free(dl_ctx *ctx) {
    if (!ctx) return;
#if defined(DL__THREADS)
    dl__pool_stop(ctx);
#endif
    if (ctx->be) {
        const dl_backend *be = ctx->be; void *st = ctx->be_st, *ho = ctx->be_owned;
        if (be->sync) be->sync(st);
        if (be->dev_free) be->dev_free(st, ctx->dev);
        if (ho && be->host_free) be->host_free(st, ho);   /* ctx lives in ho: read it first */
        if (be->release) be->release(st);
        return;
    }
#ifndef DL_NO_MALLOC
    if (ctx->owned) DL_FREE(ctx->owned);
#endif
}
DL__API dl_mark dl_ctx_mark(dl_ctx *ctx) { dl_mark m; m.offset = ctx->off; m.meta = ctx->meta_off; m.tape = ctx->tape; return m; }
DL__API void dl_ctx_rewind(dl_ctx *ctx, dl_mark m) {
    if (m.offset <= ctx->off) { ctx->off = m.offset; ctx->meta_off = m.meta; ctx->tape = m.tape; }
}
DL__API size_t dl_ctx_used_bytes(const dl_ctx *ctx) { return dl_ctx_overhead_bytes() + ctx->off; }
DL__API size_t dl_ctx_peak_bytes(const dl_ctx *ctx) { return dl_ctx_overhead_bytes() + ctx->peak; }
DL__API size_t dl_ctx_capacity(const dl_ctx *ctx) { return dl_ctx_overhead_bytes() + ctx->cap; }
DL__API int dl_ctx_is_measuring(const dl_ctx *ctx) { return ctx->measure; }
DL__API int dl_set_grad_enabled(dl_ctx *ctx, int enabled) { int p = ctx->grad_enabled; ctx->grad_enabled = enabled != 0; return p; }

/* ======================================================================================
   >>rng  splitmix64 over a counter: value i = mix(seed + i * golden). Same seed, same bits.
   ====================================================================================== */
static uint64_t dl__mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
DL__API void dl_ctx_seed(dl_ctx *ctx, uint64_t seed) { ctx->seed = seed; ctx->counter = 0; }
DL__API uint64_t dl_rand_u64(dl_ctx *ctx) { return dl__mix64(ctx->seed + (++ctx->counter) * 0x9e3779b97f4a7c15ull); }
DL__API float dl_rand_uniform(dl_ctx *ctx) { return (float)(dl_rand_u64(ctx) >> 40) * (1.0f / 16777216.0f); }
DL__API float dl_rand_normal(dl_ctx *ctx) {
    uint64_t r = dl_rand_u64(ctx);
    double u1 = ((double)(r >> 40) + 1.0) * (1.0 / 16777217.0);       /* (0,1]  */
    double u2 = (double)(r & 0xffffffu) * (1.0 / 16777216.0);         /* [0,1)  */
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ======================================================================================
   >>tensor  creation, shapes, access
   ====================================================================================== */
DL__API dl_shape dl_shape_n(int ndim, const int64_t *d) {
    dl_shape s; int i; memset(&s, 0, sizeof s);
    s.ndim = ndim < 0 ? -1 : (ndim > DL_MAX_DIMS ? DL_MAX_DIMS + 1 : ndim);
    for (i = 0; i < ndim && i < DL_MAX_DIMS; i++) s.d[i] = d[i];
    return s;
}
DL__API dl_shape dl_shape1(int64_t a) { int64_t d[1]; d[0] = a; return dl_shape_n(1, d); }
DL__API dl_shape dl_shape2(int64_t a, int64_t b) { int64_t d[2]; d[0] = a; d[1] = b; return dl_shape_n(2, d); }
DL__API dl_shape dl_shape3(int64_t a, int64_t b, int64_t c) { int64_t d[3]; d[0] = a; d[1] = b; d[2] = c; return dl_shape_n(3, d); }
DL__API dl_shape dl_shape4(int64_t a, int64_t b, int64_t c, int64_t e) { int64_t d[4]; d[0] = a; d[1] = b; d[2] = c; d[3] = e; return dl_shape_n(4, d); }
DL__API dl_shape dl_shape_of(const dl_tensor *t) { return dl_shape_n(t ? t->ndim : 0, t ? t->shape : NULL); }

static void dl__set_contig_strides(dl_tensor *t) {
    int i; int64_t s = 1;
    for (i = t->ndim - 1; i >= 0; i--) { t->stride[i] = s; s *= t->shape[i]; }
}
DL__API int dl_is_contiguous(const dl_tensor *t) {
    int i; int64_t s = 1;
    for (i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != s) return 0;
        s *= t->shape[i];
    }
    return 1;
}
DL__API int dl_same_shape(const dl_tensor *a, const dl_tensor *b) {
    int i;
    if (a->ndim != b->ndim) return 0;
    for (i = 0; i < a->ndim; i++) if (a->shape[i] != b->shape[i]) return 0;
    return 1;
}

static int dl__arg(dl_ctx *ctx, const dl_tensor *t, int argno, dl_dtype want);
/* ======================================================================================
   >>backend  device commands, push/pull of host copies, dispatch (BACKENDS in the header).
   Every device action goes through dl__cmd: run now (eager), or recorded and hashed
   inside dl_step_run. Nothing here runs on the CPU backend.
   ====================================================================================== */
enum { DL__C_FWD = 1, DL__C_BWD, DL__C_UP, DL__C_ZERO, DL__C_FILL, DL__C_OPTIM, DL__C_CLIP,
       DL__C_ZFRESH,        /* zeroing of memory allocated in this step (a new gradient) */
       DL__C_ZLIST };       /* many ZFRESH at once: args = table of {device address, bytes} */
typedef struct dl__cmd_s {
    struct dl__cmd_s *next;
    int kind;
    dl__node *nd;             /* FWD, BWD                                               */
    void *dev;                /* UP, ZERO, FILL: device address                         */
    const void *host;         /* UP: host address                                       */
    size_t n;                 /* bytes (UP, ZERO) or floats (FILL)                      */
    float v;                  /* FILL                                                   */
    const void *args;         /* OPTIM, CLIP                                            */
} dl__cmd_t;
static uint64_t dl__fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    while (n--) { h ^= *b++; h *= 0x100000001b3ull; }
    return h;
}
static void *dl__devp(const dl_ctx *ctx, const void *host) {
    return host ? (void *)(ctx->dev + ((const unsigned char *)host - ctx->base)) : NULL;
}
static void dl__be_status(dl_ctx *ctx, dl_status s) {
    if (s && !ctx->status) dl__fail1(ctx, s, "the %s backend reported an error", DL__A(ctx->be->name));
}
static void dl__cmd_run(dl_ctx *ctx, const dl__cmd_t *c) {
    const dl_backend *be = ctx->be; void *st = ctx->be_st; dl_status s = DL_STATUS_OK;
    const char *name = (c->kind == DL__C_FWD || c->kind == DL__C_BWD) ? dl__op_name(c->nd->op) : "";
    int tk = c->kind == DL__C_ZFRESH ? DL__C_ZERO - 1 : c->kind == DL__C_ZLIST ? 7 : c->kind - 1;
    if (ctx->status) return;
    if (be->trace) be->trace(st, tk, name, 0);
    switch (c->kind) {
    case DL__C_FWD: ctx->op = dl__op_name(c->nd->op); s = be->fwd[c->nd->op](ctx, c->nd, DL_PHASE_RUN); break;
    case DL__C_BWD: ctx->op = dl__op_name(c->nd->op); s = be->bwd[c->nd->op](ctx, c->nd, DL_PHASE_RUN); break;
    case DL__C_UP: s = be->upload(st, c->dev, c->host, c->n); break;
    case DL__C_ZERO: case DL__C_ZFRESH: s = be->memset0(st, c->dev, c->n); break;
    case DL__C_ZLIST: s = be->zero_list(st, dl__devp(ctx, c->args), (int)c->n, (size_t)c->v); break;
    case DL__C_FILL: s = be->fill(st, (float *)c->dev, (int64_t)c->n, c->v); break;
    case DL__C_OPTIM: s = be->optim(ctx, (const dl_optim_args *)c->args, DL_PHASE_RUN); break;
    case DL__C_CLIP: s = be->clip(ctx, (dl_clip_args *)c->args, DL_PHASE_RUN); break;
    default: break;
    }
    if (be->trace) be->trace(st, tk, name, 1);
    dl__be_status(ctx, s);
}
static void dl__hash_tensor(uint64_t *h, const dl_tensor *t) {
    if (!t) { *h = dl__fnv(*h, "-", 1); return; }
    *h = dl__fnv(*h, &t->data, sizeof t->data); *h = dl__fnv(*h, &t->idata, sizeof t->idata);
    *h = dl__fnv(*h, &t->grad, sizeof t->grad); *h = dl__fnv(*h, &t->ndim, sizeof t->ndim);
    *h = dl__fnv(*h, t->shape, sizeof(int64_t) * (size_t)t->ndim); *h = dl__fnv(*h, t->stride, sizeof(int64_t) * (size_t)t->ndim);
}
static void dl__cmd(dl_ctx *ctx, int kind, dl__node *nd, void *dev, const void *host, size_t n, float v, const void *args) {
    dl__cmd_t c, *p; int ok, i; uint64_t h;
    if (ctx->status || !ctx->be) return;
    memset(&c, 0, sizeof c);
    c.kind = kind; c.nd = nd; c.dev = dev; c.host = host; c.n = n; c.v = v; c.args = args;
    if (!ctx->rec) { dl__cmd_run(ctx, &c); return; }
    p = (dl__cmd_t *)dl__alloc(ctx, sizeof c, 1, &ok);
    if (!ok) return;
    *p = c;
    if (ctx->cmd_tail) ctx->cmd_tail->next = p; else ctx->cmd_head = p;
    ctx->cmd_tail = p;
    h = ctx->cmd_hash;          /* what a replay must match: never the uploaded values */
    h = dl__fnv(h, &kind, sizeof kind); h = dl__fnv(h, &dev, sizeof dev); h = dl__fnv(h, &host, sizeof host);
    h = dl__fnv(h, &n, sizeof n); h = dl__fnv(h, &v, sizeof v); h = dl__fnv(h, &args, sizeof args);
    if (nd) {
        h = dl__fnv(h, &nd->op, sizeof nd->op); h = dl__fnv(h, &nd->nin, sizeof nd->nin);
        h = dl__fnv(h, nd->iarg, sizeof nd->iarg); h = dl__fnv(h, nd->larg, sizeof nd->larg);
        h = dl__fnv(h, nd->farg, sizeof nd->farg); h = dl__fnv(h, &nd->aux, sizeof nd->aux);
        dl__hash_tensor(&h, nd->out);
        for (i = 0; i < nd->nin; i++) dl__hash_tensor(&h, nd->in[i]);
    }
    ctx->cmd_hash = h;
}
/* host bytes [p, p + bytes) of the arena -> their device twin */
static void dl__push_bytes(dl_ctx *ctx, const void *p, size_t bytes) {
    if (ctx && ctx->be && p && bytes) dl__cmd(ctx, DL__C_UP, NULL, dl__devp(ctx, p), p, bytes, 0.0f, NULL);
}
static size_t dl__span_bytes(const dl_tensor *t) {   /* storage a (strided) view covers */
    int64_t e = 1; int d;
    if (!t->numel) return 0;
    for (d = 0; d < t->ndim; d++) e += (t->shape[d] - 1) * (t->stride[d] < 0 ? -t->stride[d] : t->stride[d]);
    return (size_t)e * 4u;
}
/* after host code wrote t: upload it (no-op on the CPU) */
static void dl__push(dl_ctx *ctx, dl_tensor *t) {
    if (!ctx || !ctx->be || !t || (t->flags & DL__F_POISON)) return;
    dl__push_bytes(ctx, t->dtype == DL_I32 ? (const void *)t->idata : (const void *)t->data, dl__span_bytes(t));
}
/* before host code reads t (or its grad): download it. 0: cannot (nothing read) */
static int dl__pull_bytes(dl_ctx *ctx, void *p, size_t bytes) {
    dl_status s;
    if (!ctx || !ctx->be || !p || !bytes) return 1;
    if (ctx->status) return 0;
    if (ctx->rec) { dl__fail0(ctx, DL_STATUS_INVALID, "reads a device value inside dl_step_run (read results after it returns)"); return 0; }
    s = ctx->be->download(ctx->be_st, p, dl__devp(ctx, p), bytes);
    dl__be_status(ctx, s);
    return s == DL_STATUS_OK;
}
static int dl__pull(const dl_tensor *t) {
    if (!t || (t->flags & DL__F_POISON) || !t->ctx || !t->ctx->be) return 1;
    return dl__pull_bytes(t->ctx, t->dtype == DL_I32 ? (void *)t->idata : (void *)t->data, dl__span_bytes(t));
}
/* a gradient's host copy (contiguous, numel floats): download before host code reads it,
   upload after host code wrote it */
static int dl__pull_grad(const dl_tensor *t) {
    if (!t || (t->flags & DL__F_POISON) || !t->grad || !t->ctx || !t->ctx->be) return 1;
    return dl__pull_bytes(t->ctx, t->grad, (size_t)t->numel * sizeof(float));
}
static void dl__push_grad(const dl_tensor *t) {
    if (t && !(t->flags & DL__F_POISON) && t->grad && t->ctx) dl__push_bytes(t->ctx, t->grad, (size_t)t->numel * sizeof(float));
}
/* before host code writes some elements of t: a view with gaps is downloaded first, so the
   upload of its span keeps the device's values between the elements. 0: cannot */
static int dl__pull_gaps(dl_tensor *t) {
    return !t->ctx || !t->ctx->be || dl_is_contiguous(t) || dl__pull(t);
}
/* functions that compute on the host: refuse on a backend instead of reading stale data */
static int dl__cpu_only(dl_ctx *ctx) {
    if (!ctx || !ctx->be) return 0;
    dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "runs on the CPU only (this context uses the %s backend)", DL__A(ctx->be->name));
    return 1;
}
static void dl__be_fwd(dl_ctx *ctx, dl__node *nd) {
    dl_backend_op f = (nd->op > 0 && nd->op < DL__OP_COUNT) ? ctx->be->fwd[nd->op] : NULL;
    dl_status s;
    if (!f) { dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "no forward kernel on the %s backend", DL__A(ctx->be->name)); return; }
    s = f(ctx, nd, DL_PHASE_PLAN);
    dl__be_status(ctx, s);
    dl__cmd(ctx, DL__C_FWD, nd, NULL, NULL, 0, 0.0f, NULL);
}
static float *dl__gradbuf(dl_ctx *ctx, dl_tensor *t);
static void dl__be_bwd(dl_ctx *ctx, dl__node *nd) {
    dl_backend_op f = (nd->op > 0 && nd->op < DL__OP_COUNT) ? ctx->be->bwd[nd->op] : NULL;
    int i; dl_status s;
    if (!f) { dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "no backward kernel on the %s backend", DL__A(ctx->be->name)); return; }
    for (i = 0; i < nd->nin; i++)          /* every input grad exists before the kernel is planned */
        if (nd->in[i] && nd->in[i]->requires_grad) dl__gradbuf(ctx, nd->in[i]);
    if (ctx->status) return;
    s = f(ctx, nd, DL_PHASE_PLAN);
    dl__be_status(ctx, s);
    dl__cmd(ctx, DL__C_BWD, nd, NULL, NULL, 0, 0.0f, NULL);
}
DL__API const dl_backend *dl_ctx_backend(const dl_ctx *ctx) { return ctx ? ctx->be : NULL; }
DL__API void *dl_backend_state(const dl_ctx *ctx) { return ctx ? ctx->be_st : NULL; }
DL__API void *dl_backend_dev(const dl_ctx *ctx, const void *host) { return (ctx && ctx->be) ? dl__devp(ctx, host) : NULL; }
DL__API void *dl_backend_alloc(dl_ctx *ctx, size_t bytes) { int ok; return ctx ? dl__alloc(ctx, bytes, 0, &ok) : NULL; }
DL__API float *dl_backend_grad(dl_ctx *ctx, dl_tensor *t) { return (ctx && t) ? dl__gradbuf(ctx, t) : NULL; }
DL__API int dl_backend_deterministic(const dl_ctx *ctx) { return ctx ? ctx->deterministic : 0; }
DL__API dl_status dl_backend_fail(dl_ctx *ctx, dl_status s, const char *msg) {
    if (!ctx) return DL_STATUS_INVALID;
    dl__fail1(ctx, s, "%s", DL__A(msg ? msg : "backend error"));
    return ctx->status;
}
DL__API dl_status dl_upload(dl_ctx *ctx, dl_tensor *t) {
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_upload";
    if (!dl__arg(ctx, t, 1, t ? t->dtype : DL_F32)) return ctx->status;
    dl__push(ctx, t);
    return ctx->status;
}
DL__API dl_status dl_download(dl_ctx *ctx, dl_tensor *t) {
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_download";
    if (!dl__arg(ctx, t, 1, t ? t->dtype : DL_F32)) return ctx->status;
    dl__pull(t);
    return ctx->status;
}
DL__API dl_status dl_ctx_sync(dl_ctx *ctx) {
    if (!ctx) return DL_STATUS_INVALID;
    if (ctx->be && ctx->be->sync && !ctx->rec) { ctx->op = "dl_ctx_sync"; dl__be_status(ctx, ctx->be->sync(ctx->be_st)); }
    return ctx->status;
}
static void dl__cmds_run(dl_ctx *ctx) {
    const dl__cmd_t *c;
    for (c = ctx->cmd_head; c && !ctx->status; c = c->next) dl__cmd_run(ctx, c);
}
/* the zeroing of memory first allocated in this step can move to the step's start (nothing
   used that memory earlier in the step): one ZLIST command instead of one memset each */
static void dl__zero_fresh_first(dl_ctx *ctx) {
    dl__cmd_t *c, *prev = NULL, *head = ctx->cmd_head, *up, *zl; uint64_t *tab; int n = 0, ok; size_t mx = 0;
    for (c = head; c; c = c->next) if (c->kind == DL__C_ZFRESH) n++;
    if (n < 2) return;
    tab = (uint64_t *)dl__alloc(ctx, sizeof(uint64_t) * 2 * (size_t)n, 0, &ok);
    if (!ok) return;
    n = 0;
    for (c = head; c; ) {
        dl__cmd_t *next = c->next;
        if (c->kind == DL__C_ZFRESH) {
            tab[2 * n] = (uint64_t)(uintptr_t)c->dev; tab[2 * n + 1] = (uint64_t)c->n; n++;
            if (c->n > mx) mx = c->n;
            if (prev) prev->next = next; else head = next;
            if (ctx->cmd_tail == c) ctx->cmd_tail = prev;
        } else prev = c;
        c = next;
    }
    up = (dl__cmd_t *)dl__alloc(ctx, sizeof *up, 1, &ok);
    if (ok) zl = (dl__cmd_t *)dl__alloc(ctx, sizeof *zl, 1, &ok);
    if (!ok) return;
    memset(up, 0, sizeof *up); memset(zl, 0, sizeof *zl);
    up->kind = DL__C_UP; up->host = tab; up->dev = dl__devp(ctx, tab); up->n = sizeof(uint64_t) * 2 * (size_t)n;
    zl->kind = DL__C_ZLIST; zl->args = tab; zl->n = (size_t)n; zl->v = (float)mx;
    up->next = zl; zl->next = head; ctx->cmd_head = up;
    if (!ctx->cmd_tail) ctx->cmd_tail = zl;
    ctx->cmd_hash = dl__fnv(ctx->cmd_hash, &n, sizeof n);
}
DL__API dl_status dl_step_run(dl_ctx *ctx, dl_step *s, void (*fn)(dl_ctx *ctx, void *user), void *user) {
    const dl_backend *be; void *st; size_t off0; uint64_t h;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_step_run";
    if (ctx->status) return ctx->status;
    if (!s || !fn) { dl__fail0(ctx, DL_STATUS_INVALID, "needs a dl_step and a step function"); return ctx->status; }
    if (!ctx->be) { fn(ctx, user); return ctx->status; }
    if (ctx->rec) { dl__fail0(ctx, DL_STATUS_INVALID, "dl_step_run inside dl_step_run"); return ctx->status; }
    be = ctx->be; st = ctx->be_st; off0 = ctx->off;
    ctx->rec = 1; ctx->cmd_head = ctx->cmd_tail = NULL;
    ctx->cmd_hash = dl__fnv(0xcbf29ce484222325ull, &off0, sizeof off0);
    fn(ctx, user);
    ctx->op = "dl_step_run";
    if (!ctx->status && be->zero_list) dl__zero_fresh_first(ctx);
    ctx->rec = 0;
    if (ctx->status) return ctx->status;
    h = ctx->cmd_hash;
    if (s->graph && h == s->hash) {                               /* the same step: replay */
        dl__be_status(ctx, be->graph_launch(st, s->graph));
        s->replays++;
    } else if (be->capture_begin && (!s->graph || h == s->pending)) { /* new, or seen twice */
        void *g = NULL; dl_status e = be->capture_begin(st);
        if (!e) { dl__cmds_run(ctx); e = be->capture_end(st, &g); }
        if (ctx->status || e) {              /* a kernel refused capture: run it eagerly */
            if (g && be->graph_free) be->graph_free(st, g);
            if (!ctx->status) { ctx->op = "dl_step_run"; dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "the step could not be captured as a graph"); }
            return ctx->status;
        }
        if (s->graph && be->graph_free) be->graph_free(st, s->graph);
        s->graph = g; s->hash = h; s->pending = 0; s->captures++;
        dl__be_status(ctx, be->graph_launch(st, g));
    } else {                                                      /* shapes changed: eager */
        s->pending = h; s->eager++;
        dl__cmds_run(ctx);
    }
    ctx->cmd_head = ctx->cmd_tail = NULL;
    if (be->sync && !ctx->status) dl__be_status(ctx, be->sync(st));
    return ctx->status;
}
DL__API void dl_step_free(dl_ctx *ctx, dl_step *s) {
    if (!s) return;
    if (ctx && ctx->be && s->graph && ctx->be->graph_free) ctx->be->graph_free(ctx->be_st, s->graph);
    memset(s, 0, sizeof *s);
}

static int64_t dl__offset_of(const dl_tensor *t, int64_t i);
/* a tensor header (meta) plus, when `with_data`, contiguous storage for it */
static dl_tensor *dl__new(dl_ctx *ctx, dl_shape s, dl_dtype dt, int with_data) {
    dl_tensor *t; int i, ok; int64_t n = 1;
    if (ctx->status) return &ctx->poison;
    if (s.ndim < 0 || s.ndim > DL_MAX_DIMS) {
        int mx = DL_MAX_DIMS;
        return dl__fail2(ctx, DL_STATUS_SHAPE, "%d dimensions given, at most %d supported", DL__A(&s.ndim), DL__A(&mx));
    }
    for (i = 0; i < s.ndim; i++) {
        if (s.d[i] < 0) return dl__fail2(ctx, DL_STATUS_SHAPE, "negative size %I in dimension %d", DL__A(&s.d[i]), DL__A(&i));
        if (s.d[i] && n > (INT64_MAX / 8) / s.d[i]) return dl__fail0(ctx, DL_STATUS_SHAPE, "tensor too large");
        n *= s.d[i];
    }
    t = (dl_tensor *)dl__alloc(ctx, sizeof(dl_tensor), 1, &ok);
    if (!ok) return &ctx->poison;
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->ndim = s.ndim;
    for (i = 0; i < s.ndim; i++) t->shape[i] = s.d[i];
    dl__set_contig_strides(t);
    t->numel = n;
    t->dtype = dt;
    if (with_data) {
        void *p = dl__alloc(ctx, (size_t)n * 4u, 0, &ok);
        if (!ok) return &ctx->poison;
        if (dt == DL_I32) t->idata = (int32_t *)p; else t->data = (float *)p;
    }
    return t;
}

#define DL__ENTER(ctx, nm) do { if (!(ctx)) return NULL; (ctx)->op = (nm); } while (0)
/* validates a tensor argument: not NULL, not poison, the expected dtype */
static int dl__arg(dl_ctx *ctx, const dl_tensor *t, int argno, dl_dtype want) {
    if (ctx->status) return 0;
    if (!t) { dl__fail1(ctx, DL_STATUS_INVALID, "argument %d is NULL", DL__A(&argno)); return 0; }
    if (t->flags & DL__F_POISON) {
        dl__fail1(ctx, DL_STATUS_INVALID, "argument %d is a poison tensor from another context", DL__A(&argno));
        return 0;
    }
    if (t->dtype != want) {
        dl__fail3(ctx, DL_STATUS_DTYPE, "argument %d%T must be %s", DL__A(&argno), DL__A(t),
                  DL__A(want == DL_F32 ? "float32 (DL_F32)" : "an index tensor (DL_I32)"));
        return 0;
    }
    return 1;
}
static int dl__axis(dl_ctx *ctx, int axis, int ndim, const dl_tensor *t) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        dl__fail2(ctx, DL_STATUS_AXIS, "axis %d out of range for %T", DL__A(&axis), DL__A(t));
        return -1;
    }
    return a;
}

DL__API dl_tensor *dl_empty(dl_ctx *ctx, dl_shape s) { DL__ENTER(ctx, "dl_empty"); return dl__new(ctx, s, DL_F32, 1); }
static void dl__set_host(dl_tensor *t, int64_t i, float v) { t->data[dl__offset_of(t, i)] = v; }
DL__API void dl_fill(dl_tensor *t, float v) {
    int64_t i;
    if (dl_is_poison(t) || !t->data || t->dtype != DL_F32 || !dl__pull_gaps(t)) return;
    for (i = 0; i < t->numel; i++) dl__set_host(t, i, v);
    dl__push(t->ctx, t);
}
static dl_tensor *dl__full(dl_ctx *ctx, dl_shape s, float v) {
    dl_tensor *t = dl__new(ctx, s, DL_F32, 1); int64_t i;
    if (t->data && !dl_is_poison(t)) { for (i = 0; i < t->numel; i++) t->data[i] = v; dl__push(ctx, t); }
    return t;
}
DL__API dl_tensor *dl_full(dl_ctx *ctx, dl_shape s, float v) { DL__ENTER(ctx, "dl_full"); return dl__full(ctx, s, v); }
DL__API dl_tensor *dl_zeros(dl_ctx *ctx, dl_shape s) { DL__ENTER(ctx, "dl_zeros"); return dl__full(ctx, s, 0.0f); }
DL__API dl_tensor *dl_ones(dl_ctx *ctx, dl_shape s) { DL__ENTER(ctx, "dl_ones"); return dl__full(ctx, s, 1.0f); }
DL__API dl_tensor *dl_scalar(dl_ctx *ctx, float v) { DL__ENTER(ctx, "dl_scalar"); return dl__full(ctx, dl_shape_n(0, NULL), v); }
DL__API dl_tensor *dl_from_data(dl_ctx *ctx, dl_shape s, const float *data) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_from_data");
    t = dl__new(ctx, s, DL_F32, 1);
    if (!data && !dl_is_poison(t)) return dl__fail0(ctx, DL_STATUS_INVALID, "data is NULL");
    if (t->data && !dl_is_poison(t) && t->numel) { memcpy(t->data, data, (size_t)t->numel * sizeof(float)); dl__push(ctx, t); }
    return t;
}
DL__API dl_tensor *dl_arange(dl_ctx *ctx, float start, float stop, float step) {
    dl_tensor *t; int64_t i, n;
    DL__ENTER(ctx, "dl_arange");
    if (ctx->status) return &ctx->poison;
    if (step == 0.0f || step != step) return dl__fail0(ctx, DL_STATUS_INVALID, "step must be non-zero");
    n = (int64_t)ceil(((double)stop - (double)start) / (double)step);
    if (n < 0) n = 0;
    t = dl__new(ctx, dl_shape1(n), DL_F32, 1);
    if (t->data && !dl_is_poison(t)) { for (i = 0; i < n; i++) t->data[i] = (float)((double)start + (double)i * (double)step); dl__push(ctx, t); }
    return t;
}
/* fills t (any strides) from the ctx RNG; draws advance the RNG even when measuring */
static void dl__fill_uniform(dl_ctx *ctx, dl_tensor *t, float a, float b) {
    int64_t i; int ok = t->data && t->dtype == DL_F32 && dl__pull_gaps(t);
    for (i = 0; i < t->numel; i++) { float u = dl_rand_uniform(ctx); if (ok) dl__set_host(t, i, a + (b - a) * u); }
    if (ok) dl__push(ctx, t);
}
static void dl__fill_normal(dl_ctx *ctx, dl_tensor *t, float mean, float std) {
    int64_t i; int ok = t->data && t->dtype == DL_F32 && dl__pull_gaps(t);
    for (i = 0; i < t->numel; i++) { float z = dl_rand_normal(ctx); if (ok) dl__set_host(t, i, mean + std * z); }
    if (ok) dl__push(ctx, t);
}
DL__API dl_tensor *dl_uniform(dl_ctx *ctx, dl_shape s, float lo, float hi) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_uniform");
    t = dl__new(ctx, s, DL_F32, 1);
    if (!dl_is_poison(t)) dl__fill_uniform(ctx, t, lo, hi);
    return t;
}
DL__API dl_tensor *dl_normal(dl_ctx *ctx, dl_shape s, float mean, float std) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_normal");
    t = dl__new(ctx, s, DL_F32, 1);
    if (!dl_is_poison(t)) dl__fill_normal(ctx, t, mean, std);
    return t;
}
DL__API dl_tensor *dl_index_tensor(dl_ctx *ctx, dl_shape s, const int32_t *data) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_index_tensor");
    t = dl__new(ctx, s, DL_I32, 1);
    if (!data && !dl_is_poison(t)) return dl__fail0(ctx, DL_STATUS_INVALID, "data is NULL");
    if (t->idata && !dl_is_poison(t) && t->numel) { memcpy(t->idata, data, (size_t)t->numel * sizeof(int32_t)); dl__push(ctx, t); }
    return t;
}
DL__API dl_tensor *dl_index_zeros(dl_ctx *ctx, dl_shape s) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_index_zeros");
    t = dl__new(ctx, s, DL_I32, 1);
    if (t->idata && !dl_is_poison(t) && t->numel) { memset(t->idata, 0, (size_t)t->numel * sizeof(int32_t)); dl__push(ctx, t); }
    return t;
}

/* storage offset of logical row-major index i */
static int64_t dl__offset_of(const dl_tensor *t, int64_t i) {
    int64_t off = 0; int d;
    for (d = t->ndim - 1; d >= 0; d--) { int64_t n = t->shape[d]; if (n) { off += (i % n) * t->stride[d]; i /= n; } }
    return off;
}
static int dl__in_range(const dl_tensor *t, int64_t i) { return t && !(t->flags & DL__F_POISON) && i >= 0 && i < t->numel; }
/* on a backend, one element travels: dl_get downloads it, dl_set uploads it */
DL__API float dl_get(const dl_tensor *t, int64_t i) {
    float *p;
    if (!dl__in_range(t, i) || t->dtype != DL_F32 || !t->data) return 0.0f;
    p = t->data + dl__offset_of(t, i);
    if (t->ctx && t->ctx->be && !dl__pull_bytes(t->ctx, p, sizeof *p)) return 0.0f;
    return *p;
}
DL__API void dl_set(dl_tensor *t, int64_t i, float v) {
    float *p;
    if (!dl__in_range(t, i) || t->dtype != DL_F32 || !t->data) return;
    p = t->data + dl__offset_of(t, i);
    *p = v;
    if (t->ctx && t->ctx->be) dl__push_bytes(t->ctx, p, sizeof *p);
}
static int64_t dl__flat_of(const dl_tensor *t, const int64_t *idx) {
    int64_t f = 0; int d;
    for (d = 0; d < t->ndim; d++) { if (idx[d] < 0 || idx[d] >= t->shape[d]) return -1; f = f * t->shape[d] + idx[d]; }
    return f;
}
DL__API float dl_get_at(const dl_tensor *t, const int64_t *idx) { return (t && idx) ? dl_get(t, dl__flat_of(t, idx)) : 0.0f; }
DL__API void dl_set_at(dl_tensor *t, const int64_t *idx, float v) { if (t && idx) dl_set(t, dl__flat_of(t, idx), v); }
DL__API int32_t dl_get_index(const dl_tensor *t, int64_t i) {
    int32_t *p;
    if (!dl__in_range(t, i) || t->dtype != DL_I32 || !t->idata) return 0;
    p = t->idata + dl__offset_of(t, i);
    if (t->ctx && t->ctx->be && !dl__pull_bytes(t->ctx, p, sizeof *p)) return 0;
    return *p;
}
DL__API void dl_set_index(dl_tensor *t, int64_t i, int32_t v) {
    int32_t *p;
    if (!dl__in_range(t, i) || t->dtype != DL_I32 || !t->idata) return;
    p = t->idata + dl__offset_of(t, i);
    *p = v;
    if (t->ctx && t->ctx->be) dl__push_bytes(t->ctx, p, sizeof *p);
}
DL__API float dl_item(const dl_tensor *t) { return dl_get(t, 0); }
/* dl_get / dl_get_index on the host copy, for code that pulled t once (dl__pull) */
static float dl__host_get(const dl_tensor *t, int64_t i) {
    return (dl__in_range(t, i) && t->dtype == DL_F32 && t->data) ? t->data[dl__offset_of(t, i)] : 0.0f;
}
static int32_t dl__host_get_index(const dl_tensor *t, int64_t i) {
    return (dl__in_range(t, i) && t->dtype == DL_I32 && t->idata) ? t->idata[dl__offset_of(t, i)] : 0;
}
/* dl_set on the host copy, for code that pushes t once afterwards (dl__push) */
static void dl__host_set(dl_tensor *t, int64_t i, float v) {
    if (dl__in_range(t, i) && t->dtype == DL_F32 && t->data) t->data[dl__offset_of(t, i)] = v;
}
DL__API float dl_grad_get(const dl_tensor *t, int64_t i) {
    if (!dl__in_range(t, i) || !t->grad) return 0.0f;
    if (t->ctx && t->ctx->be && !dl__pull_bytes(t->ctx, t->grad + i, sizeof(float))) return 0.0f;
    return t->grad[i];
}
DL__API void dl_copy_to(const dl_tensor *t, float *dst) {
    int64_t i;
    if (!dst || !t || (t->flags & DL__F_POISON)) return;
    if (!dl__pull(t)) { for (i = 0; i < t->numel; i++) dst[i] = 0.0f; return; }
    if (t->dtype == DL_I32) { for (i = 0; i < t->numel; i++) dst[i] = (float)t->idata[dl__offset_of(t, i)]; return; }
    if (!t->data) { for (i = 0; i < t->numel; i++) dst[i] = 0.0f; return; }
    if (dl_is_contiguous(t)) { if (t->numel) memcpy(dst, t->data, (size_t)t->numel * sizeof(float)); return; }
    for (i = 0; i < t->numel; i++) dst[i] = t->data[dl__offset_of(t, i)];
}
DL__API void dl_copy_from(dl_tensor *t, const float *src) {
    int64_t i;
    if (!src || !t || (t->flags & DL__F_POISON) || t->dtype != DL_F32 || !t->data) return;
    if (t->ctx && t->ctx->be && !dl_is_contiguous(t) && !dl__pull(t)) return;   /* keep the gaps */
    for (i = 0; i < t->numel; i++) t->data[dl__offset_of(t, i)] = src[i];
    dl__push(t->ctx, t);
}
DL__API dl_status dl_tensor_copy(dl_ctx *ctx, dl_tensor *dst, const dl_tensor *src) {
    int64_t i;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_tensor_copy";
    if (!dl__arg(ctx, dst, 1, DL_F32) || !dl__arg(ctx, src, 2, DL_F32)) return ctx->status;
    if (dst->numel != src->numel || !dl_same_shape(dst, src)) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "shapes differ: dst%T src%T", DL__A(dst), DL__A(src));
        return ctx->status;
    }
    if (!dl__pull(src) || (ctx->be && !dl_is_contiguous(dst) && !dl__pull(dst))) return ctx->status;
    if (dst->data && src->data) for (i = 0; i < src->numel; i++) dst->data[dl__offset_of(dst, i)] = src->data[dl__offset_of(src, i)];
    dl__push(ctx, dst);
    return ctx->status;
}
#ifndef DL_NO_STDIO
DL__API void dl_print(const dl_tensor *t, const char *label) {
    char sb[128]; dl__buf b; int64_t i, n;
    b.p = sb; b.n = 0; b.cap = sizeof sb; sb[0] = 0; dl__put_shape(&b, t);
    printf("%s%s%s", label ? label : "", label ? " " : "", sb);
    if (!t || (t->flags & DL__F_POISON) || !dl__pull(t)) { printf("\n"); return; }
    n = t->numel < 16 ? t->numel : 16;
    printf(" = [");
    for (i = 0; i < n; i++) printf("%s%.6g", i ? ", " : "", t->dtype == DL_I32 ? (double)dl_get_index(t, i) : (double)dl_get(t, i));
    printf("%s]\n", t->numel > n ? ", ..." : "");
}
#endif
static dl_status dl__check_finite(dl_ctx *ctx, const dl_tensor *t, const char *what) {
    int64_t i;
    if (!t->data) return DL_STATUS_OK;
    for (i = 0; i < t->numel; i++) {
        float v = t->data[dl__offset_of(t, i)];
        if (v - v != 0.0f) {
            double dv = (double)v;
            dl__fail4(ctx, DL_STATUS_NONFINITE, "non-finite value %g in %s%T at index %I", DL__A(&dv),
                      DL__A(what ? what : "tensor"), DL__A(t), DL__A(&i));
            return ctx->status;
        }
    }
    return DL_STATUS_OK;
}
DL__API dl_status dl_check_finite(dl_ctx *ctx, const dl_tensor *t, const char *what) {
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_check_finite";
    if (!dl__arg(ctx, t, 1, DL_F32) || !dl__pull(t)) return ctx->status;
    return dl__check_finite(ctx, t, what);
}


/* ======================================================================================
   >>autodiff  the tape: nodes recorded in op order; backward sweeps newest to oldest
   ====================================================================================== */
enum { DL__F_HAS_GRAD = 4 };
/* the gradient buffer of t, allocated (zeroed) on first use; NULL in measure mode */
static float *dl__gradbuf(dl_ctx *ctx, dl_tensor *t) {
    if (!(t->flags & DL__F_HAS_GRAD)) {
        int ok; float *g = (float *)dl__alloc(ctx, (size_t)t->numel * sizeof(float), 0, &ok);
        if (!ok) return NULL;
        if (ctx->be) dl__cmd(ctx, DL__C_ZFRESH, NULL, dl__devp(ctx, g), NULL, (size_t)t->numel * sizeof(float), 0.0f, NULL);
        else if (g && t->numel) memset(g, 0, (size_t)t->numel * sizeof(float));
        t->grad = g;
        t->flags |= DL__F_HAS_GRAD;
    }
    return t->grad;
}
DL__API void dl_requires_grad(dl_ctx *ctx, dl_tensor *t, int on) {
    if (!ctx) return;
    ctx->op = "dl_requires_grad";
    if (!dl__arg(ctx, t, 1, DL_F32)) return;
    if (t->node) { dl__fail1(ctx, DL_STATUS_INVALID, "tensor%T is the output of an op; only leaves take requires_grad (use dl_detach first)", DL__A(t)); return; }
    t->requires_grad = on != 0;
    if (on) { dl__gradbuf(ctx, t); t->flags |= DL__F_LEAF_GRAD; }
}
DL__API void dl_zero_grad(dl_tensor *t) {
    if (!t || (t->flags & DL__F_POISON) || !t->grad || !t->numel) return;
    if (t->ctx && t->ctx->be) dl__cmd(t->ctx, DL__C_ZERO, NULL, dl__devp(t->ctx, t->grad), NULL, (size_t)t->numel * sizeof(float), 0.0f, NULL);
    else memset(t->grad, 0, (size_t)t->numel * sizeof(float));
}
/* returns a node to fill in when any input requires grad (and grad mode is on) */
static dl__node *dl__record(dl_ctx *ctx, int op, dl_tensor *out, dl_tensor *const *in, int nin) {
    int i, any = 0, ok; dl__node *nd;
    if (ctx->status) return NULL;
    if (ctx->grad_enabled) for (i = 0; i < nin; i++) if (in[i] && in[i]->requires_grad) any = 1;
    if (!any && !ctx->be) return NULL;   /* a backend runs every op from its node */
    nd = (dl__node *)dl__alloc(ctx, sizeof(dl__node), 1, &ok);
    if (!ok) return NULL;
    memset(nd, 0, sizeof *nd);
    nd->op = op; nd->out = out; nd->nin = nin;
    if (nin <= DL__MAX_IN) nd->in = nd->in_small;
    else {
        nd->in = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)nin, 1, &ok);
        if (!ok) return NULL;
    }
    for (i = 0; i < nin; i++) nd->in[i] = in[i];
    if (any) { nd->prev = ctx->tape; ctx->tape = nd; out->node = nd; out->requires_grad = 1; }
    if (ctx->be) ctx->fwd_pending = nd;
    return nd;
}
/* every op ends here: optional NaN/Inf check of its output */
static dl_tensor *dl__done(dl_ctx *ctx, dl_tensor *out) {
    if (ctx->be && ctx->fwd_pending) {           /* the op's kernel runs on the backend */
        dl__node *nd = ctx->fwd_pending;
        ctx->fwd_pending = NULL;
        if (!ctx->status && nd->out == out) dl__be_fwd(ctx, nd);
    }
    if (ctx->status) return &ctx->poison;
    if (ctx->check_finite && out->dtype == DL_F32 && out->data && !ctx->rec && dl__pull(out) && dl__check_finite(ctx, out, "output"))
        return &ctx->poison;
    return out;
}
/* an op's input grad if that input needs one (allocated on demand), else NULL */
static float *dl__ingrad(dl_ctx *ctx, dl__node *nd, int i) {
    dl_tensor *x = nd->in[i];
    if (!x || !x->requires_grad) return NULL;
    return dl__gradbuf(ctx, x);
}
static int dl__needs(dl__node *nd, int i) { return nd->in[i] && nd->in[i]->requires_grad; }

typedef void (*dl__bwd_fn)(dl_ctx *ctx, dl__node *nd);
static void dl__bwd_dispatch(dl_ctx *ctx, dl__node *nd);   /* table at >>backward-table */

DL__API dl_status dl_backward_with(dl_ctx *ctx, dl_tensor *y, const float *dy) {
    dl__node *nd; float *g; int64_t i;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_backward";
    if (!dl__arg(ctx, y, 1, DL_F32)) return ctx->status;
    if (!y->requires_grad) {
        dl__fail1(ctx, DL_STATUS_INVALID, "%T does not require grad: no input of its graph has requires_grad set", DL__A(y));
        return ctx->status;
    }
    /* a fresh sweep: intermediate gradients from an earlier backward start again at 0 */
    for (nd = ctx->tape; nd; nd = nd->prev)
        if (!(nd->out->flags & DL__F_LEAF_GRAD)) { nd->out->flags &= ~DL__F_HAS_GRAD; nd->out->grad = NULL; }
    if (ctx->be) {                 /* the seed: 1 (or dy) into a freshly zeroed grad */
        int fresh = !(y->flags & DL__F_HAS_GRAD);
        g = dl__gradbuf(ctx, y);
        if (ctx->status) return ctx->status;
        if (!fresh) { dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "backward from a leaf that already has a gradient (on a backend)"); return ctx->status; }
        if (dy) { memcpy(g, dy, (size_t)y->numel * sizeof(float)); dl__push_bytes(ctx, g, (size_t)y->numel * sizeof(float)); }
        else dl__cmd(ctx, DL__C_FILL, NULL, dl__devp(ctx, g), NULL, (size_t)y->numel, 1.0f, NULL);
    } else {
        g = dl__gradbuf(ctx, y);
        if (ctx->status) return ctx->status;
        if (g) for (i = 0; i < y->numel; i++) g[i] += dy ? dy[i] : 1.0f;
    }
    for (nd = ctx->tape; nd; nd = nd->prev) {
        if (!(nd->out->flags & DL__F_HAS_GRAD)) continue;   /* nothing flowed here */
        ctx->op = dl__op_name(nd->op);
        if (ctx->be) dl__be_bwd(ctx, nd); else dl__bwd_dispatch(ctx, nd);
        if (ctx->status) return ctx->status;
    }
    ctx->op = "dl_backward";
    return ctx->status;
}
DL__API dl_status dl_backward(dl_ctx *ctx, dl_tensor *loss) {
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_backward";
    if (!dl__arg(ctx, loss, 1, DL_F32)) return ctx->status;
    if (loss->numel != 1) {
        dl__fail1(ctx, DL_STATUS_SHAPE, "loss%T must have one element (use dl_backward_with for others)", DL__A(loss));
        return ctx->status;
    }
    return dl_backward_with(ctx, loss, NULL);
}

/* d[i] += s[i]: SSE2 (part of x86-64) or NEON, else C; the same bits as the C loop (gcc -O2
   leaves that loop scalar: it would need a run-time aliasing check). Always inlined: im2col,
   col2im and pack_a call these per short row, where a call costs more than the copy. */
#if defined(__GNUC__) || defined(__clang__)
#define DL__ALWAYS_INLINE static inline __attribute__((always_inline))
#else
#define DL__ALWAYS_INLINE static
#endif
DL__ALWAYS_INLINE void dl__vadd(float *d, const float *s, int64_t n) {
    int64_t i = 0;
#if defined(DL__X86_64)
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_ps(d + i, _mm_add_ps(_mm_loadu_ps(d + i), _mm_loadu_ps(s + i)));
        _mm_storeu_ps(d + i + 4, _mm_add_ps(_mm_loadu_ps(d + i + 4), _mm_loadu_ps(s + i + 4)));
    }
#elif defined(DL__NEON64)
    for (; i + 8 <= n; i += 8) {
        vst1q_f32(d + i, vaddq_f32(vld1q_f32(d + i), vld1q_f32(s + i)));
        vst1q_f32(d + i + 4, vaddq_f32(vld1q_f32(d + i + 4), vld1q_f32(s + i + 4)));
    }
#endif
    for (; i < n; i++) d[i] += s[i];
}
/* d[i] = s[i] for a short row (a libc memcpy call costs more than copying 10 floats) */
DL__ALWAYS_INLINE void dl__vcopy(float *d, const float *s, int64_t n) {
    int64_t i = 0;
    if (n >= 64) { memcpy(d, s, (size_t)n * sizeof(float)); return; }
#if defined(DL__X86_64)
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(d + i, _mm_loadu_ps(s + i));
#elif defined(DL__NEON64)
    for (; i + 4 <= n; i += 4) vst1q_f32(d + i, vld1q_f32(s + i));
#endif
    for (; i < n; i++) d[i] = s[i];
}
/* ======================================================================================
   >>strided  views and copies: odometer over a shape with per-operand strides
   ====================================================================================== */
typedef struct dl__odo { int nd; int64_t shape[DL_MAX_DIMS], idx[DL_MAX_DIMS]; } dl__odo;
static void dl__odo_init(dl__odo *o, int nd, const int64_t *shape) {
    int i; o->nd = nd; for (i = 0; i < nd; i++) { o->shape[i] = shape[i]; o->idx[i] = 0; }
}
/* advance; updates offsets of `nops` operands with strides st[op][dim] */
static void dl__odo_next(dl__odo *o, int nops, int64_t *off, int64_t (*st)[DL_MAX_DIMS]) {
    int d, k;
    for (d = o->nd - 1; d >= 0; d--) {
        if (++o->idx[d] < o->shape[d]) { for (k = 0; k < nops; k++) off[k] += st[k][d]; return; }
        for (k = 0; k < nops; k++) off[k] -= st[k][d] * (o->shape[d] - 1);
        o->idx[d] = 0;
    }
}
/* dst (contiguous) = src (any strides) */
static void dl__gather_strided(float *dst, const float *src, const dl_tensor *s) {
    int64_t i, off[1] = {0}, st[1][DL_MAX_DIMS]; dl__odo o; int d;
    for (d = 0; d < s->ndim; d++) st[0][d] = s->stride[d];
    if (s->ndim > 0 && s->stride[s->ndim - 1] == 1 && s->shape[s->ndim - 1] > 1) {   /* whole rows */
        const int64_t L = s->shape[s->ndim - 1];
        dl__odo_init(&o, s->ndim - 1, s->shape);
        for (i = 0; i < s->numel; i += L) { dl__vcopy(dst + i, src + off[0], L); dl__odo_next(&o, 1, off, st); }
        return;
    }
    dl__odo_init(&o, s->ndim, s->shape);
    for (i = 0; i < s->numel; i++) { dst[i] = src[off[0]]; dl__odo_next(&o, 1, off, st); }
}

/* copy: y = x made contiguous; dx += dy */
static void dl__bwd_copy(dl_ctx *ctx, dl__node *nd) {
    float *gx = dl__ingrad(ctx, nd, 0); const float *g = nd->out->grad; int64_t i;
    if (!gx || !g) return;
    (void)i; dl__vadd(gx, g, nd->out->numel);
}
DL__API dl_tensor *dl_contiguous(dl_ctx *ctx, dl_tensor *x) {
    dl_tensor *y;
    DL__ENTER(ctx, "dl_contiguous");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (dl_is_contiguous(x)) return x;
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (y->data) dl__gather_strided(y->data, x->data, x);
    dl__record(ctx, DL__OP_copy, y, &x, 1);
    return dl__done(ctx, y);
}
/* ops call this on inputs that their kernels read as contiguous arrays */
static dl_tensor *dl__contig(dl_ctx *ctx, dl_tensor *x) {
    const char *op = ctx->op; dl_tensor *y;
    if (dl_is_contiguous(x)) return x;
    y = dl_contiguous(ctx, x);
    ctx->op = op;
    return y;
}
static dl_tensor *dl__contig_index(dl_ctx *ctx, dl_tensor *x) {
    dl_tensor *y; int64_t i;
    if (dl_is_contiguous(x)) return x;
    y = dl__new(ctx, dl_shape_of(x), DL_I32, 1);
    if (!ctx->status && y->idata && dl__pull(x)) {
        for (i = 0; i < x->numel; i++) y->idata[i] = x->idata[dl__offset_of(x, i)];
        dl__push(ctx, y);
    }
    return y;
}

/* ======================================================================================
   >>broadcast  NumPy rules; adjacent dims merged where every operand allows it
   ====================================================================================== */
typedef struct dl__bc {
    int nd, nops;                        /* operand 0 is the (contiguous) output        */
    int64_t shape[DL_MAX_DIMS];
    int64_t st[4][DL_MAX_DIMS];
} dl__bc;
static int dl__bcast_shape(dl_ctx *ctx, dl_tensor *const *in, int n, dl_shape *out) {
    int i, d, nd = 0;
    for (i = 0; i < n; i++) if (in[i]->ndim > nd) nd = in[i]->ndim;
    out->ndim = nd;
    for (d = 0; d < nd; d++) {
        int64_t sz = 1;
        for (i = 0; i < n; i++) {
            int k = d - (nd - in[i]->ndim);
            int64_t s = k >= 0 ? in[i]->shape[k] : 1;
            if (s == 1) continue;
            if (sz != 1 && s != sz) {
                if (n == 2) dl__fail2(ctx, DL_STATUS_SHAPE, "shapes %T and %T cannot broadcast", DL__A(in[0]), DL__A(in[1]));
                else dl__fail3(ctx, DL_STATUS_SHAPE, "shapes %T, %T and %T cannot broadcast", DL__A(in[0]), DL__A(in[1]), DL__A(in[2]));
                return 0;
            }
            sz = s;
        }
        out->d[d] = sz;
    }
    return 1;
}
/* strides (contiguous inputs; 0 on broadcast dims), then merge dims d-1,d when possible */
static void dl__bc_setup(dl__bc *b, const dl_tensor *out, dl_tensor *const *in, int n) {
    int i, d, nd = out->ndim, w;
    b->nops = n + 1;
    for (d = 0; d < nd; d++) { b->shape[d] = out->shape[d]; b->st[0][d] = out->stride[d]; }
    for (i = 0; i < n; i++) {
        int64_t s = 1;
        for (d = nd - 1; d >= 0; d--) {
            int k = d - (nd - in[i]->ndim);
            int64_t sz = k >= 0 ? in[i]->shape[k] : 1;
            b->st[i + 1][d] = (sz == 1) ? 0 : s;
            s *= sz;
        }
    }
    /* merge: drop size-1 dims, join d into the previous kept dim when contiguous for all */
    w = 0;
    for (d = 0; d < nd; d++) {
        int k, can = w > 0;
        if (b->shape[d] == 1) continue;
        for (k = 0; can && k < b->nops; k++)
            if (b->st[k][w - 1] != b->st[k][d] * b->shape[d]) can = 0;
        if (can) {
            b->shape[w - 1] *= b->shape[d];
            for (k = 0; k < b->nops; k++) b->st[k][w - 1] = b->st[k][d];
        } else {
            b->shape[w] = b->shape[d];
            for (k = 0; k < b->nops; k++) b->st[k][w] = b->st[k][d];
            w++;
        }
    }
    if (w == 0) { int k; b->shape[0] = 1; for (k = 0; k < b->nops; k++) b->st[k][0] = 0; w = 1; }
    b->nd = w;
}
/* calls fn once per innermost row: n elements, operand offsets off[], strides inner[] */
typedef void (*dl__row_fn)(void *k, int64_t n, const int64_t *off, const int64_t *inner);
static void dl__bc_rows(const dl__bc *b, dl__row_fn fn, void *k) {
    int64_t rows = 1, r, off[4] = {0, 0, 0, 0}, inner[4], st[4][DL_MAX_DIMS];
    int d, j; dl__odo o;
    for (j = 0; j < b->nops; j++) { inner[j] = b->st[j][b->nd - 1]; for (d = 0; d < b->nd - 1; d++) st[j][d] = b->st[j][d]; }
    for (d = 0; d < b->nd - 1; d++) rows *= b->shape[d];
    dl__odo_init(&o, b->nd - 1, b->shape);
    for (r = 0; r < rows; r++) { fn(k, b->shape[b->nd - 1], off, inner); dl__odo_next(&o, b->nops, off, st); }
}

/* ======================================================================================
   >>ops-binary  y = f(a, b) with broadcasting; the backward adds into the (possibly
   broadcast) input rows, which sums over broadcast axes.
   ====================================================================================== */
typedef struct dl__bin_k {
    int op, simd;                      /* simd: the context's kernel set allows SSE2 / NEON rows */
    const float *a, *b, *y, *g;
    float *ga, *gb, *o;
} dl__bin_k;

static void dl__row_binary_fwd(void *kp, int64_t n, const int64_t *off, const int64_t *in) {
    dl__bin_k *k = (dl__bin_k *)kp; int64_t i;
    float *y = k->o + off[0]; const float *a = k->a + off[1], *b = k->b + off[2];
    int64_t sa = in[1], sb = in[2];
#if defined(DL__X86_64)
    if (k->simd && sa == 1 && sb == 1 && (k->op == DL__OP_add || k->op == DL__OP_sub || k->op == DL__OP_mul)) {   /* SSE2, the same bits */
        for (i = 0; i + 4 <= n; i += 4) {
            const __m128 p = _mm_loadu_ps(a + i), q = _mm_loadu_ps(b + i);
            _mm_storeu_ps(y + i, k->op == DL__OP_add ? _mm_add_ps(p, q) : k->op == DL__OP_sub ? _mm_sub_ps(p, q) : _mm_mul_ps(p, q));
        }
        for (; i < n; i++) y[i] = k->op == DL__OP_add ? a[i] + b[i] : k->op == DL__OP_sub ? a[i] - b[i] : a[i] * b[i];
        return;
    }
#endif
    switch (k->op) {   /* one small switch over the six binary ops, per row not per element */
    case DL__OP_add: for (i = 0; i < n; i++) y[i] = a[i * sa] + b[i * sb]; break;
    case DL__OP_sub: for (i = 0; i < n; i++) y[i] = a[i * sa] - b[i * sb]; break;
    case DL__OP_mul: for (i = 0; i < n; i++) y[i] = a[i * sa] * b[i * sb]; break;
    case DL__OP_div: for (i = 0; i < n; i++) y[i] = a[i * sa] / b[i * sb]; break;
    case DL__OP_minimum: for (i = 0; i < n; i++) { float p = a[i * sa], q = b[i * sb]; y[i] = (p != p || q != q) ? p + q : (p < q ? p : q); } break;
    case DL__OP_maximum: for (i = 0; i < n; i++) { float p = a[i * sa], q = b[i * sb]; y[i] = (p != p || q != q) ? p + q : (p > q ? p : q); } break;
    default: break;
    }
}
/* d/da and d/db of each binary op, accumulated row by row */
static void dl__row_binary_bwd(void *kp, int64_t n, const int64_t *off, const int64_t *in) {
    dl__bin_k *k = (dl__bin_k *)kp; int64_t i;
    const float *g = k->g + off[0], *y = k->y + off[0], *a = k->a + off[1], *b = k->b + off[2];
    float *ga = k->ga ? k->ga + off[1] : NULL, *gb = k->gb ? k->gb + off[2] : NULL;
    int64_t sa = in[1], sb = in[2];
    if (k->simd && k->op == DL__OP_add && (!ga || sa == 1) && (!gb || sb == 1)) {   /* whole rows: vector adds, the same bits */
        if (ga) dl__vadd(ga, g, n);
        if (gb) dl__vadd(gb, g, n);
        return;
    }
    /* one loop per op (the switch runs once per row); ga/gb rows may be broadcast (stride 0) */
#define DL__BIN_BWD(DA, DB) \
    for (i = 0; i < n; i++) { const float gi = g[i], p = a[i * sa], q = b[i * sb]; (void)p; (void)q; \
        if (ga) ga[i * sa] += (DA); \
        if (gb) gb[i * sb] += (DB); }
    switch (k->op) {
    case DL__OP_add: DL__BIN_BWD(gi, gi) break;
    case DL__OP_sub: DL__BIN_BWD(gi, -gi) break;
    case DL__OP_mul: DL__BIN_BWD(gi * q, gi * p) break;
    case DL__OP_div: DL__BIN_BWD(gi / q, -gi * y[i] / q) break;
    case DL__OP_minimum: DL__BIN_BWD(p < q ? gi : (p == q ? 0.5f * gi : 0.0f), q < p ? gi : (p == q ? 0.5f * gi : 0.0f)) break;
    case DL__OP_maximum: DL__BIN_BWD(p > q ? gi : (p == q ? 0.5f * gi : 0.0f), q > p ? gi : (p == q ? 0.5f * gi : 0.0f)) break;
    default: break;
    }
#undef DL__BIN_BWD
}
static void dl__bwd_binary(dl_ctx *ctx, dl__node *nd) {
    dl__bin_k k; dl__bc b; dl_tensor *ab[2];
    k.op = nd->op; k.simd = dl__isa_rank(ctx->isa) >= 2; k.ga = dl__ingrad(ctx, nd, 0); k.gb = dl__ingrad(ctx, nd, 1);
    if (ctx->measure || ctx->status) return;
    k.a = nd->in[0]->data; k.b = nd->in[1]->data; k.y = nd->out->data; k.g = nd->out->grad; k.o = NULL;
    ab[0] = nd->in[0]; ab[1] = nd->in[1];
    dl__bc_setup(&b, nd->out, ab, 2);
    dl__bc_rows(&b, dl__row_binary_bwd, &k);
}
static dl_tensor *dl__binary(dl_ctx *ctx, int op, dl_tensor *a, dl_tensor *b) {
    dl_tensor *ab[2], *y; dl_shape s; dl__bc bc; dl__bin_k k;
    ctx->op = dl__op_name(op);
    if (!dl__arg(ctx, a, 1, DL_F32) || !dl__arg(ctx, b, 2, DL_F32)) return &ctx->poison;
    ab[0] = a; ab[1] = b;
    if (!dl__bcast_shape(ctx, ab, 2, &s)) return &ctx->poison;
    ab[0] = dl__contig(ctx, a); ab[1] = dl__contig(ctx, b);
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        k.op = op; k.simd = dl__isa_rank(ctx->isa) >= 2; k.a = ab[0]->data; k.b = ab[1]->data; k.o = y->data;
        dl__bc_setup(&bc, y, ab, 2);
        dl__bc_rows(&bc, dl__row_binary_fwd, &k);
    }
    dl__record(ctx, op, y, ab, 2);
    return dl__done(ctx, y);
}
static void dl__bwd_add(dl_ctx *ctx, dl__node *nd) { dl__bwd_binary(ctx, nd); }
static void dl__bwd_sub(dl_ctx *ctx, dl__node *nd) { dl__bwd_binary(ctx, nd); }
static void dl__bwd_mul(dl_ctx *ctx, dl__node *nd) { dl__bwd_binary(ctx, nd); }
static void dl__bwd_div(dl_ctx *ctx, dl__node *nd) { dl__bwd_binary(ctx, nd); }
static void dl__bwd_minimum(dl_ctx *ctx, dl__node *nd) { dl__bwd_binary(ctx, nd); }
static void dl__bwd_maximum(dl_ctx *ctx, dl__node *nd) { dl__bwd_binary(ctx, nd); }
DL__API dl_tensor *dl_add(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { DL__ENTER(ctx, "dl_add"); return dl__binary(ctx, DL__OP_add, a, b); }
DL__API dl_tensor *dl_sub(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { DL__ENTER(ctx, "dl_sub"); return dl__binary(ctx, DL__OP_sub, a, b); }
DL__API dl_tensor *dl_mul(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { DL__ENTER(ctx, "dl_mul"); return dl__binary(ctx, DL__OP_mul, a, b); }
DL__API dl_tensor *dl_div(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { DL__ENTER(ctx, "dl_div"); return dl__binary(ctx, DL__OP_div, a, b); }
DL__API dl_tensor *dl_minimum(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { DL__ENTER(ctx, "dl_minimum"); return dl__binary(ctx, DL__OP_minimum, a, b); }
DL__API dl_tensor *dl_maximum(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { DL__ENTER(ctx, "dl_maximum"); return dl__binary(ctx, DL__OP_maximum, a, b); }

/* where: y = cond != 0 ? a : b (cond float or index, no gradient); da = g*[c], db = g*[!c] */
typedef struct dl__where_k { const float *c, *a, *b, *g; float *y, *ga, *gb; } dl__where_k;
static void dl__row_where_fwd(void *kp, int64_t n, const int64_t *off, const int64_t *in) {
    dl__where_k *k = (dl__where_k *)kp; int64_t i;
    for (i = 0; i < n; i++)
        k->y[off[0] + i] = k->c[off[1] + i * in[1]] != 0.0f ? k->a[off[2] + i * in[2]] : k->b[off[3] + i * in[3]];
}
static void dl__row_where_bwd(void *kp, int64_t n, const int64_t *off, const int64_t *in) {
    dl__where_k *k = (dl__where_k *)kp; int64_t i;
    for (i = 0; i < n; i++) {
        int c = k->c[off[1] + i * in[1]] != 0.0f; float g = k->g[off[0] + i];
        if (c && k->ga) k->ga[off[2] + i * in[2]] += g;
        if (!c && k->gb) k->gb[off[3] + i * in[3]] += g;
    }
}
static void dl__bwd_where(dl_ctx *ctx, dl__node *nd) {
    dl__where_k k; dl__bc b;
    k.ga = dl__ingrad(ctx, nd, 1); k.gb = dl__ingrad(ctx, nd, 2);
    if (ctx->measure || ctx->status) return;
    k.c = nd->in[0]->data; k.a = nd->in[1]->data; k.b = nd->in[2]->data; k.g = nd->out->grad; k.y = NULL;
    dl__bc_setup(&b, nd->out, nd->in, 3);
    dl__bc_rows(&b, dl__row_where_bwd, &k);
}
DL__API dl_tensor *dl_where(dl_ctx *ctx, dl_tensor *cond, dl_tensor *a, dl_tensor *b) {
    dl_tensor *in[3], *y; dl_shape s; dl__bc bc; dl__where_k k;
    DL__ENTER(ctx, "dl_where");
    if (ctx->status) return &ctx->poison;
    if (!dl__arg(ctx, cond, 1, cond ? cond->dtype : DL_F32) || !dl__arg(ctx, a, 2, DL_F32) || !dl__arg(ctx, b, 3, DL_F32)) return &ctx->poison;
    in[0] = cond; in[1] = a; in[2] = b;
    if (!dl__bcast_shape(ctx, in, 3, &s)) return &ctx->poison;
    if (cond->dtype == DL_I32 && ctx->be) in[0] = dl__contig_index(ctx, cond);  /* the backend reads the ints */
    else if (cond->dtype == DL_I32) {   /* an index mask becomes a float 0/1 mask */
        dl_tensor *c = dl__new(ctx, dl_shape_of(cond), DL_F32, 1); int64_t i;
        if (!ctx->status && c->data && dl__pull(cond)) {   /* one download, one upload */
            for (i = 0; i < cond->numel; i++) c->data[i] = (cond->idata && cond->idata[dl__offset_of(cond, i)] != 0) ? 1.0f : 0.0f;
            dl__push(ctx, c);
        }
        in[0] = c;
    } else in[0] = dl__contig(ctx, dl_detach(ctx, cond));
    ctx->op = "dl_where";
    in[1] = dl__contig(ctx, a); in[2] = dl__contig(ctx, b);
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        k.c = in[0]->data; k.a = in[1]->data; k.b = in[2]->data; k.y = y->data;
        dl__bc_setup(&bc, y, in, 3);
        dl__bc_rows(&bc, dl__row_where_fwd, &k);
    }
    dl__record(ctx, DL__OP_where, y, in, 3);
    return dl__done(ctx, y);
}

/* ======================================================================================
   >>vmath  exp, sigmoid, tanh and softplus over arrays, one vector kernel per ISA. The
   scalar level (DL_ISA_REFERENCE, _PORTABLE, DL_NO_SIMD, other CPUs) is libm, bit for bit
   the code before the vector kernels; AVX2+FMA (8 lanes, also under AVX-512), SSE2 and
   NEON (4 lanes) share one method:
     exp(x)      x clamped to [-104, 89] (NaN passes); n = round(x log2 e), r = x - n ln2
                 (ln2 in two parts, so n ln2_hi is exact), e^r = 1 + r + r^2 P(r) with P of
                 degree 4 (a Chebyshev fit on |r| <= ln2/2, 0.09 ulp), times 2^n as two
                 exponent-field factors 2^(n/2) 2^(n - n/2): gradual underflow down to the
                 smallest denormal and +inf above ~88.72 come out of the multiplies.
     sigmoid(x)  e = exp(-|x|), (x < 0 ? e : 1) / (1 + e): no exp of a large positive number.
     tanh(x)     |x| < 0.5: x + x^3 P(x^2), P of degree 4 (so a tiny x keeps its relative
                 accuracy); else sign(x) (1 - e) / (1 + e), e = exp(-2|x|).
     softplus(x) max(x, 0) + log1p(e), e = exp(-|x|), log1p(e) = 2 atanh(s) = 2s + s^3 Q(s^2),
                 s = e / (2 + e) <= 1/3, Q of degree 4: relative accuracy kept for a tiny e.
   Tails shorter than a vector go through the same vector code (padded), so an element's
   value does not depend on its position or the array's length; results do not depend on
   the thread count (each call runs on one thread). Denormal results are kept (no flush).
   Measured max error against a double reference, in ulps of the float result (denormal
   results: ulps of 2^-149), over every 17th float bit pattern (2.5e8 inputs; NEON: every
   257th, under qemu-aarch64); log_sigmoid and sigmoid(-x) measure no worse than softplus
   and sigmoid. tests/test_vmath.c asserts the bound on the last line over 285k inputs.
                   exp    sigmoid   tanh   softplus
     avx2+fma      1.08    2.40     2.14    2.73
     sse2          1.03    2.40     2.11    2.73
     neon          1.02    2.33     2.10    2.63
     scalar (libm) 0.50    2.40     2.14    1.47    glibc 2.36 expf / tanhf / log1pf
     tested bound  1.5     2.5      2.5     3.0
   sigmoid's 2.4 ulp is the rounding of 1 + e and of the division, in libm's path too. The
   RNN gate math (>>op-rnn) uses these when the level is not scalar; the scalar level keeps
   its own 1/(1+exp(-v)) sigmoid and series/exp tanh, so DL_ISA_REFERENCE gives old bits.
   ====================================================================================== */
enum { DL__VM_EXP, DL__VM_SIGMOID, DL__VM_NSIGMOID, DL__VM_TANH, DL__VM_SOFTPLUS, DL__VM_LOGSIGMOID };  /* NSIGMOID: sigmoid(-x); LOGSIGMOID: -softplus(-x) */
enum { DL__VL_SCALAR, DL__VL_SSE2, DL__VL_AVX2, DL__VL_NEON };
static int dl__vm_level(const dl_ctx *ctx) {
#if defined(DL__X86_64)
    return dl__isa_rank(ctx->isa) >= 3 ? DL__VL_AVX2 : dl__isa_rank(ctx->isa) == 2 ? DL__VL_SSE2 : DL__VL_SCALAR;
#elif defined(DL__NEON64)
    return dl__isa_rank(ctx->isa) >= 2 ? DL__VL_NEON : DL__VL_SCALAR;
#else
    (void)ctx; return DL__VL_SCALAR;
#endif
}
static float dl__sigmoidf(float x) {   /* sign-split: never exp of a large positive number */
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    { float e = expf(x); return e / (1.0f + e); }
}
static float dl__softplusf(float x) { return (x > 0.0f ? x : 0.0f) + log1pf(expf(-fabsf(x))); }
/* the fitted coefficients (tests/gen_vmath.c: interpolation at Chebyshev nodes in long double) */
#define DL__VM_LOG2E 1.44269504f
#define DL__VM_LN2HI 0.693359375f       /* 9 significant bits: n * LN2HI is exact for |n| <= 2^15 */
#define DL__VM_LN2LO -2.12194440e-4f    /* ln 2 - LN2HI                                        */
#define DL__VM_E2 5.000000000e-01f      /* e^r = 1 + r + r^2 (E2 + E3 r + E4 r^2 + E5 r^3 + E6 r^4) */
#define DL__VM_E3 1.666657703e-01f
#define DL__VM_E4 4.166655466e-02f
#define DL__VM_E5 8.363173075e-03f
#define DL__VM_E6 1.392617612e-03f
#define DL__VM_T3 -3.333333280e-01f     /* tanh x = x + x^3 (T3 + T5 u + T7 u^2 + T9 u^3 + T11 u^4), u = x^2, |x| < 0.5 */
#define DL__VM_T5 1.333322578e-01f
#define DL__VM_T7 -5.393346915e-02f
#define DL__VM_T9 2.147068303e-02f
#define DL__VM_T11 -6.942941750e-03f
#define DL__VM_L3 6.666666732e-01f      /* 2 atanh s = 2s + s^3 (L3 + L5 v + L7 v^2 + L9 v^3 + L11 v^4), v = s^2, s <= 1/3 */
#define DL__VM_L5 3.999970633e-01f
#define DL__VM_L7 2.859235799e-01f
#define DL__VM_L9 2.170657580e-01f
#define DL__VM_L11 2.322432922e-01f

#if defined(DL__X86_64)
#define DL__AVX __attribute__((target("avx2,fma")))
#define DL__VINL static inline __attribute__((always_inline))   /* one loop body per function */
#define DL__S8(c) _mm256_set1_ps(c)
DL__AVX DL__VINL __m256 dl__exp8(__m256 x) {
    __m256 n, r, p; __m256i k, k1;
    x = _mm256_max_ps(DL__S8(-104.0f), _mm256_min_ps(DL__S8(89.0f), x));  /* the 2nd operand wins on NaN */
    n = _mm256_round_ps(_mm256_mul_ps(x, DL__S8(DL__VM_LOG2E)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_fnmadd_ps(n, DL__S8(DL__VM_LN2HI), x);
    r = _mm256_fnmadd_ps(n, DL__S8(DL__VM_LN2LO), r);
    p = _mm256_fmadd_ps(DL__S8(DL__VM_E6), r, DL__S8(DL__VM_E5));
    p = _mm256_fmadd_ps(p, r, DL__S8(DL__VM_E4));
    p = _mm256_fmadd_ps(p, r, DL__S8(DL__VM_E3));
    p = _mm256_fmadd_ps(p, r, DL__S8(DL__VM_E2));
    p = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), DL__S8(1.0f));
    k = _mm256_cvtps_epi32(n); k1 = _mm256_srai_epi32(k, 1); k = _mm256_sub_epi32(k, k1);
    p = _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, _mm256_set1_epi32(127)), 23)));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23)));
}
DL__AVX DL__VINL __m256 dl__sigm8(__m256 x) {
    const __m256 e = dl__exp8(_mm256_or_ps(x, DL__S8(-0.0f)));   /* exp(-|x|) */
    return _mm256_div_ps(_mm256_blendv_ps(DL__S8(1.0f), e, x), _mm256_add_ps(e, DL__S8(1.0f)));  /* blendv: x's sign */
}
DL__AVX DL__VINL __m256 dl__tanh8(__m256 x) {
    const __m256 sgn = _mm256_and_ps(x, DL__S8(-0.0f)), a = _mm256_xor_ps(x, sgn), u = _mm256_mul_ps(x, x);
    const __m256 e = dl__exp8(_mm256_mul_ps(a, DL__S8(-2.0f)));
    __m256 p = _mm256_fmadd_ps(DL__S8(DL__VM_T11), u, DL__S8(DL__VM_T9)), t;
    p = _mm256_fmadd_ps(p, u, DL__S8(DL__VM_T7));
    p = _mm256_fmadd_ps(p, u, DL__S8(DL__VM_T5));
    p = _mm256_fmadd_ps(p, u, DL__S8(DL__VM_T3));
    p = _mm256_fmadd_ps(_mm256_mul_ps(a, u), p, a);
    t = _mm256_div_ps(_mm256_sub_ps(DL__S8(1.0f), e), _mm256_add_ps(DL__S8(1.0f), e));
    return _mm256_or_ps(_mm256_blendv_ps(t, p, _mm256_cmp_ps(a, DL__S8(0.5f), _CMP_LT_OQ)), sgn);   /* |x| first: tanh(-0) = -0 */
}
DL__AVX DL__VINL __m256 dl__softplus8(__m256 x) {
    const __m256 e = dl__exp8(_mm256_or_ps(x, DL__S8(-0.0f)));
    const __m256 s = _mm256_div_ps(e, _mm256_add_ps(e, DL__S8(2.0f))), v = _mm256_mul_ps(s, s);
    __m256 q = _mm256_fmadd_ps(DL__S8(DL__VM_L11), v, DL__S8(DL__VM_L9));
    q = _mm256_fmadd_ps(q, v, DL__S8(DL__VM_L7));
    q = _mm256_fmadd_ps(q, v, DL__S8(DL__VM_L5));
    q = _mm256_fmadd_ps(q, v, DL__S8(DL__VM_L3));
    return _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()), _mm256_fmadd_ps(_mm256_mul_ps(s, v), q, _mm256_add_ps(s, s)));
}
DL__AVX DL__VINL __m256 dl__vm8(int fn, __m256 x) {
    const __m256 m = DL__S8(-0.0f);
    switch (fn) {
    case DL__VM_EXP: return dl__exp8(x);
    case DL__VM_SIGMOID: return dl__sigm8(x);
    case DL__VM_NSIGMOID: return dl__sigm8(_mm256_xor_ps(x, m));
    case DL__VM_TANH: return dl__tanh8(x);
    case DL__VM_SOFTPLUS: return dl__softplus8(x);
    default: return _mm256_xor_ps(dl__softplus8(_mm256_xor_ps(x, m)), m);
    }
}
__attribute__((target("avx2,fma"))) static void dl__vmath_avx2(int fn, int64_t n, const float *x, float *y) {
    int64_t i; float t[8] = {0.0f};
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, dl__vm8(fn, _mm256_loadu_ps(x + i)));
    if (i < n) {
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(t, dl__vm8(fn, _mm256_loadu_ps(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}
#undef DL__S8
/* SSE2 (x86-64's baseline): no FMA and no round: n from cvtps (round to nearest even) */
#define DL__S4(c) _mm_set1_ps(c)
DL__VINL __m128 dl__exp4(__m128 x) {
    __m128 n, r, p; __m128i k, k1;
    x = _mm_max_ps(DL__S4(-104.0f), _mm_min_ps(DL__S4(89.0f), x));
    k = _mm_cvtps_epi32(_mm_mul_ps(x, DL__S4(DL__VM_LOG2E))); n = _mm_cvtepi32_ps(k);
    r = _mm_sub_ps(x, _mm_mul_ps(n, DL__S4(DL__VM_LN2HI)));
    r = _mm_sub_ps(r, _mm_mul_ps(n, DL__S4(DL__VM_LN2LO)));
    p = _mm_add_ps(_mm_mul_ps(DL__S4(DL__VM_E6), r), DL__S4(DL__VM_E5));
    p = _mm_add_ps(_mm_mul_ps(p, r), DL__S4(DL__VM_E4));
    p = _mm_add_ps(_mm_mul_ps(p, r), DL__S4(DL__VM_E3));
    p = _mm_add_ps(_mm_mul_ps(p, r), DL__S4(DL__VM_E2));
    p = _mm_add_ps(_mm_add_ps(_mm_mul_ps(p, _mm_mul_ps(r, r)), r), DL__S4(1.0f));
    k1 = _mm_srai_epi32(k, 1); k = _mm_sub_epi32(k, k1);
    p = _mm_mul_ps(p, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(k1, _mm_set1_epi32(127)), 23)));
    return _mm_mul_ps(p, _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(k, _mm_set1_epi32(127)), 23)));
}
DL__VINL __m128 dl__sel4(__m128 m, __m128 a, __m128 b) { return _mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)); }  /* m ? a : b */
DL__VINL __m128 dl__sigm4(__m128 x) {
    const __m128 e = dl__exp4(_mm_or_ps(x, DL__S4(-0.0f)));
    return _mm_div_ps(dl__sel4(_mm_cmplt_ps(x, _mm_setzero_ps()), e, DL__S4(1.0f)), _mm_add_ps(e, DL__S4(1.0f)));
}
DL__VINL __m128 dl__tanh4(__m128 x) {
    const __m128 sgn = _mm_and_ps(x, DL__S4(-0.0f)), a = _mm_xor_ps(x, sgn), u = _mm_mul_ps(x, x);
    const __m128 e = dl__exp4(_mm_mul_ps(a, DL__S4(-2.0f)));
    __m128 p = _mm_add_ps(_mm_mul_ps(DL__S4(DL__VM_T11), u), DL__S4(DL__VM_T9)), t;
    p = _mm_add_ps(_mm_mul_ps(p, u), DL__S4(DL__VM_T7));
    p = _mm_add_ps(_mm_mul_ps(p, u), DL__S4(DL__VM_T5));
    p = _mm_add_ps(_mm_mul_ps(p, u), DL__S4(DL__VM_T3));
    p = _mm_add_ps(_mm_mul_ps(_mm_mul_ps(a, u), p), a);
    t = _mm_div_ps(_mm_sub_ps(DL__S4(1.0f), e), _mm_add_ps(DL__S4(1.0f), e));
    return _mm_or_ps(dl__sel4(_mm_cmplt_ps(a, DL__S4(0.5f)), p, t), sgn);
}
DL__VINL __m128 dl__softplus4(__m128 x) {
    const __m128 e = dl__exp4(_mm_or_ps(x, DL__S4(-0.0f)));
    const __m128 s = _mm_div_ps(e, _mm_add_ps(e, DL__S4(2.0f))), v = _mm_mul_ps(s, s);
    __m128 q = _mm_add_ps(_mm_mul_ps(DL__S4(DL__VM_L11), v), DL__S4(DL__VM_L9));
    q = _mm_add_ps(_mm_mul_ps(q, v), DL__S4(DL__VM_L7));
    q = _mm_add_ps(_mm_mul_ps(q, v), DL__S4(DL__VM_L5));
    q = _mm_add_ps(_mm_mul_ps(q, v), DL__S4(DL__VM_L3));
    return _mm_add_ps(_mm_max_ps(x, _mm_setzero_ps()), _mm_add_ps(_mm_mul_ps(_mm_mul_ps(s, v), q), _mm_add_ps(s, s)));
}
DL__VINL __m128 dl__vm4(int fn, __m128 x) {
    const __m128 m = DL__S4(-0.0f);
    switch (fn) {
    case DL__VM_EXP: return dl__exp4(x);
    case DL__VM_SIGMOID: return dl__sigm4(x);
    case DL__VM_NSIGMOID: return dl__sigm4(_mm_xor_ps(x, m));
    case DL__VM_TANH: return dl__tanh4(x);
    case DL__VM_SOFTPLUS: return dl__softplus4(x);
    default: return _mm_xor_ps(dl__softplus4(_mm_xor_ps(x, m)), m);
    }
}
static void dl__vmath_sse2(int fn, int64_t n, const float *x, float *y) {
    int64_t i; float t[4] = {0.0f};
    for (i = 0; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, dl__vm4(fn, _mm_loadu_ps(x + i)));
    if (i < n) {
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        _mm_storeu_ps(t, dl__vm4(fn, _mm_loadu_ps(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}
#undef DL__S4
#undef DL__AVX
#endif

#if defined(DL__NEON64)
#define DL__VINL static inline __attribute__((always_inline))
#define DL__N4(c) vdupq_n_f32(c)
DL__VINL float32x4_t dl__exp4n(float32x4_t x) {
    float32x4_t n, r, p; int32x4_t k, k1;
    x = vmaxq_f32(DL__N4(-104.0f), vminq_f32(DL__N4(89.0f), x));   /* NaN propagates */
    n = vrndnq_f32(vmulq_f32(x, DL__N4(DL__VM_LOG2E)));
    r = vfmsq_f32(x, n, DL__N4(DL__VM_LN2HI));
    r = vfmsq_f32(r, n, DL__N4(DL__VM_LN2LO));
    p = vfmaq_f32(DL__N4(DL__VM_E5), DL__N4(DL__VM_E6), r);
    p = vfmaq_f32(DL__N4(DL__VM_E4), p, r);
    p = vfmaq_f32(DL__N4(DL__VM_E3), p, r);
    p = vfmaq_f32(DL__N4(DL__VM_E2), p, r);
    p = vaddq_f32(vfmaq_f32(r, p, vmulq_f32(r, r)), DL__N4(1.0f));
    k = vcvtq_s32_f32(n); k1 = vshrq_n_s32(k, 1); k = vsubq_s32(k, k1);
    p = vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k1, vdupq_n_s32(127)), 23)));
    return vmulq_f32(p, vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(k, vdupq_n_s32(127)), 23)));
}
DL__VINL float32x4_t dl__nabs4n(float32x4_t x) { return vnegq_f32(vabsq_f32(x)); }
DL__VINL float32x4_t dl__sigm4n(float32x4_t x) {
    const float32x4_t e = dl__exp4n(dl__nabs4n(x));
    return vdivq_f32(vbslq_f32(vcltzq_f32(x), e, DL__N4(1.0f)), vaddq_f32(e, DL__N4(1.0f)));
}
DL__VINL float32x4_t dl__tanh4n(float32x4_t x) {
    const float32x4_t a = vabsq_f32(x), u = vmulq_f32(x, x), e = dl__exp4n(vmulq_f32(a, DL__N4(-2.0f)));
    float32x4_t p = vfmaq_f32(DL__N4(DL__VM_T9), DL__N4(DL__VM_T11), u), t;
    p = vfmaq_f32(DL__N4(DL__VM_T7), p, u);
    p = vfmaq_f32(DL__N4(DL__VM_T5), p, u);
    p = vfmaq_f32(DL__N4(DL__VM_T3), p, u);
    p = vfmaq_f32(a, vmulq_f32(a, u), p);
    t = vdivq_f32(vsubq_f32(DL__N4(1.0f), e), vaddq_f32(DL__N4(1.0f), e));
    return vbslq_f32(vdupq_n_u32(0x80000000u), x, vbslq_f32(vcltq_f32(a, DL__N4(0.5f)), p, t));   /* x's sign on |result| */
}
DL__VINL float32x4_t dl__softplus4n(float32x4_t x) {
    const float32x4_t e = dl__exp4n(dl__nabs4n(x));
    const float32x4_t s = vdivq_f32(e, vaddq_f32(e, DL__N4(2.0f))), v = vmulq_f32(s, s);
    float32x4_t q = vfmaq_f32(DL__N4(DL__VM_L9), DL__N4(DL__VM_L11), v);
    q = vfmaq_f32(DL__N4(DL__VM_L7), q, v);
    q = vfmaq_f32(DL__N4(DL__VM_L5), q, v);
    q = vfmaq_f32(DL__N4(DL__VM_L3), q, v);
    return vaddq_f32(vmaxq_f32(x, vdupq_n_f32(0.0f)), vfmaq_f32(vaddq_f32(s, s), vmulq_f32(s, v), q));
}
DL__VINL float32x4_t dl__vm4n(int fn, float32x4_t x) {
    switch (fn) {
    case DL__VM_EXP: return dl__exp4n(x);
    case DL__VM_SIGMOID: return dl__sigm4n(x);
    case DL__VM_NSIGMOID: return dl__sigm4n(vnegq_f32(x));
    case DL__VM_TANH: return dl__tanh4n(x);
    case DL__VM_SOFTPLUS: return dl__softplus4n(x);
    default: return vnegq_f32(dl__softplus4n(vnegq_f32(x)));
    }
}
static void dl__vmath_neon(int fn, int64_t n, const float *x, float *y) {
    int64_t i; float t[4] = {0.0f};
    for (i = 0; i + 4 <= n; i += 4) vst1q_f32(y + i, dl__vm4n(fn, vld1q_f32(x + i)));
    if (i < n) {
        memcpy(t, x + i, (size_t)(n - i) * sizeof(float));
        vst1q_f32(t, dl__vm4n(fn, vld1q_f32(t)));
        memcpy(y + i, t, (size_t)(n - i) * sizeof(float));
    }
}
#undef DL__N4
#endif
#undef DL__VINL
/* y[i] = fn(x[i]) for i < n at a level (dl__vm_level); y may be x */
static void dl__vmath(int level, int fn, int64_t n, const float *x, float *y) {
    int64_t i;
#if defined(DL__X86_64)
    if (level == DL__VL_AVX2) { dl__vmath_avx2(fn, n, x, y); return; }
    if (level == DL__VL_SSE2) { dl__vmath_sse2(fn, n, x, y); return; }
#elif defined(DL__NEON64)
    if (level == DL__VL_NEON) { dl__vmath_neon(fn, n, x, y); return; }
#endif
    (void)level;
    switch (fn) {
    case DL__VM_EXP: for (i = 0; i < n; i++) y[i] = expf(x[i]); break;
    case DL__VM_SIGMOID: for (i = 0; i < n; i++) y[i] = dl__sigmoidf(x[i]); break;
    case DL__VM_NSIGMOID: for (i = 0; i < n; i++) y[i] = dl__sigmoidf(-x[i]); break;
    case DL__VM_TANH: for (i = 0; i < n; i++) y[i] = tanhf(x[i]); break;
    case DL__VM_SOFTPLUS: for (i = 0; i < n; i++) y[i] = dl__softplusf(x[i]); break;
    default: for (i = 0; i < n; i++) y[i] = -dl__softplusf(-x[i]); break;
    }
}

/* ======================================================================================
   >>ops-unary  y = f(x) elementwise; dx += g * f'(x). Each op: its forward kernel, its
   derivative kernel, its backward, its public function, side by side.
   ====================================================================================== */
static int dl__vm_of_op(int op) {   /* the unary ops with a vector kernel (>>vmath) */
    switch (op) {
    case DL__OP_exp: return DL__VM_EXP; case DL__OP_sigmoid: return DL__VM_SIGMOID; case DL__OP_tanh: return DL__VM_TANH;
    case DL__OP_softplus: return DL__VM_SOFTPLUS; case DL__OP_log_sigmoid: return DL__VM_LOGSIGMOID; default: return -1;
    }
}
typedef void (*dl__ufwd)(int64_t n, const float *x, float *y, float p0, float p1);
typedef void (*dl__udx)(int64_t n, const float *x, const float *y, const float *g, float *gx, float p0, float p1);
/* The elementwise unary ops run in chunks of DL__EW_CHUNK elements, as pool tasks when the
   context has threads and the tensor spans several chunks (elementwise: the same bits for
   any split). relu has an SSE2 / NEON loop (max(x, 0) and a compare mask give exactly the C
   loop's values, NaN and -0 included); DL_ISA_REFERENCE keeps every C loop. */
#define DL__EW_CHUNK 32768
typedef struct dl__ujob {
    int op, vf, lv; dl__ufwd f; dl__udx dx; float p0, p1; int64_t n;
    const float *x, *y, *g; float *out;          /* forward: out = y; backward: out = gx */
} dl__ujob;
static void dl__relu_fwd_v(int64_t n, const float *x, float *y) {
    int64_t i = 0;
#if defined(DL__X86_64)
    const __m128 z = _mm_setzero_ps();
    for (; i + 8 <= n; i += 8) { _mm_storeu_ps(y + i, _mm_max_ps(_mm_loadu_ps(x + i), z)); _mm_storeu_ps(y + i + 4, _mm_max_ps(_mm_loadu_ps(x + i + 4), z)); }
#elif defined(DL__NEON64)
    const float32x4_t z = vdupq_n_f32(0.0f);
    for (; i + 4 <= n; i += 4) { const float32x4_t v = vld1q_f32(x + i); vst1q_f32(y + i, vbslq_f32(vcgtq_f32(v, z), v, z)); }
#endif
    for (; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}
static void dl__relu_dx_v(int64_t n, const float *x, const float *g, float *gx) {
    int64_t i = 0;
#if defined(DL__X86_64)
    const __m128 z = _mm_setzero_ps();
    for (; i + 4 <= n; i += 4)
        _mm_storeu_ps(gx + i, _mm_add_ps(_mm_loadu_ps(gx + i), _mm_and_ps(_mm_cmpgt_ps(_mm_loadu_ps(x + i), z), _mm_loadu_ps(g + i))));
#elif defined(DL__NEON64)
    const float32x4_t z = vdupq_n_f32(0.0f);
    for (; i + 4 <= n; i += 4)
        vst1q_f32(gx + i, vaddq_f32(vld1q_f32(gx + i), vbslq_f32(vcgtq_f32(vld1q_f32(x + i), z), vld1q_f32(g + i), z)));
#endif
    for (; i < n; i++) gx[i] += x[i] > 0.0f ? g[i] : 0.0f;
}
static void dl__unary_fwd_task(void *arg, int64_t t) {
    const dl__ujob *j = (const dl__ujob *)arg;
    const int64_t lo = t * DL__EW_CHUNK, m = j->n - lo < DL__EW_CHUNK ? j->n - lo : DL__EW_CHUNK;
    if (j->op == DL__OP_relu && j->lv != DL__VL_SCALAR) dl__relu_fwd_v(m, j->x + lo, j->out + lo);
    else if (j->vf >= 0 && j->lv != DL__VL_SCALAR) dl__vmath(j->lv, j->vf, m, j->x + lo, j->out + lo);
    else j->f(m, j->x + lo, j->out + lo, j->p0, j->p1);
}
static void dl__unary_bwd_task(void *arg, int64_t t) {
    const dl__ujob *j = (const dl__ujob *)arg;
    const int64_t lo = t * DL__EW_CHUNK, n = j->n - lo < DL__EW_CHUNK ? j->n - lo : DL__EW_CHUNK;
    const float *x = j->x + lo, *g = j->g + lo; float *gx = j->out + lo;
    if (j->op == DL__OP_relu && j->lv != DL__VL_SCALAR) { dl__relu_dx_v(n, x, g, gx); return; }
    if (j->lv != DL__VL_SCALAR && (j->op == DL__OP_softplus || j->op == DL__OP_log_sigmoid)) {   /* g sigmoid(+-x) */
        float s[64]; int64_t i, i0;
        for (i0 = 0; i0 < n; i0 += 64) {   /* 256 bytes of stack: small-target friendly */
            const int64_t m = n - i0 < 64 ? n - i0 : 64;
            dl__vmath(j->lv, j->op == DL__OP_softplus ? DL__VM_SIGMOID : DL__VM_NSIGMOID, m, x + i0, s);
            for (i = 0; i < m; i++) gx[i0 + i] += g[i0 + i] * s[i];
        }
        return;
    }
    j->dx(n, x, j->y + lo, g, gx, j->p0, j->p1);
}
static void dl__ew_run(const dl_ctx *ctx, int64_t n, void (*task)(void *, int64_t), void *job) {
    const int64_t nt = (n + DL__EW_CHUNK - 1) / DL__EW_CHUNK; int64_t t;
    if (ctx->pfor && nt >= 4) dl__parallel(ctx, nt, task, job);   /* under 4 chunks a fork costs more than it saves */
    else for (t = 0; t < nt; t++) task(job, t);
}
static dl_tensor *dl__unary(dl_ctx *ctx, int op, dl_tensor *x, float p0, float p1, dl__ufwd f) {
    dl_tensor *y; dl__node *nd;
    ctx->op = dl__op_name(op);
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    x = dl__contig(ctx, x);
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        dl__ujob j; memset(&j, 0, sizeof j);
        j.op = op; j.vf = dl__vm_of_op(op); j.lv = dl__vm_level(ctx); j.f = f; j.p0 = p0; j.p1 = p1;
        j.n = x->numel; j.x = x->data; j.out = y->data;
        dl__ew_run(ctx, j.n, dl__unary_fwd_task, &j);
    }
    nd = dl__record(ctx, op, y, &x, 1);
    if (nd) { nd->farg[0] = p0; nd->farg[1] = p1; }
    return dl__done(ctx, y);
}
static void dl__unary_bwd(dl_ctx *ctx, dl__node *nd, dl__udx dx) {
    float *gx = dl__ingrad(ctx, nd, 0); dl__ujob j;
    if (!gx || ctx->measure) return;
    memset(&j, 0, sizeof j);
    j.op = nd->op; j.lv = dl__vm_level(ctx); j.dx = dx; j.p0 = nd->farg[0]; j.p1 = nd->farg[1];
    j.n = nd->out->numel; j.x = nd->in[0]->data; j.y = nd->out->data; j.g = nd->out->grad; j.out = gx;
    dl__ew_run(ctx, j.n, dl__unary_bwd_task, &j);
}
#define DL__UNARY_KERNELS(name, FWD, DX) \
    static void dl__fwd_##name(int64_t n, const float *X, float *Y, float p0, float p1) { \
        int64_t i; (void)p0; (void)p1; \
        for (i = 0; i < n; i++) { const float x = X[i]; (void)x; Y[i] = (FWD); } } \
    static void dl__dx_##name(int64_t n, const float *X, const float *Y, const float *G, float *GX, float p0, float p1) { \
        int64_t i; (void)p0; (void)p1; \
        for (i = 0; i < n; i++) { const float x = X[i], y = Y[i], g = G[i]; (void)x; (void)y; GX[i] += (DX); } } \
    static void dl__bwd_##name(dl_ctx *ctx, dl__node *nd) { dl__unary_bwd(ctx, nd, dl__dx_##name); }

/*                name         forward y = ...                       dx += ...                        */
DL__UNARY_KERNELS(neg,         -x,                                   -g)
DL__UNARY_KERNELS(abs,         fabsf(x),                             x > 0.0f ? g : (x < 0.0f ? -g : 0.0f))
DL__UNARY_KERNELS(sign,        (float)((x > 0.0f) - (x < 0.0f)),     0.0f * g)
DL__UNARY_KERNELS(exp,         expf(x),                              g * y)
DL__UNARY_KERNELS(log,         logf(x),                              g / x)
DL__UNARY_KERNELS(sqrt,        sqrtf(x),                             g * 0.5f / y)
DL__UNARY_KERNELS(square,      x * x,                                2.0f * x * g)
DL__UNARY_KERNELS(pow,         powf(x, p0),                          p0 == 0.0f ? 0.0f : g * p0 * powf(x, p0 - 1.0f))
DL__UNARY_KERNELS(sin,         sinf(x),                              g * cosf(x))
DL__UNARY_KERNELS(cos,         cosf(x),                              -g * sinf(x))
DL__UNARY_KERNELS(clamp,       x < p0 ? p0 : (x > p1 ? p1 : x),      (x >= p0 && x <= p1) ? g : 0.0f)
DL__UNARY_KERNELS(relu,        x > 0.0f ? x : 0.0f,                  x > 0.0f ? g : 0.0f)
DL__UNARY_KERNELS(sigmoid,     dl__sigmoidf(x),                      g * y * (1.0f - y))
DL__UNARY_KERNELS(tanh,        tanhf(x),                             g * (1.0f - y * y))
DL__UNARY_KERNELS(softplus,    dl__softplusf(x),                     g * dl__sigmoidf(x))
DL__UNARY_KERNELS(log_sigmoid, -dl__softplusf(-x),                   g * dl__sigmoidf(-x))
DL__UNARY_KERNELS(add_scalar,  x + p0,                               g)
DL__UNARY_KERNELS(mul_scalar,  x * p0,                               g * p0)

DL__API dl_tensor *dl_neg(dl_ctx *ctx, dl_tensor *x)         { DL__ENTER(ctx, "dl_neg"); return dl__unary(ctx, DL__OP_neg, x, 0.0f, 0.0f, dl__fwd_neg); }
DL__API dl_tensor *dl_abs(dl_ctx *ctx, dl_tensor *x)         { DL__ENTER(ctx, "dl_abs"); return dl__unary(ctx, DL__OP_abs, x, 0.0f, 0.0f, dl__fwd_abs); }
DL__API dl_tensor *dl_sign(dl_ctx *ctx, dl_tensor *x)        { DL__ENTER(ctx, "dl_sign"); return dl__unary(ctx, DL__OP_sign, x, 0.0f, 0.0f, dl__fwd_sign); }
DL__API dl_tensor *dl_exp(dl_ctx *ctx, dl_tensor *x)         { DL__ENTER(ctx, "dl_exp"); return dl__unary(ctx, DL__OP_exp, x, 0.0f, 0.0f, dl__fwd_exp); }
DL__API dl_tensor *dl_log(dl_ctx *ctx, dl_tensor *x)         { DL__ENTER(ctx, "dl_log"); return dl__unary(ctx, DL__OP_log, x, 0.0f, 0.0f, dl__fwd_log); }
DL__API dl_tensor *dl_sqrt(dl_ctx *ctx, dl_tensor *x)        { DL__ENTER(ctx, "dl_sqrt"); return dl__unary(ctx, DL__OP_sqrt, x, 0.0f, 0.0f, dl__fwd_sqrt); }
DL__API dl_tensor *dl_square(dl_ctx *ctx, dl_tensor *x)      { DL__ENTER(ctx, "dl_square"); return dl__unary(ctx, DL__OP_square, x, 0.0f, 0.0f, dl__fwd_square); }
DL__API dl_tensor *dl_pow(dl_ctx *ctx, dl_tensor *x, float p) { DL__ENTER(ctx, "dl_pow"); return dl__unary(ctx, DL__OP_pow, x, p, 0.0f, dl__fwd_pow); }
DL__API dl_tensor *dl_sin(dl_ctx *ctx, dl_tensor *x)         { DL__ENTER(ctx, "dl_sin"); return dl__unary(ctx, DL__OP_sin, x, 0.0f, 0.0f, dl__fwd_sin); }
DL__API dl_tensor *dl_cos(dl_ctx *ctx, dl_tensor *x)         { DL__ENTER(ctx, "dl_cos"); return dl__unary(ctx, DL__OP_cos, x, 0.0f, 0.0f, dl__fwd_cos); }
DL__API dl_tensor *dl_clamp(dl_ctx *ctx, dl_tensor *x, float lo, float hi) {
    DL__ENTER(ctx, "dl_clamp");
    if (!(lo <= hi)) { double l = (double)lo, h = (double)hi; if (!ctx->status) dl__fail2(ctx, DL_STATUS_INVALID, "lo %g > hi %g", DL__A(&l), DL__A(&h)); return &ctx->poison; }
    return dl__unary(ctx, DL__OP_clamp, x, lo, hi, dl__fwd_clamp);
}
DL__API dl_tensor *dl_relu(dl_ctx *ctx, dl_tensor *x)        { DL__ENTER(ctx, "dl_relu"); return dl__unary(ctx, DL__OP_relu, x, 0.0f, 0.0f, dl__fwd_relu); }
DL__API dl_tensor *dl_sigmoid(dl_ctx *ctx, dl_tensor *x)     { DL__ENTER(ctx, "dl_sigmoid"); return dl__unary(ctx, DL__OP_sigmoid, x, 0.0f, 0.0f, dl__fwd_sigmoid); }
DL__API dl_tensor *dl_tanh(dl_ctx *ctx, dl_tensor *x)        { DL__ENTER(ctx, "dl_tanh"); return dl__unary(ctx, DL__OP_tanh, x, 0.0f, 0.0f, dl__fwd_tanh); }
DL__API dl_tensor *dl_softplus(dl_ctx *ctx, dl_tensor *x)    { DL__ENTER(ctx, "dl_softplus"); return dl__unary(ctx, DL__OP_softplus, x, 0.0f, 0.0f, dl__fwd_softplus); }
DL__API dl_tensor *dl_log_sigmoid(dl_ctx *ctx, dl_tensor *x) { DL__ENTER(ctx, "dl_log_sigmoid"); return dl__unary(ctx, DL__OP_log_sigmoid, x, 0.0f, 0.0f, dl__fwd_log_sigmoid); }
DL__API dl_tensor *dl_add_scalar(dl_ctx *ctx, dl_tensor *x, float c) { DL__ENTER(ctx, "dl_add_scalar"); return dl__unary(ctx, DL__OP_add_scalar, x, c, 0.0f, dl__fwd_add_scalar); }
DL__API dl_tensor *dl_mul_scalar(dl_ctx *ctx, dl_tensor *x, float c) { DL__ENTER(ctx, "dl_mul_scalar"); return dl__unary(ctx, DL__OP_mul_scalar, x, c, 0.0f, dl__fwd_mul_scalar); }

/* ======================================================================================
   >>gemm  C(i,j) (+)= sum_k A(i,k) B(k,j), every operand with (row, column) strides.
   The scalar reference; the loop order is picked so the inner loop runs over unit strides.
   ====================================================================================== */
typedef struct dl__mat { float *p; int64_t rs, cs; } dl__mat;
static dl__mat dl__mat_t(dl__mat m) { dl__mat t; t.p = m.p; t.rs = m.cs; t.cs = m.rs; return t; }
static void dl__gemm_ref(int64_t M, int64_t N, int64_t K, dl__mat A, dl__mat B, dl__mat C, int accumulate) {
    int64_t i, j, k;
    if (!accumulate) for (i = 0; i < M; i++) for (j = 0; j < N; j++) C.p[i * C.rs + j * C.cs] = 0.0f;
    if (B.cs == 1 && C.cs == 1) {                    /* rows of C += a(i,k) * rows of B */
        for (i = 0; i < M; i++) {
            float *c = C.p + i * C.rs;
            for (k = 0; k < K; k++) {
                const float a = A.p[i * A.rs + k * A.cs]; const float *b = B.p + k * B.rs;
                for (j = 0; j < N; j++) c[j] += a * b[j];
            }
        }
    } else if (A.cs == 1 && B.rs == 1) {             /* dot products over contiguous k */
        for (i = 0; i < M; i++) {
            const float *a = A.p + i * A.rs;
            for (j = 0; j < N; j++) {
                const float *b = B.p + j * B.cs; float s = 0.0f;
                for (k = 0; k < K; k++) s += a[k] * b[k];
                C.p[i * C.rs + j * C.cs] += s;
            }
        }
    } else if (A.rs == 1 && C.rs == 1) {             /* columns of C += columns of A * b(k,j) */
        for (j = 0; j < N; j++) {
            float *c = C.p + j * C.cs;
            for (k = 0; k < K; k++) {
                const float b = B.p[k * B.rs + j * B.cs]; const float *a = A.p + k * A.cs;
                for (i = 0; i < M; i++) c[i] += a[i] * b;
            }
        }
    } else {
        for (i = 0; i < M; i++) for (j = 0; j < N; j++) {
            float s = 0.0f;
            for (k = 0; k < K; k++) s += A.p[i * A.rs + k * A.cs] * B.p[k * B.rs + j * B.cs];
            C.p[i * C.rs + j * C.cs] += s;
        }
    }
}

/* The tiled kernel: B is packed, a panel of KB x 16 at a time, into a small stack buffer
   (8 KiB), then 4 rows of C x 16 columns accumulate in locals the compiler keeps in
   vector registers. No heap, no arena: measure mode stays exact. Checked against
   dl__gemm_ref in tests/test_core.c for every transpose and odd sizes. */
#define DL__GEMM_NB 16
#define DL__GEMM_KB 128
static void dl__gemm(int64_t M, int64_t N, int64_t K, dl__mat A, dl__mat B, dl__mat C, int accumulate) {
    float bp[DL__GEMM_KB * DL__GEMM_NB];
    int64_t i, j0, k0, r, kk, jj;
    if (!accumulate) for (i = 0; i < M; i++) for (jj = 0; jj < N; jj++) C.p[i * C.rs + jj * C.cs] = 0.0f;
    for (j0 = 0; j0 < N; j0 += DL__GEMM_NB) {
        int64_t nb = N - j0 < DL__GEMM_NB ? N - j0 : DL__GEMM_NB;
        for (k0 = 0; k0 < K; k0 += DL__GEMM_KB) {
            int64_t kb = K - k0 < DL__GEMM_KB ? K - k0 : DL__GEMM_KB;
            for (kk = 0; kk < kb; kk++) {
                const float *b = B.p + (k0 + kk) * B.rs + j0 * B.cs; float *d = bp + kk * DL__GEMM_NB;
                for (jj = 0; jj < nb; jj++) d[jj] = b[jj * B.cs];
                for (; jj < DL__GEMM_NB; jj++) d[jj] = 0.0f;
            }
            for (i = 0; i + 4 <= M; i += 4) {
                float acc[4][DL__GEMM_NB];
                const float *a0 = A.p + i * A.rs + k0 * A.cs, *a1 = a0 + A.rs, *a2 = a1 + A.rs, *a3 = a2 + A.rs;
                for (jj = 0; jj < DL__GEMM_NB; jj++) acc[0][jj] = acc[1][jj] = acc[2][jj] = acc[3][jj] = 0.0f;
                for (kk = 0; kk < kb; kk++) {
                    const float *b = bp + kk * DL__GEMM_NB;
                    const float x0 = a0[kk * A.cs], x1 = a1[kk * A.cs], x2 = a2[kk * A.cs], x3 = a3[kk * A.cs];
                    for (jj = 0; jj < DL__GEMM_NB; jj++) {
                        acc[0][jj] += x0 * b[jj]; acc[1][jj] += x1 * b[jj];
                        acc[2][jj] += x2 * b[jj]; acc[3][jj] += x3 * b[jj];
                    }
                }
                for (r = 0; r < 4; r++) for (jj = 0; jj < nb; jj++) C.p[(i + r) * C.rs + (j0 + jj) * C.cs] += acc[r][jj];
            }
            for (; i < M; i++) {
                float acc[DL__GEMM_NB]; const float *a = A.p + i * A.rs + k0 * A.cs;
                for (jj = 0; jj < DL__GEMM_NB; jj++) acc[jj] = 0.0f;
                for (kk = 0; kk < kb; kk++) { const float x = a[kk * A.cs]; const float *b = bp + kk * DL__GEMM_NB;
                    for (jj = 0; jj < DL__GEMM_NB; jj++) acc[jj] += x * b[jj]; }
                for (jj = 0; jj < nb; jj++) C.p[i * C.rs + (j0 + jj) * C.cs] += acc[jj];
            }
        }
    }
}


/* ======================================================================================
   >>gemm-packed  The SIMD GEMM (BLIS's loop order): for each KC slice of K and each MC
   block of rows, A's block is packed into MR-row micro-panels (in L2); for each NR-column
   micro-panel of B, packed on the fly (in L1), the micro-kernel of the ISA computes every
   MR x NR tile of the block in registers. Buffers are on the stack (about 110 KiB in a
   thread's task, about 180 KiB on the caller's thread when the context has no threads), so
   no heap and measure mode stays exact. Edge tiles go through a small local tile. A C stored
   column-major (cs == 1 fails, rs == 1) is computed as C^T = B^T A^T, and so is a small C
   narrower than one NR panel when that pads fewer lanes. Each ISA's micro-kernel
   is one function; the tests compare every available one with dl__gemm_ref.
   ====================================================================================== */
#define DL__KC 256
#define DL__MC 72                     /* a multiple of every MR (4, 6, 8)                   */
#define DL__NR_MAX 32
typedef void (*dl__ukernel)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int acc);

#if defined(DL__X86_64)
__attribute__((target("avx2,fma")))
static void dl__uk_avx2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int acc) {  /* 6 x 16 */
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    int64_t k;
    for (k = 0; k < kc; k++, a += 6, b += 16) {
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8); __m256 x;
        x = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(x, b0, c00); c01 = _mm256_fmadd_ps(x, b1, c01);
        x = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(x, b0, c10); c11 = _mm256_fmadd_ps(x, b1, c11);
        x = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(x, b0, c20); c21 = _mm256_fmadd_ps(x, b1, c21);
        x = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(x, b0, c30); c31 = _mm256_fmadd_ps(x, b1, c31);
        x = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(x, b0, c40); c41 = _mm256_fmadd_ps(x, b1, c41);
        x = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(x, b0, c50); c51 = _mm256_fmadd_ps(x, b1, c51);
    }
#define DL__ST(r, v0, v1) \
    if (acc) { v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c + r * ldc)); v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + r * ldc + 8)); } \
    _mm256_storeu_ps(c + r * ldc, v0); _mm256_storeu_ps(c + r * ldc + 8, v1);
    DL__ST(0, c00, c01) DL__ST(1, c10, c11) DL__ST(2, c20, c21) DL__ST(3, c30, c31) DL__ST(4, c40, c41) DL__ST(5, c50, c51)
#undef DL__ST
}
__attribute__((target("avx512f")))
static void dl__uk_avx512(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int acc) {  /* 6 x 32 */
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    int64_t k;
    for (k = 0; k < kc; k++, a += 6, b += 32) {
        const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16); __m512 x;
        x = _mm512_set1_ps(a[0]); c00 = _mm512_fmadd_ps(x, b0, c00); c01 = _mm512_fmadd_ps(x, b1, c01);
        x = _mm512_set1_ps(a[1]); c10 = _mm512_fmadd_ps(x, b0, c10); c11 = _mm512_fmadd_ps(x, b1, c11);
        x = _mm512_set1_ps(a[2]); c20 = _mm512_fmadd_ps(x, b0, c20); c21 = _mm512_fmadd_ps(x, b1, c21);
        x = _mm512_set1_ps(a[3]); c30 = _mm512_fmadd_ps(x, b0, c30); c31 = _mm512_fmadd_ps(x, b1, c31);
        x = _mm512_set1_ps(a[4]); c40 = _mm512_fmadd_ps(x, b0, c40); c41 = _mm512_fmadd_ps(x, b1, c41);
        x = _mm512_set1_ps(a[5]); c50 = _mm512_fmadd_ps(x, b0, c50); c51 = _mm512_fmadd_ps(x, b1, c51);
    }
#define DL__ST(r, v0, v1) \
    if (acc) { v0 = _mm512_add_ps(v0, _mm512_loadu_ps(c + r * ldc)); v1 = _mm512_add_ps(v1, _mm512_loadu_ps(c + r * ldc + 16)); } \
    _mm512_storeu_ps(c + r * ldc, v0); _mm512_storeu_ps(c + r * ldc + 16, v1);
    DL__ST(0, c00, c01) DL__ST(1, c10, c11) DL__ST(2, c20, c21) DL__ST(3, c30, c31) DL__ST(4, c40, c41) DL__ST(5, c50, c51)
#undef DL__ST
}
static void dl__uk_sse2(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int acc) {  /* 4 x 8 */
    __m128 c00 = _mm_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    int64_t k;
    for (k = 0; k < kc; k++, a += 4, b += 8) {
        const __m128 b0 = _mm_loadu_ps(b), b1 = _mm_loadu_ps(b + 4); __m128 x;
        x = _mm_set1_ps(a[0]); c00 = _mm_add_ps(c00, _mm_mul_ps(x, b0)); c01 = _mm_add_ps(c01, _mm_mul_ps(x, b1));
        x = _mm_set1_ps(a[1]); c10 = _mm_add_ps(c10, _mm_mul_ps(x, b0)); c11 = _mm_add_ps(c11, _mm_mul_ps(x, b1));
        x = _mm_set1_ps(a[2]); c20 = _mm_add_ps(c20, _mm_mul_ps(x, b0)); c21 = _mm_add_ps(c21, _mm_mul_ps(x, b1));
        x = _mm_set1_ps(a[3]); c30 = _mm_add_ps(c30, _mm_mul_ps(x, b0)); c31 = _mm_add_ps(c31, _mm_mul_ps(x, b1));
    }
#define DL__ST(r, v0, v1) \
    if (acc) { v0 = _mm_add_ps(v0, _mm_loadu_ps(c + r * ldc)); v1 = _mm_add_ps(v1, _mm_loadu_ps(c + r * ldc + 4)); } \
    _mm_storeu_ps(c + r * ldc, v0); _mm_storeu_ps(c + r * ldc + 4, v1);
    DL__ST(0, c00, c01) DL__ST(1, c10, c11) DL__ST(2, c20, c21) DL__ST(3, c30, c31)
#undef DL__ST
}
#endif

#if defined(DL__NEON64)
static void dl__uk_neon(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, int acc) {  /* 8 x 8 */
    float32x4_t v[8][2]; int64_t k; int r;
    for (r = 0; r < 8; r++) v[r][0] = v[r][1] = vdupq_n_f32(0.0f);
    for (k = 0; k < kc; k++, a += 8, b += 8) {
        const float32x4_t b0 = vld1q_f32(b), b1 = vld1q_f32(b + 4), lo = vld1q_f32(a), hi = vld1q_f32(a + 4);
#define DL__R(r, src, l) v[r][0] = vfmaq_laneq_f32(v[r][0], b0, src, l); v[r][1] = vfmaq_laneq_f32(v[r][1], b1, src, l);
        DL__R(0, lo, 0) DL__R(1, lo, 1) DL__R(2, lo, 2) DL__R(3, lo, 3)
        DL__R(4, hi, 0) DL__R(5, hi, 1) DL__R(6, hi, 2) DL__R(7, hi, 3)
#undef DL__R
    }
    for (r = 0; r < 8; r++) {
        float *p = c + r * ldc;
        if (acc) { v[r][0] = vaddq_f32(v[r][0], vld1q_f32(p)); v[r][1] = vaddq_f32(v[r][1], vld1q_f32(p + 4)); }
        vst1q_f32(p, v[r][0]); vst1q_f32(p + 4, v[r][1]);
    }
}
#endif

/* A rows [i0, i0+mc) x k [k0, k0+kc) into MR-row micro-panels: panel p holds, for each k,
   MR values a(i0 + p*MR + r, k), rows past M as zeros */
#if defined(DL__X86_64)
/* one 6-row panel of a row-major A: 8 k at a time, the 6 rows (and 2 zero rows) transposed
   in registers; each store writes 8 floats of which the last 2 are overwritten by the next
   k, so the loop stops 8 k short of the end (those go one by one) */
__attribute__((target("avx2,fma")))
static int64_t dl__pack_a6_avx(const float *s, int64_t rs, int64_t kc, float *d) {
    int64_t k;
    for (k = 0; k + 16 <= kc; k += 8) {
        const float *p = s + k; const __m256 z = _mm256_setzero_ps();
        __m256 r0 = _mm256_loadu_ps(p), r1 = _mm256_loadu_ps(p + rs), r2 = _mm256_loadu_ps(p + 2 * rs), r3 = _mm256_loadu_ps(p + 3 * rs);
        __m256 r4 = _mm256_loadu_ps(p + 4 * rs), r5 = _mm256_loadu_ps(p + 5 * rs);
        __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
        __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5), t6 = z, t7 = z;
        __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
        __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE), u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
        float *o = d + k * 6;
        _mm256_storeu_ps(o, _mm256_permute2f128_ps(u0, u4, 0x20)); _mm256_storeu_ps(o + 6, _mm256_permute2f128_ps(u1, u5, 0x20));
        _mm256_storeu_ps(o + 12, _mm256_permute2f128_ps(u2, u6, 0x20)); _mm256_storeu_ps(o + 18, _mm256_permute2f128_ps(u3, u7, 0x20));
        _mm256_storeu_ps(o + 24, _mm256_permute2f128_ps(u0, u4, 0x31)); _mm256_storeu_ps(o + 30, _mm256_permute2f128_ps(u1, u5, 0x31));
        _mm256_storeu_ps(o + 36, _mm256_permute2f128_ps(u2, u6, 0x31)); _mm256_storeu_ps(o + 42, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
    return k;
}
#endif
static void dl__pack_a(const dl__mat *A, int64_t M, int64_t i0, int64_t mc, int64_t k0, int64_t kc, int mr, int avx, float *dst) {
    int64_t p = 0, k, pf = 0; int r;
    while (pf + mr <= mc && i0 + pf + mr <= M) pf += mr;   /* rows of the full panels */
    if (A->rs == 1 && A->cs != 1) {   /* A stored column-major: MR values per k are adjacent; k outermost
                                         reads one contiguous run of A per k for all panels */
        for (k = 0; k < kc; k++) {
            const float *s = A->p + i0 + (k0 + k) * A->cs; float *d = dst + k * mr;
            for (p = 0; p < pf; p += mr) dl__vcopy(d + p * kc, s + p, mr);
        }
    }
#if defined(DL__X86_64)
    else if (avx && mr == 6 && A->cs == 1)   /* row-major A: 6 x 8 blocks transposed in registers */
        for (p = 0; p < pf; p += mr) {
            const float *s = A->p + (i0 + p) * A->rs + k0; float *d = dst + p * kc;
            for (k = dl__pack_a6_avx(s, A->rs, kc, d); k < kc; k++) for (r = 0; r < 6; r++) d[k * 6 + r] = s[r * A->rs + k];
        }
#else
    (void)avx;
#endif
    for (; p < mc; p += mr) {
        for (r = 0; r < mr; r++) {
            int64_t i = i0 + p + r; float *d = dst + p * kc + r;
            if (i < M) { const float *s = A->p + i * A->rs + k0 * A->cs; for (k = 0; k < kc; k++) d[k * mr] = s[k * A->cs]; }
            else for (k = 0; k < kc; k++) d[k * mr] = 0.0f;
        }
    }
}
/* B's k [k0, k0+kc) x columns [j0, j0+nr): for each k, NR values, columns past N as zeros */
#if defined(DL__X86_64)
/* column-major B (a transposed operand: x W^T) in 8 x 8 blocks, transposed in registers:
   columns [0, nc) (a multiple of 8) of a panel nr wide */
__attribute__((target("avx2,fma")))
static void dl__pack_bt_avx(const float *src, int64_t cs, int64_t kc, int nc, int nr, float *dst) {
    int64_t k, j, c;
    for (j = 0; j < nc; j += 8) {
        for (k = 0; k + 8 <= kc; k += 8) {
            const float *p = src + j * cs + k;
            __m256 r0 = _mm256_loadu_ps(p), r1 = _mm256_loadu_ps(p + cs), r2 = _mm256_loadu_ps(p + 2 * cs), r3 = _mm256_loadu_ps(p + 3 * cs);
            __m256 r4 = _mm256_loadu_ps(p + 4 * cs), r5 = _mm256_loadu_ps(p + 5 * cs), r6 = _mm256_loadu_ps(p + 6 * cs), r7 = _mm256_loadu_ps(p + 7 * cs);
            __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
            __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5), t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
            __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE), u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
            __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE), u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
            float *d = dst + k * nr + j;
            _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20)); _mm256_storeu_ps(d + nr, _mm256_permute2f128_ps(u1, u5, 0x20));
            _mm256_storeu_ps(d + 2 * nr, _mm256_permute2f128_ps(u2, u6, 0x20)); _mm256_storeu_ps(d + 3 * nr, _mm256_permute2f128_ps(u3, u7, 0x20));
            _mm256_storeu_ps(d + 4 * nr, _mm256_permute2f128_ps(u0, u4, 0x31)); _mm256_storeu_ps(d + 5 * nr, _mm256_permute2f128_ps(u1, u5, 0x31));
            _mm256_storeu_ps(d + 6 * nr, _mm256_permute2f128_ps(u2, u6, 0x31)); _mm256_storeu_ps(d + 7 * nr, _mm256_permute2f128_ps(u3, u7, 0x31));
        }
        for (; k < kc; k++) for (c = 0; c < 8; c++) dst[k * nr + j + c] = src[(j + c) * cs + k];
    }
}
#endif
#if defined(DL__X86_64)
/* row-major B: NR floats per k with vector moves (a memcpy call per 64 bytes costs more) */
__attribute__((target("avx2,fma")))
static void dl__pack_bn_avx(const float *src, int64_t rs, int64_t kc, int nr, float *dst) {
    int64_t k; int j;
    for (k = 0; k < kc; k++, src += rs, dst += nr)
        for (j = 0; j < nr; j += 8) _mm256_storeu_ps(dst + j, _mm256_loadu_ps(src + j));
}
#endif
static void dl__pack_b(const dl__mat *B, int64_t N, int64_t j0, int64_t k0, int64_t kc, int nr, int avx, float *dst) {
    int64_t k, j, n = N - j0 < nr ? N - j0 : nr;
#if defined(DL__X86_64)
    if (avx && B->rs == 1 && B->cs != 1) {          /* column-major: 8 x 8 blocks, then single columns */
        const int n8 = (int)(n & ~(int64_t)7);
        if (n < nr) memset(dst, 0, (size_t)(kc * nr) * sizeof(float));
        dl__pack_bt_avx(B->p + k0 + j0 * B->cs, B->cs, kc, n8, nr, dst);
        for (j = n8; j < n; j++) { const float *s = B->p + k0 + (j0 + j) * B->cs; for (k = 0; k < kc; k++) dst[k * nr + j] = s[k]; }
        return;
    }
    if (avx && n == nr && B->cs == 1) { dl__pack_bn_avx(B->p + k0 * B->rs + j0, B->rs, kc, nr, dst); return; }
#else
    (void)avx;
#endif
    for (k = 0; k < kc; k++) {
        const float *s = B->p + (k0 + k) * B->rs + j0 * B->cs; float *d = dst + k * nr;
        if (B->rs == 1 && B->cs != 1) break;        /* column-major B: below, column by column */
        if (B->cs == 1) memcpy(d, s, (size_t)n * sizeof(float));
        else for (j = 0; j < n; j++) d[j] = s[j * B->cs];
        for (j = n; j < nr; j++) d[j] = 0.0f;
    }
    if (k < kc) {
        if (n < nr) memset(dst, 0, (size_t)(kc * nr) * sizeof(float));
        for (j = 0; j < n; j++) { const float *s = B->p + k0 + (j0 + j) * B->cs; float *d = dst + j; for (k = 0; k < kc; k++) d[k * nr] = s[k]; }
    }
}
/* one task: the C block rows [i0, i0+mc) x columns [j0, j0+nc), over all of K */
typedef struct dl__gjob { int64_t M, N, K, nj, nc, mc; dl__mat A, B, C; int accumulate, mr, nr, avx, serial; dl__ukernel uk; const float *pa; } dl__gjob;
#define DL__NC 256                    /* columns per task with threads (a multiple of every NR) */
static void dl__gemm_block(const dl__gjob *g, int64_t t, float *ap) {
    float bp[DL__KC * DL__NR_MAX], tile[8 * DL__NR_MAX];
    const int mr = g->mr, nr = g->nr;
    const int64_t i0 = (t / g->nj) * g->mc, jb = (t % g->nj) * g->nc;
    const int64_t mc = g->M - i0 < g->mc ? g->M - i0 : g->mc, mcr = (mc + mr - 1) / mr * mr;
    const int64_t jend = g->N - jb < g->nc ? g->N : jb + g->nc;
    const dl__mat C = g->C;
    int64_t k0, j0, i;
    for (k0 = 0; k0 < g->K; k0 += DL__KC) {
        const int64_t kc = g->K - k0 < DL__KC ? g->K - k0 : DL__KC;
        const int acc = g->accumulate || k0 > 0;
        const float *a = ap;
        if (g->pa) a = g->pa + k0 * ((g->M + mr - 1) / mr * mr) + i0 * kc;   /* packed beforehand */
        else dl__pack_a(&g->A, g->M, i0, mcr, k0, kc, mr, g->avx, ap);
        for (j0 = jb; j0 < jend; j0 += nr) {
            const int64_t n = jend - j0 < nr ? jend - j0 : nr;
            dl__pack_b(&g->B, jend, j0, k0, kc, nr, g->avx, bp);
            for (i = 0; i < mc; i += mr) {
                const int64_t m = mc - i < mr ? mc - i : mr;
                float *c = C.p + (i0 + i) * C.rs + j0 * C.cs;
                if (m == mr && n == nr && C.cs == 1) g->uk(kc, a + i * kc, bp, c, C.rs, acc);
                else {                                   /* edge tile: through a local tile */
                    int64_t r, q;
                    g->uk(kc, a + i * kc, bp, tile, nr, 0);
                    if (C.cs == 1)
                        for (r = 0; r < m; r++) {
                            if (acc) dl__vadd(c + r * C.rs, tile + r * nr, n);
                            else memcpy(c + r * C.rs, tile + r * nr, (size_t)n * sizeof(float));
                        }
                    else
                        for (r = 0; r < m; r++) for (q = 0; q < n; q++) {
                            float *o = c + r * C.rs + q * C.cs;
                            *o = acc ? *o + tile[r * nr + q] : tile[r * nr + q];
                        }
                }
            }
        }
    }
}
/* tasks: row blocks of DL__MC (A's block, ~72 KiB, on the stack of whichever thread runs
   the task); without threads, blocks of up to DL__MC_WIDE rows (~144 KiB on the caller's
   stack), so each packed B panel serves twice the rows (a [128, K] batch packs B once, not
   twice) */
#define DL__MC_WIDE 144               /* a multiple of every MR, too                          */
static void dl__gemm_task(void *arg, int64_t t) { float ap[DL__MC * DL__KC]; dl__gemm_block((const dl__gjob *)arg, t, ap); }
static void dl__gemm_task_wide(void *arg, int64_t t) { float ap[DL__MC_WIDE * DL__KC]; dl__gemm_block((const dl__gjob *)arg, t, ap); }
/* Splits C into tasks and runs them. Each C element is summed over K in the same KC order
   whatever block holds it, so the split (which may follow the thread count) never changes
   the bits. One thread: a task spans all of N, so A's block is packed once, not once per
   DL__NC columns (4x fewer packs of a [64, K] weight against a 784-column image). serial:
   called from inside a task (a conv's image chunk), never forks. */
static void dl__gemm_run(const dl_ctx *ctx, dl__gjob *g) {
    const int fork = ctx->pfor && !g->serial; const int64_t mrows = (g->M + g->mr - 1) / g->mr * g->mr; int64_t nt, i, mb;
    g->avx = ctx->isa == DL_ISA_AVX2 || ctx->isa == DL_ISA_AVX512;
    g->nc = fork ? DL__NC : (g->N + g->nr - 1) / g->nr * g->nr;
    g->mc = ctx->pfor ? DL__MC : (mrows < DL__MC_WIDE ? mrows : DL__MC_WIDE);
    mb = (g->M + g->mc - 1) / g->mc;
    if (fork) {   /* too few blocks for the threads (x [64, 12544] W^T: one row block, N = 128):
                     narrower column blocks, down to one panel */
        const int th = dl_ctx_threads(ctx); const int64_t want = 2 * (th > 0 ? th : 4);
        if (mb * ((g->N + g->nc - 1) / g->nc) < want) {
            const int64_t per = (want + mb - 1) / mb, cols = (g->N + per - 1) / per;
            g->nc = (cols + g->nr - 1) / g->nr * g->nr;
            if (g->nc > DL__NC) g->nc = DL__NC;
        }
    }
    g->nj = (g->N + g->nc - 1) / g->nc;
    nt = mb * g->nj;
    if (!ctx->pfor) { for (i = 0; i < nt; i++) dl__gemm_task_wide(g, i); return; }
    /* a fork-join costs tens of microseconds here (waking a sleeping thread): below about
       2M multiply-adds (~30 us of one core) the caller runs the tasks alone */
    if (!fork || (double)g->M * (double)g->N * (double)g->K < 2097152.0) for (i = 0; i < nt; i++) dl__gemm_task(g, i);
    else dl__parallel(ctx, nt, dl__gemm_task, g);
}
/* Tasks are C blocks fixed by the shapes alone, each summing over K in the same order, so
   the bits do not depend on how many threads run them. */
static void dl__gemm_packed(const dl_ctx *ctx, int serial, int64_t M, int64_t N, int64_t K, dl__mat A, dl__mat B, dl__mat C,
                            int accumulate, int mr, int nr, dl__ukernel uk) {
    dl__gjob g; int64_t i, j;
    /* C^T = B^T A^T instead (the same products, summed in the same order: the same bits) for a
       column-major C, and for a small C with N under one NR panel when fewer zero-padded
       lanes are computed that way (dW [32, 9] of a 3x3 conv: 36 x 16 lanes, or 12 x 32) */
    const int64_t pad1 = (M + mr - 1) / mr * mr * ((N + nr - 1) / nr * nr), pad2 = (N + mr - 1) / mr * mr * ((M + nr - 1) / nr * nr);
    if ((C.cs != 1 && C.rs == 1) || (C.cs == 1 && N < nr && M * N <= 4096 && 4 * pad2 < 3 * pad1)) {
        dl__mat t = dl__mat_t(A); A = dl__mat_t(B); B = t; C = dl__mat_t(C); i = M; M = N; N = i;
    }
    if (M == 0 || N == 0) return;
    if (K == 0) { if (!accumulate) for (i = 0; i < M; i++) for (j = 0; j < N; j++) C.p[i * C.rs + j * C.cs] = 0.0f; return; }
    g.M = M; g.N = N; g.K = K; g.A = A; g.B = B; g.C = C; g.accumulate = accumulate; g.mr = mr; g.nr = nr; g.uk = uk; g.pa = NULL;
    g.serial = serial;
    dl__gemm_run(ctx, &g);
}
/* the micro-tile and kernel of the context's kernel set; 0 for the unpacked ones */
static int dl__isa_tile(const dl_ctx *ctx, int *mr, int *nr, dl__ukernel *uk) {
    switch (ctx->isa) {
#if defined(DL__X86_64)
    case DL_ISA_SSE2: *mr = 4; *nr = 8; *uk = dl__uk_sse2; return 1;
    case DL_ISA_AVX2: *mr = 6; *nr = 16; *uk = dl__uk_avx2; return 1;
    case DL_ISA_AVX512: *mr = 6; *nr = 32; *uk = dl__uk_avx512; return 1;
#endif
#if defined(DL__NEON64)
    case DL_ISA_NEON: *mr = 8; *nr = 8; *uk = dl__uk_neon; return 1;
#endif
    default: (void)mr; (void)nr; (void)uk; return 0;
    }
}
static void dl__gemm_isa_ex(const dl_ctx *ctx, int serial, int64_t M, int64_t N, int64_t K, dl__mat A, dl__mat B, dl__mat C, int accumulate) {
    int mr, nr; dl__ukernel uk;
    if (ctx->isa == DL_ISA_REFERENCE) dl__gemm_ref(M, N, K, A, B, C, accumulate);
    else if (dl__isa_tile(ctx, &mr, &nr, &uk)) dl__gemm_packed(ctx, serial, M, N, K, A, B, C, accumulate, mr, nr, uk);
    else dl__gemm(M, N, K, A, B, C, accumulate);
}
static void dl__gemm_isa(const dl_ctx *ctx, int64_t M, int64_t N, int64_t K, dl__mat A, dl__mat B, dl__mat C, int accumulate) {
    dl__gemm_isa_ex(ctx, 0, M, N, K, A, B, C, accumulate);
}
/* An A used for many products (an RNN's W_hh at every time step) packed once into
   dl__gemm_prepack_floats() floats (an upper bound for every kernel set, so measure-mode
   sizes do not depend on the CPU) by dl__gemm_prepack, then used by dl__gemm_isa_pa. Same
   blocks, same order of sums: the bits equal dl__gemm_isa's. Kernel sets that do not pack
   ignore the buffer and run dl__gemm_isa on A. */
static int64_t dl__gemm_prepack_floats(int64_t M, int64_t K) { return (M + 7) * K; }
static void dl__gemm_prepack(const dl_ctx *ctx, int64_t M, int64_t K, dl__mat A, float *buf) {
    int mr, nr; dl__ukernel uk; int64_t k0, i0, Mr;
    if (!dl__isa_tile(ctx, &mr, &nr, &uk)) return;
    Mr = (M + mr - 1) / mr * mr;
    for (k0 = 0; k0 < K; k0 += DL__KC) {
        const int64_t kc = K - k0 < DL__KC ? K - k0 : DL__KC;
        for (i0 = 0; i0 < M; i0 += DL__MC) {
            const int64_t mc = M - i0 < DL__MC ? M - i0 : DL__MC;
            dl__pack_a(&A, M, i0, (mc + mr - 1) / mr * mr, k0, kc, mr, ctx->isa == DL_ISA_AVX2 || ctx->isa == DL_ISA_AVX512, buf + k0 * Mr + i0 * kc);
        }
    }
}
static void dl__gemm_isa_pa_ex(const dl_ctx *ctx, int serial, int64_t M, int64_t N, int64_t K, const float *pa, dl__mat A, dl__mat B, dl__mat C, int accumulate) {
    dl__gjob g; int64_t i, j;
    if (!pa || !dl__isa_tile(ctx, &g.mr, &g.nr, &g.uk)) { dl__gemm_isa_ex(ctx, serial, M, N, K, A, B, C, accumulate); return; }
    if (M == 0 || N == 0) return;
    if (K == 0) { if (!accumulate) for (i = 0; i < M; i++) for (j = 0; j < N; j++) C.p[i * C.rs + j * C.cs] = 0.0f; return; }
    g.M = M; g.N = N; g.K = K; g.A.p = NULL; g.A.rs = g.A.cs = 0; g.B = B; g.C = C; g.accumulate = accumulate; g.pa = pa;
    g.serial = serial;
    dl__gemm_run(ctx, &g);
}
static void dl__gemm_isa_pa(const dl_ctx *ctx, int64_t M, int64_t N, int64_t K, const float *pa, dl__mat A, dl__mat B, dl__mat C, int accumulate) {
    dl__gemm_isa_pa_ex(ctx, 0, M, N, K, pa, A, B, C, accumulate);
}

/* >>op-matmul  Y = op(A) op(B), batched over a leading dim (a 2-D side is shared).
   dA = G op(B)^T (stored transposed when DL_TRANS_A), dB = op(A)^T G (likewise).   */
typedef struct dl__mm { int64_t batch, M, N, K, bsa, bsb; int ta, tb; } dl__mm;
static void dl__mm_dims(const dl_tensor *a, const dl_tensor *b, int trans, dl__mm *m) {
    int ra = a->ndim, rb = b->ndim;
    m->ta = (trans & DL_TRANS_A) != 0; m->tb = (trans & DL_TRANS_B) != 0;
    m->M = m->ta ? a->shape[ra - 1] : a->shape[ra - 2];
    m->K = m->ta ? a->shape[ra - 2] : a->shape[ra - 1];
    m->N = m->tb ? b->shape[rb - 2] : b->shape[rb - 1];
    m->batch = ra == 3 ? a->shape[0] : (rb == 3 ? b->shape[0] : 1);
    m->bsa = ra == 3 ? a->shape[1] * a->shape[2] : 0;
    m->bsb = rb == 3 ? b->shape[1] * b->shape[2] : 0;
}
static dl__mat dl__mat_of(float *p, const dl_tensor *t, int trans) {
    dl__mat m; int r = t->ndim; m.p = p; m.rs = t->shape[r - 1]; m.cs = 1;
    return trans ? dl__mat_t(m) : m;
}
static void dl__bwd_matmul(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *a = nd->in[0], *b = nd->in[1], *y = nd->out; dl__mm m; int64_t bi;
    float *ga = dl__ingrad(ctx, nd, 0), *gb = dl__ingrad(ctx, nd, 1);
    if (ctx->measure || ctx->status) return;
    dl__mm_dims(a, b, nd->iarg[0], &m);
    for (bi = 0; bi < m.batch; bi++) {
        dl__mat G; G.p = y->grad + bi * m.M * m.N; G.rs = m.N; G.cs = 1;
        if (ga) {   /* d op(A) [M,K] = G [M,N] . op(B)^T [N,K], written through op's view of dA */
            dl__mat opB = dl__mat_of(b->data + bi * m.bsb, b, m.tb);
            dl__gemm_isa(ctx, m.M, m.K, m.N, G, dl__mat_t(opB), dl__mat_of(ga + bi * m.bsa, a, m.ta), 1);
        }
        if (gb) {   /* d op(B) [K,N] = op(A)^T [K,M] . G [M,N] */
            dl__mat opA = dl__mat_of(a->data + bi * m.bsa, a, m.ta);
            dl__gemm_isa(ctx, m.K, m.N, m.M, dl__mat_t(opA), G, dl__mat_of(gb + bi * m.bsb, b, m.tb), 1);
        }
    }
}
DL__API dl_tensor *dl_matmul_ex(dl_ctx *ctx, dl_tensor *a, dl_tensor *b, int trans) {
    dl_tensor *y, *ab[2]; dl__mm m; int64_t bi, kb; dl__node *nd;
    DL__ENTER(ctx, "dl_matmul");
    if (!dl__arg(ctx, a, 1, DL_F32) || !dl__arg(ctx, b, 2, DL_F32)) return &ctx->poison;
    if (a->ndim < 2 || a->ndim > 3 || b->ndim < 2 || b->ndim > 3)
        return dl__fail2(ctx, DL_STATUS_SHAPE, "operands must be 2-D or 3-D: a%T b%T", DL__A(a), DL__A(b));
    if (trans & ~(DL_TRANS_A | DL_TRANS_B))
        return dl__fail1(ctx, DL_STATUS_INVALID, "unknown trans flags %d", DL__A(&trans));
    dl__mm_dims(a, b, trans, &m);
    kb = m.tb ? b->shape[b->ndim - 1] : b->shape[b->ndim - 2];
    if (m.K != kb) return dl__fail2(ctx, DL_STATUS_SHAPE, "inner dims differ: a%T b%T", DL__A(a), DL__A(b));
    if (a->ndim == 3 && b->ndim == 3 && a->shape[0] != b->shape[0])
        return dl__fail2(ctx, DL_STATUS_SHAPE, "batch sizes differ: a%T b%T", DL__A(a), DL__A(b));
    ab[0] = dl__contig(ctx, a); ab[1] = dl__contig(ctx, b);
    y = (a->ndim == 3 || b->ndim == 3) ? dl__new(ctx, dl_shape3(m.batch, m.M, m.N), DL_F32, 1)
                                       : dl__new(ctx, dl_shape2(m.M, m.N), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp)
        for (bi = 0; bi < m.batch; bi++) {
            dl__mat C; C.p = y->data + bi * m.M * m.N; C.rs = m.N; C.cs = 1;
            dl__gemm_isa(ctx, m.M, m.N, m.K, dl__mat_of(ab[0]->data + bi * m.bsa, ab[0], m.ta),
                         dl__mat_of(ab[1]->data + bi * m.bsb, ab[1], m.tb), C, 0);
        }
    nd = dl__record(ctx, DL__OP_matmul, y, ab, 2);
    if (nd) nd->iarg[0] = trans;
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_matmul(dl_ctx *ctx, dl_tensor *a, dl_tensor *b) { return dl_matmul_ex(ctx, a, b, 0); }

/* ======================================================================================
   >>ops-reduce  over any set of axes. Input made contiguous; the kept dims and the reduced
   dims each walk with an odometer; sums accumulate in double.
   ====================================================================================== */
typedef struct dl__red {
    int nk, nr;
    int64_t kshape[DL_MAX_DIMS], kst[1][DL_MAX_DIMS], rshape[DL_MAX_DIMS], rst[1][DL_MAX_DIMS];
    int64_t kcount, rcount;
} dl__red;
static void dl__red_setup(dl__red *r, const dl_tensor *x, unsigned mask) {
    int d;
    r->nk = r->nr = 0; r->kcount = r->rcount = 1;
    for (d = 0; d < x->ndim; d++) {
        if (mask & (1u << d)) { r->rshape[r->nr] = x->shape[d]; r->rst[0][r->nr++] = x->stride[d]; r->rcount *= x->shape[d]; }
        else { r->kshape[r->nk] = x->shape[d]; r->kst[0][r->nk++] = x->stride[d]; r->kcount *= x->shape[d]; }
    }
}
/* offsets of the reduced elements of output o: filled into offs[rcount] */
/* offsets of a strided block in odometer order, a whole innermost row per odometer step */
static void dl__block_offsets(int nd, const int64_t *shape, const int64_t *stride, int64_t count, int64_t base, int64_t *offs) {
    dl__odo o; int64_t i = 0, j, L, s, off[1]; int64_t st[1][DL_MAX_DIMS]; int d;
    if (nd == 0) { if (count) offs[0] = base; return; }
    for (d = 0; d < nd; d++) st[0][d] = stride[d];
    L = shape[nd - 1]; s = stride[nd - 1];
    if (L <= 0) return;
    off[0] = base; dl__odo_init(&o, nd - 1, shape);
    while (i < count) { for (j = 0; j < L; j++) offs[i + j] = off[0] + j * s; i += L; dl__odo_next(&o, 1, off, st); }
}
static void dl__red_offsets(const dl__red *r, int64_t base, int64_t *offs) {
    dl__block_offsets(r->nr, r->rshape, r->rst[0], r->rcount, base, offs);
}
/* base offsets of every output element, in output order */
static void dl__red_bases(const dl__red *r, int64_t *bases) {
    dl__block_offsets(r->nk, r->kshape, r->kst[0], r->kcount, 0, bases);
}
enum { DL__R_SUM, DL__R_MEAN, DL__R_MAX, DL__R_VAR, DL__R_LSE };
/* one output element of each reduction */
static float dl__reduce_one(int kind, const float *x, const int64_t *offs, int64_t n, int corr) {
    int64_t i; double s = 0.0, m;
    switch (kind) {
    case DL__R_SUM: for (i = 0; i < n; i++) s += (double)x[offs[i]]; return (float)s;
    case DL__R_MEAN: for (i = 0; i < n; i++) s += (double)x[offs[i]]; return (float)(s / (double)n);
    case DL__R_MAX: { float v = x[offs[0]]; for (i = 1; i < n; i++) { float t = x[offs[i]]; if (t > v || t != t) v = t; if (v != v) break; } return v; }
    case DL__R_VAR:
        for (i = 0; i < n; i++) s += (double)x[offs[i]];
        m = s / (double)n; s = 0.0;
        for (i = 0; i < n; i++) { double dd = (double)x[offs[i]] - m; s += dd * dd; }
        return (float)(s / (double)(n - corr));
    case DL__R_LSE: {
        float v = x[offs[0]]; for (i = 1; i < n; i++) if (x[offs[i]] > v) v = x[offs[i]];
        if (v == -INFINITY || v == INFINITY || v != v) return v;
        for (i = 0; i < n; i++) s += exp((double)(x[offs[i]] - v));
        return (float)((double)v + log(s));
    }
    default: return 0.0f;
    }
}
static const int dl__red_op[] = { DL__OP_sum, DL__OP_mean, DL__OP_max, DL__OP_var, DL__OP_logsumexp };
static dl_tensor *dl__reduce(dl_ctx *ctx, int kind, dl_tensor *x, unsigned mask, int corr, int keepdim) {
    dl_tensor *y; dl_shape s; dl__red r; int d; dl__node *nd;
    ctx->op = dl__op_name(dl__red_op[kind]);
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim < 32 && (mask >> x->ndim) != 0) {
        int bad = (int)mask;
        return dl__fail2(ctx, DL_STATUS_AXIS, "axis mask %d has axes beyond %T", DL__A(&bad), DL__A(x));
    }
    x = dl__contig(ctx, x);
    dl__red_setup(&r, x, mask);
    if ((kind == DL__R_MAX || kind == DL__R_LSE) && r.rcount == 0)
        return dl__fail1(ctx, DL_STATUS_SHAPE, "reduction over an empty axis of %T", DL__A(x));
    if (kind == DL__R_VAR && r.rcount - corr <= 0) {
        return dl__fail2(ctx, DL_STATUS_SHAPE, "var of %T needs more than %d elements per group", DL__A(x), DL__A(&corr));
    }
    s.ndim = 0;
    for (d = 0; d < x->ndim; d++) {
        if (!(mask & (1u << d))) s.d[s.ndim++] = x->shape[d];
        else if (keepdim) s.d[s.ndim++] = 1;
    }
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        int64_t o, *offs, *bases; int okk;
        dl_mark mk = dl_ctx_mark(ctx);
        offs = (int64_t *)dl__alloc(ctx, sizeof(int64_t) * (size_t)(r.rcount ? r.rcount : 1), 0, &okk);
        bases = okk ? (int64_t *)dl__alloc(ctx, sizeof(int64_t) * (size_t)(r.kcount ? r.kcount : 1), 0, &okk) : NULL;
        if (!okk) return &ctx->poison;
        dl__red_bases(&r, bases);
        for (o = 0; o < r.kcount; o++) {
            dl__red_offsets(&r, bases[o], offs);
            y->data[o] = dl__reduce_one(kind, x->data, offs, r.rcount, corr);
        }
        dl_ctx_rewind(ctx, mk);
    } else {   /* measure: the same temporary the real run takes, then returns */
        int okk; dl_mark mk = dl_ctx_mark(ctx);
        dl__alloc(ctx, sizeof(int64_t) * (size_t)(r.rcount ? r.rcount : 1), 0, &okk);
        if (okk) dl__alloc(ctx, sizeof(int64_t) * (size_t)(r.kcount ? r.kcount : 1), 0, &okk);
        if (!okk) return &ctx->poison;
        dl_ctx_rewind(ctx, mk);
    }
    nd = dl__record(ctx, dl__red_op[kind], y, &x, 1);
    if (nd) { nd->iarg[0] = (int)mask; nd->iarg[1] = corr; }
    return dl__done(ctx, y);
}
/* the shared backward: dx[offs] += g[o] * d(reduce)/dx */
static void dl__bwd_reduce(dl_ctx *ctx, dl__node *nd, int kind) {
    dl_tensor *x = nd->in[0], *y = nd->out; dl__red r; int64_t o, i, *offs, *bases; int okk;
    float *gx = dl__ingrad(ctx, nd, 0); dl_mark mk;
    if (!dl__needs(nd, 0)) return;
    dl__red_setup(&r, x, (unsigned)nd->iarg[0]);
    mk = dl_ctx_mark(ctx);
    offs = (int64_t *)dl__alloc(ctx, sizeof(int64_t) * (size_t)(r.rcount ? r.rcount : 1), 0, &okk);
    bases = okk ? (int64_t *)dl__alloc(ctx, sizeof(int64_t) * (size_t)(r.kcount ? r.kcount : 1), 0, &okk) : NULL;
    if (!okk || ctx->measure || !gx) { dl_ctx_rewind(ctx, mk); return; }
    dl__red_bases(&r, bases);
    for (o = 0; o < r.kcount; o++) {
        const float g = y->grad[o], v = y->data[o]; double mean = 0.0;
        dl__red_offsets(&r, bases[o], offs);
        switch (kind) {
        case DL__R_SUM: for (i = 0; i < r.rcount; i++) gx[offs[i]] += g; break;
        case DL__R_MEAN: { float gm = g / (float)r.rcount; for (i = 0; i < r.rcount; i++) gx[offs[i]] += gm; } break;
        case DL__R_MAX: for (i = 0; i < r.rcount; i++) if (x->data[offs[i]] == v || v != v) { gx[offs[i]] += g; break; } break;
        case DL__R_VAR:
            for (i = 0; i < r.rcount; i++) mean += (double)x->data[offs[i]];
            mean /= (double)r.rcount;
            for (i = 0; i < r.rcount; i++)
                gx[offs[i]] += (float)((double)g * 2.0 * ((double)x->data[offs[i]] - mean) / (double)(r.rcount - nd->iarg[1]));
            break;
        case DL__R_LSE: for (i = 0; i < r.rcount; i++) gx[offs[i]] += g * expf(x->data[offs[i]] - v); break;
        default: break;
        }
    }
    dl_ctx_rewind(ctx, mk);
}
static void dl__bwd_sum(dl_ctx *ctx, dl__node *nd) { dl__bwd_reduce(ctx, nd, DL__R_SUM); }
static void dl__bwd_mean(dl_ctx *ctx, dl__node *nd) { dl__bwd_reduce(ctx, nd, DL__R_MEAN); }
static void dl__bwd_max(dl_ctx *ctx, dl__node *nd) { dl__bwd_reduce(ctx, nd, DL__R_MAX); }
static void dl__bwd_var(dl_ctx *ctx, dl__node *nd) { dl__bwd_reduce(ctx, nd, DL__R_VAR); }
static void dl__bwd_logsumexp(dl_ctx *ctx, dl__node *nd) { dl__bwd_reduce(ctx, nd, DL__R_LSE); }

static unsigned dl__axis_mask(dl_ctx *ctx, dl_tensor *x, int axis, int *ok) {
    int a;
    *ok = 0;
    if (!dl__arg(ctx, x, 1, DL_F32)) return 0;
    a = dl__axis(ctx, axis, x->ndim, x);
    if (a < 0) return 0;
    *ok = 1;
    return 1u << a;
}
static unsigned dl__all_mask(const dl_tensor *x) { return (x && !(x->flags & DL__F_POISON) && x->ndim > 0) ? (1u << x->ndim) - 1u : 0u; }
#define DL__REDUCE_API(name, KIND) \
    DL__API dl_tensor *dl_##name(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim) { \
        int ok; unsigned m; DL__ENTER(ctx, "dl_" #name); m = dl__axis_mask(ctx, x, axis, &ok); \
        return ok ? dl__reduce(ctx, KIND, x, m, 0, keepdim) : &ctx->poison; } \
    DL__API dl_tensor *dl_##name##_axes(dl_ctx *ctx, dl_tensor *x, unsigned axes, int keepdim) { \
        DL__ENTER(ctx, "dl_" #name); return dl__reduce(ctx, KIND, x, axes, 0, keepdim); } \
    DL__API dl_tensor *dl_##name##_all(dl_ctx *ctx, dl_tensor *x) { \
        DL__ENTER(ctx, "dl_" #name); return dl__reduce(ctx, KIND, x, dl__all_mask(x), 0, 0); }
DL__REDUCE_API(sum, DL__R_SUM)     /* dl_sum, dl_sum_axes, dl_sum_all      */
DL__REDUCE_API(mean, DL__R_MEAN)   /* dl_mean, dl_mean_axes, dl_mean_all   */
DL__REDUCE_API(max, DL__R_MAX)     /* dl_max, dl_max_axes, dl_max_all      */
DL__API dl_tensor *dl_var(dl_ctx *ctx, dl_tensor *x, int axis, int correction, int keepdim) {
    int ok; unsigned m; DL__ENTER(ctx, "dl_var"); m = dl__axis_mask(ctx, x, axis, &ok);
    if (ok && correction < 0) return dl__fail1(ctx, DL_STATUS_INVALID, "correction %d < 0", DL__A(&correction));
    return ok ? dl__reduce(ctx, DL__R_VAR, x, m, correction, keepdim) : &ctx->poison;
}
DL__API dl_tensor *dl_var_axes(dl_ctx *ctx, dl_tensor *x, unsigned axes, int correction, int keepdim) {
    DL__ENTER(ctx, "dl_var");
    if (correction < 0) return dl__fail1(ctx, DL_STATUS_INVALID, "correction %d < 0", DL__A(&correction));
    return dl__reduce(ctx, DL__R_VAR, x, axes, correction, keepdim);
}
DL__API dl_tensor *dl_logsumexp(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim) {
    int ok; unsigned m; DL__ENTER(ctx, "dl_logsumexp"); m = dl__axis_mask(ctx, x, axis, &ok);
    return ok ? dl__reduce(ctx, DL__R_LSE, x, m, 0, keepdim) : &ctx->poison;
}
/* argmax: index of the first maximal element along axis (no gradient) */
DL__API dl_tensor *dl_argmax(dl_ctx *ctx, dl_tensor *x, int axis, int keepdim) {
    dl_tensor *y; dl_shape s; int a, d; int64_t outer = 1, inner = 1, n, o, i, j;
    DL__ENTER(ctx, "dl_argmax");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    a = dl__axis(ctx, axis, x->ndim, x);
    if (a < 0) return &ctx->poison;
    if (x->shape[a] == 0) return dl__fail1(ctx, DL_STATUS_SHAPE, "argmax over an empty axis of %T", DL__A(x));
    x = dl__contig(ctx, x);
    s.ndim = 0;
    for (d = 0; d < x->ndim; d++) {
        if (d < a) outer *= x->shape[d]; else if (d > a) inner *= x->shape[d];
        if (d != a) s.d[s.ndim++] = x->shape[d]; else if (keepdim) s.d[s.ndim++] = 1;
    }
    n = x->shape[a];
    y = dl__new(ctx, s, DL_I32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->measure && (!ctx->nocomp || dl__pull(x))) {   /* on the host: download x, upload y */
        for (o = 0; o < outer; o++) for (j = 0; j < inner; j++) {
            const float *p = x->data + o * n * inner + j; int64_t best = 0; float bv = p[0];
            for (i = 1; i < n && bv == bv; i++) if (p[i * inner] > bv || p[i * inner] != p[i * inner]) { bv = p[i * inner]; best = i; }
            y->idata[o * inner + j] = (int32_t)best;
        }
        dl__push(ctx, y);
    }
    return dl__done(ctx, y);
}

/* >>op-softmax  along one axis, as [outer, n, inner]:
   softmax: y = e^(x-m) / sum e^(x-m);     dx = y * (g - sum(g*y))
   log_softmax: y = x - m - log sum e^(x-m); dx = g - e^y * sum(g)                    */
static void dl__softmax_dims(const dl_tensor *x, int a, int64_t *outer, int64_t *n, int64_t *inner) {
    int d; *outer = 1; *inner = 1; *n = x->shape[a];
    for (d = 0; d < a; d++) *outer *= x->shape[d];
    for (d = a + 1; d < x->ndim; d++) *inner *= x->shape[d];
}
static void dl__softmax_fwd(const float *x, float *y, int64_t outer, int64_t n, int64_t inner, int logsm) {
    int64_t o, i, j;
    for (o = 0; o < outer; o++) for (j = 0; j < inner; j++) {
        const float *p = x + o * n * inner + j; float *q = y + o * n * inner + j; float m = p[0]; double s = 0.0;
        for (i = 1; i < n; i++) if (p[i * inner] > m) m = p[i * inner];
        if (logsm) {
            float ls;
            for (i = 0; i < n; i++) s += exp((double)(p[i * inner] - m));
            ls = (float)log(s);
            for (i = 0; i < n; i++) q[i * inner] = (p[i * inner] - m) - ls;
        } else {                      /* e^(x-m) once, kept in y, then scaled */
            double r;
            for (i = 0; i < n; i++) { double e = exp((double)(p[i * inner] - m)); q[i * inner] = (float)e; s += e; }
            r = 1.0 / s;
            for (i = 0; i < n; i++) q[i * inner] = (float)((double)q[i * inner] * r);
        }
    }
}
static void dl__softmax_bwd(dl_ctx *ctx, dl__node *nd, int logsm) {
    dl_tensor *y = nd->out; float *gx = dl__ingrad(ctx, nd, 0); int64_t outer, n, inner, o, i, j;
    if (!gx || ctx->measure) return;
    dl__softmax_dims(y, nd->iarg[0], &outer, &n, &inner);
    for (o = 0; o < outer; o++) for (j = 0; j < inner; j++) {
        int64_t b = o * n * inner + j; const float *yy = y->data + b, *g = y->grad + b; float *gg = gx + b; double s = 0.0;
        if (logsm) { for (i = 0; i < n; i++) s += (double)g[i * inner];
                     for (i = 0; i < n; i++) gg[i * inner] += g[i * inner] - expf(yy[i * inner]) * (float)s; }
        else { for (i = 0; i < n; i++) s += (double)g[i * inner] * (double)yy[i * inner];
               for (i = 0; i < n; i++) gg[i * inner] += yy[i * inner] * (g[i * inner] - (float)s); }
    }
}
static void dl__bwd_softmax(dl_ctx *ctx, dl__node *nd) { dl__softmax_bwd(ctx, nd, 0); }
static void dl__bwd_log_softmax(dl_ctx *ctx, dl__node *nd) { dl__softmax_bwd(ctx, nd, 1); }
static dl_tensor *dl__softmax(dl_ctx *ctx, dl_tensor *x, int axis, int logsm) {
    dl_tensor *y; int a; int64_t outer, n, inner; dl__node *nd;
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    a = dl__axis(ctx, axis, x->ndim, x);
    if (a < 0) return &ctx->poison;
    x = dl__contig(ctx, x);
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    dl__softmax_dims(x, a, &outer, &n, &inner);
    if (!ctx->nocomp && n > 0) dl__softmax_fwd(x->data, y->data, outer, n, inner, logsm);
    nd = dl__record(ctx, logsm ? DL__OP_log_softmax : DL__OP_softmax, y, &x, 1);
    if (nd) nd->iarg[0] = a;
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_softmax(dl_ctx *ctx, dl_tensor *x, int axis) { DL__ENTER(ctx, "dl_softmax"); return dl__softmax(ctx, x, axis, 0); }
DL__API dl_tensor *dl_log_softmax(dl_ctx *ctx, dl_tensor *x, int axis) { DL__ENTER(ctx, "dl_log_softmax"); return dl__softmax(ctx, x, axis, 1); }

/* ======================================================================================
   >>ops-shape  views share storage. A view's backward adds its gradient into the input's
   gradient at base + sum(idx_i * vst_i), with vst the view's strides over the input's
   contiguous (logical) layout, so one backward serves reshape, permute and slice.
   ====================================================================================== */
static dl_tensor *dl__view(dl_ctx *ctx, dl_tensor *x, dl_shape s, const int64_t *st, int64_t data_off,
                           int64_t lbase, const int64_t *lst) {
    dl_tensor *y = dl__new(ctx, s, DL_F32, 0); dl__node *nd; int d;
    if (ctx->status) return &ctx->poison;
    for (d = 0; d < s.ndim; d++) y->stride[d] = st[d];
    y->data = x->data ? x->data + data_off : NULL;
    nd = dl__record(ctx, DL__OP_view, y, &x, 1);
    if (nd) { nd->larg[0] = lbase; for (d = 0; d < s.ndim; d++) nd->larg[1 + d] = lst[d]; }
    return dl__done(ctx, y);
}
static void dl__bwd_view(dl_ctx *ctx, dl__node *nd) {
    float *gx = dl__ingrad(ctx, nd, 0); const float *g = nd->out->grad; dl__odo o;
    int64_t i, off[1], st[1][DL_MAX_DIMS]; int d;
    if (!gx || !g) return;
    for (d = 0; d < nd->out->ndim; d++) st[0][d] = nd->larg[1 + d];
    off[0] = nd->larg[0];
    if (nd->out->ndim > 0 && st[0][nd->out->ndim - 1] == 1 && nd->out->shape[nd->out->ndim - 1] > 1) {   /* whole rows */
        const int64_t L = nd->out->shape[nd->out->ndim - 1];
        dl__odo_init(&o, nd->out->ndim - 1, nd->out->shape);
        for (i = 0; i < nd->out->numel; i += L) { dl__vadd(gx + off[0], g + i, L); dl__odo_next(&o, 1, off, st); }
        return;
    }
    dl__odo_init(&o, nd->out->ndim, nd->out->shape);
    for (i = 0; i < nd->out->numel; i++) { gx[off[0]] += g[i]; dl__odo_next(&o, 1, off, st); }
}
static void dl__contig_strides_of(const dl_shape *s, int64_t *st) {
    int d; int64_t k = 1; for (d = s->ndim - 1; d >= 0; d--) { st[d] = k; k *= s->d[d]; }
}
DL__API dl_tensor *dl_reshape(dl_ctx *ctx, dl_tensor *x, dl_shape s) {
    int d, infer = -1; int64_t n = 1, st[DL_MAX_DIMS];
    DL__ENTER(ctx, "dl_reshape");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (s.ndim < 0 || s.ndim > DL_MAX_DIMS) return dl__fail1(ctx, DL_STATUS_SHAPE, "%d dimensions requested", DL__A(&s.ndim));
    for (d = 0; d < s.ndim; d++) {
        if (s.d[d] == -1 && infer < 0) infer = d;
        else if (s.d[d] < 0) return dl__fail2(ctx, DL_STATUS_SHAPE, "bad size %I for dimension %d", DL__A(&s.d[d]), DL__A(&d));
        else n *= s.d[d];
    }
    if (infer >= 0) {
        if (n == 0 || x->numel % n) return dl__fail1(ctx, DL_STATUS_SHAPE, "cannot infer -1 for %T", DL__A(x));
        s.d[infer] = x->numel / n; n = x->numel;
    }
    if (n != x->numel) {
        dl_tensor tmp; memset(&tmp, 0, sizeof tmp); tmp.ndim = s.ndim; for (d = 0; d < s.ndim; d++) tmp.shape[d] = s.d[d];
        return dl__fail2(ctx, DL_STATUS_SHAPE, "cannot reshape %T to %T (element counts differ)", DL__A(x), DL__A(&tmp));
    }
    x = dl__contig(ctx, x);
    if (ctx->status) return &ctx->poison;
    dl__contig_strides_of(&s, st);
    return dl__view(ctx, x, s, st, 0, 0, st);
}
DL__API dl_tensor *dl_flatten(dl_ctx *ctx, dl_tensor *x, int start, int end) {
    dl_shape s; int a, b, d;
    DL__ENTER(ctx, "dl_flatten");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim == 0) return dl_reshape(ctx, x, dl_shape1(1));
    if ((a = dl__axis(ctx, start, x->ndim, x)) < 0 || (b = dl__axis(ctx, end, x->ndim, x)) < 0) return &ctx->poison;
    if (a > b) return dl__fail2(ctx, DL_STATUS_AXIS, "start %d after end %d", DL__A(&start), DL__A(&end));
    s.ndim = 0;
    for (d = 0; d < x->ndim; d++) {
        if (d <= a || d > b) s.d[s.ndim++] = x->shape[d];
        else s.d[s.ndim - 1] *= x->shape[d];
    }
    return dl_reshape(ctx, x, s);
}
DL__API dl_tensor *dl_squeeze(dl_ctx *ctx, dl_tensor *x, int axis) {
    dl_shape s; int a, d;
    DL__ENTER(ctx, "dl_squeeze");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if ((a = dl__axis(ctx, axis, x->ndim, x)) < 0) return &ctx->poison;
    if (x->shape[a] != 1) return dl__fail2(ctx, DL_STATUS_SHAPE, "axis %d of %T is not of size 1", DL__A(&axis), DL__A(x));
    s.ndim = 0;
    for (d = 0; d < x->ndim; d++) if (d != a) s.d[s.ndim++] = x->shape[d];
    return dl_reshape(ctx, x, s);
}
DL__API dl_tensor *dl_unsqueeze(dl_ctx *ctx, dl_tensor *x, int axis) {
    dl_shape s; int a, d;
    DL__ENTER(ctx, "dl_unsqueeze");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim >= DL_MAX_DIMS) return dl__fail1(ctx, DL_STATUS_SHAPE, "%T already has the most dimensions", DL__A(x));
    if ((a = dl__axis(ctx, axis, x->ndim + 1, x)) < 0) return &ctx->poison;
    s.ndim = 0;
    for (d = 0; d <= x->ndim; d++) { if (d == a) s.d[s.ndim++] = 1; if (d < x->ndim) s.d[s.ndim++] = x->shape[d]; }
    return dl_reshape(ctx, x, s);
}
DL__API dl_tensor *dl_permute(dl_ctx *ctx, dl_tensor *x, const int *perm) {
    dl_shape s; int64_t st[DL_MAX_DIMS], lst[DL_MAX_DIMS], cst[DL_MAX_DIMS]; int d, seen = 0;
    DL__ENTER(ctx, "dl_permute");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (!perm && x->ndim) return dl__fail0(ctx, DL_STATUS_INVALID, "perm is NULL");
    for (d = 0; d < x->ndim; d++) {
        int p = perm[d] < 0 ? perm[d] + x->ndim : perm[d];
        if (p < 0 || p >= x->ndim || (seen & (1 << p)))
            return dl__fail1(ctx, DL_STATUS_AXIS, "perm is not a permutation of the axes of %T", DL__A(x));
        seen |= 1 << p;
    }
    s = dl_shape_of(x);
    dl__contig_strides_of(&s, cst);
    for (d = 0; d < x->ndim; d++) {
        int p = perm[d] < 0 ? perm[d] + x->ndim : perm[d];
        s.d[d] = x->shape[p]; st[d] = x->stride[p]; lst[d] = cst[p];
    }
    return dl__view(ctx, x, s, st, 0, 0, lst);
}
DL__API dl_tensor *dl_transpose(dl_ctx *ctx, dl_tensor *x, int d0, int d1) {
    int perm[DL_MAX_DIMS], d, a, b;
    DL__ENTER(ctx, "dl_transpose");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if ((a = dl__axis(ctx, d0, x->ndim, x)) < 0 || (b = dl__axis(ctx, d1, x->ndim, x)) < 0) return &ctx->poison;
    for (d = 0; d < x->ndim; d++) perm[d] = d;
    perm[a] = b; perm[b] = a;
    return dl_permute(ctx, x, perm);
}
DL__API dl_tensor *dl_slice(dl_ctx *ctx, dl_tensor *x, int axis, int64_t start, int64_t end, int64_t step) {
    dl_shape s; int64_t st[DL_MAX_DIMS], lst[DL_MAX_DIMS], n; int a, d;
    DL__ENTER(ctx, "dl_slice");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if ((a = dl__axis(ctx, axis, x->ndim, x)) < 0) return &ctx->poison;
    if (step <= 0) return dl__fail1(ctx, DL_STATUS_INVALID, "step %I must be positive", DL__A(&step));
    n = x->shape[a];
    if (start < 0) start += n;
    if (end < 0) end += n;
    if (start < 0) start = 0;
    if (end > n) end = n;
    if (start > n) start = n;
    if (end < start) end = start;
    s = dl_shape_of(x);
    dl__contig_strides_of(&s, lst);
    s.d[a] = (end - start + step - 1) / step;
    for (d = 0; d < x->ndim; d++) st[d] = x->stride[d];
    st[a] *= step;
    {   int64_t lb = start * lst[a];
        lst[a] *= step;
        return dl__view(ctx, x, s, st, start * x->stride[a], lb, lst); }
}
DL__API dl_tensor *dl_detach(dl_ctx *ctx, dl_tensor *x) {
    dl_tensor *y; int d;
    DL__ENTER(ctx, "dl_detach");
    if (ctx->status || !x) { if (!x) dl__fail0(ctx, DL_STATUS_INVALID, "argument 1 is NULL"); return &ctx->poison; }
    if (x->flags & DL__F_POISON) return &ctx->poison;
    y = dl__new(ctx, dl_shape_of(x), x->dtype, 0);
    if (ctx->status) return &ctx->poison;
    for (d = 0; d < x->ndim; d++) y->stride[d] = x->stride[d];
    y->data = x->data; y->idata = x->idata;
    return y;
}

/* >>op-concat  y = [x0 | x1 | ...] along axis; dx_i += its slab of g */
static void dl__concat_dims(const dl_tensor *y, int a, int64_t *outer, int64_t *inner) {
    int d; *outer = 1; *inner = 1;
    for (d = 0; d < a; d++) *outer *= y->shape[d];
    for (d = a + 1; d < y->ndim; d++) *inner *= y->shape[d];
}
static void dl__bwd_concat(dl_ctx *ctx, dl__node *nd) {
    int a = nd->iarg[0], i; int64_t outer, inner, o, pos = 0, ny = nd->out->shape[a];
    if (ctx->measure) { for (i = 0; i < nd->nin; i++) dl__ingrad(ctx, nd, i); return; }
    dl__concat_dims(nd->out, a, &outer, &inner);
    for (i = 0; i < nd->nin; i++) {
        dl_tensor *x = nd->in[i]; float *gx = dl__ingrad(ctx, nd, i); int64_t w = x->shape[a] * inner, k;
        if (gx) for (o = 0; o < outer; o++) {
            const float *g = nd->out->grad + (o * ny * inner) + pos * inner; float *gg = gx + o * w;
            for (k = 0; k < w; k++) gg[k] += g[k];
        }
        pos += x->shape[a];
    }
}
DL__API dl_tensor *dl_concat(dl_ctx *ctx, dl_tensor *const *xs, int n, int axis) {
    dl_tensor **in, *y; dl_shape s; int i, a, d, ok; int64_t outer, inner, o, pos;
    DL__ENTER(ctx, "dl_concat");
    if (ctx->status) return &ctx->poison;
    if (!xs || n <= 0) return dl__fail1(ctx, DL_STATUS_INVALID, "needs at least one tensor (n = %d)", DL__A(&n));
    for (i = 0; i < n; i++) if (!dl__arg(ctx, xs[i], i + 1, DL_F32)) return &ctx->poison;
    if ((a = dl__axis(ctx, axis, xs[0]->ndim, xs[0])) < 0) return &ctx->poison;
    s = dl_shape_of(xs[0]); s.d[a] = 0;
    for (i = 0; i < n; i++) {
        if (xs[i]->ndim != xs[0]->ndim) return dl__fail2(ctx, DL_STATUS_SHAPE, "ranks differ: %T and %T", DL__A(xs[0]), DL__A(xs[i]));
        for (d = 0; d < s.ndim; d++)
            if (d != a && xs[i]->shape[d] != xs[0]->shape[d])
                return dl__fail3(ctx, DL_STATUS_SHAPE, "%T and %T differ off axis %d", DL__A(xs[0]), DL__A(xs[i]), DL__A(&axis));
        s.d[a] += xs[i]->shape[a];
    }
    in = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)n, 1, &ok);
    if (!ok) return &ctx->poison;
    for (i = 0; i < n; i++) { in[i] = dl__contig(ctx, xs[i]); }
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        dl__concat_dims(y, a, &outer, &inner);
        for (i = 0, pos = 0; i < n; i++) {
            int64_t w = in[i]->shape[a] * inner;
            for (o = 0; o < outer; o++) if (w) memcpy(y->data + o * s.d[a] * inner + pos * inner, in[i]->data + o * w, (size_t)w * sizeof(float));
            pos += in[i]->shape[a];
        }
    }
    {   dl__node *nd = dl__record(ctx, DL__OP_concat, y, in, n);
        if (nd) nd->iarg[0] = a; }
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_stack(dl_ctx *ctx, dl_tensor *const *xs, int n, int axis) {
    dl_tensor **u, *y; int i, ok, a;
    DL__ENTER(ctx, "dl_stack");
    if (ctx->status) return &ctx->poison;
    if (!xs || n <= 0) return dl__fail1(ctx, DL_STATUS_INVALID, "needs at least one tensor (n = %d)", DL__A(&n));
    for (i = 0; i < n; i++) if (!dl__arg(ctx, xs[i], i + 1, DL_F32)) return &ctx->poison;
    for (i = 1; i < n; i++) if (!dl_same_shape(xs[0], xs[i]))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "shapes differ: %T and %T", DL__A(xs[0]), DL__A(xs[i]));
    if ((a = dl__axis(ctx, axis, xs[0]->ndim + 1, xs[0])) < 0) return &ctx->poison;
    u = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)n, 1, &ok);
    if (!ok) return &ctx->poison;
    for (i = 0; i < n; i++) u[i] = dl_unsqueeze(ctx, xs[i], a);
    y = dl_concat(ctx, u, n, a);
    ctx->op = "dl_stack";
    return y;
}
DL__API dl_status dl_split(dl_ctx *ctx, dl_tensor *x, int axis, const int64_t *sizes, int n, dl_tensor **out) {
    int a, i; int64_t tot = 0, pos = 0;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_split";
    if (out) for (i = 0; i < n; i++) out[i] = &ctx->poison;
    if (!dl__arg(ctx, x, 1, DL_F32)) return ctx->status;
    if (!sizes || !out || n <= 0) { dl__fail0(ctx, DL_STATUS_INVALID, "sizes/out NULL or n <= 0"); return ctx->status; }
    if ((a = dl__axis(ctx, axis, x->ndim, x)) < 0) return ctx->status;
    for (i = 0; i < n; i++) { if (sizes[i] < 0) { dl__fail1(ctx, DL_STATUS_SHAPE, "negative split size %I", DL__A(&sizes[i])); return ctx->status; } tot += sizes[i]; }
    if (tot != x->shape[a]) { dl__fail2(ctx, DL_STATUS_SHAPE, "sizes sum to %I, axis has %I", DL__A(&tot), DL__A(&x->shape[a])); return ctx->status; }
    for (i = 0; i < n; i++) { out[i] = dl_slice(ctx, x, a, pos, pos + sizes[i], 1); pos += sizes[i]; }
    ctx->op = "dl_split";
    return ctx->status;
}

/* ======================================================================================
   >>ops-index  index_select / gather forward; backward is a scatter-add (repeats add up)
   ====================================================================================== */
static int dl__check_indices(dl_ctx *ctx, const dl_tensor *idx, int64_t n) {
    int64_t i;
    if (!idx->idata) return 1;
    for (i = 0; i < idx->numel; i++) {
        int64_t v = idx->idata[i];
        if (v < 0 || v >= n) { dl__fail3(ctx, DL_STATUS_INDEX, "index %I at position %I out of range [0, %I)", DL__A(&v), DL__A(&i), DL__A(&n)); return 0; }
    }
    return 1;
}
/* index_select: y[o, j, i] = x[o, idx[j], i];  dx[o, idx[j], i] += g[o, j, i] */
static void dl__bwd_index_select(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *x = nd->in[0], *y = nd->out; const int32_t *ix = nd->in[1]->idata; int a = nd->iarg[0];
    int64_t outer = 1, inner = 1, n = x->shape[a], m = y->shape[a], o, j, i; int d;
    float *gx = dl__ingrad(ctx, nd, 0);
    if (!gx || ctx->measure) return;
    for (d = 0; d < a; d++) outer *= x->shape[d];
    for (d = a + 1; d < x->ndim; d++) inner *= x->shape[d];
    for (o = 0; o < outer; o++) for (j = 0; j < m; j++) {
        float *dst = gx + (o * n + ix[j]) * inner; const float *g = y->grad + (o * m + j) * inner;
        for (i = 0; i < inner; i++) dst[i] += g[i];
    }
}
DL__API dl_tensor *dl_index_select(dl_ctx *ctx, dl_tensor *x, int axis, dl_tensor *idx) {
    dl_tensor *y, *in[2]; dl_shape s; int a, d; int64_t outer = 1, inner = 1, n, m, o, j;
    DL__ENTER(ctx, "dl_index_select");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, idx, 2, DL_I32)) return &ctx->poison;
    if ((a = dl__axis(ctx, axis, x->ndim, x)) < 0) return &ctx->poison;
    if (idx->ndim != 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "idx%T must be 1-D", DL__A(idx));
    x = dl__contig(ctx, x); idx = dl__contig_index(ctx, idx);
    if (ctx->status || !dl__check_indices(ctx, idx, x->shape[a])) return &ctx->poison;
    s = dl_shape_of(x); n = s.d[a]; m = idx->shape[0]; s.d[a] = m;
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    for (d = 0; d < a; d++) outer *= x->shape[d];
    for (d = a + 1; d < x->ndim; d++) inner *= x->shape[d];
    if (!ctx->nocomp && inner)
        for (o = 0; o < outer; o++) for (j = 0; j < m; j++)
            memcpy(y->data + (o * m + j) * inner, x->data + (o * n + idx->idata[j]) * inner, (size_t)inner * sizeof(float));
    in[0] = x; in[1] = idx;
    {   dl__node *nd = dl__record(ctx, DL__OP_index_select, y, in, 2);
        if (nd) nd->iarg[0] = a; }
    return dl__done(ctx, y);
}
/* gather (torch.gather): y[p] = x[p with axis coordinate replaced by idx[p]]; dx scatter-adds */
static void dl__gather_walk(const dl_tensor *x, const dl_tensor *idx, int a, float *y, const float *g, float *gx) {
    dl__odo o; int64_t i, off[1] = {0}, st[1][DL_MAX_DIMS]; int d;
    for (d = 0; d < idx->ndim; d++) st[0][d] = d == a ? 0 : x->stride[d];
    dl__odo_init(&o, idx->ndim, idx->shape);
    for (i = 0; i < idx->numel; i++) {
        int64_t src = off[0] + (int64_t)idx->idata[i] * x->stride[a];
        if (y) y[i] = x->data[src];
        if (gx) gx[src] += g[i];
        dl__odo_next(&o, 1, off, st);
    }
}
static void dl__bwd_gather(dl_ctx *ctx, dl__node *nd) {
    float *gx = dl__ingrad(ctx, nd, 0);
    if (!gx || ctx->measure) return;
    dl__gather_walk(nd->in[0], nd->in[1], nd->iarg[0], NULL, nd->out->grad, gx);
}
DL__API dl_tensor *dl_gather(dl_ctx *ctx, dl_tensor *x, int axis, dl_tensor *idx) {
    dl_tensor *y, *in[2]; int a, d;
    DL__ENTER(ctx, "dl_gather");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, idx, 2, DL_I32)) return &ctx->poison;
    if ((a = dl__axis(ctx, axis, x->ndim, x)) < 0) return &ctx->poison;
    if (idx->ndim != x->ndim) return dl__fail2(ctx, DL_STATUS_SHAPE, "idx%T and x%T must have the same rank", DL__A(idx), DL__A(x));
    for (d = 0; d < x->ndim; d++)
        if (d != a && idx->shape[d] > x->shape[d])
            return dl__fail3(ctx, DL_STATUS_SHAPE, "idx%T exceeds x%T in dimension %d", DL__A(idx), DL__A(x), DL__A(&d));
    x = dl__contig(ctx, x); idx = dl__contig_index(ctx, idx);
    if (ctx->status || !dl__check_indices(ctx, idx, x->shape[a])) return &ctx->poison;
    y = dl__new(ctx, dl_shape_of(idx), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) dl__gather_walk(x, idx, a, y->data, NULL, NULL);
    in[0] = x; in[1] = idx;
    {   dl__node *nd = dl__record(ctx, DL__OP_gather, y, in, 2);
        if (nd) nd->iarg[0] = a; }
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_one_hot(dl_ctx *ctx, dl_tensor *idx, int num_classes) {
    dl_tensor *y; dl_shape s; int64_t i;
    DL__ENTER(ctx, "dl_one_hot");
    if (!dl__arg(ctx, idx, 1, DL_I32)) return &ctx->poison;
    if (num_classes <= 0) return dl__fail1(ctx, DL_STATUS_INVALID, "num_classes %d must be positive", DL__A(&num_classes));
    if (idx->ndim >= DL_MAX_DIMS) return dl__fail1(ctx, DL_STATUS_SHAPE, "idx%T has too many dimensions", DL__A(idx));
    idx = dl__contig_index(ctx, idx);
    if (!ctx->status && !ctx->measure) dl__pull(idx);          /* built on the host */
    if (ctx->status || !dl__check_indices(ctx, idx, num_classes)) return &ctx->poison;
    s = dl_shape_of(idx); s.d[s.ndim++] = num_classes;
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->measure) {
        memset(y->data, 0, (size_t)y->numel * sizeof(float));
        for (i = 0; i < idx->numel; i++) y->data[i * num_classes + idx->idata[i]] = 1.0f;
        dl__push(ctx, y);
    }
    return dl__done(ctx, y);
}


/* ======================================================================================
   >>gradcheck  central differences in double around a float32 graph
   ====================================================================================== */
static double dl__gc_eval(dl_ctx *ctx, dl_graph_fn fn, void *user, dl_tensor *const *inputs, int n,
                          const double *w, int64_t nw, int *ok) {
    dl_mark m = dl_ctx_mark(ctx); uint64_t ctr = ctx->counter; int prev = dl_set_grad_enabled(ctx, 0);
    dl_tensor *y = fn(ctx, inputs, n, user); double s = 0.0; int64_t i;
    *ok = !ctx->status && !dl_is_poison(y) && y->dtype == DL_F32 && y->numel == nw;
    if (*ok) for (i = 0; i < nw; i++) s += w[i] * (double)dl_get(y, i);
    dl_set_grad_enabled(ctx, prev); dl_ctx_rewind(ctx, m); ctx->counter = ctr;
    return s;
}
DL__API const char *dl_gradcheck_message(const dl_ctx *ctx) { return ctx ? ctx->gc_msg : ""; }
DL__API dl_status dl_gradcheck(dl_ctx *ctx, dl_graph_fn fn, void *user, dl_tensor *const *inputs, int n,
                               const dl_gradcheck_desc *desc, dl_gradcheck_result *res) {
    dl_gradcheck_desc d; dl_gradcheck_result r; dl_mark m0; dl_tensor *y; double *w; float *gy;
    int64_t nw, i; int k, ok; uint64_t ctr; dl__buf b;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_gradcheck";
    memset(&r, 0, sizeof r); r.worst_input = -1; r.worst_index = -1;
    if (res) *res = r;
    if (ctx->status) return ctx->status;
    if (dl__cpu_only(ctx)) return ctx->status;
    if (ctx->measure) { dl__fail0(ctx, DL_STATUS_INVALID, "not available in measure mode"); return ctx->status; }
    if (!fn || !inputs || n <= 0) { dl__fail0(ctx, DL_STATUS_INVALID, "fn/inputs NULL or n <= 0"); return ctx->status; }
    for (k = 0; k < n; k++) if (!dl__arg(ctx, inputs[k], k + 1, DL_F32)) return ctx->status;
    if (desc) d = *desc; else memset(&d, 0, sizeof d);
    if (d.eps <= 0) d.eps = 1e-3;
    if (d.atol <= 0) d.atol = 1e-3;
    if (d.rtol <= 0) d.rtol = 1e-2;
    m0 = dl_ctx_mark(ctx); ctr = ctx->counter;
    for (k = 0; k < n; k++) dl_zero_grad(inputs[k]);
    y = fn(ctx, inputs, n, user);
    if (ctx->status) return ctx->status;
    if (!y->requires_grad) { dl__fail0(ctx, DL_STATUS_INVALID, "the graph's output does not depend on an input with requires_grad"); return ctx->status; }
    nw = y->numel;
    w = (double *)dl__alloc(ctx, sizeof(double) * (size_t)nw, 0, &ok);
    gy = ok ? (float *)dl__alloc(ctx, sizeof(float) * (size_t)nw, 0, &ok) : NULL;
    if (!ok) return ctx->status;
    for (i = 0; i < nw; i++) {   /* fixed weights in [0.5, 1.5) with random signs */
        uint64_t z = dl__mix64(0x9c3c4ull + (uint64_t)i * 0x9e3779b97f4a7c15ull);
        w[i] = (0.5 + (double)(z >> 11) * (1.0 / 9007199254740992.0)) * ((z & 1) ? -1.0 : 1.0);
        gy[i] = (float)w[i];
    }
    if (dl_backward_with(ctx, y, gy)) return ctx->status;
    ctx->counter = ctr;
    for (k = 0; k < n; k++) {
        dl_tensor *x = inputs[k]; int64_t cnt, j;
        if (!x->requires_grad || !x->grad) continue;
        cnt = (d.max_per_input > 0 && d.max_per_input < x->numel) ? d.max_per_input : x->numel;
        for (j = 0; j < cnt; j++) {
            int64_t e = cnt == x->numel ? j : (int64_t)(dl__mix64((uint64_t)j * 0x9e37ull + (uint64_t)k) % (uint64_t)x->numel);
            float orig = dl_get(x, e); double h = d.eps * (fabs((double)orig) > 1.0 ? fabs((double)orig) : 1.0);
            float xp = (float)((double)orig + h), xm = (float)((double)orig - h); double fp, fm, num, ana, err, rel; int ok1, ok2;
            dl_set(x, e, xp); fp = dl__gc_eval(ctx, fn, user, inputs, n, w, nw, &ok1);
            dl_set(x, e, xm); fm = dl__gc_eval(ctx, fn, user, inputs, n, w, nw, &ok2);
            dl_set(x, e, orig);
            if (!ok1 || !ok2) { dl_ctx_rewind(ctx, m0); return ctx->status ? ctx->status : DL_STATUS_INVALID; }
            num = (fp - fm) / ((double)xp - (double)xm);   /* the step actually taken in float */
            ana = (double)x->grad[e];
            err = fabs(ana - num);
            rel = err / (fabs(num) > fabs(ana) ? (fabs(num) > 1e-12 ? fabs(num) : 1e-12) : (fabs(ana) > 1e-12 ? fabs(ana) : 1e-12));
            r.checked++;
            if (err > r.max_abs_err) r.max_abs_err = err;
            if (rel > r.max_rel_err && err > d.atol) r.max_rel_err = rel;
            if (!(err <= d.atol + d.rtol * (fabs(ana) > fabs(num) ? fabs(ana) : fabs(num)))) {
                if (r.failed == 0 || err > fabs(r.worst_analytic - r.worst_numeric)) {
                    r.worst_input = k; r.worst_index = e; r.worst_analytic = ana; r.worst_numeric = num;
                }
                r.failed++;
            }
        }
    }
    for (k = 0; k < n; k++) dl_zero_grad(inputs[k]);
    dl_ctx_rewind(ctx, m0);
    ctx->counter = ctr;
    if (res) *res = r;
    b.p = ctx->gc_msg; b.n = 0; b.cap = sizeof ctx->gc_msg; ctx->gc_msg[0] = 0;
    if (r.failed) {
        const void *a[6]; a[0] = &r.failed; a[1] = &r.checked; a[2] = &r.worst_input; a[3] = &r.worst_index; a[4] = &r.worst_analytic; a[5] = &r.worst_numeric;
        dl__vfmt(&b, "dl_gradcheck: %I of %I elements differ; worst: input %d index %I analytic %g numeric %g", a);
        return DL_STATUS_INVALID;
    } else {
        const void *a[3]; a[0] = &r.checked; a[1] = &r.max_abs_err; a[2] = &r.max_rel_err;
        dl__vfmt(&b, "dl_gradcheck: %I elements pass; max abs err %g, max rel err %g", a);
    }
    return DL_STATUS_OK;
}


/* ======================================================================================
   >>ops-activations  (CATALOGUE §3.3-3.18) forward and derivative side by side, as torch
   ====================================================================================== */
#define DL__SELU_SCALE 1.0507009873554804934f
#define DL__SELU_ALPHA 1.6732632423543772848f
#define DL__SQRT_2_OVER_PI 0.7978845608028654f
static float dl__gelu_tanh_d(float x) {
    float x2 = x * x, t = tanhf(DL__SQRT_2_OVER_PI * (x + 0.044715f * x2 * x));
    return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * DL__SQRT_2_OVER_PI * (1.0f + 3.0f * 0.044715f * x2);
}
/*                name         forward y = ...                                          dx += ...                        */
DL__UNARY_KERNELS(leaky_relu,  x > 0.0f ? x : p0 * x,                                   x > 0.0f ? g : g * p0)
DL__UNARY_KERNELS(elu,         x > 0.0f ? x : p0 * expm1f(x),                           x > 0.0f ? g : g * p0 * expf(x))
DL__UNARY_KERNELS(selu,        DL__SELU_SCALE * (x > 0.0f ? x : DL__SELU_ALPHA * expm1f(x)), x > 0.0f ? g * DL__SELU_SCALE : g * DL__SELU_SCALE * DL__SELU_ALPHA * expf(x))
DL__UNARY_KERNELS(gelu,        0.5f * x * (1.0f + erff(x * 0.70710678118654752f)),     g * (0.5f * (1.0f + erff(x * 0.70710678118654752f)) + x * 0.3989422804014327f * expf(-0.5f * x * x)))
DL__UNARY_KERNELS(gelu_tanh,   0.5f * x * (1.0f + tanhf(DL__SQRT_2_OVER_PI * (x + 0.044715f * x * x * x))), g * dl__gelu_tanh_d(x))
DL__UNARY_KERNELS(silu,        x * dl__sigmoidf(x),                                     g * dl__sigmoidf(x) * (1.0f + x * (1.0f - dl__sigmoidf(x))))
DL__UNARY_KERNELS(hard_tanh,   x < p0 ? p0 : (x > p1 ? p1 : x),                         (x > p0 && x < p1) ? g : 0.0f)
DL__UNARY_KERNELS(softsign,    x / (1.0f + fabsf(x)),                                   g / ((1.0f + fabsf(x)) * (1.0f + fabsf(x))))

DL__API dl_tensor *dl_leaky_relu(dl_ctx *ctx, dl_tensor *x, float slope) { DL__ENTER(ctx, "dl_leaky_relu"); return dl__unary(ctx, DL__OP_leaky_relu, x, slope, 0.0f, dl__fwd_leaky_relu); }
DL__API dl_tensor *dl_elu(dl_ctx *ctx, dl_tensor *x, float alpha) { DL__ENTER(ctx, "dl_elu"); return dl__unary(ctx, DL__OP_elu, x, alpha, 0.0f, dl__fwd_elu); }
DL__API dl_tensor *dl_selu(dl_ctx *ctx, dl_tensor *x)      { DL__ENTER(ctx, "dl_selu"); return dl__unary(ctx, DL__OP_selu, x, 0.0f, 0.0f, dl__fwd_selu); }
DL__API dl_tensor *dl_gelu(dl_ctx *ctx, dl_tensor *x)      { DL__ENTER(ctx, "dl_gelu"); return dl__unary(ctx, DL__OP_gelu, x, 0.0f, 0.0f, dl__fwd_gelu); }
DL__API dl_tensor *dl_gelu_tanh(dl_ctx *ctx, dl_tensor *x) { DL__ENTER(ctx, "dl_gelu_tanh"); return dl__unary(ctx, DL__OP_gelu_tanh, x, 0.0f, 0.0f, dl__fwd_gelu_tanh); }
DL__API dl_tensor *dl_silu(dl_ctx *ctx, dl_tensor *x)      { DL__ENTER(ctx, "dl_silu"); return dl__unary(ctx, DL__OP_silu, x, 0.0f, 0.0f, dl__fwd_silu); }
DL__API dl_tensor *dl_hard_tanh(dl_ctx *ctx, dl_tensor *x, float lo, float hi) {
    DL__ENTER(ctx, "dl_hard_tanh");
    if (!(lo <= hi)) { double l = (double)lo, h = (double)hi; if (!ctx->status) dl__fail2(ctx, DL_STATUS_INVALID, "lo %g > hi %g", DL__A(&l), DL__A(&h)); return &ctx->poison; }
    return dl__unary(ctx, DL__OP_hard_tanh, x, lo, hi, dl__fwd_hard_tanh);
}
DL__API dl_tensor *dl_softsign(dl_ctx *ctx, dl_tensor *x)  { DL__ENTER(ctx, "dl_softsign"); return dl__unary(ctx, DL__OP_softsign, x, 0.0f, 0.0f, dl__fwd_softsign); }

/* >>op-prelu  y = x > 0 ? x : a[c] x, c the channel (axis 1; one shared a when a is [1]).
   dx = x > 0 ? g : a[c] g;  da[c] += sum over its elements of (x > 0 ? 0 : x g)          */
static int64_t dl__prelu_inner(const dl_tensor *x) { int d; int64_t n = 1; for (d = 2; d < x->ndim; d++) n *= x->shape[d]; return n; }
static void dl__bwd_prelu(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *x = nd->in[0], *a = nd->in[1], *y = nd->out; float *gx = dl__ingrad(ctx, nd, 0), *ga = dl__ingrad(ctx, nd, 1);
    int64_t i, C = a->numel, inner = dl__prelu_inner(x);
    if (ctx->measure) return;
    for (i = 0; i < x->numel; i++) {
        int64_t c = C == 1 ? 0 : (i / inner) % C; float v = x->data[i], g = y->grad[i];
        if (gx) gx[i] += v > 0.0f ? g : a->data[c] * g;
        if (ga && !(v > 0.0f)) ga[c] += v * g;
    }
}
DL__API dl_tensor *dl_prelu(dl_ctx *ctx, dl_tensor *x, dl_tensor *a) {
    dl_tensor *y, *in[2]; int64_t i, C, inner;
    DL__ENTER(ctx, "dl_prelu");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, a, 2, DL_F32)) return &ctx->poison;
    C = a->numel;
    if (a->ndim != 1 || (C != 1 && (x->ndim < 2 || x->shape[1] != C)))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "weight%T must be [1] or [C] with C = x.shape[1], x%T", DL__A(a), DL__A(x));
    in[0] = dl__contig(ctx, x); in[1] = dl__contig(ctx, a);
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    inner = dl__prelu_inner(x);
    if (!ctx->nocomp)
        for (i = 0; i < x->numel; i++) {
            float v = in[0]->data[i]; int64_t c = C == 1 ? 0 : (i / inner) % C;
            y->data[i] = v > 0.0f ? v : in[1]->data[c] * v;
        }
    dl__record(ctx, DL__OP_prelu, y, in, 2);
    return dl__done(ctx, y);
}
/* maxout: [N, C*k] -> [N, C], the max of each k consecutive units (gradient: first max) */
DL__API dl_tensor *dl_maxout(dl_ctx *ctx, dl_tensor *x, int k) {
    dl_shape s; int d;
    DL__ENTER(ctx, "dl_maxout");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (k <= 0 || x->ndim < 1 || x->ndim >= DL_MAX_DIMS || x->shape[x->ndim - 1] % k)
        return dl__fail2(ctx, DL_STATUS_SHAPE, "last dim of %T is not a multiple of k = %d", DL__A(x), DL__A(&k));
    s.ndim = x->ndim + 1;
    for (d = 0; d < x->ndim - 1; d++) s.d[d] = x->shape[d];
    s.d[x->ndim - 1] = x->shape[x->ndim - 1] / k; s.d[x->ndim] = k;
    return dl_max(ctx, dl_reshape(ctx, x, s), -1, 0);
}
/* dropout (inverted): train: y = x * m / (1 - p), m ~ Bernoulli(1 - p) from the ctx RNG; eval: y = x */
DL__API dl_tensor *dl_dropout(dl_ctx *ctx, dl_tensor *x, float p, int train) {
    dl_tensor *m; int64_t i; float keep = 1.0f - p;
    DL__ENTER(ctx, "dl_dropout");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (!(p >= 0.0f && p <= 1.0f)) { double dp = (double)p; return dl__fail1(ctx, DL_STATUS_INVALID, "p = %g must be in [0, 1]", DL__A(&dp)); }
    if (!train || p == 0.0f) return x;
    m = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    for (i = 0; i < m->numel; i++) {      /* draws happen in measure mode too: same RNG stream */
        float u = dl_rand_uniform(ctx);
        if (m->data) m->data[i] = (p < 1.0f && u < keep) ? 1.0f / keep : 0.0f;
    }
    if (m->data) dl__push(ctx, m);
    { dl_tensor *y = dl_mul(ctx, x, m); ctx->op = "dl_dropout"; return y; }
}

/* ======================================================================================
   >>layers
   ====================================================================================== */
DL__API void dl_linear_init(dl_ctx *ctx, dl_linear *l, int64_t in, int64_t out, int bias) {
    float bound;
    if (!ctx || !l) return;
    memset(l, 0, sizeof *l);
    l->in = in; l->out = out;
    ctx->op = "dl_linear_init";
    if (in <= 0 || out <= 0) { dl__fail2(ctx, DL_STATUS_SHAPE, "in %I and out %I must be positive", DL__A(&in), DL__A(&out)); l->weight = &ctx->poison; return; }
    bound = 1.0f / sqrtf((float)in);        /* kaiming_uniform(a = sqrt 5) == U(+-1/sqrt(in)) */
    l->weight = dl_uniform(ctx, dl_shape2(out, in), -bound, bound);
    dl_requires_grad(ctx, l->weight, 1);
    if (bias) { l->bias = dl_uniform(ctx, dl_shape1(out), -bound, bound); dl_requires_grad(ctx, l->bias, 1); }
}
DL__API dl_tensor *dl_linear_forward(dl_ctx *ctx, const dl_linear *l, dl_tensor *x) {
    dl_tensor *y; dl_shape s;
    DL__ENTER(ctx, "dl_linear_forward");
    if (!l) return dl__fail0(ctx, DL_STATUS_INVALID, "layer is NULL");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, l->weight, 2, DL_F32)) return &ctx->poison;
    if (x->ndim < 1 || x->shape[x->ndim - 1] != l->weight->shape[1])
        return dl__fail2(ctx, DL_STATUS_SHAPE, "input%T does not end in the layer's in features, weight%T", DL__A(x), DL__A(l->weight));
    s = dl_shape_of(x);
    if (x->ndim != 2) x = dl_reshape(ctx, x, dl_shape2(-1, l->weight->shape[1]));
    y = dl_matmul_ex(ctx, x, l->weight, DL_TRANS_B);
    if (l->bias) y = dl_add(ctx, y, l->bias);
    if (s.ndim != 2) { s.d[s.ndim - 1] = l->weight->shape[0]; y = dl_reshape(ctx, y, s); }
    ctx->op = "dl_linear_forward";
    return y;
}

/* ======================================================================================
   >>losses  composed of tested ops, so their backward comes from autodiff
   ====================================================================================== */
static dl_tensor *dl__reduce_loss(dl_ctx *ctx, dl_tensor *l, dl_reduction r) {
    if (r == DL_REDUCE_SUM) return dl_sum_all(ctx, l);
    if (r == DL_REDUCE_NONE) return l;
    return dl_mean_all(ctx, l);
}
static int dl__loss_args(dl_ctx *ctx, dl_tensor *p, dl_tensor *t, dl_reduction r) {
    if (!dl__arg(ctx, p, 1, DL_F32) || !dl__arg(ctx, t, 2, DL_F32)) return 0;
    if ((unsigned)r > 2u) { int ri = (int)r; dl__fail1(ctx, DL_STATUS_INVALID, "unknown reduction %d", DL__A(&ri)); return 0; }
    if (!dl_same_shape(p, t)) { dl__fail2(ctx, DL_STATUS_SHAPE, "input%T and target%T differ", DL__A(p), DL__A(t)); return 0; }
    return 1;
}
DL__API dl_tensor *dl_mse_loss(dl_ctx *ctx, dl_tensor *pred, dl_tensor *target, dl_reduction r) {
    DL__ENTER(ctx, "dl_mse_loss");
    if (!dl__loss_args(ctx, pred, target, r)) return &ctx->poison;
    return dl__reduce_loss(ctx, dl_square(ctx, dl_sub(ctx, pred, target)), r);
}
DL__API dl_tensor *dl_l1_loss(dl_ctx *ctx, dl_tensor *pred, dl_tensor *target, dl_reduction r) {
    DL__ENTER(ctx, "dl_l1_loss");
    if (!dl__loss_args(ctx, pred, target, r)) return &ctx->poison;
    return dl__reduce_loss(ctx, dl_abs(ctx, dl_sub(ctx, pred, target)), r);
}
/* a float 0/1 mask of a tensor's values (no gradient): f(v) != 0 */
static dl_tensor *dl__mask(dl_ctx *ctx, const dl_tensor *x, int (*f)(float v, float c), float c) {
    dl_tensor *m = dl__new(ctx, dl_shape_of(x), DL_F32, 1); int64_t i;
    if (!ctx->status && m->data && dl__pull(x)) {
        for (i = 0; i < x->numel; i++) m->data[i] = f(x->data ? x->data[dl__offset_of(x, i)] : 0.0f, c) ? 1.0f : 0.0f;
        dl__push(ctx, m);
    }
    return m;
}
static int dl__le_abs(float v, float c) { return fabsf(v) <= c; }
DL__API dl_tensor *dl_huber_loss(dl_ctx *ctx, dl_tensor *pred, dl_tensor *target, float delta, dl_reduction r) {
    dl_tensor *d, *ad, *quad, *lin, *m;
    DL__ENTER(ctx, "dl_huber_loss");
    if (!dl__loss_args(ctx, pred, target, r)) return &ctx->poison;
    if (!(delta > 0.0f)) { double dd = (double)delta; return dl__fail1(ctx, DL_STATUS_INVALID, "delta %g must be positive", DL__A(&dd)); }
    d = dl_sub(ctx, pred, target);
    ad = dl_abs(ctx, d);
    quad = dl_mul_scalar(ctx, dl_square(ctx, d), 0.5f);
    lin = dl_mul_scalar(ctx, dl_add_scalar(ctx, ad, -0.5f * delta), delta);
    /* mask |d| <= delta; on a backend built from ops, sign(relu(delta - |d|)) (0 at |d| == delta,
       where both branches agree in value and gradient), so it also runs inside dl_step_run */
    m = ctx->be ? dl_sign(ctx, dl_relu(ctx, dl_add_scalar(ctx, dl_neg(ctx, dl_abs(ctx, dl_detach(ctx, d))), delta)))
                : dl__mask(ctx, d, dl__le_abs, delta);
    ctx->op = "dl_huber_loss";
    return dl__reduce_loss(ctx, dl_where(ctx, m, quad, lin), r);
}
DL__API dl_tensor *dl_bce_with_logits(dl_ctx *ctx, dl_tensor *logits, dl_tensor *target, dl_reduction r) {
    DL__ENTER(ctx, "dl_bce_with_logits");
    if (!dl__loss_args(ctx, logits, target, r)) return &ctx->poison;
    return dl__reduce_loss(ctx, dl_sub(ctx, dl_softplus(ctx, logits), dl_mul(ctx, target, logits)), r);
}
/* an index tensor seen with another shape (same element count, contiguous copy if needed) */
static dl_tensor *dl__index_as(dl_ctx *ctx, dl_tensor *idx, dl_shape s) {
    dl_tensor *v;
    idx = dl__contig_index(ctx, idx);
    v = dl__new(ctx, s, DL_I32, 0);
    if (ctx->status) return &ctx->poison;
    if (v->numel != idx->numel) return dl__fail2(ctx, DL_STATUS_SHAPE, "index%T cannot be seen as %T", DL__A(idx), DL__A(v));
    v->idata = idx->idata;
    return v;
}
DL__API dl_tensor *dl_nll_loss(dl_ctx *ctx, dl_tensor *logp, dl_tensor *target, dl_reduction r) {
    dl_tensor *l;
    DL__ENTER(ctx, "dl_nll_loss");
    if (!dl__arg(ctx, logp, 1, DL_F32) || !dl__arg(ctx, target, 2, DL_I32)) return &ctx->poison;
    if (logp->ndim != 2 || target->ndim != 1 || target->shape[0] != logp->shape[0])
        return dl__fail2(ctx, DL_STATUS_SHAPE, "expects input [N,C] and target [N], got %T and %T", DL__A(logp), DL__A(target));
    l = dl_neg(ctx, dl_reshape(ctx, dl_gather(ctx, logp, 1, dl__index_as(ctx, target, dl_shape2(target->shape[0], 1))), dl_shape1(target->shape[0])));
    ctx->op = "dl_nll_loss";
    return dl__reduce_loss(ctx, l, r);
}
DL__API dl_tensor *dl_cross_entropy(dl_ctx *ctx, dl_tensor *logits, dl_tensor *target, const dl_ce_desc *desc) {
    dl_ce_desc d; dl_tensor *logp, *l; int64_t N, C; int one_d;
    DL__ENTER(ctx, "dl_cross_entropy");
    if (desc) d = *desc; else memset(&d, 0, sizeof d);
    if (!dl__arg(ctx, logits, 1, DL_F32) || !dl__arg(ctx, target, 2, target ? target->dtype : DL_F32)) return &ctx->poison;
    if ((unsigned)d.reduction > 2u || !(d.label_smoothing >= 0.0f && d.label_smoothing <= 1.0f))
        return dl__fail0(ctx, DL_STATUS_INVALID, "bad reduction or label_smoothing outside [0, 1]");
    one_d = logits->ndim == 1;
    if (logits->ndim != 1 && logits->ndim != 2) return dl__fail1(ctx, DL_STATUS_SHAPE, "logits%T must be [N,C] or [C]", DL__A(logits));
    if (one_d) logits = dl_reshape(ctx, logits, dl_shape2(1, logits->shape[0]));
    N = logits->shape[0]; C = logits->shape[1];
    logp = dl_log_softmax(ctx, logits, 1);
    ctx->op = "dl_cross_entropy";
    if (target->dtype == DL_I32) {
        if (target->numel != N || target->ndim > 1)
            return dl__fail2(ctx, DL_STATUS_SHAPE, "class-index target%T does not match logits%T", DL__A(target), DL__A(logits));
        l = dl_neg(ctx, dl_reshape(ctx, dl_gather(ctx, logp, 1, dl__index_as(ctx, target, dl_shape2(N, 1))), dl_shape1(N)));
        if (d.label_smoothing > 0.0f) {
            dl_tensor *smooth = dl_mul_scalar(ctx, dl_sum(ctx, logp, 1, 0), -1.0f / (float)C);
            l = dl_add(ctx, dl_mul_scalar(ctx, l, 1.0f - d.label_smoothing), dl_mul_scalar(ctx, smooth, d.label_smoothing));
        }
    } else {
        dl_tensor *t = target;
        if (one_d && t->ndim == 1) t = dl_reshape(ctx, t, dl_shape2(1, t->shape[0]));
        if (t->ndim != 2 || t->shape[0] != N || t->shape[1] != C)
            return dl__fail2(ctx, DL_STATUS_SHAPE, "probability target%T does not match logits%T", DL__A(target), DL__A(logits));
        if (d.label_smoothing > 0.0f) t = dl_add_scalar(ctx, dl_mul_scalar(ctx, t, 1.0f - d.label_smoothing), d.label_smoothing / (float)C);
        l = dl_neg(ctx, dl_sum(ctx, dl_mul(ctx, t, logp), 1, 0));
    }
    if (one_d && d.reduction == DL_REDUCE_NONE) l = dl_reshape(ctx, l, dl_shape_n(0, NULL));
    ctx->op = "dl_cross_entropy";
    return dl__reduce_loss(ctx, l, d.reduction);
}
DL__API dl_tensor *dl_hinge_loss(dl_ctx *ctx, dl_tensor *score, dl_tensor *target, dl_reduction r) {
    DL__ENTER(ctx, "dl_hinge_loss");
    if (!dl__loss_args(ctx, score, target, r)) return &ctx->poison;
    return dl__reduce_loss(ctx, dl_relu(ctx, dl_add_scalar(ctx, dl_neg(ctx, dl_mul(ctx, target, score)), 1.0f)), r);
}
DL__API dl_tensor *dl_multi_margin_loss(dl_ctx *ctx, dl_tensor *score, dl_tensor *target, float margin, dl_reduction r) {
    dl_tensor *sy, *m, *l; int64_t N, C;
    DL__ENTER(ctx, "dl_multi_margin_loss");
    if (!dl__arg(ctx, score, 1, DL_F32) || !dl__arg(ctx, target, 2, DL_I32)) return &ctx->poison;
    if (score->ndim != 2 || target->numel != score->shape[0] || target->ndim != 1)
        return dl__fail2(ctx, DL_STATUS_SHAPE, "expects score [N,C] and target [N], got %T and %T", DL__A(score), DL__A(target));
    N = score->shape[0]; C = score->shape[1];
    sy = dl_gather(ctx, score, 1, dl__index_as(ctx, target, dl_shape2(N, 1)));        /* [N,1] */
    m = dl_relu(ctx, dl_add_scalar(ctx, dl_sub(ctx, score, sy), margin));           /* [N,C] */
    /* the i == y term is max(0, margin) with zero gradient: subtract it */
    l = dl_mul_scalar(ctx, dl_add_scalar(ctx, dl_sum(ctx, m, 1, 0), -(margin > 0.0f ? margin : 0.0f)), 1.0f / (float)C);
    ctx->op = "dl_multi_margin_loss";
    return dl__reduce_loss(ctx, l, r);
}
DL__API dl_tensor *dl_kl_div(dl_ctx *ctx, dl_tensor *logq, dl_tensor *p, dl_reduction r) {
    dl_tensor *safe, *l;
    DL__ENTER(ctx, "dl_kl_div");
    if (!dl__loss_args(ctx, logq, p, r)) return &ctx->poison;
    /* p log p with 0 log 0 = 0: log of where(p != 0, p, 1) */
    safe = dl_where(ctx, p, p, dl_ones(ctx, dl_shape_n(0, NULL)));
    l = dl_mul(ctx, p, dl_sub(ctx, dl_log(ctx, safe), logq));
    ctx->op = "dl_kl_div";
    if (r == DL_REDUCE_MEAN) return dl_mul_scalar(ctx, dl_sum_all(ctx, l), 1.0f / (float)(logq->ndim ? logq->shape[0] : 1));
    return dl__reduce_loss(ctx, l, r);
}
DL__API dl_tensor *dl_gaussian_nll_loss(dl_ctx *ctx, dl_tensor *mu, dl_tensor *target, dl_tensor *var, dl_reduction r) {
    dl_tensor *v, *l;
    DL__ENTER(ctx, "dl_gaussian_nll_loss");
    if (!dl__loss_args(ctx, mu, target, r) || !dl__arg(ctx, var, 3, DL_F32)) return &ctx->poison;
    if (!dl_same_shape(mu, var)) return dl__fail2(ctx, DL_STATUS_SHAPE, "var%T must match input%T", DL__A(var), DL__A(mu));
    /* torch clamps var to >= 1e-6 without touching its gradient: a straight-through clamp */
    v = dl_add(ctx, var, dl_detach(ctx, dl_sub(ctx, dl_clamp(ctx, var, 1e-6f, 3.0e38f), var)));
    l = dl_mul_scalar(ctx, dl_add(ctx, dl_log(ctx, v), dl_div(ctx, dl_square(ctx, dl_sub(ctx, mu, target)), v)), 0.5f);
    ctx->op = "dl_gaussian_nll_loss";
    return dl__reduce_loss(ctx, l, r);
}

/* ======================================================================================
   >>init  torch.nn.init formulas
   ====================================================================================== */
DL__API float dl_calculate_gain(dl_nonlin nl, float param) {
    switch (nl) {
    case DL_NL_RELU: return sqrtf(2.0f);
    case DL_NL_LEAKY_RELU: return sqrtf(2.0f / (1.0f + param * param));
    case DL_NL_TANH: return 5.0f / 3.0f;
    case DL_NL_SELU: return 0.75f;
    case DL_NL_LINEAR: case DL_NL_SIGMOID: default: return 1.0f;
    }
}
static int dl__fans(dl_ctx *ctx, const dl_tensor *t, float *fan_in, float *fan_out) {
    int64_t rf = 1; int d;
    if (!dl__arg(ctx, t, 1, DL_F32)) return 0;
    if (t->ndim < 2) { dl__fail1(ctx, DL_STATUS_SHAPE, "fan in/out need at least 2 dims, got %T", DL__A(t)); return 0; }
    for (d = 2; d < t->ndim; d++) rf *= t->shape[d];
    *fan_in = (float)(t->shape[1] * rf); *fan_out = (float)(t->shape[0] * rf);
    return 1;
}
DL__API void dl_init_uniform(dl_ctx *ctx, dl_tensor *t, float a, float b) {
    if (!ctx) return;
    ctx->op = "dl_init_uniform"; if (dl__arg(ctx, t, 1, DL_F32)) dl__fill_uniform(ctx, t, a, b);
}
DL__API void dl_init_normal(dl_ctx *ctx, dl_tensor *t, float mean, float std) {
    if (!ctx) return;
    ctx->op = "dl_init_normal"; if (dl__arg(ctx, t, 1, DL_F32)) dl__fill_normal(ctx, t, mean, std);
}
DL__API void dl_init_constant(dl_tensor *t, float v) { dl_fill(t, v); }
DL__API void dl_init_xavier_uniform(dl_ctx *ctx, dl_tensor *t, float gain) {
    float fi, fo, a;
    if (!ctx) return;
    ctx->op = "dl_init_xavier_uniform";
    if (!dl__fans(ctx, t, &fi, &fo)) return;
    a = (gain == 0.0f ? 1.0f : gain) * sqrtf(6.0f / (fi + fo));
    dl__fill_uniform(ctx, t, -a, a);
}
DL__API void dl_init_xavier_normal(dl_ctx *ctx, dl_tensor *t, float gain) {
    float fi, fo;
    if (!ctx) return;
    ctx->op = "dl_init_xavier_normal";
    if (!dl__fans(ctx, t, &fi, &fo)) return;
    dl__fill_normal(ctx, t, 0.0f, (gain == 0.0f ? 1.0f : gain) * sqrtf(2.0f / (fi + fo)));
}
static float dl__kaiming_std(dl_ctx *ctx, dl_tensor *t, float a, int fan_out, dl_nonlin nl, int *ok) {
    float fi, fo;
    *ok = dl__fans(ctx, t, &fi, &fo);
    return *ok ? dl_calculate_gain(nl, a) / sqrtf(fan_out ? fo : fi) : 0.0f;
}
DL__API void dl_init_kaiming_uniform(dl_ctx *ctx, dl_tensor *t, float a, int fan_out, dl_nonlin nl) {
    int ok; float std;
    if (!ctx) return;
    ctx->op = "dl_init_kaiming_uniform";
    std = dl__kaiming_std(ctx, t, a, fan_out, nl, &ok);
    if (ok) dl__fill_uniform(ctx, t, -sqrtf(3.0f) * std, sqrtf(3.0f) * std);
}
DL__API void dl_init_kaiming_normal(dl_ctx *ctx, dl_tensor *t, float a, int fan_out, dl_nonlin nl) {
    int ok; float std;
    if (!ctx) return;
    ctx->op = "dl_init_kaiming_normal";
    std = dl__kaiming_std(ctx, t, a, fan_out, nl, &ok);
    if (ok) dl__fill_normal(ctx, t, 0.0f, std);
}
DL__API void dl_init_lecun_uniform(dl_ctx *ctx, dl_tensor *t) {
    float fi, fo, a;
    if (!ctx) return;
    ctx->op = "dl_init_lecun_uniform";
    if (!dl__fans(ctx, t, &fi, &fo)) return;
    a = sqrtf(3.0f / fi); dl__fill_uniform(ctx, t, -a, a);
}
DL__API void dl_init_lecun_normal(dl_ctx *ctx, dl_tensor *t) {
    float fi, fo;
    if (!ctx) return;
    ctx->op = "dl_init_lecun_normal";
    if (!dl__fans(ctx, t, &fi, &fo)) return;
    dl__fill_normal(ctx, t, 0.0f, 1.0f / sqrtf(fi));
}
/* orthogonal: Q of the QR of a normal [rows, cols] matrix (transposed when rows < cols),
   by modified Gram-Schmidt in double, which gives the positive-diagonal-R Q that torch's
   sign fix produces. Scratch comes from the arena and is returned at once. */
DL__API void dl_init_orthogonal(dl_ctx *ctx, dl_tensor *t, float gain) {
    int64_t rows, cols, m, n, i, j, k; double *a; int ok, tr; dl_mark mk;
    if (!ctx) return;
    ctx->op = "dl_init_orthogonal";
    if (!dl__arg(ctx, t, 1, DL_F32)) return;
    if (t->ndim < 2) { dl__fail1(ctx, DL_STATUS_SHAPE, "needs at least 2 dims, got %T", DL__A(t)); return; }
    rows = t->shape[0]; cols = rows ? t->numel / rows : 0;
    tr = rows < cols; m = tr ? cols : rows; n = tr ? rows : cols;    /* a is [m, n], m >= n */
    mk = dl_ctx_mark(ctx);
    a = (double *)dl__alloc(ctx, sizeof(double) * (size_t)(m * n + 1), 0, &ok);
    if (!ok) return;
    for (i = 0; i < rows; i++) for (j = 0; j < cols; j++) {
        double z = (double)dl_rand_normal(ctx);
        if (a) { if (tr) a[j * n + i] = z; else a[i * n + j] = z; }
    }
    if (a && t->data && dl__pull_gaps(t)) {
        for (j = 0; j < n; j++) {                 /* columns of a, orthonormalized in place */
            double nrm = 0.0;
            for (k = 0; k < j; k++) {
                double dot = 0.0;
                for (i = 0; i < m; i++) dot += a[i * n + k] * a[i * n + j];
                for (i = 0; i < m; i++) a[i * n + j] -= dot * a[i * n + k];
            }
            for (i = 0; i < m; i++) nrm += a[i * n + j] * a[i * n + j];
            nrm = sqrt(nrm);
            for (i = 0; i < m; i++) a[i * n + j] = nrm > 0.0 ? a[i * n + j] / nrm : 0.0;
        }
        for (i = 0; i < rows; i++) for (j = 0; j < cols; j++)
            dl__set_host(t, i * cols + j, (float)((gain == 0.0f ? 1.0 : (double)gain) * (tr ? a[j * n + i] : a[i * n + j])));
        dl__push(ctx, t);
    }
    dl_ctx_rewind(ctx, mk);
}

/* ======================================================================================
   >>optim  torch.optim's update rules (1.13, single-tensor form). State lives in the arena.
   ====================================================================================== */
enum { DL__MAX_GROUPS = 16 };
typedef struct dl__group { float lr, weight_decay; } dl__group;
struct dl_optim {
    dl_ctx *ctx;
    dl_optim_desc d;
    int n, cap, ngroups;
    dl_tensor **p;
    float **s1, **s2, **s3;     /* per-param state: momentum/exp_avg/sum; square_avg/exp_avg_sq; max/grad_avg */
    int64_t *step;
    int *group;
    dl__group groups[DL__MAX_GROUPS];
    dl_optim_args *be_args;     /* a backend's fused update (recs sized max_params)      */
};
DL__API dl_optim *dl_optim_new(dl_ctx *ctx, const dl_optim_desc *desc, int max_params) {
    dl_optim *o; int ok;
    if (!ctx) return NULL;
    ctx->op = "dl_optim_new";
    if (ctx->status) return NULL;
    if (!desc || desc->kind < DL_SGD || desc->kind > DL_ADAMW || max_params <= 0) {
        dl__fail1(ctx, DL_STATUS_INVALID, "needs a desc with a known kind and max_params > 0 (got %d)", DL__A(&max_params));
        return NULL;
    }
    o = (dl_optim *)dl__alloc(ctx, sizeof(dl_optim), 1, &ok);
    if (!ok) return NULL;
    memset(o, 0, sizeof *o);
    o->ctx = ctx; o->d = *desc; o->cap = max_params;
    if (o->d.lr == 0.0f) o->d.lr = (o->d.kind == DL_ADAM || o->d.kind == DL_ADAMW) ? 1e-3f : 1e-2f;
    if (o->d.kind == DL_ADAMW && o->d.weight_decay == 0.0f) o->d.weight_decay = 1e-2f;
    if (o->d.no_weight_decay) o->d.weight_decay = 0.0f;
    if (o->d.alpha == 0.0f) o->d.alpha = 0.99f;
    if (o->d.eps == 0.0f) o->d.eps = o->d.kind == DL_ADAGRAD ? 1e-10f : 1e-8f;
    if (o->d.beta1 == 0.0f) o->d.beta1 = 0.9f;
    if (o->d.beta2 == 0.0f) o->d.beta2 = 0.999f;
    if (o->d.nesterov && (o->d.momentum <= 0.0f || o->d.dampening != 0.0f)) {
        dl__fail0(ctx, DL_STATUS_INVALID, "nesterov needs momentum > 0 and dampening 0"); return NULL;
    }
    o->p = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)max_params, 1, &ok);
    if (ok) o->s1 = (float **)dl__alloc(ctx, sizeof(float *) * (size_t)max_params, 1, &ok);
    if (ok) o->s2 = (float **)dl__alloc(ctx, sizeof(float *) * (size_t)max_params, 1, &ok);
    if (ok) o->s3 = (float **)dl__alloc(ctx, sizeof(float *) * (size_t)max_params, 1, &ok);
    if (ok) o->step = (int64_t *)dl__alloc(ctx, sizeof(int64_t) * (size_t)max_params, 1, &ok);
    if (ok) o->group = (int *)dl__alloc(ctx, sizeof(int) * (size_t)max_params, 1, &ok);
    if (ok && ctx->be) {
        o->be_args = (dl_optim_args *)dl__alloc(ctx, sizeof(dl_optim_args), 1, &ok);
        if (ok) { memset(o->be_args, 0, sizeof *o->be_args); o->be_args->recs = (dl_optim_rec *)dl__alloc(ctx, sizeof(dl_optim_rec) * (size_t)max_params, 0, &ok); }
    }
    return ok ? o : NULL;
}
static float *dl__state(dl_ctx *ctx, int64_t n, float init) {
    int ok; int64_t i; float *s = (float *)dl__alloc(ctx, sizeof(float) * (size_t)n, 0, &ok);
    if (s) { for (i = 0; i < n; i++) s[i] = init; dl__push_bytes(ctx, s, sizeof(float) * (size_t)n); }
    return s;
}
DL__API int dl_optim_add(dl_optim *o, dl_tensor *const *params, int n, const dl_group_desc *g) {
    dl_ctx *ctx; int i, gi;
    if (!o) return -1;
    ctx = o->ctx; ctx->op = "dl_optim_add";
    if (ctx->status) return -1;
    if (!params || n < 0 || o->n + n > o->cap || o->ngroups >= DL__MAX_GROUPS) {
        int left = o->cap - o->n;
        dl__fail2(ctx, DL_STATUS_INVALID, "%d params do not fit (%d places left, or 16 groups used)", DL__A(&n), DL__A(&left));
        return -1;
    }
    gi = o->ngroups++;
    o->groups[gi].lr = (g && (g->set & DL_GROUP_LR)) ? g->lr : o->d.lr;
    o->groups[gi].weight_decay = (g && (g->set & DL_GROUP_WEIGHT_DECAY)) ? g->weight_decay : o->d.weight_decay;
    for (i = 0; i < n; i++) {
        dl_tensor *p = params[i]; int k = o->n; int64_t ne;
        if (!dl__arg(ctx, p, i + 1, DL_F32)) return -1;
        if (!p->requires_grad || !dl_is_contiguous(p)) { dl__fail1(ctx, DL_STATUS_INVALID, "param %d needs requires_grad and contiguous storage", DL__A(&i)); return -1; }
        ne = p->numel;
        o->p[k] = p; o->group[k] = gi; o->step[k] = 0;
        o->s1[k] = dl__state(ctx, ne, o->d.kind == DL_ADAGRAD ? o->d.initial_accumulator_value : 0.0f);
        o->s2[k] = (o->d.kind == DL_SGD || o->d.kind == DL_ADAGRAD) ? NULL : dl__state(ctx, ne, 0.0f);
        {   int rms = o->d.kind == DL_RMSPROP, adam = o->d.kind == DL_ADAM || o->d.kind == DL_ADAMW;
            int64_t n3 = rms ? ne * ((o->d.centered != 0) + (o->d.momentum > 0.0f)) : (adam && o->d.amsgrad ? ne : 0);
            o->s3[k] = n3 ? dl__state(ctx, n3, 0.0f) : NULL; }
        if (ctx->status) return -1;
        o->n++;
    }
    return gi;
}
/* rmsprop keeps momentum in s3 and grad_avg (centered) in its own second half */
/* AVX versions of the two hottest update loops: the same operations in the same order as
   the scalar loops below (mul, add, div and sqrt are exact in IEEE), so the bits match as
   long as the compiler does not fuse the scalar loop's mul + add into an FMA (it cannot
   without -mfma / -march=native; C++ and GNU C allow fusing where FMA exists) */
#if defined(DL__X86_64)
__attribute__((target("avx")))   /* no "fma": the compiler must not fuse mul + add here */
static int64_t dl__sgd_mom_avx(int64_t n, float *p, const float *gr, float *s1, float lr, float wd, float mom, float damp) {
    const __m256 vlr = _mm256_set1_ps(lr), vwd = _mm256_set1_ps(wd), vm = _mm256_set1_ps(mom), vd = _mm256_set1_ps(damp);
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 pv = _mm256_loadu_ps(p + i), g = _mm256_add_ps(_mm256_loadu_ps(gr + i), _mm256_mul_ps(vwd, pv));
        const __m256 m = _mm256_add_ps(_mm256_mul_ps(vm, _mm256_loadu_ps(s1 + i)), _mm256_mul_ps(vd, g));
        _mm256_storeu_ps(s1 + i, m); _mm256_storeu_ps(p + i, _mm256_sub_ps(pv, _mm256_mul_ps(vlr, m)));
    }
    return i;
}
__attribute__((target("avx")))
static int64_t dl__adam_avx(int64_t n, float *p, const float *gr, float *s1, float *s2, float step, float b1, float b2,
                            float c1, float c2, float bc2s, float eps) {
    const __m256 vs = _mm256_set1_ps(step), vb1 = _mm256_set1_ps(b1), vb2 = _mm256_set1_ps(b2), vc1 = _mm256_set1_ps(c1);
    const __m256 vc2 = _mm256_set1_ps(c2), vbc = _mm256_set1_ps(bc2s), ve = _mm256_set1_ps(eps);
    int64_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gr + i);
        const __m256 m = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(s1 + i), vb1), _mm256_mul_ps(vc1, g));
        const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(s2 + i), vb2), _mm256_mul_ps(_mm256_mul_ps(vc2, g), g));
        const __m256 den = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(v), vbc), ve);
        _mm256_storeu_ps(s1 + i, m); _mm256_storeu_ps(s2 + i, v);
        _mm256_storeu_ps(p + i, _mm256_sub_ps(_mm256_loadu_ps(p + i), _mm256_mul_ps(vs, _mm256_div_ps(m, den))));
    }
    return i;
}
#endif
/* elements [lo, hi) of parameter k at step t (every update is elementwise: any split of a
   tensor gives the same bits) */
static void dl__optim_range(dl_optim *o, int k, int64_t t, int64_t lo, int64_t hi) {
    const dl_optim_desc *d = &o->d; dl_tensor *pt = o->p[k]; float *p = pt->data + lo; const float *gr = pt->grad + lo;
    float *s1 = o->s1[k] ? o->s1[k] + lo : NULL, *s2 = o->s2[k] ? o->s2[k] + lo : NULL, *s3 = o->s3[k] ? o->s3[k] + lo : NULL;
    float lr = o->groups[o->group[k]].lr, wd = o->groups[o->group[k]].weight_decay;
    int64_t i, n = hi - lo;
    switch (d->kind) {
    case DL_SGD: {   /* options hoisted out of the loops: one branch-free loop per variant */
        const float mom = d->momentum, damp = 1.0f - d->dampening;
        if (mom == 0.0f) for (i = 0; i < n; i++) p[i] -= lr * (gr[i] + wd * p[i]);
        else if (d->nesterov) for (i = 0; i < n; i++) {
            const float g = gr[i] + wd * p[i], m = t == 1 ? g : mom * s1[i] + damp * g;
            s1[i] = m; p[i] -= lr * (g + mom * m);
        }
        else if (t == 1) for (i = 0; i < n; i++) { const float g = gr[i] + wd * p[i]; s1[i] = g; p[i] -= lr * g; }
        else {
            i = 0;
#if defined(DL__X86_64)
            if (o->ctx->isa == DL_ISA_AVX2 || o->ctx->isa == DL_ISA_AVX512) i = dl__sgd_mom_avx(n, p, gr, s1, lr, wd, mom, damp);
#endif
            for (; i < n; i++) {
                const float m = mom * s1[i] + damp * (gr[i] + wd * p[i]);
                s1[i] = m; p[i] -= lr * m;
            }
        }
        break; }
    case DL_ADAGRAD: {
        float clr = (float)((double)lr / (1.0 + (double)(t - 1) * (double)d->lr_decay));
        for (i = 0; i < n; i++) {
            float g = gr[i] + wd * p[i];
            s1[i] += g * g;
            p[i] -= clr * (g / (sqrtf(s1[i]) + d->eps));
        }
        break; }
    case DL_RMSPROP: {
        float *gavg = d->centered ? s3 + (d->momentum > 0.0f ? pt->numel : 0) : NULL, *buf = d->momentum > 0.0f ? s3 : NULL;   /* s3: [buf | gavg] */
        for (i = 0; i < n; i++) {
            float g = gr[i] + wd * p[i], avg;
            s2[i] = d->alpha * s2[i] + (1.0f - d->alpha) * g * g;
            if (gavg) { gavg[i] = d->alpha * gavg[i] + (1.0f - d->alpha) * g; avg = sqrtf(s2[i] - gavg[i] * gavg[i]) + d->eps; }
            else avg = sqrtf(s2[i]) + d->eps;
            if (buf) { buf[i] = d->momentum * buf[i] + g / avg; p[i] -= lr * buf[i]; }
            else p[i] -= lr * (g / avg);
        }
        break; }
    case DL_ADAM: case DL_ADAMW: {
        double bc1 = 1.0 - pow((double)d->beta1, (double)t), bc2 = 1.0 - pow((double)d->beta2, (double)t);
        float step_size = (float)((double)lr / bc1), bc2s = (float)sqrt(bc2);
        const float b1 = d->beta1, b2 = d->beta2, c1 = 1.0f - d->beta1, c2 = 1.0f - d->beta2, eps = d->eps;
        const float decay = d->kind == DL_ADAMW ? 1.0f - lr * wd : 1.0f, l2 = d->kind == DL_ADAMW ? 0.0f : wd;
        if (!s3 && d->kind == DL_ADAM && wd == 0.0f) {   /* the common case */
            i = 0;
#if defined(DL__X86_64)
            if (o->ctx->isa == DL_ISA_AVX2 || o->ctx->isa == DL_ISA_AVX512) i = dl__adam_avx(n, p, gr, s1, s2, step_size, b1, b2, c1, c2, bc2s, eps);
#endif
            for (; i < n; i++) {
                const float g = gr[i], m = s1[i] * b1 + c1 * g, v = s2[i] * b2 + c2 * g * g;
                s1[i] = m; s2[i] = v; p[i] -= step_size * (m / (sqrtf(v) / bc2s + eps));
            }
        }
        else for (i = 0; i < n; i++) {
            float g = gr[i], denom;
            if (d->kind == DL_ADAMW) p[i] *= decay; else g += l2 * p[i];
            s1[i] = s1[i] * b1 + c1 * g;
            s2[i] = s2[i] * b2 + c2 * g * g;
            if (s3) { if (s2[i] > s3[i]) s3[i] = s2[i]; denom = sqrtf(s3[i]) / bc2s + eps; }
            else denom = sqrtf(s2[i]) / bc2s + eps;
            p[i] -= step_size * (s1[i] / denom);
        }
        break; }
    default: break;
    }
}
/* on a backend: this step's records (device pointers, scalars) uploaded, one fused update */
static void dl__optim_be(dl_optim *o) {
    dl_ctx *ctx = o->ctx; dl_optim_args *a = o->be_args; const dl_optim_desc *d = &o->d; int k, n = 0;
    if (!ctx->be->optim) { ctx->op = "dl_optim_step"; dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "no optimizer kernel on the %s backend", DL__A(ctx->be->name)); return; }
    a->kind = d->kind; a->momentum = d->momentum; a->dampening = d->dampening; a->alpha = d->alpha; a->eps = d->eps;
    a->beta1 = d->beta1; a->beta2 = d->beta2; a->nesterov = d->nesterov; a->centered = d->centered; a->amsgrad = d->amsgrad;
    a->max_numel = 0;
    for (k = 0; k < o->n; k++) {
        dl_tensor *p = o->p[k]; dl_optim_rec *r = &a->recs[n]; int64_t t;
        float lr = o->groups[o->group[k]].lr, wd = o->groups[o->group[k]].weight_decay;
        if (!p->grad) continue;
        t = ++o->step[k];
        r->p = (float *)dl__devp(ctx, p->data); r->g = (float *)dl__devp(ctx, p->grad);
        r->s1 = (float *)dl__devp(ctx, o->s1[k]); r->s2 = (float *)dl__devp(ctx, o->s2[k]); r->s3 = (float *)dl__devp(ctx, o->s3[k]);
        r->numel = p->numel; r->lr = lr; r->wd = wd; r->t = (float)t;
        {   double bc1 = 1.0 - pow((double)d->beta1, (double)t), bc2 = 1.0 - pow((double)d->beta2, (double)t);
            r->step_size = (float)((double)lr / bc1); r->bc2s = (float)sqrt(bc2); }
        r->decay = d->kind == DL_ADAMW ? 1.0f - lr * wd : 1.0f;
        r->l2 = d->kind == DL_ADAMW ? 0.0f : wd;
        r->clr = (float)((double)lr / (1.0 + (double)(t - 1) * (double)d->lr_decay));
        if (p->numel > a->max_numel) a->max_numel = p->numel;
        n++;
    }
    a->n = n;
    if (!n) return;
    ctx->op = "dl_optim_step";
    dl__push_bytes(ctx, a->recs, sizeof(dl_optim_rec) * (size_t)n);
    dl__be_status(ctx, ctx->be->optim(ctx, a, DL_PHASE_PLAN));
    dl__cmd(ctx, DL__C_OPTIM, NULL, NULL, NULL, (size_t)n, (float)a->max_numel, a);
}
/* a big tensor's update runs in chunks of DL__EW_CHUNK as pool tasks */
typedef struct dl__ojob { dl_optim *o; int k; int64_t t; } dl__ojob;
static void dl__optim_task(void *arg, int64_t c) {
    const dl__ojob *j = (const dl__ojob *)arg; const int64_t n = j->o->p[j->k]->numel, lo = c * DL__EW_CHUNK;
    dl__optim_range(j->o, j->k, j->t, lo, n - lo < DL__EW_CHUNK ? n : lo + DL__EW_CHUNK);
}
DL__API void dl_optim_step(dl_optim *o) {
    int k;
    if (!o || o->ctx->status || o->ctx->measure) return;
    if (o->ctx->be) { dl__optim_be(o); return; }
    for (k = 0; k < o->n; k++) if (o->p[k]->grad) {
        dl__ojob j; j.o = o; j.k = k; j.t = ++o->step[k];
        dl__ew_run(o->ctx, o->p[k]->numel, dl__optim_task, &j);
    }
}
DL__API void dl_optim_zero_grad(dl_optim *o) { int k; if (o) for (k = 0; k < o->n; k++) dl_zero_grad(o->p[k]); }
DL__API void dl_optim_set_lr(dl_optim *o, float lr) {
    int g;
    if (!o) return;
    for (g = 0; g < o->ngroups; g++) o->groups[g].lr = o->d.lr != 0.0f ? o->groups[g].lr * (lr / o->d.lr) : lr;
    o->d.lr = lr;
}
DL__API float dl_optim_get_lr(const dl_optim *o) { return o ? o->d.lr : 0.0f; }
DL__API int dl_optim_num_params(const dl_optim *o) { return o ? o->n : 0; }
DL__API dl_tensor *dl_optim_param(const dl_optim *o, int i) { return (o && i >= 0 && i < o->n) ? o->p[i] : NULL; }

/* ======================================================================================
   >>regularize  clipping, penalties, max-norm, EMA weights, early stopping
   ====================================================================================== */
/* on a backend: per-tensor sums, the norm and the scale on the device (no host round trip
   inside a step); the norm is downloaded only outside dl_step_run (inside, 0 is returned) */
static float dl__clip_be(dl_ctx *ctx, dl_tensor *const *params, int n, float max_norm) {
    dl_clip_args *a; dl_optim_rec *recs; float *scr; int ok, k, m = 0;
    ctx->op = "dl_clip_grad_norm";
    if (ctx->status) return 0.0f;
    if (!ctx->be->clip) { dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "no clipping kernel on the %s backend", DL__A(ctx->be->name)); return 0.0f; }
    a = (dl_clip_args *)dl__alloc(ctx, sizeof *a, 1, &ok);
    if (!ok) return 0.0f;
    recs = (dl_optim_rec *)dl__alloc(ctx, sizeof(dl_optim_rec) * (size_t)(n > 0 ? n : 1), 0, &ok);
    if (!ok) return 0.0f;
    scr = (float *)dl__alloc(ctx, sizeof(float) * (size_t)(n + 2), 0, &ok);
    if (!ok) return 0.0f;
    memset(a, 0, sizeof *a);
    for (k = 0; k < n; k++) if (params[k] && params[k]->grad) {
        memset(&recs[m], 0, sizeof recs[m]);
        recs[m].g = (float *)dl__devp(ctx, params[k]->grad); recs[m].numel = params[k]->numel;
        if (params[k]->numel > a->max_numel) a->max_numel = params[k]->numel;
        m++;
    }
    a->n = m; a->max_norm = max_norm; a->recs = recs; a->scratch = scr;
    if (!m) return 0.0f;
    dl__push_bytes(ctx, recs, sizeof(dl_optim_rec) * (size_t)m);
    dl__be_status(ctx, ctx->be->clip(ctx, a, DL_PHASE_PLAN));
    dl__cmd(ctx, DL__C_CLIP, NULL, NULL, NULL, (size_t)m, max_norm, a);
    if (ctx->rec || !dl__pull_bytes(ctx, scr + m, sizeof(float))) return 0.0f;
    return scr[m];
}
DL__API float dl_clip_grad_norm(dl_tensor *const *params, int n, float max_norm) {
    double s = 0.0; int k; int64_t i; float total, coef;
    for (k = 0; k < n; k++) if (params[k] && params[k]->ctx && params[k]->ctx->be) return dl__clip_be(params[k]->ctx, params, n, max_norm);
    for (k = 0; k < n; k++) if (params[k] && params[k]->grad) for (i = 0; i < params[k]->numel; i++) s += (double)params[k]->grad[i] * (double)params[k]->grad[i];
    total = (float)sqrt(s);
    coef = max_norm / (total + 1e-6f);
    if (coef < 1.0f)
        for (k = 0; k < n; k++) if (params[k] && params[k]->grad) for (i = 0; i < params[k]->numel; i++) params[k]->grad[i] *= coef;
    return total;
}
DL__API void dl_clip_grad_value(dl_tensor *const *params, int n, float clip) {
    int k; int64_t i;
    for (k = 0; k < n; k++) if (params[k] && params[k]->grad && dl__pull_grad(params[k])) {  /* on the host */
        for (i = 0; i < params[k]->numel; i++) {
            float *g = &params[k]->grad[i];
            if (*g > clip) *g = clip; else if (*g < -clip) *g = -clip;
        }
        dl__push_grad(params[k]);
    }
}
static dl_tensor *dl__penalty(dl_ctx *ctx, dl_tensor *const *params, int n, int l1) {
    dl_tensor *s = NULL; int k;
    if (!params || n <= 0) return dl__fail0(ctx, DL_STATUS_INVALID, "no params");
    for (k = 0; k < n; k++) {
        dl_tensor *t = dl_sum_all(ctx, l1 ? dl_abs(ctx, params[k]) : dl_square(ctx, params[k]));
        s = s ? dl_add(ctx, s, t) : t;
    }
    return l1 ? s : dl_mul_scalar(ctx, s, 0.5f);
}
DL__API dl_tensor *dl_l1_penalty(dl_ctx *ctx, dl_tensor *const *params, int n) { DL__ENTER(ctx, "dl_l1_penalty"); return dl__penalty(ctx, params, n, 1); }
DL__API dl_tensor *dl_l2_penalty(dl_ctx *ctx, dl_tensor *const *params, int n) { DL__ENTER(ctx, "dl_l2_penalty"); return dl__penalty(ctx, params, n, 0); }
DL__API void dl_max_norm(dl_tensor *w, float max_norm) {
    int64_t r, rows, cols, j;
    if (dl_is_poison(w) || !w->data || w->ndim < 1 || !dl_is_contiguous(w) || !dl__pull(w)) return;
    rows = w->shape[0]; cols = rows ? w->numel / rows : 0;
    for (r = 0; r < rows; r++) {
        float *row = w->data + r * cols; double s = 0.0; float nrm;
        for (j = 0; j < cols; j++) s += (double)row[j] * (double)row[j];
        nrm = (float)sqrt(s);
        if (nrm > max_norm) { float c = max_norm / (nrm + 1e-7f); for (j = 0; j < cols; j++) row[j] *= c; }
    }
    dl__push(w->ctx, w);
}
static dl_tensor **dl__copies(dl_ctx *ctx, dl_tensor *const *params, int n) {
    int ok, k; dl_tensor **c = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)(n > 0 ? n : 1), 1, &ok);
    if (!ok) return NULL;
    for (k = 0; k < n; k++) {
        c[k] = dl__new(ctx, dl_shape_of(params[k]), DL_F32, 1);
        if (ctx->status) return NULL;
        if (c[k]->data) { dl_copy_to(params[k], c[k]->data); dl__push(ctx, c[k]); }
    }
    return c;
}
DL__API void dl_ema_init(dl_ctx *ctx, dl_ema *e, dl_tensor *const *params, int n, float decay) {
    int ok;
    if (!ctx || !e) return;
    memset(e, 0, sizeof *e); ctx->op = "dl_ema_init";
    e->params = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)(n > 0 ? n : 1), 1, &ok);
    if (!ok) return;
    memcpy(e->params, params, sizeof(dl_tensor *) * (size_t)n);
    e->shadow = dl__copies(ctx, params, n);
    if (e->shadow) { e->n = n; e->decay = decay; }
}
DL__API void dl_ema_update(dl_ema *e) {
    int k; int64_t i;
    for (k = 0; e && k < e->n; k++) {
        float *s = e->shadow[k]->data; const dl_tensor *p = e->params[k];
        if (!s || !p->data || !dl__pull(p) || !dl__pull(e->shadow[k])) continue;
        for (i = 0; i < p->numel; i++) s[i] = e->decay * s[i] + (1.0f - e->decay) * p->data[dl__offset_of(p, i)];
        dl__push(e->shadow[k]->ctx, e->shadow[k]);
    }
}
DL__API void dl_ema_swap(dl_ema *e) {
    int k; int64_t i;
    for (k = 0; e && k < e->n; k++) {
        float *s = e->shadow[k]->data; dl_tensor *p = e->params[k];
        if (!s || !p->data || !dl__pull(p) || !dl__pull(e->shadow[k])) continue;
        for (i = 0; i < p->numel; i++) { float *q = p->data + dl__offset_of(p, i), v = *q; *q = s[i]; s[i] = v; }
        dl__push(p->ctx, p); dl__push(e->shadow[k]->ctx, e->shadow[k]);
    }
}
DL__API void dl_early_stop_init(dl_ctx *ctx, dl_early_stop *es, dl_tensor *const *params, int n, int patience, int mode_max) {
    int ok;
    if (!ctx || !es) return;
    memset(es, 0, sizeof *es); ctx->op = "dl_early_stop_init";
    es->params = (dl_tensor **)dl__alloc(ctx, sizeof(dl_tensor *) * (size_t)(n > 0 ? n : 1), 1, &ok);
    if (!ok) return;
    memcpy(es->params, params, sizeof(dl_tensor *) * (size_t)n);
    es->best = dl__copies(ctx, params, n);
    if (!es->best) return;
    es->n = n; es->patience = patience; es->mode_max = mode_max; es->best_epoch = -1;
    es->best_metric = mode_max ? -INFINITY : INFINITY;
}
DL__API int dl_early_stop_update(dl_early_stop *es, float metric) {
    int better, k;
    if (!es || !es->best) return 0;
    better = es->mode_max ? metric > es->best_metric : metric < es->best_metric;
    if (better) {
        es->best_metric = metric; es->best_epoch = es->epoch; es->bad_epochs = 0;
        for (k = 0; k < es->n; k++) if (es->best[k]->data) { dl_copy_to(es->params[k], es->best[k]->data); dl__push(es->best[k]->ctx, es->best[k]); }
    } else es->bad_epochs++;
    es->epoch++;
    return es->bad_epochs >= es->patience;
}
DL__API void dl_early_stop_restore(dl_early_stop *es) {
    int k;
    if (!es || !es->best) return;
    for (k = 0; k < es->n; k++) if (es->best[k]->data && dl__pull(es->best[k])) dl_copy_from(es->params[k], es->best[k]->data);
}

/* ======================================================================================
   >>schedule  torch.optim.lr_scheduler in closed form; ReduceLROnPlateau as a state machine
   ====================================================================================== */
DL__API float dl_sched_lr(const dl_sched_desc *s, int epoch) {
    double base, g;
    if (!s || epoch < 0) return 0.0f;
    base = (double)s->base_lr;
    g = s->gamma != 0.0f ? (double)s->gamma : 0.1;
    switch (s->kind) {
    case DL_SCHED_STEP: return (float)(base * pow(g, (double)(s->step_size > 0 ? epoch / s->step_size : 0)));
    case DL_SCHED_MULTISTEP: { int i, k = 0; for (i = 0; i < s->n_milestones; i++) if (s->milestones && epoch >= s->milestones[i]) k++;
                               return (float)(base * pow(g, (double)k)); }
    case DL_SCHED_EXPONENTIAL: return (float)(base * pow((double)s->gamma, (double)epoch));
    case DL_SCHED_COSINE: { double tm = s->t_max > 0 ? (double)s->t_max : 1.0;
                            return (float)((double)s->eta_min + (base - (double)s->eta_min) * (1.0 + cos(3.14159265358979323846 * (double)epoch / tm)) / 2.0); }
    case DL_SCHED_WARMUP: { int tot = s->warmup_epochs > 0 ? s->warmup_epochs : 5;
                            double sf = s->start_factor != 0.0f ? (double)s->start_factor : 1.0 / 3.0;
                            int e = epoch < tot ? epoch : tot;
                            return (float)(base * (sf + (1.0 - sf) * (double)e / (double)tot)); }
    default: return s->base_lr;
    }
}
DL__API void dl_plateau_init(dl_plateau *p, float lr, float factor, int patience, int mode_max) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->lr = lr; p->factor = factor != 0.0f ? factor : 0.1f; p->patience = patience; p->mode_max = mode_max;
    p->threshold = 1e-4f; p->best = mode_max ? -INFINITY : INFINITY;
}
DL__API float dl_plateau_step(dl_plateau *p, float metric) {
    int better;
    if (!p) return 0.0f;
    better = p->mode_max ? (double)metric > (double)p->best * (1.0 + (double)p->threshold)
                         : (double)metric < (double)p->best * (1.0 - (double)p->threshold);
    if (better) { p->best = metric; p->bad = 0; } else p->bad++;
    if (p->cool > 0) { p->cool--; p->bad = 0; }
    if (p->bad > p->patience) {
        float nl = p->lr * p->factor; if (nl < p->min_lr) nl = p->min_lr;
        if (p->lr - nl > 1e-8f) p->lr = nl;
        p->cool = p->cooldown; p->bad = 0;
    }
    return p->lr;
}

/* ======================================================================================
   >>data  shuffles and minibatches from the context's RNG
   ====================================================================================== */
DL__API void dl_shuffle(dl_ctx *ctx, int32_t *perm, int64_t n) {
    int64_t i;
    if (!ctx || !perm) return;
    for (i = 0; i < n; i++) perm[i] = (int32_t)i;
    for (i = n - 1; i > 0; i--) {            /* Fisher-Yates */
        int64_t j = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(i + 1)); int32_t t = perm[i];
        perm[i] = perm[j]; perm[j] = t;
    }
}
DL__API dl_tensor *dl_batch_rows(dl_ctx *ctx, const float *data, int64_t row_len, const int32_t *rows, int64_t n, dl_shape s) {
    dl_tensor *t; int64_t i;
    DL__ENTER(ctx, "dl_batch_rows");
    t = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if ((!data && !ctx->measure) || !rows || t->numel != n * row_len)   /* measure mode: data may be NULL */
        return dl__fail2(ctx, DL_STATUS_SHAPE, "shape %T does not hold %I rows (or data/rows NULL)", DL__A(t), DL__A(&n));
    if (t->data) { for (i = 0; i < n; i++) memcpy(t->data + i * row_len, data + (int64_t)rows[i] * row_len, (size_t)row_len * sizeof(float)); dl__push(ctx, t); }
    return t;
}
DL__API dl_tensor *dl_batch_rows_u8(dl_ctx *ctx, const unsigned char *data, int64_t row_len, const int32_t *rows, int64_t n, dl_shape s, float scale) {
    dl_tensor *t; int64_t i, j;
    DL__ENTER(ctx, "dl_batch_rows_u8");
    t = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if ((!data && !ctx->measure) || !rows || t->numel != n * row_len)   /* measure mode: data may be NULL */
        return dl__fail2(ctx, DL_STATUS_SHAPE, "shape %T does not hold %I rows (or data/rows NULL)", DL__A(t), DL__A(&n));
    if (t->data) {
        for (i = 0; i < n; i++) {
            const unsigned char *src = data + (int64_t)rows[i] * row_len; float *dst = t->data + i * row_len;
            for (j = 0; j < row_len; j++) dst[j] = (float)src[j] * scale;
        }
        dl__push(ctx, t);
    }
    return t;
}
DL__API dl_tensor *dl_batch_labels(dl_ctx *ctx, const int32_t *labels, const int32_t *rows, int64_t n) {
    dl_tensor *t; int64_t i;
    DL__ENTER(ctx, "dl_batch_labels");
    t = dl__new(ctx, dl_shape1(n), DL_I32, 1);
    if (ctx->status) return &ctx->poison;
    if (!labels || !rows) return dl__fail0(ctx, DL_STATUS_INVALID, "labels/rows NULL");
    if (t->idata) { for (i = 0; i < n; i++) t->idata[i] = labels[rows[i]]; dl__push(ctx, t); }
    return t;
}

/* ======================================================================================
   >>metrics
   ====================================================================================== */
DL__API float dl_accuracy(const dl_tensor *logits, const dl_tensor *labels) {
    int64_t n, c, i, j, hit = 0;
    if (dl_is_poison(logits) || dl_is_poison(labels) || logits->ndim != 2 || labels->dtype != DL_I32 || labels->numel != logits->shape[0]) return 0.0f;
    n = logits->shape[0]; c = logits->shape[1];
    if (n == 0 || c == 0) return 0.0f;
    if (!dl__pull(logits) || !dl__pull(labels)) return 0.0f;   /* one download each */
    for (i = 0; i < n; i++) {
        int64_t best = 0; float bv = dl__host_get(logits, i * c);
        for (j = 1; j < c; j++) { float v = dl__host_get(logits, i * c + j); if (v > bv) { bv = v; best = j; } }
        hit += best == dl__host_get_index(labels, i);
    }
    return (float)((double)hit / (double)n);
}
DL__API void dl_confusion_matrix(const int32_t *pred, const int32_t *truth, int64_t n, int k, int64_t *cm) {
    int64_t i;
    if (!pred || !truth || !cm || k <= 0) return;
    for (i = 0; i < (int64_t)k * k; i++) cm[i] = 0;
    for (i = 0; i < n; i++) if (pred[i] >= 0 && pred[i] < k && truth[i] >= 0 && truth[i] < k) cm[(int64_t)truth[i] * k + pred[i]]++;
}
static double dl__ratio(double a, double b) { return b > 0.0 ? a / b : 0.0; }
DL__API dl_prf dl_prf_macro(const int64_t *cm, int k) {
    dl_prf r; double sp = 0, sr = 0, sf = 0; int c, j;
    r.precision = r.recall = r.f1 = 0.0f;
    if (!cm || k <= 0) return r;
    for (c = 0; c < k; c++) {
        double tp = (double)cm[c * k + c], col = 0, row = 0, p, rc;
        for (j = 0; j < k; j++) { col += (double)cm[j * k + c]; row += (double)cm[c * k + j]; }
        p = dl__ratio(tp, col); rc = dl__ratio(tp, row);
        sp += p; sr += rc; sf += dl__ratio(2.0 * p * rc, p + rc);
    }
    r.precision = (float)(sp / k); r.recall = (float)(sr / k); r.f1 = (float)(sf / k);
    return r;
}
DL__API dl_prf dl_prf_micro(const int64_t *cm, int k) {
    dl_prf r; double tp = 0, all = 0; int i;
    r.precision = r.recall = r.f1 = 0.0f;
    if (!cm || k <= 0) return r;
    for (i = 0; i < k * k; i++) { all += (double)cm[i]; if (i / k == i % k) tp += (double)cm[i]; }
    /* single-label multiclass: every false positive is some class's false negative */
    r.precision = r.recall = r.f1 = (float)dl__ratio(tp, all);
    return r;
}

/* ======================================================================================
   >>io  CRC-32, a small inflate (RFC 1951) for gzip'd IDX files, and the weights format
   ====================================================================================== */
static uint32_t dl__le32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t dl__crc32(uint32_t crc, const unsigned char *p, size_t n) {
    static uint32_t table[256]; static int ready;   /* written once, same values every time */
    size_t i;
    if (!ready) {
        uint32_t c, k, b;
        for (k = 0; k < 256; k++) { c = k; for (b = 0; b < 8; b++) c = (c & 1u) ? 0xedb88320u ^ (c >> 1) : c >> 1; table[k] = c; }
        ready = 1;
    }
    crc = ~crc;
    for (i = 0; i < n; i++) crc = table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return ~crc;
}
#ifndef DL_NO_STDIO
/* inflate: canonical Huffman codes decoded by counting codes per length */
typedef struct dl__inf {
    const unsigned char *in; size_t inlen, pos; uint32_t bitbuf; int bitcnt;
    unsigned char *out; size_t outlen, outpos; int err;
} dl__inf;
typedef struct dl__huff { short count[16]; short symbol[320]; } dl__huff;
static int dl__bits(dl__inf *s, int need) {
    uint32_t v = s->bitbuf;
    while (s->bitcnt < need) {
        if (s->pos >= s->inlen) { s->err = 1; return 0; }
        v |= (uint32_t)s->in[s->pos++] << s->bitcnt; s->bitcnt += 8;
    }
    s->bitbuf = v >> need; s->bitcnt -= need;
    return (int)(v & ((1u << need) - 1u));
}
static int dl__decode(dl__inf *s, const dl__huff *h) {
    int len, code = 0, first = 0, index = 0;
    for (len = 1; len < 16; len++) {
        int count;
        code |= dl__bits(s, 1);
        if (s->err) return -1;
        count = h->count[len];
        if (code - count < first) return h->symbol[index + (code - first)];
        index += count; first += count; first <<= 1; code <<= 1;
    }
    s->err = 1; return -1;
}
static int dl__build(dl__huff *h, const short *lengths, int n) {
    short offs[16]; int sym, len, left = 1;
    for (len = 0; len < 16; len++) h->count[len] = 0;
    for (sym = 0; sym < n; sym++) h->count[lengths[sym]]++;
    if (h->count[0] == n) return 0;
    for (len = 1; len < 16; len++) { left <<= 1; left -= h->count[len]; if (left < 0) return -1; }
    offs[1] = 0;
    for (len = 1; len < 15; len++) offs[len + 1] = (short)(offs[len] + h->count[len]);
    for (sym = 0; sym < n; sym++) if (lengths[sym]) h->symbol[offs[lengths[sym]]++] = (short)sym;
    return left;
}
static int dl__codes(dl__inf *s, const dl__huff *lc, const dl__huff *dc) {
    static const short lbase[29] = {3,4,5,6,7,8,9,10,11,13,15,17,19,23,27,31,35,43,51,59,67,83,99,115,131,163,195,227,258};
    static const short lext[29] = {0,0,0,0,0,0,0,0,1,1,1,1,2,2,2,2,3,3,3,3,4,4,4,4,5,5,5,5,0};
    static const short dbase[30] = {1,2,3,4,5,7,9,13,17,25,33,49,65,97,129,193,257,385,513,769,1025,1537,2049,3073,4097,6145,8193,12289,16385,24577};
    static const short dext[30] = {0,0,0,0,1,1,2,2,3,3,4,4,5,5,6,6,7,7,8,8,9,9,10,10,11,11,12,12,13,13};
    for (;;) {
        int sym = dl__decode(s, lc);
        if (s->err || sym < 0) return -1;
        if (sym < 256) { if (s->outpos >= s->outlen) return -1; s->out[s->outpos++] = (unsigned char)sym; }
        else if (sym == 256) return 0;
        else {
            size_t len, dist; int ds;
            sym -= 257; if (sym >= 29) return -1;
            len = (size_t)lbase[sym] + (size_t)dl__bits(s, lext[sym]);
            ds = dl__decode(s, dc); if (s->err || ds < 0 || ds >= 30) return -1;
            dist = (size_t)dbase[ds] + (size_t)dl__bits(s, dext[ds]);
            if (s->err || dist > s->outpos || len > s->outlen - s->outpos) return -1;
            while (len--) { s->out[s->outpos] = s->out[s->outpos - dist]; s->outpos++; }
        }
    }
}
static int dl__inflate(dl__inf *s) {
    static const short order[19] = {16,17,18,0,8,7,9,6,10,5,11,4,12,3,13,2,14,1,15};
    int last;
    do {
        int type;
        last = dl__bits(s, 1); type = dl__bits(s, 2);
        if (s->err) return -1;
        if (type == 0) {                                    /* stored */
            unsigned len, nlen;
            s->bitbuf = 0; s->bitcnt = 0;
            if (s->pos + 4 > s->inlen) return -1;
            len = s->in[s->pos] | (unsigned)s->in[s->pos + 1] << 8; nlen = s->in[s->pos + 2] | (unsigned)s->in[s->pos + 3] << 8;
            s->pos += 4;
            if (len != (~nlen & 0xffffu) || s->pos + len > s->inlen || len > s->outlen - s->outpos) return -1;
            memcpy(s->out + s->outpos, s->in + s->pos, len); s->pos += len; s->outpos += len;
        } else if (type == 1 || type == 2) {
            dl__huff lc, dc; short lengths[320]; int i;
            if (type == 1) {                                /* fixed codes */
                for (i = 0; i < 144; i++) lengths[i] = 8;
                for (; i < 256; i++) lengths[i] = 9;
                for (; i < 280; i++) lengths[i] = 7;
                for (; i < 288; i++) lengths[i] = 8;
                dl__build(&lc, lengths, 288);
                for (i = 0; i < 30; i++) lengths[i] = 5;
                dl__build(&dc, lengths, 30);
            } else {                                        /* dynamic codes */
                int nlen = dl__bits(s, 5) + 257, ndist = dl__bits(s, 5) + 1, ncode = dl__bits(s, 4) + 4, idx;
                if (s->err || nlen > 286 || ndist > 30) return -1;
                for (i = 0; i < 19; i++) lengths[order[i]] = (short)(i < ncode ? dl__bits(s, 3) : 0);
                if (s->err || dl__build(&lc, lengths, 19) != 0) return -1;
                for (idx = 0; idx < nlen + ndist;) {
                    int sym = dl__decode(s, &lc), len = 0, rep;
                    if (s->err || sym < 0) return -1;
                    if (sym < 16) { lengths[idx++] = (short)sym; continue; }
                    if (sym == 16) { if (idx == 0) return -1; len = lengths[idx - 1]; rep = 3 + dl__bits(s, 2); }
                    else if (sym == 17) rep = 3 + dl__bits(s, 3);
                    else rep = 11 + dl__bits(s, 7);
                    if (s->err || idx + rep > nlen + ndist) return -1;
                    while (rep--) lengths[idx++] = (short)len;
                }
                if (lengths[256] == 0) return -1;
                { int e = dl__build(&lc, lengths, nlen); if (e < 0 || (e > 0 && nlen - lc.count[0] != 1)) return -1; }
                { int e = dl__build(&dc, lengths + nlen, ndist); if (e < 0 || (e > 0 && ndist - dc.count[0] != 1)) return -1; }
            }
            if (dl__codes(s, &lc, &dc)) return -1;
        } else return -1;
    } while (!last);
    return 0;
}

static uint32_t dl__be32(const unsigned char *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static dl_status dl__io_fail(dl_ctx *ctx, dl_status st, const char *what, const char *path) {
    dl__fail2(ctx, st, "%s: %s", DL__A(path), DL__A(what));
    return ctx->status;
}
/* a whole file into the arena at its current top */
static unsigned char *dl__read_file(dl_ctx *ctx, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb"); long sz; int ok; unsigned char *buf;
    if (!f) { dl__io_fail(ctx, DL_STATUS_IO, "cannot open", path); return NULL; }
    if (fseek(f, 0, SEEK_END) || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) { fclose(f); dl__io_fail(ctx, DL_STATUS_IO, "cannot size", path); return NULL; }
    buf = (unsigned char *)dl__alloc(ctx, (size_t)sz, 0, &ok);
    if (!ok || !buf) { fclose(f); return NULL; }
    if (sz && fread(buf, 1, (size_t)sz, f) != (size_t)sz) { fclose(f); dl__io_fail(ctx, DL_STATUS_IO, "read error", path); return NULL; }
    fclose(f);
    *len = (size_t)sz;
    return buf;
}
static dl_status dl__idx_load(dl_ctx *ctx, const char *path, dl_idx *out) {
    size_t len = 0, hdr; unsigned char *raw, *data; dl_mark mk; int d, nd; int64_t count = 1;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_idx_load";
    if (out) memset(out, 0, sizeof *out);
    if (ctx->status) return ctx->status;
    if (!path || !out) { dl__fail0(ctx, DL_STATUS_INVALID, "path/out NULL"); return ctx->status; }
    if (ctx->measure) { dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "not available in measure mode"); return ctx->status; }
    mk = dl_ctx_mark(ctx);
    raw = dl__read_file(ctx, path, &len);
    if (!raw) return ctx->status;
    data = raw;
    if (len >= 18 && raw[0] == 0x1f && raw[1] == 0x8b) {       /* gzip: RFC 1952 */
        size_t p = 10, isize = dl__le32(raw + len - 4); int flg = raw[3], ok; unsigned char *dst; dl__inf s;
        if (raw[2] != 8) return dl__io_fail(ctx, DL_STATUS_FORMAT, "gzip method is not deflate", path);
        if (flg & 4) { if (p + 2 > len) return dl__io_fail(ctx, DL_STATUS_FORMAT, "truncated gzip header", path); p += 2 + (size_t)(raw[p] | raw[p + 1] << 8); }
        if (flg & 8) { while (p < len && raw[p]) p++; p++; }
        if (flg & 16) { while (p < len && raw[p]) p++; p++; }
        if (flg & 2) p += 2;
        if (p + 8 > len) return dl__io_fail(ctx, DL_STATUS_FORMAT, "truncated gzip file", path);
        if (isize / 1032u > len) /* deflate expands at most 1032:1: a cut file shows a wrong size */
            return dl__io_fail(ctx, DL_STATUS_FORMAT, "truncated or corrupt gzip file (implausible size)", path);
        /* the output goes above the compressed input; the input is then moved out of the way */
        dst = (unsigned char *)dl__alloc(ctx, isize ? isize : 1, 0, &ok);
        if (!ok) return ctx->status;
        memset(&s, 0, sizeof s);
        s.in = raw + p; s.inlen = len - 8 - p; s.out = dst; s.outlen = isize;
        if (dl__inflate(&s) || s.outpos != isize) return dl__io_fail(ctx, DL_STATUS_FORMAT, "corrupt or truncated gzip data", path);
        if (dl__crc32(0, dst, isize) != dl__le32(raw + len - 8)) return dl__io_fail(ctx, DL_STATUS_FORMAT, "gzip CRC mismatch", path);
        memmove(raw, dst, isize);                     /* keep only the inflated bytes */
        dl_ctx_rewind(ctx, mk);
        data = (unsigned char *)dl__alloc(ctx, isize ? isize : 1, 0, &ok);
        len = isize;
    }
    if (len < 4 || data[0] != 0 || data[1] != 0 || data[2] != 0x08 || data[3] < 1 || data[3] > 4)
        return dl__io_fail(ctx, DL_STATUS_FORMAT, "not an IDX file of unsigned bytes (bad magic)", path);
    nd = data[3]; hdr = 4 + 4 * (size_t)nd;
    if (len < hdr) return dl__io_fail(ctx, DL_STATUS_FORMAT, "truncated IDX header", path);
    for (d = 0; d < nd; d++) {
        out->shape[d] = dl__be32(data + 4 + 4 * d);
        count *= out->shape[d];                   /* each dim < 2^32, so check before overflow */
        if ((uint64_t)count > (uint64_t)len) return dl__io_fail(ctx, DL_STATUS_FORMAT, "IDX size does not match its header", path);
    }
    if ((size_t)count != len - hdr) return dl__io_fail(ctx, DL_STATUS_FORMAT, "IDX size does not match its header", path);
    out->ndim = nd; out->count = count; out->u8 = data + hdr;
    return DL_STATUS_OK;
}
DL__API dl_status dl_idx_load(dl_ctx *ctx, const char *path, dl_idx *out) {
    dl_mark mk; dl_status st;
    if (!ctx) return DL_STATUS_INVALID;
    mk = dl_ctx_mark(ctx);
    st = dl__idx_load(ctx, path, out);
    if (st) { dl_ctx_rewind(ctx, mk); if (out) memset(out, 0, sizeof *out); }  /* a failed load keeps no memory */
    return st;
}
#endif

/* weights: see the format at >>api-io */
static void dl__put32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8); p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24); }
static size_t dl__name_len(const char *s) { return s ? strlen(s) : 0; }
DL__API size_t dl_save_size(dl_tensor *const *ts, const char *const *names, int n) {
    size_t sz = 12 + 4; int k;
    for (k = 0; k < n; k++) sz += 4 + dl__name_len(names ? names[k] : NULL) + 4 + 8 * (size_t)(ts[k] ? ts[k]->ndim : 0) + 4 + 4 * (size_t)(ts[k] ? ts[k]->numel : 0);
    return sz;
}
DL__API dl_status dl_save_mem(dl_tensor *const *ts, const char *const *names, int n, void *buf, size_t cap) {
    unsigned char *p = (unsigned char *)buf, *q; int k, d; int64_t i;
    if (!ts || !names || !buf || n < 0) return DL_STATUS_INVALID;
    if (cap < dl_save_size(ts, names, n)) return DL_STATUS_OOM;
    for (k = 0; k < n; k++) if (dl_is_poison(ts[k]) || ts[k]->dtype != DL_F32 || !names[k]) return DL_STATUS_INVALID;
    for (k = 0; k < n; k++) if (!dl__pull(ts[k])) return ts[k]->ctx->status ? ts[k]->ctx->status : DL_STATUS_INVALID;  /* one download each */
    q = p;
    memcpy(q, "DLW1", 4); dl__put32(q + 4, 1); dl__put32(q + 8, (uint32_t)n); q += 12;
    for (k = 0; k < n; k++) {
        size_t nl = strlen(names[k]);
        dl__put32(q, (uint32_t)nl); memcpy(q + 4, names[k], nl); q += 4 + nl;
        dl__put32(q, (uint32_t)ts[k]->ndim); q += 4;
        for (d = 0; d < ts[k]->ndim; d++) { uint64_t v = (uint64_t)ts[k]->shape[d]; dl__put32(q, (uint32_t)v); dl__put32(q + 4, (uint32_t)(v >> 32)); q += 8; }
        dl__put32(q, 0); q += 4;
        for (i = 0; i < ts[k]->numel; i++) { float f = dl__host_get(ts[k], i); uint32_t u; memcpy(&u, &f, 4); dl__put32(q, u); q += 4; }
    }
    dl__put32(q, dl__crc32(0, p, (size_t)(q - p)));
    return DL_STATUS_OK;
}
/* one record of a weights file at *q: bounds-checked; 0 when truncated or malformed */
typedef struct dl__wrec { const unsigned char *name, *data; uint32_t nl, nd, dtype; int64_t shape[DL_MAX_DIMS], numel; } dl__wrec;
static int dl__wrec_next(const unsigned char **q, const unsigned char *end, dl__wrec *r) {
    const unsigned char *c = *q; uint32_t d;
    if ((size_t)(end - c) < 4) return 0;
    r->nl = dl__le32(c); c += 4;
    if ((size_t)(end - c) < (size_t)r->nl + 4) return 0;
    r->name = c; c += r->nl;
    r->nd = dl__le32(c); c += 4;
    if (r->nd > DL_MAX_DIMS || (size_t)(end - c) < 8 * (size_t)r->nd + 4) return 0;
    r->numel = 1;
    for (d = 0; d < r->nd; d++) {
        uint64_t v = dl__le32(c) | (uint64_t)dl__le32(c + 4) << 32; c += 8;
        if (v > (uint64_t)1 << 40) return 0;
        r->shape[d] = (int64_t)v; r->numel *= (int64_t)v;
        if (r->numel > ((int64_t)1 << 40)) return 0;
    }
    r->dtype = dl__le32(c); c += 4;
    if ((uint64_t)(end - c) < 4 * (uint64_t)r->numel) return 0;
    r->data = c; *q = c + 4 * r->numel;
    return 1;
}
DL__API dl_status dl_load_mem(dl_ctx *ctx, dl_tensor *const *ts, const char *const *names, int n, const void *buf, size_t size) {
    const unsigned char *p = (const unsigned char *)buf, *q, *end; uint32_t cnt, k; int j, pass;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_load";
    if (ctx->status) return ctx->status;
    if (!ts || !names || !buf || n < 0) { dl__fail0(ctx, DL_STATUS_INVALID, "ts/names/buf NULL"); return ctx->status; }
    if (size < 16 || memcmp(p, "DLW1", 4) != 0) { dl__fail0(ctx, DL_STATUS_FORMAT, "not a dl.h weights file (bad magic or too short)"); return ctx->status; }
    if (dl__le32(p + 4) != 1) { dl__fail0(ctx, DL_STATUS_FORMAT, "unknown weights format version"); return ctx->status; }
    if (dl__crc32(0, p, size - 4) != dl__le32(p + size - 4)) { dl__fail0(ctx, DL_STATUS_FORMAT, "checksum mismatch: the file is corrupt or truncated"); return ctx->status; }
    cnt = dl__le32(p + 8); end = p + size - 4;
    for (pass = 0; pass < 2; pass++)          /* pass 0 validates every name and shape; pass 1 copies */
        for (j = 0; j < n; j++) {
            dl__wrec r; int found = 0; int64_t i;
            if (dl_is_poison(ts[j]) || !names[j]) { dl__fail1(ctx, DL_STATUS_INVALID, "tensor %d is NULL or unnamed", DL__A(&j)); return ctx->status; }
            for (q = p + 12, k = 0; k < cnt && !found; k++) {
                if (!dl__wrec_next(&q, end, &r)) { dl__fail0(ctx, DL_STATUS_FORMAT, "truncated or malformed weights data"); return ctx->status; }
                found = r.nl == strlen(names[j]) && memcmp(r.name, names[j], r.nl) == 0;
            }
            if (!found) { dl__fail1(ctx, DL_STATUS_FORMAT, "no tensor named '%s' in the file", DL__A(names[j])); return ctx->status; }
            if (r.dtype != 0) { dl__fail0(ctx, DL_STATUS_FORMAT, "unknown dtype in file"); return ctx->status; }
            if (r.nd != (uint32_t)ts[j]->ndim || memcmp(r.shape, ts[j]->shape, sizeof(int64_t) * r.nd) != 0) {
                dl__fail2(ctx, DL_STATUS_SHAPE, "tensor '%s' has another shape in the file than %T", DL__A(names[j]), DL__A(ts[j]));
                return ctx->status;
            }
            if (pass == 1) {                 /* one upload per tensor */
                if (!dl__pull_gaps(ts[j])) return ctx->status;
                for (i = 0; i < r.numel; i++) { uint32_t u = dl__le32(r.data + 4 * i); float f; memcpy(&f, &u, 4); dl__host_set(ts[j], i, f); }
                dl__push(ts[j]->ctx, ts[j]);
            }
        }
    return DL_STATUS_OK;
}
#ifndef DL_NO_STDIO
DL__API dl_status dl_save(dl_ctx *ctx, dl_tensor *const *ts, const char *const *names, int n, const char *path) {
    size_t sz; unsigned char *buf; int ok; dl_mark mk; FILE *f; dl_status st;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_save";
    if (ctx->status) return ctx->status;
    if (!ts || !names || !path || n < 0) { dl__fail0(ctx, DL_STATUS_INVALID, "ts/names/path NULL"); return ctx->status; }
    sz = dl_save_size(ts, names, n);
    mk = dl_ctx_mark(ctx);
    buf = (unsigned char *)dl__alloc(ctx, sz, 0, &ok);
    if (!ok || !buf) return ctx->status ? ctx->status : DL_STATUS_UNSUPPORTED;
    st = dl_save_mem(ts, names, n, buf, sz);
    if (st) { dl_ctx_rewind(ctx, mk); dl__fail0(ctx, st, "a tensor is NULL, poison, unnamed or not float32"); return ctx->status; }
    f = fopen(path, "wb");
    if (!f) { dl_ctx_rewind(ctx, mk); return dl__io_fail(ctx, DL_STATUS_IO, "cannot open for writing", path); }
    ok = fwrite(buf, 1, sz, f) == sz;
    ok = (fclose(f) == 0) && ok;
    dl_ctx_rewind(ctx, mk);
    if (!ok) return dl__io_fail(ctx, DL_STATUS_IO, "write error", path);
    return DL_STATUS_OK;
}
DL__API dl_status dl_load(dl_ctx *ctx, dl_tensor *const *ts, const char *const *names, int n, const char *path) {
    size_t len = 0; unsigned char *buf; dl_mark mk; dl_status st;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_load";
    if (ctx->status) return ctx->status;
    if (!path) { dl__fail0(ctx, DL_STATUS_INVALID, "path NULL"); return ctx->status; }
    mk = dl_ctx_mark(ctx);
    buf = dl__read_file(ctx, path, &len);
    if (!buf) { if (!ctx->status) dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "not available in measure mode"); return ctx->status; }
    st = dl_load_mem(ctx, ts, names, n, buf, len);
    dl_ctx_rewind(ctx, mk);
    return st;
}

#endif

/* >>png  signature, IHDR, one IDAT (zlib: stored deflate blocks of <= 65535 bytes, each row
   with filter byte 0, Adler-32), IEND; every chunk with its CRC-32 */
static void dl__put32be(unsigned char *p, uint32_t v) { p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v; }
static size_t dl__png_raw(int w, int h, int c) { return (size_t)h * (1u + (size_t)w * (size_t)c); }
DL__API size_t dl_png_size(int width, int height, int channels) {
    size_t raw, blocks;
    if (width < 1 || height < 1 || (channels != 1 && channels != 3) || width > (1 << 24) || height > (1 << 24)) return 0;
    raw = dl__png_raw(width, height, channels);
    blocks = (raw + 65534) / 65535;
    return 8 + (12 + 13) + (12 + 2 + raw + 5 * blocks + 4) + 12;
}
DL__API dl_status dl_png_encode(const unsigned char *pixels, int width, int height, int channels, void *buf, size_t cap) {
    static const unsigned char sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    unsigned char *o = (unsigned char *)buf, *chunk; size_t need = dl_png_size(width, height, channels), raw, left, pos = 0, idat;
    uint32_t a = 1, b = 0; int y;
    if (!need || !pixels || !buf) return DL_STATUS_INVALID;
    if (cap < need) return DL_STATUS_OOM;
    memcpy(o, sig, 8); o += 8;
    dl__put32be(o, 13); memcpy(o + 4, "IHDR", 4);
    dl__put32be(o + 8, (uint32_t)width); dl__put32be(o + 12, (uint32_t)height);
    o[16] = 8; o[17] = channels == 3 ? 2 : 0; o[18] = o[19] = o[20] = 0;
    dl__put32be(o + 21, dl__crc32(0, o + 4, 17)); o += 25;
    raw = dl__png_raw(width, height, channels);
    idat = 2 + raw + 5 * ((raw + 65534) / 65535) + 4;
    dl__put32be(o, (uint32_t)idat); memcpy(o + 4, "IDAT", 4); chunk = o + 4; o += 8;
    *o++ = 0x78; *o++ = 0x01;                                  /* zlib: deflate, 32K window */
    left = raw;
    while (left > 0) {                                         /* stored blocks over the filtered rows */
        size_t n = left < 65535 ? left : 65535, i;
        *o++ = (unsigned char)(n == left);                     /* BFINAL on the last, BTYPE 00 */
        o[0] = (unsigned char)n; o[1] = (unsigned char)(n >> 8); o[2] = (unsigned char)~n; o[3] = (unsigned char)(~n >> 8); o += 4;
        for (i = 0; i < n; i++, pos++) {
            size_t row = pos / (1u + (size_t)width * (size_t)channels), col = pos % (1u + (size_t)width * (size_t)channels);
            unsigned char v = col == 0 ? 0 : pixels[row * (size_t)width * (size_t)channels + col - 1];
            *o++ = v; a = (a + v) % 65521u; b = (b + a) % 65521u;
        }
        left -= n;
    }
    dl__put32be(o, (b << 16) | a); o += 4;
    dl__put32be(o, dl__crc32(0, chunk, (size_t)(o - chunk))); o += 4;
    dl__put32be(o, 0); memcpy(o + 4, "IEND", 4); dl__put32be(o + 8, dl__crc32(0, o + 4, 4)); o += 12;
    (void)y;
    return (size_t)(o - (unsigned char *)buf) == need ? DL_STATUS_OK : DL_STATUS_INVALID;
}
#ifndef DL_NO_STDIO
DL__API dl_status dl_write_png(dl_ctx *ctx, const char *path, const unsigned char *pixels, int width, int height, int channels) {
    size_t sz = dl_png_size(width, height, channels); unsigned char *buf; int ok; dl_mark mk; FILE *f;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_write_png";
    if (ctx->status) return ctx->status;
    if (!sz || !pixels || !path) { dl__fail3(ctx, DL_STATUS_INVALID, "bad image %dx%d with %d channels (1 or 3), or NULL pixels/path", DL__A(&width), DL__A(&height), DL__A(&channels)); return ctx->status; }
    if (ctx->measure) { dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "not in measure mode"); return ctx->status; }
    mk = dl_ctx_mark(ctx);
    buf = (unsigned char *)dl__alloc(ctx, sz, 0, &ok);
    if (!ok || !buf) return ctx->status;
    dl_png_encode(pixels, width, height, channels, buf, sz);
    f = fopen(path, "wb");
    if (!f) { dl_ctx_rewind(ctx, mk); return dl__io_fail(ctx, DL_STATUS_IO, "cannot open for writing", path); }
    ok = fwrite(buf, 1, sz, f) == sz;
    ok = (fclose(f) == 0) && ok;
    dl_ctx_rewind(ctx, mk);
    if (!ok) return dl__io_fail(ctx, DL_STATUS_IO, "write error", path);
    return DL_STATUS_OK;
}
DL__API dl_status dl_write_png_grid(dl_ctx *ctx, const char *path, const dl_tensor *images, int cols, float lo, float hi) {
    int64_t N, C, H, W, side, n, c, y, x, rows, gw, gh; unsigned char *px; int ok; dl_mark mk; dl_status st; int wi, hi_;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_write_png_grid";
    if (ctx->status) return ctx->status;
    if (!dl__arg(ctx, (dl_tensor *)(uintptr_t)images, 3, DL_F32)) return ctx->status;
    if (cols < 1) { dl__fail1(ctx, DL_STATUS_INVALID, "cols %d must be >= 1", DL__A(&cols)); return ctx->status; }
    N = images->shape[0]; C = 1;
    if (images->ndim == 4) { C = images->shape[1]; H = images->shape[2]; W = images->shape[3]; }
    else if (images->ndim == 3) { H = images->shape[1]; W = images->shape[2]; }
    else if (images->ndim == 2) {
        for (side = 1; side * side < images->shape[1]; side++) {}
        H = W = side;
        if (side * side != images->shape[1]) { dl__fail1(ctx, DL_STATUS_SHAPE, "images%T: rows are not square images", DL__A(images)); return ctx->status; }
    } else { dl__fail1(ctx, DL_STATUS_SHAPE, "images%T must be [N,C,H,W], [N,H,W] or [N,side*side]", DL__A(images)); return ctx->status; }
    if (C != 1 && C != 3) { dl__fail1(ctx, DL_STATUS_SHAPE, "images%T: 1 or 3 channels", DL__A(images)); return ctx->status; }
    if (!images->data) { dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "not in measure mode"); return ctx->status; }
    if (!dl__pull(images)) return ctx->status;                /* one download */
    if (N < 1) { dl__fail0(ctx, DL_STATUS_SHAPE, "no images"); return ctx->status; }
    if (cols > N) cols = (int)N;
    rows = (N + cols - 1) / cols;
    gw = cols * (W + 1) + 1; gh = rows * (H + 1) + 1;
    if (gw > (1 << 24) || gh > (1 << 24)) { dl__fail0(ctx, DL_STATUS_SHAPE, "grid too large"); return ctx->status; }
    mk = dl_ctx_mark(ctx);
    px = (unsigned char *)dl__alloc(ctx, (size_t)(gw * gh * C), 0, &ok);
    if (!ok || !px) return ctx->status;
    memset(px, 0, (size_t)(gw * gh * C));
    for (n = 0; n < N; n++) {
        const int64_t oy = (n / cols) * (H + 1) + 1, ox = (n % cols) * (W + 1) + 1, per = C * H * W;
        float a = lo, b = hi; int64_t i;
        if (!(hi > lo)) {                                     /* each image's own range */
            a = b = dl__host_get(images, n * per);
            for (i = 1; i < per; i++) { float v = dl__host_get(images, n * per + i); if (v < a) a = v; if (v > b) b = v; }
        }
        for (c = 0; c < C; c++) for (y = 0; y < H; y++) for (x = 0; x < W; x++) {
            float v = dl__host_get(images, n * per + (c * H + y) * W + x), t = b > a ? (v - a) / (b - a) : 0.0f;
            t = t != t ? 0.0f : t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
            px[((oy + y) * gw + ox + x) * C + c] = (unsigned char)(t * 255.0f + 0.5f);
        }
    }
    wi = (int)gw; hi_ = (int)gh;
    st = dl_write_png(ctx, path, px, wi, hi_, (int)C);
    dl_ctx_rewind(ctx, mk);
    return st;
}
#endif


/* ======================================================================================
   >>ops-conv  conv2d, conv1d (a conv2d on [N,C,1,L]) and conv_transpose2d, all on im2col
   and the GEMM. One geometry serves both ops: the IMAGE side [N,C,H,W] (conv2d's input,
   conv_transpose2d's output) and the COLUMN side [N,O,OH,OW] (conv2d's output,
   conv_transpose2d's input), weight [O, C/g, kh, kw] in both (torch's layouts), and
       cols[(c*kh + i)*kw + j][oh*OW + ow] = img[c][oh*sh - pt + i*dh][ow*sw - pl + j*dw]
   (0 outside the image). Per image n and group g, with Kc = (C/g)*kh*kw, P = OH*OW:
       colside_g [O/g, P]   = W_g [O/g, Kc] @ im2col(img_g)            (conv2d forward)
       img_g               += col2im(W_g^T @ colside_g)                 (its adjoint)
       dW_g [O/g, Kc]      += colside_g @ im2col(img_g)^T               (weight gradient)
   conv2d: forward = the first, dX = the second (of dY), dW = the third (x, dY).
   conv_transpose2d: forward = the second (of x), dX = the first (of dY), dW = the third
   (dY as the image, x as the column side). The cols matrix is arena scratch taken and
   returned inside each call, in measure mode too, so measured peaks stay exact. A 1x1
   kernel with stride 1 and no padding needs none: the image plane IS the cols matrix.
   ====================================================================================== */
typedef struct dl__cgeo {
    int64_t N, C, H, W;              /* image side                                        */
    int64_t O, OH, OW;               /* column side                                       */
    int64_t kh, kw, sh, sw, dh, dw;  /* kernel, stride, dilation                          */
    int64_t pt, pl, g;               /* top and left padding (bottom/right are implied by
                                        the sizes), groups                                */
} dl__cgeo;
static int64_t dl__cg_kc(const dl__cgeo *q) { return (q->C / q->g) * q->kh * q->kw; }
static int dl__cg_fast(const dl__cgeo *q) {
    return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->pt == 0 && q->pl == 0 &&
           q->OH == q->H && q->OW == q->W;
}
/* outputs o in [lo, hi) are the ones with 0 <= o*s + off < n_in */
static void dl__cg_range(int64_t off, int64_t s, int64_t n_in, int64_t n_out, int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / s + 1;
    if (b > n_out) b = n_out;
    if (a > b) a = b;
    *lo = a; *hi = b;
}
/* cols [Kc, P] = im2col(img [C/g, H, W]) */
static void dl__im2col(const dl__cgeo *q, const float *img, float *cols) {
    int64_t Cg = q->C / q->g, P = q->OH * q->OW, HW = q->H * q->W, c, i, j, oh, ow, lo, hi;
    for (c = 0; c < Cg; c++) for (i = 0; i < q->kh; i++) for (j = 0; j < q->kw; j++) {
        float *row = cols + ((c * q->kh + i) * q->kw + j) * P;
        int64_t offw = j * q->dw - q->pl;
        dl__cg_range(offw, q->sw, q->W, q->OW, &lo, &hi);
        if (q->sh == 1 && q->sw == 1 && q->OW == q->W) {
            /* a "same" row layout: the valid rows are ONE shifted copy of the plane (the rows
               follow each other at the same stride on both sides), then the columns that
               fell outside the image (lo, hi) are zeroed; the copy is clipped to the plane */
            int64_t ohl, ohh, s0, s1, d0;
            dl__cg_range(i * q->dh - q->pt, 1, q->H, q->OH, &ohl, &ohh);
            memset(row, 0, (size_t)(ohl * q->OW) * sizeof(float));
            memset(row + ohh * q->OW, 0, (size_t)((q->OH - ohh) * q->OW) * sizeof(float));
            if (ohh <= ohl) continue;
            d0 = ohl * q->OW;
            s0 = (ohl + i * q->dh - q->pt) * q->W + offw; s1 = s0 + (ohh - ohl) * q->OW;
            if (s0 < 0) { d0 -= s0; s0 = 0; }
            if (s1 > HW) s1 = HW;
            if (s1 > s0) memcpy(row + d0, img + c * HW + s0, (size_t)(s1 - s0) * sizeof(float));
            if (lo > 0 || hi < q->OW)
                for (oh = ohl; oh < ohh; oh++) {
                    float *dst = row + oh * q->OW;
                    for (ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
                    for (ow = hi; ow < q->OW; ow++) dst[ow] = 0.0f;
                }
            continue;
        }
        for (oh = 0; oh < q->OH; oh++) {
            int64_t ih = oh * q->sh - q->pt + i * q->dh; float *dst = row + oh * q->OW; const float *src;
            if (ih < 0 || ih >= q->H) { for (ow = 0; ow < q->OW; ow++) dst[ow] = 0.0f; continue; }
            src = img + (c * q->H + ih) * q->W + offw;
            for (ow = 0; ow < lo; ow++) dst[ow] = 0.0f;
            if (q->sw == 1) { if (hi > lo) dl__vcopy(dst + lo, src + lo, hi - lo); ow = hi; }
            else for (; ow < hi; ow++) dst[ow] = src[ow * q->sw];
            for (; ow < q->OW; ow++) dst[ow] = 0.0f;
        }
    }
}
/* img [C/g, H, W] += col2im(cols [Kc, P]): the adjoint of dl__im2col (a scatter-add) */
static void dl__col2im(const dl__cgeo *q, const float *cols, float *img) {
    int64_t Cg = q->C / q->g, P = q->OH * q->OW, c, i, j, oh, ow, lo, hi;
    for (c = 0; c < Cg; c++) for (i = 0; i < q->kh; i++) for (j = 0; j < q->kw; j++) {
        const float *row = cols + ((c * q->kh + i) * q->kw + j) * P;
        int64_t offw = j * q->dw - q->pl;
        dl__cg_range(offw, q->sw, q->W, q->OW, &lo, &hi);
        for (oh = 0; oh < q->OH; oh++) {
            int64_t ih = oh * q->sh - q->pt + i * q->dh; const float *src = row + oh * q->OW; float *dst;
            if (ih < 0 || ih >= q->H) continue;
            dst = img + (c * q->H + ih) * q->W + offw;
            if (q->sw == 1) dl__vadd(dst + lo, src + lo, hi - lo);
            else for (ow = lo; ow < hi; ow++) dst[ow * q->sw] += src[ow];
        }
    }
}
/* The images of a conv pass are split into DL__CONV_CHUNKS fixed chunks (fewer for smaller
   batches), run as tasks: each chunk has its own cols matrix and its own partial weight
   gradient, the partials are added in chunk order after the tasks, and the GEMMs inside a
   task never fork. The chunks depend on N alone, so the bits do not depend on the threads;
   two threads each take half of the batch instead of splitting every small per-image GEMM. */
#define DL__CONV_CHUNKS 2
static int64_t dl__cg_nch(const dl__cgeo *q) { return q->N < DL__CONV_CHUNKS ? (q->N < 1 ? 1 : q->N) : DL__CONV_CHUNKS; }
/* scratch from the arena, in both modes alike: a cols matrix per chunk (none on the fast
   path), room for one group's weight packed for the GEMM (W_g or W_g^T, packed once per call
   instead of once per image), and, when dw (a weight gradient is wanted), a partial dW_g per
   chunk */
static float *dl__cg_scratch(dl_ctx *ctx, const dl__cgeo *q, int dw, float **pw, float **dwp, int *ok) {
    int64_t kc = dl__cg_kc(q), p = q->OH * q->OW, og = q->O / q->g, nch = dl__cg_nch(q), np, a, b;
    float *cols = NULL;
    *ok = 1; *pw = NULL; *dwp = NULL;
    a = dl__gemm_prepack_floats(og, kc); b = dl__gemm_prepack_floats(kc, og); np = a > b ? a : b;
    if (!dl__cg_fast(q)) {
        if (kc > 0 && (p > (INT64_MAX / 8) / kc / nch || (uint64_t)(kc * p * nch) > (uint64_t)(SIZE_MAX / sizeof(float)))) {
            dl__fail0(ctx, DL_STATUS_OOM, "the im2col buffer would exceed the address space");
            *ok = 0; return NULL;
        }
        cols = (float *)dl__alloc(ctx, (size_t)(kc * p * nch) * sizeof(float), 0, ok);
    }
    if (*ok) *pw = (float *)dl__alloc(ctx, (size_t)np * sizeof(float), 0, ok);
    if (*ok && dw) *dwp = (float *)dl__alloc(ctx, (size_t)(og * kc * nch) * sizeof(float), 0, ok);
    return cols;
}
static dl__mat dl__cg_mat(const float *p, int64_t rs) { dl__mat m; m.p = (float *)(uintptr_t)p; m.rs = rs; m.cs = 1; return m; }
static void dl__cg_fill_bias(float *y, const float *b, int64_t N, int64_t Ch, int64_t S);
typedef struct dl__cgjob {
    const dl_ctx *ctx; const dl__cgeo *q; int64_t g, nch; int acc;
    const float *img, *w, *bias, *colin, *pw; float *cols, *colout, *dwp;
} dl__cgjob;
/* one chunk of images, group g: colout_g (+)= W_g @ im2col(img_g) when colout (pw: W_g
   packed), the chunk's dW_g partial = sum of colin_g @ im2col(img_g)^T when dwp. One
   im2col serves both. */
static void dl__cg_cols_task(void *arg, int64_t t) {
    const dl__cgjob *j = (const dl__cgjob *)arg; const dl__cgeo *q = j->q; const int64_t g = j->g;
    const int64_t Cg = q->C / q->g, Og = q->O / q->g, kc = dl__cg_kc(q), P = q->OH * q->OW, HW = q->H * q->W;
    const int64_t n0 = t * q->N / j->nch, n1 = (t + 1) * q->N / j->nch;
    float *cols = j->cols ? j->cols + t * kc * P : NULL, *dwp = j->dwp ? j->dwp + t * Og * kc : NULL;
    int64_t n;
    for (n = n0; n < n1; n++) {
        const float *ig = j->img + (n * q->C + g * Cg) * HW, *cm = ig;
        if (cols) { dl__im2col(q, ig, cols); cm = cols; }
        if (j->colout && j->bias)   /* the bias written just before the GEMM adds to it: still in cache */
            dl__cg_fill_bias(j->colout + (n * q->O + g * Og) * P, j->bias + g * Og, 1, Og, P);
        if (j->colout)
            dl__gemm_isa_pa_ex(j->ctx, 1, Og, P, kc, j->pw, dl__cg_mat(j->w + g * Og * kc, kc), dl__cg_mat(cm, P),
                               dl__cg_mat(j->colout + (n * q->O + g * Og) * P, P), j->acc);
        if (dwp)
            dl__gemm_isa_ex(j->ctx, 1, Og, kc, P, dl__cg_mat(j->colin + (n * q->O + g * Og) * P, P),
                            dl__mat_t(dl__cg_mat(cm, P)), dl__cg_mat(dwp, kc), n > n0);
    }
}
/* per group, over the image chunks: colout (+)= W @ im2col(img) and/or dw += colin @
   im2col(img)^T; acc: colout accumulates (onto the bias when bias) */
static void dl__cg_cols_pass(dl_ctx *ctx, const dl__cgeo *q, const float *img, const float *w, float *cols, float *pw, float *dwp,
                             float *colout, int acc, const float *bias, const float *colin, float *dw) {
    const int64_t Og = q->O / q->g, kc = dl__cg_kc(q); int64_t t; dl__cgjob j;
    j.ctx = ctx; j.q = q; j.nch = dl__cg_nch(q); j.acc = acc; j.img = img; j.w = w; j.bias = bias; j.colin = colin; j.pw = pw;
    j.cols = dl__cg_fast(q) ? NULL : cols; j.colout = colout; j.dwp = dw ? dwp : NULL;
    for (j.g = 0; j.g < q->g; j.g++) {
        if (colout) dl__gemm_prepack(ctx, Og, kc, dl__cg_mat(w + j.g * Og * kc, kc), pw);
        dl__parallel(ctx, j.nch, dl__cg_cols_task, &j);
        if (dw) for (t = 0; t < j.nch; t++) if (t * q->N / j.nch < (t + 1) * q->N / j.nch) dl__vadd(dw + j.g * Og * kc, dwp + t * Og * kc, Og * kc);
    }
}
/* one chunk of images, group g: img_g += col2im(W_g^T @ colin_g), pw: W_g^T packed */
static void dl__cg_col2im_task(void *arg, int64_t t) {
    const dl__cgjob *j = (const dl__cgjob *)arg; const dl__cgeo *q = j->q; const int64_t g = j->g;
    const int64_t Cg = q->C / q->g, Og = q->O / q->g, kc = dl__cg_kc(q), P = q->OH * q->OW, HW = q->H * q->W;
    const int64_t n0 = t * q->N / j->nch, n1 = (t + 1) * q->N / j->nch;
    const dl__mat A = dl__mat_t(dl__cg_mat(j->w + g * Og * kc, kc));
    float *cols = j->cols ? j->cols + t * kc * P : NULL; int64_t n;
    for (n = n0; n < n1; n++) {
        float *ig = j->colout + (n * q->C + g * Cg) * HW;
        const dl__mat B = dl__cg_mat(j->colin + (n * q->O + g * Og) * P, P);
        if (!cols) dl__gemm_isa_pa_ex(j->ctx, 1, kc, P, Og, j->pw, A, B, dl__cg_mat(ig, P), 1);
        else { dl__gemm_isa_pa_ex(j->ctx, 1, kc, P, Og, j->pw, A, B, dl__cg_mat(cols, P), 0); dl__col2im(q, cols, ig); }
    }
}
/* per group, over the image chunks: img += col2im(W^T @ colin), W_g^T packed once per group */
static void dl__cg_col2im_pass(dl_ctx *ctx, const dl__cgeo *q, const float *colin, const float *w, float *cols, float *pw, float *img) {
    const int64_t Og = q->O / q->g, kc = dl__cg_kc(q); dl__cgjob j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx; j.q = q; j.nch = dl__cg_nch(q); j.w = w; j.colin = colin; j.pw = pw; j.cols = dl__cg_fast(q) ? NULL : cols; j.colout = img;
    for (j.g = 0; j.g < q->g; j.g++) {
        dl__gemm_prepack(ctx, kc, Og, dl__mat_t(dl__cg_mat(w + j.g * Og * kc, kc)), pw);
        dl__parallel(ctx, j.nch, dl__cg_col2im_task, &j);
    }
}
/* y[n, c, :] = b[c] (or 0), y viewed as [N, Ch, S] */
static void dl__cg_fill_bias(float *y, const float *b, int64_t N, int64_t Ch, int64_t S) {
    int64_t n, c, s;
    for (n = 0; n < N; n++) for (c = 0; c < Ch; c++) {
        float v = b ? b[c] : 0.0f; float *p = y + (n * Ch + c) * S;
        s = 0;
#if defined(DL__X86_64)
        { const __m128 vv = _mm_set1_ps(v); for (; s + 4 <= S; s += 4) _mm_storeu_ps(p + s, vv); }
#elif defined(DL__NEON64)
        { const float32x4_t vv = vdupq_n_f32(v); for (; s + 4 <= S; s += 4) vst1q_f32(p + s, vv); }
#endif
        for (; s < S; s++) p[s] = v;
    }
}
/* db[c] += sum over n, s of g[n, c, s]: each plane of S summed in 8 float lanes (SSE2 or
   NEON, else the same lanes in C: the same bits everywhere), the planes added in double */
static double dl__sum8(const float *p, int64_t S) {
    float l[8] = {0, 0, 0, 0, 0, 0, 0, 0}; int64_t s = 0; int k;
#if defined(DL__X86_64)
    __m128 a0 = _mm_setzero_ps(), a1 = a0;
    for (; s + 8 <= S; s += 8) { a0 = _mm_add_ps(a0, _mm_loadu_ps(p + s)); a1 = _mm_add_ps(a1, _mm_loadu_ps(p + s + 4)); }
    _mm_storeu_ps(l, a0); _mm_storeu_ps(l + 4, a1);
#elif defined(DL__NEON64)
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0;
    for (; s + 8 <= S; s += 8) { a0 = vaddq_f32(a0, vld1q_f32(p + s)); a1 = vaddq_f32(a1, vld1q_f32(p + s + 4)); }
    vst1q_f32(l, a0); vst1q_f32(l + 4, a1);
#else
    for (; s + 8 <= S; s += 8) for (k = 0; k < 8; k++) l[k] += p[s + k];
#endif
    for (k = 0; s < S; s++, k++) l[k] += p[s];
    return ((double)l[0] + (double)l[1]) + ((double)l[2] + (double)l[3]) + (((double)l[4] + (double)l[5]) + ((double)l[6] + (double)l[7]));
}
static void dl__cg_bias_grad(float *db, const float *g, int64_t N, int64_t Ch, int64_t S) {
    int64_t n, c;
    for (c = 0; c < Ch; c++) {
        double acc = 0.0;
        for (n = 0; n < N; n++) acc += dl__sum8(g + (n * Ch + c) * S, S);
        db[c] += (float)acc;
    }
}
static void dl__cg_from_node(const dl__node *nd, int transposed, dl__cgeo *q) {
    const dl_tensor *img = transposed ? nd->out : nd->in[0], *col = transposed ? nd->in[0] : nd->out, *w = nd->in[1];
    q->N = img->shape[0]; q->C = img->shape[1]; q->H = img->shape[2]; q->W = img->shape[3];
    q->O = col->shape[1]; q->OH = col->shape[2]; q->OW = col->shape[3];
    q->kh = w->shape[2]; q->kw = w->shape[3];
    q->sh = nd->larg[0]; q->sw = nd->larg[1]; q->dh = nd->larg[2]; q->dw = nd->larg[3];
    q->pt = nd->larg[4]; q->pl = nd->larg[5]; q->g = nd->iarg[0];
}
static void dl__cg_to_node(dl__node *nd, const dl__cgeo *q) {
    nd->larg[0] = q->sh; nd->larg[1] = q->sw; nd->larg[2] = q->dh; nd->larg[3] = q->dw;
    nd->larg[4] = q->pt; nd->larg[5] = q->pl; nd->iarg[0] = (int)q->g;
}
static int64_t dl__floordiv(int64_t a, int64_t b) { int64_t r = a / b; return (a % b != 0 && (a < 0) != (b < 0)) ? r - 1 : r; }

/* validates a conv2d (spatial 2) or conv1d (spatial 1) call and fills the geometry; conv1d
   is the conv2d with H = kh = 1 and desc index 0 on the W axis */
static int dl__conv_check(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *dp, int spatial, dl__cgeo *q) {
    dl_conv_desc d; int64_t pb, pr, eh, ew, Cg; int nd = spatial + 2, i;
    const char *layout = spatial == 2 ? "[N,C,H,W]" : "[N,C,L]";
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, w, 2, DL_F32) || (b && !dl__arg(ctx, b, 3, DL_F32))) return 0;
    if (dp) d = *dp; else memset(&d, 0, sizeof d);
    if (x->ndim != nd) { dl__fail2(ctx, DL_STATUS_SHAPE, "x%T must be %s", DL__A(x), DL__A(layout)); return 0; }
    if (w->ndim != nd) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "weight%T must be %s", DL__A(w), DL__A(spatial == 2 ? "[O, C/groups, kh, kw]" : "[O, C/groups, k]"));
        return 0;
    }
    for (i = 0; i < spatial; i++)
        if (d.stride[i] < 0 || d.dilation[i] < 0) {
            dl__fail2(ctx, DL_STATUS_INVALID, "stride %d and dilation %d must be positive (0 means 1)", DL__A(&d.stride[i]), DL__A(&d.dilation[i]));
            return 0;
        }
    if (d.groups < 0) { dl__fail1(ctx, DL_STATUS_INVALID, "groups %d must be positive (0 means 1)", DL__A(&d.groups)); return 0; }
    q->g = d.groups ? d.groups : 1;
    q->N = x->shape[0]; q->C = x->shape[1]; q->O = w->shape[0];
    if (spatial == 2) {
        q->H = x->shape[2]; q->W = x->shape[3]; q->kh = w->shape[2]; q->kw = w->shape[3];
        q->sh = d.stride[0] ? d.stride[0] : 1; q->sw = d.stride[1] ? d.stride[1] : 1;
        q->dh = d.dilation[0] ? d.dilation[0] : 1; q->dw = d.dilation[1] ? d.dilation[1] : 1;
    } else {
        q->H = 1; q->W = x->shape[2]; q->kh = 1; q->kw = w->shape[2];
        q->sh = 1; q->sw = d.stride[0] ? d.stride[0] : 1;
        q->dh = 1; q->dw = d.dilation[0] ? d.dilation[0] : 1;
    }
    if (q->C < 1 || q->H < 1 || q->W < 1) { dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must have channels and a non-empty image", DL__A(x)); return 0; }
    if (q->kh < 1 || q->kw < 1) { dl__fail1(ctx, DL_STATUS_SHAPE, "weight%T has an empty kernel", DL__A(w)); return 0; }
    if (q->C % q->g || q->O % q->g) {
        int gi = (int)q->g;
        dl__fail3(ctx, DL_STATUS_SHAPE, "groups %d must divide the channels of x%T and the output channels of weight%T",
                  DL__A(&gi), DL__A(x), DL__A(w));
        return 0;
    }
    Cg = q->C / q->g;
    if (w->shape[1] != Cg) {
        int gi = (int)q->g;
        dl__fail4(ctx, DL_STATUS_SHAPE, "weight%T must have C/groups = %I input channels for x%T, groups %d",
                  DL__A(w), DL__A(&Cg), DL__A(x), DL__A(&gi));
        return 0;
    }
    if (b && (b->ndim != 1 || b->shape[0] != q->O)) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "bias%T must be [O] for weight%T", DL__A(b), DL__A(w));
        return 0;
    }
    switch (d.padding_mode) {
    case DL_PAD_EXPLICIT:
        if (spatial == 2) {
            for (i = 0; i < 4; i++) if (d.pad[i] < 0) { dl__fail1(ctx, DL_STATUS_INVALID, "padding %d must not be negative", DL__A(&d.pad[i])); return 0; }
            q->pt = d.pad[0]; pb = d.pad[1]; q->pl = d.pad[2]; pr = d.pad[3];
        } else {
            for (i = 0; i < 2; i++) if (d.pad[i] < 0) { dl__fail1(ctx, DL_STATUS_INVALID, "padding %d must not be negative", DL__A(&d.pad[i])); return 0; }
            q->pt = 0; pb = 0; q->pl = d.pad[0]; pr = d.pad[1];
        }
        break;
    case DL_PAD_VALID: q->pt = pb = q->pl = pr = 0; break;
    case DL_PAD_SAME:
        if (q->sh != 1 || q->sw != 1) {
            int a = (int)q->sh, c = (int)q->sw;
            if (spatial == 2) dl__fail2(ctx, DL_STATUS_INVALID, "padding_mode DL_PAD_SAME needs stride 1, got stride (%d, %d)", DL__A(&a), DL__A(&c));
            else dl__fail1(ctx, DL_STATUS_INVALID, "padding_mode DL_PAD_SAME needs stride 1, got stride %d", DL__A(&c));
            return 0;
        }
        eh = q->dh * (q->kh - 1); ew = q->dw * (q->kw - 1);        /* as torch: extra one at the end */
        q->pt = eh / 2; pb = eh - q->pt; q->pl = ew / 2; pr = ew - q->pl;
        break;
    case DL_PAD_FULL:
        q->pt = pb = q->dh * (q->kh - 1); q->pl = pr = q->dw * (q->kw - 1);
        break;
    default:
        dl__fail1(ctx, DL_STATUS_INVALID, "unknown padding_mode %d", DL__A(&d.padding_mode));
        return 0;
    }
    eh = q->H + q->pt + pb - q->dh * (q->kh - 1);       /* the padded extent the kernel can slide over, + 1 */
    ew = q->W + q->pl + pr - q->dw * (q->kw - 1);
    q->OH = dl__floordiv(eh - 1, q->sh) + 1; q->OW = dl__floordiv(ew - 1, q->sw) + 1;
    if (q->OH <= 0 || q->OW <= 0) {
        const void *a[6]; int64_t ph = q->pt + pb, pw = q->pl + pr;
        if (spatial == 2) {
            a[0] = &q->OH; a[1] = &q->OW; a[2] = x; a[3] = &ph; a[4] = &pw; a[5] = w;
            dl__fail_v(ctx, DL_STATUS_SHAPE, "output size %I x %I <= 0: x%T padded by %I rows and %I columns is smaller than the dilated kernel of weight%T", a);
        } else {
            a[0] = &q->OW; a[1] = x; a[2] = &pw; a[3] = w;
            dl__fail_v(ctx, DL_STATUS_SHAPE, "output length %I <= 0: x%T padded by %I is shorter than the dilated kernel of weight%T", a);
        }
        return 0;
    }
    return 1;
}

/* runs a validated conv2d (transposed 0) or conv_transpose2d (1) and records it */
static dl_tensor *dl__conv_run(dl_ctx *ctx, int transposed, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl__cgeo *q) {
    dl_tensor *y, *in[3]; dl_mark mk; float *cols, *pw, *dwp; int ok; dl__node *nd;
    in[0] = dl__contig(ctx, x); in[1] = dl__contig(ctx, w); in[2] = b ? dl__contig(ctx, b) : NULL;
    y = transposed ? dl__new(ctx, dl_shape4(q->N, q->C, q->H, q->W), DL_F32, 1)
                   : dl__new(ctx, dl_shape4(q->N, q->O, q->OH, q->OW), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    mk = dl_ctx_mark(ctx);
    cols = dl__cg_scratch(ctx, q, 0, &pw, &dwp, &ok);
    if (ok && !ctx->nocomp) {
        const float *bias = in[2] ? in[2]->data : NULL;
        if (!transposed) {
            dl__cg_cols_pass(ctx, q, in[0]->data, in[1]->data, cols, pw, dwp, y->data, bias != NULL, bias, NULL, NULL);
        } else {
            dl__cg_fill_bias(y->data, bias, q->N, q->C, q->H * q->W);
            dl__cg_col2im_pass(ctx, q, in[0]->data, in[1]->data, cols, pw, y->data);
        }
    }
    dl_ctx_rewind(ctx, mk);
    if (ctx->status) return &ctx->poison;
    nd = dl__record(ctx, transposed ? DL__OP_conv_transpose2d : DL__OP_conv2d, y, in, b ? 3 : 2);
    if (nd) dl__cg_to_node(nd, q);
    return dl__done(ctx, y);
}

/* conv2d: y[n,o] = b[o] + sum_{c,i,j} w[o,c,i,j] x[n, g(o)*C/g + c, oh*sh - pt + i*dh, ow*sw - pl + j*dw]
   dx = col2im(W^T dy), dW += dy im2col(x)^T, db = sum_{n,h,w} dy                          */
static void dl__bwd_conv2d(dl_ctx *ctx, dl__node *nd) {
    dl__cgeo q; dl_mark mk; float *cols = NULL, *pw = NULL, *dwp = NULL; int ok = 1;
    float *gx = dl__ingrad(ctx, nd, 0), *gw = dl__ingrad(ctx, nd, 1), *gb = nd->nin > 2 ? dl__ingrad(ctx, nd, 2) : NULL;
    if (ctx->status) return;
    dl__cg_from_node(nd, 0, &q);
    mk = dl_ctx_mark(ctx);
    if (dl__needs(nd, 0) || dl__needs(nd, 1)) cols = dl__cg_scratch(ctx, &q, dl__needs(nd, 1), &pw, &dwp, &ok);
    if (ok && !ctx->nocomp) {
        const float *gy = nd->out->grad;
        if (gw) dl__cg_cols_pass(ctx, &q, nd->in[0]->data, NULL, cols, pw, dwp, NULL, 0, NULL, gy, gw);
        if (gx) dl__cg_col2im_pass(ctx, &q, gy, nd->in[1]->data, cols, pw, gx);
        if (gb) dl__cg_bias_grad(gb, gy, q.N, q.O, q.OH * q.OW);
    }
    dl_ctx_rewind(ctx, mk);
}
DL__API dl_tensor *dl_conv2d(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *d) {
    dl__cgeo q;
    DL__ENTER(ctx, "dl_conv2d");
    if (!dl__conv_check(ctx, x, w, b, d, 2, &q)) return &ctx->poison;
    return dl__conv_run(ctx, 0, x, w, b, &q);
}
/* conv1d: the conv2d of x [N,C,1,L] with w [O,C/g,1,k], reshaped back to [N,O,OL] */
DL__API dl_tensor *dl_conv1d(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *d) {
    dl__cgeo q; dl_tensor *y;
    DL__ENTER(ctx, "dl_conv1d");
    if (!dl__conv_check(ctx, x, w, b, d, 1, &q)) return &ctx->poison;
    x = dl_reshape(ctx, x, dl_shape4(q.N, q.C, 1, q.W));
    w = dl_reshape(ctx, w, dl_shape4(q.O, q.C / q.g, 1, q.kw));
    ctx->op = "dl_conv1d";
    y = dl__conv_run(ctx, 0, x, w, b, &q);
    y = dl_reshape(ctx, y, dl_shape3(q.N, q.O, q.OW));
    ctx->op = "dl_conv1d";
    return y;
}

/* conv_transpose2d: the adjoint of conv2d in x: y = b + col2im(W^T x) (per group);
   dx = W im2col(dy), dW += x im2col(dy)^T, db = sum_{n,h,w} dy                          */
static void dl__bwd_conv_transpose2d(dl_ctx *ctx, dl__node *nd) {
    dl__cgeo q; dl_mark mk; float *cols = NULL, *pw = NULL, *dwp = NULL; int ok = 1;
    float *gx = dl__ingrad(ctx, nd, 0), *gw = dl__ingrad(ctx, nd, 1), *gb = nd->nin > 2 ? dl__ingrad(ctx, nd, 2) : NULL;
    if (ctx->status) return;
    dl__cg_from_node(nd, 1, &q);
    mk = dl_ctx_mark(ctx);
    if (dl__needs(nd, 0) || dl__needs(nd, 1)) cols = dl__cg_scratch(ctx, &q, dl__needs(nd, 1), &pw, &dwp, &ok);
    if (ok && !ctx->nocomp) {
        const float *gy = nd->out->grad;
        if (gx || gw) dl__cg_cols_pass(ctx, &q, gy, nd->in[1]->data, cols, pw, dwp, gx, 1, NULL, gw ? nd->in[0]->data : NULL, gw);
        if (gb) dl__cg_bias_grad(gb, gy, q.N, q.C, q.H * q.W);
    }
    dl_ctx_rewind(ctx, mk);
}
DL__API dl_tensor *dl_conv_transpose2d(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, const dl_conv_desc *dp) {
    dl__cgeo q; dl_conv_desc d; int i; int64_t op[2], ph, pw, eh, ew;
    DL__ENTER(ctx, "dl_conv_transpose2d");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, w, 2, DL_F32) || (b && !dl__arg(ctx, b, 3, DL_F32))) return &ctx->poison;
    if (dp) d = *dp; else memset(&d, 0, sizeof d);
    if (x->ndim != 4) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must be [N,Cin,H,W]", DL__A(x));
    if (w->ndim != 4) return dl__fail1(ctx, DL_STATUS_SHAPE, "weight%T must be [Cin, Cout/groups, kh, kw]", DL__A(w));
    for (i = 0; i < 2; i++) {
        if (d.stride[i] < 0 || d.dilation[i] < 0)
            return dl__fail2(ctx, DL_STATUS_INVALID, "stride %d and dilation %d must be positive (0 means 1)", DL__A(&d.stride[i]), DL__A(&d.dilation[i]));
        if (d.output_padding[i] < 0) return dl__fail1(ctx, DL_STATUS_INVALID, "output_padding %d must not be negative", DL__A(&d.output_padding[i]));
    }
    if (d.groups < 0) return dl__fail1(ctx, DL_STATUS_INVALID, "groups %d must be positive (0 means 1)", DL__A(&d.groups));
    if (d.padding_mode == DL_PAD_EXPLICIT) {
        if (d.pad[0] < 0 || d.pad[2] < 0) return dl__fail2(ctx, DL_STATUS_INVALID, "padding (%d, %d) must not be negative", DL__A(&d.pad[0]), DL__A(&d.pad[2]));
        ph = d.pad[0]; pw = d.pad[2];
    } else if (d.padding_mode == DL_PAD_VALID) ph = pw = 0;
    else return dl__fail1(ctx, DL_STATUS_INVALID, "padding_mode %d: only DL_PAD_EXPLICIT (symmetric pad[0], pad[2]) and DL_PAD_VALID apply to a transposed convolution", DL__A(&d.padding_mode));
    q.g = d.groups ? d.groups : 1;
    q.N = x->shape[0]; q.O = x->shape[1]; q.OH = x->shape[2]; q.OW = x->shape[3];
    q.kh = w->shape[2]; q.kw = w->shape[3];
    q.sh = d.stride[0] ? d.stride[0] : 1; q.sw = d.stride[1] ? d.stride[1] : 1;
    q.dh = d.dilation[0] ? d.dilation[0] : 1; q.dw = d.dilation[1] ? d.dilation[1] : 1;
    q.pt = ph; q.pl = pw;
    op[0] = d.output_padding[0]; op[1] = d.output_padding[1];
    if ((op[0] >= q.sh && op[0] >= q.dh) || (op[1] >= q.sw && op[1] >= q.dw)) {
        int a[2]; a[0] = (int)op[0]; a[1] = (int)op[1];
        return dl__fail2(ctx, DL_STATUS_INVALID, "output_padding (%d, %d) must be smaller than the stride or the dilation in each dimension", DL__A(&a[0]), DL__A(&a[1]));
    }
    if (q.O < 1 || q.OH < 1 || q.OW < 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must have channels and a non-empty image", DL__A(x));
    if (q.kh < 1 || q.kw < 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "weight%T has an empty kernel", DL__A(w));
    if (q.O % q.g) { int gi = (int)q.g; return dl__fail2(ctx, DL_STATUS_SHAPE, "groups %d must divide the channels of x%T", DL__A(&gi), DL__A(x)); }
    if (w->shape[0] != q.O) return dl__fail2(ctx, DL_STATUS_SHAPE, "weight%T must be [Cin, Cout/groups, kh, kw] with Cin = the channels of x%T", DL__A(w), DL__A(x));
    q.C = w->shape[1] * q.g;
    if (b && (b->ndim != 1 || b->shape[0] != q.C)) {
        int gi = (int)q.g;
        return dl__fail3(ctx, DL_STATUS_SHAPE, "bias%T must be [Cout] = [weight.shape[1] * groups] for weight%T, groups %d", DL__A(b), DL__A(w), DL__A(&gi));
    }
    if (q.OH - 1 > (INT64_MAX / 8) / q.sh || q.OW - 1 > (INT64_MAX / 8) / q.sw) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T: output too large", DL__A(x));
    eh = (q.OH - 1) * q.sh - 2 * ph + q.dh * (q.kh - 1) + op[0] + 1;
    ew = (q.OW - 1) * q.sw - 2 * pw + q.dw * (q.kw - 1) + op[1] + 1;
    if (eh <= 0 || ew <= 0)
        return dl__fail4(ctx, DL_STATUS_SHAPE, "output size %I x %I <= 0 for x%T and weight%T (padding too large)", DL__A(&eh), DL__A(&ew), DL__A(x), DL__A(w));
    q.H = eh; q.W = ew;
    return dl__conv_run(ctx, 1, x, w, b, &q);
}

/* a Conv2d layer: torch's default init, U(+-1/sqrt(fan_in)) for weight and bias */
DL__API void dl_conv2d_init(dl_ctx *ctx, dl_conv2d_layer *l, int64_t in, int64_t out, int kh, int kw, int bias, const dl_conv_desc *d) {
    int64_t g, fan_in; float bound;
    if (!ctx || !l) return;
    memset(l, 0, sizeof *l);
    if (d) l->desc = *d;
    ctx->op = "dl_conv2d_init";
    l->weight = &ctx->poison;
    if (ctx->status) return;
    g = l->desc.groups > 0 ? l->desc.groups : 1;
    if (in <= 0 || out <= 0 || kh <= 0 || kw <= 0) {
        int64_t k2[2]; k2[0] = kh; k2[1] = kw;
        dl__fail4(ctx, DL_STATUS_SHAPE, "in %I, out %I and kernel %I x %I must be positive", DL__A(&in), DL__A(&out), DL__A(&k2[0]), DL__A(&k2[1]));
        return;
    }
    if (l->desc.groups < 0 || in % g || out % g) {
        dl__fail3(ctx, DL_STATUS_SHAPE, "groups %d must divide in %I and out %I", DL__A(&l->desc.groups), DL__A(&in), DL__A(&out));
        return;
    }
    fan_in = (in / g) * kh * kw;
    bound = 1.0f / sqrtf((float)fan_in);       /* kaiming_uniform(a = sqrt 5) == U(+-1/sqrt(fan_in)) */
    l->weight = dl_uniform(ctx, dl_shape4(out, in / g, kh, kw), -bound, bound);
    dl_requires_grad(ctx, l->weight, 1);
    if (bias) { l->bias = dl_uniform(ctx, dl_shape1(out), -bound, bound); dl_requires_grad(ctx, l->bias, 1); }
}
DL__API dl_tensor *dl_conv2d_forward(dl_ctx *ctx, const dl_conv2d_layer *l, dl_tensor *x) {
    DL__ENTER(ctx, "dl_conv2d_forward");
    if (!l) return dl__fail0(ctx, DL_STATUS_INVALID, "layer is NULL");
    return dl_conv2d(ctx, x, l->weight, l->bias, &l->desc);
}

/* ======================================================================================
   >>ops-pool  2-D pooling over x [N,C,H,W], one (n,c) plane at a time, as torch's CPU
   kernels (1.13): floor mode, windows clipped to the input, max pads with -inf.
   out = floor((H + 2 pad - k) / stride) + 1; pad <= k/2 (torch's rule), so no window
   lies wholly in padding. Max keeps its argmax (flat h*W + w in the plane, DL_I32) in the
   arena beside the output when a gradient or the indices are wanted; the backward routes
   through it (the tensor handed back in *indices is that same one: leave it unchanged
   until the backward has run).
   ====================================================================================== */
/* desc -> g[0..5] = kh, kw, sh, sw, ph, pw (stride 0 -> kernel); output size in oh, ow */
static int dl__pool_geom(dl_ctx *ctx, const dl_tensor *x, const dl_pool_desc *d, int *g, int64_t *oh, int64_t *ow) {
    int i;
    if (!d) { dl__fail0(ctx, DL_STATUS_INVALID, "desc is NULL"); return 0; }
    if (x->ndim != 4) { dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must be 4-D [N,C,H,W]", DL__A(x)); return 0; }
    g[0] = d->kernel[0]; g[1] = d->kernel[1];
    g[2] = d->stride[0] ? d->stride[0] : g[0]; g[3] = d->stride[1] ? d->stride[1] : g[1];
    g[4] = d->pad[0]; g[5] = d->pad[1];
    if (g[0] <= 0 || g[1] <= 0) {
        dl__fail3(ctx, DL_STATUS_INVALID, "kernel %dx%d must be positive, x%T", DL__A(&g[0]), DL__A(&g[1]), DL__A(x)); return 0; }
    if (g[2] <= 0 || g[3] <= 0) {
        dl__fail3(ctx, DL_STATUS_INVALID, "stride %dx%d must be positive (0: the kernel size), x%T", DL__A(&g[2]), DL__A(&g[3]), DL__A(x)); return 0; }
    if (g[4] < 0 || g[5] < 0 || g[4] > g[0] / 2 || g[5] > g[1] / 2) {
        dl__fail4(ctx, DL_STATUS_INVALID, "pad %dx%d must be >= 0 and at most half the kernel %dx%d", DL__A(&g[4]), DL__A(&g[5]), DL__A(&g[0]), DL__A(&g[1])); return 0; }
    if (x->shape[2] <= 0 || x->shape[3] <= 0) { dl__fail1(ctx, DL_STATUS_SHAPE, "x%T has an empty H x W plane", DL__A(x)); return 0; }
    for (i = 0; i < 2; i++) {
        int64_t span = x->shape[2 + i] + 2 * (int64_t)g[4 + i];
        if (span < g[i]) {
            const void *a[5]; a[0] = &g[0]; a[1] = &g[1]; a[2] = x; a[3] = &g[4]; a[4] = &g[5];
            dl__fail_v(ctx, DL_STATUS_SHAPE, "kernel %dx%d larger than the padded input x%T (pad %dx%d): empty output", a);
            return 0;
        }
        if (i == 0) *oh = (span - g[0]) / g[2] + 1; else *ow = (span - g[1]) / g[3] + 1;
    }
    return 1;
}

/* >>op-max_pool2d  y[o] = max over the window (padding -inf), i[o] = its first argmax;
   dx[i[o]] += g[o]                                                                     */
static void dl__bwd_max_pool2d(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *x = nd->in[0], *y = nd->out; const int32_t *ix = nd->in[1]->idata;
    float *gx = dl__ingrad(ctx, nd, 0); int64_t p, o, P, HW, OHW;
    if (!gx || ctx->measure || !x->numel) return;
    P = x->shape[0] * x->shape[1]; HW = x->shape[2] * x->shape[3]; OHW = y->shape[2] * y->shape[3];
    for (p = 0; p < P; p++) {
        float *gp = gx + p * HW; const float *g = y->grad + p * OHW; const int32_t *ip = ix + p * OHW;
        for (o = 0; o < OHW; o++) gp[ip[o]] += g[o];
    }
}
DL__API dl_tensor *dl_max_pool2d(dl_ctx *ctx, dl_tensor *x, const dl_pool_desc *d, dl_tensor **indices) {
    dl_tensor *y, *ix = NULL, *in[2]; int g[6]; int64_t OH = 0, OW = 0, H, W, P, p, oh, ow; int keep;
    if (indices) *indices = ctx ? &ctx->poison : NULL;
    DL__ENTER(ctx, "dl_max_pool2d");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__pool_geom(ctx, x, d, g, &OH, &OW)) return &ctx->poison;
    H = x->shape[2]; W = x->shape[3];
    if (H > (int64_t)INT32_MAX / W)
        return dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "x%T: an H x W plane too large for int32 indices", DL__A(x));
    x = dl__contig(ctx, x);
    y = dl__new(ctx, dl_shape4(x->shape[0], x->shape[1], OH, OW), DL_F32, 1);
    keep = indices || (ctx->grad_enabled && x->requires_grad) || ctx->be;   /* same in both modes; a backend always
                                                                          records the node (its kernel fills both) */
    if (keep) ix = dl__new(ctx, dl_shape4(x->shape[0], x->shape[1], OH, OW), DL_I32, 1);
    if (ctx->status) return &ctx->poison;
    P = x->numel ? x->shape[0] * x->shape[1] : 0;
    if (!ctx->nocomp && g[0] == 2 && g[1] == 2 && g[2] == 2 && g[3] == 2 && g[4] == 0 && g[5] == 0)
        for (p = 0; p < P; p++) {   /* 2x2, stride 2, no padding: every window is whole; the
                                       same four comparisons in the same order as below */
            const float *xp = x->data + p * H * W; float *yp = y->data + p * OH * OW;
            int32_t *ip = ix ? ix->idata + p * OH * OW : NULL;
            for (oh = 0; oh < OH; oh++) {
                const float *r0 = xp + 2 * oh * W, *r1 = r0 + W;
                ow = 0;
#if defined(DL__X86_64)
                if (dl__isa_rank(ctx->isa) >= 2) {   /* four windows at once (SSE2, part of x86-64;
                       DL_ISA_REFERENCE / _PORTABLE keep the scalar loop): even / odd columns
                       apart, then the same three updates as the scalar loop, as masks */
                    const __m128i vrow = _mm_set1_epi32((int)(2 * oh * W)), vW = _mm_set1_epi32((int)W), one = _mm_set1_epi32(1);
                    for (; ow + 4 <= OW; ow += 4) {
                        const int64_t c = 2 * ow;
                        const __m128 a0 = _mm_loadu_ps(r0 + c), a1 = _mm_loadu_ps(r0 + c + 4), b0 = _mm_loadu_ps(r1 + c), b1 = _mm_loadu_ps(r1 + c + 4);
                        const __m128 e0 = _mm_shuffle_ps(a0, a1, 0x88), o0 = _mm_shuffle_ps(a0, a1, 0xDD);
                        const __m128 e1 = _mm_shuffle_ps(b0, b1, 0x88), o1 = _mm_shuffle_ps(b0, b1, 0xDD);
                        __m128 best = e0, t; __m128i k = _mm_setzero_si128(), ti;
#define DL__POOL_STEP(V, K) \
                        t = _mm_or_ps(_mm_cmpgt_ps(V, best), _mm_cmpunord_ps(V, V)); ti = _mm_castps_si128(t); \
                        best = _mm_or_ps(_mm_and_ps(t, V), _mm_andnot_ps(t, best)); \
                        k = _mm_or_si128(_mm_and_si128(ti, _mm_set1_epi32(K)), _mm_andnot_si128(ti, k));
                        DL__POOL_STEP(o0, 1) DL__POOL_STEP(e1, 2) DL__POOL_STEP(o1, 3)
#undef DL__POOL_STEP
                        _mm_storeu_ps(yp + oh * OW + ow, best);
                        if (ip) {   /* (2 oh + k / 2) W + 2 ow + k % 2 */
                            const __m128i col = _mm_add_epi32(_mm_set_epi32((int)(c + 6), (int)(c + 4), (int)(c + 2), (int)c), _mm_and_si128(k, one));
                            const __m128i down = _mm_and_si128(_mm_sub_epi32(_mm_setzero_si128(), _mm_srli_epi32(k, 1)), vW);
                            _mm_storeu_si128((__m128i *)(void *)(ip + oh * OW + ow), _mm_add_epi32(_mm_add_epi32(vrow, down), col));
                        }
                    }
                }
#endif
                for (; ow < OW; ow++) {
                    const int64_t c = 2 * ow; float best = r0[c], v; int k = 0, t;   /* k: which of the 4 */
                    v = r0[c + 1]; t = (v > best) | (v != v); best = t ? v : best; k = t ? 1 : k;   /* branch-free: */
                    v = r1[c];     t = (v > best) | (v != v); best = t ? v : best; k = t ? 2 : k;   /* random data  */
                    v = r1[c + 1]; t = (v > best) | (v != v); best = t ? v : best; k = t ? 3 : k;   /* mispredicts  */
                    yp[oh * OW + ow] = best;
                    if (ip) ip[oh * OW + ow] = (int32_t)((2 * oh + (k >> 1)) * W + c + (k & 1));
                }
            }
        }
    else if (!ctx->nocomp)
        for (p = 0; p < P; p++) {
            const float *xp = x->data + p * H * W; float *yp = y->data + p * OH * OW;
            int32_t *ip = ix ? ix->idata + p * OH * OW : NULL;
            for (oh = 0; oh < OH; oh++) {
                int64_t h0 = oh * g[2] - g[4], h1 = h0 + g[0] < H ? h0 + g[0] : H;
                if (h0 < 0) h0 = 0;
                for (ow = 0; ow < OW; ow++) {
                    int64_t w0 = ow * g[3] - g[5], w1 = w0 + g[1] < W ? w0 + g[1] : W, h, w, bi;
                    float best = -INFINITY;
                    if (w0 < 0) w0 = 0;
                    bi = h0 * W + w0;
                    for (h = h0; h < h1; h++) for (w = w0; w < w1; w++) {
                        float v = xp[h * W + w];
                        if (v > best || v != v) { best = v; bi = h * W + w; }   /* torch: NaN wins */
                    }
                    yp[oh * OW + ow] = best;
                    if (ip) ip[oh * OW + ow] = (int32_t)bi;
                }
            }
        }
    if (ix) {
        dl__node *nd; int i;
        in[0] = x; in[1] = ix;
        nd = dl__record(ctx, DL__OP_max_pool2d, y, in, 2);
        if (nd) for (i = 0; i < 6; i++) nd->iarg[i] = g[i];   /* kh, kw, sh, sw, ph, pw (a backend's kernels) */
    }
    if (indices && !ctx->status) *indices = ix;
    return dl__done(ctx, y);
}

/* >>op-avg_pool2d  y[o] = sum over the window / div, div = the window clipped to the
   padded input (torch's count_include_pad) or to the input (exclude_pad); dx += g/div.
   torch's rule, kept as written: hend = min(hstart + k, H + pad), div = (hend - hstart) x
   (wend - wstart). In floor mode the last window ends at (OH-1) s - p + k <= H + p, so the
   clip never bites and count_include_pad divides by kh*kw; it would under ceil mode.    */
static int64_t dl__avg_win(int64_t o, int k, int s, int p, int64_t H, int64_t *a, int64_t *b) {
    int64_t lo = o * s - p, hi = lo + k < H + p ? lo + k : H + p, full = hi - lo;
    *a = lo < 0 ? 0 : lo; *b = hi < H ? hi : H;
    return full;
}
/* one bin of output o along an axis: [*a, *b) and its divisor. g == NULL: adaptive bins
   [floor(o H / OH), ceil((o+1) H / OH)); else avg_pool2d windows (kernel g[ax], stride
   g[2+ax], pad g[4+ax]) whose divisor counts padding unless excl                      */
static int64_t dl__mean_bin(const int *g, int ax, int excl, int64_t o, int64_t H, int64_t OH, int64_t *a, int64_t *b) {
    int64_t full;
    if (!g) { *a = o * H / OH; *b = ((o + 1) * H + OH - 1) / OH; return *b - *a; }
    full = dl__avg_win(o, g[ax], g[2 + ax], g[4 + ax], H, a, b);
    return excl ? *b - *a : full;
}
/* mean over each window: forward (yd) or backward (gy -> gx), avg and adaptive pooling */
static void dl__mean_pool_run(const dl_tensor *x, const int *g, int excl, int64_t OH, int64_t OW,
                              const float *xd, float *yd, const float *gy, float *gx) {
    int64_t H = x->shape[2], W = x->shape[3], P = x->numel ? x->shape[0] * x->shape[1] : 0, p, oh, ow, h, w;
    for (p = 0; p < P; p++)
        for (oh = 0; oh < OH; oh++) {
            int64_t h0, h1, fh = dl__mean_bin(g, 0, excl, oh, H, OH, &h0, &h1);
            for (ow = 0; ow < OW; ow++) {
                int64_t w0, w1, fw = dl__mean_bin(g, 1, excl, ow, W, OW, &w0, &w1), o = (p * OH + oh) * OW + ow;
                if (h0 >= h1 || w0 >= w1) { if (yd) yd[o] = 0.0f; continue; }
                if (yd) {
                    double s = 0.0; const float *xp = xd + p * H * W;
                    for (h = h0; h < h1; h++) for (w = w0; w < w1; w++) s += (double)xp[h * W + w];
                    yd[o] = (float)(s / (double)(fh * fw));
                } else {
                    float gd = gy[o] / (float)(fh * fw); float *gp = gx + p * H * W;
                    for (h = h0; h < h1; h++) for (w = w0; w < w1; w++) gp[h * W + w] += gd;
                }
            }
        }
}
static void dl__bwd_avg_pool2d(dl_ctx *ctx, dl__node *nd) {
    float *gx = dl__ingrad(ctx, nd, 0);
    if (!gx || ctx->measure) return;
    dl__mean_pool_run(nd->in[0], nd->iarg, nd->iarg[6], nd->out->shape[2], nd->out->shape[3], NULL, NULL, nd->out->grad, gx);
}
DL__API dl_tensor *dl_avg_pool2d(dl_ctx *ctx, dl_tensor *x, const dl_pool_desc *d) {
    dl_tensor *y; int g[6], i; int64_t OH = 0, OW = 0; dl__node *nd;
    DL__ENTER(ctx, "dl_avg_pool2d");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__pool_geom(ctx, x, d, g, &OH, &OW)) return &ctx->poison;
    x = dl__contig(ctx, x);
    y = dl__new(ctx, dl_shape4(x->shape[0], x->shape[1], OH, OW), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) dl__mean_pool_run(x, g, d->exclude_pad != 0, OH, OW, x->data, y->data, NULL, NULL);
    nd = dl__record(ctx, DL__OP_avg_pool2d, y, &x, 1);
    if (nd) { for (i = 0; i < 6; i++) nd->iarg[i] = g[i]; nd->iarg[6] = d->exclude_pad != 0; }
    return dl__done(ctx, y);
}

/* >>op-adaptive_avg_pool2d  bin i of n over H: [floor(i H / n), ceil((i+1) H / n));
   y = mean of the bin; dx += g / bin size. Global average pooling is the 1x1 case.      */
static void dl__bwd_adaptive_avg_pool2d(dl_ctx *ctx, dl__node *nd) {
    float *gx = dl__ingrad(ctx, nd, 0);
    if (!gx || ctx->measure) return;
    dl__mean_pool_run(nd->in[0], NULL, 0, nd->out->shape[2], nd->out->shape[3], NULL, NULL, nd->out->grad, gx);
}
static dl_tensor *dl__adaptive_avg_pool2d(dl_ctx *ctx, dl_tensor *x, int oh, int ow) {
    dl_tensor *y;
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim != 4) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must be 4-D [N,C,H,W]", DL__A(x));
    if (oh <= 0 || ow <= 0) return dl__fail3(ctx, DL_STATUS_INVALID, "output size %dx%d must be positive, x%T", DL__A(&oh), DL__A(&ow), DL__A(x));
    if (x->shape[2] <= 0 || x->shape[3] <= 0) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T has an empty H x W plane", DL__A(x));
    x = dl__contig(ctx, x);
    y = dl__new(ctx, dl_shape4(x->shape[0], x->shape[1], oh, ow), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) dl__mean_pool_run(x, NULL, 0, oh, ow, x->data, y->data, NULL, NULL);
    dl__record(ctx, DL__OP_adaptive_avg_pool2d, y, &x, 1);
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_adaptive_avg_pool2d(dl_ctx *ctx, dl_tensor *x, int oh, int ow) {
    DL__ENTER(ctx, "dl_adaptive_avg_pool2d");
    return dl__adaptive_avg_pool2d(ctx, x, oh, ow);
}
DL__API dl_tensor *dl_global_avg_pool2d(dl_ctx *ctx, dl_tensor *x) {
    DL__ENTER(ctx, "dl_global_avg_pool2d");
    return dl__adaptive_avg_pool2d(ctx, x, 1, 1);
}

/* >>op-max_unpool2d  y[n,c] (oh x ow) = 0 except y[n,c].flat[i] = x[n,c,i] (in order: a
   repeated index keeps the last write, as torch's CPU kernel); dx[i] += g.flat[idx[i]]   */
static void dl__bwd_max_unpool2d(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *x = nd->in[0], *y = nd->out; const int32_t *ix = nd->in[1]->idata;
    float *gx = dl__ingrad(ctx, nd, 0); int64_t p, i, P, HW, OHW;
    if (!gx || ctx->measure || !x->numel) return;
    P = x->shape[0] * x->shape[1]; HW = x->shape[2] * x->shape[3]; OHW = y->shape[2] * y->shape[3];
    for (p = 0; p < P; p++) {
        const float *g = y->grad + p * OHW;
        for (i = 0; i < HW; i++) gx[p * HW + i] += g[ix[p * HW + i]];
    }
}
DL__API dl_tensor *dl_max_unpool2d(dl_ctx *ctx, dl_tensor *x, dl_tensor *indices, int oh, int ow) {
    dl_tensor *y, *in[2]; int64_t P, HW, OHW, p, i;
    DL__ENTER(ctx, "dl_max_unpool2d");
    if (!dl__arg(ctx, x, 1, DL_F32) || !dl__arg(ctx, indices, 2, DL_I32)) return &ctx->poison;
    if (x->ndim != 4) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must be 4-D [N,C,H,W]", DL__A(x));
    if (!dl_same_shape(x, indices)) return dl__fail2(ctx, DL_STATUS_SHAPE, "indices%T must have the shape of x%T", DL__A(indices), DL__A(x));
    if (oh <= 0 || ow <= 0) return dl__fail3(ctx, DL_STATUS_INVALID, "output size %dx%d must be positive, x%T", DL__A(&oh), DL__A(&ow), DL__A(x));
    x = dl__contig(ctx, x); indices = dl__contig_index(ctx, indices);
    if (ctx->status) return &ctx->poison;
    OHW = (int64_t)oh * ow;   /* products of dims only when x has elements: then they are bounded */
    P = x->numel ? x->shape[0] * x->shape[1] : 0; HW = x->numel ? x->shape[2] * x->shape[3] : 0;
    if (indices->idata && !ctx->be)   /* a backend's host copy may be stale (indices from a kernel): its kernels skip bad ones */
        for (i = 0; i < indices->numel; i++) {
            int64_t v = indices->idata[i];
            if (v < 0 || v >= OHW) {
                const void *a[5]; a[0] = &v; a[1] = &i; a[2] = &oh; a[3] = &ow; a[4] = x;
                return dl__fail_v(ctx, DL_STATUS_INDEX, "index %I at position %I out of range of the %dx%d output plane, x%T", a);
            }
        }
    y = dl__new(ctx, dl_shape4(x->shape[0], x->shape[1], oh, ow), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        if (y->numel) memset(y->data, 0, (size_t)y->numel * sizeof(float));
        for (p = 0; p < P; p++) for (i = 0; i < HW; i++) y->data[p * OHW + indices->idata[p * HW + i]] = x->data[p * HW + i];
    }
    in[0] = x; in[1] = indices;
    {   dl__node *nd = dl__record(ctx, DL__OP_max_unpool2d, y, in, 2);
        if (nd) { nd->iarg[0] = oh; nd->iarg[1] = ow; } }
    return dl__done(ctx, y);
}

/* ======================================================================================
   >>ops-norm  batch / layer / group / instance norm, fused: own forward and backward.
   Each normalizes groups of m elements: xhat = (x - mean) * invstd, invstd =
   1/sqrt(var + eps), var biased, sums in double; y = gamma * xhat + beta. The forward
   saves every group's mean and invstd in the arena (a [2, groups] tensor, the node's
   input 3; made the same way in measure mode) and the backward reads them back:
     dx = invstd * (gy - mean(gy) - xhat * mean(gy * xhat)),  gy = gamma * dy,
     dgamma = sum(dy * xhat),  dbeta = sum(dy)   (each over its channel / element).
   batch norm: a group is a channel (every axis but 1); eval normalizes with the running
   statistics, and its backward is the affine one: dx = gamma * invstd * dy.
   layer norm: a group is a row of the last ndims dims; group norm: C/groups channels
   of one sample. Both run on dl__rownorm: rows of m contiguous elements.
   ====================================================================================== */
static int64_t dl__norm_inner(const dl_tensor *x) { int d; int64_t n = 1; for (d = 2; d < x->ndim; d++) n *= x->shape[d]; return n; }
/* gamma / beta / running statistics: NULL (when allowed) or a float [C] */
static int dl__norm_vec(dl_ctx *ctx, const dl_tensor *t, int argno, const char *what, int64_t C, const dl_tensor *x) {
    if (!t) return 1;
    if (!dl__arg(ctx, t, argno, DL_F32)) return 0;
    if (t->ndim != 1 || t->shape[0] != C) {
        dl__fail4(ctx, DL_STATUS_SHAPE, "%s%T must be [C] with C = x.shape[1] = %I, x%T", DL__A(what), DL__A(t), DL__A(&C), DL__A(x));
        return 0;
    }
    return 1;
}
static float dl__norm_eps(float eps) { return eps == 0.0f ? 1e-5f : eps; }
static int dl__norm_eps_ok(dl_ctx *ctx, float eps) {
    if (eps >= 0.0f && eps < INFINITY) return 1;
    { double e = (double)eps; dl__fail1(ctx, DL_STATUS_INVALID, "eps = %g must be >= 0 (0: 1e-5)", DL__A(&e)); }
    return 0;
}
/* the [2, groups] mean/invstd tensor: kept when the op is recorded, else freed at the end */
static int dl__norm_records(dl_ctx *ctx, dl_tensor *const *in) {
    return ctx->grad_enabled && ((in[0] && in[0]->requires_grad) || (in[1] && in[1]->requires_grad) || (in[2] && in[2]->requires_grad));
}

/* >>op-batch_norm  x [N,C,*]; per channel c over the N*S elements (n, s):
   train: y = gamma (x - mean_c) / sqrt(var_c + eps) + beta,  var biased; running stats
          rm = (1-mom) rm + mom mean, rv = (1-mom) rv + mom var * m/(m-1)  (m = N*S)
          dx = (gamma invstd / m) (m dy - sum(dy) - xhat sum(dy xhat))
   eval:  mean, var = rm, rv;  dx = gamma invstd dy.    dgamma = sum(dy xhat), dbeta = sum(dy) */
static void dl__bwd_batch_norm(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *x = nd->in[0], *ga = nd->in[1], *st = nd->in[3];
    float *gx = dl__ingrad(ctx, nd, 0), *gg = dl__ingrad(ctx, nd, 1), *gb = dl__ingrad(ctx, nd, 2);
    const float *g = nd->out->grad; int64_t N, C, S, c, n, s; int train = nd->iarg[0];
    if (ctx->measure || ctx->status) return;
    N = x->shape[0]; C = x->shape[1]; S = dl__norm_inner(x);
    for (c = 0; c < C; c++) {
        const float mean = st->data[c], inv = st->data[C + c], gam = ga ? ga->data[c] : 1.0f;
        double s1 = 0.0, s2 = 0.0; float b, cc, a = gam * inv; int64_t m = N * S;
        for (n = 0; n < N; n++) {
            const float *xp = x->data + (n * C + c) * S, *gp = g + (n * C + c) * S;
            for (s = 0; s < S; s++) { float xh = (xp[s] - mean) * inv; s1 += (double)gp[s]; s2 += (double)gp[s] * (double)xh; }
        }
        if (gg) gg[c] += (float)s2;
        if (gb) gb[c] += (float)s1;
        if (!gx || m == 0) continue;
        b = train ? (float)(s1 / (double)m) : 0.0f; cc = train ? (float)(s2 / (double)m) : 0.0f;
        for (n = 0; n < N; n++) {
            const float *xp = x->data + (n * C + c) * S, *gp = g + (n * C + c) * S; float *dp = gx + (n * C + c) * S;
            for (s = 0; s < S; s++) { float xh = (xp[s] - mean) * inv; dp[s] += a * (gp[s] - b - xh * cc); }
        }
    }
}
DL__API dl_tensor *dl_batch_norm(dl_ctx *ctx, dl_tensor *x, dl_tensor *gamma, dl_tensor *beta,
                                 dl_tensor *running_mean, dl_tensor *running_var, int train, float momentum, float eps) {
    dl_tensor *y, *st, *in[4]; int64_t N, C, S, m, c, n, s; dl_mark mk; int rec; dl__node *nd;
    DL__ENTER(ctx, "dl_batch_norm");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim < 2) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must have a channel axis: [N,C], [N,C,L] or [N,C,H,W]", DL__A(x));
    C = x->shape[1];
    if (!dl__norm_vec(ctx, gamma, 2, "gamma", C, x) || !dl__norm_vec(ctx, beta, 3, "beta", C, x) ||
        !dl__norm_vec(ctx, running_mean, 4, "running_mean", C, x) || !dl__norm_vec(ctx, running_var, 5, "running_var", C, x))
        return &ctx->poison;
    if ((running_mean == NULL) != (running_var == NULL))
        return dl__fail0(ctx, DL_STATUS_INVALID, "give both running_mean and running_var, or neither");
    if (!train && !running_mean)
        return dl__fail0(ctx, DL_STATUS_INVALID, "eval mode (train = 0) needs running_mean and running_var");
    if (!dl__norm_eps_ok(ctx, eps)) return &ctx->poison;
    eps = dl__norm_eps(eps);
    momentum = momentum == 0.0f ? 0.1f : momentum;
    if (!(momentum > 0.0f && momentum <= 1.0f)) {
        double mo = (double)momentum;
        return dl__fail1(ctx, DL_STATUS_INVALID, "momentum = %g must be in (0, 1] (0: 0.1)", DL__A(&mo));
    }
    N = x->shape[0]; S = dl__norm_inner(x); m = N * S;
    if (train && m == 1)
        return dl__fail1(ctx, DL_STATUS_SHAPE, "expected more than 1 value per channel when training, got input%T", DL__A(x));
    in[0] = dl__contig(ctx, x);
    in[1] = gamma ? dl__contig(ctx, gamma) : NULL;
    in[2] = beta ? dl__contig(ctx, beta) : NULL;
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    rec = dl__norm_records(ctx, in);
    mk = dl_ctx_mark(ctx);
    st = dl__new(ctx, dl_shape2(2, C), DL_F32, 1);   /* row 0: mean, row 1: invstd */
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp) {
        const float *xd = in[0]->data;
        for (c = 0; c < C; c++) {
            double mean, var;
            if (train) {
                double sum = 0.0, sq = 0.0;
                for (n = 0; n < N; n++) { const float *xp = xd + (n * C + c) * S; for (s = 0; s < S; s++) sum += (double)xp[s]; }
                mean = m ? sum / (double)m : 0.0;
                for (n = 0; n < N; n++) { const float *xp = xd + (n * C + c) * S; for (s = 0; s < S; s++) { double dd = (double)xp[s] - mean; sq += dd * dd; } }
                var = m ? sq / (double)m : 0.0;
                if (running_mean && m > 0) {
                    double mo = (double)momentum;
                    dl_set(running_mean, c, (float)((1.0 - mo) * (double)dl_get(running_mean, c) + mo * mean));
                    dl_set(running_var, c, (float)((1.0 - mo) * (double)dl_get(running_var, c) + mo * var * (double)m / (double)(m - 1)));
                }
            } else { mean = (double)dl_get(running_mean, c); var = (double)dl_get(running_var, c); }
            st->data[c] = (float)mean;
            st->data[C + c] = (float)(1.0 / sqrt(var + (double)eps));
        }
        for (c = 0; c < C; c++) {
            const float mean = st->data[c], inv = st->data[C + c];
            const float gam = in[1] ? in[1]->data[c] : 1.0f, bet = in[2] ? in[2]->data[c] : 0.0f;
            for (n = 0; n < N; n++) {
                const float *xp = xd + (n * C + c) * S; float *yp = y->data + (n * C + c) * S;
                for (s = 0; s < S; s++) yp[s] = (xp[s] - mean) * inv * gam + bet;
            }
        }
    }
    if (!rec && !ctx->be) { dl_ctx_rewind(ctx, mk); return dl__done(ctx, y); }
    in[3] = st;
    {   /* a backend runs the forward (and the running-statistics update) from the node:
           inputs 4 and 5 are the running statistics, farg momentum and eps */
        dl_tensor *in6[6]; int k;
        for (k = 0; k < 4; k++) in6[k] = in[k];
        in6[4] = running_mean; in6[5] = running_var;
        nd = dl__record(ctx, DL__OP_batch_norm, y, in6, 6);
    }
    if (nd) { nd->iarg[0] = train != 0; nd->farg[0] = momentum; nd->farg[1] = eps; }
    return dl__done(ctx, y);
}

/* >>op-rownorm  layer and group norm: R rows of m = cg*S contiguous elements, G groups
   per sample; element k of row r takes gamma/beta index (r % G)*cg + k/S.
   layer norm: G = 1, cg = D (the normalized elements), S = 1; group norm: cg = C/G.
   y = xhat gamma + beta;  dx = invstd (gy - mean_row(gy) - xhat mean_row(gy xhat)),
   gy = gamma dy;  dgamma[p] += sum dy xhat, dbeta[p] += sum dy (over rows, in double)    */
static void dl__rownorm_bwd(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *x = nd->in[0], *ga = nd->in[1], *st = nd->in[3];
    float *gx = dl__ingrad(ctx, nd, 0), *gg = dl__ingrad(ctx, nd, 1), *gb = dl__ingrad(ctx, nd, 2);
    int64_t G = nd->larg[0], cg = nd->larg[1], S = nd->larg[2], m = cg * S, R = st->shape[1], P = G * cg, r, j, s, p;
    double *dg = NULL, *db = NULL; int ok = 1; dl_mark mk = dl_ctx_mark(ctx);
    const float *g = nd->out->grad;
    if (ctx->status) return;
    if (dl__needs(nd, 1) || dl__needs(nd, 2)) {   /* the same scratch in measure mode (gg, gb NULL there) */
        dg = (double *)dl__alloc(ctx, sizeof(double) * 2u * (size_t)(P ? P : 1), 0, &ok);
        if (!ok) return;
        db = dg ? dg + P : NULL;
    }
    if (ctx->measure) { dl_ctx_rewind(ctx, mk); return; }
    if (dg) for (p = 0; p < 2 * P; p++) dg[p] = 0.0;
    for (r = 0; r < R; r++) {
        const float mean = st->data[r], inv = st->data[R + r];
        const float *xr = x->data + r * m, *gr = g + r * m; int64_t p0 = (r % G) * cg;
        double s1 = 0.0, s2 = 0.0; float b, c;
        for (j = 0; j < cg; j++) {
            const float gam = ga ? ga->data[p0 + j] : 1.0f; double sdg = 0.0, sdb = 0.0;
            for (s = 0; s < S; s++) {
                const int64_t k = j * S + s; const float xh = (xr[k] - mean) * inv, gy = gr[k] * gam;
                s1 += (double)gy; s2 += (double)gy * (double)xh;
                sdg += (double)gr[k] * (double)xh; sdb += (double)gr[k];
            }
            if (dg) { dg[p0 + j] += sdg; db[p0 + j] += sdb; }
        }
        if (!gx || m == 0) continue;
        b = (float)(s1 / (double)m); c = (float)(s2 / (double)m);
        for (j = 0; j < cg; j++) {
            const float gam = ga ? ga->data[p0 + j] : 1.0f;
            for (s = 0; s < S; s++) {
                const int64_t k = j * S + s; const float xh = (xr[k] - mean) * inv;
                gx[r * m + k] += inv * (gr[k] * gam - b - xh * c);
            }
        }
    }
    if (dg) for (p = 0; p < P; p++) { if (gg) gg[p] += (float)dg[p]; if (gb) gb[p] += (float)db[p]; }
    dl_ctx_rewind(ctx, mk);
}
static dl_tensor *dl__rownorm(dl_ctx *ctx, int op, dl_tensor *x, dl_tensor *gamma, dl_tensor *beta,
                              int64_t G, int64_t cg, int64_t S, float eps) {
    dl_tensor *y, *st, *in[4]; int64_t m = cg * S, R, r, j, s; dl_mark mk; int rec; dl__node *nd;
    R = m ? x->numel / m : 0;
    in[0] = dl__contig(ctx, x);
    in[1] = gamma ? dl__contig(ctx, gamma) : NULL;
    in[2] = beta ? dl__contig(ctx, beta) : NULL;
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    rec = dl__norm_records(ctx, in);
    mk = dl_ctx_mark(ctx);
    st = dl__new(ctx, dl_shape2(2, R), DL_F32, 1);   /* row 0: mean, row 1: invstd */
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp)
        for (r = 0; r < R; r++) {
            const float *xr = in[0]->data + r * m; float *yr = y->data + r * m; int64_t k, p0 = (r % G) * cg;
            double sum = 0.0, sq = 0.0, mean; float meanf, inv;
            for (k = 0; k < m; k++) sum += (double)xr[k];
            mean = sum / (double)m;
            for (k = 0; k < m; k++) { double dd = (double)xr[k] - mean; sq += dd * dd; }
            meanf = (float)mean; inv = (float)(1.0 / sqrt(sq / (double)m + (double)eps));
            st->data[r] = meanf; st->data[R + r] = inv;
            for (j = 0; j < cg; j++) {
                const float gam = in[1] ? in[1]->data[p0 + j] : 1.0f, bet = in[2] ? in[2]->data[p0 + j] : 0.0f;
                for (s = 0; s < S; s++) { k = j * S + s; yr[k] = (xr[k] - meanf) * inv * gam + bet; }
            }
        }
    if (!rec && !ctx->be) { dl_ctx_rewind(ctx, mk); return dl__done(ctx, y); }   /* a backend runs every op from its node */
    in[3] = st;
    nd = dl__record(ctx, op, y, in, 4);
    if (nd) { nd->larg[0] = G; nd->larg[1] = cg; nd->larg[2] = S; nd->farg[0] = eps; }
    return dl__done(ctx, y);
}

/* >>op-layer_norm  over the last ndims dims (D elements per row); gamma/beta of their shape */
static void dl__bwd_layer_norm(dl_ctx *ctx, dl__node *nd) { dl__rownorm_bwd(ctx, nd); }
DL__API dl_tensor *dl_layer_norm(dl_ctx *ctx, dl_tensor *x, int ndims, dl_tensor *gamma, dl_tensor *beta, float eps) {
    int64_t D = 1; int d, k;
    DL__ENTER(ctx, "dl_layer_norm");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (ndims < 1 || ndims > x->ndim) return dl__fail2(ctx, DL_STATUS_AXIS, "ndims = %d must be in 1..rank of x%T", DL__A(&ndims), DL__A(x));
    for (d = x->ndim - ndims; d < x->ndim; d++) D *= x->shape[d];
    for (k = 0; k < 2; k++) {
        dl_tensor *t = k ? beta : gamma; int ok;
        if (!t) continue;
        if (!dl__arg(ctx, t, 3 + k, DL_F32)) return &ctx->poison;   /* x 1, ndims 2, gamma 3, beta 4 */
        ok = t->ndim == ndims;
        for (d = 0; ok && d < ndims; d++) ok = t->shape[d] == x->shape[x->ndim - ndims + d];
        if (!ok) return dl__fail4(ctx, DL_STATUS_SHAPE, "%s%T must have the shape of the last %d dims of x%T",
                                  DL__A(k ? "beta" : "gamma"), DL__A(t), DL__A(&ndims), DL__A(x));
    }
    if (!dl__norm_eps_ok(ctx, eps)) return &ctx->poison;
    return dl__rownorm(ctx, DL__OP_layer_norm, x, gamma, beta, 1, D, 1, dl__norm_eps(eps));
}

/* >>op-group_norm  x [N,C,*], C split in groups of C/groups channels; gamma/beta [C].
   instance norm is group norm with groups = C (torch InstanceNorm without running stats) */
static void dl__bwd_group_norm(dl_ctx *ctx, dl__node *nd) { dl__rownorm_bwd(ctx, nd); }
static dl_tensor *dl__group_norm(dl_ctx *ctx, dl_tensor *x, int groups, int instance, dl_tensor *gamma, dl_tensor *beta, float eps) {
    int64_t C, S;
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim < 2) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must have a channel axis: [N,C], [N,C,L] or [N,C,H,W]", DL__A(x));
    C = x->shape[1]; S = dl__norm_inner(x);
    if (instance) {
        if (S == 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "expected more than 1 spatial element, got input%T", DL__A(x));
        groups = C > 0 && C < 0x7fffffff ? (int)C : 1;
    }
    if (groups < 1) return dl__fail1(ctx, DL_STATUS_INVALID, "groups = %d must be positive", DL__A(&groups));
    if (C % groups) return dl__fail3(ctx, DL_STATUS_SHAPE, "groups = %d must divide the %I channels of x%T", DL__A(&groups), DL__A(&C), DL__A(x));
    if (!dl__norm_vec(ctx, gamma, instance ? 2 : 3, "gamma", C, x) || !dl__norm_vec(ctx, beta, instance ? 3 : 4, "beta", C, x)) return &ctx->poison;
    if (!dl__norm_eps_ok(ctx, eps)) return &ctx->poison;
    return dl__rownorm(ctx, DL__OP_group_norm, x, gamma, beta, groups, C / groups, S, dl__norm_eps(eps));
}
DL__API dl_tensor *dl_group_norm(dl_ctx *ctx, dl_tensor *x, int groups, dl_tensor *gamma, dl_tensor *beta, float eps) {
    DL__ENTER(ctx, "dl_group_norm"); return dl__group_norm(ctx, x, groups, 0, gamma, beta, eps);
}
DL__API dl_tensor *dl_instance_norm(dl_ctx *ctx, dl_tensor *x, dl_tensor *gamma, dl_tensor *beta, float eps) {
    DL__ENTER(ctx, "dl_instance_norm"); return dl__group_norm(ctx, x, 0, 1, gamma, beta, eps);
}

/* >>layer-batchnorm  gamma 1, beta 0 (learnable), running mean 0, var 1; momentum 0.1, eps 1e-5 */
DL__API void dl_batchnorm_init(dl_ctx *ctx, dl_batchnorm *bn, int64_t channels) {
    if (!ctx || !bn) return;
    memset(bn, 0, sizeof *bn);
    bn->momentum = 0.1f; bn->eps = 1e-5f;
    ctx->op = "dl_batchnorm_init";
    if (channels <= 0) {
        dl__fail1(ctx, DL_STATUS_SHAPE, "channels %I must be positive", DL__A(&channels));
        bn->weight = bn->bias = bn->running_mean = bn->running_var = &ctx->poison;
        return;
    }
    bn->weight = dl_ones(ctx, dl_shape1(channels));
    bn->bias = dl_zeros(ctx, dl_shape1(channels));
    bn->running_mean = dl_zeros(ctx, dl_shape1(channels));
    bn->running_var = dl_ones(ctx, dl_shape1(channels));
    dl_requires_grad(ctx, bn->weight, 1);
    dl_requires_grad(ctx, bn->bias, 1);
    ctx->op = "dl_batchnorm_init";
}
DL__API dl_tensor *dl_batchnorm_forward(dl_ctx *ctx, dl_batchnorm *bn, dl_tensor *x, int train) {
    dl_tensor *y;
    DL__ENTER(ctx, "dl_batchnorm_forward");
    if (!bn) return dl__fail0(ctx, DL_STATUS_INVALID, "layer is NULL");
    y = dl_batch_norm(ctx, x, bn->weight, bn->bias, bn->running_mean, bn->running_var, train, bn->momentum, bn->eps);
    ctx->op = "dl_batchnorm_forward";
    return y;
}
/* fold: s = gamma / sqrt(rv + eps) per output channel o; w'[o] = w[o] s, b' = (b - rm) s + beta.
   Data only (no autodiff), computed in double; works on views through dl_get/dl_set. */
static int dl__fold_arg(dl_ctx *ctx, const dl_tensor *t, const char *what, int64_t O, int optional) {
    if (!t) {
        if (optional) return 1;
        dl__fail1(ctx, DL_STATUS_INVALID, "%s is NULL", DL__A(what));
        return 0;
    }
    if (t->flags & DL__F_POISON) { dl__fail1(ctx, DL_STATUS_INVALID, "%s is a poison tensor", DL__A(what)); return 0; }
    if (t->dtype != DL_F32) { dl__fail2(ctx, DL_STATUS_DTYPE, "%s%T must be float32 (DL_F32)", DL__A(what), DL__A(t)); return 0; }
    if (O >= 0 && (t->ndim != 1 || t->shape[0] != O)) {
        dl__fail3(ctx, DL_STATUS_SHAPE, "%s%T must be [%I], the conv's output channels", DL__A(what), DL__A(t), DL__A(&O));
        return 0;
    }
    return 1;
}
DL__API dl_status dl_fold_batch_norm(dl_ctx *ctx, dl_conv2d_layer *conv, const dl_batchnorm *bn) {
    int64_t O, inner, o, i; double eps;
    if (!ctx) return DL_STATUS_INVALID;
    ctx->op = "dl_fold_batch_norm";
    if (ctx->status) return ctx->status;
    if (!conv || !bn) { dl__fail0(ctx, DL_STATUS_INVALID, "conv or bn is NULL"); return ctx->status; }
    if (!dl__fold_arg(ctx, conv->weight, "conv->weight", -1, 0)) return ctx->status;
    if (conv->weight->ndim < 1) { dl__fail1(ctx, DL_STATUS_SHAPE, "conv->weight%T has no output-channel axis", DL__A(conv->weight)); return ctx->status; }
    O = conv->weight->shape[0];
    if (!dl__fold_arg(ctx, conv->bias, "conv->bias", O, 1) || !dl__fold_arg(ctx, bn->weight, "bn->weight", O, 1) ||
        !dl__fold_arg(ctx, bn->bias, "bn->bias", O, 1) || !dl__fold_arg(ctx, bn->running_mean, "bn->running_mean", O, 0) ||
        !dl__fold_arg(ctx, bn->running_var, "bn->running_var", O, 0))
        return ctx->status;
    if (!(bn->eps >= 0.0f)) { double e = (double)bn->eps; dl__fail1(ctx, DL_STATUS_INVALID, "bn->eps = %g must be >= 0 (0: 1e-5)", DL__A(&e)); return ctx->status; }
    eps = (double)dl__norm_eps(bn->eps);
    if (!conv->bias) {
        conv->bias = dl_zeros(ctx, dl_shape1(O));
        if (!ctx->status && conv->weight->requires_grad) dl_requires_grad(ctx, conv->bias, 1);
        ctx->op = "dl_fold_batch_norm";
        if (ctx->status) return ctx->status;
    }
    if (!conv->weight->data || !conv->bias->data) return DL_STATUS_OK;   /* measure mode */
    if (!dl__pull(conv->weight) || !dl__pull(conv->bias) || !dl__pull(bn->weight) || !dl__pull(bn->bias) ||
        !dl__pull(bn->running_mean) || !dl__pull(bn->running_var)) return ctx->status;   /* on the host */
    inner = O ? conv->weight->numel / O : 0;
    for (o = 0; o < O; o++) {
        double gam = bn->weight ? (double)dl__host_get(bn->weight, o) : 1.0, bet = bn->bias ? (double)dl__host_get(bn->bias, o) : 0.0;
        double sc = gam / sqrt((double)dl__host_get(bn->running_var, o) + eps);
        for (i = o * inner; i < (o + 1) * inner; i++) dl__host_set(conv->weight, i, (float)((double)dl__host_get(conv->weight, i) * sc));
        dl__host_set(conv->bias, o, (float)(((double)dl__host_get(conv->bias, o) - (double)dl__host_get(bn->running_mean, o)) * sc + bet));
    }
    dl__push(conv->weight->ctx, conv->weight); dl__push(conv->bias->ctx, conv->bias);
    return ctx->status;
}

/* ======================================================================================
   >>ops-image  augmentation and per-channel normalization, x [N,C,H,W]
   The random helpers are data transforms, not ops: their result is a new constant tensor
   (no tape node, no gradient to x, like torchvision's transforms). They draw from the
   context RNG image by image, and draw exactly the same numbers in measure mode, so a
   measured step and a real one leave the RNG in the same state. A setting that changes
   nothing (pad 0, p 0, max_shift 0) returns x itself and draws nothing.
   dl_normalize_channels is differentiable: it composes dl_sub and dl_div.
   ====================================================================================== */
/* checks x is a float [N,C,H,W] tensor and an integer argument is >= 0 */
static int dl__image_arg(dl_ctx *ctx, dl_tensor *x, int v, const char *what) {
    if (!dl__arg(ctx, x, 1, DL_F32)) return 0;
    if (x->ndim != 4) { dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must be [N,C,H,W]", DL__A(x)); return 0; }
    if (v < 0) { dl__fail2(ctx, DL_STATUS_INVALID, "%s = %d must be >= 0", DL__A(what), DL__A(&v)); return 0; }
    return 1;
}
/* a uniform integer in [0, n), n >= 1: one draw */
static int64_t dl__rand_below(dl_ctx *ctx, int64_t n) { return (int64_t)(dl_rand_u64(ctx) % (uint64_t)n); }
/* y[n,c,i,j] = x[n,c,i-dy,j-dx] (0 outside x) for image n, every channel; x any strides */
static void dl__image_shift(const dl_tensor *x, float *y, int64_t n, int64_t dy, int64_t dx) {
    int64_t C = x->shape[1], H = x->shape[2], W = x->shape[3], c, i, j;
    for (c = 0; c < C; c++) {
        const float *xp = x->data + n * x->stride[0] + c * x->stride[1];
        float *yp = y + (n * C + c) * H * W;
        for (i = 0; i < H; i++) {
            int64_t si = i - dy;
            float *yr = yp + i * W;
            if (si < 0 || si >= H) { for (j = 0; j < W; j++) yr[j] = 0.0f; continue; }
            for (j = 0; j < W; j++) {
                int64_t sj = j - dx;
                yr[j] = (sj >= 0 && sj < W) ? xp[si * x->stride[2] + sj * x->stride[3]] : 0.0f;
            }
        }
    }
}

/* random_crop: pad x with `pad` zeros on every side, crop H x W at offset (oy, ox), each
   uniform in [0, 2 pad], drawn per image (oy first): y[i,j] = xpad[i+oy, j+ox]         */
DL__API dl_tensor *dl_random_crop(dl_ctx *ctx, dl_tensor *x, int pad) {
    dl_tensor *y; int64_t n; int host;
    DL__ENTER(ctx, "dl_random_crop");
    if (!dl__image_arg(ctx, x, pad, "pad")) return &ctx->poison;
    if (pad == 0) return x;
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    host = !ctx->measure && (!ctx->nocomp || dl__pull(x));   /* on the host: x downloaded, y uploaded */
    for (n = 0; n < x->shape[0]; n++) {       /* draws happen in measure mode too */
        int64_t oy = dl__rand_below(ctx, 2 * (int64_t)pad + 1), ox = dl__rand_below(ctx, 2 * (int64_t)pad + 1);
        if (host) dl__image_shift(x, y->data, n, pad - oy, pad - ox);
    }
    if (host) dl__push(ctx, y);
    return dl__done(ctx, y);
}

/* random_hflip: with probability p (one dl_rand_uniform per image, flip when u < p)
   y[n,c,i,j] = x[n,c,i,W-1-j], else y = x                                               */
DL__API dl_tensor *dl_random_hflip(dl_ctx *ctx, dl_tensor *x, float p) {
    dl_tensor *y; int64_t n, c, i, j, C, H, W; int host;
    DL__ENTER(ctx, "dl_random_hflip");
    if (!dl__image_arg(ctx, x, 0, "")) return &ctx->poison;
    if (!(p >= 0.0f && p <= 1.0f)) { double dp = (double)p; return dl__fail1(ctx, DL_STATUS_INVALID, "p = %g must be in [0, 1]", DL__A(&dp)); }
    if (p == 0.0f) return x;
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    C = x->shape[1]; H = x->shape[2]; W = x->shape[3];
    host = !ctx->measure && (!ctx->nocomp || dl__pull(x));   /* on the host: x downloaded, y uploaded */
    for (n = 0; n < x->shape[0]; n++) {
        int flip = dl_rand_uniform(ctx) < p;
        if (!host) continue;
        for (c = 0; c < C; c++) {
            const float *xp = x->data + n * x->stride[0] + c * x->stride[1];
            float *yp = y->data + (n * C + c) * H * W;
            for (i = 0; i < H; i++)
                for (j = 0; j < W; j++)
                    yp[i * W + j] = xp[i * x->stride[2] + (flip ? W - 1 - j : j) * x->stride[3]];
        }
    }
    if (host) dl__push(ctx, y);
    return dl__done(ctx, y);
}

/* random_translate: shift each image by (dy, dx), each uniform in [-max_shift, max_shift]
   (dy drawn first), zero fill: y[i,j] = x[i-dy, j-dx] (positive dy moves content down)  */
DL__API dl_tensor *dl_random_translate(dl_ctx *ctx, dl_tensor *x, int max_shift) {
    dl_tensor *y; int64_t n; int host;
    DL__ENTER(ctx, "dl_random_translate");
    if (!dl__image_arg(ctx, x, max_shift, "max_shift")) return &ctx->poison;
    if (max_shift == 0) return x;
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    host = !ctx->measure && (!ctx->nocomp || dl__pull(x));   /* on the host: x downloaded, y uploaded */
    for (n = 0; n < x->shape[0]; n++) {
        int64_t dy = dl__rand_below(ctx, 2 * (int64_t)max_shift + 1) - max_shift;
        int64_t dx = dl__rand_below(ctx, 2 * (int64_t)max_shift + 1) - max_shift;
        if (host) dl__image_shift(x, y->data, n, dy, dx);
    }
    if (host) dl__push(ctx, y);
    return dl__done(ctx, y);
}

/* normalize_channels: y = (x - mean[c]) / std[c], channels on axis 1 of x [N,C,...];
   two broadcast ops against [C,1,..,1] constants, so the gradient is dl_div's and dl_sub's */
DL__API dl_tensor *dl_normalize_channels(dl_ctx *ctx, dl_tensor *x, const float *mean, const float *std) {
    dl_tensor *m, *s, *y; dl_shape cs; int d; int64_t c;
    DL__ENTER(ctx, "dl_normalize_channels");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (x->ndim < 2) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T needs a channel axis 1: [N,C,...]", DL__A(x));
    if (!mean || !std) return dl__fail0(ctx, DL_STATUS_INVALID, "mean and std must not be NULL");
    for (c = 0; c < x->shape[1]; c++)
        if (!(std[c] != 0.0f && std[c] - std[c] == 0.0f && mean[c] - mean[c] == 0.0f)) {
            double sv = (double)std[c], mv = (double)mean[c];
            return dl__fail3(ctx, DL_STATUS_INVALID, "channel %I: mean %g and std %g must be finite, std non-zero", DL__A(&c), DL__A(&mv), DL__A(&sv));
        }
    cs.ndim = x->ndim - 1; cs.d[0] = x->shape[1];
    for (d = 1; d < cs.ndim; d++) cs.d[d] = 1;
    m = dl_from_data(ctx, cs, mean);
    s = dl_from_data(ctx, cs, std);
    y = dl_div(ctx, dl_sub(ctx, x, m), s);
    ctx->op = "dl_normalize_channels";
    return y;
}

/* ======================================================================================
   >>seq-rnn  embedding (gather forward, scatter-add backward) and the recurrent layer op:
   one node per layer and direction, the whole sequence inside it; then the dl_rnn stack.
   ====================================================================================== */

/* >>op-embedding  y[p, :] = weight[idx[p], :] for every position p of idx (any shape);
   dweight[idx[p], :] += g[p, :] except where idx[p] == padding_idx (repeats add up) */
static void dl__bwd_embedding(dl_ctx *ctx, dl__node *nd) {
    dl_tensor *w = nd->in[0], *idx = nd->in[1]; float *gw = dl__ingrad(ctx, nd, 0);
    const float *g = nd->out->grad; int64_t D = w->shape[1], i, k; int pad = nd->iarg[0];
    if (!gw || !g || ctx->measure || ctx->status) return;
    for (i = 0; i < idx->numel; i++) {
        int32_t r = idx->idata[i]; float *dst; const float *src;
        if (r == pad) continue;
        dst = gw + (int64_t)r * D; src = g + i * D;
        for (k = 0; k < D; k++) dst[k] += src[k];
    }
}
DL__API dl_tensor *dl_embedding(dl_ctx *ctx, dl_tensor *weight, dl_tensor *idx, int padding_idx) {
    dl_tensor *y, *in[2]; dl_shape s; int64_t D, i; dl__node *nd;
    DL__ENTER(ctx, "dl_embedding");
    if (!dl__arg(ctx, weight, 1, DL_F32) || !dl__arg(ctx, idx, 2, DL_I32)) return &ctx->poison;
    if (weight->ndim != 2) return dl__fail1(ctx, DL_STATUS_SHAPE, "weight%T must be [num_embeddings, dim]", DL__A(weight));
    if (idx->ndim >= DL_MAX_DIMS) return dl__fail1(ctx, DL_STATUS_SHAPE, "idx%T has too many dimensions (the output adds one)", DL__A(idx));
    if (padding_idx >= 0 && (int64_t)padding_idx >= weight->shape[0])
        return dl__fail2(ctx, DL_STATUS_INDEX, "padding_idx %d out of range for weight%T", DL__A(&padding_idx), DL__A(weight));
    weight = dl__contig(ctx, weight); idx = dl__contig_index(ctx, idx);
    if (ctx->status || !dl__check_indices(ctx, idx, weight->shape[0])) return &ctx->poison;
    s = dl_shape_of(idx); D = weight->shape[1]; s.d[s.ndim++] = D;
    y = dl__new(ctx, s, DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    if (!ctx->nocomp && D)
        for (i = 0; i < idx->numel; i++)
            memcpy(y->data + i * D, weight->data + (int64_t)idx->idata[i] * D, (size_t)D * sizeof(float));
    in[0] = weight; in[1] = idx;
    nd = dl__record(ctx, DL__OP_embedding, y, in, 2);
    if (nd) nd->iarg[0] = padding_idx < 0 ? -1 : padding_idx;
    return dl__done(ctx, y);
}

/* >>op-rnn  one layer, one direction, the whole sequence; x [T,B,I], gates G (1, 4, 3), GH = G*H.
   Forward: Xp = x W_ih^T + b_ih (+ b_hh, except GRU's n part) for all T*B rows in one GEMM;
   per step R^T = W_hh h^T (one GEMM [GH,H] x [H,B]; the state is kept transposed), then
   the gate math:
     RNN:  h = act(Xp + R)
     LSTM: i, f, g, o = sig, sig, tanh, sig (Xp + R);  c = f c' + i g;  h = o tanh(c)
     GRU:  r, z = sig(Xp + R);  hn = R_n + b_hn;  n = tanh(Xp_n + r hn);  h = (1-z) n + z h'
   Sequence b runs for t < len[b] (reverse: t = len[b]-1 .. 0); y is 0 beyond.
   The op's output is P [T+1 (+1 LSTM), B, H]: y, then h_n, then c_n; the public outputs
   are views of it. Saved per (t, b): LSTM i, f, g, o, c (5H); GRU r, z, n, hn (4H); RNN
   nothing (act' comes from y); then copies of h0 and c0. Backward (BPTT), steps in reverse:
     dGate (pre-activation) from dh = dh_next + dy[t] (and dc); dh_prev^T = W_hh^T dGate_hh^T
     (+ z dh for GRU), one GEMM per step; after the loop dx = dG W_ih, dW_ih = dG^T x,
     dW_hh^T = H_prev^T dG_hh as GEMMs over all T*B rows; db = column sums. The GRU's
     dGate_hh differs from dGate_ih in its n part (r * dn, as b_hn sits inside r * (...)).
   Inputs: 0 x, 1 h0, 2 c0, 3 w_ih, 4 w_hh, 5 b_ih, 6 b_hh, 7 lengths, 8 saved.        */
static int dl__rnn_gates(int mode) { return mode == DL_LSTM ? 4 : mode == DL_GRU ? 3 : 1; }
static int64_t dl__rnn_saved_cols(int mode, int64_t H) { return mode == DL_LSTM ? 5 * H : mode == DL_GRU ? 4 * H : 0; }
static float dl__sigmf(float v) { return 1.0f / (1.0f + expf(-v)); }
/* tanh within 1.5 ulp (relative 1.8e-7 measured over [-12, 12] and tiny |x|), ~2x faster than
   glibc's tanhf (which goes through expm1f): odd series below 0.25, (1 - e)/(1 + e) above */
static float dl__tanhf(float x) {
    float a = fabsf(x), e, t;
    if (a < 0.25f) { float x2 = x * x; return x + x * x2 * (-0.333333333f + x2 * (0.133333333f + x2 * (-0.0539682540f + x2 * 0.0218694885f))); }
    e = expf(-2.0f * a);
    t = (1.0f - e) / (1.0f + e);
    return x < 0.0f ? -t : t;
}
static dl__mat dl__rmat(const float *p, int64_t rs) { dl__mat m; m.p = (float *)(uintptr_t)p; m.rs = rs; m.cs = 1; return m; }
static int64_t dl__rnn_maxlen(const int32_t *len, int64_t B, int64_t T) {
    int64_t b, m = 0; if (!len) return T;
    for (b = 0; b < B; b++) if (len[b] > m) m = len[b];
    return m;
}

/* wt [K, N] = w^T for w [N, K] row-major: the GEMM's B operand then packs from contiguous rows.
   16 x 16 tiles, each written a whole cache line at a time: a long column of wt (stride N,
   a multiple of 4 KiB for W_hh of an LSTM with H 256) lands in one L1 set and thrashes it */
static void dl__rnn_transpose(float *wt, const float *w, int64_t N, int64_t K) {
    int64_t j, k, j0, k0;
    for (j0 = 0; j0 < N; j0 += 16) {
        const int64_t j1 = N - j0 < 16 ? N : j0 + 16;
        for (k0 = 0; k0 < K; k0 += 16) {
            const int64_t k1 = K - k0 < 16 ? K : k0 + 16;
            for (k = k0; k < k1; k++) for (j = j0; j < j1; j++) wt[k * N + j] = w[j * K + k];
        }
    }
}
/* one step's gate math for one sequence with the vector kernels (>>vmath): the
   pre-activations Xp + R are gathered into xw (this step's row of Xp, not read again), the
   sigmoids and tanhs run over contiguous gate blocks, then the cell math. The same values
   are saved as in the scalar loop of dl__rnn_fwd. rr[k * B], hb[j * B] as there. */
static void dl__rnn_gates_vec(int lv, int mode, int64_t H, int64_t B, float *xw, const float *rr, float *hb, float *yb,
                              float *cb, float *sb, const float *bhh) {
    int64_t j;
    if (mode == DL_RNN_TANH) {
        for (j = 0; j < H; j++) xw[j] += rr[j * B];
        dl__vmath(lv, DL__VM_TANH, H, xw, xw);
        for (j = 0; j < H; j++) { hb[j * B] = xw[j]; yb[j] = xw[j]; }
    } else if (mode == DL_LSTM) {   /* i, f, g, o: sig, sig, tanh, sig */
        for (j = 0; j < 4 * H; j++) xw[j] += rr[j * B];
        dl__vmath(lv, DL__VM_SIGMOID, 2 * H, xw, xw);
        dl__vmath(lv, DL__VM_TANH, H, xw + 2 * H, xw + 2 * H);
        dl__vmath(lv, DL__VM_SIGMOID, H, xw + 3 * H, xw + 3 * H);
        for (j = 0; j < H; j++) {
            const float ig = xw[j], fg = xw[H + j], gg = xw[2 * H + j], c = fg * cb[j] + ig * gg;
            if (sb) { sb[j] = ig; sb[H + j] = fg; sb[2 * H + j] = gg; sb[3 * H + j] = xw[3 * H + j]; sb[4 * H + j] = c; }
            cb[j] = c; xw[j] = c;   /* i is spent: its slot takes c, then tanh(c) */
        }
        dl__vmath(lv, DL__VM_TANH, H, xw, xw);
        for (j = 0; j < H; j++) { const float h = xw[3 * H + j] * xw[j]; hb[j * B] = h; yb[j] = h; }
    } else {                        /* GRU r, z: sig; n = tanh(Xp_n + r (R_n + b_hn)) */
        for (j = 0; j < 2 * H; j++) xw[j] += rr[j * B];
        dl__vmath(lv, DL__VM_SIGMOID, 2 * H, xw, xw);
        for (j = 0; j < H; j++) {
            const float hn = rr[(2 * H + j) * B] + (bhh ? bhh[2 * H + j] : 0.0f);
            xw[2 * H + j] += xw[j] * hn;
            if (sb) { sb[j] = xw[j]; sb[H + j] = xw[H + j]; sb[3 * H + j] = hn; }
        }
        dl__vmath(lv, DL__VM_TANH, H, xw + 2 * H, xw + 2 * H);
        for (j = 0; j < H; j++) {
            const float zg = xw[H + j], n = xw[2 * H + j], h = (1.0f - zg) * n + zg * hb[j * B];
            hb[j * B] = h; yb[j] = h;
            if (sb) sb[2 * H + j] = n;
        }
    }
}
static void dl__rnn_fwd(const dl_ctx *ctx, int mode, int rev, dl_tensor *const *in, float *P, float *sv,
                        float *xp, float *rp, float *hs, float *cs, float *pw) {
    const dl_tensor *X = in[0];
    const int64_t T = X->shape[0], B = X->shape[1], I = X->shape[2], H = in[4]->shape[1];
    const int64_t G = dl__rnn_gates(mode), GH = G * H, S = dl__rnn_saved_cols(mode, H);
    const float *wih = in[3]->data, *whh = in[4]->data, *h0 = in[1] ? in[1]->data : NULL;
    const float *bih = in[5] ? in[5]->data : NULL, *bhh = in[6] ? in[6]->data : NULL;
    const int32_t *len = in[7] ? in[7]->idata : NULL;
    const int64_t maxlen = dl__rnn_maxlen(len, B, T);
    const int lv = dl__vm_level(ctx);
    float *y = P, *hn_out = P + T * B * H;
    int64_t s, b, j, r;
    /* Xp = x W_ih^T (+ biases): [T*B, I] x [I, GH] */
    dl__gemm_isa(ctx, T * B, GH, I, dl__rmat(X->data, I), dl__mat_t(dl__rmat(wih, I)), dl__rmat(xp, GH), 0);
    if (bih || bhh) {
        for (j = 0; j < GH; j++)
            rp[j] = (bih ? bih[j] : 0.0f) + ((bhh && !(mode == DL_GRU && j >= 2 * H)) ? bhh[j] : 0.0f);
        for (r = 0; r < T * B; r++) { float *row = xp + r * GH; for (j = 0; j < GH; j++) row[j] += rp[j]; }
    }
    /* the state h is kept transposed, hs [H, B], and the step computes R^T = W_hh h^T [GH, B]:
       W_hh's rows are then read in place and only h^T is packed (the GEMM packs its B operand),
       about 1.4x faster than R = h W_hh^T with W_hh^T packed at every step for B << G*H */
    for (b = 0; b < B; b++) for (j = 0; j < H; j++) hs[j * B + b] = h0 ? h0[b * H + j] : 0.0f;
    if (mode == DL_LSTM) {
        if (in[2]) memcpy(cs, in[2]->data, (size_t)(B * H) * sizeof(float)); else memset(cs, 0, (size_t)(B * H) * sizeof(float));
    }
    if (maxlen < T) memset(y, 0, (size_t)(T * B * H) * sizeof(float));
    else if (len) for (b = 0; b < B; b++) if (len[b] < T) { memset(y, 0, (size_t)(T * B * H) * sizeof(float)); break; }
    dl__gemm_prepack(ctx, GH, H, dl__rmat(whh, H), pw);   /* W_hh packed once, used at every step */
    for (s = 0; s < maxlen; s++) {
        dl__gemm_isa_pa(ctx, GH, B, H, pw, dl__rmat(whh, H), dl__rmat(hs, B), dl__rmat(rp, B), 0);
        for (b = 0; b < B; b++) {
            const int64_t L = len ? len[b] : T;
            int64_t t; const float *xr, *rr; float *hb = hs + b, *yb, *sb;   /* rr[k * B], hb[j * B] */
            if (s >= L) continue;
            t = rev ? L - 1 - s : s;
            xr = xp + (t * B + b) * GH; rr = rp + b; yb = y + (t * B + b) * H;
            sb = sv ? sv + (t * B + b) * S : NULL;
            if (lv != DL__VL_SCALAR && mode != DL_RNN_RELU) { dl__rnn_gates_vec(lv, mode, H, B, xp + (t * B + b) * GH, rr, hb, yb, cs ? cs + b * H : NULL, sb, bhh); continue; }
            if (mode == DL_RNN_TANH) {
                for (j = 0; j < H; j++) { float v = dl__tanhf(xr[j] + rr[j * B]); hb[j * B] = v; yb[j] = v; }
            } else if (mode == DL_RNN_RELU) {
                for (j = 0; j < H; j++) { float v = xr[j] + rr[j * B]; v = v > 0.0f ? v : 0.0f; hb[j * B] = v; yb[j] = v; }
            } else if (mode == DL_LSTM) {
                float *cb = cs + b * H;
                for (j = 0; j < H; j++) {
                    float ig = dl__sigmf(xr[j] + rr[j * B]), fg = dl__sigmf(xr[H + j] + rr[(H + j) * B]);
                    float gg = dl__tanhf(xr[2 * H + j] + rr[(2 * H + j) * B]), og = dl__sigmf(xr[3 * H + j] + rr[(3 * H + j) * B]);
                    float c = fg * cb[j] + ig * gg, h = og * dl__tanhf(c);
                    cb[j] = c; hb[j * B] = h; yb[j] = h;
                    if (sb) { sb[j] = ig; sb[H + j] = fg; sb[2 * H + j] = gg; sb[3 * H + j] = og; sb[4 * H + j] = c; }
                }
            } else {
                for (j = 0; j < H; j++) {
                    float rg = dl__sigmf(xr[j] + rr[j * B]), zg = dl__sigmf(xr[H + j] + rr[(H + j) * B]);
                    float hn = rr[(2 * H + j) * B] + (bhh ? bhh[2 * H + j] : 0.0f);
                    float n = dl__tanhf(xr[2 * H + j] + rg * hn), h = (1.0f - zg) * n + zg * hb[j * B];
                    hb[j * B] = h; yb[j] = h;
                    if (sb) { sb[j] = rg; sb[H + j] = zg; sb[2 * H + j] = n; sb[3 * H + j] = hn; }
                }
            }
        }
    }
    for (b = 0; b < B; b++) for (j = 0; j < H; j++) hn_out[b * H + j] = hs[j * B + b];
    if (mode == DL_LSTM) memcpy(hn_out + B * H, cs, (size_t)(B * H) * sizeof(float));
}

/* the backward cell of one (t, b) over contiguous j: d is the sequence's running dh (a row
   of dl__rnn_bwd's per-step [B, H] copy), gy the step's dy; d + gy drives the gates, and d
   becomes dh_prev's direct part, 0 (LSTM) or (d + gy) z (GRU). LSTM: sv = i, f, g, o, c;
   tanh(c) is read from gi's o slot (written by the caller) before o's gradient replaces
   it; dc is updated in place. GRU: sv = r, z, n, hn. cp (c_prev) or hp (h_prev) NULL reads as 0. The vector kernels below do the
   same multiplies and adds in the same order (no FMA), so every level gives these bits
   from the same tanh(c); j0 lets them finish a tail here. */
static void dl__rnn_blstm_c(int64_t j0, int64_t H, const float *sv, const float *cp, const float *gy, float *d, float *dc, float *gi) {
    int64_t j;
    for (j = j0; j < H; j++) {
        const float ig = sv[j], fg = sv[H + j], gg = sv[2 * H + j], og = sv[3 * H + j], tc = gi[3 * H + j], dj = d[j] + gy[j];
        const float dct = dc[j] + dj * og * (1.0f - tc * tc), c = cp ? cp[j] : 0.0f;
        gi[j] = dct * gg * ig * (1.0f - ig); gi[H + j] = dct * c * fg * (1.0f - fg);
        gi[2 * H + j] = dct * ig * (1.0f - gg * gg); gi[3 * H + j] = dj * tc * og * (1.0f - og);
        dc[j] = dct * fg; d[j] = 0.0f;
    }
}
static void dl__rnn_bgru_c(int64_t j0, int64_t H, const float *sv, const float *hp, const float *gy, float *d, float *gi, float *gh) {
    int64_t j;
    for (j = j0; j < H; j++) {
        const float rg = sv[j], zg = sv[H + j], n = sv[2 * H + j], hn = sv[3 * H + j], dj = d[j] + gy[j], h = hp ? hp[j] : 0.0f;
        const float an = dj * (1.0f - zg) * (1.0f - n * n), ar = an * hn * rg * (1.0f - rg), az = dj * (h - n) * zg * (1.0f - zg);
        gi[j] = ar; gi[H + j] = az; gi[2 * H + j] = an;
        gh[j] = ar; gh[H + j] = az; gh[2 * H + j] = an * rg;
        d[j] = dj * zg;
    }
}
/* one body per vector width: V the type, W its lanes, L/S load/store, A/U/M add/sub/mul, K broadcast */
#define DL__RNN_BCELL(ATTR, SFX, V, W, L, S, A, U, M, K)                                                                \
ATTR static void dl__rnn_blstm_##SFX(int64_t H, const float *sv, const float *cp, const float *gy, float *d, float *dc, float *gi) { \
    const V one = K(1.0f); int64_t j;                                                                                   \
    for (j = 0; j + W <= H; j += W) {                                                                                   \
        const V ig = L(sv + j), fg = L(sv + H + j), gg = L(sv + 2 * H + j), og = L(sv + 3 * H + j), tc = L(gi + 3 * H + j); \
        const V dj = A(L(d + j), L(gy + j)), dct = A(L(dc + j), M(M(dj, og), U(one, M(tc, tc)))), c = cp ? L(cp + j) : K(0.0f);     \
        S(gi + j, M(M(M(dct, gg), ig), U(one, ig))); S(gi + H + j, M(M(M(dct, c), fg), U(one, fg)));                 \
        S(gi + 2 * H + j, M(M(dct, ig), U(one, M(gg, gg)))); S(gi + 3 * H + j, M(M(M(dj, tc), og), U(one, og)));     \
        S(dc + j, M(dct, fg)); S(d + j, K(0.0f));                                                                                    \
    }                                                                                                                   \
    dl__rnn_blstm_c(j, H, sv, cp, gy, d, dc, gi);                                                                        \
}                                                                                                                       \
ATTR static void dl__rnn_bgru_##SFX(int64_t H, const float *sv, const float *hp, const float *gy, float *d, float *gi, float *gh) { \
    const V one = K(1.0f); int64_t j;                                                                                   \
    for (j = 0; j + W <= H; j += W) {                                                                                   \
        const V rg = L(sv + j), zg = L(sv + H + j), n = L(sv + 2 * H + j), hn = L(sv + 3 * H + j), dj = A(L(d + j), L(gy + j));     \
        const V h = hp ? L(hp + j) : K(0.0f), an = M(M(dj, U(one, zg)), U(one, M(n, n)));                             \
        const V ar = M(M(M(an, hn), rg), U(one, rg)), az = M(M(M(dj, U(h, n)), zg), U(one, zg));                      \
        S(gi + j, ar); S(gi + H + j, az); S(gi + 2 * H + j, an);                                                        \
        S(gh + j, ar); S(gh + H + j, az); S(gh + 2 * H + j, M(an, rg));                                                 \
        S(d + j, M(dj, zg));                                                                                            \
    }                                                                                                                   \
    dl__rnn_bgru_c(j, H, sv, hp, gy, d, gi, gh);                                                                        \
}
#if defined(DL__X86_64)
DL__RNN_BCELL(__attribute__((target("avx2,fma"))), avx2, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps, _mm256_set1_ps)
DL__RNN_BCELL(, sse2, __m128, 4, _mm_loadu_ps, _mm_storeu_ps, _mm_add_ps, _mm_sub_ps, _mm_mul_ps, _mm_set1_ps)
#elif defined(DL__NEON64)
DL__RNN_BCELL(, neon, float32x4_t, 4, vld1q_f32, vst1q_f32, vaddq_f32, vsubq_f32, vmulq_f32, vdupq_n_f32)
#endif
#undef DL__RNN_BCELL
static void dl__rnn_blstm(int lv, int64_t H, const float *sv, const float *cp, const float *gy, float *d, float *dc, float *gi) {
#if defined(DL__X86_64)
    if (lv == DL__VL_AVX2) { dl__rnn_blstm_avx2(H, sv, cp, gy, d, dc, gi); return; }
    if (lv == DL__VL_SSE2) { dl__rnn_blstm_sse2(H, sv, cp, gy, d, dc, gi); return; }
#elif defined(DL__NEON64)
    if (lv == DL__VL_NEON) { dl__rnn_blstm_neon(H, sv, cp, gy, d, dc, gi); return; }
#endif
    (void)lv; dl__rnn_blstm_c(0, H, sv, cp, gy, d, dc, gi);
}
static void dl__rnn_bgru(int lv, int64_t H, const float *sv, const float *hp, const float *gy, float *d, float *gi, float *gh) {
#if defined(DL__X86_64)
    if (lv == DL__VL_AVX2) { dl__rnn_bgru_avx2(H, sv, hp, gy, d, gi, gh); return; }
    if (lv == DL__VL_SSE2) { dl__rnn_bgru_sse2(H, sv, hp, gy, d, gi, gh); return; }
#elif defined(DL__NEON64)
    if (lv == DL__VL_NEON) { dl__rnn_bgru_neon(H, sv, hp, gy, d, gi, gh); return; }
#endif
    (void)lv; dl__rnn_bgru_c(0, H, sv, hp, gy, d, gi, gh);
}

static void dl__rnn_bwd(dl_ctx *ctx, dl__node *nd, float *gx, float *gh0, float *gc0, float *gwih, float *gwhh,
                        float *gbih, float *gbhh, float *dG, float *dGh, float *sb, float *dh, float *dv, float *dc, float *hp, float *wt, float *pwt) {
    dl_tensor *const *in = nd->in; const dl_tensor *X = in[0];
    const int mode = nd->iarg[0], rev = nd->iarg[1];
    const int64_t T = X->shape[0], B = X->shape[1], I = X->shape[2], H = in[4]->shape[1];
    const int64_t G = dl__rnn_gates(mode), GH = G * H, S = dl__rnn_saved_cols(mode, H);
    const float *wih = in[3]->data, *whh = in[4]->data, *y = nd->out->data, *gP = nd->out->grad;
    const float *sv = in[8] ? in[8]->data : NULL;   /* then the forward's copies of h0, c0 */
    const float *h0 = in[1] ? sv + T * B * S : NULL, *c0 = in[2] ? sv + T * B * S + (in[1] ? B * H : 0) : NULL;
    const int32_t *len = in[7] ? in[7]->idata : NULL;
    const int64_t maxlen = dl__rnn_maxlen(len, B, T);
    const int lv = dl__vm_level(ctx);
    int64_t s, b, j, r, uni = 1;
    /* as in the forward, the running dh is transposed, dh [H, B]; dh^T += W_hh^T dG_hh^T then
       reads W_hh^T's rows in place. When every sequence has the same length, step s has one t
       for all b and its dG_hh rows [B, GH] are contiguous: the GEMM takes them through a
       transposed view (the packing transposes in 8 x 8 blocks). Otherwise they are also
       copied, transposed, into sb [GH, B] (0 for finished sequences). */
    if (len) for (b = 1; b < B; b++) if (len[b] != len[0]) uni = 0;
    dl__rnn_transpose(wt, whh, GH, H);
    dl__gemm_prepack(ctx, H, GH, dl__rmat(wt, GH), pwt);   /* W_hh^T packed once for every step */
    memset(dG, 0, (size_t)(T * B * GH) * sizeof(float));
    if (dGh != dG) memset(dGh, 0, (size_t)(T * B * GH) * sizeof(float));
    for (b = 0; b < B; b++) for (j = 0; j < H; j++) dh[j * B + b] = gP[(T * B + b) * H + j];
    if (mode == DL_LSTM) memcpy(dc, gP + (T + 1) * B * H, (size_t)(B * H) * sizeof(float));
    for (s = maxlen - 1; s >= 0; s--) {
        const int64_t tu = rev ? maxlen - 1 - s : s;   /* the step's t when uni */
        dl__rnn_transpose(dv, dh, H, B);   /* dv [B, H]: each sequence's dh contiguous; back into dh below */
        for (b = 0; b < B; b++) {
            const int64_t L = len ? len[b] : T;
            int64_t t, tp; const float *gy, *yb, *svr; float *db = dv + b * H, *gi, *gh, *sc = sb + b;   /* sc[k * B] */
            if (s >= L) { for (j = 0; j < GH; j++) sc[j * B] = 0.0f; continue; }
            t = rev ? L - 1 - s : s;
            tp = s == 0 ? -1 : (rev ? t + 1 : t - 1);
            gy = gP + (t * B + b) * H; yb = y + (t * B + b) * H;
            gi = dG + (t * B + b) * GH; gh = dGh + (t * B + b) * GH;
            svr = sv ? sv + (t * B + b) * S : NULL;
            /* d = dh_next + dy[t]; then db holds dh_prev's direct part: 0, or d z for the GRU */
            if (mode == DL_RNN_TANH) {
                for (j = 0; j < H; j++) { gi[j] = (db[j] + gy[j]) * (1.0f - yb[j] * yb[j]); db[j] = 0.0f; }
            } else if (mode == DL_RNN_RELU) {
                for (j = 0; j < H; j++) { gi[j] = yb[j] > 0.0f ? db[j] + gy[j] : 0.0f; db[j] = 0.0f; }
            } else if (mode == DL_LSTM) {
                const float *cprev = tp < 0 ? (c0 ? c0 + b * H : NULL) : sv + (tp * B + b) * S + 4 * H;
                if (lv != DL__VL_SCALAR) dl__vmath(lv, DL__VM_TANH, H, svr + 4 * H, gi + 3 * H);   /* tanh(c) in o's slot */
                else for (j = 0; j < H; j++) gi[3 * H + j] = dl__tanhf(svr[4 * H + j]);
                dl__rnn_blstm(lv, H, svr, cprev, gy, db, dc + b * H, gi);
            } else {
                dl__rnn_bgru(lv, H, svr, tp < 0 ? (h0 ? h0 + b * H : NULL) : y + (tp * B + b) * H, gy, db, gi, gh);
            }
            if (!uni) for (j = 0; j < GH; j++) sc[j * B] = gh[j];
        }
        dl__rnn_transpose(dh, dv, B, H);   /* finished sequences keep their dh */
        /* dh_prev^T += W_hh^T [H, GH] x dG_hh^T [GH, B] (columns of finished sequences add 0) */
        dl__gemm_isa_pa(ctx, H, B, GH, pwt, dl__rmat(wt, GH), uni ? dl__mat_t(dl__rmat(dGh + tu * B * GH, GH)) : dl__rmat(sb, B),
                        dl__rmat(dh, B), 1);
    }
    if (gh0) for (b = 0; b < B; b++) for (j = 0; j < H; j++) gh0[b * H + j] += dh[j * B + b];
    if (gc0) for (j = 0; j < B * H; j++) gc0[j] += dc[j];
    if (gx) dl__gemm_isa(ctx, T * B, I, GH, dl__rmat(dG, GH), dl__rmat(wih, I), dl__rmat(gx, I), 1);
    if (gwih) dl__gemm_isa(ctx, GH, I, T * B, dl__mat_t(dl__rmat(dG, GH)), dl__rmat(X->data, I), dl__rmat(gwih, I), 1);
    if (gwhh) {
        /* H_prev [T*B, H]: the state each valid (t, b) started from; 0 for padding rows */
        for (b = 0; b < B; b++) {
            const int64_t L = len ? len[b] : T; int64_t t;
            for (t = 0; t < T; t++) {
                float *dst = hp + (t * B + b) * H; int64_t tp;
                if (t >= L) { memset(dst, 0, (size_t)H * sizeof(float)); continue; }
                tp = rev ? (t == L - 1 ? -1 : t + 1) : t - 1;
                if (tp >= 0) memcpy(dst, y + (tp * B + b) * H, (size_t)H * sizeof(float));
                else if (h0) memcpy(dst, h0 + b * H, (size_t)H * sizeof(float));
                else memset(dst, 0, (size_t)H * sizeof(float));
            }
        }
        /* dW_hh^T [H, GH] += H_prev^T dG_hh, written through a transposed view of dW_hh: the
           big dG_hh is then the GEMM's B operand, read once (about 1.4x faster than dG_hh^T H_prev) */
        dl__gemm_isa(ctx, H, GH, T * B, dl__mat_t(dl__rmat(hp, H)), dl__rmat(dGh, GH), dl__mat_t(dl__rmat(gwhh, H)), 1);
    }
    for (r = 0; r < T * B; r++) {   /* row by row: each sum in the order of the plain loop */
        if (gbih) dl__vadd(gbih, dG + r * GH, GH);
        if (gbhh) dl__vadd(gbhh, dGh + r * GH, GH);
    }
}
static void dl__bwd_rnn(dl_ctx *ctx, dl__node *nd) {
    const dl_tensor *X = nd->in[0]; const int mode = nd->iarg[0];
    const int64_t T = X->shape[0], B = X->shape[1], H = nd->in[4]->shape[1], GH = dl__rnn_gates(mode) * H;
    float *gx = dl__ingrad(ctx, nd, 0), *gh0 = dl__ingrad(ctx, nd, 1), *gc0 = dl__ingrad(ctx, nd, 2);
    float *gwih = dl__ingrad(ctx, nd, 3), *gwhh = dl__ingrad(ctx, nd, 4), *gbih = dl__ingrad(ctx, nd, 5), *gbhh = dl__ingrad(ctx, nd, 6);
    float *dG, *dGh, *sb, *dh, *dv, *dc = NULL, *hp = NULL, *wt, *pwt; int ok; dl_mark mk;
    if (ctx->status || (!nd->out->grad && !ctx->measure)) return;
    mk = dl_ctx_mark(ctx);   /* scratch below: the same bytes in measure mode, freed at the end */
    dG = (float *)dl__alloc(ctx, (size_t)(T * B * GH) * sizeof(float), 0, &ok);
    dGh = mode == DL_GRU ? (float *)dl__alloc(ctx, (size_t)(T * B * GH) * sizeof(float), 0, &ok) : dG;
    sb = (float *)dl__alloc(ctx, (size_t)(B * GH) * sizeof(float), 0, &ok);
    dh = (float *)dl__alloc(ctx, (size_t)(B * H) * sizeof(float), 0, &ok);
    dv = (float *)dl__alloc(ctx, (size_t)(B * H) * sizeof(float), 0, &ok);
    if (mode == DL_LSTM) dc = (float *)dl__alloc(ctx, (size_t)(B * H) * sizeof(float), 0, &ok);
    if (nd->in[4]->requires_grad) hp = (float *)dl__alloc(ctx, (size_t)(T * B * H) * sizeof(float), 0, &ok);
    wt = (float *)dl__alloc(ctx, (size_t)(GH * H) * sizeof(float), 0, &ok);
    pwt = (float *)dl__alloc(ctx, (size_t)dl__gemm_prepack_floats(H, GH) * sizeof(float), 0, &ok);
    if (!ctx->status && !ctx->measure) dl__rnn_bwd(ctx, nd, gx, gh0, gc0, gwih, gwhh, gbih, gbhh, dG, dGh, sb, dh, dv, dc, hp, wt, pwt);
    dl_ctx_rewind(ctx, mk);
}

/* shape / dtype / value checks of one layer's arguments (argument numbers as in dl_rnn_layer) */
static int dl__rnn_vec_ok(dl_ctx *ctx, const dl_tensor *t, int argno, const char *what, int64_t n) {
    if (!t) return 1;
    if (!dl__arg(ctx, t, argno, DL_F32)) return 0;
    if (t->ndim != 1 || t->shape[0] != n) { dl__fail3(ctx, DL_STATUS_SHAPE, "%s%T must be [G*H] = [%I]", DL__A(what), DL__A(t), DL__A(&n)); return 0; }
    return 1;
}
static int dl__rnn_state_ok(dl_ctx *ctx, const dl_tensor *t, int argno, const char *what, int64_t B, int64_t H) {
    if (!t) return 1;
    if (!dl__arg(ctx, t, argno, DL_F32)) return 0;
    if (t->ndim != 2 || t->shape[0] != B || t->shape[1] != H) {
        dl__fail4(ctx, DL_STATUS_SHAPE, "%s%T must be [B, H] = [%I, %I]", DL__A(what), DL__A(t), DL__A(&B), DL__A(&H));
        return 0;
    }
    return 1;
}
static int dl__rnn_lengths_ok(dl_ctx *ctx, const dl_tensor *lengths, int argno, int64_t T, int64_t B) {
    int64_t b;
    if (!lengths) return 1;
    if (!dl__arg(ctx, lengths, argno, DL_I32)) return 0;
    if (lengths->ndim != 1 || lengths->shape[0] != B) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "lengths%T must be int32 [B] with B = %I", DL__A(lengths), DL__A(&B));
        return 0;
    }
    if (lengths->idata) for (b = 0; b < B; b++) {   /* the host copy, as dl__check_indices (no download: fine inside dl_step_run) */
        int64_t v = lengths->idata[dl__offset_of(lengths, b)];
        if (v < 1 || v > T) { dl__fail3(ctx, DL_STATUS_INVALID, "lengths[%I] = %I must be in [1, T = %I]", DL__A(&b), DL__A(&v), DL__A(&T)); return 0; }
    }
    return 1;
}
static int dl__rnn_mode_ok(dl_ctx *ctx, int mode) {
    if (mode >= DL_RNN_TANH && mode <= DL_GRU) return 1;
    dl__fail1(ctx, DL_STATUS_INVALID, "mode %d is not DL_RNN_TANH, DL_RNN_RELU, DL_LSTM or DL_GRU", DL__A(&mode));
    return 0;
}
static int dl__rnn_layer_check(dl_ctx *ctx, int mode, dl_tensor *x, dl_tensor *h0, dl_tensor *c0, dl_tensor *w_ih,
                               dl_tensor *w_hh, dl_tensor *b_ih, dl_tensor *b_hh, dl_tensor *lengths) {
    int64_t G, H, GH, T, B;
    if (ctx->status || !dl__rnn_mode_ok(ctx, mode)) return 0;
    if (!dl__arg(ctx, x, 2, DL_F32)) return 0;
    if (x->ndim != 3 || x->shape[0] < 1 || x->shape[1] < 1) {
        dl__fail1(ctx, DL_STATUS_SHAPE, "x%T must be [T, B, input_size] (time-major) with T, B >= 1", DL__A(x));
        return 0;
    }
    if (!dl__arg(ctx, w_ih, 5, DL_F32) || !dl__arg(ctx, w_hh, 6, DL_F32)) return 0;
    G = dl__rnn_gates(mode);
    if (w_hh->ndim != 2 || w_hh->shape[1] < 1 || w_hh->shape[0] != G * w_hh->shape[1]) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "w_hh%T must be [G*H, H] with G = %I gates for this mode", DL__A(w_hh), DL__A(&G));
        return 0;
    }
    H = w_hh->shape[1]; GH = G * H; T = x->shape[0]; B = x->shape[1];
    if (w_ih->ndim != 2 || w_ih->shape[0] != GH || w_ih->shape[1] != x->shape[2]) {
        dl__fail4(ctx, DL_STATUS_SHAPE, "w_ih%T must be [G*H, input_size] = [%I, %I] for x%T", DL__A(w_ih), DL__A(&GH), DL__A(&x->shape[2]), DL__A(x));
        return 0;
    }
    if (!dl__rnn_vec_ok(ctx, b_ih, 7, "b_ih", GH) || !dl__rnn_vec_ok(ctx, b_hh, 8, "b_hh", GH)) return 0;
    if (c0 && mode != DL_LSTM) { dl__fail0(ctx, DL_STATUS_INVALID, "c0 is given, but only DL_LSTM has a cell state"); return 0; }
    if (!dl__rnn_state_ok(ctx, h0, 3, "h0", B, H) || !dl__rnn_state_ok(ctx, c0, 4, "c0", B, H)) return 0;
    return dl__rnn_lengths_ok(ctx, lengths, 9, T, B);
}
static dl_rnn_out dl__rnn_poison(dl_ctx *ctx, int mode) {
    dl_rnn_out o; o.y = o.h = &ctx->poison; o.c = mode == DL_LSTM ? &ctx->poison : NULL; return o;
}
DL__API dl_rnn_out dl_rnn_layer(dl_ctx *ctx, dl_rnn_mode mode, dl_tensor *x, dl_tensor *h0, dl_tensor *c0,
                                dl_tensor *w_ih, dl_tensor *w_hh, dl_tensor *b_ih, dl_tensor *b_hh,
                                dl_tensor *lengths, int reverse) {
    dl_rnn_out out; dl_tensor *in[9], *P, *sv = NULL; int64_t T, B, H, GH, S, i; int rec, ok, m = (int)mode;
    dl_mark mk; dl__node *nd; float *xp, *rp, *hs, *cs = NULL, *pw;
    out.y = out.h = out.c = NULL;
    if (!ctx) return out;
    ctx->op = "dl_rnn_layer";
    if (!dl__rnn_layer_check(ctx, m, x, h0, c0, w_ih, w_hh, b_ih, b_hh, lengths)) return dl__rnn_poison(ctx, m);
    T = x->shape[0]; B = x->shape[1]; H = w_hh->shape[1]; GH = dl__rnn_gates(m) * H; S = dl__rnn_saved_cols(m, H);
    in[0] = dl__contig(ctx, x); in[1] = h0 ? dl__contig(ctx, h0) : NULL; in[2] = c0 ? dl__contig(ctx, c0) : NULL;
    in[3] = dl__contig(ctx, w_ih); in[4] = dl__contig(ctx, w_hh);
    in[5] = b_ih ? dl__contig(ctx, b_ih) : NULL; in[6] = b_hh ? dl__contig(ctx, b_hh) : NULL;
    in[7] = lengths ? dl__contig_index(ctx, lengths) : NULL; in[8] = NULL;
    P = dl__new(ctx, dl_shape3(T + (m == DL_LSTM ? 2 : 1), B, H), DL_F32, 1);
    if (ctx->status) return dl__rnn_poison(ctx, m);
    for (rec = 0, i = 0; i < 7; i++) if (in[i] && in[i]->requires_grad) rec = ctx->grad_enabled;
    if (rec) {   /* saved: gates per (t, b), then copies of h0 and c0 (the caller may overwrite
                    those before backward, e.g. truncated BPTT carrying state in place) */
        int64_t n0 = (h0 ? B * H : 0) + (c0 ? B * H : 0);
        if (T * B * S + n0) { sv = dl__new(ctx, dl_shape1(T * B * S + n0), DL_F32, 1); in[8] = sv; }
        if (sv && sv->data && !ctx->status && !ctx->nocomp) {   /* a backend copies them in its kernel */
            if (h0) memcpy(sv->data + T * B * S, in[1]->data, (size_t)(B * H) * sizeof(float));
            if (c0) memcpy(sv->data + T * B * S + (h0 ? B * H : 0), in[2]->data, (size_t)(B * H) * sizeof(float));
        }
    }
    mk = dl_ctx_mark(ctx);   /* forward scratch: Xp [T*B, GH], R^T [GH, B], h^T [H, B], c [B, H] */
    xp = (float *)dl__alloc(ctx, (size_t)(T * B * GH) * sizeof(float), 0, &ok);
    rp = (float *)dl__alloc(ctx, (size_t)(B * GH) * sizeof(float), 0, &ok);
    hs = (float *)dl__alloc(ctx, (size_t)(B * H) * sizeof(float), 0, &ok);
    if (m == DL_LSTM) cs = (float *)dl__alloc(ctx, (size_t)(B * H) * sizeof(float), 0, &ok);
    pw = (float *)dl__alloc(ctx, (size_t)dl__gemm_prepack_floats(GH, H) * sizeof(float), 0, &ok);
    if (!ctx->status && !ctx->nocomp) dl__rnn_fwd(ctx, m, reverse != 0, in, P->data, sv ? sv->data : NULL, xp, rp, hs, cs, pw);
    dl_ctx_rewind(ctx, mk);
    if (ctx->status) return dl__rnn_poison(ctx, m);
    nd = dl__record(ctx, DL__OP_rnn, P, in, 9);
    if (nd) { nd->iarg[0] = m; nd->iarg[1] = reverse != 0; }
    dl__done(ctx, P);   /* P's own end (a backend runs its node here), before the views' nodes */
    if (ctx->status) return dl__rnn_poison(ctx, m);
    {   int64_t st3[3], st2[2];
        st3[0] = B * H; st3[1] = H; st3[2] = 1; st2[0] = H; st2[1] = 1;
        out.y = dl__view(ctx, P, dl_shape3(T, B, H), st3, 0, 0, st3);
        out.h = dl__view(ctx, P, dl_shape2(B, H), st2, T * B * H, T * B * H, st2);
        out.c = m == DL_LSTM ? dl__view(ctx, P, dl_shape2(B, H), st2, (T + 1) * B * H, (T + 1) * B * H, st2) : NULL;
    }
    ctx->op = "dl_rnn_layer";
    if (ctx->status) return dl__rnn_poison(ctx, m);
    return out;
}

DL__API void dl_rnn_init(dl_ctx *ctx, dl_rnn *r, dl_rnn_mode mode, int64_t input_size, int64_t hidden,
                         int layers, int bidirectional, float dropout, int bias) {
    int l, d, k, mx = DL_RNN_MAX_LAYERS; float bound; int64_t G;
    if (!ctx) return;
    ctx->op = "dl_rnn_init";
    if (!r) { dl__fail0(ctx, DL_STATUS_INVALID, "r is NULL"); return; }
    memset(r, 0, sizeof *r);
    if (ctx->status || !dl__rnn_mode_ok(ctx, (int)mode)) return;
    if (input_size < 1 || hidden < 1) { dl__fail2(ctx, DL_STATUS_SHAPE, "input_size %I and hidden %I must be positive", DL__A(&input_size), DL__A(&hidden)); return; }
    if (layers < 1 || layers > DL_RNN_MAX_LAYERS) { dl__fail2(ctx, DL_STATUS_INVALID, "layers = %d must be in [1, %d]", DL__A(&layers), DL__A(&mx)); return; }
    if (!(dropout >= 0.0f && dropout <= 1.0f)) { double dp = (double)dropout; dl__fail1(ctx, DL_STATUS_INVALID, "dropout = %g must be in [0, 1]", DL__A(&dp)); return; }
    r->mode = mode; r->input_size = input_size; r->hidden = hidden; r->layers = layers;
    r->dirs = bidirectional ? 2 : 1; r->dropout = dropout;
    G = dl__rnn_gates((int)mode);
    bound = 1.0f / sqrtf((float)hidden);
    for (l = 0; l < layers; l++) for (d = 0; d < r->dirs; d++) {   /* torch's named_parameters order */
        int64_t in = l == 0 ? input_size : hidden * r->dirs;
        k = l * r->dirs + d;
        r->w_ih[k] = dl_uniform(ctx, dl_shape2(G * hidden, in), -bound, bound); dl_requires_grad(ctx, r->w_ih[k], 1);
        r->w_hh[k] = dl_uniform(ctx, dl_shape2(G * hidden, hidden), -bound, bound); dl_requires_grad(ctx, r->w_hh[k], 1);
        if (bias) {
            r->b_ih[k] = dl_uniform(ctx, dl_shape1(G * hidden), -bound, bound); dl_requires_grad(ctx, r->b_ih[k], 1);
            r->b_hh[k] = dl_uniform(ctx, dl_shape1(G * hidden), -bound, bound); dl_requires_grad(ctx, r->b_hh[k], 1);
        }
    }
    ctx->op = "dl_rnn_init";
    if (ctx->status) r->layers = 0;
}
DL__API int dl_rnn_params(const dl_rnn *r, dl_tensor **out) {
    int k, n = 0;
    if (!r || r->layers < 1 || r->layers > DL_RNN_MAX_LAYERS || r->dirs < 1 || r->dirs > 2) return 0;
    for (k = 0; k < r->layers * r->dirs; k++) {
        if (out) { out[n] = r->w_ih[k]; out[n + 1] = r->w_hh[k]; }
        n += 2;
        if (r->b_ih[k]) { if (out) { out[n] = r->b_ih[k]; out[n + 1] = r->b_hh[k]; } n += 2; }
    }
    return n;
}
DL__API dl_rnn_out dl_rnn_forward(dl_ctx *ctx, const dl_rnn *r, dl_tensor *x, dl_tensor *h0, dl_tensor *c0,
                                  dl_tensor *lengths, int train) {
    dl_rnn_out out, lo; dl_tensor *inp, *hs[2 * DL_RNN_MAX_LAYERS], *cs[2 * DL_RNN_MAX_LAYERS], *ys[2];
    int l, d, k, D, L, m; int64_t B, H, LD;
    out.y = out.h = out.c = NULL;
    if (!ctx) return out;
    ctx->op = "dl_rnn_forward";
    m = r ? (int)r->mode : 0;
    if (ctx->status) return dl__rnn_poison(ctx, m);
    if (!r) { dl__fail0(ctx, DL_STATUS_INVALID, "r is NULL"); return dl__rnn_poison(ctx, m); }
    if (r->layers < 1 || r->layers > DL_RNN_MAX_LAYERS || (r->dirs != 1 && r->dirs != 2) || m < DL_RNN_TANH || m > DL_GRU) {
        dl__fail0(ctx, DL_STATUS_INVALID, "r is not initialized (use dl_rnn_init)");
        return dl__rnn_poison(ctx, m);
    }
    if (!dl__arg(ctx, x, 2, DL_F32)) return dl__rnn_poison(ctx, m);
    if (x->ndim != 3 || x->shape[2] != r->input_size || x->shape[0] < 1 || x->shape[1] < 1) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "x%T must be [T, B, input_size] with input_size = %I, T, B >= 1", DL__A(x), DL__A(&r->input_size));
        return dl__rnn_poison(ctx, m);
    }
    D = r->dirs; L = r->layers; B = x->shape[1]; H = r->hidden; LD = (int64_t)L * D;
    if (c0 && m != DL_LSTM) { dl__fail0(ctx, DL_STATUS_INVALID, "c0 is given, but only DL_LSTM has a cell state"); return dl__rnn_poison(ctx, m); }
    {   dl_tensor *st[2]; const char *nm[2]; int q;
        st[0] = h0; st[1] = c0; nm[0] = "h0"; nm[1] = "c0";
        for (q = 0; q < 2; q++) {
            if (!st[q]) continue;
            if (!dl__arg(ctx, st[q], 3 + q, DL_F32)) return dl__rnn_poison(ctx, m);
            if (st[q]->ndim != 3 || st[q]->shape[0] != LD || st[q]->shape[1] != B || st[q]->shape[2] != H) {
                const void *a[5]; a[0] = nm[q]; a[1] = st[q]; a[2] = &LD; a[3] = &B; a[4] = &H;
                dl__fail_v(ctx, DL_STATUS_SHAPE, "%s%T must be [layers*dirs, B, hidden] = [%I, %I, %I]", a);
                return dl__rnn_poison(ctx, m);
            }
        }
    }
    if (!dl__rnn_lengths_ok(ctx, lengths, 5, x->shape[0], B)) return dl__rnn_poison(ctx, m);
    inp = x;
    for (l = 0; l < L; l++) {
        for (d = 0; d < D; d++) {
            dl_tensor *hk = NULL, *ck = NULL;
            k = l * D + d;
            if (h0) hk = dl_reshape(ctx, dl_slice(ctx, h0, 0, k, k + 1, 1), dl_shape2(B, H));
            if (c0) ck = dl_reshape(ctx, dl_slice(ctx, c0, 0, k, k + 1, 1), dl_shape2(B, H));
            lo = dl_rnn_layer(ctx, r->mode, inp, hk, ck, r->w_ih[k], r->w_hh[k], r->b_ih[k], r->b_hh[k], lengths, d == 1);
            ys[d] = lo.y; hs[k] = lo.h; cs[k] = lo.c;
        }
        inp = D == 2 ? dl_concat(ctx, ys, 2, 2) : ys[0];
        if (train && r->dropout > 0.0f && l < L - 1) inp = dl_dropout(ctx, inp, r->dropout, 1);
        if (ctx->status) { ctx->op = "dl_rnn_forward"; return dl__rnn_poison(ctx, m); }
    }
    out.y = inp;
    out.h = dl_stack(ctx, hs, (int)LD, 0);
    out.c = m == DL_LSTM ? dl_stack(ctx, cs, (int)LD, 0) : NULL;
    ctx->op = "dl_rnn_forward";
    if (ctx->status) return dl__rnn_poison(ctx, m);
    return out;
}

/* (end of >>seq-rnn) */

/* ======================================================================================
   >>seq-sampling  sampling from logits, teacher-forcing schedules
   ====================================================================================== */

/* the k-th largest (k >= 1) of v[0..n), by quickselect (Hoare partition, descending);
   reorders v */
static float dl__kth_largest(float *v, int64_t n, int64_t k) {
    int64_t lo = 0, hi = n - 1, want = k - 1;
    while (lo < hi) {
        float pivot = v[lo + (hi - lo) / 2]; int64_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] > pivot) i++;
            while (v[j] < pivot) j--;
            if (i <= j) { float t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
        }
        if (want <= j) hi = j;
        else if (want >= i) lo = i;
        else return v[want];            /* between the two parts: equal to the pivot */
    }
    return v[want];
}
/* Draws i with probability e^(l_i/T) / sum over the kept classes. Kept: the top_k largest
   logits, ties at the k-th value broken toward the lower index (top_k <= 0: every class).
   -inf logits are never drawn (a masked class); NaN or +inf is an error. The top-k
   threshold needs a scratch copy of the logits: arena bytes, released before returning. */
DL__API int dl_sample_logits(dl_ctx *ctx, const float *logits, int n, float temperature, int top_k) {
    int i, best = -1, finite = 0, k, eq_left = 0; float thr = -INFINITY; double m, sum = 0.0, u, acc = 0.0, t;
    if (!ctx) return -1;
    ctx->op = "dl_sample_logits";
    if (ctx->status) return -1;
    if (!logits || n < 1) { dl__fail1(ctx, DL_STATUS_INVALID, "logits must not be NULL and n (%d) must be >= 1", DL__A(&n)); return -1; }
    if (top_k > n) { dl__fail2(ctx, DL_STATUS_INVALID, "top_k %d exceeds the number of classes %d", DL__A(&top_k), DL__A(&n)); return -1; }
    if (temperature != temperature) { dl__fail0(ctx, DL_STATUS_INVALID, "temperature is NaN"); return -1; }
    for (i = 0; i < n; i++) {
        float l = logits[i];
        if (l != l || l == INFINITY) {
            double lv = (double)l;
            dl__fail2(ctx, DL_STATUS_INVALID, "logit %d is %g: logits must be finite (or -inf for a class never drawn)", DL__A(&i), DL__A(&lv));
            return -1;
        }
        if (l > -INFINITY) { finite++; if (best < 0 || l > logits[best]) best = i; }
    }
    if (best < 0) { dl__fail0(ctx, DL_STATUS_INVALID, "every logit is -inf"); return -1; }
    if (temperature <= 0.0f || top_k == 1 || finite == 1) return best;
    k = top_k <= 0 || top_k > finite ? finite : top_k;
    if (k < finite) {                   /* threshold = the k-th largest logit */
        dl_mark mk = dl_ctx_mark(ctx); int ok, gt = 0;
        float *tmp = (float *)dl__alloc(ctx, (size_t)n * sizeof(float), 1, &ok);
        if (!ok) return -1;
        memcpy(tmp, logits, (size_t)n * sizeof(float));
        thr = dl__kth_largest(tmp, n, k);
        dl_ctx_rewind(ctx, mk);
        for (i = 0; i < n; i++) gt += logits[i] > thr;
        eq_left = k - gt;               /* how many logits equal to thr are kept */
    } else eq_left = n;
    m = (double)logits[best]; t = (double)temperature;
    /* two passes over the same kept set: the sum, then the draw */
    {   int pass, e;
        for (pass = 0; pass < 2; pass++) {
            int last = best;
            if (pass == 1) u = (double)(dl_rand_u64(ctx) >> 11) * (1.0 / 9007199254740992.0) * sum;
            else u = 0.0;
            for (i = 0, e = eq_left; i < n; i++) {
                float l = logits[i]; double w;
                if (!(l > thr || (l == thr && l > -INFINITY && e-- > 0))) continue;
                w = exp(((double)l - m) / t);
                if (pass == 0) sum += w;
                else { acc += w; last = i; if (u < acc) return i; }
            }
            if (pass == 1) return last;  /* rounding: u landed on the sum itself */
        }
    }
    return best;
}
/* k / (k + e^(step/k)); k < 1 (or NaN) counts as 1 and step < 0 as 0 */
DL__API float dl_teacher_forcing_prob(float k, int64_t step) {
    double kk = k >= 1.0f ? (double)k : 1.0, s = step > 0 ? (double)step : 0.0;
    return (float)(kk / (kk + exp(s / kk)));
}

/* (end of >>seq-sampling) */

/* ======================================================================================
   >>attention  scaled dot-product, multi-head, additive; positional encodings. Composed
   from differentiable ops, so their backward is the ops' backward.
   ====================================================================================== */

/* does m broadcast to shape s (NumPy rules, m no larger)? */
static int dl__bcasts_to(const dl_tensor *m, const dl_shape *s) {
    int d, off = s->ndim - m->ndim;
    if (off < 0) return 0;
    for (d = 0; d < m->ndim; d++) if (m->shape[d] != 1 && m->shape[d] != s->d[off + d]) return 0;
    return 1;
}
/* masked scores: a finite stand-in for -inf (e^(it - max) is 0 all the same), so that
   desc.check_finite does not trip on a mask; a score below DL__MASKED / 2 counts as masked */
#define DL__MASKED (-1e30f)
/* an int32 mask (nonzero: masked) as an additive float mask, DL__MASKED / 0, viewed as shape
   s (s has m's element count); no gradient */
static dl_tensor *dl__mask_additive(dl_ctx *ctx, dl_tensor *m, dl_shape s) {
    dl_tensor *t = dl__new(ctx, s, DL_F32, 1); int64_t i;
    if (!ctx->status && t->data && dl__pull(m)) {   /* one download, one upload */
        for (i = 0; i < m->numel; i++) t->data[i] = dl__host_get_index(m, i) ? DL__MASKED : 0.0f;
        dl__push(ctx, t);
    }
    return t;
}
/* softmax over the last axis of scores s [N, Lq, Lk] after adding the float masks (each
   broadcast against ss = lead dims + [Lq, Lk], N = the lead dims' product) and, if causal,
   DL__MASKED where key j > query i. A row with every key masked (-inf, or DL__MASKED from an
   int32 mask) gets zero weights (softmax alone would give NaN or a uniform row): such rows
   are set to 0 before the softmax and multiplied by 0 after it, so they pass no gradient. */
static dl_tensor *dl__masked_softmax(dl_ctx *ctx, dl_tensor *s, dl_shape ss, dl_tensor *const *masks, int nmask, int causal) {
    dl_tensor *alive, *p; dl_shape as; int i; int64_t N = s->shape[0], Lq = s->shape[1], Lk = s->shape[2], r, j;
    if (!nmask && !causal) return dl_softmax(ctx, s, -1);
    s = dl_reshape(ctx, s, ss);
    for (i = 0; i < nmask; i++) s = dl_add(ctx, s, masks[i]);
    if (causal) {
        dl_tensor *c = dl__new(ctx, dl_shape2(Lq, Lk), DL_F32, 1);
        if (!ctx->status && c->data)
            for (r = 0; r < Lq; r++) for (j = 0; j < Lk; j++) c->data[r * Lk + j] = j > r ? DL__MASKED : 0.0f;
        if (!ctx->status && c->data) dl__push(ctx, c);
        s = dl_add(ctx, s, c);
    }
    as = dl_shape3(N, Lq, 1);
    if (ctx->be)     /* from ops on a backend (no host round trip): 1 where a row's max is unmasked */
        alive = dl_sign(ctx, dl_relu(ctx, dl_add_scalar(ctx, dl_reshape(ctx, dl_max(ctx, dl_detach(ctx, s), -1, 1), as), -0.5f * DL__MASKED)));
    else alive = dl__new(ctx, as, DL_F32, 1);
    if (!ctx->be && !ctx->status && alive->data && s->data)          /* s is contiguous: dl_add's output */
        for (r = 0; r < N * Lq; r++) {
            float a = 0.0f;
            for (j = 0; j < Lk; j++) if (s->data[r * Lk + j] > 0.5f * DL__MASKED) { a = 1.0f; break; }
            alive->data[r] = a;
        }
    s = dl_reshape(ctx, s, dl_shape3(N, Lq, Lk));
    s = dl_where(ctx, alive, s, dl_scalar(ctx, 0.0f));
    p = dl_mul(ctx, dl_softmax(ctx, s, -1), alive);
    return p;
}
/* softmax(q k^T / sqrt(E) + masks) v on q3 [N,Lq,E], k3 [N,Lk,E], v3 [N,Lk,Ev]; *probs gets
   the weights [N,Lq,Lk] */
static dl_tensor *dl__sdpa(dl_ctx *ctx, dl_tensor *q3, dl_tensor *k3, dl_tensor *v3, dl_shape ss,
                           dl_tensor *const *masks, int nmask, int causal, dl_tensor **probs) {
    dl_tensor *s = dl_matmul_ex(ctx, q3, k3, DL_TRANS_B), *p;
    s = dl_mul_scalar(ctx, s, (float)(1.0 / sqrt((double)q3->shape[2])));
    p = dl__masked_softmax(ctx, s, ss, masks, nmask, causal);
    *probs = p;
    return dl_matmul(ctx, p, v3);
}
DL__API dl_tensor *dl_attention(dl_ctx *ctx, dl_tensor *q, dl_tensor *k, dl_tensor *v, dl_tensor *mask,
                                int causal, dl_tensor **weights) {
    dl_shape ss, os; int d, nd; int64_t N = 1, Lq, Lk, E, Ev; dl_tensor *m = mask, *p = NULL, *y;
    DL__ENTER(ctx, "dl_attention");
    if (weights) *weights = &ctx->poison;
    if (!dl__arg(ctx, q, 1, DL_F32) || !dl__arg(ctx, k, 2, DL_F32) || !dl__arg(ctx, v, 3, DL_F32)) return &ctx->poison;
    if (mask && !dl__arg(ctx, mask, 4, mask->dtype)) return &ctx->poison;
    nd = q->ndim;
    if (nd < 2 || k->ndim != nd || v->ndim != nd)
        return dl__fail3(ctx, DL_STATUS_SHAPE, "q%T k%T v%T need the same number of dims, at least 2", DL__A(q), DL__A(k), DL__A(v));
    Lq = q->shape[nd - 2]; E = q->shape[nd - 1]; Lk = k->shape[nd - 2]; Ev = v->shape[nd - 1];
    for (d = 0; d < nd - 2; d++) {
        if (k->shape[d] != q->shape[d] || v->shape[d] != q->shape[d])
            return dl__fail3(ctx, DL_STATUS_SHAPE, "q%T k%T v%T: leading dims differ", DL__A(q), DL__A(k), DL__A(v));
        N *= q->shape[d];
    }
    if (k->shape[nd - 1] != E || v->shape[nd - 2] != Lk || Lk < 1 || E < 1)
        return dl__fail3(ctx, DL_STATUS_SHAPE, "q%T k%T v%T: need q [...,Lq,E], k [...,Lk,E], v [...,Lk,Ev], Lk and E >= 1",
                         DL__A(q), DL__A(k), DL__A(v));
    ss = dl_shape_of(q); ss.d[nd - 1] = Lk;
    if (mask && !dl__bcasts_to(mask, &ss))
        return dl__fail3(ctx, DL_STATUS_SHAPE, "mask%T does not broadcast to the scores [..., Lq, Lk] of q%T k%T", DL__A(mask), DL__A(q), DL__A(k));
    if (mask && mask->dtype == DL_I32) m = dl__mask_additive(ctx, mask, dl_shape_of(mask));
    y = dl__sdpa(ctx, dl_reshape(ctx, q, dl_shape3(N, Lq, E)), dl_reshape(ctx, k, dl_shape3(N, Lk, E)),
                 dl_reshape(ctx, v, dl_shape3(N, Lk, Ev)), ss, &m, m ? 1 : 0, causal, &p);
    os = ss; os.d[nd - 1] = Ev;
    y = dl_reshape(ctx, y, os);
    if (weights) *weights = dl_reshape(ctx, p, ss);
    ctx->op = "dl_attention";
    return dl__done(ctx, y);
}

/* torch 1.13 MultiheadAttention._reset_parameters: xavier_uniform_ on in_proj_weight, zero
   in_proj_bias and out_proj.bias; out_proj is a Linear, so its weight keeps Linear's
   kaiming_uniform_(a = sqrt 5), i.e. U(+-1/sqrt(E)) */
DL__API void dl_mha_init(dl_ctx *ctx, dl_mha *m, int64_t embed, int64_t heads, int bias) {
    if (!ctx || !m) return;
    memset(m, 0, sizeof *m);
    ctx->op = "dl_mha_init";
    m->in_proj_weight = m->out_proj_weight = &ctx->poison;
    if (ctx->status) return;
    if (embed < 1 || heads < 1 || embed % heads) {
        dl__fail2(ctx, DL_STATUS_SHAPE, "embed %I must be a positive multiple of heads %I", DL__A(&embed), DL__A(&heads));
        return;
    }
    m->embed = embed; m->heads = heads;
    m->in_proj_weight = dl_empty(ctx, dl_shape2(3 * embed, embed));
    dl_init_xavier_uniform(ctx, m->in_proj_weight, 1.0f);
    m->out_proj_weight = dl_empty(ctx, dl_shape2(embed, embed));
    dl_init_kaiming_uniform(ctx, m->out_proj_weight, sqrtf(5.0f), 0, DL_NL_LEAKY_RELU);
    dl_requires_grad(ctx, m->in_proj_weight, 1);
    dl_requires_grad(ctx, m->out_proj_weight, 1);
    if (bias) {
        m->in_proj_bias = dl_zeros(ctx, dl_shape1(3 * embed));
        m->out_proj_bias = dl_zeros(ctx, dl_shape1(embed));
        dl_requires_grad(ctx, m->in_proj_bias, 1);
        dl_requires_grad(ctx, m->out_proj_bias, 1);
    }
}
/* x [B,L,E] @ w[i*E:(i+1)*E]^T (+ b[i*E:(i+1)*E]) */
static dl_tensor *dl__mha_proj(dl_ctx *ctx, dl_tensor *x, dl_tensor *w, dl_tensor *b, int64_t i, int64_t E) {
    dl_tensor *y = dl_matmul_ex(ctx, x, dl_slice(ctx, w, 0, i * E, (i + 1) * E, 1), DL_TRANS_B);
    return b ? dl_add(ctx, y, dl_slice(ctx, b, 0, i * E, (i + 1) * E, 1)) : y;
}
/* [B,L,H*D] -> [B*H,L,D] */
static dl_tensor *dl__mha_split(dl_ctx *ctx, dl_tensor *x, int64_t H) {
    static const int perm[4] = {0, 2, 1, 3};
    int64_t B = x->shape[0], L = x->shape[1], D = x->shape[2] / H;
    x = dl_permute(ctx, dl_reshape(ctx, x, dl_shape4(B, L, H, D)), perm);
    return dl_reshape(ctx, x, dl_shape3(B * H, L, D));
}
DL__API dl_tensor *dl_mha_forward(dl_ctx *ctx, const dl_mha *m, dl_tensor *query, dl_tensor *key, dl_tensor *value,
                                  dl_tensor *key_padding_mask, dl_tensor *attn_mask, int causal, dl_tensor **weights) {
    static const int perm[4] = {0, 2, 1, 3};
    dl_tensor *masks[2], *q, *k, *v, *o, *p = NULL; int nm = 0; int64_t B, Lq, Lk, E, H;
    DL__ENTER(ctx, "dl_mha_forward");
    if (weights) *weights = &ctx->poison;
    if (ctx->status) return &ctx->poison;
    if (!m) return dl__fail0(ctx, DL_STATUS_INVALID, "m is NULL");
    if (!dl__arg(ctx, query, 3, DL_F32) || !dl__arg(ctx, key, 4, DL_F32) || !dl__arg(ctx, value, 5, DL_F32)) return &ctx->poison;
    if (key_padding_mask && !dl__arg(ctx, key_padding_mask, 6, DL_I32)) return &ctx->poison;
    if (attn_mask && !dl__arg(ctx, attn_mask, 7, attn_mask->dtype)) return &ctx->poison;
    E = m->embed; H = m->heads;
    if (E < 1 || H < 1 || E % H || !m->in_proj_weight || !m->out_proj_weight)
        return dl__fail0(ctx, DL_STATUS_INVALID, "m is not initialized (dl_mha_init)");
    if (!dl__arg(ctx, m->in_proj_weight, 2, DL_F32) || !dl__arg(ctx, m->out_proj_weight, 2, DL_F32)) return &ctx->poison;
    if (m->in_proj_weight->ndim != 2 || m->in_proj_weight->shape[0] != 3 * E || m->in_proj_weight->shape[1] != E ||
        m->out_proj_weight->ndim != 2 || m->out_proj_weight->shape[0] != E || m->out_proj_weight->shape[1] != E ||
        (m->in_proj_bias && (m->in_proj_bias->ndim != 1 || m->in_proj_bias->shape[0] != 3 * E)) ||
        (m->out_proj_bias && (m->out_proj_bias->ndim != 1 || m->out_proj_bias->shape[0] != E)))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "parameters do not fit embed %I: in_proj_weight%T (want [3E,E])", DL__A(&E), DL__A(m->in_proj_weight));
    if (query->ndim != 3 || key->ndim != 3 || value->ndim != 3 || query->shape[2] != E || key->shape[2] != E ||
        value->shape[2] != E || key->shape[0] != query->shape[0] || value->shape[0] != query->shape[0] ||
        value->shape[1] != key->shape[1] || key->shape[1] < 1)
        return dl__fail4(ctx, DL_STATUS_SHAPE, "need query [B,Lq,E], key and value [B,Lk,E] with E = %I: query%T key%T value%T",
                         DL__A(&E), DL__A(query), DL__A(key), DL__A(value));
    B = query->shape[0]; Lq = query->shape[1]; Lk = key->shape[1];
    if (key_padding_mask && (key_padding_mask->ndim != 2 || key_padding_mask->shape[0] != B || key_padding_mask->shape[1] != Lk))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "key_padding_mask%T must be [B,Lk] for key%T", DL__A(key_padding_mask), DL__A(key));
    if (attn_mask && (attn_mask->ndim != 2 || attn_mask->shape[0] != Lq || attn_mask->shape[1] != Lk))
        return dl__fail3(ctx, DL_STATUS_SHAPE, "attn_mask%T must be [Lq,Lk] for query%T key%T", DL__A(attn_mask), DL__A(query), DL__A(key));
    if (attn_mask) masks[nm++] = attn_mask->dtype == DL_I32 ? dl__mask_additive(ctx, attn_mask, dl_shape_of(attn_mask)) : attn_mask;
    if (key_padding_mask) masks[nm++] = dl__mask_additive(ctx, key_padding_mask, dl_shape4(B, 1, 1, Lk));
    q = dl__mha_split(ctx, dl__mha_proj(ctx, query, m->in_proj_weight, m->in_proj_bias, 0, E), H);
    k = dl__mha_split(ctx, dl__mha_proj(ctx, key, m->in_proj_weight, m->in_proj_bias, 1, E), H);
    v = dl__mha_split(ctx, dl__mha_proj(ctx, value, m->in_proj_weight, m->in_proj_bias, 2, E), H);
    o = dl__sdpa(ctx, q, k, v, dl_shape4(B, H, Lq, Lk), masks, nm, causal, &p);       /* [B*H,Lq,D] */
    o = dl_permute(ctx, dl_reshape(ctx, o, dl_shape4(B, H, Lq, E / H)), perm);
    o = dl_matmul_ex(ctx, dl_reshape(ctx, o, dl_shape3(B, Lq, E)), m->out_proj_weight, DL_TRANS_B);
    if (m->out_proj_bias) o = dl_add(ctx, o, m->out_proj_bias);
    if (weights) *weights = dl_mean(ctx, dl_reshape(ctx, p, dl_shape4(B, H, Lq, Lk)), 1, 0);
    ctx->op = "dl_mha_forward";
    return dl__done(ctx, o);
}

/* no torch module to copy: w_q, w_k as Linear (U(+-1/sqrt(fan_in))), v U(+-1/sqrt(dim)) */
DL__API void dl_additive_attn_init(dl_ctx *ctx, dl_additive_attn *a, int64_t dq, int64_t dk, int64_t dim) {
    if (!ctx || !a) return;
    memset(a, 0, sizeof *a);
    ctx->op = "dl_additive_attn_init";
    a->w_q = a->w_k = a->v = &ctx->poison;
    if (ctx->status) return;
    if (dq < 1 || dk < 1 || dim < 1) {
        dl__fail3(ctx, DL_STATUS_SHAPE, "dq %I, dk %I and dim %I must be positive", DL__A(&dq), DL__A(&dk), DL__A(&dim));
        return;
    }
    a->dq = dq; a->dk = dk; a->dim = dim;
    a->w_q = dl_uniform(ctx, dl_shape2(dim, dq), -1.0f / sqrtf((float)dq), 1.0f / sqrtf((float)dq));
    a->w_k = dl_uniform(ctx, dl_shape2(dim, dk), -1.0f / sqrtf((float)dk), 1.0f / sqrtf((float)dk));
    a->v = dl_uniform(ctx, dl_shape1(dim), -1.0f / sqrtf((float)dim), 1.0f / sqrtf((float)dim));
    dl_requires_grad(ctx, a->w_q, 1); dl_requires_grad(ctx, a->w_k, 1); dl_requires_grad(ctx, a->v, 1);
}
/* e [B,1,L] = tanh(keys W_k^T + (query W_q^T)[B,1,dim]) v, a = masked softmax(e),
   context = a [B,1,L] @ values [B,L,dv] */
DL__API dl_tensor *dl_additive_attention(dl_ctx *ctx, const dl_additive_attn *a, dl_tensor *query, dl_tensor *keys,
                                         dl_tensor *values, dl_tensor *mask, dl_tensor **weights) {
    dl_tensor *e, *p, *y, *mk = NULL; int64_t B, L, dim;
    DL__ENTER(ctx, "dl_additive_attention");
    if (weights) *weights = &ctx->poison;
    if (ctx->status) return &ctx->poison;
    if (!a) return dl__fail0(ctx, DL_STATUS_INVALID, "a is NULL");
    if (!dl__arg(ctx, query, 3, DL_F32) || !dl__arg(ctx, keys, 4, DL_F32) || !dl__arg(ctx, values, 5, DL_F32)) return &ctx->poison;
    if (mask && !dl__arg(ctx, mask, 6, DL_I32)) return &ctx->poison;
    if (!dl__arg(ctx, a->w_q, 2, DL_F32) || !dl__arg(ctx, a->w_k, 2, DL_F32) || !dl__arg(ctx, a->v, 2, DL_F32)) return &ctx->poison;
    dim = a->dim;
    if (a->w_q->ndim != 2 || a->w_k->ndim != 2 || a->v->ndim != 1 || a->w_q->shape[0] != dim || a->w_k->shape[0] != dim ||
        a->v->shape[0] != dim || a->w_q->shape[1] != a->dq || a->w_k->shape[1] != a->dk)
        return dl__fail3(ctx, DL_STATUS_SHAPE, "parameters w_q%T w_k%T v%T do not fit dq, dk, dim", DL__A(a->w_q), DL__A(a->w_k), DL__A(a->v));
    if (query->ndim != 2 || keys->ndim != 3 || values->ndim != 3 || query->shape[1] != a->dq || keys->shape[2] != a->dk ||
        keys->shape[0] != query->shape[0] || values->shape[0] != query->shape[0] || values->shape[1] != keys->shape[1] ||
        keys->shape[1] < 1)
        return dl__fail3(ctx, DL_STATUS_SHAPE, "need query [B,dq], keys [B,L,dk], values [B,L,dv]: query%T keys%T values%T",
                         DL__A(query), DL__A(keys), DL__A(values));
    B = query->shape[0]; L = keys->shape[1];
    if (mask && (mask->ndim != 2 || mask->shape[0] != B || mask->shape[1] != L))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "mask%T must be [B,L] for keys%T", DL__A(mask), DL__A(keys));
    if (mask) mk = dl__mask_additive(ctx, mask, dl_shape3(B, 1, L));
    e = dl_add(ctx, dl_matmul_ex(ctx, keys, a->w_k, DL_TRANS_B),
               dl_reshape(ctx, dl_matmul_ex(ctx, query, a->w_q, DL_TRANS_B), dl_shape3(B, 1, dim)));
    e = dl_matmul(ctx, dl_tanh(ctx, e), dl_reshape(ctx, a->v, dl_shape2(dim, 1)));          /* [B,L,1] */
    p = dl__masked_softmax(ctx, dl_reshape(ctx, e, dl_shape3(B, 1, L)), dl_shape3(B, 1, L), &mk, mk ? 1 : 0, 0);
    y = dl_reshape(ctx, dl_matmul(ctx, p, values), dl_shape2(B, values->shape[2]));
    if (weights) *weights = dl_reshape(ctx, p, dl_shape2(B, L));
    ctx->op = "dl_additive_attention";
    return dl__done(ctx, y);
}

/* PE[p, 2i] = sin(p / 10000^(2i/dim)), PE[p, 2i+1] = cos(p / 10000^(2i/dim)), in double */
DL__API dl_tensor *dl_sinusoidal_positions(dl_ctx *ctx, int64_t len, int64_t dim) {
    dl_tensor *y; int64_t p, c;
    DL__ENTER(ctx, "dl_sinusoidal_positions");
    if (ctx->status) return &ctx->poison;
    if (len < 0 || dim < 1) return dl__fail2(ctx, DL_STATUS_SHAPE, "need len >= 0 and dim >= 1, got len %I, dim %I", DL__A(&len), DL__A(&dim));
    y = dl__new(ctx, dl_shape2(len, dim), DL_F32, 1);
    if (!ctx->status && y->data)
        for (p = 0; p < len; p++) for (c = 0; c < dim; c++) {
            double ang = (double)p * exp(-log(10000.0) * (double)(c - (c & 1)) / (double)dim);
            y->data[p * dim + c] = (float)((c & 1) ? cos(ang) : sin(ang));
        }
    if (!ctx->status && y->data) dl__push(ctx, y);
    return dl__done(ctx, y);
}

#undef DL__MASKED
/* (end of >>attention) */

/* ======================================================================================
   >>ae-vae  autoencoders (corruption, sparsity and contractive penalties) and VAEs
   (reparameterization, Gaussian KL, importance-weighted log-likelihood)
   ====================================================================================== */

/* a new constant tensor (no gradient) of x's shape, out[i] = f(x[i], rng); draws happen in
   measure mode too, so the RNG stream does not depend on the mode */
static dl_tensor *dl__corrupt(dl_ctx *ctx, dl_tensor *x, int gaussian, float a) {
    dl_tensor *y; int64_t i;
    if (ctx->be) {   /* a backend: the noise (same draws) is made on the host, applied by an op */
        const char *op = ctx->op;
        dl_tensor *z = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
        if (ctx->status) return &ctx->poison;
        for (i = 0; i < z->numel; i++) {
            float v = gaussian ? a * dl_rand_normal(ctx) : (dl_rand_uniform(ctx) < a ? 0.0f : 1.0f);
            if (z->data) z->data[i] = v;
        }
        if (z->data) dl__push(ctx, z);
        y = gaussian ? dl_add(ctx, dl_detach(ctx, x), z) : dl_mul(ctx, dl_detach(ctx, x), z);
        ctx->op = op;
        return dl__done(ctx, y);
    }
    y = dl__new(ctx, dl_shape_of(x), DL_F32, 1);
    if (ctx->status) return &ctx->poison;
    for (i = 0; i < y->numel; i++) {
        float v = y->data ? dl_get(x, i) : 0.0f;
        if (gaussian) v += a * dl_rand_normal(ctx);
        else if (dl_rand_uniform(ctx) < a) v = 0.0f;
        if (y->data) y->data[i] = v;
    }
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_mask_noise(dl_ctx *ctx, dl_tensor *x, float p) {
    DL__ENTER(ctx, "dl_mask_noise");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (!(p >= 0.0f && p <= 1.0f)) { double dp = (double)p; return dl__fail1(ctx, DL_STATUS_INVALID, "p = %g must be in [0, 1]", DL__A(&dp)); }
    return dl__corrupt(ctx, x, 0, p);
}
DL__API dl_tensor *dl_gaussian_noise(dl_ctx *ctx, dl_tensor *x, float std) {
    DL__ENTER(ctx, "dl_gaussian_noise");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if (!(std >= 0.0f && std < 3.0e38f)) { double ds = (double)std; return dl__fail1(ctx, DL_STATUS_INVALID, "std = %g must be finite and >= 0", DL__A(&ds)); }
    return dl__corrupt(ctx, x, 1, std);
}
DL__API dl_tensor *dl_kl_sparsity_penalty(dl_ctx *ctx, dl_tensor *h, float rho) {
    dl_tensor *r, *t; int64_t H; double c = 0.0;
    DL__ENTER(ctx, "dl_kl_sparsity_penalty");
    if (!dl__arg(ctx, h, 1, DL_F32)) return &ctx->poison;
    if (!(rho > 0.0f && rho < 1.0f)) { double dr = (double)rho; return dl__fail1(ctx, DL_STATUS_INVALID, "rho = %g must be in (0, 1)", DL__A(&dr)); }
    if (h->ndim < 1 || h->numel < 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "h%T must have at least one dim and one element", DL__A(h));
    H = h->shape[h->ndim - 1];
    r = dl_mean(ctx, dl_reshape(ctx, dl_contiguous(ctx, h), dl_shape2(h->numel / H, H)), 0, 0);      /* [H] */
    r = dl_clamp(ctx, r, 1e-6f, 1.0f - 1e-6f);
    /* sum_j rho log(rho/r_j) + (1-rho) log((1-rho)/(1-r_j)) */
    t = dl_add(ctx, dl_mul_scalar(ctx, dl_log(ctx, r), rho),
               dl_mul_scalar(ctx, dl_log(ctx, dl_add_scalar(ctx, dl_neg(ctx, r), 1.0f)), 1.0f - rho));
    c = (double)H * ((double)rho * log((double)rho) + (1.0 - (double)rho) * log(1.0 - (double)rho));
    t = dl_add_scalar(ctx, dl_neg(ctx, dl_sum_all(ctx, t)), (float)c);
    ctx->op = "dl_kl_sparsity_penalty";
    return dl__done(ctx, t);
}
DL__API dl_tensor *dl_contractive_penalty(dl_ctx *ctx, dl_tensor *w, dl_tensor *h) {
    dl_tensor *ws, *d, *t; int64_t H;
    DL__ENTER(ctx, "dl_contractive_penalty");
    if (!dl__arg(ctx, w, 1, DL_F32) || !dl__arg(ctx, h, 2, DL_F32)) return &ctx->poison;
    if (w->ndim != 2 || h->ndim < 1 || h->shape[h->ndim - 1] != w->shape[0] || h->numel < 1)
        return dl__fail2(ctx, DL_STATUS_SHAPE, "need w [H,D] and h [...,H]: w%T h%T", DL__A(w), DL__A(h));
    H = w->shape[0];
    ws = dl_sum(ctx, dl_square(ctx, w), 1, 0);                           /* [H]: sum_i W_ji^2 */
    d = dl_sub(ctx, h, dl_square(ctx, h));                                /* h (1 - h) */
    t = dl_sum_all(ctx, dl_mul(ctx, dl_square(ctx, d), ws));
    t = dl_mul_scalar(ctx, t, (float)(1.0 / (double)(h->numel / H)));
    ctx->op = "dl_contractive_penalty";
    return dl__done(ctx, t);
}
/* do the trailing dims of a equal b's shape (a may have more leading dims)? */
static int dl__trails(const dl_tensor *a, const dl_tensor *b) {
    int d, off = a->ndim - b->ndim;
    if (off < 0) return 0;
    for (d = 0; d < b->ndim; d++) if (a->shape[off + d] != b->shape[d]) return 0;
    return 1;
}
DL__API dl_tensor *dl_reparameterize(dl_ctx *ctx, dl_tensor *mu, dl_tensor *logvar, dl_tensor *eps) {
    dl_tensor *z;
    DL__ENTER(ctx, "dl_reparameterize");
    if (!dl__arg(ctx, mu, 1, DL_F32) || !dl__arg(ctx, logvar, 2, DL_F32)) return &ctx->poison;
    if (eps && !dl__arg(ctx, eps, 3, DL_F32)) return &ctx->poison;
    if (!dl_same_shape(mu, logvar) || (eps && !dl__trails(eps, mu)))
        return dl__fail3(ctx, DL_STATUS_SHAPE, "need logvar of mu's shape and eps ending in it: mu%T logvar%T eps%T",
                         DL__A(mu), DL__A(logvar), DL__A(eps ? eps : mu));
    if (!eps) eps = dl_normal(ctx, dl_shape_of(mu), 0.0f, 1.0f);
    z = dl_add(ctx, mu, dl_mul(ctx, dl_exp(ctx, dl_mul_scalar(ctx, logvar, 0.5f)), eps));
    ctx->op = "dl_reparameterize";
    return dl__done(ctx, z);
}
DL__API dl_tensor *dl_gaussian_kl(dl_ctx *ctx, dl_tensor *mu, dl_tensor *logvar) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_gaussian_kl");
    if (!dl__arg(ctx, mu, 1, DL_F32) || !dl__arg(ctx, logvar, 2, DL_F32)) return &ctx->poison;
    if (!dl_same_shape(mu, logvar) || mu->ndim < 1)
        return dl__fail2(ctx, DL_STATUS_SHAPE, "mu%T and logvar%T need the same shape, at least 1-D", DL__A(mu), DL__A(logvar));
    /* 1/2 sum (mu^2 + e^logvar - logvar - 1) */
    t = dl_sub(ctx, dl_add(ctx, dl_square(ctx, mu), dl_exp(ctx, logvar)), dl_add_scalar(ctx, logvar, 1.0f));
    t = dl_mul_scalar(ctx, dl_sum(ctx, t, -1, 0), 0.5f);
    ctx->op = "dl_gaussian_kl";
    return dl__done(ctx, t);
}
DL__API dl_tensor *dl_gaussian_log_prob(dl_ctx *ctx, dl_tensor *z, dl_tensor *mu, dl_tensor *logvar) {
    dl_tensor *d, *t; int64_t D;
    DL__ENTER(ctx, "dl_gaussian_log_prob");
    if (!dl__arg(ctx, z, 1, DL_F32)) return &ctx->poison;
    if ((mu && !dl__arg(ctx, mu, 2, DL_F32)) || (logvar && !dl__arg(ctx, logvar, 3, DL_F32))) return &ctx->poison;
    if (z->ndim < 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "z%T must be at least 1-D", DL__A(z));
    D = z->shape[z->ndim - 1];
    d = mu ? dl_sub(ctx, z, mu) : z;
    if (!ctx->status && !dl_same_shape(d, z))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "mu%T must broadcast to z%T", DL__A(mu), DL__A(z));
    t = dl_square(ctx, d);
    if (logvar) t = dl_add(ctx, dl_mul(ctx, t, dl_exp(ctx, dl_neg(ctx, logvar))), logvar);
    if (!ctx->status && !dl_same_shape(t, z))
        return dl__fail2(ctx, DL_STATUS_SHAPE, "logvar%T must broadcast to z%T", DL__A(logvar), DL__A(z));
    t = dl_add_scalar(ctx, dl_mul_scalar(ctx, dl_sum(ctx, t, -1, 0), -0.5f), (float)(-0.5 * (double)D * log(2.0 * 3.14159265358979323846)));
    ctx->op = "dl_gaussian_log_prob";
    return dl__done(ctx, t);
}
DL__API dl_tensor *dl_bernoulli_log_prob(dl_ctx *ctx, dl_tensor *logits, dl_tensor *x) {
    dl_tensor *t;
    DL__ENTER(ctx, "dl_bernoulli_log_prob");
    if (!dl__arg(ctx, logits, 1, DL_F32) || !dl__arg(ctx, x, 2, DL_F32)) return &ctx->poison;
    if (!dl_same_shape(logits, x) || x->ndim < 1)
        return dl__fail2(ctx, DL_STATUS_SHAPE, "logits%T and x%T need the same shape, at least 1-D", DL__A(logits), DL__A(x));
    t = dl_neg(ctx, dl_sum(ctx, dl_bce_with_logits(ctx, logits, x, DL_REDUCE_NONE), -1, 0));
    ctx->op = "dl_bernoulli_log_prob";
    return dl__done(ctx, t);
}
DL__API dl_tensor *dl_log_mean_exp(dl_ctx *ctx, dl_tensor *x, int axis) {
    dl_tensor *t; int a;
    DL__ENTER(ctx, "dl_log_mean_exp");
    if (!dl__arg(ctx, x, 1, DL_F32)) return &ctx->poison;
    if ((a = dl__axis(ctx, axis, x->ndim, x)) < 0) return &ctx->poison;
    if (x->shape[a] < 1) return dl__fail1(ctx, DL_STATUS_SHAPE, "x%T: empty axis", DL__A(x));
    t = dl_add_scalar(ctx, dl_logsumexp(ctx, x, a, 0), (float)-log((double)x->shape[a]));
    ctx->op = "dl_log_mean_exp";
    return dl__done(ctx, t);
}
DL__API dl_tensor *dl_iw_log_likelihood(dl_ctx *ctx, dl_tensor *log_px_z, dl_tensor *z, dl_tensor *mu, dl_tensor *logvar) {
    dl_tensor *lw;
    DL__ENTER(ctx, "dl_iw_log_likelihood");
    if (!dl__arg(ctx, log_px_z, 1, DL_F32) || !dl__arg(ctx, z, 2, DL_F32) || !dl__arg(ctx, mu, 3, DL_F32) ||
        !dl__arg(ctx, logvar, 4, DL_F32)) return &ctx->poison;
    if (z->ndim != 3 || mu->ndim != 2 || !dl_same_shape(mu, logvar) || !dl__trails(z, mu) || log_px_z->ndim != 2 ||
        log_px_z->shape[0] != z->shape[0] || log_px_z->shape[1] != z->shape[1] || z->shape[0] < 1)
        return dl__fail4(ctx, DL_STATUS_SHAPE, "need log_px_z [k,N], z [k,N,D], mu and logvar [N,D], k >= 1: log_px_z%T z%T mu%T logvar%T",
                         DL__A(log_px_z), DL__A(z), DL__A(mu), DL__A(logvar));
    lw = dl_add(ctx, log_px_z, dl_sub(ctx, dl_gaussian_log_prob(ctx, z, NULL, NULL), dl_gaussian_log_prob(ctx, z, mu, logvar)));
    lw = dl_log_mean_exp(ctx, lw, 0);
    ctx->op = "dl_iw_log_likelihood";
    return dl__done(ctx, lw);
}

/* (end of >>ae-vae) */

/* ======================================================================================
   >>rbm  restricted Boltzmann machines (CD-k, PCD-k, AIS), deep belief nets, NADE
   ====================================================================================== */
static float dl__rbm_sig(float x) {
    if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
    { float e = expf(x); return e / (1.0f + e); }
}
static float dl__rbm_softplus(float x) { return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x)); }
static double dl__rbm_softplusd(double x) { return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x)); }
/* streaming log-sum-exp */
static void dl__lse_add(double *mx, double *s, double x) {
    if (*s == 0.0) { *mx = x; *s = 1.0; }
    else if (x > *mx) { *s = *s * exp(*mx - x) + 1.0; *mx = x; }
    else *s += exp(x - *mx);
}
/* the model's tensors: present, float32, contiguous, shapes [H,V], [V], [H] */
static int dl__rbm_ok(dl_ctx *ctx, const dl_rbm *r) {
    if (ctx->status) return 0;
    if (!r) { dl__fail0(ctx, DL_STATUS_INVALID, "rbm is NULL"); return 0; }
    if (!dl__arg(ctx, r->W, 1, DL_F32) || !dl__arg(ctx, r->b_v, 1, DL_F32) || !dl__arg(ctx, r->b_h, 1, DL_F32)) return 0;
    if (r->visible != DL_RBM_BINARY && r->visible != DL_RBM_GAUSSIAN) { dl__fail1(ctx, DL_STATUS_INVALID, "rbm visible type %d unknown", DL__A(&r->visible)); return 0; }
    if (r->W->ndim != 2 || r->W->shape[0] != r->nh || r->W->shape[1] != r->nv || r->b_v->ndim != 1 || r->b_v->shape[0] != r->nv
        || r->b_h->ndim != 1 || r->b_h->shape[0] != r->nh) {
        dl__fail3(ctx, DL_STATUS_SHAPE, "rbm W%T b_v%T b_h%T do not match nh x nv", DL__A(r->W), DL__A(r->b_v), DL__A(r->b_h));
        return 0;
    }
    if (!dl_is_contiguous(r->W) || !dl_is_contiguous(r->b_v) || !dl_is_contiguous(r->b_h)) {
        dl__fail0(ctx, DL_STATUS_INVALID, "rbm tensors must be contiguous");
        return 0;
    }
    return 1;
}
/* x: float32 [N, n] */
static int dl__rbm_rows(dl_ctx *ctx, const dl_tensor *x, int argno, int64_t n) {
    if (!dl__arg(ctx, x, argno, DL_F32)) return 0;
    if (x->ndim != 2 || x->shape[1] != n) {
        dl__fail3(ctx, DL_STATUS_SHAPE, "argument %d%T must be [N,%I]", DL__A(&argno), DL__A(x), DL__A(&n));
        return 0;
    }
    return 1;
}
/* out [M,H] = v W^T + b_h (then sigmoid(beta * .) when prob) */
static void dl__rbm_up(const dl_ctx *ctx, const dl_rbm *r, const float *v, int64_t M, float *out, int prob, float beta) {
    int64_t i, j, V = r->nv, H = r->nh; const float *c = r->b_h->data;
    dl__mat A, B, C;
    A.p = (float *)v; A.rs = V; A.cs = 1; B.p = r->W->data; B.rs = 1; B.cs = V; C.p = out; C.rs = H; C.cs = 1;
    dl__gemm_isa(ctx, M, H, V, A, B, C, 0);
    for (i = 0; i < M; i++) for (j = 0; j < H; j++) {
        float x = out[i * H + j] + c[j];
        out[i * H + j] = prob ? dl__rbm_sig(beta * x) : x;
    }
}
/* out [M,V] = h W (no bias) */
static void dl__rbm_down(const dl_ctx *ctx, const dl_rbm *r, const float *h, int64_t M, float *out) {
    dl__mat A, B, C;
    A.p = (float *)h; A.rs = r->nh; A.cs = 1; B.p = r->W->data; B.rs = r->nv; B.cs = 1; C.p = out; C.rs = r->nv; C.cs = 1;
    dl__gemm_isa(ctx, M, r->nv, r->nh, A, B, C, 0);
}
/* E[v|h] from hW: sigmoid(b_v + hW) or b_v + hW */
static void dl__rbm_vmean(const dl_rbm *r, float *x, int64_t M) {
    int64_t i, j, V = r->nv; const float *b = r->b_v->data;
    for (i = 0; i < M; i++) for (j = 0; j < V; j++) {
        float a = x[i * V + j] + b[j];
        x[i * V + j] = r->visible == DL_RBM_GAUSSIAN ? a : dl__rbm_sig(a);
    }
}
static void dl__rbm_bern(dl_ctx *ctx, const float *p, float *out, int64_t n) {
    int64_t i; for (i = 0; i < n; i++) out[i] = dl_rand_uniform(ctx) < p[i] ? 1.0f : 0.0f;
}
/* v ~ p(v | mean): Bernoulli or N(mean, 1) */
static void dl__rbm_vsample(dl_ctx *ctx, const dl_rbm *r, const float *mean, float *out, int64_t n) {
    int64_t i;
    if (r->visible == DL_RBM_GAUSSIAN) for (i = 0; i < n; i++) out[i] = mean[i] + dl_rand_normal(ctx);
    else dl__rbm_bern(ctx, mean, out, n);
}

DL__API void dl_rbm_init(dl_ctx *ctx, dl_rbm *r, int64_t nv, int64_t nh, int visible, float std) {
    if (!ctx || !r) return;
    memset(r, 0, sizeof *r);
    ctx->op = "dl_rbm_init";
    r->W = r->b_v = r->b_h = &ctx->poison;
    if (nv <= 0 || nh <= 0) { dl__fail2(ctx, DL_STATUS_SHAPE, "nv %I and nh %I must be positive", DL__A(&nv), DL__A(&nh)); return; }
    if (visible != DL_RBM_BINARY && visible != DL_RBM_GAUSSIAN) { dl__fail1(ctx, DL_STATUS_INVALID, "visible type %d unknown (DL_RBM_BINARY or DL_RBM_GAUSSIAN)", DL__A(&visible)); return; }
    r->nv = nv; r->nh = nh; r->visible = visible;
    r->W = dl_normal(ctx, dl_shape2(nh, nv), 0.0f, std > 0.0f ? std : 0.01f);
    r->b_v = dl_zeros(ctx, dl_shape1(nv)); r->b_h = dl_zeros(ctx, dl_shape1(nh));
    r->mW = dl_zeros(ctx, dl_shape2(nh, nv)); r->mb_v = dl_zeros(ctx, dl_shape1(nv)); r->mb_h = dl_zeros(ctx, dl_shape1(nh));
}

DL__API dl_tensor *dl_rbm_free_energy(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v) {
    dl_tensor *sp, *vis, *f;
    DL__ENTER(ctx, "dl_rbm_free_energy");
    if (!dl__rbm_ok(ctx, r) || !dl__rbm_rows(ctx, v, 2, r->nv)) return &ctx->poison;
    sp = dl_sum(ctx, dl_softplus(ctx, dl_add(ctx, dl_matmul_ex(ctx, v, r->W, DL_TRANS_B), r->b_h)), 1, 0);
    if (r->visible == DL_RBM_GAUSSIAN) {
        vis = dl_mul_scalar(ctx, dl_sum(ctx, dl_square(ctx, dl_sub(ctx, v, r->b_v)), 1, 0), 0.5f);
        f = dl_sub(ctx, vis, sp);
    } else {
        vis = dl_sum(ctx, dl_mul(ctx, v, r->b_v), 1, 0);
        f = dl_neg(ctx, dl_add(ctx, vis, sp));
    }
    ctx->op = "dl_rbm_free_energy";
    return dl__done(ctx, f);
}
/* which: 0 p(h|v), 1 h sample, 2 E[v|h], 3 v sample */
static dl_tensor *dl__rbm_cond(dl_ctx *ctx, const dl_rbm *r, dl_tensor *x, int which) {
    int64_t N, nin = which < 2 ? r->nv : r->nh, nout = which < 2 ? r->nh : r->nv;
    dl_tensor *y; dl_mark m;
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r) || !dl__rbm_rows(ctx, x, 2, nin)) return &ctx->poison;
    N = x->shape[0];
    y = dl__new(ctx, dl_shape2(N, nout), DL_F32, 1);
    m = dl_ctx_mark(ctx);
    x = dl__contig(ctx, x);
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, m); return dl__done(ctx, y); }
    if (which < 2) dl__rbm_up(ctx, r, x->data, N, y->data, 1, 1.0f);
    else { dl__rbm_down(ctx, r, x->data, N, y->data); dl__rbm_vmean(r, y->data, N); }
    if (which == 1) dl__rbm_bern(ctx, y->data, y->data, y->numel);
    if (which == 3) dl__rbm_vsample(ctx, r, y->data, y->data, y->numel);
    dl_ctx_rewind(ctx, m);
    return dl__done(ctx, y);
}
DL__API dl_tensor *dl_rbm_hidden_probs(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v) { DL__ENTER(ctx, "dl_rbm_hidden_probs"); return dl__rbm_cond(ctx, r, v, 0); }
DL__API dl_tensor *dl_rbm_sample_hidden(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v) { DL__ENTER(ctx, "dl_rbm_sample_hidden"); return dl__rbm_cond(ctx, r, v, 1); }
DL__API dl_tensor *dl_rbm_visible_mean(dl_ctx *ctx, const dl_rbm *r, dl_tensor *h) { DL__ENTER(ctx, "dl_rbm_visible_mean"); return dl__rbm_cond(ctx, r, h, 2); }
DL__API dl_tensor *dl_rbm_sample_visible(dl_ctx *ctx, const dl_rbm *r, dl_tensor *h) { DL__ENTER(ctx, "dl_rbm_sample_visible"); return dl__rbm_cond(ctx, r, h, 3); }

/* `steps` Gibbs steps in place on v [M,V] (contiguous data); h [M,H] and t [M,V] scratch */
static void dl__rbm_chain(dl_ctx *ctx, const dl_rbm *r, float *v, int64_t M, int steps, float *h, float *t) {
    int s;
    for (s = 0; s < steps; s++) {
        dl__rbm_up(ctx, r, v, M, h, 1, 1.0f);
        dl__rbm_bern(ctx, h, h, M * r->nh);
        dl__rbm_down(ctx, r, h, M, t);
        dl__rbm_vmean(r, t, M);
        dl__rbm_vsample(ctx, r, t, v, M * r->nv);
    }
}
DL__API dl_tensor *dl_rbm_gibbs(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v, int steps) {
    dl_tensor *y; dl_mark m; float *h, *t; int64_t N; int ok;
    DL__ENTER(ctx, "dl_rbm_gibbs");
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r) || !dl__rbm_rows(ctx, v, 2, r->nv)) return &ctx->poison;
    if (steps < 0) return dl__fail1(ctx, DL_STATUS_INVALID, "steps %d must be >= 0", DL__A(&steps));
    N = v->shape[0];
    y = dl__new(ctx, dl_shape2(N, r->nv), DL_F32, 1);
    m = dl_ctx_mark(ctx);
    h = (float *)dl__alloc(ctx, (size_t)(N * r->nh) * 4u, 0, &ok);
    t = (float *)dl__alloc(ctx, (size_t)(N * r->nv) * 4u, 0, &ok);
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, m); return dl__done(ctx, y); }
    dl_copy_to(v, y->data);
    dl__rbm_chain(ctx, r, y->data, N, steps, h, t);
    dl_ctx_rewind(ctx, m);
    return dl__done(ctx, y);
}

static int dl__rbm_out(dl_ctx *ctx, const dl_tensor *t, int argno, int64_t a, int64_t b) {
    int nd = b ? 2 : 1;
    if (!dl__arg(ctx, t, argno, DL_F32)) return 0;
    if (t->ndim != nd || t->shape[0] != a || (b && t->shape[1] != b) || !dl_is_contiguous(t)) {
        if (b) dl__fail4(ctx, DL_STATUS_SHAPE, "argument %d%T must be a contiguous [%I,%I]", DL__A(&argno), DL__A(t), DL__A(&a), DL__A(&b));
        else dl__fail3(ctx, DL_STATUS_SHAPE, "argument %d%T must be a contiguous [%I]", DL__A(&argno), DL__A(t), DL__A(&a));
        return 0;
    }
    return 1;
}
DL__API float dl_rbm_cd_grad(dl_ctx *ctx, const dl_rbm *r, dl_tensor *v, int k, dl_tensor *chain,
                             dl_tensor *gW, dl_tensor *gb_v, dl_tensor *gb_h) {
    dl_mark m; int64_t N, M, V, H, i, j; float *ph0, *h, *t, *cur, *phk, sN, sM; double err = 0.0; int ok;
    if (!ctx) return -1.0f;
    ctx->op = "dl_rbm_cd_grad";
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r) || !dl__rbm_rows(ctx, v, 2, r->nv)) return -1.0f;
    V = r->nv; H = r->nh; N = v->shape[0];
    if (k < 1) { dl__fail1(ctx, DL_STATUS_INVALID, "k %d must be >= 1", DL__A(&k)); return -1.0f; }
    if (chain && (!dl__rbm_out(ctx, chain, 5, chain->ndim == 2 ? chain->shape[0] : 0, V) || chain->shape[0] < 1)) {
        if (!ctx->status) dl__fail1(ctx, DL_STATUS_SHAPE, "chain%T needs at least one row", DL__A(chain));
        return -1.0f;
    }
    if (!dl__rbm_out(ctx, gW, 6, H, V) || !dl__rbm_out(ctx, gb_v, 7, V, 0) || !dl__rbm_out(ctx, gb_h, 8, H, 0)) return -1.0f;
    if (N < 1) { dl__fail1(ctx, DL_STATUS_SHAPE, "batch v%T is empty", DL__A(v)); return -1.0f; }
    M = chain ? chain->shape[0] : N;
    m = dl_ctx_mark(ctx);
    v = dl__contig(ctx, v);
    ph0 = (float *)dl__alloc(ctx, (size_t)(N * H) * 4u, 0, &ok);
    h = (float *)dl__alloc(ctx, (size_t)((N > M ? N : M) * H) * 4u, 0, &ok);
    t = (float *)dl__alloc(ctx, (size_t)((N > M ? N : M) * V) * 4u, 0, &ok);
    phk = (float *)dl__alloc(ctx, (size_t)(M * H) * 4u, 0, &ok);
    cur = chain ? chain->data : (float *)dl__alloc(ctx, (size_t)(M * V) * 4u, 0, &ok);
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, m); return ctx->status ? -1.0f : 0.0f; }
    /* positive phase and the reconstruction */
    dl__rbm_up(ctx, r, v->data, N, ph0, 1, 1.0f);
    dl__rbm_bern(ctx, ph0, h, N * H);
    dl__rbm_down(ctx, r, h, N, t);
    dl__rbm_vmean(r, t, N);
    for (i = 0; i < N * V; i++) { double d = (double)v->data[i] - (double)t[i]; err += d * d; }
    /* negative phase: CD continues from the reconstruction's sample, PCD from the chain */
    if (!chain) { dl__rbm_vsample(ctx, r, t, cur, N * V); dl__rbm_chain(ctx, r, cur, M, k - 1, h, t); }
    else dl__rbm_chain(ctx, r, cur, M, k, h, t);
    dl__rbm_up(ctx, r, cur, M, phk, 1, 1.0f);
    /* statistics */
    sN = 1.0f / (float)N; sM = 1.0f / (float)M;
    for (j = 0; j < V; j++) {
        double a = 0.0, b = 0.0;
        for (i = 0; i < N; i++) a += (double)v->data[i * V + j];
        for (i = 0; i < M; i++) b += (double)cur[i * V + j];
        gb_v->data[j] = (float)(a / (double)N - b / (double)M);
    }
    for (j = 0; j < H; j++) {
        double a = 0.0, b = 0.0;
        for (i = 0; i < N; i++) a += (double)ph0[i * H + j];
        for (i = 0; i < M; i++) b += (double)phk[i * H + j];
        gb_h->data[j] = (float)(a / (double)N - b / (double)M);
    }
    for (i = 0; i < N * H; i++) ph0[i] *= sN;
    for (i = 0; i < M * H; i++) phk[i] *= -sM;
    {   dl__mat A, B, C;
        C.p = gW->data; C.rs = V; C.cs = 1;
        A.p = ph0; A.rs = 1; A.cs = H; B.p = v->data; B.rs = V; B.cs = 1;       /* ph0^T v */
        dl__gemm_isa(ctx, H, V, N, A, B, C, 0);
        A.p = phk; B.p = cur;                                                    /* - phk^T cur */
        dl__gemm_isa(ctx, H, V, M, A, B, C, 1);
    }
    dl_ctx_rewind(ctx, m);
    return (float)(err / (double)(N * V));
}
DL__API float dl_rbm_train_step(dl_ctx *ctx, dl_rbm *r, dl_tensor *v, dl_tensor *chain, const dl_rbm_train_desc *d) {
    dl_rbm_train_desc dd; dl_mark m; dl_tensor *g[3], *p[3], *mom[3]; float err; int q; int64_t i;
    if (!ctx) return -1.0f;
    ctx->op = "dl_rbm_train_step";
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r)) return -1.0f;
    memset(&dd, 0, sizeof dd); if (d) dd = *d;
    if (dd.k == 0) dd.k = 1;
    if (dd.lr == 0.0f) dd.lr = 0.01f;
    if (dd.momentum != 0.0f && (!r->mW || !r->mb_v || !r->mb_h)) { dl__fail0(ctx, DL_STATUS_INVALID, "momentum needs the rbm's momentum buffers (dl_rbm_init)"); return -1.0f; }
    m = dl_ctx_mark(ctx);
    g[0] = dl__new(ctx, dl_shape2(r->nh, r->nv), DL_F32, 1); g[1] = dl__new(ctx, dl_shape1(r->nv), DL_F32, 1); g[2] = dl__new(ctx, dl_shape1(r->nh), DL_F32, 1);
    err = dl_rbm_cd_grad(ctx, r, v, dd.k, chain, g[0], g[1], g[2]);
    ctx->op = "dl_rbm_train_step";
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, m); return err; }
    p[0] = r->W; p[1] = r->b_v; p[2] = r->b_h; mom[0] = r->mW; mom[1] = r->mb_v; mom[2] = r->mb_h;
    for (q = 0; q < 3; q++) {
        float *w = p[q]->data, *gg = g[q]->data, *mv = mom[q] ? mom[q]->data : NULL;
        float wd = q == 0 ? dd.weight_decay : 0.0f;
        if (mv && !dl_is_contiguous(mom[q])) mv = NULL;
        for (i = 0; i < p[q]->numel; i++) {
            float step = dd.lr * (gg[i] - wd * w[i]);
            if (mv) { mv[i] = dd.momentum * mv[i] + step; step = mv[i]; }
            w[i] += step;
        }
    }
    dl_ctx_rewind(ctx, m);
    return err;
}

DL__API double dl_rbm_log_z_exact(dl_ctx *ctx, const dl_rbm *r, int enumerate) {
    int64_t V, H, n, s, i, j; double mx = 0.0, sum = 0.0; const float *W, *b, *c;
    if (!ctx) return (double)NAN;
    ctx->op = "dl_rbm_log_z_exact";
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r)) return (double)NAN;
    V = r->nv; H = r->nh; W = r->W->data; b = r->b_v->data; c = r->b_h->data;
    if (enumerate == 0) enumerate = r->visible == DL_RBM_GAUSSIAN || H <= V ? 2 : 1;
    if (enumerate != 1 && enumerate != 2) { dl__fail1(ctx, DL_STATUS_INVALID, "enumerate %d must be 0, 1 or 2", DL__A(&enumerate)); return (double)NAN; }
    if (enumerate == 1 && r->visible == DL_RBM_GAUSSIAN) { dl__fail0(ctx, DL_STATUS_UNSUPPORTED, "gaussian visible units cannot be enumerated (use enumerate 2)"); return (double)NAN; }
    n = enumerate == 1 ? V : H;
    if (n > 24) { dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "2^%I configurations to enumerate (at most 2^24)", DL__A(&n)); return (double)NAN; }
    if (ctx->measure) return 0.0;
    for (s = 0; s < ((int64_t)1 << n); s++) {
        double e = 0.0;
        if (enumerate == 1) {                  /* b.v + sum_j softplus(c_j + W_j v) */
            for (i = 0; i < V; i++) if (s >> i & 1) e += (double)b[i];
            for (j = 0; j < H; j++) {
                double a = (double)c[j];
                for (i = 0; i < V; i++) if (s >> i & 1) a += (double)W[j * V + i];
                e += dl__rbm_softplusd(a);
            }
        } else {                               /* c.h + sum_i softplus(b_i + (W^T h)_i), or gaussian */
            for (j = 0; j < H; j++) if (s >> j & 1) e += (double)c[j];
            for (i = 0; i < V; i++) {
                double a = (double)b[i];
                for (j = 0; j < H; j++) if (s >> j & 1) a += (double)W[j * V + i];
                if (r->visible == DL_RBM_GAUSSIAN) e += 0.5 * (a * a - (double)b[i] * (double)b[i]) + 0.5 * log(6.283185307179586);
                else e += dl__rbm_softplusd(a);
            }
        }
        dl__lse_add(&mx, &sum, e);
    }
    return mx + log(sum);
}

/* beta_k of K: 10% of the steps over [0,0.5], 40% over [0.5,0.9], 50% over [0.9,1] */
static double dl__ais_beta(int k, int K) {
    double t = (double)k / (double)K;
    if (k >= K) return 1.0;
    if (t < 0.1) return 5.0 * t;
    if (t < 0.5) return 0.5 + (t - 0.1);
    return 0.9 + 0.2 * (t - 0.5);
}
DL__API double dl_rbm_log_z_ais(dl_ctx *ctx, const dl_rbm *r, int chains, int betas, const dl_tensor *base_bv, double *log_z_sd) {
    dl_mark mk; int64_t M = chains, V, H, i, j; float *v, *pre, *h, *t, *bA; double *lw, logz0 = 0.0, mx, sw = 0.0, sw2 = 0.0, est;
    int k, ok, gauss;
    if (log_z_sd) *log_z_sd = (double)NAN;
    if (!ctx) return (double)NAN;
    ctx->op = "dl_rbm_log_z_ais";
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r)) return (double)NAN;
    V = r->nv; H = r->nh; gauss = r->visible == DL_RBM_GAUSSIAN;
    if (chains < 1 || betas < 1) { dl__fail2(ctx, DL_STATUS_INVALID, "chains %d and betas %d must be >= 1", DL__A(&chains), DL__A(&betas)); return (double)NAN; }
    if (base_bv && !gauss) {
        if (!dl__arg(ctx, base_bv, 4, DL_F32)) return (double)NAN;
        if (base_bv->numel != V) { dl__fail2(ctx, DL_STATUS_SHAPE, "base_bv%T must have %I elements", DL__A(base_bv), DL__A(&V)); return (double)NAN; }
    }
    mk = dl_ctx_mark(ctx);
    v = (float *)dl__alloc(ctx, (size_t)(M * V) * 4u, 0, &ok);
    t = (float *)dl__alloc(ctx, (size_t)(M * V) * 4u, 0, &ok);
    pre = (float *)dl__alloc(ctx, (size_t)(M * H) * 4u, 0, &ok);
    h = (float *)dl__alloc(ctx, (size_t)(M * H) * 4u, 0, &ok);
    bA = (float *)dl__alloc(ctx, (size_t)V * 4u, 0, &ok);
    lw = (double *)dl__alloc(ctx, (size_t)M * 8u, 0, &ok);
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, mk); return ctx->status ? (double)NAN : 0.0; }
    for (i = 0; i < V; i++) bA[i] = (base_bv && !gauss) ? dl_get(base_bv, i) : 0.0f;
    for (i = 0; i < M; i++) lw[i] = 0.0;
    /* the base model and its exact log Z */
    if (gauss) {
        for (i = 0; i < M; i++) for (j = 0; j < V; j++) v[i * V + j] = r->b_v->data[j] + dl_rand_normal(ctx);
        logz0 = 0.5 * (double)V * log(6.283185307179586) + (double)H * log(2.0);
    } else {
        for (j = 0; j < V; j++) { t[j] = dl__rbm_sig(bA[j]); logz0 += dl__rbm_softplusd((double)bA[j]); }
        for (i = 0; i < M; i++) dl__rbm_bern(ctx, t, v + i * V, V);
        logz0 += (double)H * log(2.0);
    }
    for (k = 1; k <= betas; k++) {
        float bp = (float)dl__ais_beta(k - 1, betas), bk = (float)dl__ais_beta(k, betas);
        dl__rbm_up(ctx, r, v, M, pre, 0, 1.0f);
        for (i = 0; i < M; i++) {
            double d = 0.0;
            for (j = 0; j < H; j++) { float x = pre[i * H + j]; d += (double)(dl__rbm_softplus(bk * x) - dl__rbm_softplus(bp * x)); }
            if (!gauss) {
                double e = 0.0;
                for (j = 0; j < V; j++) if (v[i * V + j] != 0.0f) e += (double)(r->b_v->data[j] - bA[j]) * (double)v[i * V + j];
                d += (double)(bk - bp) * e;
            }
            lw[i] += d;
        }
        if (k == betas) break;
        /* a Gibbs transition that leaves p_bk invariant */
        for (i = 0; i < M * H; i++) h[i] = dl_rand_uniform(ctx) < dl__rbm_sig(bk * pre[i]) ? 1.0f : 0.0f;
        dl__rbm_down(ctx, r, h, M, t);
        for (i = 0; i < M; i++) for (j = 0; j < V; j++) {
            float a = t[i * V + j];
            if (gauss) v[i * V + j] = r->b_v->data[j] + bk * a + dl_rand_normal(ctx);
            else v[i * V + j] = dl_rand_uniform(ctx) < dl__rbm_sig((1.0f - bk) * bA[j] + bk * (r->b_v->data[j] + a)) ? 1.0f : 0.0f;
        }
    }
    mx = lw[0];
    for (i = 1; i < M; i++) if (lw[i] > mx) mx = lw[i];
    for (i = 0; i < M; i++) { double w = exp(lw[i] - mx); sw += w; sw2 += w * w; }
    est = logz0 + mx + log(sw / (double)M);
    if (log_z_sd) {
        double mean = sw / (double)M, var = sw2 / (double)M - mean * mean;
        *log_z_sd = M > 1 ? sqrt((var > 0.0 ? var : 0.0) / (double)(M - 1)) / mean : 0.0;
    }
    dl_ctx_rewind(ctx, mk);
    return est;
}
DL__API dl_tensor *dl_rbm_base_rate(dl_ctx *ctx, const dl_tensor *data) {
    dl_tensor *y; int64_t N, V, i, j;
    DL__ENTER(ctx, "dl_rbm_base_rate");
    if (!dl__arg(ctx, data, 1, DL_F32)) return &ctx->poison;
    if (data->ndim != 2) return dl__fail1(ctx, DL_STATUS_SHAPE, "data%T must be [N,V]", DL__A(data));
    N = data->shape[0]; V = data->shape[1];
    y = dl__new(ctx, dl_shape1(V), DL_F32, 1);
    if (ctx->status || ctx->measure || !dl__pull(data)) return dl__done(ctx, y);
    for (j = 0; j < V; j++) {
        double s = 0.0, p;
        for (i = 0; i < N; i++) s += (double)dl__host_get(data, i * V + j);
        p = (s + 1.0) / ((double)N + 2.0);             /* Laplace smoothing: never 0 or 1 */
        y->data[j] = (float)log(p / (1.0 - p));
    }
    dl__push(ctx, y);
    return dl__done(ctx, y);
}
DL__API double dl_rbm_log_likelihood(dl_ctx *ctx, const dl_rbm *r, dl_tensor *data, double log_z) {
    dl_mark m; int64_t N, V, H, i, j, r0, B = 256; float *pre; double total = 0.0; dl_tensor *x; int ok;
    if (!ctx) return (double)NAN;
    ctx->op = "dl_rbm_log_likelihood";
    if (dl__cpu_only(ctx) || !dl__rbm_ok(ctx, r) || !dl__rbm_rows(ctx, data, 3, r->nv)) return (double)NAN;
    N = data->shape[0]; V = r->nv; H = r->nh;
    if (N < 1) { dl__fail1(ctx, DL_STATUS_SHAPE, "data%T is empty", DL__A(data)); return (double)NAN; }
    m = dl_ctx_mark(ctx);
    x = dl__contig(ctx, data);
    pre = (float *)dl__alloc(ctx, (size_t)(B * H) * 4u, 0, &ok);
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, m); return ctx->status ? (double)NAN : 0.0; }
    for (r0 = 0; r0 < N; r0 += B) {
        int64_t n = N - r0 < B ? N - r0 : B;
        dl__rbm_up(ctx, r, x->data + r0 * V, n, pre, 0, 1.0f);
        for (i = 0; i < n; i++) {
            double f = 0.0; const float *vv = x->data + (r0 + i) * V;     /* -F(v) */
            for (j = 0; j < H; j++) f += dl__rbm_softplusd((double)pre[i * H + j]);
            for (j = 0; j < V; j++) {
                double bj = (double)r->b_v->data[j], vj = (double)vv[j];
                if (r->visible == DL_RBM_GAUSSIAN) f -= 0.5 * (vj - bj) * (vj - bj);
                else f += bj * vj;
            }
            total += f;
        }
    }
    dl_ctx_rewind(ctx, m);
    return total / (double)N - log_z;
}
DL__API void dl_rbm_to_linear(dl_ctx *ctx, const dl_rbm *r, dl_linear *l) {
    if (!ctx || !l) return;
    ctx->op = "dl_rbm_to_linear";
    if (!dl__rbm_ok(ctx, r)) { memset(l, 0, sizeof *l); l->weight = &ctx->poison; return; }
    dl_linear_init(ctx, l, r->nv, r->nh, 1);
    if (ctx->status) return;
    dl_tensor_copy(ctx, l->weight, r->W);
    dl_tensor_copy(ctx, l->bias, r->b_h);
}

/* NADE: A = (x[:,None,:] * L) W^T + c with L[d,i] = (i < d), so row d of A is a_d; then
   logits_d = b_d + sum_h sigmoid(A)[d,h] V[d,h], log p(x) = -sum_d bce(logits_d, x_d) */
DL__API void dl_nade_init(dl_ctx *ctx, dl_nade *m, int64_t d, int64_t h) {
    float bw, bv;
    if (!ctx || !m) return;
    memset(m, 0, sizeof *m);
    ctx->op = "dl_nade_init";
    m->W = m->c = m->V = m->b = &ctx->poison;
    if (d <= 0 || h <= 0) { dl__fail2(ctx, DL_STATUS_SHAPE, "d %I and h %I must be positive", DL__A(&d), DL__A(&h)); return; }
    m->d = d; m->h = h;
    bw = 1.0f / sqrtf((float)d); bv = 1.0f / sqrtf((float)h);
    m->W = dl_uniform(ctx, dl_shape2(h, d), -bw, bw); m->c = dl_zeros(ctx, dl_shape1(h));
    m->V = dl_uniform(ctx, dl_shape2(d, h), -bv, bv); m->b = dl_zeros(ctx, dl_shape1(d));
    dl_requires_grad(ctx, m->W, 1); dl_requires_grad(ctx, m->c, 1);
    dl_requires_grad(ctx, m->V, 1); dl_requires_grad(ctx, m->b, 1);
}
DL__API int dl_nade_params(const dl_nade *m, dl_tensor **out) {
    if (out && m) { out[0] = m->W; out[1] = m->c; out[2] = m->V; out[3] = m->b; }
    return 4;
}
static int dl__nade_ok(dl_ctx *ctx, const dl_nade *m) {
    if (ctx->status) return 0;
    if (!m) { dl__fail0(ctx, DL_STATUS_INVALID, "nade is NULL"); return 0; }
    if (!dl__arg(ctx, m->W, 1, DL_F32) || !dl__arg(ctx, m->c, 1, DL_F32) || !dl__arg(ctx, m->V, 1, DL_F32) || !dl__arg(ctx, m->b, 1, DL_F32)) return 0;
    if (m->W->ndim != 2 || m->W->shape[0] != m->h || m->W->shape[1] != m->d || m->c->numel != m->h || m->c->ndim != 1
        || m->V->ndim != 2 || m->V->shape[0] != m->d || m->V->shape[1] != m->h || m->b->numel != m->d || m->b->ndim != 1) {
        dl__fail4(ctx, DL_STATUS_SHAPE, "nade W%T c%T V%T b%T do not match d and h", DL__A(m->W), DL__A(m->c), DL__A(m->V), DL__A(m->b));
        return 0;
    }
    return 1;
}
DL__API dl_tensor *dl_nade_log_prob(dl_ctx *ctx, const dl_nade *m, dl_tensor *x) {
    dl_tensor *L, *a, *logits, *lp; int64_t N, D, H, i, j;
    DL__ENTER(ctx, "dl_nade_log_prob");
    if (!dl__nade_ok(ctx, m) || !dl__rbm_rows(ctx, x, 2, m->d)) return &ctx->poison;
    N = x->shape[0]; D = m->d; H = m->h;
    L = dl__new(ctx, dl_shape2(D, D), DL_F32, 1);
    if (!ctx->status && L->data) { for (i = 0; i < D; i++) for (j = 0; j < D; j++) L->data[i * D + j] = j < i ? 1.0f : 0.0f; dl__push(ctx, L); }
    a = dl_mul(ctx, dl_reshape(ctx, x, dl_shape3(N, 1, D)), L);                       /* [N,D,D] */
    a = dl_matmul_ex(ctx, dl_reshape(ctx, a, dl_shape2(N * D, D)), m->W, DL_TRANS_B);  /* [N*D,H] */
    a = dl_sigmoid(ctx, dl_add(ctx, a, m->c));
    logits = dl_sum(ctx, dl_mul(ctx, dl_reshape(ctx, a, dl_shape3(N, D, H)), m->V), 2, 0);
    logits = dl_add(ctx, logits, m->b);                                               /* [N,D] */
    lp = dl_neg(ctx, dl_sum(ctx, dl_bce_with_logits(ctx, logits, x, DL_REDUCE_NONE), 1, 0));
    ctx->op = "dl_nade_log_prob";
    return dl__done(ctx, lp);
}
DL__API dl_tensor *dl_nade_sample(dl_ctx *ctx, const dl_nade *m, int64_t n) {
    dl_tensor *y, *W, *c, *Vt, *b; dl_mark mk; float *a; int64_t D, H, s, d, j; int ok;
    DL__ENTER(ctx, "dl_nade_sample");
    if (dl__cpu_only(ctx) || !dl__nade_ok(ctx, m)) return &ctx->poison;
    if (n < 0) return dl__fail1(ctx, DL_STATUS_SHAPE, "n %I must be >= 0", DL__A(&n));
    D = m->d; H = m->h;
    y = dl__new(ctx, dl_shape2(n, D), DL_F32, 1);
    mk = dl_ctx_mark(ctx);
    W = dl__contig(ctx, m->W); c = dl__contig(ctx, m->c); Vt = dl__contig(ctx, m->V); b = dl__contig(ctx, m->b);
    a = (float *)dl__alloc(ctx, (size_t)H * 4u, 0, &ok);
    if (ctx->status || ctx->measure) { dl_ctx_rewind(ctx, mk); return dl__done(ctx, y); }
    for (s = 0; s < n; s++) {
        memcpy(a, c->data, (size_t)H * 4u);
        for (d = 0; d < D; d++) {
            float z = b->data[d], xv;
            for (j = 0; j < H; j++) z += Vt->data[d * H + j] * dl__rbm_sig(a[j]);
            xv = dl_rand_uniform(ctx) < dl__rbm_sig(z) ? 1.0f : 0.0f;
            y->data[s * D + d] = xv;
            if (xv != 0.0f) for (j = 0; j < H; j++) a[j] += W->data[j * D + d];
        }
    }
    dl_ctx_rewind(ctx, mk);
    return dl__done(ctx, y);
}

/* (end of >>rbm) */

/* >>backward-table  generated from DL_OPS: dl__bwd_<op> for every op */
static const dl__bwd_fn dl__bwd_table[DL__OP_COUNT] = {
    0,
#define DL__X(name, num) dl__bwd_##name,
    DL_OPS(DL__X)
#undef DL__X
};
/* the table is positional: this fails to compile if an op's number is not its position */
enum { DL__POS_NONE = 0,
#define DL__X(name, num) DL__POS_##name,
    DL_OPS(DL__X)
#undef DL__X
    DL__POS_COUNT };
#define DL__X(name, num) typedef char dl__op_number_check_##name[(DL__POS_##name == (num)) ? 1 : -1];
DL_OPS(DL__X)
#undef DL__X
static void dl__bwd_dispatch(dl_ctx *ctx, dl__node *nd) {
    if (nd->op <= 0 || nd->op >= DL__OP_COUNT) { dl__fail1(ctx, DL_STATUS_UNSUPPORTED, "no backward for op %d", DL__A(&nd->op)); return; }
    dl__bwd_table[nd->op](ctx, nd);
}

#ifdef __cplusplus
}
#endif
#endif /* DL_IMPLEMENTATION */

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
