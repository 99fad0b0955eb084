/* MAC, c[i] += a[i] * b[i] for i in [0, n): unrollkit.kernels.mac (arguments a, b, c).
 * The four C variants; unroll.h says how one is selected. */
#include "unroll.h"

#define MAC_BODY(i) c[i] += a[i] * b[i];

UK_KERNEL void UK_FN(uk_mac)(const real *restrict a, const real *restrict b, real *restrict c,
                             long n)
{
#if defined(UK_VARIANT_PLAIN)
    for (long i = 0; i < n; ++i)
        MAC_BODY(i)
#elif defined(UK_VARIANT_PRAGMA)
    UK_UNROLL_PRAGMA(UNROLL)
    for (long i = 0; i < n; ++i)
        MAC_BODY(i)
#elif defined(UK_VARIANT_MACRO)
    UNROLL_N(i, n, MAC_BODY);
#elif defined(UK_VARIANT_MANUAL)
    /* written out by hand, as a programmer would; the remainder loop finishes the n % UNROLL */
    long i = 0;
#if UNROLL == 2
    for (; i + 1 < n; i += 2) {
        c[i] += a[i] * b[i];
        c[i + 1] += a[i + 1] * b[i + 1];
    }
#elif UNROLL == 4
    for (; i + 3 < n; i += 4) {
        c[i] += a[i] * b[i];
        c[i + 1] += a[i + 1] * b[i + 1];
        c[i + 2] += a[i + 2] * b[i + 2];
        c[i + 3] += a[i + 3] * b[i + 3];
    }
#elif UNROLL == 8
    for (; i + 7 < n; i += 8) {
        c[i] += a[i] * b[i];
        c[i + 1] += a[i + 1] * b[i + 1];
        c[i + 2] += a[i + 2] * b[i + 2];
        c[i + 3] += a[i + 3] * b[i + 3];
        c[i + 4] += a[i + 4] * b[i + 4];
        c[i + 5] += a[i + 5] * b[i + 5];
        c[i + 6] += a[i + 6] * b[i + 6];
        c[i + 7] += a[i + 7] * b[i + 7];
    }
#endif
    for (; i < n; ++i)
        c[i] += a[i] * b[i];
#endif
}

double UK_FN(uk_mac_time)(const real *a, const real *b, real *c, long n, long reps)
{
    UK_TIMED_BODY(reps, UK_FN(uk_mac)(a, b, c, n))
}
