"""``coalesce`` (passes/coalesce.py): two loops over two adjacent, whole dimensions become one
loop over a collapsed view; each result checked against numpy, each refusal names its cause."""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T
from unrollkit.core.errors import TransformError
from unrollkit.kernels.contractions import conv2d_1x1 as pointwise  # the 1x1 convolution


@uk.kernel
def shifted(I: T["H", "N"], O: T["H", "N"]):
    for h in range(H):
        for w in range(1, N):
            O[h, w] += I[h, w - 1]


@uk.kernel
def swapped(I: T["N", "H"], O: T["H", "N"]):
    for h in range(H):
        for w in range(N):
            O[h, w] += I[w, h]


@uk.kernel
def two_statements(I: T["H", "N"], O: T["H", "N"]):
    for h in range(H):
        O[h, 0] += 1.0
        for w in range(N):
            O[h, w] += I[h, w]


@uk.kernel
def read_elsewhere(I: T["H", "N"], O: T["H", "N"]):
    for h in range(H):
        for w in range(N):
            O[h, w] += I[h, w]
    for t in range(N):
        O[0, t] += I[1, t]


def _conv_args(p, k, h, n, m, dt=np.float64):
    rng = np.random.default_rng(p + k + h + n + m)
    return (rng.standard_normal((m, k)).astype(dt), rng.standard_normal((p, k, h, n)).astype(dt),
            rng.standard_normal((p, m, h, n)).astype(dt))


@pytest.mark.parametrize("dims", [(2, 3, 5, 7, 4), (1, 1, 1, 17, 1), (3, 2, 17, 1, 5)])
def test_coalesced_pixels_match_numpy_and_vectorize_across_rows(dims):
    W, I, O = _conv_args(*dims)
    want = O + np.einsum("oc,nchw->nohw", W, I)
    f = uk.jit(pointwise, parallel=False, pipeline="coalesce{outer=h,inner=w},permute{order=n:co:ci:w},"
                                                   "vectorize{loop=w,width=4},in-bounds")
    f(W, I, O)
    np.testing.assert_allclose(O, want, rtol=1e-12, atol=1e-12)


def test_the_fused_loop_spans_both_dimensions_in_the_ir():
    W, I, O = _conv_args(1, 2, 3, 5, 2)
    f = uk.jit(pointwise, pipeline="coalesce{outer=h,inner=w}", parallel=False)
    f(W, I, O)
    text = f.ir("transformed")
    assert text.count("memref.collapse_shape") == 2  # I and O, each viewed once
    assert "affine.for %arg6 = 0 to 15" in text.replace("%arg5", "%arg6") and 'uk.name = "h"' not in text


@pytest.mark.parametrize("kernel, args, ref", [
    (swapped, ((6, 4), (4, 6)), lambda I, O: np.add(O, I.T, out=O)),
    (read_elsewhere, ((4, 6), (4, 6)), lambda I, O: (np.add(O, I, out=O), np.add(O[0], I[1], out=O[0]))),
])
def test_accesses_that_cannot_collapse_divide_the_fused_variable(kernel, args, ref):
    """I[w, h] is transposed, O is read again by another nest: their subscripts become
    v floordiv N and v mod N, the arrays left as they are."""
    rng = np.random.default_rng(len(args))
    arrays = [rng.standard_normal(s) for s in args]
    want = [a.copy() for a in arrays]
    ref(*want)
    f = uk.jit(kernel, pipeline="coalesce{outer=h,inner=w}", parallel=False)
    f(*arrays)
    np.testing.assert_allclose(arrays[1], want[1], rtol=1e-12, atol=1e-12)
    text = f.ir("transformed")
    assert "floordiv 6" in text and "mod 6" in text
    assert text.count("collapse_shape %") == (1 if kernel is swapped else 0)  # O alone, when read here only


@pytest.mark.parametrize("kernel, args, why", [
    (shifted, ((4, 6), (4, 6)), "does not run from 0"),
    (two_statements, ((4, 6), (4, 6)), "not the only operation"),
])
def test_refusals_name_their_cause(kernel, args, why):
    arrays = [np.zeros(s) for s in args]
    with pytest.raises(TransformError, match=why):
        uk.jit(kernel, pipeline="coalesce{outer=h,inner=w}", parallel=False)(*arrays)


def test_options_are_required():
    with pytest.raises(TransformError, match="outer=<loop name> and inner"):
        uk.jit(shifted, pipeline="coalesce{outer=h}", parallel=False)(np.zeros((2, 3)), np.zeros((2, 3)))
