"""Remainders and edges, where a mistake is silent: the tile pass's last partial tile, odd
accumulator counts in split-accumulators, the GEMM schedule's remainder chain, and the
frontend's bounds proof at exactly one past the end.

Each guarantee is pinned twice: a unit test of the module on its own output (the IR a pass
leaves, the value a function returns) and a differential run against the reference interpreter.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from mlir import ir

import unrollkit as uk
from unrollkit.analysis import kernel_bounds
from unrollkit.frontend import semantics
from unrollkit.core.errors import KernelSyntaxError
from unrollkit.tuning.gemm_schedule import _remainder_widths, gemm_schedule
from unrollkit.ir.ir_utils import bound_maps
from unrollkit.kernels import dot, gemm, gemv
from unrollkit.codegen.pipeline import Pipeline
from unrollkit.runtime.jit_kernel import JitKernel

from differential import check_against_reference, kernel_from, loops_named, lowered_module


def _constant(amap):
    """The value of a single-result constant affine map, else None."""
    try:
        (e,) = amap.results
        return ir.AffineConstantExpr(e).value
    except (ValueError, TypeError):
        return None


# ---------------------------------------------------------------- tile: the last partial tile


def strided(lo: int, step: int):
    return kernel_from(f'''
        def strided(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range({lo}, N, {step}):
                y[i] = y[i] * 0.5 + x[i] + 1.0
        ''')


#: (lo, step, N, tile size): sizes that do not divide the trip count, a single partial tile,
#: and one that divides (no partial tile)
TILES = [(0, 1, 10, 4), (1, 1, 12, 4), (3, 1, 20, 7), (0, 2, 17, 3), (2, 3, 29, 2), (1, 1, 4, 8),
         (0, 1, 12, 4)]


def _tile_starts(lo, step, n, size):
    """(start of the last tile, whether it is partial) for range(lo, n, step) tiled by size."""
    trips = math.ceil((n - lo) / step)
    tiles = math.ceil(trips / size)
    return lo + (tiles - 1) * size * step, trips % size != 0


@pytest.mark.parametrize("lo,step,n,size", TILES, ids=[str(t) for t in TILES])
def test_tile_separates_the_last_partial_tile_where_it_starts(lo, step, n, size):
    """Unit: after tile{i=size}, the partial tile's point loop starts at the last tile's first
    index (a constant) and ends at the loop's bound; the full tiles' tile loop stops there."""
    ctx, module = lowered_module(strided(lo, step), {"N": n})
    start, partial = _tile_starts(lo, step, n, size)
    with ctx, ir.Location.unknown():
        Pipeline.parse(f"tile{{i={size}}}").run(module)
        tiles = loops_named(module, "i.tile")
        points = loops_named(module, "i")
        const_points = [p for p in points if _constant(bound_maps(p)[0]) is not None]
        if not partial:
            assert len(tiles) == 1 and not const_points
            return
        if start == lo:  # one tile only, and partial: a single nest with constant bounds
            (p,) = const_points
        else:
            assert len(tiles) == 2
            full, last = tiles
            assert _constant(bound_maps(full)[1]) == start, str(module)
            assert _constant(bound_maps(last)[0]) == start, str(module)
            (p,) = const_points
        assert _constant(bound_maps(p)[0]) == start, str(module)
        assert _constant(bound_maps(p)[1]) == n, str(module)


@pytest.mark.parametrize("lo,step,n,size", TILES, ids=[str(t) for t in TILES])
@pytest.mark.parametrize("then", ["", ",unroll{loop=i,factor=2}", ",unroll{loop=i,full=true}"])
def test_tile_partial_tiles_match_the_interpreter(lo, step, n, size, then):
    k = strided(lo, step)
    check_against_reference(k, {"N": n}, f"tile{{i={size}}}{then}", seeds=(0, 1))
    if not then:  # (min() bounds: the point loop's trip count is not constant, no unroll)
        check_against_reference(k, {"N": n}, f"tile{{i={size},separate=false}}", seeds=(0, 1))


@pytest.mark.parametrize("sizes", [{"N": 7, "M": 17}, {"N": 9, "M": 5}, {"N": 1, "M": 4}])
def test_tile_two_loops_with_a_step_partial_tiles_match(sizes):
    k = kernel_from('''
        def two(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
            for i in range(N):
                for j in range(2, M, 3):
                    A[i, j] = A[i, j] * 2.0 + B[i, j - 1]
        ''')
    check_against_reference(k, sizes, "tile{i=3,j=2}", seeds=(0, 1))
    check_against_reference(k, sizes, "tile{i=3,j=2,order=j.tile:i.tile:i:j}")


# ---------------------------------------------------------------- split-accumulators: odd k


def _dot_args(n, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), np.zeros(1)]


@pytest.mark.parametrize("k", [3, 5, 7])
def test_split_accumulators_combines_every_accumulator(k):
    """Unit: the split loop carries k values and every one of them is combined after it, by
    exactly k − 1 combining ops (a balanced tree that must not drop an odd one out)."""
    ctx, module = lowered_module(dot, {"N": 64})
    with ctx, ir.Location.unknown():
        Pipeline.parse(f"split-accumulators{{loop=i,accumulators={k}}}").run(module)
        (loop,) = [op for op in loops_named(module, "i") if len(op.results)]
        assert len(loop.results) == k
        assert all(len(list(r.uses)) == 1 for r in loop.results), str(module)
        block_ops = list(loop.parent.regions[0].blocks[0].operations)
        pos = block_ops.index(loop)
        combines = [o for o in block_ops[pos + 1:] if o.name == "arith.addf"]
        assert len(combines) == k - 1, str(module)
        # the combines keep the reduction's own flags (fastmath), like the adds in the loop
        inside = [o for o in loop.regions[0].blocks[0].operations if o.name == "arith.addf"]
        assert inside and all(str(c.attributes["fastmath"]) == str(inside[0].attributes["fastmath"])
                              for c in combines), str(module)


@pytest.mark.parametrize("k", [3, 5, 7])
@pytest.mark.parametrize("n", [0, 1, 6, 7, 35, 64, 101])
def test_split_accumulators_odd_counts_match_on_dot(k, n):
    check_against_reference(dot, {"N": n}, f"split-accumulators{{loop=i,accumulators={k}}}",
                            seeds=(0, 1))
    check_against_reference(dot, {"N": n}, "", variant="multi-acc", factor=k)


@pytest.mark.parametrize("k", [3, 5, 7])
def test_split_accumulators_odd_counts_match_on_gemv_and_integers(k):
    check_against_reference(gemv, {"M": 5, "N": 23}, f"split-accumulators{{loop=j,accumulators={k}}}")
    ints = kernel_from('''
        def isum(x: uk.i32["N"], out: uk.i32[1]):
            for i in range(N):
                out[0] += x[i] * 3
        ''')
    check_against_reference(ints, {"N": 29}, f"split-accumulators{{loop=i,accumulators={k}}}",
                            dtype=np.int32)
    prod = kernel_from('''
        def maxabs(x: uk.f64["N"], out: uk.f64[1]):
            for i in range(N):
                out[0] = max(out[0], x[i])
        ''')
    check_against_reference(prod, {"N": 30}, f"split-accumulators{{loop=i,accumulators={k}}}")


# ---------------------------------------------------------------- GEMM: the remainder chain


@pytest.mark.parametrize("lanes", [4, 8, 16])
def test_remainder_widths_cover_the_columns_by_halving(lanes):
    """Unit: r columns after whole vectors go to vectors of lanes/2, lanes/4, ... 2 (the binary
    digits of r mod lanes), each on the next ``.rem`` loop, and at most one scalar column."""
    for r in range(3 * lanes):
        steps, unroll = _remainder_widths("j", r, lanes)
        rem = r % lanes
        widths = [w for _, w in steps]
        assert widths == [w for w in (lanes >> s for s in range(1, 8)) if w >= 2 and rem & w], (r, steps)
        assert sum(widths) + rem % 2 == rem, (r, steps)
        names = [n for n, _ in steps]
        assert all(n.startswith("j.rem") for n in names)
        assert names == sorted(set(names), key=len), (r, steps)  # one loop each, outer first
        assert unroll[:len(steps)] == names
        assert len(unroll) == len(steps) + (rem % 2), (r, steps, unroll)


@pytest.mark.parametrize("lanes", [8, 16])
@pytest.mark.parametrize("r", [2, 3])
def test_two_and_three_column_tails_are_vectorised(lanes, r):
    """2–3 columns: one 2-lane vector (and one scalar column for 3), never all scalar."""
    steps, unroll = _remainder_widths("j", r, lanes)
    assert steps == [("j.rem", 2)]
    assert unroll == (["j.rem"] if r == 2 else ["j.rem", "j.rem.rem"])
    # even when only one more register is free, the 2-lane vector comes first
    assert _remainder_widths("j", r, lanes, pieces=1) == ([("j.rem", 2)], ["j.rem"])


def test_remainder_widths_respect_the_register_budget():
    assert _remainder_widths("j", 15, 16, 3) == (
        [("j.rem", 8), ("j.rem.rem", 4), ("j.rem.rem.rem", 2)], ["j.rem", "j.rem.rem", "j.rem.rem.rem"])
    assert _remainder_widths("j", 15, 16, 0) == ([], [])
    assert _remainder_widths("j", 16, 16) == ([], [])
    assert _remainder_widths("j", 1, 16) == ([], ["j.rem"])
    # exactly as many registers as the scalar tail needs: it is still unrolled
    assert _remainder_widths("j", 3, 16, 2) == ([("j.rem", 2)], ["j.rem", "j.rem.rem"])
    assert _remainder_widths("j", 1, 16, 1) == ([], ["j.rem"])
    assert _remainder_widths("j", 1, 16, 0) == ([], [])


def _gemm_signature(m, k, n, dt):
    args = [np.ones((m, k), dt), np.ones((k, n), dt), np.zeros((m, n), dt)]
    sig, _ = JitKernel(gemm).signature(args)
    return sig


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("extra", [2, 3])
def test_blas_gemm_vectorises_two_and_three_column_tails(dt, extra):
    """End to end: N = 2 lanes + 2 or 3 columns; the schedule has a 2-lane vector loop on the
    tail, the transformed IR has a 2-lane vector, and the result equals numpy's."""
    lanes = 64 // np.dtype(dt).itemsize  # the schedule's W on a 512-bit target, checked below
    sig = _gemm_signature(9, 5, 2 * lanes + extra, dt)
    s = gemm_schedule(gemm, sig)
    lanes = s.lanes
    n = 2 * lanes + extra
    sig = _gemm_signature(9, 5, n, dt)
    s = gemm_schedule(gemm, sig)
    assert s.partial_n % s.lanes == extra
    assert "vectorize{loop=j.rem,width=2}" in s.pipeline().text()
    rng = np.random.default_rng(extra)
    A, B = rng.standard_normal((9, 5)).astype(dt), rng.standard_normal((5, n)).astype(dt)
    C = rng.standard_normal((9, n)).astype(dt)
    want = C + A @ B
    f = uk.jit(gemm, variant="blas")
    f(A, B, C)
    tname = "f32" if dt == np.float32 else "f64"
    assert f"vector<2x{tname}>" in f.last.ir("transformed")
    np.testing.assert_allclose(C, want, rtol=1e-5 if dt == np.float32 else 1e-12, atol=1e-5)


# ---------------------------------------------------------------- frontend bounds: one past


ONE_PAST = '''
    def shifted(x: uk.f64["N"], y: uk.f64["N"]):
        for i in range(N):
            y[i] = x[i {off}]
    '''


def test_frontend_refuses_one_past_the_end_at_the_call():
    """The last element is accepted, one past it refused with file:line, before any compile."""
    ok = kernel_from(ONE_PAST.format(off="+ 0"))
    check_against_reference(ok, {"N": 6})
    bad = kernel_from(ONE_PAST.format(off="+ 1"))
    x, y = np.ones(6), np.zeros(6)
    with pytest.raises(KernelSyntaxError, match=r"<guarantee-test>:4: .*ranges over \[1, 6\].*out of bounds"):
        uk.jit(bad)(x, y)
    assert (y == 0).all()


def test_semantics_check_bounds_at_the_boundary():
    """Unit: check_bounds on sizes where the subscript's maximum is exactly n - 1 or n."""
    for off, n_ok in (("+ 1", False), ("+ 0", True), ("- 1", False)):
        k = kernel_from(ONE_PAST.format(off=off))
        for n in (1, 5):
            shapes = {"x": (n,), "y": (n,)}
            if n_ok:
                kernel_bounds.check_bounds(k, {"N": n}, shapes)
            else:
                with pytest.raises(KernelSyntaxError, match="out of bounds"):
                    kernel_bounds.check_bounds(k, {"N": n}, shapes)
    # the same subscript, with one more element of room: accepted
    k = kernel_from(ONE_PAST.format(off="+ 1").replace('x: uk.f64["N"]', 'x: uk.f64["P"]'))
    kernel_bounds.check_bounds(k, {"N": 5, "P": 6}, {"x": (6,), "y": (5,)})
    with pytest.raises(KernelSyntaxError, match=r"ranges over \[1, 5\]"):
        kernel_bounds.check_bounds(k, {"N": 5, "P": 5}, {"x": (5,), "y": (5,)})



# ---------------------------------------------------------------- found by mutation testing


@pytest.mark.parametrize("k", [2, 3])
def test_split_accumulators_with_two_reductions_in_one_loop(k):
    """Each reduction gets its own k accumulators (iter_args in reduction order)."""
    two = kernel_from('''
        def two_sums(x: uk.f64["N"], y: uk.f64["N"], s: uk.f64[1], t: uk.f64[1]):
            for i in range(N):
                s[0] += x[i] * y[i]
                t[0] += x[i] - y[i]
        ''')
    ctx, module = lowered_module(two, {"N": 31})
    with ctx, ir.Location.unknown():
        Pipeline.parse(f"split-accumulators{{loop=i,accumulators={k}}}").run(module)
        (loop,) = [op for op in loops_named(module, "i") if len(op.results)]
        assert len(loop.results) == 2 * k
    for n in (0, 5, 31):
        check_against_reference(two, {"N": n}, f"split-accumulators{{loop=i,accumulators={k}}}")


@pytest.mark.parametrize("bounds", ["i, N", "0, i + 1", "i // 2, i + 2"])
def test_split_accumulators_on_a_triangular_loop(bounds):
    """The inner loop's bounds use the outer variable: the split loop keeps their operands."""
    tri = kernel_from(f'''
        def tri(A: uk.f64["N", "P"], out: uk.f64["N"]):
            for i in range(N):
                for j in range({bounds}):
                    out[i] += A[i, j]
        ''')
    for n in (1, 6, 13):
        check_against_reference(tri, {"N": n, "P": n + 2}, "split-accumulators{loop=j,accumulators=3}")


@pytest.mark.parametrize("inner", ["range(i, i + 10)", "range(i + 1, i + 8, 2)"])
@pytest.mark.parametrize("size", [3, 4])
def test_tile_partial_tile_of_a_loop_starting_at_an_outer_variable(inner, size):
    """A constant trip count but a lower bound that moves with i: the last tile's start is not a
    constant, so its point loop keeps the tile variable and the loop's own upper bound."""
    k = kernel_from(f'''
        def shifted_rows(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
            for i in range(N):
                for j in {inner}:
                    A[i, j] = A[i, j] * 0.5 + B[i, j - i]
        ''')
    check_against_reference(k, {"N": 5, "M": 16}, f"tile{{j={size}}}", seeds=(0, 1))
    check_against_reference(k, {"N": 5, "M": 16}, f"tile{{j={size}}},unroll{{loop=j,factor=2}}")


def test_tile_the_same_loop_twice():
    """tile{i=4},tile{i=3}: the second tiling separates only its own tile loops."""
    k = strided(1, 1)
    for n in (1, 12, 14, 30):
        check_against_reference(k, {"N": n}, "tile{i=4},tile{i=3}")
        check_against_reference(k, {"N": n}, "tile{i=5},tile{i=2},unroll{loop=i,factor=2}")


def test_tile_loops_without_a_constant_trip_count_or_with_a_max_start():
    """A triangular loop (no constant trip count: no separation) and a max() lower bound."""
    tri = kernel_from('''
        def tri(A: uk.f64["N", "N"]):
            for i in range(N):
                for j in range(i + 1, N):
                    A[i, j] = A[i, j] * 0.5 + 1.0
        ''')
    late = kernel_from('''
        def late(x: uk.f64["N"]):
            for i in range(max(2, N - 9), N):
                x[i] = x[i] * 0.5 + 1.0
        ''')
    for n in (1, 7, 12, 20):
        check_against_reference(tri, {"N": n}, "tile{j=4}")
        check_against_reference(late, {"N": n}, "tile{i=4}")
        check_against_reference(late, {"N": n}, "tile{i=4},tile{i=3}")
