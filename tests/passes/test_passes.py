"""FileCheck tests, one or more per pass: the IR a pass makes (``# CHECK`` lines next to the code
that builds it) and the input it must refuse, with an error naming the loop."""
import pytest

from differential import padded_axpy, refuses, skew, transformed
from unrollkit.core.errors import CodeSizeError, TransformError
from unrollkit.kernels import dot, gemm, gemv, mac, prefix_sum


# ------------------------------------------------------------------ unroll and its remainders

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


# ------------------------------------------------------------------ unroll-jam

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


# ------------------------------------------------------------------ tile

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


# ------------------------------------------------------------------ permute / interchange

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


# ------------------------------------------------------------------ peel / pad

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


def test_pad_with_caller_slack(check_ir):
    check_ir(transformed(padded_axpy, "pad{factor=8}", N=20))
    # CHECK: affine.for %{{.*}} = 0 to 16 {
    # CHECK: } {uk.name = "i"}


def test_pad_refuses_accesses_past_the_array():
    refuses(padded_axpy, "pad{factor=32}", "loop 'i'", "past its 20 elements", N=20)
    refuses(mac, "pad{factor=4}", "loop 'i'", "no runtime padding", N=10)


# ------------------------------------------------------------------ vectorize

def test_vectorize_marks_transfers_in_bounds(check_ir):
    check_ir(transformed(mac, "vectorize{width=8}", N=20))
    # CHECK: affine.for %[[I:.*]] = 0 to 16 step 8 {
    # CHECK: vector.transfer_read %{{.*}}[%[[I]]], %{{.*}} {in_bounds = [true]} : memref<20xf32>, vector<8xf32>
    # CHECK: arith.mulf {{.*}} : vector<8xf32>
    # CHECK: arith.addf {{.*}} : vector<8xf32>
    # CHECK: vector.transfer_write %{{.*}}, %{{.*}}[%[[I]]] {in_bounds = [true]}
    # CHECK: } {uk.name = "i"}
    # CHECK: affine.for %{{.*}} = 16 to 20 {
    # CHECK: } {uk.name = "i.rem"}


def test_vectorize_broadcasts_invariant_loads(check_ir):
    check_ir(transformed(gemm, "vectorize{loop=j,width=4}", M=2, K=3, N=8))
    # CHECK: affine.for %{{.*}} = 0 to 8 step 4 {
    # CHECK: %[[A:.*]] = affine.load %arg0
    # CHECK: vector.broadcast %[[A]] : f32 to vector<4xf32>
    # CHECK: } {uk.name = "j"}
    # CHECK-NOT: uk.name = "j.rem"


def test_vectorize_reduction_with_a_vector_accumulator(check_ir):
    check_ir(transformed(dot, "vectorize{width=4,reductions=true}", N=10))
    # CHECK: %[[INIT:.*]] = affine.load %arg2[0]
    # CHECK: %[[R:.*]] = affine.for %{{.*}} = 0 to 8 step 4 iter_args(%{{.*}} = %{{.*}}) -> (vector<4xf32>) {
    # CHECK: } {uk.name = "i"}
    # CHECK: %[[S:.*]] = vector.reduction <add>, %[[R]], %[[INIT]]
    # CHECK: affine.store %[[S]], %arg2[0]
    # CHECK: } {uk.name = "i.rem"}


def test_vectorize_refuses():
    refuses(prefix_sum, "vectorize", "loop 't'", "dependence", N=20)
    refuses(gemv, "vectorize{loop=j}", "loop 'j'", "reductions=true", M=3, N=20)
    refuses(gemm, "vectorize{loop=k}", "loop 'k'", "not innermost", M=3, K=3, N=3)
    refuses(gemm, "permute{order=i:j:k},vectorize{loop=k}", "loop 'k'", "stride", M=3, K=3, N=3)
    refuses(mac, "unroll{factor=2},vectorize", "loop 'i'", "step is 2", N=8)


# ------------------------------------------------------------------ split-accumulators

def test_split_accumulators_on_dot(check_ir):
    check_ir(transformed(dot, "split-accumulators{accumulators=4}", N=10))
    # CHECK: %[[A0:.*]] = affine.load %arg2[0]
    # CHECK: %[[R:.*]]:4 = affine.for %{{.*}} = 0 to 8 step 4 iter_args(%{{.*}} = %[[A0]], {{.*}}) -> (f32, f32, f32, f32) {
    # CHECK-COUNT-4: arith.addf %arg
    # CHECK: affine.yield
    # CHECK: } {uk.name = "i"}
    # CHECK: %[[L:.*]] = arith.addf %[[R]]#0, %[[R]]#1
    # CHECK: %[[H:.*]] = arith.addf %[[R]]#2, %[[R]]#3
    # CHECK: %[[T:.*]] = arith.addf %[[L]], %[[H]]
    # CHECK: affine.store %[[T]], %arg2[0]
    # CHECK: affine.for %{{.*}} = 8 to 10 {
    # CHECK: } {uk.name = "i.rem"}


def test_split_accumulators_refuses():
    refuses(mac, "split-accumulators", "loop 'i'", "no reduction", N=8)
    refuses(gemm, "split-accumulators{loop=k}", "loop 'k'", "inside loop 'j'", M=2, K=4, N=3)


# ------------------------------------------------------------------ scalar-replace, canonicalize, cse, mlir

def test_scalar_replace_forwards_the_stored_value(check_ir):
    # unroll-and-jam of k: C[i,j] is stored by copy 0 and loaded again by copy 1
    check_ir(transformed(gemm, "unroll-jam{loop=k,factor=2},scalar-replace", M=1, K=2, N=2))
    # CHECK: affine.load %arg2
    # CHECK: %[[FIRST:.*]] = arith.addf
    # CHECK-NOT: affine.load %arg2
    # CHECK: arith.addf %[[FIRST]],


def test_canonicalize_promotes_a_single_iteration_tile_loop(check_ir):
    check_ir(transformed(mac, "tile{i=4},canonicalize", N=4))
    # CHECK: affine.for %{{.*}} = 0 to 4 {
    # CHECK-NOT: i.tile
    # CHECK: } {uk.name = "i"}


def test_cse_merges_the_padding_constants(check_ir):
    check_ir(transformed(mac, "vectorize{width=4},cse", N=8))
    # CHECK-COUNT-1: arith.constant 0.000000e+00 : f32
    # CHECK-NOT: arith.constant
    # CHECK: return


def test_mlir_step_runs_an_upstream_pipeline(check_ir):
    check_ir(transformed(mac, "tile{i=4},mlir{func.func(affine-loop-normalize)}", N=12))
    # CHECK: affine.for %{{.*}} = 0 to 3 {
    # CHECK: } {uk.name = "i.tile"}


def test_mlir_step_rejects_a_bad_pipeline_when_parsed():
    from unrollkit.codegen.pipeline import Pipeline
    with pytest.raises(TransformError, match="invalid MLIR pass pipeline 'no-such-pass'"):
        Pipeline.parse("unroll,mlir{no-such-pass}")
    with pytest.raises(TransformError, match="needs a pass pipeline"):
        Pipeline.parse("mlir{}")
