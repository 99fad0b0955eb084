"""Loop forms of the kernel language (issue 13, item 4): negative constant steps
(``range(N - 1, -1, -1)``), ``//`` and ``%`` by positive constants in bounds and subscripts."""

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import f64, i32
from unrollkit.runtime.interpreter import interpret

from kernel_errors import line_of

HERE = __file__


@uk.kernel
def backward_triangle(x: f64["N"], y: f64["N"]):
    for i in range(N - 1, -1, -1):
        for j in range(N - 1, i, -2):
            y[i] += x[j] * (i + 1) + x[(i + j) % 3]


def backward_triangle_numpy(x, y):
    n = len(x)
    for i in range(n - 1, -1, -1):
        for j in range(n - 1, i, -2):
            y[i] += x[j] * (i + 1) + x[(i + j) % 3]


@uk.kernel
def suffix_sum(x: i32["N"], s: i32["N"]):
    # each iteration reads the one before it: the order of a backward loop matters
    for i in range(N - 2, -1, -1):
        s[i] = s[i + 1] + x[i]


KWS = [{}, {"factor": 4}, {"factor": 3}, {"variant": "macro", "factor": 3}, {"variant": "pragma", "factor": 2},
       {"factor": {"i": 2}}, {"variant": "none"}]


@pytest.mark.parametrize("kw", KWS)
def test_backward_loops_match_python(kw):
    rng = np.random.default_rng(0)
    f = uk.jit(backward_triangle, **kw)
    for n in (3, 5, 17, 100):
        x = rng.standard_normal(n)
        y, want, ref = np.zeros(n), np.zeros(n), np.zeros(n)
        f(x, y)
        backward_triangle_numpy(x, want)
        interpret(backward_triangle, x, ref)
        np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ref, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", KWS)
def test_a_backward_recurrence_keeps_its_order(kw):
    f = uk.jit(suffix_sum, **kw)
    for n in (1, 2, 5, 17, 257):
        x = np.arange(n, dtype=np.int32) - 3
        s = np.zeros(n, np.int32)
        s[-1] = x[-1]
        f(x, s)
        np.testing.assert_array_equal(s, np.cumsum(x[::-1])[::-1])


def test_backward_loop_ir(check_ir):
    f = uk.jit(suffix_sum)
    f(np.zeros(9, np.int32), np.zeros(9, np.int32))
    check_ir(f.ir("affine"))
    # CHECK: affine.for %[[I:.*]] = 0 to 8 {
    # CHECK: affine.load %{{.*}}[-%[[I]] + 8]
    # CHECK: affine.load %{{.*}}[-%[[I]] + 7]
    # CHECK: affine.store %{{.*}}[-%[[I]] + 7]
    # CHECK: } {uk.name = "i"}


def test_steps_of_every_sign_and_size_visit_pythons_iterations():
    for start, stop, step in ((9, -1, -1), (9, 0, -3), (8, 2, -4), (2, 8, -1), (0, 0, -1), (7, -1, -7)):
        @uk.kernel
        def visit(out: i32[16]):
            for i in range(start, stop, step):
                out[i + 1] += i + 100
        out = np.zeros(16, np.int32)
        uk.jit(visit, factor=2)(out)
        want = np.zeros(16, np.int32)
        for i in range(start, stop, step):
            want[i + 1] += i + 100
        np.testing.assert_array_equal(out, want, err_msg=str((start, stop, step)))


def test_source_unrolling_of_a_backward_loop():
    @uk.kernel
    def rev4(x: f64[4], y: f64[4]):
        for i in uk.unroll(range(3, -1, -1)):
            y[3 - i] = x[i]
    x, y = np.arange(4.0), np.zeros(4)
    f = uk.jit(rev4)
    f(x, y)
    np.testing.assert_array_equal(y, x[::-1])
    assert "affine.for" not in f.ir("transformed")


@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"variant": "macro", "factor": 2}])
def test_floordiv_and_mod_in_bounds_and_subscripts(kw, check_ir):
    @uk.kernel
    def blocks(x: f64["N"], y: f64["N"]):
        for i in range(N // 2, N - N % 3):
            y[i] = x[i % 2 + (i // 2) * 2] * 2.0
    f = uk.jit(blocks, **kw)
    for n in (1, 2, 5, 17, 100):
        x = np.random.default_rng(n).standard_normal(n)
        y, ref = np.zeros(n), np.zeros(n)
        f(x, y)
        interpret(blocks, x, ref)
        want = np.zeros(n)
        want[n // 2: n - n % 3] = 2 * x[n // 2: n - n % 3]
        np.testing.assert_array_equal(y, want)
        np.testing.assert_array_equal(ref, want)
    if not kw:
        check_ir(f.ir("affine"))
        # CHECK: affine.for %[[I:.*]] = 50 to 99 {
        # CHECK: floordiv 2


def test_misuse_names_the_problem():
    def by_size(x: f64["N"]):
        for i in range(N):  # noqa: F821
            x[i % N] = 1.0  # noqa: F821  MARK
    with pytest.raises(uk.KernelSyntaxError, match="% in an index or bound needs a positive integer "
                                                   "literal divisor") as info:
        uk.kernel(by_size)
    assert (info.value.filename, info.value.lineno) == (HERE, line_of(by_size, "MARK"))

    def out_of_range(x: f64["N"]):
        for i in range(N, -1, -1):  # noqa: F821
            x[i] = 1.0  # MARK
    with pytest.raises(uk.KernelSyntaxError, match=r"subscript .* of x .* out of bounds") as info:
        uk.jit(out_of_range)(np.zeros(4))
    assert (info.value.filename, info.value.lineno) == (HERE, line_of(out_of_range, "MARK"))

    def min_start(x: f64["N"]):
        for i in range(min(N, 4), -1, -1):  # noqa: F821  MARK
            x[i] = 1.0
    with pytest.raises(uk.KernelSyntaxError, match="unsupported index expression 'min") as info:
        uk.kernel(min_start)
    assert info.value.lineno == line_of(min_start, "MARK")


# ---------------------------------------------------------------- integer scalars in bounds and subscripts

@uk.kernel
def jacobi_steps(tsteps: i32, a: f64["N"], b: f64["N"]):
    for t in range(tsteps):
        for i in range(1, N - 1):
            b[i] = 0.33333 * (a[i - 1] + a[i] + a[i + 1])
        for i in range(1, N - 1):
            a[i] = 0.33333 * (b[i - 1] + b[i] + b[i + 1])


def jacobi_numpy(tsteps, a, b):
    for _ in range(tsteps):
        b[1:-1] = 0.33333 * (a[:-2] + a[1:-1] + a[2:])
        a[1:-1] = 0.33333 * (b[:-2] + b[1:-1] + b[2:])


@uk.kernel
def shifted(m: uk.i64, x: f64["N"], y: f64["N"]):
    for i in range(N - m):
        y[i] = x[i + m] * uk.f64(m)  # MARK


@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"variant": "macro", "factor": 3}])
def test_a_time_stepped_stencil_with_a_scalar_step_count(kw):
    f = uk.jit(jacobi_steps, **kw)
    rng = np.random.default_rng(7)
    for n, tsteps in ((3, 0), (5, 1), (17, 4), (100, 3), (17, 1), (17, 4)):
        a = rng.random(n)
        b = np.zeros(n)
        got, ref, want = (a.copy(), b.copy()), (a.copy(), b.copy()), (a.copy(), b.copy())
        for _ in range(2):  # a second call with the same value: the compiled code is reused
            got = (a.copy(), b.copy())
            f(tsteps, *got)
        interpret(jacobi_steps, tsteps, *ref)
        jacobi_numpy(tsteps, *want)
        for g, r, w in zip(got, ref, want):
            np.testing.assert_allclose(g, w, rtol=1e-12)
            np.testing.assert_allclose(r, w, rtol=1e-12)


def test_each_value_of_an_index_scalar_is_its_own_compile(check_ir):
    f = uk.jit(shifted)
    x = np.arange(10.0)
    for m in (3, 0, 9, 3, 10, 11, 1):  # alternating values: no call may run another value's code
        y = np.zeros(10)
        f(m, x, y)
        want = np.zeros(10)
        want[:max(0, 10 - m)] = x[m:] * m
        np.testing.assert_array_equal(y, want, err_msg=f"m={m}")
    check_ir(f.ir("affine", 3, x, np.zeros(10)))
    # CHECK: func.func @shifted(%[[M:.*]]: i64,
    # CHECK: affine.for %[[I:.*]] = 0 to 7 {
    # CHECK: affine.load %{{.*}}[%[[I]] + 3]
    # CHECK: arith.sitofp %[[M]] : i64 to f64
    from unrollkit.codegen.compiler import cache_key
    sig3 = f.compiled(3, x, np.zeros(10)).signature
    sig4 = f.compiled(4, x, np.zeros(10)).signature
    assert sig3.values == (("m", 3),) and sig4.values == (("m", 4),)
    assert cache_key(shifted, sig3, f.plan) != cache_key(shifted, sig4, f.plan)


def test_an_index_scalar_that_leaves_the_array_is_refused():
    with pytest.raises(uk.KernelSyntaxError, match=r"subscript i of y .* ranges over \[0, 10\] for "
                                                   "these sizes and m = -1: out of bounds") as info:
        uk.jit(shifted)(-1, np.zeros(10), np.zeros(10))  # range(N + 1)
    mark = open(HERE).read().splitlines().index("        y[i] = x[i + m] * uk.f64(m)  # MARK") + 1
    assert (info.value.filename, info.value.lineno) == (HERE, mark)

    def float_bound(x: f64["N"], s: f64):
        for i in range(s):  # MARK
            x[i] = 1.0
    with pytest.raises(uk.KernelSyntaxError, match=r"scalar parameter 's' \(f64\) cannot be used in an "
                                                   r"index or bound; only an integer one") as info:
        uk.kernel(float_bound)
    assert info.value.lineno == line_of(float_bound, "MARK")


def test_the_cli_takes_an_index_scalar_value_like_a_size(check_ir):
    from unrollkit.cli.app import example_args, parse_sizes
    sizes = parse_sizes(jacobi_steps, "N=10,tsteps=4")
    args = example_args(jacobi_steps, sizes, "f64")
    assert args[0] == 4 and args[1].shape == (10,)
    check_ir(uk.jit(jacobi_steps).ir("affine", *args))
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK: affine.for %{{.*}} = 1 to 9 {
