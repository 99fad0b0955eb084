"""Dot product: out[0] += sum_i x[i] * y[i], a reduction with one loop-carried chain; and
`dot_scalar`, the same sum in a scalar accumulator, returned."""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def dot(x: T["N"], y: T["N"], out: T[1]):
    """out[0] += sum_i x[i] * y[i], in index order."""
    for i in range(N):
        out[0] += x[i] * y[i]


@uk.kernel
def dot_scalar(x: T["N"], y: T["N"]):
    """sum_i x[i] * y[i], returned: the natural spelling, a scalar accumulator carried by the
    loop (``iter_args``) instead of ``out[0]``; ``factor="auto"``, ``multi-acc`` and
    ``vector-acc`` treat it as they treat `dot`."""
    acc = 0.0
    for i in range(N):
        acc += x[i] * y[i]
    return acc
