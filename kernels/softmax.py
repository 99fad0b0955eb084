"""Row-wise softmax: y[i, :] = exp(x[i, :] - max x[i, :]) / sum exp(x[i, :] - max x[i, :]).

Written the natural way: the row maximum and the row sum are scalars carried across the
``j`` loops (``iter_args``), the exponential is ``uk.exp`` (MLIR ``math.exp``, vectorised as a
polynomial). The exponentials are a loop of their own, without the carried sum, so that LLVM
vectorises it (a loop that also carries a float sum is not: its order of additions is
kept). numpy's equivalent: `softmax_numpy`.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def softmax(x: T["M", "N"], y: T["M", "N"]):
    """y[i, :] = softmax(x[i, :]): the row maximum, the exponentials into y, their sum, then y
    scaled by its reciprocal."""
    for i in range(M):
        m = x[i, 0]
        for j in range(N):
            m = max(m, x[i, j])
        for j in range(N):
            y[i, j] = uk.exp(x[i, j] - m)
        s = x[i, 0] * 0.0
        for j in range(N):
            s += y[i, j]
        r = 1.0 / s
        for j in range(N):
            y[i, j] = y[i, j] * r


def softmax_numpy(x: np.ndarray, y: np.ndarray) -> None:
    """numpy's straightforward row-wise softmax of ``x`` into ``y`` (what the kernel computes),
    in place in ``y`` but for the per-row maxima and sums."""
    np.subtract(x, x.max(axis=1, keepdims=True), out=y)
    np.exp(y, out=y)
    s = y.sum(axis=1, keepdims=True)
    np.divide(1.0, s, out=s)
    y *= s
