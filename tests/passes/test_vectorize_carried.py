"""``vectorize{reductions=true}`` (``vector-acc``) and ``multi-acc`` on scalars a loop carries
(``iter_args``): the IR (FileCheck), results against the interpreter and numpy at odd trip
counts, and the refusals where reassociation is not allowed (passes/carried.py)."""
import numpy as np
import pytest

import unrollkit as uk
from differential import check_against_reference, kernel_from, refuses, transformed
from unrollkit.kernels import dot_scalar, softmax

RUNNING = kernel_from("""
def running(x: uk.T["N"], y: uk.T["N"]):
    acc = 0.0
    for i in range(N):
        acc += x[i]
        y[i] = acc
""")

DECAY = kernel_from("""
def decay(x: uk.T["N"]):
    acc = 0.0
    for i in range(N):
        acc = acc * 0.5 + x[i]
    return acc
""")

TWO = kernel_from("""
def two(x: uk.T["N"], y: uk.T["N"], out: uk.T[3]):
    lo = x[0]
    p = x[0] * 0.0 + 1.0
    s = x[0] * 0.0
    for i in range(N):
        lo = min(lo, x[i] - y[i])
        p *= 1.0 + 0.01 * x[i]
        s += x[i] * y[i]
    out[0] = lo
    out[1] = p
    out[2] = s
""")

TRI = kernel_from("""
def tri(x: uk.T["N"], out: uk.T["N"]):
    for i in range(N):
        acc = x[i]
        for j in range(i + 1, N - 2):
            acc = max(acc, x[j] * 2.0)
        out[i] = acc
""")

ISUM = kernel_from("""
def isum(x: uk.i32["N"]):
    acc = 0
    for i in range(N):
        acc += x[i] * 3
    return acc
""")


def test_vectorize_carried_sum(check_ir):
    check_ir(transformed(dot_scalar, "vectorize{width=4,reductions=true}", N=10))
    # CHECK: %[[INIT:.*]] = arith.constant 0.000000e+00 : f32
    # CHECK: %[[ZERO:.*]] = arith.constant dense<0.000000e+00> : vector<4xf32>
    # CHECK: %[[R:.*]] = affine.for %{{.*}} = 0 to 8 step 4 iter_args(%[[ACC:.*]] = %[[ZERO]]) -> (vector<4xf32>) {
    # CHECK: %[[P:.*]] = arith.mulf {{.*}} : vector<4xf32>
    # CHECK: %[[S:.*]] = arith.addf %[[ACC]], %[[P]] {{.*}} : vector<4xf32>
    # CHECK: affine.yield %[[S]] : vector<4xf32>
    # CHECK: } {uk.name = "i"}
    # CHECK: %[[T:.*]] = vector.reduction <add>, %[[R]], %[[INIT]] fastmath<reassoc,contract> : vector<4xf32> into f32
    # CHECK: %[[REM:.*]] = affine.for %{{.*}} = 8 to 10 iter_args(%{{.*}} = %[[T]]) -> (f32) {
    # CHECK: } {uk.name = "i.rem"}
    # CHECK: affine.store %[[REM]], %arg2[0]


def test_vectorize_carried_max_and_exp(check_ir):
    # softmax: the row maximum (no identity: the start value broadcast) and the exponentials
    check_ir(transformed(softmax, "vectorize{width=8,reductions=true}", M=2, N=16))
    # CHECK: %[[M0:.*]] = affine.load %arg0[%{{.*}}, 0]
    # CHECK: %[[B:.*]] = vector.broadcast %[[M0]] : f32 to vector<8xf32>
    # CHECK: %[[R:.*]] = affine.for %{{.*}} = 0 to 16 step 8 iter_args(%[[ACC:.*]] = %[[B]]) -> (vector<8xf32>) {
    # CHECK: arith.maximumf %[[ACC]], %{{.*}} : vector<8xf32>
    # CHECK: } {uk.name = "j"}
    # CHECK: %[[MAX:.*]] = vector.reduction <maximumf>, %[[R]], %[[M0]]
    # CHECK: affine.for %{{.*}} = 0 to 16 step 8 {
    # CHECK: math.exp %{{.*}} : vector<8xf32>
    # CHECK: vector.reduction <add>
    # CHECK-NOT: uk.name = "j.rem"


def test_vectorize_refuses_carried_values_that_are_not_reductions():
    refuses(DECAY, "vectorize{reductions=true}", "cannot vectorize loop 'i'", "not a reduction",
            "does not combine it directly", N=20)
    refuses(RUNNING, "vectorize{reductions=true}", "cannot vectorize loop 'i'", "not a reduction",
            "also used in the body", N=20)
    refuses(dot_scalar, "vectorize", "loop 'i'", "iter_args", "reductions=true", N=20)


def test_multi_acc_and_vector_acc_refuse_a_carried_chain():
    for variant in ("multi-acc", "vector-acc"):
        with pytest.raises(uk.TransformError, match="not a reduction"):
            uk.jit(DECAY, variant=variant, factor=2)(np.ones(9, np.float32))


@pytest.mark.parametrize("n", [1, 5, 17, 100, 257])
def test_carried_reductions_match_the_interpreter_and_numpy(n):
    x = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    y = np.random.default_rng(n + 1).uniform(-1, 1, n).astype(np.float32)
    want = float(np.dot(x.astype(np.float64), y))
    for variant, factor in (("vector-acc", 1), ("vector-acc", 4), ("multi-acc", 3), ("multi-acc", 8)):
        got = uk.jit(dot_scalar, variant=variant, factor=factor)(x, y)
        assert got == pytest.approx(want, abs=1e-5 * max(1, n)), (variant, factor)
        check_against_reference(TWO, {"N": n}, variant=variant, factor=factor, dtype=np.float32)
    assert uk.jit(ISUM, variant="vector-acc", factor=2)(x.astype(np.int32) + 7) == \
        int(np.sum((x.astype(np.int32) + 7) * 3))


@pytest.mark.parametrize("n", [1, 4, 19])
def test_triangular_carried_loops_peel_with_clamped_remainders(n):
    # range(i + 1, N - 2) is empty (its raw trip count negative) for the last rows: the
    # remainder of each split starts no earlier than the loop
    check_against_reference(TRI, {"N": n}, variant="vector-acc", factor=1, dtype=np.float32)
    check_against_reference(TRI, {"N": n}, pipeline="vectorize{width=4,reductions=true}",
                            dtype=np.float64)


def test_auto_treats_a_scalar_accumulator_as_out0():
    # the same candidates and the same analytical choice as `dot` (out[0] +=) at every size
    from unrollkit.kernels import dot
    from unrollkit.tuning.cost_model import analyse, choose
    for n in (1000, 4096, 262144):
        x = np.zeros(n, np.float32)
        sig_s = uk.jit(dot_scalar).signature((x, x, np.zeros(1, np.float32)))[0]
        sig_m = uk.jit(dot).signature((x, x, np.zeros(1, np.float32)))[0]
        prof_s, preds_s = analyse(dot_scalar, sig_s)
        prof_m, preds_m = analyse(dot, sig_m)
        assert prof_s.reduction and not prof_s.recurrence
        assert [p.candidate for p in preds_s] == [p.candidate for p in preds_m]
        assert choose(dot_scalar, sig_s, check=False).candidate == choose(dot, sig_m, check=False).candidate
    x = np.zeros(64, np.float32)
    prof, preds = analyse(DECAY, uk.jit(DECAY).signature((x, np.zeros(1, np.float32)))[0])
    assert prof.recurrence and not prof.reduction
    assert not {p.candidate.variant for p in preds} & {"multi-acc", "vector-acc"}
