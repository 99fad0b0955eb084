"""The call's native fast path (unrollkit/runtime/dispatch.py, unrollkit/runtime/_fastcall.c) changes what a call
costs, never what it does: every argument the full checks would copy, refuse or explain takes
the full checks, and every result equals the checked path's."""
from __future__ import annotations

import threading

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.runtime import dispatch
from unrollkit.core.errors import ArgumentError

#: the fast path's own tests need the extension; whether it is built is itself a test (below)
needs_ext = pytest.mark.skipif(dispatch.FastCall is None, reason="the _fastcall extension is not built")


@uk.kernel
def saxpy(a: uk.T, x: uk.T["N"], y: uk.T["N"]):
    for i in range(N):
        y[i] += a * x[i]


@uk.kernel
def scale_rows(s: uk.T, A: uk.T["M", "K"], B: uk.T["M", "K"]):
    for i in range(M):
        for k in range(K):
            B[i, k] = A[i, k] * s


def fast_hits(f, args) -> bool:
    """Whether ``args`` are taken by one of ``f``'s fast paths (the kernel then ran)."""
    return any(fc(tuple(args)) for fc in f._fast)


def test_the_extension_is_built():
    # CI installs with a C compiler: a missing extension there is a build regression (this
    # test is deliberately not skipped when it is missing)
    assert dispatch.FastCall is not None


@needs_ext
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_fast_results_equal_checked_results(dtype):
    x = np.arange(1, 10, dtype=dtype)
    y = np.ones(9, dtype)
    f = uk.jit(saxpy, factor=4)
    f(3, x, y)                      # compiles; checked path
    assert f._fast and f._fast[0].owner is f.last
    y2 = np.ones(9, dtype)
    assert fast_hits(f, (3, x, y2))
    np.testing.assert_array_equal(y2, 1 + 3 * x)
    f(3, x, y2)                     # through __call__: fast
    np.testing.assert_array_equal(y2, 1 + 6 * x)


@needs_ext
def test_fast_path_keeps_last_current():
    f = uk.jit(saxpy)
    a, b = np.ones(5, np.float32), np.ones(7, np.float32)
    f(1.0, a, a.copy())
    first = f.last
    f(1.0, b, b.copy())
    second = f.last
    assert first is not second
    f(1.0, a, a.copy())             # fast: the first signature's code
    assert f.last is first


@needs_ext
def test_only_what_the_checks_accept_unchanged_is_fast():
    f = uk.jit(saxpy)
    x, y = np.ones(8, np.float32), np.zeros(8, np.float32)
    f(2.0, x, y)
    # accepted: the same signature again, an int for a float scalar, numpy scalars
    assert fast_hits(f, (2.0, x, y)) and fast_hits(f, (2, x, y))
    assert fast_hits(f, (np.float32(2.0), x, y)) and fast_hits(f, (np.int64(2), x, y))
    misses = {
        "other shape": (2.0, np.ones(9, np.float32), np.zeros(9, np.float32)),
        "other dtype": (2.0, x.astype(np.float64), y.astype(np.float64)),
        "strided input": (2.0, np.ones(16, np.float32)[::2], y),
        "read-only output": (2.0, x, np.zeros(8, np.float32)),
        "input aliases output": (2.0, y, y),
        "masked array": (2.0, np.ma.masked_array(x), y),
        "list": (2.0, [1.0] * 8, y),
        "numpy bool": (np.bool_(True), x, y),
        "numpy complex": (np.complex64(2.0), x, y),
        "bool scalar": (True, x, y),
        "too large for f32": (1e300, x, y),
        "huge int": (10 ** 400, x, y),
        "too few arguments": (2.0, x),
        "too many arguments": (2.0, x, y, y),
    }
    misses["read-only output"][2].flags.writeable = False
    before = y.copy()
    for why, args in misses.items():
        assert not fast_hits(f, args), why
    np.testing.assert_array_equal(y, before)  # nothing ran


@needs_ext
def test_misses_get_the_checked_behaviour():
    f = uk.jit(saxpy)
    x, y = np.arange(8, dtype=np.float32), np.zeros(8, np.float32)
    f(1.0, x, y)
    ro = np.zeros(8, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ArgumentError, match="read-only"):
        f(1.0, x, ro)
    with pytest.raises(ArgumentError, match="real number"):
        f(True, x, y)
    with pytest.raises(ArgumentError, match="takes 3 arguments"):
        f(1.0, x)
    # an input overlapping the output is copied first: the result is the out-of-place one
    y = np.arange(8, dtype=np.float32)
    want = y + 2 * y
    f(2.0, y, y)
    np.testing.assert_array_equal(y, want)
    # a strided input is copied to a contiguous one
    z = np.zeros(8, np.float32)
    f(1.0, np.arange(16, dtype=np.float32)[::2], z)
    np.testing.assert_array_equal(z, np.arange(16, dtype=np.float32)[::2])


@needs_ext
def test_integer_scalars_out_of_range_are_refused_not_wrapped():
    f = uk.jit(scale_rows)
    A, B = np.ones((3, 4), np.int32), np.zeros((3, 4), np.int32)
    f(2, A, B)
    with pytest.raises(ArgumentError, match="does not fit"):
        f(2 ** 31, A, B)
    np.testing.assert_array_equal(B, 2 * A)
    f(-(2 ** 31), A, B)
    np.testing.assert_array_equal(B, -(2 ** 31) * A)


@needs_ext
def test_numpy_scalars_pass_as_the_checks_convert_them():
    f = uk.jit(scale_rows)
    A, B = np.full((2, 3), 3, np.int32), np.zeros((2, 3), np.int32)
    f(2, A, B)
    assert fast_hits(f, (np.int32(5), A, B)) and fast_hits(f, (np.int64(-7), A, B))
    np.testing.assert_array_equal(B, -21)
    assert not fast_hits(f, (np.float64(2.0), A, B))   # an integral float: the checks decide
    f(np.float64(2.0), A, B)
    np.testing.assert_array_equal(B, 6)
    assert not fast_hits(f, (np.int64(2 ** 40), A, B))  # does not fit i32
    with pytest.raises(ArgumentError, match="does not fit"):
        f(np.int64(2 ** 40), A, B)
    with pytest.raises(ArgumentError, match="real number"):
        f(np.bool_(True), A, B)


@needs_ext
def test_two_dimensional_shapes_are_compared_per_dimension():
    f = uk.jit(scale_rows)
    f(1.0, np.ones((3, 4)), np.zeros((3, 4)))
    assert not fast_hits(f, (1.0, np.ones((4, 3)), np.zeros((4, 3))))
    B = np.zeros((4, 3))
    f(5.0, np.ones((4, 3)), B)  # a new signature through the checks
    np.testing.assert_array_equal(B, 5.0)


@needs_ext
def test_fast_paths_are_bounded_and_recent_first():
    f = uk.jit(saxpy)
    for n in range(1, 8):
        f(1.0, np.ones(n), np.zeros(n))
    assert len(f._fast) == dispatch.FAST_SIGNATURES
    assert f._fast[0].owner.signature.shape_map()["x"] == (7,)


@needs_ext
def test_fast_calls_from_threads_while_other_signatures_compile():
    f = uk.jit(saxpy)
    x = np.arange(1 << 16, dtype=np.float64)
    f(1.0, x, np.zeros_like(x))
    errors = []

    def caller():
        try:
            for _ in range(200):
                y = np.zeros_like(x)
                f(2.0, x, y)
                if not np.array_equal(y, 2 * x):
                    errors.append("wrong result")
        except Exception as exc:  # collected and asserted below
            errors.append(repr(exc))

    threads = [threading.Thread(target=caller) for _ in range(3)]
    for t in threads:
        t.start()
    for n in range(1, 40):  # beyond the LRU: evicts the callers' signature meanwhile
        f(1.0, np.ones(n), np.zeros(n))
    for t in threads:
        t.join()
    assert errors == []
