"""``pack{iterations=k:j}`` (passes/pack.py): a read that is any affine function of two loops
inside the anchor and the loops around it is copied, per anchor iteration, into a buffer
indexed by those two loops (a convolution's im2col per cache block). Results against numpy;
refusals name their cause."""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T
from unrollkit.core.errors import TransformError


@uk.kernel
def correlate(W: T["M", "K"], I: T["NI"], O: T["M", "N"]):
    for i in range(M):
        for k in range(K):
            for j in range(N):
                O[i, j] += W[i, k] * I[j + k]


@uk.kernel
def correlate_rows(W: T["M", "K"], I: T["NI"], O: T["M", "N"]):
    for i in range(M):
        for k in range(K):
            for j in range(N):
                O[i, j] += W[i, k] * I[i + j + k]


TILED = "tile{k=4,order=k.tile:k},"


def _args(m, k, n, extra=0):
    rng = np.random.default_rng(m * k * n)
    return (rng.standard_normal((m, k)), rng.standard_normal(n + k - 1 + extra), rng.standard_normal((m, n)))


@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (3, 5, 7), (5, 17, 4)])
def test_reads_of_a_sliding_window_come_from_the_packed_block(m, k, n):
    W, I, O = _args(m, k, n)
    want = O + np.array([[sum(W[i, t] * I[j + t] for t in range(k)) for j in range(n)] for i in range(m)])
    f = uk.jit(correlate, pipeline=TILED + "pack{arg=1,loop=k.tile,iterations=k:j}", parallel=False)
    f(W, I, O)
    np.testing.assert_allclose(O, want, rtol=1e-12, atol=1e-12)
    text = f.ir("transformed")
    if k >= 4:  # one block of 4 × N copies, then the kernel reads the buffer only
        assert f"memref<4x{n}xf64>" in text and text.count("affine.load %arg1") == 1 + (k % 4 > 0)


@pytest.mark.parametrize("kernel, opts, why", [
    (correlate, "iterations=k:q", "names two loops inside the anchor"),
    (correlate_rows, "iterations=k:j", "depends on a loop other than the two named"),
])
def test_refusals_name_their_cause(kernel, opts, why):
    W, I, O = _args(3, 8, 5, extra=3)
    with pytest.raises(TransformError, match=why):  # i inside the anchor: k.tile → k → i → j
        uk.jit(kernel, pipeline="permute{order=k:i:j}," + TILED + f"pack{{arg=1,loop=k.tile,{opts}}}",
               parallel=False)(W, I, O)


@uk.kernel
def correlate_2d(W: T["M", "K"], I: T["HI", "NI"], O: T["M", "H", "N"]):
    """A 1×K correlation over the rows of a 2-D image, the pixels (h, w) to be coalesced."""
    for i in range(M):
        for h in range(H):
            for w in range(N):
                for k in range(K):
                    O[i, h, w] += W[i, k] * I[h, w + k]


def _rows_pipeline(block: int) -> str:
    return ("coalesce{outer=h,inner=w},permute{order=k:i:w},"
            f"tile{{w={block},k=2,order=w.tile:k.tile:k:i:w}},pack{{arg=1,loop=k.tile,iterations=k:w}}")


def test_a_divided_column_is_copied_row_by_row(check_ir):
    """The coalesced pixel w = h·N + w' is read as I[w floordiv N, w mod N + k]: the copy runs
    over the rows the block touches and the columns of each, with no division left in the read
    (passes/pack_rows.py)."""
    W, I, O = (np.zeros(s) for s in ((2, 3), (5, 9), (2, 5, 7)))
    f = uk.jit(correlate_2d, pipeline=_rows_pipeline(16), parallel=False)
    f(W, I, O)
    # CHECK: affine.for %[[A:.*]] = 0 to 2 {
    # CHECK: affine.for %[[R:.*]] = #{{.*}}(%{{.*}}) to #{{.*}}(%{{.*}}) {
    # CHECK: affine.for %[[C:.*]] = max #{{.*}}(%[[R]], %{{.*}}) to min #{{.*}}(%[[R]], %{{.*}}) {
    # CHECK-NOT: floordiv
    # CHECK: affine.load %arg1[%[[R]], %[[A]] + %[[C]] + %{{.*}}] : memref<5x9xf64>
    # CHECK: affine.store {{.*}}[%[[A]], %[[R]] * 7 + %[[C]] - %{{.*}}] : memref<2x16xf64>
    # CHECK: } {uk.name = "k.tile.pack1.1"}
    # CHECK: } {uk.name = "k.tile.pack1.1.rows"}
    # CHECK: } {uk.name = "k.tile.pack1.0"}
    check_ir(f.ir("transformed"))


@pytest.mark.parametrize("m, k, h, n, block", [(2, 3, 5, 7, 16), (3, 1, 4, 1, 3), (1, 4, 3, 9, 9),
                                               (2, 2, 6, 5, 4), (1, 5, 2, 17, 20)])
def test_the_row_by_row_copy_matches_numpy(m, k, h, n, block):
    rng = np.random.default_rng(m * k * h * n)
    W, I, O = rng.standard_normal((m, k)), rng.standard_normal((h, n + k - 1)), rng.standard_normal((m, h, n))
    want = O + np.einsum("ik,hwk->ihw", W, np.lib.stride_tricks.sliding_window_view(I, k, axis=1))
    f = uk.jit(correlate_2d, pipeline=_rows_pipeline(block), parallel=False)
    f(W, I, O)
    np.testing.assert_allclose(O, want, rtol=1e-12, atol=1e-12)
