"""FileCheck tests of the ``vectorize`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
from differential import refuses, transformed
from unrollkit.kernels import dot, gemm, gemv, mac, prefix_sum


def test_vectorize_marks_transfers_in_bounds(check_ir):
    check_ir(transformed(mac, "vectorize{width=8}", N=20))
    # CHECK: affine.for %[[I:.*]] = 0 to 16 step 8 {
    # CHECK: vector.transfer_read %{{.*}}[%[[I]]], %{{.*}} {in_bounds = [true]} : memref<20xf32>, vector<8xf32>
    # CHECK: arith.mulf {{.*}} : vector<8xf32>
    # CHECK: arith.addf {{.*}} : vector<8xf32>
    # CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%[[I]]] {in_bounds = [true]}
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 16 to 20 {
    # CHECK: } {uk.name = "i.rem"}


def test_vectorize_broadcasts_invariant_loads(check_ir):
    check_ir(transformed(gemm, "vectorize{loop=j,width=4}", M=2, K=3, N=8))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK: %[[A:.*]] = affine.load %arg0
    # CHECK: vector.broadcast %[[A]] : f32 to vector<4xf32>
    # CHECK: } {uk.name = "j"}
    # CHECK-NOT: uk.name = "j.rem"


def test_vectorize_reduction_with_a_vector_accumulator(check_ir):
    check_ir(transformed(dot, "vectorize{width=4,reductions=true}", N=10))
    # CHECK: %[[INIT:.*]] = affine.load %arg2[0]
    # CHECK: %[[R:.*]] = affine.for %{{.*}} = 0 to 8 step 4 iter_args(%{{.*}} = %{{.*}}) -> (vector<4xf32>) {
    # CHECK: } {uk.name = "i"}
    # CHECK: %[[S:.*]] = vector.reduction <add>, %[[R]], %[[INIT]]
    # CHECK: affine.store %[[S]], %arg2[0]
    # CHECK: } {uk.name = "i.rem"}


def test_vectorize_refuses():
    refuses(prefix_sum, "vectorize", "loop 't'", "dependence", N=20)
    refuses(gemv, "vectorize{loop=j}", "loop 'j'", "reductions=true", M=3, N=20)
    refuses(gemm, "vectorize{loop=k}", "loop 'k'", "not innermost", M=3, K=3, N=3)
    refuses(gemm, "permute{order=i:j:k},vectorize{loop=k}", "loop 'k'", "%arg1 is accessed with stride", M=3, K=3, N=3)
    refuses(mac, "unroll{factor=2},vectorize", "loop 'i'", "step is 2", N=8)
