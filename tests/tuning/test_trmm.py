"""trmm (unrollkit/tuning/triangular_trmm.py): recognised from its accesses, rewritten into
in-place triangles and GEMM nests over the rows below, every result against numpy at odd sizes
in f32 and f64 (A's diagonal and upper triangle NaN: never read); other spellings; forms that
are not this product (rows read after they change) keep the ordinary path and still compute
what the source says; ``pack`` of a written array only where isl proves its reads unwritten.
No timing.
"""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

import unrollkit as uk
from unrollkit import T
from unrollkit.cli.app import app
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.core.errors import TransformError
from unrollkit.kernels.polybench import REGISTRY
from unrollkit.runtime.interpreter import interpret
from unrollkit.tuning.gemm_schedule import TriangularSchedule, gemm_schedule
from unrollkit.tuning.triangular_trmm import Trmm, recognise_trmm

M, N, H = uk.sizes("M N H")
TOL = {np.float32: 4e-6, np.float64: 1e-14}


def _args(m, n, dt, seed=0):
    """alpha, A (diagonal and upper triangle NaN: the kernel must not read them), B."""
    rng = np.random.default_rng(seed + 11 * m + n)
    A = rng.standard_normal((m, m))
    A[np.triu_indices(m)] = np.nan
    return [1.5, A.astype(dt), rng.standard_normal((m, n)).astype(dt)]


def _want(alpha, A, B, sign=1.0):
    A, B = (x.astype(np.float64) for x in (A, B))
    return alpha * (B + sign * np.tril(np.nan_to_num(A), -1).T @ B)


def _close(got, want, dt, m):
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    assert np.abs(got - want).max(initial=0) <= TOL[dt] * scale * max(1, m)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m, n", [(1, 1), (1, 257), (5, 17), (17, 5), (100, 257), (257, 100), (257, 257)])
def test_polybench_trmm_matches_numpy_at_odd_sizes(m, n, dt):
    """Below one block (1, 5, 17: the head's triangle only), blocks under rows left over on top
    (100, 257: head, strip, each block's triangle and the GEMM of the rows below it)."""
    kernel = REGISTRY["trmm"][0]
    args = _args(m, n, dt)
    want = _want(*args)
    f = uk.jit(kernel, factor="auto", parallel=False)
    f(*args)
    assert f.last.plan.variant == "blas"
    _close(args[2], want, dt, m)


def test_schedule_spells_triangles_and_gemms_and_packs_only_the_rows_below():
    kernel = REGISTRY["trmm"][0]
    sig, _ = uk.jit(kernel, factor="auto").signature(_args(300, 77, np.float64))
    s = gemm_schedule(kernel, sig)
    assert isinstance(s, TriangularSchedule) and isinstance(s.tri, Trmm) and s.dot is None
    assert len(s.parts) == (2 if 300 % s.block else 1)
    assert s.rows[-1] == ("k_t", "j_t") + (("k_t_r", "j_t_r", 77 % s.block) if 77 % s.block else (None, None, 0))
    text = s.pipeline().text()
    assert "pack{arg=2,loop=kc,along=k}" in text and "vectorize{loop=j_t" in text
    # each tile of a triangle's row in registers over its k loop
    assert "unroll{loop=j_t,full=true},promote-to-registers{loop=k_t,strict=false}" in text
    assert s.describe().startswith("triangular product in place (i: rows, k > i: reduction over the rows below, "
                                   f"j: columns) in blocks of {s.block} rows")
    assert any("own triangle in place" in w for w in s.why)
    assert s.kernel.loop_names()[-2:] == ["i.scale", "j.scale"]


TRMM_SOURCE = """import unrollkit as uk
from unrollkit import T
M, N = uk.sizes("M N")


@uk.kernel
def trmm(alpha: T, A: T[M, M], B: T[M, N]):
    for i in range(M):
        for j in range(N):
            for k in range(i + 1, M):
                B[i, j] += A[k, i] * B[k, j]
            B[i, j] = alpha * B[i, j]
"""


def test_explain_prints_the_derived_schedule(tmp_path):
    path = tmp_path / "k.py"
    path.write_text(TRMM_SOURCE)
    r = CliRunner().invoke(app, ["explain", f"{path}:trmm", "--size", "M=100,N=37", "--dtype", "f64", "--no-check"],
                           env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "choice: blas: GEMM nest: triangular product in place (i: rows, k > i" in out
    assert "own triangle in place" in out and "pack{arg=2,loop=kc,along=k}" in out.replace(" ", "")


@uk.kernel
def trmm_ikj_minus(alpha: T, L: T[M, M], X: T[M, N]):
    """i-k-j order, subtracted, two coefficients, the scaling in a loop of its own."""
    for r in range(M):
        for t in range(r + 1, M):
            for c in range(N):
                X[r, c] = X[r, c] - 2.0 * alpha * X[t, c] * L[t, r]
        for c2 in range(N):
            X[r, c2] *= alpha


@uk.kernel
def trmm_unscaled(A: T[M, M], B: T[M, N]):
    for i in range(M):
        for j in range(N):
            for k in range(i + 1, M):
                B[i, j] += A[k, i] * B[k, j]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_other_spellings_match_numpy(dt):
    alpha, A, B = _args(131, 37, dt, seed=5)
    want = alpha * _want(1.0, A, B, sign=-2.0 * alpha)
    f = uk.jit(trmm_ikj_minus, factor="auto", parallel=False)
    f(alpha, A, B)
    assert f.last.plan.variant == "blas" and recognise_trmm(trmm_ikj_minus).final is not None
    _close(B, want, dt, 131)
    _, A, B = _args(100, 5, dt, seed=6)
    want = _want(1.0, A, B)
    g = uk.jit(trmm_unscaled, factor="auto", parallel=False)
    g(A, B)
    assert g.last.plan.variant == "blas"
    _close(B, want, dt, 100)


def test_an_infinite_element_gives_the_sources_result_not_nan():
    """No product the source skips is formed (a zero-padded triangle would give 0 · inf = NaN
    in the rows under an infinite one); checked against the reference interpreter."""
    alpha, A, B = _args(100, 19, np.float64, seed=2)
    B[70, 3] = np.inf
    A = np.nan_to_num(A)
    want = B.copy()
    interpret(REGISTRY["trmm"][0], alpha, A, want)
    uk.jit(REGISTRY["trmm"][0], factor="auto", parallel=False)(alpha, A, B)
    assert np.isnan(want).sum() == 0 and np.isinf(want[:71, 3]).all()
    np.testing.assert_allclose(B, want, rtol=1e-12, atol=1e-12)


@uk.kernel
def rows_above(A: T[M, M], B: T[M, N]):
    """k < i: reads the rows above, already updated."""
    for i in range(M):
        for j in range(N):
            for k in range(i):
                B[i, j] += A[k, i] * B[k, j]


@uk.kernel
def scaled_first(alpha: T, A: T[M, M], B: T[M, N]):
    """The scaling before the update: the rows below are read unscaled, this one scaled."""
    for i in range(M):
        for j in range(N):
            B[i, j] = alpha * B[i, j]
            for k in range(i + 1, M):
                B[i, j] += A[k, i] * B[k, j]


@uk.kernel
def own_triangle(B: T[M, M]):
    """The triangle is the output itself: its column i changes row by row."""
    for i in range(M):
        for j in range(M):
            for k in range(i + 1, M):
                B[i, j] += B[k, i] * B[k, j]


@uk.kernel
def columns_below(A: T[M, M], B: T[M, N]):
    """k indexes A's columns (``A[i, k]``): a product with the upper triangle, not trmm's."""
    for i in range(M):
        for j in range(N):
            for k in range(i + 1, M):
                B[i, j] += A[i, k] * B[k, j]


@uk.kernel
def scaled_inside_k(alpha: T, A: T[M, M], B: T[M, M]):
    """i-k-j with a statement of row i inside the k loop: it changes the row mid-update."""
    for i in range(M):
        for k in range(i + 1, M):
            for j in range(M):
                B[i, j] += A[k, i] * B[k, j]
            B[i, k] = alpha * B[i, k]


@pytest.mark.parametrize("kernel", [rows_above, scaled_first, own_triangle, columns_below, scaled_inside_k])
def test_other_forms_keep_their_path_and_compute_what_the_source_says(kernel):
    assert recognise_trmm(kernel) is None
    rng = np.random.default_rng(4)
    sizes = {"M": 23, "N": 9}
    args = [rng.standard_normal(tuple(sizes[x] for x in p.shape)) if p.shape else 0.5 for p in kernel.params]
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(kernel, *want)
    uk.jit(kernel, factor="auto", parallel=False)(*args)
    for got, ref in zip(args, want):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)


@uk.kernel
def below_head(A: T[M, M], B: T[M, N], w: T[H]):
    """Rows r < H updated from the rows t ≥ H: never the rows it writes."""
    for r in range(H):
        for t in range(H, M):
            for c in range(N):
                B[r, c] += w[r] * A[t, r] * B[t, c]


@uk.kernel
def in_place(A: T[M, M], B: T[M, N]):
    for r in range(M):
        for t in range(M):
            for c in range(N):
                B[r, c] += A[t, r] * B[t, c]


def test_pack_reads_of_a_written_array_only_where_isl_proves_them_unwritten():
    rng = np.random.default_rng(8)
    A, B, w = rng.standard_normal((13, 13)), rng.standard_normal((13, 6)), rng.standard_normal(5)
    want = B.copy()
    want[:5] += w[:, None] * (A[5:, :5].T @ B[5:])
    f = uk.jit(below_head, pipeline="pack{arg=1,loop=r,along=t}", parallel=False)
    f(A, B, w)
    np.testing.assert_allclose(B, want, rtol=1e-12, atol=1e-12)
    assert f.ir("transformed").count("memref.alloc") == 1
    with pytest.raises(TransformError, match="not proved disjoint from its writes"):
        Pipeline.parse("pack{arg=1,loop=r,along=t}").trace(in_place, M=8, N=4)
    with pytest.raises(TransformError, match="writes the array where it would read the buffer"):
        Pipeline.parse("pack{arg=1,loop=r}").trace(below_head, M=8, N=4, H=3)
