/* ctest correctness suite of the C variants: every kernel x variant x factor in the registry
 * (one element type per executable) against a plain reference loop, at trip counts that are and
 * are not multiples of the factor, with guard cells after every output to catch a main or
 * remainder loop that runs past the end. Exit status 0 only if every check passed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry.h"

#define GUARD 16                 /* cells after each output that no kernel may touch */
#define GUARD_VALUE ((real)-12345.0)

static const long trip_counts[] = {0, 1, 7, 13, 64, 1027};
/* gemm shapes M, N, K: N is the unrolled trip count */
static const long gemm_shapes[][3] = {{0, 5, 3}, {3, 0, 2}, {2, 3, 0}, {1, 1, 1}, {7, 13, 5},
                                      {3, 1027, 2}, {13, 7, 1}, {5, 64, 9}};

/* Error bound of a sum of `terms` products in `real`, relative to the sum of their magnitudes
 * (the standard (terms + 1) * unit-roundoff bound, with slack for FMA contraction): tight enough
 * that a dropped or repeated term shows, loose enough that summation order does not. */
static long double tolerance(long terms)
{
    const long double eps = sizeof(real) == sizeof(float) ? 5.97e-8L : 1.12e-16L;
    return (long double)(terms + 2) * eps;
}

static unsigned long rng_state = 12345;
static real random_real(void)
{
    rng_state = rng_state * 6364136223846793005UL + 1442695040888963407UL;
    return (real)((double)(rng_state >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static real *random_array(long n)
{
    real *p = malloc(sizeof(real) * (size_t)(n + GUARD));
    for (long i = 0; i < n; ++i)
        p[i] = random_real();
    for (long i = n; i < n + GUARD; ++i)
        p[i] = GUARD_VALUE;
    return p;
}

static int failures = 0;

static void fail(const struct uk_entry *e, const char *what, const char *size, long at,
                 double got, double want)
{
    if (++failures <= 20)
        fprintf(stderr, "FAIL %s %s factor %d (" UK_STR(UK_DTYPE) "): %s at %s, index %ld: "
                "got %.17g, want %.17g\n", e->kernel, e->variant, e->factor, what, size, at, got, want);
}

/* out[0..count) against want[0..count) with per-element magnitudes scale[], then the guard */
static void compare(const struct uk_entry *e, const char *size, const real *out,
                    const long double *want, const long double *scale, long count, long terms)
{
    for (long i = 0; i < count; ++i)
        if (!(fabsl((long double)out[i] - want[i]) <= tolerance(terms) * scale[i])) /* NaN too */
            fail(e, "wrong value", size, i, (double)out[i], (double)want[i]);
    for (long i = count; i < count + GUARD; ++i)
        if (out[i] != GUARD_VALUE)
            fail(e, "wrote past the end", size, i, (double)out[i], (double)GUARD_VALUE);
}

static void check_vector(const struct uk_entry *e, long n)
{
    const int is_dot = strcmp(e->kernel, "dot") == 0;
    const long out_len = is_dot ? 1 : n;
    real *a = random_array(n), *b = random_array(n), *out = random_array(out_len);
    long double *want = malloc(sizeof(long double) * (size_t)(out_len + 1));
    long double *scale = malloc(sizeof(long double) * (size_t)(out_len + 1));
    if (is_dot) { /* out[0] += sum a[i] b[i] */
        want[0] = out[0];
        scale[0] = fabsl(want[0]);
        for (long i = 0; i < n; ++i) {
            want[0] += (long double)a[i] * b[i];
            scale[0] += fabsl((long double)a[i] * b[i]);
        }
    } else { /* c[i] += a[i] b[i] */
        for (long i = 0; i < n; ++i) {
            want[i] = out[i] + (long double)a[i] * b[i];
            scale[i] = fabsl((long double)out[i]) + fabsl((long double)a[i] * b[i]);
        }
    }
    e->vector(a, b, out, n);
    char size[32];
    snprintf(size, sizeof size, "n=%ld", n);
    compare(e, size, out, want, scale, out_len, is_dot ? n : 1);
    free(a), free(b), free(out), free(want), free(scale);
}

static void check_gemm(const struct uk_entry *e, long M, long N, long K)
{
    real *A = random_array(M * K), *B = random_array(K * N), *C = random_array(M * N);
    long double *want = malloc(sizeof(long double) * (size_t)(M * N + 1));
    long double *scale = malloc(sizeof(long double) * (size_t)(M * N + 1));
    for (long i = 0; i < M; ++i)
        for (long j = 0; j < N; ++j) {
            long double sum = C[i * N + j], mag = fabsl(sum);
            for (long k = 0; k < K; ++k) {
                sum += (long double)A[i * K + k] * B[k * N + j];
                mag += fabsl((long double)A[i * K + k] * B[k * N + j]);
            }
            want[i * N + j] = sum;
            scale[i * N + j] = mag;
        }
    e->gemm(A, B, C, M, N, K);
    char size[64];
    snprintf(size, sizeof size, "M=%ld N=%ld K=%ld", M, N, K);
    compare(e, size, C, want, scale, M * N, K);
    free(A), free(B), free(C), free(want), free(scale);
}

int main(void)
{
    long checks = 0;
    for (size_t x = 0; x < uk_entry_count; ++x) {
        const struct uk_entry *e = &uk_entries[x];
        if (e->vector) {
            for (size_t t = 0; t < sizeof trip_counts / sizeof trip_counts[0]; ++t, ++checks)
                check_vector(e, trip_counts[t]);
        } else {
            for (size_t s = 0; s < sizeof gemm_shapes / sizeof gemm_shapes[0]; ++s, ++checks)
                check_gemm(e, gemm_shapes[s][0], gemm_shapes[s][1], gemm_shapes[s][2]);
        }
    }
    printf("%s: %zu kernel variants, %ld checks, %d failures\n", UK_STR(UK_DTYPE), uk_entry_count,
           checks, failures);
    return failures == 0 && uk_entry_count > 0 ? 0 : 1;
}
