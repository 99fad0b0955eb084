/* GEMM, C[M][N] += A[M][K] @ B[K][N] in i-k-j order: unrollkit.kernels.gemm (arguments A, B, C;
 * row-major). The unrolled loop is the innermost j loop, the unit-stride one.
 * The four C variants; unroll.h says how one is selected. */
#include "unroll.h"

#define GEMM_BODY(j) c[j] += a_ik * b[j];

UK_KERNEL void UK_FN(uk_gemm)(const real *restrict A, const real *restrict B, real *restrict C,
                              long M, long N, long K)
{
    for (long i = 0; i < M; ++i) {
        real *restrict c = C + i * N;
        for (long k = 0; k < K; ++k) {
            const real a_ik = A[i * K + k];
            const real *restrict b = B + k * N;
#if defined(UK_VARIANT_PLAIN)
            for (long j = 0; j < N; ++j)
                GEMM_BODY(j)
#elif defined(UK_VARIANT_PRAGMA)
            UK_UNROLL_PRAGMA(UNROLL)
            for (long j = 0; j < N; ++j)
                GEMM_BODY(j)
#elif defined(UK_VARIANT_MACRO)
            UNROLL_N(j, N, GEMM_BODY);
#elif defined(UK_VARIANT_MANUAL)
            long j = 0;
#if UNROLL == 2
            for (; j + 1 < N; j += 2) {
                c[j] += a_ik * b[j];
                c[j + 1] += a_ik * b[j + 1];
            }
#elif UNROLL == 4
            for (; j + 3 < N; j += 4) {
                c[j] += a_ik * b[j];
                c[j + 1] += a_ik * b[j + 1];
                c[j + 2] += a_ik * b[j + 2];
                c[j + 3] += a_ik * b[j + 3];
            }
#elif UNROLL == 8
            for (; j + 7 < N; j += 8) {
                c[j] += a_ik * b[j];
                c[j + 1] += a_ik * b[j + 1];
                c[j + 2] += a_ik * b[j + 2];
                c[j + 3] += a_ik * b[j + 3];
                c[j + 4] += a_ik * b[j + 4];
                c[j + 5] += a_ik * b[j + 5];
                c[j + 6] += a_ik * b[j + 6];
                c[j + 7] += a_ik * b[j + 7];
            }
#endif
            for (; j < N; ++j)
                c[j] += a_ik * b[j];
#endif
        }
    }
}

double UK_FN(uk_gemm_time)(const real *A, const real *B, real *C, long M, long N, long K,
                           long reps)
{
    UK_TIMED_BODY(reps, UK_FN(uk_gemm)(A, B, C, M, N, K))
}
