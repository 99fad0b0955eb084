"""Jacobi 1-D: a 3-point stencil, b[i] = (a[i-1] + a[i] + a[i+1]) / 3 (float types)."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def jacobi1d(a: T["N"], b: T["N"]):
    """b[i] = (a[i-1] + a[i] + a[i+1]) / 3 for the interior points; b[0] and b[N-1] are left as they
    are."""
    for i in range(1, N - 1):
        b[i] = (a[i - 1] + a[i] + a[i + 1]) / 3.0
