// GEMM, C[M][N] += A[M][K] @ B[K][N] in i-k-j order: unrollkit.kernels.gemm (arguments A, B, C;
// row-major). The innermost j loop's body is expanded UNROLL times by a C++ template (unroll.hpp).
#include "unroll.hpp"

UK_KERNEL void UK_FN(uk_gemm)(const real *__restrict__ A, const real *__restrict__ B,
                              real *__restrict__ C, long M, long N, long K)
{
    for (long i = 0; i < M; ++i) {
        real *__restrict__ c = C + i * N;
        for (long k = 0; k < K; ++k) {
            const real a_ik = A[i * K + k];
            const real *__restrict__ b = B + k * N;
            uk::for_unrolled<UNROLL>(N, [&](long j) { c[j] += a_ik * b[j]; });
        }
    }
}

extern "C" double UK_FN(uk_gemm_time)(const real *A, const real *B, real *C, long M, long N, long K,
                                      long reps)
{
    return uk::timed(reps, [&] { UK_FN(uk_gemm)(A, B, C, M, N, K); });
}
