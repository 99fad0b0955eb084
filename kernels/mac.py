"""MAC: c[i] += a[i] * b[i], the streaming multiply-accumulate."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def mac(a: T["N"], b: T["N"], c: T["N"]):
    """c[i] += a[i] * b[i]: independent iterations, a streaming loop."""
    for i in range(N):
        c[i] += a[i] * b[i]
