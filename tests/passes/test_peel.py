"""FileCheck tests of the ``peel`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
from differential import refuses, transformed
from unrollkit.kernels import mac


def test_peel_back_and_front(check_ir):
    check_ir(transformed(mac, "peel{factor=4},peel{loop=i.rem,factor=2,side=front}", N=11))
    # CHECK: affine.for %{{.*}} = 0 to 8 {
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 8 to 9 {
    # CHECK: } {uk.name = "i.rem.rem"}
    # CHECK: affine.for %{{.*}} = 9 to 11 {
    # CHECK: } {uk.name = "i.rem"}


def test_targeting_an_absent_remainder_does_nothing(check_ir):
    # N = 8: vectorize by 4 leaves no i.rem; the pipeline still works at this size
    check_ir(transformed(mac, "vectorize{width=4},unroll{loop=i.rem,full=true}", N=8))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK: } {uk.name = "i"}
    # CHECK-NOT: affine.for
    refuses(mac, "unroll{loop=q.rem}", "no loop named 'q.rem'", N=8)


def test_peel_refuses_a_partial_tile_loop():
    refuses(mac, "tile{i=4,separate=false},peel{loop=i}", "loop 'i'", "min", N=10)
    refuses(mac, "peel{side=middle}", "side must be one of", N=10)
