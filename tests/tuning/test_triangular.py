"""Triangular rank-k updates (unrollkit/tuning/triangular.py): syrk recognised from its
accesses, rewritten into GEMM nests below the diagonal and vectorised dots on it, every result
against numpy at odd sizes in f32 and f64; forms that are not this update keep their path; the
``pack{along=}`` option that packs one of two reads of an array. No timing.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T
from unrollkit.core.target import host_target
from unrollkit.frontend.signature import sizes_of
from unrollkit.kernels.polybench import REGISTRY
from unrollkit.tuning.gemm_schedule import TriangularSchedule, gemm_schedule
from unrollkit.tuning.triangular import recognise_triangular

N, M = uk.sizes("N M")
TOL = {np.float32: 2e-6, np.float64: 1e-14}


def _check(kernel, args, want, dt, reduction):
    f = uk.jit(kernel, factor="auto", parallel=False)
    f(*args)
    out = args[2] if len(args) > 3 else args[0]
    scale = max(1.0, float(np.abs(want).max(initial=0)))
    assert np.abs(out - want).max(initial=0) <= TOL[dt] * scale * max(1, reduction)
    assert f.last.plan.variant == "blas"
    return f


def _syrk_args(n, m, dt, seed=0):
    rng = np.random.default_rng(seed + 7 * n + m)
    return [1.5, 0.5, rng.standard_normal((n, n)).astype(dt), rng.standard_normal((n, m)).astype(dt)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n, m", [(1, 5), (5, 1), (17, 257), (100, 17), (128, 33), (257, 100)])
def test_polybench_syrk_matches_numpy_at_odd_sizes(n, m, dt):
    """Sizes below one block (1, 5, 17: the corner's dots only), whole blocks only (128: B is
    64 in f32, 32 in f64), and blocks with rows left over (100, 257: the strip and the
    corner); the upper triangle stays as it was."""
    kernel, ref, _, _ = REGISTRY["syrk"]
    args = _syrk_args(n, m, dt)
    want = ref(*args)["C"]
    _check(kernel, args, want, dt, m)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n, m", [(1, 5), (5, 1), (17, 257), (100, 17), (257, 100)])
def test_polybench_syr2k_matches_numpy_at_odd_sizes(n, m, dt):
    """Two products per element (``A[j, k] · alpha · B[i, k] + B[j, k] · alpha · A[i, k]``):
    a set of GEMM nests each, the corner's dots two accumulators."""
    kernel, ref, _, _ = REGISTRY["syr2k"]
    rng = np.random.default_rng(n + 3 * m)
    args = [1.5, 0.5] + [rng.standard_normal(s).astype(dt) for s in ((n, n), (n, m), (n, m))]
    want = ref(*args)["C"]
    _check(kernel, args, want, dt, 2 * m)


@uk.kernel
def syrk_ijk_minus(S: T[N, N], X: T[N, M]):
    """S -= X Xᵀ on the lower triangle, i-j-k order, no coefficient."""
    for r in range(N):
        for c in range(r + 1):
            for t in range(M):
                S[r, c] -= X[c, t] * X[r, t]


@uk.kernel
def syrk_two_coefficients(alpha: T, S: T[N, N], X: T[N, M]):
    """S += 2 alpha X Xᵀ on the lower triangle (a constant and a scalar: not folded into the packing)."""
    for r in range(N):
        for t in range(M):
            for c in range(r + 1):
                S[r, c] = S[r, c] + 2.0 * alpha * X[r, t] * X[c, t]


@uk.kernel
def two_operands(S: T[N, N], X: T[N, M], Y: T[N, M]):
    """S += X Yᵀ on the lower triangle (two arrays: the products of syr2k, one at a time)."""
    for r in range(N):
        for c in range(r + 1):
            for t in range(M):
                S[r, c] += X[r, t] * Y[c, t]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_other_spellings_match_numpy(dt):
    rng = np.random.default_rng(3)
    S, X = rng.standard_normal((131, 131)).astype(dt), rng.standard_normal((131, 37)).astype(dt)
    lower = np.tri(131, dtype=bool)
    want = np.where(lower, S - X.astype(np.float64) @ X.T.astype(np.float64), S)
    _check(syrk_ijk_minus, [S, X], want, dt, 37)
    Y = rng.standard_normal((131, 37)).astype(dt)
    S3 = S.copy()
    _check(two_operands, [S3, X, Y], np.where(lower, S3 + X.astype(np.float64) @ Y.T.astype(np.float64), S3), dt, 37)
    S2 = S.copy()
    want = np.where(lower, S2 + 2.0 * 0.75 * X.astype(np.float64) @ X.T.astype(np.float64), S2)
    f = uk.jit(syrk_two_coefficients, factor="auto", parallel=False)
    f(0.75, S2, X)
    assert np.abs(S2 - want).max() <= TOL[dt] * np.abs(want).max() * 37


def test_schedule_spells_blocks_and_packs_one_read():
    kernel = REGISTRY["syrk"][0]
    args = _syrk_args(300, 200, np.float32)
    sig, _ = uk.jit(kernel, factor="auto").signature(args)
    s = gemm_schedule(kernel, sig)
    # below the diagonal, the diagonal blocks (into a buffer), and the strip of rows left over
    assert isinstance(s, TriangularSchedule) and len(s.parts) == 3
    text = s.pipeline().text()
    assert all(f"along={j}" in text for j in ("j", "j_t", "j_s")) and "vectorize{loop=k_d" in text
    assert [la.name for la in s.kernel.local_arrays] == ["diag0"]
    assert "triangular rank-k update" in s.describe()
    n, _ = s.tri.trips(sizes_of(kernel, sig))
    assert n == 300 and s.block >= 8


def test_describe_names_each_nest_and_the_corner_only_when_there_is_one():
    kernel = REGISTRY["syrk"][0]
    with_corner = _schedule_at(kernel, 300, np.float32)
    assert with_corner.dot is not None and 300 % with_corner.block
    text = with_corner.describe()
    assert text.startswith(f"triangular rank-k update (i: rows, j ≤ i: columns, k: reduction) in blocks of "
                           f"{with_corner.block}: 3 GEMM nest(s)"), text
    assert ", the corner's dot products vectorised (2 registers); nest 1: " in text, text
    assert "; nest 2: " in text and "; nest 3: " in text and "nest 0" not in text and "nest 4" not in text
    assert "vectorize{loop=k_d,reductions=true,registers=2}" in with_corner.pipeline().text()
    exact = _schedule_at(kernel, 4 * with_corner.block, np.float32)  # whole blocks: no corner
    assert exact.dot is None and "corner" not in exact.describe() and "XX" not in exact.describe()


def test_the_block_is_the_given_targets_register_tile():
    kernel = REGISTRY["syrk"][0]
    host = host_target()
    narrow = dataclasses.replace(host, vector_bits=256, preferred_vector_bits=256, vector_registers=16)
    wide = dataclasses.replace(host, vector_bits=512, preferred_vector_bits=128, vector_registers=32)
    blocks = {}
    for name, t in (("narrow", narrow), ("wide", wide)):
        sig, _ = uk.jit(kernel, factor="auto").signature(_syrk_args(300, 200, np.float32))
        s = gemm_schedule(kernel, sig, target=t)
        # the block is whole vectors of the target's widest registers (not the vectorisers' preference)
        assert s.block % (t.vector_bits // 32) == 0, (name, s.block)
        # and every GEMM nest is derived for that target too
        assert all(p.registers == t.vector_registers and p.elem_bytes == 4 for p in s.parts), name
        blocks[name] = s.block
    assert blocks["narrow"] != blocks["wide"]


def test_a_double_precision_update_is_scheduled_for_8_byte_elements():
    s = _schedule_at(REGISTRY["syrk"][0], 300, np.float64)
    assert all(p.elem_bytes == 8 for p in s.parts) and s.block % 8 == 0


def test_variant_blas_takes_a_triangular_update():
    kernel = REGISTRY["syrk"][0]
    args = _syrk_args(37, 11, np.float64)
    want = REGISTRY["syrk"].reference(*args)["C"]
    uk.jit(kernel, variant="blas")(*args)      # match_gemm recognises it (no "is not one" refusal)
    np.testing.assert_allclose(args[2], want, rtol=1e-12, atol=1e-12)


def _schedule_at(kernel, n: int, dt):
    sig, _ = uk.jit(kernel, factor="auto").signature(_syrk_args(n, 50, dt))
    return gemm_schedule(kernel, sig)


@uk.kernel
def upper(S: T[N, N], X: T[N, M]):
    for r in range(N):
        for c in range(r, N):
            for t in range(M):
                S[r, c] += X[r, t] * X[c, t]


@uk.kernel
def strict(S: T[N, N], X: T[N, M]):
    for r in range(N):
        for c in range(r):
            for t in range(M):
                S[r, c] += X[r, t] * X[c, t]


@uk.kernel
def transposed_product(S: T[N, N], X: T[M, N]):
    for r in range(N):
        for c in range(r + 1):
            for t in range(M):
                S[r, c] += X[t, r] * X[t, c]


@pytest.mark.parametrize("kernel", [upper, strict, transposed_product])
def test_other_triangles_are_not_this_update_and_still_run(kernel):
    """Not recognised (yet): they keep the cost model's path, still checked against numpy."""
    assert recognise_triangular(kernel) is None
    rng = np.random.default_rng(1)
    args = [rng.standard_normal((9, 9))] + [rng.standard_normal((9, 4) if kernel is not transposed_product
                                                                 else (4, 9)) for _ in kernel.params[1:]]
    S0 = args[0].copy()
    uk.jit(kernel, factor="auto", parallel=False)(*args)
    X = args[1] if kernel is not transposed_product else args[1].T
    r, c = np.indices((9, 9))
    mask = {upper: c >= r, strict: c < r}.get(kernel, c <= r)
    np.testing.assert_allclose(args[0], np.where(mask, S0 + X @ X.T, S0), rtol=1e-12, atol=1e-12)


@uk.kernel
def self_product(S: T[N, N], X: T[N, M]):
    for r in range(N):
        for t in range(M):
            for c in range(N):
                S[r, c] += X[r, t] * X[c, t]


@pytest.mark.parametrize("n, m", [(1, 1), (7, 5), (33, 17)])
def test_pack_along_packs_the_columns_read_only(n, m):
    """``pack{along=c}``: X is read twice; only ``X[c, t]`` (inside loop c) goes through the
    buffer, ``X[r, t]`` stays in place (a plain pack of both would join two footprints that
    move differently)."""
    rng = np.random.default_rng(n + m)
    S, X = rng.standard_normal((n, n)), rng.standard_normal((n, m))
    want = S + X @ X.T
    f = uk.jit(self_product, pipeline="pack{arg=1,loop=r,transpose=true,along=c}", parallel=False)
    f(S, X)
    np.testing.assert_allclose(S, want, rtol=1e-12, atol=1e-12)
    text = f.ir("transformed")
    assert f"memref<{m}x{n}xf64>" in text  # X transposed, whole: the footprint of X[c, t] at each r
    assert text.count("affine.load %arg1") == 2  # the copy's read, and X[r, t] in place
