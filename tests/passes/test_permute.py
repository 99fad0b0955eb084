"""FileCheck tests of the ``permute and interchange`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
from differential import refuses, skew, transformed
from unrollkit.kernels import gemm, mac


def test_permute_gemm_to_ijk(check_ir):
    check_ir(transformed(gemm, "permute{order=i:j:k}", M=2, K=3, N=4))
    # CHECK: affine.for %{{.*}} = 0 to 2 {
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK: affine.for %{{.*}} = 0 to 3 {
    # CHECK: } {uk.name = "k"}
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "i"}


def test_interchange_swaps_two_loops(check_ir):
    check_ir(transformed(gemm, "interchange{a=i,b=k}", M=2, K=3, N=4))
    # CHECK: affine.for %{{.*}} = 0 to 3 {
    # CHECK: affine.for %{{.*}} = 0 to 2 {
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "i"}
    # CHECK: } {uk.name = "k"}


def test_permute_refuses():
    refuses(skew, "interchange{a=i,b=j}", "'i'", "'j'", "(<, >)", N=6, M=5)
    refuses(skew, "permute{order=j:i}", "reversed", N=6, M=5)
    refuses(gemm, "peel{loop=j,factor=4},permute{order=k:j}", "perfect nest", M=2, K=3, N=6)
    refuses(gemm, "permute{order=i:q}", "no loop named 'q'", M=2, K=3, N=4)
    refuses(mac, "permute{order=i}", "at least two loops", N=4)
