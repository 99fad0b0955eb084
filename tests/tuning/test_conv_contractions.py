"""doitgen and convolutions as contractions (issue 12): the recogniser's roles, the schedule
`gemm_schedule` derives for them (a 1×1 convolution's pixels coalesced into one column loop),
and every result against numpy at odd sizes, f32 and f64. No timing."""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit import T
from unrollkit.kernels import contractions as kc
from unrollkit.tuning.contraction import recognise
from unrollkit.tuning.convolution import recognise_conv
from unrollkit.tuning.gemm_schedule import gemm_schedule

TOL = {np.float32: 3e-5, np.float64: 1e-12}


def _check(name_or_kernel, sizes, dt, ref=None):
    name = name_or_kernel if isinstance(name_or_kernel, str) else "conv2d_1x1"
    kernel = kc.ALL[name] if isinstance(name_or_kernel, str) else name_or_kernel
    args = kc.arguments(name, sizes, dt, seed=sum(sizes.values()))
    want = [np.array(a, np.float64) for a in args]
    (ref or kc.NUMPY[name])(*want)
    f = uk.jit(kernel, factor="auto", parallel=False)
    f(*args)
    assert f.last.plan.variant == "blas"
    scale = max(1.0, float(np.abs(want[-1]).max()))
    err = np.abs(args[-1] - want[-1]).max()
    assert err <= TOL[dt] * scale * max(1, sizes["K"]) * (9 if "3x3" in name else 1), (name, sizes, dt, err)
    return f


def test_doitgen_is_a_batched_product_with_two_m_like_loops():
    c = recognise(kc.doitgen)
    assert c.roles == (("r", "M"), ("q", "M"), ("p", "N"), ("s", "reduction"))
    assert (c.i, c.j, c.k, c.outer, c.fused) == ("q", "p", "s", ("r",), None)


def test_a_pointwise_convolution_coalesces_its_pixels():
    c = recognise(kc.conv2d_1x1)
    assert c.roles == (("n", "N"), ("co", "M"), ("h", "N"), ("w", "N"), ("ci", "reduction"))
    assert (c.i, c.j, c.k, c.outer, c.fused) == ("co", "w", "ci", ("n",), "h")
    assert c.trips({"M": 4, "N": 7, "K": 3, "H": 5, "P": 2}) == (4, 35, 3)
    args = kc.arguments("conv2d_1x1", {"P": 1, "M": 64, "K": 32, "H": 9, "N": 11}, np.float32)
    sig, _ = uk.jit(kc.conv2d_1x1, factor="auto").signature(args)
    s = gemm_schedule(kc.conv2d_1x1, sig)
    assert (s.M, s.N, s.K) == (64, 99, 32)
    assert "h×w coalesced into the columns" in s.describe()
    assert s.pipeline().text().startswith("coalesce{outer=h,inner=w},")


def test_a_3x3_convolution_coalesces_pixels_and_reduction_and_packs_by_iterations():
    c = recognise_conv(kc.conv2d_3x3)
    assert recognise(kc.conv2d_3x3) is None  # I[.., h + kh, ..]: not a plain contraction
    assert c.roles == (("n", "N"), ("co", "M"), ("h", "N"), ("w", "N"), ("ci", "reduction"),
                       ("kh", "reduction"), ("kw", "reduction"))
    assert (c.i, c.j, c.k, c.outer, c.fused, c.k_loops, c.gather) == ("co", "w", "kw", ("n",), "h",
                                                                       ("ci", "kh"), True)
    args = kc.arguments("conv2d_3x3", {"P": 1, "M": 64, "K": 16, "H": 9, "N": 11}, np.float32)
    sig, _ = uk.jit(kc.conv2d_3x3, factor="auto").signature(args)
    s = gemm_schedule(kc.conv2d_3x3, sig)
    assert (s.M, s.N, s.K) == (64, 99, 144)
    assert "ci×kh×kw coalesced into one reduction loop" in s.nest.describe()
    text = s.pipeline().text()
    assert text.startswith("coalesce{outer=h,inner=w},coalesce{outer=kh,inner=kw},coalesce{outer=ci,inner=kw},")
    assert "iterations=kw:w" in text


# (P, M, N, K, H): every size takes 1, 5, 17, 100 somewhere, and one larger set
SIZES = [(1, 1, 1, 1, 1), (2, 5, 17, 5, 3), (1, 17, 100, 16, 5), (3, 100, 5, 17, 1), (1, 64, 56, 64, 56)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("at", range(len(SIZES)))
@pytest.mark.parametrize("name", ["doitgen", "conv2d_1x1", "conv2d_3x3"])
def test_forms_match_numpy_at_odd_sizes(name, at, dt):
    p, m, n, k, h = SIZES[at]
    _check(name, {"P": p, "M": m, "N": n, "K": k, "H": h}, dt)


@uk.kernel
def conv_part(W: T["M", "K"], I: T["P", "K", "H", "N"], O: T["P", "M", "H", "N"]):
    """Rows h below H - 1 only: the pixels do not cover the arrays' dimension (not coalesced)."""
    for n in range(P):
        for co in range(M):
            for h in range(H - 1):
                for w in range(N):
                    for ci in range(K):
                        O[n, co, h, w] += W[co, ci] * I[n, ci, h, w]


@uk.kernel
def conv_apart(W: T["M", "K"], I: T["P", "K", "H", "N"], O: T["P", "M", "H", "N"]):
    """h outside co: not directly around w (not coalesced; h stays a parallel outer loop)."""
    for n in range(P):
        for h in range(H):
            for co in range(M):
                for w in range(N):
                    for ci in range(K):
                        O[n, co, h, w] += W[co, ci] * I[n, ci, h, w]


def _part(W, I, O):
    O[:, :, :-1] += np.einsum("oc,nchw->nohw", W, I[:, :, :-1])


@pytest.mark.parametrize("kernel, ref", [(conv_part, _part), (conv_apart, None)])
def test_pixels_that_cannot_be_coalesced_stay_two_loops_and_exact(kernel, ref):
    c = recognise(kernel)
    assert c is not None and c.fused is None and "h" in c.outer
    for dt in (np.float32, np.float64):
        _check(kernel, {"P": 2, "M": 17, "N": 5, "K": 16, "H": 4}, dt, ref)


def test_bench_rows_of_doitgen_and_the_convolution_and_the_kernel_filter():
    """The table's machinery at a tiny size (no timing claims): checked rows with their
    shapes; an unknown kernel name is an error naming the kernels."""
    from unrollkit.core.errors import UnrollkitError
    from unrollkit.tools.bench_contractions import cli, run
    text, rows = run((9,), ("f32",), ("doitgen", "conv2d_1x1"), rounds=1, seconds=0.0005)
    assert "| doitgen | 8×9³ | float32 |" in text and "| conv2d_1x1 | 16ch 56² 1×1 | float32 |" in text
    assert [r["variant"] for r in rows] == ["blas", "blas"]
    with pytest.raises(UnrollkitError, match="unknown kernel.*nonesuch.*conv2d_1x1"):
        cli("9", "f32", 1, 0.5, None, None, None, "doitgen,nonesuch")


@uk.kernel
def conv_same(W: T["M", "K", 3, 3], I: T["P", "K", "H", "N"], O: T["P", "M", "H", "N"]):
    """Rows and pixels clipped to the image (no padding array): the pixels do not cover O,
    so not a recognised convolution; the fallback stays exact."""
    for n in range(P):
        for co in range(M):
            for h in range(H - 2):
                for w in range(N - 2):
                    for ci in range(K):
                        for kh in range(3):
                            for kw in range(3):
                                O[n, co, h, w] += W[co, ci, kh, kw] * I[n, ci, h + kh, w + kw]


@uk.kernel
def conv_taps_outside(W: T["M", "K", 3, 3], I: T["P", "K", "HI", "NI"], O: T["P", "M", "H", "N"]):
    """The taps outside the pixels, the channel inside: the reductions are not one band."""
    for n in range(P):
        for co in range(M):
            for kh in range(3):
                for h in range(H):
                    for w in range(N):
                        for kw in range(3):
                            for ci in range(K):
                                O[n, co, h, w] += W[co, ci, kh, kw] * I[n, ci, h + kh, w + kw]


def _same(W, I, O):
    h, n = O.shape[2] - 2, O.shape[3] - 2
    for a in range(3):
        for b in range(3):
            O[:, :, :h, :n] += np.einsum("oc,nchw->nohw", W[:, :, a, b], I[:, :, a:a + h, b:b + n])


@pytest.mark.parametrize("kernel, ref", [(conv_same, _same), (conv_taps_outside, kc.NUMPY["conv2d_3x3"])])
def test_convolutions_of_other_shapes_fall_back_and_stay_exact(kernel, ref):
    assert recognise_conv(kernel) is None and gemm_schedule(kernel, uk.jit(kernel).signature(
        [np.zeros((2, 2, 3, 3)), np.zeros((1, 2, 5, 5)), np.zeros((1, 2, 5, 5))])[0]) is None
    sizes = {"P": 1, "M": 3, "N": 6, "K": 2, "H": 5}
    args = kc.arguments("conv2d_3x3", sizes, np.float64)
    if kernel is conv_same:
        args[1] = np.random.default_rng(1).standard_normal((1, 2, 5, 6))
    want = [a.copy() for a in args]
    ref(*want)
    f = uk.jit(kernel, factor="auto", parallel=False)
    f(*args)
    assert f.last.plan.variant != "blas"
    np.testing.assert_allclose(args[-1], want[-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["conv2d_1x1", "conv2d_3x3"])
def test_images_in_parallel_row_blocks_match_numpy(name):
    """parallel.py slices the outermost loop (the images) and calls the kernel per block: each
    block is a convolution of its own signature."""
    sizes = {"P": 3, "M": 17, "N": 9, "K": 16, "H": 5}
    args = kc.arguments(name, sizes, np.float32, seed=3)
    want = [np.array(a, np.float64) for a in args]
    kc.NUMPY[name](*want)
    uk.jit(kc.ALL[name], factor="auto", parallel=True, threads=2)(*args)
    np.testing.assert_allclose(args[-1], want[-1], rtol=1e-4, atol=TOL[np.float32] * 9 * 16 * 10)


def test_an_input_too_small_for_the_taps_is_refused_naming_the_subscript():
    """I needs H + 2 rows: one fewer is refused before anything runs, at the kernel's line."""
    from unrollkit.core.errors import KernelSyntaxError
    W, I, O = np.ones((4, 3, 3, 3)), np.ones((1, 3, 6, 7)), np.zeros((1, 4, 5, 5))
    with pytest.raises(KernelSyntaxError, match=r"contractions.py:\d+: subscript h \+ kh of I .* out of bounds"):
        uk.jit(kc.conv2d_3x3, factor="auto")(W, I, O)
    assert not O.any()
