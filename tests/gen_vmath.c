/* tests/gen_vmath.c - how the polynomial coefficients of dl.h's >>vmath kernels were made:
   interpolation at Chebyshev nodes (close to minimax), in long double, of
     exp:   (e^r - 1 - r) / r^2               on |r| <= ln2/2, degree 4 (E2..E6)
     tanh:  (tanh(x)/x - 1) / x^2 as P(x^2)    on |x| < 0.5,   degree 4 (T3..T11)
     log1p: (2 atanh(s)/s - 2) / s^2 as Q(s^2) on s <= 1/3,    degree 4 (L3..L11)
   printing each fit's max relative error over a dense grid (before float rounding).
   Build: cc -O1 tests/gen_vmath.c -o /tmp/gen_vmath -lm && /tmp/gen_vmath             */
#include <stdio.h>
#include <math.h>

#define PI_L 3.14159265358979323846L

/* Gauss-Jordan with partial pivoting on an n x n system, n <= 8 */
static void solve(int n, long double a[8][8], long double *b) {
    int i, r, c;
    for (i = 0; i < n; i++) {
        int p = i; long double t;
        for (r = i + 1; r < n; r++) if (fabsl(a[r][i]) > fabsl(a[p][i])) p = r;
        for (c = 0; c < n; c++) { t = a[i][c]; a[i][c] = a[p][c]; a[p][c] = t; }
        t = b[i]; b[i] = b[p]; b[p] = t;
        for (r = 0; r < n; r++) if (r != i) {
            long double f = a[r][i] / a[i][i];
            for (c = 0; c < n; c++) a[r][c] -= f * a[i][c];
            b[r] -= f * b[i];
        }
    }
    for (i = 0; i < n; i++) b[i] /= a[i][i];
}
/* c[0..d]: the degree-d polynomial through f at d+1 Chebyshev nodes of [lo, hi] */
static void fit(long double (*f)(long double), long double lo, long double hi, int d, long double *c) {
    long double a[8][8]; int k, j;
    for (k = 0; k <= d; k++) {
        long double t = (lo + hi) / 2 + (hi - lo) / 2 * cosl((2 * k + 1) * PI_L / (2 * (d + 1))), p = 1;
        for (j = 0; j <= d; j++) { a[k][j] = p; p *= t; }
        c[k] = f(t);
    }
    solve(d + 1, a, c);
}
static long double poly(const long double *c, int d, long double t) { long double q = 0; int j; for (j = d; j >= 0; j--) q = q * t + c[j]; return q; }
static long double q_exp(long double r) { return fabsl(r) < 1e-6L ? 0.5L + r / 6 : (expl(r) - 1 - r) / (r * r); }
static long double q_tanh(long double u) { long double x = sqrtl(u); return u < 1e-8L ? -1.0L / 3 : (tanhl(x) / x - 1) / u; }
static long double q_log(long double v) { long double s = sqrtl(v); return v < 1e-8L ? 2.0L / 3 : (2 * atanhl(s) / s - 2) / v; }
static void show(const char *name, const long double *c, int d, double err) {
    int j; printf("%s (max relative error %.3g):", name, err);
    for (j = 0; j <= d; j++) printf(" %.9e", (double)c[j]);
    printf("\n");
}
int main(void) {
    long double c[8], h = logl(2.0L) / 2, m; int i;
    fit(q_exp, -h, h, 4, c);
    for (m = 0, i = -20000; i <= 20000; i++) { long double r = h * i / 20000, e = fabsl((1 + r + r * r * poly(c, 4, r)) / expl(r) - 1); if (e > m) m = e; }
    show("exp   E2..E6 ", c, 4, (double)m);
    fit(q_tanh, 0, 0.25L, 4, c);
    for (m = 0, i = 1; i <= 20000; i++) { long double x = 0.5L * i / 20000, e = fabsl((x + x * x * x * poly(c, 4, x * x)) / tanhl(x) - 1); if (e > m) m = e; }
    show("tanh  T3..T11", c, 4, (double)m);
    fit(q_log, 0, 1.0L / 9, 4, c);
    for (m = 0, i = 1; i <= 20000; i++) { long double s = i / 60000.0L, e = fabsl((2 * s + s * s * s * poly(c, 4, s * s)) / (2 * atanhl(s)) - 1); if (e > m) m = e; }
    show("log1p L3..L11", c, 4, (double)m);
    return 0;
}
