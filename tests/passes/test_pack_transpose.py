"""``pack{transpose=true}`` copies in cache-line squares: both the reads of the array and the
writes of the buffer stay within a few lines per square (a row-by-row transposing copy missed
L1 at every store once the buffer's rows were many lines long: gemm_bt at 512³ f32 ran at
0.66× numpy). Squares are cut at the footprint's edge (``min`` bounds) when its extents are not
a multiple of the square's side; the results match the interpreter either way."""
from __future__ import annotations

import numpy as np
import pytest

from differential import check_against_reference
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.kernels import gemm


def test_transposed_copy_runs_in_squares(check_ir):
    steps = Pipeline.parse("tile{i=48},pack{arg=0,loop=i.tile,transpose=true}").trace(gemm, M=96, N=8, K=37)
    # CHECK: memref.alloc() {alignment = 64 : i64} : memref<37x48xf32>
    # CHECK: affine.for %[[S0:.*]] = 0 to 48 step 16 {
    # CHECK: affine.for %[[S1:.*]] = 0 to 37 step 16 {
    # CHECK: affine.for %[[A:.*]] = #{{.*}}(%[[S0]]) to #{{[^ ]*}}(%[[S0]]) {
    # CHECK: affine.for %[[B:.*]] = #{{.*}}(%[[S1]]) to min #{{.*}}(%[[S1]]) {
    # CHECK: affine.store {{.*}}, %alloc[%[[B]], %[[A]]] : memref<37x48xf32>
    # CHECK: } {uk.name = "i.tile.pack0.1"}
    # CHECK: } {uk.name = "i.tile.pack0.0"}
    # CHECK: } {uk.name = "i.tile.pack0.1.square"}
    # CHECK: } {uk.name = "i.tile.pack0.0.square"}
    check_ir(steps[-1].ir)


def test_a_footprint_within_one_square_is_copied_row_by_row(check_ir):
    steps = Pipeline.parse("tile{i=4},pack{arg=0,loop=i.tile,transpose=true}").trace(gemm, M=8, N=8, K=16)
    # CHECK-NOT: square
    check_ir(steps[-1].ir)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m,k", [(40, 37), (48, 32), (17, 100), (5, 1)])
def test_transposed_copy_matches_the_interpreter(m, k, dt):
    check_against_reference(gemm, {"M": m, "N": 9, "K": k},
                            f"tile{{i={min(m, 20)}}},pack{{arg=0,loop=i.tile,transpose=true}}",
                            dtype=dt, seeds=(0, 1))
