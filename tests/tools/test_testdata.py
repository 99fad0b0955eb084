"""The one source of test data (unrollkit/tools/testdata.py): reproducible arguments, the numpy
references of the built-in kernels, and the tolerance of each element type."""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.kernels import ALL
from unrollkit.runtime.interpreter import interpret
from unrollkit.tools import testdata


@uk.kernel
def typed(x: uk.T["N"], idx: uk.i32["M"], s: uk.T, k: uk.i32):
    for i in range(N):
        x[i] = x[i] * s + k


def test_arguments_are_reproducible_sized_by_name_and_typed_per_parameter():
    a = testdata.make_args(typed, {"N": 5, "M": 3}, "f64", seed=7)
    b = testdata.make_args(typed, {"N": 5, "M": 3}, np.float64, seed=7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], testdata.make_args(typed, {"N": 5, "M": 3}, "f64", seed=8)[0])
    x, idx, s, k = a
    assert (x.shape, x.dtype, idx.shape, idx.dtype) == ((5,), np.float64, (3,), np.int32)
    assert (s, k) == (0.5, 3) and type(s) is float and type(k) is int
    assert ((0 <= x) & (x < 1)).all() and ((-5 <= idx) & (idx < 5)).all()
    with pytest.raises(KeyError):
        testdata.make_args(typed, {"N": 5}, "f32")
    assert testdata.make_args(typed, {"N": 5}, "f32", default_size=64)[1].shape == (64,)


def test_ranges_scalars_and_allocation_are_the_callers():
    seen = []

    def empty(i, shape, dt):
        seen.append((i, shape, np.dtype(dt)))
        return np.zeros(shape, dt)

    x, idx, s, k = testdata.make_args(typed, {"N": 400, "M": 400}, "f32", floats=(-1.0, 1.0), ints=(-9, 10),
                                      scalar_float=(-1.0, 1.0), scalar_int=(-3, 4), empty=empty)
    assert seen == [(0, (400,), np.dtype(np.float32)), (1, (400,), np.dtype(np.int32))]
    assert x.min() < -0.5 and x.max() > 0.5 and idx.min() == -9 and idx.max() == 9
    assert -1 <= s < 1 and -3 <= k < 4


@pytest.mark.parametrize("name", sorted(testdata.REFERENCES))
def test_each_reference_computes_what_the_kernel_computes(name):
    sizes = testdata.uneven_sizes(name, 9)
    args = testdata.make_args(name, sizes, "f64", seed=1, floats=(-1.0, 1.0))
    expected = testdata.reference(name, args)
    interpret(ALL[name], *args)
    assert not testdata.check_outputs(name, args, expected)
    for pos, (want, scale) in expected.items():
        assert (scale >= np.abs(want) - 1e-12).all()  # the scale bounds the result


def test_integer_references_wrap_like_machine_code():
    a = np.full(4, 1 << 16, np.int32)
    (want, _), = testdata.reference("mac", [a, a, np.ones(4, np.int32)]).values()
    assert want.dtype == np.int32 and (want == 1).all()  # 2**32 wraps to 0


def test_one_tolerance_per_element_type():
    assert testdata.tolerance("i32") == testdata.tolerance(np.int64, 10 ** 6) == 0.0
    f32, f64 = testdata.tolerance("f32", 100), testdata.tolerance(np.float64, 100)
    assert f32 == pytest.approx(16 * np.finfo(np.float32).eps * 10) and f64 < f32 * 1e-8
    assert testdata.tolerance("f32", 400) == pytest.approx(2 * f32)  # grows as sqrt(terms)
    assert testdata.tolerance("f32") == 2e-4 and testdata.tolerance("f64") == 1e-9


def test_a_wrong_element_is_caught_and_rounding_is_not():
    want = np.linspace(-1, 1, 1000)
    got = (want + want * 4 * np.finfo(np.float32).eps).astype(np.float32)
    assert testdata.mismatch(got, want, np.abs(want), terms=1000) == ""
    got[500] += 1e-3
    assert "relative error" in testdata.mismatch(got, want, np.abs(want), terms=1000)
    assert testdata.mismatch(np.array([1, 2], np.int32), np.array([1, 3])) == "integers differ"
    assert testdata.mismatch(np.array([np.inf]), np.array([np.inf])) == ""
    assert testdata.mismatch(np.array([np.nan]), np.array([0.0])) != ""
