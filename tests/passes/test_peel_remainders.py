"""``peel`` and ``pad`` (passes/peel.py, passes/pad.py) at every remainder class: the trip
count a multiple of the factor, one more, one less, below the factor, empty; loops with a
lower bound and a step; triangular loops that are empty for some outer iterations.

Each property is checked on the IR the pass leaves (the parts' bounds, by name) and by a
differential run against the reference interpreter (peel), or against numpy on arrays with
the slack the padded iterations touch (pad).
"""
from __future__ import annotations

import numpy as np
import pytest
from mlir import ir

import unrollkit as uk
from unrollkit.core.errors import TransformError
from unrollkit.ir.ir_utils import bound_maps, constant_trip_count, step_of
from unrollkit.kernels import dot
from unrollkit.passes.pad import Pad
from unrollkit.passes.peel import Peel
from unrollkit.codegen.pipeline import Pipeline

from differential import check_against_reference, kernel_from, loops_named, lowered_module


def strided(lo: int, step: int):
    return kernel_from(f'''
        def strided(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range({lo}, N, {step}):
                y[i] = y[i] * 0.5 + x[i] + 1.0
        ''')


def _constant(amap):
    (e,) = amap.results
    return ir.AffineConstantExpr(e).value


def _iterations(op) -> list:
    lo, hi = _constant(bound_maps(op)[0]), _constant(bound_maps(op)[1])
    return list(range(lo, hi, step_of(op)))


# ---------------------------------------------------------------- peel

#: (lo, step, N, factor): remainders 0, 1, factor - 1, below the factor, empty loop, factor 1
PEELS = [(0, 1, 12, 4), (0, 1, 13, 4), (0, 1, 15, 4), (0, 1, 3, 4), (0, 1, 0, 4), (2, 3, 29, 2),
         (1, 2, 16, 3), (5, 1, 12, 1), (3, 1, 10, 8)]


@pytest.mark.parametrize("side", ["back", "front"])
@pytest.mark.parametrize("lo,step,n,factor", PEELS, ids=[str(p) for p in PEELS])
def test_peel_splits_the_iterations_exactly(lo, step, n, factor, side):
    """Unit: the main loop runs a multiple of ``factor`` iterations, the remainder the rest,
    in the order ``side`` says; together exactly the loop's own iterations."""
    ctx, module = lowered_module(strided(lo, step), {"N": n})
    want = list(range(lo, n, step))
    with ctx, ir.Location.unknown():
        Pipeline.parse(f"peel{{loop=i,factor={factor},side={side}}}").run(module)
        (main,) = loops_named(module, "i")
        rems = loops_named(module, "i.rem")
        got_main = _iterations(main)
        assert len(got_main) % factor == 0, str(module)
        if len(want) % factor == 0 or factor == 1:
            assert not rems and got_main == want, str(module)
            return
        (rem,) = rems
        got_rem = _iterations(rem)
        assert 0 < len(got_rem) < factor, str(module)
        assert len(got_rem) == len(want) % factor
        order = got_main + got_rem if side == "back" else got_rem + got_main
        assert order == want, str(module)
        # the remainder sits after the main loop (back) or before it (front), in one block
        block = [op.operation for op in main.operation.parent.regions[0].blocks[0].operations]
        first = block.index(main.operation) < block.index(rem.operation)
        assert first == (side == "back"), str(module)


@pytest.mark.parametrize("side", ["back", "front"])
@pytest.mark.parametrize("lo,step,n,factor", PEELS, ids=[str(p) for p in PEELS])
def test_peel_matches_the_interpreter(lo, step, n, factor, side):
    check_against_reference(strided(lo, step), {"N": n}, f"peel{{loop=i,factor={factor},side={side}}}")


TRIANGLE = kernel_from('''
    def triangle(A: uk.f64["N", "M"], B: uk.f64["N", "M"]):
        for i in range(N):
            for j in range(i + 1, M - 1):
                A[i, j] = A[i, j] * 2.0 + B[i, j - 1]
    ''')


@pytest.mark.parametrize("side", ["back", "front"])
@pytest.mark.parametrize("sizes", [{"N": 9, "M": 7}, {"N": 4, "M": 12}, {"N": 12, "M": 3}])
def test_peel_a_triangle_empty_for_late_rows_matches(side, sizes):
    """j's raw trip count M - 2 - i is negative for late rows: the remainder's bound must be
    clamped to the loop's own, or it runs iterations the loop never had."""
    for factor in (2, 3, 4):
        check_against_reference(TRIANGLE, sizes, f"peel{{loop=j,factor={factor},side={side}}}")


def test_peel_a_triangle_clamps_the_remainder_bound():
    """Unit: the clamped remainder bound is a max (back) / min (front) with the loop's own."""
    for side, which, n_results in (("back", 0, 2), ("front", 1, 2)):
        ctx, module = lowered_module(TRIANGLE, {"N": 9, "M": 7})
        with ctx, ir.Location.unknown():
            Pipeline.parse(f"peel{{loop=j,factor=4,side={side}}}").run(module)
            (rem,) = loops_named(module, "j.rem")
            assert len(bound_maps(rem)[which].results) == n_results, str(module)
            (main,) = loops_named(module, "j")
            assert all(len(m.results) == 1 for m in bound_maps(main)), str(module)


def test_peel_a_loop_that_never_runs_is_left_alone():
    k = kernel_from('''
        def never(x: uk.f64["N"]):
            for i in range(N):
                for j in range(i, i):
                    x[i] = x[j] + 1.0
        ''')
    ctx, module = lowered_module(k, {"N": 6})
    with ctx, ir.Location.unknown():
        Pipeline.parse("peel{loop=j,factor=4}").run(module)
        assert not loops_named(module, "j.rem"), str(module)
        assert len(loops_named(module, "j")) == 1


def test_peel_refuses_a_loop_carrying_values():
    ctx, module = lowered_module(dot, {"N": 10})
    with ctx, ir.Location.unknown():
        Pipeline.parse("split-accumulators{loop=i,accumulators=2}").run(module)
        with pytest.raises(TransformError, match="cannot peel loop 'i': it carries values"):
            Pipeline.parse("peel{loop=i,factor=4}").run(module)


@pytest.mark.parametrize("factor", [0, -1, True, 2.5])
def test_peel_factor_must_be_a_positive_integer(factor):
    with pytest.raises(TransformError, match="peel factor must be an integer >= 1"):
        Peel(factor=factor)


# ---------------------------------------------------------------- pad

def padk(lo: int, hi_off: int, step: int):
    return kernel_from(f'''
        def padk(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range({lo}, N - {hi_off}, {step}):
                y[i] = y[i] + 2.0 * x[i]
        ''')


@pytest.mark.parametrize("lo,hi_off,step,n,factor,new_hi", [
    (0, 8, 1, 20, 10, 20),   # 12 trips -> 20: exactly to the last element
    (0, 8, 1, 20, 8, 16),
    (3, 5, 1, 20, 4, 15),    # 12 trips from 3: a multiple already, unchanged
    (3, 5, 1, 20, 5, 18),    # 12 -> 15 trips from 3
    (2, 6, 3, 20, 3, 20),    # i = 2, 5, 8, 11 (4 trips) -> 6 trips: 2 .. 17, bound 20
    (1, 9, 2, 20, 3, 13),    # i = 1, 3, 5, 7, 9 (5 trips) -> 6: bound 13
])
def test_pad_rounds_the_trip_count_up_to_the_array_end(lo, hi_off, step, n, factor, new_hi):
    """Unit: the padded loop's bound; differential: the padded iterations (on zero slack)
    leave y as the unpadded loop does."""
    k = padk(lo, hi_off, step)
    ctx, module = lowered_module(k, {"N": n})
    with ctx, ir.Location.unknown():
        Pipeline.parse(f"pad{{loop=i,factor={factor}}}").run(module)
        (loop,) = loops_named(module, "i")
        assert _constant(bound_maps(loop)[0]) == lo and _constant(bound_maps(loop)[1]) == new_hi, str(module)
        assert constant_trip_count(loop) % factor == 0
    reach = n - hi_off
    rng = np.random.default_rng(1)
    x, y = rng.uniform(-1, 1, n), rng.uniform(-1, 1, n)
    x[reach:] = 0.0
    want = y.copy()
    want[lo:reach:step] += 2.0 * x[lo:reach:step]
    uk.jit(k, pipeline=f"pad{{loop=i,factor={factor}}}")(x, y)
    np.testing.assert_allclose(y, want, rtol=1e-12)


@pytest.mark.parametrize("lo,hi_off,step,n,factor,index", [
    (0, 8, 1, 20, 21, 20),   # 12 trips -> 21: one past the end
    (0, 8, 1, 21, 11, 21),   # 13 -> 22
    (2, 6, 3, 20, 7, 20),    # 4 trips -> 7 from 2 step 3: the last on the step grid is 20
])
def test_pad_one_past_the_end_is_refused(lo, hi_off, step, n, factor, index):
    k = padk(lo, hi_off, step)
    ctx, module = lowered_module(k, {"N": n})
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError) as e:
            Pipeline.parse(f"pad{{loop=i,factor={factor}}}").run(module)
    msg = str(e.value)
    trips = len(range(lo, n - hi_off, step))
    assert (f"cannot pad loop 'i' from {trips} to {-(-trips // factor) * factor} iterations" in msg
            and f"at index {index} of dimension 0, past its {n} elements" in msg), msg


def test_pad_refuses_a_subscript_before_the_start():
    k = kernel_from('''
        def back(x: uk.f64["N"], y: uk.f64["N"]):
            for i in range(N - 8):
                y[i + 8] = y[i + 8] + 2.0 * x[11 - i]
        ''')
    # i < 12 + padding: x[11 - i] reaches -4 with pad{factor=16}
    ctx, module = lowered_module(k, {"N": 20})
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError, match="cannot pad loop 'i' from 12 to 16 iterations"):
            Pipeline.parse("pad{loop=i,factor=16}").run(module)


def test_pad_needs_constant_bounds_and_no_carried_values():
    k = kernel_from('''
        def tri(A: uk.f64["N", "N"]):
            for i in range(N):
                for j in range(i):
                    A[i, j] = A[i, j] + 1.0
        ''')
    ctx, module = lowered_module(k, {"N": 8})
    with ctx, ir.Location.unknown():
        with pytest.raises(TransformError, match="cannot pad loop 'j': it needs constant bounds"):
            Pipeline.parse("pad{loop=j,factor=4}").run(module)
    ctx, module = lowered_module(dot, {"N": 10})
    with ctx, ir.Location.unknown():
        Pipeline.parse("split-accumulators{loop=i,accumulators=2}").run(module)
        with pytest.raises(TransformError, match="cannot pad loop 'i': it carries values"):
            Pipeline.parse("pad{loop=i,factor=4}").run(module)


@pytest.mark.parametrize("factor", [0, -3, False, "4"])
def test_pad_factor_must_be_a_positive_integer(factor):
    with pytest.raises(TransformError, match="pad factor must be an integer >= 1"):
        Pad(factor=factor)


def test_peel_again_by_a_divisor_of_the_first_factor_does_nothing():
    """A main loop an earlier peel made a multiple of 4 (its trip count not a constant: a
    triangle) is left alone by a peel by 2: no second remainder, the same nest."""
    ctx, module = lowered_module(TRIANGLE, {"N": 9, "M": 7})
    with ctx, ir.Location.unknown():
        Pipeline.parse("peel{loop=j,factor=4}").run(module)
        once = str(module)
        Pipeline.parse("peel{loop=j,factor=2}").run(module)
        assert str(module) == once
        assert len(loops_named(module, "j.rem")) == 1 and len(loops_named(module, "j")) == 1
    check_against_reference(TRIANGLE, {"N": 9, "M": 7}, "peel{loop=j,factor=4},peel{loop=j,factor=2}")
