"""FileCheck tests of the ``scalar-replace`` pass: the IR it makes (``# CHECK`` lines next to the
code that builds it)."""
from differential import transformed
from unrollkit.kernels import gemm


def test_scalar_replace_forwards_the_stored_value(check_ir):
    # unroll-and-jam of k: C[i,j] is stored by copy 0 and loaded again by copy 1
    check_ir(transformed(gemm, "unroll-jam{loop=k,factor=2},scalar-replace", M=1, K=2, N=2))
    # CHECK: affine.load %arg2
    # CHECK: %[[FIRST:.*]] = arith.addf
    # CHECK-NOT: affine.load %arg2
    # CHECK: arith.addf %[[FIRST]],
