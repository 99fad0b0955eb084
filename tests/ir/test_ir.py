"""IR at each stage, checked with FileCheck: `# CHECK:` lines sit next to the code that builds it."""
import numpy as np
import pytest
from mlir import ir

import unrollkit as uk
from unrollkit.codegen.pipeline import Pipeline, lower_kernel
from unrollkit.ir.census import census
from unrollkit.ir.ir_utils import count_ops, loop_names
from unrollkit.kernels import gemm, mac, prefix_sum


def f32(*shape):
    return np.zeros(shape, np.float32)


def test_affine_stage_is_affine_for_with_loop_names(check_ir):
    f = uk.jit(gemm)
    check_ir(f.ir("affine", f32(4, 5), f32(5, 6), f32(4, 6)))
    # CHECK: func.func @gemm(%[[A:.*]]: memref<4x5xf32> {llvm.noalias}, %{{.*}}: memref<5x6xf32> {llvm.noalias}, %{{.*}}: memref<4x6xf32> {llvm.noalias})
    # CHECK: affine.for %[[I:.*]] = 0 to 4 {
    # CHECK: affine.for %[[K:.*]] = 0 to 5 {
    # CHECK: affine.for %[[J:.*]] = 0 to 6 {
    # CHECK: affine.load %[[A]][%[[I]], %[[K]]]
    # CHECK: arith.mulf {{.*}} fastmath<contract> : f32
    # CHECK: affine.store
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "k"}
    # CHECK: } {uk.name = "i"}


def test_factor_4_has_four_copies_and_a_cleanup_loop(check_ir):
    f = uk.jit(mac, factor=4)
    check_ir(f.ir("transformed", f32(10), f32(10), f32(10)))
    # CHECK: affine.for %[[I:.*]] = 0 to 8 step 4 {
    # CHECK-COUNT-3: affine.load %{{.*}}[%[[I]]]
    # CHECK: affine.store {{.*}}[%[[I]]]
    # CHECK-COUNT-3: affine.load %{{.*}}[%[[I1:.*]]]
    # CHECK: affine.store
    # CHECK-COUNT-3: affine.load
    # CHECK: affine.store
    # CHECK-COUNT-3: affine.load
    # CHECK: affine.store
    # CHECK-NOT: affine.load
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 8 to 10 {
    # CHECK-COUNT-3: affine.load
    # CHECK: affine.store
    # CHECK: } {uk.name = "i"}


def test_factor_dividing_trip_count_has_no_cleanup(check_ir):
    f = uk.jit(mac, factor=4)
    check_ir(f.ir("transformed", f32(12), f32(12), f32(12)))
    # CHECK: affine.for %{{.*}} = 0 to 12 step 4 {
    # CHECK-COUNT-12: affine.load
    # CHECK: } {uk.name = "i"}
    # CHECK-NOT: affine.for


def test_factor_dict_names_the_loop(check_ir):
    f = uk.jit(gemm, factor={"k": 2})
    check_ir(f.ir("transformed", f32(3, 5), f32(5, 4), f32(3, 4)))
    # CHECK: affine.for %{{.*}} = 0 to 3 {
    # CHECK: affine.for %{{.*}} = 0 to 4 step 2 {
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK: } {uk.name = "j"}
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK: } {uk.name = "j"}
    # CHECK: } {uk.name = "k"}
    # The one leftover k iteration (5 = 2*2 + 1) is promoted: its j loop reads column 4.
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK: affine.load %{{.*}}[%{{.*}}, %c4]


def test_trip_count_below_factor_unrolls_fully(check_ir):
    f = uk.jit(prefix_sum, factor=8)
    check_ir(f.ir("transformed", f32(4), f32(4)))
    # CHECK-NOT: affine.for
    # CHECK-COUNT-3: affine.store
    # CHECK-NOT: affine.store


def test_llvm_stage_has_noalias_bare_pointers(check_ir):
    f = uk.jit(mac)
    check_ir(f.ir("llvm", f32(16), f32(16), f32(16)))
    # CHECK: define void @uk_mac(ptr noalias %{{.*}}, ptr noalias %{{.*}}, ptr noalias %{{.*}})


def test_asm_stage_is_host_assembly(check_ir):
    f = uk.jit(mac)
    check_ir(f.ir("asm", f32(64), f32(64), f32(64)))
    # CHECK: mac:
    # CHECK: vfmadd
    # CHECK: ret


def test_unknown_stage_is_an_error():
    f = uk.jit(mac)
    with pytest.raises(ValueError, match="unknown stage 'mlir'.*affine"):
        f.ir("mlir", f32(4), f32(4), f32(4))


def test_ir_before_any_call_asks_for_arguments():
    with pytest.raises(uk.ArgumentError, match="call the kernel first"):
        uk.jit(mac).ir("affine")


def test_census_counts_what_count_ops_and_loop_names_count():
    module = lower_kernel(gemm, {"M": 10, "N": 12, "K": 7})
    with module.context, ir.Location.unknown():
        Pipeline.parse("tile{j=4},unroll{loop=k,factor=3}").run(module)
        n, names = census(module.operation)
        assert n == count_ops(module.operation) > 0
        assert sorted(names) == loop_names(module) and {"i", "j", "j.tile", "k"} <= names
