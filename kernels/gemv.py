"""GEMV: y += A @ x, a reduction along j for every row i."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def gemv(A: T["M", "N"], x: T["N"], y: T["M"]):
    """y += A @ x: for every row i, a reduction over j into y[i]."""
    for i in range(M):
        for j in range(N):
            y[i] += A[i, j] * x[j]
