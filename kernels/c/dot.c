/* Dot product, out[0] += sum of x[i] * y[i] for i in [0, n): unrollkit.kernels.dot
 * (arguments x, y, out). The four C variants; unroll.h says how one is selected.
 *
 * Every variant keeps ONE accumulator and adds in index order, exactly like the kernel's Python
 * loop: unrolling alone does not break the loop-carried chain of adds (the multi-acc variant
 * exists for that), and the variants stay comparable — they compute the same sums in the same order. */
#include "unroll.h"

#define DOT_BODY(i) acc += x[i] * y[i];

UK_KERNEL void UK_FN(uk_dot)(const real *restrict x, const real *restrict y, real *restrict out,
                             long n)
{
    real acc = out[0];
#if defined(UK_VARIANT_PLAIN)
    for (long i = 0; i < n; ++i)
        DOT_BODY(i)
#elif defined(UK_VARIANT_PRAGMA)
    UK_UNROLL_PRAGMA(UNROLL)
    for (long i = 0; i < n; ++i)
        DOT_BODY(i)
#elif defined(UK_VARIANT_MACRO)
    UNROLL_N(i, n, DOT_BODY);
#elif defined(UK_VARIANT_MANUAL)
    long i = 0;
#if UNROLL == 2
    for (; i + 1 < n; i += 2) {
        acc += x[i] * y[i];
        acc += x[i + 1] * y[i + 1];
    }
#elif UNROLL == 4
    for (; i + 3 < n; i += 4) {
        acc += x[i] * y[i];
        acc += x[i + 1] * y[i + 1];
        acc += x[i + 2] * y[i + 2];
        acc += x[i + 3] * y[i + 3];
    }
#elif UNROLL == 8
    for (; i + 7 < n; i += 8) {
        acc += x[i] * y[i];
        acc += x[i + 1] * y[i + 1];
        acc += x[i + 2] * y[i + 2];
        acc += x[i + 3] * y[i + 3];
        acc += x[i + 4] * y[i + 4];
        acc += x[i + 5] * y[i + 5];
        acc += x[i + 6] * y[i + 6];
        acc += x[i + 7] * y[i + 7];
    }
#endif
    for (; i < n; ++i)
        acc += x[i] * y[i];
#endif
    out[0] = acc;
}

double UK_FN(uk_dot_time)(const real *x, const real *y, real *out, long n, long reps)
{
    UK_TIMED_BODY(reps, UK_FN(uk_dot)(x, y, out, n))
}
