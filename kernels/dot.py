"""Dot product: out[0] += sum_i x[i] * y[i], a reduction with one loop-carried chain."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def dot(x: T["N"], y: T["N"], out: T[1]):
    """out[0] += sum_i x[i] * y[i], in index order."""
    for i in range(N):
        out[0] += x[i] * y[i]
