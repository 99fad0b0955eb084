"""numpy references and argument makers for the built-in kernels (shared by test files)."""
from __future__ import annotations

import numpy as np


def _arr(rng, shape, dt):
    if np.issubdtype(dt, np.integer):
        return rng.integers(-9, 10, shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def gemm_shape(n):
    """Uneven 2-D shapes from one size: M = n, K and N small and odd."""
    return n, (n % 13) + 3, (n % 29) + 5


def make_args(name, n, dt, seed=0):
    rng = np.random.default_rng(seed)
    if name == "mac":
        return [_arr(rng, n, dt) for _ in range(3)]
    if name == "dot":
        return [_arr(rng, n, dt), _arr(rng, n, dt), np.zeros(1, dt)]
    if name == "gemm" or name.startswith("gemm_"):
        m, k, nn = gemm_shape(n)
        return [_arr(rng, (m, k), dt), _arr(rng, (k, nn), dt), _arr(rng, (m, nn), dt)]
    if name == "gemv":
        m, k = n, (n % 17) + 2
        return [_arr(rng, (m, k), dt), _arr(rng, k, dt), _arr(rng, m, dt)]
    if name == "jacobi1d":
        return [_arr(rng, n, dt), np.zeros(n, dt)]
    if name == "iir":
        a = dt(0.5) if not np.issubdtype(dt, np.integer) else dt(3)
        return [a, _arr(rng, n, dt), _arr(rng, n, dt)]
    if name == "prefix_sum":
        return [_arr(rng, n, dt), _arr(rng, n, dt)]
    raise KeyError(name)


def reference(name, args):
    """The expected outputs (copies), computed by numpy in float64/int64 where it matters."""
    if name == "mac":
        a, b, c = args
        return [c + a * b]
    if name == "dot":
        x, y, out = args
        wide = np.int64 if np.issubdtype(x.dtype, np.integer) else np.float64
        return [(out + np.dot(x.astype(wide), y.astype(wide))).astype(x.dtype)]
    if name == "gemm" or name.startswith("gemm_"):
        A, B, C = args
        return [C + (A.astype(np.float64) @ B.astype(np.float64)).astype(C.dtype)] \
            if not np.issubdtype(A.dtype, np.integer) else [C + A @ B]
    if name == "gemv":
        A, x, y = args
        return [y + A @ x]
    if name == "jacobi1d":
        a, b = args
        out = b.copy()
        if len(a) > 2:
            out[1:-1] = (a[:-2] + a[1:-1] + a[2:]) / a.dtype.type(3)
        return [out]
    if name == "iir":
        a, x, y = args
        y = y.copy()
        with np.errstate(over="ignore"):  # int32 wraps, as in machine code
            for t in range(1, len(x)):
                y[t] = a * y[t - 1] + x[t]
        return [y]
    if name == "prefix_sum":
        x, y = args
        y = y.copy()
        if len(y):
            y[1:] = y[0] + np.cumsum(x[1:].astype(np.float64 if y.dtype.kind == "f" else np.int64))
        return [y.astype(x.dtype)]
    raise KeyError(name)


OUTPUTS = {"mac": [2], "dot": [2], "gemm": [2], "gemv": [2], "jacobi1d": [1], "iir": [2], "prefix_sum": [1]}


def tolerance(name, dt, n):
    if np.issubdtype(dt, np.integer):
        return dict(rtol=0, atol=0)
    eps = np.finfo(dt).eps
    # reductions and recurrences accumulate rounding over n terms in a different order
    return dict(rtol=max(1e-5, 64 * eps * max(n, 1) ** 0.5 * 8), atol=max(1e-5, 64 * eps * max(n, 1)))


def check_outputs(name, args, expected):
    for pos, exp in zip(OUTPUTS[name], expected):
        got = args[pos]
        n = max(got.size, 1)
        np.testing.assert_allclose(got, exp, **tolerance(name, got.dtype.type, n),
                                   err_msg=f"{name} output {pos}")
