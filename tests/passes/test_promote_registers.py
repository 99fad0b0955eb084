"""The ``promote-to-registers`` pass: FileCheck of the IR it makes (a scalar reduction, a GEMM
register tile of vectors), the refusals that name the loop (another access that may touch the
location, an empty loop, nothing invariant), the exact separation (isl proves a loop-dependent
access of the same array disjoint) and differential runs against the interpreter and numpy."""
import numpy as np
import pytest

import unrollkit as uk
from differential import check_against_reference, kernel_from, refuses, transformed
from unrollkit.kernels import gemm, gemm_order, gemv, mac

TILE = ("tile{i=2,j=32,order=i.tile:j.tile:k:i:j},vectorize{loop=j,width=16},"
        "unroll{loop=j,full=true},unroll{loop=i,full=true}")

#: C[i, 0] accumulates a product with C[i, k]: the same row, columns 1.. (disjoint) or 0.. (not)
ROW_FROM_1 = kernel_from("""
def row_from_1(A: uk.T["N", "M"], C: uk.T["N", "M"]):
    for i in range(N):
        for k in range(1, M):
            C[i, 0] += A[i, k] * C[i, k]
""")
ROW_FROM_0 = kernel_from("""
def row_from_0(A: uk.T["N", "M"], C: uk.T["N", "M"]):
    for i in range(N):
        for k in range(M):
            C[i, 0] += A[i, k] * C[i, k]
""")
#: y[i] is written before it is read in the k loop: the carried value starts from a zero
OVERWRITE = kernel_from("""
def overwrite(A: uk.T["N", "M"], y: uk.T["N"]):
    for i in range(N):
        for k in range(M):
            y[i] = A[i, k] * 2.0
            y[i] += 1.0
""")
#: the k loop is empty for the last i
TRIANGLE = kernel_from("""
def triangle(A: uk.T["N", "N"], y: uk.T["N"]):
    for i in range(N):
        for k in range(i + 1, N):
            y[i] += A[i, k]
""")


def test_scalar_reduction_is_carried(check_ir):
    check_ir(transformed(gemv, "promote-to-registers{loop=j}", M=4, N=8))
    # CHECK: affine.for %[[I:.*]] = 0 to 4 {
    # CHECK: %[[Y0:.*]] = affine.load %arg2[%[[I]]] : memref<4xf32>
    # CHECK: %[[R:.*]] = affine.for %{{.*}} = 0 to 8 iter_args(%[[Y:.*]] = %[[Y0]]) -> (f32) {
    # CHECK-NOT: %arg2
    # CHECK: %[[S:.*]] = arith.addf %[[Y]], %{{.*}}
    # CHECK-NEXT: affine.yield %[[S]] : f32
    # CHECK-NEXT: } {uk.name = "j"}
    # CHECK-NEXT: affine.store %[[R]], %arg2[%[[I]]] : memref<4xf32>


def test_register_tile_of_vectors_is_carried(check_ir):
    """gemm's 2×32 register tile (four vectors of C): read before k, four iter_args, written
    after; the body touches only A and B."""
    check_ir(transformed(gemm, TILE + ",promote-to-registers{loop=k}", M=4, N=32, K=8))
    # CHECK-COUNT-4: vector.transfer_read %arg2[
    # CHECK: %[[R:.*]]:4 = affine.for %{{.*}} = 0 to 8 iter_args(%[[C0:.*]] = %{{.*}}, %[[C1:.*]] = %{{.*}}, %[[C2:.*]] = %{{.*}}, %[[C3:.*]] = %{{.*}}) -> (vector<16xf32>, vector<16xf32>, vector<16xf32>, vector<16xf32>) {
    # CHECK-NOT: %arg2
    # CHECK: arith.addf %[[C0]]
    # CHECK-NOT: %arg2
    # CHECK: arith.addf %[[C3]]
    # CHECK-NOT: %arg2
    # CHECK: affine.yield
    # CHECK-NEXT: } {uk.name = "k"}
    # CHECK-NEXT: vector.transfer_write %[[R]]#0, %arg2[
    # CHECK-NEXT: vector.transfer_write %[[R]]#1, %arg2[
    # CHECK-NEXT: vector.transfer_write %[[R]]#2, %arg2[
    # CHECK-NEXT: vector.transfer_write %[[R]]#3, %arg2[


def test_unrolled_copies_share_one_value(check_ir):
    """k unrolled by 2 first: each location is read and written twice per iteration; the
    second read takes the first write's value."""
    check_ir(transformed(gemm_order("ijk"), "unroll{loop=k,factor=3},promote-to-registers{loop=k}",
                         M=2, N=3, K=8))
    # CHECK: %[[C0:.*]] = affine.load %arg2
    # CHECK: %[[R:.*]] = affine.for %{{.*}} = 0 to 6 step 3 iter_args(%[[C:.*]] = %[[C0]]) -> (f32) {
    # CHECK: %[[S:.*]] = arith.addf %[[C]], %{{.*}}
    # CHECK: %[[T:.*]] = arith.addf %[[S]], %{{.*}}
    # CHECK: %[[U:.*]] = arith.addf %[[T]], %{{.*}}
    # CHECK-NEXT: affine.yield %[[U]] : f32
    # CHECK: affine.store %[[R]], %arg2
    # the cleanup iterations (k = 6, 7) are a loop of their own, promoted too
    # CHECK: affine.load %arg2
    # CHECK: affine.for %{{.*}} = 6 to 8 iter_args
    # CHECK: affine.store %{{.*}}, %arg2


def test_refuses_an_access_that_may_touch_the_location():
    refuses(ROW_FROM_0, "promote-to-registers{loop=k}", "loop 'k'", "may touch its elements",
            "affine.load of %arg1", N=4, M=6)
    # not strict: nothing changes, and the kernel stays exact
    text = transformed(ROW_FROM_0, "promote-to-registers{loop=k,strict=false}", N=4, M=6)
    assert "iter_args" not in text


def test_a_disjoint_access_of_the_same_array_is_proved_so():
    """C[i, k] for k >= 1 never touches C[i, 0]: the linear forms differ (k against a
    constant), the range of their difference over the loop's domain separates them."""
    text = transformed(ROW_FROM_1, "promote-to-registers{loop=k}", N=4, M=6)
    assert "iter_args" in text and text.count("affine.store") == 1


def test_refuses_a_loop_that_may_not_run():
    refuses(TRIANGLE, "promote-to-registers{loop=k}", "loop 'k'", "may run zero times", N=5)


def test_refuses_nothing_invariant():
    refuses(mac, "promote-to-registers{loop=i}", "nothing to promote", "loop 'i'",
            "depends on the loop", N=8)
    refuses(gemm, "promote-to-registers{loop=q}", "no loop named 'q'", M=2, N=3, K=4)


def test_unnamed_loops_are_never_refused():
    assert "iter_args" not in transformed(mac, "promote-to-registers", N=8)
    assert "iter_args" in transformed(gemv, "promote-to-registers", M=3, N=5)


def test_a_location_only_read_is_read_once(check_ir):
    """gemm's A[i, k] in the j loop: read before it, carried, never written back."""
    check_ir(transformed(gemm, "promote-to-registers{loop=j}", M=2, N=3, K=4))
    # CHECK: %[[A:.*]] = affine.load %arg0
    # CHECK-NEXT: %{{.*}} = affine.for %{{.*}} = 0 to 3 iter_args(%[[V:.*]] = %[[A]]) -> (f32) {
    # CHECK-NOT: %arg0
    # CHECK: affine.yield %[[V]] : f32
    # CHECK-NEXT: } {uk.name = "j"}
    # CHECK-NOT: affine.store {{.*}} %arg0


@pytest.mark.parametrize("kernel,pipeline,sizes", [
    (gemv, "promote-to-registers{loop=j}", dict(M=7, N=13)),
    (gemm_order("ijk"), "unroll{loop=k,factor=4},promote-to-registers{loop=k}", dict(M=5, N=3, K=7)),
    (gemm, TILE + ",promote-to-registers{loop=k}", dict(M=4, N=32, K=9)),
    (ROW_FROM_1, "promote-to-registers{loop=k}", dict(N=5, M=7)),
    (ROW_FROM_0, "promote-to-registers{loop=k,strict=false}", dict(N=5, M=7)),
    (TRIANGLE, "promote-to-registers", dict(N=6)),
    (OVERWRITE, "promote-to-registers{loop=k}", dict(N=4, M=5)),
], ids=["gemv", "gemm-ijk-unrolled", "gemm-tile", "disjoint", "aliased", "triangle", "overwrite"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matches_the_interpreter(kernel, pipeline, sizes, dtype):
    check_against_reference(kernel, sizes, pipeline, dtype=dtype, seeds=(0, 1))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [1, 5, 17, 100])
def test_gemm_schedule_carries_every_accumulator(n, dt):
    """No k loop the GEMM schedule leaves stores to C that run (a vector loop of no trips, a
    tile narrower than its width, keeps its stores until lowering drops it); the result matches
    numpy."""
    from mlir import ir
    from unrollkit.ir.ir_utils import affine_loops, enclosing_loops, loop_name, never_runs, walk_ops
    rng = np.random.default_rng(n)
    A, B = rng.standard_normal((n, n + 3)).astype(dt), rng.standard_normal((n + 3, n + 1)).astype(dt)
    C = np.zeros((n, n + 1), dt)
    f = uk.jit(gemm, variant="blas", parallel=False)
    f(A, B, C)
    np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4 * n)
    assert "promote-to-registers{loop=k,strict=false}" in f.last.plan.pipeline.text()
    with ir.Context() as ctx:
        ctx.allow_unregistered_dialects = True
        module = ir.Module.parse(f.ir("transformed"))
        loops = [op for op in affine_loops(module) if loop_name(op) == "k"]
        c = module.body.operations[0].regions[0].blocks[0].arguments[2]
        for op in loops:
            assert len(op.results) > 0
            dead = [x for x in walk_ops(op) if x.name == "affine.for" and never_runs(x)]
            writes = [x for x in walk_ops(op) if x.name in ("affine.store", "vector.transfer_write")
                      and x.operands[1] == c and not any(d in enclosing_loops(x) for d in dead)]
            assert not writes, writes[0]

