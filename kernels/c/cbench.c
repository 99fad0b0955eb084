/* unrollkit_cbench: the C variants of mac, dot and gemm timed natively, one table row per
 * (kernel, variant, factor), built by CMakeLists.txt from the same sources the Python side
 * compiles. Time per call is the median of several trials of a repeat loop timed inside the
 * kernel's own module (UK_TIMED_BODY in unroll.h); speedup is against c-plain.
 *
 *   unrollkit_cbench            the table at small sizes (about a second in all)
 *   unrollkit_cbench --quick    one short trial each: a smoke test that every entry runs
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

enum { VECTOR_N = 4096, GEMM_M = 64, GEMM_N = 64, GEMM_K = 64, TRIALS = 5 };

static int compare_doubles(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static real *filled(long n, real value)
{
    /* 64-byte aligned, so alignment does not differ between rows */
    real *p = aligned_alloc(64, ((sizeof(real) * (size_t)n + 63) / 64) * 64);
    for (long i = 0; i < n; ++i)
        p[i] = value;
    return p;
}

/* seconds per call: median over trials of (a timed repeat loop / reps) */
static double seconds_per_call(const struct uk_entry *e, real *a, real *b, real *c, long reps,
                               int trials)
{
    double per_call[TRIALS];
    for (int t = 0; t < trials; ++t) {
        const double s = e->vector ? e->vector_time(a, b, c, VECTOR_N, reps)
                                   : e->gemm_time(a, b, c, GEMM_M, GEMM_N, GEMM_K, reps);
        per_call[t] = s / (double)reps;
    }
    qsort(per_call, (size_t)trials, sizeof per_call[0], compare_doubles);
    return per_call[trials / 2];
}

int main(int argc, char **argv)
{
    const int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    if (argc > 1 && !quick) {
        fprintf(stderr, "usage: %s [--quick]\n", argv[0]);
        return 2;
    }
    const int trials = quick ? 1 : TRIALS;
    const long big = GEMM_M * GEMM_K > VECTOR_N ? GEMM_M * GEMM_K : VECTOR_N;
    /* small values, so that repeated accumulation stays finite */
    real *a = filled(big, (real)1e-3), *b = filled(big, (real)1e-3), *c = filled(big, 0);

    printf("%-6s %-7s %6s %12s %9s %8s   (" UK_STR(UK_DTYPE) ", mac/dot n=%d, gemm %dx%dx%d)\n",
           "kernel", "variant", "factor", "ns/call", "GFLOP/s", "speedup", VECTOR_N, GEMM_M,
           GEMM_N, GEMM_K);
    double plain_seconds = 0;
    for (size_t x = 0; x < uk_entry_count; ++x) {
        const struct uk_entry *e = &uk_entries[x];
        const double flops = e->vector ? 2.0 * VECTOR_N : 2.0 * GEMM_M * GEMM_N * GEMM_K;
        /* about 0.02 s of work per trial at 5 GFLOP/s; one call when quick */
        const long reps = quick ? 1 : (long)(1e8 / flops) + 1;
        seconds_per_call(e, a, b, c, reps, 1); /* warm-up: caches, page faults, frequency */
        const double s = seconds_per_call(e, a, b, c, reps, trials);
        if (strcmp(e->variant, "plain") == 0)
            plain_seconds = s; /* the registry lists each kernel's plain row first */
        printf("%-6s %-7s %6d %12.1f %9.2f %7.2fx\n", e->kernel, e->variant, e->factor, s * 1e9,
               flops / s * 1e-9, plain_seconds > 0 ? plain_seconds / s : 0.0);
    }
    free(a), free(b), free(c);
    return 0;
}
