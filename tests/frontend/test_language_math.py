"""Math in kernels (issue 13): uk.exp/log/sqrt/tanh/abs/floor/ceil (and math's and numpy's
namesakes), ``x ** n``, through the MLIR math dialect; exp/log/tanh vectorise as polynomials
(no C library call per lane); results within a few ulp of numpy; misuse is file:line."""
import math
import re

import numpy as np
import pytest
from numpy import sqrt as np_sqrt

import unrollkit as uk
from unrollkit import T, f32, i32
from unrollkit.runtime.interpreter import interpret
from unrollkit.kernels import layernorm, layernorm_numpy, softmax, softmax_numpy

from kernel_errors import expecting

HERE = __file__


def unary(fn_name):
    """``y[i] = uk.<fn_name>(x[i])`` as a generic kernel."""
    src = (f"def k_{fn_name}(x: T['N'], y: T['N']):\n"
           f"    for i in range(N):\n"
           f"        y[i] = uk.{fn_name}(x[i])\n")
    from unrollkit.frontend.parse import parse_kernel
    return parse_kernel(src, filename="<math>", env={"uk": uk, "T": T})


def ulps(got, want64, dtype):
    """The largest distance of ``got`` from the exact ``want64`` in ulps of ``dtype`` (equal
    values, both NaN, or both the same infinity count 0)."""
    with np.errstate(all="ignore"):  # overflow to inf and inf - inf are compared as values
        want = want64.astype(dtype)
        same = (got == want) | (np.isnan(got) & np.isnan(want))
        err = np.abs(got.astype(np.float64) - want64) / np.spacing(np.abs(want)).astype(np.float64)
    return float(np.max(np.where(same, 0.0, err)))


SPECIAL = [0.0, -0.0, np.inf, -np.inf, np.nan]
RANGES = {
    "exp": lambda rng, dt: np.r_[rng.uniform(-110, 90, 20000) if dt == np.float32 else
                                 rng.uniform(-750, 712, 20000), rng.uniform(-1, 1, 2000), 1e-30],
    "log": lambda rng, dt: np.r_[np.exp(rng.uniform(-80, 80, 20000)), rng.uniform(0.5, 2, 2000),
                                 -1.0, 1e-40, 1e-45, 1.0, np.finfo(dt).max],
    "tanh": lambda rng, dt: np.r_[rng.uniform(-25, 25, 20000), rng.uniform(-1e-3, 1e-3, 2000), 1e-30],
    "sqrt": lambda rng, dt: np.r_[rng.uniform(0, 1e6, 5000), -1.0],
    "abs": lambda rng, dt: rng.uniform(-1e6, 1e6, 5000),
    "floor": lambda rng, dt: rng.uniform(-1e3, 1e3, 5000),
    "ceil": lambda rng, dt: rng.uniform(-1e3, 1e3, 5000),
}
#: ulps allowed: the polynomials (exp, log, tanh) against numpy in float64; the others are exact
TOLERANCE = {"exp": 2, "log": 3, "tanh": 3}


@pytest.mark.parametrize("name", list(RANGES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_math_function_matches_numpy(name, dtype):
    rng = np.random.default_rng(0)
    x = np.r_[RANGES[name](rng, dtype), SPECIAL].astype(dtype)
    y = np.zeros_like(x)
    with np.errstate(all="ignore"):
        uk.jit(unary(name), factor=4)(x, y)
        exact = getattr(np, "absolute" if name == "abs" else name)(x.astype(np.float64))
    assert ulps(y, exact, dtype) <= TOLERANCE.get(name, 0), name
    # the interpreter (numpy in the element type) agrees within the same bound
    z = np.zeros_like(x[:500])
    with np.errstate(all="ignore"):
        interpret(unary(name), x[:500].copy(), z)
    assert ulps(y[:500], z.astype(np.float64), dtype) <= TOLERANCE.get(name, 0) + 1


def test_a_vectorised_exp_loop_calls_no_library_function():
    f = uk.jit(unary("exp"))
    x = np.linspace(-5, 5, 1024, dtype=np.float32)
    y = np.zeros_like(x)
    f(x, y)
    np.testing.assert_allclose(y, np.exp(x), rtol=3e-7)
    llvm = f.ir("llvm-opt")
    called = set(re.findall(r"call [^@]*@\"?([\w.]+)", llvm))
    assert called - {"uk_k__exp"} <= {c for c in called if c.startswith("llvm.")}, called
    assert not any(c.startswith(("llvm.exp", "llvm.log", "llvm.tanh")) for c in called), called
    assert "<16 x float>" in llvm  # LLVM's loop vectoriser vectorised it (AVX-512: 16 lanes)
    kernel_asm = f.ir("asm").split("uk_k__exp:", 1)[1].split(".Lfunc_end", 1)[0]
    assert "zmm" in kernel_asm and "call" not in kernel_asm


def test_math_ops_in_the_affine_ir(check_ir):
    @uk.kernel
    def every(x: f32["N"], y: f32["N"], n: i32["N"]):
        for i in range(N):
            y[i] = uk.exp(x[i]) + math.log(x[i]) + np_sqrt(x[i]) + np.tanh(x[i]) \
                + abs(x[i]) + uk.floor(x[i]) + math.ceil(x[i]) + x[i] ** 3 + x[i] ** 0.5 + x[i] ** -1
            n[i] = uk.abs(n[i]) ** 2
    f = uk.jit(every)
    f(np.ones(4, np.float32), np.zeros(4, np.float32), np.ones(4, np.int32))
    check_ir(f.ir("affine"))
    # CHECK: math.exp %{{.*}} : f32
    # CHECK: math.log %{{.*}} : f32
    # CHECK: math.sqrt %{{.*}} : f32
    # CHECK: math.tanh %{{.*}} : f32
    # CHECK: math.absf %{{.*}} : f32
    # CHECK: math.floor %{{.*}} : f32
    # CHECK: math.ceil %{{.*}} : f32
    # x ** 3: x * x, then times x
    # CHECK: %[[X2:.*]] = arith.mulf %[[X:.*]], %[[X]] : f32
    # CHECK: arith.mulf %[[X]], %[[X2]] : f32
    # CHECK: math.sqrt
    # CHECK: arith.divf
    # CHECK: math.absi %{{.*}} : i32
    # CHECK: arith.muli


@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 8, 13, -1, -2, -7, 0.5])
def test_power_matches_numpy(n):
    @uk.kernel
    def p(x: T["N"], y: T["N"]):
        for i in range(N):
            y[i] = x[i] ** n
    x = np.random.default_rng(1).uniform(0.5, 1.5, 33)
    y = np.zeros_like(x)
    uk.jit(p, factor=4)(x, y)
    np.testing.assert_allclose(y, x ** n, rtol=1e-14)
    z = np.zeros_like(x)
    interpret(p, x, z)
    np.testing.assert_allclose(y, z, rtol=1e-14)


def test_integer_power_wraps_like_machine_code():
    @uk.kernel
    def cube(x: i32["N"], y: i32["N"]):
        for i in range(N):
            y[i] = x[i] ** 3
    x = np.array([-7, 0, 3, 2000], np.int32)
    y, z = np.zeros_like(x), np.zeros_like(x)
    uk.jit(cube)(x, y)
    interpret(cube, x, z)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(y, x * x * x)
    np.testing.assert_array_equal(y, z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"factor": "auto"}])
def test_softmax_and_layernorm_match_numpy(dtype, kw):
    rng = np.random.default_rng(2)
    tol = 2e-6 if dtype == np.float32 else 1e-14
    for m, n in ((1, 1), (3, 17), (8, 64), (5, 257)):
        x = (rng.standard_normal((m, n)) * 4).astype(dtype)
        y, want = np.zeros_like(x), np.zeros_like(x)
        uk.jit(softmax, **kw)(x, y)
        softmax_numpy(x, want)
        np.testing.assert_allclose(y, want, rtol=tol * 4, atol=tol)
        g, b = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
        uk.jit(layernorm, **kw)(x, g, b, 1e-5, y)
        layernorm_numpy(x, g, b, dtype(1e-5), want)
        np.testing.assert_allclose(y, want, rtol=tol * 10, atol=tol * 10)


def test_softmax_and_layernorm_agree_with_the_interpreter():
    x = np.random.default_rng(3).standard_normal((3, 11)).astype(np.float32)
    y1, y2 = np.zeros_like(x), np.zeros_like(x)
    uk.jit(softmax, factor=2)(x, y1)
    interpret(softmax, x, y2)
    np.testing.assert_allclose(y1, y2, rtol=1e-6)
    g, b = np.ones(11, np.float32), np.zeros(11, np.float32)
    uk.jit(layernorm)(x, g, b, 1e-5, y1)
    interpret(layernorm, x, g, b, 1e-5, y2)
    np.testing.assert_allclose(y1, y2, rtol=1e-5, atol=1e-6)


expect_error = expecting(HERE)


def test_math_errors():
    def two_args(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = uk.exp(x[i], 2.0)  # MARK
    expect_error(two_args, "# MARK", "uk.exp() takes exactly one argument")

    def sin(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = math.sin(x[i])  # MARK
    expect_error(sin, "# MARK", "call to math.sin() is not supported")

    def int_exp(x: i32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = uk.exp(x[i])  # MARK
    expect_error(int_exp, "# MARK", "exp() of an i32 value",
                 call=lambda k: uk.jit(k)(np.ones(3, np.int32)))

    def generic_int_log(x: T["N"]):
        for i in range(N):  # noqa: F821
            x[i] = uk.log(x[i])  # MARK
    expect_error(generic_int_log, "# MARK", "log() of an i64 value",
                 call=lambda k: uk.jit(k)(np.ones(3, np.int64)))

    def big_exponent(x: i32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] ** 65  # MARK
    expect_error(big_exponent, "# MARK", "x ** y of an i32 base: an integer base takes an int literal",
                 call=lambda k: uk.jit(k)(np.ones(3, np.int32)))

    def int_negative_power(x: i32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] ** -1  # MARK
    expect_error(int_negative_power, "# MARK", "** -1 of an i32 value",
                 call=lambda k: uk.jit(k)(np.ones(3, np.int32)))
