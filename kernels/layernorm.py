"""Row-wise layer normalisation:
y[i, j] = (x[i, j] - mean_i) / sqrt(var_i + eps) * gamma[j] + beta[j].

The mean and the variance (two passes over the row, as numpy computes them) are scalars
carried across the ``j`` loops; ``uk.sqrt`` is MLIR's ``math.sqrt``. numpy's equivalent:
`layernorm_numpy`.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def layernorm(x: T["M", "N"], gamma: T["N"], beta: T["N"], eps: T, y: T["M", "N"]):
    """y[i, :] = (x[i, :] - mean) / sqrt(var + eps) * gamma + beta, each row's mean and variance
    computed in two passes."""
    for i in range(M):
        s = x[i, 0] * 0.0
        for j in range(N):
            s += x[i, j]
        mean = s / N
        v = s * 0.0
        for j in range(N):
            v += (x[i, j] - mean) ** 2
        rstd = 1.0 / uk.sqrt(v / N + eps)
        for j in range(N):
            y[i, j] = (x[i, j] - mean) * rstd * gamma[j] + beta[j]


def layernorm_numpy(x, gamma, beta, eps, y, tmp=None) -> None:
    """numpy's straightforward layer normalisation of the rows of ``x`` into ``y``, as fast as
    numpy goes with whole-array operations: every full-size result written into ``y`` or the
    preallocated ``tmp`` (shaped like ``x``; allocated when None), the variance from the
    centred rows (half the time of ``x.var`` plus temporaries, measured here)."""
    if tmp is None:
        tmp = np.empty_like(x)
    mean = x.mean(axis=1, keepdims=True)
    np.subtract(x, mean, out=tmp)
    np.multiply(tmp, tmp, out=y)
    rstd = y.mean(axis=1, keepdims=True)
    rstd += eps
    np.sqrt(rstd, out=rstd)
    np.divide(1.0, rstd, out=rstd)
    np.multiply(tmp, rstd, out=y)
    y *= gamma
    y += beta
