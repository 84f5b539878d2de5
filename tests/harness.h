/* tests/harness.h - the one test harness: cases of checks, a final "N passed, N failed".
   A case passes when none of its checks fail. Every suite is a static function in a
   tests/test_*.c file, all #included by tests/main.c (one translation unit).          */
#ifndef DL_TEST_HARNESS_H
#define DL_TEST_HARNESS_H
#include <stdio.h>
#include <string.h>
#include <math.h>

static int t_passed, t_failed, t_case_failures;
static const char *t_case = "";
static const char *t_filter; /* run only cases whose name contains this (argv[1]) */
static int t_skip_case;

#define T_BEGIN(name) \
    (t_case = (name), t_case_failures = 0, \
     t_skip_case = (t_filter && !strstr(t_case, t_filter)))
/* use as: if (T_BEGIN("x")) ... is not needed; a skipped case still runs its checks
   silently and is not counted. */
#define T_EXPECT(cond, ...) do { if (!(cond)) { \
        if (!t_skip_case && t_case_failures < 5) { \
            printf("FAIL [%s] %s:%d: ", t_case, __FILE__, __LINE__); \
            printf(__VA_ARGS__); printf("\n"); } \
        t_case_failures++; } } while (0)
#define T_END() do { if (!t_skip_case) { \
        if (t_case_failures) t_failed++; else t_passed++; } } while (0)

/* |a-b| <= atol + rtol*|b| elementwise; reports the first bad index. Returns 1 if close. */
static int t_allclose(const float *a, const float *b, long n, double atol, double rtol,
                      const char *what) {
    long i;
    for (i = 0; i < n; i++) {
        double x = (double)a[i], y = (double)b[i];
        int ok = (x == y) || (isnan(x) && isnan(y)) ||
                 (fabs(x - y) <= atol + rtol * fabs(y));
        if (!ok) {
            T_EXPECT(0, "%s: index %ld of %ld: got %.9g want %.9g", what, i, n, x, y);
            return 0;
        }
    }
    return 1;
}
#endif
