"""Conversions to the generic element type, ``T(x)`` (issue 13: PolyBench's
``(DATA_TYPE)tsteps``): one T per call, so ``T(x)`` converts to the dtype the call's T arrays
have, in the IR, in the interpreter, and refused in a kernel with no T array."""
import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T, i32
from unrollkit.runtime.interpreter import interpret

N = uk.sizes("N")  # the kernels' size names, for linters


@uk.kernel
def scaled_steps(tsteps: i32, x: T["N"], y: T["N"]):
    dt = 1.0 / T(tsteps)
    for i in range(N):
        y[i] = x[i] * dt + T(i) / T(N)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_generic_conversion_matches_the_interpreter(dtype):
    x = (np.arange(7) * 0.37).astype(dtype)
    got, want = np.zeros(7, dtype), np.zeros(7, dtype)
    uk.jit(scaled_steps, factor=2)(3, x, got)
    interpret(scaled_steps, 3, x, want)
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(dtype).eps)  # a*b+c may fuse
    expect = (x * (dtype(1) / dtype(3)) + np.arange(7).astype(dtype) / dtype(7)).astype(dtype)
    np.testing.assert_allclose(got, expect, rtol=4 * np.finfo(dtype).eps)


def test_generic_conversion_ir(check_ir):
    f = uk.jit(scaled_steps)
    check_ir(f.ir("affine", 3, np.zeros(4, np.float32), np.zeros(4, np.float32)))
    # CHECK: func.func @scaled_steps(%[[T:.*]]: i32, %{{.*}}: memref<4xf32>
    # CHECK: arith.sitofp %[[T]] : i32 to f32
    # CHECK: arith.divf
    # CHECK: affine.for


def test_generic_conversion_of_an_integer_array_value():
    """T bound to int32: a float scalar's T(...) truncates toward zero as astype does."""
    @uk.kernel
    def floors(s: uk.f64, x: T["N"]):
        for i in range(N):
            x[i] = x[i] + T(s)
    x, want = np.arange(4, dtype=np.int32), np.arange(4, dtype=np.int32)
    uk.jit(floors)(-2.7, x)
    interpret(floors, -2.7, want)
    np.testing.assert_array_equal(x, np.arange(4) - 2)
    np.testing.assert_array_equal(x, want)
