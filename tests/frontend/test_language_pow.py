"""``x ** y`` by an exponent that is a value (issue 13: deriche's ``pow(2, -alpha)``):
``math.powf`` in the affine IR, expanded into exp/log polynomials before LLVM (no libm call,
vectorised), numpy's ``np.power`` of floats in every special case, the interpreter's result,
and integer bases refused with file:line (numpy raises on negative integer powers)."""
import re

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T, f32, f64, i32
from unrollkit.runtime.interpreter import interpret
from kernel_errors import refused_at

N = uk.sizes("N")  # the kernels' size names, for linters

HERE = __file__


def expect_error(fn, marker, message, call):
    refused_at(fn, HERE, message, call, marker)


@uk.kernel
def power_of(x: T["N"], y: T["N"], out: T["N"]):
    for i in range(N):
        out[i] = x[i] ** y[i]


SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, np.inf, -np.inf, np.nan, 3.0, -3.0,
           1e-30, 10.0, 1.5, -8.0, 0.3, 1 / 3, 64.0, -64.0, 65.0]
#: the largest distance from numpy's power in ulps: f32 and f16 are computed in f64 and rounded
#: once; f64 is exp(y log|x|) (`unrollkit.ir.math_pow`: 4 + 4 |y ln x| ulp, see `allowed`),
#: products for an integral |y| <= 64
ULPS = {np.float16: 1, np.float32: 1, np.float64: 4}


def allowed(x, y, dtype):
    """The ulps allowed at each (x, y): ``ULPS``, plus 4 |y ln |x|| in f64."""
    if dtype is not np.float64:
        return ULPS[dtype]
    with np.errstate(all="ignore"):
        scale = np.nan_to_num(np.abs(y * np.log(np.abs(x))), nan=0.0, posinf=0.0)
    return ULPS[dtype] + 4 * scale


def ulp_error(got, want, bound=1.0):
    """The largest distance of ``got`` from ``want`` in ulps (of ``want``'s type) over ``bound``."""
    with np.errstate(all="ignore"):
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        err = np.abs(got.astype(np.float64) - want) / np.spacing(np.abs(want)).astype(np.float64)
    return float(np.max(np.where(same, 0.0, err / bound)))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("options", [{}, {"factor": 4}, {"pipeline": "vectorize{width=8}"}])
def test_special_values_match_numpy_and_the_interpreter(dtype, options):
    xs, ys = np.meshgrid(SPECIAL, SPECIAL)
    x, y = xs.ravel().astype(dtype), ys.ravel().astype(dtype)
    got, ref = np.zeros_like(x), np.zeros_like(x)
    uk.jit(power_of, **options)(x, y, got)
    interpret(power_of, x, y, ref)
    with np.errstate(all="ignore"):
        want = np.power(x, y)
    assert ulp_error(got, want, allowed(x, y, dtype)) <= 1
    assert ulp_error(got, ref, allowed(x, y, dtype)) <= 1
    # the sign and the NaN of every special case exactly (0 ** -1 = inf, (-2) ** 3 = -8, ...)
    number = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[number]), np.signbit(want[number]))
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_random_values_are_within_a_few_ulp(dtype):
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 10, 4000).astype(dtype)
    y = rng.uniform(-4, 4, 4000).astype(dtype)
    got = np.zeros_like(x)
    uk.jit(power_of, pipeline="vectorize{width=8}")(x, y, got)
    assert ulp_error(got, np.power(x, y), allowed(x, y, dtype)) <= 1


def test_integer_and_index_exponents_are_converted():
    """An int exponent (an i32 array, a loop variable) of a float base: numpy's float power."""
    @uk.kernel
    def by_ints(x: f64["N"], n: i32["N"], out: f64["N"]):
        for i in range(N):
            out[i] = x[i] ** n[i] + 2.0 ** -x[i] + x[i] ** i

    x = np.linspace(-3, 3, 9)
    n = np.arange(-4, 5, dtype=np.int32)
    got, ref = np.zeros(9), np.zeros(9)
    uk.jit(by_ints, factor=2)(x, n, got)
    interpret(by_ints, x, n, ref)
    want = x ** n.astype(float) + 2.0 ** -x + x ** np.arange(9.0)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(ref, want, rtol=1e-14)


def test_powf_in_the_ir_and_no_libm_call(check_ir):
    f = uk.jit(power_of, pipeline="vectorize{width=8}")
    args = (np.ones(16, np.float32), np.ones(16, np.float32), np.zeros(16, np.float32))
    check_ir(f.ir("affine", *args))
    # CHECK: affine.for
    # CHECK: math.powf %{{.*}}, %{{.*}} : f32
    llvm = f.ir("llvm", *args)
    assert not re.search(r"call .*@(llvm\.)?pow", llvm), "a C library pow call"
    assert "<8 x double>" in llvm or "<8 x float>" in llvm


def test_pow_misuse_names_the_line():
    def int_base(x: i32["N"], y: i32["N"]):
        for i in range(N):
            x[i] = x[i] ** y[i]  # MARK
    expect_error(int_base, "# MARK", "x ** y of an i32 base: an integer base takes an int literal",
                 call=lambda k: uk.jit(k)(np.ones(3, np.int32), np.ones(3, np.int32)))

    def int_context(x: i32["N"], y: f32["N"]):
        for i in range(N):
            x[i] = 2 ** i  # MARK
    expect_error(int_context, "# MARK", "x ** y in an i32 expression",
                 call=lambda k: uk.jit(k)(np.ones(3, np.int32), np.ones(3, np.float32)))

    def mixed(x: f32["N"], y: f64["N"]):
        for i in range(N):
            x[i] = x[i] ** y[i]  # MARK
    expect_error(mixed, "# MARK", "mixes element types f32 and f64 in x ** y",
                 call=lambda k: uk.jit(k)(np.ones(3, np.float32), np.ones(3)))
