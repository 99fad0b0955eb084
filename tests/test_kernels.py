"""Every built-in kernel × unroll factor × size × dtype matches numpy."""
import numpy as np
import pytest

import unrollkit as uk
from unrollkit.kernels import ALL, gemm_order

from references import check_outputs, make_args, reference

FACTORS = [1, 2, 3, 4, 8, 16]
SIZES = [1, 7, 64, 1000, 1027]
FLOATS = [np.float32, np.float64]
INT_OK = {"mac", "dot", "gemm", "gemv", "iir", "prefix_sum"}  # jacobi1d divides


def cases():
    for name in ALL:
        for dt in FLOATS + ([np.int32] if name in INT_OK else []):
            yield name, dt


@pytest.mark.parametrize("name,dt", list(cases()), ids=lambda x: getattr(x, "__name__", x))
@pytest.mark.parametrize("factor", FACTORS)
def test_kernel_matches_numpy(name, dt, factor):
    f = uk.jit(ALL[name], factor=factor)
    for n in SIZES:
        args = make_args(name, n, dt, seed=n)
        expected = reference(name, args)
        f(*args)
        check_outputs(name, args, expected)


@pytest.mark.parametrize("name", sorted(ALL))
def test_zero_size(name):
    args = make_args(name, 0, np.float64)
    expected = reference(name, args)
    uk.jit(ALL[name], factor=4)(*args)
    check_outputs(name, args, expected)


@pytest.mark.parametrize("order", ["ijk", "ikj", "jik", "jki", "kij", "kji"])
def test_gemm_loop_orders(order):
    k = gemm_order(order)
    assert [lp.name for lp in k.loops()] == list(order)
    args = make_args("gemm", 37, np.float32)
    expected = reference("gemm", args)
    uk.jit(k, factor=4)(*args)
    check_outputs("gemm", args, expected)


def test_readme_example():
    A = np.random.rand(512, 300).astype(np.float32)
    B = np.random.rand(300, 257).astype(np.float32)
    C = np.zeros((512, 257), np.float32)
    f = uk.jit(ALL["gemm"], factor=4)
    f(A, B, C)
    np.testing.assert_allclose(C, A @ B, rtol=1e-4)
    for stage in ("affine", "transformed", "llvm", "asm"):
        assert f.ir(stage)


def test_user_kernel_saxpy():
    @uk.kernel
    def saxpy(a: uk.f32, x: uk.f32["N"], y: uk.f32["N"]):
        for i in range(N):  # noqa: F821  (N is a size bound from the arrays' shapes)
            y[i] += a * x[i]

    x = np.arange(10, dtype=np.float32)
    y = np.ones(10, np.float32)
    uk.jit(saxpy, factor=3)(2.0, x, y)
    np.testing.assert_array_equal(y, 1 + 2 * np.arange(10, dtype=np.float32))


def test_triangular_and_min_max_bounds():
    @uk.kernel
    def tri(A: uk.f64["N", "N"], out: uk.f64["N", "N"]):
        for i in range(N):  # noqa: F821
            for j in range(i + 1, N):  # noqa: F821
                out[i, j] = A[i, j] - A[j, i]
        for i in range(N):  # noqa: F821
            for j in range(max(0, i - 2), min(N, i + 3)):  # noqa: F821
                out[j, i] += 1.0

    n = 11
    A = np.random.rand(n, n)
    out = np.zeros((n, n))
    exp = np.triu(A - A.T, 1) + (np.abs(np.subtract.outer(np.arange(n), np.arange(n))) <= 2)
    # the triangular loop unrolls; the min/max-bounded one is compiled rolled
    for factors in (1, {"i": 3}):
        out[...] = 0
        uk.jit(tri, factor=factors)(A, out)
        np.testing.assert_allclose(out, exp)


def test_unrolling_a_min_max_bounded_loop_is_a_clear_error():
    @uk.kernel
    def band(out: uk.f64["N", "N"]):
        for i in range(N):  # noqa: F821
            for j in range(max(0, i - 2), min(N, i + 3)):  # noqa: F821
                out[j, i] += 1.0

    with pytest.raises(uk.TransformError, match="loop 'j'.*min\\(\\)/max\\(\\)"):
        uk.jit(band, factor=4)(np.zeros((9, 9)))


def test_triangular_loop_unrolls():
    @uk.kernel
    def upper(A: uk.f64["N", "N"], out: uk.f64["N", "N"]):
        for i in range(N):  # noqa: F821
            for j in range(i + 1, N):  # noqa: F821
                out[i, j] = A[i, j] - A[j, i]

    A = np.random.rand(13, 13)
    for factor in (2, 3, 4, 16):
        out = np.zeros((13, 13))
        uk.jit(upper, factor=factor)(A, out)
        np.testing.assert_allclose(out, np.triu(A - A.T, 1))


def test_locals_min_max_neg_division_and_steps():
    @uk.kernel
    def k(x: uk.f32["N"], y: uk.f32["N"], s: uk.f32):
        for i in range(0, N, 2):  # noqa: F821
            t = x[i] * s - 1.0
            y[i] = max(-t, min(t / 2.0, 3.0)) + i

    x = np.linspace(-5, 5, 9).astype(np.float32)
    y = np.zeros(9, np.float32)
    uk.jit(k, factor=3)(x, y, 1.5)
    t = x * np.float32(1.5) - 1
    exp = np.zeros(9, np.float32)
    exp[::2] = (np.maximum(-t, np.minimum(t / 2, 3)) + np.arange(9))[::2]
    np.testing.assert_allclose(y, exp, rtol=1e-6)


def test_integer_kernels_wrap_like_machine_code():
    @uk.kernel
    def sq(x: uk.i32["N"], y: uk.i64["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] * x[i] - 7
            y[i] = y[i] * 3 + i

    x = np.array([2, 100000, -3], np.int32)
    y = np.array([1, 2, 3], np.int64)
    uk.jit(sq, factor=2)(x, y)
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(x, np.array([2, 100000, -3], np.int32) ** 2 - 7)
    np.testing.assert_array_equal(y, [3, 7, 11])


def test_each_signature_compiles_once_and_is_kept():
    f = uk.jit(ALL["mac"], factor=2)
    a = [np.ones(8, np.float32) for _ in range(3)]
    f(*a)
    first = f.last
    f(*a)
    assert f.last is first
    b = [np.ones(9, np.float32) for _ in range(3)]
    f(*b)
    assert f.last is not first and f.last.signature != first.signature
    f(*a)
    assert f.last is first
