"""PolyBench/C 4.2.1 medley: deriche, floyd-warshall, nussinov.

The kernels are the C kernels as written: deriche's filter coefficients and its running
values (``xm1``, ``ym1``, ...) are scalars (the coefficients computed in the kernel with
``uk.exp``; the backward sweeps are ``range(H - 1, -1, -1)`` loops); floyd-warshall's
``a < b ? a : b`` is a conditional expression; deriche's ``pow(2.0, -alpha)`` is
``2.0 ** -alpha`` (``math.powf``); nussinov's ``if`` statements are ``if``
statements and its ``max_score`` is ``max``.

A note on types:

* nussinov's ``table`` and floyd-warshall's ``path`` are ``int`` in C: here they take the
  generic element type, int32 as in C or f32/f64 (every value is a small integer, exact in
  each).
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .common import PolyBench, f64, grid

H, N, W = uk.sizes("H N W")


@uk.kernel
def deriche(alpha: T, imgIn: T[W, H], imgOut: T[W, H], y1: T[W, H], y2: T[W, H]):
    """Deriche's recursive edge-detection filter: causal and anti-causal passes along the
    rows, then along the columns."""
    k = (1.0 - uk.exp(-alpha)) * (1.0 - uk.exp(-alpha)) / \
        (1.0 + 2.0 * alpha * uk.exp(-alpha) - uk.exp(2.0 * alpha))
    a1 = k
    a5 = k
    a2 = k * uk.exp(-alpha) * (alpha - 1.0)
    a6 = a2
    a3 = k * uk.exp(-alpha) * (alpha + 1.0)
    a7 = a3
    a4 = -k * uk.exp(-2.0 * alpha)
    a8 = a4
    b1 = 2.0 ** -alpha  # C: pow(SCALAR_VAL(2.0), -alpha) (math.powf)
    b2 = -uk.exp(-2.0 * alpha)
    c1 = 1.0
    c2 = 1.0
    for i in range(W):
        ym1 = 0.0
        ym2 = 0.0
        xm1 = 0.0
        for j in range(H):
            y1[i, j] = a1 * imgIn[i, j] + a2 * xm1 + b1 * ym1 + b2 * ym2
            xm1 = imgIn[i, j]
            ym2 = ym1
            ym1 = y1[i, j]
    for i in range(W):
        yp1 = 0.0
        yp2 = 0.0
        xp1 = 0.0
        xp2 = 0.0
        for j in range(H - 1, -1, -1):
            y2[i, j] = a3 * xp1 + a4 * xp2 + b1 * yp1 + b2 * yp2
            xp2 = xp1
            xp1 = imgIn[i, j]
            yp2 = yp1
            yp1 = y2[i, j]
    for i in range(W):
        for j in range(H):
            imgOut[i, j] = c1 * (y1[i, j] + y2[i, j])
    for j in range(H):
        tm1 = 0.0
        ym1 = 0.0
        ym2 = 0.0
        for i in range(W):
            y1[i, j] = a5 * imgOut[i, j] + a6 * tm1 + b1 * ym1 + b2 * ym2
            tm1 = imgOut[i, j]
            ym2 = ym1
            ym1 = y1[i, j]
    for j in range(H):
        tp1 = 0.0
        tp2 = 0.0
        yp1 = 0.0
        yp2 = 0.0
        for i in range(W - 1, -1, -1):
            y2[i, j] = a7 * tp1 + a8 * tp2 + b1 * yp1 + b2 * yp2
            tp2 = tp1
            tp1 = imgOut[i, j]
            yp2 = yp1
            yp1 = y2[i, j]
    for i in range(W):
        for j in range(H):
            imgOut[i, j] = c2 * (y1[i, j] + y2[i, j])


def deriche_init(s, dtype):
    """deriche's init_array: alpha = 0.25, imgIn[i, j] = ((313 i + 991 j) % 65536) / 65535
    (imgOut, y1, y2 start at 0)."""
    w, h = s["W"], s["H"]
    i, j = grid(w, h)
    img = ((313 * i + 991 * j) % 65536) / np.float32(65535.0)
    z = np.zeros((w, h))
    return [0.25] + [a.astype(dtype) for a in (img, z, z, z)]


def _recursive(x, a_now, a_prev, b1, b2, reverse):
    """One causal (or, reversed, anti-causal) pass of the filter along axis 1 of ``x``, all
    rows at once: y[j] = a_now x[j] + a_prev x[j -+ 1] + b1 y[j -+ 1] + b2 y[j -+ 2], where
    the anti-causal pass's a_now multiplies x[j + 1] and a_prev x[j + 2]."""
    y = np.zeros_like(x)
    x1 = x2 = y1 = y2 = np.zeros(len(x))
    for j in (range(x.shape[1] - 1, -1, -1) if reverse else range(x.shape[1])):
        if reverse:
            y[:, j] = a_now * x1 + a_prev * x2 + b1 * y1 + b2 * y2
            x1, x2 = x[:, j], x1
        else:
            y[:, j] = a_now * x[:, j] + a_prev * x1 + b1 * y1 + b2 * y2
            x1 = x[:, j]
        y1, y2 = y[:, j], y1
    return y


def deriche_ref(alpha, imgIn, imgOut, y1, y2):
    """The four recursive passes, each vectorised across the other axis."""
    (img,) = f64(imgIn)
    e = np.exp(-alpha)
    k = (1 - e) ** 2 / (1 + 2 * alpha * e - np.exp(2 * alpha))
    a1, a2, a3, a4 = k, k * e * (alpha - 1), k * e * (alpha + 1), -k * np.exp(-2 * alpha)
    b1, b2 = 2.0 ** -alpha, -np.exp(-2 * alpha)
    r1 = _recursive(img, a1, a2, b1, b2, False)
    r2 = _recursive(img, a3, a4, b1, b2, True)
    mid = r1 + r2
    c1 = _recursive(mid.T, a1, a2, b1, b2, False).T
    c2 = _recursive(mid.T, a3, a4, b1, b2, True).T
    return {"y1": c1, "y2": c2, "imgOut": c1 + c2}


@uk.kernel
def floyd_warshall(path: T[N, N]):
    """All-pairs shortest paths: path[i, j] := min over k of path[i, k] + path[k, j]."""
    for k in range(N):
        for i in range(N):
            for j in range(N):
                path[i, j] = path[i, j] if path[i, j] < path[i, k] + path[k, j] \
                    else path[i, k] + path[k, j]


def floyd_warshall_init(s, dtype):
    """floyd-warshall's init_array: i j % 7 + 1, or 999 (no edge) where i + j is a multiple
    of 13, 7 or 11."""
    n = s["N"]
    i, j = grid(n, n)
    no_edge = ((i + j) % 13 == 0) | ((i + j) % 7 == 0) | ((i + j) % 11 == 0)
    return [np.where(no_edge, 999.0, i * j % 7 + 1).astype(dtype)]


def floyd_warshall_ref(path):
    """One vectorised relaxation per k (row k and column k do not change during step k)."""
    (p,) = f64(path)
    for k in range(len(p)):
        p = np.minimum(p, p[:, k:k + 1] + p[k:k + 1, :])
    return {"path": p}


@uk.kernel
def nussinov(seq: uk.i8[N], table: T[N, N]):
    """Nussinov's RNA folding: table[i, j] is the most base pairs in seq[i..j] (bases 0..3,
    a pair when they sum to 3)."""
    for i in range(N - 1, -1, -1):
        for j in range(i + 1, N):
            if j - 1 >= 0:
                table[i, j] = max(table[i, j], table[i, j - 1])
            if i + 1 < N:
                table[i, j] = max(table[i, j], table[i + 1, j])
            if j - 1 >= 0 and i + 1 < N:
                if i < j - 1:
                    table[i, j] = max(table[i, j],
                                      table[i + 1, j - 1] + (1 if seq[i] + seq[j] == 3 else 0))
                else:
                    table[i, j] = max(table[i, j], table[i + 1, j - 1])
            for k in range(i + 1, j):
                table[i, j] = max(table[i, j], table[i, k] + table[k + 1, j])


def nussinov_init(s, dtype):
    """nussinov's init_array: seq[i] = (i + 1) % 4 (int8, C's char), table = 0."""
    n = s["N"]
    return [((np.arange(n) + 1) % 4).astype(np.int8), np.zeros((n, n), dtype)]


def nussinov_ref(seq, table):
    """The same recurrence, the k loop one numpy maximum per (i, j)."""
    (t,) = f64(table)
    n = len(t)
    pair = (seq[:, None].astype(int) + seq[None, :] == 3).astype(float)
    for i in range(n - 1, -1, -1):
        for j in range(i + 1, n):
            best = max(t[i, j], t[i, j - 1])
            if i + 1 < n:
                best = max(best, t[i + 1, j], t[i + 1, j - 1] + (pair[i, j] if i < j - 1 else 0))
            if j > i + 1:
                best = max(best, np.max(t[i, i + 1:j] + t[i + 2:j + 1, j]))
            t[i, j] = best
    return {"table": t}


KERNELS = {
    "deriche": PolyBench(deriche, deriche_ref, deriche_init,
                         {"SMALL": {"W": 192, "H": 128}, "MEDIUM": {"W": 720, "H": 480}}),
    "floyd-warshall": PolyBench(floyd_warshall, floyd_warshall_ref, floyd_warshall_init,
                                {"SMALL": {"N": 180}, "MEDIUM": {"N": 500}}),
    "nussinov": PolyBench(nussinov, nussinov_ref, nussinov_init,
                          {"SMALL": {"N": 180}, "MEDIUM": {"N": 500}}),
}
