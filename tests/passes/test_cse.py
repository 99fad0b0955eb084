"""FileCheck tests of the ``cse`` pass: the IR it makes (``# CHECK`` lines next to the
code that builds it)."""
from differential import transformed
from unrollkit.kernels import mac


def test_cse_merges_the_padding_constants(check_ir):
    check_ir(transformed(mac, "vectorize{width=4},cse", N=8))
    # CHECK-COUNT-1: arith.constant 0.000000e+00 : f32
    # CHECK-NOT: arith.constant
    # CHECK: return
