/* tests/test_ref.c - every op, forward and backward, against PyTorch reference values.
   The values live in tests/ref_ops.h, written by tests/gen_ref.py (PyTorch 1.13, run once,
   committed), so this test needs no Python. Per case: build the inputs, run the op, compare
   the output, seed the backward pass with the recorded upstream gradient, compare the
   gradient of every float input. Then run the forward pass again without any gradient
   (no tape) and compare once more. One harness case per reference case: "ref <name>".  */
#include <stdlib.h>
#include "ref_ops.h"

/* ip[] / fp[] meaning per op (written by gen_ref.py):
     add_scalar, mul_scalar: fp[0] = c          pow: fp[0] = p      clamp: fp[0..1] = lo, hi
     matmul_ex: ip[0] = trans
     sum, mean, max, logsumexp, argmax: ip[0] = axis, ip[1] = keepdim
     *_axes: ip[0] = axis mask, ip[1] = keepdim   var: ip[0] = axis/mask, ip[1] = correction,
     ip[2] = keepdim                              softmax, log_softmax: ip[0] = axis
     reshape: ip[0] = ndim, ip[1..] = dims       flatten, transpose: ip[0..1]
     squeeze, unsqueeze, concat, stack, index_select, gather: ip[0] = axis
     permute: ip[0..ndim-1] = perm               slice: ip[0..3] = axis, start, end, step
     split: ip[0] = axis, ip[1] = n, ip[2..] = sizes       one_hot: ip[0] = num_classes   */
typedef int (*ref_fn)(dl_ctx *ctx, const ref_case *c, dl_tensor **x, dl_tensor **out);

#define REF_OP(nm, expr) \
    static int ref_op_##nm(dl_ctx *ctx, const ref_case *c, dl_tensor **x, dl_tensor **out) { \
        (void)c; (void)x; out[0] = (expr); return 1; }

REF_OP(add, dl_add(ctx, x[0], x[1]))
REF_OP(sub, dl_sub(ctx, x[0], x[1]))
REF_OP(mul, dl_mul(ctx, x[0], x[1]))
REF_OP(div, dl_div(ctx, x[0], x[1]))
REF_OP(minimum, dl_minimum(ctx, x[0], x[1]))
REF_OP(maximum, dl_maximum(ctx, x[0], x[1]))
REF_OP(where, dl_where(ctx, x[0], x[1], x[2]))
REF_OP(add_scalar, dl_add_scalar(ctx, x[0], c->fp[0]))
REF_OP(mul_scalar, dl_mul_scalar(ctx, x[0], c->fp[0]))
REF_OP(neg, dl_neg(ctx, x[0]))
REF_OP(abs, dl_abs(ctx, x[0]))
REF_OP(sign, dl_sign(ctx, x[0]))
REF_OP(exp, dl_exp(ctx, x[0]))
REF_OP(log, dl_log(ctx, x[0]))
REF_OP(sqrt, dl_sqrt(ctx, x[0]))
REF_OP(square, dl_square(ctx, x[0]))
REF_OP(pow, dl_pow(ctx, x[0], c->fp[0]))
REF_OP(sin, dl_sin(ctx, x[0]))
REF_OP(cos, dl_cos(ctx, x[0]))
REF_OP(clamp, dl_clamp(ctx, x[0], c->fp[0], c->fp[1]))
REF_OP(relu, dl_relu(ctx, x[0]))
REF_OP(sigmoid, dl_sigmoid(ctx, x[0]))
REF_OP(tanh, dl_tanh(ctx, x[0]))
REF_OP(softplus, dl_softplus(ctx, x[0]))
REF_OP(log_sigmoid, dl_log_sigmoid(ctx, x[0]))
REF_OP(matmul, dl_matmul(ctx, x[0], x[1]))
REF_OP(matmul_ex, dl_matmul_ex(ctx, x[0], x[1], c->ip[0]))
REF_OP(sum, dl_sum(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(sum_axes, dl_sum_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1]))
REF_OP(sum_all, dl_sum_all(ctx, x[0]))
REF_OP(mean, dl_mean(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(mean_axes, dl_mean_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1]))
REF_OP(mean_all, dl_mean_all(ctx, x[0]))
REF_OP(max, dl_max(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(max_axes, dl_max_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1]))
REF_OP(max_all, dl_max_all(ctx, x[0]))
REF_OP(var, dl_var(ctx, x[0], c->ip[0], c->ip[1], c->ip[2]))
REF_OP(var_axes, dl_var_axes(ctx, x[0], (unsigned)c->ip[0], c->ip[1], c->ip[2]))
REF_OP(argmax, dl_argmax(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(logsumexp, dl_logsumexp(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(softmax, dl_softmax(ctx, x[0], c->ip[0]))
REF_OP(log_softmax, dl_log_softmax(ctx, x[0], c->ip[0]))
REF_OP(flatten, dl_flatten(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(squeeze, dl_squeeze(ctx, x[0], c->ip[0]))
REF_OP(unsqueeze, dl_unsqueeze(ctx, x[0], c->ip[0]))
REF_OP(transpose, dl_transpose(ctx, x[0], c->ip[0], c->ip[1]))
REF_OP(contiguous_t, dl_contiguous(ctx, dl_transpose(ctx, x[0], c->ip[0], c->ip[1])))
REF_OP(permute, dl_permute(ctx, x[0], c->ip))
REF_OP(slice, dl_slice(ctx, x[0], c->ip[0], c->ip[1], c->ip[2], c->ip[3]))
REF_OP(concat, dl_concat(ctx, x, c->n_in, c->ip[0]))
REF_OP(stack, dl_stack(ctx, x, c->n_in, c->ip[0]))
REF_OP(index_select, dl_index_select(ctx, x[0], c->ip[0], x[1]))
REF_OP(gather, dl_gather(ctx, x[0], c->ip[0], x[1]))
REF_OP(one_hot, dl_one_hot(ctx, x[0], c->ip[0]))
/* ops applied to views: non-contiguous inputs */
REF_OP(add_tview, dl_add(ctx, dl_transpose(ctx, x[0], 0, 1), x[1]))
REF_OP(mul_sliceview, dl_mul(ctx, dl_slice(ctx, x[0], 0, 0, 8, 2), x[1]))
REF_OP(sum_tview, dl_sum(ctx, dl_transpose(ctx, x[0], 0, 1), 1, 0))
REF_OP(matmul_tview, dl_matmul(ctx, dl_transpose(ctx, x[0], 0, 1), x[1]))
REF_OP(softmax_tview, dl_softmax(ctx, dl_transpose(ctx, x[0], 0, 1), 1))

static int ref_op_exp_permview(dl_ctx *ctx, const ref_case *c, dl_tensor **x, dl_tensor **out) {
    static const int perm[3] = {2, 0, 1};
    (void)c;
    out[0] = dl_exp(ctx, dl_permute(ctx, x[0], perm));
    return 1;
}

static int ref_op_reshape(dl_ctx *ctx, const ref_case *c, dl_tensor **x, dl_tensor **out) {
    int64_t d[DL_MAX_DIMS] = {0};
    int i;
    for (i = 0; i < c->ip[0]; i++) d[i] = c->ip[1 + i];
    out[0] = dl_reshape(ctx, x[0], dl_shape_n(c->ip[0], d));
    return 1;
}

static int ref_op_split(dl_ctx *ctx, const ref_case *c, dl_tensor **x, dl_tensor **out) {
    int64_t sizes[6];
    int i, n = c->ip[1];
    for (i = 0; i < n; i++) sizes[i] = c->ip[2 + i];
    if (dl_split(ctx, x[0], c->ip[0], sizes, n, out) != DL_STATUS_OK) return 0;
    return n;
}

static const struct { const char *name; ref_fn fn; } ref_ops[] = {
#define REF_ENTRY(nm) { #nm, ref_op_##nm }
    REF_ENTRY(add), REF_ENTRY(sub), REF_ENTRY(mul), REF_ENTRY(div), REF_ENTRY(minimum),
    REF_ENTRY(maximum), REF_ENTRY(where), REF_ENTRY(add_scalar), REF_ENTRY(mul_scalar),
    REF_ENTRY(neg), REF_ENTRY(abs), REF_ENTRY(sign), REF_ENTRY(exp), REF_ENTRY(log),
    REF_ENTRY(sqrt), REF_ENTRY(square), REF_ENTRY(pow), REF_ENTRY(sin), REF_ENTRY(cos),
    REF_ENTRY(clamp), REF_ENTRY(relu), REF_ENTRY(sigmoid), REF_ENTRY(tanh),
    REF_ENTRY(softplus), REF_ENTRY(log_sigmoid), REF_ENTRY(matmul), REF_ENTRY(matmul_ex),
    REF_ENTRY(sum), REF_ENTRY(sum_axes), REF_ENTRY(sum_all), REF_ENTRY(mean),
    REF_ENTRY(mean_axes), REF_ENTRY(mean_all), REF_ENTRY(max), REF_ENTRY(max_axes),
    REF_ENTRY(max_all), REF_ENTRY(var), REF_ENTRY(var_axes), REF_ENTRY(argmax),
    REF_ENTRY(logsumexp), REF_ENTRY(softmax), REF_ENTRY(log_softmax), REF_ENTRY(reshape),
    REF_ENTRY(flatten), REF_ENTRY(squeeze), REF_ENTRY(unsqueeze), REF_ENTRY(transpose),
    REF_ENTRY(contiguous_t), REF_ENTRY(permute), REF_ENTRY(slice), REF_ENTRY(concat),
    REF_ENTRY(stack), REF_ENTRY(split), REF_ENTRY(index_select), REF_ENTRY(gather),
    REF_ENTRY(one_hot), REF_ENTRY(add_tview), REF_ENTRY(mul_sliceview),
    REF_ENTRY(exp_permview), REF_ENTRY(sum_tview), REF_ENTRY(matmul_tview),
    REF_ENTRY(softmax_tview)
#undef REF_ENTRY
};

static ref_fn ref_lookup(const char *op) {
    size_t i;
    for (i = 0; i < sizeof ref_ops / sizeof ref_ops[0]; i++)
        if (strcmp(ref_ops[i].name, op) == 0) return ref_ops[i].fn;
    return NULL;
}

static int64_t ref_numel(const ref_tensor *r) {
    int64_t n = 1;
    int i;
    for (i = 0; i < r->ndim; i++) n *= r->shape[i];
    return n;
}

static dl_shape ref_shape(const ref_tensor *r) { return dl_shape_n(r->ndim, r->shape); }

/* Tolerances. Default: atol 1e-5, rtol 1e-4 (the reference is float64 rounded once to
   float32; dl.h computes in float32, a few ulp per elementwise op). Matmuls and
   reductions over more than 64 elements sum in an order that legitimately differs from
   any other float32 implementation, and a sum that cancels to near zero loses its
   relative precision: atol 1e-4 there. Large-magnitude inputs (|x| = 1e4 stability
   cases) are covered by rtol: float32 spacing at 1e4 is ~1e-3 = 1e-7 relative.     */
static void ref_tolerance(const ref_case *c, double *atol, double *rtol) {
    int64_t n = c->n_in > 0 && !c->in[0].is_index ? ref_numel(&c->in[0]) : 0;
    *atol = 1e-5;
    *rtol = 1e-4;
    if (strncmp(c->op, "matmul", 6) == 0) *atol = 1e-4;
    if (n > 64 && (strncmp(c->op, "sum", 3) == 0 || strncmp(c->op, "mean", 4) == 0 ||
                   strncmp(c->op, "var", 3) == 0 || strcmp(c->op, "logsumexp") == 0 ||
                   strncmp(c->op, "softmax", 7) == 0 || strcmp(c->op, "log_softmax") == 0))
        *atol = 1e-4;
}

static dl_tensor *ref_make_input(dl_ctx *ctx, const ref_tensor *r, int with_grad) {
    dl_tensor *t = r->is_index ? dl_index_tensor(ctx, ref_shape(r), r->i)
                               : dl_from_data(ctx, ref_shape(r), r->f);
    if (with_grad && !r->is_index && r->grad) dl_requires_grad(ctx, t, 1);
    return t;
}

/* 1 when the context is OK; otherwise reports the message and clears the error */
static int ref_status_ok(dl_ctx *ctx, const char *when) {
    dl_status s = dl_ctx_status(ctx);
    if (s == DL_STATUS_OK) return 1;
    T_EXPECT(0, "%s: %s: %s", when, dl_status_name(s), dl_ctx_message(ctx));
    dl_ctx_clear_error(ctx);
    return 0;
}

static int ref_check_shape(const dl_tensor *t, const ref_tensor *r, const char *what) {
    int i, ok = t != NULL && t->ndim == r->ndim;
    for (i = 0; ok && i < r->ndim; i++) ok = t->shape[i] == r->shape[i];
    if (!ok) {
        char got[96] = "(null)", want[96];
        int k, len = 0;
        if (t) {
            len = snprintf(got, sizeof got, "[");
            for (k = 0; k < t->ndim && len < 80; k++)
                len += snprintf(got + len, sizeof got - (size_t)len, "%s%lld", k ? "," : "",
                                (long long)t->shape[k]);
            snprintf(got + len, sizeof got - (size_t)len, "]");
        }
        len = snprintf(want, sizeof want, "[");
        for (k = 0; k < r->ndim && len < 80; k++)
            len += snprintf(want + len, sizeof want - (size_t)len, "%s%lld", k ? "," : "",
                            (long long)r->shape[k]);
        snprintf(want + len, sizeof want - (size_t)len, "]");
        T_EXPECT(0, "%s: shape %s, want %s", what, got, want);
    }
    return ok;
}

static void ref_check_output(const dl_tensor *t, const ref_tensor *r, double atol, double rtol,
                             const char *what) {
    int64_t i, n = ref_numel(r);
    if (!ref_check_shape(t, r, what)) return;
    T_EXPECT(!dl_is_poison(t), "%s: poison tensor", what);
    if (r->is_index) {
        T_EXPECT(t->dtype == DL_I32, "%s: dtype %d, want DL_I32", what, (int)t->dtype);
        if (t->dtype != DL_I32) return;
        for (i = 0; i < n; i++) {
            int32_t got = dl_get_index(t, i);
            if (got != r->i[i]) {
                T_EXPECT(0, "%s: index %lld: got %d want %d", what, (long long)i, (int)got,
                         (int)r->i[i]);
                return;
            }
        }
    } else {
        float *buf;
        T_EXPECT(t->dtype == DL_F32, "%s: dtype %d, want DL_F32", what, (int)t->dtype);
        if (t->dtype != DL_F32) return;
        buf = (float *)malloc((size_t)n * sizeof *buf);
        if (!buf) { T_EXPECT(0, "out of host memory"); return; }
        dl_copy_to(t, buf);
        t_allclose(buf, r->f, (long)n, atol, rtol, what);
        free(buf);
    }
}

static void ref_run_case(dl_ctx *ctx, const ref_case *c) {
    dl_tensor *in[REF_MAX_IN], *out[REF_MAX_OUT];
    char what[64];
    double atol, rtol;
    int i, n_out, pass;
    ref_fn fn = ref_lookup(c->op);
    dl_mark m = dl_ctx_mark(ctx);

    T_EXPECT(fn != NULL, "no C dispatch for op \"%s\" (regenerate or extend ref_ops[])", c->op);
    if (!fn) return;
    ref_tolerance(c, &atol, &rtol);
    /* pass 0: with gradients (tape, backward); pass 1: forward only, no tape */
    for (pass = 0; pass < 2; pass++) {
        int with_grad = pass == 0 && c->backward;
        for (i = 0; i < c->n_in; i++) in[i] = ref_make_input(ctx, &c->in[i], with_grad);
        for (i = 0; i < REF_MAX_OUT; i++) out[i] = NULL;
        n_out = fn(ctx, c, in, out);
        if (!ref_status_ok(ctx, pass ? "forward (no grad)" : "forward")) break;
        T_EXPECT(n_out == c->n_out, "op gave %d outputs, want %d", n_out, c->n_out);
        if (n_out != c->n_out) break;
        for (i = 0; i < n_out; i++) {
            snprintf(what, sizeof what, "%soutput %d", pass ? "no-grad " : "", i);
            ref_check_output(out[i], &c->out[i], atol, rtol, what);
        }
        if (strcmp(c->op, "contiguous_t") == 0)
            T_EXPECT(dl_is_contiguous(out[0]), "dl_contiguous result is not contiguous");
        if (with_grad) {
            dl_status st;
            if (n_out == 1) {
                st = dl_backward_with(ctx, out[0], c->out[0].grad);
            } else { /* several outputs (split): loss = sum_k sum(out_k * dy_k) */
                dl_tensor *loss = NULL;
                for (i = 0; i < n_out; i++) {
                    dl_tensor *dy = dl_from_data(ctx, ref_shape(&c->out[i]), c->out[i].grad);
                    dl_tensor *term = dl_sum_all(ctx, dl_mul(ctx, out[i], dy));
                    loss = loss ? dl_add(ctx, loss, term) : term;
                }
                st = dl_backward(ctx, loss);
            }
            T_EXPECT(st == DL_STATUS_OK, "backward returned %s", dl_status_name(st));
            if (!ref_status_ok(ctx, "backward")) break;
            for (i = 0; i < c->n_in; i++) {
                const ref_tensor *r = &c->in[i];
                if (r->is_index || !r->grad) continue;
                snprintf(what, sizeof what, "grad of input %d", i);
                T_EXPECT(in[i]->grad != NULL, "%s: NULL", what);
                if (in[i]->grad)
                    t_allclose(in[i]->grad, r->grad, (long)ref_numel(r), atol, rtol, what);
            }
        }
        /* ops never write to their inputs */
        for (i = 0; i < c->n_in; i++) {
            const ref_tensor *r = &c->in[i];
            if (r->is_index) continue;
            snprintf(what, sizeof what, "input %d after the op", i);
            ref_check_output(in[i], r, 0.0, 0.0, what);
        }
        ref_status_ok(ctx, "end of case");
        dl_ctx_rewind(ctx, m);
    }
    dl_ctx_rewind(ctx, m);
}

static void suite_ref(void) {
    static char name[192];
    dl_ctx_desc d;
    dl_ctx *ctx;
    size_t used0;
    int k;
    memset(&d, 0, sizeof d);
    d.memory_size = (size_t)64 << 20; /* one DL_MALLOC'd arena for the whole suite */
    ctx = dl_ctx_init(&d);
    T_BEGIN("ref context");
    T_EXPECT(ctx != NULL, "dl_ctx_init failed");
    T_END();
    if (!ctx) return;
    used0 = dl_ctx_used_bytes(ctx);
    for (k = 0; k < REF_N_CASES; k++) {
        snprintf(name, sizeof name, "ref %s", ref_cases[k].name);
        T_BEGIN(name);
        if (t_skip_case) continue; /* filtered out: not run, not counted */
        ref_run_case(ctx, &ref_cases[k]);
        T_END();
    }
    T_BEGIN("ref arena rewound");
    T_EXPECT(dl_ctx_status(ctx) == DL_STATUS_OK, "%s", dl_ctx_message(ctx));
    T_EXPECT(dl_ctx_used_bytes(ctx) == used0, "used %lu bytes, %lu before the cases",
             (unsigned long)dl_ctx_used_bytes(ctx), (unsigned long)used0);
    T_END();
    dl_ctx_free(ctx);
}
