"""PolyBench/C 4.2.1 stencils: adi, fdtd-2d, heat-3d, jacobi-1d, jacobi-2d, seidel-2d.

The kernels are the C kernels as written; the time steps are an integer scalar parameter
(``tsteps: uk.i32``, ``for t in range(tsteps)``: each value compiles once, see the README),
except fdtd-2d's, whose count TMAX is the length of its ``_fict_`` array, as in C.

adi is generic like the others: its ``DT = 1.0 / (DATA_TYPE) tsteps`` is ``1.0 / T(tsteps)``,
a conversion to the type the call binds T to (one per call), as C converts to DATA_TYPE.
"""
import numpy as np

import unrollkit.frontend as uk  # the kernel language (see unrollkit.frontend)
from unrollkit.frontend import T

from .common import PolyBench, f64, grid

N, NX, NY, TMAX = uk.sizes("N NX NY TMAX")


@uk.kernel
def adi(tsteps: uk.i32, u: T[N, N], v: T[N, N], p: T[N, N], q: T[N, N]):
    """Alternating-direction implicit solver of a 2-D heat equation: a tridiagonal solve
    along the columns, then along the rows, per time step."""
    DX = 1.0 / T(N)
    DY = 1.0 / T(N)
    DT = 1.0 / T(tsteps)
    B1 = 2.0
    B2 = 1.0
    mul1 = B1 * DT / (DX * DX)
    mul2 = B2 * DT / (DY * DY)
    a = -mul1 / 2.0
    b = 1.0 + mul1
    c = a
    d = -mul2 / 2.0
    e = 1.0 + mul2
    f = d
    for t in range(1, tsteps + 1):
        for i in range(1, N - 1):
            v[0, i] = 1.0
            p[i, 0] = 0.0
            q[i, 0] = v[0, i]
            for j in range(1, N - 1):
                p[i, j] = -c / (a * p[i, j - 1] + b)
                q[i, j] = (-d * u[j, i - 1] + (1.0 + 2.0 * d) * u[j, i] - f * u[j, i + 1]
                           - a * q[i, j - 1]) / (a * p[i, j - 1] + b)
            v[N - 1, i] = 1.0
            for j in range(N - 2, 0, -1):
                v[j, i] = p[i, j] * v[j + 1, i] + q[i, j]
        for i in range(1, N - 1):
            u[i, 0] = 1.0
            p[i, 0] = 0.0
            q[i, 0] = u[i, 0]
            for j in range(1, N - 1):
                p[i, j] = -f / (d * p[i, j - 1] + e)
                q[i, j] = (-a * v[i - 1, j] + (1.0 + 2.0 * a) * v[i, j] - c * v[i + 1, j]
                           - d * q[i, j - 1]) / (d * p[i, j - 1] + e)
            u[i, N - 1] = 1.0
            for j in range(N - 2, 0, -1):
                u[i, j] = p[i, j] * u[i, j + 1] + q[i, j]


def adi_init(s, dtype):
    """adi's init_array: u[i, j] = (i + n - j) / n (v, p, q start at 0)."""
    n = s["N"]
    i, j = grid(n, n)
    z = np.zeros((n, n), dtype)
    return [int(s["TSTEPS"]), ((i + n - j) / n).astype(dtype), z.copy(), z.copy(), z.copy()]


def _thomas(lower, diag, upper, rhs, first, last):
    """Solve the tridiagonal systems x[0] = first, x[n-1] = last, lower x[j-1] + diag x[j] +
    upper x[j+1] = rhs[:, j] for 0 < j < n-1, one system per row of ``rhs``, by the same
    forward elimination (p, q) and back substitution as the kernel."""
    m, n = rhs.shape
    p, q, x = np.zeros((m, n)), np.zeros((m, n)), np.zeros((m, n))
    q[:, 0] = first
    for j in range(1, n - 1):
        den = lower * p[:, j - 1] + diag
        p[:, j] = -upper / den
        q[:, j] = (rhs[:, j] - lower * q[:, j - 1]) / den
    x[:, 0], x[:, n - 1] = first, last
    for j in range(n - 2, 0, -1):
        x[:, j] = p[:, j] * x[:, j + 1] + q[:, j]
    return x, p, q


def adi_ref(tsteps, u, v, p, q):
    """Each sweep a batch of tridiagonal solves, vectorised across the rows being solved."""
    u, v, p, q = f64(u, v, p, q)
    n = len(u)
    dt, dx = 1.0 / tsteps, 1.0 / n
    mul1, mul2 = 2.0 * dt / dx ** 2, dt / dx ** 2
    a, b, d, e = -mul1 / 2, 1 + mul1, -mul2 / 2, 1 + mul2
    inner = slice(1, n - 1)
    for _ in range(tsteps):
        # column sweep: system i solves v[:, i] from u's columns i-1, i, i+1
        rhs = -d * u[:, :-2].T + (1 + 2 * d) * u[:, 1:-1].T - d * u[:, 2:].T
        x, p[inner], q[inner] = _thomas(a, b, a, rhs, 1.0, 1.0)
        v[:, inner] = x.T
        # row sweep: system i solves u[i, :] from v's rows i-1, i, i+1
        rhs = -a * v[:-2] + (1 + 2 * a) * v[1:-1] - a * v[2:]
        u[inner], p[inner], q[inner] = _thomas(d, e, d, rhs, 1.0, 1.0)
    return {"u": u, "v": v, "p": p, "q": q}


@uk.kernel
def fdtd_2d(ex: T[NX, NY], ey: T[NX, NY], hz: T[NX, NY], _fict_: T[TMAX]):
    """2-D finite-difference time-domain: the electric fields ex, ey and the magnetic field
    hz updated in turn, TMAX steps, the source _fict_[t] on ey's first row."""
    for t in range(TMAX):
        for j in range(NY):
            ey[0, j] = _fict_[t]
        for i in range(1, NX):
            for j in range(NY):
                ey[i, j] = ey[i, j] - 0.5 * (hz[i, j] - hz[i - 1, j])
        for i in range(NX):
            for j in range(1, NY):
                ex[i, j] = ex[i, j] - 0.5 * (hz[i, j] - hz[i, j - 1])
        for i in range(NX - 1):
            for j in range(NY - 1):
                hz[i, j] = hz[i, j] - 0.7 * (ex[i, j + 1] - ex[i, j] + ey[i + 1, j] - ey[i, j])


def fdtd_2d_init(s, dtype):
    """fdtd-2d's init_array."""
    nx, ny, tmax = s["NX"], s["NY"], s["TMAX"]
    i, j = grid(nx, ny)
    arrays = (i * (j + 1) / nx, i * (j + 2) / ny, i * (j + 3) / nx, np.arange(tmax, dtype=float))
    return [a.astype(dtype) for a in arrays]


def fdtd_2d_ref(ex, ey, hz, _fict_):
    """Each field update one numpy slice expression."""
    ex, ey, hz = f64(ex, ey, hz)
    for t in range(len(_fict_)):
        ey[0, :] = _fict_[t]
        ey[1:, :] -= 0.5 * (hz[1:, :] - hz[:-1, :])
        ex[:, 1:] -= 0.5 * (hz[:, 1:] - hz[:, :-1])
        hz[:-1, :-1] -= 0.7 * (ex[:-1, 1:] - ex[:-1, :-1] + ey[1:, :-1] - ey[:-1, :-1])
    return {"ex": ex, "ey": ey, "hz": hz}


@uk.kernel
def heat_3d(tsteps: uk.i32, A: T[N, N, N], B: T[N, N, N]):
    """3-D heat equation, a 7-point stencil from A into B and back, per time step."""
    for t in range(1, tsteps + 1):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                for k in range(1, N - 1):
                    B[i, j, k] = 0.125 * (A[i + 1, j, k] - 2.0 * A[i, j, k] + A[i - 1, j, k]) \
                        + 0.125 * (A[i, j + 1, k] - 2.0 * A[i, j, k] + A[i, j - 1, k]) \
                        + 0.125 * (A[i, j, k + 1] - 2.0 * A[i, j, k] + A[i, j, k - 1]) \
                        + A[i, j, k]
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                for k in range(1, N - 1):
                    A[i, j, k] = 0.125 * (B[i + 1, j, k] - 2.0 * B[i, j, k] + B[i - 1, j, k]) \
                        + 0.125 * (B[i, j + 1, k] - 2.0 * B[i, j, k] + B[i, j - 1, k]) \
                        + 0.125 * (B[i, j, k + 1] - 2.0 * B[i, j, k] + B[i, j, k - 1]) \
                        + B[i, j, k]


def heat_3d_init(s, dtype):
    """heat-3d's init_array: A = B = (i + j + (n - k)) 10 / n."""
    n = s["N"]
    i, j, k = grid(n, n, n)
    A = (i + j + (n - k)) * 10 / n
    return [int(s["TSTEPS"]), A.astype(dtype), A.astype(dtype)]


def _heat_step(src, dst):
    """dst's interior := the 7-point heat update of src."""
    c = src[1:-1, 1:-1, 1:-1]
    dst[1:-1, 1:-1, 1:-1] = (0.125 * (src[2:, 1:-1, 1:-1] - 2 * c + src[:-2, 1:-1, 1:-1])
                             + 0.125 * (src[1:-1, 2:, 1:-1] - 2 * c + src[1:-1, :-2, 1:-1])
                             + 0.125 * (src[1:-1, 1:-1, 2:] - 2 * c + src[1:-1, 1:-1, :-2]) + c)


def heat_3d_ref(tsteps, A, B):
    """Each half step one numpy slice expression."""
    A, B = f64(A, B)
    for _ in range(tsteps):
        _heat_step(A, B)
        _heat_step(B, A)
    return {"A": A, "B": B}


@uk.kernel
def jacobi_1d(tsteps: uk.i32, A: T[N], B: T[N]):
    """1-D Jacobi: a 3-point average from A into B and back, per time step."""
    for t in range(tsteps):
        for i in range(1, N - 1):
            B[i] = 0.33333 * (A[i - 1] + A[i] + A[i + 1])
        for i in range(1, N - 1):
            A[i] = 0.33333 * (B[i - 1] + B[i] + B[i + 1])


def jacobi_1d_init(s, dtype):
    """jacobi-1d's init_array: A[i] = (i + 2) / n, B[i] = (i + 3) / n."""
    n = s["N"]
    i = np.arange(n, dtype=np.float64)
    return [int(s["TSTEPS"]), ((i + 2) / n).astype(dtype), ((i + 3) / n).astype(dtype)]


def jacobi_1d_ref(tsteps, A, B):
    """Each half step one numpy slice expression."""
    A, B = f64(A, B)
    for _ in range(tsteps):
        B[1:-1] = 0.33333 * (A[:-2] + A[1:-1] + A[2:])
        A[1:-1] = 0.33333 * (B[:-2] + B[1:-1] + B[2:])
    return {"A": A, "B": B}


@uk.kernel
def jacobi_2d(tsteps: uk.i32, A: T[N, N], B: T[N, N]):
    """2-D Jacobi: a 5-point average from A into B and back, per time step."""
    for t in range(tsteps):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                B[i, j] = 0.2 * (A[i, j] + A[i, j - 1] + A[i, 1 + j] + A[1 + i, j] + A[i - 1, j])
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = 0.2 * (B[i, j] + B[i, j - 1] + B[i, 1 + j] + B[1 + i, j] + B[i - 1, j])


def jacobi_2d_init(s, dtype):
    """jacobi-2d's init_array: A = (i (j + 2) + 2) / n, B = (i (j + 3) + 3) / n."""
    n = s["N"]
    i, j = grid(n, n)
    return [int(s["TSTEPS"]), ((i * (j + 2) + 2) / n).astype(dtype), ((i * (j + 3) + 3) / n).astype(dtype)]


def _five_point(src, dst):
    """dst's interior := 0.2 times the 5-point sum of src."""
    dst[1:-1, 1:-1] = 0.2 * (src[1:-1, 1:-1] + src[1:-1, :-2] + src[1:-1, 2:] + src[2:, 1:-1] + src[:-2, 1:-1])


def jacobi_2d_ref(tsteps, A, B):
    """Each half step one numpy slice expression."""
    A, B = f64(A, B)
    for _ in range(tsteps):
        _five_point(A, B)
        _five_point(B, A)
    return {"A": A, "B": B}


@uk.kernel
def seidel_2d(tsteps: uk.i32, A: T[N, N]):
    """2-D Gauss-Seidel: a 9-point average in place (new values used as soon as computed)."""
    for t in range(tsteps):
        for i in range(1, N - 1):
            for j in range(1, N - 1):
                A[i, j] = (A[i - 1, j - 1] + A[i - 1, j] + A[i - 1, j + 1]
                           + A[i, j - 1] + A[i, j] + A[i, j + 1]
                           + A[i + 1, j - 1] + A[i + 1, j] + A[i + 1, j + 1]) / 9.0


def seidel_2d_init(s, dtype):
    """seidel-2d's init_array: A = (i (j + 2) + 2) / n."""
    n = s["N"]
    i, j = grid(n, n)
    return [int(s["TSTEPS"]), ((i * (j + 2) + 2) / n).astype(dtype)]


def seidel_2d_ref(tsteps, A):
    """Row by row: the rows above and below enter as vectors; along the row the update is a
    recurrence in A[i, j - 1], a loop over j in plain Python."""
    (A,) = f64(A)
    n = len(A)
    for _ in range(tsteps):
        for i in range(1, n - 1):
            fixed = A[i - 1, :-2] + A[i - 1, 1:-1] + A[i - 1, 2:] + A[i + 1, :-2] + A[i + 1, 1:-1] \
                + A[i + 1, 2:]
            row = A[i]
            for j in range(1, n - 1):
                row[j] = (fixed[j - 1] + row[j - 1] + row[j] + row[j + 1]) / 9.0
    return {"A": A}


KERNELS = {
    "adi": PolyBench(adi, adi_ref, adi_init,
                     {"SMALL": {"TSTEPS": 40, "N": 60}, "MEDIUM": {"TSTEPS": 100, "N": 200}}),
    "fdtd-2d": PolyBench(fdtd_2d, fdtd_2d_ref, fdtd_2d_init,
                         {"SMALL": {"TMAX": 40, "NX": 60, "NY": 80},
                          "MEDIUM": {"TMAX": 100, "NX": 200, "NY": 240}}),
    "heat-3d": PolyBench(heat_3d, heat_3d_ref, heat_3d_init,
                         {"SMALL": {"TSTEPS": 40, "N": 20}, "MEDIUM": {"TSTEPS": 100, "N": 40}}),
    "jacobi-1d": PolyBench(jacobi_1d, jacobi_1d_ref, jacobi_1d_init,
                           {"SMALL": {"TSTEPS": 40, "N": 120}, "MEDIUM": {"TSTEPS": 100, "N": 400}}),
    "jacobi-2d": PolyBench(jacobi_2d, jacobi_2d_ref, jacobi_2d_init,
                           {"SMALL": {"TSTEPS": 40, "N": 90}, "MEDIUM": {"TSTEPS": 100, "N": 250}}),
    "seidel-2d": PolyBench(seidel_2d, seidel_2d_ref, seidel_2d_init,
                           {"SMALL": {"TSTEPS": 40, "N": 120}, "MEDIUM": {"TSTEPS": 100, "N": 400}}),
}
