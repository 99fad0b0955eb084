"""Jacobi 1-D: a 3-point stencil, b[i] = (a[i-1] + a[i] + a[i+1]) / 3 (float types)."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def jacobi1d(a: T["N"], b: T["N"]):
    for i in range(1, N - 1):
        b[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
