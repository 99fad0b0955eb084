// The cxx-template variant (the fourth way of unrolling: C++ compile-time expansion).
//
// uk::unrolled<N>(i, body) calls body(i), body(i + 1), ..., body(i + N - 1): a fold of the
// comma operator over std::make_index_sequence<N>, expanded by the C++ compiler's template
// instantiation before any optimisation runs (like MLIR's unroller, unlike a pragma, which asks
// the optimiser). uk::for_unrolled<N>(n, body) runs body(i) for i in [0, n): N copies per trip
// of the main loop, then a rolled remainder loop. The kernels (mac.cpp, dot.cpp, gemm.cpp) keep
// the C kernels' names and arguments behind extern "C", so unrollkit.cvariants loads them
// with the same cffi declarations, and the CMake build links them into the same table.
#ifndef UNROLLKIT_UNROLL_HPP
#define UNROLLKIT_UNROLL_HPP

#include <time.h>
#include <utility>

#ifndef REAL
#define REAL float
#endif
typedef REAL real;

#ifndef UNROLL
#error "the cxx-template variant needs -DUNROLL=N"
#endif
static_assert(UNROLL >= 1, "UNROLL must be at least 1");

// The symbol macros repeat unroll.h's (which this header cannot include: it requires a C
// variant): a header of its own, so that the cache key of a build, which hashes the one header
// and the source, covers every line the C++ build reads.
#define UK_CAT_(a, b) a##b
#define UK_CAT(a, b) UK_CAT_(a, b)
#ifndef UK_SYMBOL_SUFFIX
#define UK_SYMBOL_SUFFIX
#endif
#define UK_FN(name) UK_CAT(name, UK_SYMBOL_SUFFIX)

// out of line, so that the timing loop runs the very code a single call runs
#if defined(__clang__)
#define UK_KERNEL extern "C" __attribute__((noinline))
#else
#define UK_KERNEL extern "C" __attribute__((noinline, noclone))
#endif

namespace uk {

template <class Body, std::size_t... K>
inline __attribute__((always_inline)) void unrolled_(long i, Body &body, std::index_sequence<K...>)
{
    (body(i + static_cast<long>(K)), ...);
}

// body(i), ..., body(i + N - 1), expanded at compile time
template <long N, class Body>
inline __attribute__((always_inline)) void unrolled(long i, Body &body)
{
    unrolled_(i, body, std::make_index_sequence<static_cast<std::size_t>(N)>{});
}

// body(i) for i in [0, n): the main loop takes N copies per trip, the remainder one
template <long N, class Body>
inline __attribute__((always_inline)) void for_unrolled(long n, Body &&body)
{
    long i = 0;
    for (; i + N <= n; i += N)
        unrolled<N>(i, body);
    for (; i < n; ++i)
        body(i);
}

inline double seconds()
{
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// seconds for `reps` back-to-back calls of `call`; the barrier keeps each call's stores
template <class Call>
inline double timed(long reps, Call call)
{
    const double start = seconds();
    for (long r = 0; r < reps; ++r) {
        call();
        __asm__ __volatile__("" ::: "memory");
    }
    return seconds() - start;
}

}  // namespace uk

#endif  // UNROLLKIT_UNROLL_HPP
