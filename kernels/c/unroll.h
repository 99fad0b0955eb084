/* Shared machinery of the C unrolling variants (c-plain, c-pragma, c-manual, c-macro: the README's variant table).
 *
 * Layout: one source file per kernel (mac.c, dot.c, gemm.c) holds all four variants of that
 * kernel, chosen on the command line, so the variants of one kernel sit next to each other and
 * differ only where the unrolling differs. A translation unit is one point of the sweep:
 *
 *   -DREAL=float|double        element type (default float)
 *   -DUK_VARIANT_PLAIN | -DUK_VARIANT_PRAGMA | -DUK_VARIANT_MANUAL | -DUK_VARIANT_MACRO
 *   -DUNROLL=N                 the unroll factor (every variant but plain)
 *   -DUK_SYMBOL_SUFFIX=_x      appended to the exported names, so that a native program can link
 *                              many points of the sweep together (CMake); empty for the Python
 *                              build, where each shared object holds one point.
 *
 * Each kernel file exports two functions: the kernel, and a timing loop that calls it `reps`
 * times back to back and returns the elapsed seconds (clock_gettime), so callers measure the
 * kernel and not the cost of calling into C.
 */
#ifndef UNROLLKIT_UNROLL_H
#define UNROLLKIT_UNROLL_H

#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 199309L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#endif
#include <time.h>

#ifndef REAL
#define REAL float
#endif
typedef REAL real;

#if defined(UK_VARIANT_PLAIN) + defined(UK_VARIANT_PRAGMA) + defined(UK_VARIANT_MANUAL) \
    + defined(UK_VARIANT_MACRO) != 1
#error "define exactly one of UK_VARIANT_PLAIN, UK_VARIANT_PRAGMA, UK_VARIANT_MANUAL, UK_VARIANT_MACRO"
#endif

#if !defined(UK_VARIANT_PLAIN)
#ifndef UNROLL
#error "the pragma, manual and macro variants need -DUNROLL=N"
#endif
#if UNROLL < 1
#error "UNROLL must be at least 1"
#endif
#endif

#if defined(UK_VARIANT_MANUAL) && UNROLL != 1 && UNROLL != 2 && UNROLL != 4 && UNROLL != 8
#error "the manual variant is written out by hand for UNROLL = 1, 2, 4 and 8 only"
#endif

#define UK_CAT_(a, b) a##b
#define UK_CAT(a, b) UK_CAT_(a, b)
#ifndef UK_SYMBOL_SUFFIX
#define UK_SYMBOL_SUFFIX
#endif
/* UK_FN(uk_mac) is uk_mac, or uk_mac_pragma_f32_u4 with -DUK_SYMBOL_SUFFIX=_pragma_f32_u4 */
#define UK_FN(name) UK_CAT(name, UK_SYMBOL_SUFFIX)

/* The timing loop must run the very code a single call runs: keep the kernel out of line, and
 * stop the compiler from merging or dropping repetitions (each one reads and writes memory). */
#if defined(__clang__)
#define UK_KERNEL __attribute__((noinline))
#else
#define UK_KERNEL __attribute__((noinline, noclone))
#endif
#define UK_MEMORY_BARRIER() __asm__ __volatile__("" ::: "memory")

static inline double uk_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The body of a timing function: seconds for `reps` back-to-back evaluations of CALL. */
#define UK_TIMED_BODY(reps, CALL)                                       \
    const double uk_start_ = uk_seconds();                              \
    for (long uk_rep_ = 0; uk_rep_ < (reps); ++uk_rep_) {               \
        CALL;                                                           \
        UK_MEMORY_BARRIER();                                            \
    }                                                                   \
    return uk_seconds() - uk_start_;

/* ---- c-pragma: the loop stays rolled and the compiler is asked to unroll it by UNROLL.
 * clang also accepts the GCC spelling, but its own spelling is what a clang user writes. */
#define UK_PRAGMA_(text) _Pragma(#text)
#if defined(__clang__)
#define UK_UNROLL_PRAGMA(n) UK_PRAGMA_(clang loop unroll_count(n))
#else
#define UK_UNROLL_PRAGMA(n) UK_PRAGMA_(GCC unroll n)
#endif

/* ---- c-macro: UNROLL_N(i, n, BODY) runs BODY(i) for i in [0, n): the main loop steps by UNROLL
 * with BODY written out UNROLL times at offsets 0..UNROLL-1, then a remainder loop runs the last
 * n % UNROLL iterations. BODY is the name of a function-like macro of the index.
 *
 * The preprocessor cannot count, so UK_REPEAT builds the UNROLL copies from the binary digits
 * of UNROLL: bit b contributes 2^b copies starting at offset (UNROLL mod 2^b). Any UNROLL up to
 * 127 works, and every offset is an integer constant expression. */
#define UK_REP_1(B, i, o) B((i) + (o))
#define UK_REP_2(B, i, o) UK_REP_1(B, i, o) UK_REP_1(B, i, (o) + 1)
#define UK_REP_4(B, i, o) UK_REP_2(B, i, o) UK_REP_2(B, i, (o) + 2)
#define UK_REP_8(B, i, o) UK_REP_4(B, i, o) UK_REP_4(B, i, (o) + 4)
#define UK_REP_16(B, i, o) UK_REP_8(B, i, o) UK_REP_8(B, i, (o) + 8)
#define UK_REP_32(B, i, o) UK_REP_16(B, i, o) UK_REP_16(B, i, (o) + 16)
#define UK_REP_64(B, i, o) UK_REP_32(B, i, o) UK_REP_32(B, i, (o) + 32)

#if defined(UK_VARIANT_MACRO)
#if UNROLL > 127
#error "the macro variant expands at most 127 copies of the body"
#endif
#define UK_REP_IF_(on, copies, B, i) UK_CAT(UK_REP_IF_, on)(copies, B, i)
#define UK_REP_IF_0(copies, B, i)
#define UK_REP_IF_1(copies, B, i) UK_CAT(UK_REP_, copies)(B, i, UNROLL % copies)
/* (UNROLL >> b) & 1 is not a token the preprocessor can paste; these #if blocks turn it into one */
#if UNROLL & 1
#define UK_HAS_1 1
#else
#define UK_HAS_1 0
#endif
#if UNROLL & 2
#define UK_HAS_2 1
#else
#define UK_HAS_2 0
#endif
#if UNROLL & 4
#define UK_HAS_4 1
#else
#define UK_HAS_4 0
#endif
#if UNROLL & 8
#define UK_HAS_8 1
#else
#define UK_HAS_8 0
#endif
#if UNROLL & 16
#define UK_HAS_16 1
#else
#define UK_HAS_16 0
#endif
#if UNROLL & 32
#define UK_HAS_32 1
#else
#define UK_HAS_32 0
#endif
#if UNROLL & 64
#define UK_HAS_64 1
#else
#define UK_HAS_64 0
#endif
#define UK_REPEAT(B, i)                                                                     \
    UK_REP_IF_(UK_HAS_1, 1, B, i) UK_REP_IF_(UK_HAS_2, 2, B, i) UK_REP_IF_(UK_HAS_4, 4, B, i) \
    UK_REP_IF_(UK_HAS_8, 8, B, i) UK_REP_IF_(UK_HAS_16, 16, B, i)                           \
    UK_REP_IF_(UK_HAS_32, 32, B, i) UK_REP_IF_(UK_HAS_64, 64, B, i)

#define UNROLL_N(i, n, BODY)                                          \
    do {                                                              \
        const long uk_n_ = (n);                                       \
        const long uk_main_end_ = uk_n_ - uk_n_ % UNROLL;             \
        long i = 0;                                                   \
        for (; i < uk_main_end_; i += UNROLL) {                       \
            UK_REPEAT(BODY, i)                                        \
        }                                                             \
        for (; i < uk_n_; ++i) {                                      \
            BODY(i)                                                   \
        }                                                             \
    } while (0)
#endif /* UK_VARIANT_MACRO */

#endif /* UNROLLKIT_UNROLL_H */
