"""Contractions written as a user would (issue 12): each one reaches the BLAS-style schedule of
`unrollkit.gemm_schedule` through `unrollkit.contraction.recognise` under ``factor="auto"``.

``NUMPY[name]`` is numpy's equivalent, in place on the same arguments (the bench's reference
and the tests' oracle); ``SHAPES[name]`` the arguments' shapes from the sizes.
"""
import numpy as np

import unrollkit as uk
from unrollkit import T


@uk.kernel
def gemm_bt(A: T["M", "K"], B: T["N", "K"], C: T["M", "N"]):
    """C += A @ B.T, the textbook i-j-k order (a dot product per element)."""
    for i in range(M):
        for j in range(N):
            for k in range(K):
                C[i, j] += A[i, k] * B[j, k]


@uk.kernel
def gemm_bt_ikj(A: T["M", "K"], B: T["N", "K"], C: T["M", "N"]):
    """C += A @ B.T in i-k-j order (B read down its columns)."""
    for i in range(M):
        for k in range(K):
            for j in range(N):
                C[i, j] += A[i, k] * B[j, k]


@uk.kernel
def gemm_at(A: T["K", "M"], B: T["K", "N"], C: T["M", "N"]):
    """C += A.T @ B, k outermost."""
    for k in range(K):
        for i in range(M):
            for j in range(N):
                C[i, j] += A[k, i] * B[k, j]


@uk.kernel
def gemm_ct(A: T["M", "K"], B: T["K", "N"], C: T["N", "M"]):
    """C += (A @ B).T: the unit-stride loop of C is i, so A is the columns' operand."""
    for j in range(N):
        for i in range(M):
            for k in range(K):
                C[j, i] += A[i, k] * B[k, j]


@uk.kernel
def gemm_renamed(X: T["M", "K"], Y: T["K", "N"], Z: T["M", "N"]):
    """C += A @ B with other names, in j-k-i order."""
    for q in range(N):
        for r in range(K):
            for p in range(M):
                Z[p, q] += X[p, r] * Y[r, q]


@uk.kernel
def batched_matmul(A: T["P", "M", "K"], B: T["P", "K", "N"], C: T["P", "M", "N"]):
    """C += A @ B for each of P matrices (``np.matmul`` on 3-D)."""
    for b in range(P):
        for i in range(M):
            for k in range(K):
                for j in range(N):
                    C[b, i, j] += A[b, i, k] * B[b, k, j]


@uk.kernel
def batched_shared_b(A: T["P", "M", "K"], B: T["K", "N"], C: T["P", "M", "N"]):
    """C[b] += A[b] @ B: the batch on one operand only."""
    for b in range(P):
        for i in range(M):
            for j in range(N):
                for k in range(K):
                    C[b, i, j] += A[b, i, k] * B[k, j]


@uk.kernel
def polybench_gemm(alpha: T, beta: T, C: T["M", "N"], A: T["M", "K"], B: T["K", "N"]):
    """PolyBench/C 4.2's gemm: C = alpha A B + beta C, the scaling inside the i loop."""
    for i in range(M):
        for j in range(N):
            C[i, j] *= beta
        for k in range(K):
            for j in range(N):
                C[i, j] += alpha * A[i, k] * B[k, j]


@uk.kernel
def gemm_scaled(alpha: T, beta: T, C: T["M", "N"], A: T["M", "K"], B: T["K", "N"]):
    """C = alpha A B + beta C with the scaling in its own nest, the product in i-j-k order."""
    for i in range(M):
        for j in range(N):
            C[i, j] *= beta
    for i in range(M):
        for j in range(N):
            for k in range(K):
                C[i, j] += alpha * A[i, k] * B[k, j]


@uk.kernel
def gemm_scaled_inner(alpha: T, beta: T, C: T["M", "N"], A: T["M", "K"], B: T["K", "N"]):
    """C = alpha A B + beta C, the scaling the first statement of the i/j nest."""
    for i in range(M):
        for j in range(N):
            C[i, j] *= beta
            for k in range(K):
                C[i, j] += alpha * A[i, k] * B[k, j]


def _scaled(alpha, beta, C, A, B):
    C *= beta
    C += alpha * (A @ B)


NUMPY = {
    "gemm_bt": lambda A, B, C: np.add(C, A @ B.T, out=C),
    "gemm_bt_ikj": lambda A, B, C: np.add(C, A @ B.T, out=C),
    "gemm_at": lambda A, B, C: np.add(C, A.T @ B, out=C),
    "gemm_ct": lambda A, B, C: np.add(C, (A @ B).T, out=C),
    "gemm_renamed": lambda A, B, C: np.add(C, A @ B, out=C),
    "batched_matmul": lambda A, B, C: np.add(C, np.matmul(A, B), out=C),
    "batched_shared_b": lambda A, B, C: np.add(C, np.matmul(A, B), out=C),
    "polybench_gemm": _scaled,
    "gemm_scaled": _scaled,
    "gemm_scaled_inner": _scaled,
}

_MK, _KN, _MN = ("M", "K"), ("K", "N"), ("M", "N")
SHAPES = {
    "gemm_bt": (_MK, ("N", "K"), _MN), "gemm_bt_ikj": (_MK, ("N", "K"), _MN),
    "gemm_at": (("K", "M"), _KN, _MN), "gemm_ct": (_MK, _KN, ("N", "M")),
    "gemm_renamed": (_MK, _KN, _MN),
    "batched_matmul": (("P",) + _MK, ("P",) + _KN, ("P",) + _MN),
    "batched_shared_b": (("P",) + _MK, _KN, ("P",) + _MN),
    "polybench_gemm": ((), (), _MN, _MK, _KN), "gemm_scaled": ((), (), _MN, _MK, _KN),
    "gemm_scaled_inner": ((), (), _MN, _MK, _KN),
}

ALL = {k.name: k for k in (gemm_bt, gemm_bt_ikj, gemm_at, gemm_ct, gemm_renamed, batched_matmul,
                           batched_shared_b, polybench_gemm, gemm_scaled, gemm_scaled_inner)}


def arguments(name: str, sizes: dict, dtype, seed: int = 0) -> list:
    """Random arguments of kernel ``name`` at ``sizes`` (scalars: alpha 1.5, beta 0.5, exact in
    every float type)."""
    rng = np.random.default_rng(seed)
    out, scalars = [], iter((1.5, 0.5))
    for shape in SHAPES[name]:
        if shape == ():
            out.append(next(scalars))  # a Python float (a numpy scalar takes a slower call path)
        else:
            out.append(rng.standard_normal(tuple(sizes[s] for s in shape)).astype(dtype))
    return out
