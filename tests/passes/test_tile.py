"""FileCheck tests of the ``tile`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
import pytest

from differential import refuses, skew, transformed
from unrollkit.core.errors import TransformError
from unrollkit.kernels import gemm, mac


def test_tile_two_loops_separates_the_partial_tile(check_ir):
    check_ir(transformed(gemm, "tile{i=4,j=4}", M=8, K=5, N=10))
    # CHECK: affine.for %[[IT:.*]] = 0 to 8 step 4 {
    # CHECK: affine.for %[[JT:.*]] = 0 to 8 step 4 {
    # CHECK: affine.for %{{.*}} = #map(%[[IT]]) to #map1(%[[IT]]) {
    # CHECK: affine.for %{{.*}} = 0 to 5 {
    # CHECK: affine.for %{{.*}} = #map(%[[JT]]) to #map1(%[[JT]]) {
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "k"}
    # CHECK: } {uk.name = "i"}
    # CHECK: } {uk.name = "j.tile"}
    # CHECK: affine.for %{{.*}} = 8 to 10 step 4 {
    # CHECK: } {uk.name = "j.tile"}
    # CHECK: } {uk.name = "i.tile"}


def test_tile_without_separation_uses_min_bounds(check_ir):
    check_ir(transformed(mac, "tile{i=4,separate=false}", N=10))
    # CHECK: #[[UB:.*]] = affine_map<(d0) -> (10, d0 + 4)>
    # CHECK: affine.for %[[T:.*]] = 0 to 10 step 4 {
    # CHECK: affine.for %{{.*}} = #map(%[[T]]) to min #[[UB]](%[[T]]) {
    # CHECK: } {uk.name = "i"}
    # CHECK: } {uk.name = "i.tile"}


def test_tile_order_puts_the_k_tile_outermost(check_ir):
    check_ir(transformed(gemm, "tile{i=2,k=2,order=k.tile:i.tile:i:k}", M=4, K=4, N=3))
    # CHECK: affine.for
    # CHECK: affine.for
    # CHECK: affine.for
    # CHECK: affine.for
    # CHECK: affine.for
    # CHECK: } {uk.name = "j"}
    # CHECK-NEXT: } {uk.name = "k"}
    # CHECK-NEXT: } {uk.name = "i"}
    # CHECK-NEXT: } {uk.name = "i.tile"}
    # CHECK-NEXT: } {uk.name = "k.tile"}


def test_tile_refuses():
    refuses(skew, "tile{i=2,j=2}", "'i'", "'j'", "not fully permutable", N=6, M=5)
    refuses(gemm, "tile{q=4}", "no loop named 'q'", M=4, K=4, N=4)
    refuses(gemm, "tile{i=2,order=i:i.tile}", "loop 'i' outside loop 'i.tile'", M=4, K=4, N=4)
    refuses(gemm, "tile{i=2,order=i.tile:k}", "must list each resulting loop once", M=4, K=4, N=4)
    with pytest.raises(TransformError, match="tile size of loop 'i' must be an integer"):
        transformed(gemm, "tile{i=x}", M=4, K=4, N=4)
