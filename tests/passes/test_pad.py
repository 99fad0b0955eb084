"""FileCheck tests of the ``pad`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
from differential import padded_axpy, refuses, transformed
from unrollkit.kernels import mac


def test_pad_with_caller_slack(check_ir):
    check_ir(transformed(padded_axpy, "pad{factor=8}", N=20))
    # CHECK: affine.for %{{.*}} = 0 to 16 {
    # CHECK: } {uk.name = "i"}


def test_pad_refuses_accesses_past_the_array():
    refuses(padded_axpy, "pad{factor=32}", "loop 'i'", "past its 20 elements", N=20)
    refuses(mac, "pad{factor=4}", "loop 'i'", "no runtime padding", N=10)
