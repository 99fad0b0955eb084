"""PolyBench/C 4.2.1 linear-algebra/blas: gemm, gemver, gesummv, symm, syr2k, syrk, trmm.

Each kernel is the C kernel's loop nest as written (loop order, bounds, statements); the
data generators follow each ``init_array``; the references are numpy's BLAS-level equivalents.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .common import PolyBench, f64, grid

M, N, NI, NJ, NK = uk.sizes("M N NI NJ NK")


@uk.kernel
def gemm(alpha: T, beta: T, C: T[NI, NJ], A: T[NI, NK], B: T[NK, NJ]):
    """C := alpha A B + beta C."""
    for i in range(NI):
        for j in range(NJ):
            C[i, j] *= beta
        for k in range(NK):
            for j in range(NJ):
                C[i, j] += alpha * A[i, k] * B[k, j]


def gemm_init(s, dtype):
    """gemm's init_array."""
    ni, nj, nk = s["NI"], s["NJ"], s["NK"]
    i, j = grid(ni, nj)
    C = ((i * j + 1) % ni) / ni
    i, j = grid(ni, nk)
    A = (i * (j + 1) % nk) / nk
    i, j = grid(nk, nj)
    B = (i * (j + 2) % nj) / nj
    return [1.5, 1.2] + [x.astype(dtype) for x in (C, A, B)]


def gemm_ref(alpha, beta, C, A, B):
    """C := alpha A B + beta C."""
    C, A, B = f64(C, A, B)
    return {"C": alpha * A @ B + beta * C}


@uk.kernel
def gemver(alpha: T, beta: T, A: T[N, N], u1: T[N], v1: T[N], u2: T[N], v2: T[N], w: T[N],
           x: T[N], y: T[N], z: T[N]):
    """A := A + u1 v1' + u2 v2'; x := x + beta A' y + z; w := w + alpha A x."""
    for i in range(N):
        for j in range(N):
            A[i, j] = A[i, j] + u1[i] * v1[j] + u2[i] * v2[j]
    for i in range(N):
        for j in range(N):
            x[i] = x[i] + beta * A[j, i] * y[j]
    for i in range(N):
        x[i] = x[i] + z[i]
    for i in range(N):
        for j in range(N):
            w[i] = w[i] + alpha * A[i, j] * x[j]


def gemver_init(s, dtype):
    """gemver's init_array."""
    n = s["N"]
    i1 = np.arange(n, dtype=np.float64) + 1
    i, j = grid(n, n)
    A = (i * j % n) / n
    vecs = [np.arange(n, dtype=np.float64), i1 / n / 2, i1 / n / 4, i1 / n / 6,
            np.zeros(n), np.zeros(n), i1 / n / 8, i1 / n / 9]  # u1 u2 v1 v2 w x y z
    u1, u2, v1, v2, w, x, y, z = vecs
    return [1.5, 1.2] + [a.astype(dtype) for a in (A, u1, v1, u2, v2, w, x, y, z)]


def gemver_ref(alpha, beta, A, u1, v1, u2, v2, w, x, y, z):
    """The three updates with numpy's outer and matrix-vector products."""
    A, u1, v1, u2, v2, w, x, y, z = f64(A, u1, v1, u2, v2, w, x, y, z)
    A = A + np.outer(u1, v1) + np.outer(u2, v2)
    x = x + beta * A.T @ y + z
    return {"A": A, "x": x, "w": w + alpha * A @ x}


@uk.kernel
def gesummv(alpha: T, beta: T, A: T[N, N], B: T[N, N], tmp: T[N], x: T[N], y: T[N]):
    """y := alpha A x + beta B x (tmp := A x)."""
    for i in range(N):
        tmp[i] = 0.0
        y[i] = 0.0
        for j in range(N):
            tmp[i] = A[i, j] * x[j] + tmp[i]
            y[i] = B[i, j] * x[j] + y[i]
        y[i] = alpha * tmp[i] + beta * y[i]


def gesummv_init(s, dtype):
    """gesummv's init_array (tmp and y start at 0: the kernel writes them first)."""
    n = s["N"]
    i, j = grid(n, n)
    x = np.arange(n) % n / n
    A, B = ((i * j + 1) % n) / n, ((i * j + 2) % n) / n
    return [1.5, 1.2] + [a.astype(dtype) for a in (A, B, np.zeros(n), x, np.zeros(n))]


def gesummv_ref(alpha, beta, A, B, tmp, x, y):
    """Two matrix-vector products."""
    A, B, x = f64(A, B, x)
    return {"tmp": A @ x, "y": alpha * (A @ x) + beta * (B @ x)}


@uk.kernel
def symm(alpha: T, beta: T, C: T[M, N], A: T[M, M], B: T[M, N]):
    """C := alpha A B + beta C, A symmetric, stored in its lower triangle."""
    for i in range(M):
        for j in range(N):
            temp2 = 0.0
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = beta * C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2


def symm_init(s, dtype):
    """symm's init_array (A's upper triangle is -999: the kernel must not read it)."""
    m, n = s["M"], s["N"]
    i, j = grid(m, n)
    C, B = ((i + j) % 100) / m, ((n + i - j) % 100) / m
    i, j = grid(m, m)
    A = np.where(j <= i, ((i + j) % 100) / m, -999.0)
    return [1.5, 1.2] + [a.astype(dtype) for a in (C, A, B)]


def symm_ref(alpha, beta, C, A, B):
    """The symmetric matrix rebuilt from A's lower triangle, then a product."""
    C, A, B = f64(C, A, B)
    sym = np.tril(A) + np.tril(A, -1).T
    return {"C": alpha * sym @ B + beta * C}


@uk.kernel
def syr2k(alpha: T, beta: T, C: T[N, N], A: T[N, M], B: T[N, M]):
    """C := alpha A B' + alpha B A' + beta C, the lower triangle only."""
    for i in range(N):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(M):
            for j in range(i + 1):
                C[i, j] += A[j, k] * alpha * B[i, k] + B[j, k] * alpha * A[i, k]


def syr2k_init(s, dtype):
    """syr2k's init_array."""
    n, m = s["N"], s["M"]
    i, j = grid(n, m)
    A, B = ((i * j + 1) % n) / n, ((i * j + 2) % m) / m
    i, j = grid(n, n)
    C = ((i * j + 3) % n) / m
    return [1.5, 1.2] + [a.astype(dtype) for a in (C, A, B)]


def syr2k_ref(alpha, beta, C, A, B):
    """The full rank-2k update, kept on the lower triangle."""
    C, A, B = f64(C, A, B)
    full = alpha * (A @ B.T + B @ A.T) + beta * C
    return {"C": np.where(np.tri(len(C), dtype=bool), full, C)}


@uk.kernel
def syrk(alpha: T, beta: T, C: T[N, N], A: T[N, M]):
    """C := alpha A A' + beta C, the lower triangle only."""
    for i in range(N):
        for j in range(i + 1):
            C[i, j] *= beta
        for k in range(M):
            for j in range(i + 1):
                C[i, j] += alpha * A[i, k] * A[j, k]


def syrk_init(s, dtype):
    """syrk's init_array."""
    n, m = s["N"], s["M"]
    i, j = grid(n, m)
    A = ((i * j + 1) % n) / n
    i, j = grid(n, n)
    C = ((i * j + 2) % m) / m
    return [1.5, 1.2] + [a.astype(dtype) for a in (C, A)]


def syrk_ref(alpha, beta, C, A):
    """The full rank-k update, kept on the lower triangle."""
    C, A = f64(C, A)
    return {"C": np.where(np.tri(len(C), dtype=bool), alpha * A @ A.T + beta * C, C)}


@uk.kernel
def trmm(alpha: T, A: T[M, M], B: T[M, N]):
    """B := alpha A' B, A unit lower triangular (its diagonal is not read)."""
    for i in range(M):
        for j in range(N):
            for k in range(i + 1, M):
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]


def trmm_init(s, dtype):
    """trmm's init_array (A's upper triangle, unset in C, is 0 here)."""
    m, n = s["M"], s["N"]
    i, j = grid(m, m)
    A = np.where(j < i, ((i + j) % m) / m, np.where(i == j, 1.0, 0.0))
    i, j = grid(m, n)
    B = ((n + (i - j)) % n) / n
    return [1.5] + [a.astype(dtype) for a in (A, B)]


def trmm_ref(alpha, A, B):
    """B + (strictly lower A)' B, scaled (the unit diagonal is implicit)."""
    A, B = f64(A, B)
    return {"B": alpha * (B + np.tril(A, -1).T @ B)}


_SQUARE = {"SMALL": {"M": 60, "N": 80}, "MEDIUM": {"M": 200, "N": 240}}
KERNELS = {
    "gemm": PolyBench(gemm, gemm_ref, gemm_init,
                      {"SMALL": {"NI": 60, "NJ": 70, "NK": 80}, "MEDIUM": {"NI": 200, "NJ": 220, "NK": 240}}),
    "gemver": PolyBench(gemver, gemver_ref, gemver_init, {"SMALL": {"N": 400}, "MEDIUM": {"N": 2000}}),
    "gesummv": PolyBench(gesummv, gesummv_ref, gesummv_init, {"SMALL": {"N": 90}, "MEDIUM": {"N": 250}}),
    "symm": PolyBench(symm, symm_ref, symm_init, _SQUARE),
    "syr2k": PolyBench(syr2k, syr2k_ref, syr2k_init, _SQUARE),
    "syrk": PolyBench(syrk, syrk_ref, syrk_init, _SQUARE),
    "trmm": PolyBench(trmm, trmm_ref, trmm_init, _SQUARE),
}
