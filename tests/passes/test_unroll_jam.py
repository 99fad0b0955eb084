"""FileCheck tests of the ``unroll-jam`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
from differential import refuses, skew, transformed
from unrollkit.kernels import gemm


def test_unroll_jam_outer_loop_of_gemm(check_ir):
    check_ir(transformed(gemm, "unroll-jam{loop=i,factor=2}", M=5, K=3, N=4))
    # CHECK: affine.for %[[I:.*]] = 0 to 4 step 2 {
    # CHECK: affine.for %[[K:.*]] = 0 to 3 {
    # CHECK: affine.for %[[J:.*]] = 0 to 4 {
    # CHECK: affine.store {{.*}}[%[[I]], %[[J]]]
    # CHECK: affine.store {{.*}}[%{{.*}}, %[[J]]]
    # CHECK-NOT: affine.store
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "k"}
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for
    # CHECK: affine.store {{.*}}[%c4, %{{.*}}]
    # CHECK: } {uk.name = "k"}


def test_unroll_jam_middle_loop_of_gemm(check_ir):
    check_ir(transformed(gemm, "unroll-jam{loop=k,factor=2}", M=2, K=4, N=3))
    # CHECK: affine.for %{{.*}} = 0 to 2 {
    # CHECK: affine.for %{{.*}} = 0 to 4 step 2 {
    # CHECK: affine.for %{{.*}} = 0 to 3 {
    # CHECK-COUNT-2: affine.store
    # CHECK-NEXT: } {uk.name = "j"}
    # CHECK-NEXT: } {uk.name = "k"}
    # CHECK-NEXT: } {uk.name = "i"}
    # CHECK-NOT: affine.for


def test_unroll_jam_peeled_remainder_has_its_own_name(check_ir):
    check_ir(transformed(gemm, "unroll-jam{loop=i,factor=2,remainder=peel-back}", M=5, K=3, N=4))
    # CHECK: affine.for %{{.*}} = 0 to 4 step 2 {
    # CHECK-COUNT-2: affine.store
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 4 to 5 {
    # CHECK-COUNT-1: affine.store
    # CHECK: } {uk.name = "i.rem"}


def test_unroll_jam_refuses_a_reversed_dependence():
    refuses(skew, "unroll-jam{loop=i,factor=2}", "loop 'i'", "(<, >)", N=6, M=5)
    refuses(gemm, "unroll-jam{factor=2}", "needs loop=", M=4, K=4, N=4)
    refuses(gemm, "unroll-jam{loop=q}", "no loop named 'q'", M=4, K=4, N=4)
