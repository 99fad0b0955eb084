"""The kernel language (issue 13): scalars carried across iterations, ``return``, comparisons,
``a if c else b`` and ``if`` statements — IR (FileCheck), results against numpy and the
reference interpreter, and an error with file:line for each misuse."""

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T, f32, f64, i32, i64
from unrollkit.runtime.interpreter import interpret

from kernel_errors import expecting

HERE = __file__


expect_error = expecting(HERE)


# ---------------------------------------------------------------- carried scalars, return

@uk.kernel
def matmul_acc(A: T["M", "K"], B: T["K", "N"], C: T["M", "N"]):
    for i in range(M):
        for j in range(N):
            acc = 0.0
            for k in range(K):
                acc += A[i, k] * B[k, j]
            C[i, j] = acc


@uk.kernel
def dot_ret(a: T["N"], b: T["N"]):
    acc = 0.0
    for i in range(N):
        acc += a[i] * b[i]
    return acc


@uk.kernel
def isum(a: i64["N"]):
    acc = 0
    for i in range(N):
        acc = acc + a[i]
    return acc


@pytest.mark.parametrize("kw", [{}, {"factor": 3}, {"factor": 4}, {"factor": {"k": 2}},
                                {"variant": "macro", "factor": 4}, {"variant": "pragma", "factor": 4}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_carried_accumulator_matches_numpy(kw, dtype):
    rng = np.random.default_rng(0)
    for m, k, n in ((1, 1, 1), (5, 7, 3), (4, 13, 6)):
        A = rng.standard_normal((m, k)).astype(dtype)
        B = rng.standard_normal((k, n)).astype(dtype)
        C = np.full((m, n), 99, dtype)
        uk.jit(matmul_acc, **kw)(A, B, C)
        np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-5, atol=1e-5)


def test_carried_accumulator_agrees_with_the_interpreter():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((3, 9)), rng.standard_normal((9, 4))
    C1, C2 = np.zeros((3, 4)), np.zeros((3, 4))
    uk.jit(matmul_acc, factor=4)(A, B, C1)
    interpret(matmul_acc, A, B, C2)
    np.testing.assert_allclose(C1, C2, rtol=1e-14)


@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"factor": 8}, {"variant": "macro", "factor": 3},
                                {"factor": "auto"}])
def test_a_kernel_returns_a_python_float(kw):
    rng = np.random.default_rng(2)
    f = uk.jit(dot_ret, **kw)
    for n in (1, 7, 64, 1000):
        a, b = rng.random(n), rng.random(n)
        for _ in range(2):  # the second call goes through the native fast path
            got = f(a, b)
            assert type(got) is float
            assert got == pytest.approx(float(a @ b), rel=1e-12)
    a32, b32 = a.astype(np.float32), b.astype(np.float32)
    assert f(a32, b32) == pytest.approx(interpret(dot_ret, a32, b32), rel=1e-5)


def test_an_integer_kernel_returns_a_python_int():
    a = np.arange(-5, 100, dtype=np.int64)
    f = uk.jit(isum, factor=4)
    assert f(a) == interpret(isum, a) == int(a.sum())
    assert type(f(a)) is int


def test_the_return_slot_is_hidden_from_the_caller():
    f = uk.jit(dot_ret)
    with pytest.raises(uk.ArgumentError, match=r"takes 2 arguments \(a, b\), got 1"):
        f(np.zeros(3))
    with pytest.raises(uk.ArgumentError, match=r"takes 2 arguments \(a, b\), got 4"):
        f(np.zeros(3), np.zeros(3), np.zeros(1), np.zeros(1))
    # a tool that makes an argument for every parameter passes the return array itself
    out = np.zeros(1)
    assert f(np.ones(3), np.ones(3), out) == 3.0 == out[0]
    with pytest.raises(uk.ArgumentError, match="'return' must be 1-D|dimension 0 of 'return' must be 1"):
        f(np.ones(3), np.ones(3), np.zeros(2))
    with pytest.raises(uk.ArgumentError, match="float64"):
        f(np.zeros(3), np.zeros(3, np.float32))


def test_iter_args_in_the_affine_ir(check_ir):
    f = uk.jit(dot_ret)
    check_ir(f.ir("affine", np.zeros(8, np.float32), np.zeros(8, np.float32)))
    # CHECK: func.func @dot_ret(%{{.*}}: memref<8xf32> {llvm.noalias}, %{{.*}}: memref<8xf32> {llvm.noalias}, %[[RET:.*]]: memref<1xf32> {llvm.noalias})
    # CHECK: %[[ZERO:.*]] = arith.constant 0.000000e+00 : f32
    # CHECK: %[[SUM:.*]] = affine.for %{{.*}} = 0 to 8 iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (f32) {
    # CHECK: %[[NEW:.*]] = arith.addf %[[ACC]], %{{.*}} fastmath<contract> : f32
    # CHECK: affine.yield %[[NEW]] : f32
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.store %[[SUM]], %[[RET]][0] : memref<1xf32>


def test_unrolling_a_carried_loop_chains_the_copies(check_ir):
    f = uk.jit(dot_ret, factor=4)
    check_ir(f.ir("transformed", np.zeros(10, np.float32), np.zeros(10, np.float32)))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 iter_args(%[[ACC:.*]] = %{{.*}}) -> (f32) {
    # CHECK: %[[A1:.*]] = arith.addf %[[ACC]], %{{.*}}
    # CHECK: %[[A2:.*]] = arith.addf %[[A1]], %{{.*}}
    # CHECK: %[[A3:.*]] = arith.addf %[[A2]], %{{.*}}
    # CHECK: %[[A4:.*]] = arith.addf %[[A3]], %{{.*}}
    # CHECK: affine.yield %[[A4]] : f32


def test_vector_acc_takes_carried_reductions():
    # a carried acc = acc + e is vectorized like out[0] += e (passes/carried.py; more in
    # tests/passes/test_vectorize_carried.py, the refusals included)
    x = np.arange(19, dtype=np.float64)
    assert uk.jit(dot_ret, variant="vector-acc", factor=4)(x, x) == float(x @ x)


@pytest.mark.parametrize("k", [2, 3, 4, 8])
def test_multi_acc_splits_carried_scalars(k):
    rng = np.random.default_rng(9)
    f = uk.jit(dot_ret, variant="multi-acc", factor=k)
    for n in (0, 1, k - 1, k, 37, 1000):
        a, b = rng.random(n), rng.random(n)
        assert f(a, b) == pytest.approx(float(a @ b), rel=1e-12, abs=1e-12)
    x = np.arange(-20, 23, dtype=np.int64)
    assert uk.jit(isum, variant="multi-acc", factor=k)(x) == int(x.sum())
    A, B, C = rng.random((3, 11)), rng.random((11, 5)), np.zeros((3, 5))
    uk.jit(matmul_acc, variant="multi-acc", factor=k)(A, B, C)
    np.testing.assert_allclose(C, A @ B, rtol=1e-13)


def test_multi_acc_on_a_carried_scalar_keeps_k_chains(check_ir):
    f = uk.jit(dot_ret, variant="multi-acc", factor=4)
    check_ir(f.ir("affine", np.zeros(10, np.float32), np.zeros(10, np.float32)))
    # CHECK: %[[S:.*]]:4 = affine.for %{{.*}} = 0 to 8 step 4 iter_args(%[[A0:.*]] = %{{.*}}, %[[A1:.*]] = %{{.*}}, %[[A2:.*]] = %{{.*}}, %[[A3:.*]] = %{{.*}}) -> (f32, f32, f32, f32) {
    # CHECK: arith.addf %[[A0]]
    # CHECK: arith.addf %[[A1]]
    # CHECK: arith.addf %[[A2]]
    # CHECK: arith.addf %[[A3]]
    # CHECK: } {uk.name = "i"}
    # the tree: (0 + 1) + (2 + 3), then the remainder loop from it
    # CHECK: %[[L:.*]] = arith.addf %[[S]]#0, %[[S]]#1
    # CHECK: %[[R:.*]] = arith.addf %[[S]]#2, %[[S]]#3
    # CHECK: %[[T:.*]] = arith.addf %[[L]], %[[R]]
    # CHECK: affine.for %{{.*}} iter_args(%{{.*}} = %[[T]]) -> (f32) {


def test_multi_acc_refuses_what_is_not_a_reduction():
    @uk.kernel
    def decay(x: f32["N"]):
        acc = 0.0
        for i in range(N):
            acc = acc * 0.5 + x[i]
        return acc
    with pytest.raises(uk.TransformError, match="'acc' in loop 'i' is not a reduction"):
        uk.jit(decay, variant="multi-acc", factor=4)
    x = np.ones(4, np.float32)
    assert uk.jit(decay, factor=4)(x) == interpret(decay, x) == 1.875


def test_a_variable_defined_in_a_loop_is_private_to_each_iteration():
    @uk.kernel
    def rowsum(x: f32["M", "N"], out: f32["M"]):
        for i in range(M):
            s = 0.0
            for j in range(N):
                s += x[i, j]
            out[i] = s
    x = np.random.default_rng(3).random((9, 17)).astype(np.float32)
    for kw in ({}, {"factor": 4}, {"parallel": True, "threads": 2}):
        out = np.zeros(9, np.float32)
        uk.jit(rowsum, **kw)(x, out)
        np.testing.assert_allclose(out, x.sum(1), rtol=1e-5)


def test_carried_errors():
    def mixed(x: f32["N"], n: i32["N"], out: f32[1]):
        s = x[0]
        for i in range(N):  # noqa: F821
            s = n[i]  # MARK
        out[0] = s
    expect_error(mixed, "# MARK", "'s' holds f32 values and is assigned a i32 value")

    def untyped_return(x: f32["N"]):
        x[0] = 1.0
        return 3  # MARK
    expect_error(untyped_return, "# MARK", "returned value has no element type")

    def update_first(x: f32["N"]):
        for i in range(N):  # noqa: F821
            t += x[i]  # MARK  # noqa: F821
    expect_error(update_first, "# MARK", "'t' is updated before it is assigned")

    def bare_return(x: f32["N"]):
        x[0] = 1.0
        return  # MARK
    expect_error(bare_return, "# MARK", "a bare 'return'")


# ---------------------------------------------------------------- conditions and if

@uk.kernel
def stencil_guarded(x: T["N"], y: T["N"]):
    for i in range(N):
        if i >= 1 and i < N - 1:
            y[i] = x[i - 1] + x[i + 1]
        else:
            y[i] = x[i]


@uk.kernel
def clip_count(x: f32["N"], y: f32["N"]):
    c = 0.0
    for i in range(N):
        if x[i] > 0.5 or not x[i] >= -0.5:
            c += 1.0
            y[i] = 0.5 if x[i] > 0.0 else -0.5
        else:
            y[i] = x[i]
    return c


@uk.kernel
def select_minmax(x: T["N"], lo: T, hi: T, y: T["N"]):
    for i in range(N):
        v = x[i]
        y[i] = lo if v < lo else (hi if v >= hi else max(min(v, hi), lo))


def test_affine_if_on_loop_variables(check_ir):
    f = uk.jit(stencil_guarded)
    x = np.arange(12, dtype=np.float32)
    y = np.zeros_like(x)
    f(x, y)
    np.testing.assert_array_equal(y, np.r_[x[0], x[:-2] + x[2:], x[-1]])
    check_ir(f.ir("affine"))
    # CHECK: #[[SET:.*]] = affine_set<(d0) : (d0 - 1 >= 0, -(d0 - 11) - 1 >= 0)>
    # CHECK: affine.for %[[I:.*]] = 0 to 12 {
    # CHECK: affine.if #[[SET]](%[[I]]) {
    # CHECK: affine.load %{{.*}}[%[[I]] - 1]
    # CHECK: } else {
    # CHECK: } {uk.name = "i"}


@pytest.mark.parametrize("kw", [{}, {"factor": 4}, {"variant": "macro", "factor": 3}])
def test_affine_if_unrolls(kw):
    x = np.random.default_rng(4).random(23)
    y1, y2 = np.zeros(23), np.zeros(23)
    uk.jit(stencil_guarded, **kw)(x, y1)
    interpret(stencil_guarded, x, y2)
    np.testing.assert_array_equal(y1, y2)


def test_data_dependent_if_yields_carried_values(check_ir):
    x = np.random.default_rng(5).standard_normal(40).astype(np.float32)
    for kw in ({}, {"factor": 4}, {"variant": "macro", "factor": 4}):
        y1, y2 = np.zeros_like(x), np.zeros_like(x)
        f = uk.jit(clip_count, **kw)
        got = f(x, y1)
        assert got == interpret(clip_count, x, y2) == float(((x > 0.5) | ~(x >= -0.5)).sum())
        np.testing.assert_array_equal(y1, y2)
    check_ir(uk.jit(clip_count).ir("affine", x, y1))
    # a count of literals is carried as Python's float: f64
    # CHECK: affine.for %{{.*}} iter_args(%[[C:.*]] = %{{.*}}) -> (f64) {
    # CHECK: %[[GT:.*]] = arith.cmpf ogt
    # CHECK: %[[GE:.*]] = arith.cmpf oge
    # CHECK: %[[NOT:.*]] = arith.xori %[[GE]], %{{.*}} : i1
    # CHECK: %[[OR:.*]] = arith.ori %[[GT]], %[[NOT]] : i1
    # CHECK: %[[R:.*]] = scf.if %[[OR]] -> (f64) {
    # CHECK: arith.select
    # CHECK: scf.yield %{{.*}} : f64
    # CHECK: } else {
    # CHECK: scf.yield %[[C]] : f64
    # CHECK: affine.yield %[[R]] : f64


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64])
def test_select_and_comparisons_match_numpy(dtype):
    x = (np.random.default_rng(6).standard_normal(50) * 10).astype(dtype)
    y = np.zeros_like(x)
    uk.jit(select_minmax, factor=4)(x, dtype(-3), dtype(4), y)
    np.testing.assert_array_equal(y, np.clip(x, -3, 4))
    y2 = np.zeros_like(x)
    interpret(select_minmax, x, dtype(-3), dtype(4), y2)
    np.testing.assert_array_equal(y, y2)


def test_comparisons_of_every_kind():
    @uk.kernel
    def flags(x: i32["N"], y: i32["N"], out: i32["N", 6]):
        for i in range(N):
            out[i, 0] = 1 if x[i] < y[i] else 0
            out[i, 1] = 1 if x[i] <= y[i] else 0
            out[i, 2] = 1 if x[i] > y[i] else 0
            out[i, 3] = 1 if x[i] >= y[i] else 0
            out[i, 4] = 1 if x[i] == y[i] else 0
            out[i, 5] = 1 if x[i] != y[i] and not x[i] < 0 else 0
    rng = np.random.default_rng(7)
    x, y = rng.integers(-3, 3, 64).astype(np.int32), rng.integers(-3, 3, 64).astype(np.int32)
    out = np.zeros((64, 6), np.int32)
    uk.jit(flags)(x, y, out)
    want = np.stack([x < y, x <= y, x > y, x >= y, x == y, (x != y) & ~(x < 0)], 1)
    np.testing.assert_array_equal(out, want.astype(np.int32))


def test_a_guard_is_a_bounds_proof_and_a_data_dependent_if_is_not():
    x = np.zeros(8, np.float32)

    def guarded(x: f32["N"], y: f32["N"]):
        for i in range(N + 1):  # noqa: F821
            if i < N:  # noqa: F821
                y[i] = x[i]
    uk.jit(uk.kernel(guarded))(x, np.zeros(8, np.float32))  # proved: the if excludes i = N

    def unguarded(x: f32["N"], y: f32["N"]):
        for i in range(N + 1):  # noqa: F821
            if x[0] > 0.0:
                y[i] = x[0]  # MARK
    expect_error(unguarded, "# MARK", "out of bounds",
                 call=lambda k: uk.jit(k)(x, np.zeros(8, np.float32)))


def test_condition_errors():
    def as_value(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = x[i] > 0.0  # MARK
    expect_error(as_value, "# MARK", "is used as a value")

    def not_condition(x: f32["N"]):
        for i in range(N):  # noqa: F821
            x[i] = 1.0 if x[i] else 0.0  # MARK
    expect_error(not_condition, "# MARK", "is not a condition")

    def mixed(x: f32["N"], n: i32["N"]):
        for i in range(N):  # noqa: F821
            if x[i] < n[i]:  # MARK
                x[i] = 0.0
    expect_error(mixed, "# MARK", "mixes element types f32 and i32",
                 call=lambda k: uk.jit(k)(np.zeros(3, np.float32), np.zeros(3, np.int32)))

    def in_operator(x: f32["N"]):
        for i in range(N):  # noqa: F821
            if i in x:  # MARK
                x[i] = 0.0
    expect_error(in_operator, "# MARK", "comparison 'In' is not supported")

    def local_after_if(x: f32["N"]):
        for i in range(N):  # noqa: F821
            if x[i] > 0.0:
                t = x[i]
            x[i] = t  # MARK
    expect_error(local_after_if, "# MARK", "unknown name 't'")


def test_parallel_row_blocks_with_conditions_and_carried_scalars():
    # a condition on the split loop's variable is refused (a block renumbers its rows) ...
    with pytest.raises(uk.ArgumentError, match="i or N is used as a value"):
        uk.jit(stencil_guarded, parallel=True, threads=2)
    # ... data-dependent ifs, selects, math and scalars carried by inner loops split by rows
    from unrollkit.kernels import softmax, softmax_numpy

    @uk.kernel
    def clip_rows(x: f64["M", "N"], y: f64["M", "N"]):
        for i in range(M):
            s = 0.0
            for j in range(N):
                if x[i, j] > 0.0:
                    s += x[i, j]
            for j in range(N):
                y[i, j] = s if x[i, j] > s else uk.abs(x[i, j]) ** 2
    x = np.random.default_rng(8).standard_normal((37, 19))
    y1, y2, want = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    f = uk.jit(clip_rows, parallel=True, threads=2)
    f(x, y1)
    assert "row blocks" in f.ir("affine")
    interpret(clip_rows, x, y2)
    np.testing.assert_array_equal(y1, y2)
    g = uk.jit(softmax, parallel=True, threads=2)
    g(x, y1)
    softmax_numpy(x, want)
    np.testing.assert_allclose(y1, want, rtol=1e-14)


def test_f64_and_i64_types_in_conditions():
    @uk.kernel
    def count_above(x: f64["N"], t: f64, out: i64[1]):
        for i in range(N):
            if x[i] > t:
                out[0] += 1
    x = np.linspace(0, 1, 101)
    out = np.zeros(1, np.int64)
    uk.jit(count_above, factor=4)(x, 0.25, out)
    assert out[0] == (x > 0.25).sum()


def test_an_untyped_local_reassigned_from_itself():
    # t = t * 2 with t of literals and indices only recursed forever before (each use re-emits
    # the value, which named itself)
    @uk.kernel
    def k(x: f32["N"]):
        for i in range(N):
            t = i + 1
            t = t * 2
            x[i] = x[i] + t
    x, y = np.zeros(5, np.float32), np.zeros(5, np.float32)
    uk.jit(k)(x)
    interpret(k, y)
    np.testing.assert_array_equal(x, 2.0 * np.arange(1, 6))
    np.testing.assert_array_equal(x, y)


def test_value_forms_are_not_bounds():
    def power_bound(x: f32["N"]):
        for i in range(N ** 2):  # MARK  # noqa: F821
            x[i] = 0.0
    expect_error(power_bound, "# MARK", "unsupported index expression 'N ** 2'")

    def select_bound(x: f32["N"]):
        for i in range(N if N > 2 else 2):  # MARK  # noqa: F821
            x[i] = 0.0
    expect_error(select_bound, "# MARK", "unsupported index expression")
