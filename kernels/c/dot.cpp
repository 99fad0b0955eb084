// Dot product, out[0] += sum of x[i] * y[i] for i in [0, n): unrollkit.kernels.dot (arguments
// x, y, out), its body expanded UNROLL times by a C++ template (unroll.hpp). One accumulator,
// adds in index order, like the C variants and the kernel's Python loop.
#include "unroll.hpp"

UK_KERNEL void UK_FN(uk_dot)(const real *__restrict__ x, const real *__restrict__ y,
                             real *__restrict__ out, long n)
{
    real acc = out[0];
    uk::for_unrolled<UNROLL>(n, [&](long i) { acc += x[i] * y[i]; });
    out[0] = acc;
}

extern "C" double UK_FN(uk_dot_time)(const real *x, const real *y, real *out, long n, long reps)
{
    return uk::timed(reps, [&] { UK_FN(uk_dot)(x, y, out, n); });
}
