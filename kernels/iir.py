"""Recurrences: every iteration needs the previous one's result (a latency-bound chain).

``iir``: y[t] = a * y[t-1] + x[t] (first-order IIR filter; y[0] is the initial state).
``prefix_sum``: y[t] = y[t-1] + x[t] (y[0] is the initial value).
"""
import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T


@uk.kernel
def iir(a: T, x: T["N"], y: T["N"]):
    """y[t] = a * y[t-1] + x[t] for t from 1 (y[0] is the initial state)."""
    for t in range(1, N):
        y[t] = a * y[t - 1] + x[t]


@uk.kernel
def prefix_sum(x: T["N"], y: T["N"]):
    """y[t] = y[t-1] + x[t] for t from 1 (y[0] is the initial value)."""
    for t in range(1, N):
        y[t] = y[t - 1] + x[t]
