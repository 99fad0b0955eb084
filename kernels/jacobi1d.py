"""Jacobi 1-D: a 3-point stencil, b[i] = (a[i-1] + a[i] + a[i+1]) / 3 (float types)."""
import unrollkit as uk
from unrollkit import T


@uk.kernel
def jacobi1d(a: T["N"], b: T["N"]):
    for i in range(1, N - 1):
        b[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
