"""symm (unrollkit/tuning/triangular_symm.py): recognised from its accesses; with equal
coefficients its rows of the symmetric matrix rebuilt into a buffer, one GEMM per block
(`triangular_symm_rows`), else distributed into the scaling-and-diagonal nest and two
triangular products (L·B and Lᵀ·B: triangles in place of the blocks' own rows, GEMM nests
beside them); every result against numpy at odd sizes in f32 and f64 (A's upper triangle
NaN: never read); other spellings; forms that are not this product keep the ordinary path
and compute what the source says. No timing.
"""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T
from unrollkit.kernels.polybench import REGISTRY
from unrollkit.runtime.interpreter import interpret
from unrollkit.tuning.gemm_schedule import TriangularSchedule, gemm_schedule
from unrollkit.tuning.triangular_symm import Symm, recognise_symm
from unrollkit.tuning.triangular_symm_rows import ROWS_BUFFER

M, N = uk.sizes("M N")
TOL = {np.float32: 4e-6, np.float64: 1e-14}


def _args(m, n, dt, seed=0):
    """alpha, beta, C, A (upper triangle NaN: the kernel must not read it), B."""
    rng = np.random.default_rng(seed + 13 * m + n)
    A = rng.standard_normal((m, m))
    A[np.triu_indices(m, 1)] = np.nan
    C, B = rng.standard_normal((m, n)), rng.standard_normal((m, n))
    return [1.5, 0.5, C.astype(dt), A.astype(dt), B.astype(dt)]


def _want(alpha, beta, C, A, B):
    low = np.tril(np.nan_to_num(A.astype(np.float64)))
    return alpha * (low + np.tril(low, -1).T) @ B.astype(np.float64) + beta * C.astype(np.float64)


def _close(got, want, dt, m):
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    assert np.abs(got - want).max(initial=0) <= TOL[dt] * scale * max(1, m)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m, n", [(1, 5), (5, 1), (17, 257), (100, 17), (257, 100), (701, 17)])
def test_polybench_symm_matches_numpy_at_odd_sizes(m, n, dt):
    """Equal coefficients: the rows' form (`triangular_symm_rows`): below one block of rows
    (1 ... 100, 257 in f32: one block of all rows) and blocks with rows left over (257 in f64:
    136 and 121; 701: 4 × 144 and 125 in f64, 3 × 176 and 173 in f32)."""
    args = _args(m, n, dt)
    want = _want(*args)
    f = uk.jit(REGISTRY["symm"][0], factor="auto", parallel=False)
    f(*args)
    assert f.last.plan.variant == "blas"
    _close(args[2], want, dt, m)


def test_schedule_spells_rows_through_one_gemm_each():
    """Equal coefficients (PolyBench's): blocks of the symmetric matrix's rows rebuilt into a
    buffer, one GEMM nest per block (and the rows left over): no triangles."""
    kernel = REGISTRY["symm"][0]
    sig, _ = uk.jit(kernel, factor="auto").signature(_args(300, 40, np.float64))
    s = gemm_schedule(kernel, sig)
    assert isinstance(s, TriangularSchedule) and isinstance(s.tri, Symm) and s.tri.plain is not None
    assert len(s.parts) == 2 and s.rows == () and [la.name for la in s.kernel.local_arrays] == ["rows0"]
    names = s.kernel.loop_names()
    assert names[:2] == ["i.init", "j.init"] and {"i.blk", "i.row", "k.low", "k.up", "k_s"} <= set(names)
    assert "along=" not in s.pipeline().text()  # B is not written: packed as any input
    assert s.describe().startswith("symmetric product (C = s·C + d·B·diag(A) + L·B + Lᵀ·B")


def test_schedule_spells_both_products_when_the_rows_do_not_fit_the_stack():
    """M beyond `ROWS_BUFFER` (the buffer lives on the stack): the distributed form."""
    kernel = REGISTRY["symm"][0]
    m = ROWS_BUFFER // 40 + 41
    args = [1.5, 0.5, np.empty((m, 50)), np.empty((m, m)), np.empty((m, 50))]  # (never run)
    sig, _ = uk.jit(kernel, factor="auto").signature(args)
    s = gemm_schedule(kernel, sig)
    assert len(s.parts) == (4 if m % s.block else 2)
    assert {r[0] for r in s.rows} == {"k_h", "k_t", "k_u_h", "k_u_t"} and all(r[1] for r in s.rows)
    assert {"k.blk", "k_u.blk"} <= set(s.kernel.loop_names())


@uk.kernel
def symm_overwritten(alpha: T, C: T[M, N], A: T[M, M], B: T[M, N]):
    """No scaling term: C's input is overwritten (the rows' form sets it to 0 first)."""
    for i in range(M):
        for j in range(N):
            temp2 = 0.0
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = alpha * B[i, j] * A[i, i] + alpha * temp2


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_overwritten_output_matches_numpy(dt):
    alpha, _, C, A, B = _args(101, 19, dt, seed=5)
    want = _want(alpha, 0.0, np.zeros_like(C), A, B)
    f = uk.jit(symm_overwritten, factor="auto", parallel=False)
    f(alpha, C, A, B)
    assert f.last.plan.variant == "blas" and recognise_symm(symm_overwritten).plain is not None
    _close(C, want, dt, 101)


@uk.kernel
def symm_renamed(a: T, b: T, Out: T[M, N], S: T[M, M], X: T[M, N]):
    """Other names, the accumulation first (with a constant), loads swapped, the final
    statement's summands in another order."""
    for r in range(M):
        for c in range(N):
            acc = 0.0
            for t in range(r):
                acc += 2.0 * S[r, t] * X[t, c]
                Out[t, c] += a * S[r, t] * X[r, c]
            Out[r, c] = a * acc + X[r, c] * S[r, r] * a + b * Out[r, c]


@pytest.mark.parametrize("dt, m", [(np.float32, 77), (np.float64, 77), (np.float64, 257)])
def test_another_spelling_matches_numpy(dt, m):
    """Unequal coefficients: the distributed form (triangles, strips, block GEMM nests)."""
    alpha, beta, C, A, B = _args(m, 9, dt, seed=3)
    low = np.tril(np.nan_to_num(A.astype(np.float64)), -1)
    C64, B64 = C.astype(np.float64), B.astype(np.float64)
    diag = np.diag(np.nan_to_num(A.astype(np.float64)))[:, None]
    want = beta * C64 + alpha * diag * B64 + alpha * 2.0 * low @ B64 + alpha * low.T @ B64
    f = uk.jit(symm_renamed, factor="auto", parallel=False)
    f(alpha, beta, C, A, B)
    assert f.last.plan.variant == "blas" and recognise_symm(symm_renamed).plain is None
    _close(C, want, dt, m)


@uk.kernel
def upper_storage(alpha: T, C: T[M, N], A: T[M, M], B: T[M, N]):
    """A read in its upper triangle (``A[k, i]``): not this form."""
    for i in range(M):
        for j in range(N):
            temp2 = 0.0
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[k, i]
                temp2 += B[k, j] * A[k, i]
            C[i, j] = C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2


@uk.kernel
def accumulator_started(alpha: T, C: T[M, N], A: T[M, M], B: T[M, N]):
    """The accumulator starts at C's element, not at 0."""
    for i in range(M):
        for j in range(N):
            temp2 = C[i, j]
            for k in range(i):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = alpha * B[i, j] * A[i, i] + alpha * temp2


@uk.kernel
def rows_written_first(alpha: T, C: T[M, N], A: T[M, M], B: T[M, N]):
    """The scattered update reaches row i itself (``range(i + 1)``): its final statement then
    reads a row already updated."""
    for i in range(M):
        for j in range(N):
            temp2 = 0.0
            for k in range(i + 1):
                C[k, j] += alpha * B[i, j] * A[i, k]
                temp2 += B[k, j] * A[i, k]
            C[i, j] = C[i, j] + alpha * B[i, j] * A[i, i] + alpha * temp2


@pytest.mark.parametrize("kernel", [upper_storage, accumulator_started, rows_written_first])
def test_other_forms_keep_their_path_and_compute_what_the_source_says(kernel):
    assert recognise_symm(kernel) is None
    rng = np.random.default_rng(6)
    args = [0.75, rng.standard_normal((21, 7)), rng.standard_normal((21, 21)), rng.standard_normal((21, 7))]
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(kernel, *want)
    uk.jit(kernel, factor="auto", parallel=False)(*args)
    np.testing.assert_allclose(args[1], want[1], rtol=1e-12, atol=1e-12)
