/* tests/test_gradcheck.c - finite-difference checks with the public dl_gradcheck():
   every differentiable op on small shapes (broadcast pairs, batched matmul), a few
   composed graphs (logistic regression, an MLP with cross-entropy, a DAG with a shared
   subexpression, x*x with one tensor in both slots), and a negative test proving that
   the comparison is real. Inputs are kept away from kinks, ties and domain edges, so
   the default tolerances (eps 1e-3, atol 1e-3, rtol 1e-2) apply throughout.        */
#include <stdlib.h>

#define GC_MAX_IN 6

enum {
    GC_U = 0,     /* dl_uniform in [lo, hi); lo == hi == 0 means [-1, 1)                 */
    GC_AWAY,      /* |x| in [lo, hi) (default [0.2, 1)), random sign: away from 0       */
    GC_DISTINCT,  /* shuffled grid, spacing 0.05, shared by every DISTINCT input: no ties */
    GC_COND       /* where() condition: 0 or nonzero, no gradient                         */
};

typedef struct gc_case {
    const char *name;
    dl_graph_fn fn;
    int n;
    dl_shape s[GC_MAX_IN];
    int init[GC_MAX_IN];
    float lo[GC_MAX_IN], hi[GC_MAX_IN];
    int ip[8];
    float fp[4];
    int n_kink;             /* push inputs at least 0.05 away from these values          */
    float kink[2];
    dl_shape is;            /* index tensor for index_select / gather / cross-entropy     */
    int32_t iv[16];
} gc_case;

typedef struct gc_user { const gc_case *c; dl_tensor *idx; } gc_user;

#define S0 {0, {0}}
#define S1(a) {1, {a}}
#define S2(a, b) {2, {a, b}}
#define S3(a, b, c) {3, {a, b, c}}
#define S4(a, b, c, d) {4, {a, b, c, d}}

#define GC_FN(nm, expr) \
    static dl_tensor *gc_##nm(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) { \
        const gc_case *c = ((gc_user *)user)->c; dl_tensor *idx = ((gc_user *)user)->idx; \
        (void)n; (void)c; (void)idx; return (expr); }

GC_FN(add, dl_add(ctx, x[0], x[1]))
GC_FN(sub, dl_sub(ctx, x[0], x[1]))
GC_FN(mul, dl_mul(ctx, x[0], x[1]))
GC_FN(div, dl_div(ctx, x[0], x[1]))
GC_FN(minimum, dl_minimum(ctx, x[0], x[1]))
GC_FN(maximum, dl_maximum(ctx, x[0], x[1]))
GC_FN(where, dl_where(ctx, x[0], x[1], x[2]))
GC_FN(add_scalar, dl_add_scalar(ctx, x[0], c->fp[0]))
GC_FN(mul_scalar, dl_mul_scalar(ctx, x[0], c->fp[0]))
GC_FN(neg, dl_neg(ctx, x[0]))
GC_FN(abs, dl_abs(ctx, x[0]))
GC_FN(sign, dl_sign(ctx, x[0]))
GC_FN(exp, dl_exp(ctx, x[0]))
GC_FN(log, dl_log(ctx, x[0]))
GC_FN(sqrt, dl_sqrt(ctx, x[0]))
GC_FN(square, dl_square(ctx, x[0]))
GC_FN(pow, dl_pow(ctx, x[0], c->fp[0]))
GC_FN(sin, dl_sin(ctx, x[0]))
GC_FN(cos, dl_cos(ctx, x[0]))
GC_FN(clamp, dl_clamp(ctx, x[0], c->fp[0], c->fp[1]))
GC_FN(relu, dl_relu(ctx, x[0]))
GC_FN(sigmoid, dl_sigmoid(ctx, x[0]))
GC_FN(tanh, dl_tanh(ctx, x[0]))
GC_FN(softplus, dl_softplus(ctx, x[0]))
GC_FN(log_sigmoid, dl_log_sigmoid(ctx, x[0]))
GC_FN(matmul, dl_matmul(ctx, x[0], x[1]))
GC_FN(matmul_ex, dl_matmul_ex(ctx, x[0], x[1], c->ip[0]))
GC_FN(sum, dl_sum(ctx, x[0], c->ip[0], c->ip[1]))
GC_FN(sum_axes, dl_sum_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1]))
GC_FN(sum_all, dl_sum_all(ctx, x[0]))
GC_FN(mean, dl_mean(ctx, x[0], c->ip[0], c->ip[1]))
GC_FN(mean_axes, dl_mean_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1]))
GC_FN(mean_all, dl_mean_all(ctx, x[0]))
GC_FN(max, dl_max(ctx, x[0], c->ip[0], c->ip[1]))
GC_FN(max_axes, dl_max_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1]))
GC_FN(max_all, dl_max_all(ctx, x[0]))
GC_FN(var, dl_var(ctx, x[0], c->ip[0], c->ip[1], c->ip[2]))
GC_FN(var_axes, dl_var_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1], c->ip[2]))
GC_FN(logsumexp, dl_logsumexp(ctx, x[0], c->ip[0], c->ip[1]))
GC_FN(softmax, dl_softmax(ctx, x[0], c->ip[0]))
GC_FN(log_softmax, dl_log_softmax(ctx, x[0], c->ip[0]))
GC_FN(reshape, dl_reshape(ctx, x[0], dl_shape2(c->ip[0], c->ip[1])))
GC_FN(flatten, dl_flatten(ctx, x[0], c->ip[0], c->ip[1]))
GC_FN(squeeze, dl_squeeze(ctx, x[0], c->ip[0]))
GC_FN(unsqueeze, dl_unsqueeze(ctx, x[0], c->ip[0]))
GC_FN(transpose, dl_transpose(ctx, x[0], c->ip[0], c->ip[1]))
GC_FN(permute, dl_permute(ctx, x[0], c->ip))
GC_FN(slice, dl_slice(ctx, x[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3]))
GC_FN(contiguous_t, dl_contiguous(ctx, dl_transpose(ctx, x[0], c->ip[0], c->ip[1])))
GC_FN(exp_tview, dl_exp(ctx, dl_transpose(ctx, x[0], c->ip[0], c->ip[1])))
GC_FN(concat, dl_concat(ctx, x, n, c->ip[0]))
GC_FN(stack, dl_stack(ctx, x, n, c->ip[0]))
GC_FN(index_select, dl_index_select(ctx, x[0], c->ip[0], idx))
GC_FN(gather, dl_gather(ctx, x[0], c->ip[0], idx))
GC_FN(mul_same, dl_mul(ctx, x[0], x[0]))

/* split into ip[2..4] sizes along ip[0], put the parts back in a different order */
static dl_tensor *gc_split(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    const gc_case *c = ((gc_user *)user)->c;
    dl_tensor *p[3], *r[3];
    int64_t sizes[3];
    (void)n;
    sizes[0] = c->ip[2]; sizes[1] = c->ip[3]; sizes[2] = c->ip[4];
    if (dl_split(ctx, x[0], c->ip[0], sizes, 3, p) != DL_STATUS_OK) return x[0];
    r[0] = p[2]; r[1] = p[0]; r[2] = dl_mul_scalar(ctx, p[1], 3.0f);
    return dl_concat(ctx, r, 3, c->ip[0]);
}

/* logistic regression, BCE written out: -mean(y log p + (1-y) log(1-p)), p = sigmoid(xw+b) */
static const float gc_y8[8] = {1.f, 0.f, 0.f, 1.f, 1.f, 0.f, 1.f, 0.f};
static dl_tensor *gc_logreg(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    dl_tensor *z = dl_add(ctx, dl_matmul(ctx, x[0], x[1]), x[2]);
    dl_tensor *p = dl_sigmoid(ctx, z);
    dl_tensor *y = dl_from_data(ctx, dl_shape2(8, 1), gc_y8);
    dl_tensor *y1 = dl_add_scalar(ctx, dl_neg(ctx, y), 1.0f);
    dl_tensor *ll = dl_add(ctx, dl_mul(ctx, y, dl_log(ctx, p)),
                           dl_mul(ctx, y1, dl_log(ctx, dl_add_scalar(ctx, dl_neg(ctx, p), 1.0f))));
    (void)n; (void)user;
    return dl_neg(ctx, dl_mean_all(ctx, ll));
}

/* the same loss in its stable form: mean(softplus(z) - y z) */
static dl_tensor *gc_logreg_stable(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    dl_tensor *z = dl_add(ctx, dl_matmul(ctx, x[0], x[1]), x[2]);
    dl_tensor *y = dl_from_data(ctx, dl_shape2(8, 1), gc_y8);
    (void)n; (void)user;
    return dl_mean_all(ctx, dl_sub(ctx, dl_softplus(ctx, z), dl_mul(ctx, y, z)));
}

/* f(x1, x2) = x2 e^x1 sqrt(x1 + x2 e^x1): t = x2 e^x1 is used twice (a DAG) */
static dl_tensor *gc_dag(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    dl_tensor *t = dl_mul(ctx, x[1], dl_exp(ctx, x[0]));
    (void)n; (void)user;
    return dl_mul(ctx, t, dl_sqrt(ctx, dl_add(ctx, x[0], t)));
}

/* two-layer MLP, cross-entropy: -mean(gather(log_softmax(tanh(x W1 + b1) W2 + b2), t)) */
static dl_tensor *gc_mlp(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    dl_tensor *t = ((gc_user *)user)->idx;
    dl_tensor *h = dl_tanh(ctx, dl_add(ctx, dl_matmul(ctx, x[0], x[1]), x[2]));
    dl_tensor *z = dl_add(ctx, dl_matmul_ex(ctx, h, x[3], DL_TRANS_B), x[4]);
    (void)n;
    return dl_neg(ctx, dl_mean_all(ctx, dl_gather(ctx, dl_log_softmax(ctx, z, 1), 1, t)));
}

/* Table rows are positional (valid C99 and C++11, no designated initializers):
   {name, fn, n, {shapes}, {init}, {lo}, {hi}, {ip}, {fp}, n_kink, {kink}, index shape, {index}}
   The GC_NO* macros fill the trailing fields a row does not use.                        */
#define GC_NOIP {0}
#define GC_NOFP {0.f}
#define GC_NOKINK 0, {0.f}
#define GC_NOIDX S0, {0}
#define GC_DEF {GC_U}, {0.f}, {0.f}      /* every input uniform in [-1, 1)            */
#define GC_TAIL GC_NOIP, GC_NOFP, GC_NOKINK, GC_NOIDX

#define GC_BIN1(op, tag, sa, sb, ia, ib, lob, hib) \
    {#op tag, gc_##op, 2, {sa, sb}, {ia, ib}, {0.f, lob}, {0.f, hib}, GC_TAIL}
#define GC_BIN(op, ia, ib, lob, hib) \
    GC_BIN1(op, " [3,4],[3,4]", S2(3, 4), S2(3, 4), ia, ib, lob, hib), \
    GC_BIN1(op, " bcast [3,4],[4]", S2(3, 4), S1(4), ia, ib, lob, hib), \
    GC_BIN1(op, " bcast [3,1],[1,4]", S2(3, 1), S2(1, 4), ia, ib, lob, hib), \
    GC_BIN1(op, " bcast [2,3,4],[3,1]", S3(2, 3, 4), S2(3, 1), ia, ib, lob, hib), \
    GC_BIN1(op, " bcast [],[5]", S0, S1(5), ia, ib, lob, hib), \
    GC_BIN1(op, " bcast [7],[1]", S1(7), S1(1), ia, ib, lob, hib)

#define GC_UN(op, init0, lo0, hi0) \
    {#op " [3,4]", gc_##op, 1, {S2(3, 4)}, {init0}, {lo0}, {hi0}, GC_TAIL}
/* one input, uniform in [lo, hi), int parameters */
#define GC_1(name, op, s, lo0, hi0, ...) \
    {name, gc_##op, 1, {s}, {GC_U}, {lo0}, {hi0}, {__VA_ARGS__}, GC_NOFP, GC_NOKINK, GC_NOIDX}
/* one input with distinct values (max reductions), int parameters */
#define GC_1D(name, op, s, ...) \
    {name, gc_##op, 1, {s}, {GC_DISTINCT}, {0.f}, {0.f}, {__VA_ARGS__}, GC_NOFP, GC_NOKINK, \
     GC_NOIDX}

static gc_case gc_cases[] = {
    GC_BIN(add, GC_U, GC_U, 0.f, 0.f),
    GC_BIN(sub, GC_U, GC_U, 0.f, 0.f),
    GC_BIN(mul, GC_U, GC_U, 0.f, 0.f),
    GC_BIN(div, GC_U, GC_AWAY, 0.5f, 2.0f),
    GC_BIN(minimum, GC_DISTINCT, GC_DISTINCT, 0.f, 0.f),
    GC_BIN(maximum, GC_DISTINCT, GC_DISTINCT, 0.f, 0.f),
    {"where [3,4],[3,4],[3,4]", gc_where, 3, {S2(3, 4), S2(3, 4), S2(3, 4)},
     {GC_COND, GC_U, GC_U}, {0.f}, {0.f}, GC_TAIL},
    {"where bcast [3,4],[4],[3,1]", gc_where, 3, {S2(3, 4), S1(4), S2(3, 1)},
     {GC_COND, GC_U, GC_U}, {0.f}, {0.f}, GC_TAIL},
    {"where bcast [3,1],[2,1,4],[]", gc_where, 3, {S2(3, 1), S3(2, 1, 4), S0},
     {GC_COND, GC_U, GC_U}, {0.f}, {0.f}, GC_TAIL},

    {"add_scalar 2.5 [3,4]", gc_add_scalar, 1, {S2(3, 4)}, GC_DEF, GC_NOIP, {2.5f}, GC_NOKINK,
     GC_NOIDX},
    {"mul_scalar -0.75 [3,4]", gc_mul_scalar, 1, {S2(3, 4)}, GC_DEF, GC_NOIP, {-0.75f},
     GC_NOKINK, GC_NOIDX},
    GC_UN(neg, GC_U, 0.f, 0.f),
    GC_UN(abs, GC_AWAY, 0.f, 0.f),
    GC_UN(sign, GC_AWAY, 0.f, 0.f),
    GC_UN(exp, GC_U, -2.f, 2.f),
    GC_UN(log, GC_U, 0.5f, 2.f),
    GC_UN(sqrt, GC_U, 0.5f, 2.f),
    GC_UN(square, GC_U, -2.f, 2.f),
    GC_UN(sin, GC_U, -3.f, 3.f),
    GC_UN(cos, GC_U, -3.f, 3.f),
    GC_UN(relu, GC_AWAY, 0.f, 0.f),
    GC_UN(sigmoid, GC_U, -4.f, 4.f),
    GC_UN(tanh, GC_U, -2.f, 2.f),
    GC_UN(softplus, GC_U, -4.f, 4.f),
    GC_UN(log_sigmoid, GC_U, -4.f, 4.f),
    {"pow 2.5 [3,4]", gc_pow, 1, {S2(3, 4)}, {GC_U}, {0.5f}, {2.f}, GC_NOIP, {2.5f}, GC_NOKINK,
     GC_NOIDX},
    {"pow -1.5 [3,4]", gc_pow, 1, {S2(3, 4)}, {GC_U}, {0.5f}, {2.f}, GC_NOIP, {-1.5f}, GC_NOKINK,
     GC_NOIDX},
    {"pow 3 [3,4]", gc_pow, 1, {S2(3, 4)}, {GC_U}, {0.5f}, {2.f}, GC_NOIP, {3.f}, GC_NOKINK,
     GC_NOIDX},
    {"clamp [-0.5,0.5] [4,5]", gc_clamp, 1, {S2(4, 5)}, {GC_U}, {-1.5f}, {1.5f}, GC_NOIP,
     {-0.5f, 0.5f}, 2, {-0.5f, 0.5f}, GC_NOIDX},

    {"matmul [3,4]@[4,5]", gc_matmul, 2, {S2(3, 4), S2(4, 5)}, GC_DEF, GC_TAIL},
    {"matmul [1,7]@[7,3]", gc_matmul, 2, {S2(1, 7), S2(7, 3)}, GC_DEF, GC_TAIL},
    {"matmul batched [2,3,4]@[2,4,5]", gc_matmul, 2, {S3(2, 3, 4), S3(2, 4, 5)}, GC_DEF, GC_TAIL},
    {"matmul_ex TRANS_A [4,3]@[4,5]", gc_matmul_ex, 2, {S2(4, 3), S2(4, 5)}, GC_DEF,
     {DL_TRANS_A}, GC_NOFP, GC_NOKINK, GC_NOIDX},
    {"matmul_ex TRANS_B [3,4]@[5,4]", gc_matmul_ex, 2, {S2(3, 4), S2(5, 4)}, GC_DEF,
     {DL_TRANS_B}, GC_NOFP, GC_NOKINK, GC_NOIDX},
    {"matmul_ex TRANS_A|TRANS_B [4,3]@[5,4]", gc_matmul_ex, 2, {S2(4, 3), S2(5, 4)}, GC_DEF,
     {DL_TRANS_A | DL_TRANS_B}, GC_NOFP, GC_NOKINK, GC_NOIDX},

    GC_1("sum axis=0 [3,4]", sum, S2(3, 4), 0.f, 0.f, 0, 0),
    GC_1("sum axis=-1 keepdim [2,3,4]", sum, S3(2, 3, 4), 0.f, 0.f, -1, 1),
    GC_1("sum_axes 0x5 [2,3,4]", sum_axes, S3(2, 3, 4), 0.f, 0.f, 5, 0),
    GC_1("sum_all [3,4]", sum_all, S2(3, 4), 0.f, 0.f, 0),
    GC_1("mean axis=1 [3,4]", mean, S2(3, 4), 0.f, 0.f, 1, 0),
    GC_1("mean axis=-3 keepdim [2,3,4]", mean, S3(2, 3, 4), 0.f, 0.f, -3, 1),
    GC_1("mean_axes 0x6 keepdim [2,3,4]", mean_axes, S3(2, 3, 4), 0.f, 0.f, 6, 1),
    GC_1("mean_all [3,4]", mean_all, S2(3, 4), 0.f, 0.f, 0),
    GC_1D("max axis=1 [3,4]", max, S2(3, 4), 1, 0),
    GC_1D("max axis=0 keepdim [2,3,4]", max, S3(2, 3, 4), 0, 1),
    GC_1D("max_axes 0x5 [2,3,4]", max_axes, S3(2, 3, 4), 5, 0),
    GC_1D("max_all [3,4]", max_all, S2(3, 4), 0),
    GC_1("var axis=1 correction=0 [3,4]", var, S2(3, 4), 0.f, 0.f, 1, 0, 0),
    GC_1("var axis=0 correction=1 keepdim [3,4]", var, S2(3, 4), 0.f, 0.f, 0, 1, 1),
    GC_1("var_axes 0x3 correction=1 [2,3,4]", var_axes, S3(2, 3, 4), 0.f, 0.f, 3, 1, 0),
    GC_1("logsumexp axis=1 [3,4]", logsumexp, S2(3, 4), -2.f, 2.f, 1, 0),
    GC_1("logsumexp axis=0 keepdim [2,3,4]", logsumexp, S3(2, 3, 4), -2.f, 2.f, 0, 1),
    GC_1("softmax axis=1 [3,4]", softmax, S2(3, 4), -2.f, 2.f, 1),
    GC_1("softmax axis=0 [2,3,4]", softmax, S3(2, 3, 4), -2.f, 2.f, 0),
    GC_1("log_softmax axis=-1 [3,4]", log_softmax, S2(3, 4), -2.f, 2.f, -1),
    GC_1("log_softmax axis=1 [2,3,4]", log_softmax, S3(2, 3, 4), -2.f, 2.f, 1),

    GC_1("reshape [2,3,4]->[4,-1]", reshape, S3(2, 3, 4), 0.f, 0.f, 4, -1),
    GC_1("flatten 1..2 [2,3,4,5]", flatten, S4(2, 3, 4, 5), 0.f, 0.f, 1, 2),
    GC_1("squeeze 1 [3,1,4]", squeeze, S3(3, 1, 4), 0.f, 0.f, 1),
    GC_1("unsqueeze 1 [3,4]", unsqueeze, S2(3, 4), 0.f, 0.f, 1),
    GC_1("transpose 0,2 [2,3,4]", transpose, S3(2, 3, 4), 0.f, 0.f, 0, 2),
    GC_1("permute 2,0,1 [2,3,4]", permute, S3(2, 3, 4), 0.f, 0.f, 2, 0, 1),
    GC_1("slice -7:-1:2 [10]", slice, S1(10), 0.f, 0.f, 0, -7, -1, 2),
    GC_1("slice axis=1 1:5:2 [4,6]", slice, S2(4, 6), 0.f, 0.f, 1, 1, 5, 2),
    GC_1("contiguous of transpose [3,4]", contiguous_t, S2(3, 4), 0.f, 0.f, 0, 1),
    GC_1("exp of a transposed view [2,3,4]", exp_tview, S3(2, 3, 4), 0.f, 0.f, 1, 2),
    {"concat axis=1 [2,3]+[2,1]+[2,2]", gc_concat, 3, {S2(2, 3), S2(2, 1), S2(2, 2)}, GC_DEF,
     {1}, GC_NOFP, GC_NOKINK, GC_NOIDX},
    {"stack axis=1 3x[2,3]", gc_stack, 3, {S2(2, 3), S2(2, 3), S2(2, 3)}, GC_DEF,
     {1}, GC_NOFP, GC_NOKINK, GC_NOIDX},
    GC_1("split axis=1 [2,3,1] of [3,6]", split, S2(3, 6), 0.f, 0.f, 1, 0, 2, 3, 1),
    {"index_select axis=0 repeated [5,3]", gc_index_select, 1, {S2(5, 3)}, GC_DEF, {0}, GC_NOFP,
     GC_NOKINK, S1(6), {4, 0, 4, 2, 4, 1}},
    {"gather axis=1 repeated [3,4]", gc_gather, 1, {S2(3, 4)}, GC_DEF, {1}, GC_NOFP, GC_NOKINK,
     S2(3, 3), {0, 0, 3, 1, 2, 1, 3, 3, 3}},

    {"graph logistic regression, BCE", gc_logreg, 3, {S2(8, 3), S2(3, 1), S1(1)}, GC_DEF, GC_TAIL},
    {"graph logistic regression, stable BCE", gc_logreg_stable, 3, {S2(8, 3), S2(3, 1), S1(1)},
     GC_DEF, GC_TAIL},
    {"graph DAG x2*e^x1*sqrt(x1 + x2*e^x1)", gc_dag, 2, {S1(3), S1(3)}, {GC_U, GC_U},
     {0.5f, 0.5f}, {1.5f, 1.5f}, GC_TAIL},
    {"graph mul(x, x)", gc_mul_same, 1, {S2(3, 4)}, GC_DEF, GC_TAIL},
    {"graph MLP cross-entropy", gc_mlp, 5, {S2(4, 3), S2(3, 5), S1(5), S2(3, 5), S1(3)}, GC_DEF,
     GC_NOIP, GC_NOFP, GC_NOKINK, S2(4, 1), {2, 0, 1, 2}},
};

/* fills the inputs of case c; returns how many elements dl_gradcheck should check */
static int64_t gc_make_inputs(dl_ctx *ctx, const gc_case *c, dl_tensor **x) {
    int64_t expect = 0, n_distinct = 0, k, pos = 0;
    float *grid = NULL;
    int i, j;
    for (i = 0; i < c->n; i++) {
        float lo = c->lo[i], hi = c->hi[i];
        int init = c->init[i];
        if (init == GC_AWAY && lo == 0.f && hi == 0.f) { lo = 0.2f; hi = 1.f; }
        if (lo == 0.f && hi == 0.f) { lo = -1.f; hi = 1.f; }
        x[i] = dl_uniform(ctx, c->s[i], lo, hi);
        if (dl_is_poison(x[i]) || !x[i]->data) return -1;
        if (init == GC_AWAY)
            for (k = 0; k < x[i]->numel; k++)
                if (dl_rand_u64(ctx) & 1) x[i]->data[k] = -x[i]->data[k];
        if (init == GC_COND)
            for (k = 0; k < x[i]->numel; k++)
                x[i]->data[k] = (dl_rand_u64(ctx) & 1) ? ((k & 2) ? -2.5f : 1.f) : 0.f;
        if (init == GC_DISTINCT) n_distinct += x[i]->numel;
        for (j = 0; j < c->n_kink; j++)
            for (k = 0; k < x[i]->numel; k++) {
                float d = x[i]->data[k] - c->kink[j];
                if (d < 0.05f && d > -0.05f)
                    x[i]->data[k] = c->kink[j] + (d < 0.f ? -0.05f : 0.05f);
            }
        if (init != GC_COND) {
            dl_requires_grad(ctx, x[i], 1);
            expect += x[i]->numel;
        }
    }
    if (n_distinct) { /* a shuffled grid (k - n/2) * 0.05: gaps >> the step h ~ 1e-3 */
        grid = (float *)malloc((size_t)n_distinct * sizeof *grid);
        if (!grid) return -1;
        for (k = 0; k < n_distinct; k++) grid[k] = (float)(k - n_distinct / 2) * 0.05f;
        for (k = n_distinct - 1; k > 0; k--) {
            int64_t r = (int64_t)(dl_rand_u64(ctx) % (uint64_t)(k + 1));
            float t = grid[k]; grid[k] = grid[r]; grid[r] = t;
        }
        for (i = 0; i < c->n; i++)
            if (c->init[i] == GC_DISTINCT)
                for (k = 0; k < x[i]->numel; k++) x[i]->data[k] = grid[pos++];
        free(grid);
    }
    return expect;
}

static void gc_run_case(dl_ctx *ctx, const gc_case *c) {
    dl_tensor *x[GC_MAX_IN];
    dl_gradcheck_result res;
    gc_user u;
    dl_status st;
    int64_t expect;
    dl_mark m = dl_ctx_mark(ctx);
    memset(&res, 0, sizeof res);
    u.c = c;
    u.idx = c->is.ndim ? dl_index_tensor(ctx, c->is, c->iv) : NULL;
    expect = gc_make_inputs(ctx, c, x);
    T_EXPECT(expect > 0, "could not build the inputs");
    if (expect > 0) {
        st = dl_gradcheck(ctx, c->fn, &u, x, c->n, NULL, &res);
        T_EXPECT(st == DL_STATUS_OK, "%s: %s", dl_status_name(st), dl_gradcheck_message(ctx));
        T_EXPECT(res.failed == 0,
                 "%lld of %lld failed; worst input %d [%lld]: analytic %.6g numeric %.6g",
                 (long long)res.failed, (long long)res.checked, res.worst_input,
                 (long long)res.worst_index, res.worst_analytic, res.worst_numeric);
        T_EXPECT(res.checked == expect, "checked %lld elements, want %lld",
                 (long long)res.checked, (long long)expect);
    }
    if (dl_ctx_status(ctx) != DL_STATUS_OK) {
        T_EXPECT(0, "context: %s: %s", dl_status_name(dl_ctx_status(ctx)), dl_ctx_message(ctx));
        dl_ctx_clear_error(ctx);
    }
    dl_ctx_rewind(ctx, m);
}

static dl_tensor *gc_exp_plain(dl_ctx *ctx, dl_tensor *const *x, int n, void *user) {
    (void)n; (void)user;
    return dl_exp(ctx, x[0]);
}

static void suite_gradcheck(void) {
    static char name[160];
    dl_ctx_desc d;
    dl_ctx *ctx;
    dl_mark m;
    size_t k;
    memset(&d, 0, sizeof d);
    d.memory_size = (size_t)16 << 20;
    d.seed = 12345;
    ctx = dl_ctx_init(&d);
    T_BEGIN("gradcheck context");
    T_EXPECT(ctx != NULL, "dl_ctx_init failed");
    T_END();
    if (!ctx) return;

    for (k = 0; k < sizeof gc_cases / sizeof gc_cases[0]; k++) {
        snprintf(name, sizeof name, "gradcheck %s", gc_cases[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue;
        gc_run_case(ctx, &gc_cases[k]);
        T_END();
    }

    /* x*x with the same tensor in both slots: the two contributions add up to 2x */
    T_BEGIN("gradcheck mul(x, x) gives 2x");
    {
        static const float xv[3] = {1.f, 2.f, -3.f}, ones[3] = {1.f, 1.f, 1.f};
        dl_tensor *x, *y;
        m = dl_ctx_mark(ctx);
        x = dl_from_data(ctx, dl_shape1(3), xv);
        dl_requires_grad(ctx, x, 1);
        y = dl_mul(ctx, x, x);
        T_EXPECT(dl_backward_with(ctx, y, ones) == DL_STATUS_OK, "backward: %s",
                 dl_ctx_message(ctx));
        T_EXPECT(x->grad && x->grad[0] == 2.f && x->grad[1] == 4.f && x->grad[2] == -6.f,
                 "grad %g %g %g, want 2 4 -6", x->grad ? (double)x->grad[0] : 0.0,
                 x->grad ? (double)x->grad[1] : 0.0, x->grad ? (double)x->grad[2] : 0.0);
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    /* negative test: with atol = rtol = 1e-12 the float32 central difference of exp near
       5 (f ~ 150, error ~ 1e-4 relative) cannot match: dl_gradcheck must say so, and
       leave the context's own error state alone */
    T_BEGIN("gradcheck negative: impossible tolerance fails");
    {
        dl_gradcheck_desc gd;
        dl_gradcheck_result res;
        dl_tensor *x;
        dl_status st;
        const char *msg;
        m = dl_ctx_mark(ctx);
        memset(&gd, 0, sizeof gd);
        memset(&res, 0, sizeof res);
        gd.atol = 1e-12;
        gd.rtol = 1e-12;
        x = dl_uniform(ctx, dl_shape2(3, 4), 4.9f, 5.1f);
        dl_requires_grad(ctx, x, 1);
        st = dl_gradcheck(ctx, gc_exp_plain, NULL, &x, 1, &gd, &res);
        msg = dl_gradcheck_message(ctx);
        T_EXPECT(st != DL_STATUS_OK, "gradcheck passed with atol = rtol = 1e-12");
        T_EXPECT(st == DL_STATUS_INVALID, "status %s, want DL_STATUS_INVALID", dl_status_name(st));
        T_EXPECT(res.failed > 0 && res.failed <= res.checked && res.checked == 12,
                 "failed %lld of %lld", (long long)res.failed, (long long)res.checked);
        T_EXPECT(res.max_abs_err > 0.0, "max_abs_err %g", res.max_abs_err);
        T_EXPECT(msg != NULL && msg[0] != '\0', "empty dl_gradcheck_message");
        T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "context error set: %s", dl_ctx_message(ctx));
        /* the same check with the default tolerances passes */
        st = dl_gradcheck(ctx, gc_exp_plain, NULL, &x, 1, NULL, &res);
        T_EXPECT(st == DL_STATUS_OK && res.failed == 0, "default tolerances: %s",
                 dl_gradcheck_message(ctx));
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m);
    }
    T_END();

    /* max_per_input samples so many elements per input */
    T_BEGIN("gradcheck max_per_input samples");
    {
        dl_gradcheck_desc gd;
        dl_gradcheck_result res;
        dl_tensor *x;
        dl_status st;
        m = dl_ctx_mark(ctx);
        memset(&gd, 0, sizeof gd);
        memset(&res, 0, sizeof res);
        gd.max_per_input = 5;
        x = dl_uniform(ctx, dl_shape2(17, 7), -1.f, 1.f);
        dl_requires_grad(ctx, x, 1);
        st = dl_gradcheck(ctx, gc_exp_plain, NULL, &x, 1, &gd, &res);
        T_EXPECT(st == DL_STATUS_OK, "%s", dl_gradcheck_message(ctx));
        T_EXPECT(res.checked == 5, "checked %lld, want 5", (long long)res.checked);
        dl_ctx_clear_error(ctx);
        dl_ctx_rewind(ctx, m);
    }
    T_END();
    dl_ctx_free(ctx);
}
