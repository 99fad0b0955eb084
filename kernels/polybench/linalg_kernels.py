"""PolyBench/C 4.2.1 linear-algebra/kernels: 2mm, 3mm, atax, bicg, doitgen, mvt.

Each kernel is the C kernel's loop nest as written; the data generators follow each
``init_array``; the references are numpy products. 2mm and 3mm also stand in
`unrollkit.kernels.contractions` (``polybench_2mm``, ``polybench_3mm``) with the contraction
benchmark's size names (M, N, K, ...); here they keep PolyBench's (NI, NJ, ...), which the
registry's SMALL/MEDIUM datasets are keyed by.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .common import PolyBench, f64, grid

M, N, NI, NJ, NK, NL, NM, NP, NQ, NR = uk.sizes("M N NI NJ NK NL NM NP NQ NR")


@uk.kernel
def two_mm(alpha: T, beta: T, tmp: T[NI, NJ], A: T[NI, NK], B: T[NK, NJ], C: T[NJ, NL],
           D: T[NI, NL]):
    """D := alpha A B C + beta D, through tmp := alpha A B."""
    for i in range(NI):
        for j in range(NJ):
            tmp[i, j] = 0.0
            for k in range(NK):
                tmp[i, j] += alpha * A[i, k] * B[k, j]
    for i in range(NI):
        for j in range(NL):
            D[i, j] *= beta
            for k in range(NJ):
                D[i, j] += tmp[i, k] * C[k, j]


def two_mm_init(s, dtype):
    """2mm's init_array (tmp starts at 0: the kernel writes it first)."""
    ni, nj, nk, nl = s["NI"], s["NJ"], s["NK"], s["NL"]
    i, j = grid(ni, nk)
    A = ((i * j + 1) % ni) / ni
    i, j = grid(nk, nj)
    B = (i * (j + 1) % nj) / nj
    i, j = grid(nj, nl)
    C = ((i * (j + 3) + 1) % nl) / nl
    i, j = grid(ni, nl)
    D = (i * (j + 2) % nk) / nk
    return [1.5, 1.2] + [a.astype(dtype) for a in (np.zeros((ni, nj)), A, B, C, D)]


def two_mm_ref(alpha, beta, tmp, A, B, C, D):
    """Two chained products."""
    A, B, C, D = f64(A, B, C, D)
    t = alpha * A @ B
    return {"tmp": t, "D": t @ C + beta * D}


@uk.kernel
def three_mm(E: T[NI, NJ], A: T[NI, NK], B: T[NK, NJ], F: T[NJ, NL], C: T[NJ, NM],
             D: T[NM, NL], G: T[NI, NL]):
    """G := (A B) (C D), through E := A B and F := C D."""
    for i in range(NI):
        for j in range(NJ):
            E[i, j] = 0.0
            for k in range(NK):
                E[i, j] += A[i, k] * B[k, j]
    for i in range(NJ):
        for j in range(NL):
            F[i, j] = 0.0
            for k in range(NM):
                F[i, j] += C[i, k] * D[k, j]
    for i in range(NI):
        for j in range(NL):
            G[i, j] = 0.0
            for k in range(NJ):
                G[i, j] += E[i, k] * F[k, j]


def three_mm_init(s, dtype):
    """3mm's init_array (E, F and G start at 0: the kernel writes them first)."""
    ni, nj, nk, nl, nm = s["NI"], s["NJ"], s["NK"], s["NL"], s["NM"]
    i, j = grid(ni, nk)
    A = ((i * j + 1) % ni) / (5 * ni)
    i, j = grid(nk, nj)
    B = ((i * (j + 1) + 2) % nj) / (5 * nj)
    i, j = grid(nj, nm)
    C = (i * (j + 3) % nl) / (5 * nl)
    i, j = grid(nm, nl)
    D = ((i * (j + 2) + 2) % nk) / (5 * nk)
    z = np.zeros
    return [a.astype(dtype) for a in (z((ni, nj)), A, B, z((nj, nl)), C, D, z((ni, nl)))]


def three_mm_ref(E, A, B, F, C, D, G):
    """Three products."""
    A, B, C, D = f64(A, B, C, D)
    return {"E": A @ B, "F": C @ D, "G": (A @ B) @ (C @ D)}


@uk.kernel
def atax(A: T[M, N], x: T[N], y: T[N], tmp: T[M]):
    """y := A' (A x), through tmp := A x."""
    for i in range(N):
        y[i] = 0.0
    for i in range(M):
        tmp[i] = 0.0
        for j in range(N):
            tmp[i] = tmp[i] + A[i, j] * x[j]
        for j in range(N):
            y[j] = y[j] + A[i, j] * tmp[i]


def atax_init(s, dtype):
    """atax's init_array (y and tmp start at 0)."""
    m, n = s["M"], s["N"]
    x = 1 + np.arange(n) / n
    i, j = grid(m, n)
    A = ((i + j) % n) / (5 * m)
    return [a.astype(dtype) for a in (A, x, np.zeros(n), np.zeros(m))]


def atax_ref(A, x, y, tmp):
    """Two matrix-vector products."""
    A, x = f64(A, x)
    return {"tmp": A @ x, "y": A.T @ (A @ x)}


@uk.kernel
def bicg(A: T[N, M], s: T[M], q: T[N], p: T[M], r: T[N]):
    """s := A' r and q := A p in one sweep over A."""
    for i in range(M):
        s[i] = 0.0
    for i in range(N):
        q[i] = 0.0
        for j in range(M):
            s[j] = s[j] + r[i] * A[i, j]
            q[i] = q[i] + A[i, j] * p[j]


def bicg_init(sz, dtype):
    """bicg's init_array (s and q start at 0)."""
    m, n = sz["M"], sz["N"]
    p, r = np.arange(m) % m / m, np.arange(n) % n / n
    i, j = grid(n, m)
    A = (i * (j + 1) % n) / n
    return [a.astype(dtype) for a in (A, np.zeros(m), np.zeros(n), p, r)]


def bicg_ref(A, s, q, p, r):
    """Two matrix-vector products."""
    A, p, r = f64(A, p, r)
    return {"s": A.T @ r, "q": A @ p}


@uk.kernel
def doitgen(A: T[NR, NQ, NP], C4: T[NP, NP], sum: T[NP]):  # noqa: A002 - the C's name
    """A[r, q, :] := A[r, q, :] C4 for each (r, q), through the row buffer sum."""
    for r in range(NR):
        for q in range(NQ):
            for p in range(NP):
                sum[p] = 0.0
                for s in range(NP):
                    sum[p] += A[r, q, s] * C4[s, p]
            for p in range(NP):
                A[r, q, p] = sum[p]


def doitgen_init(sz, dtype):
    """doitgen's init_array (sum starts at 0)."""
    nr, nq, np_ = sz["NR"], sz["NQ"], sz["NP"]
    i, j, k = grid(nr, nq, np_)
    A = ((i * j + k) % np_) / np_
    i, j = grid(np_, np_)
    C4 = (i * j % np_) / np_
    return [a.astype(dtype) for a in (A, C4, np.zeros(np_))]


def doitgen_ref(A, C4, sum):  # noqa: A002 - the kernel's parameter name
    """A contracted with C4 over its last axis; sum holds the last row computed."""
    A, C4 = f64(A, C4)
    out = np.tensordot(A, C4, axes=(2, 0))
    return {"A": out, "sum": out[-1, -1]}


@uk.kernel
def mvt(x1: T[N], x2: T[N], y_1: T[N], y_2: T[N], A: T[N, N]):
    """x1 := x1 + A y_1; x2 := x2 + A' y_2."""
    for i in range(N):
        for j in range(N):
            x1[i] = x1[i] + A[i, j] * y_1[j]
    for i in range(N):
        for j in range(N):
            x2[i] = x2[i] + A[j, i] * y_2[j]


def mvt_init(s, dtype):
    """mvt's init_array."""
    n = s["N"]
    i = np.arange(n)
    vecs = [i % n / n, (i + 1) % n / n, (i + 3) % n / n, (i + 4) % n / n]
    i, j = grid(n, n)
    return [a.astype(dtype) for a in (*vecs, (i * j % n) / n)]


def mvt_ref(x1, x2, y_1, y_2, A):
    """Two matrix-vector products."""
    x1, x2, y_1, y_2, A = f64(x1, x2, y_1, y_2, A)
    return {"x1": x1 + A @ y_1, "x2": x2 + A.T @ y_2}


_MN = {"SMALL": {"M": 116, "N": 124}, "MEDIUM": {"M": 390, "N": 410}}
KERNELS = {
    "2mm": PolyBench(two_mm, two_mm_ref, two_mm_init,
                     {"SMALL": {"NI": 40, "NJ": 50, "NK": 70, "NL": 80},
                      "MEDIUM": {"NI": 180, "NJ": 190, "NK": 210, "NL": 220}}),
    "3mm": PolyBench(three_mm, three_mm_ref, three_mm_init,
                     {"SMALL": {"NI": 40, "NJ": 50, "NK": 60, "NL": 70, "NM": 80},
                      "MEDIUM": {"NI": 180, "NJ": 190, "NK": 200, "NL": 210, "NM": 220}}),
    "atax": PolyBench(atax, atax_ref, atax_init, _MN),
    "bicg": PolyBench(bicg, bicg_ref, bicg_init, _MN),
    "doitgen": PolyBench(doitgen, doitgen_ref, doitgen_init,
                         {"SMALL": {"NQ": 20, "NR": 25, "NP": 30}, "MEDIUM": {"NQ": 40, "NR": 50, "NP": 60}}),
    "mvt": PolyBench(mvt, mvt_ref, mvt_init, {"SMALL": {"N": 400}, "MEDIUM": {"N": 2000}}),
}
