"""FileCheck tests of the ``unroll`` pass: the IR it makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
import pytest

from differential import padded_axpy, refuses, transformed
from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.kernels import mac


def test_unroll_cleanup_keeps_a_remainder_loop(check_ir):
    check_ir(transformed(mac, "unroll{factor=4}", N=10))
    # CHECK: affine.for %[[I:.*]] = 0 to 8 step 4 {
    # CHECK-COUNT-4: affine.store
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 8 to 10 {
    # CHECK: } {uk.name = "i"}


def test_unroll_peel_front_puts_the_remainder_first(check_ir):
    check_ir(transformed(mac, "unroll{factor=4,remainder=peel-front}", N=10))
    # CHECK: affine.for %{{.*}} = 0 to 2 {
    # CHECK-COUNT-1: affine.store
    # CHECK: } {uk.name = "i.rem"}
    # CHECK: affine.for %{{.*}} = 2 to 10 step 4 {
    # CHECK-COUNT-4: affine.store
    # CHECK: } {uk.name = "i"}


def test_unroll_peel_back_names_the_epilogue(check_ir):
    check_ir(transformed(mac, "unroll{factor=4,remainder=peel-back}", N=10))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK-COUNT-4: affine.store
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 8 to 10 {
    # CHECK: } {uk.name = "i.rem"}


def test_unroll_unrolled_cleanup_has_no_remainder_loop(check_ir):
    check_ir(transformed(mac, "unroll{factor=4,remainder=unrolled-cleanup}", N=11))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK: } {uk.name = "i"}
    # CHECK-NOT: affine.for
    # CHECK-COUNT-3: affine.store
    # CHECK-NOT: affine.store
    # CHECK: return


def test_unroll_pad_rounds_the_trip_count_up(check_ir):
    check_ir(transformed(padded_axpy, "unroll{factor=4,remainder=pad}", N=19))
    # CHECK: affine.for %{{.*}} = 0 to 12 step 4 {
    # CHECK-COUNT-4: affine.store
    # CHECK-NOT: affine.for
    # CHECK: return


def test_unroll_pad_refuses_arrays_without_slack():
    msg = refuses(mac, "unroll{factor=4,remainder=pad}", "'i'", "unpadded", N=10)
    assert "index 11" in msg


def test_unroll_up_to_factor_false_leaves_short_loops_rolled(check_ir):
    check_ir(transformed(mac, "unroll{factor=8,up-to-factor=false}", N=6))
    # CHECK: affine.for %{{.*}} = 0 to 6 {
    # CHECK-COUNT-1: affine.store
    # CHECK: } {uk.name = "i"}


def test_unroll_up_to_factor_unrolls_short_loops_fully(check_ir):
    check_ir(transformed(mac, "unroll{factor=8}", N=6))
    # CHECK-NOT: affine.for
    # CHECK-COUNT-6: affine.store


def test_unroll_refuses_bad_options_and_code_size(monkeypatch):
    with pytest.raises(TransformError, match="remainder must be one of"):
        transformed(mac, "unroll{remainder=sideways}", N=8)
    monkeypatch.setenv("UNROLLKIT_MAX_OPS", "200")
    with pytest.raises(CodeSizeError, match="'i'"):
        transformed(mac, "unroll{full=true}", N=100)
