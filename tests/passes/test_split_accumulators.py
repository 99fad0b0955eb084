"""FileCheck tests of the ``split-accumulators`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
from differential import refuses, transformed
from unrollkit.kernels import dot, gemm, mac


def test_split_accumulators_on_dot(check_ir):
    check_ir(transformed(dot, "split-accumulators{accumulators=4}", N=10))
    # CHECK: %[[A0:.*]] = affine.load %arg2[0]
    # CHECK: %[[R:.*]]:4 = affine.for %{{.*}} = 0 to 8 step 4 iter_args(%{{.*}} = %[[A0]], {{.*}}) -> (f32, f32, f32, f32) {
    # CHECK-COUNT-4: arith.addf %arg
    # CHECK: affine.yield
    # CHECK: } {uk.name = "i"}
    # CHECK: %[[L:.*]] = arith.addf %[[R]]#0, %[[R]]#1
    # CHECK: %[[H:.*]] = arith.addf %[[R]]#2, %[[R]]#3
    # CHECK: %[[T:.*]] = arith.addf %[[L]], %[[H]]
    # CHECK: affine.store %[[T]], %arg2[0]
    # CHECK: affine.for %{{.*}} = 8 to 10 {
    # CHECK: } {uk.name = "i.rem"}


def test_split_accumulators_refuses():
    refuses(mac, "split-accumulators", "loop 'i'", "no reduction", N=8)
    refuses(gemm, "split-accumulators{loop=k}", "loop 'k'", "inside loop 'j'", M=2, K=4, N=3)
