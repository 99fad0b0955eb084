"""GEMM: C += A @ B, i-k-j order (unit stride on the innermost j loop) by default."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T
from unrollkit.frontend.descriptor import permute


@uk.kernel
def gemm(A: T["M", "K"], B: T["K", "N"], C: T["M", "N"]):
    """C += A @ B in i-k-j order: the innermost loop j walks rows of B and C with unit stride."""
    for i in range(M):
        for k in range(K):
            for j in range(N):
                C[i, j] += A[i, k] * B[k, j]


def gemm_order(order: str = "ikj"):
    """GEMM with another loop order, e.g. ``gemm_order("ijk")`` (the textbook one)."""
    return gemm if order == "ikj" else permute(gemm, order)
