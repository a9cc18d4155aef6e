// harness.h: het's test harness. HET_CHECK records a failure and goes on;
// het_test_summary() prints "N passed, N failed" and gives the exit code.
#ifndef HET_TESTS_HARNESS_H
#define HET_TESTS_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int het_test_pass, het_test_fail;

#define HET_CHECK(cond, ...)                                                                           \
    do {                                                                                               \
        if (cond) {                                                                                    \
            het_test_pass++;                                                                           \
        } else {                                                                                       \
            het_test_fail++;                                                                           \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                             \
            fprintf(stderr, __VA_ARGS__);                                                              \
            fprintf(stderr, "\n");                                                                     \
        }                                                                                              \
    } while (0)

#define HET_CHECK_NEAR(a, b, tol, ...) HET_CHECK(fabs((double)(a) - (double)(b)) <= (tol), __VA_ARGS__)

static inline int het_test_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, het_test_pass, het_test_fail);
    return het_test_fail ? 1 : 0;
}

#endif
