"""FileCheck tests of the ``canonicalize`` pass: the IR it makes (``# CHECK`` lines next to the
code that builds it)."""
from differential import transformed
from unrollkit.kernels import mac


def test_canonicalize_promotes_a_single_iteration_tile_loop(check_ir):
    check_ir(transformed(mac, "tile{i=4},canonicalize", N=4))
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK-NOT: i.tile
    # CHECK: } {uk.name = "i"}
