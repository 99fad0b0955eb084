"""PolyBench/C 4.2.1 linear-algebra/solvers: cholesky, durbin, gramschmidt, lu, ludcmp, trisolv.

Each kernel is the C kernel's loop nest as written, scalar temporaries (``w``, ``nrm``,
``alpha``, ``beta``, ``sum``) as carried scalars; durbin's local array ``DATA_TYPE z[N]`` is
``z = uk.zeros(N, T)`` (a kernel-local array, on the stack, per call).
The references are written independently (numpy's factorizations and solves where they
compute the same thing, a vectorised right-looking elimination for LU without pivoting).
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .common import PolyBench, c_mod, f64, grid

M, N = uk.sizes("M N")


@uk.kernel
def cholesky(A: T[N, N]):
    """A's lower triangle := L with L L' = A (A symmetric positive definite)."""
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[j, k]
            A[i, j] /= A[j, j]
        for k in range(i):
            A[i, i] -= A[i, k] * A[i, k]
        A[i, i] = uk.sqrt(A[i, i])


def spd_matrix(n):
    """The symmetric positive definite matrix of cholesky's, lu's and ludcmp's init_array:
    L L' for L lower triangular with L[i, j] = 1 - j/n below a unit diagonal."""
    i, j = grid(n, n)
    L = np.where(j < i, c_mod(-j, n) / n + 1, np.where(i == j, 1.0, 0.0))
    return L @ L.T


def cholesky_init(s, dtype):
    """cholesky's init_array."""
    return [spd_matrix(s["N"]).astype(dtype)]


def cholesky_ref(A):
    """numpy's Cholesky factor in the lower triangle; the upper triangle is not written."""
    (A,) = f64(A)
    return {"A": np.where(np.tri(len(A), dtype=bool), np.linalg.cholesky(A), A)}


@uk.kernel
def durbin(r: T[N], y: T[N]):
    """Levinson-Durbin recursion: y solves the Yule-Walker system of the autocorrelations r."""
    z = uk.zeros(N, T)
    y[0] = -r[0]
    beta = 1.0
    alpha = -r[0]
    for k in range(1, N):
        beta = (1.0 - alpha * alpha) * beta
        sum = 0.0  # noqa: A001 - the C's name
        for i in range(k):
            sum += r[k - i - 1] * y[i]
        alpha = -(r[k] + sum) / beta
        for i in range(k):
            z[i] = y[i] + alpha * y[k - i - 1]
        for i in range(k):
            y[i] = z[i]
        y[k] = alpha


def durbin_init(s, dtype):
    """durbin's init_array, r[i] = n + 1 - i, divided by (n + 1)^2: with C's r the system is
    so ill-conditioned that f32's result differs from float64's by 3 times its magnitude at
    MEDIUM (and float64 keeps 9 digits); scaled, f32 keeps 5 digits. (The same recursion on
    other data: the values differ from C's.)"""
    n = s["N"]
    r = (n + 1 - np.arange(n)) / (n + 1) ** 2
    return [r.astype(dtype), np.zeros(n, dtype)]


def durbin_ref(r, y):
    """The same recursion, each inner loop one numpy dot or vector update."""
    (r,) = f64(r)
    n = len(r)
    y = np.zeros(n)
    y[0] = alpha = -r[0]
    beta = 1.0
    for k in range(1, n):
        beta = (1 - alpha * alpha) * beta
        alpha = -(r[k] + r[k - 1::-1] @ y[:k]) / beta
        y[:k] = y[:k] + alpha * y[k - 1::-1]
        y[k] = alpha
    return {"y": y}


@uk.kernel
def gramschmidt(A: T[M, N], R: T[N, N], Q: T[M, N]):
    """QR decomposition by modified Gram-Schmidt: A = Q R, A overwritten by the residuals."""
    for k in range(N):
        nrm = 0.0
        for i in range(M):
            nrm += A[i, k] * A[i, k]
        R[k, k] = uk.sqrt(nrm)
        for i in range(M):
            Q[i, k] = A[i, k] / R[k, k]
        for j in range(k + 1, N):
            R[k, j] = 0.0
            for i in range(M):
                R[k, j] += Q[i, k] * A[i, j]
            for i in range(M):
                A[i, j] = A[i, j] - Q[i, k] * R[k, j]


def gramschmidt_init(s, dtype):
    """gramschmidt's init_array, plus M on the diagonal: with C's data alone the leading
    columns are nearly dependent (many are equal), and their Q is rounding noise in f32."""
    m, n = s["M"], s["N"]
    i, j = grid(m, n)
    A = ((i * j) % m) / m * 100 + 10 + np.where(i == j, m, 0.0)
    return [A.astype(dtype), np.zeros((n, n), dtype), np.zeros((m, n), dtype)]


def gramschmidt_ref(A, R, Q):
    """Modified Gram-Schmidt, each column operation one numpy vector operation. PolyBench's
    sizes have more columns than rows (N > M): columns from M on are dependent, so their
    residuals (A), norms (R's rows from M on) and directions (Q's columns from M on) are
    rounding noise; the test compares Q's first M columns, and R and A against their scale."""
    (A,) = f64(A)
    m, n = A.shape
    R, Q = np.zeros((n, n)), np.zeros((m, n))
    for k in range(n):
        R[k, k] = np.sqrt(A[:, k] @ A[:, k])
        Q[:, k] = A[:, k] / R[k, k]
        R[k, k + 1:] = Q[:, k] @ A[:, k + 1:]
        A[:, k + 1:] -= np.outer(Q[:, k], R[k, k + 1:])
    return {"A": A, "R": R, "Q": Q[:, :min(m, n)]}


@uk.kernel
def lu(A: T[N, N]):
    """LU decomposition without pivoting, in place: L (unit diagonal) below, U on and above."""
    for i in range(N):
        for j in range(i):
            for k in range(j):
                A[i, j] -= A[i, k] * A[k, j]
            A[i, j] /= A[j, j]
        for j in range(i, N):
            for k in range(i):
                A[i, j] -= A[i, k] * A[k, j]


def lu_init(s, dtype):
    """lu's init_array (cholesky's matrix)."""
    return [spd_matrix(s["N"]).astype(dtype)]


def lu_factors(A):
    """L and U of A (no pivoting) packed in one array, by right-looking elimination."""
    A = np.array(A, dtype=np.float64)
    for k in range(len(A) - 1):
        A[k + 1:, k] /= A[k, k]
        A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
    return A


def lu_ref(A):
    """The packed LU factors."""
    return {"A": lu_factors(A)}


@uk.kernel
def ludcmp(A: T[N, N], b: T[N], x: T[N], y: T[N]):
    """Solve A x = b: LU decomposition (Crout-style with the scalar w), then forward and
    backward substitution."""
    for i in range(N):
        for j in range(i):
            w = A[i, j]
            for k in range(j):
                w -= A[i, k] * A[k, j]
            A[i, j] = w / A[j, j]
        for j in range(i, N):
            w = A[i, j]
            for k in range(i):
                w -= A[i, k] * A[k, j]
            A[i, j] = w
    for i in range(N):
        w = b[i]
        for j in range(i):
            w -= A[i, j] * y[j]
        y[i] = w
    for i in range(N - 1, -1, -1):
        w = y[i]
        for j in range(i + 1, N):
            w -= A[i, j] * x[j]
        x[i] = w / A[i, i]


def ludcmp_init(s, dtype):
    """ludcmp's init_array: cholesky's matrix, b[i] = (i + 1) / n / 2 + 4, x = y = 0."""
    n = s["N"]
    b = (np.arange(n) + 1) / n / 2 + 4
    return [a.astype(dtype) for a in (spd_matrix(n), b, np.zeros(n), np.zeros(n))]


def ludcmp_ref(A, b, x, y):
    """The packed LU factors, y = L^-1 b and x = A^-1 b with numpy's solver."""
    A0, b = f64(A, b)
    F = lu_factors(A0)
    L = np.tril(F, -1) + np.eye(len(F))
    return {"A": F, "y": np.linalg.solve(L, b), "x": np.linalg.solve(A0, b)}


@uk.kernel
def trisolv(L: T[N, N], x: T[N], b: T[N]):
    """Forward substitution: x := L^-1 b, L lower triangular."""
    for i in range(N):
        x[i] = b[i]
        for j in range(i):
            x[i] -= L[i, j] * x[j]
        x[i] = x[i] / L[i, i]


def trisolv_init(s, dtype):
    """trisolv's init_array (x = -999, overwritten; L's upper triangle, unset in C, is 0)."""
    n = s["N"]
    i, j = grid(n, n)
    L = np.where(j <= i, (i + n - j + 1) * 2 / n, 0.0)
    return [a.astype(dtype) for a in (L, np.full(n, -999.0), np.arange(n, dtype=np.float64))]


def trisolv_ref(L, x, b):
    """numpy's solve with the lower triangle."""
    L, b = f64(L, b)
    return {"x": np.linalg.solve(np.tril(L), b)}


_N = {"SMALL": {"N": 120}, "MEDIUM": {"N": 400}}
KERNELS = {
    "cholesky": PolyBench(cholesky, cholesky_ref, cholesky_init, _N),
    "durbin": PolyBench(durbin, durbin_ref, durbin_init, _N),
    "gramschmidt": PolyBench(gramschmidt, gramschmidt_ref, gramschmidt_init,
                             {"SMALL": {"M": 60, "N": 80}, "MEDIUM": {"M": 200, "N": 240}}),
    "lu": PolyBench(lu, lu_ref, lu_init, _N),
    "ludcmp": PolyBench(ludcmp, ludcmp_ref, ludcmp_init, _N),
    "trisolv": PolyBench(trisolv, trisolv_ref, trisolv_init, _N),
}
