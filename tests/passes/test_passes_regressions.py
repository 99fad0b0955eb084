"""Regression tests for miscompiles the differential fuzzer found in the loop passes.

Each test compiles a small kernel with a pipeline and compares the result with the reference
interpreter (`unrollkit.runtime.interpreter.interpret`). The kernels are the fuzzer's shape: loops
that keep a margin of 1 from each array end, triangular inner loops (``range(i + 1, M - 1)``,
empty for large ``i``), steps 2 and 3, and sizes down to 0.
"""
from __future__ import annotations

import numpy as np
import pytest

import unrollkit as uk
from unrollkit.core.errors import TransformError
from unrollkit.frontend.parse import parse_kernel
from unrollkit.runtime.interpreter import interpret
from unrollkit.codegen.pipeline import Pipeline

from differential import transformed


def _kernel(body: str, out_shape: str, dtype: str = "f64"):
    T = f"uk.{dtype}"
    src = (f'def fuzz_kernel(x: {T}["N"], y: {T}["N"], z: {T}["N", "M"], s: {T}, '
           f'out: {T}[{out_shape}]):\n' + body)
    return parse_kernel(src, filename="<regression>", env={"uk": uk})


def check(body: str, out_shape: str, pipeline: str, *, N: int, M: int, variant: str = "affine",
          dtype: str = "f64", seed: int = 0, **jit_options) -> None:
    """Compile ``body`` with ``pipeline`` and compare every array with the interpreter's."""
    kernel = _kernel(body, out_shape, dtype)
    sizes = {"N": N, "M": M}
    rng = np.random.default_rng(seed)
    dt = {"f32": np.float32, "f64": np.float64, "i32": np.int32}[dtype]
    args = []
    for p in kernel.params:
        if p.is_array:
            shape = tuple(s if isinstance(s, int) else sizes[s] for s in p.shape)
            args.append(np.ascontiguousarray(rng.uniform(-1, 1, shape), dtype=dt))
        else:
            args.append(float(rng.uniform(-1, 1)))
    want = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    interpret(kernel, *want)
    uk.jit(kernel, variant=variant, pipeline=Pipeline.parse(pipeline), **jit_options)(*args)
    for got, exp in zip(args, want):
        if isinstance(got, np.ndarray):
            np.testing.assert_allclose(got, exp, rtol=1e-9, atol=1e-9)


# ---------------------------------------------------------------- negative raw trip counts
# `for j in range(i + 1, M - 1)` has ub - lb < 0 for large i. A split point or cleanup bound
# computed from ceildiv(ub - lb, step) then lands outside [lb, ub]: with `mod` it lands above
# ub (peel front ran up to 15 extra iterations past the loop's end: heap corruption), with
# `floordiv` below lb (the remainder ran iterations before lb).

TRI3 = ("    for i in range(1, N - 1):\n"
        "        for j in range(i + 1, M - 1, 2):\n"
        "            for k in range(1, N - 1, 2):\n"
        "                t = k\n"
        "                out[i - 1, j, k - 1] += t * 2.0\n")


def test_peel_front_of_a_triangular_loop_then_tile():
    # the fuzzer's first heap-corrupting case
    check(TRI3, '"N", "M", "N"',
          "peel{loop=j,factor=16,side=front},tile{k=4,separate=false},tile{j=8,separate=false}",
          N=13, M=2, seed=25710)


TRI2 = ("    for i in range(1, N - 1):\n"
        "        for j in range(i + 1, M - 1):\n"
        "            out[i, j] += z[i - 1, j + 1] * 2.0\n")

TRI2_STEPS = ("    for i in range(1, N - 1, 3):\n"
              "        for j in range(i + 1, M - 1, 2):\n"
              "            out[i + 1, j - 1] = z[i, j] + x[i]\n")


@pytest.mark.parametrize("side", ["back", "front"])
@pytest.mark.parametrize("body", [TRI2, TRI2_STEPS], ids=["step1", "steps"])
@pytest.mark.parametrize("N,M", [(5, 4), (9, 6), (13, 9)])
def test_peel_of_a_triangular_loop(side, body, N, M):
    check(body, '"N", "M"', f"peel{{loop=j,factor=3,side={side}}}", N=N, M=M)


@pytest.mark.parametrize("N,M", [(12, 3), (9, 6), (13, 9)])
def test_unroll_cleanup_of_a_triangular_loop(N, M):
    # upstream MLIR's affine unroller: cleanup lb = lb + (tc - tc mod f)·step, tc unclamped
    body = ("    for i in range(1, N - 1, 2):\n"
            "        for j in range(i + 1, M - 1):\n"
            "            out[i] += z[i, j - 1]\n")
    check(body, '"N"', "unroll{factor=16}", N=N, M=M, variant="none")
    check(body, '"N"', "unroll{loop=j,factor=3}", N=N, M=M)


@pytest.mark.parametrize("N,M", [(12, 3), (9, 6)])
def test_unroll_jam_cleanup_of_a_triangular_loop(N, M):
    # the fuzzer's "double free or corruption" case: upstream's unroll-and-jam cleanup
    body = ("    for i in range(1, N - 1):\n"
            "        for j in range(i + 1, M - 1):\n"
            "            for k in range(1, N - 1, 3):\n"
            "                t = -(z[i, j])\n"
            "                out[i + 1, j + 1, k + 1] = t * 2.0\n")
    check(body, '"N", "M", "N"', "unroll-jam{loop=j,factor=16,remainder=cleanup}", N=N, M=M,
          variant="llvm-auto")
    check(body, '"N", "M", "N"', "unroll-jam{loop=j,factor=2}", N=N, M=M)


@pytest.mark.parametrize("N,M", [(0, 2), (5, 4), (9, 6), (13, 9)])
@pytest.mark.parametrize("body", [TRI2, TRI2_STEPS], ids=["step1", "steps"])
def test_unroll_remainders_then_unroll_jam(body, N, M):
    # the fuzzer's second case: peel-back remainder of i, then the jam's cleanup of j
    check(body, '"N", "M"', "unroll{loop=i,factor=16,remainder=peel-back},"
          "unroll{loop=j,factor=1,remainder=unrolled-cleanup},"
          "unroll-jam{loop=j,factor=16,remainder=cleanup}", N=N, M=M)


@pytest.mark.parametrize("remainder", ["peel-back", "peel-front"])
def test_unroll_peeled_remainders_of_a_triangular_loop(remainder):
    check(TRI2_STEPS, '"N", "M"', f"unroll{{loop=j,factor=2,remainder={remainder}}}", N=13, M=9)


def test_a_loop_that_never_runs_is_left_alone():
    # k starts past its end for every (i, j): no remainder is split off, nothing is unrolled
    body = ("    for i in range(1, N - 1):\n"
            "        for j in range(i + 1, M - 1):\n"
            "            for k in range(j + 1, N - 1, 3):\n"
            "                out[i, j + 1, k + 1] = z[k - 1, j] * 2.0\n")
    check(body, '"N", "M", "N"', "unroll{loop=k,factor=16,remainder=peel-back},unroll{factor=16}",
          N=4, M=9)


def traced(kernel, pipeline: str, **sizes) -> str:
    return Pipeline.parse(pipeline).trace(kernel, "f64", **sizes)[-1].ir


def test_the_clamp_is_only_where_needed():
    # a rectangular loop keeps single-result bounds; a triangular one's remainder gets max()
    from unrollkit.kernels import gemm
    text = transformed(gemm, "peel{loop=j,factor=4}", M=8, K=8, N=10)
    assert "max" not in text and "min" not in text
    kernel = _kernel(TRI2, '"N", "M"')
    text = traced(kernel, "peel{loop=j,factor=4}", N=9, M=6)
    assert "to 5 {" in text and " max " in text  # the remainder starts at max(split point, lb)
    # the main loop keeps single-result bounds, so it can still be unrolled
    traced(kernel, "peel{loop=j,factor=4},unroll{loop=j,factor=4}", N=9, M=6)
    with pytest.raises(TransformError, match="j.rem"):
        traced(kernel, "peel{loop=j,factor=4},unroll{loop=j.rem,factor=2}", N=9, M=6)


# ---------------------------------------------------------------- trip counts upstream sees
# Upstream's unrollers fail ("failed to unroll") on a loop whose constant trip count is below
# the factor. When upstream found a constant trip count that `constant_trip_count` missed, a
# legal unroll was refused with that bare message.

def test_split_point_over_a_repeated_operand_is_simplified():
    # tile{i=2} of an empty loop: the point loop runs %t to %t + 4, its split point was a map
    # over (%t, %t) whose trip count (0) only upstream saw
    body = ("    for i in range(1, N - 1, 2):\n"
            "        out[0] += -(-((i * i)))\n")
    check(body, "1", "tile{i=2},unroll{loop=i,factor=3,remainder=peel-back}", N=2, M=3)
    check(body, "1", "tile{i=2},unroll{loop=i,factor=3,remainder=peel-back}", N=13, M=3)


def test_constant_bound_operands_give_a_constant_trip_count():
    # a full unroll of i leaves j loops `from #map(%c1) to 8 step 3`: trip counts 1 and 2
    body = ("    for i in range(1, N - 1):\n"
            "        for j in range(i + 1, M - 1, 3):\n"
            "            t = x[i + 1]\n"
            "            out[i, j - 1] += t * -1.0\n")
    check(body, '"N", "M"', "unroll{loop=i,factor=16,remainder=unrolled-cleanup},"
          "peel{loop=i,factor=4,side=front},unroll-jam{loop=j,factor=2}", N=7, M=9)


def test_unroll_jam_refuses_inner_bounds_defined_inside_with_a_reason():
    body = ("    for i in range(1, N - 1):\n"
            "        for j in range(1, M - 1, 2):\n"
            "            for k in range(1, N - 1):\n"
            "                out[i, j] -= z[k, j] * 2.0\n")
    with pytest.raises(TransformError, match="bounds of loop 'k' use loop 'k.tile' inside 'j'"):
        traced(_kernel(body, '"N", "M"'), "tile{k=4,separate=false},unroll-jam{loop=j,factor=3}",
               N=11, M=9)


# ---------------------------------------------------------------- loops unrolled away
# A loop whose trip count is at most the factor is unrolled fully and disappears at that size
# only; a later pass naming it did fail ("no loop named 'i'") at some sizes and not at others.

@pytest.mark.parametrize("N", [6, 13])
@pytest.mark.parametrize("pipeline", [
    "unroll-jam{loop=i,factor=2},unroll-jam{loop=i,factor=16}",
    "unroll{loop=i,factor=4},unroll{loop=i,factor=2},peel{loop=i,factor=3}",
    "unroll{loop=i,factor=4},tile{i=2}",
    "unroll{loop=i,factor=4},interchange{a=i,b=j}",
])
def test_a_pass_naming_a_loop_unrolled_away_does_nothing(pipeline, N):
    # N = 6: i runs 1, 4 (2 trips) and is unrolled away; N = 13: it stays
    body = ("    for i in range(1, N - 1, 3):\n"
            "        for j in range(1, M - 1):\n"
            "            out[i, j] += z[i - 1, j + 1] * 2.0\n")
    check(body, '"N", "M"', pipeline, N=N, M=5)


def test_a_loop_never_seen_or_renamed_away_is_still_refused():
    body = ("    for i in range(1, N - 1, 3):\n"
            "        out[i] += x[i]\n")
    with pytest.raises(TransformError, match="no loop named 'q'"):
        check(body, '"N"', "unroll{loop=i,factor=4},unroll{loop=q,factor=2}", N=6, M=5)
    with pytest.raises(TransformError, match="no loop named 'i'"):
        check(body, '"N"', "rename{loop=i,to=a},unroll{loop=i,factor=2}", N=6, M=5)


# ---------------------------------------------------------------- loops that never run
# split-accumulators and vectorize{reductions=true} turned a main loop with no iterations
# (trip count below k at this size) into a zero-trip loop with iter_args, which the lowering's
# canonicalization folds away: the pragma variant, which matches loops to back-edges one to
# one, then failed ("lowering left 0 loops where the kernel had 1").

@pytest.mark.parametrize("N", [0, 3, 4, 13])
@pytest.mark.parametrize("pipeline", [
    "split-accumulators{loop=i,accumulators=4}",
    "unroll{loop=i,factor=1,remainder=peel-back},split-accumulators{loop=i,accumulators=2}",
    "vectorize{loop=i,width=4,reductions=true}",
])
def test_a_reduction_loop_shorter_than_k_under_the_pragma_variant(pipeline, N):
    body = ("    for i in range(1, N - 1):\n"
            "        out[0] += max(-(-(x[i])), s)\n")
    check(body, "1", pipeline, N=N, M=4, variant="pragma", factor=3)
