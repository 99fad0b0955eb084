"""Triangular nests (PolyBench's syrk, syr2k, trmm shapes) unroll at every factor and any size.

The transformed-IR proof used to bound unrolled triangular loops loosely and fall back on an
enumeration capped at 200,000 points: at PolyBench MEDIUM/LARGE sizes it refused correct code
("a transformation produced this access ... please report"). The isl proof is exact and
symbolic, so size does not matter: the large sizes are compiled (proved) without running, and
results are checked against numpy at moderate sizes.
"""
import numpy as np
import pytest

import unrollkit as uk


@uk.kernel
def syrk(alpha: uk.f64, beta: uk.f64, C: uk.f64["N", "N"], A: uk.f64["N", "M"]):
    for i in range(N):  # noqa: F821
        for j0 in range(i + 1):
            C[i, j0] *= beta
        for k in range(M):  # noqa: F821
            for j in range(i + 1):
                C[i, j] += alpha * A[i, k] * A[j, k]


@uk.kernel
def syr2k(alpha: uk.f64, beta: uk.f64, C: uk.f64["N", "N"], A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
    for i in range(N):  # noqa: F821
        for j0 in range(i + 1):
            C[i, j0] *= beta
        for k in range(M):  # noqa: F821
            for j in range(i + 1):
                C[i, j] += A[j, k] * alpha * B[i, k] + B[j, k] * alpha * A[i, k]


@uk.kernel
def trmm(alpha: uk.f64, A: uk.f64["M", "M"], B: uk.f64["M", "N"]):
    for i in range(M):  # noqa: F821
        for j in range(N):  # noqa: F821
            for k in range(i + 1, M):  # noqa: F821
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]


def _args(name, n, m, rng=None):
    make = (lambda *s: rng.random(s)) if rng is not None else (lambda *s: np.zeros(s))
    if name == "trmm":
        return (1.5, make(m, m), make(m, n))
    if name == "syrk":
        return (1.5, 1.2, make(n, n), make(n, m))
    return (1.5, 1.2, make(n, n), make(n, m), make(n, m))


def _reference(name, args):
    if name == "trmm":
        alpha, A, B = args
        return alpha * (B + np.tril(A, -1).T @ B)  # A[k, i] for k > i: the strict lower part
    if name == "syrk":
        alpha, beta, C, A = args
        return np.where(np.tri(len(C), dtype=bool), beta * C + alpha * A @ A.T, C)
    alpha, beta, C, A, B = args
    return np.where(np.tri(len(C), dtype=bool), beta * C + alpha * (A @ B.T + B @ A.T), C)


KERNELS = {"syrk": syrk, "syr2k": syr2k, "trmm": trmm}


@pytest.mark.parametrize("factor", [2, 4, 8, 16])
@pytest.mark.parametrize("name", list(KERNELS))
def test_unrolled_triangular_nest_matches_numpy(name, factor):
    rng = np.random.default_rng(factor)
    args = _args(name, 37, 29, rng)
    want = _reference(name, tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args))
    uk.jit(KERNELS[name], factor=factor)(*args)
    out = args[-1] if name == "trmm" else args[2]
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, m", [(1200, 1000), (2000, 1600)])
@pytest.mark.parametrize("name", list(KERNELS))
def test_unrolled_triangular_nest_is_proved_at_polybench_sizes(name, n, m):
    # compiled (every access proved) without running; no budget, no enumeration
    for factor in (2, 4, 8, 16):
        ck = uk.jit(KERNELS[name], factor=factor).compiled(*_args(name, n, m))
        assert "affine.for" in ck.ir("transformed")
