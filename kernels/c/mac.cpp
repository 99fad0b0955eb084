// MAC, c[i] += a[i] * b[i] for i in [0, n): unrollkit.kernels.mac (arguments a, b, c), its body
// expanded UNROLL times by a C++ template (unroll.hpp).
#include "unroll.hpp"

UK_KERNEL void UK_FN(uk_mac)(const real *__restrict__ a, const real *__restrict__ b,
                             real *__restrict__ c, long n)
{
    uk::for_unrolled<UNROLL>(n, [&](long i) { c[i] += a[i] * b[i]; });
}

extern "C" double UK_FN(uk_mac_time)(const real *a, const real *b, real *c, long n, long reps)
{
    return uk::timed(reps, [&] { UK_FN(uk_mac)(a, b, c, n); });
}
