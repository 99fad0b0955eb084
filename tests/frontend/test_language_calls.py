"""Unrolling written in the source (uk.unroll, uk.range(..., unroll=n)) and calling like Python
(@uk.jit on a plain function, keyword arguments, short reprs) — issue 13, items 6 and 7."""
import inspect

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T, f32
from unrollkit.runtime.interpreter import interpret

from kernel_errors import expecting

HERE = __file__
W = 3  # a global constant: a fixed trip count


@uk.kernel
def small_gemm(A: T["M", "K"], B: T["K", 4], C: T["M", 4]):
    for i in uk.range(M, unroll=2):
        for k in range(K):
            for j in uk.unroll(range(4)):
                C[i, j] += A[i, k] * B[k, j]


@uk.kernel
def plain_gemm(A: T["M", "K"], B: T["K", 4], C: T["M", 4]):
    for i in range(M):
        for k in range(K):
            for j in range(4):
                C[i, j] += A[i, k] * B[k, j]


def test_source_unrolling_is_a_loop_attribute(check_ir):
    f = uk.jit(small_gemm)
    A, B = np.ones((5, 3), np.float32), np.ones((3, 4), np.float32)
    f(A, B, np.zeros((5, 4), np.float32))
    check_ir(f.ir("affine"))
    # CHECK: } {uk.name = "j", uk.unroll = "full"}
    # CHECK: } {uk.name = "k"}
    # CHECK: } {uk.name = "i", uk.unroll = 2 : i64}


def test_source_unrolling_is_exactly_the_named_factor():
    rng = np.random.default_rng(0)
    A, B = rng.random((5, 3)), rng.random((3, 4))
    src, named = uk.jit(small_gemm), uk.jit(plain_gemm, factor={"i": 2, "j": 4})
    C1, C2, C3 = np.zeros((5, 4)), np.zeros((5, 4)), np.zeros((5, 4))
    src(A, B, C1)
    named(A, B, C2)
    interpret(small_gemm, A, B, C3)
    np.testing.assert_allclose(C1, A @ B, rtol=1e-14)
    np.testing.assert_array_equal(C1, C2)
    np.testing.assert_allclose(C1, C3, rtol=1e-14)  # the interpreter rounds a*b+c twice, FMA once
    assert src.plan.factors == named.plan.factors
    # the same transformed IR but for the kernel's name and the loop attributes
    body = [ln for ln in src.ir("transformed").splitlines() if "func.func" not in ln]
    other = [ln for ln in named.ir("transformed").splitlines() if "func.func" not in ln]
    strip = [ln.replace(', uk.unroll = "full"', "").replace(", uk.unroll = 2 : i64", "") for ln in body]
    assert strip == other


def test_an_explicit_factor_overrides_the_source_and_clashes_are_errors():
    assert uk.jit(small_gemm, factor={"j": 2}).plan.factors == (("i", 2), ("j", 2))
    with pytest.raises(uk.TransformError, match="both apply to loop 'j'"):
        uk.jit(small_gemm, factor=4)

    @uk.kernel
    def outer_only(x: f32["N", "M"]):
        for i in uk.range(N, unroll=3):
            for j in range(M):
                x[i, j] += 1.0
    assert dict(uk.jit(outer_only, factor=2).plan.factors) == {"": 2, "i": 3}


def test_full_unroll_of_a_global_constant_trip_count():
    @uk.kernel
    def taps(x: f32["N"], y: f32["N"]):
        for i in range(N - W + 1):
            acc = 0.0
            for t in uk.unroll(range(W)):
                acc += x[i + t]
            y[i] = acc
    x = np.arange(10, dtype=np.float32)
    y = np.zeros_like(x)
    f = uk.jit(taps)
    f(x, y)
    np.testing.assert_array_equal(y[:8], x[:-2] + x[1:-1] + x[2:])
    assert f.ir("transformed").count("affine.for") == 1  # t unrolled away, i remains


expect_error = expecting(HERE)


def test_source_unrolling_errors():
    def runtime_count(x: f32["N"]):
        for i in uk.unroll(range(N)):  # MARK  # noqa: F821
            x[i] = 0.0
    expect_error(runtime_count, "# MARK", "uk.unroll(...) of loop 'i' needs a trip count known")

    def runtime_factor(x: f32["N"], n: f32):
        for i in uk.range(N, unroll=n):  # MARK  # noqa: F821
            x[i] = 0.0
    expect_error(runtime_factor, "# MARK", "the unroll count of loop 'i' must be a positive int")

    def zero_factor(x: f32["N"]):
        for i in uk.range(N, unroll=0):  # MARK  # noqa: F821
            x[i] = 0.0
    expect_error(zero_factor, "# MARK", "the unroll count of loop 'i' must be a positive int")

    def bad_keyword(x: f32["N"]):
        for i in uk.range(N, step=2):  # MARK  # noqa: F821
            x[i] = 0.0
    expect_error(bad_keyword, "# MARK", "uk.range takes the keyword unroll=, not step=")

    def twins(x: f32["N"], y: f32["N"]):
        for i in uk.range(N, unroll=2):  # noqa: F821
            x[i] = 0.0
        for i in range(N):  # MARK  # noqa: F821
            y[i] = 0.0
    expect_error(twins, "# MARK", "loops named 'i' unroll differently in the source")


def test_uk_range_and_unroll_are_plain_ranges_outside_kernels():
    assert list(uk.range(2, 8, 3, unroll=4)) == [2, 5]
    assert list(uk.unroll(range(3))) == [0, 1, 2]


# ---------------------------------------------------------------- calling like Python

@uk.jit(factor=4)
def scaled_sum(x: T["N"], scale: T):
    acc = x[0] * 0.0
    for i in range(N):  # noqa: F821
        acc += x[i]
    return acc * scale


def test_jit_decorates_a_plain_function():
    x = np.arange(10.0)
    assert scaled_sum(x, 2.0) == 90.0
    assert scaled_sum(x, scale=3.0) == 135.0
    assert scaled_sum(scale=1.0, x=x) == 45.0
    assert scaled_sum.plan.factors == (("", 4),)


def test_keyword_argument_errors():
    x = np.arange(4.0)
    with pytest.raises(uk.ArgumentError, match="unexpected keyword argument 'y'; its parameters are x, scale"):
        scaled_sum(x, y=1.0)
    with pytest.raises(uk.ArgumentError, match="multiple values for argument 'x'"):
        scaled_sum(x, x=x)
    with pytest.raises(uk.ArgumentError, match="missing argument\\(s\\) 'scale'"):
        scaled_sum(x=x)


def test_short_reprs():
    assert repr(scaled_sum) == "<unrollkit.jit scaled_sum(x: T[N], scale: T) -> T factor=4 variant=affine pipeline='unroll'>"
    assert repr(uk.jit(small_gemm)) == ("<unrollkit.jit small_gemm(A: T[M, K], B: T[K, 4], C: T[M, 4]) "
                                        "factor={'i': 2, 'j': 4} variant=affine pipeline='unroll{factor=2,loop=i},unroll{loop=j}'>")
    assert repr(uk.jit(plain_gemm, factor="auto")) == "<unrollkit.jit plain_gemm(A: T[M, K], B: T[K, 4], C: T[M, 4]) factor='auto'>"
    assert small_gemm.describe() == "small_gemm(A: T[M, K], B: T[K, 4], C: T[M, 4])"


# ---------------------------------------------------------------- size names linters can see
SM, SN, SK = uk.sizes("SM SN, SK")
(SLONE,) = (uk.sizes("SLONE"),)


@uk.kernel
def sized_gemm(A: f32[SM, SK], B: f32[SK, SN], C: f32[SM, SN]):
    for i in range(SM):
        for k in range(SK):
            for j in range(SN):
                C[i, j] += A[i, k] * B[k, j]


@uk.kernel
def named_gemm(A: f32["SM", "SK"], B: f32["SK", "SN"], C: f32["SM", "SN"]):
    for i in range(SM):  # noqa: F821 (what uk.sizes saves)
        for k in range(SK):  # noqa: F821
            for j in range(SN):  # noqa: F821
                C[i, j] += A[i, k] * B[k, j]


def test_sizes_are_the_string_size_names():
    assert isinstance(SLONE, uk.Size) and SLONE == "SLONE" and repr(SM) == "uk.Size('SM')"
    assert sized_gemm.params == named_gemm.params and sized_gemm.body == named_gemm.body
    assert sized_gemm.describe() == "sized_gemm(A: f32[SM, SK], B: f32[SK, SN], C: f32[SM, SN])"
    rng = np.random.default_rng(3)
    A, B = rng.random((5, 3)).astype(np.float32), rng.random((3, 7)).astype(np.float32)
    C = np.zeros((5, 7), np.float32)
    uk.jit(sized_gemm, factor=4)(A, B, C)
    np.testing.assert_allclose(C, A @ B, rtol=1e-5)


def test_a_kernel_with_sizes_has_no_undefined_names(tmp_path):
    pyflakes = pytest.importorskip("pyflakes.api")
    src = "\n".join(ln for ln in inspect.getsource(inspect.getmodule(test_sizes_are_the_string_size_names))
                    .splitlines())
    start = src.index("SM, SN, SK = uk.sizes")
    end = src.index("@uk.kernel\ndef named_gemm")
    code = "import unrollkit as uk\nfrom unrollkit import f32\n" + src[start:end]
    from pyflakes.reporter import Reporter
    import io
    out = io.StringIO()
    assert pyflakes.check(code, "sized.py", Reporter(out, out)) == 0, out.getvalue()
    # the same kernel with string size names is what linters flag
    bad = "import unrollkit as uk\nfrom unrollkit import f32\n" + src[end:src.index("def test_sizes_are")]
    assert pyflakes.check(bad.replace("# noqa", "#"), "named.py", Reporter(out, out)) > 0
    assert "undefined name 'SM'" in out.getvalue()


def test_sizes_misuse():
    with pytest.raises(ValueError, match="'1N' is not an identifier"):
        uk.sizes("M 1N")
    with pytest.raises(ValueError, match="at least one size name"):
        uk.sizes(" ")
    UNUSED = uk.sizes("UNUSED")

    def not_a_dimension(x: f32[SM]):
        for i in range(UNUSED):  # MARK
            x[i] = 1.0
    with pytest.raises(uk.KernelSyntaxError, match="size 'UNUSED' is not a dimension of any array") as info:
        uk.kernel(not_a_dimension)
    assert info.value.lineno == inspect.getsourcelines(not_a_dimension)[1] + 1


def test_jit_decorator_ir_is_the_factor_it_names(check_ir):
    """``@uk.jit(factor=4)`` on a plain function: the kernel's loop unrolled by 4 (a cleanup
    loop for 10 = 2 * 4 + 2), as uk.jit(uk.kernel(f), factor=4) gives."""
    check_ir(scaled_sum.ir("transformed", np.arange(10.0), 2.0))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 iter_args
    # CHECK-COUNT-4: affine.load
    # CHECK: affine.for %{{.*}} = 8 to 10 iter_args


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_keyword_calls_match_the_interpreter(dtype):
    """Positional, keyword and mixed calls of a jitted function all give the interpreter's
    return value (keywords bind by parameter name before the usual checks)."""
    x = (np.arange(11) % 5 - 2).astype(dtype)
    want = interpret(scaled_sum.kernel, x, dtype(3))
    assert scaled_sum(x, dtype(3)) == scaled_sum(x, scale=dtype(3)) == scaled_sum(scale=dtype(3), x=x) == want
