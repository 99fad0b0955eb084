"""Contractions written as a user would (issue 12): each one reaches the BLAS-style schedule of
`unrollkit.tuning.gemm_schedule` through `unrollkit.tuning.contraction.recognise` under ``factor="auto"``.

``NUMPY[name]`` is numpy's equivalent, in place on the same arguments (the bench's reference
and the tests' oracle); ``SHAPES[name]`` the arguments' shapes from the sizes.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .polybench.blas import syr2k, syrk  # triangular rank-k updates, PolyBench's loops (tuning/triangular.py)
from .polybench.blas import trmm  # triangular product in place, PolyBench's loops (tuning/triangular_trmm.py)
from .polybench.blas import symm  # symmetric product, PolyBench's loops (tuning/triangular_symm.py)


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


@uk.kernel
def polybench_2mm(alpha: T, beta: T, tmp: T["M", "N"], A: T["M", "K"], B: T["K", "N"],
                  C: T["N", "L"], D: T["M", "L"]):
    """PolyBench/C 4.2's 2mm: D = alpha A B C + beta D, through tmp = alpha A B."""
    for i in range(M):
        for j in range(N):
            tmp[i, j] = 0.0
            for k in range(K):
                tmp[i, j] += alpha * A[i, k] * B[k, j]
    for i in range(M):
        for j in range(L):
            D[i, j] *= beta
            for k in range(N):
                D[i, j] += tmp[i, k] * C[k, j]


@uk.kernel
def polybench_3mm(E: T["M", "N"], A: T["M", "K"], B: T["K", "N"], F: T["N", "L"],
                  C: T["N", "P"], D: T["P", "L"], G: T["M", "L"]):
    """PolyBench/C 4.2's 3mm: G = (A B) (C D) through E = A B and F = C D."""
    for i in range(M):
        for j in range(N):
            E[i, j] = 0.0
            for k in range(K):
                E[i, j] += A[i, k] * B[k, j]
    for i in range(N):
        for j in range(L):
            F[i, j] = 0.0
            for k in range(P):
                F[i, j] += C[i, k] * D[k, j]
    for i in range(M):
        for j in range(L):
            G[i, j] = 0.0
            for k in range(N):
                G[i, j] += E[i, k] * F[k, j]


@uk.kernel
def doitgen(A: T["P", "M", "K"], C4: T["K", "N"], out: T["P", "M", "N"]):
    """PolyBench's doitgen as the contraction it computes, out[r] += A[r] @ C4 (its faithful
    form, through a ``sum`` array, is kernels/polybench's): two M-like loops r and q."""
    for r in range(P):
        for q in range(M):
            for p in range(N):
                for s in range(K):
                    out[r, q, p] += A[r, q, s] * C4[s, p]


@uk.kernel
def conv2d_1x1(W: T["M", "K"], I: T["P", "K", "H", "N"], O: T["P", "M", "H", "N"]):
    """A 1×1 convolution, NCHW (P images, K channels in, M out, H×N pixels): O[n] += W @ I[n]
    with the pixels (h, w) two N-like loops, coalesced into one column loop."""
    for n in range(P):
        for co in range(M):
            for h in range(H):
                for w in range(N):
                    for ci in range(K):
                        O[n, co, h, w] += W[co, ci] * I[n, ci, h, w]


@uk.kernel
def conv2d_3x3(W: T["M", "K", 3, 3], I: T["P", "K", "HI", "NI"], O: T["P", "M", "H", "N"]):
    """A 3×3 convolution, NCHW, no padding (I has H + 2 rows of N + 2 pixels): the reduction
    is (channel, kernel row, kernel column), I's subscripts pixel + tap."""
    for n in range(P):
        for co in range(M):
            for h in range(H):
                for w in range(N):
                    for ci in range(K):
                        for kh in range(3):
                            for kw in range(3):
                                O[n, co, h, w] += W[co, ci, kh, kw] * I[n, ci, h + kh, w + kw]


_SCRATCH = {}


def _scratch(what: str, shape: tuple, dtype) -> np.ndarray:
    """A buffer kept between calls (numpy's im2col and product, preallocated as a careful
    numpy user would)."""
    key = (what, shape, np.dtype(dtype))
    if key not in _SCRATCH:
        if len(_SCRATCH) > 8:  # a few shapes at a time (the bench's, the tests')
            _SCRATCH.clear()
        _SCRATCH[key] = np.empty(shape, dtype)
    return _SCRATCH[key]


def _conv3x3(W, I, O):
    """im2col (a copy of the 3×3 windows into a preallocated buffer), then one ``@`` per image."""
    p, m, h, n = O.shape
    k = I.shape[1]
    cols = _scratch("cols", (k, 3, 3, h, n), O.dtype)
    prod = _scratch("prod", (m, h * n), O.dtype)
    for b in range(p):
        windows = np.lib.stride_tricks.sliding_window_view(I[b], (3, 3), axis=(1, 2))  # k, h, n, 3, 3
        np.copyto(cols, windows.transpose(0, 3, 4, 1, 2))
        np.matmul(W.reshape(m, k * 9), cols.reshape(k * 9, h * n), out=prod)
        O[b] += prod.reshape(m, h, n)


def _conv1x1(W, I, O):
    p, k, h, n = I.shape
    _accumulate(_view(O, (p, W.shape[0], h * n)), W, I.reshape(p, k, h * n))


def _view(a: np.ndarray, shape: tuple) -> np.ndarray:
    """``a`` reshaped without a copy (an error rather than a result written into a copy)."""
    v = a.view()
    v.shape = shape  # (raises AttributeError when only a copy could have this shape)
    return v


def _product(what: str, a, b, dtype) -> np.ndarray:
    """``a @ b`` into a buffer kept between calls (a preallocated output, as the kernel has)."""
    out = _scratch(what, np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1]), dtype)
    return np.matmul(a, b, out=out)


def _accumulate(C, a, b, alpha=None):
    """``C += alpha · (a @ b)`` in place, the product into a preallocated buffer."""
    prod = _product("acc", a, b, C.dtype)
    if alpha is not None:
        prod *= alpha
    np.add(C, prod, out=C)


def _2mm(alpha, beta, tmp, A, B, C, D):
    np.matmul(A, B, out=tmp)
    tmp *= alpha
    D *= beta
    _accumulate(D, tmp, C)


def _3mm(E, A, B, F, C, D, G):
    np.matmul(A, B, out=E)
    np.matmul(C, D, out=F)
    np.matmul(E, F, out=G)


def _scaled(alpha, beta, C, A, B):
    C *= beta
    _accumulate(C, A, B, alpha)


def _doitgen(A, C4, out):
    """``np.tensordot(A, C4, axes=([2], [0]))`` added to ``out``: the same BLAS call on A's rows
    (tensordot reshapes A to (R·Q) × S and multiplies), its product preallocated."""
    r, q, s = A.shape
    _accumulate(_view(out, (r * q, out.shape[-1])), A.reshape(r * q, s), C4)


def _syrk(alpha, beta, C, A):
    """numpy's full ``A @ A.T`` (into a preallocated buffer: numpy hands this product of an
    array and its own transpose to BLAS's syrk), scaled into C's lower triangle in place."""
    n = len(C)
    prod = _scratch("syrk", (n, n), C.dtype)
    np.matmul(A, A.T, out=prod)
    _update_lower(alpha, beta, C, prod)


def _syr2k(alpha, beta, C, A, B):
    """numpy's two full products ``A @ B.T`` and ``B @ A.T`` (into preallocated buffers),
    summed and scaled into C's lower triangle in place."""
    n = len(C)
    prod, other = _scratch("syr2k", (n, n), C.dtype), _scratch("syr2k'", (n, n), C.dtype)
    np.matmul(A, B.T, out=prod)
    np.matmul(B, A.T, out=other)
    prod += other
    _update_lower(alpha, beta, C, prod)


def _trmm(alpha, A, B):
    """numpy's full ``A.T @ B`` (into a preallocated buffer; `arguments` makes A's diagonal and
    upper triangle zero, so it is the strict lower triangle's product at the full product's
    cost), added into B and scaled in place."""
    prod = _scratch("trmm", B.shape, B.dtype)
    np.matmul(A.T, B, out=prod)
    B += prod
    B *= alpha


def _symm(alpha, beta, C, A, B):
    """numpy's full ``A @ B`` (into a preallocated buffer; `arguments` makes A symmetric, so
    it is the product with the matrix symm rebuilds from A's lower triangle), then
    ``C = beta C + alpha prod`` in place."""
    prod = _scratch("symm", C.shape, C.dtype)
    np.matmul(A, B, out=prod)
    prod *= alpha
    C *= beta
    C += prod


def _update_lower(alpha, beta, C, prod):
    """C = beta C + alpha prod on C's lower triangle, in place (no temporary arrays)."""
    low = _lower(len(C))
    prod *= alpha
    np.multiply(C, beta, out=C, where=low)
    np.add(C, prod, out=C, where=low)


def _lower(n: int) -> np.ndarray:
    """The lower triangle's mask (diagonal included), made once per size."""
    if ("tri", n) not in _SCRATCH:
        _SCRATCH["tri", n] = np.tri(n, dtype=bool)
    return _SCRATCH["tri", n]


#: every product into a preallocated buffer (`_accumulate`): numpy timed as the kernels are
NUMPY = {
    "gemm_bt": lambda A, B, C: _accumulate(C, A, B.T),
    "gemm_bt_ikj": lambda A, B, C: _accumulate(C, A, B.T),
    "gemm_at": lambda A, B, C: _accumulate(C, A.T, B),
    "gemm_ct": lambda A, B, C: _accumulate(C, B.T, A.T),  # (A @ B).T as the one BLAS call
    "gemm_renamed": lambda A, B, C: _accumulate(C, A, B),
    "batched_matmul": lambda A, B, C: _accumulate(C, A, B),
    "batched_shared_b": lambda A, B, C: _accumulate(C, A, B),
    "polybench_gemm": _scaled,
    "gemm_scaled": _scaled,
    "gemm_scaled_inner": _scaled,
    "polybench_2mm": _2mm,
    "polybench_3mm": _3mm,
    "doitgen": _doitgen,
    "conv2d_1x1": _conv1x1,
    "conv2d_3x3": _conv3x3,
    "syrk": _syrk,
    "syr2k": _syr2k,
    "trmm": _trmm,
    "symm": _symm,
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
    "polybench_2mm": ((), (), _MN, _MK, _KN, ("N", "L"), ("M", "L")),
    "polybench_3mm": (_MN, _MK, _KN, ("N", "L"), ("N", "P"), ("P", "L"), ("M", "L")),
    "doitgen": (("P",) + _MK, _KN, ("P",) + _MN),
    "conv2d_1x1": (_MK, ("P", "K", "H", "N"), ("P", "M", "H", "N")),
    "conv2d_3x3": (_MK + (3, 3), ("P", "K", "HI", "NI"), ("P", "M", "H", "N")),
    "syrk": ((), (), ("N", "N"), ("N", "M")),
    "syr2k": ((), (), ("N", "N"), ("N", "M"), ("N", "M")),
    "trmm": ((), ("M", "M"), ("M", "N")),
    "symm": ((), (), ("M", "N"), ("M", "M"), ("M", "N")),
}

ALL = {k.name: k for k in (gemm_bt, gemm_bt_ikj, gemm_at, gemm_ct, gemm_renamed, batched_matmul,
                           batched_shared_b, polybench_gemm, gemm_scaled, gemm_scaled_inner,
                           polybench_2mm, polybench_3mm, doitgen, conv2d_1x1, conv2d_3x3, syrk, syr2k,
                           trmm, symm)}


def arguments(name: str, sizes: dict, dtype, seed: int = 0) -> list:
    """Random arguments of kernel ``name`` at ``sizes`` (scalars: alpha 1.5, beta 0.5, exact in
    every float type; size L, when not given, is N; H, the rows of pixels of a convolution,
    3; a 3×3 convolution's input has HI = H + 2 rows of NI = N + 2 pixels; trmm's A strictly
    lower triangular (it reads no more of it) and symm's symmetric (it reads its lower
    triangle): numpy's full product is then their reference)."""
    rng = np.random.default_rng(seed)
    sizes = {"L": sizes["N"], "H": 3, **sizes}
    sizes = {"HI": sizes["H"] + 2, "NI": sizes["N"] + 2, **sizes}
    out, scalars = [], iter((1.5, 0.5))
    for shape in SHAPES[name]:
        if shape == ():
            out.append(next(scalars))  # a Python float (a numpy scalar takes a slower call path)
        else:
            out.append(rng.standard_normal(tuple(sizes.get(s, s) for s in shape)).astype(dtype))
    if name == "trmm":
        out[1] = np.tril(out[1], -1)
    if name == "symm":
        out[3] = np.tril(out[3]) + np.tril(out[3], -1).T
    return out
